// `launch --dry-run --cloud azure` with no Azure credentials and no subscription at all, from the real
// CLI process inside the test's network namespace (nothing could be reached anyway): the plan and
// the ARM request bodies, the base image as a reference ARM resolves itself at create time.
// And `--schedule` on Azure: refused as bad input, saying it is not offered.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { DEAD_ENDPOINT, runCli } from '../support/cli.js';

vi.setConfig({ testTimeout: 60_000 });

// No AZURE_* variables: the CLI has no service principal, no subscription and no `az` to ask
// (a directory without az first on PATH would still be the machine's; the dead endpoint makes any call fail).
const env = { AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:9', AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9', AWS_ENDPOINT_URL: DEAD_ENDPOINT, PATH: '/usr/bin:/bin' };
const base = ['launch', 'offline', '--cloud', 'azure', '--region', 'eastus', '--version', '6.12.5040', '--allow-cidr', '203.0.113.0/24'];

describe('--cloud azure without credentials', () => {
  it('--image-source base --dry-run: the plan and the real ARM request bodies, offline', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-offline-'));
    const run = await runCli([...base, '--ssh-cidr', 'none', '--image-source', 'base', '--dry-run', '--json'], { home, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/the dry run works offline/);
    const out = run.json<{ plan: Record<string, { value: any; source: string }>; requests: { service: string; operation: string; input: { id: string; body?: any } }[] }>();
    expect(out.plan.cloud!.value).toBe('azure');
    expect(out.requests.map((r) => `${r.service} ${r.operation}`)).toEqual([
      'Microsoft.Resources resourceGroups.createOrUpdate',
      'Microsoft.Network networkSecurityGroups.createOrUpdate',
      'Microsoft.Network virtualNetworks.createOrUpdate',
      'Microsoft.Network networkInterfaces.createOrUpdate',
      'Microsoft.Compute disks.createOrUpdate',
      'Microsoft.Compute virtualMachines.createOrUpdate',
      'Microsoft.Network publicIPAddresses.createOrUpdate',
      'Microsoft.Network networkInterfaces.createOrUpdate',
    ]);
    const vm = out.requests.find((r) => r.operation === 'virtualMachines.createOrUpdate')!;
    // The deployment's own resource group by default: sourcegraph-<name>.
    expect(vm.input.id).toMatch(/^\/subscriptions\/<subscription>\/resourceGroups\/sourcegraph-offline\/providers\/Microsoft\.Compute\/virtualMachines\//);
    expect(out.requests[0]!.input.id).toBe('/subscriptions/<subscription>/resourceGroups/sourcegraph-offline');
    // Canonical's Ubuntu 24.04 LTS, the newest when the VM is created; provisioned at first boot from custom data.
    expect(vm.input.body.properties.storageProfile.imageReference).toEqual({ publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' });
    const customData = gunzipSync(Buffer.from(vm.input.body.properties.osProfile.customData as string, 'base64')).toString('utf8');
    expect(customData).toContain('provision this plain Ubuntu 24.04 LTS (Canonical) instance at first boot');
    expect(customData.trimEnd().split('\n').at(-1)).toBe('exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version 6.12.5040 --size XS --cloud azure');
    expect(vm.input.body.properties.osProfile.adminUsername).toBe('sourcegraph');
    rmSync(home, { recursive: true, force: true });
  });

  it('--image-source build --dry-run still needs credentials (exit 3: whether an image was built is in the account)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-offline-'));
    const run = await runCli([...base, '--image-source', 'build', '--ssh-cidr', '203.0.113.7/32', '--dry-run', '--json'], { home, env });
    expect(run.code).toBe(3);
    expect(run.json()).toMatchObject({ error: { code: 'credentials', message: '--image-source build needs Azure credentials, even for a dry run' } });
    rmSync(home, { recursive: true, force: true });
  });

  it('launch --schedule: exit 2, "not offered on Azure", before any cloud call', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-offline-'));
    const run = await runCli([...base, '--ssh-cidr', 'none', '--image-source', 'base', '--schedule', 'daily', '--retain', '7', '--yes', '--json'], { home, env });
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'schedule-not-offered', message: '--schedule: scheduled snapshots are not offered on Azure; nothing was changed' } });
    rmSync(home, { recursive: true, force: true });
  });
});
