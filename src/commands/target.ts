// Which deployment a command acts on: the cloud (--cloud, else the local record's, else the default
// cloud), the name (argument or --name, default "sourcegraph") and the region (--region, else the
// local record of that name, else the cloud's region variable). Works with no local state at all:
// the cloud is searched by labels.
import type { Scope } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider, providerFor, validateCloud } from '../cloud/providers.js';
import { MissingInputError, UsageError } from '../core/errors.js';
import { validateName, validateRegion } from '../core/validate.js';
import type { Deps } from './deps.js';
import { readProviderFlags } from './provider-flags.js';

export interface TargetFlags {
  cloud?: string;
  region?: string;
  name?: string;
  providerFlags?: Record<string, string>;
}

export interface Target {
  provider: ProviderDescriptor;
  /** The provider's id, as records and JSON name it. */
  cloud: string;
  region: string;
  name: string;
  scope: Scope;
}

/**
 * The deployment name from the `[name]` argument or `--name`: they are the same thing, so one of
 * them, or both with one value, is fine; two different values are bad input.
 */
export function oneName(nameArg: string | undefined, nameFlag: string | undefined): string | undefined {
  if (nameArg !== undefined && nameFlag !== undefined && nameArg !== nameFlag) {
    throw new UsageError(`The deployment name was given twice, differently: "${nameArg}" and --name ${nameFlag}. Give it once`, { code: 'conflicting-names' });
  }
  return nameArg ?? nameFlag;
}

/** The scope of a region on a cloud, with the cloud's scope flags (a profile) and environment. */
export function scopeOf(deps: Pick<Deps, 'env'>, provider: ProviderDescriptor, region: string, providerFlags: Record<string, string> = {}, deployment?: string): Scope {
  return provider.scope(region, readProviderFlags(provider, providerFlags).scopeParams, deps.env, deployment);
}

/** The region from the cloud's environment variable, validated, or undefined. */
export function regionFromEnv(deps: Pick<Deps, 'env'>, provider: ProviderDescriptor): { region: string; variable: string } | undefined {
  const env = provider.regionFromEnv(deps.env);
  return env && { region: validateRegion(env.region, provider.regions, ` (from ${env.variable})`), variable: env.variable };
}

export function resolveTarget(deps: Deps, nameArg: string | undefined, flags: TargetFlags): Target {
  let name = oneName(nameArg, flags.name);
  const records = deps.state.listDeployments();
  let provider = flags.cloud ? validateCloud(flags.cloud) : undefined;
  if (!name) {
    const inRegion = records.filter((r) => (!flags.region || r.region === flags.region) && (!provider || r.cloud === provider.id));
    name = inRegion.length === 1 ? inRegion[0]!.name : 'sourcegraph';
  }
  name = validateName(name);
  if (!provider) {
    // The cloud of the local record of that name, when there is exactly one.
    const clouds = [...new Set(records.filter((r) => r.name === name && (!flags.region || r.region === flags.region)).map((r) => r.cloud))];
    provider = clouds.length === 1 ? providerFor(clouds[0]!) : defaultProvider();
  }
  const target = (region: string): Target => ({ provider: provider!, cloud: provider!.id, region, name: name!, scope: scopeOf(deps, provider!, region, flags.providerFlags, name) });
  if (flags.region) return target(validateRegion(flags.region, provider.regions));
  const known = records.filter((r) => r.name === name && r.cloud === provider!.id);
  if (known.length === 1) return target(known[0]!.region);
  if (known.length > 1) {
    throw new UsageError(`Deployment ${name} exists in several regions (${known.map((r) => r.region).join(', ')}): pass --region`);
  }
  const env = regionFromEnv(deps, provider);
  if (env) return target(env.region);
  throw new MissingInputError('--region', `to find deployment ${name} (no local record of it)`);
}
