// Promise: the root volume never carries the data role (which the snapshot policy and
// `destroy --delete-data` act on), not even for the moment between RunInstances and the retag; and
// a launch interrupted in that moment still has its data volume kept by destroy.
import { CreateSecurityGroupCommand, RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import { runInstancesRequest } from '../../src/cloud/aws/request-builders.js';
import type { InstanceSpec } from '../../src/cloud/port.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { dataDisksOf } from '../../src/workflows/shared.js';
import { demoLaunch, instanceSpec, SCOPE } from '../cloud/aws/adapter/fixtures.js';
import { makeDeps, ScriptedIo } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const AMI = 'ami-0a1b2c3d4e5f60722';
let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

const spec = (name: string, over: Partial<InstanceSpec> = {}): InstanceSpec => ({ ...instanceSpec(demoLaunch({ deployment: name, imageId: AMI }), { zone: 'us-east-1a' }, ['sg']), ...over });

it('the creation-time volume tags of every RunInstances name no role a policy or destroy acts on', () => {
  const launch = runInstancesRequest(spec('demo'));
  const upgrade = runInstancesRequest(spec('demo', { dataDisk: { mode: 'snapshot', snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'gp3' } }, labels: { deployment: 'demo', role: 'instance', operation: 'op' } }));
  for (const request of [launch, upgrade]) {
    const volumeTags = Object.fromEntries(request.TagSpecifications!.find((t) => t.ResourceType === 'volume')!.Tags!.map((t) => [t.Key, t.Value]));
    expect(volumeTags['sourcegraph-launch:role']).toBe('instance-volume');
    expect(volumeTags.Name).not.toBe('demo-data');
  }
});

it('interrupted right after RunInstances: destroy keeps the data volume and deletes it only with --delete-data', async () => {
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'g' }));
  // The request launch sends, sent by hand: the process "dies" before the volumes are told apart.
  const { KeyName: _k, ...input } = runInstancesRequest({ ...spec('cut'), sshKey: { mode: 'none' }, accessPolicyIds: [group.GroupId!] });
  await ec2.send(new RunInstancesCommand(input as never));
  const found = await createAwsAdapter(SCOPE, { endpoint: moto.endpoint }).findDeployment('cut');
  const data = dataDisksOf(found);
  expect(data).toHaveLength(1);
  expect(found.instance!.disks.find((m) => m.role === 'data')!.diskId).toBe(data[0]!.id);

  const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) });
  const kept = (await runDestroy(deps, 'cut', { region: 'us-east-1', yes: true })) as { kept: unknown };
  expect(kept.kept).toEqual([{ volumeId: data[0]!.id }]);
  const left = await deploymentResources(ec2).volumes('cut');
  expect(left.map((v) => v.VolumeId)).toEqual([data[0]!.id]);
  expect(tagMap(left[0]!.Tags)['sourcegraph-launch:role']).toBe('instance-volume');

  await runDestroy(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) }), 'cut', { region: 'us-east-1', yes: true, deleteData: true });
  expect(await deploymentResources(ec2).volumes('cut')).toEqual([]);
});
