// The GCE managed HTTPS adapter's pure parts: the names of the load balancer's parts (RFC 1035, at
// most 63 characters, one certificate per install) and the monthly cost from presets/gcp-prices.json.
// Its calls run against the GCE emulator in test/contract (gcp-emulator) and test/e2e/gcp-tls-managed.
import { describe, expect, it } from 'vitest';
import { GOOGLE_LB_RANGES, lbNames, managedHttpsCost } from '../../../src/cloud/gcp/managed-https.js';

const RFC1035 = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

describe('lbNames', () => {
  it('derives every part\'s name from the deployment, valid and short enough however long or odd the name', () => {
    for (const deployment of ['web', 'Prod_EU.1', 'a'.repeat(80), '--x--', 'sourcegraph-production-europe-west-primary-instance']) {
      const n = lbNames(deployment);
      const all = [n.group, n.healthCheck, n.backend, n.urlMap, n.redirectMap, n.httpsProxy, n.httpProxy, n.address, n.httpsRule, n.httpRule, n.firewall, n.certificate('k1')];
      for (const name of all) expect(name, `${deployment}: ${name}`).toMatch(RFC1035);
      // Unique within a kind (a URL map and a forwarding rule may share a name: they are apart in Compute).
      const oneKindEach = all.filter((_, i) => i !== all.indexOf(n.httpsRule, 1 + all.indexOf(n.urlMap)));
      expect(new Set(oneKindEach).size).toBe(all.length - 1);
    }
    expect(lbNames('web')).toMatchObject({ prefix: 'sgl-web', group: 'sgl-web-ig', urlMap: 'sgl-web-https', httpsRule: 'sgl-web-https', address: 'sgl-web-ip' });
    // One certificate per install: a new install key, a new name; the same key, the same name.
    expect(lbNames('web').certificate('a')).toBe(lbNames('web').certificate('a'));
    expect(lbNames('web').certificate('a')).not.toBe(lbNames('web').certificate('b'));
  });

  it('lets in exactly Google\'s load balancer and health-check ranges', () => {
    expect(GOOGLE_LB_RANGES).toEqual(['35.191.0.0/16', '130.211.0.0/22']);
  });
});

describe('managedHttpsCost', () => {
  it('two forwarding rules, the data processed and the address, at the region\'s prices; unknown where the file has none', () => {
    const cost = managedHttpsCost('us-central1');
    expect(cost.parts.map((p) => [p.item, p.monthlyUsd])).toEqual([['forwarding rules', 18.25], ['data processed', 0.8], ['global IPv4 address', 3.65]]);
    expect(cost.totalUsd).toBe(22.7);
    expect(cost.source.join(' ')).toContain('cloud.google.com/load-balancing/pricing');
    expect(cost.assumptions.join(' ')).toContain('the first five cost $0.025/h together');
    expect(managedHttpsCost('us-east1').totalUsd).toBe(22.7);
    const elsewhere = managedHttpsCost('asia-south1');
    expect(elsewhere.totalUsd).toBeUndefined();
    expect(elsewhere.parts.find((p) => p.item === 'data processed')?.monthlyUsd).toBeUndefined();
  });
});
