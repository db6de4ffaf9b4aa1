// Request bodies the emulator's tests (and adapter tests setting up state) use often: the shape of
// what the launcher creates (NOTES.md §5, §10, §11).
import type { Json } from './validate.js';

export const UBUNTU_FAMILY = 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64';

export interface InstanceBodyOptions {
  zone: string;
  machineType?: string;
  /** Reserved external address for nic0's access config; `null` for no external IP; omitted: ephemeral. */
  natIP?: string | null;
  /** Data disks to attach: `{source, deviceName, autoDelete}`. */
  dataDisks?: Json[];
  labels?: Record<string, string>;
  tags?: string[];
  metadata?: Record<string, string>;
}

/** An instance like the launcher's: boot disk from the Ubuntu family (pd-ssd, deleted with it), nic0 with NAT. */
export function instanceBody(name: string, opts: InstanceBodyOptions): Json {
  const accessConfigs = opts.natIP === null ? undefined : [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT', networkTier: 'PREMIUM', ...(opts.natIP ? { natIP: opts.natIP } : {}) }];
  return {
    name,
    machineType: `zones/${opts.zone}/machineTypes/${opts.machineType ?? 'n2-standard-8'}`,
    disks: [
      {
        boot: true,
        autoDelete: true,
        deviceName: 'boot',
        initializeParams: { sourceImage: UBUNTU_FAMILY, diskSizeGb: '50', diskType: `zones/${opts.zone}/diskTypes/pd-ssd` },
      },
      ...(opts.dataDisks ?? []),
    ],
    networkInterfaces: [{ network: 'global/networks/default', ...(accessConfigs ? { accessConfigs } : {}) }],
    ...(opts.labels ? { labels: opts.labels } : {}),
    ...(opts.tags ? { tags: { items: opts.tags } } : {}),
    ...(opts.metadata ? { metadata: { items: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })) } } : {}),
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
  };
}

export function diskBody(name: string, zone: string, extra: Json = {}): Json {
  return { name, sizeGb: '100', type: `zones/${zone}/diskTypes/pd-ssd`, ...extra };
}

export function firewallBody(name: string, extra: Json = {}): Json {
  return {
    name,
    network: 'global/networks/default',
    direction: 'INGRESS',
    allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }],
    sourceRanges: ['203.0.113.0/24'],
    targetTags: [name],
    ...extra,
  };
}

export const SNAPSHOT_SCHEDULE = {
  schedule: { dailySchedule: { daysInCycle: 1, startTime: '04:00' } },
  retentionPolicy: { maxRetentionDays: 14, onSourceDiskDelete: 'KEEP_AUTO_SNAPSHOTS' },
  snapshotProperties: { labels: { 'sourcegraph-launch-role': 'backup' }, guestFlush: false },
};
