// `upgrade [name]`: Validate → hold the deployment → plan (or resume the saved plan) → show the
// chain, the steps, the costs and the downtime → confirm → run the upgrade workflow → report and
// recommend (rollback, prune). The workflow (src/workflows/upgrade.ts) does the work.
import type { UpgradeFlags } from '../cli/commands/upgrade.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { UsageError } from '../core/errors.js';
import { chooseStrategy, isUpgradeStrategy, UPGRADE_STRATEGIES, type UpgradeStep, type UpgradeStrategy } from '../core/upgrade-plan.js';
import { validateSize, validateTimeoutMinutes } from '../core/validate.js';
import { normalizeVersion } from '../core/versions.js';
import { holdDeployment } from '../engine/hold.js';
import { confirmOrYes, connectCloud, formatMs, openJournal, savedPlan, savePlan, sshAccess } from '../workflows/shared.js';
import {
  DEFAULT_INIT_RATE_MIBPS,
  firstLaunchSpec,
  planUpgrade,
  runUpgradeWorkflow,
  stepsOf,
  type UpgradeOptions,
  type UpgradePlanState,
  type UpgradeResult,
} from '../workflows/upgrade.js';
import { checkHttpsAfterWait } from '../workflows/https-check.js';
import { agentStepLines } from '../workflows/agents-rejoin.js';
import { agentNodeName } from '../core/scale-plan.js';
import type { Deps } from './deps.js';
import { formatRequests } from './requests-text.js';
import { resolveTarget, type TargetFlags } from './target.js';

export type { UpgradeResult } from '../workflows/upgrade.js';

/** The flags that need no cloud, checked before anything else. */
export function validateUpgradeFlags(flags: UpgradeFlags) {
  if (flags.strategy !== undefined && !isUpgradeStrategy(flags.strategy)) {
    throw new UsageError(`--strategy must be ${UPGRADE_STRATEGIES.join(' or ')}, not "${flags.strategy}"`, { code: 'bad-strategy' });
  }
  const to = flags.to?.trim();
  if (to !== undefined && to !== 'latest' && !normalizeVersion(to) && !/^v?\d{1,3}\.\d{1,3}$/.test(to)) {
    throw new UsageError(`--to: "${flags.to}" is not a version (use latest, a minor such as 6.12, or x.y.z)`, { code: 'bad-version' });
  }
  const holdSeconds = validateHoldSeconds(flags.holdSeconds);
  const initRate = flags.initRate !== undefined ? Number(flags.initRate) : undefined;
  if (initRate !== undefined && (!Number.isInteger(initRate) || (initRate !== 0 && (initRate < 100 || initRate > 300)))) {
    throw new UsageError(`--init-rate: "${flags.initRate}" must be 0 (lazy loading) or 100–300 MiB/s`);
  }
  return {
    ...(to !== undefined ? { to } : {}),
    ...(flags.strategy !== undefined ? { strategy: flags.strategy as UpgradeStrategy } : {}),
    ...(flags.size !== undefined ? { size: validateSize(flags.size) } : {}),
    holdSeconds,
    timeoutMinutes: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : 45,
    initRate,
  };
}

export function validateHoldSeconds(text: string | undefined): number {
  const holdSeconds = text !== undefined ? Number(text) : 90;
  if (!Number.isInteger(holdSeconds) || holdSeconds < 0 || holdSeconds > 3600) {
    throw new UsageError(`--hold-seconds: "${text}" must be a whole number of seconds between 0 and 3600`);
  }
  return holdSeconds;
}

/** The provisioned initialisation rate of a clone's disk: only where the cloud has one. */
function initRateFor(provider: ProviderDescriptor, supported: boolean, asked: number | undefined): number | undefined {
  if (asked === 0) return undefined;
  if (!supported) {
    if (asked !== undefined) {
      throw new UsageError(`--init-rate: ${provider.displayName} has no provisioned initialisation rate for disks made from snapshots`, {
        code: 'init-rate-unsupported',
        remediation: 'Leave --init-rate out (or pass 0): the cloned disk loads its blocks lazily from the snapshot.',
      });
    }
    return undefined;
  }
  return asked ?? DEFAULT_INIT_RATE_MIBPS;
}

