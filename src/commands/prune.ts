// `prune [name]`: removes what upgrades, rollbacks and restores left behind as a way back, after
// showing each item, why it qualifies and its monthly cost. The rules (planPrune) are the data
// promise: prune never removes a volume whose role is the deployment's data (the serving volume,
// one `destroy` kept, one a relaunch did not reuse), and never the newest copy of any data — a
// rollback volume goes only when a completed snapshot of it was taken after it was last written.
// Nothing is removed unless the serving instance answers /healthz with its version and no upgrade or
// rollback is half done; `--dry-run` shows the list without that check.
import { randomBytes } from 'node:crypto';
import {
  TAG_LAST_WRITTEN,
  TAG_PURPOSE,
  TAG_ROLE,
  TAG_SOURCE_VERSION,
  TAG_VERSION,
  type Cloud,
  type DeploymentResources,
  type InstanceInfo,
  type SnapshotInfo,
  type VolumeInfo,
} from '../cloud/cloud.js';
import { UsageError } from '../core/errors.js';
import { AWS_PRICES, formatUsd } from '../core/presets.js';
import { normalizeVersion } from '../core/versions.js';
import { allInstances, confirmOrYes, probeVersion, requireCloud } from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface PruneFlags extends GlobalFlags, TargetFlags {
  retain?: string;
  dryRun?: boolean;
  forceUnlock?: boolean;
  snapshotFirst?: boolean;
}

export interface PruneItem {
  kind: 'instance' | 'volume' | 'snapshot';
  id: string;
  detail: string;
  /** Why it may go (for removed items) or why it stays (for kept ones). */
  reason: string;
  monthlyUsd: number;
  /** --snapshot-first: snapshot this volume first, then remove it. */
  snapshotFirst?: boolean;
}

export interface PrunePlan {
  remove: PruneItem[];
  keep: PruneItem[];
}

/** Instances an upgrade, rollback or restore left stopped: the way back, not the deployment. */
const LEFTOVER_INSTANCE_ROLES = new Set(['rollback-point', 'rolled-back', 'intermediate']);
const UPGRADE_PURPOSES = new Set(['pre-upgrade-live', 'pre-upgrade-final']);

function volumeMonthlyUsd(v: Pick<VolumeInfo, 'sizeGiB' | 'type' | 'iops'>): number {
  return v.type === 'io2' ? v.sizeGiB * AWS_PRICES.io2GiBMonth + (v.iops ?? 0) * AWS_PRICES.io2IopsMonth : v.sizeGiB * AWS_PRICES.gp3GiBMonth;
}

const at = (iso: string | undefined) => (iso ? Date.parse(iso) : Number.NaN);

/**
 * When the volume's data last changed, as far as we can tell: the tag upgrade and rollback set
 * when its instance stopped for good. An older rollback volume without the tag counts as written
 * until its pre-upgrade-final snapshot (taken after its instance stopped, by construction).
 */
function lastWritten(v: VolumeInfo, snapshots: SnapshotInfo[]): number | undefined {
  const tagged = at(v.tags[TAG_LAST_WRITTEN]);
  if (!Number.isNaN(tagged)) return tagged;
  const final = snapshots.find((s) => s.volumeId === v.id && s.tags[TAG_PURPOSE] === 'pre-upgrade-final');
  return final ? at(final.startTime) : undefined;
}

