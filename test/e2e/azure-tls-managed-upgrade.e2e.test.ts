// upgrade and rollback of an Azure deployment behind `tls --tls managed`'s Application Gateway, end to
// end: the real CLI process → the ARM emulator, and a test host (HTTP) behind the VM's public IP. The
// gateway is the emulator's record; what it does for users is played by a real HTTPS server on an
// address of its own, serving the user's certificate from a test CA (the CLI trusts it through
// NODE_EXTRA_CA_CERTS; the domain resolves to it through SGL_TEST_DNS_FILE): it forwards to the test
// host only while the emulated gateway's backend pool holds the private address of the one running
// VM, and answers 502 otherwise, as a gateway with no healthy backend does. The wait must therefore
// ask https://<domain>/healthz, and the backend pool must follow the new VM.
// Step ids (fault injection, SGL_TEST_FAULT=after:<id>): upgrade 6.12.5040:move-balancer-target.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { galleryImageFor } from '../support/arm-emulator/gallery-image.js';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.189.2';
const GATEWAY_ADDRESS = '10.200.189.3';
const GROUP = 'sl-gwup';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

type Res = Record<string, any>;
let azure: AzureE2e;
let host: TestHost;
let dir: string;
let home: string;
let site: TestCert;
let caPath: string;
let dnsFile: string;
let gatewayServer: Server;
let ownGatewayAddress = false;
const gatewayRequests: { path: string; status: number }[] = [];

const resources = (type: string): Res[] => azure.arm.control.state().resources.filter((r) => r.type.toLowerCase() === type.toLowerCase() && r.resourceGroup.toLowerCase() === GROUP.toLowerCase()) as Res[];
const vms = () => resources('Microsoft.Compute/virtualMachines').filter((v) => v.tags?.['sourcegraph-launch:deployment'] === 'web');
const nicOf = (vm: Res) => resources('Microsoft.Network/networkInterfaces').find((n) => n.id.toLowerCase() === String(vm.properties.networkProfile.networkInterfaces[0].id).toLowerCase())!;
const privateIpOf = (vm: Res) => String(nicOf(vm).properties.ipConfigurations[0].properties.privateIPAddress);
const running = () => vms().filter((v) => v.internal?.powerState === 'running');
const pool = (): string[] => ((resources('Microsoft.Network/applicationGateways')[0]?.properties.backendAddressPools?.[0]?.properties.backendAddresses ?? []) as Res[]).map((a) => String(a.ipAddress));
const nsg = () => resources('Microsoft.Network/networkSecurityGroups').find((r) => r.tags['sourcegraph-launch:deployment'] === 'web')!;
const webRules = () =>
  (nsg().properties.securityRules as Res[])
    .filter((r) => /-(80|443)$/.test(r.name))
    .map((r) => `${r.properties.destinationPortRange} ${[...(r.properties.sourceAddressPrefixes ?? [r.properties.sourceAddressPrefix])].join(',')}`)
    .sort();

