// The SSH half of an image build: reaching the builder (its host key checked against the console's
// fingerprints where the cloud publishes them) and provisioning it: the bundle uploaded, build.sh
// run with its log streamed, the machine sealed so every instance of the image gets its own keys.
import { dirname } from 'node:path';
import type { Cloud } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import { bundleFiles, type ProvisionBundle } from '../commands/provision-bundle.js';
import { CloudError, InterruptedError, LaunchError } from '../core/errors.js';
import { consoleHostKeys, describeTrust, HOST_KEY_WAIT_MS } from '../engine/host-key-wait.js';
import { parseConsoleHostKeyFingerprints } from '../remote/host-keys.js';
import type { Remote } from '../remote/remote.js';

/** build.sh's log lines shown with a failure. */
const LOG_TAIL_LINES = 20;
const DEFAULT_POLL_MS = 5_000;

export interface BuilderAddress {
  instanceId: string;
  host: string;
  user: string;
  privateKeyPath: string;
}

/** Waits for sshd with the build key; the host key is checked against the console when it lists one, else pinned. */
export async function connectToBuilder(deps: Deps, cloud: Pick<Cloud, 'consoleOutput' | 'capabilities'>, to: BuilderAddress, timeoutMs: number): Promise<Remote> {
  const progress = deps.io.progress(`SSH to the builder at ${to.host}`);
  const deadline = deps.clock.now() + timeoutMs;
  const pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  const pinKey = `build:${to.instanceId}`;
  const interrupted = () => {
    progress.fail('interrupted');
    return new InterruptedError('Interrupted while waiting for SSH to the builder');
  };
  // Where the cloud publishes the fingerprints, they are waited for first; where it does not, there
  // is nothing to wait for and the key is trusted on first use (and said so).
  const consoleKeys = cloud.capabilities.consoleHostKeys;
  const keys = await consoleHostKeys({ cloud, clock: deps.clock, signal: deps.signal }, to.instanceId, {
    knownHostsPath: deps.state.knownHostsPath,
    pinKey,
    pollMs,
    waitMs: consoleKeys ? Math.min(HOST_KEY_WAIT_MS, timeoutMs) : 0,
    onWaiting: () => progress.update('waiting for the console to list the SSH host key fingerprints'),
  }).catch((e: unknown) => {
    throw deps.signal.aborted ? interrupted() : e;
  });
  if (keys.how === 'first-use') {
    deps.io.warn(
      consoleKeys
        ? `The builder's console listed no SSH host key fingerprints within ${Math.round(keys.waitedMs / 1000)} s: trusting its key on first use.`
        : 'This cloud does not publish the builder\'s SSH host key fingerprints: trusting its key on first use.',
    );
  }
  for (;;) {
    if (deps.signal.aborted) throw interrupted();
    // Fingerprints seen once are kept; a console that shows them only later still counts.
    const expectedFingerprints =
      keys.expected.length || !consoleKeys ? keys.expected : parseConsoleHostKeyFingerprints(await cloud.consoleOutput(to.instanceId).catch(() => ''));
    try {
      const remote = await deps.connectRemote({
        host: to.host,
        user: to.user,
        privateKeyPath: to.privateKeyPath,
        knownHostsPath: deps.state.knownHostsPath,
        pinKey,
        expectedFingerprints,
        connectTimeoutMs: 15_000,
      });
      progress.succeed(`connected (host key ${remote.hostFingerprint}, ${describeTrust({ expected: expectedFingerprints, how: expectedFingerprints.length ? 'console' : keys.how }, keys.waitedMs)})`);
      return remote;
    } catch (e) {
      const code = e instanceof LaunchError ? e.code : '';
      // Until cloud-init has installed the key, sshd refuses it: that is booting, not a wrong key.
      const retriable = code === 'ssh-unreachable' || code === 'ssh-auth-failed' || code === 'ssh-failed';
      if (!retriable || deps.clock.now() >= deadline) {
        progress.fail(e instanceof Error ? e.message : String(e));
        throw e;
      }
      progress.update(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    }
    await deps.clock.sleep(pollMs, deps.signal).catch(() => undefined);
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ProvisionRequest {
  version: string;
  size: string;
  /** The cloud build.sh prepares the image for (its `--cloud`). */
  cloud: string;
}

/**
 * Uploads the bundle (provision/ and presets/helm/ side by side, as build.sh expects), runs the
 * build with its log streamed, then seals the machine: authorized_keys (the build's key), host keys
 * and cloud-init state go, so every instance of the image gets its own keys.
 */
export async function provisionOverSsh(deps: Deps, remote: Remote, req: ProvisionRequest, bundle: ProvisionBundle, timeoutMs: number): Promise<void> {
  const { io } = deps;
  const run = async (command: string, what: string) => {
    const r = await remote.exec(command, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new CloudError('builder-command-failed', `${what} failed on the builder (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return r.stdout.trim();
  };
  const dir = await run('mktemp -d /tmp/sourcegraph-launch-build.XXXXXX', 'Creating the upload directory');
  if (!/^\/tmp\/sourcegraph-launch-build\.[A-Za-z0-9]+$/.test(dir)) throw new CloudError('builder-command-failed', `Unexpected upload directory from mktemp: ${dir}`);
  const files = bundleFiles(bundle);
  const dirs = [...new Set(files.map((f) => dirname(`${dir}/${f.bundlePath}`)))];
  await run(`mkdir -p ${dirs.map(shellQuote).join(' ')}`, 'Creating the upload directories');
  const upload = io.progress(`Uploading the build bundle (${files.length} files)`);
  for (const f of files) await remote.upload(f.localPath, `${dir}/${f.bundlePath}`, f.mode);
  upload.succeed(dir);

  const build = io.progress('build.sh');
  const tail: string[] = [];
  let partial = '';
  const onOutput = (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.map((l) => l.trimEnd()).filter(Boolean)) {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      build.update(line);
    }
  };
  // Ctrl-C: closing the connection ends the exec at once; the cleanup then removes the builder.
  const onAbort = () => void remote.close();
  deps.signal.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = await remote.exec(`sudo bash ${dir}/provision/build.sh --version ${shellQuote(req.version)} --size ${shellQuote(req.size)} --cloud ${shellQuote(req.cloud)} 2>&1`, {
      timeoutMs,
      onStdout: onOutput,
      onStderr: onOutput,
    });
  } catch (e) {
    if (!deps.signal.aborted) throw e;
    result = undefined;
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
  }
  if (!result || deps.signal.aborted) {
    build.fail('interrupted');
    throw new InterruptedError('Interrupted during build.sh');
  }
  if (partial.trim()) onOutput('\n');
  if (result.code !== 0) {
    build.fail(`exit ${result.code ?? result.signal}`);
    throw new CloudError('image-build-failed', `build.sh failed on the builder (exit ${result.code ?? result.signal}). Last lines:\n  ${tail.join('\n  ')}`, {
      details: { exitCode: result.code, logTail: tail },
      remediation: 'Fix the cause shown in the log above and run the same command again; everything the build created was removed.',
    });
  }
  build.succeed('build complete');

  // The session stays open after its authorized_keys are gone, so the bundle can still be removed.
  const seal = await remote.exec(`sudo bash ${dir}/provision/seal-image.sh --yes 2>&1`, { timeoutMs: 120_000 });
  if (seal.code !== 0) {
    throw new CloudError('image-seal-failed', `seal-image.sh failed on the builder (exit ${seal.code ?? seal.signal}): ${seal.stdout.trim().split('\n').slice(-3).join(' | ')}`);
  }
  await run(`sudo rm -rf ${shellQuote(dir)}`, 'Removing the upload directory');
}
