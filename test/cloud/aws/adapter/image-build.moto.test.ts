// Image builds on the new AWS adapter against moto: the builder's key pair, access policy and
// instance (ensureSshKey / ensureAccessPolicy / ensureInstance with the build's labels), the image
// made of its disks (createImageFromBuilder / waitForImage) with the labels launch's findImage looks
// for, idempotent re-runs, and deleteImage. The same cases as the old adapter's
// test/cloud/aws/aws-image-build.moto.test.ts; outcomes asserted with a raw EC2 client.
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { createAwsClients } from '../../../../src/cloud/aws/sdk.js';
import { VirtualClock } from '../../../fakes/virtual-clock.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../../../support/moto.js';
import { REGION, SCOPE, buildLabels, builderAccessSpec, builderSpec, builderSshKey, demoBuild, imageSpec, tagMap, type DemoBuild } from './fixtures.js';

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
let cloud: AwsAdapter;

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
  cloud = new AwsAdapter(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), SCOPE, { pollIntervalMs: 10, sleep: (ms) => clock.sleep(ms), now: () => clock.now() });
});

const buildFilter = (name: string) => [{ Name: 'tag:sourcegraph-launch:build', Values: [name] }];

async function liveBuilders(buildName: string) {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: buildFilter(buildName) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
async function buildImages(buildName: string) {
  return (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter(buildName) }))).Images ?? [];
}

/** The verbs in the order build-image runs them, up to a running builder. */
async function launchBuilder(b: DemoBuild) {
  const placement = await cloud.resolvePlacement(undefined);
  const sshKey = await cloud.ensureSshKey(builderSshKey(b), b.buildName, buildLabels(b, 'key-pair'));
  const policy = await cloud.ensureAccessPolicy(builderAccessSpec(b, placement));
  const spec = builderSpec(b, placement, [policy.id]);
  const builder = await cloud.ensureInstance(spec);
  await cloud.waitForInstanceState(builder.id, 'running', 5_000);
  return { placement, sshKey, policy, spec, builder };
}

async function stop(instanceId: string) {
  await cloud.stopInstance(instanceId);
  await cloud.waitForInstanceState(instanceId, 'stopped', 5_000);
}

