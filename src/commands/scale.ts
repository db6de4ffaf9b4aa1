// `scale [name] --agents N`: k3s agent VMs beside the deployment's server. Validate (a count, one of
// --agent-size / --agent-instance-type, a cloud that has agents; nothing changes on bad input) →
// find the deployment, its agents and (over SSH) their nodes → plan what to add, re-join and remove
// → show it with the monthly cost change → ask → hold the deployment → run the scale workflow under
// the journal (a re-run resumes) → report the nodes.
import type { ScaleFlags } from '../cli/commands/scale.js';
import type { CloudRequest, Instance, InstanceSpec } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider } from '../cloud/providers.js';
import { CloudError, UsageError } from '../core/errors.js';
import { isSizeName, type SizeName } from '../core/presets.js';
import { formatUsd } from '../core/prices.js';
import { agentNodeName, agentUserData, parseAgentCount, parseAgentSize, planScale, type NodeStatus, type ScalePlan } from '../core/scale-plan.js';
import { holdDeployment } from '../engine/hold.js';
import type { Remote } from '../remote/remote.js';
import { readNodes, runScaleWorkflow } from '../workflows/scale.js';
import { confirmOrYes, connectToInstance, openJournal, savedPlan, savePlan, setAsideUnfinished, unfinishedPlan } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { connectOrExplain, reachInstance } from './instance-access.js';
import { resolveTarget, type TargetFlags } from './target.js';

const DEFAULT_TIMEOUT_S = 600;

export interface ScaleResult {
  name: string;
  cloud: string;
  region: string;
  dryRun: boolean;
  machineType: string;
  plan: ScalePlan & { rejoin: string[] };
  agents: { before: string[]; after: string[]; added: string[]; removed: string[] };
  /** USD a month: one new agent, and the whole change; null where the price file has none. */
  monthlyUsd: { perNewAgent: number | null; change: number | null };
  /** The cluster's nodes after the change (read over SSH), when it could be read. */
  nodes?: NodeStatus[];
  requests?: CloudRequest[];
}

/** What an unfinished run saved: a re-run with the same count and type follows it (same idempotency keys). */
interface SavedScale {
  target: number;
  machineType: string;
  plan: ScalePlan;
  rejoin: string[];
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_S;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 24 * 3600) throw new UsageError(`--timeout: "${value}" must be a whole number of seconds between 1 and 86400`);
  return n;
}

/**
 * An agent's own monthly cost: its instance, root disk and public IPv4 address (every cloud gives an
 * agent one, for SSH: AWS's auto-assigned address, GCE's ephemeral one, Azure's Standard public IP,
 * each billed hourly). It has no data disk.
 */
function agentMonthlyUsd(provider: ProviderDescriptor, region: string, machineType: string): number | undefined {
  const cost = provider.monthlyCost({ region, machineType, root: provider.rootDisk, data: { ...provider.rootDisk, sizeGiB: 0 }, publicAddress: true });
  const parts = cost.parts.filter((p) => p.item !== 'data volume');
  return parts.every((p) => p.monthlyUsd !== undefined) ? parts.reduce((s, p) => s + p.monthlyUsd!, 0) : undefined;
}

const live = (i: Instance) => i.state !== 'terminated' && i.state !== 'terminating';

