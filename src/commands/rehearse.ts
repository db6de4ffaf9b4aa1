// `upgrade [name] --rehearse`: validate → plan the upgrade as `upgrade` would (reads only) → delete
// what an interrupted rehearsal left → plan the rehearsal → show it → SSH to production (the hop to
// the copy, which has no public address; refused here, before anything is made, when production's
// SSH is closed or does not answer) → confirm → run it (the workflow always cleans up) → report the
// phases, the downtime estimate and any failure. Exit 0 when the copy served the target version,
// 1 when it failed (or production's SSH is not usable), 4 when it timed out, 130 on Ctrl-C (after cleanup).
import type { UpgradeFlags } from '../cli/commands/upgrade.js';
import { ExitCode, LaunchError, UsageError } from '../core/errors.js';
import { jumpThrough, type Jump } from '../remote/jump.js';
import {
  cleanUp,
  openRehearsalJournal,
  rehearsalResources,
  planRehearsal,
  runRehearsal,
  unfinishedRehearsal,
  type RehearsalPlan,
  type RehearsalReport,
  type SnapshotChoice,
} from '../workflows/rehearse.js';
import { confirmOrYes, connectCloud, findPrivateKey, formatAge, formatMs } from '../workflows/shared.js';
import { planUpgrade, type UpgradeOptions } from '../workflows/upgrade.js';
import type { Deps } from './deps.js';
import { connectOrExplain, reachInstance, type InstanceAccess } from './instance-access.js';
import { resolveTarget, type TargetFlags } from './target.js';
import { validateUpgradeFlags } from './upgrade.js';

export type { RehearsalReport } from '../workflows/rehearse.js';

export function parseSnapshotChoice(text: string | undefined, validateId: (id: string) => string): SnapshotChoice {
  const t = text?.trim();
  if (t === undefined || t === 'newest') return { mode: 'newest' };
  if (t === 'new') return { mode: 'new' };
  return { mode: 'id', id: validateId(t) };
}

