// backup and backups in-process against moto: a labelled snapshot of the serving instance's data
// disk (restorable: it says the version of its data), the list of a deployment's snapshots, the
// daily schedule (moto has no DLM: the adapter's call is recorded instead) and a cloud that offers
// no schedules, and an interrupted backup that leaves another command's journal alone.
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Cloud, SnapshotScheduleSpec } from '../../src/cloud/port.js';
import { runBackup, runBackups } from '../../src/commands/backup.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer, MOTO_ACCOUNT_ID } from '../support/moto.js';

const VERSION = '6.12.5040';
let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60731', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

const at = { region: 'us-east-1', providerFlags: {} };

async function launch(name: string, home: string): Promise<LaunchResult> {
  const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home });
  return (await runLaunch(deps, { region: 'us-east-1', size: 'S', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name, wait: false, yes: true, providerFlags: { elasticIp: 'none' } })) as LaunchResult;
}

async function snapshotsOf(name: string) {
  return (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? [];
}

describe('backup', () => {
  it('snapshots the data disk with the version of its data, and backups lists it', async () => {
    const home = tempHome();
    const launched = await launch('bk', home);
    const io = new ScriptedIo([], false);
    const result = await runBackup(makeDeps({ endpoint: moto.endpoint, io, home }), 'bk', { ...at, wait: true });
    expect(result).toEqual({ name: 'bk', region: 'us-east-1', snapshotId: expect.stringMatching(/^snap-/), volumeId: launched.resources.dataVolumeId, version: VERSION, state: 'completed' });
    const [snap] = await snapshotsOf('bk');
    expect(snap?.VolumeId).toBe(launched.resources.dataVolumeId);
    expect(tagMap(snap?.Tags)).toMatchObject({
      'sourcegraph-launch:deployment': 'bk',
      'sourcegraph-launch:role': 'snapshot',
      'sourcegraph-launch:purpose': 'backup',
      'sourcegraph-launch:source-version': VERSION,
      'sourcegraph-launch:size': 'S',
      'sourcegraph-launch:operation': expect.stringMatching(/^backup-[0-9a-f]{12}$/),
    });
    expect(io.text()).toContain(`Snapshot ${(result as { snapshotId: string }).snapshotId} of ${launched.resources.dataVolumeId} (${VERSION}) completed.`);
    expect(io.text()).toMatch(/crash-consistent/);

    const listIo = new ScriptedIo([], false);
    const listed = await runBackups(makeDeps({ endpoint: moto.endpoint, io: listIo, home }), 'bk', at);
    expect(listed).toEqual({
      name: 'bk',
      region: 'us-east-1',
      backups: [expect.objectContaining({ snapshotId: snap?.SnapshotId, purpose: 'backup', version: VERSION, sizeGiB: 500, state: 'completed', age: '0 min' })],
    });
    expect(listIo.text()).toMatch(/^SNAPSHOT\s+PURPOSE\s+VERSION\s+SIZE\s+AGE\s+STATE$/m);
    expect(listIo.text()).toMatch(new RegExp(`^${snap?.SnapshotId}\\s+backup\\s+${VERSION.replace(/\./g, '\\.')}\\s+500 GiB`, 'm'));
  });

  it('a deployment without an instance is bad input, and nothing is recorded for it', async () => {
    const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) });
    const err = await runBackup(deps, 'ghost', at).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'deployment-not-found', exitCode: ExitCode.badInput, message: 'No instance of deployment ghost in aws us-east-1' });
    expect(deps.state.getDeployment('aws', 'us-east-1', 'ghost')).toBeUndefined();

    const io = new ScriptedIo([], false);
    expect(await runBackups(makeDeps({ endpoint: moto.endpoint, io }), 'ghost', at)).toEqual({ name: 'ghost', region: 'us-east-1', backups: [] });
    expect(io.text()).toContain('No snapshots of ghost in aws us-east-1. Take one with `sourcegraph-launch backup ghost`.');
  });

  it('an interrupted backup leaves the deployment\'s unfinished upgrade journal as it was', async () => {
    const home = tempHome();
    await launch('mid', home);
    const deps = makeDeps({
      endpoint: moto.endpoint,
      io: new ScriptedIo([], false),
      home,
      afterStep: (id) => {
        if (id === 'snapshot') throw new Error('power lost after the snapshot');
      },
    });
    const record = deps.state.getDeployment('aws', 'us-east-1', 'mid')!;
    const upgrade = { id: 'u1', command: 'upgrade', startedAt: new Date().toISOString(), steps: { '6.12.5040:snapshot-live': { status: 'done' as const, at: new Date().toISOString() } } };
    deps.state.putDeployment({ ...record, journal: upgrade });
    await expect(runBackup(deps, 'mid', at)).rejects.toThrow(/power lost/);
    expect(deps.state.getDeployment('aws', 'us-east-1', 'mid')?.journal).toEqual(upgrade);
    // The snapshot was asked for; a re-run simply takes another.
    expect(await snapshotsOf('mid')).toHaveLength(1);
  });
});

