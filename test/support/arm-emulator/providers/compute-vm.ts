// Microsoft.Compute virtual machines: create-or-update (image, OS profile with SSH keys, OS and
// data disks, NICs, boot diagnostics, trusted launch, disk controller), GET with
// $expand=instanceView, DELETE with each disk's and NIC's deleteOption. Power actions, instance
// view, attachDetachDataDisks and boot diagnostics are in compute-vm-actions.ts.
import { isDeepStrictEqual } from 'node:util';
import { badRequest, invalidParameter, invalidReference, operationNotAllowed, propertyChangeNotAllowed } from '../errors.js';
import { baseRender, checkZones, dig, type PutInput, type ResourceType } from '../resource-kit.js';
import type { RequestContext } from '../router.js';
import type { StoredResource } from '../state.js';
import { createVmDisk, DISK, diskInternal } from './disks.js';
import { resolveImageReference, type ResolvedImage } from './images.js';
import { NIC, sameId } from './network-common.js';
import { nicVirtualMachine } from './network-nic.js';
import { attachableDisk, hex32, planDataDisks, VM, vmInternal, type VmInternal, type VmPlace } from './compute-vm-disks.js';
import { instanceView } from './compute-vm-actions.js';

/** Linux admin user names Azure refuses (OSProfile.adminUsername in computeRPCommon.json). */
const DISALLOWED_USERS = new Set([
  'administrator', 'admin', 'user', 'user1', 'test', 'user2', 'test1', 'user3', 'admin1', '1', '123', 'a', 'actuser', 'adm', 'admin2',
  'aspnet', 'backup', 'console', 'david', 'guest', 'john', 'owner', 'root', 'server', 'sql', 'support', 'support_388945a0', 'sys',
  'test2', 'test3', 'user4', 'user5',
]);

/** Properties a VM PUT may not change once the VM exists (only checked when the new PUT sends them). */
const CREATE_ONLY = [
  'properties.osProfile.computerName',
  'properties.osProfile.adminUsername',
  'properties.osProfile.adminPassword',
  'properties.osProfile.customData',
  'properties.storageProfile.imageReference',
  'properties.storageProfile.osDisk.name',
  'properties.storageProfile.osDisk.createOption',
  'properties.securityProfile.securityType',
];

