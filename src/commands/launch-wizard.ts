// `launch`, steps 1 and 2: every flag that was given is checked before anything else happens, then
// the wizard asks only what no flag gave (never when not interactive: a missing required value
// exits 2 naming its flag). The cloud's own values (regions, sizes, words, flags) come from its
// descriptor.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { allProviders, defaultProvider, validateCloud } from '../cloud/providers.js';
import type { LaunchFlags } from '../cli/commands/launch.js';
import { catalogRegions, catalogVersions, latestCatalogVersion, type ImageCatalog } from '../core/catalog.js';
import { MissingInputError, UsageError } from '../core/errors.js';
import { groupThousands } from '../core/format.js';
import type { LaunchPlan, Sourced, SshKeyChoice } from '../core/launch-plan.js';
import { allPresets, type SizeName } from '../core/presets.js';
import { formatMonthlyCost } from '../core/prices.js';
import {
  IMAGE_SOURCES,
  isOpenToWorld,
  validateCidrList,
  validateDataSize,
  validateName,
  validateRegion,
  validateSize,
  validateSshCidrs,
  validateSshUser,
  validateTimeoutMinutes,
  validateVersion,
} from '../core/validate.js';
import type { Deps } from './deps.js';
import { readProviderFlags, type ProviderFlagValues } from './provider-flags.js';
import { validateSchedule } from './schedule.js';

const DEFAULT_TIMEOUT_MINUTES = 45;
const DEFAULT_HOLD_SECONDS = 90;

export function sourced<T>(value: T, source: Sourced<T>['source'], detail?: string): Sourced<T> {
  return detail ? { value, source, detail } : { value, source };
}

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

