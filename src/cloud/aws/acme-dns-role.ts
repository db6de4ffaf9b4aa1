// The AWS side of `tls --tls acme` with the DNS-01 challenge: an IAM role of the deployment's own,
// allowed to change only the TXT records `_acme-challenge.<domain>` in the one hosted zone (plus
// GetChange and ListHostedZonesByName, which lego's route53 provider calls), in an instance profile
// put on the instance. Traefik's lego reads the role's short-lived credentials from the instance
// metadata service (launch sets IMDSv2 with a hop limit of 2, so a pod reaches it): the user's own
// keys never go to the instance. Everything is found by its name (derived from region and
// deployment: IAM is global, deployments are per region), tagged like the rest, and deleted only
// by name: never the zone, never another role.
import { createHash } from 'node:crypto';
import { UsageError } from '../../core/errors.js';
import type { AcmeDnsAccess, DnsZone } from '../port.js';
import { call, callUnlessNotFound, type AwsContext } from './context.js';
import { isAwsErrorCode } from './errors.js';
import type { IamApi } from './iam-sdk.js';
import { tagKey } from './mappers.js';

export type AwsIamContext = AwsContext & { iam: IamApi };

const iamCall = { service: 'iam' } as const;
const POLICY_NAME = 'route53-acme-dns-01';
/** IAM's limit on role names. */
const MAX_NAME = 64;
/** How long a new instance profile may take to be usable by EC2 (IAM is eventually consistent). */
const PROFILE_PROPAGATION_MS = 2 * 60_000;

/** sourcegraph-launch-acme-<region>-<deployment>, cut and hashed when longer than IAM allows. */
export function acmeRoleName(region: string, deployment: string): string {
  const full = `sourcegraph-launch-acme-${region}-${deployment}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, MAX_NAME - 9)}-${hash}`;
}

const TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** What the role may do: the TXT record of the challenge in one zone, and the two reads lego makes. */
export function acmeRolePolicy(zoneId: string, domain: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AcmeChallengeRecordInOneZone',
        Effect: 'Allow',
        Action: ['route53:ChangeResourceRecordSets'],
        Resource: `arn:aws:route53:::hostedzone/${zoneId}`,
        Condition: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`_acme-challenge.${domain.toLowerCase()}`],
          },
        },
      },
      { Sid: 'ReadTheZone', Effect: 'Allow', Action: ['route53:ListResourceRecordSets'], Resource: `arn:aws:route53:::hostedzone/${zoneId}` },
      { Sid: 'WaitForTheChange', Effect: 'Allow', Action: ['route53:GetChange'], Resource: 'arn:aws:route53:::change/*' },
      { Sid: 'FindTheZone', Effect: 'Allow', Action: ['route53:ListHostedZonesByName'], Resource: '*' },
    ],
  };
}

const tags = (deployment: string) => [
  { Key: tagKey('deployment'), Value: deployment },
  { Key: tagKey('role'), Value: 'acme-dns' },
];

export class AwsAcmeDnsAccess implements AcmeDnsAccess {
  readonly provider = 'route53';
  constructor(private readonly c: AwsIamContext) {}

  names(deployment: string) {
    const name = acmeRoleName(this.c.region, deployment);
    return { role: name, profile: name };
  }

  providerEnv(zone: DnsZone): Record<string, string> {
    return { AWS_REGION: this.c.region, AWS_HOSTED_ZONE_ID: zone.id };
  }

  async ensureRole(deployment: string, zone: DnsZone, domain: string): Promise<{ role: string; created: boolean }> {
    const { role } = this.names(deployment);
    const { iam } = this.c;
    const existing = await callUnlessNotFound(this.c, 'GetRole', () => iam.getRole({ RoleName: role }), ['NoSuchEntity'], iamCall);
    if (existing?.Role && !existing.Role.Tags?.some((t) => t.Key === tagKey('deployment') && t.Value === deployment)) {
      throw new UsageError(`An IAM role named ${role} exists and is not sourcegraph-launch's for ${deployment} (no tag ${tagKey('deployment')}=${deployment}): left as it is`, {
        code: 'name-taken',
        remediation: 'Rename or delete that role, or use --acme-challenge http-01.',
      });
    }
    let created = false;
    if (!existing?.Role) {
      await call(this.c, 'CreateRole', async () => {
        try {
          return await iam.createRole({
            RoleName: role,
            AssumeRolePolicyDocument: TRUST_POLICY,
            Description: `sourcegraph-launch ${deployment}: Traefik's Let's Encrypt DNS-01 challenge in Route 53 (tls --tls acme)`,
            Tags: tags(deployment),
          });
        } catch (e) {
          // A run killed right after the create: it is there now.
          if (isAwsErrorCode(e, 'EntityAlreadyExists')) return undefined;
          throw e;
        }
      }, iamCall);
      created = true;
    }
    // Always written: the domain or the zone may be another than last time (PutRolePolicy replaces).
    await call(this.c, 'PutRolePolicy', () => iam.putRolePolicy({ RoleName: role, PolicyName: POLICY_NAME, PolicyDocument: JSON.stringify(acmeRolePolicy(zone.id, domain)) }), iamCall);
    return { role, created };
  }

