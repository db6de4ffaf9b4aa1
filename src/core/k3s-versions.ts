// k3s versions of the deployment's nodes, compared the one way doctor and the agent re-join both use:
// k3s lets an agent run the server's version or an older one, never a newer one. Also the two small
// scripts the re-join runs on an agent (read its k3s version; bring it to the server's version from
// a binary its own image carries). Pure: the workflow runs them over SSH.
import { UsageError } from './errors.js';

/** `v1.31.4+k3s1` → [1, 31, 4]; undefined when it is not such a version. */
export function kubeletVersion(v: string | undefined): number[] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether version `a` is newer than `b` (major, minor, patch; the +k3sN build is not compared). */
export function isNewerK3s(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return false;
}

/** The full version (`v1.31.0+k3s1`) in `k3s --version`'s first line, or undefined. */
export function parseK3sVersionOutput(out: string): string | undefined {
  return /\bv\d+\.\d+\.\d+(?:\+k3s\d+)?/.exec(out)?.[0];
}

/** Run as root on an agent: its k3s binary's version (the one its k3s-agent unit starts). */
export function agentK3sVersionScript(): string {
  return 'set -eu\n"$(command -v k3s || echo /usr/local/bin/k3s)" --version\n';
}

/** Where an image of ours keeps the other k3s releases it carries (provision/lib.sh k3s_walk_binary). */
export const K3S_RELEASES_DIR = '/var/lib/sourcegraph-launch/k3s';

/**
 * Run as root on an agent older than its server: when its image carries the server's exact k3s
 * release (provision/install-k3s.sh keeps some under K3S_RELEASES_DIR), that binary becomes the
 * agent's k3s (the join then restarts the agent on it). Prints `k3s-installed` or `no-release`.
 */
export function installK3sReleaseScript(version: string): string {
  if (!/^v\d+\.\d+\.\d+\+k3s\d+$/.test(version)) throw new UsageError(`not a k3s version: ${version}`);
  return [
    'set -eu',
    `src=${K3S_RELEASES_DIR}/${version}/k3s`,
    'bin="$(command -v k3s || echo /usr/local/bin/k3s)"',
    'if [ -x "$src" ]; then',
    // Replaced by a rename: the running agent keeps its old binary until the join restarts it.
    '  install -m 0755 "$src" "$bin.sgl-new" && mv "$bin.sgl-new" "$bin"',
    '  echo k3s-installed',
    'else',
    '  echo no-release',
    'fi',
    '',
  ].join('\n');
}
