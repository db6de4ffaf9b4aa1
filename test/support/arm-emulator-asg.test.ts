// The ARM emulator's application security groups over real HTTP: PUT/GET/DELETE validated against
// the published swagger, NIC ip configurations as members, NSG rules whose source and destination
// are groups (never an address prefix), references checked, and a group in use not deletable.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmClient } from './arm-emulator/client.js';
import { bodies, createNetwork, LOCATION, providers } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let p: ReturnType<typeof providers>;
const asgPath = (name: string) => client.path('net', `/providers/Microsoft.Network/applicationSecurityGroups/${name}`);

const clusterRule = (asgId: string, priority = 300) => ({
  protocol: 'Tcp',
  access: 'Allow',
  direction: 'Inbound',
  priority,
  sourceApplicationSecurityGroups: [{ id: asgId }],
  sourcePortRange: '*',
  destinationApplicationSecurityGroups: [{ id: asgId }],
  destinationPortRanges: ['6443', '10250'],
});

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

describe('application security groups', () => {
  it('PUT is a network long-running operation, idempotent by name; GET answers it; an unknown member is refused by the swagger', async () => {
    const started = await client.call('PUT', asgPath('cluster'), { location: LOCATION, tags: { a: 'b' } });
    expect(started.status).toBe(201);
    expect(started.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Network/locations/eastus/operations/');
    await client.wait(started);
    const got = await client.call('GET', asgPath('cluster'));
    expect(got.body).toMatchObject({ name: 'cluster', type: 'Microsoft.Network/applicationSecurityGroups', location: LOCATION, tags: { a: 'b' }, properties: { provisioningState: 'Succeeded' } });
    expect(got.body.properties.resourceGuid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await client.call('PUT', asgPath('cluster'), { location: LOCATION, tags: { a: 'b' } })).status).toBe(200);
    const bad = await client.call('PUT', asgPath('other'), { location: LOCATION, properties: { members: [] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('InvalidRequestContent');
    expect((await client.call('GET', asgPath('ghost'))).status).toBe(404);
  });

  it('NIC ip configurations join a group; an NSG rule names it as source and destination; a missing group is an invalid reference', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const asg = (await client.put(asgPath('cluster'), { location: LOCATION })).body;
    const nic = (await client.call('GET', net.nicId)).body;
    const withAsg = {
      location: LOCATION,
      properties: {
        networkSecurityGroup: { id: net.nsgId },
        ipConfigurations: nic.properties.ipConfigurations.map((c: { name: string; properties: Record<string, unknown> }) => ({ name: c.name, properties: { ...c.properties, applicationSecurityGroups: [{ id: asg.id }] } })),
      },
    };
    const updated = (await client.put(net.nicId, withAsg)).body;
    expect(updated.properties.ipConfigurations[0].properties.applicationSecurityGroups).toEqual([{ id: asg.id }]);
    expect(updated.properties.ipConfigurations[0].properties.privateIPAddress).toBe(nic.properties.ipConfigurations[0].properties.privateIPAddress);

    const rule = await client.put(`${net.nsgId}/securityRules/cluster`, { properties: clusterRule(asg.id) });
    expect(rule.body.properties).toMatchObject({ sourceApplicationSecurityGroups: [{ id: asg.id }], destinationApplicationSecurityGroups: [{ id: asg.id }] });
    expect(rule.body.properties.sourceAddressPrefix).toBeUndefined();

    const ghost = asgPath('ghost');
    const badRule = await client.call('PUT', `${net.nsgId}/securityRules/bad`, { properties: clusterRule(ghost, 310) });
    expect(badRule.status).toBe(400);
    expect(badRule.body.error.code).toBe('InvalidResourceReference');
    const badNic = await client.call('PUT', p.nic('other'), { ...bodies.nic(net.subnetId, undefined, net.nsgId), properties: { ipConfigurations: [{ name: 'primary', properties: { subnet: { id: net.subnetId }, applicationSecurityGroups: [{ id: ghost }] } }] } });
    expect(badNic.status).toBe(400);
    expect(badNic.body.error.code).toBe('InvalidResourceReference');
    // Both a prefix and a group on one side: refused.
    const both = await client.call('PUT', `${net.nsgId}/securityRules/both`, { properties: { ...clusterRule(asg.id, 320), sourceAddressPrefix: '10.0.0.0/8' } });
    expect(both.body.error.code).toBe('InvalidParameter');
  });

  it('a group a member or a rule names cannot be deleted; once neither does, it can', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const asg = (await client.put(asgPath('cluster'), { location: LOCATION })).body;
    const nic = (await client.call('GET', net.nicId)).body;
    const config = (asgs: { id: string }[] | undefined) => ({
      location: LOCATION,
      properties: {
        networkSecurityGroup: { id: net.nsgId },
        ipConfigurations: [{ name: 'primary', properties: { subnet: { id: net.subnetId }, publicIPAddress: { id: net.pipId }, ...(asgs ? { applicationSecurityGroups: asgs } : {}) } }],
      },
    });
    await client.put(net.nicId, config([{ id: asg.id }]));
    await client.put(`${net.nsgId}/securityRules/cluster`, { properties: clusterRule(asg.id) });
    const inUse = await client.call('DELETE', asg.id);
    expect(inUse.status).toBe(400);
    expect(inUse.body.error.code).toBe('InUseApplicationSecurityGroupCannotBeDeleted');
    expect(inUse.body.error.message).toContain(`${nic.id}/ipConfigurations/primary`);
    expect(inUse.body.error.message).toContain(`${net.nsgId}/securityRules/cluster`);
    await client.put(net.nicId, config(undefined));
    await client.act('DELETE', `${net.nsgId}/securityRules/cluster`);
    await client.act('DELETE', asg.id);
    expect((await client.call('GET', asg.id)).status).toBe(404);
  });

  it('deleting the resource group takes the group too (after the NICs and NSGs that name it)', async () => {
    const net = await createNetwork(client, 'net', 'sg');
    const asg = (await client.put(asgPath('cluster'), { location: LOCATION })).body;
    await client.put(`${net.nsgId}/securityRules/cluster`, { properties: clusterRule(asg.id) });
    await client.act('DELETE', client.path('net'));
    expect((await client.call('GET', client.path('net'))).status).toBe(404);
  });
});
