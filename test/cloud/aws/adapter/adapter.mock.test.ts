// The new AWS adapter where moto cannot go: capacity and quota errors, denied permissions, expired
// credentials, pending states, dependency violations, paginated image lists, a ClientToken whose
// instance died. aws-sdk-client-mock replaces the clients' send(), so these tests see exactly the
// requests the adapter builds. The same cases as the old adapter's test/cloud/aws/aws-cloud.mock.test.ts.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DeregisterImageCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  EC2Client,
  EC2ServiceException,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { wrapAwsClients } from '../../../../src/cloud/aws/sdk.js';
import { CloudError, CredentialsError, ExitCode, InterruptedError, WaitTimeoutError } from '../../../../src/core/errors.js';
import { SCOPE, accessSpec, builderAccessSpec, demoBuild, demoLaunch, imageSpec, instanceSpec } from './fixtures.js';

// The SDK's notice that future releases need Node 22 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ec2Mock = mockClient(EC2Client);
const stsMock = mockClient(STSClient);

function ec2Error(code: string, message = code): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

/** A clock that moves only when the adapter sleeps, so timeouts are exact and instant. */
function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}

let clock: ReturnType<typeof fakeClock>;
let cloud: AwsAdapter;

function makeCloud(profile?: string) {
  return new AwsAdapter(wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), SCOPE, {
    ...(profile ? { profile } : {}),
    pollIntervalMs: 1_000,
    dependencyRetryMs: 10_000,
    volumeTagWaitMs: 10_000,
    sleep: clock.sleep,
    now: clock.now,
  });
}

beforeEach(() => {
  ec2Mock.reset();
  stsMock.reset();
  clock = fakeClock();
  cloud = makeCloud('prod');
});

afterAll(() => {
  ec2Mock.restore();
  stsMock.restore();
});

const PLACEMENT = { zone: 'us-east-1a', subnetId: 'subnet-1', networkId: 'vpc-1' };
const spec = () => instanceSpec(demoLaunch(), PLACEMENT, ['sg-1']);

function instance(state: string, extra: Partial<Instance> = {}): Instance {
  return { InstanceId: 'i-1', State: { Name: state as 'running' }, InstanceType: 'm6a.2xlarge', ImageId: 'ami-1', Placement: { AvailabilityZone: 'us-east-1a' }, ...extra };
}

describe('RunInstances failures', () => {
  it('maps InsufficientInstanceCapacity to insufficient-capacity with alternatives', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient m6a.2xlarge capacity in the AZ you requested'));
    const err = await cloud.ensureInstance(spec()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'insufficient-capacity', exitCode: ExitCode.failed });
    expect((err as CloudError).remediation).toMatch(/--subnet.*--instance-type.*m7a\.2xlarge or m6i\.2xlarge/);
  });

  it('maps VcpuLimitExceeded to vcpu-limit', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit'));
    const err = await cloud.ensureInstance(spec()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'vcpu-limit' });
    expect((err as CloudError).remediation).toContain('Service Quotas');
  });

  it('surfaces throttling that outlasted the SDK retries as throttled', async () => {
    ec2Mock.on(DescribeVpcsCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    await expect(cloud.resolvePlacement(undefined)).rejects.toMatchObject({ code: 'throttled' });
  });
});

describe('client tokens of instances that died', () => {
  const mappings = [
    { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root', DeleteOnTermination: true } },
    { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data', DeleteOnTermination: false } },
  ];

  it('moves on to the next attempt\u2019s token when EC2 answers the first with its terminated instance', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolvesOnce({ Instances: [instance('terminated', { InstanceId: 'i-dead', ClientToken: 'demo-launch-0001' })] })
      .resolves({ Instances: [instance('pending', { InstanceId: 'i-2', BlockDeviceMappings: mappings })] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const launched = await cloud.ensureInstance(spec());
    expect(launched.id).toBe('i-2');
    expect(ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken)).toEqual(['demo-launch-0001', 'demo-launch-0001-2']);
  });

  it('does not even send the token of an attempt it already knows to be terminated', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance('terminated', { InstanceId: 'i-dead', ClientToken: 'demo-launch-0001', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'demo' }] })] }],
    });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [instance('pending', { InstanceId: 'i-2', BlockDeviceMappings: mappings })] });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await cloud.ensureInstance(spec());
    expect(ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken)).toEqual(['demo-launch-0001-2']);
    // The lookup includes terminated instances: their tokens still count for a day.
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([{ Name: 'tag:sourcegraph-launch:deployment', Values: ['demo'] }]);
  });

  it('finds the live instance of a later attempt again (resume): nothing new is run', async () => {
    const tags = [
      { Key: 'sourcegraph-launch:deployment', Value: 'demo' },
      { Key: 'sourcegraph-launch:role', Value: 'instance' },
    ];
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            instance('terminated', { InstanceId: 'i-dead', ClientToken: 'demo-launch-0001', Tags: tags }),
            instance('running', { InstanceId: 'i-2', ClientToken: 'demo-launch-0001-2', Tags: tags, BlockDeviceMappings: mappings }),
          ],
        },
      ],
    });
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect((await cloud.ensureInstance(spec())).id).toBe('i-2');
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('gives up with launch-attempts-exhausted after five dead attempts', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [instance('terminated', { InstanceId: 'i-dead' })] });
    await expect(cloud.ensureInstance(spec())).rejects.toMatchObject({ code: 'launch-attempts-exhausted' });
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(5);
  });
});

