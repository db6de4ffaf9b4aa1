// Pure builders for every mutating EC2 and DLM request the adapter sends. The same functions make
// what is sent and what `--dry-run` prints, so the dry run cannot drift from what really happens.
// No SDK import: these are the subset of the inputs we use, passed to the SDK unchanged (except
// ImportKeyPair's key material, which the caller encodes).
import { CloudError } from '../../core/errors.js';
import { LABEL_PREFIX, type Labels } from '../../core/labels.js';
import { fingerprintOfPublicKeyLine } from '../../remote/host-keys.js';
import { CLUSTER_PORTS, type AccessPolicySpec, type AccessRule, type CloudRequest, type DiskFromSnapshotSpec, type DiskSpec, type ImageFromBuilderSpec, type InstanceSpec, type LaunchRequestsSpec, type SnapshotScheduleSpec, type SnapshotSpec, type SshKeySpec, type WorldPortPurpose } from '../port.js';
import { DATA_DEVICE, ROOT_DEVICE, tagKey, tagList, tagsFor, volumeName, WORLD_PORT_DESCRIPTIONS } from './mappers.js';

export type TaggableResourceType = 'instance' | 'volume' | 'security-group' | 'key-pair' | 'elastic-ip' | 'snapshot' | 'image' | 'security-group-rule';

function tagSpec(resourceType: TaggableResourceType, labels: Labels, name?: string) {
  return { ResourceType: resourceType, Tags: tagList(tagsFor(labels, name)) };
}

/**
 * User data for an instance that starts without its data disk (kept data, `upgrade --strategy
 * move`): at every boot, before anything else, power off at once while the data filesystem is
 * absent, so Sourcegraph's boot logic never runs against an empty /mnt/data. Needs cloud-init boothooks.
 */
export const BOOT_GUARD_USER_DATA = [
  '#cloud-boothook',
  '#!/bin/sh',
  '# sourcegraph-launch: never let Sourcegraph boot against an empty /mnt/data.',
  'if ! blkid -L /mnt/data >/dev/null 2>&1; then poweroff -f; fi',
  '',
].join('\n');

/**
 * The ClientToken of attempt `n` of one create. EC2 answers a reused token with the instance it
 * made for it, even once that instance is terminated (for at least a day), so a launch whose
 * instance died moves on to the next attempt's token instead of getting the dead one back forever.
 */
export function attemptToken(base: string, attempt: number): string {
  if (attempt <= 1) return base.slice(0, 64);
  const suffix = `-${attempt}`;
  return `${base.slice(0, 64 - suffix.length)}${suffix}`;
}

// ---- key pairs, security groups, addresses ----

/**
 * A deployment's imported key carries its fingerprint (launch compares it with the key this machine
 * holds, to tell a launch from another machine apart), unless the caller put one in the labels. A
 * builder's key lives for one build and carries none, as before.
 */
export function importKeyPairRequest(spec: Extract<SshKeySpec, { mode: 'import' }>, labels: Labels, name = spec.name) {
  const tags = tagSpec('key-pair', labels, name);
  const fingerprint = labels['key-fingerprint'] === undefined && labels.build === undefined ? fingerprintOrUndefined(spec.publicKey) : undefined;
  if (fingerprint) tags.Tags.push({ Key: tagKey('key-fingerprint'), Value: fingerprint });
  return { KeyName: spec.name, PublicKeyMaterial: spec.publicKey, TagSpecifications: [tags] };
}

function fingerprintOrUndefined(publicKeyLine: string): string | undefined {
  try {
    return fingerprintOfPublicKeyLine(publicKeyLine);
  } catch {
    return undefined; // a dry run's placeholder instead of a key
  }
}

export function createSecurityGroupRequest(spec: AccessPolicySpec, vpcId: string, description: string, nameTag: string) {
  return { GroupName: spec.name, Description: description, VpcId: vpcId, TagSpecifications: [tagSpec('security-group', spec.labels, nameTag)] };
}

const RULE_DESCRIPTIONS: Record<number, string> = { 80: 'HTTP to Sourcegraph', 443: 'HTTPS to Sourcegraph', 22: 'SSH for sourcegraph-launch' };