describe('backup --schedule', () => {
  /** moto has no DLM: records the adapter's call instead (its request shape is the request builders' test). */
  function recordingSchedules(calls: SnapshotScheduleSpec[], capabilities: Partial<Cloud['capabilities']> = {}) {
    return (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        capabilities: { ...cloud.capabilities, ...capabilities },
        ensureSnapshotSchedule: async (spec: SnapshotScheduleSpec) => {
          calls.push(spec);
          return { id: 'policy-0123456789abcdef0', state: 'ENABLED', schedule: 'daily', retain: spec.retain, copiesLabels: true };
        },
      });
  }

  it('sets up the daily schedule with the account for the default role; keeps policyId and copyTags in the JSON', async () => {
    const calls: SnapshotScheduleSpec[] = [];
    const io = new ScriptedIo([], false);
    const result = await runBackup(makeDeps({ endpoint: moto.endpoint, io, wrapCloud: recordingSchedules(calls) }), 'sched', { ...at, schedule: 'daily', retain: '14' });
    expect(calls).toEqual([{ deployment: 'sched', schedule: 'daily', retain: 14, params: { account: MOTO_ACCOUNT_ID } }]);
    expect(result).toEqual({
      name: 'sched',
      region: 'us-east-1',
      schedule: { id: 'policy-0123456789abcdef0', policyId: 'policy-0123456789abcdef0', state: 'ENABLED', schedule: 'daily', retain: 14, copiesLabels: true, copyTags: true },
    });
    expect(io.text()).toContain("Daily snapshots of sched's data volume, keeping the last 14: Data Lifecycle Manager policy policy-0123456789abcdef0.");
    expect(io.text()).toContain('DLM acts as the AWSDataLifecycleManagerDefaultRole (create it once with `aws dlm create-default-role`), or the role --dlm-role names.');
  });

  it('--dlm-role (an AWS flag) is the role the schedule acts as; a malformed one is bad input before anything is asked', async () => {
    const calls: SnapshotScheduleSpec[] = [];
    const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), wrapCloud: recordingSchedules(calls) });
    const role = `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/snapshots`;
    await runBackup(deps, 'sched', { region: 'us-east-1', schedule: 'daily', providerFlags: { dlmRole: role } });
    expect(calls).toEqual([{ deployment: 'sched', schedule: 'daily', retain: 7, params: { roleArn: role, account: MOTO_ACCOUNT_ID } }]);
    await expect(runBackup(deps, 'sched', { region: 'us-east-1', schedule: 'daily', providerFlags: { dlmRole: 'snapshots' } })).rejects.toMatchObject({ exitCode: ExitCode.badInput, message: expect.stringMatching(/--dlm-role/) });
    expect(calls).toHaveLength(1);
  });

  it('on a cloud that offers no snapshot schedules: exit 2, saying so, and nothing is set up', async () => {
    const calls: SnapshotScheduleSpec[] = [];
    const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), wrapCloud: recordingSchedules(calls, { snapshotSchedules: false }) });
    const err = await runBackup(deps, 'sched', { ...at, schedule: 'daily' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'schedule-not-offered', exitCode: ExitCode.badInput, message: expect.stringMatching(/scheduled snapshots are not offered on AWS; nothing was changed/) });
    expect(calls).toEqual([]);
  });

  it('--retain without --schedule, or another schedule, is bad input', async () => {
    const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) });
    await expect(runBackup(deps, 'sched', { ...at, retain: '3' })).rejects.toMatchObject({ exitCode: ExitCode.badInput, message: '--schedule must be daily when --retain is given' });
    await expect(runBackup(deps, 'sched', { ...at, schedule: 'hourly' })).rejects.toMatchObject({ exitCode: ExitCode.badInput, message: '--schedule must be daily, not "hourly"' });
  });
});
