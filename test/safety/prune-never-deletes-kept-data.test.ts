// Promise: prune removes only what upgrade, rollback or restore left as a way back, never a volume
// whose role is the deployment's data (one `destroy` kept, one a relaunch or restore did not reuse),
// and never the newest copy of any data: a rollback volume goes only when a completed snapshot of it
// exists that was taken after it was last written. `prune --dry-run` lists what would go and why,
// even when /healthz cannot be reached.
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import type { Deployment, Disk, Snapshot } from '../../src/cloud/port.js';
import { runBackup } from '../../src/commands/backup.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runPrune } from '../../src/commands/prune.js';
import { runRestore } from '../../src/commands/restore.js';
import type { Deps } from '../../src/commands/deps.js';
import { planPrune as planPruneWith } from '../../src/core/prune-plan.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { byDeployment, deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const AMI = 'ami-0a1b2c3d4e5f60724';
const VERSION = '6.12.5040';
let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

/** Deps whose /healthz probe answers the version for any host (moto's addresses are never contacted). */
function deps(home: string, healthy = true): Deps {
  return makeDeps({
    endpoint: moto.endpoint,
    io: new ScriptedIo([], false),
    home,
    httpGet: async () => {
      if (!healthy) throw new Error('connect ETIMEDOUT');
      return { status: 200, body: VERSION };
    },
  });
}

const launchFlags = (name: string) => ({ region: 'us-east-1', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name, wait: false, yes: true, providerFlags: { elasticIp: 'none' } });
const at = { region: 'us-east-1', providerFlags: {} };

/** A stopped rollback-point instance of the deployment, as an upgrade leaves it; returns its data volume. */
async function stageRollbackPoint(name: string, volumeTags: Record<string, string>): Promise<{ instanceId: string; volumeId: string }> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: AMI, MinCount: 1, MaxCount: 1, InstanceType: 'm6a.2xlarge',
      BlockDeviceMappings: [{ DeviceName: '/dev/sdb', Ebs: { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: false } }],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: name }, { Key: 'sourcegraph-launch:role', Value: 'rollback-point' }, { Key: 'sourcegraph-launch:version', Value: '6.11.0' }] }],
    }),
  );
  const instanceId = out.Instances![0]!.InstanceId!;
  const volumeId = out.Instances![0]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
  await ec2.send(new CreateTagsCommand({ Resources: [volumeId], Tags: Object.entries({ 'sourcegraph-launch:deployment': name, ...volumeTags }).map(([Key, Value]) => ({ Key, Value })) }));
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  return { instanceId, volumeId };
}

async function volumeIds(name: string): Promise<string[]> {
  return (await deploymentResources(ec2).volumes(name)).map((v) => v.VolumeId!).sort();
}

