// `upgrade [name]`: Validate → reconcile (tags, /healthz, version files) → plan the chain of hops
// and the steps → show (costs, downtime) → confirm → apply hop by hop with a journal → report.
//
// The data never meets an instance that could boot without it: clone launches the new instance
// with /dev/sdb created from the final snapshot in the same RunInstances; move launches it without
// /dev/sdb behind a boot hook that powers it off, stops it, attaches the old volume and starts it.
// Until the old instance stops nothing has changed for users; after that a failure ends with the
// choice of resuming or rolling back, and the pre-upgrade data (untouched volume or final snapshot)
// is never deleted.
import {
  TAG_OPERATION,
  TAG_ROLE,
  TAG_SOURCE_VERSION,
  TAG_STRATEGY,
  TAG_VERSION,
  type Cloud,
  type InstanceDetails,
  type SnapshotLaunchSpec,
  type VolumeInfo,
} from '../cloud/cloud.js';
import { catalogKnownImages, catalogVersions } from '../core/catalog.js';
import { CloudError, LaunchError, UsageError } from '../core/errors.js';
import { getPreset, AWS_DATA_DEVICE } from '../core/presets.js';
import {
  buildImageCommand,
  chainRefusalError,
  chooseStrategy,
  isUpgradeStrategy,
  planUpgradeChain,
  planUpgradeSteps,
  UPGRADE_STRATEGIES,
  type UpgradeHop,
  type UpgradeStep,
  type UpgradeStrategy,
  type KnownImage as KnownImageLike,
} from '../core/upgrade-plan.js';
import { validateImageId, validateSize, validateTimeoutMinutes } from '../core/validate.js';
import { normalizeVersion } from '../core/versions.js';
import { runSteps, type Step } from '../engine/steps.js';
import { waitUntilReady } from '../engine/wait.js';
import { loadAwsCatalog } from './catalog.js';
import {
  confirmOrYes,
  dataVolumeOf,
  formatMs,
  markRollbackData,
  onceStep,
  openJournal,
  probeVersion,
  readVersionFiles,
  requireCloud,
  savePlan,
  sshAccess,
  type SshAccess,
  type StepTime,
} from './data-ops.js';
import type { Deps, GlobalFlags } from './deps.js';
import { holdDeployment } from './operation-lock.js';
import { formatRequests } from './requests-text.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface UpgradeFlags extends GlobalFlags, TargetFlags {
  to?: string;
  image?: string;
  strategy?: string;
  size?: string;
  dryRun?: boolean;
  holdSeconds?: string;
  timeout?: string;
  initRate?: string;
  identityFile?: string;
  forceUnlock?: boolean;
}

/** MiB/s asked of EBS for the cloned volume by default (the provisioned-rate maximum is 300). */
export const DEFAULT_INIT_RATE_MIBPS = 300;

const SNAPSHOT_TIMEOUT_MS = 6 * 3_600_000;
const INSTANCE_STATE_TIMEOUT_MS = 15 * 60_000;
const VOLUME_TIMEOUT_MS = 10 * 60_000;

/** Everything the run needs, fixed before the first change and saved for a resumed run. */
export interface UpgradePlanState {
  name: string;
  region: string;
  operation: string;
  strategy: UpgradeStrategy;
  from: string;
  to: string;
  hops: UpgradeHop[];
  size?: string;
  original: { instanceId: string; dataVolumeId: string; availabilityZone: string };
  template: Omit<SnapshotLaunchSpec, 'version' | 'imageId' | 'data' | 'operation' | 'clientToken' | 'userData'>;
  dataVolume: { sizeGiB: number; type: string; iops?: number; throughput?: number; kmsKeyId?: string };
  initRateMiBps?: number;
  allocationId?: string;
  host?: string;
  holdSeconds: number;
  timeoutMinutes: number;
}

export interface UpgradeResult {
  name: string;
  region: string;
  from: string;
  to: string;
  strategy: UpgradeStrategy;
  hops: UpgradeHop[];
  instanceId?: string;
  url?: string;
  /** Old instance stopped → new version first healthy, in ms (the hold not counted). */
  downtimeMs?: number;
  steps: StepTime[];
  rollbackPoint?: { instanceId: string; dataVolumeId?: string; snapshotId?: string; strategy: UpgradeStrategy; version: string };
  volumeInitialization?: { volumeId: string; state: string; type?: string; progressPercent?: number };
  dryRun?: boolean;
  plan?: UpgradeStep[];
}

