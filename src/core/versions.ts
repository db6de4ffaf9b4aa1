// Sourcegraph versions are major.minor.patch where the patch is often a build number
// (6.12.5040). Upgrades move one minor at a time; patches do not count as hops.

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

const VERSION_RE = /^v?(\d{1,3})\.(\d{1,3})\.(\d{1,6})$/;

export function parseVersion(text: string): Version | undefined {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function isVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

/** Canonical form without a leading "v". */
export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export function normalizeVersion(text: string): string | undefined {
  const v = parseVersion(text);
  return v ? formatVersion(v) : undefined;
}

export function compareVersions(a: string | Version, b: string | Version): number {
  const x = typeof a === 'string' ? parseVersion(a) : a;
  const y = typeof b === 'string' ? parseVersion(b) : b;
  if (!x || !y) throw new Error(`not a version: ${String(x ? b : a)}`);
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** "6.12" for 6.12.5040: the unit an upgrade hop moves by. */
export function minorOf(v: string | Version): string {
  const x = typeof v === 'string' ? parseVersion(v) : v;
  if (!x) throw new Error(`not a version: ${String(v)}`);
  return `${x.major}.${x.minor}`;
}

export function newestVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const v of versions) {
    if (!isVersion(v)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}

/**
 * Extract the version the frontend reports on /healthz or /__version. Real instances answer
 * with the bare version ("6.12.5040"), sometimes with a build suffix ("6.12.5040_2026-02-19_abc").
 */
export function versionFromHealthBody(body: string): string | undefined {
  const m = /(\d{1,3}\.\d{1,3}\.\d{1,6})/.exec(body.trim());
  return m ? m[1] : undefined;
}
