// `backup [name]` (a tagged snapshot of the data volume now; `--schedule daily --retain N` adds an
// AWS Data Lifecycle Manager policy instead) and `backups [name]` (the snapshots, size and age).
import { randomBytes } from 'node:crypto';
import { TAG_PURPOSE, TAG_ROLE, TAG_SOURCE_VERSION, TAG_VERSION, type Cloud, type SnapshotInfo, type SnapshotScheduleInfo, type SnapshotScheduleSpec } from '../cloud/cloud.js';
import { UsageError } from '../core/errors.js';
import { dataVolumeOf, formatAge, requireCloud } from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface BackupFlags extends GlobalFlags, TargetFlags {
  schedule?: string;
  retain?: string;
  dlmRole?: string;
  wait?: boolean;
}

export function validateSchedule(flags: { schedule?: string; retain?: string }): { schedule: 'daily'; retain: number } | undefined {
  if (flags.schedule === undefined && flags.retain === undefined) return undefined;
  if (flags.schedule !== 'daily') throw new UsageError(`--schedule must be daily${flags.schedule ? `, not "${flags.schedule}"` : ' when --retain is given'}`);
  const retain = Number(flags.retain ?? 7);
  if (!Number.isInteger(retain) || retain < 1 || retain > 1000) throw new UsageError(`--retain: "${flags.retain}" must be a whole number of snapshots between 1 and 1000`);
  return { schedule: 'daily', retain };
}

/** The role DLM acts as unless --dlm-role names another (`aws dlm create-default-role` makes it). */
export function defaultDlmRole(account: string): string {
  return `arn:aws:iam::${account}:role/AWSDataLifecycleManagerDefaultRole`;
}

export function scheduleSpec(name: string, schedule: { schedule: 'daily'; retain: number }, roleArn: string | undefined, account: string): SnapshotScheduleSpec {
  return { deployment: name, schedule: schedule.schedule, retain: schedule.retain, executionRoleArn: roleArn ?? defaultDlmRole(account) };
}

export async function ensureSchedule(
  cloud: Cloud,
  name: string,
  schedule: { schedule: 'daily'; retain: number },
  roleArn?: string,
): Promise<SnapshotScheduleInfo> {
  const identity = await cloud.whoAmI();
  return cloud.ensureSnapshotSchedule(scheduleSpec(name, schedule, roleArn, identity.account));
}

export async function runBackup(deps: Deps, nameArg: string | undefined, flags: BackupFlags) {
  const { io } = deps;
  const schedule = validateSchedule(flags);
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  if (schedule) {
    const policy = await ensureSchedule(cloud, target.name, schedule, flags.dlmRole);
    const result = { name: target.name, region: target.region, schedule: policy };
    if (io.json) io.result(result);
    else {
      io.success(`Daily snapshots of ${target.name}'s data volume, keeping the last ${schedule.retain}: Data Lifecycle Manager policy ${policy.policyId}.`);
      io.info('DLM acts as the AWSDataLifecycleManagerDefaultRole (create it once with `aws dlm create-default-role`), or the role --dlm-role names.');
    }
    return result;
  }
  const hold = await holdDeployment(deps, cloud, target, 'backup', { marker: false });
  try {
    return await snapshotNow(deps, cloud, target, flags);
  } finally {
    await hold.release();
  }
}

async function snapshotNow(deps: Deps, cloud: Cloud, target: Target, flags: BackupFlags) {
  const { io } = deps;
  const d = await cloud.findDeployment(target.name);
  if (!d.instance) throw new UsageError(`No instance of deployment ${target.name} in aws ${target.region}`, { code: 'deployment-not-found' });
  const volume = dataVolumeOf(d, d.instance);
  if (!volume) throw new UsageError(`The instance ${d.instance.id} has no data volume`, { code: 'no-data-volume' });
  const version = d.version ?? 'unknown';
  const created = await cloud.createSnapshot({
    deployment: target.name,
    volumeId: volume.id,
    version,
    size: d.size,
    purpose: 'backup',
    operation: `backup-${randomBytes(6).toString('hex')}`,
    description: `sourcegraph-launch ${target.name}: backup of ${version} at ${new Date().toISOString()}`,
  });
  const snapshot = flags.wait ? await cloud.waitForSnapshot(created.id, 6 * 3_600_000) : created;
  const result = { name: target.name, region: target.region, snapshotId: snapshot.id, volumeId: volume.id, version, state: snapshot.state };
  if (io.json) io.result(result);
  else {
    io.success(`Snapshot ${snapshot.id} of ${volume.id} (${version}) ${snapshot.state === 'completed' ? 'completed' : 'started; it completes in the background'}.`);
    if (d.instance.state === 'running') io.info('Taken while Sourcegraph runs: crash-consistent. For a consistent copy, upgrade and rollback snapshot a stopped instance.');
  }
  return result;
}

export interface BackupEntry {
  snapshotId: string;
  purpose: string;
  version?: string;
  sizeGiB: number;
  state: string;
  startTime?: string;
  age: string;
}

export function toBackupEntry(s: SnapshotInfo, now = Date.now()): BackupEntry {
  return {
    snapshotId: s.id,
    purpose: s.tags[TAG_PURPOSE] ?? (s.tags[TAG_ROLE] === 'snapshot' ? 'snapshot' : '?'),
    // Scheduled snapshots carry the volume's version tag (copied by the policy) instead.
    version: s.tags[TAG_SOURCE_VERSION] ?? s.tags[TAG_VERSION],
    sizeGiB: s.sizeGiB,
    state: s.state,
    startTime: s.startTime,
    age: formatAge(s.startTime, now),
  };
}

export async function runBackups(deps: Deps, nameArg: string | undefined, flags: GlobalFlags & TargetFlags) {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  const backups = (await cloud.listSnapshots(target.name)).map((s) => toBackupEntry(s));
  const result = { name: target.name, region: target.region, backups };
  if (io.json) io.result(result);
  else if (!backups.length) io.info(`No snapshots of ${target.name} in aws ${target.region}. Take one with \`${deps.program} backup ${target.name}\`.`);
  else {
    const rows = backups.map((b) => [b.snapshotId, b.purpose, b.version ?? '-', `${b.sizeGiB} GiB`, b.age, b.state]);
    const head = ['SNAPSHOT', 'PURPOSE', 'VERSION', 'SIZE', 'AGE', 'STATE'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) io.info(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  }
  return result;
}
