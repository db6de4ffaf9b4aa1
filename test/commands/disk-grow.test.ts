// `disk grow` in-process on the fake cloud: the size checks (nothing changes on bad input), the
// question and --yes, the cost change, the cloud's limits, resuming, the deployment's lock, and the
// filesystem step over a scripted SSH connection (the real script runs on loop devices in
// test/provision-disks/grow-data-disk.bats; the real CLI against moto in test/e2e/disk-grow.e2e.test.ts).
import { describe, expect, it } from 'vitest';
import { runDiskGrow } from '../../src/commands/disk-grow.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runLogs } from '../../src/commands/logs.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { failed, ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----'].join('\n');
const where = { region: REGION, providerFlags: {} };
const GIB = 1024 ** 3;

function usageJson(sizeGiB: number, grown: boolean): string {
  return `${JSON.stringify({ mount: '/mnt/data', device: '/dev/nvme1n1', filesystem: 'xfs', deviceBytes: sizeGiB * GIB, sizeBytes: sizeGiB * GIB - 1e8, usedBytes: 40 * GIB, availableBytes: 1, usedPercent: Math.ceil((40 * 100) / sizeGiB), grown })}\n`;
}

async function rig(sshCidr = '203.0.113.7/32', fsAnswer?: (command: string) => ReturnType<typeof ok>, resizePolls = 2) {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]), delays: { diskResize: { polls: resizePolls } } });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  fake.setConsoleOutput(launched.instanceId, CONSOLE);
  const dataDisk = () => fake.state.disks.find((d) => d.attachedTo === launched.instanceId && d.labels.role === 'data-volume')!;
  const remote = new ScriptedRemoteHost(() => 0, (command) => fsAnswer?.(command) ?? ok(usageJson(dataDisk().sizeGiB, true)));
  const deps = (io: ScriptedIo = new ScriptedIo([], false), extra: Partial<Deps> = {}): Deps => ({ ...makeFakeDeps({ fake, io, home }), connectRemote: remote.connect, ...extra });
  const resizes = () => fake.calls.filter((c) => c.method === 'resizeDisk');
  return { fake, launched, remote, deps, dataDisk, resizes };
}

