// Pure builders for every mutating EC2 request a launch sends. The same functions produce the
// inputs the adapter sends and the ones `--dry-run` prints, so the dry run cannot drift from what
// really happens. No SDK import: the shapes below are the subset of the EC2 API inputs we use, and
// the adapter passes them to the SDK unchanged (except ImportKeyPair's key material, see there).
import {
  TAG_DEPLOYMENT,
  TAG_KEY_FINGERPRINT,
  TAG_MANAGED,
  TAG_OWNER,
  TAG_ROLE,
  TAG_SIZE,
  TAG_VERSION,
  type CloudRequest,
  type LaunchRefs,
  type LaunchSpec,
  type ResourceRole,
} from '../cloud.js';
import { fingerprintOfPublicKeyLine } from '../../remote/host-keys.js';

export interface AwsTag {
  Key: string;
  Value: string;
}

export type TaggableResourceType = 'instance' | 'volume' | 'security-group' | 'key-pair' | 'elastic-ip';

export interface TagSpecification {
  ResourceType: TaggableResourceType;
  Tags: AwsTag[];
}

export interface IpRange {
  CidrIp: string;
  Description?: string;
}

export interface Ipv6Range {
  CidrIpv6: string;
  Description?: string;
}

export interface IpPermission {
  IpProtocol: 'tcp';
  FromPort: number;
  ToPort: number;
  IpRanges: IpRange[];
  /** Only when some CIDR of the port is IPv6 (EC2 takes those in a separate list). */
  Ipv6Ranges?: Ipv6Range[];
}

/** One ingress rule: a TCP port open to one CIDR. */
export interface IngressRule {
  port: number;
  cidr: string;
  description: string;
}

export interface ImportKeyPairRequest {
  KeyName: string;
  /** The OpenSSH public key text; the adapter encodes it to bytes when sending. */
  PublicKeyMaterial: string;
  TagSpecifications: TagSpecification[];
}

export interface CreateSecurityGroupRequest {
  GroupName: string;
  Description: string;
  VpcId: string;
  TagSpecifications: TagSpecification[];
}

export interface AuthorizeSecurityGroupIngressRequest {
  GroupId: string;
  IpPermissions: IpPermission[];
}

export interface EbsBlockDevice {
  VolumeSize: number;
  VolumeType: 'gp3' | 'io2';
  Iops?: number;
  Throughput?: number;
  DeleteOnTermination: boolean;
  Encrypted: true;
  KmsKeyId?: string;
}

/** One volume at launch, or (NoDevice) the image's own mapping of that device suppressed. */
export interface BlockDeviceMapping {
  DeviceName: string;
  Ebs?: EbsBlockDevice;
  NoDevice?: '';
}

export interface RunInstancesRequest {
  ImageId: string;
  InstanceType: string;
  MinCount: 1;
  MaxCount: 1;
  KeyName: string;
  SecurityGroupIds: string[];
  SubnetId?: string;
  ClientToken: string;
  MetadataOptions: { HttpTokens: 'required'; HttpPutResponseHopLimit: number; HttpEndpoint: 'enabled' };
  BlockDeviceMappings: BlockDeviceMapping[];
  TagSpecifications: TagSpecification[];
  /** Base64 of the user data (launch --image-source base). */
  UserData?: string;
}

export interface CreateTagsRequest {
  Resources: string[];
  Tags: AwsTag[];
}

export interface AllocateAddressRequest {
  Domain: 'vpc';
  TagSpecifications: TagSpecification[];
}

export interface AssociateAddressRequest {
  AllocationId: string;
  InstanceId: string;
  AllowReassociation?: boolean;
}

/**
 * The ClientToken of attempt `n` of one create. EC2 answers a reused token with the instance it
 * made for it, even once that instance is terminated (for at least a day), so a launch whose
 * instance died moves on to the next attempt's token instead of getting the dead one back forever.
 */
export function attemptToken(base: string, attempt: number): string {
  if (attempt <= 1) return base;
  const suffix = `-${attempt}`;
  return `${base.slice(0, 64 - suffix.length)}${suffix}`;
}

