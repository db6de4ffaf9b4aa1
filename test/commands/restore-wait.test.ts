// restore waits like launch and upgrade (issue 15): until the restored instance serves the
// snapshot's version (/healthz), bounded by --timeout (exit 4, nothing undone, the same command
// resumes), or not at all with --no-wait. On the fake cloud with a fake appliance answering /healthz
// with the version label of the running instance at the asked address.
import { describe, expect, it } from 'vitest';
import type { FakeCloud } from '../../src/cloud/fake/index.js';
import { runBackup } from '../../src/commands/backup.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRestore } from '../../src/commands/restore.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode } from '../../src/core/errors.js';
import { HttpProbeError } from '../../src/engine/http-probe.js';
import type { BackupResult } from '../../src/workflows/backup.js';
import type { RestoreResult } from '../../src/workflows/restore.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeAppliance, fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.11.0';
const NAME = 'prod';
const where = { region: REGION, providerFlags: {} };

/** A launched deployment with a completed backup whose instance then failed (stopped): ready to restore. */
async function rig() {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const appliance = fakeAppliance(fake);
  /** Addresses whose /healthz refuses (an instance that never comes up). */
  const dead = new Set<string>();
  const httpGet: Deps['httpGet'] = async (url, opts) => {
    if (dead.has(new URL(url).hostname)) throw new HttpProbeError(url, 'connection refused (ECONNREFUSED)', 'ECONNREFUSED');
    return appliance.httpGet(url, opts);
  };
  const deps = (io = new ScriptedIo([], false)) => makeFakeDeps({ fake, io, home, httpGet });
  const launched = (await runLaunch(deps(), { ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name: NAME, yes: true, holdSeconds: '0' })) as LaunchResult;
  const backup = (await runBackup(deps(), NAME, { ...where, wait: true })) as BackupResult;
  await fake.stopInstance(launched.instanceId);
  fake.settle();
  return { fake, deps, appliance, dead, launched, snapshot: backup.snapshotId };
}

const running = (fake: FakeCloud) => fake.state.instances.filter((i) => i.deployment === NAME && i.state === 'running');

describe('restore waits until the restored instance serves', () => {
  it('by default: asks /healthz at the URL until it reports the snapshot\'s version, and says ready', async () => {
    const { fake, deps, appliance, launched, snapshot } = await rig();
    const io = new ScriptedIo([], false);
    const asked = appliance.asked.length;
    const restored = (await runRestore(deps(io), NAME, { ...where, snapshot, yes: true })) as RestoreResult;
    expect(restored).toMatchObject({ ready: true, version: VERSION, publicIp: launched.publicIp, url: `http://${launched.publicIp}` });
    expect(running(fake).map((i) => i.id)).toEqual([restored.instanceId]);
    expect(appliance.asked.slice(asked)).toContain(`http://${launched.publicIp}/healthz`);
    expect(io.text()).toContain(`${VERSION} serving`);
    expect(io.text()).toMatch(/serves 6\.11\.0 at http:\/\//);
  });

  it('--timeout: exit 4 when it never serves, naming what to check; nothing undone, and the same command resumes the wait', async () => {
    const { fake, deps, dead, launched, snapshot } = await rig();
    dead.add(launched.publicIp!);
    const started = fake.clock.now();
    const error = await runRestore(deps(), NAME, { ...where, snapshot, yes: true, timeout: '2' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: ExitCode.timedOut, code: 'wait-timeout' });
    expect((error as Error & { remediation?: string }).remediation).toContain(`restore ${NAME} --region ${REGION} --snapshot ${snapshot}`);
    // Bounded by --timeout (2 minutes of the fake's clock), not by the old fixed 45.
    expect(fake.clock.now() - started).toBeLessThan(10 * 60_000);
    // Nothing undone: the restored instance runs, with its data disk and the address.
    const [made] = running(fake);
    expect(made).toMatchObject({ labels: { role: 'instance', version: VERSION }, publicIp: launched.publicIp });
    // It comes up: the re-run goes on with the instance it made and finishes ready.
    dead.clear();
    const restored = (await runRestore(deps(), NAME, { ...where, snapshot, yes: true })) as RestoreResult;
    expect(restored).toMatchObject({ instanceId: made!.id, ready: true });
    expect(running(fake)).toHaveLength(1);
  });

  it('--no-wait: returns once the instance runs, without asking /healthz, ready false', async () => {
    const { fake, deps, appliance, dead, launched, snapshot } = await rig();
    dead.add(launched.publicIp!);
    const asked = appliance.asked.length;
    const io = new ScriptedIo([], false);
    const restored = (await runRestore(deps(io), NAME, { ...where, snapshot, yes: true, wait: false })) as RestoreResult;
    expect(restored).toMatchObject({ ready: false, version: VERSION });
    expect(restored.url).toBeUndefined();
    expect(running(fake).map((i) => i.id)).toEqual([restored.instanceId]);
    expect(appliance.asked.slice(asked)).toEqual([]);
    expect(io.text()).toMatch(/takes a few minutes to start \(--no-wait\)/);
  });

  it('refuses a --timeout that is not a number of minutes before any cloud call', async () => {
    const { fake, deps, snapshot } = await rig();
    const calls = fake.calls.length;
    await expect(runRestore(deps(), NAME, { ...where, snapshot, yes: true, timeout: 'soon' })).rejects.toMatchObject({ exitCode: ExitCode.badInput });
    expect(fake.calls.length).toBe(calls);
  });
});
