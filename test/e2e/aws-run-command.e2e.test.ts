// `config` and `doctor` on AWS with SSH closed, end to end: the real CLI process → moto for EC2 and
// a loopback Systems Manager stand-in (test/support/ssm-stand-in.ts, reached through
// AWS_ENDPOINT_URL_SSM: moto's SendCommand runs nothing), which really runs each AWS-RunShellScript
// as root on the test host behind the deployment's Elastic IP (test/support/test-host-agent.ts).
// Launched with `--ssh-cidr none`, so `config set` goes through Systems Manager Run Command and
// really changes override.yaml on the host, `executors enable` makes its token there; `doctor` reports
// whether the instance is managed.
// Runs inside the test network namespace (npm test).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { runAsAgent } from '../support/test-host-agent.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.154.2';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let moto: MotoServer;
let ssm: SsmStandIn;
let host: TestHost;
let dir: string;
let home: string;
let instanceId: string;
const agentRuns: string[] = [];

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 180_000, env: { AWS_ENDPOINT_URL_SSM: ssm.endpoint } });
const overridePath = () => join(host.fsRoot, 'mnt', 'data', 'override.yaml');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-aws-rc-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-aws-rc-home-'));
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  const key = await createClientKey(dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
  ssm = await startSsmStandIn(async (id, script) => {
    if (id !== instanceId) throw new Error(`no stand-in for ${id}`);
    agentRuns.push(script);
    return runAsAgent(HOST_ADDRESS, key.privateKeyPath, script);
  });
  const state = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch');
  mkdirSync(join(state, 'values'), { recursive: true });
  writeFileSync(join(state, 'values', 'S.yaml'), 'frontend:\n  replicaCount: 1\n');
  const chart = mkdtempSync(join(tmpdir(), 'sgl-chart-'));
  mkdirSync(join(chart, 'sourcegraph'));
  writeFileSync(join(chart, 'sourcegraph', 'values.yaml'), 'sourcegraph:\n  image: {}\nfrontend:\n  replicaCount: 2\ngitserver: {}\nexecutor: {}\n');
  mkdirSync(join(state, 'charts'), { recursive: true });
  execFileSync('tar', ['-czf', join(state, 'charts', `sourcegraph-${VERSION}.tgz`), '-C', chart, 'sourcegraph']);
  rmSync(chart, { recursive: true, force: true });

  await allocateTestAddress(motoEc2Client(moto), HOST_ADDRESS, { deployment: 'rc' });
  const launch = await cli(['launch', 'rc', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--ssh-key', `${key.privateKeyPath}.pub`, '--hold-seconds', '1', '--no-wait', '--json']);
  expect(launch.code, launch.stderr).toBe(0);
  instanceId = launch.json<{ instanceId: string }>().instanceId;
});

afterAll(async () => {
  await host?.stop();
  await ssm?.stop();
  await moto?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('config through AWS Systems Manager Run Command (SSH closed)', () => {
  it('an instance Systems Manager does not manage: doctor warns, config exits 1 saying what the instance needs, nothing ran', async () => {
    const doctor = await cli(['doctor', 'rc', ...REGION, '--json']);
    const check = doctor.json<{ checks: { id: string; status: string; detail: string; fix?: string }[] }>().checks.find((c) => c.id === 'run-command');
    expect(check).toMatchObject({ status: 'warn', detail: `${instanceId} is not a Systems Manager managed instance: config, executors enable and disk grow need SSH open to you` });
    expect(check!.fix).toContain('AmazonSSMManagedInstanceCore');

    const set = await cli(['config', 'set', 'rc', 'frontend.replicaCount=3', ...REGION, '--yes']);
    expect(set.code).toBe(1);
    expect(set.stderr).toContain(`Systems Manager cannot reach ${instanceId}: it is not a managed instance`);
    expect(agentRuns).toEqual([]);
  });

  it('a managed instance: config set writes and applies override.yaml on it through SendCommand; doctor passes', async () => {
    ssm.managed.add(instanceId);
    const set = await cli(['config', 'set', 'rc', 'frontend.replicaCount=3', ...REGION, '--yes', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain('Reaching rc through AWS Systems Manager Run Command (no SSH: SSH to rc is closed');
    expect(set.json()).toMatchObject({ action: 'set', changed: true, applied: { version: VERSION }, effective: { frontend: { replicaCount: 3 } } });
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');
    expect(ssm.sent.every((s) => s.DocumentName === 'AWS-RunShellScript' && s.InstanceIds?.[0] === instanceId)).toBe(true);
    expect(agentRuns.length).toBeGreaterThan(3);
    expect(host.execLog().every((c) => c === 'bash -s')).toBe(true);

    const doctor = await cli(['doctor', 'rc', ...REGION, '--json']);
    const check = doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks.find((c) => c.id === 'run-command');
    expect(check).toMatchObject({ status: 'pass', detail: expect.stringContaining('is managed by Systems Manager (agent 3.3.0.0, Online)') });
  });

  it('executors enable through Systems Manager: the token made on the instance, the replicas set and applied', async () => {
    const volume = join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch');
    writeFileSync(join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'charts', `sourcegraph-executor-k8s-${VERSION}.tgz`), 'a saved chart\n');
    const enabled = await cli(['executors', 'enable', 'rc', ...REGION, '--count', '2', '--yes', '--json']);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(enabled.stderr).toContain('through AWS Systems Manager Run Command');
    expect(enabled.json()).toMatchObject({ count: 2, token: 'created', changed: true, applied: { version: VERSION } });
    const token = readFileSync(join(volume, 'executor-secret'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(volume, 'executor-secret')).mode & 0o777).toBe(0o600);
    // Never printed, as over SSH.
    expect(enabled.stdout + enabled.stderr).not.toContain(token);
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\nexecutor:\n  replicas: 2\n');
  });
});
