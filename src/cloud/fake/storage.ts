// Disks, snapshots and snapshot schedules of the fake cloud.
import { CloudError, UsageError, WaitTimeoutError } from '../../core/errors.js';
import type {
  Disk,
  DiskFromSnapshotSpec,
  DiskInitialization,
  DiskResizeState,
  Snapshot,
  SnapshotSchedule,
  SnapshotScheduleSpec,
  SnapshotSpec,
} from '../port.js';
import { conflict, notFound } from './faults.js';
import { checkAttachable, DISK_ROLE_LABELS, live, newDisk } from './instances.js';
import { beginDetach, refresh } from './progress.js';
import { checkedLabels, diskView, snapshotView, type DiskRecord, type ScheduleRecord, type World } from './world.js';

export function describeDisk(w: World, id: string): Disk | undefined {
  refresh(w, id);
  const rec = w.disks.get(id);
  return rec ? diskView(rec) : undefined;
}

/** Polls a disk until `done`, failing on the error state, a vanished disk or the timeout. */
async function waitForDisk(w: World, id: string, done: (d: DiskRecord) => boolean, what: string, timeoutMs: number): Promise<DiskRecord> {
  const deadline = w.clock.now() + timeoutMs;
  for (;;) {
    refresh(w, id);
    const disk = w.disks.get(id);
    if (!disk) throw notFound('disk', id);
    if (disk.failed) throw new CloudError('disk-error', `Disk ${id} is in the error state`);
    if (done(disk)) return disk;
    if (w.clock.now() >= deadline) {
      throw new WaitTimeoutError(`disk-${what}`, `Disk ${id} did not become ${what} in ${Math.round(timeoutMs / 1000)} s (state ${diskView(disk).state})`, {
        details: { diskId: id, state: diskView(disk).state },
        remediation: 'Run the same command again to keep waiting.',
      });
    }
    await w.clock.sleep(w.opts.pollIntervalMs);
  }
}

export async function attachDataDisk(w: World, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const instance = live(w, instanceId);
  const disk = checkAttachable(w.disks.get(diskId), diskId, instance.zone, instanceId);
  if (disk.attachedTo === instanceId && !disk.detaching) return;
  const present = instance.attachments.find((a) => a.role === 'data' && a.diskId !== diskId);
  if (present) {
    throw conflict('data-disk-present', `Instance ${instanceId} already has data disk ${present.diskId}`, `Detach ${present.diskId} first.`);
  }
  // A disk still being made (or let go by its last instance) is attached once it is available.
  await waitForDisk(w, diskId, (d) => !d.creating && !d.detaching, 'available', timeoutMs);
  checkAttachable(w.disks.get(diskId), diskId, instance.zone, instanceId);
  disk.attachedTo = instanceId;
  instance.attachments.push({ role: 'data', diskId, deleteWithInstance: false });
}

/** Detaches from `instanceId` only: a disk that has moved on to another instance is left there. */
export async function detachDisk(w: World, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const disk = w.disks.get(diskId);
  if (!disk) throw notFound('disk', diskId);
  if (disk.attachedTo && disk.attachedTo !== instanceId) return;
  if (disk.attachedTo === instanceId) {
    const attachment = w.instances.get(instanceId)?.attachments.find((a) => a.diskId === diskId);
    if (attachment?.role === 'root') throw conflict('disk-is-root', `Disk ${diskId} is the root disk of ${instanceId}`);
    beginDetach(w, diskId);
  }
  await waitForDisk(w, diskId, (d) => !d.attachedTo && !d.creating, 'available', timeoutMs);
}

export async function waitForDiskAvailable(w: World, diskId: string, timeoutMs: number): Promise<void> {
  await waitForDisk(w, diskId, (d) => !d.attachedTo && !d.creating, 'available', timeoutMs);
}

export function deleteDisk(w: World, diskId: string): void {
  const disk = w.disks.get(diskId);
  if (!disk) return;
  if (disk.attachedTo) throw conflict('disk-in-use', `Disk ${diskId} is attached to ${disk.attachedTo}`, 'Detach it first.');
  w.disks.delete(diskId);
}

