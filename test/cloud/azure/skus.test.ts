// Which zones offer a VM size or a disk type on Azure: the parsing of Compute's Resource SKUs list
// (restrictions by location and by zone, several entries of one disk type, other locations), and the
// Azure adapter asking the ARM emulator for it (nextLink pages, one list per adapter). The emulator's
// answers and the upstream example are checked against the copied skus.json swagger.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { offeredZones } from '../../../src/cloud/azure/skus.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';
import { SPEC_FILES, SPEC_ROOT, specSet } from '../../support/arm-emulator/swagger.js';
import { Validator } from '../../support/arm-emulator/validator.js';

const vm = (name: string, location: string, zones: string[], restrictions: unknown[] = []) => ({ resourceType: 'virtualMachines', name, locations: [location], locationInfo: [{ location, zones }], restrictions });

describe('offeredZones (the Resource SKUs list of a location)', () => {
  it('answers the location\'s zones of the size, sorted; [] for a size the list does not name', () => {
    const skus = [vm('Standard_D8as_v5', 'eastus', ['3', '1', '2']), vm('Standard_D16as_v5', 'eastus', ['1'])];
    expect(offeredZones(skus, 'virtualMachines', 'Standard_D8as_v5', 'eastus')).toEqual(['1', '2', '3']);
    expect(offeredZones(skus, 'virtualMachines', 'standard_d8as_v5', 'EastUS')).toEqual(['1', '2', '3']);
    expect(offeredZones(skus, 'virtualMachines', 'Standard_D16as_v5', 'eastus')).toEqual(['1']);
    expect(offeredZones(skus, 'virtualMachines', 'Standard_D32as_v5', 'eastus')).toEqual([]);
    expect(offeredZones(skus, 'disks', 'Standard_D8as_v5', 'eastus')).toEqual([]);
    expect(offeredZones(skus, 'virtualMachines', 'Standard_D8as_v5', 'westus')).toEqual([]);
  });

  it('a Location restriction (NotAvailableForSubscription) leaves no zone; a Zone restriction removes its zones', () => {
    const location = { type: 'Location', values: ['eastus'], restrictionInfo: { locations: ['eastus'] }, reasonCode: 'NotAvailableForSubscription' };
    const zone = { type: 'Zone', values: ['eastus'], restrictionInfo: { locations: ['eastus'], zones: ['1', '3'] }, reasonCode: 'NotAvailableForSubscription' };
    const elsewhere = { type: 'Location', values: ['westus'], restrictionInfo: { locations: ['westus'] }, reasonCode: 'NotAvailableForSubscription' };
    expect(offeredZones([vm('A', 'eastus', ['1', '2', '3'], [location])], 'virtualMachines', 'A', 'eastus')).toEqual([]);
    expect(offeredZones([vm('A', 'eastus', ['1', '2', '3'], [zone])], 'virtualMachines', 'A', 'eastus')).toEqual(['2']);
    expect(offeredZones([vm('A', 'eastus', ['1', '2', '3'], [elsewhere])], 'virtualMachines', 'A', 'eastus')).toEqual(['1', '2', '3']);
  });

  it('joins the zones of every entry of a disk type (one per tier size)', () => {
    const disk = (size: string, zones: string[]) => ({ resourceType: 'disks', name: 'Premium_LRS', size, locations: ['eastus'], locationInfo: [{ location: 'eastus', zones }] });
    expect(offeredZones([disk('P1', ['1']), disk('P2', ['2', '1'])], 'disks', 'Premium_LRS', 'eastus')).toEqual(['1', '2']);
  });

  it('reads the upstream example (ListAvailableResourceSkusForARegion), which matches the swagger', () => {
    const example = JSON.parse(readFileSync(join(SPEC_ROOT, 'examples/compute/ListAvailableResourceSkusForARegion.json'), 'utf8'));
    const body = example.responses['200'].body;
    const specs = specSet();
    // The example's last page says `"nextLink": null`, which the schema (a string, not x-nullable)
    // does not allow in a strict reading: that is the only difference, and the adapter stops at null.
    const { issues } = new Validator(specs).validate(specs.definition(SPEC_FILES.skus, 'ResourceSkusResult'), body, 'response');
    expect(issues.map((i) => i.path)).toEqual(['nextLink']);
    const { nextLink: _null, ...rest } = body;
    expect(new Validator(specs).validate(specs.definition(SPEC_FILES.skus, 'ResourceSkusResult'), rest, 'response').issues).toEqual([]);
    expect(offeredZones(body.value, 'virtualMachines', 'Standard_A0', 'westus')).toEqual(['1', '2']);
    expect(offeredZones(body.value, 'virtualMachines', 'Standard_A1', 'westus')).toEqual(['1', '2', '3']);
  });
});