describe('the issue\'s reproductions, on the EC2 emulator', () => {
  it('launch → destroy (data kept) → relaunch → prune: the kept volume survives', async () => {
    const home = tempHome();
    await runLaunch(deps(home), launchFlags('kept'));
    const destroyed = (await runDestroy(deps(home), 'kept', { ...at, yes: true })) as { kept: { volumeId?: string }[] };
    const keptVolume = destroyed.kept.find((k) => k.volumeId)!.volumeId!;
    await runLaunch(deps(home), { ...launchFlags('kept'), dataVolume: 'new' });
    // Something prune may remove, so that it really runs.
    const leftover = await stageRollbackPoint('kept', { 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:last-written': new Date(Date.now() - 3_600_000).toISOString() });
    await ec2.send(new CreateSnapshotCommand({ VolumeId: leftover.volumeId, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'kept' }, { Key: 'sourcegraph-launch:purpose', Value: 'pre-upgrade-final' }] }] }));

    const result = await runPrune(deps(home), 'kept', { ...at, yes: true });
    expect(result.items.map((i) => i.id).sort()).toEqual([leftover.instanceId, leftover.volumeId].sort());
    expect(await volumeIds('kept')).toContain(keptVolume);
    expect(await volumeIds('kept')).not.toContain(leftover.volumeId);
  });

  it('launch → backup → instance terminated → restore from the backup → prune: the original (maybe newer) volume survives', async () => {
    const home = tempHome();
    const launched = (await runLaunch(deps(home), launchFlags('orig'))) as { instanceId: string };
    const backup = (await runBackup(deps(home), 'orig', { ...at, wait: true })) as { snapshotId: string; volumeId: string };
    // The instance is lost (terminated outside the tool); its data volume, written after the backup, stays.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [launched.instanceId] }));
    await runRestore(deps(home), 'orig', { ...at, snapshot: backup.snapshotId, yes: true });
    const leftover = await stageRollbackPoint('orig', { 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:last-written': new Date(Date.now() - 3_600_000).toISOString() });
    await ec2.send(new CreateSnapshotCommand({ VolumeId: leftover.volumeId, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'orig' }, { Key: 'sourcegraph-launch:purpose', Value: 'backup' }] }] }));
    const result = await runPrune(deps(home), 'orig', { ...at, yes: true, retain: '0' });
    expect(result.items.map((i) => i.id)).toContain(leftover.volumeId);
    expect(result.items.map((i) => i.id)).not.toContain(backup.volumeId);
    expect(await volumeIds('orig')).toContain(backup.volumeId);
    // --retain 0 removes the backup of the original volume only because that volume still exists.
    expect(result.items.map((i) => i.id)).toContain(backup.snapshotId);
    // …and keeps the backup that is now the last copy of the removed rollback volume.
    expect(result.kept.map((i) => i.id)).toContain(
      (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'volume-id', Values: [leftover.volumeId] }] }))).Snapshots![0]!.SnapshotId,
    );
  });

  it('a rollback volume with no snapshot since it was last written is kept; --snapshot-first snapshots it, then removes it', async () => {
    const home = tempHome();
    await runLaunch(deps(home), launchFlags('newest'));
    const leftover = await stageRollbackPoint('newest', { 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:last-written': new Date().toISOString() });
    const first = await runPrune(deps(home), 'newest', { ...at, yes: true });
    expect(first.items.map((i) => i.id)).toEqual([leftover.instanceId]);
    expect(first.kept.find((k) => k.id === leftover.volumeId)?.reason).toMatch(/newest copy of its data/);
    expect(await volumeIds('newest')).toContain(leftover.volumeId);

    const second = await runPrune(deps(home), 'newest', { ...at, yes: true, snapshotFirst: true });
    expect(second.items.map((i) => i.id)).toEqual([leftover.volumeId]);
    expect(await volumeIds('newest')).not.toContain(leftover.volumeId);
    const snaps = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment('newest') }))).Snapshots!;
    expect(snaps.map((s) => [s.VolumeId, tagMap(s.Tags)['sourcegraph-launch:purpose']])).toEqual([[leftover.volumeId, 'pre-prune-final']]);
  });

  it('--dry-run lists what would go and why, without reaching /healthz', async () => {
    const home = tempHome();
    await runLaunch(deps(home), launchFlags('dry'));
    const leftover = await stageRollbackPoint('dry', { 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:last-written': new Date().toISOString() });
    const result = await runPrune(deps(home, false), 'dry', { ...at, dryRun: true });
    expect(result).toMatchObject({ dryRun: true });
    expect(result.items).toEqual([expect.objectContaining({ kind: 'instance', id: leftover.instanceId, reason: expect.stringMatching(/left stopped by an upgrade/) })]);
    expect(result.kept).toEqual([expect.objectContaining({ kind: 'volume', id: leftover.volumeId, reason: expect.stringMatching(/no completed snapshot since it was last written/) })]);
    // Without --dry-run the unreachable /healthz stops it before anything changes.
    await expect(runPrune(deps(home, false), 'dry', { ...at, yes: true })).rejects.toMatchObject({ code: 'deployment-not-serving' });
    expect((await deploymentResources(ec2).liveInstances('dry')).map((i) => i.InstanceId)).toContain(leftover.instanceId);
  });
});

