// The disk side of a VM: which managed disks a VM PUT or attachDetachDataDisks attaches, creates
// (Empty, FromImage) or detaches, with the rules Azure enforces: LUNs unique per VM, a disk
// attaches to at most one VM, a zonal disk only to a VM in the same zone (zone-redundant disks to
// any), the same region, and no host caching on PremiumV2/Ultra disks.
import { anotherOperationInProgress, invalidParameter, operationNotAllowed, resourceNotFound } from '../errors.js';
import type { RequestContext } from '../router.js';
import { parseId, type StoredResource } from '../state.js';
import { createVmDisk, DISK, diskInternal } from './disks.js';
import type { ResolvedImage } from './images.js';
import { sameId } from './network-common.js';

export const VM = 'Microsoft.Compute/virtualMachines';

export type PowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

export interface VmInternal {
  vmId: string;
  powerState: PowerState;
  /** Secret that signs the boot diagnostics blob links of this VM. */
  sasSecret: string;
  osName: string;
  osVersion: string;
  hyperVGeneration: 'V1' | 'V2';
  /** The error that ended the last failed operation, for the instance view. */
  lastError?: { code: string; message: string };
}

export const vmInternal = (r: StoredResource) => r.internal as unknown as VmInternal;

/** Where a VM is (or will be): what attach rules compare against. */
export interface VmPlace {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  zones?: string[];
}

const ZONE_REDUNDANT = new Set(['Premium_ZRS', 'StandardSSD_ZRS']);
const NO_HOST_CACHE = new Set(['PremiumV2_LRS', 'UltraSSD_LRS']);

/** Azure's default host caching: ReadOnly on Premium SSD, None elsewhere. */
export const defaultCaching = (sku: string) => (sku.startsWith('Premium_') ? 'ReadOnly' : 'None');

export const hex32 = (ctx: RequestContext) => ctx.core.state.newUuid().replace(/-/g, '');

export function checkZoneAndCaching(disk: { name: string; zones?: string[]; sku?: Record<string, unknown> }, vm: VmPlace, caching: string | undefined, target: string): void {
  const sku = String(disk.sku?.name ?? 'Standard_LRS');
  if (!ZONE_REDUNDANT.has(sku) && (disk.zones?.[0] ?? null) !== (vm.zones?.[0] ?? null)) {
    const where = (z?: string[]) => (z?.[0] ? `zone ${z[0]}` : 'no zone (regional)');
    throw invalidParameter(`Disk ${disk.name} is in ${where(disk.zones)} and VM ${vm.name} is in ${where(vm.zones)}: a zonal disk attaches only to a VM in the same zone.`, target);
  }
  if (NO_HOST_CACHE.has(sku) && caching !== undefined && caching !== 'None') {
    throw invalidParameter(`Host caching ${caching} is not supported on ${sku} disk ${disk.name}; use None.`, target);
  }
}

/** An existing managed disk that may be attached to `vm`, or the reason it may not. */
export function attachableDisk(ctx: RequestContext, diskId: string | undefined, vm: VmPlace, caching: string | undefined, target: string): StoredResource {
  if (!diskId) throw invalidParameter('Attaching a disk needs its managed disk id.', target);
  const disk = ctx.core.state.get(diskId);
  if (!disk || disk.type !== DISK || disk.provisioningState === 'Deleting') {
    const p = parseId(diskId);
    throw resourceNotFound(DISK, p?.names.join('/') ?? diskId, p?.resourceGroup ?? '');
  }
  if (disk.pendingOperation) throw anotherOperationInProgress(disk.id, ctx.core.state.operations.get(disk.pendingOperation)?.name ?? 'unknown');
  const owner = diskInternal(disk).attachedTo;
  if (owner && !sameId(owner, vm.id)) throw operationNotAllowed(`Disk ${disk.name} is already attached to VM ${owner}.`, target);
  if (disk.location !== vm.location) throw invalidParameter(`Disk ${disk.name} is in ${disk.location}; VM ${vm.name} is in ${vm.location}.`, target);
  checkZoneAndCaching(disk, vm, caching, target);
  return disk;
}

export interface DataDiskPlan {
  /** The VM's dataDisks entries after the change, as stored. */
  entries: Record<string, any>[];
  /** Makes the change: creates new disks, sets and clears attachments. */
  commit(): void;
}

/**
 * Plans a VM's data disks from the requested list (a VM PUT), against its current entries.
 * Entries whose LUN and disk are unchanged are kept; `toBeDetached: true` or a missing LUN detaches.
 */
