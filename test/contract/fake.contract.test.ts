// The Cloud contract against the in-memory fake, as each cloud it imitates: "as AWS" (permission
// preflight, existing disks by stop → attach → start) and "as GCE" / "as Azure" (existing disks
// attached at creation, no preflight, keys that travel with the instance). One run also moves
// time by a virtual clock instead of by polls, so every wait is seen to really wait.
import { createFakeCloud, PROFILES, type FakeCloudOptions } from '../../src/cloud/fake/index.js';
import type { ProviderId } from '../../src/cloud/port.js';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { describeCloudContract } from './cloud-contract.js';

const PUBLISHED = { id: 'img-published', name: 'Sourcegraph v6.12.5040', version: '6.12.5040', kind: 'published' as const };

function fakeContract(label: string, profile: ProviderId, extra: () => Partial<FakeCloudOptions> = () => ({})): void {
  describeCloudContract(label, {
    capabilities: PROFILES[profile].capabilities,
    keepsSshKeys: PROFILES[profile].keepsSshKeys,
    zonalSubnets: true,
    notYet: {
      'run-command': 'the fake cloud has no agent to run scripts; the channel is held to the contract by the Azure emulator',
      // As the adapters: only Azure's balancer takes the user's certificate.
      ...(profile === 'azure' ? {} : { 'gateway-https': `the fake as ${profile} has no gateway with the user's certificate, as that cloud's adapter has none` }),
      ...(profile === 'azure' ? { 'managed-https': 'the fake as Azure has the gateway with the user\'s certificate instead, as the Azure adapter' } : {}),
    },
    diskTypeZones: true,
    async setup() {
      const fake = createFakeCloud({ profile, images: [PUBLISHED], ...extra() });
      const [a, b] = fake.world.opts.zones;
      return {
        cloud: fake,
        image: { id: PUBLISHED.id, version: PUBLISHED.version },
        machineType: 'standard-8',
        zones: [a!, b!],
        rootDisk: { sizeGiB: 50, type: 'ssd' },
        dataDisk: { sizeGiB: 500, type: 'ssd', iops: 3000, throughput: 125 },
        loginUser: 'sourcegraph',
        scheduleParams: {},
        missing: {
          instanceId: 'inst-999999',
          diskId: 'disk-999999',
          snapshotId: 'snap-999999',
          imageId: 'img-999999',
          addressId: 'addr-999999',
          accessPolicyId: 'policy-999999',
          sshKeyName: 'no-such-key',
          scheduleId: 'sched-999999',
          subnetId: 'subnet-999999',
          machineType: 'no-such-type',
        },
        bringAddress: async () => fake.addStaticAddress('192.0.2.77').id,
        bringDnsZone: async (name, o) => fake.dns.addZone(name, o),
        injectError: (method, kind) => fake.inject({ method, kind, times: Infinity }),
        clearErrors: () => fake.clearFaults(),
      };
    },
  });
}

fakeContract('fake as AWS', 'aws');
fakeContract('fake as GCE', 'gcp');
fakeContract('fake as Azure', 'azure');
fakeContract('fake as AWS, slow transitions on a virtual clock', 'aws', () => ({
  clock: new VirtualClock(),
  pollIntervalMs: 15_000,
  delays: {
    instanceStart: { ms: 2 * 60_000 },
    instanceStop: { ms: 60_000 },
    instanceTerminate: { ms: 60_000 },
    diskCreate: { ms: 30_000 },
    diskDetach: { ms: 20_000 },
    snapshot: { ms: 20 * 60_000 },
    image: { ms: 25 * 60_000 },
  },
}));
