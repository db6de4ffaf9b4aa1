// The Cloud contract against the Azure adapter on the ARM emulator (test/support/arm-emulator): the
// same suite as the fake and AWS, with the adapter's real REST client pointed at the emulator the
// way a user points it at another cloud's resource manager, and a test credential (never the
// default chain, never Microsoft). What the emulator cannot do is declared, never skipped quietly.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { AZURE_CAPABILITIES, AzureAdapter } from '../../src/cloud/azure/adapter.js';
import type { TokenCredential } from '../../src/cloud/azure/credentials.js';
import { ArmClient } from '../support/arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator, type FaultSpec } from '../support/arm-emulator/index.js';
import { describeCloudContract, type ContractErrorKind } from './cloud-contract.js';

const LOCATION = 'eastus';
const GROUP = 'sl-contract';
const PUBLISHED_GROUP = 'sourcegraph-published';
const VERSION = '6.12.5040';

let arm: ArmEmulator | undefined;
let client: ArmClient;
beforeAll(async () => {
  // Run Command's stand-in for the VM: the contract's harmless script, run with bash here.
  arm = await startArmEmulator({
    runCommand: (_vm, script) =>
      new Promise((resolve) => execFile('bash', ['-c', script], (error, stdout, stderr) => resolve({ stdout, stderr, exitCode: typeof error?.code === 'number' ? error.code : 0 }))),
  });
  client = new ArmClient(arm);
});
afterAll(async () => {
  await arm?.stop();
});

