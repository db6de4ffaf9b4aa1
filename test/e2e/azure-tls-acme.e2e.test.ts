// `launch --domain D --tls acme` on Azure end to end: the real CLI process → the ARM emulator
// (test/support/azure-e2e.ts) for the VM, the NSG's security rule to the world (its own, named and
// described as the tool's) and Azure DNS (the user's zone, in a resource group of its own: the A
// record), and a test host with a real sshd accepting Azure's login user `sourcegraph`, where
// provision/apply-acme.sh runs as root and writes Traefik's HelmChartConfig. Let's Encrypt and
// Traefik are what this test stands in for, as in tls-acme.e2e.test.ts: an HTTPS server on
// <host>:443 serves an untrusted "Traefik default" certificate until that manifest exists, then one
// for the domain from the test CA (trusted through NODE_EXTRA_CA_CERTS). DNS answers come from
// SGL_TEST_DNS_FILE. Nothing reaches Microsoft.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { galleryImageFor } from '../support/arm-emulator/gallery-image.js';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const HOST_ADDRESS = '10.200.183.2';
const GROUP = 'sl-acme';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];
const DOMAIN = 'sourcegraph.example.com';
const ACME = ['--domain', DOMAIN, '--tls', 'acme', '--acme-email', 'admin@example.com'];
const WORLD_RULE = 'sourcegraph-launch-world-acme-http-01-80';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let host: TestHost;
let dir: string;
let home: string;
let publicKeyPath: string;
let image: string;
let env: Record<string, string>;
let issued: TestCert;
let traefikDefault: TestCert;
let https: Server;
let watcher: NodeJS.Timeout;

const cli = (args: string[]) => runCli([...args, ...where], { home, timeoutMs: 180_000, env });
const launchArgs = (sshCidr: string) => ['launch', 'web', '--size', 'XS', '--version', VERSION, '--image', image, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', sshCidr, '--ssh-key', publicKeyPath, '--hold-seconds', '0', '--json'];
const acmeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'acme');
const manifest = () => join(host.fsRoot, 'var', 'lib', 'rancher', 'k3s', 'server', 'manifests', 'sourcegraph-acme-traefik.yaml');
const ofGroup = () => azure.arm.control.state().resources.filter((r) => r.resourceGroup.toLowerCase() === GROUP.toLowerCase());

/** The deployment NSG's rules as the API gives them: "name priority port sources [description]". */
async function nsgRules(): Promise<string[]> {
  const nsg = ofGroup().find((r) => r.type === 'Microsoft.Network/networkSecurityGroups');
  if (!nsg) return [];
  const got = await azure.client.call('GET', nsg.id);
  return ((got.body.properties.securityRules ?? []) as { name: string; properties: Record<string, any> }[])
    .map((r) => {
      const p = r.properties;
      const sources = p.sourceAddressPrefixes?.length ? p.sourceAddressPrefixes.join(',') : p.sourceAddressPrefix;
      return `${r.name} ${p.priority} ${p.destinationPortRange ?? p.destinationPortRanges?.join(',')} ${sources}${p.description ? ` [${p.description}]` : ''}`;
    })
    .sort();
}

async function aRecord(): Promise<string[] | undefined> {
  const got = await azure.client.call('GET', `${azure.client.path('user-dns', '/providers/Microsoft.Network/dnszones/example.com/A/sourcegraph')}`, undefined, { apiVersion: '2018-05-01' });
  return got.status === 200 ? (got.body.properties.ARecords as { ipv4Address: string }[]).map((a) => a.ipv4Address) : undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-acme-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0, loginUsers: ['sourcegraph'] });
  azure = await startAzureE2e(dir, { serialLog: () => host.consoleOutput('ubuntu') });
  image = await galleryImageFor(azure.client, VERSION);
  home = mkdtempSync(join(tmpdir(), 'sgl-azure-acme-home-'));
  const dnsFile = join(dir, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
  const certs = mkdtempSync(join(dir, 'certs-'));
  const ca = testCa(certs);
  issued = ca.issue('issued', [DOMAIN], { days: 90 });
  traefikDefault = testCa(mkdtempSync(join(certs, 'traefik-'))).issue('default', ['TRAEFIK DEFAULT CERT']);
  // One CA file for the child: the emulator's and token endpoint's, and the test CA ("Let's Encrypt").
  const caFile = join(dir, 'all-ca.pem');
  writeFileSync(caFile, readFileSync(azure.env.NODE_EXTRA_CA_CERTS!, 'utf8'));
  appendFileSync(caFile, `\n${readFileSync(ca.ca.certPath, 'utf8')}`);
  env = { ...azure.env, NODE_EXTRA_CA_CERTS: caFile, SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile };

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

  // The user's DNS zone, in a resource group of its own.
  await azure.client.put(azure.client.path('user-dns'), { location: 'eastus' });
  await azure.client.put(`${azure.client.path('user-dns', '/providers/Microsoft.Network/dnszones/example.com')}?api-version=2018-05-01`, { location: 'global', properties: { zoneType: 'Public' } });
});