/** The only ports a policy of ours opens: HTTP, HTTPS and SSH; never the Kubernetes API (6443) or anything else. */
export const GOVERNED_PORTS: ReadonlySet<number> = new Set([22, 80, 443]);

/** Refuses a rule on any other port before anything is sent, so no caller can open one by mistake. */
export function checkGovernedRules(rules: AccessRule[]): void {
  const other = [...new Set(rules.filter((r) => !GOVERNED_PORTS.has(r.port)).map((r) => r.port))];
  if (other.length) {
    throw new CloudError('access-port-not-allowed', `sourcegraph-launch opens only ports 22, 80 and 443; refusing to open ${other.join(', ')}`, {
      remediation: 'This is a bug in sourcegraph-launch: please report it.',
    });
  }
}

export interface IpPermission {
  IpProtocol: 'tcp';
  FromPort: number;
  ToPort: number;
  IpRanges: { CidrIp: string; Description?: string }[];
  /** Only when some CIDR of the port is IPv6 (EC2 takes those in a separate list). */
  Ipv6Ranges?: { CidrIpv6: string; Description?: string }[];
}

/** One permission per port (in the order the rules come), each listing its CIDRs (IPv6 apart). */
export function ipPermissions(rules: AccessRule[], describe: (port: number) => string | undefined = (p) => RULE_DESCRIPTIONS[p]): IpPermission[] {
  checkGovernedRules(rules);
  const byPort = new Map<number, IpPermission>();
  for (const rule of rules) {
    const permission = byPort.get(rule.port) ?? { IpProtocol: 'tcp' as const, FromPort: rule.port, ToPort: rule.port, IpRanges: [] };
    const text = describe(rule.port);
    const description = text ? { Description: text } : {};
    if (rule.cidr.includes(':')) (permission.Ipv6Ranges ??= []).push({ CidrIpv6: rule.cidr, ...description });
    else permission.IpRanges.push({ CidrIp: rule.cidr, ...description });
    byPort.set(rule.port, permission);
  }
  return [...byPort.values()];
}

export function authorizeIngressRequest(groupId: string, rules: AccessRule[], describe?: (port: number) => string | undefined) {
  return { GroupId: groupId, IpPermissions: ipPermissions(rules, describe) };
}

/**
 * The k3s cluster ports open to the security group's own members: the source is the group itself
 * (UserIdGroupPairs), never a CIDR, so only the deployment's machines reach them.
 */
export function clusterIngressRequest(groupId: string, ports: readonly { protocol: 'tcp' | 'udp'; port: number }[] = CLUSTER_PORTS) {
  return {
    GroupId: groupId,
    IpPermissions: ports.map((p) => ({
      IpProtocol: p.protocol,
      FromPort: p.port,
      ToPort: p.port,
      UserIdGroupPairs: [{ GroupId: groupId, Description: `k3s ${p.port}/${p.protocol} between the deployment's machines (sourcegraph-launch scale)` }],
    })),
  };
}

/** The whole internet, as the rule openWorldPort makes names it. */
export const WORLD_CIDR = '0.0.0.0/0';

/**
 * `port`/tcp open to the world for one purpose: the description marks it (found again from any
 * machine), the tags say whose it is and why (the rule is a resource of its own in the console).
 */
export function worldPortRequest(groupId: string, port: number, purpose: WorldPortPurpose, deployment: string) {
  checkGovernedRules([{ port, cidr: WORLD_CIDR }]);
  return {
    GroupId: groupId,
    IpPermissions: [{ IpProtocol: 'tcp' as const, FromPort: port, ToPort: port, IpRanges: [{ CidrIp: WORLD_CIDR, Description: WORLD_PORT_DESCRIPTIONS[purpose] }] }],
    TagSpecifications: [tagSpec('security-group-rule', { deployment, role: 'access-rule', purpose, managed: 'true' }, `${deployment}-${purpose}`)],
  };
}

/** RevokeSecurityGroupIngress takes what Authorize took, without descriptions. */
export function revokeIngressRequest(groupId: string, rules: AccessRule[]) {
  return { GroupId: groupId, IpPermissions: ipPermissions(rules, () => undefined) };
}

