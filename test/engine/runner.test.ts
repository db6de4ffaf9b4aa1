// The one step runner: the journal is saved around every step; on a re-run a finished step is
// restored from what it recorded, never run again; the fault seam fires after a step's work and
// before the journal records it.
import { describe, expect, it } from 'vitest';
import { getJournalValue, newJournal, putJournalValue, runWorkflow, type Step } from '../../src/engine/runner.js';
import type { Journal } from '../../src/state/store.js';
import { RecordingIo } from '../fakes/recording-io.js';
import { VirtualClock } from '../fakes/virtual-clock.js';

interface Ctx {
  ran: string[];
  instanceId?: string;
}

const steps = (): Step<Ctx>[] => [
  { id: 'a', title: 'Step A', run: async (c) => void c.ran.push('a') },
  {
    id: 'b',
    title: 'Step B',
    run: async (c) => {
      c.ran.push('b');
      c.instanceId = 'i-123';
      return { summary: 'made i-123', result: { instanceId: 'i-123' } };
    },
    restore: (c, r) => {
      c.instanceId = r.instanceId;
    },
  },
  { id: 'c', title: 'Step C', run: async (c) => void c.ran.push(`c with ${c.instanceId}`) },
];

describe('runWorkflow', () => {
  it('runs in order, saves the journal around each step and finishes it', async () => {
    const saved: Journal[] = [];
    const journal = newJournal('launch', 'j1');
    const ctx: Ctx = { ran: [] };
    const times = await runWorkflow(steps(), ctx, { journal, save: (j) => saved.push(structuredClone(j)), io: new RecordingIo(), clock: new VirtualClock() });
    expect(ctx.ran).toEqual(['a', 'b', 'c with i-123']);
    expect(times.map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(saved[0]!.steps.a!.status).toBe('started');
    expect(saved.at(-1)!.finishedAt).toBeDefined();
    expect(saved.at(-1)!.steps.b).toMatchObject({ status: 'done', result: { instanceId: 'i-123' } });
  });

  it('a re-run restores finished steps instead of running them, and re-runs the one that was interrupted', async () => {
    const journal = newJournal('upgrade', 'j2');
    const fault = new Error('killed');
    await expect(
      runWorkflow(steps(), { ran: [] }, { journal, save: () => undefined, io: new RecordingIo(), clock: new VirtualClock(), afterStep: (id) => { if (id === 'c') throw fault; } }),
    ).rejects.toBe(fault);
    expect(journal.steps.c!.status).toBe('started');
    const ctx: Ctx = { ran: [] };
    const times = await runWorkflow(steps(), ctx, { journal, save: () => undefined, io: new RecordingIo(), clock: new VirtualClock() });
    expect(ctx.ran).toEqual(['c with i-123']);
    expect(times.filter((t) => t.resumed).map((t) => t.id)).toEqual(['a', 'b']);
  });

  it('keeps values such as the plan beside the steps', () => {
    const journal = newJournal('upgrade', 'j3');
    putJournalValue(journal, 'plan', { to: '6.12.5040' });
    expect(getJournalValue<{ to: string }>(journal, 'plan')).toEqual({ to: '6.12.5040' });
    expect(getJournalValue(journal, 'other')).toBeUndefined();
  });

  it('an abort before a step stops with a resume hint', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runWorkflow(steps(), { ran: [] }, { journal: newJournal('x', 'j4'), save: () => undefined, io: new RecordingIo(), clock: new VirtualClock(), signal: controller.signal })).rejects.toMatchObject({ code: 'interrupted' });
  });
});
