// The AWS adapter of the Cloud port: EC2 (and STS, DLM) behind the narrow clients of sdk.ts, which
// load on the first call, so importing this module (or building a dry run offline) never loads the
// SDK. Each verb lives in the module of its kind; this class only binds them to one context.
import { CloudError, CredentialsError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type {
  AccessPolicySpec,
  AddressSpec,
  Capabilities,
  Cloud,
  CloudRequest,
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
import type { AwsContext } from './context.js';
import { call } from './context.js';
import { whyNoAwsCredentials } from './credential-sources.js';
import { findDeployment, listDeployments } from './deployments.js';
import * as images from './images.js';
import * as instances from './instances.js';
import { tagKey } from './mappers.js';
import * as network from './network.js';
import * as requests from './request-builders.js';
import * as schedules from './schedules.js';
import type { AwsClients, DlmApi, Ec2Api, ServiceQuotasApi, StsApi } from './sdk.js';
import * as storage from './storage.js';
import { instanceTypeVcpus, readVcpuQuota } from './vcpu-quota.js';
import * as dns from './dns.js';
import type { Route53Api } from './route53-sdk.js';
import type { AcmApi } from './acm-sdk.js';
import type { LoadBalancerApis } from './load-balancer-sdk.js';
import { AwsManagedHttps } from './managed-https.js';
import type { SsmApi } from './ssm-sdk.js';
import type { IamApi } from './iam-sdk.js';
import { AwsAcmeDnsAccess } from './acme-dns-role.js';
import * as ssmRun from './run-command.js';

export const AWS_CAPABILITIES: Capabilities = {
  permissionPreflight: true,
  diskInitializationRate: true,
  snapshotSchedules: true,
  consoleHostKeys: true,
  attachExistingDiskAtCreate: false,
  instanceHealthChecks: true,
};

export interface AwsAdapterOptions {
  profile?: string;
  pollIntervalMs?: number;
  dependencyRetryMs?: number;
  volumeTagWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class AwsAdapter implements Cloud {
  readonly scope: Scope;
  readonly capabilities = AWS_CAPABILITIES;
  private readonly c: AwsContext;

  private readonly clients: AwsClients;

  constructor(clients: AwsClients, scope: Scope, opts: AwsAdapterOptions = {}) {
    this.scope = scope;
    this.clients = clients;
    this.c = {
      ec2: clients.ec2,
      sts: clients.sts,
      ...(clients.dlm ? { dlm: clients.dlm } : {}),
      ...(clients.serviceQuotas ? { serviceQuotas: clients.serviceQuotas } : {}),
      ...(clients.route53 ? { route53: clients.route53 } : {}),
      ...(clients.ssm ? { ssm: clients.ssm } : {}),
      region: scope.region,
      profile: opts.profile ?? scope.params.profile ?? process.env.AWS_PROFILE ?? 'default',
      pollIntervalMs: opts.pollIntervalMs ?? 5_000,
      dependencyRetryMs: opts.dependencyRetryMs ?? 5 * 60_000,
      volumeTagWaitMs: opts.volumeTagWaitMs ?? 60_000,
      sleep: opts.sleep ?? defaultSleep,
      now: opts.now ?? Date.now,
    };
  }

  private readonly describeHolder: network.DescribeHolder = async (id) => {
    const i = await instances.describeInstance(this.c, id);
    return i && { state: i.state, labels: i.labels };
  };

  async whoAmI() {
    const out = await call(this.c, 'GetCallerIdentity', () => this.c.sts.getCallerIdentity(), { service: 'sts' });
    return { account: out.Account ?? '', principal: out.Arn ?? '' };
  }

  machineTypeZones = (machineType: string) => network.machineTypeZones(this.c, machineType);
  resolvePlacement = (subnetId: string | undefined, zones?: string[]) => network.resolvePlacement(this.c, subnetId, zones);

  findImage = (query: { version: string; size?: string }) => images.findImage(this.c, query);
  describeImage = (imageId: string) => images.describeImage(this.c, imageId);
  listBuiltImages = () => images.listBuiltImages(this.c);
  findBaseImage = () => images.findBaseImage(this.c);

  findDeployment = (name: string) => findDeployment(this.c, this.scope, name);
  listDeployments = () => listDeployments(this.c, this.scope);

  ensureSshKey = (spec: SshKeySpec, deployment: string, labels: Labels) => network.ensureSshKey(this.c, spec, deployment, labels);
  deleteSshKey = (name: string) => network.deleteSshKey(this.c, name);
  ensureAccessPolicy = (spec: AccessPolicySpec) => network.ensureAccessPolicy(this.c, spec);
  deleteAccessPolicy = (id: string) => network.deleteAccessPolicy(this.c, id);
  ensureClusterAccess = (policyId: string) => network.ensureClusterAccess(this.c, policyId);
  openWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => network.openWorldPort(this.c, policyId, port, purpose);
  closeWorldPort = (policyId: string, port: number, purpose: WorldPortPurpose) => network.closeWorldPort(this.c, policyId, port, purpose);
  clusterAccessRequests = (policyId: string): CloudRequest[] => [{ service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', input: requests.clusterIngressRequest(policyId) }];
  ensureInstance = (spec: InstanceSpec) => instances.ensureInstance(this.c, spec);
  checkInstancePermissions = (spec: InstanceSpec) => instances.checkInstancePermissions(this.c, spec);
  ensureStaticAddress = (spec: AddressSpec) => network.ensureStaticAddress(this.c, spec, this.describeHolder);
  attachStaticAddress = (addressId: string, instanceId: string) => network.attachStaticAddress(this.c, addressId, instanceId, this.describeHolder);
  /** `fromInstanceId` goes beyond the port today (see network.detachStaticAddress). */
  detachStaticAddress = (addressId: string, fromInstanceId?: string) => network.detachStaticAddress(this.c, addressId, fromInstanceId);
  releaseStaticAddress = (addressId: string) => network.releaseStaticAddress(this.c, addressId);

  describeInstance = (instanceId: string) => instances.describeInstance(this.c, instanceId);
  instanceHealth = (instanceId: string) => instances.instanceHealth(this.c, instanceId);
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
  resizeRequests = (diskId: string, sizeGiB: number) => storage.resizeRequests(diskId, sizeGiB);
  createDiskFromSnapshot = (spec: DiskFromSnapshotSpec) => storage.createDiskFromSnapshot(this.c, spec);
  diskInitialization = (diskId: string) => storage.diskInitialization(this.c, diskId);
  createSnapshot = (spec: SnapshotSpec) => storage.createSnapshot(this.c, spec);
  waitForSnapshot = (snapshotId: string, timeoutMs: number) => storage.waitForSnapshot(this.c, snapshotId, timeoutMs);
  describeSnapshot = (snapshotId: string) => storage.describeSnapshot(this.c, snapshotId);
  listSnapshots = (deployment: string) => storage.listSnapshots(this.c, deployment);
  deleteSnapshot = (snapshotId: string) => storage.deleteSnapshot(this.c, snapshotId);

  setLabels = (resourceIds: string[], labels: Labels) => storage.setLabels(this.c, resourceIds, labels);

  async removeLabels(resourceIds: string[], keys: (keyof Labels)[]): Promise<void> {
    if (!resourceIds.length || !keys.length) return;
    await call(this.c, 'DeleteTags', () => this.c.ec2.deleteTags({ Resources: resourceIds, Tags: keys.map((k) => ({ Key: tagKey(k) })) }));
  }

  findSnapshotSchedule = (deployment: string) => schedules.findSnapshotSchedule(this.c, deployment);
  ensureSnapshotSchedule = (spec: SnapshotScheduleSpec) => schedules.ensureSnapshotSchedule(this.c, spec);
  deleteSnapshotSchedule = (id: string) => schedules.deleteSnapshotSchedule(this.c, id);

  findImageBuild = (buildName: string) => images.findImageBuild(this.c, buildName);
  createImageFromBuilder = (builderId: string, spec: ImageFromBuilderSpec) => images.createImageFromBuilder(this.c, builderId, spec);
  waitForImage = (imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal) => images.waitForImage(this.c, imageId, spec, timeoutMs, signal);
  deleteImage = (imageId: string) => images.deleteImage(this.c, imageId);

  launchRequests = (spec: LaunchRequestsSpec) => requests.launchRequests(spec, network.groupDescription);
  instanceRequests = (spec: InstanceSpec) => requests.instanceRequests(spec);
  scheduleRequests = (spec: SnapshotScheduleSpec) => requests.scheduleRequests(spec);
  buildRequests = (spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }) =>
    requests.buildRequests(spec, network.groupDescription, { addressId: spec.addressId });

  // ---- the run-command channel (Systems Manager Run Command; run-command.ts) ----
  get runCommandLimits() {
    return this.c.ssm ? ssmRun.SSM_RUN_COMMAND_LIMITS : undefined;
  }
  runCommand = (instanceId: string, script: string, timeoutMs: number) => ssmRun.runCommand(this.c, this.ssmApi, instanceId, script, timeoutMs);
  /** doctor: whether Systems Manager lists the instance as managed (the channel needs it). */
  ssmManaged = (instanceId: string) => ssmRun.ssmManaged(this.c, this.ssmApi, instanceId);
  runCommandReady = (instanceId: string) => ssmRun.runCommandReady(this.c, this.ssmApi, instanceId);
  private get ssmApi(): SsmApi {
    if (!this.c.ssm) throw new CloudError('run-command-unavailable', 'This AWS adapter was built without a Systems Manager client', { remediation: 'A bug: report it.' });
    return this.c.ssm;
  }

  // ---- DNS records (Route 53) ----
  private get dnsContext(): dns.AwsDnsContext {
    if (!this.c.route53) throw new CloudError('dns-unavailable', 'This AWS adapter was built without a Route 53 client', { remediation: 'A bug: report it.' });
    return this.c as dns.AwsDnsContext;
  }
  findDnsZone = (domain: string) => dns.findDnsZone(this.dnsContext, domain);
  getARecord = (zoneId: string, name: string) => dns.getARecord(this.dnsContext, zoneId, name);
  upsertARecord = (zoneId: string, name: string, ip: string, ttl: number) => dns.upsertARecord(this.dnsContext, zoneId, name, ip, ttl);
  deleteARecord = (zoneId: string, name: string, ip: string) => dns.deleteARecord(this.dnsContext, zoneId, name, ip);

  // ---- tls --tls managed: ACM + an Application Load Balancer (managed-https.ts) ----
  private managed?: AwsManagedHttps;
  get managedHttps(): AwsManagedHttps | undefined {
    const { acm, loadBalancer, route53 } = this.clients;
    if (!acm || !loadBalancer || !route53) return undefined;
    return (this.managed ??= new AwsManagedHttps({ ...this.c, acm, lb: loadBalancer, route53 }));
  }

  // ---- tls --tls acme with DNS-01: the instance's own IAM role for its zone (acme-dns-role.ts) ----
  private acmeDns?: AwsAcmeDnsAccess;
  get acmeDnsAccess(): AwsAcmeDnsAccess | undefined {
    const { iam } = this.clients;
    if (!iam) return undefined;
    return (this.acmeDns ??= new AwsAcmeDnsAccess({ ...this.c, iam }));
  }

  /**
   * Elastic IPs: the account attribute vpc-max-elastic-ips against the addresses allocated. vCPUs:
   * the On-Demand quota of the type's family from Service Quotas against the vCPUs of the region's
   * instances of those families (vcpu-quota.ts); a quota that cannot be read is a warning with the
   * fix, not a failure of the other figure.
   */
  async quotas(machineType?: string): Promise<Quotas> {
    const [attrs, addresses, vcpus, typeVcpus] = await Promise.all([
      call(this.c, 'DescribeAccountAttributes', () => this.c.ec2.describeAccountAttributes({})),
      call(this.c, 'DescribeAddresses', () => this.c.ec2.describeAddresses({})),
      readVcpuQuota(this.c, machineType),
      machineType ? instanceTypeVcpus(this.c, machineType) : Promise.resolve(undefined),
    ]);
    const value = attrs.AccountAttributes?.find((a) => a.AttributeName === 'vpc-max-elastic-ips')?.AttributeValues?.[0]?.AttributeValue;
    const limit = value === undefined ? NaN : Number(value);
    return {
      ...('figure' in vcpus ? { vcpus: vcpus.figure } : {}),
      ...(Number.isFinite(limit) ? { staticAddresses: { limit, used: (addresses.Addresses ?? []).filter((a) => a.Domain !== 'standard').length } } : {}),
      unknown: {
        ...('unknown' in vcpus ? { vcpus: vcpus.unknown } : {}),
        ...(Number.isFinite(limit) ? {} : { staticAddresses: 'EC2 did not report vpc-max-elastic-ips' }),
      },
      ...('unreadable' in vcpus ? { unreadable: { vcpus: vcpus.unreadable } } : {}),
      ...(typeVcpus !== undefined ? { machineTypeVcpus: typeVcpus } : {}),
    };
  }
}

/**
 * The adapter for one scope; the SDK (sdk.ts) is imported on the first API call, so a dry run
 * offline or `--help` never pays for it. Without any credential source the STS check fails at
 * once, naming how to sign in, instead of loading the SDK to hear "no credentials".
 */
export function createAwsAdapter(scope: Scope, opts: { profile?: string; endpoint?: string; env?: NodeJS.ProcessEnv } & AwsAdapterOptions = {}): AwsAdapter {
  const { env = process.env, endpoint, ...rest } = opts;
  const profile = opts.profile ?? scope.params.profile ?? env.AWS_PROFILE ?? 'default';
  let loading: Promise<AwsClients> | undefined;
  const clientOptions = { region: scope.region, ...(opts.profile ?? scope.params.profile ? { profile: opts.profile ?? scope.params.profile } : {}), ...(endpoint ? { endpoint } : {}) };
  const load = () => (loading ??= import('./sdk.js').then(({ createAwsClients }) => createAwsClients(clientOptions)));
  // Its own client and chunk, loaded only when doctor reads the vCPU quota.
  let loadingQuotas: Promise<ServiceQuotasApi> | undefined;
  const loadQuotas = () => (loadingQuotas ??= import('./sdk.js').then(({ createServiceQuotasApi }) => createServiceQuotasApi(clientOptions)));
  let loadingRoute53: Promise<Route53Api> | undefined;
  let loadingAcm: Promise<AcmApi> | undefined;
  let loadingLb: Promise<LoadBalancerApis> | undefined;
  const loadLb = () => (loadingLb ??= import('./load-balancer-sdk.js').then(({ createLoadBalancerApis }) => createLoadBalancerApis(clientOptions)));
  let loadingSsm: Promise<SsmApi> | undefined;
  let loadingIam: Promise<IamApi> | undefined;
  const sts = lazyApi<StsApi>(() => load().then((c) => c.sts));
  const clients: AwsClients = {
    ec2: lazyApi<Ec2Api>(() => load().then((c) => c.ec2)),
    sts: {
      getCallerIdentity: async () => {
        const none = whyNoAwsCredentials({ env, profile });
        if (none) {
          throw new CredentialsError(`No AWS credentials found: ${none}`, {
            remediation:
              `Sign in with \`aws sso login --profile ${profile}\` or set up access keys with \`aws configure${profile === 'default' ? '' : ` --profile ${profile}`}\`; ` +
              'to use another profile pass --profile <name> or set AWS_PROFILE.',
          });
        }
        return sts.getCallerIdentity();
      },
    },
    dlm: lazyApi<DlmApi>(() => load().then((c) => c.dlm!)),
    serviceQuotas: lazyApi<ServiceQuotasApi>(loadQuotas),
    // Its own chunk, loaded on the first DNS call only (see route53-sdk.ts).
    route53: lazyApi<Route53Api>(() => (loadingRoute53 ??= import('./route53-sdk.js').then(({ createRoute53Api }) => createRoute53Api(clientOptions)))),
    // Each its own chunk, loaded on the first call of tls --tls managed (or its removal) only.
    acm: lazyApi<AcmApi>(() => (loadingAcm ??= import('./acm-sdk.js').then(({ createAcmApi }) => createAcmApi(clientOptions)))),
    loadBalancer: {
      elbv2: lazyApi<LoadBalancerApis['elbv2']>(() => loadLb().then((l) => l.elbv2)),
      subnets: lazyApi<LoadBalancerApis['subnets']>(() => loadLb().then((l) => l.subnets)),
    },
    // Its own chunk too, loaded on the first run-command call only (see ssm-sdk.ts).
    ssm: lazyApi<SsmApi>(() => (loadingSsm ??= import('./ssm-sdk.js').then(({ createSsmApi }) => createSsmApi({ ...clientOptions, env })))),
    // Its own chunk as well, loaded only by tls --tls acme's DNS-01 (and its removal) (see iam-sdk.ts).
    iam: lazyApi<IamApi>(() => (loadingIam ??= import('./iam-sdk.js').then(({ createIamApi }) => createIamApi(clientOptions)))),
  };
  return new AwsAdapter(clients, scope, { ...rest, profile });
}

/** An API object whose every method loads the real one first (the SDK is imported on first use). */
function lazyApi<T extends object>(get: () => Promise<T>): T {
  return new Proxy({} as T, {
    get: (_target, method) =>
      // Not a thenable: `await api` must not mistake the proxy for a promise.
      method === 'then' || typeof method !== 'string'
        ? undefined
        : (...args: unknown[]) => get().then((api) => (api as Record<string, (...a: unknown[]) => unknown>)[method]!(...args)),
  });
}
