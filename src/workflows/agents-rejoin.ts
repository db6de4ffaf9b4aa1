// Carrying a deployment's k3s agents (scale) across a new server: upgrade, rollback and restore all
// end with another machine serving, with another private address and root disk. The agent token
// survived on the data volume, but the server's k3s drop-in that names it was on the old root disk,
// and every agent still points at the old address. These steps run after the new server is ready,
// as journaled steps of the same run (a re-run resumes them):
//   agents:server-token   the drop-in again (scale's own script: k3s restarts only if it changed)
//   agents:check:<id>     the agent's k3s against the server's: newer is refused (exit 1, nothing
//                         joined); older is brought to the server's release when its image carries
//                         it, else a warning, as doctor gives
//   agents:join:<id>      scale's join, to the new server's private address
//   agents:ready:<id>     scale's wait until the node is Ready
// A failure here never undoes the server's part (it serves): it says so, exits with the error's own
// code (4 when a node does not become Ready) and names the `scale` command that finishes the job.
import type { Cloud, Instance } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { defaultProvider } from '../cloud/providers.js';
import { ExitCode, InterruptedError, LaunchError, WaitTimeoutError } from '../core/errors.js';
import { agentK3sVersionScript, installK3sReleaseScript, isNewerK3s, kubeletVersion, parseK3sVersionOutput } from '../core/k3s-versions.js';
import { agentNodeName, SERVER_NODE_NAME, serverAgentTokenScript } from '../core/scale-plan.js';
import type { Step, StepResult } from '../engine/runner.js';
import type { Remote } from '../remote/remote.js';
import { asRootOn, connectWithRetry, joinAgent, readNodes, waitAgentReady, type ScaleMachines } from './scale.js';
import { connectToInstance, type SshAccess } from './shared.js';

const DEFAULT_POLL_MS = 5_000;

/** One agent after the run: the VM, its k3s node, whether the node is Ready; a warning when it needs a look. */
export interface AgentOutcome {
  name: string;
  node: string;
  ready: boolean;
  k3sVersion?: string;
  warning?: string;
}

export interface AgentRejoinInput {
  deployment: string;
  /** The deployment's live agents when the run was planned (saved with the plan). */
  agentIds: string[];
  /** The server that serves now: known once the run's earlier steps finished. */
  server(): { instanceId: string; host?: string };
  ssh: SshAccess | undefined;
  /** How long each agent's node may take to be Ready. */
  readyTimeoutMs: number;
  /** upgrade, rollback or restore: named in messages. */
  operation: string;
  /** The `scale … --agents N` command that joins every agent that is not Ready. */
  scaleCommand: string;
  /** The command that resumes this run. */
  resumeCommand: string;
}

export interface AgentRejoin<C> {
  steps: Step<C>[];
  /** Each planned agent as the steps left it (restored from the journal on a resumed run). */
  outcomes(): AgentOutcome[];
  /** Closes the server's SSH connection, if one was made. */
  close(): Promise<void>;
}

/** The live agents of a deployment (what the steps re-join), sorted by id: the same steps on every plan. */
export function liveAgentIds(instances: Instance[]): string[] {
  return instances.filter((i) => i.labels.role === 'agent' && i.state !== 'terminated' && i.state !== 'terminating').map((i) => i.id).sort();
}

/** The `scale` command that finishes joining `count` agents (--cloud only off the default cloud, as scale prints it). */
export function scaleCommandFor(program: string, t: Pick<Target, 'name' | 'region' | 'provider'>, count: number): string {
  return `${program} scale ${t.name}${t.provider.id === defaultProvider().id ? '' : ` --cloud ${t.provider.id}`} --region ${t.region} --agents ${count} --yes`;
}

/** The plan lines (dry run and confirmation) for the agent steps; [] without agents. */
export function agentStepLines(agentIds: string[]): { id: string; title: string }[] {
  if (!agentIds.length) return [];
  return [
    { id: 'agents:server-token', title: 'Give the new server\'s k3s the agent token again (drop-in; k3s restarts only if it changed)' },
    ...agentIds.map((id) => ({ id: `agents:rejoin:${id}`, title: `Check ${id}'s k3s is not newer than the server's, join it to the new server's private address, wait until node ${agentNodeName(id)} is Ready` })),
  ];
}

