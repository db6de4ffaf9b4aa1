// `ssh` and `logs` in-process on the fake cloud: which instance, key, user, address and host-key
// check they use, and each typed error with its exit code, judged by what reached the (scripted)
// SSH connection. The real sshd is exercised in test/e2e/ssh-logs.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runLogs, parsePods } from '../../src/commands/logs.js';
import { runSsh } from '../../src/commands/ssh.js';
import { cidrContains } from '../../src/commands/instance-access.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import type { Remote } from '../../src/remote/remote.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { failed, ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----', 'login: '].join('\n');
const where = { region: REGION, providerFlags: {} };

async function rig(sshCidr: string) {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, CONSOLE);
  const remote = new ScriptedRemoteHost(() => 0, (command) => {
    if (command === 'exit 7') return failed(7, '');
    if (command.includes('status.json')) return ok('{"stage":"done","decision":"unchanged"}');
    if (command.includes('journalctl')) return ok('boot.sh: decision unchanged\n');
    if (command.includes('get pods')) return ok(JSON.stringify({ items: [] }));
    return ok(`ran: ${command}\n`);
  });
  const deps = (io: ScriptedIo = new ScriptedIo([], false), extra: Partial<Deps> = {}, at = home): Deps => ({ ...makeFakeDeps({ fake, io, home: at }), connectRemote: remote.connect, ...extra });
  return { fake, launched, remote, deps, home };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; exitCode: number; message: string; remediation?: string }> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('ssh on the fake cloud', () => {
  it('runs the command on the serving instance with its key, user and address, checked against the console; the exit status is passed on', async () => {
    const { launched, remote, deps, home } = await rig('203.0.113.7/32');
    const io = new ScriptedIo([], false);
    const r = await runSsh(deps(io), 'prod', { ...where, rest: ['exit', '7'] });
    expect(r).toMatchObject({ exitCode: 7, instanceId: launched.instanceId, host: launched.publicIp });
    expect(remote.commands.map((c) => c.command)).toEqual(['exit 7']);
    expect(remote.targets[0]).toMatchObject({
      host: launched.publicIp,
      user: 'ec2-user',
      privateKeyPath: `${home}/keys/aws-${REGION}-prod`,
      pinKey: launched.instanceId,
      expectedFingerprints: [HOST_KEY],
    });
    expect(remote.openConnections()).toBe(0);

    const json = new ScriptedIo([], false);
    Object.defineProperty(json, 'json', { value: true });
    const out = await runSsh(deps(json), 'prod', { ...where, rest: ['uname', '-a'] });
    expect(out).toMatchObject({ exitCode: 0, stdout: 'ran: uname -a\n', stderr: '' });
    expect(json.events.find((e) => e.kind === 'result')).toMatchObject({ value: { exitCode: 0, stdout: 'ran: uname -a\n', stderr: '' } });
  });

  it('refuses without a deployment, without a key on this machine, and with nothing after -- (before connecting)', async () => {
    const { remote, deps } = await rig('203.0.113.7/32');
    const missing = await codeOf(runSsh(deps(), 'other', { ...where, rest: ['true'] }));
    expect(missing).toMatchObject({ code: 'deployment-not-found', exitCode: ExitCode.failed });

    // Another machine: no record, no key where launch would have made it.
    const elsewhere = tempHome();
    const noKey = await codeOf(runSsh(deps(undefined, {}, elsewhere), 'prod', { ...where, rest: ['true'] }));
    expect(noKey).toMatchObject({ code: 'ssh-key-missing', exitCode: ExitCode.failed });
    expect(noKey.message).toContain(`${elsewhere}/keys/aws-${REGION}-prod`);
    expect(noKey.remediation).toMatch(/--identity-file/);

    const empty = await codeOf(runSsh(deps(), 'prod', { ...where, rest: [] }));
    expect(empty).toMatchObject({ code: 'no-command', exitCode: ExitCode.badInput });
    const noTty = await codeOf(runSsh(deps(), 'prod', { ...where }));
    expect(noTty).toMatchObject({ code: 'no-terminal', exitCode: ExitCode.badInput });
    expect(remote.targets).toEqual([]);
  });

  it('with no SSH rule it says so and gives the launch --update command for the caller\'s address only', async () => {
    const { remote, deps, launched, fake } = await rig('none');
    const imageId = fake.state.instances.find((i) => i.id === launched.instanceId)!.imageId;
    const closed = await codeOf(runSsh(deps(undefined, { lookupPublicIp: async () => '198.51.100.7' }), 'prod', { ...where, rest: ['true'] }));
    expect(closed).toMatchObject({ code: 'ssh-closed', exitCode: ExitCode.failed });
    expect(closed.remediation).toContain(
      `sourcegraph-launch launch prod --region ${REGION} --size XS --version ${VERSION} --image ${imageId} --allow-cidr 203.0.113.0/24 --ssh-cidr 198.51.100.7/32 --update`,
    );
    expect(remote.targets).toEqual([]);
  });

  it('an instance that does not answer while SSH is open only to others: says the caller is not among them, with the command that adds it', async () => {
    const { deps } = await rig('203.0.113.7/32');
    const unreachable = () => Promise.reject(new LaunchError('ssh-unreachable', ExitCode.failed, 'SSH to ec2-user@x failed: the host did not complete an SSH handshake.'));
    const outside = await codeOf(runSsh(deps(undefined, { connectRemote: unreachable, lookupPublicIp: async () => '198.51.100.7' }), 'prod', { ...where, rest: ['true'] }));
    expect(outside).toMatchObject({ code: 'ssh-not-open-to-you', exitCode: ExitCode.failed });
    expect(outside.message).toMatch(/open only to 203\.0\.113\.7\/32, and your address 198\.51\.100\.7 is not among them/);
    expect(outside.remediation).toContain('--ssh-cidr 203.0.113.7/32,198.51.100.7/32 --update');
    // Inside the rule (or the address unknown), the connection error stays what it was.
    const inside = await codeOf(runSsh(deps(undefined, { connectRemote: unreachable, lookupPublicIp: async () => '203.0.113.7' }), 'prod', { ...where, rest: ['true'] }));
    expect(inside.code).toBe('ssh-unreachable');
  });
});

