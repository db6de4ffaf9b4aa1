// The GCE emulator's catalogue and instances over real HTTP: machine types per zone, public images,
// the instance lifecycle, disks going with the instance or not, fingerprints, lists, the serial
// console and guest attributes.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GceTestClient } from './gce-emulator/client.js';
import { diskBody, instanceBody } from './gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from './gce-emulator/index.js';

const ZONE = 'us-central1-b';
let gce: GceEmulator;
let api: GceTestClient;

beforeAll(async () => {
  gce = await startGceEmulator({
    serialOutput: ({ name }) => (name === 'console-from-option' ? 'SSH host key fingerprints: from the option\n' : undefined),
    guestAttributes: ({ name }) => (name === 'attrs-from-option' ? { 'hostkeys/ssh-ed25519': 'AAAA-option' } : undefined),
  });
  api = new GceTestClient(gce.endpoint, gce.project);
});
afterAll(() => gce.stop());
beforeEach(() => gce.reset());

const message = (body: unknown) => (body as { error: { message: string } }).error.message;
const reason = (body: unknown) => (body as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason;
const statusOf = async (name: string, zone = ZONE) => (await api.get(`zones/${zone}/instances/${name}`)).body.status;

describe('catalogue', () => {
  it('offers machine types in some zones only, so a client can pick a zone that offers one', async () => {
    expect((await api.get('zones/us-central1-a/machineTypes/n2-standard-96')).status).toBe(404);
    const offered = await api.get(`zones/${ZONE}/machineTypes/n2-standard-96`);
    expect(offered.body).toMatchObject({ kind: 'compute#machineType', name: 'n2-standard-96', guestCpus: 96, memoryMb: 96 * 4096, zone: ZONE, isSharedCpu: false });
    const region = (await api.get('regions/us-central1')).body;
    const zones = (region.zones as string[]).map((z) => z.slice(z.lastIndexOf('/') + 1));
    expect(zones).toEqual(['us-central1-a', 'us-central1-b', 'us-central1-c', 'us-central1-f']);
    const offering: string[] = [];
    for (const zone of zones) if ((await api.get(`zones/${zone}/machineTypes/n2-standard-96`)).status === 200) offering.push(zone);
    expect(offering).toEqual(['us-central1-b', 'us-central1-c', 'us-central1-f']);
    expect((await api.get('zones/us-east1-b/machineTypes', { filter: 'name = n2-standard-8' })).body.items).toBeUndefined();
    const e2 = (await api.get('zones/us-east1-b/machineTypes', { filter: 'name eq e2-.*' })).body.items as { name: string; isSharedCpu: boolean }[];
    expect(e2.map((m) => m.name)).toEqual(['e2-micro', 'e2-small', 'e2-medium', 'e2-standard-2', 'e2-standard-4', 'e2-standard-8', 'e2-standard-16', 'e2-standard-32']);
    expect(e2[0]!.isSharedCpu).toBe(true);
    // And an instance of a type its zone lacks is refused up front.
    const refused = await api.post('zones/us-central1-a/instances', instanceBody('vm', { zone: 'us-central1-a', machineType: 'n2-standard-96' }));
    expect(refused.status).toBe(400);
    expect(message(refused.body)).toContain("Machine type with name 'n2-standard-96' does not exist in zone 'us-central1-a'");
  });

  it('has the four disk types, hyperdisk-balanced only in some zones', async () => {
    const names = async (zone: string) => ((await api.get(`zones/${zone}/diskTypes`)).body.items as { name: string }[]).map((d) => d.name);
    expect(await names(ZONE)).toEqual(['pd-standard', 'pd-balanced', 'pd-ssd', 'hyperdisk-balanced']);
    expect(await names('us-central1-f')).toEqual(['pd-standard', 'pd-balanced', 'pd-ssd']);
    expect((await api.get(`zones/${ZONE}/diskTypes/pd-ssd`)).body).toMatchObject({ name: 'pd-ssd', validDiskSize: '10GB-65536GB', defaultDiskSizeGb: '100' });
    const refused = await api.post('zones/us-central1-f/disks', diskBody('d', 'us-central1-f', { type: 'zones/us-central1-f/diskTypes/hyperdisk-balanced' }));
    expect(refused.status).toBe(400);
  });

  it('lists regions and zones, the project with its quotas and metadata, the default network and subnetworks', async () => {
    const regions = (await api.get('regions')).body.items as { name: string; status: string }[];
    expect(regions.map((r) => r.name)).toEqual(['us-central1', 'us-east1', 'us-west1', 'europe-west1', 'europe-west4', 'asia-southeast1']);
    expect(((await api.get('zones', { filter: 'name eq europe-west4-.*' })).body.items as unknown[]).length).toBe(3);
    gce.control.setProjectMetadata([{ key: 'enable-oslogin', value: 'TRUE' }]);
    const project = (await api.get(`/compute/v1/projects/${gce.project}`)).body;
    expect(project).toMatchObject({ name: gce.project, commonInstanceMetadata: { items: [{ key: 'enable-oslogin', value: 'TRUE' }] } });
    expect((project.quotas as { metric: string }[]).map((q) => q.metric)).toContain('SNAPSHOTS');
    expect((await api.get('global/networks/default')).body).toMatchObject({ name: 'default', autoCreateSubnetworks: true });
    expect((await api.get('global/networks/other')).status).toBe(404);
    expect(((await api.get('global/networks')).body.items as { name: string }[]).map((n) => n.name)).toEqual(['default']);
    expect(((await api.get('regions/us-east1/subnetworks')).body.items as { ipCidrRange: string }[]).map((s) => s.ipCidrRange)).toEqual(['10.142.0.0/20']);
    expect((await api.get('regions/europe-west1/subnetworks/default')).body).toMatchObject({ ipCidrRange: '10.132.0.0/20', gatewayAddress: '10.132.0.1' });
  });

  it('has the Ubuntu 24.04 family in ubuntu-os-cloud: the newest image wins, the older one is deprecated but still there', async () => {
    const family = await api.call('GET', '/compute/v1/projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64');
    expect(family.body).toMatchObject({ name: 'ubuntu-2404-noble-amd64-v20250530', family: 'ubuntu-2404-lts-amd64', status: 'READY', architecture: 'X86_64' });
    const old = await api.call('GET', '/compute/v1/projects/ubuntu-os-cloud/global/images/ubuntu-2404-noble-amd64-v20250425');
    expect(old.body).toMatchObject({ deprecated: { state: 'DEPRECATED', replacement: family.body.selfLink } });
    expect((await api.call('GET', '/compute/v1/projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-arm64')).body.architecture).toBe('ARM64');
    expect((await api.call('GET', '/compute/v1/projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts')).status).toBe(404);
  });
});

describe('instance lifecycle', () => {
  it('PROVISIONING → STAGING → RUNNING; stop → STOPPING → TERMINATED; start again; delete', async () => {
    const insert = (await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }))).body;
    expect(gce.control.state().instances[0]!.status).toBe('PROVISIONING');
    // Reading the instance counts as a poll of the operation changing it.
    expect(await statusOf('vm')).toBe('STAGING');
    expect(await statusOf('vm')).toBe('RUNNING');
    expect((await api.get(`zones/${ZONE}/operations/${insert.name as string}`)).body.status).toBe('DONE');

    const stop = (await api.post(`zones/${ZONE}/instances/vm/stop`)).body;
    expect(stop).toMatchObject({ operationType: 'stop', status: 'PENDING' });
    expect(gce.control.state().instances[0]!.status).toBe('STOPPING');
    const again = await api.post(`zones/${ZONE}/instances/vm/stop`);
    expect(again.status).toBe(400);
    expect(reason(again.body)).toBe('resourceNotReady');
    await api.pollUntilDone(stop);
    expect(await statusOf('vm')).toBe('TERMINATED');
    const noop = (await api.post(`zones/${ZONE}/instances/vm/stop`)).body;
    expect(noop.status).toBe('DONE');

    const start = (await api.post(`zones/${ZONE}/instances/vm/start`)).body;
    expect(gce.control.state().instances[0]!.status).toBe('PROVISIONING');
    await api.pollUntilDone(start);
    expect(await statusOf('vm')).toBe('RUNNING');
    expect((await api.post(`zones/${ZONE}/instances/vm/start`)).body.status).toBe('DONE');

    const del = (await api.delete(`zones/${ZONE}/instances/vm`)).body;
    expect(await statusOf('vm')).toBe('STOPPING');
    await api.pollUntilDone(del);
    expect((await api.get(`zones/${ZONE}/instances/vm`)).status).toBe(404);
  });

  it('without reads advancing, only polling the operation moves the instance on', async () => {
    gce.control.configure({ readsAdvance: false });
    const insert = (await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }))).body;
    expect(await statusOf('vm')).toBe('PROVISIONING');
    expect(await statusOf('vm')).toBe('PROVISIONING');
    await api.pollUntilDone(insert);
    expect(await statusOf('vm')).toBe('RUNNING');
  });

  it('gives attached disks their device names, deletes auto-delete disks with the instance and keeps the others', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('data', ZONE, { sizeGb: '200' }));
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('scratch', ZONE));
    const body = instanceBody('vm', {
      zone: ZONE,
      dataDisks: [
        { source: `zones/${ZONE}/disks/data`, deviceName: 'sourcegraph-data', autoDelete: false },
        { source: `projects/${gce.project}/zones/${ZONE}/disks/scratch`, autoDelete: true },
      ],
    });
    await api.mutate('POST', `zones/${ZONE}/instances`, body);
    const vm = (await api.get(`zones/${ZONE}/instances/vm`)).body;
    const disks = vm.disks as { deviceName: string; boot: boolean; autoDelete: boolean; source: string; index: number }[];
    expect(disks.map((d) => [d.index, d.deviceName, d.boot, d.autoDelete])).toEqual([
      [0, 'boot', true, true],
      [1, 'sourcegraph-data', false, false],
      [2, 'persistent-disk-2', false, true],
    ]);
    expect(disks[0]!.source).toMatch(/\/zones\/us-central1-b\/disks\/vm$/);
    expect((await api.get(`zones/${ZONE}/disks/vm`)).body).toMatchObject({ sizeGb: '50', status: 'READY', users: [vm.selfLink] });
    expect((await api.get(`zones/${ZONE}/disks/data`)).body.users).toEqual([vm.selfLink]);

    await api.mutate('DELETE', `zones/${ZONE}/instances/vm`);
    expect((await api.get(`zones/${ZONE}/disks/vm`)).status).toBe(404);
    expect((await api.get(`zones/${ZONE}/disks/scratch`)).status).toBe(404);
    const data = (await api.get(`zones/${ZONE}/disks/data`)).body;
    expect(data.status).toBe('READY');
    expect(data.users).toBeUndefined();
  });

  it('checks disks at insert: one boot disk first, unique device names, secure boot needs a UEFI image', async () => {
    const base = instanceBody('vm', { zone: ZONE });
    const boot = (base.disks as object[])[0]!;
    const bad = [
      { disks: [{ ...boot, boot: false }] },
      { disks: [{ source: `zones/${ZONE}/disks/x`, deviceName: 'data' }, boot] },
      { disks: [boot, { deviceName: 'boot', initializeParams: { diskSizeGb: '10' } }] },
      { disks: [{ ...boot, deviceName: 'Data' }] },
      { disks: [{ boot: true, initializeParams: { diskSizeGb: '10' } }] },
      { disks: [boot, { deviceName: 'a', initializeParams: { diskName: 'twice' } }, { deviceName: 'b', initializeParams: { diskName: 'twice' } }] },
    ];
    for (const change of bad) expect((await api.post(`zones/${ZONE}/instances`, { ...base, ...change })).status, JSON.stringify(change)).toBe(400);
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('blank', ZONE, { sizeGb: '10' }));
    await api.mutate('POST', 'global/images', { name: 'no-uefi', sourceDisk: `zones/${ZONE}/disks/blank` });
    const secure = await api.post(`zones/${ZONE}/instances`, { ...base, disks: [{ ...boot, initializeParams: { sourceImage: 'global/images/no-uefi' } }] });
    expect(message(secure.body)).toContain('UEFI_COMPATIBLE');
  });

  it('fails the operation when a disk the insert would create already exists', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('vm', ZONE));
    const op = (await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }))).body;
    const { final } = await api.pollUntilDone(op);
    expect(final).toMatchObject({ httpErrorStatusCode: 409, error: { errors: [{ code: 'RESOURCE_ALREADY_EXISTS' }] } });
    expect((await api.get(`zones/${ZONE}/instances/vm`)).status).toBe(404);
  });

  it('refuses to delete an instance with deletion protection', async () => {
    await api.mutate('POST', `zones/${ZONE}/instances`, { ...instanceBody('vm', { zone: ZONE }), deletionProtection: true });
    expect((await api.delete(`zones/${ZONE}/instances/vm`)).status).toBe(400);
  });
});

