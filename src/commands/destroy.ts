// `destroy [name]`: delete exactly the resources tagged with the deployment, after showing them
// and asking for the name to be typed. The data volume is kept unless --delete-data; an address or
// key pair the user brought is never released or deleted.
import { rmSync } from 'node:fs';
import type { Cloud, DeploymentResources } from '../cloud/cloud.js';
import { InterruptedError, MissingInputError, UsageError } from '../core/errors.js';
import { runSteps, newJournal, type Step } from '../engine/steps.js';
import type { Deps, GlobalFlags } from './deps.js';
import { resolveTarget, type TargetFlags } from './target.js';
import { randomBytes } from 'node:crypto';

export interface DestroyFlags extends GlobalFlags, TargetFlags {
  deleteData?: boolean;
  dryRun?: boolean;
}

export interface DestroyAction {
  action: 'terminate' | 'release-address' | 'disassociate-address' | 'delete-security-group' | 'delete-key-pair' | 'delete-volume' | 'keep-volume';
  id: string;
  detail?: string;
}

export function planDestroy(d: DeploymentResources, deleteData: boolean): DestroyAction[] {
  const actions: DestroyAction[] = [];
  for (const i of [...(d.instance ? [d.instance] : []), ...d.otherInstances]) {
    actions.push({ action: 'terminate', id: i.id, detail: `${i.instanceType} ${i.state} (its root volume goes with it)` });
  }
  for (const a of d.addresses) {
    if (a.managed) actions.push({ action: 'release-address', id: a.allocationId, detail: a.publicIp });
    else if (a.associationId) actions.push({ action: 'disassociate-address', id: a.associationId, detail: `${a.publicIp} is yours: kept` });
  }
  for (const g of d.securityGroups) actions.push({ action: 'delete-security-group', id: g.id, detail: g.name });
  for (const k of d.keyPairs.filter((k) => k.managed)) actions.push({ action: 'delete-key-pair', id: k.name });
  for (const v of d.volumes.filter((v) => v.tags['sourcegraph-launch:role'] === 'data-volume')) {
    actions.push({ action: deleteData ? 'delete-volume' : 'keep-volume', id: v.id, detail: `${v.sizeGiB} GiB ${v.type} data volume` });
  }
  return actions;
}

const VERB: Record<DestroyAction['action'], string> = {
  terminate: 'terminate instance',
  'release-address': 'release Elastic IP',
  'disassociate-address': 'disassociate address',
  'delete-security-group': 'delete security group',
  'delete-key-pair': 'delete key pair',
  'delete-volume': 'DELETE data volume',
  'keep-volume': 'keep data volume',
};

export async function runDestroy(deps: Deps, nameArg: string | undefined, flags: DestroyFlags) {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const cloud: Cloud = await deps.cloud(target.cloud, target.region, { profile: flags.profile });
  await cloud.whoAmI();
  const found = await cloud.findDeployment(target.name);
  const actions = planDestroy(found, Boolean(flags.deleteData));
  const local = deps.state.getDeployment(target.cloud, target.region, target.name);

  if (!actions.length) {
    if (local) deps.state.deleteDeployment(target.cloud, target.region, target.name);
    const result = { name: target.name, region: target.region, deleted: [], kept: [], message: 'nothing to delete' };
    if (io.json) io.result(result);
    else io.info(`No resources tagged with deployment ${target.name} in aws ${target.region}: nothing to delete.`);
    return result;
  }

  io.info(`destroy ${target.name} (aws ${target.region}) will:`);
  for (const a of actions) io.info(`  ${VERB[a.action].padEnd(24)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`);
  const kept = actions.filter((a) => a.action === 'keep-volume');
  if (kept.length) io.info(`The data volume is kept (all Sourcegraph data). Add --delete-data to delete it too.`);

  if (flags.dryRun) {
    const result = { name: target.name, region: target.region, dryRun: true, actions };
    if (io.json) io.result(result);
    return result;
  }
  if (!flags.yes) {
    if (!io.interactive) throw new MissingInputError('--yes', 'to destroy when not running interactively');
    const typed = await io.input({ message: `Type the deployment name (${target.name}) to confirm` });
    if (typed.trim() !== target.name) throw new InterruptedError('The name did not match; nothing was deleted.');
  }
  if (flags.deleteData && !flags.yes && !io.interactive) throw new UsageError('--delete-data needs --yes when not running interactively');

  const release = deps.state.lock(target.cloud, target.region, target.name);
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
  try {
    await runSteps(steps, null, { journal, save: () => undefined, io, signal: deps.signal });
  } finally {
    release();
  }
  // Local cache: forget the deployment; its generated key is useless once the key pair is gone.
  if (local?.privateKeyPath) {
    rmSync(local.privateKeyPath, { force: true });
    rmSync(`${local.privateKeyPath}.pub`, { force: true });
  }
  deps.state.deleteDeployment(target.cloud, target.region, target.name);

  const result = {
    name: target.name,
    region: target.region,
    deleted: actions.filter((a) => a.action !== 'keep-volume').map((a) => ({ action: a.action, id: a.id })),
    kept: kept.map((a) => ({ volumeId: a.id })),
  };
  if (io.json) io.result(result);
  else {
    io.success(`Deployment ${target.name} destroyed.`);
    if (kept.length) io.info(`Kept data volume ${kept.map((a) => a.id).join(', ')}: delete it in the EC2 console or with \`${deps.program} destroy ${target.name} --region ${target.region} --delete-data\` when you no longer need it.`);
  }
  return result;
}
