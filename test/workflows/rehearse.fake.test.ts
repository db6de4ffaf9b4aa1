// `upgrade --rehearse` on the fake cloud, as each of the three clouds: the copy is made in
// production's zone from a snapshot, its instance of the target image has no public address and is
// reachable by SSH only through production (its one rule: production's private address), its
// /healthz is asked from inside over SSH, and everything it made is deleted — on success, on a
// failure, on a timeout and after a crash at any step (the next run deletes the rest). Production is
// compared byte for byte before and after, and no mutating call names it. Production's SSH closed,
// unreachable or with another host key refuses the rehearsal before anything is made.
//
// SSH here is a stand-in appliance (fakeSsh below): it answers the readiness wait's commands and the
// in-instance curl for the fake instance at the dialled address, serving the version its labels say.
// A rehearsal instance answers only over a forwarded channel of a connection to production (as a
// private address is reachable only from inside its network).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FakeCloud } from '../../src/cloud/fake/index.js';
import type { Deps } from '../../src/commands/deps.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runRehearse } from '../../src/commands/rehearse.js';
import { runBackup } from '../../src/commands/backup.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runPrune } from '../../src/commands/prune.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import type { RehearsalReport } from '../../src/workflows/rehearse.js';
import type { Remote } from '../../src/remote/remote.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const NAME = 'prod';
const PROFILES = ['aws', 'gcp', 'azure'] as const;
type Profile = (typeof PROFILES)[number];
const where = { region: REGION, providerFlags: {} };
const launchFlags = { ...where, size: 'XS', version: OLD, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: NAME, yes: true, holdSeconds: '0' };
const rehearseFlags = (extra: Record<string, unknown> = {}) => ({ ...where, to: NEW, rehearse: true, yes: true, holdSeconds: '0', timeout: '30', ...extra });

interface Appliance {
  /** What the rehearsal instance's /healthz answers (default: the version it is labelled with). */
  healthz?: (version: string) => { status: number; body: string };
  /** The boot status file's content on the rehearsal instance. */
  bootStatus?: string;
  /** How production answers SSH (default: it lets the key in). */
  production?: 'unreachable' | 'host-key-mismatch';
}

/** Every connection and forwarded channel, in order: `host` dialled, or `host via` a forwarded channel. */
type Dialled = string[];

/** SSH to a fake instance: the readiness wait's commands and the in-instance curl, by the dialled address. */
function fakeSsh(fake: FakeCloud, appliance: Appliance, dialled: Dialled): Deps['connectRemote'] {
  return async (t) => {
    dialled.push(t.sock ? `${t.host} via` : t.host);
    const at = () => fake.state.instances.find((i) => i.state === 'running' && (i.publicIp === t.host || i.privateIp === t.host));
    const found = at();
    if (!found) throw new LaunchError('ssh-unreachable', ExitCode.failed, `connect ${t.host}:22: connection refused`);
    // A private address is not reachable from here: only over a channel forwarded by an instance in its network.
    if (found.labels.role === 'rehearsal' && found.publicIp) dialled.push(`PUBLIC ${found.publicIp}`);
    if (found.labels.role === 'rehearsal' && !t.sock) throw new LaunchError('ssh-unreachable', ExitCode.failed, `connect ${t.host}:22: no route to host`);
    if (found.labels.role === 'instance' && appliance.production === 'unreachable') throw new LaunchError('ssh-unreachable', ExitCode.failed, `connect ${t.host}:22: connection timed out`);
    if (found.labels.role === 'instance' && appliance.production === 'host-key-mismatch') {
      throw new LaunchError('host-key-mismatch', ExitCode.failed, `The SSH host key of root@${t.host} does not match the key pinned for ${t.pinKey}`);
    }
    const remote: Remote = {
      forwardOut: async (host, port) => {
        dialled.push(`forward ${host}:${port}`);
        if (!fake.state.instances.some((i) => i.state === 'running' && i.privateIp === host)) throw new Error(`open failed: connect ${host}:${port}: connection refused`);
        return new PassThrough();
      },
      hostFingerprint: 'SHA256:fake',
      exec: async (command) => {
        const i = at();
        if (!i) throw new Error('connection lost');
        const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
        if (command.includes('curl')) {
          const path = /"http:\/\/\$h([^"]*)"/.exec(command)?.[1] ?? '';
          const rehearsal = i.labels.role === 'rehearsal';
          const answer = path === '/healthz' ? (rehearsal && appliance.healthz ? appliance.healthz(i.labels.version ?? '') : { status: 200, body: i.labels.version ?? '' }) : { status: 200, body: '{"needsSiteInit":false}' };
          return ok(`${answer.body}\n${answer.status}`);
        }
        if (command.includes('is-active k3s')) return ok('active\n');
        if (command.includes('get nodes')) return ok(JSON.stringify({ items: [{ metadata: { name: 'n' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }] }));
        if (command.includes('get pods')) return ok(JSON.stringify({ items: [{ status: { phase: 'Running', containerStatuses: [{ ready: true }] } }] }));
        if (command.includes('status.json')) return appliance.bootStatus && i.labels.role === 'rehearsal' ? ok(appliance.bootStatus) : { code: 1, stdout: '', stderr: 'No such file' };
        if (command.includes('.sourcegraph-version')) return ok(`${i.labels.version}\n${i.labels.version}\n`);
        return { code: 1, stdout: '', stderr: `unexpected: ${command}` };
      },
      upload: async () => undefined,
      close: async () => undefined,
    };
    return remote;
  };
}

