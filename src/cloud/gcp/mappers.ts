// Ids, names and labels as GCE keeps them, and Compute resources in the port's words. SDK-free and
// pure, so the request builders (dry runs) and the tests use them offline.
//
// Ids are paths relative to the project, so one string says where a thing is:
//   instance  zones/<zone>/instances/<name>      disk      zones/<zone>/disks/<name>
//   snapshot  global/snapshots/<name>            image     projects/<project>/global/images/<name>
//   address   regions/<region>/addresses/<name>  schedule  regions/<region>/resourcePolicies/<name>
//   access policy: the network tag its firewall rules target (one rule per port, `<tag>-<port>`).
import { createHash } from 'node:crypto';
import { fromEncodedLabels, toEncodedLabels, type Labels } from '../../core/labels.js';
import type { AccessPolicy, AccessRule, AttachedDisk, ClusterRule, Disk, Image, Instance, InstanceState, Snapshot, StaticAddress, WorldPortPurpose } from '../port.js';
import type { Json } from './context.js';

/** The device name the provision scripts look for (/dev/disk/by-id/google-sourcegraph-data). */
export const DATA_DEVICE = 'sourcegraph-data';
export const ROOT_DEVICE = 'root';
/** Instance metadata keys of ours (labels hold only our neutral keys). */
export const META_IDEMPOTENCY = 'sourcegraph-launch-idempotency-key';
export const META_IMAGE = 'sourcegraph-launch-image';
/** The marker that starts a firewall description holding a policy's labels (firewalls have no labels). */
export const FIREWALL_MARK = 'sourcegraph-launch ';
export const GOVERNED_PORTS = [22, 80, 443] as const;

export function lastSegment(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** `https://…/projects/p/zones/z/disks/d` → `zones/z/disks/d` (same project) or `projects/p/…`. */
export function idFromLink(link: string, project: string): string {
  const m = /projects\/([^/]+)\/(.+)$/.exec(link);
  if (!m) return link;
  return m[1] === project && !m[2]!.startsWith('global/images/') ? m[2]! : `projects/${m[1]}/${m[2]}`;
}

export interface ZonalId {
  zone: string;
  name: string;
}

export function parseZonal(id: string, kind: 'instances' | 'disks'): ZonalId | undefined {
  const m = new RegExp(`^(?:projects/[^/]+/)?zones/([a-z0-9-]+)/${kind}/([a-z0-9-]+)$`).exec(id);
  return m ? { zone: m[1]!, name: m[2]! } : undefined;
}

export function parseRegional(id: string, kind: 'addresses' | 'resourcePolicies'): { region: string; name: string } | undefined {
  const m = new RegExp(`^(?:projects/[^/]+/)?regions/([a-z0-9-]+)/${kind}/([a-z0-9-]+)$`).exec(id);
  return m ? { region: m[1]!, name: m[2]! } : undefined;
}

export function parseGlobal(id: string, kind: 'snapshots' | 'images'): { project?: string; name: string } | undefined {
  const m = new RegExp(`^(?:projects/([^/]+)/)?global/${kind}/([a-z0-9-]+)$`).exec(id);
  return m ? { ...(m[1] ? { project: m[1] } : {}), name: m[2]! } : undefined;
}

export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** A resource name (RFC 1035, ≤ 63) from readable parts, with a hash of `key` so it is unique and stable. */
export function resourceName(readable: string, key: string, max = 63): string {
  let base = readable.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (!/^[a-z]/.test(base)) base = `sg-${base}`;
  const suffix = hash(key, 8);
  return `${base.slice(0, max - suffix.length - 1).replace(/-$/, '')}-${suffix}`;
}

/** A readable name within the limit: kept as it is when it fits, else cut and hashed. */
export function fitName(name: string, max = 63): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const safe = /^[a-z]/.test(clean) ? clean : `sg-${clean}`;
  return safe.length <= max ? safe : resourceName(safe, name, max);
}

