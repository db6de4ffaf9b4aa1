// The resolved launch: every value with where it came from, the summary the user confirms, and
// the equivalent non-interactive command line so CI can replay a wizard run. Cloud-neutral: what
// differs by cloud (disk types, prices, words, flag names) comes from the cloud's facts (PlanCloud,
// which each provider descriptor implements).
import { groupThousands } from './format.js';
import { formatMonthlyCost, type CostInput, type DiskSpec, type MonthlyCost } from './prices.js';
import { getPreset, type SizeName } from './presets.js';

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
  /** A key the cloud already keeps by name (where it has such keys). */
  | { mode: 'existing'; keyName: string };

/** The data disk: a new one, or one a `destroy` kept (--data-volume <id>). */
export type DataVolumeChoice = { mode: 'new' } | { mode: 'existing'; volumeId: string; zone: string; sizeGiB: number; version?: string };

/** The static address: a new one (the URL survives upgrades), none, or one the user brought. */
export type AddressChoice = { mode: 'new' } | { mode: 'none' } | { mode: 'existing'; id: string };

export interface ImageChoice {
  id: string;
  name?: string;
  source: 'published' | 'built' | 'catalog' | 'flag';
  /** The image's prepared data-disk template where the cloud keeps it apart (GCE snapshot). */
  dataTemplateId?: string;
}

export interface LaunchPlan {
  name: Sourced<string>;
  cloud: Sourced<string>;
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
  encryptionKey: Sourced<string | undefined>;
  address: Sourced<AddressChoice>;
  wait: boolean;
  timeoutMinutes: Sourced<number>;
  holdSeconds: Sourced<number>;
  /** Where the image comes from (--image-source); absent means published. */
  imageSource?: Sourced<'published' | 'build' | 'base'>;
  /** Daily snapshots kept by the cloud's snapshot schedule (--schedule daily --retain N). */
  schedule?: Sourced<{ schedule: 'daily'; retain: number } | undefined>;
  /** Absent or new: a new data disk; existing: launch on a kept one. */
  dataVolume?: Sourced<DataVolumeChoice>;
  /** The zones the instance may go to: those that offer its type (and hold a kept data disk). Known only with credentials. */
  zones?: Sourced<string[]>;
  /** The cloud's own scope and schedule settings (a profile, a project, the role a schedule acts as), by their flag's property. */
  providerFlags?: Record<string, string>;
}

/** What the plan needs to know about its cloud: implemented by every provider descriptor. */
export interface PlanCloud {
  id: string;
  sizes: Readonly<Record<SizeName, { machineType: string; dataDisk: DiskSpec }>>;
  rootDisk: DiskSpec;
  describeDisk(disk: DiskSpec): string;
  monthlyCost(input: CostInput): MonthlyCost;
  priceFile: string;
  terms: { address: string; sshKey: string; defaultSubnet: string; defaultEncryption: string; baseImage: string; snapshotSchedules: string };
  /** The flags a plan's cloud-specific values are given with, for the equivalent command. */
  planFlags: { address?: string; existingSshKey?: string; encryptionKey?: string; providerFlags: Readonly<Record<string, string>> };
  /** The plan's values under the names this cloud's JSON has always used (e.g. AWS: kmsKey, elasticIp). */
  planJsonExtras?(plan: LaunchPlan): Record<string, unknown>;
}

/** The data disk the plan creates: the preset's type and performance, the plan's size. */
export function dataVolumeFor(plan: LaunchPlan, cloud: PlanCloud): DiskSpec {
  return { ...cloud.sizes[plan.size.value].dataDisk, sizeGiB: plan.dataSizeGiB.value };
}

export function keyPairNameFor(deployment: string): string {
  return `sourcegraph-launch-${deployment}`;
}

/**
 * The idempotency key of a create: at most 64 ASCII characters (EC2's ClientToken limit), stable for
 * one attempt (journal id), different for a later launch of the same name after a destroy.
 */
