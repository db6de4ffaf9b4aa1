// `launch --domain --tls-cert --tls-key` in-process on the fake cloud: every check of the files and
// flags (and SSH closed with --ssh-cidr none) exits 2 before anything is created; a TLS step that
// fails after the instance is up leaves the instance running and exits 1 (4 for a DNS time-out)
// naming the `tls` command that finishes it. (The success path,
// over a real sshd test host, is test/e2e/launch-tls.e2e.test.ts.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LaunchFlags } from '../../src/cli/commands/launch.js';
import { runLaunch } from '../../src/commands/launch.js';
import { checkLaunchTls, runLaunchTls } from '../../src/commands/launch-tls.js';
import { ExitCode, LaunchError, WaitTimeoutError } from '../../src/core/errors.js';
import { testCa } from '../support/certs.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.12.5040';
const DOMAIN = 'sourcegraph.example.com';
const certs = mkdtempSync(join(tmpdir(), 'sgl-launch-tls-'));
const ca = testCa(certs);
const site = ca.issue('site', [DOMAIN], { days: 90 });
const other = ca.issue('other', ['sourcegraph.example.org']);
const base: LaunchFlags = { region: REGION, providerFlags: {}, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'prod', holdSeconds: '1' };

function rig() {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const io = new ScriptedIo([], false);
  // The fake's clock starts in the past; the certificates are valid from now: the same virtual
  // clock (waits take no real time), shifted to today for the certificate checks.
  const offset = Date.now() - fake.clock.now();
  const clock = { now: () => fake.clock.now() + offset, sleep: (ms: number, signal?: AbortSignal) => fake.clock.sleep(ms, signal) };
  return { fake, io, deps: makeFakeDeps({ fake, io, clock, home: tempHome() }) };
}

