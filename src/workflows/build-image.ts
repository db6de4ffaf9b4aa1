// The build-image workflow: our own machine image of a Sourcegraph version. A temporary builder
// from the cloud's plain base image (its own SSH key and access rules: port 22 from the build
// machine only), the provision/ bundle uploaded over SSH and run, the builder stopped, an image of
// its disks labelled so launch and upgrade find it exactly like a published one. Whatever happens
// (failure at any step, Ctrl-C), this run's builder, key, access policy and half-made image go;
// another run's (another machine's) never do. A run killed outright resumes from its journal.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Cloud, Instance, Placement } from '../cloud/port.js';
import type { ProviderTerms } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import type { ProvisionBundle } from '../commands/provision-bundle.js';
import { CloudError, InterruptedError } from '../core/errors.js';
import type { Labels } from '../core/labels.js';
import { getJournalValue, putJournalValue, runWorkflow, type Step } from '../engine/runner.js';
import type { Journal } from '../state/store.js';
import { connectToBuilder, provisionOverSsh } from './build-image-ssh.js';
import { addressFlagText, BUILD_COMMAND, buildNameFor, buildSpecs, machineTypeOf, sourceCommitFor, type BuildImageOptions, type BuildImageResult, type BuildSpecs } from './build-image-specs.js';
import { ensureGeneratedKey } from './launch.js';
import { openBuildJournal, runOptions, type BuildJournal } from './shared.js';

export type { BuildImageOptions, BuildImageResult } from './build-image-specs.js';

const SSH_WAIT_MS = 10 * 60_000;
const TERMINATE_WAIT_MS = 15 * 60_000;

interface BuildContext {
  placement?: Placement;
  accessPolicyId?: string;
  builderId?: string;
  /** Where SSH reaches the builder. */
  host?: string;
  /** The user's address as attached to the builder (its IP tells the cleanup which builder holds it). */
  addressIp?: string;
  /** The builder gave the user's address back before it stopped. */
  addressDetached?: boolean;
  image?: { id: string; name: string };
  imageReady: boolean;
}

interface SavedPlan {
  baseImageId: string;
  baseImageName: string;
}

/** What a run whose cleanup did not finish left for the next run to remove first. */
interface PendingCleanup {
  keepImages: boolean;
}

