// upgrade and rollback in-process on moto: the clone and move strategies end to end through the
// neutral workflows (the AWS adapter underneath), the dry run, a multi-minor chain, and the
// clouds' optional abilities (permission preflight, initialisation rate) being absent. The
// instances' HTTP side is the moto appliance (test/support/moto-appliance.ts): nothing is dialled.
import { DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runUpgrade, type UpgradeResult } from '../../src/commands/upgrade.js';
import { UsageError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoAppliance } from '../support/moto-appliance.js';
import { byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const PUBLISHER = '840044800169';
const AMI = { [OLD]: 'ami-0b11000000000611a', [NEW]: 'ami-0c12504000000612b', '6.6.0': 'ami-0a06000000000660a', '6.7.0': 'ami-0a07000000000670a', '6.8.0': 'ami-0a08000000000680a' };

let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto({ images: Object.entries(AMI).map(([version, id]) => ({ id, name: `Sourcegraph v${version}`, ownerId: PUBLISHER })) });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

/** A non-interactive Io in --json mode: the command prints its result with io.result. */
function jsonIo(): ScriptedIo {
  return Object.defineProperty(new ScriptedIo([], false), 'json', { value: true });
}

function deps(home: string, opts: { io?: ScriptedIo; wrapCloud?: (c: Cloud) => Cloud } = {}) {
  return makeDeps({ endpoint: moto.endpoint, io: opts.io ?? new ScriptedIo([], false), home, httpGet: motoAppliance(ec2).httpGet, ...(opts.wrapCloud ? { wrapCloud: opts.wrapCloud } : {}) });
}

async function launch(home: string, name: string, version = OLD): Promise<LaunchResult> {
  const flags = { region: 'us-east-1', size: 'S', version, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name, wait: false, yes: true, providerFlags: {} };
  return (await runLaunch(deps(home), flags)) as LaunchResult;
}

const upgradeFlags = (extra: Record<string, unknown> = {}) => ({ region: 'us-east-1', to: NEW, yes: true, holdSeconds: '0', providerFlags: {}, ...extra });
const rollbackFlags = (extra: Record<string, unknown> = {}) => ({ region: 'us-east-1', yes: true, holdSeconds: '0', providerFlags: {}, ...extra });

async function instances(name: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
const volumes = async (name: string) => (await ec2.send(new DescribeVolumesCommand({ Filters: byDeployment(name) }))).Volumes ?? [];
const snapshots = async (name: string) => (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? [];
const dataOf = (i: Instance) => i.BlockDeviceMappings?.find((m) => m.DeviceName === '/dev/sdb')?.Ebs;

describe('upgrade --strategy clone, then rollback', () => {
  it('dry run: the chain, both strategies\' costs, the steps and the first launch request; nothing changes', async () => {
    const home = tempHome();
    await launch(home, 'dry');
    const io = jsonIo();
    const out = (await runUpgrade(deps(home, { io }), 'dry', upgradeFlags({ dryRun: true, yes: false }))) as UpgradeResult;
    expect(out).toMatchObject({ dryRun: true, from: OLD, to: NEW, strategy: 'clone', hops: [{ from: OLD, to: NEW, imageId: AMI[NEW], source: 'published' }] });
    expect(out.plan!.find((s) => s.id === `${NEW}:move-elastic-ip`)?.action).toBe('move-elastic-ip');
    const printed = io.events.find((e) => e.kind === 'result') as { value: { requests: { operation: string; input: Record<string, any> }[] } };
    const [run] = printed.value.requests;
    expect(run).toMatchObject({ operation: 'RunInstances', input: { ImageId: AMI[NEW], InstanceType: 'm6a.4xlarge' } });
    // The data disk is made from the final snapshot in the same request, at the default provisioned rate.
    expect(run!.input.BlockDeviceMappings[1]).toMatchObject({ DeviceName: '/dev/sdb', Ebs: { SnapshotId: '<final snapshot id>', VolumeInitializationRate: 300, DeleteOnTermination: false } });
    const text = io.text();
    expect(text).toMatch(/clone: about \$\d+\/month extra/);
    expect(text).toMatch(/move: about \$\d+\/month extra/);
    expect(text).toContain('asks EBS for a provisioned initialisation rate of 300 MiB/s');
    expect((await instances('dry')).map((i) => i.State?.Name)).toEqual(['running']);
    expect(await snapshots('dry')).toEqual([]);
  });

  it('keeps the old instance and its untouched disk as the rollback point, moves the address; rollback moves everything back', async () => {
    const home = tempHome();
    await launch(home, 'up');
    const [old] = await instances('up');
    const oldData = dataOf(old!)!.VolumeId!;
    const io = jsonIo();

    const up = await runUpgrade(deps(home, { io }), 'up', upgradeFlags());
    expect(io.events.filter((e) => e.kind === 'result')).toEqual([{ kind: 'result', value: up }]);
    expect(up.steps.map((s) => s.id)).toEqual([
      `${NEW}:snapshot-live`, `${NEW}:check-launch-permissions`, `${NEW}:stop-old-instance`, `${NEW}:snapshot-final`,
      `${NEW}:launch-new-instance`, `${NEW}:move-elastic-ip`, `${NEW}:wait-for-version`, `${NEW}:keep-rollback-point`,
    ]);
    expect(up).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', rollbackPoint: { instanceId: old!.InstanceId, dataVolumeId: oldData, version: OLD, strategy: 'clone' } });
    expect(up.downtimeMs).toBeGreaterThanOrEqual(0);

    const all = await instances('up');
    const oldNow = all.find((i) => i.InstanceId === old!.InstanceId)!;
    const fresh = all.find((i) => i.InstanceId !== old!.InstanceId)!;
    expect(up.instanceId).toBe(fresh.InstanceId);
    expect(oldNow.State?.Name).toBe('stopped');
    const final = (await snapshots('up')).find((s) => tagMap(s.Tags)['sourcegraph-launch:purpose'] === 'pre-upgrade-final')!;
    expect(tagMap(oldNow.Tags)).toMatchObject({
      'sourcegraph-launch:role': 'rollback-point',
      'sourcegraph-launch:strategy': 'clone',
      'sourcegraph-launch:source-version': OLD,
      'sourcegraph-launch:rollback-snapshot': final.SnapshotId,
    });
    expect(up.rollbackPoint?.snapshotId).toBe(final.SnapshotId);
    // Like the old one: type, subnet, zone, security groups, key; at the new image and version.
    expect(fresh).toMatchObject({ ImageId: AMI[NEW], InstanceType: old!.InstanceType, SubnetId: old!.SubnetId, KeyName: old!.KeyName, Placement: { AvailabilityZone: old!.Placement!.AvailabilityZone } });
    expect(fresh.SecurityGroups?.map((g) => g.GroupId)).toEqual(old!.SecurityGroups?.map((g) => g.GroupId));
    expect(tagMap(fresh.Tags)).toMatchObject({ Name: 'up', 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': NEW, 'sourcegraph-launch:size': 'S' });
    expect(Object.keys(tagMap(fresh.Tags)).filter((k) => k.includes(':lock-'))).toEqual([]);
    expect(up.url).toBe(`http://${fresh.PublicIpAddress}`);

    const vols = await volumes('up');
    const freshData = dataOf(fresh)!;
    expect(freshData.DeleteOnTermination).toBe(false);
    expect(vols.find((v) => v.VolumeId === freshData.VolumeId)).toMatchObject({ SnapshotId: final.SnapshotId, Size: 500, VolumeType: 'gp3', Encrypted: true });
    expect(tagMap(vols.find((v) => v.VolumeId === freshData.VolumeId)!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'data-volume', 'sourcegraph-launch:version': NEW, Name: 'up-data' });
    const oldVolume = vols.find((v) => v.VolumeId === oldData)!;
    expect(oldVolume.Attachments?.[0]?.InstanceId).toBe(old!.InstanceId);
    expect(tagMap(oldVolume.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'rollback-data', Name: 'up-rollback-data' });
    expect(final.VolumeId).toBe(oldData);

    const back = await runRollback(deps(home), 'up', rollbackFlags());
    expect(back).toMatchObject({ version: OLD, strategy: 'clone', instanceId: old!.InstanceId, upgradedInstanceId: fresh.InstanceId });
    expect(back.steps.map((s) => s.id)).toEqual(['stop-upgraded-instance', 'start-rollback-point', 'move-elastic-ip', 'wait-for-version']);
    const after = await instances('up');
    expect(after.find((i) => i.InstanceId === old!.InstanceId)).toMatchObject({ State: { Name: 'running' }, PublicIpAddress: fresh.PublicIpAddress });
    expect(tagMap(after.find((i) => i.InstanceId === old!.InstanceId)!.Tags)['sourcegraph-launch:role']).toBe('instance');
    const rolledBack = after.find((i) => i.InstanceId === fresh.InstanceId)!;
    expect(rolledBack.State?.Name).toBe('stopped');
    expect(tagMap(rolledBack.Tags)['sourcegraph-launch:role']).toBe('rolled-back');
    const afterVols = await volumes('up');
    expect(tagMap(afterVols.find((v) => v.VolumeId === oldData)!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'data-volume', Name: 'up-data' });
    expect(tagMap(afterVols.find((v) => v.VolumeId === oldData)!.Tags)['sourcegraph-launch:last-written']).toBeUndefined();
    expect(tagMap(afterVols.find((v) => v.VolumeId === freshData.VolumeId)!.Tags)['sourcegraph-launch:role']).toBe('rollback-data');

    // The rollback point is used up: a second rollback has nothing to go back to.
    await expect(runRollback(deps(home), 'up', rollbackFlags())).rejects.toMatchObject({ code: 'no-rollback-point', exitCode: 2 });
  });

  it('crosses one minor at a time, verifying each; the intermediate instance and its copy go, the original stays', async () => {
    const home = tempHome();
    await launch(home, 'hops', '6.6.0');
    const [old] = await instances('hops');
    const up = await runUpgrade(deps(home), 'hops', upgradeFlags({ to: '6.8.0', initRate: '0' }));
    expect(up.hops.map((h) => [h.from, h.to, h.imageId])).toEqual([['6.6.0', '6.7.0', AMI['6.7.0']], ['6.7.0', '6.8.0', AMI['6.8.0']]]);
    expect(up.steps.map((s) => s.id).filter((id) => /wait-for-version|retire-intermediate|keep-rollback-point/.test(id))).toEqual([
      '6.7.0:wait-for-version', '6.8.0:wait-for-version', '6.8.0:retire-intermediate', '6.8.0:keep-rollback-point',
    ]);
    const live = await instances('hops');
    expect(live.map((i) => [tagMap(i.Tags)['sourcegraph-launch:version'], i.State?.Name]).sort()).toEqual([['6.6.0', 'stopped'], ['6.8.0', 'running']]);
    const dataVolumes = (await volumes('hops')).filter((v) => tagMap(v.Tags)['sourcegraph-launch:role'] !== 'root-volume');
    // The original (rollback data) and the 6.8 copy; the 6.7 copy is deleted, its final snapshot kept.
    expect(dataVolumes.map((v) => v.VolumeId).sort()).toEqual([dataOf(old!)!.VolumeId, dataOf(live.find((i) => i.InstanceId !== old!.InstanceId)!)!.VolumeId].sort());
    expect((await snapshots('hops')).filter((s) => tagMap(s.Tags)['sourcegraph-launch:purpose'] === 'pre-upgrade-final')).toHaveLength(2);
  });
});

describe('upgrade --strategy move, then rollback', () => {
  it('moves the very disk to a data-less instance before its first boot, and rolls back from the final snapshot', async () => {
    const home = tempHome();
    await launch(home, 'mv');
    const [old] = await instances('mv');
    const oldData = dataOf(old!)!.VolumeId!;
    const up = await runUpgrade(deps(home), 'mv', upgradeFlags({ strategy: 'move' }));
    expect(up.steps.map((s) => s.id.split(':')[1])).toEqual([
      'snapshot-live', 'check-launch-permissions', 'stop-old-instance', 'snapshot-final', 'detach-data-volume',
      'launch-new-instance', 'stop-new-instance', 'attach-data-volume', 'start-new-instance', 'move-elastic-ip', 'wait-for-version', 'keep-rollback-point',
    ]);
    expect(up.rollbackPoint).toEqual({ instanceId: old!.InstanceId, snapshotId: expect.stringMatching(/^snap-/), strategy: 'move', version: OLD });
    const fresh = (await instances('mv')).find((i) => i.InstanceId !== old!.InstanceId)!;
    expect(fresh.State?.Name).toBe('running');
    expect((await volumes('mv')).find((v) => v.VolumeId === oldData)?.Attachments?.[0]).toMatchObject({ InstanceId: fresh.InstanceId, Device: '/dev/sdb' });
    expect(tagMap(old!.Tags)['sourcegraph-launch:role']).toBe('instance');
    expect(tagMap((await instances('mv')).find((i) => i.InstanceId === old!.InstanceId)!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'rollback-point', 'sourcegraph-launch:strategy': 'move' });

    const back = await runRollback(deps(home), 'mv', rollbackFlags());
    expect(back.steps.map((s) => s.id)).toEqual(['stop-upgraded-instance', 'restore-data-volume', 'attach-data-volume', 'start-rollback-point', 'move-elastic-ip', 'wait-for-version']);
    const final = (await snapshots('mv')).find((s) => tagMap(s.Tags)['sourcegraph-launch:purpose'] === 'pre-upgrade-final')!;
    const vols = await volumes('mv');
    const restored = vols.find((v) => v.VolumeId === back.restoredVolumeId)!;
    expect(restored).toMatchObject({ SnapshotId: final.SnapshotId, Size: 500, VolumeType: 'gp3', Attachments: [expect.objectContaining({ InstanceId: old!.InstanceId, Device: '/dev/sdb' })] });
    expect(tagMap(restored.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'data-volume', 'sourcegraph-launch:version': OLD });
    // The migrated disk stays with the stopped upgraded instance: nothing deleted.
    expect(vols.find((v) => v.VolumeId === oldData)?.Attachments?.[0]?.InstanceId).toBe(fresh.InstanceId);
    expect((await instances('mv')).filter((i) => i.State?.Name === 'running').map((i) => i.InstanceId)).toEqual([old!.InstanceId]);
  });
});

describe('a cloud without the optional abilities', () => {
  const without = (off: Partial<Cloud['capabilities']>, calls: string[]) => (cloud: Cloud): Cloud =>
    Object.assign(Object.create(cloud) as Cloud, {
      capabilities: { ...cloud.capabilities, ...off },
      checkInstancePermissions: async () => {
        calls.push('checkInstancePermissions');
      },
    });

  it('no permission preflight: the check is skipped with a note, and the upgrade still works', async () => {
    const home = tempHome();
    await launch(home, 'nopre');
    const calls: string[] = [];
    const io = new ScriptedIo([], false);
    const up = await runUpgrade(deps(home, { io, wrapCloud: without({ permissionPreflight: false }, calls) }), 'nopre', upgradeFlags({ initRate: '0' }));
    expect(up.to).toBe(NEW);
    expect(calls).toEqual([]);
    expect(io.outcomes('succeed').find((o) => o.title.includes('accepts the launch'))?.message).toMatch(/^skipped: AWS has no permission check/);
    expect(io.text()).toMatch(/cannot check a launch without making it: a refused launch shows only at cutover/);
  });

  it('no initialisation rate: --init-rate is refused as bad input; without it the clone loads lazily', async () => {
    const home = tempHome();
    await launch(home, 'norate');
    const calls: string[] = [];
    const wrap = without({ diskInitializationRate: false }, calls);
    await expect(runUpgrade(deps(home, { wrapCloud: wrap }), 'norate', upgradeFlags({ initRate: '200', dryRun: true }))).rejects.toMatchObject({ code: 'init-rate-unsupported', exitCode: 2 });
    const io = jsonIo();
    await runUpgrade(deps(home, { io, wrapCloud: wrap }), 'norate', upgradeFlags({ dryRun: true }));
    expect(io.text()).toContain('loads its blocks lazily from the snapshot');
    const printed = io.events.find((e) => e.kind === 'result') as { value: { requests: { input: { BlockDeviceMappings: { Ebs?: Record<string, unknown> }[] } }[] } };
    expect(printed.value.requests[0]!.input.BlockDeviceMappings[1]!.Ebs!.VolumeInitializationRate).toBeUndefined();
    // --init-rate 0 asks for lazy loading, which every cloud does.
    await expect(runUpgrade(deps(home, { wrapCloud: wrap }), 'norate', upgradeFlags({ initRate: '0', dryRun: true }))).resolves.toMatchObject({ dryRun: true });
  });

  it('bad flags are bad input before the cloud is asked anything', async () => {
    const home = tempHome();
    for (const [flags, pattern] of [
      [{ strategy: 'copy' }, /--strategy must be clone or move/],
      [{ to: 'banana' }, /is not a version/],
      [{ initRate: '50' }, /--init-rate/],
      [{ holdSeconds: '-1' }, /--hold-seconds/],
    ] as const) {
      const err = await runUpgrade(deps(home), 'nothing-here', upgradeFlags(flags)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toMatch(pattern);
    }
  });
});
