// The rollback workflow: back to the instance an upgrade left stopped as its rollback point. clone:
// its data disk was never touched, so it just starts again. move: its disk went to the new
// instance and was migrated, so a new disk is made from the snapshot taken when it stopped. The
// upgraded instance is stopped first (never two instances serving) and kept with its data.
import type { Cloud, DiskSpec } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { CloudError, LaunchError, UsageError } from '../core/errors.js';
import { runWorkflow, type Step, type StepTime } from '../engine/runner.js';
import { waitUntilReady } from '../engine/wait.js';
import { agentRejoinSteps, liveAgentIds, scaleCommandFor, type AgentOutcome } from './agents-rejoin.js';
import { allInstances, balancerFrontOf, dataDiskOf, markRollbackData, markServingData, moveBalancerTargetStep, runOptions, type BalancerFront, type OpenJournal, type SshAccess } from './shared.js';

const INSTANCE_STATE_TIMEOUT_MS = 15 * 60_000;
const DISK_TIMEOUT_MS = 10 * 60_000;

/** Everything the run needs, saved in the journal for a resumed run. */
export interface RollbackPlan {
  name: string;
  cloud: string;
  region: string;
  operation: string;
  strategy: 'clone' | 'move';
  version: string;
  rollbackInstanceId: string;
  zone: string;
  upgradedInstanceId?: string;
  snapshotId?: string;
  /** move: the disk made from the snapshot is like the one that moved to the upgraded instance. */
  dataDisk?: DiskSpec;
  addressId?: string;
  host?: string;
  holdSeconds: number;
  timeoutMinutes: number;
  /** The deployment's k3s agents (scale) when planned: re-joined to the rollback point once it serves. */
  agents?: string[];
  /** tls --tls managed's load balancer: its target goes back to the rollback point; the wait asks the HTTPS URL once installed. */
  balancer?: BalancerFront;
}

export interface RollbackResult {
  name: string;
  region: string;
  version: string;
  strategy: 'clone' | 'move';
  instanceId: string;
  upgradedInstanceId?: string;
  restoredVolumeId?: string;
  /** Where it serves (the static address, else the instance's own). */
  url?: string;
  downtimeMs?: number;
  steps: StepTime[];
  dryRun?: boolean;
  /** The deployment's k3s agents, re-joined to the server rolled back to (absent without agents). */
  agents?: AgentOutcome[];
}

export async function planRollback(deps: Deps, cloud: Cloud, target: Target, o: { holdSeconds: number; timeoutMinutes: number }, operation: string): Promise<RollbackPlan> {
  const d = await cloud.findDeployment(target.name);
  const point = allInstances(d).find((i) => i.labels.role === 'rollback-point');
  if (!point) {
    throw new UsageError(`Deployment ${target.name} in ${target.cloud} ${target.region} has no rollback point (no upgrade left one, or it was pruned)`, {
      code: 'no-rollback-point',
      remediation: `See the backups with \`${deps.program} backups ${target.name} --region ${target.region}\` and restore one with \`${deps.program} restore\`.`,
    });
  }
  const upgraded = allInstances(d).find((i) => i.labels.role === 'instance' && i.id !== point.id);
  const strategy = point.labels.strategy === 'move' ? 'move' : 'clone';
  const snapshotId = point.labels['rollback-snapshot'];
  if (strategy === 'move' && !snapshotId) throw new CloudError('no-rollback-snapshot', `The rollback point ${point.id} names no snapshot to restore its data from`);
  const address = d.addresses.find((a) => a.instanceId === upgraded?.id || a.instanceId === point.id) ?? d.addresses[0];
  // The disk that moved to the upgraded instance is the original: the restored one is made like it.
  const moved = upgraded ? dataDiskOf(d, upgraded) : undefined;
  const size = point.labels.size ?? d.size;
  const preset = size && size in target.provider.sizes ? target.provider.sizes[size as keyof typeof target.provider.sizes].dataDisk : undefined;
  const agents = liveAgentIds(d.otherInstances);
  const balancer = balancerFrontOf(deps.state.getDeployment(target.cloud, target.region, target.name));
  const dataDisk = moved ? { sizeGiB: moved.sizeGiB, type: moved.type, ...(moved.iops !== undefined ? { iops: moved.iops } : {}), ...(moved.throughput !== undefined ? { throughput: moved.throughput } : {}) } : preset;
  return {
    name: target.name,
    cloud: target.cloud,
    region: target.region,
    operation,
    strategy,
    version: point.labels['source-version'] ?? point.labels.version ?? '',
    rollbackInstanceId: point.id,
    zone: point.zone,
    ...(upgraded ? { upgradedInstanceId: upgraded.id } : {}),
    ...(snapshotId ? { snapshotId } : {}),
    ...(strategy === 'move' && dataDisk ? { dataDisk } : {}),
    ...(address ? { addressId: address.id, host: address.ip } : {}),
    holdSeconds: o.holdSeconds,
    timeoutMinutes: o.timeoutMinutes,
    ...(agents.length ? { agents } : {}),
    ...(balancer ? { balancer } : {}),
  };
}