describe('permissions and credentials', () => {
  it('maps UnauthorizedOperation to permission-denied naming the call', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2Mock.on(CreateSecurityGroupCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const err = await cloud.ensureAccessPolicy(accessSpec(demoLaunch(), PLACEMENT)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: 'permission-denied', exitCode: ExitCode.credentials });
    expect((err as CredentialsError).message).toContain('ec2:CreateSecurityGroup');
  });

  it('maps expired credentials in whoAmI to a CredentialsError naming the profile', async () => {
    stsMock
      .on(GetCallerIdentityCommand)
      .rejects(new STSServiceException({ name: 'ExpiredToken', $fault: 'client', $metadata: {}, message: 'The security token included in the request is expired' }));
    const err = await cloud.whoAmI().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: 'credentials', exitCode: ExitCode.credentials });
    expect((err as CredentialsError).message).toContain('"prod"');
    expect((err as CredentialsError).remediation).toContain('aws sso login --profile prod');
  });

  it('names the scope\u2019s profile, then AWS_PROFILE, then default, when no profile was passed', async () => {
    const providerError = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    stsMock.on(GetCallerIdentityCommand).rejects(providerError);
    const saved = process.env.AWS_PROFILE;
    try {
      const fromScope = new AwsAdapter(wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), { ...SCOPE, params: { profile: 'scoped' } });
      await expect(fromScope.whoAmI()).rejects.toThrow('"scoped"');
      process.env.AWS_PROFILE = 'from-env';
      await expect(makeCloud().whoAmI()).rejects.toThrow('"from-env"');
      delete process.env.AWS_PROFILE;
      await expect(makeCloud().whoAmI()).rejects.toThrow('"default"');
    } finally {
      if (saved === undefined) delete process.env.AWS_PROFILE;
      else process.env.AWS_PROFILE = saved;
    }
  });

  it('returns the identity: the account and who the credentials are', async () => {
    stsMock.on(GetCallerIdentityCommand).resolves({ Account: '111122223333', Arn: 'arn:aws:iam::111122223333:user/me', UserId: 'AIDA' });
    expect(await cloud.whoAmI()).toEqual({ account: '111122223333', principal: 'arn:aws:iam::111122223333:user/me' });
  });
});

describe('checkInstancePermissions', () => {
  it('treats DryRunOperation as success and sends the real request with DryRun and without the client token', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.'));
    await expect(cloud.checkInstancePermissions(spec())).resolves.toBeUndefined();
    const input = ec2Mock.commandCalls(RunInstancesCommand)[0]?.args[0].input;
    expect(input?.DryRun).toBe(true);
    expect(input).not.toHaveProperty('ClientToken');
    expect(input).toMatchObject({ ImageId: 'ami-0123456789abcdef0', SubnetId: 'subnet-1', SecurityGroupIds: ['sg-1'] });
  });

  it('maps a denied dry run to permission-denied', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('UnauthorizedOperation'));
    await expect(cloud.checkInstancePermissions(spec())).rejects.toMatchObject({ code: 'permission-denied' });
  });
});

