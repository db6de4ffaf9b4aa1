// upgrade and rollback of a GCE deployment behind `tls --tls managed`'s load balancer, end to end:
// the real CLI process (`--cloud gcp`) → the GCE emulator (Compute and Cloud DNS) and a test host
// (real sshd + HTTP) behind the deployment's static address. The emulator's load balancer is text
// (its address is a documentation-range one, never contacted); what it does for users is played by
// a real HTTPS server on its own address, serving the domain's certificate from a test CA (the CLI
// trusts it through NODE_EXTRA_CA_CERTS; the domain resolves to it through SGL_TEST_DNS_FILE). It
// forwards to the test host only while the backend service's instance group holds exactly one
// instance, RUNNING and holding the test host's address, and answers 503 otherwise (no healthy
// backend). The wait must therefore ask https://<domain>/healthz, and the instance group must follow
// the new instance (addInstances/removeInstances), or the upgrade's wait never passes.
// Step ids (fault injection, SGL_TEST_FAULT=after:<id>): upgrade 6.12.5040:move-balancer-target.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromEncodedLabels, toEncodedLabels } from '../../src/core/labels.js';
import { testCa } from '../support/certs.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.187.2';
const BALANCER_ADDRESS = '10.200.187.3';
const REGION = 'us-central1';
const DOMAIN = 'sourcegraph.example.com';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 150_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let dir: string;
let home: string;
let env: Record<string, string>;
let balancer: Server;
let ownBalancerAddress = false;
const balancerRequests: { path: string; status: number }[] = [];

const list = async (path: string) => ((await client.get<{ items?: Record<string, any>[] }>(path)).body.items ?? []);
const labels = (r: Record<string, any>) => fromEncodedLabels(r.labels ?? {}).labels;
async function instances(): Promise<Record<string, any>[]> {
  const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
  return (await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat().filter((i) => labels(i).deployment === 'up');
}

/** The instance group behind the backend service: its members' names and statuses. */
async function members(): Promise<{ name: string; status: string }[]> {
  const group = gce.control.state().instanceGroups.find((g) => g.name === 'sgl-up-ig') as Record<string, any> | undefined;
  if (!group) return [];
  const zone = String(group.zone).split('/').pop();
  const r = await client.post<{ items?: { instance: string; status: string }[] }>(`zones/${zone}/instanceGroups/sgl-up-ig/listInstances`, { instanceState: 'ALL' });
  return (r.body.items ?? []).map((m) => ({ name: m.instance.split('/').pop()!, status: m.status })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The load balancer's forwarding: to the test host while exactly one group member is RUNNING and holds its address. */
async function forward(path: string): Promise<{ status: number; body: string }> {
  const inGroup = new Set((await members()).map((m) => m.name));
  const serving = (await instances()).filter((i) => inGroup.has(i.name) && i.status === 'RUNNING' && i.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP === HOST_ADDRESS);
  if (inGroup.size !== 1 || serving.length !== 1) return { status: 503, body: 'no healthy upstream' };
  return new Promise((resolve) => {
    get({ host: HOST_ADDRESS, port: 80, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 502, body }));
    }).on('error', () => resolve({ status: 502, body: 'upstream connect error' }));
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
  return runCli([...args, '--cloud', 'gcp', '--project', gce.project, '--region', REGION], {
    home,
    timeoutMs: 150_000,
    ...extra,
    env: { ...env, SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath, ...extra.env },
  });
}
const upgradeArgs = ['upgrade', 'up', '--to', NEW, '--yes', '--hold-seconds', '0', '--init-rate', '0'];
const rollbackArgs = ['rollback', 'up', '--yes', '--hold-seconds', '0'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-managed-upgrade-'));
  home = join(dir, 'home');
  const key = await createClientKey(dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  // GCE images keep the root version file in the home of their login user, sourcegraph.
  symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  for (const version of [OLD, NEW]) {
    await client.mutate('POST', 'global/images', {
      name: `sourcegraph-${version.replace(/\./g, '-')}`,
      sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
      labels: toEncodedLabels({ version, build: `b-${version.replace(/\./g, '-')}`, role: 'image', managed: 'true' }),
    });
  }
  // The user's zone in the project: tls --tls managed sets the A record, and Google then issues the certificate.
  const zone = await fetch(`${gce.endpoint}/dns/v1/projects/${gce.project}/managedZones`, {
    method: 'POST',
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'example', dnsName: 'example.com.', description: 'the user\'s zone', visibility: 'public' }),
  });
  expect(zone.status).toBe(200);

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

  await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'up-address', address: HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'up', managed: 'true', role: 'address' }) });
  quickBoot(OLD);
  const launch = await cli(['launch', '--name', 'up', '--version', OLD, '--image', `projects/${gce.project}/global/images/sourcegraph-6-11-0`, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '0', '--json']);
  expect(launch.code, launch.stderr).toBe(0);
  const managed = await cli(['tls', 'up', '--domain', DOMAIN, '--tls', 'managed', '--yes', '--json']);
  expect(managed.code, managed.stderr).toBe(0);
  expect(managed.json()).toMatchObject({ state: 'served', url: `https://${DOMAIN}` });
});

