// The shape of a command's definition: what commander registers (name, arguments, flags, help) and
// how the command runs (a dynamic import, so `--help` loads none of the commands). Definitions live
// in src/cli/commands/, one file per command; the CLI registers the list in src/cli/commands/index.ts.
import type { Deps } from '../commands/deps.js';
import type { FlagSet, FlagValues, GlobalFlags } from './flags.js';

/** The flags of a command that acts on a deployment (registered from `target`). */
export interface TargetFlagValues {
  cloud?: string;
  region?: string;
  name?: string;
}

/**
 * What a command receives: its own flags, the global ones, the target's (for commands with a
 * `target`), and the flags its clouds add (validated by the command).
 */
export type CommandFlags<F extends FlagSet> = FlagValues<F> & GlobalFlags & TargetFlagValues & {
  providerFlags?: Record<string, string>;
  /** What followed `--` on the command line, for a command that declares `passThrough`. */
  rest?: string[];
  /** The positional arguments, for a command that declares `nameFromOperands`. */
  operands?: string[];
};

export interface CommandDef<F extends FlagSet = FlagSet> {
  name: string;
  /** A subcommand of a command group (`disk grow`): the group's word and help line. */
  parent?: { name: string; description: string };
  /** "[name]" for the commands that act on one deployment. */
  args?: string;
  description: string;
  /** What -y/--yes means for this command. */
  yes: string;
  flags: F;
  /** Acts on deployments: adds --cloud and --region, and --name unless `name` is false. */
  target?: { name: string | false };
  /** Talks to a cloud: registers the flags the clouds declare for this command. */
  cloud: boolean;
  examples: string[];
  helpAfter?: string;
  isDefault?: boolean;
  /**
   * What Ctrl-C says for this command (default: a cloud request in flight is finished first). For a
   * command that holds something open until interrupted (kubeconfig's tunnel, logs --follow).
   */
  interruptMessage?: string;
  /** Takes everything after `--` as it is (ssh's remote command); its usage text, e.g. "[-- command…]". */

  passThrough?: string;
  /**
   * For a command whose arguments are an action and its operands (`config set prod a=1`): the
   * deployment name among them. The command then gets all of them as `operands`.
   */
  nameFromOperands?: (operands: string[]) => string | undefined;
  /** The process's exit code from the result (ssh passes on the remote command's); default 0. */
  exitCode?: (result: unknown) => number;
  run(deps: Deps, name: string | undefined, flags: CommandFlags<F>): Promise<unknown>;
}

export function defineCommand<F extends FlagSet>(def: CommandDef<F>): CommandDef<F> {
  return def;
}

/**
 * What -y/--yes means differs by command, so each command's help says what it does there. Off a
 * terminal (or with CI set) nothing ever asks: a command that would ask either goes ahead (launch)
 * or exits 2 unless -y is given (destroy and the commands that replace or remove things).
 */
export const YES = {
  root: 'never ask. launch then goes ahead without confirming; destroy, upgrade, rollback, restore, prune, config, executors enable, disk grow, scale and tls (a DNS change, --remove) need -y to act when not on a terminal or when CI is set (see each command\'s --help)',
  launch: 'launch without confirming the plan. Not on a terminal or with CI set, launch never asks anyway: a missing required value exits 2 naming its flag',
  destroy: 'delete without asking you to type the name. Required when not on a terminal or when CI is set: without it destroy exits 2 and deletes nothing',
  confirms: (verb: string) => `${verb} without asking for confirmation. Required when not on a terminal or when CI is set: without it the command exits 2 and changes nothing`,
  never: (command: string) => `accepted and ignored: ${command} never asks anything`,
} as const;

export const PROGRAM = 'sourcegraph-launch';

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
