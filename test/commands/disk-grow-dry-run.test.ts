// `disk grow --dry-run` in-process on the fake cloud: the resize request it would send (the fake's
// own request shape, from the same port method every adapter implements), the size and cost change,
// a stop the cloud needs (the Azure profile beyond 4 TiB) — and no mutating call, no lock, no SSH.
import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/cloud/port.js';
import { runDiskGrow } from '../../src/commands/disk-grow.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import type { Deps } from '../../src/commands/deps.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const where = { region: REGION, providerFlags: {} };

async function rig(profile: ProviderId = 'aws') {
  const fake = fakeCloudFor(profile, { images: publishedImages([VERSION]), delays: { diskResize: { polls: 0 } } });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  const dataDisk = () => fake.state.disks.find((d) => d.attachedTo === launched.instanceId && d.labels.role === 'data-volume')!;
  const remote = new ScriptedRemoteHost(() => 0, () => ok(''));
  const deps = (io: ScriptedIo): Deps => ({ ...makeFakeDeps({ fake, io, home }), connectRemote: remote.connect });
  return { fake, launched, remote, deps, dataDisk };
}

describe('disk grow --dry-run', () => {
  it('prints the resize request, the size and cost change, asks nothing and changes nothing', async () => {
    const { fake, remote, deps, dataDisk } = await rig();
    const disk = dataDisk();
    const before = disk.sizeGiB;
    const mutating = fake.mutatingCalls().length;
    const labels = JSON.stringify(fake.state.instances.map((i) => i.labels));
    const io = new ScriptedIo([], false);
    const r = await runDiskGrow(deps(io), 'prod', { ...where, size: String(before + 300), dryRun: true });
    expect(r).toMatchObject({ dryRun: true, diskId: disk.id, fromGiB: before, toGiB: before + 300, start: 'request', stopFirst: false, requests: [{ operation: 'ResizeDisk', input: { diskId: disk.id, sizeGiB: before + 300 } }] });
    expect(r.monthlyUsd.change).toBeGreaterThan(0);
    const text = io.text();
    expect(text).toContain(`→ ${before + 300} GiB`);
    expect(text).toMatch(/monthly cost of the disk: ≈ \$\d+ → \$\d+\/month \(\+\$\d+\.\d\d\)/);
    expect(text).toContain(`ResizeDisk {"diskId":"${disk.id}","sizeGiB":${before + 300}}`);
    expect(text).toContain('Dry run: nothing was changed.');
    expect(io.questions).toEqual([]);
    expect(fake.mutatingCalls().length).toBe(mutating);
    expect(JSON.stringify(fake.state.instances.map((i) => i.labels))).toBe(labels);
    expect(dataDisk().sizeGiB).toBe(before);
    expect(remote.targets).toEqual([]);

    // A smaller size is refused as in a real run (exit 2).
    await expect(runDiskGrow(deps(new ScriptedIo([], false)), 'prod', { ...where, size: String(before - 1), dryRun: true })).rejects.toMatchObject({ code: 'disk-shrink-refused', exitCode: 2 });
    // Already at the size: nothing would be sent.
    const same = await runDiskGrow(deps(new ScriptedIo([], false)), 'prod', { ...where, size: String(before), dryRun: true });
    expect(same).toMatchObject({ start: 'done', requests: [] });
    expect(fake.mutatingCalls().length).toBe(mutating);
  });

  it('says when the cloud needs the instance stopped around the request (Azure beyond 4 TiB)', async () => {
    const { fake, deps } = await rig('azure');
    const mutating = fake.mutatingCalls().length;
    const io = new ScriptedIo([], false);
    const r = await runDiskGrow(deps(io), 'prod', { ...where, size: '5000', dryRun: true });
    expect(r).toMatchObject({ start: 'request', stopFirst: true, toGiB: 5000 });
    expect(io.text()).toMatch(/The request it would send \(between stopping \S+ and starting it again\)/);
    expect(fake.mutatingCalls().length).toBe(mutating);
  });
});
