// Virtual machines: created by PUT after their NIC and data disk, found again by the idempotency
// key tag (the VM's name takes a fresh suffix, so a deleted VM's key never answers a new VM under
// the old id), described with the instance view, "stopped" = deallocated (no compute billing).
import { CloudError, ExitCode, LaunchError } from '../../core/errors.js';
import type { Instance, InstanceHealth, InstanceSpec, InstanceState } from '../port.js';
import type { Json } from './arm.js';
import { pollUntil, type AzureContext } from './context.js';
import { fromTags, IDEMPOTENCY_TAG, nameOf, tagName, throwawayPublicKey, toInstance, toTags } from './mappers.js';
import { clusterGroupFor, ensureResourceGroup, ensureSubnet, where } from './network.js';
import { builderPublicIpBody, builderPublicIpName, dataDiskBody, hasOwnPublicIp, ids, instanceNames, nicBody, ownLabels, vmBody } from './request-builders.js';

const OP = {
  get: 'Microsoft.Compute virtualMachines.get',
  put: 'Microsoft.Compute virtualMachines.createOrUpdate',
};

/** The VM with its instance view, its NIC and the public IP address on it. */
export async function describeInstance(c: AzureContext, id: string): Promise<Instance | undefined> {
  if (!/\/virtualMachines\/[^/]+$/i.test(id)) return undefined;
  const vm = await c.arm.get(id, OP.get, { $expand: 'instanceView' });
  if (!vm) return undefined;
  return describeVm(c, vm);
}

export async function describeVm(c: AzureContext, vm: Json): Promise<Instance> {
  const nicId = (vm.properties?.networkProfile?.networkInterfaces as Json[] | undefined)?.[0]?.id as string | undefined;
  const nic = nicId ? await c.arm.get(nicId, 'Microsoft.Network networkInterfaces.get') : undefined;
  const pipId = (nic?.properties?.ipConfigurations as Json[] | undefined)?.[0]?.properties?.publicIPAddress?.id as string | undefined;
  const pip = pipId ? await c.arm.get(pipId, 'Microsoft.Network publicIPAddresses.get') : undefined;
  return toInstance(vm, nic, pip?.properties?.ipAddress);
}

/** The NIC of a VM (what the address moves between). */
export async function nicOf(c: AzureContext, vmId: string): Promise<{ nicId?: string; vm?: Json }> {
  const vm = await c.arm.get(vmId, OP.get);
  const nicId = (vm?.properties?.networkProfile?.networkInterfaces as Json[] | undefined)?.[0]?.id as string | undefined;
  return { ...(nicId ? { nicId } : {}), ...(vm ? { vm } : {}) };
}

/** Live VMs created with this idempotency key. */
async function vmsWithKey(c: AzureContext, key: string): Promise<Json[]> {
  const found = await c.arm.listResources(`tagName eq '${IDEMPOTENCY_TAG}' and tagValue eq '${key.replace(/'/g, "''")}'`);
  return found.filter((r) => String(r.type).toLowerCase() === 'microsoft.compute/virtualmachines');
}

