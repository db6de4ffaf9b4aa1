// `destroy [name]`: delete exactly the resources tagged with the deployment, after showing them
// and asking for the name to be typed. The data — data volumes, snapshots (upgrade points and
// backups) and the daily-snapshot policy — is kept unless --delete-data; an address or key pair the
// user brought is never released or deleted.
import { rmSync } from 'node:fs';
import { TAG_DEPLOYMENT, TAG_OWNER, TAG_PURPOSE, TAG_ROLE, dataVolumesOf, type Cloud, type DeploymentResources, type SnapshotInfo, type SnapshotScheduleInfo } from '../cloud/cloud.js';
import { DeclinedError, ExitCode, LaunchError, MissingInputError, UsageError } from '../core/errors.js';
import { runSteps, newJournal, type Step } from '../engine/steps.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';
import { randomBytes } from 'node:crypto';

export interface DestroyFlags extends GlobalFlags, TargetFlags {
  deleteData?: boolean;
  dryRun?: boolean;
  forceUnlock?: boolean;
  /** Exit 0 when nothing of the deployment exists (idempotent teardown in CI). */
  ignoreMissing?: boolean;
}

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
}

export interface DataExtras {
  snapshots: SnapshotInfo[];
  schedule?: SnapshotScheduleInfo;
}

