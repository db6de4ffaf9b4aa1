// The emulator's world: one collection per resource kind, keyed by resource path
// (`projects/p/zones/z/disks/d`), holding each resource exactly as `get` returns it. Also ids,
// fingerprints, ephemeral IPs and the per-instance serial console and guest attributes that the
// control API writes.
import { createHash } from 'node:crypto';
import { notFound } from './errors.js';
import { refPath, type Ref } from './links.js';
import type { Json } from './validate.js';

export type Labels = Record<string, string>;

/** Fields every stored resource has; the rest is the resource's own JSON. */
export interface ResourceBody extends Json {
  kind: string;
  id: string;
  name: string;
  selfLink: string;
  creationTimestamp: string;
}

export interface Labelled {
  labels?: Labels;
  labelFingerprint: string;
}

export type InstanceStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

export interface AttachedDiskBody extends Json {
  kind: 'compute#attachedDisk';
  type: 'PERSISTENT';
  mode: 'READ_WRITE' | 'READ_ONLY';
  source: string;
  deviceName: string;
  index: number;
  boot: boolean;
  autoDelete: boolean;
  interface: 'SCSI' | 'NVME';
  diskSizeGb: string;
}

export interface AccessConfigBody extends Json {
  kind: 'compute#accessConfig';
  type: 'ONE_TO_ONE_NAT';
  name: string;
  natIP?: string;
  networkTier: string;
}

export interface NetworkInterfaceBody extends Json {
  kind: 'compute#networkInterface';
  name: string;
  network: string;
  subnetwork: string;
  networkIP: string;
  fingerprint: string;
  stackType: 'IPV4_ONLY';
  accessConfigs?: AccessConfigBody[];
}

export interface InstanceBody extends ResourceBody, Labelled {
  status: InstanceStatus;
  zone: string;
  machineType: string;
  disks: AttachedDiskBody[];
  networkInterfaces: NetworkInterfaceBody[];
  metadata: { kind: 'compute#metadata'; fingerprint: string; items?: { key: string; value?: string }[] };
  tags: { fingerprint: string; items?: string[] };
  deletionProtection: boolean;
}

export type DiskStatus = 'CREATING' | 'READY' | 'DELETING' | 'RESTORING' | 'FAILED';

export interface DiskBody extends ResourceBody, Labelled {
  status: DiskStatus;
  zone: string;
  sizeGb: string;
  type: string;
  users?: string[];
  resourcePolicies?: string[];
  guestOsFeatures?: { type: string }[];
  architecture?: string;
}

export interface SnapshotBody extends ResourceBody, Labelled {
  status: 'CREATING' | 'UPLOADING' | 'READY' | 'DELETING' | 'FAILED';
  diskSizeGb: string;
  sourceDisk: string;
  sourceDiskId: string;
}

export interface ImageBody extends ResourceBody, Labelled {
  status: 'PENDING' | 'READY' | 'DELETING' | 'FAILED';
  diskSizeGb: string;
  family?: string;
  deprecated?: { state: string; replacement?: string };
  guestOsFeatures?: { type: string }[];
  architecture?: string;
}

export interface AddressBody extends ResourceBody, Labelled {
  status: 'RESERVING' | 'RESERVED' | 'IN_USE';
  region: string;
  address: string;
  addressType: 'EXTERNAL' | 'INTERNAL';
  networkTier?: string;
  users?: string[];
}

export interface FirewallBody extends ResourceBody {
  network: string;
}

export interface ResourcePolicyBody extends ResourceBody {
  region: string;
  status: 'CREATING' | 'READY' | 'DELETING';
}

/** The load-balancing kinds (tls --tls managed): their bodies are the API's, kept as given plus output fields. */
export type LbBody = ResourceBody;

export interface Entry<T> {
  ref: Ref;
  body: T;
}

export class Collection<T extends ResourceBody> {
  private readonly items = new Map<string, Entry<T>>();

  constructor(readonly collection: string) {}

  /** By name or by numeric id, as every Compute path parameter accepts both. */
  find(ref: Omit<Ref, 'collection'>): Entry<T> | undefined {
    const direct = this.items.get(refPath({ ...ref, collection: this.collection }));
    if (direct || !/^[1-9][0-9]*$/.test(ref.name)) return direct;
    return this.list(ref.project, ref.scope, ref.location).find((e) => e.body.id === ref.name);
  }
  get(ref: Omit<Ref, 'collection'>): Entry<T> {
    const found = this.find(ref);
    if (!found) throw notFound(refPath({ ...ref, collection: this.collection }));
    return found;
  }
  has(ref: Omit<Ref, 'collection'>): boolean {
    return this.items.has(refPath({ ...ref, collection: this.collection }));
  }
  put(ref: Omit<Ref, 'collection'>, body: T): Entry<T> {
    const entry = { ref: { ...ref, collection: this.collection }, body };
    this.items.set(refPath(entry.ref), entry);
    return entry;
  }
  delete(ref: Ref): void {
    this.items.delete(refPath(ref));
  }
  /** In one project, optionally one scope; in creation order. */
  list(project: string, scope?: Ref['scope'], location?: string): Entry<T>[] {
    return [...this.items.values()].filter(
      (e) => e.ref.project === project && (scope === undefined || (e.ref.scope === scope && e.ref.location === location)),
    );
  }
  all(): Entry<T>[] {
    return [...this.items.values()];
  }
  clear(): void {
    this.items.clear();
  }
}

