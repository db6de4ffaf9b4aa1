// The GCE emulator's global external Application Load Balancer (tls --tls managed) over real HTTP:
// the parts are made in dependency order and refuse references to what does not exist, a part in
// use cannot be deleted (only the reverse order works), a managed certificate is PROVISIONING until
// it is served and its domain resolves to the load balancer (or a test sets it), and a global
// address is shared by the 443 and 80 rules.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GceTestClient } from './gce-emulator/client.js';
import { instanceBody } from './gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from './gce-emulator/index.js';

const ZONE = 'us-central1-b';
const DOMAIN = 'sourcegraph.example.com';
let gce: GceEmulator;
let api: GceTestClient;

beforeAll(async () => {
  gce = await startGceEmulator();
  api = new GceTestClient(gce.endpoint, gce.project);
});
afterAll(() => gce.stop());
beforeEach(() => gce.reset());

const g = (path: string) => `projects/sgl-test-project/global/${path}`;

/** The whole load balancer for one instance, the way the adapter builds it. */
async function build(): Promise<string> {
  await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('web', { zone: ZONE }));
  await api.mutate('POST', 'global/sslCertificates', { name: 'cert', type: 'MANAGED', managed: { domains: [DOMAIN] } });
  await api.mutate('POST', `zones/${ZONE}/instanceGroups`, { name: 'ig', namedPorts: [{ name: 'https', port: 443 }], network: 'global/networks/default' });
  await api.mutate('POST', `zones/${ZONE}/instanceGroups/ig/addInstances`, { instances: [{ instance: `zones/${ZONE}/instances/web` }] });
  await api.mutate('POST', 'global/healthChecks', { name: 'hc', type: 'HTTPS', httpsHealthCheck: { port: 443, requestPath: '/healthz' } });
  await api.mutate('POST', 'global/backendServices', {
    name: 'be', protocol: 'HTTPS', portName: 'https', loadBalancingScheme: 'EXTERNAL_MANAGED', healthChecks: [g('healthChecks/hc')], backends: [{ group: `zones/${ZONE}/instanceGroups/ig` }],
  });
  await api.mutate('POST', 'global/urlMaps', { name: 'map', defaultService: g('backendServices/be') });
  await api.mutate('POST', 'global/urlMaps', { name: 'redirect', defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: 'MOVED_PERMANENTLY_DEFAULT' } });
  await api.mutate('POST', 'global/targetHttpsProxies', { name: 'https', urlMap: g('urlMaps/map'), sslCertificates: [g('sslCertificates/cert')] });
  await api.mutate('POST', 'global/targetHttpProxies', { name: 'http', urlMap: g('urlMaps/redirect') });
  await api.mutate('POST', 'global/addresses', { name: 'ip' });
  const ip = (await api.get<{ address: string; status: string }>('global/addresses/ip')).body;
  expect(ip.status).toBe('RESERVED');
  await api.mutate('POST', 'global/forwardingRules', { name: 'fr-https', IPAddress: ip.address, IPProtocol: 'TCP', portRange: '443', target: g('targetHttpsProxies/https'), loadBalancingScheme: 'EXTERNAL_MANAGED' });
  await api.mutate('POST', 'global/forwardingRules', { name: 'fr-http', IPAddress: g('addresses/ip'), portRange: '80', target: g('targetHttpProxies/http'), loadBalancingScheme: 'EXTERNAL_MANAGED' });
  return ip.address;
}

