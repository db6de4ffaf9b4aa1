// EBS volumes and snapshots: attach (as the data disk) and detach with waits, volumes made from
// snapshots (with the optional provisioned initialisation rate), snapshots found again by the
// operation that made them, and how far a snapshot-made volume has loaded its blocks.
import { CloudError, UsageError, WaitTimeoutError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import { setLabels as plainSetLabels } from './network.js';
import type { CloudRequest, Disk, DiskFromSnapshotSpec, DiskInitialization, DiskResizeState, Snapshot, SnapshotSpec } from '../port.js';
import { call, callUnlessNotFound, paginate, type AwsContext } from './context.js';
import { awsErrorCode, isAwsErrorCode, toLaunchError } from './errors.js';
import { DATA_DEVICE, tagFilter, toDisk, toSnapshot, volumeName } from './mappers.js';
import { createSnapshotRequest, createVolumeRequest } from './request-builders.js';
import type { Ec2Api, Ec2Filter } from './sdk.js';

const UNKNOWN_PARAMETER_CODES = ['InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination', 'UnknownParameter'];

export async function describeDisk(c: AwsContext, volumeId: string): Promise<Disk | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeVolumes', () => c.ec2.describeVolumes({ VolumeIds: [volumeId] }));
  const volume = out?.Volumes?.[0];
  return volume ? toDisk(volume) : undefined;
}

export async function describeDisksWhere(c: AwsContext, filters: Ec2Filter[]): Promise<Disk[]> {
  const pages = await paginate(c, 'DescribeVolumes', (NextToken) => c.ec2.describeVolumes({ Filters: filters, ...(NextToken ? { NextToken } : {}) }));
  return pages.flatMap((p) => p.Volumes ?? []).map(toDisk);
}

async function waitForDisk(c: AwsContext, volumeId: string, done: (d: Disk) => boolean, what: string, timeoutMs: number): Promise<Disk> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const disk = await describeDisk(c, volumeId);
    if (!disk) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
    if (done(disk)) return disk;
    if (disk.state === 'error') throw new CloudError('volume-error', `Volume ${volumeId} is in the error state`);
    if (c.now() >= deadline) {
      throw new WaitTimeoutError(`volume-${what}`, `Volume ${volumeId} did not become ${what} in ${Math.round(timeoutMs / 1000)} s (state ${disk.state})`, {
        details: { volumeId, state: disk.state },
        remediation: 'Run the same command again to keep waiting.',
      });
    }
    await c.sleep(c.pollIntervalMs);
  }
}

export async function waitForDiskAvailable(c: AwsContext, volumeId: string, timeoutMs: number): Promise<void> {
  await waitForDisk(c, volumeId, (d) => d.state === 'available', 'available', timeoutMs);
}

/** Attaches as the data disk (/dev/sdb) and waits until in use; a no-op when it is attached there already. */
export async function attachDataDisk(c: AwsContext, volumeId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const disk = await describeDisk(c, volumeId);
  if (!disk) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
  if (disk.attachedTo && disk.attachedTo !== instanceId) {
    // Never take a data volume from another instance: two instances must not share one volume's data.
    throw new CloudError('volume-in-use', `Volume ${volumeId} is attached to ${disk.attachedTo}, not ${instanceId}`, {
      remediation: `Stop ${disk.attachedTo} and detach the volume first, or run the same command again if an earlier step is still detaching it.`,
    });
  }
  if (!disk.attachedTo) {
    // Said before asking: EC2's own refusal (InvalidVolume.ZoneMismatch) names neither zone.
    const out = await callUnlessNotFound(c, 'DescribeInstances', () => c.ec2.describeInstances({ InstanceIds: [instanceId] }));
    const zone = out?.Reservations?.[0]?.Instances?.[0]?.Placement?.AvailabilityZone;
    if (zone && disk.zone && zone !== disk.zone) {
      throw new CloudError('volume-zone-mismatch', `Volume ${volumeId} is in ${disk.zone} and instance ${instanceId} in ${zone}: a volume attaches only within its availability zone`, {
        remediation: `Make a volume in ${zone} from a snapshot of ${volumeId}, or launch the instance in ${disk.zone}.`,
      });
    }
    await call(c, 'AttachVolume', () => c.ec2.attachVolume({ VolumeId: volumeId, InstanceId: instanceId, Device: DATA_DEVICE }));
  }
  await waitForDisk(c, volumeId, (d) => d.attachedTo === instanceId && d.state === 'in-use', 'attached', timeoutMs);
}

