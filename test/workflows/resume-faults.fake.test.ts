// Interrupted and failing runs on the fake cloud, as each of the three clouds. A throw from the
// tests' step hook (deps.afterStep) lands after a step's work and before the journal records it:
// the worst moment to crash. The re-run restores every step that finished (their cloud calls are
// not made again), runs the interrupted one again (idempotently) and ends like an uninterrupted
// run, with one of everything. Errors injected into the fake surface as the typed error and exit
// code a user sees, with nothing left half-made. A virtual clock with real delays shows the waits
// wait: minutes of cloud time pass in milliseconds.
import { describe, expect, it } from 'vitest';
import { PROFILES, type FakeCloud } from '../../src/cloud/fake/index.js';
import type { CloudMethod } from '../../src/cloud/fake/index.js';
import type { InstanceSpec } from '../../src/cloud/port.js';
import { runBackup } from '../../src/commands/backup.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRestore } from '../../src/commands/restore.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { CloudError, CredentialsError, ExitCode, LaunchError, WaitTimeoutError } from '../../src/core/errors.js';
import type { BackupResult } from '../../src/workflows/backup.js';
import type { RestoreResult } from '../../src/workflows/restore.js';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeAppliance, fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const NAME = 'prod';
const PROFILE_IDS = ['aws', 'gcp', 'azure'] as const;
type Profile = (typeof PROFILE_IDS)[number];
const where = { region: REGION, providerFlags: {} };
const launchFlags = (extra: Record<string, unknown> = {}) => ({
  ...where,
  size: 'XS',
  version: OLD,
  allowCidr: ['203.0.113.0/24'],
  sshCidr: ['none'],
  name: NAME,
  yes: true,
  holdSeconds: '0',
  ...extra,
});
const upgradeFlags = (extra: Record<string, unknown> = {}) => ({ ...where, to: NEW, yes: true, holdSeconds: '0', ...extra });

function rig(profile: Profile, clock?: VirtualClock, delays?: Parameters<typeof fakeCloudFor>[1]) {
  const fake = fakeCloudFor(profile, { images: publishedImages([OLD, NEW]), ...(clock ? { clock } : {}), ...delays });
  const home = tempHome();
  const appliance = fakeAppliance(fake);
  const deps = (opts: { io?: ScriptedIo; crashAfter?: string; httpGet?: typeof appliance.httpGet } = {}) =>
    makeFakeDeps({
      fake,
      io: opts.io ?? new ScriptedIo([], false),
      home,
      httpGet: opts.httpGet ?? appliance.httpGet,
      ...(clock ? { clock } : {}),
      ...(opts.crashAfter
        ? {
            afterStep: (id: string) => {
              if (id === opts.crashAfter) throw new Error(`simulated crash after ${id}`);
            },
          }
        : {}),
    });
  return { fake, deps };
}

const live = (fake: FakeCloud) => fake.state.instances.filter((i) => i.deployment === NAME && i.state !== 'terminated');
const instance = (fake: FakeCloud, id: string) => fake.state.instances.find((i) => i.id === id);
const deploymentSnapshots = (fake: FakeCloud) => fake.state.snapshots.filter((s) => s.labels.deployment === NAME);
const count = (fake: FakeCloud, method: CloudMethod, since = 0, first?: string) =>
  fake.calls.slice(since).filter((c) => c.method === method && (first === undefined || c.args[0] === first)).length;
const rejection = async (p: Promise<unknown>) => p.then(() => expect.fail('expected the command to fail'), (e: unknown) => e as LaunchError);

/** One of everything a launch makes, and nothing else. */
function expectOneOfEach(fake: FakeCloud, profile: Profile) {
  const instances = live(fake);
  expect(instances.map((i) => i.state)).toEqual(['running']);
  expect(fake.state.accessPolicies).toHaveLength(1);
  expect(fake.state.addresses.map((a) => a.instanceId)).toEqual([instances[0]!.id]);
  expect(fake.state.sshKeys).toHaveLength(PROFILES[profile].keepsSshKeys ? 1 : 0);
  expect(fake.state.disks.filter((d) => d.labels.role === 'data-volume')).toHaveLength(1);
}