export async function ensureInstance(c: AzureContext, spec: InstanceSpec): Promise<Instance> {
  if (spec.sshKey.mode === 'existing') {
    throw new CloudError('not-supported', `An SSH key kept in Azure by name (${spec.sshKey.name}) is not supported; the key travels with the VM`, { remediation: 'Let the tool use its own key (leave out the existing-key flag).' });
  }
  for (const r of await vmsWithKey(c, spec.idempotencyKey)) {
    const found = await describeInstance(c, r.id);
    if (found && found.state !== 'terminating') {
      await tagRootDisk(c, found, spec);
      return found;
    }
  }
  await ensureResourceGroup(c);
  const w = where(c);
  const names = instanceNames(spec, c.randomSuffix());
  const subnetId = spec.placement.subnetId ?? ids.subnet(w);
  await ensureSubnet(c, subnetId);
  const nicId = ids.nic(w, names.nic);
  // The NIC and data disk are named by the idempotency key: a re-run after a crash PUTs the same ones.
  // A builder is reached over SSH: its own public IP (see builderPublicIpName), a deployment's is the launch's.
  // A deployment's VM has none of its own (its NIC gets one only with the static address); publicIp false: none at all.
  // An agent (scale) is reached over SSH too: its own public IP, like a builder's.
  const builderPipId = hasOwnPublicIp(spec) ? ids.pip(w, builderPublicIpName(spec.idempotencyKey)) : undefined;
  if (builderPipId && !(await c.arm.get(builderPipId, 'Microsoft.Network publicIPAddresses.get'))) {
    await c.arm.put(builderPipId, builderPublicIpBody(w, spec), 'Microsoft.Network publicIPAddresses.createOrUpdate');
  }
  const nic = await c.arm.get(nicId, 'Microsoft.Network networkInterfaces.get');
  // A deployment's machine joins its application security group once scale made one (an agent, and a
  // server that upgrade replaces), so the cluster rules keep naming every machine of the deployment.
  const asgId = spec.role === 'builder' ? undefined : await clusterGroupFor(c, spec.accessPolicyIds[0]);
  if (!nic) await c.arm.put(nicId, nicBody(w, spec, subnetId, builderPipId, asgId), 'Microsoft.Network networkInterfaces.createOrUpdate');
  const dataDiskId = await ensureDataDisk(c, spec, names.dataDisk);
  const vmId = ids.vm(w, names.vm);
  try {
    await c.arm.put(vmId, vmBody(w, spec, names, nicId, dataDiskId, throwawayPublicKey()), OP.put, spec.machineType);
  } catch (e) {
    // Nothing half-made: a VM that failed to be created is deleted (with its OS disk); the NIC and a
    // new empty data disk go too, so a retry starts clean.
    await c.arm.delete(vmId, 'Microsoft.Compute virtualMachines.delete').catch(() => undefined);
    await c.arm.delete(nicId, 'Microsoft.Network networkInterfaces.delete').catch(() => undefined);
    if (builderPipId) await c.arm.delete(builderPipId, 'Microsoft.Network publicIPAddresses.delete').catch(() => undefined);
    if (dataDiskId && spec.dataDisk.mode !== 'existing') await c.arm.delete(dataDiskId, 'Microsoft.Compute disks.delete').catch(() => undefined);
    throw e;
  }
  const made = await describeInstance(c, vmId);
  if (!made) throw new CloudError('instance-not-found', `The VM ${names.vm} was created but cannot be read back`);
  await tagRootDisk(c, made, spec);
  return made;
}

/** The OS disk the VM made itself carries no tags; ours go on it afterwards (also on a re-run that finds the VM). */
async function tagRootDisk(c: AzureContext, instance: Instance, spec: InstanceSpec): Promise<void> {
  const rootId = instance.disks.find((d) => d.role === 'root')?.diskId;
  if (!rootId) return;
  const disk = await c.arm.get(rootId, 'Microsoft.Compute disks.get');
  if (!disk || disk.tags?.[tagName('role')]) return;
  const tags = toTags({ ...ownLabels(spec), role: spec.role === 'builder' ? 'builder-root' : 'root-volume' });
  const answer = await c.arm.send('PATCH', rootId, 'Microsoft.Compute disks.update', { tags });
  if (answer.status === 202) await c.arm.wait(answer, 'Microsoft.Compute disks.update');
}

/** The data disk of a new VM, made by us so it carries our tags (the disks a VM makes itself get none). */
async function ensureDataDisk(c: AzureContext, spec: InstanceSpec, name: string): Promise<string | undefined> {
  const d = spec.dataDisk;
  if (d.mode === 'none') return undefined;
  if (d.mode === 'existing') return d.diskId;
  const w = where(c);
  const id = ids.disk(w, name);
  const existing = await c.arm.get(id, 'Microsoft.Compute disks.get');
  if (existing) return existing.id;
  const source = d.mode === 'snapshot' ? d.snapshotId : spec.dataTemplateId;
  await c.arm.put(id, dataDiskBody(w, spec.placement.zone, d.disk, ownLabels(spec), source), 'Microsoft.Compute disks.createOrUpdate');
  return id;
}

export async function checkInstancePermissions(): Promise<void> {
  // Azure has no dry run of a VM create (capabilities.permissionPreflight is false).
}

export async function instanceHealth(): Promise<InstanceHealth> {
  return { overall: 'not-applicable', detail: 'Azure reports no instance status checks here; readiness is checked over SSH and HTTPS.' };
}

