// Google Compute Engine offers no run-command channel in this tool yet: the real CLI on the GCE
// emulator, a deployment launched with SSH closed (`--ssh-cidr none --no-wait`). `--via run-command`
// exits 2 saying so, before anything changes (disk grow leaves the disk as it is); without --via,
// `config` is the SSH error with how to open it, as before.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey } from '../support/test-host.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 180_000 });

let gce: GceEmulator;
let client: GceTestClient;
let dir: string;
let home: string;
let env: Record<string, string>;
let where: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-rc-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-gce-rc-home-'));
  const key = await createClientKey(dir);
  gce = await startGceEmulator({});
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
  where = ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
  const launch = await runCli(
    ['launch', ...where, '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-13-0`, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none',
      '--ssh-key', `${key.privateKeyPath}.pub`, '--name', 'rc', '--hold-seconds', '1', '--no-wait', '--address', 'none', '--json'],
    { env, home, timeoutMs: 150_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  await gce?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

const diskSizes = async () => (((await client.get<{ items?: { sizeGb: string }[] }>(`zones/${REGION}-a/disks`)).body.items ?? []).map((d) => d.sizeGb)).concat(
  ((await client.get<{ items?: { sizeGb: string }[] }>(`zones/${REGION}-b/disks`)).body.items ?? []).map((d) => d.sizeGb),
  ((await client.get<{ items?: { sizeGb: string }[] }>(`zones/${REGION}-c/disks`)).body.items ?? []).map((d) => d.sizeGb),
);

describe('--cloud gcp: no run-command channel yet', () => {
  it('--via run-command exits 2 saying to open SSH, for config and for disk grow (the disk untouched); plain config is the SSH error', async () => {
    const cli = (args: string[]) => runCli(args, { env, home, timeoutMs: 120_000 });
    const message = 'A run-command channel is not offered on Google Compute Engine yet: open SSH (--ssh-cidr) and run again';
    const config = await cli(['config', 'set', 'rc', 'frontend.replicaCount=2', ...where, '--via', 'run-command', '--yes']);
    expect(config.code, config.stderr).toBe(2);
    expect(config.stderr).toContain(message);

    const before = await diskSizes();
    expect(before.length).toBeGreaterThan(0);
    const grow = await cli(['disk', 'grow', 'rc', ...where, '--size', '2000', '--via', 'run-command', '--yes']);
    expect(grow.code, grow.stderr).toBe(2);
    expect(grow.stderr).toContain(message);
    expect(await diskSizes()).toEqual(before);

    const plain = await cli(['config', 'show', 'rc', ...where]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('SSH to rc is closed');
  });
});
