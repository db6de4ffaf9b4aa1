// EC2 shapes → the port's types: tags ↔ labels (today's `sourcegraph-launch:*` keys, so deployments
// made by earlier versions are still found), disks by role, addresses and images.
import { describe, expect, it } from 'vitest';
import { tagsFor, toImage, toInstance, toStaticAddress } from '../../../../src/cloud/aws/mappers.js';

describe('toInstance', () => {
  const base = { InstanceId: 'i-1', State: { Name: 'shutting-down' as const }, Placement: { AvailabilityZone: 'us-east-1a' } };

  it('reads our tags as labels, everything else (Name, the user\u2019s) as foreign, and shutting-down as terminating', () => {
    const i = toInstance({
      ...base,
      Tags: [
        { Key: 'sourcegraph-launch:deployment', Value: 'prod' },
        { Key: 'sourcegraph-launch:lock-0a1b2c3d', Value: 'upgrade/…' },
        { Key: 'Name', Value: 'prod' },
        { Key: 'Team', Value: 'search' },
      ],
    });
    expect(i).toMatchObject({ id: 'i-1', state: 'terminating', zone: 'us-east-1a', labels: { deployment: 'prod', 'lock-0a1b2c3d': 'upgrade/…' }, foreignLabels: { Name: 'prod', Team: 'search' } });
  });

  it('the root disk is at the reported root device when a disk is there, else at /dev/xvda; /dev/sdb is data', () => {
    const mappings = (devices: string[]) => devices.map((DeviceName, n) => ({ DeviceName, Ebs: { VolumeId: `vol-${n}`, DeleteOnTermination: n === 0 } }));
    // What EC2 reports for an image whose root is /dev/sda1 (and an extra volume at /dev/xvda).
    expect(toInstance({ ...base, RootDeviceName: '/dev/sda1', BlockDeviceMappings: mappings(['/dev/sda1', '/dev/xvda', '/dev/sdb']) }).disks.map((d) => d.role)).toEqual(['root', 'other', 'data']);
    // What moto reports: /dev/sda1 as the root device, with no disk attached there.
    expect(toInstance({ ...base, RootDeviceName: '/dev/sda1', BlockDeviceMappings: mappings(['/dev/xvda', '/dev/sdb']) }).disks).toEqual([
      { role: 'root', diskId: 'vol-0', deleteWithInstance: true },
      { role: 'data', diskId: 'vol-1', deleteWithInstance: false },
    ]);
  });
});

describe('addresses and images', () => {
  it('an address is managed only when we allocated it; the one the user brought is theirs', () => {
    expect(toStaticAddress({ AllocationId: 'eipalloc-1', PublicIp: '192.0.2.1', Tags: [{ Key: 'sourcegraph-launch:managed', Value: 'true' }] })).toMatchObject({ managed: true });
    expect(toStaticAddress({ AllocationId: 'eipalloc-2', PublicIp: '192.0.2.2', InstanceId: 'i-1', Tags: [{ Key: 'sourcegraph-launch:owner', Value: 'user' }] })).toEqual({
      id: 'eipalloc-2',
      ip: '192.0.2.2',
      instanceId: 'i-1',
      managed: false,
      labels: { owner: 'user' },
    });
  });

  it('an image says where it comes from and its version: published by name, built by label, or a Version tag', () => {
    expect(toImage({ ImageId: 'ami-1', Name: 'Sourcegraph-XS (v5.1.0) m6a.2xlarge', OwnerId: '840044800169' })).toMatchObject({ source: 'published', version: '5.1.0', size: 'XS' });
    expect(toImage({ ImageId: 'ami-2', Name: 'x', Tags: [{ Key: 'sourcegraph-launch:role', Value: 'image' }, { Key: 'sourcegraph-launch:version', Value: 'v6.13.1' }] })).toMatchObject({ source: 'built', version: '6.13.1' });
    expect(toImage({ ImageId: 'ami-3', Name: 'mine', Tags: [{ Key: 'Version', Value: 'v6.12.5040' }] })).toMatchObject({ source: 'flag', version: '6.12.5040' });
  });

  it('labels are stored under the tags earlier versions wrote, with the console\u2019s Name last', () => {
    expect(Object.entries(tagsFor({ deployment: 'prod', role: 'data-volume' }, 'prod-data'))).toEqual([
      ['sourcegraph-launch:deployment', 'prod'],
      ['sourcegraph-launch:role', 'data-volume'],
      ['Name', 'prod-data'],
    ]);
  });
});
