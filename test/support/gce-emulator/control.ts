// The test-only control API: in-process methods (`emulator.control`) and the same operations over
// HTTP under /emulator/ (no credentials needed), for what a real VM or Google would do on their
// own (write the serial console, publish guest attributes, fail, throttle, take time) and for
// assertions on what exists and what was sent.
import type { ActiveFault, FaultSpec } from './faults.js';
import { Federation } from './federation.js';
import { refPath, type ScopeKind } from './links.js';
import type { OperationBody } from './operations.js';
import type { ProjectMetric, RegionMetric } from './quotas.js';
import type { RequestRecord, Router } from './router.js';
import { setCertificateStatus } from './resources/load-balancing.js';
import type { Json } from './validate.js';
import type { World } from './world.js';

/** Serial buffers keep about the last 1 MiB, as on Compute. */
const SERIAL_KEEP_BYTES = 1024 * 1024;

export interface EmulatorState {
  project: string;
  instances: Json[];
  disks: Json[];
  snapshots: Json[];
  /** Images of the test project (not the public ones). */
  images: Json[];
  addresses: Json[];
  firewalls: Json[];
  resourcePolicies: Json[];
  /** The load balancer's parts (tls --tls managed); global addresses are in `addresses`. */
  sslCertificates: Json[];
  instanceGroups: Json[];
  healthChecks: Json[];
  backendServices: Json[];
  urlMaps: Json[];
  targetHttpsProxies: Json[];
  targetHttpProxies: Json[];
  forwardingRules: Json[];
  operations: OperationBody[];
  pendingOperations: number;
  faults: ActiveFault[];
  /** Access tokens handed out by the emulator's token endpoint. */
  tokensIssued: string[];
}

export type ResourceKind = 'instances' | 'disks' | 'snapshots' | 'images' | 'addresses' | 'firewalls' | 'resourcePolicies';
type LbKind = 'sslCertificates' | 'instanceGroups' | 'healthChecks' | 'backendServices' | 'urlMaps' | 'targetHttpsProxies' | 'targetHttpProxies' | 'forwardingRules';

const SCOPES: Record<ResourceKind, ScopeKind> = {
  instances: 'zones',
  disks: 'zones',
  snapshots: 'global',
  images: 'global',
  addresses: 'regions',
  firewalls: 'global',
  resourcePolicies: 'regions',
};

export class GceEmulatorControl {
  readonly tokensIssued: string[] = [];
  /** The STS and IAM Credentials stand-ins (workload identity federation; federation.ts). */
  readonly federation = new Federation();

  constructor(
    private readonly world: World,
    private readonly router: Router,
  ) {}

  /** Back to the start: nothing created, no operations, faults, requestIds, request log or settings changes. */
  reset(): void {
    this.world.reset();
    this.router.log.length = 0;
    this.tokensIssued.length = 0;
    this.federation.reset();
    for (const hook of this.resetHooks) hook();
  }

  /** What else forgets its state on reset (Cloud DNS beside Compute, dns.ts), over HTTP too. */
  readonly resetHooks: (() => void)[] = [];

  state(): EmulatorState {
    const { state, project } = this.world;
    const bodies = (kind: ResourceKind | LbKind) => state[kind].list(project).map((e) => structuredClone(e.body) as Json);
    return {
      project,
      instances: bodies('instances'),
      disks: bodies('disks'),
      snapshots: bodies('snapshots'),
      images: bodies('images'),
      addresses: bodies('addresses'),
      firewalls: bodies('firewalls'),
      resourcePolicies: bodies('resourcePolicies'),
      sslCertificates: bodies('sslCertificates'),
      instanceGroups: bodies('instanceGroups'),
      healthChecks: bodies('healthChecks'),
      backendServices: bodies('backendServices'),
      urlMaps: bodies('urlMaps'),
      targetHttpsProxies: bodies('targetHttpsProxies'),
      targetHttpProxies: bodies('targetHttpProxies'),
      forwardingRules: bodies('forwardingRules'),
      operations: this.world.ops.all(),
      pendingOperations: this.world.ops.pending(),
      faults: this.world.faults.list(),
      tokensIssued: [...this.tokensIssued],
    };
  }

  /** Every API request so far (control requests excluded), oldest first. */
  requests(): RequestRecord[] {
    return structuredClone(this.router.log);
  }

  clearRequests(): void {
    this.router.log.length = 0;
  }

  /** Makes the next `times` matching calls fail (see FaultSpec). */
  injectFault(spec: FaultSpec): ActiveFault {
    return this.world.faults.add(spec);
  }

  clearFaults(): void {
    this.world.faults.clear();
  }

  /**
   * The next ephemeral external IPs handed out, in order (then the documentation ranges again): a
   * test host's address, so an instance created with an ephemeral IP (a k3s agent) reaches it.
   */
  nextEphemeralIps(...ips: string[]): void {
    this.world.state.queuedEphemeralIps.push(...ips);
  }

