// The pure request builders of the new AWS adapter and its dry runs (launchRequests,
// instanceRequests, buildRequests, scheduleRequests): exactly the EC2 and DLM bodies the old
// adapter sent (test/cloud/aws/requests.test.ts), now built from the neutral specs. The adapter
// here has clients that fail on any call, so a dry run that touched AWS would fail the test.
import { describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import {
  BOOT_GUARD_USER_DATA,
  allocateAddressRequest,
  associateAddressRequest,
  attemptToken,
  authorizeIngressRequest,
  createVolumeRequest,
  importKeyPairRequest,
  revokeIngressRequest,
  runInstancesRequest,
  volumeRoleTagsRequest,
} from '../../../../src/cloud/aws/request-builders.js';
import type { AwsClients } from '../../../../src/cloud/aws/sdk.js';
import type { CloudRequest, InstanceSpec } from '../../../../src/cloud/port.js';
import {
  SCOPE,
  TEST_PUBLIC_KEY,
  TEST_PUBLIC_KEY_FINGERPRINT,
  builderAccessSpec,
  builderSpec,
  builderSshKey,
  demoBuild,
  demoLaunch,
  deploymentLabels,
  imageSpec,
  instanceSpec,
  launchRequestsSpec,
  launchRules,
  tagMap,
  type DemoLaunch,
} from './fixtures.js';

/** Clients whose every call fails the test: the dry runs must not send anything. */
const offline: AwsClients = {
  ec2: new Proxy({} as AwsClients['ec2'], {
    get: (_t, method) => (typeof method === 'string' && method !== 'then' ? () => Promise.reject(new Error(`dry run called ec2.${method}`)) : undefined),
  }),
  sts: { getCallerIdentity: () => Promise.reject(new Error('dry run called sts')) },
  dlm: new Proxy({} as NonNullable<AwsClients['dlm']>, {
    get: (_t, method) => (typeof method === 'string' && method !== 'then' ? () => Promise.reject(new Error(`dry run called dlm.${method}`)) : undefined),
  }),
};
const adapter = new AwsAdapter(offline, SCOPE);

/** The tags of the old adapter's resourceTags(spec, role), in its order. */
const demoTags = (role: string, version = '6.12.5040', size = 'XS') => [
  { Key: 'sourcegraph-launch:deployment', Value: 'demo' },
  { Key: 'sourcegraph-launch:role', Value: role },
  { Key: 'sourcegraph-launch:version', Value: version },
  { Key: 'sourcegraph-launch:size', Value: size },
  { Key: 'sourcegraph-launch:managed', Value: 'true' },
  { Key: 'Name', Value: 'demo' },
];

const PLACEMENT = { zone: 'us-east-1a', subnetId: 'subnet-1' };
const spec = (o: Partial<DemoLaunch> = {}, placement: { zone: string; subnetId?: string } = PLACEMENT): InstanceSpec => instanceSpec(demoLaunch(o), placement, ['sg-1']);

describe('runInstancesRequest', () => {
  it('builds the exact XS request: IMDSv2, encrypted gp3 volumes, tags at creation', () => {
    expect(runInstancesRequest(spec())).toEqual({
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 'm6a.2xlarge',
      MinCount: 1,
      MaxCount: 1,
      KeyName: 'sourcegraph-launch-demo',
      SecurityGroupIds: ['sg-1'],
      SubnetId: 'subnet-1',
      ClientToken: 'demo-launch-0001',
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true } },
        { DeviceName: '/dev/sdb', Ebs: { VolumeSize: 500, VolumeType: 'gp3', Iops: 3000, Throughput: 125, DeleteOnTermination: false, Encrypted: true } },
      ],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: demoTags('instance') },
        // One set for both volumes, so it names neither role until each is told apart by its device.
        { ResourceType: 'volume', Tags: demoTags('instance-volume') },
      ],
    });
  });

  it('omits SubnetId when the placement has none, and KeyName when the key travels otherwise', () => {
    expect(runInstancesRequest(spec({}, { zone: 'us-east-1a' }))).not.toHaveProperty('SubnetId');
    expect(runInstancesRequest(spec({ sshKey: { mode: 'none' } }))).not.toHaveProperty('KeyName');
    expect(runInstancesRequest(spec({ sshKey: { mode: 'existing', name: 'mine' } })).KeyName).toBe('mine');
  });

  it.each(['L', 'XL'])('gives %s an io2 data volume with 16,000 IOPS and no throughput', (size) => {
    const request = runInstancesRequest(spec({ size, dataDisk: { mode: 'new', disk: { sizeGiB: 500, type: 'io2', iops: 16000 } } }));
    expect(request.BlockDeviceMappings[1]).toEqual({ DeviceName: '/dev/sdb', Ebs: { VolumeSize: 500, VolumeType: 'io2', Iops: 16000, DeleteOnTermination: false, Encrypted: true } });
  });

  it('omits gp3 IOPS and throughput when the spec leaves them to the defaults', () => {
    const request = runInstancesRequest(spec({ dataDisk: { mode: 'new', disk: { sizeGiB: 800, type: 'gp3' } } }));
    expect(request.BlockDeviceMappings[1]?.Ebs).toEqual({ VolumeSize: 800, VolumeType: 'gp3', DeleteOnTermination: false, Encrypted: true });
  });

  it('puts the KMS key on both volumes', () => {
    const kms = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const request = runInstancesRequest(spec({ encryptionKeyId: kms }));
    expect(request.BlockDeviceMappings.map((m) => [m.Ebs?.Encrypted, m.Ebs?.KmsKeyId])).toEqual([
      [true, kms],
      [true, kms],
    ]);
  });

  it.each(['none', 'existing'] as const)('data disk %s: /dev/sdb suppressed (NoDevice) and the boot guard as user data', (mode) => {
    const request = runInstancesRequest(spec({ dataDisk: mode === 'none' ? { mode } : { mode, diskId: 'vol-kept' } }));
    expect(request.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true } },
      { DeviceName: '/dev/sdb', NoDevice: '' },
    ]);
    expect(Buffer.from(request.UserData ?? '', 'base64').toString('utf8')).toBe(BOOT_GUARD_USER_DATA);
    expect(BOOT_GUARD_USER_DATA).toMatch(/^#cloud-boothook\n/);
    expect(BOOT_GUARD_USER_DATA).toContain('blkid -L /mnt/data');
  });

  it('a new data disk gets no user data unless the spec brings its own (first-boot provisioning)', () => {
    expect(runInstancesRequest(spec())).not.toHaveProperty('UserData');
    expect(runInstancesRequest({ ...spec(), userDataBase64: 'I2Nsb3VkLWNvbmZpZw==' }).UserData).toBe('I2Nsb3VkLWNvbmZpZw==');
  });

  it('a data disk from a snapshot is kept on termination and asks for the initialisation rate', () => {
    const request = runInstancesRequest(
      spec({ encryptionKeyId: 'alias/sg', dataDisk: { mode: 'snapshot', snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'io2', iops: 16000 }, initializationRateMiBps: 300 } }),
    );
    expect(request.BlockDeviceMappings[1]).toEqual({
      DeviceName: '/dev/sdb',
      Ebs: { SnapshotId: 'snap-1', VolumeSize: 500, VolumeType: 'io2', Iops: 16000, DeleteOnTermination: false, Encrypted: true, KmsKeyId: 'alias/sg', VolumeInitializationRate: 300 },
    });
    expect(request).not.toHaveProperty('UserData');
  });

  it('copies the user\u2019s own tags of the instance it replaces, never AWS\u2019s or our bookkeeping', () => {
    const request = runInstancesRequest({
      ...spec(),
      labels: { ...deploymentLabels(demoLaunch(), 'instance'), operation: 'op1:6.12.5040' },
      foreignLabels: { Team: 'search', Name: 'prod-sourcegraph', 'aws:cloudformation:stack-name': 'x', 'sourcegraph-launch:stale': 'y' },
    });
    const tags = tagMap(request.TagSpecifications[0]?.Tags);
    expect(tags).toEqual({
      'sourcegraph-launch:deployment': 'demo',
      'sourcegraph-launch:role': 'instance',
      'sourcegraph-launch:version': '6.12.5040',
      'sourcegraph-launch:size': 'XS',
      'sourcegraph-launch:managed': 'true',
      'sourcegraph-launch:operation': 'op1:6.12.5040',
      // The user renamed it in the console: the replacement keeps their name.
      Name: 'prod-sourcegraph',
      Team: 'search',
    });
    // The volumes get ours only.
    expect(tagMap(request.TagSpecifications[1]?.Tags)).not.toHaveProperty('Team');
  });

  it('a builder: both volumes deleted with it, no deployment tag, named after the build', () => {
    const b = demoBuild();
    const request = runInstancesRequest(builderSpec(b, { zone: 'us-east-1a' }, ['sg-b']));
    expect(request.BlockDeviceMappings.map((m) => m.Ebs)).toEqual([
      { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
      { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
    ]);
    const expected = [
      { Key: 'sourcegraph-launch:build', Value: b.buildName },
      { Key: 'sourcegraph-launch:build-run', Value: b.runId },
      { Key: 'sourcegraph-launch:role', Value: 'builder' },
      { Key: 'sourcegraph-launch:version', Value: b.version },
      { Key: 'sourcegraph-launch:size', Value: b.size },
      { Key: 'sourcegraph-launch:managed', Value: 'true' },
      { Key: 'Name', Value: `sourcegraph-launch-builder-${b.buildName}` },
    ];
    expect(request.TagSpecifications).toEqual([
      { ResourceType: 'instance', Tags: expected },
      { ResourceType: 'volume', Tags: expected },
    ]);
    expect(request).toMatchObject({ ImageId: b.baseImageId, KeyName: b.keyName, ClientToken: b.idempotencyKey, MetadataOptions: { HttpTokens: 'required' } });
  });
});

