// Everything the tool knows about Azure without talking to it: locations, the VM size and managed
// disks of each size (presets/azure.json), the words Azure uses, and the flags only Azure takes
// (--subscription, --resource-group, --public-ip). The adapter loads only through `connect`, and
// it needs no SDK: ARM's REST API over fetch with a small credential provider (credentials.ts).
import azurePresets from '../../../presets/azure.json' with { type: 'json' };
import { UsageError } from '../../core/errors.js';
import { monthlyCost, PRICE_DATE, PRICE_FILE, REFERENCE_REGION, storagePricing } from './prices.js';
import type { SizeName } from '../../core/presets.js';
import type { AddressChoice, ProviderDescriptor, SizeOnCloud } from '../provider.js';
import type { DiskSpec, Scope } from '../port.js';

/** Azure public-cloud locations with availability zones (late 2026). */
export const AZURE_REGIONS = [
  'eastus', 'eastus2', 'centralus', 'southcentralus', 'westus2', 'westus3', 'canadacentral', 'brazilsouth', 'mexicocentral',
  'northeurope', 'westeurope', 'uksouth', 'francecentral', 'germanywestcentral', 'swedencentral', 'switzerlandnorth', 'norwayeast',
  'polandcentral', 'italynorth', 'spaincentral', 'qatarcentral', 'uaenorth', 'israelcentral', 'southafricanorth',
  'australiaeast', 'southeastasia', 'eastasia', 'japaneast', 'koreacentral', 'centralindia', 'newzealandnorth',
] as const;

interface AzurePresetsFile {
  rootDisk: DiskSpec;
  sizes: Record<SizeName, SizeOnCloud>;
}
const presets = azurePresets as unknown as AzurePresetsFile;

/** Where what belongs to no deployment goes (image builds and their gallery). */
export const DEFAULT_RESOURCE_GROUP = 'sourcegraph-launch';

/** A deployment's resource group unless --resource-group names one: sourcegraph-<name>, created and tagged by the tool. */
export function defaultResourceGroup(deployment: string | undefined): string {
  return deployment ? `sourcegraph-${deployment}` : DEFAULT_RESOURCE_GROUP;
}

/** Linux admin user names a VM create refuses: OSProfile.adminUsername in computeRPCommon.json (2024-07-01). */
export const AZURE_REFUSED_ADMIN_USERS = [
  'administrator', 'admin', 'user', 'user1', 'test', 'user2', 'test1', 'user3', 'admin1', '1', '123', 'a', 'actuser', 'adm', 'admin2',
  'aspnet', 'backup', 'console', 'david', 'guest', 'john', 'owner', 'root', 'server', 'sql', 'support', 'support_388945a0', 'sys',
  'test2', 'test3', 'user4', 'user5',
] as const;

const SUB = '/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\\w._()]{1,90}/providers';
const ID = {
  subnet: new RegExp(`^${SUB}/Microsoft\\.Network/virtualNetworks/[-\\w.]{2,64}/subnets/[-\\w.]{1,80}$`, 'i'),
  pip: new RegExp(`^${SUB}/Microsoft\\.Network/publicIPAddresses/[-\\w.]{1,80}$`, 'i'),
  disk: new RegExp(`^${SUB}/Microsoft\\.Compute/disks/[-\\w.]{1,80}$`, 'i'),
  snapshot: new RegExp(`^${SUB}/Microsoft\\.Compute/snapshots/[-\\w.]{1,80}$`, 'i'),
  galleryVersion: new RegExp(`^${SUB}/Microsoft\\.Compute/galleries/[\\w.]{1,80}/images/[-\\w.]{1,80}/versions/\\d+\\.\\d+\\.\\d+$`, 'i'),
  platformImage: /^\/Subscriptions\/[0-9a-fA-F-]{36}\/Providers\/Microsoft\.Compute\/Locations\/[a-z0-9]+\/Publishers\/[^/]+\/ArtifactTypes\/VMImage\/Offers\/[^/]+\/Skus\/[^/]+\/Versions\/[^/]+$/i,
};

function byPattern(flag: string, re: RegExp, example: string) {
  return (value: string): string => {
    const v = value.trim();
    if (!re.test(v)) throw new UsageError(`${flag}: "${value}" is not valid. Expected something like ${example}`);
    return v;
  };
}

