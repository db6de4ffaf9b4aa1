// DNS records in Cloud DNS (tls --domain): the project's public managed zone for a domain, and one A
// record set in it, read, created or patched, and deleted. Only record sets change; managed zones
// are the user's. Cloud DNS has its own API root (dns.googleapis.com/dns/v1/), next to Compute's.
import { CloudError } from '../../core/errors.js';
import { normalizeDnsName, zoneCandidates } from '../dns-names.js';
import type { DnsARecord, DnsZone } from '../port.js';
import { call, request, type GceContext } from './context.js';
import { isNotFound } from './errors.js';

export const DEFAULT_DNS_ENDPOINT = 'https://dns.googleapis.com/dns/v1/';

interface ManagedZone {
  name?: string;
  dnsName?: string;
  visibility?: string;
}
interface RRSet {
  name?: string;
  type?: string;
  ttl?: number;
  rrdatas?: string[];
}

const rrsetPath = (zoneId: string, name: string) => `managedZones/${encodeURIComponent(zoneId)}/rrsets/${encodeURIComponent(`${normalizeDnsName(name)}.`)}/A`;

/** Each candidate name in turn (the domain, then each parent): the first public zone of that name. */
export async function findDnsZone(c: GceContext, domain: string): Promise<DnsZone | undefined> {
  for (const candidate of zoneCandidates(domain)) {
    const zones = await call(c, 'dns.managedZones.list', async () => {
      const all: ManagedZone[] = [];
      let pageToken: string | undefined;
      do {
        const page = await request<{ managedZones?: ManagedZone[]; nextPageToken?: string }>(c, 'GET', 'managedZones', { query: { dnsName: `${candidate}.`, pageToken } });
        all.push(...(page.managedZones ?? []));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      return all;
    });
    const zone = zones.find((z) => normalizeDnsName(z.dnsName ?? '') === candidate && (z.visibility ?? 'public') === 'public');
    if (zone?.name) return { id: zone.name, name: candidate };
  }
  return undefined;
}

async function readRRSet(c: GceContext, zoneId: string, name: string): Promise<RRSet | undefined> {
  try {
    return await request<RRSet>(c, 'GET', rrsetPath(zoneId, name));
  } catch (err) {
    if (!isNotFound(err)) throw await call(c, 'dns.resourceRecordSets.get', () => Promise.reject(err)).catch((e: unknown) => e);
    // A zone that is gone is also "not found": tell the two apart, a missing zone is an error.
    const zone = await request(c, 'GET', `managedZones/${encodeURIComponent(zoneId)}`).catch((e: unknown) => e);
    if (isNotFound(zone)) throw new CloudError('dns-zone-not-found', `No Cloud DNS managed zone ${zoneId}`, { remediation: 'The zone was deleted or is in another project; run the command again to look it up anew.' });
    return undefined;
  }
}

export async function getARecord(c: GceContext, zoneId: string, name: string): Promise<DnsARecord | undefined> {
  const set = await readRRSet(c, zoneId, name);
  return set && { name: normalizeDnsName(name), values: [...(set.rrdatas ?? [])], ttl: set.ttl ?? 0 };
}

export async function upsertARecord(c: GceContext, zoneId: string, name: string, ip: string, ttl: number): Promise<void> {
  const body = { name: `${normalizeDnsName(name)}.`, type: 'A', ttl, rrdatas: [ip] };
  if (await readRRSet(c, zoneId, name)) await call(c, 'dns.resourceRecordSets.patch', () => request(c, 'PATCH', rrsetPath(zoneId, name), { body }));
  else await call(c, 'dns.resourceRecordSets.create', () => request(c, 'POST', `managedZones/${encodeURIComponent(zoneId)}/rrsets`, { body }));
}

export async function deleteARecord(c: GceContext, zoneId: string, name: string, ip: string): Promise<'deleted' | 'absent' | 'not-ours'> {
  const set = await readRRSet(c, zoneId, name);
  if (!set) return 'absent';
  if ((set.rrdatas ?? []).length !== 1 || set.rrdatas![0] !== ip) return 'not-ours';
  try {
    await request(c, 'DELETE', rrsetPath(zoneId, name));
  } catch (err) {
    if (isNotFound(err)) return 'absent';
    throw await call(c, 'dns.resourceRecordSets.delete', () => Promise.reject(err)).catch((e: unknown) => e);
  }
  return 'deleted';
}
