// The custom role `doctor --print-policy --cloud gcp` prints must hold the permission of every
// Compute method the GCE adapter calls. The methods are read off the adapter's sources (each call
// names its method, e.g. 'instances.insert', for its errors), mapped to IAM permissions the way
// Compute names them (insert → create, patch → update), so a call added to the adapter without its
// permission in presets/policies/gcp-custom-role.json fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gcpProvider } from '../../../src/cloud/gcp/provider.js';

const ADAPTER = join(import.meta.dirname, '../../../src/cloud/gcp');
const VERB: Record<string, string> = { insert: 'create', patch: 'update', aggregatedList: 'list' };
/** Methods whose permission is not named after them (Compute's IAM reference): an instance group's membership and ports are its update. */
const PERMISSION_OF: Record<string, string> = {
  'instanceGroups.addInstances': 'compute.instanceGroups.update',
  'instanceGroups.removeInstances': 'compute.instanceGroups.update',
  'instanceGroups.setNamedPorts': 'compute.instanceGroups.update',
  'instanceGroups.listInstances': 'compute.instanceGroups.list',
};

function calledMethods(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(ADAPTER).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(ADAPTER, file), 'utf8');
    for (const [, collection, method] of text.matchAll(/'([a-z][A-Za-z]+)\.([a-z][A-Za-z]+)'/g)) {
      if (collection === 'resource') continue;
      found.add(`${collection}.${method}`);
    }
  }
  // Built from a variable: instances.${verb} (start, stop) and <kind>.setLabels.
  for (const m of ['instances.start', 'instances.stop', 'instances.setLabels', 'disks.setLabels', 'snapshots.setLabels', 'images.setLabels', 'addresses.setLabels']) found.add(m);
  return [...found].sort();
}

function dnsMethods(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(ADAPTER).filter((f) => f.endsWith('.ts'))) {
    for (const [, collection, method] of readFileSync(join(ADAPTER, file), 'utf8').matchAll(/'dns\.([a-z][A-Za-z]+)\.([a-z][A-Za-z]+)'/g)) found.add(`dns.${collection}.${VERB[method!] ?? method}`);
  }
  return [...found].sort();
}

describe('the minimal GCE custom role', () => {
  it('holds the permission of every Compute method the adapter calls', async () => {
    const role = (await gcpProvider.minimalPolicy!()).document as { includedPermissions: string[] };
    const held = new Set(role.includedPermissions);
    const methods = calledMethods();
    expect(methods.length).toBeGreaterThan(30);
    const missing = methods.map((m) => {
      const [collection, method] = m.split('.') as [string, string];
      return PERMISSION_OF[m] ?? `compute.${collection}.${VERB[method] ?? method}`;
    }).filter((p) => !held.has(p));
    expect(missing).toEqual([]);
    // Cloud DNS (tls --domain): its methods are named 'dns.<collection>.<method>'; the record-set
    // writes go through a change of the zone, so they need dns.changes.create as well.
    const dns = dnsMethods();
    expect(dns.length).toBeGreaterThanOrEqual(5);
    expect(dns.filter((p) => !held.has(p))).toEqual([]);
    expect(held.has('dns.changes.create')).toBe(true);
    // Every Operation the adapter waits on is read, wherever it lives.
    for (const p of ['compute.globalOperations.get', 'compute.regionOperations.get', 'compute.zoneOperations.get']) expect(held.has(p), p).toBe(true);
    // tls --tls managed: a part another one names is used by it (the proxy uses the URL map, …), which is a permission of its own.
    for (const p of ['compute.backendServices.use', 'compute.globalAddresses.use', 'compute.healthChecks.useReadOnly', 'compute.instanceGroups.use', 'compute.targetHttpProxies.use', 'compute.targetHttpsProxies.use', 'compute.urlMaps.use']) expect(held.has(p), p).toBe(true);
  });
});
