// Regional and project quotas, computed from what exists (usage) against limits tests can set.
// `regions.get` / `projects.get` report them as Compute does; creating past a limit fails the
// Operation with QUOTA_EXCEEDED, as instances.insert does on the real API.
import type { Catalog } from './catalog.js';
import { quotaExceededOperation, type OperationFailure } from './errors.js';
import { lastSegment } from './links.js';
import type { State } from './state.js';

export type RegionMetric =
  | 'CPUS'
  | 'N2_CPUS'
  | 'N2D_CPUS'
  | 'INSTANCES'
  | 'SSD_TOTAL_GB'
  | 'DISKS_TOTAL_GB'
  | 'STATIC_ADDRESSES'
  | 'IN_USE_ADDRESSES'
  | 'RESOURCE_POLICIES';
export type ProjectMetric = 'SNAPSHOTS' | 'IMAGES' | 'FIREWALLS' | 'NETWORKS' | 'CPUS_ALL_REGIONS';

export interface QuotaLimits {
  region: Record<RegionMetric, number>;
  project: Record<ProjectMetric, number>;
}

/** Roomy enough for the XL preset (96 vCPUs) twice over during an upgrade. */
export const DEFAULT_QUOTA_LIMITS: QuotaLimits = {
  region: {
    CPUS: 240,
    N2_CPUS: 240,
    N2D_CPUS: 240,
    INSTANCES: 100,
    SSD_TOTAL_GB: 20480,
    DISKS_TOTAL_GB: 40960,
    STATIC_ADDRESSES: 8,
    IN_USE_ADDRESSES: 16,
    RESOURCE_POLICIES: 100,
  },
  project: { SNAPSHOTS: 5000, IMAGES: 2000, FIREWALLS: 200, NETWORKS: 15, CPUS_ALL_REGIONS: 480 },
};

export interface QuotaRow {
  metric: string;
  limit: number;
  usage: number;
}

export class Quotas {
  limits: QuotaLimits;

  constructor(
    private readonly state: State,
    private readonly catalog: Catalog,
    private readonly initial: QuotaLimits,
  ) {
    this.limits = structuredClone(initial);
  }

  reset(): void {
    this.limits = structuredClone(this.initial);
  }

  private cpus(machineTypeUrl: string): { n: number; family: string } {
    const name = lastSegment(machineTypeUrl);
    return { n: this.catalog.machineType(name)?.guestCpus ?? 0, family: name.split('-')[0]! };
  }

  regionUsage(project: string, region: string): Record<RegionMetric, number> {
    const zones = new Set(this.catalog.zonesOf(region).map((z) => z.name));
    const usage: Record<RegionMetric, number> = {
      CPUS: 0, N2_CPUS: 0, N2D_CPUS: 0, INSTANCES: 0, SSD_TOTAL_GB: 0, DISKS_TOTAL_GB: 0, STATIC_ADDRESSES: 0, IN_USE_ADDRESSES: 0, RESOURCE_POLICIES: 0,
    };
    for (const { ref, body } of this.state.instances.list(project)) {
      if (!zones.has(ref.location!)) continue;
      usage.INSTANCES += 1;
      if (body.status === 'TERMINATED') continue;
      const { n, family } = this.cpus(body.machineType);
      usage.CPUS += n;
      if (family === 'n2') usage.N2_CPUS += n;
      if (family === 'n2d') usage.N2D_CPUS += n;
      usage.IN_USE_ADDRESSES += body.networkInterfaces.flatMap((nic) => nic.accessConfigs ?? []).filter((a) => a.natIP).length;
    }
    for (const { ref, body } of this.state.disks.list(project)) {
      if (!zones.has(ref.location!)) continue;
      const metric = this.catalog.diskType(lastSegment(body.type))?.quotaMetric;
      if (metric) usage[metric] += Number(body.sizeGb);
    }
    usage.STATIC_ADDRESSES = this.state.addresses.list(project, 'regions', region).filter((a) => a.body.addressType === 'EXTERNAL').length;
    usage.RESOURCE_POLICIES = this.state.resourcePolicies.list(project, 'regions', region).length;
    return usage;
  }

  projectUsage(project: string): Record<ProjectMetric, number> {
    return {
      SNAPSHOTS: this.state.snapshots.list(project).length,
      IMAGES: this.state.images.list(project).length,
      FIREWALLS: this.state.firewalls.list(project).length,
      NETWORKS: 1,
      CPUS_ALL_REGIONS: this.catalog.regions.reduce((sum, r) => sum + this.regionUsage(project, r).CPUS, 0),
    };
  }

  regionRows(project: string, region: string): QuotaRow[] {
    const usage = this.regionUsage(project, region);
    return (Object.keys(usage) as RegionMetric[]).map((metric) => ({ metric, limit: this.limits.region[metric], usage: usage[metric] }));
  }

  projectRows(project: string): QuotaRow[] {
    const usage = this.projectUsage(project);
    return (Object.keys(usage) as ProjectMetric[]).map((metric) => ({ metric, limit: this.limits.project[metric], usage: usage[metric] }));
  }

  /** The first regional limit that `add` would exceed, as an Operation error. */
  checkRegion(project: string, region: string, add: Partial<Record<RegionMetric, number>>): OperationFailure | undefined {
    const usage = this.regionUsage(project, region);
    for (const [metric, more] of Object.entries(add) as [RegionMetric, number][]) {
      if (more > 0 && usage[metric] + more > this.limits.region[metric]) return quotaExceededOperation(metric, this.limits.region[metric], region);
    }
    return undefined;
  }

  checkProject(project: string, add: Partial<Record<ProjectMetric, number>>): OperationFailure | undefined {
    const usage = this.projectUsage(project);
    for (const [metric, more] of Object.entries(add) as [ProjectMetric, number][]) {
      if (more > 0 && usage[metric] + more > this.limits.project[metric]) return quotaExceededOperation(metric, this.limits.project[metric]);
    }
    return undefined;
  }

  /** What an instance of this machine type adds to the regional CPU quotas. */
  instanceCost(machineTypeUrl: string): Partial<Record<RegionMetric, number>> {
    const { n, family } = this.cpus(machineTypeUrl);
    return { CPUS: n, ...(family === 'n2' ? { N2_CPUS: n } : {}), ...(family === 'n2d' ? { N2D_CPUS: n } : {}) };
  }

  diskCost(typeUrl: string, sizeGb: number): Partial<Record<RegionMetric, number>> {
    const metric = this.catalog.diskType(lastSegment(typeUrl))?.quotaMetric;
    return metric ? { [metric]: sizeGb } : {};
  }
}
