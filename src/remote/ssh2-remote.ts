// The ssh2 adapter of the Remote port. `ssh2` (and its crypto) is imported inside connect so that
// commands which never open SSH do not pay for loading it.

import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';

import { CredentialsError, ExitCode, LaunchError } from '../core/errors.js';
import { fingerprintOfKey, sameFingerprint } from './host-keys.js';
import { pinHostFingerprint, readPinnedFingerprint } from './known-hosts.js';
import type { AttachOptions, ConnectRemote, ExecOptions, ExecResult, ExitStatus, Remote, RemoteTarget } from './remote.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
// Long waits keep one connection open for minutes; keepalives notice an instance that went away
// (stopped, rebooted) instead of hanging on a dead TCP connection.
const KEEPALIVE_INTERVAL_MS = 10_000;
const KEEPALIVE_COUNT_MAX = 3;
const CLOSE_GRACE_MS = 2_000;

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

type Ssh2Error = Error & { code?: string | number; level?: string };

export const connectSsh2: ConnectRemote = async (target: RemoteTarget): Promise<Remote> => {
  const privateKey = await readPrivateKey(target.privateKeyPath);
  // ssh2 is CommonJS: under ESM (and in the bundle) its exports hang off the default export.
  const { Client: Ssh2Client } = (await import('ssh2')).default;
  const client = new Ssh2Client();
  const address = describeTarget(target);

  let hostKeyProblem: LaunchError | undefined;
  let acceptedFingerprint: string | undefined;
  let pinAfterConnect = false;

  // Must return undefined and answer through `verify`: ssh2 treats any other return value
  // (a Promise included) as the verdict, so an async function here would accept every key.
  const hostVerifier = (keyBlob: Buffer, verify: (permitted: boolean) => void): void => {
    const presented = fingerprintOfKey(keyBlob);
    checkHostKey(target, presented).then(
      (outcome) => {
        if (outcome.ok) {
          acceptedFingerprint = presented;
          pinAfterConnect = outcome.pin;
        } else {
          hostKeyProblem = outcome.error;
        }
        verify(outcome.ok);
      },
      (e: unknown) => {
        hostKeyProblem = isLaunchErrorLike(e)
          ? e
          : new LaunchError('host-key-check-failed', ExitCode.failed, `Could not check the host key of ${address}: ${messageOf(e)}`, { cause: e });
        verify(false);
      },
    );
  };

  const config: ConnectConfig = {
    host: target.host,
    port: target.port ?? 22,
    username: target.user,
    privateKey,
    readyTimeout: target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier,
    // Through another SSH connection's channel (jump.ts) instead of a TCP connection of our own.
    ...(target.sock ? { sock: target.sock as unknown as NonNullable<ConnectConfig['sock']> } : {}),
  };

  const remote = await new Promise<Ssh2Remote>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      client.destroy();
      reject(hostKeyProblem ?? classifyConnectError(e, target));
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      client.removeListener('close', onCloseBeforeReady);
      if (acceptedFingerprint === undefined) {
        client.destroy();
        reject(new LaunchError('host-key-check-failed', ExitCode.failed, `The SSH connection to ${address} finished without checking the host key.`));
        return;
      }
      // Built synchronously here so its error/close listeners are in place from the first moment.
      resolve(new Ssh2Remote(client, target, acceptedFingerprint));
    };
    const onCloseBeforeReady = () => fail(new Error('the server closed the connection during the SSH handshake'));
    client.once('ready', onReady);
    // Stays attached (a no-op once settled) until the Remote has its own listener.
    client.on('error', fail);
    client.once('close', onCloseBeforeReady);
    try {
      client.connect(config);
    } catch (e) {
      // ssh2 parses the key synchronously in connect(): a passphrase-protected or malformed key lands here.
      settled = true;
      reject(unusableKey(target.privateKeyPath, e));
    }
  });

  if (pinAfterConnect) {
    try {
      const source = (target.expectedFingerprints ?? []).length > 0 ? 'console' : 'first-use';
      await pinHostFingerprint(target.knownHostsPath, target.pinKey, remote.hostFingerprint, source);
    } catch (e) {
      await remote.close();
      throw isLaunchErrorLike(e)
        ? e
        : new LaunchError('known-hosts-write-failed', ExitCode.failed, `Could not save the host key pin to ${target.knownHostsPath}: ${messageOf(e)}`, { cause: e });
    }
  }
  return remote;
};

