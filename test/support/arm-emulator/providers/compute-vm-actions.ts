// What a VM does after it exists: the instance view (ProvisioningState/… and PowerState/… statuses),
// the power actions (start, powerOff = stopped but still billed, deallocate = no compute billing,
// restart), attachDetachDataDisks (final state via Location: the new storage profile), and boot
// diagnostics: retrieveBootDiagnosticsData answers SAS-style links that this emulator serves
// itself, with the serial log the test set through the control API.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ArmError, invalidParameter, operationNotAllowed } from '../errors.js';
import type { Reply } from '../lro.js';
import { beginAction, deleteResource, findOrThrow, getResource, putResource } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import { diskInternal } from './disks.js';
import { sameId } from './network-common.js';
import { attachableDisk, defaultCaching, vmInternal, type PowerState } from './compute-vm-disks.js';
import { vmKind } from './compute-vm.js';

const POWER_DISPLAY: Record<PowerState, string> = {
  starting: 'VM starting',
  running: 'VM running',
  stopping: 'VM stopping',
  stopped: 'VM stopped',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated',
};

export function instanceView(_ctx: RequestContext, vm: StoredResource): Record<string, unknown> {
  const internal = vmInternal(vm);
  const now = new Date().toISOString();
  const state = vm.provisioningState;
  const provisioning =
    state === 'Failed'
      ? { code: `ProvisioningState/failed/${internal.lastError?.code ?? 'InternalError'}`, level: 'Error', displayStatus: 'Provisioning failed', message: internal.lastError?.message ?? 'The operation failed.', time: now }
      : { code: `ProvisioningState/${state.toLowerCase()}`, level: 'Info', displayStatus: state === 'Succeeded' ? 'Provisioning succeeded' : state, time: now };
  const storage = vm.properties.storageProfile as { osDisk: { name: string }; dataDisks: { name: string }[] };
  const running = internal.powerState === 'running' && state === 'Succeeded';
  const os = vm.properties.osProfile as { computerName?: string } | undefined;
  return {
    ...(os?.computerName ? { computerName: os.computerName } : {}),
    ...(running ? { osName: internal.osName, osVersion: internal.osVersion } : {}),
    hyperVGeneration: internal.hyperVGeneration,
    ...(running
      ? { vmAgent: { vmAgentVersion: '2.11.1.12', statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Ready', message: 'Guest Agent is running', time: now }], extensionHandlers: [] } }
      : {}),
    disks: [storage.osDisk, ...storage.dataDisks].map((d) => ({
      name: d.name,
      statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time: now }],
    })),
    statuses: [provisioning, { code: `PowerState/${internal.powerState}`, level: 'Info', displayStatus: POWER_DISPLAY[internal.powerState] }],
  };
}

function vmOf(ctx: RequestContext): StoredResource {
  return findOrThrow(ctx, vmKind, ctx.params.resourceGroupName!, ctx.params.vmName!);
}

/** A power action: `from` lists the states it may start from; others are no-ops or OperationNotAllowed. */
function power(ctx: RequestContext, transitional: PowerState, final: PowerState, allowedFrom: PowerState[], refuseFrom: PowerState[]): Reply {
  const vm = vmOf(ctx);
  const internal = vmInternal(vm);
  const action = ctx.op!.operationId.replace('VirtualMachines_', '');
  if (refuseFrom.includes(internal.powerState)) {
    throw operationNotAllowed(`Operation '${action}' is not allowed on VM '${vm.name}' since the VM is ${internal.powerState}.`);
  }
  const changes = allowedFrom.includes(internal.powerState);
  const before = internal.powerState;
  return beginAction(ctx, vmKind, vm, {
    start: () => {
      if (changes) internal.powerState = transitional;
    },
    onSuccess: () => {
      if (changes) internal.powerState = final;
    },
    onFailure: (error) => {
      internal.powerState = before;
      internal.lastError = { code: error.code, message: error.message };
    },
  });
}

