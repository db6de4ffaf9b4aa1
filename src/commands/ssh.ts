// `ssh [name] [-- command…]`: a shell on the deployment's serving instance, or one command there
// whose exit status becomes ours. The key, login user, address and host-key check are the ones
// every other command uses (instance-access.ts → workflows/shared.ts); nothing is sent to a host
// whose key does not match.
import { constants } from 'node:os';
import type { SshFlags } from '../cli/commands/ssh.js';
import { ExitCode, InterruptedError, LaunchError, UsageError } from '../core/errors.js';
import type { ExecResult, ExitStatus, Remote } from '../remote/remote.js';
import type { Deps } from './deps.js';
import { connectOrExplain, reachInstance } from './instance-access.js';
import type { TargetFlags } from './target.js';

export interface SshResult {
  name: string;
  instanceId: string;
  host: string;
  /** The remote command's (or shell's) exit status; 128 + n when signal n killed it, as a shell says. */
  exitCode: number;
  signal?: string;
  /** With --json: the command's whole output. */
  stdout?: string;
  stderr?: string;
}

export async function runSsh(deps: Deps, nameArg: string | undefined, flags: SshFlags & TargetFlags): Promise<SshResult> {
  const { io } = deps;
  if (flags.rest && flags.rest.length === 0) throw new UsageError('Nothing follows --: give the command to run, or leave out -- for a shell', { code: 'no-command' });
  // Joined by spaces and run by the login user's shell, as OpenSSH's client does.
  const command = flags.rest?.join(' ');
  const terminal = deps.terminal;
  if (command === undefined) {
    if (io.json) throw new UsageError('--json needs a command: `ssh <name> --json -- <command>`', { code: 'no-command' });
    if (!terminal?.stdin.isTTY || !terminal.stdout.isTTY) {
      throw new UsageError('An interactive shell needs a terminal; to run a command without one, give it after --', {
        code: 'no-terminal',
        remediation: `\`${deps.program} ssh <name> -- <command>\` runs it and exits with its status.`,
      });
    }
  }
  const reach = await reachInstance(deps, nameArg, flags);
  const { remote, host } = await connectOrExplain(deps, reach, flags.providerFlags);
  const { instance, target } = reach;
  const base = { name: target.name, instanceId: instance.id, host };
  try {
    if (command === undefined) {
      if (!remote.attach) throw new LaunchError('ssh-shell-unsupported', ExitCode.failed, 'This SSH connection cannot open an interactive shell');
      const status = await shell(deps, remote, terminal!);
      return { ...base, ...exitOf(status) };
    }
    if (io.json) {
      const r = await untilInterrupted(deps, remote.exec(command));
      const result: SshResult = { ...base, ...exitOf(r), stdout: r.stdout, stderr: r.stderr };
      io.result({ exitCode: result.exitCode, stdout: r.stdout, stderr: r.stderr, ...(result.signal ? { signal: result.signal } : {}), instanceId: instance.id, host });
      return result;
    }
    // Input piped to us goes to the command, as with ssh (`ssh prod -- sudo tee … < file`); its
    // output comes as it comes, on our stdout and stderr.
    if (terminal && remote.attach && !terminal.stdin.isTTY) {
      try {
        const status = await untilInterrupted(deps, remote.attach({ command, stdin: terminal.stdin, stdout: terminal.stdout, stderr: terminal.stderr }));
        return { ...base, ...exitOf(status) };
      } finally {
        terminal.stdin.pause();
      }
    }
    // Recorded through Io when there is no terminal (in-process callers).
    const r = await untilInterrupted(
      deps,
      remote.exec(command, {
        ...(terminal ? { onStdout: (c: string) => terminal.stdout.write(c), onStderr: (c: string) => terminal.stderr.write(c) } : {}),
      }),
    );
    if (!terminal) {
      if (r.stdout) io.info(r.stdout.replace(/\n$/, ''));
      if (r.stderr) io.warn(r.stderr.replace(/\n$/, ''));
    }
    return { ...base, ...exitOf(r) };
  } finally {
    await remote.close().catch(() => undefined);
  }
}

/** A login shell in a terminal on the instance, our terminal in raw mode meanwhile (Ctrl-C goes to the instance). */
async function shell(deps: Deps, remote: Remote, terminal: NonNullable<Deps['terminal']>): Promise<ExitStatus> {
  const { stdin, stdout, stderr } = terminal;
  stdin.setRawMode(true);
  try {
    return await remote.attach!({
      pty: { term: deps.env.TERM || 'xterm-256color', rows: stdout.rows || 24, cols: stdout.columns || 80 },
      stdin,
      stdout,
      stderr,
      onResize: (listener) => {
        const onResize = () => listener(stdout.rows || 24, stdout.columns || 80);
        stdout.on('resize', onResize);
        return () => stdout.off('resize', onResize);
      },
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** The exit status as a shell reports it: the code, else 128 + the signal's number. */
function exitOf(r: ExitStatus | ExecResult): { exitCode: number; signal?: string } {
  if (typeof r.code === 'number') return { exitCode: r.code };
  const name = r.signal ? (r.signal.startsWith('SIG') ? r.signal : `SIG${r.signal}`) : undefined;
  const number = name ? (constants.signals as Record<string, number>)[name] : undefined;
  return { exitCode: number ? 128 + number : 255, ...(name ? { signal: name } : {}) };
}

/** Ctrl-C stops waiting for the command (the connection is closed, which ends it) and exits 130. */
export function untilInterrupted<T>(deps: Pick<Deps, 'signal'>, work: Promise<T>, what = 'the command'): Promise<T> {
  if (deps.signal.aborted) return Promise.reject(new InterruptedError(`Interrupted: ${what} was stopped.`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new InterruptedError(`Interrupted: ${what} was stopped.`));
    deps.signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        deps.signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        deps.signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
