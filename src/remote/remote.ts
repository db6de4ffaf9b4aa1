// The Remote port: run commands on (and later upload files to) an instance over SSH.
// The ssh2 adapter lives in ssh2-remote.ts and is loaded only when a command needs SSH.

export interface RemoteTarget {
  host: string;
  port?: number;
  user: string;
  privateKeyPath: string;
  /**
   * Host key fingerprints ("SHA256:base64") printed by cloud-init on the console. When non-empty
   * the server's key must match one of them.
   */
  expectedFingerprints?: string[];
  /** Where the pinned fingerprint for `pinKey` is kept (trust on first use when none is expected). */
  knownHostsPath: string;
  /** Pin identity, e.g. the instance id: a new instance behind the same address has a new key. */
  pinKey: string;
  /** TCP + handshake timeout. */
  connectTimeoutMs?: number;
  /**
   * An open stream to the target's SSH port to speak SSH over instead of dialling `host:port`:
   * a channel another SSH connection opened (jump.ts). `host` then names the target in messages
   * (and the pin is still `pinKey`'s).
   */
  sock?: NodeJS.ReadWriteStream;
  /** Where `sock` goes through, for messages ("through prod's instance i-0abc at 203.0.113.9"). */
  via?: string;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /**
   * Written to the command's input, which is then closed: how a script carrying a secret reaches
   * the instance without being on its command line (which any user there can read in `ps`).
   */
  stdin?: string | Buffer;
}

/** How a command (or a login shell) ended: its exit status, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal?: string;
}

export interface AttachOptions {
  /** The command to run; a login shell when absent. */
  command?: string;
  /** A terminal on the instance (an interactive shell or a full-screen program). */
  pty?: { term: string; rows: number; cols: number };
  /** Sent to the command; its end closes the command's input. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Registers a listener for the local terminal's size; returns its removal. */
  onResize?: (listener: (rows: number, cols: number) => void) => () => void;
}

export interface Remote {
  /** The SHA256 fingerprint of the host key that was accepted. */
  readonly hostFingerprint: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  upload(localPath: string, remotePath: string, mode?: number): Promise<void>;
  /**
   * Runs a command or a login shell wired to the caller's streams (and a terminal when `pty` is
   * given), as `ssh` does: what `sourcegraph-launch ssh` uses. Optional: only the real SSH adapter
   * needs it, test doubles of the other commands do not.
   */
  attach?(opts: AttachOptions): Promise<ExitStatus>;
  /**
   * Opens a TCP connection from the instance to `host:port` over this SSH connection (ssh -L's
   * direct-tcpip channel): what `kubeconfig`'s tunnel uses. Optional, as attach is.
   */
  forwardOut?(host: string, port: number): Promise<NodeJS.ReadWriteStream>;
  /**
   * Calls `listener` once if the connection is lost (not when close() ends it), with why; a
   * command that holds the connection open (the tunnel) stops on it.
   */
  onLost?(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export type ConnectRemote = (target: RemoteTarget) => Promise<Remote>;
