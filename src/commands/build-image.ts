// `build-image`: makes our own machine image for a Sourcegraph version (issue 4). Validate → check
// credentials → plan (base image, names, requests) → --dry-run stops here → apply step by step:
// a tagged builder from the latest Amazon Linux 2023, the provision/ bundle uploaded over SSH and
// run with its log streamed, build keys removed, the builder stopped, an image of root + data disk,
// tagged so `launch` and `upgrade` find it exactly like a published one. Whatever happens (failure
// at any step, Ctrl-C), the builder, its key pair and security group and a half-made image go.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  TAG_BUILD_RUN,
  TAG_PROVISIONED,
  type Cloud,
  type CloudRequest,
  type ImageBuildSpec,
  type ImageInfo,
  type InstanceInfo,
  type LaunchRefs,
} from '../cloud/cloud.js';
import { CloudError, InterruptedError, LaunchError, MissingInputError, UsageError } from '../core/errors.js';
import { AWS_ROOT_VOLUME, getPreset, type SizeName } from '../core/presets.js';
import {
  validateCidrList,
  validateCloud,
  validateElasticIp,
  validateInstanceType,
  validateKmsKey,
  validateRegion,
  validateSize,
  validateSshCidrs,
  validateSshUser,
  validateSubnetId,
  validateTimeoutMinutes,
  validateVersion,
} from '../core/validate.js';
import { consoleHostKeys, describeTrust, HOST_KEY_WAIT_MS } from '../engine/host-key-wait.js';
import { newJournal, runSteps, type Step } from '../engine/steps.js';
import { parseConsoleHostKeyFingerprints } from '../remote/host-keys.js';
import type { Remote } from '../remote/remote.js';
import type { Journal } from '../state/store.js';
import type { Deps, GlobalFlags } from './deps.js';
import { formatRequests } from './requests-text.js';
import { bundleFiles, locateProvisionBundle, sourceCommitOf, type ProvisionBundle } from './provision-bundle.js';

// Replaced at build time (scripts/build.mjs) and in tests (vitest.config.ts) with package.json's version.
declare const __SGL_VERSION__: string;

export interface BuildImageFlags extends GlobalFlags {
  cloud?: string;
  region?: string;
  version?: string;
  size?: string;
  sshCidr?: string[];
  iKnowSshIsPublic?: boolean;
  instanceType?: string;
  subnet?: string;
  kmsKey?: string;
  elasticIp?: string;
  sshUser?: string;
  timeout?: string;
  dryRun?: boolean;
}

/** A validated build request: what `launch --image-source build` passes too. */
export interface BuildImageOptions {
  region: string;
  version: string;
  size: SizeName;
  sshCidrs: string[];
  instanceType?: string;
  subnet?: string;
  kmsKey?: string;
  /** An address the user brought (eipalloc-…) given to the builder; associated, never released. */
  elasticIpAllocationId?: string;
  sshUser: string;
  timeoutMinutes: number;
}

export interface BuildImageResult {
  imageId: string;
  imageName: string;
  region: string;
  version: string;
  size: string;
  sourceCommit: string;
  /** True when an image of this build existed already and nothing was built. */
  alreadyBuilt: boolean;
  /** Temporary resources removed at the end. */
  removed: string[];
}

const DEFAULT_TIMEOUT_MINUTES = 120;
const BUILDER_DATA_GIB = 500;
const SSH_WAIT_MS = 10 * 60_000;
/** build.sh's log lines shown with a failure. */
const LOG_TAIL_LINES = 20;

