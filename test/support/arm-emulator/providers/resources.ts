// Microsoft.Resources: resource groups (PUT/GET/HEAD/PATCH synchronous, DELETE long-running with
// only a Location header) and the resource lists with OData `$filter`, which is how a client finds
// its resources by tag.
import { ArmError, badRequest, resourceGroupNotFound } from '../errors.js';
import type { Reply } from '../lro.js';
import { checkLocation, checkTags } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { ResourceGroup, StoredResource } from '../state.js';

const RG_TYPE = 'Microsoft.Resources/resourceGroups';

/** Deleting a group deletes VMs first (their disks and NICs follow their deleteOption), then the rest, children before parents. */
const DELETE_ORDER = [
  'microsoft.compute/virtualmachines',
  'microsoft.network/networkinterfaces',
  'microsoft.network/publicipaddresses',
  'microsoft.network/networksecuritygroups',
  'microsoft.network/applicationsecuritygroups',
  'microsoft.network/virtualnetworks',
  'microsoft.compute/galleries/images/versions',
  'microsoft.compute/galleries/images',
  'microsoft.compute/galleries',
  'microsoft.compute/disks',
  'microsoft.compute/snapshots',
];

export function renderGroup(g: ResourceGroup): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    type: RG_TYPE,
    location: g.location,
    ...(Object.keys(g.tags).length > 0 ? { tags: g.tags } : {}),
    ...(g.managedBy ? { managedBy: g.managedBy } : {}),
    properties: { provisioningState: g.provisioningState },
  };
}

