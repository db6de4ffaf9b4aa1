// Promise: two sourcegraph-launch processes never both hold a deployment's lock. Many pairs of real
// processes race for the same lock (a fresh one, and one left stale by a dead process); each holder
// records when it held it, and no two holdings may overlap.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

let script: string;
const work = mkdtempSync(join(tmpdir(), 'sgl-lock-race-'));

beforeAll(async () => {
  // The real module, compiled for a plain node process; the child takes the lock at a shared
  // start time, holds it for a moment, and appends its holding interval to a log.
  const lib = join(work, 'file-lock.mjs');
  await build({ entryPoints: [join(ROOT, 'src/state/file-lock.ts')], outfile: lib, format: 'esm', platform: 'node', bundle: true, logLevel: 'silent' });
  script = join(work, 'racer.mjs');
  writeFileSync(
    script,
    `import { tryLock } from ${JSON.stringify(lib)};
import { appendFileSync } from 'node:fs';
const [dir, log, startAt] = process.argv.slice(2);
// Sleep until just before the shared start, then spin: both racers call tryLock in the same instant.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now() - 5)));
while (Date.now() < Number(startAt)) {}
const r = tryLock(dir);
if (r.ok) {
  const from = process.hrtime.bigint();
  const until = Date.now() + 30;
  while (Date.now() < until) {}
  const to = process.hrtime.bigint();
  r.release();
  appendFileSync(log, from + ' ' + to + '\\n');
}
process.stdout.write(r.ok ? 'held' : 'refused');
`,
  );
});

function racer(dir: string, log: string, startAt: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir, log, String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

function overlaps(log: string): number {
  const spans = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(BigInt) as [bigint, bigint]);
  spans.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  let count = 0;
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) count++;
  return count;
}

/** Runs `n` rounds, 8 at a time; each batch's pairs start together at a shared instant. */
async function inBatches<T>(n: number, round: (i: number, startAt: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let first = 0; first < n; first += 8) {
    const startAt = Date.now() + 400;
    const batch = Array.from({ length: Math.min(8, n - first) }, (_, k) => round(first + k, startAt));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

describe('the deployment lock under contention', () => {
  it('40 pairs racing for a free lock: exactly one holds it each time', async () => {
    const rounds = await inBatches(40, async (round, startAt) => {
      const dir = join(work, `free-${round}.lock`);
      const log = join(work, `free-${round}.log`);
      writeFileSync(log, '');
      const outcomes = await Promise.all([racer(dir, log, startAt), racer(dir, log, startAt)]);
      return { overlaps: overlaps(log), held: outcomes.filter((o) => o === 'held').length };
    });
    expect(rounds.map((r) => r.overlaps)).toEqual(rounds.map(() => 0));
    // Both at once never; one after the other (the first released within 30 ms) is fine.
    expect(rounds.every((r) => r.held >= 1)).toBe(true);
  }, 120_000);

  it('40 pairs racing to take over a stale lock: never both', async () => {
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const rounds = await inBatches(40, async (round, startAt) => {
      const dir = join(work, `stale-${round}.lock`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: dead, host: hostname(), token: 'dead', since: 'earlier' }));
      const log = join(work, `stale-${round}.log`);
      writeFileSync(log, '');
      const outcomes = await Promise.all([racer(dir, log, startAt), racer(dir, log, startAt)]);
      return { overlaps: overlaps(log), held: outcomes.filter((o) => o === 'held').length };
    });
    expect(rounds.map((r) => r.overlaps)).toEqual(rounds.map(() => 0));
    expect(rounds.every((r) => r.held >= 1)).toBe(true);
  }, 120_000);
});
