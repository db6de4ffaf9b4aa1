// The commands on Azure, in-process against the ARM emulator: launch (--image-source base, no
// wait) → status → destroy through the real workflows and the Azure adapter with a test
// credential. The emulator's addresses are never contacted: the probe is replaced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import type { Cloud } from '../../../src/cloud/port.js';
import type { Deps } from '../../../src/commands/deps.js';
import { runBackup, runBackups } from '../../../src/commands/backup.js';
import { runDestroy } from '../../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../../src/commands/launch.js';
import { runStatus } from '../../../src/commands/status.js';
import { makeDeps, ScriptedIo, tempHome } from '../../support/deps.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

let arm: ArmEmulator;
beforeAll(async () => {
  arm = await startArmEmulator();
});
afterAll(async () => {
  await arm?.stop();
});

const credential = { getToken: async () => ({ token: 'lifecycle-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

function azureDeps(io: ScriptedIo, home: string): Deps {
  const base = makeDeps({ endpoint: 'http://127.0.0.1:9', io, home, httpGet: async () => ({ status: 200, body: '6.12.5040' }) });
  return {
    ...base,
    connect: async (_provider, scope): Promise<Cloud> => new AzureAdapter(scope, { credential, endpoint: arm.endpoint, pollIntervalMs: 1, maxAttempts: 2 }),
  };
}

describe('azure commands on the ARM emulator', () => {
  it('launch → status → backup → backups → destroy', async () => {
    const home = tempHome();
    const providerFlags = { subscription: arm.subscriptionId, resourceGroup: 'sl-life' };
    const flags = { cloud: 'azure', region: 'eastus', size: 'XS', version: '6.12.5040', imageSource: 'base', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'life', providerFlags };
    const launched = (await runLaunch(azureDeps(new ScriptedIo([], false), home), flags)) as LaunchResult;
    expect(launched.instanceId).toMatch(/\/virtualMachines\//);
    const status = await runStatus(azureDeps(new ScriptedIo([], false), home), 'life', { cloud: 'azure', region: 'eastus', providerFlags });
    expect(status).toMatchObject({
      name: 'life',
      cloud: 'azure',
      state: 'running',
      instanceId: launched.instanceId,
      machineType: 'Standard_D8as_v5',
      imageId: expect.stringMatching(/^Canonical:ubuntu-24_04-lts:server:/),
      publicIp: launched.publicIp,
      addresses: [{ id: launched.resources.allocationId, ip: launched.publicIp, managed: true }],
      securityGroups: [launched.resources.securityGroupId],
      dataVolumes: [{ id: launched.resources.dataVolumeId, sizeGiB: 500, type: 'Premium_LRS', state: 'in-use', attachedTo: launched.instanceId }],
      servingVersion: '6.12.5040',
    });
    // The VM was created from Ubuntu with the first-boot provisioning as custom data, the key-less login user, tagged.
    const vm = arm.control.state().resources.find((r) => r.id === launched.instanceId)!;
    expect(vm.tags).toMatchObject({ 'sourcegraph-launch:deployment': 'life', 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': '6.12.5040' });
    // The serial log (boot diagnostics), where the readiness wait reads the host key fingerprints.
    const serial = '-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:abc root@sourcegraph (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n';
    arm.control.setSerialLog('sl-life', launched.instanceId.split('/').pop()!, serial);
    const cloud = await azureDeps(new ScriptedIo([], false), home).connect(undefined as never, { provider: 'azure', region: 'eastus', params: providerFlags });
    expect(await cloud.consoleOutput(launched.instanceId)).toBe(serial);
    const target = { cloud: 'azure', region: 'eastus', providerFlags };
    const backup = (await runBackup(azureDeps(new ScriptedIo([], false), home), 'life', { ...target, wait: true })) as { snapshotId: string };
    expect(backup.snapshotId).toMatch(/\/Microsoft\.Compute\/snapshots\//);
    const listed = JSON.stringify(await runBackups(azureDeps(new ScriptedIo([], false), home), 'life', target));
    expect(listed).toContain(backup.snapshotId);
    const snapshot = arm.control.state().resources.find((r) => r.id === backup.snapshotId)!;
    expect(snapshot.properties).toMatchObject({ incremental: true, creationData: { createOption: 'Copy', sourceResourceId: launched.resources.dataVolumeId } });
    await runDestroy(azureDeps(new ScriptedIo([], false), home), 'life', { cloud: 'azure', region: 'eastus', providerFlags, yes: true });
    // Destroy keeps the data disk and its snapshots (and the shared default network); the VM, its OS disk and NIC, the NSG and the public IP are gone.
    const left = arm.control.state().resources.map((r) => `${r.type} ${r.id}`);
    expect(left.sort()).toEqual([`Microsoft.Compute/disks ${launched.resources.dataVolumeId}`, `Microsoft.Compute/snapshots ${backup.snapshotId}`, `Microsoft.Network/virtualNetworks ${arm.control.state().resources.find((r) => r.type === 'Microsoft.Network/virtualNetworks')!.id}`].sort());
    const after = arm.control.state().resources.find((r) => r.id === launched.resources.dataVolumeId)!;
    expect(after.tags).toMatchObject({ 'sourcegraph-launch:deployment': 'life' });
  });

  it('launch --dry-run --json: the plan and the real ARM requests, and nothing is created', async () => {
    await arm.reset();
    const providerFlags = { subscription: arm.subscriptionId, resourceGroup: 'sl-dry' };
    const flags = { cloud: 'azure', region: 'eastus', size: 'L', version: '6.12.5040', imageSource: 'base', allowCidr: ['198.51.100.0/24'], sshCidr: ['198.51.100.7/32'], yes: true, dryRun: true, name: 'dry', providerFlags };
    const out = (await runLaunch(azureDeps(new ScriptedIo([], false), tempHome()), flags)) as { plan: Record<string, { value: unknown }>; requests: { service: string; operation: string; input: { id: string; body?: Record<string, any> } }[] };
    expect(out.plan.region).toMatchObject({ value: 'eastus' });
    const vm = out.requests.find((r) => r.operation === 'virtualMachines.createOrUpdate')!;
    expect(vm.service).toBe('Microsoft.Compute');
    expect(vm.input.id).toMatch(new RegExp(`^/subscriptions/${arm.subscriptionId}/resourceGroups/sl-dry/providers/Microsoft.Compute/virtualMachines/`));
    expect(vm.input.body!.properties.hardwareProfile.vmSize).toBe('Standard_D48as_v5');
    expect(vm.input.body!.properties.osProfile.customData).toMatch(/^[A-Za-z0-9+/=]+$/);
    const disk = out.requests.find((r) => r.operation === 'disks.createOrUpdate')!;
    expect(disk.input.body).toMatchObject({ sku: { name: 'PremiumV2_LRS' }, properties: { diskIOPSReadWrite: 16000, diskMBpsReadWrite: 500 } });
    const nsg = out.requests.find((r) => r.operation === 'networkSecurityGroups.createOrUpdate')!;
    const ports = (nsg.input.body!.properties.securityRules as { properties: { destinationPortRange: string; sourceAddressPrefixes: string[] } }[]).map((r) => `${r.properties.destinationPortRange} ${r.properties.sourceAddressPrefixes.join(',')}`);
    expect(ports.sort()).toEqual(['22 198.51.100.7/32', '443 198.51.100.0/24', '80 198.51.100.0/24']);
    expect(JSON.parse(JSON.stringify(out.requests))).toEqual(out.requests);
    expect(arm.control.state().resources).toEqual([]);
    expect(arm.control.state().resourceGroups).toEqual([]);
  });
});
