// What commands get injected: nothing here is imported for its side effects, so tests build
// their own Deps (moto-backed cloud, a recording Io, a temp state home) and call commands directly.
import type { CloudFactory } from '../cloud/cloud.js';
import type { Clock } from '../engine/clock.js';
import type { httpGet } from '../engine/http-probe.js';
import type { ConnectRemote } from '../remote/remote.js';
import type { StateStore } from '../state/store.js';
import type { Io } from '../ui/io.js';

export interface GlobalFlags {
  json?: boolean;
  yes?: boolean;
  profile?: string;
}

export interface Deps {
  io: Io;
  state: StateStore;
  cloud: CloudFactory;
  connectRemote: ConnectRemote;
  clock: Clock;
  httpGet: typeof httpGet;
  /** Aborted on the first Ctrl-C: commands stop after the cloud request in flight. */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** The caller's public IPv4, suggested as the --allow-cidr default in the wizard. */
  lookupPublicIp(): Promise<string | undefined>;
  /** Program name for printed command lines. */
  program: string;
}
