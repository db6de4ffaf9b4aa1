// A deployment as ARM knows it: everything tagged with its name across the subscription (VMs,
// network security groups, public IPs, disks), plus the public IP its VMs hold whoever reserved
// it. The serving instance is the newest one in role "instance"; others are listed apart.
import type { Deployment, Instance, Scope } from '../port.js';
import type { Json } from './arm.js';
import type { AzureContext } from './context.js';
import { describeInstance } from './instances.js';
import { fromTags, nicIdOfIpConfiguration, tagName, toAccessPolicy, toAddress, toDisk } from './mappers.js';

export function emptyDeployment(name: string, scope: Scope): Deployment {
  return { name, scope, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] };
}

function newestFirst(a: Instance, b: Instance): number {
  return (b.launchTime ?? '').localeCompare(a.launchTime ?? '') || a.id.localeCompare(b.id);
}

async function collect(c: AzureContext, scope: Scope, filter: string): Promise<Map<string, Deployment>> {
  const tagged = await c.arm.listResources(filter);
  const ofType = (t: string) => tagged.filter((r) => String(r.type).toLowerCase() === t.toLowerCase());
  const get = (r: Json, op: string) => c.arm.get(r.id, op);
  const [instances, nsgs, pips, disks] = await Promise.all([
    Promise.all(ofType('Microsoft.Compute/virtualMachines').map((r) => describeInstance(c, r.id))),
    Promise.all(ofType('Microsoft.Network/networkSecurityGroups').map((r) => get(r, 'Microsoft.Network networkSecurityGroups.get'))),
    Promise.all(ofType('Microsoft.Network/publicIPAddresses').map((r) => get(r, 'Microsoft.Network publicIPAddresses.get'))),
    Promise.all(ofType('Microsoft.Compute/disks').map((r) => get(r, 'Microsoft.Compute disks.get'))),
  ]);
  const deployments = new Map<string, Deployment>();
  const entry = (name: string | undefined): Deployment | undefined => {
    if (name === undefined) return undefined;
    let found = deployments.get(name);
    if (!found) deployments.set(name, (found = emptyDeployment(name, scope)));
    return found;
  };
  const live = instances.filter((i): i is Instance => i !== undefined && i.state !== 'terminating' && i.state !== 'terminated');
  const serving = (i: Instance) => (i.labels.role === 'instance' ? 0 : 1);
  for (const instance of [...live].sort((a, b) => serving(a) - serving(b) || newestFirst(a, b))) {
    const d = entry(instance.labels.deployment);
    if (!d) continue;
    if (d.instance || instance.labels.role !== 'instance') d.otherInstances.push(instance);
    else {
      d.instance = instance;
      if (instance.labels.version) d.version = instance.labels.version;
      if (instance.labels.size) d.size = instance.labels.size;
    }
  }
  for (const nsg of nsgs) if (nsg) entry(fromTags(nsg.tags).labels.deployment)?.accessPolicies.push(toAccessPolicy(nsg));
  // Which VM holds each address: through the NIC of its ip configuration.
  const holderOf = async (pip: Json): Promise<string | undefined> => {
    const config = pip.properties?.ipConfiguration?.id as string | undefined;
    if (!config) return undefined;
    const nic = await c.arm.get(nicIdOfIpConfiguration(config), 'Microsoft.Network networkInterfaces.get');
    return nic?.properties?.virtualMachine?.id;
  };
  for (const pip of pips) {
    if (!pip) continue;
    // An agent's own public IP (scale) is how the tool reaches it, never the deployment's address.
    if (fromTags(pip.tags).labels.role === 'agent-address') continue;
    entry(fromTags(pip.tags).labels.deployment)?.addresses.push(toAddress(pip, await holderOf(pip)));
  }
  for (const disk of disks) {
    if (!disk) continue;
    const labels = fromTags(disk.tags).labels;
    if (labels.role === 'builder-data' || labels.role === 'builder-root') continue;
    entry(labels.deployment)?.disks.push(toDisk(disk));
  }
  // The deployment's address is whatever address its instances hold, whoever reserved it.
  for (const instance of live) {
    const d = deployments.get(instance.labels.deployment ?? '');
    if (!d || !instance.publicIp || d.addresses.some((a) => a.ip === instance.publicIp)) continue;
    if (instance.labels.role === 'agent') continue; // an agent's own public IP is not the deployment's address
    const vm = await c.arm.get(instance.id, 'Microsoft.Compute virtualMachines.get');
    const nicId = vm?.properties?.networkProfile?.networkInterfaces?.[0]?.id as string | undefined;
    const nic = nicId ? await c.arm.get(nicId, 'Microsoft.Network networkInterfaces.get') : undefined;
    const pipId = nic?.properties?.ipConfigurations?.[0]?.properties?.publicIPAddress?.id as string | undefined;
    const pip = pipId ? await c.arm.get(pipId, 'Microsoft.Network publicIPAddresses.get') : undefined;
    if (pip) d.addresses.push(toAddress(pip, instance.id));
  }
  return deployments;
}

export async function findDeployment(c: AzureContext, scope: Scope, name: string): Promise<Deployment> {
  const found = await collect(c, scope, `tagName eq '${tagName('deployment')}' and tagValue eq '${name.replace(/'/g, "''")}'`);
  return found.get(name) ?? emptyDeployment(name, scope);
}

export async function listDeployments(c: AzureContext, scope: Scope): Promise<Deployment[]> {
  const found = await collect(c, scope, `tagName eq '${tagName('deployment')}'`);
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}
