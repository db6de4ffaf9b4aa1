// The Cloud port: provider-neutral verbs the engine and commands use, in OUR types.
// Adapters (src/cloud/aws, later gcp/azure) implement it; only one file per adapter imports the
// provider SDK. Every resource the tool creates carries the TAG_* tags so that status, list and
// destroy can find a deployment with no local state.

export type CloudProvider = 'aws' | 'gcp' | 'azure';

export const TAG_DEPLOYMENT = 'sourcegraph-launch:deployment';
export const TAG_ROLE = 'sourcegraph-launch:role';
export const TAG_VERSION = 'sourcegraph-launch:version';
export const TAG_SIZE = 'sourcegraph-launch:size';
/** "true" when the tool created the resource and may delete it; absent on things the user brought. */
export const TAG_MANAGED = 'sourcegraph-launch:managed';
/** SHA256 fingerprint of the public key a key pair was imported from: tells which machine's key it is. */
export const TAG_KEY_FINGERPRINT = 'sourcegraph-launch:key-fingerprint';
/** "user" on a resource the user brought (an Elastic IP): found with the deployment from any machine, never deleted. */
export const TAG_OWNER = 'sourcegraph-launch:owner';

export type ResourceRole =
  | 'instance'
  | 'security-group'
  | 'key-pair'
  | 'address'
  | 'data-volume'
  /** The data of a rollback point (the pre-upgrade or rolled-back instance's volume): prune may remove it once snapshotted. */
  | 'rollback-data'
  | 'root-volume'
  /** What RunInstances tags both new volumes with, until each is told apart by its device (never data-volume or root-volume by mistake). */
  | 'instance-volume'
  | 'snapshot'
  | 'image'
  | 'builder';

export type Tags = Record<string, string>;

export interface Identity {
  account: string;
  arn: string;
  userId?: string;
}

export interface ImageInfo {
  id: string;
  name: string;
  /** Sourcegraph version the image boots, when known (from its name or Version tag). */
  version?: string;
  /** The size preset the image was made for, when it was made for one. */
  size?: string;
  ownerId?: string;
  creationDate?: string;
  /** Where we learnt of it: DescribeImages of a publisher, one we built, the shipped catalog, --image. */
  source: 'published' | 'built' | 'catalog' | 'flag';
  architecture?: string;
  state?: string;
  tags?: Tags;
}

export interface NetworkPlacement {
  vpcId: string;
  subnetId: string;
  availabilityZone: string;
}

export interface DataVolumeSpec {
  sizeGiB: number;
  type: 'gp3' | 'io2';
  iops?: number;
  throughput?: number;
}

export type KeyPairSpec =
  /** Import a public key we generated or the user pointed at (--ssh-key); the tool owns the key pair. */
  | { mode: 'import'; keyName: string; publicKey: string }
  /** A key pair that already exists in the account (--key-name); never deleted by the tool. */
  | { mode: 'existing'; keyName: string };

export type ElasticIpSpec =
  | { mode: 'new' }
  | { mode: 'none' }
  /** An address the user brought (eipalloc-…); associated but never released. */
  | { mode: 'existing'; allocationId: string };

/** Everything needed to create a deployment, fully resolved (no defaults applied by adapters). */
export interface LaunchSpec {
  name: string;
  region: string;
  version: string;
  size: string;
  imageId: string;
  instanceType: string;
  /** Subnet to launch into; undefined = the default VPC's default subnet chosen by the adapter. */
  subnetId?: string;
  rootVolume: { device: string; sizeGiB: number; type: 'gp3' };
  dataVolume: DataVolumeSpec & { device: string };
  kmsKeyId?: string;
  /** CIDRs allowed to reach 80 and 443. Never empty. */
  allowCidrs: string[];
  /** CIDRs allowed to reach 22; empty = no SSH rule at all. */
  sshCidrs: string[];
  keyPair: KeyPairSpec;
  elasticIp: ElasticIpSpec;
  /** Idempotency token for RunInstances (stable across retries of the same launch). */
  clientToken: string;
  /** User data, already base64-encoded (launch --image-source base: the provisioning; issue 4). */
  userDataBase64?: string;
  /**
   * Launch on this kept data volume (--data-volume vol-…) instead of a new one: the instance is run
   * without a data disk behind the boot guard, then stopped, given the volume, and started.
   */
  existingDataVolumeId?: string;
}

