// The AWS adapter against a real EC2 API emulator (moto). Covers every call the adapter makes and
// asserts the outcome with a raw EC2 client, not through the adapter itself.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeAddressesCommand,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsCloud } from '../../../src/cloud/aws/aws-cloud.js';
import { createAwsClients } from '../../../src/cloud/aws/sdk.js';
import type { LaunchSpec, NetworkPlacement } from '../../../src/cloud/cloud.js';
import { CloudError, UsageError } from '../../../src/core/errors.js';
import {
  MOTO_ACCOUNT_ID,
  allocateTestAddress,
  makeTestHostReachable,
  motoEc2Client,
  registerTestImage,
  startMoto,
  type MotoServer,
  deploymentResources,
} from '../../support/moto.js';
import { VirtualClock } from '../../fakes/virtual-clock.js';
import { TEST_PUBLIC_KEY, testLaunchSpec } from './launch-spec.js';

const REGION = 'us-east-1';
const SOURCEGRAPH = '840044800169';
const SOURCEGRAPH_OLD = '870751268155';

// What Sourcegraph's two publisher accounts (and an impostor) have in moto from the start.
const PUBLISHED_IMAGES = [
  { id: 'ami-0612504000000001', name: 'Sourcegraph v6.12.5040', ownerId: SOURCEGRAPH },
  { id: 'ami-0611000000000001', name: 'Sourcegraph v6.11.2000', ownerId: SOURCEGRAPH_OLD },
  { id: 'ami-0510000000000001', name: 'Sourcegraph-XS (v5.10.1164) m6a.2xlarge', ownerId: SOURCEGRAPH },
  { id: 'ami-0510000000000002', name: 'Sourcegraph-L (v5.10.1164) m6a.12xlarge', ownerId: SOURCEGRAPH },
  { id: 'ami-0510000000000003', name: 'Sourcegraph-XS-DEV (v5.10.1200) m6a.2xlarge', ownerId: SOURCEGRAPH },
  { id: 'ami-0699000000000001', name: 'Sourcegraph v6.99.0 (latest)', ownerId: SOURCEGRAPH },
  { id: 'ami-0700000000000001', name: 'Sourcegraph v7.0.0', ownerId: '999999999999' },
];

let moto: MotoServer;
let ec2: EC2Client;
let cloud: AwsCloud;

beforeAll(async () => {
  moto = await startMoto({ images: PUBLISHED_IMAGES });
  ec2 = motoEc2Client(moto, REGION);
});

afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  // Waits are measured on a virtual clock: a budget is a number of polls of moto, however slowly a
  // loaded machine lets moto answer, never a stretch of wall time.
  const clock = new VirtualClock();
  cloud = new AwsCloud(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), {
    region: REGION,
    pollIntervalMs: 10,
    volumeTagWaitMs: 2_000,
    sleep: (ms) => clock.sleep(ms),
    now: () => clock.now(),
  });
});

const tagValue = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;

const rawInstances = (name: string) => deploymentResources(ec2).liveInstances(name);
const rawGroups = (name: string) => deploymentResources(ec2).groups(name);
const rawKeyPairs = (name: string) => deploymentResources(ec2).keyPairs(name);
async function rawAddresses() {
  return (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
}
const rawVolumes = (name: string) => deploymentResources(ec2).volumes(name);

/** The launch pipeline's order of calls, as the engine runs it. */
async function launch(spec: LaunchSpec) {
  const placement = await cloud.resolvePlacement(spec.subnetId);
  const keyPair = await cloud.ensureKeyPair(spec);
  const group = await cloud.ensureSecurityGroup(spec, placement);
  const refs = { keyName: keyPair.name, securityGroupId: group.id, subnetId: placement.subnetId };
  await cloud.checkLaunchPermissions(spec, refs);
  const instance = await cloud.ensureInstance(spec, refs);
  await cloud.waitForInstanceState(instance.id, 'running', 5_000);
  const address = await cloud.ensureAddress(spec, instance.id);
  return { placement, keyPair, group, refs, instance, address };
}

async function specWithImage(overrides: Partial<LaunchSpec> = {}): Promise<LaunchSpec> {
  const imageId = await registerTestImage(ec2, { name: 'Sourcegraph v6.12.5040' });
  return testLaunchSpec({ imageId, ...overrides });
}

describe('identity, regions, placement', () => {
  it('whoAmI reports the account', async () => {
    expect(await cloud.whoAmI()).toMatchObject({ account: MOTO_ACCOUNT_ID, arn: expect.stringContaining(MOTO_ACCOUNT_ID) });
  });

  it('listRegions lists the enabled regions, sorted', async () => {
    const regions = await cloud.listRegions();
    expect(regions).toContain('us-east-1');
    expect(regions).toContain('eu-west-1');
    expect(regions).toEqual([...regions].sort());
  });

  it('picks the default VPC subnet of the first zone, or validates --subnet', async () => {
    const placement = await cloud.resolvePlacement();
    expect(placement.availabilityZone).toBe('us-east-1a');
    expect(placement.vpcId).toMatch(/^vpc-/);
    expect(placement.subnetId).toMatch(/^subnet-/);
    expect(await cloud.resolvePlacement(placement.subnetId)).toEqual(placement);

    const missing = await cloud.resolvePlacement('subnet-0000000000deadbee').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing).toMatchObject({ code: 'subnet-not-found', message: expect.stringContaining('--subnet') });
  });
});