/** The pure rules: what may go and what stays, each with its reason. */
export function planPrune(d: DeploymentResources, snapshots: SnapshotInfo[], opts: { retain?: number; snapshotFirst?: boolean } = {}): PrunePlan {
  const remove: PruneItem[] = [];
  const keep: PruneItem[] = [];
  const serving = d.instance && d.instance.tags[TAG_ROLE] === 'instance' ? d.instance : undefined;
  const servingVolumes = new Set(serving?.volumes.map((m) => m.volumeId) ?? []);

  const leftovers: InstanceInfo[] = allInstances(d).filter((i) => i !== serving && LEFTOVER_INSTANCE_ROLES.has(i.tags[TAG_ROLE] ?? ''));
  for (const i of leftovers) {
    const item = { kind: 'instance' as const, id: i.id, detail: `${i.tags[TAG_ROLE]} ${i.tags[TAG_VERSION] ?? ''} ${i.state}`.replace(/\s+/g, ' '), monthlyUsd: 50 * AWS_PRICES.gp3GiBMonth };
    if (i.state === 'stopped') remove.push({ ...item, reason: `left stopped by an upgrade, rollback or restore; its root volume goes with it, its data volume is judged on its own` });
    else keep.push({ ...item, reason: `it is ${i.state}, not stopped` });
  }
  const leftoverIds = new Set(leftovers.filter((i) => i.state === 'stopped').map((i) => i.id));

  const completed = snapshots.filter((s) => s.state === 'completed');
  const volumeGoes = new Set<string>();
  for (const v of d.volumes) {
    const role = v.tags[TAG_ROLE] ?? '';
    // A data volume on a stopped leftover instance, from before rollback volumes had their own role.
    const legacyRollback = role === 'data-volume' && v.attachedTo !== undefined && leftoverIds.has(v.attachedTo);
    if (role !== 'rollback-data' && !legacyRollback) continue;
    const detail = `${v.sizeGiB} GiB ${v.type} rollback data volume (${v.tags[TAG_VERSION] ?? '?'})`;
    const item = { kind: 'volume' as const, id: v.id, detail, monthlyUsd: volumeMonthlyUsd(v) };
    if (servingVolumes.has(v.id) || (v.attachedTo && !leftoverIds.has(v.attachedTo))) {
      keep.push({ ...item, reason: `attached to ${v.attachedTo}, which is not a stopped leftover` });
      continue;
    }
    const written = lastWritten(v, snapshots);
    const copy = written === undefined ? undefined : completed.find((s) => s.volumeId === v.id && at(s.startTime) >= written);
    if (copy) {
      remove.push({ ...item, reason: `its data is in snapshot ${copy.id}, completed and taken after the volume was last written` });
      volumeGoes.add(v.id);
    } else if (opts.snapshotFirst) {
      remove.push({ ...item, snapshotFirst: true, reason: 'no snapshot since it was last written: --snapshot-first takes one, waits for it, then removes the volume' });
      volumeGoes.add(v.id);
    } else {
      keep.push({ ...item, reason: 'it may hold the newest copy of its data (no completed snapshot since it was last written); --snapshot-first snapshots it and then removes it' });
    }
  }

  const volumeIds = new Set(d.volumes.map((v) => v.id));
  const heldByVolume = (s: SnapshotInfo) => s.volumeId !== undefined && volumeIds.has(s.volumeId) && !volumeGoes.has(s.volumeId);
  const backups = completed.filter((s) => s.tags[TAG_PURPOSE] === 'backup');
  for (const s of snapshots) {
    const purpose = s.tags[TAG_PURPOSE] ?? '';
    const item = { kind: 'snapshot' as const, id: s.id, detail: `${purpose || 'untagged'} of ${s.tags[TAG_SOURCE_VERSION] ?? '?'} (${s.sizeGiB} GiB volume)`, monthlyUsd: s.sizeGiB * AWS_PRICES.snapshotGiBMonth };
    if (UPGRADE_PURPOSES.has(purpose)) {
      const newer = completed.find((o) => o.id !== s.id && o.volumeId === s.volumeId && at(o.startTime) > at(s.startTime) && !UPGRADE_PURPOSES.has(o.tags[TAG_PURPOSE] ?? ''));
      if (heldByVolume(s)) remove.push({ ...item, reason: `the volume it was taken from (${s.volumeId}) still exists and holds the same or newer data` });
      else if (newer) remove.push({ ...item, reason: `superseded by the newer snapshot ${newer.id} of the same volume` });
      else keep.push({ ...item, reason: `the last copy of ${s.volumeId ?? 'its volume'}'s data (restorable with \`restore --snapshot ${s.id}\`)` });
    } else if (purpose === 'backup' && opts.retain !== undefined && backups.indexOf(s) >= opts.retain) {
      if (heldByVolume(s)) remove.push({ ...item, reason: `a backup beyond the newest ${opts.retain} (--retain); its volume ${s.volumeId} holds newer data` });
      else keep.push({ ...item, reason: `beyond --retain ${opts.retain}, but the last copy of ${s.volumeId ?? 'its volume'}'s data` });
    }
  }
  return { remove, keep };
}

