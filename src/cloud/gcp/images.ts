// Images: the ones we built (root image + a snapshot of the prepared data disk, labelled as one;
// the image's description names the snapshot), Sourcegraph's own where a project holds them, and
// Ubuntu 24.04 LTS as the base. Builds: the builder, its firewall rules and its image by label.
import { CloudError, InterruptedError, WaitTimeoutError } from '../../core/errors.js';
import { compareVersions, isVersion } from '../../core/versions.js';
import type { BuildResources, Image, ImageFromBuilderSpec } from '../port.js';
import { call, getOrUndefined, listAll, mutate, pollUntil, request, type GceContext, type Json } from './context.js';
import { isGceError, isNotFound } from './errors.js';
import { describeInstance, listInstances } from './instances.js';
import { fitName, gceLabels, parseGlobal, requestIdFor, toImage } from './mappers.js';
import { labelFilter, listAccessPolicies, regionZones } from './network.js';
import { imageBody, imageDataSnapshotName } from './request-builders.js';
import { describeSnapshot, deleteSnapshot } from './storage.js';

export const BASE_IMAGE_PROJECT = 'ubuntu-os-cloud';
export const BASE_IMAGE_FAMILY = 'ubuntu-2404-lts-amd64';

function imagePath(c: GceContext, id: string): string | undefined {
  const g = parseGlobal(id, 'images');
  return g && `projects/${g.project ?? c.project}/global/images/${g.name}`;
}