describe('images', () => {
  it('finds a published image by version, and the sized one for 5.10 and older', async () => {
    expect(await cloud.findImage({ version: '6.12.5040' })).toMatchObject({
      id: 'ami-0612504000000001',
      source: 'published',
      version: '6.12.5040',
      ownerId: SOURCEGRAPH,
    });
    expect(await cloud.findImage({ version: 'v6.11.2000' })).toMatchObject({ id: 'ami-0611000000000001', ownerId: SOURCEGRAPH_OLD });
    expect(await cloud.findImage({ version: '5.10.1164', size: 'L' })).toMatchObject({ id: 'ami-0510000000000002' });
    expect(await cloud.findImage({ version: '5.10.1164', size: 'XS' })).toMatchObject({ id: 'ami-0510000000000001' });
  });

  it('ignores -DEV and (latest) images and other owners; undefined when nothing matches', async () => {
    expect(await cloud.findImage({ version: '5.10.1200' })).toBeUndefined();
    expect(await cloud.findImage({ version: '7.0.0' })).toBeUndefined();
    expect(await cloud.findImage({ version: '6.99.0' })).toBeUndefined();
    expect(await cloud.findImage({ version: 'latest' })).toMatchObject({ id: 'ami-0612504000000001' });
  });

  it('finds images we built, and latest is the newest of published and built', async () => {
    const built = await registerTestImage(ec2, { name: 'sourcegraph-launch 6.13.100', version: '6.13.100' });
    await registerTestImage(ec2, { name: 'not ours', builtTags: false });
    expect(await cloud.findImage({ version: '6.13.100' })).toMatchObject({ id: built, source: 'built', version: '6.13.100' });
    expect(await cloud.findImage({ version: 'latest' })).toMatchObject({ id: built, source: 'built' });
  });

  it('lists every image we built, newest version first, with its size', async () => {
    const a = await registerTestImage(ec2, { name: 'sourcegraph-launch 6.6.3', version: '6.6.3', tags: { 'sourcegraph-launch:size': 'S' } });
    const b = await registerTestImage(ec2, { name: 'sourcegraph-launch 6.7.0', version: '6.7.0' });
    await registerTestImage(ec2, { name: 'not ours', builtTags: false });
    const built = await cloud.listBuiltImages();
    expect(built.map((i) => [i.id, i.version, i.size, i.source])).toEqual([
      [b, '6.7.0', undefined, 'built'],
      [a, '6.6.3', 'S', 'built'],
    ]);
  });

  it('describeImage says where an image comes from, undefined when unknown', async () => {
    expect(await cloud.describeImage('ami-0612504000000001')).toMatchObject({ source: 'published', version: '6.12.5040' });
    const built = await registerTestImage(ec2, { name: 'Sourcegraph v6.14.1' });
    expect(await cloud.describeImage(built)).toMatchObject({ source: 'built', version: '6.14.1' });
    expect(await cloud.describeImage('ami-00000000deadbeef0')).toBeUndefined();
  });
});

