// End to end with real parts: the real CLI → moto (EC2) and a test host (real sshd + HTTP) behind
// the deployment's Elastic IP. The address moves from the old instance to the new one at cutover,
// so the test host's address stays the URL; the test switches the host's version when the CLI
// prints the step that changes which instance serves (the "instance" behind the address).
//
// Fault injection: SGL_TEST_FAULT=after:<step-id> kills the CLI (SIGKILL) after a step's
// work and before the journal records it. Step ids (stable, see src/core/upgrade-plan.ts):
//   upgrade (clone, one hop to 6.12.5040): 6.12.5040:snapshot-live, :check-launch-permissions,
//     :stop-old-instance, :snapshot-final, :launch-new-instance, :move-elastic-ip, :wait-for-version,
//     :check-version-files, :keep-rollback-point
//   rollback (clone): stop-upgraded-instance, start-rollback-point, move-elastic-ip, wait-for-version
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliOptions } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const AMI_NEW = 'ami-0c12504000000612b';
const HOST_ADDRESS = '10.200.79.2';
const PUBLISHER = '840044800169';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;

const tags = (x: { Tags?: { Key?: string; Value?: string }[] }) => tagMap(x.Tags);

async function instances(name: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
async function volumes(name: string) {
  return (await ec2.send(new DescribeVolumesCommand({ Filters: byDeployment(name) }))).Volumes ?? [];
}
async function snapshots(name: string) {
  return (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? [];
}
async function address(name: string) {
  return ((await ec2.send(new DescribeAddressesCommand({ Filters: byDeployment(name) }))).Addresses ?? [])[0];
}

/** A boot with no waiting: the test is about the cloud choreography, the wait has its own tests. */
const quickBoot = (version: string) => host.reboot({ version, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });

function cli(args: string[], home: string, extra: CliOptions = {}) {
  return runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 90_000, ...extra });
}

/** Switches the test host to `version` when the CLI starts the step that makes another instance serve. */
function switchVersionOn(pattern: RegExp, version: string): CliOptions['onOutput'] {
  let done = false;
  return (chunk) => {
    if (!done && pattern.test(chunk)) {
      done = true;
      quickBoot(version);
    }
  };
}
const upgradeSwitch = () => switchVersionOn(/Stop the 6\.11\.0 instance/, NEW);
const rollbackSwitch = () => switchVersionOn(/Start i-\w+ \(6\.11\.0\)/, OLD);

async function launch(name: string, home: string) {
  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: name });
  quickBoot(OLD);
  const r = await cli(
    ['launch', '--region', 'us-east-1', '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
      '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', name, '--hold-seconds', '0', '--json'],
    home,
  );
  expect(r.code, r.stderr).toBe(0);
  const [instance] = await instances(name);
  return instance!;
}

/** The invariants after any interruption: never two running, nothing with data lost. */
async function assertInvariants(name: string, dataVolumeIds: string[], snapshotIds: string[]) {
  const running = (await instances(name)).filter((i) => i.State?.Name === 'running' || i.State?.Name === 'pending');
  expect(running.length).toBeLessThanOrEqual(1);
  const live = new Set((await volumes(name)).map((v) => v.VolumeId));
  for (const id of dataVolumeIds) expect(live.has(id), `data volume ${id} still exists`).toBe(true);
  const snaps = new Set((await snapshots(name)).map((s) => s.SnapshotId));
  for (const id of snapshotIds) expect(snaps.has(id), `snapshot ${id} still exists`).toBe(true);
}

const upgradeArgs = (name: string) => ['upgrade', name, '--region', 'us-east-1', '--to', NEW, '--yes', '--hold-seconds', '0', '--init-rate', '0'];
const rollbackArgs = (name: string) => ['rollback', name, '--region', 'us-east-1', '--yes', '--hold-seconds', '0'];