/**
 * User data for an instance launched without its data disk (kept data, upgrade --strategy move):
 * at every boot, before anything else, power off at once while the data filesystem is absent, so
 * Sourcegraph's boot logic never runs against an empty /mnt/data. Needs cloud-init boothooks.
 */
export const BOOT_GUARD_USER_DATA = [
  '#cloud-boothook',
  '#!/bin/sh',
  '# sourcegraph-launch: never let Sourcegraph boot against an empty /mnt/data.',
  'if ! blkid -L /mnt/data >/dev/null 2>&1; then poweroff -f; fi',
  '',
].join('\n');

/** The name of the security group a deployment gets; also how a user recognises it in the console. */
export function securityGroupName(deploymentName: string): string {
  return `sourcegraph-launch-${deploymentName}`;
}

/** Stands in for an ID that only exists once an earlier request of the same launch has run. */
export function placeholder(what: string, from: string): string {
  return `<${what} from ${from}>`;
}

type TagSource = Pick<LaunchSpec, 'name' | 'version' | 'size'>;

/** The tags every resource the tool creates carries; `managed` marks it as ours to delete. */
export function resourceTags(spec: TagSource, role: ResourceRole): AwsTag[] {
  return [
    { Key: TAG_DEPLOYMENT, Value: spec.name },
    { Key: TAG_ROLE, Value: role },
    { Key: TAG_VERSION, Value: spec.version },
    { Key: TAG_SIZE, Value: spec.size },
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: 'Name', Value: spec.name },
  ];
}

function tagSpecification(resourceType: TaggableResourceType, spec: TagSource, role: ResourceRole): TagSpecification {
  return { ResourceType: resourceType, Tags: resourceTags(spec, role) };
}

export function importKeyPairRequest(spec: LaunchSpec & { keyPair: { mode: 'import' } }): ImportKeyPairRequest {
  const tags = tagSpecification('key-pair', spec, 'key-pair');
  // Which key it is, so a launch from another machine (holding another key) is told apart.
  const fingerprint = fingerprintOrUndefined(spec.keyPair.publicKey);
  if (fingerprint) tags.Tags.push({ Key: TAG_KEY_FINGERPRINT, Value: fingerprint });
  return {
    KeyName: spec.keyPair.keyName,
    PublicKeyMaterial: spec.keyPair.publicKey,
    TagSpecifications: [tags],
  };
}

function fingerprintOrUndefined(publicKeyLine: string): string | undefined {
  try {
    return fingerprintOfPublicKeyLine(publicKeyLine);
  } catch {
    return undefined; // a dry run's placeholder
  }
}

export function createSecurityGroupRequest(spec: LaunchSpec, vpcId: string): CreateSecurityGroupRequest {
  return {
    GroupName: securityGroupName(spec.name),
    Description: `Sourcegraph deployment ${spec.name} (sourcegraph-launch)`,
    VpcId: vpcId,
    TagSpecifications: [tagSpecification('security-group', spec, 'security-group')],
  };
}

/**
 * HTTP and HTTPS from each allowed CIDR, SSH only from the SSH CIDRs. Nothing else: in particular
 * never the Kubernetes API (6443), which k3s would otherwise expose to whoever can reach it.
 */
export function ingressRules(spec: Pick<LaunchSpec, 'allowCidrs' | 'sshCidrs'>): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const port of [80, 443]) {
    const description = port === 80 ? 'HTTP to Sourcegraph' : 'HTTPS to Sourcegraph';
    for (const cidr of spec.allowCidrs) rules.push({ port, cidr, description });
  }
  for (const cidr of spec.sshCidrs) rules.push({ port: 22, cidr, description: 'SSH for sourcegraph-launch' });
  return rules;
}

/** One permission per port (in the order the rules come), each listing its CIDRs (IPv6 apart). */
export function authorizeIngressRequest(groupId: string, rules: IngressRule[]): AuthorizeSecurityGroupIngressRequest {
  return { GroupId: groupId, IpPermissions: ipPermissions(rules) };
}

