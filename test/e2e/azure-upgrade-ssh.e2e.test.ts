// Azure's day-two path with SSH open, end to end: the real CLI process → the ARM emulator
// (test/support/azure-e2e.ts) and a test host with a real sshd that accepts Azure's login user
// `sourcegraph`. Unlike azure-lifecycle.e2e.test.ts (SSH closed, HTTP waits only), here the upgrade
// reads both version files over SSH with the host key pinned from boot diagnostics, and
// backup → backups → restore → prune run through the real CLI. The test switches the host's
// version when the CLI starts the step that makes another VM serve (as the AWS and GCE tests do).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { galleryImageFor } from '../support/arm-emulator/gallery-image.js';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { runCli, type CliOptions } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const HOST_ADDRESS = '10.200.157.2';
const GROUP = 'sl-upssh';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let host: TestHost;
let dir: string;
let publicKeyPath: string;

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
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-upssh-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1, loginUsers: ['sourcegraph'] });
  azure = await startAzureE2e(dir, { serialLog: () => host.consoleOutput('ubuntu') });
});

afterAll(async () => {
  await host?.stop();
  await azure?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], home: string, extra: CliOptions = {}) => runCli(args, { home, timeoutMs: 180_000, env: azure.env, ...extra });
const resources = (type: string) => azure.arm.control.state().resources.filter((r) => r.type === type && r.resourceGroup.toLowerCase() === GROUP.toLowerCase());
const vmsOf = (name: string) => resources('Microsoft.Compute/virtualMachines').filter((v) => v.tags?.['sourcegraph-launch:deployment'] === name);

describe('Azure with SSH open: upgrade reads the version files over SSH; backup → backups → restore → prune with the real CLI', () => {
  it('upgrade checks both version files over SSH (host key pinned), rollback, then backup, restore into a copy and prune', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-upssh-home-'));
    const oldImage = await galleryImageFor(azure.client, OLD);
    const newImage = await galleryImageFor(azure.client, NEW);
    azure.arm.control.nextPublicIps(HOST_ADDRESS);
    quickBoot(OLD);
    const launched = await cli(
      ['launch', 'up', ...where, '--size', 'XS', '--version', OLD, '--image', oldImage, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--hold-seconds', '0', '--yes', '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const l = launched.json<{ instanceId: string }>();

    // The data disk says another version than the image (an upgrade that did not finish on the
    // instance): read over SSH, refused before anything is made.
    writeFileSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-version'), '6.10.0\n');
    const resourcesBefore = azure.arm.control.state().resources.length;
    const refused = await cli(['upgrade', 'up', ...where, '--to', NEW, '--image', newImage, '--yes', '--json'], home);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.json()).toMatchObject({ error: { code: 'version-files-disagree', message: `The version files disagree with ${OLD}: image ${OLD}, data 6.10.0` } });
    expect(azure.arm.control.state().resources.length).toBe(resourcesBefore);
    writeFileSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-version'), `${OLD}\n`);

    const execsBefore = host.execLog().length;
    const up = await cli(['upgrade', 'up', ...where, '--to', NEW, '--image', newImage, '--yes', '--hold-seconds', '0', '--init-rate', '0', '--json'], home, {
      onOutput: switchVersionOn(new RegExp(`Stop the ${OLD.replace(/\./g, '\\.')} instance`), NEW),
    });
    expect(up.code, up.stderr).toBe(0);
    expect(up.json()).toMatchObject({ from: OLD, to: NEW, strategy: 'clone', url: `http://${HOST_ADDRESS}` });
    // The version files were read over SSH as Azure's login user, before (OLD) and after (NEW).
    const upgradeExecs = host.execLog().slice(execsBefore).join('\n');
    expect(upgradeExecs).toMatch(/\.sourcegraph-version/);
    expect(host.sshdLog()).toMatch(/Accepted publickey for sourcegraph from/);
    const fresh = vmsOf('up').find((v) => v.id !== l.instanceId)!;
    expect(fresh.tags).toMatchObject({ 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': NEW });

    const back = await cli(['rollback', 'up', ...where, '--yes', '--hold-seconds', '0', '--json'], home, { onOutput: switchVersionOn(new RegExp(`Start \\S+ \\(${OLD.replace(/\./g, '\\.')}\\)`), OLD) });
    expect(back.code, back.stderr).toBe(0);
    expect(back.json()).toMatchObject({ version: OLD, instanceId: l.instanceId, upgradedInstanceId: fresh.id });

    const backup = await cli(['backup', 'up', ...where, '--json'], home);
    expect(backup.code, backup.stderr).toBe(0);
    const snapshotId = backup.json<{ snapshotId: string }>().snapshotId;
    expect(snapshotId).toMatch(/\/providers\/Microsoft\.Compute\/snapshots\//);
    const listed = await cli(['backups', 'up', ...where, '--json'], home);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json<{ backups: { snapshotId: string; purpose: string; version: string }[] }>().backups).toEqual(
      expect.arrayContaining([expect.objectContaining({ snapshotId, purpose: 'backup', version: OLD })]),
    );

    // Restore into a staging copy: a new VM at the snapshot's version with a data disk made from it.
    // The images here were not made by build-image, so restore cannot find one by version: it says so
    // before creating anything, naming both ways out, and --image gives it.
    const before = azure.arm.control.state().resources.length;
    const noImage = await cli(['restore', 'up-copy', ...where, '--snapshot', snapshotId, '--yes', '--json'], home);
    expect(noImage.code).toBe(1);
    expect(noImage.json()).toMatchObject({ error: { code: 'missing-images', message: `No image for ${OLD} in eastus` } });
    expect(noImage.stderr).toMatch(/or name the image of 6\.11\.0 you launched from: --image \/subscriptions\//);
    expect(azure.arm.control.state().resources.length).toBe(before);
    azure.arm.control.nextPublicIps('198.51.100.77');
    const restore = await cli(['restore', 'up-copy', ...where, '--snapshot', snapshotId, '--image', oldImage, '--yes', '--no-wait', '--json'], home);
    expect(restore.code, restore.stderr).toBe(0);
    const [copy, ...moreCopies] = vmsOf('up-copy');
    expect(moreCopies).toEqual([]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const storage = (copy!.properties as any).storageProfile;
    expect(storage.imageReference.id.toLowerCase()).toBe(oldImage.toLowerCase());
    const copyDataId = storage.dataDisks.find((d: { lun: number }) => d.lun === 0).managedDisk.id as string;
    const copyData = resources('Microsoft.Compute/disks').find((d) => d.id.toLowerCase() === copyDataId.toLowerCase())!;
    expect(copyData.properties.creationData).toMatchObject({ sourceResourceId: snapshotId });

    // prune removes the upgrade's leftovers (the deallocated upgraded VM, the upgrade's snapshots) and keeps the backup.
    const pruned = await cli(['prune', 'up', ...where, '--yes', '--json'], home);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(vmsOf('up').map((v) => v.id)).toEqual([l.instanceId]);
    const kept = resources('Microsoft.Compute/snapshots').filter((s) => s.tags?.['sourcegraph-launch:deployment'] === 'up').map((s) => s.id.toLowerCase());
    expect(kept).toEqual([snapshotId.toLowerCase()]);

    for (const name of ['up-copy', 'up']) {
      const destroyed = await cli(['destroy', name, ...where, '--yes', '--json'], home);
      expect(destroyed.code, destroyed.stderr).toBe(0);
    }
    expect(resources('Microsoft.Compute/virtualMachines')).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });
});
