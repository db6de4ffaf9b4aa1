// Image builds (issue 4) in the AWS adapter against moto: the builder's resources, CreateImage with
// the tags launch's findImage looks for, idempotent re-runs, and the cleanup of a half-made image.
// Outcomes are asserted with a raw EC2 client, not through the adapter.
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsCloud } from '../../../src/cloud/aws/aws-cloud.js';
import { imageBuildRequests } from '../../../src/cloud/aws/aws-image-build.js';
import { createAwsClients } from '../../../src/cloud/aws/sdk.js';
import type { ImageBuildSpec, LaunchRefs } from '../../../src/cloud/cloud.js';
import { motoEc2Client, startMoto, tagMap, type MotoServer } from '../../support/moto.js';
import { TEST_PUBLIC_KEY } from './launch-spec.js';
import { VirtualClock } from '../../fakes/virtual-clock.js';

const REGION = 'us-east-1';
const AMAZON = '137112412989';
const AL2023_NEW = 'ami-0a12023000000002';

// moto loads these as Amazon's own (owner alias "amazon"); the newest AL2023 x86_64 must win.
const IMAGES = [
  { id: 'ami-0a12023000000001', name: 'al2023-ami-2023.5.20240805.0-kernel-6.1-x86_64', ownerId: AMAZON },
  { id: AL2023_NEW, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', ownerId: AMAZON },
  { id: 'ami-0a12023000000003', name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-arm64', ownerId: AMAZON, architecture: 'arm64' },
  { id: 'ami-0a12023000000004', name: 'al2023-ami-minimal-2023.6.20250107.0-kernel-6.1-x86_64', ownerId: AMAZON },
  { id: 'ami-0612504000000001', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' },
];

let moto: MotoServer;
let ec2: EC2Client;
let cloud: AwsCloud;

beforeAll(async () => {
  moto = await startMoto({ images: IMAGES });
  ec2 = motoEc2Client(moto, REGION);
});

afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  // Waits count polls on a virtual clock, not wall time, so a loaded machine cannot run them out.
  const clock = new VirtualClock();
  cloud = new AwsCloud(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), {
    region: REGION,
    pollIntervalMs: 10,
    sleep: (ms) => clock.sleep(ms),
    now: () => clock.now(),
  });
});

const buildFilter = (name: string) => [{ Name: 'tag:sourcegraph-launch:build', Values: [name] }];

function buildSpec(overrides: Partial<ImageBuildSpec> = {}): ImageBuildSpec {
  return {
    buildName: '6.13.100-xs',
    runId: 'run1',
    region: REGION,
    version: '6.13.100',
    size: 'XS',
    baseImageId: AL2023_NEW,
    instanceType: 'm6a.2xlarge',
    sshCidrs: ['203.0.113.7/32'],
    keyName: 'sourcegraph-launch-build-6.13.100-xs',
    publicKey: TEST_PUBLIC_KEY,
    rootVolume: { device: '/dev/xvda', sizeGiB: 50, type: 'gp3' },
    dataVolume: { device: '/dev/sdb', sizeGiB: 500, type: 'gp3' },
    imageName: 'sourcegraph-launch-6.13.100-XS-20260105T100000Z',
    sourceCommit: '0123456789abcdef0123456789abcdef01234567',
    clientToken: 'sgl-build-6.13.100-xs-abc',
    ...overrides,
  };
}

async function liveBuilders(buildName: string) {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: buildFilter(buildName) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
async function buildImages(buildName: string) {
  return (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter(buildName) }))).Images ?? [];
}

/** The adapter calls in the order build-image makes them, up to a running builder. */
async function launchBuilder(spec: ImageBuildSpec) {
  const placement = await cloud.resolvePlacement();
  const keyPair = await cloud.ensureBuilderKeyPair(spec);
  const group = await cloud.ensureBuilderSecurityGroup(spec, placement);
  const refs: LaunchRefs = { keyName: keyPair.name, securityGroupId: group.id, subnetId: placement.subnetId };
  const builder = await cloud.ensureBuilder(spec, refs);
  await cloud.waitForInstanceState(builder.id, 'running', 5_000);
  return { placement, keyPair, group, refs, builder };
}

