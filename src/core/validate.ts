// Validation of every flag value, run before any cloud call. Each validator returns the
// normalised value or throws UsageError naming the flag and the valid choices.
import { UsageError } from './errors.js';
import { isSizeName, SIZE_NAMES, type SizeName } from './presets.js';
import { normalizeVersion } from './versions.js';

/**
 * Every commercial AWS region (late 2026). A published image exists only in some of them (the
 * catalog says which); `--image-source build` and `base` work in any.
 */
export const AWS_REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'ca-west-1', 'mx-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-south-1', 'eu-south-2', 'eu-north-1',
  'il-central-1', 'me-south-1', 'me-central-1', 'af-south-1',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3',
  'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ap-south-1', 'ap-south-2', 'ap-east-1', 'ap-east-2',
] as const;

/** Regions an account must enable before use. */
export const AWS_OPT_IN_REGIONS = new Set([
  'ap-east-1', 'ap-east-2', 'me-south-1', 'me-central-1', 'af-south-1', 'eu-south-1', 'eu-south-2', 'eu-central-2',
  'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ap-south-2', 'ca-west-1',
  'il-central-1', 'mx-central-1',
]);

export const CLOUDS = ['aws', 'gcp', 'azure'] as const;
export type CloudName = (typeof CLOUDS)[number];
export const AVAILABLE_CLOUDS: readonly CloudName[] = ['aws'];

export function validateCloud(value: string): 'aws' {
  const v = value.trim().toLowerCase();
  const alias: Record<string, CloudName> = { gce: 'gcp', google: 'gcp' };
  const cloud = (alias[v] ?? v) as CloudName;
  if (!(CLOUDS as readonly string[]).includes(cloud)) {
    throw new UsageError(`--cloud: unknown cloud "${value}". Valid choices: aws (gcp and azure are coming)`);
  }
  if (!AVAILABLE_CLOUDS.includes(cloud)) {
    throw new UsageError(`--cloud ${cloud} is not available yet: Google Compute Engine and Azure support is coming. Use --cloud aws`, {
      code: 'cloud-not-available',
    });
  }
  return 'aws';
}

export function validateRegion(value: string, available: readonly string[] = AWS_REGIONS, why = ''): string {
  const v = value.trim().toLowerCase();
  if (!available.includes(v)) {
    throw new UsageError(`--region: "${value}" is not a valid choice${why}. Valid choices: ${available.join(', ')}`);
  }
  return v;
}

export function validateSize(value: string): SizeName {
  const v = value.trim().toUpperCase();
  if (!isSizeName(v)) throw new UsageError(`--size: unknown size "${value}". Valid choices: ${SIZE_NAMES.join(', ')}`);
  return v;
}

export function validateVersion(value: string): string {
  const v = value.trim();
  if (v.toLowerCase() === 'latest') return 'latest';
  const n = normalizeVersion(v);
  if (!n) {
    throw new UsageError(`--version: "${value}" is not a Sourcegraph version. Use x.y.z (e.g. 6.12.5040) or latest`);
  }
  return n;
}

function parseIpv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255 || (p.length > 1 && p.startsWith('0'))) return undefined;
    out.push(n);
  }
  return out;
}

function isIpv6(s: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(s) || !s.includes(':')) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (groups.some((g) => g.length === 0 || g.length > 4)) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

/** Canonical CIDR (host bits must be zero, as EC2 requires). A bare address becomes /32 (or /128). */
export function validateCidr(value: string, flag: string): string {
  const raw = value.trim();
  const [addr = '', prefixText, ...rest] = raw.split('/');
  const bad = (why: string) =>
    new UsageError(`${flag}: "${value}" is not a valid CIDR (${why}). Example: 203.0.113.7/32 or 198.51.100.0/24`);
  if (rest.length) throw bad('more than one "/"');
  const v4 = parseIpv4(addr);
  if (v4) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (!/^\d{1,2}$/.test(prefixText ?? '32') || prefix > 32) throw bad('the prefix must be 0–32');
    const n = ((v4[0]! << 24) >>> 0) + (v4[1]! << 16) + (v4[2]! << 8) + v4[3]!;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((n & ~mask) >>> 0 !== 0) {
      const net = (n & mask) >>> 0;
      const netText = [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
      throw bad(`host bits are set; did you mean ${netText}/${prefix}?`);
    }
    return `${addr}/${prefix}`;
  }
  if (isIpv6(addr)) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText ?? '128') || prefix > 128) throw bad('the prefix must be 0–128');
    return `${addr.toLowerCase()}/${prefix}`;
  }
  throw bad('not an IPv4 or IPv6 address');
}