// Cloud work takes cloud time (the fake's clock jumps on each wait's sleep), so every phase measures something.
const delays = { diskCreate: { polls: 2 }, snapshot: { polls: 3 }, instanceStart: { polls: 2 }, instanceStop: { polls: 2 } };

function rig(profile: Profile, appliance: Appliance = {}) {
  const fake = fakeCloudFor(profile, { images: publishedImages([OLD, NEW]), delays });
  const home = tempHome();
  const dialled: Dialled = [];
  const deps = (opts: { io?: ScriptedIo; crashAfter?: string; abortAfter?: string } = {}) => {
    const controller = new AbortController();
    const base = makeFakeDeps({
      fake,
      io: opts.io ?? new ScriptedIo([], false),
      home,
      ...(opts.crashAfter || opts.abortAfter
        ? {
            afterStep: (id: string) => {
              if (id === opts.crashAfter) throw new Error(`simulated crash after ${id}`);
              if (id === opts.abortAfter) controller.abort();
            },
          }
        : {}),
    });
    // The caller's public address: outside production's --ssh-cidr (203.0.113.7/32).
    return { ...base, signal: controller.signal, connectRemote: fakeSsh(fake, appliance, dialled), lookupPublicIp: async () => '198.51.100.23' } satisfies Deps;
  };
  return { fake, deps, dialled };
}

/** Production as the cloud shows it: its instance, disks, addresses, access policies, keys and snapshots (reads counted apart). */
function production(fake: FakeCloud, ids: { instanceId: string; snapshots: string[] }) {
  const s = fake.state;
  const inst = s.instances.find((i) => i.id === ids.instanceId)!;
  const { consoleCalls: _c, ...instance } = inst as typeof inst & { consoleCalls?: number };
  const diskIds = new Set(inst.disks.map((d) => d.diskId));
  return JSON.stringify({
    instance,
    disks: s.disks.filter((d) => diskIds.has(d.id)),
    addresses: s.addresses,
    policies: s.accessPolicies.filter((p) => inst.accessPolicyIds.includes(p.id)),
    keys: s.sshKeys.filter((k) => !k.labels.role || k.labels.role !== 'rehearsal'),
    snapshots: s.snapshots.filter((x) => ids.snapshots.includes(x.id)),
  });
}

async function launched(fake: FakeCloud, deps: ReturnType<ReturnType<typeof rig>['deps']>) {
  await runLaunch(deps, launchFlags);
  const inst = fake.state.instances.find((i) => i.labels.role === 'instance')!;
  return { instanceId: inst.id, dataDiskId: inst.disks.find((d) => d.role === 'data')!.diskId };
}

/** Nothing of any rehearsal is left: no instance alive, no copy, no policy, no key. */
function expectNothingLeft(fake: FakeCloud) {
  const s = fake.state;
  expect(s.instances.filter((i) => i.labels.role === 'rehearsal' && i.state !== 'terminated')).toEqual([]);
  expect(s.disks.filter((d) => d.labels.role === 'rehearsal-data' || (d.labels.operation ?? '').startsWith('rehearsal-'))).toEqual([]);
  expect(s.accessPolicies.filter((p) => p.labels.role === 'rehearsal')).toEqual([]);
  expect(s.sshKeys.filter((k) => k.labels.role === 'rehearsal')).toEqual([]);
}

