// The upgrade workflow: reconcile with the cloud (labels, /healthz, version files), plan the chain
// of hops (one minor at a time) and the strategy, then run the steps hop by hop with a journal, so
// an interrupted run re-run restores what finished and goes on.
//
// The data never meets an instance that could boot without it: clone creates the new instance
// with its data disk made from the final snapshot in the same request; move creates it without a
// data disk behind the boot guard, stops it, attaches the old disk and starts it (where the cloud
// can attach an existing disk at creation, it does so at once). Until the old instance stops
// nothing has changed for users; after that a failure ends with the choice of resuming or rolling
// back, and the pre-upgrade data (untouched disk or final snapshot) is never deleted.
import type { Cloud, DiskSpec } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { catalogKnownImages, catalogVersions, type ImageCatalog } from '../core/catalog.js';
import { CloudError, LaunchError, UsageError } from '../core/errors.js';
import type { SizeName } from '../core/presets.js';
import {
  buildImageCommand,
  chainRefusalError,
  chooseStrategy,
  planUpgradeChain,
  planUpgradeSteps,
  type KnownImage,
  type UpgradeHop,
  type UpgradeStep,
  type UpgradeStrategy,
} from '../core/upgrade-plan.js';
import { normalizeVersion } from '../core/versions.js';
import { getJournalValue, runWorkflow, type StepTime } from '../engine/runner.js';
import { upgradeCommand, upgradeSteps, type UpgradeCtx, type UpgradePlanState } from './upgrade-steps.js';
export { firstLaunchSpec, hopInstanceSpec, upgradeCommand, type UpgradePlanState } from './upgrade-steps.js';
import { agentRejoinSteps, liveAgentIds, scaleCommandFor, type AgentOutcome } from './agents-rejoin.js';
import { balancerFrontOf, dataDiskOf, healthOf, imageVersionFile, probeVersion, readVersionFiles, runOptions, sshAccess, type OpenJournal, type SshAccess } from './shared.js';

/** MiB/s asked of the cloud for the cloned disk by default, where it offers a rate (the maximum is 300). */
export const DEFAULT_INIT_RATE_MIBPS = 300;

/** What the command validated from its flags. */
export interface UpgradeOptions {
  to?: string;
  image?: string;
  strategy?: UpgradeStrategy;
  size?: SizeName;
  holdSeconds: number;
  timeoutMinutes: number;
  /** Undefined: lazy loading (asked for 0, or the cloud has no rate). */
  initRateMiBps?: number;
  identityFile?: string;
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
  /** The dry run's steps; the address move's action is named as its step id is (move-elastic-ip on AWS), as it always was. */
  plan?: (Omit<UpgradeStep, 'action'> & { action: string })[];
  /** The deployment's k3s agents, re-joined to the new server (absent without agents). */
  agents?: AgentOutcome[];
}

/**
 * Images the account can launch for the versions the plan needs (published or built), plus every
 * image built by sourcegraph-launch: a build of any patch of a minor can fill that hop.
 */
async function knownImages(cloud: Cloud, size: string | undefined, versions: string[]): Promise<KnownImage[]> {
  const found: KnownImage[] = [];
  for (const version of [...new Set(versions)]) {
    const image = await cloud.findImage({ version, ...(size ? { size } : {}) });
    if (image?.version) found.push({ version: image.version, imageId: image.id, source: image.source === 'flag' ? 'built' : image.source });
  }
  for (const image of await cloud.listBuiltImages()) {
    if (!image.version || found.some((f) => f.imageId === image.id)) continue;
    if (size && image.size && image.size !== size) continue;
    found.push({ version: image.version, imageId: image.id, source: 'built' });
  }
  return found;
}

