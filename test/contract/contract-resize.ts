// The contract, part 5: growing a data disk (disk grow). Every cloud grows a disk in use to a larger
// size and then reports it, treats the same size again as done, and never shrinks one.
import { describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { diskOf, launch, rejection, uniqueName, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

/** Reads the disk's resize state until it reports `sizeGiB` with nothing under way (each read is a poll of the fake). */
async function untilSize(cloud: Cloud, diskId: string, sizeGiB: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < 30; i++) {
    const state = await cloud.diskResizeState(diskId);
    last = state.sizeGiB;
    if (state.sizeGiB === sizeGiB && state.inProgress?.state !== 'modifying') return state.sizeGiB;
  }
  return last;
}

export function resizeContract(_opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('growing a disk', () => {
    it('resizeDisk grows the attached data disk and the cloud then reports the new size; the same size again is a no-op', async () => {
      const { cloud } = env();
      const name = uniqueName('grow');
      const { instance } = await launch(env(), name);
      const diskId = diskOf(instance, 'data')!;
      const before = (await cloud.diskResizeState(diskId)).sizeGiB;
      expect(before).toBe(env().dataDisk.sizeGiB);
      await cloud.resizeDisk(diskId, before + 10);
      expect(await untilSize(cloud, diskId, before + 10)).toBe(before + 10);
      expect((await cloud.describeDisk(diskId))?.sizeGiB).toBe(before + 10);
      await cloud.resizeDisk(diskId, before + 10);
      expect((await cloud.describeDisk(diskId))?.sizeGiB).toBe(before + 10);
    });

    it('resizeRequests names the disk and the new size, and changes nothing (disk grow --dry-run)', async () => {
      const { cloud } = env();
      const name = uniqueName('dryrz');
      const { instance } = await launch(env(), name);
      const diskId = diskOf(instance, 'data')!;
      const before = (await cloud.diskResizeState(diskId)).sizeGiB;
      const requests = cloud.resizeRequests(diskId, before + 10);
      expect(requests).toHaveLength(1);
      expect(requests[0]!.operation).toMatch(/\S/);
      const text = JSON.stringify(requests);
      expect(text).toContain(diskId.split('/').at(-1));
      expect(text).toMatch(new RegExp(`"${before + 10}"|:${before + 10}\\b`));
      expect(JSON.parse(text)).toEqual(requests);
      expect((await cloud.diskResizeState(diskId)).sizeGiB).toBe(before);
    });

    it('resizeDisk never shrinks: a smaller size is refused as bad input (exit 2) and the disk keeps its size', async () => {
      const { cloud } = env();
      const name = uniqueName('noshrink');
      const { instance } = await launch(env(), name);
      const diskId = diskOf(instance, 'data')!;
      const before = (await cloud.diskResizeState(diskId)).sizeGiB;
      const e = await rejection(cloud.resizeDisk(diskId, before - 1));
      expect(e.code).toBe('disk-shrink-refused');
      expect(e.exitCode).toBe(2);
      expect((await cloud.describeDisk(diskId))?.sizeGiB).toBe(before);
    });
  });
}
