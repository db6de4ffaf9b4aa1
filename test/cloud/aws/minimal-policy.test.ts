// The IAM policy `doctor --print-policy` prints must allow every API operation the AWS adapter can
// call: the operations are read off the adapter's narrow SDK wrappers (one function per operation),
// so a call added to sdk.ts without its action in presets/policies/aws-iam-policy.json fails here.
import { describe, expect, it } from 'vitest';
import type { DLMClient } from '@aws-sdk/client-dlm';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { awsProvider } from '../../../src/cloud/aws/provider.js';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { wrapDlmClient, wrapEc2Client, wrapServiceQuotasClient, type ServiceQuotasCommands } from '../../../src/cloud/aws/sdk.js';
import type { Route53Client } from '@aws-sdk/client-route-53';
import { wrapRoute53Client } from '../../../src/cloud/aws/route53-sdk.js';
import type { ACMClient } from '@aws-sdk/client-acm';
import { wrapAcmClient } from '../../../src/cloud/aws/acm-sdk.js';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { wrapLoadBalancerClients } from '../../../src/cloud/aws/load-balancer-sdk.js';

// tls --tls managed: ACM, ELBv2 and the second subnet's EC2 calls, read off their wrappers.
const managedHttpsActions = () => {
  const lb = wrapLoadBalancerClients({} as ElasticLoadBalancingV2Client, {} as EC2Client);
  return [
    ...Object.keys(wrapAcmClient({} as ACMClient)).map((m) => `acm:${pascal(m)}`),
    ...Object.keys(lb.elbv2).map((m) => `elasticloadbalancing:${pascal(m)}`),
    ...Object.keys(lb.subnets).map((m) => `ec2:${pascal(m)}`),
  ];
};
// Not calls of their own: tags given at creation need the tagging action too, and the first load
// balancer of an account creates ELB's service-linked role.
const impliedByManagedHttps = ['acm:AddTagsToCertificate', 'elasticloadbalancing:AddTags', 'iam:CreateServiceLinkedRole'];
import type { SSMClient } from '@aws-sdk/client-ssm';
import { wrapSsmClient } from '../../../src/cloud/aws/ssm-sdk.js';

import type { IAMClient } from '@aws-sdk/client-iam';
import { wrapIamClients } from '../../../src/cloud/aws/iam-sdk.js';
// tls --tls acme's DNS-01: the instance's IAM role and profile, and the EC2 calls that put it on the instance.
const acmeDnsActions = () => Object.keys(wrapIamClients({} as IAMClient, {} as EC2Client)).map((m) => (/IamInstanceProfileAssociations?$|IamInstanceProfile$/.test(m) && /^(describe|associate|disassociate)/.test(m) ? `ec2:${pascal(m)}` : `iam:${pascal(m)}`));
// Tags given at creation need the tagging action too.
const impliedByAcmeDns = ['iam:TagRole', 'iam:TagInstanceProfile'];

const route53Actions = () => Object.keys(wrapRoute53Client({} as Route53Client)).map((m) => `route53:${pascal(m)}`);
const ssmActions = () => Object.keys(wrapSsmClient({} as SSMClient)).map((m) => `ssm:${pascal(m)}`);

const pascal = (method: string) => `${method[0]!.toUpperCase()}${method.slice(1)}`;
// doctor's vCPU quota: read off its wrapper too (the command classes are not needed to list its methods).
const serviceQuotas = () => Object.keys(wrapServiceQuotasClient({} as ServiceQuotasClient, {} as ServiceQuotasCommands)).map((m) => `servicequotas:${pascal(m)}`);

async function allowedActions(): Promise<Set<string>> {
  const policy = (await awsProvider.minimalPolicy!()).document as { Statement: { Effect: string; Action: string[] }[] };
  return new Set(policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action));
}

