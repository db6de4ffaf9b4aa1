// The new AWS adapter against a real EC2 API emulator (moto): every verb a launch, status and
// destroy use, outcomes asserted with a raw EC2 client rather than through the adapter. The same
// cases as the old adapter's test/cloud/aws/aws-cloud.moto.test.ts, on the port's verbs.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { createAwsClients } from '../../../../src/cloud/aws/sdk.js';
import type { Placement } from '../../../../src/cloud/port.js';
import { CloudError, UsageError } from '../../../../src/core/errors.js';
import { VirtualClock } from '../../../fakes/virtual-clock.js';
import { MOTO_ACCOUNT_ID, allocateTestAddress, deploymentResources, makeTestHostReachable, motoEc2Client, registerTestImage, startMoto, type MotoServer } from '../../../support/moto.js';
import {
  REGION,
  SCOPE,
  TEST_PUBLIC_KEY,
  TEST_PUBLIC_KEY_FINGERPRINT,
  accessSpec,
  addressSpec,
  demoLaunch,
  deploymentLabels,
  instanceSpec,
  launchRequestsSpec,
  type DemoLaunch,
} from './fixtures.js';

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
let cloud: AwsAdapter;

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
  cloud = new AwsAdapter(createAwsClients({ region: REGION, endpoint: moto.endpoint, maxAttempts: 1 }), SCOPE, {
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
const rawVolumes = (name: string) => deploymentResources(ec2).volumes(name);
async function rawAddresses() {
  return (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
}

/** The launch workflow's order of verbs. */
async function launch(d: DemoLaunch) {
  const placement = await cloud.resolvePlacement(undefined);
  const sshKey = await cloud.ensureSshKey(d.sshKey, d.deployment, deploymentLabels(d, 'key-pair'));
  const policy = await cloud.ensureAccessPolicy(accessSpec(d, placement));
  const spec = instanceSpec(d, placement, [policy.id]);
  await cloud.checkInstancePermissions(spec);
  const instance = await cloud.ensureInstance(spec);
  await cloud.waitForInstanceState(instance.id, 'running', 5_000);
  const reserved = await cloud.ensureStaticAddress(addressSpec(d));
  const address = reserved && (await cloud.attachStaticAddress(reserved.id, instance.id));
  return { placement, sshKey, policy, spec, instance, address };
}

async function demoWithImage(overrides: Partial<DemoLaunch> = {}): Promise<DemoLaunch> {
  const imageId = await registerTestImage(ec2, { name: 'Sourcegraph v6.12.5040' });
  return demoLaunch({ imageId, ...overrides });
}

describe('identity and placement', () => {
  it('whoAmI reports the account and who the credentials are', async () => {
    expect(await cloud.whoAmI()).toMatchObject({ account: MOTO_ACCOUNT_ID, principal: expect.stringContaining(MOTO_ACCOUNT_ID) });
  });

  it('lists the zones that offer a machine type, sorted; none for a type that does not exist', async () => {
    const zones = await cloud.machineTypeZones('m6a.2xlarge');
    expect(zones.length).toBeGreaterThan(0);
    expect(zones.every((z) => z.startsWith(REGION))).toBe(true);
    expect(zones).toEqual([...zones].sort());
    expect(await cloud.machineTypeZones('nope.huge')).toEqual([]);
  });

  it('picks the default VPC subnet of the first zone, or validates --subnet', async () => {
    const placement = await cloud.resolvePlacement(undefined);
    expect(placement.zone).toBe('us-east-1a');
    expect(placement.networkId).toMatch(/^vpc-/);
    expect(placement.subnetId).toMatch(/^subnet-/);
    expect(await cloud.resolvePlacement(placement.subnetId)).toEqual(placement);
    expect((await cloud.resolvePlacement(undefined, ['us-east-1c'])).zone).toBe('us-east-1c');

    const missing = await cloud.resolvePlacement('subnet-0000000000deadbee').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing).toMatchObject({ code: 'subnet-not-found', message: expect.stringContaining('--subnet') });
    await expect(cloud.resolvePlacement(placement.subnetId, ['us-east-1b'])).rejects.toMatchObject({ code: 'subnet-zone-mismatch' });
  });
});

describe('images', () => {
  it('finds a published image by version, and the sized one for 5.10 and older', async () => {
    expect(await cloud.findImage({ version: '6.12.5040' })).toMatchObject({ id: 'ami-0612504000000001', source: 'published', version: '6.12.5040' });
    expect(await cloud.findImage({ version: 'v6.11.2000' })).toMatchObject({ id: 'ami-0611000000000001', source: 'published' });
    expect(await cloud.findImage({ version: '5.10.1164', size: 'L' })).toMatchObject({ id: 'ami-0510000000000002', size: 'L' });
    expect(await cloud.findImage({ version: '5.10.1164', size: 'XS' })).toMatchObject({ id: 'ami-0510000000000001', size: 'XS' });
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
    const plain = await registerTestImage(ec2, { name: 'someone else\u2019s', builtTags: false });
    expect(await cloud.describeImage(plain)).toMatchObject({ source: 'flag' });
    expect(await cloud.describeImage('ami-00000000deadbeef0')).toBeUndefined();
  });
});

describe('a full launch', () => {
  it('creates every resource, and findDeployment / listDeployments see them by their labels', async () => {
    const d = await demoWithImage();
    const { placement, sshKey, policy, instance, address } = await launch(d);

    expect(sshKey).toMatchObject({ name: 'sourcegraph-launch-demo', managed: true });
    expect(policy).toMatchObject({ name: 'sourcegraph-launch-demo', labels: { deployment: 'demo', role: 'security-group' } });
    expect(instance).toMatchObject({
      imageId: d.imageId,
      machineType: 'm6a.2xlarge',
      sshKeyName: 'sourcegraph-launch-demo',
      accessPolicyIds: [policy.id],
      subnetId: placement.subnetId,
      zone: 'us-east-1a',
      idempotencyKey: 'demo-launch-0001',
    });
    expect(instance.disks.map((disk) => [disk.role, disk.deleteWithInstance]).sort()).toEqual([
      ['data', false],
      ['root', true],
    ]);
    expect(address).toMatchObject({ managed: true, instanceId: instance.id, labels: { deployment: 'demo', role: 'address' } });

    const found = await cloud.findDeployment('demo');
    expect(found.instance).toMatchObject({ id: instance.id, state: 'running', publicIp: address?.ip });
    expect(found.otherInstances).toEqual([]);
    expect(found.version).toBe('6.12.5040');
    expect(found.size).toBe('XS');
    expect(found.scope).toEqual(SCOPE);
    expect(found.accessPolicies.map((g) => g.id)).toEqual([policy.id]);
    expect(found.sshKeys.map((k) => k.name)).toEqual(['sourcegraph-launch-demo']);
    expect(found.addresses.map((a) => a.id)).toEqual([address?.id]);
    const dataDisk = instance.disks.find((disk) => disk.role === 'data')!.diskId;
    const rootDisk = instance.disks.find((disk) => disk.role === 'root')!.diskId;
    expect(found.disks.map((v) => [v.id, v.labels.role]).sort()).toEqual(
      [
        [dataDisk, 'data-volume'],
        [rootDisk, 'root-volume'],
      ].sort(),
    );

    const other = await launch({ ...d, deployment: 'other', sshKey: { mode: 'import', name: 'kp-other', publicKey: TEST_PUBLIC_KEY }, idempotencyKey: 'other-1' });
    const all = await cloud.listDeployments();
    expect(all.map((x) => x.name)).toEqual(['demo', 'other']);
    expect(all[1]?.instance?.id).toBe(other.instance.id);
    expect(all[0]?.instance?.id).toBe(instance.id);
    expect(await cloud.findDeployment('nothing-here')).toEqual({ name: 'nothing-here', scope: SCOPE, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] });
  });

  it('tags every created resource with deployment, role, version, size and managed', async () => {
    const d = await demoWithImage();
    const { instance } = await launch(d);
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
    const [keyPair] = await rawKeyPairs('demo');
    expectTags(keyPair?.Tags, 'key-pair');
    expect(tagValue(keyPair?.Tags, 'sourcegraph-launch:key-fingerprint')).toBe(TEST_PUBLIC_KEY_FINGERPRINT);
    expectTags((await rawAddresses())[0]?.Tags, 'address');
    const volumes = await rawVolumes('demo');
    expect(volumes).toHaveLength(2);
    const byDevice = new Map(volumes.map((v) => [v.Attachments?.[0]?.Device, v]));
    expectTags(byDevice.get('/dev/sdb')?.Tags, 'data-volume');
    expect(tagValue(byDevice.get('/dev/sdb')?.Tags, 'Name')).toBe('demo-data');
    // The root volume is never taken for data (destroy keeps data, the snapshot policy targets it).
    expectTags(byDevice.get('/dev/xvda')?.Tags, 'root-volume');
    expect(tagValue(byDevice.get('/dev/xvda')?.Tags, 'Name')).toBe('demo-root');
    expect(byDevice.get('/dev/sdb')?.Attachments?.[0]?.InstanceId).toBe(instance.id);
  });

  it('launches with IMDSv2, encrypted volumes and the data volume kept on termination', async () => {
    const kms = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const d = await demoWithImage({ encryptionKeyId: kms });
    await launch(d);
    const [raw] = await rawInstances('demo');
    expect(raw?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' });
    expect(raw?.ClientToken).toBe('demo-launch-0001');
    expect((raw?.BlockDeviceMappings ?? []).map((m) => [m.DeviceName, m.Ebs?.DeleteOnTermination]).sort()).toEqual([
      ['/dev/sdb', false],
      ['/dev/xvda', true],
    ]);
    const byDevice = new Map((await rawVolumes('demo')).map((v) => [v.Attachments?.[0]?.Device, v]));
    expect(byDevice.get('/dev/xvda')).toMatchObject({ Size: 50, VolumeType: 'gp3', Encrypted: true, KmsKeyId: kms });
    // moto does not pass IOPS/throughput through RunInstances mappings: gp3 reports its default.
    expect(byDevice.get('/dev/sdb')).toMatchObject({ Size: 500, VolumeType: 'gp3', Encrypted: true, KmsKeyId: kms, Iops: 3000 });
  });

  it('opens exactly 80/443 to the allowed CIDRs and 22 to the SSH CIDR', async () => {
    const d = await demoWithImage({ allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['198.51.100.7/32'] });
    const { policy } = await launch(d);
    expect(policy.rules.map((r) => `${r.port} ${r.cidr}`).sort()).toEqual(
      ['80 203.0.113.0/24', '80 192.0.2.0/24', '443 203.0.113.0/24', '443 192.0.2.0/24', '22 198.51.100.7/32'].sort(),
    );
    const raw = (await rawGroups('demo'))[0];
    expect((raw?.IpPermissions ?? []).map((p) => [p.IpProtocol, p.FromPort, p.ToPort]).sort()).toEqual([
      ['tcp', 22, 22],
      ['tcp', 443, 443],
      ['tcp', 80, 80],
    ]);
  });

  it('has no SSH rule at all when there is no SSH CIDR, and never 6443', async () => {
    const d = await demoWithImage({ sshCidrs: [] });
    const { policy, placement } = await launch(d);
    expect(policy.rules.map((r) => r.port).sort()).toEqual([443, 80]);
    const with6443 = accessSpec(d, placement);
    with6443.rules.push({ port: 6443, cidr: '203.0.113.0/24' });
    await expect(cloud.ensureAccessPolicy(with6443)).rejects.toMatchObject({ code: 'access-port-not-allowed' });
    const ports = ((await rawGroups('demo'))[0]?.IpPermissions ?? []).map((p) => p.FromPort);
    expect(ports.sort()).toEqual([443, 80]);
  });
});

describe('idempotency', () => {
  it('running every ensure twice makes exactly one of each resource', async () => {
    const d = await demoWithImage();
    const first = await launch(d);
    const second = await launch(d);
    expect(second.sshKey?.name).toBe(first.sshKey?.name);
    expect(second.policy.id).toBe(first.policy.id);
    expect(second.instance.id).toBe(first.instance.id);
    expect(second.address?.id).toBe(first.address?.id);
    expect(second.address?.instanceId).toBe(first.instance.id);

    expect(await rawKeyPairs('demo')).toHaveLength(1);
    expect(await rawGroups('demo')).toHaveLength(1);
    expect(await rawInstances('demo')).toHaveLength(1);
    expect(await rawAddresses()).toHaveLength(1);
    expect(await rawVolumes('demo')).toHaveLength(2);
    const permissions = (await rawGroups('demo'))[0]?.IpPermissions ?? [];
    expect(permissions.flatMap((p) => p.IpRanges ?? [])).toHaveLength(3);
  });

  it('adds only the missing rules to an existing group (a wider allow list on a re-run)', async () => {
    const d = await demoWithImage();
    const placement = await cloud.resolvePlacement(undefined);
    await cloud.ensureAccessPolicy(accessSpec(d, placement));
    const group = await cloud.ensureAccessPolicy(accessSpec({ ...d, allowCidrs: [...d.allowCidrs, '192.0.2.0/24'] }, placement));
    expect(group.rules.filter((r) => r.port === 443).map((r) => r.cidr).sort()).toEqual(['192.0.2.0/24', '203.0.113.0/24']);
    expect(await rawGroups('demo')).toHaveLength(1);
  });

  it('closes what a re-run no longer asks for (narrower allow list, SSH off), and leaves other ports alone', async () => {
    const d = await demoWithImage();
    const placement = await cloud.resolvePlacement(undefined);
    const wide = await cloud.ensureAccessPolicy(accessSpec({ ...d, allowCidrs: ['203.0.113.0/24', '192.0.2.0/24'], sshCidrs: ['203.0.113.7/32'] }, placement));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: wide.id, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9100, ToPort: 9100, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] }));
    const narrow = await cloud.ensureAccessPolicy(accessSpec({ ...d, allowCidrs: ['203.0.113.0/24'], sshCidrs: [] }, placement));
    expect(narrow.id).toBe(wide.id);
    expect(narrow.rules.map((r) => `${r.port} ${r.cidr}`).sort()).toEqual(['443 203.0.113.0/24', '80 203.0.113.0/24', '9100 10.0.0.0/8']);
  });

  it('another idempotency key is another instance: a launch that resumes one made elsewhere finds it with findDeployment', async () => {
    const d = await demoWithImage();
    const { spec, instance } = await launch(d);
    const second = await cloud.ensureInstance({ ...spec, idempotencyKey: 'demo-launch-from-elsewhere' });
    expect(second.id).not.toBe(instance.id);
    const found = await cloud.findDeployment('demo');
    expect([found.instance?.id, ...found.otherInstances.map((i) => i.id)].sort()).toEqual([instance.id, second.id].sort());
  });

  it('finds the instance of an interrupted launch by its client token instead of running another', async () => {
    const d = await demoWithImage();
    const { spec, instance } = await launch(d);
    // Another attempt of the same launch (same key) whose spec says another version.
    const again = await cloud.ensureInstance({ ...spec, version: '6.12.9999', labels: { ...spec.labels, version: '6.12.9999' } });
    expect(again.id).toBe(instance.id);
    expect(await rawInstances('demo')).toHaveLength(1);
  });

  it('never reuses the client token of an attempt whose instance was terminated', async () => {
    const d = await demoWithImage();
    const { spec, instance } = await launch(d);
    await cloud.terminateInstance(instance.id);
    await cloud.waitForInstanceState(instance.id, 'terminated', 5_000);
    const next = await cloud.ensureInstance(spec);
    expect(next.id).not.toBe(instance.id);
    expect(next.idempotencyKey).toBe('demo-launch-0001-2');
    const all = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:deployment', Values: ['demo'] }] }));
    const tokens = (all.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.ClientToken, i.State?.Name]);
    expect(tokens.sort()).toEqual([
      ['demo-launch-0001', 'terminated'],
      ['demo-launch-0001-2', 'running'],
    ]);
  });
});