describe('cidrContains', () => {
  it('tells IPv4 addresses inside a CIDR from those outside', () => {
    expect(cidrContains('203.0.113.0/24', '203.0.113.200')).toBe(true);
    expect(cidrContains('203.0.113.0/24', '203.0.114.1')).toBe(false);
    expect(cidrContains('203.0.113.7/32', '203.0.113.7')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(cidrContains('2001:db8::/32', '203.0.113.7')).toBe(false);
  });
});

describe('logs on the fake cloud', () => {
  it('shows the status file, journal and console over SSH', async () => {
    const { deps, launched } = await rig('203.0.113.7/32');
    const io = new ScriptedIo([], false);
    const r = await runLogs(deps(io), 'prod', { ...where, pods: true });
    expect(r).toMatchObject({ instanceId: launched.instanceId, bootStatus: { decision: 'unchanged' }, journal: 'boot.sh: decision unchanged', pods: [], missing: [] });
    expect(r.console.text).toContain(HOST_KEY);
    expect(io.text()).toMatch(/decision\s+unchanged/);
  });

  it('without SSH still shows the console, says why the rest is missing, and exits 0', async () => {
    const { deps, remote } = await rig('none');
    const io = new ScriptedIo([], false);
    const r = await runLogs(deps(io), 'prod', { ...where });
    expect(r.console.text).toContain('BEGIN SSH HOST KEY FINGERPRINTS');
    expect(r.missing.map((m) => m.part)).toEqual(['status file', 'version files', 'boot log', 'journal']);
    expect(io.events.some((e) => e.kind === 'warn' && /Not shown .*SSH to prod is closed/.test(e.message))).toBe(true);
    expect(remote.targets).toEqual([]);
  });

  it('--follow follows the journal until Ctrl-C: exit 130, the connection closed', async () => {
    const { deps } = await rig('203.0.113.7/32');
    const controller = new AbortController();
    const commands: string[] = [];
    let closed = false;
    const remote: Remote = {
      hostFingerprint: HOST_KEY,
      exec: (command) => {
        commands.push(command);
        if (command.includes('-f')) {
          setTimeout(() => controller.abort(), 10);
          return new Promise(() => undefined);
        }
        return Promise.resolve(ok(''));
      },
      upload: () => Promise.resolve(),
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
    const stopped = await codeOf(runLogs(deps(undefined, { connectRemote: async () => remote, signal: controller.signal }), 'prod', { ...where, follow: true }));
    expect(stopped.exitCode).toBe(ExitCode.interrupted);
    expect(commands.at(-1)).toBe('sudo journalctl -u sourcegraph-boot.service -f -n 0 --no-pager');
    expect(closed).toBe(true);
  });
});

describe('parsePods', () => {
  it('puts pods that are not ready first, with why', () => {
    const pod = (name: string, phase: string, ready: boolean, waiting?: string) => ({
      metadata: { name, namespace: 'default' },
      status: { phase, containerStatuses: [{ ready, restartCount: 2, state: waiting ? { waiting: { reason: waiting } } : { running: {} } }] },
    });
    const pods = parsePods(JSON.stringify({ items: [pod('a', 'Running', true), pod('b', 'Running', false, 'CrashLoopBackOff'), pod('c', 'Pending', false)] }));
    expect(pods).toEqual([
      { namespace: 'default', name: 'b', ready: false, status: 'CrashLoopBackOff', restarts: 2 },
      { namespace: 'default', name: 'c', ready: false, status: 'Pending', restarts: 2 },
      { namespace: 'default', name: 'a', ready: true, status: 'Running', restarts: 2 },
    ]);
    expect(parsePods('not json')).toBeUndefined();
  });
});
