// Runs a command's steps one at a time, saving the journal around every step. Steps are
// idempotent (they look up by tag before creating), so every step runs on every attempt: a step
// the journal says is done is re-checked against the cloud, which is the source of truth.
import { InterruptedError } from '../core/errors.js';
import type { Journal } from '../state/store.js';
import type { Io } from '../ui/io.js';

export interface Step<C> {
  id: string;
  title: string;
  run(ctx: C): Promise<{ summary?: string; result?: Record<string, string> } | void>;
}

export interface RunStepsOptions {
  journal: Journal;
  save(journal: Journal): void;
  io: Io;
  signal?: AbortSignal;
  /**
   * Fault injection for crash tests: "after:<step>" kills the process with SIGKILL once the step's
   * cloud work returned but before the journal records it done — the worst moment to lose power.
   */
  fault?: string;
}

export function newJournal(command: string, id: string, now = new Date()): Journal {
  return { id, command, startedAt: now.toISOString(), steps: {} };
}

/** Which steps a previous attempt got through, for "resuming…" messages. */
export function describeResume(journal: Journal): string | undefined {
  const done = Object.entries(journal.steps).filter(([, s]) => s.status === 'done').map(([id]) => id);
  const started = Object.entries(journal.steps).filter(([, s]) => s.status === 'started').map(([id]) => id);
  if (!done.length && !started.length) return undefined;
  const parts = [];
  if (done.length) parts.push(`done before: ${done.join(', ')}`);
  if (started.length) parts.push(`interrupted during: ${started.join(', ')}`);
  return `Resuming the ${journal.command} started ${journal.startedAt} (${parts.join('; ')}); checking what exists first.`;
}

export async function runSteps<C>(steps: Step<C>[], ctx: C, opts: RunStepsOptions): Promise<void> {
  const { journal, save, io, signal } = opts;
  for (const step of steps) {
    if (signal?.aborted) throw new InterruptedError(`Interrupted before "${step.title}"`, { remediation: 'Re-run the same command to resume.' });
    journal.steps[step.id] = { status: 'started', at: new Date().toISOString(), result: journal.steps[step.id]?.result };
    save(journal);
    const progress = io.progress(step.title);
    let outcome: Awaited<ReturnType<Step<C>['run']>>;
    try {
      outcome = await step.run(ctx);
    } catch (e) {
      progress.fail(e instanceof Error ? e.message.split('\n')[0] : String(e));
      throw e;
    }
    if (opts.fault === `after:${step.id}`) process.kill(process.pid, 'SIGKILL');
    journal.steps[step.id] = { status: 'done', at: new Date().toISOString(), result: outcome?.result };
    save(journal);
    progress.succeed(outcome?.summary);
  }
  journal.finishedAt = new Date().toISOString();
  save(journal);
}
