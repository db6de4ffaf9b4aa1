// --schedule daily --retain N, shared by launch and backup: validated before anything happens.
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
