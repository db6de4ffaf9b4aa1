// EC2 shapes ↔ the port's types, in one place: tags ↔ labels (today's `sourcegraph-launch:*` keys,
// so deployments made by earlier versions are still found, plus the `Name` tag the EC2 console
// shows), instances, volumes, snapshots, security groups, key pairs, addresses and images.
import { fromPrefixedTags, toPrefixedTags, type Labels } from '../../core/labels.js';
import { normalizeVersion } from '../../core/versions.js';
import type { AccessPolicy, AttachedDisk, ClusterRule, Disk, Image, Instance, InstanceState, Snapshot, SshKey, StaticAddress, WorldPortPurpose } from '../port.js';
import type { Ec2Address, Ec2Filter, Ec2Image, Ec2Instance, Ec2KeyPair, Ec2SecurityGroup, Ec2Snapshot, Ec2Tag, Ec2Volume } from './sdk.js';

export type Tags = Record<string, string>;

/** The tag key of a neutral label (`deployment` → `sourcegraph-launch:deployment`). */
export const tagKey = (label: keyof Labels): string => `sourcegraph-launch:${label}`;

export function tagsOf(tags: Ec2Tag[] | undefined): Tags {
  const out: Tags = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return out;
}

export function tagList(tags: Tags): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function tagFilter(label: keyof Labels, values: string[]): Ec2Filter {
  return { Name: `tag:${tagKey(label)}`, Values: values };
}

/**
 * The EC2 tags of a resource: our labels under their prefixed keys, and the console's Name, which
 * tells a deployment's volumes apart at a glance (and which the snapshot policy targets: `<name>-data`).
 */
export function tagsFor(labels: Labels, name?: string): Tags {
  return { ...toPrefixedTags(labels), ...(name ? { Name: name } : {}) };
}

/** The Name tag a volume gets for its role. */
export function volumeName(deployment: string, role: string | undefined): string {
  if (role === 'data-volume') return `${deployment}-data`;
  if (role === 'rollback-data') return `${deployment}-rollback-data`;
  if (role === 'root-volume') return `${deployment}-root`;
  return deployment;
}

function split(tags: Ec2Tag[] | undefined): { labels: Labels; foreign: Tags } {
  return fromPrefixedTags(tagsOf(tags));
}

export function toInstanceState(name: string | undefined): InstanceState {
  switch (name) {
    case 'pending':
    case 'running':
    case 'stopping':
    case 'stopped':
    case 'terminated':
      return name;
    case 'shutting-down':
      return 'terminating';
    default:
      return 'pending';
  }
}

/** The device names of a deployment's instance, and which role each holds. */
export const ROOT_DEVICE = '/dev/xvda';
export const DATA_DEVICE = '/dev/sdb';

export function toInstance(instance: Ec2Instance): Instance {
  const { labels, foreign } = split(instance.Tags);
  // The root device the instance reports, when one of its disks is attached there; else the one our
  // RunInstances maps (an emulator may report the image's default, /dev/sda1, with no disk at it).
  const mappings = instance.BlockDeviceMappings ?? [];
  const root = instance.RootDeviceName && mappings.some((m) => m.DeviceName === instance.RootDeviceName) ? instance.RootDeviceName : ROOT_DEVICE;
  const disks: AttachedDisk[] = mappings.flatMap((m) =>
    m.DeviceName && m.Ebs?.VolumeId
      ? [{ role: m.DeviceName === root ? 'root' : m.DeviceName === DATA_DEVICE ? 'data' : 'other', diskId: m.Ebs.VolumeId, deleteWithInstance: m.Ebs.DeleteOnTermination ?? false } as AttachedDisk]
      : [],
  );
  const out: Instance = {
    id: instance.InstanceId ?? '',
    state: toInstanceState(instance.State?.Name),
    machineType: instance.InstanceType ?? '',
    imageId: instance.ImageId ?? '',
    zone: instance.Placement?.AvailabilityZone ?? '',
    // EC2 lists the primary interface's groups on the instance; moto does not for an instance launched
    // with a network interface spec (publicIp false), whose groups are then on the interface only.
    accessPolicyIds: (instance.SecurityGroups?.length ? instance.SecurityGroups : (instance.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === 0 || n.Attachment?.DeviceIndex === undefined)?.Groups ?? [])).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
    disks,
    labels,
    foreignLabels: foreign,
  };
  if (instance.SubnetId) out.subnetId = instance.SubnetId;
  if (instance.PublicIpAddress) out.publicIp = instance.PublicIpAddress;
  if (instance.PrivateIpAddress) out.privateIp = instance.PrivateIpAddress;
  if (instance.LaunchTime) out.launchTime = new Date(instance.LaunchTime).toISOString();
  if (instance.KeyName) out.sshKeyName = instance.KeyName;
  if (instance.ClientToken) out.idempotencyKey = instance.ClientToken;
  if (instance.IamInstanceProfile?.Arn) out.instanceIdentity = instance.IamInstanceProfile.Arn;
  return out;
}

export function toDisk(volume: Ec2Volume): Disk {
  const attachment = volume.Attachments?.[0];
  const out: Disk = {
    id: volume.VolumeId ?? '',
    sizeGiB: volume.Size ?? 0,
    type: volume.VolumeType ?? '',
    state: volume.State ?? '',
    zone: volume.AvailabilityZone ?? '',
    encrypted: volume.Encrypted ?? false,
    labels: split(volume.Tags).labels,
  };
  if (volume.Iops !== undefined) out.iops = volume.Iops;
  if (volume.Throughput !== undefined) out.throughput = volume.Throughput;
  if (volume.KmsKeyId) out.keyId = volume.KmsKeyId;
  if (volume.SnapshotId) out.sourceSnapshotId = volume.SnapshotId;
  if (attachment?.InstanceId) out.attachedTo = attachment.InstanceId;
  return out;
}

