// Pure planning for `upgrade`: the chain of versions to pass through and the image that boots
// each, what each data strategy costs on top, and the ordered steps the engine runs per hop.
// Nothing here talks to a cloud: the command gathers the facts (running version, images found by
// DescribeImages, our own builds, the shipped catalog) and the engine maps step ids to actions.
//
// The rule being enforced: the appliance upgrades one minor at a time; patches do not count.
// 6.5 → 6.9 must boot 6.6, 6.7 and 6.8 in turn; 5.9 → 6.0 goes 5.10, 5.11, 6.0.
import { ExitCode, LaunchError, UsageError } from './errors.js';
import { formatUsd, type DiskSpec, type StoragePricing } from './prices.js';
import { compareVersions, formatVersion, normalizeVersion, parseVersion, type Version } from './versions.js';

/** Where an image came from; mirrors the Cloud port's ImageInfo.source ('flag' = --image). */
export type ImageSource = 'published' | 'built' | 'catalog' | 'flag';

export interface KnownImage {
  version: string;
  imageId: string;
  source: ImageSource;
}

export interface UpgradeHop {
  from: string;
  to: string;
  imageId: string;
  source: ImageSource;
}

export type ChainRefusalReason = 'downgrade' | 'same-version' | 'missing-images' | 'unknown-target';

/** A minor the chain must pass through but no image boots, and how to build one. */
export interface MissingImage {
  minor: string;
  /** The version to build: the target itself, the newest known patch of the minor, or x.y.0. */
  version: string;
  command: string;
}

export interface UpgradeChain {
  ok: true;
  current: string;
  target: string;
  hops: UpgradeHop[];
}

export interface UpgradeChainRefusal {
  ok: false;
  reason: ChainRefusalReason;
  current: string;
  target?: string;
  /** Minors that need an image, in chain order, e.g. ['6.6', '6.7', '6.8']. Empty unless missing-images. */
  missing: string[];
  missingImages: MissingImage[];
  message: string;
  remediation: string;
}

export type UpgradeChainPlan = UpgradeChain | UpgradeChainRefusal;

export interface PlanUpgradeChainInput {
  /** The running version (from /healthz or the version files). */
  current: string;
  /** `latest`, a minor (`6.9` = its newest patch with an image), or an exact version. Undefined = next allowed. */
  target?: string;
  /** Images that can boot in this region for this deployment. */
  known: readonly KnownImage[];
  /**
   * Versions known to exist even without a usable image here (e.g. every catalog version, any size
   * or region). They tell the planner which minors a major has, so pass as many as you have.
   */
  knownVersions?: Iterable<string>;
  /** Region the missing images must be built in (named in the remediation). */
  region: string;
  cloud?: string;
  /** The deployment's size: its images are built for it (named in the remediation). */
  size?: string;
}

/**
 * The last minor of each finished major, as released by Sourcegraph. A floor under what the known
 * versions say, so that a caller passing only a few images cannot make 5.9 → 6.0 skip 5.10 and 5.11.
 */
const LAST_MINOR_OF_MAJOR: Readonly<Record<number, number>> = { 3: 43, 4: 5, 5: 11 };

/**
 * Same version from several sources: --image is what the user asked for; a publisher's image is
 * the artifact Sourcegraph released and tested; our own build comes next; the shipped catalog is
 * an offline copy of a partly corrupted changelog, so it goes last. Across versions the newest
 * patch wins whatever its source: a newer build of the same minor carries more fixes.
 */
const SOURCE_PREFERENCE: Readonly<Record<ImageSource, number>> = { flag: 0, published: 1, built: 2, catalog: 3 };

interface Minor {
  major: number;
  minor: number;
}

const minorKey = (m: Minor): string => `${m.major}.${m.minor}`;
const compareMinors = (a: Minor, b: Minor): number => a.major - b.major || a.minor - b.minor;