function attachDetach(ctx: RequestContext): Reply {
  const vm = vmOf(ctx);
  const body = (ctx.body ?? {}) as { dataDisksToAttach?: Record<string, any>[]; dataDisksToDetach?: Record<string, any>[] };
  const attach = body.dataDisksToAttach ?? [];
  const detach = body.dataDisksToDetach ?? [];
  if (attach.length === 0 && detach.length === 0) throw invalidParameter('Give dataDisksToAttach or dataDisksToDetach.', 'parameters');
  const storage = vm.properties.storageProfile as { dataDisks: Record<string, any>[] };
  let entries = [...storage.dataDisks];
  detach.forEach((d, i) => {
    if (!entries.some((e) => sameId(e.managedDisk.id, d.diskId))) {
      throw invalidParameter(`Disk ${d.diskId} is not attached to VM ${vm.name}.`, `dataDisksToDetach[${i}].diskId`);
    }
    entries = entries.filter((e) => !sameId(e.managedDisk.id, d.diskId));
  });
  const place = { id: vm.id, name: vm.name, resourceGroup: vm.resourceGroup, location: vm.location, ...(vm.zones ? { zones: vm.zones } : {}) };
  const disks = attach.map((d, i) => {
    const target = `dataDisksToAttach[${i}]`;
    if (entries.some((e) => sameId(e.managedDisk.id, d.diskId))) throw invalidParameter(`Disk ${d.diskId} is already attached to VM ${vm.name}.`, target);
    const disk = attachableDisk(ctx, d.diskId, place, d.caching, target);
    const used = new Set(entries.map((e) => e.lun as number));
    let lun: number | undefined = d.lun;
    if (lun === undefined) for (lun = 0; used.has(lun); lun++);
    if (lun < 0 || lun > 63 || used.has(lun)) throw invalidParameter(`LUN ${lun} is not free on VM ${vm.name}; LUNs must be unique per VM.`, `${target}.lun`);
    const sku = String(disk.sku?.name);
    entries.push({
      lun,
      name: disk.name,
      createOption: 'Attach',
      caching: d.caching ?? defaultCaching(sku),
      deleteOption: d.deleteOption ?? 'Detach',
      managedDisk: { id: disk.id, storageAccountType: sku },
      ...(d.writeAcceleratorEnabled !== undefined ? { writeAcceleratorEnabled: d.writeAcceleratorEnabled } : {}),
    });
    return disk;
  });
  const before = storage.dataDisks;
  return beginAction(ctx, vmKind, vm, {
    start: () => {
      for (const d of detach) {
        const disk = ctx.core.state.get(d.diskId);
        if (disk) delete diskInternal(disk).attachedTo;
      }
      for (const disk of disks) diskInternal(disk).attachedTo = vm.id;
      storage.dataDisks = entries.sort((a, b) => a.lun - b.lun);
    },
    // final-state-via location: the Location URL answers the VM's new storage profile.
    onSuccess: () => ({ status: 200, body: (vmKind.render(ctx, vm).properties as Record<string, unknown>).storageProfile }),
    onFailure: () => {
      for (const disk of disks) delete diskInternal(disk).attachedTo;
      for (const d of detach) {
        const disk = ctx.core.state.get(d.diskId);
        if (disk) diskInternal(disk).attachedTo = vm.id;
      }
      storage.dataDisks = before;
    },
  });
}

/** Signs a blob path and expiry with the VM's own secret, like a SAS token. */
function sign(secret: string, path: string, expiry: string): string {
  return createHmac('sha256', secret).update(`${path}\n${expiry}`).digest('base64url');
}

function blobPath(vm: StoredResource, file: 'serialconsole.log' | 'screenshot.bmp'): string {
  const internal = vmInternal(vm);
  return `/blobs/bootdiagnostics-${vm.name.toLowerCase().slice(0, 9)}-${internal.vmId}/${vm.name}.${internal.vmId}.${file}`;
}

