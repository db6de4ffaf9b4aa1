// `tls --tls acme` on GCE end to end: the real CLI process (`--cloud gcp`) → the GCE emulator for
// Compute (the firewall rule to the world, marked in its description, aimed at the deployment's
// network tag) and Cloud DNS (the user's managed zone: the A record), and a test host with a real
// sshd standing in for the VM behind the deployment's static address: provision/apply-acme.sh runs
// there as root and writes Traefik's HelmChartConfig. Let's Encrypt and Traefik are what this test
// stands in for, as in tls-acme.e2e.test.ts: an HTTPS server on <host>:443 serves an untrusted
// "Traefik default" certificate until that manifest exists, then one for the domain from the test CA
// (trusted through NODE_EXTRA_CA_CERTS). DNS answers come from SGL_TEST_DNS_FILE. Nothing reaches Google.
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toEncodedLabels } from '../../src/core/labels.js';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const HOST_ADDRESS = '10.200.175.2';
const REGION = 'us-central1';
const DOMAIN = 'sourcegraph.example.com';
const ACME = ['--tls', 'acme', '--domain', DOMAIN, '--acme-email', 'admin@example.com'];
const MARK = "Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme)";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let dir: string;
let home: string;
let env: Record<string, string>;
let publicKeyPath: string;
let caPath: string;
let issued: TestCert;
let traefikDefault: TestCert;
let https: Server;
let watcher: NodeJS.Timeout;

const where = () => ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
const cli = (args: string[], timeoutMs = 120_000) => runCli([...args, ...where()], { env, home, timeoutMs });
const launchArgs = (sshCidr: string) => [
  'launch', 'web', '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-12-5040`, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', sshCidr,
  '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '0', '--json',
];
const acmeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'acme');
const manifest = () => join(host.fsRoot, 'var', 'lib', 'rancher', 'k3s', 'server', 'manifests', 'sourcegraph-acme-traefik.yaml');

/** Every firewall rule of the project but the default network's, as "name port cidrs → tags [why]". */
async function firewalls(): Promise<string[]> {
  const items = (await client.get<{ items?: Record<string, any>[] }>('global/firewalls')).body.items ?? [];
  return items
    .filter((f) => !String(f.name).startsWith('default-'))
    .map((f) => {
      const ports = (f.allowed as { ports?: string[] }[]).flatMap((a) => a.ports ?? []).join(',');
      const why = /"why":"([^"]+)"/.exec(String(f.description ?? ''))?.[1];
      return `${f.name} ${ports} ${(f.sourceRanges ?? f.sourceTags ?? []).join(',')} → ${(f.targetTags ?? []).join(',')}${why ? ` [${why}]` : ''}`;
    })
    .sort();
}

async function aRecord(): Promise<string[] | undefined> {
  const out = await client.call<{ rrsets?: { name: string; type: string; rrdatas: string[] }[] }>('GET', `/dns/v1/projects/${gce.project}/managedZones/users-zone/rrsets`);
  return out.body.rrsets?.find((r) => r.type === 'A' && r.name === `${DOMAIN}.`)?.rrdatas;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-acme-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  // GCE images keep the root version file in the home of their login user, sourcegraph.
  symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  home = mkdtempSync(join(tmpdir(), 'sgl-gce-acme-home-'));
  const dnsFile = join(dir, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
  const certs = mkdtempSync(join(dir, 'certs-'));
  const ca = testCa(certs);
  caPath = ca.ca.certPath;
  issued = ca.issue('issued', [DOMAIN], { days: 90 });
  traefikDefault = testCa(mkdtempSync(join(certs, 'traefik-'))).issue('default', ['TRAEFIK DEFAULT CERT']);
  env = { ...gceCliEnv(gce, dir), SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath };

  // Traefik on 443: its default certificate until the ACME configuration is there (Let's Encrypt issued).
  https = createServer({ cert: traefikDefault.certPem, key: traefikDefault.keyPem }, (req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end(req.url === '/healthz' ? VERSION : 'not found');
  });
  await new Promise<void>((resolve) => https.listen(443, HOST_ADDRESS, resolve));
  let serving = 'default';
  watcher = setInterval(() => {
    const want = existsSync(manifest()) ? 'issued' : 'default';
    if (want === serving) return;
    serving = want;
    const cert = want === 'issued' ? issued : traefikDefault;
    https.setSecureContext({ cert: cert.certPem, key: cert.keyPem });
  }, 50);

  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-12-5040',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: toEncodedLabels({ version: VERSION, build: 'b-6-12-5040', role: 'image', managed: 'true' }),
  });
  // The deployment's address is the test host's (reserved as launch would, so launch uses it).
  await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'web-address', address: HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'web', managed: 'true', role: 'address' }) });
  const launched = await cli(launchArgs('203.0.113.7/32'));
  expect(launched.code, launched.stderr).toBe(0);
});