export function validateBuildImageFlags(flags: BuildImageFlags, deps: Pick<Deps, 'env' | 'io'>): BuildImageOptions {
  if (flags.cloud !== undefined) validateCloud(flags.cloud);
  const envRegion = deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION;
  const region = flags.region !== undefined ? validateRegion(flags.region) : envRegion ? validateRegion(envRegion, undefined, ' (from AWS_REGION)') : undefined;
  if (!region) throw new MissingInputError('--region');
  if (flags.version === undefined) {
    throw new MissingInputError('--version', 'for build-image', { remediation: 'Name the Sourcegraph version to build, e.g. --version 6.12.5040.' });
  }
  const version = validateVersion(flags.version);
  if (version === 'latest') {
    throw new UsageError('--version: build-image needs an exact version x.y.z (e.g. 6.12.5040), not latest', { code: 'bad-input' });
  }
  const size = flags.size !== undefined ? validateSize(flags.size) : 'XS';
  if (!flags.sshCidr?.length) {
    throw new MissingInputError('--ssh-cidr', 'for build-image', {
      remediation: 'The builder needs SSH from the machine running the build: pass its address, e.g. --ssh-cidr 203.0.113.7/32. There is no default: port 22 is never opened to the world by accident.',
    });
  }
  const sshCidrs = validateSshCidrs(flags.sshCidr, { iKnowSshIsPublic: Boolean(flags.iKnowSshIsPublic) });
  if (!sshCidrs.length) throw new UsageError('--ssh-cidr: the builder is provisioned over SSH, so "none" is not possible; name the address of this machine');
  validateCidrList(sshCidrs, '--ssh-cidr');
  let elasticIpAllocationId: string | undefined;
  if (flags.elasticIp !== undefined) {
    const choice = validateElasticIp(flags.elasticIp);
    if (choice.mode !== 'existing') throw new UsageError('--elastic-ip: build-image takes only an address you allocated (eipalloc-…)');
    elasticIpAllocationId = choice.allocationId;
  }
  const options: BuildImageOptions = {
    region,
    version,
    size,
    sshCidrs,
    sshUser: flags.sshUser !== undefined ? validateSshUser(flags.sshUser) : 'ec2-user',
    timeoutMinutes: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : DEFAULT_TIMEOUT_MINUTES,
  };
  if (flags.instanceType !== undefined) options.instanceType = validateInstanceType(flags.instanceType);
  if (flags.subnet !== undefined) options.subnet = validateSubnetId(flags.subnet);
  if (flags.kmsKey !== undefined) options.kmsKey = validateKmsKey(flags.kmsKey);
  if (elasticIpAllocationId) options.elasticIpAllocationId = elasticIpAllocationId;
  return options;
}

/** Names every temporary resource of one build; one build per version and size at a time. */
export function buildNameFor(version: string, size: string): string {
  return `${version}-${size.toLowerCase()}`;
}

function imageNameFor(version: string, size: string, startedAt: string): string {
  return `sourcegraph-launch-${version}-${size}-${startedAt.replace(/[-:]|\.\d+/g, '')}`;
}

function buildSpecFor(
  opts: BuildImageOptions,
  ctx: { baseImageId: string; journal: Journal; publicKey: string; sourceCommit: string },
): ImageBuildSpec {
  const buildName = buildNameFor(opts.version, opts.size);
  const spec: ImageBuildSpec = {
    buildName,
    runId: ctx.journal.id,
    region: opts.region,
    version: opts.version,
    size: opts.size,
    baseImageId: ctx.baseImageId,
    instanceType: opts.instanceType ?? getPreset(opts.size).aws.instanceType,
    sshCidrs: opts.sshCidrs,
    keyName: `sourcegraph-launch-build-${buildName}-${ctx.journal.id}`,
    publicKey: ctx.publicKey,
    rootVolume: { device: AWS_ROOT_VOLUME.device, sizeGiB: AWS_ROOT_VOLUME.sizeGiB, type: 'gp3' },
    dataVolume: { device: '/dev/sdb', sizeGiB: BUILDER_DATA_GIB, type: 'gp3' },
    imageName: imageNameFor(opts.version, opts.size, ctx.journal.startedAt),
    sourceCommit: ctx.sourceCommit,
    clientToken: `sgl-build-${buildName}-${ctx.journal.id}`.slice(0, 64),
  };
  if (opts.subnet) spec.subnetId = opts.subnet;
  if (opts.kmsKey) spec.kmsKeyId = opts.kmsKey;
  return spec;
}

function planJson(opts: BuildImageOptions, spec: ImageBuildSpec, base: ImageInfo | undefined): Record<string, unknown> {
  return {
    cloud: 'aws',
    region: opts.region,
    version: opts.version,
    size: opts.size,
    buildName: spec.buildName,
    baseImage: base ? { id: base.id, name: base.name } : { id: spec.baseImageId },
    instanceType: spec.instanceType,
    sshCidrs: opts.sshCidrs,
    imageName: spec.imageName,
    sourceCommit: spec.sourceCommit,
    ...(opts.elasticIpAllocationId ? { elasticIp: opts.elasticIpAllocationId } : {}),
  };
}