export async function runScale(deps: Deps, nameArg: string | undefined, flags: ScaleFlags & TargetFlags): Promise<ScaleResult> {
  const { io } = deps;
  // Bad input exits 2 before any cloud call.
  const count = parseAgentCount(flags.agents);
  const agentSize = parseAgentSize(flags.agentSize);
  if (agentSize && flags.agentInstanceType) throw new UsageError('--agent-size and --agent-instance-type name the same thing: give one of them');
  const timeoutS = parseTimeout(flags.timeout);
  const early = resolveTarget(deps, nameArg, flags);
  if (!early.provider.agentNodes) {
    throw new UsageError(`scale is not available on ${early.provider.displayName} yet: its adapter cannot open the cluster ports between the deployment's machines. Nothing was changed.`, {
      code: 'scale-not-on-this-cloud',
      remediation: 'Choose a larger --size with upgrade instead, or see README (scale) for what is planned.',
    });
  }

  const reach = await reachInstance(deps, nameArg, flags);
  const { target, cloud, deployment: d, instance: server } = reach;
  const { provider, name, region } = target;
  const where = `${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${region}`;
  const serverSize = server.labels.size ?? d.size;
  const size: SizeName | undefined = agentSize ?? (serverSize && isSizeName(serverSize) ? serverSize : undefined);
  const machineType = flags.agentInstanceType ?? (size ? provider.sizes[size].machineType : undefined);
  if (!machineType) throw new UsageError(`The size of ${name} is not known: give --agent-size or --agent-instance-type`);
  if (!server.privateIp) throw new CloudError('no-private-address', `The server ${server.id} of ${name} reports no private address for agents to join`);
  const policyIds = d.accessPolicies.filter((p) => server.accessPolicyIds.includes(p.id) && p.labels.deployment === name).map((p) => p.id);
  if (!policyIds.length) throw new CloudError('access-policy-missing', `The server ${server.id} of ${name} has no ${provider.terms.accessPolicy} of the deployment`, { remediation: `Run \`${deps.program} launch ${name}${where} --update\` to restore it.` });

  const agents = d.otherInstances.filter((i) => i.labels.role === 'agent' && live(i));
  const rerun = `${deps.program} scale ${name}${where} --agents ${count}${flags.agentInstanceType ? ` --agent-instance-type ${flags.agentInstanceType}` : agentSize ? ` --agent-size ${agentSize}` : ''}`;

  // The server's SSH connection, made once when first needed (reading nodes, the token, draining).
  let serverRemote: Remote | undefined;
  const serverSsh = async () => (serverRemote ??= (await connectOrExplain(deps, reach, flags.providerFlags ?? {})).remote);

  try {
    // An unfinished run asked for the same: follow its plan (its agents are found again by their keys).
    const unfinished = unfinishedPlan<SavedScale>(deps, target, 'scale');
    const follow = unfinished && unfinished.plan.target === count && unfinished.plan.machineType === machineType ? unfinished.plan : undefined;
    let plan: ScalePlan;
    let rejoin: string[] = [];
    let nodes: NodeStatus[] | undefined;
    if (follow) {
      plan = follow.plan;
      rejoin = follow.rejoin;
      io.info(`Resuming the unfinished scale of ${name} started ${unfinished!.startedAt}.`);
    } else {
      plan = planScale(agents, count);
      // Kept agents whose node is missing or not Ready are joined again (an earlier run that stopped half-way).
      if (plan.keep.length && !flags.dryRun) {
        nodes = await readNodes(await serverSsh());
        rejoin = plan.keep.filter((id) => !nodes!.some((n) => n.name === agentNodeName(id) && n.ready));
      }
    }

    const perNew = agentMonthlyUsd(provider, region, machineType);
    const removedCosts = plan.remove.map((id) => agentMonthlyUsd(provider, region, agents.find((a) => a.id === id)?.machineType ?? machineType));
    const change = perNew !== undefined && removedCosts.every((c) => c !== undefined) ? Math.round((plan.add * perNew - removedCosts.reduce((s, c) => s! + c!, 0)!) * 100) / 100 : undefined;
    const monthlyUsd = { perNewAgent: perNew !== undefined ? Math.round(perNew * 100) / 100 : null, change: change ?? null };

    const agentSpec = (slot: number, runId: string): InstanceSpec => {
      const version = server.labels.version ?? d.version ?? 'unknown';
      return {
        deployment: name,
        role: 'agent',
        version,
        ...(size ? { size } : {}),
        imageId: server.imageId,
        machineType,
        placement: { zone: server.zone, ...(server.subnetId ? { subnetId: server.subnetId } : {}) },
        accessPolicyIds: policyIds,
        // AWS names the server's key pair; GCE keeps the key on the instance (ssh-keys metadata): the agent gets the same.
        sshKey: server.sshKeyName ? { mode: 'existing', name: server.sshKeyName } : server.sshPublicKey ? { mode: 'import', name: `${name}-agent`, publicKey: server.sshPublicKey } : { mode: 'none' },
        // The user the tool will SSH to the agent as (GCE puts the key in metadata for this user).
        loginUser: flags.sshUser ?? reach.record?.sshUser ?? provider.loginUser,
        rootDisk: provider.rootDisk,
        dataDisk: { mode: 'none' },
        keepDataDisk: false,
        userDataBase64: Buffer.from(agentUserData(name)).toString('base64'),
        labels: { deployment: name, role: 'agent', version, managed: 'true', operation: `scale-${runId}-${slot}`, ...(size ? { size } : {}) },
        foreignLabels: server.foreignLabels,
        idempotencyKey: `${name}-agent-${runId}-${slot}`,
      };
    };

    const nothing = plan.add === 0 && plan.remove.length === 0 && rejoin.length === 0;
    const base = { name, cloud: target.cloud, region, machineType, plan: { ...plan, rejoin }, monthlyUsd };
    io.info(`scale ${name} (${target.cloud} ${region}): ${agents.length} agent(s) → ${count}`);
    if (plan.add) io.info(`  launch ${plan.add} agent(s): ${machineType} in ${server.zone}, from ${server.imageId}, in ${policyIds.join(', ')}`);
    for (const id of rejoin) io.info(`  join again ${id} (its node is missing or not Ready)`);
    for (const id of plan.remove) io.info(`  drain and delete ${id} (node ${agentNodeName(id)})`);
    if (!nothing) {
      const cost =
        monthlyUsd.change !== null
          ? `${monthlyUsd.change >= 0 ? '+' : '−'}${formatUsd(Math.abs(monthlyUsd.change))}/month${plan.add ? ` (${formatUsd(monthlyUsd.perNewAgent!)} per agent)` : ''}`
          : `price unknown (no ${machineType} price for ${region} in ${provider.priceFile})`;
      io.info(`  monthly cost change: ${cost}`);
    }

    if (flags.dryRun) {
      const requests: CloudRequest[] = [];
      if (plan.add) {
        for (const id of policyIds) requests.push(...(cloud.clusterAccessRequests?.(id) ?? []));
        for (let slot = 1; slot <= plan.add; slot++) requests.push(...cloud.instanceRequests(agentSpec(slot, '<run>')));
      }
      const result: ScaleResult = { ...base, dryRun: true, agents: { before: agents.map((a) => a.id), after: [...plan.keep, ...Array.from({ length: plan.add }, (_, i) => `<new agent ${i + 1}>`)], added: [], removed: [] }, requests };
      if (io.json) io.result(result);
      else io.info('Dry run: nothing was changed.');
      return result;
    }
    if (nothing) {
      const result: ScaleResult = { ...base, dryRun: false, agents: { before: agents.map((a) => a.id), after: agents.map((a) => a.id), added: [], removed: [] }, ...(nodes ? { nodes } : {}) };
      if (io.json) io.result(result);
      else io.success(`${name} has ${count} agent(s), each Ready: nothing to do.`);
      return result;
    }
    if (!follow) await confirmOrYes(deps, flags, `${plan.add ? `Launch ${plan.add}` : ''}${plan.add && plan.remove.length ? ' and ' : ''}${plan.remove.length ? `drain and delete ${plan.remove.length}` : ''}${!plan.add && !plan.remove.length ? 'Join again' : ''} agent(s) of ${name}?`, 'change the agents');

    const hold = await holdDeployment(deps, cloud, target, 'scale', { marker: true, found: d, ...(flags.forceUnlock ? { forceUnlock: true } : {}) });
    try {
      if (!follow) setAsideUnfinished(deps, target, 'scale');
      const open = openJournal(deps, target, 'scale');
      if (!savedPlan<SavedScale>(open)) savePlan(open, { target: count, machineType, plan, rejoin } satisfies SavedScale);
      const access = 'problem' in reach.ssh ? undefined : reach.ssh.access;
      const outcome = await runScaleWorkflow(
        deps,
        cloud,
        {
          server: serverSsh,
          agent: async (instance) => {
            if (!access) throw (reach.ssh as { problem: Error }).problem;
            const now = (await cloud.describeInstance(instance.id)) ?? instance;
            if (!now.publicIp) throw new CloudError('no-address', `Agent ${instance.id} has no public address to connect to`, { remediation: 'Agents are reached directly over SSH in this version; see README (scale).' });
            return connectToInstance(deps, cloud, access, now.publicIp, instance.id);
          },
        },
        { deployment: name, plan, serverPrivateIp: server.privateIp, policyIds, rejoin, agentSpec, readyTimeoutMs: timeoutS * 1000, drainTimeoutMs: timeoutS * 1000, rerun },
        open,
      );
      const after = [...plan.keep, ...outcome.added];
      const finalNodes = await readNodes(await serverSsh()).catch(() => undefined);
      const result: ScaleResult = { ...base, dryRun: false, agents: { before: agents.map((a) => a.id), after, ...outcome }, ...(finalNodes ? { nodes: finalNodes } : {}) };
      if (io.json) io.result(result);
      else {
        io.success(`${name} has ${after.length} agent(s)${after.length ? `: ${after.join(', ')}` : ''}.`);
        for (const n of finalNodes ?? []) io.info(`  ${n.name.padEnd(28)} ${(n.role ?? '').padEnd(7)} ${n.ready ? 'Ready' : 'NotReady'}  ${n.version ?? ''}`);
      }
      return result;
    } finally {
      await hold.release();
    }
  } finally {
    await serverRemote?.close().catch(() => undefined);
  }
}