/** Reconciles with the cloud and plans: the chain, the strategy, and an instance like the old one. */
export async function planUpgrade(deps: Deps, cloud: Cloud, target: Target, o: UpgradeOptions, operation: string): Promise<UpgradePlanState | { nothing: string }> {
  const { io } = deps;
  const { provider } = target;
  const d = await cloud.findDeployment(target.name);
  const instance = d.instance;
  if (!instance || instance.labels.role !== 'instance') {
    throw new UsageError(`No serving instance of deployment ${target.name} in ${target.cloud} ${target.region}`, {
      code: 'deployment-not-found',
      remediation: `Check with \`${deps.program} status ${target.name} --region ${target.region}\`.`,
    });
  }
  if (instance.state !== 'running') {
    throw new UsageError(`The instance ${instance.id} of ${target.name} is ${instance.state}; upgrade starts from a running deployment`, {
      code: 'not-running',
      remediation: d.otherInstances.some((i) => i.labels.role === 'rollback-point')
        ? `An earlier upgrade may have stopped half way: run \`${deps.program} rollback ${target.name} --region ${target.region}\`, or start the instance.`
        : 'Start the instance first.',
    });
  }
  const slot = (role: 'root' | 'data') => instance.disks.find((x) => x.role === role)?.diskId;
  const dataSlot = slot('data');
  const dataDisk = dataDiskOf(d, instance) ?? (dataSlot ? await cloud.describeDisk(dataSlot) : undefined);
  if (!dataDisk) throw new CloudError('no-data-volume', `Instance ${instance.id} has no data ${provider.terms.disk}`);
  const rootSlot = slot('root');
  const rootDisk = rootSlot ? (d.disks.find((x) => x.id === rootSlot) ?? (await cloud.describeDisk(rootSlot))) : undefined;

  // The running version: what /healthz says, else the label; the version files (SSH) must agree.
  const address = d.addresses.find((a) => a.instanceId === instance.id);
  const host = address?.ip ?? instance.publicIp;
  const record = deps.state.getDeployment(target.cloud, target.region, target.name);
  // Behind tls --tls managed's load balancer the address answers only the balancer: ask the site.
  const balancer = balancerFrontOf(record);
  const served = await probeVersion(deps, host, healthOf(balancer));
  const labelled = normalizeVersion(instance.labels.version ?? '');
  const current = served ?? labelled;
  if (!current) throw new CloudError('unknown-version', `Cannot tell which version ${target.name} runs: /healthz did not answer and the instance has no version tag`);
  if (served && labelled && served !== labelled) io.warn(`/healthz reports ${served} but the instance is tagged ${labelled}: planning from ${served}.`);
  const ssh = sshAccess(deps, target, record, o.identityFile);
  if (ssh && host) {
    const files = await readVersionFiles(deps, cloud, ssh, { root: imageVersionFile(provider) }, host, instance.id);
    if (files && (files.root !== current || files.data !== current)) {
      throw new CloudError('version-files-disagree', `The version files disagree with ${current}: image ${files.root}, data ${files.data}`, {
        remediation: 'A previous upgrade did not finish on the instance. Let it finish (or roll back) before upgrading.',
      });
    }
  }

  // Images: the shipped catalog (where the cloud has published ones), --image, and what the cloud finds.
  const catalog: ImageCatalog = (await provider.publishedImages?.()) ?? { versions: {} };
  const size = o.size ?? d.size;
  const known = catalogKnownImages(catalog, { region: target.region, ...(size ? { size } : {}) });
  const chainWith = (extra: KnownImage[]) =>
    planUpgradeChain({ current, target: o.to, known: [...known, ...extra], knownVersions: catalogVersions(catalog), region: target.region, cloud: target.cloud, ...(size ? { size } : {}) });
  const extra: KnownImage[] = [];
  if (o.image) {
    const info = await cloud.describeImage(o.image);
    const version = normalizeVersion(o.to ?? '') ?? info?.version;
    if (!info || !version) throw new UsageError(`--image ${o.image}: not found, or its version is unknown (pass --to x.y.z)`);
    extra.push({ version, imageId: o.image, source: 'flag' });
  }
  const first = chainWith(extra);
  const toCheck = first.ok ? first.hops.map((h) => h.to) : [first.target ?? '', ...first.missingImages.map((m) => m.version)].filter(Boolean);
  extra.push(...(await knownImages(cloud, size, toCheck)));
  const chain = chainWith(extra);
  if (!chain.ok) {
    const err = chainRefusalError(chain);
    if (err) throw err;
    return { nothing: chain.message };
  }
  for (const hop of chain.hops.filter((h) => h.source === 'catalog')) {
    if (!(await cloud.describeImage(hop.imageId))) {
      throw new LaunchError('missing-images', 1, `The catalog's image ${hop.imageId} for ${hop.to} is not available in ${target.region}. Nothing was changed.`, {
        remediation: `Build it: ${buildImageCommand({ cloud: target.cloud, region: target.region, ...(size ? { size } : {}) }, hop.to, deps.program)}`,
      });
    }
  }

  const data: DiskSpec = { sizeGiB: dataDisk.sizeGiB, type: dataDisk.type, ...(dataDisk.iops !== undefined ? { iops: dataDisk.iops } : {}), ...(dataDisk.throughput !== undefined ? { throughput: dataDisk.throughput } : {}) };
  const strategy = chooseStrategy({ requested: o.strategy, dataVolume: data, prices: provider.storagePricing() }).strategy;
  const encryptionKeyId = dataDisk.keyId ?? rootDisk?.keyId;
  const agents = liveAgentIds(d.otherInstances);
  return {
    name: target.name,
    cloud: target.cloud,
    region: target.region,
    operation,
    strategy,
    from: current,
    to: chain.target,
    hops: chain.hops,
    ...(size ? { size } : {}),
    original: { instanceId: instance.id, dataDiskId: dataDisk.id, zone: instance.zone },
    template: {
      machineType: o.size ? provider.sizes[o.size].machineType : instance.machineType,
      placement: { zone: instance.zone, ...(instance.subnetId ? { subnetId: instance.subnetId } : {}) },
      accessPolicyIds: instance.accessPolicyIds,
      ...(instance.sshKeyName ? { sshKeyName: instance.sshKeyName } : {}),
      loginUser: record?.sshUser ?? provider.loginUser,
      ...(instance.instanceIdentity ? { instanceIdentity: instance.instanceIdentity } : {}),
      ...(instance.labels['key-fingerprint'] ? { keyFingerprint: instance.labels['key-fingerprint'] } : {}),
      foreignLabels: { ...instance.foreignLabels },
      rootDisk: rootDisk ? { sizeGiB: rootDisk.sizeGiB, type: rootDisk.type } : provider.rootDisk,
      ...(encryptionKeyId ? { encryptionKeyId } : {}),
    },
    dataDisk: data,
    ...(strategy === 'clone' && o.initRateMiBps ? { initRateMiBps: o.initRateMiBps } : {}),
    ...(address ? { addressId: address.id } : {}),
    ...(host ? { host } : {}),
    holdSeconds: o.holdSeconds,
    timeoutMinutes: o.timeoutMinutes,
    ...(agents.length ? { agents } : {}),
    ...(balancer ? { balancer } : {}),
  };
}

