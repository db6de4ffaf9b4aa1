// The parts every resource provider shares: create-or-update by name (idempotent, 409 while another
// operation runs, immutable location/zones), GET, DELETE and POST actions as long-running
// operations, tags and location checks, and the common answer shape. Each provider describes its
// type with a ResourceType and only writes what is specific to it.
import { isDeepStrictEqual } from 'node:util';
import {
  ArmError,
  anotherOperationInProgress,
  badRequest,
  invalidParameter,
  propertyChangeNotAllowed,
  resourceGroupNotFound,
  resourceNotFound,
  type CloudErrorBody,
} from './errors.js';
import { headerStyle, type Reply } from './lro.js';
import type { RequestContext } from './router.js';
import { type Family, type Operation, type StoredResource, normalizeLocation, resourceId } from './state.js';

export interface PutPlan {
  /** The resource as it will be stored (provisioningState is set by the kit). */
  resource: StoredResource;
  /** Side effects at request time, run only after every check passed (reservations, attachments). */
  commit?: () => void;
  /** When the operation succeeds (e.g. assign the public IP, power the VM on). */
  onSuccess?: () => void;
  /** When the operation fails (undo reservations that must not stay). */
  onFailure?: (error: CloudErrorBody) => void;
}

export interface DeletePlan {
  commit?: () => void;
  /** Runs when the delete succeeds, after the resource is gone (cascades). */
  onSuccess?: () => void;
}

export interface ResourceType {
  /** e.g. Microsoft.Network/publicIPAddresses (nested: Microsoft.Compute/galleries/images). */
  type: string;
  family: Family;
  /** Whether the type has availability zones (then `zones` cannot change). */
  zonal?: boolean;
  /** Answer of a PUT: 201/200 by default; DiskRP answers 202 while it works. */
  putStatus?: (isNew: boolean) => number;
  /** Checks the request and builds the new state; throws ArmError and changes nothing on a bad request. */
  plan(ctx: RequestContext, input: PutInput): PutPlan;
  planDelete?(ctx: RequestContext, existing: StoredResource): DeletePlan;
  render(ctx: RequestContext, r: StoredResource): Record<string, unknown>;
}

export interface PutInput {
  id: string;
  name: string;
  resourceGroup: string;
  body: Record<string, any>;
  existing?: StoredResource;
  location: string;
  tags: Record<string, string>;
}

const RESERVED_TAG_CHARS = /[<>%&\\?/]/;

/** Tag limits of ARM: ≤ 50 pairs, names ≤ 512 characters without <>%&\?/, values ≤ 256 characters. */
export function checkTags(tags: unknown): Record<string, string> {
  if (tags === undefined) return {};
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > 50) throw badRequest('InvalidTagCount', `The resource has ${entries.length} tags; at most 50 are allowed.`, 'tags');
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > 512) {
      throw badRequest('InvalidTagNameLength', `The tag name '${name.slice(0, 40)}' must be 1 to 512 characters long.`, 'tags');
    }
    if (RESERVED_TAG_CHARS.test(name)) {
      throw badRequest('InvalidTagNameCharacters', `The tag name '${name}' has characters that are not allowed: '<,>,%,&,\\,?,/'.`, 'tags');
    }
    if (typeof value !== 'string') throw badRequest('InvalidRequestContent', `The value of tag '${name}' must be a string.`, 'tags');
    if (value.length > 256) throw badRequest('InvalidTagValueLength', `The value of tag '${name}' is ${value.length} characters long; at most 256 are allowed.`, 'tags');
    if (seen.has(name.toLowerCase())) throw badRequest('InvalidTagName', `The tag name '${name}' is given twice (tag names are case-insensitive).`, 'tags');
    seen.add(name.toLowerCase());
  }
  return { ...(tags as Record<string, string>) };
}

export function checkLocation(ctx: RequestContext, location: unknown): string {
  if (location === undefined || location === '') throw badRequest('LocationRequired', 'The location property is required for this definition.', 'location');
  const normalized = normalizeLocation(String(location ?? ''));
  if (!ctx.core.state.config.locations.includes(normalized)) {
    throw badRequest(
      'LocationNotAvailableForResourceType',
      `The provided location '${String(location)}' is not available for this resource type. List of available regions is '${ctx.core.state.config.locations.join(',')}'.`,
      'location',
    );
  }
  return normalized;
}

