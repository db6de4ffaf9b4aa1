// Disks (zonal), snapshots (global) and labels on every kind of resource. A disk attaches as the
// data disk under the device name the provision scripts look for; a snapshot is made once per
// operation, purpose and disk (its name derives from them).
import { CloudError, UsageError, WaitTimeoutError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type { CloudRequest, Disk, DiskFromSnapshotSpec, DiskInitialization, DiskResizeState, Snapshot, SnapshotSpec } from '../port.js';
import { call, getOrUndefined, listAll, mutate, pollUntil, request, type GceContext, type Json } from './context.js';
import { isGceError, isNotFound } from './errors.js';
import { describeInstanceRaw } from './instances.js';
import { DATA_DEVICE, gceLabels, idFromLink, parseGlobal, parseRegional, parseZonal, requestIdFor, splitLabels, toDisk, toSnapshot } from './mappers.js';
import { labelFilter, setPolicyLabels, setResourceLabels } from './network.js';
import { diskFromSnapshotBody, diskFromSnapshotName, snapshotBody, snapshotName } from './request-builders.js';

function diskPath(id: string): string | undefined {
  const z = parseZonal(id, 'disks');
  return z && `zones/${z.zone}/disks/${z.name}`;
}

function snapshotPath(id: string): string | undefined {
  const g = parseGlobal(id, 'snapshots');
  return g && `global/snapshots/${g.name}`;
}

export async function describeDisk(c: GceContext, id: string): Promise<Disk | undefined> {
  const p = diskPath(id);
  const raw = p ? await getOrUndefined(c, 'disks.get', p) : undefined;
  return raw && toDisk(raw, c.project);
}

export async function listDisks(c: GceContext, zones: string[], filter?: string): Promise<Disk[]> {
  const lists = await Promise.all(zones.map((z) => listAll<Json>(c, 'disks.list', `zones/${z}/disks`, filter)));
  return lists.flat().map((raw) => toDisk(raw, c.project));
}

export async function attachDataDisk(c: GceContext, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const disk = await describeDisk(c, diskId);
  if (!disk) throw new CloudError('disk-not-found', `Disk ${diskId} was not found`, { remediation: '`sourcegraph-launch status` lists the deployment\'s disks.' });
  const instance = await describeInstanceRaw(c, instanceId);
  if (!instance) throw new CloudError('instance-not-found', `Instance ${instanceId} was not found`);
  const zone = parseZonal(instanceId, 'instances')!.zone;
  if (disk.attachedTo === instanceId) return;
  if (disk.zone !== zone) {
    throw new CloudError('disk-zone-mismatch', `Disk ${diskId} is in ${disk.zone}; instance ${instanceId} is in ${zone}: a disk attaches only within its zone`, {
      remediation: 'Make a disk in the instance\'s zone from a snapshot of it (`sourcegraph-launch restore`), or launch in the disk\'s zone with --zone.',
    });
  }
  if (disk.attachedTo) throw new CloudError('disk-in-use', `Disk ${diskId} is attached to ${disk.attachedTo}`, { remediation: 'Detach it there first.' });
  if (((instance.disks ?? []) as Json[]).some((d) => d.deviceName === DATA_DEVICE)) {
    throw new CloudError('data-disk-present', `Instance ${instanceId} already has a data disk`, { remediation: 'Detach that one first.' });
  }
  await call(c, 'instances.attachDisk', () => mutate(c, 'POST', `${instanceId}/attachDisk`, { body: { source: diskPath(diskId), deviceName: DATA_DEVICE, autoDelete: false, mode: 'READ_WRITE' } }));
  await pollUntil(
    c,
    timeoutMs,
    async () => ((await describeDisk(c, diskId))?.attachedTo === instanceId ? true : undefined),
    () => new WaitTimeoutError('disk-attached', `Disk ${diskId} did not attach to ${instanceId} in time`),
  );
}

export async function detachDisk(c: GceContext, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const instance = await describeInstanceRaw(c, instanceId);
  const attached = ((instance?.disks ?? []) as Json[]).find((d) => idFromLink(String(d.source ?? ''), c.project) === diskId);
  if (!instance || !attached) return;
  if (attached.boot) throw new CloudError('disk-is-root', `Disk ${diskId} is the root disk of ${instanceId}`, { remediation: 'Only a data disk is detached.' });
  await call(c, 'instances.detachDisk', () => mutate(c, 'POST', `${instanceId}/detachDisk`, { query: { deviceName: String(attached.deviceName) } }));
  await waitForDiskAvailable(c, diskId, timeoutMs);
}

export async function waitForDiskAvailable(c: GceContext, diskId: string, timeoutMs: number): Promise<void> {
  await pollUntil(
    c,
    timeoutMs,
    async () => {
      const disk = await describeDisk(c, diskId);
      if (!disk) throw new CloudError('disk-not-found', `Disk ${diskId} is gone`);
      if (disk.state === 'error') throw new CloudError('disk-failed', `Disk ${diskId} failed`);
      return disk.state === 'available' ? true : undefined;
    },
    () => new WaitTimeoutError('disk-available', `Disk ${diskId} did not become available in ${Math.round(timeoutMs / 1000)} s`),
  );
}

export async function deleteDisk(c: GceContext, diskId: string): Promise<void> {
  const p = diskPath(diskId);
  if (!p) return;
  await call(c, 'disks.delete', async () => {
    try {
      await mutate(c, 'DELETE', p);
    } catch (err) {
      if (isNotFound(err) || isGceError(err, 'resourceNotReady')) return;
      if (isGceError(err, 'resourceInUseByAnotherResource')) {
        throw new CloudError('disk-in-use', `Disk ${diskId} is attached to an instance and cannot be deleted`, { cause: err, remediation: 'Detach it (or delete the instance) first.' });
      }
      throw err;
    }
  });
}

export async function createDiskFromSnapshot(c: GceContext, spec: DiskFromSnapshotSpec): Promise<Disk> {
  const id = `zones/${spec.zone}/disks/${diskFromSnapshotName(spec)}`;
  const found = await describeDisk(c, id);
  if (found) return found;
  await call(c, 'disks.insert', async () => {
    try {
      await mutate(c, 'POST', `zones/${spec.zone}/disks`, { body: diskFromSnapshotBody(spec), requestId: requestIdFor(c.project, `disk/${spec.idempotencyKey}`) });
    } catch (err) {
      if (!isGceError(err, 'alreadyExists')) throw err;
    }
  });
  const made = await describeDisk(c, id);
  if (!made) throw new CloudError('disk-not-created', `Disk ${id} was not created (its request was answered before)`, { remediation: 'Run the command again; it makes the disk under a new attempt.' });
  return made;
}

/** Compute has no provisioned initialisation rate to report. */
export async function diskInitialization(): Promise<DiskInitialization> {
  return { state: 'unknown' };
}

export async function describeSnapshot(c: GceContext, id: string): Promise<Snapshot | undefined> {
  const p = snapshotPath(id);
  const raw = p ? await getOrUndefined(c, 'snapshots.get', p) : undefined;
  return raw && toSnapshot(raw, c.project);
}

export async function createSnapshot(c: GceContext, spec: SnapshotSpec): Promise<Snapshot> {
  const name = snapshotName(spec);
  const found = await describeSnapshot(c, `global/snapshots/${name}`);
  if (found) return found;
  const p = diskPath(spec.diskId);
  if (!p) throw new CloudError('disk-not-found', `Disk ${spec.diskId} is not a disk id (zones/ZONE/disks/NAME)`);
  await call(c, 'disks.createSnapshot', async () => {
    try {
      // Not waited for: waitForSnapshot follows the snapshot itself.
      await request(c, 'POST', `${p}/createSnapshot`, { body: snapshotBody(spec), query: { requestId: requestIdFor(c.project, `snapshot/${name}`) } });
    } catch (err) {
      if (!isGceError(err, 'alreadyExists')) throw err;
    }
  });
  return pollUntil(
    c,
    60_000,
    () => describeSnapshot(c, `global/snapshots/${name}`),
    () => new CloudError('snapshot-not-created', `Snapshot ${name} of ${spec.diskId} did not appear`),
  );
}

export async function waitForSnapshot(c: GceContext, id: string, timeoutMs: number): Promise<Snapshot> {
  return pollUntil(
    c,
    timeoutMs,
    async () => {
      const s = await describeSnapshot(c, id);
      if (!s) throw new CloudError('snapshot-not-found', `Snapshot ${id} is gone`);
      if (s.state === 'error') throw new CloudError('snapshot-failed', `Snapshot ${id} failed`);
      return s.state === 'completed' ? s : undefined;
    },
    () => new WaitTimeoutError('snapshot-completed', `Snapshot ${id} did not complete in ${Math.round(timeoutMs / 1000)} s`),
  );
}

export async function listSnapshots(c: GceContext, deployment: string): Promise<Snapshot[]> {
  const raw = await listAll<Json>(c, 'snapshots.list', 'global/snapshots', labelFilter('deployment', deployment));
  return raw
    .map((s) => toSnapshot(s, c.project))
    .filter((s) => s.labels.deployment === deployment)
    .sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? '') || b.id.localeCompare(a.id));
}