/** Builds (or finds) the image for opts.version and opts.size. Credentials must be checked already. */
export async function buildImage(deps: Deps, cloud: Cloud, opts: BuildImageOptions): Promise<BuildImageResult> {
  const { io, state } = deps;
  const { provider } = opts;
  const buildName = buildNameFor(opts.version, opts.size);
  const { bundle, sourceCommit } = sourceCommitFor(deps);
  const target = { cloud: provider.id, region: opts.region };

  // One run of a build per machine at a time; other machines' runs are told apart by their labels.
  const release = state.lock(provider.id, opts.region, `build-${buildName}`);
  try {
    const keyPath = join(state.keysDir, `build-${provider.id}-${opts.region}-${buildName}`);
    const forget = (o: BuildJournal) => {
      o.forget();
      removeKey(keyPath);
    };
    let open = openBuildJournal(deps, target, buildName, BUILD_COMMAND);
    const pending = open.resumed ? getJournalValue<PendingCleanup>(open.journal, 'cleanup') : undefined;
    if (pending) {
      // The last run failed and could not remove everything: finish that, then build afresh.
      io.info(`Finishing the cleanup of the build run ${open.journal.id} (started ${open.journal.startedAt}) first.`);
      const removed = await cleanUpBuild(deps, cloud, provider.terms, buildName, open.journal.id, { keepImages: pending.keepImages, address: addressOf(opts, open.journal) });
      if (removed.length) io.info(`Removed what that build had created: ${removed.join(', ')}.`);
      forget(open);
      open = openBuildJournal(deps, target, buildName, BUILD_COMMAND);
    }
    const { journal } = open;

    const before = await cloud.findImageBuild(buildName);
    const done = before.images.find((i) => i.state === 'available');
    if (done) {
      // Finished (by this run before it was killed, or by any other): use it, and tidy up only what
      // this run had made. Other runs' builders are theirs to finish.
      if (open.resumed) await cleanUpBuild(deps, cloud, provider.terms, buildName, journal.id, { keepImages: true, address: addressOf(opts, journal) });
      forget(open);
      io.info(`Image ${done.id} (${done.name}) of Sourcegraph ${opts.version} (${opts.size}) exists already; nothing to build.`);
      return { imageId: done.id, imageName: done.name, region: opts.region, version: opts.version, size: opts.size, sourceCommit, alreadyBuilt: true, removed: [] };
    }
    const others = before.builders.filter((b) => b.labels['build-run'] !== journal.id);
    if (others.length) io.warn(`Another run of this build (${others.map((b) => `${b.id}, run ${b.labels['build-run'] ?? 'unknown'}`).join('; ')}) exists, perhaps from another machine: it is left alone.`);
    if (open.resumed && Object.keys(journal.steps).length) io.info(`Resuming the build started ${journal.startedAt}; checking what exists first.`);
    open.save(journal);

    // The base image is chosen once per run: a resumed run keeps the builder's, even if a newer one appeared.
    let plan = getJournalValue<SavedPlan>(journal, 'plan');
    if (!plan) {
      const base = await cloud.findBaseImage();
      if (!base) {
        throw new CloudError('base-image-not-found', `No ${provider.terms.baseImage} x86_64 image is visible in ${opts.region}`, {
          remediation: 'Check that the region is enabled for the account, then run the build again.',
        });
      }
      plan = { baseImageId: base.id, baseImageName: base.name };
      putJournalValue(journal, 'plan', plan);
      open.save(journal);
    }
    const publicKey = await ensureGeneratedKey(keyPath, `sourcegraph-launch build ${buildName}`);
    const run = { runId: journal.id, startedAt: journal.startedAt, baseImageId: plan.baseImageId, publicKey, sourceCommit };
    const specsOf = (c: BuildContext) => buildSpecs(opts, { ...run, placement: c.placement ?? { zone: '' }, ...(c.accessPolicyId ? { accessPolicyId: c.accessPolicyId } : {}) });

    io.info(`Building Sourcegraph ${opts.version} (${opts.size}) in ${opts.region} on ${machineTypeOf(opts)} from ${plan.baseImageName} (${plan.baseImageId}); scripts ${sourceCommit}; run ${journal.id}.`);
    const ctx: BuildContext = { imageReady: false };
    const steps = buildSteps(deps, cloud, opts, specsOf, { bundle, keyPath, baseImageId: plan.baseImageId });
    // From here on a cleanup is due, whatever happens; the journal says so until it is done, so a
    // run killed during the cleanup leaves the next run to finish it.
    const cleanUp = async (keepImages: boolean) => {
      putJournalValue(journal, 'cleanup', { keepImages } satisfies PendingCleanup);
      delete journal.finishedAt;
      open.save(journal);
      const removed = await cleanUpBuild(deps, cloud, provider.terms, buildName, journal.id, { keepImages, address: addressOf(opts, journal, ctx) });
      forget(open);
      return removed;
    };
    try {
      await runWorkflow(steps, ctx, runOptions(deps, open));
    } catch (e) {
      const removed = await cleanUp(ctx.imageReady).catch((cleanupError: unknown) => {
        io.warn(`Cleaning up after the failed build failed too: ${messageOf(cleanupError)}. Run the same command again to finish the cleanup.`);
        return undefined;
      });
      if (removed) io.info(removed.length ? `Removed what the build had created: ${removed.join(', ')}.` : 'The build had created nothing that needed removing.');
      throw explainFailure(e, deps.signal);
    }
    const removed = await cleanUp(true).catch((e: unknown) => {
      throw new CloudError('build-cleanup-failed', `Image ${ctx.image!.id} is built, but removing the builder's temporary resources failed: ${messageOf(e)}`, {
        cause: e,
        remediation: 'Run the same command again: it finishes the cleanup and uses the image.',
      });
    });
    const image = ctx.image!;
    return { imageId: image.id, imageName: image.name || specsOf(ctx).image.name, region: opts.region, version: opts.version, size: opts.size, sourceCommit, alreadyBuilt: false, removed };
  } finally {
    release();
  }
}

