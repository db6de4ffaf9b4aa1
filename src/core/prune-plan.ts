// The rules of `prune`, pure: which leftovers of upgrades, rollbacks and restores may go and which
// stay, each with its reason and monthly cost. They are the data promise: never a disk whose role
// is the deployment's data (the serving one, one `destroy` kept, one a relaunch did not reuse), and
// never the newest copy of any data — a rollback disk goes only when a completed snapshot of it was
// taken after it was last written (or --snapshot-first takes one).
//
// The inputs are the shapes of the Cloud port, described here structurally (core imports nothing
// but core), so any cloud's deployment can be judged.
import type { Labels } from './labels.js';
import type { DiskSpec, StoragePricing } from './prices.js';

export interface PruneInstanceInput {
  id: string;
  state: string;
  labels: Labels;
  disks: readonly { role: string; diskId: string }[];
}

export interface PruneDiskInput extends DiskSpec {
  id: string;
  attachedTo?: string;
  labels: Labels;
}

export interface PruneSnapshotInput {
  id: string;
  diskId?: string;
  state: string;
  startTime?: string;
  sizeGiB: number;
  labels: Labels;
}

export interface PruneDeploymentInput {
  instance?: PruneInstanceInput;
  otherInstances: readonly PruneInstanceInput[];
  disks: readonly PruneDiskInput[];
}

export interface PruneItem {
  /** 'volume' is the JSON contract's word for a disk on every cloud. */
  kind: 'instance' | 'volume' | 'snapshot';
  id: string;
  detail: string;
  /** Why it may go (for removed items) or why it stays (for kept ones). */
  reason: string;
  monthlyUsd: number;
  /** --snapshot-first: snapshot this disk first, then remove it. */
  snapshotFirst?: boolean;
}

export interface PrunePlan {
  remove: PruneItem[];
  keep: PruneItem[];
}

export interface PruneOptions {
  /** With --retain N: backups beyond the newest N may go too (when their disk still exists). */
  retain?: number;
  snapshotFirst?: boolean;
  prices: StoragePricing;
  /** The root disk a stopped leftover instance still pays for (when its own is not found). */
  rootDisk: DiskSpec;
  /** What the cloud calls a disk ("volume"), for the details and reasons. */
  diskWord?: string;
}

/** Instances an upgrade, rollback or restore left stopped: the way back, not the deployment. */
const LEFTOVER_INSTANCE_ROLES = new Set(['rollback-point', 'rolled-back', 'intermediate']);
const UPGRADE_PURPOSES = new Set(['pre-upgrade-live', 'pre-upgrade-final']);

const at = (iso: string | undefined) => (iso ? Date.parse(iso) : Number.NaN);

/**
 * When the disk's data last changed, as far as we can tell: the label upgrade and rollback set
 * when its instance stopped for good. An older rollback disk without the label counts as written
 * until its pre-upgrade-final snapshot (taken after its instance stopped, by construction).
 */
function lastWritten(v: PruneDiskInput, snapshots: readonly PruneSnapshotInput[]): number | undefined {
  const labelled = at(v.labels['last-written']);
  if (!Number.isNaN(labelled)) return labelled;
  const final = snapshots.find((s) => s.diskId === v.id && s.labels.purpose === 'pre-upgrade-final');
  return final ? at(final.startTime) : undefined;
}