export function allocateAddressRequest(labels: Labels, name: string) {
  return { Domain: 'vpc' as const, TagSpecifications: [tagSpec('elastic-ip', labels, name)] };
}

export function associateAddressRequest(allocationId: string, instanceId: string, opts: { allowReassociation?: boolean } = {}) {
  return { AllocationId: allocationId, InstanceId: instanceId, ...(opts.allowReassociation ? { AllowReassociation: true } : {}) };
}

/** Marks an address the user brought as the deployment's (owner user, never managed: never released). */
export function broughtAddressTagsRequest(deployment: string, allocationId: string) {
  return { Resources: [allocationId], Tags: tagList(tagsFor({ deployment, role: 'address', owner: 'user' })) };
}

// ---- instances ----

interface Ebs {
  VolumeSize: number;
  VolumeType: string;
  Iops?: number;
  Throughput?: number;
  SnapshotId?: string;
  VolumeInitializationRate?: number;
  DeleteOnTermination: boolean;
  Encrypted: true;
  KmsKeyId?: string;
}

export interface BlockDeviceMapping {
  DeviceName: string;
  Ebs?: Ebs;
  NoDevice?: '';
}

function ebs(disk: DiskSpec, opts: { deleteOnTermination: boolean; keyId?: string; snapshotId?: string; rateMiBps?: number }): Ebs {
  const out: Ebs = { VolumeSize: disk.sizeGiB, VolumeType: disk.type, DeleteOnTermination: opts.deleteOnTermination, Encrypted: true };
  if (opts.snapshotId) out.SnapshotId = opts.snapshotId;
  // io2 has no baseline, so it always carries IOPS; gp3 includes 3,000 IOPS / 125 MiB/s, so both are
  // sent only when asked for; older types take none.
  if (disk.iops !== undefined && !['gp2', 'st1', 'sc1', 'standard'].includes(disk.type)) out.Iops = disk.iops;
  if (disk.type === 'gp3' && disk.throughput !== undefined) out.Throughput = disk.throughput;
  if (opts.keyId) out.KmsKeyId = opts.keyId;
  if (opts.rateMiBps) out.VolumeInitializationRate = opts.rateMiBps;
  return out;
}

/** The Name tag of an instance: the deployment's name, or the builder's. */
export function instanceName(spec: Pick<InstanceSpec, 'role' | 'deployment' | 'labels'>): string {
  if (spec.role === 'agent') return `${spec.deployment}-agent`;
  return spec.role === 'builder' ? `sourcegraph-launch-builder-${spec.labels.build ?? spec.deployment}` : spec.deployment;
}

/**
 * Tags a replacement instance takes over from the one it replaces: the user's, never AWS's own
 * (`aws:` keys cannot be set) nor ours (the spec's labels say what this instance is).
 */
export function inheritableTags(foreign: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(foreign ?? {})) if (!k.startsWith('aws:') && !k.startsWith(`${LABEL_PREFIX}:`)) out[k] = v;
  return out;
}

/** The labels both new volumes get at creation: neither role until each is told apart by its device. */
export function newVolumeLabels(spec: InstanceSpec): Labels {
  return spec.role === 'builder' ? spec.labels : { ...spec.labels, role: 'instance-volume' };
}

export interface RunInstancesRequest {
  ImageId: string;
  InstanceType: string;
  MinCount: 1;
  MaxCount: 1;
  KeyName?: string;
  SecurityGroupIds?: string[];
  SubnetId?: string;
  /** Only for an instance without a public address (spec.publicIp false): then it holds the subnet and groups. */
  NetworkInterfaces?: { DeviceIndex: 0; AssociatePublicIpAddress: false; DeleteOnTermination: true; Groups: string[]; SubnetId?: string }[];
  IamInstanceProfile?: { Arn: string };
  ClientToken: string;
  MetadataOptions: { HttpTokens: 'required'; HttpPutResponseHopLimit: number; HttpEndpoint: 'enabled' };
  BlockDeviceMappings: BlockDeviceMapping[];
  UserData?: string;
  TagSpecifications: { ResourceType: TaggableResourceType; Tags: { Key: string; Value: string }[] }[];
}