export async function runPrune(deps: Deps, nameArg: string | undefined, flags: PruneFlags) {
  const retain = flags.retain !== undefined ? Number(flags.retain) : undefined;
  if (retain !== undefined && (!Number.isInteger(retain) || retain < 0)) throw new UsageError(`--retain: "${flags.retain}" must be a whole number of backups to keep`);
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  // Held before planning: nothing changes between the list shown and what is removed.
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'prune', { marker: true, forceUnlock: flags.forceUnlock });
  try {
    return await pruneHeld(deps, cloud, target, flags, retain);
  } finally {
    await hold?.release();
  }
}

async function pruneHeld(deps: Deps, cloud: Cloud, target: Target, flags: PruneFlags, retain: number | undefined) {
  const { io } = deps;
  const d = await cloud.findDeployment(target.name);
  const snapshots = await cloud.listSnapshots(target.name);
  const plan = planPrune(d, snapshots, { retain, snapshotFirst: flags.snapshotFirst });
  const total = plan.remove.reduce((sum, i) => sum + i.monthlyUsd, 0);
  const base = { name: target.name, region: target.region, items: plan.remove, kept: plan.keep, monthlyUsd: total };

  const line = (i: PruneItem) => `  ${i.kind.padEnd(8)} ${i.id.padEnd(22)} ${i.detail}  ≈ ${formatUsd(i.monthlyUsd)}/month\n             ${i.reason}`;
  if (plan.remove.length) {
    io.info(`prune ${target.name} (aws ${target.region}) would remove:`);
    for (const i of plan.remove) io.info(line(i));
    io.info(`Together about ${formatUsd(total)}/month (snapshots: upper bound).`);
  } else io.info(`Nothing to prune for ${target.name}.`);
  if (plan.keep.length) {
    io.info('Kept:');
    for (const i of plan.keep) io.info(line(i));
  }
  if (flags.dryRun) {
    const result = { ...base, dryRun: true };
    if (io.json) io.result(result);
    else io.info('Dry run: nothing was changed.');
    return result;
  }
  if (!plan.remove.length) {
    const result = { ...base, removed: [] };
    if (io.json) io.result(result);
    return result;
  }
  await requireServing(deps, target, d);
  if (plan.remove.some((i) => i.kind === 'instance')) io.info('Without the rollback point there is no `rollback` to the version before the upgrade.');
  await confirmOrYes(deps, flags, `Remove these ${plan.remove.length} leftovers of ${target.name}?`, 'prune');

  const of = (kind: PruneItem['kind']) => plan.remove.filter((x) => x.kind === kind);
  for (const i of of('instance')) await cloud.terminateInstance(i.id);
  for (const i of of('instance')) await cloud.waitForInstanceState(i.id, 'terminated', 15 * 60_000);
  for (const i of of('volume')) {
    await cloud.waitForVolumeAvailable(i.id, 10 * 60_000);
    if (i.snapshotFirst) {
      const volume = d.volumes.find((v) => v.id === i.id)!;
      const version = volume.tags[TAG_VERSION] ?? 'unknown';
      const snap = await cloud.createSnapshot({
        deployment: target.name,
        volumeId: i.id,
        version,
        size: d.size,
        purpose: 'pre-prune-final',
        operation: `prune-${randomBytes(6).toString('hex')}`,
        description: `sourcegraph-launch ${target.name}: last copy of ${i.id} (${version}) before prune`,
      });
      const done = await cloud.waitForSnapshot(snap.id, 6 * 3_600_000);
      io.info(`Snapshot ${done.id} holds the data of ${i.id}.`);
    }
    await cloud.deleteVolume(i.id);
  }
  for (const i of of('snapshot')) await cloud.deleteSnapshot(i.id);
  const result = { ...base, removed: plan.remove.map((i) => i.id) };
  if (io.json) io.result(result);
  else io.success(`Removed ${plan.remove.length} leftovers, saving about ${formatUsd(total)}/month.`);
  return result;
}

/**
 * The leftovers are the way back: remove them only once the serving instance demonstrably serves
 * its version and no upgrade or rollback is half done.
 */
async function requireServing(deps: Deps, target: Target, d: DeploymentResources): Promise<void> {
  const serving = d.instance && d.instance.tags[TAG_ROLE] === 'instance' ? d.instance : undefined;
  if (!serving) throw new UsageError(`Deployment ${target.name} has no serving instance: prune keeps everything until one serves`, { code: 'deployment-not-serving' });
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
}
