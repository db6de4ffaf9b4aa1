// Zones and machine types, placement on the default network (or a subnetwork given), access
// policies as firewall rules for a network tag, and static external addresses moved between
// instances through their access configs.
import { randomUUID } from 'node:crypto';
import { CloudError, UsageError } from '../../core/errors.js';
import { encodeLabelValue, LABEL_PREFIX, type Labels } from '../../core/labels.js';
import type { AccessPolicy, AccessPolicySpec, AddressSpec, Placement, StaticAddress } from '../port.js';
import { call, getOrUndefined, listAll, mutate, request, type GceContext, type Json } from './context.js';
import { isGceError, isNotFound } from './errors.js';
import { firewallLabels, gceLabels, lastSegment, parseRegional, parseZonal, splitLabels, toAccessPolicy, toAddress } from './mappers.js';
import { addressBody, clusterFirewallBody, firewallBodies, firewallName, policyTag } from './request-builders.js';

/** The zones of the scope's region that are up, by name. */
export async function regionZones(c: GceContext): Promise<string[]> {
  const zones = await listAll<Json>(c, 'zones.list', 'zones');
  return zones
    .filter((z) => lastSegment(String(z.region ?? '')) === c.region && (z.status ?? 'UP') === 'UP')
    .map((z) => String(z.name))
    .sort();
}

/** Where new things may go: the zone --zone names, else every zone of the region (lists always look in all). */
async function placementZones(c: GceContext): Promise<string[]> {
  return c.zone ? [c.zone] : regionZones(c);
}

export async function machineTypeZones(c: GceContext, machineType: string): Promise<string[]> {
  if (!/^[a-z][-a-z0-9]{0,62}$/.test(machineType)) return [];
  const zones = await placementZones(c);
  const offered = await Promise.all(zones.map(async (zone) => ((await getOrUndefined(c, 'machineTypes.get', `zones/${zone}/machineTypes/${machineType}`)) ? zone : undefined)));
  return offered.filter((z): z is string => z !== undefined);
}

/** Subnetworks are regional on GCE: any zone of the region can use one. */
export async function resolvePlacement(c: GceContext, subnetId: string | undefined, zones?: string[]): Promise<Placement> {
  const candidates = zones?.length ? [...zones].sort() : await placementZones(c);
  const zone = candidates[0];
  if (!zone) throw new CloudError('no-zone', `Region ${c.region} has no zone to place the instance in`, { remediation: 'Choose another --region.' });
  if (subnetId === undefined) return { zone };
  const parsed = /^(?:projects\/[^/]+\/)?regions\/([a-z0-9-]+)\/subnetworks\/([a-z0-9-]+)$/.exec(subnetId);
  const notFound = () =>
    new UsageError(`--subnet: subnetwork ${subnetId} was not found in project ${c.project}, region ${c.region}`, {
      code: 'subnet-not-found',
      remediation: `List them with \`gcloud compute networks subnets list --project ${c.project} --regions ${c.region}\`, or leave --subnet out to use the default network.`,
    });
  if (!parsed || parsed[1] !== c.region) throw notFound();
  const subnet = await getOrUndefined(c, 'subnetworks.get', `regions/${parsed[1]}/subnetworks/${parsed[2]}`);
  if (!subnet) throw notFound();
  return { zone, subnetId: `regions/${parsed[1]}/subnetworks/${parsed[2]}`, networkId: `global/networks/${lastSegment(String(subnet.network))}` };
}

// ---- access policies: firewall rules `<tag>-<port>` targeting the tag ----

export async function ourFirewalls(c: GceContext): Promise<Json[]> {
  return (await listAll<Json>(c, 'firewalls.list', 'global/firewalls')).filter((f) => firewallLabels(f) !== undefined);
}

