// Compute resources in the port's words: ids as project-relative paths, states, disks by role,
// labels decoded (ours apart from the user's), firewall rules grouped into one access policy.
import { describe, expect, it } from 'vitest';
import { toEncodedLabels } from '../../../src/core/labels.js';
import { firewallDescription, idFromLink, instanceState, sshPublicKeyOf, toAccessPolicy, toAddress, toDisk, toImage, toInstance, toSnapshot } from '../../../src/cloud/gcp/mappers.js';

const base = 'https://www.googleapis.com/compute/v1/projects/p';

describe('GCE mappers', () => {
  it('maps an instance: id, state, disks by role, public IP, labels and the user\'s labels apart', () => {
    const i = toInstance(
      {
        name: 'prod-vm-1a2b3c4d',
        zone: `${base}/zones/us-central1-b`,
        status: 'RUNNING',
        machineType: `${base}/zones/us-central1-b/machineTypes/n2-standard-8`,
        creationTimestamp: '2026-02-19T04:00:00.123-08:00',
        networkInterfaces: [{ networkIP: '10.128.0.2', accessConfigs: [{ natIP: '203.0.113.5' }] }],
        disks: [
          { boot: true, autoDelete: true, deviceName: 'root', source: `${base}/zones/us-central1-b/disks/r` },
          { autoDelete: false, deviceName: 'sourcegraph-data', source: `${base}/zones/us-central1-b/disks/d` },
          { autoDelete: false, deviceName: 'scratch', source: `${base}/zones/us-central1-b/disks/x` },
        ],
        tags: { items: ['sourcegraph-launch-prod'] },
        labels: { ...toEncodedLabels({ deployment: 'prod', version: '6.12.5040' }), team: 'search' },
        metadata: { items: [{ key: 'sourcegraph-launch-idempotency-key', value: 'k1' }, { key: 'sourcegraph-launch-image', value: 'projects/p/global/images/i' }] },
      },
      'p',
    );
    expect(i).toMatchObject({
      id: 'zones/us-central1-b/instances/prod-vm-1a2b3c4d',
      state: 'running',
      machineType: 'n2-standard-8',
      imageId: 'projects/p/global/images/i',
      zone: 'us-central1-b',
      publicIp: '203.0.113.5',
      privateIp: '10.128.0.2',
      launchTime: '2026-02-19T12:00:00.123Z',
      accessPolicyIds: ['sourcegraph-launch-prod'],
      labels: { deployment: 'prod', version: '6.12.5040' },
      foreignLabels: { team: 'search' },
      idempotencyKey: 'k1',
    });
    expect(i.disks.map((d) => [d.role, d.diskId, d.deleteWithInstance])).toEqual([
      ['root', 'zones/us-central1-b/disks/r', true],
      ['data', 'zones/us-central1-b/disks/d', false],
      ['other', 'zones/us-central1-b/disks/x', false],
    ]);
  });

  it('reads the SSH public key from ssh-keys metadata (what a scale agent gets on GCE)', () => {
    expect(sshPublicKeyOf('root:ssh-ed25519 AAAAC3Nz me@host\n')).toBe('ssh-ed25519 AAAAC3Nz me@host');
    expect(sshPublicKeyOf('\nsourcegraph:ssh-rsa AAAAB3 x\nother:ssh-ed25519 B')).toBe('ssh-rsa AAAAB3 x');
    expect(sshPublicKeyOf('')).toBeUndefined();
    expect(sshPublicKeyOf(undefined)).toBeUndefined();
    const vm = (items: { key: string; value: string }[]) => toInstance({ name: 'v', zone: 'zones/us-central1-b', metadata: { items } }, 'p');
    expect(vm([{ key: 'ssh-keys', value: 'root:ssh-ed25519 AAAA k' }]).sshPublicKey).toBe('ssh-ed25519 AAAA k');
    expect(vm([]).sshPublicKey).toBeUndefined();
  });

  it('maps Compute states to the port\'s', () => {
    expect(['PROVISIONING', 'STAGING', 'RUNNING', 'STOPPING', 'TERMINATED', 'SUSPENDED'].map(instanceState)).toEqual(['pending', 'pending', 'running', 'stopping', 'stopped', 'stopped']);
  });

  it('maps disks, snapshots and addresses, with what holds them', () => {
    expect(toDisk({ name: 'd', zone: `${base}/zones/us-central1-a`, status: 'READY', sizeGb: '500', type: `${base}/zones/us-central1-a/diskTypes/pd-ssd`, users: [`${base}/zones/us-central1-a/instances/vm`], sourceSnapshot: `${base}/global/snapshots/s` }, 'p')).toMatchObject({
      id: 'zones/us-central1-a/disks/d', state: 'in-use', sizeGiB: 500, type: 'pd-ssd', attachedTo: 'zones/us-central1-a/instances/vm', sourceSnapshotId: 'global/snapshots/s',
    });
    expect(toSnapshot({ name: 's', status: 'UPLOADING', diskSizeGb: '500', sourceDisk: `${base}/zones/us-central1-a/disks/d` }, 'p')).toMatchObject({ id: 'global/snapshots/s', state: 'pending', diskId: 'zones/us-central1-a/disks/d' });
    const brought = toAddress({ name: 'a', region: `${base}/regions/us-central1`, address: '198.51.100.4', labels: toEncodedLabels({ deployment: 'prod', owner: 'user' }) }, 'p');
    expect(brought).toMatchObject({ id: 'regions/us-central1/addresses/a', ip: '198.51.100.4', managed: false });
    expect(toAddress({ name: 'a', region: `${base}/regions/us-central1`, address: '1.2.3.4', labels: toEncodedLabels({ managed: 'true' }) }, 'p').managed).toBe(true);
  });

  it('says which images we built (with their data template), which are published, and which are neither', () => {
    const built = toImage({ name: 'i', selfLink: `${base}/global/images/i`, status: 'READY', description: 'x data-template=global/snapshots/t', labels: toEncodedLabels({ build: 'b', version: '6.13.0' }) }, 'p', 'sourcegraph-amis');
    expect(built).toMatchObject({ id: 'projects/p/global/images/i', source: 'built', version: '6.13.0', state: 'available', dataTemplateId: 'global/snapshots/t' });
    expect(toImage({ name: 'j', selfLink: 'https://x/compute/v1/projects/sourcegraph-amis/global/images/j' }, 'p', 'sourcegraph-amis').source).toBe('published');
    expect(toImage({ name: 'k', selfLink: `${base}/global/images/k` }, 'p', 'sourcegraph-amis').source).toBe('flag');
  });

  it('groups one tag\'s firewall rules into one policy, labels from the descriptions', () => {
    const policy = toAccessPolicy('tag', [
      { name: 'tag-443', description: firewallDescription('sourcegraph-launch-prod', 443, { deployment: 'prod' }), allowed: [{ IPProtocol: 'tcp', ports: ['443'] }], sourceRanges: ['203.0.113.0/24', '198.51.100.0/24'] },
      { name: 'tag-22', description: firewallDescription('sourcegraph-launch-prod', 22, { deployment: 'prod' }), allowed: [{ IPProtocol: 'tcp', ports: ['22'] }], sourceRanges: ['198.51.100.7/32'] },
      { name: 'tag-udp', allowed: [{ IPProtocol: 'udp', ports: ['53'] }], sourceRanges: ['0.0.0.0/0'] },
    ]);
    expect(policy).toMatchObject({ id: 'tag', name: 'sourcegraph-launch-prod', labels: { deployment: 'prod' } });
    expect(policy.rules.map((r) => `${r.port} ${r.cidr}`).sort()).toEqual(['22 198.51.100.7/32', '443 198.51.100.0/24', '443 203.0.113.0/24']);
  });

  it('keeps another project in an id, drops our own', () => {
    expect(idFromLink(`${base}/zones/z/disks/d`, 'p')).toBe('zones/z/disks/d');
    expect(idFromLink('https://www.googleapis.com/compute/v1/projects/q/zones/z/disks/d', 'p')).toBe('projects/q/zones/z/disks/d');
    expect(idFromLink(`${base}/global/images/i`, 'p')).toBe('projects/p/global/images/i');
  });
});
