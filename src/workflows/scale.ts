// The scale workflow: k3s agent VMs of one deployment, added or removed as steps the journal records
// (a re-run resumes: a launched agent is found again by its idempotency key, a finished step is not
// repeated). Adding: the cluster ports open between the deployment's own machines → the agent token
// on the server → per agent: launch in the server's placement and policy → join over SSH → wait
// until its node is Ready (exit 4 at the deadline, the VM kept and named). Removing, newest first:
// cordon + drain + delete the node over SSH on the server (a drain that times out stops with exit 4
// and the VM kept), and only then terminate the VM.
import type { Cloud, Instance, InstanceSpec } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import { CloudError, ExitCode, LaunchError, WaitTimeoutError } from '../core/errors.js';
import {
  agentJoinScript,
  agentNodeName,
  drainScript,
  parseNodes,
  readAgentTokenScript,
  serverAgentTokenScript,
  type NodeStatus,
  type ScalePlan,
} from '../core/scale-plan.js';
import { runWorkflow, type Step } from '../engine/runner.js';
import type { Remote } from '../remote/remote.js';
import { runOptions, type OpenJournal } from './shared.js';

const INSTANCE_WAIT_MS = 15 * 60_000;
const DEFAULT_POLL_MS = 5_000;

/** How the workflow reaches the machines (the command connects with the deployment's key and checks host keys). */
export interface ScaleMachines {
  /** The server, connected once and reused. */
  server(): Promise<Remote>;
  /** An agent at its address; rejects with ssh-unreachable while its SSH does not answer yet. */
  agent(instance: Instance): Promise<Remote>;
}

export interface ScaleInput {
  deployment: string;
  plan: ScalePlan;
  /** The server's private address: what agents join. */
  serverPrivateIp: string;
  /** The policies agents get (the server's own); the cluster ports open on each. */
  policyIds: string[];
  /** Kept agents whose node is missing or not Ready: joined again. */
  rejoin: string[];
  /** The spec of the agent in slot `n` of this run (its idempotency key carries the run's id). */
  agentSpec(slot: number, runId: string): InstanceSpec;
  /** Per agent: how long to wait for its node to be Ready, and how long a drain may take. */
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  /** What the user re-runs (for the messages). */
  rerun: string;
}

interface Ctx {
  added: Record<number, string>;
}

/**
 * Runs `script` as root on a machine; fails naming what it was doing (never echoing the script).
 * A script that carries a secret (`secret`) goes on the command's input (`sudo sh -s`), never on its
 * command line: any user on the machine can read command lines (`ps`), base64 or not.
 */
export async function asRootOn(remote: Remote, script: string, what: string, timeoutMs = 120_000, secret = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = secret
    ? await remote.exec('sudo sh -s', { timeoutMs, stdin: script })
    : await remote.exec(`echo ${Buffer.from(script).toString('base64')} | base64 -d | sudo sh`, { timeoutMs });
  if (r.code !== 0 && what) {
    throw new LaunchError('remote-command-failed', ExitCode.failed, `Could not ${what}: ${(r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n').at(-1)}`);
  }
  return r;
}

/** The cluster's nodes as the server's k3s lists them. */
export async function readNodes(remote: Remote): Promise<NodeStatus[]> {
  const r = await asRootOn(remote, 'k3s kubectl get nodes -o json\n', 'list the k3s nodes on the server');
  return parseNodes(r.stdout);
}

