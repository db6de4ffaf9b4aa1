// The GCE adapter of the Cloud port: Compute Engine v1 over plain REST (context.ts) with
// Application Default Credentials (auth.ts). No SDK: importing this module loads nothing more, and a
// dry run offline never asks for a token. Each verb lives in the module of its kind; this class
// only binds them to one context.
import { CloudError, CredentialsError, UsageError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type {
  AccessPolicySpec,
  AddressSpec,
  Capabilities,
  Cloud,
  DiskFromSnapshotSpec,
  ImageFromBuilderSpec,
  InstanceSpec,
  InstanceState,
  LaunchRequestsSpec,
  Quotas,
  Scope,
  SnapshotScheduleSpec,
  SnapshotSpec,
  SshKeySpec,
  WorldPortPurpose,
} from '../port.js';
import { findCredentials, noCredentialsError, TokenCache, type TokenSource } from './auth.js';
import { call, DEFAULT_COMPUTE_ENDPOINT, request, type GceContext, type Json } from './context.js';
import { findDeployment, listDeployments } from './deployments.js';
import { SIGN_IN_REMEDIATION } from './errors.js';
import * as images from './images.js';
import * as instances from './instances.js';
import * as network from './network.js';
import * as worldPort from './world-port.js';
import * as requests from './request-builders.js';
import * as runCommands from './run-command.js';
import * as schedules from './schedules.js';
import * as storage from './storage.js';
import * as dns from './dns.js';
import { GceManagedHttps } from './managed-https.js';

export const GCP_CAPABILITIES: Capabilities = {
  permissionPreflight: false,
  diskInitializationRate: false,
  snapshotSchedules: true,
  consoleHostKeys: true,
  attachExistingDiskAtCreate: true,
  instanceHealthChecks: false,
};

/** Where Sourcegraph kept its (rarely built) GCE images. */
export const SOURCEGRAPH_IMAGE_PROJECT = 'sourcegraph-amis';

export interface GcpAdapterOptions {
  env?: NodeJS.ProcessEnv;
  /** Compute's base URL (default: CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, else Google's). */
  endpoint?: string;
  /** Cloud DNS API root (default: CLOUDSDK_API_ENDPOINT_OVERRIDES_DNS, else /dns/v1/ beside an overridden Compute endpoint, else Google's). */
  dnsEndpoint?: string;
  /** The credentials (default: Application Default Credentials from env). */
  tokenSource?: TokenSource;
  fetch?: typeof fetch;
  pollIntervalMs?: number;
  maxRetries?: number;
  publishedImageProject?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class GcpAdapter implements Cloud {
  readonly scope: Scope;
  readonly capabilities = GCP_CAPABILITIES;
  private readonly c: GceContext;
  private readonly source: () => TokenSource;
  /** The same context with Cloud DNS's API root (see dns.ts). */
  private readonly dnsC: GceContext;

  constructor(scope: Scope, opts: GcpAdapterOptions = {}) {
    this.scope = scope;
    const env = opts.env ?? process.env;
    const fetcher = opts.fetch ?? globalThis.fetch;
    let cache: TokenCache | undefined;
    let source = opts.tokenSource;
    this.source = () => {
      if (!source) {
        const found = findCredentials(env);
        if (!found.source) throw noCredentialsError(found.none ?? 'none found');
        source = found.source;
      }
      return source;
    };
    const project = scope.params.project ?? '';
    this.c = {
      project,
      region: scope.region,
      ...(scope.params.zone ? { zone: scope.params.zone } : {}),
      endpoint: withSlash(opts.endpoint ?? env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE ?? DEFAULT_COMPUTE_ENDPOINT),
      fetch: fetcher,
      token: async () => {
        if (!project) {
          throw new UsageError('No Google Cloud project: pass --project, set GOOGLE_CLOUD_PROJECT, or set one with `gcloud config set project PROJECT_ID`', { code: 'missing-input' });
        }
        cache ??= new TokenCache(this.source(), fetcher);
        return cache.token();
      },
      pollIntervalMs: opts.pollIntervalMs ?? 5_000,
      maxRetries: opts.maxRetries ?? 4,
      publishedImageProject: opts.publishedImageProject ?? SOURCEGRAPH_IMAGE_PROJECT,
      sleep: opts.sleep ?? defaultSleep,
      now: opts.now ?? Date.now,
    };
    // Cloud DNS: its own override, else beside an overridden Compute endpoint (an emulator serves
    // both from one origin), else Google's.
    const computeOverridden = this.c.endpoint !== DEFAULT_COMPUTE_ENDPOINT;
    this.dnsC = { ...this.c, endpoint: withSlash(opts.dnsEndpoint ?? env.CLOUDSDK_API_ENDPOINT_OVERRIDES_DNS ?? (computeOverridden ? new URL('/dns/v1/', this.c.endpoint).toString() : dns.DEFAULT_DNS_ENDPOINT)) };
  }

  // ---- the run-command channel (our agent on the instance, through metadata and guest attributes; run-command.ts) ----
  readonly runCommandLimits = runCommands.GCE_RUN_COMMAND_LIMITS;
  runCommand = (instanceId: string, script: string, timeoutMs: number) => runCommands.runCommand(this.c, instanceId, script, timeoutMs);
  runCommandReady = (instanceId: string) => runCommands.runCommandReady(this.c, instanceId);

  // ---- DNS records (Cloud DNS) ----
  findDnsZone = (domain: string) => dns.findDnsZone(this.dnsC, domain);
  getARecord = (zoneId: string, name: string) => dns.getARecord(this.dnsC, zoneId, name);
  upsertARecord = (zoneId: string, name: string, ip: string, ttl: number) => dns.upsertARecord(this.dnsC, zoneId, name, ip, ttl);
  deleteARecord = (zoneId: string, name: string, ip: string) => dns.deleteARecord(this.dnsC, zoneId, name, ip);

  // ---- tls --tls managed: a Google-managed certificate and a global external Application Load Balancer (managed-https.ts) ----
  private managed?: GceManagedHttps;
  get managedHttps(): GceManagedHttps {
    return (this.managed ??= new GceManagedHttps(this.c, this.dnsC));
  }

  async whoAmI() {
    const project = await call(this.c, 'projects.get', () => request<Json>(this.c, 'GET', `projects/${this.c.project}`));
    const source = this.source();
    if (!project.name) throw new CredentialsError(`Project ${this.c.project} answered without a name`, { remediation: SIGN_IN_REMEDIATION });
    return { account: String(project.name), principal: source.principal ?? source.description };
  }

  machineTypeZones = (machineType: string) => network.machineTypeZones(this.c, machineType);
  resolvePlacement = (subnetId: string | undefined, zones?: string[]) => network.resolvePlacement(this.c, subnetId, zones);

  findImage = (query: { version: string; size?: string }) => images.findImage(this.c, query);
  describeImage = (imageId: string) => images.describeImage(this.c, imageId);
  listBuiltImages = () => images.listBuiltImages(this.c);
  findBaseImage = () => images.findBaseImage(this.c);

  findDeployment = (name: string) => findDeployment(this.c, this.scope, name);
  listDeployments = () => listDeployments(this.c, this.scope);

  /** The key travels with the instance (its ssh-keys metadata): nothing is kept by name. */
  ensureSshKey = async (_spec: SshKeySpec, _deployment: string, _labels: Labels) => undefined;
  deleteSshKey = async (_name: string) => undefined;
  ensureAccessPolicy = (spec: AccessPolicySpec) => network.ensureAccessPolicy(this.c, spec);
  deleteAccessPolicy = (id: string) => network.deleteAccessPolicy(this.c, id);
  ensureClusterAccess = (policyId: string) => network.ensureClusterAccess(this.c, policyId);
  openWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => worldPort.openWorldPort(this.c, policyId, port, purpose);
  closeWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => worldPort.closeWorldPort(this.c, policyId, port, purpose);
  ensureInstance = (spec: InstanceSpec) => instances.ensureInstance(this.c, spec);
  checkInstancePermissions = async (_spec: InstanceSpec): Promise<void> => {
    throw new CloudError('capability-unavailable', 'Compute Engine has no dry run of instances.insert: it cannot check launch permissions without launching');
  };
  ensureStaticAddress = (spec: AddressSpec) => network.ensureStaticAddress(this.c, spec);
  attachStaticAddress = (addressId: string, instanceId: string) => network.attachStaticAddress(this.c, addressId, instanceId);
  detachStaticAddress = (addressId: string) => network.detachStaticAddress(this.c, addressId);
  releaseStaticAddress = (addressId: string) => network.releaseStaticAddress(this.c, addressId);

  describeInstance = (instanceId: string) => instances.describeInstance(this.c, instanceId);
  instanceHealth = (_instanceId: string) => instances.instanceHealth();
  consoleOutput = (instanceId: string) => instances.consoleOutput(this.c, instanceId);
  startInstance = (instanceId: string) => instances.startInstance(this.c, instanceId);
  stopInstance = (instanceId: string) => instances.stopInstance(this.c, instanceId);
  terminateInstance = (instanceId: string) => instances.terminateInstance(this.c, instanceId);
  waitForInstanceState = (instanceId: string, state: InstanceState, timeoutMs: number) => instances.waitForInstanceState(this.c, instanceId, state, timeoutMs);

  describeDisk = (diskId: string) => storage.describeDisk(this.c, diskId);
  attachDataDisk = (diskId: string, instanceId: string, timeoutMs: number) => storage.attachDataDisk(this.c, diskId, instanceId, timeoutMs);
  detachDisk = (diskId: string, instanceId: string, timeoutMs: number) => storage.detachDisk(this.c, diskId, instanceId, timeoutMs);
  waitForDiskAvailable = (diskId: string, timeoutMs: number) => storage.waitForDiskAvailable(this.c, diskId, timeoutMs);
  deleteDisk = (diskId: string) => storage.deleteDisk(this.c, diskId);
  diskResizeState = (diskId: string) => storage.diskResizeState(this.c, diskId);
  resizeDisk = (diskId: string, sizeGiB: number) => storage.resizeDisk(this.c, diskId, sizeGiB);
  resizeRequests = (diskId: string, sizeGiB: number) => storage.resizeRequests(this.c.project || '<project>', diskId, sizeGiB);
  createDiskFromSnapshot = (spec: DiskFromSnapshotSpec) => storage.createDiskFromSnapshot(this.c, spec);
  diskInitialization = (_diskId: string) => storage.diskInitialization();
  createSnapshot = (spec: SnapshotSpec) => storage.createSnapshot(this.c, spec);
  waitForSnapshot = (snapshotId: string, timeoutMs: number) => storage.waitForSnapshot(this.c, snapshotId, timeoutMs);
  describeSnapshot = (snapshotId: string) => storage.describeSnapshot(this.c, snapshotId);
  listSnapshots = (deployment: string) => storage.listSnapshots(this.c, deployment);
  deleteSnapshot = (snapshotId: string) => storage.deleteSnapshot(this.c, snapshotId);

  setLabels = (resourceIds: string[], labels: Labels) => storage.setLabels(this.c, resourceIds, labels);
  removeLabels = (resourceIds: string[], keys: (keyof Labels)[]) => storage.removeLabels(this.c, resourceIds, keys);

  findSnapshotSchedule = (deployment: string) => schedules.findSnapshotSchedule(this.c, deployment);
  ensureSnapshotSchedule = (spec: SnapshotScheduleSpec) => schedules.ensureSnapshotSchedule(this.c, spec);
  deleteSnapshotSchedule = (id: string) => schedules.deleteSnapshotSchedule(this.c, id);

  findImageBuild = (buildName: string) => images.findImageBuild(this.c, buildName);
  createImageFromBuilder = (builderId: string, spec: ImageFromBuilderSpec) => images.createImageFromBuilder(this.c, builderId, spec);
  waitForImage = (imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal) => images.waitForImage(this.c, imageId, spec, timeoutMs, signal);
  deleteImage = (imageId: string) => images.deleteImage(this.c, imageId);

  private get dryProject(): string {
    return this.c.project || '<project>';
  }
  launchRequests = (spec: LaunchRequestsSpec) => requests.launchRequests(this.dryProject, this.c.region, spec);
  instanceRequests = (spec: InstanceSpec) => requests.instanceRequests(this.dryProject, spec);
  clusterAccessRequests = (policyId: string) => requests.clusterAccessRequests(this.dryProject, policyId);
  scheduleRequests = (spec: SnapshotScheduleSpec) => requests.scheduleRequests(this.dryProject, this.c.region, spec);
  buildRequests = (spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }) => requests.buildRequests(this.dryProject, spec);

  /**
   * regions.get lists the region's quotas: CPUS, and per family (N2_CPUS …) where the family has
   * its own, which an instance must fit both of; STATIC_ADDRESSES for reserved external addresses.
   */
  async quotas(machineType?: string): Promise<Quotas> {
    const region = await call(this.c, 'regions.get', () => request<{ quotas?: { metric?: string; limit?: number; usage?: number }[] }>(this.c, 'GET', `regions/${this.c.region}`));
    const figure = (metric: string) => {
      const q = region.quotas?.find((x) => x.metric === metric);
      return q && typeof q.limit === 'number' ? { limit: q.limit, used: q.usage ?? 0 } : undefined;
    };
    const family = machineType ? figure(`${machineType.split('-')[0]!.toUpperCase()}_CPUS`) : undefined;
    const cpus = figure('CPUS');
    const vcpus = [cpus, family].filter((f) => f !== undefined).sort((a, b) => a.limit - a.used - (b.limit - b.used))[0];
    const staticAddresses = figure('STATIC_ADDRESSES');
    return {
      ...(vcpus ? { vcpus } : {}),
      ...(staticAddresses ? { staticAddresses } : {}),
      unknown: { ...(vcpus ? {} : { vcpus: `regions.get listed no CPUS quota for ${this.c.region}` }), ...(staticAddresses ? {} : { staticAddresses: `regions.get listed no STATIC_ADDRESSES quota for ${this.c.region}` }) },
    };
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export function createGcpAdapter(scope: Scope, opts: GcpAdapterOptions = {}): GcpAdapter {
  return new GcpAdapter(scope, opts);
}
