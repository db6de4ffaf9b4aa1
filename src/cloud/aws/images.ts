// AMIs: Sourcegraph's published images (by owner and name), the ones `build-image` made (by tag),
// the Amazon Linux 2023 base that builds and `--image-source base` start from, and an image build:
// CreateImage of the stopped builder's two volumes, waited for, its snapshots tagged, deleted.
import { CloudError, InterruptedError, WaitTimeoutError } from '../../core/errors.js';
import { compareVersions, normalizeVersion, parseVersion } from '../../core/versions.js';
import type { BuildResources, Image, ImageFromBuilderSpec } from '../port.js';
import { call, callUnlessNotFound, paginate, type AwsContext } from './context.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import { describeInstancesWhere } from './instances.js';
import { PUBLISHED_IMAGE_OWNERS, parsePublishedImageName, snapshotIdsOf, tagFilter, tagList, tagsFor, toAccessPolicy, toImage, toInstance, toSshKey } from './mappers.js';
import { createImageRequest } from './request-builders.js';
import type { Ec2Filter, Ec2Image } from './sdk.js';

/** Amazon's own Amazon Linux 2023 images (not the minimal ones), x86_64 like every size preset. */
export const AL2023_IMAGE_NAME = 'al2023-ami-2023.*-kernel-*-x86_64';

async function describeImagePages(c: AwsContext, input: { Owners: string[]; Filters: Ec2Filter[] }): Promise<Ec2Image[]> {
  const pages = await paginate(c, 'DescribeImages', (NextToken) => c.ec2.describeImages({ ...input, MaxResults: 1000, ...(NextToken ? { NextToken } : {}) }));
  return pages.flatMap((p) => p.Images ?? []);
}

/** Versions up to 5.10 were published once per size, with the size in the name. */
function hasSizedImageNames(version: string): boolean {
  const v = parseVersion(version);
  return v !== undefined && (v.major < 5 || (v.major === 5 && v.minor <= 10));
}

const available: Ec2Filter = { Name: 'state', Values: ['available'] };

