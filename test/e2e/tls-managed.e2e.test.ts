// `tls --tls managed` end to end: the real CLI process → moto for EC2, ACM, ELBv2 and Route 53. No
// test host: nothing of it goes over SSH. moto issues a requested certificate once
// MOTO_ACM_VALIDATION_WAIT seconds have passed (it never looks at the validation record), so one
// moto issues at once (the whole path, then its removal) and another never within the test (the
// --no-wait stop, the timeout, the resume). The user's hosted zone is made with the plain SDK, the
// way a user would. Nothing here is contacted: the load balancer's name is moto's text.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACMClient, DescribeCertificateCommand, ListCertificatesCommand } from '@aws-sdk/client-acm';
import { DeleteSubnetCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa } from '../support/certs.js';
import { BIN, cliEnv, ROOT, runCli } from '../support/cli.js';
import { byDeployment, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60719';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

interface World {
  moto: MotoServer;
  home: string;
  ec2: EC2Client;
  elb: ElasticLoadBalancingV2Client;
  acm: ACMClient;
  r53: Route53Client;
}

async function world(validationWaitSeconds: string): Promise<World> {
  const moto = await startMoto({ images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }], env: { MOTO_ACM_VALIDATION_WAIT: validationWaitSeconds } });
  const home = mkdtempSync(join(tmpdir(), 'sgl-e2e-managed-'));
  const opts = { region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 };
  const w = { moto, home, ec2: motoEc2Client(moto), elb: new ElasticLoadBalancingV2Client(opts), acm: new ACMClient(opts), r53: new Route53Client(opts) };
  const launch = await runCli(['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', ALLOW, '--ssh-cidr', 'none', '--elastic-ip', 'none', '--no-wait', '--yes', '--json'], { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
  expect(launch.code, launch.stderr).toBe(0);
  return w;
}

async function stopWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  for (const c of [w.ec2, w.elb, w.acm, w.r53]) c.destroy();
  await w.moto.stop();
  rmSync(w.home, { recursive: true, force: true });
}

const cliIn = (w: World) => (args: string[]) => runCli(args, { endpoint: w.moto.endpoint, home: w.home, env: { SGL_TEST_POLL_MS: '100' } });
const managedArgs = ['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls', 'managed'];

/** The real CLI process with an import recorder: the text of every module it loaded, and its exit code. */
function loadedBy(w: World, args: string[]): { code: number | null; stderr: string; text: string } {
  const log = join(w.home, `imports-${Date.now()}.log`);
  const run = spawnSync(process.execPath, ['--import', join(ROOT, 'test/support/import-log/register.mjs'), BIN, ...args], {
    env: cliEnv({ home: w.home, endpoint: w.moto.endpoint, env: { SGL_IMPORT_LOG: log } }),
    encoding: 'utf8',
  });
  const files = [...new Set(readFileSync(log, 'utf8').trim().split('\n'))].filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  return { code: run.status, stderr: run.stderr, text: files.map((f) => readFileSync(f, 'utf8')).join('\n') };
}

