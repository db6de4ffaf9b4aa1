// Instances of the fake cloud: creation with its disks (by role), idempotency keys, states and
// their transitions, waits, health and the serial console.
import { CloudError, WaitTimeoutError } from '../../core/errors.js';
import type { LabelKey, Labels } from '../../core/labels.js';
import type { AttachedDisk, Instance, InstanceHealth, InstanceSpec, InstanceState } from '../port.js';
import { badInput, conflict, notFound } from './faults.js';
import { beginInstanceChange, refresh } from './progress.js';
import { checkedLabels, instanceView, type DiskRecord, type InstanceRecord, type World } from './world.js';

/** The role label each disk of a new instance carries (the instance's own labels name the instance). */
export const DISK_ROLE_LABELS = { root: 'root-volume', data: 'data-volume' } as const;

/** The instance labels its disks inherit: whose they are, never the instance's own role or state. */
const INHERITED_BY_DISKS: LabelKey[] = ['deployment', 'version', 'size', 'managed', 'operation', 'build', 'build-run'];

export function diskLabels(labels: Labels, role: keyof typeof DISK_ROLE_LABELS): Labels {
  const out: Labels = {};
  for (const key of INHERITED_BY_DISKS) if (labels[key] !== undefined) out[key] = labels[key];
  out.role = DISK_ROLE_LABELS[role];
  return out;
}

function requireZone(w: World, zone: string): number {
  const index = w.opts.zones.indexOf(zone);
  if (index < 0) throw new CloudError('zone-not-found', `Zone ${zone} is not a zone of ${w.opts.region}`);
  return index;
}

/** Everything the cloud would refuse about this spec (shared by the preflight and the create). */
function validate(w: World, spec: InstanceSpec): string {
  const zone = spec.placement.zone;
  requireZone(w, zone);
  if (!(w.opts.machineTypes[spec.machineType] ?? []).includes(zone)) {
    throw new CloudError('instance-type-unavailable', `${spec.machineType} is not offered in ${zone}`, {
      remediation: 'Choose a zone that offers it, or another machine type of the same size.',
    });
  }
  const subnet = spec.placement.subnetId
    ? w.subnets.get(spec.placement.subnetId)
    : [...w.subnets.values()].find((s) => s.zone === zone && s.isDefault);
  if (!subnet) throw badInput('subnet-not-found', `No subnet ${spec.placement.subnetId ?? `(default) in ${zone}`} in ${w.opts.region}`);
  if (subnet.zone !== zone) throw new CloudError('subnet-zone-mismatch', `Subnet ${subnet.id} is in ${subnet.zone}, not ${zone}`);
  const image = w.images.get(spec.imageId);
  if (!image || image.pending || image.failed) throw new CloudError('image-not-found', `Image ${spec.imageId} does not exist or is not available`);
  if (spec.dataTemplateId && !w.snapshots.has(spec.dataTemplateId)) throw notFound('data-template', spec.dataTemplateId);
  for (const id of spec.accessPolicyIds) if (!w.policies.has(id)) throw notFound('access-policy', id);
  if (w.opts.keepsSshKeys && spec.sshKey.mode !== 'none' && !w.sshKeys.has(spec.sshKey.name)) throw notFound('ssh-key', spec.sshKey.name);
  if (spec.rootDisk.sizeGiB <= 0) throw badInput('bad-disk-size', `The root disk of ${spec.deployment} needs a size`);
  const data = spec.dataDisk;
  if (data.mode === 'snapshot') {
    const snap = w.snapshots.get(data.snapshotId);
    if (!snap) throw notFound('snapshot', data.snapshotId);
    if (snap.pending || snap.failed) throw new CloudError('snapshot-not-ready', `Snapshot ${data.snapshotId} is not completed`);
    if (data.disk.sizeGiB < snap.sizeGiB) throw badInput('disk-too-small', `A disk from ${data.snapshotId} needs at least ${snap.sizeGiB} GiB`);
  }
  if (data.mode === 'existing' && w.opts.capabilities.attachExistingDiskAtCreate) {
    const disk = checkAttachable(w.disks.get(data.diskId), data.diskId, zone);
    if (disk.creating || disk.detaching) throw new CloudError('disk-not-ready', `Disk ${data.diskId} is not available yet`, { remediation: 'Wait until it is available.' });
  }
  checkedLabels(spec.labels);
  return subnet.id;
}

