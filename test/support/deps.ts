// Deps for running commands in-process against moto: a real state store in a temp home, the real
// AWS adapter pointed at the emulator, and an Io that records output and answers prompts from a script.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cloud } from '../../src/cloud/port.js';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import type { Deps } from '../../src/commands/deps.js';
import type { Io } from '../../src/ui/io.js';
import { systemClock } from '../../src/engine/clock.js';
import { httpGet } from '../../src/engine/http-probe.js';
import { connectSsh2 } from '../../src/remote/ssh2-remote.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { RecordingIo } from '../fakes/recording-io.js';

export interface Question {
  kind: 'select' | 'input' | 'confirm';
  message: string;
  default?: unknown;
  choices?: unknown[];
}

/** A RecordingIo that is interactive and answers each question with the next scripted answer. */
export class ScriptedIo extends RecordingIo {
  override readonly interactive: boolean;
  readonly questions: Question[] = [];
  private readonly answers: Array<(q: Question) => unknown>;

  constructor(answers: Array<unknown | ((q: Question) => unknown)>, interactive = true) {
    super();
    this.interactive = interactive;
    this.answers = answers.map((a) => (typeof a === 'function' ? (a as (q: Question) => unknown) : () => a));
  }

  private answer<T>(q: Question): Promise<T> {
    this.questions.push(q);
    const next = this.answers.shift();
    if (!next) return Promise.reject(new Error(`unexpected question: ${q.message}`));
    return Promise.resolve(next(q) as T);
  }

  override select<T>(q: { message: string; choices: { value: T }[]; default?: T }): Promise<T> {
    return this.answer({ kind: 'select', message: q.message, default: q.default, choices: q.choices.map((c) => c.value) });
  }
  override input(q: { message: string; default?: string }): Promise<string> {
    return this.answer({ kind: 'input', message: q.message, default: q.default });
  }
  override confirm(q: { message: string; default?: boolean }): Promise<boolean> {
    return this.answer({ kind: 'confirm', message: q.message, default: q.default });
  }

  text(): string {
    return this.events.map((e) => ('message' in e && e.message ? e.message : '')).join('\n');
  }
}

export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'sgl-deps-'));
}

export function makeDeps(opts: {
  endpoint: string;
  io: Io;
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Lets a test wrap the real adapter, e.g. to inject an error AWS would return. */
  wrapCloud?: (cloud: Cloud) => Cloud;
  publicIp?: string;
  /** Replaces the HTTP probe: for instances whose address (moto's) must never be contacted. */
  httpGet?: Deps['httpGet'];
  /** The tests' step hook (fault injection). */
  afterStep?: Deps['afterStep'];
  provisionDir?: string;
}): Deps {
  const controller = new AbortController();
  return {
    io: opts.io,
    state: new FileStateStore(opts.home ?? tempHome()),
    connect: async (_provider, scope) => {
      const cloud = createAwsAdapter(scope, { endpoint: opts.endpoint, env: { ...process.env, ...opts.env }, pollIntervalMs: 100 });
      return opts.wrapCloud ? opts.wrapCloud(cloud) : cloud;
    },
    connectRemote: connectSsh2,
    clock: systemClock,
    httpGet: opts.httpGet ?? httpGet,
    signal: controller.signal,
    env: { ...opts.env },
    pollMs: 100,
    lookupPublicIp: async () => opts.publicIp,
    program: 'sourcegraph-launch',
    ...(opts.afterStep ? { afterStep: opts.afterStep } : {}),
    ...(opts.provisionDir ? { provisionDir: opts.provisionDir } : {}),
  };
}
