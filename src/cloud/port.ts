// The Cloud port: what the workflows need from a cloud, in the product's own words. Each adapter
// (src/cloud/aws, gcp, azure) implements it; the workflows never see a provider's concepts.
//
//   scope           where a deployment lives: AWS account + region; GCE project + region (+ zone);
//                   Azure subscription + resource group + location
//   access policy   ports open to CIDRs (a security group; firewall rules for a network tag; an NSG)
//   static address  the deployment's URL, reserved apart from any instance (Elastic IP; a static
//                   external address; a Standard public IP) and moved between instances
//   disks by role   root and data, never by device name; the adapter knows where each attaches
//   labels          our bookkeeping on every resource, in neutral keys (see core/labels.ts); each
//                   adapter stores them as its cloud allows (tags, encoded labels)
//   idempotency key one per create, stable across retries of the same attempt (ClientToken,
//                   requestId, PUT by name)
//   capabilities    optional abilities a workflow checks before relying on them
//   image           a root image plus, where the cloud keeps it apart, a data-disk template (AWS:
//                   one AMI holds both; GCE: image + snapshot; Azure: gallery version with a data disk)
import type { Labels } from '../core/labels.js';
import type { RunCommandLimits, RunScriptOutput } from '../remote/run-command-channel.js';

export type ProviderId = 'aws' | 'gcp' | 'azure';

/** Where a deployment lives. `params` are the provider's own scope values (project, resource group …). */
export interface Scope {
  provider: ProviderId;
  region: string;
  params: Readonly<Record<string, string>>;
}

export interface Identity {
  /** AWS account, GCE project, Azure subscription. */
  account: string;
  /** Who the credentials are (an ARN, a service account e-mail, an object id). */
  principal: string;
}

