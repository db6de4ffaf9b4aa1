// `doctor --cloud gcp` before a launch, end to end: the real CLI process → the GCE emulator, whose
// regions.get reports the region's quotas (CPUS, N2_CPUS, STATIC_ADDRESSES) from what exists and the
// limits a test sets. Compute Engine has no dry run of a launch: that check is skipped, pointing at
// the custom role --print-policy prints. Nothing reaches Google (see gcp-lifecycle.e2e.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 120_000 });

let gce: GceEmulator;
let client: GceTestClient;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-doctor-'));
  gce = await startGceEmulator();
  client = new GceTestClient(gce.endpoint, gce.project);
  env = {
    ...gceCliEnv(gce, dir),
    SGL_TEST_PUBLIC_IP: '203.0.113.7',
  };
});

afterAll(async () => {
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  gce.reset();
  // An image of this version in the project, as build-image leaves one.
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
});

interface Checked {
  checks: { id: string; status: string; detail: string; fix?: string }[];
  ok: boolean;
}
const find = (r: Checked, id: string) => r.checks.find((c) => c.id === id)!;
const doctor = ['doctor', '--cloud', 'gcp', '--region', REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--json'];

describe('doctor --cloud gcp with the real CLI on the GCE emulator', () => {
  it('reads the region\'s vCPU and static address quotas; passes with room, fails when N2 CPUs are short (exit 1)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-doctor-home-'));
    const roomy = await runCli([...doctor, '--project', gce.project, '--image', `projects/${gce.project}/global/images/sourcegraph-6-13-0`], { env, home });
    expect(roomy.code, roomy.stdout + roomy.stderr).toBe(0);
    const ok = roomy.json<Checked>();
    expect(Object.fromEntries(ok.checks.map((c) => [c.id, c.status]))).toEqual({
      credentials: 'pass',
      image: 'pass',
      'instance-type': 'pass',
      permissions: 'skip',
      'quota-vcpus': 'pass',
      'quota-static-addresses': 'pass',
      'caller-address': 'pass',
    });
    expect(find(ok, 'permissions').detail).toContain('doctor --print-policy --cloud gcp');
    expect(find(ok, 'quota-vcpus').detail).toBe('0 of 240 vCPUs in use, 240 free; the launch needs 16');
    expect(find(ok, 'quota-static-addresses').detail).toBe('0 of 8 addresses in use, 8 free; the launch needs 1');

    // The preset's n2 type counts against N2_CPUS as well as CPUS: the tighter one decides.
    gce.control.setQuota('N2_CPUS', 8);
    gce.control.setQuota('STATIC_ADDRESSES', 0);
    const short = await runCli([...doctor, '--project', gce.project, '--image', `projects/${gce.project}/global/images/sourcegraph-6-13-0`], { env, home });
    expect(short.code, short.stderr).toBe(1);
    const bad = short.json<Checked>();
    expect(find(bad, 'quota-vcpus')).toMatchObject({ status: 'fail', detail: '0 of 8 vCPUs in use, 8 free; the launch needs 16' });
    expect(find(bad, 'quota-static-addresses')).toMatchObject({ status: 'fail' });
    expect(find(bad, 'quota-static-addresses').fix).toContain('--address none');
  });
});
