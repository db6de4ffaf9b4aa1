// `ssh` and `logs` end to end: the real CLI process → moto for the cloud, and a test host with a
// real sshd standing in for the instance (its address is the deployment's Elastic IP, its host
// keys are what the console lists). Runs inside the test network namespace (npm test).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { runCliInPty } from '../support/pty.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.83.2';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 180_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;
let groups: ReturnType<typeof deploymentResources>['groups'];

function launchArgs(name: string, sshCidr: string): string[] {
  return [
    'launch', name, ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', sshCidr,
    '--ssh-key', publicKeyPath,
    // Only root can log in to the test host; real images use the cloud's login user.
    '--ssh-user', 'root', '--hold-seconds', '1', '--json',
  ];
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  ({ groups } = deploymentResources(ec2));
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

const newHome = () => mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));

describe('ssh and logs with the real CLI', () => {
  it('ssh runs a command with the exit status passed on; logs shows the status file, journal and pods; a changed host key is refused', async () => {
    const home = newHome();
    const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'day2' });
    const launch = await runCli(launchArgs('day2', '203.0.113.7/32'), { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const instanceId = launch.json<{ instanceId: string }>().instanceId;

    // A command's output and exit status are the instance's.
    const cat = await cli(['ssh', 'day2', ...REGION, '--', 'cat', '/mnt/data/.sourcegraph-version']);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe(`${VERSION}\n`);
    const failing = await cli(['ssh', 'day2', ...REGION, '--', 'exit', '7']);
    expect(failing.code, failing.stderr).toBe(7);
    const json = await cli(['ssh', 'day2', ...REGION, '--json', '--', 'echo out; echo err >&2; exit 3']);
    expect(json.code, json.stderr).toBe(3);
    expect(json.json()).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', instanceId, host: HOST_ADDRESS });
    expect(host.execLog()).toContain('echo out; echo err >&2; exit 3');
    // Input piped to ssh is the command's.
    const piped = await runCli(['ssh', 'day2', ...REGION, '--', 'tr', 'a-z', 'A-Z'], { endpoint: moto.endpoint, home, input: 'override: yes\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('OVERRIDE: YES\n');

    // At a terminal, no command: an interactive shell in a terminal on the instance; its exit status is ours.
    const shell = runCliInPty(['ssh', 'day2', ...REGION], { endpoint: moto.endpoint, home });
    await shell.waitFor(/# $/);
    shell.type('echo "tty: $(tty | cut -c1-9) product: $((6 * 7))"; exit 5\r');
    await shell.waitFor(/tty: \/dev\/pts\/ product: 42/);
    expect((await shell.exited).code).toBe(5);

    // What the boot wrote, as logs shows it.
    const status = { stage: 'done', targetVersion: VERSION, decision: 'upgrade', startedAt: '2026-11-27T10:00:00Z', finishedAt: '2026-11-27T10:04:00Z', lastError: null, errorCode: null, dataVersion: '6.11.6000' };
    writeFileSync(join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'status.json'), JSON.stringify(status));
    writeFileSync(join(host.fsRoot, 'var', 'log', 'sourcegraph-boot.journal'), 'Nov 27 10:00:01 boot.sh[812]: decision: upgrade\nNov 27 10:04:00 boot.sh[812]: Started Sourcegraph on version 6.12.5040\n');
    host.reboot({ podsPendingSteps: 1, healthzNotFoundCount: 0, k3sActivatingCount: 0, k3sBootSteps: 0 });
    const logs = await cli(['logs', 'day2', ...REGION, '--pods']);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/decision\s+upgrade/);
    expect(logs.stdout).toMatch(/stage\s+done/);
    expect(logs.stdout).toContain('journalctl -u sourcegraph-boot.service');
    expect(logs.stdout).toContain('boot.sh[812]: decision: upgrade');
    expect(logs.stdout).toContain(`Versions: image ${VERSION}, data ${VERSION} (installed)`);
    expect(logs.stdout).toContain('-----BEGIN SSH HOST KEY FINGERPRINTS-----');
    // Not-ready pods come first (the stub's booting appliance: 4 of 5 not ready yet).
    const podLines = logs.stdout.split('\n').filter((l) => /^\s+(kube-system|default)\s/.test(l));
    expect(podLines.map((l) => l.trim().split(/\s+/).slice(1, 4).join(' '))).toEqual([
      'gitserver-0 no ContainerCreating',
      'pgsql-0 no NotReady',
      'sourcegraph-frontend-6f9c8d7b5-4kq2w no PodInitializing',
      'traefik-d7c9c5778-9bm5k no NotReady',
      'coredns-7b98449c4-x2x7p yes Running',
    ]);
    expect(logs.stdout).toContain('Pods: 1/5 ready (not ready first)');
    expect(host.execLog()).toContain('sudo journalctl -u sourcegraph-boot.service -n 50 --no-pager');

    const logsJson = await cli(['logs', 'day2', ...REGION, '--json', '--lines', '1']);
    expect(logsJson.code, logsJson.stderr).toBe(0);
    const parsed = logsJson.json<Record<string, any>>();
    expect(parsed).toMatchObject({ name: 'day2', instanceId, bootStatus: { decision: 'upgrade', stage: 'done' }, versions: { image: VERSION, data: VERSION }, missing: [] });
    expect(parsed.journal).toBe('Nov 27 10:04:00 boot.sh[812]: Started Sourcegraph on version 6.12.5040');
    expect(parsed.console.text.split('\n')).toHaveLength(1);
    expect(parsed.pods).toBeUndefined();

    // The pinned key changes (another machine answers at the address): refused, nothing is run.
    const pins = join(home, 'state', 'known-hosts.json');
    const stored = JSON.parse(readFileSync(pins, 'utf8')) as Record<string, { fingerprint: string }>;
    expect(stored[instanceId]!.fingerprint).toBe(host.hostKeyFingerprint);
    stored[instanceId] = { ...stored[instanceId]!, fingerprint: `SHA256:${'B'.repeat(43)}` };
    writeFileSync(pins, JSON.stringify(stored));
    const before = host.execLog().length;
    const refused = await cli(['ssh', 'day2', ...REGION, '--json', '--', 'touch', '/tmp/never']);
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ error: { code: 'host-key-mismatch' } });
    const refusedLogs = await cli(['logs', 'day2', ...REGION]);
    expect(refusedLogs.code).toBe(1);
    expect(refusedLogs.stderr).toMatch(/does not match the key pinned/);
    expect(refusedLogs.stdout).toContain('Serial console');
    expect(host.execLog().length).toBe(before);
  });

  it('with --ssh-cidr none: ssh explains and gives the launch --update command, which works; logs still prints the console', async () => {
    const home = newHome();
    const cli = (args: string[], timeoutMs?: number) => runCli(args, { endpoint: moto.endpoint, home, ...(timeoutMs ? { timeoutMs } : {}) });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'closed' });
    const launch = await cli(launchArgs('closed', 'none'), 120_000);
    expect(launch.code, launch.stderr).toBe(0);
    const before = host.execLog().length;

    const ssh = await cli(['ssh', 'closed', ...REGION, '--json', '--', 'true']);
    expect(ssh.code).toBe(1);
    const error = ssh.json<{ error: { code: string; message: string; remediation: string; details: { command: string } } }>().error;
    expect(error).toMatchObject({ code: 'ssh-closed' });
    expect(error.message).toMatch(/SSH to closed is closed/);
    const command = error.details.command;
    expect(command).toMatch(/^sourcegraph-launch launch closed --region us-east-1 .*--ssh-cidr '<your-ip>\/32' .*--update$/);
    expect(error.remediation).toContain(command);

    const logs = await cli(['logs', 'closed', ...REGION]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('Serial console (last 50 lines)');
    expect(logs.stdout).toContain(host.hostKeyFingerprint);
    expect(logs.stderr).toMatch(/Not shown \(status file, version files, boot log, journal\): SSH to closed is closed/);
    expect(logs.stderr).toContain(command);
    expect(host.execLog().length).toBe(before);

    // The command it gave is one launch accepts: it opens 22 to that address only, and ssh works.
    const args = command.replace("'<your-ip>/32'", '203.0.113.9/32').split(' ').slice(1);
    // (plus a short hold, only to keep the test short: launch then waits as it always does)
    const update = await cli([...args, '--hold-seconds', '1'], 120_000);
    expect(update.code, update.stderr).toBe(0);
    const [sg] = await groups('closed');
    const rules = (sg!.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort} ${r.CidrIp}`)).sort();
    expect(rules).toEqual(['22 203.0.113.9/32', '443 203.0.113.0/24', '80 203.0.113.0/24']);
    const works = await cli(['ssh', 'closed', ...REGION, '--', 'cat', '/home/ec2-user/.sourcegraph-version']);
    expect(works.code, works.stderr).toBe(0);
    expect(works.stdout).toBe(`${VERSION}\n`);
  });
});
