// The GCE descriptor, which loads no adapter: the project from flags, environment or gcloud's
// configuration; ids validated in GCE's forms; sizes from presets/gcp.json; no price guessed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gcpProvider, projectFrom, validateAddress } from '../../../src/cloud/gcp/provider.js';

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

  it('sizes are the N2 presets with 500 GB pd-ssd data disks; costs say unknown instead of guessing', () => {
    expect(Object.values(gcpProvider.sizes).map((s) => s.machineType)).toEqual(['n2-standard-8', 'n2-standard-16', 'n2-standard-32', 'n2-standard-48', 'n2-standard-96']);
    expect(gcpProvider.sizes.XS.dataDisk).toEqual({ type: 'pd-ssd', sizeGiB: 500 });
    expect(gcpProvider.rootDisk).toEqual({ type: 'pd-ssd', sizeGiB: 50 });
    const cost = gcpProvider.monthlyCost({ region: 'us-central1', machineType: 'n2-standard-8', root: gcpProvider.rootDisk, data: gcpProvider.sizes.XS.dataDisk, publicAddress: true });
    expect(cost.totalUsd).toBeUndefined();
    expect(cost.unknown.length).toBe(4);
  });
});