/** Optional abilities; workflows handle their absence. */
export interface Capabilities {
  /** The cloud can say, without creating anything, whether the credentials may launch (RunInstances DryRun). */
  permissionPreflight: boolean;
  /** A disk made from a snapshot can be asked to load its blocks at a provisioned rate. */
  diskInitializationRate: boolean;
  /** The cloud runs scheduled snapshots of a disk itself (DLM, snapshot schedule policies). */
  snapshotSchedules: boolean;
  /** The instance publishes its SSH host key fingerprints where the launcher can read them before connecting. */
  consoleHostKeys: boolean;
  /** An instance can be created with an existing disk attached (GCE, Azure); AWS needs stop → attach → start. */
  attachExistingDiskAtCreate: boolean;
  /** The cloud reports its own health checks for a running instance (EC2 status checks). */
  instanceHealthChecks: boolean;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminating' | 'terminated';

export type DiskRole = 'root' | 'data';

export interface AttachedDisk {
  role: DiskRole | 'other';
  diskId: string;
  deleteWithInstance: boolean;
}

export interface Instance {
  id: string;
  state: InstanceState;
  machineType: string;
  imageId: string;
  zone: string;
  subnetId?: string;
  publicIp?: string;
  privateIp?: string;
  launchTime?: string;
  /** The SSH key the instance was created with, where the cloud records one by name (AWS key pair). */
  sshKeyName?: string;
  /** The SSH public key the instance carries itself, where the cloud keeps no key by name (GCE `ssh-keys` metadata): an agent gets the same. */
  sshPublicKey?: string;
  accessPolicyIds: string[];
  disks: AttachedDisk[];
  labels: Labels;
  /** Labels and tags that are not ours (the user's), copied to a replacement instance. */
  foreignLabels: Readonly<Record<string, string>>;
  /** The idempotency key it was created with, when the cloud reports it. */
  idempotencyKey?: string;
  /** The identity it runs as, when it has one (see InstanceSpec.instanceIdentity). */
  instanceIdentity?: string;
}

export interface Disk {
  id: string;
  sizeGiB: number;
  type: string;
  iops?: number;
  throughput?: number;
  state: 'creating' | 'available' | 'in-use' | 'deleting' | 'error' | string;
  zone: string;
  encrypted: boolean;
  keyId?: string;
  sourceSnapshotId?: string;
  attachedTo?: string;
  labels: Labels;
}

export interface Snapshot {
  id: string;
  diskId?: string;
  state: 'pending' | 'completed' | 'error' | string;
  progress?: string;
  startTime?: string;
  sizeGiB: number;
  encrypted: boolean;
  keyId?: string;
  description?: string;
  labels: Labels;
}

export interface AccessRule {
  port: number;
  cidr: string;
  /**
   * A rule opened for one purpose by a day-two command (openWorldPort), not by launch: launch's
   * ensureAccessPolicy leaves it alone, and closeWorldPort removes only it.
   */
  purpose?: WorldPortPurpose;
}

/** Why a port is open to the whole internet: `tls --tls acme` HTTP-01 validation (Let's Encrypt connects to 80). */
export type WorldPortPurpose = 'acme-http-01';

export interface AccessPolicy {
  id: string;
  name: string;
  /** Only tcp rules on single ports are ours to govern; others are reported as they are. */
  rules: AccessRule[];
  labels: Labels;
  /** Rules whose source is a policy (the deployment's own machines), never a CIDR: the k3s cluster ports (scale). */
  clusterRules?: ClusterRule[];
}

/** A port open only to the members of a policy (AWS: a security group naming itself as the source). */
export interface ClusterRule {
  protocol: 'tcp' | 'udp';
  port: number;
  /** The policy whose members may connect. */
  sourcePolicyId: string;
}

/**
 * The ports a k3s server and its agents talk on, and nothing else: the API (6443/tcp), flannel's
 * VXLAN (8472/udp) and the kubelet (10250/tcp). Users' 80/443 and SSH are not among them.
 */
export const CLUSTER_PORTS: readonly { protocol: 'tcp' | 'udp'; port: number }[] = [
  { protocol: 'tcp', port: 6443 },
  { protocol: 'udp', port: 8472 },
  { protocol: 'tcp', port: 10250 },
];

export interface SshKey {
  name: string;
  /** Ours to delete (imported by the tool) or the user's (never deleted). */
  managed: boolean;
  labels: Labels;
}

export interface StaticAddress {
  id: string;
  ip: string;
  instanceId?: string;
  /** Reserved by the tool (released by destroy) or brought by the user (never released). */
  managed: boolean;
  labels: Labels;
}

export interface Image {
  id: string;
  name: string;
  version?: string;
  size?: string;
  source: 'published' | 'built' | 'catalog' | 'flag';
  createdAt?: string;
  architecture?: string;
  state?: string;
  /** Where the cloud keeps the prepared data disk apart from the root image (GCE snapshot, Azure data disk image). */
  dataTemplateId?: string;
  labels: Labels;
}

export interface Placement {
  zone: string;
  subnetId?: string;
  networkId?: string;
}

/** Everything of one deployment, found by its labels (and by association for what the user brought). */
export interface Deployment {
  name: string;
  scope: Scope;
  /** The serving instance (role instance, newest first), if any. */
  instance?: Instance;
  /** Every other live instance (rollback points, rolled-back, intermediate). */
  otherInstances: Instance[];
  accessPolicies: AccessPolicy[];
  sshKeys: SshKey[];
  addresses: StaticAddress[];
  disks: Disk[];
  version?: string;
  size?: string;
}

/** One mutating request as `--dry-run --json` prints it. */
export interface CloudRequest {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

export type { DiskSpec } from '../core/prices.js';
import type { DiskSpec } from '../core/prices.js';

/** How the data disk of a new instance comes to be. */
export type DataDiskSpec =
  | { mode: 'new'; disk: DiskSpec }
  /** Made from a snapshot at creation (the instance never boots without its data). */
  | { mode: 'snapshot'; snapshotId: string; disk: DiskSpec; initializationRateMiBps?: number }
  /** An existing disk: attached at creation where the cloud can (attachExistingDiskAtCreate), else created without one behind the boot guard. */
  | { mode: 'existing'; diskId: string }
  /** None at creation, behind the boot guard (the disk is attached before the first real boot). */
  | { mode: 'none' };

export type SshKeySpec =
  | { mode: 'import'; name: string; publicKey: string }
  | { mode: 'existing'; name: string }
  | { mode: 'none' };

export interface InstanceSpec {
  deployment: string;
  /** instance (a deployment's), builder (an image build's) or agent (a k3s agent node of a deployment, `scale`). */
  role: 'instance' | 'builder' | 'agent';
  version: string;
  size?: string;
  imageId: string;
  /** The image's data-disk template, when the cloud keeps it apart (see Image.dataTemplateId). */
  dataTemplateId?: string;
  machineType: string;
  placement: Placement;
  accessPolicyIds: string[];
  sshKey: SshKeySpec;
  /** The login user the SSH key is for (GCE metadata, Azure osProfile; AWS images have their own). */
  loginUser: string;
  rootDisk: DiskSpec;
  dataDisk: DataDiskSpec;
  /** The disks go with the instance (a builder's), or the data disk is kept (a deployment's). */
  keepDataDisk: boolean;
  encryptionKeyId?: string;
  /** cloud-init user data, base64 (it may be gzipped): the first-boot provisioning of a base image. */
  userDataBase64?: string;
  /** The identity the instance runs as (AWS instance profile, GCE service account, Azure managed identity), copied to a replacement. */
  instanceIdentity?: string;
  labels: Labels;
  foreignLabels?: Readonly<Record<string, string>>;
  idempotencyKey: string;
  /**
   * false: the instance gets no public address of the cloud's at all (AWS: its network interface
   * without AssociatePublicIpAddress; GCE: no access config; Azure: no public IP resource), so it is
   * reachable only inside its network (the rehearsal's copy, reached through production over SSH).
   * Default (absent or true): as the cloud gives one today; a static address may be attached either way.
   */
  publicIp?: boolean;
}

export interface AccessPolicySpec {
  deployment: string;
  /** A temporary policy of an image build carries the build's labels instead. */
  labels: Labels;
  name: string;
  placement: Placement;
  rules: AccessRule[];
}

export type AddressSpec = { mode: 'new'; deployment: string; labels: Labels } | { mode: 'existing'; id: string; deployment: string } | { mode: 'none' };

export interface SnapshotSpec {
  deployment: string;
  diskId: string;
  labels: Labels;
  description: string;
  /** With the purpose and disk, what makes a create idempotent (a re-run finds the snapshot it made). */
  operation: string;
}

export interface DiskFromSnapshotSpec {
  deployment: string;
  zone: string;
  snapshotId: string;
  disk: DiskSpec;
  encryptionKeyId?: string;
  initializationRateMiBps?: number;
  labels: Labels;
  idempotencyKey: string;
}

export interface SnapshotScheduleSpec {
  deployment: string;
  schedule: 'daily';
  retain: number;
  /** Provider-specific settings (the role DLM acts as). */
  params: Readonly<Record<string, string>>;
}

export interface SnapshotSchedule {
  id: string;
  state: string;
  schedule?: string;
  retain?: number;
  copiesLabels?: boolean;
}

export interface ImageFromBuilderSpec {
  buildName: string;
  runId: string;
  name: string;
  description: string;
  labels: Labels;
}

export interface DiskInitialization {
  state: 'initializing' | 'completed' | 'unknown';
  type?: string;
  progressPercent?: number;
  etaSeconds?: number;
}

export interface InstanceHealth {
  overall: 'ok' | 'initializing' | 'impaired' | 'insufficient-data' | 'not-applicable' | 'unknown';
  detail?: string;
}

/**
 * What the cloud says about changing a disk's size (disk grow): the size usable now, a change still
 * under way, and whether (and when) it accepts the next one.
 */
export interface DiskResizeState {
  /** The size the instance can use now: during an EBS "modifying" phase still the old one. */
  sizeGiB: number;
  /** A change the cloud still works on (EBS modifying/optimizing; a GCE or Azure operation), if any. */
  inProgress?: { targetSizeGiB: number; state: string; progressPercent?: number; startedAt?: string };
  /** When the cloud accepts the next change, if not now (EBS: once the last completed, at most 4 in 24 h). */
  nextAllowedAt?: string;
  /** Why the next change must wait, in the cloud's words, for the message. */
  limit?: string;
  /** Growing to the size asked needs the instance stopped (deallocated) first (Azure, crossing 4 TiB). */
  needsStop?: boolean;
}

/** A whole launch, for the dry run: what each step would send. */
export interface LaunchRequestsSpec {
  sshKey: SshKeySpec;
  access: AccessPolicySpec;
  instance: InstanceSpec;
  address: AddressSpec;
}

/** What exists of one image build (any state), found by its build label. */
export interface BuildResources {
  builders: Instance[];
  accessPolicies: AccessPolicy[];
  sshKeys: SshKey[];
  images: Image[];
}

/**
 * The verbs. Every `ensure*` and create is idempotent: it looks up by labels (or name, or the
 * idempotency key) before creating, and labels at creation, so a re-run after a crash converges.
 * Reads of something that does not exist answer undefined; deletes of something gone succeed.
 */
export interface Cloud {
  readonly scope: Scope;
  readonly capabilities: Capabilities;

