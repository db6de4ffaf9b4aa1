// Promise: "re-run to resume" recovers a launch (or an upgrade hop) whose instance was terminated.
// EC2 answers a reused ClientToken with the instance it made for it, even terminated, for at least a
// day; so the tool moves on to the next attempt's token. moto has no ClientToken idempotency, so
// these run on aws-sdk-client-mock with EC2's real behaviour scripted.
import { CreateTagsCommand, DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../src/cloud/aws/adapter.js';
import { attemptToken } from '../../src/cloud/aws/request-builders.js';
import { wrapAwsClients } from '../../src/cloud/aws/sdk.js';
import type { InstanceSpec } from '../../src/cloud/port.js';
import { demoLaunch, instanceSpec, SCOPE } from '../cloud/aws/adapter/fixtures.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ec2Mock = mockClient(EC2Client);
afterAll(() => ec2Mock.restore());
beforeEach(() => ec2Mock.reset());

const cloud = () =>
  new AwsAdapter(wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), SCOPE, {
    pollIntervalMs: 1, volumeTagWaitMs: 0, sleep: async () => undefined,
  });

const withVolumes = (id: string, state: string, token: string, role = 'instance'): Instance => ({
  InstanceId: id, State: { Name: state as 'running' }, ClientToken: token, InstanceType: 'm6a.2xlarge', ImageId: 'ami-1', Placement: { AvailabilityZone: 'us-east-1a' },
  Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'demo' }, { Key: 'sourcegraph-launch:role', Value: role }, { Key: 'sourcegraph-launch:version', Value: '6.12.5040' }],
  RootDeviceName: '/dev/xvda',
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-r' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-d' } }],
});

const tokens = () => ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken);

describe('launch', () => {
  const spec: InstanceSpec = instanceSpec(demoLaunch({ idempotencyKey: 'sgl-demo-instance-abc123' }), { zone: 'us-east-1a', subnetId: 'subnet-1' }, ['sg-1']);

  it('the first attempt\'s instance is terminated (still listed): the re-run launches with the next token', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [withVolumes('i-dead', 'terminated', spec.idempotencyKey)] }] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [withVolumes('i-new', 'pending', attemptToken(spec.idempotencyKey, 2))] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(spec);
    expect(instance.id).toBe('i-new');
    expect(tokens()).toEqual(['sgl-demo-instance-abc123-2']);
  });

  it('no longer listed, but EC2 answers the old token with the terminated instance: next token', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolvesOnce({ Instances: [withVolumes('i-dead', 'terminated', spec.idempotencyKey)] })
      .resolves({ Instances: [withVolumes('i-new', 'pending', attemptToken(spec.idempotencyKey, 2))] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(spec);
    expect(instance.id).toBe('i-new');
    expect(tokens()).toEqual([spec.idempotencyKey, `${spec.idempotencyKey}-2`]);
  });

  it('a live instance of a later attempt is found again (resume), nothing new is run', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [withVolumes('i-dead', 'terminated', spec.idempotencyKey), withVolumes('i-2', 'running', `${spec.idempotencyKey}-2`)] }],
    });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect((await cloud().ensureInstance(spec)).id).toBe('i-2');
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('attempt tokens stay within EC2\'s 64 characters', () => {
    expect(attemptToken('x'.repeat(64), 3)).toHaveLength(64);
    expect(attemptToken('x'.repeat(64), 3).endsWith('-3')).toBe(true);
  });
});

describe('an upgrade hop', () => {
  it('a hop instance that was terminated: the re-run launches the hop with the next token', async () => {
    const hop: InstanceSpec = {
      ...instanceSpec(demoLaunch({ idempotencyKey: 'sgl-op:6.12.5040' }), { zone: 'us-east-1a', subnetId: 'subnet-1' }, ['sg-1']),
      dataDisk: { mode: 'snapshot', snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'gp3' } },
      labels: { deployment: 'demo', role: 'instance', version: '6.12.5040', operation: 'op:6.12.5040' },
    };
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolvesOnce({ Instances: [withVolumes('i-dead', 'terminated', 'sgl-op:6.12.5040')] })
      .resolves({ Instances: [withVolumes('i-new', 'pending', 'sgl-op:6.12.5040-2')] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(hop);
    expect(instance.id).toBe('i-new');
    expect(tokens()).toEqual(['sgl-op:6.12.5040', 'sgl-op:6.12.5040-2']);
  });
});
