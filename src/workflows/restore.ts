// The restore workflow: a new instance at a snapshot's version whose data disk is made from the
// snapshot as the instance is created, so it never boots without its data (disaster recovery under
// the same name, or a staging copy under another). It reuses the source deployment's network,
// access rules and SSH key; a deployment that still has a running instance is never given a second
// one. The plan is kept in the journal: an interrupted restore re-run finds the instance it made.
import { randomBytes } from 'node:crypto';
import type { Cloud, Deployment, DiskSpec, Instance, InstanceSpec } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { CloudError, UsageError } from '../core/errors.js';
import { clientTokenFor } from '../core/launch-plan.js';
import { isSizeName } from '../core/presets.js';
import { buildImageCommand } from '../core/upgrade-plan.js';
import { normalizeVersion } from '../core/versions.js';
import { runWorkflow, type Step } from '../engine/runner.js';
import { waitUntilReady } from '../engine/wait.js';
import { agentRejoinSteps, liveAgentIds, scaleCommandFor, type AgentOutcome } from './agents-rejoin.js';
import { allInstances, balancerFrontOf, dataDiskOf, markRollbackData, moveBalancerTargetStep, openJournal, runOptions, savePlan, setAsideUnfinished, sshAccess, unfinishedPlan, type BalancerFront } from './shared.js';

const RUNNING_WAIT_MS = 15 * 60_000;
/** --timeout's default: how long the restored server may take to serve, and each agent's node to be Ready (as upgrade's). */
export const RESTORE_TIMEOUT_MINUTES = 45;

/** How this run waits (flags of this run, not kept in the plan: a re-run may wait differently). */
export interface RestoreWait {
  /** false (--no-wait): return once the instance runs. */
  wait: boolean;
  timeoutMinutes: number;
}

/** What a restore does, resolved once and kept in the journal so a resumed run follows it. */
export interface RestorePlan {
  snapshotId: string;
  snapshotSizeGiB: number;
  version: string;
  /** The deployment the snapshot was taken of (another name than the target's makes a copy). */
  source: string;
  /** Labels what this restore creates: a re-run finds its own instance by it. */
  operation: string;
  instance: InstanceSpec;
  /** Stopped serving instances of the target, kept as rollback points with their data disks. */
  superseded: { id: string; dataDiskId?: string }[];
  /** The target's static address (its URL), moved to the restored instance; absent for a copy under a new name. */
  address?: { id: string; ip: string };
  /** The target's k3s agents (scale): once the restored server serves, re-joined to it. */
  agents?: string[];
  /** Under the same name behind tls --tls managed's load balancer: its target moves to the restored instance; the wait asks the HTTPS URL once installed. */
  balancer?: BalancerFront;
}

export interface RestoreResult {
  name: string;
  region: string;
  version: string;
  instanceId: string;
  /** The data disk made from the snapshot (the JSON contract's name from AWS). */
  dataVolumeId?: string;
  snapshotId: string;
  publicIp?: string;
  role?: string;
  /** The deployment's k3s agents, re-joined to the restored server (absent without agents). */
  agents?: AgentOutcome[];
  /** Whether the readiness wait saw the snapshot's version serve (false with --no-wait). */
  ready: boolean;
  /** The URL the wait found it serving at (when it waited in this run). */
  url?: string;
}

/** Refuses while the target has a running instance (other than the one this restore made). */
export function refuseIfRunning(existing: Deployment, target: Target, ownOperation?: string): void {
  // Agents (scale) run beside a server and are re-joined to the restored one: they never refuse.
  const running = allInstances(existing).find((i) => i.labels.role !== 'agent' && (i.state === 'running' || i.state === 'pending') && (!ownOperation || i.labels.operation !== ownOperation));
  if (running) {
    throw new UsageError(`Deployment ${target.name} still has a running instance ${running.id}; restore makes a new instance only where none runs`, {
      code: 'deployment-running',
      remediation: `Restore under another name (--name ${target.name}-restore) for a copy, or stop/destroy ${running.id} first.`,
    });
  }
}

