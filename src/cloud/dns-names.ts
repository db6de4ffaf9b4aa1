// DNS names as every adapter compares them: lower case, no trailing dot. A zone holds a name when
// the name is the zone's apex or ends in "." + the zone; the longest such zone is the one that
// answers for it (a delegated sub-zone wins over its parent).

export function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** The names a zone for `domain` could have, longest first (sg.example.com, example.com, com). */
export function zoneCandidates(domain: string): string[] {
  const labels = normalizeDnsName(domain).split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

export function zoneHolds(zone: string, name: string): boolean {
  const z = normalizeDnsName(zone);
  const n = normalizeDnsName(name);
  return n === z || n.endsWith(`.${z}`);
}

/** Of `zones`, the one with the longest name that holds `domain`. */
export function longestZone<T extends { name: string }>(zones: T[], domain: string): T | undefined {
  return zones.filter((z) => zoneHolds(z.name, domain)).sort((a, b) => normalizeDnsName(b.name).length - normalizeDnsName(a.name).length)[0];
}

/** The record name relative to its zone ('@' for the apex), as Azure names record sets. */
export function relativeName(zone: string, name: string): string {
  const z = normalizeDnsName(zone);
  const n = normalizeDnsName(name);
  return n === z ? '@' : n.slice(0, n.length - z.length - 1);
}
