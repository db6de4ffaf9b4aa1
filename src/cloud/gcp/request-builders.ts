// The Compute request bodies the adapter sends, built from the port's specs. Pure: the adapter
// sends exactly these, and `--dry-run --json` prints them (service "compute", operation as the
// API names the method, input {project, zone|region, requestId, body}).
import { randomUUID } from 'node:crypto';
import type { Labels } from '../../core/labels.js';
import { CLUSTER_PORTS, type AccessPolicySpec, type AddressSpec, type CloudRequest, type DiskFromSnapshotSpec, type ImageFromBuilderSpec, type InstanceSpec, type LaunchRequestsSpec, type SnapshotScheduleSpec, type SnapshotSpec, type SshKeySpec } from '../port.js';
import type { Json } from './context.js';
import {
  DATA_DEVICE,
  firewallDescription,
  fitName,
  gceLabels,
  GOVERNED_PORTS,
  META_IDEMPOTENCY,
  META_IMAGE,
  requestIdFor,
  resourceName,
  ROOT_DEVICE,
} from './mappers.js';

export const SERVICE = 'compute';
/** Instance names leave room for "-root" / "-data" disk names within 63. */
const INSTANCE_NAME_MAX = 57;

export function instanceName(spec: Pick<InstanceSpec, 'deployment' | 'role' | 'idempotencyKey'>): string {
  return resourceName(`${spec.deployment}-${spec.role === 'builder' ? 'builder' : 'vm'}`, spec.idempotencyKey, INSTANCE_NAME_MAX);
}

/** The network tag (= access policy id) of a policy name; its firewall rules are `<tag>-<port>`. */
export function policyTag(name: string): string {
  return fitName(name, 58);
}

export function firewallName(tag: string, port: number): string {
  return `${tag}-${port}`;
}

/** A fresh name per reservation (a released address's name is not reused). */
export function addressName(deployment: string, unique: string = randomUUID()): string {
  return resourceName(`sourcegraph-launch-${deployment}`, unique);
}

export function snapshotName(spec: Pick<SnapshotSpec, 'deployment' | 'diskId' | 'operation' | 'labels'>): string {
  return resourceName(`${spec.deployment}-snap`, `${spec.operation}\n${spec.labels.purpose ?? ''}\n${spec.diskId}`);
}

export function diskFromSnapshotName(spec: Pick<DiskFromSnapshotSpec, 'deployment' | 'idempotencyKey'>): string {
  return resourceName(`${spec.deployment}-data`, spec.idempotencyKey);
}

export function scheduleName(deployment: string): string {
  return resourceName(`sourcegraph-launch-${deployment}-daily`, deployment);
}

function diskType(zone: string, type: string): string {
  return `zones/${zone}/diskTypes/${type}`;
}

function sshKeysValue(loginUser: string, key: SshKeySpec): string | undefined {
  return key.mode === 'import' ? `${loginUser}:${key.publicKey.trim()}` : undefined;
}