/** No call that changes anything named a production resource (a snapshot of its data disk is a read). */
function expectNoWriteTo(fake: FakeCloud, since: number, prod: { instanceId: string; dataDiskId: string }, policyIds: string[]) {
  const ids = [prod.instanceId, prod.dataDiskId, ...policyIds, ...fake.state.addresses.map((a) => a.id)];
  const writes = fake.mutatingCalls().slice(since).filter((c) => c.method !== 'createSnapshot' && ids.some((id) => JSON.stringify(c.args).includes(`"${id}"`)));
  expect(writes.map((c) => c.method)).toEqual([]);
}

const rejection = async (p: Promise<unknown>) => p.then(() => expect.fail('expected the rehearsal to fail'), (e: unknown) => e as LaunchError);

describe.each(PROFILES)('as %s: upgrade --rehearse', (profile) => {
  it('serves the target version on a copy, reports the phases and the downtime, deletes the copy, leaves production as it was', async () => {
    const { fake, deps, dialled } = rig(profile);
    const prod = await launched(fake, deps());
    const prodInstance = fake.state.instances.find((i) => i.id === prod.instanceId)!;
    const before = production(fake, { instanceId: prod.instanceId, snapshots: [] });
    const since = fake.mutatingCalls().length;

    const io = new ScriptedIo([], false);
    const r = (await runRehearse(deps({ io }), NAME, rehearseFlags())) as RehearsalReport;

    expect(r).toMatchObject({ ok: true, from: OLD, to: NEW, instanceType: prodInstance.machineType, zone: prodInstance.zone, snapshot: { new: true, kept: true } });
    for (const phase of ['snapshotMs', 'diskRestoreMs', 'instanceStartMs', 'bootToServingMs', 'stopMs'] as const) expect(r.phases[phase], phase).toBeGreaterThan(0);
    expect(r.estimatedDowntimeMs).toBe(r.phases.stopMs! + r.phases.instanceStartMs! + r.phases.bootToServingMs!);
    expect(r.totalMs).toBeGreaterThanOrEqual(r.estimatedDowntimeMs! + r.phases.snapshotMs! + r.phases.diskRestoreMs!);
    expect(io.text()).toMatch(/The real upgrade will take about \d+ min \d+ s: stopping/);

    // What it made: a copy from the new snapshot in production's zone, an instance of the target image with it, SSH from the caller only.
    const snap = fake.state.snapshots.find((s) => s.id === r.snapshot.id)!;
    expect(snap.labels).toMatchObject({ deployment: NAME, purpose: 'backup', version: OLD });
    const made = fake.state.instances.find((i) => i.labels.role === 'rehearsal')!;
    expect(made.state).toBe('terminated');
    expect(made.zone).toBe(prodInstance.zone);
    expect(made.imageId).not.toBe(prodInstance.imageId);
    expect(made.labels).toMatchObject({ deployment: NAME, role: 'rehearsal', version: NEW });
    const policyCall = fake.calls.find((c) => c.method === 'ensureAccessPolicy' && JSON.stringify(c.args).includes('rehearsal'))!;
    expect((policyCall.args[0] as { rules: unknown }).rules).toEqual([{ port: 22, cidr: `${prodInstance.privateIp}/32` }]);
    // No public address: asked so of the cloud, and none while it ran; reached through production, over a forwarded channel to its private address.
    expect(fake.calls.find((c) => c.method === 'ensureInstance' && JSON.stringify(c.args).includes('rehearsal'))!.args[0]).toMatchObject({ publicIp: false });
    expect(dialled.filter((d) => d.startsWith('PUBLIC'))).toEqual([]);
    expect(dialled).toContain(`forward ${made.privateIp}:22`);
    expect(dialled).toContain(`${made.privateIp} via`);
    expect(dialled.filter((d) => d.startsWith(`${made.privateIp}`)).every((d) => d.endsWith(' via'))).toBe(true);
    expect(io.text()).toMatch(new RegExp(`no public address; one access rule: SSH from ${prodInstance.privateIp!.replace(/\./g, '\\.')}/32`));
    const diskCall = fake.calls.find((c) => c.method === 'createDiskFromSnapshot')!;
    expect(diskCall.args[0]).toMatchObject({ zone: prodInstance.zone, snapshotId: snap.id });
    expect(fake.calls.some((c) => c.method === 'ensureStaticAddress' && c.args.some((a) => JSON.stringify(a).includes('rehearsal')))).toBe(false);

    expectNothingLeft(fake);
    expect(production(fake, { instanceId: prod.instanceId, snapshots: [] })).toBe(before);
    expectNoWriteTo(fake, since, prod, prodInstance.accessPolicyIds);
    expect(deps().state.getDeployment('aws', REGION, NAME)?.journal?.command).toBe('launch');
  });

  it('uses a recent backup instead of taking a snapshot, and says how old it is; --delete-snapshot removes only one it took', async () => {
    const { fake, deps } = rig(profile);
    await launched(fake, deps());
    const backup = (await runBackup(deps(), NAME, { ...where, wait: true })) as { snapshotId: string };
    const io = new ScriptedIo([], false);
    const r = (await runRehearse(deps({ io }), NAME, rehearseFlags({ deleteSnapshot: true }))) as RehearsalReport;
    expect(r).toMatchObject({ ok: true, snapshot: { id: backup.snapshotId, new: false, kept: true }, phases: { snapshotMs: 0 } });
    expect(r.snapshot.age).toMatch(/min|h/);
    expect(io.text()).toMatch(new RegExp(`snapshot ${backup.snapshotId} of ${OLD}, \\d+ (min|h) old`));
    expect(fake.state.snapshots.map((s) => s.id)).toContain(backup.snapshotId);

    const fresh = (await runRehearse(deps(), NAME, rehearseFlags({ fromSnapshot: 'new', deleteSnapshot: true }))) as RehearsalReport;
    expect(fresh.snapshot).toMatchObject({ new: true, kept: false });
    expect(fake.state.snapshots.map((s) => s.id)).not.toContain(fresh.snapshot.id);
    expect(fake.state.snapshots.map((s) => s.id)).toContain(backup.snapshotId);
    expectNothingLeft(fake);
  });

  it('a failed migration: exit 1 with the boot status and console, everything deleted, production untouched', async () => {
    const status = '{"stage":"failed","targetVersion":"6.12.5040","lastError":"migration 1712 failed: column exists"}';
    const { fake, deps } = rig(profile, { healthz: () => ({ status: 502, body: 'Bad Gateway' }), bootStatus: status });
    const prod = await launched(fake, deps());
    const before = production(fake, { instanceId: prod.instanceId, snapshots: [] });
    const e = await rejection(runRehearse(deps(), NAME, rehearseFlags()));
    expect(e.exitCode).toBe(ExitCode.failed);
    expect(e.code).toBe('provisioning-failed');
    const report = e.details?.report as RehearsalReport;
    expect(report).toMatchObject({ ok: false, failure: { code: 'provisioning-failed', bootStatus: status } });
    expect(report.failure!.message).toMatch(/migration 1712 failed/);
    expect(report.estimatedDowntimeMs).toBeUndefined();
    expect(report.cleanup.failed).toEqual([]);
    expectNothingLeft(fake);
    expect(production(fake, { instanceId: prod.instanceId, snapshots: [] })).toBe(before);
  });

  it('a copy that never serves the target version: exit 4 after cleanup, with the last observation', async () => {
    const { fake, deps } = rig(profile, { healthz: () => ({ status: 200, body: OLD }) });
    await launched(fake, deps());
    const e = await rejection(runRehearse(deps(), NAME, rehearseFlags({ timeout: '6' })));
    expect(e.exitCode).toBe(ExitCode.timedOut);
    const report = e.details?.report as RehearsalReport;
    expect(report.failure).toMatchObject({ exitCode: ExitCode.timedOut, stage: 'http-version' });
    expect(report.failure!.message).toMatch(/serving 6\.11\.0, waiting for 6\.12\.5040/);
    expectNothingLeft(fake);
  });
});

