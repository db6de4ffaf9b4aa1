// The saved plan of an upgrade, what each hop's new instance is made from, and the cloud calls
// behind each planned step (src/core/upgrade-plan.ts says which steps, in which order, and their
// ids). Each step returns what a resumed run needs to restore its effect on the context; a step
// that finished before is restored, never run again (the runner's rule), and one that was
// interrupted runs again: every call here is idempotent (creates are found again by their
// operation label or idempotency key, waits and attaches check the state first).
import type { Cloud, DataDiskSpec, DiskSpec, InstanceSpec, Placement } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import { CloudError } from '../core/errors.js';
import type { Labels } from '../core/labels.js';
import type { UpgradeHop, UpgradeStep, UpgradeStrategy } from '../core/upgrade-plan.js';
import { getJournalValue, putJournalValue, type Step, type StepResult } from '../engine/runner.js';
import { waitUntilReady } from '../engine/wait.js';
import { imageVersionFile, markRollbackData, moveBalancerTargetStep, readVersionFiles, type BalancerFront, type OpenJournal, type SshAccess } from './shared.js';

const SNAPSHOT_TIMEOUT_MS = 6 * 3_600_000;
const INSTANCE_STATE_TIMEOUT_MS = 15 * 60_000;
const DISK_TIMEOUT_MS = 10 * 60_000;

/** Everything the run needs, fixed before the first change and saved in the journal for a resumed run. */
export interface UpgradePlanState {
  name: string;
  cloud: string;
  region: string;
  operation: string;
  strategy: UpgradeStrategy;
  from: string;
  to: string;
  hops: UpgradeHop[];
  size?: string;
  original: { instanceId: string; dataDiskId: string; zone: string };
  /** The new instances are made like the old one. */
  template: {
    machineType: string;
    placement: Placement;
    accessPolicyIds: string[];
    sshKeyName?: string;
    loginUser: string;
    instanceIdentity?: string;
    keyFingerprint?: string;
    foreignLabels: Record<string, string>;
    rootDisk: DiskSpec;
    encryptionKeyId?: string;
  };
  dataDisk: DiskSpec;
  initRateMiBps?: number;
  addressId?: string;
  host?: string;
  holdSeconds: number;
  timeoutMinutes: number;
  /** The deployment's k3s agents (scale) when planned: re-joined to the new server after it serves. */
  agents?: string[];
  /** tls --tls managed's load balancer: its target follows each hop's new instance; the wait asks the HTTPS URL once installed. */
  balancer?: BalancerFront;
}

/** How a hop's new instance gets its data: clone, made from the snapshot; move, the old disk itself. */
export function hopDataDisk(p: UpgradePlanState, source: { snapshotId: string } | { diskId: string }): DataDiskSpec {
  if ('snapshotId' in source) {
    return { mode: 'snapshot', snapshotId: source.snapshotId, disk: p.dataDisk, ...(p.initRateMiBps ? { initializationRateMiBps: p.initRateMiBps } : {}) };
  }
  return { mode: 'existing', diskId: source.diskId };
}

/** The new instance of a hop: like the old one (type, placement, access, key, identity, the user's labels), at the hop's image. */
export function hopInstanceSpec(p: UpgradePlanState, hop: UpgradeHop, dataDisk: DataDiskSpec): InstanceSpec {
  const t = p.template;
  const operation = `${p.operation}:${hop.to}`;
  const labels: Labels = {
    deployment: p.name,
    role: 'instance',
    version: hop.to,
    ...(p.size ? { size: p.size } : {}),
    managed: 'true',
    operation,
    ...(t.keyFingerprint ? { 'key-fingerprint': t.keyFingerprint } : {}),
  };
  return {
    deployment: p.name,
    role: 'instance',
    version: hop.to,
    ...(p.size ? { size: p.size } : {}),
    imageId: hop.imageId,
    machineType: t.machineType,
    placement: t.placement,
    accessPolicyIds: t.accessPolicyIds,
    sshKey: t.sshKeyName ? { mode: 'existing', name: t.sshKeyName } : { mode: 'none' },
    loginUser: t.loginUser,
    rootDisk: t.rootDisk,
    dataDisk,
    keepDataDisk: true,
    ...(t.encryptionKeyId ? { encryptionKeyId: t.encryptionKeyId } : {}),
    ...(t.instanceIdentity ? { instanceIdentity: t.instanceIdentity } : {}),
    labels,
    foreignLabels: t.foreignLabels,
    idempotencyKey: `sgl-${operation}`.slice(0, 64),
  };
}

