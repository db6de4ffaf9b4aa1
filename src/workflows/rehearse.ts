// The upgrade rehearsal (`upgrade --rehearse`): the target version's migrations run on a throwaway
// copy of production's data, and production is never touched (only read: findDeployment, /healthz,
// the version files, and — with `--from-snapshot new` — a snapshot of its data disk, which the cloud
// takes while it keeps serving).
//
// A copy of the data disk is made from a snapshot in production's zone, a throwaway instance of the
// target image gets it (attached at creation where the cloud can, else behind the boot guard: stop,
// attach, start, as the move upgrade does), and the tool waits until it serves the target version.
// The copy has no public address at all (InstanceSpec.publicIp false) and its own access policy with
// one rule: SSH from production's private address. The caller reaches it over SSH through production
// (remote/jump.ts: the caller's own SSH session to production, then a channel from there to the
// copy's private address), so "SSH from the caller" is the only way in; production only relays the
// bytes and nothing on it changes. The copy's HTTP is checked from inside over that SSH (curl to the
// instance's own address), never from outside. `deps.connectRemote` given to runRehearsal is the
// jump's: every SSH connection of the workflow goes through production.
//
// Everything it makes carries the deployment's name (so `destroy` removes it with the deployment),
// role `rehearsal` / `rehearsal-data` (so nothing takes it for production: not the serving instance,
// not data) and `operation: rehearsal-<id>` (so a re-run finds exactly what an interrupted one left).
// It never writes production's operation marker and keeps its journal apart from the deployment
// record, so an upgrade may run (or resume) while a rehearsal does. It deletes all it made, also when
// the rehearsal fails or is interrupted; whatever an interrupted run could not delete, the next run
// deletes before it starts.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Cloud, DataDiskSpec, Deployment, Disk, InstanceSpec, Placement, Snapshot, SshKeySpec } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { CloudError, ExitCode, InterruptedError, LaunchError, UsageError } from '../core/errors.js';
import type { Labels } from '../core/labels.js';
import { normalizeVersion } from '../core/versions.js';
import type { Clock } from '../engine/clock.js';
import { HttpProbeError, type httpGet as HttpGet } from '../engine/http-probe.js';
import { newJournal, runWorkflow, type Step, type StepTime } from '../engine/runner.js';
import { BOOT_STATUS_PATH, waitUntilReady } from '../engine/wait.js';
import type { Remote } from '../remote/remote.js';
import type { Journal } from '../state/store.js';
import { readJsonObject, writeJsonAtomic } from '../state/json-file.js';
import { formatAge, formatMs, snapshotLabels } from './shared.js';
import type { UpgradePlanState } from './upgrade-steps.js';

const SNAPSHOT_TIMEOUT_MS = 6 * 3_600_000;
const STATE_TIMEOUT_MS = 15 * 60_000;
const DISK_TIMEOUT_MS = 10 * 60_000;
/** A snapshot this recent stands for production's data today; an older one is replaced by a new one. */
export const RECENT_SNAPSHOT_MS = 24 * 3_600_000;
const CONSOLE_TAIL_LINES = 20;

export type SnapshotChoice = { mode: 'newest' } | { mode: 'new' } | { mode: 'id'; id: string };

/** What the rehearsal will do, resolved before anything is made. */
export interface RehearsalPlan {
  id: string;
  operation: string;
  name: string;
  cloud: string;
  region: string;
  from: string;
  to: string;
  imageId: string;
  dataTemplateId?: string;
  snapshot: { mode: 'existing'; id: string; startTime?: string; version: string } | { mode: 'new'; diskId: string; reason: string };
  zone: string;
  machineType: string;
  sshCidr: string;
  sshKey: SshKeySpec;
  loginUser: string;
  privateKeyPath: string;
  dataDisk: { sizeGiB: number; type: string; iops?: number; throughput?: number };
  encryptionKeyId?: string;
  initRateMiBps?: number;
  rootDisk: { sizeGiB: number; type: string };
  /** Production's subnet and network, resolved as the cloud names them. */
  placement: Placement;
  /** Production's instance, the SSH hop to the copy: its id, the address the caller reaches it at, its private address (the copy's one rule). */
  through: { instanceId: string; host?: string; privateIp: string };
  instanceIdentity?: string;
  deleteSnapshot: boolean;
  holdSeconds: number;
  timeoutMinutes: number;
  size?: string;
}

