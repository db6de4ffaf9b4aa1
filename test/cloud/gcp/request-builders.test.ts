// The Compute request bodies the GCE adapter sends (and --dry-run prints): built from the port's
// specs, pure, named as Compute names its methods. The emulator validates the same bodies against
// the schema in the contract suite; these tests pin what the launcher promises in them.
import { describe, expect, it } from 'vitest';
import { fromEncodedLabels } from '../../../src/core/labels.js';
import type { InstanceSpec } from '../../../src/cloud/port.js';
import {
  addressName,
  buildRequests,
  firewallBodies,
  instanceBody,
  instanceName,
  launchRequests,
  policyTag,
  scheduleRequests,
} from '../../../src/cloud/gcp/request-builders.js';
import { DATA_DEVICE, requestIdFor, resourceName } from '../../../src/cloud/gcp/mappers.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOn6pmTqLQYUjfAKhO4mXWMvMHmTLMdgd3rS0wvKgPZc test@host';

function spec(over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    deployment: 'prod',
    role: 'instance',
    version: '6.12.5040',
    size: 'XS',
    imageId: 'projects/p/global/images/sourcegraph-6-12-5040',
    machineType: 'n2-standard-8',
    placement: { zone: 'us-central1-b' },
    accessPolicyIds: ['sourcegraph-launch-prod'],
    sshKey: { mode: 'import', name: 'sourcegraph-launch-prod', publicKey: KEY },
    loginUser: 'sourcegraph',
    rootDisk: { type: 'pd-ssd', sizeGiB: 50 },
    dataDisk: { mode: 'new', disk: { type: 'pd-ssd', sizeGiB: 500 } },
    keepDataDisk: true,
    labels: { deployment: 'prod', role: 'instance', version: '6.12.5040', managed: 'true' },
    idempotencyKey: 'sgl-prod-launch-instance-j1',
    ...over,
  };
}

const meta = (body: Record<string, unknown>) =>
  Object.fromEntries(((body.metadata as { items: { key: string; value: string }[] }).items).map((i) => [i.key, i.value]));