  // ---- who and where ----
  /** Checks the credentials (exit 3 when missing or expired). */
  whoAmI(): Promise<Identity>;
  /** The zones of the region that offer a machine type; empty when none does or it does not exist. */
  machineTypeZones(machineType: string): Promise<string[]>;
  /**
   * The zones of the region that offer a disk type; empty when none does. Only clouds where a disk
   * type may be offered in fewer zones than the machine type implement it (Azure: Premium SSD v2);
   * launch intersects it with machineTypeZones when the data disk is of such a type.
   */
  diskTypeZones?(diskType: string): Promise<string[]>;
  /** Validates a subnet (or picks the default network's), among `zones` when given. */
  resolvePlacement(subnetId: string | undefined, zones?: string[]): Promise<Placement>;

  // ---- images ----
  /** The newest image for a version ('latest' = newest of all), published or built by us. */
  findImage(query: { version: string; size?: string }): Promise<Image | undefined>;
  describeImage(imageId: string): Promise<Image | undefined>;
  /** Every available image built by sourcegraph-launch here, newest version first. */
  listBuiltImages(): Promise<Image[]>;
  /** The plain OS image builds and `--image-source base` start from. */
  findBaseImage(): Promise<Image | undefined>;

  // ---- deployments ----
  findDeployment(name: string): Promise<Deployment>;
  listDeployments(): Promise<Deployment[]>;

