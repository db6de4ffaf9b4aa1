// Microsoft.Network virtual networks with their subnets, and network security groups with their
// security rules. Children can be sent inline in the parent's PUT (which then replaces the whole
// collection) or PUT/DELETE one by one; either way they are stored inside the parent, and a
// child operation is an operation on the parent (409 while another one runs).
import { isDeepStrictEqual } from 'node:util';
import { ArmError, anotherOperationInProgress, badRequest, childNotFound, invalidParameter } from '../errors.js';
import { headerStyle, type Reply } from '../lro.js';
import { deleteResource, getResource, idFor, putResource, requireGroup, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import {
  NSG,
  VNET,
  allIpConfigurations,
  childProvisioningState,
  contains,
  etag,
  findReferenced,
  gatewayUsersOfSubnet,
  ipConfigId,
  overlaps,
  parseCidr,
  renderNetwork,
  sameId,
} from './network-common.js';
import { checkAsgReferences } from './network-asg.js';

type Child = { name: string; properties: Record<string, any> };

function subnetsUsedBy(ctx: RequestContext, vnet: StoredResource): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const { nic, config } of allIpConfigurations(ctx.core.state)) {
    const subnetId: string | undefined = config.properties?.subnet?.id;
    if (!subnetId || !subnetId.toLowerCase().startsWith(`${vnet.id.toLowerCase()}/subnets/`)) continue;
    const name = subnetId.split('/').at(-1)!.toLowerCase();
    used.set(name, [...(used.get(name) ?? []), ipConfigId(nic, config)]);
  }
  // Application gateways hold their subnet too.
  for (const s of (vnet.properties.subnets as Child[] | undefined) ?? []) {
    const gateways = gatewayUsersOfSubnet(ctx.core.state, `${vnet.id}/subnets/${s.name}`);
    if (gateways.length) used.set(s.name.toLowerCase(), [...(used.get(s.name.toLowerCase()) ?? []), ...gateways]);
  }
  return used;
}

/** Checks a VNet's address space and subnets: valid prefixes, inside the space, no overlaps, NSGs exist. */
function checkSubnets(ctx: RequestContext, vnetId: string, location: string, addressPrefixes: string[], subnets: Child[]): void {
  const space = addressPrefixes.map((p) => parseCidr(p, vnetId));
  const seen: { name: string; cidr: ReturnType<typeof parseCidr> }[] = [];
  for (const s of subnets) {
    const subnetId = `${vnetId}/subnets/${s.name}`;
    const prefixes: string[] = s.properties.addressPrefix ? [s.properties.addressPrefix] : (s.properties.addressPrefixes ?? []);
    if (prefixes.length === 0) throw invalidParameter(`Subnet ${s.name} needs addressPrefix or addressPrefixes.`, subnetId);
    for (const text of prefixes) {
      const cidr = parseCidr(text, subnetId);
      if (!space.some((v) => contains(v, cidr))) {
        throw badRequest('NetcfgSubnetRangeOutsideVnet', `Subnet '${s.name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnetId.split('/').at(-1)}'.`, subnetId);
      }
      const clash = seen.find((o) => o.name !== s.name.toLowerCase() && overlaps(o.cidr, cidr));
      if (clash) throw badRequest('NetcfgSubnetRangesOverlap', `Subnet '${s.name}' is not valid because its IP address range overlaps with that of an existing subnet '${clash.name}' in virtual network.`, subnetId);
      seen.push({ name: s.name.toLowerCase(), cidr });
    }
    const nsgId = s.properties.networkSecurityGroup?.id;
    if (nsgId) findReferenced(ctx, nsgId, NSG, subnetId, location);
  }
}

function normalizeChildren(items: unknown, what: string): Child[] {
  const list = (items as Record<string, any>[] | undefined) ?? [];
  const names = new Set<string>();
  return list.map((item) => {
    if (!item.name) throw invalidParameter(`Every ${what} needs a name.`, what);
    if (names.has(item.name.toLowerCase())) throw invalidParameter(`${what} '${item.name}' is given twice.`, what);
    names.add(item.name.toLowerCase());
    return { name: String(item.name), properties: { ...(item.properties ?? {}) } };
  });
}

