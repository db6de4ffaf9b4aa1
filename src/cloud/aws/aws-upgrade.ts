// The AWS side of upgrade, rollback, backup and restore: snapshots, stop/start, volume moves,
// RunInstances "like the old instance" with the data volume created from a snapshot, and Data
// Lifecycle Manager schedules. Functions over the narrow clients of sdk.ts (types only here, so the
// SDK still loads lazily); AwsCloud delegates to them.
//
// Idempotency: every create carries TAG_OPERATION (the upgrade/rollback run and hop), and looks for
// a resource with that tag first, so a re-run after a crash finds what the crashed run made.
import { CloudError, UsageError, WaitTimeoutError } from '../../core/errors.js';
import {
  TAG_DEPLOYMENT,
  TAG_MANAGED,
  TAG_OPERATION,
  TAG_PURPOSE,
  TAG_ROLE,
  TAG_SIZE,
  TAG_SOURCE_VERSION,
  TAG_VERSION,
  type AddressInfo,
  type CloudRequest,
  type InstanceDetails,
  type InstanceInfo,
  type SnapshotInfo,
  type SnapshotLaunchSpec,
  type SnapshotScheduleInfo,
  type SnapshotScheduleSpec,
  type SnapshotSpec,
  type SnapshotVolumeSpec,
  type Tags,
  type VolumeFromSnapshotSpec,
  type VolumeInfo,
  type VolumeInitialization,
} from '../cloud.js';
import { awsErrorCode, isAwsErrorCode, isNotFoundError, toLaunchError } from './errors.js';
import { tagFilter, tagList, tagsOf } from './convert.js';
import { attemptToken, BOOT_GUARD_USER_DATA } from './requests.js';
import type { DlmApi, DlmPolicy, Ec2Api, Ec2Filter, Ec2Instance, Ec2InstanceType, Ec2Snapshot } from './sdk.js';

export interface UpgradeClients {
  ec2: Ec2Api;
  dlm?: DlmApi;
  region: string;
  profile: string;
  pollIntervalMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** Maps EC2 shapes to ours (shared with AwsCloud so both read instances and volumes alike). */
  toInstanceInfo(instance: Ec2Instance): InstanceInfo;
  toVolumeInfo(volume: NonNullable<Awaited<ReturnType<Ec2Api['describeVolumes']>>['Volumes']>[number]): VolumeInfo;
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
/** Errors meaning "this EC2 API (or region) does not know that parameter": retried without it. */
const UNKNOWN_PARAMETER_CODES = ['InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination', 'UnknownParameter'];

async function call<T>(c: UpgradeClients, operation: string, send: () => Promise<T>, service: 'ec2' = 'ec2'): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, service, profile: c.profile, region: c.region });
  }
}




export function toSnapshotInfo(s: Ec2Snapshot): SnapshotInfo {
  const info: SnapshotInfo = {
    id: s.SnapshotId ?? '',
    state: s.State ?? '',
    sizeGiB: s.VolumeSize ?? 0,
    encrypted: s.Encrypted ?? false,
    tags: tagsOf(s.Tags),
  };
  if (s.VolumeId) info.volumeId = s.VolumeId;
  if (s.Progress) info.progress = s.Progress;
  if (s.StartTime) info.startTime = new Date(s.StartTime).toISOString();
  if (s.KmsKeyId) info.kmsKeyId = s.KmsKeyId;
  if (s.Description) info.description = s.Description;
  return info;
}

// ---- pure request builders (also what --dry-run prints) ----

export function snapshotTags(spec: SnapshotSpec): Tags {
  return {
    [TAG_DEPLOYMENT]: spec.deployment,
    [TAG_ROLE]: 'snapshot',
    [TAG_PURPOSE]: spec.purpose,
    [TAG_SOURCE_VERSION]: spec.version,
    [TAG_VERSION]: spec.version,
    ...(spec.size ? { [TAG_SIZE]: spec.size } : {}),
    [TAG_MANAGED]: 'true',
    [TAG_OPERATION]: spec.operation,
    Name: `${spec.deployment}-${spec.purpose}-${spec.version}`,
  };
}

