// tls --tls managed on AWS, the paths moto cannot show: a certificate that fails validation, ACM's
// renewal summary, a certificate or a subnet still in use for a while after the load balancer is
// deleted, a load balancer that fails to provision, a name taken by someone else's load balancer.
// The rest (the whole path and its removal) runs on moto in test/e2e/tls-managed.e2e.test.ts.
import { ACMClient, DeleteCertificateCommand, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DeleteSubnetCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, DescribeLoadBalancersCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { wrapAcmClient } from '../../../../src/cloud/aws/acm-sdk.js';
import { wrapLoadBalancerClients } from '../../../../src/cloud/aws/load-balancer-sdk.js';
import { AwsManagedHttps, freeSubnetCidr, managedHttpsCost } from '../../../../src/cloud/aws/managed-https.js';
import type { Route53Api } from '../../../../src/cloud/aws/route53-sdk.js';
import { wrapEc2Client, type StsApi } from '../../../../src/cloud/aws/sdk.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const acmMock = mockClient(ACMClient);
const elbMock = mockClient(ElasticLoadBalancingV2Client);
const ec2Mock = mockClient(EC2Client);
afterAll(() => [acmMock, elbMock, ec2Mock].forEach((m) => m.restore()));
beforeEach(() => [acmMock, elbMock, ec2Mock].forEach((m) => m.reset()));

const awsError = (name: string) => Object.assign(new Error(name), { name, $metadata: {} });
const ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';

function managed(now = { t: 0 }) {
  const ec2 = new EC2Client({ region: 'us-east-1' });
  return new AwsManagedHttps({
    ec2: wrapEc2Client(ec2),
    sts: {} as StsApi,
    acm: wrapAcmClient(new ACMClient({ region: 'us-east-1' })),
    lb: wrapLoadBalancerClients(new ElasticLoadBalancingV2Client({ region: 'us-east-1' }), ec2),
    route53: {} as Route53Api,
    region: 'us-east-1',
    profile: 'default',
    pollIntervalMs: 1_000,
    dependencyRetryMs: 60_000,
    volumeTagWaitMs: 0,
    // A virtual clock: each sleep moves it on, so deadlines are reached without waiting.
    sleep: async (ms) => void (now.t += ms),
    now: () => now.t,
  });
}

describe('the certificate as ACM reports it', () => {
  it('failed validation: the status and ACM\'s reason', async () => {
    acmMock.on(DescribeCertificateCommand).resolves({ Certificate: { CertificateArn: ARN, DomainName: 'sg.example.com', Status: 'FAILED', FailureReason: 'CAA_ERROR', DomainValidationOptions: [] } });
    expect(await managed().describeCertificate(ARN)).toMatchObject({ status: 'failed', failure: 'CAA_ERROR', validation: [] });
  });

  it('pending before ACM names the record; issued with its expiry and renewal summary', async () => {
    acmMock.on(DescribeCertificateCommand).resolvesOnce({ Certificate: { CertificateArn: ARN, DomainName: 'sg.example.com', Status: 'PENDING_VALIDATION', DomainValidationOptions: [{ DomainName: 'sg.example.com' }] } }).resolves({
      Certificate: {
        CertificateArn: ARN,
        DomainName: 'sg.example.com',
        Status: 'ISSUED',
        NotAfter: new Date('2027-12-01T00:00:00Z'),
        RenewalEligibility: 'ELIGIBLE',
        RenewalSummary: { RenewalStatus: 'PENDING_AUTO_RENEWAL', DomainValidationOptions: [], UpdatedAt: new Date() },
        DomainValidationOptions: [{ DomainName: 'sg.example.com', ResourceRecord: { Name: '_x.sg.example.com.', Type: 'CNAME', Value: '_y.acm-validations.aws.' } }],
      },
    });
    const m = managed();
    expect(await m.describeCertificate(ARN)).toMatchObject({ status: 'pending', validation: [] });
    expect(await m.describeCertificate(ARN)).toMatchObject({
      status: 'issued',
      notAfter: '2027-12-01T00:00:00.000Z',
      renewal: 'pending auto renewal',
      validation: [{ name: '_x.sg.example.com', type: 'CNAME', value: '_y.acm-validations.aws' }],
    });
  });

  it('a certificate still held by a deleted load balancer is deleted once released; gone already is "absent"', async () => {
    acmMock.on(DeleteCertificateCommand).rejectsOnce(awsError('ResourceInUseException')).rejectsOnce(awsError('ResourceInUseException')).resolves({});
    expect(await managed().deleteCertificate(ARN)).toBe('deleted');
    expect(acmMock.commandCalls(DeleteCertificateCommand)).toHaveLength(3);
    acmMock.reset();
    acmMock.on(DeleteCertificateCommand).rejects(awsError('ResourceNotFoundException'));
    expect(await managed().deleteCertificate(ARN)).toBe('absent');
  });

  it('still in use after the retry window: a typed error naming it', async () => {
    acmMock.on(DeleteCertificateCommand).rejects(awsError('ResourceInUseException'));
    await expect(managed().deleteCertificate(ARN)).rejects.toMatchObject({ code: 'certificate-in-use' });
  });
});

describe('the load balancer and its subnet', () => {
  it('a subnet whose interfaces linger (DependencyViolation) is deleted once they are gone', async () => {
    ec2Mock.on(DeleteSubnetCommand).rejectsOnce(awsError('DependencyViolation')).resolves({});
    await managed().deleteNetwork('subnet-1');
    expect(ec2Mock.commandCalls(DeleteSubnetCommand)).toHaveLength(2);
  });

  it('a load balancer that fails to provision: exit 1 with what to do', async () => {
    elbMock.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: 'arn:lb', LoadBalancerName: 'sgl-web-https', SecurityGroups: ['sg-lb'], State: { Code: 'failed' }, DNSName: 'x', CanonicalHostedZoneId: 'Z' }] });
    await expect(managed().ensureBalancer('web', ['subnet-a', 'subnet-b'], 'sg-lb')).rejects.toMatchObject({ code: 'load-balancer-failed', exitCode: 1 });
  });

  it('still provisioning after the wait: a typed error, re-run to keep waiting', async () => {
    elbMock.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: 'arn:lb', LoadBalancerName: 'sgl-web-https', SecurityGroups: ['sg-lb'], State: { Code: 'provisioning' }, DNSName: 'x', CanonicalHostedZoneId: 'Z' }] });
    await expect(managed().ensureBalancer('web', ['subnet-a', 'subnet-b'], 'sg-lb')).rejects.toMatchObject({ code: 'load-balancer-provisioning' });
  });

  it('the name taken by a load balancer that is not this deployment\'s: refused, nothing created', async () => {
    elbMock.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: 'arn:other', LoadBalancerName: 'sgl-web-https', SecurityGroups: ['sg-someone'], State: { Code: 'active' } }] });
    await expect(managed().ensureBalancer('web', ['subnet-a', 'subnet-b'], 'sg-lb')).rejects.toMatchObject({ code: 'load-balancer-conflict' });
  });
});

