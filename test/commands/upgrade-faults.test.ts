// upgrade and rollback interrupted and refused, in-process on moto. A throw from the tests' step
// hook (deps.afterStep) lands after a step's work and before the journal records it: the crash
// a re-run must survive. The re-run restores every step that finished (its cloud calls are not
// made again), re-runs the interrupted one (idempotently), and ends like an uninterrupted run.
// Refusals change nothing: no snapshot, the old instance still serving.
import { DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { DeclinedError, LaunchError, MissingInputError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoAppliance } from '../support/moto-appliance.js';
import { byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const PUBLISHER = '840044800169';

let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto({
    images: [
      { id: 'ami-0b11000000000611a', name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER },
      { id: 'ami-0c12504000000612b', name: `Sourcegraph v${NEW}`, ownerId: PUBLISHER },
    ],
  });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

/** Cloud calls that change something, by verb and first argument, across every run of a test. */
type Calls = { verb: string; id: string }[];

function recording(calls: Calls) {
  return (cloud: Cloud): Cloud => {
    const spy = <K extends 'stopInstance' | 'startInstance' | 'ensureInstance' | 'createSnapshot' | 'createDiskFromSnapshot' | 'attachStaticAddress'>(verb: K) =>
      (async (...args: Parameters<Cloud[K]>) => {
        const first = args[0] as unknown;
        calls.push({ verb, id: typeof first === 'string' ? first : ((first as { labels?: { purpose?: string } }).labels?.purpose ?? verb) });
        return (cloud[verb] as (...a: Parameters<Cloud[K]>) => ReturnType<Cloud[K]>)(...args);
      }) as Cloud[K];
    return Object.assign(Object.create(cloud) as Cloud, {
      stopInstance: spy('stopInstance'),
      startInstance: spy('startInstance'),
      ensureInstance: spy('ensureInstance'),
      createSnapshot: spy('createSnapshot'),
      createDiskFromSnapshot: spy('createDiskFromSnapshot'),
      attachStaticAddress: spy('attachStaticAddress'),
    });
  };
}

function deps(home: string, opts: { io?: ScriptedIo; crashAfter?: string; calls?: Calls } = {}) {
  return makeDeps({
    endpoint: moto.endpoint,
    io: opts.io ?? new ScriptedIo([], false),
    home,
    httpGet: motoAppliance(ec2).httpGet,
    ...(opts.calls ? { wrapCloud: recording(opts.calls) } : {}),
    ...(opts.crashAfter
      ? {
          afterStep: (id: string) => {
            if (id === opts.crashAfter) throw new Error(`simulated crash after ${id}`);
          },
        }
      : {}),
  });
}

async function launch(home: string, name: string): Promise<Instance> {
  const flags = { region: 'us-east-1', size: 'S', version: OLD, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name, wait: false, yes: true, providerFlags: {} };
  await (runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), flags) as Promise<LaunchResult>);
  return (await instances(name))[0]!;
}

const upgradeFlags = (extra: Record<string, unknown> = {}) => ({ region: 'us-east-1', to: NEW, yes: true, holdSeconds: '0', initRate: '0', providerFlags: {}, ...extra });
const rollbackFlags = (extra: Record<string, unknown> = {}) => ({ region: 'us-east-1', yes: true, holdSeconds: '0', providerFlags: {}, ...extra });

