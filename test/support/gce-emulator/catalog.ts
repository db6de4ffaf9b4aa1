// What exists before anything is created: regions and zones, the machine types and disk types each
// zone offers, the `default` network with its auto-mode subnetworks, and Canonical's public Ubuntu
// images. Offerings differ by zone on purpose (n2-standard-96 is not in us-central1-a, us-east1-b
// has no N2 at all, hyperdisk-balanced only in some zones) so tests can exercise "pick a zone that
// offers the type". Tests can pass their own zones.
import { createHash } from 'node:crypto';

export interface MachineTypeSpec {
  name: string;
  guestCpus: number;
  memoryMb: number;
  isSharedCpu: boolean;
  description: string;
}

export interface ZoneSpec {
  name: string;
  region: string;
  /** Machine type names offered in the zone. */
  machineTypes: string[];
  /** Disk type names offered in the zone. */
  diskTypes: string[];
  cpuPlatforms?: string[];
}

export interface DiskTypeSpec {
  name: string;
  description: string;
  defaultDiskSizeGb: number;
  minSizeGb: number;
  maxSizeGb: number;
  /** Which regional quota the type counts against. */
  quotaMetric: 'SSD_TOTAL_GB' | 'DISKS_TOTAL_GB' | undefined;
}

/** A stable numeric id (uint64 as a decimal string) for catalogue objects. */
export function stableId(text: string): string {
  const hash = createHash('sha256').update(text).digest();
  return (hash.readBigUInt64BE(0) % 9_000_000_000_000_000_000n + 1_000_000_000_000_000_000n).toString();
}

function family(prefix: string, sizes: number[], mbPerCpu: number, label: string): MachineTypeSpec[] {
  return sizes.map((cpus) => ({
    name: `${prefix}-standard-${cpus}`,
    guestCpus: cpus,
    memoryMb: cpus * mbPerCpu,
    isSharedCpu: false,
    description: `${cpus} vCPUs ${(cpus * mbPerCpu) / 1024} GB RAM${label}`,
  }));
}

export const MACHINE_TYPES: MachineTypeSpec[] = [
  { name: 'e2-micro', guestCpus: 2, memoryMb: 1024, isSharedCpu: true, description: 'Efficient Instance, 2 vCPU (1/8 shared physical core) and 1 GB RAM' },
  { name: 'e2-small', guestCpus: 2, memoryMb: 2048, isSharedCpu: true, description: 'Efficient Instance, 2 vCPU (1/4 shared physical core) and 2 GB RAM' },
  { name: 'e2-medium', guestCpus: 2, memoryMb: 4096, isSharedCpu: true, description: 'Efficient Instance, 2 vCPU (1/2 shared physical core) and 4 GB RAM' },
  ...family('e2', [2, 4, 8, 16, 32], 4096, ''),
  ...family('n2', [2, 4, 8, 16, 32, 48, 64, 80, 96, 128], 4096, ''),
  ...family('n2d', [2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224], 4096, ''),
];

export const DISK_TYPES: DiskTypeSpec[] = [
  { name: 'pd-standard', description: 'Standard Persistent Disk', defaultDiskSizeGb: 500, minSizeGb: 10, maxSizeGb: 65536, quotaMetric: 'DISKS_TOTAL_GB' },
  { name: 'pd-balanced', description: 'Balanced Persistent Disk', defaultDiskSizeGb: 100, minSizeGb: 10, maxSizeGb: 65536, quotaMetric: 'SSD_TOTAL_GB' },
  { name: 'pd-ssd', description: 'SSD Persistent Disk', defaultDiskSizeGb: 100, minSizeGb: 10, maxSizeGb: 65536, quotaMetric: 'SSD_TOTAL_GB' },
  { name: 'hyperdisk-balanced', description: 'Hyperdisk Balanced Persistent Disk', defaultDiskSizeGb: 100, minSizeGb: 4, maxSizeGb: 65536, quotaMetric: undefined },
];

const names = (prefix: string, max?: number) =>
  MACHINE_TYPES.filter((m) => m.name.startsWith(`${prefix}-`) && (max === undefined || m.guestCpus <= max)).map((m) => m.name);
const E2 = names('e2');
const N2 = names('n2');
const N2D = names('n2d');
const PD = ['pd-standard', 'pd-balanced', 'pd-ssd'];
const HD = [...PD, 'hyperdisk-balanced'];

const zone = (name: string, types: string[][], disks: string[]): ZoneSpec => ({
  name,
  region: name.replace(/-[a-z]$/, ''),
  machineTypes: types.flat(),
  diskTypes: disks,
});

