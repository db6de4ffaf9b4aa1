// A Remote (and its ConnectRemote) that records every connection, command and upload and answers
// commands from a handler, streaming the answer's output as a real exec does. For workflows that
// provision over SSH (build-image) where the test must not run the real scripts.
import type { ConnectRemote, ExecOptions, ExecResult, Remote, RemoteTarget } from '../../src/remote/remote.js';

/** `stdin`: what the caller wrote to the command's input (ExecOptions.stdin), as text. */
export type RecordedExec = (command: string, remote: RecordingRemote, stdin?: string) => ExecResult | Promise<ExecResult>;

export class RecordingRemoteHost {
  readonly targets: RemoteTarget[] = [];
  readonly commands: string[] = [];
  /** Per command (same index): its input, when it was given one. */
  readonly inputs: (string | undefined)[] = [];
  readonly uploads: { localPath: string; remotePath: string; mode?: number }[] = [];
  readonly remotes: RecordingRemote[] = [];

  constructor(
    public exec: RecordedExec,
    readonly hostFingerprint = `SHA256:${'B'.repeat(43)}`,
  ) {}

  readonly connect: ConnectRemote = (target) => {
    this.targets.push(target);
    const remote = new RecordingRemote(this);
    this.remotes.push(remote);
    return Promise.resolve(remote);
  };

  openConnections(): number {
    return this.remotes.filter((r) => !r.closed).length;
  }
}

export class RecordingRemote implements Remote {
  closed = false;
  constructor(private readonly host: RecordingRemoteHost) {}

  get hostFingerprint(): string {
    return this.host.hostFingerprint;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new Error('exec on a closed connection');
    this.host.commands.push(command);
    const stdin = opts.stdin === undefined ? undefined : String(opts.stdin);
    this.host.inputs.push(stdin);
    const result = await this.host.exec(command, this, stdin);
    if (result.stdout) opts.onStdout?.(result.stdout);
    if (result.stderr) opts.onStderr?.(result.stderr);
    return result;
  }

  upload(localPath: string, remotePath: string, mode?: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('upload on a closed connection'));
    this.host.uploads.push({ localPath, remotePath, ...(mode !== undefined ? { mode } : {}) });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
export const failed = (code: number, stdout: string, stderr = ''): ExecResult => ({ code, stdout, stderr });