export async function runUpgrade(deps: Deps, nameArg: string | undefined, flags: UpgradeFlags & TargetFlags): Promise<UpgradeResult> {
  const { io } = deps;
  const { initRate, ...v } = validateUpgradeFlags(flags);
  const target = resolveTarget(deps, nameArg, flags);
  const { provider } = target;
  const image = flags.image !== undefined ? provider.validateImageId(flags.image) : undefined;
  const cloud = await connectCloud(deps, target);
  const options: UpgradeOptions = {
    ...v,
    ...(image ? { image } : {}),
    ...(flags.identityFile ? { identityFile: flags.identityFile } : {}),
  };
  const rate = initRateFor(provider, cloud.capabilities.diskInitializationRate, initRate);
  if (rate !== undefined) options.initRateMiBps = rate;

  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'upgrade', { marker: true, ...(flags.forceUnlock ? { forceUnlock: true } : {}) });
  try {
    const open = openJournal(deps, target, 'upgrade');
    let plan = open.resumed && !flags.dryRun ? savedPlan<UpgradePlanState>(open) : undefined;
    const resuming = plan !== undefined;
    if (plan) {
      io.info(`Resuming the upgrade of ${plan.name} from ${plan.from} to ${plan.to} (${plan.strategy}).`);
    } else {
      const planned = await planUpgrade(deps, cloud, target, options, open.journal.id);
      if ('nothing' in planned) {
        if (io.json) io.result({ name: target.name, region: target.region, upToDate: true, message: planned.nothing });
        else io.success(planned.nothing);
        return { name: target.name, region: target.region, from: '', to: '', strategy: 'clone', hops: [], steps: [] };
      }
      plan = planned;
    }
    const ssh = sshAccess(deps, target, open.record, flags.identityFile);
    const steps = stepsOf(plan, provider, Boolean(ssh));
    describePlan(deps, provider, plan, steps, cloud.capabilities.permissionPreflight);

    if (flags.dryRun) {
      const requests = cloud.instanceRequests(firstLaunchSpec(plan));
      const named: NonNullable<UpgradeResult['plan']> = steps.map((s) => (s.action === 'move-address' ? { ...s, action: provider.terms.addressMoveStep } : s));
      const lastHop = plan.hops.length - 1;
      for (const a of agentStepLines(plan.agents ?? [])) named.push({ id: a.id, action: 'rejoin-agents', hop: lastHop, from: plan.from, to: plan.to, title: a.title, phase: 'verify', downtime: false });
      const planned = (plan.agents ?? []).map((id) => ({ name: id, node: agentNodeName(id), ready: false }));
      const result: UpgradeResult = { name: plan.name, region: plan.region, from: plan.from, to: plan.to, strategy: plan.strategy, hops: plan.hops, steps: [], dryRun: true, plan: named, ...(planned.length ? { agents: planned } : {}) };
      if (io.json) io.result({ ...result, requests });
      else {
        io.info(`Dry run: the first hop would send:\n${formatRequests(requests)}`);
        io.info('Nothing was changed.');
      }
      return result;
    }
    if (!resuming) await confirmOrYes(deps, flags, `Upgrade ${plan.name} from ${plan.from} to ${plan.to} (${plan.strategy})?`, 'upgrade');
    savePlan(open, plan);
    const upgraded = await runUpgradeWorkflow(deps, cloud, target, plan, steps, open, ssh);
    // HTTPS on the user's own domain (after `tls`): verified as browsers see it; a warning at most.
    const https = await checkHttpsAfterWait(deps, target);
    const result = https ? { ...upgraded, https } : upgraded;
    report(deps, provider, plan, result);
    return result;
  } finally {
    await hold?.release();
  }
}

