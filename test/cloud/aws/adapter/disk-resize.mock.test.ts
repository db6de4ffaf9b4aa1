// Growing an EBS volume where moto cannot go (its modifications complete at once): a modification
// still "modifying" (the old size is what the instance sees; another size is refused, the same one
// is not asked twice), "optimizing" (the new size is usable), a never-modified volume's NotFound,
// and EC2's own rate refusal mapped to disk-modification-rate.
import { DescribeVolumesCommand, DescribeVolumesModificationsCommand, EC2Client, EC2ServiceException, ModifyVolumeCommand } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { wrapAwsClients } from '../../../../src/cloud/aws/sdk.js';
import { SCOPE } from './fixtures.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ec2Mock = mockClient(EC2Client);
const NOW = Date.parse('2026-11-27T12:00:00Z');
const VOL = 'vol-0123456789abcdef0';
let cloud: AwsAdapter;

function ec2Error(code: string): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: code });
}

beforeEach(() => {
  ec2Mock.reset();
  cloud = new AwsAdapter(wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), SCOPE, {
    pollIntervalMs: 1_000, dependencyRetryMs: 10_000, volumeTagWaitMs: 10_000, sleep: async () => undefined, now: () => NOW,
  });
  ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOL, Size: 800, VolumeType: 'gp3', State: 'in-use', AvailabilityZone: 'us-east-1a', Encrypted: true }] });
});

afterAll(() => ec2Mock.restore());

const modification = (state: string) => ({
  VolumesModifications: [{ VolumeId: VOL, ModificationState: state as 'modifying', OriginalSize: 500, TargetSize: 800, Progress: 40, StartTime: new Date(NOW - 60_000) }],
});

describe('EBS volume modifications (mocked EC2)', () => {
  it('"modifying": the instance still sees the old size; the same size is not asked again, another is refused', async () => {
    ec2Mock.on(DescribeVolumesModificationsCommand).resolves(modification('modifying'));
    expect(await cloud.diskResizeState(VOL)).toMatchObject({ sizeGiB: 500, inProgress: { targetSizeGiB: 800, state: 'modifying', progressPercent: 40 } });
    await cloud.resizeDisk(VOL, 800);
    await expect(cloud.resizeDisk(VOL, 900)).rejects.toMatchObject({ code: 'disk-modification-rate', exitCode: 1 });
    expect(ec2Mock.commandCalls(ModifyVolumeCommand)).toHaveLength(0);
  });

  it('"optimizing": the new size is usable now, and the next change waits until it completes', async () => {
    ec2Mock.on(DescribeVolumesModificationsCommand).resolves(modification('optimizing'));
    const state = await cloud.diskResizeState(VOL);
    expect(state.sizeGiB).toBe(800);
    expect(state.inProgress?.state).toBe('optimizing');
    await expect(cloud.resizeDisk(VOL, 900)).rejects.toThrow(/once the last has completed/);
  });

  it('a volume never modified (InvalidVolumeModification.NotFound) grows; EC2\'s rate refusal becomes disk-modification-rate', async () => {
    ec2Mock.on(DescribeVolumesModificationsCommand).rejects(ec2Error('InvalidVolumeModification.NotFound'));
    expect(await cloud.diskResizeState(VOL)).toEqual({ sizeGiB: 800 });
    ec2Mock.on(ModifyVolumeCommand).resolvesOnce({}).rejects(ec2Error('VolumeModificationRateExceeded'));
    await cloud.resizeDisk(VOL, 900);
    expect(ec2Mock.commandCalls(ModifyVolumeCommand)[0]!.args[0].input).toEqual({ VolumeId: VOL, Size: 900 });
    await expect(cloud.resizeDisk(VOL, 1000)).rejects.toMatchObject({ code: 'disk-modification-rate', exitCode: 1 });
  });
});