  // ---- what a launch creates ----
  /** The SSH key as the cloud keeps it; undefined where the key travels with the instance (GCE, Azure). */
  ensureSshKey(spec: SshKeySpec, deployment: string, labels: Labels): Promise<SshKey | undefined>;
  deleteSshKey(name: string): Promise<void>;
  /** Creates the policy or makes its governed rules (22/80/443) exactly `spec.rules`. */
  ensureAccessPolicy(spec: AccessPolicySpec): Promise<AccessPolicy>;
  deleteAccessPolicy(id: string): Promise<void>;
  /** Finds the instance this spec's idempotency key (or an earlier attempt's) made, else creates it. */
  ensureInstance(spec: InstanceSpec): Promise<Instance>;
  /** Would the cloud accept this instance? Only where capabilities.permissionPreflight. */
  checkInstancePermissions(spec: InstanceSpec): Promise<void>;
  /** Reserves (or adopts) the address; undefined for mode none. Not attached yet. */
  ensureStaticAddress(spec: AddressSpec): Promise<StaticAddress | undefined>;
  /** Attaches the address to this instance, moving it from another instance of the same deployment. */
  attachStaticAddress(addressId: string, instanceId: string): Promise<StaticAddress>;
  detachStaticAddress(addressId: string): Promise<void>;
  releaseStaticAddress(addressId: string): Promise<void>;

  // ---- instances ----
  describeInstance(instanceId: string): Promise<Instance | undefined>;
  instanceHealth(instanceId: string): Promise<InstanceHealth>;
  /** The serial console text ('' when none yet), where cloud-init prints the host key fingerprints. */
  consoleOutput(instanceId: string): Promise<string>;
  startInstance(instanceId: string): Promise<void>;
  stopInstance(instanceId: string): Promise<void>;
  terminateInstance(instanceId: string): Promise<void>;
  waitForInstanceState(instanceId: string, state: InstanceState, timeoutMs: number): Promise<void>;

  // ---- disks and snapshots ----
  describeDisk(diskId: string): Promise<Disk | undefined>;
  /** Attaches as the instance's data disk (the adapter knows the device / device name / LUN). */
  attachDataDisk(diskId: string, instanceId: string, timeoutMs: number): Promise<void>;
  /** Detaches from `instanceId` only, and waits until the disk is available. */
  detachDisk(diskId: string, instanceId: string, timeoutMs: number): Promise<void>;
  waitForDiskAvailable(diskId: string, timeoutMs: number): Promise<void>;
  deleteDisk(diskId: string): Promise<void>;
  createDiskFromSnapshot(spec: DiskFromSnapshotSpec): Promise<Disk>;
  diskInitialization(diskId: string): Promise<DiskInitialization>;
  createSnapshot(spec: SnapshotSpec): Promise<Snapshot>;
  waitForSnapshot(snapshotId: string, timeoutMs: number): Promise<Snapshot>;
  describeSnapshot(snapshotId: string): Promise<Snapshot | undefined>;
  /** Every snapshot of the deployment, newest first. */
  listSnapshots(deployment: string): Promise<Snapshot[]>;
  deleteSnapshot(snapshotId: string): Promise<void>;

  // ---- growing a disk (disk grow) ----
  /** The disk's size and modification limits; `targetSizeGiB` asks whether growing to it needs a stop. */
  diskResizeState(diskId: string, targetSizeGiB?: number): Promise<DiskResizeState>;
  /**
   * Asks the cloud to grow the disk to `sizeGiB` (a no-op when it is that size or a change to it is
   * under way). Never shrinks: a smaller size is refused (`disk-shrink-refused`, exit 2); a change
   * the cloud's limits refuse fails with `disk-modification-rate` naming when the next is allowed.
   */
  resizeDisk(diskId: string, sizeGiB: number): Promise<void>;

