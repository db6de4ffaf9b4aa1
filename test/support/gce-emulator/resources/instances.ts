// Instances: insert (boot disk from an image, data disks created or attached, network interfaces
// with an ephemeral or a reserved external IP), get/list/aggregatedList, and the lifecycle
// PROVISIONING → STAGING → RUNNING, stop → STOPPING → TERMINATED, start, delete (auto-delete disks
// go with the instance, the others are detached; reserved addresses are released).
import { alreadyExistsOperation, invalid, invalidField, resourceNotReady } from '../errors.js';
import { refPath, requireRef, type Ref } from '../links.js';
import { labelFingerprint, fingerprint, type InstanceBody, type DiskBody, type Entry, type Labels } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, Handler, World } from '../world.js';
import { getAnswer, listAnswer, newName, pick, target } from './common.js';
import { buildNetworkInterfaces, checkMetadata, ephemeralIps, normalizeTags, releaseIps } from './instance-parts.js';
import { addUser, attachedDisk, checkAttachable, diskSize, newDiskBody, removeUser, resolveDiskType, resolveImage, resolveSnapshot } from './disk-rules.js';
import { claimAddress } from './addresses.js';

const KEPT = ['description', 'canIpForward', 'hostname', 'minCpuPlatform', 'serviceAccounts', 'scheduling', 'shieldedInstanceConfig', 'advancedMachineFeatures', 'confidentialInstanceConfig', 'reservationAffinity', 'resourcePolicies', 'displayDevice', 'networkPerformanceConfig', 'keyRevocationActionType', 'privateIpv6GoogleAccess', 'params', 'guestAccelerators'];

export function instanceEntry(call: Call, world: World): Entry<InstanceBody> {
  world.checkZone(call.project, call.params.zone!);
  return world.state.instances.get(target(call, 'instance'));
}

function machineTypeLink(world: World, call: Call, zone: string): string {
  const value = call.body.machineType as string | undefined;
  if (value === undefined) throw invalid("Required field 'resource.machineType' not specified");
  const ref = requireRef(value, call.project, 'machineTypes', 'resource.machineType');
  if (ref.project !== call.project || ref.scope !== 'zones' || ref.location !== zone) {
    throw invalidField('resource.machineType', value, `Machine type must be in the instance's project and zone '${zone}'.`);
  }
  if (!world.catalog.zone(zone)!.machineTypes.includes(ref.name)) {
    throw invalidField('resource.machineType', value, `Machine type with name '${ref.name}' does not exist in zone '${zone}'.`);
  }
  return `${world.links.zone(call.project, zone)}/machineTypes/${ref.name}`;
}

interface DiskSetup {
  attached: InstanceBody['disks'][number];
  existing?: Entry<DiskBody>;
  created?: { ref: Omit<Ref, 'collection'>; body: DiskBody };
}

