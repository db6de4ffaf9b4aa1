// What --dry-run --json prints on Azure: the ARM requests in order, each body valid against the
// published swagger (the emulator's copy and validator), and the shape the issue asks for: NSG with
// only the governed ports, Standard static IP, VM with the key, no password, OS disk deleted with it,
// the data disk at LUN 0 kept (Detach), boot diagnostics and trusted launch.
import { describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { fromTags, IDEMPOTENCY_TAG, rulesOf, safeName, vmState } from '../../../src/cloud/azure/mappers.js';
import { nsgBody, type Where } from '../../../src/cloud/azure/request-builders.js';
import type { AccessPolicySpec, CloudRequest, InstanceSpec } from '../../../src/cloud/port.js';
import { specSet } from '../../support/arm-emulator/swagger.js';
import { Validator } from '../../support/arm-emulator/validator.js';

const SUB = '00000000-0000-4000-8000-0000000000aa';
const w: Where = { subscriptionId: SUB, resourceGroup: 'sourcegraph-launch', location: 'eastus' };
const specs = specSet();
const validator = new Validator(specs);

// Offline: the credential is never asked (request builders send nothing).
const cloud = new AzureAdapter({ provider: 'azure', region: 'eastus', params: { subscription: SUB, resourceGroup: 'sourcegraph-launch' } }, {
  credential: { getToken: () => Promise.reject(new Error('a dry run must not ask for a token')) },
});

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEsBQ0o5Kq+j0r1ZlE0t3y1oSxkXGzG7nqPfd0Dk3y0H me@host';
const access: AccessPolicySpec = {
  deployment: 'prod',
  labels: { deployment: 'prod', role: 'access-policy', managed: 'true' },
  name: 'sourcegraph-launch-prod',
  placement: { zone: '1' },
  rules: [
    { port: 443, cidr: '203.0.113.0/24' },
    { port: 80, cidr: '203.0.113.0/24' },
    { port: 22, cidr: '198.51.100.7/32' },
    { port: 443, cidr: '198.51.100.0/24' },
  ],
};
const instance: InstanceSpec = {
  deployment: 'prod',
  role: 'instance',
  version: '6.12.5040',
  size: 'XS',
  imageId: `/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/galleries/g/images/i/versions/6.12.5040`,
  dataTemplateId: `/subscriptions/${SUB}/resourceGroups/img/providers/Microsoft.Compute/snapshots/template`,
  machineType: 'Standard_D8as_v5',
  placement: { zone: '2' },
  accessPolicyIds: ['<access policy>'],
  sshKey: { mode: 'import', name: 'sourcegraph-launch-prod', publicKey: KEY },
  loginUser: 'sourcegraph',
  rootDisk: { sizeGiB: 50, type: 'Premium_LRS' },
  dataDisk: { mode: 'new', disk: { sizeGiB: 500, type: 'Premium_LRS' } },
  keepDataDisk: true,
  labels: { deployment: 'prod', role: 'instance', version: '6.12.5040', size: 'XS', managed: 'true' },
  idempotencyKey: 'sgl-prod-instance-j1',
};

const OPERATION_IDS: Record<string, string> = {
  'resourceGroups.createOrUpdate': 'ResourceGroups_CreateOrUpdate',
  'virtualNetworks.createOrUpdate': 'VirtualNetworks_CreateOrUpdate',
  'networkSecurityGroups.createOrUpdate': 'NetworkSecurityGroups_CreateOrUpdate',
  'publicIPAddresses.createOrUpdate': 'PublicIPAddresses_CreateOrUpdate',
  'networkInterfaces.createOrUpdate': 'NetworkInterfaces_CreateOrUpdate',
  'disks.createOrUpdate': 'Disks_CreateOrUpdate',
  'snapshots.createOrUpdate': 'Snapshots_CreateOrUpdate',
  'virtualMachines.createOrUpdate': 'VirtualMachines_CreateOrUpdate',
  'galleries.createOrUpdate': 'Galleries_CreateOrUpdate',
  'galleryImages.createOrUpdate': 'GalleryImages_CreateOrUpdate',
  'galleryImageVersions.createOrUpdate': 'GalleryImageVersions_CreateOrUpdate',
};

/** Every body a request carries passes the swagger the way ARM checks it. */
function expectValidBodies(requests: CloudRequest[]) {
  for (const r of requests) {
    const body = r.input.body;
    if (body === undefined) continue;
    const op = OPERATION_IDS[r.operation];
    expect(op, `no swagger operation known for ${r.operation}`).toBeDefined();
    const { issues } = validator.validate(specs.operation(op!).body!.located, body, 'request');
    expect(issues, `${r.operation}: ${JSON.stringify(issues)}`).toEqual([]);
  }
}

const ops = (requests: CloudRequest[]) => requests.map((r) => `${r.service} ${r.operation}`);
const bodyOf = (requests: CloudRequest[], operation: string) => requests.find((r) => r.operation === operation)!.input.body as Record<string, any>;

describe('launchRequests', () => {
  const requests = cloud.launchRequests({ sshKey: instance.sshKey, access, instance, address: { mode: 'new', deployment: 'prod', labels: { deployment: 'prod', role: 'address', managed: 'true' } } });

  it('lists the ARM requests of a launch in order, with the services and operations of the SDK names', () => {
    expect(ops(requests)).toEqual([
      'Microsoft.Resources resourceGroups.createOrUpdate',
      'Microsoft.Network networkSecurityGroups.createOrUpdate',
      'Microsoft.Network virtualNetworks.createOrUpdate',
      'Microsoft.Network networkInterfaces.createOrUpdate',
      'Microsoft.Compute disks.createOrUpdate',
      'Microsoft.Compute virtualMachines.createOrUpdate',
      'Microsoft.Network publicIPAddresses.createOrUpdate',
      'Microsoft.Network networkInterfaces.createOrUpdate',
    ]);
    expect(requests[0]!.input.id).toBe(`/subscriptions/${SUB}/resourceGroups/sourcegraph-launch`);
    expectValidBodies(requests);
  });

  it('the VM: the key at the login user, no password, OS disk deleted with it, data disk at LUN 0 kept, boot diagnostics, trusted launch, tags', () => {
    const vm = bodyOf(requests, 'virtualMachines.createOrUpdate');
    const dataDiskId = requests.find((r) => r.operation === 'disks.createOrUpdate')!.input.id;
    expect(vm.zones).toEqual(['2']);
    expect(vm.properties.osProfile).toEqual({
      computerName: 'sourcegraph',
      adminUsername: 'sourcegraph',
      linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/sourcegraph/.ssh/authorized_keys', keyData: KEY }] } },
    });
    expect(vm.properties.storageProfile.imageReference).toEqual({ id: instance.imageId });
    expect(vm.properties.storageProfile.osDisk).toMatchObject({ createOption: 'FromImage', deleteOption: 'Delete', diskSizeGB: 50, managedDisk: { storageAccountType: 'Premium_LRS' } });
    expect(vm.properties.storageProfile.dataDisks).toEqual([{ lun: 0, createOption: 'Attach', caching: 'ReadOnly', deleteOption: 'Detach', managedDisk: { id: dataDiskId } }]);
    expect(vm.properties.diagnosticsProfile).toEqual({ bootDiagnostics: { enabled: true } });
    expect(vm.properties.securityProfile.securityType).toBe('TrustedLaunch');
    expect(vm.tags[IDEMPOTENCY_TAG]).toBe('sgl-prod-instance-j1');
    expect(fromTags(vm.tags).labels).toEqual(instance.labels);
    // The data disk comes from the image's data template, in the VM's zone, tagged.
    const disk = bodyOf(requests, 'disks.createOrUpdate');
    expect(disk).toMatchObject({ zones: ['2'], sku: { name: 'Premium_LRS' }, properties: { creationData: { createOption: 'Copy', sourceResourceId: instance.dataTemplateId }, diskSizeGB: 500 } });
    expect(fromTags(disk.tags).labels).toMatchObject({ deployment: 'prod', role: 'data-volume' });
  });

  it('the NSG allows only the governed ports from the CIDRs given; the public IP is Standard and static', () => {
    const nsg = bodyOf(requests, 'networkSecurityGroups.createOrUpdate');
    expect(rulesOf(nsg).map((r) => `${r.port} ${r.cidr}`).sort()).toEqual(['22 198.51.100.7/32', '443 198.51.100.0/24', '443 203.0.113.0/24', '80 203.0.113.0/24']);
    const pip = bodyOf(requests, 'publicIPAddresses.createOrUpdate');
    expect(pip).toMatchObject({ sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static' } });
  });

  it('an L/XL disk is Premium SSD v2 with its IOPS and throughput and no host caching', () => {
    const { dataTemplateId: _template, ...noTemplate } = instance;
    const big = cloud.instanceRequests({ ...noTemplate, dataDisk: { mode: 'new', disk: { sizeGiB: 500, type: 'PremiumV2_LRS', iops: 16000, throughput: 500 } } });
    expectValidBodies(big);
    expect(bodyOf(big, 'disks.createOrUpdate')).toMatchObject({ sku: { name: 'PremiumV2_LRS' }, properties: { creationData: { createOption: 'Empty' }, diskIOPSReadWrite: 16000, diskMBpsReadWrite: 500 } });
    expect(bodyOf(big, 'virtualMachines.createOrUpdate').properties.storageProfile.dataDisks[0].caching).toBe('None');
  });
});

describe('buildRequests', () => {
  it('builder, deallocate, data template snapshot, gallery, definition, version, clean-up; bodies valid', () => {
    const requests = cloud.buildRequests({
      sshKey: instance.sshKey,
      access: { ...access, name: 'sourcegraph-launch-build-r1', rules: [{ port: 22, cidr: '198.51.100.7/32' }] },
      builder: { ...instance, role: 'builder', keepDataDisk: false, labels: { build: 'b', 'build-run': 'r1', version: '6.12.5040', role: 'builder' } },
      image: { buildName: 'b', runId: 'r1', name: 'sourcegraph-b', description: 'test', labels: { build: 'b', version: '6.12.5040', role: 'image' } },
    });
    expectValidBodies(requests);
    expect(ops(requests).slice(-8)).toEqual([
      'Microsoft.Compute virtualMachines.deallocate',
      'Microsoft.Compute snapshots.createOrUpdate',
      'Microsoft.Compute galleries.createOrUpdate',
      'Microsoft.Compute galleryImages.createOrUpdate',
      'Microsoft.Compute galleryImageVersions.createOrUpdate',
      'Microsoft.Compute virtualMachines.delete',
      'Microsoft.Network publicIPAddresses.delete',
      'Microsoft.Network networkSecurityGroups.delete',
    ]);
    // The builder is reached over SSH: its own public IP on its NIC (a VM has none otherwise), deleted with it.
    const pip = requests.find((r) => r.operation === 'publicIPAddresses.createOrUpdate')!;
    expect(fromTags(bodyOf([pip], 'publicIPAddresses.createOrUpdate').tags).labels).toMatchObject({ role: 'builder-address', build: 'b', 'build-run': 'r1' });
    expect(bodyOf(requests, 'networkInterfaces.createOrUpdate').properties.ipConfigurations[0].properties.publicIPAddress).toEqual({ id: pip.input.id });
    expect(requests.find((r) => r.operation === 'publicIPAddresses.delete')!.input.id).toBe(pip.input.id);
    expect(requests.find((r) => r.operation === 'galleryImageVersions.createOrUpdate')!.input.id).toMatch(/\/images\/sourcegraph-b\/versions\/6\.12\.5040$/);
    // A builder's data disk goes with it, and nothing of the build is tagged as a deployment.
    const vm = bodyOf(requests, 'virtualMachines.createOrUpdate');
    expect(vm.properties.storageProfile.dataDisks[0].deleteOption).toBe('Delete');
    expect(fromTags(bodyOf(requests, 'disks.createOrUpdate').tags).labels.deployment).toBeUndefined();
  });
});

describe('mappers', () => {
  it('an NSG update keeps rules that are not ours and makes ours exactly the spec', () => {
    const existing = {
      tags: { owner: 'ops' },
      properties: {
        securityRules: [
          { name: 'corp-rdp', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 200, sourceAddressPrefix: '10.0.0.0/8', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '3389' } },
          { name: 'sourcegraph-launch-22', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 1000, sourceAddressPrefixes: ['0.0.0.0/0'], sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '22' } },
        ],
      },
    };
    const body = nsgBody(w, { ...access, rules: [{ port: 443, cidr: '203.0.113.0/24' }, { port: 6443, cidr: '0.0.0.0/0' }] }, existing);
    expect(body.properties.securityRules.map((r: { name: string }) => r.name)).toEqual(['corp-rdp', 'sourcegraph-launch-443']);
    expect(body.tags.owner).toBe('ops');
    expect(rulesOf(body).map((r) => `${r.port} ${r.cidr}`)).toEqual(['3389 10.0.0.0/8', '443 203.0.113.0/24']);
  });

  it('power states: deallocated and stopped are "stopped", deleting is "terminating"', () => {
    const vm = (power: string, prov = 'Succeeded') => ({ properties: { provisioningState: prov, instanceView: { statuses: [{ code: 'ProvisioningState/succeeded' }, { code: `PowerState/${power}` }] } } });
    expect(vmState(vm('running'))).toBe('running');
    expect(vmState(vm('deallocated'))).toBe('stopped');
    expect(vmState(vm('stopped'))).toBe('stopped');
    expect(vmState(vm('deallocating'))).toBe('stopping');
    expect(vmState(vm('starting'))).toBe('pending');
    expect(vmState(vm('running', 'Deleting'))).toBe('terminating');
  });

  it('tags keep label values as they are; the idempotency tag is neither a label nor foreign', () => {
    const { labels, foreign } = fromTags({ 'sourcegraph-launch:lock-upgrade': 'upgrade/1/root@host:1', 'sourcegraph-launch:owner': 'Ops Team', [IDEMPOTENCY_TAG]: 'k', costcenter: '42' });
    expect(labels).toEqual({ 'lock-upgrade': 'upgrade/1/root@host:1', owner: 'Ops Team' });
    expect(foreign).toEqual({ costcenter: '42' });
  });

  it('names: safe characters, and a hash keeps a cut name unique', () => {
    expect(safeName('sgl-prod/instance 1')).toBe('sgl-prod-instance-1');
    const long = safeName('x'.repeat(100), 40);
    expect(long).toHaveLength(40);
    expect(long).not.toBe(safeName(`${'x'.repeat(99)}y`, 40));
  });
});
