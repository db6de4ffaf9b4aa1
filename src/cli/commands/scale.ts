import { bool, forceUnlockFlag, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const scaleCommand = defineCommand({
  name: 'scale',
  args: '[name]',
  description: 'add or remove k3s agent VMs that run stateless work beside the server (AWS, GCE and Azure)',
  yes: YES.confirms('launch or delete agents'),
  flags: {
    agents: str('--agents <N>', 'the number of agent VMs the deployment should have (0 drains and deletes every agent)', { required: true }),
    agentSize: str('--agent-size <size>', 'the size preset (XS, S, M, L, XL) whose machine type each new agent gets (default: the server\'s size)'),
    agentInstanceType: str('--agent-instance-type <type>', 'the machine type of each new agent (instead of --agent-size)'),
    timeout: str('--timeout <seconds>', 'how long each agent may take to be Ready, and each drain to finish (default 600)'),
    identityFile: str('--identity-file <path>', 'private key for SSH to the server and the agents (default: the key launch used)'),
    sshUser: str('--ssh-user <user>', 'login user for SSH (default: the one launch recorded on this machine, else the image\'s)'),
    dryRun: bool('--dry-run', 'show the plan, the monthly cost change and the cloud requests, and stop'),
    forceUnlock: forceUnlockFlag,
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} scale prod --region us-east-1 --agents 2 --agent-size S`,
    `${PROGRAM} scale prod --region us-east-1 --agents 0 --yes --json`,
  ],
  helpAfter: `
Agents are VMs from the server's own image in its subnet and security group (GCE: network tag;
Azure: its NSG and the deployment's application security group), in role "agent", with the server's
SSH key (GCE: its public key in the agent's ssh-keys metadata; Azure: the server VM's login key). The
k3s ports (6443/tcp, 8472/udp, 10250/tcp) are opened only between the deployment's own machines (a
rule whose source is the security group, network tag or application security group itself, never an
address range); 80/443 do not change.
The server's k3s gets an agent token kept on the data volume (created once, 0600); the tool SSHes
to each agent with the deployment's key (SSH must be open to you, as for \`ssh\`), writes its k3s
config (the server's private address, the token, the node label sourcegraph-launch/role=agent) and
starts k3s-agent, then waits until the node is Ready (exit 4 at --timeout, the VM kept).
Removing (newest first) cordons and drains the node on the server, deletes it, and only then the VM;
a drain that times out exits 4 with the VM kept. Shows the monthly cost change before it asks.
Re-running resumes. Stateful services stay on the server: the boot service labels it
sourcegraph-launch/role=server and the tool's Helm values (values/common.yaml) pin them to that label;
stateless ones (frontend, searcher, symbols, worker, executors, …) may run on agents. See README.
AWS, GCE and Azure (on Azure each agent gets a Standard public IP of its own, for SSH).
upgrade, rollback and restore join the agents to the new server themselves; when one stops there (an
agent not Ready in time, exit 4) it names this command, which joins every agent that is not Ready.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/scale.js')).runScale(deps, name, flags),
});

export type ScaleFlags = CommandFlags<typeof scaleCommand.flags>;
