// `kubeconfig [name]`: kubectl and helm on this machine, talking to the deployment's k3s API through
// an SSH tunnel this command holds open in the foreground. The API port (6443) is never opened to
// the network: the tunnel listens on this machine's loopback and forwards each connection over the
// SSH connection every other command uses (same key, user, address, pinned host key; the same
// errors when SSH is closed) to 127.0.0.1:6443 on the instance.
//
// The kubeconfig carries the cluster's own CA (read from k3s.yaml on the instance), so kubectl
// verifies the API server's certificate: k3s's serving certificate names 127.0.0.1, the address
// the tunnel listens on here.
//
// When the SSH connection drops the command exits 1 saying so, rather than reconnecting: a silent
// reconnect could land on a replaced instance (its host key is checked again by a re-run, which
// is what the message says to do), and kubectl's own retry makes a re-run cheap.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeconfigFlags } from '../cli/commands/kubeconfig.js';
import { defaultProvider } from '../cloud/providers.js';
import { ExitCode, LaunchError, UsageError } from '../core/errors.js';
import type { Remote } from '../remote/remote.js';
import type { Deps } from './deps.js';
import { connectOrExplain, reachInstance, scopeFlagsText } from './instance-access.js';
import {
  K3S_API_PORT,
  K3S_KUBECONFIG_PATH,
  kubeconfigText,
  mergeKubeconfig,
  parseK3sKubeconfig,
  readIfExists,
  userKubeconfigPath,
  writePrivateFile,
} from './kubeconfig-file.js';
import type { TargetFlags } from './target.js';

const READ_TIMEOUT_MS = 30_000;
/** Suggested when the default port is taken (often by a local Kubernetes). */
const OTHER_PORT = 16443;

export interface KubeconfigResult {
  name: string;
  instanceId: string;
  host: string;
  /** The file written (0600). */
  kubeconfig: string;
  context: string;
  server: string;
  port: number;
  /** The user's kubeconfig the context was merged into (--merge). */
  merged?: string;
  /** Whether a tunnel was held open (false with --no-tunnel). */
  tunnel: boolean;
  /** The tunnel was stopped with Ctrl-C (exit 130). */
  interrupted?: boolean;
  /** Connections forwarded while the tunnel was open. */
  connections?: number;
}

/** The --port value: a whole number from 0 (any free port) to 65535. */
export function parsePort(value: string | undefined, tunnel: boolean): number {
  if (value === undefined) return K3S_API_PORT;
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port: "${value}" must be a port number from 1 to 65535 (or 0 for any free port)`, { code: 'bad-port' });
  }
  if (port === 0 && !tunnel) throw new UsageError('--port 0 picks a free port when the tunnel starts; with --no-tunnel give the port the tunnel will use', { code: 'bad-port' });
  return port;
}

/** The file written when no --output is given: one per deployment, beside the tool's other state. */
export function defaultKubeconfigPath(deps: Pick<Deps, 'state'>, cloud: string, region: string, name: string): string {
  return join(deps.state.home, 'kubeconfig', `${cloud}-${region}-${name}.yaml`);
}

export function contextName(name: string): string {
  return `sourcegraph-${name}`;
}

export async function runKubeconfig(deps: Deps, nameArg: string | undefined, flags: KubeconfigFlags & TargetFlags): Promise<KubeconfigResult> {
  const { io } = deps;
  const tunnel = flags.tunnel !== false;
  const wantedPort = parsePort(flags.port, tunnel);
  if (flags.output !== undefined && flags.output.trim() === '') throw new UsageError('--output needs a file name', { code: 'bad-output' });

  const reach = await reachInstance(deps, nameArg, flags);
  const { remote, host } = await connectOrExplain(deps, reach, flags.providerFlags);
  const { instance, target } = reach;
  let tunnelOpen: Tunnel | undefined;
  try {
    const where = `${target.provider.id === defaultProvider().id ? '' : ` --cloud ${target.cloud}`} --region ${target.region}${scopeFlagsText(target.provider, flags.providerFlags)}`;
    const credentials = await readClusterCredentials(deps, remote, `${target.name}${where}`);
    let port = wantedPort;
    if (tunnel) {
      tunnelOpen = await listen(deps, remote, wantedPort);
      port = (tunnelOpen.server.address() as { port: number }).port;
    }
    const context = contextName(target.name);
    const entries = { name: context, server: `https://127.0.0.1:${port}`, credentials };
    const kubeconfig = writePrivateFile(flags.output ?? defaultKubeconfigPath(deps, target.cloud, target.region, target.name), kubeconfigText(entries));
    let merged: string | undefined;
    if (flags.merge) {
      const path = userKubeconfigPath(deps.env, deps.env.HOME || homedir());
      merged = writePrivateFile(path, mergeKubeconfig(readIfExists(path), entries, path));
    }
    const result: KubeconfigResult = { name: target.name, instanceId: instance.id, host, kubeconfig, context, server: entries.server, port, ...(merged ? { merged } : {}), tunnel };
    if (!tunnelOpen) {
      io.success(`Wrote ${kubeconfig} (context ${context}, server ${entries.server})${merged ? `; merged into ${merged}` : ''}.`);
      io.info(`It works while \`${deps.program} kubeconfig ${target.name}${where}${port === K3S_API_PORT ? '' : ` --port ${port}`}\` holds the tunnel open.`);
      io.result(result);
      return result;
    }
    return await holdTunnel(deps, remote, tunnelOpen, result);
  } finally {
    if (tunnelOpen) await closeTunnel(tunnelOpen);
    await remote.close().catch(() => undefined);
  }
}