/** RunInstances for any instance: a deployment's (new, snapshot-made, kept or no data disk) or a builder's. */
export function runInstancesRequest(spec: InstanceSpec, opts: { withRate?: boolean; clientToken?: string } = {}): RunInstancesRequest {
  const data = spec.dataDisk;
  const dataMapping: BlockDeviceMapping =
    data.mode === 'new'
      ? { DeviceName: DATA_DEVICE, Ebs: ebs(data.disk, { deleteOnTermination: !spec.keepDataDisk, keyId: spec.encryptionKeyId }) }
      : data.mode === 'snapshot'
        ? { DeviceName: DATA_DEVICE, Ebs: ebs(data.disk, { deleteOnTermination: false, keyId: spec.encryptionKeyId, snapshotId: data.snapshotId, rateMiBps: opts.withRate === false ? undefined : data.initializationRateMiBps }) }
        : // No data disk now (it is attached before the first real boot): suppress the image's own mapping.
          { DeviceName: DATA_DEVICE, NoDevice: '' };
  const guarded = data.mode === 'none' || data.mode === 'existing';
  const request: RunInstancesRequest = {
    ImageId: spec.imageId,
    InstanceType: spec.machineType,
    MinCount: 1,
    MaxCount: 1,
    ...(spec.sshKey.mode !== 'none' ? { KeyName: spec.sshKey.name } : {}),
    // No public address: only a network interface spec can say so (EC2 refuses it next to top-level
    // SecurityGroupIds/SubnetId), and it overrides the subnet's "auto-assign public IPv4".
    ...(spec.publicIp === false
      ? {
          NetworkInterfaces: [
            { DeviceIndex: 0 as const, AssociatePublicIpAddress: false as const, DeleteOnTermination: true as const, Groups: spec.accessPolicyIds, ...(spec.placement.subnetId ? { SubnetId: spec.placement.subnetId } : {}) },
          ],
        }
      : { SecurityGroupIds: spec.accessPolicyIds, ...(spec.placement.subnetId ? { SubnetId: spec.placement.subnetId } : {}) }),
    ...(spec.instanceIdentity ? { IamInstanceProfile: { Arn: spec.instanceIdentity } } : {}),
    ClientToken: opts.clientToken ?? attemptToken(spec.idempotencyKey, 1),
    // IMDSv2 only; hop limit 2 so pods (one extra network hop) that need instance metadata still reach it.
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [{ DeviceName: ROOT_DEVICE, Ebs: ebs(spec.rootDisk, { deleteOnTermination: true, keyId: spec.encryptionKeyId }) }, dataMapping],
    TagSpecifications: [
      // The user's own tags of the instance this one replaces follow it (their Name too, if they renamed it).
      { ResourceType: 'instance', Tags: tagList({ ...tagsFor(spec.labels, instanceName(spec)), ...inheritableTags(spec.foreignLabels) }) },
      tagSpec('volume', newVolumeLabels(spec), instanceName(spec)),
    ],
  };
  if (spec.userDataBase64) request.UserData = spec.userDataBase64;
  else if (guarded) request.UserData = Buffer.from(BOOT_GUARD_USER_DATA, 'utf8').toString('base64');
  return request;
}

/** Marks one of a new instance's volumes with its role (and a Name that tells the two apart). */
export function volumeRoleTagsRequest(deployment: string, volumeId: string, role: 'data-volume' | 'root-volume') {
  return { Resources: [volumeId], Tags: tagList(tagsFor({ role }, volumeName(deployment, role))) };
}

// ---- snapshots, volumes, images ----

export function createSnapshotRequest(spec: SnapshotSpec, name: string) {
  return { VolumeId: spec.diskId, Description: spec.description, TagSpecifications: [tagSpec('snapshot', { ...spec.labels, operation: spec.operation }, name)] };
}