type HostKeyOutcome = { ok: true; pin: boolean } | { ok: false; error: LaunchError };

async function checkHostKey(target: RemoteTarget, presented: string): Promise<HostKeyOutcome> {
  const expected = target.expectedFingerprints ?? [];
  if (expected.length > 0) {
    if (expected.some((f) => sameFingerprint(f, presented))) {
      // The console vouched for this key: (re)pin it so later connections need no console.
      const pinned = await readPinnedFingerprint(target.knownHostsPath, target.pinKey);
      return { ok: true, pin: pinned === undefined || !sameFingerprint(pinned, presented) };
    }
    return { ok: false, error: hostKeyMismatch(target, expected, presented, 'console') };
  }
  const pinned = await readPinnedFingerprint(target.knownHostsPath, target.pinKey);
  if (pinned === undefined) return { ok: true, pin: true };
  if (sameFingerprint(pinned, presented)) return { ok: true, pin: false };
  return { ok: false, error: hostKeyMismatch(target, [pinned], presented, 'pin') };
}

function hostKeyMismatch(target: RemoteTarget, expected: string[], presented: string, source: 'console' | 'pin'): LaunchError {
  const from =
    source === 'console'
      ? "the fingerprints the instance's console printed at boot"
      : `the key pinned for ${target.pinKey} in ${target.knownHostsPath}`;
  const remediation =
    source === 'console'
      ? `Someone may be intercepting the connection (man-in-the-middle), or the address no longer belongs to ${target.pinKey}. ` +
        'Check that the address is the instance\'s current public address; do not connect until the keys match.'
      : 'Someone may be intercepting the connection (man-in-the-middle). Do not continue unless you know why the key changed. ' +
        `If the instance behind ${target.host} was really replaced, remove the pin: delete the "${target.pinKey}" entry from ${target.knownHostsPath} and connect again.`;
  return new LaunchError(
    'host-key-mismatch',
    ExitCode.failed,
    `The SSH host key of ${describeTarget(target)} does not match ${from}: expected ${expected.join(' or ')}, got ${presented}.`,
    { remediation, details: { host: target.host, pinKey: target.pinKey, expected, got: presented, knownHostsPath: target.knownHostsPath } },
  );
}

class Ssh2Remote implements Remote {
  private closed = false;
  private closing = false;
  private readonly lostListeners: Array<(e: LaunchError) => void> = [];
  private readonly pendingFailures = new Set<(e: LaunchError) => void>();
  private lastError: Ssh2Error | undefined;

  constructor(
    private readonly client: Client,
    private readonly target: RemoteTarget,
    readonly hostFingerprint: string,
  ) {
    // Without a listener a late socket error (instance stopped mid-wait) would crash the process.
    client.on('error', (e: Ssh2Error) => {
      this.lastError = e;
    });
    client.on('close', () => {
      this.closed = true;
      const reason = this.lastError ? `: ${this.lastError.message}` : '';
      const lost = new LaunchError('ssh-connection-lost', ExitCode.failed, `The SSH connection to ${describeTarget(this.target)} was lost${reason}.`, {
        cause: this.lastError,
        remediation: 'The instance may have stopped or rebooted; check its state and run the command again.',
      });
      for (const fail of [...this.pendingFailures]) fail(lost);
      if (!this.closing) for (const listener of this.lostListeners.splice(0)) listener(lost);
    });
  }

  onLost(listener: (error: Error) => void): void {
    if (this.closed) {
      if (!this.closing) listener(this.notConnected());
      return;
    }
    this.lostListeners.push(listener);
  }

