// What a GCE deployment costs a month at on-demand list prices, from the one price file
// (presets/gcp-prices.json): the machine type, both persistent disks and the static external
// address, in the chosen region. A price the file does not have is reported as unknown, never
// replaced by another region's or machine type's figure.
import pricesData from '../../../presets/gcp-prices.json' with { type: 'json' };
import { totalOf, type CostPart, type MonthlyCost, type StoragePricing } from '../../core/prices.js';
import type { DiskSpec } from '../port.js';
import type { CostInput } from '../provider.js';

interface RegionPrices {
  machineHourUsd: Record<string, number>;
  diskGibMonthUsd: Record<string, number>;
  snapshotGibMonthUsd: number;
  externalIpv4HourUsd: number;
}

interface PricesFile {
  source: string[];
  date: string;
  hoursPerMonth: number;
  regions: Record<string, RegionPrices>;
  samePricesAs: Record<string, string>;
}

const prices = pricesData as unknown as PricesFile;

export const PRICE_FILE = 'presets/gcp-prices.json';
export const PRICE_DATE = prices.date;
/** The region the `presets` table quotes by default. */
export const REFERENCE_REGION = 'us-central1';

function regionPrices(region: string): RegionPrices | undefined {
  return prices.regions[prices.samePricesAs[region] ?? region];
}

/** Monthly price of one persistent disk; undefined for a type or region without prices. */
export function diskMonthlyUsd(region: string, disk: DiskSpec): number | undefined {
  const perGib = regionPrices(region)?.diskGibMonthUsd[disk.type];
  return perGib === undefined ? undefined : perGib * disk.sizeGiB;
}

const describeDisk = (d: DiskSpec) => `${d.sizeGiB} GB ${d.type}`;

/** The monthly cost of what a launch really creates. */
export function monthlyCost(input: CostInput): MonthlyCost {
  const p = regionPrices(input.region);
  const hourly = p?.machineHourUsd[input.machineType];
  const parts: CostPart[] = [
    { item: 'instance', detail: input.machineType, monthlyUsd: hourly === undefined ? undefined : hourly * prices.hoursPerMonth },
    { item: 'root volume', detail: describeDisk(input.root), monthlyUsd: diskMonthlyUsd(input.region, input.root) },
    { item: 'data volume', detail: describeDisk(input.data), monthlyUsd: diskMonthlyUsd(input.region, input.data) },
  ];
  if (input.publicAddress) {
    parts.push({ item: 'public IPv4 address', detail: 'static external IP address', monthlyUsd: p ? p.externalIpv4HourUsd * prices.hoursPerMonth : undefined });
  }
  return totalOf(input.region, parts, { priceDate: prices.date, source: prices.source, priceFile: PRICE_FILE });
}

/** Disk and snapshot prices of the reference region, for the upgrade and prune comparisons. */
export function storagePricing(): StoragePricing {
  return {
    region: REFERENCE_REGION,
    diskMonthlyUsd: (disk) => diskMonthlyUsd(REFERENCE_REGION, disk),
    snapshotGiBMonthUsd: regionPrices(REFERENCE_REGION)!.snapshotGibMonthUsd,
  };
}
