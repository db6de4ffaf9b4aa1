// The ARM request bodies the adapter sends, built from the port's specs by pure functions, so
// `--dry-run --json` prints exactly what a launch would PUT (service "Microsoft.Compute",
// operation "virtualMachines.createOrUpdate", input {id, body}). Ids not known before a call are
// shown as "<…>" placeholders.
import type { Labels } from '../../core/labels.js';
import { CLUSTER_PORTS, type AccessPolicySpec, type AccessRule, type CloudRequest, type DiskSpec, type ImageFromBuilderSpec, type InstanceSpec, type LaunchRequestsSpec, type SnapshotScheduleSpec, type SshKeySpec } from '../port.js';
import type { Json } from './arm.js';
import { asgIdOfPolicy, CLUSTER_RULE_PREFIX, GOVERNED_PORTS, IDEMPOTENCY_TAG, RULE_PREFIX, safeName, shortHash, toTags, WORLD_RULE_PREFIX } from './mappers.js';

/** Where requests go: the ids of the scope. */
export interface Where {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
}

export const DEFAULT_VNET = 'sourcegraph-launch-vnet';
export const DEFAULT_SUBNET = 'default';
export const VNET_PREFIX = '10.77.0.0/16';
export const SUBNET_PREFIX = '10.77.0.0/20';
export const GALLERY = 'sourcegraph_launch';

export const rg = (w: Where, rest = '') => `/subscriptions/${w.subscriptionId}/resourceGroups/${w.resourceGroup}${rest}`;
export const ids = {
  group: (w: Where) => rg(w),
  vnet: (w: Where, name = DEFAULT_VNET) => rg(w, `/providers/Microsoft.Network/virtualNetworks/${name}`),
  subnet: (w: Where) => `${ids.vnet(w)}/subnets/${DEFAULT_SUBNET}`,
  nsg: (w: Where, name: string) => rg(w, `/providers/Microsoft.Network/networkSecurityGroups/${name}`),
  pip: (w: Where, name: string) => rg(w, `/providers/Microsoft.Network/publicIPAddresses/${name}`),
  nic: (w: Where, name: string) => rg(w, `/providers/Microsoft.Network/networkInterfaces/${name}`),
  vm: (w: Where, name: string) => rg(w, `/providers/Microsoft.Compute/virtualMachines/${name}`),
  disk: (w: Where, name: string) => rg(w, `/providers/Microsoft.Compute/disks/${name}`),
  snapshot: (w: Where, name: string) => rg(w, `/providers/Microsoft.Compute/snapshots/${name}`),
  gallery: (w: Where) => rg(w, `/providers/Microsoft.Compute/galleries/${GALLERY}`),
  galleryImage: (w: Where, image: string) => `${ids.gallery(w)}/images/${image}`,
  galleryVersion: (w: Where, image: string, version: string) => `${ids.galleryImage(w, image)}/versions/${version}`,
};

/** The machines that reach others over SSH get a public IP of their own: a builder, and an agent (scale). */
export function hasOwnPublicIp(spec: Pick<InstanceSpec, 'role' | 'publicIp'>): boolean {
  return (spec.role === 'builder' || spec.role === 'agent') && spec.publicIp !== false;
}

/** The names of what one instance is made of: the VM (a fresh suffix per creation) and, by its idempotency key, its NIC and data disk. */
export interface InstanceNames {
  vm: string;
  nic: string;
  dataDisk: string;
}

export function instanceNames(spec: Pick<InstanceSpec, 'deployment' | 'idempotencyKey'>, vmSuffix: string): InstanceNames {
  const key = safeName(spec.idempotencyKey, 70);
  return { vm: `${safeName(spec.deployment, 50)}-${vmSuffix}`, nic: `${key}-nic`, dataDisk: `${key}-data` };
}

/** The snapshot's name is its idempotency key: operation, purpose and disk (an upgrade's live and final snapshots share the operation). */
export function snapshotName(deployment: string, operation: string, diskId: string, purpose?: string): string {
  return `${safeName(deployment, 60)}-${shortHash(`${operation}|${purpose ?? ''}|${diskId.toLowerCase()}`)}`;
}

export function diskFromSnapshotName(idempotencyKey: string): string {
  return `${safeName(idempotencyKey, 75)}-d`;
}

/** The gallery image version name: the Sourcegraph version when it is MAJOR.MINOR.PATCH. */
export function galleryVersionName(labels: Labels): string {
  const v = labels.version ?? '';
  return /^\d+\.\d+\.\d+$/.test(v) ? v : '0.0.1';
}