function requireCompletedSnapshot(w: World, snapshotId: string, sizeGiB: number) {
  const snap = w.snapshots.get(snapshotId);
  if (!snap) throw notFound('snapshot', snapshotId);
  if (snap.pending || snap.failed) throw new CloudError('snapshot-not-ready', `Snapshot ${snapshotId} is not completed`);
  if (sizeGiB < snap.sizeGiB) throw new CloudError('disk-too-small', `A disk from ${snapshotId} needs at least ${snap.sizeGiB} GiB, not ${sizeGiB}`);
  return snap;
}

export function createDiskFromSnapshot(w: World, spec: DiskFromSnapshotSpec): Disk {
  const known = [...w.disks.values()].find((d) => d.idempotencyKey === spec.idempotencyKey);
  if (known) return diskView(known);
  if (!w.opts.zones.includes(spec.zone)) throw new CloudError('zone-not-found', `Zone ${spec.zone} is not a zone of ${w.opts.region}`);
  requireCompletedSnapshot(w, spec.snapshotId, spec.disk.sizeGiB);
  const rate = spec.initializationRateMiBps !== undefined && w.opts.capabilities.diskInitializationRate;
  const creating = w.start(w.opts.delays.diskCreate);
  const initializing = rate ? w.start(w.opts.delays.diskInitialization) : undefined;
  const disk = newDisk(w, spec.zone, {
    ...spec.disk,
    encrypted: true,
    ...(spec.encryptionKeyId ? { keyId: spec.encryptionKeyId } : {}),
    sourceSnapshotId: spec.snapshotId,
    labels: checkedLabels(spec.labels),
    idempotencyKey: spec.idempotencyKey,
    initialized: rate,
    ...(creating ? { creating } : {}),
    ...(initializing ? { initializing } : {}),
  });
  return diskView(disk);
}

export function diskInitialization(w: World, diskId: string): DiskInitialization {
  refresh(w, diskId);
  const disk = w.disks.get(diskId);
  if (!disk || !w.opts.capabilities.diskInitializationRate) return { state: 'unknown' };
  if (!disk.initialized) return { state: 'completed' };
  if (!disk.initializing) return { state: 'completed', type: 'provisioned-rate', progressPercent: 100, etaSeconds: 0 };
  return { state: 'initializing', type: 'provisioned-rate', progressPercent: w.percent(disk.initializing) };
}

export function createSnapshot(w: World, spec: SnapshotSpec): Snapshot {
  // A re-run finds the snapshot its earlier run made, even after the disk has gone.
  const known = [...w.snapshots.values()].find(
    (s) => !s.failed && s.operation === spec.operation && s.diskId === spec.diskId && s.labels.purpose === spec.labels.purpose,
  );
  if (known) return snapshotView(w, known);
  const disk = w.disks.get(spec.diskId);
  if (!disk) throw notFound('disk', spec.diskId);
  const pending = w.start(w.opts.delays.snapshot);
  const rec = {
    seq: w.nextSeq(),
    id: w.newId('snap'),
    diskId: disk.id,
    sizeGiB: disk.sizeGiB,
    encrypted: disk.encrypted,
    ...(disk.keyId ? { keyId: disk.keyId } : {}),
    description: spec.description,
    labels: checkedLabels(spec.labels),
    startTime: w.isoNow(),
    operation: spec.operation,
    ...(pending ? { pending } : {}),
  };
  w.snapshots.set(rec.id, rec);
  return snapshotView(w, rec);
}

export async function waitForSnapshot(w: World, snapshotId: string, timeoutMs: number): Promise<Snapshot> {
  const deadline = w.clock.now() + timeoutMs;
  for (;;) {
    refresh(w, snapshotId);
    const snap = w.snapshots.get(snapshotId);
    if (!snap) throw notFound('snapshot', snapshotId);
    if (snap.failed) {
      throw new CloudError('snapshot-error', `Snapshot ${snapshotId} failed`, { remediation: 'Run the same command again: it takes a new snapshot.' });
    }
    if (!snap.pending) return snapshotView(w, snap);
    if (w.clock.now() >= deadline) {
      throw new WaitTimeoutError('snapshot-completed', `Snapshot ${snapshotId} is still pending after ${Math.round(timeoutMs / 60_000)} min`, {
        details: { snapshotId, progress: snapshotView(w, snap).progress },
        remediation: 'Run the same command again to keep waiting.',
      });
    }
    await w.clock.sleep(w.opts.pollIntervalMs);
  }
}