export function createSnapshotRequest(spec: SnapshotSpec) {
  return {
    VolumeId: spec.volumeId,
    Description: spec.description,
    TagSpecifications: [{ ResourceType: 'snapshot' as const, Tags: tagList(snapshotTags(spec)) }],
  };
}

function dataVolumeTags(spec: { deployment: string; version: string; size?: string; operation: string }): Tags {
  return {
    [TAG_DEPLOYMENT]: spec.deployment,
    [TAG_ROLE]: 'data-volume',
    [TAG_VERSION]: spec.version,
    ...(spec.size ? { [TAG_SIZE]: spec.size } : {}),
    [TAG_MANAGED]: 'true',
    [TAG_OPERATION]: spec.operation,
    Name: `${spec.deployment}-data`,
  };
}

function snapshotEbs(volume: SnapshotVolumeSpec, withRate: boolean) {
  return {
    SnapshotId: volume.snapshotId,
    VolumeSize: volume.sizeGiB,
    VolumeType: volume.type as 'gp3',
    ...(volume.iops !== undefined && volume.type !== 'gp2' && volume.type !== 'st1' && volume.type !== 'sc1' ? { Iops: volume.iops } : {}),
    ...(volume.throughput !== undefined && volume.type === 'gp3' ? { Throughput: volume.throughput } : {}),
    DeleteOnTermination: false,
    Encrypted: true,
    ...(volume.kmsKeyId ? { KmsKeyId: volume.kmsKeyId } : {}),
    ...(withRate && volume.initializationRateMiBps ? { VolumeInitializationRate: volume.initializationRateMiBps } : {}),
  };
}

export function createVolumeRequest(spec: VolumeFromSnapshotSpec, withRate = true) {
  const { DeleteOnTermination: _keep, ...ebs } = snapshotEbs(spec.volume, withRate);
  return {
    AvailabilityZone: spec.availabilityZone,
    ...ebs,
    Size: ebs.VolumeSize,
    ClientToken: spec.clientToken,
    TagSpecifications: [{ ResourceType: 'volume' as const, Tags: tagList(dataVolumeTags(spec)) }],
  };
}

/** Tags an instance inherits from the one it replaces: the user's own, never AWS's or our bookkeeping. */
function inheritedTags(tags: Tags): Tags {
  const out: Tags = {};
  for (const [k, v] of Object.entries(tags)) {
    if (k.startsWith('aws:') || k.startsWith('sourcegraph-launch:')) continue;
    out[k] = v;
  }
  return out;
}