export interface RehearsalPhases {
  /** A new snapshot of production's data (0 when an existing one was used). */
  snapshotMs: number;
  /** The disk made from the snapshot, until available. */
  diskRestoreMs: number;
  /** The instance created until it runs with the data disk attached. */
  instanceStartMs: number;
  /** Running → serving the target version: k3s, the pods, the database migrations. */
  bootToServingMs: number;
  /** Stopping the rehearsal instance once it served: what stopping production costs. */
  stopMs?: number;
}

export interface RehearsalReport {
  name: string;
  region: string;
  rehearsal: string;
  from: string;
  to: string;
  imageId: string;
  instanceType: string;
  zone: string;
  snapshot: { id?: string; new: boolean; startTime?: string; age?: string; kept: boolean };
  ok: boolean;
  phases: Partial<RehearsalPhases>;
  totalMs: number;
  /** Production's downtime by the measured phases: stop + start with data + boot to serving. */
  estimatedDowntimeMs?: number;
  downtimeEstimate?: string;
  failure?: { code: string; exitCode: number; message: string; stage?: string; consoleTail?: string; bootStatus?: string };
  cleanup: { removed: string[]; failed: { id: string; error: string }[] };
  /** What an earlier, interrupted rehearsal left and this run removed first. */
  leftoversRemoved: string[];
  steps: StepTime[];
}

// ---- the rehearsal's own journal (apart from the deployment record: an upgrade's journal stays) ----

export interface RehearsalJournal {
  journal: Journal;
  save(journal: Journal): void;
  forget(): void;
}

function journalPath(deps: Pick<Deps, 'state'>, target: Pick<Target, 'cloud' | 'region' | 'name'>): string {
  return join(deps.state.home, 'rehearsals', `${target.cloud}-${target.region}-${target.name}.json`);
}

/** The id of a rehearsal of this deployment that started here and did not finish its cleanup. */
export function unfinishedRehearsal(deps: Pick<Deps, 'state'>, target: Pick<Target, 'cloud' | 'region' | 'name'>): { id: string; startedAt: string } | undefined {
  const previous = readJsonObject(journalPath(deps, target)) as Partial<Journal> | undefined;
  return typeof previous?.id === 'string' ? { id: previous.id, startedAt: String(previous.startedAt ?? '?') } : undefined;
}

export function openRehearsalJournal(deps: Pick<Deps, 'state' | 'clock'>, target: Pick<Target, 'cloud' | 'region' | 'name'>, id: string): RehearsalJournal {
  const path = journalPath(deps, target);
  const journal = newJournal('rehearse', id, new Date(deps.clock.now()));
  return { journal, save: (j) => writeJsonAtomic(path, j), forget: () => rmSync(path, { force: true }) };
}

// ---- labels ----

export const REHEARSAL_ROLES = new Set(['rehearsal', 'rehearsal-data']);

function rehearsalLabels(p: Pick<RehearsalPlan, 'name' | 'operation' | 'to' | 'size'>, role: 'rehearsal' | 'rehearsal-data'): Labels {
  return { deployment: p.name, role, version: p.to, ...(p.size ? { size: p.size } : {}), managed: 'true', operation: p.operation };
}

/** Whether a resource's labels say a rehearsal made it (`operation` given: that rehearsal). */
export function isRehearsal(labels: Labels, operation?: string): boolean {
  return REHEARSAL_ROLES.has(labels.role ?? '') && (labels.operation ?? '').startsWith('rehearsal-') && (operation === undefined || labels.operation === operation);
}

/** What rehearsals (or the one with `operation`) left in a deployment: instances, disks, access policies, SSH keys. */
export function rehearsalResources(d: Deployment, operation?: string) {
  const instances = [...(d.instance ? [d.instance] : []), ...d.otherInstances].filter((i) => isRehearsal(i.labels, operation));
  return {
    instances,
    disks: d.disks.filter((x) => isRehearsal(x.labels, operation)),
    accessPolicies: d.accessPolicies.filter((x) => isRehearsal(x.labels, operation)),
    sshKeys: d.sshKeys.filter((x) => x.managed && isRehearsal(x.labels, operation)),
  };
}

// ---- planning ----

export interface RehearsalInputs {
  snapshot: SnapshotChoice;
  sshCidr: string;
  privateKeyPath: string;
  /** --instance-type: else production's. */
  machineType?: string;
  deleteSnapshot: boolean;
  /** Production's instance, the hop (see RehearsalPlan.through). */
  through: RehearsalPlan['through'];
}

