// `launch --domain --tls-cert --tls-key` end to end: the real CLI process → moto for the cloud, and
// a test host with a real sshd standing in for the instance (set up as in tls.e2e.test.ts). A
// certificate that does not fit exits 2 with nothing created; then one launch serves the
// certificate on the test host's data disk and waits until the name (from SGL_TEST_DNS_FILE: no
// DNS server is asked) resolves. Runs inside the test network namespace.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.134.2';
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
let pubKey: string;

const launchArgs = () => ['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', pubKey, '--ssh-user', 'root', '--hold-seconds', '1'];
const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 180_000, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile } });
const tlsDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'tls');

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  pubKey = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  certs = mkdtempSync(join(tmpdir(), 'sgl-e2e-certs-'));
  const ca = testCa(certs);
  site = ca.issue('site', [DOMAIN], { days: 90 });
  other = ca.issue('other', ['sourcegraph.example.org']);
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  dnsFile = join(home, 'dns.txt');
  await allocateTestAddress(motoEc2Client(moto), HOST_ADDRESS, { deployment: 'web' });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  for (const d of [keyDir, certs, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('launch --domain with the real CLI', () => {
  it('a certificate that does not fit exits 2 with nothing created', async () => {
    const r = await cli([...launchArgs(), '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', other.keyPath, '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('is not the key of the certificate');
    const found = deploymentResources(motoEc2Client(moto));
    expect(await found.liveInstances('web')).toHaveLength(0);
    expect(await found.groups('web')).toHaveLength(0);
    expect(await found.keyPairs('web')).toHaveLength(0);
    expect(host.execLog()).toHaveLength(0);
    // SSH closed to everyone: the certificate could never be installed, so nothing is launched.
    const closed = await cli([...launchArgs().map((a) => (a === '203.0.113.7/32' ? 'none' : a)), '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath, '--yes', '--json']);
    expect(closed.code, closed.stderr).toBe(2);
    expect(closed.json()).toMatchObject({ error: { code: 'bad-input', message: '--domain with --ssh-cidr none: HTTPS is set up on the instance over SSH, which none closes to everyone' } });
    expect(await found.liveInstances('web')).toHaveLength(0);
    expect(await found.groups('web')).toHaveLength(0);
  });

  it('launches, then serves the certificate for the domain and waits until it resolves', async () => {
    writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
    const r = await cli([...launchArgs(), '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath, '--no-dns', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      name: 'web',
      ready: true,
      tls: { domain: DOMAIN, url: `https://${DOMAIN}`, address: HOST_ADDRESS, dns: 'resolves', certificate: { dnsNames: [DOMAIN], daysLeft: 89 } },
    });
    expect(r.stdout + r.stderr).toContain(`HTTPS after the launch is ready: https://${DOMAIN}`);
    expect(r.stdout + r.stderr).toContain(`${DOMAIN}.  A  ${HOST_ADDRESS}`);
    expect(readFileSync(join(tlsDir(), 'tls.crt'), 'utf8')).toBe(site.certPem);
    expect(readFileSync(join(tlsDir(), 'tls.key'), 'utf8')).toBe(site.keyPem);
    expect(readFileSync(join(tlsDir(), 'domain'), 'utf8')).toBe(`${DOMAIN}\n`);
    const applied = join(host.fsRoot, 'var', 'log', 'kubectl-applied.yaml');
    expect(existsSync(applied) && readFileSync(applied, 'utf8')).toContain(`- host: ${DOMAIN}`);
    const status = await cli(['status', 'web', ...REGION, '--no-probe', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<{ https: { url: string } }>().https.url).toBe(`https://${DOMAIN}`);
  });
});