beforeAll(async () => {
  moto = await startMoto({
    // GetConsoleOutput lists the test host's real host keys, as cloud-init prints them on EC2.
    consoleOutput: () => host?.consoleOutput(),
    images: [
      { id: AMI_OLD, name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER },
      { id: AMI_NEW, name: `Sourcegraph v${NEW}`, ownerId: PUBLISHER },
    ],
  });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-upgrade-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('upgrade (clone) → rollback → backup → restore → prune with the real CLI', () => {
  it('upgrades with a snapshot-made data volume, moves the address, keeps the old instance stopped; rolls back; prunes', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    const old = await launch('up', home);
    const oldData = old.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;

    const dry = await cli([...upgradeArgs('up'), '--dry-run', '--json'], home);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, from: OLD, to: NEW, strategy: 'clone', hops: [{ from: OLD, to: NEW, imageId: AMI_NEW, source: 'published' }] });
    expect(dry.stderr).toMatch(/clone: about \$\d+\/month extra/);
    expect(dry.stderr).toMatch(/move: about \$\d+\/month extra/);
    expect((await instances('up')).map((i) => i.State?.Name)).toEqual(['running']);

    const up = await cli([...upgradeArgs('up'), '--json'], home, { onOutput: upgradeSwitch() });
    expect(up.code, up.stderr).toBe(0);
    const result = up.json<Record<string, any>>();
    expect(result).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${HOST_ADDRESS}`, rollbackPoint: { instanceId: old.InstanceId, dataVolumeId: oldData, version: OLD } });
    expect(result.downtimeMs).toBeGreaterThanOrEqual(0);
    expect(result.steps.map((s: { id: string }) => s.id)).toEqual([
      `${NEW}:snapshot-live`, `${NEW}:check-launch-permissions`, `${NEW}:stop-old-instance`, `${NEW}:snapshot-final`,
      `${NEW}:launch-new-instance`, `${NEW}:move-elastic-ip`, `${NEW}:wait-for-version`, `${NEW}:check-version-files`, `${NEW}:keep-rollback-point`,
    ]);

    const all = await instances('up');
    const oldNow = all.find((i) => i.InstanceId === old.InstanceId)!;
    const fresh = all.find((i) => i.InstanceId !== old.InstanceId)!;
    expect(oldNow.State?.Name).toBe('stopped');
    expect(tags(oldNow)).toMatchObject({ 'sourcegraph-launch:role': 'rollback-point', 'sourcegraph-launch:strategy': 'clone' });
    expect(fresh).toMatchObject({ ImageId: AMI_NEW, InstanceType: old.InstanceType, SubnetId: old.SubnetId, KeyName: old.KeyName, Placement: { AvailabilityZone: old.Placement!.AvailabilityZone } });
    expect(fresh.SecurityGroups?.map((g) => g.GroupId)).toEqual(old.SecurityGroups?.map((g) => g.GroupId));
    expect(tags(fresh)).toMatchObject({ 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': NEW });
    expect((await address('up'))?.InstanceId).toBe(fresh.InstanceId);

    const snaps = await snapshots('up');
    const final = snaps.find((s) => tags(s)['sourcegraph-launch:purpose'] === 'pre-upgrade-final')!;
    expect(snaps.map((s) => tags(s)['sourcegraph-launch:purpose']).sort()).toEqual(['pre-upgrade-final', 'pre-upgrade-live']);
    expect(tags(final)).toMatchObject({ 'sourcegraph-launch:source-version': OLD, 'sourcegraph-launch:role': 'snapshot' });
    expect(final.VolumeId).toBe(oldData);
    const freshData = fresh.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!;
    const vols = await volumes('up');
    expect(vols.find((v) => v.VolumeId === freshData.VolumeId)).toMatchObject({ SnapshotId: final.SnapshotId, Size: 500, VolumeType: 'gp3', Encrypted: true });
    expect(freshData.DeleteOnTermination).toBe(false);
    // The old volume is untouched and still on the stopped old instance.
    expect(vols.find((v) => v.VolumeId === oldData)?.Attachments?.[0]?.InstanceId).toBe(old.InstanceId);

    const status = await cli(['status', 'up', '--region', 'us-east-1', '--json'], home);
    expect(status.json()).toMatchObject({ instanceId: fresh.InstanceId, servingVersion: NEW, rollbackPoint: { instanceId: old.InstanceId, version: OLD } });

    const back = await cli([...rollbackArgs('up'), '--json'], home, { onOutput: rollbackSwitch() });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, strategy: 'clone', instanceId: old.InstanceId, upgradedInstanceId: fresh.InstanceId });
    const afterRollback = await instances('up');
    expect(afterRollback.find((i) => i.InstanceId === old.InstanceId)?.State?.Name).toBe('running');
    expect(afterRollback.find((i) => i.InstanceId === fresh.InstanceId)?.State?.Name).toBe('stopped');
    expect((await address('up'))?.InstanceId).toBe(old.InstanceId);
    expect(host.versionFiles()).toEqual({ root: OLD, data: OLD });

    const backup = await cli(['backup', 'up', '--region', 'us-east-1', '--json'], home);
    expect(backup.code, backup.stderr).toBe(0);
    const snapshotId = backup.json<{ snapshotId: string }>().snapshotId;
    const listed = await cli(['backups', 'up', '--region', 'us-east-1', '--json'], home);
    expect(listed.json<{ backups: { snapshotId: string; purpose: string; version: string; sizeGiB: number }[] }>().backups).toEqual(
      expect.arrayContaining([expect.objectContaining({ snapshotId, purpose: 'backup', version: OLD, sizeGiB: 500 })]),
    );

    const restore = await cli(['restore', '--name', 'up-copy', '--region', 'us-east-1', '--snapshot', snapshotId, '--yes', '--no-wait', '--json'], home);
    expect(restore.code, restore.stderr).toBe(0);
    const [copy] = await instances('up-copy');
    expect(copy).toMatchObject({ ImageId: AMI_OLD, SubnetId: old.SubnetId });
    const copyData = copy!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId;
    expect((await volumes('up-copy')).find((v) => v.VolumeId === copyData)?.SnapshotId).toBe(snapshotId);
    const refused = await cli(['restore', 'up', '--region', 'us-east-1', '--snapshot', snapshotId, '--yes'], home);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/still has a running instance/);

    const pruneDry = await cli(['prune', 'up', '--region', 'us-east-1', '--dry-run', '--json'], home);
    expect(pruneDry.code, pruneDry.stderr).toBe(0);
    const items = pruneDry.json<{ items: { kind: string; id: string; monthlyUsd: number }[] }>().items;
    expect(items.filter((i) => i.kind === 'instance').map((i) => i.id)).toEqual([fresh.InstanceId]);
    expect(items.some((i) => i.id === oldData)).toBe(false);
    const prune = await cli(['prune', 'up', '--region', 'us-east-1', '--yes', '--json'], home);
    expect(prune.code, prune.stderr).toBe(0);
    const left = await instances('up');
    expect(left.map((i) => i.InstanceId)).toEqual([old.InstanceId]);
    expect((await volumes('up')).some((v) => v.VolumeId === oldData)).toBe(true);
    expect((await snapshots('up')).map((s) => s.SnapshotId)).toEqual([snapshotId]);
  });

  it('refuses a downgrade, and a jump without images, before changing anything', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    await launch('refuse', home);
    const down = await cli(['upgrade', 'refuse', '--region', 'us-east-1', '--to', '6.10.0', '--yes'], home);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/rollback/);
    const far = await cli(['upgrade', 'refuse', '--region', 'us-east-1', '--to', '6.14.0', '--yes'], home);
    expect(far.code).toBe(1);
    expect(far.stderr).toMatch(/build-image --cloud aws --region us-east-1 --version 6\.13\.\d+ --size S --ssh-cidr <this machine's address>\/32/);
    expect((await instances('refuse')).map((i) => i.State?.Name)).toEqual(['running']);
    expect(await snapshots('refuse')).toEqual([]);
  });
});

describe('an Elastic IP the user brought (--elastic-ip eipalloc-…) is the URL through upgrade and rollback', () => {
  it('upgrade from another machine moves it, rollback moves it back, status shows it, destroy keeps it', async () => {
    // The user's own address, allocated outside the tool: no tags of ours.
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    quickBoot(OLD);
    const home = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    const launched = await cli(
      ['launch', '--region', 'us-east-1', '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'byo', '--hold-seconds', '0', '--elastic-ip', allocationId, '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const [old] = await instances('byo');
    const theAddress = async () => (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses![0]!;
    expect(tags(await theAddress())).toMatchObject({ 'sourcegraph-launch:deployment': 'byo', 'sourcegraph-launch:owner': 'user' });
    expect(tags(await theAddress())['sourcegraph-launch:managed']).toBeUndefined();

    // Another machine: no local record of the deployment at all.
    const elsewhere = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    const up = await cli([...upgradeArgs('byo'), '--json'], elsewhere, { onOutput: upgradeSwitch() });
    expect(up.code, up.stderr).toBe(0);
    const fresh = (await instances('byo')).find((i) => i.InstanceId !== old!.InstanceId)!;
    expect((await theAddress()).InstanceId).toBe(fresh.InstanceId);
    expect(up.json()).toMatchObject({ url: `http://${HOST_ADDRESS}` });

    const status = await cli(['status', 'byo', '--region', 'us-east-1', '--json'], elsewhere);
    expect(status.json<{ addresses: { allocationId: string; managed: boolean }[] }>().addresses).toEqual([
      expect.objectContaining({ allocationId, publicIp: HOST_ADDRESS, managed: false }),
    ]);

    const back = await cli(rollbackArgs('byo'), mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-')), { onOutput: rollbackSwitch() });
    expect(back.code, back.stderr).toBe(0);
    expect((await theAddress()).InstanceId).toBe(old!.InstanceId);

    const destroyed = await cli(['destroy', 'byo', '--region', 'us-east-1', '--yes', '--delete-data'], elsewhere);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    const kept = await theAddress();
    expect(kept.PublicIp).toBe(HOST_ADDRESS);
    expect(kept.InstanceId || undefined).toBeUndefined();
    expect(tags(kept)['sourcegraph-launch:deployment']).toBeUndefined();
  });
});

