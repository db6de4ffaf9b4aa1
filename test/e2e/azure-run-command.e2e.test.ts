// `config` and `disk grow` on Azure with SSH closed, end to end: the real CLI process → the ARM
// emulator over HTTPS (startAzureE2e), launched with `--ssh-cidr none`, so the commands go through
// Azure Run Command. The emulator really runs each RunShellScript on the test host standing in for
// the VM (found by the VM's public IP): as root inside the host's namespace, the way the VM agent
// runs it, here over the test's own root SSH login to the host (the agent's path, never the CLI's:
// the NSG has no port-22 rule, and every command the host saw is the agent's `bash -s`).
// The data disk for `disk grow` is a real XFS filesystem on a loop device this test attaches and
// mounts on the host's /mnt/data (inside its private mount namespace), so the filesystem step
// really grows it. Runs inside the test network namespace (npm test), as root.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import type { RunCommandHost } from '../support/arm-emulator/index.js';
import { runCli } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { runAsAgent } from '../support/test-host-agent.js';

const run = promisify(execFile);
const VERSION = '6.12.5040';
const HOST_ADDRESS = '10.200.153.2';
const GROUP = 'sl-rc';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

let azure: AzureE2e;
let host: TestHost;
let dir: string;
let home: string;
let privateKeyPath: string;
let publicKeyPath: string;
const agentRuns: string[] = [];
let loop: { device: string; image: string } | undefined;

/** Runs a script as root on the test host (its namespace, its PATH), as the VM agent would. */
const asAgent = (script: string) => runAsAgent(HOST_ADDRESS, privateKeyPath, script);

const runCommandHost: RunCommandHost = async (vm, script) => {
  if (!vm.publicIps.includes(HOST_ADDRESS)) throw new Error(`no stand-in for VM ${vm.name} (${vm.publicIps.join(', ') || 'no public IP'})`);
  agentRuns.push(script);
  return asAgent(script);
};

const cli = (args: string[]) => runCli(args, { home, timeoutMs: 240_000, env: azure.env });
const overridePath = () => join(host.fsRoot, 'mnt', 'data', 'override.yaml');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-rc-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-azure-rc-home-'));
  azure = await startAzureE2e(dir, { runCommand: runCommandHost });
  const key = await createClientKey(dir);
  privateKeyPath = key.privateKeyPath;
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
  // What our image keeps on its root disk: the size's values and the saved chart (its values.yaml names the chart's top-level keys).
  const state = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch');
  mkdirSync(join(state, 'values'), { recursive: true });
  writeFileSync(join(state, 'values', 'XS.yaml'), 'frontend:\n  replicaCount: 1\n');
  const chart = mkdtempSync(join(tmpdir(), 'sgl-chart-'));
  mkdirSync(join(chart, 'sourcegraph'));
  writeFileSync(join(chart, 'sourcegraph', 'values.yaml'), 'sourcegraph:\n  image: {}\nfrontend:\n  replicaCount: 2\ngitserver: {}\nexecutor: {}\n');
  mkdirSync(join(state, 'charts'), { recursive: true });
  execFileSync('tar', ['-czf', join(state, 'charts', `sourcegraph-${VERSION}.tgz`), '-C', chart, 'sourcegraph']);
  rmSync(chart, { recursive: true, force: true });

  azure.arm.control.nextPublicIps(HOST_ADDRESS);
  const launched = await cli([
    'launch', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none',
    '--ssh-key', publicKeyPath, '--name', 'rc', '--hold-seconds', '0', '--yes', '--json',
  ]);
  expect(launched.code, launched.stderr).toBe(0);
});