/** IDs of resources created by earlier steps that later requests refer to. */
export interface LaunchRefs {
  keyName: string;
  securityGroupId: string;
  subnetId?: string;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface VolumeInfo {
  id: string;
  sizeGiB: number;
  type: string;
  iops?: number;
  throughput?: number;
  state: string;
  availabilityZone: string;
  encrypted: boolean;
  kmsKeyId?: string;
  snapshotId?: string;
  attachedTo?: string;
  device?: string;
  deleteOnTermination?: boolean;
  tags: Tags;
}

export interface InstanceInfo {
  id: string;
  state: InstanceState;
  instanceType: string;
  imageId: string;
  availabilityZone: string;
  subnetId?: string;
  vpcId?: string;
  publicIp?: string;
  privateIp?: string;
  launchTime?: string;
  keyName?: string;
  /** The idempotency key it was created with (ClientToken): which attempt of a launch made it. */
  idempotencyKey?: string;
  securityGroupIds: string[];
  /** device name → volume id, from the block device mappings. */
  volumes: { device: string; volumeId: string; deleteOnTermination: boolean }[];
  tags: Tags;
}

export interface SecurityGroupInfo {
  id: string;
  name: string;
  vpcId?: string;
  tags: Tags;
  /** Ingress rules flattened: one entry per port range and CIDR. */
  ingress: { protocol: string; fromPort?: number; toPort?: number; cidr: string }[];
}

export interface KeyPairInfo {
  name: string;
  id?: string;
  fingerprint?: string;
  tags: Tags;
  managed: boolean;
}

export interface AddressInfo {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  instanceId?: string;
  tags: Tags;
  managed: boolean;
}

/** What exists in the cloud for one deployment, found by tags (and by ID for user-brought things). */
export interface DeploymentResources {
  name: string;
  region: string;
  /** The newest non-terminated instance tagged with the deployment, if any. */
  instance?: InstanceInfo;
  /** Other non-terminated instances tagged with the deployment (e.g. a rollback point). */
  otherInstances: InstanceInfo[];
  securityGroups: SecurityGroupInfo[];
  keyPairs: KeyPairInfo[];
  addresses: AddressInfo[];
  volumes: VolumeInfo[];
  /** Version tag of the instance, if present. */
  version?: string;
  size?: string;
}

/** Roles of volumes that hold Sourcegraph data: kept by destroy unless --delete-data. */
const DATA_ROLES = new Set(['data-volume', 'rollback-data']);

/**
 * The volumes of a deployment that hold (or may hold) its data: every volume but root volumes. One
 * still tagged instance-volume (a launch interrupted before it told its volumes apart) counts as data
 * unless an instance maps it as a volume deleted on termination (a root volume).
 */
export function dataVolumesOf(d: DeploymentResources): VolumeInfo[] {
  const instances = [...(d.instance ? [d.instance] : []), ...d.otherInstances];
  const disposable = new Set(instances.flatMap((i) => i.volumes.filter((m) => m.deleteOnTermination).map((m) => m.volumeId)));
  return d.volumes.filter((v) => {
    const role = v.tags[TAG_ROLE] ?? '';
    return DATA_ROLES.has(role) || (role === 'instance-volume' && !disposable.has(v.id));
  });
}

export interface InstanceStatusChecks {
  /** 'ok' once both the system and the instance reachability checks pass. */
  overall: 'ok' | 'initializing' | 'impaired' | 'insufficient-data' | 'not-applicable' | 'unknown';
  system?: string;
  instance?: string;
}

/** One mutating request, as `--dry-run --json` prints it. */
export interface CloudRequest {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

export interface Cloud {
  readonly provider: CloudProvider;
  readonly region: string;

  /** Credentials check (STS GetCallerIdentity on AWS). Throws CredentialsError (exit 3). */
  whoAmI(): Promise<Identity>;

  /** Regions this account can use (opted-in ones included). */
  listRegions(): Promise<string[]>;

  /** Newest image for a version ('latest' = newest of all) from the publishers and our own builds. */
  findImage(query: { version: string; size?: string }): Promise<ImageInfo | undefined>;
  describeImage(imageId: string): Promise<ImageInfo | undefined>;

  /**
   * Validates --subnet, or picks the default VPC's default subnet, among `zones` when given (the
   * zones that offer the instance type, or the one a kept data volume is in).
   */
  resolvePlacement(subnetId?: string, zones?: string[]): Promise<NetworkPlacement>;

  /** The zones of the region that offer this instance type; empty when none does (or it does not exist). */
  instanceTypeZones(instanceType: string): Promise<string[]>;

  findDeployment(name: string): Promise<DeploymentResources>;
  /** Every deployment in the region, grouped by the deployment tag. */
  listDeployments(): Promise<DeploymentResources[]>;