/** Resolves the restore from the snapshot and the source deployment; changes nothing. */
export async function planRestore(deps: Deps, cloud: Cloud, target: Target, input: { snapshotId: string; imageId?: string }): Promise<RestorePlan> {
  const { provider } = target;
  const snapshot = await cloud.describeSnapshot(input.snapshotId);
  if (!snapshot) throw new UsageError(`Snapshot ${input.snapshotId} does not exist in ${target.region}`, { code: 'snapshot-not-found' });
  if (snapshot.state !== 'completed') throw new UsageError(`Snapshot ${snapshot.id} is ${snapshot.state}; wait until it completes`);
  const version = normalizeVersion(snapshot.labels['source-version'] ?? snapshot.labels.version ?? '');
  if (!version) throw new UsageError(`Snapshot ${snapshot.id} does not say which version its data is (no ${provider.terms.labelName('source-version')})`);
  const source = snapshot.labels.deployment ?? target.name;

  const existing = await cloud.findDeployment(target.name);
  refuseIfRunning(existing, target);
  // Template: an instance of the source deployment (any state), else its access policy and SSH key.
  const from = source === target.name ? existing : await cloud.findDeployment(source);
  const model = allInstances(from)[0];
  const placement = await cloud.resolvePlacement(model?.subnetId);
  const accessPolicyIds = model?.accessPolicyIds.length ? model.accessPolicyIds : from.accessPolicies.map((p) => p.id);
  if (!accessPolicyIds.length) {
    throw new CloudError('no-security-group', `Deployment ${source} has no ${provider.terms.accessPolicy} left to reuse`, {
      remediation: `Launch ${target.name} first (launch --name ${target.name}), then restore into it.`,
    });
  }
  const size = snapshot.labels.size ?? from.size;
  const image = input.imageId ? { id: input.imageId } : await cloud.findImage({ version });
  if (!image) {
    throw new CloudError('missing-images', `No image for ${version} in ${target.region}`, {
      remediation: `Build it: ${buildImageCommand({ region: target.region, size: snapshot.labels.size }, version, deps.program)}\n  or name the image of ${version} you launched from: --image ${provider.imageIdExample}`,
    });
  }
  const preset = provider.sizes[size && isSizeName(size) ? size : 'XS'];
  // The data disk is like the source's (type and performance), as large as the snapshot.
  const sourceData = model ? dataDiskOf(from, model) : undefined;
  const like: DiskSpec = sourceData ? { sizeGiB: sourceData.sizeGiB, type: sourceData.type, ...(sourceData.iops !== undefined ? { iops: sourceData.iops } : {}), ...(sourceData.throughput !== undefined ? { throughput: sourceData.throughput } : {}) } : preset.dataDisk;
  const operation = `restore-${randomBytes(6).toString('hex')}`;
  const sshKeyName = model?.sshKeyName ?? from.sshKeys[0]?.name;
  const instance: InstanceSpec = {
    deployment: target.name,
    role: 'instance',
    version,
    ...(size ? { size } : {}),
    imageId: image.id,
    machineType: model?.machineType ?? preset.machineType,
    placement,
    accessPolicyIds,
    sshKey: sshKeyName ? { mode: 'existing', name: sshKeyName } : { mode: 'none' },
    loginUser: provider.loginUser,
    rootDisk: provider.rootDisk,
    dataDisk: { mode: 'snapshot', snapshotId: snapshot.id, disk: { ...like, sizeGiB: snapshot.sizeGiB } },
    keepDataDisk: true,
    // The disk made from the snapshot stays under the snapshot's key.
    ...(snapshot.keyId ? { encryptionKeyId: snapshot.keyId } : {}),
    ...(model?.instanceIdentity ? { instanceIdentity: model.instanceIdentity } : {}),
    labels: { deployment: target.name, role: 'instance', version, ...(size ? { size } : {}), managed: 'true', operation },
    idempotencyKey: clientTokenFor(target.name, operation.slice('restore-'.length), 'restore'),
  };
  // The stopped instance being replaced may hold data newer than the snapshot: it stays, as a way back.
  const superseded = allInstances(existing)
    .filter((i) => i.state === 'stopped' && i.labels.role === 'instance')
    .map((i) => {
      const data = i.disks.find((x) => x.role === 'data')?.diskId;
      return data ? { id: i.id, dataDiskId: data } : { id: i.id };
    });
  // The deployment's URL stays its URL: its address (reserved by the tool or brought) moves to the
  // restored instance. Never released here.
  const address = existing.addresses[0];
  const agents = liveAgentIds(existing.otherInstances);
  // The load balancer (tls --tls managed) is the target's own: recorded under its name, never a copy's.
  const balancer = balancerFrontOf(deps.state.getDeployment(target.cloud, target.region, target.name));
  return {
    snapshotId: snapshot.id,
    snapshotSizeGiB: snapshot.sizeGiB,
    version,
    source,
    operation,
    instance,
    superseded,
    ...(address ? { address: { id: address.id, ip: address.ip } } : {}),
    ...(agents.length ? { agents } : {}),
    ...(balancer ? { balancer } : {}),
  };
}

