// Typed errors with stable codes. The CLI maps `exitCode` to the process exit code and prints
// `message`, then `remediation` as the next step. Codes are part of the JSON contract.

export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  credentials: 3,
  timedOut: 4,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface LaunchErrorOptions {
  remediation?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class LaunchError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly remediation?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, exitCode: ExitCodeValue, message: string, opts: LaunchErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LaunchError';
    this.code = code;
    this.exitCode = exitCode;
    this.remediation = opts.remediation;
    this.details = opts.details;
  }
}

/** Bad or missing input: exit 2, always raised before any cloud call. */
export class UsageError extends LaunchError {
  constructor(message: string, opts: LaunchErrorOptions & { code?: string } = {}) {
    super(opts.code ?? 'bad-input', ExitCode.badInput, message, opts);
    this.name = 'UsageError';
  }
}

/** A required value was not given and we may not prompt for it. */
export class MissingInputError extends UsageError {
  constructor(flag: string, why = 'when not running interactively', opts: LaunchErrorOptions = {}) {
    super(`${flag} is required ${why}`, { code: 'missing-input', ...opts });
    this.name = 'MissingInputError';
  }
}

/** No usable credentials, or the identity lacks a permission: exit 3. */
export class CredentialsError extends LaunchError {
  constructor(message: string, opts: LaunchErrorOptions & { code?: string } = {}) {
    super(opts.code ?? 'credentials', ExitCode.credentials, message, opts);
    this.name = 'CredentialsError';
  }
}

/** A readiness stage did not finish in time; the resources exist: exit 4. */
export class WaitTimeoutError extends LaunchError {
  readonly stage: string;
  constructor(stage: string, message: string, opts: LaunchErrorOptions = {}) {
    super('wait-timeout', ExitCode.timedOut, message, { ...opts, details: { stage, ...opts.details } });
    this.name = 'WaitTimeoutError';
    this.stage = stage;
  }
}

/** The user pressed Ctrl-C (at a question or while a command runs): exit 130. */
export class InterruptedError extends LaunchError {
  constructor(message = 'Interrupted', opts: LaunchErrorOptions = {}) {
    super('interrupted', ExitCode.interrupted, message, opts);
    this.name = 'InterruptedError';
  }
}

/**
 * The user answered no at a confirmation, or typed another name at `destroy`: nothing was changed.
 * A decision, not an interruption, so exit 1 (130 is Ctrl-C only) and no `error:` prefix.
 */
export class DeclinedError extends LaunchError {
  constructor(message = 'Declined: nothing changed.', opts: LaunchErrorOptions = {}) {
    super('declined', ExitCode.failed, message, opts);
    this.name = 'DeclinedError';
  }
}

/** A cloud call failed for a reason other than credentials: exit 1. */
export class CloudError extends LaunchError {
  constructor(code: string, message: string, opts: LaunchErrorOptions = {}) {
    super(code, ExitCode.failed, message, opts);
    this.name = 'CloudError';
  }
}

export function isLaunchError(e: unknown): e is LaunchError {
  return e instanceof LaunchError;
}
