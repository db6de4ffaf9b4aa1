// The emulator's core, shared by every resource module: state, catalogue, operations, quotas,
// faults, links and the clock, plus the checks every handler needs (known project, zone, region).
import { Catalog, PUBLIC_IMAGE_PROJECT, PUBLIC_IMAGES, UBUNTU_GUEST_OS_FEATURES, stableId, type ZoneSpec } from './catalog.js';
import { notFound } from './errors.js';
import { Faults } from './faults.js';
import { defaultFirewallRules } from './resources/firewalls.js';
import { GOOGLE_SELF_LINK_BASE, Links, refPath, timestamp, type Ref } from './links.js';
import { Operations, type MutationPlan } from './operations.js';
import { DEFAULT_QUOTA_LIMITS, Quotas, type QuotaLimits } from './quotas.js';
import { labelFingerprint, State, type ImageBody } from './state.js';
import type { Json } from './validate.js';

export interface WorldOptions {
  project: string;
  zones?: ZoneSpec[];
  /** Polls an Operation takes from PENDING to DONE (default 2: PENDING, RUNNING, DONE). */
  pollsToDone?: number;
  /** Polls one `operations.wait` call moves (default 1, so it often answers before DONE). */
  waitSteps?: number;
  /** Whether a `get` of a resource moves the operations changing it (default true). */
  readsAdvance?: boolean;
  selfLinkBase?: string;
  now?: () => Date;
  quotas?: { region?: Partial<QuotaLimits['region']>; project?: Partial<QuotaLimits['project']> };
  /** Serial port 1 output for instances the control API has not written to. */
  serialOutput?: (instance: { project: string; zone: string; name: string }) => string | undefined;
  /** Guest attributes (`namespace/key` → value) for instances the control API has not written to. */
  guestAttributes?: (instance: { project: string; zone: string; name: string }) => Record<string, string> | undefined;
  /** Project-wide metadata (`commonInstanceMetadata`), e.g. `enable-oslogin`. */
  projectMetadata?: { key: string; value: string }[];
  /**
   * How a Google-managed certificate is provisioned: `when-served` (default) turns it ACTIVE a few
   * reads after it is on a target HTTPS proxy that a forwarding rule serves and every domain's A
   * record (in the emulator's Cloud DNS) points at that rule's address, as Google does; `manual`
   * leaves it PROVISIONING until control.setCertificateStatus.
   */
  certificateProvisioning?: 'when-served' | 'manual';
  /** Create the four rules Compute makes with the `default` network (default true). */
  defaultFirewallRules?: boolean;
}

/** What a handler is called with: the validated request. */
export interface Call {
  /** `instances.insert`. */
  route: string;
  project: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: Json;
}

export type Answer = { json: Json } | { plan: MutationPlan };
export type Handler = (call: Call, world: World) => Answer;

export class World {
  readonly state = new State();
  readonly catalog: Catalog;
  readonly links: Links;
  readonly ops: Operations;
  readonly quotas: Quotas;
  readonly faults: Faults;
  pollsToDone: number;
  waitSteps: number;
  readsAdvance: boolean;
  projectMetadata: { key: string; value: string }[];
  certificateProvisioning: 'when-served' | 'manual';
  /** The A records of a name in the emulator's Cloud DNS (set by index.ts), for certificate provisioning. */
  resolveA: (name: string) => string[] = () => [];

  constructor(
    readonly opts: WorldOptions,
    mutating: (method: string) => boolean | undefined,
  ) {
    this.catalog = new Catalog(opts.zones);
    this.links = new Links(opts.selfLinkBase ?? GOOGLE_SELF_LINK_BASE);
    this.pollsToDone = opts.pollsToDone ?? 2;
    this.waitSteps = opts.waitSteps ?? 1;
    this.readsAdvance = opts.readsAdvance ?? true;
    this.projectMetadata = structuredClone(opts.projectMetadata ?? []);
    this.certificateProvisioning = opts.certificateProvisioning ?? 'when-served';
    this.ops = new Operations({
      links: this.links,
      pollsToDone: () => this.pollsToDone,
      now: () => this.now(),
      user: `sourcegraph-launch-test@${opts.project}.iam.gserviceaccount.com`,
      nextId: () => this.state.nextId(),
    });
    this.quotas = new Quotas(this.state, this.catalog, {
      region: { ...DEFAULT_QUOTA_LIMITS.region, ...opts.quotas?.region },
      project: { ...DEFAULT_QUOTA_LIMITS.project, ...opts.quotas?.project },
    });
    this.faults = new Faults(mutating);
    this.seed();
  }

