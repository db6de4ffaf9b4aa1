// The commands on Azure, in-process against the ARM emulator: launch (--image-source base, no
// wait) → status → backup → destroy, and launch → upgrade → rollback → restore → prune → destroy,
// through the real workflows and the Azure adapter with a test credential. The emulator's
// addresses are never contacted: the probe answers the version tag of the running VM that holds
// the public IP (what its /healthz would say), and nothing when none does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import type { Cloud } from '../../../src/cloud/port.js';
import type { Deps } from '../../../src/commands/deps.js';
import { runBackup, runBackups } from '../../../src/commands/backup.js';
import { runDestroy } from '../../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../../src/commands/launch.js';
import { runPrune } from '../../../src/commands/prune.js';
import { runRestore } from '../../../src/commands/restore.js';
import { runRollback } from '../../../src/commands/rollback.js';
import { runStatus } from '../../../src/commands/status.js';
import { runUpgrade } from '../../../src/commands/upgrade.js';
import { ExitCode } from '../../../src/core/errors.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { galleryImageFor } from '../../support/arm-emulator/gallery-image.js';
import { makeDeps, ScriptedIo, tempHome } from '../../support/deps.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
});
afterAll(async () => {
  await arm?.stop();
});

const credential = { getToken: async () => ({ token: 'lifecycle-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

// ARM bodies are open-ended JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const get = async (id: string, query?: Record<string, string>): Promise<Json> => (await client.call('GET', id, undefined, query ? { query } : {})).body as Json;
async function powerOf(vmId: string): Promise<string | undefined> {
  const vm = await get(vmId, { $expand: 'instanceView' });
  return (vm.properties?.instanceView?.statuses as { code: string }[] | undefined)?.find((x) => x.code.startsWith('PowerState/'))?.code.replace('PowerState/', '');
}

/** /healthz of the address: the version tag of the running VM whose NIC holds that public IP. */
async function healthz(url: string): Promise<{ status: number; body: string }> {
  const host = new URL(url).hostname;
  const pips = await Promise.all(arm.control.state().resources.filter((r) => r.type === 'Microsoft.Network/publicIPAddresses').map((r) => get(r.id)));
  const pip = pips.find((p) => p.properties?.ipAddress === host);
  const config = pip && String(pip.properties?.ipConfiguration?.id ?? '').toLowerCase();
  const vm = config ? arm.control.state().resources.find((r) => r.type === 'Microsoft.Compute/virtualMachines' && ((r.properties as Json).networkProfile?.networkInterfaces ?? []).some((n: { id: string }) => config.startsWith(n.id.toLowerCase()))) : undefined;
  if (!vm || (await powerOf(vm.id)) !== 'running') throw Object.assign(new Error(`connect ECONNREFUSED ${host}:80`), { code: 'ECONNREFUSED' });
  return { status: 200, body: vm.tags['sourcegraph-launch:version'] ?? '' };
}

function azureDeps(io: ScriptedIo, home: string): Deps {
  const base = makeDeps({ endpoint: 'http://127.0.0.1:9', io, home, httpGet: (url) => healthz(url) });
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

  it('launch → upgrade (clone) → rollback → backup → restore → prune → destroy', async () => {
    await arm.reset();
    const OLD = '6.11.0';
    const NEW = '6.12.5040';
    const home = tempHome();
    const deps = () => azureDeps(new ScriptedIo([], false), home);
    const providerFlags = { subscription: arm.subscriptionId, resourceGroup: 'sl-up' };
    const where = { cloud: 'azure', region: 'eastus', providerFlags };
    const newImage = await galleryImageFor(client, NEW);
    const launched = (await runLaunch(deps(), { ...where, size: 'XS', version: OLD, imageSource: 'base', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'up' })) as LaunchResult;
    const first = launched.instanceId;
    const dataId = launched.resources.dataVolumeId!;
    const addressId = launched.resources.allocationId!;

    const up = await runUpgrade(deps(), 'up', { ...where, to: NEW, image: newImage, yes: true, holdSeconds: '0' });
    expect(up).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${launched.publicIp}`, rollbackPoint: { instanceId: first, dataVolumeId: dataId, version: OLD } });
    const second = up.instanceId!;
    expect(second).not.toBe(first);
    expect(await powerOf(first)).toBe('deallocated');
    expect(await powerOf(second)).toBe('running');
    const vm2 = await get(second);
    expect(vm2.properties.storageProfile.imageReference.id.toLowerCase()).toBe(newImage.toLowerCase());
    expect(vm2.properties.storageProfile.dataDisks).toEqual([expect.objectContaining({ lun: 0, deleteOption: 'Detach' })]);
    const finalSnapshot = up.rollbackPoint!.snapshotId!;
    const upgradedData = vm2.properties.storageProfile.dataDisks[0].managedDisk.id as string;
    expect((await get(upgradedData)).properties.creationData).toMatchObject({ createOption: 'Copy', sourceResourceId: finalSnapshot });
    expect((await get(finalSnapshot)).tags).toMatchObject({ 'sourcegraph-launch:purpose': 'pre-upgrade-final' });
    const upgradeSnapshots = arm.control.state().resources.filter((r) => r.type === 'Microsoft.Compute/snapshots' && r.tags['sourcegraph-launch:purpose']?.startsWith('pre-upgrade'));
    expect(upgradeSnapshots.map((r) => r.tags['sourcegraph-launch:purpose']).sort()).toEqual(['pre-upgrade-final', 'pre-upgrade-live']);
    expect((await runStatus(deps(), 'up', where)).servingVersion).toBe(NEW);

    const back = await runRollback(deps(), 'up', { ...where, yes: true, holdSeconds: '0' });
    expect(back).toMatchObject({ version: OLD, strategy: 'clone', instanceId: first, upgradedInstanceId: second });
    expect(await powerOf(first)).toBe('running');
    expect(await powerOf(second)).toBe('deallocated');
    expect((await runStatus(deps(), 'up', where)).servingVersion).toBe(OLD);

    const backup = (await runBackup(deps(), 'up', { ...where, wait: true })) as { snapshotId: string };
    // Restore refuses while an instance runs; once the serving VM failed (deallocated), it makes a new one from the backup.
    await expect(runRestore(deps(), 'up', { ...where, snapshot: backup.snapshotId, yes: true })).rejects.toMatchObject({ code: 'deployment-running', exitCode: ExitCode.badInput });
    const deallocating = await client.call('POST', `${first}/deallocate`);
    if (deallocating.status === 202) await client.wait(deallocating);
    // A deployment launched from plain Ubuntu has no image of its version to restore onto: the user names one (e.g. built by build-image).
    await expect(runRestore(deps(), 'up', { ...where, snapshot: backup.snapshotId, yes: true })).rejects.toMatchObject({ code: 'missing-images' });
    const oldImage = await galleryImageFor(client, OLD);
    const restored = (await runRestore(deps(), 'up', { ...where, snapshot: backup.snapshotId, image: oldImage, yes: true })) as { instanceId: string; dataVolumeId: string; version: string; publicIp?: string };
    expect(restored).toMatchObject({ version: OLD, snapshotId: backup.snapshotId, role: 'instance', publicIp: launched.publicIp });
    const third = restored.instanceId;
    expect(await powerOf(third)).toBe('running');
    expect((await get(restored.dataVolumeId)).properties.creationData).toMatchObject({ createOption: 'Copy', sourceResourceId: backup.snapshotId });
    expect((await runStatus(deps(), 'up', where)).instanceId).toBe(third);

    // Prune: the stopped VMs and the upgrade's snapshots go; no data disk, no backup, no address.
    const pruned = await runPrune(deps(), 'up', { ...where, yes: true });
    expect([...pruned.removed!].sort()).toEqual([first, second, ...upgradeSnapshots.map((r) => r.id)].sort());
    const left = arm.control.state().resources;
    for (const id of [first, second, ...upgradeSnapshots.map((r) => r.id)]) expect(left.some((r) => r.id === id)).toBe(false);
    for (const id of [dataId, upgradedData, restored.dataVolumeId, backup.snapshotId, addressId, third]) expect(left.some((r) => r.id.toLowerCase() === id.toLowerCase()), id).toBe(true);

    await runDestroy(deps(), 'up', { ...where, yes: true });
    const kept = arm.control.state().resources.filter((r) => r.resourceGroup.toLowerCase() === 'sl-up').map((r) => r.id.toLowerCase()).sort();
    expect(kept).toEqual(expect.arrayContaining([dataId, upgradedData, restored.dataVolumeId, backup.snapshotId].map((x) => x.toLowerCase())));
    expect(arm.control.state().resources.filter((r) => r.resourceGroup.toLowerCase() === 'sl-up' && !/\/(disks|snapshots|virtualNetworks)\//i.test(r.id))).toEqual([]);
  });

  it('launch --schedule is refused before anything is created (Azure offers no snapshot schedule)', async () => {
    await arm.reset();
    const providerFlags = { subscription: arm.subscriptionId, resourceGroup: 'sl-sched' };
    const flags = { cloud: 'azure', region: 'eastus', size: 'XS', version: '6.12.5040', imageSource: 'base', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'sched', schedule: 'daily', retain: '7', providerFlags };
    await expect(runLaunch(azureDeps(new ScriptedIo([], false), tempHome()), flags)).rejects.toMatchObject({ code: 'schedule-not-offered', exitCode: ExitCode.badInput, message: expect.stringContaining('not offered on Azure') });
    expect(arm.control.state().resources).toEqual([]);
    expect(arm.control.state().resourceGroups).toEqual([]);
  });
});
