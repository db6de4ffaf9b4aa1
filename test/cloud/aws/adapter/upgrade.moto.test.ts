// The verbs of upgrade, rollback, backup and restore on moto: a hop's instance made with its data
// disk from a snapshot, or without one (behind the boot guard) and the kept disk moved to it, the
// address following the service, snapshots and volumes found again by their operation, labels.
// Outcomes asserted with a raw EC2 client.
import { DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { BOOT_GUARD_USER_DATA } from '../../../../src/cloud/aws/request-builders.js';
import { createAwsClients } from '../../../../src/cloud/aws/sdk.js';
import type { Instance, InstanceSpec, SnapshotSpec } from '../../../../src/cloud/port.js';
import { VirtualClock } from '../../../fakes/virtual-clock.js';
import { motoEc2Client, registerTestImage, startMoto, type MotoServer } from '../../../support/moto.js';
import { REGION, SCOPE, accessSpec, addressSpec, demoLaunch, deploymentLabels, instanceSpec, tagMap, type DemoLaunch } from './fixtures.js';

let moto: MotoServer;
let ec2: EC2Client;
let cloud: AwsAdapter;

beforeAll(async () => {
  moto = await startMoto();
  ec2 = motoEc2Client(moto, REGION);
});

afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  const clock = new VirtualClock();
  cloud = new AwsAdapter(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), SCOPE, {
    pollIntervalMs: 10,
    volumeTagWaitMs: 2_000,
    sleep: (ms) => clock.sleep(ms),
    now: () => clock.now(),
  });
});

const dataOf = (i: Instance) => i.disks.find((d) => d.role === 'data')?.diskId;

async function rawVolume(id: string) {
  return (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes?.[0];
}

/** A running 6.11 deployment with its address: what an upgrade starts from. */
async function launched(overrides: Partial<DemoLaunch> = {}) {
  const imageId = await registerTestImage(ec2, { name: 'Sourcegraph v6.11.2000' });
  const d = demoLaunch({ imageId, version: '6.11.2000', ...overrides });
  const placement = await cloud.resolvePlacement(undefined);
  await cloud.ensureSshKey(d.sshKey, d.deployment, deploymentLabels(d, 'key-pair'));
  const policy = await cloud.ensureAccessPolicy(accessSpec(d, placement));
  const spec = instanceSpec(d, placement, [policy.id]);
  const instance = await cloud.ensureInstance(spec);
  await cloud.waitForInstanceState(instance.id, 'running', 5_000);
  const address = (await cloud.ensureStaticAddress(addressSpec(d)))!;
  await cloud.attachStaticAddress(address.id, instance.id);
  return { d, placement, spec, instance, address };
}

/** The next version's instance, like the old one. */
async function hopSpec(old: InstanceSpec, dataDisk: InstanceSpec['dataDisk'], operation: string): Promise<InstanceSpec> {
  const imageId = await registerTestImage(ec2, { name: 'Sourcegraph v6.12.5040' });
  return { ...old, imageId, version: '6.12.5040', dataDisk, labels: { ...old.labels, version: '6.12.5040', operation }, idempotencyKey: `sgl-${operation}` };
}

function snapshotSpec(diskId: string, operation: string): SnapshotSpec {
  return {
    deployment: 'demo',
    diskId,
    labels: { deployment: 'demo', role: 'snapshot', purpose: 'pre-upgrade', 'source-version': '6.11.2000', version: '6.11.2000', size: 'XS', managed: 'true' },
    description: 'demo data before the upgrade to 6.12.5040',
    operation,
  };
}

describe('snapshots', () => {
  it('takes one per operation, waits for it, lists the deployment\u2019s newest first, and deletes twice without complaint', async () => {
    const { instance } = await launched();
    const dataDisk = dataOf(instance)!;
    const first = await cloud.createSnapshot(snapshotSpec(dataDisk, 'op1'));
    expect(await cloud.createSnapshot(snapshotSpec(dataDisk, 'op1'))).toMatchObject({ id: first.id });
    const done = await cloud.waitForSnapshot(first.id, 5_000);
    expect(done).toMatchObject({ id: first.id, state: 'completed', diskId: dataDisk, labels: { purpose: 'pre-upgrade', 'source-version': '6.11.2000', operation: 'op1' } });
    const second = await cloud.createSnapshot(snapshotSpec(dataDisk, 'op2'));
    expect(second.id).not.toBe(first.id);
    const [raw] = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [first.id] }))).Snapshots ?? [];
    expect(tagMap(raw?.Tags)).toMatchObject({ Name: 'demo-pre-upgrade-6.11.2000', 'sourcegraph-launch:deployment': 'demo', 'sourcegraph-launch:operation': 'op1' });

    expect((await cloud.listSnapshots('demo')).map((s) => s.id).sort()).toEqual([first.id, second.id].sort());
    expect(await cloud.listSnapshots('other')).toEqual([]);
    await cloud.deleteSnapshot(first.id);
    await cloud.deleteSnapshot(first.id);
    expect(await cloud.describeSnapshot(first.id)).toBeUndefined();
    expect((await cloud.listSnapshots('demo')).map((s) => s.id)).toEqual([second.id]);
  });

  it('a volume made from a snapshot lands in the zone asked for, labelled and named as the data, once per operation', async () => {
    const { instance, placement } = await launched();
    const snapshot = await cloud.waitForSnapshot((await cloud.createSnapshot(snapshotSpec(dataOf(instance)!, 'op1'))).id, 5_000);
    const spec = {
      deployment: 'demo',
      zone: placement.zone,
      snapshotId: snapshot.id,
      disk: { sizeGiB: 500, type: 'gp3' },
      labels: { deployment: 'demo', role: 'data-volume', version: '6.11.2000', managed: 'true', operation: 'restore-1' },
      idempotencyKey: 'sgl-restore-1',
    };
    const made = await cloud.createDiskFromSnapshot(spec);
    await cloud.waitForDiskAvailable(made.id, 5_000);
    expect(await cloud.createDiskFromSnapshot(spec)).toMatchObject({ id: made.id });
    expect(await cloud.describeDisk(made.id)).toMatchObject({ zone: placement.zone, sizeGiB: 500, type: 'gp3', encrypted: true, sourceSnapshotId: snapshot.id, state: 'available', labels: { role: 'data-volume', operation: 'restore-1' } });
    expect(tagMap((await rawVolume(made.id))?.Tags).Name).toBe('demo-data');
    expect(await cloud.describeDisk('vol-00000000deadbeef0')).toBeUndefined();
  });
});

