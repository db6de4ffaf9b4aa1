import { describe, expect, it } from 'vitest';
import shippedCatalog from '../../presets/aws-published-amis.json' with { type: 'json' };
import {
  catalogImageId,
  catalogKnownImages,
  catalogRegions,
  catalogVersions,
  latestCatalogVersion,
  resolveCatalogVersion,
  type ImageCatalog,
} from '../../src/core/catalog.js';
import { UsageError } from '../../src/core/errors.js';

const catalog: ImageCatalog = shippedCatalog;

// A small catalog whose quirks are on purpose: a version with both `any` and per-size entries,
// a key that is not a version, and versions that sort differently as text and as numbers.
const tiny: ImageCatalog = {
  versions: {
    '5.9.1590': { XS: { 'us-east-1': 'ami-00000000000005901' }, XL: { 'us-east-1': 'ami-00000000000005902' } },
    '5.10.0': {
      any: { 'us-east-1': 'ami-00000000000051000' },
      XL: { 'us-east-1': 'ami-00000000000051001', 'eu-west-1': 'ami-00000000000051002' },
    },
    '5.2.0': { S: { 'eu-west-1': 'ami-00000000000052000' } },
    'not-a-version': { any: { 'us-east-1': 'ami-0000000000000bad0' } },
  },
};

describe('catalog helpers on the shipped presets/aws-published-amis.json', () => {
  it.each([
    { version: '6.12.5040', size: 'S', region: 'us-east-1', ami: 'ami-0d5604b984e5bd659' },
    { version: 'v6.12.5040', size: undefined, region: 'us-east-1', ami: 'ami-0d5604b984e5bd659' },
    { version: '6.12.5040', size: 'XL', region: 'eu-west-1', ami: 'ami-0b435b8442733145d' },
    { version: '5.10.2832', size: 'XL', region: 'us-east-1', ami: 'ami-0db624e4959684bae' },
    { version: '5.10.2832', size: 'XS', region: 'us-east-1', ami: 'ami-09571dafe8427c43b' },
    // Per-size versions have no size-independent image: without a size there is nothing to pick.
    { version: '5.10.2832', size: undefined, region: 'us-east-1', ami: undefined },
    // 6.1.5633 was only published for XS.
    { version: '6.1.5633', size: 'XS', region: 'us-east-1', ami: 'ami-0056742790d6d6840' },
    { version: '6.1.5633', size: 'S', region: 'us-east-1', ami: undefined },
    // The changelog entry of 5.11.2732 is corrupted: two regions survive.
    { version: '5.11.2732', size: 'S', region: 'us-east-1', ami: undefined },
    { version: '5.11.2732', size: 'S', region: 'af-south-1', ami: 'ami-0233b88a2a2b6e146' },
    { version: '6.6.0', size: 'S', region: 'us-east-1', ami: undefined },
    { version: 'garbage', size: 'S', region: 'us-east-1', ami: undefined },
  ])('catalogImageId($version, $size, $region) = $ami', ({ version, size, region, ami }) => {
    expect(catalogImageId(catalog, { version, size, region })).toBe(ami);
  });

  it('lists versions oldest first, by number not by text', () => {
    const versions = catalogVersions(catalog);
    expect(versions[0]).toBe('4.0.0');
    expect(versions.at(-1)).toBe('6.12.5040');
    expect(versions.indexOf('5.9.1590')).toBeLessThan(versions.indexOf('5.10.1164'));
    expect(versions.indexOf('6.9.0')).toBeLessThan(versions.indexOf('6.11.0'));
    expect(versions).not.toContain('6.6.0');
    expect(versions).toHaveLength(Object.keys(catalog.versions).length);
  });

  it('filters versions by size and region', () => {
    const sInUsEast = catalogVersions(catalog, { size: 'S', region: 'us-east-1' });
    expect(sInUsEast).not.toContain('6.1.5633');
    expect(sInUsEast).not.toContain('5.11.2732');
    expect(sInUsEast).toContain('5.11.0');
    expect(catalogVersions(catalog, { size: 'XS', region: 'us-east-1' })).toContain('6.1.5633');
    expect(catalogVersions(catalog, { region: 'af-south-1' })).toContain('5.11.2732');
  });

  it('latest is 6.12.5040', () => {
    expect(latestCatalogVersion(catalog)).toBe('6.12.5040');
  });

  it.each([
    { version: '6.12.5040', size: 'M', count: 22 },
    { version: '5.10.2832', size: 'XL', count: 22 },
    { version: '5.11.2732', size: 'M', count: 2 },
    { version: '5.2.0', size: 'XS', count: 17 },
    { version: '5.10.2832', size: undefined, count: 0 },
    { version: '6.7.0', size: 'M', count: 0 },
  ])('catalogRegions($version, $size) has $count regions', ({ version, size, count }) => {
    const regions = catalogRegions(catalog, { version, size });
    expect(regions).toHaveLength(count);
    expect(regions).toEqual([...regions].sort());
  });

  it('catalogRegions of 5.11.2732 names the two surviving regions', () => {
    expect(catalogRegions(catalog, { version: '5.11.2732', size: 'S' })).toEqual(['af-south-1', 'ap-east-1']);
  });

  it.each([
    { text: 'latest', filter: {}, version: '6.12.5040' },
    { text: ' 6.12.5040 ', filter: {}, version: '6.12.5040' },
    { text: 'v5.10.2832', filter: {}, version: '5.10.2832' },
    { text: '6.9', filter: {}, version: '6.9.0' },
    { text: '5.9', filter: {}, version: '5.9.1590' },
    { text: '5.11', filter: {}, version: '5.11.2732' },
    // Filtered: 5.11.2732 has no image in us-east-1, so its minor resolves to the older patch.
    { text: '5.11', filter: { size: 'S', region: 'us-east-1' }, version: '5.11.0' },
    { text: '6.1', filter: { size: 'S', region: 'us-east-1' }, version: undefined },
    { text: 'latest', filter: { size: 'S', region: 'us-east-1' }, version: '6.12.5040' },
    { text: 'latest', filter: { region: 'mars-north-1' }, version: undefined },
    { text: '6.6', filter: {}, version: undefined },
    { text: '6.13.100', filter: {}, version: undefined },
  ])('resolveCatalogVersion($text, $filter) = $version', ({ text, filter, version }) => {
    expect(resolveCatalogVersion(catalog, text, filter)).toBe(version);
  });

  it.each(['banana', '6', '6.12.5040.1', ''])('resolveCatalogVersion rejects %j as bad input', (text) => {
    expect(() => resolveCatalogVersion(catalog, text)).toThrow(UsageError);
  });

  it('catalogKnownImages lists the images one size can boot in one region', () => {
    const images = catalogKnownImages(catalog, { size: 'S', region: 'us-east-1' });
    const byVersion = new Map(images.map((i) => [i.version, i]));
    expect(byVersion.get('6.12.5040')).toEqual({ version: '6.12.5040', imageId: 'ami-0d5604b984e5bd659', source: 'catalog' });
    expect(byVersion.get('5.10.2832')?.imageId).toBe(catalogImageId(catalog, { version: '5.10.2832', size: 'S', region: 'us-east-1' }));
    expect(byVersion.has('6.1.5633')).toBe(false);
    expect(byVersion.has('5.11.2732')).toBe(false);
    expect(images.map((i) => i.version)).toEqual(catalogVersions(catalog, { size: 'S', region: 'us-east-1' }));
  });
});

