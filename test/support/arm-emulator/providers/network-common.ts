// Shared by the Microsoft.Network types: IPv4 prefix arithmetic, the answer shape (etag,
// resourceGuid, network's provisioningState enum), child-resource ids and the lookups that derive
// back-references (a subnet's ipConfigurations, a public IP's ipConfiguration …) from the NICs.
import { badRequest, invalidReference } from '../errors.js';
import { baseRender } from '../resource-kit.js';
import type { RequestContext } from '../router.js';
import { normalizeId, type State, type StoredResource } from '../state.js';

export const VNET = 'Microsoft.Network/virtualNetworks';
export const NSG = 'Microsoft.Network/networkSecurityGroups';
export const PIP = 'Microsoft.Network/publicIPAddresses';
export const NIC = 'Microsoft.Network/networkInterfaces';
export const APPGW = 'Microsoft.Network/applicationGateways';

type GatewayPart = { name: string; properties?: Record<string, any> };
function gatewayPartsNaming(state: State, collection: string, member: string, id: string): string[] {
  return state.ofType(APPGW).flatMap((gw) =>
    ((gw.properties[collection] as GatewayPart[] | undefined) ?? []).filter((p) => sameId(p.properties?.[member]?.id, id)).map((p) => `${gw.id}/${collection}/${p.name}`),
  );
}

/** The application gateways' ip configurations in a subnet (a gateway's subnet is its own). */
export function gatewayUsersOfSubnet(state: State, subnetId: string): string[] {
  return gatewayPartsNaming(state, 'gatewayIPConfigurations', 'subnet', subnetId);
}

/** The application gateways' frontend ip configurations holding a public IP. */
export function gatewayUsersOfPublicIp(state: State, pipId: string): string[] {
  return gatewayPartsNaming(state, 'frontendIPConfigurations', 'publicIPAddress', pipId);
}

export interface Cidr {
  base: number;
  bits: number;
  text: string;
}

export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Parses an IPv4 prefix; throws InvalidCIDRNotation (NRP's code) when it is not one. */
export function parseCidr(text: string, target: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text);
  const base = m ? ipToNumber(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (base === undefined || !(bits >= 0 && bits <= 32)) {
    throw badRequest('InvalidCIDRNotation', `The address prefix ${text} in resource ${target} has an invalid CIDR notation.`, target);
  }
  const size = 2 ** (32 - bits);
  if (base % size !== 0) {
    throw badRequest(
      'InvalidAddressPrefixFormat',
      `Address prefix ${text} of resource ${target} is not formatted correctly: the host bits must be zero (${numberToIp(base - (base % size))}/${bits}).`,
      target,
    );
  }
  return { base, bits, text };
}

export const cidrSize = (c: Cidr) => 2 ** (32 - c.bits);
export const contains = (outer: Cidr, inner: Cidr) => inner.base >= outer.base && inner.base + cidrSize(inner) <= outer.base + cidrSize(outer);
export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);

/** Network answers carry an etag and say Updating (never Creating) while an operation runs. */
export function renderNetwork(r: StoredResource, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const body = baseRender(r, { resourceGuid: r.internal.resourceGuid, ...extra });
  const props = body.properties as Record<string, unknown>;
  if (props.provisioningState === 'Creating') props.provisioningState = 'Updating';
  return { ...body, etag: etag(r) };
}

export function etag(r: StoredResource): string {
  return `W/"${String(r.internal.etag ?? r.internal.resourceGuid)}"`;
}

export function childProvisioningState(parent: StoredResource): string {
  return parent.provisioningState === 'Creating' ? 'Updating' : parent.provisioningState;
}

/** Every NIC ipConfiguration, with the NIC it belongs to. */
export function allIpConfigurations(state: State): { nic: StoredResource; config: Record<string, any> }[] {
  return state.ofType(NIC).flatMap((nic) => ((nic.properties.ipConfigurations as Record<string, any>[]) ?? []).map((config) => ({ nic, config })));
}

export function ipConfigId(nic: StoredResource, config: Record<string, any>): string {
  return `${nic.id}/ipConfigurations/${config.name}`;
}

export function sameId(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && normalizeId(a) === normalizeId(b);
}

/** The VNet and subnet entry a subnet id points at, or InvalidResourceReference. */
export function findSubnet(ctx: RequestContext, subnetId: string, referencedBy: string): { vnet: StoredResource; subnet: Record<string, any> } {
  const m = /^(.*\/virtualNetworks\/[^/]+)\/subnets\/([^/]+)$/i.exec(subnetId.replace(/\/+$/, ''));
  const vnet = m ? ctx.core.state.get(m[1]!) : undefined;
  const subnet = ((vnet?.properties.subnets as Record<string, any>[] | undefined) ?? []).find((s) => s.name.toLowerCase() === m![2]!.toLowerCase());
  if (!vnet || !subnet || vnet.provisioningState === 'Deleting') throw invalidReference(subnetId, referencedBy);
  return { vnet, subnet };
}

/** A top-level network resource that a body references by id, of the expected type. */
export function findReferenced(ctx: RequestContext, id: string, type: string, referencedBy: string, location?: string): StoredResource {
  const found = ctx.core.state.get(id);
  if (!found || found.type.toLowerCase() !== type.toLowerCase() || found.provisioningState === 'Deleting' || (location && found.location !== location)) {
    throw invalidReference(id, referencedBy);
  }
  return found;
}
