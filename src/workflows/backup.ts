// The backup workflows: a labelled snapshot of the serving instance's data disk now, the cloud's
// own daily snapshot schedule, and the list of a deployment's snapshots with what each is for.
import { randomBytes } from 'node:crypto';
import type { Cloud, Instance, Snapshot, SnapshotSchedule, SnapshotScheduleSpec } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { UsageError } from '../core/errors.js';
import { newJournal, runWorkflow, type Step } from '../engine/runner.js';
import { dataDiskOf, formatAge, runOptions, snapshotLabels } from './shared.js';

/** How long `backup --wait` waits for a snapshot: a first snapshot of a large disk takes hours. */
const SNAPSHOT_WAIT_MS = 6 * 3_600_000;

export interface BackupResult {
  name: string;
  region: string;
  snapshotId: string;
  /** The data disk's id (the JSON contract's name from AWS). */
  volumeId: string;
  version: string;
  state: string;
}

/**
 * Snapshots the data disk of the deployment's serving instance now. The journal lives only in
 * memory: saved in the deployment record it would replace an unfinished upgrade's or rollback's
 * journal (which their resume and prune's guard rely on), and an interrupted backup is simply
 * taken again.
 */
export async function backupNow(deps: Deps, cloud: Cloud, target: Target, opts: { wait: boolean }): Promise<BackupResult & { instance: Instance }> {
  const disk = target.provider.terms.disk;
  const d = await cloud.findDeployment(target.name);
  if (!d.instance) throw new UsageError(`No instance of deployment ${target.name} in ${target.cloud} ${target.region}`, { code: 'deployment-not-found' });
  const instance = d.instance;
  const data = dataDiskOf(d, instance);
  if (!data) throw new UsageError(`The instance ${instance.id} has no data ${disk}`, { code: 'no-data-volume' });
  const version = d.version ?? 'unknown';
  const operation = `backup-${randomBytes(6).toString('hex')}`;

  const ctx: { snapshot?: Snapshot } = {};
  const steps: Step<typeof ctx>[] = [
    {
      id: 'snapshot',
      title: `Snapshot of ${data.id} (${version})`,
      run: async (c) => {
        c.snapshot = await cloud.createSnapshot({
          deployment: target.name,
          diskId: data.id,
          labels: snapshotLabels(target.name, 'backup', version, d.size),
          operation,
          description: `sourcegraph-launch ${target.name}: backup of ${version} at ${new Date(deps.clock.now()).toISOString()}`,
        });
        return { summary: c.snapshot.id, result: { snapshotId: c.snapshot.id } };
      },
    },
  ];
  if (opts.wait) {
    steps.push({
      id: 'snapshot-completed',
      title: 'Snapshot completes',
      run: async (c) => {
        c.snapshot = await cloud.waitForSnapshot(c.snapshot!.id, SNAPSHOT_WAIT_MS);
        return { summary: c.snapshot.state };
      },
    });
  }
  const journal = newJournal('backup', operation, new Date(deps.clock.now()));
  await runWorkflow(steps, ctx, runOptions(deps, { journal, save: () => undefined }));
  const snapshot = ctx.snapshot!;
  return { name: target.name, region: target.region, snapshotId: snapshot.id, volumeId: data.id, version, state: snapshot.state, instance };
}

export interface ScheduleResult {
  name: string;
  region: string;
  /** The neutral schedule, plus the names `backup --schedule --json` printed on AWS (policyId, copyTags). */
  schedule: SnapshotSchedule & { policyId: string; copyTags?: boolean };
}

/** Creates the cloud's daily snapshot schedule of the data disk, or brings the existing one up to date. */
export async function scheduleSnapshots(cloud: Cloud, target: Target, spec: SnapshotScheduleSpec): Promise<ScheduleResult> {
  const schedule = await cloud.ensureSnapshotSchedule(spec);
  return {
    name: target.name,
    region: target.region,
    schedule: { ...schedule, policyId: schedule.id, ...(schedule.copiesLabels !== undefined ? { copyTags: schedule.copiesLabels } : {}) },
  };
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

export function toBackupEntry(s: Snapshot, now = Date.now()): BackupEntry {
  return {
    snapshotId: s.id,
    purpose: s.labels.purpose ?? (s.labels.role === 'snapshot' ? 'snapshot' : '?'),
    // Scheduled snapshots carry the disk's version label (copied by the schedule) instead.
    version: s.labels['source-version'] ?? s.labels.version,
    sizeGiB: s.sizeGiB,
    state: s.state,
    startTime: s.startTime,
    age: formatAge(s.startTime, now),
  };
}

/** Every snapshot of the deployment, newest first. */
export async function listBackups(cloud: Cloud, name: string, now: number): Promise<BackupEntry[]> {
  return (await cloud.listSnapshots(name)).map((s) => toBackupEntry(s, now));
}