describe('the rules (planPrune)', () => {
  // The port's own shapes: any cloud's deployment is judged the same way.
  const volume = (id: string, labels: Disk['labels'], attachedTo?: string): Disk => ({ id, sizeGiB: 500, type: 'gp3', state: attachedTo ? 'in-use' : 'available', zone: 'a', encrypted: true, labels, ...(attachedTo ? { attachedTo } : {}) });
  const snap = (id: string, diskId: string, startTime: string, purpose: string, state = 'completed'): Snapshot => ({ id, diskId, startTime, state, sizeGiB: 500, encrypted: true, labels: { purpose } });
  const d = (disks: Disk[]): Deployment => ({
    name: 'p', scope: { provider: 'aws', region: 'r', params: {} }, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks,
    instance: { id: 'i-serving', state: 'running', machineType: 't', imageId: 'img', zone: 'a', accessPolicyIds: [], disks: [{ role: 'data', diskId: 'vol-serving', deleteWithInstance: false }], labels: { role: 'instance' }, foreignLabels: {} },
  });
  const rollback = (written: string) => volume('vol-rb', { role: 'rollback-data', 'last-written': written });
  const planPrune = (dep: Deployment, snapshots: Snapshot[]) => planPruneWith(dep, snapshots, { prices: awsProvider.storagePricing(), rootDisk: awsProvider.rootDisk });

  it('never a data volume: serving, detached (kept by destroy), or untold', () => {
    const plan = planPrune(d([volume('vol-serving', { role: 'data-volume' }, 'i-serving'), volume('vol-kept', { role: 'data-volume' }), volume('vol-untold', { role: 'instance-volume' })]), []);
    expect(plan.remove).toEqual([]);
  });

  it.each([
    ['a snapshot before the last write', '2026-01-02T00:00:00Z', [snap('s1', 'vol-rb', '2026-01-01T00:00:00Z', 'backup')], false],
    ['a pending snapshot after it', '2026-01-02T00:00:00Z', [snap('s1', 'vol-rb', '2026-01-03T00:00:00Z', 'backup', 'pending')], false],
    ['a completed snapshot after it', '2026-01-02T00:00:00Z', [snap('s1', 'vol-rb', '2026-01-03T00:00:00Z', 'backup')], true],
    ['no snapshot at all', '2026-01-02T00:00:00Z', [], false],
  ])('rollback volume with %s: removed=%s', (_what, written, snapshots, removed) => {
    const plan = planPrune(d([rollback(written)]), snapshots);
    expect(plan.remove.some((i) => i.id === 'vol-rb')).toBe(removed);
  });

  it('the snapshot that justifies removing a volume is never removed with it', () => {
    const plan = planPrune(d([rollback('2026-01-02T00:00:00Z')]), [snap('live', 'vol-rb', '2026-01-01T00:00:00Z', 'pre-upgrade-live'), snap('final', 'vol-rb', '2026-01-03T00:00:00Z', 'pre-upgrade-final')]);
    expect(plan.remove.map((i) => i.id).sort()).toEqual(['vol-rb']);
    expect(plan.keep.map((i) => i.id)).toEqual(expect.arrayContaining(['final']));
  });

  it('upgrade snapshots of a volume that still exists (it holds the same or newer data) may go', () => {
    const plan = planPrune(d([volume('vol-serving', { role: 'data-volume' }, 'i-serving')]), [snap('final', 'vol-serving', '2026-01-03T00:00:00Z', 'pre-upgrade-final')]);
    expect(plan.remove.map((i) => i.id)).toEqual(['final']);
  });

  it('costs come from the cloud\'s storage prices, and the cloud\'s word for a disk is used', () => {
    const leftover = { id: 'i-old', state: 'stopped' as const, machineType: 't', imageId: 'img', zone: 'a', accessPolicyIds: [], disks: [{ role: 'root' as const, diskId: 'disk-root', deleteWithInstance: true }], labels: { role: 'rollback-point' }, foreignLabels: {} };
    const dep = { ...d([{ ...volume('disk-root', { role: 'root-volume' }, 'i-old'), sizeGiB: 20 }, { ...rollback('2026-01-02T00:00:00Z'), attachedTo: 'i-old' }]), otherInstances: [leftover] };
    const prices = { region: 'x', snapshotGiBMonthUsd: 0.01, diskMonthlyUsd: (disk: { sizeGiB: number }) => disk.sizeGiB * 0.1 };
    const plan = planPruneWith(dep, [snap('s1', 'vol-rb', '2026-01-03T00:00:00Z', 'backup')], { prices, rootDisk: { sizeGiB: 50, type: 'pd-balanced' }, diskWord: 'disk', retain: 0 });
    expect(plan.remove.map((i) => [i.id, i.monthlyUsd])).toEqual([['i-old', 2], ['vol-rb', 50]]);
    expect(plan.remove[1]!.detail).toBe('500 GiB gp3 rollback data disk (?)');
    // The backup is the last copy of the removed disk's data: kept, priced as a snapshot.
    expect(plan.keep.map((i) => [i.id, i.monthlyUsd])).toEqual([['s1', 5]]);
  });
});