afterAll(async () => {
  if (loop) {
    await asAgent('umount /mnt/data').catch(() => undefined);
    await run('losetup', ['-d', loop.device]).catch(() => undefined);
  }
  await host?.stop();
  await azure?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('config and disk grow through Azure Run Command (SSH closed)', () => {
  it('config set writes and applies override.yaml on the instance through Run Command; a failing command exits 1 with its error; --via ssh still needs SSH', async () => {
    const set = await cli(['config', 'set', 'rc', 'frontend.replicaCount=3', ...where, '--yes', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toMatch(/Reaching rc through Azure Run Command \(no SSH: SSH to rc is closed/);
    expect(set.json()).toMatchObject({ action: 'set', changed: true, applied: { version: VERSION }, effective: { frontend: { replicaCount: 3 } } });
    // The file really changed on the host, root-only, and the boot unit was restarted there.
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');
    expect(statSync(overridePath()).mode & 0o777).toBe(0o600);
    expect(agentRuns.length).toBeGreaterThan(3);
    // Nothing reached the host but the agent: every SSH command it saw is the agent's.
    expect(host.execLog().length).toBeGreaterThan(0);
    expect(host.execLog().every((c) => c === 'bash -s')).toBe(true);
    // Nothing of the protocol is left behind on the instance.
    expect(existsSync(join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'run-command')) ? execFileSync('ls', [join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'run-command')]).toString() : '').toBe('');

    // doctor: the VM agent is Ready, so the channel can run.
    const doctor = await cli(['doctor', 'rc', ...where, '--json']);
    const rcCheck = doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks.find((c) => c.id === 'run-command');
    expect(rcCheck).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^the VM agent of \S+ is Ready \(2\.11\.1\.12\)/) });

    // show reads it back through Run Command (the chart values come back in parts if they must).
    const shown = await cli(['config', 'show', 'rc', ...where, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json()).toMatchObject({ override: 'frontend:\n  replicaCount: 3\n', effective: { frontend: { replicaCount: 3 } } });

    // A command that fails on the instance: the history directory cannot be made (a file is in its way).
    const history = join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'override-history');
    mkdirSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch'), { recursive: true });
    rmSync(history, { recursive: true, force: true });
    writeFileSync(history, 'in the way\n');
    const failed = await cli(['config', 'set', 'rc', 'frontend.replicaCount=4', ...where, '--yes']);
    rmSync(history, { force: true });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/Could not write \/mnt\/data\/override\.yaml on the instance: mkdir: .*override-history.*File exists/);
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');

    // --via ssh: the old path, and SSH is closed: exit 1 with how to open it; nothing ran.
    const before = agentRuns.length;
    const viaSsh = await cli(['config', 'show', 'rc', ...where, '--via', 'ssh']);
    expect(viaSsh.code).toBe(1);
    expect(viaSsh.stderr).toContain('SSH to rc is closed');
    expect(agentRuns.length).toBe(before);
    const bad = await cli(['config', 'show', 'rc', ...where, '--via', 'telnet']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--via: "telnet" must be ssh or run-command');
  });

  it('an agent that cannot run the script: a clear error naming Azure Run Command, nothing changed', async () => {
    azure.arm.control.injectFault({ operationId: 'VirtualMachines_RunCommand', mode: 'lro', status: 409, code: 'VMAgentStatusCommunicationError', message: 'VM has not reported status for VM agent or extensions.', count: 1 });
    const failed = await cli(['config', 'set', 'rc', 'frontend.replicaCount=5', ...where, '--yes']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/Azure Run Command on \/subscriptions\/.*\/virtualMachines\/[^ ]+ failed \(running the command\): .*VMAgentStatusCommunicationError: VM has not reported status for VM agent or extensions/);
    expect(failed.stderr).toContain('its agent is ready');
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');
  });

  it('disk grow grows the Azure disk, then the XFS filesystem on the host\'s /mnt/data through Run Command', async () => {
    // A real XFS data disk on the host: 512 MiB, then the "cloud" makes the device 1 GiB (the
    // filesystem stays 512 MiB until something grows it).
    const image = join(dir, 'data-disk.img');
    execFileSync('truncate', ['-s', '512M', image]);
    const device = execFileSync('losetup', ['-f', '--show', image]).toString().trim();
    loop = { device, image };
    execFileSync('mkfs.xfs', ['-q', device]);
    const mounted = await asAgent(`mount ${device} /mnt/data && findmnt -n -o FSTYPE /mnt/data`);
    expect(mounted.stdout.trim(), mounted.stderr).toBe('xfs');
    execFileSync('truncate', ['-s', '1G', image]);
    execFileSync('losetup', ['-c', device]);
    const sizeOf = async () => Number((await asAgent('df -B1 --output=size /mnt/data | tail -n 1')).stdout.trim());
    const before = await sizeOf();
    expect(before).toBeLessThan(600 * 1024 * 1024);

    const grow = await cli(['disk', 'grow', 'rc', ...where, '--size', '600', '--yes', '--json']);
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.stderr).toContain('Reaching rc through Azure Run Command');
    expect(grow.json()).toMatchObject({ toGiB: 600, disk: 'grown', filesystem: { grown: true, usage: { filesystem: 'xfs' } } });
    const after = await sizeOf();
    expect(after).toBeGreaterThan(900 * 1024 * 1024);
  });
});