describe('base image', () => {
  it('is the newest Amazon Linux 2023 x86_64 image (not arm64, not minimal, not anyone else\u2019s)', async () => {
    expect(await cloud.findBaseImage()).toMatchObject({ id: AL2023_NEW, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', architecture: 'x86_64' });
  });
});

describe('builder', () => {
  it('is tagged, reachable on 22 from the build machine only, with both volumes encrypted and deleted with it', async () => {
    const b = demoBuild();
    const { policy, builder, sshKey } = await launchBuilder(b);
    expect(sshKey).toMatchObject({ name: b.keyName, managed: true });

    const [raw, ...more] = await liveBuilders(b.buildName);
    expect(more).toEqual([]);
    expect(raw).toMatchObject({ InstanceId: builder.id, ImageId: AL2023_NEW, InstanceType: 'm6a.2xlarge', KeyName: b.keyName, ClientToken: b.idempotencyKey });
    expect(tagMap(raw!.Tags)).toMatchObject({
      'sourcegraph-launch:build': b.buildName,
      'sourcegraph-launch:build-run': b.runId,
      'sourcegraph-launch:role': 'builder',
      'sourcegraph-launch:version': '6.13.100',
      'sourcegraph-launch:managed': 'true',
      Name: `sourcegraph-launch-builder-${b.buildName}`,
    });
    // No deployment tag: list and destroy must never see a builder as a deployment.
    expect(tagMap(raw!.Tags)['sourcegraph-launch:deployment']).toBeUndefined();
    expect(await cloud.listDeployments()).toEqual([]);
    const mappings = Object.fromEntries((raw!.BlockDeviceMappings ?? []).map((m) => [m.DeviceName, m.Ebs?.DeleteOnTermination]));
    expect(mappings).toEqual({ '/dev/xvda': true, '/dev/sdb': true });
    expect(raw!.MetadataOptions).toMatchObject({ HttpTokens: 'required' });

    const [sg] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [policy.id] }))).SecurityGroups ?? [];
    const rules = (sg!.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}-${p.ToPort} ${r.CidrIp} ${r.Description}`));
    expect(rules).toEqual(['22-22 203.0.113.7/32 SSH for sourcegraph-launch build-image']);
    expect(sg!.GroupName).toBe(`sourcegraph-launch-build-${b.buildName}-${b.runId}`);
    expect(tagMap(sg!.Tags)).toMatchObject({ 'sourcegraph-launch:build-run': b.runId, 'sourcegraph-launch:role': 'security-group', Name: sg!.GroupName });
    const [keyPair] = (await ec2.send(new DescribeKeyPairsCommand({ Filters: buildFilter(b.buildName) }))).KeyPairs ?? [];
    expect(tagMap(keyPair!.Tags)).toMatchObject({ 'sourcegraph-launch:build-run': b.runId, 'sourcegraph-launch:role': 'key-pair', Name: b.keyName });
  });

  it('a re-run finds the key pair, policy and builder instead of making second ones', async () => {
    const b = demoBuild();
    const first = await launchBuilder(b);
    const again = await launchBuilder({ ...b, idempotencyKey: 'sgl-build-6.13.100-xs-other' });
    expect(again.builder.id).toBe(first.builder.id);
    expect(again.policy.id).toBe(first.policy.id);
    expect(await liveBuilders(b.buildName)).toHaveLength(1);
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: buildFilter(b.buildName) }))).SecurityGroups).toHaveLength(1);
    expect((await ec2.send(new DescribeKeyPairsCommand({ Filters: buildFilter(b.buildName) }))).KeyPairs).toHaveLength(1);
  });

  it('another run of the same build never adopts this run\u2019s key pair', async () => {
    const b = demoBuild();
    await launchBuilder(b);
    const other = { ...b, runId: 'run2' };
    await expect(cloud.ensureSshKey(builderSshKey(other), other.buildName, buildLabels(other, 'key-pair'))).rejects.toMatchObject({ code: 'key-pair-conflict' });
  });

  it('is marked provisioned and stopped; ensureInstance then returns the stopped, provisioned builder', async () => {
    const b = demoBuild();
    const { builder, spec } = await launchBuilder(b);
    await cloud.setLabels([builder.id], { provisioned: 'true' });
    await stop(builder.id);
    const [raw] = await liveBuilders(b.buildName);
    expect(raw!.State?.Name).toBe('stopped');
    expect(tagMap(raw!.Tags)['sourcegraph-launch:provisioned']).toBe('true');
    // A resumed build goes straight to the image.
    const resumed = await cloud.ensureInstance({ ...spec, accessPolicyIds: ['sg-unused'] });
    expect(resumed).toMatchObject({ id: builder.id, state: 'stopped', labels: expect.objectContaining({ provisioned: 'true' }) });
  });
});

describe('image', () => {
  it('is created once, labelled so launch finds it for its version, and its snapshots carry the labels too', async () => {
    const b = demoBuild();
    const { builder } = await launchBuilder(b);
    await stop(builder.id);
    const created = await cloud.createImageFromBuilder(builder.id, imageSpec(b));
    const again = await cloud.createImageFromBuilder(builder.id, imageSpec(b));
    expect(again.id).toBe(created.id);
    expect(await buildImages(b.buildName)).toHaveLength(1);

    const ready = await cloud.waitForImage(created.id, imageSpec(b), 5_000);
    expect(ready).toMatchObject({ id: created.id, state: 'available', version: '6.13.100', source: 'built' });
    const [raw] = await buildImages(b.buildName);
    expect(raw!.Name).toBe(b.imageName);
    expect(tagMap(raw!.Tags)).toMatchObject({
      'sourcegraph-launch:role': 'image',
      'sourcegraph-launch:version': '6.13.100',
      'sourcegraph-launch:size': 'XS',
      'sourcegraph-launch:source-commit': b.sourceCommit,
      'sourcegraph-launch:build': b.buildName,
      Name: b.imageName,
    });
    const snapshotIds = (raw!.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
    expect(snapshotIds.length).toBeGreaterThan(0);
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? [];
    for (const s of snapshots) expect(tagMap(s.Tags)).toMatchObject({ 'sourcegraph-launch:version': '6.13.100', 'sourcegraph-launch:role': 'image' });

    // launch and upgrade find it exactly like a published image (no published 6.13.100 exists).
    expect(await cloud.findImage({ version: '6.13.100', size: 'XS' })).toMatchObject({ id: created.id, source: 'built', version: '6.13.100' });
    expect(await cloud.listBuiltImages()).toEqual([expect.objectContaining({ id: created.id, version: '6.13.100', size: 'XS' })]);
    expect(await cloud.findImageBuild(b.buildName)).toMatchObject({
      builders: [expect.objectContaining({ id: builder.id })],
      accessPolicies: [expect.objectContaining({ name: `sourcegraph-launch-build-${b.buildName}-${b.runId}` })],
      sshKeys: [expect.objectContaining({ name: b.keyName })],
      images: [expect.objectContaining({ id: created.id, state: 'available' })],
    });
  });

  it('deleteImage deregisters it and deletes its snapshots; a second call is a no-op', async () => {
    const b = demoBuild();
    const { builder } = await launchBuilder(b);
    const image = await cloud.createImageFromBuilder(builder.id, imageSpec(b));
    const [raw] = await buildImages(b.buildName);
    const snapshotIds = (raw!.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));

    expect(await cloud.deleteImage(image.id)).toEqual(snapshotIds);
    expect(await buildImages(b.buildName)).toEqual([]);
    const left = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    expect(left.filter((s) => snapshotIds.includes(s.SnapshotId!))).toEqual([]);
    expect(await cloud.findImage({ version: '6.13.100' })).toBeUndefined();
    await expect(cloud.deleteImage(image.id)).resolves.toEqual([]);
  });

  it('an address the build borrowed is detached from its builder only, never from where it went since', async () => {
    const b = demoBuild();
    const { builder } = await launchBuilder(b);
    const borrowed = await allocateTestAddress(ec2, '10.200.77.40');
    expect(await cloud.attachStaticAddress(borrowed, builder.id)).toMatchObject({ instanceId: builder.id, managed: false });
    // Never tagged as anyone's: a build is not a deployment.
    expect(tagMap((await ec2.send(new DescribeAddressesCommand({ AllocationIds: [borrowed] }))).Addresses?.[0]?.Tags)).toEqual({});
    const elsewhere = await ec2.send(new RunInstancesCommand({ ImageId: AL2023_NEW, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const otherId = elsewhere.Instances![0]!.InstanceId!;
    await ec2.send(new AssociateAddressCommand({ AllocationId: borrowed, InstanceId: otherId, AllowReassociation: true }));
    await cloud.detachStaticAddress(borrowed, builder.id);
    expect((await ec2.send(new DescribeAddressesCommand({ AllocationIds: [borrowed] }))).Addresses?.[0]?.InstanceId).toBe(otherId);
    await cloud.detachStaticAddress(borrowed, otherId);
    expect((await ec2.send(new DescribeAddressesCommand({ AllocationIds: [borrowed] }))).Addresses?.[0]?.AssociationId).toBeUndefined();
  });

  it('the build\u2019s cleanup leaves nothing of it behind', async () => {
    const b = demoBuild();
    const { builder, policy } = await launchBuilder(b);
    await cloud.terminateInstance(builder.id);
    await cloud.waitForInstanceState(builder.id, 'terminated', 5_000);
    await cloud.deleteAccessPolicy(policy.id);
    await cloud.deleteSshKey(b.keyName);
    expect(await cloud.findImageBuild(b.buildName)).toEqual({ builders: [], accessPolicies: [], sshKeys: [], images: [] });
  });
});