/** The serial log from boot diagnostics (a short-lived blob link), '' when there is none yet. */
export async function consoleOutput(c: AzureContext, id: string): Promise<string> {
  if (!/\/virtualMachines\/[^/]+$/i.test(id)) return '';
  const answer = await c.arm.send('POST', `${id}/retrieveBootDiagnosticsData`, 'Microsoft.Compute virtualMachines.retrieveBootDiagnosticsData', undefined, { allow: [404, 409], query: { sasUriExpirationTimeInMinutes: '5' } });
  const uri = answer.status < 300 ? (answer.body?.serialConsoleLogBlobUri as string | undefined) : undefined;
  if (!uri) return '';
  const res = await fetch(uri);
  return res.ok ? await res.text() : '';
}

export async function startInstance(c: AzureContext, id: string): Promise<void> {
  await c.arm.post(`${id}/start`, undefined, 'Microsoft.Compute virtualMachines.start');
}

/** Deallocates: "stopped" on Azure means no compute billing. */
export async function stopInstance(c: AzureContext, id: string): Promise<void> {
  await c.arm.post(`${id}/deallocate`, undefined, 'Microsoft.Compute virtualMachines.deallocate');
}

/** Deletes the VM; its OS disk and NIC go with it (deleteOption Delete), a deployment's data disk stays (Detach). */
export async function terminateInstance(c: AzureContext, id: string): Promise<void> {
  if (!/\/virtualMachines\/[^/]+$/i.test(id)) return deleteBuilderLeftover(c, id);
  const vm = await c.arm.get(id, OP.get);
  await c.arm.delete(id, 'Microsoft.Compute virtualMachines.delete');
  // A builder's or an agent's own public IP goes too, once its NIC (deleted with the VM) no longer holds it.
  const key = vm?.tags?.[IDEMPOTENCY_TAG] as string | undefined;
  const role = fromTags(vm?.tags).labels.role;
  if (key && (role === 'builder' || role === 'agent')) {
    const pipId = ids.pip(where(c), builderPublicIpName(key));
    const pip = await c.arm.get(pipId, 'Microsoft.Network publicIPAddresses.get');
    if (pip && fromTags(pip.tags).labels.role === `${role}-address`) await c.arm.delete(pipId, 'Microsoft.Network publicIPAddresses.delete');
  }
}

export async function waitForInstanceState(c: AzureContext, id: string, state: InstanceState, timeoutMs: number): Promise<void> {
  await pollUntil(c, timeoutMs, `instance-${state}`, `${nameOf(id)} to be ${state}`, async () => {
    const i = await describeInstance(c, id);
    if (!i) return state === 'terminated' ? true : undefined;
    return i.state === state ? true : undefined;
  });
}

/** The types of what a builder gets before its VM, in the order they can be deleted (the NIC holds the IP). */
export const LEFTOVER_TYPES = ['microsoft.network/networkinterfaces', 'microsoft.network/publicipaddresses', 'microsoft.compute/disks'] as const;
const LEFTOVER_ROLE: Record<(typeof LEFTOVER_TYPES)[number], string> = {
  'microsoft.network/networkinterfaces': 'network-interface',
  'microsoft.network/publicipaddresses': 'builder-address',
  'microsoft.compute/disks': 'builder-data',
};
const LEFTOVER_OP: Record<(typeof LEFTOVER_TYPES)[number], string> = {
  'microsoft.network/networkinterfaces': 'Microsoft.Network networkInterfaces',
  'microsoft.network/publicipaddresses': 'Microsoft.Network publicIPAddresses',
  'microsoft.compute/disks': 'Microsoft.Compute disks',
};

function leftoverType(id: string): (typeof LEFTOVER_TYPES)[number] | undefined {
  const m = /\/providers\/([^/]+\/[^/]+)\/[^/]+$/i.exec(id);
  return LEFTOVER_TYPES.find((t) => t === m?.[1]?.toLowerCase());
}

export function leftoverGet(id: string): string {
  const t = leftoverType(id);
  return `${t ? LEFTOVER_OP[t] : 'Microsoft.Resources resources'}.get`;
}

/**
 * A build run's NIC, public IP or data disk that no VM uses: tagged by a build run (never a
 * deployment's), with a builder's role, and held by nothing — a public IP may still be on one of
 * `orphanNics` (its builder NIC without a VM). The user's --public-ip carries no build-run tag.
 */