function buildSteps(
  deps: Deps,
  cloud: Cloud,
  opts: BuildImageOptions,
  specsOf: (c: BuildContext) => BuildSpecs,
  run: { bundle: ProvisionBundle; keyPath: string; baseImageId: string },
): Step<BuildContext>[] {
  const { io } = deps;
  const { terms } = opts.provider;
  const buildName = buildNameFor(opts.version, opts.size);
  const deadline = deps.clock.now() + opts.timeoutMinutes * 60_000;
  const remaining = () => Math.max(1_000, deadline - deps.clock.now());
  // The builder as it is now: a restored step knows only its id, and a resumed run must not act on a builder that is gone.
  const builderOf = async (c: BuildContext): Promise<Instance> => {
    const builder = c.builderId ? await cloud.describeInstance(c.builderId) : undefined;
    if (!builder || builder.state === 'terminated' || builder.state === 'terminating') {
      throw new CloudError('builder-gone', `The builder ${c.builderId ?? '(unknown)'} is ${builder?.state ?? 'gone'}; it cannot be imaged`, {
        remediation: 'Run the same command again to build from the start.',
      });
    }
    return builder;
  };
  const placementOf = async (c: BuildContext) => (c.placement ??= await cloud.resolvePlacement(opts.subnet));
  return [
    {
      id: 'key-pair',
      title: `Temporary SSH ${terms.sshKey}`,
      run: async (c) => {
        const s = specsOf(c);
        const key = await cloud.ensureSshKey(s.sshKey, buildName, { ...s.builder.labels, role: 'key-pair' });
        return key ? { summary: key.name, result: { keyName: key.name } } : { summary: 'in the builder\'s metadata' };
      },
    },
    {
      id: 'security-group',
      title: `Temporary ${terms.accessPolicy}`,
      run: async (c) => {
        await placementOf(c);
        const policy = await cloud.ensureAccessPolicy(specsOf(c).access);
        c.accessPolicyId = policy.id;
        return { summary: `${policy.id} (22 from ${opts.sshCidrs.join(', ')} only)`, result: { accessPolicyId: policy.id, placement: JSON.stringify(c.placement) } };
      },
      restore: (c, r) => {
        // Journals of earlier versions named the policy by its AWS name.
        c.accessPolicyId = r.accessPolicyId ?? r.securityGroupId;
        if (r.placement) c.placement = JSON.parse(r.placement) as Placement;
      },
    },
    {
      id: 'builder',
      title: `Builder instance (${machineTypeOf(opts)}, ${run.baseImageId})`,
      run: async (c) => {
        await placementOf(c);
        const builder = await cloud.ensureInstance(specsOf(c).builder);
        c.builderId = builder.id;
        if (builder.labels.provisioned !== 'true') await cloud.waitForInstanceState(builder.id, 'running', remaining());
        return { summary: builder.id, result: { instanceId: builder.id } };
      },
      restore: (c, r) => {
        c.builderId = r.instanceId;
      },
    },
    {
      id: 'address',
      title: 'Builder address',
      run: async (c) => {
        const builder = await builderOf(c);
        const provisioned = builder.labels.provisioned === 'true';
        if (opts.address && !provisioned) {
          const address = await cloud.attachStaticAddress(opts.address, builder.id);
          c.host = c.addressIp = address.ip;
          return { summary: `${address.ip} (${address.id}, yours: kept)`, result: { host: address.ip, addressId: address.id, addressIp: address.ip } };
        }
        c.host = builder.publicIp;
        const result: Record<string, string> = c.host ? { host: c.host } : {};
        return { summary: provisioned ? 'not needed: already provisioned' : (c.host ?? 'none'), result };
      },
      restore: (c, r) => {
        c.host = r.host;
        c.addressIp = r.addressIp;
      },
    },
    {
      id: 'provision',
      title: `Provisioning over SSH (provision/build.sh --version ${opts.version} --size ${opts.size})`,
      run: async (c) => {
        const builder = await builderOf(c);
        // Provisioned by a run killed before its journal said so: the label is the truth.
        if (builder.labels.provisioned === 'true') return { summary: 'already provisioned by an earlier run' };
        const host = c.host ?? builder.publicIp;
        if (!host) {
          const flag = addressFlagText(opts.provider);
          throw new CloudError('builder-no-address', `The builder ${builder.id} has no public address to reach over SSH`, {
            remediation: `Use a public subnet (--subnet)${flag ? ` or give the builder an address with ${flag}` : ''}.`,
          });
        }
        const remote = await connectToBuilder(deps, cloud, { instanceId: builder.id, host, user: opts.sshUser, privateKeyPath: run.keyPath }, Math.min(SSH_WAIT_MS, remaining()));
        try {
          await provisionOverSsh(deps, remote, { version: opts.version, size: opts.size, cloud: opts.provider.id }, run.bundle, remaining());
        } finally {
          await remote.close();
        }
        await cloud.setLabels([builder.id], { provisioned: 'true' });
        return { summary: 'build.sh finished; build SSH keys and host keys removed' };
      },
    },
    {
      id: 'stop',
      title: 'Stopping the builder',
      run: async (c) => {
        const builder = await builderOf(c);
        // The address served only SSH: it goes back now, while the running builder still shows it
        // (a stopped one may not), so it is detached only if it really is on this builder.
        if (opts.address && c.addressIp && builder.publicIp === c.addressIp) {
          await cloud.detachStaticAddress(opts.address);
          c.addressDetached = true;
        }
        if (builder.state === 'running' || builder.state === 'pending') await cloud.stopInstance(builder.id);
        await cloud.waitForInstanceState(builder.id, 'stopped', remaining());
        const result: Record<string, string> = c.addressDetached ? { addressDetached: 'true' } : {};
        return { summary: c.addressDetached ? `stopped; your address ${opts.address} detached (kept)` : 'stopped', result };
      },
      restore: (c, r) => {
        c.addressDetached = r.addressDetached === 'true';
      },
    },
    {
      id: 'image',
      title: 'Creating the image (root + data disk)',
      run: async (c) => {
        const image = await cloud.createImageFromBuilder(c.builderId!, specsOf(c).image);
        c.image = { id: image.id, name: image.name };
        return { summary: image.id, result: { imageId: image.id, imageName: image.name } };
      },
      restore: (c, r) => {
        c.image = { id: r.imageId!, name: r.imageName ?? '' };
      },
    },
    {
      id: 'image-available',
      title: 'Waiting for the image to be available',
      run: async (c) => {
        const image = await cloud.waitForImage(c.image!.id, specsOf(c).image, remaining(), deps.signal);
        c.image = { id: image.id, name: image.name };
        c.imageReady = true;
        io.info(`Image ${image.id} is available, tagged for Sourcegraph ${opts.version}.`);
        return { summary: image.id, result: { imageId: image.id, imageName: image.name } };
      },
      restore: (c, r) => {
        c.image = { id: r.imageId!, name: r.imageName ?? '' };
        c.imageReady = true;
      },
    },
  ];
}