export function validateUpgradeFlags(flags: UpgradeFlags) {
  if (flags.strategy !== undefined && !isUpgradeStrategy(flags.strategy)) {
    throw new UsageError(`--strategy must be ${UPGRADE_STRATEGIES.join(' or ')}, not "${flags.strategy}"`, { code: 'bad-strategy' });
  }
  const to = flags.to?.trim();
  if (to !== undefined && to !== 'latest' && !normalizeVersion(to) && !/^v?\d{1,3}\.\d{1,3}$/.test(to)) {
    throw new UsageError(`--to: "${flags.to}" is not a version (use latest, a minor such as 6.12, or x.y.z)`, { code: 'bad-version' });
  }
  const holdSeconds = flags.holdSeconds !== undefined ? Number(flags.holdSeconds) : 90;
  if (!Number.isInteger(holdSeconds) || holdSeconds < 0 || holdSeconds > 3600) {
    throw new UsageError(`--hold-seconds: "${flags.holdSeconds}" must be a whole number of seconds between 0 and 3600`);
  }
  const initRate = flags.initRate !== undefined ? Number(flags.initRate) : DEFAULT_INIT_RATE_MIBPS;
  if (!Number.isInteger(initRate) || (initRate !== 0 && (initRate < 100 || initRate > 300))) {
    throw new UsageError(`--init-rate: "${flags.initRate}" must be 0 (lazy loading) or 100–300 MiB/s`);
  }
  return {
    to,
    image: flags.image !== undefined ? validateImageId(flags.image) : undefined,
    strategy: flags.strategy as UpgradeStrategy | undefined,
    size: flags.size !== undefined ? validateSize(flags.size) : undefined,
    holdSeconds,
    timeoutMinutes: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : 45,
    initRate: initRate === 0 ? undefined : initRate,
  };
}

/**
 * Images the account can launch for the versions the plan needs (published or built), plus every
 * image built by sourcegraph-launch: a build of any patch of a minor can fill that hop.
 */
async function knownImages(cloud: Cloud, size: string | undefined, versions: string[]): Promise<KnownImageLike[]> {
  const found: KnownImageLike[] = [];
  for (const version of [...new Set(versions)]) {
    const image = await cloud.findImage({ version, size });
    if (image?.version) found.push({ version: image.version, imageId: image.id, source: image.source === 'flag' ? 'built' : image.source });
  }
  for (const image of await cloud.listBuiltImages()) {
    if (found.some((f) => f.imageId === image.id)) continue;
    if (size && image.size && image.size !== size) continue;
    found.push({ version: image.version!, imageId: image.id, source: 'built' });
  }
  return found;
}