export function describeSnapshot(w: World, snapshotId: string): Snapshot | undefined {
  refresh(w, snapshotId);
  const snap = w.snapshots.get(snapshotId);
  return snap ? snapshotView(w, snap) : undefined;
}

/** Newest first; snapshots started at the same moment by creation order. */
export function listSnapshots(w: World, deployment: string): Snapshot[] {
  return [...w.snapshots.values()]
    .filter((s) => s.labels.deployment === deployment)
    .sort((a, b) => b.startTime.localeCompare(a.startTime) || b.seq - a.seq)
    .map((s) => snapshotView(w, s));
}

export function deleteSnapshot(w: World, snapshotId: string): void {
  const snap = w.snapshots.get(snapshotId);
  if (!snap) return;
  if (snap.imageId && w.images.has(snap.imageId)) {
    throw conflict('snapshot-in-use', `Snapshot ${snapshotId} holds a disk of image ${snap.imageId}`, 'Delete the image instead.');
  }
  w.snapshots.delete(snapshotId);
}

// ---- schedules ----

function scheduleView(rec: ScheduleRecord): SnapshotSchedule {
  return { id: rec.id, state: 'enabled', schedule: rec.schedule, retain: rec.retain, copiesLabels: true };
}

export function findSnapshotSchedule(w: World, deployment: string): SnapshotSchedule | undefined {
  if (!w.opts.capabilities.snapshotSchedules) return undefined;
  const rec = [...w.schedules.values()].find((s) => s.deployment === deployment);
  return rec ? scheduleView(rec) : undefined;
}

export function ensureSnapshotSchedule(w: World, spec: SnapshotScheduleSpec): SnapshotSchedule {
  if (!w.opts.capabilities.snapshotSchedules) {
    throw new CloudError('capability-unavailable', 'This cloud runs no snapshot schedules (capabilities.snapshotSchedules is off)');
  }
  const existing = [...w.schedules.values()].find((s) => s.deployment === spec.deployment);
  if (existing) {
    Object.assign(existing, { schedule: spec.schedule, retain: spec.retain, params: { ...spec.params } });
    return scheduleView(existing);
  }
  const rec = { id: w.newId('sched'), deployment: spec.deployment, schedule: spec.schedule, retain: spec.retain, params: { ...spec.params } };
  w.schedules.set(rec.id, rec);
  return scheduleView(rec);
}

export function deleteSnapshotSchedule(w: World, id: string): void {
  w.schedules.delete(id);
}

/**
 * One run of every schedule, as the cloud would do it at night: a completed snapshot of each
 * deployment's data disk carrying the disk's labels plus purpose "scheduled"; only the newest
 * `retain` scheduled snapshots of each disk are kept.
 */
export function runSnapshotSchedules(w: World): Snapshot[] {
  const made: Snapshot[] = [];
  for (const schedule of w.schedules.values()) {
    const disks = [...w.disks.values()].filter((d) => d.labels.deployment === schedule.deployment && d.labels.role === DISK_ROLE_LABELS.data);
    for (const disk of disks) {
      const rec = {
        seq: w.nextSeq(),
        id: w.newId('snap'),
        diskId: disk.id,
        sizeGiB: disk.sizeGiB,
        encrypted: disk.encrypted,
        ...(disk.keyId ? { keyId: disk.keyId } : {}),
        description: `${schedule.deployment} ${schedule.schedule} snapshot`,
        labels: { ...disk.labels, deployment: schedule.deployment, purpose: 'scheduled', managed: 'true' },
        startTime: w.isoNow(),
      };
      w.snapshots.set(rec.id, rec);
      made.push(snapshotView(w, rec));
      const scheduled = [...w.snapshots.values()]
        .filter((s) => s.diskId === disk.id && s.labels.purpose === 'scheduled')
        .sort((a, b) => b.seq - a.seq);
      for (const old of scheduled.slice(schedule.retain)) w.snapshots.delete(old.id);
    }
  }
  return made;
}

