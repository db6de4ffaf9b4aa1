// `tls --tls managed` on GCE end to end: the real CLI process → the GCE emulator (Compute and Cloud
// DNS). No test host: nothing of it goes over SSH, and nothing is contacted (the load balancer's
// address is a documentation-range address the emulator hands out). The emulator provisions a
// Google-managed certificate the way Google does: once a forwarding rule serves it and the domain's
// A record in Cloud DNS points at that rule's address. So with the user's zone in the project the
// whole path runs (then its removal, an interrupted run and destroy); without one the certificate
// never turns ACTIVE (the --no-wait stop, the timeout, the resume).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toEncodedLabels } from '../../src/core/labels.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';

const VERSION = '6.12.5040';
const REGION = 'us-central1';
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';
const LB_RANGES = ['130.211.0.0/22', '35.191.0.0/16'];

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

interface World {
  gce: GceEmulator;
  client: GceTestClient;
  dir: string;
  home: string;
  env: Record<string, string>;
}

async function world(): Promise<World> {
  const gce = await startGceEmulator();
  const client = new GceTestClient(gce.endpoint, gce.project);
  const dir = mkdtempSync(join(tmpdir(), 'sgl-gce-managed-'));
  const home = join(dir, 'home');
  const env = gceCliEnv(gce, dir);
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-12-5040',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: toEncodedLabels({ version: VERSION, build: 'b-6-12-5040', role: 'image', managed: 'true' }),
  });
  const w = { gce, client, dir, home, env };
  const launch = await cliIn(w)(['launch', '--name', 'web', '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-12-5040`, '--allow-cidr', ALLOW, '--ssh-cidr', 'none', '--address', 'none', '--no-wait', '--yes', '--json']);
  expect(launch.code, launch.stderr).toBe(0);
  return w;
}

async function stopWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.gce.stop();
  rmSync(w.dir, { recursive: true, force: true });
}

const cliIn = (w: World) => (args: string[], extra: CliOptions = {}) =>
  runCli([...args, '--cloud', 'gcp', '--project', w.gce.project, '--region', REGION], { home: w.home, timeoutMs: 150_000, ...extra, env: { ...w.env, SGL_TEST_POLL_MS: '50', ...extra.env } });
const managedArgs = ['tls', 'web', '--domain', DOMAIN, '--tls', 'managed'];

