// The whole life of a deployment, in-process on the fake cloud as each of the three clouds:
// launch → status → backup (and the daily schedule) → upgrade → rollback → restore → prune →
// destroy → relaunch on the kept data, through the same run* command functions the CLI calls.
// Every check reads the fake's own state (which instances, disks, snapshots and addresses exist,
// and their labels), so the workflows are judged by what they did, not by what they said.
// Where a cloud lacks an ability (no launch permission check, no snapshot schedules, no
// provisioned initialisation rate, an existing disk attached only by stop → attach → start), the
// same run shows the workflow doing without it.
import { describe, expect, it } from 'vitest';
import { PROFILES, type FakeCloud } from '../../src/cloud/fake/index.js';
import type { InstanceSpec } from '../../src/cloud/port.js';
import { runBackup } from '../../src/commands/backup.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runPrune } from '../../src/commands/prune.js';
import { runRestore } from '../../src/commands/restore.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runStatus } from '../../src/commands/status.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { ExitCode } from '../../src/core/errors.js';
import type { BackupResult, ScheduleResult } from '../../src/workflows/backup.js';
import type { RestoreResult } from '../../src/workflows/restore.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeAppliance, fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const NAME = 'prod';
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

/** A fake as `profile` with published images of both versions, and Deps over it sharing one state home. */
function rig(profile: 'aws' | 'gcp' | 'azure') {
  const fake = fakeCloudFor(profile, { images: publishedImages([OLD, NEW]) });
  const home = tempHome();
  const appliance = fakeAppliance(fake);
  const deps = (io = new ScriptedIo([], false)) => makeFakeDeps({ fake, io, home, httpGet: appliance.httpGet });
  return { fake, deps };
}

const instance = (fake: FakeCloud, id: string) => fake.state.instances.find((i) => i.id === id);
const disk = (fake: FakeCloud, id: string) => fake.state.disks.find((d) => d.id === id);
const live = (fake: FakeCloud) => fake.state.instances.filter((i) => i.deployment === NAME && i.state !== 'terminated');
const dataOf = (i: { disks: { role: string; diskId: string }[] }) => i.disks.find((d) => d.role === 'data')?.diskId;
/** The deployment's snapshots (not those that hold the images' disks). */
const snapshotIds = (fake: FakeCloud) => fake.state.snapshots.filter((s) => s.labels.deployment === NAME).map((s) => s.id).sort();
const callsOf = (fake: FakeCloud, method: string, first?: string) => fake.calls.filter((c) => c.method === method && (first === undefined || c.args[0] === first));