/** The same shape revokes rules: RevokeSecurityGroupIngress takes what Authorize took. */
export function revokeIngressRequest(groupId: string, rules: IngressRule[]): AuthorizeSecurityGroupIngressRequest {
  return { GroupId: groupId, IpPermissions: ipPermissions(rules.map((r) => ({ ...r, description: '' }))) };
}

function ipPermissions(rules: IngressRule[]): IpPermission[] {
  const byPort = new Map<number, IpPermission>();
  for (const rule of rules) {
    const permission = byPort.get(rule.port) ?? { IpProtocol: 'tcp' as const, FromPort: rule.port, ToPort: rule.port, IpRanges: [] };
    const description = rule.description ? { Description: rule.description } : {};
    if (rule.cidr.includes(':')) (permission.Ipv6Ranges ??= []).push({ CidrIpv6: rule.cidr, ...description });
    else permission.IpRanges.push({ CidrIp: rule.cidr, ...description });
    byPort.set(rule.port, permission);
  }
  return [...byPort.values()];
}

function dataVolumeEbs(spec: LaunchSpec): EbsBlockDevice {
  const data = spec.dataVolume;
  const ebs: EbsBlockDevice = {
    VolumeSize: data.sizeGiB,
    VolumeType: data.type,
    DeleteOnTermination: false,
    Encrypted: true,
  };
  // io2 has no baseline, so its presets always carry IOPS. gp3 includes 3,000 IOPS / 125 MiB/s, so
  // both are sent only when the preset or the user asked for something specific.
  if (data.iops !== undefined) ebs.Iops = data.iops;
  if (data.type === 'gp3' && data.throughput !== undefined) ebs.Throughput = data.throughput;
  if (spec.kmsKeyId) ebs.KmsKeyId = spec.kmsKeyId;
  return ebs;
}

export function runInstancesRequest(
  spec: LaunchSpec,
  refs: { keyName: string; securityGroupId: string; subnetId?: string },
): RunInstancesRequest {
  const rootEbs: EbsBlockDevice = {
    VolumeSize: spec.rootVolume.sizeGiB,
    VolumeType: spec.rootVolume.type,
    DeleteOnTermination: true,
    Encrypted: true,
  };
  if (spec.kmsKeyId) rootEbs.KmsKeyId = spec.kmsKeyId;
  const request: RunInstancesRequest = {
    ImageId: spec.imageId,
    InstanceType: spec.instanceType,
    MinCount: 1,
    MaxCount: 1,
    KeyName: refs.keyName,
    SecurityGroupIds: [refs.securityGroupId],
    ClientToken: spec.clientToken,
    // IMDSv2 only; hop limit 2 so pods (one extra network hop) that need instance metadata still reach it.
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [
      { DeviceName: spec.rootVolume.device, Ebs: rootEbs },
      // On kept data: no data disk at launch (the image's own mapping suppressed); it is attached
      // before Sourcegraph ever boots, while the boot guard keeps the first boot from going on.
      spec.existingDataVolumeId ? { DeviceName: spec.dataVolume.device, NoDevice: '' } : { DeviceName: spec.dataVolume.device, Ebs: dataVolumeEbs(spec) },
    ],
    TagSpecifications: [
      tagSpecification('instance', spec, 'instance'),
      // One volume tag set applies to both volumes, so it names neither role: instance-volume (kept as
      // data by destroy, never picked by the snapshot policy) until CreateTags marks each by its device.
      tagSpecification('volume', spec, 'instance-volume'),
    ],
  };
  const subnetId = refs.subnetId ?? spec.subnetId;
  if (subnetId) request.SubnetId = subnetId;
  if (spec.userDataBase64) request.UserData = spec.userDataBase64;
  else if (spec.existingDataVolumeId) request.UserData = Buffer.from(BOOT_GUARD_USER_DATA, 'utf8').toString('base64');
  return request;
}

