// `launch` (the default command): Validate → Ask (only what no flag gave) → Discover → Show the
// plan and ask once → Apply step by step (journal + resume) → Wait until really ready → Recommend.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TAG_DEPLOYMENT, TAG_ROLE, TAG_VERSION, dataVolumesOf, type Cloud, type CloudRequest, type ImageInfo, type InstanceInfo, type LaunchRefs, type LaunchSpec, type VolumeInfo } from '../cloud/cloud.js';
import { catalogImageId, catalogRegions, catalogVersions, latestCatalogVersion } from '../core/catalog.js';
import { CloudError, CredentialsError, DeclinedError, ExitCode, LaunchError, MissingInputError, UsageError } from '../core/errors.js';
import {
  clientTokenFor,
  equivalentCommand,
  formatTable,
  planToJson,
  summaryRows,
  type DataVolumeChoice,
  type ImageChoice,
  type LaunchPlan,
  type Sourced,
  type SshKeyChoice,
} from '../core/launch-plan.js';
import { allPresets, getPreset, presetMonthlyCost, type SizeName } from '../core/presets.js';
import { formatMonthlyCost, knownInstanceTypes } from '../core/prices.js';
import { groupThousands } from '../core/format.js';
import {
  AWS_OPT_IN_REGIONS,
  AWS_REGIONS,
  validateCidrList,
  validateCloud,
  validateDataSize,
  validateElasticIp,
  validateImageId,
  validateInstanceType,
  validateKeyName,
  validateKmsKey,
  validateName,
  validateRegion,
  validateSize,
  validateSshCidrs,
  validateSshUser,
  validateSubnetId,
  validateTimeoutMinutes,
  validateVersion,
  IMAGE_SOURCES,
  isOpenToWorld,
} from '../core/validate.js';
import { compareVersions, normalizeVersion } from '../core/versions.js';
import { describeResume, newJournal, runSteps, type Step } from '../engine/steps.js';
import { describeReady, waitUntilReady, type ReadyReport } from '../engine/wait.js';
import type { DeploymentRecord, Journal } from '../state/store.js';
import { scheduleSpec, validateSchedule } from './backup.js';
import { loadAwsCatalog } from './catalog.js';
import type { Deps, GlobalFlags } from './deps.js';
import { formatRequests } from './requests-text.js';
import { planToLaunchSpec } from './launch-spec.js';
import { describeRuleChanges, diffDeployment, type Drift } from './launch-drift.js';
import { fingerprintOfPublicKeyLine } from '../remote/host-keys.js';

export interface LaunchFlags extends GlobalFlags {
  cloud?: string;
  region?: string;
  size?: string;
  version?: string;
  image?: string;
  allowCidr?: string[];
  sshCidr?: string[];
  iKnowSshIsPublic?: boolean;
  sshKey?: string;
  keyName?: string;
  identityFile?: string;
  name?: string;
  instanceType?: string;
  dataSize?: string;
  subnet?: string;
  kmsKey?: string;
  elasticIp?: string;
  sshUser?: string;
  dryRun?: boolean;
  wait?: boolean;
  timeout?: string;
  holdSeconds?: string;
  /** published (default), build or base (issue 4). */
  imageSource?: string;
  schedule?: string;
  retain?: string;
  dlmRole?: string;
  /** Apply access-rule changes to an existing deployment (the only change a re-run may make). */
  update?: boolean;
  /** new, or vol-…: launch on a data volume a destroy kept. */
  dataVolume?: string;
}

const DEFAULT_TIMEOUT_MINUTES = 45;
const DEFAULT_HOLD_SECONDS = 90;

function sourced<T>(value: T, source: Sourced<T>['source'], detail?: string): Sourced<T> {
  return detail ? { value, source, detail } : { value, source };
}

/** Step 1: every flag that was given is checked before anything else happens. */
export function validateLaunchFlags(flags: LaunchFlags) {
  const size = flags.size !== undefined ? validateSize(flags.size) : undefined;
  const sshCidrs =
    flags.sshCidr && flags.sshCidr.length ? validateSshCidrs(flags.sshCidr, { iKnowSshIsPublic: Boolean(flags.iKnowSshIsPublic) }) : undefined;
  if (flags.sshKey && flags.keyName) throw new UsageError('--ssh-key and --key-name cannot be used together: pick one way to get the SSH key');
  const holdSeconds = flags.holdSeconds !== undefined ? Number(flags.holdSeconds) : undefined;
  if (holdSeconds !== undefined && (!Number.isInteger(holdSeconds) || holdSeconds < 0 || holdSeconds > 3600)) {
    throw new UsageError(`--hold-seconds: "${flags.holdSeconds}" must be a whole number of seconds between 0 and 3600`);
  }
  const sshKey = flags.sshKey !== undefined ? checkPublicKeyFile(flags.sshKey) : undefined;
  const image = flags.image !== undefined ? validateImageId(flags.image) : undefined;
  const dataVolume = flags.dataVolume !== undefined ? validateDataVolume(flags.dataVolume) : undefined;
  if (dataVolume && dataVolume !== 'new' && flags.dataSize !== undefined) throw new UsageError('--data-size and --data-volume vol-… cannot be used together: the kept volume keeps its size');
  return {
    dataVolume,
    imageSource: validateImageSource(flags.imageSource, image),
    schedule: validateSchedule(flags),
    cloud: flags.cloud !== undefined ? validateCloud(flags.cloud) : undefined,
    region: flags.region !== undefined ? validateRegion(flags.region) : undefined,
    size,
    version: flags.version !== undefined ? validateVersion(flags.version) : undefined,
    image,
    allowCidrs: flags.allowCidr && flags.allowCidr.length ? validateCidrList(flags.allowCidr, '--allow-cidr') : undefined,
    sshCidrs,
    sshKey,
    keyName: flags.keyName !== undefined ? validateKeyName(flags.keyName) : undefined,
    name: flags.name !== undefined ? validateName(flags.name) : undefined,
    instanceType: flags.instanceType !== undefined ? validateInstanceType(flags.instanceType) : undefined,
    dataSize: flags.dataSize !== undefined ? validateDataSize(flags.dataSize, getPreset(size ?? 'XS').aws.data.sizeGiB) : undefined,
    subnet: flags.subnet !== undefined ? validateSubnetId(flags.subnet) : undefined,
    kmsKey: flags.kmsKey !== undefined ? validateKmsKey(flags.kmsKey) : undefined,
    elasticIp: flags.elasticIp !== undefined ? validateElasticIp(flags.elasticIp) : undefined,
    sshUser: flags.sshUser !== undefined ? validateSshUser(flags.sshUser) : undefined,
    timeout: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : undefined,
    holdSeconds,
    identityFile: flags.identityFile,
  };
}

