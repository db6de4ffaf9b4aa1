// Image builds on AWS (issue 4): the builder's key pair, security group and instance, CreateImage
// of its two disks, and the cleanup. Free functions over the narrow EC2 client of sdk.ts, so
// AwsCloud only delegates; the request builders are pure and feed both the calls and --dry-run.
//
// Every resource a build makes is tagged at creation with TAG_BUILD = spec.buildName: a re-run
// finds what an interrupted run made instead of making it twice, and the cleanup removes exactly
// the build's own resources.
import { CloudError, InterruptedError, WaitTimeoutError } from '../../core/errors.js';
import {
  TAG_BUILD,
  TAG_BUILD_RUN,
  TAG_MANAGED,
  TAG_PROVISIONED,
  TAG_ROLE,
  TAG_SIZE,
  TAG_SOURCE_COMMIT,
  TAG_VERSION,
  type AddressInfo,
  type CloudRequest,
  type ImageBuildResources,
  type ImageBuildSpec,
  type ImageInfo,
  type InstanceInfo,
  type InstanceState,
  type KeyPairInfo,
  type LaunchRefs,
  type NetworkPlacement,
  type ResourceRole,
  type SecurityGroupInfo,
} from '../cloud.js';
import { isAwsErrorCode, isNotFoundError, toLaunchError } from './errors.js';
import { tagsOf, toInstanceInfo, toKeyPairInfo, toSecurityGroupInfo } from './convert.js';
import { authorizeIngressRequest } from './requests.js';
import type { Ec2Api, Ec2Filter, Ec2Image, Ec2InstanceType } from './sdk.js';

/** Amazon's own Amazon Linux 2023 images (not the minimal ones), x86_64 like every size preset. */
export const AL2023_IMAGE_NAME = 'al2023-ami-2023.*-kernel-*-x86_64';

const LIVE_INSTANCE_STATES: InstanceState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

/** What the functions here need from the adapter: the client and how to wait and name errors. */
export interface ImageBuildContext {
  ec2: Ec2Api;
  region: string;
  profile: string;
  pollIntervalMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
}

function imageInfo(image: Ec2Image, source: ImageInfo['source']): ImageInfo {
  const tags = tagsOf(image.Tags);
  const info: ImageInfo = { id: image.ImageId ?? '', name: image.Name ?? '', source };
  if (tags[TAG_VERSION]) info.version = tags[TAG_VERSION];
  if (image.OwnerId) info.ownerId = image.OwnerId;
  if (image.CreationDate) info.creationDate = image.CreationDate;
  if (image.Architecture) info.architecture = image.Architecture;
  if (image.State) info.state = image.State;
  info.tags = tags;
  return info;
}

function snapshotIdsOf(image: Ec2Image): string[] {
  return (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
}

// ---- pure request builders (also what --dry-run prints) ----

export interface BuildTag {
  Key: string;
  Value: string;
}

/** The tags every build resource carries; the image's set is what launch's findImage looks for. */
export function buildTags(spec: Pick<ImageBuildSpec, 'buildName' | 'runId' | 'version' | 'size'>, role: ResourceRole, name: string): BuildTag[] {
  return [
    { Key: TAG_BUILD, Value: spec.buildName },
    { Key: TAG_BUILD_RUN, Value: spec.runId },
    { Key: TAG_ROLE, Value: role },
    { Key: TAG_VERSION, Value: spec.version },
    { Key: TAG_SIZE, Value: spec.size },
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: 'Name', Value: name },
  ];
}

function imageTags(spec: ImageBuildSpec): BuildTag[] {
  return [...buildTags(spec, 'image', spec.imageName), { Key: TAG_SOURCE_COMMIT, Value: spec.sourceCommit }];
}

/** The temporary security group's name (unique per VPC, so per build run). */
export function builderGroupName(spec: Pick<ImageBuildSpec, 'buildName' | 'runId'>): string {
  return `sourcegraph-launch-build-${spec.buildName}-${spec.runId}`;
}

