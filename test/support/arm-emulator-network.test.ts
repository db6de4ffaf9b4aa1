// The ARM emulator's Microsoft.Network model over real HTTP: VNets and subnets (prefix rules,
// in-use subnets), NSGs and rules, Standard static public IPs whose address the test chooses, NICs,
// and moving a public IP from one NIC to another.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmClient } from './arm-emulator/client.js';
import { bodies, createNetwork, providers } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let p: ReturnType<typeof providers>;

beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
  p = providers(client, 'net');
});
afterAll(async () => {
  await arm.stop();
});
beforeEach(async () => {
  await arm.reset();
  await client.call('PUT', client.path('net'), bodies.group());
});

describe('virtual networks and subnets', () => {
  it('creates a VNet with inline subnets and answers the subnets as child resources', async () => {
    const vnet = (await client.put(p.vnet('v'), bodies.vnet())).body;
    expect(vnet.properties.addressSpace.addressPrefixes).toEqual(['10.20.0.0/16']);
    expect(vnet.properties.subnets[0]).toMatchObject({ name: 'default', id: `${vnet.id}/subnets/default`, type: 'Microsoft.Network/virtualNetworks/subnets' });
    const subnet = await client.call('GET', `${p.vnet('v')}/subnets/default`);
    expect(subnet.body.properties).toMatchObject({ addressPrefix: '10.20.0.0/24', provisioningState: 'Succeeded' });
    expect((await client.call('GET', `${p.vnet('v')}/subnets/other`)).body.error.code).toBe('NotFound');
    expect((await client.call('GET', `${p.vnet('ghost')}/subnets/default`)).body.error.code).toBe('ParentResourceNotFound');
  });

  it('refuses subnets outside the address space, overlapping, or with a bad prefix', async () => {
    const outside = await client.call('PUT', p.vnet('v'), { ...bodies.vnet(), properties: { addressSpace: { addressPrefixes: ['10.20.0.0/16'] }, subnets: [{ name: 's', properties: { addressPrefix: '10.30.0.0/24' } }] } });
    expect(outside.body.error.code).toBe('NetcfgSubnetRangeOutsideVnet');
    const overlap = await client.call('PUT', p.vnet('v'), {
      ...bodies.vnet(),
      properties: { addressSpace: { addressPrefixes: ['10.20.0.0/16'] }, subnets: [{ name: 'a', properties: { addressPrefix: '10.20.0.0/24' } }, { name: 'b', properties: { addressPrefix: '10.20.0.128/25' } }] },
    });
    expect(overlap.body.error.code).toBe('NetcfgSubnetRangesOverlap');
    const badPrefix = await client.call('PUT', p.vnet('v'), { ...bodies.vnet(), properties: { addressSpace: { addressPrefixes: ['10.20.0.1/16'] } } });
    expect(badPrefix.body.error.code).toBe('InvalidAddressPrefixFormat');
  });

  it('PUT/DELETE of one subnet is an operation on the VNet; a subnet in use cannot be deleted', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const added = await client.call('PUT', `${net.vnetId}/subnets/extra`, { properties: { addressPrefix: '10.20.1.0/24' } });
    expect(added.status).toBe(201);
    expect(added.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Network/locations/eastus/operations/');
    await client.wait(added);
    expect((await client.call('GET', net.vnetId)).body.properties.subnets.map((s: { name: string }) => s.name)).toEqual(['default', 'extra']);
    const inUse = await client.call('DELETE', net.subnetId);
    expect(inUse.status).toBe(400);
    expect(inUse.body.error.code).toBe('InUseSubnetCannotBeDeleted');
    expect((await client.call('GET', net.subnetId)).body.properties.ipConfigurations).toEqual([{ id: `${net.nicId}/ipConfigurations/primary` }]);
    // A VNet PUT without the used subnet would delete it: refused too.
    const dropping = await client.call('PUT', net.vnetId, { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.20.0.0/16'] }, subnets: [] } });
    expect(dropping.body.error.code).toBe('InUseSubnetCannotBeDeleted');
    await client.act('DELETE', `${net.vnetId}/subnets/extra`);
    expect((await client.call('GET', `${net.vnetId}/subnets/extra`)).status).toBe(404);
  });
});

describe('network security groups', () => {
  it('stores inline rules, adds the default rules, and serves rules as child resources', async () => {
    const nsg = (await client.put(p.nsg('n'), bodies.nsg())).body;
    expect(nsg.properties.securityRules.map((r: { name: string }) => r.name)).toEqual(['web', 'ssh']);
    expect(nsg.properties.securityRules[0].properties.destinationPortRanges).toEqual(['80', '443']);
    expect(nsg.properties.defaultSecurityRules.map((r: { name: string }) => r.name)).toContain('DenyAllInBound');
    const rule = { properties: { protocol: 'Tcp', access: 'Deny', direction: 'Inbound', priority: 4000, sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '6443' } };
    await client.wait(await client.call('PUT', `${p.nsg('n')}/securityRules/no-k8s`, rule));
    expect((await client.call('GET', `${p.nsg('n')}/securityRules/no-k8s`)).body.properties.destinationPortRange).toBe('6443');
    expect((await client.call('GET', p.nsg('n'))).body.properties.securityRules).toHaveLength(3);
  });

  it('checks rules: priority range and uniqueness per direction, one of prefix/prefixes, port syntax', async () => {
    const rule = (over: Record<string, unknown>) => ({ name: 'r', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 200, sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '22', ...over } });
    const put = (rules: unknown[], name = 'n') => client.call('PUT', p.nsg(name), { location: 'eastus', properties: { securityRules: rules } });
    expect((await put([rule({ priority: 99 })])).body.error.code).toBe('SecurityRuleInvalidPriority');
    expect((await put([rule({}), { ...rule({}), name: 'r2' }])).body.error.code).toBe('SecurityRuleConflict');
    expect((await put([rule({}), { ...rule({ direction: 'Outbound' }), name: 'r2' }], 'other')).status).toBe(201);
    expect((await put([rule({ sourceAddressPrefixes: ['10.0.0.0/8'] })])).body.error.code).toBe('InvalidParameter');
    expect((await put([rule({ destinationPortRange: '22-ssh' })])).body.error.code).toBe('SecurityRuleInvalidPortRange');
  });

  it('an NSG in use by a NIC cannot be deleted', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const refused = await client.call('DELETE', net.nsgId);
    expect(refused.body.error.code).toBe('InUseNetworkSecurityGroupCannotBeDeleted');
    expect((await client.call('GET', net.nsgId)).body.properties.networkInterfaces).toEqual([{ id: net.nicId }]);
  });
});

