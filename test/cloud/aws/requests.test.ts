import { fingerprintOfPublicKeyLine } from '../../../src/remote/host-keys.js';
import { describe, expect, it } from 'vitest';
import {
  allocateAddressRequest,
  associateAddressRequest,
  authorizeIngressRequest,
  revokeIngressRequest,
  createSecurityGroupRequest,
  importKeyPairRequest,
  ingressRules,
  launchRequests,
  resourceTags,
  runInstancesRequest,
  volumeRoleTagsRequest,
} from '../../../src/cloud/aws/requests.js';
import { AWS_DATA_DEVICE, AWS_ROOT_VOLUME, getPreset, type SizeName } from '../../../src/core/presets.js';
import { TEST_PUBLIC_KEY, testLaunchSpec } from './launch-spec.js';

const demoTags = (role: string, version = '6.12.5040', size = 'XS') => [
  { Key: 'sourcegraph-launch:deployment', Value: 'demo' },
  { Key: 'sourcegraph-launch:role', Value: role },
  { Key: 'sourcegraph-launch:version', Value: version },
  { Key: 'sourcegraph-launch:size', Value: size },
  { Key: 'sourcegraph-launch:managed', Value: 'true' },
  { Key: 'Name', Value: 'demo' },
];

function specForSize(size: SizeName) {
  const preset = getPreset(size);
  return testLaunchSpec({
    size,
    instanceType: preset.aws.instanceType,
    rootVolume: { ...AWS_ROOT_VOLUME, device: AWS_ROOT_VOLUME.device },
    dataVolume: { device: AWS_DATA_DEVICE, ...preset.aws.data },
  });
}

describe('resourceTags', () => {
  it('carries deployment, role, version, size, managed and Name', () => {
    expect(resourceTags(testLaunchSpec(), 'instance')).toEqual(demoTags('instance'));
  });
});

describe('runInstancesRequest', () => {
  it('builds the exact XS request: IMDSv2, encrypted gp3 volumes, tags at creation', () => {
    const request = runInstancesRequest(testLaunchSpec({ subnetId: 'subnet-1' }), {
      keyName: 'sourcegraph-launch-demo',
      securityGroupId: 'sg-1',
    });
    expect(request).toEqual({
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
        {
          DeviceName: '/dev/xvda',
          Ebs: { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
        },
        {
          DeviceName: '/dev/sdb',
          Ebs: {
            VolumeSize: 500,
            VolumeType: 'gp3',
            Iops: 3000,
            Throughput: 125,
            DeleteOnTermination: false,
            Encrypted: true,
          },
        },
      ],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: demoTags('instance') },
        { ResourceType: 'volume', Tags: demoTags('instance-volume') },
      ],
    });
  });

  it('omits SubnetId when no subnet is known, and prefers the resolved one over the spec', () => {
    expect(runInstancesRequest(testLaunchSpec(), { keyName: 'k', securityGroupId: 'sg' })).not.toHaveProperty('SubnetId');
    expect(
      runInstancesRequest(testLaunchSpec({ subnetId: 'subnet-spec' }), { keyName: 'k', securityGroupId: 'sg', subnetId: 'subnet-ref' })
        .SubnetId,
    ).toBe('subnet-ref');
  });

  it.each(['L', 'XL'] as const)('gives %s an io2 data volume with 16,000 IOPS and no throughput', (size) => {
    const request = runInstancesRequest(specForSize(size), { keyName: 'k', securityGroupId: 'sg' });
    expect(request.BlockDeviceMappings[1]).toEqual({
      DeviceName: '/dev/sdb',
      Ebs: { VolumeSize: 500, VolumeType: 'io2', Iops: 16000, DeleteOnTermination: false, Encrypted: true },
    });
    expect(request.InstanceType).toBe(getPreset(size).aws.instanceType);
  });

  it('omits gp3 IOPS and throughput when the spec leaves them to the defaults', () => {
    const spec = testLaunchSpec({ dataVolume: { device: '/dev/sdb', sizeGiB: 800, type: 'gp3' } });
    expect(runInstancesRequest(spec, { keyName: 'k', securityGroupId: 'sg' }).BlockDeviceMappings[1]?.Ebs).toEqual({
      VolumeSize: 800,
      VolumeType: 'gp3',
      DeleteOnTermination: false,
      Encrypted: true,
    });
  });

  it('puts the KMS key on both volumes', () => {
    const kmsKeyId = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const request = runInstancesRequest(testLaunchSpec({ kmsKeyId }), { keyName: 'k', securityGroupId: 'sg' });
    expect(request.BlockDeviceMappings.map((m) => [m.Ebs?.Encrypted, m.Ebs?.KmsKeyId])).toEqual([
      [true, kmsKeyId],
      [true, kmsKeyId],
    ]);
  });
});