describe.each(['aws', 'gcp', 'azure'] as const)('as %s: the whole lifecycle on the fake cloud', (profile) => {
  const caps = PROFILES[profile].capabilities;

  it('launch → status → backup → upgrade → rollback → restore → prune → destroy → relaunch on the kept data', async () => {
    const { fake, deps } = rig(profile);

    // ---- launch: one instance with its data disk (kept with it), the address on it, one access policy
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    expect(live(fake)).toHaveLength(1);
    const first = live(fake)[0]!;
    expect(first).toMatchObject({ id: launched.instanceId, state: 'running', labels: { deployment: NAME, role: 'instance', version: OLD, size: 'XS' } });
    const dataId = dataOf(first)!;
    expect(first.disks.find((d) => d.role === 'data')!.deleteWithInstance).toBe(false);
    const address = fake.state.addresses.find((a) => a.id === launched.resources.allocationId)!;
    expect(address).toMatchObject({ instanceId: first.id, managed: true, labels: { deployment: NAME } });
    expect(launched).toMatchObject({ version: OLD, ready: true, publicIp: address.ip, url: `http://${address.ip}`, resources: { dataVolumeId: dataId } });
    expect(fake.state.accessPolicies.map((p) => p.id)).toEqual([launched.resources.securityGroupId]);
    if (PROFILES[profile].keepsSshKeys) {
      expect(fake.state.sshKeys.map((k) => k.name)).toEqual([launched.resources.keyName]);
      expect(first.sshKeyName).toBe(launched.resources.keyName);
    } else {
      // The key travels with the instance: nothing to keep or delete by name.
      expect(fake.state.sshKeys).toEqual([]);
      expect(launched.resources.keyName).toBeUndefined();
      expect(first.sshPublicKey).toMatch(/^ssh-ed25519 /);
    }

    // ---- status: found by labels, asked over HTTP which version it serves
    const status = await runStatus(deps(), NAME, where);
    expect(status).toMatchObject({
      state: 'running',
      instanceId: first.id,
      versionTag: OLD,
      servingVersion: OLD,
      health: 'healthy',
      publicIp: address.ip,
      dataVolumes: [{ id: dataId, attachedTo: first.id }],
      addresses: [{ id: address.id, ip: address.ip, managed: true }],
      securityGroups: [launched.resources.securityGroupId],
      otherInstances: [],
    });

    // ---- backup: a completed, labelled snapshot of the data disk; the daily schedule where the cloud has one
    const backup = (await runBackup(deps(), NAME, { ...where, wait: true })) as BackupResult;
    expect(backup).toMatchObject({ volumeId: dataId, version: OLD, state: 'completed' });
    expect(fake.state.snapshots.find((s) => s.id === backup.snapshotId)).toMatchObject({
      diskId: dataId,
      state: 'completed',
      labels: { deployment: NAME, purpose: 'backup', 'source-version': OLD },
    });
    const scheduled = runBackup(deps(), NAME, { ...where, schedule: 'daily', retain: '7' });
    if (caps.snapshotSchedules) {
      const schedule = ((await scheduled) as ScheduleResult).schedule;
      expect(fake.state.schedules).toEqual([expect.objectContaining({ id: schedule.policyId, deployment: NAME, retain: 7 })]);
    } else {
      await expect(scheduled).rejects.toMatchObject({ code: 'schedule-not-offered', exitCode: ExitCode.badInput });
      expect(fake.state.schedules).toEqual([]);
    }
    // One night of the cloud's schedule (nothing where there is none).
    const nightly = fake.runSnapshotSchedules();
    expect(nightly.map((s) => s.diskId)).toEqual(caps.snapshotSchedules ? [dataId] : []);

    // ---- upgrade (clone): a new instance with a disk made from the final snapshot; the address moves, the URL stays
    const upIo = new ScriptedIo([], false);
    const up = await runUpgrade(deps(upIo), NAME, { ...where, to: NEW, yes: true, holdSeconds: '0' });
    const second = instance(fake, up.instanceId!)!;
    const finalSnapshot = up.rollbackPoint!.snapshotId!;
    expect(up).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${address.ip}`, rollbackPoint: { instanceId: first.id, dataVolumeId: dataId, strategy: 'clone', version: OLD } });
    expect(second).toMatchObject({ state: 'running', labels: { deployment: NAME, role: 'instance', version: NEW } });
    expect(instance(fake, first.id)).toMatchObject({ state: 'stopped', labels: { role: 'rollback-point', 'source-version': OLD, 'rollback-snapshot': finalSnapshot } });
    expect(fake.state.addresses).toEqual([expect.objectContaining({ id: address.id, ip: address.ip, instanceId: second.id })]);
    const upgradedData = dataOf(second)!;
    expect(upgradedData).not.toBe(dataId);
    expect(disk(fake, upgradedData)).toMatchObject({ sourceSnapshotId: finalSnapshot, attachedTo: second.id, labels: { version: NEW } });
    expect(disk(fake, dataId)).toMatchObject({ attachedTo: first.id, labels: { role: 'rollback-data' } });
    const upgradeSnapshots = fake.state.snapshots.filter((s) => s.labels.purpose?.startsWith('pre-upgrade'));
    expect(upgradeSnapshots.map((s) => [s.labels.purpose, s.diskId, s.state]).sort()).toEqual([
      ['pre-upgrade-final', dataId, 'completed'],
      ['pre-upgrade-live', dataId, 'completed'],
    ]);
    // The launch permission check only where the cloud can make one without creating anything.
    expect(callsOf(fake, 'checkInstancePermissions')).toHaveLength(caps.permissionPreflight ? 1 : 0);
    const preflightStep = up.steps.find((s) => s.id === `${NEW}:check-launch-permissions`)!;
    expect(upIo.outcomes('succeed').find((o) => o.title === preflightStep.title)?.message).toMatch(caps.permissionPreflight ? /accepted/ : /^skipped: .* has no permission check that creates nothing/);
    // The cloned disk's provisioned initialisation rate only where the cloud offers one.
    const launchSpec = callsOf(fake, 'ensureInstance').at(-1)!.args[0] as InstanceSpec;
    expect(launchSpec.dataDisk).toMatchObject({ mode: 'snapshot', snapshotId: finalSnapshot });
    expect((launchSpec.dataDisk as { initializationRateMiBps?: number }).initializationRateMiBps).toBe(caps.diskInitializationRate ? 300 : undefined);
    expect(up.volumeInitialization).toMatchObject({ volumeId: upgradedData, state: caps.diskInitializationRate ? expect.stringMatching(/^(initializing|completed)$/) : 'unknown' });

    // ---- rollback (clone): the rollback point starts again with its untouched disk; the address moves back
    const back = await runRollback(deps(), NAME, { ...where, yes: true, holdSeconds: '0' });
    expect(back).toMatchObject({ version: OLD, strategy: 'clone', instanceId: first.id, upgradedInstanceId: second.id, url: `http://${address.ip}` });
    expect(instance(fake, first.id)).toMatchObject({ state: 'running', labels: { role: 'instance' } });
    expect(instance(fake, second.id)).toMatchObject({ state: 'stopped', labels: { role: 'rolled-back' } });
    expect(fake.state.addresses).toEqual([expect.objectContaining({ id: address.id, ip: address.ip, instanceId: first.id })]);
    expect(disk(fake, dataId)).toMatchObject({ attachedTo: first.id, labels: { role: 'data-volume' } });
    expect(disk(fake, upgradedData)).toMatchObject({ attachedTo: second.id, labels: { role: 'rollback-data' } });
    expect((await runStatus(deps(), NAME, where)).servingVersion).toBe(OLD);

    // ---- restore from the backup: refused while an instance runs; after it failed, a new one from the snapshot
    const countBefore = fake.state.instances.length;
    await expect(runRestore(deps(), NAME, { ...where, snapshot: backup.snapshotId, yes: true })).rejects.toMatchObject({ code: 'deployment-running', exitCode: ExitCode.badInput });
    expect(fake.state.instances).toHaveLength(countBefore);
    await fake.stopInstance(first.id); // the serving instance fails
    fake.settle();
    const restored = (await runRestore(deps(), NAME, { ...where, snapshot: backup.snapshotId, yes: true })) as RestoreResult;
    const third = instance(fake, restored.instanceId)!;
    expect(restored).toMatchObject({ version: OLD, snapshotId: backup.snapshotId, role: 'instance', dataVolumeId: dataOf(third) });
    expect(third).toMatchObject({ state: 'running', labels: { deployment: NAME, role: 'instance', version: OLD } });
    expect(disk(fake, restored.dataVolumeId!)).toMatchObject({ sourceSnapshotId: backup.snapshotId, attachedTo: third.id });
    // The URL survives a restore too: the address moved from the failed instance to the restored one.
    expect(fake.state.addresses).toEqual([expect.objectContaining({ id: address.id, ip: address.ip, instanceId: third.id })]);
    expect(restored.publicIp).toBe(address.ip);
    expect((await runStatus(deps(), NAME, where)).servingVersion).toBe(OLD);
    // The instance it replaced stays, stopped, as a way back, its data disk with it.
    expect(instance(fake, first.id)).toMatchObject({ state: 'stopped', labels: { role: 'rolled-back' } });
    expect(disk(fake, dataId)).toMatchObject({ attachedTo: first.id, labels: { role: 'rollback-data' } });
    expect(live(fake).filter((i) => i.state === 'running').map((i) => i.id)).toEqual([third.id]);

    // ---- prune: the stopped leftovers and the upgrade's snapshots go (their disk still holds that
    // data); no data disk goes (none has a snapshot since it was last written), nor any backup
    const pruned = await runPrune(deps(), NAME, { ...where, yes: true });
    const upgradeSnapshotIds = upgradeSnapshots.map((s) => s.id);
    expect([...pruned.removed!].sort()).toEqual([first.id, second.id, ...upgradeSnapshotIds].sort());
    expect(pruned.kept.map((k) => k.id).sort()).toEqual([dataId, upgradedData].sort());
    expect(instance(fake, first.id)?.state ?? 'terminated').toBe('terminated');
    expect(instance(fake, second.id)?.state ?? 'terminated').toBe('terminated');
    for (const id of [dataId, upgradedData, restored.dataVolumeId!]) expect(disk(fake, id)).toBeDefined();
    expect(snapshotIds(fake)).toEqual([backup.snapshotId, ...nightly.map((s) => s.id)].sort());
    expect(instance(fake, third.id)?.state).toBe('running');
    // Prune releases no address.
    expect(fake.state.addresses.map((a) => a.id)).toEqual([address.id]);

    // ---- destroy: everything labelled with the deployment goes but the data (disks, snapshots, schedule)
    const snapshotsBefore = snapshotIds(fake);
    const schedulesBefore = fake.state.schedules.map((s) => s.id);
    const destroyed = (await runDestroy(deps(), NAME, { ...where, yes: true })) as { deleted: { action: string; id: string }[]; kept: object[] };
    expect(destroyed.deleted).toEqual(
      expect.arrayContaining([
        { action: 'terminate', id: third.id },
        { action: 'release-address', id: address.id },
        { action: 'delete-security-group', id: launched.resources.securityGroupId },
      ]),
    );
    expect(destroyed.deleted.filter((d) => d.action === 'delete-key-pair').map((d) => d.id)).toEqual(PROFILES[profile].keepsSshKeys ? [launched.resources.keyName] : []);
    expect(destroyed.kept).toEqual(
      expect.arrayContaining([
        ...[dataId, upgradedData, restored.dataVolumeId!].map((volumeId) => ({ volumeId })),
        ...snapshotsBefore.map((snapshotId) => ({ snapshotId })),
        ...schedulesBefore.map((policyId) => ({ policyId })),
      ]),
    );
    expect(destroyed.kept).toHaveLength(3 + snapshotsBefore.length + schedulesBefore.length);
    expect(live(fake)).toEqual([]);
    expect(fake.state.addresses).toEqual([]);
    expect(fake.state.accessPolicies).toEqual([]);
    expect(fake.state.sshKeys).toEqual([]);
    for (const id of [dataId, upgradedData, restored.dataVolumeId!]) {
      expect(disk(fake, id)).toMatchObject({ state: 'available', labels: { deployment: NAME } });
      expect(disk(fake, id)!.attachedTo).toBeUndefined();
    }
    expect(snapshotIds(fake)).toEqual(snapshotsBefore);
    expect(fake.state.schedules.map((s) => s.id)).toEqual(schedulesBefore);
    expect(deps().state.getDeployment('aws', REGION, NAME)).toBeUndefined();

    // ---- prune after destroy touches nothing destroy kept: nothing qualifies, and with --retain 0
    // (the backup's disk still exists) it refuses, as nothing serves
    expect(await runPrune(deps(), NAME, { ...where, yes: true })).toMatchObject({ items: [], removed: [] });
    await expect(runPrune(deps(), NAME, { ...where, yes: true, retain: '0' })).rejects.toMatchObject({ code: 'deployment-not-serving', exitCode: ExitCode.badInput });
    expect(snapshotIds(fake)).toEqual(snapshotsBefore);
    for (const id of [dataId, upgradedData, restored.dataVolumeId!]) expect(disk(fake, id)).toBeDefined();

    // ---- relaunch on the kept data disk: attached before Sourcegraph's first boot, at creation where
    // the cloud can, else behind the boot guard (stop → attach → start)
    const keptData = restored.dataVolumeId!;
    const again = (await runLaunch(deps(), launchFlags({ dataVolume: keptData }))) as LaunchResult;
    const fourth = instance(fake, again.instanceId)!;
    expect(again).toMatchObject({ version: OLD, ready: true, resources: { dataVolumeId: keptData } });
    expect(fourth).toMatchObject({ state: 'running', bootGuard: !caps.attachExistingDiskAtCreate });
    expect(dataOf(fourth)).toBe(keptData);
    expect(disk(fake, keptData)?.attachedTo).toBe(fourth.id);
    expect(callsOf(fake, 'attachDataDisk', keptData)).toHaveLength(caps.attachExistingDiskAtCreate ? 0 : 1);
    expect(callsOf(fake, 'stopInstance', fourth.id).length > 0).toBe(!caps.attachExistingDiskAtCreate);
    // The other kept disks stay as they were.
    for (const id of [dataId, upgradedData]) expect(disk(fake, id)).toMatchObject({ state: 'available', labels: { deployment: NAME } });
  });
});

