// What the CLI, commands and workflows know about a cloud without loading its adapter: regions,
// sizes, disks, prices, the login user, the words the cloud uses for things, and the flags only it
// takes. One descriptor per cloud, in src/cloud/<provider>/provider.ts, registered in
// providers.ts; the adapter itself (and its SDK) loads only through `connect`. Nothing outside
// src/cloud/<provider>/ names a cloud's concepts: the rest of the tool asks the descriptor.
import type { ImageCatalog } from '../core/catalog.js';
import type { PlanCloud } from '../core/launch-plan.js';
import type { CostInput, MonthlyCost, StoragePricing } from '../core/prices.js';
import type { SizeName } from '../core/presets.js';
import type { Cloud, DiskSpec, ProviderId, Scope } from './port.js';

export type { CostInput, StoragePricing };

/** How a cloud names the things the product talks about, for summaries, help and messages. */
export interface ProviderTerms {
  /** "Elastic IP" */
  address: string;
  /** "security group" */
  accessPolicy: string;
  /** "key pair" */
  sshKey: string;
  /** "default subnet of the default VPC" */
  defaultSubnet: string;
  /** "AWS managed key (aws/ebs)" */
  defaultEncryption: string;
  /** "Amazon Linux 2023" */
  baseImage: string;
  /** "Data Lifecycle Manager" */
  snapshotSchedules: string;
  /** "the DLM policy" */
  snapshotSchedule: string;
  /** "AWS accepted a RunInstances dry run: the credentials may launch this instance." */
  permissionCheckPassed: string;
  /** "Check that AWS accepts the launch (RunInstances dry run from ami-…)" */
  permissionCheck(imageId: string): string;
  /** "Put TLS in front (an ALB with an ACM certificate) …" */
  tlsAdvice: string;
  /** "DescribeImages": where images are discovered, for the plan's provenance column. */
  imageDiscovery: string;
  /** The journal id of the step that moves the static address ("move-elastic-ip"). */
  addressMoveStep: string;
  /** "the instance type" */
  machineType: string;
  /** "volume" / "disk" */
  disk: string;
  /** How to reboot an impaired instance ("AWS: `aws ec2 reboot-instances --instance-ids i-…`"). */
  rebootHint(instanceId: string): string;
  /** What a stopped instance still costs, said next to "stopped". */
  stoppedNote?: string;
  /** Said after a snapshot schedule is set up: what it acts as and how to create that once (the DLM default role). */
  snapshotScheduleNote?: string;
  /** Where a new instance's data disk goes, as a summary names it ("/dev/sdb"; "its data disk"). */
  dataDiskSlot: string;
  /** One of our labels as the cloud stores it, for messages ("sourcegraph-launch:source-version tag"). */
  labelName(key: string): string;
}

export type { AddressChoice } from '../core/launch-plan.js';

/** What a provider flag stands for in the neutral plan. */
export type ProviderFlagRole =
  /** The static address a launch uses: new, none or one the user brought. */
  | 'address'
  /** An SSH key the cloud already keeps (AWS key pair). */
  | 'existing-ssh-key'
  /** The key that encrypts the disks. */
  | 'encryption-key'
  /** A setting of the snapshot schedule (the role DLM acts as). */
  | 'schedule-param'
  /** A value of the scope (the profile, project, resource group). */
  | 'scope-param';

/** A flag only this cloud takes, registered on the commands it lists. */
export interface ProviderFlag {
  /** commander's spec: "--elastic-ip <new|none|eipalloc-…>". */
  spec: string;
  /** The property commander gives the value ("elasticIp"). */
  key: string;
  /** The name the scope, schedule or plan keeps it under ("profile", "roleArn"). */
  param?: string;
  help: string;
  /** Another spec and help on some commands ("build-image": the builder's address). */
  onCommand?: Readonly<Record<string, { spec?: string; help: string }>>;
  role: ProviderFlagRole;
  /** The commands that take it; 'all' for every command that talks to the cloud. */
  commands: readonly string[] | 'all';
  /** Validates and normalises (throws UsageError naming the flag). */
  validate(value: string): unknown;
}

/** A size on this cloud: the machine type and the data disk. */
export interface SizeOnCloud {
  machineType: string;
  dataDisk: DiskSpec;
}

