// What the workflows share: the cloud of a target, the journal kept in the deployment record (so a
// re-run resumes), the runner's options (clock, Ctrl-C, the tests' step hook), the HTTP/SSH probes
// of the running version, and the roles of a deployment's disks. Everything here speaks the port's
// words; the cloud's own come from its descriptor.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Cloud, Deployment, Disk, Instance } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import type { Deps, GlobalFlags } from '../commands/deps.js';
import type { Target } from '../commands/target.js';
import { DeclinedError, MissingInputError } from '../core/errors.js';
import type { Labels } from '../core/labels.js';
import { versionFromHealthBody } from '../core/versions.js';
import { consoleHostKeys } from '../engine/host-key-wait.js';
import { httpGetVia } from '../engine/http-probe.js';
import { describeResume, getJournalValue, newJournal, putJournalValue, type RunOptions, type Step } from '../engine/runner.js';
import type { Remote } from '../remote/remote.js';
import { readJsonObject, writeJsonAtomic } from '../state/json-file.js';
import type { DeploymentRecord, Journal } from '../state/store.js';

/** The target's cloud, with the credentials checked (exit 3 when missing or expired). */
export async function connectCloud(deps: Deps, target: Target): Promise<Cloud> {
  const cloud = await deps.connect(target.provider, target.scope);
  await cloud.whoAmI();
  return cloud;
}

export interface OpenJournal {
  journal: Journal;
  save(journal: Journal): void;
  record: DeploymentRecord;
  /** The run resumes an unfinished journal of the same command. */
  resumed: boolean;
}

/** The unfinished journal of `command` for this deployment, or a new one; saved in the deployment record. */
export function openJournal(deps: Deps, target: Pick<Target, 'cloud' | 'region' | 'name'>, command: string): OpenJournal {
  const previous = deps.state.getDeployment(target.cloud, target.region, target.name);
  let journal: Journal;
  const resumed = Boolean(previous?.journal && !previous.journal.finishedAt && previous.journal.command === command);
  if (resumed) {
    journal = previous!.journal!;
    const note = describeResume(journal);
    if (note) deps.io.info(note);
  } else {
    journal = newJournal(command, randomBytes(6).toString('hex'), new Date(deps.clock.now()));
  }
  const record: DeploymentRecord = {
    ...(previous ?? {}),
    name: target.name,
    cloud: target.cloud,
    region: target.region,
    createdAt: previous?.createdAt ?? new Date(deps.clock.now()).toISOString(),
    updatedAt: new Date(deps.clock.now()).toISOString(),
    journal,
  };
  const save = (j: Journal) => deps.state.putDeployment({ ...record, updatedAt: new Date(deps.clock.now()).toISOString(), journal: j });
  return { journal, save, record, resumed };
}

export interface BuildJournal {
  journal: Journal;
  save(journal: Journal): void;
  /** Removes the journal: the build finished, or its cleanup did. */
  forget(): void;
  /** The run resumes an unfinished journal of the same build. */
  resumed: boolean;
}

/**
 * The unfinished journal of an image build, or a new one. A build is not a deployment (no record,
 * not listed by status), so its journal is kept per build (cloud, region, build name) in its own
 * file under builds/, written atomically like the deployment records.
 */
export function openBuildJournal(deps: Pick<Deps, 'state' | 'clock'>, target: { cloud: string; region: string }, buildName: string, command: string): BuildJournal {
  const path = join(deps.state.home, 'builds', `${target.cloud}-${target.region}-${buildName}.json`);
  const previous = readJsonObject(path) as Partial<Journal> | undefined;
  const resumed = typeof previous?.id === 'string' && typeof previous.steps === 'object' && !previous.finishedAt && (previous.command ?? command) === command;
  const journal = resumed ? (previous as Journal) : newJournal(command, randomBytes(6).toString('hex'), new Date(deps.clock.now()));
  return { journal, resumed, save: (j) => writeJsonAtomic(path, j), forget: () => rmSync(path, { force: true }) };
}

/** Keeps the resolved plan in the journal, so a resumed run follows it instead of re-planning from a half-changed cloud. */
export function savePlan(open: OpenJournal, plan: unknown): void {
  putJournalValue(open.journal, 'plan', plan);
  open.save(open.journal);
}