/** A disk may go to an instance in its own zone, and to one instance at a time. */
export function checkAttachable(disk: DiskRecord | undefined, diskId: string, zone: string, instanceId?: string): DiskRecord {
  if (!disk) throw notFound('disk', diskId);
  if (disk.zone !== zone) {
    throw new CloudError('disk-zone-mismatch', `Disk ${diskId} is in ${disk.zone}; it can only attach to an instance in that zone, not ${zone}`);
  }
  if (disk.attachedTo && disk.attachedTo !== instanceId) {
    throw conflict('disk-in-use', `Disk ${diskId} is attached to ${disk.attachedTo}`, `Stop ${disk.attachedTo} and detach the disk first.`);
  }
  if (disk.failed) throw new CloudError('disk-error', `Disk ${diskId} is in the error state`);
  return disk;
}

export function checkInstancePermissions(w: World, spec: InstanceSpec): void {
  if (!w.opts.capabilities.permissionPreflight) {
    throw new CloudError('capability-unavailable', 'This cloud cannot check launch permissions without launching (no permission preflight)');
  }
  validate(w, spec);
}

export function newDisk(w: World, zone: string, fields: Omit<DiskRecord, 'seq' | 'id' | 'zone' | 'initialized'> & { initialized?: boolean }): DiskRecord {
  const rec: DiskRecord = { seq: w.nextSeq(), id: w.newId('disk'), zone, initialized: false, ...fields };
  w.disks.set(rec.id, rec);
  return rec;
}

/** Finds what this idempotency key made (a terminated instance too, while visible), else creates it. */
export function ensureInstance(w: World, spec: InstanceSpec): Instance {
  const known = [...w.instances.values()].find((i) => i.idempotencyKey === spec.idempotencyKey);
  if (known) {
    if (known.machineType !== spec.machineType || known.imageId !== spec.imageId || known.zone !== spec.placement.zone) {
      throw new CloudError('idempotency-mismatch', `Idempotency key ${spec.idempotencyKey} was used for a different instance (${known.id})`);
    }
    // Even a terminated one, like EC2: the workflow moves on to its next attempt's key.
    return instanceView(w, known);
  }
  const subnetId = validate(w, spec);
  const zone = spec.placement.zone;
  const zoneIndex = requireZone(w, zone);
  const image = w.images.get(spec.imageId)!;
  const id = w.newId('inst');
  const encryption = spec.encryptionKeyId ? { keyId: spec.encryptionKeyId } : {};
  const attachments: AttachedDisk[] = [];

  const root = newDisk(w, zone, {
    ...spec.rootDisk,
    encrypted: true,
    ...encryption,
    ...(image.rootSnapshotId ? { sourceSnapshotId: image.rootSnapshotId } : {}),
    labels: diskLabels(spec.labels, 'root'),
    attachedTo: id,
  });
  attachments.push({ role: 'root', diskId: root.id, deleteWithInstance: true });

  const data = spec.dataDisk;
  const keep = { deleteWithInstance: !spec.keepDataDisk };
  if (data.mode === 'new') {
    // Where the image keeps its data disk apart, only the template the spec names fills it.
    const template = spec.dataTemplateId ?? (w.opts.separateDataTemplate ? undefined : image.dataSnapshotId);
    const disk = newDisk(w, zone, {
      ...data.disk,
      encrypted: true,
      ...encryption,
      ...(template ? { sourceSnapshotId: template } : {}),
      labels: diskLabels(spec.labels, 'data'),
      attachedTo: id,
    });
    attachments.push({ role: 'data', diskId: disk.id, ...keep });
  } else if (data.mode === 'snapshot') {
    const rate = data.initializationRateMiBps !== undefined && w.opts.capabilities.diskInitializationRate;
    const disk = newDisk(w, zone, {
      ...data.disk,
      encrypted: true,
      ...encryption,
      sourceSnapshotId: data.snapshotId,
      labels: diskLabels(spec.labels, 'data'),
      attachedTo: id,
      initialized: rate,
      ...(rate ? { initializing: w.start(w.opts.delays.diskInitialization) } : {}),
    });
    attachments.push({ role: 'data', diskId: disk.id, ...keep });
  } else if (data.mode === 'existing' && w.opts.capabilities.attachExistingDiskAtCreate) {
    const disk = w.disks.get(data.diskId)!;
    disk.attachedTo = id;
    attachments.push({ role: 'data', diskId: disk.id, deleteWithInstance: false });
  }

  const rec: InstanceRecord = {
    seq: w.nextSeq(),
    id,
    deployment: spec.deployment,
    role: spec.role,
    state: 'pending',
    machineType: spec.machineType,
    imageId: spec.imageId,
    zone,
    subnetId,
    networkId: w.subnets.get(subnetId)!.networkId,
    privateIp: w.nextIp(`10.0.${zoneIndex}`),
    launchTime: w.isoNow(),
    loginUser: spec.loginUser,
    accessPolicyIds: [...spec.accessPolicyIds],
    attachments,
    labels: checkedLabels(spec.labels),
    foreignLabels: { ...spec.foreignLabels },
    idempotencyKey: spec.idempotencyKey,
    bootGuard: !attachments.some((a) => a.role === 'data'),
    guardPowerOffs: 0,
    consoleCalls: 0,
    ...(spec.userDataBase64 !== undefined ? { userData: spec.userDataBase64 } : {}),
    ...(spec.publicIp === false ? { noPublicIp: true } : {}),
  };
  if (spec.sshKey.mode !== 'none') {
    if (w.opts.keepsSshKeys) rec.sshKeyName = spec.sshKey.name;
    else if (spec.sshKey.mode === 'import') rec.sshPublicKey = spec.sshKey.publicKey;
  }
  w.instances.set(id, rec);
  beginInstanceChange(w, rec, 'pending', w.opts.delays.instanceStart);
  return instanceView(w, rec);
}

