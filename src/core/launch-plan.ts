// The resolved launch: every value with where it came from, the summary the user confirms, and
// the equivalent non-interactive command line so CI can replay a wizard run.
import { AWS_DATA_DEVICE, AWS_ROOT_VOLUME, getPreset, type AwsDataVolumePreset, type SizeName } from './presets.js';
import { formatMonthlyCost, monthlyCost, type MonthlyCost } from './prices.js';
import type { ElasticIpChoice } from './validate.js';
import { groupThousands } from './format.js';

export type ValueSource = 'flag' | 'preset' | 'saved' | 'default' | 'prompt' | 'environment' | 'discovered' | 'catalog';

export interface Sourced<T> {
  value: T;
  source: ValueSource;
  /** Extra context shown in the summary, e.g. the image name or "from AWS_REGION". */
  detail?: string;
}

export type SshKeyChoice =
  | { mode: 'generate'; privateKeyPath: string }
  | { mode: 'import'; publicKeyPath: string }
  | { mode: 'existing'; keyName: string };

/** The data volume: a new one, or one a `destroy` kept (--data-volume vol-…). */
export type DataVolumeChoice = { mode: 'new' } | { mode: 'existing'; volumeId: string; availabilityZone: string; sizeGiB: number; version?: string };

export interface ImageChoice {
  id: string;
  name?: string;
  source: 'published' | 'built' | 'catalog' | 'flag';
}

export interface LaunchPlan {
  name: Sourced<string>;
  cloud: Sourced<'aws'>;
  region: Sourced<string>;
  size: Sourced<SizeName>;
  version: Sourced<string>;
  image: Sourced<ImageChoice>;
  instanceType: Sourced<string>;
  dataSizeGiB: Sourced<number>;
  allowCidrs: Sourced<string[]>;
  sshCidrs: Sourced<string[]>;
  iKnowSshIsPublic: boolean;
  sshKey: Sourced<SshKeyChoice>;
  sshUser: Sourced<string>;
  subnet: Sourced<string | undefined>;
  kmsKey: Sourced<string | undefined>;
  elasticIp: Sourced<ElasticIpChoice>;
  wait: boolean;
  timeoutMinutes: Sourced<number>;
  holdSeconds: Sourced<number>;
  /** Where the image comes from (--image-source); absent means published. */
  imageSource?: Sourced<'published' | 'build' | 'base'>;
  /** Daily snapshots kept by a Data Lifecycle Manager policy (--schedule daily --retain N). */
  schedule?: Sourced<{ schedule: 'daily'; retain: number } | undefined>;
  /** Absent or new: a new data volume; existing: launch on a kept one. */
  dataVolume?: Sourced<DataVolumeChoice>;
  /** The zones the instance may go to: those that offer its type (and hold a kept data volume). Known only with credentials. */
  zones?: Sourced<string[]>;
}

export function dataVolumeFor(plan: LaunchPlan): AwsDataVolumePreset & { device: string } {
  const preset = getPreset(plan.size.value).aws.data;
  return { ...preset, device: AWS_DATA_DEVICE, sizeGiB: plan.dataSizeGiB.value };
}

export function keyPairNameFor(deployment: string): string {
  return `sourcegraph-launch-${deployment}`;
}

/**
 * ClientToken for RunInstances: at most 64 ASCII characters, stable for one launch attempt
 * (journal id), different for a later launch of the same name after a destroy.
 */
