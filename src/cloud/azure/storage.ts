// Managed disks and snapshots: the data disk attaches at LUN 0 (AttachDetachDataDisks), snapshots
// are incremental and named by their operation (PUT by name is the idempotency key), and labels are
// tags written by GET → merge → PUT of the resource (ARM ignores the read-only members).
import { CloudError, UsageError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type { CloudRequest, Disk, DiskFromSnapshotSpec, DiskInitialization, DiskResizeState, Snapshot, SnapshotSpec } from '../port.js';
import { describeInstance } from './instances.js';
import type { Json } from './arm.js';
import { pollUntil, type AzureContext } from './context.js';
import { armCode } from './errors.js';
import { nameOf, sameId, tagName, toDisk, toSnapshot } from './mappers.js';
import { ensureResourceGroup, listTagged, where } from './network.js';
import { dataDiskBody, diskFromSnapshotName, ids, snapshotBody, snapshotName } from './request-builders.js';

const isDisk = (id: string) => /\/Microsoft\.Compute\/disks\/[^/]+$/i.test(id);
const isSnapshot = (id: string) => /\/Microsoft\.Compute\/snapshots\/[^/]+$/i.test(id);

export async function describeDisk(c: AzureContext, id: string): Promise<Disk | undefined> {
  if (!isDisk(id)) return undefined;
  const disk = await c.arm.get(id, 'Microsoft.Compute disks.get');
  return disk && toDisk(disk);
}

export async function attachDataDisk(c: AzureContext, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const vm = await c.arm.get(instanceId, 'Microsoft.Compute virtualMachines.get');
  if (!vm) throw new CloudError('instance-not-found', `The VM ${instanceId} does not exist`);
  const dataDisks = (vm.properties?.storageProfile?.dataDisks as Json[] | undefined) ?? [];
  if (dataDisks.some((d) => sameId(d.managedDisk?.id, diskId))) return;
  const disk = await c.arm.get(diskId, 'Microsoft.Compute disks.get');
  if (!disk) throw new CloudError('disk-not-found', `The disk ${diskId} does not exist`);
  if (disk.managedBy && !sameId(disk.managedBy, instanceId)) {
    throw new CloudError('disk-in-use', `The disk ${nameOf(diskId)} is attached to ${nameOf(disk.managedBy)}`, { remediation: 'Detach it there first.' });
  }
  const used = new Set(dataDisks.map((d) => d.lun as number));
  const lun = [...Array(64).keys()].find((n) => !used.has(n)) ?? 0;
  await c.arm.post(`${instanceId}/attachDetachDataDisks`, { dataDisksToAttach: [{ diskId, lun, deleteOption: 'Detach' }] }, 'Microsoft.Compute virtualMachines.attachDetachDataDisks');
  await pollUntil(c, timeoutMs, 'disk-attached', `${nameOf(diskId)} to attach`, async () => ((await describeDisk(c, diskId))?.state === 'in-use' ? true : undefined));
}

export async function detachDisk(c: AzureContext, diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const vm = await c.arm.get(instanceId, 'Microsoft.Compute virtualMachines.get');
  const attached = ((vm?.properties?.storageProfile?.dataDisks as Json[] | undefined) ?? []).some((d) => sameId(d.managedDisk?.id, diskId));
  if (!attached) return;
  await c.arm.post(`${instanceId}/attachDetachDataDisks`, { dataDisksToDetach: [{ diskId }] }, 'Microsoft.Compute virtualMachines.attachDetachDataDisks');
  await waitForDiskAvailable(c, diskId, timeoutMs);
}

export async function waitForDiskAvailable(c: AzureContext, diskId: string, timeoutMs: number): Promise<void> {
  await pollUntil(c, timeoutMs, 'disk-available', `${nameOf(diskId)} to be available`, async () => {
    const d = await describeDisk(c, diskId);
    if (!d) throw new CloudError('disk-not-found', `The disk ${diskId} does not exist`);
    return d.state === 'available' ? true : undefined;
  });
}

export async function deleteDisk(c: AzureContext, diskId: string): Promise<void> {
  if (!isDisk(diskId)) return;
  const disk = await c.arm.get(diskId, 'Microsoft.Compute disks.get');
  if (!disk) return;
  if (disk.managedBy) throw new CloudError('disk-in-use', `The disk ${nameOf(diskId)} is attached to ${nameOf(disk.managedBy)}; it is not deleted`, { remediation: 'Detach it first.' });
  await c.arm.delete(diskId, 'Microsoft.Compute disks.delete');
}

export async function createDiskFromSnapshot(c: AzureContext, spec: DiskFromSnapshotSpec): Promise<Disk> {
  await ensureResourceGroup(c);
  const id = ids.disk(where(c), diskFromSnapshotName(spec.idempotencyKey));
  const existing = await c.arm.get(id, 'Microsoft.Compute disks.get');
  const disk = existing ?? (await c.arm.put(id, dataDiskBody(where(c), spec.zone, spec.disk, { ...spec.labels, deployment: spec.deployment }, spec.snapshotId), 'Microsoft.Compute disks.createOrUpdate'));
  return toDisk(disk);
}

export async function diskInitialization(): Promise<DiskInitialization> {
  // Azure disks from snapshots hydrate in the background with no rate to ask for (capabilities.diskInitializationRate is false).
  return { state: 'unknown' };
}

export async function createSnapshot(c: AzureContext, spec: SnapshotSpec): Promise<Snapshot> {
  await ensureResourceGroup(c);
  const id = ids.snapshot(where(c), snapshotName(spec.deployment, spec.operation, spec.diskId, spec.labels.purpose));
  const existing = await c.arm.get(id, 'Microsoft.Compute snapshots.get');
  if (existing) return toSnapshot(existing);
  const made = await c.arm.put(id, snapshotBody(where(c), spec.diskId, { ...spec.labels, deployment: spec.deployment }, spec.description), 'Microsoft.Compute snapshots.createOrUpdate');
  return toSnapshot(made);
}

export async function describeSnapshot(c: AzureContext, id: string): Promise<Snapshot | undefined> {
  if (!isSnapshot(id)) return undefined;
  const s = await c.arm.get(id, 'Microsoft.Compute snapshots.get');
  return s && toSnapshot(s);
}

export async function waitForSnapshot(c: AzureContext, id: string, timeoutMs: number): Promise<Snapshot> {
  return pollUntil(c, timeoutMs, 'snapshot', `snapshot ${nameOf(id)} to complete`, async () => {
    const s = await describeSnapshot(c, id);
    if (!s) throw new CloudError('snapshot-not-found', `The snapshot ${id} does not exist`);
    if (s.state === 'error') throw new CloudError('snapshot-failed', `The snapshot ${nameOf(id)} failed`);
    return s.state === 'completed' ? s : undefined;
  });
}

export async function listSnapshots(c: AzureContext, deployment: string): Promise<Snapshot[]> {
  const tagged = await listTagged(c, 'Microsoft.Compute/snapshots', 'deployment', deployment);
  const all = await Promise.all(tagged.map((r) => describeSnapshot(c, r.id)));
  return all
    .filter((s): s is Snapshot => s !== undefined && s.labels.role !== 'image-data')
    .sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? '') || a.id.localeCompare(b.id));
}

