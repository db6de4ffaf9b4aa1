// Every flag is declared once, here or in a command's definition (src/cli/commands/) or in a cloud's
// descriptor (src/cloud/<provider>/provider.ts): its spec, help and kind. The CLI registers the
// declarations with commander, and the commands' flag types are derived from the same declarations,
// so a flag cannot be registered under one name and read under another.
import { Option } from 'commander';

export type FlagKind = 'string' | 'list' | 'boolean' | 'negatable';

export interface FlagDecl<K extends FlagKind = FlagKind> {
  /** commander's spec: "--region <region>", "-y, --yes", "--no-wait". */
  spec: string;
  help: string;
  kind: K;
  /** commander refuses the command without it. */
  required?: boolean;
  /** Not listed in --help (accepted all the same). */
  hidden?: boolean;
}

export type FlagSet = Record<string, FlagDecl>;

/** The parsed values of a flag set: strings, lists of strings, booleans; absent when not given. */
export type FlagValues<F extends FlagSet> = {
  [K in keyof F]?: F[K]['kind'] extends 'list' ? string[] : F[K]['kind'] extends 'string' ? string : boolean;
};

export const str = (spec: string, help: string, extra: { required?: boolean; hidden?: boolean } = {}): FlagDecl<'string'> => ({ spec, help, kind: 'string', ...extra });
export const list = (spec: string, help: string): FlagDecl<'list'> => ({ spec, help, kind: 'list' });
export const bool = (spec: string, help: string): FlagDecl<'boolean'> => ({ spec, help, kind: 'boolean' });
/** "--no-wait": the value is `wait`, true unless the flag is given. */
export const negatable = (spec: string, help: string): FlagDecl<'negatable'> => ({ spec, help, kind: 'negatable' });

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The commander option of a declaration; its attribute name must be the declaration's key. */
export function toOption(key: string, decl: FlagDecl): Option {
  const option = new Option(decl.spec, decl.help);
  if (decl.kind === 'list') option.argParser(collect);
  if (decl.required) option.makeOptionMandatory(true);
  if (decl.hidden) option.hideHelp(true);
  const attribute = option.attributeName();
  if (attribute !== key) throw new Error(`flag ${decl.spec} is declared under "${key}" but parses as "${attribute}"`);
  return option;
}

// ---- flags every command takes ----

export const globalFlags = {
  json: bool('--json', 'print one JSON result on stdout (progress goes to stderr)'),
} satisfies FlagSet;

export interface GlobalFlags {
  json?: boolean;
  yes?: boolean;
}

/** The flags of the commands that act on one deployment (or, for list, on a region). */
export const targetFlags = {
  cloud: str('--cloud <cloud>', 'cloud provider (default: the deployment\'s, else aws)'),
  region: str('--region <region>', 'region (default: from the local record, else the cloud\'s region variable, e.g. AWS_REGION)'),
} satisfies FlagSet;

export const NAME_HELP = 'the deployment, the same as the [name] argument (default: the only deployment recorded on this machine, else sourcegraph)';

export const forceUnlockFlag = bool(
  '--force-unlock',
  'clear another run\'s in-progress marker on the deployment (only when you know that run is gone); names what it clears',
);

/** How `config`, `executors enable` and `disk grow` reach the instance (commands/instance-access.ts: openChannel). */
export const viaFlag = str(
  '--via <ssh|run-command>',
  'reach the instance over SSH, or through the cloud\'s run-command channel with no open port (Azure Run Command, AWS Systems Manager, our agent on GCE) (default: SSH when it is open and answers, else run-command)',
);
