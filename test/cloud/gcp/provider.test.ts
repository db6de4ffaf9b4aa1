// The GCE descriptor, which loads no adapter: the project from flags, environment or gcloud's
// configuration; ids validated in GCE's forms; sizes from presets/gcp.json; prices only where presets/gcp-prices.json has them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gcpProvider, projectFrom, validateAddress } from '../../../src/cloud/gcp/provider.js';
import gcpPrices from '../../../presets/gcp-prices.json' with { type: 'json' };

const dir = mkdtempSync(join(tmpdir(), 'sgl-gcp-provider-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GCE descriptor', () => {
  it('the project: --project, then GOOGLE_CLOUD_PROJECT, then the active gcloud configuration', () => {
    mkdirSync(join(dir, 'configurations'), { recursive: true });
    writeFileSync(join(dir, 'active_config'), 'work\n');
    writeFileSync(join(dir, 'configurations', 'config_work'), '[compute]\nproject = not-this\n[core]\naccount = a@b.c\nproject = from-gcloud\n');
    const env = { CLOUDSDK_CONFIG: dir };
    expect(projectFrom({ project: 'from-flag' }, { ...env, GOOGLE_CLOUD_PROJECT: 'from-env' })).toEqual({ project: 'from-flag', from: '--project' });
    expect(projectFrom({}, { ...env, GOOGLE_CLOUD_PROJECT: 'from-env' })).toEqual({ project: 'from-env', from: 'GOOGLE_CLOUD_PROJECT' });
    expect(projectFrom({}, env)).toEqual({ project: 'from-gcloud', from: 'gcloud config' });
    expect(gcpProvider.scope('us-central1', { zone: 'us-central1-c' }, env)).toEqual({ provider: 'gcp', region: 'us-central1', params: { project: 'from-gcloud', zone: 'us-central1-c' } });
    expect(() => gcpProvider.scope('us-central1', { zone: 'us-east1-b' }, env)).toThrow(/not in region/);
  });

  it('validates ids in GCE forms', () => {
    expect(validateAddress('new')).toEqual({ mode: 'new' });
    expect(validateAddress('projects/my-proj-1/regions/us-central1/addresses/web')).toEqual({ mode: 'existing', id: 'regions/us-central1/addresses/web' });
    expect(() => validateAddress('1.2.3.4')).toThrow(/--address/);
    expect(gcpProvider.validateImageId('projects/my-proj-1/global/images/sg-6-13-0')).toBe('projects/my-proj-1/global/images/sg-6-13-0');
    expect(() => gcpProvider.validateImageId('ami-0123456789abcdef0')).toThrow(/projects\/PROJECT/);
    expect(gcpProvider.validateDiskId('zones/us-central1-a/disks/data-1')).toBe('zones/us-central1-a/disks/data-1');
    expect(gcpProvider.validateSnapshotId('snap-1')).toBe('global/snapshots/snap-1');
    expect(gcpProvider.validateSubnet('regions/us-central1/subnetworks/s')).toBe('regions/us-central1/subnetworks/s');
  });

  it('sizes are the N2 presets with 500 GB pd-ssd data disks; costs from the price file, unknown outside it', () => {
    expect(Object.values(gcpProvider.sizes).map((s) => s.machineType)).toEqual(['n2-standard-8', 'n2-standard-16', 'n2-standard-32', 'n2-standard-48', 'n2-standard-96']);
    expect(gcpProvider.sizes.XS.dataDisk).toEqual({ type: 'pd-ssd', sizeGiB: 500 });
    expect(gcpProvider.rootDisk).toEqual({ type: 'pd-ssd', sizeGiB: 50 });
    const cost = gcpProvider.monthlyCost({ region: 'us-central1', machineType: 'n2-standard-8', root: gcpProvider.rootDisk, data: gcpProvider.sizes.XS.dataDisk, publicAddress: true });
    // n2-standard-8: 8 vCPU + 32 GiB at us-central1's N2 rates; 550 GB pd-ssd; one address in use.
    const { n2, diskGibMonthUsd, externalIpv4HourUsd } = gcpPrices.regions['us-central1'];
    const expected = (8 * n2.vcpuHourUsd + 32 * n2.gibHourUsd) * 730 + 550 * diskGibMonthUsd['pd-ssd'] + externalIpv4HourUsd * 730;
    expect(cost.unknown).toEqual([]);
    expect(cost.totalUsd).toBeCloseTo(expected, 1);
    expect(cost.totalUsd).toBeGreaterThan(300);
    expect(cost.parts.map((p) => p.item)).toEqual(['instance', 'root volume', 'data volume', 'public IPv4 address']);
    // Another region is not priced from us-central1's figures.
    const away = gcpProvider.monthlyCost({ region: 'europe-west1', machineType: 'n2-standard-8', root: gcpProvider.rootDisk, data: gcpProvider.sizes.XS.dataDisk, publicAddress: true });
    expect(away.totalUsd).toBeUndefined();
    expect(away.unknown.length).toBe(4);
    // A machine type the file does not list is unknown even in a priced region.
    const other = gcpProvider.monthlyCost({ region: 'us-central1', machineType: 'c3-standard-8', root: gcpProvider.rootDisk, data: gcpProvider.sizes.XS.dataDisk, publicAddress: false });
    expect(other.unknown).toEqual(['instance c3-standard-8']);
  });

  it('the price file: every N2 type is its vCPUs and 4 GiB each at the N2 rates; storage prices for upgrade and prune', () => {
    for (const [region, p] of Object.entries(gcpPrices.regions)) {
      for (const [type, hourly] of Object.entries(p.machineHourUsd)) {
        const vcpus = Number(/^n2-standard-(\d+)$/.exec(type)?.[1]);
        expect(vcpus, `${region} ${type}`).toBeGreaterThan(0);
        expect(hourly, `${region} ${type}`).toBeCloseTo(vcpus * p.n2.vcpuHourUsd + 4 * vcpus * p.n2.gibHourUsd, 5);
      }
    }
    for (const target of Object.values(gcpPrices.samePricesAs)) expect(Object.keys(gcpPrices.regions)).toContain(target);
    const storage = gcpProvider.storagePricing();
    expect(storage.region).toBe('us-central1');
    expect(storage.diskMonthlyUsd({ type: 'pd-ssd', sizeGiB: 100 })).toBeCloseTo(100 * gcpPrices.regions['us-central1'].diskGibMonthUsd['pd-ssd'], 5);
    expect(storage.diskMonthlyUsd({ type: 'hyperdisk-extreme', sizeGiB: 100 })).toBeUndefined();
    expect(storage.snapshotGiBMonthUsd).toBeGreaterThan(0);
  });
});