export interface ProviderDescriptor extends PlanCloud {
  id: ProviderId;
  displayName: string;
  /** Whether the tool supports it in this version (the wizard lists the others as coming). */
  available: boolean;
  regions: readonly string[];
  /** Regions an account must enable first, noted in the wizard. */
  optInRegions: ReadonlySet<string>;
  /** The region the environment names (AWS_REGION …), with the variable's name. */
  regionFromEnv(env: NodeJS.ProcessEnv): { region: string; variable: string } | undefined;
  /** The environment variables regionFromEnv reads, for "pass --region or set …". */
  regionVariables: readonly string[];
  /** Other names of --region in this cloud's own words ("--location" on Azure): the same flag. */
  regionFlagAliases?: readonly string[];
  /** The scope from the region and the provider's scope flags (already validated); `deployment` when the command acts on one (Azure's default resource group is named after it). */
  scope(region: string, params: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv, deployment?: string): Scope;
  sizes: Readonly<Record<SizeName, SizeOnCloud>>;
  rootDisk: DiskSpec;
  /** The image builder's data disk (build-image): whatever the size, deleted with the builder. */
  builderDataDisk: DiskSpec;
  /** The largest data disk, GiB, and what the cloud calls it ("EBS"). */
  dataDiskLimit: { maxGiB: number; name: string };
  /** "gp3", "500 GiB io2 16000 IOPS": a disk as the summary shows it. */
  describeDisk(disk: DiskSpec): string;
  /** The login user of the images (published and ours). */
  loginUser: string;
  /**
   * The scope flags the launch wizard asks for, by flag key: those neither a flag nor the environment
   * (or the cloud's own CLI configuration) gives, and those worth confirming with their default.
   */
  wizardScopeQuestions?(given: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv, deployment: string): Promise<{ key: string; message: string; default?: string }[]>;
  /**
   * The base OS image (--image-source base) as a reference the cloud resolves itself at create time,
   * for a dry run without credentials (which cannot look up the newest image).
   */
  offlineBaseImage?: { id: string; name: string };
  /**
   * Where an image we build keeps its prepared data disk apart from the root image (GCE: a snapshot),
   * what a dry run names it before build-image has made it; a launch makes the data disk from it.
   */
  builtDataTemplatePlaceholder?: string;
  /** Login names the cloud refuses for a VM's user (Azure's admin user deny-list), checked as bad input before anything is made. */
  refusedLoginUsers?: { names: readonly string[]; source: string };
  /** The image's version file on the root disk (the data disk's is /mnt/data/.sourcegraph-version). */
  rootVersionFile: string;
  terms: ProviderTerms;
  flags: readonly ProviderFlag[];
  validateMachineType(value: string): string;
  /** Machine types known offline (the preset families), for a check without credentials. */
  knownMachineTypes(): string[];
  /** Other machine types of the same family, nearest first, for "try instead". */
  alternativeMachineTypes(machineType: string): string[];
  validateImageId(value: string): string;
  /** "ami-0123…", for help and errors. */
  imageIdExample: string;
  validateSubnet(value: string): string;
  /** A data disk a destroy kept, named by id. */
  validateDiskId(value: string): string;
  /** A snapshot to restore (--snapshot), named by id. */
  validateSnapshotId(value: string): string;
  diskIdExample: string;
  monthlyCost(input: CostInput): MonthlyCost;
  /** The price file and its date, for "list prices of …". */
  priceFile: string;
  priceDate: string;
  /** The region the `presets` table quotes by default. */
  referenceRegion: string;
  /** Storage prices of the reference region, for the rough comparisons. */
  storagePricing(): StoragePricing;
  /** Published Sourcegraph images, where the cloud has them (AWS); undefined where none were kept current. */
  publishedImages?(): Promise<ImageCatalog>;
  /** The adapter for this scope; loads its module (and, on first call, its SDK). */
  connect(scope: Scope, opts: ConnectOptions): Promise<Cloud>;
  /** The least the tool's calls need, in the cloud's own policy format (`doctor --print-policy`); loaded on demand. */
  minimalPolicy?(): Promise<MinimalPolicy>;
}

export interface MinimalPolicy {
  /** The file under presets/policies/ it comes from. */
  file: string;
  /** "IAM policy", "custom role" … */
  kind: string;
  /** How to create and attach it, in the cloud's CLI. */
  attach: string;
  document: unknown;
}

export interface ConnectOptions {
  env: NodeJS.ProcessEnv;
  /** How often the adapter polls for a state (tests make it short). */
  pollIntervalMs?: number;
}

/** The provider flag of a role, if the cloud has one. */
export function flagOfRole(p: ProviderDescriptor, role: ProviderFlagRole): ProviderFlag | undefined {
  return p.flags.find((f) => f.role === role);
}

/** "--elastic-ip" from "--elastic-ip <new|none|eipalloc-…>". */
export function flagName(flag: ProviderFlag): string {
  return flag.spec.split(/[ ,]/)[0]!;
}