export async function runBuildImage(deps: Deps, flags: BuildImageFlags): Promise<BuildImageResult | { plan: unknown; requests: CloudRequest[] }> {
  const opts = validateBuildImageFlags(flags, deps);
  const cloud = await deps.cloud('aws', opts.region, { profile: flags.profile });
  await cloud.whoAmI();

  if (flags.dryRun) {
    const bundle = locateProvisionBundle(deps.env.SOURCEGRAPH_LAUNCH_PROVISION_DIR);
    const base = await cloud.findBuildBaseImage();
    const journal = newJournal('build-image', '<journal id>');
    const spec = buildSpecFor(opts, {
      baseImageId: base?.id ?? '<newest al2023-ami-2023.*-kernel-*-x86_64 from DescribeImages>',
      journal,
      publicKey: '<new ed25519 public key>',
      sourceCommit: sourceCommitOf(bundle, __SGL_VERSION__),
    });
    const requests = cloud.imageBuildRequests(spec, { elasticIpAllocationId: opts.elasticIpAllocationId });
    const out = { plan: planJson(opts, spec, base), requests };
    if (deps.io.json) deps.io.result(out);
    else {
      deps.io.info(`Would build Sourcegraph ${opts.version} (${opts.size}) in ${opts.region} from ${base ? `${base.name} (${base.id})` : 'the newest Amazon Linux 2023 image'}.`);
      deps.io.info('Dry run: these mutating requests would be sent, in order:');
      deps.io.info(formatRequests(requests));
      deps.io.info('Nothing was changed.');
    }
    return out;
  }

  const result = await buildImage(deps, cloud, opts);
  if (deps.io.json) deps.io.result(result);
  else {
    deps.io.success(`${result.alreadyBuilt ? 'Already built' : 'Built'}: image ${result.imageId} (${result.imageName}) runs Sourcegraph ${result.version}.`);
    deps.io.info(`Launch it with \`${deps.program} launch --region ${result.region} --version ${result.version} --image ${result.imageId} …\`,`);
    deps.io.info(`or simply \`${deps.program} launch --region ${result.region} --version ${result.version}\` / \`upgrade --to ${result.version}\`: built images are found by their tags.`);
  }
  return result;
}

interface BuildContext {
  refs: Partial<LaunchRefs>;
  builder?: InstanceInfo;
  host?: string;
  provisioned: boolean;
  image?: ImageInfo;
  imageReady: boolean;
}