describe('an upgrade hop', () => {
  it('clone: the new instance boots with its data disk made from the snapshot, both volumes marked by role', async () => {
    const { spec, instance } = await launched();
    const snapshot = await cloud.waitForSnapshot((await cloud.createSnapshot(snapshotSpec(dataOf(instance)!, 'op1'))).id, 5_000);
    const hop = await hopSpec(spec, { mode: 'snapshot', snapshotId: snapshot.id, disk: { sizeGiB: 500, type: 'gp3' } }, 'op1:6.12.5040');
    await cloud.checkInstancePermissions(hop);
    const next = await cloud.ensureInstance(hop);
    expect(next.id).not.toBe(instance.id);
    expect(await cloud.ensureInstance(hop)).toMatchObject({ id: next.id });
    const data = await cloud.describeDisk(dataOf(next)!);
    expect(data).toMatchObject({ sourceSnapshotId: snapshot.id, attachedTo: next.id, labels: { role: 'data-volume', version: '6.12.5040', operation: 'op1:6.12.5040' } });
    const root = await cloud.describeDisk(next.disks.find((d) => d.role === 'root')!.diskId);
    expect(root?.labels.role).toBe('root-volume');

    // findDeployment serves the newest instance in role instance; the old one, marked, is the rollback point.
    await cloud.setLabels([instance.id], { role: 'rollback-point' });
    const found = await cloud.findDeployment('demo');
    expect(found.instance?.id).toBe(next.id);
    expect(found.version).toBe('6.12.5040');
    expect(found.otherInstances.map((i) => [i.id, i.labels.role])).toEqual([[instance.id, 'rollback-point']]);
  });

  it('move: the new instance starts without a data disk behind the boot guard; the kept disk moves to it, and so does the address', async () => {
    const { spec, instance, address } = await launched();
    const kept = dataOf(instance)!;
    const hop = await hopSpec(spec, { mode: 'existing', diskId: kept }, 'op2:6.12.5040');
    const next = await cloud.ensureInstance(hop);
    expect(dataOf(next)).toBeUndefined();
    const [raw] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [next.id] }))).Reservations?.[0]?.Instances ?? [];
    expect((raw?.BlockDeviceMappings ?? []).map((m) => m.DeviceName)).toEqual(['/dev/xvda']);
    await cloud.waitForInstanceState(next.id, 'running', 5_000);
    await cloud.stopInstance(next.id);
    await cloud.waitForInstanceState(next.id, 'stopped', 5_000);

    // Never take a data disk from a live instance.
    await expect(cloud.attachDataDisk(kept, next.id, 5_000)).rejects.toMatchObject({ code: 'volume-in-use' });
    await cloud.stopInstance(instance.id);
    await cloud.waitForInstanceState(instance.id, 'stopped', 5_000);
    await cloud.detachDisk(kept, instance.id, 5_000);
    expect(await cloud.describeDisk(kept)).toMatchObject({ state: 'available' });
    await cloud.detachDisk(kept, instance.id, 5_000);
    await cloud.attachDataDisk(kept, next.id, 5_000);
    await cloud.attachDataDisk(kept, next.id, 5_000);
    expect((await rawVolume(kept))?.Attachments?.[0]).toMatchObject({ InstanceId: next.id, Device: '/dev/sdb' });
    // Detaching from the instance it has left is not ours to do.
    await cloud.detachDisk(kept, instance.id, 5_000);
    expect((await rawVolume(kept))?.Attachments?.[0]?.InstanceId).toBe(next.id);
    await cloud.startInstance(next.id);
    await cloud.waitForInstanceState(next.id, 'running', 5_000);
    expect((await cloud.describeInstance(next.id))?.disks.find((d) => d.role === 'data')?.diskId).toBe(kept);

    const moved = await cloud.attachStaticAddress(address.id, next.id);
    expect(moved).toMatchObject({ id: address.id, instanceId: next.id });
    expect((await cloud.describeInstance(next.id))?.publicIp).toBe(address.ip);
  });

  it('a kept disk attaches only within its zone: an instance elsewhere is refused before anything is sent', async () => {
    const { spec, instance } = await launched();
    const kept = dataOf(instance)!;
    await cloud.stopInstance(instance.id);
    await cloud.waitForInstanceState(instance.id, 'stopped', 5_000);
    await cloud.detachDisk(kept, instance.id, 5_000);
    const elsewhere = await cloud.resolvePlacement(undefined, ['us-east-1b']);
    const far = await cloud.ensureInstance({ ...(await hopSpec(spec, { mode: 'existing', diskId: kept }, 'op4:6.12.5040')), placement: elsewhere });
    expect(far.zone).toBe('us-east-1b');
    await expect(cloud.attachDataDisk(kept, far.id, 5_000)).rejects.toMatchObject({ code: 'volume-zone-mismatch', message: expect.stringContaining('us-east-1a') });
    expect((await rawVolume(kept))?.Attachments ?? []).toEqual([]);
  });

  it('move with no disk at all: only the root volume exists, marked as root, never as data', async () => {
    const { spec } = await launched();
    const hop = await hopSpec(spec, { mode: 'none' }, 'op3:6.12.5040');
    const next = await cloud.ensureInstance(hop);
    expect(next.disks.map((d) => d.role)).toEqual(['root']);
    const root = await rawVolume(next.disks[0]!.diskId);
    expect(tagMap(root?.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'root-volume', Name: 'demo-root', 'sourcegraph-launch:operation': 'op3:6.12.5040' });
    // moto does not echo user data; what RunInstances carries is asserted in upgrade.mock.test.ts.
    expect(Buffer.from(cloud.instanceRequests(hop)[0]!.input.UserData as string, 'base64').toString()).toBe(BOOT_GUARD_USER_DATA);
  });
});

describe('labels', () => {
  it('a kept volume turned rollback data is renamed for its role, and its last-written label removed again', async () => {
    const { instance } = await launched();
    const data = dataOf(instance)!;
    await cloud.setLabels([data], { role: 'rollback-data', 'last-written': '2026-02-19T12:00:00.000Z' });
    expect(tagMap((await rawVolume(data))?.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:last-written': '2026-02-19T12:00:00.000Z', Name: 'demo-rollback-data' });
    await cloud.setLabels([data], { role: 'data-volume' });
    await cloud.removeLabels([data], ['last-written']);
    const tags = tagMap((await rawVolume(data))?.Tags);
    expect(tags).toMatchObject({ 'sourcegraph-launch:role': 'data-volume', Name: 'demo-data', 'sourcegraph-launch:deployment': 'demo' });
    expect(tags).not.toHaveProperty('sourcegraph-launch:last-written');
  });
});