/** What the planner knows: the best image per version and every version known to exist. */
function indexKnown(input: PlanUpgradeChainInput, current: Version) {
  const images = new Map<string, KnownImage>();
  for (const image of input.known) {
    const version = normalizeVersion(image.version);
    if (version === undefined) continue;
    const held = images.get(version);
    if (held === undefined || SOURCE_PREFERENCE[image.source] < SOURCE_PREFERENCE[held.source]) {
      images.set(version, { ...image, version });
    }
  }
  const versions: Version[] = [current];
  for (const text of [...images.keys(), ...(input.knownVersions ?? [])]) {
    const v = parseVersion(text);
    if (v) versions.push(v);
  }

  const inMinor = (m: Minor) => versions.filter((v) => v.major === m.major && v.minor === m.minor);
  const newest = (vs: Version[]) => vs.sort(compareVersions).map(formatVersion).at(-1);

  return {
    imageFor: (version: string) => images.get(version),
    lastMinor(major: number): number {
      const minors = versions.filter((v) => v.major === major).map((v) => v.minor);
      return Math.max(LAST_MINOR_OF_MAJOR[major] ?? 0, ...minors);
    },
    hasMajorAfter: (major: number) => versions.some((v) => v.major > major),
    newestVersion: () => newest([...versions]),
    newestKnownIn: (m: Minor) => newest(inMinor(m)),
    newestImagedIn: (m: Minor): KnownImage | undefined => {
      const version = newest(inMinor(m).filter((v) => images.has(formatVersion(v))));
      return version === undefined ? undefined : images.get(version);
    },
  };
}
type KnownIndex = ReturnType<typeof indexKnown>;

/** The minor after `m`: the next one within its major, or the next major's .0 after its last minor. */
function minorAfter(m: Minor, index: KnownIndex, stayInMajor: boolean): Minor {
  if (stayInMajor || m.minor < index.lastMinor(m.major)) return { major: m.major, minor: m.minor + 1 };
  return { major: m.major + 1, minor: 0 };
}

/** Minors a chain from `current` to `target` boots, in order, the target's own minor last. */
function minorsToCross(current: Version, target: Version, index: KnownIndex): Minor[] {
  const minors: Minor[] = [];
  let m: Minor = current;
  while (compareMinors(m, target) < 0) {
    // Inside the target's major every minor counts, known or not: a gap is still a hop.
    m = minorAfter(m, index, m.major === target.major);
    minors.push(m);
  }
  return minors;
}

/** The minors `upgrade` would boot between two versions, e.g. ['6.6', '6.7', '6.8', '6.9']. */
export function upgradeMinors(current: string, target: string, knownVersions: Iterable<string> = []): string[] {
  const from = parseVersion(current);
  const to = parseVersion(target);
  if (!from || !to) throw new UsageError(`not a version: ${from ? target : current}`, { code: 'bad-version' });
  const index = indexKnown({ current, known: [], knownVersions, region: '' }, from);
  return minorsToCross(from, to, index).map(minorKey);
}

/** A complete build-image command line: every flag it requires (the builder is reached over SSH from the machine that runs it). */
export function buildImageCommand(input: Pick<PlanUpgradeChainInput, 'cloud' | 'region' | 'size'>, version: string, program = 'sourcegraph-launch'): string {
  return `${program} build-image${input.cloud ? ` --cloud ${input.cloud}` : ''} --region ${input.region} --version ${version}${input.size ? ` --size ${input.size}` : ''} --ssh-cidr <this machine's address>/32`;
}

