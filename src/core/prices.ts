// A monthly cost estimate as every cloud reports it: parts (instance, disks, address) each with a
// price or none, and a total only when every part has one. Each cloud prices from its own file
// under presets/ (src/cloud/<provider>/prices.ts); this module only shapes and words the result.
import { groupThousands } from './format.js';

/** A disk as sizes, prices and the port describe it. */
export interface DiskSpec {
  sizeGiB: number;
  type: string;
  iops?: number;
  throughput?: number;
}

/** What a monthly cost is computed from. */
export interface CostInput {
  region: string;
  machineType: string;
  root: DiskSpec;
  data: DiskSpec;
  publicAddress: boolean;
}

/** Storage prices for the rough "what it costs to keep" comparisons (upgrade strategies, prune). */
export interface StoragePricing {
  /** USD a month for a disk of this spec; undefined when the price file has none. */
  diskMonthlyUsd(disk: DiskSpec): number | undefined;
  /** USD a month per GiB of snapshot (an upper bound: a first snapshot stores every written block). */
  snapshotGiBMonthUsd: number;
  /** The region the figures are for. */
  region: string;
}

export interface CostPart {
  item: 'instance' | 'root volume' | 'data volume' | 'public IPv4 address';
  detail: string;
  /** Undefined when the price file has no price for it. */
  monthlyUsd?: number;
}

export interface MonthlyCost {
  region: string;
  currency: 'USD';
  /** The sum, or undefined when any part's price is unknown. */
  totalUsd?: number;
  parts: CostPart[];
  /** The parts without a price, for "price unknown (…)". */
  unknown: string[];
  priceDate: string;
  source: string[];
  /** The price file, named in "price unknown". */
  priceFile: string;
}

/** Rounds the parts to cents and adds them up, unless a part has no price. */
export function totalOf(region: string, parts: CostPart[], meta: { priceDate: string; source: string[]; priceFile: string }): MonthlyCost {
  const round = (n: number) => Math.round(n * 100) / 100;
  for (const part of parts) if (part.monthlyUsd !== undefined) part.monthlyUsd = round(part.monthlyUsd);
  const unknown = parts.filter((x) => x.monthlyUsd === undefined).map((x) => `${x.item} ${x.detail}`);
  return {
    region,
    currency: 'USD',
    totalUsd: unknown.length ? undefined : round(parts.reduce((sum, x) => sum + (x.monthlyUsd ?? 0), 0)),
    parts,
    unknown,
    ...meta,
  };
}

/** "≈ $580/month", or "price unknown (…)". */
export function formatMonthlyCost(cost: MonthlyCost): string {
  if (cost.totalUsd === undefined) return `price unknown (no ${cost.unknown.join(', ')} price for ${cost.region} in ${cost.priceFile})`;
  return `≈ $${groupThousands(Math.round(cost.totalUsd))}/month`;
}

export function formatUsd(n: number): string {
  return `$${groupThousands(Math.round(n))}`;
}
