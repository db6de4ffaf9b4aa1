// Microsoft.Compute managed disks and snapshots (DiskRP, api-version 2024-03-02). A PUT answers 202
// while DiskRP works (200 for an existing disk), with Azure-AsyncOperation and Location. Disks are
// created Empty, by Copy of a disk or snapshot, or FromImage (marketplace or gallery image
// version); snapshots Copy a disk, incrementally or in full. Zone rules: a zonal disk stays in its
// zone; a disk attached to a VM (managedBy) cannot be deleted.
import { ArmError, badRequest, invalidParameter, operationNotAllowed, resourceNotFound } from '../errors.js';
import { baseRender, checkZones, deleteResource, findOrThrow, getResource, immutable, putResource, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import { parseId, type StoredResource } from '../state.js';
import { resolveImageReference } from './images.js';

export const DISK = 'Microsoft.Compute/disks';
export const SNAPSHOT = 'Microsoft.Compute/snapshots';

/** Largest sizes DiskRP accepts, by SKU (GiB). */
const MAX_SIZE: Record<string, number> = { PremiumV2_LRS: 65536, UltraSSD_LRS: 65536 };
const ZONE_REDUNDANT = new Set(['Premium_ZRS', 'StandardSSD_ZRS']);
const PROVISIONED_PERFORMANCE = new Set(['PremiumV2_LRS', 'UltraSSD_LRS']);

export interface DiskInternal {
  uniqueId: string;
  /** Id of the VM the disk is attached to. */
  attachedTo?: string;
  /** Where the content came from, for assertions: 'empty', 'image:<id>', 'copy:<source id>'. */
  origin: string;
}

export const diskInternal = (r: StoredResource) => r.internal as unknown as DiskInternal;

function findSource(ctx: RequestContext, id: string, target: string): StoredResource {
  const parsed = parseId(id);
  const found = ctx.core.state.get(id);
  if (!found || ![DISK, SNAPSHOT].includes(found.type)) {
    if (parsed) throw resourceNotFound(`${parsed.provider}/${parsed.types.join('/')}`, parsed.names.join('/'), parsed.resourceGroup);
    throw invalidParameter(`Source resource id '${id}' is not a disk or snapshot id.`, target);
  }
  if (found.provisioningState !== 'Succeeded' && found.provisioningState !== 'Updating') {
    throw operationNotAllowed(`Source ${found.id} is not ready (provisioningState ${found.provisioningState}).`, target);
  }
  return found;
}

/** Size, OS and origin of new content from a creationData (shared by disks and snapshots). */
function content(ctx: RequestContext, location: string, creation: Record<string, any>, forSnapshot: boolean) {
  const target = 'properties.creationData';
  switch (creation.createOption) {
    case 'Empty':
      if (forSnapshot) break;
      return { sizeGB: undefined, origin: 'empty' };
    case 'Copy': {
      if (!creation.sourceResourceId) throw invalidParameter('createOption Copy needs sourceResourceId.', `${target}.sourceResourceId`);
      const source = findSource(ctx, creation.sourceResourceId, `${target}.sourceResourceId`);
      if (source.location !== location) {
        throw badRequest('BadRequest', `Source ${source.id} is in ${source.location}; the copy must be in the same region (${location}).`, `${target}.sourceResourceId`);
      }
      return {
        sizeGB: source.properties.diskSizeGB as number,
        origin: `copy:${source.id}`,
        source,
        osType: source.properties.osType,
        hyperVGeneration: source.properties.hyperVGeneration,
      };
    }
    case 'FromImage': {
      if (forSnapshot) break;
      const ref = creation.galleryImageReference ?? creation.imageReference;
      if (!ref?.id) throw invalidParameter('createOption FromImage needs imageReference.id or galleryImageReference.id.', target);
      const image = resolveImageReference(ctx, { id: ref.id }, location, `${target}.imageReference`);
      if (ref.lun !== undefined) {
        const data = image.dataDisks.find((d) => d.lun === ref.lun);
        if (!data) throw invalidParameter(`Image ${ref.id} has no data disk at LUN ${ref.lun}.`, `${target}.imageReference.lun`);
        return { sizeGB: data.sizeGB, origin: `image:${image.id}#lun${ref.lun}` };
      }
      return { sizeGB: image.osDiskSizeGB, origin: `image:${image.id}`, osType: image.osType, hyperVGeneration: image.hyperVGeneration };
    }
  }
  throw invalidParameter(`createOption '${creation.createOption}' is not modelled by the arm-emulator (use Empty, Copy or FromImage${forSnapshot ? '; snapshots: Copy' : ''}).`, `${target}.createOption`);
}

export const diskKind: ResourceType = {
  type: DISK,
  family: 'disks',
  zonal: true,
  putStatus: (isNew) => (isNew ? 202 : 200),
  plan(ctx, input) {
    const body = input.body;
    const props = { ...(body.properties ?? {}) } as Record<string, any>;
    const existing = input.existing;
    immutable(existing, body, 'properties.creationData');
    checkZones(body.zones, 1);
    const sku: string = body.sku?.name ?? (existing?.sku?.name as string | undefined) ?? 'Standard_LRS';
    if (ZONE_REDUNDANT.has(sku) && body.zones) throw invalidParameter(`A ${sku} disk is zone-redundant and takes no zones.`, 'zones');
    if (sku === 'PremiumV2_LRS' && !body.zones) throw invalidParameter('A PremiumV2_LRS disk must be placed in an availability zone.', 'zones');
    if (!PROVISIONED_PERFORMANCE.has(sku) && (props.diskIOPSReadWrite !== undefined || props.diskMBpsReadWrite !== undefined)) {
      throw invalidParameter(`diskIOPSReadWrite and diskMBpsReadWrite can only be set on PremiumV2_LRS and UltraSSD_LRS disks, not ${sku}.`, 'properties.diskIOPSReadWrite');
    }
    const made = existing ? undefined : content(ctx, input.location, props.creationData, false);
    const size: number | undefined = props.diskSizeGB ?? (existing?.properties.diskSizeGB as number | undefined) ?? made?.sizeGB;
    if (size === undefined) throw invalidParameter("Required parameter 'diskSizeGB' is missing (null).", 'properties.diskSizeGB');
    if (size < 1 || size > (MAX_SIZE[sku] ?? 32767)) throw invalidParameter(`Disk size ${size} GB is not allowed for ${sku}.`, 'properties.diskSizeGB');
    if (made?.sizeGB !== undefined && size < made.sizeGB) {
      throw invalidParameter(`Disk size ${size} GB is smaller than the size of the source (${made.sizeGB} GB).`, 'properties.diskSizeGB');
    }
    if (existing) {
      const before = existing.properties.diskSizeGB as number;
      if (size < before) throw badRequest('BadRequest', `Disk size cannot be reduced from ${before} GB to ${size} GB.`, 'properties.diskSizeGB');
      const attachedTo = diskInternal(existing).attachedTo;
      if (existing.sku?.name !== sku && attachedTo && ctx.core.state.get(attachedTo)?.internal.powerState !== 'deallocated') {
        throw operationNotAllowed(`The SKU of disk ${existing.name} can only change while it is unattached or its VM is deallocated.`, 'sku.name');
      }
      // Growing online ("expand without downtime") stops at 4 TiB for these SKUs: crossing it needs the VM deallocated.
      const crosses4TiB = before <= 4095 && size > 4095 && !/^(PremiumV2_LRS|UltraSSD_LRS)$/.test(sku);
      if (crosses4TiB && attachedTo && ctx.core.state.get(attachedTo)?.internal.powerState !== 'deallocated') {
        throw operationNotAllowed(`Disk ${existing.name} can grow beyond 4095 GB only while it is unattached or its VM is deallocated.`, 'properties.diskSizeGB');
      }
    }
    const performance = sku === 'PremiumV2_LRS' ? { diskIOPSReadWrite: props.diskIOPSReadWrite ?? 3000, diskMBpsReadWrite: props.diskMBpsReadWrite ?? 125 } : {};
    const internal: DiskInternal = existing ? { ...diskInternal(existing) } : { uniqueId: ctx.core.state.newUuid(), origin: made!.origin };
    return {
      resource: {
        id: input.id,
        type: DISK,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        ...(body.zones ? { zones: body.zones } : {}),
        sku: { name: sku },
        properties: {
          ...(existing?.properties ?? {}),
          ...(made?.osType ? { osType: made.osType } : {}),
          ...(made?.hyperVGeneration ? { hyperVGeneration: made.hyperVGeneration } : {}),
          ...props,
          ...performance,
          diskSizeGB: size,
          diskSizeBytes: size * 1024 ** 3,
          uniqueId: internal.uniqueId,
          timeCreated: (existing?.properties.timeCreated as string | undefined) ?? new Date().toISOString(),
          encryption: { type: 'EncryptionAtRestWithPlatformKey' },
          networkAccessPolicy: props.networkAccessPolicy ?? 'AllowAll',
        },
        top: {},
        provisioningState: 'Creating',
        internal: internal as unknown as Record<string, unknown>,
      },
    };
  },
  planDelete(ctx, existing) {
    const vm = diskInternal(existing).attachedTo;
    if (vm && ctx.core.state.get(vm)) throw operationNotAllowed(`Disk ${existing.name} is attached to VM ${vm}.`);
    return {};
  },
  render(ctx, r) {
    const body = baseRender(r, { diskState: diskState(ctx, r) });
    const props = body.properties as Record<string, unknown>;
    if (props.provisioningState === 'Creating') props.provisioningState = 'Updating';
    const vm = diskInternal(r).attachedTo;
    return vm ? { ...body, managedBy: vm } : body;
  },
};

function diskState(ctx: RequestContext, r: StoredResource): string {
  const vm = diskInternal(r).attachedTo;
  if (!vm) return 'Unattached';
  return ctx.core.state.get(vm)?.internal.powerState === 'deallocated' ? 'Reserved' : 'Attached';
}

export const snapshotKind: ResourceType = {
  type: SNAPSHOT,
  family: 'disks',
  putStatus: (isNew) => (isNew ? 202 : 200),
  plan(ctx, input) {
    const body = input.body;
    const props = { ...(body.properties ?? {}) } as Record<string, any>;
    const existing = input.existing;
    immutable(existing, body, 'properties.creationData', 'properties.incremental');
    const made = existing ? undefined : content(ctx, input.location, props.creationData, true);
    const incremental = props.incremental === true;
    const sku: string = body.sku?.name ?? 'Standard_LRS';
    if (made && incremental && made.source?.type !== DISK) {
      throw invalidParameter('An incremental snapshot must be taken of a managed disk.', 'properties.creationData.sourceResourceId');
    }
    if (incremental && sku === 'Premium_LRS') throw invalidParameter('Incremental snapshots cannot use Premium_LRS storage.', 'sku.name');
    const size = (existing?.properties.diskSizeGB as number | undefined) ?? made!.sizeGB!;
    const source = made?.source;
    const internal: DiskInternal = existing ? { ...diskInternal(existing) } : { uniqueId: ctx.core.state.newUuid(), origin: made!.origin };
    return {
      resource: {
        id: input.id,
        type: SNAPSHOT,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        sku: { name: sku, tier: 'Standard' },
        properties: {
          ...(existing?.properties ?? {}),
          ...(made?.osType ? { osType: made.osType } : {}),
          ...(made?.hyperVGeneration ? { hyperVGeneration: made.hyperVGeneration } : {}),
          ...props,
          creationData: { ...props.creationData, ...(source ? { sourceUniqueId: diskInternal(source).uniqueId, sourceResourceId: source.id } : {}) },
          incremental,
          ...(incremental && source ? { incrementalSnapshotFamilyId: diskInternal(source).uniqueId } : {}),
          diskSizeGB: size,
          diskSizeBytes: size * 1024 ** 3,
          uniqueId: internal.uniqueId,
          timeCreated: (existing?.properties.timeCreated as string | undefined) ?? new Date().toISOString(),
          encryption: { type: 'EncryptionAtRestWithPlatformKey' },
          networkAccessPolicy: props.networkAccessPolicy ?? 'AllowAll',
        },
        top: {},
        provisioningState: 'Creating',
        internal: internal as unknown as Record<string, unknown>,
      },
    };
  },
  render(_ctx, r) {
    const body = baseRender(r);
    const props = body.properties as Record<string, unknown>;
    if (props.provisioningState === 'Creating') props.provisioningState = 'Updating';
    return body;
  },
};

/** A disk the VM itself creates (OS disk from an image, Empty or FromImage data disks): exists at once. */
export function createVmDisk(
  ctx: RequestContext,
  opts: { rg: string; name: string; location: string; zones?: string[]; sku: string; sizeGB: number; origin: string; osType?: string; hyperVGeneration?: string; attachedTo: string },
): StoredResource {
  const id = `/subscriptions/${ctx.core.state.subscriptionId}/resourceGroups/${opts.rg}/providers/${DISK}/${opts.name}`;
  if (ctx.core.state.get(id)) throw new ArmError(409, 'Conflict', `A disk named ${opts.name} already exists in resource group ${opts.rg}.`);
  const internal: DiskInternal = { uniqueId: ctx.core.state.newUuid(), origin: opts.origin, attachedTo: opts.attachedTo };
  const disk: StoredResource = {
    id,
    type: DISK,
    name: opts.name,
    resourceGroup: opts.rg,
    location: opts.location,
    tags: {},
    ...(opts.zones ? { zones: opts.zones } : {}),
    sku: { name: opts.sku },
    properties: {
      ...(opts.osType ? { osType: opts.osType } : {}),
      ...(opts.hyperVGeneration ? { hyperVGeneration: opts.hyperVGeneration } : {}),
      creationData: { createOption: opts.origin === 'empty' ? 'Empty' : 'FromImage' },
      diskSizeGB: opts.sizeGB,
      diskSizeBytes: opts.sizeGB * 1024 ** 3,
      uniqueId: internal.uniqueId,
      timeCreated: new Date().toISOString(),
      encryption: { type: 'EncryptionAtRestWithPlatformKey' },
      networkAccessPolicy: 'AllowAll',
    },
    top: {},
    provisioningState: 'Succeeded',
    internal: internal as unknown as Record<string, unknown>,
  };
  // What a PUT of this disk would have said, so a later PATCH (tags) merges into it as into any disk.
  disk.request = {
    location: opts.location,
    ...(opts.zones ? { zones: opts.zones } : {}),
    sku: { name: opts.sku },
    properties: {
      ...(opts.osType ? { osType: opts.osType } : {}),
      ...(opts.hyperVGeneration ? { hyperVGeneration: opts.hyperVGeneration } : {}),
      creationData: disk.properties.creationData,
      diskSizeGB: opts.sizeGB,
    },
  };
  ctx.core.state.put(disk);
  return disk;
}

/** DiskRP PATCH (Disks_Update): tags, SKU, size and performance, merged into the disk. */
function patchDisk(ctx: RequestContext) {
  const rg = ctx.params.resourceGroupName!;
  const disk = findOrThrow(ctx, diskKind, rg, ctx.params.diskName!);
  const patch = (ctx.body ?? {}) as Record<string, any>;
  const merged = {
    ...(disk.request as Record<string, any>),
    ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
    ...(patch.sku !== undefined ? { sku: patch.sku } : {}),
    location: disk.location,
    properties: { ...((disk.request as Record<string, any>)?.properties ?? {}), ...(patch.properties ?? {}) },
  };
  ctx.body = merged;
  // Same checks and operation as a PUT of the merged disk; DiskRP answers a PATCH with 202.
  return { ...putResource(ctx, diskKind, rg, ctx.params.diskName!), status: 202 };
}

export function registerDisks(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('Disks_CreateOrUpdate', (ctx) => putResource(ctx, diskKind, rg(ctx), ctx.params.diskName!));
  router.operation('Disks_Get', (ctx) => getResource(ctx, diskKind, rg(ctx), ctx.params.diskName!));
  router.operation('Disks_Update', patchDisk);
  router.operation('Disks_Delete', (ctx) => deleteResource(ctx, diskKind, rg(ctx), ctx.params.diskName!));
  router.operation('Snapshots_CreateOrUpdate', (ctx) => putResource(ctx, snapshotKind, rg(ctx), ctx.params.snapshotName!));
  router.operation('Snapshots_Get', (ctx) => getResource(ctx, snapshotKind, rg(ctx), ctx.params.snapshotName!));
  router.operation('Snapshots_Delete', (ctx) => deleteResource(ctx, snapshotKind, rg(ctx), ctx.params.snapshotName!));
}
