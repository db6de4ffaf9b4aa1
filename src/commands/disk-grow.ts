// `disk grow [name] --size GiB`: grows the deployment's data disk. Validate (a whole size, larger
// than now, within the cloud's limit; nothing changes on bad input) → hold the deployment → show the
// size and monthly cost change (and a stop the cloud needs) → ask → grow and wait (workflows/
// disk-grow.ts) → grow the filesystem over SSH when SSH is open, else through the cloud's run-command
// channel, else say the next boot does it.
// Re-running with the same size resumes: a change under way is waited for, a disk already at the
// size goes straight to the filesystem.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DiskGrowFlags } from '../cli/commands/disk.js';
import type { Cloud, CloudRequest, Disk, Instance } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider } from '../cloud/providers.js';
import { describeDataDiskUsage, parseDataDiskUsage, type DataDiskUsage } from '../core/data-disk-usage.js';
import { CloudError, UsageError } from '../core/errors.js';
import { formatUsd } from '../core/prices.js';
import { holdDeployment } from '../engine/hold.js';
import { confirmOrYes, dataDiskOf } from '../workflows/shared.js';
import { growDisk, growStart, type GrowStart } from '../workflows/disk-grow.js';
import type { Deps } from './deps.js';
import { openChannel, parseVia, reachInstance, runCommandTo, type InstanceAccess } from './instance-access.js';
import type { InstanceChannel } from '../remote/channel.js';
import { locateProvisionBundle } from './provision-bundle.js';
import { resolveTarget, type TargetFlags } from './target.js';

const FS_TIMEOUT_MS = 5 * 60_000;

export interface DiskGrowResult {
  name: string;
  cloud: string;
  region: string;
  diskId: string;
  fromGiB: number;
  toGiB: number;
  /** What happened on the cloud: grown now, or already at the size (a re-run). */
  disk: 'grown' | 'already-at-size';
  /** The instance was stopped and started again for it (Azure beyond 4 TiB). */
  restarted: boolean;
  /** USD a month for the data disk before and after; null where the price file has none. */
  monthlyUsd: { before: number | null; after: number | null; change: number | null };
  /** The filesystem grown over SSH (with its usage), or why it grows at the next boot instead. */
  filesystem: { grown: boolean; usage: DataDiskUsage } | { pending: string; remediation?: string };
}

/** What `disk grow --dry-run` shows and prints in --json: the request it would send, and nothing changed. */
export interface DiskGrowDryRun {
  dryRun: true;
  name: string;
  cloud: string;
  region: string;
  diskId: string;
  fromGiB: number;
  toGiB: number;
  /** request: the resize would be asked for; under-way: a change to this size is already running; done: the disk is at the size. */
  start: GrowStart;
  /** The instance would be stopped and started again around it (Azure beyond 4 TiB). */
  stopFirst: boolean;
  monthlyUsd: DiskGrowResult['monthlyUsd'];
  /** The mutating requests, in order, with their real inputs (none when nothing is to be asked for). */
  requests: CloudRequest[];
}