  /** The mutating requests launch would send, in order, with their real inputs (placeholders for IDs not yet known). */
  launchRequests(spec: LaunchSpec): CloudRequest[];
  /** Sends RunInstances with DryRun: true to prove permissions; resolves when AWS says it would succeed. */
  checkLaunchPermissions(spec: LaunchSpec, refs: LaunchRefs): Promise<void>;

  /** Idempotent: finds by tag (or name) first, creates only when missing. */
  ensureKeyPair(spec: LaunchSpec): Promise<KeyPairInfo>;
  ensureSecurityGroup(spec: LaunchSpec, placement: NetworkPlacement): Promise<SecurityGroupInfo>;
  /** Finds a non-terminated instance of the deployment or runs one (ClientToken = spec.clientToken). */
  ensureInstance(spec: LaunchSpec, refs: LaunchRefs): Promise<InstanceInfo>;
  /** Allocates (or adopts) the address per spec.elasticIp and associates it; undefined for mode none. */
  ensureAddress(spec: LaunchSpec, instanceId: string): Promise<AddressInfo | undefined>;

  describeInstance(instanceId: string): Promise<InstanceInfo | undefined>;
  instanceStatusChecks(instanceId: string): Promise<InstanceStatusChecks>;
  /** Serial console output (decoded), '' when not yet available. */
  consoleOutput(instanceId: string): Promise<string>;

  terminateInstance(instanceId: string): Promise<void>;
  waitForInstanceState(instanceId: string, state: InstanceState, timeoutMs: number): Promise<void>;
  deleteSecurityGroup(groupId: string): Promise<void>;
  deleteKeyPair(keyName: string): Promise<void>;
  releaseAddress(allocationId: string): Promise<void>;
  disassociateAddress(associationId: string): Promise<void>;
  waitForVolumeAvailable(volumeId: string, timeoutMs: number): Promise<void>;
  deleteVolume(volumeId: string): Promise<void>;

  // --- image builds (issue 4) ---
  // A build launches a tagged builder from the plain OS image, provisions it over SSH, stops it and
  // makes an image of both disks. Every temporary resource carries TAG_BUILD = spec.buildName, so a
  // re-run finds what an interrupted one made and the cleanup removes exactly that.

  /** The newest plain OS image builds start from (Amazon Linux 2023 x86_64 on AWS). */
  findBuildBaseImage(): Promise<ImageInfo | undefined>;
  /** Every available image built by sourcegraph-launch in this account and region, newest version first. */
  listBuiltImages(): Promise<ImageInfo[]>;
  /** The mutating requests a build sends, in order, with placeholders for IDs not yet known. */
  imageBuildRequests(spec: ImageBuildSpec, opts?: { elasticIpAllocationId?: string }): CloudRequest[];
  ensureBuilderKeyPair(spec: ImageBuildSpec): Promise<KeyPairInfo>;
  /** A temporary group allowing 22 from spec.sshCidrs only. */
  ensureBuilderSecurityGroup(spec: ImageBuildSpec, placement: NetworkPlacement): Promise<SecurityGroupInfo>;
  /** Finds the build's live builder or runs one (both volumes deleted with it). */
  ensureBuilder(spec: ImageBuildSpec, refs: LaunchRefs): Promise<InstanceInfo>;
  /** Associates an address the user brought with the builder (never released by the build). */
  associateBuilderAddress(allocationId: string, instanceId: string): Promise<AddressInfo>;
  /** Disassociates the address if one of these builders holds it; true when it did. */
  disassociateBuilderAddress(allocationId: string, builderIds: string[]): Promise<boolean>;
  /** Records on the builder that provisioning succeeded, so a resumed build skips straight to the image. */
  markBuilderProvisioned(instanceId: string): Promise<void>;
  /** Stops the builder and waits until it is stopped. */
  stopBuilder(instanceId: string, timeoutMs: number): Promise<void>;
  /** CreateImage of root + data disk, or the image this build already made. */
  ensureBuiltImage(spec: ImageBuildSpec, builderId: string): Promise<ImageInfo>;
  /** Waits until the image is available, then tags its snapshots; throws if it fails. */
  waitForBuiltImage(spec: ImageBuildSpec, imageId: string, timeoutMs: number, signal?: AbortSignal): Promise<ImageInfo>;
  /** What exists of one build (any state), found by TAG_BUILD. */
  findImageBuild(buildName: string): Promise<ImageBuildResources>;
  /** Deregisters an image we built and deletes its snapshots; returns the snapshot ids removed. */
  deleteBuiltImage(imageId: string): Promise<string[]>;