describe('the creation-time volume tags', () => {
  it.each([
    ['new', { mode: 'new', disk: { sizeGiB: 500, type: 'gp3' } }],
    ['snapshot', { mode: 'snapshot', snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'gp3' } }],
    ['none', { mode: 'none' }],
    ['existing', { mode: 'existing', diskId: 'vol-kept' }],
  ] as const)('of a %s data disk name no role the snapshot policy or destroy --delete-data acts on', (_mode, dataDisk) => {
    // One set for both volumes: until each is marked by its device, the root must not look like data.
    const volumeTags = tagMap(runInstancesRequest(spec({ dataDisk })).TagSpecifications.find((t) => t.ResourceType === 'volume')!.Tags);
    expect(volumeTags['sourcegraph-launch:role']).toBe('instance-volume');
    expect(volumeTags.Name).toBe('demo');
  });
});

describe('client tokens', () => {
  it('the first attempt uses the key itself, later ones a suffix, never past 64 characters', () => {
    expect(attemptToken('demo-launch-0001', 1)).toBe('demo-launch-0001');
    expect(attemptToken('demo-launch-0001', 2)).toBe('demo-launch-0001-2');
    const long = 'x'.repeat(70);
    expect(attemptToken(long, 1)).toHaveLength(64);
    expect(attemptToken(long, 3)).toBe(`${'x'.repeat(62)}-3`);
  });
});