/** CreateVolume takes the EBS settings of a mapping, but the size as Size (VolumeSize is not one of its parameters). */
export function createVolumeRequest(spec: DiskFromSnapshotSpec, withRate = true) {
  const { DeleteOnTermination: _keep, VolumeSize, ...rest } = ebs(spec.disk, { deleteOnTermination: false, keyId: spec.encryptionKeyId, snapshotId: spec.snapshotId, rateMiBps: withRate ? spec.initializationRateMiBps : undefined });
  return {
    AvailabilityZone: spec.zone,
    ...rest,
    Size: VolumeSize,
    ClientToken: attemptToken(spec.idempotencyKey, 1),
    TagSpecifications: [tagSpec('volume', spec.labels, volumeName(spec.deployment, spec.labels.role))],
  };
}

/**
 * CreateImage takes every EBS volume attached to the builder (root and data). NoReboot false: AWS
 * stops the instance cleanly first if it still runs. Only the image is tagged here: snapshot
 * TagSpecifications are not supported by every EC2 implementation (moto raises on them), so the
 * snapshots are tagged once the image is available.
 */
export function createImageRequest(spec: ImageFromBuilderSpec, instanceId: string) {
  return { InstanceId: instanceId, Name: spec.name, Description: spec.description, NoReboot: false, TagSpecifications: [tagSpec('image', spec.labels, spec.name)] };
}

// ---- Data Lifecycle Manager ----

/** DLM targets volumes by one tag: the Name the data volume carries (`<name>-data`). */
export function scheduleTargetTag(deployment: string): { Key: string; Value: string } {
  return { Key: 'Name', Value: volumeName(deployment, 'data-volume') };
}

export function defaultDlmRole(account: string): string {
  return `arn:aws:iam::${account}:role/AWSDataLifecycleManagerDefaultRole`;
}

export function snapshotSchedulePolicy(spec: SnapshotScheduleSpec) {
  return {
    ExecutionRoleArn: spec.params.roleArn || defaultDlmRole(spec.params.account || '<account>'),
    Description: `sourcegraph-launch ${spec.deployment} daily data snapshots`,
    State: 'ENABLED' as const,
    PolicyDetails: {
      PolicyType: 'EBS_SNAPSHOT_MANAGEMENT' as const,
      ResourceTypes: ['VOLUME' as const],
      TargetTags: [scheduleTargetTag(spec.deployment)],
      Schedules: [
        {
          Name: 'daily',
          // The volume's tags travel with each snapshot, its version tag among them: that is what
          // makes a scheduled snapshot restorable (`restore` reads the version of the data from it).
          CopyTags: true,
          CreateRule: { Interval: 24, IntervalUnit: 'HOURS' as const, Times: ['03:00'] },
          RetainRule: { Count: spec.retain },
          // Only keys the volume does not carry, or carries with the same value.
          TagsToAdd: tagList(tagsFor({ deployment: spec.deployment, purpose: 'scheduled', managed: 'true' })),
        },
      ],
    },
    Tags: tagsFor({ deployment: spec.deployment, managed: 'true' }),
  };
}

// ---- the dry runs ----

const ec2 = (operation: string, input: object): CloudRequest => ({ service: 'ec2', operation, input: { ...input } });

export function placeholder(what: string, from: string): string {
  return `<${what} from ${from}>`;
}

/** The VPC a policy goes in: known once the placement is resolved, else where it will come from. */
function vpcOf(placement: AccessPolicySpec['placement']): string {
  return placement.networkId ?? (placement.subnetId ? `<VpcId of ${placement.subnetId} from DescribeSubnets>` : '<VpcId of the default VPC from DescribeVpcs>');
}

