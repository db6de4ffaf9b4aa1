// A stand-in for a Sourcegraph machine-image instance, for end-to-end tests: a real OpenSSH sshd on
// <address>:22 and a real HTTP server on <address>:80, with stub `systemctl`, `k3s`, `kubectl` and
// `sudo` first on the SSH session's PATH that replay a booting appliance.
//
// Must run inside the test network namespace (`unshare --net`, `lo` up): it adds <address>/32 to
// `lo` and binds the real ports. Nothing it creates outlives stop() (or the test process: sshd gets
// SIGTERM when its parent dies).
//
// What an SSH session on the host sees (exactly the paths of a real appliance):
//   /home/ec2-user/.sourcegraph-version   the image's version (`version`)
//   /mnt/data/.sourcegraph-version        the data's version (`dataVersion`, default `<version>-base`)
//   /var/log/reboot.sh.log                the boot log; ends with "Started Sourcegraph on version X"
// sshd runs in a private mount namespace in which /home, /mnt, /var/log and /var/lib (with
// /var/lib/sourcegraph-launch, and an empty /var/lib/rancher/k3s/server/tls for k3s's certificates)
// are bind mounts of directories under `fsRoot`, so the host file system is untouched. /etc/rancher
// (where k3s keeps its kubeconfig, /etc/rancher/k3s/k3s.yaml) is `fsRoot`/etc/rancher, mounted on a
// throwaway overlay of /etc so that nothing is created in the machine's own /etc. Sessions start in
// /home/ec2-user with HOME=/home/ec2-user, as for the appliance's login user.
//
// Stub commands (see test/support/test-host/bin; every other command is the machine's own). Each
// "probe" counter is independent and counts calls, so a test is deterministic however it polls:
//   systemctl is-active [--quiet] k3s   "activating", exit 3 for the first `k3sActivatingCount` calls;
//                                       then "active", exit 0. Also `is-enabled k3s`, `status k3s`.
//   kubectl get nodes [-o json]         node `sourcegraph-0` NotReady for the first `k3sBootSteps`
//   (or `k3s kubectl …`)                calls, then Ready. The first Ready answer finishes the boot
//                                       as reboot.sh does after Helm: both version files become
//                                       `version`, and the log gets "Started Sourcegraph on version X".
//   kubectl get pods -A [-o json]       5 pods (kube-system, default); for the first
//                                       `podsPendingSteps` calls some are Pending / not ready.
//   journalctl -u sourcegraph-boot[.service] [-n N] [-f]
//                                       the lines a test wrote to <fsRoot>/var/log/sourcegraph-boot.journal
//                                       (-f follows for at most 30 s); other units: "-- No entries --"
//   systemctl restart|is-active sourcegraph-boot
//                                       a run of the boot unit: status.json says decision "override",
//                                       stage "installing", then after `boot-unit-steps` is-active calls
//                                       "done" (active), or "failed" when /mnt/data/override.yaml holds
//                                       "sgl-test-helm-fails", or the line a test put in
//                                       /mnt/data/.sourcegraph-launch/sgl-test-helm-refuses (see bin/systemctl)
//   sudo [-n] CMD                       runs CMD (the session is root already)
//   df ARGS                             <fsRoot>/df.out when a test wrote one (what a real data disk
//                                       would show), else the machine's own df
// JSON is kubectl's List shape: nodes `items[].status.conditions[{type:'Ready',status:'True'}]`,
// pods `items[].status.phase` and `items[].status.containerStatuses[].ready`.
// Unsupported arguments (e.g. `-o jsonpath`, `kubectl wait`) fail with exit 1 and say so on stderr.
//
// HTTP on :80 (what Traefik + the frontend answer): `/healthz` and `/__version` share one counter:
// `404 page not found` for the first `healthzNotFoundCount` requests, then 200 with the version as
// the body. `/sign-in` is 404 until then too, afterwards HTML with `"needsSiteInit":true|false`.
// Everything else is 404.
//
// Driving it from a test: `reboot({ version })` replays a boot (counters and /healthz 404s reset;
// a new image version lands in the root file now, in the data file when the node turns Ready);
// `setVersion(v)` is an upgrade that already finished (both files, /healthz, boot log).
// `execLog()` lists every command run over SSH; `sshdLog()` is sshd's own log.
//
// Only `root` can log in (no user accounts are created): use `user: 'root'` in the RemoteTarget, or
// name other login users in `loginUsers` (they are uid 0 too, so sessions are the same).
// sshd does not deliver SSH "signal" requests to root sessions, so a command whose exec timed out
// keeps running here (on an instance, with a non-root login user, sshd kills its process group).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { fingerprintOfPublicKeyLine } from '../../src/remote/host-keys.js';

