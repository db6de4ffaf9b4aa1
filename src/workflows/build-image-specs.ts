// What one image build asks of the cloud, in the port's words: the names of a build and its run,
// the specs of every create (SSH key, access policy, builder, image), and the dry run's requests.
// The run (build-image.ts) and `build-image --dry-run` share these, so the dry run shows exactly
// what a run sends.
import type { AccessPolicySpec, Cloud, CloudRequest, Image, ImageFromBuilderSpec, InstanceSpec, Placement, SshKeySpec } from '../cloud/port.js';
import { flagName, flagOfRole, type ProviderDescriptor } from '../cloud/provider.js';
import type { Deps } from '../commands/deps.js';
import { locateProvisionBundle, sourceCommitOf, type ProvisionBundle } from '../commands/provision-bundle.js';
import type { Labels } from '../core/labels.js';
import type { SizeName } from '../core/presets.js';

// Replaced at build time (scripts/build.mjs) and in tests (vitest.config.ts) with package.json's version.
declare const __SGL_VERSION__: string;

/** A validated build request: what `launch --image-source build` passes too. */
export interface BuildImageOptions {
  provider: ProviderDescriptor;
  region: string;
  version: string;
  size: SizeName;
  sshCidrs: string[];
  /** The builder's machine type (default: the size's). */
  machineType?: string;
  subnet?: string;
  encryptionKey?: string;
  sshUser: string;
  timeoutMinutes: number;
  /** A static address id the user brought, given to the builder: attached, never released. */
  address?: string;
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

export const BUILD_COMMAND = 'build-image';

/** Names every temporary resource of one build; one build per version and size at a time. */
export function buildNameFor(version: string, size: string): string {
  return `${version}-${size.toLowerCase()}`;
}

function imageNameFor(version: string, size: string, startedAt: string): string {
  return `sourcegraph-launch-${version}-${size}-${startedAt.replace(/[-:]|\.\d+/g, '')}`;
}

/** "--elastic-ip eipalloc-…" on AWS: how the user gives the builder an address, for messages. */
export function addressFlagText(provider: ProviderDescriptor): string | undefined {
  const flag = flagOfRole(provider, 'address');
  if (!flag) return undefined;
  const spec = flag.onCommand?.[BUILD_COMMAND]?.spec ?? flag.spec;
  const example = /<([^>]+)>/.exec(spec)?.[1];
  return example ? `${flagName(flag)} ${example}` : flagName(flag);
}

/** What every create of one build run is asked for; the run and the dry run share it. */
export interface BuildSpecs {
  sshKey: SshKeySpec;
  access: AccessPolicySpec;
  builder: InstanceSpec;
  image: ImageFromBuilderSpec;
  addressId?: string;
}

export interface BuildRun {
  runId: string;
  startedAt: string;
  baseImageId: string;
  publicKey: string;
  sourceCommit: string;
  placement: Placement;
  accessPolicyId?: string;
}

export function machineTypeOf(opts: BuildImageOptions): string {
  return opts.machineType ?? opts.provider.sizes[opts.size].machineType;
}

export function buildSpecs(opts: BuildImageOptions, run: BuildRun): BuildSpecs {
  const buildName = buildNameFor(opts.version, opts.size);
  // Every resource carries the build (a re-run finds it) and the run (a cleanup removes only its own).
  const labels = (role: string, extra: Labels = {}): Labels => ({ build: buildName, 'build-run': run.runId, role, version: opts.version, size: opts.size, managed: 'true', ...extra });
  const name = `sourcegraph-launch-build-${buildName}-${run.runId}`;
  const sshKey: SshKeySpec = { mode: 'import', name, publicKey: run.publicKey };
  const builder: InstanceSpec = {
    // Builders belong to no deployment; the build name stands in where the cloud wants a name.
    deployment: buildName,
    role: 'builder',
    version: opts.version,
    size: opts.size,
    imageId: run.baseImageId,
    machineType: machineTypeOf(opts),
    placement: run.placement,
    accessPolicyIds: run.accessPolicyId ? [run.accessPolicyId] : [],
    sshKey,
    loginUser: opts.sshUser,
    rootDisk: opts.provider.rootDisk,
    dataDisk: { mode: 'new', disk: opts.provider.builderDataDisk },
    // Both disks go with the builder: the image holds their content.
    keepDataDisk: false,
    ...(opts.encryptionKey ? { encryptionKeyId: opts.encryptionKey } : {}),
    labels: labels('builder'),
    idempotencyKey: `sgl-build-${buildName}-${run.runId}`.slice(0, 64),
  };
  return {
    sshKey,
    access: { deployment: buildName, labels: labels('security-group'), name, placement: run.placement, rules: opts.sshCidrs.map((cidr) => ({ port: 22, cidr })) },
    builder,
    image: {
      buildName,
      runId: run.runId,
      name: imageNameFor(opts.version, opts.size, run.startedAt),
      description: `Sourcegraph ${opts.version} (${opts.size}) built by sourcegraph-launch from ${run.sourceCommit}`,
      labels: labels('image', { 'source-commit': run.sourceCommit }),
    },
    ...(opts.address ? { addressId: opts.address } : {}),
  };
}

export function sourceCommitFor(deps: Pick<Deps, 'provisionDir'>): { bundle: ProvisionBundle; sourceCommit: string } {
  const bundle = locateProvisionBundle(deps.provisionDir);
  return { bundle, sourceCommit: sourceCommitOf(bundle, __SGL_VERSION__) };
}

/** The dry run: the plan and every mutating request in order, with placeholders for what does not exist yet. */
export function buildRequestsFor(deps: Pick<Deps, 'provisionDir' | 'clock'>, cloud: Pick<Cloud, 'buildRequests'>, opts: BuildImageOptions, base: Image | undefined) {
  const { sourceCommit } = sourceCommitFor(deps);
  const { terms } = opts.provider;
  const specs = buildSpecs(opts, {
    runId: '<journal id>',
    startedAt: new Date(deps.clock.now()).toISOString(),
    baseImageId: base?.id ?? `<newest ${terms.baseImage} image from ${terms.imageDiscovery}>`,
    publicKey: '<new ed25519 public key>',
    sourceCommit,
    placement: { zone: '', ...(opts.subnet ? { subnetId: opts.subnet } : {}) },
  });
  const requests: CloudRequest[] = cloud.buildRequests(specs);
  return { specs, requests, sourceCommit, buildName: buildNameFor(opts.version, opts.size) };
}
