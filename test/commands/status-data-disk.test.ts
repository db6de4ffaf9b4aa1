// status shows the data disk's usage from the boot service's status file, read over one short SSH
// try, and warns from 80 %; when SSH is closed or fails it says "unknown (why)" and still succeeds.
// In-process on the fake cloud with a scripted SSH host (the real sshd runs in the e2e tests).
import { describe, expect, it } from 'vitest';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runStatus } from '../../src/commands/status.js';
import { STATUS_SSH_TIMEOUT_MS } from '../../src/commands/status-data-disk.js';
import type { Deps } from '../../src/commands/deps.js';
import type { ExecOptions } from '../../src/remote/remote.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, fakeAppliance, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { failed, ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----'].join('\n');
const GIB = 1024 ** 3;
const where = { region: REGION, providerFlags: {} };

function bootStatus(usedGiB: number, sizeGiB = 500): string {
  return JSON.stringify({ stage: 'done', decision: 'unchanged', dataDisk: { mount: '/mnt/data', filesystem: 'xfs', sizeBytes: sizeGiB * GIB, usedBytes: usedGiB * GIB, usedPercent: Math.ceil((usedGiB * 100) / sizeGiB) }, updatedAt: '2026-11-27T20:00:00Z' });
}

async function rig(sshCidr: string, statusFile: () => string, opts: { console?: string } = {}) {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, opts.console ?? CONSOLE);
  const timeouts: (number | undefined)[] = [];
  const remote = new ScriptedRemoteHost(() => 0, (command) => (command.includes('/var/lib/sourcegraph-launch/status.json') ? ok(statusFile()) : failed(127, `unexpected: ${command}`)));
  const connect: Deps['connectRemote'] = async (target) => {
    const r = await remote.connect(target);
    const exec = r.exec.bind(r);
    r.exec = (command: string, o?: ExecOptions) => {
      timeouts.push(o?.timeoutMs);
      return exec(command, o);
    };
    return r;
  };
  const deps = (io: ScriptedIo, extra: Partial<Deps> = {}): Deps => ({
    ...makeFakeDeps({ fake, io, home, httpGet: fakeAppliance(fake).httpGet }),
    connectRemote: connect,
    lookupPublicIp: () => Promise.reject(new Error('status must not ask for the caller\'s address')),
    ...extra,
  });
  return { launched, remote, deps, timeouts };
}

describe('status: data disk usage', () => {
  it('shows the usage from the status file over one short SSH try, and warns from 80 % with the disk grow command', async () => {
    const { remote, deps, timeouts, launched } = await rig('203.0.113.7/32', () => bootStatus(415));
    const io = new ScriptedIo([], false);
    const s = await runStatus(deps(io), 'prod', { ...where });
    expect(s.dataDisk).toEqual({ usedBytes: 415 * GIB, sizeBytes: 500 * GIB, percent: 83, filesystem: 'xfs', measuredAt: '2026-11-27T20:00:00Z' });
    expect(s.dataDiskUnknown).toBeUndefined();
    expect(s.notes.find((n) => n.startsWith('The data disk is 83 % full'))).toContain('sourcegraph-launch disk grow prod --region us-east-1 --size <GiB>');
    expect(io.text()).toMatch(/data disk usage\s+\/mnt\/data: 415 GiB of 500 GiB used \(83 %\), xfs \(recorded 2026-11-27T20:00:00Z\)/);
    // One connection with the short handshake timeout, checked against the console's key, then closed.
    expect(remote.targets).toHaveLength(1);
    expect(remote.targets[0]).toMatchObject({ host: launched.publicIp, connectTimeoutMs: STATUS_SSH_TIMEOUT_MS, expectedFingerprints: [HOST_KEY] });
    expect(timeouts).toEqual([STATUS_SSH_TIMEOUT_MS]);
    expect(remote.openConnections()).toBe(0);
  });

  it('below 80 % it shows the line and no warning; in --json the same numbers', async () => {
    const { deps } = await rig('203.0.113.7/32', () => bootStatus(100));
    const json = new ScriptedIo([], false);
    Object.defineProperty(json, 'json', { value: true });
    const s = await runStatus(deps(json), 'prod', { ...where });
    expect(s.dataDisk).toMatchObject({ percent: 20, usedBytes: 100 * GIB });
    expect(s.notes.join('\n')).not.toContain('data disk');
    expect(json.events.find((e) => e.kind === 'result')).toMatchObject({ value: { dataDisk: { percent: 20, sizeBytes: 500 * GIB } } });
  });

  it('SSH closed: "unknown (SSH closed)", no connection, and status succeeds', async () => {
    const { remote, deps } = await rig('none', () => bootStatus(415));
    const io = new ScriptedIo([], false);
    const s = await runStatus(deps(io), 'prod', { ...where });
    expect(s).toMatchObject({ state: 'running', dataDisk: null, dataDiskUnknown: 'SSH closed', health: 'healthy' });
    expect(io.text()).toMatch(/data disk usage\s+unknown \(SSH closed\)/);
    expect(remote.targets).toEqual([]);
  });

  it('an unreachable instance, a key neither pinned nor on the console, no status file: unknown with why; --no-probe does not connect', async () => {
    const down = await rig('203.0.113.7/32', () => bootStatus(415));
    const unreachable = await runStatus(down.deps(new ScriptedIo([], false), { connectRemote: () => Promise.reject(new Error('SSH to ec2-user@x failed: timed out')) }), 'prod', { ...where });
    expect(unreachable).toMatchObject({ dataDisk: null, dataDiskUnknown: 'SSH failed: SSH to ec2-user@x failed: timed out' });

    const quiet = await runStatus(down.deps(new ScriptedIo([], false)), 'prod', { ...where, probe: false });
    expect(quiet.dataDisk).toBeUndefined();
    expect(down.remote.targets).toEqual([]);

    const unlisted = await rig('203.0.113.7/32', () => bootStatus(415), { console: 'login: ' });
    const s = await runStatus(unlisted.deps(new ScriptedIo([], false)), 'prod', { ...where });
    expect(s.dataDiskUnknown).toMatch(/SSH host key of .* is not known yet/);
    expect(unlisted.remote.targets).toEqual([]);

    const published = await rig('203.0.113.7/32', () => 'null\n');
    const none = await runStatus(published.deps(new ScriptedIo([], false)), 'prod', { ...where });
    expect(none.dataDiskUnknown).toMatch(/^no \/var\/lib\/sourcegraph-launch\/status\.json/);

    const unrecorded = await rig('203.0.113.7/32', () => JSON.stringify({ stage: 'done' }));
    expect((await runStatus(unrecorded.deps(new ScriptedIo([], false)), 'prod', { ...where })).dataDiskUnknown).toBe('the boot service has not recorded it');
  });
});
