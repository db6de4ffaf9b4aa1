// Entry point: parse argv → run a command → render the result or error → exit code. The only
// module that touches process.argv and process.exitCode. Commands are registered from their
// definitions (src/cli/commands/), flags from their declarations (src/cli/flags.ts and each
// cloud's descriptor); commands, the engine, SDKs and prompts load with dynamic imports so
// `--help` and `--version` stay fast.
import { Command, CommanderError, Help, Option } from 'commander';
import type { CommandDef } from './cli/command.js';
import { examples, PROGRAM, YES } from './cli/command.js';
import { regionVariables } from './cli/cloud-text.js';
import { COMMANDS } from './cli/commands/index.js';
import { bool, NAME_HELP, str, toOption, type FlagDecl, type FlagSet, type GlobalFlags } from './cli/flags.js';
import { availableProviders } from './cloud/providers.js';
import type { ProviderDescriptor, ProviderFlag } from './cloud/provider.js';
import type { Deps } from './commands/deps.js';
import { oneName } from './commands/target.js';
import { ExitCode, isLaunchError, LaunchError, UsageError } from './core/errors.js';
import { suggestSimilar } from './core/suggest.js';

// Replaced at build time (scripts/build.mjs) and in tests (vitest.config.ts) with package.json's version.
declare const __SGL_VERSION__: string;
const VERSION = __SGL_VERSION__;

export interface CliStreams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/**
 * What a test harness may give the CLI instead of the real thing: a step hook (the fault seam),
 * shorter polls, its own provision scripts, no public-IP lookup. Production passes none; no
 * production module reads a test-only environment variable.
 */
export type CliOverrides = Partial<Pick<Deps, 'afterStep' | 'pollMs' | 'provisionDir' | 'lookupPublicIp' | 'connect' | 'resolveHost'>>;

/** The exit-code table, as README.md has it (a test compares the two). */
const EXIT_CODES = `Exit codes:
  0    ok (also: destroy --ignore-missing of a deployment that does not exist)
  1    failed; a deployment that does not exist (status, destroy, ssh, logs, kubeconfig, config, tls); a confirmation
       answered no or a wrong name typed at destroy ("nothing changed")
  2    bad input: unknown command or option, a bad or missing value, a refused combination;
       always before anything changes
  3    credentials or permissions
  4    timed out waiting: the resources exist, re-run the same command to resume
  130  interrupted (Ctrl-C)
`;

/** The provider flags every command takes (a profile): they may come before the command word. */
function rootProviderFlags(): ProviderFlag[] {
  return uniqueFlags((f) => f.commands === 'all');
}

/**
 * Each flag once. A flag two clouds share (--kms-key) is registered once with each cloud's help
 * ("aws: … · gcp: …"); each cloud still validates it its own way.
 */
function uniqueFlags(wanted: (f: ProviderFlag) => boolean): ProviderFlag[] {
  const byKey = new Map<string, { id: string; flag: ProviderFlag }[]>();
  for (const p of availableProviders()) for (const flag of p.flags.filter(wanted)) byKey.set(flag.key, [...(byKey.get(flag.key) ?? []), { id: p.id, flag }]);
  return [...byKey.values()].map((owners) => {
    if (owners.length === 1) return owners[0]!.flag;
    const merged = (help: (f: ProviderFlag) => string) => owners.map((o) => `${o.id}: ${help(o.flag)}`).join(' · ');
    const commands = [...new Set(owners.flatMap((o) => Object.keys(o.flag.onCommand ?? {})))];
    return {
      ...owners[0]!.flag,
      help: merged((f) => f.help),
      ...(commands.length ? { onCommand: Object.fromEntries(commands.map((c) => [c, { ...(owners[0]!.flag.onCommand?.[c]?.spec ? { spec: owners[0]!.flag.onCommand[c]!.spec } : {}), help: merged((f) => f.onCommand?.[c]?.help ?? f.help) }])) } : {}),
    };
  });
}

/** The flags the clouds declare for a command, once each. */
function providerFlagsOf(command: string): ProviderFlag[] {
  return uniqueFlags((f) => f.commands === 'all' || f.commands.includes(command));
}

/**
 * The first argument that is not one of the root's own options: the command word when it does not
 * start with "-", else undefined (a flags-only run, which is `launch`).
 */
