// The destroy workflow: under the deployment's hold (local lock + cloud-side marker), find what is
// labelled with the deployment, plan what goes and what stays, let the command show the plan and
// ask, then delete in dependency order. Instances go (their root disks with them); the access
// policies and the SSH keys we imported go; addresses we reserved are released, but an address the
// user brought is only detached and given back without our labels. The data (data disks, their
// snapshots, the snapshot schedule) stays unless `deleteData`.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Cloud, Deployment, Snapshot, SnapshotSchedule } from '../cloud/port.js';
import type { ProviderTerms } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { holdDeployment } from '../engine/hold.js';
import { newJournal, runWorkflow, type Step } from '../engine/runner.js';
import { allInstances, dataDisksOf, runOptions } from './shared.js';

/**
 * One line of the plan. The action names are part of the JSON contract (`--dry-run --json`,
 * `deleted[].action`) and stay as they were when AWS was the only cloud.
 */
export interface DestroyAction {
  action:
    | 'terminate'
    | 'release-address'
    | 'disassociate-address'
    | 'untag-address'
    | 'delete-security-group'
    | 'delete-key-pair'
    | 'delete-volume'
    | 'keep-volume'
    | 'delete-snapshot'
    | 'keep-snapshot'
    | 'delete-schedule'
    | 'keep-schedule';
  id: string;
  detail?: string;
  /** A k3s agent VM (scale): terminated before the server. */
  agent?: true;
}

export interface DataExtras {
  snapshots: Snapshot[];
  schedule?: SnapshotSchedule;
}

/** The actions that keep something: the data, unless --delete-data. */
export const KEPT_ACTIONS: ReadonlySet<DestroyAction['action']> = new Set(['keep-volume', 'keep-snapshot', 'keep-schedule']);

/**
 * An address is ours to release only when we reserved it and nobody marked it as the user's: the
 * owner label wins, so an address the user brought is never released even if it were mislabelled.
 */
function ourAddress(a: Deployment['addresses'][number]): boolean {
  return a.managed && a.labels.owner !== 'user';
}