export function groupBody(w: Where, labels: Labels): Json {
  return { location: w.location, tags: toTags({ ...labels, managed: 'true' }) };
}

export function vnetBody(w: Where): Json {
  return {
    location: w.location,
    tags: toTags({ role: 'network', managed: 'true' }),
    properties: { addressSpace: { addressPrefixes: [VNET_PREFIX] }, subnets: [{ name: DEFAULT_SUBNET, properties: { addressPrefix: SUBNET_PREFIX } }] },
  };
}

/** Our rules: one per port, the CIDRs as source prefixes, priorities from 1000 in port order. */
export function ourRules(rules: AccessRule[]): Json[] {
  const byPort = new Map<number, string[]>();
  for (const r of rules) byPort.set(r.port, [...(byPort.get(r.port) ?? []), r.cidr]);
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, cidrs], i) => ({
      name: `${RULE_PREFIX}${port}`,
      properties: {
        protocol: 'Tcp',
        access: 'Allow',
        direction: 'Inbound',
        priority: 1000 + i * 10,
        sourceAddressPrefixes: [...new Set(cidrs)].sort(),
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
        destinationPortRange: String(port),
      },
    }));
}

/**
 * The NSG with exactly `spec.rules` on the governed ports; rules of others (not named by us), our
 * cluster rules (scale) and our rules open to the world for a purpose (tls --tls acme) are kept.
 */
export function nsgBody(w: Where, spec: AccessPolicySpec, existing?: Json): Json {
  const keep = (name: string) => !name.startsWith(RULE_PREFIX) || name.startsWith(CLUSTER_RULE_PREFIX) || name.startsWith(WORLD_RULE_PREFIX);
  const foreign = ((existing?.properties?.securityRules as Json[] | undefined) ?? []).filter((r) => keep(String(r.name)));
  const governed = spec.rules.filter((r) => GOVERNED_PORTS.includes(r.port));
  const prior = existing?.tags ?? {};
  return {
    location: w.location,
    tags: { ...prior, ...toTags({ ...spec.labels, deployment: spec.labels.deployment ?? spec.deployment }) },
    properties: { securityRules: [...foreign.map((r) => ({ name: r.name, properties: r.properties })), ...ourRules(governed)] },
  };
}

export function publicIpBody(w: Where, labels: Labels): Json {
  return {
    location: w.location,
    tags: toTags({ ...labels, role: 'address', managed: 'true' }),
    sku: { name: 'Standard', tier: 'Regional' },
    properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' },
  };
}

/**
 * A builder's own public IP, named by its idempotency key (a re-run after a crash PUTs the same one):
 * on Azure a VM has no public address unless a public IP resource is on its NIC, and build-image
 * reaches the builder over SSH. Tagged role builder-address; deleted with the builder.
 */
export function builderPublicIpName(idempotencyKey: string): string {
  return `${safeName(idempotencyKey, 70)}-pip`;
}

/** Also an agent's own public IP (role agent-address: never the deployment's address), deleted with it. */
export function builderPublicIpBody(w: Where, spec: Pick<InstanceSpec, 'role' | 'labels' | 'deployment'>): Json {
  return { ...publicIpBody(w, {}), tags: toTags({ ...ownLabels(spec), role: spec.role === 'agent' ? 'agent-address' : 'builder-address', managed: 'true' }) };
}

/** A deployment's resources carry its name; a builder's carry only the build's labels. */
export function ownLabels(spec: Pick<InstanceSpec, 'role' | 'labels' | 'deployment'>): Labels {
  return spec.role === 'builder' ? spec.labels : { ...spec.labels, deployment: spec.deployment };
}

/** `asgId`: the deployment's application security group (scale's cluster rule), when the NIC is one of its machines. */
export function nicBody(w: Where, spec: InstanceSpec, subnetId: string, publicIpId?: string, asgId?: string): Json {
  return {
    location: w.location,
    tags: toTags({ ...ownLabels(spec), role: 'network-interface' }),
    properties: {
      ...(spec.accessPolicyIds[0] ? { networkSecurityGroup: { id: spec.accessPolicyIds[0] } } : {}),
      ipConfigurations: [
        {
          name: 'primary',
          properties: {
            subnet: { id: subnetId },
            privateIPAllocationMethod: 'Dynamic',
            primary: true,
            ...(publicIpId ? { publicIPAddress: { id: publicIpId } } : {}),
            ...(asgId ? { applicationSecurityGroups: [{ id: asgId }] } : {}),
          },
        },
      ],
    },
  };
}

/** The deployment's application security group: the machines the cluster rules name, and nothing else. */
export function asgBody(w: Where, labels: Labels): Json {
  return { location: w.location, tags: toTags({ ...labels, role: 'cluster-group', managed: 'true' }) };
}

