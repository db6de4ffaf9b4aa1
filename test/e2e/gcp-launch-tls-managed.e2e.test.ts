// `launch --domain D --tls managed` on GCE end to end: the real CLI process → the GCE emulator
// (Compute and Cloud DNS) and a test host with a real sshd and /healthz standing in for the
// instance, so the launch's readiness wait really runs before the load balancer's steps. The
// emulator provisions the Google-managed certificate the way Google does: once a forwarding rule
// serves it and the domain's A record in Cloud DNS points at that rule's address (so the balancer
// and the record come first, then the wait for ACTIVE). The balancer itself is what the emulator
// only records: an HTTPS server on the test host's 443 stands in for it, serving the domain's
// certificate from a test CA the CLI trusts (NODE_EXTRA_CA_CERTS); the domain's lookups come from
// SGL_TEST_DNS_FILE. So the probe of https://<domain>/healthz after the install is a real, verified
// TLS handshake. Runs inside the test network namespace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toEncodedLabels } from '../../src/core/labels.js';
import { testCa } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const HOST_ADDRESS = '10.200.185.2';
const REGION = 'us-central1';
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';
const LB_RANGES = ['130.211.0.0/22', '35.191.0.0/16'];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

describe('launch --domain --tls managed on GCE (GCE emulator + Cloud DNS + test host)', () => {
  let gce: GceEmulator;
  let client: GceTestClient;
  let host: TestHost;
  let dir: string;
  let home: string;
  let env: Record<string, string>;
  let pubKey: string;
  let balancer: Server;
  const balancerRequests: string[] = [];

  const where = () => ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
  const launchArgs = () => [
    'launch', 'web', '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-12-5040`, '--allow-cidr', ALLOW,
    '--ssh-cidr', '203.0.113.7/32', '--ssh-key', pubKey, '--ssh-user', 'root', '--hold-seconds', '0',
  ];
  const managed = ['--domain', DOMAIN, '--tls', 'managed'];
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli([...args, ...where()], { env: { ...env, ...extra }, home, timeoutMs: 240_000 });

  const lbParts = () => {
    const s = gce.control.state();
    const names = (xs: Record<string, unknown>[]) => xs.map((x) => String(x.name)).sort();
    return { sslCertificates: names(s.sslCertificates), forwardingRules: names(s.forwardingRules), backendServices: names(s.backendServices), globalAddresses: names(s.addresses.filter((a) => !a.region)) };
  };
  const NOTHING = { sslCertificates: [], forwardingRules: [], backendServices: [], globalAddresses: [] };
  const instances = () => gce.control.state().instances.map((i) => String((i as Record<string, unknown>).name));
  async function aRecords(): Promise<{ name: string; type: string; rrdatas: string[] }[]> {
    const out = await client.call<{ rrsets?: { name: string; type: string; rrdatas: string[] }[] }>('GET', `/dns/v1/projects/${gce.project}/managedZones/example/rrsets`);
    return (out.body.rrsets ?? []).filter((r) => r.type === 'A');
  }
  async function webRules(): Promise<Record<string, string[]>> {
    const items = ((await client.get<{ items?: Record<string, any>[] }>('global/firewalls')).body.items ?? []).filter((f) => /-(80|443)$/.test(String(f.name)) && String(f.name).includes('web'));
    return Object.fromEntries(items.map((f) => [String(f.name).replace(/^.*-/, ''), [...(f.sourceRanges as string[])].sort()]));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sgl-gce-launch-managed-'));
    const key = await createClientKey(dir);
    pubKey = `${key.privateKeyPath}.pub`;
    host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
    // GCE images keep the root version file in the home of their login user, sourcegraph.
    symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
    gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
    client = new GceTestClient(gce.endpoint, gce.project);
    home = join(dir, 'home');
    mkdirSync(join(dir, 'ca'));
    const ca = testCa(join(dir, 'ca'));
    const site = ca.issue('site', [DOMAIN], { days: 90 });
    // The balancer's HTTPS as users reach it (and the instance's 443 for the readiness wait): the domain's certificate, /healthz answered.
    balancer = createServer({ cert: site.certPem, key: site.keyPem }, (req, res) => {
      balancerRequests.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
      res.writeHead(req.url === '/healthz' ? 200 : 404).end(req.url === '/healthz' ? `ok ${VERSION}` : '');
    });
    await new Promise<void>((resolve) => balancer.listen(443, HOST_ADDRESS, resolve));
    const dnsFile = join(dir, 'dns.txt');
    writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
    env = { ...gceCliEnv(gce, dir), SGL_TEST_POLL_MS: '50', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: ca.ca.certPath };
    await client.mutate('POST', 'global/images', {
      name: 'sourcegraph-6-12-5040',
      sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
      labels: toEncodedLabels({ version: VERSION, build: 'b-6-12-5040', role: 'image', managed: 'true' }),
    });
    // The deployment's address is the test host's (reserved as launch would, so launch uses it).
    await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'web-address', address: HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'web', managed: 'true', role: 'address' }) });
    const zone = await client.call('POST', `/dns/v1/projects/${gce.project}/managedZones`, { body: { name: 'example', dnsName: 'example.com.', description: "the user's zone", visibility: 'public' } });
    expect(zone.status, JSON.stringify(zone.body)).toBe(200);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (balancer ? balancer.close(() => resolve()) : resolve()));
    await host?.stop();
    await gce?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('bad input exits 2 with nothing created: certificate files, no --yes in CI (the GCE plan and cost printed)', async () => {
    const files = await cli([...launchArgs(), ...managed, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--yes']);
    expect(files.code, files.stderr).toBe(2);
    expect(files.stderr).toContain('--tls managed takes no --tls-cert/--tls-key');

    const noYes = await cli([...launchArgs(), ...managed]);
    expect(noYes.code, noYes.stderr).toBe(2);
    const out = noYes.stdout + noYes.stderr;
    expect(out).toMatch(/It adds, at us-central1 list prices of \d{4}-\d\d-\d\d \(an estimate\): ≈ \$22\.70\/month/);
    expect(noYes.stderr).toContain('--yes is required with --tls managed when not running interactively');

    expect(instances()).toEqual([]);
    expect(lbParts()).toEqual(NOTHING);
    expect(host.execLog()).toHaveLength(0);
  });

  it('the dry run says what GCE does (no validation record: issued once served and the A record resolves)', async () => {
    const r = await cli([...launchArgs(), ...managed, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain('through a global external Application Load Balancer with a Google-managed certificate');
    expect(out).toContain(`its A record is set there to the balancer's address`);
    expect(out).not.toContain('validation record');
    const j = await cli([...launchArgs(), ...managed, '--dry-run', '--json']);
    expect(j.json<Record<string, any>>().tls.managed).toMatchObject({ certificate: 'Google-managed, issued once the load balancer serves it and the A record resolves', monthlyCost: { totalUsd: 22.7 } });
    expect(instances()).toEqual([]);
    expect(lbParts()).toEqual(NOTHING);
  });

  it('killed mid-way through the balancer, then re-run: the launch is ready, the balancer and A record made, the certificate ACTIVE, https://<domain> probed; again changes nothing; destroy deletes it all', async () => {
    const killed = await cli([...launchArgs(), ...managed, '--yes'], { SGL_TEST_FAULT: 'after:listeners' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(killed.stdout + killed.stderr).toContain('through a global external Application Load Balancer with a Google-managed certificate');
    expect(host.requests.some((p) => p.startsWith('/healthz')) || balancerRequests.length > 0).toBe(true);
    expect(lbParts().forwardingRules).toEqual(['sgl-web-http', 'sgl-web-https']);
    expect(await webRules()).toEqual({ 80: [ALLOW], 443: [ALLOW] });

    const r = await cli([...launchArgs(), ...managed, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    const res = r.json<Record<string, any>>();
    const ip = String((gce.control.state().addresses.find((a) => a.name === 'sgl-web-ip') as Record<string, any>).address);
    expect(res).toMatchObject({
      name: 'web',
      ready: true,
      tls: { url: `https://${DOMAIN}`, state: 'served', certificate: { status: 'issued', renewal: 'automatic (Google-managed)' }, dnsRecord: { name: DOMAIN, type: 'A', value: ip, setInZone: 'example.com' } },
      https: { url: `https://${DOMAIN}`, ok: true, status: 200 },
    });
    expect(r.stderr).toContain(`https://${DOMAIN} answers /healthz with a verified certificate.`);
    expect(balancerRequests).toContain(`${DOMAIN}/healthz`);
    const s = gce.control.state();
    expect(s.sslCertificates).toHaveLength(1);
    expect(s.sslCertificates[0]).toMatchObject({ type: 'MANAGED', managed: { domains: [DOMAIN], status: 'ACTIVE' } });
    expect(await aRecords()).toEqual([expect.objectContaining({ name: `${DOMAIN}.`, rrdatas: [ip] })]);
    expect(await webRules()).toEqual({ 80: LB_RANGES, 443: LB_RANGES });
    expect(instances()).toHaveLength(1);

    // The same command once more: the launch stays behind the balancer (80/443 not opened again), nothing made twice.
    const again = await cli([...launchArgs(), ...managed, '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('the launch\'s own steps are done');
    expect(again.json()).toMatchObject({ ready: true, tls: { state: 'served', certificate: { id: res.tls.certificate.id } }, https: { ok: true } });
    expect(await webRules()).toEqual({ 80: LB_RANGES, 443: LB_RANGES });
    expect(lbParts()).toEqual({ sslCertificates: [res.tls.certificate.id], forwardingRules: ['sgl-web-http', 'sgl-web-https'], backendServices: ['sgl-web-be'], globalAddresses: ['sgl-web-ip'] });
    expect(instances()).toHaveLength(1);

    const d = await cli(['destroy', 'web', '--yes', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(lbParts()).toEqual(NOTHING);
    expect(await aRecords()).toEqual([]);
  });
});
