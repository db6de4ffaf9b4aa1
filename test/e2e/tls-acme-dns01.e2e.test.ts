// `tls --tls acme` with the DNS-01 challenge end to end: the real CLI process → moto for EC2,
// Route 53 (the user's hosted zone) and IAM (the instance's own role and profile, and their
// association with the instance), and a test host with a real sshd standing in for the instance,
// where the repository's provision/apply-acme.sh runs as root and writes Traefik's HelmChartConfig.
// Let's Encrypt and Traefik are what this test stands in for: an HTTPS server on <host>:443 serves
// an untrusted "Traefik default" certificate until the manifest with the DNS challenge exists, then
// one for the domain from the test CA (trusted by the CLI through NODE_EXTRA_CA_CERTS), as Traefik
// does once lego has proved the domain through Route 53. DNS answers come from SGL_TEST_DNS_FILE.
// Last, `launch --domain --tls acme` of a second deployment on the same test host, DNS-01 by default.
// Runs inside the test network namespace.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeIamInstanceProfileAssociationsCommand, DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60747';
const HOST_ADDRESS = '10.200.174.2';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';
const ACME = ['--tls', 'acme', '--domain', DOMAIN, '--acme-email', 'admin@example.com'];
const ROLE = 'sourcegraph-launch-acme-us-east-1-web';

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let ec2: EC2Client;
let iam: IAMClient;
let r53: Route53Client;
let host: TestHost;
let keyDir: string;
let home: string;
let certs: string;
let caPath: string;
let dnsFile: string;
let https: Server;
let watcher: NodeJS.Timeout;
let zoneId = '';
/** false: Let's Encrypt has not issued (yet): Traefik keeps serving its default certificate. */
let letsEncryptIssues = true;
let sshKeyPath = '';

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath, ...env } });
const acmeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'acme');
const manifest = () => join(host.fsRoot, 'var', 'lib', 'rancher', 'k3s', 'server', 'manifests', 'sourcegraph-acme-traefik.yaml');