/**
 * The k3s cluster ports (port.CLUSTER_PORTS) between the deployment's own machines: one inbound rule
 * per protocol whose source AND destination are the deployment's application security group, never an
 * address prefix. Priorities after launch's 22/80/443 rules (1000–1020).
 */
export function clusterRuleBodies(asgId: string): Json[] {
  return (['tcp', 'udp'] as const).map((protocol, i) => ({
    name: `${CLUSTER_RULE_PREFIX}${protocol}`,
    properties: {
      protocol: protocol === 'tcp' ? 'Tcp' : 'Udp',
      access: 'Allow',
      direction: 'Inbound',
      priority: 1100 + i * 10,
      sourceApplicationSecurityGroups: [{ id: asgId }],
      sourcePortRange: '*',
      destinationApplicationSecurityGroups: [{ id: asgId }],
      destinationPortRanges: CLUSTER_PORTS.filter((p) => p.protocol === protocol).map((p) => String(p.port)),
    },
  }));
}

function diskSku(disk: DiskSpec): Json {
  return { name: disk.type };
}

/** A data disk we create ourselves (so it carries our tags): empty, from a snapshot, or from an image's template snapshot. */
export function dataDiskBody(w: Where, zone: string | undefined, disk: DiskSpec, labels: Labels, sourceId?: string): Json {
  const v2 = disk.type === 'PremiumV2_LRS' || disk.type === 'UltraSSD_LRS';
  return {
    location: w.location,
    tags: toTags({ ...labels, role: labels.role === 'builder' ? 'builder-data' : 'data-volume' }),
    ...(zone ? { zones: [zone] } : {}),
    sku: diskSku(disk),
    properties: {
      creationData: sourceId ? { createOption: 'Copy', sourceResourceId: sourceId } : { createOption: 'Empty' },
      diskSizeGB: disk.sizeGiB,
      ...(v2 && disk.iops ? { diskIOPSReadWrite: disk.iops } : {}),
      ...(v2 && disk.throughput ? { diskMBpsReadWrite: disk.throughput } : {}),
    },
  };
}

/** Canonical's Ubuntu and our gallery images are generation 2 with trusted launch. */
export function imageReference(imageId: string): Json {
  const m = /\/Publishers\/([^/]+)\/ArtifactTypes\/VMImage\/Offers\/([^/]+)\/Skus\/([^/]+)\/Versions\/([^/]+)$/i.exec(imageId);
  if (m) return { publisher: m[1], offer: m[2], sku: m[3], version: m[4] };
  const urn = /^([^:/]+):([^:/]+):([^:/]+):([^:/]+)$/.exec(imageId);
  if (urn) return { publisher: urn[1], offer: urn[2], sku: urn[3], version: urn[4] };
  return { id: imageId };
}

/** Without a key of ours (mode "none"), `noLoginKey`: a key nobody holds (Azure requires one when passwords are off). */
export function vmBody(w: Where, spec: InstanceSpec, names: InstanceNames, nicId: string, dataDiskId: string | undefined, noLoginKey = '<a throwaway SSH key: no login>'): Json {
  const keyData = spec.sshKey.mode === 'import' ? spec.sshKey.publicKey : noLoginKey;
  const sshKeys = [{ path: `/home/${spec.loginUser}/.ssh/authorized_keys`, keyData }];
  const v2 = (d: DiskSpec) => d.type === 'PremiumV2_LRS' || d.type === 'UltraSSD_LRS';
  const dataSpec = spec.dataDisk.mode === 'new' || spec.dataDisk.mode === 'snapshot' ? spec.dataDisk.disk : undefined;
  return {
    location: w.location,
    tags: { ...toTags(spec.labels, spec.foreignLabels ?? {}), [IDEMPOTENCY_TAG]: spec.idempotencyKey },
    ...(spec.placement.zone ? { zones: [spec.placement.zone] } : {}),
    ...(spec.instanceIdentity ? { identity: { type: 'UserAssigned', userAssignedIdentities: { [spec.instanceIdentity]: {} } } } : {}),
    properties: {
      hardwareProfile: { vmSize: spec.machineType },
      storageProfile: {
        imageReference: imageReference(spec.imageId),
        osDisk: { name: `${names.vm}-os`, createOption: 'FromImage', diskSizeGB: spec.rootDisk.sizeGiB, deleteOption: 'Delete', caching: 'ReadWrite', managedDisk: { storageAccountType: spec.rootDisk.type } },
        dataDisks: dataDiskId
          ? [{ lun: 0, createOption: 'Attach', caching: dataSpec && v2(dataSpec) ? 'None' : 'ReadOnly', deleteOption: spec.keepDataDisk ? 'Detach' : 'Delete', managedDisk: { id: dataDiskId } }]
          : [],
      },
      osProfile: {
        computerName: 'sourcegraph',
        adminUsername: spec.loginUser,
        ...(spec.userDataBase64 ? { customData: spec.userDataBase64 } : {}),
        linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: sshKeys } },
      },
      networkProfile: { networkInterfaces: [{ id: nicId, properties: { primary: true, deleteOption: 'Delete' } }] },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
      securityProfile: { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } },
    },
  };
}

