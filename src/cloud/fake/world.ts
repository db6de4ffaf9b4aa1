// The fake cloud's state: plain records per resource, the transitions in flight, and the clock.
// Time never passes by itself: a transition completes after a number of polls of its resource (a
// describe, or one round of a wait) or once the injected clock has moved past it.
import type {
  AccessPolicy,
  ClusterRule,
  AccessRule,
  AttachedDisk,
  Disk,
  Image,
  Instance,
  InstanceHealth,
  InstanceState,
  Snapshot,
  SshKey,
  StaticAddress,
} from '../port.js';
import { CloudError } from '../../core/errors.js';
import { encodeLabelValue, isLabelKey, type Labels } from '../../core/labels.js';
import type { Delay, FakeClock, ResolvedOptions } from './options.js';

/** A transition in flight: done when its polls run out, or (time-based) once the clock reaches readyAt. */
export interface Transition {
  pollsLeft?: number;
  readyAt?: number;
  total: number;
}

export interface InstanceRecord {
  seq: number;
  id: string;
  deployment: string;
  role: 'instance' | 'builder' | 'agent';
  state: InstanceState;
  /** The state change in flight (to `state`'s successor: running, stopped or terminated). */
  change?: Transition;
  /** Counts down to the moment a terminated instance is gone. */
  vanish?: Transition;
  machineType: string;
  imageId: string;
  zone: string;
  subnetId: string;
  networkId: string;
  privateIp: string;
  ephemeralIp?: string;
  /** Created with publicIp false: it never gets an ephemeral public address. */
  noPublicIp?: boolean;
  /** Set by makeReachable: the address the instance answers on whenever it runs. */
  pinnedIp?: string;
  launchTime: string;
  sshKeyName?: string;
  /** Where the key travels with the instance (GCE metadata, Azure osProfile). */
  sshPublicKey?: string;
  loginUser: string;
  accessPolicyIds: string[];
  attachments: AttachedDisk[];
  labels: Labels;
  foreignLabels: Record<string, string>;
  idempotencyKey: string;
  /** Created without its data disk: the boot guard powers it off whenever it starts without one. */
  bootGuard: boolean;
  /** How often the boot guard powered it off. */
  guardPowerOffs: number;
  userData?: string;
  consoleCalls: number;
  console?: string | ((call: number) => string);
  health?: InstanceHealth;
}

export interface DiskRecord {
  seq: number;
  id: string;
  sizeGiB: number;
  type: string;
  iops?: number;
  throughput?: number;
  zone: string;
  encrypted: boolean;
  keyId?: string;
  sourceSnapshotId?: string;
  labels: Labels;
  creating?: Transition;
  attachedTo?: string;
  detaching?: Transition;
  initializing?: Transition;
  /** Made with an initialisation rate (and the cloud honours it). */
  initialized: boolean;
  failed?: boolean;
  idempotencyKey?: string;
  /** A size change under way (disk grow): the size usable until it completes is `sizeGiB`. */
  resizing?: Transition & { targetSizeGiB: number; startedAt: number };
  /** When each size change started (the AWS profile allows 4 in 24 h). */
  resizes?: number[];
}

export interface SnapshotRecord {
  seq: number;
  id: string;
  diskId?: string;
  sizeGiB: number;
  encrypted: boolean;
  keyId?: string;
  description?: string;
  labels: Labels;
  startTime: string;
  pending?: Transition;
  failed?: boolean;
  /** createSnapshot's idempotency: operation + purpose + disk. */
  operation?: string;
  /** The image whose disk this snapshot holds (deleted with it, refused while it exists). */
  imageId?: string;
}

export interface AddressRecord {
  seq: number;
  id: string;
  ip: string;
  instanceId?: string;
  managed: boolean;
  labels: Labels;
  /** The deployment that reserved or adopted it (what makes ensureStaticAddress find it again). */
  deployment?: string;
}

export interface PolicyRecord {
  seq: number;
  id: string;
  name: string;
  networkId: string;
  rules: AccessRule[];
  labels: Labels;
  /** Ports open to the policy's own members (ensureClusterAccess). */
  clusterRules?: ClusterRule[];
}

export interface SshKeyRecord {
  seq: number;
  name: string;
  managed: boolean;
  labels: Labels;
  publicKey?: string;
}

