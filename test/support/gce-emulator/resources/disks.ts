// Zonal persistent disks (NOTES.md §10): blank, from a snapshot (its size unless a larger one is
// asked) or from an image; snapshots of them; growing them; snapshot-schedule policies attached
// to them. A disk with users cannot be deleted.
import { invalid, invalidField, resourceInUse, resourceNotReady } from '../errors.js';
import { lastSegment, refPath, requireRef } from '../links.js';
import type { MutationPlan } from '../operations.js';
import { labelFingerprint, type DiskBody, type Entry, type Labels, type SnapshotBody } from '../state.js';
import type { Call, Handler, World } from '../world.js';
import { getAnswer, listAnswer, multiRegion, newName, pick, setLabelsPlan, target } from './common.js';
import { diskSize, newDiskBody, resolveDiskType, resolveImage, resolveSnapshot } from './disk-rules.js';

/** Resolves resource policy references for a disk in `region`: READY, at most one snapshot schedule. */
function resolvePolicies(world: World, call: Call, region: string, values: string[], field: string, existing: string[] = []): string[] {
  const links = values.map((value, i) => {
    const ref = requireRef(value, call.project, 'resourcePolicies', `${field}[${i}]`);
    if (ref.scope !== 'regions' || ref.location !== region) {
      throw invalidField(`${field}[${i}]`, value, `Resource policy must be in the disk's region '${region}'.`);
    }
    const policy = world.state.resourcePolicies.get(ref);
    if (policy.body.status !== 'READY') throw resourceNotReady(refPath(policy.ref));
    return policy.body.selfLink;
  });
  const all = [...existing, ...links];
  if (new Set(all).size !== all.length) throw invalidField(field, values.join(','), 'The resource policy is already attached to the disk.');
  const schedules = all.filter((link) => world.state.resourcePolicies.all().find((p) => p.body.selfLink === link)?.body.snapshotSchedulePolicy);
  if (schedules.length > 1) throw invalidField(field, values.join(','), 'A disk can have at most one snapshot schedule resource policy.');
  return links;
}

function diskEntry(call: Call, world: World): Entry<DiskBody> {
  world.checkZone(call.project, call.params.zone!);
  return world.state.disks.get(target(call, 'disk'));
}

