// `launch --domain D --tls managed` end to end: the real CLI process → moto for EC2, ACM, ELBv2 and
// Route 53 (as in tls-managed.e2e.test.ts: moto issues a requested certificate once
// MOTO_ACM_VALIDATION_WAIT seconds have passed), and a test host with a real sshd and /healthz
// standing in for the instance, so the launch's readiness wait really runs before the load
// balancer's steps. The load balancer itself is the part moto only records: an HTTPS server on the
// test host's 443 stands in for it, serving the domain's certificate from a test CA the CLI trusts
// (NODE_EXTRA_CA_CERTS); the domain's lookups and connections come from SGL_TEST_DNS_FILE. So the
// probe of https://<domain>/healthz after the install is a real, verified TLS handshake.
// Runs inside the test network namespace.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm';
import { DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, byDeployment, deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60721';
const HOST_ADDRESS = '10.200.171.2';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

describe('launch --domain --tls managed: the certificate is issued (moto issues at once)', () => {
  let moto: MotoServer;
  let ec2: EC2Client;
  let elb: ElasticLoadBalancingV2Client;
  let acm: ACMClient;
  let r53: Route53Client;
  let host: TestHost;
  let dir: string;
  let home: string;
  let pubKey: string;
  let caPath: string;
  let dnsFile: string;
  let balancer: Server;
  let zoneId: string;
  const balancerRequests: string[] = [];

  const launchArgs = () => ['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', ALLOW, '--ssh-cidr', '203.0.113.7/32', '--ssh-key', pubKey, '--ssh-user', 'root', '--hold-seconds', '1'];
  const managed = ['--domain', DOMAIN, '--tls', 'managed'];
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 240_000, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath, ...env } });
  const nothingCreated = async () => {
    const found = deploymentResources(ec2);
    expect(await found.liveInstances('web')).toHaveLength(0);
    expect(await found.groups('web')).toHaveLength(0);
    expect(await found.keyPairs('web')).toHaveLength(0);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
    expect((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect(host.execLog()).toHaveLength(0);
  };

  beforeAll(async () => {
    moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }], env: { MOTO_ACM_VALIDATION_WAIT: '0' } });
    const opts = { region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 };
    ec2 = motoEc2Client(moto);
    elb = new ElasticLoadBalancingV2Client(opts);
    acm = new ACMClient(opts);
    r53 = new Route53Client(opts);
    dir = mkdtempSync(join(tmpdir(), 'sgl-e2e-launch-managed-'));
    const key = await createClientKey(dir);
    pubKey = `${key.privateKeyPath}.pub`;
    host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
    mkdirSync(join(dir, 'ca'));
    const ca = testCa(join(dir, 'ca'));
    caPath = ca.ca.certPath;
    const site = ca.issue('site', [DOMAIN], { days: 395 });
    // The load balancer's HTTPS as users reach it: the cloud's certificate for the domain, /healthz forwarded.
    balancer = createServer({ cert: site.certPem, key: site.keyPem }, (req, res) => {
      balancerRequests.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
      res.writeHead(req.url === '/healthz' ? 200 : 404).end(req.url === '/healthz' ? `ok ${VERSION}` : '');
    });
    await new Promise<void>((resolve) => balancer.listen(443, HOST_ADDRESS, resolve));
    home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
    dnsFile = join(home, 'dns.txt');
    writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: 'example.com.', CallerReference: 'the-users-zone' }));
    zoneId = zone.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'web' });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (balancer ? balancer.close(() => resolve()) : resolve()));
    await host?.stop();
    for (const c of [elb, acm, r53]) c?.destroy();
    await moto?.stop();
    for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('bad input exits 2 before anything is created: no --domain, certificate files, acme flags, a bad domain, no --yes in CI (the cost printed), Azure (its gateway takes your own certificate: `tls` after the launch)', async () => {
    const noDomain = await cli([...launchArgs(), '--tls', 'managed', '--yes', '--json']);
    expect(noDomain.code, noDomain.stderr).toBe(2);
    expect(noDomain.json()).toMatchObject({ error: { code: 'missing-input', message: '--tls managed needs --domain: the name the certificate is for' } });

    const files = await cli([...launchArgs(), ...managed, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--yes']);
    expect(files.code, files.stderr).toBe(2);
    expect(files.stderr).toContain('--tls managed takes no --tls-cert/--tls-key');

    const acmeFlag = await cli([...launchArgs(), ...managed, '--acme-email', 'a@example.com', '--yes']);
    expect(acmeFlag.code, acmeFlag.stderr).toBe(2);
    expect(acmeFlag.stderr).toContain('--acme-email only applies with --tls acme');

    const badDomain = await cli([...launchArgs(), '--domain', 'not a domain', '--tls', 'managed', '--yes']);
    expect(badDomain.code, badDomain.stderr).toBe(2);

    const unknown = await cli([...launchArgs(), '--domain', DOMAIN, '--tls', 'cloudy', '--yes']);
    expect(unknown.code, unknown.stderr).toBe(2);

    // Not on a terminal without --yes: the monthly cost is printed, then exit 2.
    const noYes = await cli([...launchArgs(), ...managed]);
    expect(noYes.code, noYes.stderr).toBe(2);
    expect(noYes.stdout + noYes.stderr).toMatch(/It adds, at us-east-1 list prices of \d{4}-\d\d-\d\d \(an estimate\): ≈ \$\d+\.\d\d\/month/);
    expect(noYes.stdout + noYes.stderr).toContain('load balancer            $16.43/month');
    expect(noYes.stderr).toContain('--yes is required with --tls managed when not running interactively');

    // GCE offers it (gcp-launch-tls-managed.e2e.test.ts): here, without its credentials, exit 3 after the check.
    const gcp = await runCli(['launch', 'web', '--cloud', 'gcp', '--region', 'us-central1', '--project', 'sgl-test', '--size', 'S', '--version', VERSION, '--allow-cidr', ALLOW, ...managed, '--yes'], { home, env: { GOOGLE_APPLICATION_CREDENTIALS: join(home, 'none.json') } });
    expect(gcp.code, gcp.stderr).toBe(3);
    expect(gcp.stderr).not.toContain('not offered');
    // Azure's Application Gateway serves your own certificate: launch refuses, naming the `tls` command to run after it,
    // with or without the files, before credentials are looked at.
    const azureArgs = ['launch', 'web', '--cloud', 'azure', '--region', 'eastus', '--subscription', '00000000-0000-0000-0000-000000000000', '--size', 'S', '--version', VERSION, '--allow-cidr', ALLOW, ...managed, '--yes'];
    for (const extra of [[], ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']]) {
      const azure = await runCli([...azureArgs, ...extra], { home });
      expect(azure.code, azure.stderr).toBe(2);
      expect(azure.stderr).toContain('launch --tls managed is not offered on azure: on Azure run `tls --tls managed --tls-cert … --tls-key …` after the launch');
    }

    await nothingCreated();
  });

  it('the dry run shows the HTTPS step and its monthly cost, and creates nothing', async () => {
    const r = await cli([...launchArgs(), ...managed, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<{ tls: Record<string, any> }>();
    expect(out.tls).toMatchObject({ domain: DOMAIN, url: `https://${DOMAIN}`, managed: { monthlyCost: { region: 'us-east-1' } }, afterReady: `sourcegraph-launch tls web --region us-east-1 --domain ${DOMAIN} --tls managed` });
    expect(out.tls.managed.monthlyCost.totalUsd).toBeGreaterThan(20);
    await nothingCreated();
  });

  /** The instance's security group: its CIDR rules and the rules whose source is another group (the load balancer's). */
  const instanceRules = async () => {
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment('web') }))).SecurityGroups ?? [];
    expect(groups).toHaveLength(1);
    const perms = groups[0]!.IpPermissions ?? [];
    return {
      cidrs: perms.flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}/${r.CidrIp}`)).sort(),
      groups: perms.flatMap((p) => (p.UserIdGroupPairs ?? []).map((g) => `${p.FromPort}/${g.GroupId}`)).sort(),
    };
  };

  it('killed during the load balancer steps, after the launch was ready, then inside the step that limits the instance\'s 80/443: the same launch command resumes, then probes https://<domain>/healthz verified; once more it changes nothing', async () => {
    const killed = await cli([...launchArgs(), ...managed, '--yes'], { SGL_TEST_FAULT: 'after:balancer' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // The launch was ready first (the wait ran against the test host), then the certificate and the balancer.
    expect(killed.stdout + killed.stderr).toContain(`HTTPS after the launch is ready: https://${DOMAIN} through the cloud's load balancer`);
    expect(killed.stdout + killed.stderr).toMatch(/It adds, at us-east-1 list prices/);
    expect(host.requests.some((p) => p.startsWith('/healthz'))).toBe(true);
    const lbs = (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers!;
    expect(lbs).toHaveLength(1);
    expect((await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn }))).Listeners ?? []).toEqual([]);
    expect(balancerRequests).toEqual([]);
    expect((await instanceRules()).cidrs).toEqual([`22/203.0.113.7/32`, `443/${ALLOW}`, `80/${ALLOW}`]);

    // Again, killed right after the instance's 80/443 were limited to the load balancer, before the journal says so.
    const killedAgain = await cli([...launchArgs(), ...managed, '--yes'], { SGL_TEST_FAULT: 'after:instance-access' });
    expect(killedAgain.signal, killedAgain.stderr).toBe('SIGKILL');
    expect(killedAgain.stdout + killedAgain.stderr).toContain('Resuming tls --tls managed');
    expect((await instanceRules()).cidrs).toEqual([`22/203.0.113.7/32`]);

    const r = await cli([...launchArgs(), ...managed, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    const res = r.json<Record<string, any>>();
    expect(res).toMatchObject({
      name: 'web',
      ready: true,
      tls: {
        url: `https://${DOMAIN}`,
        state: 'served',
        certificate: { status: 'issued' },
        loadBalancer: { id: lbs[0]!.LoadBalancerArn, dnsName: lbs[0]!.DNSName },
        dnsRecord: { name: DOMAIN, type: 'A (alias)', value: lbs[0]!.DNSName, setInZone: 'example.com' },
      },
      https: { url: `https://${DOMAIN}`, ok: true, status: 200 },
    });
    expect(r.stderr).toContain(`https://${DOMAIN} answers /healthz with a verified certificate.`);
    expect(balancerRequests).toEqual([`${DOMAIN}/healthz`]);
    // The instance's 80/443: open only to the load balancer's group.
    const lbGroup = (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers![0]!.SecurityGroups![0]!;
    expect(await instanceRules()).toEqual({ cidrs: [`22/203.0.113.7/32`], groups: [`443/${lbGroup}`] });

    // The same command once more: the launch is done and stays behind the load balancer (its 80/443
    // are not opened again), the HTTPS steps are all done; the site is probed again.
    const again = await cli([...launchArgs(), ...managed, '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('the launch\'s own steps are done');
    expect(again.json()).toMatchObject({ name: 'web', ready: true, tls: { state: 'served', certificate: { id: res.tls.certificate.id, status: 'issued' } }, https: { ok: true } });
    expect(await instanceRules()).toEqual({ cidrs: [`22/203.0.113.7/32`], groups: [`443/${lbGroup}`] });
    expect(balancerRequests).toHaveLength(2);

    // Nothing was made twice: one certificate, one balancer (now with its two listeners), the alias record.
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList![0]!.CertificateArn).toBe(res.tls.certificate.id);
    expect((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers).toHaveLength(1);
    expect((await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn }))).Listeners).toHaveLength(2);
    expect(await deploymentResources(ec2).liveInstances('web')).toHaveLength(1);
    const records = (await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? [];
    expect(records.find((x) => x.Type === 'A' && x.Name === `${DOMAIN}.`)?.AliasTarget?.DNSName?.replace(/\.$/, '')).toBe(lbs[0]!.DNSName);

    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.json<Record<string, any>>().managedHttps).toMatchObject({ url: `https://${DOMAIN}`, certificateStatus: 'issued', installed: true });

    const d = await cli(['destroy', 'web', ...REGION, '--yes', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).toEqual([]);
  });
});

