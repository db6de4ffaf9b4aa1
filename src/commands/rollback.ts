// `rollback [name]`: back to the instance an upgrade left stopped as its rollback point. clone: its
// data volume was never touched, so it just starts again. move: its volume went to the new
// instance and was migrated, so a new volume is made from the snapshot taken when it stopped. The
// upgraded instance is stopped first (never two instances serving) and kept with its data.
import { TAG_ROLE, TAG_SOURCE_VERSION, TAG_STRATEGY, type Cloud, type InstanceInfo } from '../cloud/cloud.js';
import { CloudError, LaunchError, UsageError } from '../core/errors.js';
import { AWS_DATA_DEVICE } from '../core/presets.js';
import { runSteps, type Step } from '../engine/steps.js';
import { waitUntilReady } from '../engine/wait.js';
import { allInstances, confirmOrYes, formatMs, markRollbackData, markServingData, onceStep, openJournal, requireCloud, savePlan, sshAccess, type StepTime } from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { resolveTarget, type TargetFlags } from './target.js';

export interface RollbackFlags extends GlobalFlags, TargetFlags {
  dryRun?: boolean;
  holdSeconds?: string;
  timeout?: string;
  identityFile?: string;
  forceUnlock?: boolean;
}

interface RollbackPlan {
  name: string;
  region: string;
  operation: string;
  strategy: 'clone' | 'move';
  version: string;
  rollbackInstanceId: string;
  availabilityZone: string;
  upgradedInstanceId?: string;
  snapshotId?: string;
  allocationId?: string;
  host?: string;
  holdSeconds: number;
  timeoutMinutes: number;
}

export interface RollbackResult {
  name: string;
  region: string;
  version: string;
  strategy: 'clone' | 'move';
  instanceId: string;
  upgradedInstanceId?: string;
  restoredVolumeId?: string;
  downtimeMs?: number;
  steps: StepTime[];
  dryRun?: boolean;
}

/** Step ids, stable for the journal and the fault-injection tests. */
export const ROLLBACK_STEP_IDS = ['stop-upgraded-instance', 'restore-data-volume', 'attach-data-volume', 'start-rollback-point', 'move-elastic-ip', 'wait-for-version'] as const;

async function planRollback(deps: Deps, cloud: Cloud, name: string, region: string, flags: RollbackFlags, operation: string): Promise<RollbackPlan> {
  const d = await cloud.findDeployment(name);
  const point = allInstances(d).find((i) => i.tags[TAG_ROLE] === 'rollback-point');
  if (!point) {
    throw new UsageError(`Deployment ${name} in aws ${region} has no rollback point (no upgrade left one, or it was pruned)`, {
      code: 'no-rollback-point',
      remediation: `See the backups with \`${deps.program} backups ${name} --region ${region}\` and restore one with \`${deps.program} restore\`.`,
    });
  }
  const upgraded = allInstances(d).find((i) => i.tags[TAG_ROLE] === 'instance' && i.id !== point.id);
  const strategy = point.tags[TAG_STRATEGY] === 'move' ? 'move' : 'clone';
  const snapshotId = point.tags['sourcegraph-launch:rollback-snapshot'];
  if (strategy === 'move' && !snapshotId) throw new CloudError('no-rollback-snapshot', `The rollback point ${point.id} names no snapshot to restore its data from`);
  const address = d.addresses.find((a) => a.instanceId === upgraded?.id || a.instanceId === point.id) ?? d.addresses[0];
  const holdSeconds = flags.holdSeconds !== undefined ? Number(flags.holdSeconds) : 90;
  if (!Number.isInteger(holdSeconds) || holdSeconds < 0) throw new UsageError(`--hold-seconds: "${flags.holdSeconds}" must be a whole number of seconds`);
  return {
    name,
    region,
    operation,
    strategy,
    version: point.tags[TAG_SOURCE_VERSION] ?? point.tags['sourcegraph-launch:version'] ?? '',
    rollbackInstanceId: point.id,
    availabilityZone: point.availabilityZone,
    upgradedInstanceId: upgraded?.id,
    snapshotId,
    allocationId: address?.allocationId,
    host: address?.publicIp,
    holdSeconds,
    timeoutMinutes: flags.timeout !== undefined ? Number(flags.timeout) : 45,
  };
}

