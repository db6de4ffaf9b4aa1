// `doctor`'s checks, the pure parts: what a check is, the verdict of a list of them, and the
// judgements that need no cloud (certificate end dates, disk use, snapshot age, a quota against
// what a launch needs). The command (src/commands/doctor.ts) gathers the facts and calls these.

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface Check {
  /** Stable, for scripts: "credentials", "quota-vcpus", "k3s-certificates" … */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (or, for a skip, why the check could not be made). */
  detail: string;
  /** What to do about a failure or warning. */
  fix?: string;
}

export function check(id: string, title: string, status: CheckStatus, detail: string, fix?: string): Check {
  return fix ? { id, title, status, detail, fix } : { id, title, status, detail };
}

/** Warnings and skips do not fail: only a failed check does. */
export function doctorVerdict(checks: readonly Check[]): { ok: boolean; failed: Check[] } {
  const failed = checks.filter((c) => c.status === 'fail');
  return { ok: failed.length === 0, failed };
}

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', warn: '!', skip: '-' };

/** One line per check, the fix under each failing or warning one. */
export function formatChecks(checks: readonly Check[]): string[] {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${MARK[c.status]} ${c.title}: ${c.detail}${c.status === 'skip' ? ' (skipped)' : ''}`);
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) lines.push(`    → ${c.fix}`);
  }
  return lines;
}

// ---- k3s certificates ----

export const K3S_TLS_DIR = '/var/lib/rancher/k3s/server/tls';
export const CERT_WARN_DAYS = 30;

export interface CertEnd {
  file: string;
  notAfter: Date;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Lines of `<file> notAfter=Nov 27 20:00:00 2027 GMT` (openssl x509 -enddate, one per certificate);
 * other lines (errors of one file) are left out.
 */
export function parseCertEndDates(text: string): CertEnd[] {
  const out: CertEnd[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+notAfter=(\w{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})\s+GMT\s*$/.exec(line.trim());
    if (!m) continue;
    const month = MONTHS.indexOf(m[2]!);
    if (month < 0) continue;
    out.push({ file: m[1]!, notAfter: new Date(Date.UTC(Number(m[7]), month, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))) });
  }
  return out;
}

const DAY_MS = 86_400_000;

/** The certificate that ends first decides: expired fails, under 30 days warns. */
export function certificatesCheck(certs: readonly CertEnd[], now: number, restart: string): Check {
  const title = 'k3s certificates';
  if (!certs.length) return check('k3s-certificates', title, 'skip', `no certificate found in ${K3S_TLS_DIR}`);
  const first = [...certs].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0]!;
  const days = Math.floor((first.notAfter.getTime() - now) / DAY_MS);
  const name = first.file.split('/').pop();
  const ends = `${name} ends ${first.notAfter.toISOString().slice(0, 10)}`;
  if (first.notAfter.getTime() <= now) {
    return check('k3s-certificates', title, 'fail', `${ends}: expired ${-days} day(s) ago; the cluster API refuses clients`, `k3s renews certificates that are expired or within 90 days of ending when it starts: ${restart}`);
  }
  if (days < CERT_WARN_DAYS) {
    return check('k3s-certificates', title, 'warn', `${ends}: ${days} day(s) left`, `k3s renews them when it restarts within 90 days of the end: ${restart} before then`);
  }
  return check('k3s-certificates', title, 'pass', `${days} days left (the first to end: ${ends}; k3s renews them at a restart within 90 days of the end)`);
}

// ---- free space on the data disk ----

export const DATA_MOUNT = '/mnt/data';
export const DISK_WARN_PERCENT = 80;
export const DISK_FAIL_PERCENT = 95;

export interface DiskUse {
  sizeKiB: number;
  usedKiB: number;
  availKiB: number;
  usedPercent: number;
  mount: string;
}

/** `df -P -k <path>`: the POSIX format, one line after the header. */
export function parseDf(text: string): DiskUse | undefined {
  const line = text.trim().split('\n').filter((l) => l.trim() && !/^Filesystem\s/.test(l)).pop();
  const f = line?.trim().split(/\s+/);
  if (!f || f.length < 6) return undefined;
  const [size, used, avail, percent] = f.slice(1, 5).map((x) => Number(x.replace('%', '')));
  if (![size, used, avail, percent].every((n) => Number.isFinite(n))) return undefined;
  return { sizeKiB: size!, usedKiB: used!, availKiB: avail!, usedPercent: percent!, mount: f.slice(5).join(' ') };
}

const gib = (kib: number) => `${(kib / 1024 / 1024).toFixed(1)} GiB`;

export function diskSpaceCheck(use: DiskUse, grow: string): Check {
  const title = 'Data disk free space';
  const detail = `${use.mount}: ${use.usedPercent}% used, ${gib(use.availKiB)} free of ${gib(use.sizeKiB)}`;
  if (use.mount !== DATA_MOUNT) {
    return check('data-disk-space', title, 'fail', `${DATA_MOUNT} is not a mount of its own (df shows ${use.mount}): the data disk is not mounted`, 'See `logs` for the boot decision; the boot mounts the data disk before k3s starts.');
  }
  if (use.usedPercent >= DISK_FAIL_PERCENT) return check('data-disk-space', title, 'fail', detail, grow);
  if (use.usedPercent >= DISK_WARN_PERCENT) return check('data-disk-space', title, 'warn', detail, grow);
  return check('data-disk-space', title, 'pass', detail);
}

// ---- snapshots against the schedule ----

/**
 * A daily schedule should leave a snapshot younger than a day and a bit (the window it runs in
 * plus the time it takes); two days without one means the schedule is not running.
 */
export function snapshotAgeCheck(input: { schedule?: string; newest?: string; now: number; fix: string }): Check {
  const title = 'Snapshots';
  const { newest, now, schedule, fix } = input;
  const ageH = newest ? (now - Date.parse(newest)) / 3_600_000 : undefined;
  const age = ageH === undefined ? undefined : ageH < 48 ? `${Math.round(ageH)} h` : `${Math.round(ageH / 24)} days`;
  if (!schedule) {
    if (ageH === undefined) return check('snapshot-age', title, 'warn', 'no snapshot schedule and no snapshot', fix);
    return check('snapshot-age', title, ageH > 7 * 24 ? 'warn' : 'pass', `no snapshot schedule; the newest snapshot is ${age} old`, ageH > 7 * 24 ? fix : undefined);
  }
  if (ageH === undefined) return check('snapshot-age', title, 'fail', `a ${schedule} schedule exists but there is no snapshot yet`, 'A new schedule makes its first snapshot within a day; if it has been longer, check the schedule in the cloud console.');
  if (ageH > 48) return check('snapshot-age', title, 'fail', `${schedule} schedule, but the newest snapshot is ${age} old`, 'The schedule is not running: check it (and the role it acts as) in the cloud console.');
  return check('snapshot-age', title, 'pass', `${schedule} schedule; the newest snapshot is ${age} old`);
}

// ---- quotas ----

export function quotaCheck(
  id: string,
  title: string,
  figure: { limit: number; used: number } | undefined,
  needed: number | undefined,
  opts: { unit: string; unknown?: string; fix: string; unreadable?: { reason: string; fix: string } },
): Check {
  // The cloud keeps the figure but it could not be read now: worth a warning, not a silent skip.
  if (!figure && opts.unreadable) return check(id, title, 'warn', opts.unreadable.reason, opts.unreadable.fix);
  if (!figure) return check(id, title, 'skip', opts.unknown ?? 'the cloud does not report this quota here');
  const free = figure.limit - figure.used;
  const detail = `${figure.used} of ${figure.limit} ${opts.unit} in use, ${Math.max(free, 0)} free`;
  if (needed === undefined) return check(id, title, 'skip', `${detail}; how many this launch needs is not known`);
  if (free < needed) return check(id, title, 'fail', `${detail}; the launch needs ${needed}`, opts.fix);
  return check(id, title, 'pass', `${detail}; the launch needs ${needed}`);
}