/**
 * From the upgrade's plan (the chain, the image, an instance like production's) to the rehearsal's:
 * which snapshot, which disk, which instance. Reads only.
 */
export async function planRehearsal(deps: Deps, cloud: Cloud, target: Target, up: UpgradePlanState, input: RehearsalInputs): Promise<RehearsalPlan> {
  if (up.hops.length !== 1) {
    throw new UsageError(
      `${up.from} → ${up.to} is ${up.hops.length} hops (${up.hops.map((h) => h.to).join(' → ')}); a rehearsal rehearses one hop, as the upgrade runs them`,
      { code: 'rehearse-one-hop', remediation: `Rehearse the first hop: --to ${up.hops[0]!.to}.` },
    );
  }
  const hop = up.hops[0]!;
  const id = randomBytes(4).toString('hex');
  const now = deps.clock.now();
  let snapshot: RehearsalPlan['snapshot'];
  const choice = input.snapshot;
  if (choice.mode === 'id') {
    const s = await cloud.describeSnapshot(choice.id);
    if (!s || s.labels.deployment !== up.name) {
      throw new UsageError(`--from-snapshot ${choice.id}: no snapshot of ${up.name} with that id in ${target.region}`, {
        code: 'snapshot-not-found',
        remediation: `List them with \`${deps.program} backups ${up.name} --region ${target.region}\`.`,
      });
    }
    if (s.state !== 'completed') throw new UsageError(`--from-snapshot ${s.id} is ${s.state}; wait until it completes`, { code: 'snapshot-not-ready' });
    const version = snapshotVersion(s);
    if (version !== up.from) {
      throw new UsageError(`--from-snapshot ${s.id} holds ${version ?? 'data of an unknown version'}, but ${up.name} runs ${up.from}: the rehearsal would not rehearse this upgrade`, {
        code: 'snapshot-version-mismatch',
        remediation: 'Pick a snapshot of the running version, or --from-snapshot new.',
      });
    }
    snapshot = { mode: 'existing', id: s.id, ...(s.startTime ? { startTime: s.startTime } : {}), version };
  } else {
    const recent = choice.mode === 'newest' ? await newestUsable(cloud, up) : undefined;
    const fresh = recent && recent.startTime && now - Date.parse(recent.startTime) <= RECENT_SNAPSHOT_MS ? recent : undefined;
    if (fresh) snapshot = { mode: 'existing', id: fresh.id, startTime: fresh.startTime!, version: up.from };
    else {
      const reason =
        choice.mode === 'new'
          ? '--from-snapshot new'
          : recent
            ? `the newest snapshot of ${up.from}, ${recent.id}, is ${formatAge(recent.startTime, now)} old (more than ${RECENT_SNAPSHOT_MS / 3_600_000} h)`
            : `no completed snapshot of ${up.name}'s ${up.from} data`;
      snapshot = { mode: 'new', diskId: up.original.dataDiskId, reason };
    }
  }
  const t = up.template;
  const sshKey: SshKeySpec = t.sshKeyName ? { mode: 'existing', name: t.sshKeyName } : importKey(up.name, id, input.privateKeyPath);
  const image = await cloud.describeImage(hop.imageId);
  // Production's own subnet, with the network an access policy is made in.
  const placement = await cloud.resolvePlacement(t.placement.subnetId, [up.original.zone]);
  return {
    id,
    operation: `rehearsal-${id}`,
    name: up.name,
    cloud: target.cloud,
    region: target.region,
    from: up.from,
    to: hop.to,
    imageId: hop.imageId,
    ...(image?.dataTemplateId ? { dataTemplateId: image.dataTemplateId } : {}),
    snapshot,
    zone: up.original.zone,
    machineType: input.machineType ?? t.machineType,
    sshCidr: input.sshCidr,
    sshKey,
    loginUser: t.loginUser,
    privateKeyPath: input.privateKeyPath,
    dataDisk: up.dataDisk,
    ...(t.encryptionKeyId ? { encryptionKeyId: t.encryptionKeyId } : {}),
    ...(up.initRateMiBps ? { initRateMiBps: up.initRateMiBps } : {}),
    rootDisk: t.rootDisk,
    placement: { ...placement, zone: up.original.zone },
    ...(t.instanceIdentity ? { instanceIdentity: t.instanceIdentity } : {}),
    deleteSnapshot: input.deleteSnapshot,
    through: input.through,
    holdSeconds: up.holdSeconds,
    timeoutMinutes: up.timeoutMinutes,
    ...(up.size ? { size: up.size } : {}),
  };
}

