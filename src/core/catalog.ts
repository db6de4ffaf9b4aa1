// Read-only helpers over the offline image catalog (presets/aws-published-amis.json). The catalog
// is passed in rather than imported so that callers (and tests) choose which catalog they trust,
// and so this module stays pure. Shape: versions[version][size | 'any'][region] = image id.
// Up to 5.10.x Sourcegraph published one image per size; later versions publish one image ('any').
import { UsageError } from './errors.js';
import { compareVersions, minorOf, normalizeVersion } from './versions.js';
import type { KnownImage } from './upgrade-plan.js';

/** The key of the size-independent image, used from about 5.11 on. */
export const ANY_SIZE = 'any';

export interface ImageCatalog {
  source?: string;
  note?: string;
  owners?: string[];
  versions: Record<string, Record<string, Record<string, string>>>;
}

/** Restricts a lookup to versions that have an image for this size and/or region. */
export interface CatalogFilter {
  size?: string;
  region?: string;
}

/** Regions with an image for the version, `any` entries first, then the size's own entries. */
function regionImages(catalog: ImageCatalog, version: string, size?: string): Record<string, string> {
  const bySize = catalog.versions[version];
  if (!bySize) return {};
  const sized = size === undefined ? undefined : bySize[size];
  // `any` wins region by region: it is what Sourcegraph published for every size at once.
  return { ...sized, ...bySize[ANY_SIZE] };
}

function matchesFilter(catalog: ImageCatalog, version: string, filter: CatalogFilter): boolean {
  if (filter.size === undefined && filter.region === undefined) return true;
  const bySize = catalog.versions[version];
  if (!bySize) return false;
  // Without a size, any entry counts (a per-size image still proves the version was released).
  const tables = filter.size === undefined ? Object.values(bySize) : [regionImages(catalog, version, filter.size)];
  return tables.some((byRegion) =>
    filter.region === undefined ? Object.keys(byRegion).length > 0 : byRegion[filter.region] !== undefined,
  );
}

/** Every well-formed version in the catalog, oldest first; with a filter, only those with a matching image. */
export function catalogVersions(catalog: ImageCatalog, filter: CatalogFilter = {}): string[] {
  return Object.keys(catalog.versions)
    .filter((v) => normalizeVersion(v) === v && matchesFilter(catalog, v, filter))
    .sort(compareVersions);
}

/** Image for a version in a region: the size-independent image when there is one, else the size's. */
export function catalogImageId(
  catalog: ImageCatalog,
  query: { version: string; size?: string; region: string },
): string | undefined {
  const version = normalizeVersion(query.version);
  if (version === undefined) return undefined;
  return regionImages(catalog, version, query.size)[query.region];
}

/** Regions where `catalogImageId` finds an image for this version and size, sorted. */
export function catalogRegions(catalog: ImageCatalog, query: { version: string; size?: string }): string[] {
  const version = normalizeVersion(query.version);
  if (version === undefined) return [];
  return Object.keys(regionImages(catalog, version, query.size)).sort();
}

/** The newest version in the catalog. The shipped catalog is never empty, so an empty one is a packaging bug. */
export function latestCatalogVersion(catalog: ImageCatalog): string {
  const latest = catalogVersions(catalog).at(-1);
  if (latest === undefined) throw new Error('the image catalog lists no versions');
  return latest;
}

/**
 * Turns what a user typed into a catalog version: `latest`, an exact `x.y.z` (a leading `v` is
 * accepted), or a minor `x.y` meaning its newest patch. Undefined when the catalog has no such
 * version (for that size/region when filtered); malformed text is a UsageError.
 */
export function resolveCatalogVersion(
  catalog: ImageCatalog,
  text: string,
  filter: CatalogFilter = {},
): string | undefined {
  const wanted = text.trim();
  const versions = catalogVersions(catalog, filter);
  if (wanted === 'latest') return versions.at(-1);
  const exact = normalizeVersion(wanted);
  if (exact !== undefined) return versions.includes(exact) ? exact : undefined;
  const minor = /^v?(\d{1,3})\.(\d{1,3})$/.exec(wanted);
  if (minor) {
    const key = `${Number(minor[1])}.${Number(minor[2])}`;
    return versions.filter((v) => minorOf(v) === key).at(-1);
  }
  throw new UsageError(`"${text}" is not a version`, {
    code: 'bad-version',
    remediation: 'Use latest, a minor such as 6.12, or an exact version such as 6.12.5040.',
  });
}

/** The catalog's images usable for this size in this region, as input to `planUpgradeChain`. */
export function catalogKnownImages(catalog: ImageCatalog, query: { size?: string; region: string }): KnownImage[] {
  const images: KnownImage[] = [];
  for (const version of catalogVersions(catalog)) {
    const imageId = catalogImageId(catalog, { version, size: query.size, region: query.region });
    if (imageId !== undefined) images.push({ version, imageId, source: 'catalog' });
  }
  return images;
}