/** Reconciles with the cloud and plans: the chain, the strategy, and a launch template like the old instance. */
async function planUpgrade(deps: Deps, cloud: Cloud, target: Target, flags: UpgradeFlags, v: ReturnType<typeof validateUpgradeFlags>, operation: string): Promise<UpgradePlanState | { nothing: string }> {
  const { io } = deps;
  const d = await cloud.findDeployment(target.name);
  const instance = d.instance;
  if (!instance || instance.tags[TAG_ROLE] !== 'instance') {
    throw new UsageError(`No serving instance of deployment ${target.name} in aws ${target.region}`, {
      code: 'deployment-not-found',
      remediation: `Check with \`${deps.program} status ${target.name} --region ${target.region}\`.`,
    });
  }
  if (instance.state !== 'running') {
    throw new UsageError(`The instance ${instance.id} of ${target.name} is ${instance.state}; upgrade starts from a running deployment`, {
      code: 'not-running',
      remediation: d.otherInstances.some((i) => i.tags[TAG_ROLE] === 'rollback-point')
        ? `An earlier upgrade may have stopped half way: run \`${deps.program} rollback ${target.name} --region ${target.region}\`, or start the instance.`
        : 'Start the instance first.',
    });
  }
  const details = (await cloud.describeInstanceDetails(instance.id)) as InstanceDetails;
  const dataVolume = dataVolumeOf(d, instance) ?? (await volumeAt(cloud, details, AWS_DATA_DEVICE));
  if (!dataVolume) throw new CloudError('no-data-volume', `Instance ${instance.id} has no data volume at ${AWS_DATA_DEVICE}`);
  const rootDevice = details.rootDeviceName ?? '/dev/xvda';
  const rootVolume = await volumeAt(cloud, details, rootDevice);

  // The running version: what /healthz says, else the tag; the version files (SSH) must agree.
  const address = d.addresses.find((a) => a.instanceId === instance.id);
  const host = address?.publicIp ?? instance.publicIp;
  const served = await probeVersion(deps, host);
  const tagged = normalizeVersion(instance.tags[TAG_VERSION] ?? '');
  const current = served ?? tagged;
  if (!current) throw new CloudError('unknown-version', `Cannot tell which version ${target.name} runs: /healthz did not answer and the instance has no version tag`);
  if (served && tagged && served !== tagged) io.warn(`/healthz reports ${served} but the instance is tagged ${tagged}: planning from ${served}.`);
  const record = deps.state.getDeployment(target.cloud, target.region, target.name);
  const ssh = sshAccess(deps, record, flags.identityFile);
  if (ssh && host) {
    const files = await readVersionFiles(deps, cloud, ssh, host, instance.id);
    if (files && (files.root !== current || files.data !== current)) {
      throw new CloudError('version-files-disagree', `The version files disagree with ${current}: image ${files.root}, data ${files.data}`, {
        remediation: 'A previous upgrade did not finish on the instance. Let it finish (or roll back) before upgrading.',
      });
    }
  }

  // Images: the shipped catalog, --image, and what DescribeImages finds (published or our builds).
  const catalog = await loadAwsCatalog();
  const size = v.size ?? d.size;
  const known: KnownImageLike[] = catalogKnownImages(catalog, { size, region: target.region });
  const plan = (extra: KnownImageLike[]) =>
    planUpgradeChain({ current, target: v.to, known: [...known, ...extra], knownVersions: catalogVersions(catalog), region: target.region, size });
  const extra: KnownImageLike[] = [];
  if (v.image) {
    const info = await cloud.describeImage(v.image);
    const version = normalizeVersion(v.to ?? '') ?? info?.version;
    if (!info || !version) throw new UsageError(`--image ${v.image}: not found, or its version is unknown (pass --to x.y.z)`);
    extra.push({ version, imageId: v.image, source: 'flag' });
  }
  const first = plan(extra);
  const toCheck = first.ok ? first.hops.map((h) => h.to) : [first.target ?? '', ...first.missingImages.map((m) => m.version)].filter(Boolean);
  extra.push(...(await knownImages(cloud, size, toCheck)));
  const chain = plan(extra);
  if (!chain.ok) {
    const err = chainRefusalError(chain);
    if (err) throw err;
    return { nothing: chain.message };
  }
  for (const hop of chain.hops.filter((h) => h.source === 'catalog')) {
    if (!(await cloud.describeImage(hop.imageId))) {
      throw new LaunchError('missing-images', 1, `The catalog's image ${hop.imageId} for ${hop.to} is not available in ${target.region}. Nothing was changed.`, {
        remediation: `Build it: ${buildImageCommand({ region: target.region, size }, hop.to, deps.program)}`,
      });
    }
  }

  const strategy = chooseStrategy({ requested: v.strategy, dataVolume: { sizeGiB: dataVolume.sizeGiB, type: dataVolume.type === 'io2' ? 'io2' : 'gp3', iops: dataVolume.iops } }).strategy;
  const instanceType = v.size ? getPreset(v.size).aws.instanceType : details.instanceType;
  return {
    name: target.name,
    region: target.region,
    operation,
    strategy,
    from: current,
    to: chain.target,
    hops: chain.hops,
    size,
    original: { instanceId: instance.id, dataVolumeId: dataVolume.id, availabilityZone: details.availabilityZone },
    template: {
      deployment: target.name,
      size,
      instanceType,
      subnetId: details.subnetId ?? '',
      securityGroupIds: details.securityGroupIds,
      keyName: details.keyName,
      iamInstanceProfileArn: details.iamInstanceProfileArn,
      tags: details.tags,
      rootVolume: { device: rootDevice, sizeGiB: rootVolume?.sizeGiB ?? 50, type: rootVolume?.type ?? 'gp3', kmsKeyId: rootVolume?.kmsKeyId },
      dataDevice: AWS_DATA_DEVICE,
    },
    dataVolume: { sizeGiB: dataVolume.sizeGiB, type: dataVolume.type, iops: dataVolume.iops, throughput: dataVolume.throughput, kmsKeyId: dataVolume.kmsKeyId },
    initRateMiBps: strategy === 'clone' ? v.initRate : undefined,
    allocationId: address?.allocationId,
    host,
    holdSeconds: v.holdSeconds,
    timeoutMinutes: v.timeoutMinutes,
  };
}

