// The port-80 rule to the world (tls --tls acme) on Azure, beyond the contract, on the ARM
// emulator: the rule takes the first inbound priority free from 1200 (NSG priorities are unique per
// direction, and a user's rule may hold 1200); a rule of the user's letting the internet reach 80
// (any source, the Internet tag, a port range) is 'already-open' and never closed; a launch re-run
// keeps the world rule beside the user's.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import type { AccessPolicySpec } from '../../../src/cloud/port.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

const GROUP = 'sl-world';
const LOCATION = 'eastus';
const credential = { getToken: async () => ({ token: 'world-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

let arm: ArmEmulator;
let client: ArmClient;
let cloud: AzureAdapter;
beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
  cloud = new AzureAdapter({ provider: 'azure', region: LOCATION, params: { subscription: arm.subscriptionId, resourceGroup: GROUP } }, { credential, endpoint: arm.endpoint, pollIntervalMs: 1, randomSuffix: () => 's' });
});
afterAll(async () => {
  await arm?.stop();
});
beforeEach(async () => {
  await arm.reset();
});

const spec = (rules: AccessPolicySpec['rules'] = [{ port: 80, cidr: '203.0.113.0/24' }, { port: 443, cidr: '203.0.113.0/24' }]): AccessPolicySpec => ({
  deployment: 'web',
  name: 'sourcegraph-launch-web',
  labels: { deployment: 'web', role: 'access-policy', managed: 'true' },
  placement: { zone: '1' },
  rules,
});
const userRule = (nsgId: string, name: string, properties: Record<string, unknown>) =>
  client.put(`${nsgId}/securityRules/${name}`, { properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', sourcePortRange: '*', destinationAddressPrefix: '*', ...properties } });
async function rules(nsgId: string): Promise<string[]> {
  const nsg = (await client.call('GET', nsgId)).body;
  return (nsg.properties.securityRules as { name: string; properties: { priority: number } }[]).map((r) => `${r.name} ${r.properties.priority}`).sort();
}

describe('Azure openWorldPort / closeWorldPort', () => {
  it('takes the first free inbound priority from 1200; a launch re-run keeps it; closeWorldPort deletes only it', async () => {
    const policy = await cloud.ensureAccessPolicy(spec());
    await userRule(policy.id, 'users-1200', { priority: 1200, sourceAddressPrefix: '198.51.100.0/24', destinationPortRange: '8443' });
    await userRule(policy.id, 'users-1210', { priority: 1210, sourceAddressPrefix: '198.51.100.0/24', destinationPortRange: '8444' });
    expect(await cloud.openWorldPort(policy.id, 80, 'acme-http-01')).toBe('opened');
    expect(await rules(policy.id)).toEqual(['sourcegraph-launch-443 1010', 'sourcegraph-launch-80 1000', 'sourcegraph-launch-world-acme-http-01-80 1220', 'users-1200 1200', 'users-1210 1210']);
    const again = await cloud.ensureAccessPolicy(spec([{ port: 443, cidr: '203.0.113.0/24' }]));
    expect(again.rules.filter((r) => r.port === 80)).toEqual([{ port: 80, cidr: '0.0.0.0/0', purpose: 'acme-http-01' }]);
    expect(await cloud.closeWorldPort(policy.id, 80, 'acme-http-01')).toBe('closed');
    expect(await cloud.closeWorldPort(policy.id, 80, 'acme-http-01')).toBe('absent');
    expect(await rules(policy.id)).toEqual(['sourcegraph-launch-443 1000', 'users-1200 1200', 'users-1210 1210']);
  });

  it("a user's rule letting the internet reach 80 (the Internet tag, any source, a range): already-open, nothing made, never closed", async () => {
    for (const [name, properties] of [
      ['users-internet', { sourceAddressPrefix: 'Internet', destinationPortRange: '80' }],
      ['users-any', { sourceAddressPrefix: '*', destinationPortRange: '*' }],
      ['users-range', { sourceAddressPrefixes: ['0.0.0.0/0'], destinationPortRange: '79-81' }],
    ] as const) {
      await arm.reset();
      const policy = await cloud.ensureAccessPolicy(spec());
      await userRule(policy.id, name, { priority: 500, ...properties });
      expect(await cloud.openWorldPort(policy.id, 80, 'acme-http-01'), name).toBe('already-open');
      expect(await cloud.closeWorldPort(policy.id, 80, 'acme-http-01')).toBe('absent');
      expect(await rules(policy.id)).toEqual(['sourcegraph-launch-443 1010', 'sourcegraph-launch-80 1000', `${name} 500`]);
    }
    // Not the world: a deny rule, another port, a narrower source.
    await arm.reset();
    const policy = await cloud.ensureAccessPolicy(spec());
    await userRule(policy.id, 'users-deny', { priority: 400, access: 'Deny', sourceAddressPrefix: '*', destinationPortRange: '80' });
    await userRule(policy.id, 'users-8080', { priority: 410, sourceAddressPrefix: '*', destinationPortRange: '8080' });
    await userRule(policy.id, 'users-narrow', { priority: 420, sourceAddressPrefix: '198.51.100.0/24', destinationPortRange: '80' });
    expect(await cloud.openWorldPort(policy.id, 80, 'acme-http-01')).toBe('opened');
  });

  it('a permission denied on the rule: exit 3 (permissions), nothing made', async () => {
    const policy = await cloud.ensureAccessPolicy(spec());
    arm.control.injectFault({ operationId: 'SecurityRules_CreateOrUpdate', status: 403, code: 'AuthorizationFailed', message: "The client does not have authorization to perform action 'Microsoft.Network/networkSecurityGroups/securityRules/write'." });
    await expect(cloud.openWorldPort(policy.id, 80, 'acme-http-01')).rejects.toMatchObject({ exitCode: 3 });
    expect(await rules(policy.id)).toEqual(['sourcegraph-launch-443 1010', 'sourcegraph-launch-80 1000']);
  });

  it('a missing NSG: open fails naming it, close is absent', async () => {
    const id = `/subscriptions/${arm.subscriptionId}/resourceGroups/${GROUP}/providers/Microsoft.Network/networkSecurityGroups/gone`;
    await expect(cloud.openWorldPort(id, 80, 'acme-http-01')).rejects.toMatchObject({ code: 'access-policy-missing' });
    expect(await cloud.closeWorldPort(id, 80, 'acme-http-01')).toBe('absent');
  });
});
