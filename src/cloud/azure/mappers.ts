// ARM resources in the port's words: tags ↔ labels (prefixed tag names, values as they are: Azure
// tag values take any text up to 256 characters), ids and names, power states, disks by role.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { fromPrefixedTags, LABEL_PREFIX, toPrefixedTags, type Labels } from '../../core/labels.js';
import type { AccessPolicy, AccessRule, ClusterRule, Disk, Image, Instance, InstanceState, Snapshot, StaticAddress, WorldPortPurpose } from '../port.js';
import type { Json } from './arm.js';

/** The comment of the throwaway key a VM without a key of ours gets (see throwawayPublicKey). */
const NO_LOGIN_COMMENT = 'sourcegraph-launch-no-login';

/** The idempotency key a VM was created with: our tag, never a label nor copied to another VM. */
export const IDEMPOTENCY_TAG = `${LABEL_PREFIX}.idempotency-key`;
/** The ports we govern in an access policy; other rules are the user's and kept. */
export const GOVERNED_PORTS: readonly number[] = [22, 80, 443];
/** Our rules in an NSG are named so; anything else is left alone. */
export const RULE_PREFIX = 'sourcegraph-launch-';
/** Our k3s cluster rules (scale): ours, but not governed by launch's 22/80/443 rules, so a launch re-run keeps them. */
export const CLUSTER_RULE_PREFIX = `${RULE_PREFIX}cluster-`;
/** Our rules open to the world for one purpose (openWorldPort: `tls --tls acme`): the day-two command's, so a launch re-run keeps them. */
export const WORLD_RULE_PREFIX = `${RULE_PREFIX}world-`;

/** `sourcegraph-launch-world-acme-http-01-80`: the rule openWorldPort makes for `purpose` on `port`. */
export function worldRuleName(purpose: WorldPortPurpose, port: number): string {
  return `${WORLD_RULE_PREFIX}${purpose}-${port}`;
}

function worldRulePurpose(name: string): WorldPortPurpose | undefined {
  return /^sourcegraph-launch-world-acme-http-01-\d+$/.test(name) ? 'acme-http-01' : undefined;
}

/**
 * The application security group of an access policy (NSG): the deployment's own machines, by their
 * NIC ip configurations. It lives beside the NSG, named after it, so every part (launch, scale,
 * upgrade, destroy) finds it from the policy id alone.
 */
export function asgIdOfPolicy(nsgId: string): string {
  const m = /^(.*)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)$/i.exec(nsgId);
  if (!m) return `${nsgId}-cluster`;
  return `${m[1]}/providers/Microsoft.Network/applicationSecurityGroups/${safeName(`${m[2]}-cluster`, 80)}`;
}

export function tagName(key: keyof Labels): string {
  return `${LABEL_PREFIX}:${key}`;
}

export function toTags(labels: Labels, foreign: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...foreign, ...toPrefixedTags(labels) };
}

export function fromTags(tags: Readonly<Record<string, string>> | undefined): { labels: Labels; foreign: Record<string, string> } {
  const { [IDEMPOTENCY_TAG]: _key, ...rest } = tags ?? {};
  return fromPrefixedTags(rest);
}

/** The last segment of an ARM id (its name). */
export function nameOf(id: string): string {
  return id.split('/').filter(Boolean).pop() ?? id;
}

