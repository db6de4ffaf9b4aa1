// The narrow way `config`, `executors enable` and `disk grow` talk to an instance: run a shell
// command (as the login user; root through `sudo`, which the instance's root channel keeps) and get
// its output and exit status, put a small file. Two implementations: SSH (an open Remote, what they
// always used) and the cloud's run-command channel (run-command-channel.ts), for deployments whose
// SSH is closed or unreachable.
import type { ExecOptions, ExecResult, Remote } from './remote.js';

export type ChannelKind = 'ssh' | 'run-command';

export interface InstanceChannel {
  readonly kind: ChannelKind;
  /** For messages: "SSH (root@203.0.113.9)", "Azure Run Command". */
  readonly description: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Writes `content` to `remotePath` on the instance (as root), with `mode`. */
  putFile(remotePath: string, content: Buffer, mode?: number): Promise<void>;
  close(): Promise<void>;
}

/** An SSH connection as a channel: exec as it is, files through a root script (SFTP would write as the login user). */
export function sshChannel(remote: Pick<Remote, 'exec' | 'close'>, description: string): InstanceChannel {
  return {
    kind: 'ssh',
    description,
    exec: (command, opts) => remote.exec(command, opts),
    putFile: async (remotePath, content, mode = 0o600) => {
      const r = await remote.exec(putFileCommand(remotePath, content, mode), { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`Could not write ${remotePath} on the instance: ${(r.stderr.trim() || `exit ${String(r.code)}`).split('\n')[0]}`);
    },
    close: () => remote.close(),
  };
}

/** A command that writes a file as root, its content base64 in the command (for small files). */
export function putFileCommand(remotePath: string, content: Buffer, mode: number): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(remotePath)) throw new Error(`Unexpected path on the instance: ${remotePath}`);
  const script = `set -e\numask 077\nprintf '%s' '${content.toString('base64')}' | base64 -d > '${remotePath}.sgl-new'\nchmod ${mode.toString(8)} '${remotePath}.sgl-new'\nmv -f '${remotePath}.sgl-new' '${remotePath}'\n`;
  return `echo ${Buffer.from(script).toString('base64')} | base64 -d | sudo sh`;
}
