// Promise: SSH is never opened to the whole internet unless the user says so explicitly. The check
// runs on the resolved SSH CIDRs, whatever their source: a flag, the "same as --allow-cidr" default,
// a saved answer or a wizard answer; and the printed CI command replays what was chosen.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLaunch } from '../../src/commands/launch.js';
import { UsageError } from '../../src/core/errors.js';
import { runCli } from '../support/cli.js';
import { DEAD_ENDPOINT } from '../support/cli.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const home = mkdtempSync(join(tmpdir(), 'sgl-ssh-world-'));
const offline = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };

describe('non-interactive: a world-open resolved SSH value exits 2 naming --ssh-cidr', () => {
  it.each(['0.0.0.0/0', '::/0'])('--allow-cidr %s with no --ssh-cidr', async (cidr) => {
    const r = await runCli(['launch', '--region', 'us-east-1', '--allow-cidr', cidr, '--yes', '--dry-run'], { home, env: offline });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--ssh-cidr defaults to the --allow-cidr networks.*would open SSH to the whole internet/);
    expect(r.stderr).toContain('--i-know-ssh-is-public');
  });

  it('the same with --i-know-ssh-is-public is accepted, and the printed command replays it', async () => {
    const r = await runCli(['launch', '--region', 'us-east-1', '--allow-cidr', '0.0.0.0/0', '--i-know-ssh-is-public', '--yes', '--dry-run', '--json'], { home, env: offline });
    expect(r.code, r.stderr).toBe(0);
    const cmd = /Equivalent command for CI:\n\s+(.*)\n/.exec(r.stderr)![1]!;
    expect(cmd).toContain('--ssh-cidr 0.0.0.0/0');
    expect(cmd).toContain('--i-know-ssh-is-public');
    const replay = await runCli([...cmd.split(' ').slice(1), '--dry-run'], { home, env: offline });
    expect(replay.code, replay.stderr).toBe(0);
  });

  it('an explicit world-open --ssh-cidr is refused as before', async () => {
    const r = await runCli(['launch', '--region', 'us-east-1', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '::/0', '--yes'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ssh-cidr ::\/0 opens SSH to the whole internet/);
  });
});

describe('wizard: never offers a world-open SSH default and asks a second, explicit question', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60720', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  });
  afterAll(async () => moto?.stop());
  const flags = { cloud: 'aws', region: 'us-east-1', size: 'XS', version: '6.12.5040', name: 'wiz', dryRun: true } as const;

  it('with HTTP open to the world, the SSH default is the caller\'s address, not the world', async () => {
    const io = new ScriptedIo([(q: { default?: unknown }) => q.default, (q: { default?: unknown }) => q.default, 'generate']);
    const deps = makeDeps({ endpoint: moto.endpoint, io, publicIp: '198.51.100.23', home: tempHome() });
    const out = (await runLaunch(deps, { ...flags, allowCidr: ['0.0.0.0/0'] })) as { plan: Record<string, { value: unknown }> };
    const ssh = io.questions.find((q) => q.message.startsWith('Who may reach SSH'))!;
    expect(ssh.default).toBe('198.51.100.23/32');
    expect(out.plan.sshCidrs!.value).toEqual(['198.51.100.23/32']);
  });

  it('without a known address the default is "none"', async () => {
    const io = new ScriptedIo([(q: { default?: unknown }) => q.default]);
    const deps = makeDeps({ endpoint: moto.endpoint, io, home: tempHome() });
    const out = (await runLaunch(deps, { ...flags, allowCidr: ['::/0'] })) as { plan: Record<string, { value: unknown }> };
    expect(io.questions[0]!.default).toBe('none');
    expect(out.plan.sshCidrs!.value).toEqual([]);
  });

  it('a world-open answer asks to confirm; "no" asks the SSH question again', async () => {
    const io = new ScriptedIo(['0.0.0.0/0', false, '203.0.113.7/32', 'generate']);
    const deps = makeDeps({ endpoint: moto.endpoint, io, home: tempHome() });
    const out = (await runLaunch(deps, { ...flags, allowCidr: ['203.0.113.0/24'] })) as { plan: Record<string, { value: unknown }> };
    expect(io.questions.map((q) => q.kind)).toEqual(['input', 'confirm', 'input', 'select']);
    expect(io.questions[1]!.message).toMatch(/0\.0\.0\.0\/0 opens SSH \(port 22\) to the whole internet/);
    expect(io.questions[1]!.default).toBe(false);
    expect(out.plan.sshCidrs!.value).toEqual(['203.0.113.7/32']);
    expect(out.plan.iKnowSshIsPublic).toBe(false);
  });

  it('"yes" opens it and the printed CI command carries --i-know-ssh-is-public', async () => {
    const io = new ScriptedIo(['0.0.0.0/0', true, 'generate']);
    const deps = makeDeps({ endpoint: moto.endpoint, io, home: tempHome() });
    await runLaunch(deps, { ...flags, allowCidr: ['203.0.113.0/24'] });
    expect(io.text()).toMatch(/--ssh-cidr 0\.0\.0\.0\/0 --i-know-ssh-is-public/);
  });

  it('a saved world-open HTTP answer is never offered as the SSH default', async () => {
    const home2 = tempHome();
    const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([]), home: home2 });
    deps.state.setPreferences({ allowCidr: '0.0.0.0/0' });
    const io = new ScriptedIo([(q: { default?: unknown }) => q.default, (q: { default?: unknown }) => q.default]);
    await runLaunch(makeDeps({ endpoint: moto.endpoint, io, home: home2 }), { ...flags });
    const [allow, ssh] = io.questions;
    expect(allow!.default).toBe('0.0.0.0/0');
    expect(ssh!.default).toBe('none');
  });
});

it('build-image refuses a world-open builder SSH without the explicit flag', async () => {
  await expect(
    runLaunch(makeDeps({ endpoint: DEAD_ENDPOINT, io: new ScriptedIo([], false) }), {
      region: 'us-east-1', allowCidr: ['0.0.0.0/0'], imageSource: 'build', yes: true,
    }),
  ).rejects.toBeInstanceOf(UsageError);
  const r = await runCli(['build-image', '--region', 'us-east-1', '--version', '6.12.5041', '--ssh-cidr', '0.0.0.0/0', '--yes'], { home });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/opens SSH to the whole internet/);
});