export function snapshotRunInstancesRequest(spec: SnapshotLaunchSpec, withRate = true) {
  const instanceTags: Tags = {
    Name: spec.deployment,
    ...inheritedTags(spec.tags),
    [TAG_DEPLOYMENT]: spec.deployment,
    [TAG_ROLE]: 'instance',
    [TAG_VERSION]: spec.version,
    ...(spec.size ? { [TAG_SIZE]: spec.size } : {}),
    [TAG_MANAGED]: 'true',
    [TAG_OPERATION]: spec.operation,
  };
  const root = {
    DeviceName: spec.rootVolume.device,
    Ebs: {
      VolumeSize: spec.rootVolume.sizeGiB,
      VolumeType: spec.rootVolume.type as 'gp3',
      DeleteOnTermination: true,
      Encrypted: true,
      ...(spec.rootVolume.kmsKeyId ? { KmsKeyId: spec.rootVolume.kmsKeyId } : {}),
    },
  };
  const data =
    spec.data.mode === 'snapshot'
      ? { DeviceName: spec.dataDevice, Ebs: snapshotEbs(spec.data.volume, withRate) }
      : // The image's own /dev/sdb mapping would make an empty data volume: suppress it.
        { DeviceName: spec.dataDevice, NoDevice: '' };
  return {
    ImageId: spec.imageId,
    InstanceType: spec.instanceType,
    MinCount: 1,
    MaxCount: 1,
    SubnetId: spec.subnetId,
    SecurityGroupIds: spec.securityGroupIds,
    ...(spec.keyName ? { KeyName: spec.keyName } : {}),
    ...(spec.iamInstanceProfileArn ? { IamInstanceProfile: { Arn: spec.iamInstanceProfileArn } } : {}),
    ClientToken: spec.clientToken,
    MetadataOptions: { HttpTokens: 'required' as const, HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' as const },
    BlockDeviceMappings: [root, data],
    // move: the instance starts without its data disk; the boot guard powers it off until it has one.
    ...(spec.userData || spec.data.mode === 'none' ? { UserData: Buffer.from(spec.userData ?? BOOT_GUARD_USER_DATA, 'utf8').toString('base64') } : {}),
    TagSpecifications: [
      { ResourceType: 'instance' as const, Tags: tagList(instanceTags) },
      // Both volumes get this set; each is marked by its device once the instance lists them.
      { ResourceType: 'volume' as const, Tags: tagList({ ...dataVolumeTags(spec), [TAG_ROLE]: 'instance-volume', Name: spec.deployment }) },
    ],
  };
}

export function snapshotLaunchRequests(spec: SnapshotLaunchSpec): CloudRequest[] {
  return [{ service: 'ec2', operation: 'RunInstances', input: { ...snapshotRunInstancesRequest(spec) } }];
}

// ---- snapshots ----

async function describeSnapshotsWhere(c: UpgradeClients, filters: Ec2Filter[]): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  let token: string | undefined;
  do {
    const page = await call(c, 'DescribeSnapshots', () =>
      c.ec2.describeSnapshots({ OwnerIds: ['self'], Filters: filters, ...(token ? { NextToken: token } : {}) }),
    );
    out.push(...(page.Snapshots ?? []).map(toSnapshotInfo));
    token = page.NextToken || undefined;
  } while (token);
  return out;
}

export async function describeSnapshot(c: UpgradeClients, snapshotId: string): Promise<SnapshotInfo | undefined> {
  try {
    const out = await c.ec2.describeSnapshots({ SnapshotIds: [snapshotId] });
    const s = out.Snapshots?.[0];
    return s ? toSnapshotInfo(s) : undefined;
  } catch (err) {
    if (isNotFoundError(err) || isAwsErrorCode(err, 'InvalidSnapshot.NotFound', 'InvalidSnapshotID.Malformed')) return undefined;
    throw toLaunchError(err, { operation: 'DescribeSnapshots', profile: c.profile, region: c.region });
  }
}

export async function createSnapshot(c: UpgradeClients, spec: SnapshotSpec): Promise<SnapshotInfo> {
  const existing = (
    await describeSnapshotsWhere(c, [
      tagFilter(TAG_OPERATION, [spec.operation]),
      tagFilter(TAG_PURPOSE, [spec.purpose]),
      { Name: 'volume-id', Values: [spec.volumeId] },
    ])
  ).find((s) => s.state !== 'error');
  if (existing) return existing;
  const out = await call(c, 'CreateSnapshot', () => c.ec2.createSnapshot(createSnapshotRequest(spec)));
  if (!out.SnapshotId) throw new CloudError('create-snapshot-empty', 'CreateSnapshot returned no snapshot id');
  return toSnapshotInfo(out);
}

export async function waitForSnapshot(c: UpgradeClients, snapshotId: string, timeoutMs: number): Promise<SnapshotInfo> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const snapshot = await describeSnapshot(c, snapshotId);
    if (!snapshot) throw new CloudError('snapshot-not-found', `Snapshot ${snapshotId} does not exist in ${c.region}`);
    if (snapshot.state === 'completed') return snapshot;
    if (snapshot.state === 'error') {
      throw new CloudError('snapshot-error', `Snapshot ${snapshotId} failed (state error)`, {
        remediation: 'Run the same command again: it takes a new snapshot. Nothing was changed on the instance.',
      });
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

export async function listSnapshots(c: UpgradeClients, deployment: string): Promise<SnapshotInfo[]> {
  const all = await describeSnapshotsWhere(c, [tagFilter(TAG_DEPLOYMENT, [deployment])]);
  return all.sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? '') || a.id.localeCompare(b.id));
}