function validateDataVolume(value: string): 'new' | string {
  const v = value.trim().toLowerCase();
  if (v === 'new' || /^vol-[0-9a-f]{8,17}$/.test(v)) return v;
  throw new UsageError(`--data-volume: "${value}" is not valid. Valid choices: new, or the id of a kept data volume (vol-…)`);
}

function checkPublicKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--ssh-key: cannot read ${path}: ${(e as Error).message}`);
  }
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+/.test(text.trim())) {
    throw new UsageError(`--ssh-key: ${path} is not an OpenSSH public key (expected a line starting with ssh-ed25519 or ssh-rsa). Pass the .pub file`);
  }
  return path;
}

type Validated = ReturnType<typeof validateLaunchFlags>;

/** Step 2: ask only what no flag gave; never ask when not interactive. */
async function resolvePlan(deps: Deps, flags: LaunchFlags, v: Validated): Promise<Omit<LaunchPlan, 'image'> & { imageFlag?: string }> {
  const { io, state, env } = deps;
  const ask = io.interactive;
  const saved = (key: string) => state.getPreference(key);

  const cloud: Sourced<'aws'> = v.cloud
    ? sourced('aws', 'flag')
    : ask
      ? sourced(
          await io.select<'aws'>({
            message: 'Cloud',
            choices: [
              { name: 'AWS', value: 'aws' },
              { name: 'Google Compute Engine', value: 'aws', disabled: '(coming soon)' },
              { name: 'Azure', value: 'aws', disabled: '(coming soon)' },
            ],
          }),
          'prompt',
        )
      : sourced('aws', 'default', 'the only cloud available yet');

  const catalog = await loadAwsCatalog();
  const latest = latestCatalogVersion(catalog);
  let region: Sourced<string>;
  if (v.region) region = sourced(v.region, 'flag');
  else if (ask) {
    // Published images exist only where the catalog says; our own image or a plain base OS works anywhere.
    const available = v.imageSource === 'published' && !v.image ? new Set(catalogRegions(catalog, { version: latest, size: 'XS' })) : new Set<string>(AWS_REGIONS);
    const regions: string[] = AWS_REGIONS.filter((r) => available.has(r));
    const def = saved('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const value = await io.select<string>({
      message: 'Region',
      choices: regions.map((r) => ({ name: r, value: r, description: AWS_OPT_IN_REGIONS.has(r) ? 'opt-in region: enable it in your account first' : undefined })),
      default: def && regions.includes(def) ? def : undefined,
    });
    region = sourced(value, value === saved('region') ? 'saved' : 'prompt');
  } else {
    const fromEnv = env.AWS_REGION ? 'AWS_REGION' : env.AWS_DEFAULT_REGION ? 'AWS_DEFAULT_REGION' : undefined;
    if (!fromEnv) throw new MissingInputError('--region');
    region = sourced(validateRegion(env[fromEnv]!, AWS_REGIONS, ` (from ${fromEnv})`), 'environment', fromEnv);
  }

  let size: Sourced<SizeName>;
  if (v.size) size = sourced(v.size, 'flag');
  else if (ask) {
    const def = saved('size');
    const value = await io.select<SizeName>({
      message: 'Size (if you fall between two sizes, choose the larger)',
      choices: allPresets().map((p) => ({
        name: `${p.name.padEnd(2)}  up to ${groupThousands(p.users)} users, ${groupThousands(p.repos)} repos · ${p.aws.instanceType} · ${formatMonthlyCost(presetMonthlyCost(p, region.value))}`,
        value: p.name,
      })),
      default: def as SizeName | undefined,
    });
    size = sourced(value, value === def ? 'saved' : 'prompt');
  } else size = sourced<SizeName>('XS', 'default');

  let version: Sourced<string>;
  if (v.version) version = sourced(v.version, 'flag');
  else if (ask) {
    const versions = catalogVersions(catalog).reverse().slice(0, 15);
    const value = await io.select<string>({
      message: 'Sourcegraph version',
      choices: [{ name: `latest (${latest})`, value: 'latest' }, ...versions.map((x) => ({ name: x, value: x }))],
    });
    version = sourced(value, 'prompt');
  } else version = sourced('latest', 'default');

  let allowCidrs: Sourced<string[]>;
  if (v.allowCidrs) allowCidrs = sourced(v.allowCidrs, 'flag');
  else if (ask) {
    const ip = await deps.lookupPublicIp().catch(() => undefined);
    const def = saved('allowCidr') ?? (ip ? `${ip}/32` : undefined);
    const answer = await io.input({
      message: 'Who may reach Sourcegraph over HTTP/HTTPS? CIDRs, comma-separated' + (ip ? ` (your address is ${ip})` : ''),
      default: def,
      validate: (text) => {
        try {
          return validateCidrList([text], '--allow-cidr').length ? true : 'Enter at least one CIDR';
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
    allowCidrs = sourced(validateCidrList([answer], '--allow-cidr'), answer === saved('allowCidr') ? 'saved' : 'prompt');
  } else {
    throw new MissingInputError('--allow-cidr', 'when not running interactively', {
      remediation: 'Name who may reach Sourcegraph, e.g. --allow-cidr 203.0.113.7/32 (your address) or your office network. There is no default: the instance is never opened to the world by accident.',
    });
  }

  // SSH never defaults to the world: the check runs on the resolved value, whatever its source.
  let iKnowSshIsPublic = Boolean(flags.iKnowSshIsPublic);
  let sshCidrs: Sourced<string[]>;
  if (v.sshCidrs) sshCidrs = sourced(v.sshCidrs, 'flag');
  else if (ask) {
    const ip = allowCidrs.value.some(isOpenToWorld) ? await deps.lookupPublicIp().catch(() => undefined) : undefined;
    const def = allowCidrs.value.some(isOpenToWorld) ? (ip ? `${ip}/32` : 'none') : allowCidrs.value.join(',');
    for (;;) {
      const answer = await io.input({
        message: 'Who may reach SSH (port 22)? CIDRs, or "none"',
        default: def,
        validate: (text) => {
          try {
            validateSshCidrs([text], { iKnowSshIsPublic: true });
            return true;
          } catch (e) {
            return (e as Error).message;
          }
        },
      });
      const cidrs = validateSshCidrs([answer], { iKnowSshIsPublic: true });
      const open = cidrs.filter(isOpenToWorld);
      if (open.length && !iKnowSshIsPublic) {
        const sure = await io.confirm({
          message: `${open.join(' and ')} opens SSH (port 22) to the whole internet. Open it to everyone anyway?`,
          default: false,
        });
        if (!sure) continue;
        iKnowSshIsPublic = true;
      }
      sshCidrs = sourced(cidrs, answer === def ? 'default' : 'prompt', answer === def && def !== allowCidrs.value.join(',') ? 'your address only' : undefined);
      break;
    }
  } else {
    sshCidrs = sourced(allowCidrs.value, 'default', 'same as --allow-cidr');
    const open = sshCidrs.value.filter(isOpenToWorld);
    if (open.length && !iKnowSshIsPublic) {
      throw new UsageError(
        `--ssh-cidr defaults to the --allow-cidr networks, and ${open.join(', ')} would open SSH to the whole internet. ` +
          'Name the networks that need SSH with --ssh-cidr (e.g. your address /32), use --ssh-cidr none, or pass --i-know-ssh-is-public',
        { code: 'ssh-open-to-world' },
      );
    }
  }

  // The wizard asks how to get the SSH key before the name; the generated key's path needs both.
  type KeyAnswer = { mode: 'generate' } | { mode: 'import'; publicKeyPath: string } | { mode: 'existing'; keyName: string };
  let keyAnswer: Sourced<KeyAnswer>;
  if (v.sshKey) keyAnswer = sourced({ mode: 'import', publicKeyPath: v.sshKey }, 'flag');
  else if (v.keyName) keyAnswer = sourced({ mode: 'existing', keyName: v.keyName }, 'flag');
  else if (ask && sshCidrs.value.length) {
    const mode = await io.select<'generate' | 'import' | 'existing'>({
      message: 'SSH key',
      choices: [
        { name: `Create a new ed25519 key (saved 0600 in ${state.keysDir})`, value: 'generate' },
        { name: 'Import one of my public keys (~/.ssh/*.pub)', value: 'import' },
        { name: 'Use a key pair that already exists in AWS', value: 'existing' },
      ],
    });
    if (mode === 'generate') keyAnswer = sourced({ mode }, 'prompt');
    else if (mode === 'import') {
      const path = await io.input({ message: 'Path to the public key', validate: (p) => (existsSync(p) ? true : `${p} does not exist`) });
      keyAnswer = sourced({ mode, publicKeyPath: checkPublicKeyFile(path) }, 'prompt');
    } else {
      const keyName = await io.input({ message: 'Key pair name' });
      keyAnswer = sourced({ mode, keyName: validateKeyName(keyName) }, 'prompt');
    }
  } else keyAnswer = sourced({ mode: 'generate' }, 'default');

  let name: Sourced<string>;
  if (v.name) name = sourced(v.name, 'flag');
  else if (ask) {
    const answer = await io.input({
      message: 'Deployment name',
      default: 'sourcegraph',
      validate: (text) => {
        try {
          validateName(text);
          return true;
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
    name = sourced(validateName(answer), answer === 'sourcegraph' ? 'default' : 'prompt');
  } else name = sourced('sourcegraph', 'default');

  const key = keyAnswer.value;
  const sshKey: Sourced<SshKeyChoice> = {
    ...keyAnswer,
    value: key.mode === 'generate' ? { mode: 'generate', privateKeyPath: join(state.keysDir, `aws-${region.value}-${name.value}`) } : key,
  };

  const preset = getPreset(size.value);
  let dataSizeGiB: Sourced<number> = sourced(preset.aws.data.sizeGiB, 'preset');
  if (v.dataSize !== undefined) dataSizeGiB = sourced(validateDataSize(v.dataSize, preset.aws.data.sizeGiB), 'flag');

  return {
    name,
    cloud,
    region,
    size,
    version,
    imageFlag: v.image,
    instanceType: v.instanceType ? sourced(v.instanceType, 'flag') : sourced(preset.aws.instanceType, 'preset'),
    dataSizeGiB,
    allowCidrs,
    sshCidrs,
    iKnowSshIsPublic,
    sshKey,
    sshUser: v.sshUser ? sourced(v.sshUser, 'flag') : sourced('ec2-user', 'default'),
    subnet: v.subnet ? sourced<string | undefined>(v.subnet, 'flag') : sourced<string | undefined>(undefined, 'default'),
    kmsKey: v.kmsKey ? sourced<string | undefined>(v.kmsKey, 'flag') : sourced<string | undefined>(undefined, 'default'),
    elasticIp: v.elasticIp ? sourced(v.elasticIp, 'flag') : sourced({ mode: 'new' as const }, 'default', 'the URL survives upgrades'),
    wait: flags.wait !== false,
    timeoutMinutes: v.timeout !== undefined ? sourced(v.timeout, 'flag') : sourced(DEFAULT_TIMEOUT_MINUTES, 'default'),
    holdSeconds: v.holdSeconds !== undefined ? sourced(v.holdSeconds, 'flag') : sourced(DEFAULT_HOLD_SECONDS, 'default'),
  };
}

/** Step 3: which image. --image wins; then DescribeImages (publishers + our builds); then the catalog. */
/**
 * The complete commands that launch a version without a published image: our own image (built
 * first by launch, or by build-image), each with every flag it requires.
 */
function ownImageRemedy(program: string, plan: Awaited<ReturnType<typeof resolvePlan>>, version: string): string {
  const region = plan.region.value;
  const size = plan.size.value;
  // The builder is provisioned over SSH from this machine: SSH must reach it.
  const ssh = plan.sshCidrs.value.length ? plan.sshCidrs.value.join(',') : '<this machine\'s address>/32';
  const launch = `${program} launch ${plan.name.value} --region ${region} --size ${size} --version ${version} --allow-cidr ${plan.allowCidrs.value.join(',')} --ssh-cidr ${ssh} --image-source build`;
  const build = `${program} build-image --region ${region} --version ${version} --size ${size} --ssh-cidr ${ssh}`;
  const base = `${program} launch ${plan.name.value} --region ${region} --size ${size} --version ${version} --allow-cidr ${plan.allowCidrs.value.join(',')} --ssh-cidr ${plan.sshCidrs.value.length ? ssh : 'none'} --image-source base`;
  return (
    `Build the image and launch it in one go: \`${launch}\`; or build it first with \`${build}\` and launch with --version ${version}; ` +
    `or provision a plain Amazon Linux 2023 at first boot: \`${base}\`.`
  );
}

