// The GCE emulator's static addresses, access configs and firewall rules over real HTTP: an
// explicit address (a test host's) as an instance's external IP, moving it between instances,
// ephemeral IPs, and firewall rules aimed at network tags.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GceTestClient } from './gce-emulator/client.js';
import { firewallBody, instanceBody } from './gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from './gce-emulator/index.js';

const ZONE = 'us-central1-b';
const REGION = 'us-central1';
const TEST_HOST = '10.200.77.2';
let gce: GceEmulator;
let api: GceTestClient;

beforeAll(async () => {
  gce = await startGceEmulator();
  api = new GceTestClient(gce.endpoint, gce.project);
});
afterAll(() => gce.stop());
beforeEach(() => gce.reset());

const reason = (body: unknown) => (body as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason;
const natIp = async (name: string) =>
  ((await api.get(`zones/${ZONE}/instances/${name}`)).body.networkInterfaces as { accessConfigs?: { natIP?: string }[] }[])[0]!.accessConfigs?.[0]?.natIP;

describe('static addresses', () => {
  it('reserves an explicit address (RESERVING → RESERVED) or allocates one that reaches nothing', async () => {
    const op = (await api.post(`regions/${REGION}/addresses`, { name: 'sg-ip', address: TEST_HOST, networkTier: 'PREMIUM', labels: { role: 'address' } })).body;
    expect(gce.control.state().addresses[0]).toMatchObject({ status: 'RESERVING' });
    await api.pollUntilDone(op);
    expect((await api.get(`regions/${REGION}/addresses/sg-ip`)).body).toMatchObject({ address: TEST_HOST, status: 'RESERVED', addressType: 'EXTERNAL', networkTier: 'PREMIUM' });
    await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'auto' });
    expect((await api.get(`regions/${REGION}/addresses/auto`)).body.address).toMatch(/^(203\.0\.113|198\.51\.100)\./);
    const taken = await api.post('regions/us-east1/addresses', { name: 'again', address: TEST_HOST });
    expect(reason(taken.body)).toBe('resourceInUseByAnotherResource');
    expect((await api.post(`regions/${REGION}/addresses`, { name: 'bad', address: '10.200.77.300' })).status).toBe(400);
    expect((await api.post(`regions/${REGION}/addresses`, { name: 'sg-ip' })).status).toBe(409);
    const internal = await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'inside', addressType: 'INTERNAL' });
    expect(internal.status).toBe('DONE');
    expect((await api.get(`regions/${REGION}/addresses/inside`)).body.address).toMatch(/^10\.128\.0\./);
    const fp = (await api.get(`regions/${REGION}/addresses/sg-ip`)).body.labelFingerprint;
    await api.mutate('POST', `regions/${REGION}/addresses/sg-ip/setLabels`, { labels: { role: 'address', deployment: 'one' }, labelFingerprint: fp });
    expect(((await api.get(`regions/${REGION}/addresses`, { filter: 'labels.deployment = one' })).body.items as unknown[]).length).toBe(1);
  });

  it("an instance's access config with the reserved natIP makes the address IN_USE by it", async () => {
    await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'sg-ip', address: TEST_HOST });
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm1', { zone: ZONE, natIP: TEST_HOST }));
    expect(await natIp('vm1')).toBe(TEST_HOST);
    const vm1 = (await api.get(`zones/${ZONE}/instances/vm1`)).body;
    expect((await api.get(`regions/${REGION}/addresses/sg-ip`)).body).toMatchObject({ status: 'IN_USE', users: [vm1.selfLink] });
    const second = await api.post(`zones/${ZONE}/instances`, instanceBody('vm2', { zone: ZONE, natIP: TEST_HOST }));
    expect(second.status).toBe(400);
    expect(reason(second.body)).toBe('resourceInUseByAnotherResource');
    const del = await api.delete(`regions/${REGION}/addresses/sg-ip`);
    expect(reason(del.body)).toBe('resourceInUseByAnotherResource');
    await api.mutate('DELETE', `zones/${ZONE}/instances/vm1`);
    await api.mutate('DELETE', `regions/${REGION}/addresses/sg-ip`);
    expect((await api.get(`regions/${REGION}/addresses`)).body.items).toBeUndefined();
  });

  it('refuses a natIP that is not reserved, is in another region, or has another tier', async () => {
    await api.mutate('POST', 'regions/us-east1/addresses', { name: 'east', address: '10.200.77.6' });
    await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'standard', address: '10.200.77.10', networkTier: 'STANDARD' });
    for (const ip of ['10.200.77.99', '10.200.77.6', '10.200.77.10']) {
      const result = await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE, natIP: ip }));
      expect(result.status, ip).toBe(400);
    }
  });

  it('moves between instances with deleteAccessConfig then addAccessConfig, and outlives the instance', async () => {
    await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'sg-ip', address: TEST_HOST });
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('old', { zone: ZONE, natIP: TEST_HOST }));
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('new', { zone: ZONE, natIP: null }));
    expect(await natIp('new')).toBeUndefined();
    const config = { type: 'ONE_TO_ONE_NAT', name: 'External NAT', natIP: TEST_HOST, networkTier: 'PREMIUM' };
    expect((await api.post(`zones/${ZONE}/instances/new/addAccessConfig`, config, { networkInterface: 'nic0' })).status).toBe(400);
    const release = (await api.post(`zones/${ZONE}/instances/old/deleteAccessConfig`, undefined, { networkInterface: 'nic0', accessConfig: 'External NAT' })).body;
    // Released only when the delete is DONE.
    expect((await api.post(`zones/${ZONE}/instances/new/addAccessConfig`, config, { networkInterface: 'nic0' })).status).toBe(400);
    await api.pollUntilDone(release);
    expect((await api.get(`regions/${REGION}/addresses/sg-ip`)).body).toMatchObject({ status: 'RESERVED' });
    await api.mutate('POST', `zones/${ZONE}/instances/new/addAccessConfig`, config, { networkInterface: 'nic0' });
    expect(await natIp('new')).toBe(TEST_HOST);
    expect(await natIp('old')).toBeUndefined();
    expect((await api.post(`zones/${ZONE}/instances/new/addAccessConfig`, { name: 'second' }, { networkInterface: 'nic0' })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/instances/new/addAccessConfig`, config, { networkInterface: 'nic7' })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/instances/old/deleteAccessConfig`, undefined, { networkInterface: 'nic0', accessConfig: 'External NAT' })).status).toBe(400);

    await api.mutate('DELETE', `zones/${ZONE}/instances/new`);
    const address = (await api.get(`regions/${REGION}/addresses/sg-ip`)).body;
    expect(address.status).toBe('RESERVED');
    expect(address.users).toBeUndefined();
  });

  it('an ephemeral IP goes with a stop and a new one comes with the start; a reserved one stays', async () => {
    await api.mutate('POST', `regions/${REGION}/addresses`, { name: 'sg-ip', address: TEST_HOST });
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('eph', { zone: ZONE }));
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('static', { zone: ZONE, natIP: TEST_HOST }));
    const first = await natIp('eph');
    expect(first).toMatch(/^(203\.0\.113|198\.51\.100)\./);
    await api.mutate('POST', `zones/${ZONE}/instances/eph/stop`);
    await api.mutate('POST', `zones/${ZONE}/instances/static/stop`);
    expect(await natIp('eph')).toBeUndefined();
    expect(await natIp('static')).toBe(TEST_HOST);
    expect((await api.get(`regions/${REGION}/addresses/sg-ip`)).body.status).toBe('IN_USE');
    await api.mutate('POST', `zones/${ZONE}/instances/eph/start`);
    const second = await natIp('eph');
    expect(second).toMatch(/^(203\.0\.113|198\.51\.100)\./);
    expect(second).not.toBe(first);
  });
});