async function volumeAt(cloud: Cloud, instance: InstanceDetails, device: string): Promise<VolumeInfo | undefined> {
  const id = instance.volumes.find((x) => x.device === device)?.volumeId;
  return id ? cloud.describeVolume(id) : undefined;
}

function launchSpecFor(p: UpgradePlanState, hop: UpgradeHop, data: SnapshotLaunchSpec['data']): SnapshotLaunchSpec {
  const hopOperation = `${p.operation}:${hop.to}`;
  return {
    ...p.template,
    version: hop.to,
    imageId: hop.imageId,
    data,
    operation: hopOperation,
    clientToken: `sgl-${hopOperation}`.slice(0, 64),
  };
}

function snapshotData(p: UpgradePlanState, snapshotId: string): SnapshotLaunchSpec['data'] {
  return {
    mode: 'snapshot',
    volume: { snapshotId, ...p.dataVolume, ...(p.initRateMiBps ? { initializationRateMiBps: p.initRateMiBps } : {}) },
  };
}

function upgradeCommand(deps: Deps, p: Pick<UpgradePlanState, 'name' | 'region' | 'to' | 'strategy'>): string {
  return `${deps.program} upgrade ${p.name} --region ${p.region} --to ${p.to} --strategy ${p.strategy} --yes`;
}

function describePlan(deps: Deps, p: UpgradePlanState, steps: UpgradeStep[]): void {
  const { io } = deps;
  const costs = chooseStrategy({ requested: p.strategy, dataVolume: { sizeGiB: p.dataVolume.sizeGiB, type: p.dataVolume.type === 'io2' ? 'io2' : 'gp3', iops: p.dataVolume.iops } });
  io.info(`\nupgrade ${p.name} (aws ${p.region}): ${p.from} → ${p.to}${p.hops.length > 1 ? ` in ${p.hops.length} hops (${p.hops.map((h) => h.to).join(' → ')}), one minor at a time, each verified before the next` : ''}`);
  for (const hop of p.hops) io.info(`  ${hop.from} → ${hop.to}: image ${hop.imageId} (${hop.source})`);
  io.info(`Strategy: ${p.strategy}${p.strategy === 'clone' ? ' (default, safest)' : ''}. ${costs.chosen.explanation}`);
  for (const c of costs.costs) io.info(`  ${c.summary}; rollback ${c.rollback}`);
  if (p.strategy === 'clone') {
    io.info(
      p.initRateMiBps
        ? `The cloned volume asks EBS for a provisioned initialisation rate of ${p.initRateMiBps} MiB/s (billed per GiB initialised; --init-rate 0 turns it off).`
        : 'The cloned volume loads its blocks lazily from the snapshot: the first hours can be slower.',
    );
  }
  io.info('Steps (⏸ = Sourcegraph is down):');
  for (const s of steps) io.info(`  ${s.downtime ? '⏸' : ' '} ${s.id.padEnd(34)} ${s.title}`);
  io.info(
    'Expected downtime: stopping the old instance, the final (incremental) snapshot, ' +
      (p.strategy === 'clone' ? 'launching the new instance with its data (inside the window, so it never boots without data), ' : 'the volume move, ') +
      'then Sourcegraph starting and migrating: typically 10–20 minutes per hop.',
  );
}