// ---- growing a disk (disk grow) ----

const DAY_MS = 24 * 3_600_000;
/** EBS since January 2026: up to 4 modifications of a volume in a rolling 24 h, each after the last completed. */
const AWS_CHANGES_PER_DAY = 4;
/** Azure grows an attached disk online only while it stays at or under 4 TiB (or starts above it). */
const AZURE_ONLINE_LIMIT_GIB = 4095;

function resizeLimits(w: World, disk: DiskRecord, targetSizeGiB: number | undefined): Pick<DiskResizeState, 'nextAllowedAt' | 'limit' | 'needsStop'> {
  const out: Pick<DiskResizeState, 'nextAllowedAt' | 'limit' | 'needsStop'> = {};
  if (w.opts.provider === 'aws') {
    const recent = (disk.resizes ?? []).filter((t) => t > w.clock.now() - DAY_MS).sort((a, b) => a - b);
    if (recent.length >= AWS_CHANGES_PER_DAY) {
      out.nextAllowedAt = new Date(recent[recent.length - AWS_CHANGES_PER_DAY]! + DAY_MS).toISOString();
      out.limit = `at most ${AWS_CHANGES_PER_DAY} modifications of a volume in 24 hours`;
    }
  }
  if (w.opts.provider === 'azure' && targetSizeGiB !== undefined && disk.attachedTo) {
    const holder = w.instances.get(disk.attachedTo);
    const running = holder && holder.state !== 'stopped';
    if (running && disk.sizeGiB <= AZURE_ONLINE_LIMIT_GIB && targetSizeGiB > AZURE_ONLINE_LIMIT_GIB) out.needsStop = true;
  }
  return out;
}

export function diskResizeState(w: World, diskId: string, targetSizeGiB?: number): DiskResizeState {
  refresh(w, diskId);
  const disk = w.disks.get(diskId);
  if (!disk) throw notFound('disk', diskId);
  const limits = resizeLimits(w, disk, targetSizeGiB);
  const r = disk.resizing;
  return {
    sizeGiB: disk.sizeGiB,
    ...(r ? { inProgress: { targetSizeGiB: r.targetSizeGiB, state: 'modifying', startedAt: new Date(r.startedAt).toISOString() } } : {}),
    ...limits,
  };
}

export function resizeDisk(w: World, diskId: string, sizeGiB: number): void {
  const disk = w.disks.get(diskId);
  if (!disk) throw notFound('disk', diskId);
  if (disk.failed) throw new CloudError('disk-error', `Disk ${diskId} is in the error state`);
  const current = disk.resizing?.targetSizeGiB ?? disk.sizeGiB;
  if (sizeGiB === current) return;
  if (sizeGiB < current) {
    throw new UsageError(`Disk ${diskId} is ${current} GiB: a disk never shrinks (asked for ${sizeGiB} GiB)`, { code: 'disk-shrink-refused' });
  }
  if (disk.resizing) {
    throw conflict('disk-modification-rate', `Disk ${diskId} is still changing to ${disk.resizing.targetSizeGiB} GiB`, 'Wait until that change completes.');
  }
  const limits = resizeLimits(w, disk, sizeGiB);
  if (limits.nextAllowedAt) {
    throw conflict('disk-modification-rate', `Disk ${diskId} has had ${limits.limit ?? 'too many changes'}: the next is allowed at ${limits.nextAllowedAt}`, `Run the same command again after ${limits.nextAllowedAt}.`);
  }
  if (limits.needsStop) {
    throw conflict('disk-resize-needs-stop', `Disk ${diskId} can grow beyond ${AZURE_ONLINE_LIMIT_GIB} GiB only while its instance is stopped (deallocated)`, 'Stop the instance first.');
  }
  disk.resizes = [...(disk.resizes ?? []), w.clock.now()];
  const t = w.start(w.opts.delays.diskResize);
  if (t) disk.resizing = { ...t, targetSizeGiB: sizeGiB, startedAt: w.clock.now() };
  else disk.sizeGiB = sizeGiB;
}
