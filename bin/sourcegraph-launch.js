#!/usr/bin/env node
// The command. CommonJS (bin/package.json), not ESM like the rest: Node starts a CommonJS entry
// faster, and the cached help below is all many runs need.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const argv = process.argv.slice(2);

/**
 * `--help`, `<command> --help`, `help <command>` and `--version` print text the build rendered
 * through the real CLI (dist/help-cache.json, see scripts/help-cache.mjs), without loading the
 * CLI: that is most of what they cost. Only for output that is not a terminal, because commander
 * wraps help to a terminal's width and the cache holds the 80-column text every pipe and file gets.
 * Anything else, or a missing cache, goes to the CLI.
 */
function cachedHelp(args) {
  if (args.length === 0 || args.length > 3 || process.stdout.isTTY) return false;
  let cache;
  try {
    cache = JSON.parse(readFileSync(join(root, 'dist', 'help-cache.json'), 'utf8'));
  } catch {
    return false;
  }
  const text = cache.texts?.[cache.forms?.[args.join('\0')]];
  if (typeof text !== 'string') return false;
  // `sourcegraph-launch --help | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
  process.stdout.write(text);
  return true;
}

(async () => {
  // In a clone of the repository (src/ beside dist/) make sure dist/ is built and current first,
  // because the package has no install script to build it; the published package ships only
  // dist/ and never takes that branch.
  if (existsSync(join(root, 'src', 'cli.ts'))) {
    const { ensureBuilt } = await import('../scripts/ensure-built.mjs');
    await ensureBuilt();
  }
  if (cachedHelp(argv)) return;
  const { main } = await import('../dist/cli.js');
  await main(argv);
})();