/** instances.insert: Shielded VM, boot disk deleted with it, the data disk by mode, key in metadata. */
export function instanceBody(spec: InstanceSpec, opts: { project: string; natIP?: string; schedulePolicy?: string }): Json {
  const zone = spec.placement.zone;
  const name = instanceName(spec);
  const dataLabels = gceLabels({ ...spec.labels, role: spec.role === 'builder' ? 'builder-data' : 'data-volume' });
  const rootLabels = gceLabels({ ...spec.labels, role: 'root-volume' });
  const disks: Json[] = [
    {
      boot: true,
      autoDelete: true,
      deviceName: ROOT_DEVICE,
      initializeParams: { diskName: `${name}-root`, sourceImage: spec.imageId, diskSizeGb: String(spec.rootDisk.sizeGiB), diskType: diskType(zone, spec.rootDisk.type), labels: rootLabels },
      ...(spec.encryptionKeyId ? { diskEncryptionKey: { kmsKeyName: spec.encryptionKeyId } } : {}),
    },
  ];
  const d = spec.dataDisk;
  if (d.mode === 'new' || d.mode === 'snapshot') {
    const source = d.mode === 'snapshot' ? d.snapshotId : spec.dataTemplateId;
    disks.push({
      boot: false,
      autoDelete: !spec.keepDataDisk,
      deviceName: DATA_DEVICE,
      initializeParams: {
        diskName: `${name}-data`,
        diskSizeGb: String(d.disk.sizeGiB),
        diskType: diskType(zone, d.disk.type),
        ...(source ? { sourceSnapshot: source } : {}),
        ...(d.disk.iops ? { provisionedIops: String(d.disk.iops) } : {}),
        ...(opts.schedulePolicy ? { resourcePolicies: [opts.schedulePolicy] } : {}),
        labels: dataLabels,
      },
      ...(spec.encryptionKeyId ? { diskEncryptionKey: { kmsKeyName: spec.encryptionKeyId } } : {}),
    });
  } else if (d.mode === 'existing') {
    disks.push({ boot: false, autoDelete: false, deviceName: DATA_DEVICE, source: d.diskId });
  }
  const metadata: { key: string; value: string }[] = [
    { key: META_IDEMPOTENCY, value: spec.idempotencyKey },
    { key: META_IMAGE, value: spec.imageId },
    // The key travels with the instance; project-wide keys never reach it.
    { key: 'block-project-ssh-keys', value: 'TRUE' },
    // The guest agent publishes the SSH host keys here, read before the first connection.
    { key: 'enable-guest-attributes', value: 'TRUE' },
    // Keep serial port output in Cloud Logging for boot diagnosis after the fact.
    { key: 'serial-port-logging-enable', value: 'TRUE' },
  ];
  const keys = sshKeysValue(spec.loginUser, spec.sshKey);
  if (keys) metadata.push({ key: 'ssh-keys', value: keys });
  if (spec.userDataBase64) metadata.push({ key: 'user-data', value: spec.userDataBase64 }, { key: 'user-data-encoding', value: 'base64' });
  return {
    name,
    machineType: `zones/${zone}/machineTypes/${spec.machineType}`,
    disks,
    networkInterfaces: [
      {
        // A subnetwork alone names its network (a scale agent knows only the server's subnetwork,
        // which need not be in the default network).
        ...(spec.placement.networkId || !spec.placement.subnetId ? { network: spec.placement.networkId ?? 'global/networks/default' } : {}),
        ...(spec.placement.subnetId ? { subnetwork: spec.placement.subnetId } : {}),
        // Without an access config the instance has no external address (spec.publicIp false).
        ...(spec.publicIp === false ? {} : { accessConfigs: [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT', networkTier: 'PREMIUM', ...(opts.natIP ? { natIP: opts.natIP } : {}) }] }),
      },
    ],
    tags: { items: [...spec.accessPolicyIds] },
    metadata: { items: metadata },
    labels: gceLabels(spec.labels, spec.foreignLabels),
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
    ...(spec.instanceIdentity ? { serviceAccounts: [{ email: spec.instanceIdentity, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }] } : {}),
  };
}

/** One firewall rule per governed port that has sources: tcp on that port, to the policy's tag. */
export function firewallBodies(spec: AccessPolicySpec): Json[] {
  const tag = policyTag(spec.name);
  const bodies: Json[] = [];
  for (const port of GOVERNED_PORTS) {
    const cidrs = [...new Set(spec.rules.filter((r) => r.port === port).map((r) => r.cidr))].sort();
    if (!cidrs.length) continue;
    bodies.push({
      name: firewallName(tag, port),
      description: firewallDescription(spec.name, port, spec.labels),
      network: spec.placement.networkId ?? 'global/networks/default',
      direction: 'INGRESS',
      priority: 1000,
      allowed: [{ IPProtocol: 'tcp', ports: [String(port)] }],
      sourceRanges: cidrs,
      targetTags: [tag],
    });
  }
  return bodies;
}

export function addressBody(deployment: string, labels: Labels, unique?: string): Json {
  return { name: addressName(deployment, unique), addressType: 'EXTERNAL', networkTier: 'PREMIUM', description: `sourcegraph-launch: the address of ${deployment}`, labels: gceLabels(labels) };
}

export function snapshotBody(spec: SnapshotSpec): Json {
  return { name: snapshotName(spec), description: spec.description, labels: gceLabels(spec.labels) };
}

export function diskFromSnapshotBody(spec: DiskFromSnapshotSpec): Json {
  return {
    name: diskFromSnapshotName(spec),
    sizeGb: String(spec.disk.sizeGiB),
    type: diskType(spec.zone, spec.disk.type),
    sourceSnapshot: spec.snapshotId,
    labels: gceLabels(spec.labels),
    ...(spec.encryptionKeyId ? { diskEncryptionKey: { kmsKeyName: spec.encryptionKeyId } } : {}),
  };
}

export function scheduleBody(spec: SnapshotScheduleSpec, region: string): Json {
  return {
    name: scheduleName(spec.deployment),
    description: `sourcegraph-launch ${JSON.stringify({ deployment: spec.deployment, retain: spec.retain })}`,
    region,
    snapshotSchedulePolicy: {
      schedule: { dailySchedule: { daysInCycle: 1, startTime: '04:00' } },
      retentionPolicy: { maxRetentionDays: spec.retain, onSourceDiskDelete: 'KEEP_AUTO_SNAPSHOTS' },
      snapshotProperties: { labels: gceLabels({ deployment: spec.deployment, purpose: 'scheduled', managed: 'true' }), guestFlush: false },
    },
  };
}

/** The root image of a build: from the builder's boot disk; the data disk's snapshot is named in its description. */
export function imageBody(spec: ImageFromBuilderSpec, rootDiskId: string, dataTemplateId: string | undefined): Json {
  return {
    name: fitName(spec.name),
    description: `${spec.description}${dataTemplateId ? ` data-template=${dataTemplateId}` : ''}`,
    sourceDisk: rootDiskId,
    family: 'sourcegraph-launch',
    labels: gceLabels(spec.labels),
  };
}

export function imageDataSnapshotName(spec: ImageFromBuilderSpec): string {
  return resourceName(`${spec.name}-data`, spec.runId);
}

// ---- the dry run: what each step would send ----

function req(operation: string, input: Json): CloudRequest {
  return { service: SERVICE, operation, input };
}

/** What a real run sends under a fresh requestId each time (found again by name or labels, not by id). */
const FRESH_ID = '<a new UUID>';
/** Offline the zone is not known yet: the first zone of the region that offers the machine type. */
const zoneOf = (spec: InstanceSpec) => spec.placement.zone || '<zone>';

export function accessRequests(project: string, spec: AccessPolicySpec): CloudRequest[] {
  return firewallBodies(spec).map((body) => req('firewalls.insert', { project, requestId: FRESH_ID, body }));
}

export function addressRequests(project: string, region: string, spec: AddressSpec): CloudRequest[] {
  if (spec.mode === 'none') return [];
  if (spec.mode === 'existing') return [req('addresses.setLabels', { project, region, resource: spec.id, body: { labels: gceLabels({ deployment: spec.deployment, owner: 'user' }) } })];
  return [req('addresses.insert', { project, region, requestId: FRESH_ID, body: addressBody(spec.deployment, spec.labels, `dry-run/${spec.deployment}`) })];
}

export function instanceRequests(project: string, spec: InstanceSpec): CloudRequest[] {
  const out: CloudRequest[] = [];
  // An existing data disk goes straight into the insert (attached at creation).
  const zone = zoneOf(spec);
  out.push(req('instances.insert', { project, zone, requestId: requestIdFor(project, spec.idempotencyKey), body: instanceBody({ ...spec, placement: { ...spec.placement, zone } }, { project }) }));
  return out;
}

export function launchRequests(project: string, region: string, spec: LaunchRequestsSpec): CloudRequest[] {
  const zone = zoneOf(spec.instance);
  const requests = [...accessRequests(project, spec.access), ...addressRequests(project, region, spec.address), ...instanceRequests(project, spec.instance)];
  if (spec.address.mode !== 'none') {
    const name = instanceName(spec.instance);
    requests.push(req('instances.deleteAccessConfig', { project, zone, instance: name, accessConfig: 'External NAT', networkInterface: 'nic0' }));
    requests.push(
      req('instances.addAccessConfig', {
        project,
        zone,
        instance: name,
        networkInterface: 'nic0',
        body: { type: 'ONE_TO_ONE_NAT', name: 'External NAT', networkTier: 'PREMIUM', natIP: spec.address.mode === 'existing' ? `<address of ${spec.address.id}>` : '<address from addresses.insert>' },
      }),
    );
  }
  return requests;
}

/**
 * What ensureClusterAccess sends (`scale --dry-run`): the cluster rule between the tag's machines. Its
 * network and description come from the tag's existing rules, known only online.
 */
export function clusterAccessRequests(project: string, tag: string): CloudRequest[] {
  return [req('firewalls.insert', { project, requestId: FRESH_ID, body: { ...clusterFirewallBody(tag, '<the network of the rules of this tag>', tag, {}), description: '<from the rules of this tag>' } })];
}

export function scheduleRequests(project: string, region: string, spec: SnapshotScheduleSpec): CloudRequest[] {
  return [
    req('resourcePolicies.insert', { project, region, requestId: FRESH_ID, body: scheduleBody(spec, region) }),
    req('disks.addResourcePolicies', { project, zone: '<zone of each data disk>', disk: '<each data disk of the deployment>', body: { resourcePolicies: [`regions/${region}/resourcePolicies/${scheduleName(spec.deployment)}`] } }),
  ];
}

export function buildRequests(project: string, spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }): CloudRequest[] {
  const zone = zoneOf(spec.builder);
  const builder = instanceName(spec.builder);
  const dataSnapshot = imageDataSnapshotName(spec.image);
  return [
    ...accessRequests(project, spec.access),
    ...instanceRequests(project, spec.builder),
    req('instances.stop', { project, zone, instance: builder }),
    req('disks.createSnapshot', { project, zone, disk: `${builder}-data`, body: { name: dataSnapshot, description: `${spec.image.description} (data disk)`, labels: gceLabels({ ...spec.image.labels, role: 'image-data' }) } }),
    req('images.insert', { project, requestId: requestIdFor(project, `image/${spec.image.runId}`), body: imageBody(spec.image, `zones/${zone}/disks/${builder}-root`, `global/snapshots/${dataSnapshot}`) }),
  ];
}

/**
 * The k3s cluster ports (port.CLUSTER_PORTS) between the machines of one access policy: a firewall
 * rule whose source and target are the policy's own network tag, never an address range.
 */
export function clusterFirewallBody(tag: string, network: string, policyName: string, labels: Labels): Json {
  const ports = (protocol: 'tcp' | 'udp') => CLUSTER_PORTS.filter((p) => p.protocol === protocol).map((p) => String(p.port));
  return {
    name: `${tag}-cluster`,
    description: firewallDescription(policyName, 6443, labels),
    network,
    direction: 'INGRESS',
    priority: 1000,
    allowed: [
      { IPProtocol: 'tcp', ports: ports('tcp') },
      { IPProtocol: 'udp', ports: ports('udp') },
    ],
    sourceTags: [tag],
    targetTags: [tag],
  };
}