export async function runRehearse(deps: Deps, nameArg: string | undefined, flags: UpgradeFlags & TargetFlags): Promise<RehearsalReport | { name: string; region: string; upToDate: true; message: string } | { dryRun: true }> {
  const { io } = deps;
  const { initRate, ...v } = validateUpgradeFlags(flags);
  if (flags.strategy !== undefined) io.warn('--strategy does not change a rehearsal: the copy is always made from a snapshot.');
  if (flags.sshCidr !== undefined) io.warn(`--ssh-cidr ${flags.sshCidr} is ignored: the copy has no public address and lets in only production's private address, through which you reach it.`);
  const instanceType = flags.instanceType?.trim();
  if (flags.instanceType !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(instanceType ?? '')) throw new UsageError(`--instance-type: "${flags.instanceType}" is not an instance type`, { code: 'bad-instance-type' });
  const target = resolveTarget(deps, nameArg, flags);
  const { provider } = target;
  const snapshotChoice = parseSnapshotChoice(flags.fromSnapshot, (id) => provider.validateSnapshotId(id));
  const image = flags.image !== undefined ? provider.validateImageId(flags.image) : undefined;
  const record = deps.state.getDeployment(target.cloud, target.region, target.name);
  const key = findPrivateKey(deps, target, record, flags.identityFile);
  if ('missing' in key) {
    throw new UsageError(`The rehearsal is checked over SSH, and this machine has no private key for ${target.name}: expected ${key.missing}`, {
      code: 'ssh-key-missing',
      remediation: 'Run it from the machine that launched the deployment, or pass --identity-file.',
    });
  }
  // Production's instance: the hop to the copy (nothing on it changes) and the one address the copy lets in.
  const reach = await reachInstance(deps, nameArg, flags);
  const { cloud } = reach;
  const hopAddress = reach.instance.privateIp;
  if (!hopAddress) {
    throw new LaunchError('no-private-address', ExitCode.failed, `${target.name}'s instance ${reach.instance.id} reports no private address, the only one the rehearsal's copy would let in`, {
      remediation: `See \`${deps.program} status ${target.name} --region ${target.region}\`.`,
    });
  }
  const typeZones = instanceType ? await cloud.machineTypeZones(instanceType) : undefined;
  if (instanceType && !typeZones?.length) throw new UsageError(`--instance-type ${instanceType} is not offered in ${target.region}`, { code: 'instance-type-unavailable' });
  // The copy has no public address: it is reached over SSH through production, so the one rule it has lets in production's private address.
  const sshCidr = `${hopAddress}/32`;

  // A lock of its own: a rehearsal never holds the deployment's lock or its cloud-side marker.
  const release = flags.dryRun ? undefined : deps.state.lock(target.cloud, target.region, `${target.name}.rehearsal`);
  let jump: Jump | undefined;
  try {
    // What an interrupted rehearsal left is shown now and deleted once the user said yes.
    const left = rehearsalResources(await cloud.findDeployment(target.name));
    const leftIds = [...left.instances.map((i) => i.id), ...left.disks.map((x) => x.id), ...left.accessPolicies.map((x) => x.id), ...left.sshKeys.map((k) => k.name)];
    const options: UpgradeOptions = { ...v, ...(image ? { image } : {}), ...(flags.identityFile ? { identityFile: flags.identityFile } : {}) };
    if (cloud.capabilities.diskInitializationRate && initRate !== 0) options.initRateMiBps = initRate ?? 300;
    const up = await planUpgrade(deps, cloud, target, options, 'rehearsal');
    if ('nothing' in up) {
      const result = { name: target.name, region: target.region, upToDate: true as const, message: `${up.nothing} Nothing to rehearse.` };
      if (io.json) io.result(result);
      else io.success(result.message);
      return result;
    }
    const plan = await planRehearsal(deps, cloud, target, up, {
      snapshot: snapshotChoice,
      sshCidr,
      privateKeyPath: key.privateKeyPath,
      ...(instanceType ? { machineType: instanceType } : {}),
      deleteSnapshot: Boolean(flags.deleteSnapshot),
      through: { instanceId: reach.instance.id, ...('problem' in reach.ssh ? {} : { host: reach.ssh.host }), privateIp: hopAddress },
    });
    // The copy must be in production's zone (the disk is made there): the type must be offered there.
    if (instanceType && !typeZones!.includes(plan.zone)) {
      throw new UsageError(`--instance-type ${instanceType} is not offered in ${plan.zone}, production's zone (only in ${typeZones!.join(', ')})`, { code: 'instance-type-unavailable' });
    }
    describe(deps, plan);
    if (leftIds.length) io.info(`  First, what an earlier rehearsal left is deleted: ${leftIds.join(', ')}.`);
    if (flags.dryRun) {
      // No connection in a dry run; what would stop the real one without connecting is said.
      if ('problem' in reach.ssh) io.warn(`The rehearsal would refuse to start: ${reach.ssh.problem.message}. ${reach.ssh.problem.remediation ?? ''}`.trim());
      if (io.json) io.result({ dryRun: true, rehearse: true, ...publicPlan(plan) });
      else io.info('Dry run: nothing was made.');
      return { dryRun: true };
    }
    // Before anything is made: production must take our SSH connection (the copy is reachable only through it).
    jump = await openJump(deps, reach, flags.providerFlags ?? {});
    await confirmOrYes(deps, flags, `Rehearse ${plan.from} → ${plan.to} on a throwaway copy of ${plan.name}'s data?`, 'rehearse the upgrade');
    const leftoversRemoved = await removeLeftovers(deps, cloud, target);
    const report = await runRehearsal({ ...deps, connectRemote: jump.connectRemote }, cloud, target, plan, openRehearsalJournal(deps, target, plan.id));
    report.leftoversRemoved = leftoversRemoved;
    return finish(deps, report);
  } finally {
    await jump?.close();
    release?.();
  }
}

/**
 * The SSH connection to production the copy is reached through, opened now: SSH closed to the caller
 * (`--ssh-cidr none`), no key, production not answering, or a host key that is not the pinned one
 * refuses the rehearsal before anything is made, with the same errors and remedies as `ssh`.
 */
async function openJump(deps: Deps, reach: InstanceAccess, providerFlags: Record<string, string>): Promise<Jump> {
  const label = `${reach.target.name}'s instance ${reach.instance.id}${'problem' in reach.ssh ? '' : ` at ${reach.ssh.host}`}`;
  const jump = jumpThrough({ label, connect: async () => (await connectOrExplain(deps, reach, providerFlags)).remote }, deps.connectRemote);
  try {
    await jump.hop();
  } catch (e) {
    await jump.close();
    if (e instanceof LaunchError) {
      throw new LaunchError(e.code, e.exitCode, `The rehearsal reaches its copy (which has no public address) over SSH through ${reach.target.name}'s instance, and cannot: ${e.message} Nothing was made.`, {
        cause: e,
        ...(e.remediation ? { remediation: e.remediation } : {}),
        ...(e.details ? { details: e.details } : {}),
      });
    }
    throw e;
  }
  return jump;
}

