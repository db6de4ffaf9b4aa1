// Rebuilds presets/aws-published-amis.json (the offline image catalog shipped with the package)
// from the shared data file extracted from Sourcegraph's changelog. Run: npm run catalog [-- path]
// The output is reviewed and committed: it is source data for users who cannot call DescribeImages.
import { readFileSync, writeFileSync } from 'node:fs';

const src = process.argv[2] ?? new URL('../../shared/data/sourcegraph-published-amis.json', import.meta.url).pathname;
const out = new URL('../presets/aws-published-amis.json', import.meta.url).pathname;
const input = JSON.parse(readFileSync(src, 'utf8'));

const versionRe = /^\d+\.\d+\.\d+$/;
const amiRe = /^ami-[0-9a-f]{8,17}$/;
const sizes = new Set(['any', 'XS', 'S', 'M', 'L', 'XL']);
const versions = {};
let dropped = 0;
for (const [version, bySize] of Object.entries(input.versions)) {
  if (!versionRe.test(version)) { dropped++; continue; }
  const clean = {};
  for (const [size, byRegion] of Object.entries(bySize)) {
    if (!sizes.has(size)) { dropped++; continue; }
    const regions = {};
    for (const [region, ami] of Object.entries(byRegion)) {
      if (amiRe.test(ami) && /^[a-z]{2}-[a-z]+-\d$/.test(region)) regions[region] = ami;
      else dropped++;
    }
    if (Object.keys(regions).length) clean[size] = Object.fromEntries(Object.entries(regions).sort());
  }
  if (Object.keys(clean).length) versions[version] = clean;
}
const catalog = {
  source: input.source,
  note: input.note,
  owners: ['840044800169', '870751268155'],
  versions,
};
writeFileSync(out, JSON.stringify(catalog, null, 1) + '\n');
console.error(`wrote ${Object.keys(versions).length} versions to ${out} (${dropped} malformed entries dropped)`);
