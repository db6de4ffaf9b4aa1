// Where things go and how they are reached: the resource group, the default virtual network, the
// network security group (the access policy) and the Standard static public IP (the address),
// which moves between instances by moving it from one NIC's ip configuration to another's.
import { CloudError, UsageError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type { AccessPolicy, AccessPolicySpec, AddressSpec, Placement, StaticAddress } from '../port.js';
import type { Json } from './arm.js';
import { rgPath, type AzureContext } from './context.js';
import { asgIdOfPolicy, CLUSTER_RULE_PREFIX, fromTags, nicIdOfIpConfiguration, safeName, sameId, tagName, toAccessPolicy, toAddress } from './mappers.js';
import { asgBody, clusterRuleBodies, groupBody, ids, nsgBody, publicIpBody, vnetBody, type Where } from './request-builders.js';

export const where = (c: AzureContext): Where => ({ subscriptionId: c.subscriptionId, resourceGroup: c.resourceGroup, location: c.location });

/** The resource group exists (created and tagged as ours when it did not). */
export async function ensureResourceGroup(c: AzureContext, labels: Labels = {}): Promise<void> {
  const path = rgPath(c);
  const found = await c.arm.get(path, 'Microsoft.Resources resourceGroups.get');
  if (found) return;
  await c.arm.put(path, groupBody(where(c), labels), 'Microsoft.Resources resourceGroups.createOrUpdate');
}

/** Subnets are regional on Azure: the zone is the first asked for (or zone 1), the subnet the given one or the default network's. */
export async function resolvePlacement(c: AzureContext, subnetId: string | undefined, zones?: string[]): Promise<Placement> {
  const zone = zones?.[0] ?? '1';
  if (subnetId === undefined) return { zone, subnetId: ids.subnet(where(c)), networkId: ids.vnet(where(c)) };
  const subnet = /\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i.test(subnetId) ? await c.arm.get(subnetId, 'Microsoft.Network subnets.get') : undefined;
  if (!subnet) {
    throw new UsageError(`--subnet: subnet ${subnetId} does not exist (or is not visible to these credentials)`, {
      code: 'subnet-not-found',
      remediation: 'Give the full id of a subnet in this subscription (`az network vnet subnet list -g <rg> --vnet-name <vnet> --query [].id`), or leave --subnet out to use the default network.',
    });
  }
  return { zone, subnetId: subnet.id, networkId: subnet.id.replace(/\/subnets\/[^/]+$/i, '') };
}

/** The default network, created on first use (it is shared by the deployments of the resource group). */
export async function ensureSubnet(c: AzureContext, subnetId: string): Promise<void> {
  if (!sameId(subnetId, ids.subnet(where(c)))) return;
  if (await c.arm.get(subnetId, 'Microsoft.Network subnets.get')) return;
  await c.arm.put(ids.vnet(where(c)), vnetBody(where(c)), 'Microsoft.Network virtualNetworks.createOrUpdate');
}

export async function ensureAccessPolicy(c: AzureContext, spec: AccessPolicySpec): Promise<AccessPolicy> {
  await ensureResourceGroup(c);
  const id = ids.nsg(where(c), safeName(spec.name, 80));
  const existing = await c.arm.get(id, 'Microsoft.Network networkSecurityGroups.get');
  const nsg = await c.arm.put(id, nsgBody(where(c), spec, existing), 'Microsoft.Network networkSecurityGroups.createOrUpdate');
  return toAccessPolicy(nsg);
}

/**
 * The cluster rules first, then the application security group they named (no NIC is in it once the
 * deployment's VMs are gone), and the NSG last: a destroy that stops half-way still finds the NSG,
 * and with it the group, when it runs again.
 */
export async function deleteAccessPolicy(c: AzureContext, id: string): Promise<void> {
  const nsg = /\/networkSecurityGroups\/[^/]+$/i.test(id) ? await c.arm.get(id, 'Microsoft.Network networkSecurityGroups.get') : undefined;
  for (const rule of (nsg?.properties?.securityRules as Json[] | undefined) ?? []) {
    if (String(rule.name).startsWith(CLUSTER_RULE_PREFIX)) await c.arm.delete(`${nsg!.id}/securityRules/${rule.name}`, 'Microsoft.Network securityRules.delete');
  }
  await deleteClusterGroup(c, id);
  await c.arm.delete(id, 'Microsoft.Network networkSecurityGroups.delete');
}

/** The policy's application security group, when it exists and is ours (tagged by the tool). */
async function clusterGroup(c: AzureContext, policyId: string): Promise<Json | undefined> {
  const asg = await c.arm.get(asgIdOfPolicy(policyId), 'Microsoft.Network applicationSecurityGroups.get');
  return asg && fromTags(asg.tags).labels.managed === 'true' ? asg : undefined;
}

async function deleteClusterGroup(c: AzureContext, policyId: string): Promise<void> {
  if (await clusterGroup(c, policyId)) await c.arm.delete(asgIdOfPolicy(policyId), 'Microsoft.Network applicationSecurityGroups.delete');
}

/** The application security group a new NIC of this policy joins: the deployment's, once scale made it. */
export async function clusterGroupFor(c: AzureContext, policyId: string | undefined): Promise<string | undefined> {
  if (!policyId || !/\/networkSecurityGroups\/[^/]+$/i.test(policyId)) return undefined;
  return (await clusterGroup(c, policyId))?.id;
}

/**
 * Opens the k3s cluster ports between the policy's machines: the deployment's application security
 * group (made once), every NIC of the deployment on the NSG in it (the server's; agents join at
 * creation), and one rule per protocol whose source and destination are that group, never a CIDR.
 * Other rules stay as they are; idempotent.
 */
export async function ensureClusterAccess(c: AzureContext, policyId: string): Promise<AccessPolicy> {
  const nsg = /\/networkSecurityGroups\/[^/]+$/i.test(policyId) ? await c.arm.get(policyId, 'Microsoft.Network networkSecurityGroups.get') : undefined;
  if (!nsg) throw new CloudError('access-policy-missing', `The network security group ${policyId} does not exist`, { remediation: 'Run launch again with --update to recreate it, then scale.' });
  const { labels } = fromTags(nsg.tags);
  const asgId = asgIdOfPolicy(nsg.id);
  if (!(await c.arm.get(asgId, 'Microsoft.Network applicationSecurityGroups.get'))) {
    await c.arm.put(asgId, asgBody(where(c), { ...(labels.deployment ? { deployment: labels.deployment } : {}) }), 'Microsoft.Network applicationSecurityGroups.createOrUpdate');
  }
  for (const ref of (nsg.properties?.networkInterfaces as { id: string }[] | undefined) ?? []) {
    const nic = await c.arm.get(ref.id, 'Microsoft.Network networkInterfaces.get');
    // Only the deployment's own NICs: a NIC someone else put on this NSG stays out of the group.
    if (!nic || fromTags(nic.tags).labels.deployment !== labels.deployment) continue;
    const configs = (nic.properties?.ipConfigurations as Json[] | undefined) ?? [];
    const member = (cfg: Json) => ((cfg.properties?.applicationSecurityGroups as { id: string }[] | undefined) ?? []).some((g) => sameId(g.id, asgId));
    if (configs.every(member)) continue;
    // Azure wants every IPv4 configuration of a NIC in the same groups: all of them join.
    const joined = configs.map((cfg) => ({ name: cfg.name, properties: { ...cfg.properties, applicationSecurityGroups: [...((cfg.properties?.applicationSecurityGroups as { id: string }[] | undefined) ?? []).filter((g) => !sameId(g.id, asgId)), { id: asgId }] } }));
    await putNic(c, { ...nic, properties: { ...nic.properties, ipConfigurations: joined } });
  }
  const current = new Map(((nsg.properties?.securityRules as Json[] | undefined) ?? []).map((r) => [String(r.name), r]));
  for (const rule of clusterRuleBodies(asgId)) {
    const have = current.get(rule.name)?.properties;
    const same = have && have.priority === rule.properties.priority && JSON.stringify(have.destinationPortRanges) === JSON.stringify(rule.properties.destinationPortRanges) && toAccessPolicy({ ...nsg, properties: { securityRules: [{ properties: have }] } }).clusterRules?.length;
    if (!same) await c.arm.put(`${nsg.id}/securityRules/${rule.name}`, { properties: rule.properties }, 'Microsoft.Network securityRules.createOrUpdate');
  }
  const after = await c.arm.get(nsg.id, 'Microsoft.Network networkSecurityGroups.get');
  return toAccessPolicy(after ?? nsg);
}

/** Resources of a type tagged with our deployment label (or any deployment when `deployment` is undefined). */
export async function listTagged(c: AzureContext, type: string, key: keyof Labels, value?: string): Promise<Json[]> {
  const filter = value === undefined ? `tagName eq '${tagName(key)}'` : `tagName eq '${tagName(key)}' and tagValue eq '${value.replace(/'/g, "''")}'`;
  const all = await c.arm.listResources(filter);
  return all.filter((r) => String(r.type).toLowerCase() === type.toLowerCase());
}

/** Which VM holds a public IP (through its NIC), if any. */
async function holderOf(c: AzureContext, pip: Json): Promise<{ nic: Json; vmId?: string } | undefined> {
  const configId = pip.properties?.ipConfiguration?.id as string | undefined;
  if (!configId) return undefined;
  const nic = await c.arm.get(nicIdOfIpConfiguration(configId), 'Microsoft.Network networkInterfaces.get');
  if (!nic) return undefined;
  return { nic, ...(nic.properties?.virtualMachine?.id ? { vmId: nic.properties.virtualMachine.id } : {}) };
}

export async function describeAddress(c: AzureContext, id: string): Promise<StaticAddress | undefined> {
  const pip = await c.arm.get(id, 'Microsoft.Network publicIPAddresses.get');
  if (!pip) return undefined;
  return toAddress(pip, (await holderOf(c, pip))?.vmId);
}

export async function ensureStaticAddress(c: AzureContext, spec: AddressSpec): Promise<StaticAddress | undefined> {
  if (spec.mode === 'none') return undefined;
  if (spec.mode === 'existing') {
    const found = /\/publicIPAddresses\/[^/]+$/i.test(spec.id) ? await describeAddress(c, spec.id) : undefined;
    if (!found) {
      throw new UsageError(`The public IP ${spec.id} does not exist in subscription ${c.subscriptionId}`, { code: 'address-not-found', remediation: 'Give the full id of a Standard static public IP (`az network public-ip list --query [].id`), or let the tool reserve one.' });
    }
    return found;
  }
  const mine = (await listTagged(c, 'Microsoft.Network/publicIPAddresses', 'deployment', spec.deployment)).filter((r) => {
    const { labels } = fromTags(r.tags);
    return labels.role === 'address' && labels.managed === 'true';
  });
  if (mine[0]) return (await describeAddress(c, mine[0].id)) ?? toAddress(mine[0], undefined);
  await ensureResourceGroup(c);
  // A fresh name each time: an address released and reserved again is a new one, never the old id.
  const id = ids.pip(where(c), `${safeName(spec.deployment, 50)}-ip-${c.randomSuffix()}`);
  const pip = await c.arm.put(id, publicIpBody(where(c), { ...spec.labels, deployment: spec.deployment }), 'Microsoft.Network publicIPAddresses.createOrUpdate');
  return toAddress(pip, undefined);
}

/** The NIC without (or with) the public IP on its primary ip configuration. */
function withPublicIp(nic: Json, pipId: string | undefined): Json {
  const configs = ((nic.properties?.ipConfigurations as Json[] | undefined) ?? []).map((cfg, i) => {
    const { publicIPAddress: _old, ...props } = cfg.properties ?? {};
    const primary = i === 0 || props.primary;
    return { name: cfg.name, properties: { ...props, ...(primary && pipId ? { publicIPAddress: { id: pipId } } : {}) } };
  });
  return { location: nic.location, tags: nic.tags ?? {}, properties: { ...nic.properties, ipConfigurations: configs } };
}

async function putNic(c: AzureContext, nic: Json): Promise<void> {
  await c.arm.put(nic.id, withoutReadOnly(nic), 'Microsoft.Network networkInterfaces.createOrUpdate');
}

function withoutReadOnly(nic: Json): Json {
  const { id: _id, name: _name, type: _type, etag: _etag, ...rest } = nic;
  return rest;
}

export type DescribeHolder = (vmId: string) => Promise<{ labels: Labels; nicId?: string } | undefined>;

export async function attachStaticAddress(c: AzureContext, addressId: string, instanceId: string, describe: DescribeHolder): Promise<StaticAddress> {
  const pip = await c.arm.get(addressId, 'Microsoft.Network publicIPAddresses.get');
  if (!pip) throw new CloudError('address-not-found', `The public IP ${addressId} does not exist`, { remediation: 'Run the command again to reserve a new one.' });
  const target = await describe(instanceId);
  if (!target?.nicId) throw new CloudError('instance-not-found', `The VM ${instanceId} does not exist (or has no network interface)`);
  const deployment = target.labels.deployment;
  const { labels: addressLabels } = fromTags(pip.tags);
  if (addressLabels.deployment !== undefined && addressLabels.deployment !== deployment) {
    throw new CloudError('address-in-use', `The public IP ${addressId} belongs to deployment ${addressLabels.deployment}, not ${deployment}`, { remediation: 'Use the deployment\'s own address.' });
  }
  const holder = await holderOf(c, pip);
  if (holder && sameId(holder.nic.id, target.nicId)) return toAddress(pip, instanceId);
  if (holder) {
    const holderLabels = holder.vmId ? (await describe(holder.vmId))?.labels : undefined;
    if (holder.vmId && holderLabels?.deployment !== deployment) {
      throw new CloudError('address-in-use', `The public IP ${addressId} is attached to ${holder.vmId}, which is not part of deployment ${deployment}`, { remediation: 'Detach it there first, or use another address.' });
    }
    await putNic(c, { ...withPublicIp(holder.nic, undefined), id: holder.nic.id });
  }
  const nic = await c.arm.get(target.nicId, 'Microsoft.Network networkInterfaces.get');
  if (!nic) throw new CloudError('instance-not-found', `The network interface ${target.nicId} of ${instanceId} does not exist`);
  await putNic(c, { ...withPublicIp(nic, addressId), id: nic.id });
  const after = await c.arm.get(addressId, 'Microsoft.Network publicIPAddresses.get');
  return toAddress(after ?? pip, instanceId);
}

export async function detachStaticAddress(c: AzureContext, addressId: string): Promise<void> {
  const pip = await c.arm.get(addressId, 'Microsoft.Network publicIPAddresses.get');
  if (!pip) return;
  const holder = await holderOf(c, pip);
  if (holder) await putNic(c, { ...withPublicIp(holder.nic, undefined), id: holder.nic.id });
}

export async function releaseStaticAddress(c: AzureContext, addressId: string): Promise<void> {
  const pip = await c.arm.get(addressId, 'Microsoft.Network publicIPAddresses.get');
  if (!pip) return;
  if (!toAddress(pip, undefined).managed) {
    throw new CloudError('address-not-ours', `The public IP ${addressId} was not reserved by sourcegraph-launch; it is never released`, { remediation: 'Delete it yourself if you no longer need it: `az network public-ip delete --ids <id>`.' });
  }
  await detachStaticAddress(c, addressId);
  await c.arm.delete(addressId, 'Microsoft.Network publicIPAddresses.delete');
}
