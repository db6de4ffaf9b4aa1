// The data disk's usage for `status`: read over SSH from the status file the boot service writes
// (provision/lib.sh keeps `dataDisk` in status.json at every boot). `status` must stay fast and must
// not fail for it, so SSH gets one short try: no wait for the console's host key fingerprints (an
// instance whose key is neither pinned nor listed is not connected to), a short handshake and
// command timeout, and every reason it could not be read becomes "unknown (why)".
import type { Cloud, Deployment, Instance } from '../cloud/port.js';
import { parseDataDiskUsage, type DataDiskUsage } from '../core/data-disk-usage.js';
import { BOOT_STATUS_PATH } from '../engine/wait.js';
import { consoleHostKeys } from '../engine/host-key-wait.js';
import type { Remote } from '../remote/remote.js';
import type { DeploymentRecord } from '../state/store.js';
import type { Deps } from './deps.js';
import { sshCidrsOf, sshTo } from './instance-access.js';
import type { Target } from './target.js';

/** Handshake and command timeout: a status that waits 20 s for an instance nobody can reach is not a status. */
export const STATUS_SSH_TIMEOUT_MS = 5_000;

export type StatusDataDisk = { usage: DataDiskUsage; measuredAt?: string } | { unknown: string };

export async function readStatusDataDisk(
  deps: Deps,
  cloud: Pick<Cloud, 'consoleOutput'>,
  target: Target,
  d: Deployment,
  instance: Instance,
  host: string | undefined,
  record: DeploymentRecord | undefined,
): Promise<StatusDataDisk> {
  // Checked before sshTo: with no rule it would ask a public service for the caller's address.
  if (!sshCidrsOf(d).length) return { unknown: 'SSH closed' };
  const how = await sshTo(deps, target, d, instance, host, record, {});
  if ('problem' in how) return { unknown: how.problem.code === 'ssh-key-missing' ? 'no SSH key for it on this machine' : how.problem.message };
  const { access } = how;
  let remote: Remote | undefined;
  try {
    const keys = await consoleHostKeys({ cloud, clock: deps.clock, signal: deps.signal }, instance.id, { knownHostsPath: access.knownHostsPath, pinKey: instance.id, waitMs: 0 });
    if (keys.how === 'first-use') return { unknown: `the SSH host key of ${instance.id} is not known yet (\`${deps.program} logs ${target.name}\` checks and pins it)` };
    remote = await deps.connectRemote({
      host: how.host,
      user: access.user,
      privateKeyPath: access.privateKeyPath,
      knownHostsPath: access.knownHostsPath,
      pinKey: instance.id,
      expectedFingerprints: keys.expected,
      connectTimeoutMs: STATUS_SSH_TIMEOUT_MS,
    });
    const r = await remote.exec(`if sudo test -e ${BOOT_STATUS_PATH}; then sudo cat ${BOOT_STATUS_PATH}; else echo null; fi`, { timeoutMs: STATUS_SSH_TIMEOUT_MS });
    if (r.code !== 0) return { unknown: `could not read ${BOOT_STATUS_PATH}: ${(r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n')[0]}` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch {
      return { unknown: `${BOOT_STATUS_PATH} is not JSON` };
    }
    if (parsed === null || typeof parsed !== 'object') return { unknown: `no ${BOOT_STATUS_PATH} (a published image, or the boot has not started)` };
    const status = parsed as Record<string, unknown>;
    const usage = parseDataDiskUsage(status.dataDisk);
    if (!usage) return { unknown: 'the boot service has not recorded it' };
    return typeof status.updatedAt === 'string' ? { usage, measuredAt: status.updatedAt } : { usage };
  } catch (e) {
    return { unknown: `SSH failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await remote?.close().catch(() => undefined);
  }
}