/** Base64 of a content hash, 8 bytes like Compute's fingerprints: equal content, equal fingerprint. */
export function fingerprint(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content ?? null)).digest().subarray(0, 8).toString('base64');
}

export function labelFingerprint(labels: Labels | undefined): string {
  const sorted = Object.fromEntries(Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  return fingerprint({ labels: sorted });
}

export interface SerialBuffer {
  /** Bytes discarded from the front (the real buffer keeps about the last 1 MiB). */
  discarded: number;
  text: string;
}

export class State {
  readonly instances = new Collection<InstanceBody>('instances');
  readonly disks = new Collection<DiskBody>('disks');
  readonly snapshots = new Collection<SnapshotBody>('snapshots');
  readonly images = new Collection<ImageBody>('images');
  readonly addresses = new Collection<AddressBody>('addresses');
  readonly firewalls = new Collection<FirewallBody>('firewalls');
  readonly resourcePolicies = new Collection<ResourcePolicyBody>('resourcePolicies');
  // The global external Application Load Balancer's parts (resources/load-balancing.ts). Global
  // addresses live in `addresses` with the global scope.
  readonly sslCertificates = new Collection<LbBody>('sslCertificates');
  readonly instanceGroups = new Collection<LbBody>('instanceGroups');
  readonly healthChecks = new Collection<LbBody>('healthChecks');
  readonly backendServices = new Collection<LbBody>('backendServices');
  readonly urlMaps = new Collection<LbBody>('urlMaps');
  readonly targetHttpsProxies = new Collection<LbBody>('targetHttpsProxies');
  readonly targetHttpProxies = new Collection<LbBody>('targetHttpProxies');
  readonly forwardingRules = new Collection<LbBody>('forwardingRules');
  /** instance group path → member instance selfLinks. */
  readonly groupMembers = new Map<string, string[]>();
  /** certificate path → gets left while it is served before it turns ACTIVE (when-served provisioning). */
  readonly certificateCountdown = new Map<string, number>();
  /** instance path → port → buffer. */
  readonly serial = new Map<string, Map<number, SerialBuffer>>();
  /** instance path → `namespace/key` → value. */
  readonly guestAttributes = new Map<string, Map<string, string>>();
  private idCounter = 0n;
  private ipCounter = 0;
  /** Ephemeral external IPs a test queued (control.nextEphemeralIps), used before the documentation ranges. */
  readonly queuedEphemeralIps: string[] = [];
  private internalCounters = new Map<string, number>();

  lbCollections(): Collection<LbBody>[] {
    return [this.sslCertificates, this.instanceGroups, this.healthChecks, this.backendServices, this.urlMaps, this.targetHttpsProxies, this.targetHttpProxies, this.forwardingRules];
  }

  nextId(): string {
    this.idCounter += 1n;
    return (4_000_000_000_000_000_000n + this.idCounter * 7_919n).toString();
  }

  /**
   * Ephemeral external IPs come from documentation ranges (RFC 5737): they look like public
   * addresses but can never reach anything, so a client that dials one fails locally.
   */
  nextEphemeralIp(taken: (ip: string) => boolean): string {
    // A test may queue the next ones (a test host's address: the instance's external IP reaches it).
    const queued = this.queuedEphemeralIps.shift();
    if (queued !== undefined && !taken(queued)) return queued;
    for (;;) {
      this.ipCounter += 1;
      const block = ['203.0.113', '198.51.100'][Math.floor((this.ipCounter - 1) / 250) % 2]!;
      const ip = `${block}.${((this.ipCounter - 1) % 250) + 2}`;
      if (!taken(ip)) return ip;
    }
  }

  /** The next internal IP in a subnet range like 10.128.0.0/20 (skipping .0 and the gateway .1). */
  nextInternalIp(range: string): string {
    const next = (this.internalCounters.get(range) ?? 1) + 1;
    this.internalCounters.set(range, next);
    const [base] = range.split('/');
    const [a, b, c] = base!.split('.').map(Number) as [number, number, number];
    return `${a}.${b}.${c + Math.floor(next / 256)}.${next % 256}`;
  }

  clear(): void {
    for (const c of [this.instances, this.disks, this.snapshots, this.images, this.addresses, this.firewalls, this.resourcePolicies]) c.clear();
    for (const c of this.lbCollections()) c.clear();
    this.groupMembers.clear();
    this.certificateCountdown.clear();
    this.serial.clear();
    this.guestAttributes.clear();
    this.idCounter = 0n;
    this.ipCounter = 0;
    this.queuedEphemeralIps.length = 0;
    this.internalCounters.clear();
  }
}
