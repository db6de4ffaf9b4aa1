// The prune workflow: what upgrades, rollbacks and restores left behind as a way back, judged by the
// pure rules (core/prune-plan.ts) and removed only once the serving instance demonstrably serves its
// version and no upgrade or rollback is half done. The list the user confirmed is kept in the
// journal: an interrupted prune re-run removes what that list said (removing what is gone already
// succeeds), and a --snapshot-first snapshot it started is found again, not taken twice.
import type { Cloud, Deployment } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { UsageError } from '../core/errors.js';
import { planPrune, type PruneItem, type PrunePlan } from '../core/prune-plan.js';
import { normalizeVersion } from '../core/versions.js';
import { runWorkflow, type Step } from '../engine/runner.js';
import { managedHealth, openJournal, probeVersion, runOptions, savePlan, setAsideUnfinished, snapshotLabels, unfinishedPlan } from './shared.js';

const TERMINATED_WAIT_MS = 15 * 60_000;
const DISK_AVAILABLE_WAIT_MS = 10 * 60_000;
const SNAPSHOT_WAIT_MS = 6 * 3_600_000;

export interface PruneOptions {
  retain?: number;
  snapshotFirst: boolean;
}

/** The plan as the journal keeps it: the list shown, the options it was made with, what snapshots need. */
export interface SavedPrune {
  options: PruneOptions;
  plan: PrunePlan;
  /** The version of the data on each disk --snapshot-first snapshots. */
  versions: Record<string, string>;
  size?: string;
}

export interface Leftovers {
  deployment: Deployment;
  saved: SavedPrune;
  /** When the unfinished prune whose list this is started. */
  resumes?: string;
}

const sameOptions = (a: PruneOptions, b: PruneOptions) => a.retain === b.retain && a.snapshotFirst === b.snapshotFirst;

/**
 * What prune would remove and keep. An unfinished prune with the same options resumes with the list
 * it showed; one with other options is set aside (unless this is only a look: `setAside` false).
 */
export async function findLeftovers(deps: Deps, cloud: Cloud, target: Target, options: PruneOptions, opts: { setAside: boolean }): Promise<Leftovers> {
  const { provider } = target;
  const deployment = await cloud.findDeployment(target.name);
  const pending = unfinishedPlan<SavedPrune>(deps, target, 'prune');
  if (pending && sameOptions(pending.plan.options, options)) return { deployment, saved: pending.plan, resumes: pending.startedAt };
  if (pending && opts.setAside) setAsideUnfinished(deps, target, 'prune');
  const snapshots = await cloud.listSnapshots(target.name);
  const plan = planPrune(deployment, snapshots, {
    ...(options.retain !== undefined ? { retain: options.retain } : {}),
    snapshotFirst: options.snapshotFirst,
    prices: provider.storagePricing(),
    rootDisk: provider.rootDisk,
    diskWord: provider.terms.disk,
  });
  const versions: Record<string, string> = {};
  for (const i of plan.remove.filter((x) => x.snapshotFirst)) versions[i.id] = deployment.disks.find((v) => v.id === i.id)?.labels.version ?? 'unknown';
  return { deployment, saved: { options, plan, versions, ...(deployment.size ? { size: deployment.size } : {}) } };
}

/**
 * The leftovers are the way back: remove them only once the serving instance demonstrably serves
 * its version and no upgrade or rollback is half done.
 */
