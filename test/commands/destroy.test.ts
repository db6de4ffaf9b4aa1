import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsCloud } from '../../src/cloud/aws/aws-cloud.js';
import type { DeploymentResources, InstanceInfo } from '../../src/cloud/cloud.js';
import { planDestroy, runDestroy } from '../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { DeclinedError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const instance = (id: string, state: InstanceInfo['state'] = 'running'): InstanceInfo => ({
  id,
  state,
  instanceType: 'm6a.2xlarge',
  imageId: 'ami-0123456789abcdef0',
  availabilityZone: 'us-east-1a',
  securityGroupIds: [],
  volumes: [],
  tags: {},
});

const deployment: DeploymentResources = {
  name: 'prod',
  region: 'us-east-1',
  instance: instance('i-new'),
  otherInstances: [instance('i-rollback', 'stopped')],
  securityGroups: [{ id: 'sg-1', name: 'sourcegraph-launch-prod', tags: {}, ingress: [] }],
  keyPairs: [
    { name: 'sourcegraph-launch-prod', tags: {}, managed: true },
    { name: 'team-key', tags: {}, managed: false },
  ],
  addresses: [
    { allocationId: 'eipalloc-ours', publicIp: '198.51.100.1', tags: {}, managed: true },
    { allocationId: 'eipalloc-theirs', publicIp: '198.51.100.2', associationId: 'eipassoc-1', tags: {}, managed: false },
  ],
  volumes: [
    { id: 'vol-data', sizeGiB: 500, type: 'gp3', state: 'in-use', availabilityZone: 'us-east-1a', encrypted: true, tags: { 'sourcegraph-launch:role': 'data-volume' } },
    { id: 'vol-root', sizeGiB: 50, type: 'gp3', state: 'in-use', availabilityZone: 'us-east-1a', encrypted: true, tags: { 'sourcegraph-launch:role': 'root-volume' } },
  ],
};
const data = {
  snapshots: [{ id: 'snap-1', sizeGiB: 500, state: 'completed', encrypted: true, tags: { 'sourcegraph-launch:purpose': 'backup' } }],
  schedule: { policyId: 'policy-1', state: 'ENABLED' },
};

describe('planDestroy', () => {
  it('removes what the tool made, keeps the data and what the user brought', () => {
    const plan = planDestroy(deployment, false, data).map((a) => `${a.action} ${a.id}`);
    expect(plan).toEqual([
      'terminate i-new',
      'terminate i-rollback',
      'release-address eipalloc-ours',
      'disassociate-address eipassoc-1',
      'delete-security-group sg-1',
      'delete-key-pair sourcegraph-launch-prod',
      'keep-volume vol-data',
      'keep-snapshot snap-1',
      'keep-schedule policy-1',
    ]);
  });

  it('--delete-data deletes the data volumes, snapshots and the snapshot policy too, never the root volume by id', () => {
    const plan = planDestroy(deployment, true, data).map((a) => `${a.action} ${a.id}`);
    expect(plan.slice(-3)).toEqual(['delete-volume vol-data', 'delete-snapshot snap-1', 'delete-schedule policy-1']);
    expect(plan.join(' ')).not.toContain('vol-root');
    expect(plan.join(' ')).not.toContain('team-key');
    expect(plan.join(' ')).not.toContain('eipalloc-theirs');
  });
});

describe('destroy asks for the typed name', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f6071a', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  });
  afterAll(async () => moto?.stop());

  it('a wrong name deletes nothing; the right one deletes', async () => {
    const home = tempHome();
    const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'typed' };
    const launched = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), flags)) as LaunchResult;

    const wrong = new ScriptedIo(['typo']);
    const declined = runDestroy(makeDeps({ endpoint: moto.endpoint, io: wrong, home }), 'typed', { region: 'us-east-1' });
    await expect(declined).rejects.toBeInstanceOf(DeclinedError);
    await expect(declined).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/nothing changed/) });
    expect(wrong.questions.map((q) => q.message)).toEqual(['Type the deployment name (typed) to confirm']);
    const cloud = await createAwsCloud('us-east-1', { endpoint: moto.endpoint });
    expect((await cloud.findDeployment('typed')).instance?.id).toBe(launched.instanceId);

    const right = new ScriptedIo(['typed']);
    await runDestroy(makeDeps({ endpoint: moto.endpoint, io: right, home }), 'typed', { region: 'us-east-1' });
    expect((await cloud.findDeployment('typed')).instance).toBeUndefined();
    expect(right.text()).toMatch(/terminate instance\s+i-/);
  });
});
