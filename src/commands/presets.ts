// `presets`: the size table (users, repos, machine, disks, estimated cost) and, with --versions,
// the published versions in the shipped catalog. Offline; no credentials needed.
import { catalogRegions, catalogVersions } from '../core/catalog.js';
import { allPresets, presetMonthlyCost } from '../core/presets.js';
import { formatMonthlyCost, PRICE_DATE, REFERENCE_REGION } from '../core/prices.js';
import { validateRegion } from '../core/validate.js';
import { loadAwsCatalog } from './catalog.js';
import type { Deps, GlobalFlags } from './deps.js';
import { groupThousands } from '../core/format.js';

export interface PresetsFlags extends GlobalFlags {
  versions?: boolean;
  region?: string;
}

export async function runPresets(deps: Deps, flags: PresetsFlags) {
  const region = flags.region !== undefined ? validateRegion(flags.region) : REFERENCE_REGION;
  const sizes = allPresets().map((p) => {
    const cost = presetMonthlyCost(p, region);
    return {
      size: p.name,
      users: p.users,
      repos: p.repos,
      largestRepoGB: p.largestRepoGB,
      concurrentUsers: p.concurrentUsers,
      vcpu: p.vcpu,
      memoryGiB: p.memoryGiB,
      aws: { instanceType: p.aws.instanceType, dataVolume: p.aws.data, monthlyCost: cost },
      gcp: p.gcp,
      azure: p.azure,
    };
  });
  let versions: { version: string; regions: number }[] | undefined;
  if (flags.versions) {
    const catalog = await loadAwsCatalog();
    versions = catalogVersions(catalog)
      .reverse()
      .map((v) => ({ version: v, regions: catalogRegions(catalog, { version: v, size: 'XS' }).length }));
  }
  const result = { region, sizes, ...(versions ? { versions } : {}) };
  if (deps.io.json) {
    deps.io.result(result);
    return result;
  }
  const head = ['SIZE', 'USERS', 'REPOS', 'LARGEST REPO', 'vCPU/RAM', 'AWS TYPE', 'DATA DISK', '≈ $/MONTH'];
  const rows = sizes.map((s) => [
    s.size,
    `≤ ${groupThousands(s.users)}`,
    `≤ ${groupThousands(s.repos)}`,
    `${s.largestRepoGB} GB`,
    `${s.vcpu}/${s.memoryGiB} GiB`,
    s.aws.instanceType,
    `${s.aws.dataVolume.sizeGiB} GiB ${s.aws.dataVolume.type}${s.aws.dataVolume.type === 'io2' ? ` ${s.aws.dataVolume.iops} IOPS` : ''}`,
    s.aws.monthlyCost.totalUsd === undefined ? 'price unknown' : `$${groupThousands(Math.round(s.aws.monthlyCost.totalUsd))}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) deps.io.info(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  deps.io.info(`\nIf you fall between two sizes, choose the larger. Costs: ${region} on-demand list prices of ${PRICE_DATE} (presets/aws-prices.json), instance + both disks + public IPv4, 730 h/month.`);
  const unknown = sizes.find((s) => s.aws.monthlyCost.totalUsd === undefined);
  if (unknown) deps.io.info(`For ${region}: ${formatMonthlyCost(unknown.aws.monthlyCost)}.`);
  if (versions) {
    deps.io.info('\nPublished versions (newest first; later versions need an image you build):');
    for (const v of versions) deps.io.info(`  ${v.version}  (${v.regions} regions)`);
  }
  return result;
}