async function dnsCall(w: World, method: string, path: string, body?: unknown) {
  const r = await fetch(`${w.gce.endpoint}/dns/v1/projects/${w.gce.project}/${path}`, { method, headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}
const aRecords = async (w: World) => ((await dnsCall(w, 'GET', 'managedZones/example/rrsets')).body.rrsets as { name: string; type: string; rrdatas: string[] }[]).filter((r) => r.type === 'A');

/** The deployment's own 80/443 firewall rules: port → source ranges. */
async function webRules(w: World): Promise<Record<string, string[]>> {
  const items = ((await w.client.get<{ items?: Record<string, any>[] }>('global/firewalls')).body.items ?? []).filter((f) => /-(80|443)$/.test(String(f.name)) && String(f.name).includes('web'));
  return Object.fromEntries(items.map((f) => [String(f.name).replace(/^.*-/, ''), [...(f.sourceRanges as string[])].sort()]));
}

/** Every part of the load balancer that exists, by kind (names). */
function lbParts(w: World): Record<string, string[]> {
  const s = w.gce.control.state();
  const names = (xs: Record<string, unknown>[]) => xs.map((x) => String(x.name)).sort();
  return {
    sslCertificates: names(s.sslCertificates),
    instanceGroups: names(s.instanceGroups),
    healthChecks: names(s.healthChecks),
    backendServices: names(s.backendServices),
    urlMaps: names(s.urlMaps),
    targetHttpsProxies: names(s.targetHttpsProxies),
    targetHttpProxies: names(s.targetHttpProxies),
    forwardingRules: names(s.forwardingRules),
    globalAddresses: names(s.addresses.filter((a) => !a.region)),
    firewalls: names(s.firewalls.filter((f) => String(f.name).startsWith('sgl-'))),
  };
}
const NOTHING = { sslCertificates: [], instanceGroups: [], healthChecks: [], backendServices: [], urlMaps: [], targetHttpsProxies: [], targetHttpProxies: [], forwardingRules: [], globalAddresses: [], firewalls: [] };

describe('tls --tls managed on GCE: the domain\'s zone is in the project (the certificate is issued once served)', () => {
  let w: World;
  let cli: ReturnType<typeof cliIn>;
  let rulesBefore: Record<string, string[]>;

  beforeAll(async () => {
    w = await world();
    cli = cliIn(w);
    expect((await dnsCall(w, 'POST', 'managedZones', { name: 'example', dnsName: 'example.com.', description: 'the user\'s zone', visibility: 'public' })).status).toBe(200);
    rulesBefore = await webRules(w);
  });
  afterAll(() => stopWorld(w));

  it('prints the monthly cost and asks: without --yes in CI exit 2, nothing created', async () => {
    expect(rulesBefore).toEqual({ 80: [ALLOW], 443: [ALLOW] });
    const r = await cli(managedArgs);
    expect(r.code, r.stderr).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/It adds, at us-central1 list prices of \d{4}-\d\d-\d\d \(an estimate\): ≈ \$22\.70\/month/);
    expect(out).toContain('forwarding rules         $18.25/month');
    expect(out).toContain('global IPv4 address      $3.65/month');
    expect(out).toContain('data processed           $0.80/month');
    expect(out).toContain('a Google-managed certificate for the domain');
    expect(out).toContain(`NOTE: the load balancer answers any address: ${ALLOW}`);
    expect(out).toContain(`the A record ${DOMAIN} → the load balancer's address in the zone example.com`);
    expect(r.stderr).toContain('--yes is required');
    expect(lbParts(w)).toEqual(NOTHING);
  });

  it('creates the certificate, instance group, health check, backend service, URL maps, proxies, address, forwarding rules, firewall rule and A record; narrows 80/443; served', async () => {
    const r = await cli([...managedArgs, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = r.json<Record<string, any>>();
    expect(res).toMatchObject({ name: 'web', domain: DOMAIN, url: `https://${DOMAIN}`, state: 'served', certificate: { status: 'issued', renewal: 'automatic (Google-managed)' }, dnsRecord: { name: DOMAIN, type: 'A', setInZone: 'example.com' } });
    expect(res.validationRecord).toBeUndefined();
    expect(res.certificate.notAfter).toMatch(/^\d{4}-/);
    expect(res.monthlyCost.totalUsd).toBe(22.7);

    const s = w.gce.control.state();
    expect(lbParts(w)).toEqual({
      sslCertificates: [res.certificate.id],
      instanceGroups: ['sgl-web-ig'],
      healthChecks: ['sgl-web-hc'],
      backendServices: ['sgl-web-be'],
      urlMaps: ['sgl-web-https', 'sgl-web-redirect'],
      targetHttpsProxies: ['sgl-web-https-proxy'],
      targetHttpProxies: ['sgl-web-http-proxy'],
      forwardingRules: ['sgl-web-http', 'sgl-web-https'],
      globalAddresses: ['sgl-web-ip'],
      firewalls: ['sgl-web-lb'],
    });
    const cert = s.sslCertificates[0] as Record<string, any>;
    expect(cert).toMatchObject({ type: 'MANAGED', managed: { domains: [DOMAIN], status: 'ACTIVE' } });
    const ip = String((s.addresses.find((a) => a.name === 'sgl-web-ip') as Record<string, any>).address);
    expect(res.dnsRecord.value).toBe(ip);
    expect(res.loadBalancer).toEqual({ id: 'sgl-web', dnsName: ip });

    // The instance group holds the instance on https:443; the backend speaks HTTPS to it, health-checked on /healthz.
    const group = s.instanceGroups[0] as Record<string, any>;
    expect(group.namedPorts).toEqual([{ name: 'https', port: 443 }]);
    expect(group.size).toBe(1);
    expect(s.healthChecks[0]).toMatchObject({ type: 'HTTPS', httpsHealthCheck: { port: 443, requestPath: '/healthz' } });
    expect(s.backendServices[0]).toMatchObject({ protocol: 'HTTPS', portName: 'https', loadBalancingScheme: 'EXTERNAL_MANAGED', backends: [{ group: group.selfLink }] });
    const maps = Object.fromEntries(s.urlMaps.map((m) => [m.name, m as Record<string, any>]));
    expect(maps['sgl-web-https']!.defaultService).toBe((s.backendServices[0] as Record<string, any>).selfLink);
    expect(maps['sgl-web-redirect']!.defaultUrlRedirect).toMatchObject({ httpsRedirect: true, redirectResponseCode: 'MOVED_PERMANENTLY_DEFAULT' });
    expect(s.targetHttpsProxies[0]).toMatchObject({ sslCertificates: [cert.selfLink], urlMap: maps['sgl-web-https']!.selfLink });
    const rules = Object.fromEntries(s.forwardingRules.map((f) => [f.name, f as Record<string, any>]));
    expect(rules['sgl-web-https']).toMatchObject({ IPAddress: ip, portRange: '443-443', loadBalancingScheme: 'EXTERNAL_MANAGED' });
    expect(rules['sgl-web-http']).toMatchObject({ IPAddress: ip, portRange: '80-80', target: (s.targetHttpProxies[0] as Record<string, any>).selfLink });

    // The instance's 80/443: only Google's load balancer ranges now, and our rule lets them in.
    expect(await webRules(w)).toEqual({ 80: LB_RANGES, 443: LB_RANGES });
    expect(s.firewalls.find((f) => f.name === 'sgl-web-lb')).toMatchObject({ sourceRanges: ['35.191.0.0/16', '130.211.0.0/22'], allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }] });
    expect(res.replacedAccess.rules).toEqual(expect.arrayContaining([{ port: 443, cidr: ALLOW }, { port: 80, cidr: ALLOW }]));
    expect(await aRecords(w)).toEqual([expect.objectContaining({ name: `${DOMAIN}.`, rrdatas: [ip] })]);
  });

  it('a second run changes nothing; status shows the URL, the address and the certificate', async () => {
    const before = lbParts(w);
    const r = await cli([...managedArgs, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    expect(lbParts(w)).toEqual(before);
    const status = await cli(['status', 'web', '--no-probe', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<Record<string, any>>().managedHttps).toMatchObject({ url: `https://${DOMAIN}`, certificateStatus: 'issued', installed: true, renewal: 'automatic (Google-managed)' });
  });

  it('tls --remove deletes every part in dependency order, restores 80/443 and deletes the A record; the zone stays', async () => {
    const r = await cli(['tls', 'web', '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Record<string, any>>().restoredAccess.rules).toEqual(expect.arrayContaining([{ port: 443, cidr: ALLOW }]));
    expect(lbParts(w)).toEqual(NOTHING);
    expect(await webRules(w)).toEqual(rulesBefore);
    expect(await aRecords(w)).toEqual([]);
    expect((await dnsCall(w, 'GET', 'managedZones/example')).status).toBe(200);
  });

  it('killed right after the address and URL map are made (before the journal says so): --remove finds and deletes every part', async () => {
    const killed = await cli([...managedArgs, '--yes'], { env: { SGL_TEST_FAULT: 'after:balancer' } });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(lbParts(w).globalAddresses).toEqual(['sgl-web-ip']);
    expect(lbParts(w).urlMaps).toEqual(['sgl-web-https']);
    const removed = await cli(['tls', 'web', '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(lbParts(w)).toEqual(NOTHING);
    expect(await webRules(w)).toEqual(rulesBefore);
  });

  it('killed right after the proxies and forwarding rules are made: a re-run finds them and goes on; destroy then deletes it all', async () => {
    const killed = await cli([...managedArgs, '--yes'], { env: { SGL_TEST_FAULT: 'after:listeners' } });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(lbParts(w).forwardingRules).toEqual(['sgl-web-http', 'sgl-web-https']);
    expect(await webRules(w)).toEqual(rulesBefore);

    const r = await cli([...managedArgs, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    expect(r.json()).toMatchObject({ state: 'served' });
    expect(lbParts(w).forwardingRules).toEqual(['sgl-web-http', 'sgl-web-https']);
    expect(lbParts(w).sslCertificates).toHaveLength(1);

    const d = await cli(['destroy', 'web', '--yes', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.json<Record<string, any>>().managedHttps.deleted.length).toBeGreaterThan(4);
    expect(lbParts(w)).toEqual(NOTHING);
    expect(await aRecords(w)).toEqual([]);
  });
});

describe('tls --tls managed on GCE: no zone in the project (the certificate stays PROVISIONING)', () => {
  let w: World;
  let cli: ReturnType<typeof cliIn>;

  beforeAll(async () => {
    w = await world();
    cli = cliIn(w);
  });
  afterAll(() => stopWorld(w));

  it('bad input exits 2 with nothing created', async () => {
    const files = await cli([...managedArgs, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--yes']);
    expect(files.code, files.stderr).toBe(2);
    expect(files.stderr).toContain('--tls managed takes no --tls-cert/--tls-key');
    const timeout = await cli([...managedArgs, '--timeout', 'soon', '--yes']);
    expect(timeout.code, timeout.stderr).toBe(2);
    expect(lbParts(w)).toEqual(NOTHING);
  });

  it('without credentials exit 3, nothing created; a cloud error mid-way exits with its code and a re-run goes on from there', async () => {
    const noCreds = await cli([...managedArgs, '--yes'], { env: { GOOGLE_APPLICATION_CREDENTIALS: join(w.dir, 'missing.json') } });
    expect(noCreds.code, noCreds.stderr).toBe(3);
    expect(lbParts(w)).toEqual(NOTHING);

    w.gce.control.injectFault({ method: 'backendServices.insert', times: 1, error: { kind: 'http', status: 403, reason: 'forbidden', message: "Required 'compute.backendServices.create' permission for 'projects/sgl-test-project/global/backendServices/sgl-web-be'" } });
    const denied = await cli([...managedArgs, '--yes', '--no-wait']);
    expect(denied.code, denied.stderr).toBe(3);
    expect(denied.stderr).toContain('compute.backendServices.create');
    expect(lbParts(w)).toMatchObject({ instanceGroups: ['sgl-web-ig'], healthChecks: ['sgl-web-hc'], backendServices: [], forwardingRules: [] });
    w.gce.control.clearFaults();
  });

  it('--no-wait builds the load balancer, prints the A record and stops; a bounded wait exits 4; a re-run goes on; --remove deletes it all', async () => {
    // Goes on from the failure above: the parts made before it are found, not made again.
    const first = await cli([...managedArgs, '--yes', '--no-wait', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('Resuming tls --tls managed');
    const res = first.json<Record<string, any>>();
    expect(res).toMatchObject({ state: 'pending-validation', certificate: { status: 'pending' }, dnsRecord: { name: DOMAIN, type: 'A' } });
    expect(res.dnsRecord.setInZone).toBeUndefined();
    expect(first.stderr).toContain(`${DOMAIN}.  A  ${res.dnsRecord.value}`);
    expect(lbParts(w).forwardingRules).toEqual(['sgl-web-http', 'sgl-web-https']);
    const cert = w.gce.control.state().sslCertificates[0] as Record<string, any>;
    expect(cert.managed.status).toBe('PROVISIONING');

    const timedOut = await cli([...managedArgs, '--timeout', '0.01']);
    expect(timedOut.code, timedOut.stderr).toBe(4);
    expect(timedOut.stderr).toContain('was not issued within');
    expect(timedOut.stderr).toContain(`It is issued once ${DOMAIN} resolves to ${res.dnsRecord.value}`);
    // Said again on the resume, while the certificate waits for it.
    expect(timedOut.stdout).toContain(`${DOMAIN}.  A  ${res.dnsRecord.value}`);
    expect(lbParts(w).sslCertificates).toEqual([res.certificate.id]);

    // Google issues it (the user made the record elsewhere): the same command finishes.
    w.gce.control.setCertificateStatus(res.certificate.id, 'ACTIVE');
    const done = await cli([...managedArgs, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.json()).toMatchObject({ state: 'served', certificate: { status: 'issued' } });
    expect(done.stderr).toContain(`${DOMAIN}.  A  ${res.dnsRecord.value}`);

    const removed = await cli(['tls', 'web', '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(lbParts(w)).toEqual(NOTHING);
    expect(await webRules(w)).toEqual({ 80: [ALLOW], 443: [ALLOW] });
  });

  it('a certificate Google gives up on fails the wait (exit 1) naming why; --remove cleans up', async () => {
    const first = await cli([...managedArgs, '--yes', '--no-wait', '--json']);
    expect(first.code, first.stderr).toBe(0);
    w.gce.control.setCertificateStatus(first.json<Record<string, any>>().certificate.id, 'PROVISIONING_FAILED_PERMANENTLY', 'FAILED_CAA_FORBIDDEN');
    const r = await cli([...managedArgs]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('was not issued: provisioning failed permanently');
    expect(r.stderr).toContain('FAILED_CAA_FORBIDDEN');
    const removed = await cli(['tls', 'web', '--remove', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(lbParts(w)).toEqual(NOTHING);
  });
});
