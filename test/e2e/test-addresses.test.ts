// The end-to-end files run side by side in one network namespace (npm test), each with its own
// test hosts on loopback addresses: two files on one address would take each other's sshd or port
// 80, and fail only when they happen to run at the same time. Each address belongs to one file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('test host addresses', () => {
  it('no two end-to-end files use the same 10.200.x.y address', () => {
    const dir = import.meta.dirname;
    const owners = new Map<string, string[]>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
      for (const address of new Set(readFileSync(join(dir, file), 'utf8').match(/\b10\.200\.\d+\.\d+\b/g) ?? [])) {
        owners.set(address, [...(owners.get(address) ?? []), file]);
      }
    }
    expect(owners.size).toBeGreaterThan(5);
    expect([...owners].filter(([, files]) => files.length > 1)).toEqual([]);
  });
});
