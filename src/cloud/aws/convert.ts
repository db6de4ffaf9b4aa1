// EC2 shapes → our types, shared by the adapter's modules (aws-cloud, aws-upgrade, aws-image-build).
import { TAG_MANAGED, type InstanceInfo, type InstanceState, type KeyPairInfo, type SecurityGroupInfo, type Tags } from '../cloud.js';
import type { Ec2Filter, Ec2Instance, Ec2KeyPair, Ec2SecurityGroup, Ec2Tag } from './sdk.js';

export function tagsOf(tags: Ec2Tag[] | undefined): Tags {
  const out: Tags = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return out;
}

export function tagList(tags: Tags): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function tagFilter(key: string, values: string[]): Ec2Filter {
  return { Name: `tag:${key}`, Values: values };
}

export function toInstanceState(name: string | undefined): InstanceState {
  switch (name) {
    case 'pending':
    case 'running':
    case 'stopping':
    case 'stopped':
    case 'shutting-down':
    case 'terminated':
      return name;
    default:
      return 'pending';
  }
}

export function toInstanceInfo(instance: Ec2Instance): InstanceInfo {
  const info: InstanceInfo = {
    id: instance.InstanceId ?? '',
    state: toInstanceState(instance.State?.Name),
    instanceType: instance.InstanceType ?? '',
    imageId: instance.ImageId ?? '',
    availabilityZone: instance.Placement?.AvailabilityZone ?? '',
    securityGroupIds: (instance.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
    volumes: (instance.BlockDeviceMappings ?? []).flatMap((m) =>
      m.DeviceName && m.Ebs?.VolumeId
        ? [{ device: m.DeviceName, volumeId: m.Ebs.VolumeId, deleteOnTermination: m.Ebs.DeleteOnTermination ?? false }]
        : [],
    ),
    tags: tagsOf(instance.Tags),
  };
  if (instance.SubnetId) info.subnetId = instance.SubnetId;
  if (instance.VpcId) info.vpcId = instance.VpcId;
  if (instance.PublicIpAddress) info.publicIp = instance.PublicIpAddress;
  if (instance.PrivateIpAddress) info.privateIp = instance.PrivateIpAddress;
  if (instance.LaunchTime) info.launchTime = new Date(instance.LaunchTime).toISOString();
  if (instance.KeyName) info.keyName = instance.KeyName;
  if (instance.ClientToken) info.idempotencyKey = instance.ClientToken;
  return info;
}

export function toSecurityGroupInfo(group: Ec2SecurityGroup): SecurityGroupInfo {
  const ingress: SecurityGroupInfo['ingress'] = [];
  for (const permission of group.IpPermissions ?? []) {
    const cidrs = [
      ...(permission.IpRanges ?? []).map((r) => r.CidrIp),
      ...(permission.Ipv6Ranges ?? []).map((r) => r.CidrIpv6),
    ];
    for (const cidr of cidrs) {
      if (!cidr) continue;
      const rule: SecurityGroupInfo['ingress'][number] = { protocol: permission.IpProtocol ?? '', cidr };
      if (permission.FromPort !== undefined) rule.fromPort = permission.FromPort;
      if (permission.ToPort !== undefined) rule.toPort = permission.ToPort;
      ingress.push(rule);
    }
  }
  const info: SecurityGroupInfo = { id: group.GroupId ?? '', name: group.GroupName ?? '', tags: tagsOf(group.Tags), ingress };
  if (group.VpcId) info.vpcId = group.VpcId;
  return info;
}

export function toKeyPairInfo(keyPair: Ec2KeyPair): KeyPairInfo {
  const tags = tagsOf(keyPair.Tags);
  const info: KeyPairInfo = { name: keyPair.KeyName ?? '', tags, managed: tags[TAG_MANAGED] === 'true' };
  if (keyPair.KeyPairId) info.id = keyPair.KeyPairId;
  if (keyPair.KeyFingerprint) info.fingerprint = keyPair.KeyFingerprint;
  return info;
}