const run = promisify(execFile);
const SUPPORT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'test-host');
const STUB_BIN_DIR = join(SUPPORT_DIR, 'bin');
const SESSION_BASHRC = join(SUPPORT_DIR, 'session-bashrc');
const SFTP_SERVER = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server'].find((p) => existsSync(p));
const SSHD_READY_TIMEOUT_MS = 10_000;

export interface TestHostOptions {
  /** e.g. '10.200.77.2'; added to `lo` as /32. */
  address: string;
  /** The version the image installs: /healthz reports it once booted; root version file. */
  version: string;
  /** OpenSSH public key line allowed to log in as root. */
  authorizedKey: string;
  /** `/healthz` + `/__version` requests answered 404 before 200. Default 3. */
  healthzNotFoundCount?: number;
  /** `systemctl is-active k3s` calls answered "activating" before "active". Default 1. */
  k3sActivatingCount?: number;
  /** `kubectl get nodes` calls answered NotReady before Ready. Default 2. */
  k3sBootSteps?: number;
  /** `kubectl get pods` calls with pods not yet ready. Default 2. */
  podsPendingSteps?: number;
  /** Initial content of /mnt/data/.sourcegraph-version. Default `<version>-base` (a fresh image). */
  dataVersion?: string;
  /** What /sign-in reports. Default true (no admin yet). */
  needsSiteInit?: boolean;
  /**
   * Login names besides root that the key may log in as (e.g. `sourcegraph`, Azure's login user,
   * where root is refused as an admin user). Inside sshd's private mount namespace a copy of
   * /etc/passwd lists each as uid 0 with home /home/<name> (a link to /home/ec2-user), so the
   * session is the same root session; the machine's own /etc/passwd is untouched.
   */
  loginUsers?: string[];
}

export interface RebootOptions {
  /** The version of the image after the reboot (an upgraded root disk); default the current one. */
  version?: string;
  healthzNotFoundCount?: number;
  k3sActivatingCount?: number;
  k3sBootSteps?: number;
  podsPendingSteps?: number;
}

export interface TestHost {
  readonly address: string;
  readonly sshPort: 22;
  readonly httpPort: 80;
  /** The ed25519 host key's fingerprint: what an ssh2 client is shown by default. */
  readonly hostKeyFingerprint: string;
  /** Every host key's fingerprint (ecdsa and ed25519), as cloud-init would list them. */
  readonly hostKeyFingerprints: string[];
  /** Paths requested over HTTP, in order. */
  readonly requests: string[];
  /** Host-side directory holding what sessions see as /home, /mnt, /var/log and /etc/rancher. */
  readonly fsRoot: string;
  /** Console output as EC2's GetConsoleOutput returns it, with this host's real fingerprints. */
  consoleOutput(style?: ConsoleStyle): string;
  /** /healthz reports `version` from now on; both version files and the boot log say so too (an in-place upgrade that finished). */
  setVersion(version: string): void;
  setNeedsSiteInit(needsSiteInit: boolean): void;
  /** Replays a boot: counters reset, /healthz 404s again, the root version file becomes `version`, the data one is kept until the boot finishes. */
  reboot(opts?: RebootOptions): void;
  /** Commands run over SSH, in order (SFTP sessions are not listed). */
  execLog(): string[];
  bootLog(): string;
  /** The last lines sshd logged (VERBOSE): auth results, session starts; for diagnosing a test. */
  sshdLog(): string;
  versionFiles(): { root: string; data: string };
  /** Ends every open SSH connection (sshd's per-connection processes), as an instance that went away would. */
  dropSshConnections(): void;
  stop(): Promise<void>;
}

export type ConsoleStyle = 'amazon-linux-2023' | 'amazon-linux-2' | 'ubuntu';

const runningSshds = new Set<ChildProcess>();
const liveRoots = new Set<string>();
// Belt and braces for a test that never reaches stop() (a hook timeout, a crash): an sshd left
// behind would keep the test namespace and its port alive, and temp dirs would pile up.
process.once('exit', () => {
  for (const sshd of runningSshds) sshd.kill('SIGKILL');
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true });
});