/** `nameAndWhere`: the deployment's name and the flags that reach it, for the command in the remedy. */
async function readClusterCredentials(deps: Deps, remote: Remote, nameAndWhere: string) {
  const r = await remote.exec(`sudo cat ${K3S_KUBECONFIG_PATH}`, { timeoutMs: READ_TIMEOUT_MS });
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n')[0];
    throw new LaunchError('k3s-kubeconfig-missing', ExitCode.failed, `Could not read ${K3S_KUBECONFIG_PATH} on the instance: ${why}`, {
      remediation: `k3s writes it when it first starts; \`${deps.program} logs ${nameAndWhere} --pods\` shows whether the instance has finished booting.`,
    });
  }
  return parseK3sKubeconfig(r.stdout);
}

interface Tunnel {
  server: Server;
  /** Open connections, ended with the tunnel (a kubectl watch would otherwise keep us alive). */
  sockets: Set<Socket>;
  forwarded: number;
}

/** The tunnel's listener on this machine's loopback only: other machines never reach it. */
async function listen(deps: Deps, remote: Remote, port: number): Promise<Tunnel> {
  if (!remote.forwardOut) throw new LaunchError('ssh-forward-unsupported', ExitCode.failed, 'This SSH connection cannot forward connections');
  const forwardOut = remote.forwardOut.bind(remote);
  let warned = false;
  const server = createServer((socket: Socket) => {
    tunnel.sockets.add(socket);
    socket.on('close', () => tunnel.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    forwardOut('127.0.0.1', K3S_API_PORT).then(
      (channel) => {
        if (socket.destroyed) return void (channel as unknown as { destroy?: () => void }).destroy?.();
        channel.on('error', () => socket.destroy());
        channel.on('close', () => socket.destroy());
        socket.on('close', () => (channel as unknown as { destroy?: () => void }).destroy?.());
        socket.pipe(channel);
        channel.pipe(socket);
        tunnel.forwarded++;
      },
      (e: unknown) => {
        socket.destroy();
        // Once: kubectl retries, and each retry would say the same.
        if (!warned) deps.io.warn(`${(e as Error).message} (is k3s running on the instance?)`);
        warned = true;
      },
    );
  });
  const tunnel: Tunnel = { server, sockets: new Set(), forwarded: 0 };
  try {
    server.listen({ host: '127.0.0.1', port, exclusive: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  } catch (e) {
    server.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new LaunchError('port-busy', ExitCode.failed, `Port ${port} on 127.0.0.1 is already in use on this machine`, {
        remediation: `Pass another port, e.g. --port ${port === OTHER_PORT ? OTHER_PORT + 1 : OTHER_PORT}, or --port 0 to pick a free one (the kubeconfig names the port the tunnel listens on).`,
        details: { port },
      });
    }
    if (code === 'EACCES') {
      throw new LaunchError('port-denied', ExitCode.failed, `Not allowed to listen on port ${port} on 127.0.0.1`, {
        remediation: `Ports below 1024 need privileges: pass --port ${OTHER_PORT}, or --port 0 to pick a free one.`,
        details: { port },
      });
    }
    throw new LaunchError('tunnel-listen-failed', ExitCode.failed, `Cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`, { cause: e });
  }
  return tunnel;
}

/** Until Ctrl-C (the result, exit 130) or the SSH connection is lost (exit 1). */
async function holdTunnel(deps: Deps, remote: Remote, tunnel: Tunnel, result: KubeconfigResult): Promise<KubeconfigResult> {
  const { io } = deps;
  const use = result.merged ? `kubectl --context ${result.context} get pods -A` : `export KUBECONFIG=${shellQuote(result.kubeconfig)}\n  kubectl get pods -A`;
  io.success(`Wrote ${result.kubeconfig} (context ${result.context}, server ${result.server})${result.merged ? `; merged into ${result.merged}` : ''}.`);
  io.info(`Tunnel open: 127.0.0.1:${result.port} on this machine → ${result.host} → 127.0.0.1:${K3S_API_PORT} on the instance.`);
  io.info(`In another terminal (kubectl and helm work the same way):\n  ${use}`);
  io.info('Keep this running; Ctrl-C closes the tunnel.');
  if (io.resultLine) io.resultLine(result);
  else io.result(result);

  const lost = new Promise<Error>((resolve) => remote.onLost?.(resolve));
  const interrupted = new Promise<void>((resolve) => {
    if (deps.signal.aborted) return resolve();
    deps.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const outcome = await Promise.race([lost, interrupted.then(() => undefined)]);
  if (outcome) {
    throw new LaunchError('tunnel-lost', ExitCode.failed, `The SSH connection to ${result.host} was lost, so the tunnel is closed: ${outcome.message}`, {
      cause: outcome,
      remediation: `Run the same command again to reopen it (${result.kubeconfig} stays as it is${result.port === K3S_API_PORT ? '' : `; give --port ${result.port} again so it still matches`}).`,
      details: { kubeconfig: result.kubeconfig, port: result.port },
    });
  }
  const n = tunnel.forwarded;
  io.info(`Tunnel closed (${n} connection${n === 1 ? '' : 's'} forwarded).`);
  return { ...result, interrupted: true, connections: n };
}

function closeTunnel(tunnel: Tunnel): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const socket of tunnel.sockets) socket.destroy();
    tunnel.server.close(() => resolve());
  });
}

/** A path as a shell reads it back (macOS's state directory has a space: "Application Support"). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
