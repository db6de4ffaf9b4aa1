// The AWS adapter of the Cloud port. It talks to EC2 and STS only through the narrow clients of
// sdk.ts, which it receives (tests pass clients pointed at moto or mocked) or loads lazily in
// createAwsCloud, so importing this module never loads the SDK.
//
// Idempotency: every ensure* looks up what the deployment's tags (or the given name/ID) say exists
// before creating anything, and every create tags at creation, so re-running a launch converges.
import { CloudError, CredentialsError, UsageError, WaitTimeoutError } from '../../core/errors.js';
import { compareVersions, normalizeVersion, parseVersion } from '../../core/versions.js';
import {
  TAG_DEPLOYMENT,
  TAG_MANAGED,
  TAG_ROLE,
  TAG_SIZE,
  TAG_VERSION,
  type AddressInfo,
  type Cloud,
  type CloudRequest,
  type DeploymentResources,
  type Identity,
  type ImageInfo,
  type InstanceInfo,
  type InstanceState,
  type InstanceStatusChecks,
  type KeyPairInfo,
  type LaunchRefs,
  type LaunchSpec,
  type NetworkPlacement,
  type SecurityGroupInfo,
  type Tags,
  type VolumeInfo,
} from '../cloud.js';
import { isAwsErrorCode, isNotFoundError, toLaunchError, type AwsErrorContext } from './errors.js';
import { whyNoAwsCredentials } from './credential-sources.js';
// --- upgrade, backup and restore (issue 3) ---
import { tagFilter, tagsOf, toInstanceInfo, toInstanceState, toKeyPairInfo, toSecurityGroupInfo } from './convert.js';
import * as upgrade from './aws-upgrade.js';
// --- image builds (issue 4) ---
import * as imageBuild from './aws-image-build.js';
import type { ImageBuildResources, ImageBuildSpec } from '../cloud.js';
import type {
  InstanceDetails,
  SnapshotInfo,
  SnapshotLaunchSpec,
  SnapshotScheduleInfo,
  SnapshotScheduleSpec,
  SnapshotSpec,
  VolumeFromSnapshotSpec,
  VolumeInitialization,
} from '../cloud.js';
import {
  allocateAddressRequest,
  associateAddressRequest,
  attemptToken,
  broughtAddressTagsRequest,
  authorizeIngressRequest,
  revokeIngressRequest,
  createSecurityGroupRequest,
  importKeyPairRequest,
  ingressRules,
  launchRequests,
  runInstancesRequest,
  securityGroupName,
  volumeRoleTagsRequest,
  type IngressRule,
  type RunInstancesRequest,
} from './requests.js';
import type {
  AwsClients,
  DlmApi,
  Ec2Address,
  Ec2Api,
  Ec2Filter,
  Ec2Image,
  Ec2Instance,
  Ec2InstanceType,
  Ec2Volume,
  StsApi,
} from './sdk.js';

/** AWS accounts that published Sourcegraph's machine images. */
export const PUBLISHED_IMAGE_OWNERS = ['840044800169', '870751268155'];

const LIVE_INSTANCE_STATES: InstanceState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
/** Attempts of one launch whose instances were terminated before it gives up. */
const MAX_LAUNCH_ATTEMPTS = 5;

export interface AwsCloudOptions {
  region: string;
  /** The profile the clients were built with; only used to name it in credential errors. */
  profile?: string;
  /** Interval between polls while waiting (instance state, volumes, security group deletion). */
  pollIntervalMs?: number;
  /** How long deleteSecurityGroup retries DependencyViolation (a terminated instance's ENI lingers). */
  dependencyRetryMs?: number;
  /** How long ensureInstance waits for the new instance's volumes to appear before tagging them. */
  volumeTagWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));



