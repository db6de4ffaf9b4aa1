import { str, viaFlag } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const configCommand = defineCommand({
  name: 'config',
  args: '<action> [name] [KEY=VALUE...]',
  description: 'show or change Sourcegraph\'s Helm overrides (/mnt/data/override.yaml) and apply them; action: show, edit, set or rollback',
  yes: YES.confirms('apply the new file'),
  flags: {
    file: str('--file <path>', 'config edit: upload this file instead of opening $VISUAL / $EDITOR (for CI)'),
    timeout: str('--timeout <minutes>', 'bound the wait for the reinstall, the pods and /healthz (default: 30)'),
    identityFile: str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)'),
    via: viaFlag,
  },
  target: { name: 'default' },
  cloud: true,
  nameFromOperands: (operands) => operands.slice(1).find((a) => !a.includes('=')),
  examples: [
    `${PROGRAM} config show prod --region us-east-1            # yours, and what Helm gets`,
    `${PROGRAM} config set prod frontend.replicaCount=2         # one value (YAML: 2, true, null removes)`,
    `${PROGRAM} config edit prod                                # in $EDITOR, checked, then applied`,
    `${PROGRAM} config edit prod --file override.yaml --yes     # the same from CI`,
    `${PROGRAM} config rollback prod                            # back to the file before the last change`,
  ],
  helpAfter: `
Actions (the deployment name may come anywhere after the action):
  show       prints /mnt/data/override.yaml and the values Helm gets: the values every size shares
             (values/common.yaml), the size's values, then the data volume's inherited or pinned
             values, then override.yaml (Helm's merge: later wins, maps merge, null removes a key).
             --json: {override, effective, history, placementChanges}.
  edit       opens the file in $VISUAL / $EDITOR (or takes --file), then checks it.
  set        KEY=VALUE… with dotted keys; the value is YAML ("3" is a string, null removes the key).
             Comments and the order of the rest of the file are kept.
  rollback   restores the file the last change replaced (each rollback goes one file further back).
A new file must be YAML, a map, and use only the Sourcegraph chart's top-level keys (from the chart
saved on the image); a bad file changes nothing (exit 2). Stateful services (pgsql, gitserver,
indexedSearch, …) are pinned to the server by common.yaml's nodeSelector sourcegraph-launch/role=server;
a file that changes one of those is at your own risk: show/set/edit/rollback warn, naming each.
The file it replaces is kept on the data volume in /mnt/data/.sourcegraph-launch/override-history/
(the last ${5}). Applying restarts the boot service, which reinstalls Sourcegraph with Helm because
override.yaml exists (as it does at every boot), then waits until the pods are ready and /healthz
answers: a few minutes in which pods restart.
After \`tls\` (your own domain) it then probes https://<domain>/healthz with the certificate verified:
a warning at most (\`https\` in --json).
It reaches the instance over SSH when the deployment's SSH is open and answers; otherwise through
the cloud's run-command channel, which needs no open port: Azure Run Command, AWS Systems Manager
Run Command (the instance must be managed: SSM agent and an instance profile with
AmazonSSMManagedInstanceCore; \`doctor\` checks it), or on Google Compute Engine the agent our images
run (sourcegraph-run-agent): the step goes into the instance's metadata (instances.setMetadata) and
its output comes back as guest attributes (instances.getGuestAttributes); an instance whose image
lacks the agent exits 1 saying so. Each step is one run command, so it is slower; files and long
outputs move in parts. It says which it uses; --via ssh or --via run-command forces one.
Exit codes: 0 applied (or nothing to change), 1 the apply failed (\`config rollback\` restores the
previous file), 2 bad input, 4 still applying after --timeout (it goes on; \`logs --follow\` watches).
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/config.js')).runConfig(deps, name, flags),
});

export type ConfigCommandFlags = CommandFlags<typeof configCommand.flags>;