describe('security group requests', () => {
  it('names and tags the group at creation (through the dry run)', () => {
    const [, create] = adapter.launchRequests(launchRequestsSpec());
    expect(create).toEqual({
      service: 'ec2',
      operation: 'CreateSecurityGroup',
      input: {
        GroupName: 'sourcegraph-launch-demo',
        Description: 'Sourcegraph deployment demo (sourcegraph-launch)',
        VpcId: '<VpcId of the default VPC from DescribeVpcs>',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: demoTags('security-group') }],
      },
    });
  });

  it('puts IPv6 CIDRs in Ipv6Ranges, and revoking uses the same shape without descriptions', () => {
    const rules = launchRules({ allowCidrs: ['203.0.113.0/24', '2001:db8::/32'], sshCidrs: [] });
    expect(authorizeIngressRequest('sg-1', rules).IpPermissions[0]).toEqual({
      IpProtocol: 'tcp',
      FromPort: 80,
      ToPort: 80,
      IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'HTTP to Sourcegraph' }],
      Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32', Description: 'HTTP to Sourcegraph' }],
    });
    expect(revokeIngressRequest('sg-1', rules).IpPermissions[1]).toEqual({
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      IpRanges: [{ CidrIp: '203.0.113.0/24' }],
      Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }],
    });
  });

  it('opens 80 and 443 to every allowed CIDR and 22 only to the SSH CIDRs', () => {
    const rules = launchRules({ allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['198.51.100.7/32'] });
    expect(authorizeIngressRequest('sg-1', rules)).toEqual({
      GroupId: 'sg-1',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'HTTP to Sourcegraph' }, { CidrIp: '192.0.2.0/24', Description: 'HTTP to Sourcegraph' }] },
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'HTTPS to Sourcegraph' }, { CidrIp: '192.0.2.0/24', Description: 'HTTPS to Sourcegraph' }] },
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '198.51.100.7/32', Description: 'SSH for sourcegraph-launch' }] },
      ],
    });
  });

  it('a dry run with no SSH CIDR has no port 22, and one asking for another port (6443) is refused', () => {
    const noSsh = adapter.launchRequests(launchRequestsSpec(demoLaunch({ sshCidrs: [] })));
    const ports = (noSsh.find((r) => r.operation === 'AuthorizeSecurityGroupIngress')?.input.IpPermissions as { FromPort: number }[]).map((p) => p.FromPort);
    expect(ports).toEqual([80, 443]);
    const spec6443 = launchRequestsSpec();
    spec6443.access.rules.push({ port: 6443, cidr: '0.0.0.0/0' });
    expect(() => adapter.launchRequests(spec6443)).toThrow(expect.objectContaining({ code: 'access-port-not-allowed' }));
  });
});

