// `tls` end to end: the real CLI process → moto for the cloud, and a test host with a real sshd
// standing in for the instance. The certificate files land on its (bind-mounted) data disk, the
// repository's provision/apply-tls.sh runs there as root, and its stub kubectl keeps what was
// applied (<fsRoot>/var/log/kubectl-applied.yaml). DNS answers come from a file the test writes
// (SGL_TEST_DNS_FILE): no DNS server is ever asked. Runs inside the test network namespace.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.85.2';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let host: TestHost;
let keyDir: string;
let home: string;
let certs: string;
let site: TestCert;
let other: TestCert;
let dnsFile: string;

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile } });
const tlsDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'tls');
const appliedPath = () => join(host.fsRoot, 'var', 'log', 'kubectl-applied.yaml');
const applied = () => (existsSync(appliedPath()) ? readFileSync(appliedPath(), 'utf8') : '');

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  certs = mkdtempSync(join(tmpdir(), 'sgl-e2e-certs-'));
  const ca = testCa(certs);
  site = ca.issue('site', [DOMAIN], { days: 90 });
  other = ca.issue('other', ['sourcegraph.example.org']);
  writeFileSync(join(certs, 'fullchain.pem'), site.certPem + ca.ca.certPem);
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  dnsFile = join(home, 'dns.txt');
  const ec2 = motoEc2Client(moto);
  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'web' });
  const launch = await runCli(
    ['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
    { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  for (const d of [keyDir, certs, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('tls with the real CLI', () => {
  it('refuses what does not fit before connecting (exit 2), and --tls managed with certificate files (--tls acme: tls-acme.e2e)', async () => {
    const before = host.execLog().length;
    const cases: [string[], string][] = [
      [['--tls', 'managed', '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath], '--tls managed takes no --tls-cert/--tls-key'],
      [['--tls-cert', site.certPath, '--tls-key', site.keyPath], '--domain is required'],
      [['--domain', DOMAIN, '--tls-cert', site.certPath], '--tls-key is required'],
      [['--domain', '*.example.com', '--tls-cert', site.certPath, '--tls-key', site.keyPath], 'not a host name'],
      [['--domain', DOMAIN, '--tls-cert', join(certs, 'missing.pem'), '--tls-key', site.keyPath], 'no such file'],
      [['--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', other.keyPath], 'is not the key of the certificate'],
      [['--domain', 'sourcegraph.example.net', '--tls-cert', site.certPath, '--tls-key', site.keyPath], `does not cover sourcegraph.example.net: it is for ${DOMAIN}`],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['tls', 'web', ...REGION, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(host.execLog().length).toBe(before);
    expect(existsSync(tlsDir())).toBe(false);
    const missing = await cli(['tls', 'nope', ...REGION, '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath]);
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stderr).toContain('No deployment named nope');
  });

  it('stores the certificate on the data disk, serves it for the domain, waits for DNS; status shows the HTTPS URL and expiry', async () => {
    // The name does not resolve yet: --timeout bounds the wait (exit 4), the certificate is already served.
    const early = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', join(certs, 'fullchain.pem'), '--tls-key', site.keyPath, '--timeout', '0.01']);
    expect(early.code, early.stderr).toBe(4);
    expect(early.stderr).toContain(`${DOMAIN} did not resolve to ${HOST_ADDRESS}`);
    expect(early.stdout + early.stderr).toContain(`${DOMAIN}.  A  ${HOST_ADDRESS}`);
    expect(readFileSync(join(tlsDir(), 'tls.crt'), 'utf8')).toBe(readFileSync(join(certs, 'fullchain.pem'), 'utf8'));

    // Resolving elsewhere: still not this deployment (exit 4, saying where it points).
    writeFileSync(dnsFile, `${DOMAIN} 192.0.2.50\n`);
    const elsewhere = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', join(certs, 'fullchain.pem'), '--tls-key', site.keyPath, '--timeout', '0.01']);
    expect(elsewhere.code, elsewhere.stderr).toBe(4);
    expect(elsewhere.stderr).toContain('(it resolves to 192.0.2.50)');
    // Now it points here: the wait ends at once.
    writeFileSync(dnsFile, `${DOMAIN} 192.0.2.50\n${DOMAIN} ${HOST_ADDRESS}\n`);
    const r = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', join(certs, 'fullchain.pem'), '--tls-key', site.keyPath, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      name: 'web',
      domain: DOMAIN,
      url: `https://${DOMAIN}`,
      address: HOST_ADDRESS,
      dnsRecord: { type: 'A', name: DOMAIN, value: HOST_ADDRESS },
      dns: 'resolves',
      certificate: { dnsNames: [DOMAIN], chainLength: 2, daysLeft: 89 },
      storedIn: '/mnt/data/.sourcegraph-launch/tls',
      externalURL: { value: `https://${DOMAIN}`, setByTool: false },
    });
    expect(r.stdout + r.stderr).toContain('"externalURL": "https://sourcegraph.example.com"');

    // On the data disk, root-only: what survives a new root disk.
    expect(readFileSync(join(tlsDir(), 'tls.key'), 'utf8')).toBe(site.keyPem);
    expect(readFileSync(join(tlsDir(), 'domain'), 'utf8')).toBe(`${DOMAIN}\n`);
    for (const f of ['tls.crt', 'tls.key', 'domain']) expect(statSync(join(tlsDir(), f)).mode & 0o777).toBe(0o600);
    expect(statSync(tlsDir()).mode & 0o777).toBe(0o700);
    // The key travelled by SFTP into a private directory, removed after: never on a command line.
    const commands = host.execLog();
    const decoded = commands.map((c) => /^echo (\S+) \| base64 -d/.exec(c)?.[1]).filter((b): b is string => !!b).map((b) => Buffer.from(b, 'base64').toString('utf8'));
    expect(decoded.some((script) => script.includes('/mnt/data/.sourcegraph-launch/tls'))).toBe(true);
    for (const text of [...commands, ...decoded]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(Buffer.from(site.keyPem).toString('base64').slice(0, 60));
    }
    const staged = commands.map((c) => /^rm -rf '(\/tmp\/sgl-tls\.\w+)'$/.exec(c)?.[1]).filter((d): d is string => !!d);
    expect(staged.length).toBeGreaterThan(0);
    for (const d of staged) expect(existsSync(d), d).toBe(false);
    // What the instance's kubectl was given: the secret with these files, the redirect, both ingresses.
    const last = applied().split('\n---\n').filter((d) => d.trim()).slice(-4).join('\n---\n');
    expect(last).toContain(`  tls.crt: ${Buffer.from(readFileSync(join(certs, 'fullchain.pem'))).toString('base64')}`);
    expect(last).toContain(`  tls.key: ${Buffer.from(site.keyPem).toString('base64')}`);
    expect(last).toContain('kind: Middleware');
    expect(last.match(new RegExp(`- host: ${DOMAIN.replace(/\./g, '\\.')}`, 'g'))).toHaveLength(2);
    expect(last).toContain('traefik.ingress.kubernetes.io/router.middlewares: default-sourcegraph-https-redirect@kubernetescrd');

    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']); // no probe: it would look the domain up
    expect(status.code, status.stderr).toBe(0);
    const https = status.json<{ https: { url: string; certificateNotAfter: string; certificateDaysLeft: number } }>().https;
    expect(https).toMatchObject({ url: `https://${DOMAIN}`, certificateDaysLeft: 89 });
    expect(Date.parse(https.certificateNotAfter)).toBeGreaterThan(Date.now() + 89 * 86_400_000);
    const text = await cli(['status', 'web', ...REGION, '--no-probe']);
    expect(text.stdout + text.stderr).toMatch(/HTTPS\s+https:\/\/sourcegraph\.example\.com/);
    expect(text.stdout + text.stderr).toMatch(/certificate\s+valid until \S+ \(89 days\)/);

    // --no-wait: no lookup at all, even with the name gone.
    writeFileSync(dnsFile, '');
    const nowait = await cli(['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath, '--no-wait', '--json']);
    expect(nowait.code, nowait.stderr).toBe(0);
    expect(nowait.json()).toMatchObject({ dns: 'not-checked', certificate: { chainLength: 1 } });
    expect(readFileSync(join(tlsDir(), 'tls.crt'), 'utf8')).toBe(site.certPem);
  });
});