export function clientTokenFor(name: string, journalId: string, step: string): string {
  return `sgl-${name}-${step}-${journalId}`.slice(0, 64);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function addressText(e: AddressChoice): string {
  return e.mode === 'existing' ? e.id : e.mode;
}

/** The one-line, non-interactive equivalent of this plan. */
export function equivalentCommand(plan: LaunchPlan, cloud: PlanCloud, program = 'npx sourcegraph-launch'): string {
  const args: string[] = ['launch', '--yes'];
  const add = (flag: string | undefined, value: string | number | undefined) => {
    if (flag && value !== undefined) args.push(flag, shellQuote(String(value)));
  };
  add('--cloud', plan.cloud.value);
  add('--region', plan.region.value);
  for (const [flag, value] of Object.entries(cloud.planFlags.providerFlags)) add(flag, plan.providerFlags?.[value]);
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
  if (key.mode === 'existing') add(cloud.planFlags.existingSshKey, key.keyName);
  if (plan.sshUser.source === 'flag' || plan.sshUser.source === 'prompt') add('--ssh-user', plan.sshUser.value);
  if (plan.instanceType.source !== 'preset') add('--instance-type', plan.instanceType.value);
  if (plan.dataSizeGiB.source !== 'preset' && plan.dataVolume?.value.mode !== 'existing') add('--data-size', plan.dataSizeGiB.value);
  if (plan.dataVolume && plan.dataVolume.source !== 'default') add('--data-volume', plan.dataVolume.value.mode === 'existing' ? plan.dataVolume.value.volumeId : 'new');
  add('--subnet', plan.subnet.value);
  add(cloud.planFlags.encryptionKey, plan.encryptionKey.value);
  if (plan.address.value.mode !== 'new') add(cloud.planFlags.address, addressText(plan.address.value));
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

/** What the plan really launches costs a month: its machine type, both disks, the address, in its region. */
export function planMonthlyCost(plan: LaunchPlan, cloud: PlanCloud): MonthlyCost {
  return cloud.monthlyCost({
    region: plan.region.value,
    machineType: plan.instanceType.value,
    root: cloud.rootDisk,
    data: dataVolumeFor(plan, cloud),
    // Static or not, a public IPv4 address is billed by the hour.
    publicAddress: true,
  });
}

export function summaryRows(plan: LaunchPlan, cloud: PlanCloud): SummaryRow[] {
  const preset = getPreset(plan.size.value);
  const cost = planMonthlyCost(plan, cloud);
  const data = dataVolumeFor(plan, cloud);
  const key = plan.sshKey.value;
  const { terms } = cloud;
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
      : [
          'data volume',
          plan.dataSizeGiB,
          `${cloud.describeDisk(data)}, encrypted, kept on destroy${plan.image.value.dataTemplateId ? `, made from ${plan.image.value.dataTemplateId} (the image's prepared data disk)` : ''}${plan.dataVolume?.source && plan.dataVolume.source !== 'default' ? ' (new; kept volumes stay untouched)' : ''}`,
        ],
    ['HTTP/HTTPS from', plan.allowCidrs, plan.allowCidrs.value.join(', ')],
    ['SSH from', plan.sshCidrs, plan.sshCidrs.value.length ? plan.sshCidrs.value.join(', ') : 'nobody (no SSH rule)'],
    [
      'SSH key',
      plan.sshKey,
      key.mode === 'generate' ? `new ed25519 key ${key.privateKeyPath}` : key.mode === 'import' ? `import ${key.publicKeyPath}` : `existing ${terms.sshKey} ${key.keyName}`,
    ],
    ['SSH user', plan.sshUser, plan.sshUser.value],
    ['subnet', plan.subnet, plan.subnet.value ?? terms.defaultSubnet],
    ...(plan.zones ? [['zone', plan.zones, plan.zones.value.length === 1 ? plan.zones.value[0]! : `first of ${plan.zones.value.join(', ')}`] as [string, Sourced<unknown>, string]] : []),
    ['encryption key', plan.encryptionKey, plan.encryptionKey.value ?? terms.defaultEncryption],
    [terms.address, plan.address, addressText(plan.address.value)],
    ...(plan.imageSource && plan.imageSource.value !== 'published'
      ? [['image source', plan.imageSource, plan.imageSource.value === 'build' ? 'an image built by sourcegraph-launch' : `plain ${terms.baseImage}, provisioned at first boot`] as [string, Sourced<unknown>, string]]
      : []),
    ['backups', plan.schedule ?? { value: undefined, source: 'default' }, plan.schedule?.value ? `daily snapshots, keep ${plan.schedule.value.retain} (${terms.snapshotSchedules})` : 'none scheduled (--schedule daily --retain N)'],
    [
      'monthly cost',
      { value: undefined, source: 'default', detail: `list prices of ${cost.priceDate}, ${cost.priceFile}` },
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
export function planToJson(plan: LaunchPlan, cloud: PlanCloud): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plan)) {
    if (k === 'providerFlags') continue;
    out[k] = v !== null && typeof v === 'object' && 'source' in v ? { value: (v as Sourced<unknown>).value ?? null, source: (v as Sourced<unknown>).source, ...((v as Sourced<unknown>).detail ? { detail: (v as Sourced<unknown>).detail } : {}) } : v;
  }
  Object.assign(out, cloud.planJsonExtras?.(plan) ?? {});
  out.monthlyCost = planMonthlyCost(plan, cloud);
  return out;
}