export async function runUpgrade(deps: Deps, nameArg: string | undefined, flags: UpgradeFlags): Promise<UpgradeResult> {
  const { io } = deps;
  const v = validateUpgradeFlags(flags);
  const target = resolveTarget(deps, nameArg, flags);
  const cloud = await requireCloud(deps, target, flags);

  const hold = flags.dryRun ? undefined : await holdDeployment(deps, cloud, target, 'upgrade', { marker: true, forceUnlock: flags.forceUnlock });
  try {
    const open = openJournal(deps, target, 'upgrade');
    let plan: UpgradePlanState;
    if (open.savedPlan && !flags.dryRun) {
      plan = JSON.parse(open.savedPlan) as UpgradePlanState;
      io.info(`Resuming the upgrade of ${plan.name} from ${plan.from} to ${plan.to} (${plan.strategy}).`);
    } else {
      const planned = await planUpgrade(deps, cloud, target, flags, v, open.journal.id);
      if ('nothing' in planned) {
        if (io.json) io.result({ name: target.name, region: target.region, upToDate: true, message: planned.nothing });
        else io.success(planned.nothing);
        return { name: target.name, region: target.region, from: '', to: '', strategy: 'clone', hops: [], steps: [] };
      }
      plan = planned;
    }
    const steps = planUpgradeSteps({
      strategy: plan.strategy,
      hops: plan.hops,
      holdSeconds: plan.holdSeconds,
      deployment: {
        instanceId: plan.original.instanceId,
        availabilityZone: plan.original.availabilityZone,
        dataVolumeId: plan.original.dataVolumeId,
        elasticIpAllocationId: plan.allocationId,
        ssh: Boolean(sshAccess(deps, open.record, flags.identityFile)),
      },
    });
    describePlan(deps, plan, steps);

    if (flags.dryRun) {
      const first = plan.hops[0]!;
      const spec = launchSpecFor(plan, first, plan.strategy === 'clone' ? snapshotData(plan, '<SnapshotId from the final CreateSnapshot>') : { mode: 'none' });
      const requests = cloud.snapshotLaunchRequests(spec);
      const result: UpgradeResult = { name: plan.name, region: plan.region, from: plan.from, to: plan.to, strategy: plan.strategy, hops: plan.hops, steps: [], dryRun: true, plan: steps };
      if (io.json) io.result({ ...result, requests });
      else {
        io.info(`Dry run: the first hop would send:\n${formatRequests(requests)}`);
        io.info('Nothing was changed.');
      }
      return result;
    }
    if (!open.savedPlan) await confirmOrYes(deps, flags, `Upgrade ${plan.name} from ${plan.from} to ${plan.to} (${plan.strategy})?`, 'upgrade');
    savePlan(open, plan);
    return await applyUpgrade(deps, cloud, plan, steps, open, sshAccess(deps, open.record, flags.identityFile));
  } finally {
    await hold?.release();
  }
}

interface HopState {
  /** The instance serving before this hop (stopped at cutover) and its data volume. */
  oldInstanceId: string;
  oldVolumeId: string;
  liveSnapshotId?: string;
  finalSnapshotId?: string;
  newInstanceId?: string;
  newVolumeId?: string;
  host?: string;
}