function renderSubnet(ctx: RequestContext, vnet: StoredResource, s: Child): Record<string, unknown> {
  const id = `${vnet.id}/subnets/${s.name}`;
  const gateways = gatewayUsersOfSubnet(ctx.core.state, id);
  const users = (subnetsUsedBy(ctx, vnet).get(s.name.toLowerCase()) ?? []).filter((u) => !gateways.includes(u));
  return {
    name: s.name,
    id,
    etag: etag(vnet),
    type: `${VNET}/subnets`,
    properties: { ...s.properties, ...(users.length ? { ipConfigurations: users.map((u) => ({ id: u })) } : {}), ...(gateways.length ? { applicationGatewayIPConfigurations: gateways.map((u) => ({ id: u })) } : {}), provisioningState: childProvisioningState(vnet) },
  };
}

export const vnetKind: ResourceType = {
  type: VNET,
  family: 'network',
  plan(ctx, input) {
    const props = (input.body.properties ?? {}) as Record<string, any>;
    const prefixes: string[] = props.addressSpace?.addressPrefixes ?? [];
    if (prefixes.length === 0) throw invalidParameter('The virtual network needs at least one address prefix in addressSpace.addressPrefixes.', 'properties.addressSpace');
    const subnets = normalizeChildren(props.subnets, 'subnets');
    checkSubnets(ctx, input.id, input.location, prefixes, subnets);
    if (input.existing) {
      // Omitting a subnet from the PUT deletes it; not while a NIC uses it.
      const used = subnetsUsedBy(ctx, input.existing);
      for (const [name, users] of used) {
        if (!subnets.some((s) => s.name.toLowerCase() === name)) {
          throw badRequest('InUseSubnetCannotBeDeleted', `Subnet ${name} is in use by ${users.join(', ')} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.`);
        }
      }
    }
    return {
      resource: {
        id: input.id,
        type: VNET,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        properties: { ...props, subnets },
        top: {},
        provisioningState: 'Creating',
        internal: { resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(), etag: ctx.core.state.newUuid() },
      },
    };
  },
  planDelete(ctx, existing) {
    const used = subnetsUsedBy(ctx, existing);
    const [name, users] = [...used][0] ?? [];
    if (name) throw badRequest('InUseSubnetCannotBeDeleted', `Subnet ${name} is in use by ${users!.join(', ')} and cannot be deleted.`);
    return {};
  },
  render(ctx, r) {
    const body = renderNetwork(r);
    const props = body.properties as Record<string, unknown>;
    props.subnets = (r.properties.subnets as Child[]).map((s) => renderSubnet(ctx, r, s));
    return body;
  },
};

const DEFAULT_RULES: [string, number, 'Inbound' | 'Outbound', 'Allow' | 'Deny', string, string, string][] = [
  ['AllowVnetInBound', 65000, 'Inbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork', 'Allow inbound traffic from all VMs in VNET'],
  ['AllowAzureLoadBalancerInBound', 65001, 'Inbound', 'Allow', 'AzureLoadBalancer', '*', 'Allow inbound traffic from azure load balancer'],
  ['DenyAllInBound', 65500, 'Inbound', 'Deny', '*', '*', 'Deny all inbound traffic'],
  ['AllowVnetOutBound', 65000, 'Outbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork', 'Allow outbound traffic from all VMs to all VMs in VNET'],
  ['AllowInternetOutBound', 65001, 'Outbound', 'Allow', '*', 'Internet', 'Allow outbound traffic from all VMs to Internet'],
  ['DenyAllOutBound', 65500, 'Outbound', 'Deny', '*', '*', 'Deny all outbound traffic'],
];

const PORT_RANGE = /^(\*|\d{1,5}(-\d{1,5})?)$/;

