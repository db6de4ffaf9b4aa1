// What every part of the Azure adapter shares: the ARM client, where it creates things (subscription,
// resource group, location), how it waits, and the published images it may know of.
import { WaitTimeoutError } from '../../core/errors.js';
import type { Arm } from './arm.js';

export interface AzureContext {
  arm: Arm;
  subscriptionId: string;
  /** The resource group the tool creates things in (created and tagged on first use). */
  resourceGroup: string;
  location: string;
  pollIntervalMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** Gallery image versions Sourcegraph publishes, by id; none exist today (see provider.ts). */
  publishedImages: readonly { id: string; version: string }[];
  /** Random suffixes for names that must not repeat (tests may make them predictable). */
  randomSuffix(): string;
}

/** `/subscriptions/<s>/resourceGroups/<rg>` plus `rest`. */
export function rgPath(c: AzureContext, rest = ''): string {
  return `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}${rest}`;
}

/** Polls `probe` until it answers a value; a WaitTimeoutError naming `stage` once `timeoutMs` passed. */
export async function pollUntil<T>(c: AzureContext, timeoutMs: number, stage: string, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (c.now() >= deadline) throw new WaitTimeoutError(stage, `Timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`, { remediation: 'Run the command again; it picks up where it stopped.' });
    await c.sleep(c.pollIntervalMs);
  }
}