describe('security group requests', () => {
  it('names and tags the group at creation', () => {
    expect(createSecurityGroupRequest(testLaunchSpec(), 'vpc-1')).toEqual({
      GroupName: 'sourcegraph-launch-demo',
      Description: 'Sourcegraph deployment demo (sourcegraph-launch)',
      VpcId: 'vpc-1',
      TagSpecifications: [{ ResourceType: 'security-group', Tags: demoTags('security-group') }],
    });
  });

  it('puts IPv6 CIDRs in Ipv6Ranges, and revoking uses the same shape without descriptions', () => {
    const rules = ingressRules({ allowCidrs: ['203.0.113.0/24', '2001:db8::/32'], sshCidrs: [] });
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
    const spec = testLaunchSpec({ allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['198.51.100.7/32'] });
    expect(authorizeIngressRequest('sg-1', ingressRules(spec))).toEqual({
      GroupId: 'sg-1',
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 80,
          ToPort: 80,
          IpRanges: [
            { CidrIp: '203.0.113.0/24', Description: 'HTTP to Sourcegraph' },
            { CidrIp: '192.0.2.0/24', Description: 'HTTP to Sourcegraph' },
          ],
        },
        {
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          IpRanges: [
            { CidrIp: '203.0.113.0/24', Description: 'HTTPS to Sourcegraph' },
            { CidrIp: '192.0.2.0/24', Description: 'HTTPS to Sourcegraph' },
          ],
        },
        {
          IpProtocol: 'tcp',
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: '198.51.100.7/32', Description: 'SSH for sourcegraph-launch' }],
        },
      ],
    });
  });

  it('has no SSH rule at all when sshCidrs is empty, and never 6443', () => {
    const rules = ingressRules(testLaunchSpec({ sshCidrs: [] }));
    expect(rules.map((r) => r.port)).toEqual([80, 443]);
    const everyPort = ingressRules(testLaunchSpec({ allowCidrs: ['0.0.0.0/0'], sshCidrs: ['0.0.0.0/0'] })).map((r) => r.port);
    expect(everyPort).not.toContain(6443);
  });
});

describe('key pair, address and tag requests', () => {
  it('imports the public key with tags', () => {
    const spec = testLaunchSpec();
    expect(importKeyPairRequest({ ...spec, keyPair: { mode: 'import', keyName: 'kp', publicKey: TEST_PUBLIC_KEY } })).toEqual({
      KeyName: 'kp',
      PublicKeyMaterial: TEST_PUBLIC_KEY,
      // The key's fingerprint tells which machine's key the deployment trusts (launch compares it).
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: [...demoTags('key-pair'), { Key: 'sourcegraph-launch:key-fingerprint', Value: fingerprintOfPublicKeyLine(TEST_PUBLIC_KEY) }] }],
    });
  });

  it('allocates a VPC address tagged as the address of the deployment', () => {
    expect(allocateAddressRequest(testLaunchSpec())).toEqual({
      Domain: 'vpc',
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: demoTags('address') }],
    });
  });

  it('associates, allowing reassociation only when asked', () => {
    expect(associateAddressRequest('eipalloc-1', 'i-1')).toEqual({ AllocationId: 'eipalloc-1', InstanceId: 'i-1' });
    expect(associateAddressRequest('eipalloc-1', 'i-1', { allowReassociation: true })).toEqual({
      AllocationId: 'eipalloc-1',
      InstanceId: 'i-1',
      AllowReassociation: true,
    });
  });

  it('tags a volume with its role', () => {
    expect(volumeRoleTagsRequest({ name: 'demo' }, 'vol-1', 'data-volume')).toEqual({
      Resources: ['vol-1'],
      Tags: [
        { Key: 'sourcegraph-launch:role', Value: 'data-volume' },
        { Key: 'Name', Value: 'demo-data' },
      ],
    });
  });
});