describe('launch --domain --tls managed --no-wait: the certificate stays pending (no zone in the account)', () => {
  let moto: MotoServer;
  let elb: ElasticLoadBalancingV2Client;
  let acm: ACMClient;
  let home: string;
  let dir: string;

  const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 120_000, env: { SGL_TEST_POLL_MS: '100' } });
  const args = () => ['launch', 'pend', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', ALLOW, '--ssh-cidr', 'none', '--elastic-ip', 'none', '--domain', DOMAIN, '--tls', 'managed', '--no-wait', '--yes', '--json'];

  beforeAll(async () => {
    moto = await startMoto({ images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }], env: { MOTO_ACM_VALIDATION_WAIT: '3600' } });
    const opts = { region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 };
    elb = new ElasticLoadBalancingV2Client(opts);
    acm = new ACMClient(opts);
    dir = mkdtempSync(join(tmpdir(), 'sgl-e2e-launch-managed-pend-'));
    home = join(dir, 'home');
  });
  afterAll(async () => {
    for (const c of [elb, acm]) c?.destroy();
    await moto?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stops where tls --tls managed --no-wait does (SSH closed is fine: no SSH needed): the certificate requested, its validation record printed; again, nothing requested twice', async () => {
    const r = await cli(args());
    expect(r.code, r.stderr).toBe(0);
    const res = r.json<Record<string, any>>();
    expect(res).toMatchObject({ name: 'pend', ready: false, tls: { url: `https://${DOMAIN}`, state: 'pending-validation', certificate: { status: 'pending' }, validationRecord: { type: 'CNAME' } } });
    expect(res.https).toBeUndefined();
    expect(res.tls.loadBalancer).toBeUndefined();
    const v = res.tls.validationRecord;
    expect(r.stdout + r.stderr).toContain(`${v.name}.  CNAME  ${v.value}.`);
    expect(r.stderr).toContain('--no-wait: the certificate is issued once the validation record resolves');
    expect((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);

    const again = await cli(args());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('Resuming tls --tls managed');
    expect(again.json<Record<string, any>>().tls.certificate.id).toBe(res.tls.certificate.id);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);

    // The certificate's wait is bounded: `tls --tls managed --timeout` (named for launch) exits 4 and keeps it.
    const timedOut = await cli(['tls', 'pend', ...REGION, '--domain', DOMAIN, '--tls', 'managed', '--timeout', '0.01', '--yes']);
    expect(timedOut.code, timedOut.stderr).toBe(4);
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1);
  });
});
