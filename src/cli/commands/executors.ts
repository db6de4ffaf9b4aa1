import { str, viaFlag } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

const EXECUTORS = { name: 'executors', description: 'run Sourcegraph executors (batch changes, auto-indexing) on the instance (executors enable), print their access token (executors token)' };

export const executorsEnableCommand = defineCommand({
  name: 'enable',
  parent: EXECUTORS,
  args: '[name]',
  description: 'run N Sourcegraph executors on the instance through your Helm overrides, with an access token made on the instance',
  yes: YES.confirms('apply the new override file'),
  flags: {
    count: str('--count <n>', 'how many executor replicas to run, 1 to 16 (default: 1)'),
    timeout: str('--timeout <minutes>', 'bound the wait for the reinstall, the pods and /healthz (default: 30)'),
    identityFile: str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)'),
    via: viaFlag,
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} executors enable prod --region us-east-1`, `${PROGRAM} executors enable prod --region us-east-1 --count 2 --yes --json`],
  helpAfter: `
Over SSH or the cloud's run-command channel, as \`config\` chooses (--via forces one): checks that
the image carries the executor chart (sourcegraph-executor-k8s of the running version), makes the
executor access token on the instance if the data volume has none (openssl rand -hex 32 into
/mnt/data/.sourcegraph-launch/executor-secret, mode 0600; a token the volume already has is kept),
and writes it into the executor release's values on the data volume, from which
Helm makes the release's Kubernetes secret. The token never leaves the instance and is never printed
(\`executors token\` prints it when you ask).
Then it sets executor.replicas to --count in /mnt/data/override.yaml (the file \`config\` manages; the
replaced file is kept for \`config rollback\`), asks, and applies it as \`config\` does: the boot service
reinstalls Sourcegraph and the \`executor\` release with Helm, and it waits until the pods are ready
and /healthz answers. If the apply fails, the previous override.yaml is put back and applied again.
Last it prints the site configuration to add (Site admin > Site configuration):
  "executors.accessToken": the token (run \`${PROGRAM} executors token <name>\`)
  "executors.frontendURL": "http://sourcegraph-frontend:30080" (how executors on the instance reach it)
Exit codes: 0 done (or nothing to change), 1 no executor chart on the image or the apply failed (rolled
back), 2 bad input, 4 still applying after --timeout.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/executors.js')).runExecutorsEnable(deps, name, flags),
});

export type ExecutorsEnableFlags = CommandFlags<typeof executorsEnableCommand.flags>;

export const executorsTokenCommand = defineCommand({
  name: 'token',
  parent: EXECUTORS,
  args: '[name]',
  description: 'print the executor access token that `executors enable` made on the instance, for the site configuration',
  yes: YES.never('executors token'),
  flags: {
    identityFile: str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)'),
    via: viaFlag,
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} executors token prod --region us-east-1`, `${PROGRAM} executors token prod --region us-east-1 --via run-command --json   # {"name", "token"}`],
  helpAfter: `
Reads /mnt/data/.sourcegraph-launch/executor-secret on the instance as root, over SSH or the cloud's
run-command channel, as \`config\` chooses (--via forces one), and prints the token as the last line
of its output (the lines before say which channel was used); --json prints {"name", "token"} on stdout only.
The token travels as the command's output, never on a command line on either side.
Exit codes: 0 printed, 1 no token on the instance yet (run \`executors enable\`) or the instance could
not be reached, 2 bad input.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/executors.js')).runExecutorsToken(deps, name, flags),
});

export type ExecutorsTokenFlags = CommandFlags<typeof executorsTokenCommand.flags>;