export async function deleteSnapshot(c: UpgradeClients, snapshotId: string): Promise<void> {
  try {
    await c.ec2.deleteSnapshot({ SnapshotId: snapshotId });
  } catch (err) {
    if (isNotFoundError(err) || isAwsErrorCode(err, 'InvalidSnapshot.NotFound')) return;
    throw toLaunchError(err, { operation: 'DeleteSnapshot', profile: c.profile, region: c.region });
  }
}

// ---- instances and volumes ----

export async function describeInstanceDetails(c: UpgradeClients, instanceId: string): Promise<InstanceDetails | undefined> {
  let out;
  try {
    out = await c.ec2.describeInstances({ InstanceIds: [instanceId] });
  } catch (err) {
    if (isNotFoundError(err)) return undefined;
    throw toLaunchError(err, { operation: 'DescribeInstances', profile: c.profile, region: c.region });
  }
  const raw = out.Reservations?.[0]?.Instances?.[0];
  if (!raw) return undefined;
  const details: InstanceDetails = c.toInstanceInfo(raw);
  if (raw.IamInstanceProfile?.Arn) details.iamInstanceProfileArn = raw.IamInstanceProfile.Arn;
  if (raw.RootDeviceName) details.rootDeviceName = raw.RootDeviceName;
  return details;
}

export async function describeVolume(c: UpgradeClients, volumeId: string): Promise<VolumeInfo | undefined> {
  try {
    const out = await c.ec2.describeVolumes({ VolumeIds: [volumeId] });
    const v = out.Volumes?.[0];
    return v ? c.toVolumeInfo(v) : undefined;
  } catch (err) {
    if (isNotFoundError(err)) return undefined;
    throw toLaunchError(err, { operation: 'DescribeVolumes', profile: c.profile, region: c.region });
  }
}

export async function stopInstance(c: UpgradeClients, instanceId: string): Promise<void> {
  await call(c, 'StopInstances', () => c.ec2.stopInstances({ InstanceIds: [instanceId] }));
}

export async function startInstance(c: UpgradeClients, instanceId: string): Promise<void> {
  await call(c, 'StartInstances', () => c.ec2.startInstances({ InstanceIds: [instanceId] }));
}

async function waitForVolume(
  c: UpgradeClients,
  volumeId: string,
  done: (v: VolumeInfo) => boolean,
  what: string,
  timeoutMs: number,
): Promise<VolumeInfo> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const volume = await describeVolume(c, volumeId);
    if (!volume) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
    if (done(volume)) return volume;
    if (volume.state === 'error') throw new CloudError('volume-error', `Volume ${volumeId} is in the error state`);
    if (c.now() >= deadline) {
      throw new WaitTimeoutError(`volume-${what}`, `Volume ${volumeId} did not become ${what} in ${Math.round(timeoutMs / 1000)} s (state ${volume.state})`, {
        details: { volumeId, state: volume.state },
        remediation: 'Run the same command again to keep waiting.',
      });
    }
    await c.sleep(c.pollIntervalMs);
  }
}

export async function attachVolume(c: UpgradeClients, volumeId: string, instanceId: string, device: string, timeoutMs: number): Promise<void> {
  const volume = await describeVolume(c, volumeId);
  if (!volume) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
  if (volume.attachedTo && volume.attachedTo !== instanceId) {
    // Never take a data volume from another instance: two instances must not share one volume's data.
    throw new CloudError('volume-in-use', `Volume ${volumeId} is attached to ${volume.attachedTo}, not ${instanceId}`, {
      remediation: `Stop ${volume.attachedTo} and detach the volume first, or run the same command again if an earlier step is still detaching it.`,
    });
  }
  if (!volume.attachedTo) {
    await call(c, 'AttachVolume', () => c.ec2.attachVolume({ VolumeId: volumeId, InstanceId: instanceId, Device: device }));
  }
  await waitForVolume(c, volumeId, (v) => v.attachedTo === instanceId && v.state === 'in-use', 'attached', timeoutMs);
}