/** Checks `disks[]` of an insert and prepares each attachment (and each disk to create). */
function prepareDisks(world: World, call: Call, ref: Omit<Ref, 'collection'>, selfLink: string): DiskSetup[] {
  const zone = ref.location!;
  const disks = (call.body.disks as Json[] | undefined) ?? [];
  if (disks.length === 0) throw invalidField('resource.disks', '', 'At least one disk, the boot disk, must be specified.');
  if (disks.filter((d) => d.boot === true).length !== 1 || disks[0]!.boot !== true) {
    throw invalidField('resource.disks', '', 'Exactly one boot disk must be specified, and it must be the first disk.');
  }
  const names = new Set<string>();
  const diskPaths = new Set<string>();
  const once = (path: string, field: string) => {
    if (diskPaths.has(path)) throw invalidField(field, path, 'The same disk cannot be given twice.');
    diskPaths.add(path);
  };
  return disks.map((d, i) => {
    const field = `resource.disks[${i}]`;
    if (d.type === 'SCRATCH') throw invalidField(`${field}.type`, 'SCRATCH', 'The emulator does not model local SSD (SCRATCH) disks.');
    if ((d.source === undefined) === (d.initializeParams === undefined)) throw invalidField(field, '', 'Exactly one of source or initializeParams must be given.');
    const deviceName = (d.deviceName as string | undefined) ?? `persistent-disk-${i}`;
    if (!/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(deviceName)) throw invalidField(`${field}.deviceName`, deviceName, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'");
    if (names.has(deviceName)) throw invalidField(`${field}.deviceName`, deviceName, 'Device names must be unique within an instance.');
    names.add(deviceName);
    const mode = (d.mode as 'READ_WRITE' | 'READ_ONLY' | undefined) ?? 'READ_WRITE';
    const base = {
      kind: 'compute#attachedDisk' as const,
      type: 'PERSISTENT' as const,
      mode,
      deviceName,
      index: i,
      boot: i === 0,
      autoDelete: (d.autoDelete as boolean | undefined) ?? false,
      interface: ((d.interface as 'SCSI' | 'NVME' | undefined) ?? 'SCSI'),
    };
    if (d.source !== undefined) {
      const existing = world.state.disks.get(requireRef(d.source as string, call.project, 'disks', `${field}.source`));
      once(refPath(existing.ref), `${field}.source`);
      checkAttachable(world, zone, existing, mode, `${field}.source`);
      return { existing, attached: { ...base, source: existing.body.selfLink, diskSizeGb: existing.body.sizeGb, ...diskExtras(existing.body) } };
    }
    const init = d.initializeParams as Json;
    const diskRef = { ...ref, name: (init.diskName as string | undefined) ?? (i === 0 ? ref.name : `${ref.name}-${i}`) };
    once(refPath({ ...diskRef, collection: 'disks' }), `${field}.initializeParams.diskName`);
    const image = init.sourceImage !== undefined ? resolveImage(world, init.sourceImage as string, call.project, `${field}.initializeParams.sourceImage`) : undefined;
    const snapshot = init.sourceSnapshot !== undefined ? resolveSnapshot(world, init.sourceSnapshot as string, call.project, `${field}.initializeParams.sourceSnapshot`) : undefined;
    if (i === 0 && !image && !snapshot) throw invalidField(`${field}.initializeParams`, '', 'The boot disk needs a sourceImage or a sourceSnapshot.');
    const typeUrl = resolveDiskType(world, call.project, zone, init.diskType as string | undefined, `${field}.initializeParams.diskType`);
    const source = image ? { gb: Number(image.body.diskSizeGb), what: 'image' } : snapshot ? { gb: Number(snapshot.body.diskSizeGb), what: 'snapshot' } : undefined;
    const sizeGb = diskSize(world, typeUrl, init.diskSizeGb as string | undefined, source, `${field}.initializeParams.diskSizeGb`);
    const body = newDiskBody(world, diskRef, { description: init.description as string | undefined, labels: init.labels as Labels | undefined, sizeGb, typeUrl, image, snapshot });
    body.users = [selfLink];
    return { created: { ref: diskRef, body }, attached: { ...base, source: body.selfLink, diskSizeGb: body.sizeGb, ...diskExtras(body) } };
  });
}

function diskExtras(disk: DiskBody): Json {
  return pick(disk, ['guestOsFeatures', 'licenses', 'architecture']);
}

function aggregated(world: World, call: Call): Json {
  const items: Record<string, Json> = {};
  for (const zone of world.catalog.zones) {
    const scope = `zones/${zone.name}`;
    const list = listAnswer(world, world.state.instances, { ...call, params: { zone: zone.name }, query: { filter: call.query.filter ?? '' } }, 'compute#instanceList').json;
    items[scope] = list.items
      ? { instances: list.items }
      : { warning: { code: 'NO_RESULTS_ON_PAGE', message: `There are no results for scope '${scope}' on this page.`, data: [{ key: 'scope', value: scope }] } };
  }
  return { kind: 'compute#instanceAggregatedList', id: `projects/${call.project}/aggregated/instances`, items, selfLink: `${world.links.project(call.project)}/aggregated/instances` };
}

export function refreshFingerprint(instance: InstanceBody): void {
  instance.fingerprint = fingerprint({ d: instance.disks, n: instance.networkInterfaces, m: instance.machineType, s: instance.status });
}

export const instances: Record<string, Handler> = {
  'instances.insert': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    for (const param of ['sourceInstanceTemplate', 'sourceMachineImage']) {
      if (call.query[param] !== undefined) throw invalidField(param, call.query[param], 'The emulator does not model instance templates or machine images.');
    }
    const ref = newName(call, world.state.instances);
    const zone = ref.location!;
    const region = world.regionOf(zone);
    const selfLink = world.links.of({ ...ref, collection: 'instances' });
    const machineType = machineTypeLink(world, call, zone);
    const disks = prepareDisks(world, call, ref, selfLink);
    const shielded = call.body.shieldedInstanceConfig as Json | undefined;
    if (shielded?.enableSecureBoot === true && !(disks[0]!.attached.guestOsFeatures as { type: string }[] | undefined)?.some((f) => f.type === 'UEFI_COMPATIBLE')) {
      throw invalidField('resource.shieldedInstanceConfig.enableSecureBoot', 'true', 'Secure Boot needs a boot disk whose image is UEFI_COMPATIBLE.');
    }
    const { interfaces, addresses } = buildNetworkInterfaces(world, call, region, selfLink);
    const metadata = checkMetadata((call.body.metadata as Json | undefined)?.items as Json[] | undefined, 'resource.metadata');
    const tags = normalizeTags((call.body.tags as Json | undefined)?.items as string[] | undefined);
    const labels = call.body.labels as Labels | undefined;
    const instance: InstanceBody = {
      ...pick(call.body, KEPT),
      kind: 'compute#instance',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      tags: { items: tags, fingerprint: fingerprint({ tags }) },
      machineType,
      status: 'PROVISIONING',
      zone: world.links.zone(call.project, zone),
      canIpForward: (call.body.canIpForward as boolean | undefined) ?? false,
      networkInterfaces: interfaces,
      disks: disks.map((d) => d.attached),
      metadata: { kind: 'compute#metadata', fingerprint: fingerprint({ metadata }), ...(metadata.length > 0 ? { items: metadata } : {}) },
      selfLink,
      scheduling: { onHostMaintenance: 'MIGRATE', automaticRestart: true, preemptible: false, provisioningModel: 'STANDARD', ...(call.body.scheduling as Json | undefined) },
      cpuPlatform: 'Unknown CPU Platform',
      ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
      startRestricted: false,
      deletionProtection: (call.body.deletionProtection as boolean | undefined) ?? false,
      shieldedInstanceConfig: { enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true, ...shielded },
      shieldedInstanceIntegrityPolicy: { updateAutoLearnPolicy: true },
    };
    if (tags.length === 0) delete instance.tags.items;
    refreshFingerprint(instance);
    const taken = disks.find((d) => d.created && world.state.disks.has(d.created.ref));
    const newDisks = disks.flatMap((d) => (d.created ? [d.created] : []));
    const diskCost = newDisks.reduce<Record<string, number>>((sum, d) => {
      for (const [k, v] of Object.entries(world.quotas.diskCost(d.body.type, Number(d.body.sizeGb)))) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {});
    const failure = taken
      ? alreadyExistsOperation(refPath({ ...taken.created!.ref, collection: 'disks' }))
      : world.quotas.checkRegion(call.project, region, { ...world.quotas.instanceCost(machineType), ...diskCost, INSTANCES: 1 });
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'instances' },
        targetId: instance.id,
        failure,
        affects: newDisks.map((d) => refPath({ ...d.ref, collection: 'disks' })),
        start: () => {
          world.state.instances.put(ref, instance);
          for (const d of newDisks) world.state.disks.put(d.ref, d.body);
          for (const d of disks) if (d.existing) addUser(d.existing.body, selfLink, world.timestamp());
          for (const a of addresses) claimAddress(a.body, selfLink);
        },
        running: () => {
          instance.status = 'STAGING';
          for (const d of newDisks) d.body.status = 'READY';
          ephemeralIps(world, instance);
        },
        done: () => {
          instance.status = 'RUNNING';
          instance.lastStartTimestamp = world.timestamp();
          refreshFingerprint(instance);
        },
      },
    };
  },
  'instances.get': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    return getAnswer(world, world.state.instances, target(call, 'instance'));
  },
  'instances.list': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    return listAnswer(world, world.state.instances, call, 'compute#instanceList');
  },
  'instances.aggregatedList': (call, world) => ({ json: aggregated(world, call) }),
  'instances.delete': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    if (instance.deletionProtection) {
      throw invalid(`Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'`);
    }
    const disks = instance.disks.map((d) => ({ attached: d, disk: attachedDisk(world, d.source) }));
    return {
      plan: {
        operationType: 'delete',
        target: entry.ref,
        targetId: instance.id,
        affects: disks.flatMap((d) => (d.disk ? [refPath(d.disk.ref)] : [])),
        start: () => {
          instance.status = 'STOPPING';
        },
        done: () => {
          const now = world.timestamp();
          for (const { attached, disk } of disks) {
            if (!disk) continue;
            removeUser(disk.body, instance.selfLink, now);
            if (attached.autoDelete && !disk.body.users) world.state.disks.delete(disk.ref);
          }
          releaseIps(world, instance);
          world.state.instances.delete(entry.ref);
          world.state.serial.delete(refPath(entry.ref));
          world.state.guestAttributes.delete(refPath(entry.ref));
        },
      },
    };
  },
  'instances.start': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    const plan = { operationType: 'start', target: entry.ref, targetId: instance.id };
    if (['RUNNING', 'STAGING', 'PROVISIONING'].includes(instance.status)) return { plan: { ...plan, instant: true } };
    if (instance.status !== 'TERMINATED') throw resourceNotReady(refPath(entry.ref));
    const region = world.regionOf(entry.ref.location!);
    return {
      plan: {
        ...plan,
        failure: world.quotas.checkRegion(call.project, region, world.quotas.instanceCost(instance.machineType)),
        start: () => {
          instance.status = 'PROVISIONING';
        },
        running: () => {
          instance.status = 'STAGING';
          ephemeralIps(world, instance);
        },
        done: () => {
          instance.status = 'RUNNING';
          instance.lastStartTimestamp = world.timestamp();
          refreshFingerprint(instance);
        },
      },
    };
  },
  'instances.stop': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    const plan = { operationType: 'stop', target: entry.ref, targetId: instance.id };
    if (instance.status === 'TERMINATED') return { plan: { ...plan, instant: true } };
    if (instance.status !== 'RUNNING') throw resourceNotReady(refPath(entry.ref));
    return {
      plan: {
        ...plan,
        start: () => {
          instance.status = 'STOPPING';
        },
        done: () => {
          instance.status = 'TERMINATED';
          instance.lastStopTimestamp = world.timestamp();
          // Ephemeral external IPs go with the stop; reserved ones stay assigned.
          for (const nic of instance.networkInterfaces) {
            for (const config of nic.accessConfigs ?? []) {
              const reserved = world.state.addresses.all().some((a) => a.body.address === config.natIP);
              if (!reserved) delete config.natIP;
            }
          }
          refreshFingerprint(instance);
        },
      },
    };
  },
};
