// upgrade and rollback of a deployment behind `tls --tls managed`'s load balancer, end to end: the
// real CLI process → moto (EC2, ACM, ELBv2) and a test host (real sshd + HTTP) behind the
// deployment's Elastic IP. The load balancer is moto's text; what it does for users is played by a
// real HTTPS server on its own address, serving the domain's certificate from a test CA (the CLI
// trusts it through NODE_EXTRA_CA_CERTS; the domain resolves to it through SGL_TEST_DNS_FILE): it
// forwards to the test host only while the one running instance registered in moto's target group
// is there to forward to, and answers 503 otherwise, as an ALB with no healthy target does. The wait
// must therefore ask https://<domain>/healthz, and the target group must follow the new instance.
// Step ids (fault injection, SGL_TEST_FAULT=after:<id>): upgrade 6.12.5040:move-balancer-target;
// rollback move-balancer-target.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa } from '../support/certs.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const AMI_NEW = 'ami-0c12504000000612b';
const HOST_ADDRESS = '10.200.170.2';
const BALANCER_ADDRESS = '10.200.170.3';
const DOMAIN = 'sourcegraph.example.com';
const PUBLISHER = '840044800169';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

let moto: MotoServer;
let ec2: EC2Client;
let elb: ElasticLoadBalancingV2Client;
let host: TestHost;
let dir: string;
let home: string;
let publicKeyPath: string;
let balancer: Server;
let ownBalancerAddress = false;
const balancerRequests: { path: string; status: number }[] = [];

async function instances(): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment('up') }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}

async function targets(): Promise<string[]> {
  const groups = (await elb.send(new DescribeTargetGroupsCommand({ Names: ['sgl-up-443'] }))).TargetGroups ?? [];
  if (!groups.length) return [];
  const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: groups[0]!.TargetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).map((t) => t.Target!.Id!).sort();
}

/** The load balancer's forwarding: to the test host while exactly one running registered instance is there. */
async function forward(path: string): Promise<{ status: number; body: string }> {
  const registered = new Set(await targets());
  const serving = (await instances()).filter((i) => i.State?.Name === 'running' && registered.has(i.InstanceId!));
  if (serving.length !== 1) return { status: 503, body: '503 Service Temporarily Unavailable' };
  return new Promise((resolve) => {
    get({ host: HOST_ADDRESS, port: 80, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 502, body }));
    }).on('error', () => resolve({ status: 502, body: '502 Bad Gateway' }));
  });
}

const quickBoot = (version: string) => host.reboot({ version, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
function switchVersionOn(pattern: RegExp, version: string): CliOptions['onOutput'] {
  let done = false;
  return (chunk) => {
    if (!done && pattern.test(chunk)) {
      done = true;
      quickBoot(version);
    }
  };
}

let caPath: string;
let dnsFile: string;
function cli(args: string[], extra: CliOptions = {}) {
  return runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 150_000, ...extra, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath, ...extra.env } });
}
const upgradeArgs = ['upgrade', 'up', ...REGION, '--to', NEW, '--yes', '--hold-seconds', '0', '--init-rate', '0'];
const rollbackArgs = ['rollback', 'up', ...REGION, '--yes', '--hold-seconds', '0'];

