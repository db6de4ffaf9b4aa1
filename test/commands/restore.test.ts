// restore in-process against moto: a new instance whose data disk is made from the snapshot as the
// instance is created (never booted without its data), under the same name after the instance was
// lost or as a staging copy of another deployment; the refusals (no such snapshot, a running
// instance, CI without --yes); the dry run; and an interrupted restore that resumes without making
// a second instance.
import { DescribeVolumesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client, type Instance as Ec2Instance } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/commands/backup.js';
import type { Deps } from '../../src/commands/deps.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRestore } from '../../src/commands/restore.js';
import { ExitCode, MissingInputError, UsageError } from '../../src/core/errors.js';
import type { RestoreResult } from '../../src/workflows/restore.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
const AMI = 'ami-0a1b2c3d4e5f60732';
let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

// The cloud choreography on moto: nothing serves /healthz here (test/commands/restore-wait.test.ts and
// test/e2e/restore-wait.e2e.test.ts cover the readiness wait), so restore returns once the instance runs.
const at = { region: 'us-east-1', providerFlags: {}, wait: false };

function deps(home: string, extra: Partial<Parameters<typeof makeDeps>[0]> = {}): Deps {
  return makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home, ...extra });
}

/** A launched deployment and a completed backup of its data disk. */
async function launchedWithBackup(name: string, home: string): Promise<{ launched: LaunchResult; snapshotId: string; instance: Ec2Instance }> {
  const launched = (await runLaunch(deps(home), { region: 'us-east-1', size: 'S', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name, wait: false, yes: true, providerFlags: { elasticIp: 'none' } })) as LaunchResult;
  const backup = (await runBackup(deps(home), name, { ...at, wait: true })) as { snapshotId: string };
  const [instance] = await deploymentResources(ec2).liveInstances(name);
  return { launched, snapshotId: backup.snapshotId, instance: instance! };
}

