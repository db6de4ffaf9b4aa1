// Pieces every resource module uses: get/list answers, names, setLabels with its fingerprint check.
import { alreadyExists, conditionNotMet, invalid } from '../errors.js';
import { listBody } from '../filter.js';
import { refPath, type Ref, type ScopeKind } from '../links.js';
import type { MutationPlan } from '../operations.js';
import { labelFingerprint, type Collection, type Entry, type Labelled, type Labels, type ResourceBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, World } from '../world.js';

/** The scope part of a call: zone or region from the path, else global. */
export function scopeOf(call: Call): { project: string; scope: ScopeKind; location?: string } {
  if (call.params.zone) return { project: call.project, scope: 'zones', location: call.params.zone };
  if (call.params.region) return { project: call.project, scope: 'regions', location: call.params.region };
  return { project: call.project, scope: 'global' };
}

/** `{project, scope, location, name}` for the resource named by path parameter `param`. */
export function target(call: Call, param: string): Omit<Ref, 'collection'> {
  return { ...scopeOf(call), name: call.params[param]! };
}

/** A `get`: counts as a poll of operations changing the resource, then answers a copy. */
export function getAnswer<T extends ResourceBody>(world: World, collection: Collection<T>, ref: Omit<Ref, 'collection'>): { json: Json } {
  const entry = collection.get(ref);
  world.touch(entry.ref);
  return { json: structuredClone(entry.body) };
}

export function listAnswer<T extends ResourceBody>(world: World, collection: Collection<T>, call: Call, kind: string): { json: Json } {
  const { project, scope, location } = scopeOf(call);
  const where = scope === 'global' ? 'global' : `${scope}/${location}`;
  const items = collection.list(project, scope, location).map((e) => structuredClone(e.body) as Json);
  return { json: listBody(kind, `projects/${project}/${where}/${collection.collection}`, world.links.collection(project, scope, location, collection.collection), items, call.query) };
}

/** The new resource's name from the body; Compute requires one for every insert. */
export function newName<T extends ResourceBody>(call: Call, collection: Collection<T>): Omit<Ref, 'collection'> {
  const name = call.body.name;
  if (typeof name !== 'string' || name === '') throw invalid("Required field 'resource.name' not specified");
  const ref = { ...scopeOf(call), name };
  if (collection.has(ref)) throw alreadyExists(refPath({ ...ref, collection: collection.collection }));
  return ref;
}

export function setLabelsOn(body: Labelled, labels: Labels | undefined): void {
  if (labels && Object.keys(labels).length > 0) body.labels = { ...labels };
  else delete body.labels;
  body.labelFingerprint = labelFingerprint(labels);
}

/**
 * `setLabels` for any labelled kind: the fingerprint must be the current one (a missing one is
 * stale too); the whole map is replaced when the operation is DONE.
 */
export function setLabelsPlan(entry: Entry<ResourceBody & Labelled>, body: Json): MutationPlan {
  if (body.labelFingerprint !== entry.body.labelFingerprint) {
    throw conditionNotMet('Labels fingerprint either invalid or resource labels have changed');
  }
  const labels = body.labels as Labels | undefined;
  return { operationType: 'setLabels', target: entry.ref, targetId: entry.body.id, done: () => setLabelsOn(entry.body, labels) };
}

/** Copies only the client fields a resource keeps as given. */
export function pick(body: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, structuredClone(body[k])]));
}

const RFC1035 = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

export function isRfc1035(text: string): boolean {
  return RFC1035.test(text);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** IPv4 or IPv6 CIDR, as firewall source ranges accept. */
export function isCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || ip === undefined) return false;
  if (isIpv4(ip)) return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= 32);
  if (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(':')) return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= 128);
  return false;
}

/** The multi-region a region's snapshots and images are stored in by default. */
export function multiRegion(region: string): string {
  if (region.startsWith('europe-')) return 'eu';
  if (region.startsWith('asia-') || region.startsWith('australia-')) return 'asia';
  return 'us';
}