export interface ImageRecord {
  seq: number;
  id: string;
  name: string;
  kind: 'published' | 'base' | 'built';
  version?: string;
  size?: string;
  createdAt: string;
  architecture: string;
  description?: string;
  pending?: Transition;
  failed?: boolean;
  labels: Labels;
  builderId?: string;
  runId?: string;
  rootSnapshotId?: string;
  dataSnapshotId?: string;
}

export interface ScheduleRecord {
  id: string;
  deployment: string;
  schedule: string;
  retain: number;
  params: Record<string, string>;
}

export interface SubnetRecord {
  id: string;
  zone: string;
  networkId: string;
  isDefault: boolean;
}

/** A clock that only moves when something sleeps on it (the default when a test gives none). */
export class ManualClock implements FakeClock {
  constructor(private current = Date.UTC(2026, 1, 19, 12, 0, 0)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError();
    this.current += ms;
    await Promise.resolve();
  }
}

export function abortError(): Error {
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

export class World {
  readonly instances = new Map<string, InstanceRecord>();
  readonly disks = new Map<string, DiskRecord>();
  readonly snapshots = new Map<string, SnapshotRecord>();
  readonly addresses = new Map<string, AddressRecord>();
  readonly policies = new Map<string, PolicyRecord>();
  readonly sshKeys = new Map<string, SshKeyRecord>();
  readonly images = new Map<string, ImageRecord>();
  readonly schedules = new Map<string, ScheduleRecord>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly networkId = 'net-default';
  private seq = 0;
  private readonly counters = new Map<string, number>();

  constructor(
    readonly opts: ResolvedOptions,
    readonly clock: FakeClock,
  ) {
    for (const zone of opts.zones) {
      const id = `subnet-${zone}`;
      this.subnets.set(id, { id, zone, networkId: this.networkId, isDefault: true });
    }
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** `inst-000001`, `disk-000002` … (or as options.formatId spells them): one counter per kind, so ids read in creation order. */
  newId(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return this.opts.formatId(prefix, n);
  }

  /** The next address of a /24 pool ("203.0.113" → 203.0.113.10, .11 …). */
  nextIp(pool: string): string {
    const n = (this.counters.get(`ip:${pool}`) ?? 0) + 1;
    this.counters.set(`ip:${pool}`, n);
    return `${pool}.${10 + ((n - 1) % 240)}`;
  }

  isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }

  start(delay: Delay): Transition | undefined {
    if ('polls' in delay) return delay.polls <= 0 ? undefined : { pollsLeft: delay.polls, total: delay.polls };
    return delay.ms <= 0 ? undefined : { readyAt: this.clock.now() + delay.ms, total: delay.ms };
  }

  /** Counts one poll (when `polled`) and says whether the transition is done. */
  step(t: Transition, polled: boolean): boolean {
    if (t.pollsLeft !== undefined) {
      if (polled && Number.isFinite(t.pollsLeft)) t.pollsLeft -= 1;
      return t.pollsLeft <= 0;
    }
    return this.clock.now() >= (t.readyAt ?? Infinity);
  }

  /** How far along a transition is, 0–100. */
  percent(t: Transition | undefined): number {
    if (!t) return 100;
    if (t.pollsLeft !== undefined) return Number.isFinite(t.pollsLeft) ? Math.floor((100 * (t.total - t.pollsLeft)) / t.total) : 0;
    const left = (t.readyAt ?? 0) - this.clock.now();
    return Math.max(0, Math.min(99, Math.floor((100 * (t.total - left)) / t.total)));
  }
}

/** Every live (not terminated) instance, oldest first. */
export function liveInstances(w: World): InstanceRecord[] {
  return [...w.instances.values()].filter((i) => i.state !== 'terminated').sort((a, b) => a.seq - b.seq);
}

export function publicIpOf(w: World, rec: InstanceRecord): string | undefined {
  const address = [...w.addresses.values()].find((a) => a.instanceId === rec.id);
  if (address) return address.ip;
  return rec.state === 'running' || rec.state === 'stopping' ? (rec.pinnedIp ?? rec.ephemeralIp) : undefined;
}

export function instanceView(w: World, rec: InstanceRecord): Instance {
  const view: Instance = {
    id: rec.id,
    state: rec.state,
    machineType: rec.machineType,
    imageId: rec.imageId,
    zone: rec.zone,
    subnetId: rec.subnetId,
    privateIp: rec.privateIp,
    launchTime: rec.launchTime,
    accessPolicyIds: [...rec.accessPolicyIds],
    disks: rec.attachments.map((a) => ({ ...a })),
    labels: { ...rec.labels },
    foreignLabels: { ...rec.foreignLabels },
    idempotencyKey: rec.idempotencyKey,
  };
  const ip = publicIpOf(w, rec);
  if (ip) view.publicIp = ip;
  if (rec.sshKeyName) view.sshKeyName = rec.sshKeyName;
  if (rec.sshPublicKey) view.sshPublicKey = rec.sshPublicKey;
  return view;
}

export function diskView(rec: DiskRecord): Disk {
  const state = rec.failed ? 'error' : rec.creating ? 'creating' : rec.attachedTo ? 'in-use' : 'available';
  const view: Disk = { id: rec.id, sizeGiB: rec.sizeGiB, type: rec.type, state, zone: rec.zone, encrypted: rec.encrypted, labels: { ...rec.labels } };
  if (rec.iops !== undefined) view.iops = rec.iops;
  if (rec.throughput !== undefined) view.throughput = rec.throughput;
  if (rec.keyId) view.keyId = rec.keyId;
  if (rec.sourceSnapshotId) view.sourceSnapshotId = rec.sourceSnapshotId;
  if (rec.attachedTo) view.attachedTo = rec.attachedTo;
  return view;
}

export function snapshotView(w: World, rec: SnapshotRecord): Snapshot {
  const state = rec.failed ? 'error' : rec.pending ? 'pending' : 'completed';
  const view: Snapshot = {
    id: rec.id,
    state,
    progress: `${rec.failed ? 0 : w.percent(rec.pending)}%`,
    startTime: rec.startTime,
    sizeGiB: rec.sizeGiB,
    encrypted: rec.encrypted,
    labels: { ...rec.labels },
  };
  if (rec.diskId) view.diskId = rec.diskId;
  if (rec.keyId) view.keyId = rec.keyId;
  if (rec.description) view.description = rec.description;
  return view;
}

export function addressView(rec: AddressRecord): StaticAddress {
  const view: StaticAddress = { id: rec.id, ip: rec.ip, managed: rec.managed, labels: { ...rec.labels } };
  if (rec.instanceId) view.instanceId = rec.instanceId;
  return view;
}

export function policyView(rec: PolicyRecord): AccessPolicy {
  const view: AccessPolicy = { id: rec.id, name: rec.name, rules: rec.rules.map((r) => ({ ...r })), labels: { ...rec.labels } };
  if (rec.clusterRules?.length) view.clusterRules = rec.clusterRules.map((r) => ({ ...r }));
  return view;
}

export function sshKeyView(rec: SshKeyRecord): SshKey {
  return { name: rec.name, managed: rec.managed, labels: { ...rec.labels } };
}

export function imageView(w: World, rec: ImageRecord): Image {
  const view: Image = {
    id: rec.id,
    name: rec.name,
    source: rec.kind === 'built' ? 'built' : 'published',
    createdAt: rec.createdAt,
    architecture: rec.architecture,
    state: rec.failed ? 'failed' : rec.pending ? 'pending' : 'available',
    labels: { ...rec.labels },
  };
  if (rec.version) view.version = rec.version;
  if (rec.size) view.size = rec.size;
  if (w.opts.separateDataTemplate && rec.dataSnapshotId) view.dataTemplateId = rec.dataSnapshotId;
  return view;
}

/**
 * A copy of `labels` without undefined values, refused unless every key is one of ours and every
 * value fits a GCE label once encoded: what the fake accepts, every cloud can store.
 */
export function checkedLabels(labels: Labels): Labels {
  const out: Labels = {};
  for (const [key, value] of Object.entries(labels)) {
    if (value === undefined) continue;
    if (!isLabelKey(key)) throw new CloudError('invalid-label', `"${key}" is not a label key of sourcegraph-launch`);
    if (typeof value !== 'string') throw new CloudError('invalid-label', `The value of label "${key}" is not text`);
    try {
      encodeLabelValue(value);
    } catch (e) {
      throw new CloudError('invalid-label', `The value of label "${key}" cannot be stored by every cloud: ${(e as Error).message}`);
    }
    out[key] = value;
  }
  return out;
}
