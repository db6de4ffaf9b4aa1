// The Cloud contract against the GCE adapter on the GCE emulator (test/support/gce-emulator): the
// same suite the fake and AWS run, with the adapter's real REST calls, real request bodies (the
// emulator validates each against the Compute v1 schema) and real Application Default Credentials
// (a service account key made here, whose token endpoint is the emulator's). Nothing reaches
// Google: METADATA_SERVER_DETECTION=none and the endpoint override point everything at loopback.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { GCP_CAPABILITIES, GcpAdapter } from '../../src/cloud/gcp/adapter.js';
import { encodeLabelValue } from '../../src/core/labels.js';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type FaultError, type GceEmulator } from '../support/gce-emulator/index.js';
import { describeCloudContract, type CloudMethod, type ContractErrorKind } from './cloud-contract.js';

const REGION = 'us-central1';
const IMAGE_VERSION = '6.12.5040';
const IMAGE_NAME = 'sourcegraph-6-12-5040';

let gce: GceEmulator | undefined;
let dir: string;
let env: NodeJS.ProcessEnv;
let n = 0;

beforeAll(async () => {
  gce = await startGceEmulator();
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-contract-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'key.json');
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      project_id: gce.project,
      client_email: `contract@${gce.project}.iam.gserviceaccount.com`,
      private_key_id: 'contract',
      private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      token_uri: `${gce.endpoint}/token`,
    }),
  );
  env = {
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    METADATA_SERVER_DETECTION: 'none',
    CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${gce.endpoint}/compute/v1/`,
  };
});
afterAll(async () => {
  await gce?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** How each error kind is provoked: the failure Compute answers for it, on the method the port's verb calls. */
const FAULTS: Record<ContractErrorKind, { method: string; error: FaultError }> = {
  'insufficient-capacity': { method: 'instances.insert', error: { kind: 'zoneResourcePoolExhausted' } },
  'vcpu-limit': { method: 'instances.insert', error: { kind: 'quotaExceeded', metric: 'N2_CPUS', limit: 24 } },
  'instance-type-unavailable': {
    method: 'instances.insert',
    error: {
      kind: 'http',
      status: 400,
      reason: 'invalid',
      message: "Invalid value for field 'resource.machineType': 'zones/us-central1-a/machineTypes/n2-standard-8'. Machine type with name 'n2-standard-8' does not exist in zone 'us-central1-a'.",
    },
  },
  'quota-exceeded': { method: 'addresses.insert', error: { kind: 'quotaExceeded', metric: 'STATIC_ADDRESSES', limit: 8 } },
  throttled: { method: 'instances.list', error: { kind: 'rateLimitExceeded', retryAfterSeconds: 1 } },
  credentials: { method: 'projects.get', error: { kind: 'unauthenticated' } },
  'permission-denied': {
    method: 'instances.insert',
    error: { kind: 'http', status: 403, reason: 'forbidden', message: "Required 'compute.instances.create' permission for 'projects/sgl-test-project/zones/us-central1-a/instances/x'" },
  },
};

describeCloudContract('gcp on the GCE emulator', {
  capabilities: GCP_CAPABILITIES,
  keepsSshKeys: false,
  quotaFigures: ['vcpus', 'staticAddresses'],
  zonalSubnets: false,
  notYet: {
    'gateway-https': 'GCE\'s managed HTTPS issues the certificate itself (a Google-managed certificate), it takes none of the user\'s',
  },
  cannotEmulate: {
    'run-command':
      'Compute has no run-command API: the channel is our agent on the instance (provision/gce-run-agent.sh) reading metadata and writing guest attributes, run for real in test/cloud/gcp/run-command.test.ts and on a test host in test/e2e/gcp-run-command.e2e.test.ts',
  },
  async setup() {
    gce!.reset();
    const client = new GceTestClient(gce!.endpoint, gce!.project);
    // Sourcegraph's published image, as the adapter finds it in the project that holds them.
    await client.mutate('POST', 'global/images', {
      name: IMAGE_NAME,
      sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
      labels: { 'sourcegraph-launch-version': encodeLabelValue(IMAGE_VERSION) },
    });
    const clock = new VirtualClock();
    const cloud = new GcpAdapter(
      { provider: 'gcp', region: REGION, params: { project: gce!.project } },
      { env, pollIntervalMs: 10, publishedImageProject: gce!.project, sleep: (ms) => clock.sleep(ms), now: () => clock.now() },
    );
    return {
      cloud,
      image: { id: `projects/${gce!.project}/global/images/${IMAGE_NAME}`, version: IMAGE_VERSION },
      machineType: 'n2-standard-8',
      zones: ['us-central1-a', 'us-central1-b'],
      rootDisk: { sizeGiB: 50, type: 'pd-ssd' },
      dataDisk: { sizeGiB: 500, type: 'pd-ssd' },
      loginUser: 'sourcegraph',
      scheduleParams: {},
      missing: {
        instanceId: 'zones/us-central1-a/instances/no-such-instance',
        diskId: 'zones/us-central1-a/disks/no-such-disk',
        snapshotId: 'global/snapshots/no-such-snapshot',
        imageId: `projects/${gce!.project}/global/images/no-such-image`,
        addressId: `regions/${REGION}/addresses/no-such-address`,
        accessPolicyId: 'sourcegraph-launch-no-such-policy',
        sshKeyName: 'no-such-key',
        scheduleId: `regions/${REGION}/resourcePolicies/no-such-schedule`,
        subnetId: `regions/${REGION}/subnetworks/no-such-subnet`,
        machineType: 'n2-nope-1',
      },
      // Compute's creationTimestamp has milliseconds.
      launchTimeResolutionMs: 5,
      async bringAddress() {
        const name = `brought-${++n}`;
        await client.mutate('POST', `regions/${REGION}/addresses`, { name, networkTier: 'PREMIUM' });
        return `regions/${REGION}/addresses/${name}`;
      },
      async bringDnsZone(name: string, o?: { private?: boolean }) {
        const zoneName = `zone-${++n}`;
        const created = await client.call('POST', `/dns/v1/projects/${gce!.project}/managedZones`, { body: { name: zoneName, dnsName: `${name}.`, description: 'the user\'s', visibility: o?.private ? 'private' : 'public' } });
        if (created.status !== 200) throw new Error(`managedZones.create: ${JSON.stringify(created.body)}`);
        return zoneName;
      },
      injectError(_method: CloudMethod, kind: ContractErrorKind) {
        const { method, error } = FAULTS[kind];
        gce!.control.injectFault({ method, error, times: 1000 });
      },
      clearErrors() {
        gce!.control.clearFaults();
      },
    };
  },
});
