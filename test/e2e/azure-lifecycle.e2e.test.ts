// End to end on Azure with real parts: the real CLI process → the ARM emulator over HTTPS, pointed at
// it the way a user points the tool at another Azure cloud (AZURE_RESOURCE_MANAGER_ENDPOINT, and
// AZURE_AUTHORITY_HOST for the service principal's sign-in, here a loopback token endpoint; the
// child trusts both self-signed certificates through NODE_EXTRA_CA_CERTS). The deployment's public
// IP has the test host's address, so the readiness wait and the upgrade's version wait talk to a
// real HTTP server. The test host lets only root log in and Azure refuses root as a VM's admin
// user, so these runs use `--ssh-cidr none` (no SSH: the waits go by HTTP alone).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArmClient } from '../support/arm-emulator/client.js';
import { galleryImageFor } from '../support/arm-emulator/gallery-image.js';
import { startArmEmulator, type ArmEmulator } from '../support/arm-emulator/index.js';
import { selfSignedCertificate } from '../support/arm-emulator/tls-cert.js';
import { fetchTrusting } from '../support/arm-emulator/trusting-fetch.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.82.2';
const GROUP = 'sl-e2e';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let arm: ArmEmulator;
let client: ArmClient;
let host: TestHost;
let tokens: Server;
let dir: string;
let publicKeyPath: string;
let env: Record<string, string>;
const tokenRequests: string[] = [];

// ARM bodies are open-ended JSON; the assertions read what they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { id: string; type: string; tags: Record<string, string>; properties: any };
const resources = (type: string): Res[] => arm.control.state().resources.filter((r) => r.type === type && r.resourceGroup?.toLowerCase() === GROUP.toLowerCase());
const vms = () => resources('Microsoft.Compute/virtualMachines');
async function powerOf(id: string): Promise<string | undefined> {
  const vm = await client.call('GET', id, undefined, { query: { $expand: 'instanceView' } });
  return ((vm.body as any)?.properties?.instanceView?.statuses as { code: string }[] | undefined)?.find((s) => s.code.startsWith('PowerState/'))?.code;
}

/** The NIC ip configuration the deployment's public IP is on, as ARM answers it (lower-cased). */
async function holderNic(): Promise<string> {
  const [pip] = resources('Microsoft.Network/publicIPAddresses');
  const answer = await client.call('GET', pip!.id);
  return String((answer.body as Res).properties?.ipConfiguration?.id ?? '').toLowerCase();
}

function cli(args: string[], home: string, extra: CliOptions = {}) {
  return runCli(args, { home, timeoutMs: 120_000, env, ...extra });
}

/** A boot with no waiting: the test is about the cloud choreography, the wait has its own tests. */
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

const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];

beforeAll(async () => {
  arm = await startArmEmulator({ tls: true });
  client = new ArmClient(arm, fetchTrusting(arm.ca!));
  const tls = selfSignedCertificate('token-endpoint');
  tokens = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      tokenRequests.push(`${req.url} ${form.get('client_id')} ${form.get('scope')}`);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'e2e-token' }));
    });
  });
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-e2e-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, `${arm.ca}\n${tls.cert}\n`);
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  env = {
    NODE_EXTRA_CA_CERTS: caFile,
    AZURE_RESOURCE_MANAGER_ENDPOINT: arm.endpoint,
    AZURE_AUTHORITY_HOST: `https://127.0.0.1:${(tokens.address() as AddressInfo).port}`,
    AZURE_TENANT_ID: 'e2e-tenant',
    AZURE_CLIENT_ID: 'e2e-app',
    AZURE_CLIENT_SECRET: 'e2e-secret',
    AZURE_SUBSCRIPTION_ID: arm.subscriptionId,
  };
});

