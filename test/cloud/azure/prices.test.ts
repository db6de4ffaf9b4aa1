// Azure's costs come from presets/azure-prices.json only: the Dasv5 sizes at the per-vCPU rate, a
// Premium SSD billed by the tier its size rounds up to, a Premium SSD v2 by GiB plus the IOPS and
// MB/s above what is included, the Standard static public IP; "price unknown" outside the file.
import { describe, expect, it } from 'vitest';
import azurePrices from '../../../presets/azure-prices.json' with { type: 'json' };
import { azureProvider } from '../../../src/cloud/azure/provider.js';
import { diskMonthlyUsd, premiumSsdTier } from '../../../src/cloud/azure/prices.js';
import { formatMonthlyCost } from '../../../src/core/prices.js';

const eastus = azurePrices.regions.eastus;
const cost = (size: 'XS' | 'XL', region = 'eastus', publicAddress = true) => {
  const s = azureProvider.sizes[size];
  return azureProvider.monthlyCost({ region, machineType: s.machineType, root: azureProvider.rootDisk, data: s.dataDisk, publicAddress });
};

describe('Azure prices (presets/azure-prices.json)', () => {
  it('every Dasv5 size is its vCPUs times the per-vCPU rate', () => {
    for (const [size, hourly] of Object.entries(eastus.machineHourUsd)) {
      const vcpus = Number(/^Standard_D(\d+)as_v5$/.exec(size)![1]);
      expect(hourly, size).toBeCloseTo(vcpus * eastus.dasv5.vcpuHourUsd, 6);
    }
    for (const s of Object.values(azureProvider.sizes)) expect(Object.keys(eastus.machineHourUsd)).toContain(s.machineType);
  });

  it('a Premium SSD is billed as the tier its size rounds up to; sizes outside the tiers are unknown', () => {
    expect(premiumSsdTier('eastus', 50)).toEqual({ tier: 'P6', usd: 10.21 });
    expect(premiumSsdTier('eastus', 500)).toEqual({ tier: 'P20', usd: 73.22 });
    expect(premiumSsdTier('eastus', 512)).toEqual({ tier: 'P20', usd: 73.22 });
    expect(premiumSsdTier('eastus', 513)).toEqual({ tier: 'P30', usd: 135.17 });
    expect(diskMonthlyUsd('eastus', { type: 'Premium_LRS', sizeGiB: 4000 })).toBe(495.57);
    expect(diskMonthlyUsd('eastus', { type: 'Premium_LRS', sizeGiB: 5000 })).toBeUndefined();
    expect(diskMonthlyUsd('eastus', { type: 'StandardSSD_LRS', sizeGiB: 500 })).toBeUndefined();
  });

  it('a Premium SSD v2 is GiB plus the IOPS above 3,000 and the MB/s above 125, 730 hours a month', () => {
    const v2 = eastus.premiumSsdV2;
    expect(diskMonthlyUsd('eastus', { type: 'PremiumV2_LRS', sizeGiB: 500 })).toBeCloseTo(500 * v2.gibHourUsd * 730, 6);
    expect(diskMonthlyUsd('eastus', { type: 'PremiumV2_LRS', sizeGiB: 500, iops: 3000, throughput: 125 })).toBeCloseTo(500 * v2.gibHourUsd * 730, 6);
    expect(diskMonthlyUsd('eastus', { type: 'PremiumV2_LRS', sizeGiB: 500, iops: 16000, throughput: 500 })).toBeCloseTo(
      (500 * v2.gibHourUsd + 13000 * v2.iopsHourUsd + 375 * v2.throughputMBpsHourUsd) * 730,
      6,
    );
  });

  it('the monthly cost of XS and XL adds the VM, both disks and the public IP; without an address there is no IP part', () => {
    const xs = cost('XS');
    expect(xs.parts.map((p) => [p.item, p.monthlyUsd])).toEqual([
      ['instance', 251.12],
      ['root volume', 10.21],
      ['data volume', 73.22],
      ['public IPv4 address', 3.65],
    ]);
    expect(xs.totalUsd).toBe(338.2);
    expect(xs.parts[2]!.detail).toBe('500 GiB Premium_LRS (billed as P20)');
    expect(formatMonthlyCost(xs)).toBe('≈ $338/month');
    expect(xs).toMatchObject({ priceFile: 'presets/azure-prices.json', priceDate: azurePrices.date });
    expect(cost('XS', 'eastus', false).totalUsd).toBe(334.55);
    const xl = cost('XL');
    expect(xl.parts[0]!.monthlyUsd).toBe(3013.44);
    expect(xl.parts[2]!.monthlyUsd).toBe(119.74);
    expect(xl.totalUsd).toBe(3147.04);
  });

  it('another location is "price unknown", never priced from eastus', () => {
    const west = cost('XS', 'westeurope');
    expect(west.totalUsd).toBeUndefined();
    expect(formatMonthlyCost(west)).toMatch(/^price unknown \(no instance Standard_D8as_v5, root volume .*, data volume .*, public IPv4 address .* price for westeurope in presets\/azure-prices\.json\)$/);
  });

  it('upgrade and prune compare storage at the reference location', () => {
    const storage = azureProvider.storagePricing();
    expect(storage.region).toBe('eastus');
    expect(storage.snapshotGiBMonthUsd).toBe(0.05);
    expect(storage.diskMonthlyUsd({ type: 'Premium_LRS', sizeGiB: 500 })).toBe(73.22);
  });
});
