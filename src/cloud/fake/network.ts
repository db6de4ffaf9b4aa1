// Placement, access policies, SSH keys and static addresses of the fake cloud.
import { CLUSTER_PORTS, type WorldPortPurpose, type AccessPolicy, type AccessPolicySpec, type AddressSpec, type Placement, type SshKey, type SshKeySpec, type StaticAddress } from '../port.js';
import type { Labels } from '../../core/labels.js';
import { badInput, conflict, notFound } from './faults.js';
import { addressView, policyView, sshKeyView, type InstanceRecord, type World } from './world.js';

/** The ports whose rules an access policy's owner governs; a rule on any other port is someone else's. */
export const GOVERNED_PORTS: ReadonlySet<number> = new Set([22, 80, 443]);

/** The deployment an instance belongs to: its label, else the spec it was made from. */
export function deploymentOf(rec: InstanceRecord): string {
  return rec.labels.deployment ?? rec.deployment;
}

export function resolvePlacement(w: World, subnetId: string | undefined, zones?: string[]): Placement {
  const region = w.opts.region;
  if (subnetId) {
    const subnet = w.subnets.get(subnetId);
    if (!subnet) {
      throw badInput('subnet-not-found', `Subnet ${subnetId} (--subnet) does not exist in ${region}`, 'Omit --subnet to use the default network.');
    }
    if (zones && !zones.includes(subnet.zone)) {
      throw badInput(
        'subnet-zone-mismatch',
        `Subnet ${subnetId} (--subnet) is in ${subnet.zone}; this launch needs one of ${zones.join(', ')}`,
        `Pass a subnet in ${zones.join(' or ')}, or omit --subnet.`,
      );
    }
    return { zone: subnet.zone, subnetId: subnet.id, networkId: subnet.networkId };
  }
  // The first zone by name among those allowed: deterministic, so a re-run picks the same subnet.
  const subnet = [...w.subnets.values()]
    .filter((s) => s.isDefault && (!zones || zones.includes(s.zone)))
    .sort((a, b) => a.zone.localeCompare(b.zone))[0];
  if (!subnet) {
    const where = zones ? ` in ${zones.join(' or ') || '(no zone)'}` : '';
    throw badInput('no-default-subnet', `The default network of ${region} has no subnet${where}`, 'Pass --subnet with a subnet there.');
  }
  return { zone: subnet.zone, subnetId: subnet.id, networkId: subnet.networkId };
}

