// Before the first SSH connection to an instance, its host key is checked against the fingerprints
// cloud-init prints on the serial console. Those appear a little after boot, so a connection that
// came first would trust whatever key it was shown. This waits for them (bounded); only when the
// console still lists none after the wait does the caller trust on first use, and says so.
import type { Cloud } from '../cloud/port.js';
import { parseConsoleHostKeyFingerprints } from '../remote/host-keys.js';
import { readPinRecord } from '../remote/known-hosts.js';
import type { Clock } from './clock.js';

/** How long to wait for the console's host key fingerprints before trusting on first use. */
export const HOST_KEY_WAIT_MS = 3 * 60_000;

export interface ConsoleHostKeys {
  /** Fingerprints the key must match; empty when a pin decides, or on first use. */
  expected: string[];
  /** How the key is trusted: console fingerprints, an existing pin, or on first use after the wait. */
  how: 'console' | 'pinned' | 'first-use';
}

export function describeTrust(keys: ConsoleHostKeys, waitedMs: number): string {
  if (keys.how === 'console') return 'host key matches the console output';
  if (keys.how === 'pinned') return 'host key matches the one pinned earlier';
  return `no fingerprints on the console after ${Math.round(waitedMs / 1000)} s: host key pinned on first use`;
}

/**
 * The fingerprints to check an instance's SSH host key against. A key pinned already (from the
 * console, or on first use earlier) needs no console. Otherwise polls the console until it lists
 * fingerprints or `waitMs` has passed.
 */
export async function consoleHostKeys(
  deps: { cloud: Pick<Cloud, 'consoleOutput'>; clock: Clock; signal?: AbortSignal },
  instanceId: string,
  opts: { knownHostsPath: string; pinKey: string; waitMs?: number; pollMs?: number; onWaiting?: (waitedMs: number) => void },
): Promise<ConsoleHostKeys & { waitedMs: number }> {
  if (await readPinRecord(opts.knownHostsPath, opts.pinKey)) return { expected: [], how: 'pinned', waitedMs: 0 };
  const start = deps.clock.now();
  const deadline = start + (opts.waitMs ?? HOST_KEY_WAIT_MS);
  for (;;) {
    const text = await deps.cloud.consoleOutput(instanceId).catch(() => '');
    const expected = parseConsoleHostKeyFingerprints(text);
    const waitedMs = deps.clock.now() - start;
    if (expected.length) return { expected, how: 'console', waitedMs };
    if (deps.clock.now() >= deadline) return { expected: [], how: 'first-use', waitedMs };
    opts.onWaiting?.(waitedMs);
    await deps.clock.sleep(Math.min(opts.pollMs ?? 5_000, Math.max(0, deadline - deps.clock.now())), deps.signal);
  }
}