/** The gateway's forwarding: to the test host while its pool holds exactly the one running VM's private address. */
function forward(path: string): Promise<{ status: number; body: string }> {
  const up = running();
  if (up.length !== 1 || JSON.stringify(pool()) !== JSON.stringify([privateIpOf(up[0]!)])) return Promise.resolve({ status: 502, body: '502 Bad Gateway' });
  return new Promise((resolve) => {
    httpGet({ host: HOST_ADDRESS, port: 80, path, agent: false }, (res) => {
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
const cli = (args: string[], extra: CliOptions = {}) =>
  runCli(args, { home, timeoutMs: 180_000, ...extra, env: { ...azure.env, SGL_TEST_POLL_MS: '50', SGL_TEST_DNS_FILE: dnsFile, NODE_EXTRA_CA_CERTS: caPath, ...extra.env } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-gwup-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-azure-gwup-home-'));
  // SSH stays closed (--ssh-cidr none): the key only starts the host's sshd.
  const key = await createClientKey(dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  azure = await startAzureE2e(dir, { serialLog: () => host.consoleOutput('ubuntu') });
  const ca = testCa(dir);
  // The CLI trusts the emulator's CA (azure.env) and the test CA of the user's certificate.
  caPath = join(dir, 'trusted.pem');
  writeFileSync(caPath, [azure.env.NODE_EXTRA_CA_CERTS, ca.ca.certPath].filter((p): p is string => !!p).map((p) => readFileSync(p, 'utf8')).join('\n'));
  site = ca.issue('site', [DOMAIN], { days: 90 });
  dnsFile = join(dir, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${GATEWAY_ADDRESS}\n`);
  ownGatewayAddress = await addLoopbackAddress(GATEWAY_ADDRESS);
  gatewayServer = createServer({ cert: site.certPem, key: site.keyPem }, (req, res) => {
    void forward(req.url ?? '/').then((r) => {
      gatewayRequests.push({ path: req.url ?? '/', status: r.status });
      res.writeHead(r.status).end(r.body);
    });
  });
  await new Promise<void>((resolve) => gatewayServer.listen(443, GATEWAY_ADDRESS, resolve));

  azure.arm.control.nextPublicIps(HOST_ADDRESS);
  quickBoot(OLD);
  const launched = await cli(['launch', 'web', ...where, '--size', 'XS', '--version', OLD, '--image-source', 'base', '--allow-cidr', ALLOW, '--ssh-cidr', 'none', '--hold-seconds', '0', '--yes', '--json']);
  expect(launched.code, launched.stderr).toBe(0);
  const managed = await cli(['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--tls-cert', site.certPath, '--tls-key', site.keyPath, '--yes', '--json']);
  expect(managed.code, managed.stderr).toBe(0);
});

afterAll(async () => {
  await new Promise((resolve) => (gatewayServer ? gatewayServer.close(resolve) : resolve(undefined)));
  if (ownGatewayAddress) await removeLoopbackAddress(GATEWAY_ADDRESS);
  await host?.stop();
  await azure?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('upgrade and rollback behind tls --tls managed\'s Application Gateway on Azure, with the real CLI', () => {
  it('upgrade killed right after the backend moved resumes; the pool then holds the new VM\'s private address, the NSG still opens 80/443 to the gateway\'s subnet only; rollback moves it back', async () => {
    const [old] = vms();
    const oldIp = privateIpOf(old!);
    expect(pool()).toEqual([oldIp]);
    const limited = webRules();
    expect(limited).toEqual(['443 10.77.16.0/24', '80 10.77.16.0/24']);
    const newImage = await galleryImageFor(azure.client, NEW);
    const upgradeArgs = ['upgrade', 'web', ...where, '--to', NEW, '--image', newImage, '--yes', '--hold-seconds', '0', '--init-rate', '0'];

    // Killed (SIGKILL) after the move's work, before the journal recorded it: the worst moment.
    const killed = await cli(upgradeArgs, { env: { SGL_TEST_FAULT: `after:${NEW}:move-balancer-target` }, onOutput: switchVersionOn(new RegExp(`Stop the ${OLD.replace(/\./g, '\\.')} instance`), NEW) });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const fresh = vms().find((v) => v.id !== old!.id)!;
    const freshIp = privateIpOf(fresh);
    expect(freshIp).not.toBe(oldIp);
    expect(pool()).toEqual([freshIp]);

    gatewayRequests.length = 0;
    const up = await cli([...upgradeArgs, '--json']);
    expect(up.code, up.stderr).toBe(0);
    const result = up.json<Res>();
    expect(result).toMatchObject({ from: OLD, to: NEW, instanceId: fresh.id, url: `https://${DOMAIN}` });
    expect(result.steps.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([`${NEW}:move-balancer-target`, `${NEW}:wait-for-version`]));
    expect(up.stderr).toContain(`https://${DOMAIN}/healthz reports ${NEW}`);
    expect(pool()).toEqual([freshIp]);
    // The wait asked the site through the gateway (certificate verified, or the CLI could not have connected).
    expect(gatewayRequests.some((r) => r.path === '/healthz' && r.status === 200)).toBe(true);
    // The new VM's NIC has the deployment's NSG, still limited to the gateway's subnet.
    expect(String(nicOf(fresh).properties.networkSecurityGroup.id).toLowerCase()).toBe(String(nsg().id).toLowerCase());
    expect(webRules()).toEqual(limited);

    const status = await cli(['status', 'web', ...where, '--json']);
    expect(status.json()).toMatchObject({ servingVersion: NEW, managedHttps: { probe: { status: 200 } } });

    const back = await cli(['rollback', 'web', ...where, '--yes', '--hold-seconds', '0', '--json'], { onOutput: switchVersionOn(new RegExp(`Start \\S+ \\(${OLD.replace(/\./g, '\\.')}\\)`), OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, instanceId: old!.id, upgradedInstanceId: fresh.id, url: `https://${DOMAIN}` });
    expect(pool()).toEqual([oldIp]);
    expect(webRules()).toEqual(limited);
  });
});
