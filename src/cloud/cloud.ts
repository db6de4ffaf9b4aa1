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

export type ResourceRole =
  | 'instance'
  | 'security-group'
  | 'key-pair'
  | 'address'
  | 'data-volume'
  | 'root-volume'
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
  ownerId?: string;
  creationDate?: string;
  /** Where we learnt of it: DescribeImages of a publisher, one we built, the shipped catalog, --image. */
  source: 'published' | 'built' | 'catalog' | 'flag';
  architecture?: string;
  state?: string;
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

  /** Validates --subnet, or picks the default VPC's default subnet. */
  resolvePlacement(subnetId?: string): Promise<NetworkPlacement>;

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
}

export type CloudFactory = (provider: CloudProvider, region: string, opts?: { profile?: string }) => Promise<Cloud>;