/** Every access policy of ours whose labels match (all when no predicate). */
export async function listAccessPolicies(c: GceContext, where: (labels: Labels) => boolean = () => true): Promise<AccessPolicy[]> {
  const byTag = new Map<string, Json[]>();
  for (const f of await ourFirewalls(c)) {
    const tag = ((f.targetTags ?? []) as string[])[0];
    if (!tag) continue;
    byTag.set(tag, [...(byTag.get(tag) ?? []), f]);
  }
  return [...byTag].map(([tag, fws]) => toAccessPolicy(tag, fws)).filter((p) => where(p.labels));
}

const OWNER_KEYS = ['deployment', 'build', 'build-run'] as const;

export async function ensureAccessPolicy(c: GceContext, spec: AccessPolicySpec): Promise<AccessPolicy> {
  const tag = policyTag(spec.name);
  const existing = (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(tag));
  for (const f of existing) {
    const theirs = firewallLabels(f)!.labels;
    if (OWNER_KEYS.some((k) => (theirs[k] ?? '') !== (spec.labels[k] ?? ''))) {
      throw new CloudError('access-policy-conflict', `Firewall rule ${String(f.name)} (network tag ${tag}) belongs to another deployment or build`, {
        remediation: 'Choose another deployment name, or remove that rule if it is left over: `gcloud compute firewall-rules delete ' + String(f.name) + '`.',
      });
    }
  }
  const desired = firewallBodies(spec);
  await call(c, 'firewalls.insert', async () => {
    for (const body of desired) {
      const current = existing.find((f) => f.name === body.name);
      if (!current) {
        try {
          await mutate(c, 'POST', 'global/firewalls', { body, requestId: randomUUID() });
          continue;
        } catch (err) {
          // A crashed earlier run made it: bring it in line below.
          if (!isGceError(err, 'alreadyExists')) throw err;
        }
      }
      const same = current && JSON.stringify([...((current.sourceRanges ?? []) as string[])].sort()) === JSON.stringify(body.sourceRanges) && current.description === body.description;
      if (!same) await mutate(c, 'PATCH', `global/firewalls/${String(body.name)}`, { body: { name: body.name, sourceRanges: body.sourceRanges, description: body.description, allowed: body.allowed } });
    }
    // Governed ports the spec no longer opens: their rules go.
    for (const f of existing) {
      if (!desired.some((d) => d.name === f.name) && [22, 80, 443].some((p) => f.name === firewallName(tag, p))) {
        await deleteFirewall(c, String(f.name));
      }
    }
  });
  const after = (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(tag));
  return after.length ? toAccessPolicy(tag, after) : { id: tag, name: spec.name, rules: [], labels: spec.labels };
}