function commandWord(argv: string[]): string | undefined {
  const valued = rootProviderFlags().filter((f) => f.spec.includes('<')).map((f) => f.spec.split(' ')[0]!);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json' || a === '-y' || a === '--yes' || valued.some((v) => a.startsWith(`${v}=`))) continue;
    if (valued.includes(a)) {
      i++;
      continue;
    }
    return a.startsWith('-') ? undefined : a;
  }
  return undefined;
}

function unknownCommand(word: string, known: string[]): UsageError {
  const like = suggestSimilar(word, known);
  return new UsageError(`unknown command '${word}'${like ? ` — did you mean '${like}'?` : ''}`, {
    code: 'unknown-command',
    remediation: `\`${PROGRAM} --help\` lists the commands; flags alone (or nothing at all) run \`launch\`.`,
  });
}

function addGlobals(cmd: Command, yes: string, command: string | undefined): Command {
  cmd.addOption(toOption('json', bool('--json', 'print one JSON result on stdout (progress goes to stderr)')));
  cmd.addOption(toOption('yes', bool('-y, --yes', yes)));
  for (const f of command === undefined ? rootProviderFlags() : []) cmd.addOption(providerOption(f, undefined));
  return cmd;
}

function providerOption(f: ProviderFlag, command: string | undefined): Option {
  const special = command ? f.onCommand?.[command] : undefined;
  const decl: FlagDecl = str(special?.spec ?? f.spec, special?.help ?? f.help);
  return toOption(f.key, decl);
}