  forwardOut(host: string, port: number): Promise<NodeJS.ReadWriteStream> {
    return new Promise<NodeJS.ReadWriteStream>((resolve, reject) => {
      if (this.closed) return reject(this.notConnected());
      const failed = (e: unknown) =>
        new LaunchError('ssh-forward-failed', ExitCode.failed, `The instance ${this.target.host} could not open a connection to ${host}:${port}: ${messageOf(e)}`, { cause: e });
      try {
        // The originator address and port are informational to sshd; ours is the loopback listener.
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => (err ? reject(failed(err)) : resolve(channel)));
      } catch (e) {
        reject(failed(e));
      }
    });
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      if (this.closed) return reject(this.notConnected());
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        this.pendingFailures.delete(failFromConnection);
        outcome();
      };
      const failFromConnection = (e: LaunchError) => finish(() => reject(e));
      this.pendingFailures.add(failFromConnection);
      let openChannel: ClientChannel | undefined;
      let stdout = '';
      let stderr = '';

      // Started before the channel opens: a server that never answers the open must time out too.
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          finish(() => {
            if (openChannel) stopChannel(openChannel);
            reject(
              new LaunchError('ssh-exec-timeout', ExitCode.failed, `\`${brief(command)}\` on ${this.target.host} did not finish within ${opts.timeoutMs} ms; it was stopped.`, {
                details: { command, timeoutMs: opts.timeoutMs, stdout, stderr },
              }),
            );
          });
        }, opts.timeoutMs);
      }

      const onChannel = (err: Error | undefined, channel: ClientChannel) => {
        if (settled) {
          // Timed out while the channel was opening.
          if (channel) stopChannel(channel);
          return;
        }
        openChannel = channel;
        if (err) {
          return finish(() =>
            reject(new LaunchError('ssh-exec-failed', ExitCode.failed, `Could not start \`${brief(command)}\` on ${this.target.host}: ${err.message}`, { cause: err })),
          );
        }
        const stdoutDecoder = new StringDecoder('utf8');
        const stderrDecoder = new StringDecoder('utf8');
        let exit: { code: number | null; signal?: string } | undefined;
        const takeStdout = (text: string) => {
          if (!text) return;
          stdout += text;
          opts.onStdout?.(text);
        };
        const takeStderr = (text: string) => {
          if (!text) return;
          stderr += text;
          opts.onStderr?.(text);
        };

        channel.on('data', (chunk: Buffer) => takeStdout(stdoutDecoder.write(chunk)));
        channel.stderr.on('data', (chunk: Buffer) => takeStderr(stderrDecoder.write(chunk)));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = typeof code === 'number' ? { code } : { code: null, signal };
        });
        // Given input is written and closed: a command reading it (`sh -s`) must see its end.
        if (opts.stdin !== undefined) channel.end(opts.stdin);
        channel.on('close', () => {
          takeStdout(stdoutDecoder.end());
          takeStderr(stderrDecoder.end());
          if (exit === undefined) {
            // OpenSSH always reports an exit status or signal before closing; without one the
            // connection went away under the command.
            return finish(() =>
              reject(new LaunchError('ssh-connection-lost', ExitCode.failed, `The SSH connection to ${this.target.host} closed before \`${brief(command)}\` finished.`)),
            );
          }
          const result: ExecResult = { code: exit.code, stdout, stderr };
          if (exit.signal !== undefined) result.signal = exit.signal;
          finish(() => resolve(result));
        });
      };
      try {
        this.client.exec(command, onChannel);
      } catch (e) {
        // ssh2 throws synchronously when the socket is already gone.
        finish(() => reject(new LaunchError('ssh-connection-lost', ExitCode.failed, `Could not run \`${brief(command)}\` on ${this.target.host}: ${messageOf(e)}`, { cause: e })));
      }
    });
  }

  attach(opts: AttachOptions): Promise<ExitStatus> {
    return new Promise<ExitStatus>((resolve, reject) => {
      if (this.closed) return reject(this.notConnected());
      const what = opts.command === undefined ? 'a shell' : `\`${brief(opts.command)}\``;
      const cleanups: Array<() => void> = [];
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        this.pendingFailures.delete(failFromConnection);
        for (const cleanup of cleanups.splice(0)) cleanup();
        outcome();
      };
      const failFromConnection = (e: LaunchError) => finish(() => reject(e));
      this.pendingFailures.add(failFromConnection);
      const onChannel = (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          return finish(() => reject(new LaunchError('ssh-exec-failed', ExitCode.failed, `Could not start ${what} on ${this.target.host}: ${err.message}`, { cause: err })));
        }
        let exit: ExitStatus | undefined;
        channel.on('data', (chunk: Buffer) => opts.stdout.write(chunk));
        channel.stderr.on('data', (chunk: Buffer) => opts.stderr.write(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = typeof code === 'number' ? { code } : { code: null, ...(signal ? { signal } : {}) };
        });
        if (opts.stdin) {
          const input = opts.stdin;
          const onData = (chunk: Buffer | string) => channel.write(chunk);
          const onEnd = () => channel.end();
          input.on('data', onData);
          input.once('end', onEnd);
          // Only now: what was typed while connecting waits in the stream instead of being dropped.
          input.resume();
          cleanups.push(() => {
            input.removeListener('data', onData);
            input.removeListener('end', onEnd);
          });
        }
        if (opts.onResize) cleanups.push(opts.onResize((rows, cols) => channel.setWindow(rows, cols, 0, 0)));
        channel.on('close', () => {
          if (exit === undefined) {
            return finish(() => reject(new LaunchError('ssh-connection-lost', ExitCode.failed, `The SSH connection to ${this.target.host} closed before ${what} finished.`)));
          }
          const status = exit;
          finish(() => resolve(status));
        });
      };
      try {
        if (opts.command === undefined) this.client.shell(opts.pty ?? false, onChannel);
        else this.client.exec(opts.command, opts.pty ? { pty: opts.pty } : {}, onChannel);
      } catch (e) {
        finish(() => reject(new LaunchError('ssh-connection-lost', ExitCode.failed, `Could not start ${what} on ${this.target.host}: ${messageOf(e)}`, { cause: e })));
      }
    });
  }

  async upload(localPath: string, remotePath: string, mode?: number): Promise<void> {
    if (this.closed) throw this.notConnected();
    const failed = (e: unknown) =>
      new LaunchError('ssh-upload-failed', ExitCode.failed, `Could not upload ${localPath} to ${this.target.host}:${remotePath}: ${messageOf(e)}`, { cause: e });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      try {
        this.client.sftp((err, session) => (err ? reject(failed(err)) : resolve(session)));
      } catch (e) {
        reject(failed(e));
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        sftp.fastPut(localPath, remotePath, (err) => (err ? reject(failed(err)) : resolve()));
      });
      if (mode !== undefined) {
        await new Promise<void>((resolve, reject) => {
          sftp.chmod(remotePath, mode, (err) => (err ? reject(failed(err)) : resolve()));
        });
      }
    } finally {
      sftp.end();
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise<void>((resolve) => {
      const grace = setTimeout(() => this.client.destroy(), CLOSE_GRACE_MS);
      this.client.once('close', () => {
        clearTimeout(grace);
        resolve();
      });
      this.client.end();
    });
  }

  private notConnected(): LaunchError {
    return new LaunchError('ssh-connection-lost', ExitCode.failed, `The SSH connection to ${describeTarget(this.target)} is closed.`);
  }
}