describe.each(['aws', 'gcp', 'azure'] as const)('as %s: doing without what the cloud lacks', (profile) => {
  const caps = PROFILES[profile].capabilities;

  it('launch --schedule: the schedule after the address where the cloud runs them; else exit 2 before anything is created', async () => {
    const { fake, deps } = rig(profile);
    const io = new ScriptedIo([], false);
    const launching = runLaunch(deps(io), launchFlags({ schedule: 'daily', retain: '14' }));
    if (caps.snapshotSchedules) {
      await launching;
      expect(fake.state.schedules).toEqual([expect.objectContaining({ deployment: NAME, retain: 14 })]);
      const titles = io.progressTitles();
      expect(titles.findIndex((t) => t.startsWith('Daily data-volume snapshots'))).toBe(titles.indexOf('Elastic IP') + 1);
      return;
    }
    await expect(launching).rejects.toMatchObject({
      code: 'schedule-not-offered',
      exitCode: ExitCode.badInput,
      message: expect.stringMatching(/nothing was changed/),
      remediation: expect.stringMatching(/`sourcegraph-launch backup prod --region us-east-1`/),
    });
    // Refused before anything: no instance, no policy, no address, no key, no local record; a dry run is refused the same way.
    expect(fake.mutatingCalls()).toEqual([]);
    expect(deps().state.getDeployment('aws', REGION, NAME)).toBeUndefined();
    await expect(runLaunch(deps(), launchFlags({ schedule: 'daily', dryRun: true }))).rejects.toMatchObject({ code: 'schedule-not-offered' });
    expect(fake.mutatingCalls()).toEqual([]);
  });

  it('launch --dry-run: proves the launch permission only where the cloud can without creating anything; changes nothing', async () => {
    const { fake, deps } = rig(profile);
    const io = new ScriptedIo([], false);
    const out = (await runLaunch(deps(io), launchFlags({ dryRun: true }))) as { requests: { operation: string }[] };
    expect(out.requests.length).toBeGreaterThan(0);
    const checks = callsOf(fake, 'checkInstancePermissions');
    expect(checks).toHaveLength(caps.permissionPreflight ? 1 : 0);
    // The key the launch would import does not exist yet: the check is of the instance without it.
    if (checks[0]) expect(checks[0].args[0]).toMatchObject({ version: OLD, machineType: 'm6a.2xlarge', sshKey: { mode: 'none' } });
    expect(io.events.some((e) => e.kind === 'success' && /accepted a RunInstances dry run/.test(e.message))).toBe(caps.permissionPreflight);
    expect(fake.mutatingCalls()).toEqual([]);
    expect(fake.state.instances).toEqual([]);
  });

  it('upgrade --init-rate: asked of the cloud where it offers a rate; elsewhere exit 2 and nothing changes', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    const upgrading = runUpgrade(deps(), NAME, { ...where, to: NEW, yes: true, holdSeconds: '0', initRate: '200' });
    if (caps.diskInitializationRate) {
      await upgrading;
      const spec = callsOf(fake, 'ensureInstance').at(-1)!.args[0] as InstanceSpec;
      expect(spec).toMatchObject({ version: NEW, dataDisk: { mode: 'snapshot', initializationRateMiBps: 200 } });
      return;
    }
    await expect(upgrading).rejects.toMatchObject({ code: 'init-rate-unsupported', exitCode: ExitCode.badInput, remediation: expect.stringMatching(/--init-rate/) });
    expect(live(fake).map((i) => [i.id, i.state])).toEqual([[launched.instanceId, 'running']]);
    expect(snapshotIds(fake)).toEqual([]);
    // Without the flag the clone loads lazily, and the upgrade goes through.
    const up = await runUpgrade(deps(), NAME, { ...where, to: NEW, yes: true, holdSeconds: '0' });
    expect(up.to).toBe(NEW);
    expect((callsOf(fake, 'ensureInstance').at(-1)!.args[0] as InstanceSpec).dataDisk).not.toHaveProperty('initializationRateMiBps');
  });

  it('upgrade --strategy move: the old disk attached at creation where the cloud can, else stop → attach → start behind the boot guard; rollback restores from the final snapshot', async () => {
    const { fake, deps } = rig(profile);
    const launched = (await runLaunch(deps(), launchFlags())) as LaunchResult;
    const dataId = launched.resources.dataVolumeId!;
    const up = await runUpgrade(deps(), NAME, { ...where, to: NEW, yes: true, holdSeconds: '0', strategy: 'move' });
    const moved = instance(fake, up.instanceId!)!;
    expect(up).toMatchObject({ strategy: 'move', to: NEW, url: launched.url });
    // The same disk now serves the new version; the instance never ran without it.
    expect(dataOf(moved)).toBe(dataId);
    expect(moved).toMatchObject({ state: 'running', bootGuard: !caps.attachExistingDiskAtCreate, labels: { version: NEW } });
    const spec = callsOf(fake, 'ensureInstance').at(-1)!.args[0] as InstanceSpec;
    expect(spec.dataDisk).toEqual({ mode: 'existing', diskId: dataId });
    expect(callsOf(fake, 'stopInstance', moved.id).length > 0).toBe(!caps.attachExistingDiskAtCreate);
    expect(instance(fake, launched.instanceId)).toMatchObject({ state: 'stopped', labels: { role: 'rollback-point', strategy: 'move' } });
    expect(instance(fake, launched.instanceId)!.disks.some((d) => d.role === 'data')).toBe(false);

    const back = await runRollback(deps(), NAME, { ...where, yes: true, holdSeconds: '0' });
    const finalSnapshot = instance(fake, launched.instanceId)!.labels['rollback-snapshot'];
    expect(back).toMatchObject({ strategy: 'move', version: OLD, instanceId: launched.instanceId, url: launched.url });
    expect(disk(fake, back.restoredVolumeId!)).toMatchObject({ sourceSnapshotId: finalSnapshot, attachedTo: launched.instanceId, labels: { role: 'data-volume', version: OLD } });
    expect(instance(fake, launched.instanceId)).toMatchObject({ state: 'running', labels: { role: 'instance' } });
    // The migrated disk stays with the stopped upgraded instance, as rollback data.
    expect(disk(fake, dataId)).toMatchObject({ attachedTo: moved.id, labels: { role: 'rollback-data' } });
    expect(instance(fake, moved.id)?.state).toBe('stopped');
  });
});
