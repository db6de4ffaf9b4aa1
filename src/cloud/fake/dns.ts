// The fake cloud's DNS service: public and private zones the test brings (as a user would, outside
// the tool), each holding A record sets. The fake never creates or deletes a zone itself.
import { longestZone, normalizeDnsName } from '../dns-names.js';
import type { DnsARecord, DnsZone } from '../port.js';
import { CloudError } from '../../core/errors.js';

export interface FakeZone {
  id: string;
  name: string;
  private: boolean;
  /** A records by fully qualified name. */
  records: Map<string, { values: string[]; ttl: number }>;
}

export class FakeDns {
  readonly zones = new Map<string, FakeZone>();
  private seq = 0;

  /** A zone the user made (for tests); answers its id. */
  addZone(name: string, opts: { private?: boolean } = {}): string {
    this.seq += 1;
    const id = `zone-${String(this.seq).padStart(4, '0')}`;
    this.zones.set(id, { id, name: normalizeDnsName(name), private: opts.private ?? false, records: new Map() });
    return id;
  }

  findZone(domain: string): DnsZone | undefined {
    const zone = longestZone([...this.zones.values()].filter((z) => !z.private), domain);
    return zone && { id: zone.id, name: zone.name };
  }

  private zone(zoneId: string): FakeZone {
    const zone = this.zones.get(zoneId);
    if (!zone) throw new CloudError('dns-zone-not-found', `No DNS zone ${zoneId}`, { remediation: 'The zone was deleted; run the command again to look it up anew.' });
    return zone;
  }

  get(zoneId: string, name: string): DnsARecord | undefined {
    const n = normalizeDnsName(name);
    const r = this.zone(zoneId).records.get(n);
    return r && { name: n, values: [...r.values], ttl: r.ttl };
  }

  upsert(zoneId: string, name: string, ip: string, ttl: number): void {
    this.zone(zoneId).records.set(normalizeDnsName(name), { values: [ip], ttl });
  }

  delete(zoneId: string, name: string, ip: string): 'deleted' | 'absent' | 'not-ours' {
    const zone = this.zone(zoneId);
    const n = normalizeDnsName(name);
    const r = zone.records.get(n);
    if (!r) return 'absent';
    if (r.values.length !== 1 || r.values[0] !== ip) return 'not-ours';
    zone.records.delete(n);
    return 'deleted';
  }
}
