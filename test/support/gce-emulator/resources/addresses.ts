// Regional static addresses (NOTES.md §5). An external address may be reserved with an explicit
// `address` (tests use a local test host's address, so the instance's external IP reaches it);
// otherwise one is allocated from a documentation range. An instance access config whose `natIP`
// is a reserved address makes it IN_USE with `users`; it is released when the access config or the
// instance is deleted, never deleted with the instance.
import { GceError, invalidField, resourceInUse, resourceNotReady } from '../errors.js';
import { refPath } from '../links.js';
import type { AddressBody, Entry } from '../state.js';
import { labelFingerprint, type Labels } from '../state.js';
import type { Handler, World } from '../world.js';
import { getAnswer, isIpv4, listAnswer, newName, pick, setLabelsPlan, target } from './common.js';

/** Every external IP in use: reserved addresses and the instances' ephemeral ones. */
export function ipTaken(world: World, ip: string): boolean {
  return (
    world.state.addresses.all().some((a) => a.body.address === ip) ||
    world.state.instances.all().some((i) => i.body.networkInterfaces.some((n) => (n.accessConfigs ?? []).some((c) => c.natIP === ip)))
  );
}

/**
 * The reserved external address an access config's `natIP` names, checked for use by `user`
 * (an instance selfLink): same region, reserved (not RESERVING, not used by someone else), same tier.
 */
export function claimableAddress(world: World, project: string, region: string, ip: string, tier: string, user: string, field: string): Entry<AddressBody> {
  const address = world.state.addresses.list(project, 'regions', region).find((a) => a.body.address === ip && a.body.addressType === 'EXTERNAL');
  if (!address) {
    throw invalidField(field, ip, `The specified external IP address '${ip}' was not found in region '${region}'.`);
  }
  if (address.body.status === 'RESERVING') throw resourceNotReady(refPath(address.ref));
  const other = (address.body.users ?? []).find((u) => u !== user);
  if (other) throw new GceError(400, 'resourceInUseByAnotherResource', `IP '${ip}' is already being used by another resource.`);
  if ((address.body.networkTier ?? 'PREMIUM') !== tier) {
    throw invalidField(field.replace(/natIP$/, 'networkTier'), tier, `The network tier of the access config must match the tier of address '${address.body.name}' (${address.body.networkTier}).`);
  }
  return address;
}

export function claimAddress(address: AddressBody, user: string): void {
  address.status = 'IN_USE';
  address.users = [user];
}

/** Releases the reserved address with this IP, if `user` holds it. */
export function releaseAddress(world: World, ip: string | undefined, user: string): void {
  if (!ip) return;
  for (const { body } of world.state.addresses.all()) {
    if (body.address === ip && body.users?.includes(user)) {
      body.status = 'RESERVED';
      delete body.users;
    }
  }
}

export const addresses: Record<string, Handler> = {
  'addresses.insert': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    const ref = newName(call, world.state.addresses);
    const body = call.body;
    const addressType = (body.addressType as string | undefined) ?? 'EXTERNAL';
    if (addressType === 'UNSPECIFIED_TYPE') throw invalidField('resource.addressType', addressType, 'Address type must be EXTERNAL or INTERNAL.');
    let ip = body.address as string | undefined;
    if (ip !== undefined) {
      if (!isIpv4(ip)) throw invalidField('resource.address', ip, 'Must be a valid IPv4 address.');
      if (ipTaken(world, ip)) throw new GceError(400, 'resourceInUseByAnotherResource', `IP address '${ip}' is already being used by another resource.`);
    } else if (addressType === 'INTERNAL') {
      ip = world.state.nextInternalIp(world.catalog.subnetRange(ref.location!));
    } else {
      ip = world.state.nextEphemeralIp((candidate) => ipTaken(world, candidate));
    }
    const labels = body.labels as Labels | undefined;
    const address: AddressBody = {
      ...pick(body, ['description', 'ipVersion', 'purpose', 'prefixLength']),
      kind: 'compute#address',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      address: ip,
      status: 'RESERVING',
      region: world.links.region(call.project, ref.location!),
      selfLink: world.links.of({ ...ref, collection: 'addresses' }),
      addressType: addressType as AddressBody['addressType'],
      ...(addressType === 'EXTERNAL' ? { networkTier: (body.networkTier as string | undefined) ?? 'PREMIUM' } : {}),
      ...(addressType === 'INTERNAL' ? { subnetwork: `${world.links.region(call.project, ref.location!)}/subnetworks/default` } : {}),
      ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
    };
    const full = { ...ref, collection: 'addresses' };
    const failure = addressType === 'EXTERNAL' ? world.quotas.checkRegion(call.project, ref.location!, { STATIC_ADDRESSES: 1 }) : undefined;
    return {
      plan: {
        operationType: 'insert',
        target: full,
        targetId: address.id,
        failure,
        start: () => world.state.addresses.put(ref, address),
        done: () => {
          if (address.status === 'RESERVING') address.status = 'RESERVED';
        },
      },
    };
  },
  'addresses.get': (call, world) => getAnswer(world, world.state.addresses, target(call, 'address')),
  'addresses.list': (call, world) => {
    world.checkRegion(call.project, call.params.region!);
    return listAnswer(world, world.state.addresses, call, 'compute#addressList');
  },
  'addresses.delete': (call, world) => {
    const entry = world.state.addresses.get(target(call, 'address'));
    const user = entry.body.users?.[0];
    if (user) throw resourceInUse(refPath(entry.ref), user.replace(/^.*?\/projects\//, 'projects/'));
    return {
      plan: { operationType: 'delete', target: entry.ref, targetId: entry.body.id, done: () => world.state.addresses.delete(entry.ref) },
    };
  },
  'addresses.setLabels': (call, world) => ({ plan: setLabelsPlan(world.state.addresses.get(target(call, 'resource')), call.body) }),
};
