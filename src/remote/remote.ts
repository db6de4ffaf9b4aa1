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
}

export interface Remote {
  /** The SHA256 fingerprint of the host key that was accepted. */
  readonly hostFingerprint: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  upload(localPath: string, remotePath: string, mode?: number): Promise<void>;
  close(): Promise<void>;
}

export type ConnectRemote = (target: RemoteTarget) => Promise<Remote>;