export function registerResources(router: Router): void {
  router.operation('ResourceGroups_CreateOrUpdate', (ctx) => {
    const { state } = ctx.core;
    const name = ctx.params.resourceGroupName!;
    if (name.endsWith('.')) throw badRequest('InvalidResourceGroupName', `The resource group name '${name}' must not end with a period.`);
    const existing = state.group(name);
    const location = checkLocation(ctx, ctx.body.location);
    const tags = checkTags(ctx.body.tags);
    if (existing?.provisioningState === 'Deleting') {
      throw new ArmError(409, 'ResourceGroupBeingDeleted', `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`);
    }
    if (existing && existing.location !== location) {
      throw new ArmError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`);
    }
    const group: ResourceGroup = existing ?? {
      id: `/subscriptions/${state.subscriptionId}/resourceGroups/${name}`,
      name,
      location,
      tags: {},
      provisioningState: 'Succeeded',
    };
    group.tags = tags;
    if (ctx.body.managedBy !== undefined) group.managedBy = ctx.body.managedBy;
    state.groups.set(name.toLowerCase(), group);
    return { status: existing ? 200 : 201, body: renderGroup(group) };
  });

  router.operation('ResourceGroups_Get', (ctx) => {
    const group = ctx.core.state.group(ctx.params.resourceGroupName!);
    if (!group) throw resourceGroupNotFound(ctx.params.resourceGroupName!);
    ctx.core.lro.nudge(group.pendingOperation);
    const still = ctx.core.state.group(group.name);
    if (!still) throw resourceGroupNotFound(group.name);
    return { status: 200, body: renderGroup(still) };
  });

  router.operation('ResourceGroups_CheckExistence', (ctx) => ({ status: ctx.core.state.group(ctx.params.resourceGroupName!) ? 204 : 404 }));

  router.operation('ResourceGroups_Update', (ctx) => {
    const group = ctx.core.state.group(ctx.params.resourceGroupName!);
    if (!group) throw resourceGroupNotFound(ctx.params.resourceGroupName!);
    if (ctx.body.tags !== undefined) group.tags = checkTags(ctx.body.tags);
    return { status: 200, body: renderGroup(group) };
  });

  router.operation('ResourceGroups_List', (ctx) => {
    const filter = parseFilter(ctx.query.get('$filter'));
    const groups = [...ctx.core.state.groups.values()].filter((g) => matchesTags(g.tags, filter));
    return page(ctx, groups.map(renderGroup));
  });

  router.operation('ResourceGroups_Delete', deleteGroup);

  router.operation('Resources_List', (ctx) => listResources(ctx, [...ctx.core.state.resources.values()]));

  router.operation('Resources_ListByResourceGroup', (ctx) => {
    const group = ctx.core.state.group(ctx.params.resourceGroupName!);
    if (!group) throw resourceGroupNotFound(ctx.params.resourceGroupName!);
    return listResources(ctx, ctx.core.state.inGroup(group.name));
  });
}

function deleteGroup(ctx: RequestContext): Reply {
  const { state, lro } = ctx.core;
  const group = state.group(ctx.params.resourceGroupName!);
  if (!group) throw resourceGroupNotFound(ctx.params.resourceGroupName!);
  const style = { asyncOperation: false, location: true };
  if (group.pendingOperation) {
    const running = state.operations.get(group.pendingOperation);
    if (running?.status === 'InProgress') return { status: 202, headers: lro.headers(running, style) };
  }
  group.provisioningState = 'Deleting';
  const op = lro.begin({
    name: 'ResourceGroups_Delete',
    family: 'resources',
    location: group.location,
    onSuccess: () => {
      const members = state.inGroup(group.name).sort((a, b) => rank(a) - rank(b));
      for (const r of members) {
        if (!state.get(r.id)) continue; // removed by an earlier cascade
        const kind = ctx.core.kinds.get(r.type.toLowerCase());
        const plan = kind?.planDelete?.(ctx, r) ?? {};
        plan.commit?.();
        state.remove(r.id);
        plan.onSuccess?.();
      }
      state.groups.delete(group.name.toLowerCase());
      return { status: 200 };
    },
    onFailure: () => {
      group.provisioningState = 'Succeeded';
      delete group.pendingOperation;
    },
  });
  group.pendingOperation = op.id;
  return { status: 202, headers: lro.headers(op, style) };
}

function rank(r: StoredResource): number {
  const i = DELETE_ORDER.indexOf(r.type.toLowerCase());
  return i === -1 ? DELETE_ORDER.length : i;
}

interface Filter {
  tagName?: string;
  tagValue?: string;
  resourceType?: string;
  name?: string;
  location?: string;
}

/**
 * The OData `$filter` forms ARM documents for resource lists: `tagName eq 'k'`, `tagName eq 'k' and
 * tagValue eq 'v'`, `resourceType eq 'Microsoft.Compute/virtualMachines'`, `name eq 'n'`,
 * `location eq 'eastus'`, joined with `and`. Anything else is refused rather than ignored.
 */
export function parseFilter(raw: string | null): Filter {
  if (raw === null || raw.trim() === '') return {};
  const filter: Filter = {};
  const clause = /^\s*(tagName|tagValue|resourceType|name|location)\s+eq\s+'((?:[^']|'')*)'\s*/i;
  let rest = raw;
  for (;;) {
    const m = clause.exec(rest);
    if (!m) throw badRequest('InvalidFilterInQueryString', `The $filter '${raw}' is not supported by the arm-emulator (supported: tagName, tagValue, resourceType, name, location with eq, joined by and).`, '$filter');
    const key = m[1]!.toLowerCase();
    const value = m[2]!.replace(/''/g, "'");
    const field = ({ tagname: 'tagName', tagvalue: 'tagValue', resourcetype: 'resourceType', name: 'name', location: 'location' } as const)[key as 'tagname'];
    filter[field] = value;
    rest = rest.slice(m[0].length);
    if (rest.trim() === '') break;
    const and = /^and\s+/i.exec(rest);
    if (!and) throw badRequest('InvalidFilterInQueryString', `The $filter '${raw}' is not supported by the arm-emulator.`, '$filter');
    rest = rest.slice(and[0].length);
  }
  if (filter.tagValue !== undefined && filter.tagName === undefined) {
    throw badRequest('InvalidFilterInQueryString', "A $filter on tagValue needs a tagName as well.", '$filter');
  }
  return filter;
}

/** Tag names match case-insensitively, values exactly. */
function matchesTags(tags: Record<string, string>, filter: Filter): boolean {
  if (filter.tagName === undefined) return true;
  const entry = Object.entries(tags).find(([k]) => k.toLowerCase() === filter.tagName!.toLowerCase());
  if (!entry) return false;
  return filter.tagValue === undefined || entry[1] === filter.tagValue;
}

function listResources(ctx: RequestContext, resources: StoredResource[]): Reply {
  const filter = parseFilter(ctx.query.get('$filter'));
  const expand = (ctx.query.get('$expand') ?? '').toLowerCase();
  const items = resources
    .filter((r) => matchesTags(r.tags, filter))
    .filter((r) => filter.resourceType === undefined || r.type.toLowerCase() === filter.resourceType.toLowerCase())
    .filter((r) => filter.name === undefined || r.id.toLowerCase().endsWith(`/${filter.name.toLowerCase()}`))
    .filter((r) => filter.location === undefined || r.location === filter.location.toLowerCase())
    .map((r) => ({
      id: r.id,
      // Nested types are listed by their full name (gallery/image/version), as ARM does.
      name: r.id.split('/providers/')[1]!.split('/').filter((_, i) => i > 0 && i % 2 === 0).join('/'),
      type: r.type,
      location: r.location,
      ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
      ...(r.sku ? { sku: r.sku } : {}),
      ...(typeof r.top.managedBy === 'string' ? { managedBy: r.top.managedBy } : {}),
      ...(expand.includes('provisioningstate') ? { provisioningState: r.provisioningState } : {}),
    }));
  return page(ctx, items);
}

/** Pages of `$top` (or the configured page size) items; nextLink carries the offset in `$skiptoken`. */
function page(ctx: RequestContext, items: unknown[]): Reply {
  const top = Number(ctx.query.get('$top') ?? NaN);
  const size = Number.isInteger(top) && top > 0 ? Math.min(top, ctx.core.state.config.pageSize) : ctx.core.state.config.pageSize;
  const offset = Number(ctx.query.get('$skiptoken') ?? 0) || 0;
  const value = items.slice(offset, offset + size);
  const body: Record<string, unknown> = { value };
  if (offset + size < items.length) {
    const next = new URLSearchParams(ctx.query);
    next.set('$skiptoken', String(offset + size));
    body.nextLink = `${ctx.core.endpoint()}${ctx.path}?${next.toString()}`;
  }
  return { status: 200, body };
}