export function toSnapshot(s: Ec2Snapshot): Snapshot {
  const out: Snapshot = { id: s.SnapshotId ?? '', state: s.State ?? '', sizeGiB: s.VolumeSize ?? 0, encrypted: s.Encrypted ?? false, labels: split(s.Tags).labels };
  if (s.VolumeId) out.diskId = s.VolumeId;
  if (s.Progress) out.progress = s.Progress;
  if (s.StartTime) out.startTime = new Date(s.StartTime).toISOString();
  if (s.KmsKeyId) out.keyId = s.KmsKeyId;
  if (s.Description) out.description = s.Description;
  return out;
}

/**
 * The description that marks a rule openWorldPort made (how the tool finds it again from any
 * machine; its tags say the same in the console, but DescribeSecurityGroups shows no rule tags).
 */
export const WORLD_PORT_DESCRIPTIONS: Record<WorldPortPurpose, string> = {
  'acme-http-01': "Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme)",
};

function worldPortPurpose(description: string | undefined): WorldPortPurpose | undefined {
  return (Object.keys(WORLD_PORT_DESCRIPTIONS) as WorldPortPurpose[]).find((k) => WORLD_PORT_DESCRIPTIONS[k] === description);
}

export function toAccessPolicy(group: Ec2SecurityGroup): AccessPolicy {
  const rules: AccessPolicy['rules'] = [];
  for (const p of group.IpPermissions ?? []) {
    // Only single-port TCP rules are ours to govern; others are someone else's and left alone.
    if (p.IpProtocol !== 'tcp' || p.FromPort === undefined || p.FromPort !== p.ToPort) continue;
    for (const r of p.IpRanges ?? []) {
      const purpose = worldPortPurpose(r.Description);
      if (r.CidrIp) rules.push({ port: p.FromPort, cidr: r.CidrIp, ...(purpose ? { purpose } : {}) });
    }
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) rules.push({ port: p.FromPort, cidr: r.CidrIpv6 });
  }
  const policy: AccessPolicy = { id: group.GroupId ?? '', name: group.GroupName ?? '', rules, labels: split(group.Tags).labels };
  // Rules whose source is a security group (the cluster ports scale opens between the deployment's machines).
  const clusterRules: ClusterRule[] = [];
  for (const p of group.IpPermissions ?? []) {
    if ((p.IpProtocol !== 'tcp' && p.IpProtocol !== 'udp') || p.FromPort === undefined || p.FromPort !== p.ToPort) continue;
    for (const pair of p.UserIdGroupPairs ?? []) if (pair.GroupId) clusterRules.push({ protocol: p.IpProtocol, port: p.FromPort, sourcePolicyId: pair.GroupId });
  }
  if (clusterRules.length) policy.clusterRules = clusterRules;
  return policy;
}

export function toSshKey(keyPair: Ec2KeyPair): SshKey {
  const { labels } = split(keyPair.Tags);
  return { name: keyPair.KeyName ?? '', managed: labels.managed === 'true', labels };
}

export function toStaticAddress(address: Ec2Address): StaticAddress {
  const { labels } = split(address.Tags);
  const out: StaticAddress = { id: address.AllocationId ?? '', ip: address.PublicIp ?? '', managed: labels.managed === 'true', labels };
  if (address.InstanceId) out.instanceId = address.InstanceId;
  return out;
}

/** `Sourcegraph v6.12.5040` or, up to 5.10, `Sourcegraph-XS (v5.1.0) m6a.2xlarge`. */
export function parsePublishedImageName(name: string): { version: string; size?: string } | undefined {
  if (/-DEV\b/i.test(name) || /\(latest\)/i.test(name)) return undefined;
  const current = /^Sourcegraph v(\d+\.\d+\.\d+)$/.exec(name.trim());
  if (current?.[1]) return { version: current[1] };
  const sized = /^Sourcegraph-([A-Z]+) \(v(\d+\.\d+\.\d+)\)(?:\s|$)/.exec(name.trim());
  if (sized?.[1] && sized[2]) return { version: sized[2], size: sized[1] };
  return undefined;
}

/** Accounts that published Sourcegraph's machine images. */
export const PUBLISHED_IMAGE_OWNERS = ['840044800169', '870751268155'];

export function toImage(image: Ec2Image, source?: Image['source']): Image {
  const { labels, foreign } = split(image.Tags);
  const published = image.OwnerId !== undefined && PUBLISHED_IMAGE_OWNERS.includes(image.OwnerId);
  const built = labels.role === 'image';
  const fromName = image.Name ? parsePublishedImageName(image.Name) : undefined;
  const version = (built ? normalizeVersion(labels.version ?? '') : undefined) ?? fromName?.version ?? normalizeVersion(foreign.Version ?? '');
  const out: Image = { id: image.ImageId ?? '', name: image.Name ?? '', source: source ?? (published ? 'published' : built ? 'built' : 'flag'), labels };
  if (version) out.version = version;
  const size = labels.size ?? fromName?.size;
  if (size) out.size = size;
  if (image.CreationDate) out.createdAt = image.CreationDate;
  if (image.Architecture) out.architecture = image.Architecture;
  if (image.State) out.state = image.State;
  return out;
}

export function snapshotIdsOf(image: Ec2Image): string[] {
  return (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
}
