// doctor checks the user's own TLS certificate (what `tls --tls-cert` recorded on this machine):
// fails once expired, warns under 21 days, passes otherwise, with the `tls` command to install a
// renewed one; no such check when `tls` installed none. In-process on the fake cloud (SSH closed,
// so the SSH checks are skipped and nothing else is asked of the instance).
import { describe, expect, it } from 'vitest';
import { runDoctor, type DoctorResult } from '../../src/commands/doctor.js';
import { runLaunch } from '../../src/commands/launch.js';
import { tlsCertificateCheck } from '../../src/core/tls-certificate-check.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.12.5040';
const DAY = 86_400_000;
const where = { region: REGION, providerFlags: {} };

async function rig() {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), { ...where, size: 'XS', version: VERSION, allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], name: 'prod', yes: true, wait: false });
  const setTls = (notAfter: string) => {
    const state = new FileStateStore(home);
    const record = state.getDeployment('aws', REGION, 'prod')!;
    state.putDeployment({ ...record, tls: { domain: 'sg.example.com', url: 'https://sg.example.com', notAfter, fingerprint256: 'AA', dnsNames: ['sg.example.com'], issuer: 'CN=CA', installedAt: new Date(fake.clock.now()).toISOString() } });
  };
  const run = async (io = new ScriptedIo([], false)) => (await runDoctor({ ...makeFakeDeps({ fake, io, home }), lookupPublicIp: async () => '198.51.100.7' }, 'prod', { ...where })) as DoctorResult;
  return { fake, setTls, run };
}

describe('doctor: the own TLS certificate', () => {
  it('passes with time left, warns under 21 days, fails once expired (exit 1), in text and --json', async () => {
    const { fake, setTls, run } = await rig();
    const at = (days: number) => new Date(fake.clock.now() + days * DAY + 3_600_000).toISOString();
    const tlsOf = (r: DoctorResult) => r.checks.find((c) => c.id === 'tls-certificate');

    expect(tlsOf(await run())).toBeUndefined();

    setTls(at(90));
    expect(tlsOf(await run())).toMatchObject({ status: 'pass', title: 'TLS certificate of sg.example.com', detail: `valid until ${at(90)} (90 days)` });

    setTls(at(20));
    const io = new ScriptedIo([], false);
    const soon = await run(io);
    expect(tlsOf(soon)).toMatchObject({ status: 'warn', detail: expect.stringContaining('expires in 20 days') });
    expect(tlsOf(soon)!.fix).toContain('sourcegraph-launch tls prod --region us-east-1 --domain sg.example.com --tls-cert <file> --tls-key <file>');
    expect(io.text()).toContain('! TLS certificate of sg.example.com: expires in 20 days');

    setTls(new Date(fake.clock.now() - DAY).toISOString());
    const json = new ScriptedIo([], false);
    Object.defineProperty(json, 'json', { value: true });
    const expired = await run(json);
    expect(tlsOf(expired)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^expired on .*: browsers refuse https:\/\/sg\.example\.com$/) });
    expect(expired.ok).toBe(false);
    expect(expired.exitCode).toBe(1);
    expect(json.events.find((e) => e.kind === 'result')).toMatchObject({ value: { ok: false, checks: expect.arrayContaining([expect.objectContaining({ id: 'tls-certificate', status: 'fail' })]) } });
  });

  it('the boundaries: 21 days passes, 20 warns, the instant of expiry fails; an unreadable date is skipped', () => {
    const now = Date.UTC(2026, 10, 27);
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(tlsCertificateCheck({ domain: 'd', notAfter: iso(now + 21 * DAY) }, now, 'f').status).toBe('pass');
    expect(tlsCertificateCheck({ domain: 'd', notAfter: iso(now + 21 * DAY - 1) }, now, 'f').status).toBe('warn');
    expect(tlsCertificateCheck({ domain: 'd', notAfter: iso(now + 1000) }, now, 'f')).toMatchObject({ status: 'warn', detail: expect.stringContaining('expires in 0 days') });
    expect(tlsCertificateCheck({ domain: 'd', notAfter: iso(now) }, now, 'f').status).toBe('fail');
    expect(tlsCertificateCheck({ domain: 'd', notAfter: 'soon' }, now, 'f').status).toBe('skip');
  });
});
