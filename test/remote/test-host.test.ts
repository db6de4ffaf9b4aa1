// The test host harness itself (test/support/test-host.ts): what the lead's end-to-end tests rely
// on. Real sshd + real HTTP on 10.200.77.4 inside the test network namespace.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConsoleHostKeyFingerprints } from '../../src/remote/host-keys.js';
import type { Remote } from '../../src/remote/remote.js';
import { connectSsh2 } from '../../src/remote/ssh2-remote.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const run = promisify(execFile);
const ADDRESS = '10.200.77.4';
const SHORT_LIVED_ADDRESS = '10.200.77.5';

let dir: string;
let host: TestHost;
let remote: Remote;
let clientKey: { privateKeyPath: string; publicKey: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'test-host-test-'));
  clientKey = await createClientKey(dir);
  host = await startTestHost({
    address: ADDRESS,
    version: '6.12.5040',
    authorizedKey: clientKey.publicKey,
    healthzNotFoundCount: 2,
    k3sActivatingCount: 0,
    k3sBootSteps: 1,
    podsPendingSteps: 0,
  });
  remote = await connectSsh2({
    host: ADDRESS,
    user: 'root',
    privateKeyPath: clientKey.privateKeyPath,
    knownHostsPath: join(dir, 'known-hosts.json'),
    pinKey: 'i-harness',
    expectedFingerprints: parseConsoleHostKeyFingerprints(host.consoleOutput()),
  });
});

