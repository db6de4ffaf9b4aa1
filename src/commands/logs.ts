// `logs [name]`: why an instance is (not) serving, from the places that know. Over SSH: the boot
// status file our images write (stage, the boot decision, the error), both version files, the boot
// log and the boot unit's journal, and with --pods the pods as kubectl sees them. From the cloud:
// the serial console, which works without SSH, so when SSH is not possible the console still
// shows and the command says why the rest is missing.
import type { LogsFlags } from '../cli/commands/ssh.js';
import { defaultProvider } from '../cloud/providers.js';
import { describeDataDiskUsage, parseDataDiskUsage } from '../core/data-disk-usage.js';
import { UsageError } from '../core/errors.js';
import { BOOT_LOG_PATH, BOOT_STATUS_PATH, K3S_KUBECTL, podNotReadyReason } from '../engine/wait.js';
import type { ExecResult, Remote } from '../remote/remote.js';
import { connectToInstance, DATA_VERSION_FILE, imageVersionFile } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { explainUnreachable, reachInstance } from './instance-access.js';
import { untilInterrupted } from './ssh.js';
import type { TargetFlags } from './target.js';

export const BOOT_UNIT = 'sourcegraph-boot.service';
const EXEC_TIMEOUT_MS = 30_000;

export interface PodState {
  namespace: string;
  name: string;
  ready: boolean;
  /** Running, or why not ready in kubectl's words (Pending, CrashLoopBackOff, Init:Error …). */
  status: string;
  restarts: number;
}

export interface LogsResult {
  name: string;
  cloud: string;
  region: string;
  instanceId: string;
  instanceState: string;
  /** The serial console's last lines, or why the cloud did not give it. */
  console: { text?: string; error?: string };
  /** status.json as the boot wrote it; null when the instance has none (a published image, or before the first boot). */
  bootStatus?: Record<string, unknown> | null;
  versions?: { image: string; data: string };
  bootLog?: string;
  journal?: string;
  pods?: PodState[];
  /** Each part that could not be shown, and why. */
  missing: { part: string; reason: string; remediation?: string }[];
}

export async function runLogs(deps: Deps, nameArg: string | undefined, flags: LogsFlags & TargetFlags): Promise<LogsResult> {
  const { io } = deps;
  const lines = flags.lines === undefined ? 50 : Number(flags.lines);
  if (!Number.isInteger(lines) || lines < 1 || lines > 10_000) throw new UsageError(`--lines: "${flags.lines}" must be a whole number from 1 to 10000`);
  if (flags.follow && io.json) throw new UsageError('--follow cannot be combined with --json (it prints until Ctrl-C)');
  const reach = await reachInstance(deps, nameArg, flags);
  const { target, instance, cloud } = reach;
  const result: LogsResult = { name: target.name, cloud: target.cloud, region: target.region, instanceId: instance.id, instanceState: instance.state, console: {}, missing: [] };

  try {
    result.console.text = lastLines(await cloud.consoleOutput(instance.id), lines);
  } catch (e) {
    result.console.error = (e as Error).message;
  }

  const sshParts = ['status file', 'version files', 'boot log', 'journal', ...(flags.pods ? ['pods'] : [])];
  let remote: Remote | undefined;
  if ('problem' in reach.ssh) {
    const { problem } = reach.ssh;
    for (const part of sshParts) result.missing.push({ part, reason: problem.message, ...(problem.remediation ? { remediation: problem.remediation } : {}) });
    if (flags.follow) {
      render(deps, result, lines);
      throw problem;
    }
  } else {
    try {
      remote = await connectToInstance(deps, cloud, reach.ssh.access, reach.ssh.host, instance.id);
    } catch (caught) {
      const e = await explainUnreachable(deps, reach, caught, flags.providerFlags);
      // A host key that does not match is never connected to: show the console, then refuse.
      if ((e as { code?: string }).code === 'host-key-mismatch') {
        render(deps, result, lines);
        throw e;
      }
      const remediation = (e as { remediation?: string }).remediation;
      for (const part of sshParts) result.missing.push({ part, reason: (e as Error).message, ...(remediation ? { remediation } : {}) });
      if (flags.follow) {
        render(deps, result, lines);
        throw e;
      }
    }
  }

  try {
    if (remote) await readOverSsh(remote, result, { lines, pods: Boolean(flags.pods) }, target.provider);
    render(deps, result, lines);
    if (remote && flags.follow) {
      io.info(`\nFollowing journalctl -u ${BOOT_UNIT} (Ctrl-C to stop)…`);
      const out = deps.terminal?.stdout;
      await untilInterrupted(
        deps,
        remote.exec(`sudo journalctl -u ${BOOT_UNIT} -f -n 0 --no-pager`, { onStdout: (c) => (out ? out.write(c) : io.info(c.replace(/\n$/, ''))) }),
        'following the journal',
      );
    }
  } finally {
    await remote?.close().catch(() => undefined);
  }
  return result;
}

