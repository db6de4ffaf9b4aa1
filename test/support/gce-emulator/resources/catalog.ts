// Read-only resources: projects, regions, zones, machine types, disk types, the `default` network
// and its subnetworks. Built from the catalogue on each read.
import { stableId, type ZoneSpec } from '../catalog.js';
import { notFound } from '../errors.js';
import { listBody } from '../filter.js';
import { fingerprint } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, Handler, World } from '../world.js';

/** Catalogue objects have existed "forever"; Compute shows the epoch in its own time zone. */
const EPOCH = '1969-12-31T16:00:00.000-08:00';

function region(world: World, project: string, name: string): Json {
  return {
    kind: 'compute#region',
    id: stableId(`region/${name}`),
    creationTimestamp: EPOCH,
    name,
    description: world.catalog.regionDescription(name),
    status: 'UP',
    zones: world.catalog.zonesOf(name).map((z) => world.links.zone(project, z.name)),
    quotas: world.quotas.regionRows(project, name),
    selfLink: world.links.region(project, name),
    supportsPzs: false,
  };
}

function zone(world: World, project: string, spec: ZoneSpec): Json {
  return {
    kind: 'compute#zone',
    id: stableId(`zone/${spec.name}`),
    creationTimestamp: EPOCH,
    name: spec.name,
    description: spec.name,
    status: 'UP',
    region: world.links.region(project, spec.region),
    selfLink: world.links.zone(project, spec.name),
    availableCpuPlatforms: spec.cpuPlatforms ?? ['Intel Cascade Lake', 'Intel Ice Lake', 'AMD Milan', 'AMD Rome'],
    supportsPzs: false,
  };
}

function machineType(world: World, project: string, zoneName: string, name: string): Json {
  const spec = world.catalog.machineType(name)!;
  return {
    kind: 'compute#machineType',
    id: stableId(`machineType/${name}`),
    creationTimestamp: EPOCH,
    name,
    description: spec.description,
    guestCpus: spec.guestCpus,
    memoryMb: spec.memoryMb,
    imageSpaceGb: 0,
    maximumPersistentDisks: spec.isSharedCpu ? 16 : 128,
    maximumPersistentDisksSizeGb: spec.isSharedCpu ? '3072' : '263168',
    // Compute gives the zone's name here, not its URL.
    zone: zoneName,
    selfLink: `${world.links.zone(project, zoneName)}/machineTypes/${name}`,
    isSharedCpu: spec.isSharedCpu,
  };
}

function diskType(world: World, project: string, zoneName: string, name: string): Json {
  const spec = world.catalog.diskType(name)!;
  return {
    kind: 'compute#diskType',
    id: stableId(`diskType/${name}`),
    creationTimestamp: EPOCH,
    name,
    description: spec.description,
    validDiskSize: `${spec.minSizeGb}GB-${spec.maxSizeGb}GB`,
    zone: world.links.zone(project, zoneName),
    selfLink: `${world.links.zone(project, zoneName)}/diskTypes/${name}`,
    defaultDiskSizeGb: String(spec.defaultDiskSizeGb),
  };
}

function network(world: World, project: string): Json {
  const selfLink = `${world.links.project(project)}/global/networks/default`;
  return {
    kind: 'compute#network',
    id: stableId(`${project}/network/default`),
    creationTimestamp: EPOCH,
    name: 'default',
    description: 'Default network for the project',
    selfLink,
    selfLinkWithId: `${world.links.project(project)}/global/networks/${stableId(`${project}/network/default`)}`,
    autoCreateSubnetworks: true,
    subnetworks: world.catalog.regions.map((r) => `${world.links.region(project, r)}/subnetworks/default`),
    routingConfig: { routingMode: 'REGIONAL' },
    networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL',
  };
}

export function subnetwork(world: World, project: string, regionName: string): Json {
  const range = world.catalog.subnetRange(regionName);
  const [a, b, c] = range.split('/')[0]!.split('.');
  return {
    kind: 'compute#subnetwork',
    id: stableId(`${project}/subnetwork/${regionName}/default`),
    creationTimestamp: EPOCH,
    name: 'default',
    network: `${world.links.project(project)}/global/networks/default`,
    ipCidrRange: range,
    gatewayAddress: `${a}.${b}.${c}.1`,
    region: world.links.region(project, regionName),
    selfLink: `${world.links.region(project, regionName)}/subnetworks/default`,
    privateIpGoogleAccess: false,
    fingerprint: fingerprint(`${project}/${regionName}/default`),
    purpose: 'PRIVATE',
    stackType: 'IPV4_ONLY',
  };
}