describe.each(PROFILES)('as %s: an interrupted rehearsal', (profile) => {
  const steps = ['snapshot', 'access-policy', 'restore-disk', 'launch-instance', 'attach-data', 'instance-running', 'wait-for-version'];

  it.each(steps)('crash after %s: the next rehearsal deletes what it left first, then rehearses; production untouched', async (step) => {
    const { fake, deps } = rig(profile);
    const prod = await launched(fake, deps());
    const before = production(fake, { instanceId: prod.instanceId, snapshots: [] });
    const since = fake.mutatingCalls().length;
    await rejection(runRehearse(deps({ crashAfter: step }), NAME, rehearseFlags()));
    // A crash (a thrown error from the seam) is a failure of the rehearsal: it still cleans up.
    expectNothingLeft(fake);

    const io = new ScriptedIo([], false);
    const r = (await runRehearse(deps({ io }), NAME, rehearseFlags())) as RehearsalReport;
    expect(r.ok).toBe(true);
    expectNothingLeft(fake);
    expect(production(fake, { instanceId: prod.instanceId, snapshots: [] })).toBe(before);
    expectNoWriteTo(fake, since, prod, fake.state.instances.find((i) => i.id === prod.instanceId)!.accessPolicyIds);
  });

  it.each(steps)('Ctrl-C after %s: exit 130 after deleting what it made', async (step) => {
    const { fake, deps } = rig(profile);
    const prod = await launched(fake, deps());
    const before = production(fake, { instanceId: prod.instanceId, snapshots: [] });
    const e = await rejection(runRehearse(deps({ abortAfter: step }), NAME, rehearseFlags()));
    expect(e.exitCode).toBe(ExitCode.interrupted);
    expect(e.message).toMatch(/Everything it made was deleted/);
    expectNothingLeft(fake);
    expect(production(fake, { instanceId: prod.instanceId, snapshots: [] })).toBe(before);
  });
});

