// `tls --tls managed` on AWS: an ACM certificate validated through DNS, and an internet-facing
// Application Load Balancer in two zones (the instance's subnet and a second one of its VPC)
// forwarding HTTPS to the instance's 443, whose 80/443 are then open only to the balancer.
//
// Every step looks up what an earlier (interrupted) run made before it creates: the balancer and
// the target group by their names, the balancer's security group and a created subnet by the tag
// `sourcegraph-launch:tls-for` = deployment, the certificate through its idempotency token. That tag
// is deliberately not the deployment tag: findDeployment must never take the balancer's security
// group for the instance's, and only `tls --remove`/`destroy` delete these.
//
// The target group speaks HTTPS to the instance's 443: the instance already serves its self-signed
// certificate there, an ALB does not verify a target's certificate, and so the traffic stays
// encrypted inside the VPC without opening port 80 on the instance at all (the balancer answers
// http:// itself with a redirect).
import { createHash } from 'node:crypto';
import pricesData from '../../../presets/aws-prices.json' with { type: 'json' };
import { CloudError } from '../../core/errors.js';
import { normalizeDnsName } from '../dns-names.js';
import type { AccessRule, ManagedBalancer, ManagedCertificate, ManagedHttps, ManagedHttpsCost, ReplacedAccess } from '../port.js';
import type { AcmApi } from './acm-sdk.js';
import { call, callUnlessNotFound, pollUntil, type AwsContext } from './context.js';
import { waitInSync } from './dns.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import { describeInstance } from './instances.js';
import { toAccessPolicy } from './mappers.js';
import type { LoadBalancerApis } from './load-balancer-sdk.js';
import { deleteAccessPolicy, describeGroupsWhere } from './network.js';
import { authorizeIngressRequest, revokeIngressRequest } from './request-builders.js';
import type { Route53Api } from './route53-sdk.js';

/** The tag on everything this creates: which deployment's HTTPS it serves. */
export const TLS_FOR_TAG = 'sourcegraph-launch:tls-for';
/** TLS 1.2 and 1.3 only: AWS's recommended policy for new HTTPS listeners. */
export const SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
const BALANCER_WAIT_MS = 10 * 60_000;
const DNS_TTL = 300;

export type ManagedHttpsContext = AwsContext & { acm: AcmApi; lb: LoadBalancerApis; route53: Route53Api };

const acm = { service: 'acm' } as const;
const elb = { service: 'elasticloadbalancing' } as const;
const r53 = { service: 'route53' } as const;

/** ALB and target group names: at most 32 characters, letters, digits and hyphens. */
export function balancerNames(deployment: string): { balancer: string; backend: string; policy: string } {
  const slug = deployment.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 22).replace(/-+$/, '');
  return { balancer: `sgl-${slug}-https`, backend: `sgl-${slug}-443`, policy: `sourcegraph-launch-${deployment}-lb` };
}

const tags = (deployment: string, name: string) => [
  { Key: TLS_FOR_TAG, Value: deployment },
  { Key: 'Name', Value: name },
];

// ---- CIDR arithmetic for the second subnet ----
const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(ip!) / size) * size;
  return [start, start + size - 1];
}

/** The first block of /24 (or /27, the smallest an ALB takes, in a small VPC) free in the VPC. */
export function freeSubnetCidr(vpcCidr: string, taken: string[]): string | undefined {
  const [vStart, vEnd] = range(vpcCidr);
  const used = taken.map(range);
  for (const bits of [24, 27]) {
    const size = 2 ** (32 - bits);
    if (size > vEnd - vStart + 1) continue;
    for (let s = vStart; s + size - 1 <= vEnd; s += size) {
      if (!used.some(([a, b]) => s <= b && a <= s + size - 1)) return `${toIp(s)}/${bits}`;
    }
  }
  return undefined;
}

interface Prices {
  date: string;
  hoursPerMonth: number;
  samePricesAs: Record<string, string>;
  regions: Record<string, { publicIpv4HourUsd: number; applicationLoadBalancer?: { hourUsd: number; lcuHourUsd: number } }>;
  loadBalancer: { source: string[]; date: string; estimatedLcu: number; publicAddresses: number };
}