/** Adds `address`/32 to `lo`. Resolves false when it was there already (then it is not ours to remove). */
export async function addLoopbackAddress(address: string): Promise<boolean> {
  try {
    await run('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
    return true;
  } catch (e) {
    if (/File exists/i.test(String((e as { stderr?: string }).stderr ?? e))) return false;
    throw new Error(`Cannot add ${address} to lo (is the test running as root inside \`unshare --net\`?): ${String((e as { stderr?: string }).stderr ?? e)}`);
  }
}

export async function removeLoopbackAddress(address: string): Promise<void> {
  await run('ip', ['addr', 'del', `${address}/32`, 'dev', 'lo']).catch(() => undefined);
}

/** A fresh ed25519 client key made by `ssh-keygen`, written (0600) into `dir`. */
export async function createClientKey(dir: string, name = 'id_ed25519'): Promise<{ privateKeyPath: string; publicKey: string }> {
  const privateKeyPath = join(dir, name);
  await rm(privateKeyPath, { force: true });
  await rm(`${privateKeyPath}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@sourcegraph-launch-test`, '-f', privateKeyPath]);
  return { privateKeyPath, publicKey: (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim() };
}

export async function startTestHost(opts: TestHostOptions): Promise<TestHost> {
  if (!SFTP_SERVER) throw new Error('OpenSSH sftp-server not found: install openssh-server');
  const root = await mkdtemp(join(tmpdir(), `sg-test-host-${opts.address}-`));
  liveRoots.add(root);
  const cleanups: Array<() => Promise<void>> = [
    async () => {
      await rm(root, { recursive: true, force: true });
      liveRoots.delete(root);
    },
  ];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    return await startInside(root, opts, cleanups, cleanUp);
  } catch (e) {
    await cleanUp();
    throw e;
  }
}

