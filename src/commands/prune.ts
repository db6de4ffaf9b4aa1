// `prune [name]`: removes what upgrades, rollbacks and restores left behind as a way back, after
// showing each item, why it qualifies (or stays) and its monthly cost. Validate → hold → list →
// check the deployment serves → ask → run the prune workflow → report. `--dry-run` shows the list
// without reaching /healthz and changes nothing.
import type { PruneFlags } from '../cli/commands/backup.js';
import type { Cloud } from '../cloud/port.js';
import { UsageError } from '../core/errors.js';
import { formatUsd } from '../core/prices.js';
import type { PruneItem } from '../core/prune-plan.js';
import { holdDeployment } from '../engine/hold.js';
import { findLeftovers, removeLeftovers, requireServing, type PruneOptions } from '../workflows/prune.js';
import { confirmOrYes, connectCloud } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface PruneResult {
  name: string;
  region: string;
  items: PruneItem[];
  kept: PruneItem[];
  monthlyUsd: number;
  dryRun?: true;
  removed?: string[];
}

export async function runPrune(deps: Deps, nameArg: string | undefined, flags: PruneFlags & TargetFlags): Promise<PruneResult> {
  const retain = flags.retain !== undefined ? Number(flags.retain) : undefined;
  if (retain !== undefined && (!Number.isInteger(retain) || retain < 0)) throw new UsageError(`--retain: "${flags.retain}" must be a whole number of backups to keep`);
  const options: PruneOptions = { ...(retain !== undefined ? { retain } : {}), snapshotFirst: Boolean(flags.snapshotFirst) };
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await connectCloud(deps, target);
  // Held before listing: nothing changes between the list shown and what is removed.
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'prune', { marker: true, ...(flags.forceUnlock ? { forceUnlock: true } : {}) });
  try {
    return await pruneHeld(deps, cloud, target, flags, options);
  } finally {
    await hold?.release();
  }
}

async function pruneHeld(deps: Deps, cloud: Cloud, target: Target, flags: PruneFlags, options: PruneOptions): Promise<PruneResult> {
  const { io } = deps;
  const { deployment, saved, resumes } = await findLeftovers(deps, cloud, target, options, { setAside: !flags.dryRun });
  const { plan } = saved;
  const total = plan.remove.reduce((sum, i) => sum + i.monthlyUsd, 0);
  const base: PruneResult = { name: target.name, region: target.region, items: plan.remove, kept: plan.keep, monthlyUsd: total };

  if (resumes) io.info(`The prune started ${resumes} did not finish: it goes on with the list it showed then.`);
  const line = (i: PruneItem) => `  ${i.kind.padEnd(8)} ${i.id.padEnd(22)} ${i.detail}  ≈ ${formatUsd(i.monthlyUsd)}/month\n             ${i.reason}`;
  if (plan.remove.length) {
    io.info(`prune ${target.name} (${target.cloud} ${target.region}) would remove:`);
    for (const i of plan.remove) io.info(line(i));
    io.info(`Together about ${formatUsd(total)}/month (snapshots: upper bound).`);
  } else io.info(`Nothing to prune for ${target.name}.`);
  if (plan.keep.length) {
    io.info('Kept:');
    for (const i of plan.keep) io.info(line(i));
  }
  if (flags.dryRun) {
    const result: PruneResult = { ...base, dryRun: true };
    if (io.json) io.result(result);
    else io.info('Dry run: nothing was changed.');
    return result;
  }
  if (!plan.remove.length) {
    const result: PruneResult = { ...base, removed: [] };
    if (io.json) io.result(result);
    return result;
  }
  await requireServing(deps, target, deployment);
  if (plan.remove.some((i) => i.kind === 'instance')) io.info('Without the rollback point there is no `rollback` to the version before the upgrade.');
  await confirmOrYes(deps, flags, `Remove these ${plan.remove.length} leftovers of ${target.name}?`, 'prune');

  const removed = await removeLeftovers(deps, cloud, target, saved);
  const result: PruneResult = { ...base, removed };
  if (io.json) io.result(result);
  else io.success(`Removed ${plan.remove.length} leftovers, saving about ${formatUsd(total)}/month.`);
  return result;
}
