// Where the package's provision/ scripts and presets/helm/ values are at run time, and which files
// make up the build bundle that is uploaded to a builder (or embedded in user data). Works from the
// repository (src/commands/*.ts under vitest), from the bundled CLI (dist/cli.js and its chunks in
// dist/chunks/) and from the installed npm package, which ships provision/ and presets/ beside dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudError } from '../core/errors.js';

/** The Helm values every size shares, beside the size files in presets/helm/ (boot.sh passes it first). */
export const COMMON_VALUES_FILE = 'common.yaml';

export interface ProvisionBundle {
  /** The package root (holds provision/ and presets/). */
  packageRoot: string;
  provisionDir: string;
  presetsHelmDir: string;
}

export interface BundleFile {
  localPath: string;
  /** Path inside the bundle, e.g. "provision/build.sh" or "presets/helm/XS.yaml". */
  bundlePath: string;
  mode: number;
}

/** The package root seen from this module: two levels up from src/commands or dist/chunks, one from dist. */
function packageRootCandidates(): string[] {
  return ['../../', '../'].map((up) => fileURLToPath(new URL(up, import.meta.url)));
}

/**
 * Finds provision/ and presets/helm/. `provisionOverride` replaces provision/ (tests point it at a
 * copy whose build.sh and seal-image.sh are stubs: the real ones would change the test machine).
 */
export function locateProvisionBundle(provisionOverride?: string): ProvisionBundle {
  for (const packageRoot of packageRootCandidates()) {
    const provisionDir = provisionOverride ?? join(packageRoot, 'provision');
    const presetsHelmDir = join(packageRoot, 'presets', 'helm');
    if (existsSync(join(provisionDir, 'build.sh')) && existsSync(presetsHelmDir)) return { packageRoot, provisionDir, presetsHelmDir };
  }
  throw new CloudError('provision-missing', 'The provision/ scripts are not where sourcegraph-launch expects them (beside dist/ in the package)', {
    remediation: 'Reinstall sourcegraph-launch (npx sourcegraph-launch@latest), or run it from a complete clone of the repository.',
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return walk(p);
      return e.isFile() ? [p] : [];
    });
}

/**
 * The files of the bundle: every script and data file of provision/ (dot files and the README
 * are not needed on the machine) and the Helm values of every size, so the installed image can
 * serve any size's values, with the values every size shares (`presets/helm/common.yaml`, which
 * pins the stateful services to the server) always, whatever `sizes` selects.
 */
export function bundleFiles(bundle: ProvisionBundle, opts: { sizes?: string[] } = {}): BundleFile[] {
  const files: BundleFile[] = [];
  for (const localPath of walk(bundle.provisionDir)) {
    const rel = relative(bundle.provisionDir, localPath);
    if (rel.split('/').some((part) => part.startsWith('.')) || rel === 'README.md') continue;
    const executable = (statSync(localPath).mode & 0o111) !== 0 || rel.endsWith('.sh');
    files.push({ localPath, bundlePath: `provision/${rel}`, mode: executable ? 0o755 : 0o644 });
  }
  for (const name of readdirSync(bundle.presetsHelmDir).sort()) {
    if (!name.endsWith('.yaml')) continue;
    if (opts.sizes && name !== COMMON_VALUES_FILE && !opts.sizes.includes(name.replace(/\.yaml$/, ''))) continue;
    files.push({ localPath: join(bundle.presetsHelmDir, name), bundlePath: `presets/helm/${name}`, mode: 0o644 });
  }
  return files;
}

/** The git commit of the package's scripts when run from a clone, else the package version. */
export function sourceCommitOf(bundle: ProvisionBundle, packageVersion: string): string {
  if (existsSync(join(bundle.packageRoot, '.git'))) {
    try {
      const sha = execFileSync('git', ['-C', bundle.packageRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim();
      if (/^[0-9a-f]{40}$/.test(sha)) return sha;
    } catch {
      // No git on PATH, or not a repository after all: the version identifies the scripts too.
    }
  }
  return `v${packageVersion}`;
}
