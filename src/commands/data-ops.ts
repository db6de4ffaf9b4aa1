// What upgrade, rollback, backup, restore and prune share: the journal kept in the deployment
// record (so a re-run resumes), steps that run once and remember their result, per-step timing,
// the confirmation rule, and the HTTP/SSH probes of the running version.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { TAG_LAST_WRITTEN, TAG_ROLE, type Cloud, type DeploymentResources, type InstanceInfo, type VolumeInfo } from '../cloud/cloud.js';
import { DeclinedError, MissingInputError } from '../core/errors.js';
import { AWS_DATA_DEVICE } from '../core/presets.js';
import { versionFromHealthBody } from '../core/versions.js';
import { consoleHostKeys } from '../engine/host-key-wait.js';
import { describeResume, newJournal, type Step } from '../engine/steps.js';
import type { DeploymentRecord, Journal } from '../state/store.js';
import type { Deps, GlobalFlags } from './deps.js';
import type { Target } from './target.js';

export interface StepTime {
  id: string;
  title: string;
  ms: number;
  /** Done by an earlier, interrupted run of the same command. */
  resumed?: boolean;
}

/** Asks once when interactive; CI must say --yes. */
export async function confirmOrYes(deps: Deps, flags: GlobalFlags, message: string, what: string): Promise<void> {
  if (flags.yes) return;
  if (!deps.io.interactive) throw new MissingInputError('--yes', `to ${what} when not running interactively`);
  const ok = await deps.io.confirm({ message, default: false });
  if (!ok) throw new DeclinedError('Answered no: nothing changed.', { remediation: 'Run the command again when ready.' });
}

export interface OpenJournal {
  journal: Journal;
  /** The plan saved by the run being resumed (JSON), if any. */
  savedPlan?: string;
  save(journal: Journal): void;
  record: DeploymentRecord;
}

const PLAN_KEY = 'plan';

/** The unfinished journal of `command` for this deployment, or a new one; saved in the deployment record. */
export function openJournal(deps: Deps, target: Target, command: string): OpenJournal {
  const previous = deps.state.getDeployment(target.cloud, target.region, target.name);
  let journal: Journal;
  let savedPlan: string | undefined;
  if (previous?.journal && !previous.journal.finishedAt && previous.journal.command === command) {
    journal = previous.journal;
    savedPlan = journal.steps[PLAN_KEY]?.result?.json;
    const note = describeResume({ ...journal, steps: Object.fromEntries(Object.entries(journal.steps).filter(([id]) => id !== PLAN_KEY)) });
    if (note) deps.io.info(note);
  } else {
    journal = newJournal(command, randomBytes(6).toString('hex'));
  }
  const record: DeploymentRecord = {
    ...(previous ?? {}),
    name: target.name,
    cloud: target.cloud,
    region: target.region,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    journal,
  };
  const save = (j: Journal) => deps.state.putDeployment({ ...record, updatedAt: new Date().toISOString(), journal: j });
  return { journal, savedPlan, save, record };
}

/** Keeps the resolved plan in the journal, so a resumed run follows it instead of re-planning from a half-changed cloud. */
export function savePlan(open: OpenJournal, plan: unknown): void {
  open.journal.steps[PLAN_KEY] = { status: 'done', at: new Date().toISOString(), result: { json: JSON.stringify(plan) } };
  open.save(open.journal);
}

/**
 * A step that runs its work once: when an earlier run's journal says it is done, its recorded
 * result restores the context instead (a re-run must not, say, stop an instance it already
 * replaced). Its time goes into `times`.
 */
export function onceStep<C>(
  journal: Journal,
  times: StepTime[],
  step: { id: string; title: string; run(ctx: C): Promise<{ summary?: string; result?: Record<string, string> } | void>; restore?(ctx: C, result: Record<string, string>): void },
): Step<C> {
  return {
    id: step.id,
    title: step.title,
    run: async (ctx) => {
      const previous = journal.steps[step.id];
      if (previous?.status === 'done') {
        step.restore?.(ctx, previous.result ?? {});
        times.push({ id: step.id, title: step.title, ms: 0, resumed: true });
        return { summary: 'done before', result: previous.result };
      }
      const started = Date.now();
      const outcome = await step.run(ctx);
      times.push({ id: step.id, title: step.title, ms: Date.now() - started });
      return outcome ?? undefined;
    },
  };
}

