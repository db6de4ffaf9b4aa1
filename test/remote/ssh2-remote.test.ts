// The ssh2 adapter against real OpenSSH test hosts on 10.200.77.2 and .3 (inside the test
// network namespace). Run: unshare --net bash -c 'ip link set lo up && npx vitest run test/remote'

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { LaunchError } from '../../src/core/errors.js';
import { parseConsoleHostKeyFingerprints } from '../../src/remote/host-keys.js';
import { readKnownHostPins } from '../../src/remote/known-hosts.js';
import type { Remote, RemoteTarget } from '../../src/remote/remote.js';
import { connectSsh2 } from '../../src/remote/ssh2-remote.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';

const HOST_A = '10.200.77.2';
const HOST_B = '10.200.77.3';
const NOTHING_LISTENS = '10.200.77.9';

let dir: string;
let privateKeyPath: string;
let strangerKeyPath: string;
let hostA: TestHost;
let hostB: TestHost;
let silentServer: Server;
let addedSilentAddress = false;
const openRemotes: Remote[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssh2-remote-test-'));
  const clientKey = await createClientKey(dir);
  privateKeyPath = clientKey.privateKeyPath;
  strangerKeyPath = (await createClientKey(dir, 'stranger')).privateKeyPath;
  [hostA, hostB] = await Promise.all([
    startTestHost({ address: HOST_A, version: '6.1.0', authorizedKey: clientKey.publicKey, k3sActivatingCount: 1, k3sBootSteps: 2, podsPendingSteps: 1 }),
    startTestHost({ address: HOST_B, version: '6.1.0', authorizedKey: clientKey.publicKey }),
  ]);
  // An address that exists but where nothing listens on 22, plus a TCP server there that accepts
  // and never speaks SSH (a half-booted machine, a firewall that swallows the handshake).
  addedSilentAddress = await addLoopbackAddress(NOTHING_LISTENS);
  // It must read (and drop) the client's bytes, or it would never see the client hang up.
  silentServer = createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => silentServer.listen(2222, NOTHING_LISTENS, resolve));
});

