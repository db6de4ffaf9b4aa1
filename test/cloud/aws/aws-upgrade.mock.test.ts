// Request shapes and error paths moto cannot show (moto 5.2.1 has no Data Lifecycle Manager, and
// ignores VolumeInitializationRate and DescribeVolumeStatus initialisation details), with
// aws-sdk-client-mock.
import { CreateVolumeCommand, DescribeVolumeStatusCommand, DescribeVolumesCommand, EC2Client, RunInstancesCommand, DescribeInstancesCommand, CreateTagsCommand } from '@aws-sdk/client-ec2';
import { CreateLifecyclePolicyCommand, DLMClient, GetLifecyclePoliciesCommand, GetLifecyclePolicyCommand, UpdateLifecyclePolicyCommand } from '@aws-sdk/client-dlm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsCloud } from '../../../src/cloud/aws/aws-cloud.js';
import { wrapDlmClient, wrapEc2Client, wrapStsClient } from '../../../src/cloud/aws/sdk.js';
import type { SnapshotLaunchSpec } from '../../../src/cloud/cloud.js';

const ec2Mock = mockClient(EC2Client);
const dlmMock = mockClient(DLMClient);

function cloud(): AwsCloud {
  const ec2 = new EC2Client({ region: 'us-east-1' });
  const dlm = new DLMClient({ region: 'us-east-1' });
  return new AwsCloud(
    { ec2: wrapEc2Client(ec2), sts: wrapStsClient(new STSClient({ region: 'us-east-1' })), dlm: wrapDlmClient(dlm) },
    { region: 'us-east-1', pollIntervalMs: 1, sleep: async () => undefined },
  );
}

const invalidParameter = Object.assign(new Error('The parameter VolumeInitializationRate is not recognized'), { name: 'InvalidParameterValue', $metadata: {} });

const spec: SnapshotLaunchSpec = {
  deployment: 'prod',
  version: '6.12.5040',
  size: 'M',
  imageId: 'ami-0new',
  instanceType: 'm6a.8xlarge',
  subnetId: 'subnet-1',
  securityGroupIds: ['sg-1'],
  keyName: 'sourcegraph-launch-prod',
  iamInstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/sg',
  tags: { Team: 'search', 'aws:cloudformation:stack-name': 'x', 'sourcegraph-launch:role': 'rollback-point' },
  rootVolume: { device: '/dev/xvda', sizeGiB: 50, type: 'gp3' },
  dataDevice: '/dev/sdb',
  data: { mode: 'snapshot', volume: { snapshotId: 'snap-1', sizeGiB: 500, type: 'io2', iops: 16000, kmsKeyId: 'alias/sg', initializationRateMiBps: 300 } },
  operation: 'op1:6.12.5040',
  clientToken: 'sgl-op1',
};

beforeEach(() => {
  ec2Mock.reset();
  dlmMock.reset();
});

describe('launching from a snapshot', () => {
  it('asks for the initialisation rate with the snapshot mapping, and retries without it where refused', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).rejectsOnce(invalidParameter).resolves({
      Instances: [{ InstanceId: 'i-new', State: { Name: 'pending' }, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data' } }] }],
    });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().launchInstanceFromSnapshot(spec);
    expect(instance.id).toBe('i-new');
    const calls = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    const data = calls[0]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!;
    expect(data).toMatchObject({ SnapshotId: 'snap-1', VolumeSize: 500, VolumeType: 'io2', Iops: 16000, KmsKeyId: 'alias/sg', DeleteOnTermination: false, Encrypted: true, VolumeInitializationRate: 300 });
    expect(calls[1]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeInitializationRate).toBeUndefined();
    expect(calls[0]).toMatchObject({ SubnetId: 'subnet-1', SecurityGroupIds: ['sg-1'], KeyName: 'sourcegraph-launch-prod', IamInstanceProfile: { Arn: spec.iamInstanceProfileArn }, ClientToken: 'sgl-op1' });
    const instanceTags = Object.fromEntries(calls[0]!.TagSpecifications![0]!.Tags!.map((t) => [t.Key, t.Value]));
    expect(instanceTags).toMatchObject({ Team: 'search', 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:operation': 'op1:6.12.5040' });
    expect(instanceTags['aws:cloudformation:stack-name']).toBeUndefined();
    expect(ec2Mock.commandCalls(CreateTagsCommand)[0]!.args[0].input).toMatchObject({ Resources: ['vol-root'], Tags: expect.arrayContaining([{ Key: 'sourcegraph-launch:role', Value: 'root-volume' }]) });
    expect(ec2Mock.commandCalls(CreateTagsCommand)[1]!.args[0].input).toMatchObject({ Resources: ['vol-data'], Tags: expect.arrayContaining([{ Key: 'sourcegraph-launch:role', Value: 'data-volume' }]) });
  });

  it('move: no /dev/sdb (NoDevice) and the boot guard as user data', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-new', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }] }] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await cloud().launchInstanceFromSnapshot({ ...spec, data: { mode: 'none' }, userData: '#cloud-boothook\npoweroff -f\n' });
    const input = ec2Mock.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.BlockDeviceMappings).toContainEqual({ DeviceName: '/dev/sdb', NoDevice: '' });
    expect(Buffer.from(input.UserData!, 'base64').toString()).toContain('#cloud-boothook');
  });

  it('CreateVolume from a snapshot retries without the rate too', async () => {
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateVolumeCommand).rejectsOnce(invalidParameter).resolves({ VolumeId: 'vol-new', State: 'creating' });
    const v = await cloud().createVolumeFromSnapshot({ deployment: 'prod', version: '6.11.0', availabilityZone: 'us-east-1a', volume: spec.data.mode === 'snapshot' ? spec.data.volume : (undefined as never), operation: 'op', clientToken: 't' });
    expect(v.id).toBe('vol-new');
    const calls = ec2Mock.commandCalls(CreateVolumeCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ AvailabilityZone: 'us-east-1a', SnapshotId: 'snap-1', Size: 500, VolumeType: 'io2', Iops: 16000, Encrypted: true, VolumeInitializationRate: 300 });
    expect(calls[1]!.VolumeInitializationRate).toBeUndefined();
  });
});

