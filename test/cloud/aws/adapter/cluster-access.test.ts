// The cluster ports scale opens on AWS: one IpPermission per port, each with the deployment's own
// security group as its only source (UserIdGroupPairs), never an IP range.
import { describe, expect, it } from 'vitest';
import { clusterIngressRequest } from '../../../../src/cloud/aws/request-builders.js';
import { toAccessPolicy } from '../../../../src/cloud/aws/mappers.js';

describe('clusterIngressRequest', () => {
  it('opens 6443/tcp, 8472/udp and 10250/tcp to the group itself and to no CIDR', () => {
    const r = clusterIngressRequest('sg-0123456789abcdef0');
    expect(r.GroupId).toBe('sg-0123456789abcdef0');
    expect(r.IpPermissions.map((p) => `${p.FromPort}-${p.ToPort}/${p.IpProtocol}`)).toEqual(['6443-6443/tcp', '8472-8472/udp', '10250-10250/tcp']);
    for (const p of r.IpPermissions) {
      expect(p.UserIdGroupPairs.map((g) => g.GroupId)).toEqual(['sg-0123456789abcdef0']);
      expect(Object.keys(p).sort()).toEqual(['FromPort', 'IpProtocol', 'ToPort', 'UserIdGroupPairs']);
    }
  });

  it('reads group-sourced rules back as cluster rules, apart from the CIDR rules', () => {
    const policy = toAccessPolicy({
      GroupId: 'sg-1',
      GroupName: 'prod',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '203.0.113.0/24' }] },
        { IpProtocol: 'udp', FromPort: 8472, ToPort: 8472, UserIdGroupPairs: [{ GroupId: 'sg-1' }] },
        { IpProtocol: 'tcp', FromPort: 6443, ToPort: 6443, UserIdGroupPairs: [{ GroupId: 'sg-1' }] },
      ],
    });
    expect(policy.rules).toEqual([{ port: 443, cidr: '203.0.113.0/24' }]);
    expect(policy.clusterRules).toEqual([
      { protocol: 'udp', port: 8472, sourcePolicyId: 'sg-1' },
      { protocol: 'tcp', port: 6443, sourcePolicyId: 'sg-1' },
    ]);
  });
});
