// What the CLI, commands and workflows know about a cloud without loading its adapter: regions,
// sizes, disks, prices, the login user, the words the cloud uses for things, and the flags only it
// takes. One descriptor per cloud, in src/cloud/<provider>/provider.ts; the adapter itself (and its
// SDK) loads only through `connect`. Nothing outside src/cloud/<provider>/ names a cloud's concepts.
import type { ImageCatalog } from '../core/catalog.js';
import type { MonthlyCost } from '../core/prices.js';
import type { SizeName } from '../core/presets.js';
import type { Cloud, DiskSpec, ProviderId, Scope } from './port.js';

export interface CostInput {
  region: string;
  machineType: string;
  root: DiskSpec;
  data: DiskSpec;
  publicAddress: boolean;
}

/** How a cloud names the things the product talks about, for summaries, help and messages. */
export interface ProviderTerms {
  /** "Elastic IP" */
  address: string;
  /** "security group" */
  accessPolicy: string;
  /** "key pair" */
  sshKey: string;
  /** "subnet" */
  subnet: string;
  /** "AWS managed key (aws/ebs)" */
  defaultEncryption: string;
  /** "plain Amazon Linux 2023" */
  baseImage: string;
  /** "Data Lifecycle Manager" */
  snapshotSchedules: string;
  /** "EC2 status checks" */
  healthChecks: string;
  /** "AWS accepted a RunInstances dry run: the credentials may launch this instance." */
  permissionCheckPassed: string;
  /** "Put TLS in front (an ALB with an ACM certificate) …" */
  tlsAdvice: string;
  /** "EC2 console" */
  console: string;
}

/** Flags only this cloud takes, mapped onto the neutral plan. */
export interface ProviderFlagNames {
  /** The flag naming a static address the user brought ("--elastic-ip"). */
  address: string;
  /** The flag naming an existing SSH key of the cloud ("--key-name"), when it has such keys. */
  existingSshKey?: string;
  /** The flag naming the encryption key ("--kms-key"). */
  encryptionKey?: string;
  /** The flag naming the subnet ("--subnet"). */
  subnet: string;
  /** The flag naming the image ("--image"). */
  image: string;
}

export interface ProviderDescriptor {
  id: ProviderId;
  displayName: string;
  /** Whether the tool supports it in this version (the wizard lists the others as coming). */
  available: boolean;
  regions: readonly string[];
  optInRegions: ReadonlySet<string>;
  /** The region the environment names (AWS_REGION …), with the variable's name. */
  regionFromEnv(env: NodeJS.ProcessEnv): { region: string; variable: string } | undefined;
  /** The scope's provider values from flags and environment (the profile, project, resource group). */
  scopeParams(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, string>;
  /** Machine type and data disk per size. */
  sizes: Readonly<Record<SizeName, { machineType: string; dataDisk: DiskSpec }>>;
  rootDisk: DiskSpec;
  /** The smallest and largest data disk, GiB. */
  dataDiskLimits: { minGiB: number; maxGiB: number };
  /** The login user of the images (published and ours). */
  loginUser: string;
  terms: ProviderTerms;
  flags: ProviderFlagNames;
  validateMachineType(value: string): string;
  /** Machine types known offline (the preset families), for a check without credentials. */
  knownMachineTypes(): string[];
  validateImageId(value: string): string;
  validateSubnet(value: string): string;
  validateEncryptionKey?(value: string): string;
  /** A static address the user brought: its id as the cloud names it, validated. */
  validateAddressId(value: string): string;
  monthlyCost(input: CostInput): MonthlyCost;
  /** Published Sourcegraph images, where the cloud has them (AWS). */
  publishedImages?(): Promise<ImageCatalog>;
  /** Whether credentials could exist at all, decided without the SDK; a reason when certainly none. */
  whyNoCredentials?(env: NodeJS.ProcessEnv, scope: Scope): string | undefined;
  /** The adapter for this scope; loads its module (and, on first call, its SDK). */
  connect(scope: Scope, env: NodeJS.ProcessEnv): Promise<Cloud>;
}