/** Builds (or finds) the image for opts.version and opts.size. Credentials must be checked already. */
export async function buildImage(deps: Deps, cloud: Cloud, opts: BuildImageOptions): Promise<BuildImageResult> {
  const { io, state } = deps;
  const buildName = buildNameFor(opts.version, opts.size);
  const bundle = locateProvisionBundle(deps.env.SOURCEGRAPH_LAUNCH_PROVISION_DIR);
  const sourceCommit = sourceCommitOf(bundle, __SGL_VERSION__);

  const release = state.lock('aws', opts.region, `build-${buildName}`);
  try {
    const journalPath = join(state.home, 'builds', `aws-${opts.region}-${buildName}.json`);
    const keyPath = join(state.keysDir, `build-aws-${opts.region}-${buildName}`);
    const resumed = loadJournal(journalPath);
    const journal = resumed ?? newJournal('build-image', randomBytes(6).toString('hex'));
    const save = (j: Journal) => {
      mkdirSync(dirname(journalPath), { recursive: true, mode: 0o700 });
      writeFileSync(journalPath, JSON.stringify(j, null, 2), { mode: 0o600 });
    };
    const forget = () => {
      rmSync(journalPath, { force: true });
      removeKey(keyPath);
    };

    const before = await cloud.findImageBuild(buildName);
    const done = before.images.find((i) => i.state === 'available');
    if (done) {
      // Finished (by this run before it was killed, or by any other): use it, and tidy up only what
      // this run had made. Other runs' builders are theirs to finish.
      if (resumed) await cleanUpBuild(deps, cloud, buildName, journal.id, { keepImages: true, elasticIpAllocationId: opts.elasticIpAllocationId });
      forget();
      io.info(`Image ${done.id} (${done.name}) of Sourcegraph ${opts.version} (${opts.size}) exists already; nothing to build.`);
      return { imageId: done.id, imageName: done.name, region: opts.region, version: opts.version, size: opts.size, sourceCommit, alreadyBuilt: true, removed: [] };
    }
    const others = before.builders.filter((b) => b.tags[TAG_BUILD_RUN] !== journal.id);
    if (others.length) io.warn(`Another run of this build (${others.map((b) => `${b.id}, run ${b.tags[TAG_BUILD_RUN] ?? 'unknown'}`).join('; ')}) exists, perhaps from another machine: it is left alone.`);
    if (Object.keys(journal.steps).length) io.info(`Resuming the build started ${journal.startedAt}; checking what exists first.`);
    save(journal);

    const base = await cloud.findBuildBaseImage();
    if (!base) {
      throw new CloudError('base-image-not-found', `No Amazon Linux 2023 x86_64 image is visible in ${opts.region}`, {
        remediation: 'Check that the region is enabled for the account, then run the build again.',
      });
    }
    const publicKey = await ensureBuildKey(keyPath, `sourcegraph-launch build ${buildName}`);
    const spec = buildSpecFor(opts, { baseImageId: base.id, journal, publicKey, sourceCommit });

    io.info(`Building Sourcegraph ${opts.version} (${opts.size}) in ${opts.region} on ${spec.instanceType} from ${base.name} (${base.id}); scripts ${sourceCommit}; run ${journal.id}.`);
    const ctx: BuildContext = { refs: {}, provisioned: false, imageReady: false };
    const steps = buildSteps(deps, cloud, opts, spec, bundle, keyPath);
    try {
      await runSteps(steps, ctx, { journal, save, io, signal: deps.signal, fault: deps.env.SOURCEGRAPH_LAUNCH_FAULT });
    } catch (e) {
      const removed = await cleanUpBuild(deps, cloud, buildName, journal.id, { keepImages: ctx.imageReady, elasticIpAllocationId: opts.elasticIpAllocationId }).catch((cleanupError: unknown) => {
        io.warn(`Cleaning up after the failed build failed too: ${cleanupError instanceof Error ? cleanupError.message : String(cleanupError)}. Run the same command again to finish the cleanup.`);
        return undefined;
      });
      if (removed) {
        forget();
        io.info(removed.length ? `Removed what the build had created: ${removed.join(', ')}.` : 'The build had created nothing that needed removing.');
      }
      throw explainFailure(e, deps.signal);
    }

    const removed = await cleanUpBuild(deps, cloud, buildName, journal.id, { keepImages: true, elasticIpAllocationId: opts.elasticIpAllocationId });
    forget();
    const image = ctx.image!;
    return { imageId: image.id, imageName: image.name || spec.imageName, region: opts.region, version: opts.version, size: opts.size, sourceCommit, alreadyBuilt: false, removed };
  } finally {
    release();
  }
}