afterAll(async () => {
  await remote?.close();
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${ADDRESS}${path}`);
  return { status: response.status, body: await response.text() };
}

describe('test host HTTP', () => {
  it('answers /healthz like Traefik before the frontend is routed, then with the version', async () => {
    expect(await get('/healthz')).toEqual({ status: 404, body: '404 page not found\n' });
    expect(await get('/sign-in')).toEqual({ status: 404, body: '404 page not found\n' });
    expect(await get('/__version')).toEqual({ status: 404, body: '404 page not found\n' });
    expect(await get('/healthz')).toEqual({ status: 200, body: '6.12.5040' });
    expect(await get('/__version')).toEqual({ status: 200, body: '6.12.5040' });
    expect(await get('/-/healthz')).toMatchObject({ status: 404 });
    expect(host.requests).toEqual(['/healthz', '/sign-in', '/__version', '/healthz', '/__version', '/-/healthz']);
  });

  it('reports needsSiteInit on /sign-in and lets a test change it', async () => {
    expect((await get('/sign-in')).body).toContain('"needsSiteInit":true');
    host.setNeedsSiteInit(false);
    expect((await get('/sign-in')).body).toContain('"needsSiteInit":false');
  });
});

describe('test host SSH session', () => {
  it('runs commands in /home/ec2-user with the stubs first on PATH and logs them', async () => {
    const result = await remote.exec('pwd; echo "$HOME"; command -v kubectl; command -v ssh-keygen\nexit 0');
    expect(result.code).toBe(0);
    const [pwd, home, kubectl, sshKeygen] = result.stdout.trim().split('\n');
    expect(pwd).toBe('/home/ec2-user');
    expect(home).toBe('/home/ec2-user');
    expect(kubectl).toMatch(/sg-test-host-10\.200\.77\.4-.*\/bin\/kubectl$/);
    expect(sshKeygen).toBe('/usr/bin/ssh-keygen');
    expect(host.execLog()).toContain('pwd; echo "$HOME"; command -v kubectl; command -v ssh-keygen\nexit 0');
  });

  it('shows the appliance files only to sessions: the machine itself is untouched', async () => {
    expect((await remote.exec('ls /home /mnt; ls -a /var/log')).stdout.split('\n')).toEqual(
      expect.arrayContaining(['ec2-user', 'data', 'reboot.sh.log']),
    );
    expect(existsSync('/home/ec2-user/.sourcegraph-version')).toBe(false);
    expect(existsSync('/mnt/data/.sourcegraph-version')).toBe(false);
  });

  it('shows <fsRoot>/etc/rancher as /etc/rancher to sessions (the rest of /etc is the machine\'s), creating nothing in the machine\'s /etc', async () => {
    mkdirSync(join(host.fsRoot, 'etc', 'rancher', 'k3s'), { recursive: true });
    writeFileSync(join(host.fsRoot, 'etc', 'rancher', 'k3s', 'k3s.yaml'), 'apiVersion: v1\n');
    const r = await remote.exec('sudo cat /etc/rancher/k3s/k3s.yaml; test -s /etc/passwd && echo passwd');
    expect(r.stdout).toBe('apiVersion: v1\npasswd\n');
    expect(existsSync('/etc/rancher')).toBe(false);
  });

  it('replays a boot: version files converge when the node turns Ready, tables work too', async () => {
    expect(host.versionFiles()).toEqual({ root: '6.12.5040', data: '6.12.5040-base' });
    expect((await remote.exec('kubectl get nodes')).stdout).toMatch(/sourcegraph-0\s+NotReady/);
    expect((await remote.exec('k3s kubectl get nodes')).stdout).toMatch(/sourcegraph-0\s+Ready/);
    expect(host.versionFiles()).toEqual({ root: '6.12.5040', data: '6.12.5040' });
    expect(host.bootLog()).toMatch(/Started Sourcegraph on version 6\.12\.5040\n$/);
    expect((await remote.exec('kubectl get pods -A')).stdout).toMatch(/default\s+sourcegraph-frontend-\S+\s+1\/1\s+Running/);
    expect(await remote.exec('systemctl is-active --quiet k3s')).toMatchObject({ code: 0, stdout: '' });
  });

  it('fails loudly on kubectl arguments the stub does not understand', async () => {
    const result = await remote.exec("kubectl get nodes -o jsonpath='{.items[0].metadata.name}'");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('test host stub kubectl: unsupported arguments');
  });

  it('replays a boot onto an upgraded image after reboot(), and setVersion finishes an upgrade at once', async () => {
    host.reboot({ version: '7.0.1', healthzNotFoundCount: 1, k3sActivatingCount: 1, k3sBootSteps: 1 });
    expect(host.versionFiles()).toEqual({ root: '7.0.1', data: '6.12.5040' });
    expect(await get('/healthz')).toMatchObject({ status: 404 });
    expect(await get('/healthz')).toEqual({ status: 200, body: '7.0.1' });
    expect(await remote.exec('sudo -n systemctl is-active k3s')).toMatchObject({ code: 3, stdout: 'activating\n' });
    expect((await remote.exec('kubectl get nodes')).stdout).toMatch(/NotReady/);
    expect((await remote.exec('kubectl get nodes')).stdout).toMatch(/\bReady/);
    expect(host.versionFiles()).toEqual({ root: '7.0.1', data: '7.0.1' });

    host.setVersion('7.0.2');
    expect(await get('/healthz')).toEqual({ status: 200, body: '7.0.2' });
    expect((await remote.exec('cat /mnt/data/.sourcegraph-version')).stdout).toBe('7.0.2\n');
    expect((await remote.exec('tail -n 1 /var/log/reboot.sh.log')).stdout).toMatch(/Started Sourcegraph on version 7\.0\.2$/m);
  });

  it('prints a console whose fingerprint block names its real host keys', () => {
    for (const style of ['amazon-linux-2023', 'amazon-linux-2', 'ubuntu'] as const) {
      const text = host.consoleOutput(style);
      expect(text).toContain('-----BEGIN SSH HOST KEY FINGERPRINTS-----');
      expect(parseConsoleHostKeyFingerprints(text)).toEqual(host.hostKeyFingerprints);
    }
    expect(host.hostKeyFingerprints).toContain(remote.hostFingerprint);
  });
});

describe('test host lifecycle', () => {
  it('removes its address, ports, processes and files on stop()', async () => {
    const shortLived = await startTestHost({ address: SHORT_LIVED_ADDRESS, version: '6.1.0', authorizedKey: clientKey.publicKey });
    const { stdout: before } = await run('ip', ['-o', 'addr', 'show', 'dev', 'lo']);
    expect(before).toContain(`${SHORT_LIVED_ADDRESS}/32`);
    const fsRoot = shortLived.fsRoot;
    expect(existsSync(fsRoot)).toBe(true);

    await shortLived.stop();
    await shortLived.stop();

    const { stdout: after } = await run('ip', ['-o', 'addr', 'show', 'dev', 'lo']);
    expect(after).not.toContain(`${SHORT_LIVED_ADDRESS}/32`);
    expect(existsSync(fsRoot)).toBe(false);
    const { stdout: processes } = await run('ps', ['-eo', 'args']);
    expect(processes).not.toContain(`sg-test-host-${SHORT_LIVED_ADDRESS}`);
    // With the address gone nothing can answer there.
    const reachable = await new Promise<boolean>((resolve) => {
      const socket = connectTcp({ host: SHORT_LIVED_ADDRESS, port: 22 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    expect(reachable).toBe(false);
  });
});
