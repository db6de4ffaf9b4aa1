// SSH to an instance that has no public address, through one that the caller can reach (`ssh -J`):
// an SSH connection to the hop (its key, user and host key checked as any connection of ours),
// then, per connection to a target, a direct-tcpip channel from the hop to the target's private
// address and port 22, and a second SSH connection spoken over that channel. The target's host key
// is checked end to end by the second connection (the hop only relays bytes); nothing is run on the
// hop and nothing on it changes. Used by `upgrade --rehearse` (the copy has no public address) and
// meant for `scale --agents`.
//
// The hop connection is opened once and shared by every connection through it; when it is lost (a
// long wait, the hop rebooted), the next connection through it opens it again.
import { ExitCode, LaunchError } from '../core/errors.js';
import type { ConnectRemote, Remote, RemoteTarget } from './remote.js';

export interface JumpHost {
  /** Opens the SSH connection to the hop (called again after it was lost). */
  connect(): Promise<Remote>;
  /** The hop in messages: "prod's instance i-0abc at 203.0.113.9". */
  label: string;
}

export interface Jump {
  /** Connects to `target.host`:`target.port` as dialled from the hop, over SSH through it. */
  connectRemote: ConnectRemote;
  /** The hop's connection, opened when not open: to check the hop is reachable before relying on it. */
  hop(): Promise<Remote>;
  /** Closes the hop's connection (the connections through it end with it). */
  close(): Promise<void>;
}

export function jumpThrough(hop: JumpHost, connect: ConnectRemote): Jump {
  let current: Promise<Remote> | undefined;
  let closed = false;

  const hopRemote = (): Promise<Remote> => {
    if (closed) return Promise.reject(new LaunchError('ssh-jump-closed', ExitCode.failed, `The SSH connection through ${hop.label} was closed`));
    if (current) return current;
    const opening: Promise<Remote> = hop.connect().then(
      (remote) => {
        // A lost hop is opened again by the next connection through it, not by this one.
        remote.onLost?.(() => {
          if (current === opening) current = undefined;
        });
        return remote;
      },
      (e: unknown) => {
        if (current === opening) current = undefined;
        throw e;
      },
    );
    current = opening;
    return opening;
  };

  const connectRemote: ConnectRemote = async (target: RemoteTarget) => {
    const via = await hopRemote();
    const port = target.port ?? 22;
    if (!via.forwardOut) throw new LaunchError('ssh-jump-unsupported', ExitCode.failed, `The SSH connection to ${hop.label} cannot forward connections`);
    let stream: NodeJS.ReadWriteStream;
    try {
      stream = await via.forwardOut(target.host, port);
    } catch (e) {
      // Refused or unreachable from the hop (the target is still booting, or its rules do not let the
      // hop in): "unreachable", which a readiness wait retries like a refused TCP connection.
      throw new LaunchError('ssh-unreachable', ExitCode.failed, `SSH to ${target.host}:${port} through ${hop.label} failed: ${messageOf(e).replace(/\.$/, '')}.`, {
        cause: e,
        remediation: `Check that ${target.host} is running and has finished booting, and that its access rules let ${hop.label} in on port ${port}.`,
        details: { host: target.host, port, via: hop.label },
      });
    }
    try {
      return await connect({ ...target, sock: stream, via: `through ${hop.label}` });
    } catch (e) {
      (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
      throw e;
    }
  };

  return {
    connectRemote,
    hop: hopRemote,
    async close() {
      closed = true;
      const open = current;
      current = undefined;
      const remote = await open?.catch(() => undefined);
      await remote?.close().catch(() => undefined);
    },
  };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