/** The planned steps of a plan (data only; upgrade-steps.ts maps each to its cloud calls). */
export function stepsOf(p: UpgradePlanState, provider: ProviderDescriptor, ssh: boolean): UpgradeStep[] {
  return planUpgradeSteps({
    strategy: p.strategy,
    hops: p.hops,
    holdSeconds: p.holdSeconds,
    terms: provider.terms,
    deployment: {
      instanceId: p.original.instanceId,
      availabilityZone: p.original.zone,
      dataVolumeId: p.original.dataDiskId,
      ...(p.addressId ? { addressId: p.addressId } : {}),
      ssh,
      ...(p.balancer?.gateway ? { balancerBackend: p.balancer.backendId.split('/').pop() ?? p.balancer.backendId, balancerIsGateway: true } : p.balancer ? { balancerBackend: p.balancer.backendId.split('/').slice(-2, -1)[0] ?? p.balancer.backendId } : {}),
    },
  });
}

/** Runs the planned steps (restoring those an earlier run finished) and records the new version. */
export async function runUpgradeWorkflow(
  deps: Deps,
  cloud: Cloud,
  target: Target,
  p: UpgradePlanState,
  planned: UpgradeStep[],
  open: OpenJournal,
  ssh: SshAccess | undefined,
): Promise<UpgradeResult> {
  const ctx: UpgradeCtx = { hop: { oldInstanceId: p.original.instanceId, oldDiskId: p.original.dataDiskId, ...(p.host ? { host: p.host } : {}) } };
  const steps = upgradeSteps({ deps, cloud, provider: target.provider, plan: p, open, ssh }, planned);
  // Agents (scale) follow the server once it serves: the version is recorded first, so a failure
  // with the agents leaves the deployment known as upgraded.
  const agentIds = p.agents ?? [];
  const agents = agentRejoinSteps<UpgradeCtx>(deps, cloud, {
    deployment: p.name,
    agentIds,
    server: () => ({ instanceId: ctx.hop.newInstanceId!, ...(ctx.hop.host ? { host: ctx.hop.host } : {}) }),
    ssh,
    readyTimeoutMs: p.timeoutMinutes * 60_000,
    operation: 'upgrade',
    scaleCommand: scaleCommandFor(deps.program, target, agentIds.length),
    resumeCommand: upgradeCommand(deps.program, p),
  });
  let serverDone = false;
  if (agentIds.length) {
    steps.push({
      id: 'record-upgraded-server',
      title: `Recording that ${p.to} serves`,
      run: async (c) => {
        serverDone = true;
        open.record.version = p.to;
        if (c.hop.newInstanceId) open.record.instanceId = c.hop.newInstanceId;
        return { summary: `${c.hop.newInstanceId ?? ''} serves ${p.to}` };
      },
      restore: () => {
        serverDone = true;
      },
    });
    steps.push(...agents.steps);
  }
  let times: StepTime[];
  try {
    times = await runWorkflow(steps, ctx, runOptions(deps, open));
  } catch (e) {
    // The server's part is done: its error says so and names the scale command; never "roll back".
    if (serverDone) throw e;
    throw afterFailure(deps, target.provider, p, open, e);
  } finally {
    await agents.close();
  }

  const last = ctx.hop;
  const firstFinal = open.journal.steps[`${p.hops[0]!.to}:snapshot-final`]?.result?.snapshotId;
  let volumeInitialization: UpgradeResult['volumeInitialization'];
  if (p.strategy === 'clone' && last.newDiskId) {
    const init = await cloud.diskInitialization(last.newDiskId).catch(() => undefined);
    if (init) volumeInitialization = { volumeId: last.newDiskId, state: init.state, ...(init.type ? { type: init.type } : {}), ...(init.progressPercent !== undefined ? { progressPercent: init.progressPercent } : {}) };
  }
  const downtimeMs = ctx.cutoverAt !== undefined && ctx.healthyAt !== undefined ? Math.max(0, ctx.healthyAt - ctx.cutoverAt) : undefined;
  open.record.version = p.to;
  if (last.newInstanceId) open.record.instanceId = last.newInstanceId;
  open.save(open.journal);
  return {
    name: p.name,
    region: p.region,
    from: p.from,
    to: p.to,
    strategy: p.strategy,
    hops: p.hops,
    ...(last.newInstanceId ? { instanceId: last.newInstanceId } : {}),
    ...(p.balancer?.healthUrl ? { url: p.balancer.healthUrl.replace(/\/healthz$/, '') } : last.host ? { url: `http://${last.host}` } : {}),
    ...(downtimeMs !== undefined ? { downtimeMs } : {}),
    steps: times,
    rollbackPoint: {
      instanceId: p.original.instanceId,
      ...(p.strategy === 'clone' ? { dataVolumeId: p.original.dataDiskId } : {}),
      ...(firstFinal ? { snapshotId: firstFinal } : {}),
      strategy: p.strategy,
      version: p.from,
    },
    ...(volumeInitialization ? { volumeInitialization } : {}),
    ...(agentIds.length ? { agents: agents.outcomes() } : {}),
  };
}

