// `restore [name] --snapshot <id>`: validate → plan (or the plan of an unfinished restore of the same
// snapshot) → show it → ask → run the restore workflow → report. A dry run shows the request and
// changes nothing.
import type { RestoreFlags } from '../cli/commands/backup.js';
import type { Cloud, CloudRequest } from '../cloud/port.js';
import { UsageError } from '../core/errors.js';
import { validateTimeoutMinutes } from '../core/validate.js';
import { checkHttpsAfterWait, type HttpsCheck } from '../workflows/https-check.js';
import { holdDeployment } from '../engine/hold.js';
import { abandonUnfinishedRestore, planRestore, refuseIfRunning, RESTORE_TIMEOUT_MINUTES, runRestoreWorkflow, unfinishedRestore, type RestorePlan, type RestoreResult, type RestoreWait } from '../workflows/restore.js';
import { confirmOrYes, connectCloud } from '../workflows/shared.js';
import { agentNodeName } from '../core/scale-plan.js';
import { agentStepLines } from '../workflows/agents-rejoin.js';
import type { Deps } from './deps.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export async function runRestore(deps: Deps, nameArg: string | undefined, flags: RestoreFlags & TargetFlags): Promise<(RestoreResult & { https?: HttpsCheck }) | { name: string; region: string; dryRun: true; requests: CloudRequest[]; agents?: { name: string; node: string; ready: boolean }[] }> {
  if (!flags.snapshot) throw new UsageError('--snapshot is required: which snapshot to restore (see `backups`)', { code: 'missing-input' });
  const how: RestoreWait = { wait: flags.wait !== false, timeoutMinutes: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : RESTORE_TIMEOUT_MINUTES };
  const target = resolveTarget(deps, nameArg, flags);
  const snapshotId = target.provider.validateSnapshotId(flags.snapshot);
  const imageId = flags.image !== undefined ? target.provider.validateImageId(flags.image) : undefined;
  const cloud = await connectCloud(deps, target);
  const input = { snapshotId, ...(imageId ? { imageId } : {}) };

  if (flags.dryRun) {
    const plan = unfinishedRestore(deps, target, snapshotId)?.plan ?? (await planRestore(deps, cloud, target, input));
    describePlan(deps, target, plan);
    const planned = (plan.agents ?? []).map((id) => ({ name: id, node: agentNodeName(id), ready: false }));
    const result = { name: target.name, region: target.region, dryRun: true as const, requests: cloud.instanceRequests(plan.instance), ...(planned.length ? { agents: planned } : {}) };
    if (deps.io.json) deps.io.result(result);
    else deps.io.info('Dry run: nothing was changed.');
    return result;
  }

  const hold = await holdDeployment(deps, cloud, target, 'restore', { marker: false });
  let restored: RestoreResult;
  try {
    restored = await restoreHeld(deps, cloud, target, flags, input, how);
  } finally {
    await hold.release();
  }
  // HTTPS on the user's own domain (after `tls`): verified as browsers see it; a warning at most.
  const https = restored.ready ? await checkHttpsAfterWait(deps, target) : undefined;
  const result = https ? { ...restored, https } : restored;
  if (deps.io.json) deps.io.result(result);
  else {
    const where = result.url ? ` at ${result.url}` : '';
    if (result.ready) deps.io.success(`Instance ${result.instanceId} serves ${result.version}${where} with a data ${target.provider.terms.disk} from ${result.snapshotId}.`);
    else deps.io.success(`Instance ${result.instanceId} runs ${result.version} with a data ${target.provider.terms.disk} from ${result.snapshotId}.`);
    if (result.agents) {
      // With agents the restore waited until Sourcegraph served, then re-joined them.
      for (const a of result.agents) deps.io.info(`  agent ${a.name}: node ${a.node} ${a.ready ? 'Ready' : 'not Ready'}${a.k3sVersion ? ` (k3s ${a.k3sVersion})` : ''}`);
      for (const a of result.agents.filter((x) => x.warning)) deps.io.warn(`Agent ${a.name}: ${a.warning}`);
    }
    if (!result.ready) deps.io.info(`Sourcegraph takes a few minutes to start (--no-wait); check with \`${deps.program} status ${target.name} --region ${target.region}\`.`);
  }
  return result;
}

async function restoreHeld(deps: Deps, cloud: Cloud, target: Target, flags: RestoreFlags, input: { snapshotId: string; imageId?: string }, how: RestoreWait): Promise<RestoreResult> {
  const abandoned = abandonUnfinishedRestore(deps, target, input.snapshotId);
  if (abandoned) deps.io.info(`An unfinished restore of ${abandoned} into ${target.name} is set aside: this run restores ${input.snapshotId}.`);
  const pending = unfinishedRestore(deps, target, input.snapshotId);
  let plan: RestorePlan;
  if (pending) {
    plan = pending.plan;
    // Its own instance may run already; any other still refuses.
    refuseIfRunning(await cloud.findDeployment(target.name), target, plan.operation);
  } else {
    plan = await planRestore(deps, cloud, target, input);
  }
  describePlan(deps, target, plan);
  if (!how.wait && plan.agents?.length) {
    throw new UsageError(`--no-wait cannot be used while ${target.name} has k3s agents (${plan.agents.join(', ')}): they join the restored server only once it serves`, {
      code: 'no-wait-with-agents',
      remediation: 'Leave out --no-wait (bound the wait with --timeout <minutes>).',
    });
  }
  const disk = target.provider.terms.disk;
  for (const i of plan.superseded) {
    deps.io.info(`  ${i.id} (stopped) is superseded: kept as a rollback point with its data ${disk}, which prune never removes without a newer snapshot of it.`);
  }
  await confirmOrYes(deps, flags, `Launch ${target.name} from ${plan.snapshotId}?`, 'restore');
  return runRestoreWorkflow(deps, cloud, target, plan, how);
}

function describePlan(deps: Deps, target: Target, plan: RestorePlan): void {
  deps.io.info(
    `restore ${plan.snapshotId} (${plan.version}, ${plan.snapshotSizeGiB} GiB, from ${plan.source}) as deployment ${target.name}: ` +
      `a new ${plan.instance.machineType} from ${plan.instance.imageId} with ${target.provider.terms.dataDiskSlot} created from the snapshot` +
      (plan.address ? `; ${target.provider.terms.address} ${plan.address.ip} (the URL) moves to it` : '') +
      (plan.balancer ? `; it becomes the only target of the load balancer of tls --tls managed${plan.balancer.healthUrl ? `, and the wait asks ${plan.balancer.healthUrl}` : ''}.` : '.'),
  );
  // The agents (scale) follow once the restored server serves.
  for (const a of agentStepLines(plan.agents ?? [])) deps.io.info(`  ${a.id}: ${a.title}`);
}