afterAll(async () => {
  clearInterval(watcher);
  await new Promise((resolve) => (https ? https.close(resolve) : resolve(undefined)));
  await host?.stop();
  await azure?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('launch --domain --tls acme on Azure with the real CLI (ARM emulator + Azure DNS + test host)', () => {
  const launched = (ssh = '203.0.113.7/32') => ['sourcegraph-launch-22 1000 22 ' + ssh, 'sourcegraph-launch-443 1020 443 203.0.113.0/24', 'sourcegraph-launch-80 1010 80 203.0.113.0/24'];
  const worldRule = `${WORLD_RULE} 1200 80 0.0.0.0/0 [Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme)]`;

  it('without consent to open port 80 to the world (not interactive; --yes is no consent): exit 2, nothing created', async () => {
    const r = await cli([...launchArgs('203.0.113.7/32'), ...ACME, '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--i-know-port-80-is-public is required with --tls acme when not running interactively');
    expect(ofGroup()).toEqual([]);
    expect(host.execLog()).toEqual([]);
  });

  it('launches, then opens 80 to the world as a marked NSG rule, sets the A record in the Azure DNS zone, configures Traefik and waits for a certificate that verifies', async () => {
    azure.arm.control.nextPublicIps(HOST_ADDRESS);
    const r = await cli([...launchArgs('203.0.113.7/32'), ...ACME, '--i-know-port-80-is-public', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const nsgId = ofGroup().find((x) => x.type === 'Microsoft.Network/networkSecurityGroups')!.id;
    expect(r.json<{ tls: unknown }>().tls).toMatchObject({
      domain: DOMAIN,
      address: HOST_ADDRESS,
      way: 'acme',
      port80: { policyId: nsgId, rule: 'opened' },
      dnsZone: { name: 'example.com', change: 'created' },
      dns: 'resolves',
      certificate: { dnsNames: [DOMAIN], daysLeft: 89 },
    });
    expect(await nsgRules()).toEqual([...launched(), worldRule].sort());
    expect(await aRecord()).toEqual([HOST_ADDRESS]);
    expect(readFileSync(manifest(), 'utf8')).toContain('--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web');
    expect(readFileSync(join(acmeDir(), 'settings'), 'utf8')).toBe(`domain=${DOMAIN}\nemail=admin@example.com\nca=production\n`);

    const doctor = await cli(['doctor', 'web', '--json']);
    const checks = doctor.json<{ checks: { id: string; status: string }[] }>().checks;
    expect(checks.find((c) => c.id === 'access-rules')).toMatchObject({ status: 'pass' });
    expect(checks.find((c) => c.id === 'tls-certificate')).toMatchObject({ status: 'pass' });
  });

  it('launch --update narrows SSH and keeps the marked rule', async () => {
    const update = await cli([...launchArgs('203.0.113.8/32'), '--update', '--yes']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stderr).toContain('22 (SSH) to 203.0.113.7/32');
    expect(update.stderr).not.toMatch(/close\s+80 to 0\.0\.0\.0\/0/);
    expect(await nsgRules()).toEqual([...launched('203.0.113.8/32'), worldRule].sort());
  });

  it("tls --remove closes only the marked rule (a rule of the user's to the internet stays), deletes its A record; destroy", async () => {
    const nsgId = ofGroup().find((x) => x.type === 'Microsoft.Network/networkSecurityGroups')!.id;
    await azure.client.put(`${nsgId}/securityRules/users-http`, {
      properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 300, sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '80' },
    });
    const r = await cli(['tls', 'web', '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ port80Rule: { outcome: 'closed' } });
    expect(await nsgRules()).toEqual([...launched('203.0.113.8/32'), 'users-http 300 80 *'].sort());
    expect(await aRecord()).toBeUndefined();
    expect(existsSync(manifest())).toBe(false);
    expect(existsSync(acmeDir())).toBe(false);

    const destroyed = await cli(['destroy', 'web', '--yes', '--json']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(ofGroup().filter((x) => x.type === 'Microsoft.Compute/virtualMachines')).toEqual([]);
  });
});
