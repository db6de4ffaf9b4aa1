// prune removes the way back, so it refuses unless the serving instance demonstrably serves its
// version and no upgrade or rollback is half done; an interrupted prune resumes with the list it
// showed. moto's instance addresses must never be contacted: the HTTP probe is replaced and
// records what it was asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import type { Deps } from '../../src/commands/deps.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runPrune } from '../../src/commands/prune.js';
import { UsageError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { byDeployment, deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { CreateTagsCommand, DescribeSnapshotsCommand, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';

/** A stopped rollback-point instance in the deployment: something prune would remove. */
async function leftover(name: string): Promise<void> {
  const ec2 = motoEc2Client(moto);
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0a1b2c3d4e5f6071b', MinCount: 1, MaxCount: 1, InstanceType: 'm6a.2xlarge',
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: name }, { Key: 'sourcegraph-launch:role', Value: 'rollback-point' }] }],
    }),
  );
  await ec2.send(new StopInstancesCommand({ InstanceIds: [out.Instances![0]!.InstanceId!] }));
}

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f6071b', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

const launchFlags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, providerFlags: { elasticIp: 'none' } };

describe('prune guards', () => {
  it('refuses while the serving instance does not answer /healthz with its version', async () => {
    const home = tempHome();
    await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), { ...launchFlags, name: 'sick' });
    await leftover('sick');
    const asked: string[] = [];
    const deps = makeDeps({
      endpoint: moto.endpoint,
      io: new ScriptedIo([], false),
      home,
      httpGet: async (url) => {
        asked.push(url);
        return { status: 404, body: '404 page not found' };
      },
    });
    const err = await runPrune(deps, 'sick', { region: 'us-east-1', yes: true, providerFlags: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('deployment-not-serving');
    expect((err as UsageError).message).toMatch(/\/healthz reported nothing/);
    expect(asked).toHaveLength(1);
  });

  it('refuses while an upgrade is unfinished, before asking the instance anything', async () => {
    const home = tempHome();
    const deps = makeDeps({
      endpoint: moto.endpoint,
      io: new ScriptedIo([], false),
      home,
      httpGet: async () => {
        throw new Error('must not probe');
      },
    });
    await runLaunch(deps, { ...launchFlags, name: 'midway' });
    await leftover('midway');
    const record = deps.state.getDeployment('aws', 'us-east-1', 'midway')!;
    deps.state.putDeployment({ ...record, journal: { id: 'x', command: 'upgrade', startedAt: new Date().toISOString(), steps: {} } });
    const err = await runPrune(deps, 'midway', { region: 'us-east-1', yes: true, providerFlags: {} }).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('operation-unfinished');
  });
});

describe('an interrupted prune', () => {
  /** A stopped rollback point with a rollback data volume written just now (no snapshot of it yet). */
  async function rollbackPoint(name: string): Promise<{ instanceId: string; volumeId: string }> {
    const ec2 = motoEc2Client(moto);
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0a1b2c3d4e5f6071b', MinCount: 1, MaxCount: 1, InstanceType: 'm6a.2xlarge',
        BlockDeviceMappings: [{ DeviceName: '/dev/sdb', Ebs: { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: false } }],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: name }, { Key: 'sourcegraph-launch:role', Value: 'rollback-point' }, { Key: 'sourcegraph-launch:version', Value: '6.11.0' }] }],
      }),
    );
    const instanceId = out.Instances![0]!.InstanceId!;
    const volumeId = out.Instances![0]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
    const tags = { 'sourcegraph-launch:deployment': name, 'sourcegraph-launch:role': 'rollback-data', 'sourcegraph-launch:version': '6.11.0', 'sourcegraph-launch:last-written': new Date().toISOString() };
    await ec2.send(new CreateTagsCommand({ Resources: [volumeId], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    return { instanceId, volumeId };
  }

  const healthy = (home: string, extra: Partial<Parameters<typeof makeDeps>[0]> = {}): Deps =>
    makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home, httpGet: async () => ({ status: 200, body: '6.12.5040' }), ...extra });
  const pruneSnapshots = async (name: string) =>
    ((await motoEc2Client(moto).send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? []).map((x) => [x.VolumeId, tagMap(x.Tags)['sourcegraph-launch:purpose']]);
  const volumes = async (name: string) => (await deploymentResources(motoEc2Client(moto)).volumes(name)).map((v) => v.VolumeId);

  it('stopped after terminating the instances: the re-run (and a dry run meanwhile) goes on with the list it showed', async () => {
    const home = tempHome();
    await runLaunch(healthy(home), { ...launchFlags, name: 'halfway' });
    const left = await rollbackPoint('halfway');
    const flags = { region: 'us-east-1', yes: true, snapshotFirst: true, providerFlags: {} };
    const fail = (id: string) => {
      if (id === 'remove-instances') throw new Error('power lost after remove-instances');
    };
    await expect(runPrune(healthy(home, { afterStep: fail }), 'halfway', flags)).rejects.toThrow(/power lost/);
    expect((await deploymentResources(motoEc2Client(moto)).liveInstances('halfway')).map((i) => i.InstanceId)).not.toContain(left.instanceId);

    // The instance is gone, so a fresh look would judge the volume alone; the unfinished list still holds both.
    const dryIo = new ScriptedIo([], false);
    const dry = await runPrune(healthy(home, { io: dryIo }), 'halfway', { region: 'us-east-1', dryRun: true, snapshotFirst: true, providerFlags: {} });
    expect(dry.items.map((i) => i.id)).toEqual([left.instanceId, left.volumeId]);
    expect(dryIo.text()).toMatch(/The prune started \S+ did not finish: it goes on with the list it showed then\./);

    const io = new ScriptedIo([], false);
    const again = await runPrune(healthy(home, { io }), 'halfway', flags);
    expect(again.removed).toEqual([left.instanceId, left.volumeId]);
    // The step stopped before the journal recorded it: it runs again (terminating what is gone succeeds).
    expect(io.progressTitles()).toEqual(['Terminate 1 stopped leftover instance', 'Delete 1 rollback data volume']);
    expect(await volumes('halfway')).not.toContain(left.volumeId);
    expect(await pruneSnapshots('halfway')).toEqual([[left.volumeId, 'pre-prune-final']]);
    // Finished: the next prune looks afresh and finds nothing.
    expect((await runPrune(healthy(home), 'halfway', flags)).items).toEqual([]);
  });

  it('stopped between the --snapshot-first snapshot and the delete: the re-run finds that snapshot, it does not take another', async () => {
    const home = tempHome();
    await runLaunch(healthy(home), { ...launchFlags, name: 'snapfirst' });
    const left = await rollbackPoint('snapfirst');
    let failed = false;
    const failDeleteOnce = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        deleteDisk: async (id: string) => {
          if (!failed) {
            failed = true;
            throw new Error('throttled');
          }
          return cloud.deleteDisk(id);
        },
      });
    const flags = { region: 'us-east-1', yes: true, snapshotFirst: true, providerFlags: {} };
    await expect(runPrune(healthy(home, { wrapCloud: failDeleteOnce }), 'snapfirst', flags)).rejects.toThrow(/throttled/);
    expect(await pruneSnapshots('snapfirst')).toEqual([[left.volumeId, 'pre-prune-final']]);
    expect(await volumes('snapfirst')).toContain(left.volumeId);

    await runPrune(healthy(home, { wrapCloud: failDeleteOnce }), 'snapfirst', flags);
    expect(await pruneSnapshots('snapfirst')).toEqual([[left.volumeId, 'pre-prune-final']]);
    expect(await volumes('snapfirst')).not.toContain(left.volumeId);
  });
});