export async function detachVolume(c: UpgradeClients, volumeId: string, instanceId: string, timeoutMs: number): Promise<void> {
  const volume = await describeVolume(c, volumeId);
  if (!volume) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${c.region}`);
  if (volume.attachedTo === instanceId) {
    await call(c, 'DetachVolume', () => c.ec2.detachVolume({ VolumeId: volumeId, InstanceId: instanceId }));
  } else if (volume.attachedTo) {
    return; // Already moved on to another instance: not ours to detach from there.
  }
  await waitForVolume(c, volumeId, (v) => v.state === 'available' || (v.attachedTo !== undefined && v.attachedTo !== instanceId), 'available', timeoutMs);
}

async function describeVolumesWhere(c: UpgradeClients, filters: Ec2Filter[]): Promise<VolumeInfo[]> {
  const out = await call(c, 'DescribeVolumes', () => c.ec2.describeVolumes({ Filters: filters }));
  return (out.Volumes ?? []).map((v) => c.toVolumeInfo(v));
}

/** Sends a create once with the volume initialisation rate; a region that refuses it gets the request without. */
async function withOptionalRate<T>(hasRate: boolean, send: (withRate: boolean) => Promise<T>): Promise<T> {
  try {
    return await send(true);
  } catch (err) {
    if (!hasRate || !UNKNOWN_PARAMETER_CODES.includes(awsErrorCode(err) ?? '')) throw err;
    return send(false);
  }
}

export async function createVolumeFromSnapshot(c: UpgradeClients, spec: VolumeFromSnapshotSpec): Promise<VolumeInfo> {
  const existing = (await describeVolumesWhere(c, [tagFilter(TAG_OPERATION, [spec.operation]), tagFilter(TAG_ROLE, ['data-volume'])])).find(
    (v) => v.state !== 'deleting' && v.state !== 'deleted' && v.state !== 'error',
  );
  if (existing) return existing;
  const out = await withOptionalRate(spec.volume.initializationRateMiBps !== undefined, (withRate) =>
    c.ec2.createVolume(createVolumeRequest(spec, withRate) as Parameters<Ec2Api['createVolume']>[0]),
  ).catch((err: unknown) => {
    throw toLaunchError(err, { operation: 'CreateVolume', profile: c.profile, region: c.region });
  });
  if (!out.VolumeId) throw new CloudError('create-volume-empty', 'CreateVolume returned no volume id');
  return c.toVolumeInfo(out);
}

async function findInstanceByOperation(c: UpgradeClients, deployment: string, operation: string): Promise<InstanceInfo | undefined> {
  const out = await call(c, 'DescribeInstances', () =>
    c.ec2.describeInstances({
      Filters: [tagFilter(TAG_DEPLOYMENT, [deployment]), tagFilter(TAG_OPERATION, [operation]), { Name: 'instance-state-name', Values: LIVE_STATES }],
    }),
  );
  const found = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => c.toInstanceInfo(i));
  return found[0];
}

function sdkRunInstances(request: ReturnType<typeof snapshotRunInstancesRequest>) {
  return { ...request, InstanceType: request.InstanceType as Ec2InstanceType };
}

export async function launchInstanceFromSnapshot(c: UpgradeClients, spec: SnapshotLaunchSpec): Promise<InstanceInfo> {
  let instance = await findInstanceByOperation(c, spec.deployment, spec.operation);
  const hasRate = spec.data.mode === 'snapshot' && spec.data.volume.initializationRateMiBps !== undefined;
  // A hop whose instance was terminated (by hand, or by AWS) gets the next attempt's token: EC2
  // would answer the old one with the dead instance for a day.
  for (let attempt = 1; !instance && attempt <= 5; attempt++) {
    const token = attemptToken(spec.clientToken, attempt);
    const out = await withOptionalRate(hasRate, (withRate) => c.ec2.runInstances(sdkRunInstances({ ...snapshotRunInstancesRequest(spec, withRate), ClientToken: token }))).catch((err: unknown) => {
      throw toLaunchError(err, { operation: 'RunInstances', profile: c.profile, region: c.region, instanceType: spec.instanceType });
    });
    const launched = out.Instances?.[0];
    if (!launched?.InstanceId) throw new CloudError('run-instances-empty', 'RunInstances returned no instance');
    if (LIVE_STATES.includes(launched.State?.Name ?? 'pending')) instance = c.toInstanceInfo(launched);
  }
  if (!instance) throw new CloudError('launch-attempts-exhausted', `Every launch attempt of ${spec.deployment}'s ${spec.version} instance ended terminated`);
  return tagRootVolume(c, spec, instance);
}

