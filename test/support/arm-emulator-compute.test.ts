// The ARM emulator's Microsoft.Compute model over real HTTP: a whole VM deployment, power states,
// disk zone and attachment rules, deleteOption, attachDetachDataDisks, boot diagnostics, disks and
// snapshots, galleries (a version from snapshots or from a VM, and a VM from it) and the
// marketplace image lookup.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmClient } from './arm-emulator/client.js';
import { bodies, createNetwork, providers, sshRsaPublicKey, tagsFor } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let p: ReturnType<typeof providers>;
const sshKey = sshRsaPublicKey();

beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
  p = providers(client, 'dep');
});
afterAll(async () => {
  await arm.stop();
});
beforeEach(async () => {
  await arm.reset();
  await client.call('PUT', client.path('dep'), bodies.group());
});

const statuses = (view: { statuses: { code: string }[] }) => view.statuses.map((s) => s.code);

/** Network, a zone-1 Premium data disk and the VM on it, all tagged; returns ids. */
async function deploy(name = 'sg', zone = '1') {
  const tags = tagsFor(name, 'instance');
  const net = await createNetwork(client, 'dep', name, tags);
  const disk = (await client.put(p.disk(`${name}-data`), bodies.dataDisk(zone, 500, tagsFor(name, 'data')))).body;
  const vm = (await client.put(p.vm(name), bodies.vm({ nicId: net.nicId, dataDiskId: disk.id, zone, sshKey, tags }))).body;
  return { ...net, diskId: disk.id as string, vm };
}

