// A deployment as Compute knows it: everything labelled with its name in the region (instances and
// disks in every zone, firewall rules by their description, addresses), plus the addresses its
// instances hold. The serving instance is the newest one in role "instance".
import type { Deployment, Instance, Scope } from '../port.js';
import type { GceContext } from './context.js';
import { listInstances } from './instances.js';
import { LABEL_PREFIX } from '../../core/labels.js';
import { labelFilter, listAccessPolicies, listAddresses, regionZones } from './network.js';
import { listDisks } from './storage.js';

function newestFirst(a: Instance, b: Instance): number {
  return (b.launchTime ?? '').localeCompare(a.launchTime ?? '') || b.id.localeCompare(a.id);
}

export function emptyDeployment(name: string, scope: Scope): Deployment {
  return { name, scope, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] };
}

async function collect(c: GceContext, scope: Scope, name: string | undefined): Promise<Map<string, Deployment>> {
  const filter = name === undefined ? `labels.${LABEL_PREFIX}-deployment:*` : labelFilter('deployment', name);
  const zones = await regionZones(c);
  const [instances, policies, addresses, disks] = await Promise.all([
    listInstances(c, zones, filter),
    listAccessPolicies(c, (l) => l.deployment !== undefined && (name === undefined || l.deployment === name)),
    listAddresses(c),
    listDisks(c, zones, filter),
  ]);
  const deployments = new Map<string, Deployment>();
  const entry = (n: string | undefined): Deployment | undefined => {
    if (n === undefined || (name !== undefined && n !== name)) return undefined;
    let found = deployments.get(n);
    if (!found) deployments.set(n, (found = emptyDeployment(n, scope)));
    return found;
  };
  const serving = (i: Instance) => (i.labels.role === 'instance' ? 0 : 1);
  for (const instance of [...instances].sort((a, b) => serving(a) - serving(b) || newestFirst(a, b))) {
    const d = entry(instance.labels.deployment);
    if (!d) continue;
    if (d.instance || instance.labels.role !== 'instance') d.otherInstances.push(instance);
    else {
      d.instance = instance;
      if (instance.labels.version) d.version = instance.labels.version;
      if (instance.labels.size) d.size = instance.labels.size;
    }
  }
  for (const p of policies) entry(p.labels.deployment)?.accessPolicies.push(p);
  for (const d of disks) entry(d.labels.deployment)?.disks.push(d);
  const holders = new Map(instances.map((i) => [i.id, i.labels.deployment] as const));
  for (const a of addresses) {
    const owner = a.labels.deployment ?? (a.instanceId ? holders.get(a.instanceId) : undefined);
    entry(owner)?.addresses.push(a);
  }
  return deployments;
}

export async function findDeployment(c: GceContext, scope: Scope, name: string): Promise<Deployment> {
  return (await collect(c, scope, name)).get(name) ?? emptyDeployment(name, scope);
}

export async function listDeployments(c: GceContext, scope: Scope): Promise<Deployment[]> {
  return [...(await collect(c, scope, undefined)).values()].sort((a, b) => a.name.localeCompare(b.name));
}
