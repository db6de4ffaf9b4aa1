// `build-image --cloud gcp` end to end: the real CLI → the GCE emulator, and a test host (real sshd)
// standing in for the builder, reached through a static address of the user's whose IP is the test
// host's (`--address`). As in test/e2e/build-image.e2e.test.ts, SGL_TEST_PROVISION_DIR points the CLI
// at a copy of provision/ whose build.sh and seal-image.sh are stubs (the real ones would change the
// test machine, which the test host shares).
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromEncodedLabels } from '../../src/core/labels.js';
import { ROOT, runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.13.100';
const BUILD = `${VERSION}-xs`;
const HOST_ADDRESS = '10.200.93.2';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 150_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let workDir: string;
let stubProvisionDir: string;
let buildKey: { privateKeyPath: string; publicKey: string };
let env: Record<string, string>;

const STUB_BUILD = `#!/usr/bin/env bash
set -euo pipefail
echo "stub build.sh $*"
echo "build complete: Sourcegraph (stub)"
`;
const STUB_SEAL = `#!/usr/bin/env bash
set -euo pipefail
echo "stub seal-image.sh $*"
touch /var/log/sealed
`;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sgl-gce-build-'));
  buildKey = await createClientKey(workDir, 'build-key');
  stubProvisionDir = join(workDir, 'provision');
  cpSync(join(ROOT, 'provision'), stubProvisionDir, { recursive: true });
  writeFileSync(join(stubProvisionDir, 'build.sh'), STUB_BUILD);
  writeFileSync(join(stubProvisionDir, 'seal-image.sh'), STUB_SEAL);
  chmodSync(join(stubProvisionDir, 'build.sh'), 0o755);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: buildKey.publicKey });
  symlinkSync('ec2-user', join(host.fsRoot, 'home', 'sourcegraph'));
  gce = await startGceEmulator({ serialOutput: () => host.consoleOutput('ubuntu') });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = {
    ...gceCliEnv(gce, workDir),
    SGL_TEST_PROVISION_DIR: stubProvisionDir,
  };
});

afterAll(async () => {
  await host?.stop();
  await gce?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** A fresh state home holding the build key the test host trusts (a resumed build reuses it). */
function newHome(): string {
  const home = mkdtempSync(join(workDir, 'home-'));
  const keys = join(home, 'state', 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const keyPath = join(keys, `build-gcp-${REGION}-${BUILD}`);
  cpSync(buildKey.privateKeyPath, keyPath);
  chmodSync(keyPath, 0o600);
  writeFileSync(`${keyPath}.pub`, `${buildKey.publicKey}\n`);
  return home;
}

const list = async (path: string) => ((await client.get<{ items?: Record<string, any>[] }>(path)).body.items ?? []);
const labels = (r: Record<string, any>) => fromEncodedLabels(r.labels ?? {}).labels;

describe('build-image --cloud gcp with the real CLI on the GCE emulator', () => {
  it('builds on Ubuntu 24.04, keeps an image and a data snapshot labelled as one, removes the builder, and launch finds it', async () => {
    const home = newHome();
    await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'mine', address: HOST_ADDRESS, networkTier: 'PREMIUM' });
    const run = await runCli(
      ['build-image', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--version', VERSION, '--ssh-cidr', '203.0.113.7/32',
        '--address', `regions/${REGION}/addresses/mine`, '--ssh-user', 'root', '--json'],
      { env, home, timeoutMs: 140_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('stub build.sh --version 6.13.100 --size XS --cloud gcp');
    expect(existsSync(join(host.fsRoot, 'var', 'log', 'sealed'))).toBe(true);
    const result = run.json<Record<string, any>>();
    expect(result).toMatchObject({ region: REGION, version: VERSION, size: 'XS', alreadyBuilt: false });

    const images = (await list('global/images')).filter((i) => labels(i).version === VERSION);
    expect(images.length).toBe(1);
    expect(labels(images[0]!)).toMatchObject({ role: 'image', version: VERSION, size: 'XS' });
    expect(String(images[0]!.sourceDisk)).toMatch(/-root$/);
    const template = /data-template=global\/snapshots\/([a-z0-9-]+)/.exec(String(images[0]!.description))?.[1];
    expect(template).toBeDefined();
    const snapshot = (await client.get<Record<string, any>>(`global/snapshots/${template}`)).body;
    expect(snapshot.status).toBe('READY');
    expect(labels(snapshot)).toMatchObject({ build: BUILD, version: VERSION });

    // The builder and its firewall rules are gone; the user's address is free again and kept.
    const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
    expect((await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat()).toEqual([]);
    expect((await list('global/firewalls')).filter((f) => String(f.description ?? '').startsWith('sourcegraph-launch '))).toEqual([]);
    const address = (await client.get<Record<string, any>>(`regions/${REGION}/addresses/mine`)).body;
    expect(address.users ?? []).toEqual([]);

    // launch finds the built image for that version (the dry run names it) ...
    const plan = await runCli(['launch', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json'], { env, home });
    expect(plan.code, plan.stderr).toBe(0);
    const insert = plan.json<{ requests: { operation: string; input: Record<string, any> }[] }>().requests.find((r) => r.operation === 'instances.insert')!;
    expect(insert.input.body.disks[0].initializeParams.sourceImage).toBe(`projects/${gce.project}/global/images/${images[0]!.name}`);
    // ... and shows its data disk made from the image's prepared data disk, as the launch will.
    expect(insert.input.body.disks[1].initializeParams.sourceSnapshot).toBe(`global/snapshots/${template}`);
    // ... and the VM it makes has its data disk from the image's prepared data disk.
    const launched = await runCli(
      ['launch', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none',
        '--address', 'none', '--name', 'built', '--no-wait', '--json'],
      { env, home, timeoutMs: 60_000 },
    );
    expect(launched.code, launched.stderr).toBe(0);
    const [vm] = (await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat();
    const data = vm!.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data');
    const disk = (await client.get<Record<string, any>>(String(data.source).replace(/^.*\/projects\/[^/]+\//, ''))).body;
    expect(String(disk.sourceSnapshot)).toMatch(new RegExp(`/global/snapshots/${template}$`));
  });
});