async function resolveImage(
  cloud: Cloud | undefined,
  plan: Awaited<ReturnType<typeof resolvePlan>>,
  program: string,
): Promise<{ image: Sourced<ImageChoice>; version: Sourced<string> }> {
  const catalog = await loadAwsCatalog();
  const region = plan.region.value;
  const size = plan.size.value;
  const wanted = plan.version.value;

  if (plan.imageFlag) {
    const info = cloud ? await cloud.describeImage(plan.imageFlag) : undefined;
    if (cloud && !info) throw new UsageError(`--image ${plan.imageFlag} does not exist in ${region} (or is not shared with this account)`);
    let version = plan.version;
    if (wanted === 'latest') {
      if (!info?.version) {
        throw new UsageError(`--image ${plan.imageFlag}: cannot tell which Sourcegraph version it runs; pass --version x.y.z as well`);
      }
      version = sourced(info.version, 'discovered', `from image ${info.name}`);
    }
    return { image: sourced({ id: plan.imageFlag, name: info?.name, source: 'flag' }, 'flag'), version };
  }

  let found: ImageInfo | undefined;
  if (cloud) found = await cloud.findImage({ version: wanted, size });
  const latestInCatalog = latestCatalogVersion(catalog);
  if (found && found.version && wanted === 'latest' && compareVersions(found.version, latestInCatalog) < 0) {
    // The account sees an older image than the catalog knows of: trust the newer catalog entry.
    found = undefined;
  }
  if (found) {
    const version = wanted === 'latest' && found.version ? sourced(found.version, 'discovered', 'newest published image') : plan.version;
    return { image: sourced({ id: found.id, name: found.name, source: found.source }, 'discovered', found.source === 'built' ? 'built by sourcegraph-launch' : 'DescribeImages'), version };
  }

  const version = wanted === 'latest' ? latestInCatalog : wanted;
  const id = catalogImageId(catalog, { version, size, region });
  if (!id) {
    const regions = catalogRegions(catalog, { version, size });
    const known = catalogVersions(catalog);
    if (!known.includes(version)) {
      throw new UsageError(
        `--version ${version}: no published Sourcegraph image exists for this version. Published versions include ${known.slice(-8).reverse().join(', ')} (see \`${program} presets --versions\`)`,
        { code: 'no-published-image', remediation: ownImageRemedy(program, plan, version) },
      );
    }
    throw new UsageError(`--region ${region}: no published image of Sourcegraph ${version} (${size}) in this region. It is available in: ${regions.join(', ')}`, {
      code: 'no-published-image',
      remediation: `Pick one of those regions, or use an image of your own here. ${ownImageRemedy(program, plan, version)}`,
    });
  }
  return {
    image: sourced({ id, name: `Sourcegraph v${version}`, source: 'catalog' }, 'catalog', cloud ? 'DescribeImages found none; shipped catalog' : 'offline'),
    version: wanted === 'latest' ? sourced(version, 'catalog', 'newest published') : plan.version,
  };
}

