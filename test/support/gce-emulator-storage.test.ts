// The GCE emulator's disks, snapshots, images and snapshot-schedule policies over real HTTP: zone
// rules, single writer, sizes from sources, snapshot progress, images from disks.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GceTestClient } from './gce-emulator/client.js';
import { diskBody, instanceBody, SNAPSHOT_SCHEDULE, UBUNTU_FAMILY } from './gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from './gce-emulator/index.js';

const ZONE = 'us-central1-b';
let gce: GceEmulator;
let api: GceTestClient;

beforeAll(async () => {
  gce = await startGceEmulator();
  api = new GceTestClient(gce.endpoint, gce.project);
});
afterAll(() => gce.stop());
beforeEach(() => gce.reset());

const reason = (body: unknown) => (body as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason;
const message = (body: unknown) => (body as { error: { message: string } }).error.message;

describe('attaching disks', () => {
  beforeEach(async () => {
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm1', { zone: ZONE }));
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm2', { zone: ZONE }));
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('data', ZONE));
  });

  it('attaches only to an instance in the same zone', async () => {
    await api.mutate('POST', 'zones/us-central1-c/disks', diskBody('elsewhere', 'us-central1-c'));
    const attach = await api.post(`zones/${ZONE}/instances/vm1/attachDisk`, { source: 'zones/us-central1-c/disks/elsewhere', deviceName: 'data' });
    expect(attach.status).toBe(400);
    expect(message(attach.body)).toContain('same zone');
    const insert = await api.post(`zones/${ZONE}/instances`, instanceBody('vm3', { zone: ZONE, dataDisks: [{ source: 'zones/us-central1-c/disks/elsewhere' }] }));
    expect(insert.status).toBe(400);
  });

  it('a READ_WRITE disk attaches to one instance; READ_ONLY to many', async () => {
    const op = (await api.post(`zones/${ZONE}/instances/vm1/attachDisk`, { source: `zones/${ZONE}/disks/data`, deviceName: 'data' })).body;
    // Claimed at once: a second writer is refused even before the first attach is DONE.
    const second = await api.post(`zones/${ZONE}/instances/vm2/attachDisk`, { source: `zones/${ZONE}/disks/data` });
    expect(second.status).toBe(400);
    expect(reason(second.body)).toBe('resourceInUseByAnotherResource');
    expect(message(second.body)).toBe(`The resource 'projects/${gce.project}/zones/${ZONE}/disks/data' is already being used by 'projects/${gce.project}/zones/${ZONE}/instances/vm1'`);
    await api.pollUntilDone(op);
    const readOnly = await api.post(`zones/${ZONE}/instances/vm2/attachDisk`, { source: `zones/${ZONE}/disks/data`, mode: 'READ_ONLY' });
    expect(reason(readOnly.body)).toBe('resourceInUseByAnotherResource');

    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('shared', ZONE));
    await api.mutate('POST', `zones/${ZONE}/instances/vm1/attachDisk`, { source: `zones/${ZONE}/disks/shared`, mode: 'READ_ONLY' });
    await api.mutate('POST', `zones/${ZONE}/instances/vm2/attachDisk`, { source: `zones/${ZONE}/disks/shared`, mode: 'READ_ONLY' });
    expect(((await api.get(`zones/${ZONE}/disks/shared`)).body.users as string[]).length).toBe(2);
    expect((await api.post(`zones/${ZONE}/instances/vm1/attachDisk`, { source: `zones/${ZONE}/disks/shared` })).status).toBe(400);
  });

  it('a disk in use cannot be deleted; detached (by device name) it can', async () => {
    await api.mutate('POST', `zones/${ZONE}/instances/vm1/attachDisk`, { source: `zones/${ZONE}/disks/data` });
    const vm = (await api.get(`zones/${ZONE}/instances/vm1`)).body;
    const attached = (vm.disks as { deviceName: string; index: number }[])[1]!;
    expect(attached).toMatchObject({ deviceName: 'persistent-disk-1', index: 1 });
    const del = await api.delete(`zones/${ZONE}/disks/data`);
    expect(del.status).toBe(400);
    expect(reason(del.body)).toBe('resourceInUseByAnotherResource');
    expect((await api.post(`zones/${ZONE}/instances/vm1/detachDisk`, undefined, { deviceName: 'nope' })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/instances/vm1/detachDisk`, undefined, { deviceName: 'boot' })).status).toBe(400);
    const detach = (await api.post(`zones/${ZONE}/instances/vm1/detachDisk`, undefined, { deviceName: 'persistent-disk-1' })).body;
    // Still in use until the detach is DONE.
    expect((await api.delete(`zones/${ZONE}/disks/data`)).status).toBe(400);
    await api.pollUntilDone(detach);
    expect((await api.get(`zones/${ZONE}/instances/vm1`)).body.disks).toHaveLength(1);
    const deletion = (await api.delete(`zones/${ZONE}/disks/data`)).body;
    expect(reason((await api.delete(`zones/${ZONE}/disks/data`)).body)).toBe('resourceNotReady');
    await api.pollUntilDone(deletion);
    expect((await api.get(`zones/${ZONE}/disks/data`)).status).toBe(404);
  });

  it('lists disks of a zone by label and relabels one with its fingerprint', async () => {
    const disk = (await api.get(`zones/${ZONE}/disks/data`)).body;
    expect((await api.post(`zones/${ZONE}/disks/data/setLabels`, { labels: { role: 'data' }, labelFingerprint: 'AAAAAAAAAAA=' })).status).toBe(412);
    await api.mutate('POST', `zones/${ZONE}/disks/data/setLabels`, { labels: { role: 'data' }, labelFingerprint: disk.labelFingerprint });
    const listed = (await api.get(`zones/${ZONE}/disks`, { filter: 'labels.role = data' })).body.items as { name: string }[];
    expect(listed.map((d) => d.name)).toEqual(['data']);
    expect(((await api.get(`zones/${ZONE}/disks`)).body.items as unknown[]).length).toBe(3);
    expect((await api.get('zones/us-central1-c/disks')).body.items).toBeUndefined();
  });

  it('grows a disk (never shrinks), and the instance sees the new size', async () => {
    await api.mutate('POST', `zones/${ZONE}/instances/vm1/attachDisk`, { source: `zones/${ZONE}/disks/data`, deviceName: 'data' });
    expect((await api.post(`zones/${ZONE}/disks/data/resize`, { sizeGb: '100' })).status).toBe(400);
    expect((await api.post(`zones/${ZONE}/disks/data/resize`, { sizeGb: '50' })).status).toBe(400);
    await api.mutate('POST', `zones/${ZONE}/disks/data/resize`, { sizeGb: '250' });
    expect((await api.get(`zones/${ZONE}/disks/data`)).body.sizeGb).toBe('250');
    const attached = ((await api.get(`zones/${ZONE}/instances/vm1`)).body.disks as { deviceName: string; diskSizeGb: string }[]).find((d) => d.deviceName === 'data');
    expect(attached!.diskSizeGb).toBe('250');
  });
});

describe('snapshots and disks from sources', () => {
  beforeEach(() => api.mutate('POST', `zones/${ZONE}/disks`, diskBody('data', ZONE, { sizeGb: '120', labels: { role: 'data' } })));

  it('a snapshot goes CREATING → UPLOADING → READY as it is polled, and cannot be deleted before', async () => {
    gce.control.configure({ pollsToDone: 3 });
    const op = (await api.post(`zones/${ZONE}/disks/data/createSnapshot`, { name: 'snap', labels: { 'sourcegraph-launch-role': 'backup' } })).body;
    expect(op).toMatchObject({ operationType: 'createSnapshot', targetLink: expect.stringMatching(/\/disks\/data$/) });
    expect(gce.control.state().snapshots[0]).toMatchObject({ name: 'snap', status: 'CREATING' });
    expect(reason((await api.delete('global/snapshots/snap')).body)).toBe('resourceNotReady');
    const seen: string[] = [];
    for (let i = 0; i < 3; i += 1) seen.push((await api.get('global/snapshots/snap')).body.status as string);
    expect(seen).toEqual(['UPLOADING', 'UPLOADING', 'READY']);
    const snap = (await api.get('global/snapshots/snap')).body;
    expect(snap).toMatchObject({ diskSizeGb: '120', storageBytesStatus: 'UP_TO_DATE', snapshotType: 'STANDARD', storageLocations: ['us'], labels: { 'sourcegraph-launch-role': 'backup' } });
    expect(Number(snap.storageBytes)).toBeGreaterThan(0);
    expect((await api.get(`zones/${ZONE}/operations/${op.name as string}`)).body.status).toBe('DONE');
    expect(((await api.get('global/snapshots', { filter: 'labels.sourcegraph-launch-role = backup' })).body.items as unknown[]).length).toBe(1);
    await api.mutate('POST', 'global/snapshots/snap/setLabels', { labels: {}, labelFingerprint: snap.labelFingerprint });
    expect((await api.get('global/snapshots/snap')).body.labels).toBeUndefined();
    await api.mutate('DELETE', 'global/snapshots/snap');
    expect((await api.get('global/snapshots/snap')).status).toBe(404);
  });

  it('a disk from a snapshot gets its size unless a larger one is asked, and waits for READY', async () => {
    const op = (await api.post(`zones/${ZONE}/disks/data/createSnapshot`, { name: 'snap' })).body;
    const early = await api.post('zones/us-central1-c/disks', { name: 'restored', sourceSnapshot: 'global/snapshots/snap' });
    expect(reason(early.body)).toBe('resourceNotReady');
    await api.pollUntilDone(op);
    await api.mutate('POST', 'zones/us-central1-c/disks', { name: 'restored', sourceSnapshot: 'global/snapshots/snap', type: 'zones/us-central1-c/diskTypes/pd-ssd' });
    expect((await api.get('zones/us-central1-c/disks/restored')).body).toMatchObject({ sizeGb: '120', sourceSnapshot: expect.stringMatching(/\/global\/snapshots\/snap$/) });
    await api.mutate('POST', `zones/${ZONE}/disks`, { name: 'bigger', sourceSnapshot: `projects/${gce.project}/global/snapshots/snap`, sizeGb: '300' });
    expect((await api.get(`zones/${ZONE}/disks/bigger`)).body.sizeGb).toBe('300');
    const smaller = await api.post(`zones/${ZONE}/disks`, { name: 'smaller', sourceSnapshot: 'global/snapshots/snap', sizeGb: '100' });
    expect(smaller.status).toBe(400);
    expect(message(smaller.body)).toContain('cannot be smaller than the snapshot size (120 GB)');
  });

  it('a disk from an image family, a type offered in its zone and a size within limits', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, { name: 'root', sourceImage: UBUNTU_FAMILY });
    expect((await api.get(`zones/${ZONE}/disks/root`)).body).toMatchObject({ sizeGb: '10', type: expect.stringMatching(/\/diskTypes\/pd-standard$/), sourceImage: expect.stringMatching(/ubuntu-2404-noble-amd64-v20250530$/) });
    await api.mutate('POST', `zones/${ZONE}/disks`, { name: 'root2' }, { sourceImage: UBUNTU_FAMILY });
    const bad = [
      { name: 'a', sourceImage: UBUNTU_FAMILY, sizeGb: '5' },
      { name: 'b', sizeGb: '5', type: `zones/${ZONE}/diskTypes/pd-ssd` },
      { name: 'c', type: 'zones/us-central1-c/diskTypes/pd-ssd' },
      { name: 'd', type: 'pd-ssd' },
      { name: 'e', sourceImage: 'global/images/missing' },
    ];
    for (const body of bad) expect((await api.post(`zones/${ZONE}/disks`, body)).status, JSON.stringify(body)).not.toBe(200);
  });
});

describe('images', () => {
  beforeEach(() => api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('builder', { zone: ZONE })));

  it('an image from a disk in use by a running instance needs forceCreate; stopped it does not', async () => {
    const refused = await api.post('global/images', { name: 'sg-image', sourceDisk: `zones/${ZONE}/disks/builder`, family: 'sourcegraph' });
    expect(reason(refused.body)).toBe('resourceInUseByAnotherResource');
    const forced = await api.post('global/images', { name: 'sg-forced', sourceDisk: `zones/${ZONE}/disks/builder` }, { forceCreate: true });
    expect(forced.status).toBe(200);
    await api.pollUntilDone(forced.body);
    await api.mutate('POST', `zones/${ZONE}/instances/builder/stop`);
    const op = (await api.post('global/images', { name: 'sg-image', sourceDisk: `zones/${ZONE}/disks/builder`, family: 'sourcegraph', labels: { 'sourcegraph-launch-version': '5-1-0' } })).body;
    expect(gce.control.state().images.find((i) => i.name === 'sg-image')!.status).toBe('PENDING');
    await api.pollUntilDone(op);
    const image = (await api.get('global/images/family/sourcegraph')).body;
    expect(image).toMatchObject({ name: 'sg-image', status: 'READY', diskSizeGb: '50', family: 'sourcegraph', architecture: 'X86_64' });
    expect((image.guestOsFeatures as { type: string }[]).map((f) => f.type)).toContain('UEFI_COMPATIBLE');
    // The image boots a new instance (with Shielded VM, as its features allow).
    const vm = instanceBody('vm', { zone: ZONE });
    ((vm.disks as { initializeParams: { sourceImage: string } }[])[0]!.initializeParams.sourceImage = 'global/images/family/sourcegraph');
    await api.mutate('POST', `zones/${ZONE}/instances`, vm);
    await api.mutate('POST', 'global/images/sg-image/setLabels', { labels: { x: 'y' }, labelFingerprint: image.labelFingerprint });
    await api.mutate('DELETE', 'global/images/sg-forced');
    expect(((await api.get('global/images')).body.items as { name: string }[]).map((i) => i.name)).toEqual(['sg-image']);
  });

  it('refuses image sources it does not model and family names that are not RFC 1035', async () => {
    expect((await api.post('global/images', { name: 'raw', rawDisk: { source: 'gs://bucket/disk.tar.gz' } })).status).toBe(400);
    expect((await api.post('global/images', { name: 'two', sourceDisk: `zones/${ZONE}/disks/builder`, sourceImage: UBUNTU_FAMILY })).status).toBe(400);
    expect((await api.post('global/images', { name: 'fam', sourceImage: UBUNTU_FAMILY, family: 'Bad_Family' })).status).toBe(400);
  });
});

describe('snapshot schedules (resource policies)', () => {
  const REGION = 'us-central1';

  it('creates a schedule, attaches it to a disk in its region, and refuses to delete it while attached', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('data', ZONE));
    const op = (await api.post(`regions/${REGION}/resourcePolicies`, { name: 'daily', snapshotSchedulePolicy: SNAPSHOT_SCHEDULE })).body;
    expect(op.region).toMatch(/\/regions\/us-central1$/);
    await api.pollUntilDone(op);
    const policy = (await api.get(`regions/${REGION}/resourcePolicies/daily`)).body;
    expect(policy).toMatchObject({ status: 'READY', snapshotSchedulePolicy: { schedule: { dailySchedule: { daysInCycle: 1, startTime: '04:00', duration: 'PT14400S' } } } });
    await api.mutate('POST', `regions/${REGION}/resourcePolicies`, { name: 'weekly', snapshotSchedulePolicy: { schedule: { weeklySchedule: { dayOfWeeks: [{ day: 'SUNDAY', startTime: '02:00' }] } } } });

    await api.mutate('POST', `zones/${ZONE}/disks/data/addResourcePolicies`, { resourcePolicies: [`regions/${REGION}/resourcePolicies/daily`] });
    expect((await api.get(`zones/${ZONE}/disks/data`)).body.resourcePolicies).toEqual([policy.selfLink]);
    const secondSchedule = await api.post(`zones/${ZONE}/disks/data/addResourcePolicies`, { resourcePolicies: [`regions/${REGION}/resourcePolicies/weekly`] });
    expect(message(secondSchedule.body)).toContain('at most one snapshot schedule');
    await api.mutate('POST', 'zones/europe-west1-b/disks', diskBody('far', 'europe-west1-b'));
    expect((await api.post('zones/europe-west1-b/disks/far/addResourcePolicies', { resourcePolicies: [`regions/${REGION}/resourcePolicies/daily`] })).status).toBe(400);

    const del = await api.delete(`regions/${REGION}/resourcePolicies/daily`);
    expect(reason(del.body)).toBe('resourceInUseByAnotherResource');
    await api.mutate('POST', `zones/${ZONE}/disks/data/removeResourcePolicies`, { resourcePolicies: [policy.selfLink] });
    expect((await api.get(`zones/${ZONE}/disks/data`)).body.resourcePolicies).toBeUndefined();
    expect((await api.post(`zones/${ZONE}/disks/data/removeResourcePolicies`, { resourcePolicies: [policy.selfLink] })).status).toBe(400);
    await api.mutate('DELETE', `regions/${REGION}/resourcePolicies/daily`);
    expect(((await api.get(`regions/${REGION}/resourcePolicies`)).body.items as { name: string }[]).map((p) => p.name)).toEqual(['weekly']);
  });

  it('checks the schedule', async () => {
    const bad = [
      { name: 'a', snapshotSchedulePolicy: { ...SNAPSHOT_SCHEDULE, schedule: { dailySchedule: { daysInCycle: 1, startTime: '04:30' } } } },
      { name: 'b', snapshotSchedulePolicy: { ...SNAPSHOT_SCHEDULE, schedule: { dailySchedule: { daysInCycle: 2, startTime: '04:00' } } } },
      { name: 'c', snapshotSchedulePolicy: { ...SNAPSHOT_SCHEDULE, schedule: {} } },
      { name: 'd', snapshotSchedulePolicy: { ...SNAPSHOT_SCHEDULE, snapshotProperties: { labels: { Bad: 'x' } } } },
      { name: 'e' },
      { snapshotSchedulePolicy: SNAPSHOT_SCHEDULE },
      { name: 'f', snapshotSchedulePolicy: SNAPSHOT_SCHEDULE, labels: { a: 'b' } },
    ];
    for (const body of bad) expect((await api.post(`regions/${REGION}/resourcePolicies`, body)).status, JSON.stringify(body)).toBe(400);
    expect(gce.control.state().resourcePolicies).toEqual([]);
  });
});