function buildSteps(
  deps: Deps,
  cloud: Cloud,
  opts: BuildImageOptions,
  spec: ImageBuildSpec,
  bundle: ProvisionBundle,
  keyPath: string,
): Step<BuildContext>[] {
  const { io } = deps;
  const deadline = deps.clock.now() + opts.timeoutMinutes * 60_000;
  const remaining = () => Math.max(1_000, deadline - deps.clock.now());
  return [
    {
      id: 'key-pair',
      title: 'Temporary SSH key pair',
      run: async (c) => {
        const kp = await cloud.ensureBuilderKeyPair(spec);
        c.refs.keyName = kp.name;
        return { summary: kp.name, result: { keyName: kp.name } };
      },
    },
    {
      id: 'security-group',
      title: 'Temporary security group',
      run: async (c) => {
        const placement = await cloud.resolvePlacement(spec.subnetId);
        c.refs.subnetId = placement.subnetId;
        const sg = await cloud.ensureBuilderSecurityGroup(spec, placement);
        c.refs.securityGroupId = sg.id;
        return { summary: `${sg.id} (22 from ${spec.sshCidrs.join(', ')} only)`, result: { securityGroupId: sg.id } };
      },
    },
    {
      id: 'builder',
      title: `Builder instance (${spec.instanceType}, ${spec.baseImageId})`,
      run: async (c) => {
        const builder = await cloud.ensureBuilder(spec, c.refs as LaunchRefs);
        c.provisioned = builder.tags[TAG_PROVISIONED] === 'true';
        if (!c.provisioned) await cloud.waitForInstanceState(builder.id, 'running', remaining());
        c.builder = (await cloud.describeInstance(builder.id)) ?? builder;
        return { summary: c.builder.id, result: { instanceId: c.builder.id } };
      },
    },
    {
      id: 'address',
      title: 'Builder address',
      run: async (c) => {
        if (opts.elasticIpAllocationId && !c.provisioned) {
          const address = await cloud.associateBuilderAddress(opts.elasticIpAllocationId, c.builder!.id);
          c.host = address.publicIp;
          return { summary: `${address.publicIp} (${address.allocationId}, yours: kept)` };
        }
        c.host = c.builder!.publicIp;
        return { summary: c.provisioned ? 'not needed: already provisioned' : (c.host ?? 'none') };
      },
    },
    {
      id: 'provision',
      title: `Provisioning over SSH (provision/build.sh --version ${spec.version} --size ${spec.size})`,
      run: async (c) => {
        if (c.provisioned) return { summary: 'already provisioned by an earlier run' };
        if (!c.host) {
          throw new CloudError('builder-no-address', `The builder ${c.builder!.id} has no public address to reach over SSH`, {
            remediation: 'Use a public subnet (--subnet) or give the builder an address with --elastic-ip eipalloc-….',
          });
        }
        const remote = await connectToBuilder(deps, cloud, c.builder!.id, c.host, opts.sshUser, keyPath, Math.min(SSH_WAIT_MS, remaining()));
        try {
          await provisionOverSsh(deps, remote, spec, bundle, remaining());
        } finally {
          await remote.close();
        }
        await cloud.markBuilderProvisioned(c.builder!.id);
        c.provisioned = true;
        return { summary: 'build.sh finished; build SSH keys and host keys removed' };
      },
    },
    {
      id: 'stop',
      title: 'Stopping the builder',
      run: async (c) => {
        await cloud.stopBuilder(c.builder!.id, remaining());
        return { summary: 'stopped' };
      },
    },
    {
      id: 'image',
      title: 'Creating the image (root + data disk)',
      run: async (c) => {
        c.image = await cloud.ensureBuiltImage(spec, c.builder!.id);
        return { summary: c.image.id, result: { imageId: c.image.id } };
      },
    },
    {
      id: 'image-available',
      title: 'Waiting for the image to be available',
      run: async (c) => {
        c.image = await cloud.waitForBuiltImage(spec, c.image!.id, remaining(), deps.signal);
        c.imageReady = true;
        io.info(`Image ${c.image.id} is available, tagged for Sourcegraph ${spec.version}.`);
        return { summary: c.image.id };
      },
    },
  ];
}

