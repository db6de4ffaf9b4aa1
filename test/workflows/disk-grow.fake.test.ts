// The cloud side of disk grow on the fake cloud "as" each cloud: where a grow needs the instance
// stopped (Azure, a Standard/Premium SSD disk crossing 4 TiB) the instance is stopped, the disk grown
// and the instance started again; elsewhere it stays running. Also what growStart makes of the
// cloud's state (resume, limits).
import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/cloud/port.js';
import { growDisk, growStart } from '../../src/workflows/disk-grow.js';
import { scene } from '../contract/fake-fixtures.js';
import { ScriptedIo } from '../support/deps.js';

async function running(profile: ProviderId, dataGiB: number) {
  const s = await scene({ profile });
  const created = await s.fake.ensureInstance(s.spec({ data: { mode: 'new', disk: { sizeGiB: dataGiB, type: 'Premium_LRS' } } }));
  await s.fake.waitForInstanceState(created.id, 'running', 60_000);
  const diskId = created.disks.find((d) => d.role === 'data')!.diskId;
  const deps = { io: new ScriptedIo([], false), clock: s.fake.clock, signal: new AbortController().signal, pollMs: 1000 };
  return { ...s, instanceId: created.id, diskId, deps };
}

describe('growDisk on the fake cloud', () => {
  it('Azure, crossing 4 TiB: says the instance must stop; stopped, grown, started again', async () => {
    const { fake, instanceId, diskId, deps } = await running('azure', 4000);
    expect((await fake.diskResizeState(diskId, 4095)).needsStop).toBeUndefined();
    const state = await fake.diskResizeState(diskId, 5000);
    expect(state.needsStop).toBe(true);
    // Asked online, the cloud refuses.
    await expect(fake.resizeDisk(diskId, 5000)).rejects.toMatchObject({ code: 'disk-resize-needs-stop' });

    const start = growStart(diskId, 4000, state, 5000);
    expect(start).toBe('request');
    await growDisk(deps, fake, { diskId, sizeGiB: 5000, start, instanceId, stopFirst: true });
    expect((await fake.describeDisk(diskId))?.sizeGiB).toBe(5000);
    expect((await fake.describeInstance(instanceId))?.state).toBe('running');
    const order = fake.calls.map((c) => c.method).filter((m) => ['stopInstance', 'resizeDisk', 'startInstance'].includes(m));
    expect(order).toEqual(['resizeDisk', 'stopInstance', 'resizeDisk', 'startInstance']);
  });

  it('AWS and GCE grow the disk with the instance running, whatever the size', async () => {
    for (const profile of ['aws', 'gcp'] as const) {
      const { fake, instanceId, diskId, deps } = await running(profile, 4000);
      const state = await fake.diskResizeState(diskId, 5000);
      expect(state.needsStop, profile).toBeUndefined();
      await growDisk(deps, fake, { diskId, sizeGiB: 5000, start: growStart(diskId, 4000, state, 5000), instanceId, stopFirst: false });
      expect((await fake.describeDisk(diskId))?.sizeGiB).toBe(5000);
      expect(fake.calls.some((c) => c.method === 'stopInstance'), profile).toBe(false);
      expect((await fake.describeInstance(instanceId))?.state).toBe('running');
    }
  });

  it('growStart: the size already there is done, a change to it under way is waited for, another change under way or a limit refuses', () => {
    expect(growStart('d', 500, { sizeGiB: 500 }, 800)).toBe('request');
    expect(growStart('d', 800, { sizeGiB: 800 }, 800)).toBe('done');
    expect(growStart('d', 800, { sizeGiB: 500, inProgress: { targetSizeGiB: 800, state: 'modifying' } }, 800)).toBe('under-way');
    expect(() => growStart('d', 500, { sizeGiB: 500, inProgress: { targetSizeGiB: 600, state: 'optimizing' } }, 800)).toThrow(/600 GiB is still under way/);
    expect(() => growStart('d', 500, { sizeGiB: 500, nextAllowedAt: '2026-12-01T10:00:00.000Z', limit: 'at most 4' }, 800)).toThrow(/allowed at 2026-12-01T10:00:00.000Z/);
  });
});
