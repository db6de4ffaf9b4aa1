// User data for `launch --image-source base`: a plain Amazon Linux 2023 instance provisions itself
// at first boot with the same provision/ scripts an image build runs (first-boot.sh), so users who
// do not want to keep images of their own still get the same appliance.
//
// The scripts no longer fit in EC2's 16 KB of user data (gzipped, comments stripped, they are about
// 20 KB), so the user data carries their SHA256 instead: the instance downloads this launcher's own
// npm package (the same files, published with provision/ and presets/), checks every file of the
// bundle against those hashes, installs exactly those files, then runs first-boot.sh. A file that
// differs (a launcher run from a modified checkout, a tampered download) stops the boot before
// anything runs, with the reason in status.json. The instance downloads k3s, Helm and the charts
// at first boot anyway, so this adds one download, not a new kind of dependency.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CloudError } from '../core/errors.js';
import { bundleFiles, type ProvisionBundle } from './provision-bundle.js';

/** EC2's limit on user data, before base64. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;
const BUNDLE_DIR = '/opt/sourcegraph-launch/bundle';
const REGISTRY = 'https://registry.npmjs.org';
const STATUS_FILE = '/var/lib/sourcegraph-launch/status.json';

export interface FirstBootUserData {
  script: string;
  gzipped: Buffer;
  base64: string;
  /** Where the instance downloads the bundle from (this launcher's npm package). */
  packageUrl: string;
}

/** The npm tarball of the launcher the bundle comes from. */
export function packageTarballUrl(name: string, version: string): string {
  return `${REGISTRY}/${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
}

/**
 * `cloud` is the --cloud first-boot.sh is run with (the provider's id): it picks the data disk's
 * device and the login user of that cloud's images; `baseImage` names the OS in the script's header.
 */
export function firstBootUserData(bundle: ProvisionBundle, opts: { version: string; size: string; cloud: string; baseImage: string }): FirstBootUserData {
  const cloud = opts.cloud;
  if (!/^\d+\.\d+\.\d+$/.test(opts.version) || !/^[A-Z]{1,2}$/.test(opts.size) || !/^[a-z]{2,10}$/.test(cloud)) {
    throw new CloudError('bad-user-data-input', `Cannot build user data for version "${opts.version}", size "${opts.size}"`);
  }
  const pkg = JSON.parse(readFileSync(join(bundle.packageRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  if (!/^(@[a-z0-9-]+\/)?[a-z0-9-]+$/.test(pkg.name) || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(pkg.version)) {
    throw new CloudError('bad-user-data-input', `Cannot name the package to download: ${pkg.name}@${pkg.version}`);
  }
  const packageUrl = packageTarballUrl(pkg.name, pkg.version);
  const files = bundleFiles(bundle, { sizes: [opts.size] });
  for (const f of files) {
    if (!/^[A-Za-z0-9_./-]+$/.test(f.bundlePath)) throw new CloudError('bad-user-data-input', `Unexpected file name in the bundle: ${f.bundlePath}`);
  }
  // "<sha256>  <path>" per file, then "<mode> <path>": checked and installed by the script below.
  const sums = files.map((f) => `${createHash('sha256').update(readFileSync(f.localPath)).digest('hex')}  ${f.bundlePath}`);
  const modes = files.map((f) => `${f.mode.toString(8)} ${f.bundlePath}`);
  const lines = [
    '#!/bin/bash',
    `# sourcegraph-launch ${pkg.version}: provision this plain ${opts.baseImage.replace(/[^\w .()-]/g, '')} instance at first boot (launch --image-source base).`,
    'set -euo pipefail',
    'umask 022',
    `fail() { mkdir -p "$(dirname ${STATUS_FILE})"; printf '{"stage": "failed", "targetVersion": "${opts.version}", "decision": "first-boot", "lastError": "%s", "errorCode": "bundle-unverified"}\\n' "$1" >${STATUS_FILE}; echo "$1" >&2; exit 4; }`,
    'work="$(mktemp -d)"',
    `curl -fsSL --retry 5 --proto '=https' -o "$work/package.tgz" '${packageUrl}' || fail "could not download the provision bundle from ${packageUrl}"`,
    'tar -xzf "$work/package.tgz" -C "$work" package/provision package/presets || fail "the downloaded package holds no provision bundle"',
    `(cd "$work/package" && sha256sum --check --strict --quiet) <<'SUMS' || fail "the provision bundle of ${pkg.name}@${pkg.version} differs from this launcher's; use --image-source build"`,
    ...sums,
    'SUMS',
    'while read -r mode path; do',
    `  install -D -m "$mode" "$work/package/$path" "${BUNDLE_DIR}/$path"`,
    "done <<'MODES'",
    ...modes,
    'MODES',
    'rm -rf "$work"',
    `exec ${BUNDLE_DIR}/provision/first-boot.sh --version ${opts.version} --size ${opts.size} --cloud ${cloud}`,
    '',
  ];
  const script = lines.join('\n');
  const gzipped = gzipSync(script, { level: 9 });
  if (gzipped.length > USER_DATA_LIMIT_BYTES) {
    throw new CloudError('user-data-too-large', `The provisioning user data is ${gzipped.length} bytes gzipped; EC2 allows ${USER_DATA_LIMIT_BYTES}`, {
      remediation: 'Use --image-source build (or published) instead of base.',
    });
  }
  return { script, gzipped, base64: gzipped.toString('base64'), packageUrl };
}