export function describeInstance(w: World, id: string): Instance | undefined {
  refresh(w, id);
  const rec = w.instances.get(id);
  return rec ? instanceView(w, rec) : undefined;
}

export function instanceHealth(w: World, id: string): InstanceHealth {
  const rec = w.instances.get(id);
  if (!rec) return { overall: 'unknown', detail: 'no such instance' };
  if (rec.health) return { ...rec.health };
  if (!w.opts.capabilities.instanceHealthChecks) return { overall: 'not-applicable', detail: 'the cloud reports no health checks' };
  if (rec.state === 'running') return { overall: 'ok' };
  return rec.state === 'pending' ? { overall: 'initializing' } : { overall: 'not-applicable' };
}

export function consoleOutput(w: World, id: string): string {
  const rec = w.instances.get(id);
  if (!rec) return '';
  rec.consoleCalls += 1;
  if (typeof rec.console === 'function') return rec.console(rec.consoleCalls);
  if (rec.console !== undefined) return rec.console;
  return w.opts.consoleOutput?.(instanceView(w, rec), rec.consoleCalls) ?? '';
}

/** The instance, refused when it does not exist or is going away. */
export function live(w: World, id: string): InstanceRecord {
  const rec = w.instances.get(id);
  if (!rec) throw notFound('instance', id);
  if (rec.state === 'terminated' || rec.state === 'terminating') {
    throw new CloudError('instance-terminated', `Instance ${id} is ${rec.state}`, { details: { instanceId: id } });
  }
  return rec;
}

export function startInstance(w: World, id: string): void {
  const rec = live(w, id);
  if (rec.state === 'stopping') throw conflict('incorrect-state', `Instance ${id} is still stopping`, 'Wait until it is stopped, then start it.');
  if (rec.state === 'stopped') beginInstanceChange(w, rec, 'pending', w.opts.delays.instanceStart);
}

/** A pending instance stops once it has started; a stopping or stopped one is left as it is. */
export function stopInstance(w: World, id: string): void {
  const rec = live(w, id);
  if (rec.state === 'running' || rec.state === 'pending') beginInstanceChange(w, rec, 'stopping', w.opts.delays.instanceStop);
}

export function terminateInstance(w: World, id: string): void {
  const rec = w.instances.get(id);
  if (!rec || rec.state === 'terminated' || rec.state === 'terminating') return;
  beginInstanceChange(w, rec, 'terminating', w.opts.delays.instanceTerminate);
}

const GONE: InstanceState[] = ['terminating', 'terminated'];

export async function waitForInstanceState(w: World, id: string, state: InstanceState, timeoutMs: number): Promise<void> {
  const deadline = w.clock.now() + timeoutMs;
  for (;;) {
    refresh(w, id);
    const rec = w.instances.get(id);
    if (!rec) {
      // A terminated instance drops out of sight after a while: that is terminated too.
      if (state === 'terminated') return;
      throw notFound('instance', id);
    }
    if (rec.state === state) return;
    if (GONE.includes(rec.state) && !GONE.includes(state)) {
      throw new CloudError('instance-terminated', `Instance ${id} is ${rec.state} instead of ${state}`, {
        details: { instanceId: id },
        remediation: 'See why it was terminated; fix it and run the command again.',
      });
    }
    if (w.clock.now() >= deadline) {
      throw new WaitTimeoutError(`instance-${state}`, `Instance ${id} did not become ${state} in ${Math.round(timeoutMs / 1000)} s (last state: ${rec.state})`, {
        details: { instanceId: id, lastState: rec.state },
        remediation: 'Run the same command again to keep waiting.',
      });
    }
    await w.clock.sleep(w.opts.pollIntervalMs);
  }
}
