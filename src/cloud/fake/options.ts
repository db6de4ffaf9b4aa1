// What a fake cloud is made of: its region and zones, the machine types each zone offers, which
// port capabilities it claims, how long each transition takes, and the clock it runs on. Workflow
// tests pick a profile ("as AWS", "as GCE", "as Azure") and override what they need.
import type { Capabilities, Instance, ProviderId } from '../port.js';

/** How long a transition takes: a number of polls of that resource, or virtual milliseconds. */
export type Delay = { polls: number } | { ms: number };

export interface FakeDelays {
  /** pending → running (created or started). */
  instanceStart: Delay;
  /** stopping → stopped. */
  instanceStop: Delay;
  /** terminating → terminated. */
  instanceTerminate: Delay;
  /** How long a terminated instance stays visible (describe, idempotency key) before it is gone. */
  terminatedVisible: Delay;
  /** creating → available. */
  diskCreate: Delay;
  /** A detaching disk → available. */
  diskDetach: Delay;
  /** A disk made from a snapshot with an initialisation rate: initializing → completed. */
  diskInitialization: Delay;
  /** pending → completed. */
  snapshot: Delay;
  /** pending → available. */
  image: Delay;
  /** A disk's size change (resizeDisk) → the new size. */
  diskResize: Delay;
}

