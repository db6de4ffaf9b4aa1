// The data disk's usage as the instance reports it (provision/grow-data-disk.sh prints it; the boot
// service keeps it in status.json as `dataDisk`), and the line status, logs, disk grow and doctor
// show for it, warning from 80 % used.

/** Warn from this share of the data disk in use. */
export const DATA_DISK_WARN_PERCENT = 80;

export interface DataDiskUsage {
  filesystem?: string;
  device?: string;
  /** The block device's size. */
  deviceBytes?: number;
  /** The filesystem's size (smaller than the device's until it is grown). */
  sizeBytes: number;
  usedBytes: number;
  availableBytes?: number;
  usedPercent: number;
  /** This run grew the filesystem. */
  grown?: boolean;
}

/** The usage from a parsed `dataDisk` object (status.json) or grow-data-disk.sh's output; undefined when it is not one. */
export function parseDataDiskUsage(value: unknown): DataDiskUsage | undefined {
  if (typeof value === 'string') {
    try {
      return parseDataDiskUsage(JSON.parse(value.trim().split('\n').at(-1) ?? ''));
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const num = (k: string) => (typeof v[k] === 'number' && Number.isFinite(v[k]) ? (v[k] as number) : undefined);
  const sizeBytes = num('sizeBytes');
  const usedBytes = num('usedBytes');
  if (sizeBytes === undefined || usedBytes === undefined) return undefined;
  const usedPercent = num('usedPercent') ?? (sizeBytes > 0 ? Math.ceil((usedBytes * 100) / sizeBytes) : 0);
  return {
    ...(typeof v.filesystem === 'string' ? { filesystem: v.filesystem } : {}),
    ...(typeof v.device === 'string' ? { device: v.device } : {}),
    ...(num('deviceBytes') !== undefined ? { deviceBytes: num('deviceBytes')! } : {}),
    sizeBytes,
    usedBytes,
    ...(num('availableBytes') !== undefined ? { availableBytes: num('availableBytes')! } : {}),
    usedPercent,
    ...(typeof v.grown === 'boolean' ? { grown: v.grown } : {}),
  };
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(bytes < 10 * GIB ? 1 : 0)} GiB`;

/** "/mnt/data: 412 GiB of 500 GiB used (83 %)" and, from 80 %, a warning with what to do. */
export function describeDataDiskUsage(u: DataDiskUsage, growCommand: string): { line: string; warning?: string } {
  const line = `/mnt/data: ${gib(u.usedBytes)} of ${gib(u.sizeBytes)} used (${u.usedPercent} %)${u.filesystem ? `, ${u.filesystem}` : ''}`;
  const unused = u.deviceBytes !== undefined && u.deviceBytes - u.sizeBytes > GIB ? ` The filesystem does not fill its disk yet (${gib(u.deviceBytes!)}): it grows at the next boot.` : '';
  if (u.usedPercent < DATA_DISK_WARN_PERCENT) return unused ? { line, warning: unused.trim() } : { line };
  return { line, warning: `The data disk is ${u.usedPercent} % full (warning from ${DATA_DISK_WARN_PERCENT} %).${unused} Grow it with \`${growCommand}\`.` };
}
