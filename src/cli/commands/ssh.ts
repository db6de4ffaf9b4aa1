import { bool, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

const identityFile = str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)');
const sshUser = str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)');

export const sshCommand = defineCommand({
  name: 'ssh',
  args: '[name]',
  passThrough: '[-- command…]',
  description: 'open a shell on the deployment\'s instance, or run a command there and exit with its status',
  yes: YES.never('ssh'),
  flags: { identityFile, sshUser },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} ssh prod --region us-east-1                 # an interactive shell`,
    `${PROGRAM} ssh prod -- sudo journalctl -u k3s -n 20    # one command; exits with its status`,
    `${PROGRAM} ssh prod --json -- df -h /mnt/data          # {exitCode, stdout, stderr, …}`,
  ],
  helpAfter: `
Connects to the serving instance's address as its login user with the deployment's key, and checks the
host key the way every command does: against the key pinned on this machine, else the fingerprints the
instance's console lists (waited for up to 3 min), never connecting when it differs (exit 1).
With a command (after --, joined by spaces and run by the login shell, as ssh does) it exits with the
command's exit status; input piped to ssh is the command's (keystrokes at a terminal are not).
Without a command it opens a shell, which needs a terminal.
SSH must be open to your address (launch --ssh-cidr); when it is not, the error gives the
\`launch … --update\` command that opens it to your address only.
`,
  exitCode: (result) => (result as { exitCode?: number } | undefined)?.exitCode ?? 0,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/ssh.js')).runSsh(deps, name, flags),
});

export const logsCommand = defineCommand({
  name: 'logs',
  args: '[name]',
  description: 'show why an instance is (not) serving: the boot decision and status, the boot unit\'s journal, the serial console',
  yes: YES.never('logs'),
  flags: {
    pods: bool('--pods', 'also list the Sourcegraph pods (not ready ones first) with kubectl on the instance'),
    follow: bool('--follow', 'then follow the boot unit\'s journal until Ctrl-C'),
    lines: str('--lines <n>', 'lines of the journal and of the console to show (default: 50)'),
    identityFile,
    sshUser,
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} logs prod --region us-east-1`, `${PROGRAM} logs prod --pods --json`, `${PROGRAM} logs prod --follow`],
  helpAfter: `
Over SSH: the boot status file (/var/lib/sourcegraph-launch/status.json: stage, boot decision, error, and the
data disk's usage, with a warning from 80 % used),
both version files, the tail of /var/log/reboot.sh.log and \`journalctl -u sourcegraph-boot.service\`;
from the cloud: the tail of the serial console. When SSH is not possible (no SSH rule, no key on this
machine, the instance does not answer) it still prints the console and says why the rest is missing
(exit 0 with a warning); a host key that does not match is refused (exit 1).
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/logs.js')).runLogs(deps, name, flags),
});

export type SshFlags = CommandFlags<typeof sshCommand.flags>;
export type LogsFlags = CommandFlags<typeof logsCommand.flags>;