describe('catalog helpers on a hand-made catalog', () => {
  it('skips keys that are not versions and sorts numerically', () => {
    expect(catalogVersions(tiny)).toEqual(['5.2.0', '5.9.1590', '5.10.0']);
    expect(latestCatalogVersion(tiny)).toBe('5.10.0');
  });

  it('prefers the size-independent image over the size entry, region by region', () => {
    expect(catalogImageId(tiny, { version: '5.10.0', size: 'XL', region: 'us-east-1' })).toBe('ami-00000000000051000');
    // Only the XL table has eu-west-1, so there the size's own image is used.
    expect(catalogImageId(tiny, { version: '5.10.0', size: 'XL', region: 'eu-west-1' })).toBe('ami-00000000000051002');
    expect(catalogImageId(tiny, { version: '5.10.0', size: 'S', region: 'eu-west-1' })).toBeUndefined();
    expect(catalogRegions(tiny, { version: '5.10.0', size: 'XL' })).toEqual(['eu-west-1', 'us-east-1']);
    expect(catalogRegions(tiny, { version: '5.10.0', size: 'S' })).toEqual(['us-east-1']);
  });

  it('uses the per-size image when a version has no size-independent one', () => {
    expect(catalogImageId(tiny, { version: '5.9.1590', size: 'XL', region: 'us-east-1' })).toBe('ami-00000000000005902');
    expect(catalogImageId(tiny, { version: '5.9.1590', size: 'S', region: 'us-east-1' })).toBeUndefined();
  });

  it('an empty catalog has no latest version', () => {
    expect(() => latestCatalogVersion({ versions: {} })).toThrow(/no versions/);
    expect(resolveCatalogVersion({ versions: {} }, 'latest')).toBeUndefined();
  });
});
