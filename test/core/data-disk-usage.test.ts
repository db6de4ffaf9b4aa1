import { describe, expect, it } from 'vitest';
import { DATA_DISK_WARN_PERCENT, describeDataDiskUsage, parseDataDiskUsage } from '../../src/core/data-disk-usage.js';

const GIB = 1024 ** 3;
const GROW = 'sourcegraph-launch disk grow prod --region us-east-1 --size <GiB>';

describe('data disk usage', () => {
  it('parses status.json\'s dataDisk and grow-data-disk.sh\'s output line; anything else is undefined', () => {
    const line = '{"mount":"/mnt/data","device":"/dev/nvme1n1","filesystem":"xfs","deviceBytes":536870912000,"sizeBytes":536602476544,"usedBytes":121332613120,"availableBytes":415269863424,"usedPercent":23,"grown":false}';
    expect(parseDataDiskUsage(`noise\n${line}\n`)).toMatchObject({ filesystem: 'xfs', usedPercent: 23, grown: false, deviceBytes: 536870912000 });
    expect(parseDataDiskUsage(JSON.parse(line))).toMatchObject({ sizeBytes: 536602476544 });
    expect(parseDataDiskUsage({ sizeBytes: 100, usedBytes: 81 })).toMatchObject({ usedPercent: 81 });
    for (const bad of [null, 'not json', {}, { sizeBytes: '1', usedBytes: 1 }, 42]) expect(parseDataDiskUsage(bad)).toBeUndefined();
  });

  it(`warns from ${DATA_DISK_WARN_PERCENT} % used with the command that grows the disk, and when the filesystem does not fill its disk`, () => {
    const at = (pct: number) => describeDataDiskUsage({ sizeBytes: 500 * GIB, usedBytes: 5 * pct * GIB, usedPercent: pct, filesystem: 'xfs' }, GROW);
    expect(at(79)).toEqual({ line: '/mnt/data: 395 GiB of 500 GiB used (79 %), xfs' });
    expect(at(80).warning).toBe(`The data disk is 80 % full (warning from 80 %). Grow it with \`${GROW}\`.`);
    const unfilled = describeDataDiskUsage({ sizeBytes: 500 * GIB, deviceBytes: 800 * GIB, usedBytes: 10 * GIB, usedPercent: 2 }, GROW);
    expect(unfilled.warning).toMatch(/does not fill its disk yet \(800 GiB\): it grows at the next boot/);
  });
});
