// Everything the emulator knows, in memory: resource groups, resources by id, long-running operations,
// injected faults, the test's choices (next public IPs, serial logs) and the tunables. ARM ids and
// names are case-insensitive, so every map is keyed by the lower-cased id; a resource keeps the
// casing it was created with.
import { randomUUID } from 'node:crypto';
import type { CloudErrorBody } from './errors.js';
import type { SkuRestriction } from './skus.js';

export type ProvisioningState = 'Creating' | 'Updating' | 'Deleting' | 'Succeeded' | 'Failed' | 'Canceled';

/** Which resource provider answers: decides LRO headers, status URL shapes and api-version. */
export type Family = 'resources' | 'network' | 'compute' | 'disks' | 'gallery';

export const API_VERSIONS: Record<Family, string> = {
  resources: '2024-07-01',
  network: '2024-05-01',
  compute: '2024-07-01',
  disks: '2024-03-02',
  gallery: '2024-03-03',
};

export interface ResourceGroup {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  managedBy?: string;
  provisioningState: 'Succeeded' | 'Deleting';
  pendingOperation?: string;
}

export interface StoredResource {
  id: string;
  type: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  zones?: string[];
  sku?: Record<string, unknown>;
  /** `properties` as answered, without provisioningState (kept below). */
  properties: Record<string, unknown>;
  /** Other top-level members answered as they are (managedBy, identity, plan, etag …). */
  top: Record<string, unknown>;
  provisioningState: ProvisioningState;
  /** The LRO now running on this resource, if any: other writes get 409 until it ends. */
  pendingOperation?: string;
  /** The last accepted request body (cleaned), to recognise a repeated PUT. */
  request?: unknown;
  /** Emulator-only state (power state, attachments, sizes …), typed by each provider. */
  internal: Record<string, unknown>;
}

export interface Operation {
  id: string;
  /** The swagger operationId, e.g. VirtualMachines_Start. */
  name: string;
  family: Family;
  subscriptionId: string;
  location: string;
  resourceId?: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  /** InProgress answers still to give before the operation ends. */
  pollsLeft: number;
  polls: number;
  startTime: string;
  endTime?: string;
  error?: CloudErrorBody;
  /** HTTP status the Location URL answers when the operation failed. */
  failStatus?: number;
  /** Set by an injected fault: the operation ends Failed with this error. */
  injectedFailure?: { status: number; error: CloudErrorBody };
  /** What the Location URL answers once the operation succeeded. */
  result?: { status: number; body?: unknown };
  onSuccess: () => { status: number; body?: unknown } | void;
  onFailure: (error: CloudErrorBody) => void;
}

export interface FaultSpec {
  /** The swagger operationId to fail (e.g. VirtualMachines_CreateOrUpdate), or '*' for every call. */
  operationId: string;
  /** How many matching calls fail (default 1). */
  count?: number;
  /**
   * 'sync' (default): the call itself answers `status` with the error. 'lro': the call is accepted
   * and its long-running operation ends Failed with the error (only for long-running operations).
   */
  mode?: 'sync' | 'lro';
  /** HTTP status: default 429 for TooManyRequests, otherwise 409. For 'lro', what the Location URL answers. */
  status?: number;
  code: string;
  message?: string;
  /** Retry-After seconds on the error response (default 1 for 429). */
  retryAfterSeconds?: number;
  /** Only calls whose path contains this text (case-insensitive), e.g. a resource name. */
  pathContains?: string;
}

export interface ActiveFault extends Required<Pick<FaultSpec, 'operationId' | 'mode' | 'code'>> {
  remaining: number;
  status: number;
  message: string;
  retryAfterSeconds?: number;
  pathContains?: string;
}

export interface EmulatorConfig {
  /** InProgress answers every long-running operation gives before it ends (default 1). */
  lroPolls: number;
  /** Per swagger operationId, overriding lroPolls (e.g. { VirtualMachines_CreateOrUpdate: 3 }). */
  lroPollsByOperation: Record<string, number>;
  /** Retry-After on 201/202 answers and InProgress polls (default 0, so clients poll at once). */
  retryAfterSeconds: number;
  /**
   * A GET of a resource whose operation is running also advances that operation by one poll, as
   * the real service makes progress while a client that lost the status URL reads the resource
   * (default true).
   */
  advanceOnResourceGet: boolean;
  /** Items per page of list answers before a nextLink (default 100). */
  pageSize: number;
  /** Regions the subscription may use. */
  locations: string[];
  /** VM sizes offered (in every location and zone). */
  vmSizes: string[];
  /** Managed disk types the Resource SKUs list offers (in every location, zones 1–3). */
  diskSkus: string[];
  /** Sizes and disk types the Resource SKUs list marks restricted (a whole location, or some zones). */
  skuRestrictions: SkuRestriction[];
  /** Check every answer against the swagger response schema (emulator self-check; default true). */
  validateResponses: boolean;
  /** Quota limits the usages lists report: regional vCPUs, per VM family (default: as cores), public IPs. */
  usageLimits: { cores: number; families: Record<string, number>; publicIPAddresses: number };
}

