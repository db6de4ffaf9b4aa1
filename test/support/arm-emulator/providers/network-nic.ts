// Microsoft.Network public IP addresses (Standard SKU, static) and network interfaces. A public IP
// gets its address when its create operation succeeds: the next one the test chose through the
// control API (so a local test host's address becomes the VM's public IP), otherwise one from the
// documentation range 203.0.113.0/24, which is never routed. A public IP belongs to at most one
// NIC ipConfiguration at a time: moving it means removing it from the old NIC first.
import { badRequest, invalidParameter } from '../errors.js';
import { deleteResource, getResource, immutable, putResource, checkZones, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import {
  NIC,
  NSG,
  PIP,
  allIpConfigurations,
  cidrSize,
  findReferenced,
  findSubnet,
  gatewayUsersOfPublicIp,
  gatewayUsersOfSubnet,
  ipConfigId,
  ipToNumber,
  numberToIp,
  parseCidr,
  renderNetwork,
  sameId,
} from './network-common.js';
import { checkAsgReferences } from './network-asg.js';

const VM = 'Microsoft.Compute/virtualMachines';

/** The NIC ipConfiguration a public IP is attached to, if any. */
function pipUser(ctx: RequestContext, pipId: string): { nic: StoredResource; config: Record<string, any> } | undefined {
  return allIpConfigurations(ctx.core.state).find(({ config }) => sameId(config.properties?.publicIPAddress?.id, pipId));
}

function nextPublicIp(ctx: RequestContext, name: string): string {
  const { state } = ctx.core;
  const chosen = state.publicIpsByName.get(name.toLowerCase()) ?? state.nextPublicIps.shift();
  if (chosen) return chosen;
  const n = state.next('publicIp');
  return n < 255 ? `203.0.113.${n}` : `198.51.100.${(n - 254) % 255}`;
}

export const publicIpKind: ResourceType = {
  type: PIP,
  family: 'network',
  zonal: true,
  plan(ctx, input) {
    const body = input.body;
    const props = { ...(body.properties ?? {}) } as Record<string, any>;
    if (body.sku?.name !== 'Standard') {
      throw invalidParameter(`Public IP SKU '${body.sku?.name ?? 'Basic (the default)'}' is not offered: Basic public IPs are retired; send sku.name 'Standard'.`, 'sku.name');
    }
    if (props.publicIPAllocationMethod === 'Dynamic') {
      throw invalidParameter('Standard SKU public IP addresses must use the Static allocation method.', 'properties.publicIPAllocationMethod');
    }
    checkZones(body.zones, 3);
    immutable(input.existing, body, 'sku.name', 'sku.tier', 'properties.publicIPAddressVersion');
    delete props.ipAddress; // assigned by the service, never chosen by the client
    return {
      resource: {
        id: input.id,
        type: PIP,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        ...(body.zones ? { zones: body.zones } : {}),
        sku: { name: 'Standard', tier: body.sku.tier ?? 'Regional' },
        properties: { publicIPAddressVersion: 'IPv4', idleTimeoutInMinutes: 4, ...props, publicIPAllocationMethod: 'Static' },
        top: {},
        provisioningState: 'Creating',
        internal: {
          resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(),
          etag: ctx.core.state.newUuid(),
          ...(input.existing?.internal.ipAddress ? { ipAddress: input.existing.internal.ipAddress } : {}),
        },
      },
      onSuccess() {
        const r = ctx.core.state.get(input.id)!;
        r.internal.ipAddress ??= nextPublicIp(ctx, input.name);
      },
    };
  },
  planDelete(ctx, existing) {
    const user = pipUser(ctx, existing.id);
    const gateway = gatewayUsersOfPublicIp(ctx.core.state, existing.id)[0];
    if (gateway) throw badRequest('PublicIPAddressCannotBeDeleted', `Public IP address ${existing.id} can not be deleted since it is still allocated to resource ${gateway}.`);
    if (user) {
      throw badRequest('PublicIPAddressCannotBeDeleted', `Public IP address ${existing.id} can not be deleted since it is still allocated to resource ${ipConfigId(user.nic, user.config)}.`);
    }
    return {};
  },
  render(ctx, r) {
    const user = pipUser(ctx, r.id);
    const gateway = gatewayUsersOfPublicIp(ctx.core.state, r.id)[0];
    return renderNetwork(r, {
      ...(r.internal.ipAddress ? { ipAddress: r.internal.ipAddress } : {}),
      ...(user ? { ipConfiguration: { id: ipConfigId(user.nic, user.config) } } : gateway ? { ipConfiguration: { id: gateway } } : {}),
    });
  },
};

function allocatePrivateIp(ctx: RequestContext, subnetId: string, prefix: string, nicId: string): string {
  const cidr = parseCidr(prefix, subnetId);
  const taken = new Set(
    allIpConfigurations(ctx.core.state)
      .filter(({ nic, config }) => !sameId(nic.id, nicId) && sameId(config.properties?.subnet?.id, subnetId))
      .map(({ config }) => config.properties.privateIPAddress as string),
  );
  // Azure keeps the first four addresses and the last one of every subnet.
  for (let n = cidr.base + 4; n < cidr.base + cidrSize(cidr) - 1; n++) {
    const ip = numberToIp(n);
    if (!taken.has(ip)) return ip;
  }
  throw badRequest('SubnetIsFull', `Subnet ${subnetId} has no free private IP address.`);
}

/** Validates the ipConfigurations of a NIC PUT and gives each its subnet, private IP and public IP. */
function planIpConfigurations(ctx: RequestContext, nicId: string, location: string, raw: Record<string, any>[], existing?: StoredResource): Record<string, any>[] {
  if (raw.length === 0) throw invalidParameter('A network interface needs at least one IP configuration.', 'properties.ipConfigurations');
  const names = new Set<string>();
  const primaries = raw.filter((c) => c.properties?.primary === true).length;
  if (raw.length > 1 && primaries !== 1) {
    throw invalidParameter('Exactly one IP configuration of a network interface with several must have primary: true.', 'properties.ipConfigurations');
  }
  const before = (existing?.properties.ipConfigurations as Record<string, any>[] | undefined) ?? [];
  let vnetId: string | undefined;
  return raw.map((c, i) => {
    const target = `properties.ipConfigurations[${i}]`;
    if (!c.name) throw invalidParameter('Every IP configuration needs a name.', target);
    if (names.has(c.name.toLowerCase())) throw invalidParameter(`IP configuration '${c.name}' is given twice.`, target);
    names.add(c.name.toLowerCase());
    const p = (c.properties ?? {}) as Record<string, any>;
    const configId = `${nicId}/ipConfigurations/${c.name}`;
    const subnetId: string | undefined = p.subnet?.id;
    if (!subnetId) throw invalidParameter(`IP configuration ${c.name} needs a subnet.`, `${target}.properties.subnet`);
    const { vnet, subnet } = findSubnet(ctx, subnetId, configId);
    const gateways = gatewayUsersOfSubnet(ctx.core.state, subnetId);
    if (gateways.length) throw badRequest('SubnetIsDedicatedToApplicationGateway', `Subnet ${subnetId} holds application gateway ${gateways[0]!.replace(/\/gatewayIPConfigurations\/.*$/, '')}: a subnet of an application gateway can hold nothing else.`, `${target}.properties.subnet`);
    if (vnet.location !== location) throw badRequest('InvalidResourceReference', `Subnet ${subnetId} is in ${vnet.location}; network interface ${nicId} is in ${location}.`);
    if (vnetId && vnetId !== vnet.id) throw invalidParameter('All IP configurations of a network interface must be in the same virtual network.', target);
    vnetId = vnet.id;
    const prefix: string = subnet.properties.addressPrefix ?? subnet.properties.addressPrefixes[0];
    const pipId: string | undefined = p.publicIPAddress?.id;
    if (pipId) {
      const pip = findReferenced(ctx, pipId, PIP, configId, location);
      const user = pipUser(ctx, pip.id);
      if (user && !(sameId(user.nic.id, nicId) && user.config.name.toLowerCase() === c.name.toLowerCase())) {
        throw badRequest('PublicIPAddressInUse', `Public IP address ${pip.id} is already in use by ${ipConfigId(user.nic, user.config)}; remove it from there first.`, `${target}.properties.publicIPAddress`);
      }
    }
    // Application security groups: each must exist in the NIC's location.
    const asgs = checkAsgReferences(ctx, p.applicationSecurityGroups, location, configId);
    const method = p.privateIPAllocationMethod ?? 'Dynamic';
    let privateIPAddress: string;
    if (method === 'Static') {
      const cidr = parseCidr(prefix, subnetId);
      const n = ipToNumber(String(p.privateIPAddress ?? ''));
      if (n === undefined || n < cidr.base || n >= cidr.base + cidrSize(cidr)) {
        throw invalidParameter(`Private IP address ${p.privateIPAddress} is not in subnet ${subnetId}.`, `${target}.properties.privateIPAddress`);
      }
      privateIPAddress = p.privateIPAddress;
    } else {
      const old = before.find((b) => b.name.toLowerCase() === c.name.toLowerCase());
      privateIPAddress = old && sameId(old.properties.subnet.id, subnetId) ? old.properties.privateIPAddress : allocatePrivateIp(ctx, subnetId, prefix, nicId);
    }
    return {
      name: c.name,
      properties: {
        ...p,
        privateIPAddress,
        privateIPAllocationMethod: method,
        privateIPAddressVersion: 'IPv4',
        primary: raw.length === 1 ? true : p.primary === true,
        subnet: { id: `${vnet.id}/subnets/${subnet.name}` },
        ...(pipId ? { publicIPAddress: { id: ctx.core.state.get(pipId)!.id } } : {}),
        ...(asgs ? { applicationSecurityGroups: asgs } : {}),
      },
    };
  });
}

/** Microsoft's OUI, then a counter: unique within one emulator. */
const macAddress = (n: number) => `00-0D-3A-${[n >> 16, n >> 8, n].map((b) => (b & 255).toString(16).padStart(2, '0').toUpperCase()).join('-')}`;

/** The VM a NIC is attached to (derived from the VMs' network profiles). */
export function nicVirtualMachine(ctx: RequestContext, nicId: string): StoredResource | undefined {
  return ctx.core.state
    .ofType(VM)
    .find((vm) => ((vm.properties.networkProfile as { networkInterfaces?: { id: string }[] } | undefined)?.networkInterfaces ?? []).some((n) => sameId(n.id, nicId)));
}

export const nicKind: ResourceType = {
  type: NIC,
  family: 'network',
  plan(ctx, input) {
    const props = { ...(input.body.properties ?? {}) } as Record<string, any>;
    const ipConfigurations = planIpConfigurations(ctx, input.id, input.location, props.ipConfigurations ?? [], input.existing);
    const nsgId: string | undefined = props.networkSecurityGroup?.id;
    const nsg = nsgId ? findReferenced(ctx, nsgId, NSG, input.id, input.location) : undefined;
    const mac = (input.existing?.internal.macAddress as string | undefined) ?? macAddress(ctx.core.state.next('mac'));
    return {
      resource: {
        id: input.id,
        type: NIC,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        properties: {
          enableAcceleratedNetworking: false,
          enableIPForwarding: false,
          ...props,
          ipConfigurations,
          ...(nsg ? { networkSecurityGroup: { id: nsg.id } } : {}),
        },
        top: {},
        provisioningState: 'Creating',
        internal: { resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(), etag: ctx.core.state.newUuid(), macAddress: mac },
      },
    };
  },
  planDelete(ctx, existing) {
    const vm = nicVirtualMachine(ctx, existing.id);
    if (vm) throw badRequest('NicInUse', `Network Interface ${existing.id} is used by existing resource ${vm.id}. In order to delete the network interface, it must be dissociated from the resource.`);
    return {};
  },
  render(ctx, r) {
    const vm = nicVirtualMachine(ctx, r.id);
    const body = renderNetwork(r, {
      ...(vm ? { virtualMachine: { id: vm.id }, macAddress: r.internal.macAddress } : {}),
    });
    const props = body.properties as Record<string, unknown>;
    props.ipConfigurations = (r.properties.ipConfigurations as Record<string, any>[]).map((c) => ({
      name: c.name,
      id: ipConfigId(r, c),
      etag: body.etag,
      type: `${NIC}/ipConfigurations`,
      properties: { ...c.properties, provisioningState: props.provisioningState },
    }));
    return body;
  },
};

export function registerNics(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('PublicIPAddresses_CreateOrUpdate', (ctx) => putResource(ctx, publicIpKind, rg(ctx), ctx.params.publicIpAddressName!));
  router.operation('PublicIPAddresses_Get', (ctx) => getResource(ctx, publicIpKind, rg(ctx), ctx.params.publicIpAddressName!));
  router.operation('PublicIPAddresses_Delete', (ctx) => deleteResource(ctx, publicIpKind, rg(ctx), ctx.params.publicIpAddressName!));
  router.operation('NetworkInterfaces_CreateOrUpdate', (ctx) => putResource(ctx, nicKind, rg(ctx), ctx.params.networkInterfaceName!));
  router.operation('NetworkInterfaces_Get', (ctx) => getResource(ctx, nicKind, rg(ctx), ctx.params.networkInterfaceName!));
  router.operation('NetworkInterfaces_Delete', (ctx) => deleteResource(ctx, nicKind, rg(ctx), ctx.params.networkInterfaceName!));
}