describe('instances.insert body', () => {
  it('is a Shielded VM with a 50 GB pd-ssd boot disk deleted with it and a kept data disk under the fixed device name', () => {
    const body = instanceBody(spec(), { project: 'p' });
    expect(body.shieldedInstanceConfig).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    const [boot, data] = body.disks as Record<string, any>[];
    expect(boot).toMatchObject({ boot: true, autoDelete: true, initializeParams: { sourceImage: spec().imageId, diskSizeGb: '50', diskType: 'zones/us-central1-b/diskTypes/pd-ssd' } });
    expect(data).toMatchObject({ boot: false, autoDelete: false, deviceName: DATA_DEVICE, initializeParams: { diskSizeGb: '500', diskType: 'zones/us-central1-b/diskTypes/pd-ssd' } });
    expect(fromEncodedLabels(data!.initializeParams.labels).labels).toMatchObject({ deployment: 'prod', role: 'data-volume' });
    expect(body.machineType).toBe('zones/us-central1-b/machineTypes/n2-standard-8');
    expect(body.tags).toEqual({ items: ['sourcegraph-launch-prod'] });
  });

  it('puts the key in instance metadata for the login user, blocks project-wide keys and keeps host keys and serial output readable', () => {
    const m = meta(instanceBody(spec(), { project: 'p' }));
    expect(m['ssh-keys']).toBe(`sourcegraph:${KEY}`);
    expect(m['block-project-ssh-keys']).toBe('TRUE');
    expect(m['enable-guest-attributes']).toBe('TRUE');
    expect(m['serial-port-logging-enable']).toBe('TRUE');
    expect(m['sourcegraph-launch-idempotency-key']).toBe('sgl-prod-launch-instance-j1');
  });

  it('sends base64 user data with its encoding for cloud-init, and no ssh-keys when the key is none', () => {
    const m = meta(instanceBody(spec({ userDataBase64: 'I2Nsb3VkLWNvbmZpZw==', sshKey: { mode: 'none' } }), { project: 'p' }));
    expect(m['user-data']).toBe('I2Nsb3VkLWNvbmZpZw==');
    expect(m['user-data-encoding']).toBe('base64');
    expect(m['ssh-keys']).toBeUndefined();
  });

  it('makes the data disk from the snapshot, the image\'s data template, or attaches an existing disk; none leaves it out', () => {
    const disk = { type: 'pd-ssd', sizeGiB: 600 };
    const fromSnap = (instanceBody(spec({ dataDisk: { mode: 'snapshot', snapshotId: 'global/snapshots/s1', disk } }), { project: 'p' }).disks as any[])[1];
    expect(fromSnap.initializeParams).toMatchObject({ sourceSnapshot: 'global/snapshots/s1', diskSizeGb: '600' });
    const fromTemplate = (instanceBody(spec({ dataTemplateId: 'global/snapshots/tpl' }), { project: 'p' }).disks as any[])[1];
    expect(fromTemplate.initializeParams.sourceSnapshot).toBe('global/snapshots/tpl');
    const existing = (instanceBody(spec({ dataDisk: { mode: 'existing', diskId: 'zones/us-central1-b/disks/d1' } }), { project: 'p' }).disks as any[])[1];
    expect(existing).toEqual({ boot: false, autoDelete: false, deviceName: DATA_DEVICE, source: 'zones/us-central1-b/disks/d1' });
    expect((instanceBody(spec({ dataDisk: { mode: 'none' } }), { project: 'p' }).disks as any[]).length).toBe(1);
    const builder = (instanceBody(spec({ role: 'builder', keepDataDisk: false }), { project: 'p' }).disks as any[])[1];
    expect(builder.autoDelete).toBe(true);
  });

  it('a subnetwork without a network (a scale agent, from the server\'s subnetwork) leaves the network to it; no placement means the default network', () => {
    const nic = (over: Partial<InstanceSpec>) => (instanceBody(spec(over), { project: 'p' }).networkInterfaces as Record<string, unknown>[])[0]!;
    expect(nic({ placement: { zone: 'us-central1-b', subnetId: 'regions/us-central1/subnetworks/apps' } })).toMatchObject({ subnetwork: 'regions/us-central1/subnetworks/apps' });
    expect(nic({ placement: { zone: 'us-central1-b', subnetId: 'regions/us-central1/subnetworks/apps' } }).network).toBeUndefined();
    expect(nic({ placement: { zone: 'us-central1-b', subnetId: 'regions/us-central1/subnetworks/apps', networkId: 'global/networks/vpc' } })).toMatchObject({ network: 'global/networks/vpc', subnetwork: 'regions/us-central1/subnetworks/apps' });
    expect(nic({}).network).toBe('global/networks/default');
  });

  it('names the instance from its idempotency key: stable, different per key, within 57 characters', () => {
    expect(instanceName(spec())).toBe(instanceName(spec()));
    expect(instanceName(spec())).not.toBe(instanceName(spec({ idempotencyKey: 'other' })));
    const long = instanceName(spec({ deployment: 'a'.repeat(80) }));
    expect(long.length).toBeLessThanOrEqual(57);
    expect(long).toMatch(/^[a-z](?:[-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('firewall rules', () => {
  it('one tcp rule per governed port with its sources, targeting the tag; never 6443', () => {
    const bodies = firewallBodies({
      deployment: 'prod',
      name: 'sourcegraph-launch-prod',
      labels: { deployment: 'prod' },
      placement: { zone: 'us-central1-b' },
      rules: [
        { port: 443, cidr: '203.0.113.0/24' },
        { port: 80, cidr: '203.0.113.0/24' },
        { port: 22, cidr: '198.51.100.7/32' },
        { port: 443, cidr: '198.51.100.0/24' },
        { port: 6443, cidr: '0.0.0.0/0' },
      ],
    });
    expect(bodies.map((b) => b.name)).toEqual(['sourcegraph-launch-prod-22', 'sourcegraph-launch-prod-80', 'sourcegraph-launch-prod-443']);
    expect(bodies[2]).toMatchObject({ direction: 'INGRESS', allowed: [{ IPProtocol: 'tcp', ports: ['443'] }], sourceRanges: ['198.51.100.0/24', '203.0.113.0/24'], targetTags: ['sourcegraph-launch-prod'] });
    expect(JSON.stringify(bodies)).not.toContain('6443');
  });

  it('a long policy name still makes valid tags and rule names', () => {
    const tag = policyTag(`sourcegraph-launch-${'x'.repeat(70)}`);
    expect(`${tag}-443`.length).toBeLessThanOrEqual(63);
  });
});

describe('dry runs', () => {
  it('launch: the firewall rules, the address, instances.insert, then the address moved onto it; service compute; JSON-safe', () => {
    const requests = launchRequests('p', 'us-central1', {
      sshKey: { mode: 'none' },
      access: { deployment: 'prod', name: 'sourcegraph-launch-prod', labels: { deployment: 'prod' }, placement: { zone: 'us-central1-b' }, rules: [{ port: 443, cidr: '203.0.113.0/24' }] },
      instance: spec(),
      address: { mode: 'new', deployment: 'prod', labels: { deployment: 'prod' } },
    });
    expect(requests.map((r) => r.operation)).toEqual(['firewalls.insert', 'addresses.insert', 'instances.insert', 'instances.deleteAccessConfig', 'instances.addAccessConfig']);
    expect(new Set(requests.map((r) => r.service))).toEqual(new Set(['compute']));
    const insert = requests.find((r) => r.operation === 'instances.insert')!;
    expect(insert.input).toMatchObject({ project: 'p', zone: 'us-central1-b', requestId: requestIdFor('p', spec().idempotencyKey) });
    expect(JSON.parse(JSON.stringify(requests))).toEqual(requests);
    // The dry run's address name is stable (a real reservation gets a fresh one).
    expect(launchRequests('p', 'us-central1', { sshKey: { mode: 'none' }, access: { deployment: 'prod', name: 'n', labels: {}, placement: { zone: 'us-central1-b' }, rules: [] }, instance: spec(), address: { mode: 'new', deployment: 'prod', labels: {} } })[0]).toEqual(
      launchRequests('p', 'us-central1', { sshKey: { mode: 'none' }, access: { deployment: 'prod', name: 'n', labels: {}, placement: { zone: 'us-central1-b' }, rules: [] }, instance: spec(), address: { mode: 'new', deployment: 'prod', labels: {} } })[0],
    );
  });

  it('schedule and build requests name their Compute methods', () => {
    expect(scheduleRequests('p', 'us-central1', { deployment: 'prod', schedule: 'daily', retain: 7, params: {} }).map((r) => r.operation)).toEqual(['resourcePolicies.insert', 'disks.addResourcePolicies']);
    const build = buildRequests('p', {
      sshKey: { mode: 'none' },
      access: { deployment: 'b', name: 'sourcegraph-launch-build-b', labels: { build: 'b' }, placement: { zone: 'us-central1-b' }, rules: [{ port: 22, cidr: '203.0.113.9/32' }] },
      builder: spec({ role: 'builder', keepDataDisk: false }),
      image: { buildName: 'b', runId: 'b-1', name: 'sourcegraph-6-13-0', description: 'x', labels: { build: 'b' } },
    });
    expect(build.map((r) => r.operation)).toEqual(['firewalls.insert', 'instances.insert', 'instances.stop', 'disks.createSnapshot', 'images.insert']);
  });
});

describe('names and request ids', () => {
  it('a requestId is a UUID, stable per project and key, never all zeros', () => {
    const id = requestIdFor('p', 'k');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdFor('p', 'k')).toBe(id);
    expect(requestIdFor('q', 'k')).not.toBe(id);
  });

  it('resource names follow RFC 1035 whatever the input', () => {
    for (const readable of ['Prod_Site', '9lives', '--x--', 'a'.repeat(100)]) expect(resourceName(readable, 'k')).toMatch(/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(addressName('prod', 'one')).not.toBe(addressName('prod', 'two'));
  });
});
