// The one way a workflow's steps run: in order, the journal saved around every step, and on a
// re-run of an unfinished journal a step that finished before is restored from what it recorded,
// not run again (a re-run must not, say, stop an instance it already replaced). Steps are
// idempotent anyway, so a step that was interrupted mid-way simply runs again.
//
// Time comes from the injected clock; a test can stop the process right after a step's work and
// before the journal records it (the worst moment to lose power) through `afterStep`.
import { InterruptedError } from '../core/errors.js';
import type { Journal } from '../state/store.js';
import type { Io } from '../ui/io.js';
import type { Clock } from './clock.js';

export interface StepResult {
  summary?: string;
  /** What later steps, and a resumed run's restore, need (ids, addresses). */
  result?: Record<string, string>;
}

export interface Step<C> {
  id: string;
  title: string;
  run(ctx: C): Promise<StepResult | void>;
  /** Puts a finished step's recorded result back into the context on a resumed run. */
  restore?(ctx: C, result: Record<string, string>): void;
}

export interface StepTime {
  id: string;
  title: string;
  ms: number;
  /** Done by an earlier, interrupted run of the same command. */
  resumed?: boolean;
}

export interface RunOptions {
  journal: Journal;
  save(journal: Journal): void;
  io: Io;
  clock: Clock;
  signal?: AbortSignal;
  /** Called after a step's work and before the journal records it done (fault injection in tests). */
  afterStep?: (stepId: string) => void | Promise<void>;
}

export function newJournal(command: string, id: string, now = new Date()): Journal {
  return { id, command, startedAt: now.toISOString(), steps: {} };
}

/** Journal entries that are not steps (the saved plan) are kept under this prefix. */
const META = ':';

/** Which steps a previous attempt got through, for "resuming…" messages. */
export function describeResume(journal: Journal): string | undefined {
  const steps = Object.entries(journal.steps).filter(([id]) => !id.startsWith(META));
  const done = steps.filter(([, s]) => s.status === 'done').map(([id]) => id);
  const started = steps.filter(([, s]) => s.status === 'started').map(([id]) => id);
  if (!done.length && !started.length) return undefined;
  const parts = [];
  if (done.length) parts.push(`done before: ${done.join(', ')}`);
  if (started.length) parts.push(`interrupted during: ${started.join(', ')}`);
  return `Resuming the ${journal.command} started ${journal.startedAt} (${parts.join('; ')}); checking what exists first.`;
}

/** Keeps a value (the resolved plan) in the journal, so a resumed run follows it. */
export function putJournalValue(journal: Journal, key: string, value: unknown): void {
  journal.steps[`${META}${key}`] = { status: 'done', at: new Date().toISOString(), result: { json: JSON.stringify(value) } };
}

export function getJournalValue<T>(journal: Journal, key: string): T | undefined {
  const json = journal.steps[`${META}${key}`]?.result?.json;
  return json === undefined ? undefined : (JSON.parse(json) as T);
}

export async function runWorkflow<C>(steps: Step<C>[], ctx: C, opts: RunOptions): Promise<StepTime[]> {
  const { journal, save, io, signal, clock } = opts;
  const times: StepTime[] = [];
  for (const step of steps) {
    const previous = journal.steps[step.id];
    if (previous?.status === 'done') {
      step.restore?.(ctx, previous.result ?? {});
      times.push({ id: step.id, title: step.title, ms: 0, resumed: true });
      io.progress(step.title).succeed(`${step.title}: done before`);
      continue;
    }
    if (signal?.aborted) throw new InterruptedError(`Interrupted before "${step.title}"`, { remediation: 'Re-run the same command to resume.' });
    journal.steps[step.id] = { status: 'started', at: new Date(clock.now()).toISOString() };
    save(journal);
    const progress = io.progress(step.title);
    const started = clock.now();
    let outcome: StepResult | void;
    try {
      outcome = await step.run(ctx);
    } catch (e) {
      progress.fail(e instanceof Error ? e.message.split('\n')[0] : String(e));
      throw e;
    }
    await opts.afterStep?.(step.id);
    journal.steps[step.id] = { status: 'done', at: new Date(clock.now()).toISOString(), ...(outcome?.result ? { result: outcome.result } : {}) };
    save(journal);
    times.push({ id: step.id, title: step.title, ms: clock.now() - started });
    progress.succeed(outcome?.summary);
  }
  journal.finishedAt = new Date(clock.now()).toISOString();
  save(journal);
  return times;
}
