// `presets`: the size table (users, repos, machine, disks, estimated cost on the chosen cloud) and,
// with --versions, the published versions in that cloud's shipped catalog. Offline; no credentials.
//
// The JSON carries an entry per cloud for every size (`sizes[].aws`, `.gcp`, `.azure`): an available
// cloud's from its descriptor (machine type, data disk, monthly cost), a coming cloud's from its
// presets/<cloud>.json (the machine type), so the names scripts read stay where they were.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PresetsFlags } from '../cli/commands/presets.js';
import type { ProviderId } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { allProviders, defaultProvider, isAvailable, validateCloud } from '../cloud/providers.js';
import { catalogRegions, catalogVersions } from '../core/catalog.js';
import { groupThousands } from '../core/format.js';
import { allPresets, type SizeName } from '../core/presets.js';
import { formatMonthlyCost, type DiskSpec, type MonthlyCost } from '../core/prices.js';
import { validateRegion } from '../core/validate.js';
import type { Deps } from './deps.js';

/** One size on one cloud. `instanceType`/`dataVolume` are the names the JSON has always used. */
export interface SizeOnCloudJson {
  instanceType: string;
  machineType: string;
  dataVolume?: DiskSpec;
  dataDisk?: DiskSpec;
  monthlyCost?: MonthlyCost;
}

/** One size: who it is for, the chosen cloud's machine, disk and cost, and an entry per cloud. */
export type PresetSizeJson = {
  size: SizeName;
  users: number;
  repos: number;
  largestRepoGB: number;
  concurrentUsers: number;
  vcpu: number;
  memoryGiB: number;
  machineType: string;
  dataDisk: DiskSpec;
  monthlyCost: MonthlyCost;
} & Partial<Record<ProviderId, SizeOnCloudJson>>;

interface ComingSizesFile {
  sizes?: Partial<Record<SizeName, { machineType?: string }>>;
}

/** The package root seen from this module: two levels up from src/commands or dist/chunks, one from dist. */
function presetFile(name: string): string | undefined {
  for (const up of ['../../', '../']) {
    const path = join(fileURLToPath(new URL(up, import.meta.url)), 'presets', name);
    try {
      return readFileSync(path, 'utf8');
    } catch {
      // Not at this level: try the next.
    }
  }
  return undefined;
}

/** A coming cloud's machine types from presets/<id>.json; none when the file is absent. */
function comingSizes(id: string): ComingSizesFile['sizes'] {
  const text = presetFile(`${id}.json`);
  return text ? (JSON.parse(text) as ComingSizesFile).sizes : undefined;
}

function onCloud(p: ProviderDescriptor, size: SizeName, region: string): SizeOnCloudJson {
  const on = p.sizes[size];
  const monthlyCost = p.monthlyCost({ region, machineType: on.machineType, root: p.rootDisk, data: on.dataDisk, publicAddress: true });
  return { instanceType: on.machineType, machineType: on.machineType, dataVolume: on.dataDisk, dataDisk: on.dataDisk, monthlyCost };
}

export async function runPresets(deps: Deps, flags: PresetsFlags) {
  const provider = flags.cloud ? validateCloud(flags.cloud) : defaultProvider();
  const region = flags.region !== undefined ? validateRegion(flags.region, provider.regions) : provider.referenceRegion;
  const coming = new Map(allProviders().filter((p) => !isAvailable(p)).map((p) => [p.id, comingSizes(p.id)]));
  const sizes = allPresets().map((p): PresetSizeJson => {
    const clouds: Partial<Record<ProviderId, SizeOnCloudJson>> = {};
    for (const c of allProviders()) {
      if (isAvailable(c)) {
        // The chosen cloud is priced in the chosen region; any other in its own reference region.
        clouds[c.id] = onCloud(c, p.name, c.id === provider.id ? region : c.referenceRegion);
      } else {
        const machineType = coming.get(c.id)?.[p.name]?.machineType;
        if (machineType) clouds[c.id] = { instanceType: machineType, machineType };
      }
    }
    const chosen = clouds[provider.id]!;
    return {
      size: p.name,
      users: p.users,
      repos: p.repos,
      largestRepoGB: p.largestRepoGB,
      concurrentUsers: p.concurrentUsers,
      vcpu: p.vcpu,
      memoryGiB: p.memoryGiB,
      machineType: chosen.machineType,
      dataDisk: chosen.dataDisk!,
      monthlyCost: chosen.monthlyCost!,
      ...clouds,
    };
  });
  let versions: { version: string; regions: number }[] | undefined;
  if (flags.versions) {
    const catalog = await provider.publishedImages?.();
    versions = catalog
      ? catalogVersions(catalog)
          .reverse()
          .map((v) => ({ version: v, regions: catalogRegions(catalog, { version: v, size: 'XS' }).length }))
      : [];
  }
  const result = { cloud: provider.id, region, sizes, ...(versions ? { versions } : {}) };
  if (deps.io.json) {
    deps.io.result(result);
    return result;
  }
  const head = ['SIZE', 'USERS', 'REPOS', 'LARGEST REPO', 'vCPU/RAM', `${provider.id.toUpperCase()} TYPE`, 'DATA DISK', '≈ $/MONTH'];
  const rows = sizes.map((s) => [
    s.size,
    `≤ ${groupThousands(s.users)}`,
    `≤ ${groupThousands(s.repos)}`,
    `${s.largestRepoGB} GB`,
    `${s.vcpu}/${s.memoryGiB} GiB`,
    s.machineType,
    provider.describeDisk(s.dataDisk),
    s.monthlyCost.totalUsd === undefined ? 'price unknown' : `$${groupThousands(Math.round(s.monthlyCost.totalUsd))}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) deps.io.info(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  deps.io.info(
    `\nIf you fall between two sizes, choose the larger. Costs: ${region} on-demand list prices of ${provider.priceDate} (${provider.priceFile}), instance + both disks + public IPv4, 730 h/month.`,
  );
  const unknown = sizes.find((s) => s.monthlyCost.totalUsd === undefined);
  if (unknown) deps.io.info(`For ${region}: ${formatMonthlyCost(unknown.monthlyCost)}.`);
  if (versions) {
    if (!versions.length) deps.io.info(`\nNo published images are shipped for ${provider.displayName}: build one with \`${deps.program} build-image\`.`);
    else {
      deps.io.info('\nPublished versions (newest first; later versions need an image you build):');
      for (const v of versions) deps.io.info(`  ${v.version}  (${v.regions} regions)`);
    }
  }
  return result;
}
