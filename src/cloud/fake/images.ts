// Images of the fake cloud: published and base images preloaded by the test, images built from a
// stopped builder (a root image plus a data-disk template), and what an image build leaves behind.
import { CloudError, InterruptedError, WaitTimeoutError } from '../../core/errors.js';
import { compareVersions, normalizeVersion } from '../../core/versions.js';
import type { BuildResources, Image, ImageFromBuilderSpec } from '../port.js';
import { conflict, notFound } from './faults.js';
import type { PreloadedImage } from './options.js';
import { refresh } from './progress.js';
import {
  checkedLabels,
  imageView,
  instanceView,
  policyView,
  sshKeyView,
  type ImageRecord,
  type SnapshotRecord,
  type Transition,
  type World,
} from './world.js';

/** A snapshot that holds one disk of an image (AWS: the AMI's; GCE/Azure: the data template). */
function imageSnapshot(w: World, imageId: string, sizeGiB: number, pending: Transition | undefined, diskId?: string): SnapshotRecord {
  const rec: SnapshotRecord = {
    seq: w.nextSeq(),
    id: w.newId('snap'),
    sizeGiB,
    encrypted: false,
    labels: {},
    startTime: w.isoNow(),
    imageId,
    ...(diskId ? { diskId } : {}),
    ...(pending ? { pending } : {}),
  };
  w.snapshots.set(rec.id, rec);
  return rec;
}

export function preloadImage(w: World, image: PreloadedImage): Image {
  const id = image.id ?? w.newId('img');
  const version = image.version ? (normalizeVersion(image.version) ?? image.version) : undefined;
  const rec: ImageRecord = {
    seq: w.nextSeq(),
    id,
    name: image.name,
    kind: image.kind,
    createdAt: image.createdAt ?? w.isoNow(),
    architecture: image.architecture ?? 'x86_64',
    labels: {},
    ...(version ? { version } : {}),
    ...(image.size ? { size: image.size } : {}),
  };
  rec.rootSnapshotId = imageSnapshot(w, id, 50, undefined).id;
  // A published Sourcegraph image comes with its prepared data disk; a plain OS image has none.
  if (image.kind === 'published') rec.dataSnapshotId = imageSnapshot(w, id, 500, undefined).id;
  w.images.set(id, rec);
  return imageView(w, rec);
}

const available = (i: ImageRecord) => !i.pending && !i.failed;

export function findImage(w: World, query: { version: string; size?: string }): Image | undefined {
  const latest = query.version === 'latest';
  const version = latest ? undefined : normalizeVersion(query.version);
  if (!latest && !version) return undefined;
  const size = query.size?.toUpperCase();
  const best = [...w.images.values()]
    .filter((i) => i.kind !== 'base' && available(i) && i.version !== undefined && normalizeVersion(i.version) !== undefined)
    .filter((i) => !version || i.version === version)
    .filter((i) => !size || !i.size || i.size.toUpperCase() === size)
    .sort((a, b) => compareVersions(b.version!, a.version!) || b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id))[0];
  return best ? imageView(w, best) : undefined;
}

export function describeImage(w: World, imageId: string): Image | undefined {
  refresh(w, imageId);
  const rec = w.images.get(imageId);
  return rec ? imageView(w, rec) : undefined;
}

export function listBuiltImages(w: World): Image[] {
  return [...w.images.values()]
    .filter((i) => i.kind === 'built' && available(i) && i.version !== undefined && normalizeVersion(i.version) !== undefined)
    .sort((a, b) => compareVersions(b.version!, a.version!) || b.createdAt.localeCompare(a.createdAt))
    .map((i) => imageView(w, i));
}

export function findBaseImage(w: World): Image | undefined {
  const base = [...w.images.values()].filter((i) => i.kind === 'base' && available(i)).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.seq - a.seq)[0];
  return base ? imageView(w, base) : undefined;
}