  get project(): string {
    return this.opts.project;
  }

  now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  timestamp(): string {
    return timestamp(this.now());
  }

  /** Everything back to the start: no resources, operations, faults or remembered requestIds. */
  reset(): void {
    this.state.clear();
    this.ops.clear();
    this.faults.clear();
    this.quotas.reset();
    this.pollsToDone = this.opts.pollsToDone ?? 2;
    this.waitSteps = this.opts.waitSteps ?? 1;
    this.readsAdvance = this.opts.readsAdvance ?? true;
    this.projectMetadata = structuredClone(this.opts.projectMetadata ?? []);
    this.certificateProvisioning = this.opts.certificateProvisioning ?? 'when-served';
    this.seed();
  }

  /** Canonical's public images (read-only in their own project) and the default network's firewall rules. */
  private seed(): void {
    if (this.opts.defaultFirewallRules !== false) {
      for (const rule of defaultFirewallRules(this, this.project)) this.state.firewalls.put({ project: this.project, scope: 'global', name: rule.name }, rule);
    }
    for (const spec of PUBLIC_IMAGES) {
      const ref: Ref = { project: PUBLIC_IMAGE_PROJECT, scope: 'global', collection: 'images', name: spec.name };
      const body: ImageBody = {
        kind: 'compute#image',
        id: stableId(spec.name),
        creationTimestamp: `${spec.date}T10:00:00.000-07:00`,
        name: spec.name,
        description: `Canonical, Ubuntu, 24.04 LTS, ${spec.architecture === 'ARM64' ? 'arm64' : 'amd64'} noble image built on ${spec.date}`,
        sourceType: 'RAW',
        status: 'READY',
        archiveSizeBytes: '2213675520',
        diskSizeGb: '10',
        licenses: [`${this.links.base}projects/${PUBLIC_IMAGE_PROJECT}/global/licenses/ubuntu-2404-lts`],
        family: spec.family,
        selfLink: this.links.of(ref),
        labelFingerprint: labelFingerprint(undefined),
        guestOsFeatures: UBUNTU_GUEST_OS_FEATURES.map((type) => ({ type })),
        storageLocations: ['us', 'eu', 'asia'],
        architecture: spec.architecture,
        ...(spec.deprecatedBy
          ? { deprecated: { state: 'DEPRECATED', replacement: this.links.of({ ...ref, name: spec.deprecatedBy }) } }
          : {}),
      };
      this.state.images.put(ref, body);
    }
  }

  /** The projects that exist: the test project, and the public image project (images only). */
  checkProject(project: string): void {
    if (project !== this.project && project !== PUBLIC_IMAGE_PROJECT) throw notFound(`projects/${project}`);
  }

  checkZone(project: string, zone: string): void {
    if (!this.catalog.zone(zone)) throw notFound(`projects/${project}/zones/${zone}`);
  }

  checkRegion(project: string, region: string): void {
    if (!this.catalog.hasRegion(region)) throw notFound(`projects/${project}/regions/${region}`);
  }

  regionOf(zone: string): string {
    const spec = this.catalog.zone(zone);
    if (!spec) throw notFound(`zones/${zone}`);
    return spec.region;
  }

  /** Counts a `get` of a resource as a poll of the operations changing it (see Operations). */
  touch(ref: Ref): void {
    if (this.readsAdvance) this.ops.touch(refPath(ref));
  }
}
