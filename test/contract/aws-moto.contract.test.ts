// The Cloud contract against the AWS adapter on moto (the EC2 API emulator): the same suite the fake
// runs, with the real SDK, real request shapes and moto's state. What moto cannot do is declared in
// the set-up (cannotInject / cannotEmulate) and reported as its own test, never skipped quietly.
import { afterAll, beforeAll } from 'vitest';
import { AWS_CAPABILITIES, AwsAdapter } from '../../src/cloud/aws/adapter.js';
import { createAwsClients } from '../../src/cloud/aws/sdk.js';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { describeCloudContract } from './cloud-contract.js';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { createRoute53Api } from '../../src/cloud/aws/route53-sdk.js';
import { createSsmApi } from '../../src/cloud/aws/ssm-sdk.js';
import { createAcmApi } from '../../src/cloud/aws/acm-sdk.js';
import { createLoadBalancerApis } from '../../src/cloud/aws/load-balancer-sdk.js';

let moto: MotoServer | undefined;
let ec2: EC2Client;
let n = 0;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0612504000000001', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});
// moto answers every call it knows; it has no switch for these failures (the mock tests in
// test/cloud/aws/adapter/ produce each one by its real AWS error code instead).
const why = 'moto cannot be made to fail this way';
describeCloudContract('aws on moto', {
  capabilities: AWS_CAPABILITIES,
  notYet: { 'gateway-https': 'AWS\'s load balancer gets a free ACM certificate (managedHttps): it needs none of the user\'s' },
  keepsSshKeys: true,
  quotaFigures: ['staticAddresses'],
  zonalSubnets: true,
  cannotInject: { 'insufficient-capacity': why, 'vcpu-limit': why, 'instance-type-unavailable': why, 'quota-exceeded': why, throttled: why, credentials: why, 'permission-denied': why },
  cannotEmulate: {
    'snapshot-schedules': 'moto 5.2.1 has no Data Lifecycle Manager',
    'address-move-clears-previous-ip': 'moto keeps showing a moved Elastic IP as the first instance\'s public address',
    'certificate-in-use': 'moto deletes an ACM certificate a listener still uses (ACM answers ResourceInUseException, which test/cloud/aws/adapter/managed-https.mock.test.ts plays)',
    'run-command': 'moto\'s SSM accepts SendCommand but runs nothing: the channel runs on a loopback Systems Manager stand-in (test/e2e/aws-run-command.e2e.test.ts) and a mocked client (test/cloud/aws/adapter/run-command.mock.test.ts)',
  },
  async setup() {
    await moto!.reset();
    const clock = new VirtualClock();
    const clients = { ...createAwsClients({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1 }), route53: createRoute53Api({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1 }), ssm: createSsmApi({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1, env: {} }), acm: createAcmApi({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1 }), loadBalancer: createLoadBalancerApis({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1 }) };
    const cloud = new AwsAdapter(clients, { provider: 'aws', region: 'us-east-1', params: {} }, {
      pollIntervalMs: 10, volumeTagWaitMs: 2_000, dependencyRetryMs: 1_000, sleep: (ms) => clock.sleep(ms), now: () => clock.now(),
    });
    return {
      cloud,
      image: { id: 'ami-0612504000000001', version: '6.12.5040' },
      machineType: 'm6a.2xlarge',
      zones: ['us-east-1a', 'us-east-1b'],
      rootDisk: { sizeGiB: 50, type: 'gp3' },
      dataDisk: { sizeGiB: 500, type: 'gp3' },
      loginUser: 'ec2-user',
      scheduleParams: {},
      missing: {
        instanceId: 'i-00000000deadbeef0', diskId: 'vol-00000000deadbeef0', snapshotId: 'snap-00000000deadbeef0', imageId: 'ami-00000000deadbeef0',
        addressId: 'eipalloc-00000000deadbeef0', accessPolicyId: 'sg-00000000deadbeef0', sshKeyName: 'no-such-key', scheduleId: 'policy-00000000deadbeef0',
        subnetId: 'subnet-00000000deadbeef0', machineType: 'nope.huge',
      },
      launchTimeResolutionMs: 1_100,
      bringAddress: async () => allocateTestAddress(ec2, `10.200.78.${(n++ % 200) + 1}`),
      async bringDnsZone(name: string, o?: { private?: boolean }) {
        // The user's hosted zone, made with the plain SDK (a private one needs a VPC).
        const r53 = new Route53Client({ region: 'us-east-1', endpoint: moto!.endpoint, maxAttempts: 1 });
        const out = await r53.send(new CreateHostedZoneCommand({
          Name: `${name}.`, CallerReference: `zone-${++n}`,
          ...(o?.private ? { HostedZoneConfig: { PrivateZone: true }, VPC: { VPCRegion: 'us-east-1', VPCId: 'vpc-12345678' } } : {}),
        }));
        r53.destroy();
        return out.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
      },
    };
  },
});
