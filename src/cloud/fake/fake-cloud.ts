// The in-memory Cloud: the port's verbs over the World of world.ts, every call logged and first
// checked against the faults a test injected; plus the handles a test needs to stage a scene
// (preloaded images, brought addresses, reachable instances, scripted consoles) and to inspect it.
// SPEC.md says what it promises. Production code never imports it.
import type {
  AccessPolicy,
  AccessPolicySpec,
  AccessRule,
  AddressSpec,
  BuildResources,
  Capabilities,
  Cloud,
  CloudRequest,
  Deployment,
  Disk,
  DiskFromSnapshotSpec,
  DiskInitialization,
  DiskResizeState,
  Identity,
  Image,
  ImageFromBuilderSpec,
  Instance,
  InstanceHealth,
  InstanceSpec,
  InstanceState,
  LaunchRequestsSpec,
  Placement,
  Quotas,
  Scope,
  Snapshot,
  SnapshotSchedule,
  SnapshotScheduleSpec,
  SnapshotSpec,
  SshKey,
  SshKeySpec,
  StaticAddress,
} from '../port.js';
import type { LaunchError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import { Faults, type CloudMethod, type Fault, type FaultKind } from './faults.js';
import * as images from './images.js';
import * as instances from './instances.js';
import * as network from './network.js';
import { resolveOptions, type FakeClock, type FakeCloudOptions, type PreloadedImage } from './options.js';
import { refresh, settleAll, tickAll } from './progress.js';
import * as requests from './requests.js';
import * as storage from './storage.js';
import { findDeployment, listDeployments } from './deployments.js';
import { inspect, type FakeState } from './inspect.js';
import * as staging from './staging.js';
import { FakeDns } from './dns.js';
import { FakeManagedHttps } from './managed-https.js';
import { FakeGatewayHttps } from './gateway.js';
import type { DnsARecord, DnsZone, WorldPortPurpose } from '../port.js';
import { checkedLabels, ManualClock, World } from './world.js';

export interface FakeCall {
  method: CloudMethod;
  args: unknown[];
  /** The fake clock's time when it was called. */
  at: number;
  /** What became of it: answered, refused by the cloud, or a fault the test injected. */
  outcome: 'ok' | 'error' | 'injected';
}

/** The verbs that change nothing (reads, waits, the preflight and the dry-run builders). */
export const READ_ONLY_METHODS: ReadonlySet<CloudMethod> = new Set<CloudMethod>([
  'whoAmI', 'machineTypeZones', 'diskTypeZones', 'resolvePlacement', 'findImage', 'describeImage', 'listBuiltImages', 'findBaseImage',
  'findDeployment', 'listDeployments', 'checkInstancePermissions', 'describeInstance', 'instanceHealth', 'consoleOutput',
  'waitForInstanceState', 'describeDisk', 'waitForDiskAvailable', 'diskInitialization', 'waitForSnapshot', 'describeSnapshot',
  'listSnapshots', 'diskResizeState', 'findSnapshotSchedule', 'findImageBuild', 'waitForImage',
  'launchRequests', 'instanceRequests', 'scheduleRequests', 'buildRequests', 'resizeRequests',
  'quotas',
  'clusterAccessRequests',
  'findDnsZone', 'getARecord',
]);

export class FakeCloud implements Cloud {
  readonly scope: Scope;
  readonly capabilities: Capabilities;
  readonly world: World;
  readonly clock: FakeClock;
  /** Every port call, in order. */
  readonly calls: FakeCall[] = [];
  private readonly faults = new Faults();
  /** The DNS service: tests add the user's zones with dns.addZone (see dns.ts). */
  readonly dns = new FakeDns();
  /** HTTPS through a certificate and load balancer of the fake (managed-https.ts): issued once served and the domain points there. Not "as Azure", where the gateway below takes its place, as on the Azure adapter. */
  readonly managedHttps?: FakeManagedHttps;
  /** tls --tls managed through a gateway with the user's certificate: the fake "as Azure" only, as the Azure adapter offers it (gateway.ts). */
  readonly gatewayHttps?: FakeGatewayHttps;

  constructor(options: FakeCloudOptions = {}) {
    const opts = resolveOptions(options);
    this.clock = options.clock ?? new ManualClock();
    this.world = new World(opts, this.clock);
    if (opts.provider !== 'azure') this.managedHttps = new FakeManagedHttps(this.world, this.dns);
    this.scope = { provider: opts.provider, region: opts.region, params: { ...opts.scopeParams } };
    this.capabilities = { ...opts.capabilities };
    for (const image of options.images ?? []) images.preloadImage(this.world, image);
    if (opts.provider === 'azure') this.gatewayHttps = new FakeGatewayHttps(this.world, opts.region);
  }

  /** Logs the call, answers an injected fault if one applies, brings the world up to the clock, runs it. */
  private async op<T>(method: CloudMethod, args: unknown[], body: () => T | Promise<T>): Promise<T> {
    const call: FakeCall = { method, args, at: this.clock.now(), outcome: 'ok' };
    this.calls.push(call);
    const fault = this.faults.take(method, args);
    if (fault) {
      call.outcome = 'injected';
      if ('error' in fault) throw fault.error;
      return fault.answer as T;
    }
    refresh(this.world);
    try {
      return await body();
    } catch (e) {
      call.outcome = 'error';
      throw e;
    }
  }

  private pure<T>(method: CloudMethod, args: unknown[], body: () => T): T {
    this.calls.push({ method, args, at: this.clock.now(), outcome: 'ok' });
    return body();
  }

  // ---- who and where ----
  whoAmI(): Promise<Identity> {
    return this.op('whoAmI', [], () => ({ account: this.world.opts.account, principal: this.world.opts.principal }));
  }
  machineTypeZones(machineType: string): Promise<string[]> {
    return this.op('machineTypeZones', [machineType], () => [...(this.world.opts.machineTypes[machineType] ?? [])].sort());
  }

  diskTypeZones(diskType: string): Promise<string[]> {
    return this.op('diskTypeZones', [diskType], () => [...(this.world.opts.diskTypes[diskType] ?? this.world.opts.zones)].sort());
  }
  resolvePlacement(subnetId: string | undefined, zones?: string[]): Promise<Placement> {
    return this.op('resolvePlacement', [subnetId, zones], () => network.resolvePlacement(this.world, subnetId, zones));
  }

  // ---- images ----
  findImage(query: { version: string; size?: string }): Promise<Image | undefined> {
    return this.op('findImage', [query], () => images.findImage(this.world, query));
  }
  describeImage(imageId: string): Promise<Image | undefined> {
    return this.op('describeImage', [imageId], () => images.describeImage(this.world, imageId));
  }
  listBuiltImages(): Promise<Image[]> {
    return this.op('listBuiltImages', [], () => images.listBuiltImages(this.world));
  }
  findBaseImage(): Promise<Image | undefined> {
    return this.op('findBaseImage', [], () => images.findBaseImage(this.world));
  }

  // ---- deployments ----
  findDeployment(name: string): Promise<Deployment> {
    return this.op('findDeployment', [name], () => findDeployment(this.world, name));
  }
  listDeployments(): Promise<Deployment[]> {
    return this.op('listDeployments', [], () => listDeployments(this.world));
  }

  // ---- what a launch creates ----
  ensureSshKey(spec: SshKeySpec, deployment: string, labels: Labels): Promise<SshKey | undefined> {
    return this.op('ensureSshKey', [spec, deployment, labels], () => network.ensureSshKey(this.world, spec, deployment, checkedLabels(labels)));
  }
  deleteSshKey(name: string): Promise<void> {
    return this.op('deleteSshKey', [name], () => network.deleteSshKey(this.world, name));
  }
  ensureAccessPolicy(spec: AccessPolicySpec): Promise<AccessPolicy> {
    return this.op('ensureAccessPolicy', [spec], () => network.ensureAccessPolicy(this.world, { ...spec, labels: checkedLabels(spec.labels) }));
  }
  deleteAccessPolicy(id: string): Promise<void> {
    return this.op('deleteAccessPolicy', [id], () => network.deleteAccessPolicy(this.world, id));
  }
  ensureClusterAccess(policyId: string): Promise<AccessPolicy> {
    return this.op('ensureClusterAccess', [policyId], () => network.ensureClusterAccess(this.world, policyId));
  }
  clusterAccessRequests(policyId: string): CloudRequest[] {
    return this.pure('clusterAccessRequests', [policyId], () => requests.clusterAccessRequests(policyId));
  }
  openWorldPort(policyId: string, port: number, purpose: WorldPortPurpose): Promise<'opened' | 'already-open'> {
    return this.op('openWorldPort', [policyId, port, purpose], () => network.openWorldPort(this.world, policyId, port, purpose));
  }
  closeWorldPort(policyId: string, port: number, purpose: WorldPortPurpose): Promise<'closed' | 'absent'> {
    return this.op('closeWorldPort', [policyId, port, purpose], () => network.closeWorldPort(this.world, policyId, port, purpose));
  }
  ensureInstance(spec: InstanceSpec): Promise<Instance> {
    return this.op('ensureInstance', [spec], () => instances.ensureInstance(this.world, spec));
  }
  checkInstancePermissions(spec: InstanceSpec): Promise<void> {
    return this.op('checkInstancePermissions', [spec], () => instances.checkInstancePermissions(this.world, spec));
  }
  ensureStaticAddress(spec: AddressSpec): Promise<StaticAddress | undefined> {
    return this.op('ensureStaticAddress', [spec], () =>
      network.ensureStaticAddress(this.world, spec.mode === 'new' ? { ...spec, labels: checkedLabels(spec.labels) } : spec),
    );
  }
  attachStaticAddress(addressId: string, instanceId: string): Promise<StaticAddress> {
    return this.op('attachStaticAddress', [addressId, instanceId], () => network.attachStaticAddress(this.world, addressId, instanceId));
  }
  detachStaticAddress(addressId: string): Promise<void> {
    return this.op('detachStaticAddress', [addressId], () => network.detachStaticAddress(this.world, addressId));
  }
  releaseStaticAddress(addressId: string): Promise<void> {
    return this.op('releaseStaticAddress', [addressId], () => network.releaseStaticAddress(this.world, addressId));
  }

  // ---- instances ----
  describeInstance(instanceId: string): Promise<Instance | undefined> {
    return this.op('describeInstance', [instanceId], () => instances.describeInstance(this.world, instanceId));
  }
  instanceHealth(instanceId: string): Promise<InstanceHealth> {
    return this.op('instanceHealth', [instanceId], () => instances.instanceHealth(this.world, instanceId));
  }
  consoleOutput(instanceId: string): Promise<string> {
    return this.op('consoleOutput', [instanceId], () => instances.consoleOutput(this.world, instanceId));
  }
  startInstance(instanceId: string): Promise<void> {
    return this.op('startInstance', [instanceId], () => instances.startInstance(this.world, instanceId));
  }
  stopInstance(instanceId: string): Promise<void> {
    return this.op('stopInstance', [instanceId], () => instances.stopInstance(this.world, instanceId));
  }
  terminateInstance(instanceId: string): Promise<void> {
    return this.op('terminateInstance', [instanceId], () => instances.terminateInstance(this.world, instanceId));
  }
  waitForInstanceState(instanceId: string, state: InstanceState, timeoutMs: number): Promise<void> {
    return this.op('waitForInstanceState', [instanceId, state, timeoutMs], () => instances.waitForInstanceState(this.world, instanceId, state, timeoutMs));
  }

  // ---- disks and snapshots ----
  describeDisk(diskId: string): Promise<Disk | undefined> {
    return this.op('describeDisk', [diskId], () => storage.describeDisk(this.world, diskId));
  }
  attachDataDisk(diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
    return this.op('attachDataDisk', [diskId, instanceId, timeoutMs], () => storage.attachDataDisk(this.world, diskId, instanceId, timeoutMs));
  }
  detachDisk(diskId: string, instanceId: string, timeoutMs: number): Promise<void> {
    return this.op('detachDisk', [diskId, instanceId, timeoutMs], () => storage.detachDisk(this.world, diskId, instanceId, timeoutMs));
  }
  waitForDiskAvailable(diskId: string, timeoutMs: number): Promise<void> {
    return this.op('waitForDiskAvailable', [diskId, timeoutMs], () => storage.waitForDiskAvailable(this.world, diskId, timeoutMs));
  }
  deleteDisk(diskId: string): Promise<void> {
    return this.op('deleteDisk', [diskId], () => storage.deleteDisk(this.world, diskId));
  }
  diskResizeState(diskId: string, targetSizeGiB?: number): Promise<DiskResizeState> {
    return this.op('diskResizeState', [diskId, targetSizeGiB], () => storage.diskResizeState(this.world, diskId, targetSizeGiB));
  }
  resizeDisk(diskId: string, sizeGiB: number): Promise<void> {
    return this.op('resizeDisk', [diskId, sizeGiB], () => storage.resizeDisk(this.world, diskId, sizeGiB));
  }
  createDiskFromSnapshot(spec: DiskFromSnapshotSpec): Promise<Disk> {
    return this.op('createDiskFromSnapshot', [spec], () => storage.createDiskFromSnapshot(this.world, spec));
  }
  diskInitialization(diskId: string): Promise<DiskInitialization> {
    return this.op('diskInitialization', [diskId], () => storage.diskInitialization(this.world, diskId));
  }
  createSnapshot(spec: SnapshotSpec): Promise<Snapshot> {
    return this.op('createSnapshot', [spec], () => storage.createSnapshot(this.world, spec));
  }
  waitForSnapshot(snapshotId: string, timeoutMs: number): Promise<Snapshot> {
    return this.op('waitForSnapshot', [snapshotId, timeoutMs], () => storage.waitForSnapshot(this.world, snapshotId, timeoutMs));
  }
  describeSnapshot(snapshotId: string): Promise<Snapshot | undefined> {
    return this.op('describeSnapshot', [snapshotId], () => storage.describeSnapshot(this.world, snapshotId));
  }
  listSnapshots(deployment: string): Promise<Snapshot[]> {
    return this.op('listSnapshots', [deployment], () => storage.listSnapshots(this.world, deployment));
  }
  deleteSnapshot(snapshotId: string): Promise<void> {
    return this.op('deleteSnapshot', [snapshotId], () => storage.deleteSnapshot(this.world, snapshotId));
  }

  // ---- labels ----
  setLabels(resourceIds: string[], labels: Labels): Promise<void> {
    return this.op('setLabels', [resourceIds, labels], () => {
      const checked = checkedLabels(labels);
      const targets = resourceIds.map((id) => staging.labelled(this.world, id));
      for (const t of targets) t.labels = { ...t.labels, ...checked };
    });
  }
  removeLabels(resourceIds: string[], keys: (keyof Labels)[]): Promise<void> {
    return this.op('removeLabels', [resourceIds, keys], () => {
      const targets = resourceIds.map((id) => staging.labelled(this.world, id));
      for (const t of targets) {
        const next = { ...t.labels };
        for (const key of keys) delete next[key];
        t.labels = next;
      }
    });
  }

  // ---- scheduled snapshots ----
  findSnapshotSchedule(deployment: string): Promise<SnapshotSchedule | undefined> {
    return this.op('findSnapshotSchedule', [deployment], () => storage.findSnapshotSchedule(this.world, deployment));
  }
  ensureSnapshotSchedule(spec: SnapshotScheduleSpec): Promise<SnapshotSchedule> {
    return this.op('ensureSnapshotSchedule', [spec], () => storage.ensureSnapshotSchedule(this.world, spec));
  }
  deleteSnapshotSchedule(id: string): Promise<void> {
    return this.op('deleteSnapshotSchedule', [id], () => storage.deleteSnapshotSchedule(this.world, id));
  }

  // ---- image builds ----
  findImageBuild(buildName: string): Promise<BuildResources> {
    return this.op('findImageBuild', [buildName], () => images.findImageBuild(this.world, buildName));
  }
  createImageFromBuilder(builderId: string, spec: ImageFromBuilderSpec): Promise<Image> {
    return this.op('createImageFromBuilder', [builderId, spec], () => images.createImageFromBuilder(this.world, builderId, spec));
  }
  waitForImage(imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image> {
    return this.op('waitForImage', [imageId, spec, timeoutMs], () => images.waitForImage(this.world, imageId, spec, timeoutMs, signal));
  }
  deleteImage(imageId: string): Promise<string[]> {
    return this.op('deleteImage', [imageId], () => images.deleteImage(this.world, imageId));
  }

  // ---- dry runs ----
  launchRequests(spec: LaunchRequestsSpec): CloudRequest[] {
    return this.pure('launchRequests', [spec], () => requests.launchRequests(this.world.opts, spec));
  }
  instanceRequests(spec: InstanceSpec): CloudRequest[] {
    return this.pure('instanceRequests', [spec], () => requests.instanceRequests(this.world.opts, spec));
  }
  scheduleRequests(spec: SnapshotScheduleSpec): CloudRequest[] {
    return this.pure('scheduleRequests', [spec], () => requests.scheduleRequests(this.world.opts, spec));
  }
  buildRequests(spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec }): CloudRequest[] {
    return this.pure('buildRequests', [spec], () => requests.buildRequests(this.world.opts, spec));
  }
  resizeRequests(diskId: string, sizeGiB: number): CloudRequest[] {
    return this.pure('resizeRequests', [diskId, sizeGiB], () => requests.resizeRequests(diskId, sizeGiB));
  }

  // =============== for tests: staging the scene ===============

  /** Every call of `method` (matching `when`) fails with `kind` for `times` calls (default 1). */
  inject(fault: Fault): void {
    this.faults.add(fault);
  }
  /** The next call of `method` fails with `kind`. */
  failNext(method: CloudMethod, kind: FaultKind | LaunchError): void {
    this.faults.add({ method, kind });
  }
  clearFaults(method?: CloudMethod): void {
    this.faults.clear(method);
  }

  preloadImage(image: PreloadedImage): Image {
    return images.preloadImage(this.world, image);
  }

  /** An address the user reserved outside the tool (managed false: never released by it). */
  addStaticAddress(ip: string, labels: Labels = {}): StaticAddress {
    return staging.addStaticAddress(this.world, ip, labels);
  }
  /** An SSH key the user keeps in the cloud (only where the cloud keeps keys). */
  addSshKey(name: string, publicKey = ''): void {
    staging.addSshKey(this.world, name, publicKey);
  }
  /** A subnet besides the default ones (isDefault false: resolvePlacement never picks it by itself). */
  addSubnet(zone: string, opts: { id?: string; isDefault?: boolean } = {}): string {
    return staging.addSubnet(this.world, zone, opts);
  }
  removeSubnet(id: string): void {
    this.world.subnets.delete(id);
  }
  /** The instance answers on `ip` whenever it runs (unless a static address is attached). */
  makeReachable(instanceId: string, ip: string): void {
    staging.instanceRecord(this.world, instanceId).pinnedIp = ip;
  }
  /** What consoleOutput answers for this instance: a text, or one per call (counting from 1). */
  setConsoleOutput(instanceId: string, output: string | ((call: number) => string)): void {
    staging.instanceRecord(this.world, instanceId).console = output;
  }
  setHealth(instanceId: string, health: InstanceHealth | undefined): void {
    staging.instanceRecord(this.world, instanceId).health = health;
  }
  setForeignLabels(instanceId: string, labels: Record<string, string>): void {
    staging.instanceRecord(this.world, instanceId).foreignLabels = { ...labels };
  }
  /** A rule someone else added to the policy (not ours to govern when on another port). */
  addAccessRule(policyId: string, rule: AccessRule): void {
    staging.addAccessRule(this.world, policyId, rule);
  }
  /** Keeps the resource's transition from completing (by polls or time) until settle(). */
  hold(resourceId: string): void {
    staging.hold(this.world, resourceId);
  }
  /** A disk, snapshot or image goes into the error state. */
  breakResource(resourceId: string): void {
    staging.breakResource(this.world, resourceId);
  }

  /** Counts `n` polls of everything in flight. */
  tick(n = 1): void {
    tickAll(this.world, n);
  }
  /** Completes everything in flight. */
  settle(): void {
    settleAll(this.world);
  }
  /** Terminated instances drop out of sight now (as they do after a while), releasing their keys. */
  purgeTerminated(): void {
    for (const rec of [...this.world.instances.values()]) if (rec.state === 'terminated') this.world.instances.delete(rec.id);
  }
  /** One nightly run of every snapshot schedule; returns the snapshots it made. */
  runSnapshotSchedules(): Snapshot[] {
    return storage.runSnapshotSchedules(this.world);
  }

  /** The quotas of options.quotas; static addresses in use are the world's; a machine type's vCPUs when options name them. */
  quotas(machineType?: string): Promise<Quotas> {
    return this.op('quotas', machineType === undefined ? [] : [machineType], () => {
      const q = this.world.opts.quotas;
      const out: Quotas = {};
      const typeVcpus = machineType === undefined ? undefined : q?.machineTypeVcpus?.[machineType];
      if (typeVcpus !== undefined) out.machineTypeVcpus = typeVcpus;
      if (q?.vcpus) out.vcpus = { ...q.vcpus };
      if (q?.staticAddresses) out.staticAddresses = { limit: q.staticAddresses.limit, used: this.world.addresses.size };
      const unset = (key: string) => `the fake reports no ${key} quota (options.quotas.${key} is not set)`;
      if (!q?.vcpus || !q.staticAddresses) out.unknown = { ...(q?.vcpus ? {} : { vcpus: unset('vcpus') }), ...(q?.staticAddresses ? {} : { staticAddresses: unset('staticAddresses') }) };
      return out;
    });
  }

  // ---- DNS records (tls --domain) ----
  findDnsZone(domain: string): Promise<DnsZone | undefined> {
    return this.op('findDnsZone', [domain], () => this.dns.findZone(domain));
  }
  getARecord(zoneId: string, name: string): Promise<DnsARecord | undefined> {
    return this.op('getARecord', [zoneId, name], () => this.dns.get(zoneId, name));
  }
  upsertARecord(zoneId: string, name: string, ip: string, ttl: number): Promise<void> {
    return this.op('upsertARecord', [zoneId, name, ip, ttl], () => this.dns.upsert(zoneId, name, ip, ttl));
  }
  deleteARecord(zoneId: string, name: string, ip: string): Promise<'deleted' | 'absent' | 'not-ours'> {
    return this.op('deleteARecord', [zoneId, name, ip], () => this.dns.delete(zoneId, name, ip));
  }

  // =============== for tests: looking at it ===============

  /** Everything the fake holds, as the port shows it (terminated instances included while visible). */
  get state(): FakeState {
    refresh(this.world);
    return inspect(this.world);
  }

  /** The calls that could have changed something. */
  mutatingCalls(): FakeCall[] {
    return this.calls.filter((c) => !READ_ONLY_METHODS.has(c.method));
  }

}

export function createFakeCloud(options: FakeCloudOptions = {}): FakeCloud {
  return new FakeCloud(options);
}