afterAll(async () => {
  clearInterval(watcher);
  await new Promise((resolve) => (https ? https.close(resolve) : resolve(undefined)));
  await host?.stop();
  await gce?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('tls --tls acme on GCE with the real CLI (GCE emulator + Cloud DNS + test host)', () => {
  // The deployment's network tag (its access policy's id) and launch's rules for it.
  const tag = 'sourcegraph-launch-web';
  const launched = (ssh = '203.0.113.7/32') => [`${tag}-22 22 ${ssh} → ${tag}`, `${tag}-443 443 203.0.113.0/24 → ${tag}`, `${tag}-80 80 203.0.113.0/24 → ${tag}`];
  const acmeRule = `${tag}-80-acme 80 0.0.0.0/0 → ${tag} [${MARK}]`;

  it('refuses without consent to open port 80 to the world (exit 2; --yes is no consent): no rule, nothing on the instance', async () => {
    const execs = host.execLog().length;
    for (const extra of [[], ['--yes']]) {
      const r = await cli(['tls', 'web', ...ACME, ...extra]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('--i-know-port-80-is-public is required with --tls acme when not running interactively');
    }
    expect(await firewalls()).toEqual(launched());
    expect(host.execLog().length).toBe(execs);
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);
  });

  it('a cloud error opening the rule (permission denied): exit 3, nothing on the instance, no DNS record', async () => {
    const zone = await client.call('POST', `/dns/v1/projects/${gce.project}/managedZones`, { body: { name: 'users-zone', dnsName: 'example.com.', description: "the user's", visibility: 'public' } });
    expect(zone.status, JSON.stringify(zone.body)).toBe(200);
    const execs = host.execLog().length;
    gce.control.injectFault({ method: 'firewalls.insert', error: { kind: 'http', status: 403, reason: 'forbidden', message: `Required 'compute.firewalls.create' permission for 'projects/${gce.project}/global/firewalls/x'` }, times: 1 });
    const r = await cli(['tls', 'web', ...ACME, '--i-know-port-80-is-public', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain('compute.firewalls.create');
    expect(await firewalls()).toEqual(launched());
    expect(await aRecord()).toBeUndefined();
    expect(host.execLog().length).toBe(execs);
    expect(existsSync(manifest())).toBe(false);
  });

  it('opens 80 to the world as a marked firewall rule, sets the A record in the Cloud DNS zone, configures Traefik, waits for a certificate that verifies', async () => {
    const r = await cli(['tls', 'web', ...ACME, '--i-know-port-80-is-public', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      name: 'web',
      domain: DOMAIN,
      address: HOST_ADDRESS,
      way: 'acme',
      acme: { email: 'admin@example.com', ca: 'production', challenge: 'http-01' },
      port80: { policyId: tag, rule: 'opened' },
      dnsZone: { id: 'users-zone', name: 'example.com', change: 'created' },
      dns: 'resolves',
      certificate: { dnsNames: [DOMAIN], daysLeft: 89 },
    });
    expect(await firewalls()).toEqual([...launched(), acmeRule].sort());
    expect(await aRecord()).toEqual([HOST_ADDRESS]);
    expect(readFileSync(manifest(), 'utf8')).toContain('--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web');
    expect(readFileSync(join(acmeDir(), 'settings'), 'utf8')).toBe(`domain=${DOMAIN}\nemail=admin@example.com\nca=production\n`);

    // Again: everything is in place, nothing changes.
    const again = await cli(['tls', 'web', ...ACME, '--i-know-port-80-is-public', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ port80: { rule: 'opened' }, dnsZone: { change: 'unchanged' } });
    expect(await firewalls()).toEqual([...launched(), acmeRule].sort());

    const status = await cli(['status', 'web', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<{ https: Record<string, unknown> }>().https).toMatchObject({ url: `https://${DOMAIN}`, certificateDaysLeft: 89 });
    // doctor: the marked rule is not taken for drift.
    const doctor = await cli(['doctor', 'web', '--json']);
    const checks = doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks;
    expect(checks.find((c) => c.id === 'access-rules')).toMatchObject({ status: 'pass' });
    expect(checks.find((c) => c.id === 'tls-certificate')).toMatchObject({ status: 'pass' });
  });

  it('launch --update narrows SSH and leaves the marked rule alone', async () => {
    const update = await cli([...launchArgs('203.0.113.8/32'), '--update', '--yes']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).toContain('22 (SSH) to 203.0.113.7/32');
    expect(update.stderr).not.toMatch(/close\s+80 to 0\.0\.0\.0\/0/);
    expect(await firewalls()).toEqual([...launched('203.0.113.8/32'), acmeRule].sort());
  });

  it("tls --remove closes only the marked rule (a rule of the user's to the world stays), deletes its A record; destroy removes the rest", async () => {
    // The user's own rule opening 80 to the world for the same tag: never the tool's to close.
    await client.mutate('POST', 'global/firewalls', { name: 'users-http', network: 'global/networks/default', allowed: [{ IPProtocol: 'tcp', ports: ['80'] }], sourceRanges: ['0.0.0.0/0'], targetTags: [tag] });
    const userRule = `users-http 80 0.0.0.0/0 → ${tag}`;
    const r = await cli(['tls', 'web', '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ port80Rule: { outcome: 'closed' } });
    expect(await firewalls()).toEqual([...launched('203.0.113.8/32'), userRule].sort());
    expect(await aRecord()).toBeUndefined();
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);

    const destroyed = await cli(['destroy', 'web', '--yes', '--json']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(await firewalls()).toEqual([userRule]);
  });
});
