// `tls --tls acme` end to end: the real CLI process → moto for EC2 (the security group's port-80
// rule), and a test host with a real sshd standing in for the instance: the repository's
// provision/apply-acme.sh runs there as root and writes Traefik's HelmChartConfig under its
// (bind-mounted) /var/lib/rancher/k3s/server/manifests. Let's Encrypt and Traefik are the part
// this test stands in for: an HTTPS server on <host>:443 serves an untrusted "Traefik default"
// certificate until that manifest exists, then one for the domain from the test CA (the CLI trusts
// it through NODE_EXTRA_CA_CERTS), as Traefik does once the certificate is issued. DNS answers
// (the lookups and the connections to https://<domain>) come from SGL_TEST_DNS_FILE. Runs inside
// the test network namespace.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60747';
const HOST_ADDRESS = '10.200.147.2';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';
const ACME = ['--tls', 'acme', '--domain', DOMAIN, '--acme-email', 'admin@example.com'];

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let home: string;
let certs: string;
let caPath: string;
let issued: TestCert;
let traefikDefault: TestCert;
let dnsFile: string;
let https: Server;
/** false: Let's Encrypt has not issued (yet): Traefik keeps serving its default certificate. */
let letsEncryptIssues = true;
let watcher: NodeJS.Timeout;

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath } });
const acmeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'acme');
const manifest = () => join(host.fsRoot, 'var', 'lib', 'rancher', 'k3s', 'server', 'manifests', 'sourcegraph-acme-traefik.yaml');
const log = (name: string) => (existsSync(join(host.fsRoot, 'var', 'log', name)) ? readFileSync(join(host.fsRoot, 'var', 'log', name), 'utf8') : '');