export function snapshotBody(w: Where, diskId: string, labels: Labels, description: string): Json {
  return {
    location: w.location,
    tags: { ...toTags(labels), 'sourcegraph-launch.description': description.slice(0, 256) },
    sku: { name: 'Standard_ZRS' },
    properties: { creationData: { createOption: 'Copy', sourceResourceId: diskId }, incremental: true },
  };
}

export function galleryBody(w: Where): Json {
  return { location: w.location, tags: toTags({ role: 'gallery', managed: 'true' }), properties: { description: 'Images built by sourcegraph-launch' } };
}

export function galleryImageBody(w: Where, spec: ImageFromBuilderSpec): Json {
  return {
    location: w.location,
    tags: toTags(spec.labels),
    properties: {
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      architecture: 'x64',
      features: [{ name: 'SecurityType', value: 'TrustedLaunchSupported' }],
      identifier: { publisher: 'sourcegraph-launch', offer: safeName(spec.buildName, 60), sku: safeName(spec.runId, 60) },
      description: spec.description,
    },
  };
}

export function galleryVersionBody(w: Where, spec: ImageFromBuilderSpec, osDiskId: string, dataTemplateId: string): Json {
  return {
    location: w.location,
    tags: { ...toTags(spec.labels), 'sourcegraph-launch.data-template': dataTemplateId },
    properties: {
      publishingProfile: { targetRegions: [{ name: w.location }], storageAccountType: 'Standard_ZRS' },
      storageProfile: { osDiskImage: { source: { id: osDiskId }, hostCaching: 'ReadWrite' } },
    },
  };
}

// ---- dry runs ----

const request = (service: string, operation: string, id: string, body?: Json): CloudRequest => ({ service, operation, input: { id, ...(body ? { body } : {}) } });
const ph = (what: string) => `<${what}>`;

export function instanceRequestList(w: Where, spec: InstanceSpec, opts: { subnetId?: string } = {}): CloudRequest[] {
  const names = instanceNames(spec, 'xxxxxx');
  const out: CloudRequest[] = [];
  const subnetId = opts.subnetId ?? spec.placement.subnetId ?? ids.subnet(w);
  if (!spec.placement.subnetId) out.push(request('Microsoft.Network', 'virtualNetworks.createOrUpdate', ids.vnet(w), vnetBody(w)));
  const builderPip = hasOwnPublicIp(spec) ? ids.pip(w, builderPublicIpName(spec.idempotencyKey)) : undefined;
  if (builderPip) out.push(request('Microsoft.Network', 'publicIPAddresses.createOrUpdate', builderPip, builderPublicIpBody(w, spec)));
  // An agent joins the deployment's application security group (scale opened the cluster rule on it first).
  const asgId = spec.role === 'agent' && spec.accessPolicyIds[0] ? asgIdOfPolicy(spec.accessPolicyIds[0]) : undefined;
  out.push(request('Microsoft.Network', 'networkInterfaces.createOrUpdate', ids.nic(w, names.nic), nicBody(w, spec, subnetId, builderPip, asgId)));
  let dataDiskId: string | undefined;
  const d = spec.dataDisk;
  if (d.mode === 'existing') dataDiskId = d.diskId;
  else if (d.mode === 'new' || d.mode === 'snapshot') {
    dataDiskId = ids.disk(w, names.dataDisk);
    const source = d.mode === 'snapshot' ? d.snapshotId : spec.dataTemplateId;
    out.push(request('Microsoft.Compute', 'disks.createOrUpdate', dataDiskId, dataDiskBody(w, spec.placement.zone, d.disk, ownLabels(spec), source)));
  }
  out.push(request('Microsoft.Compute', 'virtualMachines.createOrUpdate', ids.vm(w, `${safeName(spec.deployment, 50)}-${ph('suffix')}`), vmBody(w, spec, names, ids.nic(w, names.nic), dataDiskId)));
  return out;
}

