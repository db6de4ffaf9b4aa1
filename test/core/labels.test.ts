// The labels codec: every fact we keep on a resource fits within GCE's label rules and reads back
// exactly; prefixed tags keep today's AWS keys.
import { describe, expect, it } from 'vitest';
import { decodeLabelValue, encodeLabelValue, fromEncodedLabels, fromPrefixedTags, toEncodedLabels, toPrefixedTags } from '../../src/core/labels.js';

const GCE_VALUE = /^[a-z0-9_-]{0,63}$/;
const GCE_KEY = /^[a-z][a-z0-9_-]{0,62}$/;

describe('encodeLabelValue', () => {
  it.each([
    ['6.12.5040', '6_d12_d5040'],
    ['prod', 'prod'],
    ['XS', '_kx_ks'],
    ['2026-11-27T12:00:00.000Z', '2026-11-27_kt12_c00_c00_d000_kz'],
    ['a_b', 'a_ub'],
    ['', ''],
    ['héllo', 'h_xc3_xa9llo'],
  ])('%j ↔ %j', (value, encoded) => {
    expect(encodeLabelValue(value)).toBe(encoded);
    expect(encodeLabelValue(value)).toMatch(GCE_VALUE);
    expect(decodeLabelValue(encoded)).toBe(value);
  });

  it('round-trips anything short enough, and refuses what would not fit', () => {
    for (const v of ['upgrade/1764244800/1764245400/root@vm:24061', 'user+tag=x', 'a.b:c_d e@f+g/h=i', '9f86d081884c7d659a2feaa0c55ad015']) {
      expect(decodeLabelValue(encodeLabelValue(v))).toBe(v);
    }
    expect(() => encodeLabelValue('X'.repeat(30))).toThrow(/too long once encoded/);
  });

  it('refuses to decode what it never encodes', () => {
    for (const bad of ['a_', '_q', 'A', '_x4', 'a.b']) expect(() => decodeLabelValue(bad)).toThrow();
  });
});

describe('label sets', () => {
  const labels = { deployment: 'prod', role: 'data-volume', version: '6.12.5040', size: 'XS' } as const;

  it('encoded keys and values are GCE labels, and read back with foreign ones kept apart', () => {
    const stored = toEncodedLabels(labels);
    for (const [k, v] of Object.entries(stored)) {
      expect(k).toMatch(GCE_KEY);
      expect(v).toMatch(GCE_VALUE);
    }
    expect(fromEncodedLabels({ ...stored, team: 'search', 'sourcegraph-launch-bogus': 'x' })).toEqual({
      labels,
      foreign: { team: 'search', 'sourcegraph-launch-bogus': 'x' },
    });
  });

  it('prefixed tags keep today\'s AWS keys (existing deployments are still found)', () => {
    const tags = toPrefixedTags(labels);
    expect(tags['sourcegraph-launch:deployment']).toBe('prod');
    expect(tags['sourcegraph-launch:version']).toBe('6.12.5040');
    expect(fromPrefixedTags({ ...tags, Name: 'prod-data', 'sourcegraph-launch:lock-ab12': 'v' })).toEqual({
      labels: { ...labels, 'lock-ab12': 'v' },
      foreign: { Name: 'prod-data' },
    });
  });
});