describe('base image', () => {
  it('is the newest Amazon Linux 2023 x86_64 image (not arm64, not minimal, not anyone else\'s)', async () => {
    const base = await cloud.findBuildBaseImage();
    expect(base).toMatchObject({ id: AL2023_NEW, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', architecture: 'x86_64' });
  });
});

describe('builder', () => {
  it('is tagged, reachable on 22 from the build machine only, with both volumes encrypted and deleted with it', async () => {
    const spec = buildSpec();
    const { group, builder } = await launchBuilder(spec);

    const [raw, ...more] = await liveBuilders(spec.buildName);
    expect(more).toEqual([]);
    expect(raw).toMatchObject({ InstanceId: builder.id, ImageId: AL2023_NEW, InstanceType: 'm6a.2xlarge', KeyName: spec.keyName });
    expect(tagMap(raw!.Tags)).toMatchObject({
      'sourcegraph-launch:build': spec.buildName,
      'sourcegraph-launch:role': 'builder',
      'sourcegraph-launch:version': '6.13.100',
      'sourcegraph-launch:managed': 'true',
    });
    // No deployment tag: `list` and `destroy` must never see a builder as a deployment.
    expect(tagMap(raw!.Tags)['sourcegraph-launch:deployment']).toBeUndefined();
    const mappings = Object.fromEntries((raw!.BlockDeviceMappings ?? []).map((m) => [m.DeviceName, m.Ebs?.DeleteOnTermination]));
    expect(mappings).toEqual({ '/dev/xvda': true, '/dev/sdb': true });
    expect(raw!.MetadataOptions).toMatchObject({ HttpTokens: 'required' });

    const [sg] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group.id] }))).SecurityGroups ?? [];
    const rules = (sg!.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}-${p.ToPort} ${r.CidrIp}`));
    expect(rules).toEqual(['22-22 203.0.113.7/32']);

    const request = imageBuildRequests(spec).find((r) => r.operation === 'RunInstances')!.input as { BlockDeviceMappings: { Ebs: Record<string, unknown> }[] };
    expect(request.BlockDeviceMappings.map((m) => m.Ebs)).toEqual([
      { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
      { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true },
    ]);
  });

  it('a re-run finds the key pair, group and builder instead of making second ones', async () => {
    const spec = buildSpec();
    const first = await launchBuilder(spec);
    const again = await launchBuilder({ ...spec, clientToken: 'sgl-build-6.13.100-xs-other' });
    expect(again.builder.id).toBe(first.builder.id);
    expect(again.group.id).toBe(first.group.id);
    expect(await liveBuilders(spec.buildName)).toHaveLength(1);
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: buildFilter(spec.buildName) }))).SecurityGroups).toHaveLength(1);
    expect((await ec2.send(new DescribeKeyPairsCommand({ Filters: buildFilter(spec.buildName) }))).KeyPairs).toHaveLength(1);
  });

  it('marks provisioning and stops', async () => {
    const spec = buildSpec();
    const { builder } = await launchBuilder(spec);
    await cloud.markBuilderProvisioned(builder.id);
    await cloud.stopBuilder(builder.id, 5_000);
    const [raw] = await liveBuilders(spec.buildName);
    expect(raw!.State?.Name).toBe('stopped');
    expect(tagMap(raw!.Tags)['sourcegraph-launch:provisioned']).toBe('true');
    // ensureBuilder returns the stopped, provisioned builder: a resumed build goes straight to the image.
    const resumed = await cloud.ensureBuilder(spec, { keyName: spec.keyName, securityGroupId: 'sg-unused' });
    expect(resumed).toMatchObject({ id: builder.id, state: 'stopped', tags: expect.objectContaining({ 'sourcegraph-launch:provisioned': 'true' }) });
  });
});

describe('image', () => {
  it('is created once, tagged so launch finds it for its version, and its snapshots carry the tags too', async () => {
    const spec = buildSpec();
    const { builder } = await launchBuilder(spec);
    await cloud.stopBuilder(builder.id, 5_000);
    const created = await cloud.ensureBuiltImage(spec, builder.id);
    const again = await cloud.ensureBuiltImage(spec, builder.id);
    expect(again.id).toBe(created.id);
    expect(await buildImages(spec.buildName)).toHaveLength(1);

    const ready = await cloud.waitForBuiltImage(spec, created.id, 5_000);
    expect(ready).toMatchObject({ id: created.id, state: 'available', version: '6.13.100', source: 'built' });
    const [raw] = await buildImages(spec.buildName);
    expect(raw!.Name).toBe(spec.imageName);
    expect(tagMap(raw!.Tags)).toMatchObject({
      'sourcegraph-launch:role': 'image',
      'sourcegraph-launch:version': '6.13.100',
      'sourcegraph-launch:size': 'XS',
      'sourcegraph-launch:source-commit': spec.sourceCommit,
      'sourcegraph-launch:build': spec.buildName,
      Name: spec.imageName,
    });
    const snapshotIds = (raw!.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
    expect(snapshotIds.length).toBeGreaterThan(0);
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? [];
    for (const s of snapshots) expect(tagMap(s.Tags)).toMatchObject({ 'sourcegraph-launch:version': '6.13.100', 'sourcegraph-launch:role': 'image' });

    // launch and upgrade find it exactly like a published image (no published 6.13.100 exists).
    expect(await cloud.findImage({ version: '6.13.100', size: 'XS' })).toMatchObject({ id: created.id, source: 'built', version: '6.13.100' });
    expect(await cloud.findImageBuild(spec.buildName)).toMatchObject({
      builders: [expect.objectContaining({ id: builder.id })],
      images: [expect.objectContaining({ id: created.id, state: 'available' })],
    });
  });

  it('deleteBuiltImage deregisters it and deletes its snapshots; a second call is a no-op', async () => {
    const spec = buildSpec();
    const { builder } = await launchBuilder(spec);
    const image = await cloud.ensureBuiltImage(spec, builder.id);
    const [raw] = await buildImages(spec.buildName);
    const snapshotIds = (raw!.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));

    expect(await cloud.deleteBuiltImage(image.id)).toEqual(snapshotIds);
    expect(await buildImages(spec.buildName)).toEqual([]);
    const left = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    expect(left.filter((s) => snapshotIds.includes(s.SnapshotId!))).toEqual([]);
    expect(await cloud.findImage({ version: '6.13.100' })).toBeUndefined();
    await expect(cloud.deleteBuiltImage(image.id)).resolves.toEqual([]);
  });
});

describe('dry run', () => {
  it('lists the mutating requests in the order the build sends them', () => {
    const operations = imageBuildRequests(buildSpec(), { elasticIpAllocationId: 'eipalloc-0123456789abcdef0' }).map((r) => r.operation);
    expect(operations).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'AssociateAddress',
      'CreateTags',
      'StopInstances',
      'CreateImage',
      'CreateTags',
      'DisassociateAddress',
      'TerminateInstances',
      'DeleteSecurityGroup',
      'DeleteKeyPair',
    ]);
    const createImage = imageBuildRequests(buildSpec()).find((r) => r.operation === 'CreateImage')!.input;
    expect(createImage).toMatchObject({ NoReboot: false, Name: buildSpec().imageName });
  });
});