describe('key pairs and addresses brought by the user', () => {
  it('uses an existing key pair (not managed) and names --key-name when it is missing', async () => {
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'my-key', PublicKeyMaterial: new TextEncoder().encode(TEST_PUBLIC_KEY) }));
    const labels = deploymentLabels(demoLaunch(), 'key-pair');
    expect(await cloud.ensureSshKey({ mode: 'existing', name: 'my-key' }, 'demo', labels)).toMatchObject({ name: 'my-key', managed: false });
    const missing = await cloud.ensureSshKey({ mode: 'existing', name: 'nope' }, 'demo', labels).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing).toMatchObject({ code: 'key-pair-not-found', message: expect.stringContaining('--key-name') });
    expect(await cloud.ensureSshKey({ mode: 'none' }, 'demo', labels)).toBeUndefined();
  });

  it('refuses to treat someone else\u2019s key pair of the same name as ours', async () => {
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'sourcegraph-launch-demo', PublicKeyMaterial: new TextEncoder().encode(TEST_PUBLIC_KEY) }));
    const d = demoLaunch();
    const err = await cloud.ensureSshKey(d.sshKey, 'demo', deploymentLabels(d, 'key-pair')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'key-pair-conflict' });
  });

  it('refuses a security group of the same name that belongs to something else', async () => {
    const d = await demoWithImage();
    const placement = await cloud.resolvePlacement(undefined);
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'sourcegraph-launch-demo', Description: 'not ours', VpcId: placement.networkId }));
    await expect(cloud.ensureAccessPolicy(accessSpec(d, placement))).rejects.toMatchObject({ code: 'security-group-conflict' });
  });

  it('adopts an Elastic IP made reachable by the test helper without re-associating, tagged as the user\u2019s', async () => {
    const d = await demoWithImage({ address: 'none' });
    const { instance } = await launch(d);
    const reachable = await makeTestHostReachable(ec2, instance.id, '10.200.77.2');
    expect((await cloud.describeInstance(instance.id))?.publicIp).toBe('10.200.77.2');

    const adopted = await cloud.ensureStaticAddress({ mode: 'existing', id: reachable.allocationId, deployment: 'demo' });
    const attached = await cloud.attachStaticAddress(adopted!.id, instance.id);
    expect(attached).toMatchObject({ id: reachable.allocationId, ip: '10.200.77.2', instanceId: instance.id, managed: false, labels: { deployment: 'demo', role: 'address', owner: 'user' } });
    const [raw] = await rawAddresses();
    expect(raw?.AssociationId).toBe(reachable.associationId);
    // Never ours to release: destroy leaves it to the user.
    expect(tagValue(raw?.Tags, 'sourcegraph-launch:managed')).toBeUndefined();
    expect(tagValue(raw?.Tags, 'sourcegraph-launch:owner')).toBe('user');
  });

  it('associates a brought address that is free, and adopts a pre-allocated address tagged for the deployment', async () => {
    const d = await demoWithImage({ address: 'none' });
    const { instance } = await launch(d);
    expect(await cloud.ensureStaticAddress(addressSpec(d))).toBeUndefined();

    const free = await allocateTestAddress(ec2, '10.200.77.6');
    const brought = await cloud.ensureStaticAddress({ mode: 'existing', id: free, deployment: 'demo' });
    expect(await cloud.attachStaticAddress(brought!.id, instance.id)).toMatchObject({ ip: '10.200.77.6', instanceId: instance.id, managed: false });

    await moto.reset();
    const d2 = await demoWithImage();
    const preallocated = await allocateTestAddress(ec2, '10.200.77.10', { deployment: 'demo' });
    const { address } = await launch(d2);
    expect(address).toMatchObject({ id: preallocated, ip: '10.200.77.10', managed: true });
    expect(await rawAddresses()).toHaveLength(1);
  });

  it('finds the address the deployment\u2019s instance holds by association, even without our tags', async () => {
    const d = await demoWithImage({ address: 'none' });
    const { instance } = await launch(d);
    // An address brought before the owner tag existed: associated, never tagged.
    const held = await makeTestHostReachable(ec2, instance.id, '10.200.77.3');
    const found = await cloud.findDeployment('demo');
    expect(found.addresses).toEqual([expect.objectContaining({ id: held.allocationId, ip: '10.200.77.3', instanceId: instance.id, managed: false })]);
  });

  it('refuses to take an address away from another deployment\u2019s instance, and leaves it untagged', async () => {
    const d = await demoWithImage({ address: 'none' });
    const { instance } = await launch(d);
    const foreign = await ec2.send(new RunInstancesCommand({ ImageId: d.imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const taken = await makeTestHostReachable(ec2, foreign.Instances?.[0]?.InstanceId ?? '', '10.200.77.14');
    const adopt = await cloud.ensureStaticAddress({ mode: 'existing', id: taken.allocationId, deployment: 'demo' }).catch((e: unknown) => e);
    expect(adopt).toMatchObject({ code: 'address-in-use' });
    await expect(cloud.attachStaticAddress(taken.allocationId, instance.id)).rejects.toMatchObject({ code: 'address-in-use' });
    const [raw] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [taken.allocationId] }))).Addresses ?? [];
    expect(raw?.InstanceId).toBe(foreign.Instances?.[0]?.InstanceId);
    expect(tagValue(raw?.Tags, 'sourcegraph-launch:deployment')).toBeUndefined();
  });

  it('never releases an address the user brought, though it detaches it', async () => {
    const d = await demoWithImage({ address: 'none' });
    const { instance } = await launch(d);
    const brought = await allocateTestAddress(ec2, '10.200.77.30');
    await cloud.ensureStaticAddress({ mode: 'existing', id: brought, deployment: 'demo' });
    await cloud.attachStaticAddress(brought, instance.id);
    await cloud.detachStaticAddress(brought);
    await expect(cloud.releaseStaticAddress(brought)).rejects.toMatchObject({ code: 'address-not-managed' });
    const [raw] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [brought] }))).Addresses ?? [];
    expect(raw).toMatchObject({ AllocationId: brought, PublicIp: '10.200.77.30' });
    // moto answers an empty InstanceId once it is disassociated.
    expect(raw?.InstanceId || undefined).toBeUndefined();
  });

  it('refuses an address that is another deployment\u2019s, and rejects an unknown allocation id', async () => {
    const other = await allocateTestAddress(ec2, '10.200.77.20', { deployment: 'other' });
    await expect(cloud.ensureStaticAddress({ mode: 'existing', id: other, deployment: 'demo' })).rejects.toMatchObject({ code: 'address-in-use' });
    const err = await cloud.ensureStaticAddress({ mode: 'existing', id: 'eipalloc-00000000deadbeef0', deployment: 'demo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'address-not-found' });
  });
});

