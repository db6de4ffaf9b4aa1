// `build-image --cloud azure` end to end: the real CLI → the ARM emulator (test/support/azure-e2e.ts),
// and a test host (real sshd, Azure's login user `sourcegraph`) standing in for the builder VM: the
// builder's public IP gets the test host's address and boot diagnostics' serial log lists its real
// host keys. As in test/e2e/build-image.e2e.test.ts, SGL_TEST_PROVISION_DIR points the CLI at a copy
// of provision/ whose build.sh and seal-image.sh are stubs (the real ones would change the test
// machine, which the test host shares).
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { ROOT, runCli } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.13.100';
const BUILD = `${VERSION}-xs`;
const HOST_ADDRESS = '10.200.124.2';
const REGION = 'eastus';
const GROUP = 'sl-build';
const where = ['--cloud', 'azure', '--region', REGION, '--resource-group', GROUP];

vi.setConfig({ testTimeout: 200_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let host: TestHost;
let workDir: string;
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
  workDir = mkdtempSync(join(tmpdir(), 'sgl-azure-build-'));
  buildKey = await createClientKey(workDir, 'build-key');
  const provision = join(workDir, 'provision');
  cpSync(join(ROOT, 'provision'), provision, { recursive: true });
  writeFileSync(join(provision, 'build.sh'), STUB_BUILD);
  writeFileSync(join(provision, 'seal-image.sh'), STUB_SEAL);
  chmodSync(join(provision, 'build.sh'), 0o755);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: buildKey.publicKey, loginUsers: ['sourcegraph'] });
  azure = await startAzureE2e(workDir, { serialLog: () => host.consoleOutput('ubuntu') });
  env = { ...azure.env, SGL_TEST_PROVISION_DIR: provision };
});

afterAll(async () => {
  await host?.stop();
  await azure?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** A fresh state home holding the build key the test host trusts (a resumed build reuses it). */
function newHome(): string {
  const home = mkdtempSync(join(workDir, 'home-'));
  const keys = join(home, 'state', 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const keyPath = join(keys, `build-azure-${REGION}-${BUILD}`);
  cpSync(buildKey.privateKeyPath, keyPath);
  chmodSync(keyPath, 0o600);
  writeFileSync(`${keyPath}.pub`, `${buildKey.publicKey}\n`);
  return home;
}

// ARM bodies are open-ended JSON; the assertions read what they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { id: string; name: string; type: string; tags?: Record<string, string>; properties: any; internal?: any };
const ofType = (type: string): Res[] => azure.arm.control.state().resources.filter((r) => r.type.toLowerCase() === type.toLowerCase()) as Res[];

describe('build-image --cloud azure with the real CLI on the ARM emulator', () => {
  it('builds on Ubuntu 24.04, keeps a gallery image version with the prepared data disk, removes the builder, and launch uses it', async () => {
    const home = newHome();
    azure.arm.control.nextPublicIps(HOST_ADDRESS);
    const run = await runCli(['build-image', ...where, '--version', VERSION, '--ssh-cidr', '203.0.113.7/32', '--json'], { env, home, timeoutMs: 180_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('stub build.sh --version 6.13.100 --size XS --cloud azure');
    expect(run.stderr).toContain('host key matches the console output');
    expect(host.sshdLog()).toMatch(/Accepted publickey for sourcegraph from/);
    expect(existsSync(join(host.fsRoot, 'var', 'log', 'sealed'))).toBe(true);
    expect(run.json<Record<string, any>>()).toMatchObject({ region: REGION, version: VERSION, size: 'XS', alreadyBuilt: false });

    // Built on Canonical's Ubuntu 24.04 LTS.
    const versions = ofType('Microsoft.Compute/galleries/images/versions');
    expect(versions.length).toBe(1);
    const version = versions[0]!;
    expect(version.tags).toMatchObject({ 'sourcegraph-launch:version': VERSION });
    // The image version holds the root disk; the prepared data disk is a snapshot it names (tagged as one build).
    const templateId = version.tags!['sourcegraph-launch.data-template']!;
    const template = ofType('Microsoft.Compute/snapshots').find((x) => x.id.toLowerCase() === templateId.toLowerCase())!;
    expect(template.tags).toMatchObject({ 'sourcegraph-launch:role': 'image-data', 'sourcegraph-launch:build': BUILD, 'sourcegraph-launch:version': VERSION });
    expect(template.internal.origin).toMatch(/^copy:.*\/disks\//i);

    // The builder and everything made only for it are gone; nothing of the build runs or is billed.
    expect(ofType('Microsoft.Compute/virtualMachines')).toEqual([]);
    expect(ofType('Microsoft.Network/publicIPAddresses')).toEqual([]);
    expect(ofType('Microsoft.Network/networkInterfaces')).toEqual([]);

    // launch finds the built image for that version (the dry run names it) ...
    const plan = await runCli(['launch', ...where, '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json'], { env, home });
    expect(plan.code, plan.stderr).toBe(0);
    const vmPut = plan.json<{ requests: { operation: string; input: Record<string, any> }[] }>().requests.find((r) => r.operation === 'virtualMachines.createOrUpdate')!;
    expect(String(vmPut.input.body.properties.storageProfile.imageReference.id).toLowerCase()).toBe(version.id.toLowerCase());

    // ... and the VM it makes has its data disk from the image's prepared data disk.
    const launched = await runCli(['launch', 'built', ...where, '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--public-ip', 'none', '--no-wait', '--json'], {
      env,
      home,
      timeoutMs: 60_000,
    });
    expect(launched.code, launched.stderr).toBe(0);
    const [vm] = ofType('Microsoft.Compute/virtualMachines');
    expect(String(vm!.properties.storageProfile.imageReference.id).toLowerCase()).toBe(version.id.toLowerCase());
    const dataId = String(vm!.properties.storageProfile.dataDisks.find((d: { lun: number }) => d.lun === 0).managedDisk.id).toLowerCase();
    const data = ofType('Microsoft.Compute/disks').find((d) => d.id.toLowerCase() === dataId)!;
    expect(data.properties.creationData).toMatchObject({ createOption: 'Copy' });
    expect(String(data.properties.creationData.sourceResourceId).toLowerCase()).toBe(templateId.toLowerCase());
  });
});
