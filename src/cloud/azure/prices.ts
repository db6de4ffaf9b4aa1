// What an Azure deployment costs a month at pay-as-you-go list prices, from the one price file
// (presets/azure-prices.json): the VM size, both managed disks (a Premium SSD by the tier its size
// rounds up to; a Premium SSD v2 by GiB, IOPS and MB/s) and the Standard static public IP, in the
// chosen location. A price the file does not have is reported as unknown, never replaced by
// another location's or size's figure.
import pricesData from '../../../presets/azure-prices.json' with { type: 'json' };
import { totalOf, type CostPart, type MonthlyCost, type StoragePricing } from '../../core/prices.js';
import type { DiskSpec } from '../port.js';
import type { CostInput } from '../provider.js';

interface RegionPrices {
  machineHourUsd: Record<string, number>;
  premiumSsdTiersMonthUsd: { tier: string; maxGiB: number; usd: number }[];
  premiumSsdV2: { gibHourUsd: number; includedIops: number; iopsHourUsd: number; includedThroughputMBps: number; throughputMBpsHourUsd: number };
  snapshotGibMonthUsd: number;
  publicIpv4HourUsd: number;
}

interface PricesFile {
  source: string[];
  date: string;
  hoursPerMonth: number;
  regions: Record<string, RegionPrices>;
  samePricesAs: Record<string, string>;
}

const prices = pricesData as unknown as PricesFile;

export const PRICE_FILE = 'presets/azure-prices.json';
export const PRICE_DATE = prices.date;
/** The location the `presets` table quotes by default. */
export const REFERENCE_REGION = 'eastus';

function regionPrices(region: string): RegionPrices | undefined {
  return prices.regions[prices.samePricesAs[region] ?? region];
}

/** The Premium SSD tier a disk of this size is billed as (Azure rounds up), or undefined outside the file's tiers. */
export function premiumSsdTier(region: string, sizeGiB: number): { tier: string; usd: number } | undefined {
  const t = regionPrices(region)?.premiumSsdTiersMonthUsd.find((x) => sizeGiB <= x.maxGiB);
  return t && { tier: t.tier, usd: t.usd };
}

/** Monthly price of one managed disk; undefined for a type, size or location without prices. */
export function diskMonthlyUsd(region: string, disk: DiskSpec): number | undefined {
  const p = regionPrices(region);
  if (!p) return undefined;
  if (disk.type === 'Premium_LRS') return premiumSsdTier(region, disk.sizeGiB)?.usd;
  if (disk.type === 'PremiumV2_LRS') {
    const v2 = p.premiumSsdV2;
    const extraIops = Math.max(0, (disk.iops ?? v2.includedIops) - v2.includedIops);
    const extraThroughput = Math.max(0, (disk.throughput ?? v2.includedThroughputMBps) - v2.includedThroughputMBps);
    return (disk.sizeGiB * v2.gibHourUsd + extraIops * v2.iopsHourUsd + extraThroughput * v2.throughputMBpsHourUsd) * prices.hoursPerMonth;
  }
  return undefined;
}

function describeDisk(region: string, d: DiskSpec): string {
  if (d.type === 'Premium_LRS') {
    const tier = premiumSsdTier(region, d.sizeGiB);
    return `${d.sizeGiB} GiB Premium_LRS${tier ? ` (billed as ${tier.tier})` : ''}`;
  }
  const perf = d.type === 'PremiumV2_LRS' ? `${d.iops ? ` ${d.iops} IOPS` : ''}${d.throughput ? ` ${d.throughput} MB/s` : ''}` : '';
  return `${d.sizeGiB} GiB ${d.type}${perf}`;
}

/** The monthly cost of what a launch really creates. */
export function monthlyCost(input: CostInput): MonthlyCost {
  const p = regionPrices(input.region);
  const hourly = p?.machineHourUsd[input.machineType];
  const parts: CostPart[] = [
    { item: 'instance', detail: input.machineType, monthlyUsd: hourly === undefined ? undefined : hourly * prices.hoursPerMonth },
    { item: 'root volume', detail: describeDisk(input.region, input.root), monthlyUsd: diskMonthlyUsd(input.region, input.root) },
    { item: 'data volume', detail: describeDisk(input.region, input.data), monthlyUsd: diskMonthlyUsd(input.region, input.data) },
  ];
  if (input.publicAddress) {
    parts.push({ item: 'public IPv4 address', detail: 'Standard static public IP', monthlyUsd: p ? p.publicIpv4HourUsd * prices.hoursPerMonth : undefined });
  }
  return totalOf(input.region, parts, { priceDate: prices.date, source: prices.source, priceFile: PRICE_FILE });
}

/** Disk and snapshot prices of the reference location, for the upgrade and prune comparisons. */
export function storagePricing(): StoragePricing {
  return {
    region: REFERENCE_REGION,
    diskMonthlyUsd: (disk) => diskMonthlyUsd(REFERENCE_REGION, disk),
    snapshotGiBMonthUsd: regionPrices(REFERENCE_REGION)!.snapshotGibMonthUsd,
  };
}
