// Promise: the root volume never carries the data role (which the snapshot policy and
// `destroy --delete-data` act on), not even for the moment between RunInstances and the retag; and
// a launch interrupted in that moment still has its data volume kept by destroy.
import { CreateSecurityGroupCommand, RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { dataVolumesOf } from '../../src/cloud/cloud.js';
import { createAwsCloud } from '../../src/cloud/aws/aws-cloud.js';
import { runInstancesRequest } from '../../src/cloud/aws/requests.js';
import { snapshotRunInstancesRequest } from '../../src/cloud/aws/aws-upgrade.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { testLaunchSpec } from '../cloud/aws/launch-spec.js';
import { makeDeps, ScriptedIo } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60722', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

it('the creation-time volume tags of every RunInstances name no role a policy or destroy acts on', () => {
  const launch = runInstancesRequest(testLaunchSpec({ name: 'demo' }), { keyName: 'k', securityGroupId: 'sg' });
  const upgrade = snapshotRunInstancesRequest({
    deployment: 'demo', version: '6.12.5040', imageId: 'ami-1', instanceType: 'm6a.2xlarge', subnetId: 'subnet-1', securityGroupIds: ['sg'], tags: {},
    rootVolume: { device: '/dev/xvda', sizeGiB: 50, type: 'gp3' }, dataDevice: '/dev/sdb',
    data: { mode: 'snapshot', volume: { snapshotId: 'snap-1', sizeGiB: 500, type: 'gp3' } }, operation: 'op', clientToken: 't',
  });
  for (const request of [launch, upgrade]) {
    const volumeTags = Object.fromEntries(request.TagSpecifications.find((t) => t.ResourceType === 'volume')!.Tags.map((t) => [t.Key, t.Value]));
    expect(volumeTags['sourcegraph-launch:role']).toBe('instance-volume');
    expect(volumeTags.Name).not.toBe('demo-data');
  }
});

it('interrupted right after RunInstances: destroy keeps the data volume and deletes it only with --delete-data', async () => {
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'g' }));
  const spec = testLaunchSpec({ name: 'cut', imageId: 'ami-0a1b2c3d4e5f60722' });
  const request = runInstancesRequest(spec, { keyName: '', securityGroupId: group.GroupId! });
  const { KeyName: _k, ...input } = request;
  await ec2.send(new RunInstancesCommand(input as never));
  const found = await (await createAwsCloud('us-east-1', { endpoint: moto.endpoint })).findDeployment('cut');
  const data = dataVolumesOf(found);
  expect(data).toHaveLength(1);
  expect(found.instance!.volumes.find((m) => m.device === '/dev/sdb')!.volumeId).toBe(data[0]!.id);

  const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) });
  const kept = (await runDestroy(deps, 'cut', { region: 'us-east-1', yes: true })) as { kept: unknown };
  expect(kept.kept).toEqual([{ volumeId: data[0]!.id }]);
  const left = await deploymentResources(ec2).volumes('cut');
  expect(left.map((v) => v.VolumeId)).toEqual([data[0]!.id]);
  expect(tagMap(left[0]!.Tags)['sourcegraph-launch:role']).toBe('instance-volume');

  await runDestroy(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) }), 'cut', { region: 'us-east-1', yes: true, deleteData: true });
  expect(await deploymentResources(ec2).volumes('cut')).toEqual([]);
});
