// `tls --tls managed` on Azure end to end: the real CLI process → the ARM emulator (over HTTPS, with
// the service principal's sign-in on a loopback token endpoint). An Application Gateway with the
// user's certificate (made here by a test CA with openssl) in front of a VM launched with --no-wait.
// No test host: nothing of it goes over SSH, and the emulated addresses are never contacted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';

const VERSION = '6.12.5040';
const GROUP = 'sl-tlsgw';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];
const DOMAIN = 'sourcegraph.example.com';
const ALLOW = '203.0.113.0/24';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

type Res = Record<string, any>;
let azure: AzureE2e;
let dir: string;
let home: string;
let site: TestCert;
let zoneId: string;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { home, timeoutMs: 120_000, env: { ...azure.env, SGL_TEST_POLL_MS: '50', ...env } });
const managedArgs = () => ['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--tls-cert', site.certPath, '--tls-key', site.keyPath];
const resources = (type: string): Res[] => azure.arm.control.state().resources.filter((r) => r.type.toLowerCase() === type.toLowerCase()) as Res[];
const get = async (id: string) => {
  const r = await azure.client.call('GET', id);
  return r.status === 200 ? (r.body as Res) : undefined;
};
const gateways = () => resources('Microsoft.Network/applicationGateways');
const gatewayIps = () => resources('Microsoft.Network/publicIPAddresses').filter((r) => r.tags['sourcegraph-launch:tls-for'] === 'web');
const vnet = () => resources('Microsoft.Network/virtualNetworks')[0]!;
const subnetNames = () => (vnet().properties.subnets as Res[]).map((s) => s.name).sort();
const nsg = () => resources('Microsoft.Network/networkSecurityGroups').find((r) => r.tags['sourcegraph-launch:deployment'] === 'web')!;
/** The deployment's 80/443 rules: "port sources". */
const webRules = () =>
  (nsg().properties.securityRules as Res[])
    .filter((r) => /-(80|443)$/.test(r.name))
    .map((r) => `${r.properties.destinationPortRange} ${[...(r.properties.sourceAddressPrefixes ?? [r.properties.sourceAddressPrefix])].join(',')}`)
    .sort();
