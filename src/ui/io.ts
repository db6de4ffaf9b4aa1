// The Io port. Commands and the engine never print or prompt directly: they call these.
// Two adapters: terminal (prompts with @inquirer/prompts, live progress) and CI (never prompts,
// plain timestamped lines). With --json, the single result goes to stdout and everything else
// to stderr.

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  disabled?: boolean | string;
}

export interface Progress {
  /** Latest observation for the running stage ("node NotReady", "HTTP 404"). */
  update(observation: string): void;
  /**
   * What the item ended with ("1.2.3.4", "interrupted"), without the title or the elapsed time:
   * the Io prints both itself, so repeating them would print them twice.
   */
  succeed(message?: string): void;
  fail(message?: string): void;
}

export interface Io {
  /** True when questions may be asked (a TTY, no CI, no --yes). */
  readonly interactive: boolean;
  readonly json: boolean;
  select<T>(q: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  input(q: { message: string; default?: string; validate?: (v: string) => string | true }): Promise<string>;
  confirm(q: { message: string; default?: boolean }): Promise<boolean>;
  /** Human-facing lines: stderr when --json, stdout otherwise. */
  info(message: string): void;
  warn(message: string): void;
  success(message: string): void;
  /** A slow step: elapsed time on a TTY, timestamped lines in CI. */
  progress(title: string): Progress;
  /** The command's result: printed as JSON on stdout with --json; ignored otherwise. */
  result(value: unknown): void;
  /**
   * A result printed while the command keeps running (kubeconfig's tunnel): one compact JSON line
   * on stdout with --json, so a caller can read it without waiting for the command to end.
   * Optional: where absent, result() is used.
   */
  resultLine?(value: unknown): void;
}