describe('labels, metadata and tags need the current fingerprint', () => {
  beforeEach(() => api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE, labels: { role: 'app' }, tags: ['web'], metadata: { 'ssh-keys': 'sg:ssh-ed25519 AAAA sg' } })));

  it('setLabels replaces the map when DONE; a stale or missing fingerprint is 412 conditionNotMet', async () => {
    const before = (await api.get(`zones/${ZONE}/instances/vm`)).body;
    const op = (await api.post(`zones/${ZONE}/instances/vm/setLabels`, { labels: { role: 'app', version: '5-1-0' }, labelFingerprint: before.labelFingerprint })).body;
    expect(gce.control.state().instances[0]!.labels).toEqual({ role: 'app' });
    await api.pollUntilDone(op);
    const after = (await api.get(`zones/${ZONE}/instances/vm`)).body;
    expect(after.labels).toEqual({ role: 'app', version: '5-1-0' });
    expect(after.labelFingerprint).not.toBe(before.labelFingerprint);
    for (const body of [{ labels: {}, labelFingerprint: before.labelFingerprint }, { labels: {} }]) {
      const stale = await api.post(`zones/${ZONE}/instances/vm/setLabels`, body);
      expect(stale.status).toBe(412);
      expect(stale.body).toMatchObject({ error: { code: 412, errors: [{ reason: 'conditionNotMet' }] } });
    }
  });

  it('validates labels with the Google Cloud rules', async () => {
    const fp = (await api.get(`zones/${ZONE}/instances/vm`)).body.labelFingerprint;
    const bad: Record<string, string>[] = [
      { Role: 'x' },
      { '1role': 'x' },
      { 'sourcegraph-launch:deployment': 'x' },
      { role: 'App' },
      { ['k'.repeat(64)]: 'x' },
      { role: 'v'.repeat(64) },
      Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])),
    ];
    for (const labels of bad) {
      const result = await api.post(`zones/${ZONE}/instances/vm/setLabels`, { labels, labelFingerprint: fp });
      expect(result.status, JSON.stringify(labels).slice(0, 80)).toBe(400);
      expect(message(result.body)).toMatch(/Invalid value for field 'resource.labels'/);
    }
    const good = { empty: '', ['k'.repeat(63)]: 'v'.repeat(63), 'snake_case-and-dash': 'x_1-2', 'ключ': 'значение' };
    await api.mutate('POST', `zones/${ZONE}/instances/vm/setLabels`, { labels: good, labelFingerprint: fp });
    expect((await api.get(`zones/${ZONE}/instances/vm`)).body.labels).toEqual(good);
    const onInsert = await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE, { labels: { Bad: 'x' } }));
    expect(onInsert.status).toBe(400);
  });

  it('setMetadata and setTags replace the whole list with the current fingerprint', async () => {
    const vm = (await api.get(`zones/${ZONE}/instances/vm`)).body as { metadata: { fingerprint: string }; tags: { fingerprint: string; items: string[] } };
    expect(vm.tags.items).toEqual(['web']);
    const items = [{ key: 'ssh-keys', value: 'sg:ssh-ed25519 BBBB sg' }, { key: 'enable-guest-attributes', value: 'TRUE' }];
    expect((await api.post(`zones/${ZONE}/instances/vm/setMetadata`, { items, fingerprint: 'AAAAAAAAAAA=' })).status).toBe(412);
    expect((await api.post(`zones/${ZONE}/instances/vm/setMetadata`, { items: [items[0], items[0]], fingerprint: vm.metadata.fingerprint })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/instances/vm/setMetadata`, { items: [{ key: 'big', value: 'x'.repeat(256 * 1024 + 1) }], fingerprint: vm.metadata.fingerprint })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/instances/vm/setMetadata`, { items: [{ key: 'bad key', value: 'x' }], fingerprint: vm.metadata.fingerprint })).status).toBe(400);
    await api.mutate('POST', `zones/${ZONE}/instances/vm/setMetadata`, { items, fingerprint: vm.metadata.fingerprint });
    expect((await api.get(`zones/${ZONE}/instances/vm`)).body.metadata).toMatchObject({ items });

    expect((await api.post(`zones/${ZONE}/instances/vm/setTags`, { items: ['sgl-x'] })).status).toBe(412);
    expect((await api.post(`zones/${ZONE}/instances/vm/setTags`, { items: ['Not_A_Tag'], fingerprint: vm.tags.fingerprint })).status).toBe(400);
    await api.mutate('POST', `zones/${ZONE}/instances/vm/setTags`, { items: ['sgl-x', 'web'], fingerprint: vm.tags.fingerprint });
    const tags = (await api.get(`zones/${ZONE}/instances/vm`)).body.tags as { items: string[]; fingerprint: string };
    expect(tags.items).toEqual(['sgl-x', 'web']);
    expect(tags.fingerprint).not.toBe(vm.tags.fingerprint);
  });
});