/** A /0 of either family: every address on the internet. */
export function isOpenToWorld(cidr: string): boolean {
  return cidr.endsWith('/0');
}

export function validateCidrList(values: readonly string[], flag: string): string[] {
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map((v) => validateCidr(v, flag));
  return [...new Set(out)];
}

/**
 * --ssh-cidr: "none" disables SSH; defaults to the --allow-cidr list. Opening SSH to the world
 * needs an explicit --i-know-ssh-is-public.
 */
export function validateSshCidrs(values: readonly string[], opts: { iKnowSshIsPublic: boolean }): string[] {
  if (values.length === 1 && values[0]!.trim().toLowerCase() === 'none') return [];
  if (values.some((v) => v.trim().toLowerCase() === 'none')) {
    throw new UsageError('--ssh-cidr: "none" cannot be combined with CIDRs');
  }
  const cidrs = validateCidrList(values, '--ssh-cidr');
  const open = cidrs.filter(isOpenToWorld);
  if (open.length && !opts.iKnowSshIsPublic) {
    throw new UsageError(
      `--ssh-cidr ${open.join(', ')} opens SSH to the whole internet. Name the networks that need SSH (e.g. your office /24), use --ssh-cidr none, or pass --i-know-ssh-is-public`,
      { code: 'ssh-open-to-world' },
    );
  }
  return cidrs;
}

export function validateDataSize(value: string | number, minimumGiB: number): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--data-size: "${value}" is not a whole number of GiB`);
  if (n < minimumGiB) {
    throw new UsageError(`--data-size ${n} is below the preset minimum of ${minimumGiB} GiB. Choose ${minimumGiB} or more (the volume should be 25–50% larger than all repositories on disk)`);
  }
  if (n > 65536) throw new UsageError(`--data-size ${n} is above the EBS maximum of 65536 GiB`);
  return n;
}

export function validateTimeoutMinutes(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) throw new UsageError(`--timeout: "${value}" must be a number of minutes between 1 and 1440`);
  return n;
}

const NAME_RE = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$|^[a-z]$/;
export function validateName(value: string): string {
  const v = value.trim();
  if (!NAME_RE.test(v)) {
    throw new UsageError(`--name: "${value}" must be 1–40 lowercase letters, digits or hyphens, starting with a letter`);
  }
  return v;
}

function pattern(flag: string, re: RegExp, example: string) {
  return (value: string): string => {
    const v = value.trim();
    if (!re.test(v)) throw new UsageError(`${flag}: "${value}" is not valid. Expected something like ${example}`);
    return v;
  };
}

export const validateImageId = pattern('--image', /^ami-[0-9a-f]{8,17}$/, 'ami-0d5604b984e5bd659');
export const validateSubnetId = pattern('--subnet', /^subnet-[0-9a-f]{8,17}$/, 'subnet-0123456789abcdef0');
export const validateInstanceType = pattern('--instance-type', /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'm6a.2xlarge');
export const validateKeyName = pattern('--key-name', /^[\x20-\x7e]{1,255}$/, 'my-key');
export const validateSshUser = pattern('--ssh-user', /^[a-z_][a-z0-9_-]{0,31}$/, 'ec2-user');
export const validateKmsKey = pattern(
  '--kms-key',
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
  'a key ID, alias/my-key or a key ARN',
);

export type ElasticIpChoice = { mode: 'new' } | { mode: 'none' } | { mode: 'existing'; allocationId: string };

export function validateElasticIp(value: string): ElasticIpChoice {
  const v = value.trim().toLowerCase();
  if (v === 'new') return { mode: 'new' };
  if (v === 'none') return { mode: 'none' };
  if (/^eipalloc-[0-9a-f]{8,17}$/.test(v)) return { mode: 'existing', allocationId: v };
  throw new UsageError(`--elastic-ip: "${value}" is not valid. Valid choices: new, none, or an allocation id (eipalloc-…)`);
}

export const IMAGE_SOURCES = ['published', 'build', 'base'] as const;
