// Resource URLs. Compute answers with full selfLinks on www.googleapis.com whatever endpoint was
// called, and accepts references to other resources as full URLs or partial paths
// (`projects/p/zones/z/disks/d`, `zones/z/disks/d`, `global/images/family/f`). The emulator does the
// same, so an adapter must parse links instead of following them (following one would leave the
// machine). `selfLinkBase` can point them at the emulator instead.
import { invalidField } from './errors.js';

export const GOOGLE_SELF_LINK_BASE = 'https://www.googleapis.com/compute/v1/';

export type ScopeKind = 'zones' | 'regions' | 'global';

/** A parsed reference: `projects/{project}/{scope}/{collection}/{name}`. */
export interface Ref {
  project: string;
  scope: ScopeKind;
  /** Zone or region name; undefined for global. */
  location?: string;
  collection: string;
  name: string;
}

/** The resource path used as a key and in error messages: `projects/p/zones/z/disks/d`. */
export function refPath(ref: Ref): string {
  const scope = ref.scope === 'global' ? 'global' : `${ref.scope}/${ref.location}`;
  return `projects/${ref.project}/${scope}/${ref.collection}/${ref.name}`;
}

export class Links {
  constructor(readonly base: string = GOOGLE_SELF_LINK_BASE) {}

  project(project: string): string {
    return `${this.base}projects/${project}`;
  }
  zone(project: string, zone: string): string {
    return `${this.base}projects/${project}/zones/${zone}`;
  }
  region(project: string, region: string): string {
    return `${this.base}projects/${project}/regions/${region}`;
  }
  of(ref: Ref): string {
    return `${this.base}${refPath(ref)}`;
  }
  /** selfLink of a list: `.../zones/z/instances`. */
  collection(project: string, scope: ScopeKind, location: string | undefined, collection: string): string {
    const where = scope === 'global' ? 'global' : `${scope}/${location}`;
    return `${this.base}projects/${project}/${where}/${collection}`;
  }
}

const URL_PREFIX = /^https?:\/\/[^/]+\/compute\/(?:v1|beta|alpha)\//;

/**
 * Parses a full or partial reference. `project` fills in partial ones. Returns undefined when the
 * text is not a resource path at all (a bare name, say).
 */
export function parseRef(value: string, project: string): (Ref & { family?: string }) | undefined {
  let rest = value.replace(URL_PREFIX, '');
  let owner = project;
  const inProject = /^projects\/([^/]+)\/(.*)$/.exec(rest);
  if (inProject) {
    owner = inProject[1]!;
    rest = inProject[2]!;
  }
  const family = /^global\/images\/family\/([^/]+)$/.exec(rest);
  if (family) return { project: owner, scope: 'global', collection: 'images', name: '', family: family[1]! };
  const global = /^global\/([A-Za-z]+)\/([^/]+)$/.exec(rest);
  if (global) return { project: owner, scope: 'global', collection: global[1]!, name: global[2]! };
  const scoped = /^(zones|regions)\/([^/]+)\/([A-Za-z]+)\/([^/]+)$/.exec(rest);
  if (scoped) return { project: owner, scope: scoped[1] as ScopeKind, location: scoped[2]!, collection: scoped[3]!, name: scoped[4]! };
  return undefined;
}

/**
 * A reference that must name a resource of `collection` (e.g. `disks`). Refuses bare names and
 * other kinds the way Compute does.
 */
export function requireRef(value: string, project: string, collection: string, field: string): Ref & { family?: string } {
  const ref = parseRef(value, project);
  if (!ref || ref.collection !== collection) {
    throw invalidField(field, value, 'Must be a URL to a valid Compute resource of the correct type.');
  }
  return ref;
}

/** The last path segment of a URL (zone, region, machine type names from links). */
export function lastSegment(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Compute's timestamp format (RFC 3339 with milliseconds and the service's UTC-8 offset). */
export function timestamp(date: Date): string {
  const shifted = new Date(date.getTime() - 8 * 3600_000);
  return `${shifted.toISOString().slice(0, 23)}-08:00`;
}