export async function deleteFirewall(c: GceContext, name: string): Promise<void> {
  try {
    await mutate(c, 'DELETE', `global/firewalls/${name}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export async function deleteAccessPolicy(c: GceContext, id: string): Promise<void> {
  const rules = (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(id));
  await call(c, 'firewalls.delete', async () => {
    for (const f of rules) await deleteFirewall(c, String(f.name));
  });
}

/** Labels of a policy live in its rules' descriptions: rewrite each. */
export async function setPolicyLabels(c: GceContext, id: string, change: (labels: Labels) => Labels): Promise<void> {
  const rules = (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(id));
  if (!rules.length) throw new CloudError('resource-not-found', `Access policy ${id} was not found`);
  await call(c, 'firewalls.patch', async () => {
    for (const f of rules) {
      const ours = firewallLabels(f)!;
      const parsed = JSON.parse(String(f.description).slice(LABEL_PREFIX.length + 1)) as Json;
      const description = `${LABEL_PREFIX} ${JSON.stringify({ ...parsed, policy: ours.policy, labels: change(ours.labels) })}`;
      await mutate(c, 'PATCH', `global/firewalls/${String(f.name)}`, { body: { name: f.name, description } });
    }
  });
}

// ---- static addresses ----

function addressPath(id: string): string | undefined {
  const r = parseRegional(id, 'addresses');
  return r && `regions/${r.region}/addresses/${r.name}`;
}

export async function getAddress(c: GceContext, id: string): Promise<Json | undefined> {
  const path = addressPath(id);
  return path ? getOrUndefined(c, 'addresses.get', path) : undefined;
}

export async function listAddresses(c: GceContext, filter?: string): Promise<StaticAddress[]> {
  return (await listAll<Json>(c, 'addresses.list', `regions/${c.region}/addresses`, filter)).map((a) => toAddress(a, c.project));
}

export function labelFilter(key: string, value: string): string {
  return `labels.${LABEL_PREFIX}-${key} = "${encodeLabelValue(value)}"`;
}

export async function ensureStaticAddress(c: GceContext, spec: AddressSpec): Promise<StaticAddress | undefined> {
  if (spec.mode === 'none') return undefined;
  if (spec.mode === 'existing') {
    const raw = await getAddress(c, spec.id);
    if (!raw) {
      throw new UsageError(`--address: static address ${spec.id} was not found in project ${c.project}`, {
        code: 'address-not-found',
        remediation: `List them with \`gcloud compute addresses list --project ${c.project}\` (ids look like regions/${c.region}/addresses/NAME), or pass --address new.`,
      });
    }
    const { labels, foreign } = splitLabels(raw.labels);
    if (labels.deployment && labels.deployment !== spec.deployment) {
      throw new CloudError('address-in-use', `Static address ${spec.id} belongs to deployment "${labels.deployment}"`, { remediation: 'Pass another address, or --address new.' });
    }
    if (!labels.deployment) {
      await setResourceLabels(c, addressPath(spec.id)!, 'addresses.setLabels', raw, { ...foreign, ...gceLabels({ ...labels, deployment: spec.deployment, owner: 'user' }) });
    }
    return toAddress((await getAddress(c, spec.id))!, c.project);
  }
  // One reserved address per deployment, found by its labels; a released one is never reused by name.
  const ours = async () => (await listAddresses(c, labelFilter('deployment', spec.deployment))).find((a) => a.managed && a.labels.deployment === spec.deployment);
  const found = await ours();
  if (found) return found;
  const body = addressBody(spec.deployment, spec.labels);
  await call(c, 'addresses.insert', () => mutate(c, 'POST', `regions/${c.region}/addresses`, { body }));
  const made = await getAddress(c, `regions/${c.region}/addresses/${String(body.name)}`);
  if (!made) throw new CloudError('address-not-created', `The static address ${String(body.name)} was not created`);
  return toAddress(made, c.project);
}

/** setLabels with the current fingerprint (a concurrent change makes it fail, never lose labels). */
export async function setResourceLabels(c: GceContext, path: string, operation: string, raw: Json, labels: Record<string, string>): Promise<void> {
  const global = path.startsWith('global/') || /^projects\/[^/]+\/global\//.test(path);
  await call(c, operation, () => mutate(c, 'POST', `${path}/setLabels`, { body: { labels, labelFingerprint: raw.labelFingerprint }, ...(global ? { requestId: null } : {}) }));
}

async function getInstanceRaw(c: GceContext, id: string): Promise<Json | undefined> {
  const z = parseZonal(id, 'instances');
  return z ? getOrUndefined(c, 'instances.get', `zones/${z.zone}/instances/${z.name}`) : undefined;
}

async function removeAccessConfig(c: GceContext, instanceId: string, instance: Json): Promise<void> {
  const nic = ((instance.networkInterfaces ?? []) as Json[])[0];
  const config = ((nic?.accessConfigs ?? []) as Json[])[0];
  if (!nic || !config) return;
  await call(c, 'instances.deleteAccessConfig', () =>
    mutate(c, 'POST', `${instanceId}/deleteAccessConfig`, { query: { accessConfig: String(config.name), networkInterface: String(nic.name ?? 'nic0') } }),
  );
}

