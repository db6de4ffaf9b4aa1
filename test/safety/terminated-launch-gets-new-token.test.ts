// Promise: "re-run to resume" recovers a launch (or an upgrade hop) whose instance was terminated.
// EC2 answers a reused ClientToken with the instance it made for it, even terminated, for at least a
// day; so the tool moves on to the next attempt's token. moto has no ClientToken idempotency, so
// these run on aws-sdk-client-mock with EC2's real behaviour scripted.
import { CreateTagsCommand, DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsCloud } from '../../src/cloud/aws/aws-cloud.js';
import { attemptToken } from '../../src/cloud/aws/requests.js';
import { wrapAwsClients } from '../../src/cloud/aws/sdk.js';
import { testLaunchSpec } from '../cloud/aws/launch-spec.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ec2Mock = mockClient(EC2Client);
afterAll(() => ec2Mock.restore());
beforeEach(() => ec2Mock.reset());

const cloud = () =>
  new AwsCloud(wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), {
    region: 'us-east-1', pollIntervalMs: 1, volumeTagWaitMs: 0, sleep: async () => undefined,
  });

const withVolumes = (id: string, state: string, token: string): Instance => ({
  InstanceId: id, State: { Name: state as 'running' }, ClientToken: token, InstanceType: 'm6a.2xlarge', ImageId: 'ami-1', Placement: { AvailabilityZone: 'us-east-1a' },
  Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'demo' }, { Key: 'sourcegraph-launch:role', Value: 'instance' }, { Key: 'sourcegraph-launch:version', Value: '6.12.5040' }],
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-r' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-d' } }],
});

describe('launch', () => {
  const spec = testLaunchSpec({ clientToken: 'sgl-demo-instance-abc123' });
  const refs = { keyName: 'k', securityGroupId: 'sg-1', subnetId: 'subnet-1' };

  it('the first attempt\'s instance is terminated (still listed): the re-run launches with the next token', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [withVolumes('i-dead', 'terminated', spec.clientToken)] }] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [withVolumes('i-new', 'pending', attemptToken(spec.clientToken, 2))] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(spec, refs);
    expect(instance.id).toBe('i-new');
    const tokens = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toEqual(['sgl-demo-instance-abc123-2']);
  });

  it('no longer listed, but EC2 answers the old token with the terminated instance: next token', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolvesOnce({ Instances: [withVolumes('i-dead', 'terminated', spec.clientToken)] })
      .resolves({ Instances: [withVolumes('i-new', 'pending', attemptToken(spec.clientToken, 2))] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(spec, refs);
    expect(instance.id).toBe('i-new');
    expect(ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken)).toEqual([spec.clientToken, `${spec.clientToken}-2`]);
  });

  it('a live instance of a later attempt is found again (resume), nothing new is run', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [withVolumes('i-dead', 'terminated', spec.clientToken), withVolumes('i-2', 'running', `${spec.clientToken}-2`)] }] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect((await cloud().ensureInstance(spec, refs)).id).toBe('i-2');
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('attempt tokens stay within EC2\'s 64 characters', () => {
    expect(attemptToken('x'.repeat(64), 3)).toHaveLength(64);
    expect(attemptToken('x'.repeat(64), 3).endsWith('-3')).toBe(true);
  });
});

describe('an upgrade hop', () => {
  it('a hop instance that was terminated: the re-run launches the hop with the next token', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolvesOnce({ Instances: [withVolumes('i-dead', 'terminated', 'sgl-op:6.12.5040')] })
      .resolves({ Instances: [withVolumes('i-new', 'pending', 'sgl-op:6.12.5040-2')] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().launchInstanceFromSnapshot({
      deployment: 'demo', version: '6.12.5040', imageId: 'ami-1', instanceType: 'm6a.2xlarge', subnetId: 'subnet-1', securityGroupIds: ['sg-1'], tags: {},
      rootVolume: { device: '/dev/xvda', sizeGiB: 50, type: 'gp3' }, dataDevice: '/dev/sdb',
      data: { mode: 'snapshot', volume: { snapshotId: 'snap-1', sizeGiB: 500, type: 'gp3' } }, operation: 'op:6.12.5040', clientToken: 'sgl-op:6.12.5040',
    });
    expect(instance.id).toBe('i-new');
    expect(ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken)).toEqual(['sgl-op:6.12.5040', 'sgl-op:6.12.5040-2']);
  });
});