async function errorOf(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('disk grow on the fake cloud', () => {
  it('shows the size and monthly cost change, asks, grows the disk, waits for it, then grows the filesystem over SSH', async () => {
    const { deps, dataDisk, remote, fake, launched, resizes } = await rig();
    const before = dataDisk().sizeGiB;
    const target = before + 300;
    const io = new ScriptedIo([true], true);
    const r = await runDiskGrow(deps(io), 'prod', { ...where, size: String(target) });

    expect(io.questions).toHaveLength(1);
    expect(io.questions[0]!.message).toBe(`Grow the data disk of prod to ${target} GiB?`);
    expect(io.text()).toContain(`→ ${target} GiB`);
    expect(io.text()).toMatch(/monthly cost of the disk: ≈ \$\d+ → \$\d+\/month \(\+\$\d+\.\d\d\)/);
    expect(dataDisk().sizeGiB).toBe(target);
    expect(resizes().map((c) => c.args)).toEqual([[dataDisk().id, target]]);
    expect(r).toMatchObject({ name: 'prod', diskId: dataDisk().id, fromGiB: before, toGiB: target, disk: 'grown', restarted: false });
    expect(r.monthlyUsd.change).toBeGreaterThan(0);
    expect(r.monthlyUsd.after! - r.monthlyUsd.before!).toBeCloseTo(r.monthlyUsd.change!, 1);
    expect(r.filesystem).toMatchObject({ grown: true, usage: { filesystem: 'xfs', deviceBytes: target * GIB } });
    // The real script, streamed so an older image grows too, run as root.
    const command = remote.commands.at(-1)!.command;
    expect(command).toMatch(/^printf %s '[A-Za-z0-9+/=]+' \| base64 -d \| sudo bash -s$/);
    const script = Buffer.from(/'([^']+)'/.exec(command)![1]!, 'base64').toString('utf8');
    expect(script).toContain('xfs_growfs');
    expect(script).toContain('resize2fs');
    // The deployment's lock is let go: no marker is left on the instance.
    expect(Object.keys(fake.state.instances.find((i) => i.id === launched.instanceId)!.labels).filter((k) => k.startsWith('lock-'))).toEqual([]);
  });

  it('refuses a smaller size with exit 2 and changes nothing; a size that is not a whole number or over the cloud\'s limit too', async () => {
    const { deps, dataDisk, resizes, fake } = await rig();
    const before = dataDisk().sizeGiB;
    const shrink = await errorOf(runDiskGrow(deps(), 'prod', { ...where, size: String(before - 1), yes: true }));
    expect(shrink).toMatchObject({ code: 'disk-shrink-refused', exitCode: ExitCode.badInput });
    expect(shrink.message).toContain(`is ${before} GiB`);
    const calls = fake.calls.length;
    for (const size of ['abc', '1.5', '0', '70000']) {
      const e = await errorOf(runDiskGrow(deps(), 'prod', { ...where, size, yes: true }));
      expect(e.exitCode, size).toBe(ExitCode.badInput);
    }
    // Bad input is refused before any cloud call.
    expect(fake.calls.length).toBe(calls);
    expect(resizes()).toEqual([]);
    expect(dataDisk().sizeGiB).toBe(before);
  });

  it('without a terminal it needs --yes (exit 2, nothing changed); answering no changes nothing either', async () => {
    const { deps, dataDisk, resizes } = await rig();
    const before = dataDisk().sizeGiB;
    const ci = await errorOf(runDiskGrow(deps(new ScriptedIo([], false)), 'prod', { ...where, size: String(before + 10) }));
    expect(ci).toMatchObject({ code: 'missing-input', exitCode: ExitCode.badInput });
    expect(ci.message).toContain('--yes');
    const no = await errorOf(runDiskGrow(deps(new ScriptedIo([false], true)), 'prod', { ...where, size: String(before + 10) }));
    expect(no.code).toBe('declined');
    expect(resizes()).toEqual([]);
    expect(dataDisk().sizeGiB).toBe(before);
  });

  it('re-run at the size the disk already has: no question, no cloud change, straight to the filesystem', async () => {
    const { deps, dataDisk, resizes, remote } = await rig();
    const target = dataDisk().sizeGiB + 50;
    await runDiskGrow(deps(), 'prod', { ...where, size: String(target), yes: true });
    const io = new ScriptedIo([], true);
    const again = await runDiskGrow(deps(io), 'prod', { ...where, size: String(target) });
    expect(io.questions).toEqual([]);
    expect(again).toMatchObject({ disk: 'already-at-size', fromGiB: target, toGiB: target });
    expect(resizes()).toHaveLength(1);
    expect(remote.commands.filter((c) => c.command.includes('base64 -d'))).toHaveLength(2);
  });

  it('a change the cloud started but did not finish (an interrupted run) is waited for, not asked for again', async () => {
    const { deps, dataDisk, resizes, fake } = await rig(undefined, undefined, 6);
    const target = dataDisk().sizeGiB + 20;
    await fake.resizeDisk(dataDisk().id, target);
    expect(dataDisk().sizeGiB).toBeLessThan(target);
    const r = await runDiskGrow(deps(new ScriptedIo([], true)), 'prod', { ...where, size: String(target) });
    expect(r.disk).toBe('grown');
    expect(r.fromGiB).toBeLessThan(target);
    expect(dataDisk().sizeGiB).toBe(target);
    expect(resizes()).toHaveLength(1);
  });

  it('AWS limits: a fifth change within 24 hours is refused with the time the next is allowed (exit 1)', async () => {
    const { deps, dataDisk, fake } = await rig();
    let size = dataDisk().sizeGiB;
    const first = fake.clock.now();
    for (let i = 0; i < 4; i++) await runDiskGrow(deps(), 'prod', { ...where, size: String((size += 10)), yes: true });
    const e = await errorOf(runDiskGrow(deps(), 'prod', { ...where, size: String(size + 10), yes: true }));
    expect(e).toMatchObject({ code: 'disk-modification-rate', exitCode: ExitCode.failed });
    const next = new Date(first + 24 * 3_600_000).getTime();
    const said = Date.parse(/allowed at (\S+)/.exec(e.message)![1]!);
    expect(said).toBeGreaterThanOrEqual(next);
    expect(said).toBeLessThan(next + 3_600_000);
    expect(dataDisk().sizeGiB).toBe(size);
  });

  it('SSH closed: the disk grows, and it says the filesystem grows at the next boot and how to trigger it now', async () => {
    const { deps, dataDisk, remote } = await rig('none');
    const target = dataDisk().sizeGiB + 100;
    const io = new ScriptedIo([], false);
    const r = await runDiskGrow(deps(io), 'prod', { ...where, size: String(target), yes: true });
    expect(dataDisk().sizeGiB).toBe(target);
    expect(r.filesystem).toMatchObject({ pending: expect.stringContaining('grows at the next boot') });
    expect((r.filesystem as { remediation: string }).remediation).toContain(`sourcegraph-launch disk grow prod --region ${REGION} --size ${target}`);
    expect(remote.targets).toEqual([]);
    expect(io.events.some((e) => e.kind === 'warn' && /next boot/.test(e.message ?? ''))).toBe(true);
  });

  it('the script failing on the instance is reported, the disk stays grown (exit 0: the next boot grows it)', async () => {
    const { deps, dataDisk } = await rig('203.0.113.7/32', () => failed(1, 'grow-data-disk: xfs_growfs failed on /dev/nvme1n1: boom\n'));
    const target = dataDisk().sizeGiB + 5;
    const r = await runDiskGrow(deps(), 'prod', { ...where, size: String(target), yes: true });
    expect(r.filesystem).toMatchObject({ pending: expect.stringContaining('xfs_growfs failed on /dev/nvme1n1: boom') });
    expect(dataDisk().sizeGiB).toBe(target);
  });

  it('another run holding the deployment: refused before any change', async () => {
    const { deps, dataDisk, fake, launched, resizes } = await rig();
    const now = fake.clock.now();
    await fake.setLabels([launched.instanceId], { 'lock-other': `upgrade.${now}.${Math.ceil((now + 600_000) / 1000)}.1.someone@elsewhere` } as never);
    const e = await errorOf(runDiskGrow(deps(), 'prod', { ...where, size: String(dataDisk().sizeGiB + 5), yes: true }));
    expect(e.code).toBe('operation-in-progress');
    expect(resizes()).toEqual([]);
  });

  it('logs shows the data disk usage the boot service recorded, and warns from 80 % with the command that grows it', async () => {
    const status = JSON.stringify({ stage: 'done', decision: 'unchanged', dataDisk: { filesystem: 'xfs', deviceBytes: 500 * GIB, sizeBytes: 500 * GIB, usedBytes: 425 * GIB, usedPercent: 85 } });
    const { deps } = await rig('203.0.113.7/32', (command) => (command.includes('status.json') ? ok(status) : ok('')));
    const io = new ScriptedIo([], false);
    const r = await runLogs(deps(io), 'prod', { ...where });
    expect(r.bootStatus).toMatchObject({ dataDisk: { usedPercent: 85 } });
    expect(io.text()).toContain('data disk /mnt/data: 425 GiB of 500 GiB used (85 %), xfs');
    expect(io.events.some((e) => e.kind === 'warn' && (e.message ?? '').includes(`Grow it with \`sourcegraph-launch disk grow prod --region ${REGION} --size <GiB>\``))).toBe(true);
  });
});