export async function deleteSnapshot(c: AzureContext, id: string): Promise<void> {
  if (!isSnapshot(id)) return;
  await c.arm.delete(id, 'Microsoft.Compute snapshots.delete');
}

/** GET → change the tags → PUT the resource back (read-only members are ignored by ARM). */
export async function retag(c: AzureContext, id: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<void> {
  const op = `${id.split('/providers/')[1]?.split('/').slice(0, 2).join(' ') ?? 'resource'}.createOrUpdate`;
  const current = await c.arm.get(id, op.replace('.createOrUpdate', '.get'));
  if (!current) throw new CloudError('not-found', `${id} does not exist; its labels cannot change`);
  const { id: _id, name: _name, type: _type, etag: _etag, managedBy: _managedBy, ...body } = current;
  const props = { ...(body.properties ?? {}) } as Json;
  // Members a VM GET answers that a PUT must not send back.
  delete props.instanceView;
  delete props.vmId;
  try {
    await c.arm.put(id, { ...body, properties: props, tags: change({ ...(current.tags ?? {}) }) }, op);
  } catch (e) {
    if (armCode(e) === 'AnotherOperationInProgress') {
      await c.sleep(c.pollIntervalMs);
      return retag(c, id, change);
    }
    throw e;
  }
}

export async function setLabels(c: AzureContext, resourceIds: string[], labels: Labels): Promise<void> {
  const add = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== undefined).map(([k, v]) => [tagName(k as keyof Labels), v as string]));
  for (const id of resourceIds) await retag(c, id, (tags) => ({ ...tags, ...add }));
}