describe('key pair, address, volume and tag requests', () => {
  it('imports the public key with the deployment\u2019s tags and the key\u2019s fingerprint', () => {
    const request = importKeyPairRequest({ mode: 'import', name: 'kp', publicKey: TEST_PUBLIC_KEY }, deploymentLabels(demoLaunch(), 'key-pair'), 'demo');
    expect(request).toEqual({
      KeyName: 'kp',
      PublicKeyMaterial: TEST_PUBLIC_KEY,
      // The fingerprint tells which machine's key the deployment trusts (launch compares it).
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: [...demoTags('key-pair'), { Key: 'sourcegraph-launch:key-fingerprint', Value: TEST_PUBLIC_KEY_FINGERPRINT }] }],
    });
  });

  it('keeps a fingerprint label the caller computed, and a builder\u2019s key carries none (as before)', () => {
    const given = importKeyPairRequest({ mode: 'import', name: 'kp', publicKey: TEST_PUBLIC_KEY }, { ...deploymentLabels(demoLaunch(), 'key-pair'), 'key-fingerprint': 'given' }, 'demo');
    expect(given.TagSpecifications[0]!.Tags.filter((t) => t.Key === 'sourcegraph-launch:key-fingerprint')).toEqual([{ Key: 'sourcegraph-launch:key-fingerprint', Value: 'given' }]);
    const b = demoBuild();
    const builder = importKeyPairRequest(builderSshKey(b) as { mode: 'import'; name: string; publicKey: string }, { ...builderSpec(b, { zone: 'z' }, []).labels, role: 'key-pair' });
    expect(tagMap(builder.TagSpecifications[0]!.Tags)).toEqual({
      'sourcegraph-launch:build': b.buildName,
      'sourcegraph-launch:build-run': b.runId,
      'sourcegraph-launch:role': 'key-pair',
      'sourcegraph-launch:version': b.version,
      'sourcegraph-launch:size': b.size,
      'sourcegraph-launch:managed': 'true',
      Name: b.keyName,
    });
  });

  it('allocates a VPC address tagged as the address of the deployment', () => {
    expect(allocateAddressRequest(deploymentLabels(demoLaunch(), 'address'), 'demo')).toEqual({ Domain: 'vpc', TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: demoTags('address') }] });
  });

  it('associates, allowing reassociation only when asked', () => {
    expect(associateAddressRequest('eipalloc-1', 'i-1')).toEqual({ AllocationId: 'eipalloc-1', InstanceId: 'i-1' });
    expect(associateAddressRequest('eipalloc-1', 'i-1', { allowReassociation: true })).toEqual({ AllocationId: 'eipalloc-1', InstanceId: 'i-1', AllowReassociation: true });
  });

  it('tags a volume with its role and the Name the snapshot policy targets', () => {
    expect(volumeRoleTagsRequest('demo', 'vol-1', 'data-volume')).toEqual({
      Resources: ['vol-1'],
      Tags: [
        { Key: 'sourcegraph-launch:role', Value: 'data-volume' },
        { Key: 'Name', Value: 'demo-data' },
      ],
    });
    expect(volumeRoleTagsRequest('demo', 'vol-2', 'root-volume').Tags).toContainEqual({ Key: 'Name', Value: 'demo-root' });
  });

  it('a volume from a snapshot: its zone, size, type, encryption, token and tags, nothing CreateVolume does not take', () => {
    const request = createVolumeRequest({
      deployment: 'prod',
      zone: 'us-east-1a',
      snapshotId: 'snap-1',
      disk: { sizeGiB: 500, type: 'io2', iops: 16000 },
      encryptionKeyId: 'alias/sg',
      initializationRateMiBps: 300,
      labels: { deployment: 'prod', role: 'data-volume', version: '6.11.0', managed: 'true', operation: 'op' },
      idempotencyKey: 't',
    });
    expect(request).toEqual({
      AvailabilityZone: 'us-east-1a',
      SnapshotId: 'snap-1',
      Size: 500,
      VolumeType: 'io2',
      Iops: 16000,
      Encrypted: true,
      KmsKeyId: 'alias/sg',
      VolumeInitializationRate: 300,
      ClientToken: 't',
      TagSpecifications: [
        {
          ResourceType: 'volume',
          Tags: [
            { Key: 'sourcegraph-launch:deployment', Value: 'prod' },
            { Key: 'sourcegraph-launch:role', Value: 'data-volume' },
            { Key: 'sourcegraph-launch:version', Value: '6.11.0' },
            { Key: 'sourcegraph-launch:managed', Value: 'true' },
            { Key: 'sourcegraph-launch:operation', Value: 'op' },
            { Key: 'Name', Value: 'prod-data' },
          ],
        },
      ],
    });
  });
});

