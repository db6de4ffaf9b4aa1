// A clock whose time only moves when the code under test sleeps: a sleep jumps virtual time
// forward at once, so a 20-minute stage timeout or a 90 s hold runs in milliseconds.
import { abortError, type Clock } from '../../src/engine/clock.js';

export class VirtualClock implements Clock {
  readonly origin: number;
  private current: number;
  /** Every sleep asked for, in order (ms). */
  readonly sleeps: number[] = [];

  constructor(
    origin = Date.UTC(2026, 1, 19, 12, 0, 0),
    /** Runaway guard: a wait that never ends fails the test instead of spinning forever. */
    private readonly maxSleeps = 10_000,
  ) {
    this.origin = origin;
    this.current = origin;
  }

  now(): number {
    return this.current;
  }

  /** Virtual milliseconds since the clock was made. */
  elapsed(): number {
    return this.current - this.origin;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    if (this.sleeps.length >= this.maxSleeps) throw new Error(`VirtualClock: more than ${this.maxSleeps} sleeps`);
    this.sleeps.push(ms);
    this.current += ms;
    // Yield to real I/O (loopback servers, timers) so the code under test sees their progress.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw abortError(signal);
  }
}