function parseSize(value: string | undefined, provider: ProviderDescriptor): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--size: "${value ?? ''}" must be a whole number of GiB`);
  if (n > provider.dataDiskLimit.maxGiB) {
    throw new UsageError(`--size ${n}: a ${provider.dataDiskLimit.name} data disk is at most ${provider.dataDiskLimit.maxGiB} GiB`, { code: 'disk-too-large' });
  }
  return n;
}

function diskMonthlyUsd(provider: ProviderDescriptor, region: string, instance: Instance, disk: Disk, sizeGiB: number): number | undefined {
  const data = { sizeGiB, type: disk.type, ...(disk.iops !== undefined ? { iops: disk.iops } : {}), ...(disk.throughput !== undefined ? { throughput: disk.throughput } : {}) };
  return provider.monthlyCost({ region, machineType: instance.machineType, root: provider.rootDisk, data, publicAddress: false }).parts.find((p) => p.item === 'data volume')?.monthlyUsd;
}

/** The disk, where a grow to `sizeGiB` would start, and its cost: reads only (the dry run stops here). */
async function planGrow(cloud: Cloud, provider: ProviderDescriptor, region: string, instance: Instance, found: Disk, sizeGiB: number) {
  const disk = (await cloud.describeDisk(found.id)) ?? found;
  const state = await cloud.diskResizeState(disk.id, sizeGiB);
  const current = state.inProgress?.targetSizeGiB ?? disk.sizeGiB;
  if (sizeGiB < current) {
    throw new UsageError(`--size ${sizeGiB}: the data ${provider.terms.disk} ${disk.id} is ${current} GiB, and a disk never shrinks. Nothing changed.`, {
      code: 'disk-shrink-refused',
      remediation: `Give a size larger than ${current} GiB.`,
    });
  }
  const start = growStart(disk.id, disk.sizeGiB, state, sizeGiB);
  const fromGiB = start === 'request' ? disk.sizeGiB : start === 'under-way' ? state.sizeGiB : sizeGiB;
  const before = diskMonthlyUsd(provider, region, instance, disk, fromGiB);
  const after = diskMonthlyUsd(provider, region, instance, disk, sizeGiB);
  const monthlyUsd = { before: before ?? null, after: after ?? null, change: before !== undefined && after !== undefined ? Math.round((after - before) * 100) / 100 : null };
  const stopFirst = start === 'request' && Boolean(state.needsStop);
  return { disk, start, fromGiB, monthlyUsd, stopFirst };
}

/** The size change, its cost and whether the instance keeps running: shown before asking, and by --dry-run. */
function showGrow(deps: Deps, provider: ProviderDescriptor, p: { name: string; cloud: string; region: string; instance: Instance; sizeGiB: number } & Awaited<ReturnType<typeof planGrow>>): void {
  const { io } = deps;
  const { disk, monthlyUsd } = p;
  io.info(`disk grow ${p.name} (${p.cloud} ${p.region}): data ${provider.terms.disk} ${disk.id} ${provider.describeDisk({ ...disk, sizeGiB: p.fromGiB })} → ${p.sizeGiB} GiB`);
  const cost =
    monthlyUsd.change !== null
      ? `≈ ${formatUsd(monthlyUsd.before!)} → ${formatUsd(monthlyUsd.after!)}/month (${monthlyUsd.change >= 0 ? '+' : '−'}$${Math.abs(monthlyUsd.change).toFixed(2)})`
      : `price unknown (no ${disk.type} price for ${p.region} in ${provider.priceFile})`;
  io.info(`  monthly cost of the disk: ${cost}`);
  if (p.stopFirst) io.warn(`This cloud grows this disk beyond 4 TiB only while the instance is stopped (deallocated): ${p.instance.id} stops, the disk grows, and it starts again. Sourcegraph is down meanwhile (a few minutes).`);
  else io.info('  online: the instance keeps running.');
}

export async function runDiskGrow(deps: Deps, nameArg: string | undefined, flags: DiskGrowFlags & TargetFlags & { dryRun: true }): Promise<DiskGrowDryRun>;
export async function runDiskGrow(deps: Deps, nameArg: string | undefined, flags: DiskGrowFlags & TargetFlags & { dryRun?: false }): Promise<DiskGrowResult>;
export async function runDiskGrow(deps: Deps, nameArg: string | undefined, flags: DiskGrowFlags & TargetFlags): Promise<DiskGrowResult | DiskGrowDryRun>;
export async function runDiskGrow(deps: Deps, nameArg: string | undefined, flags: DiskGrowFlags & TargetFlags): Promise<DiskGrowResult | DiskGrowDryRun> {
  const { io } = deps;
  // Bad input exits 2 before any cloud call.
  const sizeGiB = parseSize(flags.size, resolveTarget(deps, nameArg, flags).provider);
  const via = parseVia(flags.via);
  const reach = await reachInstance(deps, nameArg, flags);
  const { target, cloud, deployment, instance } = reach;
  const { provider, name, region } = target;
  // A forced channel the cloud does not offer: exit 2 before anything changes.
  if (via === 'run-command' && !(cloud.runCommand && cloud.runCommandLimits)) runCommandTo(deps, reach);
  const found = dataDiskOf(deployment, instance);
  if (!found) throw new CloudError('data-disk-missing', `The instance ${instance.id} of ${name} has no data ${provider.terms.disk} attached`, { remediation: `See \`${deps.program} status ${name} --region ${region}\`.` });
  const where = `${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${region}`;

  // Reads only, before the hold (which labels the deployment): a dry run changes nothing at all.
  if (flags.dryRun) return dryRun(deps, provider, { name, cloud: target.cloud, region, instance, sizeGiB, ...(await planGrow(cloud, provider, region, instance, found, sizeGiB)) }, cloud);

  const hold = await holdDeployment(deps, cloud, target, 'disk-grow', { marker: true, found: deployment, ...(flags.forceUnlock ? { forceUnlock: true } : {}) });
  try {
    const plan = await planGrow(cloud, provider, region, instance, found, sizeGiB);
    const { disk, start, fromGiB, monthlyUsd, stopFirst } = plan;

    if (start === 'request') {
      showGrow(deps, provider, { name, cloud: target.cloud, region, instance, sizeGiB, ...plan });
      // It changes the bill (and with a stop, serves nothing for a while): asked like every change; --yes for CI.
      await confirmOrYes(deps, flags, stopFirst ? `Stop ${instance.id}, grow the disk to ${sizeGiB} GiB and start it again?` : `Grow the data disk of ${name} to ${sizeGiB} GiB?`, 'grow the disk');
    } else if (start === 'under-way') io.info(`The data ${provider.terms.disk} ${disk.id} is already changing to ${sizeGiB} GiB: waiting for it.`);
    else io.info(`The data ${provider.terms.disk} ${disk.id} is ${sizeGiB} GiB already: going on with the filesystem.`);

    await growDisk(deps, cloud, { diskId: disk.id, sizeGiB, start, instanceId: instance.id, stopFirst });

    const filesystem = await growFilesystem(deps, reach, `${deps.program} disk grow ${name}${where} --size ${sizeGiB}`, flags);
    const result: DiskGrowResult = { name, cloud: target.cloud, region, diskId: disk.id, fromGiB, toGiB: sizeGiB, disk: start === 'done' ? 'already-at-size' : 'grown', restarted: stopFirst, monthlyUsd, filesystem };
    if (io.json) io.result(result);
    else if ('usage' in filesystem) {
      const shown = describeDataDiskUsage(filesystem.usage, `${deps.program} disk grow ${name}${where} --size <GiB>`);
      io.success(`The data disk of ${name} is ${sizeGiB} GiB and its filesystem ${filesystem.grown ? 'has grown to fill it' : 'fills it'}. ${shown.line}`);
      if (shown.warning) io.warn(shown.warning);
    } else {
      io.success(`The data disk of ${name} is ${sizeGiB} GiB.`);
      io.warn(`${filesystem.pending}${filesystem.remediation ? `\n  ${filesystem.remediation}` : ''}`);
    }
    return result;
  } finally {
    await hold.release();
  }
}

