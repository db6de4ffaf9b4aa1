// What the fake would send for each mutating step, for --dry-run: pure, built from the specs and
// the fake's options only, never from (or into) its state.
import type {
  AccessPolicySpec,
  AddressSpec,
  CloudRequest,
  ImageFromBuilderSpec,
  InstanceSpec,
  LaunchRequestsSpec,
  SnapshotScheduleSpec,
  SshKeySpec,
} from '../port.js';
import type { ResolvedOptions } from './options.js';

const SERVICE = 'fake-compute';

function request(operation: string, input: Record<string, unknown>): CloudRequest {
  // A JSON round trip: the dry run prints exactly this, and no spec object is shared with a caller.
  return { service: SERVICE, operation, input: JSON.parse(JSON.stringify(input)) as Record<string, unknown> };
}

/** Stands in for an id only an earlier request of the same run makes. */
function from(what: string, operation: string): string {
  return `<${what} from ${operation}>`;
}

function sshKeyRequests(o: ResolvedOptions, spec: SshKeySpec): CloudRequest[] {
  if (spec.mode !== 'import' || !o.keepsSshKeys) return [];
  return [request('ImportSshKey', { name: spec.name, publicKey: spec.publicKey })];
}

function accessRequests(spec: AccessPolicySpec): CloudRequest[] {
  return [
    request('CreateAccessPolicy', { name: spec.name, networkId: spec.placement.networkId ?? null, labels: spec.labels }),
    request('SetAccessRules', { policy: from('policy id', 'CreateAccessPolicy'), rules: spec.rules }),
  ];
}

export function instanceRequests(o: ResolvedOptions, spec: InstanceSpec): CloudRequest[] {
  const data = spec.dataDisk;
  const dataDisk =
    data.mode === 'existing' && !o.capabilities.attachExistingDiskAtCreate
      ? { mode: 'none', bootGuard: true, attachAfterCreate: data.diskId }
      : { ...data, deleteWithInstance: data.mode === 'existing' ? false : !spec.keepDataDisk };
  return [
    request('CreateInstance', {
      idempotencyKey: spec.idempotencyKey,
      deployment: spec.deployment,
      role: spec.role,
      machineType: spec.machineType,
      imageId: spec.imageId,
      dataTemplateId: spec.dataTemplateId ?? null,
      placement: spec.placement,
      accessPolicyIds: spec.accessPolicyIds,
      sshKey: spec.sshKey.mode === 'none' ? null : spec.sshKey.name,
      loginUser: spec.loginUser,
      rootDisk: { ...spec.rootDisk, deleteWithInstance: true, encryptionKeyId: spec.encryptionKeyId ?? null },
      dataDisk,
      userData: spec.userDataBase64 ?? null,
      labels: spec.labels,
      foreignLabels: spec.foreignLabels ?? {},
    }),
  ];
}

function addressRequests(spec: AddressSpec): CloudRequest[] {
  const instance = from('instance id', 'CreateInstance');
  if (spec.mode === 'none') return [];
  if (spec.mode === 'existing') {
    return [
      request('SetLabels', { resource: spec.id, labels: { deployment: spec.deployment, owner: 'user' } }),
      request('AttachStaticAddress', { address: spec.id, instance }),
    ];
  }
  return [
    request('ReserveStaticAddress', { labels: spec.labels }),
    request('AttachStaticAddress', { address: from('address id', 'ReserveStaticAddress'), instance }),
  ];
}

export function launchRequests(o: ResolvedOptions, spec: LaunchRequestsSpec): CloudRequest[] {
  return [...sshKeyRequests(o, spec.sshKey), ...accessRequests(spec.access), ...instanceRequests(o, spec.instance), ...addressRequests(spec.address)];
}

export function scheduleRequests(o: ResolvedOptions, spec: SnapshotScheduleSpec): CloudRequest[] {
  if (!o.capabilities.snapshotSchedules) return [];
  return [request('CreateSnapshotSchedule', { deployment: spec.deployment, schedule: spec.schedule, retain: spec.retain, params: spec.params })];
}

export function buildRequests(
  o: ResolvedOptions,
  spec: { sshKey: SshKeySpec; access: AccessPolicySpec; builder: InstanceSpec; image: ImageFromBuilderSpec },
): CloudRequest[] {
  const builder = from('instance id', 'CreateInstance');
  return [
    ...sshKeyRequests(o, spec.sshKey),
    ...accessRequests(spec.access),
    ...instanceRequests(o, spec.builder),
    request('StopInstance', { instance: builder }),
    request('CreateImage', { builder, name: spec.image.name, description: spec.image.description, runId: spec.image.runId, labels: spec.image.labels }),
    request('TerminateInstance', { instance: builder }),
    request('DeleteAccessPolicy', { policy: from('policy id', 'CreateAccessPolicy') }),
  ];
}

export function resizeRequests(diskId: string, sizeGiB: number): CloudRequest[] {
  return [request('ResizeDisk', { diskId, sizeGiB })];
}