/** Marks one of the instance's volumes with its role (and a Name that tells the two apart). */
export function volumeRoleTagsRequest(
  spec: Pick<LaunchSpec, 'name'>,
  volumeId: string,
  role: 'data-volume' | 'root-volume',
): CreateTagsRequest {
  return {
    Resources: [volumeId],
    Tags: [
      { Key: TAG_ROLE, Value: role },
      { Key: 'Name', Value: `${spec.name}-${role === 'data-volume' ? 'data' : 'root'}` },
    ],
  };
}

export function allocateAddressRequest(spec: LaunchSpec): AllocateAddressRequest {
  return { Domain: 'vpc', TagSpecifications: [tagSpecification('elastic-ip', spec, 'address')] };
}

/** Marks an address the user brought as the deployment's (owner user, never managed: never released). */
export function broughtAddressTagsRequest(spec: Pick<LaunchSpec, 'name'>, allocationId: string): CreateTagsRequest {
  return {
    Resources: [allocationId],
    Tags: [
      { Key: TAG_DEPLOYMENT, Value: spec.name },
      { Key: TAG_ROLE, Value: 'address' },
      { Key: TAG_OWNER, Value: 'user' },
    ],
  };
}

export function associateAddressRequest(
  allocationId: string,
  instanceId: string,
  opts: { allowReassociation?: boolean } = {},
): AssociateAddressRequest {
  const request: AssociateAddressRequest = { AllocationId: allocationId, InstanceId: instanceId };
  if (opts.allowReassociation) request.AllowReassociation = true;
  return request;
}

function ec2Request(operation: string, input: object): CloudRequest {
  return { service: 'ec2', operation, input: { ...input } };
}

/**
 * The mutating requests of a launch, in the order they are sent, with placeholders for IDs that
 * earlier requests will return. `refs` fills in IDs already known (e.g. a resumed launch).
 */
export function launchRequests(spec: LaunchSpec, refs: Partial<LaunchRefs> & { vpcId?: string } = {}): CloudRequest[] {
  const requests: CloudRequest[] = [];
  if (spec.keyPair.mode === 'import') {
    requests.push(ec2Request('ImportKeyPair', importKeyPairRequest({ ...spec, keyPair: spec.keyPair })));
  }
  const vpcId =
    refs.vpcId ??
    (spec.subnetId ? `<VpcId of ${spec.subnetId} from DescribeSubnets>` : '<VpcId of the default VPC from DescribeVpcs>');
  const groupId = refs.securityGroupId ?? placeholder('SecurityGroupId', 'CreateSecurityGroup');
  const instanceId = placeholder('InstanceId', 'RunInstances');
  requests.push(ec2Request('CreateSecurityGroup', createSecurityGroupRequest(spec, vpcId)));
  requests.push(ec2Request('AuthorizeSecurityGroupIngress', authorizeIngressRequest(groupId, ingressRules(spec))));
  requests.push(
    ec2Request(
      'RunInstances',
      runInstancesRequest(spec, {
        keyName: refs.keyName ?? spec.keyPair.keyName,
        securityGroupId: groupId,
        subnetId: refs.subnetId,
      }),
    ),
  );
  requests.push(
    ec2Request(
      'CreateTags',
      volumeRoleTagsRequest(spec, placeholder(`VolumeId of ${spec.dataVolume.device}`, 'RunInstances'), 'data-volume'),
    ),
  );
  requests.push(
    ec2Request(
      'CreateTags',
      volumeRoleTagsRequest(spec, placeholder(`VolumeId of ${spec.rootVolume.device}`, 'RunInstances'), 'root-volume'),
    ),
  );
  if (spec.elasticIp.mode === 'new') {
    requests.push(ec2Request('AllocateAddress', allocateAddressRequest(spec)));
    requests.push(
      ec2Request('AssociateAddress', associateAddressRequest(placeholder('AllocationId', 'AllocateAddress'), instanceId)),
    );
  } else if (spec.elasticIp.mode === 'existing') {
    requests.push(ec2Request('AssociateAddress', associateAddressRequest(spec.elasticIp.allocationId, instanceId)));
    requests.push(ec2Request('CreateTags', broughtAddressTagsRequest(spec, spec.elasticIp.allocationId)));
  }
  return requests;
}