export async function attachStaticAddress(c: GceContext, addressId: string, instanceId: string): Promise<StaticAddress> {
  const raw = await getAddress(c, addressId);
  if (!raw) throw new CloudError('resource-not-found', `Static address ${addressId} was not found`);
  const target = await getInstanceRaw(c, instanceId);
  if (!target) throw new CloudError('instance-not-found', `Instance ${instanceId} was not found`);
  const addressDeployment = splitLabels(raw.labels).labels.deployment;
  const targetDeployment = splitLabels(target.labels).labels.deployment;
  const inUse = (why: string) => new CloudError('address-in-use', `Static address ${addressId} ${why}`, { remediation: 'Use the deployment\'s own address, or --address new.' });
  if (addressDeployment && addressDeployment !== targetDeployment) throw inUse(`belongs to deployment "${addressDeployment}", not "${targetDeployment ?? '(none)'}"`);
  const holder = ((raw.users ?? []) as string[])[0];
  const holderId = holder && `zones/${lastSegment(holder.replace(/\/instances\/[^/]+$/, ''))}/instances/${lastSegment(holder)}`;
  if (holderId === instanceId) return toAddress(raw, c.project);
  if (holderId) {
    const current = await getInstanceRaw(c, holderId);
    if (current) {
      if (splitLabels(current.labels).labels.deployment !== targetDeployment) throw inUse(`is held by ${holderId} of another deployment`);
      await removeAccessConfig(c, holderId, current);
    }
  }
  await removeAccessConfig(c, instanceId, target);
  await call(c, 'instances.addAccessConfig', () =>
    mutate(c, 'POST', `${instanceId}/addAccessConfig`, {
      query: { networkInterface: 'nic0' },
      body: { type: 'ONE_TO_ONE_NAT', name: 'External NAT', natIP: raw.address, networkTier: raw.networkTier ?? 'PREMIUM' },
    }),
  );
  return toAddress((await getAddress(c, addressId))!, c.project);
}

export async function detachStaticAddress(c: GceContext, addressId: string): Promise<void> {
  const raw = await getAddress(c, addressId);
  const holder = ((raw?.users ?? []) as string[])[0];
  if (!holder) return;
  const holderId = `zones/${lastSegment(holder.replace(/\/instances\/[^/]+$/, ''))}/instances/${lastSegment(holder)}`;
  const instance = await getInstanceRaw(c, holderId);
  if (instance) await removeAccessConfig(c, holderId, instance);
}

export async function releaseStaticAddress(c: GceContext, addressId: string): Promise<void> {
  const raw = await getAddress(c, addressId);
  if (!raw) return;
  const address = toAddress(raw, c.project);
  if (!address.managed) {
    throw new CloudError('address-not-managed', `Static address ${addressId} (${address.ip}) was brought by the user: sourcegraph-launch never releases it`, {
      remediation: `Release it yourself if it is no longer needed: \`gcloud compute addresses delete ${lastSegment(addressId)} --region ${c.region}\`.`,
    });
  }
  if (address.instanceId) throw new CloudError('address-in-use', `Static address ${addressId} is still attached to ${address.instanceId}`, { remediation: 'Detach it first.' });
  await call(c, 'addresses.delete', async () => {
    try {
      await mutate(c, 'DELETE', addressPath(addressId)!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  });
}

export { request };

/** Opens the k3s cluster ports between the policy's machines (one rule, source and target its tag); idempotent. */
export async function ensureClusterAccess(c: GceContext, id: string): Promise<AccessPolicy> {
  const rules = (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(id));
  const first = rules[0];
  if (!first) throw new CloudError('access-policy-missing', `No firewall rules of ours target the network tag ${id}`, { remediation: 'Run launch again to recreate them, then scale.' });
  const ours = firewallLabels(first)!;
  const body = clusterFirewallBody(id, String(first.network), ours.policy || id, ours.labels);
  if (!rules.some((f) => f.name === body.name)) {
    await call(c, 'firewalls.insert', async () => {
      try {
        await mutate(c, 'POST', 'global/firewalls', { body, requestId: randomUUID() });
      } catch (err) {
        if (!isGceError(err, 'alreadyExists')) throw err;
      }
    });
  }
  return toAccessPolicy(id, (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(id)));
}