export function checkPublicKeyFile(path: string): string {
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

/** Step 1: every flag that was given is checked before anything else happens. */
export function validateLaunchFlags(flags: LaunchFlags) {
  const provider = flags.cloud !== undefined ? validateCloud(flags.cloud) : defaultProvider();
  const cloudFlags = readProviderFlags(provider, flags.providerFlags);
  const size = flags.size !== undefined ? validateSize(flags.size) : undefined;
  const sshCidrs = flags.sshCidr && flags.sshCidr.length ? validateSshCidrs(flags.sshCidr, { iKnowSshIsPublic: Boolean(flags.iKnowSshIsPublic) }) : undefined;
  if (flags.sshKey && cloudFlags.existingSshKey) {
    throw new UsageError(`--ssh-key and ${provider.planFlags.existingSshKey} cannot be used together: pick one way to get the SSH key`);
  }
  const holdSeconds = flags.holdSeconds !== undefined ? Number(flags.holdSeconds) : undefined;
  if (holdSeconds !== undefined && (!Number.isInteger(holdSeconds) || holdSeconds < 0 || holdSeconds > 3600)) {
    throw new UsageError(`--hold-seconds: "${flags.holdSeconds}" must be a whole number of seconds between 0 and 3600`);
  }
  const sshKey = flags.sshKey !== undefined ? checkPublicKeyFile(flags.sshKey) : undefined;
  const image = flags.image !== undefined ? provider.validateImageId(flags.image) : undefined;
  const dataVolume = flags.dataVolume !== undefined ? (flags.dataVolume.trim().toLowerCase() === 'new' ? 'new' : provider.validateDiskId(flags.dataVolume)) : undefined;
  if (dataVolume && dataVolume !== 'new' && flags.dataSize !== undefined) {
    throw new UsageError(`--data-size and --data-volume ${provider.diskIdExample} cannot be used together: the kept volume keeps its size`);
  }
  const minData = provider.sizes[size ?? 'XS'].dataDisk.sizeGiB;
  return {
    provider,
    cloudFlags,
    dataVolume,
    imageSource: validateImageSource(flags.imageSource, image),
    schedule: validateSchedule(flags),
    cloud: flags.cloud !== undefined ? provider.id : undefined,
    region: flags.region !== undefined ? validateRegion(flags.region, provider.regions) : undefined,
    size,
    version: flags.version !== undefined ? validateVersion(flags.version) : undefined,
    image,
    allowCidrs: flags.allowCidr && flags.allowCidr.length ? validateCidrList(flags.allowCidr, '--allow-cidr') : undefined,
    sshCidrs,
    sshKey,
    keyName: cloudFlags.existingSshKey,
    name: flags.name !== undefined ? validateName(flags.name) : undefined,
    instanceType: flags.instanceType !== undefined ? provider.validateMachineType(flags.instanceType) : undefined,
    dataSize: flags.dataSize !== undefined ? validateDataSize(flags.dataSize, minData, provider.dataDiskLimit) : undefined,
    subnet: flags.subnet !== undefined ? provider.validateSubnet(flags.subnet) : undefined,
    sshUser: flags.sshUser !== undefined ? validateSshUser(flags.sshUser, provider.loginUser, provider.refusedLoginUsers && { ...provider.refusedLoginUsers, cloud: provider.displayName }) : undefined,
    timeout: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : undefined,
    holdSeconds,
    identityFile: flags.identityFile,
  };
}

export type Validated = ReturnType<typeof validateLaunchFlags>;

/** The plan before the image is known. */
export type PartialPlan = Omit<LaunchPlan, 'image'> & { imageFlag?: string };

/** Step 2: ask only what no flag gave; never ask when not interactive. */
export async function resolvePlan(deps: Deps, flags: LaunchFlags, v: Validated): Promise<{ plan: PartialPlan; provider: ProviderDescriptor; catalog?: ImageCatalog }> {
  const { io, state } = deps;
  const ask = io.interactive;
  const saved = (key: string) => state.getPreference(key);

  let provider = v.provider;
  let cloud: Sourced<string>;
  if (v.cloud) cloud = sourced(provider.id, 'flag');
  else if (ask) {
    const id = await io.select<string>({
      message: 'Cloud',
      choices: allProviders().map((p) => (p.available ? { name: p.displayName, value: p.id } : { name: p.displayName, value: p.id, disabled: '(coming soon)' })),
    });
    provider = validateCloud(id);
    cloud = sourced(provider.id, 'prompt');
  } else cloud = sourced(provider.id, 'default', allProviders().filter((p) => p.available).length === 1 ? 'the only cloud available yet' : undefined);

  const catalog = provider.publishedImages ? await provider.publishedImages() : undefined;
  const latest = catalog ? latestCatalogVersion(catalog) : undefined;
  let region: Sourced<string>;
  if (v.region) region = sourced(v.region, 'flag');
  else if (ask) {
    // Published images exist only where the catalog says; our own image or a plain base OS works anywhere.
    const available = catalog && latest && v.imageSource === 'published' && !v.image ? new Set(catalogRegions(catalog, { version: latest, size: 'XS' })) : new Set<string>(provider.regions);
    const regions: string[] = provider.regions.filter((r) => available.has(r));
    const def = saved('region') ?? provider.regionFromEnv(deps.env)?.region;
    const value = await io.select<string>({
      message: 'Region',
      choices: regions.map((r) => ({ name: r, value: r, description: provider.optInRegions.has(r) ? 'opt-in region: enable it in your account first' : undefined })),
      default: def && regions.includes(def) ? def : undefined,
    });
    region = sourced(value, value === saved('region') ? 'saved' : 'prompt');
  } else {
    const fromEnv = provider.regionFromEnv(deps.env);
    if (!fromEnv) throw new MissingInputError('--region');
    region = sourced(validateRegion(fromEnv.region, provider.regions, ` (from ${fromEnv.variable})`), 'environment', fromEnv.variable);
  }

  let size: Sourced<SizeName>;
  if (v.size) size = sourced(v.size, 'flag');
  else if (ask) {
    const def = saved('size');
    const value = await io.select<SizeName>({
      message: 'Size (if you fall between two sizes, choose the larger)',
      choices: allPresets().map((p) => {
        const on = provider.sizes[p.name];
        const cost = provider.monthlyCost({ region: region.value, machineType: on.machineType, root: provider.rootDisk, data: on.dataDisk, publicAddress: true });
        return { name: `${p.name.padEnd(2)}  up to ${groupThousands(p.users)} users, ${groupThousands(p.repos)} repos · ${on.machineType} · ${formatMonthlyCost(cost)}`, value: p.name };
      }),
      default: def as SizeName | undefined,
    });
    size = sourced(value, value === def ? 'saved' : 'prompt');
  } else size = sourced<SizeName>('XS', 'default');

  let version: Sourced<string>;
  if (v.version) version = sourced(v.version, 'flag');
  else if (ask && catalog && latest) {
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
        const sure = await io.confirm({ message: `${open.join(' and ')} opens SSH (port 22) to the whole internet. Open it to everyone anyway?`, default: false });
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
  const existingKeyFlag = provider.planFlags.existingSshKey;
  if (v.sshKey) keyAnswer = sourced({ mode: 'import', publicKeyPath: v.sshKey }, 'flag');
  else if (v.keyName) keyAnswer = sourced({ mode: 'existing', keyName: v.keyName }, 'flag');
  else if (ask && sshCidrs.value.length) {
    const mode = await io.select<'generate' | 'import' | 'existing'>({
      message: 'SSH key',
      choices: [
        { name: `Create a new ed25519 key (saved 0600 in ${state.keysDir})`, value: 'generate' },
        { name: 'Import one of my public keys (~/.ssh/*.pub)', value: 'import' },
        ...(existingKeyFlag ? [{ name: `Use a ${provider.terms.sshKey} that already exists in ${provider.displayName}`, value: 'existing' as const }] : []),
      ],
    });
    if (mode === 'generate') keyAnswer = sourced({ mode }, 'prompt');
    else if (mode === 'import') {
      const path = await io.input({ message: 'Path to the public key', validate: (p) => (existsSync(p) ? true : `${p} does not exist`) });
      keyAnswer = sourced({ mode, publicKeyPath: checkPublicKeyFile(path) }, 'prompt');
    } else {
      const keyName = await io.input({ message: `${provider.terms.sshKey[0]!.toUpperCase()}${provider.terms.sshKey.slice(1)} name` });
      const flag = provider.flags.find((f) => f.role === 'existing-ssh-key')!;
      keyAnswer = sourced({ mode, keyName: flag.validate(keyName) as string }, 'prompt');
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

  // The cloud's own scope (GCE project, Azure subscription and resource group): asked only when
  // missing (or, with a default, to confirm); the answers act as the flags would, also in the
  // equivalent command.
  if (ask && provider.wizardScopeQuestions) {
    const given = { ...(flags.providerFlags ?? {}) };
    for (const q of await provider.wizardScopeQuestions(readProviderFlags(provider, given).scopeParams, deps.env, name.value)) {
      const flag = provider.flags.find((f) => f.key === q.key);
      if (!flag) continue;
      const answer = await io.input({
        message: q.message,
        ...(q.default ? { default: q.default } : {}),
        validate: (text) => {
          try {
            flag.validate(text);
            return true;
          } catch (e) {
            return (e as Error).message;
          }
        },
      });
      given[q.key] = answer.trim();
    }
    flags.providerFlags = given;
    v.cloudFlags = readProviderFlags(provider, given);
  }

  const key = keyAnswer.value;
  const sshKey: Sourced<SshKeyChoice> = {
    ...keyAnswer,
    value: key.mode === 'generate' ? { mode: 'generate', privateKeyPath: join(state.keysDir, `${provider.id}-${region.value}-${name.value}`) } : key,
  };

  const preset = provider.sizes[size.value];
  let dataSizeGiB: Sourced<number> = sourced(preset.dataDisk.sizeGiB, 'preset');
  if (v.dataSize !== undefined) dataSizeGiB = sourced(validateDataSize(v.dataSize, preset.dataDisk.sizeGiB, provider.dataDiskLimit), 'flag');

  return {
    provider,
    ...(catalog ? { catalog } : {}),
    plan: {
      name,
      cloud,
      region,
      size,
      version,
      ...(v.image ? { imageFlag: v.image } : {}),
      instanceType: v.instanceType ? sourced(v.instanceType, 'flag') : sourced(preset.machineType, 'preset'),
      dataSizeGiB,
      allowCidrs,
      sshCidrs,
      iKnowSshIsPublic,
      sshKey,
      sshUser: v.sshUser ? sourced(v.sshUser, 'flag') : sourced(provider.loginUser, 'default'),
      subnet: v.subnet ? sourced<string | undefined>(v.subnet, 'flag') : sourced<string | undefined>(undefined, 'default'),
      encryptionKey: v.cloudFlags.encryptionKey ? sourced<string | undefined>(v.cloudFlags.encryptionKey, 'flag') : sourced<string | undefined>(undefined, 'default'),
      address: v.cloudFlags.address ? sourced(v.cloudFlags.address, 'flag') : sourced({ mode: 'new' as const }, 'default', 'the URL survives upgrades'),
      wait: flags.wait !== false,
      timeoutMinutes: v.timeout !== undefined ? sourced(v.timeout, 'flag') : sourced(DEFAULT_TIMEOUT_MINUTES, 'default'),
      holdSeconds: v.holdSeconds !== undefined ? sourced(v.holdSeconds, 'flag') : sourced(DEFAULT_HOLD_SECONDS, 'default'),
      providerFlags: providerFlagTexts(v.cloudFlags),
    },
  };
}

/** The cloud's flags that the equivalent command repeats (the schedule's role …), by property. */
function providerFlagTexts(values: ProviderFlagValues): Record<string, string> {
  return values.given;
}