export const DEFAULT_ZONES: ZoneSpec[] = [
  zone('us-central1-a', [E2, names('n2', 80), N2D], HD),
  zone('us-central1-b', [E2, N2, N2D], HD),
  zone('us-central1-c', [E2, N2, N2D], HD),
  zone('us-central1-f', [E2, N2], PD),
  zone('us-east1-b', [E2, N2D], PD),
  zone('us-east1-c', [E2, N2, N2D], HD),
  zone('us-east1-d', [E2, names('n2', 48)], HD),
  zone('us-west1-a', [E2, N2, N2D], HD),
  zone('us-west1-b', [E2, N2, N2D], HD),
  zone('us-west1-c', [E2, N2D], PD),
  zone('europe-west1-b', [E2, N2, N2D], HD),
  zone('europe-west1-c', [E2, names('n2', 80)], PD),
  zone('europe-west1-d', [E2, N2, N2D], HD),
  zone('europe-west4-a', [E2, N2, N2D], HD),
  zone('europe-west4-b', [E2, N2, N2D], HD),
  zone('europe-west4-c', [E2, names('n2', 80), N2D], HD),
  zone('asia-southeast1-a', [E2, N2, N2D], HD),
  zone('asia-southeast1-b', [E2, names('n2', 48), N2D], HD),
  zone('asia-southeast1-c', [E2, N2D], PD),
];

/** Auto-mode subnet ranges of the default network (Google's published table). */
const AUTO_SUBNETS: Record<string, string> = {
  'us-central1': '10.128.0.0/20',
  'europe-west1': '10.132.0.0/20',
  'us-west1': '10.138.0.0/20',
  'us-east1': '10.142.0.0/20',
  'asia-southeast1': '10.148.0.0/20',
  'europe-west4': '10.164.0.0/20',
};

const REGION_DESCRIPTIONS: Record<string, string> = {
  'us-central1': 'us-central1',
  'us-east1': 'us-east1',
  'us-west1': 'us-west1',
  'europe-west1': 'europe-west1',
  'europe-west4': 'europe-west4',
  'asia-southeast1': 'asia-southeast1',
};

export class Catalog {
  readonly zones: ZoneSpec[];
  readonly regions: string[];

  constructor(zones: ZoneSpec[] = DEFAULT_ZONES) {
    this.zones = zones;
    this.regions = [...new Set(zones.map((z) => z.region))];
    for (const z of zones) {
      for (const m of z.machineTypes) if (!this.machineType(m)) throw new Error(`zone ${z.name}: unknown machine type ${m}`);
      for (const d of z.diskTypes) if (!this.diskType(d)) throw new Error(`zone ${z.name}: unknown disk type ${d}`);
    }
  }

  zone(name: string): ZoneSpec | undefined {
    return this.zones.find((z) => z.name === name);
  }
  zonesOf(region: string): ZoneSpec[] {
    return this.zones.filter((z) => z.region === region);
  }
  hasRegion(name: string): boolean {
    return this.regions.includes(name);
  }
  machineType(name: string): MachineTypeSpec | undefined {
    return MACHINE_TYPES.find((m) => m.name === name);
  }
  diskType(name: string): DiskTypeSpec | undefined {
    return DISK_TYPES.find((d) => d.name === name);
  }
  subnetRange(region: string): string {
    return AUTO_SUBNETS[region] ?? `10.${200 + this.regions.indexOf(region)}.0.0/20`;
  }
  regionDescription(region: string): string {
    return REGION_DESCRIPTIONS[region] ?? region;
  }
}

/** One of Canonical's public images in `ubuntu-os-cloud`. */
export interface PublicImageSpec {
  name: string;
  family: string;
  architecture: 'X86_64' | 'ARM64';
  /** Build date, also the creation time: the newest non-deprecated image of a family wins. */
  date: string;
  deprecatedBy?: string;
}

export const PUBLIC_IMAGE_PROJECT = 'ubuntu-os-cloud';

export const PUBLIC_IMAGES: PublicImageSpec[] = [
  { name: 'ubuntu-2404-noble-amd64-v20250425', family: 'ubuntu-2404-lts-amd64', architecture: 'X86_64', date: '2025-04-25', deprecatedBy: 'ubuntu-2404-noble-amd64-v20250530' },
  { name: 'ubuntu-2404-noble-amd64-v20250530', family: 'ubuntu-2404-lts-amd64', architecture: 'X86_64', date: '2025-05-30' },
  { name: 'ubuntu-2404-noble-arm64-v20250530', family: 'ubuntu-2404-lts-arm64', architecture: 'ARM64', date: '2025-05-30' },
];

/** Guest OS features of Canonical's 24.04 images (UEFI_COMPATIBLE makes Shielded VM possible). */
export const UBUNTU_GUEST_OS_FEATURES = ['VIRTIO_SCSI_MULTIQUEUE', 'SEV_CAPABLE', 'SEV_SNP_CAPABLE', 'SEV_LIVE_MIGRATABLE', 'UEFI_COMPATIBLE', 'GVNIC'];
