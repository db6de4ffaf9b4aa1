// Everything the tool knows about AWS without loading the SDK: regions, the instance types and
// volumes of each size (presets/aws.json), prices (presets/aws-prices.json), the published AMIs,
// the words AWS uses, and the flags only AWS takes (--elastic-ip, --key-name, --kms-key,
// --dlm-role, --profile). The adapter (and the SDK) load only through `connect`.
import awsPresets from '../../../presets/aws.json' with { type: 'json' };
import { UsageError } from '../../core/errors.js';
import type { Sourced } from '../../core/launch-plan.js';
import type { SizeName } from '../../core/presets.js';
import type { AddressChoice, ProviderDescriptor, SizeOnCloud } from '../provider.js';
import type { DiskSpec, Scope } from '../port.js';
import { loadAwsCatalog } from './catalog.js';
import { alternativeInstanceTypes } from './errors.js';
import { knownInstanceTypes, monthlyCost, PRICE_DATE, REFERENCE_REGION, snapshotMonthlyUsd, volumeMonthlyUsd } from './prices.js';

/**
 * Every commercial AWS region (late 2026). A published image exists only in some of them (the
 * catalog says which); `--image-source build` and `base` work in any.
 */
export const AWS_REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'ca-west-1', 'mx-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-south-1', 'eu-south-2', 'eu-north-1',
  'il-central-1', 'me-south-1', 'me-central-1', 'af-south-1',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3',
  'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ap-south-1', 'ap-south-2', 'ap-east-1', 'ap-east-2',
] as const;

/** Regions an account must enable before use. */
export const AWS_OPT_IN_REGIONS: ReadonlySet<string> = new Set([
  'ap-east-1', 'ap-east-2', 'me-south-1', 'me-central-1', 'af-south-1', 'eu-south-1', 'eu-south-2', 'eu-central-2',
  'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ap-south-2', 'ca-west-1',
  'il-central-1', 'mx-central-1',
]);

interface AwsPresetsFile {
  rootDisk: DiskSpec;
  devices: { root: string; data: string };
  sizes: Record<SizeName, SizeOnCloud>;
}
const presets = awsPresets as unknown as AwsPresetsFile;

/** Where the data volume attaches on our instances (the provision scripts look for it there too). */
export const AWS_DEVICES = presets.devices;

function pattern(flag: string, re: RegExp, example: string) {
  return (value: string): string => {
    const v = value.trim();
    if (!re.test(v)) throw new UsageError(`${flag}: "${value}" is not valid. Expected something like ${example}`);
    return v;
  };
}

export function validateElasticIp(value: string): AddressChoice {
  const v = value.trim().toLowerCase();
  if (v === 'new') return { mode: 'new' };
  if (v === 'none') return { mode: 'none' };
  if (/^eipalloc-[0-9a-f]{8,17}$/.test(v)) return { mode: 'existing', id: v };
  throw new UsageError(`--elastic-ip: "${value}" is not valid. Valid choices: new, none, or an allocation id (eipalloc-…)`);
}

const validateKmsKey = pattern(
  '--kms-key',
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
  'a key ID, alias/my-key or a key ARN',
);
const validateKeyName = pattern('--key-name', /^[\x20-\x7e]{1,255}$/, 'my-key');
const validateProfile = pattern('--profile', /^[\w.@+=,-]{1,128}$/, 'default');
const validateRoleArn = (value: string) => {
  const v = value.trim();
  if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(v)) {
    throw new UsageError(`--dlm-role: "${value}" is not an IAM role ARN (arn:aws:iam::123456789012:role/…)`);
  }
  return v;
};

function describeVolume(d: DiskSpec): string {
  return `${d.sizeGiB} GiB ${d.type}${d.type === 'io2' && d.iops ? ` ${d.iops} IOPS` : ''}`;
}

