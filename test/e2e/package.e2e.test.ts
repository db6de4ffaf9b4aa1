// The published artefact: `npm pack`, install the tarball with production dependencies only (as
// `npx ./sourcegraph-launch-*.tgz` does), and run it. Offline: the package has no runtime dependencies.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

let work: string;
let tarball: string;
let files: string[];

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? dirSize(p) : statSync(p).size);
  }, 0);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sgl-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
  execFileSync('npm', ['init', '-y'], { cwd: work, stdio: 'ignore' });
  execFileSync('npm', ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', tarball], { cwd: work, stdio: 'pipe' });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships the bundle, presets and provision scripts, and no sources or tests', () => {
    expect(files).toContain('bin/sourcegraph-launch.js');
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('presets/sizes.json');
    expect(files).toContain('presets/aws-published-amis.json');
    expect(files.some((f) => f.startsWith('provision/'))).toBe(true);
    expect(files.filter((f) => /^(src|test|node_modules)\//.test(f))).toEqual([]);
  });

  it('installs with no runtime dependencies, well under the 60 MB budget', () => {
    const installed = readdirSync(join(work, 'node_modules'));
    expect(installed.filter((n) => !n.startsWith('.'))).toEqual(['sourcegraph-launch']);
    expect(dirSize(join(work, 'node_modules')) / 1e6).toBeLessThan(60);
  });

  it('runs --help, --version and presets from the installed bin', () => {
    const bin = join(work, 'node_modules', '.bin', 'sourcegraph-launch');
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: sourcegraph-launch');
    expect(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const presets = spawnSync(bin, ['presets', '--versions', '--json'], { encoding: 'utf8' });
    expect(presets.status, presets.stderr).toBe(0);
    expect(JSON.parse(presets.stdout).versions[0].version).toBe('6.12.5040');
  });
});