/** ARM ids compare case-insensitively. */
export function sameId(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/**
 * A resource name from free text: letters, digits and hyphens, at most `max` characters; when it
 * had to be cut, a hash of the whole keeps it unique.
 */
export function safeName(text: string, max = 60): string {
  const clean = text.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
  if (clean.length <= max) return clean;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8);
  return `${clean.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** A VM's power and provisioning state in the port's words ("stopped" means deallocated or stopped). */
export function vmState(vm: Json): InstanceState {
  const prov = String(vm.properties?.provisioningState ?? '');
  if (prov === 'Deleting') return 'terminating';
  const statuses = (vm.properties?.instanceView?.statuses as { code?: string }[] | undefined) ?? [];
  const power = statuses.map((s) => s.code ?? '').find((c) => c.startsWith('PowerState/'))?.slice('PowerState/'.length);
  switch (power) {
    case 'running':
      return 'running';
    case 'starting':
      return 'pending';
    case 'stopping':
    case 'deallocating':
      return 'stopping';
    case 'stopped':
    case 'deallocated':
      return 'stopped';
    default:
      return prov === 'Failed' ? 'stopped' : 'pending';
  }
}

export function toInstance(vm: Json, nic: Json | undefined, publicIp: string | undefined): Instance {
  const props = vm.properties ?? {};
  const storage = props.storageProfile ?? {};
  const { labels, foreign } = fromTags(vm.tags);
  const os = storage.osDisk;
  const disks: Instance['disks'] = [];
  if (os?.managedDisk?.id) disks.push({ role: 'root', diskId: os.managedDisk.id, deleteWithInstance: os.deleteOption === 'Delete' });
  for (const d of (storage.dataDisks as Json[] | undefined) ?? []) {
    if (!d.managedDisk?.id || d.toBeDetached) continue;
    disks.push({ role: d.lun === 0 ? 'data' : 'other', diskId: d.managedDisk.id, deleteWithInstance: d.deleteOption === 'Delete' });
  }
  const image = storage.imageReference ?? {};
  const ipConfig = (nic?.properties?.ipConfigurations as Json[] | undefined)?.[0]?.properties;
  const nsg = nic?.properties?.networkSecurityGroup?.id as string | undefined;
  // The login key the VM was made with (an agent gets the same); never the throwaway no-login key.
  const keys = (props.osProfile?.linuxConfiguration?.ssh?.publicKeys as { keyData?: string }[] | undefined) ?? [];
  const sshPublicKey = keys.map((k) => k.keyData?.trim()).find((k) => k && !k.endsWith(NO_LOGIN_COMMENT));
  return {
    id: vm.id,
    state: vmState(vm),
    machineType: props.hardwareProfile?.vmSize ?? '',
    imageId: image.id ?? (image.publisher ? `${image.publisher}:${image.offer}:${image.sku}:${image.exactVersion ?? image.version}` : ''),
    zone: (vm.zones as string[] | undefined)?.[0] ?? '',
    ...(ipConfig?.subnet?.id ? { subnetId: ipConfig.subnet.id } : {}),
    ...(publicIp ? { publicIp } : {}),
    ...(ipConfig?.privateIPAddress ? { privateIp: ipConfig.privateIPAddress } : {}),
    ...(props.timeCreated ? { launchTime: props.timeCreated } : {}),
    accessPolicyIds: nsg ? [nsg] : [],
    ...(sshPublicKey ? { sshPublicKey } : {}),
    disks,
    labels,
    foreignLabels: foreign,
    ...(vm.tags?.[IDEMPOTENCY_TAG] ? { idempotencyKey: vm.tags[IDEMPOTENCY_TAG] } : {}),
    ...(vm.identity?.userAssignedIdentities ? { instanceIdentity: Object.keys(vm.identity.userAssignedIdentities)[0]! } : {}),
  };
}

export function diskState(disk: Json): Disk['state'] {
  const prov = String(disk.properties?.provisioningState ?? '');
  if (prov === 'Deleting') return 'deleting';
  if (prov === 'Failed') return 'error';
  if (prov !== 'Succeeded') return 'creating';
  const state = String(disk.properties?.diskState ?? 'Unattached');
  return state === 'Unattached' ? 'available' : 'in-use';
}

export function toDisk(disk: Json): Disk {
  const p = disk.properties ?? {};
  const source = p.creationData?.sourceResourceId as string | undefined;
  return {
    id: disk.id,
    sizeGiB: p.diskSizeGB ?? 0,
    type: disk.sku?.name ?? '',
    ...(p.diskIOPSReadWrite ? { iops: p.diskIOPSReadWrite } : {}),
    ...(p.diskMBpsReadWrite ? { throughput: p.diskMBpsReadWrite } : {}),
    state: diskState(disk),
    zone: (disk.zones as string[] | undefined)?.[0] ?? '',
    encrypted: true,
    ...(p.encryption?.diskEncryptionSetId ? { keyId: p.encryption.diskEncryptionSetId } : {}),
    ...(source && /\/snapshots\//i.test(source) ? { sourceSnapshotId: source } : {}),
    ...(disk.managedBy ? { attachedTo: disk.managedBy } : {}),
    labels: fromTags(disk.tags).labels,
  };
}

export function toSnapshot(s: Json): Snapshot {
  const p = s.properties ?? {};
  const prov = String(p.provisioningState ?? '');
  const pct = p.completionPercent as number | undefined;
  const state = prov === 'Failed' ? 'error' : prov === 'Succeeded' && (pct === undefined || pct >= 100) ? 'completed' : 'pending';
  return {
    id: s.id,
    ...(p.creationData?.sourceResourceId ? { diskId: p.creationData.sourceResourceId } : {}),
    state,
    ...(pct !== undefined ? { progress: `${pct}%` } : {}),
    ...(p.timeCreated ? { startTime: p.timeCreated } : {}),
    sizeGiB: p.diskSizeGB ?? 0,
    encrypted: true,
    ...(s.tags?.[`${LABEL_PREFIX}.description`] ? { description: s.tags[`${LABEL_PREFIX}.description`] } : {}),
    labels: fromTags(s.tags).labels,
  };
}

function ports(rule: Json): number[] {
  const p = rule.properties ?? {};
  const ranges: string[] = p.destinationPortRanges?.length ? p.destinationPortRanges : p.destinationPortRange ? [p.destinationPortRange] : [];
  return ranges.filter((r) => /^\d+$/.test(r)).map(Number);
}

function sources(rule: Json): string[] {
  const p = rule.properties ?? {};
  return p.sourceAddressPrefixes?.length ? p.sourceAddressPrefixes : p.sourceAddressPrefix ? [p.sourceAddressPrefix] : [];
}

/** The inbound TCP allow rules on single ports, one AccessRule per port and source. */
export function rulesOf(nsg: Json): AccessRule[] {
  const out: AccessRule[] = [];
  for (const rule of (nsg.properties?.securityRules as Json[] | undefined) ?? []) {
    const p = rule.properties ?? {};
    if (p.direction !== 'Inbound' || p.access !== 'Allow' || !['Tcp', '*'].includes(p.protocol)) continue;
    const purpose = worldRulePurpose(String(rule.name ?? ''));
    for (const port of ports(rule)) for (const cidr of sources(rule)) out.push({ port, cidr: cidr === '*' ? '0.0.0.0/0' : cidr, ...(purpose ? { purpose } : {}) });
  }
  return out;
}

/**
 * The cluster ports open between the policy's machines: inbound allow rules whose source AND
 * destination are the policy's own application security group (never an address prefix).
 */
export function clusterRulesOf(nsg: Json): ClusterRule[] {
  const asg = asgIdOfPolicy(nsg.id);
  const names = (refs: unknown) => ((refs as { id?: string }[] | undefined) ?? []).map((r) => r.id);
  const out: ClusterRule[] = [];
  for (const rule of (nsg.properties?.securityRules as Json[] | undefined) ?? []) {
    const p = rule.properties ?? {};
    const protocol = String(p.protocol).toLowerCase();
    if (p.direction !== 'Inbound' || p.access !== 'Allow' || (protocol !== 'tcp' && protocol !== 'udp')) continue;
    if (!names(p.sourceApplicationSecurityGroups).some((id) => sameId(id, asg)) || !names(p.destinationApplicationSecurityGroups).some((id) => sameId(id, asg))) continue;
    for (const port of ports(rule)) out.push({ protocol: protocol as ClusterRule['protocol'], port, sourcePolicyId: nsg.id });
  }
  return out;
}

export function toAccessPolicy(nsg: Json): AccessPolicy {
  const clusterRules = clusterRulesOf(nsg);
  return { id: nsg.id, name: nsg.name, rules: rulesOf(nsg), labels: fromTags(nsg.tags).labels, ...(clusterRules.length ? { clusterRules } : {}) };
}

/** Owner VM of a NIC's ip configuration id (…/networkInterfaces/<nic>/ipConfigurations/<c>) is found through the NIC. */
export function nicIdOfIpConfiguration(ipConfigId: string): string {
  return ipConfigId.replace(/\/ipConfigurations\/[^/]+$/i, '');
}

export function toAddress(pip: Json, instanceId: string | undefined): StaticAddress {
  const { labels } = fromTags(pip.tags);
  return {
    id: pip.id,
    ip: pip.properties?.ipAddress ?? '',
    ...(instanceId ? { instanceId } : {}),
    managed: labels.managed === 'true' && labels.role === 'address',
    labels,
  };
}

export function toImage(version: Json, source: Image['source'], dataTemplateId?: string): Image {
  const { labels } = fromTags(version.tags);
  const prov = String(version.properties?.provisioningState ?? '');
  return {
    id: version.id,
    name: labels.build ? `sourcegraph-${labels.build}` : nameOf(version.id.replace(/\/versions\/[^/]+$/i, '')),
    ...(labels.version ? { version: labels.version } : { version: nameOf(version.id) }),
    ...(labels.size ? { size: labels.size } : {}),
    source,
    ...(version.properties?.publishingProfile?.publishedDate ? { createdAt: version.properties.publishingProfile.publishedDate } : {}),
    architecture: 'x86_64',
    state: prov === 'Succeeded' ? 'available' : prov === 'Failed' ? 'failed' : 'pending',
    ...(dataTemplateId ? { dataTemplateId } : {}),
    labels,
  };
}

/**
 * An OpenSSH ed25519 public key whose private half is thrown away at once. Azure requires an SSH key
 * when password login is off; a VM launched without one of ours (SshKeySpec "none") gets this, so
 * nobody can log in with a key and no password exists.
 */
export function throwawayPublicKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(der.subarray(der.length - 32))]);
  return `ssh-ed25519 ${blob.toString('base64')} ${NO_LOGIN_COMMENT}`;
}