/** One GET /healthz: the HTTP status and the version it reports, or why it could not be reached. */
export async function probeHealth(deps: Deps, host: string): Promise<{ status?: number; error?: string; version?: string }> {
  try {
    const res = await deps.httpGet(`http://${host}/healthz`, { timeoutMs: 5000, signal: deps.signal });
    return { status: res.status, version: res.status === 200 ? versionFromHealthBody(res.body) : undefined };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The version /healthz serves, or undefined when it does not answer 200 with one. */
export async function probeVersion(deps: Deps, host: string | undefined): Promise<string | undefined> {
  return host ? (await probeHealth(deps, host)).version : undefined;
}

export interface SshAccess {
  user: string;
  privateKeyPath: string;
  knownHostsPath: string;
}

/** SSH is available when launch left us a key and SSH was opened to someone. */
export function sshAccess(deps: Deps, record: DeploymentRecord | undefined, identityFile?: string): SshAccess | undefined {
  const plan = record?.plan as { sshCidrs?: { value?: string[] }; sshKey?: { value?: { mode?: string; publicKeyPath?: string } } } | undefined;
  const sshCidrs = plan?.sshCidrs?.value;
  // An imported public key's private half sits next to it, as launch assumes too.
  const imported = plan?.sshKey?.value?.mode === 'import' ? plan.sshKey.value.publicKeyPath?.replace(/\.pub$/, '') : undefined;
  const privateKeyPath = identityFile ?? record?.privateKeyPath ?? (imported && existsSync(imported) ? imported : undefined);
  if (!privateKeyPath || (sshCidrs && sshCidrs.length === 0)) return undefined;
  return { user: record?.sshUser ?? 'ec2-user', privateKeyPath, knownHostsPath: deps.state.knownHostsPath };
}

export const ROOT_VERSION_FILE = '/home/ec2-user/.sourcegraph-version';
export const DATA_VERSION_FILE = '/mnt/data/.sourcegraph-version';

/**
 * Both version files of the appliance (image and data), over SSH; undefined when SSH fails. The host
 * key is checked against the console's fingerprints (waited for, bounded) unless pinned already.
 */
export async function readVersionFiles(
  deps: Deps,
  cloud: Pick<Cloud, 'consoleOutput'>,
  ssh: SshAccess,
  host: string,
  instanceId: string,
): Promise<{ root: string; data: string } | undefined> {
  let remote;
  try {
    const keys = await consoleHostKeys({ cloud, clock: deps.clock, signal: deps.signal }, instanceId, {
      knownHostsPath: ssh.knownHostsPath,
      pinKey: instanceId,
      onWaiting: (ms) => ms === 0 && deps.io.info(`Waiting for ${instanceId}'s console to list its SSH host key fingerprints before connecting…`),
    });
    if (keys.how === 'first-use') {
      deps.io.warn(`The console of ${instanceId} listed no SSH host key fingerprints within ${formatMs(keys.waitedMs)}: trusting its key on first use and pinning it.`);
    }
    remote = await deps.connectRemote({
      host,
      user: ssh.user,
      privateKeyPath: ssh.privateKeyPath,
      knownHostsPath: ssh.knownHostsPath,
      pinKey: instanceId,
      expectedFingerprints: keys.expected,
      connectTimeoutMs: 20_000,
    });
    const out = await remote.exec(`cat ${ROOT_VERSION_FILE}; echo; cat ${DATA_VERSION_FILE}`, { timeoutMs: 30_000 });
    const [root = '', data = ''] = out.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    return { root, data };
  } catch {
    return undefined;
  } finally {
    await remote?.close().catch(() => undefined);
  }
}

/** The data volume attached to an instance: the one at the data device, else any tagged data volume on it. */
export function dataVolumeOf(d: DeploymentResources, instance: InstanceInfo, device = AWS_DATA_DEVICE): VolumeInfo | undefined {
  const id = instance.volumes.find((v) => v.device === device)?.volumeId;
  return d.volumes.find((v) => v.id === id) ?? d.volumes.find((v) => v.attachedTo === instance.id && v.tags['sourcegraph-launch:role'] === 'data-volume');
}

/** A volume that stopped being the deployment's data: prune may remove it once a snapshot holds what it last held. */
export async function markRollbackData(cloud: Cloud, deployment: string, volumeId: string, lastWritten: Date): Promise<void> {
  await cloud.tagResources([volumeId], { [TAG_ROLE]: 'rollback-data', [TAG_LAST_WRITTEN]: lastWritten.toISOString(), Name: `${deployment}-rollback-data` });
}

/** The volume serves again (a rollback): it is the deployment's data, snapshotted by the schedule. */
export async function markServingData(cloud: Cloud, deployment: string, volumeId: string): Promise<void> {
  await cloud.tagResources([volumeId], { [TAG_ROLE]: 'data-volume', Name: `${deployment}-data` });
  await cloud.untagResources([volumeId], [TAG_LAST_WRITTEN]);
}

export function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

export function formatAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '?';
  const hours = (now - Date.parse(iso)) / 3_600_000;
  if (hours < 1) return `${Math.max(0, Math.round(hours * 60))} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} d`;
}

/** All instances of a deployment, serving one first. */
export function allInstances(d: DeploymentResources): InstanceInfo[] {
  return [...(d.instance ? [d.instance] : []), ...d.otherInstances];
}

export async function requireCloud(deps: Deps, target: Target, flags: GlobalFlags): Promise<Cloud> {
  const cloud = await deps.cloud(target.cloud, target.region, { profile: flags.profile });
  await cloud.whoAmI();
  return cloud;
}
