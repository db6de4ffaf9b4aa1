// The verbs upgrade, rollback, backup and restore use, where moto cannot show them (moto 5.2.1 has
// no Data Lifecycle Manager, and ignores VolumeInitializationRate and the initialisation details
// of DescribeVolumeStatus): request shapes and error paths with aws-sdk-client-mock. The same cases
// as the old adapter's test/cloud/aws/aws-upgrade.mock.test.ts, plus what the new verbs add.
import {
  AssociateAddressCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumeStatusCommand,
  DescribeVolumesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateLifecyclePolicyCommand,
  DeleteLifecyclePolicyCommand,
  DLMClient,
  GetLifecyclePoliciesCommand,
  GetLifecyclePolicyCommand,
  ResourceNotFoundException,
  UpdateLifecyclePolicyCommand,
} from '@aws-sdk/client-dlm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { BOOT_GUARD_USER_DATA } from '../../../../src/cloud/aws/request-builders.js';
import { wrapDlmClient, wrapEc2Client, wrapStsClient } from '../../../../src/cloud/aws/sdk.js';
import type { DiskFromSnapshotSpec, InstanceSpec } from '../../../../src/cloud/port.js';
import { SCOPE, tagMap } from './fixtures.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ec2Mock = mockClient(EC2Client);
const dlmMock = mockClient(DLMClient);
const stsMock = mockClient(STSClient);

function cloud(): AwsAdapter {
  return new AwsAdapter(
    { ec2: wrapEc2Client(new EC2Client({ region: 'us-east-1' })), sts: wrapStsClient(new STSClient({ region: 'us-east-1' })), dlm: wrapDlmClient(new DLMClient({ region: 'us-east-1' })) },
    SCOPE,
    { pollIntervalMs: 1, volumeTagWaitMs: 10, sleep: async () => undefined },
  );
}

const invalidParameter = Object.assign(new Error('The parameter VolumeInitializationRate is not recognized'), { name: 'InvalidParameterValue', $metadata: {} });

const snapshotDisk = { mode: 'snapshot' as const, snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'io2', iops: 16000 }, initializationRateMiBps: 300 };

/** An upgrade hop's instance: like the old one (its subnet, group, key, profile, the user's tags), data from a snapshot. */
const hop: InstanceSpec = {
  deployment: 'prod',
  role: 'instance',
  version: '6.12.5040',
  size: 'M',
  imageId: 'ami-0new',
  machineType: 'm6a.8xlarge',
  placement: { zone: 'us-east-1a', subnetId: 'subnet-1' },
  accessPolicyIds: ['sg-1'],
  sshKey: { mode: 'existing', name: 'sourcegraph-launch-prod' },
  loginUser: 'ec2-user',
  rootDisk: { sizeGiB: 50, type: 'gp3' },
  dataDisk: snapshotDisk,
  keepDataDisk: true,
  encryptionKeyId: 'alias/sg',
  instanceIdentity: 'arn:aws:iam::123456789012:instance-profile/sg',
  labels: { deployment: 'prod', role: 'instance', version: '6.12.5040', size: 'M', managed: 'true', operation: 'op1:6.12.5040' },
  foreignLabels: { Team: 'search', 'aws:cloudformation:stack-name': 'x' },
  idempotencyKey: 'sgl-op1',
};

beforeEach(() => {
  ec2Mock.reset();
  dlmMock.reset();
  stsMock.reset();
});

afterAll(() => {
  ec2Mock.restore();
  dlmMock.restore();
  stsMock.restore();
});

