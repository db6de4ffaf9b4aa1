// The instance role of tls --tls acme's DNS-01 (acme-dns-role.ts) on what moto cannot show: IAM's
// eventual consistency (EC2 refusing a profile made seconds ago), an instance that already has
// another profile, and a role of that name that is not ours. The calls on moto, end to end, are
// test/e2e/tls-acme-dns01.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { acmeRoleName, acmeRolePolicy, AwsAcmeDnsAccess, type AwsIamContext } from '../../../src/cloud/aws/acme-dns-role.js';
import type { IamApi } from '../../../src/cloud/aws/iam-sdk.js';
import { LaunchError } from '../../../src/core/errors.js';

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, Code: name, $metadata: { httpStatusCode: 400 } });

function context(iam: Partial<IamApi>, now = { t: 0 }): AwsIamContext {
  return {
    iam: iam as IamApi,
    ec2: {} as AwsIamContext['ec2'],
    sts: {} as AwsIamContext['sts'],
    region: 'us-east-1',
    profile: 'default',
    pollIntervalMs: 1_000,
    dependencyRetryMs: 0,
    volumeTagWaitMs: 0,
    sleep: async (ms) => {
      now.t += ms;
    },
    now: () => now.t,
  };
}

describe('the DNS-01 instance role on AWS', () => {
  it('is named per region and deployment, within IAM\'s 64 characters', () => {
    expect(acmeRoleName('us-east-1', 'web')).toBe('sourcegraph-launch-acme-us-east-1-web');
    const long = acmeRoleName('ap-southeast-2', 'a-very-long-deployment-name-for-the-team');
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^sourcegraph-launch-acme-ap-southeast-2-a-very-long-.*-[0-9a-f]{8}$/);
    expect(acmeRoleName('ap-southeast-2', 'a-very-long-deployment-name-for-the-team2')).not.toBe(long);
  });

  it('may change only the TXT record of the challenge in the one zone', () => {
    const p = acmeRolePolicy('Z123', 'Sourcegraph.Example.com') as { Statement: { Action: string[]; Resource: string; Condition?: Record<string, Record<string, string[]>> }[] };
    const change = p.Statement.find((s) => s.Action.includes('route53:ChangeResourceRecordSets'))!;
    expect(change.Resource).toBe('arn:aws:route53:::hostedzone/Z123');
    expect(change.Condition!['ForAllValues:StringEquals']).toEqual({ 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'], 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.sourcegraph.example.com'] });
    expect(p.Statement.flatMap((s) => s.Action).sort()).toEqual(['route53:ChangeResourceRecordSets', 'route53:GetChange', 'route53:ListHostedZonesByName', 'route53:ListResourceRecordSets']);
  });

  it('waits while EC2 does not know a new instance profile yet, then associates it', async () => {
    let tries = 0;
    const access = new AwsAcmeDnsAccess(
      context({
        describeIamInstanceProfileAssociations: async () => ({ IamInstanceProfileAssociations: [], $metadata: {} }),
        associateIamInstanceProfile: async () => {
          if (++tries < 3) throw awsError('InvalidParameterValue', "Value (sourcegraph-launch-acme-us-east-1-web) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name");
          return { $metadata: {} };
        },
      }),
    );
    expect(await access.associate('web', 'i-1')).toBe('associated');
    expect(tries).toBe(3);
  });

  it('gives up after two minutes of that, as a cloud error', async () => {
    const access = new AwsAcmeDnsAccess(
      context({
        describeIamInstanceProfileAssociations: async () => ({ IamInstanceProfileAssociations: [], $metadata: {} }),
        associateIamInstanceProfile: async () => {
          throw awsError('InvalidParameterValue', 'Invalid IAM Instance Profile name');
        },
      }),
    );
    const e = await access.associate('web', 'i-1').then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(LaunchError);
    expect((e as LaunchError).message).toContain('Invalid IAM Instance Profile name');
  });

  it('refuses (exit 2) an instance that runs as another profile, and a role of that name that is not the deployment\'s', async () => {
    const other = new AwsAcmeDnsAccess(
      context({
        describeIamInstanceProfileAssociations: async () => ({ IamInstanceProfileAssociations: [{ State: 'associated', IamInstanceProfile: { Arn: 'arn:aws:iam::1:instance-profile/theirs' } }], $metadata: {} }),
      }),
    );
    const e = (await other.associate('web', 'i-1').then(() => undefined, (x: unknown) => x)) as LaunchError;
    expect([e.exitCode, e.code]).toEqual([2, 'instance-has-profile']);

    let created = false;
    const taken = new AwsAcmeDnsAccess(
      context({
        getRole: async () => ({ Role: { RoleName: 'sourcegraph-launch-acme-us-east-1-web', Path: '/', RoleId: 'x', Arn: 'arn', CreateDate: new Date(), Tags: [] }, $metadata: {} }),
        createRole: async () => {
          created = true;
          return { $metadata: {} } as never;
        },
      }),
    );
    const t = (await taken.ensureRole('web', { id: 'Z1', name: 'example.com' }, 'sourcegraph.example.com').then(() => undefined, (x: unknown) => x)) as LaunchError;
    expect([t.exitCode, t.code]).toEqual([2, 'name-taken']);
    expect(created).toBe(false);
  });

  it('removes nothing that is not tagged as the deployment\'s', async () => {
    const deleted: string[] = [];
    const access = new AwsAcmeDnsAccess(
      context({
        getInstanceProfile: async () => ({ InstanceProfile: { InstanceProfileName: 'p', Path: '/', InstanceProfileId: 'x', Arn: 'arn', CreateDate: new Date(), Roles: [], Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'other' }] }, $metadata: {} }),
        getRole: async () => ({ Role: { RoleName: 'r', Path: '/', RoleId: 'x', Arn: 'arn', CreateDate: new Date(), Tags: [{ Key: 'owner', Value: 'someone' }] }, $metadata: {} }),
        deleteInstanceProfile: async () => deleted.push('profile'),
        deleteRole: async () => deleted.push('role'),
      }),
    );
    expect(await access.remove('web')).toEqual([]);
    expect(deleted).toEqual([]);
  });
});