describe('the Azure adapter on the ARM emulator\'s Resource SKUs', () => {
  let arm: ArmEmulator;
  const credential = { getToken: async () => ({ token: 'skus-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const skuCalls: URL[] = [];
  const counting: typeof fetch = (input, init) => {
    const url = new URL(String(input));
    if (url.pathname.toLowerCase().endsWith('/providers/microsoft.compute/skus')) skuCalls.push(url);
    return fetch(input, init);
  };
  const adapter = (location = 'eastus') =>
    new AzureAdapter({ provider: 'azure', region: location, params: { subscription: arm.subscriptionId, resourceGroup: 'rg-skus' } }, { credential, endpoint: arm.endpoint, pollIntervalMs: 1, maxAttempts: 1, fetch: counting });

  beforeAll(async () => {
    arm = await startArmEmulator();
  });
  afterAll(async () => {
    await arm?.stop();
  });
  beforeEach(async () => {
    await arm.reset();
    skuCalls.length = 0;
  });

  it('follows nextLink through every page, once per adapter, and answers sizes and disk types from the one list', async () => {
    arm.control.configure({ pageSize: 7 });
    const cloud = adapter();
    expect(await cloud.machineTypeZones('Standard_D8as_v5')).toEqual(['1', '2', '3']);
    // The preset disk types are listed after every size: found only by reading the last pages.
    expect(await cloud.diskTypeZones('PremiumV2_LRS')).toEqual(['1', '2', '3']);
    expect(await cloud.machineTypeZones('Standard_Nope_v9')).toEqual([]);
    expect(await cloud.diskTypeZones('NoSuch_LRS')).toEqual([]);
    const sizes = arm.control.state().config.vmSizes.length;
    expect(skuCalls.length).toBe(Math.ceil((sizes + 2) / 7));
    expect(skuCalls[0]!.searchParams.get('api-version')).toBe('2021-07-01');
    expect(skuCalls[0]!.searchParams.get('$filter')).toBe("location eq 'eastus'");
  });

  it('leaves out what the emulator restricts: a size in the whole location, a disk type in some zones', async () => {
    arm.control.configure({
      skuRestrictions: [
        { resourceType: 'virtualMachines', name: 'Standard_D48as_v5', location: 'eastus' },
        { resourceType: 'disks', name: 'PremiumV2_LRS', location: 'eastus', zones: ['1', '2'] },
      ],
    });
    const cloud = adapter();
    expect(await cloud.machineTypeZones('Standard_D48as_v5')).toEqual([]);
    expect(await cloud.diskTypeZones('PremiumV2_LRS')).toEqual(['3']);
    expect(await cloud.diskTypeZones('Premium_LRS')).toEqual(['1', '2', '3']);
    // Another location is not restricted.
    expect(await adapter('westus2').machineTypeZones('Standard_D48as_v5')).toEqual(['1', '2', '3']);
  });

  it('answers in the shape of the swagger (checked by the emulator) and the example: restrictions as ARM writes them', async () => {
    arm.control.configure({ skuRestrictions: [{ resourceType: 'virtualMachines', name: 'Standard_D8as_v5', location: 'eastus', zones: ['2'] }] });
    const client = new ArmClient(arm);
    const res = await client.call('GET', `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Compute/skus`, undefined, { query: { 'api-version': '2021-07-01', $filter: "location eq 'eastus'" } });
    expect(res.status).toBe(200);
    const specs = specSet();
    expect(new Validator(specs).validate(specs.definition(SPEC_FILES.skus, 'ResourceSkusResult'), res.body, 'response').issues).toEqual([]);
    const d8 = res.body.value.find((s: { name: string }) => s.name === 'Standard_D8as_v5');
    expect(d8).toMatchObject({
      resourceType: 'virtualMachines',
      locations: ['eastus'],
      locationInfo: [{ location: 'eastus', zones: ['1', '2', '3'] }],
      restrictions: [{ type: 'Zone', values: ['eastus'], restrictionInfo: { locations: ['eastus'], zones: ['2'] }, reasonCode: 'NotAvailableForSubscription' }],
    });
    expect(new Set(res.body.value.map((s: { locations: string[] }) => s.locations[0]))).toEqual(new Set(['eastus']));
    const bad = await client.call('GET', `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Compute/skus`, undefined, { query: { 'api-version': '2021-07-01', $filter: "name eq 'x'" } });
    expect(bad.status).toBe(400);
    const wrongVersion = await client.call('GET', `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Compute/skus`, undefined, { query: { 'api-version': '2024-07-01' } });
    expect(wrongVersion.body.error.code).toBe('InvalidApiVersionParameter');
  });
});