export function planDataDisks(ctx: RequestContext, vm: VmPlace, requested: Record<string, any>[], current: Record<string, any>[], image?: ResolvedImage, isNew = false): DataDiskPlan {
  const entries: Record<string, any>[] = [];
  const creates: (() => StoredResource)[] = [];
  const attach: StoredResource[] = [];
  const luns = new Set<number>();
  requested.forEach((d, i) => {
    const target = `properties.storageProfile.dataDisks[${i}]`;
    if (!(d.lun >= 0 && d.lun <= 63)) throw invalidParameter(`LUN ${d.lun} is not allowed (0 to 63).`, `${target}.lun`);
    if (luns.has(d.lun)) throw invalidParameter(`LUN ${d.lun} is used by more than one data disk; LUNs must be unique per VM.`, `${target}.lun`);
    luns.add(d.lun);
    if (d.toBeDetached === true) return;
    const prev = current.find((c) => c.lun === d.lun);
    if (prev && (d.managedDisk?.id === undefined || sameId(d.managedDisk.id, prev.managedDisk.id))) {
      const disk = ctx.core.state.get(prev.managedDisk.id);
      if (disk) checkZoneAndCaching(disk, vm, d.caching, target);
      entries.push({ ...prev, caching: d.caching ?? prev.caching, deleteOption: d.deleteOption ?? prev.deleteOption, ...(d.writeAcceleratorEnabled !== undefined ? { writeAcceleratorEnabled: d.writeAcceleratorEnabled } : {}) });
      return;
    }
    const sku: string = d.managedDisk?.storageAccountType ?? 'Standard_LRS';
    const base = { lun: d.lun, createOption: d.createOption, deleteOption: d.deleteOption ?? 'Detach', ...(d.writeAcceleratorEnabled !== undefined ? { writeAcceleratorEnabled: d.writeAcceleratorEnabled } : {}) };
    switch (d.createOption) {
      case 'Attach': {
        const disk = attachableDisk(ctx, d.managedDisk?.id, vm, d.caching, target);
        const diskSku = String(disk.sku?.name);
        if (d.managedDisk?.storageAccountType && d.managedDisk.storageAccountType !== diskSku) {
          throw invalidParameter(`storageAccountType ${d.managedDisk.storageAccountType} does not match disk ${disk.name} (${diskSku}).`, `${target}.managedDisk.storageAccountType`);
        }
        attach.push(disk);
        entries.push({ ...base, name: disk.name, caching: d.caching ?? defaultCaching(diskSku), managedDisk: { id: disk.id, storageAccountType: diskSku } });
        return;
      }
      case 'Empty':
      case 'FromImage': {
        let sizeGB: number | undefined = d.diskSizeGB;
        let origin = 'empty';
        if (d.createOption === 'FromImage') {
          const fromImage = image?.dataDisks.find((x) => x.lun === d.lun);
          if (!isNew || !fromImage) throw invalidParameter(`createOption FromImage needs an image with a data disk at LUN ${d.lun}, at VM creation.`, target);
          if (sizeGB !== undefined && sizeGB < fromImage.sizeGB) throw invalidParameter(`Data disk size ${sizeGB} GB is smaller than the image's (${fromImage.sizeGB} GB).`, `${target}.diskSizeGB`);
          sizeGB ??= fromImage.sizeGB;
          origin = `image:${image!.id}#lun${d.lun}`;
        }
        if (sizeGB === undefined) throw invalidParameter("Required parameter 'diskSizeGB' is missing (null).", `${target}.diskSizeGB`);
        const name: string = d.name ?? `${vm.name}_disk${d.lun + 2}_${hex32(ctx)}`;
        const zones = ZONE_REDUNDANT.has(sku) ? undefined : vm.zones;
        if (sku === 'PremiumV2_LRS' && !zones) throw invalidParameter('A PremiumV2_LRS disk needs a VM in an availability zone.', target);
        checkZoneAndCaching({ name, sku: { name: sku }, ...(zones ? { zones } : {}) }, vm, d.caching, target);
        const plannedOrigin = origin;
        creates.push(() => createVmDisk(ctx, { rg: vm.resourceGroup, name, location: vm.location, ...(zones ? { zones } : {}), sku, sizeGB: sizeGB!, origin: plannedOrigin, attachedTo: vm.id }));
        const id = `/subscriptions/${ctx.core.state.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/${DISK}/${name}`;
        if (ctx.core.state.get(id)) throw invalidParameter(`A disk named ${name} already exists in resource group ${vm.resourceGroup}.`, `${target}.name`);
        entries.push({ ...base, name, caching: d.caching ?? defaultCaching(sku), managedDisk: { id, storageAccountType: sku } });
        return;
      }
      default:
        throw invalidParameter(`Data disk createOption '${d.createOption}' is not modelled by the arm-emulator (use Attach, Empty or FromImage).`, `${target}.createOption`);
    }
  });
  // Data disks of the image the request did not mention are created with default settings.
  if (isNew) {
    for (const fromImage of image?.dataDisks ?? []) {
      if (luns.has(fromImage.lun)) continue;
      const name = `${vm.name}_disk${fromImage.lun + 2}_${hex32(ctx)}`;
      const zones = vm.zones;
      const origin = `image:${image!.id}#lun${fromImage.lun}`;
      creates.push(() =>
        createVmDisk(ctx, { rg: vm.resourceGroup, name, location: vm.location, ...(zones ? { zones } : {}), sku: 'Standard_LRS', sizeGB: fromImage.sizeGB, origin, attachedTo: vm.id }),
      );
      const id = `/subscriptions/${ctx.core.state.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/${DISK}/${name}`;
      entries.push({ lun: fromImage.lun, name, createOption: 'FromImage', caching: 'None', deleteOption: 'Detach', managedDisk: { id, storageAccountType: 'Standard_LRS' } });
    }
  }
  const ids = entries.map((e) => String(e.managedDisk.id).toLowerCase());
  if (new Set(ids).size !== ids.length) throw invalidParameter('The same managed disk is given at more than one LUN.', 'properties.storageProfile.dataDisks');
  const detach = current.filter((c) => !entries.some((e) => sameId(e.managedDisk.id, c.managedDisk.id)));
  return {
    entries: entries.sort((a, b) => a.lun - b.lun),
    commit() {
      for (const c of detach) {
        const disk = ctx.core.state.get(c.managedDisk.id);
        if (disk) delete diskInternal(disk).attachedTo;
      }
      for (const create of creates) create();
      for (const disk of attach) diskInternal(disk).attachedTo = vm.id;
    },
  };
}