export async function findImage(c: AwsContext, query: { version: string; size?: string }): Promise<Image | undefined> {
  const latest = query.version === 'latest';
  const version = latest ? undefined : normalizeVersion(query.version);
  if (!latest && !version) return undefined;
  const size = query.size?.toUpperCase();
  const names = version
    ? [`Sourcegraph v${version}`, ...(hasSizedImageNames(version) ? [`Sourcegraph-${size ?? '*'} (v${version}) *`] : [])]
    : ['Sourcegraph v*', `Sourcegraph-${size ?? '*'} (v*) *`];
  const [publishedImages, builtImages] = await Promise.all([
    describeImagePages(c, { Owners: PUBLISHED_IMAGE_OWNERS, Filters: [{ Name: 'name', Values: names }, available] }),
    describeImagePages(c, { Owners: ['self'], Filters: [tagFilter('role', ['image']), ...(version ? [tagFilter('version', [version])] : []), available] }),
  ]);
  const candidates: Image[] = [];
  for (const image of publishedImages) {
    const parsed = image.Name ? parsePublishedImageName(image.Name) : undefined;
    if (!parsed || (parsed.size && size && parsed.size !== size) || (version && parsed.version !== version)) continue;
    candidates.push({ ...toImage(image, 'published'), version: parsed.version });
  }
  for (const image of builtImages) {
    const info = toImage(image, 'built');
    if (info.version && (!version || info.version === version)) candidates.push(info);
  }
  candidates.sort((a, b) => compareVersions(b.version ?? '0.0.0', a.version ?? '0.0.0') || (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.id.localeCompare(b.id));
  return candidates[0];
}

export async function listBuiltImages(c: AwsContext): Promise<Image[]> {
  const images = await describeImagePages(c, { Owners: ['self'], Filters: [tagFilter('role', ['image']), available] });
  return images
    .map((i) => toImage(i, 'built'))
    .filter((i) => i.version !== undefined)
    .sort((a, b) => compareVersions(b.version!, a.version!) || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
}

export async function describeImage(c: AwsContext, imageId: string): Promise<Image | undefined> {
  try {
    const out = await c.ec2.describeImages({ ImageIds: [imageId] });
    const image = out.Images?.[0];
    return image ? toImage(image) : undefined;
  } catch (err) {
    if (isAwsErrorCode(err, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable')) return undefined;
    throw toLaunchError(err, { operation: 'DescribeImages', profile: c.profile, region: c.region });
  }
}

export async function findBaseImage(c: AwsContext): Promise<Image | undefined> {
  const images = await describeImagePages(c, {
    Owners: ['amazon'],
    Filters: [{ Name: 'name', Values: [AL2023_IMAGE_NAME] }, { Name: 'architecture', Values: ['x86_64'] }, available],
  });
  // Newest first; the name carries the release date, which breaks ties between equal timestamps.
  images.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') || (b.Name ?? '').localeCompare(a.Name ?? ''));
  return images[0] ? toImage(images[0], 'published') : undefined;
}

// ---- image builds ----

export async function findImageBuild(c: AwsContext, buildName: string): Promise<BuildResources> {
  const filter = tagFilter('build', [buildName]);
  const [builders, groups, keyPairs, images] = await Promise.all([
    describeInstancesWhere(c, [filter]),
    call(c, 'DescribeSecurityGroups', () => c.ec2.describeSecurityGroups({ Filters: [filter] })),
    call(c, 'DescribeKeyPairs', () => c.ec2.describeKeyPairs({ Filters: [filter] })),
    call(c, 'DescribeImages', () => c.ec2.describeImages({ Owners: ['self'], Filters: [filter] })),
  ]);
  return {
    builders: builders.map(toInstance).filter((i) => i.labels.role === 'builder'),
    accessPolicies: (groups.SecurityGroups ?? []).map(toAccessPolicy),
    sshKeys: (keyPairs.KeyPairs ?? []).map(toSshKey),
    images: (images.Images ?? []).map((i) => toImage(i, 'built')),
  };
}

/** CreateImage of the builder's root and data volume, or the image this build run already made. */
export async function createImageFromBuilder(c: AwsContext, builderId: string, spec: ImageFromBuilderSpec): Promise<Image> {
  const out = await call(c, 'DescribeImages', () => c.ec2.describeImages({ Owners: ['self'], Filters: [tagFilter('build-run', [spec.runId])] }));
  const existing = (out.Images ?? []).find((i) => !['failed', 'error', 'deregistered'].includes(i.State ?? ''));
  if (existing) return toImage(existing, 'built');
  const created = await call(c, 'CreateImage', () => c.ec2.createImage(createImageRequest(spec, builderId)));
  if (!created.ImageId) throw new CloudError('create-image-empty', 'CreateImage returned no image id');
  return { id: created.ImageId, name: spec.name, source: 'built', version: spec.labels.version, state: 'pending', labels: spec.labels };
}

/** Waits until the image is available, then tags its snapshots like it; a failed image throws. */
export async function waitForImage(c: AwsContext, imageId: string, spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image> {
  const deadline = c.now() + timeoutMs;
  let last = 'unknown';
  for (;;) {
    if (signal?.aborted) throw new InterruptedError(`Interrupted while waiting for image ${imageId}`);
    const out = await callUnlessNotFound(c, 'DescribeImages', () => c.ec2.describeImages({ ImageIds: [imageId] }), ['InvalidAMIID.Unavailable']);
    const image = out?.Images?.[0];
    last = image?.State ?? 'not found';
    if (image?.State === 'available') {
      const snapshots = snapshotIdsOf(image);
      // Snapshots carry the image's tags so they are recognisable (and attributable) in the console.
      if (snapshots.length) await call(c, 'CreateTags', () => c.ec2.createTags({ Resources: snapshots, Tags: tagList(tagsFor(spec.labels, spec.name)) }));
      return toImage(image, 'built');
    }
    if (image?.State === 'failed' || image?.State === 'error' || image?.State === 'invalid') {
      throw new CloudError('image-failed', `Image ${imageId} ended in state ${image.State}: ${image.StateReason?.Message ?? 'no reason given'}`);
    }
    if (c.now() >= deadline) {
      throw new WaitTimeoutError('image-available', `Image ${imageId} did not become available in ${Math.round(timeoutMs / 60_000)} min (last state: ${last})`, { details: { imageId, lastState: last } });
    }
    await c.sleep(c.pollIntervalMs);
  }
}

/** Deregisters an image we built and deletes its snapshots (only once no image refers to them). */
export async function deleteImage(c: AwsContext, imageId: string): Promise<string[]> {
  const out = await callUnlessNotFound(c, 'DescribeImages', () => c.ec2.describeImages({ ImageIds: [imageId] }), ['InvalidAMIID.Unavailable']);
  const image = out?.Images?.[0];
  const snapshots = image ? snapshotIdsOf(image) : [];
  if (image) await callUnlessNotFound(c, 'DeregisterImage', () => c.ec2.deregisterImage({ ImageId: imageId }), ['InvalidAMIID.Unavailable']);
  for (const snapshotId of snapshots) await callUnlessNotFound(c, 'DeleteSnapshot', () => c.ec2.deleteSnapshot({ SnapshotId: snapshotId }), ['InvalidSnapshot.NotFound']);
  return snapshots;
}