export async function requireServing(deps: Deps, target: Target, d: Deployment): Promise<void> {
  const serving = d.instance && d.instance.labels.role === 'instance' ? d.instance : undefined;
  if (!serving) throw new UsageError(`Deployment ${target.name} has no serving instance: prune keeps everything until one serves`, { code: 'deployment-not-serving' });
  const unfinished = deps.state.getDeployment(target.cloud, target.region, target.name)?.journal;
  if (unfinished && !unfinished.finishedAt && (unfinished.command === 'upgrade' || unfinished.command === 'rollback')) {
    throw new UsageError(`An ${unfinished.command} of ${target.name} has not finished: prune keeps the rollback point until it has`, {
      code: 'operation-unfinished',
      remediation: `Re-run the ${unfinished.command} to finish it (or roll back) first.`,
    });
  }
  const servingVersion = normalizeVersion(serving.labels.version ?? '');
  const host = d.addresses.find((a) => a.instanceId === serving.id)?.ip ?? serving.publicIp ?? serving.privateIp;
  // Behind tls --tls managed's load balancer the address answers only the balancer: ask the site.
  const health = managedHealth(deps.state.getDeployment(target.cloud, target.region, target.name));
  const seen = serving.state === 'running' ? await probeVersion(deps, host, health) : undefined;
  if (!servingVersion || seen !== servingVersion) {
    throw new UsageError(
      `Cannot confirm that ${serving.id} serves ${servingVersion ?? 'its version'} (${serving.state === 'running' ? `/healthz reported ${seen ?? 'nothing'}` : serving.state}): prune keeps the rollback point`,
      { code: 'deployment-not-serving', remediation: `Check with \`${deps.program} status ${target.name} --region ${target.region}\`; prune once it serves.` },
    );
  }
}

/** Removes the plan's items (instances, then disks, then snapshots); returns their ids. */
export async function removeLeftovers(deps: Deps, cloud: Cloud, target: Target, saved: SavedPrune): Promise<string[]> {
  const open = openJournal(deps, target, 'prune');
  if (!open.resumed) savePlan(open, saved);
  const disk = target.provider.terms.disk;
  const of = (kind: PruneItem['kind']) => saved.plan.remove.filter((x) => x.kind === kind);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const steps: Step<object>[] = [];
  const instances = of('instance');
  if (instances.length) {
    steps.push({
      id: 'remove-instances',
      title: `Terminate ${count(instances.length, 'stopped leftover instance')}`,
      run: async () => {
        for (const i of instances) await cloud.terminateInstance(i.id);
        for (const i of instances) await cloud.waitForInstanceState(i.id, 'terminated', TERMINATED_WAIT_MS);
        return { summary: instances.map((i) => i.id).join(', ') };
      },
    });
  }
  const disks = of('volume');
  if (disks.length) {
    steps.push({
      id: 'remove-volumes',
      title: `Delete ${count(disks.length, `rollback data ${disk}`)}`,
      run: async () => {
        for (const i of disks) {
          // Deleted by the run this one resumes.
          if (!(await cloud.describeDisk(i.id))) continue;
          await cloud.waitForDiskAvailable(i.id, DISK_AVAILABLE_WAIT_MS);
          if (i.snapshotFirst) {
            const version = saved.versions[i.id] ?? 'unknown';
            const snap = await cloud.createSnapshot({
              deployment: target.name,
              diskId: i.id,
              labels: snapshotLabels(target.name, 'pre-prune-final', version, saved.size),
              // Stable for this prune: a resumed run finds the snapshot it started.
              operation: `prune-${open.journal.id}`,
              description: `sourcegraph-launch ${target.name}: last copy of ${i.id} (${version}) before prune`,
            });
            const done = await cloud.waitForSnapshot(snap.id, SNAPSHOT_WAIT_MS);
            deps.io.info(`Snapshot ${done.id} holds the data of ${i.id}.`);
          }
          await cloud.deleteDisk(i.id);
        }
        return { summary: disks.map((i) => i.id).join(', ') };
      },
    });
  }
  const snapshots = of('snapshot');
  if (snapshots.length) {
    steps.push({
      id: 'remove-snapshots',
      title: `Delete ${count(snapshots.length, 'snapshot')}`,
      run: async () => {
        for (const i of snapshots) await cloud.deleteSnapshot(i.id);
        return { summary: snapshots.map((i) => i.id).join(', ') };
      },
    });
  }
  await runWorkflow(steps, {}, runOptions(deps, open));
  return saved.plan.remove.map((i) => i.id);
}