export function launchRequestList(w: Where, spec: LaunchRequestsSpec): CloudRequest[] {
  const out: CloudRequest[] = [request('Microsoft.Resources', 'resourceGroups.createOrUpdate', ids.group(w), groupBody(w, { deployment: spec.instance.deployment }))];
  const nsgId = ids.nsg(w, spec.access.name);
  out.push(request('Microsoft.Network', 'networkSecurityGroups.createOrUpdate', nsgId, nsgBody(w, spec.access)));
  const instance = instanceRequestList(w, { ...spec.instance, accessPolicyIds: [nsgId] });
  out.push(...instance);
  const nicId = ids.nic(w, instanceNames(spec.instance, 'x').nic);
  if (spec.address.mode === 'new') {
    const pipId = ids.pip(w, `${safeName(spec.address.deployment, 50)}-ip-${ph('suffix')}`);
    out.push(request('Microsoft.Network', 'publicIPAddresses.createOrUpdate', pipId, publicIpBody(w, spec.address.labels)));
    out.push(request('Microsoft.Network', 'networkInterfaces.createOrUpdate', nicId, { ...nicBody(w, { ...spec.instance, accessPolicyIds: [nsgId] }, spec.instance.placement.subnetId ?? ids.subnet(w), pipId) }));
  } else if (spec.address.mode === 'existing') {
    out.push(request('Microsoft.Network', 'networkInterfaces.createOrUpdate', nicId, nicBody(w, { ...spec.instance, accessPolicyIds: [nsgId] }, spec.instance.placement.subnetId ?? ids.subnet(w), spec.address.id)));
  }
  return out;
}

/** The dry run of ensureClusterAccess: the group, the server's NIC in it, the two cluster rules. */
export function clusterAccessRequestList(w: Where, policyId: string, labels: Labels): CloudRequest[] {
  const asgId = asgIdOfPolicy(policyId);
  return [
    request('Microsoft.Network', 'applicationSecurityGroups.createOrUpdate', asgId, asgBody(w, labels)),
    request('Microsoft.Network', 'networkInterfaces.createOrUpdate', ph("each NIC of the policy's machines (the server's), with applicationSecurityGroups"), { applicationSecurityGroups: [{ id: asgId }] }),
    ...clusterRuleBodies(asgId).map((r) => request('Microsoft.Network', 'securityRules.createOrUpdate', `${policyId}/securityRules/${r.name}`, { properties: r.properties })),
  ];
}

export function scheduleRequestList(_spec: SnapshotScheduleSpec): CloudRequest[] {
  // Scheduled snapshots are not offered on Azure yet (capabilities.snapshotSchedules is false).
  return [];
}

export function buildRequestList(w: Where, spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec; addressId?: string }): CloudRequest[] {
  const nsgId = ids.nsg(w, spec.access.name);
  const out: CloudRequest[] = [
    request('Microsoft.Resources', 'resourceGroups.createOrUpdate', ids.group(w), groupBody(w, {})),
    request('Microsoft.Network', 'networkSecurityGroups.createOrUpdate', nsgId, nsgBody(w, spec.access)),
    ...instanceRequestList(w, { ...spec.builder, accessPolicyIds: [nsgId] }),
  ];
  const vmId = ph('builder VM id');
  const version = galleryVersionName(spec.image.labels);
  const imageName = safeName(spec.image.name, 80);
  const dataSnap = ids.snapshot(w, `${imageName}-${version}-data`);
  out.push(
    request('Microsoft.Compute', 'virtualMachines.deallocate', vmId),
    request('Microsoft.Compute', 'snapshots.createOrUpdate', dataSnap, { ...snapshotBody(w, ph('builder data disk id'), { ...spec.image.labels, role: 'image-data' }, spec.image.description), properties: { creationData: { createOption: 'Copy', sourceResourceId: ph('builder data disk id') }, incremental: false } }),
    request('Microsoft.Compute', 'galleries.createOrUpdate', ids.gallery(w), galleryBody(w)),
    request('Microsoft.Compute', 'galleryImages.createOrUpdate', ids.galleryImage(w, imageName), galleryImageBody(w, spec.image)),
    request('Microsoft.Compute', 'galleryImageVersions.createOrUpdate', ids.galleryVersion(w, imageName, version), galleryVersionBody(w, spec.image, ph('builder OS disk id'), dataSnap)),
    request('Microsoft.Compute', 'virtualMachines.delete', vmId),
    request('Microsoft.Network', 'publicIPAddresses.delete', ids.pip(w, builderPublicIpName(spec.builder.idempotencyKey))),
    request('Microsoft.Network', 'networkSecurityGroups.delete', nsgId),
  );
  return out;
}
