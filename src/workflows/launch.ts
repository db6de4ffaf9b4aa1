// The launch workflow: the SSH key, the access rules, the instance (with a new data disk, or a kept
// one attached before Sourcegraph's first boot), the static address and, with --schedule, the
// snapshot schedule; then the staged wait until the version really serves. Every step is
// idempotent and journaled: an interrupted launch re-run restores what finished and goes on.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AccessPolicySpec, AddressSpec, Cloud, Instance, InstanceSpec, LaunchRequestsSpec, SnapshotScheduleSpec, SshKeySpec } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import { CloudError, ExitCode, LaunchError } from '../core/errors.js';
import type { Labels } from '../core/labels.js';
import { clientTokenFor, dataVolumeFor, keyPairNameFor, planToJson, type LaunchPlan } from '../core/launch-plan.js';
import { runWorkflow, type Step } from '../engine/runner.js';
import { waitUntilReady, type ReadyReport } from '../engine/wait.js';
import { fingerprintLabel, fingerprintOfPublicKeyLine } from '../remote/host-keys.js';
import type { DeploymentRecord } from '../state/store.js';
import { dataDisksOf, openJournal, runOptions } from './shared.js';

export interface LaunchResult {
  name: string;
  cloud: string;
  region: string;
  version: string;
  instanceId: string;
  publicIp?: string;
  url?: string;
  ready: boolean;
  needsSiteInit?: boolean;
  resources: Record<string, string | undefined>;
  stages?: ReadyReport['stages'];
}

export interface LaunchInput {
  provider: ProviderDescriptor;
  plan: LaunchPlan;
  /** The OpenSSH public key line to import ('<public key>' in a dry run that would generate one). */
  publicKey?: string;
  /** cloud-init user data of --image-source base. */
  userDataBase64?: string;
  /** The snapshot schedule's settings (the role it acts as) and the account. */
  scheduleParams: Record<string, string>;
  /** The equivalent command, for resume hints. */
  command: string;
  identityFile?: string;
}

function ownLabels(plan: LaunchPlan, role: string, extra: Labels = {}): Labels {
  return { deployment: plan.name.value, role, ...extra };
}

/** The mutating requests' inputs of a launch, shared by the run and the dry run. */
export function launchSpecs(input: LaunchInput, opts: { journalId: string; placement: InstanceSpec['placement']; accessPolicyId?: string; keyFingerprint?: string }): LaunchRequestsSpec & { schedule?: SnapshotScheduleSpec } {
  const { plan, provider } = input;
  const name = plan.name.value;
  const key = plan.sshKey.value;
  const sshKey: SshKeySpec =
    key.mode === 'existing' ? { mode: 'existing', name: key.keyName } : { mode: 'import', name: keyPairNameFor(name), publicKey: input.publicKey ?? '<public key>' };
  const kept = plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value : undefined;
  const instance: InstanceSpec = {
    deployment: name,
    role: 'instance',
    version: plan.version.value,
    size: plan.size.value,
    imageId: plan.image.value.id,
    ...(plan.image.value.dataTemplateId ? { dataTemplateId: plan.image.value.dataTemplateId } : {}),
    machineType: plan.instanceType.value,
    placement: opts.placement,
    accessPolicyIds: opts.accessPolicyId ? [opts.accessPolicyId] : [],
    sshKey,
    loginUser: plan.sshUser.value,
    rootDisk: provider.rootDisk,
    dataDisk: kept ? { mode: 'existing', diskId: kept.volumeId } : { mode: 'new', disk: dataVolumeFor(plan, provider) },
    keepDataDisk: true,
    ...(plan.encryptionKey.value ? { encryptionKeyId: plan.encryptionKey.value } : {}),
    ...(input.userDataBase64 ? { userDataBase64: input.userDataBase64 } : {}),
    labels: ownLabels(plan, 'instance', { version: plan.version.value, size: plan.size.value, ...(opts.keyFingerprint ? { 'key-fingerprint': opts.keyFingerprint } : {}) }),
    idempotencyKey: clientTokenFor(name, opts.journalId, 'instance'),
  };
  const access: AccessPolicySpec = {
    deployment: name,
    labels: ownLabels(plan, 'security-group'),
    name: keyPairNameFor(name),
    placement: opts.placement,
    rules: [...[80, 443].flatMap((port) => plan.allowCidrs.value.map((cidr) => ({ port, cidr }))), ...plan.sshCidrs.value.map((cidr) => ({ port: 22, cidr }))],
  };
  const a = plan.address.value;
  const address: AddressSpec =
    a.mode === 'none' ? { mode: 'none' } : a.mode === 'existing' ? { mode: 'existing', id: a.id, deployment: name } : { mode: 'new', deployment: name, labels: ownLabels(plan, 'address', { managed: 'true' }) };
  const schedule = plan.schedule?.value;
  return {
    sshKey,
    access,
    instance,
    address,
    ...(schedule ? { schedule: { deployment: name, schedule: schedule.schedule, retain: schedule.retain, params: input.scheduleParams } } : {}),
  };
}

