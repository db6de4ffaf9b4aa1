// User data for `launch --image-source base`: a plain Amazon Linux 2023 instance provisions itself
// at first boot with the same provision/ scripts an image build runs (first-boot.sh), so users who
// do not want to keep images of their own still get the same appliance.
//
// The script writes the bundle (provision/ and the size's Helm values, side by side as build.sh
// expects) with one quoted heredoc per file, then runs first-boot.sh. EC2 allows 16 KB of user data,
// so the script is gzipped: cloud-init recognises gzip and runs the script inside.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { CloudError } from '../core/errors.js';
import { bundleFiles, type ProvisionBundle } from './provision-bundle.js';

/** EC2's limit on user data, before base64. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;
const BUNDLE_DIR = '/opt/sourcegraph-launch/bundle';
const DELIMITER = 'SOURCEGRAPH_LAUNCH_FILE_END';

export interface FirstBootUserData {
  script: string;
  gzipped: Buffer;
  base64: string;
}

/**
 * Comment lines of the shell scripts are dropped: they are a third of the bundle and without them
 * it fits EC2's limit. The shebang stays (the scripts run each other directly). Inside the scripts'
 * heredocs a dropped line is a comment of the generated config file, so nothing changes in effect.
 */
export function compactForUserData(bundlePath: string, content: string): string {
  if (!bundlePath.endsWith('.sh')) return content;
  // Comment lines go, but never inside a here-document: there a "#" line is file content.
  let heredocEnd: string | undefined;
  return content
    .split('\n')
    .filter((line, i) => {
      if (heredocEnd !== undefined) {
        if (line.trim() === heredocEnd) heredocEnd = undefined;
        return true;
      }
      const start = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(line);
      if (start && !/^\s*#/.test(line)) heredocEnd = start[2];
      return !/^\s*#/.test(line) || (i === 0 && line.startsWith('#!'));
    })
    .join('\n');
}

export function firstBootUserData(bundle: ProvisionBundle, opts: { version: string; size: string }): FirstBootUserData {
  if (!/^\d+\.\d+\.\d+$/.test(opts.version) || !/^[A-Z]{1,2}$/.test(opts.size)) {
    throw new CloudError('bad-user-data-input', `Cannot build user data for version "${opts.version}", size "${opts.size}"`);
  }
  const lines = [
    '#!/bin/bash',
    '# sourcegraph-launch: provision this plain Amazon Linux 2023 instance at first boot (launch --image-source base).',
    'set -euo pipefail',
    'umask 022',
  ];
  for (const file of bundleFiles(bundle, { sizes: [opts.size] })) {
    const content = compactForUserData(file.bundlePath, readFileSync(file.localPath, 'utf8'));
    if (content.split('\n').includes(DELIMITER)) throw new CloudError('bad-user-data-input', `${file.bundlePath} contains the heredoc delimiter ${DELIMITER}`);
    const target = `${BUNDLE_DIR}/${file.bundlePath}`;
    lines.push(`mkdir -p "$(dirname ${target})"`, `cat >${target} <<'${DELIMITER}'`, content.replace(/\n$/, ''), DELIMITER, `chmod ${file.mode.toString(8)} ${target}`);
  }
  lines.push(`exec ${BUNDLE_DIR}/provision/first-boot.sh --version ${opts.version} --size ${opts.size} --cloud aws`, '');
  const script = lines.join('\n');
  const gzipped = gzipSync(script, { level: 9 });
  if (gzipped.length > USER_DATA_LIMIT_BYTES) {
    throw new CloudError('user-data-too-large', `The provisioning user data is ${gzipped.length} bytes gzipped; EC2 allows ${USER_DATA_LIMIT_BYTES}`, {
      remediation: 'Use --image-source build (or published) instead of base.',
    });
  }
  return { script, gzipped, base64: gzipped.toString('base64') };
}