describe('volume initialisation', () => {
  it('reports progress while initialising and completion', async () => {
    ec2Mock.on(DescribeVolumeStatusCommand).resolvesOnce({
      VolumeStatuses: [{ VolumeId: 'vol-1', InitializationStatusDetails: { InitializationType: 'provisioned-rate', Progress: 40, EstimatedTimeToCompleteInSeconds: 600 }, VolumeStatus: { Details: [{ Name: 'initialization-state', Status: 'initializing' }] } }],
    }).resolves({ VolumeStatuses: [{ VolumeId: 'vol-1', InitializationStatusDetails: { InitializationType: 'provisioned-rate', Progress: 100 }, VolumeStatus: { Details: [{ Name: 'initialization-state', Status: 'completed' }] } }] });
    const c = cloud();
    expect(await c.describeVolumeInitialization('vol-1')).toEqual({ state: 'initializing', type: 'provisioned-rate', progressPercent: 40, etaSeconds: 600 });
    expect(await c.describeVolumeInitialization('vol-1')).toMatchObject({ state: 'completed', progressPercent: 100 });
  });
});

describe('snapshot schedules (Data Lifecycle Manager)', () => {
  it('creates a daily policy targeting the data volume, tagged with the deployment', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [] });
    dlmMock.on(CreateLifecyclePolicyCommand).resolves({ PolicyId: 'policy-1' });
    const out = await cloud().ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 14, executionRoleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole' });
    expect(out).toMatchObject({ policyId: 'policy-1', retain: 14 });
    const input = dlmMock.commandCalls(CreateLifecyclePolicyCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      ExecutionRoleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole',
      State: 'ENABLED',
      Tags: { 'sourcegraph-launch:deployment': 'prod' },
      PolicyDetails: { ResourceTypes: ['VOLUME'], TargetTags: [{ Key: 'Name', Value: 'prod-data' }], Schedules: [{ CreateRule: { Interval: 24, IntervalUnit: 'HOURS' }, RetainRule: { Count: 14 } }] },
    });
  });

  it('updates an existing policy whose retention differs, and leaves a matching one alone', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [{ PolicyId: 'policy-1', State: 'ENABLED', Tags: { 'sourcegraph-launch:deployment': 'prod' } }] });
    dlmMock.on(GetLifecyclePolicyCommand).resolves({ Policy: { PolicyId: 'policy-1', State: 'ENABLED', PolicyDetails: { Schedules: [{ Name: 'daily', CopyTags: true, RetainRule: { Count: 7 } }] } } });
    dlmMock.on(UpdateLifecyclePolicyCommand).resolves({});
    const c = cloud();
    await c.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, executionRoleArn: 'r' });
    expect(dlmMock.commandCalls(UpdateLifecyclePolicyCommand)).toHaveLength(0);
    await c.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 30, executionRoleArn: 'r' });
    expect(dlmMock.commandCalls(UpdateLifecyclePolicyCommand)[0]!.args[0].input).toMatchObject({ PolicyId: 'policy-1', PolicyDetails: { Schedules: [{ RetainRule: { Count: 30 } }] } });
    expect(dlmMock.commandCalls(CreateLifecyclePolicyCommand)).toHaveLength(0);
  });

  it('updates a policy made before scheduled snapshots carried the volume tags (CopyTags false)', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [{ PolicyId: 'policy-1', State: 'ENABLED', Tags: { 'sourcegraph-launch:deployment': 'prod' } }] });
    dlmMock.on(GetLifecyclePolicyCommand).resolves({ Policy: { PolicyId: 'policy-1', State: 'ENABLED', PolicyDetails: { Schedules: [{ Name: 'daily', CopyTags: false, RetainRule: { Count: 7 } }] } } });
    dlmMock.on(UpdateLifecyclePolicyCommand).resolves({});
    await cloud().ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, executionRoleArn: 'r' });
    expect(dlmMock.commandCalls(UpdateLifecyclePolicyCommand)[0]!.args[0].input).toMatchObject({ PolicyDetails: { Schedules: [{ CopyTags: true }] } });
  });
});