async function errorOf(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('launch --domain on the fake cloud', () => {
  it('exits 2 with nothing created: a certificate that does not fit, --domain without both files, --tls managed, files with --tls acme, --no-wait, no --yes in CI', async () => {
    const cases: [LaunchFlags, string][] = [
      [{ domain: DOMAIN, tlsCert: site.certPath, tlsKey: other.keyPath, yes: true }, 'is not the key of the certificate'],
      [{ domain: 'sourcegraph.example.net', tlsCert: site.certPath, tlsKey: site.keyPath, yes: true }, `does not cover sourcegraph.example.net: it is for ${DOMAIN}`],
      [{ domain: DOMAIN, tlsCert: join(certs, 'missing.pem'), tlsKey: site.keyPath, yes: true }, 'no such file'],
      [{ domain: DOMAIN, tlsCert: site.certPath, yes: true }, '--domain needs --tls-cert and --tls-key: launch supports --tls-cert/--tls-key (your own certificate), --tls acme (Let\'s Encrypt) or --tls managed'],
      [{ domain: DOMAIN, yes: true }, 'launch supports --tls-cert/--tls-key (your own certificate), --tls acme (Let\'s Encrypt) or --tls managed'],
      [{ domain: DOMAIN, tls: 'cloudy', yes: true }, '--tls cloudy: launch supports --tls-cert/--tls-key'],
      // Azure's gateway serves your own certificate: launch refuses --tls managed there, naming `tls` (with or without files).
      [{ domain: DOMAIN, tls: 'managed', yes: true, cloud: 'azure', region: 'eastus' }, 'launch --tls managed is not offered on azure: on Azure run `tls --tls managed --tls-cert … --tls-key …` after the launch'],
      [{ domain: DOMAIN, tls: 'managed', tlsCert: site.certPath, tlsKey: site.keyPath, yes: true, cloud: 'azure', region: 'eastus' }, 'launch --tls managed is not offered on azure'],
      [{ tls: 'managed', yes: true }, '--tls managed needs --domain'],
      [{ domain: DOMAIN, tls: 'managed', tlsCert: site.certPath, tlsKey: site.keyPath, yes: true }, '--tls managed takes no --tls-cert/--tls-key'],
      [{ domain: DOMAIN, tls: 'acme', tlsCert: site.certPath, tlsKey: site.keyPath, yes: true }, '--tls acme takes no --tls-cert'],
      [{ tlsCert: site.certPath, tlsKey: site.keyPath, yes: true }, '--tls-cert needs --domain'],
      [{ domain: DOMAIN, tlsCert: site.certPath, tlsKey: site.keyPath, yes: true, wait: false }, '--domain cannot be combined with --no-wait'],
      [{ domain: DOMAIN, tlsCert: site.certPath, tlsKey: site.keyPath }, 'needs --yes'],
      [{ domain: DOMAIN, tlsCert: site.certPath, tlsKey: site.keyPath, yes: true, sshCidr: ['none'] }, '--domain with --ssh-cidr none: HTTPS is set up on the instance over SSH'],
    ];
    for (const [flags, message] of cases) {
      const { fake, deps } = rig();
      const e = await errorOf(runLaunch(deps, { ...base, ...flags }));
      expect(e.exitCode, `${JSON.stringify(flags)}: ${e.message}`).toBe(ExitCode.badInput);
      expect(e.message).toContain(message);
      expect(fake.state.instances).toHaveLength(0);
      expect(fake.calls.filter((c) => /^(create|allocate|import|upsert|run)/i.test(c.method))).toEqual([]);
    }
  });

  it('shows the HTTPS step in the plan and the dry run (no --yes needed there)', async () => {
    const { fake, io, deps } = rig();
    const out = (await runLaunch(deps, { ...base, domain: DOMAIN, tlsCert: site.certPath, tlsKey: site.keyPath, dryRun: true })) as unknown as { tls: Record<string, unknown> };
    expect(out.tls).toMatchObject({ domain: DOMAIN, url: `https://${DOMAIN}`, dns: 'zone-or-printed', certificate: { dnsNames: [DOMAIN], daysLeft: 89 } });
    expect(out.tls.afterReady).toBe(`sourcegraph-launch tls prod --region ${REGION} --domain ${DOMAIN} --tls-cert ${site.certPath} --tls-key ${site.keyPath}`);
    expect(io.text()).toContain(`HTTPS after the launch is ready: https://${DOMAIN} with your certificate`);
    expect(io.text()).toContain(`--domain ${DOMAIN} --tls-cert ${site.certPath} --tls-key ${site.keyPath}\n`);
    expect(fake.state.instances).toHaveLength(0);
  });

  it('a TLS step that fails after the readiness wait leaves the instance running and exits 1 naming the tls command (4 when the DNS wait timed out)', async () => {
    const { fake, deps } = rig();
    const flags = { ...base, domain: DOMAIN, tlsCert: site.certPath, tlsKey: site.keyPath, dns: false };
    const tls = checkLaunchTls(deps, flags)!;
    const where = { name: 'prod', region: REGION, url: 'http://198.51.100.10' };
    // The fake cloud runs no SSH, so the install step is stood in for by what it throws.
    const failed = await errorOf(runLaunchTls(deps, flags, tls, where, async () => {
      throw new LaunchError('ssh-failed', ExitCode.failed, 'SSH to 198.51.100.10 failed: connection refused', { remediation: 'Check --ssh-cidr.' });
    }));
    expect(failed.exitCode, failed.message).toBe(ExitCode.failed);
    expect(failed.code).toBe('tls-failed');
    expect(failed.message).toBe(`prod is launched and serving at http://198.51.100.10, but HTTPS on ${DOMAIN} did not finish: SSH to 198.51.100.10 failed: connection refused`);
    expect(failed.remediation).toBe(`Check --ssh-cidr.\nThe instance stays as it is. Finish HTTPS with:\n  sourcegraph-launch tls prod --region ${REGION} --domain ${DOMAIN} --tls-cert ${site.certPath} --tls-key ${site.keyPath} --no-dns`);
    const timedOut = await errorOf(runLaunchTls(deps, flags, tls, where, async () => {
      throw new WaitTimeoutError('dns', `The certificate is installed, but ${DOMAIN} did not resolve to 198.51.100.10 within 30 min`);
    }));
    expect(timedOut.exitCode).toBe(ExitCode.timedOut);
    expect(timedOut.code).toBe('tls-failed');
    expect(timedOut.message).toContain(`did not resolve to 198.51.100.10 within 30 min`);
    expect(fake.calls.some((c) => /terminate|delete/i.test(c.method))).toBe(false);
  });
});
