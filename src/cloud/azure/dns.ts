// DNS records in Azure DNS (tls --domain): the subscription's public DNS zone for a domain, and one A
// record set in it, read, put and deleted. Only record sets change; zones are the user's (and may be
// in any resource group of the subscription). Azure DNS speaks api-version 2018-05-01.
import { CloudError } from '../../core/errors.js';
import { longestZone, normalizeDnsName, relativeName } from '../dns-names.js';
import type { DnsARecord, DnsZone } from '../port.js';
import type { Json } from './arm.js';
import type { AzureContext } from './context.js';

export const DNS_API_VERSION = '2018-05-01';
const q = { 'api-version': DNS_API_VERSION };

/** Every public zone of the subscription (private ones are another type, or zoneType Private), the longest holding the domain. */
export async function findDnsZone(c: AzureContext, domain: string): Promise<DnsZone | undefined> {
  const zones: Json[] = [];
  let next: string | undefined = `/subscriptions/${c.subscriptionId}/providers/Microsoft.Network/dnszones`;
  while (next) {
    const page: { body: Json | undefined } = await c.arm.send('GET', next, 'Microsoft.Network dnsZones.list', undefined, next.startsWith('http') ? {} : { query: q });
    zones.push(...((page.body?.value as Json[] | undefined) ?? []));
    next = page.body?.nextLink as string | undefined;
  }
  const candidates = zones.filter((z) => z.properties?.zoneType !== 'Private' && typeof z.name === 'string' && typeof z.id === 'string').map((z) => ({ id: String(z.id), name: normalizeDnsName(String(z.name)) }));
  return longestZone(candidates, domain);
}

async function zoneName(c: AzureContext, zoneId: string): Promise<string> {
  const zone = await c.arm.get(zoneId, 'Microsoft.Network dnsZones.get', q);
  if (!zone) throw new CloudError('dns-zone-not-found', `No Azure DNS zone ${zoneId}`, { remediation: 'The zone was deleted or is in another subscription; run the command again to look it up anew.' });
  return normalizeDnsName(String(zone.name));
}

const recordPath = (zoneId: string, zone: string, name: string) => `${zoneId}/A/${encodeURIComponent(relativeName(zone, name))}`;

export async function getARecord(c: AzureContext, zoneId: string, name: string): Promise<DnsARecord | undefined> {
  const zone = await zoneName(c, zoneId);
  const set = await c.arm.get(recordPath(zoneId, zone, name), 'Microsoft.Network recordSets.get', q);
  if (!set) return undefined;
  // An alias record set (targetResource) points at an Azure resource, not at addresses.
  const target = set.properties?.targetResource?.id as string | undefined;
  const values = target ? [`alias:${target}`] : ((set.properties?.ARecords as { ipv4Address?: string }[] | undefined) ?? []).map((a) => a.ipv4Address ?? '');
  return { name: normalizeDnsName(name), values, ttl: Number(set.properties?.TTL ?? 0) };
}

export async function upsertARecord(c: AzureContext, zoneId: string, name: string, ip: string, ttl: number): Promise<void> {
  const zone = await zoneName(c, zoneId);
  await c.arm.send('PUT', recordPath(zoneId, zone, name), 'Microsoft.Network recordSets.createOrUpdate', { properties: { TTL: ttl, ARecords: [{ ipv4Address: ip }] } }, { query: q });
}

export async function deleteARecord(c: AzureContext, zoneId: string, name: string, ip: string): Promise<'deleted' | 'absent' | 'not-ours'> {
  const current = await getARecord(c, zoneId, name);
  if (!current) return 'absent';
  if (current.values.length !== 1 || current.values[0] !== ip) return 'not-ours';
  const zone = await zoneName(c, zoneId);
  const a = await c.arm.send('DELETE', recordPath(zoneId, zone, name), 'Microsoft.Network recordSets.delete', undefined, { query: q, allow: [404] });
  return a.status === 404 ? 'absent' : 'deleted';
}