export function builderKeyPairRequest(spec: ImageBuildSpec) {
  return {
    KeyName: spec.keyName,
    PublicKeyMaterial: spec.publicKey,
    TagSpecifications: [{ ResourceType: 'key-pair' as const, Tags: buildTags(spec, 'key-pair', spec.keyName) }],
  };
}

export function builderSecurityGroupRequest(spec: ImageBuildSpec, vpcId: string) {
  return {
    GroupName: builderGroupName(spec),
    Description: `Temporary: SSH to the image builder ${spec.buildName} (sourcegraph-launch build-image)`,
    VpcId: vpcId,
    TagSpecifications: [{ ResourceType: 'security-group' as const, Tags: buildTags(spec, 'security-group', builderGroupName(spec)) }],
  };
}

/** Port 22 from the build machine only: the builder serves nothing else. */
export function builderIngressRequest(groupId: string, sshCidrs: string[]) {
  return authorizeIngressRequest(
    groupId,
    sshCidrs.map((cidr) => ({ port: 22, cidr, description: 'SSH for sourcegraph-launch build-image' })),
  );
}

/**
 * Unlike a deployment, both volumes go with the builder: the image's snapshots hold their
 * content, and a leftover 500 GiB volume would only cost money.
 */
export function builderRunInstancesRequest(spec: ImageBuildSpec, refs: Pick<LaunchRefs, 'keyName' | 'securityGroupId' | 'subnetId'>) {
  const ebs = (v: { sizeGiB: number; type: 'gp3' }) => ({
    VolumeSize: v.sizeGiB,
    VolumeType: v.type,
    DeleteOnTermination: true,
    Encrypted: true as const,
    ...(spec.kmsKeyId ? { KmsKeyId: spec.kmsKeyId } : {}),
  });
  const name = `sourcegraph-launch-builder-${spec.buildName}`;
  const subnetId = refs.subnetId ?? spec.subnetId;
  return {
    ImageId: spec.baseImageId,
    InstanceType: spec.instanceType,
    MinCount: 1 as const,
    MaxCount: 1 as const,
    KeyName: refs.keyName,
    SecurityGroupIds: [refs.securityGroupId],
    ...(subnetId ? { SubnetId: subnetId } : {}),
    ClientToken: spec.clientToken,
    MetadataOptions: { HttpTokens: 'required' as const, HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' as const },
    BlockDeviceMappings: [
      { DeviceName: spec.rootVolume.device, Ebs: ebs(spec.rootVolume) },
      { DeviceName: spec.dataVolume.device, Ebs: ebs(spec.dataVolume) },
    ],
    TagSpecifications: [
      { ResourceType: 'instance' as const, Tags: buildTags(spec, 'builder', name) },
      { ResourceType: 'volume' as const, Tags: buildTags(spec, 'builder', name) },
    ],
  };
}

/**
 * CreateImage takes every EBS volume attached to the builder (root and data) into the image.
 * NoReboot false: AWS stops the instance cleanly first if it still runs, so the file systems are
 * consistent. Only the image is tagged here: snapshot TagSpecifications are not supported by every
 * EC2 implementation (moto raises on them), so the snapshots are tagged once the image is available.
 */
export function createImageRequest(spec: ImageBuildSpec, instanceId: string) {
  return {
    InstanceId: instanceId,
    Name: spec.imageName,
    Description: `Sourcegraph ${spec.version} (${spec.size}) built by sourcegraph-launch from ${spec.sourceCommit}`,
    NoReboot: false,
    TagSpecifications: [{ ResourceType: 'image' as const, Tags: imageTags(spec) }],
  };
}

function ec2Request(operation: string, input: object): CloudRequest {
  return { service: 'ec2', operation, input: { ...input } };
}

/** Every mutating request of a build, in order, with placeholders for IDs earlier requests return. */
export function imageBuildRequests(spec: ImageBuildSpec, opts: { elasticIpAllocationId?: string } = {}): CloudRequest[] {
  const vpcId = spec.subnetId ? `<VpcId of ${spec.subnetId} from DescribeSubnets>` : '<VpcId of the default VPC from DescribeVpcs>';
  const groupId = '<SecurityGroupId from CreateSecurityGroup>';
  const instanceId = '<InstanceId from RunInstances>';
  const imageId = '<ImageId from CreateImage>';
  const requests: CloudRequest[] = [
    ec2Request('ImportKeyPair', builderKeyPairRequest(spec)),
    ec2Request('CreateSecurityGroup', builderSecurityGroupRequest(spec, vpcId)),
    ec2Request('AuthorizeSecurityGroupIngress', builderIngressRequest(groupId, spec.sshCidrs)),
    ec2Request('RunInstances', builderRunInstancesRequest(spec, { keyName: spec.keyName, securityGroupId: groupId })),
  ];
  if (opts.elasticIpAllocationId) {
    requests.push(ec2Request('AssociateAddress', { AllocationId: opts.elasticIpAllocationId, InstanceId: instanceId }));
  }
  requests.push(
    ec2Request('CreateTags', { Resources: [instanceId], Tags: [{ Key: TAG_PROVISIONED, Value: 'true' }] }),
    ec2Request('StopInstances', { InstanceIds: [instanceId] }),
    ec2Request('CreateImage', createImageRequest(spec, instanceId)),
    ec2Request('CreateTags', { Resources: [`<SnapshotIds of ${imageId}>`], Tags: imageTags(spec) }),
  );
  if (opts.elasticIpAllocationId) {
    requests.push(ec2Request('DisassociateAddress', { AssociationId: '<AssociationId from AssociateAddress>' }));
  }
  requests.push(
    ec2Request('TerminateInstances', { InstanceIds: [instanceId] }),
    ec2Request('DeleteSecurityGroup', { GroupId: groupId }),
    ec2Request('DeleteKeyPair', { KeyName: spec.keyName }),
  );
  return requests;
}

// ---- calls ----

async function call<T>(ctx: ImageBuildContext, operation: string, send: () => Promise<T>, instanceType?: string): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, profile: ctx.profile, region: ctx.region, ...(instanceType ? { instanceType } : {}) });
  }
}