function snapshotVersion(s: Snapshot): string | undefined {
  return normalizeVersion(s.labels['source-version'] ?? s.labels.version ?? '');
}

/** The newest completed snapshot of production's current data: of its data disk, at its version. */
async function newestUsable(cloud: Cloud, up: UpgradePlanState): Promise<Snapshot | undefined> {
  const all = await cloud.listSnapshots(up.name);
  return all.find((s) => s.state === 'completed' && snapshotVersion(s) === up.from && (s.diskId === undefined || s.diskId === up.original.dataDiskId));
}

/** Where the cloud keeps no key by name (GCE, Azure; AWS without one), the public half travels with the instance. */
function importKey(name: string, id: string, privateKeyPath: string): SshKeySpec {
  const pub = `${privateKeyPath}.pub`;
  if (!existsSync(pub)) {
    throw new UsageError(`The rehearsal instance needs the public half of ${privateKeyPath} (${pub}) to let you in, and it is not there`, {
      code: 'ssh-public-key-missing',
      remediation: `Put the public key next to the private one (ssh-keygen -y -f ${privateKeyPath} > ${pub}), or pass --identity-file.`,
    });
  }
  return { mode: 'import', name: `sgl-${name}-rehearsal-${id}`.slice(0, 63), publicKey: readFileSync(pub, 'utf8').trim() };
}

// ---- the rehearsal ----

interface Ctx {
  snapshotId?: string;
  snapshotStartTime?: string;
  diskId?: string;
  policyId?: string;
  instanceId?: string;
  host?: string;
}