describe('firewall rules', () => {
  it('come with the default network, and take new rules aimed at network tags', async () => {
    const names = async () => (((await api.get('global/firewalls')).body.items ?? []) as { name: string }[]).map((f) => f.name);
    expect(await names()).toEqual(['default-allow-icmp', 'default-allow-internal', 'default-allow-rdp', 'default-allow-ssh']);
    await api.mutate('POST', 'global/firewalls', firewallBody('sgl-one-web', { description: 'sourcegraph-launch deployment one' }));
    const rule = (await api.get('global/firewalls/sgl-one-web')).body;
    expect(rule).toMatchObject({
      kind: 'compute#firewall',
      network: expect.stringMatching(/\/global\/networks\/default$/),
      direction: 'INGRESS',
      priority: 1000,
      disabled: false,
      allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }],
      sourceRanges: ['203.0.113.0/24'],
      targetTags: ['sgl-one-web'],
    });
    expect(((await api.get('global/firewalls', { filter: 'name eq sgl-one-.*' })).body.items as unknown[]).length).toBe(1);
    const bare = await startGceEmulator({ defaultFirewallRules: false });
    try {
      expect((await new GceTestClient(bare.endpoint, bare.project).get('global/firewalls')).body.items).toBeUndefined();
    } finally {
      await bare.stop();
    }
  });

  it('patch merges, update replaces, both when DONE; delete removes', async () => {
    await api.mutate('POST', 'global/firewalls', firewallBody('ssh', { allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] }));
    // The discovery document marks `name` required for patch.
    expect((await api.call('PATCH', 'global/firewalls/ssh', { body: { sourceRanges: ['198.51.100.7/32'] } })).status).toBe(400);
    const patch = (await api.call('PATCH', 'global/firewalls/ssh', { body: { name: 'ssh', sourceRanges: ['198.51.100.7/32'] } })).body;
    expect((await api.get('global/firewalls/ssh')).body.sourceRanges).toEqual(['203.0.113.0/24']);
    await api.pollUntilDone(patch);
    expect((await api.get('global/firewalls/ssh')).body).toMatchObject({ sourceRanges: ['198.51.100.7/32'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }], targetTags: ['ssh'] });
    expect((await api.call('PATCH', 'global/firewalls/ssh', { body: { name: 'other' } })).status).toBe(400);
    await api.mutate('PUT', 'global/firewalls/ssh', { name: 'ssh', allowed: [{ IPProtocol: 'tcp', ports: ['2222'] }], sourceRanges: ['0.0.0.0/0'] });
    const replaced = (await api.get('global/firewalls/ssh')).body;
    expect(replaced).toMatchObject({ allowed: [{ IPProtocol: 'tcp', ports: ['2222'] }], sourceRanges: ['0.0.0.0/0'] });
    expect(replaced.targetTags).toBeUndefined();
    expect((await api.call('PUT', 'global/firewalls/ssh', { body: { name: 'ssh', sourceRanges: ['0.0.0.0/0'] } })).status).toBe(400);
    await api.mutate('DELETE', 'global/firewalls/ssh');
    expect((await api.get('global/firewalls/ssh')).status).toBe(404);
  });

  it('refuses labels (none in this revision) and rules that do not make sense', async () => {
    const bad = [
      firewallBody('a', { labels: { deployment: 'one' } }),
      firewallBody('b', { sourceRanges: ['10.0.0.0/33'] }),
      firewallBody('c', { allowed: [{ IPProtocol: 'tcp', ports: ['70000'] }] }),
      firewallBody('d', { allowed: [{ IPProtocol: 'smtp' }] }),
      firewallBody('e', { allowed: [{ IPProtocol: 'icmp', ports: ['1'] }] }),
      firewallBody('f', { denied: [{ IPProtocol: 'tcp' }] }),
      firewallBody('g', { allowed: [] }),
      firewallBody('h', { priority: 70000 }),
      firewallBody('i', { sourceRanges: undefined }),
      firewallBody('j', { targetTags: ['Web'] }),
      firewallBody('k', { direction: 'SIDEWAYS' }),
      firewallBody('l', { targetServiceAccounts: ['sa@p.iam.gserviceaccount.com'] }),
    ];
    for (const body of bad) expect((await api.post('global/firewalls', body)).status, JSON.stringify(body)).toBe(400);
    expect((await api.post('global/firewalls', firewallBody('m', { network: 'global/networks/other' }))).status).toBe(404);
    expect(gce.control.state().firewalls).toHaveLength(4);
  });
});