describe('findImage pagination', () => {
  it('follows NextToken and picks the newest version across pages', async () => {
    const owners = ['840044800169', '870751268155'];
    ec2Mock
      .on(DescribeImagesCommand, { Owners: owners })
      .resolvesOnce({ Images: [{ ImageId: 'ami-old', Name: 'Sourcegraph v6.10.100', OwnerId: owners[0] }], NextToken: 'page-2' })
      .resolvesOnce({ Images: [{ ImageId: 'ami-new', Name: 'Sourcegraph v6.12.5040', OwnerId: owners[0] }] });
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    expect(await cloud.findImage({ version: 'latest' })).toMatchObject({ id: 'ami-new', version: '6.12.5040', source: 'published' });
    const publishedCalls = ec2Mock.commandCalls(DescribeImagesCommand).filter((c) => c.args[0].input.Owners?.[0] === owners[0]);
    expect(publishedCalls.map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
  });

  it('prefers the newest creation date among images of the same version', async () => {
    // aws-sdk-client-mock: a later, more specific .on() wins over an earlier general one.
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    const tags = [
      { Key: 'sourcegraph-launch:role', Value: 'image' },
      { Key: 'sourcegraph-launch:version', Value: '6.13.1' },
    ];
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [
        { ImageId: 'ami-a', Name: 'a', CreationDate: '2026-01-01T00:00:00.000Z', Tags: tags },
        { ImageId: 'ami-b', Name: 'b', CreationDate: '2026-02-01T00:00:00.000Z', Tags: tags },
      ],
    });
    expect(await cloud.findImage({ version: '6.13.1' })).toMatchObject({ id: 'ami-b', source: 'built' });
  });
});

describe('waiting', () => {
  it('polls from pending to running', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance('pending')] }] })
      .resolvesOnce({ Reservations: [{ Instances: [instance('pending')] }] })
      .resolves({ Reservations: [{ Instances: [instance('running')] }] });
    await cloud.waitForInstanceState('i-1', 'running', 60_000);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(3);
    expect(clock.sleeps).toEqual([1_000, 1_000]);
  });

  it('times out with the last state seen', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance('pending')] }] });
    const err = await cloud.waitForInstanceState('i-1', 'running', 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ stage: 'instance-running', exitCode: ExitCode.timedOut, message: expect.stringContaining('pending') });
  });

  it('stops waiting for running when the instance terminates, with AWS\u2019s reason', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [instance('terminated', { StateReason: { Code: 'Client.VolumeLimitExceeded', Message: 'Client.VolumeLimitExceeded: Volume limit exceeded' } })] }],
    });
    await expect(cloud.waitForInstanceState('i-1', 'running', 60_000)).rejects.toMatchObject({ code: 'instance-terminated', message: expect.stringContaining('Volume limit exceeded') });
  });

  it('tolerates the new instance not being visible yet', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejectsOnce(ec2Error('InvalidInstanceID.NotFound')).resolves({ Reservations: [{ Instances: [instance('running')] }] });
    await expect(cloud.waitForInstanceState('i-1', 'running', 60_000)).resolves.toBeUndefined();
  });

  it('waits for a volume to become available', async () => {
    ec2Mock
      .on(DescribeVolumesCommand)
      .resolvesOnce({ Volumes: [{ VolumeId: 'vol-1', State: 'in-use' }] })
      .resolves({ Volumes: [{ VolumeId: 'vol-1', State: 'available' }] });
    await cloud.waitForDiskAvailable('vol-1', 60_000);
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)).toHaveLength(2);
  });
});