async function startInside(
  root: string,
  opts: TestHostOptions,
  cleanups: Array<() => Promise<void>>,
  cleanUp: () => Promise<void>,
): Promise<TestHost> {
  const { address } = opts;
  const dirs = {
    bin: join(root, 'bin'),
    state: join(root, 'state'),
    ssh: join(root, 'ssh'),
    fs: join(root, 'fs'),
  };
  const files = {
    rootVersion: join(dirs.fs, 'home', 'ec2-user', '.sourcegraph-version'),
    dataVersion: join(dirs.fs, 'mnt', 'data', '.sourcegraph-version'),
    bootLog: join(dirs.fs, 'var', 'log', 'reboot.sh.log'),
    execLog: join(dirs.state, 'exec.log'),
  };
  // The launcher's own status file lives here on images we provision: a private, empty copy.
  const statusDir = join(dirs.fs, 'var', 'lib', 'sourcegraph-launch');
  const etcOverlay = join(root, 'etc-overlay');
  const k3sTlsDir = join(dirs.fs, 'var', 'lib', 'rancher', 'k3s', 'server', 'tls');
  for (const dir of [dirs.bin, dirs.state, dirs.ssh, dirname(files.rootVersion), dirname(files.dataVersion), dirname(files.bootLog), statusDir, k3sTlsDir, join(dirs.fs, 'etc', 'rancher'), etcOverlay]) {
    await mkdir(dir, { recursive: true });
  }
  const loginUsers = opts.loginUsers ?? [];
  for (const user of loginUsers) {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user) || user === 'root') throw new Error(`loginUsers: "${user}" is not a login name this test host can add`);
    await symlink('ec2-user', join(dirs.fs, 'home', user));
  }
  const passwdPath = join(dirs.ssh, 'passwd');
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !loginUsers.includes(line.split(':')[0]!));
  await writeFile(passwdPath, [...passwd, ...loginUsers.map((u) => `${u}:x:0:0:test host login user:/home/${u}:/bin/bash`), ''].join('\n'));
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  for (const stub of await readdir(STUB_BIN_DIR)) {
    await copyFile(join(STUB_BIN_DIR, stub), join(dirs.bin, stub));
    await chmod(join(dirs.bin, stub), 0o755);
  }
  await copyFile(SESSION_BASHRC, join(dirs.fs, 'home', 'ec2-user', '.bashrc'));

  // The boot state the stubs replay.
  let version = opts.version;
  const writeState = (name: string, value: string | number) => writeFileSync(join(dirs.state, name), `${value}\n`);
  const log = (line: string) => appendFileSync(files.bootLog, `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${line}\n`);
  const startBoot = (counts: Required<Pick<RebootOptions, 'k3sActivatingCount' | 'k3sBootSteps' | 'podsPendingSteps'>>) => {
    writeState('version', version);
    writeState('k3s-activating', counts.k3sActivatingCount);
    writeState('nodes-not-ready', counts.k3sBootSteps);
    writeState('pods-pending', counts.podsPendingSteps);
    for (const flag of ['k3s-active', 'boot-finished']) rmSync(join(dirs.state, flag), { force: true });
    writeFileSync(files.rootVersion, `${version}\n`);
    const data = readFileSync(files.dataVersion, 'utf8').trim();
    log(`reboot.sh: image version ${version}, data version ${data}`);
    log(data === version ? 'reboot.sh: versions are equal: restarting k3s' : `reboot.sh: installing Sourcegraph ${version}`);
    log('reboot.sh: starting k3s');
  };
  writeFileSync(files.dataVersion, `${opts.dataVersion ?? `${opts.version}-base`}\n`);
  writeFileSync(files.execLog, '');
  let healthNotFoundLeft = opts.healthzNotFoundCount ?? 3;
  startBoot({
    k3sActivatingCount: opts.k3sActivatingCount ?? 1,
    k3sBootSteps: opts.k3sBootSteps ?? 2,
    podsPendingSteps: opts.podsPendingSteps ?? 2,
  });

  // Host keys: ed25519 and ecdsa, as cloud-init generates on Amazon Linux 2023.
  const hostKeys = {
    ecdsa: await createHostKey(dirs.ssh, 'ecdsa', address),
    ed25519: await createHostKey(dirs.ssh, 'ed25519', address),
  };
  const authorizedKeysPath = join(dirs.ssh, 'authorized_keys');
  await writeFile(authorizedKeysPath, `${opts.authorizedKey.trim()}\n`, { mode: 0o600 });

  const configPath = join(dirs.ssh, 'sshd_config');
  await writeFile(
    configPath,
    [
      `ListenAddress ${address}:22`,
      `HostKey ${hostKeys.ed25519.path}`,
      `HostKey ${hostKeys.ecdsa.path}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `PidFile ${join(dirs.ssh, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      // HOME points bash at the session .bashrc, which logs each command and fixes PATH.
      `SetEnv HOME=/home/ec2-user PATH=${dirs.bin}:/usr/local/bin:/usr/bin:/bin TEST_HOST_BIN=${dirs.bin} TEST_HOST_STATE=${dirs.state} TEST_HOST_FS=${dirs.fs} TEST_HOST_SFTP_SERVER=${SFTP_SERVER}`,
      `Subsystem sftp ${SFTP_SERVER}`,
      '',
    ].join('\n'),
  );
  await run('/usr/sbin/sshd', ['-t', '-f', configPath]);

  // Before sshd starts: it binds once and exits if the address does not exist.
  const addressAdded = await addLoopbackAddress(address);
  if (addressAdded) cleanups.push(() => removeLoopbackAddress(address));

  // --pdeathsig: if the test process dies without stop(), sshd goes with it. The private mount
  // namespace dies with its last process, so nothing needs unmounting.
  const mountAndServe = [
    'set -e',
    'mkdir -p /home /mnt /var/log /var/lib/sourcegraph-launch',
    'mount --bind "$1/home" /home',
    'mount --bind "$1/mnt" /mnt',
    'mount --bind "$1/var/log" /var/log',
    // All of /var/lib is the host's own copy: k3s's certificates (doctor) live in /var/lib/rancher.
    'mount --bind "$1/var/lib" /var/lib',
    'mount --bind "$1/var/lib/sourcegraph-launch" /var/lib/sourcegraph-launch',
    // /etc/rancher does not exist on this machine and must not be made in its /etc: an overlay of
    // /etc whose changes go to a tmpfs that dies with the namespace takes the mount point instead.
    'mount -t tmpfs -o mode=0700 tmpfs "$3"',
    'mkdir "$3/upper" "$3/work"',
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$3/upper,workdir=$3/work" /etc',
    'mkdir -p /etc/rancher',
    'mount --bind "$1/etc/rancher" /etc/rancher',
    // The extra login users exist only in this namespace (see loginUsers).
    'if [ -n "$4" ]; then mount --bind "$4" /etc/passwd; fi',
    'exec /usr/sbin/sshd -D -e -f "$2"',
  ].join('\n');
  const sshd = spawn(
    'setpriv',
    ['--pdeathsig', 'TERM', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', mountAndServe, 'sh', dirs.fs, configPath, etcOverlay, loginUsers.length ? passwdPath : ''],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  runningSshds.add(sshd);
  let sshdLog = '';
  sshd.stderr?.on('data', (chunk: Buffer) => {
    sshdLog = (sshdLog + chunk.toString('utf8')).slice(-64_000);
  });
  const sshdExited = new Promise<void>((resolve) => sshd.once('exit', () => resolve()));
  cleanups.push(async () => {
    runningSshds.delete(sshd);
    if (sshd.exitCode === null && sshd.signalCode === null) {
      sshd.kill('SIGTERM');
      const killer = setTimeout(() => sshd.kill('SIGKILL'), 3_000);
      await sshdExited;
      clearTimeout(killer);
    }
  });

  await waitForSshBanner(address, sshd, () => sshdLog);

  let needsSiteInit = opts.needsSiteInit ?? true;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const pathname = path.split('?')[0];
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end('404 page not found\n');
    };
    if (pathname === '/healthz' || pathname === '/__version') {
      if (healthNotFoundLeft > 0) {
        healthNotFoundLeft -= 1;
        return notFound();
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(version);
    }
    if (pathname === '/sign-in' && healthNotFoundLeft === 0) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(signInPage(version, needsSiteInit));
    }
    notFound();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(80, address, () => resolve());
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  let stopped = false;
  return {
    address,
    sshPort: 22,
    httpPort: 80,
    hostKeyFingerprint: hostKeys.ed25519.fingerprint,
    hostKeyFingerprints: [hostKeys.ecdsa.fingerprint, hostKeys.ed25519.fingerprint],
    requests,
    fsRoot: dirs.fs,
    consoleOutput: (style: ConsoleStyle = 'amazon-linux-2023') => consoleText(style, address, [hostKeys.ecdsa, hostKeys.ed25519]),
    setVersion(next: string) {
      version = next;
      writeState('version', next);
      writeFileSync(files.rootVersion, `${next}\n`);
      writeFileSync(files.dataVersion, `${next}\n`);
      log(`Started Sourcegraph on version ${next}`);
    },
    setNeedsSiteInit(value: boolean) {
      needsSiteInit = value;
    },
    reboot(rebootOpts: RebootOptions = {}) {
      version = rebootOpts.version ?? version;
      healthNotFoundLeft = rebootOpts.healthzNotFoundCount ?? opts.healthzNotFoundCount ?? 3;
      startBoot({
        k3sActivatingCount: rebootOpts.k3sActivatingCount ?? opts.k3sActivatingCount ?? 1,
        k3sBootSteps: rebootOpts.k3sBootSteps ?? opts.k3sBootSteps ?? 2,
        podsPendingSteps: rebootOpts.podsPendingSteps ?? opts.podsPendingSteps ?? 2,
      });
    },
    execLog: () =>
      readFileSync(files.execLog, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => Buffer.from(line, 'base64').toString('utf8')),
    bootLog: () => readFileSync(files.bootLog, 'utf8'),
    sshdLog: () => sshdLog,
    versionFiles: () => ({
      root: readFileSync(files.rootVersion, 'utf8').trim(),
      data: readFileSync(files.dataVersion, 'utf8').trim(),
    }),
    dropSshConnections() {
      // sshd (setpriv and unshare exec into it, so it has the spawned pid) forks one process per connection.
      const pid = sshd.pid;
      if (pid === undefined) return;
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
      for (const child of children) process.kill(child, 'SIGTERM');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await cleanUp();
    },
  };
}

interface HostKey {
  path: string;
  publicKey: string;
  fingerprint: string;
}

async function createHostKey(dir: string, type: 'ecdsa' | 'ed25519', address: string): Promise<HostKey> {
  const path = join(dir, `ssh_host_${type}_key`);
  await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${hostNameOf(address)}`, '-f', path]);
  const publicKey = (await readFile(`${path}.pub`, 'utf8')).trim();
  return { path, publicKey, fingerprint: fingerprintOfPublicKeyLine(publicKey) };
}

async function waitForSshBanner(address: string, sshd: ChildProcess, sshdLog: () => string): Promise<void> {
  const deadline = Date.now() + SSHD_READY_TIMEOUT_MS;
  for (;;) {
    if (sshd.exitCode !== null || sshd.signalCode !== null) {
      throw new Error(`sshd for the test host ${address} exited (${sshd.exitCode ?? sshd.signalCode}):\n${sshdLog()}`);
    }
    if (await readsSshBanner(address)) return;
    if (Date.now() > deadline) throw new Error(`sshd for the test host ${address} did not accept connections within ${SSHD_READY_TIMEOUT_MS} ms:\n${sshdLog()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function readsSshBanner(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('SSH-2.0-')));
    socket.once('error', () => done(false));
  });
}