const aRecord = async () => get(`${zoneId}/A/sourcegraph?api-version=2018-05-01`);
const nothingOfIt = () => {
  expect(gateways()).toEqual([]);
  expect(gatewayIps()).toEqual([]);
  expect(subnetNames()).toEqual(['default']);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-tlsgw-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-azure-tlsgw-home-'));
  azure = await startAzureE2e(dir);
  site = testCa(dir).issue('site', [DOMAIN]);
  const launched = await cli(['launch', 'web', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', ALLOW, '--ssh-cidr', 'none', '--no-wait', '--yes', '--json']);
  expect(launched.code, launched.stderr).toBe(0);
  // The user's DNS zone, in a resource group of its own, made the way a user would.
  await azure.client.put(azure.client.path('user-dns'), { location: 'eastus' });
  const zone = await azure.client.put(`${azure.client.path('user-dns', '/providers/Microsoft.Network/dnszones/example.com')}?api-version=2018-05-01`, { location: 'global', properties: { zoneType: 'Public' } });
  zoneId = zone.body.id as string;
});

afterAll(async () => {
  await azure?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

describe('tls --tls managed on Azure (an Application Gateway with your certificate)', () => {
  it('bad input exits 2 with nothing created: no certificate files, a certificate for another name, expired, the wrong key, a Key Vault secret, no --yes in CI', async () => {
    const ca = testCa(mkdtempSync(join(dir, 'ca2-')));
    const otherName = ca.issue('other', ['other.example.org']);
    const expired = ca.issue('old', [DOMAIN], { days: -1 });
    const cases: [string[], string][] = [
      [['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--yes'], '--tls-cert is required with --tls managed on this cloud'],
      [['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--tls-cert', otherName.certPath, '--tls-key', otherName.keyPath, '--yes'], `does not cover ${DOMAIN}`],
      [['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--tls-cert', expired.certPath, '--tls-key', expired.keyPath, '--yes'], 'expired on'],
      [['tls', 'web', ...where, '--domain', DOMAIN, '--tls', 'managed', '--tls-cert', site.certPath, '--tls-key', otherName.keyPath, '--yes'], 'is not the key of the certificate'],
      [[...managedArgs(), '--key-vault-secret-id', 'https://v.vault.azure.net/secrets/site', '--yes'], '--key-vault-secret-id is not offered yet'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect([r.code, r.stderr.includes(message)], `${args.join(' ')}\n${r.stderr}`).toEqual([2, true]);
    }
    // Without --yes (CI): the plan and the cost are printed, then exit 2.
    const asked = await cli(managedArgs());
    expect(asked.code, asked.stderr).toBe(2);
    const said = asked.stdout + asked.stderr;
    expect(said).toMatch(/application gateway\s+\$179\.58\/month/);
    expect(said).toMatch(/≈ \$189\.07\/month/);
    expect(said).toContain('--yes is required to create an application gateway');
    nothingOfIt();
    expect(webRules()).toEqual([`443 ${ALLOW}`, `80 ${ALLOW}`]);
    expect(await aRecord()).toBeUndefined();
  });

  it('served: its own subnet, a public IP, the gateway with the certificate, the VM\'s 80/443 from the gateway\'s subnet only, the A record in the zone; status shows it', async () => {
    const r = await cli([...managedArgs(), '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<Res>();
    expect(out).toMatchObject({ name: 'web', domain: DOMAIN, url: `https://${DOMAIN}`, state: 'served', certificate: { source: 'your files', dnsNames: [DOMAIN] }, dnsRecord: { type: 'A', setInZone: 'example.com' } });
    expect(out.gateway.subnet).toMatchObject({ created: true, prefix: '10.77.16.0/24' });
    expect(out.monthlyCost.totalUsd).toBe(189.07);
    expect(subnetNames()).toEqual(['default', 'sourcegraph-launch-appgw-web']);
    const [gw] = gateways();
    expect(gw!.name).toBe('web-appgw');
    const live = (await get(gw!.id))!;
    expect(live.properties).toMatchObject({ provisioningState: 'Succeeded', sku: { name: 'Standard_v2' }, sslPolicy: { policyName: 'AppGwSslPolicy20220101' } });
    expect(live.properties.backendAddressPools[0].properties.backendAddresses).toEqual([{ ipAddress: expect.stringMatching(/^10\.77\.\d+\.\d+$/) }]);
    expect(live.properties.httpListeners.map((l: Res) => [l.properties.protocol, l.properties.hostName ?? null])).toEqual([['Https', DOMAIN], ['Http', null]]);
    expect(live.properties.redirectConfigurations[0].properties).toMatchObject({ redirectType: 'Permanent', targetListener: { id: `${gw!.id}/httpListeners/https` } });
    expect(live.properties.probes[0].properties).toMatchObject({ path: '/healthz', host: DOMAIN });
    expect(live.properties.sslCertificates[0].properties.publicCertData).toBeTruthy();
    expect(webRules()).toEqual(['443 10.77.16.0/24', '80 10.77.16.0/24']);
    const ip = out.gateway.publicIp as string;
    expect(ip).toBe(gatewayIps()[0]!.internal.ipAddress);
    expect((await aRecord())?.properties.ARecords).toEqual([{ ipv4Address: ip }]);
    expect(r.stderr).toContain('Site admin > Site configuration');

    const status = await cli(['status', 'web', ...where, '--no-probe', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<Res>().managedHttps).toMatchObject({ url: `https://${DOMAIN}`, installed: true, loadBalancer: `application gateway ${ip}`, certificateNotAfter: expect.any(String) });

    // Again: every step done before, nothing new.
    const again = await cli([...managedArgs(), '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(gateways()).toHaveLength(1);
    expect(gatewayIps()).toHaveLength(1);
  });

  it('tls --remove deletes the record, the gateway, its IP and its subnet, and restores the VM\'s rules', async () => {
    const r = await cli(['tls', 'web', ...where, '--remove', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Res>().deleted).toHaveLength(5);
    nothingOfIt();
    expect(webRules()).toEqual([`443 ${ALLOW}`, `80 ${ALLOW}`]);
    expect(await aRecord()).toBeUndefined();
  });

  it('a bounded wait for the gateway exits 4 and a re-run goes on', async () => {
    azure.arm.control.setLroPolls(40, 'ApplicationGateways_CreateOrUpdate');
    try {
      const timedOut = await cli([...managedArgs(), '--yes', '--timeout', '0.01']);
      expect(timedOut.code, timedOut.stderr).toBe(4);
      expect(timedOut.stderr).toContain('the application gateway web-appgw');
      expect(gateways()).toHaveLength(1);
      expect(webRules()).toEqual([`443 ${ALLOW}`, `80 ${ALLOW}`]);
      const status = await cli(['status', 'web', ...where, '--no-probe', '--json']);
      expect(status.json<Res>().managedHttps).toMatchObject({ installed: false, certificateStatus: 'not uploaded yet' });
      expect(status.json<Res>().notes.join('\n')).toContain(`--domain ${DOMAIN} --tls managed --tls-cert <file> --tls-key <file>\` again to go on`);
      const r = await cli([...managedArgs(), '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('Resuming tls --tls managed');
      expect(gateways()[0]!.provisioningState).toBe('Succeeded');
    } finally {
      azure.arm.control.setLroPolls(1, 'ApplicationGateways_CreateOrUpdate');
    }
    const removed = await cli(['tls', 'web', ...where, '--remove', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    nothingOfIt();
  });

  it('failures: no credentials exit 3, a refused permission exit 3, a gateway that fails to provision exit 1; nothing half-made stays in the way of a re-run', async () => {
    const { AZURE_CLIENT_SECRET: _s, AZURE_CLIENT_ID: _c, AZURE_TENANT_ID: _t, ...noLogin } = azure.env;
    const anonymous = await runCli([...managedArgs(), '--yes'], { home, timeoutMs: 60_000, env: { ...noLogin, PATH: '/usr/bin:/bin', AZURE_CONFIG_DIR: join(dir, 'no-az') } });
    expect(anonymous.code, anonymous.stderr).toBe(3);
    nothingOfIt();

    azure.arm.control.injectFault({ operationId: 'ApplicationGateways_CreateOrUpdate', status: 403, code: 'AuthorizationFailed', message: "The client does not have authorization to perform action 'Microsoft.Network/applicationGateways/write'.", count: 1 });
    const denied = await cli([...managedArgs(), '--yes']);
    expect(denied.code, denied.stderr).toBe(3);
    expect(denied.stderr).toContain('Microsoft.Network/applicationGateways/write');
    expect(gateways()).toEqual([]);

    azure.arm.control.injectFault({ operationId: 'ApplicationGateways_CreateOrUpdate', mode: 'lro', code: 'InternalServerError', message: 'An error occurred.', count: 1 });
    const failed = await cli([...managedArgs(), '--yes']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('failed to provision');
    expect(gateways()[0]!.provisioningState).toBe('Failed');
    // The failed gateway is put again: it provisions this time.
    const r = await cli([...managedArgs(), '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    expect(gateways()[0]!.provisioningState).toBe('Succeeded');
    const removed = await cli(['tls', 'web', ...where, '--remove', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    nothingOfIt();
  });

  it('killed right after the gateway is created (before the journal says so): --remove finds and deletes it; a re-run goes on; destroy then deletes it all', async () => {
    const kill = () => cli([...managedArgs(), '--yes'], { SGL_TEST_FAULT: 'after:gateway' });
    expect((await kill()).signal).toBe('SIGKILL');
    expect(gateways()).toHaveLength(1);
    const removed = await cli(['tls', 'web', ...where, '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    nothingOfIt();

    expect((await kill()).signal).toBe('SIGKILL');
    const r = await cli([...managedArgs(), '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Resuming tls --tls managed');
    expect(r.json()).toMatchObject({ state: 'served' });
    expect(gateways()).toHaveLength(1);
    expect(webRules()).toEqual(['443 10.77.16.0/24', '80 10.77.16.0/24']);
    expect((await aRecord())?.properties.ARecords).toEqual([{ ipv4Address: r.json<Res>().gateway.publicIp }]);

    const d = await cli(['destroy', 'web', ...where, '--yes', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.json<Res>().managedHttps.deleted).toHaveLength(4);
    nothingOfIt();
    expect(await aRecord()).toBeUndefined();
    expect(resources('Microsoft.Compute/virtualMachines')).toEqual([]);
  });
});