export function isBuilderLeftover(res: Json, orphanNics: Json[] = []): boolean {
  const type = leftoverType(String(res.id));
  const { labels } = fromTags(res.tags);
  if (!type || labels.role !== LEFTOVER_ROLE[type] || !labels.build || !labels['build-run'] || labels.deployment) return false;
  if (type === 'microsoft.network/networkinterfaces') return !res.properties?.virtualMachine;
  if (type === 'microsoft.compute/disks') return !res.managedBy;
  const config = res.properties?.ipConfiguration?.id as string | undefined;
  return !config || orphanNics.some((n) => config.toLowerCase().startsWith(`${String(n.id).toLowerCase()}/`));
}

/** Deletes a builder's NIC, public IP or data disk that no VM uses (see isBuilderLeftover); anything else stays. */
async function deleteBuilderLeftover(c: AzureContext, id: string): Promise<void> {
  const type = leftoverType(id);
  if (!type) return;
  const res = await c.arm.get(id, leftoverGet(id));
  if (res && isBuilderLeftover(res)) await c.arm.delete(id, `${LEFTOVER_OP[type]}.delete`);
}

/**
 * Azure Run Command (VirtualMachines_RunCommand, RunShellScript): the VM's agent runs the script as
 * root. Documented limits: one command at a time per VM, 90 minutes at most, output cut to its last
 * 4,096 bytes; scripts are kept well below the request size ARM accepts. The protocol on top
 * (src/remote/run-command-channel.ts) works within them.
 */
export const RUN_COMMAND_LIMITS = { name: 'Azure Run Command', maxScriptBytes: 64 * 1024, maxOutputBytes: 4096 } as const;

export async function runCommand(c: AzureContext, id: string, script: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  // ARM follows the operation until the agent reports; an agent that never does would hold the
  // command until Azure's 90 minutes: bounded by the channel's own time instead.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LaunchError('run-command-timeout', ExitCode.timedOut, `Azure Run Command on ${nameOf(id)} did not report within ${Math.ceil(timeoutMs / 1000)} s`, { remediation: 'The VM agent may be busy or stuck: see the VM in the Azure portal (Run command, Extensions + applications) and run it again.' })),
      timeoutMs,
    );
  });
  const body = await Promise.race([c.arm.post(`${id}/runCommand`, { commandId: 'RunShellScript', script: script.split('\n') }, 'Microsoft.Compute virtualMachines.runCommand'), late]).finally(() => clearTimeout(timer));
  const statuses = ((body?.value as { code?: string; message?: string }[] | undefined) ?? []);
  const of = (stream: 'StdOut' | 'StdErr') => statuses.find((s) => s.code?.startsWith(`ComponentStatus/${stream}/`))?.message;
  const stdout = of('StdOut');
  const stderr = of('StdErr');
  if (stdout !== undefined || stderr !== undefined) return { stdout: stdout ?? '', stderr: stderr ?? '' };
  // The Linux agent's other shape: one status whose message is "Enable succeeded: \n[stdout]\n…\n[stderr]\n…".
  const message = statuses.map((s) => s.message ?? '').join('\n');
  const m = /\[stdout\]\n([\s\S]*?)(?:\n\[stderr\]\n([\s\S]*))?$/.exec(message);
  return m ? { stdout: m[1] ?? '', stderr: m[2] ?? '' } : { stdout: message, stderr: '' };
}

/** doctor's "run-command" check on Azure: the VM agent's status in the instance view (Run Command needs it Ready). */
export async function runCommandReady(c: AzureContext, id: string): Promise<{ ready: boolean; detail: string; fix?: string }> {
  const vm = await c.arm.get(id, OP.get, { $expand: 'instanceView' });
  const agent = vm?.properties?.instanceView?.vmAgent as { vmAgentVersion?: string; statuses?: { displayStatus?: string; message?: string }[] } | undefined;
  const status = agent?.statuses?.[0];
  if (status?.displayStatus === 'Ready') return { ready: true, detail: `the VM agent of ${nameOf(id)} is Ready (${agent?.vmAgentVersion ?? 'version unknown'}): config, executors enable and disk grow work without SSH` };
  return {
    ready: false,
    detail: `the VM agent of ${nameOf(id)} is ${status?.displayStatus ?? 'not reporting'}${status?.message ? ` (${status.message})` : ''}: Azure Run Command cannot run until it is Ready`,
    fix: 'Start the VM, or restart its agent (walinuxagent) from the serial console; meanwhile open SSH to your address and use --via ssh.',
  };
}