describe('a full launch', () => {
  it('creates every resource, tagged, and findDeployment / listDeployments see them', async () => {
    const spec = await specWithImage();
    const { placement, keyPair, group, instance, address } = await launch(spec);

    expect(keyPair).toMatchObject({ name: 'sourcegraph-launch-demo', managed: true });
    expect(group).toMatchObject({ name: 'sourcegraph-launch-demo', vpcId: placement.vpcId });
    expect(instance).toMatchObject({
      imageId: spec.imageId,
      instanceType: 'm6a.2xlarge',
      keyName: 'sourcegraph-launch-demo',
      securityGroupIds: [group.id],
      subnetId: placement.subnetId,
      availabilityZone: 'us-east-1a',
    });
    expect(address).toMatchObject({ managed: true, instanceId: instance.id, associationId: expect.stringMatching(/^eipassoc-/) });

    const found = await cloud.findDeployment('demo');
    expect(found.instance).toMatchObject({ id: instance.id, state: 'running', publicIp: address?.publicIp });
    expect(found.otherInstances).toEqual([]);
    expect(found.version).toBe('6.12.5040');
    expect(found.size).toBe('XS');
    expect(found.securityGroups.map((g) => g.id)).toEqual([group.id]);
    expect(found.keyPairs.map((k) => k.name)).toEqual(['sourcegraph-launch-demo']);
    expect(found.addresses.map((a) => a.allocationId)).toEqual([address?.allocationId]);
    expect(found.volumes.map((v) => [v.device, v.tags['sourcegraph-launch:role']]).sort()).toEqual([
      ['/dev/sdb', 'data-volume'],
      ['/dev/xvda', 'root-volume'],
    ]);

    const other = await launch(testLaunchSpec({ ...spec, name: 'other', keyPair: { mode: 'import', keyName: 'kp-other', publicKey: TEST_PUBLIC_KEY }, clientToken: 'other-1' }));
    const all = await cloud.listDeployments();
    expect(all.map((d) => d.name)).toEqual(['demo', 'other']);
    expect(all[1]?.instance?.id).toBe(other.instance.id);
    expect(all[0]?.instance?.id).toBe(instance.id);
    expect(await cloud.findDeployment('nothing-here')).toEqual({
      name: 'nothing-here',
      region: REGION,
      otherInstances: [],
      securityGroups: [],
      keyPairs: [],
      addresses: [],
      volumes: [],
    });
  });

  it('tags every created resource with deployment, role, version, size and managed', async () => {
    const spec = await specWithImage();
    const { instance } = await launch(spec);
    const expectTags = (tags: Tag[] | undefined, role: string) => {
      expect(tagValue(tags, 'sourcegraph-launch:deployment')).toBe('demo');
      expect(tagValue(tags, 'sourcegraph-launch:role')).toBe(role);
      expect(tagValue(tags, 'sourcegraph-launch:version')).toBe('6.12.5040');
      expect(tagValue(tags, 'sourcegraph-launch:size')).toBe('XS');
      expect(tagValue(tags, 'sourcegraph-launch:managed')).toBe('true');
    };
    const [raw] = await rawInstances('demo');
    expectTags(raw?.Tags, 'instance');
    expect(tagValue(raw?.Tags, 'Name')).toBe('demo');
    expectTags((await rawGroups('demo'))[0]?.Tags, 'security-group');
    expectTags((await rawKeyPairs('demo'))[0]?.Tags, 'key-pair');
    expectTags((await rawAddresses())[0]?.Tags, 'address');
    const volumes = await rawVolumes('demo');
    expect(volumes).toHaveLength(2);
    const byDevice = new Map(volumes.map((v) => [v.Attachments?.[0]?.Device, v]));
    expectTags(byDevice.get('/dev/sdb')?.Tags, 'data-volume');
    expect(tagValue(byDevice.get('/dev/sdb')?.Tags, 'Name')).toBe('demo-data');
    expectTags(byDevice.get('/dev/xvda')?.Tags, 'root-volume');
    expect(tagValue(byDevice.get('/dev/xvda')?.Tags, 'Name')).toBe('demo-root');
    expect(byDevice.get('/dev/sdb')?.Attachments?.[0]?.InstanceId).toBe(instance.id);
  });

  it('launches with IMDSv2, encrypted volumes and the data volume kept on termination', async () => {
    const kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const spec = await specWithImage({ kmsKeyId });
    const { instance } = await launch(spec);
    const [raw] = await rawInstances('demo');
    expect(raw?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
    expect(raw?.ClientToken).toBe('demo-launch-0001');
    expect(instance.volumes.map((v) => [v.device, v.deleteOnTermination]).sort()).toEqual([
      ['/dev/sdb', false],
      ['/dev/xvda', true],
    ]);
    const volumes = await rawVolumes('demo');
    const byDevice = new Map(volumes.map((v) => [v.Attachments?.[0]?.Device, v]));
    expect(byDevice.get('/dev/xvda')).toMatchObject({ Size: 50, VolumeType: 'gp3', Encrypted: true, KmsKeyId: kmsKeyId });
    // moto does not pass IOPS/throughput through RunInstances mappings: gp3 reports its default.
    expect(byDevice.get('/dev/sdb')).toMatchObject({ Size: 500, VolumeType: 'gp3', Encrypted: true, KmsKeyId: kmsKeyId, Iops: 3000 });
  });

  it('opens exactly 80/443 to the allowed CIDRs and 22 to the SSH CIDR', async () => {
    const spec = await specWithImage({ allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['198.51.100.7/32'] });
    const { group } = await launch(spec);
    const rules = group.ingress.map((r) => `${r.protocol}:${r.fromPort}-${r.toPort}:${r.cidr}`).sort();
    expect(rules).toEqual(
      [
        'tcp:80-80:203.0.113.0/24',
        'tcp:80-80:192.0.2.0/24',
        'tcp:443-443:203.0.113.0/24',
        'tcp:443-443:192.0.2.0/24',
        'tcp:22-22:198.51.100.7/32',
      ].sort(),
    );
    const raw = (await rawGroups('demo'))[0];
    const ports = (raw?.IpPermissions ?? []).map((p) => p.FromPort).sort();
    expect(ports).toEqual([22, 443, 80]);
  });

  it('has no SSH rule at all when sshCidrs is empty', async () => {
    const spec = await specWithImage({ sshCidrs: [] });
    const { group } = await launch(spec);
    expect(group.ingress.map((r) => r.fromPort).sort()).toEqual([443, 80]);
    expect(group.ingress.some((r) => r.fromPort === 22 || r.fromPort === 6443)).toBe(false);
  });
});

describe('idempotency', () => {
  it('running every ensure* twice makes exactly one of each resource', async () => {
    const spec = await specWithImage();
    const first = await launch(spec);
    const second = await launch(spec);

    expect(second.keyPair.name).toBe(first.keyPair.name);
    expect(second.group.id).toBe(first.group.id);
    expect(second.instance.id).toBe(first.instance.id);
    expect(second.address?.allocationId).toBe(first.address?.allocationId);
    expect(second.address?.associationId).toBe(first.address?.associationId);

    expect(await rawKeyPairs('demo')).toHaveLength(1);
    expect(await rawGroups('demo')).toHaveLength(1);
    expect(await rawInstances('demo')).toHaveLength(1);
    expect(await rawAddresses()).toHaveLength(1);
    expect(await rawVolumes('demo')).toHaveLength(2);
    const permissions = (await rawGroups('demo'))[0]?.IpPermissions ?? [];
    expect(permissions.flatMap((p) => p.IpRanges ?? [])).toHaveLength(3);
  });

  it('adds only the missing rules to an existing group (a wider allow list on a re-run)', async () => {
    const spec = await specWithImage();
    const placement = await cloud.resolvePlacement();
    await cloud.ensureSecurityGroup(spec, placement);
    const wider = { ...spec, allowCidrs: [...spec.allowCidrs, '192.0.2.0/24'] };
    const group = await cloud.ensureSecurityGroup(wider, placement);
    expect(group.ingress.filter((r) => r.fromPort === 443).map((r) => r.cidr).sort()).toEqual(['192.0.2.0/24', '203.0.113.0/24']);
    expect(await rawGroups('demo')).toHaveLength(1);
  });

  it('closes what a re-run no longer asks for (narrower allow list, SSH off), and leaves other ports alone', async () => {
    const spec = await specWithImage();
    const placement = await cloud.resolvePlacement();
    const wide = await cloud.ensureSecurityGroup({ ...spec, allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['203.0.113.7/32'] }, placement);
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: wide.id,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9100, ToPort: 9100, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }],
      }),
    );
    const narrow = await cloud.ensureSecurityGroup({ ...spec, allowCidrs: ['203.0.113.0/24'], sshCidrs: [] }, placement);
    expect(narrow.id).toBe(wide.id);
    expect(narrow.ingress.map((r) => `${r.fromPort} ${r.cidr}`).sort()).toEqual(['443 203.0.113.0/24', '80 203.0.113.0/24', '9100 10.0.0.0/8']);
  });

  it('finds the instance of an interrupted launch by its client token instead of running another', async () => {
    const spec = await specWithImage();
    const { refs, instance } = await launch(spec);
    // Another attempt of the same launch (same token) but a different version tag in its spec.
    const again = await cloud.ensureInstance({ ...spec, version: '6.12.9999' }, refs);
    expect(again.id).toBe(instance.id);
    expect(await rawInstances('demo')).toHaveLength(1);
  });
});

