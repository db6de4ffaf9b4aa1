// doctor's pure judgements: openssl's end dates and df's POSIX output parsed, and where each
// threshold falls (certificates: expired / under 30 days; disk: 80 % / 95 %; snapshots: 48 h).
import { describe, expect, it } from 'vitest';
import { certificatesCheck, diskSpaceCheck, doctorVerdict, formatChecks, parseCertEndDates, parseDf, quotaCheck, snapshotAgeCheck, check } from '../../src/core/doctor-checks.js';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('parseCertEndDates', () => {
  it('reads each "<file> notAfter=…" line (single-digit days padded as openssl pads them), skipping errors', () => {
    const text = [
      '/var/lib/rancher/k3s/server/tls/client-admin.crt notAfter=Nov 27 20:00:00 2027 GMT',
      '/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt notAfter=Jan  3 04:05:06 2027 GMT',
      'Could not read certificate from /var/lib/rancher/k3s/server/tls/broken.crt',
      '/var/lib/rancher/k3s/server/tls/odd.crt notAfter=Foo 3 04:05:06 2027 GMT',
    ].join('\n');
    expect(parseCertEndDates(text)).toEqual([
      { file: '/var/lib/rancher/k3s/server/tls/client-admin.crt', notAfter: new Date(Date.UTC(2027, 10, 27, 20, 0, 0)) },
      { file: '/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt', notAfter: new Date(Date.UTC(2027, 0, 3, 4, 5, 6)) },
    ]);
  });

  it('the first to end decides: 30 days passes, 29 warns, the end itself fails; none found skips', () => {
    const at = (days: number) => [{ file: '/x/a.crt', notAfter: new Date(NOW + days * 86_400_000) }, { file: '/x/ca.crt', notAfter: new Date(NOW + 3650 * 86_400_000) }];
    expect(certificatesCheck(at(30), NOW, 'restart').status).toBe('pass');
    expect(certificatesCheck(at(29.5), NOW, 'restart').status).toBe('warn');
    expect(certificatesCheck(at(0), NOW, 'restart').status).toBe('fail');
    expect(certificatesCheck([], NOW, 'restart').status).toBe('skip');
  });
});

describe('parseDf and diskSpaceCheck', () => {
  const df = (pct: number, mount = '/mnt/data') => `Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sdb 1000 ${pct * 10} ${1000 - pct * 10} ${pct}% ${mount}\n`;

  it('reads size, use and the mount; nothing from a header alone or garbage', () => {
    expect(parseDf(df(42))).toEqual({ sizeKiB: 1000, usedKiB: 420, availKiB: 580, usedPercent: 42, mount: '/mnt/data' });
    expect(parseDf('Filesystem 1024-blocks Used Available Capacity Mounted on\n')).toBeUndefined();
    expect(parseDf('df: /mnt/data: No such file or directory')).toBeUndefined();
  });

  it('warns from 80 %, fails from 95 %, and fails when /mnt/data is not a mount of its own', () => {
    expect(diskSpaceCheck(parseDf(df(79))!, 'grow').status).toBe('pass');
    expect(diskSpaceCheck(parseDf(df(80))!, 'grow')).toMatchObject({ status: 'warn', fix: 'grow' });
    expect(diskSpaceCheck(parseDf(df(95))!, 'grow').status).toBe('fail');
    expect(diskSpaceCheck(parseDf(df(10, '/'))!, 'grow').status).toBe('fail');
  });
});

describe('snapshotAgeCheck', () => {
  const ago = (h: number) => new Date(NOW - h * 3_600_000).toISOString();
  it('with a schedule: up to 48 h passes, older or none fails; without one: a warning unless recent', () => {
    expect(snapshotAgeCheck({ schedule: 'daily', newest: ago(30), now: NOW, fix: 'f' }).status).toBe('pass');
    expect(snapshotAgeCheck({ schedule: 'daily', newest: ago(49), now: NOW, fix: 'f' }).status).toBe('fail');
    expect(snapshotAgeCheck({ schedule: 'daily', now: NOW, fix: 'f' }).status).toBe('fail');
    expect(snapshotAgeCheck({ newest: ago(24), now: NOW, fix: 'f' }).status).toBe('pass');
    expect(snapshotAgeCheck({ newest: ago(24 * 8), now: NOW, fix: 'f' }).status).toBe('warn');
    expect(snapshotAgeCheck({ now: NOW, fix: 'f' })).toMatchObject({ status: 'warn', fix: 'f' });
  });
});

describe('the verdict and the list', () => {
  it('only a failure fails; the fix is shown under failures and warnings, not under passes', () => {
    const checks = [check('a', 'A', 'pass', 'fine', 'unused'), check('b', 'B', 'warn', 'close', 'do x'), check('c', 'C', 'skip', 'no way')];
    expect(doctorVerdict(checks).ok).toBe(true);
    expect(formatChecks(checks)).toEqual(['✓ A: fine', '! B: close', '    → do x', '- C: no way (skipped)']);
    expect(doctorVerdict([...checks, check('d', 'D', 'fail', 'broken')])).toMatchObject({ ok: false, failed: [{ id: 'd' }] });
  });
});

describe('quotaCheck', () => {
  const opts = { unit: 'vCPUs', fix: 'ask for more' };
  it('need against what is free: pass, fail with the fix; no figure: skip with why, or a warning with its fix when it could not be read', () => {
    expect(quotaCheck('q', 'Q', { limit: 32, used: 8 }, 16, opts)).toMatchObject({ status: 'pass', detail: '8 of 32 vCPUs in use, 24 free; the launch needs 16' });
    expect(quotaCheck('q', 'Q', { limit: 32, used: 20 }, 16, opts)).toMatchObject({ status: 'fail', fix: 'ask for more' });
    expect(quotaCheck('q', 'Q', undefined, 16, { ...opts, unknown: 'read it in the console' })).toMatchObject({ status: 'skip', detail: 'read it in the console' });
    expect(quotaCheck('q', 'Q', undefined, 16, { ...opts, unknown: 'x', unreadable: { reason: 'could not read: denied', fix: 'allow it' } })).toMatchObject({ status: 'warn', detail: 'could not read: denied', fix: 'allow it' });
  });
});
