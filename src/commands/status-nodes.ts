// What `status` adds when a deployment has k3s agents (scale): the agent VMs, and the cluster's nodes
// (role, Ready, kubelet version) read over SSH on the server. A node list that cannot be read (no
// key here, SSH closed or not answering) is a note, never a failure of status.
import type { Cloud, Deployment } from '../cloud/port.js';
import type { NodeStatus } from '../core/scale-plan.js';
import type { DeploymentRecord } from '../state/store.js';
import { readNodes } from '../workflows/scale.js';
import { connectToInstance, instanceAddress, sshAccess } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import type { Target } from './target.js';

export interface AgentsStatus {
  agents: { id: string; state: string; machineType: string }[];
  nodes?: NodeStatus[];
  note?: string;
}

export async function describeAgents(deps: Deps, cloud: Cloud, target: Pick<Target, 'provider'>, d: Deployment, record: DeploymentRecord | undefined, probe: boolean): Promise<AgentsStatus | undefined> {
  const agents = d.otherInstances.filter((i) => i.labels.role === 'agent').map((i) => ({ id: i.id, state: i.state, machineType: i.machineType }));
  if (!agents.length) return undefined;
  const server = d.instance;
  if (!probe || !server || server.state !== 'running') return { agents };
  const access = sshAccess(deps, target, record);
  const host = instanceAddress(d, server);
  if (!access || !host) return { agents, note: 'The k3s nodes were not read: SSH to the server is not possible from this machine (no key here, or SSH closed).' };
  let remote;
  try {
    remote = await connectToInstance(deps, cloud, access, host, server.id);
    return { agents, nodes: await readNodes(remote) };
  } catch (e) {
    return { agents, note: `The k3s nodes were not read: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await remote?.close().catch(() => undefined);
  }
}

/** The lines status prints for them. */
export function agentLines(a: AgentsStatus): [string, string | undefined][] {
  return [
    ['agents', a.agents.map((x) => `${x.id} ${x.machineType} ${x.state}`).join(', ')],
    ['nodes', a.nodes?.map((n) => `${n.name} ${n.role ?? '?'} ${n.ready ? 'Ready' : 'NotReady'}${n.version ? ` ${n.version}` : ''}`).join('; ')],
  ];
}
