// SSH on Azure end to end: the real CLI process → the ARM emulator (test/support/azure-e2e.ts), with
// a test host with a real sshd and HTTP server standing in for the VM. The deployment's public IP
// has the test host's address and boot diagnostics' serial log is the test host's cloud-init output
// (its real host key fingerprints), so `launch --cloud azure` waits over SSH, pins the key the serial
// log lists, and `ssh`/`logs` use it. The test host accepts Azure's login user `sourcegraph` (root is
// refused as an admin user on Azure).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const HOST_ADDRESS = '10.200.123.2';
const GROUP = 'sl-ssh';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let host: TestHost;
let dir: string;
let publicKeyPath: string;
const serialLogRequests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-ssh-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 2, loginUsers: ['sourcegraph'] });
  azure = await startAzureE2e(dir, {
    serialLog: (vm) => {
      serialLogRequests.push(`${vm.resourceGroup}/${vm.name}`);
      return host.consoleOutput('ubuntu');
    },
  });
});

afterAll(async () => {
  await host?.stop();
  await azure?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], home: string, extra: CliOptions = {}) => runCli(args, { home, timeoutMs: 120_000, env: azure.env, ...extra });

describe('SSH on Azure with the real CLI (ARM emulator + test host)', () => {
  it('launch waits over SSH with the host key from boot diagnostics pinned; ssh and logs use it; a changed key is refused', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-ssh-home-'));
    azure.arm.control.nextPublicIps(HOST_ADDRESS);
    const launched = await cli(
      ['launch', 'azssh', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--hold-seconds', '1', '--yes', '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const l = launched.json<{ instanceId: string; publicIp: string; ready: boolean; stages: { name: string; summary?: string }[] }>();
    expect(l).toMatchObject({ publicIp: HOST_ADDRESS, ready: true });
    expect(l.stages.map((s) => s.name)).toEqual(expect.arrayContaining(['instance-running', 'ssh', 'k3s', 'pods', 'http-version']));
    // Checked against the serial log, not trusted on first use.
    expect(launched.stderr).toContain('host key matches the console output');
    // The wait logged in as Azure's login user and read the boot over SSH.
    expect(host.sshdLog()).toMatch(/Accepted publickey for sourcegraph from/);
    expect(host.execLog().some((c) => /systemctl is-active|kubectl get nodes|k3s kubectl get nodes/.test(c))).toBe(true);
    // The key pinned is the one boot diagnostics' serial log listed, read from this VM's log.
    expect(serialLogRequests.some((r) => r.toLowerCase().startsWith(`${GROUP}/`))).toBe(true);
    const pins = join(home, 'state', 'known-hosts.json');
    const stored = JSON.parse(readFileSync(pins, 'utf8')) as Record<string, { fingerprint: string }>;
    expect(host.hostKeyFingerprints).toContain(stored[l.instanceId]!.fingerprint);

    const cat = await cli(['ssh', 'azssh', ...where, '--', 'cat', '/home/sourcegraph/.sourcegraph-version'], home);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe(`${VERSION}\n`);
    const failing = await cli(['ssh', 'azssh', ...where, '--json', '--', 'echo out; exit 4'], home);
    expect(failing.code, failing.stderr).toBe(4);
    expect(failing.json()).toMatchObject({ exitCode: 4, stdout: 'out\n', instanceId: l.instanceId, host: HOST_ADDRESS });

    writeFileSync(join(host.fsRoot, 'var', 'log', 'sourcegraph-boot.journal'), 'Nov 27 10:00:01 boot.sh[812]: decision: install\n');
    const logs = await cli(['logs', 'azssh', ...where], home);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('boot.sh[812]: decision: install');
    expect(logs.stdout).toContain(`Versions: image ${VERSION}, data ${VERSION}`);
    expect(logs.stdout).toContain('-----BEGIN SSH HOST KEY FINGERPRINTS-----');

    // Another machine at the address (the pin changed): refused before anything runs.
    stored[l.instanceId] = { ...stored[l.instanceId]!, fingerprint: `SHA256:${'C'.repeat(43)}` };
    writeFileSync(pins, JSON.stringify(stored));
    const before = host.execLog().length;
    const refused = await cli(['ssh', 'azssh', ...where, '--json', '--', 'touch', '/tmp/never'], home);
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ error: { code: 'host-key-mismatch' } });
    expect(host.execLog().length).toBe(before);

    const destroyed = await cli(['destroy', 'azssh', ...where, '--yes', '--json'], home);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    rmSync(home, { recursive: true, force: true });
  });

  it('without --resource-group a deployment goes in its own group sourcegraph-<name>, which every command finds and destroy keeps', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-ssh-home-'));
    const region = ['--cloud', 'azure', '--region', 'eastus'];
    const launched = await cli(['launch', 'own-group', ...region, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--no-wait', '--yes', '--json'], home);
    expect(launched.code, launched.stderr).toBe(0);
    const instanceId = launched.json<{ instanceId: string }>().instanceId;
    expect(instanceId).toMatch(/\/resourceGroups\/sourcegraph-own-group\/providers\/Microsoft\.Compute\/virtualMachines\//);
    const state = azure.arm.control.state();
    expect(state.resourceGroups.find((g) => g.name === 'sourcegraph-own-group')?.tags).toMatchObject({ 'sourcegraph-launch:managed': 'true' });
    const elsewhere = state.resources.filter((r) => r.resourceGroup.toLowerCase() !== 'sourcegraph-own-group' && JSON.stringify(r.tags ?? {}).includes('own-group'));
    expect(elsewhere).toEqual([]);

    // From another machine (no local record), without --resource-group: found and removed.
    const other = mkdtempSync(join(tmpdir(), 'sgl-azure-ssh-home-'));
    const status = await cli(['status', 'own-group', ...region, '--no-probe', '--json'], other);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({ name: 'own-group', instanceId });
    const destroyed = await cli(['destroy', 'own-group', ...region, '--yes', '--json'], other);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    const after = azure.arm.control.state();
    expect(after.resources.filter((r) => r.type === 'Microsoft.Compute/virtualMachines' && r.resourceGroup === 'sourcegraph-own-group')).toEqual([]);
    // The group stays: it holds the kept data disk.
    expect(after.resourceGroups.some((g) => g.name === 'sourcegraph-own-group')).toBe(true);
    rmSync(home, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it.each([
    ['launch', 'root'],
    ['launch', 'admin'],
    ['build-image', 'root'],
  ])('%s --ssh-user %s: a name Azure refuses for a VM user is exit 2 before anything is created', async (command, user) => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-ssh-home-'));
    const before = azure.arm.control.state().resources.length;
    const tokensBefore = azure.tokenRequests.length;
    const args = command === 'launch'
      ? ['launch', 'refused', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', user, '--yes', '--json']
      : ['build-image', ...where, '--version', VERSION, '--ssh-cidr', '203.0.113.7/32', '--ssh-user', user, '--json'];
    const run = await cli(args, home);
    expect(run.code, run.stderr).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'bad-input' } });
    expect(run.json<{ error: { message: string } }>().error.message).toBe(
      `--ssh-user: Azure refuses "${user}" as a VM's login user (the adminUsername deny-list of Azure's compute API, computeRPCommon.json 2024-07-01). Use another name, e.g. sourcegraph (the default)`,
    );
    // Nothing made, not even a sign-in.
    expect(azure.arm.control.state().resources.length).toBe(before);
    expect(azure.tokenRequests.length).toBe(tokensBefore);
    rmSync(home, { recursive: true, force: true });
  });
});