function newestFirst(a: Image, b: Image): number {
  const va = a.version && isVersion(a.version) ? a.version : '0.0.0';
  const vb = b.version && isVersion(b.version) ? b.version : '0.0.0';
  return compareVersions(vb, va) || (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.name.localeCompare(a.name);
}

async function imagesOf(c: GceContext, project: string, filter?: string): Promise<Image[]> {
  const raw = await listAll<Json>(c, 'images.list', `projects/${project}/global/images`, filter);
  return raw.map((i) => toImage(i, c.project, c.publishedImageProject));
}

export async function describeImage(c: GceContext, id: string): Promise<Image | undefined> {
  const p = imagePath(c, id);
  const raw = p ? await getOrUndefined(c, 'images.get', p) : undefined;
  return raw && toImage(raw, c.project, c.publishedImageProject);
}

export async function listBuiltImages(c: GceContext): Promise<Image[]> {
  const images = await imagesOf(c, c.project, `labels.sourcegraph-launch-build:*`);
  return images.filter((i) => i.source === 'built' && i.state === 'available').sort(newestFirst);
}

/** Published images are looked for only where a project holds them; a missing or closed project means none. */
async function publishedImages(c: GceContext): Promise<Image[]> {
  try {
    return (await imagesOf(c, c.publishedImageProject)).filter((i) => i.source === 'published');
  } catch (err) {
    if ((err as { code?: string }).code === 'resource-not-found' || (err as { code?: string }).code === 'permission-denied') return [];
    throw err;
  }
}

export async function findImage(c: GceContext, query: { version: string; size?: string }): Promise<Image | undefined> {
  const [built, published] = await Promise.all([listBuiltImages(c), publishedImages(c)]);
  const seen = new Set<string>();
  return [...built, ...published]
    .filter((i) => !seen.has(i.id) && seen.add(i.id))
    .filter((i) => i.state === 'available' && (query.version === 'latest' || i.version === query.version))
    .filter((i) => !query.size || !i.size || i.size === query.size)
    .sort(newestFirst)[0];
}

export async function findBaseImage(c: GceContext): Promise<Image | undefined> {
  const raw = await getOrUndefined(c, 'images.getFromFamily', `projects/${BASE_IMAGE_PROJECT}/global/images/family/${BASE_IMAGE_FAMILY}`);
  return raw && { ...toImage(raw, c.project, c.publishedImageProject), source: 'published' };
}

export async function findImageBuild(c: GceContext, buildName: string): Promise<BuildResources> {
  const filter = labelFilter('build', buildName);
  const [builders, accessPolicies, images] = await Promise.all([
    regionZones(c).then((zones) => listInstances(c, zones, filter)),
    listAccessPolicies(c, (l) => l.build === buildName),
    imagesOf(c, c.project, filter),
  ]);
  return {
    builders: builders.filter((b) => b.labels.role === 'builder'),
    accessPolicies,
    sshKeys: [],
    images: images.filter((i) => i.labels.build === buildName && i.state !== 'deleting'),
  };
}

export async function createImageFromBuilder(c: GceContext, builderId: string, spec: ImageFromBuilderSpec): Promise<Image> {
  const name = fitName(spec.name);
  const existing = await describeImage(c, `global/images/${name}`);
  if (existing) return existing;
  const builder = await describeInstance(c, builderId);
  if (!builder) throw new CloudError('builder-gone', `The builder ${builderId} is gone`, { remediation: 'Run build-image again: it starts a new builder.' });
  if (builder.state !== 'stopped') throw new CloudError('builder-not-stopped', `The builder ${builderId} is ${builder.state}; it must be stopped to be imaged`);
  const root = builder.disks.find((d) => d.role === 'root')?.diskId;
  const data = builder.disks.find((d) => d.role === 'data')?.diskId;
  if (!root) throw new CloudError('builder-gone', `The builder ${builderId} has no boot disk`);
  let dataTemplateId: string | undefined;
  if (data) {
    const snapName = imageDataSnapshotName(spec);
    dataTemplateId = `global/snapshots/${snapName}`;
    if (!(await describeSnapshot(c, dataTemplateId))) {
      await call(c, 'disks.createSnapshot', async () => {
        try {
          await request(c, 'POST', `${data}/createSnapshot`, {
            body: { name: snapName, description: `${spec.description} (data disk)`, labels: gceLabels({ ...spec.labels, role: 'image-data' }) },
            query: { requestId: requestIdFor(c.project, `image-data/${spec.runId}`) },
          });
        } catch (err) {
          if (!isGceError(err, 'alreadyExists')) throw err;
        }
      });
    }
  }
  await call(c, 'images.insert', async () => {
    try {
      await mutate(c, 'POST', 'global/images', { body: imageBody(spec, root, dataTemplateId), requestId: requestIdFor(c.project, `image/${spec.runId}`) });
    } catch (err) {
      if (!isGceError(err, 'alreadyExists')) throw err;
    }
  });
  const made = await describeImage(c, `global/images/${name}`);
  if (!made) throw new CloudError('image-not-created', `Image ${name} was not created`);
  return made;
}

export async function waitForImage(c: GceContext, id: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image> {
  return pollUntil(
    c,
    timeoutMs,
    async () => {
      if (signal?.aborted) throw new InterruptedError(`Interrupted while waiting for image ${id} (${spec.name})`);
      const image = await describeImage(c, id);
      if (!image) throw new CloudError('image-not-found', `Image ${id} is gone`);
      if (image.state === 'failed') throw new CloudError('image-failed', `Image ${id} failed`);
      if (image.state !== 'available') return undefined;
      const template = image.dataTemplateId ? await describeSnapshot(c, image.dataTemplateId) : undefined;
      if (template && template.state !== 'completed') return undefined;
      return image;
    },
    () => new WaitTimeoutError('image-available', `Image ${id} was not ready in ${Math.round(timeoutMs / 60_000)} min`),
  );
}

export async function deleteImage(c: GceContext, id: string): Promise<string[]> {
  const image = await describeImage(c, id);
  if (!image) return [];
  if (image.source !== 'built') throw new CloudError('image-not-ours', `Image ${id} was not built by sourcegraph-launch; it is never deleted`);
  await call(c, 'images.delete', async () => {
    try {
      await mutate(c, 'DELETE', imagePath(c, id)!);
    } catch (err) {
      if (!isNotFound(err) && !isGceError(err, 'resourceNotReady')) throw err;
    }
  });
  const removed = [image.id];
  if (image.dataTemplateId) {
    await deleteSnapshot(c, image.dataTemplateId);
    removed.push(image.dataTemplateId);
  }
  return removed;
}
