// The ARM emulator's application gateways over real HTTP: a v2 gateway PUT as the Network provider
// checks it (a subnet of its own, a Standard static public IP nobody else holds, references inside
// the body, rule priorities, a PFX that opens with its password and holds the certificate's key, a
// Key Vault certificate only with an identity), answered with ids on every part and never the PFX;
// its subnet and public IP cannot be deleted, nor can a NIC join the subnet, while it holds them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayBody } from '../../src/cloud/azure/gateway.js';
import { writePfx } from '../../src/cloud/azure/pfx.js';
import { testCa } from './certs.js';
import { ArmClient } from './arm-emulator/client.js';
import { bodies, createNetwork, LOCATION, providers } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let p: ReturnType<typeof providers>;
const dir = mkdtempSync(join(tmpdir(), 'sgl-appgw-'));
const ca = testCa(dir);
const site = ca.issue('site', ['sourcegraph.example.com']);
const other = ca.issue('other', ['sourcegraph.example.com']);
const gwPath = (name: string) => client.path('net', `/providers/Microsoft.Network/applicationGateways/${name}`);

beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
  p = providers(client, 'net');
});
afterAll(async () => {
  await arm.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await arm.reset();
  await client.call('PUT', client.path('net'), bodies.group());
});

/** A deployment's network, a subnet for the gateway and its public IP; the gateway's body as the adapter builds it. */
async function world(pfx = { data: writePfx(site.certPem, site.keyPem, 'pw').toString('base64'), password: 'pw' }) {
  const net = await createNetwork(client, 'net', 'sg');
  const gwSubnet = (await client.put(`${net.vnetId}/subnets/appgw`, { properties: { addressPrefix: '10.20.1.0/24' } })).body;
  const gwIp = (await client.put(p.pip('appgw-ip'), bodies.pip())).body;
  const id = gwPath('gw');
  const body = gatewayBody({ location: LOCATION }, id, { deployment: 'sg', domain: 'sourcegraph.example.com', subnetId: gwSubnet.id, addressId: gwIp.id, backendIp: '10.20.0.4', certificate: { certPem: '', keyPem: '' } }, pfx);
  return { net, gwSubnetId: gwSubnet.id as string, gwIpId: gwIp.id as string, id, body };
}

