// `backup [name]` (a labelled snapshot of the data disk now; `--schedule daily --retain N` sets up
// the cloud's own daily snapshot schedule instead) and `backups [name]` (the snapshots, size and age).
import type { BackupFlags, BackupsFlags } from '../cli/commands/backup.js';
import { holdDeployment } from '../engine/hold.js';
import { backupNow, listBackups, scheduleSnapshots, type BackupResult, type ScheduleResult } from '../workflows/backup.js';
import { connectCloud } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { readProviderFlags } from './provider-flags.js';
import { refuseScheduleWithout, validateSchedule } from './schedule.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export async function runBackup(deps: Deps, nameArg: string | undefined, flags: BackupFlags & TargetFlags): Promise<BackupResult | ScheduleResult> {
  const schedule = validateSchedule(flags);
  const target = resolveTarget(deps, nameArg, flags);
  return schedule ? runSchedule(deps, target, flags, schedule) : runSnapshot(deps, target, flags);
}

async function runSnapshot(deps: Deps, target: Target, flags: BackupFlags): Promise<BackupResult> {
  const { io } = deps;
  const cloud = await connectCloud(deps, target);
  const hold = await holdDeployment(deps, cloud, target, 'backup', { marker: false });
  let done;
  try {
    done = await backupNow(deps, cloud, target, { wait: Boolean(flags.wait) });
  } finally {
    await hold.release();
  }
  const { instance, ...result } = done;
  if (io.json) io.result(result);
  else {
    io.success(`Snapshot ${result.snapshotId} of ${result.volumeId} (${result.version}) ${result.state === 'completed' ? 'completed' : 'started; it completes in the background'}.`);
    if (instance.state === 'running') io.info('Taken while Sourcegraph runs: crash-consistent. For a consistent copy, upgrade and rollback snapshot a stopped instance.');
  }
  return result;
}

async function runSchedule(deps: Deps, target: Target, flags: BackupFlags, schedule: { schedule: 'daily'; retain: number }): Promise<ScheduleResult> {
  const { io } = deps;
  const { provider } = target;
  const params = readProviderFlags(provider, flags.providerFlags).scheduleParams;
  // Asked before the credentials: a cloud without schedules is bad input whoever runs it.
  const cloud = await deps.connect(provider, target.scope);
  refuseScheduleWithout(cloud, provider, `${deps.program} backup ${target.name} --region ${target.region}`);
  const { account } = await cloud.whoAmI();
  const result = await scheduleSnapshots(cloud, target, { deployment: target.name, schedule: schedule.schedule, retain: schedule.retain, params: { ...params, account } });
  if (io.json) io.result(result);
  else {
    io.success(`Daily snapshots of ${target.name}'s data ${provider.terms.disk}, keeping the last ${schedule.retain}: ${provider.terms.snapshotSchedules} policy ${result.schedule.id}.`);
    if (provider.terms.snapshotScheduleNote) io.info(provider.terms.snapshotScheduleNote);
  }
  return result;
}

export async function runBackups(deps: Deps, nameArg: string | undefined, flags: BackupsFlags & TargetFlags) {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await connectCloud(deps, target);
  const backups = await listBackups(cloud, target.name, deps.clock.now());
  const result = { name: target.name, region: target.region, backups };
  if (io.json) io.result(result);
  else if (!backups.length) io.info(`No snapshots of ${target.name} in ${target.cloud} ${target.region}. Take one with \`${deps.program} backup ${target.name}\`.`);
  else {
    const rows = backups.map((b) => [b.snapshotId, b.purpose, b.version ?? '-', `${b.sizeGiB} GiB`, b.age, b.state]);
    const head = ['SNAPSHOT', 'PURPOSE', 'VERSION', 'SIZE', 'AGE', 'STATE'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) io.info(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  }
  return result;
}