describe('an instance whose data disk is made from a snapshot', () => {
  it('asks for the initialisation rate with the snapshot mapping, and retries without it where refused', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).rejectsOnce(invalidParameter).resolves({
      Instances: [{ InstanceId: 'i-new', State: { Name: 'pending' }, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data' } }] }],
    });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const instance = await cloud().ensureInstance(hop);
    expect(instance.id).toBe('i-new');
    const calls = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    const data = calls[0]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!;
    expect(data).toEqual({ SnapshotId: 'snap-1', VolumeSize: 500, VolumeType: 'io2', Iops: 16000, KmsKeyId: 'alias/sg', DeleteOnTermination: false, Encrypted: true, VolumeInitializationRate: 300 });
    expect(calls[1]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeInitializationRate).toBeUndefined();
    expect(calls[0]).toMatchObject({ SubnetId: 'subnet-1', SecurityGroupIds: ['sg-1'], KeyName: 'sourcegraph-launch-prod', IamInstanceProfile: { Arn: hop.instanceIdentity }, ClientToken: 'sgl-op1' });
    const instanceTags = tagMap(calls[0]!.TagSpecifications![0]!.Tags);
    expect(instanceTags).toMatchObject({ Team: 'search', Name: 'prod', 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:operation': 'op1:6.12.5040' });
    expect(instanceTags['aws:cloudformation:stack-name']).toBeUndefined();
    // Both volumes start as instance-volume (kept as data by destroy) until each is marked by its device.
    expect(tagMap(calls[0]!.TagSpecifications![1]!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'instance-volume', 'sourcegraph-launch:operation': 'op1:6.12.5040', Name: 'prod' });
    const tagged = ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input);
    expect(tagged).toContainEqual({ Resources: ['vol-root'], Tags: [{ Key: 'sourcegraph-launch:role', Value: 'root-volume' }, { Key: 'Name', Value: 'prod-root' }] });
    expect(tagged).toContainEqual({ Resources: ['vol-data'], Tags: [{ Key: 'sourcegraph-launch:role', Value: 'data-volume' }, { Key: 'Name', Value: 'prod-data' }] });
    expect(tagged).toHaveLength(2);
  });

  it('a re-run finds the hop\u2019s instance by its operation instead of launching a second', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-hop',
              State: { Name: 'running' },
              ClientToken: 'something-else',
              Tags: [
                { Key: 'sourcegraph-launch:deployment', Value: 'prod' },
                { Key: 'sourcegraph-launch:role', Value: 'instance' },
                { Key: 'sourcegraph-launch:operation', Value: 'op1:6.12.5040' },
              ],
              BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data' } }],
            },
          ],
        },
      ],
    });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect((await cloud().ensureInstance(hop)).id).toBe('i-hop');
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('never takes the instance it replaces for the hop\u2019s, even when that carries the same operation label', async () => {
    const old = (role: string) => ({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-old',
              State: { Name: 'stopped' as const },
              Tags: [
                { Key: 'sourcegraph-launch:deployment', Value: 'prod' },
                { Key: 'sourcegraph-launch:role', Value: role },
                { Key: 'sourcegraph-launch:operation', Value: 'op1:6.12.5040' },
              ],
            },
          ],
        },
      ],
    });
    ec2Mock.on(DescribeInstancesCommand).resolves(old('rollback-point'));
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-new', State: { Name: 'pending' }, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }, { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data' } }] }] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect((await cloud().ensureInstance(hop)).id).toBe('i-new');
  });

  it.each(['none', 'existing'] as const)('data disk %s (move): no /dev/sdb (NoDevice), the boot guard as user data, only the root volume marked', async (mode) => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-new', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root' } }] }] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await cloud().ensureInstance({ ...hop, dataDisk: mode === 'none' ? { mode } : { mode, diskId: 'vol-kept' } });
    const input = ec2Mock.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.BlockDeviceMappings).toContainEqual({ DeviceName: '/dev/sdb', NoDevice: '' });
    expect(Buffer.from(input.UserData!, 'base64').toString()).toBe(BOOT_GUARD_USER_DATA);
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([['vol-root']]);
  });

  it('a permission check retries without the rate where the region refuses it', async () => {
    const dryRun = Object.assign(new Error('Request would have succeeded, but DryRun flag is set.'), { name: 'DryRunOperation', $metadata: {} });
    ec2Mock.on(RunInstancesCommand).rejectsOnce(invalidParameter).rejects(dryRun);
    await expect(cloud().checkInstancePermissions(hop)).resolves.toBeUndefined();
    const calls = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.DryRun, c.BlockDeviceMappings?.[1]?.Ebs?.VolumeInitializationRate])).toEqual([
      [true, 300],
      [true, undefined],
    ]);
  });
});

