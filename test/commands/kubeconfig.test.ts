// `kubeconfig` in-process on the fake cloud: which instance, key, user and address it uses (the ones
// ssh uses), what it reads on the instance, the file it writes, and the tunnel: a real listener on
// this namespace's loopback whose connections the (scripted) SSH connection forwards to a local
// TCP server standing in for the instance's 127.0.0.1:6443. The real sshd, a real TLS API and the
// CLI process are in test/e2e/kubeconfig.e2e.test.ts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runKubeconfig, parsePort, shellQuote, type KubeconfigResult } from '../../src/commands/kubeconfig.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import type { ExecResult, Remote } from '../../src/remote/remote.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { failed, ok } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----', 'login: '].join('\n');
const where = { region: REGION, providerFlags: {} };
const K3S_YAML = `apiVersion: v1
clusters:
- cluster: {certificate-authority-data: Q0EtREFUQQ==, server: 'https://127.0.0.1:6443'}
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
`;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A TCP server answering each line with "api:<line>", standing in for the instance's k3s API port. */
async function fakeApi(): Promise<number> {
  const server = createServer((socket) => socket.on('data', (d) => socket.write(`api:${d.toString()}`)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

/** A Remote whose forwardOut reaches `apiPort` on this machine, and whose connection can be lost. */
class TunnelRemote implements Remote {
  readonly hostFingerprint = HOST_KEY;
  readonly commands: string[] = [];
  readonly forwards: string[] = [];
  closed = false;
  private lost?: (e: Error) => void;
  constructor(
    private readonly apiPort: number,
    private readonly k3s: () => ExecResult = () => ok(K3S_YAML),
  ) {}
  exec(command: string): Promise<ExecResult> {
    this.commands.push(command);
    return Promise.resolve(command === 'sudo cat /etc/rancher/k3s/k3s.yaml' ? this.k3s() : failed(127, 'not found'));
  }
  upload(): Promise<void> {
    return Promise.reject(new Error('no upload'));
  }
  forwardOut(host: string, port: number): Promise<NodeJS.ReadWriteStream> {
    this.forwards.push(`${host}:${port}`);
    const socket = connect(this.apiPort, '127.0.0.1');
    return new Promise((resolve, reject) => socket.once('connect', () => resolve(socket)).once('error', reject));
  }
  onLost(listener: (e: Error) => void): void {
    this.lost = listener;
  }
  lose(): void {
    this.lost?.(new LaunchError('ssh-connection-lost', ExitCode.failed, 'The SSH connection to ec2-user@x was lost: read ECONNRESET.'));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

async function rig(sshCidr: string, profile: 'aws' | 'gcp' | 'azure' = 'aws') {
  const fake = fakeCloudFor(profile, { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, CONSOLE);
  const targets: unknown[] = [];
  const deps = (remote: Remote, extra: Partial<Deps> = {}, io = new ScriptedIo([], false)): Deps => ({
    ...makeFakeDeps({ fake, io, home }),
    connectRemote: async (t) => {
      targets.push(t);
      return remote;
    },
    env: { HOME: home },
    ...extra,
  });
  return { fake, launched, deps, home, targets };
}

/** A line through the tunnel and its answer. */
function through(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(line));
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** Waits for the JSON line the command prints once the tunnel listens. */
async function listening(io: ScriptedIo): Promise<KubeconfigResult> {
  for (let i = 0; i < 200; i++) {
    const e = io.events.find((x) => x.kind === 'result');
    if (e) return (e as unknown as { value: KubeconfigResult }).value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never listened:\n${io.text()}`);
}

async function codeOf(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe.each(['aws', 'gcp', 'azure'] as const)('kubeconfig on the fake cloud as %s', (profile) => {
  it('reads k3s.yaml over the deployment\'s SSH, writes the 0600 file for the tunnel\'s port, forwards to 127.0.0.1:6443 on the instance, and stops on Ctrl-C', async () => {
    const { deps, home, launched, targets, fake } = await rig('203.0.113.7/32', profile);
    const remote = new TunnelRemote(await fakeApi());
    const controller = new AbortController();
    const io = new ScriptedIo([], false);
    const running = runKubeconfig(deps(remote, { signal: controller.signal }, io), 'prod', { ...where, port: '0' });
    const info = await listening(io);
    expect(targets[0]).toMatchObject({ host: launched.publicIp, user: 'ec2-user', privateKeyPath: `${home}/keys/aws-${REGION}-prod`, pinKey: launched.instanceId, expectedFingerprints: [HOST_KEY] });
    expect(remote.commands).toEqual(['sudo cat /etc/rancher/k3s/k3s.yaml']);
    const file = join(home, 'kubeconfig', `aws-${REGION}-prod.yaml`);
    expect(info).toMatchObject({ kubeconfig: file, context: 'sourcegraph-prod', server: `https://127.0.0.1:${info.port}`, tunnel: true, instanceId: launched.instanceId });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const k = parse(readFileSync(file, 'utf8')) as Record<string, any>;
    expect(k.clusters[0].cluster).toEqual({ server: info.server, 'certificate-authority-data': 'Q0EtREFUQQ==' });
    expect(io.text()).toContain(`export KUBECONFIG=${file}`);

    expect(await through(info.port, 'GET /version')).toBe('api:GET /version');
    expect(await through(info.port, 'second')).toBe('api:second');
    expect(remote.forwards).toEqual(['127.0.0.1:6443', '127.0.0.1:6443']);

    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ interrupted: true, connections: 2 });
    expect(remote.closed).toBe(true);
    // The listener is gone with the command.
    await expect(through(info.port, 'x')).rejects.toThrow(/ECONNREFUSED/);
    // Nothing was merged without --merge.
    expect(existsSync(join(home, '.kube', 'config'))).toBe(false);
    // The cluster's API port is in no access rule.
    expect(fake.state.accessPolicies.flatMap((p) => p.rules.map((r) => r.port)).sort()).toEqual([22, 443, 80]);
  });
});

describe('kubeconfig on the fake cloud', () => {
  it('a lost SSH connection closes the tunnel: exit 1, saying so and to run it again', async () => {
    const { deps } = await rig('203.0.113.7/32');
    const remote = new TunnelRemote(await fakeApi());
    const io = new ScriptedIo([], false);
    const running = runKubeconfig(deps(remote, {}, io), 'prod', { ...where, port: '0' });
    const info = await listening(io);
    remote.lose();
    const lost = await codeOf(running);
    expect(lost).toMatchObject({ code: 'tunnel-lost', exitCode: ExitCode.failed });
    expect(lost.message).toMatch(/was lost, so the tunnel is closed: The SSH connection to ec2-user@x was lost/);
    expect(lost.remediation).toContain(`give --port ${info.port} again`);
    await expect(through(info.port, 'x')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('--no-tunnel writes the file for --port and returns; --merge merges into $KUBECONFIG\'s first file', async () => {
    const { deps, home } = await rig('203.0.113.7/32');
    const remote = new TunnelRemote(1);
    const userConfig = join(home, 'kube', 'mine');
    const io = new ScriptedIo([], false);
    const r = await runKubeconfig(deps(remote, { env: { HOME: home, KUBECONFIG: `${userConfig}:/elsewhere` } }, io), 'prod', { ...where, port: '16443', tunnel: false, merge: true });
    expect(r).toMatchObject({ server: 'https://127.0.0.1:16443', port: 16443, tunnel: false, merged: userConfig });
    expect(remote.forwards).toEqual([]);
    expect(statSync(userConfig).mode & 0o777).toBe(0o600);
    expect((parse(readFileSync(userConfig, 'utf8')) as Record<string, any>)['current-context']).toBe('sourcegraph-prod');
    expect(io.text()).toContain('--port 16443` holds the tunnel open');
  });

  it('when k3s.yaml cannot be read it says so (exit 1) and listens on nothing', async () => {
    const { deps } = await rig('203.0.113.7/32');
    const remote = new TunnelRemote(1, () => failed(1, 'cat: /etc/rancher/k3s/k3s.yaml: No such file or directory'));
    const e = await codeOf(runKubeconfig(deps(remote), 'prod', { ...where, port: '0' }));
    expect(e).toMatchObject({ code: 'k3s-kubeconfig-missing', exitCode: ExitCode.failed });
    expect(e.message).toContain('No such file or directory');
    // The command in the remedy reaches the same deployment (its region, here the default cloud's).
    expect(e.remediation).toContain('`sourcegraph-launch logs prod --region us-east-1 --pods`');
    expect(remote.closed).toBe(true);
  });

  it('refuses before connecting: no deployment (1), SSH closed (1, the launch --update command), a bad --port (2)', async () => {
    const { deps, targets } = await rig('203.0.113.7/32');
    const remote = new TunnelRemote(1);
    expect(await codeOf(runKubeconfig(deps(remote), 'other', { ...where }))).toMatchObject({ code: 'deployment-not-found', exitCode: ExitCode.failed });
    expect(await codeOf(runKubeconfig(deps(remote), 'prod', { ...where, port: '65536' }))).toMatchObject({ code: 'bad-port', exitCode: ExitCode.badInput });
    expect(targets).toEqual([]);

    const closed = await rig('none');
    const e = await codeOf(runKubeconfig(closed.deps(remote, { lookupPublicIp: async () => '198.51.100.7' }), 'prod', { ...where }));
    expect(e).toMatchObject({ code: 'ssh-closed', exitCode: ExitCode.failed });
    expect(e.remediation).toContain('--ssh-cidr 198.51.100.7/32 --update');
    expect(closed.targets).toEqual([]);
  });
});

describe('parsePort', () => {
  it('takes 1–65535, 0 only with a tunnel, 6443 by default', () => {
    expect(parsePort(undefined, true)).toBe(6443);
    expect(parsePort('16443', true)).toBe(16443);
    expect(parsePort('0', true)).toBe(0);
    for (const bad of ['65536', '-1', '1.5', 'abc', '', ' 80']) expect(() => parsePort(bad, true), bad).toThrow(/--port/);
    expect(() => parsePort('0', false)).toThrow(/--no-tunnel/);
  });
});

describe('shellQuote', () => {
  it('quotes the paths a shell would split or expand, and no others', () => {
    expect(shellQuote('/home/me/.config/sourcegraph-launch/kubeconfig/aws-us-east-1-prod.yaml')).toBe('/home/me/.config/sourcegraph-launch/kubeconfig/aws-us-east-1-prod.yaml');
    expect(shellQuote('/Users/me/Library/Application Support/sourcegraph-launch/kubeconfig/x.yaml')).toBe("'/Users/me/Library/Application Support/sourcegraph-launch/kubeconfig/x.yaml'");
    expect(shellQuote("/tmp/it's $HOME")).toBe("'/tmp/it'\\''s $HOME'");
  });
});