function hostNameOf(address: string): string {
  return `ip-${address.replaceAll('.', '-')}`;
}

function signInPage(version: string, needsSiteInit: boolean): string {
  const context = { externalURL: 'http://localhost', version, needsSiteInit, authProviders: [{ serviceType: 'builtin', isBuiltin: true }] };
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sourcegraph</title>
<script ignore-csp>window.context = ${JSON.stringify(context)}</script>
</head>
<body><div id="root"></div></body>
</html>
`;
}

function consoleText(style: ConsoleStyle, address: string, keys: HostKey[]): string {
  const host = hostNameOf(address);
  const typeOf = (publicKey: string) => (publicKey.startsWith('ssh-ed25519') ? 'ED25519' : 'ECDSA');
  const fingerprintLines = keys.map((k) => `256 ${k.fingerprint} root@${host} (${typeOf(k.publicKey)})`);
  const keyLines = keys.map((k) => k.publicKey);
  const block = (prefix: string) => [
    `${prefix}#############################################################`,
    `${prefix}-----BEGIN SSH HOST KEY FINGERPRINTS-----`,
    ...fingerprintLines.map((line) => `${prefix}${line}`),
    `${prefix}-----END SSH HOST KEY FINGERPRINTS-----`,
    `${prefix}#############################################################`,
  ];
  const keysBlock = ['-----BEGIN SSH HOST KEY KEYS-----', ...keyLines, '-----END SSH HOST KEY KEYS-----'];
  if (style === 'ubuntu') {
    return [
      '[    0.000000] Linux version 6.8.0-1021-aws (buildd@lcy02-amd64-089) (x86_64-linux-gnu-gcc-13) #23-Ubuntu SMP',
      `[   14.312455] cloud-init[612]: Cloud-init v. 24.4.1-0ubuntu0~24.04.1 running 'init' at Mon, 05 Jan 2026 10:00:07 +0000. Up 14.22 seconds.`,
      '[   15.104211] cloud-init[612]: Generating public/private ed25519 key pair.',
      `[   15.104301] cloud-init[612]: The key fingerprint is:`,
      `[   15.104333] cloud-init[612]: ${keys[1]?.fingerprint} root@${host}`,
      ...block('<14>Jan  5 10:00:12 cloud-init: '),
      ...keysBlock,
      `[   19.876012] cloud-init[801]: Cloud-init v. 24.4.1-0ubuntu0~24.04.1 finished at Mon, 05 Jan 2026 10:00:12 +0000. Datasource DataSourceEc2Local.  Up 19.86 seconds`,
      '',
    ].join('\n');
  }
  if (style === 'amazon-linux-2') {
    return [
      '[    0.000000] Linux version 5.10.230-223.885.amzn2.x86_64 (mockbuild@ip-10-0-52-123) (gcc10-gcc (GCC) 10.5.0)',
      `[   10.201144] cloud-init[2511]: Cloud-init v. 19.3-46.amzn2.0.2 running 'init' at Mon, 05 Jan 2026 10:00:05 +0000. Up 10.12 seconds.`,
      'ec2: ',
      ...block('ec2: '),
      ...keysBlock,
      `[   12.448812] cloud-init[2702]: Cloud-init v. 19.3-46.amzn2.0.2 finished at Mon, 05 Jan 2026 10:00:07 +0000. Datasource DataSourceEc2.  Up 12.43 seconds`,
      '',
    ].join('\n');
  }
  return [
    '[    0.000000] Linux version 6.1.119-129.201.amzn2023.x86_64 (mockbuild@ip-10-0-59-143) (gcc (GCC) 11.4.1 20230605)',
    `[    9.102344] cloud-init[1591]: Cloud-init v. 22.2.2 running 'init' at Mon, 05 Jan 2026 10:00:04 +0000. Up 9.05 seconds.`,
    '[    9.615871] cloud-init[1591]: Generating public/private ed25519 key pair.',
    '[    9.616012] cloud-init[1591]: The key fingerprint is:',
    `[    9.616050] cloud-init[1591]: ${keys[1]?.fingerprint} root@${host}`,
    ...block('[   11.240332] cloud-init[1680]: '),
    ...keysBlock,
    `[   11.241107] cloud-init[1680]: Cloud-init v. 22.2.2 finished at Mon, 05 Jan 2026 10:00:06 +0000. Datasource DataSourceEc2.  Up 11.22 seconds`,
    '',
  ].join('\n');
}