describe('the minimal AWS policy', () => {
  it('allows every EC2 and DLM operation the adapter calls', async () => {
    const allowed = await allowedActions();
    const ec2 = Object.keys(wrapEc2Client({} as EC2Client)).map((m) => `ec2:${pascal(m)}`);
    const dlm = Object.keys(wrapDlmClient({} as DLMClient)).map((m) => `dlm:${pascal(m)}`);
    expect(ec2.length).toBeGreaterThan(30);
    expect(ec2.filter((a) => !allowed.has(a))).toEqual([]);
    expect(dlm.filter((a) => !allowed.has(a))).toEqual([]);
    expect(serviceQuotas()).toEqual(['servicequotas:GetServiceQuota', 'servicequotas:GetAWSDefaultServiceQuota']);
    expect(serviceQuotas().filter((a) => !allowed.has(a))).toEqual([]);
    // Route 53 (tls --domain): the hosted zone lookup and the record changes.
    expect(route53Actions()).toHaveLength(4);
    expect(route53Actions().filter((a) => !allowed.has(a))).toEqual([]);
    expect(managedHttpsActions()).toHaveLength(21);
    expect([...managedHttpsActions(), ...impliedByManagedHttps].filter((a) => !allowed.has(a))).toEqual([]);
    // Systems Manager (the run-command channel, doctor's "managed" check).
    expect(ssmActions()).toHaveLength(3);
    expect(ssmActions().filter((a) => !allowed.has(a))).toEqual([]);
    // tls --tls acme's DNS-01 (the instance's role): IAM, and EC2's profile associations.
    expect(acmeDnsActions()).toHaveLength(13);
    expect(acmeDnsActions().filter((a) => a.startsWith('ec2:'))).toEqual(['ec2:DescribeIamInstanceProfileAssociations', 'ec2:AssociateIamInstanceProfile', 'ec2:DisassociateIamInstanceProfile']);
    expect([...acmeDnsActions(), ...impliedByAcmeDns].filter((a) => !allowed.has(a))).toEqual([]);
    // DLM acts as its role: launch --schedule passes it.
    expect(allowed.has('iam:PassRole')).toBe(true);
  });

  it('allows nothing the adapter does not call (no wildcards)', async () => {
    const allowed = await allowedActions();
    const called = new Set([
      ...Object.keys(wrapEc2Client({} as EC2Client)).map((m) => `ec2:${pascal(m)}`),
      ...Object.keys(wrapDlmClient({} as DLMClient)).map((m) => `dlm:${pascal(m)}`),
      ...serviceQuotas(),
      'iam:PassRole',
      ...route53Actions(),
      ...managedHttpsActions(),
      ...impliedByManagedHttps,
      ...ssmActions(),
      ...acmeDnsActions(),
      ...impliedByAcmeDns,
    ]);
    expect([...allowed].filter((a) => a.includes('*') || !called.has(a))).toEqual([]);
  });
});

describe('the IAM statements of tls --tls acme (DNS-01)', () => {
  it('reach only the roles and profiles the tool names sourcegraph-launch-acme-*, and pass them only to EC2', async () => {
    const policy = (await awsProvider.minimalPolicy!()).document as { Statement: { Sid: string; Action: string[]; Resource: string | string[]; Condition?: unknown }[] };
    const iam = policy.Statement.filter((s) => s.Action.some((a) => a.startsWith('iam:') && a !== 'iam:CreateServiceLinkedRole') && s.Sid !== 'SourcegraphLaunchPassDlmRole');
    expect(iam.map((s) => s.Sid).sort()).toEqual(['SourcegraphLaunchAcmeDnsRole', 'SourcegraphLaunchPassAcmeDnsRole']);
    for (const s of iam) for (const r of [s.Resource].flat()) expect(r).toMatch(/^arn:aws:iam::\*:(role|instance-profile)\/sourcegraph-launch-acme-\*$/);
    expect(policy.Statement.find((s) => s.Sid === 'SourcegraphLaunchPassAcmeDnsRole')?.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  });
});