async function callUnlessNotFound<T>(ctx: ImageBuildContext, operation: string, send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if (isNotFoundError(err) || isAwsErrorCode(err, 'InvalidAMIID.Unavailable', 'InvalidSnapshot.NotFound')) return undefined;
    throw toLaunchError(err, { operation, profile: ctx.profile, region: ctx.region });
  }
}

const buildFilter = (buildName: string): Ec2Filter => ({ Name: `tag:${TAG_BUILD}`, Values: [buildName] });
const runFilter = (runId: string): Ec2Filter => ({ Name: `tag:${TAG_BUILD_RUN}`, Values: [runId] });

export async function findBuildBaseImage(ctx: ImageBuildContext): Promise<ImageInfo | undefined> {
  const images: Ec2Image[] = [];
  let token: string | undefined;
  do {
    const page = await call(ctx, 'DescribeImages', () =>
      ctx.ec2.describeImages({
        Owners: ['amazon'],
        Filters: [
          { Name: 'name', Values: [AL2023_IMAGE_NAME] },
          { Name: 'architecture', Values: ['x86_64'] },
          { Name: 'state', Values: ['available'] },
        ],
        ...(token ? { NextToken: token } : {}),
      }),
    );
    images.push(...(page.Images ?? []));
    token = page.NextToken || undefined;
  } while (token);
  // Newest first; the name carries the release date, which breaks ties between equal timestamps.
  images.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') || (b.Name ?? '').localeCompare(a.Name ?? ''));
  return images[0] ? imageInfo(images[0], 'published') : undefined;
}