/** Detaches from `instanceId` (only from it) and waits until the volume is available. */
export async function detachDisk(c: AwsContext, volumeId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const disk = await describeDisk(c, volumeId);
  if (!disk) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
  if (disk.attachedTo === instanceId) await call(c, 'DetachVolume', () => c.ec2.detachVolume({ VolumeId: volumeId, InstanceId: instanceId }));
  else if (disk.attachedTo) return; // Already moved on to another instance: not ours to detach from there.
  await waitForDisk(c, volumeId, (d) => d.state === 'available' || (d.attachedTo !== undefined && d.attachedTo !== instanceId), 'available', timeoutMs);
}

export async function deleteDisk(c: AwsContext, volumeId: string): Promise<void> {
  await callUnlessNotFound(c, 'DeleteVolume', () => c.ec2.deleteVolume({ VolumeId: volumeId }));
}

/** Idempotent by the operation label: a re-run finds the volume it made. */
export async function createDiskFromSnapshot(c: AwsContext, spec: DiskFromSnapshotSpec): Promise<Disk> {
  const operation = spec.labels.operation;
  if (operation) {
    const existing = (await describeDisksWhere(c, [tagFilter('operation', [operation]), tagFilter('role', [spec.labels.role ?? 'data-volume'])])).find(
      (d) => d.state !== 'deleting' && d.state !== 'deleted' && d.state !== 'error',
    );
    if (existing) return existing;
  }
  const send = (withRate: boolean) => c.ec2.createVolume(createVolumeRequest(spec, withRate) as Parameters<Ec2Api['createVolume']>[0]);
  let out;
  try {
    out = await send(true);
  } catch (err) {
    if (spec.initializationRateMiBps === undefined || !UNKNOWN_PARAMETER_CODES.includes(awsErrorCode(err) ?? '')) {
      throw toLaunchError(err, { operation: 'CreateVolume', profile: c.profile, region: c.region });
    }
    out = await call(c, 'CreateVolume', () => send(false));
  }
  if (!out.VolumeId) throw new CloudError('create-volume-empty', 'CreateVolume returned no volume id');
  return toDisk(out);
}

export async function diskInitialization(c: AwsContext, volumeId: string): Promise<DiskInitialization> {
  const out = await call(c, 'DescribeVolumeStatus', () => c.ec2.describeVolumeStatus({ VolumeIds: [volumeId] }));
  const status = out.VolumeStatuses?.[0];
  const details = status?.InitializationStatusDetails;
  const state = status?.VolumeStatus?.Details?.find((d) => d.Name === 'initialization-state')?.Status;
  const result: DiskInitialization = { state: 'unknown' };
  if (details?.InitializationType) result.type = details.InitializationType;
  if (details?.Progress !== undefined) result.progressPercent = details.Progress;
  if (details?.EstimatedTimeToCompleteInSeconds !== undefined) result.etaSeconds = details.EstimatedTimeToCompleteInSeconds;
  if (state === 'completed' || details?.Progress === 100) result.state = 'completed';
  else if (state === 'initializing' || details !== undefined) result.state = 'initializing';
  return result;
}

// ---- snapshots ----

async function describeSnapshotsWhere(c: AwsContext, filters: Ec2Filter[]): Promise<Snapshot[]> {
  const pages = await paginate(c, 'DescribeSnapshots', (NextToken) => c.ec2.describeSnapshots({ OwnerIds: ['self'], Filters: filters, ...(NextToken ? { NextToken } : {}) }));
  return pages.flatMap((p) => (p.Snapshots ?? []).map(toSnapshot));
}

export async function describeSnapshot(c: AwsContext, snapshotId: string): Promise<Snapshot | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeSnapshots', () => c.ec2.describeSnapshots({ SnapshotIds: [snapshotId] }), ['InvalidSnapshot.NotFound', 'InvalidSnapshotID.Malformed']);
  const s = out?.Snapshots?.[0];
  return s ? toSnapshot(s) : undefined;
}