export function managedHttpsCost(region: string): ManagedHttpsCost {
  const p = pricesData as unknown as Prices;
  const r = p.regions[p.samePricesAs[region] ?? region];
  const alb = r?.applicationLoadBalancer;
  const lb = p.loadBalancer;
  const h = p.hoursPerMonth;
  const round = (n: number) => Math.round(n * 100) / 100;
  const parts = [
    { item: 'load balancer', detail: 'Application Load Balancer, billed hourly', monthlyUsd: alb ? round(alb.hourUsd * h) : undefined },
    { item: 'load balancer capacity', detail: `${lb.estimatedLcu} LCU on average (an estimate: it grows with traffic)`, monthlyUsd: alb ? round(alb.lcuHourUsd * lb.estimatedLcu * h) : undefined },
    { item: 'public IPv4 addresses', detail: `${lb.publicAddresses} (one per zone), billed hourly`, monthlyUsd: r ? round(r.publicIpv4HourUsd * lb.publicAddresses * h) : undefined },
  ];
  const known = parts.every((x) => x.monthlyUsd !== undefined);
  return {
    region,
    parts,
    ...(known ? { totalUsd: round(parts.reduce((s, x) => s + (x.monthlyUsd ?? 0), 0)) } : {}),
    assumptions: [
      `${lb.estimatedLcu} LCU: up to 25 new connections/s, 3,000 active connections, 1 GB/hour processed, 1,000 rule evaluations/s; more traffic costs more`,
      'the ACM certificate is free; data transfer out is billed as before',
    ],
    priceDate: lb.date,
    source: lb.source,
  };
}

export class AwsManagedHttps implements ManagedHttps {
  constructor(private readonly c: ManagedHttpsContext) {}

  monthlyCost = () => managedHttpsCost(this.c.region);

  /** AuthorizeSecurityGroupIngress where a rule already there (InvalidPermission.Duplicate) counts as done. */
  private async authorize(input: Parameters<AwsContext['ec2']['authorizeSecurityGroupIngress']>[0]): Promise<void> {
    try {
      await this.c.ec2.authorizeSecurityGroupIngress(input);
    } catch (e) {
      if (!isAwsErrorCode(e, 'InvalidPermission.Duplicate')) throw toLaunchError(e, { operation: 'AuthorizeSecurityGroupIngress', profile: this.c.profile, region: this.c.region });
    }
  }

  // ---- the certificate ----
  async requestCertificate(deployment: string, domain: string, idempotencyKey: string): Promise<string> {
    // The same token within an hour answers the same certificate: a retried request makes no second
    // one. The key is the install's (its journal's), so an install after a removal gets a new one.
    const token = createHash('sha256').update(`${deployment}\n${domain}\n${idempotencyKey}`).digest('hex').slice(0, 32);
    const out = await call(this.c, 'RequestCertificate', () => this.c.acm.requestCertificate({ DomainName: domain, ValidationMethod: 'DNS', IdempotencyToken: token, Tags: tags(deployment, domain) }), acm);
    if (!out.CertificateArn) throw new CloudError('certificate-missing', `ACM answered no certificate for ${domain}`);
    return out.CertificateArn;
  }

  async describeCertificate(id: string): Promise<ManagedCertificate | undefined> {
    const out = await callUnlessNotFound(this.c, 'DescribeCertificate', () => this.c.acm.describeCertificate({ CertificateArn: id }), ['ResourceNotFoundException'], acm);
    const cert = out?.Certificate;
    if (!cert) return undefined;
    const status = cert.Status === 'PENDING_VALIDATION' ? 'pending' : (cert.Status ?? 'pending').toLowerCase();
    const validation = (cert.DomainValidationOptions ?? []).flatMap((o) =>
      o.ResourceRecord?.Name && o.ResourceRecord.Value ? [{ name: normalizeDnsName(o.ResourceRecord.Name), type: 'CNAME' as const, value: normalizeDnsName(o.ResourceRecord.Value) }] : [],
    );
    const renewal = cert.RenewalSummary?.RenewalStatus ?? cert.RenewalEligibility;
    return {
      id,
      domain: cert.DomainName ?? '',
      status,
      validation: validation.filter((v, i) => validation.findIndex((w) => w.name === v.name) === i),
      ...(cert.NotAfter && status === 'issued' ? { notAfter: new Date(cert.NotAfter).toISOString() } : {}),
      ...(renewal ? { renewal: renewal.toLowerCase().replace(/_/g, ' ') } : {}),
      ...(cert.FailureReason ? { failure: cert.FailureReason } : {}),
    };
  }

