// A fully resolved LaunchSpec for adapter tests: the XS preset's numbers, one allowed CIDR, one SSH CIDR.
import type { LaunchSpec } from '../../../src/cloud/cloud.js';

export const TEST_PUBLIC_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEfZ0yn0ZBMQQ4hXGz4mdXnzjtK3lyAL06yqEQNP0q6X sourcegraph-launch-test';

export function testLaunchSpec(overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    name: 'demo',
    region: 'us-east-1',
    version: '6.12.5040',
    size: 'XS',
    imageId: 'ami-0123456789abcdef0',
    instanceType: 'm6a.2xlarge',
    rootVolume: { device: '/dev/xvda', sizeGiB: 50, type: 'gp3' },
    dataVolume: { device: '/dev/sdb', sizeGiB: 500, type: 'gp3', iops: 3000, throughput: 125 },
    allowCidrs: ['203.0.113.0/24'],
    sshCidrs: ['198.51.100.7/32'],
    keyPair: { mode: 'import', keyName: 'sourcegraph-launch-demo', publicKey: TEST_PUBLIC_KEY },
    elasticIp: { mode: 'new' },
    clientToken: 'demo-launch-0001',
    ...overrides,
  };
}
