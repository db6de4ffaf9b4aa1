// destroy: the plan over the neutral port (what goes, what stays), and the command in-process
// against moto: typed name, dry run, --ignore-missing, CI without --yes, an address and a key the
// user brought, --delete-data (with the snapshot schedule), root disks never taken for data, and the
// in-progress marker with --force-unlock. What exists afterwards is read straight from moto.
import { DescribeAddressesCommand, DescribeKeyPairsCommand, DescribeSnapshotsCommand, ImportKeyPairCommand, RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import { runInstancesRequest } from '../../src/cloud/aws/request-builders.js';
import type { Cloud, Deployment, Instance, SnapshotSchedule } from '../../src/cloud/port.js';
import type { DestroyFlags } from '../../src/cli/commands/destroy.js';
import type { TargetFlags } from '../../src/commands/target.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { DeclinedError, LaunchError, MissingInputError } from '../../src/core/errors.js';
import { markerValue } from '../../src/engine/hold.js';
import { planDestroy } from '../../src/workflows/destroy.js';
import { TEST_PUBLIC_KEY } from '../cloud/aws/adapter/fixtures.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const SCOPE = { provider: 'aws' as const, region: 'us-east-1', params: {} };

const instance = (id: string, state: Instance['state'], disks: Instance['disks'] = []): Instance => ({
  id,
  state,
  machineType: 'm6a.2xlarge',
  imageId: 'ami-0123456789abcdef0',
  zone: 'us-east-1a',
  accessPolicyIds: [],
  disks,
  labels: { deployment: 'prod', role: 'instance' },
  foreignLabels: {},
});

const deployment: Deployment = {
  name: 'prod',
  scope: SCOPE,
  instance: instance('i-new', 'running', [
    { role: 'root', diskId: 'vol-root', deleteWithInstance: true },
    { role: 'data', diskId: 'vol-data', deleteWithInstance: false },
  ]),
  otherInstances: [instance('i-rollback', 'stopped', [{ role: 'root', diskId: 'vol-root-untold', deleteWithInstance: true }])],
  accessPolicies: [{ id: 'sg-1', name: 'sourcegraph-launch-prod', rules: [], labels: { deployment: 'prod' } }],
  sshKeys: [
    { name: 'sourcegraph-launch-prod', managed: true, labels: { deployment: 'prod', managed: 'true' } },
    { name: 'team-key', managed: false, labels: {} },
  ],
  addresses: [
    { id: 'eipalloc-ours', ip: '198.51.100.1', managed: true, labels: { deployment: 'prod', role: 'address', managed: 'true' } },
    { id: 'eipalloc-theirs', ip: '198.51.100.2', instanceId: 'i-new', managed: false, labels: { deployment: 'prod', role: 'address', owner: 'user' } },
    // Held by the instance but never labelled: found by association only.
    { id: 'eipalloc-found', ip: '198.51.100.3', instanceId: 'i-new', managed: false, labels: {} },
  ],
  disks: [
    { id: 'vol-data', sizeGiB: 500, type: 'gp3', state: 'in-use', zone: 'us-east-1a', encrypted: true, attachedTo: 'i-new', labels: { deployment: 'prod', role: 'data-volume' } },
    { id: 'vol-root', sizeGiB: 50, type: 'gp3', state: 'in-use', zone: 'us-east-1a', encrypted: true, attachedTo: 'i-new', labels: { deployment: 'prod', role: 'root-volume' } },
    // A launch interrupted before it told its disks apart: the root disk still says instance-volume.
    { id: 'vol-root-untold', sizeGiB: 50, type: 'gp3', state: 'in-use', zone: 'us-east-1a', encrypted: true, attachedTo: 'i-rollback', labels: { deployment: 'prod', role: 'instance-volume' } },
    { id: 'vol-rollback', sizeGiB: 500, type: 'gp3', state: 'available', zone: 'us-east-1a', encrypted: true, labels: { deployment: 'prod', role: 'rollback-data' } },
  ],
};
const data = {
  snapshots: [{ id: 'snap-1', sizeGiB: 500, state: 'completed', encrypted: true, labels: { deployment: 'prod', purpose: 'backup' } }],
  schedule: { id: 'policy-1', state: 'ENABLED' },
};

describe('planDestroy', () => {
  it('removes what the tool made, keeps the data and what the user brought', () => {
    const plan = planDestroy(deployment, false, data, awsProvider.terms).map((a) => `${a.action} ${a.id}`);
    expect(plan).toEqual([
      'terminate i-new',
      'terminate i-rollback',
      'release-address eipalloc-ours',
      'disassociate-address eipalloc-theirs',
      'untag-address eipalloc-theirs',
      'disassociate-address eipalloc-found',
      'delete-security-group sg-1',
      'delete-key-pair sourcegraph-launch-prod',
      'keep-volume vol-data',
      'keep-volume vol-rollback',
      'keep-snapshot snap-1',
      'keep-schedule policy-1',
    ]);
  });

  it('--delete-data deletes the data disks, snapshots and the snapshot schedule too, never a root disk, the user\'s key or address', () => {
    const plan = planDestroy(deployment, true, data, awsProvider.terms).map((a) => `${a.action} ${a.id}`);
    expect(plan.filter((p) => /^delete-(volume|snapshot|schedule)/.test(p))).toEqual(['delete-volume vol-data', 'delete-volume vol-rollback', 'delete-snapshot snap-1', 'delete-schedule policy-1']);
    const text = plan.join(' ');
    expect(text).not.toContain('vol-root');
    expect(text).not.toContain('team-key');
    expect(text).not.toMatch(/release-address eipalloc-(theirs|found)/);
  });

  it('the owner label wins: an address marked as the user\'s is never released, even when it also says managed', () => {
    const mislabelled: Deployment = { ...deployment, addresses: [{ id: 'eipalloc-x', ip: '198.51.100.9', managed: true, labels: { deployment: 'prod', managed: 'true', owner: 'user' } }] };
    const plan = planDestroy(mislabelled, true, { snapshots: [] }, awsProvider.terms).filter((a) => a.id === 'eipalloc-x');
    expect(plan.map((a) => a.action)).toEqual(['untag-address']);
  });

  it('speaks the cloud\'s words in its details', () => {
    const plan = planDestroy(deployment, false, data, { disk: 'disk', snapshotSchedules: 'snapshot schedule' });
    expect(plan.find((a) => a.id === 'i-new')!.detail).toBe('m6a.2xlarge running (its root disk goes with it)');
    expect(plan.find((a) => a.id === 'vol-data')!.detail).toBe('500 GiB gp3 data disk');
    expect(plan.find((a) => a.id === 'policy-1')!.detail).toBe('daily snapshot policy (snapshot schedule)');
  });
});

describe('destroy against moto', () => {
  let moto: MotoServer;
  let ec2: EC2Client;
  let cloud: Cloud;
  const AMI = 'ami-0a1b2c3d4e5f6071a';
  beforeAll(async () => {
    moto = await startMoto({ images: [{ id: AMI, name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
    ec2 = motoEc2Client(moto);
    cloud = createAwsAdapter(SCOPE, { endpoint: moto.endpoint, pollIntervalMs: 100 });
  });
  afterAll(async () => moto?.stop());
  beforeEach(async () => moto.reset());

  const flags = (extra: Partial<DestroyFlags & TargetFlags> = {}): DestroyFlags & TargetFlags => ({ region: 'us-east-1', providerFlags: {}, ...extra });
  // moto has no Data Lifecycle Manager: the SDK retries its answer for seconds. Only the case that
  // checks the warning talks to it; the others see a cloud without a schedule (or the one a test gives).
  const noSchedule = (c: Cloud): Cloud => Object.assign(Object.create(c) as Cloud, { findSnapshotSchedule: async () => undefined });
  const deps = (io: ScriptedIo, home: string, extra: Partial<Parameters<typeof makeDeps>[0]> = {}) => makeDeps({ endpoint: moto.endpoint, io, home, wrapCloud: noSchedule, ...extra });
  const ci = () => new ScriptedIo([], false);

  async function launch(name: string, home: string, providerFlags: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<LaunchResult> {
    const launchFlags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name, providerFlags, ...extra };
    return (await runLaunch(deps(ci(), home), launchFlags)) as LaunchResult;
  }
  const live = (name: string) => deploymentResources(ec2).liveInstances(name);
  const markers = async (name: string) => (await live(name)).flatMap((i) => Object.keys(tagMap(i.Tags)).filter((k) => k.startsWith('sourcegraph-launch:lock-')));

  it('a wrong name deletes nothing; the right one deletes', async () => {
    const home = tempHome();
    const launched = await launch('typed', home);

    const wrong = new ScriptedIo(['typo']);
    const declined = runDestroy(deps(wrong, home), 'typed', flags());
    await expect(declined).rejects.toBeInstanceOf(DeclinedError);
    await expect(declined).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/nothing changed/) });
    expect(wrong.questions.map((q) => q.message)).toEqual(['Type the deployment name (typed) to confirm']);
    expect((await cloud.findDeployment('typed')).instance?.id).toBe(launched.instanceId);
    // The hold was given back: no marker is left on the instance.
    expect(await markers('typed')).toEqual([]);

    const right = new ScriptedIo(['typed']);
    await runDestroy(deps(right, home), 'typed', flags());
    expect((await cloud.findDeployment('typed')).instance).toBeUndefined();
    expect(right.text()).toMatch(/terminate instance\s+i-/);
    expect(right.text()).toMatch(/delete security group\s+sg-/);
    expect(right.text()).toMatch(/release Elastic IP\s+eipalloc-/);
  });

  it('in CI without --yes exits 2 naming --yes, after showing the plan; nothing is deleted and no marker is left', async () => {
    const home = tempHome();
    await launch('ci', home);
    const io = ci();
    const refused = runDestroy(deps(io, home), 'ci', flags());
    await expect(refused).rejects.toBeInstanceOf(MissingInputError);
    await expect(refused).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--yes is required to destroy when not running interactively/) });
    expect(io.text()).toMatch(/destroy ci \(aws us-east-1\) will:/);
    expect(await live('ci')).toHaveLength(1);
    expect(await deploymentResources(ec2).groups('ci')).toHaveLength(1);
    expect(await markers('ci')).toEqual([]);
    // --delete-data changes nothing about that.
    await expect(runDestroy(deps(ci(), home), 'ci', flags({ deleteData: true }))).rejects.toMatchObject({ exitCode: 2 });
    expect((await deploymentResources(ec2).volumes('ci')).length).toBe(2);
  });

  it('--dry-run lists every action and deletes nothing, needs no --yes and places no marker', async () => {
    const home = tempHome();
    const launched = await launch('dry', home);
    const markersSeen: string[][] = [];
    const watching = (c: Cloud): Cloud =>
      Object.assign(Object.create(c) as Cloud, {
        setLabels: async (ids: string[], labels: Record<string, string>) => {
          markersSeen.push(Object.keys(labels).filter((k) => k.startsWith('lock-')));
          return c.setLabels(ids, labels);
        },
      });
    const io = ci();
    const out = (await runDestroy(deps(io, home, { wrapCloud: (c) => watching(noSchedule(c)) }), 'dry', flags({ dryRun: true, deleteData: true }))) as { dryRun: boolean; actions: { action: string; id: string }[] };
    expect(out.dryRun).toBe(true);
    const actions = out.actions.map((a) => a.action);
    expect(actions).toEqual(['terminate', 'release-address', 'delete-security-group', 'delete-key-pair', 'delete-volume']);
    expect(out.actions[0]!.id).toBe(launched.instanceId);
    expect(io.text()).toMatch(/DELETE data volume\s+vol-/);
    expect(markersSeen.flat()).toEqual([]);
    expect(await live('dry')).toHaveLength(1);
    expect(await deploymentResources(ec2).volumes('dry')).toHaveLength(2);
    // The local record stays: nothing happened.
    expect(deps(ci(), home).state.getDeployment('aws', 'us-east-1', 'dry')).toBeDefined();
  });

  it('a deployment that does not exist: exit 1 like status; --ignore-missing exits 0 with "not found"', async () => {
    const missing = runDestroy(deps(ci(), tempHome()), 'ghost', flags({ yes: true }));
    await expect(missing).rejects.toBeInstanceOf(LaunchError);
    await expect(missing).rejects.toMatchObject({
      code: 'deployment-not-found',
      exitCode: 1,
      message: 'No deployment named ghost in aws us-east-1',
      remediation: expect.stringContaining('--ignore-missing'),
    });
    const io = ci();
    const ignored = await runDestroy(makeDeps({ endpoint: moto.endpoint, io, home: tempHome() }), 'ghost', flags({ yes: true, ignoreMissing: true }));
    expect(ignored).toMatchObject({ name: 'ghost', region: 'us-east-1', deleted: [], kept: [], message: 'not found' });
    expect(io.text()).toContain('No deployment named ghost in aws us-east-1: nothing to delete.');
    // Without a snapshot schedule service (moto has none) the lookup is skipped, and said so.
    expect(io.text()).toMatch(/Skipped looking for a daily snapshot policy: Data Lifecycle Manager \(DLM\) is not available at .*If one exists, it is left in place\./);
  });

  it('an address and a key pair the user brought stay with the user: detached, without our tags, never released or deleted', async () => {
    const home = tempHome();
    const mine = await allocateTestAddress(ec2, '198.51.100.77');
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'team-key', PublicKeyMaterial: Buffer.from(TEST_PUBLIC_KEY) }));
    const launched = await launch('byo', home, { elasticIp: mine, keyName: 'team-key' }, { sshCidr: ['none'] });
    expect(launched.resources.allocationId).toBe(mine);

    const steps: string[] = [];
    const out = (await runDestroy(deps(ci(), home, { afterStep: (id) => void steps.push(id) }), 'byo', flags({ yes: true }))) as { deleted: { action: string; id: string }[] };
    expect(out.deleted.map((d) => d.action)).toEqual(['terminate', 'disassociate-address', 'untag-address', 'delete-security-group']);
    // The step ids the fault seam names, unchanged.
    expect(steps).toEqual(['terminate', `disassociate-${mine}`, `untag-${mine}`, expect.stringMatching(/^access-sg-/)]);

    const [address] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [mine] }))).Addresses ?? [];
    expect(address?.PublicIp).toBe('198.51.100.77');
    expect(address?.InstanceId || undefined).toBeUndefined();
    expect(Object.keys(tagMap(address?.Tags)).filter((k) => k.startsWith('sourcegraph-launch:'))).toEqual([]);
    const keys = (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['team-key'] }))).KeyPairs ?? [];
    expect(keys.map((k) => k.KeyName)).toEqual(['team-key']);
    expect(await live('byo')).toEqual([]);
  });

  it('keeps the data (disk, snapshots, schedule) by default; --delete-data deletes all three', async () => {
    const home = tempHome();
    await launch('wipe', home);
    const dataDisk = (await cloud.findDeployment('wipe')).disks.find((d) => d.labels.role === 'data-volume')!;
    const snapshot = await cloud.createSnapshot({ deployment: 'wipe', diskId: dataDisk.id, labels: { deployment: 'wipe', purpose: 'backup', version: '6.12.5040' }, description: 'test backup', operation: 'test' });
    // moto has no Data Lifecycle Manager: the schedule is stood in for, and its deletion recorded.
    const deletedSchedules: string[] = [];
    const withSchedule = (c: Cloud): Cloud =>
      Object.assign(Object.create(c) as Cloud, {
        findSnapshotSchedule: async (): Promise<SnapshotSchedule> => ({ id: 'policy-0123456789abcdef0', state: 'ENABLED' }),
        deleteSnapshotSchedule: async (id: string) => void deletedSchedules.push(id),
      });

    const io = ci();
    const kept = (await runDestroy(deps(io, home, { wrapCloud: withSchedule }), 'wipe', flags({ yes: true }))) as { kept: unknown[] };
    expect(kept.kept).toEqual([{ volumeId: dataDisk.id }, { snapshotId: snapshot.id }, { policyId: 'policy-0123456789abcdef0' }]);
    expect(io.text()).toMatch(/The data is kept \(volumes, snapshots, snapshot policy\)/);
    expect(io.text()).toContain('destroy wipe --region us-east-1 --delete-data');
    expect(deletedSchedules).toEqual([]);
    expect((await deploymentResources(ec2).volumes('wipe')).map((v) => [v.VolumeId, v.State])).toEqual([[dataDisk.id, 'available']]);

    // Only the data is left: nothing to delete without --delete-data.
    const again = await runDestroy(deps(ci(), home, { wrapCloud: withSchedule }), 'wipe', flags({ yes: true }));
    expect(again).toMatchObject({ deleted: [], message: 'nothing to delete', kept: [{ volumeId: dataDisk.id }, { snapshotId: snapshot.id }, { policyId: 'policy-0123456789abcdef0' }] });

    const wiped = (await runDestroy(deps(ci(), home, { wrapCloud: withSchedule }), 'wipe', flags({ yes: true, deleteData: true }))) as { deleted: { action: string; id: string }[]; kept: unknown[] };
    expect(wiped.deleted).toEqual([
      { action: 'delete-volume', id: dataDisk.id },
      { action: 'delete-snapshot', id: snapshot.id },
      { action: 'delete-schedule', id: 'policy-0123456789abcdef0' },
    ]);
    expect(wiped.kept).toEqual([]);
    expect(deletedSchedules).toEqual(['policy-0123456789abcdef0']);
    expect(await deploymentResources(ec2).volumes('wipe')).toEqual([]);
    expect((await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots?.map((s) => s.SnapshotId)).not.toContain(snapshot.id);
  });

  it('a launch cut off right after the instance was created (both disks still "instance-volume"): the root disk goes with the instance, the data disk is kept', async () => {
    const placement = await cloud.resolvePlacement(undefined);
    const request = runInstancesRequest({
      deployment: 'cut',
      role: 'instance',
      version: '6.12.5040',
      size: 'XS',
      imageId: AMI,
      machineType: 'm6a.2xlarge',
      placement,
      accessPolicyIds: [],
      sshKey: { mode: 'none' },
      loginUser: awsProvider.loginUser,
      rootDisk: awsProvider.rootDisk,
      dataDisk: { mode: 'new', disk: awsProvider.sizes.XS.dataDisk },
      keepDataDisk: true,
      labels: { deployment: 'cut', role: 'instance', version: '6.12.5040' },
      idempotencyKey: 'cut-launch-0001',
    });
    await ec2.send(new RunInstancesCommand(request as never));
    const volumes = await deploymentResources(ec2).volumes('cut');
    expect(volumes.map((v) => tagMap(v.Tags)['sourcegraph-launch:role'])).toEqual(['instance-volume', 'instance-volume']);
    const found = await cloud.findDeployment('cut');
    const dataId = found.instance!.disks.find((d) => d.role === 'data')!.diskId;
    const rootId = found.instance!.disks.find((d) => d.role === 'root')!.diskId;

    const kept = (await runDestroy(deps(ci(), tempHome()), 'cut', flags({ yes: true }))) as { kept: unknown[]; deleted: { id: string }[] };
    expect(kept.kept).toEqual([{ volumeId: dataId }]);
    expect(kept.deleted.map((d) => d.id)).not.toContain(rootId);
    const left = await deploymentResources(ec2).volumes('cut');
    expect(left.map((v) => v.VolumeId)).toEqual([dataId]);

    await runDestroy(deps(ci(), tempHome()), 'cut', flags({ yes: true, deleteData: true }));
    expect(await deploymentResources(ec2).volumes('cut')).toEqual([]);
  });

  it('refuses while another run\'s marker is live (exit 1, naming it); --force-unlock clears it and destroys', async () => {
    const home = tempHome();
    const launched = await launch('busy', home);
    const now = Date.now();
    await cloud.setLabels([launched.instanceId], { 'lock-feedc0de': markerValue({ operation: 'upgrade', owner: 'ci@runner', pid: 4242, sinceMs: now, untilMs: now + 5 * 60_000 }) });

    const refused = runDestroy(deps(ci(), home), 'busy', flags({ yes: true }));
    await expect(refused).rejects.toMatchObject({ code: 'operation-in-progress', exitCode: 1, message: expect.stringMatching(/Another upgrade of busy is in progress: upgrade by ci@runner/) });
    expect(await live('busy')).toHaveLength(1);

    const io = ci();
    await runDestroy(deps(io, home), 'busy', flags({ yes: true, forceUnlock: true }));
    expect(io.text()).toMatch(/--force-unlock cleared the marker of upgrade by ci@runner/);
    expect(await live('busy')).toEqual([]);
  });
});
