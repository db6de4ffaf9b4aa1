// The DNS part of `tls` (tls-dns.ts) on the fake cloud: what it asks and when, what it records of
// the change, and that removal deletes only a record still pointing at the deployment. The real CLI
// against Route 53 on moto is test/e2e/tls-dns.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { createFakeCloud } from '../../src/cloud/fake/index.js';
import { isLaunchError } from '../../src/core/errors.js';
import { applyDns, planDns, removeDns } from '../../src/commands/tls-dns.js';
import { ScriptedIo } from '../support/deps.js';

const DOMAIN = 'sourcegraph.example.com';
const ADDRESS = '10.200.131.20';
const clock = { now: () => Date.parse('2026-11-28T00:00:00Z'), sleep: async () => undefined };

function scene() {
  const cloud = createFakeCloud({ profile: 'gcp' });
  const zone = cloud.dns.addZone('example.com');
  cloud.dns.addZone('example.com', { private: true });
  return { cloud, zone };
}

describe('tls: the record in a zone of the same account', () => {
  it('no public zone holds the domain: no plan, nothing asked (the record is printed instead)', async () => {
    const cloud = createFakeCloud();
    cloud.dns.addZone('example.com', { private: true });
    const io = new ScriptedIo([]);
    expect(await planDns({ io }, cloud, DOMAIN, ADDRESS, {})).toBeUndefined();
    expect(io.questions).toEqual([]);
  });

  it('a record pointing elsewhere: names the old value, asks; "no" changes nothing (exit 1), not interactive without --yes exits 2', async () => {
    const { cloud, zone } = scene();
    cloud.dns.upsert(zone, DOMAIN, '192.0.2.50', 60);
    const io = new ScriptedIo([false]);
    const declined = await planDns({ io }, cloud, DOMAIN, ADDRESS, {}).catch((e: unknown) => e);
    expect(isLaunchError(declined) && declined.exitCode).toBe(1);
    expect(io.questions[0]?.message).toBe(`Point ${DOMAIN} at ${ADDRESS} instead of 192.0.2.50?`);
    expect(io.text()).toContain(`UPSERT  ${DOMAIN}.  A  ${ADDRESS}  (TTL 300)`);

    const ci = await planDns({ io: new ScriptedIo([], false) }, cloud, DOMAIN, ADDRESS, {}).catch((e: unknown) => e);
    expect(isLaunchError(ci) && [ci.exitCode, ci.message]).toEqual([2, `--yes is required to replace the DNS record ${DOMAIN} (it points at 192.0.2.50) when not running interactively`]);
    expect(cloud.dns.get(zone, DOMAIN)?.values).toEqual(['192.0.2.50']);
    expect(cloud.mutatingCalls()).toEqual([]);
  });

  it('replaces it after "yes", recording the zone and the value replaced; a re-run keeps it ours without asking', async () => {
    const { cloud, zone } = scene();
    cloud.dns.upsert(zone, DOMAIN, '192.0.2.50', 60);
    const io = new ScriptedIo([true]);
    const plan = (await planDns({ io }, cloud, DOMAIN, ADDRESS, {}))!;
    expect(plan).toMatchObject({ zone: { id: zone, name: 'example.com' }, change: 'replace' });
    const rec = await applyDns({ io, clock }, cloud, plan, DOMAIN, ADDRESS, undefined);
    expect(rec).toEqual({ zoneId: zone, zoneName: 'example.com', name: DOMAIN, value: ADDRESS, ttl: 300, previous: ['192.0.2.50'], changedAt: '2026-11-28T00:00:00.000Z' });
    expect(cloud.dns.get(zone, DOMAIN)).toEqual({ name: DOMAIN, values: [ADDRESS], ttl: 300 });

    const again = new ScriptedIo([]);
    const same = (await planDns({ io: again }, cloud, DOMAIN, ADDRESS, {}))!;
    expect(same.change).toBe('none');
    expect(again.questions).toEqual([]);
    expect(await applyDns({ io: again, clock }, cloud, same, DOMAIN, ADDRESS, rec)).toEqual(rec);
    // Already pointing here before any tls: not ours, so nothing to delete later.
    expect(await applyDns({ io: again, clock }, cloud, same, DOMAIN, ADDRESS, undefined)).toBeUndefined();
  });

  it('removal deletes the record only while it points at the deployment; the zone and other records stay', async () => {
    const { cloud, zone } = scene();
    cloud.dns.upsert(zone, 'www.example.com', '192.0.2.80', 60);
    const io = new ScriptedIo([]);
    const rec = (await applyDns({ io, clock }, cloud, (await planDns({ io }, cloud, DOMAIN, ADDRESS, { yes: true }))!, DOMAIN, ADDRESS, undefined))!;
    cloud.dns.upsert(zone, DOMAIN, '192.0.2.60', 60);
    expect(await removeDns({ io }, cloud, rec)).toEqual({ name: DOMAIN, zone: 'example.com', outcome: 'not-ours' });
    expect(cloud.dns.get(zone, DOMAIN)?.values).toEqual(['192.0.2.60']);
    cloud.dns.upsert(zone, DOMAIN, ADDRESS, 300);
    expect(await removeDns({ io }, cloud, rec)).toMatchObject({ outcome: 'deleted' });
    expect(await removeDns({ io }, cloud, rec)).toMatchObject({ outcome: 'absent' });
    expect(cloud.dns.get(zone, 'www.example.com')?.values).toEqual(['192.0.2.80']);
    expect(cloud.dns.zones.size).toBe(2);
  });

  it('credentials that may not list DNS zones: says so and falls back to printing the record; a zone deleted since counts as the record gone', async () => {
    const { cloud, zone } = scene();
    cloud.inject({ method: 'findDnsZone', kind: 'permission-denied', times: 1 });
    const io = new ScriptedIo([]);
    expect(await planDns({ io }, cloud, DOMAIN, ADDRESS, {})).toBeUndefined();
    expect(io.text()).toContain(`Could not look for a DNS zone of ${DOMAIN} in this account`);
    // Any other failure is not hidden.
    cloud.inject({ method: 'findDnsZone', kind: 'throttled', times: 1 });
    await expect(planDns({ io }, cloud, DOMAIN, ADDRESS, {})).rejects.toMatchObject({ exitCode: 1 });

    const rec = (await applyDns({ io, clock }, cloud, (await planDns({ io }, cloud, DOMAIN, ADDRESS, { yes: true }))!, DOMAIN, ADDRESS, undefined))!;
    cloud.dns.zones.delete(zone);
    expect(await removeDns({ io }, cloud, rec)).toMatchObject({ outcome: 'absent' });
  });
});
