// A Remote (and the ConnectRemote that makes it) answering commands from a script of virtual
// time, like an instance booting: k3s activating → active, node NotReady → Ready, pods pending →
// running. Connections can be refused, dropped or made to hang, to exercise the wait's retries.
import type { ConnectRemote, ExecOptions, ExecResult, Remote, RemoteTarget } from '../../src/remote/remote.js';
import { K3S_KUBECTL } from '../../src/engine/wait.js';

/** What one connection attempt does: succeed, fail with an error, or never finish. */
export type ConnectOutcome = 'ok' | Error | 'hang';

/** A command's answer; throwing from the handler means the SSH connection broke. */
/** `stdin`: what the caller wrote to the command's input (ExecOptions.stdin), as text. */
export type ExecHandler = (command: string, t: number, stdin?: string) => ExecResult;

export class ScriptedRemoteHost {
  readonly targets: RemoteTarget[] = [];
  readonly commands: { command: string; t: number; stdin?: string }[] = [];
  readonly remotes: ScriptedRemote[] = [];

  constructor(
    private readonly elapsed: () => number,
    private readonly exec: ExecHandler,
    private readonly onConnect: (attempt: number, t: number) => ConnectOutcome = () => 'ok',
    readonly hostFingerprint = 'SHA256:' + 'A'.repeat(43),
  ) {}

  readonly connect: ConnectRemote = (target) => {
    this.targets.push(target);
    const outcome = this.onConnect(this.targets.length, this.elapsed());
    if (outcome === 'hang') return new Promise<Remote>(() => undefined);
    if (outcome instanceof Error) return Promise.reject(outcome);
    const remote = new ScriptedRemote(this, this.hostFingerprint);
    this.remotes.push(remote);
    return Promise.resolve(remote);
  };

  run(remote: ScriptedRemote, command: string, stdin?: string): ExecResult {
    if (remote.closed) throw new Error('exec on a closed connection');
    const t = this.elapsed();
    this.commands.push(stdin === undefined ? { command, t } : { command, t, stdin });
    try {
      return this.exec(command, t, stdin);
    } catch (e) {
      // The connection broke mid-command: like ssh2, every later call on it fails too.
      remote.closed = true;
      throw e;
    }
  }

  openConnections(): number {
    return this.remotes.filter((r) => !r.closed).length;
  }
}

export class ScriptedRemote implements Remote {
  closed = false;
  constructor(
    private readonly host: ScriptedRemoteHost,
    readonly hostFingerprint: string,
  ) {}

  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    try {
      return Promise.resolve(this.host.run(this, command, opts?.stdin === undefined ? undefined : String(opts.stdin)));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  upload(): Promise<void> {
    return Promise.reject(new Error('ScriptedRemote does not upload'));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });
export const failed = (code: number, stderr: string, stdout = ''): ExecResult => ({ code, stdout, stderr });

export interface ApplianceTimeline {
  /** t (virtual ms) at which `systemctl is-active k3s` says active. */
  k3sActiveAt: number;
  nodeReadyAt: number;
  /** Pods: none before podsAppearAt, then a mix of Pending/CrashLoopBackOff until podsReadyAt. */
  podsAppearAt: number;
  podsReadyAt: number;
  podCount?: number;
  /** Contents of /var/lib/sourcegraph-launch/status.json; undefined = file absent (published images). */
  bootStatus?: (t: number) => object | undefined;
  bootLog?: string;
}

/** An ExecHandler playing a booting Sourcegraph appliance. Unknown commands exit 127. */
export function applianceExec(timeline: ApplianceTimeline): ExecHandler {
  const podCount = timeline.podCount ?? 40;
  return (command, t) => {
    switch (command) {
      case 'sudo systemctl is-active k3s':
        if (t >= timeline.k3sActiveAt) return ok('active\n');
        // systemd says "activating" for the last 40 s before k3s is up (k3s's own start-up).
        return failed(3, '', t >= timeline.k3sActiveAt - 40_000 ? 'activating\n' : 'inactive\n');
      case `${K3S_KUBECTL} get nodes -o json`:
        return ok(JSON.stringify(nodeList(t >= timeline.nodeReadyAt)));
      case `${K3S_KUBECTL} get pods -A -o json`:
        if (t < timeline.podsAppearAt) return ok(JSON.stringify({ items: [] }));
        return ok(JSON.stringify(podList(podCount, t >= timeline.podsReadyAt)));
      case 'sudo cat /var/lib/sourcegraph-launch/status.json': {
        const status = timeline.bootStatus?.(t);
        if (status === undefined) {
          return failed(1, 'cat: /var/lib/sourcegraph-launch/status.json: No such file or directory');
        }
        return ok(JSON.stringify(status));
      }
      case 'sudo tail -n 40 /var/log/reboot.sh.log':
        return ok(timeline.bootLog ?? '');
      default:
        return failed(127, `bash: ${command.split(' ')[0] ?? ''}: command not found`);
    }
  };
}

export function nodeList(ready: boolean): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        metadata: { name: 'sourcegraph-0' },
        status: {
          conditions: [
            { type: 'MemoryPressure', status: 'False' },
            { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady' },
          ],
        },
      },
    ],
  };
}

/** `count` pods; when not settled: 3 Pending, 1 CrashLoopBackOff, 1 running-not-ready, 1 Succeeded job, rest ready. */
export function podList(count: number, settled: boolean): object {
  const items: object[] = [];
  for (let i = 0; i < count; i++) {
    const name = `pod-${i}`;
    const metadata = { name, namespace: i < 4 ? 'kube-system' : 'default' };
    if (i === 0) {
      items.push({ metadata: { ...metadata, name: 'helm-install-traefik' }, status: { phase: 'Succeeded' } });
    } else if (!settled && i <= 3) {
      items.push({ metadata, status: { phase: 'Pending' } });
    } else if (!settled && i === 4) {
      items.push({
        metadata,
        status: {
          phase: 'Running',
          containerStatuses: [{ ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
        },
      });
    } else if (!settled && i === 5) {
      items.push({ metadata, status: { phase: 'Running', containerStatuses: [{ ready: false, state: { running: {} } }] } });
    } else {
      items.push({
        metadata,
        status: { phase: 'Running', containerStatuses: [{ ready: true, state: { running: {} } }, { ready: true }] },
      });
    }
  }
  return { apiVersion: 'v1', kind: 'List', items };
}