export function clientTokenFor(name: string, journalId: string, step: string): string {
  return `sgl-${name}-${step}-${journalId}`.slice(0, 64);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function elasticIpText(e: ElasticIpChoice): string {
  return e.mode === 'existing' ? e.allocationId : e.mode;
}

/** The one-line, non-interactive equivalent of this plan. */
export function equivalentCommand(plan: LaunchPlan, program = 'npx sourcegraph-launch'): string {
  const args: string[] = ['launch', '--yes'];
  const add = (flag: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(flag, shellQuote(String(value)));
  };
  add('--cloud', plan.cloud.value);
  add('--region', plan.region.value);
  add('--size', plan.size.value);
  add('--version', plan.version.value);
  if (plan.image.source === 'flag') add('--image', plan.image.value.id);
  if (plan.imageSource && plan.imageSource.value !== 'published') add('--image-source', plan.imageSource.value);
  add('--name', plan.name.value);
  add('--allow-cidr', plan.allowCidrs.value.join(','));
  add('--ssh-cidr', plan.sshCidrs.value.length ? plan.sshCidrs.value.join(',') : 'none');
  if (plan.iKnowSshIsPublic) args.push('--i-know-ssh-is-public');
  const key = plan.sshKey.value;
  if (key.mode === 'import') add('--ssh-key', key.publicKeyPath);
  if (key.mode === 'existing') add('--key-name', key.keyName);
  if (plan.sshUser.source === 'flag' || plan.sshUser.source === 'prompt') add('--ssh-user', plan.sshUser.value);
  if (plan.instanceType.source !== 'preset') add('--instance-type', plan.instanceType.value);
  if (plan.dataSizeGiB.source !== 'preset' && plan.dataVolume?.value.mode !== 'existing') add('--data-size', plan.dataSizeGiB.value);
  if (plan.dataVolume && plan.dataVolume.source !== 'default') add('--data-volume', plan.dataVolume.value.mode === 'existing' ? plan.dataVolume.value.volumeId : 'new');
  add('--subnet', plan.subnet.value);
  add('--kms-key', plan.kmsKey.value);
  if (plan.elasticIp.value.mode !== 'new') add('--elastic-ip', elasticIpText(plan.elasticIp.value));
  if (plan.schedule?.value) {
    add('--schedule', plan.schedule.value.schedule);
    add('--retain', plan.schedule.value.retain);
  }
  if (!plan.wait) args.push('--no-wait');
  if (plan.timeoutMinutes.source === 'flag') add('--timeout', plan.timeoutMinutes.value);
  if (plan.holdSeconds.source === 'flag') add('--hold-seconds', plan.holdSeconds.value);
  return `${program} ${args.join(' ')}`;
}

export interface SummaryRow {
  setting: string;
  value: string;
  source: string;
}

function sourceText<T>(s: Sourced<T>): string {
  const base = s.source === 'prompt' ? 'you chose' : s.source === 'saved' ? 'saved answer' : s.source;
  return s.detail ? `${base} (${s.detail})` : base;
}

/** What the plan really launches costs a month: its instance type, both volumes, the address, in its region. */
export function planMonthlyCost(plan: LaunchPlan): MonthlyCost {
  const data = dataVolumeFor(plan);
  return monthlyCost({
    region: plan.region.value,
    instanceType: plan.instanceType.value,
    root: { type: AWS_ROOT_VOLUME.type, sizeGiB: AWS_ROOT_VOLUME.sizeGiB },
    data: { type: data.type, sizeGiB: data.sizeGiB, iops: data.iops, throughput: data.throughput },
    // Elastic IP or not, a public IPv4 address is billed by the hour.
    publicAddress: true,
  });
}

export function summaryRows(plan: LaunchPlan): SummaryRow[] {
  const preset = getPreset(plan.size.value);
  const cost = planMonthlyCost(plan);
  const data = dataVolumeFor(plan);
  const key = plan.sshKey.value;
  const rows: [string, Sourced<unknown>, string][] = [
    ['name', plan.name, plan.name.value],
    ['cloud', plan.cloud, plan.cloud.value],
    ['region', plan.region, plan.region.value],
    ['size', plan.size, `${plan.size.value} (up to ${groupThousands(preset.users)} users, ${groupThousands(preset.repos)} repos)`],
    ['version', plan.version, plan.version.value],
    ['image', plan.image, `${plan.image.value.id}${plan.image.value.name ? ` ${plan.image.value.name}` : ''}`],
    ['instance type', plan.instanceType, plan.instanceType.value],
    plan.dataVolume?.value.mode === 'existing'
      ? ['data volume', plan.dataVolume, `${plan.dataVolume.value.volumeId} (kept, ${plan.dataVolume.value.sizeGiB} GiB, data of ${plan.dataVolume.value.version ?? '?'}), attached before Sourcegraph's first boot`]
      : ['data volume', plan.dataSizeGiB, `${data.sizeGiB} GiB ${data.type}${data.type === 'io2' ? ` ${data.iops} IOPS` : ''}, encrypted, kept on destroy${plan.dataVolume?.source && plan.dataVolume.source !== 'default' ? ' (new; kept volumes stay untouched)' : ''}`],
    ['HTTP/HTTPS from', plan.allowCidrs, plan.allowCidrs.value.join(', ')],
    ['SSH from', plan.sshCidrs, plan.sshCidrs.value.length ? plan.sshCidrs.value.join(', ') : 'nobody (no SSH rule)'],
    [
      'SSH key',
      plan.sshKey,
      key.mode === 'generate' ? `new ed25519 key ${key.privateKeyPath}` : key.mode === 'import' ? `import ${key.publicKeyPath}` : `existing key pair ${key.keyName}`,
    ],
    ['SSH user', plan.sshUser, plan.sshUser.value],
    ['subnet', plan.subnet, plan.subnet.value ?? 'default subnet of the default VPC'],
    ...(plan.zones ? [['zone', plan.zones, plan.zones.value.length === 1 ? plan.zones.value[0]! : `first of ${plan.zones.value.join(', ')}`] as [string, Sourced<unknown>, string]] : []),
    ['encryption key', plan.kmsKey, plan.kmsKey.value ?? 'AWS managed key (aws/ebs)'],
    ['Elastic IP', plan.elasticIp, elasticIpText(plan.elasticIp.value)],
    ...(plan.imageSource && plan.imageSource.value !== 'published'
      ? [['image source', plan.imageSource, plan.imageSource.value === 'build' ? 'an image built by sourcegraph-launch' : 'plain Amazon Linux 2023, provisioned at first boot'] as [string, Sourced<unknown>, string]]
      : []),
    ['backups', plan.schedule ?? { value: undefined, source: 'default' }, plan.schedule?.value ? `daily snapshots, keep ${plan.schedule.value.retain} (Data Lifecycle Manager)` : 'none scheduled (--schedule daily --retain N)'],
    [
      'monthly cost',
      { value: undefined, source: 'default', detail: `list prices of ${cost.priceDate}, presets/aws-prices.json` },
      `${formatMonthlyCost(cost)}${cost.totalUsd !== undefined ? ` (${cost.parts.map((p) => `${p.item} $${Math.round(p.monthlyUsd!)}`).join(' + ')}, on-demand)` : ''}`,
    ],
    ['wait', plan.timeoutMinutes, plan.wait ? `until /healthz serves ${plan.version.value} (up to ${plan.timeoutMinutes.value} min)` : 'no (--no-wait)'],
  ];
  return rows.map(([setting, s, value]) => ({ setting, value, source: sourceText(s) }));
}

export function formatTable(rows: SummaryRow[]): string {
  const w1 = Math.max(...rows.map((r) => r.setting.length));
  const w2 = Math.max(...rows.map((r) => r.value.length));
  return rows.map((r) => `  ${r.setting.padEnd(w1)}  ${r.value.padEnd(w2)}  ${r.source}`).join('\n');
}

/** The plan as plain JSON for `--dry-run --json` and the deployment record, with its monthly cost. */
export function planToJson(plan: LaunchPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plan)) {
    out[k] = v !== null && typeof v === 'object' && 'source' in v ? { value: (v as Sourced<unknown>).value ?? null, source: (v as Sourced<unknown>).source, ...((v as Sourced<unknown>).detail ? { detail: (v as Sourced<unknown>).detail } : {}) } : v;
  }
  out.monthlyCost = planMonthlyCost(plan);
  return out;
}