/** The mutating requests of a launch, in the order they are sent, with placeholders for IDs not known yet. */
export function launchRequests(spec: LaunchRequestsSpec, describeGroup: (spec: AccessPolicySpec) => string): CloudRequest[] {
  const out: CloudRequest[] = [];
  const labels = { ...spec.instance.labels, role: 'key-pair' };
  if (spec.sshKey.mode === 'import') out.push(ec2('ImportKeyPair', importKeyPairRequest(spec.sshKey, labels, spec.instance.deployment)));
  const vpcId = vpcOf(spec.access.placement);
  const groupId = placeholder('SecurityGroupId', 'CreateSecurityGroup');
  const instanceId = placeholder('InstanceId', 'RunInstances');
  out.push(ec2('CreateSecurityGroup', createSecurityGroupRequest(spec.access, vpcId, describeGroup(spec.access), spec.access.deployment)));
  out.push(ec2('AuthorizeSecurityGroupIngress', authorizeIngressRequest(groupId, spec.access.rules)));
  out.push(ec2('RunInstances', runInstancesRequest({ ...spec.instance, accessPolicyIds: [groupId] })));
  if (spec.instance.dataDisk.mode !== 'none' && spec.instance.dataDisk.mode !== 'existing') {
    out.push(ec2('CreateTags', volumeRoleTagsRequest(spec.instance.deployment, placeholder(`VolumeId of ${DATA_DEVICE}`, 'RunInstances'), 'data-volume')));
  }
  out.push(ec2('CreateTags', volumeRoleTagsRequest(spec.instance.deployment, placeholder(`VolumeId of ${ROOT_DEVICE}`, 'RunInstances'), 'root-volume')));
  if (spec.address.mode === 'new') {
    out.push(ec2('AllocateAddress', allocateAddressRequest(spec.address.labels, spec.address.deployment)));
    out.push(ec2('AssociateAddress', associateAddressRequest(placeholder('AllocationId', 'AllocateAddress'), instanceId)));
  } else if (spec.address.mode === 'existing') {
    // ensureStaticAddress adopts (tags) the user's address; attachStaticAddress then associates it.
    out.push(ec2('CreateTags', broughtAddressTagsRequest(spec.address.deployment, spec.address.id)));
    out.push(ec2('AssociateAddress', associateAddressRequest(spec.address.id, instanceId)));
  }
  return out;
}

export function instanceRequests(spec: InstanceSpec): CloudRequest[] {
  return [ec2('RunInstances', runInstancesRequest(spec))];
}

export function scheduleRequests(spec: SnapshotScheduleSpec): CloudRequest[] {
  return [{ service: 'dlm', operation: 'CreateLifecyclePolicy', input: snapshotSchedulePolicy(spec) }];
}

export function buildRequests(
  spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec },
  describeGroup: (spec: AccessPolicySpec) => string,
  opts: { addressId?: string } = {},
): CloudRequest[] {
  const vpcId = vpcOf(spec.access.placement);
  const groupId = placeholder('SecurityGroupId', 'CreateSecurityGroup');
  const instanceId = placeholder('InstanceId', 'RunInstances');
  const imageId = placeholder('ImageId', 'CreateImage');
  const out: CloudRequest[] = [];
  if (spec.sshKey.mode === 'import') out.push(ec2('ImportKeyPair', importKeyPairRequest(spec.sshKey, { ...spec.builder.labels, role: 'key-pair' })));
  out.push(ec2('CreateSecurityGroup', createSecurityGroupRequest(spec.access, vpcId, describeGroup(spec.access), spec.access.name)));
  out.push(ec2('AuthorizeSecurityGroupIngress', authorizeIngressRequest(groupId, spec.access.rules, () => 'SSH for sourcegraph-launch build-image')));
  out.push(ec2('RunInstances', runInstancesRequest({ ...spec.builder, accessPolicyIds: [groupId] })));
  if (opts.addressId) out.push(ec2('AssociateAddress', { AllocationId: opts.addressId, InstanceId: instanceId }));
  out.push(
    ec2('CreateTags', { Resources: [instanceId], Tags: tagList(tagsFor({ provisioned: 'true' })) }),
    ec2('StopInstances', { InstanceIds: [instanceId] }),
    ec2('CreateImage', createImageRequest(spec.image, instanceId)),
    ec2('CreateTags', { Resources: [`<SnapshotIds of ${imageId}>`], Tags: tagList(tagsFor(spec.image.labels, spec.image.name)) }),
  );
  if (opts.addressId) out.push(ec2('DisassociateAddress', { AssociationId: placeholder('AssociationId', 'AssociateAddress') }));
  out.push(
    ec2('TerminateInstances', { InstanceIds: [instanceId] }),
    ec2('DeleteSecurityGroup', { GroupId: groupId }),
    ...(spec.sshKey.mode === 'import' ? [ec2('DeleteKeyPair', { KeyName: spec.sshKey.name })] : []),
  );
  return out;
}