// --- image sources (issue 4) ---

type ImageSource = (typeof IMAGE_SOURCES)[number];

function validateImageSource(value: string | undefined, imageFlag: string | undefined): ImageSource {
  if (value === undefined) return 'published';
  const v = value.trim().toLowerCase();
  if (!(IMAGE_SOURCES as readonly string[]).includes(v)) {
    throw new UsageError(`--image-source: "${value}" is not valid. Valid choices: ${IMAGE_SOURCES.join(', ')}`);
  }
  if (v !== 'published' && imageFlag) throw new UsageError(`--image-source ${v} and --image cannot be used together: --image already names the image`);
  return v as ImageSource;
}

interface OwnImage {
  image: Sourced<ImageChoice>;
  version: Sourced<string>;
  /** No built image exists yet: build-image runs after the confirmation, then the launch uses it. */
  buildFirst?: boolean;
  /** --image-source base: the provision bundle that runs at first boot. */
  userDataBase64?: string;
}

/**
 * --image-source build: an image we built for the version, else one is built first.
 * --image-source base: the plain OS image, provisioned at first boot by user data.
 */
async function resolveOwnImage(deps: Deps, cloud: Cloud | undefined, plan: Awaited<ReturnType<typeof resolvePlan>>, source: 'build' | 'base'): Promise<OwnImage> {
  if (!cloud) throw new CredentialsError(`--image-source ${source} needs AWS credentials, even for a dry run`);
  const version = plan.version.value === 'latest' ? sourced(latestCatalogVersion(await loadAwsCatalog()), 'catalog', 'newest published') : plan.version;
  if (source === 'build') {
    if (!plan.sshCidrs.value.length) {
      throw new UsageError('--image-source build provisions a builder over SSH: --ssh-cidr must name this machine\'s address (not none)');
    }
    const found = await cloud.findImage({ version: version.value, size: plan.size.value });
    if (found?.source === 'built') {
      return { image: sourced({ id: found.id, name: found.name, source: 'built' }, 'discovered', 'built by sourcegraph-launch'), version };
    }
    return { image: sourced({ id: '<ImageId from build-image>', name: `built for ${version.value}`, source: 'built' }, 'default', 'build-image runs first'), version, buildFirst: true };
  }
  const base = await cloud.findBuildBaseImage();
  if (!base) throw new CloudError('base-image-not-found', `No Amazon Linux 2023 x86_64 image is visible in ${plan.region.value}`);
  const { firstBootUserData } = await import('./first-boot-user-data.js');
  const { locateProvisionBundle } = await import('./provision-bundle.js');
  const userData = firstBootUserData(locateProvisionBundle(deps.env.SOURCEGRAPH_LAUNCH_PROVISION_DIR), { version: version.value, size: plan.size.value });
  return {
    image: sourced({ id: base.id, name: base.name, source: 'published' }, 'discovered', 'plain OS, provisioned at first boot'),
    version,
    userDataBase64: userData.base64,
  };
}

/**
 * The generated key of a deployment: created once, then reused. A private key is never overwritten:
 * when its `.pub` went missing, the public key is derived from the private key again.
 */
