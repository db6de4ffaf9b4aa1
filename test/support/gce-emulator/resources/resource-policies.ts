// Regional resource policies; the emulator checks snapshot schedules in depth (what `backup
// --schedule` uses) and keeps other kinds as given. A policy attached to a disk cannot be deleted.
// Schedules are stored, never run: no snapshots appear by themselves.
import { invalid, invalidField, resourceInUse, resourceNotReady } from '../errors.js';
import { refPath } from '../links.js';
import type { ResourcePolicyBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Handler } from '../world.js';
import { getAnswer, listAnswer, newName, pick, target } from './common.js';

const KINDS = ['snapshotSchedulePolicy', 'groupPlacementPolicy', 'instanceSchedulePolicy', 'diskConsistencyGroupPolicy'];
const FIELD = 'resource.snapshotSchedulePolicy';

function checkStartTime(value: unknown, field: string): void {
  // Compute: "HH:MM" in GMT, on the hour.
  if (typeof value !== 'string' || !/^([01]\d|2[0-3]):00$/.test(value)) {
    throw invalidField(field, value, 'Start time must be in the format HH:00 (UTC, on the hour).');
  }
}

/** Checks a snapshot schedule and returns it with the `duration` outputs Compute adds. */
function snapshotSchedule(policy: Json): Json {
  const schedule = policy.schedule as Json | undefined;
  const kinds = ['hourlySchedule', 'dailySchedule', 'weeklySchedule'].filter((k) => schedule?.[k] !== undefined);
  if (!schedule || kinds.length !== 1) throw invalidField(`${FIELD}.schedule`, '', 'Exactly one of hourlySchedule, dailySchedule or weeklySchedule must be given.');
  const out = structuredClone(policy);
  const outSchedule = out.schedule as Json;
  if (schedule.dailySchedule) {
    const daily = schedule.dailySchedule as Json;
    if (daily.daysInCycle !== 1) throw invalidField(`${FIELD}.schedule.dailySchedule.daysInCycle`, daily.daysInCycle ?? '', 'daysInCycle must be 1.');
    checkStartTime(daily.startTime, `${FIELD}.schedule.dailySchedule.startTime`);
    (outSchedule.dailySchedule as Json).duration = 'PT14400S';
  }
  if (schedule.hourlySchedule) {
    const hourly = schedule.hourlySchedule as Json;
    const hours = hourly.hoursInCycle as number | undefined;
    if (hours === undefined || hours < 1 || hours > 23) throw invalidField(`${FIELD}.schedule.hourlySchedule.hoursInCycle`, hours ?? '', 'hoursInCycle must be between 1 and 23.');
    checkStartTime(hourly.startTime, `${FIELD}.schedule.hourlySchedule.startTime`);
    (outSchedule.hourlySchedule as Json).duration = 'PT14400S';
  }
  if (schedule.weeklySchedule) {
    const days = ((schedule.weeklySchedule as Json).dayOfWeeks as Json[] | undefined) ?? [];
    if (days.length === 0) throw invalidField(`${FIELD}.schedule.weeklySchedule.dayOfWeeks`, '', 'At least one day must be given.');
    days.forEach((d, i) => {
      if (d.day === undefined || d.day === 'INVALID') throw invalidField(`${FIELD}.schedule.weeklySchedule.dayOfWeeks[${i}].day`, d.day ?? '', 'Must be a day of the week.');
      checkStartTime(d.startTime, `${FIELD}.schedule.weeklySchedule.dayOfWeeks[${i}].startTime`);
      ((outSchedule.weeklySchedule as Json).dayOfWeeks as Json[])[i]!.duration = 'PT14400S';
    });
  }
  const retention = policy.retentionPolicy as Json | undefined;
  const days = retention?.maxRetentionDays as number | undefined;
  if (days !== undefined && days < 1) throw invalidField(`${FIELD}.retentionPolicy.maxRetentionDays`, days, 'Must be at least 1.');
  return out;
}

export const resourcePolicies: Record<string, Handler> = {
  'resourcePolicies.insert': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    const ref = newName(call, world.state.resourcePolicies);
    const kinds = KINDS.filter((k) => call.body[k] !== undefined);
    if (kinds.length !== 1) throw invalid(`Exactly one of ${KINDS.join(', ')} must be given.`);
    const region = world.links.region(call.project, ref.location!);
    if (call.body.region !== undefined && call.body.region !== ref.location && call.body.region !== region) {
      throw invalidField('resource.region', call.body.region, `Must be the request's region '${ref.location}'.`);
    }
    const policy: ResourcePolicyBody = {
      ...pick(call.body, ['description', ...KINDS]),
      ...(call.body.snapshotSchedulePolicy ? { snapshotSchedulePolicy: snapshotSchedule(call.body.snapshotSchedulePolicy as Json) } : {}),
      kind: 'compute#resourcePolicy',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      region,
      selfLink: world.links.of({ ...ref, collection: 'resourcePolicies' }),
      status: 'CREATING',
    };
    return {
      plan: {
        operationType: 'createResourcePolicy',
        target: { ...ref, collection: 'resourcePolicies' },
        targetId: policy.id,
        failure: world.quotas.checkRegion(call.project, ref.location!, { RESOURCE_POLICIES: 1 }),
        start: () => world.state.resourcePolicies.put(ref, policy),
        done: () => {
          policy.status = 'READY';
        },
      },
    };
  },
  'resourcePolicies.get': (call, world) => getAnswer(world, world.state.resourcePolicies, target(call, 'resourcePolicy')),
  'resourcePolicies.list': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    return listAnswer(world, world.state.resourcePolicies, call, 'compute#resourcePolicyList');
  },
  'resourcePolicies.delete': (call, world) => {
    const entry = world.state.resourcePolicies.get(target(call, 'resourcePolicy'));
    if (entry.body.status === 'DELETING') throw resourceNotReady(refPath(entry.ref));
    const disk = world.state.disks.all().find((d) => d.body.resourcePolicies?.includes(entry.body.selfLink));
    if (disk) throw resourceInUse(refPath(entry.ref), refPath(disk.ref));
    return {
      plan: {
        operationType: 'deleteResourcePolicy',
        target: entry.ref,
        targetId: entry.body.id,
        start: () => {
          entry.body.status = 'DELETING';
        },
        done: () => world.state.resourcePolicies.delete(entry.ref),
      },
    };
  },
};