/** A requestId (a UUID, never all zeros) stable for one idempotency key in one project. */
export function requestIdFor(project: string, key: string): string {
  const h = createHash('sha256').update(`${project}\n${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Our labels plus the user's, as GCE stores them. */
export function gceLabels(labels: Labels, foreign: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...foreign, ...toEncodedLabels(labels) };
}

export function splitLabels(stored: unknown): { labels: Labels; foreign: Record<string, string> } {
  return fromEncodedLabels((stored ?? {}) as Record<string, string>);
}

export function metadataValue(resource: Json, key: string): string | undefined {
  const items = ((resource.metadata as Json | undefined)?.items ?? []) as { key: string; value?: string }[];
  return items.find((i) => i.key === key)?.value;
}

export function instanceState(status: string | undefined): InstanceState {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    case 'STOPPING':
    case 'SUSPENDING':
      return 'stopping';
    default:
      return 'stopped';
  }
}

export function toInstance(raw: Json, project: string): Instance {
  const zone = lastSegment(String(raw.zone ?? ''));
  const nic = ((raw.networkInterfaces ?? []) as Json[])[0] ?? {};
  const access = ((nic.accessConfigs ?? []) as Json[])[0];
  const { labels, foreign } = splitLabels(raw.labels);
  const disks: AttachedDisk[] = ((raw.disks ?? []) as Json[]).map((d) => ({
    role: d.boot ? 'root' : d.deviceName === DATA_DEVICE ? 'data' : 'other',
    diskId: idFromLink(String(d.source ?? ''), project),
    deleteWithInstance: d.autoDelete === true,
  }));
  const key = metadataValue(raw, META_IDEMPOTENCY);
  const serviceAccount = ((raw.serviceAccounts ?? []) as Json[])[0]?.email;
  const publicKey = sshPublicKeyOf(metadataValue(raw, 'ssh-keys'));
  return {
    id: `zones/${zone}/instances/${String(raw.name)}`,
    state: instanceState(raw.status as string | undefined),
    machineType: lastSegment(String(raw.machineType ?? '')),
    imageId: metadataValue(raw, META_IMAGE) ?? '',
    zone,
    ...(nic.subnetwork ? { subnetId: idFromLink(String(nic.subnetwork), project) } : {}),
    ...(access?.natIP ? { publicIp: String(access.natIP) } : {}),
    ...(nic.networkIP ? { privateIp: String(nic.networkIP) } : {}),
    ...(raw.creationTimestamp ? { launchTime: new Date(String(raw.creationTimestamp)).toISOString() } : {}),
    accessPolicyIds: ((raw.tags as Json | undefined)?.items ?? []) as string[],
    disks,
    labels,
    foreignLabels: foreign,
    ...(key ? { idempotencyKey: key } : {}),
    ...(typeof serviceAccount === 'string' ? { instanceIdentity: serviceAccount } : {}),
    ...(publicKey ? { sshPublicKey: publicKey } : {}),
  };
}

/** The key of the first `user:key` line of `ssh-keys` metadata (ours has one line: the deployment's key). */
export function sshPublicKeyOf(value: string | undefined): string | undefined {
  const line = value?.split('\n').map((l) => l.trim()).find((l) => /^[^:\s]+:\S/.test(l));
  return line ? line.slice(line.indexOf(':') + 1).trim() : undefined;
}

function diskState(raw: Json): string {
  switch (raw.status) {
    case 'CREATING':
    case 'RESTORING':
      return 'creating';
    case 'READY':
      return ((raw.users ?? []) as string[]).length ? 'in-use' : 'available';
    case 'DELETING':
      return 'deleting';
    case 'FAILED':
      return 'error';
    default:
      return String(raw.status ?? 'unknown').toLowerCase();
  }
}

export function toDisk(raw: Json, project: string): Disk {
  const users = (raw.users ?? []) as string[];
  const key = (raw.diskEncryptionKey as Json | undefined)?.kmsKeyName;
  return {
    id: `zones/${lastSegment(String(raw.zone))}/disks/${String(raw.name)}`,
    sizeGiB: Number(raw.sizeGb ?? 0),
    type: lastSegment(String(raw.type ?? '')),
    ...(raw.provisionedIops ? { iops: Number(raw.provisionedIops) } : {}),
    ...(raw.provisionedThroughput ? { throughput: Number(raw.provisionedThroughput) } : {}),
    state: diskState(raw),
    zone: lastSegment(String(raw.zone)),
    // Compute encrypts every disk; a customer key shows as kmsKeyName.
    encrypted: true,
    ...(typeof key === 'string' ? { keyId: key } : {}),
    ...(raw.sourceSnapshot ? { sourceSnapshotId: idFromLink(String(raw.sourceSnapshot), project) } : {}),
    ...(users[0] ? { attachedTo: idFromLink(users[0], project) } : {}),
    labels: splitLabels(raw.labels).labels,
  };
}

export function toSnapshot(raw: Json, project: string): Snapshot {
  const status = String(raw.status ?? '');
  const key = (raw.snapshotEncryptionKey as Json | undefined)?.kmsKeyName;
  return {
    id: `global/snapshots/${String(raw.name)}`,
    ...(raw.sourceDisk ? { diskId: idFromLink(String(raw.sourceDisk), project) } : {}),
    state: status === 'READY' ? 'completed' : status === 'FAILED' ? 'error' : status === 'DELETING' ? 'deleting' : 'pending',
    ...(raw.creationTimestamp ? { startTime: new Date(String(raw.creationTimestamp)).toISOString() } : {}),
    sizeGiB: Number(raw.diskSizeGb ?? 0),
    encrypted: true,
    ...(typeof key === 'string' ? { keyId: key } : {}),
    ...(raw.description ? { description: String(raw.description) } : {}),
    labels: splitLabels(raw.labels).labels,
  };
}

export function toAddress(raw: Json, project: string): StaticAddress {
  const { labels } = splitLabels(raw.labels);
  const users = (raw.users ?? []) as string[];
  return {
    id: `regions/${lastSegment(String(raw.region))}/addresses/${String(raw.name)}`,
    ip: String(raw.address ?? ''),
    ...(users[0] ? { instanceId: idFromLink(users[0], project) } : {}),
    // Reserved by the tool unless it was brought (owner: user) or carries none of our labels.
    managed: labels.managed === 'true' && labels.owner !== 'user',
    labels,
  };
}

/** An image in the port's words; `published` when it lies in Sourcegraph's project and is not one we built. */
export function toImage(raw: Json, project: string, publishedProject: string): Image {
  const { labels } = splitLabels(raw.labels);
  const imageProject = /projects\/([^/]+)\//.exec(String(raw.selfLink ?? ''))?.[1] ?? project;
  const status = String(raw.status ?? '');
  const dataTemplate = labels.build ? (raw.description ? /data-template=(global\/snapshots\/[a-z0-9-]+)/.exec(String(raw.description))?.[1] : undefined) : undefined;
  return {
    id: `projects/${imageProject}/global/images/${String(raw.name)}`,
    name: String(raw.name),
    ...(labels.version ? { version: labels.version } : {}),
    ...(labels.size ? { size: labels.size } : {}),
    source: labels.build ? 'built' : imageProject === publishedProject ? 'published' : 'flag',
    ...(raw.creationTimestamp ? { createdAt: new Date(String(raw.creationTimestamp)).toISOString() } : {}),
    ...(raw.architecture ? { architecture: String(raw.architecture).toLowerCase() === 'arm64' ? 'arm64' : 'x86_64' } : {}),
    state: status === 'READY' ? 'available' : status === 'PENDING' ? 'pending' : status.toLowerCase(),
    ...(dataTemplate ? { dataTemplateId: dataTemplate } : {}),
    labels,
  };
}

/** A firewall description holding a policy's labels (firewalls cannot be labelled). */
export function firewallDescription(policyName: string, port: number, labels: Labels): string {
  return `${FIREWALL_MARK}${JSON.stringify({ policy: policyName, port, labels })}`;
}

/** The purpose a rule of openWorldPort's carries in its description (world-port.ts); undefined for launch's rules. */
export function firewallPurpose(raw: Json): WorldPortPurpose | undefined {
  const d = String(raw.description ?? '');
  if (!d.startsWith(FIREWALL_MARK)) return undefined;
  try {
    const purpose = (JSON.parse(d.slice(FIREWALL_MARK.length)) as { purpose?: unknown }).purpose;
    return purpose === 'acme-http-01' ? purpose : undefined;
  } catch {
    return undefined;
  }
}

export function firewallLabels(raw: Json): { policy: string; labels: Labels } | undefined {
  const d = String(raw.description ?? '');
  if (!d.startsWith(FIREWALL_MARK)) return undefined;
  try {
    const parsed = JSON.parse(d.slice(FIREWALL_MARK.length)) as { policy?: string; labels?: Labels };
    return { policy: parsed.policy ?? '', labels: parsed.labels ?? {} };
  } catch {
    return undefined;
  }
}

/** Firewall rules of one network tag as one access policy: tcp rules on single ports, per source range. */
export function toAccessPolicy(tag: string, firewalls: Json[]): AccessPolicy {
  const rules: AccessRule[] = [];
  let labels: Labels = {};
  let name = tag;
  for (const f of firewalls) {
    const ours = firewallLabels(f);
    if (ours) {
      labels = { ...ours.labels, ...labels };
      name = ours.policy || name;
    }
    const purpose = firewallPurpose(f);
    for (const allowed of (f.allowed ?? []) as { IPProtocol?: string; ports?: string[] }[]) {
      if (allowed.IPProtocol !== 'tcp') continue;
      for (const p of allowed.ports ?? []) {
        if (!/^\d+$/.test(p)) continue;
        for (const cidr of (f.sourceRanges ?? []) as string[]) rules.push({ port: Number(p), cidr, ...(purpose ? { purpose } : {}) });
      }
    }
  }
  const policy: AccessPolicy = { id: tag, name, rules, labels };
  // The cluster ports scale opens: a rule whose source is the policy's own network tag.
  const clusterRules: ClusterRule[] = [];
  for (const f of firewalls) {
    if (!((f.sourceTags ?? []) as string[]).includes(tag)) continue;
    for (const allowed of (f.allowed ?? []) as { IPProtocol?: string; ports?: string[] }[]) {
      const protocol = allowed.IPProtocol;
      if (protocol !== 'tcp' && protocol !== 'udp') continue;
      for (const p of allowed.ports ?? []) if (/^\d+$/.test(p)) clusterRules.push({ protocol, port: Number(p), sourcePolicyId: tag });
    }
  }
  if (clusterRules.length) policy.clusterRules = clusterRules;
  return policy;
}