async function applyUpgrade(
  deps: Deps,
  cloud: Cloud,
  p: UpgradePlanState,
  planned: UpgradeStep[],
  open: ReturnType<typeof openJournal>,
  ssh: SshAccess | undefined,
): Promise<UpgradeResult> {
  const { io } = deps;
  const { journal } = open;
  const times: StepTime[] = [];
  const ctx: { hop: HopState; cutoverAt?: number; healthyAt?: number; finalSnapshotOfFirstHop?: string } = {
    hop: { oldInstanceId: p.original.instanceId, oldVolumeId: p.original.dataVolumeId, host: p.host },
  };
  const cutoverKey = 'cutover-started';
  const snap = (hop: UpgradeHop, purpose: 'pre-upgrade-live' | 'pre-upgrade-final', volumeId: string) =>
    cloud.createSnapshot({
      deployment: p.name,
      volumeId,
      version: hop.from,
      size: p.size,
      purpose,
      operation: `${p.operation}:${hop.to}`,
      description: `sourcegraph-launch ${p.name}: ${purpose} of ${hop.from} before ${hop.to}`,
    });

  const steps: Step<typeof ctx>[] = planned.map((s) => {
    const hop = p.hops[s.hop]!;
    const first = s.hop === 0;
    const base = { id: s.id, title: s.title };
    switch (s.action) {
      case 'snapshot-live':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            if (!first) c.hop = nextHop(c.hop);
            const created = await snap(hop, 'pre-upgrade-live', c.hop.oldVolumeId);
            const done = await cloud.waitForSnapshot(created.id, SNAPSHOT_TIMEOUT_MS);
            c.hop.liveSnapshotId = done.id;
            return { summary: done.id, result: { snapshotId: done.id, oldInstanceId: c.hop.oldInstanceId, oldVolumeId: c.hop.oldVolumeId } };
          },
          restore: (c, r) => {
            c.hop = { oldInstanceId: r.oldInstanceId!, oldVolumeId: r.oldVolumeId!, liveSnapshotId: r.snapshotId, host: c.hop.host };
          },
        });
      case 'check-launch-permissions':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            await cloud.checkSnapshotLaunchPermissions(launchSpecFor(p, hop, p.strategy === 'clone' ? snapshotData(p, c.hop.liveSnapshotId!) : { mode: 'none' }));
            return { summary: 'AWS would accept the launch' };
          },
        });
      case 'stop-old-instance':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            if (!journal.steps[`${hop.to}:${cutoverKey}`]) {
              journal.steps[`${hop.to}:${cutoverKey}`] = { status: 'done', at: new Date().toISOString(), result: { at: String(Date.now()) } };
              open.save(journal);
            }
            c.cutoverAt ??= Number(journal.steps[`${p.hops[0]!.to}:${cutoverKey}`]?.result?.at ?? Date.now());
            await cloud.tagResources(
              [c.hop.oldInstanceId],
              first
                ? { [TAG_ROLE]: 'rollback-point', [TAG_STRATEGY]: p.strategy, [TAG_OPERATION]: p.operation, [TAG_SOURCE_VERSION]: hop.from }
                : { [TAG_ROLE]: 'intermediate' },
            );
            await cloud.stopInstance(c.hop.oldInstanceId);
            await cloud.waitForInstanceState(c.hop.oldInstanceId, 'stopped', INSTANCE_STATE_TIMEOUT_MS);
            // clone: the old volume is now the rollback point's data, written for the last time.
            if (first && p.strategy === 'clone') await markRollbackData(cloud, p.name, c.hop.oldVolumeId, new Date(deps.clock.now()));
            return { summary: `${c.hop.oldInstanceId} stopped`, result: { instanceId: c.hop.oldInstanceId } };
          },
          restore: (c) => {
            c.cutoverAt ??= Number(journal.steps[`${p.hops[0]!.to}:${cutoverKey}`]?.result?.at ?? Date.now());
          },
        });
      case 'snapshot-final':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const created = await snap(hop, 'pre-upgrade-final', c.hop.oldVolumeId);
            const done = await cloud.waitForSnapshot(created.id, SNAPSHOT_TIMEOUT_MS);
            c.hop.finalSnapshotId = done.id;
            if (first) await cloud.tagResources([c.hop.oldInstanceId], { 'sourcegraph-launch:rollback-snapshot': done.id });
            return { summary: `${done.id} (the rollback snapshot; upgrade never deletes it)`, result: { snapshotId: done.id } };
          },
          restore: (c, r) => {
            c.hop.finalSnapshotId = r.snapshotId;
          },
        });
      case 'detach-data-volume':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            await cloud.detachVolume(c.hop.oldVolumeId, c.hop.oldInstanceId, VOLUME_TIMEOUT_MS);
            return { summary: `${c.hop.oldVolumeId} detached` };
          },
        });
      case 'launch-new-instance':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const data = p.strategy === 'clone' ? snapshotData(p, c.hop.finalSnapshotId!) : ({ mode: 'none' } as const);
            const launched = await cloud.launchInstanceFromSnapshot(launchSpecFor(p, hop, data));
            c.hop.newInstanceId = launched.id;
            if (p.strategy === 'clone') {
              await cloud.waitForInstanceState(launched.id, 'running', INSTANCE_STATE_TIMEOUT_MS);
              const seen = await cloud.describeInstance(launched.id);
              c.hop.newVolumeId = seen?.volumes.find((x) => x.device === p.template.dataDevice)?.volumeId;
            } else {
              c.hop.newVolumeId = c.hop.oldVolumeId;
            }
            return { summary: `${launched.id}${c.hop.newVolumeId ? ` with data volume ${c.hop.newVolumeId}` : ''}`, result: { instanceId: launched.id, volumeId: c.hop.newVolumeId ?? '' } };
          },
          restore: (c, r) => {
            c.hop.newInstanceId = r.instanceId;
            c.hop.newVolumeId = r.volumeId || c.hop.oldVolumeId;
          },
        });
      case 'stop-new-instance':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const id = c.hop.newInstanceId!;
            const volume = await cloud.describeVolume(c.hop.oldVolumeId);
            // Already carrying its data (a re-run after the attach): stopping it now would only add downtime.
            if (volume?.attachedTo !== id) {
              const now = await cloud.describeInstance(id);
              if (now?.state !== 'stopped') await cloud.stopInstance(id);
              await cloud.waitForInstanceState(id, 'stopped', INSTANCE_STATE_TIMEOUT_MS);
            }
            return { summary: `${id} stopped before its first boot with data` };
          },
        });
      case 'attach-data-volume':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            await cloud.attachVolume(c.hop.oldVolumeId, c.hop.newInstanceId!, p.template.dataDevice, VOLUME_TIMEOUT_MS);
            return { summary: `${c.hop.oldVolumeId} → ${c.hop.newInstanceId} ${p.template.dataDevice}` };
          },
        });
      case 'start-new-instance':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            await cloud.startInstance(c.hop.newInstanceId!);
            await cloud.waitForInstanceState(c.hop.newInstanceId!, 'running', INSTANCE_STATE_TIMEOUT_MS);
            return { summary: `${c.hop.newInstanceId} running` };
          },
        });
      case 'move-elastic-ip':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const address = await cloud.associateAddress(p.allocationId!, c.hop.newInstanceId!);
            c.hop.host = address?.publicIp ?? c.hop.host;
            return { summary: `${address?.publicIp} → ${c.hop.newInstanceId}`, result: { publicIp: address?.publicIp ?? '' } };
          },
          restore: (c, r) => {
            c.hop.host = r.publicIp || c.hop.host;
          },
        });
      case 'wait-for-version':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const id = c.hop.newInstanceId!;
            const host = p.allocationId ? c.hop.host : (await cloud.describeInstance(id))?.publicIp;
            const holdMs = p.holdSeconds * 1000;
            await waitUntilReady(
              { cloud, connectRemote: deps.connectRemote, io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
              {
                instanceId: id,
                version: hop.to,
                deploymentName: p.name,
                host,
                ssh,
                totalTimeoutMs: p.timeoutMinutes * 60_000,
                holdMs,
                pollMs: deps.env.SOURCEGRAPH_LAUNCH_POLL_MS ? Number(deps.env.SOURCEGRAPH_LAUNCH_POLL_MS) : undefined,
                resumeCommand: upgradeCommand(deps, p),
              },
            );
            c.healthyAt = Date.now() - holdMs;
            c.hop.host = host;
            if (c.hop.newVolumeId) await cloud.tagResources([c.hop.newVolumeId], { [TAG_VERSION]: hop.to });
            return { summary: `${hop.to} serving`, result: { healthyAt: String(c.healthyAt) } };
          },
          restore: (c, r) => {
            c.healthyAt = Number(r.healthyAt);
          },
        });
      case 'check-version-files':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            const files = ssh && c.hop.host ? await readVersionFiles(deps, cloud, ssh, c.hop.host, c.hop.newInstanceId!) : undefined;
            if (!files) return { summary: 'could not read them over SSH (the /healthz check passed)' };
            if (files.root !== hop.to || files.data !== hop.to) {
              throw new CloudError('version-files-disagree', `After the upgrade the version files read image ${files.root}, data ${files.data} instead of ${hop.to}`);
            }
            return { summary: `image and data both ${hop.to}` };
          },
        });
      case 'retire-intermediate':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async (c) => {
            await cloud.terminateInstance(c.hop.oldInstanceId);
            await cloud.waitForInstanceState(c.hop.oldInstanceId, 'terminated', INSTANCE_STATE_TIMEOUT_MS);
            // clone: the intermediate copy is held by this hop's final snapshot; never the original volume.
            if (p.strategy === 'clone' && c.hop.oldVolumeId !== p.original.dataVolumeId) {
              await cloud.waitForVolumeAvailable(c.hop.oldVolumeId, VOLUME_TIMEOUT_MS);
              await cloud.deleteVolume(c.hop.oldVolumeId);
            }
            return { summary: `${c.hop.oldInstanceId} terminated` };
          },
        });
      case 'keep-rollback-point':
        return onceStep<typeof ctx>(journal, times, {
          ...base,
          run: async () => ({ summary: `${p.original.instanceId} (stopped) is the rollback point` }),
        });
    }
  });

  try {
    await runSteps(steps, ctx, { journal, save: open.save, io, signal: deps.signal, fault: deps.env.SOURCEGRAPH_LAUNCH_FAULT });
  } catch (e) {
    throw afterFailure(deps, p, journal.steps, e);
  }

  const last = ctx.hop;
  const firstFinal = journal.steps[`${p.hops[0]!.to}:snapshot-final`]?.result?.snapshotId;
  let volumeInitialization: UpgradeResult['volumeInitialization'];
  if (p.strategy === 'clone' && last.newVolumeId) {
    const init = await cloud.describeVolumeInitialization(last.newVolumeId).catch(() => undefined);
    if (init) volumeInitialization = { volumeId: last.newVolumeId, state: init.state, type: init.type, progressPercent: init.progressPercent };
  }
  const downtimeMs = ctx.cutoverAt !== undefined && ctx.healthyAt !== undefined ? Math.max(0, ctx.healthyAt - ctx.cutoverAt) : undefined;
  const result: UpgradeResult = {
    name: p.name,
    region: p.region,
    from: p.from,
    to: p.to,
    strategy: p.strategy,
    hops: p.hops,
    instanceId: last.newInstanceId,
    url: last.host ? `http://${last.host}` : undefined,
    downtimeMs,
    steps: times,
    rollbackPoint: {
      instanceId: p.original.instanceId,
      ...(p.strategy === 'clone' ? { dataVolumeId: p.original.dataVolumeId } : {}),
      snapshotId: firstFinal,
      strategy: p.strategy,
      version: p.from,
    },
    volumeInitialization,
  };
  open.record.version = p.to;
  open.record.instanceId = last.newInstanceId;
  open.save(journal);
  if (io.json) io.result(result);
  else {
    io.success(`${p.name} upgraded from ${p.from} to ${p.to}${result.url ? ` at ${result.url}` : ''}.`);
    if (downtimeMs !== undefined) io.info(`Downtime (old instance stopped → ${p.to} healthy): ${formatMs(downtimeMs)}.`);
    for (const t of times.filter((x) => !x.resumed)) io.info(`  ${formatMs(t.ms).padStart(12)}  ${t.id}`);
    if (volumeInitialization) {
      io.info(
        volumeInitialization.state === 'completed'
          ? `The cloned data volume ${volumeInitialization.volumeId} is fully initialised.`
          : `The cloned data volume ${volumeInitialization.volumeId} is still loading its blocks from the snapshot (${volumeInitialization.state}${volumeInitialization.progressPercent !== undefined ? `, ${volumeInitialization.progressPercent}%` : ''}); \`${deps.program} status\` shows progress.`,
      );
    }
    io.info(
      `Rollback point: ${p.original.instanceId} (stopped${p.strategy === 'clone' ? `, with its untouched data volume ${p.original.dataVolumeId}` : `; data from snapshot ${firstFinal}`}). ` +
        `Go back with \`${deps.program} rollback ${p.name} --region ${p.region}\`; when happy, remove it with \`${deps.program} prune ${p.name} --region ${p.region}\`.`,
    );
  }
  return result;
}