  async deleteCertificate(id: string): Promise<'deleted' | 'absent'> {
    // A balancer just deleted can hold the certificate for a while (ResourceInUseException).
    return pollUntil(this.c, this.c.dependencyRetryMs, async () => {
      try {
        await this.c.acm.deleteCertificate({ CertificateArn: id });
        return 'deleted' as const;
      } catch (e) {
        if (isAwsErrorCode(e, 'ResourceNotFoundException')) return 'absent' as const;
        if (isAwsErrorCode(e, 'ResourceInUseException')) return undefined;
        throw toLaunchError(e, { operation: 'DeleteCertificate', profile: this.c.profile, region: this.c.region, ...acm });
      }
    }, () => new CloudError('certificate-in-use', `The certificate ${id} is still in use`, { remediation: 'Something else (another load balancer) uses it; run the same command again later, or delete it in the ACM console.' }));
  }

  // ---- two subnets in two zones ----
  private async instanceNetwork(instanceId: string) {
    const instance = await describeInstance(this.c, instanceId);
    if (!instance?.subnetId) throw new CloudError('instance-not-found', `Instance ${instanceId} is not there (or has no subnet)`, { remediation: 'See `status`.' });
    const out = await call(this.c, 'DescribeSubnets', () => this.c.ec2.describeSubnets({ SubnetIds: [instance.subnetId!] }));
    const subnet = out.Subnets?.[0];
    if (!subnet?.VpcId) throw new CloudError('no-network', `Subnet ${instance.subnetId} of ${instanceId} has no VPC`);
    return { instance, subnetId: instance.subnetId, zone: subnet.AvailabilityZone ?? instance.zone, vpcId: subnet.VpcId };
  }

