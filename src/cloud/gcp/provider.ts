// Everything the tool knows about Google Compute Engine without loading the adapter: regions, the
// machine type and disks of each size (presets/gcp.json), the words GCE uses, the project from the
// environment or gcloud's configuration, and the flags only GCE takes (--project, --zone,
// --address, --kms-key). The adapter loads only through `connect`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import gcpPresets from '../../../presets/gcp.json' with { type: 'json' };
import { UsageError } from '../../core/errors.js';
import type { SizeName } from '../../core/presets.js';
import type { AddressChoice, ProviderDescriptor, SizeOnCloud } from '../provider.js';
import type { DiskSpec, Scope } from '../port.js';
import { gcloudConfigDir } from './config-dir.js';
import { alternativeMachineTypes } from './errors.js';
import { monthlyCost, PRICE_DATE, PRICE_FILE, REFERENCE_REGION, storagePricing } from './prices.js';

/** Compute Engine regions (late 2026). */
export const GCP_REGIONS = [
  'us-central1', 'us-east1', 'us-east4', 'us-east5', 'us-south1', 'us-west1', 'us-west2', 'us-west3', 'us-west4',
  'northamerica-northeast1', 'northamerica-northeast2', 'northamerica-south1', 'southamerica-east1', 'southamerica-west1',
  'europe-central2', 'europe-north1', 'europe-north2', 'europe-southwest1', 'europe-west1', 'europe-west2', 'europe-west3',
  'europe-west4', 'europe-west6', 'europe-west8', 'europe-west9', 'europe-west10', 'europe-west12',
  'me-central1', 'me-central2', 'me-west1', 'africa-south1',
  'asia-east1', 'asia-east2', 'asia-northeast1', 'asia-northeast2', 'asia-northeast3', 'asia-south1', 'asia-south2',
  'asia-southeast1', 'asia-southeast2', 'australia-southeast1', 'australia-southeast2',
] as const;

interface GcpPresetsFile {
  rootDisk: DiskSpec;
  sizes: Record<SizeName, SizeOnCloud>;
}
const presets = gcpPresets as unknown as GcpPresetsFile;

export { PRICE_DATE, PRICE_FILE } from './prices.js';

function pattern(flag: string, re: RegExp, example: string) {
  return (value: string): string => {
    const v = value.trim();
    if (!re.test(v)) throw new UsageError(`${flag}: "${value}" is not valid. Expected something like ${example}`);
    return v;
  };
}

const NAME = '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?';
const PROJECT = '[a-z][-a-z0-9]{4,28}[a-z0-9]';

export function validateAddress(value: string): AddressChoice {
  const v = value.trim();
  if (v.toLowerCase() === 'new') return { mode: 'new' };
  if (v.toLowerCase() === 'none') return { mode: 'none' };
  const m = new RegExp(`^(?:projects/${PROJECT}/)?(regions/[a-z0-9-]+/addresses/${NAME})$`).exec(v);
  if (m) return { mode: 'existing', id: m[1]! };
  throw new UsageError(`--address: "${value}" is not valid. Valid choices: new, none, or a reserved address (regions/REGION/addresses/NAME)`);
}

const validateProject = pattern('--project', new RegExp(`^${PROJECT}$`), 'my-project-123');
const validateZone = pattern('--zone', /^[a-z]+-[a-z]+\d+-[a-z]$/, 'us-central1-a');
const validateKmsKey = pattern('--kms-key', /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, 'projects/P/locations/L/keyRings/R/cryptoKeys/K');

