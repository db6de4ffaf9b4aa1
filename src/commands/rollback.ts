// `rollback [name]`: Validate → hold the deployment → plan (or resume the saved plan) → show what
// happens → confirm → run the rollback workflow (src/workflows/rollback.ts) → report.
import type { RollbackFlags } from '../cli/commands/upgrade.js';
import { validateTimeoutMinutes } from '../core/validate.js';
import { holdDeployment } from '../engine/hold.js';
import { planRollback, runRollbackWorkflow, type RollbackPlan, type RollbackResult } from '../workflows/rollback.js';
import { connectCloud, formatMs, openJournal, savedPlan, savePlan, sshAccess } from '../workflows/shared.js';
import { checkHttpsAfterWait } from '../workflows/https-check.js';
import { agentStepLines } from '../workflows/agents-rejoin.js';
import { agentNodeName } from '../core/scale-plan.js';
import type { Deps } from './deps.js';
import { resolveTarget, type TargetFlags } from './target.js';
import { confirmOrYes } from '../workflows/shared.js';
import { validateHoldSeconds } from './upgrade.js';

export type { RollbackResult } from '../workflows/rollback.js';

export async function runRollback(deps: Deps, nameArg: string | undefined, flags: RollbackFlags & TargetFlags): Promise<RollbackResult> {
  const { io } = deps;
  const holdSeconds = validateHoldSeconds(flags.holdSeconds);
  const timeoutMinutes = flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : 45;
  const target = resolveTarget(deps, nameArg, flags);
  const { terms } = target.provider;
  const cloud = await connectCloud(deps, target);
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'rollback', { marker: true, ...(flags.forceUnlock ? { forceUnlock: true } : {}) });
  try {
    const open = openJournal(deps, target, 'rollback');
    const saved = open.resumed && !flags.dryRun ? savedPlan<RollbackPlan>(open) : undefined;
    const plan = saved ?? (await planRollback(deps, cloud, target, { holdSeconds, timeoutMinutes }, open.journal.id));

    io.info(`\nrollback ${plan.name} (${plan.cloud} ${plan.region}) to ${plan.version} (${plan.strategy}):`);
    if (plan.upgradedInstanceId) io.info(`  stop the upgraded instance ${plan.upgradedInstanceId} (kept, with its data, until \`prune\`)`);
    if (plan.strategy === 'move') io.info(`  create a data ${terms.disk} from the pre-upgrade snapshot ${plan.snapshotId} and attach it to ${plan.rollbackInstanceId} as its data ${terms.disk}`);
    else io.info(`  ${plan.rollbackInstanceId} still has its untouched pre-upgrade data ${terms.disk}`);
    io.info(`  start ${plan.rollbackInstanceId}${plan.addressId ? `, move the ${terms.address} ${plan.host} back` : ''}${plan.balancer ? ', make it the load balancer\'s only target again' : ''}, wait until ${plan.balancer?.healthUrl ?? '/healthz'} reports ${plan.version}`);
    // The agents (scale) follow once it serves; an agent that fails never undoes the rollback.
    for (const a of agentStepLines(plan.agents ?? [])) io.info(`  ${a.id}: ${a.title}`);
    if (flags.dryRun) {
      const planned = (plan.agents ?? []).map((id) => ({ name: id, node: agentNodeName(id), ready: false }));
      const result: RollbackResult = { name: plan.name, region: plan.region, version: plan.version, strategy: plan.strategy, instanceId: plan.rollbackInstanceId, steps: [], dryRun: true, ...(planned.length ? { agents: planned } : {}) };
      if (io.json) io.result(result);
      else io.info('Dry run: nothing was changed.');
      return result;
    }
    if (!saved) await confirmOrYes(deps, flags, `Roll ${plan.name} back to ${plan.version}?`, 'roll back');
    savePlan(open, plan);

    const ssh = sshAccess(deps, target, open.record, flags.identityFile);
    const rolledBack = await runRollbackWorkflow(deps, cloud, target, plan, open, ssh);
    // HTTPS on the user's own domain (after `tls`): verified as browsers see it; a warning at most.
    const https = await checkHttpsAfterWait(deps, target);
    const result = https ? { ...rolledBack, https } : rolledBack;
    if (io.json) io.result(result);
    else {
      io.success(`${plan.name} is back on ${plan.version} (${plan.rollbackInstanceId})${result.url ? ` at ${result.url}` : ''}.`);
      if (result.downtimeMs !== undefined) io.info(`Downtime: ${formatMs(result.downtimeMs)}.`);
      if (plan.upgradedInstanceId) io.info(`The upgraded instance ${plan.upgradedInstanceId} is stopped with its data; \`${deps.program} prune ${plan.name}\` removes it.`);
      for (const a of result.agents ?? []) io.info(`  agent ${a.name}: node ${a.node} ${a.ready ? 'Ready' : 'not Ready'}${a.k3sVersion ? ` (k3s ${a.k3sVersion})` : ''}`);
      for (const a of (result.agents ?? []).filter((x) => x.warning)) io.warn(`Agent ${a.name}: ${a.warning}`);
    }
    return result;
  } finally {
    await hold?.release();
  }
}
