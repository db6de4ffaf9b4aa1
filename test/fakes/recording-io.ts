// An Io that never prompts and records what the code under test reported, in order.
import type { Io, Progress } from '../../src/ui/io.js';

export type IoEvent =
  | { kind: 'progress'; title: string }
  | { kind: 'update'; title: string; observation: string }
  | { kind: 'succeed'; title: string; message?: string }
  | { kind: 'fail'; title: string; message?: string }
  | { kind: 'info' | 'warn' | 'success'; message: string }
  | { kind: 'result'; value: unknown };

export class RecordingIo implements Io {
  readonly interactive: boolean = false;
  readonly json = false;
  readonly events: IoEvent[] = [];

  progress(title: string): Progress {
    this.events.push({ kind: 'progress', title });
    return {
      update: (observation) => this.events.push({ kind: 'update', title, observation }),
      succeed: (message) => this.events.push({ kind: 'succeed', title, message }),
      fail: (message) => this.events.push({ kind: 'fail', title, message }),
    };
  }

  info(message: string): void {
    this.events.push({ kind: 'info', message });
  }
  warn(message: string): void {
    this.events.push({ kind: 'warn', message });
  }
  success(message: string): void {
    this.events.push({ kind: 'success', message });
  }
  result(value: unknown): void {
    this.events.push({ kind: 'result', value });
  }

  select<T>(q: { message: string }): Promise<T> {
    return Promise.reject(new Error(`RecordingIo cannot answer select: ${q.message}`));
  }
  input(q: { message: string }): Promise<string> {
    return Promise.reject(new Error(`RecordingIo cannot answer input: ${q.message}`));
  }
  confirm(q: { message: string }): Promise<boolean> {
    return Promise.reject(new Error(`RecordingIo cannot answer confirm: ${q.message}`));
  }

  /** Titles of progress items, in the order they started. */
  progressTitles(): string[] {
    return this.events.flatMap((e) => (e.kind === 'progress' ? [e.title] : []));
  }

  /** Observations reported for progress items whose title contains `titlePart`. */
  updates(titlePart = ''): string[] {
    return this.events.flatMap((e) => (e.kind === 'update' && e.title.includes(titlePart) ? [e.observation] : []));
  }

  outcomes(kind: 'succeed' | 'fail'): { title: string; message?: string }[] {
    return this.events.flatMap((e) => (e.kind === kind ? [{ title: e.title, message: e.message }] : []));
  }
}
