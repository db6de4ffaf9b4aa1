// prune removes the way back, so it refuses unless the serving instance demonstrably serves its
// version and no upgrade or rollback is half done. moto's instance addresses must never be
// contacted: the HTTP probe is replaced and records what it was asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLaunch } from '../../src/commands/launch.js';
import { runPrune } from '../../src/commands/prune.js';
import { UsageError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';

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

const launchFlags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, elasticIp: 'none' };

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
    const err = await runPrune(deps, 'sick', { region: 'us-east-1', yes: true }).catch((e: unknown) => e);
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
    const err = await runPrune(deps, 'midway', { region: 'us-east-1', yes: true }).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('operation-unfinished');
  });
});