afterAll(async () => {
  await new Promise((resolve) => (balancer ? balancer.close(resolve) : resolve(undefined)));
  if (ownBalancerAddress) await removeLoopbackAddress(BALANCER_ADDRESS);
  await host?.stop();
  await gce?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('--cloud gcp: upgrade and rollback behind tls --tls managed\'s load balancer, with the real CLI on the GCE emulator', () => {
  it('upgrade killed right after the group moved resumes; the instance group then holds only the new instance and the wait passes through the balancer; rollback moves it back', async () => {
    const [old] = await instances();
    expect(await members()).toEqual([{ name: old!.name, status: 'RUNNING' }]);

    // Killed (SIGKILL) after the move's work, before the journal recorded it: the worst moment.
    const killed = await cli(upgradeArgs, { env: { SGL_TEST_FAULT: `after:${NEW}:move-balancer-target` }, onOutput: switchVersionOn(/Stop the 6\.11\.0 instance/, NEW) });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const fresh = (await instances()).find((i) => i.name !== old!.name)!;
    expect((await members()).map((m) => m.name)).toEqual([fresh.name]);

    balancerRequests.length = 0;
    const up = await cli([...upgradeArgs, '--json']);
    expect(up.code, up.stderr).toBe(0);
    const result = up.json<Record<string, any>>();
    expect(result).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `https://${DOMAIN}` });
    expect(result.steps.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([`${NEW}:move-balancer-target`, `${NEW}:wait-for-version`]));
    expect(up.stderr).toContain(`https://${DOMAIN}/healthz reports ${NEW}`);
    expect(await members()).toEqual([{ name: fresh.name, status: 'RUNNING' }]);
    // The wait asked the site through the balancer (certificate verified, or the CLI could not have connected).
    expect(balancerRequests.some((r) => r.path === '/healthz' && r.status === 200)).toBe(true);
    const all = await instances();
    expect(all.find((i) => i.name === old!.name)?.status).toBe('TERMINATED');
    expect(all.find((i) => i.name === fresh.name)?.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);

    const status = await cli(['status', 'up', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({ servingVersion: NEW, managedHttps: { probe: { status: 200 } } });

    balancerRequests.length = 0;
    const back = await cli([...rollbackArgs, '--json'], { onOutput: switchVersionOn(/\(6\.11\.0\)/, OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, strategy: 'clone', url: `https://${DOMAIN}` });
    expect(await members()).toEqual([{ name: old!.name, status: 'RUNNING' }]);
    expect(balancerRequests.some((r) => r.path === '/healthz' && r.status === 200)).toBe(true);
    expect(host.versionFiles()).toEqual({ root: OLD, data: OLD });
  });
});
