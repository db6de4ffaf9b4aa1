// `kubeconfig` end to end: the real CLI process → moto for the cloud, and a test host with a real
// sshd standing in for the instance. On the host's loopback (the test namespace's) 127.0.0.1:6443
// serves a stand-in k3s API over HTTPS with a serving certificate from a CA this test makes with
// openssl, asking for a client certificate from another CA, as k3s does; the host's
// /etc/rancher/k3s/k3s.yaml names both. Requests go through the CLI's tunnel and are verified
// against the CA in the kubeconfig the CLI wrote (and kubectl, which is on this machine, is run).
// The same for --cloud gcp (GCE emulator) and --cloud azure (ARM emulator) at the end of the file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request, type Server } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { encodeLabelValue, toEncodedLabels } from '../../src/core/labels.js';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { cliEnv, runCli, TEST_ENTRY, type CliRun } from '../support/cli.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const run = promisify(execFile);
const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.113.2';
const REGION = ['--region', 'us-east-1'];
const K8S_VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.4+k3s1', platform: 'linux/amd64' };

vi.setConfig({ testTimeout: 180_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let dir: string;
let publicKeyPath: string;
let pki: Pki;
let api: Server;
/** The client certificate subject of each request the stand-in API answered. */
const apiRequests: { path: string; client: string }[] = [];
let groups: ReturnType<typeof deploymentResources>['groups'];

interface Pki {
  serverCa: string;
  otherCa: string;
  serving: { cert: string; key: string };
  clientCa: string;
  admin: { cert: string; key: string };
}

/** A CA, a serving certificate for 127.0.0.1 and localhost (as k3s's), a client CA and an admin client certificate. */
async function makePki(at: string): Promise<Pki> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: at });
  const ca = async (name: string) => openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}@1764236400`);
  const leaf = async (name: string, ca: string, subject: string, ext: string) => {
    writeFileSync(join(at, `${name}.ext`), ext);
    await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  };
  await ca('k3s-server-ca');
  await ca('k3s-client-ca');
  await ca('someone-else-ca');
  await leaf('serving', 'k3s-server-ca', '/CN=k3s', 'subjectAltName=DNS:kubernetes,DNS:localhost,IP:10.43.0.1,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await leaf('admin', 'k3s-client-ca', '/O=system:masters/CN=system:admin', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(at, f), 'utf8');
  return {
    serverCa: read('k3s-server-ca.crt'),
    otherCa: read('someone-else-ca.crt'),
    serving: { cert: read('serving.crt'), key: read('serving.key') },
    clientCa: read('k3s-client-ca.crt'),
    admin: { cert: read('admin.crt'), key: read('admin.key') },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** What k3s writes to /etc/rancher/k3s/k3s.yaml. */
function k3sYaml(p: Pki): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': b64(p.serverCa), server: 'https://127.0.0.1:6443' }, name: 'default' }],
    contexts: [{ context: { cluster: 'default', user: 'default' }, name: 'default' }],
    'current-context': 'default',
    kind: 'Config',
    preferences: {},
    users: [{ name: 'default', user: { 'client-certificate-data': b64(p.admin.cert), 'client-key-data': b64(p.admin.key) } }],
  });
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  ({ groups } = deploymentResources(ec2));
  dir = mkdtempSync(join(tmpdir(), 'sgl-e2e-kubeconfig-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  pki = await makePki(dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  mkdirSync(join(host.fsRoot, 'etc', 'rancher', 'k3s'), { recursive: true });
  writeFileSync(join(host.fsRoot, 'etc', 'rancher', 'k3s', 'k3s.yaml'), k3sYaml(pki), { mode: 0o600 });
  api = createHttpsServer({ cert: pki.serving.cert, key: pki.serving.key, ca: pki.clientCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    apiRequests.push({ path: req.url ?? '', client: `${peer.subject?.O}/${peer.subject?.CN}` });
    res.writeHead(req.url === '/version' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/version' ? JSON.stringify(K8S_VERSION) : '{"kind":"Status","code":404}');
  });
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen(6443, '127.0.0.1', () => resolve());
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => (api ? api.close(() => resolve()) : resolve()));
  await host?.stop();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

const newHome = () => mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));

async function launch(name: string, home: string, sshCidr: string): Promise<void> {
  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: name });
  const args = [
    'launch', name, ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', sshCidr,
    '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '1', '--json',
  ];
  const r = await runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
}

interface Listening {
  kubeconfig: string;
  context: string;
  server: string;
  port: number;
  merged?: string;
  tunnel: boolean;
  instanceId: string;
  host: string;
}

/** Starts `kubeconfig … --json`; resolves with its first JSON line (the tunnel listens) and the process. */
function startTunnel(args: string[], home: string, on: { where: string[]; env: Record<string, string> } = { where: REGION, env: {} }): { listening: Promise<{ info: Listening; child: ChildProcess }>; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [TEST_ENTRY, 'kubeconfig', ...args, ...on.where, '--json'], { env: cliEnv({ endpoint: moto.endpoint, home, env: { HOME: home, ...on.env } }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let resolveListening!: (v: { info: Listening; child: ChildProcess }) => void;
  const listening = new Promise<{ info: Listening; child: ChildProcess }>((resolve) => (resolveListening = resolve));
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    const first = !stdout.includes('\n');
    stdout += c;
    if (first && stdout.includes('\n')) resolveListening({ info: JSON.parse(stdout.split('\n')[0]!) as Listening, child });
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const done = new Promise<CliRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
    });
  });
  // A run that ends without ever listening fails the wait instead of hanging it.
  return { listening: Promise.race([listening, done.then((r) => Promise.reject(new Error(`kubeconfig ended (exit ${r.code}) without listening:\n${r.stdout}\n${r.stderr}`)))]), done };
}

/** A GET through the tunnel with what a kubeconfig says: the cluster CA and the client certificate. */
function get(port: number, path: string, tls: { ca: string; cert?: string; key?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function tlsOf(kubeconfigPath: string, context: string): { ca: string; cert: string; key: string; server: string } {
  const k = parse(readFileSync(kubeconfigPath, 'utf8')) as Record<string, any>;
  const ctx = k.contexts.find((c: any) => c.name === context).context;
  const cluster = k.clusters.find((c: any) => c.name === ctx.cluster).cluster;
  const user = k.users.find((u: any) => u.name === ctx.user).user;
  expect(cluster['insecure-skip-tls-verify']).toBeUndefined();
  const un64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return { ca: un64(cluster['certificate-authority-data']), cert: un64(user['client-certificate-data']), key: un64(user['client-key-data']), server: cluster.server };
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('kubeconfig with the real CLI', () => {
  it('writes a 0600 kubeconfig with the cluster CA, holds a tunnel that kubectl and a verifying client get through, merges with --merge, stops on Ctrl-C (130)', async () => {
    const home = newHome();
    await launch('kc', home, '203.0.113.7/32');
    // The user's kubeconfig already has another cluster (and a mode that is too open).
    const userConfig = join(home, '.kube', 'config');
    mkdirSync(join(home, '.kube'));
    writeFileSync(userConfig, '# my clusters\napiVersion: v1\nkind: Config\nclusters:\n- name: work\n  cluster:\n    server: https://k8s.example.com\ncontexts:\n- name: work\n  context:\n    cluster: work\n    user: me\nusers:\n- name: me\n  user:\n    token: abc\ncurrent-context: work\n');
    chmodSync(userConfig, 0o644);

    const tunnel = startTunnel(['kc', '--port', '0', '--merge'], home);
    const { info, child } = await tunnel.listening;
    const expectedFile = join(home, 'state', 'kubeconfig', 'aws-us-east-1-kc.yaml');
    expect(info).toMatchObject({ kubeconfig: expectedFile, context: 'sourcegraph-kc', merged: userConfig, tunnel: true, host: HOST_ADDRESS });
    expect(info.port).toBeGreaterThan(0);
    expect(info.port).not.toBe(6443);
    expect(info.server).toBe(`https://127.0.0.1:${info.port}`);
    expect(modeOf(expectedFile)).toBe(0o600);
    expect(modeOf(userConfig)).toBe(0o600);

    // Through the tunnel with what the written kubeconfig says: the API's certificate verifies against its CA.
    const tls = tlsOf(expectedFile, 'sourcegraph-kc');
    expect(tls.server).toBe(info.server);
    expect(tls.ca).toBe(pki.serverCa);
    const before = apiRequests.length;
    const version = await get(info.port, '/version', tls);
    expect(version).toEqual({ status: 200, body: JSON.stringify(K8S_VERSION) });
    expect(apiRequests.slice(before)).toEqual([{ path: '/version', client: 'system:masters/system:admin' }]);
    // A certificate from another CA would be refused: the check is real.
    await expect(get(info.port, '/version', { ...tls, ca: pki.otherCa })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);

    // kubectl, with the file and with the merged context.
    const kubectlHome = mkdtempSync(join(tmpdir(), 'sgl-kubectl-home-'));
    const kubectl = (args: string[], kubeconfig: string) => run('kubectl', args, { env: { PATH: process.env.PATH, HOME: kubectlHome, KUBECONFIG: kubeconfig }, timeout: 30_000 });
    expect(JSON.parse((await kubectl(['get', '--raw', '/version'], expectedFile)).stdout)).toEqual(K8S_VERSION);
    expect(JSON.parse((await kubectl(['--context', 'sourcegraph-kc', 'get', '--raw', '/version'], userConfig)).stdout)).toEqual(K8S_VERSION);
    rmSync(kubectlHome, { recursive: true, force: true });

    // The merge kept the user's entries (and comment, and current context) and added ours.
    const merged = readFileSync(userConfig, 'utf8');
    expect(merged.startsWith('# my clusters\n')).toBe(true);
    const m = parse(merged) as Record<string, any>;
    expect(m.clusters.map((c: any) => c.name)).toEqual(['work', 'sourcegraph-kc']);
    expect(m.users.map((c: any) => c.name)).toEqual(['me', 'sourcegraph-kc']);
    expect(m.contexts.map((c: any) => c.name)).toEqual(['work', 'sourcegraph-kc']);
    expect(m['current-context']).toBe('work');

    // The cluster's API port was never opened.
    const [sg] = await groups('kc');
    expect((sg!.IpPermissions ?? []).map((p) => p.FromPort).sort()).toEqual([22, 443, 80]);

    child.kill('SIGINT');
    const stopped = await tunnel.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/Tunnel closed \(\d+ connections? forwarded\)/);
    // Ctrl-C says what it stops: the tunnel (there is no cloud request in flight).
    expect(stopped.stderr).toMatch(/Interrupted: closing the tunnel \(Ctrl-C again quits at once\)/);
    expect(stopped.stderr).not.toMatch(/cloud request in flight/);
    // --json: the one line printed when the tunnel listened is all of stdout.
    expect(stopped.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(stopped.stdout)).toEqual(info);
    expect(host.execLog()).toContain('sudo cat /etc/rancher/k3s/k3s.yaml');

    // Again with --port 0 and --merge: ours replaced, nothing duplicated; the other port is in both files.
    const again = startTunnel(['kc', '--port', '0', '--merge'], home);
    const second = await again.listening;
    const m2 = parse(readFileSync(userConfig, 'utf8')) as Record<string, any>;
    expect(m2.clusters.map((c: any) => c.name)).toEqual(['work', 'sourcegraph-kc']);
    expect(m2.clusters[1].cluster.server).toBe(`https://127.0.0.1:${second.info.port}`);
    expect(tlsOf(expectedFile, 'sourcegraph-kc').server).toBe(`https://127.0.0.1:${second.info.port}`);

    // The SSH connection drops (the instance went away): the tunnel closes, exit 1, saying so.
    host.dropSshConnections();
    const lost = await again.done;
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/The SSH connection to 10\.200\.113\.2 was lost, so the tunnel is closed/);
    expect(lost.stderr).toContain('Run the same command again');
    expect(lost.stdout).toContain('"code": "tunnel-lost"');

    // --no-tunnel with --output: only the file (0600 even over a wider one), for the default port.
    const out = join(home, 'kc.yaml');
    writeFileSync(out, 'old\n', { mode: 0o644 });
    const fileOnly = await runCli(['kubeconfig', 'kc', ...REGION, '--no-tunnel', '--output', out, '--json'], { endpoint: moto.endpoint, home, env: { HOME: home } });
    expect(fileOnly.code, fileOnly.stderr).toBe(0);
    expect(fileOnly.json()).toMatchObject({ kubeconfig: out, server: 'https://127.0.0.1:6443', port: 6443, tunnel: false });
    expect(modeOf(out)).toBe(0o600);
    expect(tlsOf(out, 'sourcegraph-kc').ca).toBe(pki.serverCa);
  });

  it('failure paths: a busy port (1), a bad --port (2), no deployment (1), SSH closed (1, with the launch --update command)', async () => {
    const home = newHome();
    const cli = (args: string[]) => runCli(['kubeconfig', ...args, ...REGION, '--json'], { endpoint: moto.endpoint, home, env: { HOME: home } });
    await launch('kc', home, '203.0.113.7/32');

    // 6443 is taken here (the stand-in API); so is a port another program holds.
    const busy = await cli(['kc']);
    expect(busy.code).toBe(1);
    expect(busy.json()).toMatchObject({ error: { code: 'port-busy', message: 'Port 6443 on 127.0.0.1 is already in use on this machine' } });
    expect(busy.json<{ error: { remediation: string } }>().error.remediation).toMatch(/--port 16443.*--port 0/);
    const holder = createTcpServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const taken = (holder.address() as { port: number }).port;
    const busy2 = await cli(['kc', '--port', String(taken)]);
    holder.close();
    expect(busy2.code).toBe(1);
    expect(busy2.json()).toMatchObject({ error: { code: 'port-busy', details: { port: taken } } });

    for (const bad of ['70000', 'abc', '-1', '80.5']) {
      const r = await cli(['kc', '--port', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.json(), bad).toMatchObject({ error: { code: 'bad-port' } });
    }
    const zeroNoTunnel = await cli(['kc', '--port', '0', '--no-tunnel']);
    expect(zeroNoTunnel.code).toBe(2);

    const none = await cli(['nope']);
    expect(none.code).toBe(1);
    expect(none.json()).toMatchObject({ error: { code: 'deployment-not-found' } });

    await launch('closed', home, 'none');
    const before = host.execLog().length;
    const closed = await cli(['closed']);
    expect(closed.code).toBe(1);
    const error = closed.json<{ error: { code: string; message: string; remediation: string; details: { command: string } } }>().error;
    expect(error.code).toBe('ssh-closed');
    expect(error.details.command).toMatch(/^sourcegraph-launch launch closed --region us-east-1 .*--ssh-cidr '<your-ip>\/32' .*--update$/);
    expect(error.remediation).toContain(error.details.command);
    expect(host.execLog().length).toBe(before);
  });
});