/** Whether any hop's old instance began to stop (from then on users see downtime). */
export function cutoverStarted(p: Pick<UpgradePlanState, 'hops'>, open: Pick<OpenJournal, 'journal'>): boolean {
  return p.hops.some((h) => getJournalValue(open.journal, `cutover:${h.to}`) !== undefined);
}

/** Before the old instance stopped nothing changed; after, the user chooses: resume or roll back. */
function afterFailure(deps: Deps, provider: ProviderDescriptor, p: UpgradePlanState, open: OpenJournal, e: unknown): unknown {
  const cutover = cutoverStarted(p, open);
  const base = e instanceof LaunchError ? e : new CloudError('upgrade-failed', e instanceof Error ? e.message : String(e), { cause: e });
  if (base.code === 'interrupted' && !cutover) return base;
  const resume = upgradeCommand(deps.program, p);
  const remediation = cutover
    ? `The old ${p.from} instance ${p.original.instanceId} is stopped with its pre-upgrade data (${p.strategy === 'clone' ? `untouched ${provider.terms.disk} ${p.original.dataDiskId}` : 'final snapshot'}); nothing was deleted. ` +
      `Either resume: \`${resume}\`, or go back: \`${deps.program} rollback ${p.name} --region ${p.region} --yes\`.`
    : `Nothing changed for users: ${p.original.instanceId} still serves ${p.from}. Fix the cause and run \`${resume}\` again.`;
  return new LaunchError(base.code, base.exitCode, base.message, { cause: base.cause ?? e, details: { ...base.details, cutoverStarted: cutover }, remediation });
}

