// Changes to an existing instance (labels, metadata, tags with their fingerprints; disks; access
// configs) and what can be read from it (serial port output, guest attributes). Fingerprint
// checks happen up front (412); the change itself shows when the operation is DONE, except that
// attaching a disk or an address claims it at once, so a second claim fails at once.
import { conditionNotMet, invalid, invalidField, notFound, resourceNotReady } from '../errors.js';
import { refPath, requireRef } from '../links.js';
import { fingerprint, type InstanceBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Handler, World } from '../world.js';
import { claimAddress, releaseAddress } from './addresses.js';
import { setLabelsPlan } from './common.js';
import { addUser, attachedDisk, checkAttachable, removeUser } from './disk-rules.js';
import { accessConfig, checkMetadata, ephemeralIps, guestAttributesEnabled, normalizeTags } from './instance-parts.js';
import { instanceEntry, refreshFingerprint } from './instances.js';

function nicOf(instance: InstanceBody, name: string) {
  const nic = instance.networkInterfaces.find((n) => n.name === name);
  if (!nic) throw invalidField('networkInterface', name, `No network interface named '${name}' on the instance.`);
  return nic;
}

function serialAnswer(world: World, instance: InstanceBody, path: string, port: number, startParam: string | undefined): Json {
  const zone = instance.zone.slice(instance.zone.lastIndexOf('/') + 1);
  const stored = world.state.serial.get(path)?.get(port);
  const text = stored?.text ?? (port === 1 ? (world.opts.serialOutput?.({ project: world.project, zone, name: instance.name }) ?? '') : '');
  const bytes = Buffer.from(text, 'utf8');
  const discarded = stored?.discarded ?? 0;
  const end = discarded + bytes.length;
  let start = startParam === undefined ? 0 : Number(startParam);
  // Negative: the last |start| bytes. Before what is kept: moved forward, and `start` says so.
  if (start < 0) start = Math.max(discarded, end + start);
  start = Math.min(Math.max(start, discarded), end);
  return {
    kind: 'compute#serialPortOutput',
    contents: bytes.subarray(start - discarded).toString('utf8'),
    start: String(start),
    next: String(end),
    selfLink: `${instance.selfLink}/serialPort?port=${port}`,
  };
}

function guestAttributesAnswer(world: World, instance: InstanceBody, path: string, query: Record<string, string>): Json {
  const zone = instance.zone.slice(instance.zone.lastIndexOf('/') + 1);
  const stored = world.state.guestAttributes.get(path);
  const values = stored ? Object.fromEntries(stored) : (world.opts.guestAttributes?.({ project: world.project, zone, name: instance.name }) ?? {});
  const missing = (what: string) => notFound(`${path}/guestAttributes/${what}`);
  // Without enable-guest-attributes the guest agent cannot write any, so none are found.
  const visible = guestAttributesEnabled(world, instance) ? values : {};
  if (query.variableKey !== undefined) {
    const value = visible[query.variableKey];
    if (value === undefined) throw missing(query.variableKey);
    return { kind: 'compute#guestAttributes', selfLink: `${instance.selfLink}/guestAttributes/${query.variableKey}`, variableKey: query.variableKey, variableValue: value };
  }
  const prefix = query.queryPath ?? '';
  const items = Object.entries(visible)
    .filter(([key]) => key.startsWith(prefix))
    .map(([key, value]) => ({ namespace: key.slice(0, key.indexOf('/')), key: key.slice(key.indexOf('/') + 1), value }));
  if (items.length === 0) throw missing(prefix);
  return { kind: 'compute#guestAttributes', selfLink: `${instance.selfLink}/guestAttributes/${prefix}`, ...(query.queryPath !== undefined ? { queryPath: prefix } : {}), queryValue: { items } };
}