afterAll(async () => {
  await Promise.all(openRemotes.map((r) => r.close()));
  await new Promise<void>((resolve) => (silentServer ? silentServer.close(() => resolve()) : resolve()));
  if (addedSilentAddress) await removeLoopbackAddress(NOTHING_LISTENS);
  await Promise.all([hostA?.stop(), hostB?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function target(host: string, overrides: Partial<RemoteTarget> = {}): RemoteTarget {
  return { host, user: 'root', privateKeyPath, knownHostsPath: join(dir, 'known-hosts.json'), pinKey: `i-${host}`, ...overrides };
}

async function connect(t: RemoteTarget): Promise<Remote> {
  const remote = await connectSsh2(t);
  openRemotes.push(remote);
  return remote;
}

async function connectError(t: RemoteTarget): Promise<LaunchError> {
  const error = await connectSsh2(t).then(
    (remote) => {
      openRemotes.push(remote);
      throw new Error('connected, but should have been refused');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LaunchError);
  return error as LaunchError;
}

describe('connectSsh2 against a real sshd', () => {
  it('pins the host key on first use and runs commands with exit codes and separate streams', async () => {
    const knownHostsPath = join(dir, 'tofu.json');
    const remote = await connect(target(HOST_A, { knownHostsPath, pinKey: 'i-tofu' }));
    expect(remote.hostFingerprint).toBe(hostA.hostKeyFingerprint);
    expect(await readKnownHostPins(knownHostsPath)).toEqual({ 'i-tofu': hostA.hostKeyFingerprint });

    const seenOut: string[] = [];
    const seenErr: string[] = [];
    const result = await remote.exec('echo out; echo err >&2; printf "%s" "ü"; exit 3', {
      onStdout: (c) => seenOut.push(c),
      onStderr: (c) => seenErr.push(c),
    });
    expect(result).toEqual({ code: 3, stdout: 'out\nü', stderr: 'err\n' });
    expect(seenOut.join('')).toBe('out\nü');
    expect(seenErr.join('')).toBe('err\n');

    // The same pin lets the next connection in.
    const again = await connect(target(HOST_A, { knownHostsPath, pinKey: 'i-tofu' }));
    expect((await again.exec('true')).code).toBe(0);
  });

  it('writes stdin to the command and closes it: a script run by `sh -s` that is not on the command line', async () => {
    const remote = await connect(target(HOST_A));
    const secret = 'not-on-the-command-line-4711';
    const result = await remote.exec('sudo sh -s', { stdin: `s='${secret}'\nprintf '%s\\n' "$s"\nexit 5\n`, timeoutMs: 20_000 });
    expect(result).toMatchObject({ code: 5, stdout: `${secret}\n` });
    expect((await remote.exec('cat', { stdin: Buffer.from('bytes in\n'), timeoutMs: 20_000 })).stdout).toBe('bytes in\n');
    expect(hostA.execLog()).toContain('sudo sh -s');
    expect(hostA.execLog().join('\n')).not.toContain(secret);
  });

  it('reports a command killed by a signal', async () => {
    const remote = await connect(target(HOST_A));
    const result = await remote.exec('kill -TERM $$');
    expect(result.code).toBeNull();
    expect(result.signal).toBe('SIGTERM');
  });

  it('sees the stubbed appliance boot advance, at the paths of a real instance', async () => {
    const remote = await connect(target(HOST_A));
    const readyOfNode = async () => {
      const { stdout, code } = await remote.exec('sudo k3s kubectl get nodes -o json');
      expect(code).toBe(0);
      const nodes = JSON.parse(stdout) as { items: Array<{ status: { conditions: Array<{ type: string; status: string }> } }> };
      return nodes.items[0]?.status.conditions.find((c) => c.type === 'Ready')?.status;
    };
    const versionFiles = 'cat /home/ec2-user/.sourcegraph-version /mnt/data/.sourcegraph-version';

    expect(await remote.exec('sudo systemctl is-active k3s')).toMatchObject({ code: 3, stdout: 'activating\n' });
    expect(await remote.exec('sudo systemctl is-active k3s')).toMatchObject({ code: 0, stdout: 'active\n' });
    expect((await remote.exec(versionFiles)).stdout).toBe('6.1.0\n6.1.0-base\n');
    expect(await readyOfNode()).toBe('False');
    expect(await readyOfNode()).toBe('False');
    expect(await readyOfNode()).toBe('True');
    expect((await remote.exec(versionFiles)).stdout).toBe('6.1.0\n6.1.0\n');
    expect((await remote.exec('tail -n 1 /var/log/reboot.sh.log')).stdout).toMatch(/Started Sourcegraph on version 6\.1\.0\n$/);

    const podsReady = async () => {
      const pods = JSON.parse((await remote.exec('kubectl get pods -A -o json')).stdout) as {
        items: Array<{ status: { phase: string; containerStatuses: Array<{ ready: boolean }> } }>;
      };
      return pods.items.every((p) => p.status.phase === 'Running' && p.status.containerStatuses.every((c) => c.ready));
    };
    expect(await podsReady()).toBe(false);
    expect(await podsReady()).toBe(true);

    expect(hostA.execLog()).toEqual(expect.arrayContaining(['sudo systemctl is-active k3s', 'kubectl get pods -A -o json']));
  });

  it('uploads a file and sets its mode', async () => {
    const remote = await connect(target(HOST_A));
    const local = join(dir, 'boot-hook.sh');
    await writeFile(local, '#!/bin/bash\necho uploaded\n');
    await remote.upload(local, '/home/ec2-user/boot-hook.sh', 0o750);
    expect(await remote.exec('stat -c %a /home/ec2-user/boot-hook.sh && /home/ec2-user/boot-hook.sh')).toMatchObject({
      code: 0,
      stdout: '750\nuploaded\n',
    });
    expect(await readFile(join(hostA.fsRoot, 'home', 'ec2-user', 'boot-hook.sh'), 'utf8')).toBe('#!/bin/bash\necho uploaded\n');

    const failure = await remote.upload(local, '/no/such/dir/file').catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'ssh-upload-failed' });
  });

  it('stops a command that exceeds its timeout and keeps the connection usable', async () => {
    const remote = await connect(target(HOST_A));
    const started = Date.now();
    const error = await remote.exec('echo $$; exec sleep 37.25', { timeoutMs: 700 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(LaunchError);
    expect(error).toMatchObject({ code: 'ssh-exec-timeout', exitCode: 1 });
    expect((error as LaunchError).message).toContain('700 ms');
    const pid = Number(String((error as LaunchError).details?.stdout).trim());
    expect(pid).toBeGreaterThan(1);

    // The adapter asked sshd to kill the command. sshd refuses signals for root logins (they skip
    // post-auth privilege separation), and the test host only has root, so clean up by hand; on
    // an instance (login user ec2-user) sshd kills the command's process group.
    await vi.waitFor(() => expect(hostA.sshdLog()).toMatch(/session signalling requires privilege separation/), { timeout: 3_000 });
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }

    expect(await remote.exec('echo still usable')).toMatchObject({ code: 0, stdout: 'still usable\n' });
  });

  it('rejects a different host key for a pinned instance as a possible man-in-the-middle', async () => {
    const knownHostsPath = join(dir, 'mitm.json');
    await connect(target(HOST_A, { knownHostsPath, pinKey: 'i-0pinned' }));
    const error = await connectError(target(HOST_B, { knownHostsPath, pinKey: 'i-0pinned' }));
    expect(error.code).toBe('host-key-mismatch');
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain(`expected ${hostA.hostKeyFingerprint}`);
    expect(error.message).toContain(`got ${hostB.hostKeyFingerprint}`);
    expect(error.remediation).toMatch(/man-in-the-middle/);
    expect(error.remediation).toContain(knownHostsPath);
    expect(error.remediation).toContain('i-0pinned');
    // The pin is untouched.
    expect(await readKnownHostPins(knownHostsPath)).toEqual({ 'i-0pinned': hostA.hostKeyFingerprint });
  });

  it.each(['amazon-linux-2023', 'ubuntu', 'amazon-linux-2'] as const)(
    'accepts the key the %s console vouches for, and pins it over an older pin',
    async (style) => {
      const knownHostsPath = join(dir, `console-${style}.json`);
      await connect(target(HOST_A, { knownHostsPath, pinKey: 'i-0replaced' }));
      const expectedFingerprints = parseConsoleHostKeyFingerprints(hostB.consoleOutput(style));
      expect(expectedFingerprints).toEqual(hostB.hostKeyFingerprints);
      const remote = await connect(target(HOST_B, { knownHostsPath, pinKey: 'i-0replaced', expectedFingerprints }));
      expect(remote.hostFingerprint).toBe(hostB.hostKeyFingerprint);
      expect(await readKnownHostPins(knownHostsPath)).toEqual({ 'i-0replaced': hostB.hostKeyFingerprint });
    },
  );

  it('rejects a key the console does not list, even when no pin exists', async () => {
    const knownHostsPath = join(dir, 'console-wrong.json');
    const expectedFingerprints = parseConsoleHostKeyFingerprints(hostB.consoleOutput());
    const error = await connectError(target(HOST_A, { knownHostsPath, pinKey: 'i-0console', expectedFingerprints }));
    expect(error.code).toBe('host-key-mismatch');
    expect(error.message).toContain(hostA.hostKeyFingerprint);
    expect(error.message).toContain(hostB.hostKeyFingerprint);
    expect(error.remediation).toMatch(/man-in-the-middle/);
    expect(await readKnownHostPins(knownHostsPath)).toEqual({});
  });

  it('fails with ssh-auth-failed (exit 3) when the key is not authorized', async () => {
    const error = await connectError(target(HOST_A, { privateKeyPath: strangerKeyPath }));
    expect(error).toMatchObject({ code: 'ssh-auth-failed', exitCode: 3 });
    expect(error.remediation).toContain(strangerKeyPath);
  });

  it('fails with ssh-key-unusable when the private key file is missing', async () => {
    const error = await connectError(target(HOST_A, { privateKeyPath: join(dir, 'missing-key') }));
    expect(error).toMatchObject({ code: 'ssh-key-unusable', exitCode: 2 });
  });

  it('fails with ssh-unreachable when nothing listens on the port', async () => {
    const error = await connectError(target(NOTHING_LISTENS));
    expect(error.code).toBe('ssh-unreachable');
    expect(error.message).toMatch(/refused/);
    expect(error.remediation).toMatch(/firewall rules \(--ssh-cidr\) allow port 22/);
  });

  it('fails with ssh-unreachable when the server never completes the handshake', async () => {
    const started = Date.now();
    const error = await connectError(target(NOTHING_LISTENS, { port: 2222, connectTimeoutMs: 500 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('ssh-unreachable');
    expect(error.message).toContain('500 ms');
  });

  it('rejects a running command with ssh-connection-lost when the connection drops', async () => {
    const remote = await connectSsh2(target(HOST_A));
    // $PPID is the sshd process serving this connection: killing it drops the TCP connection (and $$ leaves no orphan).
    const error = await remote.exec('kill -9 $PPID $$').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaunchError);
    expect(error).toMatchObject({ code: 'ssh-connection-lost', exitCode: 1 });
    await expect(remote.exec('true')).rejects.toMatchObject({ code: 'ssh-connection-lost' });
    await remote.close();
  });

  it('forwardOut opens a connection from the instance to its loopback, and says so when nothing listens there', async () => {
    const echo = createServer((socket) => socket.on('data', (d) => socket.end(`echo:${d.toString()}`)));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const port = (echo.address() as { port: number }).port;
    try {
      const remote = await connect(target(HOST_A));
      const channel = await remote.forwardOut!('127.0.0.1', port);
      const answer = new Promise<string>((resolve) => {
        let text = '';
        channel.on('data', (d: Buffer) => (text += d.toString()));
        channel.on('end', () => resolve(text));
      });
      channel.write('hello');
      expect(await answer).toBe('echo:hello');
      echo.close();
      await expect(remote.forwardOut!('127.0.0.1', port)).rejects.toMatchObject({ code: 'ssh-forward-failed', exitCode: 1 });
      // The connection is still good after a refused forward.
      expect((await remote.exec('true')).code).toBe(0);
    } finally {
      echo.close();
    }
  });

  it('onLost tells a holder the connection dropped, and not when close() ends it', async () => {
    const dropped = await connectSsh2(target(HOST_A));
    const lost = new Promise<Error>((resolve) => dropped.onLost!(resolve));
    await dropped.exec('kill -9 $PPID $$').catch(() => undefined);
    expect(await lost).toMatchObject({ code: 'ssh-connection-lost' });
    await dropped.close();

    const closed = await connectSsh2(target(HOST_A));
    let told = false;
    closed.onLost!(() => (told = true));
    await closed.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(told).toBe(false);
  });

  it('rejects commands after close', async () => {
    const remote = await connectSsh2(target(HOST_A));
    await remote.close();
    await expect(remote.exec('true')).rejects.toMatchObject({ code: 'ssh-connection-lost' });
    await remote.close();
  });
});
