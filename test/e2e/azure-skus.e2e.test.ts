// Which zones offer a VM size and a data disk type on Azure, end to end: the real CLI process → the
// ARM emulator over HTTPS (test/support/azure-e2e.ts), whose Resource SKUs list offers every preset
// size and Premium_LRS/PremiumV2_LRS in zones 1–3 unless a test restricts one. A size or disk type
// the location does not offer stops launch with exit 2 before anything exists; a restricted zone is
// skipped. Runs use --no-wait and --ssh-cidr none: no test host is needed (nothing is dialled).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { runCli } from '../support/cli.js';

const VERSION = '6.12.5040';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-skus-'));
  azure = await startAzureE2e(dir);
});
afterAll(async () => {
  await azure?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await azure.arm.reset();
});

const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', 'sl-skus'];
const launchArgs = (name: string, size: string) => ['launch', name, ...where, '--size', size, '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--no-wait', '--yes', '--json'];

async function cli(args: string[]) {
  const home = mkdtempSync(join(tmpdir(), 'sgl-azure-skus-home-'));
  try {
    return await runCli(args, { home, timeoutMs: 120_000, env: azure.env });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Nothing was created: no resource group and no resource at all. */
function expectNothingCreated(): void {
  const state = azure.arm.control.state();
  expect(state.resourceGroups).toEqual([]);
  expect(state.resources).toEqual([]);
}

const ofType = (type: string) => azure.arm.control.state().resources.filter((r) => r.type === type);

describe('zones from the Resource SKUs list, with the real CLI on the ARM emulator', () => {
  it('XS: a dry run and a launch work, in a zone the size is offered in (zone 1 restricted → zone 2)', async () => {
    const dry = await cli(['launch', 'skus-dry', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<{ requests: unknown[] }>().requests.length).toBeGreaterThan(0);
    expectNothingCreated();

    azure.arm.control.configure({ skuRestrictions: [{ resourceType: 'virtualMachines', name: 'Standard_D8as_v5', location: 'eastus', zones: ['1'] }] });
    const launched = await cli(launchArgs('skus-xs', 'XS'));
    expect(launched.code, launched.stderr).toBe(0);
    const [vm] = ofType('Microsoft.Compute/virtualMachines');
    expect(vm?.zones).toEqual(['2']);
    expect(ofType('Microsoft.Compute/disks').map((d) => d.zones)).toContainEqual(['2']);
  });

  it('a size the location does not offer to the subscription: exit 2 "not offered", nothing created', async () => {
    azure.arm.control.configure({ skuRestrictions: [{ resourceType: 'virtualMachines', name: 'Standard_D8as_v5', location: 'eastus' }] });
    const run = await cli(launchArgs('skus-gone', 'XS'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'instance-type-not-offered', message: "the XS preset's VM size Standard_D8as_v5 is not offered in eastus" } });
    expectNothingCreated();
  });

  it('L when the location offers no Premium SSD v2: exit 2 naming the location, another --region and the XS–M sizes; nothing created', async () => {
    azure.arm.control.configure({ skuRestrictions: [{ resourceType: 'disks', name: 'PremiumV2_LRS', location: 'eastus' }] });
    const run = await cli(launchArgs('skus-l', 'L'));
    expect(run.code, run.stderr).toBe(2);
    const { error } = run.json<{ error: { code: string; message: string; remediation: string } }>();
    expect(error.code).toBe('disk-type-not-offered');
    expect(error.message).toBe("The L preset's data disk type PremiumV2_LRS is not offered in eastus");
    expect(error.remediation).toContain('another --region that offers PremiumV2_LRS');
    expect(error.remediation).toContain('XS (Premium_LRS), S (Premium_LRS), M (Premium_LRS)');
    expectNothingCreated();

    // doctor asks the same, and says so as a failed check (exit 1), creating nothing either.
    const doctor = await cli(['doctor', ...where, '--size', 'L', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--json']);
    expect(doctor.code, doctor.stderr).toBe(1);
    expect(doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks.find((c) => c.id === 'instance-type')).toMatchObject({ status: 'fail', detail: error.message });
    expectNothingCreated();
  });

  it('L where Premium SSD v2 and the size share no zone: exit 2, nothing created; where they share one, the launch goes there', async () => {
    azure.arm.control.configure({
      skuRestrictions: [
        { resourceType: 'disks', name: 'PremiumV2_LRS', location: 'eastus', zones: ['1', '2'] },
        { resourceType: 'virtualMachines', name: 'Standard_D48as_v5', location: 'eastus', zones: ['3'] },
      ],
    });
    const disjoint = await cli(launchArgs('skus-l', 'L'));
    expect(disjoint.code, disjoint.stderr).toBe(2);
    expect(disjoint.json()).toMatchObject({ error: { code: 'disk-type-not-offered', message: "The L preset's data disk type PremiumV2_LRS is offered in zone 3 of eastus, and Standard_D48as_v5 only in 1, 2: no zone offers both" } });
    expectNothingCreated();

    azure.arm.control.configure({ skuRestrictions: [{ resourceType: 'disks', name: 'PremiumV2_LRS', location: 'eastus', zones: ['1', '2'] }] });
    const launched = await cli(launchArgs('skus-l', 'L'));
    expect(launched.code, launched.stderr).toBe(0);
    expect(ofType('Microsoft.Compute/virtualMachines').map((v) => v.zones)).toEqual([['3']]);
    const data = ofType('Microsoft.Compute/disks').filter((d) => (d as { sku?: { name?: string } }).sku?.name === 'PremiumV2_LRS');
    expect(data.map((d) => d.zones)).toEqual([['3']]);
  });
});
