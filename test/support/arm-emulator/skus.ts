// Compute's Resource SKUs list (`ResourceSkus_List`, skus.json 2021-07-01): every VM size of
// config.vmSizes and the managed disk types of config.diskSkus, in zones 1–3 of every location,
// with the restrictions a test sets (config.skuRestrictions) written the way ARM writes them: a
// `Location` restriction (NotAvailableForSubscription) or a `Zone` restriction naming its zones.
// `$filter=location eq '<l>'` narrows the list to one location; pages of config.pageSize.
import { ArmError } from './errors.js';
import type { Router } from './router.js';
import { sizeQuota } from './usages.js';

/** A size or disk type the subscription may not use in a location (zones: only in those zones). */
export interface SkuRestriction {
  resourceType: 'virtualMachines' | 'disks';
  name: string;
  location: string;
  zones?: string[];
}

const ZONES = ['1', '2', '3'];

function restrictionsOf(restrictions: SkuRestriction[], resourceType: string, name: string, location: string) {
  return restrictions
    .filter((r) => r.resourceType === resourceType && r.name.toLowerCase() === name.toLowerCase() && r.location.toLowerCase() === location.toLowerCase())
    .map((r) =>
      r.zones
        ? { type: 'Zone', values: [location], restrictionInfo: { locations: [location], zones: [...r.zones] }, reasonCode: 'NotAvailableForSubscription' }
        : { type: 'Location', values: [location], restrictionInfo: { locations: [location] }, reasonCode: 'NotAvailableForSubscription' },
    );
}

export function registerSkus(router: Router): void {
  router.operation('ResourceSkus_List', (ctx) => {
    const { config } = ctx.core.state;
    const filter = ctx.query.get('$filter');
    let locations = config.locations;
    if (filter !== null) {
      const m = /^\s*location\s+eq\s+'([^']*)'\s*$/i.exec(filter);
      if (!m) throw new ArmError(400, 'InvalidFilterInQueryString', `Invalid $filter '${filter}': only location eq '<location>' is supported.`);
      locations = config.locations.filter((l) => l.toLowerCase() === m[1]!.toLowerCase());
    }
    const all = locations.flatMap((location) => [
      ...config.vmSizes.map((name) => ({
        resourceType: 'virtualMachines',
        name,
        tier: 'Standard',
        size: name.replace(/^Standard_/, ''),
        family: sizeQuota(name)?.family ?? 'standardFamily',
        locations: [location],
        locationInfo: [{ location, zones: [...ZONES], zoneDetails: [] }],
        capabilities: [{ name: 'vCPUs', value: String(sizeQuota(name)?.vcpus ?? 1) }],
        restrictions: restrictionsOf(config.skuRestrictions, 'virtualMachines', name, location),
      })),
      ...config.diskSkus.map((name) => ({
        resourceType: 'disks',
        name,
        tier: name.startsWith('PremiumV2') ? 'Ultra' : 'Premium',
        locations: [location],
        locationInfo: [{ location, zones: [...ZONES], zoneDetails: [] }],
        capabilities: [],
        restrictions: restrictionsOf(config.skuRestrictions, 'disks', name, location),
      })),
    ]);
    const offset = Number(ctx.query.get('$skiptoken') ?? 0) || 0;
    const value = all.slice(offset, offset + config.pageSize);
    const body: { value: unknown[]; nextLink?: string } = { value };
    if (offset + config.pageSize < all.length) {
      const next = new URLSearchParams(ctx.query);
      next.set('$skiptoken', String(offset + config.pageSize));
      body.nextLink = `${ctx.core.endpoint()}${ctx.path}?${next.toString()}`;
    }
    return { status: 200, body };
  });
}