/** RunInstances tags both volumes instance-volume; each gets its role by its device once the instance lists it. */
async function tagRootVolume(c: UpgradeClients, spec: SnapshotLaunchSpec, initial: InstanceInfo): Promise<InstanceInfo> {
  const deadline = c.now() + 60_000;
  let instance = initial;
  const devices = [spec.rootVolume.device, ...(spec.data.mode === 'snapshot' ? [spec.dataDevice] : [])];
  // Tags what is visible by the deadline; a volume still unmarked keeps instance-volume (kept as data).
  while (!devices.every((d) => instance.volumes.some((v) => v.device === d)) && c.now() < deadline) {
    await c.sleep(c.pollIntervalMs);
    instance = (await describeInstanceDetails(c, initial.id)) ?? instance;
  }
  const root = instance.volumes.find((v) => v.device === spec.rootVolume.device);
  if (root) await tagResources(c, [root.volumeId], { [TAG_ROLE]: 'root-volume', Name: `${spec.deployment}-root` });
  const data = spec.data.mode === 'snapshot' ? instance.volumes.find((v) => v.device === spec.dataDevice) : undefined;
  if (data) await tagResources(c, [data.volumeId], { [TAG_ROLE]: 'data-volume', Name: `${spec.deployment}-data` });
  return instance;
}

export async function checkSnapshotLaunchPermissions(c: UpgradeClients, spec: SnapshotLaunchSpec): Promise<void> {
  const { ClientToken: _token, ...input } = snapshotRunInstancesRequest(spec);
  try {
    await c.ec2.runInstances({ ...input, InstanceType: input.InstanceType as Ec2InstanceType, DryRun: true });
  } catch (err) {
    if (isAwsErrorCode(err, 'DryRunOperation')) return;
    // A region without the initialisation rate refuses the parameter, not the launch.
    if (UNKNOWN_PARAMETER_CODES.includes(awsErrorCode(err) ?? '') && spec.data.mode === 'snapshot' && spec.data.volume.initializationRateMiBps) {
      return checkSnapshotLaunchPermissions(c, { ...spec, data: { mode: 'snapshot', volume: { ...spec.data.volume, initializationRateMiBps: undefined } } });
    }
    throw toLaunchError(err, { operation: 'RunInstances', profile: c.profile, region: c.region, instanceType: spec.instanceType });
  }
}

export async function tagResources(c: UpgradeClients, resourceIds: string[], tags: Tags): Promise<void> {
  if (!resourceIds.length || !Object.keys(tags).length) return;
  await call(c, 'CreateTags', () => c.ec2.createTags({ Resources: resourceIds, Tags: tagList(tags) }));
}

export async function untagResources(c: UpgradeClients, resourceIds: string[], keys: string[]): Promise<void> {
  if (!resourceIds.length || !keys.length) return;
  await call(c, 'DeleteTags', () => c.ec2.deleteTags({ Resources: resourceIds, Tags: keys.map((Key) => ({ Key })) }));
}