export function savedPlan<T>(open: OpenJournal): T | undefined {
  return getJournalValue<T>(open.journal, 'plan');
}

/**
 * The plan an unfinished run of `command` saved, without opening (or replacing) any journal: a
 * command shows what a resumed run will do before it asks, and a dry run changes nothing.
 */
export function unfinishedPlan<T>(deps: Pick<Deps, 'state'>, target: Pick<Target, 'cloud' | 'region' | 'name'>, command: string): { plan: T; startedAt: string } | undefined {
  const journal = deps.state.getDeployment(target.cloud, target.region, target.name)?.journal;
  if (!journal || journal.finishedAt || journal.command !== command) return undefined;
  const plan = getJournalValue<T>(journal, 'plan');
  return plan === undefined ? undefined : { plan, startedAt: journal.startedAt };
}

/**
 * Sets aside an unfinished run of `command` whose plan this run does not follow (another snapshot,
 * other options): the next journal starts fresh. Whatever that run made is still in the cloud and
 * judged by this run like anything else.
 */
export function setAsideUnfinished(deps: Pick<Deps, 'state' | 'clock'>, target: Pick<Target, 'cloud' | 'region' | 'name'>, command: string): void {
  const record = deps.state.getDeployment(target.cloud, target.region, target.name);
  if (!record?.journal || record.journal.finishedAt || record.journal.command !== command) return;
  deps.state.putDeployment({ ...record, journal: { ...record.journal, finishedAt: new Date(deps.clock.now()).toISOString() } });
}

/** Asks once when interactive; CI must say --yes (exit 2 naming it, nothing changed). */
export async function confirmOrYes(deps: Pick<Deps, 'io'>, flags: GlobalFlags, message: string, what: string): Promise<void> {
  if (flags.yes) return;
  if (!deps.io.interactive) throw new MissingInputError('--yes', `to ${what} when not running interactively`);
  const ok = await deps.io.confirm({ message, default: false });
  if (!ok) throw new DeclinedError('Answered no: nothing changed.', { remediation: 'Run the command again when ready.' });
}

/** The runner's options for a journal: the deps' clock, Ctrl-C and the tests' step hook. */
export function runOptions(deps: Deps, open: Pick<OpenJournal, 'journal' | 'save'>): RunOptions {
  return { journal: open.journal, save: open.save, io: deps.io, clock: deps.clock, signal: deps.signal, ...(deps.afterStep ? { afterStep: deps.afterStep } : {}) };
}

/**
 * One GET /healthz: the HTTP status and the version it reports, or why it could not be reached. Of
 * the address (`http://<host>/healthz`), or of the site's HTTPS URL with the
 * certificate verified when there is one (behind tls --tls managed's load balancer: see
 * managedHealth; dialled through the balancer's own name while the domain does not resolve).
 */
