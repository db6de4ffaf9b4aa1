// Io adapters. `interactive` decides whether questions may be asked; a non-interactive Io throws
// instead of prompting, so CI never hangs on a question. Progress on a TTY is one live line with
// the elapsed time; elsewhere it is plain timestamped lines (readable in CI logs).
import chalk from 'chalk';
import { InterruptedError, UsageError } from '../core/errors.js';
import type { Choice, Io, Progress } from './io.js';

export interface ConsoleIoOptions {
  interactive: boolean;
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** Where answers are read from (default process.stdin): a test can type into a stream of its own. */
  stdin?: NodeJS.ReadableStream;
  now?: () => number;
}

/**
 * A yes/no answer: y, yes, n or no in any case; an empty answer takes the default. Anything else is
 * not an answer (undefined), so the question is asked again: a stray word such as "wiztest" must
 * never count as yes (inquirer's own confirm treats every unrecognised text as the default).
 */
export function parseYesNo(answer: string, fallback?: boolean): boolean | undefined {
  const a = answer.trim().toLowerCase();
  if (a === '') return fallback;
  if (a === 'y' || a === 'yes') return true;
  if (a === 'n' || a === 'no') return false;
  return undefined;
}

function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class ConsoleIo implements Io {
  readonly interactive: boolean;
  readonly json: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly err: NodeJS.WriteStream;
  private readonly in?: NodeJS.ReadableStream;
  private readonly now: () => number;

  constructor(opts: ConsoleIoOptions) {
    this.interactive = opts.interactive;
    this.json = opts.json;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.in = opts.stdin;
    this.now = opts.now ?? Date.now;
  }

  /** Prompts draw on stderr, so stdout stays clean for --json and pipes. */
  private get context() {
    return this.in ? { input: this.in, output: this.err } : { output: this.err };
  }

  /** Human-facing text: stdout normally, stderr when stdout is reserved for --json. */
  private get human(): NodeJS.WriteStream {
    return this.json ? this.err : this.out;
  }

  private get live(): boolean {
    return Boolean(this.human.isTTY) && !process.env.CI;
  }

  private noPrompt(message: string): never {
    // Commands resolve every value before asking; reaching here means a question has no flag.
    throw new UsageError(`Cannot ask "${message}" when not running interactively`);
  }

  /** Ctrl-C at a question cancels the command before anything was changed. */
  private async ask<T>(message: string, prompt: () => Promise<T>): Promise<T> {
    if (!this.interactive) this.noPrompt(message);
    try {
      return await prompt();
    } catch (e) {
      if (e instanceof Error && e.name === 'ExitPromptError') throw new InterruptedError('Cancelled at a question; nothing was changed.');
      throw e;
    }
  }

  select<T>(q: { message: string; choices: Choice<T>[]; default?: T }): Promise<T> {
    return this.ask(q.message, async () => {
      const { select } = await import('@inquirer/prompts');
      return select<T>({ message: q.message, choices: q.choices, default: q.default, pageSize: 12 }, this.context);
    });
  }

  input(q: { message: string; default?: string; validate?: (v: string) => string | true }): Promise<string> {
    return this.ask(q.message, async () => {
      const { input } = await import('@inquirer/prompts');
      return input({ message: q.message, default: q.default, validate: q.validate }, this.context);
    });
  }

  /** Asks until the answer is yes or no (see parseYesNo); Enter alone takes the default. */
  confirm(q: { message: string; default?: boolean }): Promise<boolean> {
    return this.ask(q.message, async () => {
      const { input } = await import('@inquirer/prompts');
      const hint = q.default === undefined ? '(y/n)' : q.default ? '(Y/n)' : '(y/N)';
      const answer = await input(
        {
          message: `${q.message} ${hint}`,
          validate: (v) => parseYesNo(v, q.default) !== undefined || `Please answer y or n${q.default === undefined ? '' : ` (Enter alone means ${q.default ? 'yes' : 'no'})`}.`,
          // Once answered, show what it was taken as.
          transformer: (v, { isFinal }) => (isFinal ? chalk.cyan(parseYesNo(v, q.default) ? 'Yes' : 'No') : v),
          // A rejected answer is cleared, so the next one is typed afresh.
          theme: { validationFailureMode: 'clear' },
        },
        this.context,
      );
      return parseYesNo(answer, q.default)!;
    });
  }

  info(message: string): void {
    this.human.write(`${message}\n`);
  }

  warn(message: string): void {
    this.err.write(`${chalk.yellow('warning:')} ${message}\n`);
  }

  success(message: string): void {
    this.human.write(`${chalk.green('✔')} ${message}\n`);
  }

  progress(title: string): Progress {
    const started = this.now();
    const out = this.human;
    let observation = '';
    let finished = false;
    const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (!this.live) {
      out.write(`[${stamp()}] ${title}…\n`);
      return {
        update: (o) => {
          if (finished || o === observation) return;
          observation = o;
          out.write(`[${stamp()}] ${title}: ${o}\n`);
        },
        succeed: (m) => {
          if (finished) return;
          finished = true;
          out.write(`[${stamp()}] ${title}: ${m ?? 'done'} (${formatElapsed(this.now() - started)})\n`);
        },
        fail: (m) => {
          if (finished) return;
          finished = true;
          out.write(`[${stamp()}] ${title}: FAILED${m ? `: ${m}` : ''} (${formatElapsed(this.now() - started)})\n`);
        },
      };
    }
    const render = () => {
      const line = `${chalk.cyan('…')} ${title} ${chalk.dim(formatElapsed(this.now() - started))}${observation ? chalk.dim(` · ${observation}`) : ''}`;
      out.write(`\r\x1b[K${line}`);
    };
    render();
    const timer = setInterval(render, 1000);
    timer.unref();
    const end = (symbol: string, text: string) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      out.write(`\r\x1b[K${symbol} ${title} ${chalk.dim(`(${formatElapsed(this.now() - started)})`)}${text ? ` ${text}` : ''}\n`);
    };
    return {
      update: (o) => {
        observation = o;
        if (!finished) render();
      },
      succeed: (m) => end(chalk.green('✔'), m ?? ''),
      fail: (m) => end(chalk.red('✖'), m ?? ''),
    };
  }

  result(value: unknown): void {
    if (this.json) this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  resultLine(value: unknown): void {
    if (this.json) this.out.write(`${JSON.stringify(value)}\n`);
  }
}