  // ---- labels ----
  setLabels(resourceIds: string[], labels: Labels): Promise<void>;
  removeLabels(resourceIds: string[], keys: (keyof Labels)[]): Promise<void>;

  // ---- scheduled snapshots (capabilities.snapshotSchedules) ----
  findSnapshotSchedule(deployment: string): Promise<SnapshotSchedule | undefined>;
  ensureSnapshotSchedule(spec: SnapshotScheduleSpec): Promise<SnapshotSchedule>;
  deleteSnapshotSchedule(id: string): Promise<void>;

  // ---- image builds ----
  findImageBuild(buildName: string): Promise<BuildResources>;
  /** Images the builder's disks (root, and data where the cloud keeps it apart); the builder must be stopped. */
  createImageFromBuilder(builderId: string, spec: ImageFromBuilderSpec): Promise<Image>;
  waitForImage(imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image>;
  /** Deletes an image we built and what holds its disks; returns the ids removed with it. */
  deleteImage(imageId: string): Promise<string[]>;

  // ---- dry runs: the mutating requests, in order, with their real inputs ----
  launchRequests(spec: LaunchRequestsSpec): CloudRequest[];
  instanceRequests(spec: InstanceSpec): CloudRequest[];
  scheduleRequests(spec: SnapshotScheduleSpec): CloudRequest[];
  buildRequests(spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }): CloudRequest[];
  /** What resizeDisk sends to grow `diskId` to `sizeGiB` (disk grow --dry-run). */
  resizeRequests(diskId: string, sizeGiB: number): CloudRequest[];

  // ---- quotas (optional: `doctor` reports a check it cannot make as skipped) ----
  /**
   * The scope's quotas a launch consumes, each where the cloud reports it (else why not, in
   * `unknown`). With a machine type, vCPUs are the tighter of the region's and its family's quota.
   */
  quotas?(machineType?: string): Promise<Quotas>;

  // ---- k3s agent nodes (`scale`; optional: a cloud without them makes `scale` exit 2) ----
  // Agents are instances like any other (ensureInstance with role 'agent', terminateInstance); they
  // show in Deployment.otherInstances with the role label 'agent'.
  /**
   * Opens CLUSTER_PORTS on the policy to the policy's own members (its source is the policy itself,
   * never a CIDR), leaving every other rule as it is; idempotent. Answers the policy.
   */
  ensureClusterAccess?(policyId: string): Promise<AccessPolicy>;
  /** The dry run of ensureClusterAccess: the request(s) it would send when nothing is open yet. */
  clusterAccessRequests?(policyId: string): CloudRequest[];
  // ---- a port open to the world for one purpose (tls --tls acme HTTP-01; optional) ----
  /**
   * Opens `port`/tcp to 0.0.0.0/0 on the policy as a rule marked with `purpose` (AWS: the rule's
   * description and tags), which ensureAccessPolicy then leaves alone. Idempotent. 'already-open':
   * a rule of the user's opens it to 0.0.0.0/0 already; nothing was made (nothing to close later).
   */
  openWorldPort?(policyId: string, port: number, purpose: WorldPortPurpose): Promise<'opened' | 'already-open'>;
  /** Removes only the rule openWorldPort made for `purpose` ('absent': there is none, or the policy is gone). */
  closeWorldPort?(policyId: string, port: number, purpose: WorldPortPurpose): Promise<'closed' | 'absent'>;
  // ---- DNS records in the cloud's DNS service (tls --domain, issue 15) ----
  /**
   * The public zone of this account that holds `domain` (the longest matching name), or undefined.
   * Private zones (visible only inside a network) are ignored: a record there serves no browser.
   */
  findDnsZone(domain: string): Promise<DnsZone | undefined>;
  /** The A record `name` in the zone, or undefined when there is none. */
  getARecord(zoneId: string, name: string): Promise<DnsARecord | undefined>;
  /** Creates the A record `name` → `ip`, or replaces its values (only this record; never the zone). */
  upsertARecord(zoneId: string, name: string, ip: string, ttl: number): Promise<void>;
  /**
   * Deletes the A record `name` only while it points at `ip` alone: 'deleted', 'absent' (nothing to
   * delete), or 'not-ours' (it points elsewhere now, and is left as it is).
   */
  deleteARecord(zoneId: string, name: string, ip: string): Promise<'deleted' | 'absent' | 'not-ours'>;
  // ---- the instance's own access to one DNS zone (tls --tls acme with DNS-01, issue 15; optional:
  // without it `--acme-challenge dns-01` exits 2 on that cloud) ----
  readonly acmeDnsAccess?: AcmeDnsAccess;
  // ---- HTTPS through the cloud's own certificate and load balancer (tls --tls managed, issue 15) ----
  /** Present only where offered (AWS today): `tls --tls managed` exits 2 on a cloud without it. */
  readonly managedHttps?: ManagedHttps;
  /** Where the cloud's balancer has no free certificate of its own but takes the user's (Azure Application Gateway). */
  readonly gatewayHttps?: GatewayHttps;

