// End to end on GCE: the real CLI (`--cloud gcp`) → the GCE emulator and a test host behind the
// deployment's static address. upgrade (clone) snapshots the data disk, makes the new VM's data
// disk from the final snapshot in the same zone, moves the address and keeps the old VM stopped;
// rollback moves it back. The test switches the host's version when the CLI starts the step that
// makes another VM serve (as test/e2e/upgrade.e2e.test.ts does on AWS).
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromEncodedLabels, toEncodedLabels } from '../../src/core/labels.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.92.2';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let dir: string;
let publicKeyPath: string;
let env: Record<string, string>;

const quickBoot = (version: string) => host.reboot({ version, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });

function switchVersionOn(pattern: RegExp, version: string): CliOptions['onOutput'] {
  let done = false;
  return (chunk) => {
    if (!done && pattern.test(chunk)) {
      done = true;
      quickBoot(version);
    }
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-upgrade-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  // The test host is shaped like an AWS instance (/home/ec2-user); GCE images keep the root version
  // file in the home of their login user, sourcegraph.
  symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  // Images of both versions in the project, as build-image leaves them (labelled with their build).
  for (const version of [OLD, NEW]) {
    await client.mutate('POST', 'global/images', {
      name: `sourcegraph-${version.replace(/\./g, '-')}`,
      sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
      labels: toEncodedLabels({ version, build: `b-${version.replace(/\./g, '-')}`, role: 'image', managed: 'true' }),
    });
  }
});

afterAll(async () => {
  await host?.stop();
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const list = async (path: string) => ((await client.get<{ items?: Record<string, any>[] }>(path)).body.items ?? []);
const labels = (r: Record<string, any>) => fromEncodedLabels(r.labels ?? {}).labels;
async function instances(name: string) {
  const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
  return (await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat().filter((i) => labels(i).deployment === name);
}

describe('--cloud gcp: upgrade (clone) → status → rollback → backup → backups → restore → prune → backup --schedule with the real CLI on the GCE emulator', () => {
  it('snapshots, makes the new data disk from the final snapshot, moves the address, keeps the old VM stopped; rolls back', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-upgrade-home-'));
    const cli = (args: string[], extra: CliOptions = {}) => runCli([...args, '--cloud', 'gcp', '--project', gce.project, '--region', REGION], { env, home, timeoutMs: 150_000, ...extra });
    await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'up-address', address: HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'up', managed: 'true', role: 'address' }) });
    quickBoot(OLD);
    const launched = await cli(['launch', '--version', OLD, '--image', `projects/${gce.project}/global/images/sourcegraph-6-11-0`, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'up', '--hold-seconds', '0', '--json']);
    expect(launched.code, launched.stderr).toBe(0);
    const [old] = await instances('up');
    const oldData = old!.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data').source;

    const up = await cli(['upgrade', 'up', '--to', NEW, '--yes', '--hold-seconds', '0', '--json'], { onOutput: switchVersionOn(/Stop the 6\.11\.0 instance/, NEW) });
    expect(up.code, up.stderr).toBe(0);
    expect(up.json()).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${HOST_ADDRESS}` });

    const all = await instances('up');
    const oldNow = all.find((i) => i.name === old!.name)!;
    const fresh = all.find((i) => i.name !== old!.name)!;
    expect(oldNow.status).toBe('TERMINATED');
    expect(labels(oldNow)).toMatchObject({ role: 'rollback-point' });
    expect(labels(fresh)).toMatchObject({ role: 'instance', version: NEW });
    expect(fresh.zone).toBe(old!.zone);
    expect(fresh.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);
    const freshData = fresh.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data');
    expect(freshData.autoDelete).toBe(false);
    const disk = (await client.get<Record<string, any>>(String(freshData.source).replace(/^.*\/projects\/[^/]+\//, ''))).body;
    const snapshots = await list('global/snapshots');
    const final = snapshots.find((s) => labels(s).purpose === 'pre-upgrade-final')!;
    expect(String(disk.sourceSnapshot)).toMatch(new RegExp(`/global/snapshots/${final.name}$`));
    expect(String(final.sourceDisk)).toBe(oldData);
    // The old data disk is untouched and still on the stopped old VM.
    expect(oldNow.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data').source).toBe(oldData);

    const status = await cli(['status', 'up', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({ servingVersion: NEW });

    const back = await cli(['rollback', 'up', '--yes', '--hold-seconds', '0', '--json'], { onOutput: switchVersionOn(/\(6\.11\.0\)/, OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, strategy: 'clone' });
    const after = await instances('up');
    expect(after.find((i) => i.name === old!.name)?.status).toBe('RUNNING');
    expect(after.find((i) => i.name === fresh.name)?.status).toBe('TERMINATED');
    expect((await instances('up')).find((i) => i.name === old!.name)?.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);

    const backup = await cli(['backup', 'up', '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    const snapshotId = backup.json<{ snapshotId: string }>().snapshotId;
    expect(snapshotId).toMatch(/^global\/snapshots\//);
    const listed = await cli(['backups', 'up', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json<{ backups: { snapshotId: string; purpose: string; version: string; sizeGiB: number }[] }>().backups).toEqual(
      expect.arrayContaining([expect.objectContaining({ snapshotId, purpose: 'backup', version: OLD, sizeGiB: 500 })]),
    );

    const restore = await cli(['restore', '--name', 'up-copy', '--snapshot', snapshotId, '--yes', '--no-wait', '--json']);
    expect(restore.code, restore.stderr).toBe(0);
    const [copy] = await instances('up-copy');
    const copyData = copy!.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data');
    const copyDisk = (await client.get<Record<string, any>>(String(copyData.source).replace(/^.*\/projects\/[^/]+\//, ''))).body;
    expect(String(copyDisk.sourceSnapshot)).toMatch(new RegExp(`/${snapshotId}$`));

    const prune = await cli(['prune', 'up', '--yes', '--json']);
    expect(prune.code, prune.stderr).toBe(0);
    expect((await instances('up')).map((i) => i.name)).toEqual([old!.name]);
    const kept = (await list('global/snapshots')).filter((x) => labels(x).deployment === 'up').map((x) => `global/snapshots/${x.name}`);
    expect(kept).toEqual([snapshotId]);

    // Scheduled snapshots: a snapshot schedule resource policy on the deployment's data disk.
    const scheduled = await cli(['backup', 'up', '--schedule', 'daily', '--retain', '14', '--json']);
    expect(scheduled.code, scheduled.stderr).toBe(0);
    const [policy, ...morePolicies] = await list(`regions/${REGION}/resourcePolicies`);
    expect(morePolicies).toEqual([]);
    expect(policy!.snapshotSchedulePolicy).toMatchObject({ schedule: { dailySchedule: { daysInCycle: 1 } }, retentionPolicy: { maxRetentionDays: 14 } });
    const oldDisk = (await client.get<Record<string, any>>(String(oldData).replace(/^.*\/projects\/[^/]+\//, ''))).body;
    expect((oldDisk.resourcePolicies ?? []).map((p: string) => p.split('/').pop())).toEqual([policy!.name]);
    rmSync(home, { recursive: true, force: true });
  });
});