  async ensureProfile(deployment: string): Promise<{ profile: string; arn: string; created: boolean }> {
    const { role, profile } = this.names(deployment);
    const { iam } = this.c;
    let found = (await callUnlessNotFound(this.c, 'GetInstanceProfile', () => iam.getInstanceProfile({ InstanceProfileName: profile }), ['NoSuchEntity'], iamCall))?.InstanceProfile;
    let created = false;
    if (!found) {
      found = (
        await call(this.c, 'CreateInstanceProfile', async () => {
          try {
            return await iam.createInstanceProfile({ InstanceProfileName: profile, Tags: tags(deployment) });
          } catch (e) {
            if (isAwsErrorCode(e, 'EntityAlreadyExists')) return iam.getInstanceProfile({ InstanceProfileName: profile });
            throw e;
          }
        }, iamCall)
      ).InstanceProfile;
      created = true;
    }
    if (!found?.Roles?.some((r) => r.RoleName === role)) {
      await call(this.c, 'AddRoleToInstanceProfile', async () => {
        try {
          return await iam.addRoleToInstanceProfile({ InstanceProfileName: profile, RoleName: role });
        } catch (e) {
          if (isAwsErrorCode(e, 'LimitExceeded', 'EntityAlreadyExists')) return undefined;
          throw e;
        }
      }, iamCall);
    }
    return { profile, arn: found?.Arn ?? '', created };
  }

  private async associations(instanceId: string) {
    const out = await call(this.c, 'DescribeIamInstanceProfileAssociations', () =>
      this.c.iam.describeIamInstanceProfileAssociations({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }),
    );
    return (out.IamInstanceProfileAssociations ?? []).filter((a) => a.State === 'associated' || a.State === 'associating');
  }

  async associate(deployment: string, instanceId: string): Promise<'associated' | 'already'> {
    const { profile } = this.names(deployment);
    const current = await this.associations(instanceId);
    const other = current.find((a) => !a.IamInstanceProfile?.Arn?.endsWith(`/${profile}`));
    if (other) throw otherIdentity(instanceId, other.IamInstanceProfile?.Arn ?? 'another instance profile');
    if (current.length) return 'already';
    // A profile made seconds ago may not be visible to EC2 yet: "Invalid IAM Instance Profile name".
    const deadline = this.c.now() + PROFILE_PROPAGATION_MS;
    for (;;) {
      try {
        await this.c.iam.associateIamInstanceProfile({ InstanceId: instanceId, IamInstanceProfile: { Name: profile } });
        return 'associated';
      } catch (e) {
        if (isAwsErrorCode(e, 'InvalidParameterValue') && this.c.now() < deadline) {
          await this.c.sleep(this.c.pollIntervalMs);
          continue;
        }
        if (isAwsErrorCode(e, 'IncorrectState') && (await this.associations(instanceId)).length) return 'already';
        return call(this.c, 'AssociateIamInstanceProfile', () => Promise.reject(e));
      }
    }
  }

  async remove(deployment: string, instanceId?: string): Promise<string[]> {
    const { role, profile } = this.names(deployment);
    const { iam } = this.c;
    const removed: string[] = [];
    if (instanceId) {
      const ours = (await this.associations(instanceId)).filter((a) => a.IamInstanceProfile?.Arn?.endsWith(`/${profile}`));
      for (const a of ours) {
        await callUnlessNotFound(this.c, 'DisassociateIamInstanceProfile', () => iam.disassociateIamInstanceProfile({ AssociationId: a.AssociationId! }));
        removed.push(`the instance profile's association with ${instanceId}`);
      }
    }
    const found = (await callUnlessNotFound(this.c, 'GetInstanceProfile', () => iam.getInstanceProfile({ InstanceProfileName: profile }), ['NoSuchEntity'], iamCall))?.InstanceProfile;
    if (found) {
      if (!found.Tags?.length || found.Tags.some((t) => t.Key === tagKey('deployment') && t.Value === deployment)) {
        for (const r of found.Roles ?? []) {
          await callUnlessNotFound(this.c, 'RemoveRoleFromInstanceProfile', () => iam.removeRoleFromInstanceProfile({ InstanceProfileName: profile, RoleName: r.RoleName! }), ['NoSuchEntity'], iamCall);
        }
        await callUnlessNotFound(this.c, 'DeleteInstanceProfile', () => iam.deleteInstanceProfile({ InstanceProfileName: profile }), ['NoSuchEntity'], iamCall);
        removed.push(`instance profile ${profile}`);
      }
    }
    const existing = (await callUnlessNotFound(this.c, 'GetRole', () => iam.getRole({ RoleName: role }), ['NoSuchEntity'], iamCall))?.Role;
    if (existing && existing.Tags?.some((t) => t.Key === tagKey('deployment') && t.Value === deployment)) {
      await callUnlessNotFound(this.c, 'DeleteRolePolicy', () => iam.deleteRolePolicy({ RoleName: role, PolicyName: POLICY_NAME }), ['NoSuchEntity'], iamCall);
      await callUnlessNotFound(this.c, 'DeleteRole', () => iam.deleteRole({ RoleName: role }), ['NoSuchEntity'], iamCall);
      removed.push(`IAM role ${role}`);
    }
    return removed;
  }
}

function otherIdentity(instanceId: string, arn: string): UsageError {
  return new UsageError(`${instanceId} already runs as ${arn}, and an instance has one instance profile: --acme-challenge dns-01 needs its own`, {
    code: 'instance-has-profile',
    remediation: 'Use --acme-challenge http-01 (port 80 opened to the world), or take that profile off the instance first.',
  });
}