  // --- upgrade, backup and restore (issue 3) ---
  /** The instance plus what an upgrade must copy that InstanceInfo leaves out (IAM profile, root volume). */
  describeInstanceDetails(instanceId: string): Promise<InstanceDetails | undefined>;
  describeVolume(volumeId: string): Promise<VolumeInfo | undefined>;
  /** Idempotent: a snapshot carrying the same operation id and purpose is returned instead of a new one. */
  createSnapshot(spec: SnapshotSpec): Promise<SnapshotInfo>;
  /** Resolves once the snapshot is completed; an errored snapshot throws. */
  waitForSnapshot(snapshotId: string, timeoutMs: number): Promise<SnapshotInfo>;
  describeSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined>;
  /** Every snapshot tagged with the deployment, newest first. */
  listSnapshots(deployment: string): Promise<SnapshotInfo[]>;
  deleteSnapshot(snapshotId: string): Promise<void>;
  stopInstance(instanceId: string): Promise<void>;
  startInstance(instanceId: string): Promise<void>;
  /** Attaches and waits until the volume is in use; a no-op when it is attached there already. */
  attachVolume(volumeId: string, instanceId: string, device: string, timeoutMs: number): Promise<void>;
  /** Detaches from `instanceId` (only from it) and waits until the volume is available. */
  detachVolume(volumeId: string, instanceId: string, timeoutMs: number): Promise<void>;
  /** Idempotent by the operation tag: creates a volume from a snapshot, tagged like a data volume. */
  createVolumeFromSnapshot(spec: VolumeFromSnapshotSpec): Promise<VolumeInfo>;
  /** RunInstances like an existing instance, the data volume from a snapshot or left out; idempotent by the operation tag. */
  launchInstanceFromSnapshot(spec: SnapshotLaunchSpec): Promise<InstanceInfo>;
  /** RunInstances DryRun of the same request. */
  checkSnapshotLaunchPermissions(spec: SnapshotLaunchSpec): Promise<void>;
  /** The requests launchInstanceFromSnapshot sends, for --dry-run. */
  snapshotLaunchRequests(spec: SnapshotLaunchSpec): CloudRequest[];
  /** Moves an address to this instance (allowing reassociation from another instance of the deployment). */
  associateAddress(allocationId: string, instanceId: string): Promise<AddressInfo | undefined>;
  tagResources(resourceIds: string[], tags: Tags): Promise<void>;
  /** Removes these tag keys (absent ones are fine). */
  untagResources(resourceIds: string[], keys: string[]): Promise<void>;
  /** How far a volume created from a snapshot has loaded its blocks. */
  describeVolumeInitialization(volumeId: string): Promise<VolumeInitialization>;
  /** The Data Lifecycle Manager policy snapshotting this deployment's data volume, if any. */
  findSnapshotSchedule(deployment: string): Promise<SnapshotScheduleInfo | undefined>;
  /** Creates the policy, or updates the one found when its schedule or retention differ. */
  ensureSnapshotSchedule(spec: SnapshotScheduleSpec): Promise<SnapshotScheduleInfo>;
  /** The request ensureSnapshotSchedule sends to create the policy, for --dry-run. */
  snapshotScheduleRequests(spec: SnapshotScheduleSpec): CloudRequest[];
  deleteSnapshotSchedule(policyId: string): Promise<void>;
}

export type CloudFactory = (provider: CloudProvider, region: string, opts?: { profile?: string }) => Promise<Cloud>;

// --- upgrade, backup and restore (issue 3) ---

/** Why a snapshot exists: upgrades take a live and a final one, `backup` takes them on demand. */
export const TAG_PURPOSE = 'sourcegraph-launch:purpose';
/** The version of the data in a snapshot or rollback point. */
export const TAG_SOURCE_VERSION = 'sourcegraph-launch:source-version';
/** The upgrade/rollback/restore run that made a resource: how a re-run finds what it already made. */
export const TAG_OPERATION = 'sourcegraph-launch:operation';
/** clone or move, on the rollback-point instance, so `rollback` knows how to go back. */
export const TAG_STRATEGY = 'sourcegraph-launch:strategy';

/** When a rollback volume's data last changed (its instance stopped for good): prune needs a snapshot taken after it. */
export const TAG_LAST_WRITTEN = 'sourcegraph-launch:last-written';

/** scheduled: made by the Data Lifecycle Manager policy of `backup --schedule`; pre-prune-final: `prune --snapshot-first`. */
export type SnapshotPurpose = 'pre-upgrade-live' | 'pre-upgrade-final' | 'backup' | 'scheduled' | 'pre-prune-final';

export interface SnapshotInfo {
  id: string;
  volumeId?: string;
  state: string;
  progress?: string;
  startTime?: string;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId?: string;
  description?: string;
  tags: Tags;
}

export interface SnapshotSpec {
  deployment: string;
  volumeId: string;
  /** The version of the data on the volume (source-version tag). */
  version: string;
  size?: string;
  purpose: SnapshotPurpose;
  /** Run id (journal id + hop) the snapshot belongs to; with purpose and volume it makes create idempotent. */
  operation: string;
  description: string;
}

export interface InstanceDetails extends InstanceInfo {
  iamInstanceProfileArn?: string;
  rootDeviceName?: string;
}

/** A data volume made from a snapshot, like the original (type, IOPS, throughput, key, size). */
export interface SnapshotVolumeSpec {
  snapshotId: string;
  sizeGiB: number;
  type: string;
  iops?: number;
  throughput?: number;
  kmsKeyId?: string;
  /** MiB/s to load the blocks at (EBS provisioned volume initialisation rate); undefined = lazy loading. */
  initializationRateMiBps?: number;
}

export interface VolumeFromSnapshotSpec {
  deployment: string;
  version: string;
  size?: string;
  availabilityZone: string;
  volume: SnapshotVolumeSpec;
  operation: string;
  clientToken: string;
}

export interface SnapshotLaunchSpec {
  deployment: string;
  /** The version the image boots (version tag of the instance). */
  version: string;
  size?: string;
  imageId: string;
  instanceType: string;
  subnetId: string;
  securityGroupIds: string[];
  keyName?: string;
  iamInstanceProfileArn?: string;
  /** Tags copied from the old instance (ours are set on top). */
  tags: Tags;
  rootVolume: { device: string; sizeGiB: number; type: string; kmsKeyId?: string };
  dataDevice: string;
  /** snapshot: /dev/sdb from the snapshot; none: no /dev/sdb at all (move attaches the old volume). */
  data: { mode: 'snapshot'; volume: SnapshotVolumeSpec } | { mode: 'none' };
  /** User data (plain text; the adapter encodes it). */
  userData?: string;
  operation: string;
  clientToken: string;
}

export interface VolumeInitialization {
  /** completed also when the volume was never lazily loaded (not from a snapshot). */
  state: 'initializing' | 'completed' | 'unknown';
  /** default or provisioned-rate, as AWS reports it. */
  type?: string;
  progressPercent?: number;
  etaSeconds?: number;
}

export interface SnapshotScheduleSpec {
  deployment: string;
  schedule: 'daily';
  retain: number;
  /** The role DLM acts as (the account's AWSDataLifecycleManagerDefaultRole by default). */
  executionRoleArn: string;
}

export interface SnapshotScheduleInfo {
  policyId: string;
  state: string;
  schedule?: string;
  retain?: number;
  description?: string;
  /** Whether each snapshot gets the volume's tags (its version among them). */
  copyTags?: boolean;
}

// --- image builds (issue 4) ---

/** Names the build every temporary resource of an image build belongs to. */
export const TAG_BUILD = 'sourcegraph-launch:build';
/** The one run of a build that made a resource: a failed run's cleanup removes only its own. */
export const TAG_BUILD_RUN = 'sourcegraph-launch:build-run';
/** Which scripts made an image: the git commit of the package, else its version. */
export const TAG_SOURCE_COMMIT = 'sourcegraph-launch:source-commit';
/** "true" on a builder whose provisioning finished. */
export const TAG_PROVISIONED = 'sourcegraph-launch:provisioned';

export interface ImageBuildSpec {
  /** Value of TAG_BUILD, e.g. "6.12.5040-xs". */
  buildName: string;
  /** Value of TAG_BUILD_RUN: this run (its journal id); names the key pair and security group with buildName. */
  runId: string;
  region: string;
  version: string;
  size: string;
  baseImageId: string;
  instanceType: string;
  subnetId?: string;
  /** CIDRs allowed to reach the builder's port 22 (the machine running the build). Never empty. */
  sshCidrs: string[];
  keyName: string;
  /** OpenSSH public key line imported as the builder's key pair. */
  publicKey: string;
  rootVolume: { device: string; sizeGiB: number; type: 'gp3' };
  dataVolume: { device: string; sizeGiB: number; type: 'gp3' };
  kmsKeyId?: string;
  imageName: string;
  sourceCommit: string;
  /** Idempotency token for the builder's RunInstances. */
  clientToken: string;
}

export interface ImageBuildResources {
  builders: InstanceInfo[];
  securityGroups: SecurityGroupInfo[];
  keyPairs: KeyPairInfo[];
  /** Images of the build in any state (pending, available, failed). */
  images: ImageInfo[];
}