/** The plan of an unfinished restore into the target, when it restores this snapshot. */
export function unfinishedRestore(deps: Deps, target: Target, snapshotId: string): { plan: RestorePlan; startedAt: string } | undefined {
  const pending = unfinishedPlan<RestorePlan>(deps, target, 'restore');
  return pending?.plan.snapshotId === snapshotId ? pending : undefined;
}

/**
 * Sets aside an unfinished restore of another snapshot (this run restores what it was asked to);
 * returns that snapshot. Whatever the earlier run made is still seen: a running instance refuses.
 */
export function abandonUnfinishedRestore(deps: Deps, target: Target, snapshotId: string): string | undefined {
  const pending = unfinishedPlan<RestorePlan>(deps, target, 'restore');
  if (!pending || pending.plan.snapshotId === snapshotId) return undefined;
  setAsideUnfinished(deps, target, 'restore');
  return pending.plan.snapshotId;
}

/**
 * Runs the plan: keeps superseded instances as rollback points, creates the instance, waits until it
 * runs and then (unless --no-wait) until it serves the snapshot's version, as launch and upgrade do.
 */
export async function runRestoreWorkflow(deps: Deps, cloud: Cloud, target: Target, plan: RestorePlan, how: RestoreWait = { wait: true, timeoutMinutes: RESTORE_TIMEOUT_MINUTES }): Promise<RestoreResult> {
  const readyTimeoutMs = how.timeoutMinutes * 60_000;
  const open = openJournal(deps, target, 'restore');
  if (!open.resumed) savePlan(open, plan);
  const disk = target.provider.terms.disk;
  const ctx: { instanceId?: string; url?: string } = {};
  const steps: Step<typeof ctx>[] = [];
  if (plan.superseded.length) {
    steps.push({
      id: 'supersede',
      title: `Keep ${plan.superseded.map((i) => i.id).join(', ')} (stopped) as a rollback point`,
      run: async () => {
        for (const i of plan.superseded) {
          await cloud.setLabels([i.id], { role: 'rolled-back' });
          if (i.dataDiskId) await markRollbackData(cloud, target.name, i.dataDiskId, new Date(deps.clock.now()));
        }
        return { summary: `rolled-back, data ${disk} kept` };
      },
    });
  }
  steps.push(
    {
      id: 'instance',
      title: `Instance (${plan.instance.machineType}, ${plan.instance.imageId}) with its data ${disk} from ${plan.snapshotId}`,
      run: async (c) => {
        const instance = await cloud.ensureInstance(plan.instance);
        c.instanceId = instance.id;
        return { summary: instance.id, result: { instanceId: instance.id } };
      },
      restore: (c, r) => {
        c.instanceId = r.instanceId;
      },
    },
    {
      id: 'instance-running',
      title: 'Instance running',
      run: async (c) => {
        await cloud.waitForInstanceState(c.instanceId!, 'running', RUNNING_WAIT_MS);
        return { summary: 'running' };
      },
    },
  );
  const address = plan.address;
  if (address) {
    steps.push({
      id: 'move-address',
      title: `Move ${target.provider.terms.address} ${address.ip} to the restored instance`,
      run: async (c) => {
        const moved = await cloud.attachStaticAddress(address.id, c.instanceId!);
        return { summary: `${moved.ip} → ${c.instanceId!}` };
      },
    });
  }
  if (plan.balancer) steps.push(moveBalancerTargetStep<typeof ctx>(cloud, plan.balancer, (c) => c.instanceId!, 'move-balancer-target', readyTimeoutMs));
  // With agents (scale): wait until the restored server serves, record it, then re-join them.
  const agentIds = plan.agents ?? [];
  const ssh = sshAccess(deps, target, open.record);
  const host = { ip: plan.address?.ip };
  const agents = agentRejoinSteps<typeof ctx>(deps, cloud, {
    deployment: target.name,
    agentIds,
    server: () => ({ instanceId: ctx.instanceId!, ...(host.ip ? { host: host.ip } : {}) }),
    ssh,
    readyTimeoutMs,
    operation: 'restore',
    scaleCommand: scaleCommandFor(deps.program, target, agentIds.length),
    resumeCommand: restoreCommand(deps.program, target, plan.snapshotId),
  });
  // --no-wait with agents is refused before any change (commands/restore.ts): they join only once it serves.
  if (how.wait) {
    steps.push(
      {
        id: 'wait-for-version',
        title: `Wait until /healthz reports ${plan.version}${agentIds.length ? ' (the agents join once it serves)' : ''}`,
        run: async (c) => {
          host.ip ??= (await cloud.describeInstance(c.instanceId!))?.publicIp;
          const report = await waitUntilReady(
            { cloud, connectRemote: deps.connectRemote, io: deps.io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
            {
              instanceId: c.instanceId!,
              version: plan.version,
              deploymentName: target.name,
              ...(host.ip ? { host: host.ip } : {}),
              ...(plan.balancer?.healthUrl ? { healthUrl: plan.balancer.healthUrl, ...(plan.balancer.healthVia ? { healthVia: plan.balancer.healthVia } : {}) } : {}),
              ...(ssh ? { ssh } : {}),
              totalTimeoutMs: readyTimeoutMs,
              holdMs: 0,
              ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
              resumeCommand: restoreCommand(deps.program, target, plan.snapshotId),
              rebootHint: target.provider.terms.rebootHint(c.instanceId!),
            },
          );
          c.url = report.url || undefined;
          return { summary: `${plan.version} serving`, ...(host.ip ? { result: { host: host.ip } } : {}) };
        },
        restore: (_c, r) => {
          if (r.host) host.ip = r.host;
        },
      },
      {
        id: 'record-restored-server',
        title: `Recording that ${plan.version} serves`,
        run: async (c) => {
          open.record.version = plan.version;
          open.record.instanceId = c.instanceId!;
          return { summary: `${c.instanceId!} serves ${plan.version}` };
        },
      },
    );
  }
  if (agentIds.length) steps.push(...agents.steps);
  try {
    await runWorkflow(steps, ctx, runOptions(deps, open));
  } finally {
    await agents.close();
  }

  const seen: Instance | undefined = await cloud.describeInstance(ctx.instanceId!);
  deps.state.putDeployment({
    ...open.record,
    version: plan.version,
    ...(plan.instance.size ? { size: plan.instance.size } : {}),
    instanceId: ctx.instanceId!,
    updatedAt: new Date(deps.clock.now()).toISOString(),
    journal: open.journal,
  });
  return {
    name: target.name,
    region: target.region,
    version: plan.version,
    instanceId: ctx.instanceId!,
    dataVolumeId: seen?.disks.find((x) => x.role === 'data')?.diskId,
    snapshotId: plan.snapshotId,
    publicIp: seen?.publicIp,
    role: seen?.labels.role,
    ...(agentIds.length ? { agents: agents.outcomes() } : {}),
    ready: how.wait,
    ...(ctx.url ? { url: ctx.url } : {}),
  };
}

/** The command that resumes a restore of `snapshotId` into the target. */
export function restoreCommand(program: string, target: Pick<Target, 'name' | 'region'>, snapshotId: string): string {
  return `${program} restore ${target.name} --region ${target.region} --snapshot ${snapshotId} --yes`;
}
