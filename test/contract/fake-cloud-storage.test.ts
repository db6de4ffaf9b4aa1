// The fake cloud's own promises (SPEC.md), continued: disks, snapshots, images, labels, schedules,
// injected faults and capabilities.
import { describe, expect, it } from 'vitest';
import { CloudError } from '../../src/core/errors.js';
import { failure, fakeCloud, PUBLISHED, scene, ZONE_B } from './fake-fixtures.js';

describe('fake cloud: disks and snapshots', () => {
  it('a snapshot completes after its polls, reports progress, and may be broken', async () => {
    const { fake, spec } = await scene({ delays: { snapshot: { polls: 4 } } });
    const i = await fake.ensureInstance(spec());
    const diskId = i.disks.find((d) => d.role === 'data')!.diskId;
    const snap = await fake.createSnapshot({ deployment: 'prod', diskId, labels: { deployment: 'prod' }, description: 'd', operation: 'op-1' });
    expect(snap).toMatchObject({ state: 'pending', progress: '0%' });
    expect(await fake.describeSnapshot(snap.id)).toMatchObject({ state: 'pending', progress: '25%' });
    await fake.waitForSnapshot(snap.id, 60_000);
    const broken = await fake.createSnapshot({ deployment: 'prod', diskId, labels: { deployment: 'prod' }, description: 'd', operation: 'op-2' });
    fake.breakResource(broken.id);
    expect((await failure(fake.waitForSnapshot(broken.id, 60_000))).code).toBe('snapshot-error');
  });

  it('snapshots taken at the same moment are listed newest first by creation', async () => {
    const { fake, spec } = await scene({ delays: { snapshot: { polls: 0 } } });
    const i = await fake.ensureInstance(spec());
    const diskId = i.disks.find((d) => d.role === 'data')!.diskId;
    const ids: string[] = [];
    for (const op of ['a', 'b', 'c']) ids.push((await fake.createSnapshot({ deployment: 'prod', diskId, labels: { deployment: 'prod' }, description: op, operation: op })).id);
    expect((await fake.listSnapshots('prod')).map((s) => s.id)).toEqual(ids.reverse());
  });

  it('disks: other zones, second instances, attached deletes and root detaches are refused; a builder takes its disks along', async () => {
    const { fake, spec } = await scene();
    const a = await fake.ensureInstance(spec({ key: 'a', keep: false }));
    const b = await fake.ensureInstance(spec({ key: 'b', data: { mode: 'none' } }));
    const dataId = a.disks.find((d) => d.role === 'data')!.diskId;
    const rootId = a.disks.find((d) => d.role === 'root')!.diskId;
    expect((await failure(fake.attachDataDisk(dataId, b.id, 60_000))).code).toBe('disk-in-use');
    expect((await failure(fake.deleteDisk(dataId))).code).toBe('disk-in-use');
    expect((await failure(fake.detachDisk(rootId, a.id, 60_000))).code).toBe('disk-is-root');
    const far = await fake.ensureInstance({ ...spec({ key: 'far', data: { mode: 'none' } }), placement: await fake.resolvePlacement(undefined, [ZONE_B]) });
    await fake.stopInstance(a.id);
    await fake.waitForInstanceState(a.id, 'stopped', 60_000);
    await fake.detachDisk(dataId, a.id, 60_000);
    expect((await failure(fake.attachDataDisk(dataId, far.id, 60_000))).code).toBe('disk-zone-mismatch');
    await fake.attachDataDisk(dataId, a.id, 60_000);
    await fake.terminateInstance(a.id);
    await fake.waitForInstanceState(a.id, 'terminated', 60_000);
    // Reattached by attachDataDisk, the data disk is kept; only what was made to go goes.
    expect(await fake.describeDisk(rootId)).toBeUndefined();
    expect((await fake.describeDisk(dataId))?.state).toBe('available');
    const builder = await fake.ensureInstance({ ...spec({ key: 'builder', keep: false }), role: 'builder' });
    await fake.terminateInstance(builder.id);
    await fake.waitForInstanceState(builder.id, 'terminated', 60_000);
    for (const d of builder.disks) expect(await fake.describeDisk(d.diskId)).toBeUndefined();
  });

  it('a disk from a snapshot needs a completed snapshot, a zone of the region and room for it', async () => {
    const { fake, spec } = await scene({ delays: { snapshot: { polls: 2 } } });
    const i = await fake.ensureInstance(spec());
    const diskId = i.disks.find((d) => d.role === 'data')!.diskId;
    const snap = await fake.createSnapshot({ deployment: 'prod', diskId, labels: { deployment: 'prod' }, description: 'd', operation: 'op' });
    const ask = (o: { zone?: string; size?: number; key: string }) =>
      fake.createDiskFromSnapshot({ deployment: 'prod', zone: o.zone ?? ZONE_B, snapshotId: snap.id, disk: { sizeGiB: o.size ?? 500, type: 'ssd' }, labels: {}, idempotencyKey: o.key });
    expect((await failure(ask({ key: 'k1' }))).code).toBe('snapshot-not-ready');
    await fake.waitForSnapshot(snap.id, 60_000);
    expect((await failure(ask({ key: 'k2', zone: 'elsewhere-1a' }))).code).toBe('zone-not-found');
    expect((await failure(ask({ key: 'k3', size: 100 }))).code).toBe('disk-too-small');
    expect((await ask({ key: 'k4' })).state).toBe('creating');
  });

  it('the initialisation rate is honoured where the capability holds, and ignored elsewhere', async () => {
    for (const [profile, expected] of [['aws', 'initializing'], ['gcp', 'unknown']] as const) {
      const { fake, spec } = await scene({ profile, delays: { snapshot: { polls: 0 } } });
      const i = await fake.ensureInstance(spec());
      const diskId = i.disks.find((d) => d.role === 'data')!.diskId;
      const snap = await fake.createSnapshot({ deployment: 'prod', diskId, labels: {}, description: 'd', operation: 'op' });
      const disk = await fake.createDiskFromSnapshot({
        deployment: 'prod', zone: i.zone, snapshotId: snap.id, disk: { sizeGiB: 500, type: 'ssd' }, initializationRateMiBps: 300, labels: {}, idempotencyKey: 'k',
      });
      expect((await fake.diskInitialization(disk.id)).state).toBe(expected);
      if (profile === 'aws') {
        fake.settle();
        expect(await fake.diskInitialization(disk.id)).toMatchObject({ state: 'completed', progressPercent: 100 });
      }
    }
  });
});