describe('upgrade --strategy move → rollback', () => {
  it('moves the very volume (detached, attached as /dev/sdb to a stopped data-less instance), and rolls back from the snapshot', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    const old = await launch('mv', home);
    const oldData = old.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
    const up = await cli([...upgradeArgs('mv'), '--strategy', 'move', '--json'], home, { onOutput: upgradeSwitch() });
    expect(up.code, up.stderr).toBe(0);
    expect(up.json<{ steps: { id: string }[] }>().steps.map((s) => s.id.split(':')[1])).toEqual([
      'snapshot-live', 'check-launch-permissions', 'stop-old-instance', 'snapshot-final', 'detach-data-volume',
      'launch-new-instance', 'stop-new-instance', 'attach-data-volume', 'start-new-instance', 'move-elastic-ip', 'wait-for-version', 'check-version-files', 'keep-rollback-point',
    ]);
    const fresh = (await instances('mv')).find((i) => i.InstanceId !== old.InstanceId)!;
    expect(fresh.State?.Name).toBe('running');
    expect((await volumes('mv')).find((v) => v.VolumeId === oldData)?.Attachments?.[0]).toMatchObject({ InstanceId: fresh.InstanceId, Device: '/dev/sdb' });
    expect((await instances('mv')).find((i) => i.InstanceId === old.InstanceId)?.State?.Name).toBe('stopped');

    const back = await cli([...rollbackArgs('mv'), '--json'], home, { onOutput: rollbackSwitch() });
    expect(back.code, back.stderr).toBe(0);
    const restored = back.json<{ restoredVolumeId: string }>().restoredVolumeId;
    const final = (await snapshots('mv')).find((s) => tags(s)['sourcegraph-launch:purpose'] === 'pre-upgrade-final')!;
    const vols = await volumes('mv');
    expect(vols.find((v) => v.VolumeId === restored)).toMatchObject({ SnapshotId: final.SnapshotId, Attachments: [expect.objectContaining({ InstanceId: old.InstanceId, Device: '/dev/sdb' })] });
    // The migrated volume stays with the stopped upgraded instance: nothing deleted.
    expect(vols.find((v) => v.VolumeId === oldData)?.Attachments?.[0]?.InstanceId).toBe(fresh.InstanceId);
    expect((await instances('mv')).filter((i) => i.State?.Name === 'running').map((i) => i.InstanceId)).toEqual([old.InstanceId]);
  });
});