  async ensureNetworks(deployment: string, instanceId: string): Promise<{ ids: string[]; created?: string }> {
    const { subnetId, zone, vpcId } = await this.instanceNetwork(instanceId);
    const out = await call(this.c, 'DescribeSubnets', () => this.c.ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    const subnets = out.Subnets ?? [];
    const others = subnets.filter((s) => s.SubnetId !== subnetId && s.AvailabilityZone !== zone && (s.State ?? 'available') === 'available');
    const ours = others.find((s) => (s.Tags ?? []).some((t) => t.Key === TLS_FOR_TAG && t.Value === deployment));
    if (ours?.SubnetId) return { ids: [subnetId, ours.SubnetId], created: ours.SubnetId };
    // A zone's default subnet first (public, like the instance's in a default VPC), then any other.
    const other = others.find((s) => s.DefaultForAz) ?? others.find((s) => s.MapPublicIpOnLaunch) ?? others[0];
    if (other?.SubnetId) return { ids: [subnetId, other.SubnetId] };

    const zones = await call(this.c, 'DescribeAvailabilityZones', () => this.c.lb.subnets.describeAvailabilityZones({ Filters: [{ Name: 'state', Values: ['available'] }] }));
    const otherZone = (zones.AvailabilityZones ?? []).find((z) => z.ZoneName !== zone && (z.ZoneType ?? 'availability-zone') === 'availability-zone')?.ZoneName;
    if (!otherZone) throw new CloudError('no-second-zone', `The region has no second availability zone besides ${zone}: an Application Load Balancer needs two`);
    const vpcs = await call(this.c, 'DescribeVpcs', () => this.c.ec2.describeVpcs({ VpcIds: [vpcId] }));
    const vpcCidr = vpcs.Vpcs?.[0]?.CidrBlock;
    const cidr = vpcCidr && freeSubnetCidr(vpcCidr, subnets.map((s) => s.CidrBlock ?? '').filter(Boolean));
    if (!cidr) {
      throw new CloudError('no-free-subnet-range', `The VPC ${vpcId} (${vpcCidr ?? 'no IPv4 range'}) has no free /27 for a second subnet in ${otherZone}`, {
        remediation: `Create a subnet of ${vpcId} in another zone than ${zone} yourself, then run the same command again: it is used as it is.`,
      });
    }
    const created = await call(this.c, 'CreateSubnet', () =>
      this.c.lb.subnets.createSubnet({ VpcId: vpcId, AvailabilityZone: otherZone, CidrBlock: cidr, TagSpecifications: [{ ResourceType: 'subnet', Tags: tags(deployment, `${deployment}-lb-${otherZone}`) }] }),
    );
    const id = created.Subnet?.SubnetId;
    if (!id) throw new CloudError('subnet-missing', `EC2 answered no subnet for ${cidr} in ${otherZone}`);
    // The same routes as the instance's subnet (its internet gateway), when it has a table of its own;
    // otherwise both use the VPC's main table already.
    const tables = await call(this.c, 'DescribeRouteTables', () => this.c.lb.subnets.describeRouteTables({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
    const table = tables.RouteTables?.[0]?.RouteTableId;
    if (table) await call(this.c, 'AssociateRouteTable', () => this.c.lb.subnets.associateRouteTable({ RouteTableId: table, SubnetId: id }));
    return { ids: [subnetId, id], created: id };
  }

  async deleteNetwork(id: string): Promise<void> {
    // The balancer's network interfaces outlive it by a few minutes (DependencyViolation meanwhile).
    await pollUntil(this.c, this.c.dependencyRetryMs, async () => {
      try {
        await this.c.lb.subnets.deleteSubnet({ SubnetId: id });
        return true;
      } catch (e) {
        if (isAwsErrorCode(e, 'InvalidSubnetID.NotFound')) return true;
        if (isAwsErrorCode(e, 'DependencyViolation')) return undefined;
        throw toLaunchError(e, { operation: 'DeleteSubnet', profile: this.c.profile, region: this.c.region });
      }
    }, () => new CloudError('subnet-in-use', `The subnet ${id} is still in use`, { remediation: 'The load balancer\'s network interfaces are released a few minutes after it is deleted: run the same command again later.' }));
  }

  // ---- the balancer's security group ----
  async ensureBalancerPolicy(deployment: string, instanceId: string, cidrs: string[]): Promise<string> {
    const { vpcId } = await this.instanceNetwork(instanceId);
    const name = balancerNames(deployment).policy;
    const found = await describeGroupsWhere(this.c, [{ Name: `tag:${TLS_FOR_TAG}`, Values: [deployment] }, { Name: 'vpc-id', Values: [vpcId] }]);
    let group = found[0];
    if (!group) {
      const out = await call(this.c, 'CreateSecurityGroup', () =>
        this.c.ec2.createSecurityGroup({ GroupName: name, Description: `HTTPS load balancer of Sourcegraph deployment ${deployment} (sourcegraph-launch tls)`, VpcId: vpcId, TagSpecifications: [{ ResourceType: 'security-group', Tags: tags(deployment, name) }] }),
      );
      group = { id: out.GroupId ?? '', name, rules: [], labels: {} };
    }
    const present = new Set(group.rules.map((r) => `${r.port}/${r.cidr}`));
    const missing = cidrs.flatMap((cidr) => [443, 80].map((port) => ({ port, cidr }))).filter((r) => !present.has(`${r.port}/${r.cidr}`));
    if (missing.length) {
      // One rule at a time: a duplicate fails a whole request.
      for (const rule of missing) await this.authorize(authorizeIngressRequest(group.id, [rule], (p) => (p === 443 ? 'HTTPS to the load balancer' : 'HTTP to the load balancer (redirected)')));
    }
    return group.id;
  }

  deleteBalancerPolicy = (id: string) => deleteAccessPolicy(this.c, id);

  // ---- the target group ----
  async ensureBackend(deployment: string, instanceId: string): Promise<string> {
    const { vpcId } = await this.instanceNetwork(instanceId);
    const name = balancerNames(deployment).backend;
    let arn = await this.backendArn(name);
    if (!arn) {
      const out = await call(this.c, 'CreateTargetGroup', () =>
        this.c.lb.elbv2.createTargetGroup({
          Name: name,
          Protocol: 'HTTPS',
          Port: 443,
          VpcId: vpcId,
          TargetType: 'instance',
          HealthCheckProtocol: 'HTTPS',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 30,
          Matcher: { HttpCode: '200' },
          Tags: tags(deployment, name),
        }), elb,
      );
      arn = out.TargetGroups?.[0]?.TargetGroupArn;
      if (!arn) throw new CloudError('target-group-missing', `ELB answered no target group ${name}`);
    }
    // Registering an instance already registered changes nothing.
    await call(this.c, 'RegisterTargets', () => this.c.lb.elbv2.registerTargets({ TargetGroupArn: arn, Targets: [{ Id: instanceId, Port: 443 }] }), elb);
    return arn;
  }

  async moveBackendTarget(backendId: string, instanceId: string): Promise<{ deregistered: string[] } | 'absent'> {
    const notFound = ['TargetGroupNotFound', 'TargetGroupNotFoundException'];
    // Registered first, then the others out: the balancer never has nothing to forward to because of us.
    const registered = await callUnlessNotFound(this.c, 'RegisterTargets', async () => {
      await this.c.lb.elbv2.registerTargets({ TargetGroupArn: backendId, Targets: [{ Id: instanceId, Port: 443 }] });
      return true;
    }, notFound, elb);
    if (!registered) return 'absent';
    const health = await callUnlessNotFound(this.c, 'DescribeTargetHealth', () => this.c.lb.elbv2.describeTargetHealth({ TargetGroupArn: backendId }), notFound, elb);
    const others = (health?.TargetHealthDescriptions ?? []).flatMap((t) => (t.Target?.Id && t.Target.Id !== instanceId ? [{ Id: t.Target.Id, ...(t.Target.Port ? { Port: t.Target.Port } : {}) }] : []));
    const deregistered: string[] = [];
    for (const target of others) {
      try {
        await this.c.lb.elbv2.deregisterTargets({ TargetGroupArn: backendId, Targets: [target] });
      } catch (e) {
        // A terminated instance is no target any more (InvalidTarget): nothing left to take out.
        if (!isAwsErrorCode(e, 'InvalidTarget', 'InvalidTargetException', ...notFound)) throw toLaunchError(e, { operation: 'DeregisterTargets', profile: this.c.profile, region: this.c.region, ...elb });
      }
      deregistered.push(target.Id);
    }
    return { deregistered };
  }

  private async backendArn(name: string): Promise<string | undefined> {
    const out = await callUnlessNotFound(this.c, 'DescribeTargetGroups', () => this.c.lb.elbv2.describeTargetGroups({ Names: [name] }), ['TargetGroupNotFound', 'TargetGroupNotFoundException'], elb);
    return out?.TargetGroups?.[0]?.TargetGroupArn;
  }

  async deleteBackend(id: string): Promise<void> {
    await pollUntil(this.c, this.c.dependencyRetryMs, async () => {
      try {
        await this.c.lb.elbv2.deleteTargetGroup({ TargetGroupArn: id });
        return true;
      } catch (e) {
        if (isAwsErrorCode(e, 'TargetGroupNotFound', 'TargetGroupNotFoundException')) return true;
        if (isAwsErrorCode(e, 'ResourceInUse', 'ResourceInUseException')) return undefined;
        throw toLaunchError(e, { operation: 'DeleteTargetGroup', profile: this.c.profile, region: this.c.region, ...elb });
      }
    }, () => new CloudError('target-group-in-use', `The target group ${id} is still in use by a listener`, { remediation: 'Run the same command again.' }));
  }

  // ---- the balancer ----
  private async balancerByName(name: string) {
    const out = await callUnlessNotFound(this.c, 'DescribeLoadBalancers', () => this.c.lb.elbv2.describeLoadBalancers({ Names: [name] }), ['LoadBalancerNotFound', 'LoadBalancerNotFoundException'], elb);
    return out?.LoadBalancers?.[0];
  }

  async describeBalancer(id: string): Promise<ManagedBalancer | undefined> {
    const out = await callUnlessNotFound(this.c, 'DescribeLoadBalancers', () => this.c.lb.elbv2.describeLoadBalancers({ LoadBalancerArns: [id] }), ['LoadBalancerNotFound', 'LoadBalancerNotFoundException'], elb);
    const lb = out?.LoadBalancers?.[0];
    return lb && toBalancer(lb);
  }

  async ensureBalancer(deployment: string, networkIds: string[], policyId: string): Promise<ManagedBalancer> {
    const name = balancerNames(deployment).balancer;
    let lb = await this.balancerByName(name);
    if (lb && !lb.SecurityGroups?.includes(policyId)) {
      throw new CloudError('load-balancer-conflict', `A load balancer named ${name} exists and is not this deployment's (its security groups are ${lb.SecurityGroups?.join(', ') || 'none'})`, {
        remediation: 'Delete it if it is left over, or choose another deployment name.',
      });
    }
    if (!lb) {
      const out = await call(this.c, 'CreateLoadBalancer', () =>
        this.c.lb.elbv2.createLoadBalancer({ Name: name, Subnets: networkIds, SecurityGroups: [policyId], Scheme: 'internet-facing', Type: 'application', IpAddressType: 'ipv4', Tags: tags(deployment, name) }), elb,
      );
      lb = out.LoadBalancers?.[0];
      if (!lb?.LoadBalancerArn) throw new CloudError('load-balancer-missing', `ELB answered no load balancer ${name}`);
    }
    const arn = lb.LoadBalancerArn!;
    // Provisioning takes a few minutes; listeners can be added meanwhile, but the name resolves only once active.
    return pollUntil(this.c, BALANCER_WAIT_MS, async () => {
      const now = await this.describeBalancer(arn);
      if (now?.state === 'failed') throw new CloudError('load-balancer-failed', `The load balancer ${name} failed to provision`, { remediation: 'See it in the EC2 console (Load Balancers); `tls --remove` deletes it.' });
      return now?.state === 'active' ? now : undefined;
    }, () => new CloudError('load-balancer-provisioning', `The load balancer ${name} is still provisioning after ${BALANCER_WAIT_MS / 60_000} min`, { remediation: 'Run the same command again to keep waiting.' }));
  }

  async deleteBalancer(id: string): Promise<void> {
    await callUnlessNotFound(this.c, 'DeleteLoadBalancer', () => this.c.lb.elbv2.deleteLoadBalancer({ LoadBalancerArn: id }), ['LoadBalancerNotFound', 'LoadBalancerNotFoundException'], elb);
    await pollUntil(this.c, BALANCER_WAIT_MS, async () => ((await this.describeBalancer(id)) ? undefined : true), () => new CloudError('load-balancer-deleting', `The load balancer ${id} is still being deleted`, { remediation: 'Run the same command again.' }));
  }

  // ---- listeners ----
  async ensureListeners(balancerId: string, backendId: string, certificateId: string): Promise<string[]> {
    const out = await call(this.c, 'DescribeListeners', () => this.c.lb.elbv2.describeListeners({ LoadBalancerArn: balancerId }), elb);
    const byPort = new Map((out.Listeners ?? []).map((l) => [l.Port, l.ListenerArn!]));
    if (!byPort.has(443)) {
      const https = await call(this.c, 'CreateListener', () =>
        this.c.lb.elbv2.createListener({ LoadBalancerArn: balancerId, Protocol: 'HTTPS', Port: 443, SslPolicy: SSL_POLICY, Certificates: [{ CertificateArn: certificateId }], DefaultActions: [{ Type: 'forward', TargetGroupArn: backendId }] }), elb,
      );
      byPort.set(443, https.Listeners?.[0]?.ListenerArn ?? '');
    }
    if (!byPort.has(80)) {
      const http = await call(this.c, 'CreateListener', () =>
        this.c.lb.elbv2.createListener({
          LoadBalancerArn: balancerId,
          Protocol: 'HTTP',
          Port: 80,
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } }],
        }), elb,
      );
      byPort.set(80, http.Listeners?.[0]?.ListenerArn ?? '');
    }
    return [byPort.get(443)!, byPort.get(80)!];
  }

  async deleteListeners(balancerId: string): Promise<void> {
    const out = await callUnlessNotFound(this.c, 'DescribeListeners', () => this.c.lb.elbv2.describeListeners({ LoadBalancerArn: balancerId }), ['LoadBalancerNotFound', 'LoadBalancerNotFoundException'], elb);
    for (const l of out?.Listeners ?? []) {
      await callUnlessNotFound(this.c, 'DeleteListener', () => this.c.lb.elbv2.deleteListener({ ListenerArn: l.ListenerArn! }), ['ListenerNotFound', 'ListenerNotFoundException'], elb);
    }
  }

  // ---- the instance's own 80/443 ----
  private async instancePolicy(instanceId: string) {
    const instance = await describeInstance(this.c, instanceId);
    if (!instance) throw new CloudError('instance-not-found', `Instance ${instanceId} is not there`, { remediation: 'See `status`.' });
    const groups = instance.accessPolicyIds.length ? await describeGroupsWhere(this.c, [{ Name: 'group-id', Values: instance.accessPolicyIds }]) : [];
    // The deployment's own group (labelled by launch); the balancer's is never on the instance.
    const group = groups.find((g) => g.labels.deployment) ?? groups[0];
    if (!group) throw new CloudError('security-group-missing', `Instance ${instanceId} has no security group`);
    return group;
  }

  async limitInstanceAccess(instanceId: string, balancerPolicyId: string): Promise<ReplacedAccess> {
    const group = await this.instancePolicy(instanceId);
    const raw = await call(this.c, 'DescribeSecurityGroups', () => this.c.ec2.describeSecurityGroups({ GroupIds: [group.id] }));
    const fromBalancer = (raw.SecurityGroups?.[0]?.IpPermissions ?? []).some((p) => p.FromPort === 443 && (p.UserIdGroupPairs ?? []).some((g) => g.GroupId === balancerPolicyId));
    // Open to the balancer first, then closed to the CIDRs: the site never answers nobody in between.
    if (!fromBalancer) {
      await this.authorize({ GroupId: group.id, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: balancerPolicyId, Description: 'HTTPS from the load balancer only (sourcegraph-launch tls --tls managed)' }] }] });
    }
    const rules: AccessRule[] = toAccessPolicy(raw.SecurityGroups![0]!).rules.filter((r) => r.port === 80 || r.port === 443);
    if (rules.length) await call(this.c, 'RevokeSecurityGroupIngress', () => this.c.ec2.revokeSecurityGroupIngress(revokeIngressRequest(group.id, rules)));
    return { policyId: group.id, rules };
  }

  async restoreInstanceAccess(replaced: ReplacedAccess, balancerPolicyId: string): Promise<void> {
    // One rule at a time: some may be back already (a duplicate fails a whole request).
    for (const rule of replaced.rules) await this.authorize(authorizeIngressRequest(replaced.policyId, [rule]));
    // By rule id: a rule whose source is a group is matched that way exactly, whatever its description.
    const out = await callUnlessNotFound(this.c, 'DescribeSecurityGroupRules', () => this.c.lb.subnets.describeSecurityGroupRules({ Filters: [{ Name: 'group-id', Values: [replaced.policyId] }] }), ['InvalidGroup.NotFound', 'InvalidGroupId.NotFound']);
    const ids = (out?.SecurityGroupRules ?? []).filter((r) => !r.IsEgress && r.ReferencedGroupInfo?.GroupId === balancerPolicyId).map((r) => r.SecurityGroupRuleId!);
    if (!ids.length) return;
    await this.c.ec2.revokeSecurityGroupIngress({ GroupId: replaced.policyId, SecurityGroupRuleIds: ids }).catch((e: unknown) => {
      if (!isAwsErrorCode(e, 'InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound', 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) throw toLaunchError(e, { operation: 'RevokeSecurityGroupIngress', profile: this.c.profile, region: this.c.region });
    });
  }

  async findResources(deployment: string) {
    const names = balancerNames(deployment);
    const tagged = [{ Name: `tag:${TLS_FOR_TAG}`, Values: [deployment] }];
    const [lb, backendId, groups, subnets] = await Promise.all([
      this.balancerByName(names.balancer),
      this.backendArn(names.backend),
      describeGroupsWhere(this.c, tagged),
      call(this.c, 'DescribeSubnets', () => this.c.ec2.describeSubnets({ Filters: tagged })),
    ]);
    return {
      ...(lb ? { balancer: toBalancer(lb) } : {}),
      ...(backendId ? { backendId } : {}),
      policyIds: groups.map((g) => g.id),
      createdNetworks: (subnets.Subnets ?? []).flatMap((x) => (x.SubnetId ? [x.SubnetId] : [])),
    };
  }

  // ---- DNS: the alias record and the validation record ----
  private async recordSet(zoneId: string, name: string, type: 'A' | 'CNAME') {
    const n = normalizeDnsName(name);
    const out = await call(this.c, 'ListResourceRecordSets', () => this.c.route53.listResourceRecordSets({ HostedZoneId: zoneId, StartRecordName: `${n}.`, StartRecordType: type, MaxItems: 1 }), r53);
    return (out.ResourceRecordSets ?? []).find((r) => r.Type === type && normalizeDnsName(r.Name ?? '') === n);
  }

  private async change(zoneId: string, comment: string, change: NonNullable<NonNullable<Parameters<Route53Api['changeResourceRecordSets']>[0]['ChangeBatch']>['Changes']>[number]): Promise<void> {
    const out = await call(this.c, 'ChangeResourceRecordSets', () => this.c.route53.changeResourceRecordSets({ HostedZoneId: zoneId, ChangeBatch: { Comment: comment, Changes: [change] } }), r53);
    await waitInSync(this.c, out.ChangeInfo?.Id, out.ChangeInfo?.Status);
  }

  async upsertAlias(zoneId: string, name: string, balancer: ManagedBalancer): Promise<void> {
    await this.change(zoneId, 'sourcegraph-launch tls --tls managed', {
      Action: 'UPSERT',
      ResourceRecordSet: { Name: `${normalizeDnsName(name)}.`, Type: 'A', AliasTarget: { HostedZoneId: balancer.dnsZoneId, DNSName: `${normalizeDnsName(balancer.dnsName)}.`, EvaluateTargetHealth: false } },
    });
  }

  async deleteAlias(zoneId: string, name: string, balancerDnsName: string): Promise<'deleted' | 'absent' | 'not-ours'> {
    const set = await this.recordSet(zoneId, name, 'A');
    if (!set) return 'absent';
    if (!set.AliasTarget || normalizeDnsName(set.AliasTarget.DNSName ?? '') !== normalizeDnsName(balancerDnsName)) return 'not-ours';
    await this.change(zoneId, 'sourcegraph-launch tls --remove', { Action: 'DELETE', ResourceRecordSet: set });
    return 'deleted';
  }

  async upsertValidationRecord(zoneId: string, record: ManagedCertificate['validation'][number]): Promise<void> {
    await this.change(zoneId, 'sourcegraph-launch tls: ACM validation', { Action: 'UPSERT', ResourceRecordSet: { Name: `${record.name}.`, Type: 'CNAME', TTL: DNS_TTL, ResourceRecords: [{ Value: `${record.value}.` }] } });
  }

  async deleteValidationRecord(zoneId: string, record: ManagedCertificate['validation'][number]): Promise<'deleted' | 'absent'> {
    const set = await this.recordSet(zoneId, record.name, 'CNAME');
    if (!set) return 'absent';
    await this.change(zoneId, 'sourcegraph-launch tls --remove: ACM validation', { Action: 'DELETE', ResourceRecordSet: set });
    return 'deleted';
  }
}

function toBalancer(lb: { LoadBalancerArn?: string; DNSName?: string; CanonicalHostedZoneId?: string; State?: { Code?: string } }): ManagedBalancer {
  return { id: lb.LoadBalancerArn ?? '', dnsName: normalizeDnsName(lb.DNSName ?? ''), dnsZoneId: lb.CanonicalHostedZoneId ?? '', state: lb.State?.Code ?? 'provisioning' };
}
