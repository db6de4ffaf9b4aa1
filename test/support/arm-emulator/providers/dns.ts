// Microsoft.Network DNS zones (api-version 2018-05-01) and their A record sets, enough for the
// Azure adapter's DNS records (tls --domain): a zone is PUT by the test the way a user would create
// it, listed across the subscription, and A record sets are PUT, read and deleted. There is no
// swagger for it in test/data/azure, so the routes are registered by pattern and the bodies checked
// here. Everything lives beside the State (a reset forgets it with the state).
import { ArmError, badRequest, resourceGroupNotFound, resourceNotFound } from '../errors.js';
import type { RequestContext, Router } from '../router.js';
import type { State } from '../state.js';

export const DNS_API_VERSION = '2018-05-01';

interface Zone {
  id: string;
  name: string;
  resourceGroup: string;
  zoneType: 'Public' | 'Private';
  records: Map<string, { name: string; ttl: number; ips: string[]; etag: string }>;
}

const stores = new WeakMap<State, Map<string, Zone>>();
const zonesOf = (state: State) => {
  let zones = stores.get(state);
  if (!zones) stores.set(state, (zones = new Map()));
  return zones;
};

const SUB = '^/subscriptions/(?<subscriptionId>[^/]+)';
const ZONE = `${SUB}/resourceGroups/(?<rg>[^/]+)/providers/Microsoft\\.Network/dnszones/(?<zone>[^/]+)`;

const zoneBody = (z: Zone) => ({
  id: z.id,
  name: z.name,
  type: 'Microsoft.Network/dnszones',
  location: 'global',
  etag: `zone-${z.records.size}`,
  properties: { zoneType: z.zoneType, numberOfRecordSets: z.records.size + 2, nameServers: ['ns1-01.azure-dns.com.', 'ns2-01.azure-dns.net.'] },
});

const recordBody = (z: Zone, r: { name: string; ttl: number; ips: string[]; etag: string }) => ({
  id: `${z.id}/A/${r.name}`,
  name: r.name,
  type: 'Microsoft.Network/dnszones/A',
  etag: r.etag,
  properties: { TTL: r.ttl, fqdn: `${r.name === '@' ? '' : `${r.name}.`}${z.name}.`, provisioningState: 'Succeeded', ARecords: r.ips.map((ipv4Address) => ({ ipv4Address })) },
});

function findZone(ctx: RequestContext): Zone {
  const z = zonesOf(ctx.core.state).get(`${ctx.params.rg}/${ctx.params.zone}`.toLowerCase());
  if (!z) throw resourceNotFound('Microsoft.Network/dnszones', ctx.params.zone!, ctx.params.rg!);
  return z;
}

let etags = 0;

export function registerDns(router: Router): void {
  const arm = (method: string, pattern: string, handler: (ctx: RequestContext) => { status: number; body?: unknown }) =>
    router.custom(method, new RegExp(`${pattern}/?$`, 'i'), handler, 'arm', DNS_API_VERSION);

  arm('GET', `${SUB}/providers/Microsoft\\.Network/dnszones`, (ctx) => ({ status: 200, body: { value: [...zonesOf(ctx.core.state).values()].map(zoneBody) } }));
  arm('PUT', ZONE, (ctx) => {
    if (!ctx.core.state.group(ctx.params.rg!)) throw resourceGroupNotFound(ctx.params.rg!);
    const body = JSON.parse(ctx.rawBody || '{}') as { location?: string; properties?: { zoneType?: string } };
    if (body.location?.toLowerCase() !== 'global') throw badRequest('LocationNotAvailableForResourceType', "DNS zones are in location 'global'.");
    const key = `${ctx.params.rg}/${ctx.params.zone}`.toLowerCase();
    const zones = zonesOf(ctx.core.state);
    const existing = zones.get(key);
    const zone: Zone = existing ?? {
      id: `/subscriptions/${ctx.params.subscriptionId}/resourceGroups/${ctx.params.rg}/providers/Microsoft.Network/dnszones/${ctx.params.zone!.toLowerCase()}`,
      name: ctx.params.zone!.toLowerCase(),
      resourceGroup: ctx.params.rg!,
      zoneType: body.properties?.zoneType === 'Private' ? 'Private' : 'Public',
      records: new Map(),
    };
    zones.set(key, zone);
    return { status: existing ? 200 : 201, body: zoneBody(zone) };
  });
  arm('GET', ZONE, (ctx) => ({ status: 200, body: zoneBody(findZone(ctx)) }));

  const RECORD = `${ZONE}/A/(?<record>[^/]+)`;
  arm('GET', RECORD, (ctx) => {
    const z = findZone(ctx);
    const r = z.records.get(ctx.params.record!.toLowerCase());
    if (!r) throw new ArmError(404, 'NotFound', `The resource record '${ctx.params.record}' does not exist in resource group '${ctx.params.rg}' of subscription '${ctx.params.subscriptionId}'.`);
    return { status: 200, body: recordBody(z, r) };
  });
  arm('PUT', RECORD, (ctx) => {
    const z = findZone(ctx);
    const body = JSON.parse(ctx.rawBody || '{}') as { properties?: { TTL?: unknown; ARecords?: { ipv4Address?: unknown }[] } };
    const ttl = body.properties?.TTL;
    const ips = (body.properties?.ARecords ?? []).map((a) => a.ipv4Address);
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) throw badRequest('BadRequest', 'The value of TTL is invalid.', 'properties.TTL');
    if (!ips.length || ips.some((ip) => typeof ip !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip))) throw badRequest('BadRequest', 'The record set must hold IPv4 addresses.', 'properties.ARecords');
    const name = ctx.params.record!.toLowerCase();
    const existed = z.records.has(name);
    const r = { name, ttl, ips: ips as string[], etag: `etag-${++etags}` };
    z.records.set(name, r);
    return { status: existed ? 200 : 201, body: recordBody(z, r) };
  });
  arm('DELETE', RECORD, (ctx) => {
    const z = findZone(ctx);
    return { status: z.records.delete(ctx.params.record!.toLowerCase()) ? 200 : 204 };
  });
}