/** Idempotent: a snapshot of the same volume carrying the same operation and purpose is returned instead of a new one. */
export async function createSnapshot(c: AwsContext, spec: SnapshotSpec): Promise<Snapshot> {
  const purpose = spec.labels.purpose !== undefined ? [tagFilter('purpose', [spec.labels.purpose])] : [];
  const existing = (await describeSnapshotsWhere(c, [tagFilter('operation', [spec.operation]), ...purpose, { Name: 'volume-id', Values: [spec.diskId] }])).find((s) => s.state !== 'error');
  if (existing) return existing;
  const name = `${spec.deployment}-${spec.labels.purpose ?? 'snapshot'}-${spec.labels['source-version'] ?? spec.labels.version ?? ''}`.replace(/-$/, '');
  const out = await call(c, 'CreateSnapshot', () => c.ec2.createSnapshot(createSnapshotRequest(spec, name)));
  if (!out.SnapshotId) throw new CloudError('create-snapshot-empty', 'CreateSnapshot returned no snapshot id');
  return toSnapshot(out);
}

export async function waitForSnapshot(c: AwsContext, snapshotId: string, timeoutMs: number): Promise<Snapshot> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const snapshot = await describeSnapshot(c, snapshotId);
    if (!snapshot) throw new CloudError('snapshot-not-found', `Snapshot ${snapshotId} does not exist in ${c.region}`);
    if (snapshot.state === 'completed') return snapshot;
    if (snapshot.state === 'error') {
      throw new CloudError('snapshot-error', `Snapshot ${snapshotId} failed (state error)`, { remediation: 'Run the same command again: it takes a new snapshot. Nothing was changed on the instance.' });
    }
    if (c.now() >= deadline) {
      throw new WaitTimeoutError('snapshot-completed', `Snapshot ${snapshotId} is still ${snapshot.state} (${snapshot.progress ?? '?'}) after ${Math.round(timeoutMs / 60_000)} min`, {
        details: { snapshotId, progress: snapshot.progress },
        remediation: 'Large first snapshots take a while. Run the same command again to keep waiting.',
      });
    }
    await c.sleep(c.pollIntervalMs);
  }
}

export async function listSnapshots(c: AwsContext, deployment: string): Promise<Snapshot[]> {
  const all = await describeSnapshotsWhere(c, [tagFilter('deployment', [deployment])]);
  return all.sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? '') || a.id.localeCompare(b.id));
}

export async function deleteSnapshot(c: AwsContext, snapshotId: string): Promise<void> {
  try {
    await c.ec2.deleteSnapshot({ SnapshotId: snapshotId });
  } catch (err) {
    if (isAwsErrorCode(err, 'InvalidSnapshot.NotFound')) return;
    throw toLaunchError(err, { operation: 'DeleteSnapshot', profile: c.profile, region: c.region });
  }
}

// ---- labels ----

const VOLUME_ROLES = new Set(['data-volume', 'rollback-data', 'root-volume']);

/**
 * Labels resources. A volume given one of the volume roles also gets the Name that goes with it,
 * for the deployment it belongs to (the labels' own, else the volume's): the snapshot policy
 * targets `<deployment>-data`, so a rollback volume still named so would be snapshotted forever.
 */
export async function setLabels(c: AwsContext, ids: string[], labels: Labels): Promise<void> {
  if (!ids.length) return;
  const role = labels.role;
  if (!role || !VOLUME_ROLES.has(role)) return plainSetLabels(c, ids, labels);
  const deploymentOf = new Map<string, string | undefined>(ids.map((id) => [id, labels.deployment]));
  if (labels.deployment === undefined) {
    for (const disk of await describeDisksWhere(c, [{ Name: 'volume-id', Values: ids }])) deploymentOf.set(disk.id, disk.labels.deployment);
  }
  const groups = new Map<string | undefined, string[]>();
  for (const [id, deployment] of deploymentOf) groups.set(deployment, [...(groups.get(deployment) ?? []), id]);
  for (const [deployment, group] of groups) await plainSetLabels(c, group, labels, deployment !== undefined ? { Name: volumeName(deployment, role) } : {});
}

// ---- growing a volume (disk grow) ----

const DAY_MS = 24 * 3_600_000;
/**
 * Since January 2026 EBS allows up to 4 modifications of a volume in a rolling 24 hours, each once
 * the last has completed (before: one per 6 hours). DescribeVolumesModifications answers the latest
 * one (moto: all of them): the count below is what it shows; EC2's own refusal is mapped too.
 */
const CHANGES_PER_DAY = 4;
const RATE_CODES = ['VolumeModificationRateExceeded', 'IncorrectModificationState'];

interface VolumeModificationView {
  state: string;
  targetSizeGiB: number;
  originalSizeGiB?: number;
  progressPercent?: number;
  startedAt?: string;
}