describe('key pairs and addresses brought by the user', () => {
  it('uses an existing key pair (not managed) and names --key-name when it is missing', async () => {
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'my-key', PublicKeyMaterial: new TextEncoder().encode(TEST_PUBLIC_KEY) }));
    const spec = testLaunchSpec({ keyPair: { mode: 'existing', keyName: 'my-key' } });
    expect(await cloud.ensureKeyPair(spec)).toMatchObject({ name: 'my-key', managed: false });

    const missing = await cloud.ensureKeyPair(testLaunchSpec({ keyPair: { mode: 'existing', keyName: 'nope' } })).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing).toMatchObject({ code: 'key-pair-not-found', message: expect.stringContaining('--key-name') });
  });

  it('refuses to treat someone else\u2019s key pair of the same name as ours', async () => {
    await ec2.send(
      new ImportKeyPairCommand({ KeyName: 'sourcegraph-launch-demo', PublicKeyMaterial: new TextEncoder().encode(TEST_PUBLIC_KEY) }),
    );
    const err = await cloud.ensureKeyPair(testLaunchSpec()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'key-pair-conflict' });
  });

  it('refuses a security group of the same name that belongs to something else', async () => {
    const spec = await specWithImage();
    const placement = await cloud.resolvePlacement();
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'sourcegraph-launch-demo', Description: 'not ours', VpcId: placement.vpcId }));
    await expect(cloud.ensureSecurityGroup(spec, placement)).rejects.toMatchObject({ code: 'security-group-conflict' });
  });

  it('adopts an Elastic IP made reachable by the test helper (mode existing) without re-associating', async () => {
    const spec = await specWithImage({ elasticIp: { mode: 'none' } });
    const { instance } = await launch(spec);
    const reachable = await makeTestHostReachable(ec2, instance.id, '10.200.77.2');
    expect((await cloud.describeInstance(instance.id))?.publicIp).toBe('10.200.77.2');

    const address = await cloud.ensureAddress({ ...spec, elasticIp: { mode: 'existing', allocationId: reachable.allocationId } }, instance.id);
    expect(address).toMatchObject({
      allocationId: reachable.allocationId,
      associationId: reachable.associationId,
      publicIp: '10.200.77.2',
      instanceId: instance.id,
      managed: false,
    });
  });

  it('associates a brought address that is free, and adopts a pre-allocated address tagged for the deployment', async () => {
    const spec = await specWithImage({ elasticIp: { mode: 'none' } });
    const { instance } = await launch(spec);
    expect(await cloud.ensureAddress(spec, instance.id)).toBeUndefined();

    const free = await allocateTestAddress(ec2, '10.200.77.6');
    const brought = await cloud.ensureAddress({ ...spec, elasticIp: { mode: 'existing', allocationId: free } }, instance.id);
    expect(brought).toMatchObject({ publicIp: '10.200.77.6', instanceId: instance.id, managed: false });

    await moto.reset();
    const spec2 = await specWithImage();
    const preallocated = await allocateTestAddress(ec2, '10.200.77.10', { deployment: 'demo' });
    const { address } = await launch(spec2);
    expect(address).toMatchObject({ allocationId: preallocated, publicIp: '10.200.77.10', managed: true });
    expect(await rawAddresses()).toHaveLength(1);
  });

  it('refuses to take an address away from another deployment\u2019s instance', async () => {
    const spec = await specWithImage({ elasticIp: { mode: 'none' } });
    const { instance } = await launch(spec);
    const foreign = await ec2.send(new RunInstancesCommand({ ImageId: spec.imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const foreignId = foreign.Instances?.[0]?.InstanceId ?? '';
    const taken = await makeTestHostReachable(ec2, foreignId, '10.200.77.14');
    const err = await cloud
      .ensureAddress({ ...spec, elasticIp: { mode: 'existing', allocationId: taken.allocationId } }, instance.id)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'address-in-use' });
  });

  it('rejects an unknown allocation id', async () => {
    const spec = await specWithImage({ elasticIp: { mode: 'existing', allocationId: 'eipalloc-00000000deadbeef0' } });
    const err = await cloud.ensureAddress(spec, 'i-00000000deadbeef0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'address-not-found' });
  });
});