function dryRun(deps: Deps, provider: ProviderDescriptor, p: Parameters<typeof showGrow>[2], cloud: Cloud): DiskGrowDryRun {
  const { io } = deps;
  const requests = p.start === 'request' ? cloud.resizeRequests(p.disk.id, p.sizeGiB) : [];
  const result: DiskGrowDryRun = { dryRun: true, name: p.name, cloud: p.cloud, region: p.region, diskId: p.disk.id, fromGiB: p.fromGiB, toGiB: p.sizeGiB, start: p.start, stopFirst: p.stopFirst, monthlyUsd: p.monthlyUsd, requests };
  if (io.json) {
    io.result(result);
    return result;
  }
  if (p.start === 'request') {
    showGrow(deps, provider, p);
    io.info(`\nThe request it would send${p.stopFirst ? ` (between stopping ${p.instance.id} and starting it again)` : ''}:`);
    for (const r of requests) io.info(`  ${r.service} ${r.operation} ${JSON.stringify(r.input)}`);
    io.info(`Then it waits until the cloud reports ${p.sizeGiB} GiB and grows the filesystem on /mnt/data (over SSH when SSH is open to you, else through the cloud's run-command channel where it has one, else at the next boot).`);
  } else if (p.start === 'under-way') io.info(`The data ${provider.terms.disk} ${p.disk.id} is already changing to ${p.sizeGiB} GiB: a real run sends nothing and waits for it, then grows the filesystem.`);
  else io.info(`The data ${provider.terms.disk} ${p.disk.id} is ${p.sizeGiB} GiB already: a real run sends nothing to the cloud and only grows the filesystem.`);
  io.success('Dry run: nothing was changed.');
  return result;
}

