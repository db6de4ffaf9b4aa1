// Where an instance goes and who may reach it: machine type offerings and placement (default VPC
// subnets by zone), security groups as access policies, key pairs, and Elastic IPs as static
// addresses. Every ensure looks up by tag (or name/id) before creating.
import { CloudError, UsageError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import { CLUSTER_PORTS, type WorldPortPurpose, type AccessPolicy, type AccessPolicySpec, type AccessRule, type AddressSpec, type Placement, type SshKey, type SshKeySpec, type StaticAddress } from '../port.js';
import { call, callUnlessNotFound, paginate, type AwsContext } from './context.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import { tagFilter, tagsFor, toAccessPolicy, toSshKey, toStaticAddress, tagList } from './mappers.js';
import {
  allocateAddressRequest,
  associateAddressRequest,
  authorizeIngressRequest,
  broughtAddressTagsRequest,
  checkGovernedRules,
  clusterIngressRequest,
  createSecurityGroupRequest,
  GOVERNED_PORTS,
  importKeyPairRequest,
  revokeIngressRequest,
  WORLD_CIDR,
  worldPortRequest,
} from './request-builders.js';
import type { Ec2Address, Ec2Filter } from './sdk.js';

// ---- machine types and placement ----

export async function machineTypeZones(c: AwsContext, machineType: string): Promise<string[]> {
  const pages = await paginate(c, 'DescribeInstanceTypeOfferings', (NextToken) =>
    c.ec2.describeInstanceTypeOfferings({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: [machineType] }], ...(NextToken ? { NextToken } : {}) }),
  );
  return [...new Set(pages.flatMap((p) => (p.InstanceTypeOfferings ?? []).flatMap((o) => (o.Location ? [o.Location] : []))))].sort();
}

export async function resolvePlacement(c: AwsContext, subnetId: string | undefined, zones?: string[]): Promise<Placement> {
  if (subnetId) {
    const out = await callUnlessNotFound(c, 'DescribeSubnets', () => c.ec2.describeSubnets({ SubnetIds: [subnetId] }));
    const subnet = out?.Subnets?.[0];
    if (!subnet?.VpcId || !subnet.AvailabilityZone) {
      throw new UsageError(`Subnet ${subnetId} (--subnet) does not exist in ${c.region}`, {
        code: 'subnet-not-found',
        remediation: `List the subnets with \`aws ec2 describe-subnets --region ${c.region}\`, or omit --subnet to use the default VPC.`,
      });
    }
    if (zones && !zones.includes(subnet.AvailabilityZone)) {
      throw new UsageError(`Subnet ${subnetId} (--subnet) is in ${subnet.AvailabilityZone}; this launch needs one of ${zones.join(', ')} (where the instance type is offered and a kept data volume can attach)`, {
        code: 'subnet-zone-mismatch',
        remediation: `Pass a subnet in ${zones.join(' or ')}, or omit --subnet to use the default subnet there.`,
      });
    }
    return { zone: subnet.AvailabilityZone, subnetId, networkId: subnet.VpcId };
  }
  const vpcs = await call(c, 'DescribeVpcs', () => c.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) {
    throw new UsageError(`The account has no default VPC in ${c.region}`, {
      code: 'no-default-vpc',
      remediation: 'Pass --subnet <subnet-id> with a public subnet (one that routes to an internet gateway).',
    });
  }
  const pages = await paginate(c, 'DescribeSubnets', (NextToken) =>
    c.ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'default-for-az', Values: ['true'] }], ...(NextToken ? { NextToken } : {}) }),
  );
  // The first zone by name (of those allowed): deterministic, so a re-run picks the same subnet.
  const subnet = pages
    .flatMap((p) => p.Subnets ?? [])
    .filter((s) => s.SubnetId && s.AvailabilityZone && (!zones || zones.includes(s.AvailabilityZone)))
    .sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
  if (!subnet?.SubnetId || !subnet.AvailabilityZone) {
    throw new UsageError(`The default VPC ${vpcId} in ${c.region} has no default subnet${zones ? ` in ${zones.join(' or ')}` : 's'}`, {
      code: 'no-default-subnet',
      remediation: `Pass --subnet <subnet-id>, or create a default subnet with \`aws ec2 create-default-subnet --availability-zone ${zones?.[0] ?? '<zone>'} --region ${c.region}\`.`,
    });
  }
  return { zone: subnet.AvailabilityZone, subnetId: subnet.SubnetId, networkId: vpcId };
}

