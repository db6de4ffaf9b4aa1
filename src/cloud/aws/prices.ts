// What an AWS deployment costs a month at on-demand list prices, from the one price file
// (presets/aws-prices.json): the instance type, both volumes (type, size, IOPS, throughput) and the
// public address, in the chosen region. A price the file does not have is reported as unknown,
// never replaced by another region's or size's figure.
import pricesData from '../../../presets/aws-prices.json' with { type: 'json' };
import { totalOf, type CostPart, type MonthlyCost } from '../../core/prices.js';
import type { CostInput } from '../provider.js';

interface RegionPrices {
  instanceHourUsd: Record<string, number>;
  ebs: {
    gp3: { gibMonthUsd: number; includedIops: number; iopsMonthUsd: number; includedThroughputMiBps: number; throughputMiBpsMonthUsd: number };
    io2: { gibMonthUsd: number; iopsTiersMonthUsd: { upTo: number | null; usd: number }[] };
    snapshotGibMonthUsd: number;
  };
  publicIpv4HourUsd: number;
}

interface PricesFile {
  source: string[];
  date: string;
  currency: string;
  hoursPerMonth: number;
  regions: Record<string, RegionPrices>;
  samePricesAs: Record<string, string>;
}

const prices = pricesData as unknown as PricesFile;

export const PRICE_DATE = prices.date;
export const PRICE_SOURCE = prices.source;
/** The region the `presets` table and the upgrade cost comparison quote by default. */
export const REFERENCE_REGION = 'us-east-1';

/** Every instance type the price file lists (the preset families): the offline check of --instance-type. */
export function knownInstanceTypes(): string[] {
  return [...new Set(Object.values(prices.regions).flatMap((r) => Object.keys(r.instanceHourUsd)))].sort();
}

export function regionPrices(region: string): RegionPrices | undefined {
  return prices.regions[prices.samePricesAs[region] ?? region];
}

export interface VolumeToPrice {
  type: string;
  sizeGiB: number;
  iops?: number;
  throughput?: number;
}

/** Monthly price of one EBS volume; undefined for a type or region without prices. */
export function volumeMonthlyUsd(region: string, v: VolumeToPrice): number | undefined {
  const p = regionPrices(region)?.ebs;
  if (!p) return undefined;
  if (v.type === 'gp3') {
    const extraIops = Math.max(0, (v.iops ?? p.gp3.includedIops) - p.gp3.includedIops);
    const extraThroughput = Math.max(0, (v.throughput ?? p.gp3.includedThroughputMiBps) - p.gp3.includedThroughputMiBps);
    return v.sizeGiB * p.gp3.gibMonthUsd + extraIops * p.gp3.iopsMonthUsd + extraThroughput * p.gp3.throughputMiBpsMonthUsd;
  }
  if (v.type === 'io2') {
    let iops = v.iops ?? 0;
    let floor = 0;
    let usd = v.sizeGiB * p.io2.gibMonthUsd;
    for (const tier of p.io2.iopsTiersMonthUsd) {
      const inTier = Math.max(0, Math.min(iops, (tier.upTo ?? Infinity) - floor));
      usd += inTier * tier.usd;
      iops -= inTier;
      floor = tier.upTo ?? floor;
    }
    return usd;
  }
  return undefined;
}

export function snapshotMonthlyUsd(region: string, sizeGiB: number): number | undefined {
  const p = regionPrices(region);
  return p ? sizeGiB * p.ebs.snapshotGibMonthUsd : undefined;
}

const describeVolume = (v: VolumeToPrice) =>
  `${v.sizeGiB} GiB ${v.type}${v.iops !== undefined && (v.type !== 'gp3' || v.iops > 3000) ? ` ${v.iops} IOPS` : ''}${v.type === 'gp3' && v.throughput !== undefined && v.throughput > 125 ? ` ${v.throughput} MiB/s` : ''}`;

/** The monthly cost of what a launch really creates. */
export function monthlyCost(input: CostInput): MonthlyCost {
  const p = regionPrices(input.region);
  const hourly = p?.instanceHourUsd[input.machineType];
  const parts: CostPart[] = [
    { item: 'instance', detail: input.machineType, monthlyUsd: hourly === undefined ? undefined : hourly * prices.hoursPerMonth },
    { item: 'root volume', detail: describeVolume(input.root), monthlyUsd: volumeMonthlyUsd(input.region, input.root) },
    { item: 'data volume', detail: describeVolume(input.data), monthlyUsd: volumeMonthlyUsd(input.region, input.data) },
  ];
  if (input.publicAddress) parts.push({ item: 'public IPv4 address', detail: 'Elastic IP or public IP, billed hourly', monthlyUsd: p ? p.publicIpv4HourUsd * prices.hoursPerMonth : undefined });
  return totalOf(input.region, parts, { priceDate: prices.date, source: prices.source, priceFile: 'presets/aws-prices.json' });
}