export async function runScaleWorkflow(deps: Deps, cloud: Cloud, machines: ScaleMachines, input: ScaleInput, open: OpenJournal): Promise<{ added: string[]; removed: string[] }> {
  const { plan } = input;
  const runId = open.journal.id;
  const ctx: Ctx = { added: {} };
  const steps: Step<Ctx>[] = [];
  const joining = plan.add > 0 || input.rejoin.length > 0;

  if (joining) {
    steps.push({
      id: 'cluster-access',
      title: 'Opening the k3s ports (6443/tcp, 8472/udp, 10250/tcp) between the deployment\'s own machines',
      run: async () => {
        if (!cloud.ensureClusterAccess) throw new CloudError('scale-not-supported', 'This cloud\'s adapter cannot open the cluster ports yet');
        for (const id of input.policyIds) await cloud.ensureClusterAccess(id);
        return { summary: input.policyIds.join(', ') };
      },
    });
    steps.push({
      id: 'agent-token',
      title: 'Giving the server\'s k3s an agent token kept on the data volume',
      run: async () => {
        const r = await asRootOn(await machines.server(), serverAgentTokenScript(), 'set up the agent token on the server');
        const notes = [r.stdout.includes('token-created') ? 'created' : 'present', ...(r.stdout.includes('k3s-restarted') ? ['k3s restarted'] : [])];
        return { summary: notes.join(', ') };
      },
    });
  }

  const join = (instanceId: string) => joinAgent(deps, cloud, machines, { deployment: input.deployment, serverPrivateIp: input.serverPrivateIp, readyTimeoutMs: input.readyTimeoutMs, rerun: input.rerun }, instanceId);
  const waitReady = (instanceId: string) => waitAgentReady(deps, machines, { readyTimeoutMs: input.readyTimeoutMs, rerun: input.rerun }, instanceId);

  for (let slot = 1; slot <= plan.add; slot++) {
    steps.push({
      id: `launch-agent-${slot}`,
      title: `Launching agent ${slot} of ${plan.add}`,
      run: async (c) => {
        const agent = await cloud.ensureInstance(input.agentSpec(slot, runId));
        await cloud.waitForInstanceState(agent.id, 'running', INSTANCE_WAIT_MS);
        c.added[slot] = agent.id;
        return { summary: agent.id, result: { instanceId: agent.id } };
      },
      restore: (c, r) => {
        if (r.instanceId) c.added[slot] = r.instanceId;
      },
    });
    steps.push({ id: `join-agent-${slot}`, title: `Joining agent ${slot} to the server over SSH`, run: async (c) => join(c.added[slot]!) });
    steps.push({ id: `ready-agent-${slot}`, title: `Waiting for agent ${slot}'s node to be Ready`, run: async (c) => waitReady(c.added[slot]!) });
  }
  for (const id of input.rejoin) {
    steps.push({ id: `rejoin-${id}`, title: `Joining agent ${id} again (its node is not Ready)`, run: async () => join(id) });
    steps.push({ id: `ready-${id}`, title: `Waiting for ${id}'s node to be Ready`, run: async () => waitReady(id) });
  }
  for (const id of plan.remove) {
    steps.push({
      id: `drain-${id}`,
      title: `Cordoning and draining node ${agentNodeName(id)}, then deleting it`,
      run: async () => {
        const seconds = Math.round(input.drainTimeoutMs / 1000);
        const r = await asRootOn(await machines.server(), drainScript(agentNodeName(id), seconds), '', input.drainTimeoutMs + 120_000);
        if (r.code === 0) return { summary: r.stdout.includes('node-absent') ? 'no such node (never joined)' : 'drained and deleted' };
        const why = (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n').at(-1)!;
        if (/timed? ?out|timeout/i.test(`${r.stderr}\n${r.stdout}`)) {
          throw new WaitTimeoutError('agent-drained', `Draining node ${agentNodeName(id)} did not finish within ${seconds} s: ${why}. The node is cordoned; the VM ${id} is kept.`, {
            remediation: `See what does not leave (\`kubectl get pods -A -o wide\`), then re-run \`${input.rerun}\` (it drains again), with a longer --timeout if pods need it.`,
            details: { instanceId: id, node: agentNodeName(id) },
          });
        }
        throw new LaunchError('drain-failed', ExitCode.failed, `Could not drain node ${agentNodeName(id)}: ${why}. The VM ${id} is kept.`, { remediation: `Re-run \`${input.rerun}\` once the cause is fixed.` });
      },
    });
    steps.push({
      id: `delete-agent-${id}`,
      title: `Deleting agent VM ${id}`,
      run: async () => {
        await cloud.terminateInstance(id);
        await cloud.waitForInstanceState(id, 'terminated', INSTANCE_WAIT_MS);
      },
    });
  }

  await runWorkflow(steps, ctx, runOptions(deps, open));
  return { added: Object.values(ctx.added), removed: [...plan.remove] };
}

/** SSH to a just-started agent: its sshd answers a little after the VM runs, so connecting is retried until the deadline. */
export async function connectWithRetry(deps: Deps, machines: ScaleMachines, instance: Instance, timeoutMs: number, poll: number): Promise<Remote> {
  const started = deps.clock.now();
  for (;;) {
    try {
      return await machines.agent(instance);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ssh-unreachable' || deps.clock.now() - started >= timeoutMs) throw e;
      await deps.clock.sleep(poll, deps.signal);
    }
  }
}

/** What joining an agent needs: the deployment, the server's private address, the deadline, and what the user re-runs (for messages). */
export interface AgentJoinInput {
  deployment: string;
  serverPrivateIp: string;
  readyTimeoutMs: number;
  rerun: string;
}

/**
 * Joins one agent VM to the server at `serverPrivateIp` over SSH (scale, and upgrade/rollback/restore
 * when the server is a new machine): the token goes from the server's disk into memory and straight
 * into the agent's 0600 config.
 */
export async function joinAgent(deps: Deps, cloud: Cloud, machines: ScaleMachines, input: AgentJoinInput, instanceId: string): Promise<void> {
  const poll = deps.pollMs ?? DEFAULT_POLL_MS;
  const instance = await cloud.describeInstance(instanceId);
  if (!instance || instance.state !== 'running') throw new CloudError('agent-not-running', `Agent ${instanceId} is ${instance?.state ?? 'gone'}`, { remediation: `See \`${input.rerun}\` again once it runs, or remove it with a lower --agents.` });
  // The token goes from the server's disk into memory and straight into the agent's config over SSH.
  const token = (await asRootOn(await machines.server(), readAgentTokenScript(), 'read the agent token on the server')).stdout.trim();
  const remote = await connectWithRetry(deps, machines, instance, input.readyTimeoutMs, poll);
  try {
    await asRootOn(remote, agentJoinScript({ serverIp: input.serverPrivateIp, token, nodeName: agentNodeName(instanceId), deployment: input.deployment }), `start the k3s agent on ${instanceId}`, undefined, true);
  } finally {
    await remote.close().catch(() => undefined);
  }
}

/** Waits until the agent's node is Ready on the server (exit 4 at the deadline, the VM kept and named). */
export async function waitAgentReady(deps: Deps, machines: Pick<ScaleMachines, 'server'>, input: Pick<AgentJoinInput, 'readyTimeoutMs' | 'rerun'>, instanceId: string): Promise<{ summary: string }> {
  const poll = deps.pollMs ?? DEFAULT_POLL_MS;
  const node = agentNodeName(instanceId);
  const started = deps.clock.now();
  let last = 'not registered yet';
  for (;;) {
    const found = (await readNodes(await machines.server())).find((n) => n.name === node);
    if (found?.ready) return { summary: `${node} Ready${found.version ? ` (${found.version})` : ''}` };
    last = found ? 'registered, NotReady' : 'not registered yet';
    if (deps.clock.now() - started >= input.readyTimeoutMs) {
      throw new WaitTimeoutError('agent-ready', `Agent ${instanceId} (node ${node}) did not become Ready within ${Math.round(input.readyTimeoutMs / 1000)} s (last: ${last}). The VM is kept, running.`, {
        remediation: `Re-run \`${input.rerun}\` to keep waiting (it resumes), look at its k3s agent (\`journalctl -u k3s-agent\` on it), or run scale with one agent fewer to drain and delete it.`,
        details: { instanceId, node, last },
      });
    }
    await deps.clock.sleep(poll, deps.signal);
  }
}
