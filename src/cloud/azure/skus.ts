// Which zones of the location offer a VM size or a disk type, from Compute's Resource SKUs list
// (GET /subscriptions/{s}/providers/Microsoft.Compute/skus, api-version 2021-07-01, the Skus API's
// only stable version). One call per location and adapter (the list is long and does not change
// during a run); every later question is answered from it.
import type { Json } from './arm.js';
import type { AzureContext } from './context.js';

/** The Skus API has its own api-version, apart from the Compute VMs' (arm.ts API_VERSIONS). */
export const SKUS_API_VERSION = '2021-07-01';

/** The SKU list of each context's location, asked once (a failed ask is not kept: the next one retries). */
const lists = new WeakMap<AzureContext, Promise<Json[]>>();

/** Every SKU entry of the context's location, following nextLink. */
export function listSkus(c: AzureContext): Promise<Json[]> {
  let list = lists.get(c);
  if (!list) {
    list = fetchSkus(c);
    lists.set(c, list);
    list.catch(() => lists.delete(c));
  }
  return list;
}

async function fetchSkus(c: AzureContext): Promise<Json[]> {
  const filter = encodeURIComponent(`location eq '${c.location}'`);
  const out: Json[] = [];
  let next: string | undefined = `/subscriptions/${c.subscriptionId}/providers/Microsoft.Compute/skus?api-version=${SKUS_API_VERSION}&$filter=${filter}`;
  while (next) {
    const page: Json | undefined = (await c.arm.send('GET', next, 'Microsoft.Compute resourceSkus.list')).body;
    out.push(...((page?.value as Json[] | undefined) ?? []));
    next = (page?.nextLink as string | null | undefined) ?? undefined;
  }
  return out;
}

const same = (a: unknown, b: string) => String(a ?? '').toLowerCase() === b.toLowerCase();

/**
 * The zones of `location` that offer the SKU `name` of `resourceType` ('virtualMachines', 'disks'),
 * sorted; [] when the list does not name it there, or it is restricted in the whole location
 * (`Location` restriction, e.g. NotAvailableForSubscription). A `Zone` restriction removes its
 * zones. Disk types come as several entries (one per tier size), so the zones of all are joined.
 */
export function offeredZones(skus: readonly Json[], resourceType: string, name: string, location: string): string[] {
  const zones = new Set<string>();
  for (const sku of skus) {
    if (!same(sku.resourceType, resourceType) || !same(sku.name, name)) continue;
    const info = ((sku.locationInfo as Json[] | undefined) ?? []).find((i) => same(i.location, location));
    if (!info) continue;
    const restrictions = (sku.restrictions as Json[] | undefined) ?? [];
    // The list is asked for one location, so a restriction naming no location is taken as this one's.
    const here = (r: Json) => {
      const named = [...((r.values as string[] | undefined) ?? []), ...((r.restrictionInfo?.locations as string[] | undefined) ?? [])];
      return named.length === 0 || named.some((l) => same(l, location));
    };
    if (restrictions.some((r) => r.type === 'Location' && here(r))) continue;
    const closed = new Set(restrictions.filter((r) => r.type === 'Zone' && here(r)).flatMap((r) => (r.restrictionInfo?.zones as string[] | undefined) ?? []));
    for (const z of (info.zones as string[] | undefined) ?? []) if (!closed.has(z)) zones.add(z);
  }
  return [...zones].sort();
}

export async function machineTypeZones(c: AzureContext, machineType: string): Promise<string[]> {
  return offeredZones(await listSkus(c), 'virtualMachines', machineType, c.location);
}

export async function diskTypeZones(c: AzureContext, diskType: string): Promise<string[]> {
  return offeredZones(await listSkus(c), 'disks', diskType, c.location);
}