export function createImageFromBuilder(w: World, builderId: string, spec: ImageFromBuilderSpec): Image {
  // A re-run of the same build run finds the image it asked for.
  const known = [...w.images.values()].find((i) => i.kind === 'built' && i.runId === spec.runId && !i.failed);
  if (known) return imageView(w, known);
  const builder = w.instances.get(builderId);
  if (!builder || builder.state === 'terminated' || builder.state === 'terminating') {
    throw new CloudError('builder-gone', `The builder ${builderId} is ${builder?.state ?? 'gone'}; it cannot be imaged`);
  }
  if (builder.state !== 'stopped') {
    throw conflict('builder-not-stopped', `The builder ${builderId} is ${builder.state}; only a stopped builder is imaged`, 'Stop it and wait until it is stopped.');
  }
  const labels = checkedLabels(spec.labels);
  const id = w.newId('img');
  const pending = w.start(w.opts.delays.image);
  const rec: ImageRecord = {
    seq: w.nextSeq(),
    id,
    name: spec.name,
    kind: 'built',
    description: spec.description,
    createdAt: w.isoNow(),
    architecture: 'x86_64',
    labels,
    builderId,
    runId: spec.runId,
    ...(labels.version ? { version: normalizeVersion(labels.version) ?? labels.version } : {}),
    ...(labels.size ? { size: labels.size } : {}),
    ...(pending ? { pending } : {}),
  };
  for (const attachment of builder.attachments) {
    const disk = w.disks.get(attachment.diskId);
    if (!disk || attachment.role === 'other') continue;
    const snap = imageSnapshot(w, id, disk.sizeGiB, pending, disk.id);
    snap.labels = { ...labels };
    if (attachment.role === 'root') rec.rootSnapshotId = snap.id;
    else rec.dataSnapshotId = snap.id;
  }
  w.images.set(id, rec);
  return imageView(w, rec);
}

export async function waitForImage(w: World, imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image> {
  const deadline = w.clock.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new InterruptedError(`Interrupted while waiting for image ${imageId}`);
    refresh(w, imageId);
    const rec = w.images.get(imageId);
    if (!rec) throw notFound('image', imageId);
    if (rec.failed) throw new CloudError('image-failed', `Image ${imageId} failed`);
    if (!rec.pending) {
      // Its disks carry the image's labels, so they are recognisable (and attributable) on their own.
      for (const id of [rec.rootSnapshotId, rec.dataSnapshotId]) {
        const snap = id ? w.snapshots.get(id) : undefined;
        if (snap) snap.labels = checkedLabels(spec.labels);
      }
      return imageView(w, rec);
    }
    if (w.clock.now() >= deadline) {
      throw new WaitTimeoutError('image-available', `Image ${imageId} did not become available in ${Math.round(timeoutMs / 60_000)} min`, {
        details: { imageId, lastState: 'pending' },
      });
    }
    try {
      await w.clock.sleep(w.opts.pollIntervalMs, signal);
    } catch (e) {
      if (signal?.aborted) throw new InterruptedError(`Interrupted while waiting for image ${imageId}`, { cause: e });
      throw e;
    }
  }
}

export function findImageBuild(w: World, buildName: string): BuildResources {
  return {
    builders: [...w.instances.values()]
      .filter((i) => i.state !== 'terminated' && i.labels.build === buildName && i.labels.role === 'builder')
      .sort((a, b) => b.seq - a.seq)
      .map((i) => instanceView(w, i)),
    accessPolicies: [...w.policies.values()].filter((p) => p.labels.build === buildName).map(policyView),
    sshKeys: [...w.sshKeys.values()].filter((k) => k.labels.build === buildName).map(sshKeyView),
    images: [...w.images.values()].filter((i) => i.labels.build === buildName).map((i) => imageView(w, i)),
  };
}

/** Deletes an image we built and the snapshots that hold its disks; returns their ids. */
export function deleteImage(w: World, imageId: string): string[] {
  const rec = w.images.get(imageId);
  if (!rec) return [];
  if (rec.kind !== 'built') throw conflict('image-not-ours', `Image ${imageId} was not built by sourcegraph-launch; it is never deleted`);
  w.images.delete(imageId);
  const removed: string[] = [];
  for (const id of [rec.rootSnapshotId, rec.dataSnapshotId]) {
    if (id && w.snapshots.delete(id)) removed.push(id);
  }
  return removed;
}