/** NRP's checks of a rule set: priority 100–4096 unique per direction, one of prefix/prefixes, port range syntax. */
function checkRules(ctx: RequestContext, nsgId: string, location: string, rules: Child[]): void {
  const priorities = new Map<string, string>();
  for (const rule of rules) {
    const p = rule.properties;
    const target = `${nsgId}/securityRules/${rule.name}`;
    if (!(p.priority >= 100 && p.priority <= 4096)) {
      throw badRequest('SecurityRuleInvalidPriority', `Security rule ${rule.name} has invalid priority ${p.priority}. Value provided: ${p.priority}. Allowed range 100-4096.`, target);
    }
    const key = `${p.direction}/${p.priority}`;
    if (priorities.has(key)) {
      throw badRequest('SecurityRuleConflict', `Security rules ${priorities.get(key)} and ${rule.name} have the same priority ${p.priority} and direction ${p.direction}.`, target);
    }
    priorities.set(key, rule.name);
    for (const side of ['source', 'destination']) {
      const one = p[`${side}AddressPrefix`];
      const many = p[`${side}AddressPrefixes`] ?? [];
      const groups = p[`${side}ApplicationSecurityGroups`] ?? [];
      // Application security groups named by a rule must exist in the NSG's location.
      if (groups.length) p[`${side}ApplicationSecurityGroups`] = checkAsgReferences(ctx, groups, location, target);
      if ((one !== undefined ? 1 : 0) + (many.length > 0 ? 1 : 0) + (groups.length > 0 ? 1 : 0) !== 1) {
        throw invalidParameter(`Security rule ${rule.name} must give exactly one of ${side}AddressPrefix, ${side}AddressPrefixes or ${side}ApplicationSecurityGroups.`, target);
      }
      const port = p[`${side}PortRange`];
      const ports: string[] = p[`${side}PortRanges`] ?? [];
      if ((port !== undefined) === ports.length > 0) {
        throw invalidParameter(`Security rule ${rule.name} must give exactly one of ${side}PortRange or ${side}PortRanges.`, target);
      }
      for (const range of port !== undefined ? [port] : ports) {
        if (!PORT_RANGE.test(range)) throw badRequest('SecurityRuleInvalidPortRange', `Security rule ${rule.name} has invalid port range ${range}.`, target);
      }
    }
    if (typeof p.description === 'string' && p.description.length > 140) {
      throw invalidParameter(`The description of security rule ${rule.name} is longer than 140 characters.`, target);
    }
  }
}

function renderRule(nsg: StoredResource, rule: Child, collection = 'securityRules'): Record<string, unknown> {
  return {
    name: rule.name,
    id: `${nsg.id}/${collection}/${rule.name}`,
    etag: etag(nsg),
    type: `${NSG}/${collection}`,
    properties: { ...rule.properties, provisioningState: childProvisioningState(nsg) },
  };
}

function nsgUsers(ctx: RequestContext, nsg: StoredResource): { nics: string[]; subnets: string[] } {
  const nics = ctx.core.state.ofType('Microsoft.Network/networkInterfaces').filter((n) => sameId((n.properties.networkSecurityGroup as { id?: string } | undefined)?.id, nsg.id));
  const subnets = ctx.core.state.ofType(VNET).flatMap((v) =>
    (v.properties.subnets as Child[]).filter((s) => sameId(s.properties.networkSecurityGroup?.id, nsg.id)).map((s) => `${v.id}/subnets/${s.name}`),
  );
  return { nics: nics.map((n) => n.id), subnets };
}