// ---- key pairs ----

async function keyPairByName(c: AwsContext, name: string): Promise<SshKey | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeKeyPairs', () => c.ec2.describeKeyPairs({ KeyNames: [name] }));
  const keyPair = out?.KeyPairs?.[0];
  return keyPair ? toSshKey(keyPair) : undefined;
}

export async function describeKeyPairsWhere(c: AwsContext, filters: Ec2Filter[]): Promise<SshKey[]> {
  const out = await call(c, 'DescribeKeyPairs', () => c.ec2.describeKeyPairs({ Filters: filters }));
  return (out.KeyPairs ?? []).map(toSshKey);
}

/** Whose key pair it is, by the label that identifies its owner (a deployment or a build run). */
const ownerOf = (labels: Labels) => labels['build-run'] ?? labels.deployment;

export async function ensureSshKey(c: AwsContext, spec: SshKeySpec, deployment: string, labels: Labels): Promise<SshKey | undefined> {
  if (spec.mode === 'none') return undefined;
  const existing = await keyPairByName(c, spec.name);
  if (spec.mode === 'existing') {
    if (!existing) {
      throw new UsageError(`Key pair "${spec.name}" (--key-name) does not exist in ${c.region}`, {
        code: 'key-pair-not-found',
        remediation: `Check the name with \`aws ec2 describe-key-pairs --region ${c.region}\`, or omit --key-name to let sourcegraph-launch create one.`,
      });
    }
    return existing;
  }
  if (existing) {
    if (ownerOf(existing.labels) === ownerOf(labels)) return existing;
    // Someone else's key under our name: its private half is not the one we hold.
    throw new CloudError('key-pair-conflict', `A key pair named "${spec.name}" already exists in ${c.region} and is not part of ${labels['build-run'] ? `this build run (${labels['build-run']})` : `deployment ${deployment}`}`, {
      remediation: `Use it as your own key with --key-name ${spec.name}, or delete it (\`aws ec2 delete-key-pair --key-name ${spec.name} --region ${c.region}\`).`,
    });
  }
  const request = importKeyPairRequest(spec, labels, labels.build ? spec.name : deployment);
  try {
    await c.ec2.importKeyPair({ ...request, PublicKeyMaterial: new TextEncoder().encode(request.PublicKeyMaterial) });
    // Describe calls may lag a create by a moment (eventual consistency): what was asked for suffices.
    return { name: spec.name, managed: labels.managed === 'true', labels };
  } catch (err) {
    // A concurrent or interrupted earlier run imported it between our lookup and now.
    if (!isAwsErrorCode(err, 'InvalidKeyPair.Duplicate')) throw toLaunchError(err, { operation: 'ImportKeyPair', profile: c.profile, region: c.region });
  }
  return (await keyPairByName(c, spec.name)) ?? { name: spec.name, managed: true, labels };
}

export async function deleteSshKey(c: AwsContext, name: string): Promise<void> {
  await callUnlessNotFound(c, 'DeleteKeyPair', () => c.ec2.deleteKeyPair({ KeyName: name }));
}

// ---- security groups ----

export async function describeGroupsWhere(c: AwsContext, filters: Ec2Filter[]): Promise<AccessPolicy[]> {
  const pages = await paginate(c, 'DescribeSecurityGroups', (NextToken) => c.ec2.describeSecurityGroups({ Filters: filters, ...(NextToken ? { NextToken } : {}) }));
  return pages.flatMap((p) => p.SecurityGroups ?? []).map(toAccessPolicy);
}

async function describeGroup(c: AwsContext, groupId: string): Promise<AccessPolicy | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeSecurityGroups', () => c.ec2.describeSecurityGroups({ GroupIds: [groupId] }));
  const group = out?.SecurityGroups?.[0];
  return group ? toAccessPolicy(group) : undefined;
}