export const DEFAULT_LOCATIONS = [
  'eastus', 'eastus2', 'westus', 'westus2', 'westus3', 'centralus', 'southcentralus', 'northcentralus',
  'canadacentral', 'brazilsouth', 'northeurope', 'westeurope', 'uksouth', 'francecentral',
  'germanywestcentral', 'swedencentral', 'switzerlandnorth', 'norwayeast', 'southeastasia', 'eastasia',
  'japaneast', 'koreacentral', 'centralindia', 'australiaeast', 'southafricanorth', 'uaenorth',
];

const sizes = (family: string, counts: number[]) => counts.map((n) => family.replace('{n}', String(n)));

export const DEFAULT_VM_SIZES = [
  ...sizes('Standard_D{n}as_v5', [2, 4, 8, 16, 32, 48, 64, 96]),
  ...sizes('Standard_D{n}s_v5', [2, 4, 8, 16, 32, 48, 64, 96]),
  ...sizes('Standard_D{n}as_v6', [2, 4, 8, 16, 32, 48, 64, 96]),
  ...sizes('Standard_D{n}ads_v5', [2, 4, 8, 16, 32, 48, 64, 96]),
  'Standard_B1s', 'Standard_B2s', 'Standard_B2ms', 'Standard_B4ms',
];

export const DEFAULT_DISK_SKUS = ['Premium_LRS', 'PremiumV2_LRS'];

export function defaultConfig(): EmulatorConfig {
  return {
    lroPolls: 1,
    lroPollsByOperation: {},
    retryAfterSeconds: 0,
    advanceOnResourceGet: true,
    pageSize: 100,
    locations: [...DEFAULT_LOCATIONS],
    vmSizes: [...DEFAULT_VM_SIZES],
    diskSkus: [...DEFAULT_DISK_SKUS],
    skuRestrictions: [],
    validateResponses: true,
    usageLimits: { cores: 100, families: {}, publicIPAddresses: 20 },
  };
}

export class State {
  readonly groups = new Map<string, ResourceGroup>();
  readonly resources = new Map<string, StoredResource>();
  readonly operations = new Map<string, Operation>();
  faults: ActiveFault[] = [];
  /** Addresses the next public IPs get, in order. */
  nextPublicIps: string[] = [];
  /** Addresses for public IPs by name (lower-cased), whenever one with that name is created. */
  publicIpsByName = new Map<string, string>();
  /** Serial console logs by `<resource group>/<vm name>` (lower-cased); may be set before the VM exists. */
  serialLogs = new Map<string, string>();
  /** Counters for names and addresses the emulator makes up. */
  private counters = new Map<string, number>();

  constructor(
    readonly subscriptionId: string,
    public config: EmulatorConfig,
  ) {}

  next(counter: string): number {
    const n = (this.counters.get(counter) ?? 0) + 1;
    this.counters.set(counter, n);
    return n;
  }

  group(name: string): ResourceGroup | undefined {
    return this.groups.get(name.toLowerCase());
  }

  get(id: string): StoredResource | undefined {
    return this.resources.get(normalizeId(id));
  }

  put(resource: StoredResource): void {
    this.resources.set(normalizeId(resource.id), resource);
  }

  remove(id: string): void {
    this.resources.delete(normalizeId(id));
  }

  ofType(type: string): StoredResource[] {
    const t = type.toLowerCase();
    return [...this.resources.values()].filter((r) => r.type.toLowerCase() === t);
  }

  inGroup(rg: string): StoredResource[] {
    const g = rg.toLowerCase();
    return [...this.resources.values()].filter((r) => r.resourceGroup.toLowerCase() === g);
  }

  newUuid(): string {
    return randomUUID();
  }
}

/** Lower-cased, one leading slash, no trailing slash: the key of an ARM id. */
export function normalizeId(id: string): string {
  return `/${id.replace(/^\/+/, '').replace(/\/+$/, '')}`.toLowerCase();
}

export interface ParsedId {
  subscriptionId: string;
  resourceGroup: string;
  provider: string;
  /** e.g. ['virtualNetworks', 'subnets'] */
  types: string[];
  names: string[];
}

/** Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…]`. */
export function parseId(id: string): ParsedId | undefined {
  const parts = id.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (parts.length < 8 || parts.length % 2 !== 0) return undefined;
  if (parts[0]!.toLowerCase() !== 'subscriptions' || parts[2]!.toLowerCase() !== 'resourcegroups' || parts[4]!.toLowerCase() !== 'providers') {
    return undefined;
  }
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 6; i < parts.length; i += 2) {
    types.push(parts[i]!);
    names.push(decodeURIComponent(parts[i + 1]!));
  }
  return { subscriptionId: parts[1]!, resourceGroup: decodeURIComponent(parts[3]!), provider: parts[5]!, types, names };
}

export function resourceId(subscriptionId: string, rg: string, provider: string, ...typeNames: string[]): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/${provider}/${typeNames.join('/')}`;
}

/** "West US" → "westus": ARM accepts display names and answers the short form. */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}