/** Any token will do for the emulator; this one never leaves the test. */
export const testCredential: TokenCredential = {
  description: 'the contract test credential',
  getToken: async () => ({ token: 'contract-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** A gallery image version standing in for a published Sourcegraph image (none is published for Azure). */
async function publishImage(): Promise<string> {
  const rg = (rest = '') => client.path(PUBLISHED_GROUP, rest);
  await client.put(rg(), { location: LOCATION });
  const disk = await client.put(rg('/providers/Microsoft.Compute/disks/published-os'), {
    location: LOCATION,
    sku: { name: 'Premium_LRS' },
    properties: { creationData: { createOption: 'Empty' }, diskSizeGB: 30, osType: 'Linux', hyperVGeneration: 'V2' },
  });
  const gallery = rg('/providers/Microsoft.Compute/galleries/sourcegraph_published');
  await client.put(gallery, { location: LOCATION, properties: {} });
  await client.put(`${gallery}/images/sourcegraph`, {
    location: LOCATION,
    properties: {
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      features: [{ name: 'SecurityType', value: 'TrustedLaunchSupported' }],
      identifier: { publisher: 'sourcegraph', offer: 'sourcegraph', sku: 'machine-image' },
    },
  });
  const version = await client.put(`${gallery}/images/sourcegraph/versions/${VERSION}`, {
    location: LOCATION,
    properties: { storageProfile: { osDiskImage: { source: { id: disk.body.id } } } },
  });
  return version.body.id as string;
}

const many = 10_000;
const FAULTS: Record<ContractErrorKind, FaultSpec> = {
  'insufficient-capacity': { operationId: 'VirtualMachines_CreateOrUpdate', mode: 'lro', code: 'ZonalAllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.', count: many },
  'vcpu-limit': {
    operationId: 'VirtualMachines_CreateOrUpdate',
    status: 409,
    code: 'OperationNotAllowed',
    message: 'Operation could not be completed as it results in exceeding approved standardDASv5Family Cores quota. Current Limit: 10, Current Usage: 8, Additional Required: 8.',
    count: many,
  },
  'instance-type-unavailable': { operationId: 'VirtualMachines_CreateOrUpdate', status: 409, code: 'SkuNotAvailable', message: "The requested VM size 'Standard_D8as_v5' is currently not available in location 'eastus' zones '1'.", count: many },
  'quota-exceeded': { operationId: 'PublicIPAddresses_CreateOrUpdate', status: 400, code: 'PublicIPCountLimitReached', message: 'Cannot create more than 10 public IP addresses for this subscription in this region.', count: many },
  throttled: { operationId: 'Resources_List', status: 429, code: 'TooManyRequests', message: 'The request is being throttled.', retryAfterSeconds: 0, count: many },
  credentials: { operationId: 'ResourceGroups_List', status: 401, code: 'ExpiredAuthenticationToken', message: 'The access token expiry UTC time is earlier than current UTC time.', count: many },
  'permission-denied': {
    operationId: 'VirtualMachines_CreateOrUpdate',
    status: 403,
    code: 'AuthorizationFailed',
    message: "The client does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'.",
    count: many,
  },
};

let suffix = 0;
describeCloudContract('azure on the ARM emulator', {
  capabilities: AZURE_CAPABILITIES,
  keepsSshKeys: false,
  givesEphemeralPublicIp: false,
  quotaFigures: ['vcpus', 'staticAddresses'],
  zonalSubnets: false,
  diskTypeZones: true,
  notYet: {
    'managed-https': 'tls --tls managed (Application Gateway) is not built on Azure yet',
  },
  async setup() {
    await arm!.reset();
    const imageId = await publishImage();
    const cloud = new AzureAdapter(
      { provider: 'azure', region: LOCATION, params: { subscription: arm!.subscriptionId, resourceGroup: GROUP } },
      {
        credential: testCredential,
        endpoint: arm!.endpoint,
        pollIntervalMs: 1,
        maxAttempts: 2,
        publishedImages: [{ id: imageId, version: VERSION }],
        randomSuffix: () => (suffix++).toString(16).padStart(6, '0'),
      },
    );
    const missing = (rest: string) => client.path(GROUP, rest);
    let brought = 0;
    return {
      cloud,
      image: { id: imageId, version: VERSION },
      machineType: 'Standard_D8as_v5',
      zones: ['1', '2', '3'],
      rootDisk: { sizeGiB: 50, type: 'Premium_LRS' },
      dataDisk: { sizeGiB: 64, type: 'Premium_LRS' },
      loginUser: 'sourcegraph',
      scheduleParams: {},
      missing: {
        instanceId: missing('/providers/Microsoft.Compute/virtualMachines/no-such-vm'),
        diskId: missing('/providers/Microsoft.Compute/disks/no-such-disk'),
        snapshotId: missing('/providers/Microsoft.Compute/snapshots/no-such-snapshot'),
        imageId: missing('/providers/Microsoft.Compute/galleries/sourcegraph_launch/images/none/versions/0.0.9'),
        addressId: missing('/providers/Microsoft.Network/publicIPAddresses/no-such-ip'),
        accessPolicyId: missing('/providers/Microsoft.Network/networkSecurityGroups/no-such-nsg'),
        sshKeyName: 'no-such-key',
        scheduleId: 'no-such-schedule',
        subnetId: missing('/providers/Microsoft.Network/virtualNetworks/no-such-vnet/subnets/default'),
        machineType: 'Standard_Nope_v9',
        diskType: 'NoSuch_LRS',
      },
      launchTimeResolutionMs: 5,
      async bringAddress() {
        const rg = client.path('user-network');
        await client.put(rg, { location: LOCATION });
        const pip = await client.put(client.path('user-network', `/providers/Microsoft.Network/publicIPAddresses/mine-${brought++}`), {
          location: LOCATION,
          sku: { name: 'Standard', tier: 'Regional' },
          properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' },
        });
        return pip.body.id as string;
      },
      async bringDnsZone(name: string, o?: { private?: boolean }) {
        // The user's zone, in a resource group of its own.
        await client.put(client.path('user-dns'), { location: LOCATION });
        const zone = await client.put(`${client.path('user-dns', `/providers/Microsoft.Network/dnszones/${name}`)}?api-version=2018-05-01`, { location: 'global', properties: { zoneType: o?.private ? 'Private' : 'Public' } });
        if (zone.status >= 300) throw new Error(`dnsZones.createOrUpdate: ${JSON.stringify(zone.body)}`);
        return zone.body.id as string;
      },
      injectError: (_method, kind) => {
        arm!.control.injectFault(FAULTS[kind]);
      },
      clearErrors: () => {
        arm!.control.clearFaults();
      },
    };
  },
});