/**
 * Runs provision/grow-data-disk.sh on the instance, streamed (base64) so images that predate it grow
 * too: over SSH when SSH is open, else through the cloud's run-command channel (openChannel). When
 * neither is possible the boot service grows the filesystem at the next boot: says so, with how to
 * trigger it.
 */
async function growFilesystem(deps: Deps, reach: InstanceAccess, rerun: string, flags: { via?: string; providerFlags?: Record<string, string> }): Promise<DiskGrowResult['filesystem']> {
  const nextBoot = 'The filesystem grows at the next boot of the instance (the boot service grows it at every boot).';
  const script = readFileSync(join(locateProvisionBundle(deps.provisionDir).provisionDir, 'grow-data-disk.sh'));
  let channel: InstanceChannel;
  try {
    channel = await openChannel(deps, reach, flags);
  } catch (caught) {
    const e = caught as Error & { code?: string; remediation?: string };
    // A forced channel that does not exist is bad input; a changed host key must stop everything.
    if (e.code === 'host-key-mismatch' || e.code === 'invalid-via' || e.code === 'run-command-not-offered') throw e;
    if ('problem' in reach.ssh && reach.ssh.problem === caught) {
      return {
        pending: `${nextBoot} It was not grown now: ${e.message}.`,
        remediation: `Reboot the instance to grow it now, or re-run \`${rerun}\` once SSH works (it goes straight to the filesystem).${e.remediation ? ` ${e.remediation}` : ''}`,
      };
    }
    deps.io.warn(`Could not reach the instance to grow the filesystem: ${e.message}`);
    return { pending: `${nextBoot} ${e.code?.startsWith('run-command') ? '' : 'SSH did not connect: '}${e.message}`, remediation: `Reboot the instance, or re-run \`${rerun}\` once it answers${e.remediation ? ` (${e.remediation})` : ''}.` };
  }
  const progress = deps.io.progress(`Growing the filesystem on /mnt/data over ${channel.description}`);
  try {
    const r = await channel.exec(`printf %s '${script.toString('base64')}' | base64 -d | sudo bash -s`, { timeoutMs: FS_TIMEOUT_MS });
    const usage = parseDataDiskUsage(r.stdout);
    if (r.code === 0 && usage) {
      progress.succeed(usage.grown ? 'grown' : 'already fills the disk');
      return { grown: Boolean(usage.grown), usage };
    }
    const why = (r.stderr.trim().split('\n').at(-1) ?? '') || `exit ${String(r.code)}`;
    progress.fail(why);
    return { pending: `${nextBoot} Growing it over ${channel.description} failed: ${why}`, remediation: `See \`${deps.program} logs ${reach.target.name} --region ${reach.target.region}\`; re-run \`${rerun}\` to try again.` };
  } catch (caught) {
    // The disk has grown either way: a channel that broke leaves the filesystem to the next boot.
    const e = caught as Error & { code?: string; remediation?: string };
    progress.fail(e.message);
    if (e.code === 'host-key-mismatch') throw e;
    return { pending: `${nextBoot} Growing it over ${channel.description} failed: ${e.message}`, remediation: `Reboot the instance, or re-run \`${rerun}\` once it answers${e.remediation ? ` (${e.remediation})` : ''}.` };
  } finally {
    await channel.close().catch(() => undefined);
  }
}
