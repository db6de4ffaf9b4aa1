// The user data of `launch --image-source base`: within EC2's 16 KB for every size, and a script
// that, run by bash, writes the bundle byte for byte (checked in a scratch directory instead of /opt).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { USER_DATA_LIMIT_BYTES, compactForUserData, firstBootUserData } from '../../src/commands/first-boot-user-data.js';
import { bundleFiles, locateProvisionBundle } from '../../src/commands/provision-bundle.js';

const bundle = locateProvisionBundle();
const scratch = mkdtempSync(join(tmpdir(), 'sgl-user-data-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('first-boot user data', () => {
  it.each(['XS', 'S', 'M', 'L', 'XL'])('fits in 16 KB gzipped for size %s and decompresses to the script', (size) => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size });
    expect(data.gzipped.length).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    expect(gunzipSync(Buffer.from(data.base64, 'base64')).toString('utf8')).toBe(data.script);
    expect(data.script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(data.script.trimEnd().split('\n').at(-1)).toBe(`exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version 6.12.5040 --size ${size} --cloud aws`);
  });

  it('writes every bundle file unchanged with its mode, then hands over to first-boot.sh', () => {
    const data = firstBootUserData(bundle, { version: '6.12.5040', size: 'M' });
    const root = join(scratch, 'bundle');
    // Only the final line hands over to first-boot.sh (the real one would provision THIS machine):
    // replace exactly that line, and refuse to run anything else.
    const lines = data.script.replaceAll('/opt/sourcegraph-launch/bundle', root).trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`exec ${root}/provision/first-boot.sh --version 6.12.5040 --size M --cloud aws`);
    lines[lines.length - 1] = 'echo "would run first-boot.sh"';
    const script = lines.join('\n');
    expect(script).not.toContain(`exec ${root}/provision/first-boot.sh`);
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(out).toContain('would run');
    const files = bundleFiles(bundle, { sizes: ['M'] });
    expect(files.map((f) => f.bundlePath)).toContain('presets/helm/M.yaml');
    expect(files.map((f) => f.bundlePath)).not.toContain('presets/helm/XS.yaml');
    for (const f of files) {
      const written = join(root, f.bundlePath);
      const original = compactForUserData(f.bundlePath, readFileSync(f.localPath, 'utf8'));
      expect(readFileSync(written, 'utf8'), f.bundlePath).toBe(original.endsWith('\n') ? original : `${original}\n`);
      // Without their comments the scripts are still valid bash.
      if (f.bundlePath.endsWith('.sh')) execFileSync('bash', ['-n', written]);
      expect(statSync(written).mode & 0o777, f.bundlePath).toBe(f.mode);
    }
  });

  it('keeps only the shebang of a script\'s comment lines, and leaves data files alone', () => {
    expect(compactForUserData('provision/a.sh', '#!/usr/bin/env bash\n# why\n  # indented\necho "# not a comment"\n')).toBe('#!/usr/bin/env bash\necho "# not a comment"\n');
    // Here-documents are file content: their "#" lines stay.
    const heredoc = "#!/bin/bash\n# gone\ncat >f <<'EOF'\n#!/bin/sh\n# kept\nEOF\n# gone too\ncat <<X || true\n# kept too\nX\n";
    expect(compactForUserData('provision/b.sh', heredoc)).toBe("#!/bin/bash\ncat >f <<'EOF'\n#!/bin/sh\n# kept\nEOF\ncat <<X || true\n# kept too\nX\n");
    expect(compactForUserData('presets/helm/XS.yaml', '# comment\nkey: 1\n')).toBe('# comment\nkey: 1\n');
  });

  it('refuses input that could inject shell', () => {
    expect(() => firstBootUserData(bundle, { version: '6.12.5040; reboot', size: 'XS' })).toThrow(/Cannot build user data/);
  });
});