function addFlags(cmd: Command, flags: FlagSet): void {
  for (const [key, decl] of Object.entries(flags)) cmd.addOption(toOption(key, decl));
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env, streams: CliStreams = process, overrides: CliOverrides = {}): Promise<number> {
  // `--version` alone is the tool's version; `launch --version 6.12.5040` is Sourcegraph's.
  const bare = argv.filter((a) => a !== '--json');
  if (bare.length === 1 && (bare[0] === '--version' || bare[0] === '-V')) {
    streams.stdout.write(argv.includes('--json') ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`);
    return ExitCode.ok;
  }

  let exitCode: number = ExitCode.ok;
  let json = argv.includes('--json');
  const controller = new AbortController();

  const execute = async (globals: GlobalFlags, fn: (deps: Deps) => Promise<unknown>, interruptMessage?: string) => {
    json = Boolean(globals.json);
    const deps = await createDeps(globals, env, streams, controller, overrides);
    let interrupts = 0;
    const onSigint = () => {
      // Every SIGINT is the user's: nothing else in the process hooks or re-raises signals
      // (state files are written without a signal-handling library, see state/file-store.ts).
      interrupts++;
      if (interrupts > 1) {
        streams.stderr.write('\nStopped at once. Re-run the same command to resume; it checks what exists first.\n');
        process.exit(ExitCode.interrupted);
      }
      streams.stderr.write(`\n${interruptMessage ?? 'Interrupted: finishing the cloud request in flight, then stopping'} (Ctrl-C again quits at once).\n`);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    try {
      await fn(deps);
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  };

  const clouds = availableProviders().map((p) => p.displayName).join(', ');
  const program = new Command(PROGRAM)
    .description(
      `Launch and look after a self-hosted Sourcegraph instance on your own cloud account (${clouds}): one VM running k3s with ` +
        'Sourcegraph installed by Helm, all state on a separate, encrypted data volume. ' +
        'Run with no arguments for a wizard; every question also has a flag, so CI can run it non-interactively.',
    )
    .usage('[command] [options]')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    })
    .addHelpText(
      'after',
      examples([
        `${PROGRAM}                                       # the wizard`,
        `${PROGRAM} launch --region us-east-1 --size S --allow-cidr 203.0.113.0/24 --yes`,
        `${PROGRAM} status sourcegraph --region us-east-1`,
        `${PROGRAM} logs sourcegraph --region us-east-1 --pods`,
        `${PROGRAM} ssh sourcegraph --region us-east-1 -- sudo journalctl -u k3s -n 20`,
        `${PROGRAM} destroy sourcegraph --region us-east-1`,
      ]) +
        `\n${EXIT_CODES}` +
        `ssh … -- command exits with the remote command's exit status instead.\n\n` +
        `With --json, a failure is {"error": {"code", "message", "exitCode", "remediation"}} on stdout (code "declined" for a no).\n` +
        `\nState (keys, host-key pins, journals) lives in ~/.config/${PROGRAM}; set SOURCEGRAPH_LAUNCH_HOME to move it.\n` +
        `Other endpoints: AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_EC2 (an EC2-compatible API); AZURE_RESOURCE_MANAGER_ENDPOINT\n` +
        `and AZURE_AUTHORITY_HOST (another Azure cloud's resource manager and sign-in, e.g. a sovereign cloud or Azure Stack; https only).\n`,
    );

  // `-V, --version` is handled before parsing (see the top of run): commander's .version() would
  // take `--version` from every command, and `launch --version x.y.z` is Sourcegraph's version.
  // The help lists it with the other options all the same.
  program.configureHelp({
    // Every command has options, built only when it runs (see below): list each as `name [options] …`.
    subcommandTerm(cmd: Command) {
      const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`)).join(' ');
      // A group (`disk`) takes a subcommand, not options.
      if (cmd.commands.length) return `${cmd.name()} <${cmd.commands.map((c) => c.name()).join('|')}> …`;
      const options = complete.has(cmd) || cmd.options.length ? ' [options]' : '';
      return `${cmd.name()}${cmd.aliases()[0] ? `|${cmd.aliases()[0]}` : ''}${options}${args ? ` ${args}` : ''}`;
    },
    visibleOptions(this: Help, cmd: Command) {
      const options = Help.prototype.visibleOptions.call(this, cmd);
      if (cmd !== program) return options;
      const version = new Option('-V, --version', `print the version of ${PROGRAM} (\`launch --version x.y.z\` picks Sourcegraph's)`);
      const help = options.findIndex((o) => o.long === '--help');
      return help < 0 ? [...options, version] : [...options.slice(0, help), version, ...options.slice(help)];
    },
  });

  addGlobals(program, YES.root, undefined);
  const known = () => program.commands.flatMap((c) => [c.name(), ...c.aliases()]).concat('help');
  const word = commandWord(argv);
  // `ssh prod -- ls -la`: what follows `--` is the remote command, never parsed as our options.
  const passing = COMMANDS.find((d) => d.name === word && d.passThrough);
  const dashes = passing ? argv.indexOf('--') : -1;
  const rest = dashes >= 0 ? argv.slice(dashes + 1) : undefined;
  const parsed = dashes >= 0 ? argv.slice(0, dashes) : argv;
  const setExit = (code: number) => {
    exitCode = code;
  };
  // Every command is listed (name, arguments, description), but its options, help text and action
  // are built only for the command that runs or whose help is asked for: building all of them was
  // most of what `--help` cost. Commander calls preSubcommand before it parses a command's
  // arguments, so whatever command it dispatches to is complete by then.
  const complete = new Map<Command, () => void>();
  for (const def of COMMANDS) {
    // A subcommand (`disk grow`) hangs under its group's command, made by the first of its
    // subcommands; dispatching to the group (or `help disk`) completes all of them.
    let parent = program;
    if (def.parent) {
      const existing = program.commands.find((c) => c.name() === def.parent!.name);
      parent = existing ?? program.command(def.parent.name).description(def.parent.description);
      const group = parent;
      if (!existing) {
        complete.set(group, () => {
          complete.delete(group);
          for (const sub of group.commands) complete.get(sub)?.();
        });
      }
    }
    const cmd = parent.command(`${def.name}${def.args ? ` ${def.args}` : ''}`, def.isDefault ? { isDefault: true } : {}).description(def.description);
    complete.set(cmd, () => {
      complete.delete(cmd);
      register(cmd, def, { explicitLaunch: word === 'launch', known, execute, rest: def === passing ? rest : undefined, setExit });
    });
  }
  const completeNamed = (name: string | undefined) => {
    const cmd = program.commands.find((c) => c.name() === name);
    if (cmd) complete.get(cmd)?.();
  };
  program.hook('preSubcommand', (_program, sub) => complete.get(sub)?.());

  try {
    // Commander would hand a mistyped command to the default command as its argument.
    if (word !== undefined && !known().includes(word)) throw unknownCommand(word, known());
    const helpFor = word === 'help' ? argv[argv.indexOf('help') + 1] : undefined;
    if (helpFor !== undefined && !helpFor.startsWith('-') && !known().includes(helpFor)) throw unknownCommand(helpFor, known());
    // `help <command>` shows that command's help without dispatching to it.
    completeNamed(helpFor);
    await program.parseAsync(parsed, { from: 'user' });
  } catch (e) {
    exitCode = renderError(e, json, streams);
  }
  return exitCode;
}