/** `[core] project = …` of gcloud's active configuration, if any. */
export function gcloudProject(env: NodeJS.ProcessEnv, read: (p: string) => string | undefined = readText): string | undefined {
  const dir = gcloudConfigDir(env);
  const active = env.CLOUDSDK_ACTIVE_CONFIG_NAME || read(join(dir, 'active_config'))?.trim() || 'default';
  const text = read(join(dir, 'configurations', `config_${active}`));
  if (!text) return undefined;
  let section = '';
  for (const line of text.split(/\r?\n/)) {
    const s = /^\s*\[([^\]]+)\]/.exec(line);
    if (s) section = s[1]!.trim();
    const kv = /^\s*project\s*=\s*(\S+)/.exec(line);
    if (section === 'core' && kv) return kv[1];
  }
  return undefined;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** The project a scope uses: --project, GOOGLE_CLOUD_PROJECT (or gcloud's variable), gcloud's configuration, the key file's. */
export function projectFrom(params: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv, read: (p: string) => string | undefined = readText): { project?: string; from?: string } {
  if (params.project) return { project: params.project, from: '--project' };
  for (const variable of ['GOOGLE_CLOUD_PROJECT', 'CLOUDSDK_CORE_PROJECT', 'GCLOUD_PROJECT']) if (env[variable]) return { project: env[variable], from: variable };
  const configured = gcloudProject(env, read);
  if (configured) return { project: configured, from: 'gcloud config' };
  const keyFile = env.GOOGLE_APPLICATION_CREDENTIALS && read(env.GOOGLE_APPLICATION_CREDENTIALS);
  if (keyFile) {
    try {
      const id = (JSON.parse(keyFile) as { project_id?: string }).project_id;
      if (id) return { project: id, from: 'GOOGLE_APPLICATION_CREDENTIALS' };
    } catch {
      // Not JSON: the adapter reports it when it reads the credentials.
    }
  }
  return {};
}

function describeDisk(d: DiskSpec): string {
  return `${d.sizeGiB} GB ${d.type}`;
}

export const gcpProvider: ProviderDescriptor = {
  id: 'gcp',
  displayName: 'Google Compute Engine',
  available: true,
  agentNodes: true,
  regions: GCP_REGIONS,
  optInRegions: new Set(),
  regionVariables: ['CLOUDSDK_COMPUTE_REGION'],
  regionFromEnv(env) {
    if (env.CLOUDSDK_COMPUTE_REGION) return { region: env.CLOUDSDK_COMPUTE_REGION, variable: 'CLOUDSDK_COMPUTE_REGION' };
    if (env.CLOUDSDK_COMPUTE_ZONE) return { region: env.CLOUDSDK_COMPUTE_ZONE.replace(/-[a-z]$/, ''), variable: 'CLOUDSDK_COMPUTE_ZONE' };
    return undefined;
  },
  // Only when nothing names a project: GOOGLE_CLOUD_PROJECT, gcloud's configuration and the key file come first.
  async wizardScopeQuestions(given, env) {
    return projectFrom(given, env).project ? [] : [{ key: 'project', message: 'Google Cloud project id (none is set in GOOGLE_CLOUD_PROJECT or the gcloud configuration)' }];
  },
  scope(region, params, env): Scope {
    const { project } = projectFrom(params, env);
    const zone = params.zone;
    if (zone && zone.replace(/-[a-z]$/, '') !== region) throw new UsageError(`--zone ${zone} is not in region ${region}`);
    return { provider: 'gcp', region, params: { ...(project ? { project } : {}), ...(zone ? { zone } : {}) } };
  },
  sizes: presets.sizes,
  rootDisk: presets.rootDisk,
  builderDataDisk: { type: 'pd-ssd', sizeGiB: 500 },
  dataDiskLimit: { maxGiB: 65536, name: 'Persistent Disk' },
  describeDisk,
  loginUser: 'sourcegraph',
  // Ubuntu's image family (images.ts BASE_IMAGE_PROJECT/FAMILY): instances.insert takes a family as
  // sourceImage and resolves it to the newest image when the VM is created, so a dry run needs no lookup.
  builtDataTemplatePlaceholder: '<data snapshot from build-image>',
  offlineBaseImage: { id: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64', name: 'Ubuntu 24.04 LTS (image family ubuntu-2404-lts-amd64, newest at launch)' },
  rootVersionFile: '/home/sourcegraph/.sourcegraph-version',
  terms: {
    address: 'static external IP address',
    accessPolicy: 'firewall rules',
    sshKey: 'SSH key in instance metadata',
    defaultSubnet: 'default network',
    defaultEncryption: 'Google-managed encryption key',
    baseImage: 'Ubuntu 24.04 LTS',
    snapshotSchedules: 'snapshot schedules',
    snapshotSchedule: 'snapshot schedule',
    permissionCheckPassed: 'Compute Engine has no dry run of a launch; the credentials are checked by the first call.',
    permissionCheck: (imageId) => `Compute Engine accepts the launch from ${imageId} (no dry run on GCE)`,
    tlsAdvice: 'Put TLS in front (an HTTPS load balancer with a Google-managed certificate) before sharing it; port 443 serves a self-signed certificate.',
    imageDiscovery: 'images.list',
    addressMoveStep: 'move-static-address',
    machineType: 'machine type',
    disk: 'disk',
    rebootHint: (id) => `GCE: \`gcloud compute instances reset ${id.split('/').pop()} --zone ${id.split('/')[1] ?? 'ZONE'}\``,
    stoppedNote: 'a stopped VM still costs its disks and its reserved address',
    snapshotScheduleNote: 'The schedule is a snapshot schedule resource policy on the data disk: daily at 04:00 UTC, each snapshot kept for the number of days given.',
    dataDiskSlot: 'its data disk (device name sourcegraph-data)',
    labelName: (key) => `sourcegraph-launch-${key} label`,
  },
  flags: [
    { spec: '--project <id>', key: 'project', param: 'project', help: 'Google Cloud project (default: GOOGLE_CLOUD_PROJECT or the gcloud configuration)', role: 'scope-param', commands: 'all', validate: validateProject },
    { spec: '--zone <zone>', key: 'zone', param: 'zone', help: 'zone of the region to use (default: the first that offers the machine type)', role: 'scope-param', commands: 'all', validate: validateZone },
    {
      spec: '--address <new|none|regions/R/addresses/NAME>',
      key: 'address',
      help: 'static external IP address that survives upgrades (default: new)',
      onCommand: { 'build-image': { spec: '--address <regions/R/addresses/NAME>', help: 'advanced: give the builder this address of yours (kept, never released)' } },
      role: 'address',
      commands: ['launch', 'build-image'],
      validate: validateAddress,
    },
    { spec: '--kms-key <key>', key: 'kmsKey', help: 'Cloud KMS key for disk encryption (default: Google-managed)', role: 'encryption-key', commands: ['launch', 'build-image'], validate: validateKmsKey },
  ],
  validateMachineType: pattern('--instance-type', /^[a-z][a-z0-9]*-[a-z0-9-]+$/, 'n2-standard-8'),
  knownMachineTypes: () => [...new Set(['n2', 'n2d'].flatMap((f) => [8, 16, 32, 48, 64, 80, 96].map((n) => `${f}-standard-${n}`)))].sort(),
  alternativeMachineTypes,
  validateImageId: (value) => {
    const v = value.trim();
    if (new RegExp(`^projects/${PROJECT}/global/images/${NAME}$`).test(v)) return v;
    throw new UsageError(`--image: "${value}" is not valid. Expected projects/PROJECT/global/images/IMAGE`);
  },
  imageIdExample: 'projects/PROJECT/global/images/IMAGE',
  validateSubnet: (value) => {
    const m = new RegExp(`^(?:projects/${PROJECT}/)?(regions/[a-z0-9-]+/subnetworks/${NAME})$`).exec(value.trim());
    if (m) return m[1]!;
    throw new UsageError(`--subnet: "${value}" is not valid. Expected regions/REGION/subnetworks/NAME`);
  },
  validateDiskId: (value) => {
    const m = new RegExp(`^(?:projects/${PROJECT}/)?(zones/[a-z0-9-]+/disks/${NAME})$`).exec(value.trim());
    if (m) return m[1]!;
    throw new UsageError(`--data-volume: "${value}" is not valid. Valid choices: new, or a kept data disk (zones/ZONE/disks/NAME)`);
  },
  diskIdExample: 'zones/ZONE/disks/NAME',
  validateSnapshotId: (value) => {
    const v = value.trim();
    const m = new RegExp(`^(?:(?:projects/${PROJECT}/)?global/snapshots/)?(${NAME})$`).exec(v);
    if (m) return `global/snapshots/${m[1]}`;
    throw new UsageError(`--snapshot: "${value}" is not a snapshot (global/snapshots/NAME)`);
  },
  monthlyCost,
  priceFile: PRICE_FILE,
  priceDate: PRICE_DATE,
  referenceRegion: REFERENCE_REGION,
  storagePricing,
  planFlags: { address: '--address', encryptionKey: '--kms-key', providerFlags: { '--project': 'project', '--zone': 'zone' } },
  minimalPolicy: async () => ({
    file: 'presets/policies/gcp-custom-role.json',
    kind: 'custom role',
    attach: 'gcloud iam roles create sourcegraphLaunch --project <project> --file role.json, then gcloud projects add-iam-policy-binding <project> --member <who> --role projects/<project>/roles/sourcegraphLaunch',
    document: (await import('../../../presets/policies/gcp-custom-role.json', { with: { type: 'json' } })).default,
  }),
  async connect(scope, opts) {
    const { createGcpAdapter } = await import('./adapter.js');
    return createGcpAdapter(scope, { env: opts.env, ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}) });
  },
};