async function readOverSsh(remote: Remote, result: LogsResult, opts: { lines: number; pods: boolean }, provider: Parameters<typeof imageVersionFile>[0]): Promise<void> {
  const run = async (part: string, command: string): Promise<ExecResult | undefined> => {
    try {
      return await remote.exec(command, { timeoutMs: EXEC_TIMEOUT_MS });
    } catch (e) {
      result.missing.push({ part, reason: (e as Error).message });
      return undefined;
    }
  };
  const failed = (part: string, r: ExecResult) => result.missing.push({ part, reason: (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n')[0]! });

  // The file exists only on images we provisioned: its absence is an answer, not a failure.
  const status = await run('status file', `if sudo test -e ${BOOT_STATUS_PATH}; then sudo cat ${BOOT_STATUS_PATH}; else echo null; fi`);
  if (status && status.code === 0) {
    try {
      const parsed: unknown = JSON.parse(status.stdout);
      result.bootStatus = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
    } catch {
      result.missing.push({ part: 'status file', reason: `${BOOT_STATUS_PATH} is not JSON: ${status.stdout.trim().slice(0, 80)}` });
    }
  } else if (status) failed('status file', status);

  const root = imageVersionFile(provider);
  const versions = await run('version files', `printf '%s\\n' "$(cat ${root} 2>/dev/null)" "$(cat ${DATA_VERSION_FILE} 2>/dev/null)"`);
  if (versions && versions.code === 0) {
    const [image = '', data = ''] = versions.stdout.split('\n').map((l) => l.trim());
    result.versions = { image, data };
  } else if (versions) failed('version files', versions);

  const bootLog = await run('boot log', `sudo tail -n ${opts.lines} ${BOOT_LOG_PATH}`);
  if (bootLog && bootLog.code === 0) result.bootLog = bootLog.stdout.replace(/\s+$/, '');
  else if (bootLog) failed('boot log', bootLog);

  const journal = await run('journal', `sudo journalctl -u ${BOOT_UNIT} -n ${opts.lines} --no-pager`);
  if (journal && journal.code === 0) result.journal = journal.stdout.replace(/\s+$/, '');
  else if (journal) failed('journal', journal);

  if (opts.pods) {
    const pods = await run('pods', `${K3S_KUBECTL} get pods -A -o json`);
    if (pods && pods.code === 0) {
      const parsed = parsePods(pods.stdout);
      if (parsed) result.pods = parsed;
      else result.missing.push({ part: 'pods', reason: 'kubectl printed no pod list' });
    } else if (pods) failed('pods', pods);
  }
}

/** kubectl's pod list: not-ready pods first (then by namespace and name), each with why. */
export function parsePods(json: string): PodState[] | undefined {
  type Pod = Parameters<typeof podNotReadyReason>[0];
  let items: Pod[];
  try {
    items = ((JSON.parse(json) as { items?: Pod[] }).items ?? []).filter(Boolean);
  } catch {
    return undefined;
  }
  const pods = items.map((p): PodState => {
    const reason = podNotReadyReason(p);
    return {
      namespace: p.metadata?.namespace ?? '',
      name: p.metadata?.name ?? '(unnamed)',
      ready: reason === undefined,
      status: reason ?? p.status?.phase ?? 'Running',
      restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + ((c as { restartCount?: number }).restartCount ?? 0), 0),
    };
  });
  return pods.sort((a, b) => Number(a.ready) - Number(b.ready) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

function render(deps: Deps, r: LogsResult, lines: number): void {
  const { io } = deps;
  if (io.json) {
    io.result(r);
    return;
  }
  const indent = (text: string) => text.split('\n').map((l) => `  ${l}`).join('\n');
  io.info(`${r.name} (${r.cloud} ${r.region}): instance ${r.instanceId} ${r.instanceState}`);
  if (r.bootStatus === null) io.info(`\nBoot status: no ${BOOT_STATUS_PATH} (a published image, or the boot has not started)`);
  else if (r.bootStatus) {
    const s = r.bootStatus;
    const rows: [string, unknown][] = [
      ['stage', s.stage],
      ['decision', s.decision],
      ['target', s.targetVersion],
      ['data was', s.dataVersion],
      ['started', s.startedAt],
      ['finished', s.finishedAt],
      ['error', s.lastError ? `${String(s.lastError)}${s.errorCode ? ` (${String(s.errorCode)})` : ''}` : undefined],
      ['updated', s.updatedAt],
    ];
    io.info(`\nBoot status (${BOOT_STATUS_PATH}):`);
    for (const [k, v] of rows) if (v !== undefined && v !== null && v !== '') io.info(`  ${k.padEnd(9)} ${String(v)}`);
    // The data disk's usage as the boot service measured it (images that record it).
    const usage = parseDataDiskUsage(s.dataDisk);
    if (usage) {
      const shown = describeDataDiskUsage(usage, `${deps.program} disk grow ${r.name}${r.cloud === defaultProvider().id ? "" : ` --cloud ${r.cloud}`} --region ${r.region} --size <GiB>`);
      io.info(`  ${'data disk'.padEnd(9)} ${shown.line}`);
      if (shown.warning) io.warn(shown.warning);
    }
  }
  if (r.versions) io.info(`\nVersions: image ${r.versions.image || '(empty)'}, data ${r.versions.data || '(empty)'}${r.versions.image && r.versions.image === r.versions.data ? ' (installed)' : ''}`);
  if (r.bootLog !== undefined) io.info(`\n${BOOT_LOG_PATH} (last ${lines} lines):\n${indent(r.bootLog || '(empty)')}`);
  if (r.journal !== undefined) io.info(`\njournalctl -u ${BOOT_UNIT} (last ${lines} lines):\n${indent(r.journal || '(empty)')}`);
  if (r.pods) {
    const notReady = r.pods.filter((p) => !p.ready).length;
    io.info(`\nPods: ${r.pods.length - notReady}/${r.pods.length} ready${notReady ? ' (not ready first)' : ''}`);
    const rows = [['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS'], ...r.pods.map((p) => [p.namespace, p.name, p.ready ? 'yes' : 'no', p.status, String(p.restarts)])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) io.info(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
  }
  if (r.console.text !== undefined) io.info(`\nSerial console (last ${lines} lines):\n${indent(r.console.text || '(empty)')}`);
  else io.warn(`The serial console is unavailable: ${r.console.error ?? 'no answer'}`);
  const missing = new Map<string, { parts: string[]; remediation?: string }>();
  for (const m of r.missing) {
    const seen = missing.get(m.reason) ?? { parts: [], ...(m.remediation ? { remediation: m.remediation } : {}) };
    seen.parts.push(m.part);
    missing.set(m.reason, seen);
  }
  for (const [reason, { parts, remediation }] of missing) io.warn(`Not shown (${parts.join(', ')}): ${reason}${remediation ? `\n  ${remediation}` : ''}`);
}

function lastLines(text: string, n: number): string {
  const all = text.replace(/\s+$/, '').split(/\r?\n/);
  return all.slice(-n).join('\n');
}
