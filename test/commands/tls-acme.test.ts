// `tls --tls acme` on the fake cloud (in process, a scripted SSH host): the question before port 80
// is opened to the world, what a "no" leaves (nothing), that SSH must be possible before anything
// changes, a cloud without world-port rules refused up front, and the marked rule opened then closed
// by `tls --remove`. The real CLI on moto with a test host is test/e2e/tls-acme.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import type { Deps } from '../../src/commands/deps.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { installAcme } from '../../src/commands/tls-acme.js';
import { runTlsRemove } from '../../src/commands/tls-remove.js';
import { LaunchError } from '../../src/core/errors.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const DOMAIN = 'sourcegraph.example.com';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----', 'login: '].join('\n');
const where = { region: REGION, providerFlags: {} };
const acme = { ...where, domain: DOMAIN, tls: 'acme', acmeEmail: 'admin@example.com', dns: false, wait: false };

async function rig(sshCidr = '203.0.113.7/32') {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, CONSOLE);
  const remote = new ScriptedRemoteHost(() => 0, () => ok('done\n'));
  const deps = (io: ScriptedIo, cloud: Cloud = fake): Deps => ({ ...makeFakeDeps({ fake, io, home }), connect: async () => cloud, connectRemote: remote.connect });
  const worldRules = async () => (await fake.findDeployment('prod')).accessPolicies.flatMap((p) => p.rules.filter((r) => r.cidr === '0.0.0.0/0'));
  return { fake, remote, deps, worldRules, mutations: () => fake.mutatingCalls().length };
}

async function failure(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('tls --tls acme on the fake cloud', () => {
  it('--acme-challenge dns-01 on a cloud that does not offer it exits 2 before anything changes (http-01 stays the default there)', async () => {
    const { deps, remote, worldRules, mutations } = await rig();
    const before = mutations();
    const io = new ScriptedIo([], false);
    const e = await failure(installAcme(deps(io), 'prod', { ...acme, dns: true, acmeChallenge: 'dns-01', yes: true }));
    expect([e.exitCode, e.message]).toEqual([2, '--acme-challenge dns-01 is not offered yet on aws']);
    expect(e.remediation).toContain('--acme-challenge http-01');
    expect(mutations()).toBe(before);
    expect(await worldRules()).toEqual([]);
    expect(remote.commands).toEqual([]);
    // The default there: HTTP-01, with its consent.
    const d = await failure(installAcme(deps(new ScriptedIo([], false)), 'prod', { ...acme, yes: true }));
    expect(d.message).toContain('--i-know-port-80-is-public is required');
  });

  it('asks before opening port 80 to the world; "no" changes nothing (exit 1)', async () => {
    const { deps, remote, worldRules, mutations } = await rig();
    const before = mutations();
    const io = new ScriptedIo([false]);
    const e = await failure(installAcme(deps(io), 'prod', acme));
    expect([e.code, e.exitCode]).toEqual(['declined', 1]);
    expect(io.questions.map((q) => q.message)).toEqual([expect.stringMatching(/^Open port 80 to the whole internet \(0\.0\.0\.0\/0\) on \S+ for Let's Encrypt's validation\?/)]);
    expect(io.text()).toContain('port 80/tcp is opened to 0.0.0.0/0');
    expect(mutations()).toBe(before);
    expect(await worldRules()).toEqual([]);
    expect(remote.commands).toEqual([]);
  });

  it('"yes": the marked rule, the settings and apply-acme.sh over SSH; tls --remove closes the rule and runs remove-acme.sh', async () => {
    const { deps, remote, worldRules } = await rig();
    const io = new ScriptedIo([true]);
    const r = await installAcme(deps(io), 'prod', acme);
    expect(r).toMatchObject({ way: 'acme', port80: { rule: 'opened' }, dns: 'not-checked', acme: { ca: 'production', email: 'admin@example.com' } });
    expect(await worldRules()).toEqual([{ port: 80, cidr: '0.0.0.0/0', purpose: 'acme-http-01' }]);
    // What ran as root (each command travels base64-encoded, the scripts inside it once more).
    const decode = (b: string) => Buffer.from(b, 'base64').toString('utf8');
    const ranScripts = () => remote.commands.map((c) => /^echo (\S+) \| base64 -d/.exec(c.command)?.[1]).filter((b): b is string => !!b).map(decode);
    const ran = ranScripts();
    const innerOf = (r: string[]) => r.flatMap((s) => [...s.matchAll(/printf '%s' '([A-Za-z0-9+/=]+)' \| base64 -d/g)].map((m) => decode(m[1]!)));
    expect(ran.some((s) => s.includes("printf 'domain=%s\\nemail=%s\\nca=%s\\n' 'sourcegraph.example.com' 'admin@example.com' 'production'"))).toBe(true);
    expect(innerOf(ran).some((s) => s.startsWith("#!/usr/bin/env bash\n# Serves the customer's domain with a Let's Encrypt certificate"))).toBe(true);

    const removed = await runTlsRemove(deps(new ScriptedIo([], false)), 'prod', { ...where, yes: true });
    expect(removed.port80Rule).toMatchObject({ outcome: 'closed' });
    expect(innerOf(ranScripts()).some((s) => s.startsWith('#!/usr/bin/env bash\n# Undoes apply-acme.sh'))).toBe(true);
    expect(await worldRules()).toEqual([]);
  });

  it('exits before anything changes: SSH closed (exit 1, the reason), a cloud without world-port rules (exit 2)', async () => {
    const closed = await rig('none');
    const before = closed.mutations();
    const e = await failure(installAcme(closed.deps(new ScriptedIo([true])), 'prod', { ...acme, iKnowPort80IsPublic: true }));
    expect(e.exitCode).toBe(1);
    expect(closed.mutations()).toBe(before);
    expect(await closed.worldRules()).toEqual([]);

    const { fake, deps, worldRules, mutations } = await rig();
    const start = mutations();
    // A cloud whose adapter has no such rules (AWS, GCE, Azure and the fake all have them).
    const without = new Proxy(fake, { get: (t, p) => (p === 'openWorldPort' || p === 'closeWorldPort' ? undefined : Reflect.get(t, p, t)) }) as Cloud;
    const refused = await failure(installAcme(deps(new ScriptedIo([]), without), 'prod', { ...acme, iKnowPort80IsPublic: true }));
    expect([refused.exitCode, refused.message]).toEqual([2, "--tls acme is not supported on aws: its adapter cannot open port 80 to the world for Let's Encrypt's validation"]);
    expect(mutations()).toBe(start);
    expect(await worldRules()).toEqual([]);
  });
});