export const awsProvider: ProviderDescriptor = {
  id: 'aws',
  displayName: 'AWS',
  available: true,
  agentNodes: true,
  regions: AWS_REGIONS,
  optInRegions: AWS_OPT_IN_REGIONS,
  regionVariables: ['AWS_REGION', 'AWS_DEFAULT_REGION'],
  regionFromEnv(env) {
    const variable = env.AWS_REGION ? 'AWS_REGION' : env.AWS_DEFAULT_REGION ? 'AWS_DEFAULT_REGION' : undefined;
    return variable ? { region: env[variable]!, variable } : undefined;
  },
  scope(region, params, env): Scope {
    const profile = params.profile ?? env.AWS_PROFILE;
    return { provider: 'aws', region, params: profile ? { profile } : {} };
  },
  sizes: presets.sizes,
  rootDisk: presets.rootDisk,
  // Large enough for every version's container images; gp3's baseline, as builds always used.
  builderDataDisk: { type: 'gp3', sizeGiB: 500 },
  dataDiskLimit: { maxGiB: 65536, name: 'EBS' },
  describeDisk: describeVolume,
  loginUser: 'ec2-user',
  rootVersionFile: '/home/ec2-user/.sourcegraph-version',
  terms: {
    address: 'Elastic IP',
    accessPolicy: 'security group',
    sshKey: 'key pair',
    defaultSubnet: 'default subnet of the default VPC',
    defaultEncryption: 'AWS managed key (aws/ebs)',
    baseImage: 'Amazon Linux 2023',
    snapshotSchedules: 'Data Lifecycle Manager',
    snapshotSchedule: 'DLM policy',
    permissionCheckPassed: 'AWS accepted a RunInstances dry run: the credentials may launch this instance.',
    permissionCheck: (imageId) => `AWS accepts the launch (RunInstances dry run from ${imageId})`,
    tlsAdvice: 'Put TLS in front (an ALB with an ACM certificate) before sharing it; port 443 serves a self-signed certificate.',
    imageDiscovery: 'DescribeImages',
    addressMoveStep: 'move-elastic-ip',
    machineType: 'instance type',
    rebootHint: (id) => `AWS: \`aws ec2 reboot-instances --instance-ids ${id}\``,
    disk: 'volume',
    snapshotScheduleNote: 'DLM acts as the AWSDataLifecycleManagerDefaultRole (create it once with `aws dlm create-default-role`), or the role --dlm-role names.',
    dataDiskSlot: AWS_DEVICES.data,
    labelName: (key) => `sourcegraph-launch:${key} tag`,
  },
  flags: [
    { spec: '--profile <name>', key: 'profile', param: 'profile', help: 'AWS shared-config profile (default: AWS_PROFILE or "default")', role: 'scope-param', commands: 'all', validate: validateProfile },
    { spec: '--elastic-ip <new|none|eipalloc-…>', key: 'elasticIp', help: 'address that survives upgrades (default: new)', onCommand: { 'build-image': { spec: '--elastic-ip <eipalloc-…>', help: 'advanced: give the builder this address of yours (kept, never released)' } }, role: 'address', commands: ['launch', 'build-image'], validate: validateElasticIp },
    { spec: '--key-name <name>', key: 'keyName', help: 'use an existing EC2 key pair (never deleted by destroy)', role: 'existing-ssh-key', commands: ['launch'], validate: validateKeyName },
    { spec: '--kms-key <key>', key: 'kmsKey', help: 'KMS key for volume encryption (default: the AWS managed key)', onCommand: { 'build-image': { help: 'KMS key for the builder\'s volumes and so the image (default: the AWS managed key)' } }, role: 'encryption-key', commands: ['launch', 'build-image'], validate: validateKmsKey },
    {
      spec: '--dlm-role <arn>',
      key: 'dlmRole',
      param: 'roleArn',
      help: 'with --schedule: the role DLM acts as (default: AWSDataLifecycleManagerDefaultRole)',
      role: 'schedule-param',
      commands: ['launch', 'backup'],
      validate: validateRoleArn,
    },
  ],
  validateMachineType: pattern('--instance-type', /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'm6a.2xlarge'),
  knownMachineTypes: knownInstanceTypes,
  alternativeMachineTypes: alternativeInstanceTypes,
  validateImageId: pattern('--image', /^ami-[0-9a-f]{8,17}$/, 'ami-0123456789abcdef0'),
  imageIdExample: 'ami-…',
  validateSubnet: pattern('--subnet', /^subnet-[0-9a-f]{8,17}$/, 'subnet-0123456789abcdef0'),
  validateDiskId: (value) => {
    const v = value.trim().toLowerCase();
    if (/^vol-[0-9a-f]{8,17}$/.test(v)) return v;
    throw new UsageError(`--data-volume: "${value}" is not valid. Valid choices: new, or the id of a kept data volume (vol-…)`);
  },
  diskIdExample: 'vol-…',
  validateSnapshotId: (value) => {
    const v = value.trim();
    if (/^snap-[0-9a-f]{8,17}$/.test(v)) return v;
    throw new UsageError(`--snapshot: "${value}" is not a snapshot id (snap-…)`);
  },
  monthlyCost,
  priceFile: 'presets/aws-prices.json',
  priceDate: PRICE_DATE,
  referenceRegion: REFERENCE_REGION,
  storagePricing() {
    return {
      region: REFERENCE_REGION,
      diskMonthlyUsd: (disk) => volumeMonthlyUsd(REFERENCE_REGION, disk),
      snapshotGiBMonthUsd: snapshotMonthlyUsd(REFERENCE_REGION, 1) ?? 0,
    };
  },
  planFlags: { address: '--elastic-ip', existingSshKey: '--key-name', encryptionKey: '--kms-key', providerFlags: { '--dlm-role': 'dlmRole' } },
  planJsonExtras(plan) {
    // The names `--dry-run --json` has always used on AWS, beside the neutral encryptionKey and address.
    const sourced = <T>(s: Sourced<T>, value: unknown) => ({ value: value ?? null, source: s.source, ...(s.detail ? { detail: s.detail } : {}) });
    const a = plan.address.value;
    return {
      kmsKey: sourced(plan.encryptionKey, plan.encryptionKey.value),
      elasticIp: sourced(plan.address, a.mode === 'existing' ? { mode: 'existing', allocationId: a.id } : a),
    };
  },
  publishedImages: loadAwsCatalog,
  minimalPolicy: async () => ({
    file: 'presets/policies/aws-iam-policy.json',
    kind: 'IAM policy',
    attach: 'aws iam create-policy --policy-name sourcegraph-launch --policy-document file://policy.json, then aws iam attach-user-policy (or attach-role-policy) with its ARN',
    document: (await import('../../../presets/policies/aws-iam-policy.json', { with: { type: 'json' } })).default,
  }),
  async connect(scope, opts) {
    const { createAwsAdapter } = await import('./adapter.js');
    return createAwsAdapter(scope, { env: opts.env, ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}) });
  },
};
