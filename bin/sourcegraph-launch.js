#!/usr/bin/env node
// The command. In a clone of the repository (src/ beside dist/) it first makes sure dist/ is built
// and current, because the package has no install script to build it; the published package
// ships only dist/ and never takes that branch.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/cli.ts', import.meta.url))) {
  const { ensureBuilt } = await import('../scripts/ensure-built.mjs');
  await ensureBuilt();
}
const { main } = await import('../dist/cli.js');
main(process.argv.slice(2));