describe.each(PROFILE_IDS)('as %s: interrupted runs resume', (profile) => {
  const launchSteps = ['key-pair', 'security-group', 'instance', 'address'] as const;
  const verbOf: Record<(typeof launchSteps)[number], CloudMethod> = {
    'key-pair': 'ensureSshKey',
    'security-group': 'ensureAccessPolicy',
    instance: 'ensureInstance',
    address: 'ensureStaticAddress',
  };

  it.each(launchSteps)('launch, after %s: the re-run restores what finished and creates nothing twice', async (step) => {
    const { fake, deps } = rig(profile);
    const crashed = await rejection(runLaunch(deps({ crashAfter: step }), launchFlags()));
    expect(crashed).toBeInstanceOf(CloudError);
    expect(crashed.remediation).toMatch(/Nothing is left half-made: re-run `sourcegraph-launch launch --yes .*--name prod/);
    expect(deps().state.getDeployment('aws', REGION, NAME)?.journal?.finishedAt).toBeUndefined();

    const io = new ScriptedIo([], false);
    const done = (await runLaunch(deps({ io }), launchFlags())) as LaunchResult;
    expect(io.text()).toMatch(new RegExp(`Resuming the launch .*interrupted during: ${step}`));
    // The steps before the crash were restored, not run again ("done before").
    const restored = io.outcomes('succeed').filter((o) => o.message?.endsWith(': done before'));
    expect(restored).toHaveLength(launchSteps.indexOf(step));
    for (const s of launchSteps) {
      // The crashed step's work ran twice (idempotently); a serving instance at this version is found, not made again.
      const expected = s === step && s !== 'instance' ? 2 : 1;
      expect(count(fake, verbOf[s]), `${verbOf[s]} calls`).toBe(expected);
    }
    expectOneOfEach(fake, profile);
    expect(done).toMatchObject({ instanceId: live(fake)[0]!.id, ready: true, url: `http://${fake.state.addresses[0]!.ip}` });
    expect(deps().state.getDeployment('aws', REGION, NAME)?.journal?.finishedAt).toBeDefined();
  });

  const cloneSteps = ['snapshot-live', 'check-launch-permissions', 'stop-old-instance', 'snapshot-final', 'launch-new-instance', 'move-elastic-ip', 'wait-for-version', 'keep-rollback-point'];

  it.each(['snapshot-live', 'stop-old-instance', 'snapshot-final', 'launch-new-instance', 'move-elastic-ip', 'wait-for-version'])(
    'upgrade, after %s: the re-run restores what finished and finishes with one new instance',
    async (step) => {
      const { fake, deps } = rig(profile);
      const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
      const oldId = launched.instanceId;
      const oldData = launched.resources.dataVolumeId!;
      const since = fake.calls.length;

      const crashed = await rejection(runUpgrade(deps({ crashAfter: `${NEW}:${step}` }), NAME, upgradeFlags()));
      const cutover = cloneSteps.indexOf(step) >= cloneSteps.indexOf('stop-old-instance');
      expect(crashed).toBeInstanceOf(LaunchError);
      expect(crashed.details).toMatchObject({ cutoverStarted: cutover });
      expect(crashed.remediation).toMatch(cutover ? /Either resume: `sourcegraph-launch upgrade prod .*--yes`, or go back: `sourcegraph-launch rollback prod/ : /Nothing changed for users/);
      // Never two instances running; the pre-upgrade data disk untouched.
      expect(live(fake).filter((i) => i.state === 'running' || i.state === 'pending').length).toBeLessThanOrEqual(1);
      expect(fake.state.disks.some((d) => d.id === oldData)).toBe(true);
      if (!cutover) expect(instance(fake, oldId)?.state).toBe('running');

      const io = new ScriptedIo([], false);
      const resumed = await runUpgrade(deps({ io }), NAME, upgradeFlags());
      expect(io.text()).toMatch(/Resuming the upgrade of prod from 6\.11\.0 to 6\.12\.5040/);
      expect(resumed.steps.map((s) => s.id)).toEqual(cloneSteps.map((s) => `${NEW}:${s}`));
      expect(resumed.steps.filter((s) => s.resumed).map((s) => s.id)).toEqual(cloneSteps.slice(0, cloneSteps.indexOf(step)).map((s) => `${NEW}:${s}`));
      expect(resumed).toMatchObject({ to: NEW, url: launched.url, rollbackPoint: { instanceId: oldId, dataVolumeId: oldData } });

      // What finished was not done again; the interrupted step ran again without a duplicate.
      expect(count(fake, 'stopInstance', since, oldId)).toBe(step === 'stop-old-instance' ? 2 : 1);
      const snapshotsOf = (purpose: string) =>
        fake.calls.slice(since).filter((c) => c.method === 'createSnapshot' && (c.args[0] as { labels: { purpose?: string } }).labels.purpose === purpose).length;
      expect(snapshotsOf('pre-upgrade-live')).toBe(step === 'snapshot-live' ? 2 : 1);
      expect(snapshotsOf('pre-upgrade-final')).toBe(step === 'snapshot-final' ? 2 : 1);
      expect(count(fake, 'ensureInstance', since)).toBe(step === 'launch-new-instance' ? 2 : 1);
      expect(count(fake, 'attachStaticAddress', since)).toBe(step === 'move-elastic-ip' ? 2 : 1);
      expect(deploymentSnapshots(fake).map((s) => s.labels.purpose).sort()).toEqual(['pre-upgrade-final', 'pre-upgrade-live']);
      const instances = live(fake);
      expect(instances).toHaveLength(2);
      expect(instances.filter((i) => i.state === 'running').map((i) => [i.id, i.labels.version])).toEqual([[resumed.instanceId, NEW]]);
      expect(fake.state.addresses.map((a) => a.instanceId)).toEqual([resumed.instanceId]);
      expect(instance(fake, oldId)).toMatchObject({ state: 'stopped', labels: { role: 'rollback-point' } });
    },
  );
});

describe.each(PROFILE_IDS)('as %s: interrupted rollbacks and restores resume', (profile) => {
  it.each([
    { strategy: 'clone', step: 'stop-upgraded-instance' },
    { strategy: 'clone', step: 'start-rollback-point' },
    { strategy: 'move', step: 'restore-data-volume' },
    { strategy: 'move', step: 'attach-data-volume' },
    { strategy: 'move', step: 'move-elastic-ip' },
  ])('rollback ($strategy), after $step: the re-run finishes with the rollback point serving and one restored disk at most', async ({ strategy, step }) => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    const up = await runUpgrade(deps(), NAME, upgradeFlags({ strategy }));
    const since = fake.calls.length;
    const crashed = await rejection(runRollback(deps({ crashAfter: step }), NAME, { ...where, yes: true, holdSeconds: '0' }));
    expect(crashed.remediation).toMatch(/No data was deleted\. Re-run `sourcegraph-launch rollback prod --region us-east-1 --yes`/);
    expect(live(fake).filter((i) => i.state === 'running').length).toBeLessThanOrEqual(1);

    const back = await runRollback(deps(), NAME, { ...where, yes: true, holdSeconds: '0' });
    const order = ['stop-upgraded-instance', ...(strategy === 'move' ? ['restore-data-volume', 'attach-data-volume'] : []), 'start-rollback-point', 'move-elastic-ip', 'wait-for-version'];
    expect(back.steps.map((s) => s.id)).toEqual(order);
    expect(back.steps.filter((s) => s.resumed).map((s) => s.id)).toEqual(order.slice(0, order.indexOf(step)));
    expect(back).toMatchObject({ version: OLD, instanceId: launched.instanceId, upgradedInstanceId: up.instanceId, url: launched.url });
    expect(count(fake, 'stopInstance', since, up.instanceId)).toBe(step === 'stop-upgraded-instance' ? 2 : 1);
    expect(count(fake, 'createDiskFromSnapshot', since)).toBe(strategy === 'clone' ? 0 : step === 'restore-data-volume' ? 2 : 1);
    const restoredDisks = fake.state.disks.filter((d) => d.labels.operation?.endsWith(':rollback'));
    expect(restoredDisks.map((d) => d.id)).toEqual(strategy === 'move' ? [back.restoredVolumeId] : []);
    expect(live(fake).filter((i) => i.state === 'running').map((i) => i.id)).toEqual([launched.instanceId]);
    expect(fake.state.addresses.map((a) => a.instanceId)).toEqual([launched.instanceId]);
  });

  it('restore, after its instance was created: the re-run goes on with the instance it made', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    const backup = (await runBackup(deps(), NAME, { ...where, wait: true })) as BackupResult;
    await fake.stopInstance(launched.instanceId);
    fake.settle();
    const flags = { ...where, snapshot: backup.snapshotId, yes: true };
    await rejection(runRestore(deps({ crashAfter: 'instance' }), NAME, flags));
    const made = live(fake).filter((i) => i.id !== launched.instanceId);
    expect(made).toHaveLength(1);

    // Its own instance may run already: that is no reason to refuse.
    const restored = (await runRestore(deps(), NAME, flags)) as RestoreResult;
    expect(restored.instanceId).toBe(made[0]!.id);
    expect(live(fake)).toHaveLength(2);
    expect(instance(fake, restored.instanceId)).toMatchObject({ state: 'running', labels: { role: 'instance', version: OLD } });
    expect(instance(fake, launched.instanceId)).toMatchObject({ state: 'stopped', labels: { role: 'rolled-back' } });
  });
});

describe.each(PROFILE_IDS)('as %s: cloud errors surface typed, with nothing half-made', (profile) => {
  const caps = PROFILES[profile].capabilities;

  it('launch without capacity: exit 1 with what to try, and what it had created is removed', async () => {
    const { fake, deps } = rig(profile);
    fake.inject({ method: 'ensureInstance', kind: 'insufficient-capacity' });
    const io = new ScriptedIo([], false);
    const err = await rejection(runLaunch(deps({ io }), launchFlags()));
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'insufficient-capacity', exitCode: ExitCode.failed });
    expect(io.text()).toMatch(/Removed what this launch had created: security group sg-/);
    expect(fake.state.instances).toEqual([]);
    expect(fake.state.accessPolicies).toEqual([]);
    expect(fake.state.sshKeys).toEqual([]);
    expect(fake.state.addresses).toEqual([]);
    expect(deps().state.getDeployment('aws', REGION, NAME)).toBeUndefined();
  });

  it('launch with expired credentials: exit 3 before any change', async () => {
    const { fake, deps } = rig(profile);
    fake.inject({ method: 'whoAmI', kind: 'credentials' });
    const err = await rejection(runLaunch(deps(), launchFlags()));
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(fake.mutatingCalls()).toEqual([]);
  });

  it('launch losing the network at the address: exit 1 saying how to resume; the re-run finishes with one of each', async () => {
    const { fake, deps } = rig(profile);
    fake.inject({ method: 'ensureStaticAddress', kind: 'network' });
    const err = await rejection(runLaunch(deps(), launchFlags()));
    expect(err).toMatchObject({ code: 'network', exitCode: ExitCode.failed, remediation: expect.stringMatching(/Nothing is left half-made: re-run `sourcegraph-launch launch/) });
    expect(live(fake)).toHaveLength(1);
    expect(fake.state.addresses).toEqual([]);
    await runLaunch(deps(), launchFlags());
    expectOneOfEach(fake, profile);
  });

  it('upgrade refused the new instance: before anything changes where the cloud can check first, else at cutover with resume or rollback', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    fake.inject({ method: caps.permissionPreflight ? 'checkInstancePermissions' : 'ensureInstance', kind: 'permission-denied' });
    const err = await rejection(runUpgrade(deps(), NAME, upgradeFlags()));
    expect(err).toMatchObject({ exitCode: ExitCode.credentials, details: { cutoverStarted: !caps.permissionPreflight } });
    // No new instance either way.
    expect(live(fake).map((i) => i.id)).toEqual([launched.instanceId]);
    if (caps.permissionPreflight) {
      expect(err.remediation).toMatch(/Nothing changed for users: .* still serves 6\.11\.0/);
      expect(instance(fake, launched.instanceId)).toMatchObject({ state: 'running', labels: { role: 'instance' } });
      expect(count(fake, 'stopInstance')).toBe(0);
      return;
    }
    // Only a real launch shows the refusal: the old instance stopped, the way back is rollback.
    expect(err.remediation).toMatch(/Either resume: .*or go back: `sourcegraph-launch rollback prod --region us-east-1 --yes`/);
    expect(instance(fake, launched.instanceId)).toMatchObject({ state: 'stopped', labels: { role: 'rollback-point' } });
    const back = await runRollback(deps(), NAME, { ...where, yes: true, holdSeconds: '0' });
    expect(back).toMatchObject({ version: OLD, instanceId: launched.instanceId, url: launched.url });
    expect(live(fake).map((i) => [i.id, i.state, i.labels.role])).toEqual([[launched.instanceId, 'running', 'instance']]);
  });

  it('backup throttled: exit 1 and no snapshot', async () => {
    const { fake, deps } = rig(profile);
    await runLaunch(deps(), launchFlags());
    fake.inject({ method: 'createSnapshot', kind: 'throttled' });
    const err = await rejection(runBackup(deps(), NAME, { ...where, wait: true }));
    expect(err).toMatchObject({ code: 'throttled', exitCode: ExitCode.failed });
    expect(deploymentSnapshots(fake)).toEqual([]);
    const ok = (await runBackup(deps(), NAME, { ...where, wait: true })) as BackupResult;
    expect(deploymentSnapshots(fake).map((s) => s.id)).toEqual([ok.snapshotId]);
  });

  it('restore over quota: exit 1 and no instance; the re-run makes exactly one', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    const backup = (await runBackup(deps(), NAME, { ...where, wait: true })) as BackupResult;
    await fake.stopInstance(launched.instanceId);
    fake.settle();
    fake.inject({ method: 'ensureInstance', kind: 'quota-exceeded' });
    const flags = { ...where, snapshot: backup.snapshotId, yes: true };
    const err = await rejection(runRestore(deps(), NAME, flags));
    expect(err).toMatchObject({ code: 'quota-exceeded', exitCode: ExitCode.failed });
    expect(live(fake)).toHaveLength(1);
    const restored = (await runRestore(deps(), NAME, flags)) as RestoreResult;
    expect(live(fake).filter((i) => i.state === 'running').map((i) => i.id)).toEqual([restored.instanceId]);
    expect(live(fake)).toHaveLength(2);
    expect((count(fake, 'ensureInstance'))).toBe(3); // the launch, the refused one, the re-run
    expect((fake.calls.filter((c) => c.method === 'ensureInstance').at(-1)!.args[0] as InstanceSpec).dataDisk).toMatchObject({ mode: 'snapshot', snapshotId: backup.snapshotId });
  });

  it('destroy losing the network half way: exit 1; the re-run deletes the rest and still keeps the data', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    fake.inject({ method: 'deleteAccessPolicy', kind: 'network' });
    const err = await rejection(runDestroy(deps(), NAME, { ...where, yes: true }));
    expect(err).toMatchObject({ code: 'network', exitCode: ExitCode.failed });
    expect(live(fake)).toEqual([]);
    expect(fake.state.accessPolicies).toHaveLength(1);
    const again = (await runDestroy(deps(), NAME, { ...where, yes: true })) as { deleted: { action: string; id: string }[]; kept: object[] };
    expect(again.deleted).toContainEqual({ action: 'delete-security-group', id: launched.resources.securityGroupId });
    expect(again.kept).toEqual([{ volumeId: launched.resources.dataVolumeId }]);
    expect(fake.state.accessPolicies).toEqual([]);
    expect(fake.state.sshKeys).toEqual([]);
    expect(fake.state.disks.map((d) => d.id)).toContain(launched.resources.dataVolumeId);
  });
});

