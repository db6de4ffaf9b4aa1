// Which processes hold the client end of the TCP connections to an address and port, by `ss`: how a
// test tells a connection that went through an SSH hop (the hop's sshd dialled it) from one the
// code under test dialled itself (node). Test hosts share one network namespace, so the target is
// reachable from both; the owner of the connection is what proves the path.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Process names (e.g. "sshd", "node") holding established connections to `address`:`port`. */
export async function connectionOwners(address: string, port: number): Promise<string[]> {
  const { stdout } = await run('ss', ['-Htnp', 'state', 'established', 'dst', `${address}:${port}`]);
  return [...stdout.matchAll(/users:\(\("([^"]+)"/g)].map((m) => m[1]!);
}