describe('observing an instance', () => {
  it('reports status checks, console output and the instance itself', async () => {
    const d = await demoWithImage();
    const { instance } = await launch(d);
    expect(await cloud.instanceHealth(instance.id)).toEqual({ overall: 'ok', detail: 'system ok, instance ok' });
    expect(await cloud.consoleOutput(instance.id)).toContain('Linux version');
    expect(await cloud.describeInstance(instance.id)).toMatchObject({ id: instance.id, state: 'running', labels: { deployment: 'demo', role: 'instance' } });
    expect(await cloud.describeInstance('i-00000000deadbeef0')).toBeUndefined();
  });
});

describe('destroy verbs', () => {
  it('tears a deployment down, keeping nothing but what we chose to keep', async () => {
    const d = await demoWithImage();
    const { instance, policy, address } = await launch(d);
    const dataDisk = instance.disks.find((disk) => disk.role === 'data')!.diskId;

    await cloud.detachStaticAddress(address!.id);
    await cloud.releaseStaticAddress(address!.id);
    await cloud.terminateInstance(instance.id);
    await cloud.waitForInstanceState(instance.id, 'terminated', 5_000);
    await cloud.deleteAccessPolicy(policy.id);
    await cloud.deleteSshKey('sourcegraph-launch-demo');

    // The data volume outlives the instance until someone deletes it on purpose.
    const left = await cloud.findDeployment('demo');
    expect(left.instance).toBeUndefined();
    expect(left.accessPolicies).toEqual([]);
    expect(left.sshKeys).toEqual([]);
    expect(left.addresses).toEqual([]);
    expect(left.disks.map((v) => v.id)).toEqual([dataDisk]);

    await cloud.waitForDiskAvailable(dataDisk, 5_000);
    await cloud.deleteDisk(dataDisk);
    expect((await cloud.findDeployment('demo')).disks).toEqual([]);
    expect(await rawAddresses()).toEqual([]);
  });

  it('treats deleting what is already gone as done', async () => {
    await expect(cloud.terminateInstance('i-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteAccessPolicy('sg-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteSshKey('never-existed')).resolves.toBeUndefined();
    await expect(cloud.releaseStaticAddress('eipalloc-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.detachStaticAddress('eipalloc-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.deleteDisk('vol-00000000deadbeef0')).resolves.toBeUndefined();
    await expect(cloud.waitForInstanceState('i-00000000deadbeef0', 'terminated', 1_000)).resolves.toBeUndefined();
  });

  it('deletes each thing twice without complaint', async () => {
    const d = await demoWithImage();
    const { instance, policy, address } = await launch(d);
    for (let round = 0; round < 2; round++) {
      await cloud.detachStaticAddress(address!.id);
      await cloud.releaseStaticAddress(address!.id);
      await cloud.terminateInstance(instance.id);
      await cloud.deleteAccessPolicy(policy.id);
      await cloud.deleteSshKey('sourcegraph-launch-demo');
    }
    expect(await rawGroups('demo')).toEqual([]);
    expect(await rawAddresses()).toEqual([]);
  });

  it('times out waiting for a volume that stays attached', async () => {
    const d = await demoWithImage();
    const { instance } = await launch(d);
    const dataDisk = instance.disks.find((disk) => disk.role === 'data')!.diskId;
    await expect(cloud.waitForDiskAvailable(dataDisk, 50)).rejects.toMatchObject({ code: 'wait-timeout', stage: 'volume-available' });
  });
});

describe('dry run and permissions', () => {
  it('checkInstancePermissions passes when the dry run would succeed, and launches nothing', async () => {
    const d = await demoWithImage();
    const placement: Placement = await cloud.resolvePlacement(undefined);
    await cloud.ensureSshKey(d.sshKey, 'demo', deploymentLabels(d, 'key-pair'));
    const policy = await cloud.ensureAccessPolicy(accessSpec(d, placement));
    await cloud.checkInstancePermissions(instanceSpec(d, placement, [policy.id]));
    expect(await rawInstances('demo')).toEqual([]);
  });

  it('launchRequests plans the launch without calling AWS', async () => {
    const stopped = new AwsAdapter(createAwsClients({ region: REGION, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }), SCOPE);
    const requests = stopped.launchRequests(launchRequestsSpec());
    expect(requests.map((r) => r.operation)).toContain('RunInstances');
    expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations).toEqual([]);
  });
});
