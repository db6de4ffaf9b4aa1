// The custom role `doctor --print-policy --cloud azure` prints must allow every ARM operation the
// Azure adapter calls. The operations are read off the adapter's sources (each call names its
// operation, e.g. 'Microsoft.Compute virtualMachines.start', for its errors) and mapped to the role
// action ARM checks (get/list → read, createOrUpdate/update → write, delete → delete, anything else
// → <op>/action), so a call added without its action in presets/policies/azure-custom-role.json fails.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { azureProvider } from '../../../src/cloud/azure/provider.js';

const ADAPTER = join(import.meta.dirname, '../../../src/cloud/azure');

/** The resource type of each collection, under its provider. */
const TYPE: Record<string, string> = {
  'Microsoft.Compute disks': 'Microsoft.Compute/disks',
  'Microsoft.Compute snapshots': 'Microsoft.Compute/snapshots',
  'Microsoft.Compute galleries': 'Microsoft.Compute/galleries',
  'Microsoft.Compute galleryImages': 'Microsoft.Compute/galleries/images',
  'Microsoft.Compute galleryImageVersions': 'Microsoft.Compute/galleries/images/versions',
  'Microsoft.Compute virtualMachines': 'Microsoft.Compute/virtualMachines',
  'Microsoft.Compute virtualMachineImages': 'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions',
  'Microsoft.Compute usage': 'Microsoft.Compute/locations/usages',
  'Microsoft.Network networkInterfaces': 'Microsoft.Network/networkInterfaces',
  'Microsoft.Network networkSecurityGroups': 'Microsoft.Network/networkSecurityGroups',
  'Microsoft.Network securityRules': 'Microsoft.Network/networkSecurityGroups/securityRules',
  'Microsoft.Network applicationSecurityGroups': 'Microsoft.Network/applicationSecurityGroups',
  'Microsoft.Network publicIPAddresses': 'Microsoft.Network/publicIPAddresses',
  'Microsoft.Network applicationGateways': 'Microsoft.Network/applicationGateways',
  'Microsoft.Network subnets': 'Microsoft.Network/virtualNetworks/subnets',
  'Microsoft.Network virtualNetworks': 'Microsoft.Network/virtualNetworks',
  'Microsoft.Network usages': 'Microsoft.Network/locations/usages',
  'Microsoft.Resources resourceGroups': 'Microsoft.Resources/subscriptions/resourceGroups',
  'Microsoft.Resources resources': 'Microsoft.Resources/subscriptions/resources',
  'Microsoft.Network dnsZones': 'Microsoft.Network/dnsZones',
  'Microsoft.Network recordSets': 'Microsoft.Network/dnsZones/A',
  'Microsoft.Compute resourceSkus': 'Microsoft.Compute/skus',
};

function neededActions(): { actions: string[]; unmapped: string[] } {
  const actions = new Set<string>();
  const unmapped: string[] = [];
  for (const file of readdirSync(ADAPTER).filter((f) => f.endsWith('.ts'))) {
    for (const [, provider, collection, op] of readFileSync(join(ADAPTER, file), 'utf8').matchAll(/'(Microsoft\.[A-Za-z]+) ([a-zA-Z]+)\.([a-zA-Z]+)'/g)) {
      const type = TYPE[`${provider} ${collection}`];
      if (!type) {
        unmapped.push(`${provider} ${collection}.${op}`);
        continue;
      }
      const verb = op === 'get' || op === 'list' ? 'read' : op === 'createOrUpdate' || op === 'update' ? 'write' : op === 'delete' ? 'delete' : `${op}/action`;
      actions.add(`${type}/${verb}`);
    }
  }
  // A VM joins its NIC, the NIC its subnet, NSG and public IP: ARM checks each join.
  for (const join of ['networkInterfaces', 'networkSecurityGroups', 'publicIPAddresses', 'virtualNetworks/subnets']) actions.add(`Microsoft.Network/${join}/join/action`);
  // scale: a NIC ip configuration joins the application security group, and the cluster rules name it.
  for (const join of ['joinIpConfiguration', 'joinNetworkSecurityRule']) actions.add(`Microsoft.Network/applicationSecurityGroups/${join}/action`);
  return { actions: [...actions].sort(), unmapped };
}

describe('the minimal Azure custom role', () => {
  it('allows every ARM operation the adapter calls', async () => {
    const role = (await azureProvider.minimalPolicy!()).document as { Actions: string[] };
    const allowed = new Set(role.Actions.map((a) => a.toLowerCase()));
    const { actions, unmapped } = neededActions();
    expect(unmapped, 'a collection this test does not know yet: add its resource type to TYPE').toEqual([]);
    expect(actions.length).toBeGreaterThan(25);
    expect(actions.filter((a) => !allowed.has(a.toLowerCase()))).toEqual([]);
  });
});
