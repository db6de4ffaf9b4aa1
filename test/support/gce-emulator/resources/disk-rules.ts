// Rules shared by disks.insert, instances.insert (disks created from initializeParams) and
// instances.attachDisk: source images (by name or family) and snapshots, disk types offered in the
// zone, sizes, and who may attach a disk (same zone; READ_WRITE to one instance only).
import { PUBLIC_IMAGE_PROJECT } from '../catalog.js';
import { invalidField, notFound, resourceInUse, resourceNotReady } from '../errors.js';
import { lastSegment, refPath, requireRef, type Ref } from '../links.js';
import { labelFingerprint, type DiskBody, type Entry, type ImageBody, type Labels, type SnapshotBody } from '../state.js';
import type { Json } from '../validate.js';
import type { World } from '../world.js';

/** An image by name or `family/<f>` (the newest non-deprecated READY image of the family). */
export function resolveImage(world: World, value: string, project: string, field: string): Entry<ImageBody> {
  const ref = requireRef(value, project, 'images', field);
  if (ref.project !== project && ref.project !== PUBLIC_IMAGE_PROJECT) throw notFound(refPath(ref));
  if (ref.family !== undefined) {
    const candidates = world.state.images
      .list(ref.project)
      .filter((e) => e.body.family === ref.family && e.body.status === 'READY' && (e.body.deprecated?.state ?? 'ACTIVE') === 'ACTIVE')
      .sort((a, b) => Date.parse(b.body.creationTimestamp) - Date.parse(a.body.creationTimestamp));
    const newest = candidates[0];
    if (!newest) throw notFound(`projects/${ref.project}/global/images/family/${ref.family}`);
    return newest;
  }
  const image = world.state.images.get(ref);
  if (image.body.status !== 'READY') throw resourceNotReady(refPath(image.ref));
  return image;
}

export function resolveSnapshot(world: World, value: string, project: string, field: string): Entry<SnapshotBody> {
  const ref = requireRef(value, project, 'snapshots', field);
  if (ref.project !== project) throw notFound(refPath(ref));
  const snapshot = world.state.snapshots.get(ref);
  if (snapshot.body.status !== 'READY') throw resourceNotReady(refPath(snapshot.ref));
  return snapshot;
}

/** The full URL of a disk type offered in `zone`; pd-standard when none is given (Compute's default). */
export function resolveDiskType(world: World, project: string, zone: string, value: string | undefined, field: string): string {
  const ref = requireRef(value ?? `zones/${zone}/diskTypes/pd-standard`, project, 'diskTypes', field);
  if (ref.project !== project || ref.scope !== 'zones' || ref.location !== zone) throw invalidField(field, value, `Disk type must be in zone '${zone}' of this project.`);
  if (!world.catalog.zone(zone)?.diskTypes.includes(ref.name)) {
    throw invalidField(field, value, `Disk type '${ref.name}' is not available in zone '${zone}'.`);
  }
  return `${world.links.zone(project, zone)}/diskTypes/${ref.name}`;
}

/** The size a new disk gets: the requested one (not below its source's), else the source's, else the type's default. */
export function diskSize(world: World, typeUrl: string, requested: string | undefined, source: { gb: number; what: string } | undefined, field: string): number {
  const spec = world.catalog.diskType(lastSegment(typeUrl))!;
  if (requested === undefined) return source?.gb ?? spec.defaultDiskSizeGb;
  const size = Number(requested);
  if (source && size < source.gb) {
    throw invalidField(field, requested, `Requested disk size cannot be smaller than the ${source.what} size (${source.gb} GB).`);
  }
  if (size < spec.minSizeGb || size > spec.maxSizeGb) {
    throw invalidField(field, requested, `Disk size must be between ${spec.minSizeGb} GB and ${spec.maxSizeGb} GB for disk type '${spec.name}'.`);
  }
  return size;
}