function zoneSpec(world: World, call: Call): ZoneSpec {
  const spec = world.catalog.zone(call.params.zone!);
  if (!spec) throw notFound(`projects/${call.project}/zones/${call.params.zone}`);
  return spec;
}

function offered(world: World, call: Call, kind: 'machineTypes' | 'diskTypes', name: string): void {
  const spec = zoneSpec(world, call);
  if (!spec[kind].includes(name)) throw notFound(`projects/${call.project}/zones/${spec.name}/${kind}/${name}`);
}

const listId = (project: string, rest: string) => `projects/${project}/${rest}`;

export const catalogHandlers: Record<string, Handler> = {
  'projects.get': (call, world) => ({
    json: {
      kind: 'compute#project',
      id: stableId(`project/${call.project}`),
      creationTimestamp: '2024-01-15T09:00:00.000-08:00',
      name: call.project,
      commonInstanceMetadata: {
        kind: 'compute#metadata',
        fingerprint: fingerprint(world.projectMetadata),
        ...(world.projectMetadata.length > 0 ? { items: world.projectMetadata.map((i) => ({ ...i })) } : {}),
      },
      quotas: world.quotas.projectRows(call.project),
      selfLink: world.links.project(call.project),
      defaultServiceAccount: `123456789012-compute@developer.gserviceaccount.com`,
      xpnProjectStatus: 'UNSPECIFIED_XPN_PROJECT_STATUS',
      defaultNetworkTier: 'PREMIUM',
      vmDnsSetting: 'ZONAL_ONLY',
    },
  }),
  'regions.get': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    return { json: region(world, call.project, call.params.region!) };
  },
  'regions.list': (call, world) => ({
    json: listBody('compute#regionList', listId(call.project, 'regions'), `${world.links.project(call.project)}/regions`, world.catalog.regions.map((r) => region(world, call.project, r)), call.query),
  }),
  'zones.get': (call, world) => ({ json: zone(world, call.project, zoneSpec(world, call)) }),
  'zones.list': (call, world) => ({
    json: listBody('compute#zoneList', listId(call.project, 'zones'), `${world.links.project(call.project)}/zones`, world.catalog.zones.map((z) => zone(world, call.project, z)), call.query),
  }),
  'machineTypes.get': (call, world) => {
    offered(world, call, 'machineTypes', call.params.machineType!);
    return { json: machineType(world, call.project, call.params.zone!, call.params.machineType!) };
  },
  'machineTypes.list': (call, world) => {
    const spec = zoneSpec(world, call);
    const items = spec.machineTypes.map((m) => machineType(world, call.project, spec.name, m));
    return { json: listBody('compute#machineTypeList', listId(call.project, `zones/${spec.name}/machineTypes`), `${world.links.zone(call.project, spec.name)}/machineTypes`, items, call.query) };
  },
  'diskTypes.get': (call, world) => {
    offered(world, call, 'diskTypes', call.params.diskType!);
    return { json: diskType(world, call.project, call.params.zone!, call.params.diskType!) };
  },
  'diskTypes.list': (call, world) => {
    const spec = zoneSpec(world, call);
    const items = spec.diskTypes.map((d) => diskType(world, call.project, spec.name, d));
    return { json: listBody('compute#diskTypeList', listId(call.project, `zones/${spec.name}/diskTypes`), `${world.links.zone(call.project, spec.name)}/diskTypes`, items, call.query) };
  },
  'networks.get': (call, world) => {
    if (call.params.network !== 'default' && call.params.network !== stableId(`${call.project}/network/default`)) {
      throw notFound(`projects/${call.project}/global/networks/${call.params.network}`);
    }
    return { json: network(world, call.project) };
  },
  'networks.list': (call, world) => ({
    json: listBody('compute#networkList', listId(call.project, 'global/networks'), `${world.links.project(call.project)}/global/networks`, [network(world, call.project)], call.query),
  }),
  'subnetworks.get': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    if (call.params.subnetwork !== 'default') throw notFound(`projects/${call.project}/regions/${call.params.region}/subnetworks/${call.params.subnetwork}`);
    return { json: subnetwork(world, call.project, call.params.region!) };
  },
  'subnetworks.list': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    const r = call.params.region!;
    return {
      json: listBody('compute#subnetworkList', listId(call.project, `regions/${r}/subnetworks`), `${world.links.region(call.project, r)}/subnetworks`, [subnetwork(world, call.project, r)], call.query),
    };
  },
};
