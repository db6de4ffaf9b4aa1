// Which deployment a command acts on: the name (argument or --name, default "sourcegraph") and
// the region (--region, else the local record of that name, else AWS_REGION). Works with no local
// state at all: the cloud is searched by tags.
import { MissingInputError, UsageError } from '../core/errors.js';
import { validateCloud, validateName, validateRegion } from '../core/validate.js';
import type { Deps } from './deps.js';

export interface TargetFlags {
  cloud?: string;
  region?: string;
  name?: string;
}

export interface Target {
  cloud: 'aws';
  region: string;
  name: string;
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

export function resolveTarget(deps: Deps, nameArg: string | undefined, flags: TargetFlags): Target {
  let name = oneName(nameArg, flags.name);
  const cloud = flags.cloud ? validateCloud(flags.cloud) : 'aws';
  const records = deps.state.listDeployments();
  if (!name) {
    const inRegion = flags.region ? records.filter((r) => r.region === flags.region) : records;
    name = inRegion.length === 1 ? inRegion[0]!.name : 'sourcegraph';
  }
  name = validateName(name);
  if (flags.region) return { cloud, region: validateRegion(flags.region), name };
  const known = records.filter((r) => r.name === name && r.cloud === cloud);
  if (known.length === 1) return { cloud, region: known[0]!.region, name };
  if (known.length > 1) {
    throw new UsageError(`Deployment ${name} exists in several regions (${known.map((r) => r.region).join(', ')}): pass --region`);
  }
  const envRegion = deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION;
  if (envRegion) return { cloud, region: validateRegion(envRegion), name };
  throw new MissingInputError('--region', `to find deployment ${name} (no local record of it)`);
}