export const disks: Record<string, Handler> = {
  'disks.insert': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    const ref = newName(call, world.state.disks);
    const zone = ref.location!;
    const body = call.body;
    const imageRef = (body.sourceImage as string | undefined) ?? call.query.sourceImage;
    const sources = [imageRef, body.sourceSnapshot, body.sourceDisk, body.sourceStorageObject].filter((s) => s !== undefined);
    if (sources.length > 1) throw invalid('Only one of sourceImage, sourceSnapshot, sourceDisk or sourceStorageObject may be given.');
    if (body.sourceDisk !== undefined || body.sourceStorageObject !== undefined) {
      throw invalidField('resource', '', 'The emulator models disks created blank, from a snapshot or from an image only.');
    }
    const image = imageRef !== undefined ? resolveImage(world, imageRef, call.project, 'resource.sourceImage') : undefined;
    const snapshot = body.sourceSnapshot !== undefined ? resolveSnapshot(world, body.sourceSnapshot as string, call.project, 'resource.sourceSnapshot') : undefined;
    const typeUrl = resolveDiskType(world, call.project, zone, body.type as string | undefined, 'resource.type');
    const source = image ? { gb: Number(image.body.diskSizeGb), what: 'image' } : snapshot ? { gb: Number(snapshot.body.diskSizeGb), what: 'snapshot' } : undefined;
    const sizeGb = diskSize(world, typeUrl, body.sizeGb as string | undefined, source, 'resource.sizeGb');
    const region = world.regionOf(zone);
    const policies = resolvePolicies(world, call, region, (body.resourcePolicies as string[] | undefined) ?? [], 'resource.resourcePolicies');
    const disk = newDiskBody(world, ref, {
      description: body.description as string | undefined,
      labels: body.labels as Labels | undefined,
      sizeGb,
      typeUrl,
      image,
      snapshot,
      resourcePolicies: policies,
      extra: pick(body, ['architecture', 'provisionedIops', 'provisionedThroughput', 'physicalBlockSizeBytes', 'guestOsFeatures']),
    });
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'disks' },
        targetId: disk.id,
        failure: world.quotas.checkRegion(call.project, region, world.quotas.diskCost(typeUrl, sizeGb)),
        start: () => world.state.disks.put(ref, disk),
        done: () => {
          disk.status = 'READY';
        },
      },
    };
  },
  'disks.get': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    return getAnswer(world, world.state.disks, target(call, 'disk'));
  },
  'disks.list': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    return listAnswer(world, world.state.disks, call, 'compute#diskList');
  },
  'disks.delete': (call, world) => {
    const entry = diskEntry(call, world);
    const user = entry.body.users?.[0];
    if (user) throw resourceInUse(refPath(entry.ref), user.replace(/^.*?\/projects\//, 'projects/'));
    if (entry.body.status !== 'READY') throw resourceNotReady(refPath(entry.ref));
    return {
      plan: {
        operationType: 'delete',
        target: entry.ref,
        targetId: entry.body.id,
        start: () => {
          entry.body.status = 'DELETING';
        },
        done: () => world.state.disks.delete(entry.ref),
      },
    };
  },
  'disks.setLabels': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    return { plan: setLabelsPlan(world.state.disks.get(target(call, 'resource')), call.body) };
  },
  'disks.createSnapshot': (call, world) => {
    const disk = diskEntry(call, world);
    if (disk.body.status !== 'READY') throw resourceNotReady(refPath(disk.ref));
    const ref = newName({ ...call, params: {} }, world.state.snapshots);
    const labels = call.body.labels as Labels | undefined;
    const snapshot: SnapshotBody = {
      ...pick(call.body, ['description', 'chainName', 'locationHint']),
      kind: 'compute#snapshot',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      status: 'CREATING',
      sourceDisk: disk.body.selfLink,
      sourceDiskId: disk.body.id,
      diskSizeGb: disk.body.sizeGb,
      storageBytes: '0',
      storageBytesStatus: 'UPDATING',
      selfLink: world.links.of({ ...ref, collection: 'snapshots' }),
      ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
      snapshotType: (call.body.snapshotType as string | undefined) ?? 'STANDARD',
      storageLocations: (call.body.storageLocations as string[] | undefined) ?? [multiRegion(world.regionOf(disk.ref.location!))],
      autoCreated: false,
      ...(disk.body.architecture ? { architecture: disk.body.architecture } : {}),
      ...(disk.body.licenses ? { licenses: [...(disk.body.licenses as string[])] } : {}),
    };
    const plan: MutationPlan = {
      operationType: 'createSnapshot',
      target: disk.ref,
      targetId: disk.body.id,
      affects: [refPath({ ...ref, collection: 'snapshots' })],
      failure: world.quotas.checkProject(call.project, { SNAPSHOTS: 1 }),
      start: () => world.state.snapshots.put(ref, snapshot),
      running: () => {
        snapshot.status = 'UPLOADING';
      },
      done: () => {
        snapshot.status = 'READY';
        snapshot.storageBytes = String(Math.ceil(Number(snapshot.diskSizeGb) * 1024 ** 3 * 0.05));
        snapshot.storageBytesStatus = 'UP_TO_DATE';
      },
    };
    return { plan };
  },
  'disks.resize': (call, world) => {
    const disk = diskEntry(call, world);
    if (disk.body.status !== 'READY') throw resourceNotReady(refPath(disk.ref));
    const requested = call.body.sizeGb as string | undefined;
    if (requested === undefined) throw invalid("Required field 'sizeGb' not specified");
    if (Number(requested) <= Number(disk.body.sizeGb)) {
      throw invalidField('sizeGb', requested, `Requested disk size cannot be smaller than or equal to the current size (${disk.body.sizeGb} GB).`);
    }
    const size = diskSize(world, disk.body.type, requested, undefined, 'sizeGb');
    const region = world.regionOf(disk.ref.location!);
    return {
      plan: {
        operationType: 'resizeDisk',
        target: disk.ref,
        targetId: disk.body.id,
        failure: world.quotas.checkRegion(call.project, region, world.quotas.diskCost(disk.body.type, size - Number(disk.body.sizeGb))),
        done: () => {
          disk.body.sizeGb = String(size);
          for (const { body } of world.state.instances.all()) {
            for (const attached of body.disks) if (attached.source === disk.body.selfLink) attached.diskSizeGb = String(size);
          }
        },
      },
    };
  },
  'disks.addResourcePolicies': (call, world) => {
    const disk = diskEntry(call, world);
    const values = (call.body.resourcePolicies as string[] | undefined) ?? [];
    if (values.length === 0) throw invalid("Required field 'resourcePolicies' not specified");
    const region = world.regionOf(disk.ref.location!);
    const links = resolvePolicies(world, call, region, values, 'resourcePolicies', disk.body.resourcePolicies ?? []);
    return {
      plan: {
        operationType: 'addResourcePolicies',
        target: disk.ref,
        targetId: disk.body.id,
        done: () => {
          disk.body.resourcePolicies = [...(disk.body.resourcePolicies ?? []), ...links];
        },
      },
    };
  },
  'disks.removeResourcePolicies': (call, world) => {
    const disk = diskEntry(call, world);
    const values = (call.body.resourcePolicies as string[] | undefined) ?? [];
    if (values.length === 0) throw invalid("Required field 'resourcePolicies' not specified");
    const attached = disk.body.resourcePolicies ?? [];
    const names = values.map((value, i) => {
      const ref = requireRef(value, call.project, 'resourcePolicies', `resourcePolicies[${i}]`);
      const link = attached.find((a) => a.endsWith(`/${refPath(ref)}`));
      if (!link) throw invalidField(`resourcePolicies[${i}]`, value, `Resource policy '${lastSegment(value)}' is not attached to the disk.`);
      return link;
    });
    return {
      plan: {
        operationType: 'removeResourcePolicies',
        target: disk.ref,
        targetId: disk.body.id,
        done: () => {
          const left = (disk.body.resourcePolicies ?? []).filter((p) => !names.includes(p));
          if (left.length > 0) disk.body.resourcePolicies = left;
          else delete disk.body.resourcePolicies;
        },
      },
    };
  },
};