/** What the security group is for, as the console shows it. */
export function groupDescription(spec: AccessPolicySpec): string {
  return spec.labels.build
    ? `Temporary: SSH to the image builder ${spec.labels.build} (sourcegraph-launch build-image)`
    : `Sourcegraph deployment ${spec.deployment} (sourcegraph-launch)`;
}

const ruleKey = (r: AccessRule) => `${r.port}/${r.cidr}`;

export async function ensureAccessPolicy(c: AwsContext, spec: AccessPolicySpec): Promise<AccessPolicy> {
  checkGovernedRules(spec.rules);
  const vpcId = spec.placement.networkId;
  if (!vpcId) throw new CloudError('no-network', `No VPC known for the placement in ${spec.placement.zone}`);
  const owner = spec.labels['build-run'] ? tagFilter('build-run', [spec.labels['build-run']]) : tagFilter('deployment', [spec.deployment]);
  // In the spec's role only: a deployment's other policies (an upgrade rehearsal's) are never taken for its own.
  const mine = await describeGroupsWhere(c, [owner, tagFilter('role', [spec.labels.role ?? 'security-group']), { Name: 'vpc-id', Values: [vpcId] }]);
  let group = mine.find((g) => g.name === spec.name) ?? mine[0];
  if (!group) {
    const request = createSecurityGroupRequest(spec, vpcId, groupDescription(spec), spec.labels.build ? spec.name : spec.deployment);
    try {
      const out = await c.ec2.createSecurityGroup(request);
      group = (out.GroupId && (await describeGroup(c, out.GroupId))) || { id: out.GroupId ?? '', name: spec.name, rules: [], labels: spec.labels };
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidGroup.Duplicate')) throw toLaunchError(err, { operation: 'CreateSecurityGroup', profile: c.profile, region: c.region });
      const sameName = await describeGroupsWhere(c, [{ Name: 'group-name', Values: [spec.name] }, { Name: 'vpc-id', Values: [vpcId] }]);
      group = sameName[0];
      // Ours only when made for the same deployment (or, for a builder's, the same build run).
      if (group && (group.labels['build-run'] ?? group.labels.deployment) !== (spec.labels['build-run'] ?? spec.deployment)) {
        const owner = spec.labels['build-run'] ? `build run ${spec.labels['build-run']}` : `deployment ${spec.deployment}`;
        throw new CloudError('security-group-conflict', `A security group named "${group.name}" (${group.id}) already exists in ${vpcId} and is not part of ${owner}`, {
          remediation: 'Choose another deployment name, or delete that security group if it is left over.',
        });
      }
    }
    if (!group) throw new CloudError('security-group-missing', `Security group for ${spec.deployment} was created but cannot be found`);
  }
  await authorizeMissing(c, group, spec.rules, spec.labels.build ? () => 'SSH for sourcegraph-launch build-image' : undefined);
  await revokeUnwanted(c, group, spec.rules);
  return (await describeGroup(c, group.id)) ?? group;
}

/** Opens only what is not open yet; a rule that appears meanwhile (InvalidPermission.Duplicate) counts as done. */
async function authorizeMissing(c: AwsContext, group: AccessPolicy, rules: AccessRule[], describe?: (port: number) => string): Promise<void> {
  const present = new Set(group.rules.map(ruleKey));
  const missing = rules.filter((r) => !present.has(ruleKey(r)));
  if (!missing.length) return;
  const authorize = (subset: AccessRule[]) => c.ec2.authorizeSecurityGroupIngress(authorizeIngressRequest(group.id, subset, describe));
  try {
    await authorize(missing);
  } catch (err) {
    if (!isAwsErrorCode(err, 'InvalidPermission.Duplicate')) throw toLaunchError(err, { operation: 'AuthorizeSecurityGroupIngress', profile: c.profile, region: c.region });
    // One duplicate fails the whole request: add the rules one at a time.
    for (const rule of missing) {
      try {
        await authorize([rule]);
      } catch (ruleErr) {
        if (!isAwsErrorCode(ruleErr, 'InvalidPermission.Duplicate')) throw toLaunchError(ruleErr, { operation: 'AuthorizeSecurityGroupIngress', profile: c.profile, region: c.region });
      }
    }
  }
}