export function planDestroy(d: DeploymentResources, deleteData: boolean, data: DataExtras = { snapshots: [] }): DestroyAction[] {
  const actions: DestroyAction[] = [];
  for (const i of [...(d.instance ? [d.instance] : []), ...d.otherInstances]) {
    actions.push({ action: 'terminate', id: i.id, detail: `${i.instanceType} ${i.state} (its root volume goes with it)` });
  }
  for (const a of d.addresses) {
    if (a.managed) actions.push({ action: 'release-address', id: a.allocationId, detail: a.publicIp });
    else {
      if (a.associationId) actions.push({ action: 'disassociate-address', id: a.associationId, detail: `${a.publicIp} is yours: kept` });
      // Our tags come off the user's address, so it no longer counts as part of the deployment.
      if (a.tags[TAG_DEPLOYMENT] === d.name) actions.push({ action: 'untag-address', id: a.allocationId, detail: `${a.publicIp} is yours: kept, without our tags` });
    }
  }
  for (const g of d.securityGroups) actions.push({ action: 'delete-security-group', id: g.id, detail: g.name });
  for (const k of d.keyPairs.filter((k) => k.managed)) actions.push({ action: 'delete-key-pair', id: k.name });
  for (const v of dataVolumesOf(d)) {
    actions.push({ action: deleteData ? 'delete-volume' : 'keep-volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} data volume` });
  }
  for (const snap of data.snapshots) {
    actions.push({ action: deleteData ? 'delete-snapshot' : 'keep-snapshot', id: snap.id, detail: `${snap.sizeGiB} GiB snapshot${snap.tags[TAG_PURPOSE] ? ` (${snap.tags[TAG_PURPOSE]})` : ''}` });
  }
  if (data.schedule) {
    actions.push({ action: deleteData ? 'delete-schedule' : 'keep-schedule', id: data.schedule.policyId, detail: 'daily snapshot policy (Data Lifecycle Manager)' });
  }
  return actions;
}

const VERB: Record<DestroyAction['action'], string> = {
  terminate: 'terminate instance',
  'release-address': 'release Elastic IP',
  'disassociate-address': 'disassociate address',
  'untag-address': 'untag your address',
  'delete-security-group': 'delete security group',
  'delete-key-pair': 'delete key pair',
  'delete-volume': 'DELETE data volume',
  'keep-volume': 'keep data volume',
  'delete-snapshot': 'DELETE snapshot',
  'keep-snapshot': 'keep snapshot',
  'delete-schedule': 'delete snapshot policy',
  'keep-schedule': 'keep snapshot policy',
};

const KEPT = new Set<DestroyAction['action']>(['keep-volume', 'keep-snapshot', 'keep-schedule']);

/** Snapshots and the DLM policy of a deployment; a region or account without DLM has no policy. */
async function findDataExtras(deps: Deps, cloud: Cloud, name: string): Promise<DataExtras> {
  const snapshots = await cloud.listSnapshots(name);
  let schedule: SnapshotScheduleInfo | undefined;
  try {
    schedule = await cloud.findSnapshotSchedule(name);
  } catch (e) {
    deps.io.warn(`Skipped looking for a daily snapshot policy: ${(e as Error).message.split('\n')[0]}. If one exists, it is left in place.`);
  }
  return { snapshots, schedule };
}

export async function runDestroy(deps: Deps, nameArg: string | undefined, flags: DestroyFlags) {
  const target = resolveTarget(deps, nameArg, flags);
  const cloud: Cloud = await deps.cloud(target.cloud, target.region, { profile: flags.profile });
  await cloud.whoAmI();
  // Held before planning: what is listed is what is deleted, with no upgrade or prune in between.
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'destroy', { marker: true, forceUnlock: flags.forceUnlock });
  try {
    return await destroyHeld(deps, cloud, target, flags);
  } finally {
    await hold?.release();
  }
}

async function destroyHeld(deps: Deps, cloud: Cloud, target: Target, flags: DestroyFlags) {
  const { io } = deps;
  const found = await cloud.findDeployment(target.name);
  const actions = planDestroy(found, Boolean(flags.deleteData), await findDataExtras(deps, cloud, target.name));
  const local = deps.state.getDeployment(target.cloud, target.region, target.name);

  // Nothing in the cloud and no local record: the same "not found" (exit 1) as `status`, unless the
  // caller says a missing deployment is fine.
  if (!actions.length && !local) {
    if (!flags.ignoreMissing) {
      throw new LaunchError('deployment-not-found', ExitCode.failed, `No deployment named ${target.name} in aws ${target.region}`, {
        remediation: `\`${deps.program} list --region ${target.region}\` shows the deployments there; --ignore-missing makes this exit 0.`,
      });
    }
    const result = { name: target.name, region: target.region, deleted: [], kept: [], message: 'not found' };
    if (io.json) io.result(result);
    else io.info(`No deployment named ${target.name} in aws ${target.region}: nothing to delete.`);
    return result;
  }

  const kept = actions.filter((a) => KEPT.has(a.action));
  const keptJson = kept.map((a) =>
    a.action === 'keep-volume' ? { volumeId: a.id } : a.action === 'keep-snapshot' ? { snapshotId: a.id } : { policyId: a.id },
  );
  if (kept.length === actions.length) {
    if (local) deps.state.deleteDeployment(target.cloud, target.region, target.name);
    const result = { name: target.name, region: target.region, deleted: [], kept: keptJson, message: 'nothing to delete' };
    if (io.json) io.result(result);
    else {
      io.info(`Nothing of deployment ${target.name} in aws ${target.region} is left to delete${kept.length ? ' but its data:' : '.'}`);
      for (const a of kept) io.info(`  ${VERB[a.action].padEnd(24)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`);
      if (kept.length) io.info(`Add --delete-data to delete the data too.`);
    }
    return result;
  }

  io.info(`destroy ${target.name} (aws ${target.region}) will:`);
  for (const a of actions) io.info(`  ${VERB[a.action].padEnd(24)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`);
  if (kept.length) io.info(`The data is kept (volumes, snapshots, snapshot policy). Add --delete-data to delete it too.`);

  if (flags.dryRun) {
    const result = { name: target.name, region: target.region, dryRun: true, actions };
    if (io.json) io.result(result);
    return result;
  }
  if (!flags.yes) {
    if (!io.interactive) throw new MissingInputError('--yes', 'to destroy when not running interactively');
    const typed = await io.input({ message: `Type the deployment name (${target.name}) to confirm` });
    if (typed.trim() !== target.name) throw new DeclinedError(`The name did not match (typed "${typed.trim()}", not "${target.name}"): nothing changed.`);
  }
  if (flags.deleteData && !flags.yes && !io.interactive) throw new UsageError('--delete-data needs --yes when not running interactively');

  const journal = newJournal('destroy', randomBytes(6).toString('hex'));
  const by = (kind: DestroyAction['action']) => actions.filter((a) => a.action === kind);
  const steps: Step<null>[] = [];
  const instances = by('terminate');
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
  for (const a of by('disassociate-address')) steps.push({ id: `disassociate-${a.id}`, title: `Disassociate ${a.detail}`, run: async () => void (await cloud.disassociateAddress(a.id)) });
  for (const a of by('untag-address')) steps.push({ id: `untag-${a.id}`, title: `Remove our tags from ${a.detail?.split(' ')[0]}`, run: async () => void (await cloud.untagResources([a.id], [TAG_DEPLOYMENT, TAG_ROLE, TAG_OWNER])) });
  for (const a of by('release-address')) steps.push({ id: `release-${a.id}`, title: `Release Elastic IP ${a.detail}`, run: async () => void (await cloud.releaseAddress(a.id)) });
  for (const a of by('delete-security-group')) steps.push({ id: `sg-${a.id}`, title: `Delete security group ${a.id}`, run: async () => void (await cloud.deleteSecurityGroup(a.id)) });
  for (const a of by('delete-key-pair')) steps.push({ id: `key-${a.id}`, title: `Delete key pair ${a.id}`, run: async () => void (await cloud.deleteKeyPair(a.id)) });
  for (const a of by('delete-volume')) {
    steps.push({
      id: `volume-${a.id}`,
      title: `Delete data volume ${a.id}`,
      run: async () => {
        await cloud.waitForVolumeAvailable(a.id, 10 * 60_000);
        await cloud.deleteVolume(a.id);
      },
    });
  }
  for (const a of by('delete-snapshot')) steps.push({ id: `snapshot-${a.id}`, title: `Delete snapshot ${a.id}`, run: async () => void (await cloud.deleteSnapshot(a.id)) });
  for (const a of by('delete-schedule')) steps.push({ id: `schedule-${a.id}`, title: `Delete snapshot policy ${a.id}`, run: async () => void (await cloud.deleteSnapshotSchedule(a.id)) });
  await runSteps(steps, null, { journal, save: () => undefined, io, signal: deps.signal });
  // Local cache: forget the deployment; its generated key is useless once the key pair is gone.
  if (local?.privateKeyPath) {
    rmSync(local.privateKeyPath, { force: true });
    rmSync(`${local.privateKeyPath}.pub`, { force: true });
  }
  deps.state.deleteDeployment(target.cloud, target.region, target.name);

  const result = {
    name: target.name,
    region: target.region,
    deleted: actions.filter((a) => !KEPT.has(a.action)).map((a) => ({ action: a.action, id: a.id })),
    kept: keptJson,
  };
  if (io.json) io.result(result);
  else {
    io.success(`Deployment ${target.name} destroyed.`);
    if (kept.length) io.info(`Kept its data (${kept.map((a) => a.id).join(', ')}): \`${deps.program} destroy ${target.name} --region ${target.region} --delete-data\` deletes it when you no longer need it.`);
  }
  return result;
}