/** Runs the rehearsal and always cleans up after it. Throws only for an interruption (after cleanup); a failure is in the report. */
export async function runRehearsal(deps: Deps, cloud: Cloud, target: Target, p: RehearsalPlan, rj: RehearsalJournal): Promise<RehearsalReport> {
  const { provider } = target;
  const disk = provider.terms.disk;
  const ctx: Ctx = {};
  const phases: Partial<RehearsalPhases> = {};
  const started = deps.clock.now();
  const timed = async <T>(phase: keyof RehearsalPhases, work: () => Promise<T>): Promise<T> => {
    const t0 = deps.clock.now();
    try {
      return await work();
    } finally {
      phases[phase] = (phases[phase] ?? 0) + (deps.clock.now() - t0);
    }
  };
  const labels = (role: 'rehearsal' | 'rehearsal-data') => rehearsalLabels(p, role);

  const steps: Step<Ctx>[] = [
    {
      id: 'snapshot',
      title: p.snapshot.mode === 'new' ? `Snapshot of ${p.name}'s data ${disk} ${p.snapshot.diskId} (production keeps serving)` : `Use snapshot ${p.snapshot.id}`,
      run: async (c) => {
        if (p.snapshot.mode === 'existing') {
          c.snapshotId = p.snapshot.id;
          if (p.snapshot.startTime) c.snapshotStartTime = p.snapshot.startTime;
          phases.snapshotMs = 0;
          return { summary: `${p.snapshot.id}, ${formatAge(p.snapshot.startTime, deps.clock.now())} old` };
        }
        const diskId = p.snapshot.diskId;
        const done = await timed('snapshotMs', async () => {
          const made = await cloud.createSnapshot({
            deployment: p.name,
            diskId,
            // A backup like `backup` takes (kept unless --delete-snapshot), that says which rehearsal took it.
            labels: { ...snapshotLabels(p.name, 'backup', p.from, p.size), operation: p.operation },
            operation: p.operation,
            description: `sourcegraph-launch ${p.name}: backup of ${p.from} for the rehearsal of ${p.to}`,
          });
          c.snapshotId = made.id;
          return cloud.waitForSnapshot(made.id, SNAPSHOT_TIMEOUT_MS);
        });
        if (done.startTime) c.snapshotStartTime = done.startTime;
        return { summary: `${done.id} (${p.snapshot.reason})` };
      },
    },
    {
      id: 'access-policy',
      title: `${provider.terms.accessPolicy} of the rehearsal: SSH from ${p.sshCidr} (production's private address) only`,
      run: async (c) => {
        const policy = await cloud.ensureAccessPolicy({
          deployment: p.name,
          labels: labels('rehearsal'),
          name: `${p.name}-rehearsal-${p.id}`,
          placement: p.placement,
          rules: [{ port: 22, cidr: p.sshCidr }],
        });
        c.policyId = policy.id;
        return { summary: policy.id };
      },
    },
  ];
  if (p.sshKey.mode === 'import') {
    const key = p.sshKey;
    steps.push({
      id: 'ssh-key',
      title: `SSH key of the rehearsal`,
      run: async () => {
        const made = await cloud.ensureSshKey(key, p.name, labels('rehearsal'));
        return { summary: made ? made.name : 'travels with the instance' };
      },
    });
  }
  steps.push(
    {
      id: 'restore-disk',
      title: `Data ${disk} from the snapshot, in ${p.zone}`,
      run: async (c) =>
        timed('diskRestoreMs', async () => {
          const snap = await cloud.describeSnapshot(c.snapshotId!);
          const made = await cloud.createDiskFromSnapshot({
            deployment: p.name,
            zone: p.zone,
            snapshotId: c.snapshotId!,
            disk: { ...p.dataDisk, sizeGiB: Math.max(p.dataDisk.sizeGiB, snap?.sizeGiB ?? 0) },
            ...(p.encryptionKeyId ? { encryptionKeyId: p.encryptionKeyId } : {}),
            ...(p.initRateMiBps ? { initializationRateMiBps: p.initRateMiBps } : {}),
            labels: { ...labels('rehearsal-data'), version: p.from },
            idempotencyKey: `sgl-${p.operation}-data`,
          });
          c.diskId = made.id;
          await cloud.waitForDiskAvailable(made.id, DISK_TIMEOUT_MS);
          return { summary: made.id };
        }),
    },
    {
      id: 'launch-instance',
      title: `Throwaway ${p.to} instance (${p.machineType}, ${p.imageId}) with the copy, no public address`,
      run: async (c) =>
        timed('instanceStartMs', async () => {
          const launched = await cloud.ensureInstance(instanceSpec(p, c.diskId!, c.policyId!));
          c.instanceId = launched.id;
          return { summary: launched.id };
        }),
    },
    {
      id: 'attach-data',
      title: `The copy attached as its data ${disk} before its first real boot`,
      run: async (c) =>
        timed('instanceStartMs', async () => {
          const id = c.instanceId!;
          const d = await cloud.describeDisk(c.diskId!);
          if (d?.attachedTo === id) return { summary: 'attached at creation' };
          // Created behind the boot guard (it powers off without data): stop, attach, start.
          if ((await cloud.describeInstance(id))?.state !== 'stopped') await cloud.stopInstance(id);
          await cloud.waitForInstanceState(id, 'stopped', STATE_TIMEOUT_MS);
          await cloud.attachDataDisk(c.diskId!, id, DISK_TIMEOUT_MS);
          await cloud.startInstance(id);
          return { summary: `${c.diskId} → ${id}` };
        }),
    },
    {
      id: 'instance-running',
      title: 'Instance running with its data',
      run: async (c) =>
        timed('instanceStartMs', async () => {
          await cloud.waitForInstanceState(c.instanceId!, 'running', STATE_TIMEOUT_MS);
          const seen = await cloud.describeInstance(c.instanceId!);
          // Its private address, reached through production (it has no public one; if a cloud gave it one anyway, that is not used).
          c.host = seen?.privateIp;
          return { summary: c.host ? `running, SSH at ${c.host} through ${p.through.instanceId}` : 'running' };
        }),
    },
    {
      id: 'wait-for-version',
      title: `Boot, migrations and ${p.to} serving (checked over SSH through production, from inside)`,
      run: async (c) =>
        timed('bootToServingMs', async () => {
          const probe = new SshHttp(deps, c.instanceId!, p);
          try {
            await waitUntilReady(
              { cloud, connectRemote: deps.connectRemote, io: deps.io, clock: deps.clock, httpGet: probe.get, signal: deps.signal },
              {
                instanceId: c.instanceId!,
                ...(c.host ? { host: c.host } : {}),
                version: p.to,
                deploymentName: p.name,
                ssh: { user: p.loginUser, privateKeyPath: p.privateKeyPath, knownHostsPath: deps.state.knownHostsPath },
                totalTimeoutMs: p.timeoutMinutes * 60_000,
                holdMs: p.holdSeconds * 1000,
                ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
                resumeCommand: `${deps.program} upgrade ${p.name} --region ${p.region} --rehearse`,
                rebootHint: provider.terms.rebootHint(c.instanceId!),
              },
            );
          } finally {
            await probe.close();
          }
          return { summary: `${p.to} serving on the copy` };
        }),
    },
  );

  let failure: RehearsalReport['failure'];
  let interrupted: LaunchError | undefined;
  let times: StepTime[] = [];
  try {
    times = await runWorkflow(steps, ctx, { journal: rj.journal, save: rj.save, io: deps.io, clock: deps.clock, signal: deps.signal, ...(deps.afterStep ? { afterStep: deps.afterStep } : {}) });
  } catch (e) {
    const err = asLaunchError(e);
    if (err.exitCode === ExitCode.interrupted || deps.signal.aborted) interrupted = err instanceof InterruptedError ? err : new InterruptedError(err.message, { cause: e });
    else if (err.exitCode === ExitCode.credentials) throw await cleanupThen(deps, cloud, target, p, rj, err);
    else failure = await describeFailure(deps, cloud, err, ctx, p);
  }
  // Ctrl-C after the last step: the copy served, but the user asked to stop; the stop is not timed.
  if (!interrupted && !failure && deps.signal.aborted) interrupted = new InterruptedError('Interrupted after the copy served the target version');
  if (interrupted) throw await cleanupThen(deps, cloud, target, p, rj, interrupted);

  // Production's stop, measured on the copy: the same workload shutting down.
  if (!failure && ctx.instanceId) {
    await timed('stopMs', async () => {
      await cloud.stopInstance(ctx.instanceId!);
      await cloud.waitForInstanceState(ctx.instanceId!, 'stopped', STATE_TIMEOUT_MS);
    }).catch((e: unknown) => deps.io.warn(`Could not stop ${ctx.instanceId} to time it: ${firstLine(e)}`));
  }
  const cleanup = await cleanUp(deps, cloud, target, p, p.operation);
  if (!cleanup.failed.length) rj.forget();
  const totalMs = deps.clock.now() - started;
  const newSnapshot = p.snapshot.mode === 'new';
  const estimate = !failure && phases.instanceStartMs !== undefined && phases.bootToServingMs !== undefined ? (phases.stopMs ?? 0) + phases.instanceStartMs + phases.bootToServingMs : undefined;
  return {
    name: p.name,
    region: p.region,
    rehearsal: p.id,
    from: p.from,
    to: p.to,
    imageId: p.imageId,
    instanceType: p.machineType,
    zone: p.zone,
    snapshot: {
      ...(ctx.snapshotId ? { id: ctx.snapshotId } : {}),
      new: newSnapshot,
      ...(ctx.snapshotStartTime ? { startTime: ctx.snapshotStartTime, age: formatAge(ctx.snapshotStartTime, started) } : {}),
      kept: !newSnapshot || !p.deleteSnapshot || !ctx.snapshotId || !cleanup.removed.includes(ctx.snapshotId),
    },
    ok: !failure,
    phases,
    totalMs,
    ...(estimate !== undefined
      ? {
          estimatedDowntimeMs: estimate,
          downtimeEstimate:
            `about ${formatMs(estimate)}: stopping (${formatMs(phases.stopMs ?? 0)}) + starting with the data (${formatMs(phases.instanceStartMs!)}) + ` +
            `boot and migrations to serving (${formatMs(phases.bootToServingMs!)}), as measured on the copy`,
        }
      : {}),
    ...(failure ? { failure } : {}),
    cleanup,
    leftoversRemoved: [],
    steps: times,
  };
}