describe('lists', () => {
  beforeEach(async () => {
    gce.control.configure({ pollsToDone: 1 });
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('b-vm', { zone: ZONE, labels: { 'sourcegraph-launch-deployment': 'one' } }));
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('a-vm', { zone: ZONE, labels: { 'sourcegraph-launch-deployment': 'two' } }));
    await api.mutate('POST', 'zones/europe-west1-b/instances', instanceBody('c-vm', { zone: 'europe-west1-b', labels: { 'sourcegraph-launch-deployment': 'one' } }));
  });

  it('filters on labels and fields, orders by name, pages, and omits items when empty', async () => {
    const names = async (query: Record<string, string>) => (((await api.get(`zones/${ZONE}/instances`, query)).body.items ?? []) as { name: string }[]).map((i) => i.name);
    expect(await names({})).toEqual(['b-vm', 'a-vm']);
    expect(await names({ filter: 'labels.sourcegraph-launch-deployment = one' })).toEqual(['b-vm']);
    expect(await names({ filter: '(labels.sourcegraph-launch-deployment = two) AND (status = RUNNING)' })).toEqual(['a-vm']);
    expect(await names({ filter: 'labels.sourcegraph-launch-deployment:*' })).toEqual(['b-vm', 'a-vm']);
    expect(await names({ filter: 'labels.other:*' })).toEqual([]);
    expect(await names({ orderBy: 'name' })).toEqual(['a-vm', 'b-vm']);
    const first = (await api.get(`zones/${ZONE}/instances`, { maxResults: '1' })).body;
    expect((first.items as unknown[]).length).toBe(1);
    const second = (await api.get(`zones/${ZONE}/instances`, { maxResults: '1', pageToken: first.nextPageToken as string })).body;
    expect((second.items as { name: string }[])[0]!.name).toBe('a-vm');
    expect(second.nextPageToken).toBeUndefined();
    expect((await api.get('zones/us-east1-c/instances')).body).not.toHaveProperty('items');
    expect((await api.get(`zones/${ZONE}/instances`, { filter: 'labels.x = = y' })).status).toBe(400);
    expect((await api.get(`zones/${ZONE}/instances`, { orderBy: 'status' })).status).toBe(400);
  });

  it('aggregatedList has every zone, with instances or a NO_RESULTS_ON_PAGE warning', async () => {
    const body = (await api.get('aggregated/instances', { filter: 'labels.sourcegraph-launch-deployment = one' })).body;
    const items = body.items as Record<string, { instances?: { name: string }[]; warning?: { code: string } }>;
    expect(Object.keys(items)).toHaveLength(19);
    expect(items[`zones/${ZONE}`]!.instances!.map((i) => i.name)).toEqual(['b-vm']);
    expect(items['zones/europe-west1-b']!.instances!.map((i) => i.name)).toEqual(['c-vm']);
    expect(items['zones/us-east1-c']).toMatchObject({ warning: { code: 'NO_RESULTS_ON_PAGE' } });
  });
});