function nextHop(previous: HopState): HopState {
  return { oldInstanceId: previous.newInstanceId!, oldVolumeId: previous.newVolumeId!, host: previous.host };
}

/** Before the old instance stopped nothing changed; after, the user chooses: resume or roll back. */
function afterFailure(deps: Deps, p: UpgradePlanState, steps: Record<string, { status: string }>, e: unknown): unknown {
  const cutover = Object.keys(steps).some((id) => id.endsWith(':cutover-started'));
  const base = e instanceof LaunchError ? e : new CloudError('upgrade-failed', e instanceof Error ? e.message : String(e), { cause: e });
  if (base.code === 'interrupted' && !cutover) return base;
  const remediation = cutover
    ? `The old ${p.from} instance ${p.original.instanceId} is stopped with its pre-upgrade data (${p.strategy === 'clone' ? `untouched volume ${p.original.dataVolumeId}` : 'final snapshot'}); nothing was deleted. ` +
      `Either resume: \`${upgradeCommand(deps, p)}\`, or go back: \`${deps.program} rollback ${p.name} --region ${p.region} --yes\`.`
    : `Nothing changed for users: ${p.original.instanceId} still serves ${p.from}. Fix the cause and run \`${upgradeCommand(deps, p)}\` again.`;
  return new LaunchError(base.code, base.exitCode, base.message, { cause: base.cause ?? e, details: { ...base.details, cutoverStarted: cutover }, remediation });
}