async function readPrivateKey(privateKeyPath: string): Promise<Buffer> {
  try {
    return await readFile(privateKeyPath);
  } catch (e) {
    throw unusableKey(privateKeyPath, e);
  }
}

function unusableKey(privateKeyPath: string, cause: unknown): LaunchError {
  return new LaunchError('ssh-key-unusable', ExitCode.badInput, `Cannot use the SSH private key ${privateKeyPath}: ${messageOf(cause)}`, {
    cause,
    remediation: 'Pass the private key the instance was launched with (an unencrypted OpenSSH or PEM key file).',
  });
}

function classifyConnectError(e: unknown, target: RemoteTarget): LaunchError {
  const err = e as Ssh2Error;
  const address = describeTarget(target);
  const message = messageOf(e);
  if (err.level === 'client-authentication' || /authentication methods failed/i.test(message)) {
    return new CredentialsError(`The instance at ${address} refused the SSH key ${target.privateKeyPath} for user "${target.user}".`, {
      code: 'ssh-auth-failed',
      cause: e,
      remediation:
        `Check that ${target.privateKeyPath} is the private key of the key pair the instance was launched with, ` +
        `and that "${target.user}" is the image's login user (Amazon Linux: ec2-user, Ubuntu: ubuntu).`,
      details: { host: target.host, user: target.user },
    });
  }
  const code = typeof err.code === 'string' ? err.code : undefined;
  const timedOut = err.level === 'client-timeout' || code === 'ETIMEDOUT';
  if (timedOut || (code !== undefined && UNREACHABLE_CODES.has(code)) || err.level === 'client-socket' || /closed the connection/.test(message)) {
    const what =
      code === 'ECONNREFUSED'
        ? 'refused the connection (nothing listens on the SSH port yet)'
        : timedOut
          ? `did not complete an SSH handshake within ${target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`
          : `could not be reached (${code ?? message})`;
    return new LaunchError('ssh-unreachable', ExitCode.failed, `SSH to ${address} failed: the host ${what}.`, {
      cause: e,
      remediation:
        'Check that the instance is running and has finished booting, that the address is its current public address, ' +
        'and that its firewall rules (--ssh-cidr) allow port 22 from your address.',
      details: { host: target.host, port: target.port ?? 22, code: code ?? err.level },
    });
  }
  return new LaunchError('ssh-failed', ExitCode.failed, `SSH to ${address} failed: ${message}`, { cause: e });
}

