// End to end on Google Compute Engine with real parts: the real CLI process (`--cloud gcp`) → the
// GCE emulator (test/support/gce-emulator) with Application Default Credentials from a service
// account key made here (its token endpoint is the emulator's), and a test host with a real sshd
// and HTTP server standing in for the instance. The static address the launcher adopts has the test
// host's address, so readiness talks to it over real SSH (host keys checked against the serial
// console) and HTTP. Nothing reaches Google: METADATA_SERVER_DETECTION=none and the endpoint
// override point everything at loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue, fromEncodedLabels, toEncodedLabels } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.13.0';
const HOST_ADDRESS = '10.200.91.2';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 180_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let dir: string;
let publicKeyPath: string;
let env: Record<string, string>;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-e2e-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 3 });
  // Serial port 1 shows cloud-init's host key fingerprints, the test host's real ones.
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
});

afterAll(async () => {
  await host?.stop();
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  gce.reset();
  // An image of this version in the project (as build-image leaves one), named with --image.
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
  image = `projects/${gce.project}/global/images/sourcegraph-6-13-0`;
});

function launchArgs(name: string, extra: string[] = []): string[] {
  return [
    'launch', '--cloud', 'gcp', '--project', gce.project, '--region', REGION,
    '--version', VERSION, '--image', image,
    '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
    '--ssh-key', publicKeyPath,
    // Only root can log in to the test host; our images use `sourcegraph` (the default).
    '--ssh-user', 'root',
    '--name', name, '--hold-seconds', '2',
    ...extra,
  ];
}

const list = async (path: string) => ((await client.get<{ items?: Record<string, any>[] }>(path)).body.items ?? []);