export const nsgKind: ResourceType = {
  type: NSG,
  family: 'network',
  plan(ctx, input) {
    const props = (input.body.properties ?? {}) as Record<string, any>;
    const securityRules = normalizeChildren(props.securityRules, 'securityRules');
    checkRules(ctx, input.id, input.location, securityRules);
    return {
      resource: {
        id: input.id,
        type: NSG,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        properties: { ...props, securityRules },
        top: {},
        provisioningState: 'Creating',
        internal: { resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(), etag: ctx.core.state.newUuid() },
      },
    };
  },
  planDelete(ctx, existing) {
    const users = nsgUsers(ctx, existing);
    if (users.nics.length || users.subnets.length) {
      throw badRequest('InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${existing.id} cannot be deleted because it is in use by the following resources: ${[...users.nics, ...users.subnets].join(', ')}.`);
    }
    return {};
  },
  render(ctx, r) {
    const body = renderNetwork(r);
    const props = body.properties as Record<string, unknown>;
    props.securityRules = (r.properties.securityRules as Child[]).map((rule) => renderRule(r, rule));
    props.defaultSecurityRules = DEFAULT_RULES.map(([name, priority, direction, access, source, destination, description]) => {
      const properties = { description, protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: source, destinationAddressPrefix: destination, access, priority, direction };
      return renderRule(r, { name, properties }, 'defaultSecurityRules');
    });
    const users = nsgUsers(ctx, r);
    if (users.nics.length) props.networkInterfaces = users.nics.map((id) => ({ id }));
    if (users.subnets.length) props.subnets = users.subnets.map((id) => ({ id }));
    return body;
  },
};

interface ChildSpec {
  parent: ResourceType;
  parentParam: string;
  childParam: string;
  collection: 'subnets' | 'securityRules';
  /** Checks the parent's collection with the new child in place. */
  check(ctx: RequestContext, parent: StoredResource, children: Child[], child: Child): void;
  render(ctx: RequestContext, parent: StoredResource, child: Child): Record<string, unknown>;
  inUse?(ctx: RequestContext, parent: StoredResource, child: Child): string[];
}

function parentOf(ctx: RequestContext, spec: ChildSpec): StoredResource {
  const rg = ctx.params.resourceGroupName!;
  requireGroup(ctx, rg, ctx.method !== 'GET');
  const parent = ctx.core.state.get(idFor(ctx, rg, spec.parent.type, ctx.params[spec.parentParam]!));
  if (!parent) {
    throw new ArmError(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${ctx.params[spec.parentParam]}' not found.`);
  }
  return parent;
}

function childOps(router: Router, spec: ChildSpec, ops: { put: string; get: string; del: string }): void {
  const style = headerStyle('network', 'PUT');
  router.operation(ops.put, (ctx): Reply => {
    const parent = parentOf(ctx, spec);
    const children = parent.properties[spec.collection] as Child[];
    const name = ctx.params[spec.childParam]!;
    const properties = { ...(ctx.body?.properties ?? {}) } as Record<string, any>;
    const child: Child = { name, properties };
    const index = children.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
    if (parent.pendingOperation) {
      const running = ctx.core.state.operations.get(parent.pendingOperation)!;
      if (running.name === ops.put && index >= 0 && isDeepStrictEqual(children[index]!.properties, properties)) {
        return { status: 200, headers: ctx.core.lro.headers(running, style), body: spec.render(ctx, parent, children[index]!) };
      }
      throw anotherOperationInProgress(parent.id, running.name);
    }
    const next = index >= 0 ? children.map((c, i) => (i === index ? { ...child, name: c.name } : c)) : [...children, child];
    spec.check(ctx, parent, next, child);
    parent.properties[spec.collection] = next;
    parent.provisioningState = 'Updating';
    const op = ctx.core.lro.begin({
      name: ops.put,
      family: 'network',
      location: parent.location,
      resourceId: parent.id,
      onSuccess: () => {
        parent.provisioningState = 'Succeeded';
        delete parent.pendingOperation;
      },
      onFailure: () => {
        parent.provisioningState = 'Failed';
        delete parent.pendingOperation;
      },
    });
    parent.pendingOperation = op.id;
    const stored = next.find((c) => c.name.toLowerCase() === name.toLowerCase())!;
    return { status: index >= 0 ? 200 : 201, headers: ctx.core.lro.headers(op, style), body: spec.render(ctx, parent, stored) };
  });

  router.operation(ops.get, (ctx) => {
    const parent = parentOf(ctx, spec);
    ctx.core.lro.nudge(parent.pendingOperation);
    const child = (parent.properties[spec.collection] as Child[]).find((c) => c.name.toLowerCase() === ctx.params[spec.childParam]!.toLowerCase());
    if (!child) throw childNotFound(`${parent.id}/${spec.collection}/${ctx.params[spec.childParam]}`);
    return { status: 200, body: spec.render(ctx, parent, child) };
  });

  router.operation(ops.del, (ctx): Reply => {
    const parent = parentOf(ctx, spec);
    const children = parent.properties[spec.collection] as Child[];
    const child = children.find((c) => c.name.toLowerCase() === ctx.params[spec.childParam]!.toLowerCase());
    if (!child) return { status: 204 };
    if (parent.pendingOperation) throw anotherOperationInProgress(parent.id, ctx.core.state.operations.get(parent.pendingOperation)!.name);
    const users = spec.inUse?.(ctx, parent, child) ?? [];
    if (users.length) {
      throw badRequest('InUseSubnetCannotBeDeleted', `Subnet ${child.name} is in use by ${users.join(', ')} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.`);
    }
    parent.provisioningState = 'Updating';
    const op = ctx.core.lro.begin({
      name: ops.del,
      family: 'network',
      location: parent.location,
      resourceId: parent.id,
      onSuccess: () => {
        parent.properties[spec.collection] = (parent.properties[spec.collection] as Child[]).filter((c) => c !== child);
        parent.provisioningState = 'Succeeded';
        delete parent.pendingOperation;
      },
    });
    parent.pendingOperation = op.id;
    return { status: 202, headers: ctx.core.lro.headers(op, headerStyle('network', 'DELETE')) };
  });
}

export function registerVnets(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('VirtualNetworks_CreateOrUpdate', (ctx) => putResource(ctx, vnetKind, rg(ctx), ctx.params.virtualNetworkName!));
  router.operation('VirtualNetworks_Get', (ctx) => getResource(ctx, vnetKind, rg(ctx), ctx.params.virtualNetworkName!));
  router.operation('VirtualNetworks_Delete', (ctx) => deleteResource(ctx, vnetKind, rg(ctx), ctx.params.virtualNetworkName!));
  router.operation('NetworkSecurityGroups_CreateOrUpdate', (ctx) => putResource(ctx, nsgKind, rg(ctx), ctx.params.networkSecurityGroupName!));
  router.operation('NetworkSecurityGroups_Get', (ctx) => getResource(ctx, nsgKind, rg(ctx), ctx.params.networkSecurityGroupName!));
  router.operation('NetworkSecurityGroups_Delete', (ctx) => deleteResource(ctx, nsgKind, rg(ctx), ctx.params.networkSecurityGroupName!));

  childOps(
    router,
    {
      parent: vnetKind,
      parentParam: 'virtualNetworkName',
      childParam: 'subnetName',
      collection: 'subnets',
      check: (ctx, parent, children) =>
        checkSubnets(ctx, parent.id, parent.location, (parent.properties.addressSpace as { addressPrefixes: string[] }).addressPrefixes, children),
      render: renderSubnet,
      inUse: (ctx, parent, child) => subnetsUsedBy(ctx, parent).get(child.name.toLowerCase()) ?? [],
    },
    { put: 'Subnets_CreateOrUpdate', get: 'Subnets_Get', del: 'Subnets_Delete' },
  );
  childOps(
    router,
    {
      parent: nsgKind,
      parentParam: 'networkSecurityGroupName',
      childParam: 'securityRuleName',
      collection: 'securityRules',
      check: (ctx, parent, children) => checkRules(ctx, parent.id, parent.location, children),
      render: (_ctx, parent, child) => renderRule(parent, child),
    },
    { put: 'SecurityRules_CreateOrUpdate', get: 'SecurityRules_Get', del: 'SecurityRules_Delete' },
  );
}
