// A deployment as EC2 knows it: everything tagged with its name (instances, security groups, key
// pairs, addresses, volumes), plus the addresses its instances hold whoever allocated them. The
// serving instance is the newest one in role "instance"; others (rollback points) are listed apart.
import type { Deployment, Instance, Scope } from '../port.js';
import type { AwsContext } from './context.js';
import { describeInstancesWhere } from './instances.js';
import { tagKey, toInstance } from './mappers.js';
import { describeAddressesWhere, describeGroupsWhere, describeKeyPairsWhere } from './network.js';
import { describeDisksWhere } from './storage.js';
import type { Ec2Filter } from './sdk.js';

function newestFirst(a: Instance, b: Instance): number {
  return (b.launchTime ?? '').localeCompare(a.launchTime ?? '') || a.id.localeCompare(b.id);
}

export function emptyDeployment(name: string, scope: Scope): Deployment {
  return { name, scope, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] };
}

async function collect(c: AwsContext, scope: Scope, filter: Ec2Filter): Promise<Map<string, Deployment>> {
  const [instances, groups, keyPairs, addresses, disks] = await Promise.all([
    describeInstancesWhere(c, [filter]).then((raw) => raw.map(toInstance)),
    describeGroupsWhere(c, [filter]),
    describeKeyPairsWhere(c, [filter]),
    describeAddressesWhere(c, [filter]),
    describeDisksWhere(c, [filter]),
  ]);
  const deployments = new Map<string, Deployment>();
  const entry = (name: string | undefined): Deployment | undefined => {
    if (name === undefined) return undefined;
    let found = deployments.get(name);
    if (!found) deployments.set(name, (found = emptyDeployment(name, scope)));
    return found;
  };
  const serving = (i: Instance) => (i.labels.role === 'instance' ? 0 : 1);
  for (const instance of [...instances].sort((a, b) => serving(a) - serving(b) || newestFirst(a, b))) {
    const d = entry(instance.labels.deployment);
    if (!d) continue;
    if (d.instance) d.otherInstances.push(instance);
    else {
      d.instance = instance;
      if (instance.labels.version) d.version = instance.labels.version;
      if (instance.labels.size) d.size = instance.labels.size;
    }
  }
  for (const g of groups) entry(g.labels.deployment)?.accessPolicies.push(g);
  for (const k of keyPairs) entry(k.labels.deployment)?.sshKeys.push(k);
  for (const a of addresses) entry(a.labels.deployment)?.addresses.push(a);
  for (const v of disks) entry(v.labels.deployment)?.disks.push(v);
  // The deployment's address is whatever address its instances hold, whoever allocated it.
  const holders = new Map(instances.flatMap((i) => (i.labels.deployment !== undefined ? [[i.id, i.labels.deployment] as const] : [])));
  if (holders.size) {
    for (const address of await describeAddressesWhere(c, [{ Name: 'instance-id', Values: [...holders.keys()] }])) {
      const d = deployments.get(holders.get(address.instanceId ?? '') ?? '');
      if (d && !d.addresses.some((a) => a.id === address.id)) d.addresses.push(address);
    }
  }
  return deployments;
}

export async function findDeployment(c: AwsContext, scope: Scope, name: string): Promise<Deployment> {
  const found = await collect(c, scope, { Name: `tag:${tagKey('deployment')}`, Values: [name] });
  return found.get(name) ?? emptyDeployment(name, scope);
}

export async function listDeployments(c: AwsContext, scope: Scope): Promise<Deployment[]> {
  const found = await collect(c, scope, { Name: 'tag-key', Values: [tagKey('deployment')] });
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}