export async function associateAddress(c: UpgradeClients, allocationId: string, instanceId: string): Promise<AddressInfo | undefined> {
  const describe = async () => {
    const out = await call(c, 'DescribeAddresses', () => c.ec2.describeAddresses({ AllocationIds: [allocationId] }));
    return out.Addresses?.[0];
  };
  const address = await describe();
  if (!address) throw new UsageError(`Elastic IP ${allocationId} does not exist in ${c.region}`, { code: 'address-not-found' });
  if (address.InstanceId !== instanceId) {
    if (address.InstanceId) {
      // Only from an instance of the same deployment: anything else is someone else's service.
      const [holder, target] = await Promise.all([describeInstanceDetails(c, address.InstanceId), describeInstanceDetails(c, instanceId)]);
      const sameDeployment = holder && target && holder.tags[TAG_DEPLOYMENT] === target.tags[TAG_DEPLOYMENT];
      if (holder && holder.state !== 'terminated' && !sameDeployment) {
        throw new CloudError('address-in-use', `Elastic IP ${address.PublicIp} is associated with ${address.InstanceId}, which belongs to another deployment`);
      }
    }
    await call(c, 'AssociateAddress', () => c.ec2.associateAddress({ AllocationId: allocationId, InstanceId: instanceId, AllowReassociation: true }));
  }
  const after = (await describe()) ?? address;
  const info: AddressInfo = {
    allocationId,
    publicIp: after.PublicIp ?? '',
    tags: tagsOf(after.Tags),
    managed: tagsOf(after.Tags)[TAG_MANAGED] === 'true',
  };
  if (after.AssociationId) info.associationId = after.AssociationId;
  if (after.InstanceId) info.instanceId = after.InstanceId;
  return info;
}

export async function describeVolumeInitialization(c: UpgradeClients, volumeId: string): Promise<VolumeInitialization> {
  const out = await call(c, 'DescribeVolumeStatus', () => c.ec2.describeVolumeStatus({ VolumeIds: [volumeId] }));
  const status = out.VolumeStatuses?.[0];
  const details = status?.InitializationStatusDetails;
  const state = status?.VolumeStatus?.Details?.find((d) => d.Name === 'initialization-state')?.Status;
  const result: VolumeInitialization = { state: 'unknown' };
  if (details?.InitializationType) result.type = details.InitializationType;
  if (details?.Progress !== undefined) result.progressPercent = details.Progress;
  if (details?.EstimatedTimeToCompleteInSeconds !== undefined) result.etaSeconds = details.EstimatedTimeToCompleteInSeconds;
  if (state === 'completed' || details?.Progress === 100) result.state = 'completed';
  else if (state === 'initializing' || details !== undefined) result.state = 'initializing';
  return result;
}

// ---- Data Lifecycle Manager ----

function requireDlm(c: UpgradeClients): DlmApi {
  if (!c.dlm) throw new CloudError('dlm-unavailable', 'Data Lifecycle Manager is not available in this adapter');
  return c.dlm;
}

async function callDlm<T>(c: UpgradeClients, operation: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, service: 'dlm', profile: c.profile, region: c.region });
  }
}

/** DLM targets volumes by one tag: the Name launch gives the data volume (`<name>-data`). */
export function snapshotScheduleTargetTag(deployment: string): { Key: string; Value: string } {
  return { Key: 'Name', Value: `${deployment}-data` };
}

