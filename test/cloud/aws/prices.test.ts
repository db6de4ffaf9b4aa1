// The monthly estimate on AWS prices what a launch really creates (issue 8 item 1), from the one
// price file (presets/aws-prices.json), and says "price unknown" instead of a figure it does not have.
import { describe, expect, it } from 'vitest';
import { awsProvider } from '../../../src/cloud/aws/provider.js';
import { monthlyCost, PRICE_DATE, snapshotMonthlyUsd, volumeMonthlyUsd } from '../../../src/cloud/aws/prices.js';
import { formatMonthlyCost } from '../../../src/core/prices.js';

const gp3 = (sizeGiB: number, extra: { iops?: number; throughput?: number } = {}) => ({ type: 'gp3', sizeGiB, ...extra });

describe('monthlyCost', () => {
  it('follows --instance-type and --data-size: m6a.48xlarge with 4000 GiB is not the M preset\'s ≈ $580', () => {
    const cost = monthlyCost({ region: 'us-east-1', machineType: 'm6a.48xlarge', root: gp3(50), data: gp3(4000, { iops: 3000, throughput: 125 }), publicAddress: true });
    expect(cost.parts.map((p) => [p.item, p.monthlyUsd])).toEqual([
      ['instance', 6054.91], // 8.2944 * 730
      ['root volume', 4],
      ['data volume', 320],
      ['public IPv4 address', 3.65],
    ]);
    expect(cost.totalUsd).toBe(6382.56);
    expect(formatMonthlyCost(cost)).toBe('≈ $6,383/month');
    expect(cost).toMatchObject({ region: 'us-east-1', currency: 'USD', priceDate: PRICE_DATE, priceFile: 'presets/aws-prices.json' });
  });

  it('prices gp3 IOPS and throughput above the included 3000 / 125, and io2 IOPS by tier', () => {
    expect(volumeMonthlyUsd('us-east-1', gp3(500, { iops: 6000, throughput: 250 }))).toBeCloseTo(500 * 0.08 + 3000 * 0.005 + 125 * 0.04);
    expect(volumeMonthlyUsd('us-east-1', { type: 'io2', sizeGiB: 500, iops: 40000 })).toBeCloseTo(500 * 0.125 + 32000 * 0.065 + 8000 * 0.0455);
    expect(volumeMonthlyUsd('us-west-2', gp3(100))).toBe(8);
  });

  it('says "price unknown" for a region or instance type the price file does not have, never another figure', () => {
    const region = monthlyCost({ region: 'eu-south-1', machineType: 'm6a.2xlarge', root: gp3(50), data: gp3(500), publicAddress: true });
    expect(region.totalUsd).toBeUndefined();
    expect(region.parts.every((p) => p.monthlyUsd === undefined)).toBe(true);
    expect(formatMonthlyCost(region)).toMatch(/^price unknown \(no instance m6a\.2xlarge, .* price for eu-south-1 in presets\/aws-prices\.json\)$/);
    const type = monthlyCost({ region: 'us-east-1', machineType: 'c7i.4xlarge', root: gp3(50), data: gp3(500), publicAddress: true });
    expect(type.totalUsd).toBeUndefined();
    expect(type.unknown).toEqual(['instance c7i.4xlarge']);
    expect(type.parts[1]!.monthlyUsd).toBe(4);
  });
});

describe('the AWS descriptor\'s prices', () => {
  it('quotes us-east-1 by default, from the same file and date', () => {
    expect(awsProvider.referenceRegion).toBe('us-east-1');
    expect(awsProvider.priceFile).toBe('presets/aws-prices.json');
    expect(awsProvider.priceDate).toBe(PRICE_DATE);
    expect(awsProvider.monthlyCost).toBe(monthlyCost);
  });

  it('storagePricing is the reference region\'s disk and snapshot prices, for the rough upgrade and prune comparisons', () => {
    const pricing = awsProvider.storagePricing();
    expect(pricing.region).toBe('us-east-1');
    expect(pricing.diskMonthlyUsd(gp3(500))).toBe(40);
    expect(pricing.diskMonthlyUsd({ type: 'st1', sizeGiB: 500 })).toBeUndefined();
    expect(pricing.snapshotGiBMonthUsd).toBe(snapshotMonthlyUsd('us-east-1', 1));
    expect(pricing.snapshotGiBMonthUsd).toBeGreaterThan(0);
  });
});
