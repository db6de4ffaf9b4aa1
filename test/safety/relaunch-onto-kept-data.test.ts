// Promise: data a `destroy` kept is never silently replaced by an empty volume. A relaunch of the
// same name finds the kept volume by its tags: the wizard asks whether to launch on it, CI must say
// --data-volume vol-…|new (exit 2 naming the flag otherwise). Launching on it follows the rule
// upgrades follow: same zone, and the volume is attached before Sourcegraph ever boots.
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDestroy } from '../../src/commands/destroy.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runCli } from '../support/cli.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const AMI = 'ami-0a1b2c3d4e5f60727';
const VERSION = '6.12.5040';
let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }, { id: 'ami-0a1b2c3d4e5f60728', name: 'Sourcegraph v6.11.0', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

const flags = { region: 'us-east-1', allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], providerFlags: { elasticIp: 'none' }, name: 'kept', wait: false, yes: true };
const deps = (home: string, io = new ScriptedIo([], false)) => makeDeps({ endpoint: moto.endpoint, io, home });

/** Launch at 6.11.0, destroy keeping the data: returns the kept volume. */
async function keptVolume(home: string) {
  await runLaunch(deps(home), { ...flags, version: '6.11.0' });
  const destroyed = (await runDestroy(deps(home), 'kept', { region: 'us-east-1', yes: true })) as { kept: { volumeId?: string }[] };
  const id = destroyed.kept.find((k) => k.volumeId)!.volumeId!;
  return (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes![0]!;
}

describe('CI', () => {
  it('a relaunch without --data-volume exits 2 naming it and the kept volume; nothing is created', async () => {
    const home = tempHome();
    const volume = await keptVolume(home);
    const r = await runCli(['launch', 'kept', '--region', 'us-east-1', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--elastic-ip', 'none', '--no-wait', '--yes'], { endpoint: moto.endpoint, home });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--data-volume is required because deployment kept has kept data \\(${volume.VolumeId}: 500 GiB, data of 6\\.11\\.0`));
    expect(await deploymentResources(ec2).liveInstances('kept')).toEqual([]);
  });

  it('--data-volume vol-…: launched without a data disk behind the boot guard, in the volume\'s zone, given the volume before it runs Sourcegraph, at the data\'s version', async () => {
    const home = tempHome();
    const volume = await keptVolume(home);
    const result = (await runLaunch(deps(home), { ...flags, dataVolume: volume.VolumeId })) as LaunchResult;
    expect(result.version).toBe('6.11.0');
    expect(result.resources.dataVolumeId).toBe(volume.VolumeId);
    const [instance] = await deploymentResources(ec2).liveInstances('kept');
    expect(instance!.Placement!.AvailabilityZone).toBe(volume.AvailabilityZone);
    expect(instance!.State!.Name).toBe('running');
    const sdb = instance!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!;
    expect(sdb.Ebs!.VolumeId).toBe(volume.VolumeId);
    const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instance!.InstanceId!, Attribute: 'userData' }));
    expect(Buffer.from(userData.UserData!.Value!, 'base64').toString()).toMatch(/^#cloud-boothook[\s\S]*blkid -L \/mnt\/data[\s\S]*poweroff -f/);
    // Exactly one data volume: the kept one, no new empty one.
    expect((await deploymentResources(ec2).volumes('kept')).filter((v) => v.Attachments?.[0]?.Device === '/dev/sdb').map((v) => v.VolumeId)).toEqual([volume.VolumeId]);
  });

  it('--data-volume new: a new volume, the kept one untouched; --version other than the data\'s exits 2', async () => {
    const home = tempHome();
    const volume = await keptVolume(home);
    await expect(runLaunch(deps(home), { ...flags, dataVolume: volume.VolumeId, version: VERSION })).rejects.toMatchObject({ code: 'data-version-mismatch', exitCode: 2 });
    await runLaunch(deps(home), { ...flags, version: VERSION, dataVolume: 'new' });
    const after = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volume.VolumeId!] }))).Volumes![0]!;
    expect(after.State).toBe('available');
    const [instance] = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:deployment', Values: ['kept'] }, { Name: 'instance-state-name', Values: ['running'] }] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(instance!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId).not.toBe(volume.VolumeId);
  });
});

it('the wizard asks whether to launch on the kept data', async () => {
  const home = tempHome();
  const volume = await keptVolume(home);
  // Version question first (answered "latest"): the data's own version wins once it is chosen.
  const io = new ScriptedIo(['latest', (q: { choices?: unknown[] }) => q.choices![0], true]);
  const result = (await runLaunch(deps(home, io), { ...flags, cloud: 'aws', size: 'XS', yes: false })) as LaunchResult;
  expect(io.questions[1]!.message).toBe('Deployment kept has data a destroy kept. Launch on it?');
  expect(io.questions[1]!.choices).toEqual([volume.VolumeId, 'new']);
  expect(result.version).toBe('6.11.0');
  expect(result.resources.dataVolumeId).toBe(volume.VolumeId);
  expect(io.text()).toContain(`--data-volume ${volume.VolumeId}`);
});