describe('fake cloud: images', () => {
  it('findImage: newest version of published and built, size and "v" respected; a base image apart; published never deleted', async () => {
    const fake = fakeCloud({
      images: [
        PUBLISHED,
        { id: 'img-old', name: 'Sourcegraph-XS (v5.1.0) m6a.2xlarge', version: '5.1.0', size: 'XS', kind: 'published' },
        { id: 'img-old-s', name: 'Sourcegraph-S (v5.1.0) m6a.4xlarge', version: '5.1.0', size: 'S', kind: 'published' },
        { id: 'img-base', name: 'Linux 2026', kind: 'base' },
      ],
    });
    expect((await fake.findImage({ version: 'latest' }))?.id).toBe(PUBLISHED.id);
    expect((await fake.findImage({ version: 'v5.1.0', size: 's' }))?.id).toBe('img-old-s');
    expect((await fake.findImage({ version: 'not-a-version' }))).toBeUndefined();
    expect((await fake.findBaseImage())?.id).toBe('img-base');
    expect((await failure(fake.deleteImage(PUBLISHED.id))).code).toBe('image-not-ours');
  });

  it('a build images only a stopped builder; as GCE the data disk is a template apart, which a launch must name', async () => {
    const { fake, spec } = await scene({ profile: 'gcp' });
    const labels = { build: 'b1', 'build-run': 'r1', role: 'builder', version: '6.13.100' };
    const builder = await fake.ensureInstance({ ...spec({ key: 'builder', keep: false, labels }), role: 'builder' });
    const imageSpec = { buildName: 'b1', runId: 'r1', name: 'sg-6-13', description: 'd', labels: { ...labels, role: 'image' } };
    expect((await failure(fake.createImageFromBuilder(builder.id, imageSpec))).code).toBe('builder-not-stopped');
    await fake.stopInstance(builder.id);
    await fake.waitForInstanceState(builder.id, 'stopped', 60_000);
    const image = await fake.waitForImage((await fake.createImageFromBuilder(builder.id, imageSpec)).id, imageSpec, 60_000);
    expect(image.dataTemplateId).toMatch(/^snap-/);
    expect((await failure(fake.deleteSnapshot(image.dataTemplateId!))).code).toBe('snapshot-in-use');
    const blank = await fake.ensureInstance({ ...spec({ key: 'blank' }), imageId: image.id });
    const filled = await fake.ensureInstance({ ...spec({ key: 'filled' }), imageId: image.id, dataTemplateId: image.dataTemplateId! });
    const source = async (id: string) => (await fake.describeDisk(id))?.sourceSnapshotId;
    expect(await source(blank.disks.find((d) => d.role === 'data')!.diskId)).toBeUndefined();
    expect(await source(filled.disks.find((d) => d.role === 'data')!.diskId)).toBe(image.dataTemplateId);
    const removed = await fake.deleteImage(image.id);
    expect(removed).toHaveLength(2);
    expect(removed).toContain(image.dataTemplateId);
    expect(fake.state.snapshots.filter((s) => removed.includes(s.id))).toEqual([]);
  });

  it('waitForImage stops at once with exit 130 when its signal aborts', async () => {
    const { fake, spec } = await scene({ delays: { image: { polls: 50 } } });
    const builder = await fake.ensureInstance({ ...spec({ key: 'builder', labels: { build: 'b', role: 'builder' } }), role: 'builder' });
    await fake.stopInstance(builder.id);
    await fake.waitForInstanceState(builder.id, 'stopped', 60_000);
    const imageSpec = { buildName: 'b', runId: 'r', name: 'n', description: 'd', labels: { build: 'b' } };
    const image = await fake.createImageFromBuilder(builder.id, imageSpec);
    const abort = new AbortController();
    abort.abort();
    expect(await failure(fake.waitForImage(image.id, imageSpec, 60 * 60_000, abort.signal))).toMatchObject({ code: 'interrupted', exitCode: 130 });
  });
});