async function dnsZone(ip?: string): Promise<void> {
  const dns = (method: string, path: string, body?: unknown) => fetch(`${gce.endpoint}/dns/v1/projects/${gce.project}/${path}`, { method, headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  expect((await dns('POST', 'managedZones', { name: 'example', dnsName: 'example.com.', description: '', visibility: 'public' })).status).toBe(200);
  if (ip) expect((await dns('POST', 'managedZones/example/rrsets', { name: `${DOMAIN}.`, type: 'A', ttl: 300, rrdatas: [ip] })).status).toBe(200);
}

describe('the load balancer\'s parts', () => {
  it('are made in dependency order; the address is shared by both rules and in use; the group lists its instance', async () => {
    const ip = await build();
    const address = (await api.get<{ status: string; users: string[] }>('global/addresses/ip')).body;
    expect(address.status).toBe('IN_USE');
    expect(address.users).toHaveLength(2);
    const members = await api.post<{ items: { instance: string }[] }>(`zones/${ZONE}/instanceGroups/ig/listInstances`, { instanceState: 'ALL' });
    expect(members.body.items.map((i) => i.instance)).toEqual([expect.stringMatching(/\/zones\/us-central1-b\/instances\/web$/)]);
    expect((await api.get<{ size: number }>(`zones/${ZONE}/instanceGroups/ig`)).body.size).toBe(1);
    // A second member of the same instance, a second rule on 443 of the address: refused.
    const again = await api.post(`zones/${ZONE}/instanceGroups/ig/addInstances`, { instances: [{ instance: `zones/${ZONE}/instances/web` }] });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: { errors: [{ reason: 'memberAlreadyExists' }] } });
    const clash = await api.post('global/forwardingRules', { name: 'fr-2', IPAddress: ip, portRange: '443', target: g('targetHttpsProxies/https'), loadBalancingScheme: 'EXTERNAL_MANAGED' });
    expect(clash.status).toBe(400);
    // The scheme must be the backend service's.
    const scheme = await api.post('global/forwardingRules', { name: 'fr-3', portRange: '443', target: g('targetHttpsProxies/https'), loadBalancingScheme: 'EXTERNAL' });
    expect(scheme.status).toBe(400);
    expect(JSON.stringify(scheme.body)).toContain('EXTERNAL_MANAGED');
    const redirect = (await api.get<Record<string, unknown>>('global/urlMaps/redirect')).body;
    expect(redirect.defaultUrlRedirect).toEqual({ httpsRedirect: true, stripQuery: false, redirectResponseCode: 'MOVED_PERMANENTLY_DEFAULT' });
  });

  it('refuse references to what does not exist, and bodies the schema refuses', async () => {
    const missing = await api.post('global/backendServices', { name: 'be', protocol: 'HTTPS', healthChecks: [g('healthChecks/nope')] });
    expect(missing.status).toBe(404);
    const badType = await api.post('global/sslCertificates', { name: 'c', type: 'MANAGED', managed: { domains: ['*.example.com'] } });
    expect(badType.status).toBe(400);
    const unknown = await api.post('global/urlMaps', { name: 'm', defaultService: g('backendServices/x'), color: 'red' });
    expect(unknown.status).toBe(400);
    const both = await api.post('global/urlMaps', { name: 'm' });
    expect(both.status).toBe(400);
    const noCert = await api.post('global/targetHttpsProxies', { name: 'p', urlMap: g('urlMaps/m') });
    expect(noCert.status).toBe(404);
  });

  it('in use cannot be deleted; the reverse order deletes everything and releases the address', async () => {
    await build();
    const inUse = async (path: string) => {
      const r = await api.delete(path);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toMatchObject({ error: { errors: [{ reason: 'resourceInUseByAnotherResource' }] } });
    };
    await inUse('global/sslCertificates/cert');
    await inUse('global/urlMaps/map');
    await inUse('global/backendServices/be');
    await inUse('global/healthChecks/hc');
    await inUse(`zones/${ZONE}/instanceGroups/ig`);
    await inUse('global/targetHttpsProxies/https');
    await inUse('global/addresses/ip');
    for (const path of ['global/forwardingRules/fr-https', 'global/forwardingRules/fr-http', 'global/targetHttpsProxies/https', 'global/targetHttpProxies/http', 'global/urlMaps/map', 'global/urlMaps/redirect', 'global/backendServices/be', 'global/healthChecks/hc', `zones/${ZONE}/instanceGroups/ig`, 'global/sslCertificates/cert', 'global/addresses/ip']) {
      await api.mutate('DELETE', path);
    }
    const s = gce.control.state();
    for (const kind of ['sslCertificates', 'instanceGroups', 'healthChecks', 'backendServices', 'urlMaps', 'targetHttpsProxies', 'targetHttpProxies', 'forwardingRules'] as const) expect(s[kind], kind).toEqual([]);
    expect(s.addresses).toEqual([]);
    expect((await api.get('global/sslCertificates/cert')).status).toBe(404);
  });
});

describe('a Google-managed certificate', () => {
  it('stays PROVISIONING until served and its domain resolves to the forwarding rule, then turns ACTIVE for 90 days', async () => {
    const cert = () => api.get<{ managed: { status: string; domainStatus: Record<string, string> }; expireTime?: string }>('global/sslCertificates/cert');
    const ip = await build();
    // Served, but the domain resolves nowhere: FAILED_NOT_VISIBLE, still provisioning.
    expect((await cert()).body.managed).toMatchObject({ status: 'PROVISIONING', domainStatus: { [DOMAIN]: 'FAILED_NOT_VISIBLE' } });
    await dnsZone(ip);
    expect((await cert()).body.managed.status).toBe('PROVISIONING');
    const active = (await cert()).body;
    expect(active.managed).toMatchObject({ status: 'ACTIVE', domainStatus: { [DOMAIN]: 'ACTIVE' } });
    expect(Date.parse(active.expireTime!) - Date.now()).toBeGreaterThan(89 * 24 * 3600_000);
  });

  it('in manual mode only a test moves it: PROVISIONING → ACTIVE, or a failure', async () => {
    gce.control.configure({ certificateProvisioning: 'manual' });
    const ip = await build();
    await dnsZone(ip);
    for (let i = 0; i < 3; i++) expect((await api.get<{ managed: { status: string } }>('global/sslCertificates/cert')).body.managed.status).toBe('PROVISIONING');
    const http = await fetch(`${gce.endpoint}/emulator/ssl-certificates/cert`, { method: 'POST', body: JSON.stringify({ status: 'PROVISIONING_FAILED_PERMANENTLY' }) });
    expect(http.status).toBe(200);
    expect((await api.get<{ managed: { status: string } }>('global/sslCertificates/cert')).body.managed.status).toBe('PROVISIONING_FAILED_PERMANENTLY');
    gce.control.setCertificateStatus('cert', 'ACTIVE');
    expect((await api.get<{ managed: { status: string } }>('global/sslCertificates/cert')).body.managed.status).toBe('ACTIVE');
  });
});