describe('the backend\'s target moving to a new instance (upgrade, rollback, restore)', () => {
  const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sgl-web-443/abc';

  it('registers the new instance before it deregisters every other one; an instance already gone (InvalidTarget) counts as out', async () => {
    const order: string[] = [];
    elbMock.on(RegisterTargetsCommand).callsFake(() => void order.push('register'));
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [{ Target: { Id: 'i-new', Port: 443 } }, { Target: { Id: 'i-old', Port: 443 } }, { Target: { Id: 'i-gone', Port: 443 } }],
    });
    elbMock.on(DeregisterTargetsCommand).callsFake((input: { Targets: { Id: string }[] }) => {
      order.push(`deregister ${input.Targets[0]!.Id}`);
      if (input.Targets[0]!.Id === 'i-gone') throw awsError('InvalidTarget');
      return {};
    });
    expect(await managed().moveBackendTarget(TG, 'i-new')).toEqual({ deregistered: ['i-old', 'i-gone'] });
    expect(order).toEqual(['register', 'deregister i-old', 'deregister i-gone']);
    expect(elbMock.commandCalls(RegisterTargetsCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TG, Targets: [{ Id: 'i-new', Port: 443 }] });
    expect(elbMock.commandCalls(DeregisterTargetsCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TG, Targets: [{ Id: 'i-old', Port: 443 }] });
  });

  it('a target group removed outside the tool is "absent"; another refusal is an error naming the call', async () => {
    elbMock.on(RegisterTargetsCommand).rejects(awsError('TargetGroupNotFound'));
    expect(await managed().moveBackendTarget(TG, 'i-new')).toBe('absent');
    elbMock.reset();
    elbMock.on(RegisterTargetsCommand).resolves({});
    elbMock.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: 'i-old', Port: 443 } }] });
    elbMock.on(DeregisterTargetsCommand).rejects(awsError('AccessDenied'));
    await expect(managed().moveBackendTarget(TG, 'i-new')).rejects.toThrow(/DeregisterTargets/);
  });
});

describe('pure parts', () => {
  it('the second subnet takes the first free /24 of the VPC, else a /27', () => {
    expect(freeSubnetCidr('172.31.0.0/16', ['172.31.0.0/20', '172.31.16.0/20'])).toBe('172.31.32.0/24');
    expect(freeSubnetCidr('10.0.0.0/24', ['10.0.0.0/25'])).toBe('10.0.0.128/27');
    expect(freeSubnetCidr('10.0.0.0/24', ['10.0.0.0/24'])).toBeUndefined();
  });

  it('the monthly cost: the hours, 1 LCU and two public addresses at list prices; unknown for a region without prices', () => {
    const cost = managedHttpsCost('us-east-1');
    expect(cost.parts.map((p) => p.monthlyUsd)).toEqual([16.43, 5.84, 7.3]);
    expect(cost.totalUsd).toBe(29.57);
    expect(cost.source.join(' ')).toContain('elasticloadbalancing/pricing');
    expect(managedHttpsCost('eu-south-1').totalUsd).toBeUndefined();
  });
});