describe('application gateways', () => {
  it('a v2 gateway: a network long-running operation; GET answers every part with its id, the certificate without data or password; the subnet and IP name it', async () => {
    const w = await world();
    const started = await client.call('PUT', w.id, w.body);
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Network/locations/eastus/operations/');
    await client.wait(started);
    const gw = (await client.call('GET', w.id)).body;
    expect(gw.properties).toMatchObject({ provisioningState: 'Succeeded', operationalState: 'Running', sku: { name: 'Standard_v2', tier: 'Standard_v2' } });
    expect(gw.properties.httpListeners.map((l: { id: string }) => l.id)).toEqual([`${w.id}/httpListeners/https`, `${w.id}/httpListeners/http`]);
    const cert = gw.properties.sslCertificates[0].properties;
    expect(cert.data).toBeUndefined();
    expect(cert.password).toBeUndefined();
    expect(cert.publicCertData).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const subnet = (await client.call('GET', w.gwSubnetId)).body;
    expect(subnet.properties.applicationGatewayIPConfigurations).toEqual([{ id: `${w.id}/gatewayIPConfigurations/gateway` }]);
    expect(subnet.properties.ipConfigurations).toBeUndefined();
    expect((await client.call('GET', w.gwIpId)).body.properties.ipConfiguration).toEqual({ id: `${w.id}/frontendIPConfigurations/public` });
    // The same body again (the PFX is not answered, so a re-PUT sends it again): 200, nothing new.
    expect((await client.put(w.id, w.body)).status).toBe(200);
  });

  it('holds its subnet and public IP: no NIC may join the subnet, neither can be deleted until the gateway is', async () => {
    const w = await world();
    await client.put(w.id, w.body);
    const nic = await client.call('PUT', p.nic('intruder'), bodies.nic(w.gwSubnetId, undefined, w.net.nsgId));
    expect(nic.status).toBe(400);
    expect(nic.body.error.code).toBe('SubnetIsDedicatedToApplicationGateway');
    const delSubnet = await client.call('DELETE', w.gwSubnetId);
    expect(delSubnet.body.error.code).toBe('InUseSubnetCannotBeDeleted');
    const delIp = await client.call('DELETE', w.gwIpId);
    expect(delIp.body.error.code).toBe('PublicIPAddressCannotBeDeleted');
    await client.wait(await client.call('DELETE', w.id));
    expect((await client.call('GET', w.id)).status).toBe(404);
    await client.wait(await client.call('DELETE', w.gwIpId));
    await client.wait(await client.call('DELETE', w.gwSubnetId));
    expect((await client.call('GET', w.gwSubnetId)).status).toBe(404);
  });

  it('refuses a subnet with anything else in it, and a public IP a NIC holds', async () => {
    const w = await world();
    const inNicSubnet = structuredClone(w.body);
    inNicSubnet.properties.gatewayIPConfigurations[0].properties.subnet.id = w.net.subnetId;
    const a = await client.call('PUT', w.id, inNicSubnet);
    expect(a.status).toBe(400);
    expect(a.body.error.code).toBe('ApplicationGatewaySubnetCannotBeUsedByOtherResources');
    const heldIp = structuredClone(w.body);
    heldIp.properties.frontendIPConfigurations[0].properties.publicIPAddress.id = w.net.pipId;
    const b = await client.call('PUT', w.id, heldIp);
    expect(b.status).toBe(400);
    expect(b.body.error.code).toBe('PublicIPAddressInUse');
    expect((await client.call('GET', w.id)).status).toBe(404);
  });

  it('refuses v1, a rule without priority, a reference to a missing part, an unknown member', async () => {
    const w = await world();
    const cases: [string, (b: Record<string, any>) => void, number, string][] = [
      ['v1', (b) => (b.properties.sku = { name: 'Standard_Medium', tier: 'Standard', capacity: 1 }), 400, 'ApplicationGatewayV1SkuCreationNotAllowed'],
      ['no priority', (b) => delete b.properties.requestRoutingRules[0].properties.priority, 400, 'ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty'],
      ['same priority', (b) => (b.properties.requestRoutingRules[1].properties.priority = 100), 400, 'ApplicationGatewayRequestRoutingRulePriorityAlreadyExists'],
      ['missing probe', (b) => (b.properties.probes = []), 400, 'InvalidResourceReference'],
      ['probe without host', (b) => delete b.properties.probes[0].properties.host, 400, 'ApplicationGatewayProbeHostIsNotSpecified'],
      ['https without certificate', (b) => delete b.properties.httpListeners[0].properties.sslCertificate, 400, 'InvalidParameter'],
      ['unknown member', (b) => (b.properties.backendHttpSettingsCollection[0].properties.validateCertChain = false), 400, 'InvalidRequestContent'],
    ];
    for (const [what, edit, status, code] of cases) {
      const body = structuredClone(w.body);
      edit(body);
      const r = await client.call('PUT', w.id, body);
      expect([what, r.status, r.body.error?.code]).toEqual([what, status, code]);
    }
    expect((await client.call('GET', w.id)).status).toBe(404);
  });

  it('the certificate: a PFX that opens with its password and holds the certificate\'s key, or a Key Vault secret with an identity', async () => {
    const wrongPassword = await world({ data: writePfx(site.certPem, site.keyPem, 'pw').toString('base64'), password: 'nope' });
    const r = await client.call('PUT', wrongPassword.id, wrongPassword.body);
    expect(r.body.error.code).toBe('ApplicationGatewaySslCertificateInvalidData');
    const mismatch = structuredClone(wrongPassword.body);
    mismatch.properties.sslCertificates[0].properties = { data: writePfx(site.certPem, other.keyPem, 'pw').toString('base64'), password: 'pw' };
    expect((await client.call('PUT', wrongPassword.id, mismatch)).body.error.code).toBe('ApplicationGatewaySslCertificateInvalidData');
    const vault = structuredClone(wrongPassword.body);
    vault.properties.sslCertificates[0].properties = { keyVaultSecretId: 'https://v.vault.azure.net/secrets/site' };
    expect((await client.call('PUT', wrongPassword.id, vault)).body.error.code).toBe('ApplicationGatewayKeyVaultSecretRequiresIdentity');
    expect((await client.call('GET', wrongPassword.id)).status).toBe(404);
  });
});
