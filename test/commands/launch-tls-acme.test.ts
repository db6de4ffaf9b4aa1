// `launch --domain --tls acme` in-process on the fake cloud: its input is checked before anything is
// created (exit 2), SSH closed to everyone included; the plan and the dry run show the step and the
// port-80 rule. The steps themselves: tls-acme.test.ts and test/e2e/tls-acme.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import type { LaunchFlags } from '../../src/cli/commands/launch.js';
import { runLaunch } from '../../src/commands/launch.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.12.5040';
const DOMAIN = 'sourcegraph.example.com';
const base: LaunchFlags = { region: REGION, providerFlags: {}, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'prod', holdSeconds: '1' };
const acme: LaunchFlags = { domain: DOMAIN, tls: 'acme', acmeEmail: 'admin@example.com' };

function rig(interactive = false) {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const io = new ScriptedIo([], interactive);
  return { fake, io, deps: makeFakeDeps({ fake, io, home: tempHome() }) };
}

async function errorOf(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('launch --domain --tls acme on the fake cloud', () => {
  it('exits 2 with nothing created: no --acme-email, a bad one, no port-80 consent in CI (--yes is none), --no-wait, acme flags without --tls acme', async () => {
    const cases: [LaunchFlags, string][] = [
      [{ domain: DOMAIN, tls: 'acme', yes: true, iKnowPort80IsPublic: true }, '--acme-email is required with --tls acme'],
      [{ ...acme, acmeEmail: 'admin', yes: true, iKnowPort80IsPublic: true }, '--acme-email admin: not an e-mail address'],
      [{ ...acme, yes: true }, '--i-know-port-80-is-public is required with --tls acme when not running interactively'],
      [{ ...acme, yes: true, iKnowPort80IsPublic: true, wait: false }, '--domain cannot be combined with --no-wait'],
      [{ ...acme, iKnowPort80IsPublic: true }, 'needs --yes'],
      [{ tls: 'acme', acmeEmail: 'admin@example.com', yes: true }, '--tls acme needs --domain'],
      [{ domain: DOMAIN, acmeEmail: 'admin@example.com', tlsCert: 'x.pem', tlsKey: 'x.key', yes: true }, '--acme-email only applies with --tls acme'],
      // DNS-01: looked up before anything is created; the fake cloud offers no DNS-01 (as GCE and Azure today).
      [{ ...acme, yes: true, acmeChallenge: 'dns-01' }, '--acme-challenge dns-01 is not offered yet on aws'],
      [{ ...acme, yes: true, acmeChallenge: 'dns-01', dns: false }, '--acme-challenge dns-01 takes no --no-dns'],
      [{ ...acme, yes: true, iKnowPort80IsPublic: true, acmeChallenge: 'tls-alpn-01' }, '--acme-challenge tls-alpn-01: expected dns-01 or http-01'],
      [{ domain: DOMAIN, acmeChallenge: 'dns-01', tlsCert: 'x.pem', tlsKey: 'x.key', yes: true }, '--acme-challenge only applies with --tls acme'],
    ];
    for (const [flags, message] of cases) {
      const { fake, deps } = rig();
      const e = await errorOf(runLaunch(deps, { ...base, ...flags }));
      expect(e.exitCode, `${JSON.stringify(flags)}: ${e.message}`).toBe(ExitCode.badInput);
      expect(e.message).toContain(message);
      expect(fake.state.instances).toHaveLength(0);
      expect(fake.mutatingCalls()).toEqual([]);
    }
  });

  it('shows the step, the port-80 rule and the CI command in the plan and the dry run', async () => {
    const { fake, io, deps } = rig();
    const out = (await runLaunch(deps, { ...base, ...acme, acmeStaging: true, dryRun: true })) as unknown as { tls: Record<string, unknown> };
    expect(out.tls).toMatchObject({ domain: DOMAIN, url: `https://${DOMAIN}`, acme: { email: 'admin@example.com', ca: 'staging', challenge: 'http-01' } });
    expect(out.tls.afterReady).toBe(`sourcegraph-launch tls prod --region ${REGION} --domain ${DOMAIN} --tls acme --acme-email admin@example.com --acme-staging --i-know-port-80-is-public`);
    expect(io.text()).toContain(`HTTPS after the launch is ready: https://${DOMAIN} with a Let's Encrypt certificate (staging CA: not trusted by browsers`);
    expect(io.text()).toContain('Port 80/tcp is then opened to the whole internet (0.0.0.0/0)');
    expect(io.text()).toContain(`--domain ${DOMAIN} --tls acme --acme-email admin@example.com --acme-staging --i-know-port-80-is-public\n`);
    expect(fake.state.instances).toHaveLength(0);
  });

  it('SSH closed (--ssh-cidr none) is refused before anything is created: Traefik is configured over SSH', async () => {
    const { fake, deps } = rig();
    const e = await errorOf(runLaunch(deps, { ...base, ...acme, sshCidr: ['none'], iKnowPort80IsPublic: true, dns: false }));
    expect(e.exitCode, e.message).toBe(ExitCode.badInput);
    expect(e.message).toBe('--domain with --ssh-cidr none: HTTPS is set up on the instance over SSH, which none closes to everyone');
    expect(e.remediation).toContain(`sourcegraph-launch tls prod --domain ${DOMAIN} --tls acme --acme-email admin@example.com --i-know-port-80-is-public --no-dns`);
    expect(fake.state.instances).toHaveLength(0);
    expect(fake.calls.some((c) => c.method === 'openWorldPort')).toBe(false);
  });
});