describe('observing an instance', () => {
  it('reports status checks, console output and the instance itself', async () => {
    const spec = await specWithImage();
    const { instance } = await launch(spec);
    expect(await cloud.instanceStatusChecks(instance.id)).toEqual({ overall: 'ok', system: 'ok', instance: 'ok' });
    expect(await cloud.consoleOutput(instance.id)).toContain('Linux version');
    expect(await cloud.describeInstance(instance.id)).toMatchObject({ id: instance.id, state: 'running' });
    expect(await cloud.describeInstance('i-00000000deadbeef0')).toBeUndefined();
  });
});

describe('destroy verbs', () => {
  it('tears a deployment down, keeping nothing but what we chose to keep', async () => {
    const spec = await specWithImage();
    const { instance, group, address } = await launch(spec);
    const dataVolume = instance.volumes.find((v) => v.device === '/dev/sdb')?.volumeId ?? '';

    await cloud.disassociateAddress(address?.associationId ?? '');
    await cloud.releaseAddress(address?.allocationId ?? '');
    await cloud.terminateInstance(instance.id);
    await cloud.waitForInstanceState(instance.id, 'terminated', 5_000);
    await cloud.deleteSecurityGroup(group.id);
    await cloud.deleteKeyPair('sourcegraph-launch-demo');

    // The data volume outlives the instance until someone deletes it on purpose.
    const left = await cloud.findDeployment('demo');
    expect(left.instance).toBeUndefined();
    expect(left.securityGroups).toEqual([]);
    expect(left.keyPairs).toEqual([]);
    expect(left.addresses).toEqual([]);
    expect(left.volumes.map((v) => v.id)).toEqual([dataVolume]);

    await cloud.waitForVolumeAvailable(dataVolume, 5_000);
    await cloud.deleteVolume(dataVolume);
    expect((await cloud.findDeployment('demo')).volumes).toEqual([]);
    expect(await rawAddresses()).toEqual([]);
  });

  it('treats deleting what is already gone as done', async () => {
    await expect(cloud.terminateInstance('i-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteSecurityGroup('sg-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteKeyPair('never-existed')).resolves.toBeUndefined();
    await expect(cloud.releaseAddress('eipalloc-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.disassociateAddress('eipassoc-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteVolume('vol-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.waitForInstanceState('i-00000000deadbeef0', 'terminated', 1_000)).resolves.toBeUndefined();
  });

  it('deletes each thing twice without complaint', async () => {
    const spec = await specWithImage();
    const { instance, group, address } = await launch(spec);
    for (let round = 0; round < 2; round++) {
      await cloud.disassociateAddress(address?.associationId ?? '');
      await cloud.releaseAddress(address?.allocationId ?? '');
      await cloud.terminateInstance(instance.id);
      await cloud.deleteSecurityGroup(group.id);
      await cloud.deleteKeyPair('sourcegraph-launch-demo');
    }
    expect(await rawGroups('demo')).toEqual([]);
  });

  it('times out waiting for a volume that stays attached', async () => {
    const spec = await specWithImage();
    const { instance } = await launch(spec);
    const dataVolume = instance.volumes.find((v) => v.device === '/dev/sdb')?.volumeId ?? '';
    await expect(cloud.waitForVolumeAvailable(dataVolume, 50)).rejects.toMatchObject({ code: 'wait-timeout', stage: 'volume-available' });
  });
});

describe('dry run and permissions', () => {
  it('checkLaunchPermissions passes when the dry run would succeed, and sends nothing real', async () => {
    const spec = await specWithImage();
    const placement: NetworkPlacement = await cloud.resolvePlacement();
    const keyPair = await cloud.ensureKeyPair(spec);
    const group = await cloud.ensureSecurityGroup(spec, placement);
    await cloud.checkLaunchPermissions(spec, { keyName: keyPair.name, securityGroupId: group.id, subnetId: placement.subnetId });
    expect(await rawInstances('demo')).toEqual([]);
  });

  it('launchRequests returns the planned requests without calling AWS', () => {
    const requests = cloud.launchRequests(testLaunchSpec());
    expect(requests.map((r) => r.operation)).toContain('RunInstances');
  });
});
