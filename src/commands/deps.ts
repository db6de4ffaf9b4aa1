// What commands and workflows get injected: nothing here is imported for its side effects, so tests
// build their own Deps (the fake cloud or moto, a recording Io, a temp state home) and call
// commands directly. Test seams (the step hook, short polls, provision scripts) are dependencies
// too: no production module reads a test-only environment variable.
import type { Cloud, Scope } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import type { Clock } from '../engine/clock.js';
import type { httpGet } from '../engine/http-probe.js';
import type { ConnectRemote } from '../remote/remote.js';
import type { StateStore } from '../state/store.js';
import type { Io } from '../ui/io.js';

export type { GlobalFlags } from '../cli/flags.js';

export interface Deps {
  io: Io;
  state: StateStore;
  /** The cloud adapter of a scope (production: the descriptor's connect; tests: the fake or moto). */
  connect(provider: ProviderDescriptor, scope: Scope): Promise<Cloud>;
  connectRemote: ConnectRemote;
  clock: Clock;
  httpGet: typeof httpGet;
  /** Aborted on the first Ctrl-C: commands stop after the cloud request in flight. */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** The caller's public IPv4, suggested as the --allow-cidr default in the wizard. */
  lookupPublicIp(): Promise<string | undefined>;
  /** The process's own streams, for a command that hands the terminal to the instance (ssh). */
  terminal?: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };
  /** Program name for printed command lines. */
  program: string;
  /** Called after each workflow step's work and before the journal records it (the tests' fault seam). */
  afterStep?: (stepId: string) => void | Promise<void>;
  /** How often readiness and state waits poll, ms (default: each wait's own). */
  pollMs?: number;
  /** The provision scripts to use (default: the package's provision/). */
  provisionDir?: string;
  /** A name's IPv4 addresses, for `tls`'s DNS wait (default: node:dns resolve4; tests never query DNS). */
  resolveHost?: (name: string) => Promise<string[]>;
}