describe('launchRequests (dry run)', () => {
  it('lists every mutating request in order with placeholders for unknown IDs', () => {
    const requests = adapter.launchRequests(launchRequestsSpec());
    expect(requests.map((r) => r.operation)).toEqual(['ImportKeyPair', 'CreateSecurityGroup', 'AuthorizeSecurityGroupIngress', 'RunInstances', 'CreateTags', 'CreateTags', 'AllocateAddress', 'AssociateAddress']);
    expect(requests.every((r) => r.service === 'ec2')).toBe(true);
    expect(requests[0]?.input).toMatchObject({ KeyName: 'sourcegraph-launch-demo', PublicKeyMaterial: TEST_PUBLIC_KEY });
    expect(tagMap((requests[0]?.input.TagSpecifications as { Tags: { Key: string; Value: string }[] }[])[0]?.Tags)).toMatchObject({
      'sourcegraph-launch:role': 'key-pair',
      'sourcegraph-launch:key-fingerprint': TEST_PUBLIC_KEY_FINGERPRINT,
      Name: 'demo',
    });
    expect(requests[2]?.input.GroupId).toBe('<SecurityGroupId from CreateSecurityGroup>');
    expect(requests[3]?.input.SecurityGroupIds).toEqual(['<SecurityGroupId from CreateSecurityGroup>']);
    expect(requests[3]?.input.ClientToken).toBe('demo-launch-0001');
    expect(requests[4]?.input.Resources).toEqual(['<VolumeId of /dev/sdb from RunInstances>']);
    expect(requests[5]?.input.Resources).toEqual(['<VolumeId of /dev/xvda from RunInstances>']);
    expect(requests[6]?.input).toEqual({ Domain: 'vpc', TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: demoTags('address') }] });
    expect(requests[7]?.input).toEqual({ AllocationId: '<AllocationId from AllocateAddress>', InstanceId: '<InstanceId from RunInstances>' });
    // The dry run's RunInstances is the real builder's output, not a look-alike.
    const spec = launchRequestsSpec();
    expect(requests[3]?.input).toEqual(runInstancesRequest({ ...spec.instance, accessPolicyIds: ['<SecurityGroupId from CreateSecurityGroup>'] }));
    expect(JSON.parse(JSON.stringify(requests))).toEqual(requests);
  });

  it('skips ImportKeyPair for an existing key, AllocateAddress for a brought address, and both address calls for none', () => {
    const d = demoLaunch({ sshKey: { mode: 'existing', name: 'mine' }, address: { id: 'eipalloc-mine' } });
    const existing = adapter.launchRequests(launchRequestsSpec(d, { zone: 'us-east-1b', subnetId: 'subnet-9' }));
    // The brought address is adopted (tagged as the user's) before it is associated, as the verbs run.
    expect(existing.map((r) => r.operation)).toEqual(['CreateSecurityGroup', 'AuthorizeSecurityGroupIngress', 'RunInstances', 'CreateTags', 'CreateTags', 'CreateTags', 'AssociateAddress']);
    expect(existing[5]?.input).toEqual({
      Resources: ['eipalloc-mine'],
      Tags: [
        { Key: 'sourcegraph-launch:deployment', Value: 'demo' },
        { Key: 'sourcegraph-launch:role', Value: 'address' },
        { Key: 'sourcegraph-launch:owner', Value: 'user' },
      ],
    });
    expect(existing[0]?.input.VpcId).toBe('<VpcId of subnet-9 from DescribeSubnets>');
    // Once the placement is resolved, the dry run shows the real VPC.
    expect(adapter.launchRequests(launchRequestsSpec(d, { zone: 'us-east-1b', subnetId: 'subnet-9', networkId: 'vpc-9' }))[0]?.input.VpcId).toBe('vpc-9');
    expect(existing[2]?.input.KeyName).toBe('mine');
    expect(existing[2]?.input.SubnetId).toBe('subnet-9');
    expect(existing[6]?.input.AllocationId).toBe('eipalloc-mine');

    const none = adapter.launchRequests(launchRequestsSpec(demoLaunch({ address: 'none' })));
    expect(none.map((r) => r.operation)).not.toContain('AllocateAddress');
    expect(none.map((r) => r.operation)).not.toContain('AssociateAddress');
  });

  it('a launch on kept data tags only the root volume (there is no /dev/sdb to tag)', () => {
    const requests = adapter.launchRequests(launchRequestsSpec(demoLaunch({ dataDisk: { mode: 'existing', diskId: 'vol-kept' } })));
    const volumeTags = requests.filter((r) => r.operation === 'CreateTags').map((r) => r.input.Resources);
    expect(volumeTags).toEqual([['<VolumeId of /dev/xvda from RunInstances>']]);
  });
});

