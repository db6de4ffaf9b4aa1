// Images: Canonical's Ubuntu 24.04 LTS from the marketplace (the base), and what build-image makes:
// an Azure Compute Gallery image version of the builder's OS disk, with the prepared data disk kept
// beside it as a snapshot (the image's dataTemplateId), from which each launch makes its data disk.
import { CloudError } from '../../core/errors.js';
import type { BuildResources, Image, ImageFromBuilderSpec, Instance } from '../port.js';
import type { Json } from './arm.js';
import { pollUntil, type AzureContext } from './context.js';
import { armCode } from './errors.js';
import { fromTags, nameOf, safeName, sameId, toAccessPolicy, toImage } from './mappers.js';
import { describeVm, isBuilderLeftover, LEFTOVER_TYPES, leftoverGet } from './instances.js';
import { ensureResourceGroup, listTagged, where } from './network.js';
import { galleryBody, galleryImageBody, galleryVersionBody, galleryVersionName, ids, snapshotBody } from './request-builders.js';

export const BASE_IMAGE = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server' } as const;
const DATA_TEMPLATE_TAG = 'sourcegraph-launch.data-template';
const VERSION_TYPE = 'Microsoft.Compute/galleries/images/versions';
const isGalleryVersion = (id: string) => /\/galleries\/[^/]+\/images\/[^/]+\/versions\/[^/]+$/i.test(id);

function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split('.').map(Number);
  const pb = (b ?? '').split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

function imageOf(c: AzureContext, version: Json): Image {
  const published = c.publishedImages.find((p) => sameId(p.id, version.id));
  const image = toImage(version, published ? 'published' : fromTags(version.tags).labels.build ? 'built' : 'flag', version.tags?.[DATA_TEMPLATE_TAG]);
  return published ? { ...image, version: published.version } : image;
}

export async function describeImage(c: AzureContext, id: string): Promise<Image | undefined> {
  if (isGalleryVersion(id)) {
    const v = await c.arm.get(id, 'Microsoft.Compute galleryImageVersions.get');
    return v && imageOf(c, v);
  }
  const m = /\/locations\/([^/]+)\/publishers\/([^/]+)\/artifacttypes\/vmimage\/offers\/([^/]+)\/skus\/([^/]+)\/versions\/([^/]+)$/i.exec(id);
  if (!m) return undefined;
  const found = await c.arm.get(id, 'Microsoft.Compute virtualMachineImages.get');
  return found && { id, name: `${m[2]}:${m[3]}:${m[4]}`, version: m[5]!, source: 'flag', architecture: 'x86_64', state: 'available', labels: {} };
}