// ---------------------------------------------------------------- GCE and Azure
// In this file, not their own: the instance's end of the tunnel is 127.0.0.1:6443, and the stand-in
// API above holds that port on the test namespace's loopback, which every e2e file shares (a second
// file serving it would race this one). One more test host, 10.200.127.2, stands in for the GCE
// and the Azure instance in turn; it accepts Azure's login user `sourcegraph` as well as root.
const OTHER_HOST_ADDRESS = '10.200.127.2';

describe('kubeconfig --cloud gcp and --cloud azure with the real CLI (GCE and ARM emulators)', () => {
  let other: TestHost;
  let gce: GceEmulator;
  let gceClient: GceTestClient;
  let gcpEnv: Record<string, string>;
  let azure: AzureE2e;
  let otherKeyPath: string;

  beforeAll(async () => {
    const key = await createClientKey(dir, 'id_other');
    other = await startTestHost({ address: OTHER_HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1, loginUsers: ['sourcegraph'] });
    mkdirSync(join(other.fsRoot, 'etc', 'rancher', 'k3s'), { recursive: true });
    writeFileSync(join(other.fsRoot, 'etc', 'rancher', 'k3s', 'k3s.yaml'), k3sYaml(pki), { mode: 0o600 });
    otherKeyPath = `${key.privateKeyPath}.pub`;

    // GCE: serial port 1 lists the test host's real host keys; a service account key made here whose token endpoint is the emulator's.
    gce = await startGceEmulator({ serialOutput: () => other.consoleOutput('ubuntu') });
    gceClient = new GceTestClient(gce.endpoint, gce.project);
    gcpEnv = gceCliEnv(gce, dir);

    // Azure: boot diagnostics' serial log is the test host's cloud-init output.
    azure = await startAzureE2e(dir, { serialLog: () => other.consoleOutput('ubuntu') });
  });

  afterAll(async () => {
    await other?.stop();
    await gce?.stop();
    await azure?.stop();
  });

  /** The written file: 0600, context sourcegraph-<name>, server on the port, the cluster's CA and the admin's certificate. */
  function expectKubeconfig(path: string, name: string, port: number): void {
    expect(modeOf(path)).toBe(0o600);
    const tls = tlsOf(path, `sourcegraph-${name}`);
    expect(tls).toEqual({ ca: pki.serverCa, cert: pki.admin.cert, key: pki.admin.key, server: `https://127.0.0.1:${port}` });
    const k = parse(readFileSync(path, 'utf8')) as Record<string, any>;
    expect(k['current-context']).toBe(`sourcegraph-${name}`);
  }

  /** --no-tunnel, then a tunnel a verifying client and kubectl get through to the stand-in API; Ctrl-C ends it (130). */
  async function fileAndTunnel(name: string, where: string[], env: Record<string, string>, home: string): Promise<void> {
    const fileOnly = await runCli(['kubeconfig', name, ...where, '--no-tunnel', '--json'], { endpoint: moto.endpoint, home, env: { HOME: home, ...env } });
    expect(fileOnly.code, fileOnly.stderr).toBe(0);
    const cloud = where[where.indexOf('--cloud') + 1]!;
    const region = where[where.indexOf('--region') + 1]!;
    const expectedFile = join(home, 'state', 'kubeconfig', `${cloud}-${region}-${name}.yaml`);
    expect(fileOnly.json()).toMatchObject({ name, kubeconfig: expectedFile, context: `sourcegraph-${name}`, server: 'https://127.0.0.1:6443', port: 6443, tunnel: false, host: OTHER_HOST_ADDRESS });
    expectKubeconfig(expectedFile, name, 6443);
    // How to hold the tunnel: the same scope flags, so the command works as printed.
    const scope = where.filter((_w, i) => i > 0 && where[i - 1]!.startsWith('--') && !['--cloud', '--region'].includes(where[i - 1]!));
    expect(fileOnly.stderr).toContain(`kubeconfig ${name} --cloud ${cloud} --region ${region}`);
    for (const value of scope) expect(fileOnly.stderr).toContain(value);
    expect(other.execLog()).toContain('sudo cat /etc/rancher/k3s/k3s.yaml');

    const tunnel = startTunnel([name, '--port', '0'], home, { where, env });
    const { info, child } = await tunnel.listening;
    expect(info).toMatchObject({ kubeconfig: expectedFile, context: `sourcegraph-${name}`, tunnel: true, host: OTHER_HOST_ADDRESS });
    expect(info.port).not.toBe(6443);
    expectKubeconfig(expectedFile, name, info.port);
    const tls = tlsOf(expectedFile, `sourcegraph-${name}`);
    const before = apiRequests.length;
    expect(await get(info.port, '/version', tls)).toEqual({ status: 200, body: JSON.stringify(K8S_VERSION) });
    expect(apiRequests.slice(before)).toEqual([{ path: '/version', client: 'system:masters/system:admin' }]);
    await expect(get(info.port, '/version', { ...tls, ca: pki.otherCa })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const kubectlHome = mkdtempSync(join(tmpdir(), 'sgl-kubectl-home-'));
    const version = await run('kubectl', ['get', '--raw', '/version'], { env: { PATH: process.env.PATH, HOME: kubectlHome, KUBECONFIG: expectedFile }, timeout: 30_000 });
    expect(JSON.parse(version.stdout)).toEqual(K8S_VERSION);
    rmSync(kubectlHome, { recursive: true, force: true });

    child.kill('SIGINT');
    const stopped = await tunnel.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    // The verified request, the one refused for its CA (its TLS handshake went through the tunnel too), kubectl's.
    expect(stopped.stderr).toMatch(/Tunnel closed \(3 connections forwarded\)/);
    expect(JSON.parse(stopped.stdout)).toEqual(info);
  }

  it('--cloud gcp: launched on the GCE emulator, then the file (--no-tunnel) and a verified request through the tunnel', async () => {
    gce.reset();
    const home = newHome();
    await gceClient.mutate('POST', 'global/images', {
      name: 'sourcegraph-kc',
      sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
      labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
    });
    // The address launch adopts for "--address new" is the test host's (labelled as ours).
    await gceClient.mutate('POST', 'regions/us-central1/addresses', {
      name: 'kcg-address', address: OTHER_HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'kcg', managed: 'true', role: 'address' }),
    });
    const where = ['--cloud', 'gcp', '--project', gce.project, '--region', 'us-central1'];
    const launched = await runCli(
      ['launch', ...where, '--name', 'kcg', '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-kc`, '--allow-cidr', '203.0.113.0/24',
        '--ssh-cidr', '203.0.113.7/32', '--ssh-key', otherKeyPath, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
      { env: gcpEnv, home, timeoutMs: 150_000 },
    );
    expect(launched.code, launched.stderr).toBe(0);
    await fileAndTunnel('kcg', where, gcpEnv, home);
    // The cluster's API port was never opened: the firewall rules are HTTP, HTTPS and SSH only.
    const rules = ((await gceClient.get<{ items?: { name: string; allowed: { ports?: string[] }[] }[] }>('global/firewalls')).body.items ?? []).filter((f) => f.name.startsWith('sourcegraph-launch-kcg'));
    expect(rules.flatMap((r) => r.allowed.flatMap((a) => a.ports ?? [])).sort()).toEqual(['22', '443', '80']);
  });

  it('--cloud azure: launched on the ARM emulator (login user sourcegraph), then the file (--no-tunnel) and a verified request through the tunnel', async () => {
    const home = newHome();
    azure.arm.control.nextPublicIps(OTHER_HOST_ADDRESS);
    const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', 'sl-kc'];
    const launched = await runCli(
      ['launch', 'kca', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', otherKeyPath, '--hold-seconds', '1', '--yes', '--json'],
      { env: azure.env, home, timeoutMs: 150_000 },
    );
    expect(launched.code, launched.stderr).toBe(0);
    const sessions = other.sshdLog().match(/Accepted publickey for sourcegraph/g)?.length ?? 0;
    await fileAndTunnel('kca', where, azure.env, home);
    // Both runs logged in as Azure's login user, as launch recorded it.
    expect(other.sshdLog().match(/Accepted publickey for sourcegraph/g)?.length).toBe(sessions + 2);
    // The cluster's API port was never opened: the security group allows HTTP, HTTPS and SSH only.
    const nsg = azure.arm.control.state().resources.filter((r) => r.type === 'Microsoft.Network/networkSecurityGroups' && r.resourceGroup.toLowerCase() === 'sl-kc');
    const ports = nsg.flatMap((g) => ((g as { properties?: { securityRules?: { properties: { direction: string; destinationPortRange?: string; destinationPortRanges?: string[] } }[] } }).properties?.securityRules ?? [])
      .filter((r) => r.properties.direction === 'Inbound').flatMap((r) => r.properties.destinationPortRanges ?? [r.properties.destinationPortRange ?? '']));
    expect([...new Set(ports)].sort()).toEqual(['22', '443', '80']);
  });
});
