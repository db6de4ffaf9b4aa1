import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { LaunchError } from '../../src/core/errors.js';
import { pinHostFingerprint, readKnownHostPins, readPinnedFingerprint, removeHostPin } from '../../src/remote/known-hosts.js';

const FP_A = 'SHA256:3mP2rV0Q1bXq9sKkX8ZlUu0F0w6m3n5YgkJ3m5c0p1E';
const FP_B = 'SHA256:Yl9pT1dYQm0xV3JkZ0h2bVpLc0ZxT2V5dU5pQ2JxWjE';

describe('known-hosts pin store', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'known-hosts-test-'));
    path = join(dir, 'config', 'sourcegraph-launch', 'known-hosts.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads nothing when the file does not exist', async () => {
    expect(await readKnownHostPins(path)).toEqual({});
    expect(await readPinnedFingerprint(path, 'i-0abc')).toBeUndefined();
  });

  it('pins into a 0600 file in a 0700 directory it creates, and leaves no temp files', async () => {
    await pinHostFingerprint(path, 'i-0abc', FP_A);
    expect(await readPinnedFingerprint(path, 'i-0abc')).toBe(FP_A);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ 'i-0abc': FP_A });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'config', 'sourcegraph-launch'))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(dir, 'config', 'sourcegraph-launch'))).toEqual(['known-hosts.json']);
  });

  it('keeps other pins when pinning, re-pinning and removing one', async () => {
    await pinHostFingerprint(path, 'i-0abc', FP_A);
    await pinHostFingerprint(path, 'i-0def', FP_B);
    await pinHostFingerprint(path, 'i-0abc', FP_B);
    expect(await readKnownHostPins(path)).toEqual({ 'i-0abc': FP_B, 'i-0def': FP_B });
    expect(await removeHostPin(path, 'i-0abc')).toBe(true);
    expect(await removeHostPin(path, 'i-0abc')).toBe(false);
    expect(await readKnownHostPins(path)).toEqual({ 'i-0def': FP_B });
  });

  it('loses no pin when many are written at once', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `i-${i}`);
    await Promise.all(keys.map((key) => pinHostFingerprint(path, key, FP_A)));
    expect(Object.keys(await readKnownHostPins(path)).sort()).toEqual([...keys].sort());
  });

  it('does not treat inherited object keys as pins', async () => {
    expect(await readPinnedFingerprint(path, 'toString')).toBeUndefined();
    await pinHostFingerprint(path, 'i-0abc', FP_A);
    expect(await readPinnedFingerprint(path, 'constructor')).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"i-0abc": '],
    ['an array', '["SHA256:x"]'],
    ['a non-string pin', '{"i-0abc": 42}'],
  ])('rejects a file that is %s with a known-hosts-corrupt error naming the file', async (_label, content) => {
    await pinHostFingerprint(path, 'i-0abc', FP_A);
    await writeFile(path, content);
    const error = await readPinnedFingerprint(path, 'i-0abc').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaunchError);
    expect(error).toMatchObject({ code: 'known-hosts-corrupt', exitCode: 1 });
    expect((error as LaunchError).message).toContain(path);
    expect((error as LaunchError).remediation).toMatch(/delete/);
  });
});