describe('waits really wait (a virtual clock with the cloud taking its time)', () => {
  const delays = {
    delays: {
      instanceStart: { ms: 90_000 },
      instanceStop: { ms: 45_000 },
      instanceTerminate: { ms: 30_000 },
      diskCreate: { ms: 20_000 },
      diskDetach: { ms: 20_000 },
      snapshot: { ms: 5 * 60_000 },
    },
  };

  it.each(PROFILE_IDS)('as %s: launch and upgrade wait for every transition and hold the version for 90 s', async (profile) => {
    const clock = new VirtualClock();
    const { fake, deps } = rig(profile, clock, delays);
    const launched = (await runLaunch(deps(), launchFlags({ holdSeconds: '90' }))) as LaunchResult;
    // Started (90 s), then /healthz held for 90 s.
    expect(clock.elapsed()).toBeGreaterThanOrEqual(180_000);
    expect(launched.ready).toBe(true);
    const afterLaunch = clock.now();

    const up = await runUpgrade(deps(), NAME, upgradeFlags({ holdSeconds: '90' }));
    // Two snapshots of 5 min, the stop (45 s), the new instance's start (90 s) and the 90 s hold, at least.
    expect(clock.now() - afterLaunch).toBeGreaterThanOrEqual(2 * 300_000 + 45_000 + 90_000 + 90_000);
    // Downtime: from the old instance stopping until the new version answered (the hold not counted).
    expect(up.downtimeMs).toBeGreaterThanOrEqual(45_000 + 300_000 + 90_000);
    expect(up.downtimeMs).toBeLessThan(clock.now() - afterLaunch);
    const snapshotTimes = deploymentSnapshots(fake).map((s) => Date.parse(s.startTime!));
    expect(Math.max(...snapshotTimes) - Math.min(...snapshotTimes)).toBeGreaterThanOrEqual(300_000 + 45_000);
    expect(clock.sleeps.length).toBeGreaterThan(0);
  });

  it('a snapshot that never completes: backup --wait times out after 6 h of cloud time, exit 4 naming the stage', async () => {
    const clock = new VirtualClock();
    const { fake, deps } = rig('aws', clock, { delays: { snapshot: { ms: 7 * 3_600_000 } } });
    await runLaunch(deps(), launchFlags());
    const before = clock.now();
    const err = await rejection(runBackup(deps(), NAME, { ...where, wait: true }));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ exitCode: ExitCode.timedOut, details: { stage: 'snapshot-completed' } });
    expect(clock.now() - before).toBeGreaterThanOrEqual(6 * 3_600_000);
    // The snapshot exists (still pending): nothing was undone.
    expect(deploymentSnapshots(fake).map((s) => s.state)).toEqual(['pending']);
  });

  it('an appliance that never serves: launch times out at /healthz after --timeout, exit 4 with how to resume', async () => {
    const clock = new VirtualClock();
    const { fake, deps } = rig('gcp', clock, delays);
    const refused = async (url: string): Promise<never> => {
      throw Object.assign(new Error(`connection refused (ECONNREFUSED) ${url}`), { code: 'ECONNREFUSED' });
    };
    const err = await rejection(runLaunch(deps({ httpGet: refused }), launchFlags({ timeout: '10' })));
    expect(err).toMatchObject({ exitCode: ExitCode.timedOut, remediation: expect.stringMatching(/sourcegraph-launch launch --yes .*--name prod/) });
    expect(clock.elapsed()).toBeGreaterThanOrEqual(10 * 60_000);
    // Everything it made is there for the re-run.
    expectOneOfEach(fake, 'gcp');
  });
});
