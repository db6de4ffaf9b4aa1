// Size presets (XS–XL) and the cost estimate shown next to each. Data only: the numbers live in
// presets/sizes.json so they ship with the package and can be reviewed without reading code.
import sizesData from '../../presets/sizes.json' with { type: 'json' };
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
  aws: { instanceType: string; hourlyUsd: number; data: AwsDataVolumePreset };
  gcp: { instanceType: string };
  azure: { instanceType: string };
}

interface SizesFile {
  sizes: Record<SizeName, Omit<SizePreset, 'name'>>;
  aws: {
    root: { device: string; type: 'gp3'; sizeGiB: number };
    dataDevice: string;
    pricesUsd: {
      gp3GiBMonth: number;
      io2GiBMonth: number;
      io2IopsMonth: number;
      publicIpv4Hour: number;
      snapshotGiBMonth: number;
    };
    hoursPerMonth: number;
  };
}

const data = sizesData as SizesFile;

export const AWS_ROOT_VOLUME = data.aws.root;
export const AWS_DATA_DEVICE = data.aws.dataDevice;
export const AWS_PRICES = data.aws.pricesUsd;

export function isSizeName(s: string): s is SizeName {
  return (SIZE_NAMES as readonly string[]).includes(s);
}

export function getPreset(size: SizeName): SizePreset {
  return { name: size, ...data.sizes[size] };
}

export function allPresets(): SizePreset[] {
  return SIZE_NAMES.map(getPreset);
}

export interface AwsCostEstimate {
  instanceUsd: number;
  storageUsd: number;
  addressUsd: number;
  totalUsd: number;
}

/** Monthly on-demand estimate for an AWS deployment of this size (list price, us-east-1). */
export function estimateAwsMonthlyCost(
  preset: SizePreset,
  opts: { dataSizeGiB?: number; hourlyUsd?: number } = {},
): AwsCostEstimate {
  const hours = data.aws.hoursPerMonth;
  const p = data.aws.pricesUsd;
  const dataGiB = opts.dataSizeGiB ?? preset.aws.data.sizeGiB;
  const instanceUsd = (opts.hourlyUsd ?? preset.aws.hourlyUsd) * hours;
  const dataUsd =
    preset.aws.data.type === 'io2'
      ? dataGiB * p.io2GiBMonth + (preset.aws.data.iops ?? 0) * p.io2IopsMonth
      : dataGiB * p.gp3GiBMonth;
  const storageUsd = dataUsd + AWS_ROOT_VOLUME.sizeGiB * p.gp3GiBMonth;
  // Every instance has a public IPv4 (auto-assigned or Elastic): both are billed hourly.
  const addressUsd = p.publicIpv4Hour * hours;
  const round = (n: number) => Math.round(n);
  return {
    instanceUsd: round(instanceUsd),
    storageUsd: round(storageUsd),
    addressUsd: round(addressUsd),
    totalUsd: round(instanceUsd + storageUsd + addressUsd),
  };
}

export function formatUsd(n: number): string {
  return `$${groupThousands(n)}`;
}