const live = (name: string) => deploymentResources(ec2).liveInstances(name);
const dataVolumeOf = (i: Ec2Instance) => i.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
async function volume(id: string) {
  return (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes![0]!;
}

describe('restore', () => {
  it('after the instance was lost: a new instance like the old one, its data disk made from the snapshot at creation', async () => {
    const home = tempHome();
    const { snapshotId, instance: old } = await launchedWithBackup('dr', home);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [old.InstanceId!] }));
    const io = new ScriptedIo([true], true);
    const result = (await runRestore(deps(home, { io }), 'dr', { ...at, snapshot: snapshotId })) as RestoreResult;
    expect(io.questions).toEqual([expect.objectContaining({ kind: 'confirm', message: `Launch dr from ${snapshotId}?` })]);
    const [fresh, ...others] = await live('dr');
    expect(others).toEqual([]);
    expect(result).toEqual({ name: 'dr', region: 'us-east-1', version: VERSION, instanceId: fresh!.InstanceId, dataVolumeId: dataVolumeOf(fresh!), snapshotId, publicIp: fresh!.PublicIpAddress, role: 'instance', ready: false });
    expect(fresh).toMatchObject({ ImageId: AMI, InstanceType: old.InstanceType, SubnetId: old.SubnetId, KeyName: old.KeyName });
    expect(fresh!.SecurityGroups?.map((g) => g.GroupId)).toEqual(old.SecurityGroups?.map((g) => g.GroupId));
    expect(tagMap(fresh!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': VERSION, 'sourcegraph-launch:size': 'S', 'sourcegraph-launch:operation': expect.stringMatching(/^restore-/) });
    const data = await volume(result.dataVolumeId!);
    expect(data).toMatchObject({ SnapshotId: snapshotId, Size: 500, Encrypted: true });
    expect(tagMap(data.Tags)).toMatchObject({ 'sourcegraph-launch:deployment': 'dr', 'sourcegraph-launch:role': 'data-volume', Name: 'dr-data' });
    // The old data volume (maybe newer than the snapshot) is left as it was.
    expect(tagMap((await volume(dataVolumeOf(old))).Tags)['sourcegraph-launch:role']).toBe('data-volume');
    expect(io.text()).toContain(`restore ${snapshotId} (${VERSION}, 500 GiB, from dr) as deployment dr: a new ${old.InstanceType} from ${AMI} with /dev/sdb created from the snapshot.`);
    expect(io.text()).toContain(`Instance ${result.instanceId} runs ${VERSION} with a data volume from ${snapshotId}.`);
    const record = deps(home).state.getDeployment('aws', 'us-east-1', 'dr');
    expect(record).toMatchObject({ instanceId: result.instanceId, version: VERSION, journal: { command: 'restore', finishedAt: expect.any(String) } });
  });

  it('a snapshot of another deployment makes a staging copy beside it, on its network, access rules and key', async () => {
    const home = tempHome();
    const { snapshotId, instance: prod } = await launchedWithBackup('prod', home);
    const result = (await runRestore(deps(home), 'prod-copy', { ...at, snapshot: snapshotId, yes: true })) as RestoreResult;
    expect(result).toMatchObject({ name: 'prod-copy', version: VERSION, role: 'instance' });
    const [copy] = await live('prod-copy');
    expect(copy).toMatchObject({ InstanceId: result.instanceId, SubnetId: prod.SubnetId, KeyName: prod.KeyName, InstanceType: prod.InstanceType });
    expect(copy!.SecurityGroups?.map((g) => g.GroupId)).toEqual(prod.SecurityGroups?.map((g) => g.GroupId));
    expect((await volume(dataVolumeOf(copy!))).SnapshotId).toBe(snapshotId);
    // prod itself is untouched: one instance, still running, same data.
    expect((await live('prod')).map((i) => [i.InstanceId, i.State?.Name, dataVolumeOf(i)])).toEqual([[prod.InstanceId, 'running', dataVolumeOf(prod)]]);
  });

  it('a stopped instance it replaces is kept as a rollback point, its data disk as rollback data', async () => {
    const home = tempHome();
    const { snapshotId, instance: old } = await launchedWithBackup('swap', home);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [old.InstanceId!] }));
    const io = new ScriptedIo([], false);
    const result = (await runRestore(deps(home, { io }), 'swap', { ...at, snapshot: snapshotId, yes: true })) as RestoreResult;
    expect(io.text()).toContain(`${old.InstanceId} (stopped) is superseded: kept as a rollback point with its data volume, which prune never removes without a newer snapshot of it.`);
    const all = await live('swap');
    expect(all.map((i) => i.InstanceId).sort()).toEqual([old.InstanceId, result.instanceId].sort());
    expect(tagMap(all.find((i) => i.InstanceId === old.InstanceId)!.Tags)['sourcegraph-launch:role']).toBe('rolled-back');
    const kept = tagMap((await volume(dataVolumeOf(old))).Tags);
    expect(kept).toMatchObject({ 'sourcegraph-launch:role': 'rollback-data', Name: 'swap-rollback-data' });
    expect(Date.parse(kept['sourcegraph-launch:last-written']!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('--dry-run shows the request with the snapshot-made data disk and changes nothing', async () => {
    const home = tempHome();
    const { snapshotId } = await launchedWithBackup('dryr', home);
    const result = await runRestore(deps(home), 'dryr-copy', { ...at, snapshot: snapshotId, dryRun: true });
    expect(result).toMatchObject({ name: 'dryr-copy', dryRun: true, requests: [{ service: 'ec2', operation: 'RunInstances' }] });
    const input = (result as unknown as { requests: { input: { BlockDeviceMappings: { DeviceName: string; Ebs?: { SnapshotId?: string; DeleteOnTermination: boolean } }[]; UserData?: string } }[] }).requests[0]!.input;
    expect(input.BlockDeviceMappings.find((m) => m.DeviceName === '/dev/sdb')?.Ebs).toMatchObject({ SnapshotId: snapshotId, DeleteOnTermination: false });
    // The data disk exists at creation: no boot guard is needed.
    expect(input.UserData).toBeUndefined();
    expect(await live('dryr-copy')).toEqual([]);
    expect(deps(home).state.getDeployment('aws', 'us-east-1', 'dryr-copy')).toBeUndefined();
  });
});

describe('restore refuses, changing nothing', () => {
  it('a snapshot that does not exist, or is not a snapshot id', async () => {
    const err = await runRestore(deps(tempHome()), 'nope', { ...at, snapshot: 'snap-0123456789abcdef0', yes: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'snapshot-not-found', exitCode: ExitCode.badInput, message: 'Snapshot snap-0123456789abcdef0 does not exist in us-east-1' });
    await expect(runRestore(deps(tempHome()), 'nope', { ...at, snapshot: 'vol-0123456789abcdef0', yes: true })).rejects.toMatchObject({
      exitCode: ExitCode.badInput,
      message: '--snapshot: "vol-0123456789abcdef0" is not a snapshot id (snap-…)',
    });
    expect(await live('nope')).toEqual([]);
  });

  it('a deployment that still has a running instance never gets a second one', async () => {
    const home = tempHome();
    const { snapshotId, instance } = await launchedWithBackup('busy', home);
    const err = await runRestore(deps(home), 'busy', { ...at, snapshot: snapshotId, yes: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'deployment-running', exitCode: ExitCode.badInput, message: expect.stringMatching(/still has a running instance/) });
    expect((await live('busy')).map((i) => i.InstanceId)).toEqual([instance.InstanceId]);
  });

  it('in CI without --yes: exit 2 naming --yes, no instance and no record', async () => {
    const home = tempHome();
    const { snapshotId } = await launchedWithBackup('ci', home);
    const err = await runRestore(deps(home), 'ci-copy', { ...at, snapshot: snapshotId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingInputError);
    expect(err).toMatchObject({ exitCode: ExitCode.badInput, message: '--yes is required to restore when not running interactively' });
    expect(await live('ci-copy')).toEqual([]);
    expect(deps(home).state.getDeployment('aws', 'us-east-1', 'ci-copy')).toBeUndefined();
  });
});

describe('an interrupted restore', () => {
  const failAfter = (step: string) => (id: string) => {
    if (id === step) throw new Error(`power lost after ${id}`);
  };

  it.each(['instance', 'instance-running'])('stopped after "%s": the re-run finishes it with the instance it made', async (step) => {
    const home = tempHome();
    const { snapshotId } = await launchedWithBackup('src', home);
    await expect(runRestore(deps(home, { afterStep: failAfter(step) }), 'again', { ...at, snapshot: snapshotId, yes: true })).rejects.toThrow(/power lost/);
    const [made, ...more] = await live('again');
    expect(more).toEqual([]);
    expect(deps(home).state.getDeployment('aws', 'us-east-1', 'again')?.journal).toMatchObject({ command: 'restore', steps: { [step]: { status: 'started' } } });
    expect(deps(home).state.getDeployment('aws', 'us-east-1', 'again')?.journal?.finishedAt).toBeUndefined();

    const io = new ScriptedIo([], false);
    const result = (await runRestore(deps(home, { io }), 'again', { ...at, snapshot: snapshotId, yes: true })) as RestoreResult;
    expect(result.instanceId).toBe(made!.InstanceId);
    expect((await live('again')).map((i) => i.InstanceId)).toEqual([made!.InstanceId]);
    expect(io.text()).toMatch(/Resuming the restore started/);
    // The instance step is restored from the journal, not run again.
    if (step === 'instance-running') expect(io.outcomes('succeed').map((o) => o.message)).toContainEqual(expect.stringMatching(/^Instance .*: done before$/));
  });

  it('a restore of another snapshot sets the unfinished one aside, and refuses while its instance runs', async () => {
    const home = tempHome();
    const { snapshotId } = await launchedWithBackup('two', home);
    const second = (await runBackup(deps(home), 'two', { ...at, wait: true })) as { snapshotId: string };
    await expect(runRestore(deps(home, { afterStep: failAfter('instance') }), 'two-copy', { ...at, snapshot: snapshotId, yes: true })).rejects.toThrow(/power lost/);
    const [made] = await live('two-copy');
    const io = new ScriptedIo([], false);
    const err = await runRestore(deps(home, { io }), 'two-copy', { ...at, snapshot: second.snapshotId, yes: true }).catch((e: unknown) => e);
    expect(io.text()).toContain(`An unfinished restore of ${snapshotId} into two-copy is set aside: this run restores ${second.snapshotId}.`);
    expect(err).toMatchObject({ code: 'deployment-running', message: expect.stringContaining(made!.InstanceId!) });
    expect((await live('two-copy')).map((i) => i.InstanceId)).toEqual([made!.InstanceId]);
  });
});