/** Availability zones: '1', '2' or '3', at most `max` of them (VMs and disks live in one zone). */
export function checkZones(zones: unknown, max: number, target = 'zones'): void {
  if (zones === undefined) return;
  const list = zones as string[];
  if (list.length > max || new Set(list).size !== list.length || list.some((z) => !['1', '2', '3'].includes(z))) {
    throw invalidParameter(`The zones ${JSON.stringify(list)} are not valid: give at most ${max} of '1', '2', '3'.`, target);
  }
}

/** 404 when the group does not exist; for writes, 409 while it is being deleted. */
export function requireGroup(ctx: RequestContext, rg: string, write = false): void {
  const group = ctx.core.state.group(rg);
  if (!group) throw resourceGroupNotFound(rg);
  if (write && group.provisioningState === 'Deleting') {
    throw new ArmError(409, 'ResourceGroupBeingDeleted', `The resource group '${group.name}' is in deprovisioning state and cannot perform this operation.`);
  }
}

export function idFor(ctx: RequestContext, rg: string, type: string, ...names: string[]): string {
  const [provider, ...types] = type.split('/');
  const pairs = types.flatMap((t, i) => [t, names[i]!]);
  const group = ctx.core.state.group(rg);
  return resourceId(ctx.core.state.subscriptionId, group?.name ?? rg, provider!, ...pairs);
}

export function findOrThrow(ctx: RequestContext, kind: ResourceType, rg: string, ...names: string[]): StoredResource {
  requireGroup(ctx, rg);
  const found = ctx.core.state.get(idFor(ctx, rg, kind.type, ...names));
  if (!found) throw resourceNotFound(kind.type, names.join('/'), rg);
  return found;
}

/** The answer body of a tracked resource: id, name, type, location, tags, zones, sku, properties. */
export function baseRender(r: StoredResource, extraProperties: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
    ...(r.zones ? { zones: r.zones } : {}),
    ...(r.sku ? { sku: r.sku } : {}),
    ...r.top,
    properties: { ...r.properties, ...extraProperties, provisioningState: r.provisioningState },
  };
}