async function volumeModifications(c: AwsContext, volumeId: string): Promise<VolumeModificationView[]> {
  // A volume never modified: real EC2 answers InvalidVolumeModification.NotFound rather than an empty list.
  const out = await callUnlessNotFound(c, 'DescribeVolumesModifications', () => c.ec2.describeVolumesModifications({ VolumeIds: [volumeId] }), ['InvalidVolumeModification.NotFound']);
  return (out?.VolumesModifications ?? [])
    .map((m) => ({
      state: m.ModificationState ?? 'unknown',
      targetSizeGiB: m.TargetSize ?? 0,
      ...(m.OriginalSize !== undefined ? { originalSizeGiB: m.OriginalSize } : {}),
      ...(m.Progress !== undefined ? { progressPercent: Number(m.Progress) } : {}),
      ...(m.StartTime ? { startedAt: new Date(m.StartTime).toISOString() } : {}),
    }))
    .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
}

export async function diskResizeState(c: AwsContext, volumeId: string): Promise<DiskResizeState> {
  const disk = await describeDisk(c, volumeId);
  if (!disk) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
  const mods = await volumeModifications(c, volumeId);
  const latest = mods.at(-1);
  const busy = latest && (latest.state === 'modifying' || latest.state === 'optimizing') ? latest : undefined;
  // While "modifying" the instance still sees the old size; from "optimizing" on the new one is usable.
  const sizeGiB = busy?.state === 'modifying' && busy.originalSizeGiB !== undefined ? busy.originalSizeGiB : disk.sizeGiB;
  const recent = mods.filter((m) => m.startedAt && Date.parse(m.startedAt) > c.now() - DAY_MS);
  const state: DiskResizeState = { sizeGiB };
  if (busy) {
    state.inProgress = { targetSizeGiB: busy.targetSizeGiB, state: busy.state, ...(busy.progressPercent !== undefined ? { progressPercent: busy.progressPercent } : {}), ...(busy.startedAt ? { startedAt: busy.startedAt } : {}) };
    state.limit = 'EBS starts the next modification of a volume once the last has completed';
  }
  if (recent.length >= CHANGES_PER_DAY) {
    state.nextAllowedAt = new Date(Date.parse(recent[recent.length - CHANGES_PER_DAY]!.startedAt!) + DAY_MS).toISOString();
    state.limit = `EBS allows at most ${CHANGES_PER_DAY} modifications of a volume in 24 hours`;
  }
  return state;
}

/** The one request resizeDisk sends (disk grow --dry-run shows it). */
export function resizeRequests(volumeId: string, sizeGiB: number): CloudRequest[] {
  return [{ service: 'ec2', operation: 'ModifyVolume', input: { VolumeId: volumeId, Size: sizeGiB } }];
}

export async function resizeDisk(c: AwsContext, volumeId: string, sizeGiB: number): Promise<void> {
  const state = await diskResizeState(c, volumeId);
  const disk = await describeDisk(c, volumeId);
  const current = state.inProgress?.targetSizeGiB ?? disk?.sizeGiB ?? state.sizeGiB;
  if (sizeGiB === current) return;
  if (sizeGiB < current) throw new UsageError(`Volume ${volumeId} is ${current} GiB: EBS volumes never shrink (asked for ${sizeGiB} GiB)`, { code: 'disk-shrink-refused' });
  if (state.inProgress || state.nextAllowedAt) {
    throw new CloudError('disk-modification-rate', `Volume ${volumeId} cannot be modified now: ${state.limit ?? 'a modification is under way'}${state.nextAllowedAt ? `; the next is allowed at ${state.nextAllowedAt}` : ''}`, {
      remediation: state.nextAllowedAt ? `Run the same command again after ${state.nextAllowedAt}.` : 'Run the same command again once the modification under way has completed.',
      details: { volumeId, ...(state.nextAllowedAt ? { nextAllowedAt: state.nextAllowedAt } : {}) },
    });
  }
  try {
    await c.ec2.modifyVolume({ VolumeId: volumeId, Size: sizeGiB });
  } catch (err) {
    if (isAwsErrorCode(err, ...RATE_CODES)) {
      throw new CloudError('disk-modification-rate', `EC2 refused to modify volume ${volumeId} now: ${awsErrorCode(err)} (at most ${CHANGES_PER_DAY} modifications in 24 hours, each after the last completed)`, {
        cause: err,
        remediation: 'Run the same command again later; `describe-volumes-modifications` shows the last modification.',
      });
    }
    throw toLaunchError(err, { operation: 'ModifyVolume', profile: c.profile, region: c.region });
  }
}
