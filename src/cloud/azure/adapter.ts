// The Azure adapter of the Cloud port: Azure Resource Manager over fetch (arm.ts), no SDK. Each
// verb lives in the module of its kind; this class only binds them to one context. Everything
// the tool creates lives in one resource group of the scope, tagged; deployments are found by tags
// across the subscription.
import { randomBytes } from 'node:crypto';
import { CloudError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type {
  AccessPolicySpec,
  AddressSpec,
  Capabilities,
  Cloud,
  DiskFromSnapshotSpec,
  Identity,
  ImageFromBuilderSpec,
  InstanceSpec,
  InstanceState,
  LaunchRequestsSpec,
  Quotas,
  Scope,
  SnapshotSchedule,
  SnapshotScheduleSpec,
  SnapshotSpec,
  SshKey,
  SshKeySpec,
  WorldPortPurpose,
} from '../port.js';
import { Arm } from './arm.js';
import type { AzureContext } from './context.js';
import { armEndpointFromEnvironment, credentialFromEnvironment, DEFAULT_ENDPOINT, type TokenCredential } from './credentials.js';
import { findDeployment, listDeployments } from './deployments.js';
import * as images from './images.js';
import * as instances from './instances.js';
import * as network from './network.js';
import * as worldPort from './world-port.js';
import * as requests from './request-builders.js';
import * as skus from './skus.js';
import * as storage from './storage.js';
import * as dns from './dns.js';
import { AzureGatewayHttps } from './gateway.js';

export const AZURE_CAPABILITIES: Capabilities = {
  permissionPreflight: false,
  diskInitializationRate: false,
  snapshotSchedules: false,
  consoleHostKeys: true,
  attachExistingDiskAtCreate: true,
  instanceHealthChecks: false,
};


export interface AzureAdapterOptions {
  credential: TokenCredential;
  /** The resource manager (another cloud's, or a test's emulator). */
  endpoint?: string;
  pollIntervalMs?: number;
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  publishedImages?: readonly { id: string; version: string }[];
  randomSuffix?: () => string;
  fetch?: typeof fetch;
  /** No subscription could be found: dry runs still build (with "<subscription>"), every call fails with this. */
  missingSubscription?: Error;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The claims of a JWT access token that name who it is for (unverified: only for display). */
function principalOf(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, string>;
    return claims.upn ?? claims.unique_name ?? claims.appid ?? claims.oid;
  } catch {
    return undefined;
  }
}

export class AzureAdapter implements Cloud {
  readonly scope: Scope;
  readonly capabilities = AZURE_CAPABILITIES;
  private readonly c: AzureContext;

  constructor(scope: Scope, opts: AzureAdapterOptions) {
    const subscriptionId = scope.params.subscription ?? '<subscription>';
    const resourceGroup = scope.params.resourceGroup;
    if (!resourceGroup) throw new CloudError('bad-scope', 'An Azure scope needs a resource group');
    if (!scope.params.subscription && !opts.missingSubscription) throw new CloudError('bad-scope', 'An Azure scope needs a subscription');
    const credential: TokenCredential = opts.missingSubscription ? { getToken: () => Promise.reject(opts.missingSubscription) } : opts.credential;
    this.scope = scope;
    const pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    const sleep = opts.sleep ?? defaultSleep;
    this.c = {
      arm: new Arm({ endpoint: opts.endpoint ?? DEFAULT_ENDPOINT, subscriptionId, credential, pollIntervalMs, maxAttempts: opts.maxAttempts ?? 4, sleep, ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
      subscriptionId,
      resourceGroup,
      location: scope.region,
      pollIntervalMs,
      sleep,
      now: opts.now ?? Date.now,
      publishedImages: opts.publishedImages ?? [],
      randomSuffix: opts.randomSuffix ?? (() => randomBytes(3).toString('hex')),
    };
  }

  // ---- tls --tls managed: an Application Gateway with the user's certificate (gateway.ts) ----
  private gateway?: AzureGatewayHttps;
  get gatewayHttps(): AzureGatewayHttps {
    return (this.gateway ??= new AzureGatewayHttps(this.c));
  }

  // ---- DNS records (Azure DNS) ----
  findDnsZone = (domain: string) => dns.findDnsZone(this.c, domain);
  getARecord = (zoneId: string, name: string) => dns.getARecord(this.c, zoneId, name);
  upsertARecord = (zoneId: string, name: string, ip: string, ttl: number) => dns.upsertARecord(this.c, zoneId, name, ip, ttl);
  deleteARecord = (zoneId: string, name: string, ip: string) => dns.deleteARecord(this.c, zoneId, name, ip);

  private readonly describeHolder: network.DescribeHolder = async (id) => {
    const { vm, nicId } = await instances.nicOf(this.c, id);
    if (!vm) return undefined;
    return { labels: (await instances.describeVm(this.c, vm)).labels, ...(nicId ? { nicId } : {}) };
  };

  /** The token is good and the subscription answers (a resource group list is the cheapest read). */
  async whoAmI(): Promise<Identity> {
    await this.c.arm.send('GET', `/subscriptions/${this.c.subscriptionId}/resourcegroups`, 'Microsoft.Resources resourceGroups.list', undefined, { query: { $top: '1' } });
    const { token } = await this.c.arm.credential.getToken(this.c.arm.scope);
    return { account: this.c.subscriptionId, principal: principalOf(token) ?? this.c.arm.credential.description ?? 'unknown' };
  }

  /** From the location's Resource SKUs (one call per run): the zones offering the size, minus restricted ones. */
  machineTypeZones = (machineType: string) => skus.machineTypeZones(this.c, machineType);
  diskTypeZones = (diskType: string) => skus.diskTypeZones(this.c, diskType);
  resolvePlacement = (subnetId: string | undefined, zones?: string[]) => network.resolvePlacement(this.c, subnetId, zones);

  findImage = (query: { version: string; size?: string }) => images.findImage(this.c, query);
  describeImage = (imageId: string) => images.describeImage(this.c, imageId);
  listBuiltImages = () => images.listBuiltImages(this.c);
  findBaseImage = () => images.findBaseImage(this.c);

  findDeployment = (name: string) => findDeployment(this.c, this.scope, name);
  listDeployments = () => listDeployments(this.c, this.scope);

  /** The key travels with the VM (osProfile); Azure keeps nothing by name for us. */
  async ensureSshKey(_spec: SshKeySpec, _deployment: string, _labels: Labels): Promise<SshKey | undefined> {
    return undefined;
  }
  async deleteSshKey(_name: string): Promise<void> {}

  ensureAccessPolicy = (spec: AccessPolicySpec) => network.ensureAccessPolicy(this.c, spec);
  deleteAccessPolicy = (id: string) => network.deleteAccessPolicy(this.c, id);
  ensureClusterAccess = (policyId: string) => network.ensureClusterAccess(this.c, policyId);
  openWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => worldPort.openWorldPort(this.c, policyId, port, purpose);
  closeWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => worldPort.closeWorldPort(this.c, policyId, port, purpose);
  clusterAccessRequests = (policyId: string) => requests.clusterAccessRequestList(network.where(this.c), policyId, {});
  ensureInstance = (spec: InstanceSpec) => instances.ensureInstance(this.c, spec);
  checkInstancePermissions = (_spec: InstanceSpec) => instances.checkInstancePermissions();
  ensureStaticAddress = (spec: AddressSpec) => network.ensureStaticAddress(this.c, spec);
  attachStaticAddress = (addressId: string, instanceId: string) => network.attachStaticAddress(this.c, addressId, instanceId, this.describeHolder);
  detachStaticAddress = (addressId: string) => network.detachStaticAddress(this.c, addressId);
  releaseStaticAddress = (addressId: string) => network.releaseStaticAddress(this.c, addressId);

  describeInstance = (instanceId: string) => instances.describeInstance(this.c, instanceId);
  instanceHealth = (_instanceId: string) => instances.instanceHealth();
  consoleOutput = (instanceId: string) => instances.consoleOutput(this.c, instanceId);
  startInstance = (instanceId: string) => instances.startInstance(this.c, instanceId);
  stopInstance = (instanceId: string) => instances.stopInstance(this.c, instanceId);
  terminateInstance = (instanceId: string) => instances.terminateInstance(this.c, instanceId);
  waitForInstanceState = (instanceId: string, state: InstanceState, timeoutMs: number) => instances.waitForInstanceState(this.c, instanceId, state, timeoutMs);
  readonly runCommandLimits = instances.RUN_COMMAND_LIMITS;
  runCommand = (instanceId: string, script: string, timeoutMs: number) => instances.runCommand(this.c, instanceId, script, timeoutMs);
  runCommandReady = (instanceId: string) => instances.runCommandReady(this.c, instanceId);

  describeDisk = (diskId: string) => storage.describeDisk(this.c, diskId);
  attachDataDisk = (diskId: string, instanceId: string, timeoutMs: number) => storage.attachDataDisk(this.c, diskId, instanceId, timeoutMs);
  detachDisk = (diskId: string, instanceId: string, timeoutMs: number) => storage.detachDisk(this.c, diskId, instanceId, timeoutMs);
  waitForDiskAvailable = (diskId: string, timeoutMs: number) => storage.waitForDiskAvailable(this.c, diskId, timeoutMs);
  deleteDisk = (diskId: string) => storage.deleteDisk(this.c, diskId);
  diskResizeState = (diskId: string, targetSizeGiB?: number) => storage.diskResizeState(this.c, diskId, targetSizeGiB);
  resizeDisk = (diskId: string, sizeGiB: number) => storage.resizeDisk(this.c, diskId, sizeGiB);
  resizeRequests = (diskId: string, sizeGiB: number) => storage.resizeRequests(diskId, sizeGiB);
  createDiskFromSnapshot = (spec: DiskFromSnapshotSpec) => storage.createDiskFromSnapshot(this.c, spec);
  diskInitialization = (_diskId: string) => storage.diskInitialization();
  createSnapshot = (spec: SnapshotSpec) => storage.createSnapshot(this.c, spec);
  waitForSnapshot = (snapshotId: string, timeoutMs: number) => storage.waitForSnapshot(this.c, snapshotId, timeoutMs);
  describeSnapshot = (snapshotId: string) => storage.describeSnapshot(this.c, snapshotId);
  listSnapshots = (deployment: string) => storage.listSnapshots(this.c, deployment);
  deleteSnapshot = (snapshotId: string) => storage.deleteSnapshot(this.c, snapshotId);

  setLabels = (resourceIds: string[], labels: Labels) => storage.setLabels(this.c, resourceIds, labels);
  removeLabels = (resourceIds: string[], keys: (keyof Labels)[]) => storage.removeLabels(this.c, resourceIds, keys);

  // Azure Backup for disks would be the cloud's own schedule; it is not offered yet (capabilities.snapshotSchedules).
  async findSnapshotSchedule(_deployment: string): Promise<SnapshotSchedule | undefined> {
    return undefined;
  }
  async ensureSnapshotSchedule(_spec: SnapshotScheduleSpec): Promise<SnapshotSchedule> {
    throw new CloudError('not-supported', 'Scheduled backups are not offered on Azure yet', { remediation: 'Run `backup` on demand (for example from cron) instead of --schedule.' });
  }
  async deleteSnapshotSchedule(_id: string): Promise<void> {}

  findImageBuild = (buildName: string) => images.findImageBuild(this.c, buildName);
  createImageFromBuilder = (builderId: string, spec: ImageFromBuilderSpec) => images.createImageFromBuilder(this.c, builderId, spec);
  waitForImage = (imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal) => images.waitForImage(this.c, imageId, spec, timeoutMs, signal);
  deleteImage = (imageId: string) => images.deleteImage(this.c, imageId);

  launchRequests = (spec: LaunchRequestsSpec) => requests.launchRequestList(network.where(this.c), spec);
  instanceRequests = (spec: InstanceSpec) => requests.instanceRequestList(network.where(this.c), spec);
  scheduleRequests = (spec: SnapshotScheduleSpec) => requests.scheduleRequestList(spec);
  buildRequests = (spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }) => requests.buildRequestList(network.where(this.c), spec);

  /**
   * The location's usages: Compute's regional vCPUs ("cores") and the VM family's own quota (which
   * an instance must fit both of), Network's public IP addresses.
   */
  async quotas(machineType?: string): Promise<Quotas> {
    type Usage = { name?: { value?: string }; currentValue?: number; limit?: number };
    const base = `/subscriptions/${this.c.subscriptionId}/providers`;
    const [compute, network] = await Promise.all([
      this.c.arm.get(`${base}/Microsoft.Compute/locations/${this.c.location}/usages`, 'Microsoft.Compute usage.list'),
      this.c.arm.get(`${base}/Microsoft.Network/locations/${this.c.location}/usages`, 'Microsoft.Network usages.list'),
    ]);
    const figure = (answer: { value?: Usage[] } | undefined, name: string) => {
      const u = answer?.value?.find((x) => x.name?.value?.toLowerCase() === name.toLowerCase());
      return u && typeof u.limit === 'number' ? { limit: u.limit, used: u.currentValue ?? 0 } : undefined;
    };
    // Standard_D8as_v5 counts against "standardDASv5Family".
    const m = machineType ? /^Standard_([A-Z]+)\d+([a-z]*)_(v\d+)$/.exec(machineType) : null;
    const family = m ? figure(compute, `standard${m[1]}${m[2]!.toUpperCase()}${m[3]}Family`) : undefined;
    const vcpus = [figure(compute, 'cores'), family].filter((f) => f !== undefined).sort((a, b) => a.limit - a.used - (b.limit - b.used))[0];
    const staticAddresses = figure(network, 'PublicIPAddresses');
    return {
      ...(vcpus ? { vcpus } : {}),
      ...(staticAddresses ? { staticAddresses } : {}),
      unknown: {
        ...(vcpus ? {} : { vcpus: `Microsoft.Compute usages listed no cores for ${this.c.location}` }),
        ...(staticAddresses ? {} : { staticAddresses: `Microsoft.Network usages listed no PublicIPAddresses for ${this.c.location}` }),
      },
    };
  }
}

/**
 * The adapter for a scope with the environment's credential (a service principal, else the Azure CLI
 * login) and resource manager (AZURE_RESOURCE_MANAGER_ENDPOINT, else Azure's public cloud).
 */
export function createAzureAdapter(scope: Scope, opts: { env: NodeJS.ProcessEnv; pollIntervalMs?: number; endpoint?: string; missingSubscription?: Error }): AzureAdapter {
  return new AzureAdapter(scope, {
    credential: credentialFromEnvironment(opts.env),
    ...(opts.missingSubscription ? { missingSubscription: opts.missingSubscription } : {}),
    endpoint: opts.endpoint ?? armEndpointFromEnvironment(opts.env),
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
  });
}