export const instanceSettings: Record<string, Handler> = {
  'instances.setLabels': (call, world) => ({ plan: setLabelsPlan(instanceEntry(call, world), call.body) }),
  'instances.setMetadata': (call, world) => {
    const entry = instanceEntry(call, world);
    if (call.body.fingerprint !== entry.body.metadata.fingerprint) throw conditionNotMet('Supplied fingerprint does not match current metadata fingerprint.');
    const items = checkMetadata(call.body.items as Json[] | undefined, 'metadata');
    return {
      plan: {
        operationType: 'setMetadata',
        target: entry.ref,
        targetId: entry.body.id,
        done: () => {
          entry.body.metadata = { kind: 'compute#metadata', fingerprint: fingerprint({ metadata: items }), ...(items.length > 0 ? { items } : {}) };
        },
      },
    };
  },
  'instances.setTags': (call, world) => {
    const entry = instanceEntry(call, world);
    if (call.body.fingerprint !== entry.body.tags.fingerprint) throw conditionNotMet('Supplied fingerprint does not match current tags fingerprint.');
    const items = normalizeTags(call.body.items as string[] | undefined);
    return {
      plan: {
        operationType: 'setTags',
        target: entry.ref,
        targetId: entry.body.id,
        done: () => {
          entry.body.tags = { fingerprint: fingerprint({ tags: items }), ...(items.length > 0 ? { items } : {}) };
        },
      },
    };
  },
  'instances.attachDisk': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    if (instance.status !== 'RUNNING' && instance.status !== 'TERMINATED') throw resourceNotReady(refPath(entry.ref));
    if (call.query.forceAttach === 'true') throw invalidField('forceAttach', 'true', 'The emulator does not model forceAttach (multi-writer and regional disks).');
    if (call.body.source === undefined) throw invalidField('resource.source', '', 'The emulator attaches existing disks only: give source.');
    if (call.body.boot === true) throw invalidField('resource.boot', 'true', 'A boot disk can only be given when the instance is created.');
    const disk = world.state.disks.get(requireRef(call.body.source as string, call.project, 'disks', 'resource.source'));
    const mode = (call.body.mode as 'READ_WRITE' | 'READ_ONLY' | undefined) ?? 'READ_WRITE';
    checkAttachable(world, entry.ref.location!, disk, mode, 'resource.source');
    const index = Math.max(...instance.disks.map((d) => d.index)) + 1;
    const deviceName = (call.body.deviceName as string | undefined) ?? `persistent-disk-${index}`;
    if (!/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(deviceName)) throw invalidField('resource.deviceName', deviceName, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'");
    if (instance.disks.some((d) => d.deviceName === deviceName)) throw invalidField('resource.deviceName', deviceName, 'Device names must be unique within an instance.');
    const max = world.catalog.machineType(instance.machineType.slice(instance.machineType.lastIndexOf('/') + 1))?.isSharedCpu ? 16 : 128;
    if (instance.disks.length >= max) throw invalid(`An instance of this machine type can have at most ${max} disks.`);
    return {
      plan: {
        operationType: 'attachDisk',
        target: entry.ref,
        targetId: instance.id,
        affects: [refPath(disk.ref)],
        start: () => {
          instance.disks.push({
            kind: 'compute#attachedDisk',
            type: 'PERSISTENT',
            mode,
            source: disk.body.selfLink,
            deviceName,
            index,
            boot: false,
            autoDelete: (call.body.autoDelete as boolean | undefined) ?? false,
            interface: (call.body.interface as 'SCSI' | 'NVME' | undefined) ?? 'SCSI',
            diskSizeGb: disk.body.sizeGb,
          });
          addUser(disk.body, instance.selfLink, world.timestamp());
        },
        done: () => refreshFingerprint(instance),
      },
    };
  },
  'instances.detachDisk': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    const attached = instance.disks.find((d) => d.deviceName === call.query.deviceName);
    if (!attached) throw invalidField('deviceName', call.query.deviceName, `No attached disk found with device name '${call.query.deviceName}'.`);
    if (attached.boot && instance.status !== 'TERMINATED') throw invalid('The boot disk can only be detached from a stopped (TERMINATED) instance.');
    const disk = attachedDisk(world, attached.source);
    return {
      plan: {
        operationType: 'detachDisk',
        target: entry.ref,
        targetId: instance.id,
        affects: disk ? [refPath(disk.ref)] : [],
        done: () => {
          instance.disks = instance.disks.filter((d) => d !== attached);
          if (disk) removeUser(disk.body, instance.selfLink, world.timestamp());
          refreshFingerprint(instance);
        },
      },
    };
  },
  'instances.addAccessConfig': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    const nic = nicOf(instance, call.query.networkInterface!);
    if ((nic.accessConfigs ?? []).length > 0) throw invalidField('resource', '', 'At most one access config currently supported.');
    const region = world.regionOf(entry.ref.location!);
    const { config, address } = accessConfig(world, call, call.body, region, instance.selfLink, 'resource');
    return {
      plan: {
        operationType: 'addAccessConfig',
        target: entry.ref,
        targetId: instance.id,
        affects: address ? [refPath(address.ref)] : [],
        start: () => {
          if (address) claimAddress(address.body, instance.selfLink);
          nic.accessConfigs = [config];
        },
        done: () => {
          if (instance.status !== 'TERMINATED') ephemeralIps(world, instance);
          refreshFingerprint(instance);
        },
      },
    };
  },
  'instances.deleteAccessConfig': (call, world) => {
    const entry = instanceEntry(call, world);
    const instance = entry.body;
    const nic = nicOf(instance, call.query.networkInterface!);
    const config = (nic.accessConfigs ?? []).find((c) => c.name === call.query.accessConfig);
    if (!config) throw invalidField('accessConfig', call.query.accessConfig, `No access config named '${call.query.accessConfig}' on ${nic.name}.`);
    return {
      plan: {
        operationType: 'deleteAccessConfig',
        target: entry.ref,
        targetId: instance.id,
        done: () => {
          releaseAddress(world, config.natIP, instance.selfLink);
          const left = (nic.accessConfigs ?? []).filter((c) => c !== config);
          if (left.length > 0) nic.accessConfigs = left;
          else delete nic.accessConfigs;
          refreshFingerprint(instance);
        },
      },
    };
  },
  'instances.getSerialPortOutput': (call, world) => {
    const entry = instanceEntry(call, world);
    return { json: serialAnswer(world, entry.body, refPath(entry.ref), Number(call.query.port ?? '1'), call.query.start) };
  },
  'instances.getGuestAttributes': (call, world) => {
    const entry = instanceEntry(call, world);
    return { json: guestAttributesAnswer(world, entry.body, refPath(entry.ref), call.query) };
  },
};
