// `restore [name] --snapshot snap-…`: a new instance at the snapshot's version whose data volume is
// created from the snapshot before its first boot (disaster recovery for the same name, or a
// staging copy under another --name). It reuses the source deployment's network, security group
// and key pair; a deployment that still has a running instance is never given a second one.
import { randomBytes } from 'node:crypto';
import { TAG_DEPLOYMENT, TAG_ROLE, TAG_SOURCE_VERSION, TAG_VERSION, type Cloud, type InstanceDetails } from '../cloud/cloud.js';
import { CloudError, UsageError } from '../core/errors.js';
import { AWS_DATA_DEVICE, AWS_ROOT_VOLUME, getPreset, isSizeName } from '../core/presets.js';
import { normalizeVersion } from '../core/versions.js';
import { buildImageCommand } from '../core/upgrade-plan.js';
import { allInstances, confirmOrYes, markRollbackData, requireCloud } from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface RestoreFlags extends GlobalFlags, TargetFlags {
  snapshot?: string;
  image?: string;
  dryRun?: boolean;
}

export async function runRestore(deps: Deps, nameArg: string | undefined, flags: RestoreFlags) {
  if (!flags.snapshot) throw new UsageError('--snapshot is required: which snapshot to restore (see `backups`)', { code: 'missing-input' });
  if (!/^snap-[0-9a-f]{8,17}$/.test(flags.snapshot)) throw new UsageError(`--snapshot: "${flags.snapshot}" is not a snapshot id (snap-…)`);
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);
  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'restore', { marker: false });
  try {
    return await restoreHeld(deps, cloud, target, flags, flags.snapshot);
  } finally {
    await hold?.release();
  }
}

async function restoreHeld(deps: Deps, cloud: Cloud, target: Target, flags: RestoreFlags, snapshotId: string) {
  const { io } = deps;
  const snapshot = await cloud.describeSnapshot(snapshotId);
  if (!snapshot) throw new UsageError(`Snapshot ${snapshotId} does not exist in ${target.region}`, { code: 'snapshot-not-found' });
  if (snapshot.state !== 'completed') throw new UsageError(`Snapshot ${snapshot.id} is ${snapshot.state}; wait until it completes`);
  const version = normalizeVersion(snapshot.tags[TAG_SOURCE_VERSION] ?? snapshot.tags[TAG_VERSION] ?? '');
  if (!version) throw new UsageError(`Snapshot ${snapshot.id} does not say which version its data is (no ${TAG_SOURCE_VERSION} tag)`);
  const source = snapshot.tags[TAG_DEPLOYMENT] ?? target.name;

  const existing = await cloud.findDeployment(target.name);
  const running = allInstances(existing).find((i) => i.state === 'running' || i.state === 'pending');
  if (running) {
    throw new UsageError(`Deployment ${target.name} still has a running instance ${running.id}; restore makes a new instance only where none runs`, {
      code: 'deployment-running',
      remediation: `Restore under another name (--name ${target.name}-restore) for a copy, or stop/destroy ${running.id} first.`,
    });
  }
  // Template: an instance of the source deployment (any state), else its security group and key pair.
  const from = await cloud.findDeployment(source);
  const model = allInstances(from)[0];
  const details: InstanceDetails | undefined = model ? await cloud.describeInstanceDetails(model.id) : undefined;
  const placement = await cloud.resolvePlacement(details?.subnetId);
  const group = details?.securityGroupIds ?? from.securityGroups.map((g) => g.id);
  if (!group.length) throw new CloudError('no-security-group', `Deployment ${source} has no security group left to reuse`, { remediation: `Launch ${target.name} first (launch --name ${target.name}), then restore into it.` });
  const image = flags.image ? { id: flags.image } : await cloud.findImage({ version });
  if (!image) throw new CloudError('missing-images', `No image for ${version} in ${target.region}`, { remediation: `Build it: ${buildImageCommand({ region: target.region, size: snapshot.tags['sourcegraph-launch:size'] }, version, deps.program)}` });
  const size = snapshot.tags['sourcegraph-launch:size'] ?? from.size;
  const operation = `restore-${randomBytes(6).toString('hex')}`;
  const spec = {
    deployment: target.name,
    version,
    size,
    imageId: image.id,
    instanceType: details?.instanceType ?? getPreset(size && isSizeName(size) ? size : 'XS').aws.instanceType,
    subnetId: details?.subnetId ?? placement.subnetId,
    securityGroupIds: group,
    keyName: details?.keyName ?? from.keyPairs[0]?.name,
    iamInstanceProfileArn: details?.iamInstanceProfileArn,
    tags: {},
    rootVolume: { device: AWS_ROOT_VOLUME.device, sizeGiB: AWS_ROOT_VOLUME.sizeGiB, type: AWS_ROOT_VOLUME.type },
    dataDevice: AWS_DATA_DEVICE,
    data: { mode: 'snapshot' as const, volume: { snapshotId: snapshot.id, sizeGiB: snapshot.sizeGiB, type: 'gp3', kmsKeyId: snapshot.kmsKeyId } },
    operation,
    clientToken: `sgl-${operation}`,
  };
  io.info(`restore ${snapshot.id} (${version}, ${snapshot.sizeGiB} GiB, from ${source}) as deployment ${target.name}: a new ${spec.instanceType} from ${image.id} with ${AWS_DATA_DEVICE} created from the snapshot.`);
  if (flags.dryRun) {
    const result = { name: target.name, region: target.region, dryRun: true, requests: cloud.snapshotLaunchRequests(spec) };
    if (io.json) io.result(result);
    else io.info('Dry run: nothing was changed.');
    return result;
  }
  const superseded = allInstances(existing).filter((i) => i.state === 'stopped' && i.tags[TAG_ROLE] === 'instance');
  for (const i of superseded) io.info(`  ${i.id} (stopped) is superseded: kept as a rollback point with its data volume, which prune never removes without a newer snapshot of it.`);
  await confirmOrYes(deps, flags, `Launch ${target.name} from ${snapshot.id}?`, 'restore');
  // The stopped instance being replaced may hold data newer than the snapshot: it stays, as a way back.
  for (const i of superseded) {
    await cloud.tagResources([i.id], { [TAG_ROLE]: 'rolled-back' });
    const data = i.volumes.find((v) => v.device === AWS_DATA_DEVICE)?.volumeId;
    if (data) await markRollbackData(cloud, target.name, data, new Date(deps.clock.now()));
  }
  const instance = await cloud.launchInstanceFromSnapshot(spec);
  await cloud.waitForInstanceState(instance.id, 'running', 15 * 60_000);
  const seen = await cloud.describeInstance(instance.id);
  const result = {
    name: target.name,
    region: target.region,
    version,
    instanceId: instance.id,
    dataVolumeId: seen?.volumes.find((v) => v.device === AWS_DATA_DEVICE)?.volumeId,
    snapshotId: snapshot.id,
    publicIp: seen?.publicIp,
    role: seen?.tags[TAG_ROLE],
  };
  if (io.json) io.result(result);
  else {
    io.success(`Instance ${instance.id} runs ${version} with a data volume from ${snapshot.id}.`);
    io.info(`Sourcegraph takes a few minutes to start; check with \`${deps.program} status ${target.name} --region ${target.region}\`.`);
  }
  return result;
}
