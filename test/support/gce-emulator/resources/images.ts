// Global images: the public Ubuntu images in `ubuntu-os-cloud` (read-only) and images the test
// project makes from a disk (NOTES.md §10-11). getFromFamily answers the newest non-deprecated
// image of a family. An image from a disk attached to a running instance needs forceCreate.
import { invalid, invalidField, notFound, resourceInUse, resourceNotReady } from '../errors.js';
import { refPath, requireRef } from '../links.js';
import { labelFingerprint, type DiskBody, type Entry, type ImageBody, type Labels } from '../state.js';
import type { Json } from '../validate.js';
import type { Handler } from '../world.js';
import { getAnswer, isRfc1035, listAnswer, multiRegion, newName, pick, setLabelsPlan, target } from './common.js';
import { resolveImage } from './disk-rules.js';

/** Guest OS features, licenses and architecture: as given, else the source's. */
function inherited(body: Json, source: Json): Pick<ImageBody, 'guestOsFeatures' | 'architecture'> & Json {
  const out: Json = {};
  for (const key of ['guestOsFeatures', 'licenses', 'architecture']) {
    const value = body[key] ?? source[key];
    if (value !== undefined) out[key] = structuredClone(value);
  }
  return out as Pick<ImageBody, 'guestOsFeatures' | 'architecture'> & Json;
}

export const images: Record<string, Handler> = {
  'images.insert': (call, world) => {
    const ref = newName(call, world.state.images);
    const body = call.body;
    const given = ['sourceDisk', 'sourceImage', 'sourceSnapshot', 'rawDisk'].filter((k) => body[k] !== undefined);
    if (given.length !== 1) throw invalid('Exactly one of sourceDisk, sourceImage, sourceSnapshot or rawDisk must be given.');
    if (given[0] !== 'sourceDisk' && given[0] !== 'sourceImage') {
      throw invalidField(`resource.${given[0]}`, '', 'The emulator models images made from a disk or another image only.');
    }
    const family = body.family as string | undefined;
    if (family !== undefined && !isRfc1035(family)) throw invalidField('resource.family', family, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'");
    let source: Entry<DiskBody> | Entry<ImageBody>;
    let region = 'us-central1';
    if (body.sourceDisk !== undefined) {
      const diskRef = requireRef(body.sourceDisk as string, call.project, 'disks', 'resource.sourceDisk');
      const disk = world.state.disks.get(diskRef);
      if (disk.body.status !== 'READY') throw resourceNotReady(refPath(disk.ref));
      const running = (disk.body.users ?? []).find((u) => world.state.instances.all().find((i) => i.body.selfLink === u)?.body.status !== 'TERMINATED');
      if (running && call.query.forceCreate !== 'true') throw resourceInUse(refPath(disk.ref), running.replace(/^.*?\/projects\//, 'projects/'));
      source = disk;
      region = world.regionOf(disk.ref.location!);
    } else {
      source = resolveImage(world, body.sourceImage as string, call.project, 'resource.sourceImage');
    }
    const sourceBody = source.body as DiskBody & ImageBody;
    const labels = body.labels as Labels | undefined;
    const image: ImageBody = {
      ...pick(body, ['description', 'family', 'shieldedInstanceInitialState']),
      kind: 'compute#image',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      sourceType: 'RAW',
      status: 'PENDING',
      diskSizeGb: sourceBody.sizeGb ?? sourceBody.diskSizeGb,
      ...(body.sourceDisk !== undefined ? { sourceDisk: sourceBody.selfLink, sourceDiskId: sourceBody.id } : { sourceImage: sourceBody.selfLink, sourceImageId: sourceBody.id }),
      selfLink: world.links.of({ ...ref, collection: 'images' }),
      ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
      storageLocations: (body.storageLocations as string[] | undefined) ?? [multiRegion(region)],
      ...inherited(body, sourceBody),
    };
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'images' },
        targetId: image.id,
        failure: world.quotas.checkProject(call.project, { IMAGES: 1 }),
        start: () => world.state.images.put(ref, image),
        done: () => {
          image.status = 'READY';
          image.archiveSizeBytes = String(Number(image.diskSizeGb) * 200 * 1024 ** 2);
        },
      },
    };
  },
  'images.get': (call, world) => getAnswer(world, world.state.images, target(call, 'image')),
  'images.getFromFamily': (call, world) => {
    try {
      return { json: structuredClone(resolveImage(world, `projects/${call.project}/global/images/family/${call.params.family}`, call.project, 'family').body) };
    } catch {
      throw notFound(`projects/${call.project}/global/images/family/${call.params.family}`);
    }
  },
  'images.list': (call, world) => listAnswer(world, world.state.images, call, 'compute#imageList'),
  'images.delete': (call, world) => {
    const entry = world.state.images.get(target(call, 'image'));
    if (entry.body.status !== 'READY') throw resourceNotReady(refPath(entry.ref));
    return {
      plan: {
        operationType: 'delete',
        target: entry.ref,
        targetId: entry.body.id,
        start: () => {
          entry.body.status = 'DELETING';
        },
        done: () => world.state.images.delete(entry.ref),
      },
    };
  },
  'images.setLabels': (call, world) => ({ plan: setLabelsPlan(world.state.images.get(target(call, 'resource')), call.body) }),
};