/** The user's address and, once attached to the builder, its IP (from this run or its journal). */
function addressOf(opts: BuildImageOptions, journal: Journal, ctx?: BuildContext): BuildAddress | undefined {
  if (!opts.address) return undefined;
  const ip = ctx?.addressIp ?? journal.steps.address?.result?.addressIp;
  const detached = ctx?.addressDetached ?? journal.steps.stop?.result?.addressDetached === 'true';
  return { id: opts.address, ...(ip ? { ip } : {}), ...(detached ? { detached } : {}) };
}

/** The user's address in a build run: its IP once attached to the builder, and whether the builder gave it back. */
interface BuildAddress {
  id: string;
  ip?: string;
  detached?: boolean;
}

/**
 * Removes what one run of a build made (found by its build-run label), nothing else: never another
 * run's builder, and never an image that is available (a finished build, whoever made it), unless
 * it is this run's own and `keepImages` is false. The user's address is only detached, and only
 * from this run's builder (a builder that got as far as stopping gave it back already).
 */
export async function cleanUpBuild(
  deps: Pick<Deps, 'io'>,
  cloud: Cloud,
  terms: Pick<ProviderTerms, 'accessPolicy' | 'sshKey' | 'disk'>,
  buildName: string,
  runId: string,
  opts: { keepImages: boolean; address?: BuildAddress },
): Promise<string[]> {
  const found = await cloud.findImageBuild(buildName);
  const ours = (x: { labels: Labels }) => x.labels['build-run'] === runId;
  const builders = found.builders.filter(ours);
  const removed: string[] = [];
  const progress = deps.io.progress('Removing the temporary build resources');
  try {
    const address = opts.address;
    const onBuilder = address?.ip !== undefined && builders.some((b) => b.publicIp === address.ip);
    if (address && onBuilder) await cloud.detachStaticAddress(address.id);
    if (address && (onBuilder || address.detached)) removed.push(`association of your address ${address.id} (the address is kept)`);
    for (const builder of builders) {
      await cloud.terminateInstance(builder.id);
      removed.push(`builder ${builder.id} with its ${terms.disk}s`);
    }
    for (const builder of builders) await cloud.waitForInstanceState(builder.id, 'terminated', TERMINATE_WAIT_MS);
    for (const policy of found.accessPolicies.filter(ours)) {
      await cloud.deleteAccessPolicy(policy.id);
      removed.push(`${terms.accessPolicy} ${policy.id}`);
    }
    for (const key of found.sshKeys.filter((k) => k.managed && ours(k))) {
      await cloud.deleteSshKey(key.name);
      removed.push(`${terms.sshKey} ${key.name}`);
    }
    if (!opts.keepImages) {
      for (const image of found.images.filter(ours)) {
        const alongside = await cloud.deleteImage(image.id);
        removed.push(`image ${image.id}${alongside.length ? ` and snapshots ${alongside.join(', ')}` : ''}`);
      }
    }
  } catch (e) {
    progress.fail(messageOf(e));
    throw e;
  }
  progress.succeed(removed.length ? `${removed.length} removed` : 'nothing to remove');
  return removed;
}

function explainFailure(e: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) {
    return new InterruptedError('Interrupted: the build was stopped and its temporary resources removed', { remediation: 'Run the same command again to build from the start.' });
  }
  return e;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

function removeKey(privateKeyPath: string): void {
  for (const path of [privateKeyPath, `${privateKeyPath}.pub`]) rmSync(path, { force: true });
}
