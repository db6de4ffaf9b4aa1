// `executors enable` end to end: the real CLI process → moto for the cloud, and a test host with a
// real sshd standing in for the instance: the token is made there (real openssl, on its
// bind-mounted data disk), override.yaml is changed and applied through the stub boot unit
// (test/support/test-host/bin/systemctl replays the reinstall), a refused apply is rolled back.
// Runs inside the test network namespace (npm test).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileStateStore } from '../../src/state/file-store.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.130.2';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let host: TestHost;
let keyDir: string;
let home: string;

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_POLL_MS: '200' } });
const volumeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch');
const secretPath = () => join(volumeDir(), 'executor-secret');
const overridePath = () => join(host.fsRoot, 'mnt', 'data', 'override.yaml');
const chartPath = () => join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'charts', `sourcegraph-executor-k8s-${VERSION}.tgz`);
const restarts = () => host.execLog().filter((c) => c.includes('base64 -d | sudo sh')).length;

interface Enabled {
  count: number;
  token: string;
  tokenPath: string;
  readTokenCommand: string;
  changed: boolean;
  override: string;
  applied?: { version?: string };
  https?: { url: string; ok: boolean; problem?: string };
  siteConfig: Record<string, string>;
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  mkdirSync(join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'charts'), { recursive: true });
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  await allocateTestAddress(motoEc2Client(moto), HOST_ADDRESS, { deployment: 'exe' });
  const launch = await runCli(
    ['launch', 'exe', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
    { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('executors enable with the real CLI', () => {
  it('refuses an image without the executor chart, then makes the token on the instance, sets the replicas, applies, and prints the site configuration without the token', async () => {
    // No executor chart on the image: exit 1, nothing written.
    const noChart = await cli(['executors', 'enable', 'exe', ...REGION, '--yes']);
    expect(noChart.code, noChart.stderr).toBe(1);
    expect(noChart.stderr).toContain(`has no executor chart for ${VERSION}`);
    expect(existsSync(secretPath())).toBe(false);
    expect(existsSync(overridePath())).toBe(false);

    writeFileSync(chartPath(), 'a saved chart\n');
    // Bad input and CI without --yes: exit 2, nothing written.
    for (const bad of [['--count', '0'], ['--count', 'two'], ['--count', '17']]) expect((await cli(['executors', 'enable', 'exe', ...REGION, ...bad, '--yes'])).code).toBe(2);
    const unasked = await cli(['executors', 'enable', 'exe', ...REGION, '--count', '2']);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain('--yes');
    expect(existsSync(secretPath())).toBe(false);

    // HTTPS on the own domain recorded (here the test host's address, where nothing serves 443): the apply then probes it, a warning only.
    const state = new FileStateStore(join(home, 'state'));
    const record = state.getDeployment('aws', 'us-east-1', 'exe');
    expect(record?.instanceId).toBeDefined();
    const now = new Date().toISOString();
    state.putDeployment({ ...record!, tls: { domain: HOST_ADDRESS, url: `https://${HOST_ADDRESS}`, notAfter: now, fingerprint256: 'AA', dnsNames: [], issuer: 'CN=CA', installedAt: now } });

    const enabled = await cli(['executors', 'enable', 'exe', ...REGION, '--count', '2', '--yes', '--json']);
    expect(enabled.code, enabled.stderr).toBe(0);
    const token = readFileSync(secretPath(), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(secretPath()).mode & 0o777).toBe(0o600);
    const values = readFileSync(join(volumeDir(), 'executor-values.yaml'), 'utf8');
    expect(values).toBe(`executor:\n  frontendUrl: "http://sourcegraph-frontend:30080"\n  frontendPassword: "${token}"\n`);
    expect(statSync(join(volumeDir(), 'executor-values.yaml')).mode & 0o777).toBe(0o600);
    expect(readFileSync(overridePath(), 'utf8')).toBe('executor:\n  replicas: 2\n');
    const r = enabled.json<Enabled>();
    expect(r).toMatchObject({ count: 2, token: 'created', changed: true, applied: { version: VERSION }, https: { url: `https://${HOST_ADDRESS}`, ok: false, problem: 'unreachable' } });
    expect(r.readTokenCommand).toBe('sourcegraph-launch executors token exe --region us-east-1');
    expect(r.siteConfig['executors.frontendURL']).toBe('http://sourcegraph-frontend:30080');
    expect(r.siteConfig['executors.accessToken']).toContain(r.readTokenCommand);
    // The token never crossed the wire: not in the output, not in any command sent.
    expect(enabled.stdout + enabled.stderr).not.toContain(token);
    expect(host.execLog().some((c) => c.includes(token) || Buffer.from(c.split(' ')[1] ?? '', 'base64').toString().includes(token))).toBe(false);
    expect(enabled.stderr).toContain(`https://${HOST_ADDRESS} gave no answer from here`);

    // The same again: nothing changed, nothing restarted; the token is kept.
    const before = restarts();
    const same = await cli(['executors', 'enable', 'exe', ...REGION, '--count', '2']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout + same.stderr).toContain('nothing to apply');
    expect(same.stdout + same.stderr).toContain('"executors.frontendURL": "http://sourcegraph-frontend:30080"');
    expect(same.stdout + same.stderr).toContain('print it with `sourcegraph-launch executors token exe --region us-east-1`');
    expect(restarts() - before).toBe(4); // chart check, config read, token check, token kept: no write, no restart
    expect(host.execLog().slice(-4).some((c) => c.includes('systemctl'))).toBe(false);
    expect(readFileSync(secretPath(), 'utf8').trim()).toBe(token);
  });

  it('a volume whose boot already made a token keeps it (adopted into the secret file, no reinstall for it)', async () => {
    const known = 'b'.repeat(64);
    rmSync(secretPath(), { force: true });
    writeFileSync(join(volumeDir(), 'executor-values.yaml'), `executor:\n  frontendUrl: "http://sourcegraph-frontend:30080"\n  frontendPassword: "${known}"\n`, { mode: 0o600 });
    const before = host.execLog().length;
    const adopted = await cli(['executors', 'enable', 'exe', ...REGION, '--count', '2', '--yes', '--json']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.json<Enabled>()).toMatchObject({ token: 'adopted', changed: false });
    expect(readFileSync(secretPath(), 'utf8')).toBe(`${known}\n`);
    expect(host.execLog().slice(before).some((c) => c.includes('systemctl'))).toBe(false);
  });

  it('a count Helm refuses is rolled back: the previous override.yaml is put back and applied; exit 1', async () => {
    writeFileSync(chartPath(), 'a saved chart\n');
    writeFileSync(join(volumeDir(), 'sgl-test-helm-refuses'), 'replicas: 3\n');
    try {
      const refused = await cli(['executors', 'enable', 'exe', ...REGION, '--count', '3', '--yes', '--json']);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'executors-enable-failed' });
      expect(refused.json<{ error: { message: string } }>().error.message).toContain('The previous override.yaml is back and applied');
      expect(readFileSync(overridePath(), 'utf8')).toBe('executor:\n  replicas: 2\n');
    } finally {
      rmSync(join(volumeDir(), 'sgl-test-helm-refuses'), { force: true });
    }
  });
});
