// `prune [name]`: the leftovers of finished upgrades and rollbacks (stopped rollback points and
// rolled-back instances, detached data volumes, upgrade snapshots, backups beyond --retain) with
// their monthly cost, removed after confirmation. The serving instance and its data volume are
// never touched, and nothing is removed unless that instance answers /healthz with its version.
import { TAG_PURPOSE, TAG_ROLE, TAG_VERSION, type VolumeInfo } from '../cloud/cloud.js';
import { UsageError } from '../core/errors.js';
import { AWS_PRICES, formatUsd } from '../core/presets.js';
import { normalizeVersion } from '../core/versions.js';
import { allInstances, confirmOrYes, probeVersion, requireCloud } from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { resolveTarget, type TargetFlags } from './target.js';

export interface PruneFlags extends GlobalFlags, TargetFlags {
  retain?: string;
  dryRun?: boolean;
}

export interface PruneItem {
  kind: 'instance' | 'volume' | 'snapshot';
  id: string;
  detail: string;
  monthlyUsd: number;
}

function volumeMonthlyUsd(v: Pick<VolumeInfo, 'sizeGiB' | 'type' | 'iops'>): number {
  return v.type === 'io2' ? v.sizeGiB * AWS_PRICES.io2GiBMonth + (v.iops ?? 0) * AWS_PRICES.io2IopsMonth : v.sizeGiB * AWS_PRICES.gp3GiBMonth;
}

export async function runPrune(deps: Deps, nameArg: string | undefined, flags: PruneFlags) {
  const { io } = deps;
  const retain = flags.retain !== undefined ? Number(flags.retain) : undefined;
  if (retain !== undefined && (!Number.isInteger(retain) || retain < 0)) throw new UsageError(`--retain: "${flags.retain}" must be a whole number of backups to keep`);
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  const d = await cloud.findDeployment(target.name);
  const serving = d.instance && d.instance.tags[TAG_ROLE] === 'instance' ? d.instance : undefined;
  if (!serving) throw new UsageError(`Deployment ${target.name} has no serving instance: prune keeps everything until one serves`, { code: 'deployment-not-serving' });
  // The leftovers are the way back: remove them only once the current instance demonstrably serves
  // its version and no upgrade or rollback is half done.
  const unfinished = deps.state.getDeployment(target.cloud, target.region, target.name)?.journal;
  if (unfinished && !unfinished.finishedAt && (unfinished.command === 'upgrade' || unfinished.command === 'rollback')) {
    throw new UsageError(`An ${unfinished.command} of ${target.name} has not finished: prune keeps the rollback point until it has`, {
      code: 'operation-unfinished',
      remediation: `Re-run the ${unfinished.command} to finish it (or roll back) first.`,
    });
  }
  const servingVersion = normalizeVersion(serving.tags[TAG_VERSION] ?? '');
  const host = d.addresses.find((a) => a.instanceId === serving.id)?.publicIp ?? serving.publicIp ?? serving.privateIp;
  const seen = serving.state === 'running' ? await probeVersion(deps, host) : undefined;
  if (!servingVersion || seen !== servingVersion) {
    throw new UsageError(
      `Cannot confirm that ${serving.id} serves ${servingVersion ?? 'its version'} (${serving.state === 'running' ? `/healthz reported ${seen ?? 'nothing'}` : serving.state}): prune keeps the rollback point`,
      { code: 'deployment-not-serving', remediation: `Check with \`${deps.program} status ${target.name} --region ${target.region}\`; prune once it serves.` },
    );
  }
  const keepVolumes = new Set(serving.volumes.map((v) => v.volumeId));
  const items: PruneItem[] = [];
  const leftovers = allInstances(d).filter((i) => i.id !== serving.id && ['rollback-point', 'rolled-back', 'intermediate'].includes(i.tags[TAG_ROLE] ?? '') && i.state === 'stopped');
  for (const i of leftovers) items.push({ kind: 'instance', id: i.id, detail: `${i.tags[TAG_ROLE]} ${i.tags['sourcegraph-launch:version'] ?? ''} ${i.state} (its root volume goes with it)`, monthlyUsd: 50 * AWS_PRICES.gp3GiBMonth });
  const leftoverIds = new Set(leftovers.map((i) => i.id));
  for (const v of d.volumes.filter((v) => v.tags[TAG_ROLE] === 'data-volume' && !keepVolumes.has(v.id))) {
    if (v.attachedTo && !leftoverIds.has(v.attachedTo)) continue;
    items.push({ kind: 'volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} data volume (${v.tags['sourcegraph-launch:version'] ?? '?'})`, monthlyUsd: volumeMonthlyUsd(v) });
  }
  const snapshots = await cloud.listSnapshots(target.name);
  const backups = snapshots.filter((s) => s.tags[TAG_PURPOSE] === 'backup');
  for (const s of snapshots) {
    const purpose = s.tags[TAG_PURPOSE] ?? '';
    const upgradeSnapshot = purpose === 'pre-upgrade-live' || purpose === 'pre-upgrade-final';
    const beyondRetention = purpose === 'backup' && retain !== undefined && backups.indexOf(s) >= retain;
    if (upgradeSnapshot || beyondRetention) {
      items.push({ kind: 'snapshot', id: s.id, detail: `${purpose} of ${s.tags['sourcegraph-launch:source-version'] ?? '?'} (${s.sizeGiB} GiB volume)`, monthlyUsd: s.sizeGiB * AWS_PRICES.snapshotGiBMonth });
    }
  }
  const total = items.reduce((sum, i) => sum + i.monthlyUsd, 0);
  if (!items.length) {
    const result = { name: target.name, region: target.region, items, removed: [] };
    if (io.json) io.result(result);
    else io.info(`Nothing to prune for ${target.name}.`);
    return result;
  }
  io.info(`prune ${target.name} (aws ${target.region}) would remove (serving instance ${serving.id} and its data are kept):`);
  for (const i of items) io.info(`  ${i.kind.padEnd(8)} ${i.id.padEnd(22)} ${i.detail}  ≈ ${formatUsd(i.monthlyUsd)}/month`);
  io.info(`Together about ${formatUsd(total)}/month (snapshots: upper bound). Without them there is no rollback to the version before the upgrade.`);
  if (flags.dryRun) {
    const result = { name: target.name, region: target.region, items, monthlyUsd: total, dryRun: true };
    if (io.json) io.result(result);
    return result;
  }
  await confirmOrYes(deps, flags, `Remove these ${items.length} leftovers of ${target.name}?`, 'prune');
  const release = deps.state.lock(target.cloud, target.region, target.name);
  try {
    for (const i of items.filter((x) => x.kind === 'instance')) await cloud.terminateInstance(i.id);
    for (const i of items.filter((x) => x.kind === 'instance')) await cloud.waitForInstanceState(i.id, 'terminated', 15 * 60_000);
    for (const i of items.filter((x) => x.kind === 'volume')) {
      await cloud.waitForVolumeAvailable(i.id, 10 * 60_000);
      await cloud.deleteVolume(i.id);
    }
    for (const i of items.filter((x) => x.kind === 'snapshot')) await cloud.deleteSnapshot(i.id);
  } finally {
    release();
  }
  const result = { name: target.name, region: target.region, items, monthlyUsd: total, removed: items.map((i) => i.id) };
  if (io.json) io.result(result);
  else io.success(`Removed ${items.length} leftovers, saving about ${formatUsd(total)}/month.`);
  return result;
}