export async function probeHealth(deps: Pick<Deps, 'httpGet' | 'signal'>, host: string | undefined, health?: ManagedHealth): Promise<{ status?: number; error?: string; version?: string }> {
  const url = health?.url ?? (host ? `http://${host}/healthz` : undefined);
  if (!url) return { error: 'no address to ask' };
  try {
    const res = health
      ? await httpGetVia(deps.httpGet, url, { timeoutMs: 5000, signal: deps.signal, verifyCertificate: true }, health.via)
      : await deps.httpGet(url, { timeoutMs: 5000, signal: deps.signal });
    return { status: res.status, version: res.status === 200 ? versionFromHealthBody(res.body) : undefined };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The version /healthz serves, or undefined when it does not answer 200 with one. */
export async function probeVersion(deps: Pick<Deps, 'httpGet' | 'signal'>, host: string | undefined, health?: ManagedHealth): Promise<string | undefined> {
  return host || health ? (await probeHealth(deps, host, health)).version : undefined;
}

/**
 * The load balancer `tls --tls managed` put in front of the deployment, as this machine recorded it.
 * backendId: its target group, which holds the serving instance (once that step of the install is
 * done): upgrade, rollback and restore move it to the instance they bring. healthUrl: once the
 * install finished, the instance's own 80/443 answer only the balancer, so /healthz is asked of
 * https://<domain>/healthz with the certificate verified, the way users reach the site; healthVia:
 * the balancer's own DNS name, dialled instead while the domain does not resolve (its record not
 * created yet), the TLS name and Host still the domain's (the gateway's public IP on Azure).
 */
export interface BalancerFront {
  backendId: string;
  /** Azure's Application Gateway (tls-gateway's record): backendId is the gateway, whose backend pool holds the instance's private address. */
  gateway?: boolean;
  healthUrl?: string;
  healthVia?: string;
}

/** The site's /healthz behind the load balancer, and the balancer's name to dial while the domain does not resolve. */
export interface ManagedHealth {
  url: string;
  via?: string;
}

export function balancerFrontOf(record: Pick<DeploymentRecord, 'tlsManaged'> | undefined): BalancerFront | undefined {
  const m = record?.tlsManaged;
  const gateway = isGatewayRecord(m);
  const step = m?.journal.steps[gateway ? 'gateway' : 'backend'];
  const backendId = step?.status === 'done' ? (gateway ? step.result?.gatewayId : step.result?.backendId) : undefined;
  if (!m || !backendId) return undefined;
  const health = managedHealth(record);
  return { backendId, ...(gateway ? { gateway: true } : {}), ...(health ? { healthUrl: health.url, ...(health.via ? { healthVia: health.via } : {}) } : {}) };
}

/** tls --tls managed through Azure's Application Gateway (the journal's command is tls-gateway.ts's GATEWAY_JOURNAL). */
function isGatewayRecord(m: DeploymentRecord['tlsManaged'] | undefined): boolean {
  return m?.journal.command === 'tls-gateway';
}

/** The https://<domain>/healthz to ask instead of the address (see balancerFrontOf), when there is one. */
export function managedHealth(record: Pick<DeploymentRecord, 'tlsManaged'> | undefined): ManagedHealth | undefined {
  const m = record?.tlsManaged;
  if (!m?.installedAt) return undefined;
  const via = isGatewayRecord(m) ? m.journal.steps.address?.result?.ip : m.journal.steps.balancer?.result?.dnsName;
  return { url: `${m.url}/healthz`, ...(via ? { via } : {}) };
}

/** A plan's load balancer as probeHealth takes it. */
export function healthOf(balancer: BalancerFront | undefined): ManagedHealth | undefined {
  return balancer?.healthUrl ? { url: balancer.healthUrl, ...(balancer.healthVia ? { via: balancer.healthVia } : {}) } : undefined;
}

/**
 * The journaled step that makes the new instance the load balancer's only target (before the
 * readiness wait, which asks the site through the balancer). Idempotent: a resumed run registers
 * nothing twice and finds the old instance out already.
 */
export function moveBalancerTargetStep<C>(cloud: Cloud, balancer: BalancerFront, instanceId: (c: C) => string, id = 'move-balancer-target', timeoutMs = 15 * 60_000): Step<C> {
  if (balancer.gateway) return moveGatewayBackendStep(cloud, balancer.backendId, instanceId, id, timeoutMs);
  return {
    id,
    title: `Make the new instance the load balancer's only target (${balancer.backendId.split('/').slice(-2, -1)[0] ?? balancer.backendId})`,
    run: async (c) => {
      const to = instanceId(c);
      const managed = cloud.managedHttps;
      if (!managed) return { summary: 'skipped: this cloud has no managed HTTPS' };
      const moved = await managed.moveBackendTarget(balancer.backendId, to);
      if (moved === 'absent') return { summary: `skipped: the load balancer's backend ${balancer.backendId} no longer exists` };
      return { summary: `${to}${moved.deregistered.length ? ` (${moved.deregistered.join(', ')} taken out)` : ''}`, result: { instanceId: to, deregistered: moved.deregistered.join(',') } };
    },
  };
}

/**
 * The same step for Azure's Application Gateway: its backend pool made to hold the new instance's
 * private address (the gateway is put again and waited for). The instance's NSG is the deployment's,
 * shared by every VM it launches, so its 80/443 stay open to the gateway's subnet only.
 */
function moveGatewayBackendStep<C>(cloud: Cloud, gatewayId: string, instanceId: (c: C) => string, id: string, timeoutMs: number): Step<C> {
  const name = gatewayId.split('/').pop() ?? gatewayId;
  return {
    id,
    title: `Make the new instance the application gateway's only backend (${name})`,
    run: async (c) => {
      const to = instanceId(c);
      const gateway = cloud.gatewayHttps;
      if (!gateway) return { summary: 'skipped: this cloud has no application gateway' };
      const moved = await gateway.moveBackend(gatewayId, to, timeoutMs);
      if (moved === 'absent') return { summary: `skipped: the application gateway ${name} no longer exists` };
      return { summary: `${to} at ${moved.backendIp}${moved.replaced.length ? ` (${moved.replaced.join(', ')} taken out)` : ''}`, result: { instanceId: to, backendIp: moved.backendIp, deregistered: moved.replaced.join(',') } };
    },
  };
}

export interface SshAccess {
  user: string;
  privateKeyPath: string;
  knownHostsPath: string;
}

/** SSH is available when launch left us a key and SSH was opened to someone. */
export function sshAccess(deps: Deps, target: Pick<Target, 'provider'>, record: DeploymentRecord | undefined, identityFile?: string): SshAccess | undefined {
  const plan = record?.plan as { sshCidrs?: { value?: string[] }; sshKey?: { value?: { mode?: string; publicKeyPath?: string } } } | undefined;
  const sshCidrs = plan?.sshCidrs?.value;
  // An imported public key's private half sits next to it, as launch assumes too.
  const imported = plan?.sshKey?.value?.mode === 'import' ? plan.sshKey.value.publicKeyPath?.replace(/\.pub$/, '') : undefined;
  const privateKeyPath = identityFile ?? record?.privateKeyPath ?? (imported && existsSync(imported) ? imported : undefined);
  if (!privateKeyPath || (sshCidrs && sshCidrs.length === 0)) return undefined;
  return { user: record?.sshUser ?? target.provider.loginUser, privateKeyPath, knownHostsPath: deps.state.knownHostsPath };
}

export const DATA_VERSION_FILE = '/mnt/data/.sourcegraph-version';

/** The image's own version file on the root disk (the descriptor knows where its images keep it). */
export function imageVersionFile(provider: Pick<ProviderDescriptor, 'rootVersionFile'>): string {
  return provider.rootVersionFile;
}

/**
 * Where this machine holds the private key of a deployment: --identity-file, the key launch
 * generated here, or the private half next to the public key launch imported. When there is none,
 * `missing` says where it was expected (for the error that names it).
 */
export function findPrivateKey(
  deps: Pick<Deps, 'state'>,
  target: Pick<Target, 'provider' | 'region' | 'name'>,
  record: DeploymentRecord | undefined,
  identityFile?: string,
): { privateKeyPath: string } | { missing: string } {
  if (identityFile) return { privateKeyPath: identityFile };
  const plan = record?.plan as { sshKey?: { value?: { mode?: string; publicKeyPath?: string; keyName?: string } } } | undefined;
  const key = plan?.sshKey?.value;
  if (record?.privateKeyPath) {
    return existsSync(record.privateKeyPath) ? { privateKeyPath: record.privateKeyPath } : { missing: `${record.privateKeyPath} (the key launch generated on this machine; it is gone)` };
  }
  if (key?.mode === 'import' && key.publicKeyPath) {
    const path = key.publicKeyPath.replace(/\.pub$/, '');
    return existsSync(path) ? { privateKeyPath: path } : { missing: `${path} (the private half of ${key.publicKeyPath}, which launch imported)` };
  }
  if (key?.mode === 'existing' && key.keyName) return { missing: `the private key of ${target.provider.terms.sshKey} ${key.keyName}, which the cloud does not give out` };
  // No record of the deployment here: a key launch generated on this machine would be here.
  const generated = join(deps.state.keysDir, `${target.provider.id}-${target.region}-${target.name}`);
  return existsSync(generated) ? { privateKeyPath: generated } : { missing: `${generated} (where launch keeps the key it generates; this machine has no record of ${target.name})` };
}

/**
 * An SSH connection to an instance whose host key is checked the one way every command checks it:
 * against the key pinned for the instance, else the fingerprints its console lists (waited for,
 * bounded), else trusted on first use after that wait, and said so. A key that does not match is
 * refused before anything is sent (host-key-mismatch).
 */
export async function connectToInstance(
  deps: Pick<Deps, 'clock' | 'signal' | 'io' | 'connectRemote'>,
  cloud: Pick<Cloud, 'consoleOutput'>,
  ssh: SshAccess,
  host: string,
  instanceId: string,
): Promise<Remote> {
  const keys = await consoleHostKeys({ cloud, clock: deps.clock, signal: deps.signal }, instanceId, {
    knownHostsPath: ssh.knownHostsPath,
    pinKey: instanceId,
    onWaiting: (ms) => ms === 0 && deps.io.info(`Waiting for ${instanceId}'s console to list its SSH host key fingerprints before connecting…`),
  });
  if (keys.how === 'first-use') {
    deps.io.warn(`The console of ${instanceId} listed no SSH host key fingerprints within ${formatMs(keys.waitedMs)}: trusting its key on first use and pinning it.`);
  }
  return deps.connectRemote({
    host,
    user: ssh.user,
    privateKeyPath: ssh.privateKeyPath,
    knownHostsPath: ssh.knownHostsPath,
    pinKey: instanceId,
    expectedFingerprints: keys.expected,
    connectTimeoutMs: 20_000,
  });
}

/** The address a deployment's instance is reached at: its static address, else its public IP. */
export function instanceAddress(d: Deployment, instance: Instance): string | undefined {
  return d.addresses.find((a) => a.instanceId === instance.id)?.ip ?? instance.publicIp;
}

/**
 * Both version files of the appliance (image and data), over SSH; undefined when SSH fails. The host
 * key is checked against the console's fingerprints (waited for, bounded) unless pinned already.
 */
export async function readVersionFiles(
  deps: Deps,
  cloud: Pick<Cloud, 'consoleOutput'>,
  ssh: SshAccess,
  files: { root: string },
  host: string,
  instanceId: string,
): Promise<{ root: string; data: string } | undefined> {
  let remote: Remote | undefined;
  try {
    remote = await connectToInstance(deps, cloud, ssh, host, instanceId);
    const out = await remote.exec(`cat ${files.root}; echo; cat ${DATA_VERSION_FILE}`, { timeoutMs: 30_000 });
    const [root = '', data = ''] = out.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    return { root, data };
  } catch {
    return undefined;
  } finally {
    await remote?.close().catch(() => undefined);
  }
}

/** All instances of a deployment, serving one first. */
export function allInstances(d: Deployment): Instance[] {
  return [...(d.instance ? [d.instance] : []), ...d.otherInstances];
}

/**
 * The disks of a deployment that hold (or may hold) its data: every disk but root disks. One still
 * labelled instance-volume (a launch interrupted before it told its disks apart) counts as data
 * unless an instance holds it as a disk deleted with it (a root disk).
 */
export function dataDisksOf(d: Deployment): Disk[] {
  const disposable = new Set(allInstances(d).flatMap((i) => i.disks.filter((x) => x.deleteWithInstance).map((x) => x.diskId)));
  return d.disks.filter((v) => {
    const role = v.labels.role ?? '';
    return role === 'data-volume' || role === 'rollback-data' || (role === 'instance-volume' && !disposable.has(v.id));
  });
}

/** The data disk attached to an instance: the one in its data slot, else a data-labelled disk attached to it. */
export function dataDiskOf(d: Deployment, instance: Instance): Disk | undefined {
  const id = instance.disks.find((x) => x.role === 'data')?.diskId;
  return d.disks.find((v) => v.id === id) ?? d.disks.find((v) => v.attachedTo === instance.id && v.labels.role === 'data-volume');
}

/**
 * The labels of a snapshot of a deployment's data: its purpose (backup, pre-upgrade-final …) and
 * the version of the data in it, which is what makes it restorable.
 */
export function snapshotLabels(deployment: string, purpose: string, version: string, size?: string): Labels {
  return { deployment, role: 'snapshot', purpose, 'source-version': version, version, ...(size ? { size } : {}), managed: 'true' };
}

/** A disk that stopped being the deployment's data: prune may remove it once a snapshot holds what it last held. */
export async function markRollbackData(cloud: Cloud, deployment: string, diskId: string, lastWritten: Date): Promise<void> {
  await cloud.setLabels([diskId], { deployment, role: 'rollback-data', 'last-written': lastWritten.toISOString() });
}

/** The disk serves again (a rollback): it is the deployment's data, snapshotted by the schedule. */
export async function markServingData(cloud: Cloud, deployment: string, diskId: string): Promise<void> {
  await cloud.setLabels([diskId], { deployment, role: 'data-volume' });
  await cloud.removeLabels([diskId], ['last-written']);
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
