// Validation of every flag value, run before any cloud call. Each validator returns the
// normalised value or throws UsageError naming the flag and the valid choices.
import { UsageError } from './errors.js';
import { isSizeName, SIZE_NAMES, type SizeName } from './presets.js';
import { normalizeVersion } from './versions.js';

/** --region: one of the cloud's regions (its descriptor lists them). */
export function validateRegion(value: string, available: readonly string[], why = ''): string {
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

export function validateDataSize(value: string | number, minimumGiB: number, limit: { maxGiB: number; name: string }): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--data-size: "${value}" is not a whole number of GiB`);
  if (n < minimumGiB) {
    throw new UsageError(`--data-size ${n} is below the preset minimum of ${minimumGiB} GiB. Choose ${minimumGiB} or more (the volume should be 25–50% larger than all repositories on disk)`);
  }
  if (n > limit.maxGiB) throw new UsageError(`--data-size ${n} is above the ${limit.name} maximum of ${limit.maxGiB} GiB`);
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

/**
 * --ssh-user: a Linux login name, and not one the cloud refuses for a VM's user (`refused`, e.g.
 * root on Azure): that would fail only at the VM create, after the network was made.
 */
export function validateSshUser(value: string, example: string, refused?: { names: readonly string[]; source: string; cloud: string }): string {
  const user = pattern('--ssh-user', /^[a-z_][a-z0-9_-]{0,31}$/, example)(value);
  if (refused?.names.includes(user)) {
    throw new UsageError(`--ssh-user: ${refused.cloud} refuses "${user}" as a VM's login user (${refused.source}). Use another name, e.g. ${example} (the default)`);
  }
  return user;
}

export const IMAGE_SOURCES = ['published', 'build', 'base'] as const;