export function rollbackCommand(program: string, p: Pick<RollbackPlan, 'name' | 'region'>): string {
  return `${program} rollback ${p.name} --region ${p.region} --yes`;
}

interface RollbackCtx {
  restoredDiskId?: string;
  stoppedAt?: number;
  healthyAt?: number;
  host?: string;
}

function rollbackSteps(deps: Deps, cloud: Cloud, target: Target, plan: RollbackPlan, ssh: SshAccess | undefined): Step<RollbackCtx>[] {
  const { terms } = target.provider;
  const steps: Step<RollbackCtx>[] = [];
  const dataOf = async (instanceId: string) => (await cloud.describeInstance(instanceId))?.disks.find((x) => x.role === 'data')?.diskId;
  if (plan.upgradedInstanceId) {
    const upgraded = plan.upgradedInstanceId;
    steps.push({
      id: 'stop-upgraded-instance',
      title: `Stop the upgraded instance ${upgraded}`,
      run: async (c) => {
        c.stoppedAt = deps.clock.now();
        await cloud.setLabels([upgraded], { role: 'rolled-back' });
        await cloud.stopInstance(upgraded);
        await cloud.waitForInstanceState(upgraded, 'stopped', INSTANCE_STATE_TIMEOUT_MS);
        // Its migrated data is no longer served: prune may remove it once a snapshot holds it.
        const data = await dataOf(upgraded);
        if (data) await markRollbackData(cloud, plan.name, data, new Date(deps.clock.now()));
        return { summary: 'stopped (kept with its data)', result: { at: String(c.stoppedAt) } };
      },
      restore: (c, r) => {
        c.stoppedAt = Number(r.at);
      },
    });
  }
  if (plan.strategy === 'move') {
    steps.push(
      {
        id: 'restore-data-volume',
        title: `Create a data ${terms.disk} from the pre-upgrade snapshot ${plan.snapshotId}`,
        run: async (c) => {
          const snapshot = await cloud.describeSnapshot(plan.snapshotId!);
          if (!snapshot) throw new CloudError('snapshot-not-found', `The pre-upgrade snapshot ${plan.snapshotId} no longer exists`);
          const disk = await cloud.createDiskFromSnapshot({
            deployment: plan.name,
            zone: plan.zone,
            snapshotId: snapshot.id,
            disk: { ...(plan.dataDisk ?? target.provider.sizes.XS.dataDisk), sizeGiB: snapshot.sizeGiB },
            ...(snapshot.keyId ? { encryptionKeyId: snapshot.keyId } : {}),
            labels: { deployment: plan.name, role: 'data-volume', version: plan.version, managed: 'true', operation: `${plan.operation}:rollback` },
            idempotencyKey: `sgl-${plan.operation}-rollback`,
          });
          // A re-run after the attach finds the disk in use by the rollback point: that is fine.
          await cloud.waitForDiskAvailable(disk.id, DISK_TIMEOUT_MS).catch(async (e: unknown) => {
            if ((await cloud.describeDisk(disk.id))?.attachedTo !== plan.rollbackInstanceId) throw e;
          });
          c.restoredDiskId = disk.id;
          return { summary: disk.id, result: { diskId: disk.id } };
        },
        restore: (c, r) => {
          c.restoredDiskId = r.diskId;
        },
      },
      {
        id: 'attach-data-volume',
        title: `Attach it to ${plan.rollbackInstanceId} as its data ${terms.disk}`,
        run: async (c) => {
          await cloud.attachDataDisk(c.restoredDiskId!, plan.rollbackInstanceId, DISK_TIMEOUT_MS);
          return { summary: `${c.restoredDiskId} attached` };
        },
      },
    );
  }
  steps.push({
    id: 'start-rollback-point',
    title: `Start ${plan.rollbackInstanceId} (${plan.version})`,
    run: async (c) => {
      c.stoppedAt ??= deps.clock.now();
      await cloud.setLabels([plan.rollbackInstanceId], { role: 'instance' });
      const data = await dataOf(plan.rollbackInstanceId);
      if (data) await markServingData(cloud, plan.name, data);
      if ((await cloud.describeInstance(plan.rollbackInstanceId))?.state !== 'running') await cloud.startInstance(plan.rollbackInstanceId);
      await cloud.waitForInstanceState(plan.rollbackInstanceId, 'running', INSTANCE_STATE_TIMEOUT_MS);
      return { summary: 'running' };
    },
  });
  if (plan.addressId) {
    const addressId = plan.addressId;
    steps.push({
      id: terms.addressMoveStep,
      title: `Move the ${terms.address} ${plan.host} back to ${plan.rollbackInstanceId}`,
      run: async (c) => {
        const address = await cloud.attachStaticAddress(addressId, plan.rollbackInstanceId);
        c.host = address.ip || c.host;
        return { summary: `${c.host} → ${plan.rollbackInstanceId}` };
      },
    });
  }
  if (plan.balancer) {
    // Back to the rollback point: the upgraded instance (stopped above) is taken out.
    steps.push({ ...moveBalancerTargetStep<RollbackCtx>(cloud, plan.balancer, () => plan.rollbackInstanceId, 'move-balancer-target', plan.timeoutMinutes * 60_000), title: `Make ${plan.rollbackInstanceId} the ${plan.balancer.gateway ? 'application gateway\'s only backend' : 'load balancer\'s only target'} again` });
  }
  steps.push({
    id: 'wait-for-version',
    title: `Wait until /healthz reports ${plan.version} for ${plan.holdSeconds} s`,
    run: async (c) => {
      const host = plan.addressId ? c.host : (await cloud.describeInstance(plan.rollbackInstanceId))?.publicIp;
      await waitUntilReady(
        { cloud, connectRemote: deps.connectRemote, io: deps.io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
        {
          instanceId: plan.rollbackInstanceId,
          version: plan.version,
          deploymentName: plan.name,
          ...(host ? { host } : {}),
          ...(plan.balancer?.healthUrl ? { healthUrl: plan.balancer.healthUrl, ...(plan.balancer.healthVia ? { healthVia: plan.balancer.healthVia } : {}) } : {}),
          ...(ssh ? { ssh } : {}),
          totalTimeoutMs: plan.timeoutMinutes * 60_000,
          holdMs: plan.holdSeconds * 1000,
          ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
          resumeCommand: rollbackCommand(deps.program, plan),
          rebootHint: terms.rebootHint(plan.rollbackInstanceId),
        },
      );
      c.healthyAt = deps.clock.now() - plan.holdSeconds * 1000;
      if (host) c.host = host;
      return { summary: `${plan.version} serving` };
    },
  });
  return steps;
}

/** Runs the rollback's steps (restoring those an earlier run finished) and records the version served again. */
export async function runRollbackWorkflow(deps: Deps, cloud: Cloud, target: Target, plan: RollbackPlan, open: OpenJournal, ssh: SshAccess | undefined): Promise<RollbackResult> {
  const ctx: RollbackCtx = { ...(plan.host ? { host: plan.host } : {}) };
  const steps = rollbackSteps(deps, cloud, target, plan, ssh);
  // Agents (scale) follow once the rollback point serves; its version is recorded first.
  const agentIds = plan.agents ?? [];
  const agents = agentRejoinSteps<RollbackCtx>(deps, cloud, {
    deployment: plan.name,
    agentIds,
    server: () => ({ instanceId: plan.rollbackInstanceId, ...(ctx.host ? { host: ctx.host } : {}) }),
    ssh,
    readyTimeoutMs: plan.timeoutMinutes * 60_000,
    operation: 'rollback',
    scaleCommand: scaleCommandFor(deps.program, target, agentIds.length),
    resumeCommand: rollbackCommand(deps.program, plan),
  });
  let serverDone = false;
  if (agentIds.length) {
    steps.push({
      id: 'record-rolled-back-server',
      title: `Recording that ${plan.version} serves`,
      run: async () => {
        serverDone = true;
        open.record.version = plan.version;
        open.record.instanceId = plan.rollbackInstanceId;
        return { summary: `${plan.rollbackInstanceId} serves ${plan.version}` };
      },
      restore: () => {
        serverDone = true;
      },
    });
    steps.push(...agents.steps);
  }
  let times: StepTime[];
  try {
    times = await runWorkflow(steps, ctx, runOptions(deps, open));
  } catch (e) {
    // The server's part is done: its error says so and names the scale command.
    if (serverDone) throw e;
    const base = e instanceof LaunchError ? e : new CloudError('rollback-failed', e instanceof Error ? e.message : String(e), { cause: e });
    throw new LaunchError(base.code, base.exitCode, base.message, {
      cause: e,
      ...(base.details ? { details: base.details } : {}),
      remediation: `No data was deleted. Re-run \`${rollbackCommand(deps.program, plan)}\` to continue the rollback.`,
    });
  } finally {
    await agents.close();
  }
  open.record.version = plan.version;
  open.record.instanceId = plan.rollbackInstanceId;
  open.save(open.journal);
  const downtimeMs = ctx.stoppedAt !== undefined && ctx.healthyAt !== undefined ? Math.max(0, ctx.healthyAt - ctx.stoppedAt) : undefined;
  return {
    name: plan.name,
    region: plan.region,
    version: plan.version,
    strategy: plan.strategy,
    instanceId: plan.rollbackInstanceId,
    ...(plan.upgradedInstanceId ? { upgradedInstanceId: plan.upgradedInstanceId } : {}),
    ...(ctx.restoredDiskId ? { restoredVolumeId: ctx.restoredDiskId } : {}),
    ...(plan.balancer?.healthUrl ? { url: plan.balancer.healthUrl.replace(/\/healthz$/, '') } : ctx.host ? { url: `http://${ctx.host}` } : {}),
    ...(downtimeMs !== undefined ? { downtimeMs } : {}),
    steps: times,
    ...(agentIds.length ? { agents: agents.outcomes() } : {}),
  };
}