async function instances(name: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
const snapshots = async (name: string) => (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? [];
const volumeIds = async (name: string) => new Set(((await ec2.send(new DescribeVolumesCommand({ Filters: byDeployment(name) }))).Volumes ?? []).map((v) => v.VolumeId));
const dataOf = (i: Instance) => i.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
const count = (calls: Calls, verb: string, id?: string) => calls.filter((c) => c.verb === verb && (id === undefined || c.id === id)).length;

/** Never two instances running, and the pre-upgrade data still there. */
async function assertInvariants(name: string, oldData: string) {
  expect((await instances(name)).filter((i) => i.State?.Name === 'running' || i.State?.Name === 'pending').length).toBeLessThanOrEqual(1);
  expect((await volumeIds(name)).has(oldData)).toBe(true);
}

describe('upgrade interrupted after a step', () => {
  const cloneSteps = ['snapshot-live', 'check-launch-permissions', 'stop-old-instance', 'snapshot-final', 'launch-new-instance', 'move-elastic-ip', 'wait-for-version', 'keep-rollback-point'];

  it.each(['snapshot-live', 'stop-old-instance', 'launch-new-instance', 'move-elastic-ip'])('after %s: the re-run restores what finished and finishes', async (step) => {
    const home = tempHome();
    const old = await launch(home, 'crash');
    const oldData = dataOf(old);
    const calls: Calls = [];
    const crashed = await runUpgrade(deps(home, { calls, crashAfter: `${NEW}:${step}` }), 'crash', upgradeFlags()).catch((e: unknown) => e);
    const cutover = cloneSteps.indexOf(step) >= cloneSteps.indexOf('stop-old-instance');
    expect(crashed).toBeInstanceOf(LaunchError);
    expect((crashed as LaunchError).details).toMatchObject({ cutoverStarted: cutover });
    expect((crashed as LaunchError).remediation).toMatch(cutover ? /Either resume: `sourcegraph-launch upgrade crash .*--yes`, or go back: `sourcegraph-launch rollback crash/ : /Nothing changed for users/);
    await assertInvariants('crash', oldData);
    if (!cutover) expect((await instances('crash')).find((i) => i.InstanceId === old.InstanceId)?.State?.Name).toBe('running');
    await new Promise((r) => setTimeout(r, 1200));

    const io = new ScriptedIo([], false);
    const resumed = await runUpgrade(deps(home, { io, calls }), 'crash', upgradeFlags());
    expect(io.text()).toMatch(/Resuming the upgrade/);
    const done = cloneSteps.slice(0, cloneSteps.indexOf(step)).map((s) => `${NEW}:${s}`);
    expect(resumed.steps.filter((s) => s.resumed).map((s) => s.id)).toEqual(done);
    expect(resumed.steps.map((s) => s.id)).toEqual(cloneSteps.map((s) => `${NEW}:${s}`));
    expect(resumed).toMatchObject({ to: NEW, rollbackPoint: { instanceId: old.InstanceId, dataVolumeId: oldData } });
    // Downtime is measured from the first run's cutover, across the crash.
    if (cutover) expect(resumed.downtimeMs).toBeGreaterThanOrEqual(1200);

    // What finished before the crash was not done again; the interrupted step ran again without duplicates.
    expect(count(calls, 'stopInstance', old.InstanceId)).toBe(step === 'stop-old-instance' ? 2 : 1);
    expect(count(calls, 'createSnapshot', 'pre-upgrade-live')).toBe(step === 'snapshot-live' ? 2 : 1);
    expect(count(calls, 'createSnapshot', 'pre-upgrade-final')).toBe(1);
    expect(count(calls, 'ensureInstance')).toBe(step === 'launch-new-instance' ? 2 : 1);
    const purposes = (await snapshots('crash')).map((s) => tagMap(s.Tags)['sourcegraph-launch:purpose']).sort();
    expect(purposes).toEqual(['pre-upgrade-final', 'pre-upgrade-live']);
    const live = await instances('crash');
    expect(live).toHaveLength(2);
    expect(live.filter((i) => i.State?.Name === 'running').map((i) => tagMap(i.Tags)['sourcegraph-launch:version'])).toEqual([NEW]);
    await assertInvariants('crash', oldData);
  });
});

describe('rollback interrupted after a step', () => {
  it.each([
    { strategy: 'clone', step: 'stop-upgraded-instance', done: ['stop-upgraded-instance'] },
    { strategy: 'move', step: 'restore-data-volume', done: ['stop-upgraded-instance', 'restore-data-volume'] },
    { strategy: 'move', step: 'start-rollback-point', done: ['stop-upgraded-instance', 'restore-data-volume', 'attach-data-volume', 'start-rollback-point'] },
  ])('$strategy, after $step: the re-run finishes with one restored disk at most', async ({ strategy, step, done }) => {
    const home = tempHome();
    const old = await launch(home, 'back');
    await runUpgrade(deps(home), 'back', upgradeFlags({ strategy }));
    const calls: Calls = [];
    await expect(runRollback(deps(home, { calls, crashAfter: step }), 'back', rollbackFlags())).rejects.toMatchObject({
      remediation: expect.stringMatching(/No data was deleted\. Re-run `sourcegraph-launch rollback back --region us-east-1 --yes`/),
    });
    expect((await instances('back')).filter((i) => i.State?.Name === 'running').length).toBeLessThanOrEqual(1);

    const back = await runRollback(deps(home, { calls }), 'back', rollbackFlags());
    // The crashed step ran again; those before it were restored.
    expect(back.steps.filter((s) => s.resumed).map((s) => s.id)).toEqual(done.slice(0, -1));
    expect(back).toMatchObject({ version: OLD, instanceId: old.InstanceId });
    expect(count(calls, 'stopInstance')).toBe(step === 'stop-upgraded-instance' ? 2 : 1);
    expect(count(calls, 'createDiskFromSnapshot')).toBe(strategy === 'clone' ? 0 : step === 'restore-data-volume' ? 2 : 1);
    const running = (await instances('back')).filter((i) => i.State?.Name === 'running');
    expect(running.map((i) => i.InstanceId)).toEqual([old.InstanceId]);
    if (strategy === 'move') {
      const restored = ((await ec2.send(new DescribeVolumesCommand({ Filters: [...byDeployment('back'), { Name: 'snapshot-id', Values: [tagMap(running[0]!.Tags)['sourcegraph-launch:rollback-snapshot']!] }] }))).Volumes ?? []);
      expect(restored.map((v) => v.VolumeId)).toEqual([back.restoredVolumeId]);
    }
  });
});

describe('refusals change nothing', () => {
  async function unchanged(name: string, old: Instance) {
    expect((await instances(name)).map((i) => [i.InstanceId, i.State?.Name])).toEqual([[old.InstanceId, 'running']]);
    expect(await snapshots(name)).toEqual([]);
  }

  it('a downgrade is bad input pointing at rollback; the same version is nothing to do', async () => {
    const home = tempHome();
    const old = await launch(home, 'down');
    await expect(runUpgrade(deps(home), 'down', upgradeFlags({ to: '6.10.0' }))).rejects.toMatchObject({ code: 'downgrade-refused', exitCode: 2, remediation: expect.stringMatching(/rollback/) });
    const io = new ScriptedIo([], false);
    const same = await runUpgrade(deps(home, { io }), 'down', upgradeFlags({ to: OLD }));
    expect(same.hops).toEqual([]);
    expect(io.events.some((e) => e.kind === 'success' && /nothing to upgrade/.test(e.message))).toBe(true);
    await unchanged('down', old);
  });

  it('a jump without images stops before anything and names the build-image commands', async () => {
    const home = tempHome();
    const old = await launch(home, 'far');
    const err = await runUpgrade(deps(home), 'far', upgradeFlags({ to: '6.14.0' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'missing-images', exitCode: 1 });
    expect((err as LaunchError).remediation).toMatch(/build-image --cloud aws --region us-east-1 --version 6\.13\.\d+ --size S --ssh-cidr <this machine's address>\/32/);
    await unchanged('far', old);
  });

  it('in CI without --yes: exit 2 naming --yes (upgrade and rollback); on a terminal, answering no changes nothing', async () => {
    const home = tempHome();
    const old = await launch(home, 'ask');
    const ci = runUpgrade(deps(home), 'ask', upgradeFlags({ yes: false }));
    await expect(ci).rejects.toBeInstanceOf(MissingInputError);
    await expect(ci).rejects.toMatchObject({ exitCode: 2, message: '--yes is required to upgrade when not running interactively' });
    const io = new ScriptedIo([false], true);
    await expect(runUpgrade(deps(home, { io }), 'ask', upgradeFlags({ yes: false }))).rejects.toBeInstanceOf(DeclinedError);
    expect(io.questions.map((q) => q.message)).toEqual([`Upgrade ask from ${OLD} to ${NEW} (clone)?`]);
    await unchanged('ask', old);

    await runUpgrade(deps(home), 'ask', upgradeFlags());
    await expect(runRollback(deps(home), 'ask', rollbackFlags({ yes: false }))).rejects.toMatchObject({ exitCode: 2, message: '--yes is required to roll back when not running interactively' });
    expect((await instances('ask')).find((i) => i.InstanceId === old.InstanceId)?.State?.Name).toBe('stopped');
  });
});