/** The pure rules: what may go and what stays, each with its reason. */
export function planPrune(d: PruneDeploymentInput, snapshots: readonly PruneSnapshotInput[], opts: PruneOptions): PrunePlan {
  const word = opts.diskWord ?? 'volume';
  const diskUsd = (disk: DiskSpec) => opts.prices.diskMonthlyUsd(disk) ?? 0;
  const remove: PruneItem[] = [];
  const keep: PruneItem[] = [];
  const serving = d.instance && d.instance.labels.role === 'instance' ? d.instance : undefined;
  const servingDisks = new Set(serving?.disks.map((m) => m.diskId) ?? []);

  const leftovers = [...(d.instance ? [d.instance] : []), ...d.otherInstances].filter((i) => i !== serving && LEFTOVER_INSTANCE_ROLES.has(i.labels.role ?? ''));
  for (const i of leftovers) {
    // A stopped instance still pays for its root disk.
    const rootId = i.disks.find((x) => x.role === 'root')?.diskId;
    const root = d.disks.find((v) => v.id === rootId) ?? opts.rootDisk;
    const item = { kind: 'instance' as const, id: i.id, detail: `${i.labels.role} ${i.labels.version ?? ''} ${i.state}`.replace(/\s+/g, ' '), monthlyUsd: diskUsd(root) };
    if (i.state === 'stopped') remove.push({ ...item, reason: `left stopped by an upgrade, rollback or restore; its root ${word} goes with it, its data ${word} is judged on its own` });
    else keep.push({ ...item, reason: `it is ${i.state}, not stopped` });
  }
  const leftoverIds = new Set(leftovers.filter((i) => i.state === 'stopped').map((i) => i.id));

  const completed = snapshots.filter((s) => s.state === 'completed');
  const diskGoes = new Set<string>();
  for (const v of d.disks) {
    const role = v.labels.role ?? '';
    // A data disk on a stopped leftover instance, from before rollback disks had their own role.
    const legacyRollback = role === 'data-volume' && v.attachedTo !== undefined && leftoverIds.has(v.attachedTo);
    if (role !== 'rollback-data' && !legacyRollback) continue;
    const detail = `${v.sizeGiB} GiB ${v.type} rollback data ${word} (${v.labels.version ?? '?'})`;
    const item = { kind: 'volume' as const, id: v.id, detail, monthlyUsd: diskUsd(v) };
    if (servingDisks.has(v.id) || (v.attachedTo && !leftoverIds.has(v.attachedTo))) {
      keep.push({ ...item, reason: `attached to ${v.attachedTo}, which is not a stopped leftover` });
      continue;
    }
    const written = lastWritten(v, snapshots);
    const copy = written === undefined ? undefined : completed.find((s) => s.diskId === v.id && at(s.startTime) >= written);
    if (copy) {
      remove.push({ ...item, reason: `its data is in snapshot ${copy.id}, completed and taken after the ${word} was last written` });
      diskGoes.add(v.id);
    } else if (opts.snapshotFirst) {
      remove.push({ ...item, snapshotFirst: true, reason: `no snapshot since it was last written: --snapshot-first takes one, waits for it, then removes the ${word}` });
      diskGoes.add(v.id);
    } else {
      keep.push({ ...item, reason: 'it may hold the newest copy of its data (no completed snapshot since it was last written); --snapshot-first snapshots it and then removes it' });
    }
  }

  // A rehearsal's throwaway (upgrade --rehearse) is never the way back: listed, left to the rehearsals,
  // which delete their own and, when one was interrupted, the next deletes what it left first.
  const rehearsalReason = 'made by `upgrade --rehearse` (a throwaway copy): the rehearsal deletes it when done; one that was interrupted is deleted by the next `upgrade --rehearse`, or with the deployment by `destroy`';
  for (const i of d.otherInstances.filter((x) => x.labels.role === 'rehearsal')) {
    keep.push({ kind: 'instance', id: i.id, detail: `rehearsal of ${i.labels.version ?? '?'} ${i.state}`, monthlyUsd: diskUsd(opts.rootDisk), reason: rehearsalReason });
  }
  for (const v of d.disks.filter((x) => x.labels.role === 'rehearsal-data')) {
    keep.push({ kind: 'volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} rehearsal copy of the data`, monthlyUsd: diskUsd(v), reason: rehearsalReason });
  }

  const diskIds = new Set(d.disks.map((v) => v.id));
  const heldByDisk = (s: PruneSnapshotInput) => s.diskId !== undefined && diskIds.has(s.diskId) && !diskGoes.has(s.diskId);
  const backups = completed.filter((s) => s.labels.purpose === 'backup');
  for (const s of snapshots) {
    const purpose = s.labels.purpose ?? '';
    const item = { kind: 'snapshot' as const, id: s.id, detail: `${purpose || 'untagged'} of ${s.labels['source-version'] ?? '?'} (${s.sizeGiB} GiB ${word})`, monthlyUsd: s.sizeGiB * opts.prices.snapshotGiBMonthUsd };
    if (UPGRADE_PURPOSES.has(purpose)) {
      const newer = completed.find((o) => o.id !== s.id && o.diskId === s.diskId && at(o.startTime) > at(s.startTime) && !UPGRADE_PURPOSES.has(o.labels.purpose ?? ''));
      if (heldByDisk(s)) remove.push({ ...item, reason: `the ${word} it was taken from (${s.diskId}) still exists and holds the same or newer data` });
      else if (newer) remove.push({ ...item, reason: `superseded by the newer snapshot ${newer.id} of the same ${word}` });
      else keep.push({ ...item, reason: `the last copy of ${s.diskId ?? `its ${word}`}'s data (restorable with \`restore --snapshot ${s.id}\`)` });
    } else if (purpose === 'backup' && opts.retain !== undefined && backups.indexOf(s) >= opts.retain) {
      if (heldByDisk(s)) remove.push({ ...item, reason: `a backup beyond the newest ${opts.retain} (--retain); its ${word} ${s.diskId} holds newer data` });
      else keep.push({ ...item, reason: `beyond --retain ${opts.retain}, but the last copy of ${s.diskId ?? `its ${word}`}'s data` });
    }
  }
  return { remove, keep };
}