export function agentRejoinSteps<C>(deps: Deps, cloud: Cloud, input: AgentRejoinInput): AgentRejoin<C> {
  const poll = deps.pollMs ?? DEFAULT_POLL_MS;
  const outcomes = new Map<string, AgentOutcome>(input.agentIds.map((id) => [id, { name: id, node: agentNodeName(id), ready: false }]));
  let serverRemote: Remote | undefined;

  const needSsh = (): SshAccess => {
    if (input.ssh) return input.ssh;
    throw new LaunchError('agents-need-ssh', ExitCode.failed, `The agents cannot be joined to the new server: SSH to ${input.deployment}'s machines is not possible from here (no key, or SSH closed).`);
  };
  const machines: ScaleMachines = {
    server: async () => {
      if (serverRemote) return serverRemote;
      const s = input.server();
      const host = s.host ?? (await cloud.describeInstance(s.instanceId))?.publicIp;
      if (!host) throw new LaunchError('no-address', ExitCode.failed, `The server ${s.instanceId} has no address to connect to`);
      serverRemote = await connectToInstance(deps, cloud, needSsh(), host, s.instanceId);
      return serverRemote;
    },
    agent: async (instance) => {
      const now = (await cloud.describeInstance(instance.id)) ?? instance;
      if (!now.publicIp) throw new LaunchError('no-address', ExitCode.failed, `Agent ${instance.id} has no public address to connect to`);
      return connectToInstance(deps, cloud, needSsh(), now.publicIp, instance.id);
    },
  };

  /** The error of a step here: the server's part stays done, and the user learns how to finish. */
  const afterServer = (e: unknown): unknown => {
    if (e instanceof InterruptedError) return e;
    const base = e instanceof LaunchError ? e : new LaunchError('agent-rejoin-failed', ExitCode.failed, e instanceof Error ? e.message : String(e), { cause: e });
    if (base.code === 'agent-k3s-newer') return base;
    const s = input.server();
    const message = `${base.message} The ${input.operation} itself is not undone: ${s.instanceId} serves.`;
    const remediation = `Finish with \`${input.scaleCommand}\` (it joins every agent whose node is not Ready), or re-run \`${input.resumeCommand}\` (it resumes with the agents). ${base.remediation ?? ''}`.trim();
    const opts = { cause: base.cause ?? e, remediation, details: { ...base.details, serverDone: true } };
    return base instanceof WaitTimeoutError ? new WaitTimeoutError(base.stage, message, opts) : new LaunchError(base.code, base.exitCode, message, opts);
  };
  const guarded = (run: (c: C) => Promise<StepResult>) => async (c: C): Promise<StepResult> => {
    try {
      return await run(c);
    } catch (e) {
      throw afterServer(e);
    }
  };
  /** The agent VM when it still runs; a stopped or deleted one is skipped with a warning (scale handles it). */
  const running = async (id: string) => {
    const agent = await cloud.describeInstance(id);
    if (agent?.state === 'running') return agent;
    outcomes.get(id)!.warning = `agent ${id} is ${agent?.state ?? 'gone'}: not joined`;
    return undefined;
  };

  const steps: Step<C>[] = [];
  if (!input.agentIds.length) return { steps, outcomes: () => [], close: async () => undefined };
  steps.push({
    id: 'agents:server-token',
    title: 'Giving the new server\'s k3s the agent token kept on the data volume',
    run: guarded(async () => {
      const r = await asRootOn(await machines.server(), serverAgentTokenScript(), 'set up the agent token on the server');
      return { summary: [r.stdout.includes('token-created') ? 'token created' : 'token present', r.stdout.includes('k3s-restarted') ? 'drop-in restored, k3s restarted' : 'drop-in unchanged'].join(', ') };
    }),
  });
  for (const id of input.agentIds) {
    const outcome = outcomes.get(id)!;
    steps.push({
      id: `agents:check:${id}`,
      title: `Comparing agent ${id}'s k3s with the server's`,
      run: guarded(async () => {
        const agent = await running(id);
        if (!agent) return { summary: `skipped: ${outcome.warning}`, result: { skipped: 'true', warning: outcome.warning! } };
        const serverVersion = await serverK3sVersion(deps, machines, input.readyTimeoutMs, poll);
        const remote = await connectWithRetry(deps, machines, agent, input.readyTimeoutMs, poll);
        try {
          let agentVersion = parseK3sVersionOutput((await asRootOn(remote, agentK3sVersionScript(), `read the k3s version on agent ${id}`)).stdout);
          const a = kubeletVersion(agentVersion);
          const s = kubeletVersion(serverVersion);
          if (!agentVersion || !a || !serverVersion || !s) {
            outcome.warning = `could not compare k3s versions (agent ${agentVersion ?? '?'}, server ${serverVersion ?? '?'})`;
          } else if (isNewerK3s(a, s)) {
            throw new LaunchError('agent-k3s-newer', ExitCode.failed, `Agent ${id} runs k3s ${agentVersion}, newer than the server's ${serverVersion}: k3s never runs an agent newer than its server, so it was not joined. The ${input.operation} itself is done: ${input.server().instanceId} serves.`, {
              remediation: `Replace the agents with ones from the server's image: \`${input.scaleCommand.replace(/--agents \d+/, '--agents 0')}\`, then \`${input.scaleCommand}\`; or move the server to an image whose k3s is ${agentVersion} or newer. Then re-run \`${input.resumeCommand}\` to finish.`,
              details: { instanceId: id, agentVersion, serverVersion },
            });
          } else if (isNewerK3s(s, a)) {
            const installed = (await asRootOn(remote, installK3sReleaseScript(serverVersion), `install k3s ${serverVersion} on agent ${id}`)).stdout.includes('k3s-installed');
            if (installed) agentVersion = serverVersion;
            else outcome.warning = `agent runs k3s ${agentVersion}, older than the server's ${serverVersion}, and its image carries no ${serverVersion}: replace it with \`${input.scaleCommand.replace(/--agents \d+/, '--agents 0')}\` then \`${input.scaleCommand}\``;
          }
          if (agentVersion) outcome.k3sVersion = agentVersion;
          const summary = outcome.warning ? `warning: ${outcome.warning}` : `k3s ${agentVersion} (server ${serverVersion})`;
          const result: Record<string, string> = {};
          if (agentVersion) result.k3sVersion = agentVersion;
          if (outcome.warning) result.warning = outcome.warning;
          return { summary, result };
        } finally {
          await remote.close().catch(() => undefined);
        }
      }),
      restore: (_c, r) => {
        if (r.k3sVersion) outcome.k3sVersion = r.k3sVersion;
        if (r.warning) outcome.warning = r.warning;
      },
    });
  }
  for (const id of input.agentIds) {
    steps.push({
      id: `agents:join:${id}`,
      title: `Joining agent ${id} to the new server's private address`,
      run: guarded(async () => {
        if (!(await running(id))) return { summary: 'skipped' };
        const s = input.server();
        const privateIp = (await cloud.describeInstance(s.instanceId))?.privateIp;
        if (!privateIp) throw new LaunchError('no-private-address', ExitCode.failed, `The server ${s.instanceId} reports no private address for agents to join`);
        await joinAgent(deps, cloud, machines, { deployment: input.deployment, serverPrivateIp: privateIp, readyTimeoutMs: input.readyTimeoutMs, rerun: input.scaleCommand }, id);
        return { summary: `joined to ${privateIp}` };
      }),
    });
  }
  for (const id of input.agentIds) {
    const outcome = outcomes.get(id)!;
    steps.push({
      id: `agents:ready:${id}`,
      title: `Waiting for node ${agentNodeName(id)} to be Ready`,
      run: guarded(async () => {
        if (!(await running(id))) return { summary: 'skipped' };
        const done = await waitAgentReady(deps, machines, { readyTimeoutMs: input.readyTimeoutMs, rerun: input.scaleCommand }, id);
        outcome.ready = true;
        return { summary: done.summary, result: { ready: 'true' } };
      }),
      restore: (_c, r) => {
        outcome.ready = r.ready === 'true';
      },
    });
  }
  return {
    steps,
    outcomes: () => [...outcomes.values()],
    close: async () => {
      await serverRemote?.close().catch(() => undefined);
      serverRemote = undefined;
    },
  };
}

/**
 * The server's k3s version as its own node reports it (what doctor compares). Read patiently: the
 * token step may just have restarted k3s, whose API answers again a little later.
 */
async function serverK3sVersion(deps: Deps, machines: ScaleMachines, timeoutMs: number, poll: number): Promise<string | undefined> {
  const started = deps.clock.now();
  for (;;) {
    try {
      const version = (await readNodes(await machines.server())).find((n) => n.name === SERVER_NODE_NAME)?.version;
      if (version) return version;
    } catch (e) {
      if ((e as { code?: string }).code !== 'remote-command-failed' || deps.clock.now() - started >= timeoutMs) throw e;
    }
    if (deps.clock.now() - started >= timeoutMs) return undefined;
    await deps.clock.sleep(poll, deps.signal);
  }
}