export function validatePublicIp(value: string): AddressChoice {
  const v = value.trim();
  if (v.toLowerCase() === 'new') return { mode: 'new' };
  if (v.toLowerCase() === 'none') return { mode: 'none' };
  if (ID.pip.test(v)) return { mode: 'existing', id: v };
  throw new UsageError(`--public-ip: "${value}" is not valid. Valid choices: new, none, or the id of a Standard static public IP (/subscriptions/…/publicIPAddresses/…)`);
}

const validateSubscription = byPattern('--subscription', /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, '00000000-0000-0000-0000-000000000000');
const validateResourceGroup = byPattern('--resource-group', /^[-\w._()]{0,89}[-\w_()]$/, 'sourcegraph-prod');

const KNOWN_SIZES = Object.values(presets.sizes).map((s) => s.machineType);

function describeDisk(d: DiskSpec): string {
  const perf = d.type === 'PremiumV2_LRS' || d.type === 'UltraSSD_LRS' ? `${d.iops ? ` ${d.iops} IOPS` : ''}${d.throughput ? ` ${d.throughput} MB/s` : ''}` : '';
  return `${d.sizeGiB} GiB ${d.type}${perf}`;
}


export const azureProvider: ProviderDescriptor = {
  id: 'azure',
  displayName: 'Azure',
  available: true,
  agentNodes: true,
  regions: AZURE_REGIONS,
  optInRegions: new Set(),
  regionVariables: ['AZURE_DEFAULTS_LOCATION'],
  regionFlagAliases: ['--location'],
  regionFromEnv(env) {
    return env.AZURE_DEFAULTS_LOCATION ? { region: env.AZURE_DEFAULTS_LOCATION, variable: 'AZURE_DEFAULTS_LOCATION' } : undefined;
  },
  // The subscription only when neither AZURE_SUBSCRIPTION_ID nor the Azure CLI names one; the
  // resource group is where everything goes, so it is shown with its default to confirm or change.
  async wizardScopeQuestions(given, env, deployment) {
    const questions: { key: string; message: string; default?: string }[] = [];
    if (!given.subscription) {
      const { defaultSubscription } = await import('./credentials.js');
      const found = await defaultSubscription(env).catch(() => undefined);
      if (!found) questions.push({ key: 'subscription', message: 'Azure subscription id (none is set in AZURE_SUBSCRIPTION_ID or the Azure CLI)' });
    }
    if (!given.resourceGroup) questions.push({ key: 'resourceGroup', message: 'Resource group (created and tagged if it does not exist)', default: defaultResourceGroup(deployment) });
    return questions;
  },
  scope(region, params, env, deployment): Scope {
    const subscription = params.subscription ?? env.AZURE_SUBSCRIPTION_ID;
    return { provider: 'azure', region, params: { ...(subscription ? { subscription } : {}), resourceGroup: params.resourceGroup ?? defaultResourceGroup(deployment) } };
  },
  sizes: presets.sizes,
  rootDisk: presets.rootDisk,
  builderDataDisk: { type: 'Premium_LRS', sizeGiB: 500 },
  dataDiskLimit: { maxGiB: 32767, name: 'Azure managed disk' },
  describeDisk,
  loginUser: 'sourcegraph',
  // The gallery image version holds only the OS disk; the prepared data disk is a snapshot beside it (images.ts).
  builtDataTemplatePlaceholder: '<data snapshot from build-image>',
  // Canonical's image (images.ts BASE_IMAGE) with version "latest", which ARM resolves when the VM is created.
  offlineBaseImage: { id: 'Canonical:ubuntu-24_04-lts:server:latest', name: 'Canonical:ubuntu-24_04-lts:server (latest at launch)' },
  refusedLoginUsers: { names: AZURE_REFUSED_ADMIN_USERS, source: "the adminUsername deny-list of Azure's compute API, computeRPCommon.json 2024-07-01" },
  rootVersionFile: '/home/sourcegraph/.sourcegraph-version',
  terms: {
    address: 'public IP',
    accessPolicy: 'network security group',
    sshKey: 'SSH key',
    defaultSubnet: `subnet "default" of the tool's virtual network (sourcegraph-launch-vnet)`,
    defaultEncryption: 'platform-managed key',
    baseImage: 'Ubuntu 24.04 LTS (Canonical)',
    snapshotSchedules: 'not offered on Azure yet',
    snapshotSchedule: 'snapshot schedule',
    permissionCheckPassed: 'Azure has no dry run of a VM create; the credentials were checked by reading the subscription.',
    permissionCheck: (imageId) => `Azure accepts the credentials (a read of the subscription; there is no dry run of a VM from ${imageId})`,
    tlsAdvice: 'Put TLS in front (Application Gateway or Front Door with a certificate) before sharing it; port 443 serves a self-signed certificate.',
    imageDiscovery: 'Compute Gallery',
    addressMoveStep: 'move-public-ip',
    machineType: 'VM size',
    disk: 'disk',
    rebootHint: (id) => `Azure: \`az vm restart --ids ${id}\``,
    stoppedNote: 'deallocated: no compute billing; disks and the public IP are still billed',
    dataDiskSlot: 'LUN 0',
    labelName: (key) => `sourcegraph-launch:${key} tag`,
  },
  flags: [
    { spec: '--subscription <id>', key: 'subscription', param: 'subscription', help: 'Azure subscription (default: AZURE_SUBSCRIPTION_ID or the Azure CLI default)', role: 'scope-param', commands: 'all', validate: validateSubscription },
    { spec: '--resource-group <name>', key: 'resourceGroup', param: 'resourceGroup', help: `resource group the tool creates things in (default: sourcegraph-<name>; image builds: ${DEFAULT_RESOURCE_GROUP})`, role: 'scope-param', commands: 'all', validate: validateResourceGroup },
    { spec: '--public-ip <new|none|id>', key: 'publicIp', help: 'address that survives upgrades (default: new)', role: 'address', commands: ['launch', 'build-image'], validate: validatePublicIp },
  ],
  validateMachineType: byPattern('--instance-type', /^Standard_[A-Za-z0-9_]+$/, 'Standard_D8as_v5'),
  knownMachineTypes: () => [...KNOWN_SIZES],
  alternativeMachineTypes: (machineType) => {
    const i = KNOWN_SIZES.indexOf(machineType);
    return i < 0 ? [] : KNOWN_SIZES.filter((t) => t !== machineType).sort((a, b) => Math.abs(KNOWN_SIZES.indexOf(a) - i) - Math.abs(KNOWN_SIZES.indexOf(b) - i));
  },
  validateImageId: (value) => {
    const v = value.trim();
    if (ID.galleryVersion.test(v) || ID.platformImage.test(v)) return v;
    throw new UsageError(`--image: "${value}" is not valid. Expected a Compute Gallery image version id (/subscriptions/…/galleries/…/images/…/versions/1.2.3)`);
  },
  imageIdExample: '/subscriptions/…/galleries/…/images/…/versions/…',
  validateSubnet: byPattern('--subnet', ID.subnet, '/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…'),
  validateDiskId: (value) => {
    const v = value.trim();
    if (ID.disk.test(v)) return v;
    throw new UsageError(`--data-volume: "${value}" is not valid. Valid choices: new, or the id of a kept data disk (/subscriptions/…/providers/Microsoft.Compute/disks/…)`);
  },
  diskIdExample: '/subscriptions/…/disks/…',
  validateSnapshotId: (value) => {
    const v = value.trim();
    if (ID.snapshot.test(v)) return v;
    throw new UsageError(`--snapshot: "${value}" is not a snapshot id (/subscriptions/…/providers/Microsoft.Compute/snapshots/…)`);
  },
  monthlyCost,
  priceFile: PRICE_FILE,
  priceDate: PRICE_DATE,
  referenceRegion: REFERENCE_REGION,
  storagePricing,
  planFlags: { address: '--public-ip', providerFlags: { '--subscription': 'subscription', '--resource-group': 'resourceGroup' } },
  minimalPolicy: async () => ({
    file: 'presets/policies/azure-custom-role.json',
    kind: 'custom role definition',
    attach: 'replace <subscription-id>, then az role definition create --role-definition role.json and az role assignment create --role sourcegraph-launch --assignee <who> --scope /subscriptions/<subscription-id>',
    document: (await import('../../../presets/policies/azure-custom-role.json', { with: { type: 'json' } })).default,
  }),
  async connect(scope, opts) {
    const [{ createAzureAdapter }, { defaultSubscription }] = await Promise.all([import('./adapter.js'), import('./credentials.js')]);
    // Without a subscription the adapter still builds dry-run requests (with "<subscription>" in
    // their ids); every call to Azure then fails with this error (exit 3, naming the fixes).
    let missing: Error | undefined;
    const subscription = scope.params.subscription ?? (await defaultSubscription(opts.env).catch((e: Error) => ((missing = e), undefined)));
    return createAzureAdapter({ ...scope, params: { ...scope.params, ...(subscription ? { subscription } : {}) } }, {
      env: opts.env,
      ...(missing ? { missingSubscription: missing } : {}),
      ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    });
  },
};
