// Entry point: parse argv → run a command → render the result or error → exit code. The only
// module that touches process.argv and process.exitCode. Commands, the engine, SDKs and prompts
// are loaded with dynamic imports so `--help` and `--version` stay fast.
import { Command, CommanderError, Help, Option } from 'commander';
import { ExitCode, isLaunchError, LaunchError, UsageError } from './core/errors.js';
import { suggestSimilar } from './core/suggest.js';
import type { Deps, GlobalFlags } from './commands/deps.js';

const PROGRAM = 'sourcegraph-launch';

// Replaced at build time (scripts/build.mjs) and in tests (vitest.config.ts) with package.json's version.
declare const __SGL_VERSION__: string;
const VERSION = __SGL_VERSION__;

export interface CliStreams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * What -y/--yes means differs by command, so each command's help says what it does there. Off a
 * terminal (or with CI set) nothing ever asks: a command that would ask either goes ahead (launch)
 * or exits 2 unless -y is given (destroy and the commands that replace or remove things).
 */
const YES = {
  root: 'never ask. launch then goes ahead without confirming; destroy, upgrade, rollback, restore and prune need -y to act when not on a terminal or when CI is set (see each command\'s --help)',
  launch: 'launch without confirming the plan. Not on a terminal or with CI set, launch never asks anyway: a missing required value exits 2 naming its flag',
  destroy: 'delete without asking you to type the name. Required when not on a terminal or when CI is set: without it destroy exits 2 and deletes nothing',
  confirms: (verb: string) => `${verb} without asking for confirmation. Required when not on a terminal or when CI is set: without it the command exits 2 and changes nothing`,
  never: (command: string) => `accepted and ignored: ${command} never asks anything`,
} as const;

function withGlobals(cmd: Command, yes: string): Command {
  return cmd
    .option('--json', 'print one JSON result on stdout (progress goes to stderr)')
    .option('-y, --yes', yes)
    .option('--profile <name>', 'AWS shared-config profile (default: AWS_PROFILE or "default")');
}

const NAME_HELP = 'the deployment, the same as the [name] argument (default: the only deployment recorded on this machine, else sourcegraph)';

/** The exit-code table, as README.md has it (a test compares the two). */
const EXIT_CODES = `Exit codes:
  0    ok (also: destroy --ignore-missing of a deployment that does not exist)
  1    failed; a deployment that does not exist (status, destroy); a confirmation answered no
       or a wrong name typed at destroy ("nothing changed")
  2    bad input: unknown command or option, a bad or missing value, a refused combination;
       always before anything changes
  3    credentials or permissions
  4    timed out waiting: the resources exist, re-run the same command to resume
  130  interrupted (Ctrl-C)
`;

/**
 * The first argument that is not one of the root's own options: the command word when it does not
 * start with "-", else undefined (a flags-only run, which is \`launch\`).
 */
