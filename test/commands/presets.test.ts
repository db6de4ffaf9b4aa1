// presets in-process: the size table priced from the chosen cloud's descriptor, the JSON entries
// per cloud that scripts read (aws from its descriptor; gcp and azure, not available yet, from
// presets/gcp.json and presets/azure.json), --cloud, --region and --versions. Offline.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PresetsFlags } from '../../src/cli/commands/presets.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import { runPresets } from '../../src/commands/presets.js';
import { catalogVersions } from '../../src/core/catalog.js';
import { UsageError } from '../../src/core/errors.js';
import { RecordingIo } from '../fakes/recording-io.js';
import { makeDeps } from '../support/deps.js';
import { ROOT } from '../support/cli.js';

/** A RecordingIo in --json mode (the command then hands its result to io.result). */
function jsonIo(): RecordingIo {
  return Object.defineProperty(new RecordingIo(), 'json', { value: true });
}

// presets never talks to a cloud: the endpoint is never used.
const run = async (flags: Partial<PresetsFlags>, io = new RecordingIo()) => ({ out: await runPresets(makeDeps({ endpoint: 'http://127.0.0.1:9', io }), { providerFlags: {}, ...flags }), io });
const text = (io: RecordingIo) => io.events.map((e) => ('message' in e ? e.message : '')).join('\n');
const machineTypes = (cloud: string) => (JSON.parse(readFileSync(`${ROOT}/presets/${cloud}.json`, 'utf8')) as { sizes: Record<string, { machineType: string }> }).sizes;