async function describeBuildInstances(ctx: ImageBuildContext, filter: Ec2Filter): Promise<InstanceInfo[]> {
  const out = await call(ctx, 'DescribeInstances', () =>
    ctx.ec2.describeInstances({ Filters: [filter, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }] }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(toInstanceInfo);
}

async function describeBuildImages(ctx: ImageBuildContext, filter: Ec2Filter): Promise<Ec2Image[]> {
  const out = await call(ctx, 'DescribeImages', () => ctx.ec2.describeImages({ Owners: ['self'], Filters: [filter] }));
  return out.Images ?? [];
}

export async function findImageBuild(ctx: ImageBuildContext, buildName: string): Promise<ImageBuildResources> {
  const [builders, groups, keyPairs, images] = await Promise.all([
    describeBuildInstances(ctx, buildFilter(buildName)),
    call(ctx, 'DescribeSecurityGroups', () => ctx.ec2.describeSecurityGroups({ Filters: [buildFilter(buildName)] })),
    call(ctx, 'DescribeKeyPairs', () => ctx.ec2.describeKeyPairs({ Filters: [buildFilter(buildName)] })),
    describeBuildImages(ctx, buildFilter(buildName)),
  ]);
  return {
    builders: builders.filter((i) => i.tags[TAG_ROLE] === 'builder'),
    securityGroups: (groups.SecurityGroups ?? []).map(toSecurityGroupInfo),
    keyPairs: (keyPairs.KeyPairs ?? []).map(toKeyPairInfo),
    images: images.map((i) => imageInfo(i, 'built')),
  };
}

export async function ensureBuilderKeyPair(ctx: ImageBuildContext, spec: ImageBuildSpec): Promise<KeyPairInfo> {
  const request = builderKeyPairRequest(spec);
  const existing = await callUnlessNotFound(ctx, 'DescribeKeyPairs', () => ctx.ec2.describeKeyPairs({ KeyNames: [spec.keyName] }));
  const found = existing?.KeyPairs?.[0];
  if (found) {
    const info = toKeyPairInfo(found);
    if (info.tags[TAG_BUILD_RUN] === spec.runId) return info;
    throw new CloudError('key-pair-conflict', `A key pair named "${spec.keyName}" already exists in ${ctx.region} and is not part of this build run (${spec.runId})`, {
      remediation: `Delete it if it is left over (\`aws ec2 delete-key-pair --key-name ${spec.keyName} --region ${ctx.region}\`) and run the build again.`,
    });
  }
  const out = await call(ctx, 'ImportKeyPair', () =>
    ctx.ec2.importKeyPair({ ...request, PublicKeyMaterial: new TextEncoder().encode(request.PublicKeyMaterial) }),
  );
  return toKeyPairInfo({ KeyName: spec.keyName, KeyPairId: out.KeyPairId, KeyFingerprint: out.KeyFingerprint, Tags: request.TagSpecifications[0]?.Tags });
}

export async function ensureBuilderSecurityGroup(ctx: ImageBuildContext, spec: ImageBuildSpec, placement: NetworkPlacement): Promise<SecurityGroupInfo> {
  const describe = async (filters: Ec2Filter[]) =>
    ((await call(ctx, 'DescribeSecurityGroups', () => ctx.ec2.describeSecurityGroups({ Filters: filters }))).SecurityGroups ?? []).map(
      toSecurityGroupInfo,
    );
  let group = (await describe([runFilter(spec.runId), { Name: 'vpc-id', Values: [placement.vpcId] }]))[0];
  if (!group) {
    const request = builderSecurityGroupRequest(spec, placement.vpcId);
    try {
      const out = await ctx.ec2.createSecurityGroup(request);
      group = { id: out.GroupId ?? '', name: request.GroupName, vpcId: placement.vpcId, tags: tagsOf(request.TagSpecifications[0]?.Tags), ingress: [] };
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidGroup.Duplicate')) {
        throw toLaunchError(err, { operation: 'CreateSecurityGroup', profile: ctx.profile, region: ctx.region });
      }
      throw new CloudError('security-group-conflict', `A security group named "${request.GroupName}" already exists in ${placement.vpcId} and is not part of build ${spec.buildName}`, {
        remediation: 'Delete it if it is left over and run the build again.',
      });
    }
  }
  const open = new Set(group.ingress.filter((r) => r.fromPort === 22 && r.toPort === 22).map((r) => r.cidr));
  const missing = spec.sshCidrs.filter((c) => !open.has(c));
  if (missing.length) {
    const target = group;
    try {
      await ctx.ec2.authorizeSecurityGroupIngress(builderIngressRequest(target.id, missing));
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidPermission.Duplicate')) {
        throw toLaunchError(err, { operation: 'AuthorizeSecurityGroupIngress', profile: ctx.profile, region: ctx.region });
      }
    }
    group = { ...group, ingress: [...group.ingress, ...missing.map((cidr) => ({ protocol: 'tcp', fromPort: 22, toPort: 22, cidr }))] };
  }
  return group;
}