/** Waits for sshd with the build key; the host key is checked against the console when it lists one, else pinned. */
async function connectToBuilder(deps: Deps, cloud: Cloud, instanceId: string, host: string, user: string, keyPath: string, timeoutMs: number): Promise<Remote> {
  const progress = deps.io.progress(`SSH to the builder at ${host}`);
  const deadline = deps.clock.now() + timeoutMs;
  const pollMs = Number(deps.env.SOURCEGRAPH_LAUNCH_POLL_MS ?? 5_000);
  // The key the builder presents is checked against its console's fingerprints, waited for first.
  const pinKey = `build:${instanceId}`;
  const keys = await consoleHostKeys({ cloud, clock: deps.clock, signal: deps.signal }, instanceId, {
    knownHostsPath: deps.state.knownHostsPath,
    pinKey,
    pollMs,
    waitMs: Math.min(HOST_KEY_WAIT_MS, timeoutMs),
    onWaiting: () => progress.update('waiting for the console to list the SSH host key fingerprints'),
  }).catch((e: unknown) => {
    progress.fail('interrupted');
    throw deps.signal.aborted ? new InterruptedError('Interrupted while waiting for SSH to the builder') : e;
  });
  if (keys.how === 'first-use') {
    deps.io.warn(`The builder's console listed no SSH host key fingerprints within ${Math.round(keys.waitedMs / 1000)} s: trusting its key on first use.`);
  }
  for (;;) {
    if (deps.signal.aborted) {
      progress.fail('interrupted');
      throw new InterruptedError('Interrupted while waiting for SSH to the builder');
    }
    // Fingerprints seen once are kept; a console that shows them only later still counts.
    const expectedFingerprints = keys.expected.length ? keys.expected : parseConsoleHostKeyFingerprints(await cloud.consoleOutput(instanceId).catch(() => ''));
    try {
      const remote = await deps.connectRemote({
        host,
        user,
        privateKeyPath: keyPath,
        knownHostsPath: deps.state.knownHostsPath,
        pinKey,
        expectedFingerprints,
        connectTimeoutMs: 15_000,
      });
      progress.succeed(`connected (host key ${remote.hostFingerprint}, ${describeTrust({ expected: expectedFingerprints, how: expectedFingerprints.length ? 'console' : keys.how }, keys.waitedMs)})`);
      return remote;
    } catch (e) {
      const code = e instanceof LaunchError ? e.code : '';
      // Until cloud-init has installed the key, sshd refuses it: that is booting, not a wrong key.
      const retriable = code === 'ssh-unreachable' || code === 'ssh-auth-failed' || code === 'ssh-failed';
      if (!retriable || deps.clock.now() >= deadline) {
        progress.fail(e instanceof Error ? e.message : String(e));
        throw e;
      }
      progress.update(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    }
    await deps.clock.sleep(pollMs, deps.signal).catch(() => undefined);
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Uploads the bundle (provision/ and presets/helm/ side by side, as build.sh expects), runs the
 * build with its log streamed, then seals the machine: authorized_keys (the build's key), host keys
 * and cloud-init state go, so every instance of the image gets its own keys.
 */
async function provisionOverSsh(deps: Deps, remote: Remote, spec: ImageBuildSpec, bundle: ProvisionBundle, timeoutMs: number): Promise<void> {
  const { io } = deps;
  const run = async (command: string, what: string) => {
    const r = await remote.exec(command, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new CloudError('builder-command-failed', `${what} failed on the builder (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return r.stdout.trim();
  };
  const dir = await run('mktemp -d /tmp/sourcegraph-launch-build.XXXXXX', 'Creating the upload directory');
  if (!/^\/tmp\/sourcegraph-launch-build\.[A-Za-z0-9]+$/.test(dir)) throw new CloudError('builder-command-failed', `Unexpected upload directory from mktemp: ${dir}`);
  const files = bundleFiles(bundle);
  const dirs = [...new Set(files.map((f) => dirname(`${dir}/${f.bundlePath}`)))];
  await run(`mkdir -p ${dirs.map(shellQuote).join(' ')}`, 'Creating the upload directories');
  const upload = io.progress(`Uploading the build bundle (${files.length} files)`);
  for (const f of files) await remote.upload(f.localPath, `${dir}/${f.bundlePath}`, f.mode);
  upload.succeed(dir);

  const build = io.progress('build.sh');
  const tail: string[] = [];
  let partial = '';
  const onOutput = (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.map((l) => l.trimEnd()).filter(Boolean)) {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      build.update(line);
    }
  };
  // Ctrl-C: closing the connection ends the exec at once; the cleanup then removes the builder.
  const onAbort = () => void remote.close();
  deps.signal.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = await remote.exec(
      `sudo bash ${dir}/provision/build.sh --version ${shellQuote(spec.version)} --size ${shellQuote(spec.size)} --cloud aws 2>&1`,
      { timeoutMs, onStdout: onOutput, onStderr: onOutput },
    );
  } catch (e) {
    if (deps.signal.aborted) throw new InterruptedError('Interrupted during build.sh');
    throw e;
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
  }
  if (partial.trim()) onOutput('\n');
  if (result.code !== 0) {
    build.fail(`exit ${result.code ?? result.signal}`);
    throw new CloudError('image-build-failed', `build.sh failed on the builder (exit ${result.code ?? result.signal}). Last lines:\n  ${tail.join('\n  ')}`, {
      details: { exitCode: result.code, logTail: tail },
      remediation: 'Fix the cause shown in the log above and run the same command again; everything the build created was removed.',
    });
  }
  build.succeed('build complete');

  // The session stays open after its authorized_keys are gone, so the bundle can still be removed.
  const seal = await remote.exec(`sudo bash ${dir}/provision/seal-image.sh --yes 2>&1`, { timeoutMs: 120_000 });
  if (seal.code !== 0) {
    throw new CloudError('image-seal-failed', `seal-image.sh failed on the builder (exit ${seal.code ?? seal.signal}): ${seal.stdout.trim().split('\n').slice(-3).join(' | ')}`);
  }
  await run(`sudo rm -rf ${shellQuote(dir)}`, 'Removing the upload directory');
}

/**
 * Removes the build's temporary resources found by its tag: the user's address is only
 * disassociated, the builder terminated (its volumes go with it), then the security group and key
 * pair; images that never became ready are deregistered with their snapshots.
 */
/**
 * Removes what one run of a build made (found by its TAG_BUILD_RUN), nothing else: never another
 * run's builder, and never an image that is available (a finished build, whoever made it), unless
 * it is this run's own and `keepImages` is false.
 */
export async function cleanUpBuild(
  deps: Pick<Deps, 'io'>,
  cloud: Cloud,
  buildName: string,
  runId: string,
  opts: { keepImages: boolean; elasticIpAllocationId?: string },
): Promise<string[]> {
  const found = await cloud.findImageBuild(buildName);
  const ours = <T extends { tags?: Record<string, string> }>(x: T) => x.tags?.[TAG_BUILD_RUN] === runId;
  const builders = found.builders.filter(ours);
  const removed: string[] = [];
  const progress = deps.io.progress('Removing the temporary build resources');
  if (opts.elasticIpAllocationId && (await cloud.disassociateBuilderAddress(opts.elasticIpAllocationId, builders.map((b) => b.id)))) {
    removed.push(`association of your address ${opts.elasticIpAllocationId} (the address is kept)`);
  }
  for (const builder of builders) {
    await cloud.terminateInstance(builder.id);
    removed.push(`builder ${builder.id} with its volumes`);
  }
  for (const builder of builders) await cloud.waitForInstanceState(builder.id, 'terminated', 15 * 60_000);
  for (const group of found.securityGroups.filter(ours)) {
    await cloud.deleteSecurityGroup(group.id);
    removed.push(`security group ${group.id}`);
  }
  for (const keyPair of found.keyPairs.filter((k) => k.managed && ours(k))) {
    await cloud.deleteKeyPair(keyPair.name);
    removed.push(`key pair ${keyPair.name}`);
  }
  if (!opts.keepImages) {
    for (const image of found.images.filter(ours)) {
      const snapshots = await cloud.deleteBuiltImage(image.id);
      removed.push(`image ${image.id}${snapshots.length ? ` and snapshots ${snapshots.join(', ')}` : ''}`);
    }
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

function loadJournal(path: string): Journal | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const journal = JSON.parse(readFileSync(path, 'utf8')) as Journal;
    return journal.finishedAt ? undefined : journal;
  } catch {
    return undefined;
  }
}

/** The build's own key, kept in the state dir (0600) so a build killed mid-way can resume over SSH. */
async function ensureBuildKey(privateKeyPath: string, comment: string): Promise<string> {
  const publicPath = `${privateKeyPath}.pub`;
  if (existsSync(privateKeyPath) && existsSync(publicPath)) return readFileSync(publicPath, 'utf8').trim();
  const { generateEd25519KeyPair } = await import('../remote/ssh2-remote.js');
  const pair = await generateEd25519KeyPair(comment);
  mkdirSync(dirname(privateKeyPath), { recursive: true, mode: 0o700 });
  writeFileSync(privateKeyPath, pair.privateKey, { mode: 0o600 });
  writeFileSync(publicPath, `${pair.publicKey}\n`, { mode: 0o644 });
  return pair.publicKey;
}

function removeKey(privateKeyPath: string): void {
  rmSync(privateKeyPath, { force: true });
  rmSync(`${privateKeyPath}.pub`, { force: true });
}