async function instanceGroup(w: World) {
  const groups = await w.ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment('web') }));
  expect(groups.SecurityGroups).toHaveLength(1);
  return groups.SecurityGroups![0]!;
}
const cidrRules = (g: Awaited<ReturnType<typeof instanceGroup>>) =>
  (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}/${r.CidrIp}`)).sort();
const groupRules = (g: Awaited<ReturnType<typeof instanceGroup>>) =>
  (g.IpPermissions ?? []).flatMap((p) => (p.UserIdGroupPairs ?? []).map((u) => `${p.FromPort}/${u.GroupId}`)).sort();

async function records(w: World, zoneId: string) {
  const out = await w.r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return (out.ResourceRecordSets ?? []).filter((r) => r.Type !== 'NS' && r.Type !== 'SOA');
}

describe('tls --tls managed: the certificate is issued (moto issues at once)', () => {
  let w: World;
  let cli: ReturnType<typeof cliIn>;
  let zoneId: string;
  let rulesBefore: string[];

  beforeAll(async () => {
    w = await world('0');
    cli = cliIn(w);
    const zone = await w.r53.send(new CreateHostedZoneCommand({ Name: 'example.com.', CallerReference: 'the-users-zone' }));
    zoneId = zone.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
    rulesBefore = cidrRules(await instanceGroup(w));
  });
  afterAll(() => stopWorld(w));

  it('prints the monthly cost and asks: without --yes in CI exit 2, nothing created', async () => {
    expect(rulesBefore).toEqual([`443/${ALLOW}`, `80/${ALLOW}`]);
    const r = await cli(managedArgs);
    expect(r.code, r.stderr).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/It adds, at us-east-1 list prices of \d{4}-\d\d-\d\d \(an estimate\): ≈ \$\d+\.\d\d\/month/);
    expect(out).toContain('load balancer            $16.43/month');
    expect(out).toContain('public IPv4 addresses    $7.30/month');
    expect(r.stderr).toContain('--yes is required');
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
  });

  it('with only the instance\'s subnet in its VPC: creates a second one in another zone, the ALB, listeners, target group, rules and records', async () => {
    // Leave the instance's subnet alone in the default VPC, so a second one must be created.
    const instanceSubnet = (await w.ec2.send(new DescribeSubnetsCommand({}))).Subnets!;
    const { Reservations } = await w.ec2.send(new DescribeInstancesCommand({ Filters: byDeployment('web') }));
    const instance = Reservations![0]!.Instances![0]!;
    for (const s of instanceSubnet) if (s.SubnetId !== instance.SubnetId) await w.ec2.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId! }));

    const r = await cli([...managedArgs, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = r.json<Record<string, any>>();
    expect(res).toMatchObject({ name: 'web', domain: DOMAIN, url: `https://${DOMAIN}`, state: 'served', certificate: { status: 'issued' }, dnsRecord: { type: 'A (alias)', setInZone: 'example.com' } });
    expect(res.certificate.notAfter).toMatch(/^\d{4}-/);

    // The certificate, requested for the domain with DNS validation.
    const cert = (await w.acm.send(new DescribeCertificateCommand({ CertificateArn: res.certificate.id }))).Certificate!;
    expect(cert.DomainName).toBe(DOMAIN);
    expect(cert.DomainValidationOptions?.[0]?.ValidationMethod).toBe('DNS');

    // Two subnets in two zones: the instance's and a created, tagged one.
    const lbs = (await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers!;
    expect(lbs).toHaveLength(1);
    const lb = lbs[0]!;
    expect(lb).toMatchObject({ LoadBalancerName: 'sgl-web-https', Scheme: 'internet-facing', Type: 'application' });
    expect(new Set(lb.AvailabilityZones!.map((z) => z.ZoneName)).size).toBe(2);
    const lbSubnets = lb.AvailabilityZones!.map((z) => z.SubnetId!);
    expect(lbSubnets).toContain(instance.SubnetId);
    const created = lbSubnets.find((s) => s !== instance.SubnetId)!;
    const createdSubnet = (await w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [created] }))).Subnets![0]!;
    expect(createdSubnet.Tags).toContainEqual({ Key: 'sourcegraph-launch:tls-for', Value: 'web' });
    expect(createdSubnet.VpcId).toBe(instance.VpcId);

    // The ALB's security group: 443 and 80 from the --allow-cidr of launch.
    const lbGroup = (await w.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: lb.SecurityGroups! }))).SecurityGroups![0]!;
    expect(cidrRules(lbGroup)).toEqual([`443/${ALLOW}`, `80/${ALLOW}`]);

    // The target group: HTTPS to the instance's 443, health checks on /healthz.
    const tgs = (await w.elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).TargetGroups!;
    expect(tgs).toHaveLength(1);
    expect(tgs[0]).toMatchObject({ Protocol: 'HTTPS', Port: 443, HealthCheckPath: '/healthz', HealthCheckProtocol: 'HTTPS', TargetType: 'instance' });
    const health = await w.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgs[0]!.TargetGroupArn }));
    expect(health.TargetHealthDescriptions?.map((t) => [t.Target?.Id, t.Target?.Port])).toEqual([[instance.InstanceId, 443]]);

    // Listeners: 443 with the ACM certificate forwarding to the target group, 80 redirecting.
    const listeners = (await w.elb.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners!;
    const https = listeners.find((l) => l.Port === 443)!;
    const http = listeners.find((l) => l.Port === 80)!;
    expect(https).toMatchObject({ Protocol: 'HTTPS', Certificates: [{ CertificateArn: res.certificate.id }] });
    expect(https.DefaultActions?.[0]).toMatchObject({ Type: 'forward', TargetGroupArn: tgs[0]!.TargetGroupArn });
    expect(http.Protocol).toBe('HTTP');
    expect(http.DefaultActions?.[0]).toMatchObject({ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } });

    // The instance: 80/443 no longer open to the CIDR, 443 open to the ALB's group only.
    const group = await instanceGroup(w);
    expect(cidrRules(group).filter((x) => x.startsWith('80/') || x.startsWith('443/'))).toEqual([]);
    expect(groupRules(group)).toEqual([`443/${lbGroup.GroupId}`]);
    expect(res.replacedAccess.rules).toEqual(expect.arrayContaining([{ port: 443, cidr: ALLOW }, { port: 80, cidr: ALLOW }]));

    // DNS: the validation CNAME and the alias A record to the ALB.
    const sets = await records(w, zoneId);
    const alias = sets.find((s) => s.Type === 'A' && s.Name === `${DOMAIN}.`);
    expect(alias?.AliasTarget?.DNSName?.replace(/\.$/, '')).toBe(lb.DNSName);
    const cname = sets.find((s) => s.Type === 'CNAME');
    expect(cname?.Name).toBe(`${cert.DomainValidationOptions![0]!.ResourceRecord!.Name}`);
  });

  it('a second run changes nothing (every step done before)', async () => {
    const r = await cli([...managedArgs, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    // Your own certificate on top is refused while the load balancer serves the domain.
    const site = testCa(w.home).issue('site', [DOMAIN], { days: 90 });
    const own = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath, '--yes']);
    expect(own.code, own.stderr).toBe(2);
    expect(own.stderr).toContain('through the cloud\'s load balancer (tls --tls managed)');
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers).toHaveLength(1);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);
  });

  it('status shows the HTTPS URL and the certificate\'s state and expiry', async () => {
    const r = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const m = r.json<Record<string, any>>().managedHttps;
    expect(m).toMatchObject({ url: `https://${DOMAIN}`, domain: DOMAIN, certificateStatus: 'issued', installed: true, loadBalancer: expect.stringContaining('sgl-web-https') });
    expect(m.certificateNotAfter).toMatch(/^\d{4}-/);
    expect(m.probe).toBeUndefined();
    const human = await cli(['status', 'web', ...REGION, '--no-probe']);
    expect(human.stdout).toMatch(new RegExp(`HTTPS via LB +https://${DOMAIN.replace(/\./g, '\\.')} via sgl-web-https`));
    expect(human.stdout).toMatch(/LB certificate +issued, valid until \d{4}-/);
    // Probing: https://<domain>/healthz with the certificate verified (here the name resolves nowhere: said so).
    const probed = await cli(['status', 'web', ...REGION, '--json']);
    expect(probed.code, probed.stderr).toBe(0);
    const p = probed.json<Record<string, any>>();
    expect(p.managedHttps.probe.error).toBeTruthy();
    expect(p.notes.join('\n')).toContain(`https://${DOMAIN} gave no answer with a verified certificate`);
  });

  it('tls --remove deletes all of it, restores the instance\'s rules, and leaves the zone', async () => {
    const r = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await w.elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).toEqual([]);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
    const tagged = await w.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:tls-for', Values: ['web'] }] }));
    expect(tagged.SecurityGroups ?? []).toEqual([]);
    const subnets = await w.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:tls-for', Values: ['web'] }] }));
    expect(subnets.Subnets ?? []).toEqual([]);
    const group = await instanceGroup(w);
    expect(cidrRules(group)).toEqual(rulesBefore);
    expect(groupRules(group)).toEqual([]);
    expect(await records(w, zoneId)).toEqual([]);
    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.json<Record<string, unknown>>().managedHttps).toBeUndefined();
  });

  it('killed right after the load balancer is created (before the journal says so): --remove finds and deletes it; a re-run finds it and goes on; destroy then deletes it all', async () => {
    const kill = () => runCli([...managedArgs, '--yes'], { endpoint: w.moto.endpoint, home: w.home, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_FAULT: 'after:balancer' } });
    expect((await kill()).signal).toBe('SIGKILL');
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers).toHaveLength(1);
    const removed = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await w.elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).toEqual([]);
    expect((await w.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:tls-for', Values: ['web'] }] }))).SecurityGroups ?? []).toEqual([]);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
    expect(cidrRules(await instanceGroup(w))).toEqual(rulesBefore);

    const killed = await kill();
    expect(killed.signal).toBe('SIGKILL');
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers).toHaveLength(1);
    expect((await w.elb.send(new DescribeListenersCommand({ LoadBalancerArn: (await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers![0]!.LoadBalancerArn }))).Listeners ?? []).toEqual([]);
    const r = await cli([...managedArgs, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    expect(r.json()).toMatchObject({ state: 'served' });
    const lbs = (await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers!;
    expect(lbs).toHaveLength(1);
    expect((await w.elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn }))).Listeners).toHaveLength(2);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);

    const d = await cli(['destroy', 'web', ...REGION, '--yes', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.json<Record<string, any>>().managedHttps.deleted.length).toBeGreaterThan(4);
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
    expect(await records(w, zoneId)).toEqual([]);
  });
});