describe('ensureInstance labels the volumes once they show up', () => {
  it('waits for the block device mappings of a pending instance, then tags data and root by device', async () => {
    const mappings = [
      { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root', DeleteOnTermination: true } },
      { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data', DeleteOnTermination: false } },
    ];
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [] })
      .on(DescribeInstancesCommand, { InstanceIds: ['i-1'] })
      .resolvesOnce({ Reservations: [{ Instances: [instance('pending')] }] })
      .resolves({ Reservations: [{ Instances: [instance('pending', { BlockDeviceMappings: mappings })] }] });
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [instance('pending')] });
    // A just-made volume may not be describable yet: asking by id would fail, a filter answers empty.
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error('InvalidVolume.NotFound')).on(DescribeVolumesCommand, { Filters: [{ Name: 'volume-id', Values: ['vol-root', 'vol-data'] }] }).resolves({ Volumes: [] });
    ec2Mock.on(CreateTagsCommand).resolves({});

    const launched = await cloud.ensureInstance(spec());
    expect(launched.disks).toEqual([
      { role: 'root', diskId: 'vol-root', deleteWithInstance: true },
      { role: 'data', diskId: 'vol-data', deleteWithInstance: false },
    ]);
    const tagged = ec2Mock.commandCalls(CreateTagsCommand).map((c) => [c.args[0].input.Resources, c.args[0].input.Tags]);
    expect(tagged).toEqual([
      [['vol-data'], [{ Key: 'sourcegraph-launch:role', Value: 'data-volume' }, { Key: 'Name', Value: 'demo-data' }]],
      [['vol-root'], [{ Key: 'sourcegraph-launch:role', Value: 'root-volume' }, { Key: 'Name', Value: 'demo-root' }]],
    ]);
    expect(ec2Mock.commandCalls(RunInstancesCommand)[0]?.args[0].input.ClientToken).toBe('demo-launch-0001');
  });

  it('leaves a volume already marked with its role alone', async () => {
    const mappings = [
      { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root', DeleteOnTermination: true } },
      { DeviceName: '/dev/sdb', Ebs: { VolumeId: 'vol-data', DeleteOnTermination: false } },
    ];
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance('running', { ClientToken: 'demo-launch-0001', BlockDeviceMappings: mappings })] }] });
    ec2Mock.on(DescribeVolumesCommand).resolves({
      Volumes: [
        { VolumeId: 'vol-root', Tags: [{ Key: 'sourcegraph-launch:role', Value: 'root-volume' }, { Key: 'Name', Value: 'demo-root' }] },
        { VolumeId: 'vol-data', Tags: [{ Key: 'sourcegraph-launch:role', Value: 'instance-volume' }, { Key: 'Name', Value: 'demo' }] },
      ],
    });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await cloud.ensureInstance(spec());
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([['vol-data']]);
  });
});