export function snapshotSchedulePolicy(spec: SnapshotScheduleSpec) {
  return {
    ExecutionRoleArn: spec.executionRoleArn,
    Description: `sourcegraph-launch ${spec.deployment} daily data snapshots`,
    State: 'ENABLED' as const,
    PolicyDetails: {
      PolicyType: 'EBS_SNAPSHOT_MANAGEMENT' as const,
      ResourceTypes: ['VOLUME' as const],
      TargetTags: [snapshotScheduleTargetTag(spec.deployment)],
      Schedules: [
        {
          Name: 'daily',
          // The volume's tags travel with each snapshot, its version tag among them: that is what
          // makes a scheduled snapshot restorable (`restore` reads the version of the data from it).
          CopyTags: true,
          CreateRule: { Interval: 24, IntervalUnit: 'HOURS' as const, Times: ['03:00'] },
          RetainRule: { Count: spec.retain },
          // Only keys the volume does not carry, or carries with the same value: nothing here can
          // contradict a copied tag.
          TagsToAdd: tagList({
            [TAG_DEPLOYMENT]: spec.deployment,
            [TAG_PURPOSE]: 'scheduled',
            [TAG_MANAGED]: 'true',
          }),
        },
      ],
    },
    Tags: { [TAG_DEPLOYMENT]: spec.deployment, [TAG_MANAGED]: 'true' },
  };
}

function toScheduleInfo(policy: DlmPolicy): SnapshotScheduleInfo {
  const schedule = policy.PolicyDetails?.Schedules?.[0];
  const info: SnapshotScheduleInfo = { policyId: policy.PolicyId ?? '', state: policy.State ?? '' };
  if (schedule?.Name) info.schedule = schedule.Name;
  if (schedule?.RetainRule?.Count !== undefined) info.retain = schedule.RetainRule.Count;
  if (schedule?.CopyTags !== undefined) info.copyTags = schedule.CopyTags;
  if (policy.Description) info.description = policy.Description;
  return info;
}

export async function findSnapshotSchedule(c: UpgradeClients, deployment: string): Promise<SnapshotScheduleInfo | undefined> {
  const dlm = requireDlm(c);
  const out = await callDlm(c, 'GetLifecyclePolicies', () =>
    dlm.getLifecyclePolicies({ TargetTags: [`Name=${deployment}-data`], ResourceTypes: ['VOLUME'] }),
  );
  const ours = (out.Policies ?? []).find((p) => p.Tags?.[TAG_DEPLOYMENT] === deployment && p.PolicyId);
  if (!ours?.PolicyId) return undefined;
  const detail = await callDlm(c, 'GetLifecyclePolicy', () => dlm.getLifecyclePolicy({ PolicyId: ours.PolicyId! }));
  return detail.Policy ? toScheduleInfo(detail.Policy) : { policyId: ours.PolicyId, state: ours.State ?? '' };
}

export async function ensureSnapshotSchedule(c: UpgradeClients, spec: SnapshotScheduleSpec): Promise<SnapshotScheduleInfo> {
  const dlm = requireDlm(c);
  const policy = snapshotSchedulePolicy(spec);
  const existing = await findSnapshotSchedule(c, spec.deployment);
  if (existing) {
    // A policy made before scheduled snapshots carried the volume's tags is brought up to date too.
    if (existing.retain === spec.retain && existing.state === 'ENABLED' && existing.copyTags === true) return existing;
    const { Tags: _tags, ...update } = policy;
    await callDlm(c, 'UpdateLifecyclePolicy', () => dlm.updateLifecyclePolicy({ PolicyId: existing.policyId, ...update }));
    return { ...existing, state: 'ENABLED', retain: spec.retain, schedule: spec.schedule, copyTags: true };
  }
  const out = await callDlm(c, 'CreateLifecyclePolicy', () => dlm.createLifecyclePolicy(policy));
  if (!out.PolicyId) throw new CloudError('dlm-policy-empty', 'CreateLifecyclePolicy returned no policy id');
  return { policyId: out.PolicyId, state: 'ENABLED', schedule: spec.schedule, retain: spec.retain, description: policy.Description, copyTags: true };
}

export async function deleteSnapshotSchedule(c: UpgradeClients, policyId: string): Promise<void> {
  const dlm = requireDlm(c);
  try {
    await dlm.deleteLifecyclePolicy({ PolicyId: policyId });
  } catch (err) {
    if (isAwsErrorCode(err, 'ResourceNotFoundException')) return;
    throw toLaunchError(err, { operation: 'DeleteLifecyclePolicy', service: 'dlm', profile: c.profile, region: c.region });
  }
}