function instanceSpec(p: RehearsalPlan, diskId: string, policyId: string): InstanceSpec {
  const data: DataDiskSpec = { mode: 'existing', diskId };
  return {
    deployment: p.name,
    role: 'instance',
    version: p.to,
    ...(p.size ? { size: p.size } : {}),
    imageId: p.imageId,
    ...(p.dataTemplateId ? { dataTemplateId: p.dataTemplateId } : {}),
    machineType: p.machineType,
    placement: p.placement,
    accessPolicyIds: [policyId],
    sshKey: p.sshKey,
    loginUser: p.loginUser,
    rootDisk: p.rootDisk,
    dataDisk: data,
    keepDataDisk: true,
    ...(p.encryptionKeyId ? { encryptionKeyId: p.encryptionKeyId } : {}),
    ...(p.instanceIdentity ? { instanceIdentity: p.instanceIdentity } : {}),
    // Not the user's tags: their own automation (backups, cost rules) should not act on a throwaway.
    labels: rehearsalLabels(p, 'rehearsal'),
    idempotencyKey: `sgl-${p.operation}`.slice(0, 64),
    // Reachable only inside production's network: through production, over SSH.
    publicIp: false,
  };
}

function asLaunchError(e: unknown): LaunchError {
  return e instanceof LaunchError ? e : new CloudError('rehearsal-failed', e instanceof Error ? e.message : String(e), { cause: e });
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

/** The failure as the report shows it: what failed, where, the console's last lines and the boot status file. */
async function describeFailure(deps: Deps, cloud: Cloud, err: LaunchError, ctx: Ctx, p: RehearsalPlan): Promise<NonNullable<RehearsalReport['failure']>> {
  const stage = typeof err.details?.stage === 'string' ? err.details.stage : undefined;
  let consoleTail: string | undefined;
  let bootStatus: string | undefined;
  if (ctx.instanceId) {
    consoleTail = await cloud
      .consoleOutput(ctx.instanceId)
      .then((t) => t.replace(/\r\n/g, '\n').replace(/\s+$/, '').split('\n').slice(-CONSOLE_TAIL_LINES).join('\n'))
      .catch(() => undefined);
    if (ctx.host) bootStatus = await readBootStatus(deps, ctx.instanceId, ctx.host, p);
  }
  return {
    code: err.code,
    exitCode: err.exitCode,
    message: err.message,
    ...(stage ? { stage } : {}),
    ...(consoleTail ? { consoleTail } : {}),
    ...(bootStatus ? { bootStatus } : {}),
  };
}

async function readBootStatus(deps: Deps, instanceId: string, host: string, p: RehearsalPlan): Promise<string | undefined> {
  let remote: Remote | undefined;
  try {
    remote = await deps.connectRemote({ host, user: p.loginUser, privateKeyPath: p.privateKeyPath, knownHostsPath: deps.state.knownHostsPath, pinKey: instanceId, connectTimeoutMs: 10_000 });
    const out = await remote.exec(`sudo cat ${BOOT_STATUS_PATH}`, { timeoutMs: 10_000 });
    return out.code === 0 && out.stdout.trim() ? out.stdout.trim() : undefined;
  } catch {
    return undefined;
  } finally {
    await remote?.close().catch(() => undefined);
  }
}

/** Best-effort cleanup after an interruption or a credentials failure, then the error with what is left. */
async function cleanupThen(deps: Deps, cloud: Cloud, target: Target, p: RehearsalPlan, rj: RehearsalJournal, err: LaunchError): Promise<LaunchError> {
  deps.io.warn(`${err.message.split('\n')[0]}: deleting what the rehearsal made…`);
  const cleanup = await cleanUp(deps, cloud, target, p, p.operation).catch((e: unknown) => ({ removed: [] as string[], failed: [{ id: '*', error: firstLine(e) }] }));
  if (!cleanup.failed.length) rj.forget();
  const left = cleanup.failed.length
    ? ` Some could not be deleted (${cleanup.failed.map((f) => f.id).join(', ')}): the next \`${deps.program} upgrade ${p.name} --region ${p.region} --rehearse\` deletes them first.`
    : ' Everything it made was deleted.';
  return new LaunchError(err.code, err.exitCode, `${err.message}${left}`, {
    cause: err,
    remediation: err.remediation ?? `Production was not touched. Run the rehearsal again when ready.`,
    details: { ...err.details, rehearsal: p.id, cleanup },
  });
}

// ---- cleanup ----

/**
 * Deletes what rehearsals made (the one with `operation`, or every rehearsal's): the instance (and
 * its root disk with it), the data copy, the access policy, a key it imported, and the snapshot it
 * took only with --delete-snapshot. Never anything without the rehearsal labels. Each removal is
 * tried on its own; what failed is reported and left for the next run.
 */
export async function cleanUp(deps: Pick<Deps, 'io' | 'clock'>, cloud: Cloud, target: Target, p: Pick<RehearsalPlan, 'name' | 'deleteSnapshot'> | undefined, operation?: string) {
  const name = p?.name ?? target.name;
  const removed: string[] = [];
  const failed: { id: string; error: string }[] = [];
  const attempt = async (id: string, work: () => Promise<void>) => {
    try {
      await work();
      removed.push(id);
    } catch (e) {
      failed.push({ id, error: firstLine(e) });
      deps.io.warn(`Could not delete ${id}: ${firstLine(e)}`);
    }
  };
  const d = await cloud.findDeployment(name);
  const r = rehearsalResources(d, operation);
  // The disk of an instance created with it attached at creation is listed too: it is kept with the instance (keepDataDisk).
  for (const i of r.instances) await attempt(i.id, () => cloud.terminateInstance(i.id));
  for (const i of r.instances) {
    await cloud.waitForInstanceState(i.id, 'terminated', STATE_TIMEOUT_MS).catch((e: unknown) => failed.push({ id: i.id, error: firstLine(e) }));
  }
  for (const x of r.disks) {
    await attempt(x.id, async () => {
      if (await waitDetached(cloud, x)) await cloud.deleteDisk(x.id);
    });
  }
  for (const x of r.accessPolicies) await attempt(x.id, () => cloud.deleteAccessPolicy(x.id));
  for (const k of r.sshKeys) await attempt(k.name, () => cloud.deleteSshKey(k.name));
  if (p?.deleteSnapshot && operation) {
    for (const s of (await cloud.listSnapshots(name)).filter((x) => x.labels.operation === operation)) await attempt(s.id, () => cloud.deleteSnapshot(s.id));
  }
  return { removed: removed.filter((id) => !failed.some((f) => f.id === id)), failed };
}

async function waitDetached(cloud: Cloud, x: Disk): Promise<boolean> {
  const now = await cloud.describeDisk(x.id);
  if (!now) return false;
  if (now.state !== 'available') await cloud.waitForDiskAvailable(x.id, DISK_TIMEOUT_MS);
  return true;
}

// ---- HTTP from inside the instance ----

/**
 * The readiness wait's HTTP probe, run on the instance over SSH (through production, as every
 * connection of the rehearsal): the rehearsal's access policy lets nothing but SSH in, so /healthz is asked with curl from the instance itself, to the address the
 * SSH session arrived at (Traefik listens on every interface of the instance). The host key is the
 * one the wait's SSH stage checked and pinned for this instance.
 */
class SshHttp {
  private remote: Remote | undefined;
  constructor(
    private readonly deps: Pick<Deps, 'connectRemote' | 'state'> & { clock: Clock },
    private readonly instanceId: string,
    private readonly p: Pick<RehearsalPlan, 'loginUser' | 'privateKeyPath'>,
  ) {}

  readonly get: typeof HttpGet = async (url, opts) => {
    const { hostname, pathname } = new URL(url);
    const host = hostname.replace(/^\[|\]$/g, '');
    try {
      this.remote ??= await this.deps.connectRemote({
        host,
        user: this.p.loginUser,
        privateKeyPath: this.p.privateKeyPath,
        knownHostsPath: this.deps.state.knownHostsPath,
        pinKey: this.instanceId,
        connectTimeoutMs: 20_000,
      });
    } catch (e) {
      throw new HttpProbeError(url, `SSH to ask from inside: ${firstLine(e)}`, undefined, e);
    }
    const seconds = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
    const path = pathname.replace(/[^A-Za-z0-9/_.-]/g, '');
    const command = `set -- $SSH_CONNECTION; h=$3; case $h in *:*) h="[$h]";; esac; curl -sS --max-time ${seconds} -w '\\n%{http_code}' "http://$h${path}"`;
    let out;
    try {
      out = await this.remote.exec(command, { timeoutMs: opts.timeoutMs + 5000 });
    } catch (e) {
      await this.close();
      throw new HttpProbeError(url, `over SSH: ${firstLine(e)}`, undefined, e);
    }
    if (out.code !== 0) throw new HttpProbeError(url, `inside the instance: ${out.stderr.trim().split('\n')[0] || `curl exit ${String(out.code)}`}`);
    const cut = out.stdout.lastIndexOf('\n');
    const status = Number(out.stdout.slice(cut + 1).trim());
    if (!Number.isInteger(status) || status === 0) throw new HttpProbeError(url, 'inside the instance: no HTTP answer');
    return { status, body: out.stdout.slice(0, Math.max(0, cut)) };
  };

  async close(): Promise<void> {
    const r = this.remote;
    this.remote = undefined;
    await r?.close().catch(() => undefined);
  }
}
