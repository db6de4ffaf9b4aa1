// Prints one plain closing line for all test tiers: "N passed, N failed[, N skipped]".
// Input: the directory scripts/test.sh wrote vitest's JSON report and bats' TAP output into.
import { existsSync, readFileSync } from 'node:fs';

const dir = process.argv[2];
// A full run must not skip anything: a skipped test is a tier that quietly did not run.
const forbidSkips = process.argv.includes('--no-skips');
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const v = JSON.parse(readFileSync(`${dir}/vitest.json`, 'utf8'));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  skipped += v.numPendingTests + v.numTodoTests;
} catch {
  // No report means vitest did not run to the end: count that as a failure.
  failed += 1;
}
if (existsSync(`${dir}/bats.tap`)) {
  for (const line of readFileSync(`${dir}/bats.tap`, 'utf8').split('\n')) {
    if (/^ok .*# skip/.test(line)) skipped++;
    else if (/^ok /.test(line)) passed++;
    else if (/^not ok /.test(line)) failed++;
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (forbidSkips && skipped > 0) {
  console.error(`npm test: ${skipped} test(s) were skipped; a full run must run every test`);
  process.exitCode = 1;
}