describe('--cloud gcp: launch → status → destroy with the real CLI on the GCE emulator', () => {
  it('dry run: the plan and the real Compute request bodies, without creating anything', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-e2e-home-'));
    const run = await runCli([...launchArgs('dry'), '--dry-run', '--json'], { env, home });
    expect(run.code, run.stderr).toBe(0);
    const out = run.json<{ plan: Record<string, any>; requests: { service: string; operation: string; input: Record<string, any> }[] }>();
    expect(out.plan.cloud.value).toBe('gcp');
    expect(out.requests.map((r) => r.operation)).toEqual(['firewalls.insert', 'firewalls.insert', 'firewalls.insert', 'addresses.insert', 'instances.insert', 'instances.deleteAccessConfig', 'instances.addAccessConfig']);
    expect(new Set(out.requests.map((r) => r.service))).toEqual(new Set(['compute']));
    const insert = out.requests.find((r) => r.operation === 'instances.insert')!;
    expect(insert.input.body.disks[0].initializeParams.sourceImage).toBe(image);
    const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
    expect((await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat()).toEqual([]);
    expect((await list('global/firewalls')).filter((f) => String(f.name).startsWith('sourcegraph-launch-dry'))).toEqual([]);
    expect((await list(`regions/${REGION}/addresses`)).length).toBe(0);
    rmSync(home, { recursive: true, force: true });
  });

  it('creates exactly the secure deployment, waits until the version is served, reports it, and removes it keeping the data disk', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-e2e-home-'));
    // The address the launcher adopts for "--address new" is the test host's (labelled as ours).
    await client.mutate('POST', `regions/${REGION}/addresses`, {
      name: 'e2e-address',
      address: HOST_ADDRESS,
      networkTier: 'PREMIUM',
      labels: toEncodedLabels({ deployment: 'e2e', managed: 'true', role: 'address' }),
    });

    const launch = await runCli([...launchArgs('e2e'), '--json'], { env, home, timeoutMs: 150_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const result = launch.json<Record<string, any>>();
    expect(result).toMatchObject({ name: 'e2e', region: REGION, version: VERSION, url: `http://${HOST_ADDRESS}`, ready: true });
    expect(result.stages.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['instance-running', 'ssh', 'k3s', 'pods', 'http-version']));

    // What exists in the project: one instance, as promised.
    const zones = await list('zones');
    const instances = (await Promise.all(zones.filter((z) => String(z.region).endsWith(`/${REGION}`)).map((z) => list(`zones/${z.name}/instances`)))).flat();
    expect(instances.length).toBe(1);
    const vm = instances[0]!;
    expect(vm.machineType).toMatch(/\/n2-standard-8$/);
    expect(vm.shieldedInstanceConfig).toMatchObject({ enableSecureBoot: true });
    expect(vm.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);
    expect(fromEncodedLabels(vm.labels).labels).toMatchObject({ deployment: 'e2e', role: 'instance', version: VERSION });
    const meta = Object.fromEntries(vm.metadata.items.map((i: { key: string; value: string }) => [i.key, i.value]));
    expect(meta['block-project-ssh-keys']).toBe('TRUE');
    expect(meta['ssh-keys']).toMatch(/^root:ssh-ed25519 /);
    const data = vm.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data');
    expect(data).toMatchObject({ autoDelete: false });
    expect(vm.disks.find((d: Record<string, any>) => d.boot)).toMatchObject({ autoDelete: true });
    const firewalls = (await list('global/firewalls')).filter((f) => String(f.name).startsWith('sourcegraph-launch-e2e'));
    const rules = firewalls.flatMap((f) => f.allowed.flatMap((a: { ports: string[] }) => a.ports.flatMap((p) => f.sourceRanges.map((r: string) => `${p} ${r}`)))).sort();
    expect(rules).toEqual(['22 203.0.113.7/32', '443 203.0.113.0/24', '80 203.0.113.0/24']);

    const status = await runCli(['status', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--name', 'e2e', '--json'], { env, home });
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<Record<string, any>>()).toMatchObject({ name: 'e2e', version: VERSION });

    const listed = await runCli(['list', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--json'], { env, home });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.stringify(listed.json())).toContain('"e2e"');

    const destroy = await runCli(['destroy', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--name', 'e2e', '--yes', '--json'], { env, home, timeoutMs: 120_000 });
    expect(destroy.code, destroy.stderr).toBe(0);
    expect((await Promise.all(zones.filter((z) => String(z.region).endsWith(`/${REGION}`)).map((z) => list(`zones/${z.name}/instances`)))).flat()).toEqual([]);
    expect((await list('global/firewalls')).filter((f) => String(f.name).startsWith('sourcegraph-launch-e2e'))).toEqual([]);
    // The data disk is kept.
    const disks = (await Promise.all(zones.filter((z) => String(z.region).endsWith(`/${REGION}`)).map((z) => list(`zones/${z.name}/disks`)))).flat();
    expect(disks.map((d) => fromEncodedLabels(d.labels).labels.role)).toEqual(['data-volume']);
    rmSync(home, { recursive: true, force: true });
  });
});

describe('--cloud gcp: disk grow with the real CLI on the GCE emulator', () => {
  it('grows the data disk with disks.resize (the emulator reports the new size); a smaller size exits 2 with nothing changed', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-e2e-home-'));
    const args = launchArgs('grow', ['--no-wait', '--address', 'none', '--json']);
    args.splice(args.indexOf('--ssh-cidr'), 2, '--ssh-cidr', 'none');
    const launch = await runCli(args, { env, home, timeoutMs: 150_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const diskId = launch.json<{ resources: { dataVolumeId: string } }>().resources.dataVolumeId;
    const sizeOf = async () => Number((await client.get<{ sizeGb: string }>(diskId.replace(/^.*?(zones\/)/, '$1'))).body.sizeGb);
    const before = await sizeOf();
    const where = ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];

    const grow = await runCli(['disk', 'grow', 'grow', ...where, '--size', String(before + 100), '--yes', '--json'], { env, home });
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.json()).toMatchObject({ fromGiB: before, toGiB: before + 100, disk: 'grown', restarted: false, filesystem: { pending: expect.stringContaining('next boot') } });
    expect(await sizeOf()).toBe(before + 100);

    const shrink = await runCli(['disk', 'grow', 'grow', ...where, '--size', String(before), '--yes', '--json'], { env, home });
    expect(shrink.code, shrink.stderr).toBe(2);
    expect(shrink.json<{ error: { code: string } }>().error.code).toBe('disk-shrink-refused');
    expect(await sizeOf()).toBe(before + 100);
  });
});