function describePlan(deps: Deps, provider: ProviderDescriptor, p: UpgradePlanState, steps: UpgradeStep[], preflight: boolean): void {
  const { io } = deps;
  const costs = chooseStrategy({ requested: p.strategy, dataVolume: p.dataDisk, prices: provider.storagePricing() });
  const chain = p.hops.length > 1 ? ` in ${p.hops.length} hops (${p.hops.map((h) => h.to).join(' → ')}), one minor at a time, each verified before the next` : '';
  io.info(`\nupgrade ${p.name} (${p.cloud} ${p.region}): ${p.from} → ${p.to}${chain}`);
  for (const hop of p.hops) io.info(`  ${hop.from} → ${hop.to}: image ${hop.imageId} (${hop.source})`);
  io.info(`Strategy: ${p.strategy}${p.strategy === 'clone' ? ' (default, safest)' : ''}. ${costs.chosen.explanation}`);
  for (const c of costs.costs) io.info(`  ${c.summary}; rollback ${c.rollback}`);
  if (p.strategy === 'clone') {
    io.info(
      p.initRateMiBps
        ? `The cloned ${provider.terms.disk} asks ${provider.dataDiskLimit.name} for a provisioned initialisation rate of ${p.initRateMiBps} MiB/s (billed per GiB initialised; --init-rate 0 turns it off).`
        : `The cloned ${provider.terms.disk} loads its blocks lazily from the snapshot: the first hours can be slower.`,
    );
  }
  if (!preflight) io.info(`${provider.displayName} cannot check a launch without making it: a refused launch shows only at cutover (then resume or roll back).`);
  io.info('Steps (⏸ = Sourcegraph is down):');
  for (const s of steps) io.info(`  ${s.downtime ? '⏸' : ' '} ${s.id.padEnd(34)} ${s.title}`);
  // The agents (scale) follow once the new server serves; an agent that fails never undoes the upgrade.
  for (const a of agentStepLines(p.agents ?? [])) io.info(`    ${a.id.padEnd(34)} ${a.title}`);
  io.info(
    'Expected downtime: stopping the old instance, the final (incremental) snapshot, ' +
      (p.strategy === 'clone' ? 'launching the new instance with its data (inside the window, so it never boots without data), ' : `the ${provider.terms.disk} move, `) +
      'then Sourcegraph starting and migrating: typically 10–20 minutes per hop.',
  );
}

function report(deps: Deps, provider: ProviderDescriptor, p: UpgradePlanState, result: UpgradeResult): void {
  const { io } = deps;
  if (io.json) {
    io.result(result);
    return;
  }
  const disk = provider.terms.disk;
  io.success(`${p.name} upgraded from ${p.from} to ${p.to}${result.url ? ` at ${result.url}` : ''}.`);
  if (result.downtimeMs !== undefined) io.info(`Downtime (old instance stopped → ${p.to} healthy): ${formatMs(result.downtimeMs)}.`);
  for (const t of result.steps.filter((x) => !x.resumed)) io.info(`  ${formatMs(t.ms).padStart(12)}  ${t.id}`);
  for (const a of result.agents ?? []) io.info(`  agent ${a.name}: node ${a.node} ${a.ready ? 'Ready' : 'not Ready'}${a.k3sVersion ? ` (k3s ${a.k3sVersion})` : ''}`);
  for (const a of (result.agents ?? []).filter((x) => x.warning)) io.warn(`Agent ${a.name}: ${a.warning}`);
  const init = result.volumeInitialization;
  if (init) {
    io.info(
      init.state === 'completed'
        ? `The cloned data ${disk} ${init.volumeId} is fully initialised.`
        : `The cloned data ${disk} ${init.volumeId} is still loading its blocks from the snapshot (${init.state}${init.progressPercent !== undefined ? `, ${init.progressPercent}%` : ''}); \`${deps.program} status\` shows progress.`,
    );
  }
  const snapshotId = result.rollbackPoint?.snapshotId;
  io.info(
    `Rollback point: ${p.original.instanceId} (stopped${p.strategy === 'clone' ? `, with its untouched data ${disk} ${p.original.dataDiskId}` : `; data from snapshot ${snapshotId}`}). ` +
      `Go back with \`${deps.program} rollback ${p.name} --region ${p.region}\`; when happy, remove it with \`${deps.program} prune ${p.name} --region ${p.region}\`.`,
  );
}
