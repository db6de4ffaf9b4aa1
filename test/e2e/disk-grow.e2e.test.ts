// `disk grow` end to end: the real CLI process → moto for the cloud (ModifyVolume, checked with
// DescribeVolumes and DescribeVolumesModifications), and a test host with a real sshd standing in for
// the instance, on which the CLI runs the real provision/grow-data-disk.sh over SSH. The test host's
// /mnt is a directory of its own (a private mount namespace), so the script finds no data disk
// mounted there and says so: the filesystem growth itself runs on real loop devices in
// test/provision-disks/grow-data-disk.bats. Runs inside the test network namespace (npm test).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeVolumesCommand, DescribeVolumesModificationsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.115.2';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 180_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;

function launchArgs(name: string, sshCidr: string, extra: string[] = []): string[] {
  return [
    'launch', name, ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', sshCidr,
    '--ssh-key', publicKeyPath,
    // Only root can log in to the test host; real images use the cloud's login user.
    '--ssh-user', 'root', '--hold-seconds', '1', '--json', ...extra,
  ];
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

const newHome = () => mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));

async function dataVolume(instanceId: string): Promise<{ id: string; size: number }> {
  const out = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }));
  const v = out.Volumes!.find((x) => x.Tags?.some((t) => t.Key === 'sourcegraph-launch:role' && t.Value === 'data-volume'))!;
  return { id: v.VolumeId!, size: v.Size! };
}

async function modifications(volumeId: string): Promise<number> {
  const out = await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [volumeId] }));
  return out.VolumesModifications?.length ?? 0;
}

interface GrowJson {
  diskId: string;
  fromGiB: number;
  toGiB: number;
  disk: string;
  restarted: boolean;
  monthlyUsd: { before: number | null; after: number | null; change: number | null };
  filesystem: { pending?: string; remediation?: string; grown?: boolean };
}

describe('disk grow with the real CLI', () => {
  it('grows the EBS volume online, then runs the growth script on the instance over SSH; the same size again resumes; smaller exits 2 with nothing changed', async () => {
    const home = newHome();
    const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'grow' });
    const launch = await runCli(launchArgs('grow', '203.0.113.7/32'), { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const instanceId = launch.json<{ instanceId: string }>().instanceId;
    const before = await dataVolume(instanceId);
    const target = before.size + 250;

    // --dry-run: the request it would send, the cost change; nothing changes, nothing runs on the instance.
    const execsBefore = host.execLog().length;
    const tagsBefore = JSON.stringify((await ec2.send(new DescribeVolumesCommand({ VolumeIds: [before.id] }))).Volumes![0]!.Tags);
    const dry = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(target), '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, diskId: before.id, fromGiB: before.size, toGiB: target, start: 'request', stopFirst: false, requests: [{ service: 'ec2', operation: 'ModifyVolume', input: { VolumeId: before.id, Size: target } }] });
    expect(dry.json<GrowJson>().monthlyUsd.change).toBeGreaterThan(0);
    const dryText = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(target), '--dry-run']);
    expect(dryText.code, dryText.stderr).toBe(0);
    expect(dryText.stdout + dryText.stderr).toContain(`ec2 ModifyVolume {"VolumeId":"${before.id}","Size":${target}}`);
    expect(dryText.stdout + dryText.stderr).toMatch(/monthly cost of the disk: ≈ \$\d+ → \$\d+\/month \(\+\$\d+\.\d\d\)/);
    expect(dryText.stdout + dryText.stderr).toContain('Dry run: nothing was changed.');
    expect(await modifications(before.id)).toBe(0);
    expect((await dataVolume(instanceId)).size).toBe(before.size);
    expect(JSON.stringify((await ec2.send(new DescribeVolumesCommand({ VolumeIds: [before.id] }))).Volumes![0]!.Tags)).toBe(tagsBefore);
    expect(host.execLog().length).toBe(execsBefore);

    // CI without --yes: exit 2, nothing asked of the cloud.
    const unasked = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(target)]);
    expect(unasked.code, unasked.stderr).toBe(2);
    expect(unasked.stderr).toContain('--yes');
    expect(await modifications(before.id)).toBe(0);

    const grow = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(target), '--yes', '--json']);
    expect(grow.code, grow.stderr).toBe(0);
    const r = grow.json<GrowJson>();
    expect(r).toMatchObject({ diskId: before.id, fromGiB: before.size, toGiB: target, disk: 'grown', restarted: false });
    expect(r.monthlyUsd.change).toBeGreaterThan(0);
    expect((await dataVolume(instanceId)).size).toBe(target);
    expect(await modifications(before.id)).toBe(1);
    // The real script ran on the instance, as root, over SSH, and found no data disk mounted there.
    expect(host.execLog().some((c) => /base64 -d \| sudo bash -s$/.test(c))).toBe(true);
    expect(r.filesystem.pending).toContain('/mnt/data is not mounted');
    expect(grow.stderr).toMatch(/monthly cost of the disk: ≈ \$\d+ → \$\d+\/month/);

    // Interrupted after the cloud grew it: the same command goes straight to the filesystem.
    const again = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(target), '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<GrowJson>()).toMatchObject({ disk: 'already-at-size', toGiB: target });
    expect(await modifications(before.id)).toBe(1);

    const shrink = await cli(['disk', 'grow', 'grow', ...REGION, '--size', String(before.size), '--yes', '--json']);
    expect(shrink.code, shrink.stderr).toBe(2);
    expect(shrink.json<{ error: { code: string; exitCode: number } }>().error).toMatchObject({ code: 'disk-shrink-refused', exitCode: 2 });
    expect((await dataVolume(instanceId)).size).toBe(target);
    expect(await modifications(before.id)).toBe(1);
  });

  it('with SSH closed the volume still grows and it says the filesystem grows at the next boot; a bad size exits 2 before any cloud call', async () => {
    const home = newHome();
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'closed' });
    const launch = await runCli(launchArgs('closed', 'none', ['--no-wait']), { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const instanceId = launch.json<{ instanceId: string }>().instanceId;
    const before = await dataVolume(instanceId);

    const bad = await runCli(['disk', 'grow', 'closed', ...REGION, '--size', '12.5', '--yes'], { endpoint: moto.endpoint, home });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('whole number of GiB');

    const human = await runCli(['disk', 'grow', 'closed', ...REGION, '--size', String(before.size + 100), '--yes'], { endpoint: moto.endpoint, home });
    expect(human.code, human.stderr).toBe(0);
    expect((await dataVolume(instanceId)).size).toBe(before.size + 100);
    expect(human.stdout + human.stderr).toMatch(/grows at the next boot/);
    expect(human.stdout + human.stderr).toContain(`disk grow closed --region us-east-1 --size ${before.size + 100}`);
  });
});