describe('serial port output and guest attributes', () => {
  beforeEach(() => api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE })));

  it('serves what the control API wrote, from `start`, with `next` for the following read', async () => {
    const read = async (query: Record<string, string> = {}) => (await api.get(`zones/${ZONE}/instances/vm/serialPort`, query)).body;
    expect(await read()).toMatchObject({ kind: 'compute#serialPortOutput', contents: '', start: '0', next: '0' });
    gce.control.setSerialOutput(ZONE, 'vm', 'boot line 1\n');
    const first = await read();
    expect(first).toMatchObject({ contents: 'boot line 1\n', start: '0', next: '12' });
    gce.control.setSerialOutput(ZONE, 'vm', 'ssh-ed25519 AAAA root@vm\n', { append: true });
    expect(await read({ start: first.next as string })).toMatchObject({ contents: 'ssh-ed25519 AAAA root@vm\n', start: '12' });
    expect((await read({ start: '-5' })).contents).toBe('t@vm\n');
    expect((await read({ port: '2' })).contents).toBe('');
    // The buffer keeps the last 1 MiB; an older `start` is moved forward and says so.
    gce.control.setSerialOutput(ZONE, 'vm', 'x'.repeat(1024 * 1024), { append: true });
    const moved = await read({ start: '0' });
    expect(Number(moved.start)).toBeGreaterThan(0);
    expect(Number(moved.next) - Number(moved.start)).toBe(1024 * 1024);
    expect((await api.get(`zones/${ZONE}/instances/nope/serialPort`)).status).toBe(404);
  });

  it('can take the console from the emulator option for instances the test never wrote to', async () => {
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('console-from-option', { zone: ZONE }));
    expect((await api.get(`zones/${ZONE}/instances/console-from-option/serialPort`)).body.contents).toContain('from the option');
  });

  it('guest attributes are found only when enabled, by key or by namespace', async () => {
    gce.control.setGuestAttributes(ZONE, 'vm', { 'hostkeys/ssh-ed25519': 'AAAAC3Nz', 'hostkeys/ecdsa-sha2-nistp256': 'AAAAE2Vj' });
    const byKey = () => api.get(`zones/${ZONE}/instances/vm/getGuestAttributes`, { variableKey: 'hostkeys/ssh-ed25519' });
    expect((await byKey()).status).toBe(404);
    const vm = (await api.get(`zones/${ZONE}/instances/vm`)).body as { metadata: { fingerprint: string } };
    await api.mutate('POST', `zones/${ZONE}/instances/vm/setMetadata`, { items: [{ key: 'enable-guest-attributes', value: 'TRUE' }], fingerprint: vm.metadata.fingerprint });
    expect((await byKey()).body).toMatchObject({ variableKey: 'hostkeys/ssh-ed25519', variableValue: 'AAAAC3Nz' });
    const namespace = (await api.get(`zones/${ZONE}/instances/vm/getGuestAttributes`, { queryPath: 'hostkeys/' })).body;
    expect(namespace.queryValue).toEqual({
      items: [
        { namespace: 'hostkeys', key: 'ssh-ed25519', value: 'AAAAC3Nz' },
        { namespace: 'hostkeys', key: 'ecdsa-sha2-nistp256', value: 'AAAAE2Vj' },
      ],
    });
    expect((await api.get(`zones/${ZONE}/instances/vm/getGuestAttributes`, { variableKey: 'hostkeys/ssh-rsa' })).status).toBe(404);
  });

  it('project metadata can enable guest attributes; the emulator option supplies them', async () => {
    gce.control.setProjectMetadata([{ key: 'enable-guest-attributes', value: 'true' }]);
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('attrs-from-option', { zone: ZONE }));
    const value = await api.get(`zones/${ZONE}/instances/attrs-from-option/getGuestAttributes`, { variableKey: 'hostkeys/ssh-ed25519' });
    expect(value.body.variableValue).toBe('AAAA-option');
  });
});