describe('ensureAccessPolicy rules', () => {
  it('falls back to one rule at a time when a rule appeared meanwhile (InvalidPermission.Duplicate)', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-1', GroupName: 'sourcegraph-launch-demo', VpcId: 'vpc-1', IpPermissions: [] }] });
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejectsOnce(ec2Error('InvalidPermission.Duplicate'))
      .rejectsOnce(ec2Error('InvalidPermission.Duplicate'))
      .resolves({ Return: true });
    await cloud.ensureAccessPolicy(accessSpec(demoLaunch(), PLACEMENT));
    const sent = ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand).map((c) => (c.args[0].input.IpPermissions ?? []).map((p) => p.FromPort));
    expect(sent).toEqual([[80, 443, 22], [80], [443], [22]]);
  });

  it('a group of the same name made meanwhile counts as ours only when it is this build run\u2019s', async () => {
    const b = demoBuild();
    const groupOf = (runId: string) => ({
      SecurityGroups: [
        {
          GroupId: 'sg-b',
          GroupName: `sourcegraph-launch-build-${b.buildName}-${b.runId}`,
          VpcId: 'vpc-1',
          IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.7/32' }] }],
          Tags: [
            { Key: 'sourcegraph-launch:build', Value: b.buildName },
            { Key: 'sourcegraph-launch:build-run', Value: runId },
          ],
        },
      ],
    });
    // The lookup by label does not see it yet; CreateSecurityGroup says it exists.
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] }).on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-b'] }).resolves(groupOf(b.runId));
    ec2Mock.on(CreateSecurityGroupCommand).rejects(ec2Error('InvalidGroup.Duplicate'));
    const byName = { Filters: [{ Name: 'group-name', Values: [`sourcegraph-launch-build-${b.buildName}-${b.runId}`] }, { Name: 'vpc-id', Values: ['vpc-1'] }] };
    ec2Mock.on(DescribeSecurityGroupsCommand, byName).resolves(groupOf(b.runId));
    expect(await cloud.ensureAccessPolicy(builderAccessSpec(b, PLACEMENT))).toMatchObject({ id: 'sg-b', rules: [{ port: 22, cidr: '203.0.113.7/32' }] });
    ec2Mock.on(DescribeSecurityGroupsCommand, byName).resolves(groupOf('another-run'));
    await expect(cloud.ensureAccessPolicy(builderAccessSpec(b, PLACEMENT))).rejects.toMatchObject({ code: 'security-group-conflict', message: expect.stringContaining('build run run1') });
  });

  it('refuses a rule on a port other than 22, 80 and 443 before sending anything', async () => {
    const spec = accessSpec(demoLaunch(), PLACEMENT);
    spec.rules.push({ port: 6443, cidr: '0.0.0.0/0' });
    await expect(cloud.ensureAccessPolicy(spec)).rejects.toMatchObject({ code: 'access-port-not-allowed' });
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

describe('deleteAccessPolicy', () => {
  it('retries DependencyViolation while the terminated instance\u2019s interface lingers', async () => {
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-1 has a dependent object'))
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-1 has a dependent object'))
      .resolves({});
    await cloud.deleteAccessPolicy('sg-1');
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(3);
  });

  it('gives up with security-group-in-use after the retry window', async () => {
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('DependencyViolation'));
    await expect(cloud.deleteAccessPolicy('sg-1')).rejects.toMatchObject({ code: 'security-group-in-use' });
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(11);
  });
});

describe('observation edge cases', () => {
  it('asks for the console output without Latest where AWS does not support it, and decodes it', async () => {
    ec2Mock
      .on(GetConsoleOutputCommand)
      .resolves({ Output: Buffer.from('cloud-init: hello\n').toString('base64') })
      .on(GetConsoleOutputCommand, { Latest: true })
      .rejects(ec2Error('UnsupportedOperation', 'This instance type does not support retrieving the latest console output'));
    expect(await cloud.consoleOutput('i-1')).toBe('cloud-init: hello\n');
    expect(ec2Mock.commandCalls(GetConsoleOutputCommand).map((c) => c.args[0].input.Latest)).toEqual([true, undefined]);
  });

  it('returns empty console output when there is none yet', async () => {
    ec2Mock.on(GetConsoleOutputCommand).resolves({});
    expect(await cloud.consoleOutput('i-1')).toBe('');
  });

  it('summarises status checks', async () => {
    const statuses = (system: string, inst: string) => ({ InstanceStatuses: [{ SystemStatus: { Status: system as 'ok' }, InstanceStatus: { Status: inst as 'ok' } }] });
    ec2Mock
      .on(DescribeInstanceStatusCommand)
      .resolvesOnce(statuses('ok', 'initializing'))
      .resolvesOnce(statuses('impaired', 'ok'))
      .resolvesOnce({ InstanceStatuses: [] });
    expect(await cloud.instanceHealth('i-1')).toEqual({ overall: 'initializing', detail: 'system ok, instance initializing' });
    expect((await cloud.instanceHealth('i-1')).overall).toBe('impaired');
    expect(await cloud.instanceHealth('i-1')).toEqual({ overall: 'unknown' });
    expect(ec2Mock.commandCalls(DescribeInstanceStatusCommand)[0]?.args[0].input).toEqual({ InstanceIds: ['i-1'], IncludeAllInstances: true });
  });
});

describe('waiting for a built image', () => {
  const spec = imageSpec(demoBuild());

  it('says why an image failed instead of waiting out the timeout', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-b', State: 'failed', StateReason: { Message: 'snapshot error' } }] });
    await expect(cloud.waitForImage('ami-b', spec, 60_000)).rejects.toMatchObject({ code: 'image-failed', message: expect.stringContaining('snapshot error') });
  });

  it('times out with the last state, and stops at once when interrupted', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-b', State: 'pending' }] });
    const err = await cloud.waitForImage('ami-b', spec, 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ stage: 'image-available', message: expect.stringContaining('pending') });
    const controller = new AbortController();
    controller.abort();
    await expect(cloud.waitForImage('ami-b', spec, 5_000, controller.signal)).rejects.toBeInstanceOf(InterruptedError);
  });

  it('tags the snapshots of the available image like the image', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-b', State: 'available', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-r' } }, { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-d' } }] }] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    expect(await cloud.waitForImage('ami-b', spec, 5_000)).toMatchObject({ id: 'ami-b', state: 'available' });
    const input = ec2Mock.commandCalls(CreateTagsCommand)[0]!.args[0].input;
    expect(input.Resources).toEqual(['snap-r', 'snap-d']);
    expect(input.Tags).toContainEqual({ Key: 'sourcegraph-launch:role', Value: 'image' });
    expect(input.Tags).toContainEqual({ Key: 'Name', Value: spec.name });
  });

  it('deleting an image that is already gone deletes nothing else', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    expect(await cloud.deleteImage('ami-gone')).toEqual([]);
    expect(ec2Mock.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
  });
});