describe('volumes from snapshots', () => {
  const restore: DiskFromSnapshotSpec = {
    deployment: 'prod',
    zone: 'us-east-1a',
    snapshotId: 'snap-1',
    disk: { sizeGiB: 500, type: 'io2', iops: 16000 },
    encryptionKeyId: 'alias/sg',
    initializationRateMiBps: 300,
    labels: { deployment: 'prod', role: 'data-volume', version: '6.11.0', managed: 'true', operation: 'op' },
    idempotencyKey: 't',
  };

  it('CreateVolume from a snapshot retries without the rate too', async () => {
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateVolumeCommand).rejectsOnce(invalidParameter).resolves({ VolumeId: 'vol-new', State: 'creating' });
    const v = await cloud().createDiskFromSnapshot(restore);
    expect(v).toMatchObject({ id: 'vol-new', state: 'creating' });
    const calls = ec2Mock.commandCalls(CreateVolumeCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ AvailabilityZone: 'us-east-1a', SnapshotId: 'snap-1', Size: 500, VolumeType: 'io2', Iops: 16000, Encrypted: true, VolumeInitializationRate: 300, ClientToken: 't' });
    expect(calls[1]!.VolumeInitializationRate).toBeUndefined();
  });

  it('a re-run finds the volume its operation made', async () => {
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-made', State: 'available', Tags: [{ Key: 'sourcegraph-launch:operation', Value: 'op' }] }] });
    expect((await cloud().createDiskFromSnapshot(restore)).id).toBe('vol-made');
    expect(ec2Mock.commandCalls(CreateVolumeCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)[0]!.args[0].input.Filters).toEqual([
      { Name: 'tag:sourcegraph-launch:operation', Values: ['op'] },
      { Name: 'tag:sourcegraph-launch:role', Values: ['data-volume'] },
    ]);
  });
});

describe('volume initialisation', () => {
  it('reports progress while initialising and completion', async () => {
    ec2Mock
      .on(DescribeVolumeStatusCommand)
      .resolvesOnce({
        VolumeStatuses: [{ VolumeId: 'vol-1', InitializationStatusDetails: { InitializationType: 'provisioned-rate', Progress: 40, EstimatedTimeToCompleteInSeconds: 600 }, VolumeStatus: { Details: [{ Name: 'initialization-state', Status: 'initializing' }] } }],
      })
      .resolves({ VolumeStatuses: [{ VolumeId: 'vol-1', InitializationStatusDetails: { InitializationType: 'provisioned-rate', Progress: 100 }, VolumeStatus: { Details: [{ Name: 'initialization-state', Status: 'completed' }] } }] });
    const c = cloud();
    expect(await c.diskInitialization('vol-1')).toEqual({ state: 'initializing', type: 'provisioned-rate', progressPercent: 40, etaSeconds: 600 });
    expect(await c.diskInitialization('vol-1')).toMatchObject({ state: 'completed', progressPercent: 100 });
  });
});