export async function deleteSnapshot(c: GceContext, id: string): Promise<void> {
  const p = snapshotPath(id);
  if (!p) return;
  await call(c, 'snapshots.delete', async () => {
    try {
      await mutate(c, 'DELETE', p);
    } catch (err) {
      if (!isNotFound(err) && !isGceError(err, 'resourceNotReady')) throw err;
    }
  });
}

// ---- labels ----

interface Labelled {
  path: string;
  operation: string;
  raw: Json;
}

async function labelledResource(c: GceContext, id: string): Promise<Labelled | 'policy' | undefined> {
  const kinds: [string | undefined, string][] = [
    [parseZonal(id, 'instances') && id.replace(/^projects\/[^/]+\//, ''), 'instances'],
    [diskPath(id), 'disks'],
    [snapshotPath(id), 'snapshots'],
    [parseGlobal(id, 'images') && `global/images/${parseGlobal(id, 'images')!.name}`, 'images'],
    [parseRegional(id, 'addresses') && id.replace(/^projects\/[^/]+\//, ''), 'addresses'],
  ];
  for (const [path, kind] of kinds) {
    if (!path) continue;
    const raw = await getOrUndefined(c, `${kind}.get`, path);
    return raw ? { path, operation: `${kind}.setLabels`, raw } : undefined;
  }
  return /^[a-z][-a-z0-9]{0,62}$/.test(id) ? 'policy' : undefined;
}

async function changeLabels(c: GceContext, ids: string[], change: (labels: Labels) => Labels): Promise<void> {
  // Every id is looked up first: one unknown id fails the call before anything changes.
  const found = await Promise.all(ids.map(async (id) => [id, await labelledResource(c, id)] as const));
  const missing = found.find(([, r]) => r === undefined);
  if (missing) throw new CloudError('resource-not-found', `Cannot label ${missing[0]}: it was not found`);
  for (const [id, r] of found) {
    if (r === 'policy') {
      await setPolicyLabels(c, id, change);
      continue;
    }
    const { labels, foreign } = splitLabels(r!.raw.labels);
    await setResourceLabels(c, r!.path, r!.operation, r!.raw, gceLabels(change(labels), foreign));
  }
}

export function setLabels(c: GceContext, ids: string[], labels: Labels): Promise<void> {
  return changeLabels(c, ids, (current) => ({ ...current, ...labels }));
}

export function removeLabels(c: GceContext, ids: string[], keys: (keyof Labels)[]): Promise<void> {
  return changeLabels(c, ids, (current) => Object.fromEntries(Object.entries(current).filter(([k]) => !keys.includes(k as keyof Labels))) as Labels);
}

// ---- growing a disk (disk grow) ----

/** Persistent Disk grows online at any time, with no rate limit; the disk reports its new size when the operation is done. */
export async function diskResizeState(c: GceContext, diskId: string): Promise<DiskResizeState> {
  const disk = await describeDisk(c, diskId);
  if (!disk) throw new CloudError('disk-not-found', `Disk ${diskId} was not found`);
  return { sizeGiB: disk.sizeGiB };
}

/** The one request resizeDisk sends (disk grow --dry-run shows it). */
export function resizeRequests(project: string, diskId: string, sizeGiB: number): CloudRequest[] {
  const z = parseZonal(diskId, 'disks');
  return [{ service: 'compute', operation: 'disks.resize', input: { project, zone: z?.zone ?? '<zone of the disk>', disk: z?.name ?? diskId, requestId: requestIdFor(project, `resize/${diskId}/${sizeGiB}`), body: { sizeGb: String(sizeGiB) } } }];
}

export async function resizeDisk(c: GceContext, diskId: string, sizeGiB: number): Promise<void> {
  const disk = await describeDisk(c, diskId);
  const p = diskPath(diskId);
  if (!disk || !p) throw new CloudError('disk-not-found', `Disk ${diskId} was not found`);
  if (sizeGiB === disk.sizeGiB) return;
  // disks.resize refuses anything but growth with a bare invalid: say it in the product's words first.
  if (sizeGiB < disk.sizeGiB) throw new UsageError(`Disk ${diskId} is ${disk.sizeGiB} GiB: a Persistent Disk never shrinks (asked for ${sizeGiB} GiB)`, { code: 'disk-shrink-refused' });
  await call(c, 'disks.resize', () => mutate(c, 'POST', `${p}/resize`, { body: { sizeGb: String(sizeGiB) }, requestId: requestIdFor(c.project, `resize/${diskId}/${sizeGiB}`) }));
}