function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json' || a === '-y' || a === '--yes' || a.startsWith('--profile=')) continue;
    if (a === '--profile') {
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

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env, streams: CliStreams = process): Promise<number> {
  // `--version` alone is the tool's version; `launch --version 6.12.5040` is Sourcegraph's.
  const bare = argv.filter((a) => a !== '--json');
  if (bare.length === 1 && (bare[0] === '--version' || bare[0] === '-V')) {
    streams.stdout.write(argv.includes('--json') ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`);
    return ExitCode.ok;
  }

  let exitCode: number = ExitCode.ok;
  let json = argv.includes('--json');
  const controller = new AbortController();

  const execute = async (globals: GlobalFlags, fn: (deps: Deps) => Promise<unknown>) => {
    json = Boolean(globals.json);
    const deps = await createDeps(globals, env, streams, controller);
    let interrupts = 0;
    const onSigint = () => {
      // Every SIGINT is the user's: nothing else in the process hooks or re-raises signals
      // (state files are written without a signal-handling library, see state/file-store.ts).
      interrupts++;
      if (interrupts > 1) {
        streams.stderr.write('\nStopped at once. Re-run the same command to resume; it checks what exists first.\n');
        process.exit(ExitCode.interrupted);
      }
      streams.stderr.write('\nInterrupted: finishing the cloud request in flight, then stopping (Ctrl-C again quits at once).\n');
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

  const program = new Command(PROGRAM)
    .description(
      'Launch and look after a self-hosted Sourcegraph instance on your own AWS account: one VM running k3s with ' +
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
          `${PROGRAM} destroy sourcegraph --region us-east-1`,
        ]) +
        `\n${EXIT_CODES}\n` +
        `With --json, a failure is {"error": {"code", "message", "exitCode", "remediation"}} on stdout (code "declined" for a no).\n` +
        `\nState (keys, host-key pins, journals) lives in ~/.config/${PROGRAM}; set SOURCEGRAPH_LAUNCH_HOME to move it.\n`,
    );

  // `-V, --version` is handled before parsing (see the top of run): commander's .version() would
  // take `--version` from every command, and `launch --version x.y.z` is Sourcegraph's version.
  // The help lists it with the other options all the same.
  program.configureHelp({
    visibleOptions(this: Help, cmd: Command) {
      const options = Help.prototype.visibleOptions.call(this, cmd);
      if (cmd !== program) return options;
      const version = new Option('-V, --version', `print the version of ${PROGRAM} (\`launch --version x.y.z\` picks Sourcegraph's)`);
      const help = options.findIndex((o) => o.long === '--help');
      return help < 0 ? [...options, version] : [...options.slice(0, help), version, ...options.slice(help)];
    },
  });

  withGlobals(program, YES.root);
  const known = () => program.commands.flatMap((c) => [c.name(), ...c.aliases()]).concat('help');
  // `launch [name]` only when launch is named: in a flags-only run a bare word is a mistyped command.
  const explicitLaunch = commandWord(argv) === 'launch';
  withGlobals(
    program
      .command('launch [name]', { isDefault: true })
      .description('create a Sourcegraph deployment and wait until it serves the requested version (default command)')
      .addOption(new Option('--cloud <cloud>', 'cloud provider: aws (gcp and azure are coming)'))
      .option('--region <region>', 'cloud region (default in CI: AWS_REGION)')
      .option('--size <size>', 'business-size preset XS|S|M|L|XL (see `presets`; default: XS)')
      .option('--version <version>', 'Sourcegraph version x.y.z, or latest (default: latest)')
      .option('--image <ami>', 'image to launch, skipping discovery (ami-…)')
      .option('--image-source <source>', 'published (default), build (use or build our own image), base (plain OS provisioned at first boot)')
      .option('--schedule <daily>', 'also snapshot the data volume daily with an AWS Data Lifecycle Manager policy')
      .option('--retain <N>', 'with --schedule: how many daily snapshots to keep (default: 7)')
      .option('--dlm-role <arn>', 'with --schedule: the role DLM acts as (default: AWSDataLifecycleManagerDefaultRole)')
      .option('--allow-cidr <cidr>', 'who may reach HTTP/HTTPS; repeat or comma-separate (required in CI)', collect)
      .option('--ssh-cidr <cidr>', 'who may reach SSH; repeat or comma-separate, or "none" (default: same as --allow-cidr; a world-open value needs --i-know-ssh-is-public)', collect)
      .option('--i-know-ssh-is-public', 'allow --ssh-cidr 0.0.0.0/0')
      .option('--ssh-key <path>', 'import this OpenSSH public key (.pub) instead of creating a new key')
      .option('--key-name <name>', 'use an existing EC2 key pair (never deleted by destroy)')
      .option('--identity-file <path>', 'private key for SSH when using --key-name')
      .option('--name <name>', 'deployment name, used in tags and resource names; the same as the [name] argument (default: sourcegraph)')
      .option('--instance-type <type>', 'override the preset instance type')
      .option('--data-size <GiB>', 'data volume size (at least the preset minimum, 500)')
      .option('--subnet <subnet-id>', 'subnet to launch into (default: the default VPC)')
      .option('--kms-key <key>', 'KMS key for volume encryption (default: the AWS managed key)')
      .option('--elastic-ip <new|none|eipalloc-…>', 'address that survives upgrades (default: new)')
      .option('--ssh-user <user>', 'SSH login user on the image (default: ec2-user)')
      .option('--data-volume <new|vol-…>', 'after a destroy kept the data: launch on that volume (attached before the first boot), or new for an empty one (required in CI when kept data exists)')
      .option('--update', 'the deployment exists: apply changed --allow-cidr/--ssh-cidr rules to it (the only change a re-run makes)')
      .option('--dry-run', 'make no change: show the plan and every mutating request in order')
      .option('--no-wait', 'return as soon as the instance runs')
      .option('--timeout <minutes>', 'bound the whole readiness wait (default: 45)')
      .option('--hold-seconds <seconds>', 'how long /healthz must keep serving the version (default: 90)')
      .addHelpText(
        'after',
        examples([
          `${PROGRAM}                              # interactive wizard`,
          `${PROGRAM} launch --cloud aws --region us-east-1 --size M --version 6.12.5040 \\\n      --allow-cidr 198.51.100.0/24 --ssh-cidr 198.51.100.7/32 --yes`,
          `${PROGRAM} launch --region eu-west-1 --allow-cidr 203.0.113.7/32 --dry-run --json   # requests only`,
          `${PROGRAM} launch --region us-east-1 --allow-cidr 10.0.0.0/8 --ssh-cidr none --subnet subnet-0abc… --elastic-ip none`,
        ]) +
          `\nRe-running the same command resumes an interrupted launch: nothing is created twice.\n` +
          `A deployment of that name that exists (from any machine) is never rewritten: if this run differs from it,\n` +
          `launch exits 1 listing each difference and how to change it; --update applies changed access rules only.\n` +
          `After a destroy kept the data, a relaunch of the name asks (CI: --data-volume vol-…|new) whether to launch on it.\n` +
          `The data volume is encrypted, kept on termination, and holds all Sourcegraph state.\n`,
      )
      .action(async (name: string | undefined, _opts, cmd: Command) => {
        if (name !== undefined && !explicitLaunch) throw unknownCommand(name, known());
        const opts = cmd.optsWithGlobals();
        const { oneName } = await import('./commands/target.js');
        opts.name = oneName(name, opts.name);
        await execute(opts, async (deps) => {
          const { runLaunch } = await import('./commands/launch.js');
          await runLaunch(deps, opts);
        });
      }),
    YES.launch,
  );

  withGlobals(
    program
      .command('presets')
      .description('show the size presets (users, repos, machine, disks, estimated monthly cost)')
      .option('--versions', 'also list the published Sourcegraph versions in the shipped catalog')
      .option('--region <region>', 'price the sizes in this region (default: us-east-1); "price unknown" where presets/aws-prices.json has no price')
      .addHelpText('after', examples([`${PROGRAM} presets`, `${PROGRAM} presets --region us-west-2`, `${PROGRAM} presets --versions --json`]))
      .action(async (_opts, cmd: Command) => {
        const opts = cmd.optsWithGlobals();
        await execute(opts, async (deps) => {
          const { runPresets } = await import('./commands/presets.js');
          await runPresets(deps, opts);
        });
      }),
    YES.never('presets'),
  );

  /** Options of the commands that act on deployments; `nameHelp: false` for those that take no name (list). */
  const targetOptions = (cmd: Command, yes: string, nameHelp: string | false = NAME_HELP) => {
    if (nameHelp) cmd.option('--name <name>', nameHelp);
    return withGlobals(
      cmd
        .option('--cloud <cloud>', 'cloud provider (default: aws)')
        .option('--region <region>', 'region (default: from the local record, else AWS_REGION)'),
      yes,
    );
  };

  targetOptions(
    program
      .command('status [name]')
      .description('show a deployment as the cloud sees it, and the version its /healthz serves')
      .option('--no-probe', 'do not send an HTTP request to the instance'),
    YES.never('status'),
  )
    .addHelpText('after', examples([`${PROGRAM} status`, `${PROGRAM} status prod --region us-east-1 --json`]) + '\nWorks with no local state: the deployment is found by its tags.\n')
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runStatus } = await import('./commands/status.js');
        await runStatus(deps, name, opts);
      });
    });

  targetOptions(
    program
      .command('list')
      .description('list every deployment in a region (found by tags) with state and version')
      .option('--no-probe', 'do not send HTTP requests to the instances: the version column then shows the tag, marked "(tag)"'),
    YES.never('list'),
    false,
  )
    .addHelpText('after', examples([`${PROGRAM} list --region us-east-1`, `${PROGRAM} list --region us-east-1 --json`]))
    .action(async (_opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runList } = await import('./commands/status.js');
        await runList(deps, opts);
      });
    });

  targetOptions(
    program
      .command('destroy [name]')
      .description('delete the resources tagged with a deployment (its data is kept unless --delete-data)')
      .option('--delete-data', 'also delete the data volumes, snapshots and snapshot policy: all Sourcegraph data is lost')
      .option('--force-unlock', 'clear another run\'s in-progress marker on the deployment (only when you know that run is gone); names what it clears')
      .option('--dry-run', 'show what would be deleted and stop')
      .option('--ignore-missing', 'exit 0 when the deployment does not exist (default: exit 1, as status does)'),
    YES.destroy,
  )
    .addHelpText(
      'after',
      examples([`${PROGRAM} destroy sourcegraph --region us-east-1`, `${PROGRAM} destroy staging --region eu-west-1 --yes --delete-data`]) +
        '\nOn a terminal it asks you to type the name; a different name changes nothing (exit 1). Never releases\n' +
        'an address or deletes a key pair you brought.\n',
    )
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runDestroy } = await import('./commands/destroy.js');
        await runDestroy(deps, name, opts);
      });
    });

  // --- image builds (issue 4) ---
  withGlobals(
    program
      .command('build-image')
      .description('build a machine image of a Sourcegraph version in your own account (found by launch and upgrade like a published one)')
      .option('--cloud <cloud>', 'cloud provider: aws')
      .option('--region <region>', 'region to build in (default in CI: AWS_REGION)')
      .option('--version <version>', 'Sourcegraph version x.y.z to build (required)')
      .option('--size <size>', 'size preset whose Helm values are installed and whose machine builds (default: XS)')
      .option('--ssh-cidr <cidr>', 'who may reach the builder\'s SSH: this machine\'s address (required)', collect)
      .option('--i-know-ssh-is-public', 'allow --ssh-cidr 0.0.0.0/0')
      .option('--instance-type <type>', 'builder instance type (default: the size preset\'s)')
      .option('--subnet <subnet-id>', 'subnet for the builder (default: the default VPC); needs a public address')
      .option('--kms-key <key>', 'KMS key for the builder\'s volumes and so the image (default: the AWS managed key)')
      .option('--elastic-ip <eipalloc-…>', 'advanced: give the builder this address of yours (kept, never released)')
      .option('--ssh-user <user>', 'login user of the base image (default: ec2-user)')
      .option('--timeout <minutes>', 'bound the whole build (default: 120)')
      .option('--dry-run', 'make no change: show the plan and every mutating request in order')
      .addHelpText(
        'after',
        examples([
          `${PROGRAM} build-image --cloud aws --region us-east-1 --version 6.12.5041 --ssh-cidr 203.0.113.7/32`,
          `${PROGRAM} build-image --region us-east-1 --version 6.12.5041 --size M --ssh-cidr 203.0.113.7/32 --dry-run --json`,
        ]) +
          `\nThe builder, its key pair and security group are temporary: they are removed at the end, on failure and on Ctrl-C.\n` +
          `The image is tagged sourcegraph-launch:role=image and :version, so launch and upgrade use it for that version.\n`,
      )
      .action(async (_opts, cmd: Command) => {
        const opts = cmd.optsWithGlobals();
        await execute(opts, async (deps) => {
          const { runBuildImage } = await import('./commands/build-image.js');
          await runBuildImage(deps, opts);
        });
      }),
    YES.never('build-image'),
  );

  // --- upgrade, backup and restore (issue 3) ---
  targetOptions(
    program
      .command('upgrade [name]')
      .description('upgrade to a newer Sourcegraph version, one minor at a time, keeping the old instance as the rollback point')
      .option('--to <version>', 'target version: x.y.z, a minor (6.12), or latest (default: the next allowed version)')
      .option('--image <ami>', 'image for the target version (default: published or built by build-image)')
      .option('--strategy <clone|move>', 'how the data reaches the new instance (default: clone)')
      .option('--size <size>', 'change the instance type to this preset\'s (XS|S|M|L|XL) while upgrading')
      .option('--init-rate <MiBps>', 'clone: EBS provisioned volume initialisation rate, 100–300, or 0 for lazy loading (default: 300)')
      .option('--identity-file <path>', 'private key for SSH when the deployment uses --key-name')
      .option('--hold-seconds <seconds>', 'how long /healthz must keep serving the new version (default: 90)')
      .option('--timeout <minutes>', 'bound each hop\'s readiness wait (default: 45)')
      .option('--force-unlock', 'clear another run\'s in-progress marker on the deployment (only when you know that run is gone); names what it clears')
      .option('--dry-run', 'show the chain, the steps, the costs and the first launch request; change nothing'),
    YES.confirms('upgrade'),
  )
    .addHelpText(
      'after',
      examples([
        `${PROGRAM} upgrade prod --region us-east-1 --to 6.12.5040`,
        `${PROGRAM} upgrade prod --region us-east-1 --to 6.12 --strategy move --yes --json`,
        `${PROGRAM} upgrade prod --region us-east-1 --dry-run`,
      ]) +
        `
Strategies:
  clone (default, safest)  stop the old instance, snapshot its data (incremental: a live snapshot was taken
                           first), launch the new instance with /dev/sdb created from that snapshot, so it
                           never boots without its data. The old instance and its untouched volume stay
                           stopped: rollback is instant. The launch is inside the downtime window (that is
                           the price of never booting without data). The copy loads its blocks lazily from
                           the snapshot; --init-rate asks EBS to load it at a provisioned rate (billed per
                           GiB) and the report says when it is done. Extra cost while kept: a second data
                           volume + the snapshot.
  move (cheaper, the       stop, final snapshot, detach the volume, launch the new instance without /dev/sdb
  documented way)          (a cloud-init boothook powers it off if it boots without data: needs cloud-init
                           boothooks on the image), stop it, attach the old volume, start. No lazy loading;
                           rollback restores a volume from the snapshot instead. Extra cost: the snapshot.
Downtime is measured from the old instance stopping to the new version answering /healthz and reported
with each step's time. Multi-minor targets run hop by hop (6.5 → 6.6 → 6.7 …), each verified; missing
images stop the upgrade before anything changes and name the build-image commands.
Before the old instance stops, a failure changes nothing; after it, re-run the same command to resume or
run \`rollback\`.
`,
    )
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runUpgrade } = await import('./commands/upgrade.js');
        await runUpgrade(deps, name, opts);
      });
    });

  targetOptions(
    program
      .command('rollback [name]')
      .description('return to the instance and data from before the last upgrade, and move the address back')
      .option('--identity-file <path>', 'private key for SSH when the deployment uses --key-name')
      .option('--hold-seconds <seconds>', 'how long /healthz must keep serving the old version (default: 90)')
      .option('--timeout <minutes>', 'bound the readiness wait (default: 45)')
      .option('--force-unlock', 'clear another run\'s in-progress marker on the deployment (only when you know that run is gone); names what it clears')
      .option('--dry-run', 'show what would happen and stop'),
    YES.confirms('roll back'),
  )
    .addHelpText(
      'after',
      examples([`${PROGRAM} rollback prod --region us-east-1`, `${PROGRAM} rollback prod --region us-east-1 --yes --json`]) +
        '\nclone: starts the pre-upgrade instance with its untouched volume. move: restores a volume from the snapshot taken\n' +
        'when the old instance stopped. The upgraded instance is stopped first and kept with its data until `prune`.\n',
    )
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runRollback } = await import('./commands/rollback.js');
        await runRollback(deps, name, opts);
      });
    });

  targetOptions(
    program
      .command('backup [name]')
      .description('snapshot the data volume now (tagged with version and time), or schedule daily snapshots')
      .option('--schedule <daily>', 'create an AWS Data Lifecycle Manager policy instead of one snapshot')
      .option('--retain <N>', 'with --schedule: how many scheduled snapshots to keep (default: 7)')
      .option('--dlm-role <arn>', 'with --schedule: the role DLM acts as (default: AWSDataLifecycleManagerDefaultRole)')
      .option('--wait', 'wait until the snapshot completes'),
    YES.never('backup'),
  )
    .addHelpText('after', examples([`${PROGRAM} backup prod --region us-east-1`, `${PROGRAM} backup prod --region us-east-1 --schedule daily --retain 14`]))
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runBackup } = await import('./commands/backup.js');
        await runBackup(deps, name, opts);
      });
    });

  targetOptions(program.command('backups [name]').description('list the snapshots of a deployment with purpose, version, size and age'), YES.never('backups'))
    .addHelpText('after', examples([`${PROGRAM} backups prod --region us-east-1`, `${PROGRAM} backups prod --region us-east-1 --json`]))
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runBackups } = await import('./commands/backup.js');
        await runBackups(deps, name, opts);
      });
    });

  targetOptions(
    program
      .command('restore [name]')
      .description('launch a new instance at a snapshot\'s version with its data volume made from the snapshot')
      .requiredOption('--snapshot <snap-id>', 'the snapshot to restore (see `backups`)')
      .option('--image <ami>', 'image to boot (default: the one for the snapshot\'s version)')
      .option('--dry-run', 'show the launch request and stop'),
    YES.confirms('restore'),
    'the deployment to restore into, the same as the [name] argument; another name than the snapshot\'s makes a staging copy',
  )
    .addHelpText(
      'after',
      examples([`${PROGRAM} restore prod --region us-east-1 --snapshot snap-0abc…`, `${PROGRAM} restore prod-copy --region us-east-1 --snapshot snap-0abc… --yes`]) +
        '\nThe data volume exists before the first boot. A deployment with a running instance never gets a second one.\n',
    )
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runRestore } = await import('./commands/restore.js');
        await runRestore(deps, name, opts);
      });
    });

  targetOptions(
    program
      .command('prune [name]')
      .description('remove what finished upgrades, rollbacks and restores left as a way back, after showing each item, why, and its cost')
      .option('--retain <N>', 'also remove backups beyond the newest N')
      .option('--snapshot-first', 'snapshot a rollback volume that has no snapshot since it was last written, then remove it (otherwise it is kept)')
      .option('--force-unlock', 'clear another run\'s in-progress marker on the deployment (only when you know that run is gone); names what it clears')
      .option('--dry-run', 'show the leftovers and their monthly cost, and stop'),
    YES.confirms('remove'),
  )
    .addHelpText(
      'after',
      examples([`${PROGRAM} prune prod --region us-east-1 --dry-run`, `${PROGRAM} prune prod --region us-east-1 --yes --retain 7`]) +
        '\nWhat may go: stopped rollback-point, rolled-back and intermediate instances; a rollback data volume only once a\n' +
        'completed snapshot taken after it was last written holds its data (--snapshot-first takes that snapshot); upgrade\n' +
        'snapshots whose volume still exists or that a newer snapshot supersedes; with --retain, backups beyond the newest N\n' +
        'whose volume still exists. Never: the serving instance and its volume, a data volume destroy kept, the last copy of\n' +
        'any data. --dry-run lists every item with the reason it goes or stays. Without the rollback point, `rollback` is\n' +
        'no longer possible.\n',
    )
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      await execute(opts, async (deps) => {
        const { runPrune } = await import('./commands/prune.js');
        await runPrune(deps, name, opts);
      });
    });

  try {
    // Commander would hand a mistyped command to the default command as its argument.
    const word = commandWord(argv);
    if (word !== undefined && !known().includes(word)) throw unknownCommand(word, known());
    const helpFor = word === 'help' ? argv[argv.indexOf('help') + 1] : undefined;
    if (helpFor !== undefined && !helpFor.startsWith('-') && !known().includes(helpFor)) throw unknownCommand(helpFor, known());
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    exitCode = renderError(e, json, streams);
  }
  return exitCode;
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

async function createDeps(globals: GlobalFlags, env: NodeJS.ProcessEnv, streams: CliStreams, controller: AbortController): Promise<Deps> {
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
    cloud: async (provider, region, opts) => {
      if (provider !== 'aws') throw new LaunchError('cloud-not-available', ExitCode.badInput, `${provider} is not available yet`);
      const { createAwsCloud } = await import('./cloud/aws/aws-cloud.js');
      return createAwsCloud(region, { profile: opts?.profile ?? globals.profile });
    },
    connectRemote: async (target) => {
      const { connectSsh2 } = await import('./remote/ssh2-remote.js');
      return connectSsh2(target);
    },
    clock: systemClock,
    httpGet,
    signal: controller.signal,
    env,
    lookupPublicIp: async () => {
      if (env.SOURCEGRAPH_LAUNCH_NO_IP_LOOKUP) return undefined;
      const { lookupPublicIp } = await import('./engine/public-ip.js');
      return lookupPublicIp();
    },
    program: PROGRAM,
  };
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