/** The cloud had no room for the instance: retrying the same request will not help. */
const NO_CAPACITY = new Set(['insufficient-capacity', 'vcpu-limit', 'instance-type-unavailable']);

export async function runLaunchWorkflow(deps: Deps, cloud: Cloud, input: LaunchInput): Promise<LaunchResult> {
  const { io, state } = deps;
  const { plan, provider } = input;
  const name = plan.name.value;
  const region = plan.region.value;
  const target = { cloud: provider.id, region, name };

  // Reconcile with what exists before acting: an existing deployment is resumed, never duplicated.
  const existing = await cloud.findDeployment(name);
  const kept = plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value : undefined;
  const orphaned = existing.instance ? [] : dataDisksOf(existing).filter((v) => !v.attachedTo && v.id !== kept?.volumeId);
  if (orphaned.length) io.info(`Kept data volume(s) of ${name} stay untouched: ${orphaned.map((v) => v.id).join(', ')}.`);

  const open = openJournal(deps, target, 'launch');
  if (!open.resumed && existing.instance) io.info(`Deployment ${name} already exists (instance ${existing.instance.id}); checking every resource and waiting for it.`);
  const record: DeploymentRecord = {
    ...open.record,
    version: plan.version.value,
    size: plan.size.value,
    sshUser: plan.sshUser.value,
    plan: planToJson(plan, provider),
  };
  const save = (j = open.journal) => state.putDeployment({ ...record, updatedAt: new Date(deps.clock.now()).toISOString(), journal: j });
  save();

  let publicKey = input.publicKey;
  const key = plan.sshKey.value;
  if (key.mode === 'generate') {
    publicKey = await ensureGeneratedKey(key.privateKeyPath, `sourcegraph-launch ${name} ${region}`);
    record.privateKeyPath = key.privateKeyPath;
  } else if (key.mode === 'import') {
    publicKey = readFileSync(key.publicKeyPath, 'utf8').trim();
  }
  const keyFingerprint = publicKey ? fingerprintLabel(fingerprintOfPublicKeyLine(publicKey)) : undefined;

  interface Ctx {
    placement?: InstanceSpec['placement'];
    accessPolicyId?: string;
    instance?: Instance;
    publicIp?: string;
    addressId?: string;
  }
  const specs = (c: Ctx) => launchSpecs({ ...input, ...(publicKey ? { publicKey } : {}) }, { journalId: open.journal.id, placement: c.placement ?? { zone: '' }, accessPolicyId: c.accessPolicyId, keyFingerprint });
  const ctx: Ctx = {};
  const steps: Step<Ctx>[] = [
    {
      id: 'key-pair',
      title: `SSH ${provider.terms.sshKey}`,
      run: async (c) => {
        const s = specs(c);
        const k = await cloud.ensureSshKey(s.sshKey, name, { ...ownLabels(plan, 'key-pair', { managed: 'true' }), ...(keyFingerprint ? { 'key-fingerprint': keyFingerprint } : {}) });
        return k ? { summary: k.name, result: { keyName: k.name } } : { summary: 'in the instance\'s metadata' };
      },
    },
    {
      id: 'security-group',
      title: capitalize(provider.terms.accessPolicy),
      run: async (c) => {
        // Only a zone that offers the type (and holds a kept data disk, which attaches only there).
        c.placement = await cloud.resolvePlacement(plan.subnet.value, plan.zones?.value);
        const policy = await cloud.ensureAccessPolicy(specs(c).access);
        c.accessPolicyId = policy.id;
        const ports = plan.sshCidrs.value.length ? '80/443 and 22' : '80/443';
        return { summary: `${policy.id} (${ports} from the CIDRs you named)`, result: { accessPolicyId: policy.id, placement: JSON.stringify(c.placement) } };
      },
      restore: (c, r) => {
        c.accessPolicyId = r.accessPolicyId ?? r.securityGroupId;
        if (r.placement) c.placement = JSON.parse(r.placement) as InstanceSpec['placement'];
      },
    },
    {
      id: 'instance',
      title: `Instance (${plan.instanceType.value}, ${plan.image.value.id})`,
      run: async (c) => {
        if (!c.placement) c.placement = await cloud.resolvePlacement(plan.subnet.value, plan.zones?.value);
        // A deployment launched from another machine (another journal, so another idempotency key)
        // is resumed, not duplicated: its serving instance at this version is the one.
        const serving = existing.instance?.labels.role === 'instance' && existing.instance.labels.version === plan.version.value && existing.instance.state !== 'terminated' && existing.instance.state !== 'terminating' ? existing.instance : undefined;
        c.instance = serving ?? (await cloud.ensureInstance(specs(c).instance));
        return { summary: c.instance.id, result: { instanceId: c.instance.id } };
      },
      restore: (c, r) => {
        c.instance = { id: r.instanceId! } as Instance;
      },
    },
  ];
  if (kept) {
    steps.push({
      id: 'data-volume',
      title: `Kept data volume ${kept.volumeId}, attached before Sourcegraph's first boot`,
      run: async (c) => {
        const id = c.instance!.id;
        const disk = await cloud.describeDisk(kept.volumeId);
        if (disk?.attachedTo !== id) {
          // The boot guard powers an instance without its data off at once; stopping it here
          // makes that certain before the disk goes in.
          if ((await cloud.describeInstance(id))?.state !== 'stopped') await cloud.stopInstance(id);
          await cloud.waitForInstanceState(id, 'stopped', 15 * 60_000);
          await cloud.attachDataDisk(kept.volumeId, id, 10 * 60_000);
        }
        if ((await cloud.describeInstance(id))?.state !== 'running') await cloud.startInstance(id);
        await cloud.waitForInstanceState(id, 'running', 15 * 60_000);
        return { summary: `${kept.volumeId} → ${id}`, result: { volumeId: kept.volumeId } };
      },
    });
  }
  steps.push({
    id: 'address',
    title: provider.terms.address,
    run: async (c) => {
      const address = await cloud.ensureStaticAddress(specs(c).address);
      if (!address) return { summary: `none (${provider.planFlags.address ?? 'address'} none): the address changes if the instance stops` };
      const attached = await cloud.attachStaticAddress(address.id, c.instance!.id);
      c.publicIp = attached.ip;
      c.addressId = attached.id;
      return { summary: `${attached.ip} (${attached.id})`, result: { addressId: attached.id, publicIp: attached.ip } };
    },
    restore: (c, r) => {
      c.publicIp = r.publicIp;
      c.addressId = r.addressId ?? r.allocationId;
    },
  });
  const schedule = plan.schedule?.value;
  if (schedule) {
    steps.push({
      id: 'backup-schedule',
      title: `Daily data-volume snapshots (${provider.terms.snapshotSchedules})`,
      run: async (c) => {
        const policy = await cloud.ensureSnapshotSchedule(specs(c).schedule!);
        return { summary: `${policy.id}, keeping ${schedule.retain}`, result: { policyId: policy.id } };
      },
    });
  }

  try {
    await runWorkflow(steps, ctx, { ...runOptions(deps, { journal: open.journal, save }), save });
  } catch (e) {
    if (e instanceof LaunchError && NO_CAPACITY.has(e.code)) {
      // Nothing will run here until the user changes zone, type or quota: leave nothing behind.
      const removed = await undoPartialLaunch(cloud, provider, name);
      state.deleteDeployment(provider.id, region, name);
      if (removed.length) io.info(`Removed what this launch had created: ${removed.join(', ')}.`);
      throw e;
    }
    throw withResumeHint(e, input.command);
  }
  const instance = (await cloud.describeInstance(ctx.instance!.id)) ?? ctx.instance!;
  record.instanceId = instance.id;
  const host = ctx.publicIp ?? instance.publicIp;
  record.url = host ? `http://${host}` : undefined;
  save();

  const found = await cloud.findDeployment(name);
  const resources = {
    instanceId: instance.id,
    securityGroupId: ctx.accessPolicyId,
    keyName: found.sshKeys[0]?.name ?? (key.mode === 'existing' ? key.keyName : undefined),
    allocationId: ctx.addressId,
    dataVolumeId: kept?.volumeId ?? instance.disks.find((d) => d.role === 'data')?.diskId,
  };
  const base: LaunchResult = { name, cloud: provider.id, region, version: plan.version.value, instanceId: instance.id, publicIp: host, url: record.url, ready: false, resources };

  const privateKeyPath = privateKeyFor(plan, input.identityFile);
  if (plan.sshCidrs.value.length && !privateKeyPath && plan.wait) {
    io.warn(`No private key for SSH (${provider.planFlags.existingSshKey ?? 'an existing key'} without --identity-file): the wait skips the SSH stages and relies on the cloud status and HTTP.`);
  }
  const report = await waitUntilReady(
    { cloud, connectRemote: deps.connectRemote, io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
    {
      instanceId: instance.id,
      version: plan.version.value,
      deploymentName: name,
      host,
      ssh: plan.sshCidrs.value.length && privateKeyPath ? { user: plan.sshUser.value, privateKeyPath, knownHostsPath: state.knownHostsPath } : undefined,
      totalTimeoutMs: plan.timeoutMinutes.value * 60_000,
      holdMs: plan.holdSeconds.value * 1000,
      ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      resumeCommand: input.command,
      rebootHint: provider.terms.rebootHint(instance.id),
      stopAfter: plan.wait ? undefined : 'instance-running',
    },
  );
  open.journal.steps.wait = { status: 'done', at: new Date(deps.clock.now()).toISOString() };
  open.journal.finishedAt = new Date(deps.clock.now()).toISOString();
  save();
  return { ...base, url: report.url || base.url, ready: plan.wait, needsSiteInit: report.needsSiteInit, stages: report.stages };
}

/**
 * Deletes the access policy and SSH key a launch made before the instance failed for capacity, but
 * only when no instance of the deployment exists (a resumed launch of a running deployment keeps them).
 */
async function undoPartialLaunch(cloud: Cloud, provider: ProviderDescriptor, name: string): Promise<string[]> {
  const found = await cloud.findDeployment(name);
  if (found.instance || found.otherInstances.length) return [];
  const removed: string[] = [];
  for (const g of found.accessPolicies) {
    await cloud.deleteAccessPolicy(g.id);
    removed.push(`${provider.terms.accessPolicy} ${g.id}`);
  }
  for (const k of found.sshKeys.filter((k) => k.managed)) {
    await cloud.deleteSshKey(k.name);
    removed.push(`${provider.terms.sshKey} ${k.name}`);
  }
  return removed;
}

const capitalize = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;

/** Adds how to resume to an error from a launch step, keeping its class, code and exit code. */
function withResumeHint(e: unknown, command: string): unknown {
  const hint = `Nothing is left half-made: re-run \`${command}\` to resume.`;
  if (e instanceof LaunchError) {
    if (e.exitCode === ExitCode.interrupted || e.remediation?.includes(command)) return e;
    const remediation = e.remediation ? `${e.remediation} ${hint}` : hint;
    return Object.assign(Object.create(Object.getPrototypeOf(e) as object) as LaunchError, e, { message: e.message, stack: e.stack, remediation });
  }
  return new CloudError('launch-failed', e instanceof Error ? e.message : String(e), { cause: e, remediation: hint });
}

/**
 * The generated key of a deployment: created once, then reused. A private key is never overwritten:
 * when its `.pub` went missing, the public key is derived from the private key again.
 */
export async function ensureGeneratedKey(privateKeyPath: string, comment: string): Promise<string> {
  const pubPath = `${privateKeyPath}.pub`;
  const { generateEd25519KeyPair, publicKeyOfPrivateKey } = await import('../remote/ssh2-remote.js');
  if (existsSync(privateKeyPath)) {
    if (existsSync(pubPath)) return readFileSync(pubPath, 'utf8').trim();
    const publicKey = await publicKeyOfPrivateKey(readFileSync(privateKeyPath, 'utf8'), comment);
    writeFileSync(pubPath, `${publicKey}\n`, { mode: 0o644 });
    return publicKey;
  }
  mkdirSync(dirname(privateKeyPath), { recursive: true, mode: 0o700 });
  const pair = await generateEd25519KeyPair(comment);
  // 'wx': if another process made the key meanwhile, fail rather than replace it.
  writeFileSync(privateKeyPath, pair.privateKey, { mode: 0o600, flag: 'wx' });
  writeFileSync(pubPath, `${pair.publicKey.trim()}\n`, { mode: 0o644 });
  return pair.publicKey.trim();
}

export function privateKeyFor(plan: LaunchPlan, identityFile: string | undefined): string | undefined {
  const key = plan.sshKey.value;
  if (identityFile) return identityFile;
  if (key.mode === 'generate') return key.privateKeyPath;
  if (key.mode === 'import') {
    const guess = key.publicKeyPath.replace(/\.pub$/, '');
    return guess !== key.publicKeyPath && existsSync(guess) ? guess : undefined;
  }
  return undefined;
}
