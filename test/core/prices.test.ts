// The cloud-neutral part of a monthly estimate: the parts rounded to cents, a total only when every
// part has a price, and the wording ("≈ $…/month" or "price unknown (…)"). Each cloud's own prices
// are tested beside its adapter (test/cloud/aws/prices.test.ts).
import { describe, expect, it } from 'vitest';
import { formatMonthlyCost, formatUsd, totalOf } from '../../src/core/prices.js';

const meta = { priceDate: '2026-01-01', source: ['https://example.test/prices'], priceFile: 'presets/test-prices.json' };

describe('totalOf', () => {
  it('rounds each part to cents and adds them up', () => {
    const cost = totalOf('r1', [
      { item: 'instance', detail: 't', monthlyUsd: 100.004 },
      { item: 'root volume', detail: '50 GiB', monthlyUsd: 4.005 },
    ], meta);
    expect(cost.parts.map((p) => p.monthlyUsd)).toEqual([100, 4.01]);
    expect(cost).toMatchObject({ region: 'r1', currency: 'USD', totalUsd: 104.01, unknown: [], ...meta });
    expect(formatMonthlyCost(cost)).toBe('≈ $104/month');
  });

  it('gives no total when any part has no price, and names the parts without one', () => {
    const cost = totalOf('r1', [
      { item: 'instance', detail: 'big-1', monthlyUsd: undefined },
      { item: 'data volume', detail: '500 GiB', monthlyUsd: 40 },
    ], meta);
    expect(cost.totalUsd).toBeUndefined();
    expect(cost.unknown).toEqual(['instance big-1']);
    expect(formatMonthlyCost(cost)).toBe('price unknown (no instance big-1 price for r1 in presets/test-prices.json)');
  });

  it('formats dollars with thousands separators', () => {
    expect(formatUsd(6382.56)).toBe('$6,383');
    expect(formatMonthlyCost(totalOf('r1', [{ item: 'instance', detail: 't', monthlyUsd: 12345.5 }], meta))).toBe('≈ $12,346/month');
  });
});
