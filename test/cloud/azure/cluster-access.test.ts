// scale on Azure, the cloud side, on the ARM emulator: the k3s ports open only between the
// deployment's own machines through an application security group (the server's NIC joins it, an
// agent's NIC is made in it), by rules whose source and destination are that group, never a prefix;
// 22/80/443 unchanged; an agent gets the server's key and its own public IP (how the tool reaches it),
// which never counts as the deployment's address and goes with the agent; deleting the policy takes
// the rules, then the group, then the NSG.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { azureProvider } from '../../../src/cloud/azure/provider.js';
import type { InstanceSpec, Placement } from '../../../src/cloud/port.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

const GROUP = 'sl-cluster';
const LOCATION = 'eastus';
const NAME = 'prod';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClusterAccessTestKeyOnlyNotARealKey00000 test';
const credential = { getToken: async () => ({ token: 'cluster-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

let arm: ArmEmulator;
let client: ArmClient;
beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
});
afterAll(async () => {
  await arm?.stop();
});

let n = 0;
const adapter = () => new AzureAdapter({ provider: 'azure', region: LOCATION, params: { subscription: arm.subscriptionId, resourceGroup: GROUP } }, { credential, endpoint: arm.endpoint, pollIntervalMs: 1, randomSuffix: () => `s${n++}` });

function spec(role: 'instance' | 'agent', base: string, placement: Placement, policyId: string, sshKey: InstanceSpec['sshKey']): InstanceSpec {
  return {
    deployment: NAME,
    role,
    version: '6.12.0',
    size: 'XS',
    imageId: base,
    machineType: 'Standard_D8as_v5',
    placement,
    accessPolicyIds: [policyId],
    sshKey,
    loginUser: 'sourcegraph',
    rootDisk: azureProvider.rootDisk,
    dataDisk: role === 'instance' ? { mode: 'new', disk: { type: 'Premium_LRS', sizeGiB: 64 } } : { mode: 'none' },
    keepDataDisk: role === 'instance',
    labels: { deployment: NAME, role, version: '6.12.0', managed: 'true' },
    idempotencyKey: `${NAME}-${role}-1`,
  };
}

const asgsOf = async (nicId: string) => ((await client.call('GET', nicId)).body.properties.ipConfigurations as { properties: { applicationSecurityGroups?: { id: string }[] } }[]).map((c) => (c.properties.applicationSecurityGroups ?? []).map((g) => g.id.toLowerCase()));

describe('Azure cluster access (scale)', () => {
  it('puts the server and an agent in the deployment\'s application security group, opens the k3s ports group to group, and removes it all with the policy', async () => {
    await arm.reset();
    const cloud = adapter();
    const base = (await cloud.findBaseImage())!.id;
    const placement = await cloud.resolvePlacement(undefined, ['2']);
    const policy = await cloud.ensureAccessPolicy({ name: `sourcegraph-${NAME}`, deployment: NAME, placement, rules: [{ port: 443, cidr: '198.51.100.0/24' }, { port: 22, cidr: '198.51.100.7/32' }], labels: { deployment: NAME, managed: 'true' } });
    const server = await cloud.ensureInstance(spec('instance', base, placement, policy.id, { mode: 'import', name: NAME, publicKey: KEY }));
    expect(server.sshPublicKey).toBe(KEY);
    const serverNic = (await client.call('GET', server.id)).body.properties.networkProfile.networkInterfaces[0].id as string;
    expect(await asgsOf(serverNic)).toEqual([[]]);

    const opened = await cloud.ensureClusterAccess!(policy.id);
    const asgId = client.path(GROUP, `/providers/Microsoft.Network/applicationSecurityGroups/sourcegraph-${NAME}-cluster`).toLowerCase();
    expect((await client.call('GET', asgId)).body.tags).toMatchObject({ 'sourcegraph-launch:deployment': NAME, 'sourcegraph-launch:role': 'cluster-group' });
    expect(await asgsOf(serverNic)).toEqual([[asgId]]);
    const nsg = (await client.call('GET', policy.id)).body;
    const cluster = (nsg.properties.securityRules as { name: string; properties: Record<string, any> }[]).filter((r) => r.name.startsWith('sourcegraph-launch-cluster-'));
    expect(cluster.map((r) => [r.name, r.properties.protocol, r.properties.destinationPortRanges])).toEqual([
      ['sourcegraph-launch-cluster-tcp', 'Tcp', ['6443', '10250']],
      ['sourcegraph-launch-cluster-udp', 'Udp', ['8472']],
    ]);
    for (const r of cluster) {
      expect(r.properties.sourceApplicationSecurityGroups.map((g: { id: string }) => g.id.toLowerCase())).toEqual([asgId]);
      expect(r.properties.destinationApplicationSecurityGroups.map((g: { id: string }) => g.id.toLowerCase())).toEqual([asgId]);
      expect(r.properties.sourceAddressPrefix ?? r.properties.sourceAddressPrefixes).toBeUndefined();
    }
    // 80/443 and SSH as they were: no address rule names a cluster port.
    expect(opened.rules.map((r) => `${r.port} ${r.cidr}`).sort()).toEqual(['22 198.51.100.7/32', '443 198.51.100.0/24']);

    // The agent: the server's key, zone and subnet; its NIC made in the group; its own public IP.
    arm.control.nextPublicIps('203.0.113.77');
    const agentSpec = spec('agent', server.imageId, { zone: server.zone, subnetId: server.subnetId! }, policy.id, { mode: 'import', name: `${NAME}-agent`, publicKey: server.sshPublicKey! });
    const agent = await cloud.ensureInstance(agentSpec);
    expect(agent).toMatchObject({ zone: '2', subnetId: server.subnetId, publicIp: '203.0.113.77', sshPublicKey: KEY, accessPolicyIds: [policy.id], labels: { role: 'agent' } });
    const agentNic = (await client.call('GET', agent.id)).body.properties.networkProfile.networkInterfaces[0].id as string;
    expect(await asgsOf(agentNic)).toEqual([[asgId]]);
    const d = await cloud.findDeployment(NAME);
    expect(d.instance?.id).toBe(server.id);
    expect(d.otherInstances.map((i) => i.id)).toEqual([agent.id]);
    expect(d.addresses.map((a) => a.ip)).not.toContain('203.0.113.77');
    expect(d.accessPolicies[0]?.clusterRules?.length).toBe(3);

    // The dry run names the same group and rules.
    const dry = cloud.clusterAccessRequests!(policy.id);
    expect(dry.map((r) => r.operation)).toEqual(['applicationSecurityGroups.createOrUpdate', 'networkInterfaces.createOrUpdate', 'securityRules.createOrUpdate', 'securityRules.createOrUpdate']);
    expect(String(dry[0]!.input.id).toLowerCase()).toBe(asgId);
    const dryNic = cloud.instanceRequests(agentSpec).find((r) => r.operation === 'networkInterfaces.createOrUpdate')!;
    expect(JSON.stringify(dryNic.input)).toContain('applicationSecurityGroups');

    // The agent goes with its public IP.
    await cloud.terminateInstance(agent.id);
    await cloud.waitForInstanceState(agent.id, 'terminated', 60_000);
    const left = (arm.control.state().resources as { id: string; tags?: Record<string, string> }[]).filter((r) => r.tags?.['sourcegraph-launch:role'] === 'agent-address');
    expect(left).toEqual([]);

    // Idempotent: nothing more the second time.
    await cloud.ensureClusterAccess!(policy.id);
    expect(((await client.call('GET', policy.id)).body.properties.securityRules as unknown[]).length).toBe(4);

    // destroy's order: the server first, then the policy takes the rules, the group and the NSG.
    await cloud.terminateInstance(server.id);
    await cloud.waitForInstanceState(server.id, 'terminated', 60_000);
    await cloud.deleteAccessPolicy(policy.id);
    expect((await client.call('GET', asgId)).status).toBe(404);
    expect((await client.call('GET', policy.id)).status).toBe(404);
  });
});