export async function listBuiltImages(c: AzureContext): Promise<Image[]> {
  const versions = await listTagged(c, VERSION_TYPE, 'build');
  const images = (await Promise.all(versions.map((v) => describeImage(c, v.id)))).filter((i): i is Image => i?.state === 'available' && i.source === 'built');
  return images.sort((a, b) => compareVersions(b.version, a.version) || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
}

export async function findImage(c: AzureContext, query: { version: string; size?: string }): Promise<Image | undefined> {
  const published = (await Promise.all(c.publishedImages.map((p) => describeImage(c, p.id)))).filter((i): i is Image => i?.state === 'available');
  const all = [...published, ...(await listBuiltImages(c))].filter((i) => query.version === 'latest' || i.version === query.version);
  return all.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** The newest Ubuntu 24.04 LTS server image of the location (generation 2, trusted launch). */
export async function findBaseImage(c: AzureContext): Promise<Image | undefined> {
  const base = `/subscriptions/${c.subscriptionId}/providers/Microsoft.Compute/locations/${c.location}/publishers/${BASE_IMAGE.publisher}/artifacttypes/vmimage/offers/${BASE_IMAGE.offer}/skus/${BASE_IMAGE.sku}/versions`;
  const answer = await c.arm.send('GET', base, 'Microsoft.Compute virtualMachineImages.list', undefined, { allow: [404] });
  const list = (Array.isArray(answer.body) ? answer.body : []) as Json[];
  const newest = list.map((v) => String(v.name)).sort(compareVersions).pop();
  if (!newest) return undefined;
  return { id: `${base}/${newest}`, name: `${BASE_IMAGE.publisher}:${BASE_IMAGE.offer}:${BASE_IMAGE.sku}`, version: newest, source: 'flag', architecture: 'x86_64', state: 'available', labels: {} };
}

export async function findImageBuild(c: AzureContext, buildName: string): Promise<BuildResources> {
  const tagged = await c.arm.listResources(`tagName eq 'sourcegraph-launch:build' and tagValue eq '${buildName.replace(/'/g, "''")}'`);
  const ofType = (t: string) => tagged.filter((r) => String(r.type).toLowerCase() === t.toLowerCase());
  const builders = [];
  for (const r of ofType('Microsoft.Compute/virtualMachines')) {
    const vm = await c.arm.get(r.id, 'Microsoft.Compute virtualMachines.get', { $expand: 'instanceView' });
    if (vm && fromTags(vm.tags).labels.role === 'builder') builders.push(await describeVm(c, vm));
  }
  const accessPolicies = [];
  for (const r of ofType('Microsoft.Network/networkSecurityGroups')) {
    const nsg = await c.arm.get(r.id, 'Microsoft.Network networkSecurityGroups.get');
    if (nsg) accessPolicies.push(toAccessPolicy(nsg));
  }
  const images = (await Promise.all(ofType(VERSION_TYPE).map((r) => describeImage(c, r.id)))).filter((i): i is Image => i !== undefined);
  builders.push(...(await builderLeftovers(c, buildName, tagged)));
  return { builders, accessPolicies, sshKeys: [], images };
}

/**
 * What a builder is given before its VM exists (its public IP, NIC and data disk, see ensureInstance)
 * and a run killed before the VM create leaves behind: no VM holds them, so no builder lists them.
 * Each is reported as a builder without a VM (state 'terminated', its own id), which the build's
 * cleanup already removes with terminateInstance, for that build run only. NICs come first: the
 * public IP cannot go while the NIC holds it.
 */
async function builderLeftovers(c: AzureContext, buildName: string, tagged: Json[]): Promise<Instance[]> {
  const found: Json[] = [];
  for (const type of LEFTOVER_TYPES) {
    for (const r of tagged.filter((t) => String(t.type).toLowerCase() === type)) {
      const res = await c.arm.get(r.id, leftoverGet(r.id));
      if (res && fromTags(res.tags).labels.build === buildName && isBuilderLeftover(res, found)) found.push(res);
    }
  }
  return found.map((res) => {
    const labels = fromTags(res.tags).labels;
    return { id: res.id as string, state: 'terminated', machineType: '', imageId: '', zone: ((res.zones as string[] | undefined) ?? [])[0] ?? '', accessPolicyIds: [], disks: [], labels, foreignLabels: {} };
  });
}

export async function createImageFromBuilder(c: AzureContext, builderId: string, spec: ImageFromBuilderSpec): Promise<Image> {
  const w = where(c);
  const imageName = safeName(spec.name, 80);
  const versionName = galleryVersionName(spec.labels);
  const versionId = ids.galleryVersion(w, imageName, versionName);
  const existing = await c.arm.get(versionId, 'Microsoft.Compute galleryImageVersions.get');
  if (existing) return imageOf(c, existing);
  const vm = await c.arm.get(builderId, 'Microsoft.Compute virtualMachines.get');
  if (!vm) throw new CloudError('instance-not-found', `The builder VM ${builderId} does not exist`);
  const storage = vm.properties?.storageProfile ?? {};
  const osDiskId = storage.osDisk?.managedDisk?.id as string | undefined;
  const dataDiskId = ((storage.dataDisks as Json[] | undefined) ?? []).find((d) => d.lun === 0)?.managedDisk?.id as string | undefined;
  if (!osDiskId || !dataDiskId) throw new CloudError('builder-disks-missing', `The builder ${nameOf(builderId)} has no OS disk or no data disk at LUN 0`);
  await ensureResourceGroup(c);
  // The data template: a full (not incremental) snapshot, so it stands on its own once the builder's disk is gone.
  const snapId = ids.snapshot(w, `${imageName}-${versionName}-data`);
  if (!(await c.arm.get(snapId, 'Microsoft.Compute snapshots.get'))) {
    const body = snapshotBody(w, dataDiskId, { ...spec.labels, role: 'image-data' }, spec.description);
    await c.arm.put(snapId, { ...body, properties: { ...body.properties, incremental: false } }, 'Microsoft.Compute snapshots.createOrUpdate');
  }
  if (!(await c.arm.get(ids.gallery(w), 'Microsoft.Compute galleries.get'))) await c.arm.put(ids.gallery(w), galleryBody(w), 'Microsoft.Compute galleries.createOrUpdate');
  const imageId = ids.galleryImage(w, imageName);
  if (!(await c.arm.get(imageId, 'Microsoft.Compute galleryImages.get'))) await c.arm.put(imageId, galleryImageBody(w, spec), 'Microsoft.Compute galleryImages.createOrUpdate');
  const version = await c.arm.put(versionId, galleryVersionBody(w, spec, osDiskId, snapId), 'Microsoft.Compute galleryImageVersions.createOrUpdate');
  return imageOf(c, version);
}

export async function waitForImage(c: AzureContext, imageId: string, _spec: ImageFromBuilderSpec, timeoutMs: number, signal?: AbortSignal): Promise<Image> {
  return pollUntil(c, timeoutMs, 'image', `image ${nameOf(imageId)} to be available`, async () => {
    signal?.throwIfAborted();
    const image = await describeImage(c, imageId);
    if (!image) throw new CloudError('image-not-found', `The image ${imageId} does not exist`);
    if (image.state === 'failed') throw new CloudError('image-failed', `The image ${imageId} failed to build`);
    return image.state === 'available' ? image : undefined;
  });
}

/** Deletes the version, its data template snapshot, and the image definition once it has no version left. */
export async function deleteImage(c: AzureContext, imageId: string): Promise<string[]> {
  if (!isGalleryVersion(imageId)) return [];
  const version = await c.arm.get(imageId, 'Microsoft.Compute galleryImageVersions.get');
  if (!version) return [];
  if (!fromTags(version.tags).labels.build) throw new CloudError('image-not-ours', `The image ${imageId} was not built by sourcegraph-launch; it is not deleted`);
  await c.arm.delete(imageId, 'Microsoft.Compute galleryImageVersions.delete');
  const removed: string[] = [];
  const template = version.tags?.[DATA_TEMPLATE_TAG] as string | undefined;
  if (template) {
    await c.arm.delete(template, 'Microsoft.Compute snapshots.delete');
    removed.push(template);
  }
  try {
    await c.arm.delete(imageId.replace(/\/versions\/[^/]+$/i, ''), 'Microsoft.Compute galleryImages.delete');
  } catch (e) {
    // Another version still lives in the definition: it stays.
    if (armCode(e) !== 'Conflict') throw e;
  }
  return removed;
}