beforeAll(async () => {
  moto = await startMoto({
    consoleOutput: () => host?.consoleOutput(),
    images: [
      { id: AMI_OLD, name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER },
      { id: AMI_NEW, name: `Sourcegraph v${NEW}`, ownerId: PUBLISHER },
    ],
    env: { MOTO_ACM_VALIDATION_WAIT: '0' },
  });
  ec2 = motoEc2Client(moto);
  elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
  dir = mkdtempSync(join(tmpdir(), 'sgl-managed-upgrade-'));
  home = join(dir, 'home');
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });

  const certs = mkdtempSync(join(dir, 'certs-'));
  const ca = testCa(certs);
  caPath = ca.ca.certPath;
  const site = ca.issue('site', [DOMAIN], { days: 90 });
  dnsFile = join(dir, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${BALANCER_ADDRESS}\n`);
  ownBalancerAddress = await addLoopbackAddress(BALANCER_ADDRESS);
  balancer = createServer({ cert: site.certPem, key: site.keyPem }, (req, res) => {
    void forward(req.url ?? '/').then((r) => {
      balancerRequests.push({ path: req.url ?? '/', status: r.status });
      res.writeHead(r.status).end(r.body);
    });
  });
  await new Promise<void>((resolve) => balancer.listen(443, BALANCER_ADDRESS, resolve));

  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'up' });
  quickBoot(OLD);
  const launch = await cli(['launch', 'up', ...REGION, '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '0', '--json']);
  expect(launch.code, launch.stderr).toBe(0);
  const managed = await cli(['tls', 'up', ...REGION, '--domain', DOMAIN, '--tls', 'managed', '--yes', '--json']);
  expect(managed.code, managed.stderr).toBe(0);
});

afterAll(async () => {
  elb?.destroy();
  await new Promise((resolve) => (balancer ? balancer.close(resolve) : resolve(undefined)));
  if (ownBalancerAddress) await removeLoopbackAddress(BALANCER_ADDRESS);
  await host?.stop();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('upgrade and rollback behind tls --tls managed\'s load balancer, with the real CLI', () => {
  it('upgrade killed right after the target moved resumes; the target group then holds only the new instance, which shares the old one\'s security group (443 from the balancer only); rollback moves it back', async () => {
    const [old] = await instances();
    expect(await targets()).toEqual([old!.InstanceId]);

    // Killed (SIGKILL) after the move's work, before the journal recorded it: the worst moment.
    const killed = await cli(upgradeArgs, { env: { SGL_TEST_FAULT: `after:${NEW}:move-balancer-target` }, onOutput: switchVersionOn(/Stop the 6\.11\.0 instance/, NEW) });
    expect(killed.signal).toBe('SIGKILL');
    const fresh = (await instances()).find((i) => i.InstanceId !== old!.InstanceId)!;
    expect(await targets()).toEqual([fresh.InstanceId]);

    balancerRequests.length = 0;
    const up = await cli([...upgradeArgs, '--json']);
    expect(up.code, up.stderr).toBe(0);
    const result = up.json<Record<string, any>>();
    expect(result).toMatchObject({ from: OLD, to: NEW, instanceId: fresh.InstanceId, url: `https://${DOMAIN}` });
    expect(result.steps.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([`${NEW}:move-elastic-ip`, `${NEW}:move-balancer-target`, `${NEW}:wait-for-version`]));
    expect(up.stderr).toContain(`https://${DOMAIN}/healthz reports ${NEW}`);
    expect(await targets()).toEqual([fresh.InstanceId]);
    // The wait asked the site through the balancer (certificate verified, or the CLI could not have connected).
    expect(balancerRequests.some((r) => r.path === '/healthz' && r.status === 200)).toBe(true);

    // The new instance has the old one's security group, whose 443 is open to the balancer's group only.
    const now = (await instances()).find((i) => i.InstanceId === fresh.InstanceId)!;
    expect(now.SecurityGroups?.map((g) => g.GroupId)).toEqual(old!.SecurityGroups?.map((g) => g.GroupId));
    const lb = (await elb.send(new DescribeLoadBalancersCommand({ Names: ['sgl-up-https'] }))).LoadBalancers![0]!;
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: now.SecurityGroups!.map((g) => g.GroupId!) }))).SecurityGroups![0]!;
    const web = (group.IpPermissions ?? []).filter((p) => p.FromPort === 443 || p.FromPort === 80);
    expect(web.flatMap((p) => p.IpRanges ?? [])).toEqual([]);
    expect(web.flatMap((p) => (p.UserIdGroupPairs ?? []).map((u) => `${p.FromPort}/${u.GroupId}`))).toEqual([`443/${lb.SecurityGroups![0]}`]);

    const status = await cli(['status', 'up', ...REGION, '--json']);
    expect(status.json()).toMatchObject({ health: 'healthy', servingVersion: NEW, managedHttps: { probe: { status: 200 } } });

    const back = await cli([...rollbackArgs, '--json'], { onOutput: switchVersionOn(/Start i-\w+ \(6\.11\.0\)/, OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, instanceId: old!.InstanceId, upgradedInstanceId: fresh.InstanceId, url: `https://${DOMAIN}` });
    expect(await targets()).toEqual([old!.InstanceId]);
    expect(host.versionFiles()).toEqual({ root: OLD, data: OLD });
  });

  it('config\'s check after applying asks the site through the balancer, not the address', async () => {
    // What our image keeps on its root disk: the size's values and the ones every size shares.
    const state = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'values');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'S.yaml'), 'frontend:\n  replicaCount: 1\n');
    writeFileSync(join(state, 'common.yaml'), readFileSync(join(import.meta.dirname, '..', '..', 'presets', 'helm', 'common.yaml')));
    balancerRequests.length = 0;
    const set = await cli(['config', 'set', 'up', 'frontend.replicaCount=2', ...REGION, '--yes', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json()).toMatchObject({ changed: true, applied: { version: OLD } });
    expect(balancerRequests).toContainEqual({ path: '/healthz', status: 200 });
  });
});
