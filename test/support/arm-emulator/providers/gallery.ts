// Azure Compute Gallery (GalleryRP, api-version 2024-03-03): galleries, image definitions and
// image versions. A version is made from a VM (its OS and data disks) or from an OS disk snapshot
// plus data disk snapshots/disks by LUN; it records their sizes, which is what a VM created from
// it gets. The definition's hyperVGeneration (default V1) must match the source's, as on Azure.
import { ArmError, badRequest, conflict, invalidParameter } from '../errors.js';
import { baseRender, deleteResource, getResource, idFor, immutable, putResource, requireGroup, type PutInput, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import { normalizeLocation, type StoredResource } from '../state.js';
import { DISK, SNAPSHOT } from './disks.js';
import { GALLERY_IMAGE, GALLERY_IMAGE_VERSION } from './images.js';

const GALLERY = 'Microsoft.Compute/galleries';
const VM = 'Microsoft.Compute/virtualMachines';

function children(ctx: RequestContext, parent: StoredResource, type: string): StoredResource[] {
  const prefix = `${parent.id.toLowerCase()}/`;
  return ctx.core.state.ofType(type).filter((r) => r.id.toLowerCase().startsWith(prefix));
}

function parentOrThrow(ctx: RequestContext, type: string, rg: string, ...names: string[]): StoredResource {
  const parent = ctx.core.state.get(idFor(ctx, rg, type, ...names));
  if (!parent || parent.provisioningState === 'Deleting') {
    throw new ArmError(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${names.join('/')}' not found.`);
  }
  return parent;
}

function stored(input: PutInput, type: string, properties: Record<string, unknown>, internal: Record<string, unknown> = {}): StoredResource {
  return {
    id: input.id,
    type,
    name: input.name,
    resourceGroup: input.resourceGroup,
    location: input.location,
    tags: input.tags,
    properties,
    top: {},
    provisioningState: 'Creating',
    internal,
  };
}

const render = (_ctx: RequestContext, r: StoredResource) => baseRender(r);

export const galleryKind: ResourceType = {
  type: GALLERY,
  family: 'gallery',
  plan(ctx, input) {
    const props = { ...(input.body.properties ?? {}) } as Record<string, any>;
    const uniqueName = `${ctx.core.state.subscriptionId}-${input.name.toUpperCase()}`;
    return { resource: stored(input, GALLERY, { ...props, identifier: { uniqueName } }) };
  },
  planDelete(ctx, existing) {
    const images = children(ctx, existing, GALLERY_IMAGE);
    if (images.length) throw conflict('Conflict', `Gallery ${existing.name} still has image definitions (${images.map((i) => i.name).join(', ')}); delete them first.`);
    return {};
  },
  render,
};

export const galleryImageKind: ResourceType = {
  type: GALLERY_IMAGE,
  family: 'gallery',
  plan(ctx, input) {
    const body = input.body;
    const props = { ...(body.properties ?? {}) } as Record<string, any>;
    const rg = input.resourceGroup;
    const [galleryName] = input.id.split('/galleries/')[1]!.split('/');
    const gallery = parentOrThrow(ctx, GALLERY, rg, galleryName!);
    if (gallery.location !== input.location) {
      throw invalidParameter(`The image definition must be in the gallery's location ${gallery.location}, not ${input.location}.`, 'location');
    }
    immutable(input.existing, body, 'properties.osType', 'properties.osState', 'properties.identifier', 'properties.hyperVGeneration', 'properties.architecture');
    const id = props.identifier as { publisher: string; offer: string; sku: string };
    const same = children(ctx, gallery, GALLERY_IMAGE).find((other) => {
      const o = other.properties.identifier as typeof id;
      return other.id.toLowerCase() !== input.id.toLowerCase() && [o.publisher, o.offer, o.sku].join(':').toLowerCase() === [id.publisher, id.offer, id.sku].join(':').toLowerCase();
    });
    if (same) throw conflict('Conflict', `Image definition ${same.name} in gallery ${gallery.name} already has the identifier ${id.publisher}/${id.offer}/${id.sku}.`);
    return { resource: stored(input, GALLERY_IMAGE, { hyperVGeneration: 'V1', architecture: 'x64', ...props }) };
  },
  planDelete(ctx, existing) {
    const versions = children(ctx, existing, GALLERY_IMAGE_VERSION);
    if (versions.length) throw conflict('Conflict', `Image definition ${existing.name} still has versions (${versions.map((v) => v.name).join(', ')}); delete them first.`);
    return {};
  },
  render,
};

interface DiskImage {
  lun?: number;
  sizeInGB: number;
  hostCaching?: string;
  source?: { id: string };
}

/** A snapshot or disk a version is made from; its size and generation. */
function diskSource(ctx: RequestContext, id: string, location: string, target: string): StoredResource {
  const found = ctx.core.state.get(id);
  if (!found || ![DISK, SNAPSHOT].includes(found.type) || found.provisioningState === 'Deleting') {
    throw badRequest('InvalidParameter', `The source ${id} of the image version was not found (give a managed disk or snapshot id).`, target);
  }
  if (found.location !== location) throw invalidParameter(`The source ${id} is in ${found.location}; the image version is in ${location}.`, target);
  return found;
}

/** The OS and data disk images of a new version, from a VM or from snapshots/disks. */
function sourceImages(ctx: RequestContext, storage: Record<string, any>, location: string, generation: string): { os: DiskImage; data: DiskImage[]; source?: Record<string, string> } {
  const vmId: string | undefined = storage.source?.virtualMachineId ?? (String(storage.source?.id ?? '').toLowerCase().includes('/virtualmachines/') ? storage.source.id : undefined);
  const check = (r: StoredResource, target: string) => {
    const g = r.properties.hyperVGeneration as string | undefined;
    if (g && g !== generation) {
      throw invalidParameter(`The source ${r.id} is a ${g} (generation) disk, but the image definition is ${generation}. Set hyperVGeneration on the image definition to match.`, target);
    }
  };
  if (vmId) {
    const vm = ctx.core.state.get(vmId);
    if (!vm || vm.type !== VM || vm.provisioningState !== 'Succeeded') {
      throw badRequest('InvalidParameter', `The source virtual machine ${vmId} was not found or is not in a succeeded state.`, 'properties.storageProfile.source');
    }
    const sp = vm.properties.storageProfile as { osDisk: { managedDisk: { id: string } }; dataDisks?: { lun: number; managedDisk: { id: string }; caching?: string }[] };
    const osDisk = ctx.core.state.get(sp.osDisk.managedDisk.id)!;
    check(osDisk, 'properties.storageProfile.source');
    return {
      source: { virtualMachineId: vm.id },
      os: { sizeInGB: osDisk.properties.diskSizeGB as number, hostCaching: 'ReadWrite' },
      data: (sp.dataDisks ?? []).map((d) => ({ lun: d.lun, sizeInGB: ctx.core.state.get(d.managedDisk.id)!.properties.diskSizeGB as number, hostCaching: d.caching ?? 'None' })),
    };
  }
  if (storage.source?.id) throw invalidParameter('Only a virtual machine can be the storageProfile.source of an image version in the arm-emulator (managed images are not modelled).', 'properties.storageProfile.source');
  const osId: string | undefined = storage.osDiskImage?.source?.id;
  if (!osId) throw invalidParameter('An image version needs storageProfile.source.virtualMachineId or storageProfile.osDiskImage.source.id.', 'properties.storageProfile');
  const os = diskSource(ctx, osId, location, 'properties.storageProfile.osDiskImage.source.id');
  check(os, 'properties.storageProfile.osDiskImage.source.id');
  const luns = new Set<number>();
  const data = ((storage.dataDiskImages as Record<string, any>[] | undefined) ?? []).map((d, i) => {
    const target = `properties.storageProfile.dataDiskImages[${i}]`;
    if (luns.has(d.lun)) throw invalidParameter(`LUN ${d.lun} is given twice.`, target);
    luns.add(d.lun);
    if (!d.source?.id) throw invalidParameter('A data disk image needs source.id (a snapshot or managed disk).', target);
    const disk = diskSource(ctx, d.source.id, location, `${target}.source.id`);
    return { lun: d.lun, sizeInGB: disk.properties.diskSizeGB as number, hostCaching: d.hostCaching ?? 'None', source: { id: disk.id } };
  });
  return { os: { sizeInGB: os.properties.diskSizeGB as number, hostCaching: storage.osDiskImage.hostCaching ?? 'ReadWrite', source: { id: os.id } }, data };
}

export const galleryImageVersionKind: ResourceType = {
  type: GALLERY_IMAGE_VERSION,
  family: 'gallery',
  plan(ctx, input) {
    const body = input.body;
    const props = { ...(body.properties ?? {}) } as Record<string, any>;
    if (!/^\d+\.\d+\.\d+$/.test(input.name) || input.name.split('.').some((p) => Number(p) > 2 ** 31 - 1)) {
      throw invalidParameter(`The gallery image version name '${input.name}' must be MAJOR.MINOR.PATCH with 32-bit integers.`, 'galleryImageVersionName');
    }
    const [galleryName, , imageName] = input.id.split('/galleries/')[1]!.split('/');
    const image = parentOrThrow(ctx, GALLERY_IMAGE, input.resourceGroup, galleryName!, imageName!);
    if (image.location !== input.location) throw invalidParameter(`The image version must be in the image definition's location ${image.location}.`, 'location');
    immutable(input.existing, body, 'properties.storageProfile');
    const existingStorage = input.existing?.properties.storageProfile as Record<string, unknown> | undefined;
    const images = existingStorage ? undefined : sourceImages(ctx, props.storageProfile ?? {}, input.location, image.properties.hyperVGeneration as string);
    const profile = (props.publishingProfile ?? {}) as Record<string, any>;
    const storageAccountType = profile.storageAccountType ?? 'Standard_LRS';
    const regions = ((profile.targetRegions as Record<string, any>[] | undefined) ?? [{ name: input.location }]).map((r) => ({
      ...r,
      name: normalizeLocation(r.name),
      regionalReplicaCount: r.regionalReplicaCount ?? profile.replicaCount ?? 1,
      storageAccountType: r.storageAccountType ?? storageAccountType,
    }));
    if (!regions.some((r) => r.name === input.location)) {
      throw invalidParameter(`The target regions must include the source region ${input.location}.`, 'properties.publishingProfile.targetRegions');
    }
    return {
      resource: stored(input, GALLERY_IMAGE_VERSION, {
        ...props,
        publishingProfile: {
          ...profile,
          targetRegions: regions,
          replicaCount: profile.replicaCount ?? 1,
          excludeFromLatest: profile.excludeFromLatest ?? false,
          storageAccountType,
          publishedDate: (input.existing?.properties.publishingProfile as { publishedDate?: string } | undefined)?.publishedDate ?? new Date().toISOString(),
        },
        storageProfile: existingStorage ?? {
          ...(images!.source ? { source: images!.source } : {}),
          osDiskImage: images!.os,
          ...(images!.data.length ? { dataDiskImages: images!.data } : {}),
        },
      }),
    };
  },
  render,
};

export function registerGalleries(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  const p = (ctx: RequestContext) => [ctx.params.galleryName!, ctx.params.galleryImageName!, ctx.params.galleryImageVersionName!].filter(Boolean);
  router.operation('Galleries_CreateOrUpdate', (ctx) => putResource(ctx, galleryKind, rg(ctx), ...p(ctx)));
  router.operation('Galleries_Get', (ctx) => getResource(ctx, galleryKind, rg(ctx), ...p(ctx)));
  router.operation('Galleries_Delete', (ctx) => deleteResource(ctx, galleryKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImages_CreateOrUpdate', (ctx) => putResource(ctx, galleryImageKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImages_Get', (ctx) => getResource(ctx, galleryImageKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImages_Delete', (ctx) => deleteResource(ctx, galleryImageKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImageVersions_CreateOrUpdate', (ctx) => putResource(ctx, galleryImageVersionKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImageVersions_Get', (ctx) => getResource(ctx, galleryImageVersionKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImageVersions_Delete', (ctx) => deleteResource(ctx, galleryImageVersionKind, rg(ctx), ...p(ctx)));
  router.operation('GalleryImageVersions_ListByGalleryImage', (ctx) => {
    requireGroup(ctx, rg(ctx));
    const image = parentOrThrow(ctx, GALLERY_IMAGE, rg(ctx), ...p(ctx));
    return { status: 200, body: { value: children(ctx, image, GALLERY_IMAGE_VERSION).map((v) => baseRender(v)) } };
  });
}