export async function runRollback(deps: Deps, nameArg: string | undefined, flags: RollbackFlags): Promise<RollbackResult> {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'rollback', { marker: true, forceUnlock: flags.forceUnlock });
  try {
    const open = openJournal(deps, target, 'rollback');
    const plan: RollbackPlan = open.savedPlan && !flags.dryRun
      ? (JSON.parse(open.savedPlan) as RollbackPlan)
      : await planRollback(deps, cloud, target.name, target.region, flags, open.journal.id);

    io.info(`\nrollback ${plan.name} (aws ${plan.region}) to ${plan.version} (${plan.strategy}):`);
    if (plan.upgradedInstanceId) io.info(`  stop the upgraded instance ${plan.upgradedInstanceId} (kept, with its data, until \`prune\`)`);
    if (plan.strategy === 'move') io.info(`  create a data volume from the pre-upgrade snapshot ${plan.snapshotId} and attach it to ${plan.rollbackInstanceId} as ${AWS_DATA_DEVICE}`);
    else io.info(`  ${plan.rollbackInstanceId} still has its untouched pre-upgrade data volume`);
    io.info(`  start ${plan.rollbackInstanceId}${plan.allocationId ? `, move the Elastic IP ${plan.host} back` : ''}, wait until /healthz reports ${plan.version}`);
    if (flags.dryRun) {
      const result: RollbackResult = { name: plan.name, region: plan.region, version: plan.version, strategy: plan.strategy, instanceId: plan.rollbackInstanceId, steps: [], dryRun: true };
      if (io.json) io.result(result);
      else io.info('Dry run: nothing was changed.');
      return result;
    }
    if (!open.savedPlan) await confirmOrYes(deps, flags, `Roll ${plan.name} back to ${plan.version}?`, 'roll back');
    savePlan(open, plan);

    const times: StepTime[] = [];
    const ctx: { restoredVolumeId?: string; stoppedAt?: number; healthyAt?: number; host?: string } = { host: plan.host };
    const ssh = sshAccess(deps, open.record, flags.identityFile);
    const J = open.journal;
    const steps: Step<typeof ctx>[] = [];
    if (plan.upgradedInstanceId) {
      steps.push(
        onceStep<typeof ctx>(J, times, {
          id: 'stop-upgraded-instance',
          title: `Stop the upgraded instance ${plan.upgradedInstanceId}`,
          run: async (c) => {
            c.stoppedAt = Date.now();
            await cloud.tagResources([plan.upgradedInstanceId!], { [TAG_ROLE]: 'rolled-back' });
            await cloud.stopInstance(plan.upgradedInstanceId!);
            await cloud.waitForInstanceState(plan.upgradedInstanceId!, 'stopped', 15 * 60_000);
            const upgradedData = (await cloud.describeInstance(plan.upgradedInstanceId!))?.volumes.find((v) => v.device === AWS_DATA_DEVICE)?.volumeId;
            if (upgradedData) await markRollbackData(cloud, plan.name, upgradedData, new Date(deps.clock.now()));
            return { summary: 'stopped (kept with its data)', result: { at: String(c.stoppedAt) } };
          },
          restore: (c, r) => {
            c.stoppedAt = Number(r.at);
          },
        }),
      );
    }
    if (plan.strategy === 'move') {
      steps.push(
        onceStep<typeof ctx>(J, times, {
          id: 'restore-data-volume',
          title: `Create a data volume from the pre-upgrade snapshot ${plan.snapshotId}`,
          run: async (c) => {
            const snapshot = await cloud.describeSnapshot(plan.snapshotId!);
            if (!snapshot) throw new CloudError('snapshot-not-found', `The pre-upgrade snapshot ${plan.snapshotId} no longer exists`);
            const volume = await cloud.createVolumeFromSnapshot({
              deployment: plan.name,
              version: plan.version,
              availabilityZone: plan.availabilityZone,
              volume: { snapshotId: snapshot.id, sizeGiB: snapshot.sizeGiB, type: 'gp3', kmsKeyId: snapshot.kmsKeyId },
              operation: `${plan.operation}:rollback`,
              clientToken: `sgl-${plan.operation}-rollback`,
            });
            await cloud.waitForVolumeAvailable(volume.id, 10 * 60_000).catch(async (e: unknown) => {
              if ((await cloud.describeVolume(volume.id))?.attachedTo !== plan.rollbackInstanceId) throw e;
            });
            c.restoredVolumeId = volume.id;
            return { summary: volume.id, result: { volumeId: volume.id } };
          },
          restore: (c, r) => {
            c.restoredVolumeId = r.volumeId;
          },
        }),
        onceStep<typeof ctx>(J, times, {
          id: 'attach-data-volume',
          title: `Attach it to ${plan.rollbackInstanceId} as ${AWS_DATA_DEVICE}`,
          run: async (c) => {
            await cloud.attachVolume(c.restoredVolumeId!, plan.rollbackInstanceId, AWS_DATA_DEVICE, 10 * 60_000);
            return { summary: `${c.restoredVolumeId} attached` };
          },
        }),
      );
    }
    steps.push(
      onceStep<typeof ctx>(J, times, {
        id: 'start-rollback-point',
        title: `Start ${plan.rollbackInstanceId} (${plan.version})`,
        run: async (c) => {
          c.stoppedAt ??= Date.now();
          await cloud.tagResources([plan.rollbackInstanceId], { [TAG_ROLE]: 'instance' });
          const data = (await cloud.describeInstance(plan.rollbackInstanceId))?.volumes.find((v) => v.device === AWS_DATA_DEVICE)?.volumeId;
          if (data) await markServingData(cloud, plan.name, data);
          await cloud.startInstance(plan.rollbackInstanceId);
          await cloud.waitForInstanceState(plan.rollbackInstanceId, 'running', 15 * 60_000);
          return { summary: 'running' };
        },
      }),
    );
    if (plan.allocationId) {
      steps.push(
        onceStep<typeof ctx>(J, times, {
          id: 'move-elastic-ip',
          title: `Move the Elastic IP ${plan.host} back to ${plan.rollbackInstanceId}`,
          run: async (c) => {
            const address = await cloud.associateAddress(plan.allocationId!, plan.rollbackInstanceId);
            c.host = address?.publicIp ?? c.host;
            return { summary: `${c.host} → ${plan.rollbackInstanceId}` };
          },
        }),
      );
    }
    steps.push(
      onceStep<typeof ctx>(J, times, {
        id: 'wait-for-version',
        title: `Wait until /healthz reports ${plan.version} for ${plan.holdSeconds} s`,
        run: async (c) => {
          const host = plan.allocationId ? c.host : (await cloud.describeInstance(plan.rollbackInstanceId))?.publicIp;
          await waitUntilReady(
            { cloud, connectRemote: deps.connectRemote, io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
            {
              instanceId: plan.rollbackInstanceId,
              version: plan.version,
              deploymentName: plan.name,
              host,
              ssh,
              totalTimeoutMs: plan.timeoutMinutes * 60_000,
              holdMs: plan.holdSeconds * 1000,
              pollMs: deps.env.SOURCEGRAPH_LAUNCH_POLL_MS ? Number(deps.env.SOURCEGRAPH_LAUNCH_POLL_MS) : undefined,
              resumeCommand: `${deps.program} rollback ${plan.name} --region ${plan.region} --yes`,
            },
          );
          c.healthyAt = Date.now() - plan.holdSeconds * 1000;
          c.host = host;
          return { summary: `${plan.version} serving` };
        },
      }),
    );

    try {
      await runSteps(steps, ctx, { journal: J, save: open.save, io, signal: deps.signal, fault: deps.env.SOURCEGRAPH_LAUNCH_FAULT });
    } catch (e) {
      const base = e instanceof LaunchError ? e : new CloudError('rollback-failed', e instanceof Error ? e.message : String(e), { cause: e });
      throw new LaunchError(base.code, base.exitCode, base.message, {
        cause: e,
        details: base.details,
        remediation: `No data was deleted. Re-run \`${deps.program} rollback ${plan.name} --region ${plan.region} --yes\` to continue the rollback.`,
      });
    }
    open.record.version = plan.version;
    open.record.instanceId = plan.rollbackInstanceId;
    open.save(J);
    const result: RollbackResult = {
      name: plan.name,
      region: plan.region,
      version: plan.version,
      strategy: plan.strategy,
      instanceId: plan.rollbackInstanceId,
      upgradedInstanceId: plan.upgradedInstanceId,
      restoredVolumeId: ctx.restoredVolumeId,
      downtimeMs: ctx.stoppedAt !== undefined && ctx.healthyAt !== undefined ? Math.max(0, ctx.healthyAt - ctx.stoppedAt) : undefined,
      steps: times,
    };
    if (io.json) io.result(result);
    else {
      io.success(`${plan.name} is back on ${plan.version} (${plan.rollbackInstanceId})${ctx.host ? ` at http://${ctx.host}` : ''}.`);
      if (result.downtimeMs !== undefined) io.info(`Downtime: ${formatMs(result.downtimeMs)}.`);
      if (plan.upgradedInstanceId) io.info(`The upgraded instance ${plan.upgradedInstanceId} is stopped with its data; \`${deps.program} prune ${plan.name}\` removes it.`);
    }
    return result;
  } finally {
    await hold?.release();
  }
}

export function isRollbackPoint(i: InstanceInfo): boolean {
  return i.tags[TAG_ROLE] === 'rollback-point';
}