/** The first hop's launch as the dry run shows it (the final snapshot does not exist yet). */
export function firstLaunchSpec(p: UpgradePlanState): InstanceSpec {
  const hop = p.hops[0]!;
  return hopInstanceSpec(p, hop, p.strategy === 'clone' ? hopDataDisk(p, { snapshotId: '<final snapshot id>' }) : hopDataDisk(p, { diskId: p.original.dataDiskId }));
}

export function upgradeCommand(program: string, p: Pick<UpgradePlanState, 'name' | 'region' | 'to' | 'strategy'>): string {
  return `${program} upgrade ${p.name} --region ${p.region} --to ${p.to} --strategy ${p.strategy} --yes`;
}

/** One hop's instances and disks, as the steps learn them. */
export interface HopState {
  /** The instance serving before this hop (stopped at cutover) and its data disk. */
  oldInstanceId: string;
  oldDiskId: string;
  liveSnapshotId?: string;
  finalSnapshotId?: string;
  newInstanceId?: string;
  newDiskId?: string;
  host?: string;
}

export interface UpgradeCtx {
  hop: HopState;
  /** When the first hop's old instance began to stop (kept in the journal: a resumed run measures from it). */
  cutoverAt?: number;
  /** When the last verified version first answered (the hold not counted). */
  healthyAt?: number;
}

export interface UpgradeStepEnv {
  deps: Deps;
  cloud: Cloud;
  provider: ProviderDescriptor;
  plan: UpgradePlanState;
  open: OpenJournal;
  ssh: SshAccess | undefined;
}

function nextHop(previous: HopState): HopState {
  return { oldInstanceId: previous.newInstanceId!, oldDiskId: previous.newDiskId!, ...(previous.host ? { host: previous.host } : {}) };
}

export function upgradeSteps(env: UpgradeStepEnv, planned: UpgradeStep[]): Step<UpgradeCtx>[] {
  return planned.map((s) => {
    const hop = env.plan.hops[s.hop]!;
    const work = actions(env, hop, s.hop === 0)[s.action];
    return { id: s.id, title: s.title, run: work.run, ...(work.restore ? { restore: work.restore } : {}) };
  });
}

type Work = { run(c: UpgradeCtx): Promise<StepResult>; restore?(c: UpgradeCtx, r: Record<string, string>): void };

