import { describe, expect, it } from 'vitest';
import { groupThousands } from '../../src/core/format.js';

describe('groupThousands', () => {
  it('groups like en-US without loading Intl', () => {
    for (const n of [0, 7, 999, 1000, 12345, 500_000, 1_234_567, -9876, 1234.5]) {
      expect(groupThousands(n)).toBe(n.toLocaleString('en-US', { maximumFractionDigits: 20 }));
    }
  });
});