describe('snapshots', () => {
  const backup = {
    deployment: 'prod',
    diskId: 'vol-data',
    labels: { deployment: 'prod', role: 'snapshot', purpose: 'pre-upgrade', 'source-version': '6.11.0', version: '6.11.0', size: 'M', managed: 'true' },
    description: 'prod data before the upgrade to 6.12.5040',
    operation: 'op1',
  };

  it('tags the snapshot at creation with its labels, the operation and a Name', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2Mock.on(CreateSnapshotCommand).resolves({ SnapshotId: 'snap-new', State: 'pending', VolumeId: 'vol-data' });
    expect(await cloud().createSnapshot(backup)).toMatchObject({ id: 'snap-new', state: 'pending', diskId: 'vol-data' });
    const input = ec2Mock.commandCalls(CreateSnapshotCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ VolumeId: 'vol-data', Description: backup.description });
    expect(tagMap(input.TagSpecifications![0]!.Tags)).toEqual({
      'sourcegraph-launch:deployment': 'prod',
      'sourcegraph-launch:role': 'snapshot',
      'sourcegraph-launch:purpose': 'pre-upgrade',
      'sourcegraph-launch:source-version': '6.11.0',
      'sourcegraph-launch:version': '6.11.0',
      'sourcegraph-launch:size': 'M',
      'sourcegraph-launch:managed': 'true',
      'sourcegraph-launch:operation': 'op1',
      Name: 'prod-pre-upgrade-6.11.0',
    });
  });

  it('without a purpose, the snapshot is found again by operation and volume alone', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2Mock.on(CreateSnapshotCommand).resolves({ SnapshotId: 'snap-new', State: 'pending' });
    const { purpose: _p, ...labels } = backup.labels;
    await cloud().createSnapshot({ ...backup, labels });
    expect(ec2Mock.commandCalls(DescribeSnapshotsCommand)[0]!.args[0].input.Filters).toEqual([
      { Name: 'tag:sourcegraph-launch:operation', Values: ['op1'] },
      { Name: 'volume-id', Values: ['vol-data'] },
    ]);
    expect(tagMap(ec2Mock.commandCalls(CreateSnapshotCommand)[0]!.args[0].input.TagSpecifications![0]!.Tags).Name).toBe('prod-snapshot-6.11.0');
  });

  it('a re-run finds the snapshot of the same operation, purpose and volume', async () => {
    ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-made', State: 'completed', VolumeId: 'vol-data' }] });
    expect((await cloud().createSnapshot(backup)).id).toBe('snap-made');
    expect(ec2Mock.commandCalls(CreateSnapshotCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DescribeSnapshotsCommand)[0]!.args[0].input).toMatchObject({
      OwnerIds: ['self'],
      Filters: [
        { Name: 'tag:sourcegraph-launch:operation', Values: ['op1'] },
        { Name: 'tag:sourcegraph-launch:purpose', Values: ['pre-upgrade'] },
        { Name: 'volume-id', Values: ['vol-data'] },
      ],
    });
  });
});

describe('labels', () => {
  it('a volume\u2019s Name follows its role, for the deployment the volume belongs to', async () => {
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-old', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'prod' }] }] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await cloud().setLabels(['vol-old'], { role: 'rollback-data', 'last-written': '2026-02-19T12:00:00.000Z' });
    // Or the snapshot policy, which targets Name=<deployment>-data, would keep snapshotting the rollback volume.
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
      {
        Resources: ['vol-old'],
        Tags: [
          { Key: 'sourcegraph-launch:role', Value: 'rollback-data' },
          { Key: 'sourcegraph-launch:last-written', Value: '2026-02-19T12:00:00.000Z' },
          { Key: 'Name', Value: 'prod-rollback-data' },
        ],
      },
    ]);
  });

  it('labels anything else as asked, and removes labels by their tag keys', async () => {
    ec2Mock.on(CreateTagsCommand).resolves({});
    ec2Mock.on(DeleteTagsCommand).resolves({});
    const c = cloud();
    await c.setLabels(['i-old'], { role: 'rollback-point', 'rollback-snapshot': 'snap-1' });
    await c.removeLabels(['eipalloc-1'], ['deployment', 'role', 'owner']);
    await c.setLabels([], { role: 'x' });
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((x) => x.args[0].input)).toEqual([
      { Resources: ['i-old'], Tags: [{ Key: 'sourcegraph-launch:role', Value: 'rollback-point' }, { Key: 'sourcegraph-launch:rollback-snapshot', Value: 'snap-1' }] },
    ]);
    expect(ec2Mock.commandCalls(DeleteTagsCommand)[0]!.args[0].input).toEqual({
      Resources: ['eipalloc-1'],
      Tags: [{ Key: 'sourcegraph-launch:deployment' }, { Key: 'sourcegraph-launch:role' }, { Key: 'sourcegraph-launch:owner' }],
    });
  });
});

