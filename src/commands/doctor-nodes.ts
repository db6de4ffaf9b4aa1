// doctor's check of the k3s nodes, made only when the deployment has agents (scale): every node
// Ready, every agent known to the cluster, and no agent on a newer kubelet than the server (k3s
// supports agents up to the server's version, never newer).
import type { Cloud, Deployment } from '../cloud/port.js';
import type { Check } from '../core/doctor-checks.js';
import { agentNodeName, SERVER_NODE_NAME, type NodeStatus } from '../core/scale-plan.js';
import type { DeploymentRecord } from '../state/store.js';
import { isNewerK3s as newer, kubeletVersion } from '../core/k3s-versions.js';
import type { Deps } from './deps.js';
import { describeAgents } from './status-nodes.js';
import type { Target } from './target.js';

export { kubeletVersion } from '../core/k3s-versions.js';

/** The verdict on the nodes the server lists, for the agent VMs the cloud lists. */
export function nodesCheck(nodes: NodeStatus[], agentIds: string[], fix: string): Check {
  const title = 'k3s nodes';
  const notReady = nodes.filter((n) => !n.ready).map((n) => n.name);
  const missing = agentIds.map(agentNodeName).filter((name) => !nodes.some((n) => n.name === name));
  const server = kubeletVersion(nodes.find((n) => n.name === SERVER_NODE_NAME)?.version);
  const ahead = server ? nodes.filter((n) => n.name !== SERVER_NODE_NAME && newer(kubeletVersion(n.version) ?? [0, 0, 0], server)).map((n) => `${n.name} (${n.version})`) : [];
  const problems = [
    ...(notReady.length ? [`not Ready: ${notReady.join(', ')}`] : []),
    ...(missing.length ? [`agents not in the cluster: ${missing.join(', ')}`] : []),
    ...(ahead.length ? [`newer than the server: ${ahead.join(', ')}`] : []),
  ];
  if (problems.length) return { id: 'k3s-nodes', title, status: 'fail', detail: problems.join('; '), fix };
  return { id: 'k3s-nodes', title, status: 'pass', detail: `${nodes.length} nodes Ready (${nodes.map((n) => `${n.name} ${n.version ?? '?'}`).join(', ')})` };
}

/** [] without agents; else the nodes check (skipped, saying why, when the server cannot be asked). */
export async function nodeChecks(deps: Deps, cloud: Cloud, target: Target, d: Deployment, record: DeploymentRecord | undefined): Promise<Check[]> {
  const a = await describeAgents(deps, cloud, target, d, record, true);
  if (!a) return [];
  if (!a.nodes) return [{ id: 'k3s-nodes', title: 'k3s nodes', status: 'skip', detail: a.note ?? 'the server is not running' }];
  const count = a.agents.filter((x) => x.state !== 'terminated' && x.state !== 'terminating').length;
  const fix = `\`${deps.program} scale ${target.name} --region ${target.region} --agents ${count}\` joins agents again (after an upgrade too); \`journalctl -u k3s-agent\` on an agent shows why it is not Ready.`;
  return [nodesCheck(a.nodes, a.agents.map((x) => x.id), fix)];
}
