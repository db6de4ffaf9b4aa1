import { bool, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const kubeconfigCommand = defineCommand({
  name: 'kubeconfig',
  args: '[name]',
  description: 'write a kubeconfig for the deployment\'s k3s cluster and hold an SSH tunnel to its API open, so kubectl and helm work from here',
  yes: YES.never('kubeconfig'),
  interruptMessage: 'Interrupted: closing the tunnel',
  flags: {
    port: str('--port <port>', 'local port of the tunnel, on 127.0.0.1 (default: 6443; 0 picks a free one and prints it)'),
    output: str('--output <file>', 'write the kubeconfig here (default: one file per deployment in the state directory)'),
    merge: bool('--merge', 'also merge the context into your kubeconfig ($KUBECONFIG\'s first file, else ~/.kube/config)'),
    tunnel: negatable('--no-tunnel', 'only write the kubeconfig; do not open the tunnel'),
    identityFile: str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} kubeconfig prod --region us-east-1            # then, in another terminal: export KUBECONFIG=… (printed)`,
    `${PROGRAM} kubeconfig prod --merge --port 16443          # kubectl --context sourcegraph-prod get pods -A`,
    `${PROGRAM} kubeconfig prod --port 0 --json               # one JSON line {kubeconfig, context, server, port, …}, then holds`,
    `${PROGRAM} kubeconfig prod --no-tunnel --output ./prod.yaml`,
  ],
  helpAfter: `
Reads the cluster's CA and admin credentials from /etc/rancher/k3s/k3s.yaml on the instance (over SSH,
with sudo) and writes a kubeconfig whose cluster, user and context are named sourcegraph-<name>, with
server https://127.0.0.1:<port> and the cluster's own CA, so the API server's certificate is verified
(k3s's certificate names 127.0.0.1). The file is written with mode 0600, replacing the old one; with
--merge the same three entries are also merged into your kubeconfig (others are kept, ours replaced;
its current context is set only when it has none; the file is left 0600).
Then, in the foreground, it forwards each connection to 127.0.0.1:<port> on this machine over the SSH
connection to 127.0.0.1:6443 on the instance: the cluster's API port is never opened to the network.
With --json it prints one JSON line once the tunnel listens, then holds. Ctrl-C closes the tunnel
(exit 130); a lost SSH connection closes it with exit 1 (run the command again). A busy --port exits 1.
SSH must be open to your address (launch --ssh-cidr); when it is not, the error gives the
\`launch … --update\` command that opens it to your address only. The host key is checked as \`ssh\` does.
`,
  exitCode: (result) => ((result as { interrupted?: boolean } | undefined)?.interrupted ? 130 : 0),
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/kubeconfig.js')).runKubeconfig(deps, name, flags),
});

export type KubeconfigFlags = CommandFlags<typeof kubeconfigCommand.flags>;
