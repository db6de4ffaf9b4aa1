import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/core/errors.js';
import { describeResume, newJournal, runSteps, type Step } from '../../src/engine/steps.js';
import type { Journal } from '../../src/state/store.js';
import { RecordingIo } from '../fakes/recording-io.js';

describe('runSteps', () => {
  it('saves the journal before and after every step and marks the run finished', async () => {
    const saved: string[] = [];
    const journal = newJournal('launch', 'abc');
    const steps: Step<string[]>[] = ['one', 'two'].map((id) => ({
      id,
      title: `Step ${id}`,
      run: async (ctx) => {
        ctx.push(id);
        return { summary: `${id} ok`, result: { id } };
      },
    }));
    const ran: string[] = [];
    const io = new RecordingIo();
    await runSteps(steps, ran, { journal, io, save: (j) => saved.push(JSON.stringify(j.steps)) });
    expect(ran).toEqual(['one', 'two']);
    expect(saved.map((s) => Object.entries(JSON.parse(s) as Journal['steps']).map(([k, v]) => `${k}:${v.status}`).join(','))).toEqual([
      'one:started',
      'one:done',
      'one:done,two:started',
      'one:done,two:done',
      'one:done,two:done',
    ]);
    expect(journal.finishedAt).toBeDefined();
    expect(journal.steps.two!.result).toEqual({ id: 'two' });
    expect(io.outcomes('succeed')).toEqual([
      { title: 'Step one', message: 'one ok' },
      { title: 'Step two', message: 'two ok' },
    ]);
  });

  it('a failing step is reported, left "started" in the journal, and rethrown', async () => {
    const journal = newJournal('launch', 'abc');
    const io = new RecordingIo();
    const boom = new Error('AWS said no');
    await expect(
      runSteps([{ id: 'x', title: 'X', run: () => Promise.reject(boom) }], null, { journal, io, save: () => undefined }),
    ).rejects.toBe(boom);
    expect(journal.steps.x!.status).toBe('started');
    expect(journal.finishedAt).toBeUndefined();
    expect(io.outcomes('fail')).toEqual([{ title: 'X', message: 'AWS said no' }]);
    expect(describeResume(journal)).toMatch(/^Resuming the launch started .* \(interrupted during: x\)/);
  });

  it('stops between steps once interrupted', async () => {
    const controller = new AbortController();
    const journal = newJournal('launch', 'abc');
    const ran: string[] = [];
    const steps: Step<null>[] = [
      { id: 'a', title: 'A', run: async () => void (ran.push('a'), controller.abort()) },
      { id: 'b', title: 'B', run: async () => void ran.push('b') },
    ];
    const err = await runSteps(steps, null, { journal, io: new RecordingIo(), save: () => undefined, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(130);
    expect(ran).toEqual(['a']);
    expect(describeResume(journal)).toMatch(/done before: a/);
  });

  it('nothing to resume in a fresh journal', () => {
    expect(describeResume(newJournal('launch', 'x'))).toBeUndefined();
  });
});