describe('launchRequests (dry run)', () => {
  it('lists every mutating request in order with placeholders for unknown IDs', () => {
    const requests = launchRequests(testLaunchSpec());
    expect(requests.map((r) => r.operation)).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'CreateTags',
      'CreateTags',
      'AllocateAddress',
      'AssociateAddress',
    ]);
    expect(requests.every((r) => r.service === 'ec2')).toBe(true);
    expect(requests[1]?.input.VpcId).toBe('<VpcId of the default VPC from DescribeVpcs>');
    expect(requests[2]?.input.GroupId).toBe('<SecurityGroupId from CreateSecurityGroup>');
    expect(requests[3]?.input.SecurityGroupIds).toEqual(['<SecurityGroupId from CreateSecurityGroup>']);
    expect(requests[3]?.input.ClientToken).toBe('demo-launch-0001');
    expect(requests[4]?.input.Resources).toEqual(['<VolumeId of /dev/sdb from RunInstances>']);
    expect(requests[5]?.input.Resources).toEqual(['<VolumeId of /dev/xvda from RunInstances>']);
    expect(requests[7]?.input).toEqual({
      AllocationId: '<AllocationId from AllocateAddress>',
      InstanceId: '<InstanceId from RunInstances>',
    });
    // The dry run's RunInstances is the real builder's output, not a look-alike.
    expect(requests[3]?.input).toEqual(
      runInstancesRequest(testLaunchSpec(), {
        keyName: 'sourcegraph-launch-demo',
        securityGroupId: '<SecurityGroupId from CreateSecurityGroup>',
      }),
    );
    expect(JSON.parse(JSON.stringify(requests))).toEqual(requests);
  });

  it('skips ImportKeyPair for an existing key, AllocateAddress for a brought address, and both address calls for none', () => {
    const existing = launchRequests(
      testLaunchSpec({
        keyPair: { mode: 'existing', keyName: 'mine' },
        elasticIp: { mode: 'existing', allocationId: 'eipalloc-mine' },
        subnetId: 'subnet-9',
      }),
    );
    expect(existing.map((r) => r.operation)).toEqual([
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'CreateTags',
      'CreateTags',
      'AssociateAddress',
      'CreateTags',
    ]);
    // The brought address is tagged as the user's: found from any machine, never released.
    expect(existing[6]?.input).toEqual({
      Resources: ['eipalloc-mine'],
      Tags: [
        { Key: 'sourcegraph-launch:deployment', Value: 'demo' },
        { Key: 'sourcegraph-launch:role', Value: 'address' },
        { Key: 'sourcegraph-launch:owner', Value: 'user' },
      ],
    });
    expect(existing[0]?.input.VpcId).toBe('<VpcId of subnet-9 from DescribeSubnets>');
    expect(existing[2]?.input.KeyName).toBe('mine');
    expect(existing[2]?.input.SubnetId).toBe('subnet-9');
    expect(existing[5]?.input.AllocationId).toBe('eipalloc-mine');

    const none = launchRequests(testLaunchSpec({ elasticIp: { mode: 'none' } }));
    expect(none.map((r) => r.operation)).not.toContain('AllocateAddress');
    expect(none.map((r) => r.operation)).not.toContain('AssociateAddress');
  });
});