async function instanceId(deployment = 'web'): Promise<string> {
  const { Reservations } = await ec2.send(new (await import('@aws-sdk/client-ec2')).DescribeInstancesCommand({ Filters: [...byDeployment(deployment), { Name: 'instance-state-name', Values: ['running'] }] }));
  return Reservations![0]!.Instances![0]!.InstanceId!;
}
async function associations(deployment = 'web'): Promise<string[]> {
  const out = await ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ Filters: [{ Name: 'instance-id', Values: [await instanceId(deployment)] }] }));
  return (out.IamInstanceProfileAssociations ?? []).filter((a) => a.State === 'associated').map((a) => a.IamInstanceProfile!.Arn!.split('/').pop()!);
}
const roleNames = async () => ((await iam.send(new ListRolesCommand({}))).Roles ?? []).map((r) => r.RoleName).filter((n) => n?.startsWith('sourcegraph-launch-'));
const profileExists = () => iam.send(new GetInstanceProfileCommand({ InstanceProfileName: ROLE })).then(() => true, () => false);
/** The deployment's security-group rules open to the world. */
async function worldRules(): Promise<string[]> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment('web') }));
  return (out.SecurityGroups ?? []).flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).filter((r) => r.CidrIp === '0.0.0.0/0').map(() => String(p.FromPort))));
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  iam = new IAMClient({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
  r53 = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  sshKeyPath = key.privateKeyPath;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  certs = mkdtempSync(join(tmpdir(), 'sgl-e2e-certs-'));
  const ca = testCa(certs);
  caPath = ca.ca.certPath;
  const issued: TestCert = ca.issue('issued', [DOMAIN], { days: 90 });
  const traefikDefault = testCa(mkdtempSync(join(certs, 'traefik-'))).issue('default', ['TRAEFIK DEFAULT CERT']);
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  dnsFile = join(home, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);

  // Traefik on 443: its default certificate until its configuration has the DNS challenge (lego
  // then proves the domain through Route 53 and Let's Encrypt issues).
  https = createServer({ cert: traefikDefault.certPem, key: traefikDefault.keyPem }, (req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end(req.url === '/healthz' ? VERSION : 'not found');
  });
  await new Promise<void>((resolve) => https.listen(443, HOST_ADDRESS, resolve));
  let serving = 'default';
  watcher = setInterval(() => {
    const want = letsEncryptIssues && existsSync(manifest()) && readFileSync(manifest(), 'utf8').includes('dnschallenge.provider=route53') ? 'issued' : 'default';
    if (want === serving) return;
    serving = want;
    const cert = want === 'issued' ? issued : traefikDefault;
    https.setSecureContext({ cert: cert.certPem, key: cert.keyPem });
  }, 50);

  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'web' });
  const launch = await runCli(
    ['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
    { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  clearInterval(watcher);
  await new Promise((resolve) => (https ? https.close(resolve) : resolve(undefined)));
  await host?.stop();
  await moto?.stop();
  for (const d of [keyDir, certs, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('tls --tls acme with the DNS-01 challenge, with the real CLI (AWS on moto: Route 53 and IAM)', () => {
  it('refuses before anything changes (exit 2): dns-01 without a zone of the account, with --no-dns, an unknown challenge, the flag without --tls acme', async () => {
    const execs = host.execLog().length;
    const cases: [string[], string][] = [
      [[...ACME, '--acme-challenge', 'dns-01', '--yes'], `--acme-challenge dns-01: no public DNS zone of this account holds ${DOMAIN}`],
      [[...ACME, '--acme-challenge', 'dns-01', '--no-dns', '--yes'], '--acme-challenge dns-01 takes no --no-dns'],
      [[...ACME, '--acme-challenge', 'tls-alpn-01', '--yes'], '--acme-challenge tls-alpn-01: expected dns-01 or http-01'],
      [['--domain', DOMAIN, '--acme-challenge', 'dns-01', '--tls-cert', caPath, '--tls-key', caPath], '--acme-challenge only applies with --tls acme'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['tls', 'web', ...REGION, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    // Without a zone the default stays HTTP-01, with its consent rules.
    const http = await cli(['tls', 'web', ...REGION, ...ACME, '--yes']);
    expect(http.code, http.stderr).toBe(2);
    expect(http.stderr).toContain('--i-know-port-80-is-public is required');
    expect(await roleNames()).toEqual([]);
    expect(await profileExists()).toBe(false);
    expect(await associations()).toEqual([]);
    expect(await worldRules()).toEqual([]);
    expect(host.execLog().length).toBe(execs);
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);
  });

  it('chooses DNS-01 by itself once the zone is in the account: asks (--yes), an interrupted run resumes; no port opened; Traefik gets route53 and the zone; a verified certificate', async () => {
    zoneId = (await r53.send(new CreateHostedZoneCommand({ Name: 'example.com.', CallerReference: 'the-users-zone' }))).HostedZone!.Id!.replace('/hostedzone/', '');
    // Not interactive and no --yes: the role (and the record) are asked for; nothing made.
    const asked = await cli(['tls', 'web', ...REGION, ...ACME]);
    expect(asked.code, asked.stderr).toBe(2);
    expect(asked.stderr).toContain(`--yes is required to create the IAM role ${ROLE}`);
    expect(await roleNames()).toEqual([]);

    // Killed right after the instance profile was made, before the journal recorded it.
    const killed = await cli(['tls', 'web', ...REGION, ...ACME, '--yes'], { SGL_TEST_FAULT: 'after:acme-dns-profile' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(await roleNames()).toEqual([ROLE]);
    expect(await profileExists()).toBe(true);
    expect(await associations()).toEqual([]);
    expect(existsSync(manifest())).toBe(false);

    const r = await cli(['tls', 'web', ...REGION, ...ACME, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming the DNS-01 access of web');
    const out = r.json<Record<string, unknown>>();
    expect(out).toMatchObject({
      way: 'acme',
      acme: { challenge: 'dns-01', ca: 'production' },
      dnsChallenge: { zoneId, zoneName: 'example.com', provider: 'route53', role: ROLE, instanceProfile: ROLE },
      dnsZone: { id: zoneId, change: 'created' },
      dns: 'resolves',
      certificate: { dnsNames: [DOMAIN], daysLeft: 89 },
    });
    expect(out.port80).toBeUndefined();
    // No port is open to the world; the instance runs as its own profile.
    expect(await worldRules()).toEqual([]);
    expect(await associations()).toEqual([ROLE]);
    // The role: tagged, trusted by EC2 only, allowed the challenge's TXT record in that one zone.
    const role = (await iam.send(new GetRoleCommand({ RoleName: ROLE }))).Role!;
    expect(tagMap(role.Tags)).toMatchObject({ 'sourcegraph-launch:deployment': 'web', 'sourcegraph-launch:role': 'acme-dns' });
    expect(decodeURIComponent(role.AssumeRolePolicyDocument!)).toContain('ec2.amazonaws.com');
    const policy = JSON.parse(decodeURIComponent((await iam.send(new GetRolePolicyCommand({ RoleName: ROLE, PolicyName: 'route53-acme-dns-01' }))).PolicyDocument!));
    const change = policy.Statement.find((s: { Action: string[] }) => s.Action.includes('route53:ChangeResourceRecordSets'));
    expect(change.Resource).toBe(`arn:aws:route53:::hostedzone/${zoneId}`);
    expect(change.Condition['ForAllValues:StringEquals']).toEqual({ 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'], 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`_acme-challenge.${DOMAIN}`] });
    expect(JSON.stringify(policy)).not.toContain('"route53:*"');

    // On the instance: the DNS challenge through route53, the zone and region, no key of the user's.
    const m = readFileSync(manifest(), 'utf8');
    expect(m).toContain('--certificatesresolvers.letsencrypt.acme.dnschallenge.provider=route53');
    expect(m).not.toContain('httpchallenge');
    expect(m).toContain(`- name: AWS_HOSTED_ZONE_ID\n        value: "${zoneId}"`);
    expect(m).toContain('- name: AWS_REGION\n        value: "us-east-1"');
    expect(m).not.toMatch(/AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/);
    expect(readFileSync(join(acmeDir(), 'settings'), 'utf8')).toBe(`domain=${DOMAIN}\nemail=admin@example.com\nca=production\nchallenge=dns-01\ndns_provider=route53\ndns_env_AWS_REGION=us-east-1\ndns_env_AWS_HOSTED_ZONE_ID=${zoneId}\n`);

    // Again: everything is in place; nothing new is made.
    const again = await cli(['tls', 'web', ...REGION, ...ACME, '--acme-challenge', 'dns-01', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(await roleNames()).toEqual([ROLE]);
    expect(await associations()).toEqual([ROLE]);
    const status = await cli(['status', 'web', ...REGION, '--json']);
    expect(status.json<{ https: Record<string, unknown> }>().https).toMatchObject({ url: `https://${DOMAIN}`, certificateDaysLeft: 89 });
  });

  it('a certificate not issued within --timeout exits 4 naming the DNS-01 record and the role; everything stays', async () => {
    letsEncryptIssues = false;
    try {
      const r = await cli(['tls', 'web', ...REGION, ...ACME, '--yes', '--timeout', '0.02']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(`https://${DOMAIN} did not serve a certificate that verifies in time`);
      expect(r.stderr).toContain(`DNS-01: Traefik writes the TXT record _acme-challenge.${DOMAIN} in the zone example.com with the instance's role ${ROLE}`);
      expect(r.stderr).not.toContain('Port 80: http://');
      expect(await associations()).toEqual([ROLE]);
    } finally {
      letsEncryptIssues = true;
    }
  });

  it('tls --remove takes the profile off the instance and deletes it and the role (never the zone)', async () => {
    const r = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ instanceRole: { removed: [expect.stringContaining('association'), `instance profile ${ROLE}`, `IAM role ${ROLE}`] }, kept: expect.arrayContaining(['the DNS zone example.com']) });
    expect(await associations()).toEqual([]);
    expect(await roleNames()).toEqual([]);
    expect(await profileExists()).toBe(false);
    expect(existsSync(manifest())).toBe(false);
    expect((await r53.send(new (await import('@aws-sdk/client-route-53')).GetHostedZoneCommand({ Id: zoneId }))).HostedZone?.Name).toBe('example.com.');
    const again = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<Record<string, unknown>>().instanceRole).toBeUndefined();
  });

  it('--acme-challenge http-01 keeps the consent rules even with the zone in the account; dns-01 afterwards closes its port-80 rule; destroy deletes the role', async () => {
    const http = await cli(['tls', 'web', ...REGION, ...ACME, '--acme-challenge', 'http-01', '--i-know-port-80-is-public', '--yes', '--no-wait', '--json']);
    expect(http.code, http.stderr).toBe(0);
    expect(http.json()).toMatchObject({ acme: { challenge: 'http-01' }, port80: { rule: 'opened' } });
    expect(await worldRules()).toEqual(['80']);
    expect(await roleNames()).toEqual([]);

    const dns = await cli(['tls', 'web', ...REGION, ...ACME, '--yes', '--json']);
    expect(dns.code, dns.stderr).toBe(0);
    expect(dns.json()).toMatchObject({ acme: { challenge: 'dns-01' } });
    expect(await worldRules()).toEqual([]);
    expect(await roleNames()).toEqual([ROLE]);

    const destroyed = await cli(['destroy', 'web', ...REGION, '--yes', '--json']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.json()).toMatchObject({ instanceRole: { removed: [`instance profile ${ROLE}`, `IAM role ${ROLE}`] } });
    expect(await roleNames()).toEqual([]);
    expect(await profileExists()).toBe(false);
  });

  it('launch --domain --tls acme chooses DNS-01 by itself with the zone in the account: the role on the new instance, no port opened to the world', async () => {
    // The same test host stands in for the new deployment's instance; its earlier configuration goes.
    rmSync(manifest(), { force: true });
    rmSync(acmeDir(), { recursive: true, force: true });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'site' });
    const launch = await runCli(
      ['launch', 'site', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${sshKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', ...ACME, '--yes', '--json'],
      { endpoint: moto.endpoint, home, timeoutMs: 200_000, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath } },
    );
    expect(launch.code, launch.stderr).toBe(0);
    expect(launch.json<{ tls: Record<string, unknown> }>().tls).toMatchObject({ acme: { challenge: 'dns-01' }, dnsChallenge: { zoneId, role: 'sourcegraph-launch-acme-us-east-1-site' }, certificate: { dnsNames: [DOMAIN] } });
    expect(await associations('site')).toEqual(['sourcegraph-launch-acme-us-east-1-site']);
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment('site') }));
    expect((groups.SecurityGroups ?? []).flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => r.CidrIp)))).not.toContain('0.0.0.0/0');
    expect(readFileSync(manifest(), 'utf8')).toContain('dnschallenge.provider=route53');
    const destroyed = await cli(['destroy', 'site', ...REGION, '--yes', '--json']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(await roleNames()).toEqual([]);
  });
});
