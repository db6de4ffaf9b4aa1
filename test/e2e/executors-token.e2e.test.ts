// `executors token` end to end: the real CLI process → moto for EC2, a test host with a real sshd
// standing in for the instance (its bind-mounted data disk holds the token file), and the loopback
// Systems Manager stand-in (test/support/ssm-stand-in.ts, through AWS_ENDPOINT_URL_SSM) that really
// runs each AWS-RunShellScript as root on the same host. The token is read over SSH (the default
// when it is open) and through Run Command (--via run-command), and never appears on a command line
// sent to the instance or to Systems Manager. Runs inside the test network namespace.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { runAsAgent } from '../support/test-host-agent.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60722';
const HOST_ADDRESS = '10.200.179.2';
const REGION = ['--region', 'us-east-1'];
const TOKEN = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let moto: MotoServer;
let ssm: SsmStandIn;
let host: TestHost;
let dir: string;
let home: string;
let instanceId: string;
const agentRuns: string[] = [];

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 120_000, env: { SGL_TEST_POLL_MS: '100', AWS_ENDPOINT_URL_SSM: ssm.endpoint } });
const volumeDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-e2e-exec-token-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-exec-token-home-'));
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  const key = await createClientKey(dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  ssm = await startSsmStandIn(async (id, script) => {
    if (id !== instanceId) throw new Error(`no stand-in for ${id}`);
    agentRuns.push(script);
    return runAsAgent(HOST_ADDRESS, key.privateKeyPath, script);
  });
  await allocateTestAddress(motoEc2Client(moto), HOST_ADDRESS, { deployment: 'exe' });
  const launch = await cli(['launch', 'exe', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', '--json']);
  expect(launch.code, launch.stderr).toBe(0);
  instanceId = launch.json<{ instanceId: string }>().instanceId;
});

afterAll(async () => {
  await host?.stop();
  await ssm?.stop();
  await moto?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('executors token with the real CLI', () => {
  it('no token on the volume yet: exit 1 naming executors enable; a bad --via exits 2', async () => {
    const none = await cli(['executors', 'token', 'exe', ...REGION, '--json']);
    expect(none.code, none.stderr).toBe(1);
    expect(none.json()).toMatchObject({ error: { code: 'executor-token-not-found', message: 'exe has no executor access token yet (/mnt/data/.sourcegraph-launch/executor-secret)' } });
    expect(none.stderr).toContain('sourcegraph-launch executors enable exe --region us-east-1');
    const bad = await cli(['executors', 'token', 'exe', ...REGION, '--via', 'carrier-pigeon']);
    expect(bad.code, bad.stderr).toBe(2);
  });

  it('over SSH (open to us): prints the token, --json {name, token}; the token is on no command line', async () => {
    mkdirSync(volumeDir(), { recursive: true });
    writeFileSync(join(volumeDir(), 'executor-secret'), `${TOKEN}\n`, { mode: 0o600 });
    const before = host.execLog().length;
    const json = await cli(['executors', 'token', 'exe', ...REGION, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json()).toEqual({ name: 'exe', token: TOKEN });
    expect(json.stderr).toContain(`Reaching exe over SSH (root@${HOST_ADDRESS})`);

    const human = await cli(['executors', 'token', 'exe', ...REGION]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim().split('\n').at(-1)).toBe(TOKEN);
    const sent = host.execLog().slice(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.some((c) => c.includes(TOKEN) || decoded(c).includes(TOKEN))).toBe(false);
    expect(sent.some((c) => decoded(c).includes('/mnt/data/.sourcegraph-launch/executor-secret'))).toBe(true);
    expect(agentRuns).toEqual([]);
  });

  it('through Systems Manager Run Command (--via run-command): the same token; SendCommand carries only the path', async () => {
    ssm.managed.add(instanceId);
    const r = await cli(['executors', 'token', 'exe', ...REGION, '--via', 'run-command', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toEqual({ name: 'exe', token: TOKEN });
    expect(r.stderr).toContain('Reaching exe through AWS Systems Manager Run Command (--via run-command)');
    expect(agentRuns.length).toBeGreaterThan(0);
    const commands = JSON.stringify(ssm.sent);
    expect(commands).not.toContain(TOKEN);
    expect(agentRuns.some((s) => s.includes(TOKEN) || decoded(s).includes(TOKEN))).toBe(false);
    expect(ssm.sent.every((s) => s.DocumentName === 'AWS-RunShellScript' && s.InstanceIds?.[0] === instanceId)).toBe(true);
  });
});

/** The script inside `echo <base64> | base64 -d | sudo sh` (asRoot), or the text itself. */
function decoded(command: string): string {
  const m = /echo ([A-Za-z0-9+/=]+) \| base64 -d/.exec(command);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : command;
}
