// jumpThrough against two real OpenSSH test hosts: the hop on 10.200.125.2 and the target on
// 10.200.126.2 (its "private" address). Both live in the test's network namespace, so the target is
// reachable directly too; what proves a connection went through the hop is who dialled the
// target's port 22: the hop's sshd (a direct-tcpip channel), never this process.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { LaunchError } from '../../src/core/errors.js';
import { jumpThrough, type Jump } from '../../src/remote/jump.js';
import type { RemoteTarget } from '../../src/remote/remote.js';
import { connectSsh2 } from '../../src/remote/ssh2-remote.js';
import { connectionOwners } from '../support/tcp-owners.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const HOP = '10.200.125.2';
const TARGET = '10.200.126.2';
// In the target's /24, where nothing listens: what a copy that is still booting looks like.
const NOTHING = '10.200.126.9';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let dir: string;
let privateKeyPath: string;
let hop: TestHost;
let target: TestHost;
const jumps: Jump[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sgl-jump-test-'));
  const key = await createClientKey(dir);
  privateKeyPath = key.privateKeyPath;
  [hop, target] = await Promise.all([
    startTestHost({ address: HOP, version: '6.11.0', authorizedKey: key.publicKey }),
    startTestHost({ address: TARGET, version: '6.12.5040', authorizedKey: key.publicKey }),
  ]);
});

afterAll(async () => {
  await Promise.all(jumps.map((j) => j.close()));
  await Promise.all([hop?.stop(), target?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const knownHosts = () => join(dir, 'known-hosts.json');
const to = (host: string, pinKey: string, extra: Partial<RemoteTarget> = {}): RemoteTarget => ({ host, user: 'root', privateKeyPath, knownHostsPath: knownHosts(), pinKey, connectTimeoutMs: 10_000, ...extra });

function jump(opts: { hopPin?: string; onConnect?: () => void } = {}): Jump {
  const j = jumpThrough(
    {
      label: `the hop at ${HOP}`,
      connect: () => {
        opts.onConnect?.();
        return connectSsh2(to(HOP, opts.hopPin ?? 'i-hop', { expectedFingerprints: hop.hostKeyFingerprints }));
      },
    },
    connectSsh2,
  );
  jumps.push(j);
  return j;
}

describe('jumpThrough: SSH to a private address through a hop', () => {
  it('runs commands on the target over a channel the hop opened; the hop runs nothing; the target key is pinned under its own id', async () => {
    const j = jump();
    const hopCommands = hop.execLog().length;
    const remote = await j.connectRemote(to(TARGET, 'i-target'));
    // The TCP connection to the target's SSH port is the hop's sshd's, not this process's.
    expect(await connectionOwners(TARGET, 22)).toEqual(['sshd']);
    const out = await remote.exec('cat ~/.sourcegraph-version; echo "$SSH_CONNECTION"');
    expect(out.code).toBe(0);
    const [version, connection] = out.stdout.trim().split('\n');
    expect(version).toBe('6.12.5040');
    // The target saw the connection arrive at its own address (what the rehearsal's in-instance curl uses).
    expect(connection?.split(' ')[2]).toBe(TARGET);
    expect(remote.hostFingerprint).toBe(target.hostKeyFingerprint);
    const pins = JSON.parse(await readFile(knownHosts(), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(pins)).toContain('i-target');
    expect(target.execLog().some((c) => c.includes('.sourcegraph-version'))).toBe(true);
    expect(hop.execLog().length).toBe(hopCommands);
    // The control: a connection this process dials itself shows up as its own.
    const direct = await connectSsh2(to(TARGET, 'i-target'));
    expect((await connectionOwners(TARGET, 22)).sort()).toEqual(['node', 'sshd']);
    await direct.close();
    await remote.close();
    await j.close();
  });

  it('shares one hop connection between targets and opens it again after it was lost', async () => {
    let hopConnects = 0;
    const j = jump({ onConnect: () => (hopConnects += 1) });
    const a = await j.connectRemote(to(TARGET, 'i-target'));
    const b = await j.connectRemote(to(TARGET, 'i-target'));
    expect(hopConnects).toBe(1);
    expect((await a.exec('true')).code).toBe(0);
    await Promise.all([a.close(), b.close()]);
    const lost = new Promise<void>((resolve) => void j.hop().then((r) => r.onLost?.(() => resolve())));
    hop.dropSshConnections();
    await lost;
    const c = await j.connectRemote(to(TARGET, 'i-target'));
    expect(hopConnects).toBe(2);
    expect((await c.exec('echo again')).stdout.trim()).toBe('again');
    await c.close();
    await j.close();
  });

  it('a target nothing answers on is "unreachable" through the hop, naming it (a wait retries that)', async () => {
    const j = jump();
    const error = await j.connectRemote(to(NOTHING, 'i-nothing')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LaunchError);
    expect(error).toMatchObject({ code: 'ssh-unreachable', details: { host: NOTHING, port: 22, via: `the hop at ${HOP}` } });
    expect((error as LaunchError).message).toMatch(new RegExp(`SSH to ${NOTHING.replace(/\./g, '\\.')}:22 through the hop at`));
    await j.close();
  });

  it("a changed host key of the target is refused end to end (the hop only relays bytes); the hop's own mismatch refuses before any channel", async () => {
    await writeFile(
      join(dir, 'wrong.json'),
      JSON.stringify({ 'i-target': hop.hostKeyFingerprint }),
    );
    const j = jump();
    const wrongTarget = await j.connectRemote(to(TARGET, 'i-target', { knownHostsPath: join(dir, 'wrong.json') })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(wrongTarget).toMatchObject({ code: 'host-key-mismatch' });
    await j.close();

    const badHop = jumpThrough({ label: 'the hop', connect: () => connectSsh2(to(HOP, 'i-hop', { expectedFingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] })) }, connectSsh2);
    jumps.push(badHop);
    const refused = await badHop.connectRemote(to(TARGET, 'i-target')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'host-key-mismatch' });
    expect(await connectionOwners(TARGET, 22)).toEqual([]);
  });
});
