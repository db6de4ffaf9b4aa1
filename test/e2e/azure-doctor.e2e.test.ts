// `doctor --cloud azure` before a launch, end to end: the real CLI process → the ARM emulator over
// HTTPS (set up as in azure-lifecycle.e2e.test.ts: AZURE_RESOURCE_MANAGER_ENDPOINT, a loopback
// token endpoint, NODE_EXTRA_CA_CERTS). The quotas come from Compute's and Network's usages of the
// location: regional vCPUs and the VM family's, and public IP addresses.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
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
import { runCli } from '../support/cli.js';

const VERSION = '6.12.5040';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

let arm: ArmEmulator;
let client: ArmClient;
let tokens: Server;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  arm = await startArmEmulator({ tls: true });
  client = new ArmClient(arm, fetchTrusting(arm.ca!));
  const tls = selfSignedCertificate('token-endpoint');
  tokens = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'e2e-token' }));
    });
  });
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-doctor-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, `${arm.ca}\n${tls.cert}\n`);
  env = {
    NODE_EXTRA_CA_CERTS: caFile,
    AZURE_RESOURCE_MANAGER_ENDPOINT: arm.endpoint,
    AZURE_AUTHORITY_HOST: `https://127.0.0.1:${(tokens.address() as AddressInfo).port}`,
    AZURE_TENANT_ID: 'e2e-tenant',
    AZURE_CLIENT_ID: 'e2e-app',
    AZURE_CLIENT_SECRET: 'e2e-secret',
    AZURE_SUBSCRIPTION_ID: arm.subscriptionId,
    SGL_TEST_PUBLIC_IP: '203.0.113.7',
  };
});

afterAll(async () => {
  await arm?.stop();
  await new Promise((resolve) => tokens?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Checked {
  checks: { id: string; status: string; detail: string; fix?: string }[];
  ok: boolean;
}
const find = (r: Checked, id: string) => r.checks.find((c) => c.id === id)!;

describe('doctor --cloud azure with the real CLI on the ARM emulator', () => {
  it('reads the location\'s vCPU and public IP usages; passes with room, fails when the VM family\'s quota is short (exit 1)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-doctor-home-'));
    const image = await galleryImageFor(client, VERSION);
    const args = ['doctor', '--cloud', 'azure', '--region', 'eastus', '--resource-group', 'sl-doctor', '--size', 'S', '--version', VERSION, '--image', image, '--allow-cidr', '203.0.113.0/24', '--json'];
    const roomy = await runCli(args, { home, env });
    expect(roomy.code, roomy.stdout + roomy.stderr).toBe(0);
    const ok = roomy.json<Checked>();
    expect(Object.fromEntries(ok.checks.map((c) => [c.id, c.status]))).toEqual({
      credentials: 'pass',
      image: 'pass',
      'instance-type': 'pass',
      permissions: 'skip',
      'quota-vcpus': 'pass',
      'quota-static-addresses': 'pass',
      'caller-address': 'pass',
    });
    expect(find(ok, 'quota-vcpus').detail).toBe('0 of 100 vCPUs in use, 100 free; the launch needs 16');
    expect(find(ok, 'quota-static-addresses').detail).toBe('0 of 20 addresses in use, 20 free; the launch needs 1');

    // The preset's size counts against its family's quota as well as the region's: the tighter decides.
    const family = find(ok, 'instance-type').detail.match(/^Standard_([A-Z]+)\d+([a-z]*)_(v\d+)/)!;
    arm.control.configure({ usageLimits: { cores: 100, families: { [`standard${family[1]}${family[2]!.toUpperCase()}${family[3]}Family`]: 8 }, publicIPAddresses: 20 } });
    const short = await runCli(args, { home, env });
    expect(short.code, short.stdout + short.stderr).toBe(1);
    expect(find(short.json<Checked>(), 'quota-vcpus')).toMatchObject({ status: 'fail', detail: '0 of 8 vCPUs in use, 8 free; the launch needs 16' });
  });
});

describe('Azure credentials from a managed identity, with the real CLI', () => {
  // A loopback stand-in for the VM's instance metadata service (AZURE_POD_IDENTITY_AUTHORITY_HOST
  // moves it, as for the Azure SDK; the link-local address is never used here).
  let imds: HttpServer;
  const asked: URL[] = [];
  beforeAll(async () => {
    imds = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      asked.push(url);
      res.setHeader('Content-Type', 'application/json');
      if (req.headers.metadata !== 'true' || url.pathname !== '/metadata/identity/oauth2/token') {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'bad_request' }));
      } else if (url.searchParams.get('client_id') === 'not-assigned') {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'invalid_request', error_description: 'Identity not found' }));
      } else {
        res.end(JSON.stringify({ access_token: 'managed-identity-token', expires_on: String(Math.floor(Date.now() / 1000) + 3600), token_type: 'Bearer' }));
      }
    });
    await new Promise<void>((resolve) => imds.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => imds?.close(resolve));
  });

  it('AZURE_USE_MANAGED_IDENTITY=true: doctor signs in as the VM\'s identity; with none assigned, exit 3 saying so', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-mi-home-'));
    try {
      arm.control.configure({ usageLimits: { cores: 100, families: {}, publicIPAddresses: 20 } });
      const image = await galleryImageFor(client, VERSION);
      const { AZURE_TENANT_ID: _t, AZURE_CLIENT_ID: _c, AZURE_CLIENT_SECRET: _s, ...rest } = env;
      const managed = { ...rest, AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${(imds.address() as AddressInfo).port}` };
      const args = ['doctor', '--cloud', 'azure', '--region', 'eastus', '--resource-group', 'sl-doctor', '--size', 'XS', '--version', VERSION, '--image', image, '--allow-cidr', '203.0.113.0/24', '--json'];
      asked.length = 0;
      const ok = await runCli(args, { home, env: managed });
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(find(ok.json<Checked>(), 'credentials')).toMatchObject({ status: 'pass' });
      // The token was asked for the resource manager the CLI talks to.
      expect(asked.map((u) => u.searchParams.get('resource'))).toContain(`${arm.endpoint}/`);

      const none = await runCli(args, { home, env: { ...managed, AZURE_CLIENT_ID: 'not-assigned' } });
      expect(none.code, none.stdout + none.stderr).toBe(3);
      expect(none.stdout + none.stderr).toMatch(/managed identity not-assigned .*Identity not found/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