export function planDestroy(d: Deployment, deleteData: boolean, data: DataExtras, terms: Pick<ProviderTerms, 'disk' | 'snapshotSchedules'>): DestroyAction[] {
  const actions: DestroyAction[] = [];
  // Agents first: they go before the server they are joined to (the whole cluster goes, so no drain).
  const isAgent = (i: { labels: { role?: string } }) => i.labels.role === 'agent';
  for (const i of [...allInstances(d).filter(isAgent), ...allInstances(d).filter((x) => !isAgent(x))]) {
    const detail = `${isAgent(i) ? 'k3s agent, ' : ''}${i.machineType} ${i.state} (its root ${terms.disk} goes with it)`;
    actions.push({ action: 'terminate', id: i.id, detail, ...(isAgent(i) ? { agent: true as const } : {}) });
  }
  for (const a of d.addresses) {
    if (ourAddress(a)) actions.push({ action: 'release-address', id: a.id, detail: a.ip });
    else {
      if (a.instanceId) actions.push({ action: 'disassociate-address', id: a.id, detail: `${a.ip} is yours: kept` });
      // Our labels come off the user's address, so it no longer counts as part of the deployment.
      if (a.labels.deployment === d.name) actions.push({ action: 'untag-address', id: a.id, detail: `${a.ip} is yours: kept, without our tags` });
    }
  }
  for (const g of d.accessPolicies) actions.push({ action: 'delete-security-group', id: g.id, detail: g.name });
  for (const k of d.sshKeys.filter((k) => k.managed)) actions.push({ action: 'delete-key-pair', id: k.name });
  // Root disks are never data: they go with their instance, whatever their labels say.
  for (const v of dataDisksOf(d)) {
    actions.push({ action: deleteData ? 'delete-volume' : 'keep-volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} data ${terms.disk}` });
  }
  // A rehearsal's copy of the data (upgrade --rehearse) is a throwaway, never the deployment's data: it goes.
  for (const v of d.disks.filter((x) => x.labels.role === 'rehearsal-data')) {
    actions.push({ action: 'delete-volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} copy of the data a rehearsal left` });
  }
  for (const snap of data.snapshots) {
    actions.push({ action: deleteData ? 'delete-snapshot' : 'keep-snapshot', id: snap.id, detail: `${snap.sizeGiB} GiB snapshot${snap.labels.purpose ? ` (${snap.labels.purpose})` : ''}` });
  }
  if (data.schedule) {
    actions.push({ action: deleteData ? 'delete-schedule' : 'keep-schedule', id: data.schedule.id, detail: `daily snapshot policy (${terms.snapshotSchedules})` });
  }
  return actions;
}

/** Snapshots and the snapshot schedule of a deployment; a cloud (or endpoint) without schedules has none. */
async function findDataExtras(deps: Deps, cloud: Cloud, name: string): Promise<DataExtras> {
  const snapshots = await cloud.listSnapshots(name);
  if (!cloud.capabilities.snapshotSchedules) return { snapshots };
  try {
    const schedule = await cloud.findSnapshotSchedule(name);
    return schedule ? { snapshots, schedule } : { snapshots };
  } catch (e) {
    deps.io.warn(`Skipped looking for a daily snapshot policy: ${(e as Error).message.split('\n')[0]}. If one exists, it is left in place.`);
    return { snapshots };
  }
}

export interface DestroyOptions {
  deleteData: boolean;
  dryRun: boolean;
  forceUnlock: boolean;
  /**
   * Shown the plan once there is something to delete, before anything is deleted (and in a dry
   * run); throws to stop (a declined confirmation, --yes missing in CI). The hold is kept meanwhile,
   * so what was shown is what is deleted.
   */
  approve(actions: DestroyAction[]): Promise<void>;
}

export type DestroyOutcome =
  /** Nothing in the cloud and no local record. */
  | { kind: 'not-found' }
  /** Only the data is left, and it is kept; the local record (if any) was forgotten. */
  | { kind: 'nothing-to-delete'; actions: DestroyAction[] }
  | { kind: 'dry-run'; actions: DestroyAction[] }
  | { kind: 'destroyed'; actions: DestroyAction[] };

export async function runDestroyWorkflow(deps: Deps, cloud: Cloud, target: Target, opts: DestroyOptions): Promise<DestroyOutcome> {
  // Held before planning: what is listed is what is deleted, with no upgrade or prune in between.
  // A dry run changes nothing, so it neither waits for nor blocks anyone.
  const hold = opts.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'destroy', { marker: true, forceUnlock: opts.forceUnlock });
  try {
    return await destroyHeld(deps, cloud, target, opts);
  } finally {
    await hold?.release();
  }
}

async function destroyHeld(deps: Deps, cloud: Cloud, target: Target, opts: DestroyOptions): Promise<DestroyOutcome> {
  const found = await cloud.findDeployment(target.name);
  const actions = planDestroy(found, opts.deleteData, await findDataExtras(deps, cloud, target.name), target.provider.terms);
  const local = deps.state.getDeployment(target.cloud, target.region, target.name);
  if (!actions.length && !local) return { kind: 'not-found' };
  if (actions.every((a) => KEPT_ACTIONS.has(a.action))) {
    if (local) deps.state.deleteDeployment(target.cloud, target.region, target.name);
    return { kind: 'nothing-to-delete', actions };
  }
  await opts.approve(actions);
  if (opts.dryRun) return { kind: 'dry-run', actions };

  await runWorkflow(destroySteps(cloud, target.provider.terms, actions), null, destroyRunOptions(deps));
  // Local cache: forget the deployment; its generated key is useless once the cloud's copy is gone.
  if (local?.privateKeyPath) {
    rmSync(local.privateKeyPath, { force: true });
    rmSync(`${local.privateKeyPath}.pub`, { force: true });
  }
  deps.state.deleteDeployment(target.cloud, target.region, target.name);
  return { kind: 'destroyed', actions };
}

/**
 * Each run plans afresh from what exists and every step acts only on what it found, so a re-run
 * after an interruption simply carries on. The journal is therefore this run's alone (not kept in
 * the record): restoring a "terminate" finished by an earlier run could skip an instance that
 * exists now.
 */
function destroyRunOptions(deps: Deps) {
  const journal = newJournal('destroy', randomBytes(6).toString('hex'), new Date(deps.clock.now()));
  return runOptions(deps, { journal, save: () => undefined });
}

/** The steps, in dependency order; their ids are what the tests' fault seam names. */
export function destroySteps(cloud: Cloud, terms: ProviderTerms, actions: DestroyAction[]): Step<null>[] {
  const by = (kind: DestroyAction['action']) => actions.filter((a) => a.action === kind);
  const ip = (a: DestroyAction) => a.detail?.split(' ')[0] ?? a.id;
  const steps: Step<null>[] = [];
  const agents = by('terminate').filter((a) => a.agent);
  if (agents.length) {
    steps.push({
      id: 'terminate-agents',
      title: `Terminate the k3s agents ${agents.map((a) => a.id).join(', ')}`,
      run: async () => {
        for (const a of agents) await cloud.terminateInstance(a.id);
        for (const a of agents) await cloud.waitForInstanceState(a.id, 'terminated', 15 * 60_000);
        return { summary: 'terminated' };
      },
    });
  }
  const instances = by('terminate').filter((a) => !a.agent);
  if (instances.length) {
    steps.push({
      id: 'terminate',
      title: `Terminate ${instances.map((a) => a.id).join(', ')}`,
      run: async () => {
        for (const a of instances) await cloud.terminateInstance(a.id);
        for (const a of instances) await cloud.waitForInstanceState(a.id, 'terminated', 15 * 60_000);
        return { summary: 'terminated' };
      },
    });
  }
  for (const a of by('disassociate-address')) steps.push({ id: `disassociate-${a.id}`, title: `Disassociate ${ip(a)} (yours: kept)`, run: async () => cloud.detachStaticAddress(a.id) });
  for (const a of by('untag-address')) {
    steps.push({ id: `untag-${a.id}`, title: `Remove our tags from ${ip(a)}`, run: async () => cloud.removeLabels([a.id], ['deployment', 'role', 'owner']) });
  }
  for (const a of by('release-address')) steps.push({ id: `release-${a.id}`, title: `Release ${terms.address} ${ip(a)}`, run: async () => cloud.releaseStaticAddress(a.id) });
  for (const a of by('delete-security-group')) steps.push({ id: `access-${a.id}`, title: `Delete ${terms.accessPolicy} ${a.id}`, run: async () => cloud.deleteAccessPolicy(a.id) });
  for (const a of by('delete-key-pair')) steps.push({ id: `key-${a.id}`, title: `Delete ${terms.sshKey} ${a.id}`, run: async () => cloud.deleteSshKey(a.id) });
  for (const a of by('delete-volume')) {
    steps.push({
      id: `volume-${a.id}`,
      title: `Delete data ${terms.disk} ${a.id}`,
      run: async () => {
        // Detached by the instance's termination a moment ago; deleting before that completes fails.
        await cloud.waitForDiskAvailable(a.id, 10 * 60_000);
        await cloud.deleteDisk(a.id);
      },
    });
  }
  for (const a of by('delete-snapshot')) steps.push({ id: `snapshot-${a.id}`, title: `Delete snapshot ${a.id}`, run: async () => cloud.deleteSnapshot(a.id) });
  for (const a of by('delete-schedule')) steps.push({ id: `schedule-${a.id}`, title: `Delete snapshot policy ${a.id}`, run: async () => cloud.deleteSnapshotSchedule(a.id) });
  return steps;
}