describe('fault injection: killed after every step, a re-run finishes; invariants hold throughout', () => {
  const upgradeSteps = ['snapshot-live', 'check-launch-permissions', 'stop-old-instance', 'snapshot-final', 'launch-new-instance', 'move-elastic-ip', 'wait-for-version', 'check-version-files', 'keep-rollback-point'];
  const rollbackSteps = ['stop-upgraded-instance', 'start-rollback-point', 'move-elastic-ip', 'wait-for-version'];

  it('upgrade and rollback, one kill per step', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-upgrade-home-'));
    const old = await launch('fault', home);
    const oldData = old.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
    for (const [i, step] of upgradeSteps.entries()) {
      const crashed = await cli(upgradeArgs('fault'), home, { env: { SGL_TEST_FAULT: `after:${NEW}:${step}` }, onOutput: upgradeSwitch() });
      expect(crashed.signal, `${step}: ${crashed.stderr}`).toBe('SIGKILL');
      await assertInvariants('fault', [oldData], []);
      if (i < 2) {
        // Before cutover the old instance still serves.
        expect((await instances('fault')).find((x) => x.InstanceId === old.InstanceId)?.State?.Name).toBe('running');
      }
      const resumed = await cli([...upgradeArgs('fault'), '--json'], home, { onOutput: upgradeSwitch() });
      expect(resumed.code, `${step}: ${resumed.stderr}`).toBe(0);
      expect(resumed.stderr).toMatch(/Resuming the upgrade/);
      expect(resumed.json()).toMatchObject({ to: NEW, rollbackPoint: { instanceId: old.InstanceId } });
      const finals = (await snapshots('fault')).filter((s) => tags(s)['sourcegraph-launch:purpose'] === 'pre-upgrade-final').map((s) => s.SnapshotId!);
      expect(finals.length).toBe(i + 1);
      await assertInvariants('fault', [oldData], finals);
      expect((await instances('fault')).filter((x) => tags(x)['sourcegraph-launch:role'] === 'instance' && x.State?.Name === 'running')).toHaveLength(1);

      // Back to the old version for the next round, killing the rollback after one of its steps.
      const rollbackStep = rollbackSteps[i % rollbackSteps.length]!;
      const crashedBack = await cli(rollbackArgs('fault'), home, { env: { SGL_TEST_FAULT: `after:${rollbackStep}` }, onOutput: rollbackSwitch() });
      expect(crashedBack.signal, `${rollbackStep}: ${crashedBack.stderr}`).toBe('SIGKILL');
      await assertInvariants('fault', [oldData], finals);
      const back = await cli(rollbackArgs('fault'), home, { onOutput: rollbackSwitch() });
      expect(back.code, `${rollbackStep}: ${back.stderr}`).toBe(0);
      const serving = (await instances('fault')).filter((x) => x.State?.Name === 'running');
      expect(serving.map((x) => x.InstanceId)).toEqual([old.InstanceId]);
      expect((await address('fault'))?.InstanceId).toBe(old.InstanceId);
    }
  });
});