describe('public IP addresses', () => {
  it('Standard static only; the address is assigned when creation succeeds', async () => {
    arm.control.setLroPolls(1);
    const started = await client.call('PUT', p.pip('ip'), bodies.pip());
    expect(started.body.properties.ipAddress).toBeUndefined();
    await client.wait(started);
    const pip = (await client.call('GET', p.pip('ip'))).body;
    expect(pip).toMatchObject({ sku: { name: 'Standard', tier: 'Regional' }, properties: { publicIPAllocationMethod: 'Static', ipAddress: expect.stringMatching(/^203\.0\.113\.\d+$/) } });
    const basic = await client.call('PUT', p.pip('old'), { ...bodies.pip(), sku: { name: 'Basic' } });
    expect(basic.body.error).toMatchObject({ code: 'InvalidParameter', target: 'sku.name' });
    const dynamic = await client.call('PUT', p.pip('dyn'), { ...bodies.pip(), properties: { publicIPAllocationMethod: 'Dynamic' } });
    expect(dynamic.body.error.code).toBe('InvalidParameter');
  });

  it('the test chooses the next addresses, or one per name; an address survives updates', async () => {
    arm.control.nextPublicIps('10.200.77.2', '10.200.77.6');
    arm.control.publicIpFor('named', '10.200.78.2');
    const named = (await client.put(p.pip('named'), bodies.pip())).body;
    const a = (await client.put(p.pip('a'), bodies.pip())).body;
    const b = (await client.put(p.pip('b'), bodies.pip())).body;
    expect([named.properties.ipAddress, a.properties.ipAddress, b.properties.ipAddress]).toEqual(['10.200.78.2', '10.200.77.2', '10.200.77.6']);
    const updated = (await client.put(p.pip('a'), bodies.pip({ changed: 'tags' }))).body;
    expect(updated.properties.ipAddress).toBe('10.200.77.2');
    // The client cannot choose the address itself.
    const chosen = (await client.put(p.pip('c'), { ...bodies.pip(), properties: { publicIPAllocationMethod: 'Static', ipAddress: '1.2.3.4' } })).body;
    expect(chosen.properties.ipAddress).not.toBe('1.2.3.4');
  });
});

describe('network interfaces', () => {
  it('gets a private IP from its subnet and references the public IP, which points back', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const nic = (await client.call('GET', net.nicId)).body;
    expect(nic.properties.ipConfigurations[0].properties).toMatchObject({ privateIPAddress: '10.20.0.4', primary: true, subnet: { id: net.subnetId }, publicIPAddress: { id: net.pipId } });
    expect(nic.properties.networkSecurityGroup).toEqual({ id: net.nsgId });
    expect((await client.call('GET', net.pipId)).body.properties.ipConfiguration).toEqual({ id: `${net.nicId}/ipConfigurations/primary` });
    const second = (await client.put(p.nic('second'), bodies.nic(net.subnetId, undefined, net.nsgId))).body;
    expect(second.properties.ipConfigurations[0].properties.privateIPAddress).toBe('10.20.0.5');
  });

  it('refuses references to resources that do not exist or are in another region', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const ghost = await client.call('PUT', p.nic('x'), bodies.nic(`${net.vnetId}/subnets/ghost`, undefined, net.nsgId));
    expect(ghost.body.error.code).toBe('InvalidResourceReference');
    const noPip = await client.call('PUT', p.nic('x'), bodies.nic(net.subnetId, `${net.pipId}-ghost`, net.nsgId));
    expect(noPip.body.error.code).toBe('InvalidResourceReference');
    const elsewhere = await client.call('PUT', p.nic('x'), { ...bodies.nic(net.subnetId, undefined, net.nsgId), location: 'westeurope' });
    expect(elsewhere.status).toBe(400);
  });

  it('moves a public IP to another NIC: refused while the old NIC holds it, allowed once removed there', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const taken = await client.call('PUT', p.nic('new'), bodies.nic(net.subnetId, net.pipId, net.nsgId));
    expect(taken.status).toBe(400);
    expect(taken.body.error.code).toBe('PublicIPAddressInUse');
    const refusedDelete = await client.call('DELETE', net.pipId);
    expect(refusedDelete.body.error.code).toBe('PublicIPAddressCannotBeDeleted');
    await client.put(net.nicId, bodies.nic(net.subnetId, undefined, net.nsgId));
    const moved = (await client.put(p.nic('new'), bodies.nic(net.subnetId, net.pipId, net.nsgId))).body;
    expect(moved.properties.ipConfigurations[0].properties.publicIPAddress).toEqual({ id: net.pipId });
    const pip = (await client.call('GET', net.pipId)).body;
    expect(pip.properties.ipConfiguration.id).toBe(`${moved.id}/ipConfigurations/primary`);
    expect(pip.properties.ipAddress).toBe(net.ipAddress);
  });
});