export async function ensureBuilder(ctx: ImageBuildContext, spec: ImageBuildSpec, refs: LaunchRefs): Promise<InstanceInfo> {
  // Only this run's builder: one started by another run (another machine) is never adopted.
  const live = await describeBuildInstances(ctx, runFilter(spec.runId));
  const existing = live.filter((i) => i.tags[TAG_ROLE] === 'builder').sort((a, b) => (b.launchTime ?? '').localeCompare(a.launchTime ?? ''))[0];
  if (existing) return existing;
  const request = builderRunInstancesRequest(spec, refs);
  const out = await call(ctx, 'RunInstances', () => ctx.ec2.runInstances({ ...request, InstanceType: request.InstanceType as Ec2InstanceType }), spec.instanceType);
  const launched = out.Instances?.[0];
  if (!launched?.InstanceId) throw new CloudError('run-instances-empty', 'RunInstances returned no instance');
  return toInstanceInfo(launched);
}

export async function associateBuilderAddress(ctx: ImageBuildContext, allocationId: string, instanceId: string): Promise<AddressInfo> {
  const describe = async () => (await call(ctx, 'DescribeAddresses', () => ctx.ec2.describeAddresses({ AllocationIds: [allocationId] }))).Addresses?.[0];
  const current = await describe();
  if (!current) throw new CloudError('address-not-found', `Elastic IP ${allocationId} does not exist in ${ctx.region}`);
  if (current.InstanceId !== instanceId) {
    if (current.AssociationId) {
      throw new CloudError('address-in-use', `Elastic IP ${current.PublicIp} (${allocationId}) is associated with ${current.InstanceId ?? 'another resource'}`, {
        remediation: 'Choose an address that is not in use for --elastic-ip.',
      });
    }
    await call(ctx, 'AssociateAddress', () => ctx.ec2.associateAddress({ AllocationId: allocationId, InstanceId: instanceId }));
  }
  const after = (await describe()) ?? current;
  const info: AddressInfo = { allocationId, publicIp: after.PublicIp ?? '', tags: tagsOf(after.Tags), managed: false };
  if (after.AssociationId) info.associationId = after.AssociationId;
  if (after.InstanceId) info.instanceId = after.InstanceId;
  return info;
}

export async function disassociateBuilderAddress(ctx: ImageBuildContext, allocationId: string, builderIds: string[]): Promise<boolean> {
  const out = await callUnlessNotFound(ctx, 'DescribeAddresses', () => ctx.ec2.describeAddresses({ AllocationIds: [allocationId] }));
  const address = out?.Addresses?.[0];
  if (!address?.AssociationId || !address.InstanceId || !builderIds.includes(address.InstanceId)) return false;
  const associationId = address.AssociationId;
  await callUnlessNotFound(ctx, 'DisassociateAddress', () => ctx.ec2.disassociateAddress({ AssociationId: associationId }));
  return true;
}

export async function markBuilderProvisioned(ctx: ImageBuildContext, instanceId: string): Promise<void> {
  await call(ctx, 'CreateTags', () => ctx.ec2.createTags({ Resources: [instanceId], Tags: [{ Key: TAG_PROVISIONED, Value: 'true' }] }));
}