function register(
  cmd: Command,
  def: CommandDef,
  ctx: {
    explicitLaunch: boolean;
    known: () => string[];
    execute: (globals: GlobalFlags, fn: (deps: Deps) => Promise<unknown>, interruptMessage?: string) => Promise<void>;
    rest: string[] | undefined;
    setExit: (code: number) => void;
  },
): void {
  if (def.passThrough) cmd.usage(`${def.args ? `${def.args} ` : ''}[options] ${def.passThrough}`);
  addFlags(cmd, def.flags);
  if (def.target) {
    if (def.target.name !== false) cmd.addOption(toOption('name', str('--name <name>', def.target.name === 'default' ? NAME_HELP : def.target.name)));
    cmd.addOption(toOption('cloud', str('--cloud <cloud>', 'cloud provider (default: the deployment\'s, else aws)')));
    cmd.addOption(toOption('region', str('--region <region>', `region (default: from the local record, else ${regionVariables()})`)));
  }
  const aliases = def.target || 'region' in def.flags ? regionAliases() : [];
  for (const a of aliases) cmd.addOption(toOption(a.key, str(`${a.flag} <region>`, `the same as --region (${a.clouds.map((p) => p.displayName).join(', ')})`)));
  const providerFlags = def.cloud ? providerFlagsOf(def.name) : rootProviderFlags();
  const own = providerFlags.filter((f) => f.commands !== 'all');
  for (const f of own) cmd.addOption(providerOption(f, def.name));
  addGlobals(cmd, def.yes, def.name);
  for (const f of providerFlags.filter((x) => x.commands === 'all')) cmd.addOption(providerOption(f, def.name));
  cmd.addHelpText('after', examples(def.examples) + (def.helpAfter ?? ''));
  cmd.action(async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const positional = (args.slice(0, -2) as (string | string[] | undefined)[]).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a : [a]));
    const nameArg = def.nameFromOperands ? def.nameFromOperands(positional) : def.args ? (args[0] as string | undefined) : undefined;
    // `launch [name]` only when launch is named: in a flags-only run a bare word is a mistyped command.
    if (def.isDefault && nameArg !== undefined && !ctx.explicitLaunch) throw unknownCommand(nameArg, ctx.known());
    const opts = command.optsWithGlobals() as Record<string, unknown>;
    for (const a of aliases) aliasRegion(opts, a);
    // [name] and --name are the same thing: two different values are bad input, before anything runs.
    const name = def.args ? oneName(nameArg, opts.name as string | undefined) : undefined;
    const given: Record<string, string> = {};
    for (const f of providerFlags) if (typeof opts[f.key] === 'string') given[f.key] = opts[f.key] as string;
    const flags = { ...opts, providerFlags: given, ...(ctx.rest ? { rest: ctx.rest } : {}), ...(def.nameFromOperands ? { operands: positional } : {}) };
    await ctx.execute(flags as GlobalFlags, async (deps) => {
      const result = await def.run(deps, name, flags as never);
      if (def.exitCode) ctx.setExit(def.exitCode(result));
    }, def.interruptMessage);
  });
}

/** The other names of --region the clouds declare ("--location"), with the clouds that use each. */
function regionAliases(): { flag: string; key: string; clouds: ProviderDescriptor[] }[] {
  const byFlag = new Map<string, ProviderDescriptor[]>();
  for (const p of availableProviders()) for (const flag of p.regionFlagAliases ?? []) byFlag.set(flag, [...(byFlag.get(flag) ?? []), p]);
  return [...byFlag].map(([flag, clouds]) => ({ flag, key: flag.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()), clouds }));
}

/** `--location X` is `--region X` on a cloud that calls it so; both at once, or on another --cloud, is bad input. */
function aliasRegion(opts: Record<string, unknown>, alias: { flag: string; key: string; clouds: ProviderDescriptor[] }): void {
  const value = opts[alias.key];
  if (typeof value !== 'string') return;
  delete opts[alias.key];
  if (typeof opts.cloud === 'string' && !alias.clouds.some((p) => p.id === opts.cloud)) {
    throw new UsageError(`${alias.flag} is ${alias.clouds.map((p) => p.displayName).join(' and ')}'s name for --region; on --cloud ${opts.cloud} use --region`);
  }
  if (typeof opts.region === 'string' && opts.region !== value) {
    throw new UsageError(`--region ${opts.region} and ${alias.flag} ${value} are the same flag with two values; give one`);
  }
  opts.region = value;
}