export interface NewDisk {
  description?: string;
  labels?: Labels;
  sizeGb: number;
  typeUrl: string;
  image?: Entry<ImageBody>;
  snapshot?: Entry<SnapshotBody>;
  resourcePolicies?: string[];
  /** Other client fields to keep as given (architecture, provisionedIops, …). */
  extra?: Json;
}

/** A new disk's body, in status CREATING. */
export function newDiskBody(world: World, ref: Omit<Ref, 'collection'>, spec: NewDisk): DiskBody {
  const image = spec.image?.body;
  const snapshot = spec.snapshot?.body;
  return {
    ...spec.extra,
    kind: 'compute#disk',
    id: world.state.nextId(),
    creationTimestamp: world.timestamp(),
    name: ref.name,
    ...(spec.description ? { description: spec.description } : {}),
    sizeGb: String(spec.sizeGb),
    zone: world.links.zone(ref.project, ref.location!),
    status: 'CREATING',
    ...(image ? { sourceImage: image.selfLink, sourceImageId: image.id } : {}),
    ...(snapshot ? { sourceSnapshot: snapshot.selfLink, sourceSnapshotId: snapshot.id } : {}),
    type: spec.typeUrl,
    ...(spec.labels && Object.keys(spec.labels).length > 0 ? { labels: spec.labels } : {}),
    labelFingerprint: labelFingerprint(spec.labels),
    selfLink: world.links.of({ ...ref, collection: 'disks' }),
    physicalBlockSizeBytes: '4096',
    ...(image?.guestOsFeatures ? { guestOsFeatures: image.guestOsFeatures.map((f) => ({ ...f })) } : {}),
    ...(image?.licenses ? { licenses: [...(image.licenses as string[])] } : {}),
    ...((image?.architecture ?? snapshot?.architecture) ? { architecture: (image?.architecture ?? snapshot?.architecture) as string } : {}),
    ...(spec.resourcePolicies && spec.resourcePolicies.length > 0 ? { resourcePolicies: spec.resourcePolicies } : {}),
  };
}

/** The attachment mode each current user of a disk has it in. */
function attachmentModes(world: World, disk: Entry<DiskBody>): { user: string; mode: string }[] {
  return (disk.body.users ?? []).map((user) => {
    const instance = world.state.instances.all().find((e) => e.body.selfLink === user);
    const attached = instance?.body.disks.find((d) => d.source === disk.body.selfLink);
    return { user, mode: attached?.mode ?? 'READ_WRITE' };
  });
}

/** Throws unless `disk` may be attached to an instance in `zone` in `mode`. */
export function checkAttachable(world: World, zone: string, disk: Entry<DiskBody>, mode: string, field: string): void {
  if (disk.ref.location !== zone) {
    throw invalidField(field, disk.body.selfLink, `Disk must be in the same zone as the instance ('${zone}'), not in '${disk.ref.location}'.`);
  }
  if (disk.body.status !== 'READY') throw resourceNotReady(refPath(disk.ref));
  const users = attachmentModes(world, disk);
  const conflict = users.find((u) => mode === 'READ_WRITE' || u.mode === 'READ_WRITE');
  if (conflict) throw resourceInUse(refPath(disk.ref), conflict.user.replace(/^.*?\/projects\//, 'projects/'));
}

export function addUser(disk: DiskBody, user: string, now: string): void {
  disk.users = [...(disk.users ?? []).filter((u) => u !== user), user];
  disk.lastAttachTimestamp = now;
}

export function removeUser(disk: DiskBody, user: string, now: string): void {
  const users = (disk.users ?? []).filter((u) => u !== user);
  if (users.length > 0) disk.users = users;
  else delete disk.users;
  disk.lastDetachTimestamp = now;
}

/** The disk an instance's attachment points at, if it still exists. */
export function attachedDisk(world: World, source: string): Entry<DiskBody> | undefined {
  return world.state.disks.all().find((e) => e.body.selfLink === source);
}