describe('fake cloud: labels, schedules, faults, dry runs', () => {
  it('labels every cloud could not store are refused, and a label change is all or nothing', async () => {
    const { fake, spec } = await scene();
    const i = await fake.ensureInstance(spec());
    expect((await failure(fake.setLabels([i.id], { ['Name' as 'owner']: 'x' }))).code).toBe('invalid-label');
    expect((await failure(fake.setLabels([i.id], { owner: 'X'.repeat(40) }))).code).toBe('invalid-label');
    expect((await failure(fake.setLabels([i.id, 'inst-424242'], { owner: 'me' }))).code).toBe('resource-not-found');
    expect((await fake.describeInstance(i.id))?.labels.owner).toBeUndefined();
    await fake.setLabels([i.id], { 'lock-abc123': 'held' });
    expect((await fake.describeInstance(i.id))?.labels['lock-abc123']).toBe('held');
  });

  it('a schedule snapshots the data disks nightly with their labels, keeping `retain`; absent without the capability', async () => {
    const { fake, spec } = await scene({ delays: { snapshot: { polls: 0 } } });
    await fake.ensureInstance(spec());
    await fake.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 2, params: {} });
    for (let n = 0; n < 3; n++) fake.runSnapshotSchedules();
    const scheduled = await fake.listSnapshots('prod');
    expect(scheduled).toHaveLength(2);
    expect(scheduled[0]).toMatchObject({ state: 'completed', labels: { purpose: 'scheduled', version: '6.12.5040', role: 'data-volume' } });
    const azure = fakeCloud({ profile: 'azure' });
    expect((await failure(azure.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 2, params: {} }))).code).toBe('capability-unavailable');
    expect(azure.scheduleRequests({ deployment: 'prod', schedule: 'daily', retain: 2, params: {} })).toEqual([]);
  });

  it('faults: by method, for some calls or some arguments; not-found answers as the port does', async () => {
    const { fake, spec } = await scene();
    fake.inject({ method: 'ensureInstance', kind: 'insufficient-capacity', when: (s) => (s as { placement: { zone: string } }).placement.zone === 'fake-region-1a' });
    expect((await failure(fake.ensureInstance(spec()))).code).toBe('insufficient-capacity');
    const inB = { ...spec({ key: 'b' }), placement: await fake.resolvePlacement(undefined, [ZONE_B]) };
    const made = await fake.ensureInstance(inB);
    fake.clearFaults();
    fake.failNext('whoAmI', 'credentials');
    expect(await failure(fake.whoAmI())).toMatchObject({ code: 'credentials', exitCode: 3 });
    expect((await fake.whoAmI()).account).toBe('fake-account');
    fake.inject({ method: 'describeInstance', kind: 'not-found', times: 2 });
    expect(await fake.describeInstance(made.id)).toBeUndefined();
    fake.failNext('deleteDisk', 'not-found');
    const dataId = made.disks.find((d) => d.role === 'data')!.diskId;
    await fake.deleteDisk(dataId);
    expect(await fake.describeDisk(dataId)).toBeDefined();
    fake.failNext('attachDataDisk', 'not-found');
    expect((await failure(fake.attachDataDisk(dataId, made.id, 1))).code).toBe('resource-not-found');
    fake.failNext('listDeployments', new CloudError('custom', 'scripted'));
    expect((await failure(fake.listDeployments())).code).toBe('custom');
    expect(fake.calls.filter((c) => c.outcome === 'injected').map((c) => c.method)).toEqual([
      'ensureInstance', 'whoAmI', 'describeInstance', 'deleteDisk', 'attachDataDisk', 'listDeployments',
    ]);
  });

  it('the preflight exists only where the capability does, and refuses what the launch would', async () => {
    const aws = await scene();
    await aws.fake.checkInstancePermissions(aws.spec());
    expect((await failure(aws.fake.checkInstancePermissions(aws.spec({ machineType: 'standard-96' })))).code).toBe('instance-type-unavailable');
    expect(aws.fake.mutatingCalls().map((c) => c.method)).toEqual(['ensureAccessPolicy']);
    const gce = await scene({ profile: 'gcp' });
    expect((await failure(gce.fake.checkInstancePermissions(gce.spec()))).code).toBe('capability-unavailable');
  });

  it('the dry-run builders change nothing and are not mutating calls', async () => {
    const { fake, spec, placement } = await scene();
    const before = JSON.stringify(fake.state);
    const access = { deployment: 'prod', labels: { deployment: 'prod' }, name: 'p', placement, rules: [] };
    const requests = fake.launchRequests({ sshKey: { mode: 'none' }, access, instance: spec(), address: { mode: 'none' } });
    expect(requests.map((r) => r.operation)).toEqual(['CreateAccessPolicy', 'SetAccessRules', 'CreateInstance']);
    expect(fake.instanceRequests(spec({ data: { mode: 'existing', diskId: 'disk-1' } }))[0]?.input.dataDisk).toMatchObject({ bootGuard: true, attachAfterCreate: 'disk-1' });
    expect(JSON.stringify(fake.state)).toBe(before);
    expect(fake.mutatingCalls().map((c) => c.method)).toEqual(['ensureAccessPolicy']);
  });
});