/** Bits of an ssh-rsa key, or the key type when it is not RSA; undefined when malformed. */
function sshKeyInfo(keyData: string): { type: string; bits?: number } | undefined {
  const [type, b64] = keyData.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  const fields: Buffer[] = [];
  for (let at = 0; at + 4 <= blob.length && fields.length < 3; ) {
    const len = blob.readUInt32BE(at);
    fields.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (fields[0]?.toString() !== type) return undefined;
  if (type !== 'ssh-rsa') return { type };
  const n = fields[2];
  if (!n) return undefined;
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  return { type, bits: (n.length - i) * 8 - Math.clz32(n[i] ?? 0) + 24 };
}

function checkOsProfile(os: Record<string, any> | undefined, image: ResolvedImage | undefined, vmName: string): Record<string, any> | undefined {
  if (image?.osState === 'Specialized' || !image) {
    if (os) throw invalidParameter("Parameter 'osProfile' is not allowed for a VM from a specialized image or an attached OS disk.", 'properties.osProfile');
    return undefined;
  }
  if (!os?.adminUsername) throw invalidParameter("Required parameter 'osProfile' is missing (null).", 'properties.osProfile');
  const user: string = os.adminUsername;
  if (DISALLOWED_USERS.has(user.toLowerCase()) || user.length > 64 || !/^[a-z_][a-z0-9_.-]*$/i.test(user)) {
    throw badRequest('InvalidParameter', `The Admin Username specified is not allowed.`, 'adminUsername');
  }
  const computerName: string = os.computerName ?? vmName;
  if (computerName.length > 64 || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(computerName)) {
    throw invalidParameter(`Linux host name '${computerName}' is not valid: up to 64 letters, digits and hyphens, not starting or ending with a hyphen.`, 'computerName');
  }
  const linux = (os.linuxConfiguration ?? {}) as Record<string, any>;
  const keys = (linux.ssh?.publicKeys as { path?: string; keyData?: string }[] | undefined) ?? [];
  if (linux.disablePasswordAuthentication === true && keys.length === 0) {
    throw invalidParameter('At least one SSH public key is required when password authentication is disabled.', 'linuxConfiguration.ssh.publicKeys');
  }
  if (linux.disablePasswordAuthentication !== true && !os.adminPassword) {
    throw invalidParameter("Required parameter 'adminPassword' is missing (null).", 'adminPassword');
  }
  for (const key of keys) {
    if (key.path !== `/home/${user}/.ssh/authorized_keys`) {
      throw invalidParameter(`The value of parameter linuxConfiguration.ssh.publicKeys.path is invalid: expected /home/${user}/.ssh/authorized_keys.`, 'linuxConfiguration.ssh.publicKeys.path');
    }
    const info = sshKeyInfo(key.keyData ?? '');
    if (!info || !['ssh-rsa', 'ssh-ed25519'].includes(info.type) || (info.bits !== undefined && info.bits < 2048)) {
      throw invalidParameter('The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid: give an ssh-rsa key of at least 2048 bits or an ssh-ed25519 key.', 'linuxConfiguration.ssh.publicKeys.keyData');
    }
  }
  if (os.customData !== undefined) {
    const ok = /^[A-Za-z0-9+/]*={0,2}$/.test(os.customData) && Buffer.from(os.customData, 'base64').length <= 65535;
    if (!ok) throw invalidParameter('customData must be base64 of at most 65535 bytes.', 'customData');
  }
  return { ...os, computerName };
}

/** NICs of the VM: exist in its region, are free (or already its own), exactly one primary. */
function checkNics(ctx: RequestContext, vmId: string, location: string, profile: Record<string, any> | undefined): Record<string, any> {
  if (profile?.networkInterfaceConfigurations) {
    throw invalidParameter('networkInterfaceConfigurations (NICs created by the VM) are not modelled by the arm-emulator; create the NIC and reference it.', 'properties.networkProfile');
  }
  const nics = (profile?.networkInterfaces as Record<string, any>[] | undefined) ?? [];
  if (nics.length === 0) throw invalidParameter('The VM needs at least one network interface.', 'properties.networkProfile.networkInterfaces');
  if (nics.length > 1 && nics.filter((n) => n.properties?.primary === true).length !== 1) {
    throw invalidParameter('Exactly one network interface must be primary.', 'properties.networkProfile.networkInterfaces');
  }
  return {
    ...profile,
    networkInterfaces: nics.map((n) => {
      const nic = ctx.core.state.get(String(n.id ?? ''));
      if (!nic || nic.type !== NIC || nic.location !== location || nic.provisioningState === 'Deleting') throw invalidReference(String(n.id), vmId);
      const owner = nicVirtualMachine(ctx, nic.id);
      if (owner && !sameId(owner.id, vmId)) throw badRequest('NicInUse', `Network interface ${nic.id} is in use by VM ${owner.id}.`, 'properties.networkProfile.networkInterfaces');
      return { id: nic.id, properties: { deleteOption: 'Detach', ...(n.properties ?? {}), primary: nics.length === 1 ? true : n.properties?.primary === true } };
    }),
  };
}

function diskControllerType(given: string | undefined, image: ResolvedImage | undefined, vmSize: string, generation: string): string | undefined {
  const nvmeOnly = /_v6$/i.test(vmSize);
  const type = given ?? (generation === 'V2' ? (nvmeOnly ? 'NVMe' : 'SCSI') : undefined);
  if (type === 'NVMe' && generation !== 'V2') throw invalidParameter('The NVMe disk controller needs a generation 2 (V2) image.', 'properties.storageProfile.diskControllerType');
  if (type === 'SCSI' && nvmeOnly) throw invalidParameter(`VM size ${vmSize} supports only the NVMe disk controller.`, 'properties.storageProfile.diskControllerType');
  if (type === 'NVMe' && image && !image.diskControllerTypes.includes('NVMe')) {
    throw invalidParameter('The image does not declare NVMe support (feature DiskControllerTypes).', 'properties.storageProfile.diskControllerType');
  }
  return type;
}

function planVm(ctx: RequestContext, input: PutInput) {
  const { body, existing } = input;
  const props = { ...(body.properties ?? {}) } as Record<string, any>;
  const { state } = ctx.core;
  if (existing) {
    for (const path of CREATE_ONLY) {
      const after = dig(body, path);
      if (after !== undefined && !isDeepStrictEqual(dig(existing.request, path), after)) throw propertyChangeNotAllowed(path.replace(/^properties\./, ''));
    }
  }
  checkZones(body.zones, 1);
  const vmSize: string | undefined = props.hardwareProfile?.vmSize;
  if (!vmSize) throw invalidParameter("Required parameter 'hardwareProfile.vmSize' is missing (null).", 'properties.hardwareProfile.vmSize');
  if (!state.config.vmSizes.includes(vmSize)) {
    throw invalidParameter(`The requested VM size ${vmSize} is not available in the current region. The sizes available in the current region are: ${state.config.vmSizes.join(', ')}.`, 'vmSize');
  }
  for (const unsupported of ['availabilitySet', 'virtualMachineScaleSet', 'host', 'hostGroup', 'proximityPlacementGroup', 'capacityReservation']) {
    if (props[unsupported] !== undefined) throw invalidParameter(`${unsupported} is not modelled by the arm-emulator.`, `properties.${unsupported}`);
  }
  const vm: VmPlace = { id: input.id, name: input.name, resourceGroup: input.resourceGroup, location: input.location, ...(body.zones ? { zones: body.zones } : {}) };
  const storage = (props.storageProfile ?? {}) as Record<string, any>;
  const osDiskIn = (storage.osDisk ?? {}) as Record<string, any>;
  const prevStorage = existing?.properties.storageProfile as Record<string, any> | undefined;
  let image: ResolvedImage | undefined;
  let osDisk: Record<string, any>;
  let createOsDisk: (() => void) | undefined;
  if (prevStorage) {
    osDisk = { ...prevStorage.osDisk, caching: osDiskIn.caching ?? prevStorage.osDisk.caching, deleteOption: osDiskIn.deleteOption ?? prevStorage.osDisk.deleteOption };
  } else if (osDiskIn.createOption === 'FromImage') {
    if (!storage.imageReference) throw invalidParameter("Required parameter 'imageReference' is missing (null).", 'properties.storageProfile.imageReference');
    if (osDiskIn.managedDisk?.id) throw invalidParameter('managedDisk.id cannot be given for an OS disk created from an image.', 'properties.storageProfile.osDisk.managedDisk.id');
    image = resolveImageReference(ctx, storage.imageReference, input.location);
    if (image.architecture !== 'x64') throw invalidParameter(`The image is for ${image.architecture}; the arm-emulator offers only x64 VM sizes.`, 'properties.storageProfile.imageReference');
    const sku: string = osDiskIn.managedDisk?.storageAccountType ?? 'Premium_LRS';
    if (sku === 'UltraSSD_LRS' || sku === 'PremiumV2_LRS') throw invalidParameter(`${sku} cannot be used for an OS disk.`, 'properties.storageProfile.osDisk.managedDisk.storageAccountType');
    const size: number = osDiskIn.diskSizeGB ?? image.osDiskSizeGB;
    if (size < image.osDiskSizeGB) throw invalidParameter(`The OS disk size ${size} GB is smaller than the image's (${image.osDiskSizeGB} GB).`, 'properties.storageProfile.osDisk.diskSizeGB');
    const name: string = osDiskIn.name ?? `${input.name}_OsDisk_1_${hex32(ctx)}`;
    const diskId = `/subscriptions/${state.subscriptionId}/resourceGroups/${input.resourceGroup}/providers/${DISK}/${name}`;
    if (state.get(diskId)) throw invalidParameter(`A disk named ${name} already exists in resource group ${input.resourceGroup}.`, 'properties.storageProfile.osDisk.name');
    const zones = sku.endsWith('_ZRS') ? undefined : vm.zones;
    const img = image;
    createOsDisk = () => {
      createVmDisk(ctx, {
        rg: input.resourceGroup,
        name,
        location: input.location,
        ...(zones ? { zones } : {}),
        sku,
        sizeGB: size,
        origin: `image:${img.id}`,
        osType: img.osType,
        hyperVGeneration: img.hyperVGeneration,
        attachedTo: input.id,
      });
    };
    osDisk = {
      ...osDiskIn,
      osType: image.osType,
      name,
      createOption: 'FromImage',
      caching: osDiskIn.caching ?? 'ReadWrite',
      deleteOption: osDiskIn.deleteOption ?? 'Detach',
      diskSizeGB: size,
      managedDisk: { ...(osDiskIn.managedDisk ?? {}), storageAccountType: sku, id: diskId },
    };
  } else if (osDiskIn.createOption === 'Attach') {
    const disk = attachableDisk(ctx, osDiskIn.managedDisk?.id, vm, osDiskIn.caching, 'properties.storageProfile.osDisk');
    if (!disk.properties.osType) throw invalidParameter(`Disk ${disk.name} has no osType and cannot be an OS disk.`, 'properties.storageProfile.osDisk');
    createOsDisk = () => {
      diskInternal(disk).attachedTo = input.id;
    };
    osDisk = { ...osDiskIn, osType: disk.properties.osType, name: disk.name, caching: osDiskIn.caching ?? 'ReadWrite', deleteOption: osDiskIn.deleteOption ?? 'Detach', managedDisk: { id: disk.id, storageAccountType: disk.sku?.name } };
  } else {
    throw invalidParameter(`OS disk createOption '${osDiskIn.createOption}' is not modelled by the arm-emulator (use FromImage or Attach).`, 'properties.storageProfile.osDisk.createOption');
  }

  const osProfile = existing ? (existing.properties.osProfile as Record<string, any> | undefined) : checkOsProfile(props.osProfile, image, input.name);
  const internal: VmInternal = existing
    ? { ...vmInternal(existing) }
    : {
        vmId: state.newUuid(),
        powerState: 'starting',
        sasSecret: state.newUuid(),
        osName: 'ubuntu',
        osVersion: image?.exactVersion?.replace(/^(\d+\.\d+).*/, '$1') ?? '24.04',
        hyperVGeneration: image?.hyperVGeneration ?? 'V2',
      };
  const security = props.securityProfile as Record<string, any> | undefined;
  if (security?.securityType === 'ConfidentialVM') throw invalidParameter('Confidential VMs are not modelled by the arm-emulator.', 'properties.securityProfile.securityType');
  if (!existing && security?.securityType === 'TrustedLaunch' && (internal.hyperVGeneration !== 'V2' || (image && !image.trustedLaunch))) {
    throw invalidParameter('Trusted launch needs a generation 2 image that supports it (feature SecurityType).', 'properties.securityProfile.securityType');
  }
  const controller = diskControllerType(storage.diskControllerType ?? prevStorage?.diskControllerType, image, vmSize, internal.hyperVGeneration);
  const disks = planDataDisks(ctx, vm, (storage.dataDisks as Record<string, any>[] | undefined) ?? [], (prevStorage?.dataDisks as Record<string, any>[] | undefined) ?? [], image, !existing);
  const networkProfile = checkNics(ctx, input.id, input.location, props.networkProfile);
  const prevNics = ((existing?.properties.networkProfile as { networkInterfaces?: { id: string }[] } | undefined)?.networkInterfaces ?? []).map((n) => n.id.toLowerCase()).sort();
  const nextNics = (networkProfile.networkInterfaces as { id: string }[]).map((n) => n.id.toLowerCase()).sort();
  if (existing && !isDeepStrictEqual(prevNics, nextNics) && internal.powerState !== 'deallocated') {
    throw operationNotAllowed('Network interfaces of a VM can only be added or removed while it is deallocated.', 'properties.networkProfile');
  }
  const imageReference = prevStorage?.imageReference ?? (storage.imageReference ? { ...storage.imageReference, ...(image?.exactVersion ? { exactVersion: image.exactVersion } : {}) } : undefined);
  const properties: Record<string, any> = {
    ...props,
    storageProfile: { ...(imageReference ? { imageReference } : {}), osDisk, dataDisks: disks.entries, ...(controller ? { diskControllerType: controller } : {}) },
    networkProfile,
    vmId: internal.vmId,
    timeCreated: (existing?.properties.timeCreated as string | undefined) ?? new Date().toISOString(),
  };
  if (osProfile) properties.osProfile = osProfile;
  else delete properties.osProfile;
  const top: Record<string, unknown> = {};
  if (body.plan) top.plan = body.plan;
  if (body.identity) top.identity = body.identity;
  const resource: StoredResource = {
    id: input.id,
    type: VM,
    name: input.name,
    resourceGroup: input.resourceGroup,
    location: input.location,
    tags: input.tags,
    ...(body.zones ? { zones: body.zones } : {}),
    properties,
    top,
    provisioningState: 'Creating',
    internal: internal as unknown as Record<string, unknown>,
  };
  const wasPower = internal.powerState;
  return {
    resource,
    commit() {
      createOsDisk?.();
      disks.commit();
      delete internal.lastError;
      if (!existing) internal.powerState = 'starting';
    },
    onSuccess() {
      if (!existing) internal.powerState = 'running';
    },
    onFailure(error: { code: string; message: string }) {
      internal.powerState = existing ? wasPower : 'deallocated';
      internal.lastError = { code: error.code, message: error.message };
    },
  };
}

/** The VM body as answered: secrets and create-only inputs (adminPassword, customData) are never returned. */
function renderVm(ctx: RequestContext, r: StoredResource): Record<string, unknown> {
  const body = baseRender(r);
  const props = body.properties as Record<string, any>;
  if (props.osProfile) {
    const { adminPassword: _password, customData: _customData, ...os } = props.osProfile;
    props.osProfile = { ...os, secrets: os.secrets ?? [], allowExtensionOperations: os.allowExtensionOperations ?? true, requireGuestProvisionSignal: true };
  }
  delete props.userData;
  const storage = props.storageProfile;
  const sizeOf = (id: string) => ctx.core.state.get(id)?.properties.diskSizeGB;
  storage.osDisk = { ...storage.osDisk, ...(sizeOf(storage.osDisk.managedDisk.id) !== undefined ? { diskSizeGB: sizeOf(storage.osDisk.managedDisk.id) } : {}) };
  storage.dataDisks = storage.dataDisks.map((d: Record<string, any>) => ({ ...d, toBeDetached: false, ...(sizeOf(d.managedDisk.id) !== undefined ? { diskSizeGB: sizeOf(d.managedDisk.id) } : {}) }));
  const expand = (ctx.query.get('$expand') ?? '').toLowerCase();
  if (ctx.method === 'GET' && expand === 'instanceview') props.instanceView = instanceView(ctx, r);
  if (ctx.method === 'GET' && expand === 'userdata' && r.properties.userData !== undefined) props.userData = r.properties.userData;
  return body;
}

export const vmKind: ResourceType = {
  type: VM,
  family: 'compute',
  zonal: true,
  plan: planVm,
  planDelete(ctx, existing) {
    const storage = existing.properties.storageProfile as Record<string, any>;
    const nics = (existing.properties.networkProfile as { networkInterfaces: { id: string; properties: { deleteOption?: string } }[] }).networkInterfaces;
    return {
      commit() {
        vmInternal(existing).powerState = 'stopping';
      },
      onSuccess() {
        for (const d of [storage.osDisk, ...storage.dataDisks] as Record<string, any>[]) {
          const disk = ctx.core.state.get(d.managedDisk.id);
          if (!disk) continue;
          if (d.deleteOption === 'Delete') ctx.core.state.remove(disk.id);
          else delete diskInternal(disk).attachedTo;
        }
        for (const n of nics) if (n.properties.deleteOption === 'Delete') ctx.core.state.remove(n.id);
      },
    };
  },
  render: renderVm,
};