describe('moving the address to the new instance', () => {
  const tagged = (id: string, deployment?: string) => ({
    Reservations: [{ Instances: [{ InstanceId: id, State: { Name: 'running' as const }, Tags: deployment ? [{ Key: 'sourcegraph-launch:deployment', Value: deployment }] : [] }] }],
  });

  it('moves it from the same deployment\u2019s old instance, allowing reassociation', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1', PublicIp: '192.0.2.10', InstanceId: 'i-old', AssociationId: 'eipassoc-1' }] });
    ec2Mock.on(DescribeInstancesCommand, { InstanceIds: ['i-old'] }).resolves(tagged('i-old', 'prod')).on(DescribeInstancesCommand, { InstanceIds: ['i-new'] }).resolves(tagged('i-new', 'prod'));
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-2' });
    await cloud().attachStaticAddress('eipalloc-1', 'i-new');
    expect(ec2Mock.commandCalls(AssociateAddressCommand)[0]!.args[0].input).toEqual({ AllocationId: 'eipalloc-1', InstanceId: 'i-new', AllowReassociation: true });
  });

  it('refuses to take it from another deployment\u2019s instance, or from something that is not an instance', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1', PublicIp: '192.0.2.10', InstanceId: 'i-other', AssociationId: 'eipassoc-1' }] });
    ec2Mock.on(DescribeInstancesCommand, { InstanceIds: ['i-other'] }).resolves(tagged('i-other', 'other')).on(DescribeInstancesCommand, { InstanceIds: ['i-new'] }).resolves(tagged('i-new', 'prod'));
    await expect(cloud().attachStaticAddress('eipalloc-1', 'i-new')).rejects.toMatchObject({ code: 'address-in-use' });
    // Held by a network interface of something else (a NAT gateway, a load balancer): no instance id.
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1', PublicIp: '192.0.2.10', AssociationId: 'eipassoc-9', NetworkInterfaceId: 'eni-1' }] });
    await expect(cloud().attachStaticAddress('eipalloc-1', 'i-new')).rejects.toMatchObject({ code: 'address-in-use' });
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(0);
  });
});