describe('a VM deployment', () => {
  it('creates the VM from Ubuntu 24.04 with its data disk at LUN 0 and reports it running', async () => {
    arm.control.nextPublicIps('10.200.77.2');
    const { vm, diskId, nicId, pipId } = await deploy();
    expect(vm.properties.provisioningState).toBe('Succeeded');
    expect(vm.zones).toEqual(['1']);
    expect(vm.properties.storageProfile.imageReference).toMatchObject({ publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest', exactVersion: '24.04.202411030' });
    expect(vm.properties.storageProfile.osDisk).toMatchObject({ osType: 'Linux', createOption: 'FromImage', deleteOption: 'Delete', diskSizeGB: 50 });
    expect(vm.properties.storageProfile.dataDisks).toEqual([expect.objectContaining({ lun: 0, createOption: 'Attach', deleteOption: 'Detach', diskSizeGB: 500, managedDisk: { id: diskId, storageAccountType: 'Premium_LRS' } })]);
    expect(vm.properties.osProfile).toMatchObject({ adminUsername: 'sourcegraph', linuxConfiguration: { disablePasswordAuthentication: true } });
    expect(vm.properties.storageProfile.diskControllerType).toBe('SCSI');
    const expanded = (await client.call('GET', p.vm('sg'), undefined, { query: { $expand: 'instanceView' } })).body;
    expect(statuses(expanded.properties.instanceView)).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
    const disk = (await client.call('GET', diskId)).body;
    expect(disk).toMatchObject({ managedBy: vm.id, properties: { diskState: 'Attached' } });
    expect((await client.call('GET', nicId)).body.properties.virtualMachine).toEqual({ id: vm.id });
    expect((await client.call('GET', pipId)).body.properties.ipAddress).toBe('10.200.77.2');
    const found = await client.call('GET', `/subscriptions/${arm.subscriptionId}/resources`, undefined, { query: { $filter: "tagName eq 'sourcegraph-launch:deployment' and tagValue eq 'sg'" } });
    expect(found.body.value.map((r: { type: string }) => r.type).sort()).toEqual([
      'Microsoft.Compute/disks',
      'Microsoft.Compute/virtualMachines',
      'Microsoft.Network/networkInterfaces',
      'Microsoft.Network/networkSecurityGroups',
      'Microsoft.Network/publicIPAddresses',
      'Microsoft.Network/virtualNetworks',
    ]);
  });

  it('VM PUT: 201 + Azure-AsyncOperation in Compute shape; Creating → Succeeded, PowerState starting → running', async () => {
    const net = await createNetwork(client, 'dep', 'sg');
    arm.control.configure({ lroPolls: 2, advanceOnResourceGet: false });
    const started = await client.call('PUT', p.vm('sg'), bodies.vm({ nicId: net.nicId, sshKey }));
    expect(started.status).toBe(201);
    const statusUrl = started.headers.get('azure-asyncoperation')!;
    expect(statusUrl).toMatch(new RegExp(`/subscriptions/${arm.subscriptionId}/providers/Microsoft.Compute/locations/eastus/operations/[0-9a-f-]+\\?p=[0-9a-f-]+&api-version=2024-07-01$`));
    expect(started.body.properties.provisioningState).toBe('Creating');
    expect(statuses((await client.call('GET', `${p.vm('sg')}/instanceView`)).body)).toEqual(['ProvisioningState/creating', 'PowerState/starting']);
    expect((await client.wait(started)).polls).toBe(3);
    expect(statuses((await client.call('GET', `${p.vm('sg')}/instanceView`)).body)).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
  });

  it('the same VM PUT again is 200 and changes nothing; create-only properties answer PropertyChangeNotAllowed', async () => {
    const { nicId, diskId } = await deploy();
    const body = bodies.vm({ nicId, dataDiskId: diskId, zone: '1', sshKey, tags: tagsFor('sg', 'instance') });
    const again = await client.call('PUT', p.vm('sg'), body);
    expect(again.status).toBe(200);
    await client.wait(again);
    expect(arm.control.state().resources.filter((r) => r.type === 'Microsoft.Compute/disks')).toHaveLength(2);
    const renamed = await client.call('PUT', p.vm('sg'), { ...body, properties: { ...body.properties, osProfile: { ...body.properties.osProfile, adminUsername: 'other' } } });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error).toMatchObject({ code: 'PropertyChangeNotAllowed', target: 'osProfile.adminUsername' });
    const moved = await client.call('PUT', p.vm('sg'), { ...body, zones: ['2'] });
    expect(moved.body.error.code).toBe('PropertyChangeNotAllowed');
  });

  it('checks the VM request: size, admin user, SSH key, references', async () => {
    const net = await createNetwork(client, 'dep', 'sg');
    const base = bodies.vm({ nicId: net.nicId, sshKey });
    const withProps = (over: Record<string, unknown>) => ({ ...base, properties: { ...base.properties, ...over } });
    const size = await client.call('PUT', p.vm('x'), withProps({ hardwareProfile: { vmSize: 'Standard_Imaginary' } }));
    expect(size.body.error).toMatchObject({ code: 'InvalidParameter', target: 'vmSize' });
    const root = await client.call('PUT', p.vm('x'), withProps({ osProfile: { ...base.properties.osProfile, adminUsername: 'root' } }));
    expect(root.body.error.target).toBe('adminUsername');
    const shortKey = sshRsaPublicKey(1024);
    const weak = await client.call('PUT', p.vm('x'), withProps({ osProfile: { ...base.properties.osProfile, linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/sourcegraph/.ssh/authorized_keys', keyData: shortKey }] } } } }));
    expect(weak.body.error.target).toBe('linuxConfiguration.ssh.publicKeys.keyData');
    const noNic = await client.call('PUT', p.vm('x'), withProps({ networkProfile: { networkInterfaces: [{ id: `${net.nicId}-ghost` }] } }));
    expect(noNic.body.error.code).toBe('InvalidResourceReference');
    const noImage = await client.call('PUT', p.vm('x'), withProps({ storageProfile: { ...base.properties.storageProfile, imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: '1.2.3' } } }));
    expect(noImage.status).toBe(404);
    expect(noImage.body.error.code).toBe('PlatformImageNotFound');
    const v6Scsi = await client.call('PUT', p.vm('x'), { ...withProps({ hardwareProfile: { vmSize: 'Standard_D8as_v6' } }), properties: { ...withProps({}).properties, hardwareProfile: { vmSize: 'Standard_D8as_v6' }, storageProfile: { ...base.properties.storageProfile, diskControllerType: 'SCSI' } } });
    expect(v6Scsi.body.error.target).toBe('properties.storageProfile.diskControllerType');
    const nvme = (await client.put(p.vm('nvme'), { ...base, properties: { ...base.properties, hardwareProfile: { vmSize: 'Standard_D8as_v6' } } })).body;
    expect(nvme.properties.storageProfile.diskControllerType).toBe('NVMe');
  });

  it('fails the create operation with an injected AllocationFailed; SkuNotAvailable and quota refuse the PUT', async () => {
    const net = await createNetwork(client, 'dep', 'sg');
    arm.control.injectFault({ operationId: 'VirtualMachines_CreateOrUpdate', mode: 'lro', code: 'AllocationFailed', status: 500, message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.' });
    const started = await client.call('PUT', p.vm('sg'), bodies.vm({ nicId: net.nicId, sshKey, zone: '1' }));
    const done = await client.wait(started);
    expect(done.status).toBe('Failed');
    expect(done.last.body.error.code).toBe('AllocationFailed');
    const view = (await client.call('GET', `${p.vm('sg')}/instanceView`)).body;
    expect(statuses(view)).toEqual(['ProvisioningState/failed/AllocationFailed', 'PowerState/deallocated']);
    expect(view.statuses[0]).toMatchObject({ level: 'Error', displayStatus: 'Provisioning failed' });
    arm.control.injectFault({ operationId: 'VirtualMachines_CreateOrUpdate', code: 'SkuNotAvailable', status: 409, message: "The requested VM size 'Standard_D8as_v5' is currently not available in location 'eastus' zones '1'." });
    const sku = await client.call('PUT', p.vm('sg'), bodies.vm({ nicId: net.nicId, sshKey, zone: '1' }));
    expect([sku.status, sku.body.error.code]).toEqual([409, 'SkuNotAvailable']);
    arm.control.injectFault({ operationId: 'VirtualMachines_CreateOrUpdate', code: 'OperationNotAllowed', message: 'Operation could not be completed as it results in exceeding approved standardDASv5Family Cores quota.' });
    expect((await client.call('PUT', p.vm('sg'), bodies.vm({ nicId: net.nicId, sshKey, zone: '1' }))).body.error.code).toBe('OperationNotAllowed');
    // The failed VM converges with the same PUT once capacity is back.
    expect((await client.put(p.vm('sg'), bodies.vm({ nicId: net.nicId, sshKey, zone: '1' }))).body.properties.provisioningState).toBe('Succeeded');
  });
});

describe('power states', () => {
  it('powerOff → stopped (still allocated), deallocate → deallocated, start from either → running', async () => {
    const { vm, diskId } = await deploy();
    const view = async () => statuses((await client.call('GET', `${p.vm('sg')}/instanceView`)).body)[1];
    const off = await client.call('POST', `${p.vm('sg')}/powerOff`);
    expect(off.status).toBe(202);
    expect(off.headers.get('location')).toContain('monitor=true');
    expect(off.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Compute/locations/eastus/operations/');
    expect(await view()).toBe('PowerState/stopping');
    await client.wait(off);
    expect(await view()).toBe('PowerState/stopped');
    expect((await client.call('GET', diskId)).body.properties.diskState).toBe('Attached');
    await client.act('POST', `${p.vm('sg')}/start`);
    expect(await view()).toBe('PowerState/running');
    await client.act('POST', `${p.vm('sg')}/deallocate`);
    expect(await view()).toBe('PowerState/deallocated');
    expect((await client.call('GET', diskId)).body.properties.diskState).toBe('Reserved');
    const refused = await client.call('POST', `${p.vm('sg')}/powerOff`);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'OperationNotAllowed']);
    expect((await client.call('POST', `${p.vm('sg')}/restart`)).body.error.code).toBe('OperationNotAllowed');
    await client.act('POST', `${p.vm('sg')}/start`);
    expect(await view()).toBe('PowerState/running');
    await client.act('POST', `${p.vm('sg')}/restart`);
    expect(await view()).toBe('PowerState/running');
    expect(vm.properties.vmId).toBe((await client.call('GET', p.vm('sg'))).body.properties.vmId);
  });

  it('a start that fails for capacity leaves the VM deallocated with the error in its instance view', async () => {
    await deploy();
    await client.act('POST', `${p.vm('sg')}/deallocate`);
    arm.control.injectFault({ operationId: 'VirtualMachines_Start', mode: 'lro', code: 'ZonalAllocationFailed', status: 409 });
    const done = await client.wait(await client.call('POST', `${p.vm('sg')}/start`));
    expect(done.status).toBe('Failed');
    const location = await client.call('GET', done.last.body.id ? `${arm.endpoint}${done.last.body.id}?monitor=true&api-version=2024-07-01` : '');
    expect(location.status).toBe(409);
    expect(statuses((await client.call('GET', `${p.vm('sg')}/instanceView`)).body)).toEqual(['ProvisioningState/failed/ZonalAllocationFailed', 'PowerState/deallocated']);
  });
});

describe('disks on VMs', () => {
  it('zone rules: a zone-1 disk attaches only to a zone-1 VM; a disk attaches to at most one VM', async () => {
    const { diskId } = await deploy('sg', '1');
    const net2 = await createNetwork(client, 'dep', 'two');
    const otherZone = await client.call('PUT', p.vm('two'), bodies.vm({ nicId: net2.nicId, dataDiskId: (await client.put(p.disk('z1'), bodies.dataDisk('1'))).body.id, zone: '2', sshKey }));
    expect(otherZone.status).toBe(400);
    expect(otherZone.body.error.message).toContain('zone 1');
    const regional = await client.call('PUT', p.vm('two'), bodies.vm({ nicId: net2.nicId, dataDiskId: (await client.put(p.disk('regional'), bodies.dataDisk(undefined))).body.id, zone: '1', sshKey }));
    expect(regional.status).toBe(400);
    const zrs = (await client.put(p.disk('zrs'), bodies.dataDisk(undefined, 100, {}, 'Premium_ZRS'))).body;
    expect((await client.put(p.vm('two'), bodies.vm({ nicId: net2.nicId, dataDiskId: zrs.id, zone: '2', sshKey }))).body.properties.provisioningState).toBe('Succeeded');
    const shared = await client.call('POST', `${p.vm('two')}/attachDetachDataDisks`, { dataDisksToAttach: [{ diskId }] });
    expect(shared.status).toBe(409);
    expect(shared.body.error.code).toBe('OperationNotAllowed');
  });

  it('an attached disk cannot be deleted; deleting the VM keeps Detach disks and NICs and removes Delete ones', async () => {
    const { diskId, nicId, vm } = await deploy();
    const refused = await client.call('DELETE', diskId);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'OperationNotAllowed']);
    const osDiskId = vm.properties.storageProfile.osDisk.managedDisk.id as string;
    expect((await client.call('GET', osDiskId)).status).toBe(200);
    const deleted = await client.call('DELETE', p.vm('sg'));
    expect(deleted.status).toBe(202);
    expect(deleted.headers.get('location')).toContain('monitor=true');
    await client.wait(deleted);
    expect((await client.call('GET', p.vm('sg'))).status).toBe(404);
    expect((await client.call('GET', osDiskId)).status).toBe(404);
    const kept = (await client.call('GET', diskId)).body;
    expect(kept.properties.diskState).toBe('Unattached');
    expect(kept.managedBy).toBeUndefined();
    expect((await client.call('GET', nicId)).body.properties.virtualMachine).toBeUndefined();
    await client.act('DELETE', diskId);
  });

  it('a VM PUT without a data disk detaches it; NICs change only while deallocated; If-None-Match: * only creates', async () => {
    const { nicId, diskId, subnetId, nsgId } = await deploy();
    const body = bodies.vm({ nicId, zone: '1', sshKey, tags: tagsFor('sg', 'instance') });
    const detached = (await client.put(p.vm('sg'), body)).body;
    expect(detached.properties.storageProfile.dataDisks).toEqual([]);
    expect((await client.call('GET', diskId)).body.properties.diskState).toBe('Unattached');
    const nic2 = (await client.put(p.nic('second'), bodies.nic(subnetId, undefined, nsgId))).body;
    const swap = { ...body, properties: { ...body.properties, networkProfile: { networkInterfaces: [{ id: nic2.id, properties: { primary: true } }] } } };
    expect((await client.call('PUT', p.vm('sg'), swap)).body.error.code).toBe('OperationNotAllowed');
    await client.act('POST', `${p.vm('sg')}/deallocate`);
    expect((await client.put(p.vm('sg'), swap)).body.properties.networkProfile.networkInterfaces[0].id).toBe(nic2.id);
    const createOnly = await client.call('PUT', p.vm('sg'), swap, { headers: { 'If-None-Match': '*' } });
    expect(createOnly.status).toBe(412);
  });

  it('deleting the resource group deletes the VM and its disks, but a data disk in another group survives, detached', async () => {
    await client.call('PUT', client.path('data'), bodies.group());
    const net = await createNetwork(client, 'dep', 'sg');
    const disk = (await client.put(providers(client, 'data').disk('sg-data'), bodies.dataDisk('1'))).body;
    const vm = (await client.put(p.vm('sg'), bodies.vm({ nicId: net.nicId, dataDiskId: disk.id, zone: '1', sshKey }))).body;
    await client.act('DELETE', client.path('dep'));
    const left = arm.control.state().resources;
    expect(left.map((r) => r.id)).toEqual([disk.id]);
    expect(left[0]!.internal.attachedTo).toBeUndefined();
    expect((await client.call('GET', vm.id)).body.error.code).toBe('ResourceGroupNotFound');
  });

  it('data disks and NICs with deleteOption Delete go with the VM, an OS disk with Detach stays; Empty disks are made in the VM zone', async () => {
    const net = await createNetwork(client, 'dep', 'sg');
    const body = bodies.vm({ nicId: net.nicId, sshKey, zone: '3' });
    body.properties.storageProfile.osDisk.deleteOption = 'Detach';
    body.properties.storageProfile.dataDisks = [{ lun: 0, createOption: 'Empty', diskSizeGB: 64, deleteOption: 'Delete', managedDisk: { storageAccountType: 'StandardSSD_LRS' } } as never];
    body.properties.networkProfile.networkInterfaces[0]!.properties.deleteOption = 'Delete';
    const vm = (await client.put(p.vm('sg'), body)).body;
    const dataDiskId = vm.properties.storageProfile.dataDisks[0].managedDisk.id;
    expect((await client.call('GET', dataDiskId)).body).toMatchObject({ zones: ['3'], sku: { name: 'StandardSSD_LRS' }, properties: { diskSizeGB: 64 } });
    await client.act('DELETE', p.vm('sg'));
    expect((await client.call('GET', dataDiskId)).status).toBe(404);
    expect((await client.call('GET', net.nicId)).status).toBe(404);
    const osDisk = (await client.call('GET', vm.properties.storageProfile.osDisk.managedDisk.id)).body;
    expect(osDisk.properties).toMatchObject({ diskState: 'Unattached', osType: 'Linux', diskSizeGB: 50 });
  });

  it('attachDetachDataDisks: LUN assigned when omitted; the Location URL answers the new storage profile', async () => {
    const { diskId } = await deploy();
    const extra = (await client.put(p.disk('extra'), bodies.dataDisk('1', 32))).body;
    const started = await client.call('POST', `${p.vm('sg')}/attachDetachDataDisks`, { dataDisksToAttach: [{ diskId: extra.id }], dataDisksToDetach: [{ diskId }] });
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    let result = await client.call('GET', location);
    while (result.status === 202) result = await client.call('GET', location);
    expect(result.status).toBe(200);
    expect(result.body.dataDisks).toEqual([expect.objectContaining({ lun: 0, managedDisk: { id: extra.id, storageAccountType: 'Premium_LRS' } })]);
    expect((await client.call('GET', diskId)).body.properties.diskState).toBe('Unattached');
    const dup = await client.call('POST', `${p.vm('sg')}/attachDetachDataDisks`, { dataDisksToAttach: [{ diskId, lun: 0 }] });
    expect(dup.body.error.target).toBe('dataDisksToAttach[0].lun');
  });
});

describe('boot diagnostics', () => {
  it('answers SAS-style links that serve the serial log the test set', async () => {
    arm.control.setSerialLog('dep', 'sg', 'ec2: ssh-ed25519 AAAAC3Nz… root@sourcegraph\n');
    await deploy();
    arm.control.appendSerialLog('dep', 'sg', 'Cloud-init finished\n');
    const links = await client.call('POST', `${p.vm('sg')}/retrieveBootDiagnosticsData`, undefined, { query: { sasUriExpirationTimeInMinutes: '30' } });
    expect(links.status).toBe(200);
    const serial = links.body.serialConsoleLogBlobUri as string;
    expect(serial.startsWith(`${arm.endpoint}/blobs/`)).toBe(true);
    expect(new URL(serial).searchParams.get('sig')).toBeTruthy();
    const log = await fetch(serial);
    expect(log.status).toBe(200);
    expect(await log.text()).toBe('ec2: ssh-ed25519 AAAAC3Nz… root@sourcegraph\nCloud-init finished\n');
    expect((await fetch(links.body.consoleScreenshotBlobUri)).headers.get('content-type')).toBe('image/bmp');
    const tampered = serial.replace(/sig=[^&]+/, 'sig=forged');
    expect((await fetch(tampered)).status).toBe(403);
  });

  it('refuses when boot diagnostics are off', async () => {
    const net = await createNetwork(client, 'dep', 'sg');
    const body = bodies.vm({ nicId: net.nicId, sshKey });
    body.properties.diagnosticsProfile.bootDiagnostics.enabled = false;
    await client.put(p.vm('sg'), body);
    expect((await client.call('POST', `${p.vm('sg')}/retrieveBootDiagnosticsData`)).body.error.code).toBe('OperationNotAllowed');
  });
});

describe('managed disks and snapshots', () => {
  it('disk PUT answers 202 (DiskRP) with both status headers; PATCH grows it; shrinking and changing its source are refused', async () => {
    const started = await client.call('PUT', p.disk('d'), bodies.dataDisk('1', 100));
    expect(started.status).toBe(202);
    expect(started.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Compute/locations/eastus/DiskOperations/');
    expect(started.headers.get('location')).toContain('monitor=true');
    await client.wait(started);
    const patched = await client.call('PATCH', p.disk('d'), { properties: { diskSizeGB: 200 } });
    expect(patched.status).toBe(202);
    await client.wait(patched);
    expect((await client.call('GET', p.disk('d'))).body.properties).toMatchObject({ diskSizeGB: 200, diskSizeBytes: 200 * 1024 ** 3, diskState: 'Unattached' });
    expect((await client.call('PATCH', p.disk('d'), { properties: { diskSizeGB: 50 } })).status).toBe(400);
    const source = await client.call('PUT', p.disk('d'), { ...bodies.dataDisk('1', 200), properties: { creationData: { createOption: 'Copy', sourceResourceId: p.disk('other') }, diskSizeGB: 200 } });
    expect(source.body.error.code).toBe('PropertyChangeNotAllowed');
    expect((await client.call('PUT', p.disk('v2'), bodies.dataDisk(undefined, 100, {}, 'PremiumV2_LRS'))).body.error.target).toBe('zones');
    const v2 = (await client.put(p.disk('v2'), bodies.dataDisk('2', 100, {}, 'PremiumV2_LRS'))).body;
    expect(v2.properties).toMatchObject({ diskIOPSReadWrite: 3000, diskMBpsReadWrite: 125 });
  });

  it('an attached Premium SSD grows online to 4095 GB; beyond it only once its VM is deallocated (409 OperationNotAllowed before)', async () => {
    const { diskId } = await deploy('grow');
    await client.wait(await client.call('PATCH', diskId, { properties: { diskSizeGB: 4000 } }));
    const refused = await client.call('PATCH', diskId, { properties: { diskSizeGB: 5000 } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'OperationNotAllowed', target: 'properties.diskSizeGB' });
    expect((await client.call('GET', diskId)).body.properties.diskSizeGB).toBe(4000);
    await client.act('POST', `${p.vm('grow')}/deallocate`);
    await client.wait(await client.call('PATCH', diskId, { properties: { diskSizeGB: 5000 } }));
    expect((await client.call('GET', diskId)).body.properties.diskSizeGB).toBe(5000);
  });

  it('a PATCH of tags on the OS disk a VM made (zonal, untagged) tags it and changes nothing else', async () => {
    const { vm } = await deploy('tagged', '2');
    const osDiskId = vm.properties.storageProfile.osDisk.managedDisk.id as string;
    expect((await client.call('GET', osDiskId)).body.tags ?? {}).toEqual({});
    const patched = await client.call('PATCH', osDiskId, { tags: { 'sourcegraph-launch:role': 'root-volume' } });
    expect(patched.status).toBe(202);
    await client.wait(patched);
    const disk = (await client.call('GET', osDiskId)).body;
    expect(disk).toMatchObject({ zones: ['2'], tags: { 'sourcegraph-launch:role': 'root-volume' }, managedBy: vm.id, properties: { diskSizeGB: 50, osType: 'Linux' } });
  });

  it('incremental snapshot of a data disk, then a new disk from it in the same zone (the upgrade path)', async () => {
    const { diskId } = await deploy();
    const snapshot = (await client.put(p.snapshot('snap1'), { location: 'eastus', tags: tagsFor('sg', 'backup'), properties: { creationData: { createOption: 'Copy', sourceResourceId: diskId }, incremental: true } })).body;
    const source = (await client.call('GET', diskId)).body;
    expect(snapshot.properties).toMatchObject({ incremental: true, diskSizeGB: 500, incrementalSnapshotFamilyId: source.properties.uniqueId, creationData: { sourceUniqueId: source.properties.uniqueId } });
    const second = (await client.put(p.snapshot('snap2'), { location: 'eastus', properties: { creationData: { createOption: 'Copy', sourceResourceId: diskId }, incremental: true } })).body;
    expect(second.properties.incrementalSnapshotFamilyId).toBe(snapshot.properties.incrementalSnapshotFamilyId);
    const restored = (await client.put(p.disk('restored'), { location: 'eastus', zones: ['1'], sku: { name: 'Premium_LRS' }, properties: { creationData: { createOption: 'Copy', sourceResourceId: snapshot.id } } })).body;
    expect(restored.properties).toMatchObject({ diskSizeGB: 500, creationData: { createOption: 'Copy', sourceResourceId: snapshot.id } });
    expect(arm.control.state().resources.find((r) => r.name === 'restored')!.internal.origin).toBe(`copy:${snapshot.id}`);
    const fromSnapshot = await client.call('PUT', p.snapshot('bad'), { location: 'eastus', properties: { creationData: { createOption: 'Copy', sourceResourceId: snapshot.id }, incremental: true } });
    expect(fromSnapshot.status).toBe(400);
    await client.act('DELETE', p.snapshot('snap1'));
    expect((await client.call('GET', p.disk('restored'))).status).toBe(200);
  });

  it('a disk FromImage gets the image OS disk size and OS type', async () => {
    const imageId = `/Subscriptions/${arm.subscriptionId}/Providers/Microsoft.Compute/Locations/eastus/Publishers/Canonical/ArtifactTypes/VMImage/Offers/ubuntu-24_04-lts/Skus/server/Versions/24.04.202411030`;
    const disk = (await client.put(p.disk('os'), { location: 'eastus', properties: { creationData: { createOption: 'FromImage', imageReference: { id: imageId } } } })).body;
    expect(disk.properties).toMatchObject({ diskSizeGB: 30, osType: 'Linux', hyperVGeneration: 'V2' });
  });
});

describe('galleries', () => {
  async function imageDefinition(generation = 'V2') {
    await client.put(p.gallery('gal'), { location: 'eastus', properties: { description: 'images' } });
    return client.call('PUT', p.gallery('gal', 'sourcegraph'), {
      location: 'eastus',
      properties: {
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: generation,
        identifier: { publisher: 'sourcegraph-launch', offer: 'sourcegraph', sku: `s-${generation}` },
        features: [{ name: 'SecurityType', value: 'TrustedLaunchSupported' }, { name: 'DiskControllerTypes', value: 'SCSI, NVMe' }],
      },
    });
  }

  it('makes a version from an OS disk snapshot and a data disk snapshot; a VM from it gets both disks', async () => {
    const { vm, diskId } = await deploy('build');
    await client.act('POST', `${p.vm('build')}/deallocate`);
    const osSnap = (await client.put(p.snapshot('os'), { location: 'eastus', properties: { creationData: { createOption: 'Copy', sourceResourceId: vm.properties.storageProfile.osDisk.managedDisk.id } } })).body;
    const dataSnap = (await client.put(p.snapshot('data'), { location: 'eastus', properties: { creationData: { createOption: 'Copy', sourceResourceId: diskId } } })).body;
    const created = await imageDefinition();
    expect(created.status).toBe(201);
    expect(created.headers.get('azure-asyncoperation')).toContain('/capsOperations/');
    await client.wait(created);
    const version = (await client.put(p.gallery('gal', 'sourcegraph', '6.0.0'), {
      location: 'eastus',
      tags: tagsFor('build', 'image'),
      properties: {
        publishingProfile: { targetRegions: [{ name: 'East US', regionalReplicaCount: 1 }] },
        storageProfile: { osDiskImage: { source: { id: osSnap.id }, hostCaching: 'ReadWrite' }, dataDiskImages: [{ lun: 0, source: { id: dataSnap.id }, hostCaching: 'None' }] },
      },
    })).body;
    expect(version.properties.storageProfile).toMatchObject({ osDiskImage: { sizeInGB: 50 }, dataDiskImages: [{ lun: 0, sizeInGB: 500 }] });
    expect(version.properties.publishingProfile.targetRegions[0].name).toBe('eastus');

    const net = await createNetwork(client, 'dep', 'sg');
    const body = bodies.vm({ nicId: net.nicId, sshKey, zone: '2', imageReference: { id: version.id } });
    body.properties.storageProfile.dataDisks = [{ lun: 0, createOption: 'FromImage', deleteOption: 'Detach', managedDisk: { storageAccountType: 'Premium_LRS' } } as never];
    const fromImage = (await client.put(p.vm('sg'), body)).body;
    expect(fromImage.properties.storageProfile.osDisk.diskSizeGB).toBe(50);
    const data = fromImage.properties.storageProfile.dataDisks[0];
    expect(data).toMatchObject({ lun: 0, createOption: 'FromImage', diskSizeGB: 500 });
    expect((await client.call('GET', data.managedDisk.id)).body.zones).toEqual(['2']);
    // The definition id means its latest version.
    const latest = bodies.vm({ nicId: (await client.put(p.nic('n2'), bodies.nic(net.subnetId, undefined, net.nsgId))).body.id, sshKey, imageReference: { id: p.gallery('gal', 'sourcegraph') } });
    expect((await client.put(p.vm('latest'), latest)).body.properties.storageProfile.dataDisks).toHaveLength(1);
  });

  it('makes a version from a VM; refuses a source of another generation, and deleting a gallery that has images', async () => {
    await deploy('build');
    await client.wait(await imageDefinition('V1'));
    const mismatch = await client.call('PUT', p.gallery('gal', 'sourcegraph', '1.0.0'), { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: p.vm('build') } } } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.message).toContain('V2');
    await client.put(p.gallery('gal', 'gen2'), { location: 'eastus', properties: { osType: 'Linux', osState: 'Specialized', hyperVGeneration: 'V2', identifier: { publisher: 'p', offer: 'o', sku: 'g2' } } });
    const fromVm = (await client.put(p.gallery('gal', 'gen2', '1.0.0'), { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: p.vm('build') } } } })).body;
    expect(fromVm.properties.storageProfile).toMatchObject({ source: { virtualMachineId: expect.stringContaining('/virtualMachines/build') }, osDiskImage: { sizeInGB: 50 }, dataDiskImages: [{ lun: 0, sizeInGB: 500 }] });
    const badName = await client.call('PUT', p.gallery('gal', 'gen2', 'latest'), { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: p.vm('build') } } } });
    expect(badName.status).toBe(400);
    expect((await client.call('DELETE', p.gallery('gal'))).status).toBe(409);
    expect((await client.call('DELETE', p.gallery('gal', 'gen2'))).status).toBe(409);
    await client.act('DELETE', p.gallery('gal', 'gen2', '1.0.0'));
    await client.act('DELETE', p.gallery('gal', 'gen2'));
  });
});

describe('marketplace images', () => {
  const base = () => `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/offers`;

  it('lists and gets Canonical ubuntu-24_04-lts server versions', async () => {
    const skus = await client.call('GET', `${base()}/ubuntu-24_04-lts/skus`);
    expect(skus.body.map((s: { name: string }) => s.name)).toContain('server');
    const versions = await client.call('GET', `${base()}/ubuntu-24_04-lts/skus/server/versions`, undefined, { query: { $orderby: 'name desc', $top: '1' } });
    expect(versions.status).toBe(200);
    expect(versions.body).toEqual([expect.objectContaining({ name: '24.04.202411030', location: 'eastus' })]);
    const image = await client.call('GET', `${base()}/ubuntu-24_04-lts/skus/server/versions/24.04.202411030`);
    expect(image.body.properties).toMatchObject({ osDiskImage: { operatingSystem: 'Linux' }, hyperVGeneration: 'V2', architecture: 'x64' });
    expect((await client.call('GET', `${base()}/ubuntu-24_04-lts/skus/server/versions/9.9.9`)).status).toBe(404);
    expect((await client.call('GET', `${base()}/no-such-offer/skus`)).status).toBe(404);
  });
});