afterAll(async () => {
  await host?.stop();
  await arm?.stop();
  await new Promise((resolve) => tokens?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the real CLI on Azure (ARM emulator + test host)', () => {
  it('launch (waits for readiness) → status → upgrade → rollback → destroy', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-e2e-home-'));
    const newImage = await galleryImageFor(client, NEW);
    arm.control.nextPublicIps(HOST_ADDRESS);
    quickBoot(OLD);

    const launched = await cli(
      ['launch', ...where, '--size', 'XS', '--version', OLD, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none',
        '--ssh-key', publicKeyPath, '--name', 'az', '--hold-seconds', '0', '--yes', '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const l = launched.json<{ instanceId: string; publicIp: string; url: string; resources: { dataVolumeId: string; allocationId: string } }>();
    expect(l.publicIp).toBe(HOST_ADDRESS);
    expect(l.url).toBe(`http://${HOST_ADDRESS}`);
    // The readiness wait reached the test host over HTTP; the token came from AZURE_AUTHORITY_HOST for the endpoint's scope.
    expect(host.requests.some((p) => p.startsWith('/healthz') || p.startsWith('/__version'))).toBe(true);
    expect(tokenRequests[0]).toBe(`/e2e-tenant/oauth2/v2.0/token e2e-app ${arm.endpoint}/.default`);
    expect(vms().map((v) => v.id)).toEqual([l.instanceId]);

    const status = await cli(['status', 'az', ...where, '--json'], home);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({ name: 'az', cloud: 'azure', state: 'running', instanceId: l.instanceId, publicIp: HOST_ADDRESS, servingVersion: OLD });

    const up = await cli(['upgrade', 'az', ...where, '--to', NEW, '--image', newImage, '--yes', '--hold-seconds', '0', '--init-rate', '0', '--json'], home, {
      onOutput: switchVersionOn(new RegExp(`Stop the ${OLD.replace(/\./g, '\\.')} instance`), NEW),
    });
    expect(up.code, up.stderr).toBe(0);
    const upgraded = up.json<{ from: string; to: string; strategy: string; url: string; rollbackPoint: { instanceId: string; version: string } }>();
    expect(upgraded).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${HOST_ADDRESS}`, rollbackPoint: { instanceId: l.instanceId, version: OLD } });
    const fresh = vms().find((v) => v.id !== l.instanceId)!;
    expect(fresh.properties.storageProfile.imageReference.id.toLowerCase()).toBe(newImage.toLowerCase());
    expect(fresh.tags).toMatchObject({ 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': NEW });
    expect(await powerOf(l.instanceId)).toBe('PowerState/deallocated');
    expect(await powerOf(fresh.id)).toBe('PowerState/running');
    // The public IP (the URL) moved to the new VM's NIC; the new data disk was made from the final snapshot.
    const freshNic = fresh.properties.networkProfile.networkInterfaces[0].id as string;
    expect((await holderNic()).startsWith(freshNic.toLowerCase())).toBe(true);
    const freshDataId = fresh.properties.storageProfile.dataDisks.find((d: { lun: number }) => d.lun === 0).managedDisk.id as string;
    const freshData = resources('Microsoft.Compute/disks').find((r) => r.id.toLowerCase() === freshDataId.toLowerCase())!;
    const snaps = resources('Microsoft.Compute/snapshots');
    expect(snaps.map((x) => x.tags['sourcegraph-launch:purpose']).sort()).toEqual(['pre-upgrade-final', 'pre-upgrade-live']);
    const final = snaps.find((x) => x.tags['sourcegraph-launch:purpose'] === 'pre-upgrade-final')!;
    expect(final.properties.creationData).toMatchObject({ sourceResourceId: l.resources.dataVolumeId });
    expect(freshData.properties.creationData).toMatchObject({ createOption: 'Copy', sourceResourceId: final.id });

    // --location is Azure's word for --region: the same flag.
    const after = await cli(['status', 'az', '--cloud', 'azure', '--location', 'eastus', '--resource-group', GROUP, '--json'], home);
    expect(after.json()).toMatchObject({ instanceId: fresh.id, servingVersion: NEW, rollbackPoint: { instanceId: l.instanceId, version: OLD } });

    const back = await cli(['rollback', 'az', ...where, '--yes', '--hold-seconds', '0', '--json'], home, { onOutput: switchVersionOn(new RegExp(`Start \\S+ \\(${OLD.replace(/\./g, '\\.')}\\)`), OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, strategy: 'clone', instanceId: l.instanceId, upgradedInstanceId: fresh.id });
    expect(await powerOf(l.instanceId)).toBe('PowerState/running');
    expect(await powerOf(fresh.id)).toBe('PowerState/deallocated');
    const oldNic = vms().find((v) => v.id === l.instanceId)!.properties.networkProfile.networkInterfaces[0].id as string;
    expect((await holderNic()).startsWith(oldNic.toLowerCase())).toBe(true);

    const destroyed = await cli(['destroy', 'az', ...where, '--yes', '--json'], home);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(vms()).toEqual([]);
    expect(resources('Microsoft.Network/publicIPAddresses')).toEqual([]);
    // The data disks and the snapshots stay (destroy keeps data); the original data disk among them.
    const disks = resources('Microsoft.Compute/disks').map((d) => d.id.toLowerCase());
    expect(disks).toContain(l.resources.dataVolumeId.toLowerCase());
    expect(resources('Microsoft.Compute/snapshots').length).toBeGreaterThan(0);
    rmSync(home, { recursive: true, force: true });
  });

  it('--location is the same flag as --region: both with two values, or on another cloud, is exit 2 before any cloud call', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-e2e-home-'));
    const before = arm.control.state().resources.length;
    const twice = await cli(['status', 'az', '--cloud', 'azure', '--region', 'westus', '--location', 'eastus', '--json'], home);
    expect(twice.code).toBe(2);
    expect(twice.json()).toMatchObject({ error: { code: 'bad-input', message: '--region westus and --location eastus are the same flag with two values; give one' } });
    const aws = await cli(['launch', '--cloud', 'aws', '--location', 'us-east-1', '--size', 'S', '--allow-cidr', '203.0.113.0/24', '--yes', '--json'], home);
    expect(aws.code).toBe(2);
    expect(aws.json<{ error: { message: string } }>().error.message).toMatch(/--location is Azure's name for --region; on --cloud aws use --region/);
    expect(arm.control.state().resources.length).toBe(before);
    rmSync(home, { recursive: true, force: true });
  });
});

describe('disk grow with the real CLI on Azure (ARM emulator)', () => {
  it('grows the Premium SSD data disk online up to 4 TiB; beyond it says the VM must be deallocated, and with --yes deallocates, grows and starts it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-e2e-home-'));
    arm.control.nextPublicIps(HOST_ADDRESS);
    quickBoot(OLD);
    const launched = await cli(
      ['launch', ...where, '--size', 'XS', '--version', OLD, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none',
        '--ssh-key', publicKeyPath, '--name', 'azgrow', '--hold-seconds', '0', '--no-wait', '--yes', '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const l = launched.json<{ instanceId: string; resources: { dataVolumeId: string } }>();
    const sizeOf = () => resources('Microsoft.Compute/disks').find((r) => r.id.toLowerCase() === l.resources.dataVolumeId.toLowerCase())!.properties.diskSizeGB as number;
    expect(sizeOf()).toBe(500);

    const online = await cli(['disk', 'grow', 'azgrow', ...where, '--size', '4000', '--yes', '--json'], home);
    expect(online.code, online.stderr).toBe(0);
    // Premium SSD is billed by tier: P20 (512 GiB) → P50 (4 TiB) in presets/azure-prices.json.
    expect(online.json()).toMatchObject({ fromGiB: 500, toGiB: 4000, disk: 'grown', restarted: false, monthlyUsd: { before: 73.22, after: 495.57, change: 422.35 } });
    expect(online.stderr).toContain('≈ $73 → $496/month (+$422.35)');
    expect(sizeOf()).toBe(4000);
    expect(await powerOf(l.instanceId)).toBe('PowerState/running');

    // Beyond 4 TiB: said before asking; CI without --yes changes nothing.
    const unasked = await cli(['disk', 'grow', 'azgrow', ...where, '--size', '5000'], home);
    expect(unasked.code, unasked.stderr).toBe(2);
    expect(unasked.stderr).toMatch(/only while the instance is stopped \(deallocated\)/);
    // The file has no tier above P50 (4 TiB): unknown, not guessed.
    expect(unasked.stdout + unasked.stderr).toContain('price unknown (no Premium_LRS price for eastus in presets/azure-prices.json)');
    expect(sizeOf()).toBe(4000);

    const offline = await cli(['disk', 'grow', 'azgrow', ...where, '--size', '5000', '--yes', '--json'], home);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.json()).toMatchObject({ fromGiB: 4000, toGiB: 5000, disk: 'grown', restarted: true });
    expect(sizeOf()).toBe(5000);
    expect(await powerOf(l.instanceId)).toBe('PowerState/running');
    expect((await cli(['destroy', 'azgrow', ...where, '--yes'], home)).code).toBe(0);
  });
});