describe('as aws: leftovers a rehearsal could not delete', () => {
  it('are reported, kept in the journal, deleted first by the next rehearsal; destroy removes them with the deployment', async () => {
    const { fake, deps } = rig('aws');
    await launched(fake, deps());
    // The cloud refuses to terminate anything for a while: the cleanup cannot finish.
    fake.inject({ method: 'terminateInstance', kind: 'network', times: 3 });
    const failed = await rejection(runRehearse(deps({ crashAfter: 'wait-for-version' }), NAME, rehearseFlags()));
    const report = failed.details?.report as RehearsalReport;
    const made = fake.state.instances.find((i) => i.labels.role === 'rehearsal')!;
    expect(report.cleanup.failed.map((f) => f.id)).toContain(made.id);
    expect(made.state).not.toBe('terminated');
    fake.clearFaults();
    // prune lists them as a rehearsal's, keeps them, and never takes them for the way back.
    const pruned = await runPrune(deps(), NAME, { ...where, dryRun: true });
    const copy = fake.state.disks.find((d) => d.labels.role === 'rehearsal-data')!;
    expect(pruned.items.map((i) => i.id)).not.toContain(made.id);
    expect(pruned.kept.filter((i) => i.id === made.id || i.id === copy.id).map((i) => [i.kind, i.reason.slice(0, 28)])).toEqual([
      ['instance', 'made by `upgrade --rehearse`'],
      ['volume', 'made by `upgrade --rehearse`'],
    ]);

    const io = new ScriptedIo([], false);
    const r = (await runRehearse(deps({ io }), NAME, rehearseFlags())) as RehearsalReport;
    expect(r.leftoversRemoved).toContain(made.id);
    expect(io.text()).toMatch(/did not finish its cleanup: finishing it first/);
    expect(io.text()).toMatch(new RegExp(`Deleted what an earlier rehearsal left: .*${made.id}`));
    expectNothingLeft(fake);

    // Leftovers again, then destroy: they go with the deployment, the copy of the data too.
    fake.inject({ method: 'terminateInstance', kind: 'network', times: 3 });
    await rejection(runRehearse(deps({ crashAfter: 'wait-for-version' }), NAME, rehearseFlags()));
    fake.clearFaults();
    await runDestroy(deps(), NAME, { ...where, yes: true });
    expectNothingLeft(fake);
  });

  it('bad input is exit 2 before any change: a snapshot that is not the deployment\'s', async () => {
    const { fake, deps } = rig('aws');
    await launched(fake, deps());
    const since = fake.mutatingCalls().length;
    const snap = await rejection(runRehearse(deps(), NAME, rehearseFlags({ fromSnapshot: 'snap-00000000000000099' })));
    expect([snap.code, snap.exitCode]).toEqual(['snapshot-not-found', ExitCode.badInput]);
    expect(fake.mutatingCalls().length).toBe(since);
  });

  it('--dry-run shows the plan (snapshot, zone, type, image, the one rule) and makes nothing', async () => {
    const { fake, deps } = rig('aws');
    await launched(fake, deps());
    const since = fake.mutatingCalls().length;
    const io = new ScriptedIo([], false);
    expect(await runRehearse(deps({ io }), NAME, rehearseFlags({ dryRun: true, instanceType: 'm6a.4xlarge' }))).toEqual({ dryRun: true });
    expect(io.text()).toMatch(/Instance: m6a\.4xlarge in us-east-1a, image \S+; no public address; one access rule: SSH from 10\.0\.\d+\.\d+\/32 \(production's private address\) only/);
    expect(io.text()).toMatch(/Reached over SSH through production's instance i-\w+ \(\d+\.\d+\.\d+\.\d+\), which only relays the connection/);
    expect(io.text()).toMatch(/a new snapshot of \S+ while production keeps serving \(no completed snapshot of prod's 6\.11\.0 data\)/);
    expect(fake.mutatingCalls().length).toBe(since);
  });
});

describe.each(PROFILES)("as %s: production's SSH not usable", (profile) => {
  it('closed (--ssh-cidr none): exit 1 before anything is made, with the command that opens it to your address only; --dry-run says so', async () => {
    const { fake, deps } = rig(profile);
    await runLaunch(deps(), { ...launchFlags, sshCidr: ['none'] });
    const since = fake.mutatingCalls().length;
    const e = await rejection(runRehearse(deps(), NAME, rehearseFlags()));
    expect([e.code, e.exitCode]).toEqual(['ssh-closed', ExitCode.failed]);
    expect(e.message).toMatch(/The rehearsal reaches its copy \(which has no public address\) over SSH through prod's instance, and cannot: SSH to prod is closed.* Nothing was made\./);
    expect(e.remediation).toMatch(/Open it to your address only .*launch prod .*--ssh-cidr \S+\/32 .*--update/);
    expect(fake.mutatingCalls().length).toBe(since);
    expectNothingLeft(fake);
    const io = new ScriptedIo([], false);
    expect(await runRehearse(deps({ io }), NAME, rehearseFlags({ dryRun: true }))).toEqual({ dryRun: true });
    expect(io.text()).toMatch(/The rehearsal would refuse to start: SSH to prod is closed/);
  });

  it('not answering (your address is not let in): exit 1 before anything is made, saying how to let your address in', async () => {
    const appliance: Appliance = {};
    const { fake, deps } = rig(profile, appliance);
    await launched(fake, deps());
    appliance.production = 'unreachable';
    const since = fake.mutatingCalls().length;
    const e = await rejection(runRehearse(deps(), NAME, rehearseFlags()));
    expect([e.code, e.exitCode]).toEqual(['ssh-not-open-to-you', ExitCode.failed]);
    expect(e.message).toMatch(/SSH is open only to 203\.0\.113\.7\/32, and your address \S+ is not among them\. Nothing was made\./);
    expect(e.remediation).toMatch(/--ssh-cidr 203\.0\.113\.7\/32,\S+\/32 --update/);
    expect(fake.mutatingCalls().length).toBe(since);
    expectNothingLeft(fake);
  });

  it('another host key than the pinned one: exit 1 as ssh does, before anything is made', async () => {
    const appliance: Appliance = {};
    const { fake, deps } = rig(profile, appliance);
    await launched(fake, deps());
    appliance.production = 'host-key-mismatch';
    const since = fake.mutatingCalls().length;
    const e = await rejection(runRehearse(deps(), NAME, rehearseFlags()));
    expect([e.code, e.exitCode]).toEqual(['host-key-mismatch', ExitCode.failed]);
    expect(fake.mutatingCalls().length).toBe(since);
    expectNothingLeft(fake);
  });
});
