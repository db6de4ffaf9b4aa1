// `npm run bench`: startup time of `--help` against the Node floor (`node -e 0`), and the installed
// size of the packed package (no runtime dependencies: everything is bundled into dist/).
// Targets: --help at most 2x the floor; the whole tool at most 60 MB installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const runs = Number(process.env.BENCH_RUNS ?? 21);

function median(cmd, args) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function dirSize(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

const floor = median(process.execPath, ['-e', '0']);
const help = median(process.execPath, ['bin/sourcegraph-launch.js', '--help']);
const ratio = help / floor;

// Install the packed tarball with production dependencies only, as `npx` would.
const work = mkdtempSync(join(tmpdir(), 'sgl-bench-'));
let installedBytes;
try {
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('npm', ['init', '-y'], { cwd: work, stdio: 'ignore' });
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', join(work, tgz)], { cwd: work, stdio: 'ignore' });
  installedBytes = dirSize(join(work, 'node_modules'));
} finally {
  rmSync(work, { recursive: true, force: true });
}
const mb = installedBytes / 1e6;

const result = {
  runs,
  nodeFloorMs: Number(floor.toFixed(1)),
  helpMs: Number(help.toFixed(1)),
  helpToFloorRatio: Number(ratio.toFixed(2)),
  helpTarget: '<= 2x',
  installedMB: Number(mb.toFixed(2)),
  installedBudgetMB: 60,
};
console.log(JSON.stringify(result, null, 2));
const ok = ratio <= 2 && mb <= 60;
if (!ok) {
  console.error('bench: over budget');
  process.exitCode = 1;
}
