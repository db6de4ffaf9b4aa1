// Run by bin/sourcegraph-launch.js in a clone of the repository only (the published package has no
// src/ and does not ship this file): builds dist/ when it is missing or older than what it is built
// from. That is what lets a fresh clone run `npm ci && node bin/sourcegraph-launch.js …` without an
// npm install script: the package must carry none (npm 11 warns about them on every install).
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const BUILT = join(root, 'dist', 'cli.js');
const LOCK = join(root, 'dist.build-lock');
const INPUTS = ['src', 'presets', 'package.json', 'scripts/build.mjs', 'scripts/help-cache.mjs'];

function newestMtime(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function isFresh() {
  if (!existsSync(BUILT)) return false;
  const built = statSync(BUILT).mtimeMs;
  return INPUTS.every((p) => newestMtime(join(root, p)) <= built);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function ensureBuilt() {
  if (isFresh()) return;
  // One builder at a time: two CLI processes started together in a stale clone must not build
  // over each other. The others wait for the lock to go, then find dist/ fresh.
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (waited > 120_000) rmSync(LOCK, { recursive: true, force: true });
      await sleep(100);
    }
  }
  try {
    if (isFresh()) return;
    process.stderr.write('sourcegraph-launch: building dist/ from the sources (a clone of the repository)…\n');
    await import('./build.mjs');
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
