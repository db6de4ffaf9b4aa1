// Growing an EBS volume on moto: ModifyVolume for a larger size, never a smaller one (refused before
// EC2 is asked), and the modification rate EBS allows (4 in 24 hours, counted from what
// DescribeVolumesModifications lists; moto lists each one, completed at once). Outcomes asserted
// with a raw EC2 client.
import { CreateVolumeCommand, DescribeVolumesCommand, DescribeVolumesModificationsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { createAwsClients } from '../../../../src/cloud/aws/sdk.js';
import { motoEc2Client, startMoto, type MotoServer } from '../../../support/moto.js';
import { REGION, SCOPE } from './fixtures.js';

let moto: MotoServer;
let ec2: EC2Client;
let cloud: AwsAdapter;

beforeAll(async () => {
  moto = await startMoto();
  ec2 = motoEc2Client(moto, REGION);
});

afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  // moto stamps modifications with the real time: the adapter counts the 24 hours on the same clock.
  cloud = new AwsAdapter(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), SCOPE, {
    pollIntervalMs: 10,
    volumeTagWaitMs: 2_000,
    sleep: async () => undefined,
    now: () => Date.now(),
  });
});

async function volume(size: number): Promise<string> {
  return (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: size, VolumeType: 'gp3' }))).VolumeId!;
}
const sizeOf = async (id: string) => (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes![0]!.Size;
const modifications = async (id: string) => (await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }))).VolumesModifications ?? [];

describe('growing an EBS volume on moto', () => {
  it('a never-modified volume has no limit; ModifyVolume grows it; smaller is refused before EC2 is asked', async () => {
    const id = await volume(100);
    expect(await cloud.diskResizeState(id)).toEqual({ sizeGiB: 100 });
    await cloud.resizeDisk(id, 150);
    expect(await sizeOf(id)).toBe(150);
    expect((await modifications(id)).map((m) => [m.OriginalSize, m.TargetSize, m.ModificationState])).toEqual([[100, 150, 'completed']]);
    await expect(cloud.resizeDisk(id, 120)).rejects.toMatchObject({ code: 'disk-shrink-refused', exitCode: 2 });
    await cloud.resizeDisk(id, 150);
    expect(await modifications(id)).toHaveLength(1);
  });

  it('after 4 modifications within 24 hours the next is refused, naming when it is allowed', async () => {
    const id = await volume(100);
    const started = Date.now();
    for (const size of [110, 120, 130, 140]) await cloud.resizeDisk(id, size);
    const state = await cloud.diskResizeState(id);
    expect(state.sizeGiB).toBe(140);
    const next = Date.parse(state.nextAllowedAt!);
    expect(next).toBeGreaterThanOrEqual(started + 24 * 3_600_000 - 2_000);
    expect(next).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000 + 2_000);
    const refused = cloud.resizeDisk(id, 150);
    await expect(refused).rejects.toMatchObject({ code: 'disk-modification-rate', exitCode: 1 });
    await expect(refused).rejects.toThrow(`the next is allowed at ${state.nextAllowedAt}`);
    expect(await sizeOf(id)).toBe(140);
    expect(await modifications(id)).toHaveLength(4);
  });
});