describe('presets', () => {
  it('keeps the JSON entries per cloud: aws and azure with their instance type, data volume and monthly cost; gcp with (at least) its machine types', async () => {
    const io = jsonIo();
    const { out } = await run({}, io);
    expect(io.events.filter((e) => e.kind === 'result')).toEqual([{ kind: 'result', value: out }]);
    expect(out).toMatchObject({ cloud: 'aws', region: 'us-east-1' });
    expect(out.sizes.map((s) => s.size)).toEqual(['XS', 'S', 'M', 'L', 'XL']);
    const xs = out.sizes[0]!;
    expect(xs).toMatchObject({ users: 500, repos: 1000, largestRepoGB: 5, vcpu: 8, memoryGiB: 32 });
    expect(xs.aws).toMatchObject({ instanceType: 'm6a.2xlarge', dataVolume: { type: 'gp3', sizeGiB: 500, iops: 3000, throughput: 125 } });
    const cost = xs.aws!.monthlyCost!;
    expect(cost.region).toBe('us-east-1');
    expect(cost.parts.map((p) => p.item)).toEqual(['instance', 'root volume', 'data volume', 'public IPv4 address']);
    expect(cost.totalUsd).toBeCloseTo(cost.parts.reduce((sum, p) => sum + p.monthlyUsd!, 0), 2);
    expect(out.sizes[4]!.aws).toMatchObject({ instanceType: 'm6a.24xlarge', dataVolume: { type: 'io2', sizeGiB: 500, iops: 16000 } });
    // Azure is priced in its reference location (eastus) from presets/azure-prices.json.
    expect(out.sizes[0]!.azure).toMatchObject({ instanceType: 'Standard_D8as_v5', dataVolume: { type: 'Premium_LRS', sizeGiB: 500 }, monthlyCost: { region: 'eastus', totalUsd: 338.2 } });
    expect(out.sizes[4]!.azure).toMatchObject({ instanceType: 'Standard_D96as_v5', dataVolume: { type: 'PremiumV2_LRS', sizeGiB: 500, iops: 16000, throughput: 500 } });
    for (const cloud of ['gcp']) {
      expect(out.sizes.map((s) => (s as Record<string, unknown>)[cloud])).toEqual(
        Object.values(machineTypes(cloud)).map((m) => expect.objectContaining({ instanceType: m.machineType, machineType: m.machineType })),
      );
    }
  });

  it('prints the table in the chosen cloud\'s words, priced from its price file', async () => {
    const { io } = await run({});
    const lines = text(io);
    expect(lines).toMatch(/SIZE\s+USERS\s+REPOS\s+LARGEST REPO\s+vCPU\/RAM\s+AWS TYPE\s+DATA DISK\s+≈ \$\/MONTH/);
    expect(lines).toMatch(/XS\s+≤ 500\s+≤ 1,000\s+5 GB\s+8\/32 GiB\s+m6a.2xlarge\s+500 GiB gp3\s+\$\d+/);
    expect(lines).toMatch(/XL .*m6a.24xlarge\s+500 GiB io2 16000 IOPS/);
    expect(lines).toContain(`Costs: us-east-1 on-demand list prices of ${awsProvider.priceDate} (presets/aws-prices.json)`);
  });

  it('--region prices in that region and says "price unknown" where the price file has no price', async () => {
    const west = await run({ region: 'us-west-2' });
    expect(west.out.sizes[0]!.aws!.monthlyCost!.region).toBe('us-west-2');
    const { out, io } = await run({ region: 'eu-south-1' });
    expect(out.sizes[0]!.aws!.monthlyCost!.totalUsd).toBeUndefined();
    expect(text(io)).toMatch(/XS .* price unknown/);
    expect(text(io)).toMatch(/For eu-south-1: price unknown \(no instance m6a\.2xlarge/);
    await expect(run({ region: 'mars-north-1' })).rejects.toBeInstanceOf(UsageError);
  });

  it('--cloud: aws is the default; gcp and azure are shown in their words (gcp priced from presets/gcp-prices.json, azure from presets/azure-prices.json); an unknown cloud is bad input', async () => {
    expect((await run({ cloud: 'aws' })).out.cloud).toBe('aws');
    const gcp = await run({ cloud: 'gcp' });
    expect(gcp.out).toMatchObject({ cloud: 'gcp', region: 'us-central1' });
    expect(gcp.out.sizes[0]).toMatchObject({ machineType: 'n2-standard-8', dataDisk: { type: 'pd-ssd', sizeGiB: 500 } });
    expect(gcp.out.sizes[0]!.monthlyCost.totalUsd).toBeGreaterThan(300);
    expect(text(gcp.io)).toMatch(/XS .*n2-standard-8\s+500 GB pd-ssd\s+\$\d{3}\b/);
    expect(text(gcp.io)).toMatch(/us-central1 on-demand list prices of .* \(presets\/gcp-prices\.json\)/);
    const azure = await run({ cloud: 'azure' });
    expect(azure.out.cloud).toBe('azure');
    expect(azure.out).toMatchObject({ cloud: 'azure', region: 'eastus' });
    expect(text(azure.io)).toMatch(/XS .*Standard_D8as_v5\s+500 GiB Premium_LRS\s+\$338\b/);
    expect(text(azure.io)).toMatch(/eastus .*list prices of .* \(presets\/azure-prices\.json\)/);
    expect(text((await run({ cloud: 'azure', region: 'westeurope' })).io)).toMatch(/XS .*Standard_D8as_v5\s+500 GiB Premium_LRS\s+price unknown/);
    expect(text(azure.io)).toMatch(/XL .*Standard_D96as_v5\s+500 GiB PremiumV2_LRS 16000 IOPS 500 MB\/s/);
    await expect(run({ cloud: 'oracle' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/unknown cloud "oracle"/) });
  });

  it('--versions lists the shipped catalog\'s versions, newest first', async () => {
    const { out, io } = await run({ versions: true });
    const catalog = await awsProvider.publishedImages!();
    expect(out.versions!.map((v) => v.version)).toEqual(catalogVersions(catalog).reverse());
    expect(out.versions![0]!.regions).toBeGreaterThan(0);
    expect(text(io)).toMatch(new RegExp(`Published versions \\(newest first.*\\n  ${out.versions![0]!.version.replace(/\./g, '\\.')}  \\(\\d+ regions\\)`));
  });
});