function renderError(e: unknown, json: boolean, streams: CliStreams): number {
  if (e instanceof CommanderError) {
    // Help and version are "errors" under exitOverride; usage errors were already printed.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return ExitCode.ok;
    if (json) streams.stdout.write(`${JSON.stringify({ error: { code: e.code.replace(/^commander\./, ''), message: e.message, exitCode: ExitCode.badInput } }, null, 2)}\n`);
    return ExitCode.badInput;
  }
  const err: LaunchError = isLaunchError(e)
    ? e
    : new LaunchError('internal', ExitCode.failed, e instanceof Error ? e.message : String(e), {
        cause: e,
        remediation: 'This is a bug in sourcegraph-launch: please report it with the command you ran.',
      });
  if (json) {
    streams.stdout.write(
      `${JSON.stringify({ error: { code: err.code, message: err.message, exitCode: err.exitCode, remediation: err.remediation, details: err.details } }, null, 2)}\n`,
    );
  }
  // Answering no is a decision, not a failure to report as an error.
  streams.stderr.write(err.code === 'declined' ? `\n${err.message}\n` : `\nerror: ${err.message}\n`);
  if (err.remediation) streams.stderr.write(`  ${err.remediation}\n`);
  if (!isLaunchError(e) && e instanceof Error && e.stack && process.env.DEBUG) streams.stderr.write(`${e.stack}\n`);
  return err.exitCode;
}

async function createDeps(globals: GlobalFlags, env: NodeJS.ProcessEnv, streams: CliStreams, controller: AbortController, overrides: CliOverrides): Promise<Deps> {
  const [{ ConsoleIo }, { FileStateStore, defaultStateHome }, { systemClock }, { httpGet }] = await Promise.all([
    import('./ui/console-io.js'),
    import('./state/file-store.js'),
    import('./engine/clock.js'),
    import('./engine/http-probe.js'),
  ]);
  const interactive = Boolean(streams.stdin.isTTY && streams.stderr.isTTY) && !env.CI && !globals.yes;
  return {
    io: new ConsoleIo({ interactive, json: Boolean(globals.json), stdout: streams.stdout, stderr: streams.stderr }),
    state: new FileStateStore(defaultStateHome(env)),
    connect: (provider, scope) => provider.connect(scope, { env, ...(overrides.pollMs !== undefined ? { pollIntervalMs: overrides.pollMs } : {}) }),
    connectRemote: async (target) => {
      const { connectSsh2 } = await import('./remote/ssh2-remote.js');
      return connectSsh2(target);
    },
    clock: systemClock,
    httpGet,
    signal: controller.signal,
    env,
    lookupPublicIp: async () => {
      const { lookupPublicIp } = await import('./engine/public-ip.js');
      return lookupPublicIp();
    },
    terminal: { stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr },
    program: PROGRAM,
    ...overrides,
  };
}

/**
 * Every command line whose whole output is help or the version, so it never depends on the
 * environment, state or a cloud. The build renders each once (scripts/help-cache.mjs) into
 * dist/help-cache.json, which bin/ prints without loading the CLI at all (see the bin for when).
 */
export function helpForms(): string[][] {
  const forms: string[][] = [['--help'], ['-h'], ['help'], ['--version'], ['-V']];
  const groups = new Set<string>();
  for (const def of COMMANDS) {
    if (def.parent) {
      if (!groups.has(def.parent.name)) {
        groups.add(def.parent.name);
        forms.push([def.parent.name, '--help'], [def.parent.name, '-h'], ['help', def.parent.name]);
      }
      forms.push([def.parent.name, def.name, '--help'], [def.parent.name, def.name, '-h']);
    } else {
      forms.push([def.name, '--help'], [def.name, '-h'], ['help', def.name]);
    }
  }
  return forms;
}

export async function main(argv: string[]): Promise<void> {
  // `sourcegraph-launch --help | head` closes the pipe early: that is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
  process.exitCode = await run(argv);
}