  // ---- the run-command channel (issue 15; optional: without it `config`, `executors enable` and
  // `disk grow`'s filesystem step need SSH) ----
  /** The channel's name for messages and its limits (src/remote/run-command-channel.ts). */
  readonly runCommandLimits?: RunCommandLimits;
  /**
   * Runs a shell script as root on the instance through the cloud's agent (Azure Run Command, AWS
   * Systems Manager) and answers what it printed, as the agent hands it back (possibly cut to the
   * limit). A script that ran answers, whatever its exit status; the agent's own failure throws.
   */
  runCommand?(instanceId: string, script: string, timeoutMs: number): Promise<RunScriptOutput>;
  /**
   * Whether the channel can reach the instance now (doctor), where the cloud can tell: AWS lists
   * the instances whose SSM agent is online (DescribeInstanceInformation).
   */
  runCommandReady?(instanceId: string): Promise<{ ready: boolean; detail: string; fix?: string }>;
}

/** How much of a quota is used, of how much. */
export interface QuotaFigure {
  limit: number;
  used: number;
}

/** The quotas a launch consumes: vCPUs of on-demand instances, static (public) addresses. */
export interface Quotas {
  vcpus?: QuotaFigure;
  staticAddresses?: QuotaFigure;
  /** Why a figure is missing, and where the user can read it instead. */
  unknown?: { vcpus?: string; staticAddresses?: string };
  /**
   * A figure the cloud keeps but that could not be read this time (permission denied, throttled,
   * the service unreachable): `doctor` warns with the fix instead of skipping the check.
   */
  unreadable?: { vcpus?: QuotaProblem; staticAddresses?: QuotaProblem };
  /**
   * The vCPUs one instance of the machine type asked about uses, where the cloud says (so a
   * launch with --instance-type knows what it needs of the quota); undefined when it cannot tell.
   */
  machineTypeVcpus?: number;
}

/** Why a quota could not be read, and what to do about it. */
export interface QuotaProblem {
  reason: string;
  fix: string;
}

/** A public DNS zone of the account (Route 53 hosted zone, Cloud DNS managed zone, Azure DNS zone). */
export interface DnsZone {
  /** The cloud's id of the zone (hosted zone id, managed zone name, ARM resource id). */
  id: string;
  /** The zone's domain, lower case, without the trailing dot. */
  name: string;
}

/** One A record set. */
export interface DnsARecord {
  /** Fully qualified, lower case, without the trailing dot. */
  name: string;
  values: string[];
  ttl: number;
}

// ---- tls --tls managed (issue 15) ----
/** A certificate the cloud issues and renews itself, validated through a DNS record. */
export interface ManagedCertificate {
  id: string;
  domain: string;
  /** pending (waiting for the validation record), issued, or the cloud's own word for a failure, lower case. */
  status: 'pending' | 'issued' | string;
  /** The record(s) that prove the domain is the user's: a CNAME each. */
  validation: { name: string; type: 'CNAME'; value: string }[];
  notAfter?: string;
  /** How its renewal stands, in the cloud's words (e.g. "eligible", "pending auto renewal"). */
  renewal?: string;
  /** Why it failed, when it did. */
  failure?: string;
}

/** The load balancer in front of the instance. */
export interface ManagedBalancer {
  id: string;
  /** The name the cloud gives it: what the domain points at (alias or CNAME). */
  dnsName: string;
  /** The DNS zone the cloud keeps that name in, for an alias record. */
  dnsZoneId: string;
  state: string;
  /**
   * The static address the domain's A record points at, where the cloud's balancer has one
   * (GCE: the global forwarding rules' address) instead of a name to alias or CNAME.
   */
  ip?: string;
}

/** One part of what the load balancer adds a month. */
export interface ManagedHttpsCostPart {
  item: string;
  detail: string;
  monthlyUsd?: number;
}

export interface ManagedHttpsCost {
  region: string;
  parts: ManagedHttpsCostPart[];
  totalUsd?: number;
  /** What the figure assumes (traffic) and leaves out. */
  assumptions: string[];
  priceDate: string;
  source: string[];
}

/** What the access to the instance was before it was limited to the load balancer. */
export interface ReplacedAccess {
  policyId: string;
  rules: AccessRule[];
}

/**
 * The steps of `tls --tls managed`, each idempotent (looked up by name or label before it creates),
 * so an interrupted run continues. The deployment's own resources are never labelled with these:
 * what belongs to the load balancer is labelled apart and removed only by `tls --remove`/`destroy`.
 */
export interface ManagedHttps {
  /**
   * How the certificate is validated. 'dns-record' (the default; AWS): through a validation record,
   * so it is issued before the load balancer is made. 'served-domain' (GCE, Google-managed): there
   * is no validation record; it is issued once the load balancer serves it and the domain's A
   * record points at the balancer's address, so the balancer and the record come first and the
   * wait for the certificate last (`--no-wait` stops before that wait).
   */
  readonly validation?: 'dns-record' | 'served-domain';
  /** What it creates, for the plan before the question, in the cloud's words (default: AWS's wording). `cidrs`: the addresses 443 is open to now. */
  describePlan?(domain: string, zone: DnsZone | undefined, cidrs: string[]): string[];
  /** Step titles in the cloud's words, by step id (default: AWS's). */
  readonly stepTitles?: Partial<Record<string, string>>;
  monthlyCost(): ManagedHttpsCost;
  /** `idempotencyKey`: the same for every retry of one install (a retried request answers the same certificate). */
  requestCertificate(deployment: string, domain: string, idempotencyKey: string): Promise<string>;
  describeCertificate(id: string): Promise<ManagedCertificate | undefined>;
  deleteCertificate(id: string): Promise<'deleted' | 'absent'>;
  /** Two networks (subnets) in two zones: the instance's and another, created only when none exists (answered as `created`). */
  ensureNetworks(deployment: string, instanceId: string): Promise<{ ids: string[]; created?: string }>;
  deleteNetwork(id: string): Promise<void>;
  /** The load balancer's own access policy: 443 and 80 from the CIDRs. */
  ensureBalancerPolicy(deployment: string, instanceId: string, cidrs: string[]): Promise<string>;
  deleteBalancerPolicy(id: string): Promise<void>;
  /** Where the load balancer forwards to: the instance's 443, health-checked on /healthz. */
  ensureBackend(deployment: string, instanceId: string): Promise<string>;
  /**
   * Makes `instanceId` the backend's only target (upgrade, rollback and restore replace the
   * instance): registers it, then deregisters every other target (the instance it replaces, one
   * that is gone). Idempotent: a re-run finds it registered and nothing else. 'absent' when the
   * backend no longer exists (removed outside the tool): then there is nothing to move.
   */
  moveBackendTarget(backendId: string, instanceId: string): Promise<{ deregistered: string[] } | 'absent'>;
  deleteBackend(id: string): Promise<void>;
  ensureBalancer(deployment: string, networkIds: string[], policyId: string): Promise<ManagedBalancer>;
  describeBalancer(id: string): Promise<ManagedBalancer | undefined>;
  deleteBalancer(id: string): Promise<void>;
  /** HTTPS on 443 with the certificate, forwarding to the backend; 80 redirecting to 443. */
  ensureListeners(balancerId: string, backendId: string, certificateId: string): Promise<string[]>;
  deleteListeners(balancerId: string): Promise<void>;
  /** Opens the instance's 80/443 only to the balancer's policy: the CIDR rules on them are removed and answered. */
  limitInstanceAccess(instanceId: string, balancerPolicyId: string): Promise<ReplacedAccess>;
  restoreInstanceAccess(replaced: ReplacedAccess, balancerPolicyId: string): Promise<void>;
  /** Creates or replaces the A record `name` as an alias of the balancer (only this record). */
  upsertAlias(zoneId: string, name: string, balancer: ManagedBalancer): Promise<void>;
  deleteAlias(zoneId: string, name: string, balancerDnsName: string): Promise<'deleted' | 'absent' | 'not-ours'>;
  /**
   * What exists of the deployment's load balancer, found by name and label rather than by a
   * journal: removal finds what a run killed mid-step made but did not record.
   */
  findResources(deployment: string): Promise<{ balancer?: ManagedBalancer; backendId?: string; policyIds: string[]; createdNetworks: string[] }>;
  upsertValidationRecord(zoneId: string, record: ManagedCertificate['validation'][number]): Promise<void>;
  deleteValidationRecord(zoneId: string, record: ManagedCertificate['validation'][number]): Promise<'deleted' | 'absent'>;
}

// ---- tls --tls managed where the balancer takes the user's certificate (Azure Application Gateway) ----
/** The user's certificate (PEM chain, leaf first, and its unencrypted key), or a reference to one the cloud keeps. */
export type GatewayCertificate = { certPem: string; keyPem: string } | { keyVaultSecretId: string };

export interface GatewaySpec {
  deployment: string;
  domain: string;
  subnetId: string;
  addressId: string;
  /** The instance's private address: the backend. */
  backendIp: string;
  certificate: GatewayCertificate;
}

/**
 * The steps of `tls --tls managed` on a cloud whose load balancer takes the user's certificate,
 * each idempotent (found by name before it is created), so an interrupted run continues.
 */
export interface GatewayHttps {
  monthlyCost(): ManagedHttpsCost;
  /** The gateway's own subnet in the instance's network: created only when absent (answered as `created`). */
  ensureSubnet(deployment: string, instanceId: string): Promise<{ id: string; prefix: string; created: boolean }>;
  deleteSubnet(id: string): Promise<void>;
  /** The gateway's static public address. */
  ensureAddress(deployment: string): Promise<{ id: string; ip: string }>;
  deleteAddress(id: string): Promise<void>;
  /** The gateway (HTTPS on 443 with the certificate, 80 redirecting, the instance as backend), waited for until `timeoutMs`. */
  ensureGateway(spec: GatewaySpec, timeoutMs: number): Promise<{ id: string }>;
  deleteGateway(id: string): Promise<void>;
  /**
   * The gateway's backend pool made to hold only `instanceId`'s private address (upgrade, rollback
   * and restore bring a new instance), waited for until provisioned again (`timeoutMs`). Idempotent:
   * nothing is put when the pool holds that address already. 'absent' when the gateway is gone.
   */
  moveBackend(gatewayId: string, instanceId: string, timeoutMs: number): Promise<{ backendIp: string; replaced: string[] } | 'absent'>;
  /** The instance's 80/443 rules as they are now (what limitInstanceAccess replaces). */
  readInstanceAccess(instanceId: string): Promise<ReplacedAccess>;
  /** The instance's 80/443 open only to `sourceCidr` (the gateway's subnet). */
  limitInstanceAccess(access: ReplacedAccess, sourceCidr: string): Promise<void>;
  restoreInstanceAccess(access: ReplacedAccess): Promise<void>;
  /** What exists of the deployment's gateway, found by name: removal finds what a killed run made but did not record. */
  findResources(deployment: string): Promise<{ gatewayId?: string; addressId?: string; addressIp?: string; subnetId?: string }>;
}

// ---- tls --tls acme with the DNS-01 challenge (issue 15) ----
/**
 * An identity of the deployment's own, given to its instance, that may change only the TXT records
 * `_acme-challenge.<domain>` in one zone (AWS: an IAM role and instance profile). Traefik's ACME
 * client (lego) on the instance then proves the domain through the cloud's DNS with the instance's
 * own short-lived credentials: the user's keys never go to the instance. Each step is idempotent
 * (looked up by its name, derived from the deployment), so an interrupted run continues.
 */
export interface AcmeDnsAccess {
  /** lego's name of the DNS provider (Traefik's dnsChallenge.provider). */
  readonly provider: string;
  /** The names the deployment's identity gets (the same on every run and machine). */
  names(deployment: string): { role: string; profile: string };
  /** The environment lego needs on the instance for this zone (no secrets). */
  providerEnv(zone: DnsZone): Record<string, string>;
  /** Creates (or updates the permissions of) the role: TXT records of `_acme-challenge.<domain>` in `zone` only. */
  ensureRole(deployment: string, zone: DnsZone, domain: string): Promise<{ role: string; created: boolean }>;
  /** The instance profile holding the role. */
  ensureProfile(deployment: string): Promise<{ profile: string; arn: string; created: boolean }>;
  /** Puts the profile on the instance; refuses (exit 2) when the instance already runs as another identity. */
  associate(deployment: string, instanceId: string): Promise<'associated' | 'already'>;
  /** Takes it off the instance (when given), then deletes the profile and the role; what was deleted. */
  remove(deployment: string, instanceId?: string): Promise<string[]>;
}