/** What an interrupted rehearsal of this deployment left (found by its labels), deleted before a new one. */
async function removeLeftovers(deps: Deps, cloud: Awaited<ReturnType<typeof connectCloud>>, target: ReturnType<typeof resolveTarget>): Promise<string[]> {
  const earlier = unfinishedRehearsal(deps, target);
  if (earlier) deps.io.info(`The rehearsal ${earlier.id} started ${earlier.startedAt} did not finish its cleanup: finishing it first.`);
  const { removed, failed } = await cleanUp(deps, cloud, target, undefined);
  if (removed.length) deps.io.info(`Deleted what an earlier rehearsal left: ${removed.join(', ')}.`);
  if (failed.length) {
    throw new LaunchError('rehearsal-leftovers', ExitCode.failed, `Could not delete what an earlier rehearsal left: ${failed.map((f) => `${f.id} (${f.error})`).join(', ')}`, {
      remediation: 'Run the rehearsal again in a few minutes; production is not affected.',
    });
  }
  if (earlier) openRehearsalJournal(deps, target, earlier.id).forget();
  return removed;
}

function publicPlan(p: RehearsalPlan) {
  const { privateKeyPath: _key, sshKey, ...rest } = p;
  return { ...rest, publicIp: false, sshKey: sshKey.mode === 'import' ? { mode: 'import', name: sshKey.name } : sshKey };
}

function describe(deps: Deps, p: RehearsalPlan): void {
  const { io } = deps;
  io.info(`\nRehearse the upgrade of ${p.name} (${p.cloud} ${p.region}): ${p.from} → ${p.to} on a throwaway copy; production is not touched.`);
  io.info(
    p.snapshot.mode === 'existing'
      ? `  Data: snapshot ${p.snapshot.id} of ${p.snapshot.version}, ${formatAge(p.snapshot.startTime, deps.clock.now())} old.`
      : `  Data: a new snapshot of ${p.snapshot.diskId} while production keeps serving (${p.snapshot.reason}); ${p.deleteSnapshot ? 'deleted afterwards (--delete-snapshot)' : 'kept afterwards as a backup'}.`,
  );
  io.info(`  Instance: ${p.machineType} in ${p.zone}, image ${p.imageId}; no public address; one access rule: SSH from ${p.sshCidr} (production's private address) only.`);
  io.info(`  Reached over SSH through production's instance ${p.through.instanceId}${p.through.host ? ` (${p.through.host})` : ''}, which only relays the connection: nothing on it changes.`);
  io.info('  Everything it makes is deleted at the end, whatever happens.');
}

function finish(deps: Deps, r: RehearsalReport): RehearsalReport {
  const { io } = deps;
  if (!io.json) {
    const ph = r.phases;
    const line = (label: string, ms: number | undefined) => ms !== undefined && io.info(`  ${formatMs(ms).padStart(12)}  ${label}`);
    if (r.ok) io.success(`The rehearsal of ${r.from} → ${r.to} served ${r.to} on a copy of ${r.name}'s data.`);
    else io.warn(`The rehearsal of ${r.from} → ${r.to} failed: ${r.failure?.message.split('\n')[0]}`);
    io.info(`Snapshot: ${r.snapshot.id ?? '-'}${r.snapshot.age ? ` (${r.snapshot.age} old)` : ''}${r.snapshot.new ? (r.snapshot.kept ? ', new, kept as a backup' : ', new, deleted') : ''}.`);
    line('snapshot', ph.snapshotMs);
    line('disk restore', ph.diskRestoreMs);
    line('instance start with the data', ph.instanceStartMs);
    line('boot and migrations to serving', ph.bootToServingMs);
    line('stop', ph.stopMs);
    line('total', r.totalMs);
    if (r.downtimeEstimate) io.info(`The real upgrade will take ${r.downtimeEstimate} of downtime (plus the final incremental snapshot with --strategy clone).`);
    if (r.failure?.consoleTail) io.info(`Console (last lines):\n${r.failure.consoleTail.replace(/^/gm, '    ')}`);
    if (r.failure?.bootStatus) io.info(`Boot status file: ${r.failure.bootStatus}`);
    io.info(
      r.cleanup.failed.length
        ? `Could not delete ${r.cleanup.failed.map((f) => f.id).join(', ')}; the next rehearsal deletes them first.`
        : `Deleted everything the rehearsal made (${r.cleanup.removed.join(', ') || 'nothing'}).`,
    );
  }
  if (r.ok) {
    if (io.json) io.result(r);
    return r;
  }
  const f = r.failure!;
  throw new LaunchError(f.code, f.exitCode === ExitCode.timedOut ? ExitCode.timedOut : ExitCode.failed, `The rehearsal of ${r.from} → ${r.to} failed: ${f.message}`, {
    remediation: `Production was not touched and the copy is deleted. Fix the cause before upgrading (the same would happen to production), then rehearse again.`,
    details: { report: r },
  });
}
