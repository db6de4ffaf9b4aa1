// Which channel `config`, `executors enable` and `disk grow` use (openChannel), on the fake cloud:
// SSH when it is open and connects; the cloud's run-command channel when SSH is closed or does not
// answer and the cloud offers one; `--via` forcing either; and a cloud without a run-command channel
// (the fake cloud has none, as GCE today; it runs under the default provider's name here) refusing
// `--via run-command` with exit 2 before anything changes. The run-command channel's scripts are never run here (its protocol has its own test with
// a real shell, and the real CLI runs it on Azure in test/e2e/azure-run-command.e2e.test.ts).
import { describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { runDiskGrow } from '../../src/commands/disk-grow.js';
import { openChannel, reachInstance } from '../../src/commands/instance-access.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { ok, ScriptedRemoteHost, type ConnectOutcome } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----'].join('\n');
const where = { region: REGION, providerFlags: {} };

async function rig(opts: { sshCidr: string; runCommand: boolean; connect?: ConnectOutcome }) {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [opts.sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, CONSOLE);
  const scripts: string[] = [];
  if (opts.runCommand) {
    // A cloud with a run-command channel: the fake with the two optional port members.
    Object.assign(fake as unknown as Cloud, {
      runCommandLimits: { name: 'Test Run Command', maxScriptBytes: 64 * 1024, maxOutputBytes: 4096 },
      runCommand: async (_id: string, script: string) => {
        scripts.push(script);
        return { stdout: '', stderr: '' };
      },
    });
  }
  const remote = new ScriptedRemoteHost(() => 0, () => ok(''), () => opts.connect ?? 'ok');
  const io = new ScriptedIo([], false);
  const deps: Deps = { ...makeFakeDeps({ fake, io, home }), connectRemote: remote.connect };
  return { fake, deps, io, remote, scripts, resizes: () => fake.calls.filter((c) => c.method === 'resizeDisk') };
}

async function errorOf(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('openChannel', () => {
  it('uses SSH when it is open and connects, and says so', async () => {
    const { deps, io, remote } = await rig({ sshCidr: '203.0.113.7/32', runCommand: true });
    const ch = await openChannel(deps, await reachInstance(deps, 'prod', where), where);
    expect(ch.kind).toBe('ssh');
    expect(remote.targets).toHaveLength(1);
    expect(io.text()).toMatch(/Reaching prod over SSH \(ec2-user@[\d.]+\)\./);
    await ch.close();
  });

  it('goes through the run-command channel when SSH is closed, or open but not answering, and says why', async () => {
    const closed = await rig({ sshCidr: 'none', runCommand: true });
    const ch = await openChannel(closed.deps, await reachInstance(closed.deps, 'prod', where), where);
    expect(ch).toMatchObject({ kind: 'run-command', description: 'Test Run Command' });
    expect(closed.remote.targets).toHaveLength(0);
    expect(closed.io.text()).toContain('Reaching prod through Test Run Command (no SSH: SSH to prod is closed');

    const silent = await rig({ sshCidr: '203.0.113.7/32', runCommand: true, connect: new LaunchError('ssh-unreachable', ExitCode.failed, 'SSH to 203.0.113.9:22 did not answer') });
    const ch2 = await openChannel(silent.deps, await reachInstance(silent.deps, 'prod', where), where);
    expect(ch2.kind).toBe('run-command');
    expect(silent.io.text()).toContain('SSH did not connect: SSH to 203.0.113.9:22 did not answer');
  });

  it('--via forces one: --via ssh with SSH closed is the SSH error; --via run-command skips open SSH', async () => {
    const closed = await rig({ sshCidr: 'none', runCommand: true });
    const e = await errorOf(openChannel(closed.deps, await reachInstance(closed.deps, 'prod', where), { ...where, via: 'ssh' }));
    expect(e.code).toBe('ssh-closed');

    const open = await rig({ sshCidr: '203.0.113.7/32', runCommand: true });
    const ch = await openChannel(open.deps, await reachInstance(open.deps, 'prod', where), { ...where, via: 'run-command' });
    expect(ch.kind).toBe('run-command');
    expect(open.remote.targets).toHaveLength(0);

    const bad = await errorOf(openChannel(open.deps, await reachInstance(open.deps, 'prod', where), { ...where, via: 'rdp' }));
    expect(bad).toMatchObject({ code: 'invalid-via', exitCode: ExitCode.badInput });
  });

  it('a cloud without a run-command channel: SSH closed is the SSH error as before; --via run-command exits 2', async () => {
    const { deps } = await rig({ sshCidr: 'none', runCommand: false });
    const reach = await reachInstance(deps, 'prod', where);
    expect((await errorOf(openChannel(deps, reach, where))).code).toBe('ssh-closed');
    const e = await errorOf(openChannel(deps, reach, { ...where, via: 'run-command' }));
    expect(e).toMatchObject({ code: 'run-command-not-offered', exitCode: ExitCode.badInput });
    expect(e.message).toMatch(/^A run-command channel is not offered on \S+ yet: open SSH \(--ssh-cidr\) and run again$/);
  });

  it('disk grow --via run-command on such a cloud exits 2 before the disk is touched', async () => {
    const { deps, resizes } = await rig({ sshCidr: 'none', runCommand: false });
    const e = await errorOf(runDiskGrow(deps, 'prod', { ...where, size: '900', yes: true, via: 'run-command' }));
    expect(e.code).toBe('run-command-not-offered');
    expect(resizes()).toEqual([]);
  });
});