// KILL before closing: closing the channel alone leaves the remote process running. sshd delivers
// the signal to the command's whole process group (but refuses signals to root logins).
function stopChannel(channel: ClientChannel): void {
  try {
    channel.signal('KILL');
  } catch {
    // The channel may already be closing; close() still ends it.
  }
  channel.close();
}

/** A command as it fits in a one-line message. */
function brief(command: string): string {
  const oneLine = command.replace(/\s+/g, ' ').trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}

function describeTarget(target: RemoteTarget): string {
  const port = target.port ?? 22;
  return `${target.user}@${target.host}${port === 22 ? '' : `:${port}`}${target.via ? ` (${target.via})` : ''}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isLaunchErrorLike(e: unknown): e is LaunchError {
  return e instanceof LaunchError;
}

/**
 * A new ed25519 key pair in OpenSSH formats: `privateKey` is an unencrypted
 * "-----BEGIN OPENSSH PRIVATE KEY-----" block, `publicKey` the one-line `ssh-ed25519 AAAA… <comment>`.
 */
export async function generateEd25519KeyPair(comment: string): Promise<{ privateKey: string; publicKey: string }> {
  const ssh2 = await import('ssh2');
  // ssh2 is CommonJS; `utils` is only reachable through the default export under ESM.
  const { utils } = ssh2.default;
  // ssh2 1.17 writes about one ed25519 key in a hundred with its 32-byte public key cut to 31 bytes
  // (a leading zero dropped), which EC2 rejects as "not in valid OpenSSH public key format" and
  // which would not match the private key. Such a pair is thrown away and another one made.
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (isWholeEd25519PublicKey(pair.public)) return { privateKey: pair.private, publicKey: pair.public.trim() };
  }
}

/** `ssh-ed25519 <base64 of: string "ssh-ed25519", string of exactly 32 bytes>`. */
export function isWholeEd25519PublicKey(line: string): boolean {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return blob.length === 4 + 11 + 4 + 32 && blob.readUInt32BE(4 + 11) === 32;
}

/**
 * The one-line OpenSSH public key of a private key file's key (any type ssh2 reads), so a lost
 * `.pub` never makes anyone generate a new pair over a private key that is still in use.
 */
export async function publicKeyOfPrivateKey(privateKeyText: string, comment: string): Promise<string> {
  const { utils } = (await import('ssh2')).default;
  const parsed = utils.parseKey(privateKeyText);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new LaunchError('private-key-unreadable', ExitCode.failed, `Cannot read the private key: ${key instanceof Error ? key.message : 'no key found'}`);
  }
  return `${key.type} ${key.getPublicSSH().toString('base64')} ${comment}`.trim();
}
