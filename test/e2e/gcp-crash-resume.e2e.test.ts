// Crash and resume on GCE with the real CLI: the process is killed (SIGKILL, through the test
// entry's SGL_TEST_FAULT=after:<step> seam: right after a step's work, before the journal records it)
// mid-launch and mid-upgrade/rollback on the GCE emulator; the same command run again resumes, and
// nothing is duplicated or left behind. A test host with a real sshd and HTTP server stands in for
// the VMs behind the deployment's static address (as in test/e2e/gcp-upgrade.e2e.test.ts).
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromEncodedLabels, toEncodedLabels } from '../../src/core/labels.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.94.2';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 60_000 });

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
const upgradeSwitch = () => switchVersionOn(/Stop the 6\.11\.0 instance/, NEW);
const rollbackSwitch = () => switchVersionOn(/\(6\.11\.0\)/, OLD);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-crash-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
});

beforeEach(async () => {
  // Each case starts from an empty project (the address of the test host is free again) with images of both versions.
  gce.reset();
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
async function zonal(kind: string) {
  const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
  return (await Promise.all(zones.map((z) => list(`zones/${z.name}/${kind}`)))).flat();
}
const instances = async (name: string) => (await zonal('instances')).filter((i) => labels(i).deployment === name);
const disks = async (name: string) => (await zonal('disks')).filter((d) => labels(d).deployment === name);
const firewalls = async (name: string) => (await list('global/firewalls')).filter((f) => String(f.name).startsWith(`sourcegraph-launch-${name}`));
const addresses = async (name: string) => (await list(`regions/${REGION}/addresses`)).filter((a) => labels(a).deployment === name);
const snapshots = async (name: string) => (await list('global/snapshots')).filter((s) => labels(s).deployment === name);

function cli(args: string[], home: string, extra: CliOptions = {}) {
  return runCli([...args, '--cloud', 'gcp', '--project', gce.project, '--region', REGION], { home, timeoutMs: 150_000, ...extra, env: { ...env, ...extra.env } });
}
const launchArgs = (name: string, version = OLD) => [
  'launch', '--version', version, '--image', `projects/${gce.project}/global/images/sourcegraph-${version.replace(/\./g, '-')}`,
  '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', name, '--hold-seconds', '0',
];
/** The address the launcher adopts for the deployment: the test host's (GCE picks addresses itself otherwise). */
async function addressFor(name: string): Promise<void> {
  await client.mutate('POST', `regions/${REGION}/addresses`, { name: `${name}-address`, address: HOST_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: name, managed: 'true', role: 'address' }) });
}

describe('--cloud gcp: killed mid-launch, mid-upgrade and mid-rollback, a re-run resumes with nothing duplicated or leaked', () => {
  it.each(['security-group', 'instance', 'address'])('launch killed right after the %s step: the re-run finishes with one of each resource', async (step) => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-crash-home-'));
    const name = `crash-${step}`;
    await addressFor(name);
    quickBoot(OLD);
    const crashed = await cli(launchArgs(name), home, { env: { SGL_TEST_FAULT: `after:${step}` } });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');

    const resumed = await cli([...launchArgs(name), '--json'], home);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming the launch started/);
    expect(resumed.json()).toMatchObject({ ready: true, version: OLD, url: `http://${HOST_ADDRESS}` });
    expect(await instances(name)).toHaveLength(1);
    expect((await firewalls(name)).length).toBe(3);
    expect(await addresses(name)).toHaveLength(1);
    expect((await disks(name)).filter((d) => labels(d).role === 'data-volume')).toHaveLength(1);
    // No disk without a VM: every disk of the deployment is in use, except none.
    expect((await disks(name)).filter((d) => (d.users ?? []).length === 0)).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });

  it('upgrade killed after each cutover step and rollback killed after each of its steps: every re-run finishes; one VM serves, one final snapshot per upgrade', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-crash-home-'));
    await addressFor('cr');
    quickBoot(OLD);
    const launched = await cli([...launchArgs('cr'), '--json'], home);
    expect(launched.code, launched.stderr).toBe(0);
    const [old] = await instances('cr');
    const upgradeSteps = ['stop-old-instance', 'snapshot-final', 'launch-new-instance', 'move-static-address'];
    const rollbackSteps = ['stop-upgraded-instance', 'start-rollback-point', 'move-static-address', 'wait-for-version'];
    const upgradeArgs = ['upgrade', 'cr', '--to', NEW, '--image', `projects/${gce.project}/global/images/sourcegraph-6-12-5040`, '--yes', '--hold-seconds', '0', '--init-rate', '0'];
    const rollbackArgs = ['rollback', 'cr', '--yes', '--hold-seconds', '0'];
    for (const [i, step] of upgradeSteps.entries()) {
      const crashed = await cli(upgradeArgs, home, { env: { SGL_TEST_FAULT: `after:${NEW}:${step}` }, onOutput: upgradeSwitch() });
      expect(crashed.signal, `${step}: ${crashed.stderr}`).toBe('SIGKILL');
      const resumed = await cli([...upgradeArgs, '--json'], home, { onOutput: upgradeSwitch() });
      expect(resumed.code, `${step}: ${resumed.stderr}`).toBe(0);
      expect(resumed.stderr).toMatch(/Resuming the upgrade/);
      expect(resumed.json()).toMatchObject({ to: NEW, rollbackPoint: { instanceId: expect.stringContaining(old!.name) } });
      const vms = await instances('cr');
      // The old VM and one upgraded VM per round so far (each round's upgrade makes one; a kill never makes a second).
      expect(vms).toHaveLength(2 + i);
      expect(vms.filter((v) => v.status === 'RUNNING')).toHaveLength(1);
      const serving = vms.find((v) => v.status === 'RUNNING')!;
      expect(labels(serving)).toMatchObject({ role: 'instance', version: NEW });
      expect(serving.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);
      expect((await snapshots('cr')).filter((s) => labels(s).purpose === 'pre-upgrade-final')).toHaveLength(i + 1);
      expect(await addresses('cr')).toHaveLength(1);

      const rollbackStep = rollbackSteps[i]!;
      const crashedBack = await cli(rollbackArgs, home, { env: { SGL_TEST_FAULT: `after:${rollbackStep}` }, onOutput: rollbackSwitch() });
      expect(crashedBack.signal, `${rollbackStep}: ${crashedBack.stderr}`).toBe('SIGKILL');
      const back = await cli(rollbackArgs, home, { onOutput: rollbackSwitch() });
      expect(back.code, `${rollbackStep}: ${back.stderr}`).toBe(0);
      const after = await instances('cr');
      expect(after.filter((v) => v.status === 'RUNNING').map((v) => v.name)).toEqual([old!.name]);
      expect(after.find((v) => v.name === old!.name)!.networkInterfaces[0].accessConfigs[0].natIP).toBe(HOST_ADDRESS);
    }
    // Every data disk is attached to a VM of the deployment: none leaked.
    expect((await disks('cr')).filter((d) => (d.users ?? []).length === 0)).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });
});