function dedupe<T extends { port: number; cidr: string }>(rules: T[]): T[] {
  const seen = new Set<string>();
  return rules.filter((r) => {
    const key = `${r.port}/${r.cidr}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Who a resource belongs to, as far as a name clash is concerned: its deployment or its build run. */
function sameOwner(a: Labels, b: Labels): boolean {
  return a.deployment === b.deployment && a.build === b.build && a['build-run'] === b['build-run'];
}

export function ensureAccessPolicy(w: World, spec: AccessPolicySpec): AccessPolicy {
  for (const rule of spec.rules) {
    if (!Number.isInteger(rule.port) || rule.port < 1 || rule.port > 65535) {
      throw badInput('bad-access-rule', `Port ${rule.port} of access policy ${spec.name} is not a TCP port`);
    }
  }
  const networkId = spec.placement.networkId ?? w.networkId;
  const existing = [...w.policies.values()].find((p) => p.name === spec.name && p.networkId === networkId);
  if (!existing) {
    const id = w.newId('policy');
    const rec = { seq: w.nextSeq(), id, name: spec.name, networkId, rules: dedupe(spec.rules.map((r) => ({ ...r }))), labels: { ...spec.labels } };
    w.policies.set(id, rec);
    return policyView(rec);
  }
  if (!sameOwner(existing.labels, spec.labels)) {
    throw conflict(
      'access-policy-conflict',
      `An access policy named "${spec.name}" (${existing.id}) already exists and is not part of ${spec.labels.deployment ?? spec.labels.build ?? spec.deployment}`,
      'Choose another deployment name, or delete that policy if it is left over.',
    );
  }
  // Governed ports become exactly what the spec asks (a dropped CIDR is closed); others stay, and
  // so does a rule opened for a purpose (openWorldPort), which its day-two command closes.
  existing.rules = dedupe([...existing.rules.filter((r) => !GOVERNED_PORTS.has(r.port) || r.purpose), ...spec.rules.map((r) => ({ ...r }))]);
  return policyView(existing);
}

export function deleteAccessPolicy(w: World, id: string): void {
  if (!w.policies.has(id)) return;
  const user = [...w.instances.values()].find((i) => i.state !== 'terminated' && i.accessPolicyIds.includes(id));
  if (user) {
    throw conflict('access-policy-in-use', `Access policy ${id} is still used by instance ${user.id}`, 'Terminate the instance first, then run the same command again.');
  }
  w.policies.delete(id);
}

export function ensureSshKey(w: World, spec: SshKeySpec, deployment: string, labels: Labels): SshKey | undefined {
  if (spec.mode === 'none' || !w.opts.keepsSshKeys) return undefined;
  const existing = w.sshKeys.get(spec.name);
  if (spec.mode === 'existing') {
    if (!existing) throw badInput('ssh-key-not-found', `SSH key "${spec.name}" (--key-name) does not exist in ${w.opts.region}`);
    return sshKeyView(existing);
  }
  if (existing) {
    if (existing.managed && sameOwner(existing.labels, labels)) return sshKeyView(existing);
    throw conflict('ssh-key-conflict', `An SSH key named "${spec.name}" already exists and is not part of ${deployment}`, `Use it as your own key (--key-name ${spec.name}), or delete it.`);
  }
  const rec = { seq: w.nextSeq(), name: spec.name, managed: true, labels: { ...labels }, publicKey: spec.publicKey };
  w.sshKeys.set(spec.name, rec);
  return sshKeyView(rec);
}

export function deleteSshKey(w: World, name: string): void {
  const rec = w.sshKeys.get(name);
  if (!rec) return;
  if (!rec.managed) throw conflict('ssh-key-not-managed', `SSH key "${name}" was brought by the user; it is never deleted`);
  w.sshKeys.delete(name);
}

export function ensureStaticAddress(w: World, spec: AddressSpec): StaticAddress | undefined {
  if (spec.mode === 'none') return undefined;
  if (spec.mode === 'existing') {
    const rec = w.addresses.get(spec.id);
    if (!rec) throw badInput('address-not-found', `Static address ${spec.id} does not exist in ${w.opts.region}`);
    const holder = rec.instanceId ? w.instances.get(rec.instanceId) : undefined;
    const owner = rec.labels.deployment ?? rec.deployment ?? (holder && holder.state !== 'terminated' ? deploymentOf(holder) : undefined);
    if (owner !== undefined && owner !== spec.deployment) {
      throw conflict('address-in-use', `Static address ${rec.ip} (${rec.id}) belongs to deployment ${owner}, not ${spec.deployment}`, 'Choose another address.');
    }
    if (!rec.managed) {
      // The user's own address is the deployment's URL too: labelled as theirs, so any machine finds it.
      rec.labels = { ...rec.labels, deployment: spec.deployment, owner: 'user' };
      rec.deployment = spec.deployment;
    }
    return addressView(rec);
  }
  const ours = [...w.addresses.values()].filter((a) => a.managed && a.deployment === spec.deployment).sort((a, b) => a.seq - b.seq)[0];
  if (ours) return addressView(ours);
  const id = w.newId('addr');
  const ip = w.opts.staticAddressIps.shift() ?? w.nextIp('198.51.100');
  const rec = { seq: w.nextSeq(), id, ip, managed: true, labels: { ...spec.labels }, deployment: spec.deployment };
  w.addresses.set(id, rec);
  return addressView(rec);
}

export function attachStaticAddress(w: World, addressId: string, instanceId: string): StaticAddress {
  const address = w.addresses.get(addressId);
  if (!address) throw notFound('address', addressId);
  const target = w.instances.get(instanceId);
  if (!target || target.state === 'terminated' || target.state === 'terminating') throw notFound('instance', instanceId);
  if (address.instanceId === instanceId) return addressView(address);
  const deployment = deploymentOf(target);
  const owner = address.labels.deployment ?? address.deployment;
  const holder = address.instanceId ? w.instances.get(address.instanceId) : undefined;
  const holderDeployment = holder && holder.state !== 'terminated' ? deploymentOf(holder) : undefined;
  // Only from an instance of the same deployment: anything else would cut off someone else's service.
  if ((owner !== undefined && owner !== deployment) || (holderDeployment !== undefined && holderDeployment !== deployment)) {
    throw conflict(
      'address-in-use',
      `Static address ${address.ip} (${address.id}) belongs to ${holderDeployment ?? owner}, not deployment ${deployment}`,
      'Detach it there first, or choose another address.',
    );
  }
  address.instanceId = instanceId;
  return addressView(address);
}

export function detachStaticAddress(w: World, addressId: string): void {
  const address = w.addresses.get(addressId);
  if (address) address.instanceId = undefined;
}

export function releaseStaticAddress(w: World, addressId: string): void {
  const address = w.addresses.get(addressId);
  if (!address) return;
  if (!address.managed) {
    throw conflict('address-not-managed', `Static address ${address.ip} (${address.id}) was brought by the user; it is never released`);
  }
  if (address.instanceId) {
    throw conflict('address-in-use', `Static address ${address.ip} is attached to ${address.instanceId}`, 'Detach it first.');
  }
  w.addresses.delete(addressId);
}

/** Opens the cluster ports to the policy's own members; other rules (and earlier cluster rules) stay. */
export function ensureClusterAccess(w: World, policyId: string): AccessPolicy {
  const rec = w.policies.get(policyId);
  if (!rec) throw notFound('access policy', policyId);
  const have = rec.clusterRules ?? [];
  const missing = CLUSTER_PORTS.filter((p) => !have.some((r) => r.protocol === p.protocol && r.port === p.port && r.sourcePolicyId === policyId));
  rec.clusterRules = [...have, ...missing.map((p) => ({ ...p, sourcePolicyId: policyId }))];
  return policyView(rec);
}

const WORLD = '0.0.0.0/0';

/** `port` open to the world as a rule marked for `purpose`; a user's rule to the world already there stays theirs. */
export function openWorldPort(w: World, policyId: string, port: number, purpose: WorldPortPurpose): 'opened' | 'already-open' {
  const rec = w.policies.get(policyId);
  if (!rec) throw notFound('access policy', policyId);
  if (!GOVERNED_PORTS.has(port)) throw badInput('bad-access-rule', `Port ${port} is not one sourcegraph-launch opens`);
  const open = rec.rules.find((r) => r.port === port && r.cidr === WORLD);
  if (open) return open.purpose === purpose ? 'opened' : 'already-open';
  rec.rules.push({ port, cidr: WORLD, purpose });
  return 'opened';
}

export function closeWorldPort(w: World, policyId: string, port: number, purpose: WorldPortPurpose): 'closed' | 'absent' {
  const rec = w.policies.get(policyId);
  const i = rec ? rec.rules.findIndex((r) => r.port === port && r.cidr === WORLD && r.purpose === purpose) : -1;
  if (!rec || i < 0) return 'absent';
  rec.rules.splice(i, 1);
  return 'closed';
}