function isManaged(tags: Tags): boolean {
  return tags[TAG_MANAGED] === 'true';
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

/** Versions up to 5.10 were published once per size, with the size in the name. */
function hasSizedImageNames(version: string): boolean {
  const v = parseVersion(version);
  return v !== undefined && (v.major < 5 || (v.major === 5 && v.minor <= 10));
}



export function toVolumeInfo(volume: Ec2Volume): VolumeInfo {
  const attachment = volume.Attachments?.[0];
  const info: VolumeInfo = {
    id: volume.VolumeId ?? '',
    sizeGiB: volume.Size ?? 0,
    type: volume.VolumeType ?? '',
    state: volume.State ?? '',
    availabilityZone: volume.AvailabilityZone ?? '',
    encrypted: volume.Encrypted ?? false,
    tags: tagsOf(volume.Tags),
  };
  if (volume.Iops !== undefined) info.iops = volume.Iops;
  if (volume.Throughput !== undefined) info.throughput = volume.Throughput;
  if (volume.KmsKeyId) info.kmsKeyId = volume.KmsKeyId;
  if (volume.SnapshotId) info.snapshotId = volume.SnapshotId;
  if (attachment?.InstanceId) info.attachedTo = attachment.InstanceId;
  if (attachment?.Device) info.device = attachment.Device;
  if (attachment?.DeleteOnTermination !== undefined) info.deleteOnTermination = attachment.DeleteOnTermination;
  return info;
}



export function toAddressInfo(address: Ec2Address): AddressInfo {
  const tags = tagsOf(address.Tags);
  const info: AddressInfo = {
    allocationId: address.AllocationId ?? '',
    publicIp: address.PublicIp ?? '',
    tags,
    managed: isManaged(tags),
  };
  if (address.AssociationId) info.associationId = address.AssociationId;
  if (address.InstanceId) info.instanceId = address.InstanceId;
  return info;
}

/** The SDK types InstanceType as a union of known names; ours is any string the user may pass. */
function sdkRunInstancesInput<T extends Omit<RunInstancesRequest, 'ClientToken'>>(request: T) {
  return { ...request, InstanceType: request.InstanceType as Ec2InstanceType };
}

function newestFirst(a: InstanceInfo, b: InstanceInfo): number {
  return (b.launchTime ?? '').localeCompare(a.launchTime ?? '') || a.id.localeCompare(b.id);
}

export class AwsCloud implements Cloud {
  readonly provider = 'aws' as const;
  readonly region: string;
  private readonly ec2: Ec2Api;
  private readonly sts: StsApi;
  private readonly profile: string;
  private readonly pollIntervalMs: number;
  private readonly dependencyRetryMs: number;
  private readonly volumeTagWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly upgradeClients: upgrade.UpgradeClients;

  constructor(clients: AwsClients, opts: AwsCloudOptions) {
    this.ec2 = clients.ec2;
    this.sts = clients.sts;
    this.region = opts.region;
    this.profile = opts.profile ?? process.env.AWS_PROFILE ?? 'default';
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    this.dependencyRetryMs = opts.dependencyRetryMs ?? 5 * 60_000;
    this.volumeTagWaitMs = opts.volumeTagWaitMs ?? 60_000;
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? Date.now;
    this.upgradeClients = {
      ec2: clients.ec2,
      dlm: clients.dlm,
      region: this.region,
      profile: this.profile,
      pollIntervalMs: this.pollIntervalMs,
      sleep: this.sleep,
      now: this.now,
      toInstanceInfo,
      toVolumeInfo,
    };
  }

  /** Runs one API call and turns whatever it throws into our typed errors. */
  private async call<T>(
    operation: string,
    send: () => Promise<T>,
    extra: Partial<Pick<AwsErrorContext, 'service' | 'instanceType'>> = {},
  ): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw toLaunchError(err, { operation, profile: this.profile, region: this.region, ...extra });
    }
  }

  /** Like call, but "not found" resolves to undefined: the thing is already gone or never was. */
  private async callUnlessNotFound<T>(operation: string, send: () => Promise<T>): Promise<T | undefined> {
    try {
      return await send();
    } catch (err) {
      if (isNotFoundError(err)) return undefined;
      throw toLaunchError(err, { operation, profile: this.profile, region: this.region });
    }
  }

  /** Follows NextToken until the last page. */
  private async paginate<T extends { NextToken?: string }>(
    operation: string,
    fetch: (nextToken: string | undefined) => Promise<T>,
  ): Promise<T[]> {
    const pages: T[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(operation, () => fetch(token));
      pages.push(page);
      token = page.NextToken || undefined;
    } while (token);
    return pages;
  }

  async whoAmI(): Promise<Identity> {
    const out = await this.call('GetCallerIdentity', () => this.sts.getCallerIdentity(), { service: 'sts' });
    const identity: Identity = { account: out.Account ?? '', arn: out.Arn ?? '' };
    if (out.UserId) identity.userId = out.UserId;
    return identity;
  }

  async listRegions(): Promise<string[]> {
    const out = await this.call('DescribeRegions', () => this.ec2.describeRegions({}));
    return (out.Regions ?? []).flatMap((r) => (r.RegionName ? [r.RegionName] : [])).sort();
  }

  // ---- images ----

  private async describeImagePages(input: { Owners: string[]; Filters: Ec2Filter[] }): Promise<Ec2Image[]> {
    const pages = await this.paginate('DescribeImages', (NextToken) =>
      this.ec2.describeImages({ ...input, MaxResults: 1000, ...(NextToken ? { NextToken } : {}) }),
    );
    return pages.flatMap((p) => p.Images ?? []);
  }

  private toImageInfo(image: Ec2Image): ImageInfo {
    const tags = tagsOf(image.Tags);
    const published = image.OwnerId !== undefined && PUBLISHED_IMAGE_OWNERS.includes(image.OwnerId);
    const built = tags[TAG_ROLE] === 'image';
    const fromName = image.Name ? parsePublishedImageName(image.Name) : undefined;
    const version =
      (built ? normalizeVersion(tags[TAG_VERSION] ?? '') : undefined) ??
      fromName?.version ??
      normalizeVersion(tags.Version ?? '');
    const info: ImageInfo = {
      id: image.ImageId ?? '',
      name: image.Name ?? '',
      source: published ? 'published' : built ? 'built' : 'flag',
    };
    if (version) info.version = version;
    const size = tags[TAG_SIZE] ?? fromName?.size;
    if (size) info.size = size;
    if (image.OwnerId) info.ownerId = image.OwnerId;
    if (image.CreationDate) info.creationDate = image.CreationDate;
    if (image.Architecture) info.architecture = image.Architecture;
    if (image.State) info.state = image.State;
    return info;
  }

  async findImage(query: { version: string; size?: string }): Promise<ImageInfo | undefined> {
    const latest = query.version === 'latest';
    const version = latest ? undefined : normalizeVersion(query.version);
    if (!latest && !version) return undefined;
    const size = query.size?.toUpperCase();

    const names = version
      ? [`Sourcegraph v${version}`, ...(hasSizedImageNames(version) ? [`Sourcegraph-${size ?? '*'} (v${version}) *`] : [])]
      : ['Sourcegraph v*', `Sourcegraph-${size ?? '*'} (v*) *`];
    const available: Ec2Filter = { Name: 'state', Values: ['available'] };
    const [publishedImages, builtImages] = await Promise.all([
      this.describeImagePages({ Owners: PUBLISHED_IMAGE_OWNERS, Filters: [{ Name: 'name', Values: names }, available] }),
      this.describeImagePages({
        Owners: ['self'],
        Filters: [
          tagFilter(TAG_ROLE, ['image']),
          ...(version ? [tagFilter(TAG_VERSION, [version])] : []),
          available,
        ],
      }),
    ]);

    const candidates: ImageInfo[] = [];
    for (const image of publishedImages) {
      const parsed = image.Name ? parsePublishedImageName(image.Name) : undefined;
      if (!parsed) continue;
      if (parsed.size && size && parsed.size !== size) continue;
      if (version && parsed.version !== version) continue;
      candidates.push({ ...this.toImageInfo(image), source: 'published', version: parsed.version });
    }
    for (const image of builtImages) {
      const info = { ...this.toImageInfo(image), source: 'built' as const };
      if (!info.version || (version && info.version !== version)) continue;
      candidates.push(info);
    }
    candidates.sort(
      (a, b) =>
        compareVersions(b.version ?? '0.0.0', a.version ?? '0.0.0') ||
        (b.creationDate ?? '').localeCompare(a.creationDate ?? '') ||
        a.id.localeCompare(b.id),
    );
    return candidates[0];
  }

  async listBuiltImages(): Promise<ImageInfo[]> {
    const images = await this.describeImagePages({
      Owners: ['self'],
      Filters: [tagFilter(TAG_ROLE, ['image']), { Name: 'state', Values: ['available'] }],
    });
    return images
      .map((image) => ({ ...this.toImageInfo(image), source: 'built' as const }))
      .filter((info) => info.version !== undefined)
      .sort((a, b) => compareVersions(b.version!, a.version!) || (b.creationDate ?? '').localeCompare(a.creationDate ?? ''));
  }

  async describeImage(imageId: string): Promise<ImageInfo | undefined> {
    try {
      const out = await this.ec2.describeImages({ ImageIds: [imageId] });
      const image = out.Images?.[0];
      return image ? this.toImageInfo(image) : undefined;
    } catch (err) {
      if (isNotFoundError(err) || isAwsErrorCode(err, 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable')) return undefined;
      throw toLaunchError(err, { operation: 'DescribeImages', profile: this.profile, region: this.region });
    }
  }

  // ---- network ----

  async instanceTypeZones(instanceType: string): Promise<string[]> {
    const zones: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('DescribeInstanceTypeOfferings', () =>
        this.ec2.describeInstanceTypeOfferings({
          LocationType: 'availability-zone',
          Filters: [{ Name: 'instance-type', Values: [instanceType] }],
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const o of page.InstanceTypeOfferings ?? []) if (o.Location) zones.push(o.Location);
      token = page.NextToken || undefined;
    } while (token);
    return [...new Set(zones)].sort();
  }

  async resolvePlacement(subnetId?: string, zones?: string[]): Promise<NetworkPlacement> {
    if (subnetId) {
      const out = await this.callUnlessNotFound('DescribeSubnets', () => this.ec2.describeSubnets({ SubnetIds: [subnetId] }));
      const subnet = out?.Subnets?.[0];
      if (!subnet?.VpcId || !subnet.AvailabilityZone) {
        throw new UsageError(`Subnet ${subnetId} (--subnet) does not exist in ${this.region}`, {
          code: 'subnet-not-found',
          remediation: `List the subnets with \`aws ec2 describe-subnets --region ${this.region}\`, or omit --subnet to use the default VPC.`,
        });
      }
      if (zones && !zones.includes(subnet.AvailabilityZone)) {
        throw new UsageError(`Subnet ${subnetId} (--subnet) is in ${subnet.AvailabilityZone}; this launch needs one of ${zones.join(', ')} (where the instance type is offered and a kept data volume can attach)`, {
          code: 'subnet-zone-mismatch',
          remediation: `Pass a subnet in ${zones.join(' or ')}, or omit --subnet to use the default subnet there.`,
        });
      }
      return { vpcId: subnet.VpcId, subnetId, availabilityZone: subnet.AvailabilityZone };
    }

    const vpcs = await this.call('DescribeVpcs', () =>
      this.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    const vpcId = vpcs.Vpcs?.[0]?.VpcId;
    if (!vpcId) {
      throw new UsageError(`The account has no default VPC in ${this.region}`, {
        code: 'no-default-vpc',
        remediation: 'Pass --subnet <subnet-id> with a public subnet (one that routes to an internet gateway).',
      });
    }
    const pages = await this.paginate('DescribeSubnets', (NextToken) =>
      this.ec2.describeSubnets({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'default-for-az', Values: ['true'] },
        ],
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    // The first availability zone by name (or the one asked for): deterministic, so a re-run picks the same subnet.
    const subnet = pages
      .flatMap((p) => p.Subnets ?? [])
      .filter((s) => s.SubnetId && s.AvailabilityZone && (!zones || zones.includes(s.AvailabilityZone)))
      .sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
    if (!subnet && zones) {
      throw new UsageError(`The default VPC ${vpcId} has no default subnet in ${zones.join(' or ')}, where this launch has to go`, {
        code: 'no-default-subnet',
        remediation: `Pass --subnet with a subnet in ${zones.join(' or ')}, or create one with \`aws ec2 create-default-subnet --availability-zone ${zones[0]} --region ${this.region}\`.`,
      });
    }
    if (!subnet?.SubnetId || !subnet.AvailabilityZone) {
      throw new UsageError(`The default VPC ${vpcId} in ${this.region} has no default subnets`, {
        code: 'no-default-subnet',
        remediation: `Pass --subnet <subnet-id>, or create default subnets with \`aws ec2 create-default-subnet --availability-zone <zone> --region ${this.region}\`.`,
      });
    }
    return { vpcId, subnetId: subnet.SubnetId, availabilityZone: subnet.AvailabilityZone };
  }

  // ---- discovery ----

  private async describeInstancesWhere(filters: Ec2Filter[]): Promise<InstanceInfo[]> {
    const pages = await this.paginate('DescribeInstances', (NextToken) =>
      this.ec2.describeInstances({
        Filters: [...filters, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }],
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    return pages.flatMap((p) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? [])).map(toInstanceInfo);
  }

  private async describeSecurityGroupsWhere(filters: Ec2Filter[]): Promise<SecurityGroupInfo[]> {
    const pages = await this.paginate('DescribeSecurityGroups', (NextToken) =>
      this.ec2.describeSecurityGroups({ Filters: filters, ...(NextToken ? { NextToken } : {}) }),
    );
    return pages.flatMap((p) => p.SecurityGroups ?? []).map(toSecurityGroupInfo);
  }

  private async describeKeyPairsWhere(filters: Ec2Filter[]): Promise<KeyPairInfo[]> {
    const out = await this.call('DescribeKeyPairs', () => this.ec2.describeKeyPairs({ Filters: filters }));
    return (out.KeyPairs ?? []).map(toKeyPairInfo);
  }

  private async describeAddressesWhere(filters: Ec2Filter[]): Promise<AddressInfo[]> {
    const out = await this.call('DescribeAddresses', () => this.ec2.describeAddresses({ Filters: filters }));
    return (out.Addresses ?? []).map(toAddressInfo);
  }

  private async describeVolumesWhere(filters: Ec2Filter[]): Promise<VolumeInfo[]> {
    const pages = await this.paginate('DescribeVolumes', (NextToken) =>
      this.ec2.describeVolumes({ Filters: filters, ...(NextToken ? { NextToken } : {}) }),
    );
    return pages.flatMap((p) => p.Volumes ?? []).map(toVolumeInfo);
  }

  /** Everything carrying the deployment tag filter, grouped by the tag's value. */
  private async collectDeployments(filter: Ec2Filter): Promise<Map<string, DeploymentResources>> {
    const [instances, securityGroups, keyPairs, addresses, volumes] = await Promise.all([
      this.describeInstancesWhere([filter]),
      this.describeSecurityGroupsWhere([filter]),
      this.describeKeyPairsWhere([filter]),
      this.describeAddressesWhere([filter]),
      this.describeVolumesWhere([filter]),
    ]);
    const deployments = new Map<string, DeploymentResources>();
    const entry = (tags: Tags): DeploymentResources | undefined => {
      const name = tags[TAG_DEPLOYMENT];
      if (name === undefined) return undefined;
      let found = deployments.get(name);
      if (!found) {
        found = { name, region: this.region, otherInstances: [], securityGroups: [], keyPairs: [], addresses: [], volumes: [] };
        deployments.set(name, found);
      }
      return found;
    };
    // The serving instance is the one in role "instance", newest first; an upgrade's rollback point
    // (or the instance a rollback left behind) is listed with the others.
    const serving = (i: InstanceInfo) => (i.tags[TAG_ROLE] === 'instance' ? 0 : 1);
    for (const instance of [...instances].sort((a, b) => serving(a) - serving(b) || newestFirst(a, b))) {
      const d = entry(instance.tags);
      if (!d) continue;
      if (!d.instance) {
        d.instance = instance;
        if (instance.tags[TAG_VERSION]) d.version = instance.tags[TAG_VERSION];
        if (instance.tags[TAG_SIZE]) d.size = instance.tags[TAG_SIZE];
      } else {
        d.otherInstances.push(instance);
      }
    }
    for (const group of securityGroups) entry(group.tags)?.securityGroups.push(group);
    for (const keyPair of keyPairs) entry(keyPair.tags)?.keyPairs.push(keyPair);
    for (const address of addresses) entry(address.tags)?.addresses.push(address);
    for (const volume of volumes) entry(volume.tags)?.volumes.push(volume);
    // The deployment's address is whatever address its instances hold, whoever allocated it (an
    // address brought before its owner tag existed carries none of ours).
    const holders = new Map(instances.flatMap((i) => (i.tags[TAG_DEPLOYMENT] !== undefined ? [[i.id, i.tags[TAG_DEPLOYMENT]] as const] : [])));
    if (holders.size) {
      const held = await this.describeAddressesWhere([{ Name: 'instance-id', Values: [...holders.keys()] }]);
      for (const address of held) {
        const d = deployments.get(holders.get(address.instanceId ?? '') ?? '');
        if (d && !d.addresses.some((a) => a.allocationId === address.allocationId)) d.addresses.push(address);
      }
    }
    return deployments;
  }

  async findDeployment(name: string): Promise<DeploymentResources> {
    const found = await this.collectDeployments(tagFilter(TAG_DEPLOYMENT, [name]));
    return (
      found.get(name) ?? {
        name,
        region: this.region,
        otherInstances: [],
        securityGroups: [],
        keyPairs: [],
        addresses: [],
        volumes: [],
      }
    );
  }

  async listDeployments(): Promise<DeploymentResources[]> {
    const found = await this.collectDeployments({ Name: 'tag-key', Values: [TAG_DEPLOYMENT] });
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  launchRequests(spec: LaunchSpec): CloudRequest[] {
    return launchRequests(spec);
  }

  // ---- launch ----

  async checkLaunchPermissions(spec: LaunchSpec, refs: LaunchRefs): Promise<void> {
    // Without the ClientToken: reusing the real launch's token with different parameters (DryRun)
    // could make AWS reject the real RunInstances as an idempotency mismatch.
    const { ClientToken: _token, ...input } = runInstancesRequest(spec, refs);
    try {
      await this.ec2.runInstances({ ...sdkRunInstancesInput(input), DryRun: true });
    } catch (err) {
      if (isAwsErrorCode(err, 'DryRunOperation')) return;
      throw toLaunchError(err, {
        operation: 'RunInstances',
        profile: this.profile,
        region: this.region,
        instanceType: spec.instanceType,
      });
    }
  }

  private async describeKeyPairByName(keyName: string): Promise<KeyPairInfo | undefined> {
    const out = await this.callUnlessNotFound('DescribeKeyPairs', () => this.ec2.describeKeyPairs({ KeyNames: [keyName] }));
    const keyPair = out?.KeyPairs?.[0];
    return keyPair ? toKeyPairInfo(keyPair) : undefined;
  }

  async ensureKeyPair(spec: LaunchSpec): Promise<KeyPairInfo> {
    const keyName = spec.keyPair.keyName;
    const existing = await this.describeKeyPairByName(keyName);
    if (spec.keyPair.mode === 'existing') {
      if (!existing) {
        throw new UsageError(`Key pair "${keyName}" (--key-name) does not exist in ${this.region}`, {
          code: 'key-pair-not-found',
          remediation: `Check the name with \`aws ec2 describe-key-pairs --region ${this.region}\`, or omit --key-name to let sourcegraph-launch create one.`,
        });
      }
      return existing;
    }
    if (existing) {
      if (existing.tags[TAG_DEPLOYMENT] === spec.name) return existing;
      // Someone else's key under our name: its private half is not the one we hold.
      throw new CloudError('key-pair-conflict', `A key pair named "${keyName}" already exists in ${this.region} and is not part of deployment ${spec.name}`, {
        remediation: `Use it as your own key with --key-name ${keyName}, or delete it (\`aws ec2 delete-key-pair --key-name ${keyName} --region ${this.region}\`).`,
      });
    }
    const request = importKeyPairRequest({ ...spec, keyPair: spec.keyPair });
    const requestedTags = tagsOf(request.TagSpecifications[0]?.Tags);
    try {
      const out = await this.ec2.importKeyPair({
        ...request,
        PublicKeyMaterial: new TextEncoder().encode(request.PublicKeyMaterial),
      });
      // Describe calls may lag a create by a moment (eventual consistency): the answer suffices.
      return toKeyPairInfo({ KeyName: keyName, KeyPairId: out.KeyPairId, KeyFingerprint: out.KeyFingerprint, Tags: request.TagSpecifications[0]?.Tags });
    } catch (err) {
      // A concurrent or interrupted earlier run imported it between our lookup and now.
      if (!isAwsErrorCode(err, 'InvalidKeyPair.Duplicate')) {
        throw toLaunchError(err, { operation: 'ImportKeyPair', profile: this.profile, region: this.region });
      }
    }
    return (await this.describeKeyPairByName(keyName)) ?? { name: keyName, tags: requestedTags, managed: true };
  }

  private async findSecurityGroup(spec: LaunchSpec, vpcId: string): Promise<SecurityGroupInfo | undefined> {
    const groups = await this.describeSecurityGroupsWhere([
      tagFilter(TAG_DEPLOYMENT, [spec.name]),
      tagFilter(TAG_ROLE, ['security-group']),
      { Name: 'vpc-id', Values: [vpcId] },
    ]);
    return groups.find((g) => g.name === securityGroupName(spec.name)) ?? groups[0];
  }

  private async describeSecurityGroup(groupId: string): Promise<SecurityGroupInfo | undefined> {
    const out = await this.callUnlessNotFound('DescribeSecurityGroups', () =>
      this.ec2.describeSecurityGroups({ GroupIds: [groupId] }),
    );
    const group = out?.SecurityGroups?.[0];
    return group ? toSecurityGroupInfo(group) : undefined;
  }

  async ensureSecurityGroup(spec: LaunchSpec, placement: NetworkPlacement): Promise<SecurityGroupInfo> {
    let group = await this.findSecurityGroup(spec, placement.vpcId);
    if (!group) {
      const request = createSecurityGroupRequest(spec, placement.vpcId);
      try {
        const out = await this.ec2.createSecurityGroup(request);
        if (out.GroupId) {
          // A new group may not be describable for a moment: fall back to what we just created.
          group = (await this.describeSecurityGroup(out.GroupId)) ?? {
            id: out.GroupId,
            name: request.GroupName,
            vpcId: placement.vpcId,
            tags: tagsOf(request.TagSpecifications[0]?.Tags),
            ingress: [],
          };
        }
      } catch (err) {
        if (!isAwsErrorCode(err, 'InvalidGroup.Duplicate')) {
          throw toLaunchError(err, { operation: 'CreateSecurityGroup', profile: this.profile, region: this.region });
        }
        const sameName = await this.describeSecurityGroupsWhere([
          { Name: 'group-name', Values: [securityGroupName(spec.name)] },
          { Name: 'vpc-id', Values: [placement.vpcId] },
        ]);
        group = sameName[0];
        if (group && group.tags[TAG_DEPLOYMENT] !== spec.name) {
          throw new CloudError(
            'security-group-conflict',
            `A security group named "${group.name}" (${group.id}) already exists in ${placement.vpcId} and is not part of deployment ${spec.name}`,
            { remediation: 'Choose another deployment name, or delete that security group if it is left over.' },
          );
        }
      }
      if (!group) throw new CloudError('security-group-missing', `Security group for ${spec.name} was created but cannot be found`);
    }
    const wanted = ingressRules(spec);
    await this.authorizeMissingRules(group, wanted);
    await this.revokeUnwantedRules(group, wanted);
    return (await this.describeSecurityGroup(group.id)) ?? group;
  }

  /**
   * The group is ours (tagged with the deployment): a 22/80/443 rule the current flags no longer
   * ask for — a CIDR dropped from --allow-cidr, SSH after --ssh-cidr none — is closed, so re-running
   * with narrower access really narrows it.
   */
  private async revokeUnwantedRules(group: SecurityGroupInfo, rules: IngressRule[]): Promise<void> {
    const wanted = new Set(rules.map((r) => `${r.port}/${r.cidr}`));
    // Only the ports our flags govern: a rule someone added for another port is theirs to keep.
    const governed = new Set([22, 80, 443]);
    const unwanted: IngressRule[] = group.ingress
      .filter((r) => r.protocol === 'tcp' && r.fromPort !== undefined && r.fromPort === r.toPort && governed.has(r.fromPort))
      .filter((r) => !wanted.has(`${r.fromPort}/${r.cidr}`))
      .map((r) => ({ port: r.fromPort!, cidr: r.cidr, description: '' }));
    if (unwanted.length === 0) return;
    try {
      await this.ec2.revokeSecurityGroupIngress(revokeIngressRequest(group.id, unwanted));
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidPermission.NotFound')) {
        throw toLaunchError(err, { operation: 'RevokeSecurityGroupIngress', profile: this.profile, region: this.region });
      }
    }
  }

  /** Opens only what is not open yet; a rule that appears meanwhile (InvalidPermission.Duplicate) counts as done. */
  private async authorizeMissingRules(group: SecurityGroupInfo, rules: IngressRule[]): Promise<void> {
    const present = new Set(
      group.ingress
        .filter((r) => r.protocol === 'tcp' && r.fromPort === r.toPort)
        .map((r) => `${r.fromPort}/${r.cidr}`),
    );
    const missing = rules.filter((r) => !present.has(`${r.port}/${r.cidr}`));
    if (missing.length === 0) return;
    const authorize = async (subset: IngressRule[]) => {
      await this.ec2.authorizeSecurityGroupIngress(authorizeIngressRequest(group.id, subset));
    };
    try {
      await authorize(missing);
    } catch (err) {
      if (!isAwsErrorCode(err, 'InvalidPermission.Duplicate')) {
        throw toLaunchError(err, { operation: 'AuthorizeSecurityGroupIngress', profile: this.profile, region: this.region });
      }
      // One duplicate fails the whole request: add the rules one at a time.
      for (const rule of missing) {
        try {
          await authorize([rule]);
        } catch (ruleErr) {
          if (isAwsErrorCode(ruleErr, 'InvalidPermission.Duplicate')) continue;
          throw toLaunchError(ruleErr, { operation: 'AuthorizeSecurityGroupIngress', profile: this.profile, region: this.region });
        }
      }
    }
  }

  /** Every instance of the deployment that is not long gone, terminated ones included (their ClientToken still counts). */
  private async deploymentInstancesWithTokens(name: string): Promise<Ec2Instance[]> {
    const pages = await this.paginate('DescribeInstances', (NextToken) =>
      this.ec2.describeInstances({ Filters: [tagFilter(TAG_DEPLOYMENT, [name])], ...(NextToken ? { NextToken } : {}) }),
    );
    return pages.flatMap((p) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? []));
  }

  /**
   * Finds the instance an earlier attempt of this launch created (by ClientToken, trying the tokens
   * of later attempts past any whose instance was terminated), else a live instance of the
   * deployment at the same version (an older version's instance is an upgrade's rollback point, not
   * this launch's result), else runs one with the first unused attempt's token.
   */
  async ensureInstance(spec: LaunchSpec, refs: LaunchRefs): Promise<InstanceInfo> {
    const known = await this.deploymentInstancesWithTokens(spec.name);
    const live = (i: Ec2Instance) => LIVE_INSTANCE_STATES.includes(toInstanceState(i.State?.Name));
    const sameVersion = known
      .filter(live)
      .map(toInstanceInfo)
      .filter((i) => i.tags[TAG_ROLE] === 'instance' && i.tags[TAG_VERSION] === spec.version)
      .sort(newestFirst)[0];
    for (let attempt = 1; attempt <= MAX_LAUNCH_ATTEMPTS; attempt++) {
      const token = attemptToken(spec.clientToken, attempt);
      const mine = known.find((i) => i.ClientToken === token);
      if (mine && live(mine)) return this.tagInstanceVolumes(spec, toInstanceInfo(mine));
      if (mine) continue;
      if (sameVersion) return this.tagInstanceVolumes(spec, sameVersion);
      const out = await this.call('RunInstances', () => this.ec2.runInstances(sdkRunInstancesInput({ ...runInstancesRequest(spec, refs), ClientToken: token })), {
        instanceType: spec.instanceType,
      });
      const launched = out.Instances?.[0];
      if (!launched?.InstanceId) throw new CloudError('run-instances-empty', 'RunInstances returned no instance');
      // EC2's idempotent answer for a token whose instance has since been terminated: next attempt.
      if (!live(launched)) {
        known.push(launched);
        continue;
      }
      return this.tagInstanceVolumes(spec, toInstanceInfo(launched));
    }
    throw new CloudError('launch-attempts-exhausted', `Every one of ${MAX_LAUNCH_ATTEMPTS} launch attempts of ${spec.name} ended with its instance terminated`, {
      remediation: 'See why the instances were terminated (EC2 console: the state transition reason), fix it, and launch again.',
    });
  }

  /**
   * Marks the root and data volumes with their roles. A just-launched instance may not list its
   * volumes yet, so this polls for a while; if they never show, the creation-time tags (role
   * instance-volume on both) stay and the next run of the launch finishes the job.
   */
  private async tagInstanceVolumes(spec: LaunchSpec, initial: InstanceInfo): Promise<InstanceInfo> {
    const deadline = this.now() + this.volumeTagWaitMs;
    let instance: InstanceInfo | undefined = initial;
    const devices = spec.existingDataVolumeId ? [spec.rootVolume.device] : [spec.rootVolume.device, spec.dataVolume.device];
    const hasBoth = (i: InstanceInfo | undefined) => devices.every((d) => i?.volumes.some((v) => v.device === d));
    while (!hasBoth(instance) && instance?.state !== 'terminated' && instance?.state !== 'shutting-down') {
      if (this.now() >= deadline) return instance ?? initial;
      await this.sleep(this.pollIntervalMs);
      instance = (await this.describeInstance(initial.id)) ?? instance;
    }
    if (!instance || !hasBoth(instance)) return instance ?? initial;

    const volumeIds = instance.volumes.map((v) => v.volumeId);
    const current = new Map((await this.describeVolumesWhere([{ Name: 'volume-id', Values: volumeIds }])).map((v) => [v.id, v]));
    for (const [device, role] of [
      ...(spec.existingDataVolumeId ? [] : [[spec.dataVolume.device, 'data-volume'] as const]),
      [spec.rootVolume.device, 'root-volume'] as const,
    ]) {
      const volumeId = instance.volumes.find((v) => v.device === device)?.volumeId;
      if (!volumeId) continue;
      const request = volumeRoleTagsRequest(spec, volumeId, role);
      const tags = current.get(volumeId)?.tags ?? {};
      if (request.Tags.every((t) => tags[t.Key] === t.Value)) continue;
      await this.call('CreateTags', () => this.ec2.createTags(request));
    }
    return instance;
  }

  private async describeAddress(allocationId: string): Promise<AddressInfo | undefined> {
    const out = await this.callUnlessNotFound('DescribeAddresses', () =>
      this.ec2.describeAddresses({ AllocationIds: [allocationId] }),
    );
    const address = out?.Addresses?.[0];
    return address ? toAddressInfo(address) : undefined;
  }

  async ensureAddress(spec: LaunchSpec, instanceId: string): Promise<AddressInfo | undefined> {
    const mode = spec.elasticIp;
    if (mode.mode === 'none') return undefined;

    let address: AddressInfo | undefined;
    if (mode.mode === 'existing') {
      address = await this.describeAddress(mode.allocationId);
      if (!address) {
        throw new UsageError(`Elastic IP ${mode.allocationId} does not exist in ${this.region}`, {
          code: 'address-not-found',
          remediation: `List your addresses with \`aws ec2 describe-addresses --region ${this.region}\`.`,
        });
      }
    } else {
      const ours = await this.describeAddressesWhere([tagFilter(TAG_DEPLOYMENT, [spec.name]), tagFilter(TAG_ROLE, ['address'])]);
      address = ours.find((a) => a.instanceId === instanceId) ?? ours[0];
      if (!address) {
        const request = allocateAddressRequest(spec);
        const out = await this.call('AllocateAddress', () => this.ec2.allocateAddress(request));
        if (!out.AllocationId) throw new CloudError('allocate-address-empty', 'AllocateAddress returned no allocation id');
        address = (await this.describeAddress(out.AllocationId)) ?? {
          allocationId: out.AllocationId,
          publicIp: out.PublicIp ?? '',
          tags: tagsOf(request.TagSpecifications[0]?.Tags),
          managed: true,
        };
      }
    }

    if (address.instanceId !== instanceId) {
      const takeOver = await this.mayTakeOverAddress(address, spec);
      const target = address;
      await this.call('AssociateAddress', () =>
        this.ec2.associateAddress(associateAddressRequest(target.allocationId, instanceId, { allowReassociation: takeOver })),
      );
    }
    if (mode.mode === 'existing' && address.tags[TAG_DEPLOYMENT] !== spec.name) {
      // The user's own address is the deployment's URL too: tagged as theirs, so upgrade, rollback
      // and status find it from any machine, and nothing ever releases it.
      const request = broughtAddressTagsRequest(spec, address.allocationId);
      await this.call('CreateTags', () => this.ec2.createTags(request));
    }
    return (await this.describeAddress(address.allocationId)) ?? { ...address, instanceId };
  }

  /**
   * An address may move only from an instance of the same deployment (an upgrade's old instance)
   * or from one that is gone; taking it from anything else would cut off someone else's service.
   */
  private async mayTakeOverAddress(address: AddressInfo, spec: LaunchSpec): Promise<boolean> {
    if (!address.associationId) return false;
    const holder = address.instanceId ? await this.describeInstance(address.instanceId) : undefined;
    if (address.instanceId && (!holder || holder.state === 'terminated' || holder.tags[TAG_DEPLOYMENT] === spec.name)) {
      return true;
    }
    throw new CloudError(
      'address-in-use',
      `Elastic IP ${address.publicIp} (${address.allocationId}) is associated with ${address.instanceId ?? 'another resource'}, which is not part of deployment ${spec.name}`,
      { remediation: 'Disassociate it first, or choose another Elastic IP.' },
    );
  }

  // ---- observation ----

  async describeInstance(instanceId: string): Promise<InstanceInfo | undefined> {
    const out = await this.callUnlessNotFound('DescribeInstances', () =>
      this.ec2.describeInstances({ InstanceIds: [instanceId] }),
    );
    const instance = out?.Reservations?.[0]?.Instances?.[0];
    return instance ? toInstanceInfo(instance) : undefined;
  }

  async instanceStatusChecks(instanceId: string): Promise<InstanceStatusChecks> {
    const out = await this.call('DescribeInstanceStatus', () =>
      this.ec2.describeInstanceStatus({ InstanceIds: [instanceId], IncludeAllInstances: true }),
    );
    const status = out.InstanceStatuses?.[0];
    const system = status?.SystemStatus?.Status;
    const instance = status?.InstanceStatus?.Status;
    const result: InstanceStatusChecks = { overall: 'unknown' };
    if (system) result.system = system;
    if (instance) result.instance = instance;
    const both = [system, instance];
    if (system === 'ok' && instance === 'ok') result.overall = 'ok';
    else if (both.includes('impaired')) result.overall = 'impaired';
    else if (both.includes('initializing')) result.overall = 'initializing';
    else if (both.includes('insufficient-data')) result.overall = 'insufficient-data';
    else if (both.includes('not-applicable')) result.overall = 'not-applicable';
    return result;
  }

  async consoleOutput(instanceId: string): Promise<string> {
    let output: string | undefined;
    try {
      // Latest (the live buffer rather than the last snapshot) exists only on Nitro instances.
      output = (await this.ec2.getConsoleOutput({ InstanceId: instanceId, Latest: true })).Output;
    } catch (err) {
      if (isNotFoundError(err)) return '';
      if (!isAwsErrorCode(err, 'UnsupportedOperation', 'InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination')) {
        throw toLaunchError(err, { operation: 'GetConsoleOutput', profile: this.profile, region: this.region });
      }
      const out = await this.callUnlessNotFound('GetConsoleOutput', () => this.ec2.getConsoleOutput({ InstanceId: instanceId }));
      output = out?.Output;
    }
    return output ? Buffer.from(output, 'base64').toString('utf8') : '';
  }

  async waitForInstanceState(instanceId: string, state: InstanceState, timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    let last = 'not found';
    for (;;) {
      const out = await this.callUnlessNotFound('DescribeInstances', () =>
        this.ec2.describeInstances({ InstanceIds: [instanceId] }),
      );
      const instance = out?.Reservations?.[0]?.Instances?.[0];
      // Terminated instances drop out of DescribeInstances after a while (then: not found).
      if (!instance && state === 'terminated') return;
      if (instance) {
        const current = toInstanceState(instance.State?.Name);
        last = current;
        if (current === state) return;
        // A terminating instance never comes back: say why instead of waiting out the timeout.
        if ((current === 'terminated' || current === 'shutting-down') && state !== 'terminated' && state !== 'shutting-down') {
          const reason = instance.StateReason?.Message ?? instance.StateTransitionReason ?? 'no reason given';
          throw new CloudError('instance-terminated', `Instance ${instanceId} is ${current} instead of ${state}: ${reason}`, {
            details: { instanceId, stateReason: instance.StateReason?.Code },
            remediation: 'See the reason above (a volume, quota or image problem); fix it and run the command again.',
          });
        }
      }
      if (this.now() >= deadline) {
        throw new WaitTimeoutError(`instance-${state}`, `Instance ${instanceId} did not become ${state} in ${Math.round(timeoutMs / 1000)} s (last state: ${last})`, {
          details: { instanceId, lastState: last },
          remediation: 'Check the instance in the EC2 console; run the same command again to keep waiting.',
        });
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  // ---- teardown ----

  async terminateInstance(instanceId: string): Promise<void> {
    await this.callUnlessNotFound('TerminateInstances', () => this.ec2.terminateInstances({ InstanceIds: [instanceId] }));
  }

  async deleteSecurityGroup(groupId: string): Promise<void> {
    const deadline = this.now() + this.dependencyRetryMs;
    for (;;) {
      try {
        await this.ec2.deleteSecurityGroup({ GroupId: groupId });
        return;
      } catch (err) {
        if (isNotFoundError(err)) return;
        if (!isAwsErrorCode(err, 'DependencyViolation')) {
          throw toLaunchError(err, { operation: 'DeleteSecurityGroup', profile: this.profile, region: this.region });
        }
        if (this.now() >= deadline) {
          throw new CloudError('security-group-in-use', `Security group ${groupId} is still in use`, {
            cause: err,
            remediation:
              'A network interface still uses it (a terminated instance releases its interface after a few minutes, ' +
              'or another resource was attached to the group). Run the same command again later.',
          });
        }
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  async deleteKeyPair(keyName: string): Promise<void> {
    await this.callUnlessNotFound('DeleteKeyPair', () => this.ec2.deleteKeyPair({ KeyName: keyName }));
  }

  async releaseAddress(allocationId: string): Promise<void> {
    await this.callUnlessNotFound('ReleaseAddress', () => this.ec2.releaseAddress({ AllocationId: allocationId }));
  }

  async disassociateAddress(associationId: string): Promise<void> {
    await this.callUnlessNotFound('DisassociateAddress', () => this.ec2.disassociateAddress({ AssociationId: associationId }));
  }

  async waitForVolumeAvailable(volumeId: string, timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const out = await this.callUnlessNotFound('DescribeVolumes', () => this.ec2.describeVolumes({ VolumeIds: [volumeId] }));
      const volume = out?.Volumes?.[0];
      if (!volume) throw new CloudError('volume-not-found', `Volume ${volumeId} does not exist in ${this.region}`);
      if (volume.State === 'available') return;
      if (volume.State === 'error') throw new CloudError('volume-error', `Volume ${volumeId} is in the error state`);
      if (this.now() >= deadline) {
        throw new WaitTimeoutError('volume-available', `Volume ${volumeId} did not become available in ${Math.round(timeoutMs / 1000)} s (last state: ${volume.State ?? 'unknown'})`, {
          details: { volumeId, lastState: volume.State },
        });
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  async deleteVolume(volumeId: string): Promise<void> {
    await this.callUnlessNotFound('DeleteVolume', () => this.ec2.deleteVolume({ VolumeId: volumeId }));
  }

  // --- image builds (issue 4): see aws-image-build.ts ---

  private get imageBuildContext(): imageBuild.ImageBuildContext {
    return { ec2: this.ec2, region: this.region, profile: this.profile, pollIntervalMs: this.pollIntervalMs, sleep: this.sleep, now: this.now };
  }
  findBuildBaseImage(): Promise<ImageInfo | undefined> {
    return imageBuild.findBuildBaseImage(this.imageBuildContext);
  }
  imageBuildRequests(spec: ImageBuildSpec, opts?: { elasticIpAllocationId?: string }): CloudRequest[] {
    return imageBuild.imageBuildRequests(spec, opts);
  }
  ensureBuilderKeyPair(spec: ImageBuildSpec): Promise<KeyPairInfo> {
    return imageBuild.ensureBuilderKeyPair(this.imageBuildContext, spec);
  }
  ensureBuilderSecurityGroup(spec: ImageBuildSpec, placement: NetworkPlacement): Promise<SecurityGroupInfo> {
    return imageBuild.ensureBuilderSecurityGroup(this.imageBuildContext, spec, placement);
  }
  ensureBuilder(spec: ImageBuildSpec, refs: LaunchRefs): Promise<InstanceInfo> {
    return imageBuild.ensureBuilder(this.imageBuildContext, spec, refs);
  }
  associateBuilderAddress(allocationId: string, instanceId: string): Promise<AddressInfo> {
    return imageBuild.associateBuilderAddress(this.imageBuildContext, allocationId, instanceId);
  }
  disassociateBuilderAddress(allocationId: string, builderIds: string[]): Promise<boolean> {
    return imageBuild.disassociateBuilderAddress(this.imageBuildContext, allocationId, builderIds);
  }
  markBuilderProvisioned(instanceId: string): Promise<void> {
    return imageBuild.markBuilderProvisioned(this.imageBuildContext, instanceId);
  }
  stopBuilder(instanceId: string, timeoutMs: number): Promise<void> {
    return imageBuild.stopBuilder(this.imageBuildContext, instanceId, timeoutMs);
  }
  ensureBuiltImage(spec: ImageBuildSpec, builderId: string): Promise<ImageInfo> {
    return imageBuild.ensureBuiltImage(this.imageBuildContext, spec, builderId);
  }
  waitForBuiltImage(spec: ImageBuildSpec, imageId: string, timeoutMs: number, signal?: AbortSignal): Promise<ImageInfo> {
    return imageBuild.waitForBuiltImage(this.imageBuildContext, spec, imageId, timeoutMs, signal);
  }
  findImageBuild(buildName: string): Promise<ImageBuildResources> {
    return imageBuild.findImageBuild(this.imageBuildContext, buildName);
  }
  deleteBuiltImage(imageId: string): Promise<string[]> {
    return imageBuild.deleteBuiltImage(this.imageBuildContext, imageId);
  }

  // --- upgrade, backup and restore (issue 3): see aws-upgrade.ts ---

  describeInstanceDetails(instanceId: string): Promise<InstanceDetails | undefined> {
    return upgrade.describeInstanceDetails(this.upgradeClients, instanceId);
  }
  describeVolume(volumeId: string): Promise<VolumeInfo | undefined> {
    return upgrade.describeVolume(this.upgradeClients, volumeId);
  }
  createSnapshot(spec: SnapshotSpec): Promise<SnapshotInfo> {
    return upgrade.createSnapshot(this.upgradeClients, spec);
  }
  waitForSnapshot(snapshotId: string, timeoutMs: number): Promise<SnapshotInfo> {
    return upgrade.waitForSnapshot(this.upgradeClients, snapshotId, timeoutMs);
  }
  describeSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined> {
    return upgrade.describeSnapshot(this.upgradeClients, snapshotId);
  }
  listSnapshots(deployment: string): Promise<SnapshotInfo[]> {
    return upgrade.listSnapshots(this.upgradeClients, deployment);
  }
  deleteSnapshot(snapshotId: string): Promise<void> {
    return upgrade.deleteSnapshot(this.upgradeClients, snapshotId);
  }
  stopInstance(instanceId: string): Promise<void> {
    return upgrade.stopInstance(this.upgradeClients, instanceId);
  }
  startInstance(instanceId: string): Promise<void> {
    return upgrade.startInstance(this.upgradeClients, instanceId);
  }
  attachVolume(volumeId: string, instanceId: string, device: string, timeoutMs: number): Promise<void> {
    return upgrade.attachVolume(this.upgradeClients, volumeId, instanceId, device, timeoutMs);
  }
  detachVolume(volumeId: string, instanceId: string, timeoutMs: number): Promise<void> {
    return upgrade.detachVolume(this.upgradeClients, volumeId, instanceId, timeoutMs);
  }
  createVolumeFromSnapshot(spec: VolumeFromSnapshotSpec): Promise<VolumeInfo> {
    return upgrade.createVolumeFromSnapshot(this.upgradeClients, spec);
  }
  launchInstanceFromSnapshot(spec: SnapshotLaunchSpec): Promise<InstanceInfo> {
    return upgrade.launchInstanceFromSnapshot(this.upgradeClients, spec);
  }
  checkSnapshotLaunchPermissions(spec: SnapshotLaunchSpec): Promise<void> {
    return upgrade.checkSnapshotLaunchPermissions(this.upgradeClients, spec);
  }
  snapshotLaunchRequests(spec: SnapshotLaunchSpec): CloudRequest[] {
    return upgrade.snapshotLaunchRequests(spec);
  }
  associateAddress(allocationId: string, instanceId: string): Promise<AddressInfo | undefined> {
    return upgrade.associateAddress(this.upgradeClients, allocationId, instanceId);
  }
  tagResources(resourceIds: string[], tags: Tags): Promise<void> {
    return upgrade.tagResources(this.upgradeClients, resourceIds, tags);
  }
  untagResources(resourceIds: string[], keys: string[]): Promise<void> {
    return upgrade.untagResources(this.upgradeClients, resourceIds, keys);
  }
  describeVolumeInitialization(volumeId: string): Promise<VolumeInitialization> {
    return upgrade.describeVolumeInitialization(this.upgradeClients, volumeId);
  }
  findSnapshotSchedule(deployment: string): Promise<SnapshotScheduleInfo | undefined> {
    return upgrade.findSnapshotSchedule(this.upgradeClients, deployment);
  }
  snapshotScheduleRequests(spec: SnapshotScheduleSpec): CloudRequest[] {
    return [{ service: 'dlm', operation: 'CreateLifecyclePolicy', input: upgrade.snapshotSchedulePolicy(spec) }];
  }

  ensureSnapshotSchedule(spec: SnapshotScheduleSpec): Promise<SnapshotScheduleInfo> {
    return upgrade.ensureSnapshotSchedule(this.upgradeClients, spec);
  }
  deleteSnapshotSchedule(policyId: string): Promise<void> {
    return upgrade.deleteSnapshotSchedule(this.upgradeClients, policyId);
  }
}

/**
 * Builds the AWS adapter. The SDK (sdk.ts, several MB) loads on the first API call, not here: a
 * dry run without credentials builds its requests with the pure builders and never needs it, and
 * other clouds and --help never pay for it. Without any credential source, the credentials check
 * fails at once instead of loading the SDK to find that out.
 */
export async function createAwsCloud(
  region: string,
  opts: { profile?: string; endpoint?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<AwsCloud> {
  const { env = process.env, ...clientOpts } = opts;
  let loading: Promise<AwsClients> | undefined;
  const load = () => (loading ??= import('./sdk.js').then(({ createAwsClients }) => createAwsClients({ region, ...clientOpts })));
  const profile = opts.profile ?? env.AWS_PROFILE ?? 'default';
  const sts = lazyApi<StsApi>(() => load().then((c) => c.sts));
  const clients: AwsClients = {
    ec2: lazyApi<Ec2Api>(() => load().then((c) => c.ec2)),
    sts: {
      getCallerIdentity: async () => {
        const none = whyNoAwsCredentials({ env, profile });
        if (none) {
          throw new CredentialsError(`No AWS credentials found: ${none}`, {
            remediation:
              `Sign in with \`aws sso login --profile ${profile}\` or set up access keys with \`aws configure${profile === 'default' ? '' : ` --profile ${profile}`}\`; ` +
              'to use another profile pass --profile <name> or set AWS_PROFILE.',
          });
        }
        return sts.getCallerIdentity();
      },
    },
    dlm: lazyApi<DlmApi>(() => load().then((c) => c.dlm!)),
  };
  return new AwsCloud(clients, { region, ...(opts.profile ? { profile: opts.profile } : {}) });
}

/** An API object whose every method loads the real one first (the SDK is imported on first use). */
function lazyApi<T extends object>(get: () => Promise<T>): T {
  return new Proxy({} as T, {
    get: (_target, method) =>
      // Not a thenable: `await api` must not mistake the proxy for a promise.
      method === 'then' || typeof method !== 'string'
        ? undefined
        : (...args: unknown[]) => get().then((api) => (api as Record<string, (...a: unknown[]) => unknown>)[method]!(...args)),
  });
}
