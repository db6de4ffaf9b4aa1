// Promise: every snapshot the tool makes or schedules can be restored with `restore`. A scheduled
// snapshot is made by Data Lifecycle Manager, which moto does not emulate; this test makes one
// exactly as DLM would under the policy the tool really sends (CopyTags, then TagsToAdd), and
// restores it with the real command.
import { CreateSnapshotCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import { snapshotSchedulePolicy } from '../../src/cloud/aws/request-builders.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRestore } from '../../src/commands/restore.js';
import { toBackupEntry } from '../../src/workflows/backup.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60725', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());

/** What DLM does for one run of a schedule on one target volume. */
async function snapshotAsDlmWould(policy: ReturnType<typeof snapshotSchedulePolicy>, volumeId: string): Promise<string> {
  const schedule = policy.PolicyDetails.Schedules[0]!;
  const volume = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!;
  const copied = schedule.CopyTags ? tagMap(volume.Tags) : {};
  const tags = { ...copied, ...Object.fromEntries(schedule.TagsToAdd.map((t) => [t.Key, t.Value])), 'dlm:managed': 'true' };
  const out = await ec2.send(
    new CreateSnapshotCommand({
      VolumeId: volumeId,
      Description: 'Created for policy: policy-0123 schedule: daily',
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value: String(Value) })) }],
    }),
  );
  return out.SnapshotId!;
}

it('a snapshot made by the daily schedule restores, at the version of its data', async () => {
  const home = tempHome();
  const deps = () => makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home });
  const launched = (await runLaunch(deps(), { region: 'us-east-1', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name: 'sched', wait: false, yes: true, providerFlags: { elasticIp: 'none' } })) as LaunchResult;
  const policy = snapshotSchedulePolicy({ deployment: 'sched', schedule: 'daily', retain: 7, params: { account: '123456789012' } });
  // The policy targets the data volume by its Name tag: that is the volume launch made.
  const target = policy.PolicyDetails.TargetTags[0]!;
  const volumes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: `tag:${target.Key}`, Values: [target.Value] }] }))).Volumes!;
  expect(volumes.map((v) => v.VolumeId)).toEqual([launched.resources.dataVolumeId]);

  const snapshotId = await snapshotAsDlmWould(policy, volumes[0]!.VolumeId!);
  const listed = (await createAwsAdapter({ provider: 'aws', region: 'us-east-1', params: {} }, { endpoint: moto.endpoint }).listSnapshots('sched')).map((s) => toBackupEntry(s));
  expect(listed).toEqual([expect.objectContaining({ snapshotId, purpose: 'scheduled', version: VERSION })]);

  const restored = (await runRestore(deps(), 'sched-copy', { region: 'us-east-1', snapshot: snapshotId, yes: true, wait: false, providerFlags: {} })) as { version: string; instanceId: string };
  expect(restored.version).toBe(VERSION);
});

it('the old policy (no CopyTags, no version) made snapshots restore refused: the reason for the fix', async () => {
  const home = tempHome();
  const deps = () => makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home });
  const launched = (await runLaunch(deps(), { region: 'us-east-1', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name: 'oldpol', wait: false, yes: true, providerFlags: { elasticIp: 'none' } })) as LaunchResult;
  const policy = snapshotSchedulePolicy({ deployment: 'oldpol', schedule: 'daily', retain: 7, params: { roleArn: 'r' } });
  const old = { ...policy, PolicyDetails: { ...policy.PolicyDetails, Schedules: [{ ...policy.PolicyDetails.Schedules[0]!, CopyTags: false }] } };
  const snapshotId = await snapshotAsDlmWould(old, launched.resources.dataVolumeId!);
  await expect(runRestore(deps(), 'oldpol-copy', { region: 'us-east-1', snapshot: snapshotId, yes: true, providerFlags: {} })).rejects.toThrow(/does not say which version/);
});