/** The clock the fake waits on: a VirtualClock (test/fakes) fits, and so does the engine's Clock. */
export interface FakeClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** An image present before the test starts (a publisher's, or a plain OS image builds start from). */
export interface PreloadedImage {
  id?: string;
  name: string;
  version?: string;
  size?: string;
  /** published: a Sourcegraph image; base: the plain OS image of findBaseImage. */
  kind: 'published' | 'base';
  createdAt?: string;
  architecture?: string;
}

export interface FakeCloudOptions {
  /** Which cloud's abilities the fake imitates (capabilities, keys, data templates); default 'aws'. */
  profile?: ProviderId;
  region?: string;
  /** Zone names; default `${region}a`, `b`, `c`. */
  zones?: string[];
  /** Machine type → the zones offering it; default: DEFAULT_MACHINE_TYPES over the zones. */
  machineTypes?: Record<string, string[]>;
  /** Disk type → the zones offering it (diskTypeZones); a type not listed is offered in every zone. */
  diskTypes?: Record<string, string[]>;
  /** Overrides of the profile's capabilities. */
  capabilities?: Partial<Capabilities>;
  /** The cloud keeps SSH keys by name (a key pair); false: the key travels with the instance. */
  keepsSshKeys?: boolean;
  /** Images keep the data disk apart (Image.dataTemplateId), as GCE and Azure do. */
  separateDataTemplate?: boolean;
  scopeParams?: Record<string, string>;
  account?: string;
  principal?: string;
  delays?: Partial<FakeDelays>;
  /** Default: a manual clock that starts at 2026-02-19T12:00Z and jumps forward on every sleep. */
  clock?: FakeClock;
  /** Pause between polls of a wait (virtual); default 5 s. */
  pollIntervalMs?: number;
  images?: PreloadedImage[];
  /** The public address a new instance gets when it first runs; default one from 203.0.113.0/24. */
  publicIpFor?: (instance: Instance) => string | undefined;
  /** Addresses handed out, in order, by ensureStaticAddress mode new; then 198.51.100.x. */
  staticAddressIps?: string[];
  /** What the serial console says, for instances no test scripted by id; call counts from 1. */
  consoleOutput?: (instance: Instance, call: number) => string;
  /**
   * How a new id is spelt from its kind (`inst`, `disk`, `snap`, `img`, `policy`, `addr`, `sched`,
   * `subnet`) and its number in that kind; default `snap-000001`. Command tests give the shapes
   * the registered descriptor's validators accept (a `--snapshot` the user types is checked).
   */
  formatId?: (kind: string, n: number) => string;
  /**
   * The quotas `quotas()` reports: vCPUs as given, static addresses' use counted from the world,
   * and the vCPUs of a machine type asked about (machineTypeVcpus by type). Default: none reported.
   */
  quotas?: { vcpus?: { limit: number; used: number }; staticAddresses?: { limit: number }; machineTypeVcpus?: Record<string, number> };
}

/** Machine types by zone index (0 = first zone): some offered everywhere, some in a few zones only. */
export const DEFAULT_MACHINE_TYPES: Record<string, number[]> = {
  'standard-8': [0, 1, 2],
  'standard-16': [0, 1, 2],
  'standard-32': [0, 1],
  'standard-48': [1, 2],
  'standard-96': [2],
};

export const DEFAULT_DELAYS: FakeDelays = {
  instanceStart: { polls: 1 },
  instanceStop: { polls: 1 },
  instanceTerminate: { polls: 1 },
  terminatedVisible: { ms: 60 * 60_000 },
  diskCreate: { polls: 1 },
  diskDetach: { polls: 1 },
  diskInitialization: { polls: 3 },
  snapshot: { polls: 2 },
  image: { polls: 2 },
  diskResize: { polls: 2 },
};

interface Profile {
  capabilities: Capabilities;
  keepsSshKeys: boolean;
  separateDataTemplate: boolean;
}

/**
 * What each cloud offers, as the port's capabilities describe it. "As AWS": a launch permission
 * preflight, but an existing disk only by stop → attach → start. "As GCE/Azure": the existing disk
 * attached at creation, and no preflight.
 */
export const PROFILES: Record<ProviderId, Profile> = {
  aws: {
    capabilities: {
      permissionPreflight: true,
      diskInitializationRate: true,
      snapshotSchedules: true,
      consoleHostKeys: true,
      attachExistingDiskAtCreate: false,
      instanceHealthChecks: true,
    },
    keepsSshKeys: true,
    separateDataTemplate: false,
  },
  gcp: {
    capabilities: {
      permissionPreflight: false,
      diskInitializationRate: false,
      snapshotSchedules: true,
      consoleHostKeys: true,
      attachExistingDiskAtCreate: true,
      instanceHealthChecks: false,
    },
    keepsSshKeys: false,
    separateDataTemplate: true,
  },
  azure: {
    capabilities: {
      permissionPreflight: false,
      diskInitializationRate: false,
      snapshotSchedules: false,
      consoleHostKeys: false,
      attachExistingDiskAtCreate: true,
      instanceHealthChecks: false,
    },
    keepsSshKeys: false,
    separateDataTemplate: true,
  },
};

/** The options with every default filled in. */
export interface ResolvedOptions {
  provider: ProviderId;
  region: string;
  zones: string[];
  machineTypes: Record<string, string[]>;
  diskTypes: Record<string, string[]>;
  capabilities: Capabilities;
  keepsSshKeys: boolean;
  separateDataTemplate: boolean;
  scopeParams: Record<string, string>;
  account: string;
  principal: string;
  delays: FakeDelays;
  pollIntervalMs: number;
  publicIpFor?: (instance: Instance) => string | undefined;
  staticAddressIps: string[];
  consoleOutput?: (instance: Instance, call: number) => string;
  formatId: (kind: string, n: number) => string;
  quotas?: { vcpus?: { limit: number; used: number }; staticAddresses?: { limit: number }; machineTypeVcpus?: Record<string, number> };
}

export function resolveOptions(opts: FakeCloudOptions): ResolvedOptions {
  const provider = opts.profile ?? 'aws';
  const profile = PROFILES[provider];
  const region = opts.region ?? 'fake-region-1';
  const zones = opts.zones ?? ['a', 'b', 'c'].map((s) => `${region}${s}`);
  const machineTypes =
    opts.machineTypes ??
    Object.fromEntries(
      Object.entries(DEFAULT_MACHINE_TYPES).map(([type, idx]) => [type, idx.flatMap((i) => (zones[i] ? [zones[i]] : []))]),
    );
  return {
    provider,
    region,
    zones,
    machineTypes,
    diskTypes: opts.diskTypes ?? {},
    capabilities: { ...profile.capabilities, ...opts.capabilities },
    keepsSshKeys: opts.keepsSshKeys ?? profile.keepsSshKeys,
    separateDataTemplate: opts.separateDataTemplate ?? profile.separateDataTemplate,
    scopeParams: opts.scopeParams ?? {},
    account: opts.account ?? 'fake-account',
    principal: opts.principal ?? 'fake-principal',
    delays: { ...DEFAULT_DELAYS, ...opts.delays },
    pollIntervalMs: opts.pollIntervalMs ?? 5_000,
    ...(opts.publicIpFor ? { publicIpFor: opts.publicIpFor } : {}),
    staticAddressIps: [...(opts.staticAddressIps ?? [])],
    ...(opts.consoleOutput ? { consoleOutput: opts.consoleOutput } : {}),
    formatId: opts.formatId ?? ((kind, n) => `${kind}-${String(n).padStart(6, '0')}`),
    ...(opts.quotas ? { quotas: opts.quotas } : {}),
  };
}