describe('instanceRequests, scheduleRequests and buildRequests (dry runs)', () => {
  it('instanceRequests is the one RunInstances the hop sends', () => {
    const s = spec({ dataDisk: { mode: 'snapshot', snapshotId: 'snap-1', disk: { sizeGiB: 500, type: 'gp3' } } });
    expect(adapter.instanceRequests(s)).toEqual([{ service: 'ec2', operation: 'RunInstances', input: runInstancesRequest(s) }]);
  });

  it('scheduleRequests is the DLM policy: daily, tags copied, the data volume\u2019s Name as target', () => {
    const [request] = adapter.scheduleRequests({ deployment: 'prod', schedule: 'daily', retain: 14, params: { roleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole' } });
    expect(request).toMatchObject({
      service: 'dlm',
      operation: 'CreateLifecyclePolicy',
      input: {
        ExecutionRoleArn: 'arn:aws:iam::1:role/AWSDataLifecycleManagerDefaultRole',
        State: 'ENABLED',
        Tags: { 'sourcegraph-launch:deployment': 'prod', 'sourcegraph-launch:managed': 'true' },
        PolicyDetails: {
          ResourceTypes: ['VOLUME'],
          TargetTags: [{ Key: 'Name', Value: 'prod-data' }],
          Schedules: [{ CopyTags: true, CreateRule: { Interval: 24, IntervalUnit: 'HOURS' }, RetainRule: { Count: 14 } }],
        },
      },
    });
    // Without a role the dry run names the account's default DLM role.
    const [byAccount] = adapter.scheduleRequests({ deployment: 'prod', schedule: 'daily', retain: 7, params: { account: '111122223333' } });
    expect(byAccount?.input.ExecutionRoleArn).toBe('arn:aws:iam::111122223333:role/AWSDataLifecycleManagerDefaultRole');
  });

  it('buildRequests lists the mutating requests in the order the build sends them', () => {
    const b = demoBuild();
    const placement = { zone: 'us-east-1a' };
    const build = (addressId?: string): CloudRequest[] =>
      adapter.buildRequests({ sshKey: builderSshKey(b), access: builderAccessSpec(b, placement), builder: builderSpec(b, placement, []), image: imageSpec(b), ...(addressId ? { addressId } : {}) });
    expect(build('eipalloc-0123456789abcdef0').map((r) => r.operation)).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'AssociateAddress',
      'CreateTags',
      'StopInstances',
      'CreateImage',
      'CreateTags',
      'DisassociateAddress',
      'TerminateInstances',
      'DeleteSecurityGroup',
      'DeleteKeyPair',
    ]);
    const requests = build();
    expect(requests.map((r) => r.operation)).not.toContain('AssociateAddress');
    expect(requests.find((r) => r.operation === 'CreateImage')!.input).toMatchObject({ NoReboot: false, Name: b.imageName });
    expect(requests.find((r) => r.operation === 'CreateSecurityGroup')!.input).toMatchObject({
      GroupName: `sourcegraph-launch-build-${b.buildName}-${b.runId}`,
      Description: `Temporary: SSH to the image builder ${b.buildName} (sourcegraph-launch build-image)`,
    });
    expect(requests.find((r) => r.operation === 'AuthorizeSecurityGroupIngress')!.input.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.7/32', Description: 'SSH for sourcegraph-launch build-image' }] },
    ]);
    const run = requests.find((r) => r.operation === 'RunInstances')!.input as { BlockDeviceMappings: { Ebs: Record<string, unknown> }[] };
    expect(run.BlockDeviceMappings.map((m) => m.Ebs)).toEqual([
      { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
      { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
    ]);
    const snapshotTags = requests.filter((r) => r.operation === 'CreateTags')[1]!.input;
    expect(snapshotTags.Resources).toEqual(['<SnapshotIds of <ImageId from CreateImage>>']);
    expect(tagMap(snapshotTags.Tags as { Key: string; Value: string }[])).toMatchObject({ 'sourcegraph-launch:role': 'image', 'sourcegraph-launch:source-commit': b.sourceCommit, Name: b.imageName });
  });
});