function retrieveBootDiagnostics(ctx: RequestContext): Reply {
  const vm = vmOf(ctx);
  const diagnostics = (vm.properties.diagnosticsProfile as { bootDiagnostics?: { enabled?: boolean } } | undefined)?.bootDiagnostics;
  if (diagnostics?.enabled !== true) {
    throw operationNotAllowed(`Boot diagnostics are not enabled on VM ${vm.name}; set diagnosticsProfile.bootDiagnostics.enabled.`);
  }
  const minutes = Number(ctx.query.get('sasUriExpirationTimeInMinutes') ?? 120);
  const expiry = new Date(Date.now() + minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const link = (file: 'serialconsole.log' | 'screenshot.bmp') => {
    const path = blobPath(vm, file);
    const query = new URLSearchParams({ sv: '2022-11-02', sr: 'b', sp: 'r', se: expiry, sig: sign(vmInternal(vm).sasSecret, path, expiry) });
    return `${ctx.core.endpoint()}${path}?${query.toString()}`;
  };
  return { status: 200, body: { consoleScreenshotBlobUri: link('screenshot.bmp'), serialConsoleLogBlobUri: link('serialconsole.log') } };
}

/** A 1×1 white BMP: what a screenshot link downloads. */
const SCREENSHOT = Buffer.from('Qk06AAAAAAAAADYAAAAoAAAAAQAAAAEAAAABABgAAAAAAAQAAAATCwAAEwsAAAAAAAAAAAAA////AA==', 'base64');

/** GET of a boot diagnostics link: checks the signature and expiry like storage checks a SAS. */
function downloadBlob(ctx: RequestContext): Reply {
  const vm = ctx.core.state.ofType(vmKind.type).find((v) => blobPath(v, 'serialconsole.log') === ctx.path || blobPath(v, 'screenshot.bmp') === ctx.path);
  if (!vm) throw new ArmError(404, 'BlobNotFound', 'The specified blob does not exist.');
  const expiry = ctx.query.get('se') ?? '';
  const given = Buffer.from(ctx.query.get('sig') ?? '');
  const expected = Buffer.from(sign(vmInternal(vm).sasSecret, ctx.path, expiry));
  if (given.length !== expected.length || !timingSafeEqual(given, expected) || !(Date.parse(expiry) > Date.now())) {
    throw new ArmError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.');
  }
  const headers = { 'x-ms-blob-type': 'BlockBlob' };
  if (ctx.path.endsWith('.bmp')) return { status: 200, headers, bytes: SCREENSHOT, contentType: 'image/bmp' };
  const key = `${vm.resourceGroup}/${vm.name}`.toLowerCase();
  return { status: 200, headers, text: ctx.core.state.serialLogs.get(key) ?? ctx.core.serialLog?.({ resourceGroup: vm.resourceGroup, name: vm.name }) ?? '', contentType: 'text/plain; charset=utf-8' };
}

export function registerVms(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('VirtualMachines_CreateOrUpdate', (ctx) => {
    const existing = ctx.core.state.get(`/subscriptions/${ctx.core.state.subscriptionId}/resourceGroups/${rg(ctx)}/providers/${vmKind.type}/${ctx.params.vmName}`);
    if (ctx.headers['if-none-match'] === '*' && existing) {
      throw new ArmError(412, 'PreconditionFailed', `VM ${existing.name} already exists and If-None-Match: * was given.`);
    }
    return putResource(ctx, vmKind, rg(ctx), ctx.params.vmName!);
  });
  router.operation('VirtualMachines_Get', (ctx) => getResource(ctx, vmKind, rg(ctx), ctx.params.vmName!));
  router.operation('VirtualMachines_Delete', (ctx) => deleteResource(ctx, vmKind, rg(ctx), ctx.params.vmName!));
  router.operation('VirtualMachines_InstanceView', (ctx) => {
    const vm = vmOf(ctx);
    ctx.core.lro.nudge(vm.pendingOperation);
    return { status: 200, body: instanceView(ctx, vm) };
  });
  router.operation('VirtualMachines_Start', (ctx) => power(ctx, 'starting', 'running', ['stopped', 'deallocated'], ['stopping', 'deallocating']));
  router.operation('VirtualMachines_PowerOff', (ctx) => power(ctx, 'stopping', 'stopped', ['running', 'starting'], ['deallocated', 'deallocating']));
  router.operation('VirtualMachines_Deallocate', (ctx) => power(ctx, 'deallocating', 'deallocated', ['running', 'starting', 'stopped', 'stopping'], []));
  router.operation('VirtualMachines_Restart', (ctx) => power(ctx, 'starting', 'running', ['running'], ['stopped', 'stopping', 'deallocated', 'deallocating']));
  router.operation('VirtualMachines_AttachDetachDataDisks', attachDetach);
  router.operation('VirtualMachines_RetrieveBootDiagnosticsData', retrieveBootDiagnostics);
  router.custom('GET', /^\/blobs\/[^/]+\/[^/]+$/, downloadBlob, 'blob');
}