function actions(env: UpgradeStepEnv, hop: UpgradeHop, first: boolean): Record<UpgradeStep['action'], Work> {
  const { deps, cloud, provider, plan: p, open, ssh } = env;
  const operation = `${p.operation}:${hop.to}`;
  const firstCutover = () => getJournalValue<number>(open.journal, `cutover:${p.hops[0]!.to}`);
  const snapshot = async (purpose: 'pre-upgrade-live' | 'pre-upgrade-final', diskId: string) => {
    const created = await cloud.createSnapshot({
      deployment: p.name,
      diskId,
      labels: { deployment: p.name, role: 'snapshot', purpose, 'source-version': hop.from, version: hop.from, ...(p.size ? { size: p.size } : {}), managed: 'true' },
      operation,
      description: `sourcegraph-launch ${p.name}: ${purpose} of ${hop.from} before ${hop.to}`,
    });
    return cloud.waitForSnapshot(created.id, SNAPSHOT_TIMEOUT_MS);
  };

  return {
    'snapshot-live': {
      run: async (c) => {
        if (!first) c.hop = nextHop(c.hop);
        const done = await snapshot('pre-upgrade-live', c.hop.oldDiskId);
        c.hop.liveSnapshotId = done.id;
        return { summary: done.id, result: { snapshotId: done.id, oldInstanceId: c.hop.oldInstanceId, oldDiskId: c.hop.oldDiskId } };
      },
      restore: (c, r) => {
        c.hop = { oldInstanceId: r.oldInstanceId!, oldDiskId: r.oldDiskId!, ...(r.snapshotId ? { liveSnapshotId: r.snapshotId } : {}), ...(c.hop.host ? { host: c.hop.host } : {}) };
      },
    },
    'check-launch-permissions': {
      run: async (c) => {
        // Not every cloud can check a launch without making it: then a refusal shows at cutover.
        if (!cloud.capabilities.permissionPreflight) return { summary: `skipped: ${provider.displayName} has no permission check that creates nothing` };
        const data = p.strategy === 'clone' ? hopDataDisk(p, { snapshotId: c.hop.liveSnapshotId! }) : hopDataDisk(p, { diskId: c.hop.oldDiskId });
        await cloud.checkInstancePermissions(hopInstanceSpec(p, hop, data));
        return { summary: provider.terms.permissionCheckPassed };
      },
    },
    'stop-old-instance': {
      run: async (c) => {
        // Downtime starts here; a resumed run keeps measuring from the first attempt's moment.
        if (getJournalValue(open.journal, `cutover:${hop.to}`) === undefined) {
          putJournalValue(open.journal, `cutover:${hop.to}`, deps.clock.now());
          open.save(open.journal);
        }
        c.cutoverAt ??= firstCutover() ?? deps.clock.now();
        await cloud.setLabels(
          [c.hop.oldInstanceId],
          first ? { role: 'rollback-point', strategy: p.strategy, operation: p.operation, 'source-version': hop.from } : { role: 'intermediate' },
        );
        await cloud.stopInstance(c.hop.oldInstanceId);
        await cloud.waitForInstanceState(c.hop.oldInstanceId, 'stopped', INSTANCE_STATE_TIMEOUT_MS);
        // clone: the old disk is now the rollback point's data, written for the last time.
        if (first && p.strategy === 'clone') await markRollbackData(cloud, p.name, c.hop.oldDiskId, new Date(deps.clock.now()));
        return { summary: `${c.hop.oldInstanceId} stopped`, result: { instanceId: c.hop.oldInstanceId } };
      },
      restore: (c) => {
        c.cutoverAt ??= firstCutover();
      },
    },
    'snapshot-final': {
      run: async (c) => {
        const done = await snapshot('pre-upgrade-final', c.hop.oldDiskId);
        c.hop.finalSnapshotId = done.id;
        if (first) await cloud.setLabels([c.hop.oldInstanceId], { 'rollback-snapshot': done.id });
        return { summary: `${done.id} (the rollback snapshot; upgrade never deletes it)`, result: { snapshotId: done.id } };
      },
      restore: (c, r) => {
        if (r.snapshotId) c.hop.finalSnapshotId = r.snapshotId;
      },
    },
    'detach-data-volume': {
      run: async (c) => {
        await cloud.detachDisk(c.hop.oldDiskId, c.hop.oldInstanceId, DISK_TIMEOUT_MS);
        return { summary: `${c.hop.oldDiskId} detached` };
      },
    },
    'launch-new-instance': {
      run: async (c) => {
        const data = p.strategy === 'clone' ? hopDataDisk(p, { snapshotId: c.hop.finalSnapshotId! }) : hopDataDisk(p, { diskId: c.hop.oldDiskId });
        const launched = await cloud.ensureInstance(hopInstanceSpec(p, hop, data));
        c.hop.newInstanceId = launched.id;
        if (p.strategy === 'clone') {
          await cloud.waitForInstanceState(launched.id, 'running', INSTANCE_STATE_TIMEOUT_MS);
          const seen = (await cloud.describeInstance(launched.id)) ?? launched;
          const disk = seen.disks.find((x) => x.role === 'data')?.diskId;
          if (disk) c.hop.newDiskId = disk;
        } else {
          c.hop.newDiskId = c.hop.oldDiskId;
        }
        return {
          summary: `${launched.id}${c.hop.newDiskId ? ` with data ${provider.terms.disk} ${c.hop.newDiskId}` : ''}`,
          result: { instanceId: launched.id, diskId: c.hop.newDiskId ?? '' },
        };
      },
      restore: (c, r) => {
        c.hop.newInstanceId = r.instanceId;
        c.hop.newDiskId = r.diskId || c.hop.oldDiskId;
      },
    },
    'stop-new-instance': {
      run: async (c) => {
        const id = c.hop.newInstanceId!;
        const disk = await cloud.describeDisk(c.hop.oldDiskId);
        // Already carrying its data (attached at creation, or a re-run after the attach): stopping it now would only add downtime.
        if (disk?.attachedTo !== id) {
          if ((await cloud.describeInstance(id))?.state !== 'stopped') await cloud.stopInstance(id);
          await cloud.waitForInstanceState(id, 'stopped', INSTANCE_STATE_TIMEOUT_MS);
        }
        return { summary: `${id} stopped before its first boot with data` };
      },
    },
    'attach-data-volume': {
      run: async (c) => {
        await cloud.attachDataDisk(c.hop.oldDiskId, c.hop.newInstanceId!, DISK_TIMEOUT_MS);
        return { summary: `${c.hop.oldDiskId} → ${c.hop.newInstanceId} as its data ${provider.terms.disk}` };
      },
    },
    'start-new-instance': {
      run: async (c) => {
        const id = c.hop.newInstanceId!;
        if ((await cloud.describeInstance(id))?.state !== 'running') await cloud.startInstance(id);
        await cloud.waitForInstanceState(id, 'running', INSTANCE_STATE_TIMEOUT_MS);
        return { summary: `${id} running` };
      },
    },
    'move-address': {
      run: async (c) => {
        const address = await cloud.attachStaticAddress(p.addressId!, c.hop.newInstanceId!);
        c.hop.host = address.ip || c.hop.host;
        return { summary: `${address.ip} → ${c.hop.newInstanceId}`, result: { ip: address.ip } };
      },
      restore: (c, r) => {
        if (r.ip) c.hop.host = r.ip;
      },
    },
    'move-balancer-target': {
      run: (c) => moveBalancerTargetStep<UpgradeCtx>(cloud, p.balancer!, (x) => x.hop.newInstanceId!, 'move-balancer-target', p.timeoutMinutes * 60_000).run(c) as Promise<StepResult>,
    },
    'wait-for-version': {
      run: async (c) => {
        const id = c.hop.newInstanceId!;
        // Without a static address the new instance has an address of its own.
        const host = p.addressId ? c.hop.host : (await cloud.describeInstance(id))?.publicIp;
        const holdMs = p.holdSeconds * 1000;
        await waitUntilReady(
          { cloud, connectRemote: deps.connectRemote, io: deps.io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
          {
            instanceId: id,
            version: hop.to,
            deploymentName: p.name,
            ...(host ? { host } : {}),
            ...(p.balancer?.healthUrl ? { healthUrl: p.balancer.healthUrl, ...(p.balancer.healthVia ? { healthVia: p.balancer.healthVia } : {}) } : {}),
            ...(ssh ? { ssh } : {}),
            totalTimeoutMs: p.timeoutMinutes * 60_000,
            holdMs,
            ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
            resumeCommand: upgradeCommand(deps.program, p),
            rebootHint: provider.terms.rebootHint(id),
          },
        );
        c.healthyAt = deps.clock.now() - holdMs;
        if (host) c.hop.host = host;
        if (c.hop.newDiskId) await cloud.setLabels([c.hop.newDiskId], { version: hop.to });
        return { summary: `${hop.to} serving`, result: { healthyAt: String(c.healthyAt), ...(host ? { host } : {}) } };
      },
      restore: (c, r) => {
        c.healthyAt = Number(r.healthyAt);
        if (r.host) c.hop.host = r.host;
      },
    },
    'check-version-files': {
      run: async (c) => {
        const files = ssh && c.hop.host ? await readVersionFiles(deps, cloud, ssh, { root: imageVersionFile(provider) }, c.hop.host, c.hop.newInstanceId!) : undefined;
        if (!files) return { summary: 'could not read them over SSH (the /healthz check passed)' };
        if (files.root !== hop.to || files.data !== hop.to) {
          throw new CloudError('version-files-disagree', `After the upgrade the version files read image ${files.root}, data ${files.data} instead of ${hop.to}`);
        }
        return { summary: `image and data both ${hop.to}` };
      },
    },
    'retire-intermediate': {
      run: async (c) => {
        await cloud.terminateInstance(c.hop.oldInstanceId);
        await cloud.waitForInstanceState(c.hop.oldInstanceId, 'terminated', INSTANCE_STATE_TIMEOUT_MS);
        // clone: the intermediate copy is held by this hop's final snapshot; never the original disk.
        if (p.strategy === 'clone' && c.hop.oldDiskId !== p.original.dataDiskId) {
          await cloud.waitForDiskAvailable(c.hop.oldDiskId, DISK_TIMEOUT_MS);
          await cloud.deleteDisk(c.hop.oldDiskId);
        }
        return { summary: `${c.hop.oldInstanceId} terminated` };
      },
    },
    'keep-rollback-point': {
      run: async () => ({ summary: `${p.original.instanceId} (stopped) is the rollback point` }),
    },
  };
}
