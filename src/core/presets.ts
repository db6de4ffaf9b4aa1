// Size presets (XS–XL) and the cost estimate shown next to each. Data only: the numbers live in
// presets/sizes.json (and the prices in presets/aws-prices.json) so they ship with the package and
// can be reviewed without reading code.
import sizesData from '../../presets/sizes.json' with { type: 'json' };
import { monthlyCost, regionPrices, REFERENCE_REGION, type MonthlyCost } from './prices.js';
import { groupThousands } from './format.js';

export const SIZE_NAMES = ['XS', 'S', 'M', 'L', 'XL'] as const;
export type SizeName = (typeof SIZE_NAMES)[number];

export interface AwsDataVolumePreset {
  type: 'gp3' | 'io2';
  sizeGiB: number;
  iops?: number;
  throughput?: number;
}

export interface SizePreset {
  name: SizeName;
  users: number;
  repos: number;
  largestRepoGB: number;
  concurrentUsers: number;
  vcpu: number;
  memoryGiB: number;
  aws: { instanceType: string; data: AwsDataVolumePreset };
  gcp: { instanceType: string };
  azure: { instanceType: string };
}

interface SizesFile {
  sizes: Record<SizeName, Omit<SizePreset, 'name'>>;
  aws: {
    root: { device: string; type: 'gp3'; sizeGiB: number };
    dataDevice: string;
  };
}

const data = sizesData as SizesFile;

export const AWS_ROOT_VOLUME = data.aws.root;
export const AWS_DATA_DEVICE = data.aws.dataDevice;
const reference = regionPrices(REFERENCE_REGION)!;
/** Storage prices of the reference region (us-east-1), for the rough upgrade and prune comparisons. */
export const AWS_PRICES = {
  gp3GiBMonth: reference.ebs.gp3.gibMonthUsd,
  io2GiBMonth: reference.ebs.io2.gibMonthUsd,
  io2IopsMonth: reference.ebs.io2.iopsTiersMonthUsd[0]!.usd,
  snapshotGiBMonth: reference.ebs.snapshotGibMonthUsd,
};

export function isSizeName(s: string): s is SizeName {
  return (SIZE_NAMES as readonly string[]).includes(s);
}

export function getPreset(size: SizeName): SizePreset {
  return { name: size, ...data.sizes[size] };
}

export function allPresets(): SizePreset[] {
  return SIZE_NAMES.map(getPreset);
}

/** What a deployment of this size costs a month in `region` (the preset's instance type and disks). */
export function presetMonthlyCost(preset: SizePreset, region: string, opts: { instanceType?: string; dataSizeGiB?: number; publicAddress?: boolean } = {}): MonthlyCost {
  return monthlyCost({
    region,
    instanceType: opts.instanceType ?? preset.aws.instanceType,
    root: { type: AWS_ROOT_VOLUME.type, sizeGiB: AWS_ROOT_VOLUME.sizeGiB },
    data: { ...preset.aws.data, sizeGiB: opts.dataSizeGiB ?? preset.aws.data.sizeGiB },
    publicAddress: opts.publicAddress ?? true,
  });
}

export function formatUsd(n: number): string {
  return `$${groupThousands(n)}`;
}