export async function stopBuilder(ctx: ImageBuildContext, instanceId: string, timeoutMs: number): Promise<void> {
  const deadline = ctx.now() + timeoutMs;
  let requested = false;
  for (;;) {
    const out = await call(ctx, 'DescribeInstances', () => ctx.ec2.describeInstances({ InstanceIds: [instanceId] }));
    const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    if (state === 'stopped') return;
    if (state === 'terminated' || state === 'shutting-down' || state === undefined) {
      throw new CloudError('builder-gone', `The builder ${instanceId} is ${state ?? 'gone'}; it cannot be imaged`);
    }
    if (!requested && (state === 'running' || state === 'pending')) {
      await call(ctx, 'StopInstances', () => ctx.ec2.stopInstances({ InstanceIds: [instanceId] }));
      requested = true;
      continue;
    }
    if (ctx.now() >= deadline) {
      throw new WaitTimeoutError('builder-stopped', `The builder ${instanceId} did not stop in ${Math.round(timeoutMs / 1000)} s (last state: ${state})`);
    }
    await ctx.sleep(ctx.pollIntervalMs);
  }
}

export async function ensureBuiltImage(ctx: ImageBuildContext, spec: ImageBuildSpec, builderId: string): Promise<ImageInfo> {
  const existing = (await describeBuildImages(ctx, runFilter(spec.runId))).find((i) => i.State !== 'failed' && i.State !== 'error' && i.State !== 'deregistered');
  if (existing) return imageInfo(existing, 'built');
  const request = createImageRequest(spec, builderId);
  const out = await call(ctx, 'CreateImage', () => ctx.ec2.createImage(request));
  if (!out.ImageId) throw new CloudError('create-image-empty', 'CreateImage returned no image id');
  return { id: out.ImageId, name: spec.imageName, source: 'built', version: spec.version, state: 'pending' };
}

export async function waitForBuiltImage(
  ctx: ImageBuildContext,
  spec: ImageBuildSpec,
  imageId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ImageInfo> {
  const deadline = ctx.now() + timeoutMs;
  let last = 'unknown';
  for (;;) {
    if (signal?.aborted) throw new InterruptedError(`Interrupted while waiting for image ${imageId}`);
    const out = await callUnlessNotFound(ctx, 'DescribeImages', () => ctx.ec2.describeImages({ ImageIds: [imageId] }));
    const image = out?.Images?.[0];
    last = image?.State ?? 'not found';
    if (image?.State === 'available') {
      const snapshots = snapshotIdsOf(image);
      // Snapshots carry the image's tags so they are recognisable (and attributable) in the console.
      if (snapshots.length) await call(ctx, 'CreateTags', () => ctx.ec2.createTags({ Resources: snapshots, Tags: imageTags(spec) }));
      return imageInfo(image, 'built');
    }
    if (image?.State === 'failed' || image?.State === 'error' || image?.State === 'invalid') {
      throw new CloudError('image-failed', `Image ${imageId} ended in state ${image.State}: ${image.StateReason?.Message ?? 'no reason given'}`);
    }
    if (ctx.now() >= deadline) {
      throw new WaitTimeoutError('image-available', `Image ${imageId} did not become available in ${Math.round(timeoutMs / 60_000)} min (last state: ${last})`, {
        details: { imageId, lastState: last },
      });
    }
    await ctx.sleep(ctx.pollIntervalMs);
  }
}

export async function deleteBuiltImage(ctx: ImageBuildContext, imageId: string): Promise<string[]> {
  const out = await callUnlessNotFound(ctx, 'DescribeImages', () => ctx.ec2.describeImages({ ImageIds: [imageId] }));
  const image = out?.Images?.[0];
  const snapshots = image ? snapshotIdsOf(image) : [];
  if (image) await callUnlessNotFound(ctx, 'DeregisterImage', () => ctx.ec2.deregisterImage({ ImageId: imageId }));
  // A snapshot can only go once no image refers to it, hence after the deregistration.
  for (const snapshotId of snapshots) {
    await callUnlessNotFound(ctx, 'DeleteSnapshot', () => ctx.ec2.deleteSnapshot({ SnapshotId: snapshotId }));
  }
  return snapshots;
}