/** The deployment's security group rules, as "port cidr (description)". */
async function rules(): Promise<string[]> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment('web') }));
  return (out.SecurityGroups ?? []).flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort} ${r.CidrIp}${r.Description ? ` (${r.Description})` : ''}`))).sort();
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  certs = mkdtempSync(join(tmpdir(), 'sgl-e2e-certs-'));
  const ca = testCa(certs);
  caPath = ca.ca.certPath;
  issued = ca.issue('issued', [DOMAIN], { days: 90 });
  const untrusted = mkdtempSync(join(certs, 'traefik-'));
  traefikDefault = testCa(untrusted).issue('default', ['TRAEFIK DEFAULT CERT']);
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  dnsFile = join(home, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);

  // Traefik on 443: its default certificate until the ACME configuration is there and Let's Encrypt issued.
  https = createServer({ cert: traefikDefault.certPem, key: traefikDefault.keyPem }, (req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end(req.url === '/healthz' ? VERSION : 'not found');
  });
  await new Promise<void>((resolve) => https.listen(443, HOST_ADDRESS, resolve));
  let serving = 'default';
  watcher = setInterval(() => {
    const want = letsEncryptIssues && existsSync(manifest()) ? 'issued' : 'default';
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

describe('tls --tls acme with the real CLI (AWS on moto)', () => {
  const launched = ['22 203.0.113.7/32 (SSH for sourcegraph-launch)', '443 203.0.113.0/24 (HTTPS to Sourcegraph)', '80 203.0.113.0/24 (HTTP to Sourcegraph)'];

  it('refuses before anything changes (exit 2): no --acme-email, a bad one, files with acme, acme flags without it, and port 80 not accepted in CI', async () => {
    const execs = host.execLog().length;
    const cases: [string[], string][] = [
      [['--tls', 'acme', '--domain', DOMAIN], '--acme-email is required with --tls acme'],
      [['--tls', 'acme', '--domain', DOMAIN, '--acme-email', 'admin'], '--acme-email admin: not an e-mail address'],
      [[...ACME, '--tls-cert', caPath, '--i-know-port-80-is-public'], '--tls acme takes no --tls-cert'],
      [['--domain', DOMAIN, '--acme-email', 'admin@example.com', '--tls-cert', caPath, '--tls-key', caPath], '--acme-email only applies with --tls acme'],
      [['--tls', 'acme', '--acme-email', 'admin@example.com'], '--domain is required'],
      [ACME, '--i-know-port-80-is-public is required with --tls acme when not running interactively'],
      [['--tls', 'managed', '--domain', DOMAIN, '--acme-email', 'admin@example.com'], '--acme-email only applies with --tls acme'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['tls', 'web', ...REGION, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    // --yes is no consent to open port 80 to the world.
    const yes = await cli(['tls', 'web', ...REGION, ...ACME, '--yes']);
    expect(yes.code, yes.stderr).toBe(2);
    expect(yes.stderr).toContain('--i-know-port-80-is-public is required');
    expect(await rules()).toEqual(launched);
    expect(host.execLog().length).toBe(execs);
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);
  });

  it('opens 80 to the world (a marked rule), configures Traefik over SSH, waits for a certificate that verifies (exit 4 until Let\'s Encrypt issues); status shows its expiry', async () => {
    // Let's Encrypt cannot validate yet: Traefik serves its default certificate, which never verifies.
    letsEncryptIssues = false;
    const early = await cli(['tls', 'web', ...REGION, ...ACME, '--i-know-port-80-is-public', '--timeout', '0.02']);
    expect(early.code, early.stderr).toBe(4);
    expect(early.stderr).toContain(`https://${DOMAIN} did not serve a certificate that verifies in time`);
    expect(early.stderr).toContain('does not verify yet');
    expect(early.stderr).toMatch(/DNS: .* must resolve to the deployment's address/);
    expect(early.stderr).toContain('Port 80: http://sourcegraph.example.com/.well-known/acme-challenge/ must reach the instance');
    // What exists already: the rule (marked), the configuration on the instance.
    expect(await rules()).toEqual([...launched, "80 0.0.0.0/0 (Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme))"].sort());
    expect(existsSync(manifest())).toBe(true);
    const status0 = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status0.json<Record<string, unknown>>().https).toBeUndefined();

    // Issued: the same command again finds everything in place and ends at once.
    letsEncryptIssues = true;
    const r = await cli(['tls', 'web', ...REGION, ...ACME, '--i-know-port-80-is-public', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      name: 'web',
      domain: DOMAIN,
      url: `https://${DOMAIN}`,
      address: HOST_ADDRESS,
      way: 'acme',
      acme: { email: 'admin@example.com', ca: 'production', challenge: 'http-01', storedIn: '/mnt/data/.sourcegraph-launch/acme/store/acme.json' },
      port80: { rule: 'opened' },
      dns: 'resolves',
      certificate: { dnsNames: [DOMAIN], daysLeft: 89 },
      externalURL: { value: `https://${DOMAIN}`, setByTool: false },
    });
    expect(r.stdout + r.stderr).toContain('"externalURL": "https://sourcegraph.example.com"');
    expect(await rules()).toHaveLength(4);

    // On the instance: Traefik's chart configuration, the settings and the storage on the data disk.
    const m = readFileSync(manifest(), 'utf8');
    expect(m).toContain('kind: HelmChartConfig');
    expect(m).toContain('--certificatesresolvers.letsencrypt.acme.email=admin@example.com');
    expect(m).toContain('--certificatesresolvers.letsencrypt.acme.caserver=https://acme-v02.api.letsencrypt.org/directory');
    expect(m).toContain('--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web');
    expect(readFileSync(join(acmeDir(), 'settings'), 'utf8')).toBe(`domain=${DOMAIN}\nemail=admin@example.com\nca=production\n`);
    expect(statSync(join(acmeDir(), 'settings')).mode & 0o777).toBe(0o600);
    const store = statSync(join(acmeDir(), 'store', 'acme.json'));
    expect([store.uid, store.mode & 0o777]).toEqual([65532, 0o600]);
    expect(log('kubectl-applied.yaml')).toContain('traefik.ingress.kubernetes.io/router.tls.certresolver: letsencrypt');

    // status: the HTTPS URL, the certificate's expiry, and the probe of https://<domain> verified.
    const status = await cli(['status', 'web', ...REGION, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<{ https: Record<string, unknown> }>().https).toMatchObject({ url: `https://${DOMAIN}`, certificateDaysLeft: 89 });
    const text = await cli(['status', 'web', ...REGION, '--no-probe']);
    expect(text.stdout + text.stderr).toMatch(/certificate\s+valid until \S+ \(89 days\)/);
    // doctor: the certificate served now (Traefik renews it), and the marked rule is not taken for drift.
    const doctor = await cli(['doctor', 'web', ...REGION, '--json']);
    const checks = doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks;
    expect(checks.find((c) => c.id === 'tls-certificate')).toMatchObject({ status: 'pass', detail: expect.stringContaining('(89 days)') });
    expect(checks.find((c) => c.id === 'access-rules')).toMatchObject({ status: 'pass' });
  });

  it('tls --remove asks first, then closes only the port-80 rule it opened and removes the configuration from the instance', async () => {
    const refused = await cli(['tls', 'web', ...REGION, '--remove']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(await rules()).toHaveLength(4);

    const r = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ port80Rule: { outcome: 'closed' } });
    expect(await rules()).toEqual(launched);
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);
    expect(log('kubectl-deleted.log')).toContain('helmchartconfigs.helm.cattle.io/traefik');
    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.json<Record<string, unknown>>().https).toBeUndefined();
    // Again: nothing left to remove.
    const again = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<Record<string, unknown>>().port80Rule).toBeUndefined();
  });

  it("your own certificate afterwards replaces Let's Encrypt: its configuration and the port-80 rule go", async () => {
    const r = await cli(['tls', 'web', ...REGION, ...ACME, '--i-know-port-80-is-public', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await rules()).toHaveLength(4);
    const own = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', issued.certPath, '--tls-key', issued.keyPath, '--json']);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stderr).toContain('Closed port 80 to 0.0.0.0/0');
    expect(await rules()).toEqual(launched);
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);
    expect(readFileSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'tls', 'tls.crt'), 'utf8')).toBe(issued.certPem);
    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.json<{ https: Record<string, unknown> }>().https).toMatchObject({ url: `https://${DOMAIN}`, certificateDaysLeft: 89 });
  });
});