async function ensureGeneratedKey(privateKeyPath: string, comment: string): Promise<string> {
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

function privateKeyFor(plan: LaunchPlan, identityFile: string | undefined): string | undefined {
  const key = plan.sshKey.value;
  if (identityFile) return identityFile;
  if (key.mode === 'generate') return key.privateKeyPath;
  if (key.mode === 'import') {
    const guess = key.publicKeyPath.replace(/\.pub$/, '');
    return guess !== key.publicKeyPath && existsSync(guess) ? guess : undefined;
  }
  return undefined;
}

export interface LaunchResult {
  name: string;
  cloud: 'aws';
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

export async function runLaunch(deps: Deps, flags: LaunchFlags): Promise<LaunchResult | { plan: unknown; requests: CloudRequest[] } | undefined> {
  const { io } = deps;
  const v = validateLaunchFlags(flags);
  const partial = await resolvePlan(deps, flags, v);
  const imageSource = v.imageSource;

  // Credentials first: a clear exit 3 before anything else touches the account. A dry run
  // without credentials works offline from the shipped catalog.
  let cloud: Cloud | undefined = await deps.cloud('aws', partial.region.value, { profile: flags.profile });
  let account = '<account>';
  try {
    account = (await cloud.whoAmI()).account;
  } catch (e) {
    if (flags.dryRun && e instanceof CredentialsError && e.code !== 'permission-denied') {
      io.warn(`No usable AWS credentials (${e.message.split('\n')[0]}); the dry run works offline from the shipped image catalog.`);
      cloud = undefined;
    } else throw e;
  }

  const dataVolume = cloud ? await chooseDataVolume(deps, cloud, partial, v) : undefined;
  if (dataVolume?.value.mode === 'existing') {
    if (imageSource === 'base') throw new UsageError('--data-volume vol-… cannot be combined with --image-source base yet: use published or build');
    const kept = dataVolume.value;
    if (kept.version && partial.version.source === 'flag' && partial.version.value !== kept.version) {
      throw new UsageError(`--version ${partial.version.value}: the kept data volume ${kept.volumeId} holds data of Sourcegraph ${kept.version}`, {
        code: 'data-version-mismatch',
        remediation: `Launch it at its own version (--version ${kept.version}), then \`${deps.program} upgrade ${partial.name.value} --to ${partial.version.value}\` (upgrades go one minor at a time; migrations never run backwards).`,
      });
    }
    if (kept.version) partial.version = sourced(kept.version, 'discovered', `the version of the data on ${kept.volumeId}`);
    partial.dataSizeGiB = sourced(kept.sizeGiB, 'discovered', `${kept.volumeId}`);
  }
  const own = imageSource === 'published' ? undefined : await resolveOwnImage(deps, cloud, partial, imageSource);
  const { image, version } = own ?? (await resolveImage(cloud, partial, deps.program));
  const { imageFlag: _imageFlag, ...rest } = partial;
  const plan: LaunchPlan = {
    ...rest,
    image,
    version,
    imageSource: sourced(imageSource, flags.imageSource ? 'flag' : 'default'),
    schedule: sourced(v.schedule, v.schedule ? 'flag' : 'default'),
    ...(dataVolume ? { dataVolume } : {}),
  };
  const name = plan.name.value;
  const region = plan.region.value;
  const zones = await checkInstanceType(cloud, plan);
  if (zones) {
    plan.zones = sourced(zones, 'discovered', `offer ${plan.instanceType.value}${plan.dataVolume?.value.mode === 'existing' ? ' and hold the kept data volume' : ''}`);
    // Before anything is created: the subnet (given or default) must be in one of those zones.
    await cloud!.resolvePlacement(plan.subnet.value, zones);
  }
  const command = `${equivalentCommand(plan, deps.program)}${flags.update ? ' --update' : ''}`;

  // A deployment of this name may exist already, made from any machine: launch resumes it or
  // leaves it alone, and changes nothing that differs from what it was launched with (--update
  // applies access-rule changes, and only those).
  const drift = cloud ? await reconcile(deps, cloud, plan, flags, command) : undefined;
  const header = !drift?.exists
    ? 'sourcegraph-launch will create this deployment:'
    : drift.ruleChanges.length && flags.update
      ? `Deployment ${name} exists${drift.instanceId ? ` (instance ${drift.instanceId})` : ''}, will be updated:\n${describeRuleChanges(drift.ruleChanges).map((l) => `  ${l}`).join('\n')}\nIts settings:`
      : `Deployment ${name} exists${drift.instanceId ? ` (instance ${drift.instanceId})` : ''} with these settings; nothing is changed, every resource is checked and waited for:`;
  io.info(`\n${header}\n${formatTable(summaryRows(plan))}\n`);
  io.info(`Equivalent command for CI:\n  ${command}\n`);

  // The key pair request needs the public key; a dry run shows a placeholder instead of creating a file.
  const journalSeed = randomBytes(6).toString('hex');
  if (flags.dryRun) {
    const spec = planToLaunchSpec(plan, { clientToken: clientTokenFor(name, journalSeed, 'instance'), publicKey: plan.sshKey.value.mode === 'import' ? readFileSync(plan.sshKey.value.publicKeyPath, 'utf8').trim() : undefined });
    if (own?.userDataBase64) spec.userDataBase64 = own.userDataBase64;
    const requestCloud = cloud ?? (await deps.cloud('aws', region, { profile: flags.profile }));
    const requests = requestCloud.launchRequests(spec);
    if (v.schedule) requests.push(...requestCloud.snapshotScheduleRequests(scheduleSpec(name, v.schedule, flags.dlmRole, account)));
    if (own?.buildFirst) io.info(`No image of Sourcegraph ${version.value} was built in ${region} yet: build-image runs first (see \`${deps.program} build-image --dry-run\`).`);
    if (cloud && !own?.buildFirst) {
      await cloud.checkLaunchPermissions(spec, { keyName: plan.sshKey.value.mode === 'existing' ? plan.sshKey.value.keyName : '', securityGroupId: '', subnetId: plan.subnet.value });
      io.success('AWS accepted a RunInstances dry run: the credentials may launch this instance.');
    }
    const out = { plan: planToJson(plan), requests };
    if (io.json) io.result(out);
    else {
      io.info('Dry run: these mutating requests would be sent, in order:');
      io.info(formatRequests(requests));
      io.info('Nothing was changed.');
    }
    return out;
  }

  if (io.interactive && !flags.yes) {
    const ok = await io.confirm({ message: `Launch ${name} in ${region}?`, default: true });
    if (!ok) throw new DeclinedError('Answered no: nothing changed.', { remediation: 'Run the command again when ready.' });
  }
  if (!cloud) throw new CredentialsError('No AWS credentials');

  // Save answers for next time (interactive runs only: CI should say everything explicitly).
  if (io.interactive) {
    deps.state.setPreferences({ region, size: plan.size.value, allowCidr: plan.allowCidrs.value.join(',') });
  }

  if (own?.buildFirst) {
    // The same code path as `build-image`, with the deployment's region, size and SSH CIDRs.
    const { buildImage } = await import('./build-image.js');
    const built = await buildImage(deps, cloud, {
      region,
      version: plan.version.value,
      size: plan.size.value,
      sshCidrs: plan.sshCidrs.value,
      subnet: plan.subnet.value,
      kmsKey: plan.kmsKey.value,
      sshUser: plan.sshUser.value,
      timeoutMinutes: 120,
    });
    plan.image = sourced({ id: built.imageId, name: built.imageName, source: 'built' }, 'discovered', 'built by build-image just now');
  }

  const release = deps.state.lock('aws', region, name);
  try {
    return await applyLaunch(deps, cloud, plan, flags, { userDataBase64: own?.userDataBase64, account });
  } finally {
    release();
  }
}

/**
 * The instance type must exist and be offered in the region: with credentials the zones that offer
 * it (DescribeInstanceTypeOfferings), intersected with a kept data volume's zone; offline, the known
 * sizes of the preset families (the price file's list). Exit 2 before anything is created.
 */
async function checkInstanceType(cloud: Cloud | undefined, plan: LaunchPlan): Promise<string[] | undefined> {
  const type = plan.instanceType.value;
  const region = plan.region.value;
  const whose = plan.instanceType.source === 'preset' ? `the ${plan.size.value} preset's instance type ${type}` : `--instance-type ${type}`;
  const family = type.split('.')[0]!;
  const siblings = knownInstanceTypes().filter((t) => t.startsWith(`${family}.`));
  if (!cloud) {
    if (siblings.length && !siblings.includes(type)) {
      throw new UsageError(`${whose} does not exist. Sizes of ${family}: ${siblings.join(', ')}`, { code: 'instance-type-unknown' });
    }
    return undefined;
  }
  const offered = await cloud.instanceTypeZones(type);
  if (!offered.length) {
    throw new UsageError(`${whose} is not offered in ${region}${siblings.length && !siblings.includes(type) ? ` (it does not exist; sizes of ${family}: ${siblings.join(', ')})` : ''}`, {
      code: 'instance-type-not-offered',
      remediation: `Pick one the region offers (\`aws ec2 describe-instance-type-offerings --region ${region} --filters Name=instance-type,Values=m6i.*,m7a.*\`) and pass it with --instance-type, or another --region.`,
    });
  }
  const kept = plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value.availabilityZone : undefined;
  if (kept && !offered.includes(kept)) {
    throw new UsageError(`${whose} is not offered in ${kept}, the zone of the kept data volume (offered in ${offered.join(', ')})`, {
      code: 'instance-type-not-offered',
      remediation: 'Pass --instance-type with a type offered in that zone: the volume can only attach there.',
    });
  }
  return kept ? [kept] : offered;
}

/**
 * A deployment whose instance is gone but whose data a `destroy` kept: launch on that data (the
 * wizard asks; CI must say --data-volume vol-…|new), or on a new, empty volume with the kept one
 * left untouched. Undefined when there is nothing kept and no flag.
 */
async function chooseDataVolume(deps: Deps, cloud: Cloud, plan: Awaited<ReturnType<typeof resolvePlan>>, v: Validated): Promise<Sourced<DataVolumeChoice> | undefined> {
  const name = plan.name.value;
  const existing = await cloud.findDeployment(name);
  const kept = existing.instance ? [] : dataVolumesOf(existing).filter((x) => !x.attachedTo && x.tags[TAG_ROLE] !== 'rollback-data');
  const choice = (x: VolumeInfo): DataVolumeChoice => ({ mode: 'existing', volumeId: x.id, availabilityZone: x.availabilityZone, sizeGiB: x.sizeGiB, version: normalizeVersion(x.tags[TAG_VERSION] ?? '') });
  const describe = (x: VolumeInfo) => `${x.id}: ${x.sizeGiB} GiB, data of ${x.tags[TAG_VERSION] ?? 'an unknown version'}, in ${x.availabilityZone}`;
  if (v.dataVolume === 'new') return sourced({ mode: 'new' }, 'flag');
  if (v.dataVolume) {
    const found = kept.find((x) => x.id === v.dataVolume) ?? (await cloud.describeVolume(v.dataVolume));
    if (!found || found.tags[TAG_DEPLOYMENT] !== name) {
      throw new UsageError(`--data-volume ${v.dataVolume} is not a data volume of deployment ${name} in ${plan.region.value}`, {
        code: 'data-volume-not-found',
        remediation: kept.length ? `Its kept data volumes: ${kept.map(describe).join('; ')}.` : `Deployment ${name} has no kept data volume; omit --data-volume.`,
      });
    }
    if (found.attachedTo) throw new UsageError(`--data-volume ${found.id} is attached to ${found.attachedTo}; only a detached volume can be launched on`, { code: 'data-volume-in-use' });
    return sourced(choice(found), 'flag');
  }
  if (!kept.length) return undefined;
  if (!deps.io.interactive) {
    throw new MissingInputError('--data-volume', `because deployment ${name} has kept data (${kept.map(describe).join('; ')})`, {
      remediation: `Launch on it with --data-volume ${kept[0]!.id}, or start empty with --data-volume new (the kept volume is left untouched).`,
    });
  }
  const picked = await deps.io.select<string>({
    message: `Deployment ${name} has data a destroy kept. Launch on it?`,
    choices: [
      ...kept.map((x) => ({ name: `Yes: ${describe(x)}`, value: x.id })),
      { name: 'No: a new, empty data volume (the kept one stays untouched)', value: 'new' },
    ],
  });
  const hit = kept.find((x) => x.id === picked);
  return hit ? sourced(choice(hit), 'prompt') : sourced({ mode: 'new' }, 'prompt');
}

/** The fingerprint of the public key this run would use; undefined when it would make a new one. */
async function localKeyFingerprint(plan: LaunchPlan): Promise<string | undefined> {
  const key = plan.sshKey.value;
  if (key.mode === 'import') return fingerprintOfPublicKeyLine(readFileSync(key.publicKeyPath, 'utf8'));
  if (key.mode !== 'generate' || !existsSync(key.privateKeyPath)) return undefined;
  if (existsSync(`${key.privateKeyPath}.pub`)) return fingerprintOfPublicKeyLine(readFileSync(`${key.privateKeyPath}.pub`, 'utf8'));
  const { publicKeyOfPrivateKey } = await import('../remote/ssh2-remote.js');
  return fingerprintOfPublicKeyLine(await publicKeyOfPrivateKey(readFileSync(key.privateKeyPath, 'utf8'), ''));
}

/**
 * Compares the deployment as it exists with the plan; throws (exit 1, nothing changed) when they
 * differ in anything this run may not change.
 */
async function reconcile(deps: Deps, cloud: Cloud, plan: LaunchPlan, flags: LaunchFlags, command: string): Promise<Drift> {
  const name = plan.name.value;
  const existing = await cloud.findDeployment(name);
  const drift = diffDeployment(plan, existing, { localKeyFingerprint: await localKeyFingerprint(plan), command: command.replace(/ --update$/, '') });
  // A launch this machine started and that stopped before its instance may only be missing rules.
  const previous = deps.state.getDeployment('aws', plan.region.value, name)?.journal;
  const resumingHere = previous !== undefined && !previous.finishedAt && previous.command === 'launch' && !existing.instance;
  const halfMadeRules = resumingHere && drift.ruleChanges.every((c) => c.change === 'open');
  const blocking = drift.differences.filter((d) => !(d.access && (flags.update || halfMadeRules)));
  if (blocking.length) {
    const lines = blocking.map((d) => `  ${d.setting}: exists as ${d.exists}, this run asks for ${d.wanted}\n    → ${d.fix}`);
    throw new LaunchError(
      'deployment-differs',
      ExitCode.failed,
      `Deployment ${name} already exists in ${plan.region.value}${drift.instanceId ? ` (instance ${drift.instanceId})` : ''} and differs from this run; nothing was changed:\n${lines.join('\n')}`,
      {
        remediation: blocking.every((d) => d.access)
          ? `Re-run with --update to apply the access-rule changes: ${describeRuleChanges(drift.ruleChanges).join('; ')}.`
          : 'Make the flags match what exists (above), or use the command named for each change. launch never rewrites an existing deployment.',
        details: { differences: blocking, ruleChanges: drift.ruleChanges },
      },
    );
  }
  return drift;
}

async function applyLaunch(
  deps: Deps,
  cloud: Cloud,
  plan: LaunchPlan,
  flags: LaunchFlags,
  { userDataBase64, account }: { userDataBase64?: string; account: string },
): Promise<LaunchResult> {
  const { io, state } = deps;
  const name = plan.name.value;
  const region = plan.region.value;

  // Reconcile with what exists before acting: an existing deployment is resumed, never duplicated.
  const existing = await cloud.findDeployment(name);

  const keptData = plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value : undefined;
  const orphaned = existing.instance ? [] : dataVolumesOf(existing).filter((v) => !v.attachedTo && v.id !== keptData?.volumeId);
  if (orphaned.length) {
    io.info(`Kept data volume(s) of ${name} stay untouched: ${orphaned.map((v) => v.id).join(', ')}.`);
  }

  const previous = state.getDeployment('aws', region, name);
  let journal: Journal;
  if (previous?.journal && !previous.journal.finishedAt && previous.journal.command === 'launch') {
    journal = previous.journal;
    const note = describeResume(journal);
    if (note) io.info(note);
  } else {
    journal = newJournal('launch', randomBytes(6).toString('hex'));
    if (existing.instance) io.info(`Deployment ${name} already exists (instance ${existing.instance.id}); checking every resource and waiting for it.`);
  }

  const record: DeploymentRecord = {
    ...(previous ?? {}),
    name,
    cloud: 'aws',
    region,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    version: plan.version.value,
    size: plan.size.value,
    sshUser: plan.sshUser.value,
    plan: planToJson(plan),
    journal,
  };
  const save = (j: Journal) => state.putDeployment({ ...record, journal: j });
  save(journal);

  let publicKey: string | undefined;
  const key = plan.sshKey.value;
  if (key.mode === 'generate') {
    publicKey = await ensureGeneratedKey(key.privateKeyPath, `sourcegraph-launch ${name} ${region}`);
    record.privateKeyPath = key.privateKeyPath;
  } else if (key.mode === 'import') {
    publicKey = readFileSync(key.publicKeyPath, 'utf8').trim();
  }
  const spec: LaunchSpec = planToLaunchSpec(plan, { clientToken: clientTokenFor(name, journal.id, 'instance'), publicKey });
  if (userDataBase64) spec.userDataBase64 = userDataBase64;

  const ctx: { refs: Partial<LaunchRefs>; instance?: InstanceInfo; publicIp?: string; allocationId?: string } = { refs: {} };
  const steps: Step<typeof ctx>[] = [
    {
      id: 'key-pair',
      title: 'SSH key pair',
      run: async (c) => {
        const kp = await cloud.ensureKeyPair(spec);
        c.refs.keyName = kp.name;
        return { summary: kp.name, result: { keyName: kp.name } };
      },
    },
    {
      id: 'security-group',
      title: 'Security group',
      run: async (c) => {
        // Only a zone that offers the type (and holds a kept data volume, which attaches only there).
        const placement = await cloud.resolvePlacement(spec.subnetId, plan.zones?.value);
        c.refs.subnetId = placement.subnetId;
        const sg = await cloud.ensureSecurityGroup(spec, placement);
        c.refs.securityGroupId = sg.id;
        const ports = spec.sshCidrs.length ? '80/443 and 22' : '80/443';
        return { summary: `${sg.id} (${ports} from the CIDRs you named)`, result: { securityGroupId: sg.id, subnetId: placement.subnetId } };
      },
    },
    {
      id: 'instance',
      title: `Instance (${spec.instanceType}, ${spec.imageId})`,
      run: async (c) => {
        c.instance = await cloud.ensureInstance(spec, c.refs as LaunchRefs);
        // The attempt that made it (a terminated attempt's instance is never taken back).
        const result: Record<string, string> = { instanceId: c.instance.id };
        if (c.instance.idempotencyKey && c.instance.idempotencyKey !== spec.clientToken) result.attempt = c.instance.idempotencyKey;
        return { summary: c.instance.id, result };
      },
    },
    ...(keptData
      ? [
          {
            id: 'data-volume',
            title: `Kept data volume ${keptData.volumeId}, attached before Sourcegraph's first boot`,
            run: async (c: typeof ctx) => {
              const id = c.instance!.id;
              const volume = await cloud.describeVolume(keptData.volumeId);
              if (volume?.attachedTo !== id) {
                // The boot guard powers an instance without its data off at once; stopping it here
                // makes that certain before the volume goes in.
                if ((await cloud.describeInstance(id))?.state !== 'stopped') await cloud.stopInstance(id);
                await cloud.waitForInstanceState(id, 'stopped', 15 * 60_000);
                await cloud.attachVolume(keptData.volumeId, id, spec.dataVolume.device, 10 * 60_000);
              }
              if ((await cloud.describeInstance(id))?.state !== 'running') await cloud.startInstance(id);
              await cloud.waitForInstanceState(id, 'running', 15 * 60_000);
              c.instance = (await cloud.describeInstance(id)) ?? c.instance;
              return { summary: `${keptData.volumeId} → ${id} ${spec.dataVolume.device}`, result: { volumeId: keptData.volumeId } };
            },
          },
        ]
      : []),
    {
      id: 'address',
      title: 'Elastic IP',
      run: async (c) => {
        const addr = await cloud.ensureAddress(spec, c.instance!.id);
        if (!addr) return { summary: 'none (--elastic-ip none): the address changes if the instance stops' };
        c.publicIp = addr.publicIp;
        c.allocationId = addr.allocationId;
        return { summary: `${addr.publicIp} (${addr.allocationId})`, result: { allocationId: addr.allocationId, publicIp: addr.publicIp } };
      },
    },
  ];
  const schedule = plan.schedule?.value;
  if (schedule) {
    steps.push({
      id: 'backup-schedule',
      title: 'Daily data-volume snapshots (Data Lifecycle Manager)',
      run: async () => {
        const policy = await cloud.ensureSnapshotSchedule(scheduleSpec(name, schedule, flags.dlmRole, account));
        return { summary: `${policy.policyId}, keeping ${schedule.retain}`, result: { policyId: policy.policyId } };
      },
    });
  }

  try {
    await runSteps(steps, ctx, { journal, save, io, signal: deps.signal, fault: deps.env.SOURCEGRAPH_LAUNCH_FAULT });
  } catch (e) {
    if (e instanceof LaunchError && NO_CAPACITY.has(e.code)) {
      // Nothing will run here until the user changes zone, type or quota: leave nothing behind.
      const removed = await undoPartialLaunch(cloud, name);
      state.deleteDeployment('aws', region, name);
      if (removed.length) io.info(`Removed what this launch had created: ${removed.join(', ')}.`);
      throw e;
    }
    throw withResumeHint(e, resumeCommand(deps, plan));
  }
  const instance = ctx.instance!;
  record.instanceId = instance.id;
  const host = ctx.publicIp ?? (await cloud.describeInstance(instance.id))?.publicIp;
  record.url = host ? `http://${host}` : undefined;
  save(journal);

  const resources = {
    instanceId: instance.id,
    securityGroupId: ctx.refs.securityGroupId,
    keyName: ctx.refs.keyName,
    allocationId: ctx.allocationId,
    dataVolumeId: keptData?.volumeId ?? instance.volumes.find((x) => x.device === spec.dataVolume.device)?.volumeId,
  };
  const base: LaunchResult = { name, cloud: 'aws', region, version: plan.version.value, instanceId: instance.id, publicIp: host, url: record.url, ready: false, resources };

  const privateKeyPath = privateKeyFor(plan, flags.identityFile);
  if (plan.sshCidrs.value.length && !privateKeyPath && plan.wait) {
    io.warn('No private key for SSH (--key-name without --identity-file): the wait skips the SSH stages and relies on the cloud status and HTTP.');
  }
  const report = await waitUntilReady(
    { cloud, connectRemote: deps.connectRemote, io, clock: deps.clock, httpGet: deps.httpGet, signal: deps.signal },
    {
      instanceId: instance.id,
      version: plan.version.value,
      deploymentName: name,
      host,
      ssh:
        plan.sshCidrs.value.length && privateKeyPath
          ? { user: plan.sshUser.value, privateKeyPath, knownHostsPath: state.knownHostsPath }
          : undefined,
      totalTimeoutMs: plan.timeoutMinutes.value * 60_000,
      holdMs: plan.holdSeconds.value * 1000,
      pollMs: deps.env.SOURCEGRAPH_LAUNCH_POLL_MS ? Number(deps.env.SOURCEGRAPH_LAUNCH_POLL_MS) : undefined,
      resumeCommand: resumeCommand(deps, plan),
      stopAfter: plan.wait ? undefined : 'instance-running',
    },
  );
  journal.steps.wait = { status: 'done', at: new Date().toISOString() };
  journal.finishedAt = new Date().toISOString();
  save(journal);

  const result: LaunchResult = {
    ...base,
    url: report.url || base.url,
    ready: plan.wait,
    needsSiteInit: report.needsSiteInit,
    stages: report.stages,
  };
  if (io.json) io.result(result);
  else if (plan.wait) {
    io.success(`Sourcegraph ${plan.version.value} is serving at ${result.url}`);
    for (const line of describeReady(report).slice(1)) io.info(line);
    io.info(`Put TLS in front (an ALB with an ACM certificate) before sharing it; port 443 serves a self-signed certificate.`);
    io.info(`See it with \`${deps.program} status ${name} --region ${region}\`; remove it with \`${deps.program} destroy ${name} --region ${region}\`.`);
  } else {
    io.success(`Instance ${instance.id} is running${result.url ? ` at ${result.url}` : ''}; Sourcegraph takes ~5–10 minutes to start.`);
    io.info(`Check it with \`${deps.program} status ${name} --region ${region}\`.`);
  }
  return result;
}

/** AWS had no room for the instance: retrying the same request will not help. */
const NO_CAPACITY = new Set(['insufficient-capacity', 'vcpu-limit', 'instance-type-unavailable']);

/**
 * Deletes the security group and key pair a launch made before RunInstances failed, but only when
 * no instance of the deployment exists (a resumed launch of a running deployment keeps them).
 */
async function undoPartialLaunch(cloud: Cloud, name: string): Promise<string[]> {
  const found = await cloud.findDeployment(name);
  if (found.instance || found.otherInstances.length) return [];
  const removed: string[] = [];
  for (const g of found.securityGroups) {
    await cloud.deleteSecurityGroup(g.id);
    removed.push(`security group ${g.id}`);
  }
  for (const k of found.keyPairs.filter((k) => k.managed)) {
    await cloud.deleteKeyPair(k.name);
    removed.push(`key pair ${k.name}`);
  }
  return removed;
}

function resumeCommand(deps: Deps, plan: LaunchPlan): string {
  return equivalentCommand(plan, deps.program);
}

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