describe('snapshot schedules (Data Lifecycle Manager)', () => {
  it('creates a daily policy targeting the data volume, tagged with the deployment, copying the volume\u2019s tags', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [] });
    dlmMock.on(CreateLifecyclePolicyCommand).resolves({ PolicyId: 'policy-1' });
    const out = await cloud().ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 14, params: { roleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole' } });
    expect(out).toMatchObject({ id: 'policy-1', retain: 14, copiesLabels: true });
    expect(dlmMock.commandCalls(GetLifecyclePoliciesCommand)[0]!.args[0].input).toEqual({ TargetTags: ['Name=prod-data'], ResourceTypes: ['VOLUME'] });
    const input = dlmMock.commandCalls(CreateLifecyclePolicyCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      ExecutionRoleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole',
      State: 'ENABLED',
      Tags: { 'sourcegraph-launch:deployment': 'prod' },
      PolicyDetails: {
        ResourceTypes: ['VOLUME'],
        TargetTags: [{ Key: 'Name', Value: 'prod-data' }],
        Schedules: [{ CopyTags: true, CreateRule: { Interval: 24, IntervalUnit: 'HOURS' }, RetainRule: { Count: 14 } }],
      },
    });
    expect(tagMap(input.PolicyDetails!.Schedules![0]!.TagsToAdd)).toEqual({
      'sourcegraph-launch:deployment': 'prod',
      'sourcegraph-launch:purpose': 'scheduled',
      'sourcegraph-launch:managed': 'true',
    });
  });

  it('without a role, uses the account\u2019s default DLM role, learning the account from STS', async () => {
    stsMock.on(GetCallerIdentityCommand).resolves({ Account: '111122223333', Arn: 'arn:aws:iam::111122223333:user/me' });
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [] });
    dlmMock.on(CreateLifecyclePolicyCommand).resolves({ PolicyId: 'policy-1' });
    await cloud().ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, params: {} });
    expect(dlmMock.commandCalls(CreateLifecyclePolicyCommand)[0]!.args[0].input.ExecutionRoleArn).toBe('arn:aws:iam::111122223333:role/AWSDataLifecycleManagerDefaultRole');
  });

  it('updates an existing policy whose retention differs, and leaves a matching one alone', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [{ PolicyId: 'policy-1', State: 'ENABLED', Tags: { 'sourcegraph-launch:deployment': 'prod' } }] });
    dlmMock.on(GetLifecyclePolicyCommand).resolves({ Policy: { PolicyId: 'policy-1', State: 'ENABLED', PolicyDetails: { Schedules: [{ Name: 'daily', CopyTags: true, RetainRule: { Count: 7 } }] } } });
    dlmMock.on(UpdateLifecyclePolicyCommand).resolves({});
    const c = cloud();
    expect(await c.findSnapshotSchedule('prod')).toEqual({ id: 'policy-1', state: 'ENABLED', schedule: 'daily', retain: 7, copiesLabels: true });
    await c.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, params: { roleArn: 'r' } });
    expect(dlmMock.commandCalls(UpdateLifecyclePolicyCommand)).toHaveLength(0);
    await c.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 30, params: { roleArn: 'r' } });
    const update = dlmMock.commandCalls(UpdateLifecyclePolicyCommand)[0]!.args[0].input;
    expect(update).toMatchObject({ PolicyId: 'policy-1', ExecutionRoleArn: 'r', PolicyDetails: { Schedules: [{ RetainRule: { Count: 30 } }] } });
    expect(update).not.toHaveProperty('Tags');
    expect(dlmMock.commandCalls(CreateLifecyclePolicyCommand)).toHaveLength(0);
  });

  it('updates a policy made before scheduled snapshots carried the volume tags (CopyTags false)', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [{ PolicyId: 'policy-1', State: 'ENABLED', Tags: { 'sourcegraph-launch:deployment': 'prod' } }] });
    dlmMock.on(GetLifecyclePolicyCommand).resolves({ Policy: { PolicyId: 'policy-1', State: 'ENABLED', PolicyDetails: { Schedules: [{ Name: 'daily', CopyTags: false, RetainRule: { Count: 7 } }] } } });
    dlmMock.on(UpdateLifecyclePolicyCommand).resolves({});
    await cloud().ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, params: { roleArn: 'r' } });
    expect(dlmMock.commandCalls(UpdateLifecyclePolicyCommand)[0]!.args[0].input).toMatchObject({ PolicyDetails: { Schedules: [{ CopyTags: true }] } });
  });

  it('ignores a policy on the same target that is not this deployment\u2019s, and deleting one already gone is done', async () => {
    dlmMock.on(GetLifecyclePoliciesCommand).resolves({ Policies: [{ PolicyId: 'policy-x', State: 'ENABLED', Tags: { owner: 'someone' } }] });
    expect(await cloud().findSnapshotSchedule('prod')).toBeUndefined();
    dlmMock.on(DeleteLifecyclePolicyCommand).rejects(new ResourceNotFoundException({ $metadata: {}, message: 'gone' }));
    await expect(cloud().deleteSnapshotSchedule('policy-1')).resolves.toBeUndefined();
  });
});