export function putResource(ctx: RequestContext, kind: ResourceType, rg: string, ...names: string[]): Reply {
  requireGroup(ctx, rg, true);
  const { state, lro } = ctx.core;
  const id = idFor(ctx, rg, kind.type, ...names);
  const existing = state.get(id);
  const body = (ctx.body ?? {}) as Record<string, any>;
  const location = checkLocation(ctx, body.location);
  const tags = checkTags(body.tags);
  const style = headerStyle(kind.family, 'PUT');

  if (existing?.pendingOperation) {
    const running = state.operations.get(existing.pendingOperation)!;
    // The same PUT again (a retry after a timeout) joins the running operation.
    if (running.name === ctx.op!.operationId && isDeepStrictEqual(existing.request, body)) {
      return { status: (kind.putStatus ?? defaultPutStatus)(existing.provisioningState === 'Creating'), headers: lro.headers(running, style), body: kind.render(ctx, existing) };
    }
    throw anotherOperationInProgress(existing.id, running.name);
  }
  if (existing) {
    if (existing.location !== location) {
      throw new ArmError(
        409,
        'InvalidResourceLocation',
        `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${rg}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
      );
    }
    if (kind.zonal && !isDeepStrictEqual(existing.zones ?? [], body.zones ?? [])) throw propertyChangeNotAllowed('zones');
  }

  const plan = kind.plan(ctx, { id: existing?.id ?? id, name: existing?.name ?? names.at(-1)!, resourceGroup: state.group(rg)!.name, body, ...(existing ? { existing } : {}), location, tags });
  const resource = plan.resource;
  resource.request = body;
  resource.provisioningState = existing ? 'Updating' : 'Creating';
  plan.commit?.();
  state.put(resource);
  const op = lro.begin({
    name: ctx.op!.operationId,
    family: kind.family,
    location,
    resourceId: resource.id,
    onSuccess: () => {
      resource.provisioningState = 'Succeeded';
      delete resource.pendingOperation;
      plan.onSuccess?.();
    },
    onFailure: (error) => {
      resource.provisioningState = 'Failed';
      delete resource.pendingOperation;
      plan.onFailure?.(error);
    },
  });
  resource.pendingOperation = op.id;
  return { status: (kind.putStatus ?? defaultPutStatus)(!existing), headers: lro.headers(op, style), body: kind.render(ctx, resource) };
}

const defaultPutStatus = (isNew: boolean) => (isNew ? 201 : 200);

export function getResource(ctx: RequestContext, kind: ResourceType, rg: string, ...names: string[]): Reply {
  const found = findOrThrow(ctx, kind, rg, ...names);
  ctx.core.lro.nudge(found.pendingOperation);
  // The operation may have just deleted it.
  if (!ctx.core.state.get(found.id)) throw resourceNotFound(kind.type, names.join('/'), rg);
  return { status: 200, body: kind.render(ctx, found) };
}

export function deleteResource(ctx: RequestContext, kind: ResourceType, rg: string, ...names: string[]): Reply {
  requireGroup(ctx, rg, true);
  const { state, lro } = ctx.core;
  const existing = state.get(idFor(ctx, rg, kind.type, ...names));
  if (!existing) return { status: 204 };
  const style = headerStyle(kind.family, 'DELETE');
  if (existing.pendingOperation) {
    const running = state.operations.get(existing.pendingOperation)!;
    if (running.name === ctx.op!.operationId) return { status: 202, headers: lro.headers(running, style) };
    throw anotherOperationInProgress(existing.id, running.name);
  }
  const plan = kind.planDelete?.(ctx, existing) ?? {};
  plan.commit?.();
  const previous = existing.provisioningState;
  existing.provisioningState = 'Deleting';
  const op = lro.begin({
    name: ctx.op!.operationId,
    family: kind.family,
    location: existing.location,
    resourceId: existing.id,
    onSuccess: () => {
      state.remove(existing.id);
      plan.onSuccess?.();
    },
    onFailure: () => {
      existing.provisioningState = previous;
      delete existing.pendingOperation;
    },
  });
  existing.pendingOperation = op.id;
  return { status: 202, headers: lro.headers(op, style) };
}

export interface ActionOptions {
  /** Checks and request-time changes; throw ArmError to refuse. */
  start?: () => void;
  onSuccess?: () => { status: number; body?: unknown } | void;
  onFailure?: (error: CloudErrorBody) => void;
}

/** A POST action (start, deallocate, attachDetachDataDisks …) as a long-running operation on `target`. */
export function beginAction(ctx: RequestContext, kind: ResourceType, target: StoredResource, opts: ActionOptions): Reply {
  const { state, lro } = ctx.core;
  if (target.pendingOperation) {
    throw anotherOperationInProgress(target.id, state.operations.get(target.pendingOperation)?.name ?? 'unknown');
  }
  opts.start?.();
  const previous = target.provisioningState;
  target.provisioningState = 'Updating';
  const op: Operation = lro.begin({
    name: ctx.op!.operationId,
    family: kind.family,
    location: target.location,
    resourceId: target.id,
    onSuccess: () => {
      target.provisioningState = 'Succeeded';
      delete target.pendingOperation;
      return opts.onSuccess?.();
    },
    onFailure: (error) => {
      target.provisioningState = previous === 'Succeeded' ? 'Failed' : previous;
      delete target.pendingOperation;
      opts.onFailure?.(error);
    },
  });
  target.pendingOperation = op.id;
  return { status: 202, headers: lro.headers(op, headerStyle(kind.family, 'POST')) };
}

/** Throws PropertyChangeNotAllowed when `path` (dot-separated) differs between the stored and the new request. */
export function immutable(existing: StoredResource | undefined, body: Record<string, unknown>, ...paths: string[]): void {
  if (!existing) return;
  for (const path of paths) {
    const before = dig(existing.request, path);
    const after = dig(body, path);
    if (!isDeepStrictEqual(before, after)) throw propertyChangeNotAllowed(path);
  }
}

export function dig(value: unknown, path: string): unknown {
  let v: unknown = value;
  for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}
