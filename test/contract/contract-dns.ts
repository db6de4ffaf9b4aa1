// The contract of the DNS verbs (tls --domain): the longest public zone of the account holds the
// domain (private zones and zones of other names never do), one A record is created, replaced and
// read back, and deleted only while it still points at the address the caller names. Other records
// of the zone and the zone itself are never touched.
import { expect, it } from 'vitest';
import type { CloudContractOptions, ContractEnvironment } from './contract-env.js';

export function dnsContract(_opts: CloudContractOptions, env: () => ContractEnvironment): void {
  it('dns: finds the longest public zone holding the domain; private and unrelated zones are ignored', async () => {
    const { cloud, bringDnsZone } = env();
    const parent = await bringDnsZone('example.com');
    const child = await bringDnsZone('sg.example.com');
    await bringDnsZone('corp.example.org', { private: true });
    await bringDnsZone('other.example.net');

    expect(await cloud.findDnsZone('code.sg.example.com')).toEqual({ id: child, name: 'sg.example.com' });
    expect(await cloud.findDnsZone('Sourcegraph.Example.com.')).toEqual({ id: parent, name: 'example.com' });
    expect(await cloud.findDnsZone('example.com')).toEqual({ id: parent, name: 'example.com' });
    expect(await cloud.findDnsZone('code.corp.example.org')).toBeUndefined();
    expect(await cloud.findDnsZone('notexample.com')).toBeUndefined();
  });

  it('dns: creates, replaces and reads one A record; deletes it only while it points at the given address', async () => {
    const { cloud, bringDnsZone } = env();
    const zone = await bringDnsZone('example.com');
    expect(await cloud.getARecord(zone, 'sourcegraph.example.com')).toBeUndefined();

    await cloud.upsertARecord(zone, 'sourcegraph.example.com', '10.200.131.10', 300);
    await cloud.upsertARecord(zone, 'other.example.com', '10.200.131.11', 60);
    expect(await cloud.getARecord(zone, 'sourcegraph.example.com')).toEqual({ name: 'sourcegraph.example.com', values: ['10.200.131.10'], ttl: 300 });

    await cloud.upsertARecord(zone, 'sourcegraph.example.com', '10.200.131.12', 120);
    expect(await cloud.getARecord(zone, 'sourcegraph.example.com')).toEqual({ name: 'sourcegraph.example.com', values: ['10.200.131.12'], ttl: 120 });

    // Pointing elsewhere now: left as it is.
    expect(await cloud.deleteARecord(zone, 'sourcegraph.example.com', '10.200.131.10')).toBe('not-ours');
    expect((await cloud.getARecord(zone, 'sourcegraph.example.com'))?.values).toEqual(['10.200.131.12']);

    expect(await cloud.deleteARecord(zone, 'sourcegraph.example.com', '10.200.131.12')).toBe('deleted');
    expect(await cloud.getARecord(zone, 'sourcegraph.example.com')).toBeUndefined();
    expect(await cloud.deleteARecord(zone, 'sourcegraph.example.com', '10.200.131.12')).toBe('absent');
    // The other record and the zone are still there.
    expect(await cloud.getARecord(zone, 'other.example.com')).toEqual({ name: 'other.example.com', values: ['10.200.131.11'], ttl: 60 });
    expect(await cloud.findDnsZone('sourcegraph.example.com')).toEqual({ id: zone, name: 'example.com' });
  });

  it('dns: a record at the zone apex works as any other', async () => {
    const { cloud, bringDnsZone } = env();
    const zone = await bringDnsZone('sourcegraph.example.com');
    await cloud.upsertARecord(zone, 'sourcegraph.example.com', '10.200.131.13', 300);
    expect(await cloud.getARecord(zone, 'sourcegraph.example.com')).toEqual({ name: 'sourcegraph.example.com', values: ['10.200.131.13'], ttl: 300 });
    expect(await cloud.deleteARecord(zone, 'sourcegraph.example.com', '10.200.131.13')).toBe('deleted');
  });
}