describe('tls --tls managed: the certificate stays pending (no zone in the account)', () => {
  let w: World;
  let cli: ReturnType<typeof cliIn>;

  beforeAll(async () => {
    w = await world('3600');
    cli = cliIn(w);
  });
  afterAll(() => stopWorld(w));

  it('--no-wait prints the validation record and stops; a bounded wait exits 4; both resumable; --remove deletes the certificate', async () => {
    // ACM and ELBv2 load only when used: not for status, and ELBv2 not until the load balancer's steps.
    const status = loadedBy(w, ['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.text).toMatch(/EC2Client/);
    expect(status.text).not.toMatch(/ACMClient|ElasticLoadBalancingV2Client/);
    const first = loadedBy(w, [...managedArgs, '--yes', '--no-wait', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.text).toMatch(/ACMClient/);
    expect(first.text).not.toMatch(/ElasticLoadBalancingV2Client/);

    // Again: nothing new is requested (the journal has the certificate).
    const r = await cli([...managedArgs, '--yes', '--no-wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);
    expect(r.json()).toMatchObject({ state: 'pending-validation', certificate: { status: 'pending' }, validationRecord: { type: 'CNAME' } });
    const v = r.json<Record<string, any>>().validationRecord;
    expect(r.stdout + r.stderr).toContain(`${v.name}.  CNAME  ${v.value}.`);
    expect((await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);

    const timedOut = await cli([...managedArgs, '--timeout', '0.01']);
    expect(timedOut.code, timedOut.stderr).toBe(4);
    expect(timedOut.stderr).toContain('was not issued within');
    expect(timedOut.stderr).toContain('Run the same command again to keep waiting');
    // The same certificate all along: the request was not repeated.
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);

    const removed = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
  });

  it('bad input exits 2 with nothing created: certificate files with --tls managed, another cloud', async () => {
    const files = await cli([...managedArgs, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--yes']);
    expect(files.code, files.stderr).toBe(2);
    expect(files.stderr).toContain('--tls managed takes no --tls-cert/--tls-key');
    // GCE offers it (test/e2e/gcp-tls-managed.e2e.test.ts).
    const azure = await runCli(['tls', 'web', '--cloud', 'azure', '--region', 'eastus', '--subscription', '00000000-0000-0000-0000-000000000000', '--domain', DOMAIN, '--tls', 'managed', '--yes'], { home: w.home });
    expect(azure.code, azure.stderr).toBe(2);
    // Azure's gateway takes your certificate (azure-tls-managed.e2e.test.ts): without the files, exit 2 before any call.
    expect(azure.stderr).toContain('--tls-cert is required with --tls managed on this cloud');
    expect((await w.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
  });
});