/**
 * Closes a 22/80/443 rule the spec no longer asks for (a CIDR dropped, SSH turned off), so
 * re-running with narrower access really narrows it; rules on other ports are someone else's.
 */
async function revokeUnwanted(c: AwsContext, group: AccessPolicy, rules: AccessRule[]): Promise<void> {
  const wanted = new Set(rules.map(ruleKey));
  // A rule opened for a purpose (openWorldPort: tls --tls acme) is the day-two command's to close.
  const unwanted = group.rules.filter((r) => GOVERNED_PORTS.has(r.port) && !r.purpose && !wanted.has(ruleKey(r)));
  if (!unwanted.length) return;
  try {
    await c.ec2.revokeSecurityGroupIngress(revokeIngressRequest(group.id, unwanted));
  } catch (err) {
    if (!isAwsErrorCode(err, 'InvalidPermission.NotFound')) throw toLaunchError(err, { operation: 'RevokeSecurityGroupIngress', profile: c.profile, region: c.region });
  }
}

export async function deleteAccessPolicy(c: AwsContext, groupId: string): Promise<void> {
  const deadline = c.now() + c.dependencyRetryMs;
  for (;;) {
    try {
      await c.ec2.deleteSecurityGroup({ GroupId: groupId });
      return;
    } catch (err) {
      if (isAwsErrorCode(err, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return;
      if (!isAwsErrorCode(err, 'DependencyViolation')) throw toLaunchError(err, { operation: 'DeleteSecurityGroup', profile: c.profile, region: c.region });
      if (c.now() >= deadline) {
        throw new CloudError('security-group-in-use', `Security group ${groupId} is still in use`, {
          cause: err,
          remediation:
            'A network interface still uses it (a terminated instance releases its interface after a few minutes, or another resource was attached to the group). Run the same command again later.',
        });
      }
    }
    await c.sleep(c.pollIntervalMs);
  }
}

// ---- Elastic IPs ----

export async function describeAddressesWhere(c: AwsContext, filters: Ec2Filter[]): Promise<StaticAddress[]> {
  const out = await call(c, 'DescribeAddresses', () => c.ec2.describeAddresses({ Filters: filters }));
  return (out.Addresses ?? []).map(toStaticAddress);
}

async function describeRawAddress(c: AwsContext, allocationId: string): Promise<Ec2Address | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeAddresses', () => c.ec2.describeAddresses({ AllocationIds: [allocationId] }));
  return out?.Addresses?.[0];
}

async function describeAddress(c: AwsContext, allocationId: string): Promise<StaticAddress | undefined> {
  const address = await describeRawAddress(c, allocationId);
  return address ? toStaticAddress(address) : undefined;
}

/** The state and labels of an instance, to tell whose an address's holder is. */
export type DescribeHolder = (instanceId: string) => Promise<{ state: string; labels: Labels } | undefined>;

/**
 * Refuses an address that serves something else: associated with a network interface that is not
 * an instance (a NAT gateway, a load balancer), or with a live instance of another deployment (or
 * of none). Moving it from an instance of the same deployment (an upgrade's old instance), or from
 * one that is gone, is how the URL follows the service.
 */
async function checkHolder(address: Ec2Address, deployment: string | undefined, describeHolder: DescribeHolder): Promise<void> {
  if (!address.AssociationId && !address.InstanceId) return;
  const holder = address.InstanceId ? await describeHolder(address.InstanceId) : undefined;
  if (address.InstanceId && (!holder || holder.state === 'terminated')) return;
  if (holder && deployment !== undefined && holder.labels.deployment === deployment) return;
  throw new CloudError(
    'address-in-use',
    `Elastic IP ${address.PublicIp ?? ''} (${address.AllocationId ?? ''}) is associated with ${address.InstanceId ?? address.NetworkInterfaceId ?? 'another resource'}, which is not part of ${deployment !== undefined ? `deployment ${deployment}` : 'this deployment'}`,
    { remediation: 'Disassociate it first, or choose another Elastic IP.' },
  );
}

export async function ensureStaticAddress(c: AwsContext, spec: AddressSpec, describeHolder: DescribeHolder): Promise<StaticAddress | undefined> {
  if (spec.mode === 'none') return undefined;
  if (spec.mode === 'existing') {
    const raw = await describeRawAddress(c, spec.id);
    if (!raw) {
      throw new UsageError(`Elastic IP ${spec.id} does not exist in ${c.region}`, {
        code: 'address-not-found',
        remediation: `List your addresses with \`aws ec2 describe-addresses --region ${c.region}\`.`,
      });
    }
    const address = toStaticAddress(raw);
    if (address.labels.deployment !== undefined && address.labels.deployment !== spec.deployment) {
      throw new CloudError('address-in-use', `Elastic IP ${address.ip} (${spec.id}) is the address of deployment ${address.labels.deployment}`, {
        remediation: 'Choose another Elastic IP for this deployment.',
      });
    }
    if (address.labels.deployment !== spec.deployment) {
      // Checked before it is tagged: an address serving something else must not become ours, even on paper.
      await checkHolder(raw, spec.deployment, describeHolder);
      // The user's own address is the deployment's URL too: tagged as theirs, so upgrade, rollback
      // and status find it from any machine, and nothing ever releases it.
      await call(c, 'CreateTags', () => c.ec2.createTags(broughtAddressTagsRequest(spec.deployment, spec.id)));
      return (await describeAddress(c, spec.id)) ?? { ...address, labels: { ...address.labels, deployment: spec.deployment, role: 'address', owner: 'user' } };
    }
    return address;
  }
  const ours = await describeAddressesWhere(c, [tagFilter('deployment', [spec.deployment]), tagFilter('role', ['address'])]);
  const found = ours.find((a) => a.managed) ?? ours[0];
  if (found) return found;
  const out = await call(c, 'AllocateAddress', () => c.ec2.allocateAddress(allocateAddressRequest(spec.labels, spec.deployment)));
  if (!out.AllocationId) throw new CloudError('allocate-address-empty', 'AllocateAddress returned no allocation id');
  return (await describeAddress(c, out.AllocationId)) ?? { id: out.AllocationId, ip: out.PublicIp ?? '', managed: true, labels: spec.labels };
}

/** Moves the address to this instance: from nothing, from a gone instance, or from one of the same deployment. */
export async function attachStaticAddress(c: AwsContext, allocationId: string, instanceId: string, describeHolder: DescribeHolder): Promise<StaticAddress> {
  const address = await describeRawAddress(c, allocationId);
  if (!address) throw new UsageError(`Elastic IP ${allocationId} does not exist in ${c.region}`, { code: 'address-not-found' });
  if (address.InstanceId === instanceId) return toStaticAddress(address);
  const associated = address.AssociationId !== undefined || address.InstanceId !== undefined;
  if (associated) await checkHolder(address, (await describeHolder(instanceId))?.labels.deployment, describeHolder);
  await call(c, 'AssociateAddress', () => c.ec2.associateAddress(associateAddressRequest(allocationId, instanceId, { allowReassociation: associated })));
  return (await describeAddress(c, allocationId)) ?? { ...toStaticAddress(address), instanceId };
}

/**
 * Detaches the address; with `fromInstanceId`, only from that instance (like detachDisk): a build's
 * cleanup must not cut off a deployment the address was moved to meanwhile.
 */
export async function detachStaticAddress(c: AwsContext, allocationId: string, fromInstanceId?: string): Promise<void> {
  const address = await describeRawAddress(c, allocationId);
  const associationId = address?.AssociationId;
  if (!associationId || (fromInstanceId !== undefined && address.InstanceId !== fromInstanceId)) return;
  await callUnlessNotFound(c, 'DisassociateAddress', () => c.ec2.disassociateAddress({ AssociationId: associationId }));
}

/** Releases an address the tool reserved; one the user brought (not managed) is theirs and is refused. */
export async function releaseStaticAddress(c: AwsContext, allocationId: string): Promise<void> {
  const address = await describeAddress(c, allocationId);
  if (!address) return;
  if (!address.managed) {
    throw new CloudError('address-not-managed', `Elastic IP ${address.ip} (${allocationId}) was not reserved by sourcegraph-launch; it is never released`, {
      remediation: `If it is no longer needed, release it yourself: \`aws ec2 release-address --allocation-id ${allocationId} --region ${c.region}\`.`,
    });
  }
  await callUnlessNotFound(c, 'ReleaseAddress', () => c.ec2.releaseAddress({ AllocationId: allocationId }));
}

/** Tags (by neutral labels) on any EC2 resource. */
export async function setLabels(c: AwsContext, ids: string[], labels: Labels, extra: Record<string, string> = {}): Promise<void> {
  if (!ids.length || (!Object.keys(labels).length && !Object.keys(extra).length)) return;
  await call(c, 'CreateTags', () => c.ec2.createTags({ Resources: ids, Tags: tagList({ ...tagsFor(labels), ...extra }) }));
}

/**
 * Opens the k3s cluster ports (port.CLUSTER_PORTS) to the group's own members, only those not open
 * yet; a rule that appears meanwhile (InvalidPermission.Duplicate) counts as done.
 */
export async function ensureClusterAccess(c: AwsContext, groupId: string): Promise<AccessPolicy> {
  const group = await describeGroup(c, groupId);
  if (!group) throw new CloudError('security-group-missing', `Security group ${groupId} does not exist in ${c.region}`, { remediation: 'Run launch again to recreate it, then scale.' });
  const have = group.clusterRules ?? [];
  const missing = CLUSTER_PORTS.filter((p) => !have.some((r) => r.protocol === p.protocol && r.port === p.port && r.sourcePolicyId === groupId));
  for (const port of missing) {
    try {
      await c.ec2.authorizeSecurityGroupIngress(clusterIngressRequest(groupId, [port]));
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidPermission.Duplicate')) throw toLaunchError(err, { operation: 'AuthorizeSecurityGroupIngress', profile: c.profile, region: c.region });
    }
  }
  return (await describeGroup(c, groupId)) ?? group;
}

/** Opens `port` to 0.0.0.0/0 as a rule marked for `purpose`; a user's rule to the world already there is left as theirs. */
export async function openWorldPort(c: AwsContext, groupId: string, port: number, purpose: WorldPortPurpose): Promise<'opened' | 'already-open'> {
  const group = await describeGroup(c, groupId);
  if (!group) throw new CloudError('security-group-missing', `Security group ${groupId} does not exist in ${c.region}`, { remediation: 'Run launch again to recreate it.' });
  const open = group.rules.find((r) => r.port === port && r.cidr === WORLD_CIDR);
  if (open) return open.purpose === purpose ? 'opened' : 'already-open';
  try {
    await c.ec2.authorizeSecurityGroupIngress(worldPortRequest(groupId, port, purpose, group.labels.deployment ?? group.name));
  } catch (err) {
    if (!isAwsErrorCode(err, 'InvalidPermission.Duplicate')) throw toLaunchError(err, { operation: 'AuthorizeSecurityGroupIngress', profile: c.profile, region: c.region });
    // Opened meanwhile: by a concurrent run of ours (marked) or by the user (theirs).
    const again = (await describeGroup(c, groupId))?.rules.find((r) => r.port === port && r.cidr === WORLD_CIDR);
    return again?.purpose === purpose ? 'opened' : 'already-open';
  }
  return 'opened';
}

/** Closes only the rule openWorldPort made for `purpose`. */
export async function closeWorldPort(c: AwsContext, groupId: string, port: number, purpose: WorldPortPurpose): Promise<'closed' | 'absent'> {
  const group = await describeGroup(c, groupId);
  const rule = group?.rules.find((r) => r.port === port && r.cidr === WORLD_CIDR && r.purpose === purpose);
  if (!rule) return 'absent';
  try {
    await c.ec2.revokeSecurityGroupIngress(revokeIngressRequest(groupId, [{ port, cidr: WORLD_CIDR }]));
  } catch (err) {
    if (isAwsErrorCode(err, 'InvalidPermission.NotFound', 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return 'absent';
    throw toLaunchError(err, { operation: 'RevokeSecurityGroupIngress', profile: c.profile, region: c.region });
  }
  return 'closed';
}
