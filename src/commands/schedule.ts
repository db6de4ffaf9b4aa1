// --schedule daily --retain N, shared by launch and backup: validated before anything happens.
import type { Capabilities } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { UsageError } from '../core/errors.js';

export interface ScheduleChoice {
  schedule: 'daily';
  retain: number;
}

export function validateSchedule(flags: { schedule?: string; retain?: string }): ScheduleChoice | undefined {
  if (flags.schedule === undefined && flags.retain === undefined) return undefined;
  if (flags.schedule !== 'daily') throw new UsageError(`--schedule must be daily${flags.schedule ? `, not "${flags.schedule}"` : ' when --retain is given'}`);
  const retain = Number(flags.retain ?? 7);
  if (!Number.isInteger(retain) || retain < 1 || retain > 1000) throw new UsageError(`--retain: "${flags.retain}" must be a whole number of snapshots between 1 and 1000`);
  return { schedule: 'daily', retain };
}

/**
 * A cloud without scheduled snapshots makes --schedule bad input, whoever runs it: refused before the
 * credentials and before anything is created (a launch must not stop half way, at its last step).
 */
export function refuseScheduleWithout(
  cloud: { capabilities: Pick<Capabilities, 'snapshotSchedules'> },
  provider: Pick<ProviderDescriptor, 'displayName'>,
  backupCommand: string,
): void {
  if (cloud.capabilities.snapshotSchedules) return;
  throw new UsageError(`--schedule: scheduled snapshots are not offered on ${provider.displayName}; nothing was changed`, {
    code: 'schedule-not-offered',
    remediation: `Take snapshots with \`${backupCommand}\` (without --schedule), e.g. from a daily cron job.`,
  });
}