export async function removeLabels(c: AzureContext, resourceIds: string[], keys: (keyof Labels)[]): Promise<void> {
  if (!keys.length) return;
  const names = new Set(keys.map((k) => tagName(k).toLowerCase()));
  for (const id of resourceIds) await retag(c, id, (tags) => Object.fromEntries(Object.entries(tags).filter(([k]) => !names.has(k.toLowerCase()))));
}

// ---- growing a disk (disk grow) ----

/**
 * Azure grows an attached Standard HDD, Standard SSD or Premium SSD disk without downtime unless the
 * change takes it from 4 TiB or less to more than 4 TiB: that needs the VM deallocated. Premium SSD
 * v2 and Ultra disks grow online at any size.
 */
const ONLINE_LIMIT_GIB = 4095;
const ALWAYS_ONLINE = /^(PremiumV2_LRS|UltraSSD_LRS)$/i;

async function needsStop(c: AzureContext, disk: Disk, targetSizeGiB: number): Promise<boolean> {
  if (!disk.attachedTo || ALWAYS_ONLINE.test(disk.type)) return false;
  if (!(disk.sizeGiB <= ONLINE_LIMIT_GIB && targetSizeGiB > ONLINE_LIMIT_GIB)) return false;
  const vm = await describeInstance(c, disk.attachedTo);
  return vm !== undefined && vm.state !== 'stopped' && vm.state !== 'terminated';
}

export async function diskResizeState(c: AzureContext, diskId: string, targetSizeGiB?: number): Promise<DiskResizeState> {
  const disk = await describeDisk(c, diskId);
  if (!disk) throw new CloudError('disk-not-found', `The disk ${diskId} does not exist`);
  return { sizeGiB: disk.sizeGiB, ...(targetSizeGiB !== undefined && (await needsStop(c, disk, targetSizeGiB)) ? { needsStop: true } : {}) };
}

/** The one request resizeDisk sends (disk grow --dry-run shows it; a stop the size needs is disk grow's, around it). */
export function resizeRequests(diskId: string, sizeGiB: number): CloudRequest[] {
  return [{ service: 'Microsoft.Compute', operation: 'disks.update', input: { id: diskId, body: { properties: { diskSizeGB: sizeGiB } } } }];
}

export async function resizeDisk(c: AzureContext, diskId: string, sizeGiB: number): Promise<void> {
  const disk = await describeDisk(c, diskId);
  if (!disk) throw new CloudError('disk-not-found', `The disk ${diskId} does not exist`);
  if (sizeGiB === disk.sizeGiB) return;
  if (sizeGiB < disk.sizeGiB) throw new UsageError(`The disk ${nameOf(diskId)} is ${disk.sizeGiB} GiB: a managed disk never shrinks (asked for ${sizeGiB} GiB)`, { code: 'disk-shrink-refused' });
  if (await needsStop(c, disk, sizeGiB)) {
    throw new CloudError('disk-resize-needs-stop', `The disk ${nameOf(diskId)} grows beyond ${ONLINE_LIMIT_GIB} GiB only while its VM is deallocated`, { remediation: 'Deallocate the VM first (disk grow asks and does it).' });
  }
  await c.arm.patch(diskId, { properties: { diskSizeGB: sizeGiB } }, 'Microsoft.Compute disks.update');
}