  /**
   * What the instance's serial port shows (replacing, or appended to, what it showed). May be set
   * before the instance exists; deleting the instance forgets it.
   */
  setSerialOutput(zone: string, instance: string, text: string, opts: { port?: number; append?: boolean } = {}): void {
    const path = this.instancePath(zone, instance);
    const ports = this.world.state.serial.get(path) ?? new Map();
    const port = opts.port ?? 1;
    const old = ports.get(port) ?? { discarded: 0, text: '' };
    let next = opts.append ? { discarded: old.discarded, text: old.text + text } : { discarded: 0, text };
    const bytes = Buffer.from(next.text, 'utf8');
    if (bytes.length > SERIAL_KEEP_BYTES) {
      const drop = bytes.length - SERIAL_KEEP_BYTES;
      next = { discarded: next.discarded + drop, text: bytes.subarray(drop).toString('utf8') };
    }
    ports.set(port, next);
    this.world.state.serial.set(path, ports);
  }

  /**
   * Guest attributes the guest agent published (`namespace/key` → value), replacing or merged
   * into earlier ones. Visible only while `enable-guest-attributes` is TRUE.
   */
  setGuestAttributes(zone: string, instance: string, values: Record<string, string>, opts: { merge?: boolean } = {}): void {
    for (const key of Object.keys(values)) if (!/^[^/]+\/[^/]+$/.test(key)) throw new Error(`guest attribute key ${key} must be namespace/key`);
    const path = this.instancePath(zone, instance);
    const old = opts.merge ? (this.world.state.guestAttributes.get(path) ?? new Map()) : new Map<string, string>();
    for (const [k, v] of Object.entries(values)) old.set(k, v);
    this.world.state.guestAttributes.set(path, old);
  }

  /** Guest attributes the guest deleted (the metadata server's DELETE of `namespace/key`). */
  deleteGuestAttributes(zone: string, instance: string, keys: string[]): void {
    const stored = this.world.state.guestAttributes.get(this.instancePath(zone, instance));
    for (const key of keys) stored?.delete(key);
  }

  /** Moves every unfinished operation `steps` polls on. */
  advanceOperations(steps = 1): void {
    this.world.ops.advanceAll(steps);
  }

  /** Finishes every operation. */
  settleOperations(): void {
    this.world.ops.settle();
  }

  /**
   * What Google reports of a managed certificate from now on: `ACTIVE` (issued: 90 days from now),
   * `PROVISIONING`, `PROVISIONING_FAILED`, `PROVISIONING_FAILED_PERMANENTLY`, `RENEWAL_FAILED`,
   * with each domain's status (default FAILED_NOT_VISIBLE for a failure).
   */
  setCertificateStatus(name: string, status: string, domainStatus?: string): Json {
    return setCertificateStatus(this.world, name, status, domainStatus);
  }

  /** How operations behave from now on (until reset). */
  configure(settings: { pollsToDone?: number; waitSteps?: number; readsAdvance?: boolean; certificateProvisioning?: 'when-served' | 'manual' }): void {
    if (settings.certificateProvisioning !== undefined) this.world.certificateProvisioning = settings.certificateProvisioning;
    if (settings.pollsToDone !== undefined) this.world.pollsToDone = Math.max(1, settings.pollsToDone);
    if (settings.waitSteps !== undefined) this.world.waitSteps = Math.max(0, settings.waitSteps);
    if (settings.readsAdvance !== undefined) this.world.readsAdvance = settings.readsAdvance;
  }

  setQuota(metric: RegionMetric | ProjectMetric, limit: number): void {
    const limits = this.world.quotas.limits;
    if (metric in limits.region) limits.region[metric as RegionMetric] = limit;
    else if (metric in limits.project) limits.project[metric as ProjectMetric] = limit;
    else throw new Error(`unknown quota metric ${metric}`);
  }

  setProjectMetadata(items: { key: string; value: string }[]): void {
    this.world.projectMetadata = structuredClone(items);
  }

  /**
   * Edits a stored resource in place, for states a test cannot reach through the API (an old
   * creationTimestamp for prune, a FAILED status). `location` is the zone or region; omit it for
   * global kinds.
   */
  patchResource(kind: ResourceKind, location: string | undefined, name: string, fields: Json): Json {
    const scope = SCOPES[kind];
    const entry = this.world.state[kind].get({ project: this.world.project, scope, location: scope === 'global' ? undefined : location, name });
    Object.assign(entry.body, structuredClone(fields));
    return structuredClone(entry.body) as Json;
  }

  private instancePath(zone: string, instance: string): string {
    return refPath({ project: this.world.project, scope: 'zones', location: zone, collection: 'instances', name: instance });
  }
}