function listWords(words: string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function refusal(
  reason: ChainRefusalReason,
  current: string,
  fields: { target?: string; message: string; remediation: string; missingImages?: MissingImage[] },
): UpgradeChainRefusal {
  const missingImages = fields.missingImages ?? [];
  return {
    ok: false,
    reason,
    current,
    target: fields.target,
    missing: missingImages.map((m) => m.minor),
    missingImages,
    message: fields.message,
    remediation: fields.remediation,
  };
}

function missingImagesRefusal(
  input: PlanUpgradeChainInput,
  current: string,
  target: string,
  chain: string[],
  missingImages: MissingImage[],
): UpgradeChainRefusal {
  const minors = missingImages.map((m) => m.minor);
  const many = minors.length > 1;
  const through = chain.length > 2 ? ` (through ${listWords(chain.slice(1, -1))}, one minor at a time)` : '';
  return refusal('missing-images', current, {
    target,
    missingImages,
    message:
      `Upgrading ${current} to ${target}${through} needs ${many ? 'images' : 'an image'} for ${listWords(minors)} ` +
      `that ${many ? 'do' : 'does'} not exist in ${input.region}. Nothing was changed.`,
    remediation: [
      `Build the missing image${minors.length > 1 ? 's' : ''}, then run the upgrade again:`,
      ...missingImages.map((m) => `  ${m.command}`),
    ].join('\n'),
  });
}

/** The suggested version to build for a minor nothing boots: its newest known patch, else x.y.0. */
function versionToBuild(m: Minor, index: KnownIndex): string {
  return index.newestKnownIn(m) ?? `${minorKey(m)}.0`;
}

type TargetResolution = { ok: true; version: string } | UpgradeChainRefusal;

function resolveTarget(input: PlanUpgradeChainInput, current: Version, index: KnownIndex): TargetResolution {
  const running = formatVersion(current);
  const text = input.target?.trim();
  const nothingNewer = (newest: string) =>
    refusal('same-version', running, {
      target: newest,
      message: `${running} is the newest version known here: nothing to upgrade to.`,
      remediation: `For a newer release, build its image first: ${buildImageCommand(input, 'X.Y.Z')}, then run upgrade --to X.Y.Z.`,
    });

  if (text === undefined) {
    // --to omitted: the next minor, at its newest patch with an image. A pending patch of the
    // running minor is not worth a hop of its own: the next minor includes its fixes.
    const next =
      current.minor < index.lastMinor(current.major) || index.hasMajorAfter(current.major)
        ? minorAfter(current, index, false)
        : undefined;
    if (next === undefined) {
      const patch = index.newestImagedIn(current);
      if (patch && compareVersions(patch.version, current) > 0) return { ok: true, version: patch.version };
      return nothingNewer(running);
    }
    const newestImaged = index.newestImagedIn(next);
    if (newestImaged) return { ok: true, version: newestImaged.version };
    const version = versionToBuild(next, index);
    const missing = [{ minor: minorKey(next), version, command: buildImageCommand(input, version) }];
    return missingImagesRefusal(input, running, version, [running, version], missing);
  }

  if (text === 'latest') {
    const newest = index.newestVersion() ?? running;
    return compareVersions(newest, current) > 0 ? { ok: true, version: newest } : nothingNewer(running);
  }

  const exact = normalizeVersion(text);
  if (exact !== undefined) return { ok: true, version: exact };

  const minorMatch = /^v?(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (minorMatch) {
    const m: Minor = { major: Number(minorMatch[1]), minor: Number(minorMatch[2]) };
    return { ok: true, version: index.newestImagedIn(m)?.version ?? versionToBuild(m, index) };
  }

  return refusal('unknown-target', running, {
    target: text,
    message: `--to ${text} is not a version.`,
    remediation: 'Use --to latest, a minor such as 6.12, or an exact version such as 6.12.5040.',
  });
}

/**
 * Plans the hops from the running version to the target, or says why not. Each intermediate minor
 * boots its newest patch that has an image; the last hop lands exactly on the target. Nothing is
 * planned unless every hop has an image, so an upgrade never stops half way for want of one.
 */
export function planUpgradeChain(input: PlanUpgradeChainInput): UpgradeChainPlan {
  const current = parseVersion(input.current);
  if (!current) {
    throw new UsageError(`the running version "${input.current}" is not a version`, { code: 'bad-version' });
  }
  const running = formatVersion(current);
  const index = indexKnown(input, current);

  const resolved = resolveTarget(input, current, index);
  if (!resolved.ok) return resolved;
  const target = resolved.version;
  const order = compareVersions(target, current);
  if (order < 0) {
    return refusal('downgrade', running, {
      target,
      message: `${target} is older than the running ${running}: upgrade only moves forward.`,
      remediation:
        'To go back to the version from before an upgrade, use `sourcegraph-launch rollback` ' +
        '(database migrations cannot be undone, so it restores the pre-upgrade data).',
    });
  }
  if (order === 0) {
    return refusal('same-version', running, {
      target,
      message: `Already running ${running}: nothing to upgrade.`,
      remediation: 'Pass --to with a newer version, or omit --to for the next one.',
    });
  }

  const targetVersion = parseVersion(target) as Version;
  const minors = minorsToCross(current, targetVersion, index);
  const stops: { minor: Minor; image?: KnownImage; version: string }[] = minors.slice(0, -1).map((minor) => {
    const image = index.newestImagedIn(minor);
    return { minor, image, version: image?.version ?? versionToBuild(minor, index) };
  });
  // A patch-only change crosses no minor: the target is the one hop.
  stops.push({ minor: targetVersion, image: index.imageFor(target), version: target });

  const missingImages = stops
    .filter((s) => s.image === undefined)
    .map((s) => ({ minor: minorKey(s.minor), version: s.version, command: buildImageCommand(input, s.version) }));
  if (missingImages.length > 0) {
    const chain = [running, ...stops.map((s) => (s.image ? s.version : minorKey(s.minor))).slice(0, -1), target];
    return missingImagesRefusal(input, running, target, chain, missingImages);
  }

  let from = running;
  const hops = stops.map(({ image }): UpgradeHop => {
    const hop = { from, to: image!.version, imageId: image!.imageId, source: image!.source };
    from = hop.to;
    return hop;
  });
  return { ok: true, current: running, target, hops };
}

/** The typed error for a refused chain; undefined for same-version, which is success with nothing to do. */
export function chainRefusalError(plan: UpgradeChainRefusal): LaunchError | undefined {
  const opts = {
    remediation: plan.remediation,
    details: { reason: plan.reason, current: plan.current, target: plan.target, missing: plan.missing },
  };
  switch (plan.reason) {
    case 'same-version':
      return undefined;
    case 'downgrade':
      return new UsageError(plan.message, { code: 'downgrade-refused', ...opts });
    case 'unknown-target':
      return new UsageError(plan.message, { code: 'bad-version', ...opts });
    case 'missing-images':
      // Not bad input: the request is sound, the account lacks images the user can build.
      return new LaunchError('missing-images', ExitCode.failed, plan.message, opts);
  }
}

// ---------------------------------------------------------------------------------------------
// Strategies: how the data volume reaches the new instance, and what that costs on top.

export const UPGRADE_STRATEGIES = ['clone', 'move'] as const;
export type UpgradeStrategy = (typeof UPGRADE_STRATEGIES)[number];
export const DEFAULT_UPGRADE_STRATEGY: UpgradeStrategy = 'clone';

export function isUpgradeStrategy(s: string): s is UpgradeStrategy {
  return (UPGRADE_STRATEGIES as readonly string[]).includes(s);
}

export type UpgradeDataVolume = DiskSpec;

export interface StrategyCost {
  strategy: UpgradeStrategy;
  /** USD per month while the rollback point is kept (billed by the hour, so days cost days). */
  extraMonthlyUsd: number;
  /** The old data volume kept untouched next to the new one (clone only). */
  volumeUsd: number;
  /** Upper bound: a first snapshot stores every written block of the volume, at most its size. */
  snapshotUsd: number;
  rollback: string;
  explanation: string;
  /** One line for the plan summary. */
  summary: string;
}

const cents = (n: number) => Math.round(n * 100) / 100;

export function strategyCost(opts: {
  strategy: UpgradeStrategy;
  dataVolume: UpgradeDataVolume;
  prices: StoragePricing;
}): StrategyCost {
  const prices = opts.prices;
  const volume = opts.dataVolume;
  const snapshotUsd = cents(volume.sizeGiB * prices.snapshotGiBMonthUsd);
  const volumeUsd = opts.strategy === 'clone' ? cents(prices.diskMonthlyUsd(volume) ?? 0) : 0;
  const extraMonthlyUsd = cents(volumeUsd + snapshotUsd);
  const volumeName = `${volume.sizeGiB} GiB ${volume.type}${volume.iops && volume.iops > 3000 ? ` (${volume.iops} IOPS)` : ''}`;
  const dollars = (n: number) => formatUsd(Math.round(n));

  if (opts.strategy === 'clone') {
    return {
      strategy: 'clone',
      extraMonthlyUsd,
      volumeUsd,
      snapshotUsd,
      rollback: 'instant: start the old instance again, its data volume was never touched',
      explanation:
        'clone (safest): the new instance gets a copy of the data made from a snapshot taken after the old ' +
        'instance stopped; the old volume stays untouched, so rollback is instant. The copy loads its blocks ' +
        'lazily from the snapshot, so the first hours can be slower unless a volume initialisation rate is provisioned.',
      summary:
        `clone: about ${dollars(extraMonthlyUsd)}/month extra while the rollback point is kept ` +
        `(second ${volumeName} data volume ${dollars(volumeUsd)} + snapshot up to ${dollars(snapshotUsd)})`,
    };
  }
  return {
    strategy: 'move',
    extraMonthlyUsd,
    volumeUsd,
    snapshotUsd,
    rollback: 'restore: a new volume is made from the snapshot taken after the old instance stopped',
    explanation:
      'move (cheaper on storage): the data volume itself moves to the new instance, so there is no second ' +
      'volume and no lazy loading. Rollback restores the data from the snapshot taken after the old instance ' +
      'stopped, which takes longer and loads lazily then.',
    summary: `move: about ${dollars(extraMonthlyUsd)}/month extra while the rollback point is kept (snapshot up to ${dollars(snapshotUsd)})`,
  };
}

/** Both strategies' extra cost, clone first, for the "which strategy" part of the plan. */
export function strategyCosts(opts: { dataVolume: UpgradeDataVolume; prices: StoragePricing }): StrategyCost[] {
  return UPGRADE_STRATEGIES.map((strategy) => strategyCost({ ...opts, strategy }));
}

export interface StrategyChoice {
  strategy: UpgradeStrategy;
  /** Where the choice came from, for the plan's provenance column. */
  from: 'flag' | 'default';
  chosen: StrategyCost;
  /** Every strategy's cost, so the summary can show the alternative too. */
  costs: StrategyCost[];
}

/** Validates --strategy (clone when absent) and prices both strategies. */
export function chooseStrategy(opts: {
  requested?: string;
  dataVolume: UpgradeDataVolume;
  prices: StoragePricing;
}): StrategyChoice {
  const requested = opts.requested?.trim();
  if (requested !== undefined && !isUpgradeStrategy(requested)) {
    throw new UsageError(`--strategy must be ${UPGRADE_STRATEGIES.join(' or ')}, not "${requested}"`, {
      code: 'bad-strategy',
      remediation: 'clone keeps the old data volume untouched for an instant rollback; move reuses it and keeps a snapshot.',
    });
  }
  const strategy = requested ?? DEFAULT_UPGRADE_STRATEGY;
  const costs = strategyCosts(opts);
  return {
    strategy,
    from: requested === undefined ? 'default' : 'flag',
    chosen: costs.find((c) => c.strategy === strategy)!,
    costs,
  };
}

// ---------------------------------------------------------------------------------------------
// Steps: what the engine does per hop. Data only; the engine maps `action` to cloud calls and
// journals by `id` (ids are stable: `<hop target version>:<action>`, and the fault-injection tests
// name them).
//
// The rule that shapes the order: a new instance never boots without its data. Sourcegraph's boot
// logic runs against whatever /mnt/data it finds on first boot; against an empty one it would
// install a fresh instance. So nothing is launched in prepare:
//   clone: the new instance is created at cutover, with its data disk made from the final snapshot in
//          the same request, so the data is there before the first boot. The launch is inside the
//          downtime window: that is the price of never needing a boot guard.
//   move:  the new instance is created without a data disk and with a cloud-init boothook that powers the
//          instance off when no /mnt/data filesystem exists; the engine stops it, attaches the old
//          volume and starts it.

export type UpgradePhase = 'prepare' | 'cutover' | 'verify';

export type UpgradeAction =
  /** Snapshot the serving volume so the final snapshot only copies what changed since. */
  | 'snapshot-live'
  /** The cloud's permission check of the exact request the cutover will send (where it has one): permissions fail before any downtime. */
  | 'check-launch-permissions'
  | 'stop-old-instance'
  /** Taken after the old instance stopped: consistent and pre-migration, hence the rollback point. */
  | 'snapshot-final'
  /** move: the old volume leaves the old instance. */
  | 'detach-data-volume'
  /** clone: with the data disk made from the final snapshot; move: without one, boot guarded. */
  | 'launch-new-instance'
  /** move: the data-less instance is stopped before its data volume is attached. */
  | 'stop-new-instance'
  | 'attach-data-volume'
  | 'start-new-instance'
  /** The static address moves to the new instance (the step id is the cloud's, e.g. move-elastic-ip). */
  | 'move-address'
  /** tls --tls managed: the load balancer's target group gets the new instance and loses the old one. */
  | 'move-balancer-target'
  /** /healthz answers the hop's version and keeps answering it for the hold. */
  | 'wait-for-version'
  | 'check-version-files'
  /** After a later hop verified: the previous hop's instance (and, clone, its copy) is no longer needed. */
  | 'retire-intermediate'
  | 'keep-rollback-point';

export interface UpgradeStep {
  /** `<hop target version>:<action>`: unique within a plan and readable in the journal. */
  id: string;
  action: UpgradeAction;
  /** Index into the hops this step belongs to. */
  hop: number;
  from: string;
  to: string;
  title: string;
  phase: UpgradePhase;
  /** True when Sourcegraph is not serving while this step runs. */
  downtime: boolean;
}

export interface UpgradeDeployment {
  name?: string;
  instanceId: string;
  availabilityZone: string;
  dataVolumeId: string;
  /** When present the address moves to each new instance; without one the public address changes. */
  addressId?: string;
  /** SSH is available, so the version files can be checked too. */
  ssh?: boolean;
  /** tls --tls managed put a load balancer in front: its target group (named in the step's title) follows each new instance. */
  balancerBackend?: string;
  /** balancerBackend is Azure's Application Gateway (its backend pool holds the instance's private address). */
  balancerIsGateway?: boolean;
}

/** Pods are recycled ~60 s after Helm finishes, so a healthy answer must hold this long. */
export const VERSION_HOLD_SECONDS = 90;

/** How the cloud names what the steps talk about (from its provider descriptor). */
export interface UpgradeTerms {
  /** "Elastic IP" */
  address: string;
  /** The journal id of the address move ("move-elastic-ip"): stable, resumed journals and tests name it. */
  addressMoveStep: string;
  /** "the cloud accepts the launch (a dry run from the image)" */
  permissionCheck(imageId: string): string;
}

export function planUpgradeSteps(opts: {
  strategy: UpgradeStrategy;
  hops: readonly UpgradeHop[];
  deployment: UpgradeDeployment;
  terms: UpgradeTerms;
  holdSeconds?: number;
}): UpgradeStep[] {
  const { strategy, hops, deployment, terms } = opts;
  const hold = opts.holdSeconds ?? VERSION_HOLD_SECONDS;
  const device = 'its data disk';
  const az = deployment.availabilityZone;
  const steps: UpgradeStep[] = [];

  hops.forEach((hop, i) => {
    const add = (action: UpgradeAction, phase: UpgradePhase, downtime: boolean, title: string) =>
      steps.push({ id: `${hop.to}:${action}`, action, hop: i, from: hop.from, to: hop.to, title, phase, downtime });
    // The first hop starts from the deployment as found; later hops from what the previous hop made.
    const oldInstance = i === 0 ? `the ${hop.from} instance ${deployment.instanceId}` : `the ${hop.from} instance`;
    const oldVolume = i === 0 ? `data volume ${deployment.dataVolumeId}` : `${hop.from} data volume`;

    add('snapshot-live', 'prepare', false, `Snapshot the ${oldVolume} while ${hop.from} keeps serving, so the final snapshot is quick`);
    add('check-launch-permissions', 'prepare', false, `Check that ${terms.permissionCheck(hop.imageId)} for ${hop.to}`);

    add('stop-old-instance', 'cutover', true, `Stop ${oldInstance} (Sourcegraph is down from here)`);
    add('snapshot-final', 'cutover', true, `Snapshot the stopped ${oldVolume}: consistent, from before ${hop.to}'s migrations`);
    if (strategy === 'clone') {
      add(
        'launch-new-instance',
        'cutover',
        true,
        `Launch the ${hop.to} instance from ${hop.imageId} in ${az}, like the old one, with ${device} created from that snapshot ` +
          `(same type, IOPS, encryption) so it boots with its data; the ${oldVolume} stays untouched`,
      );
    } else {
      add('detach-data-volume', 'cutover', true, `Detach the ${oldVolume} from ${oldInstance}`);
      add(
        'launch-new-instance',
        'cutover',
        true,
        `Launch the ${hop.to} instance from ${hop.imageId} in ${az}, like the old one, without ${device}; a boot hook powers it off while it has no data`,
      );
      add('stop-new-instance', 'cutover', true, `Wait until the data-less ${hop.to} instance is stopped`);
      add('attach-data-volume', 'cutover', true, `Attach the ${oldVolume} to the ${hop.to} instance as its data disk`);
      add('start-new-instance', 'cutover', true, `Start the ${hop.to} instance; its boot logic upgrades the data to ${hop.to}`);
    }
    if (deployment.addressId !== undefined) {
      steps.push({ id: `${hop.to}:${terms.addressMoveStep}`, action: 'move-address', hop: i, from: hop.from, to: hop.to, phase: 'cutover', downtime: true, title: `Move ${terms.address} ${deployment.addressId} to the ${hop.to} instance` });
    }

    if (deployment.balancerBackend !== undefined) {
      add('move-balancer-target', 'cutover', true, deployment.balancerIsGateway
        ? `Make the ${hop.to} instance's private address the only backend of the application gateway ${deployment.balancerBackend} (the ${hop.from} instance's taken out)`
        : `Make the ${hop.to} instance the only backend of the load balancer's ${deployment.balancerBackend} (the ${hop.from} instance taken out)`);
    }
    add('wait-for-version', 'verify', true, `Wait until /healthz answers ${hop.to} and keeps answering it for ${hold} s`);
    if (deployment.ssh) {
      add('check-version-files', 'verify', false, `Check both version files (root and data disk) read ${hop.to}`);
    }
    if (i > 0) {
      // Only the pre-upgrade state is kept as the rollback point; intermediates would multiply its cost.
      add(
        'retire-intermediate',
        'verify',
        false,
        strategy === 'clone'
          ? `Terminate the intermediate ${hop.from} instance and delete its data copy (the snapshot taken when it stopped is kept)`
          : `Terminate the intermediate ${hop.from} instance (its data volume moved on)`,
      );
    }
  });

  const first = hops[0];
  const last = hops.at(-1);
  if (first && last) {
    steps.push({
      id: `${last.to}:keep-rollback-point`,
      action: 'keep-rollback-point',
      hop: hops.length - 1,
      from: last.from,
      to: last.to,
      phase: 'verify',
      downtime: false,
      title:
        strategy === 'clone'
          ? `Keep the ${first.from} instance ${deployment.instanceId} stopped with its untouched data volume ${deployment.dataVolumeId} as the rollback point`
          : `Keep the stopped ${first.from} instance ${deployment.instanceId} and the snapshot of ${deployment.dataVolumeId} taken when it stopped as the rollback point`,
    });
  }
  return steps;
}
