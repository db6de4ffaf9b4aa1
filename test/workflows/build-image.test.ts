// The build-image workflow in-process: the AWS adapter on moto for the cloud, a recording Remote for
// the SSH part (no script runs), and once a real test host (real sshd) reached through the user's
// address, as the e2e test does. Outcomes are read straight from moto with the SDK client.
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import type { Cloud, InstanceSpec } from '../../src/cloud/port.js';
import type { Deps } from '../../src/commands/deps.js';
import { CloudError, ExitCode, InterruptedError, LaunchError } from '../../src/core/errors.js';
import { buildImage, type BuildImageOptions, type BuildImageResult } from '../../src/workflows/build-image.js';
import { failed, ok, RecordingRemoteHost, type RecordedExec } from '../fakes/recording-remote.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { allocateTestAddress, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { ROOT } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.13.100';
const BUILD = `${VERSION}-xs`;
const AL2023 = 'ami-0a12023000000002';
const REGION = 'us-east-1';
const FINGERPRINT = `SHA256:${'C'.repeat(43)}`;
const FAKE_CONSOLE = ['-----BEGIN SSH HOST KEY FINGERPRINTS-----', `256 ${FINGERPRINT} root@builder (ED25519)`, '-----END SSH HOST KEY FINGERPRINTS-----', ''].join('\n');

let moto: MotoServer;
let ec2: EC2Client;
let workDir: string;
let stubProvisionDir: string;
/** What GetConsoleOutput answers: fingerprints for the recording remote, the test host's real ones for it. */
let consoleText: () => string = () => FAKE_CONSOLE;

const STUB_BUILD = `#!/usr/bin/env bash
set -euo pipefail
echo "stub build.sh $*"
if [[ -f /var/log/fail-build ]]; then echo "ERROR: k3s checksum mismatch (stub)" >&2; exit 4; fi
echo "build complete: Sourcegraph (stub)"
`;
const STUB_SEAL = `#!/usr/bin/env bash
echo "stub seal-image.sh $*"
touch /var/log/sealed
`;

beforeAll(async () => {
  moto = await startMoto({
    consoleOutput: () => consoleText(),
    images: [
      { id: AL2023, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', ownerId: '137112412989' },
      { id: 'ami-0a12023000000001', name: 'al2023-ami-2023.5.20240805.0-kernel-6.1-x86_64', ownerId: '137112412989' },
    ],
  });
  ec2 = motoEc2Client(moto);
  workDir = mkdtempSync(join(tmpdir(), 'sgl-build-wf-'));
  // The real build.sh and seal-image.sh would change the machine that runs them: stubs instead.
  stubProvisionDir = join(workDir, 'provision');
  cpSync(join(ROOT, 'provision'), stubProvisionDir, { recursive: true });
  writeFileSync(join(stubProvisionDir, 'build.sh'), STUB_BUILD);
  writeFileSync(join(stubProvisionDir, 'seal-image.sh'), STUB_SEAL);
  chmodSync(join(stubProvisionDir, 'build.sh'), 0o755);
});

afterAll(async () => {
  await moto?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
  consoleText = () => FAKE_CONSOLE;
});

const options = (extra: Partial<BuildImageOptions> = {}): BuildImageOptions => ({
  provider: awsProvider,
  region: REGION,
  version: VERSION,
  size: 'XS',
  sshCidrs: ['203.0.113.7/32'],
  sshUser: 'ec2-user',
  timeoutMinutes: 30,
  ...extra,
});

/** What the builder answers: the upload directory, then build.sh (streamed), the seal and the removal. */
function builderScript(o: { failBuild?: boolean; onBuild?: () => void } = {}): RecordedExec {
  return (command) => {
    if (command.startsWith('mktemp -d')) return ok('/tmp/sourcegraph-launch-build.Ab12Cd\n');
    if (command.startsWith('mkdir -p ') || command.startsWith('sudo rm -rf ')) return ok();
    if (/\/provision\/build\.sh /.test(command)) {
      o.onBuild?.();
      return o.failBuild ? failed(4, 'pulling images\nERROR: k3s checksum mismatch (stub)\n') : ok('pulling images\nbuild complete: Sourcegraph (stub)\n');
    }
    if (/\/provision\/seal-image\.sh --yes/.test(command)) return ok('sealed\n');
    return failed(127, '', `unexpected command: ${command}`);
  };
}

interface Setup {
  home: string;
  io: ScriptedIo;
  deps: Deps;
  cloud: Cloud;
  remote: RecordingRemoteHost;
  calls: string[];
}

/** Deps on moto with a recording remote; `calls` lists every port verb the workflow called. */
async function setup(o: { home?: string; remote?: RecordingRemoteHost; afterStep?: Deps['afterStep']; wrapCloud?: (c: Cloud) => Cloud; signal?: AbortSignal; realSsh?: boolean } = {}): Promise<Setup> {
  const home = o.home ?? tempHome();
  const io = new ScriptedIo([], false);
  const calls: string[] = [];
  const record = (cloud: Cloud): Cloud =>
    new Proxy(cloud, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const remote = o.remote ?? new RecordingRemoteHost(builderScript());
  const base = makeDeps({ endpoint: moto.endpoint, io, home, provisionDir: stubProvisionDir, wrapCloud: (c) => record(o.wrapCloud ? o.wrapCloud(c) : c), ...(o.afterStep ? { afterStep: o.afterStep } : {}) });
  const deps: Deps = { ...base, ...(o.realSsh ? {} : { connectRemote: remote.connect }), ...(o.signal ? { signal: o.signal } : {}) };
  const cloud = await deps.connect(awsProvider, awsProvider.scope(REGION, {}, {}));
  return { home, io, deps, cloud, remote, calls };
}

/**
 * Stops a run right after a step's work, before its journal records it, as SIGKILL does in the e2e
 * test: the run never continues (its promise never settles) and its lock is left behind, stale.
 */
async function killedAfter(step: string, run: (afterStep: Deps['afterStep']) => Promise<unknown>, home: string): Promise<void> {
  let reached!: () => void;
  const killed = new Promise<void>((resolve) => (reached = resolve));
  const outcome = run((id) => {
    if (id !== step) return undefined;
    reached();
    return new Promise<void>(() => undefined);
  }).then(
    () => 'finished',
    (e: unknown) => e,
  );
  const first = await Promise.race([killed.then(() => 'killed'), outcome]);
  expect(first).toBe('killed');
  // The dead process's lock: the next run on this machine finds its owner gone.
  rmSync(join(home, 'locks'), { recursive: true, force: true });
}

const buildFilter = [{ Name: 'tag:sourcegraph-launch:build', Values: [BUILD] }];

async function builders(opts: { includeTerminated?: boolean } = {}) {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: buildFilter }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => opts.includeTerminated || i.State?.Name !== 'terminated');
}

async function leftovers() {
  const [groups, keyPairs, images, volumes] = await Promise.all([
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: buildFilter })),
    ec2.send(new DescribeKeyPairsCommand({ Filters: buildFilter })),
    ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter })),
    ec2.send(new DescribeVolumesCommand({ Filters: buildFilter })),
  ]);
  return {
    builders: (await builders()).map((i) => i.InstanceId),
    securityGroups: (groups.SecurityGroups ?? []).map((g) => g.GroupId),
    keyPairs: (keyPairs.KeyPairs ?? []).map((k) => k.KeyName),
    images: (images.Images ?? []).map((i) => i.ImageId),
    volumes: (volumes.Volumes ?? []).filter((v) => v.State !== 'deleted').map((v) => v.VolumeId),
  };
}
const NOTHING_LEFT = { builders: [], securityGroups: [], keyPairs: [], images: [], volumes: [] };

const keyPathIn = (home: string) => join(home, 'keys', `build-aws-${REGION}-${BUILD}`);
const journalsIn = (home: string) => (existsSync(join(home, 'builds')) ? readdirSync(join(home, 'builds')).filter((f) => f.endsWith('.json')) : []);
const succeeded = (io: ScriptedIo) => io.outcomes('succeed');

describe('build-image workflow', () => {
  it('builds a labelled image from the newest base image, provisions over SSH, and removes every temporary resource', async () => {
    const s = await setup();
    const result = await buildImage(s.deps, s.cloud, options());
    expect(result).toMatchObject({ region: REGION, version: VERSION, size: 'XS', alreadyBuilt: false, imageId: expect.stringMatching(/^ami-/) });
    expect(result.imageName).toMatch(/^sourcegraph-launch-6\.13\.100-XS-\d{8}T\d{6}Z$/);

    // The image carries what launch and upgrade look for, and the build's own labels.
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [result.imageId] }))).Images ?? [];
    expect(image!.State).toBe('available');
    const tags = tagMap(image!.Tags);
    expect(tags).toMatchObject({
      'sourcegraph-launch:role': 'image',
      'sourcegraph-launch:version': VERSION,
      'sourcegraph-launch:size': 'XS',
      'sourcegraph-launch:source-commit': result.sourceCommit,
      'sourcegraph-launch:build': BUILD,
      'sourcegraph-launch:managed': 'true',
      Name: result.imageName,
    });
    const runId = tags['sourcegraph-launch:build-run']!;
    expect(runId).toMatch(/^[0-9a-f]{12}$/);
    // Its snapshots are labelled like it, so they are attributable in the console.
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    expect(snapshots.filter((x) => tagMap(x.Tags)['sourcegraph-launch:build-run'] === runId).length).toBeGreaterThan(0);
    // launch and upgrade find it through the port exactly like a published image.
    expect(await s.cloud.findImage({ version: VERSION, size: 'XS' })).toMatchObject({ id: result.imageId, source: 'built', version: VERSION });

    // One builder, from the newest base image, provisioned, terminated; nothing else is left.
    const [builder, ...more] = await builders({ includeTerminated: true });
    expect(more).toEqual([]);
    expect(builder).toMatchObject({ ImageId: AL2023, InstanceType: 'm6a.2xlarge', State: { Name: 'terminated' } });
    expect(tagMap(builder!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'builder', 'sourcegraph-launch:build-run': runId, 'sourcegraph-launch:provisioned': 'true' });
    expect({ ...(await leftovers()), images: [] }).toEqual(NOTHING_LEFT);
    expect(result.removed).toEqual([
      `builder ${builder!.InstanceId} with its volumes`,
      expect.stringMatching(/^security group sg-/),
      `key pair sourcegraph-launch-build-${BUILD}-${runId}`,
    ]);

    // Over SSH: the build key, the console's fingerprints, then exactly the production commands.
    expect(s.remote.targets).toEqual([
      expect.objectContaining({ host: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/), user: 'ec2-user', privateKeyPath: keyPathIn(s.home), pinKey: `build:${builder!.InstanceId}`, expectedFingerprints: [FINGERPRINT] }),
    ]);
    expect(s.remote.commands).toEqual([
      'mktemp -d /tmp/sourcegraph-launch-build.XXXXXX',
      expect.stringMatching(/^mkdir -p \/tmp\/sourcegraph-launch-build\.Ab12Cd\/provision /),
      `sudo bash /tmp/sourcegraph-launch-build.Ab12Cd/provision/build.sh --version ${VERSION} --size XS --cloud aws 2>&1`,
      'sudo bash /tmp/sourcegraph-launch-build.Ab12Cd/provision/seal-image.sh --yes 2>&1',
      'sudo rm -rf /tmp/sourcegraph-launch-build.Ab12Cd',
    ]);
    const uploaded = Object.fromEntries(s.remote.uploads.map((u) => [u.remotePath.replace('/tmp/sourcegraph-launch-build.Ab12Cd/', ''), u.mode]));
    expect(uploaded).toMatchObject({ 'provision/build.sh': 0o755, 'provision/versions.env': 0o644, 'presets/helm/XS.yaml': 0o644, 'presets/helm/XL.yaml': 0o644, 'presets/helm/common.yaml': 0o644 });
    expect(s.remote.openConnections()).toBe(0);
    // build.sh's log is streamed.
    expect(s.io.updates('build.sh')).toEqual(['pulling images', 'build complete: Sourcegraph (stub)']);
    expect(s.io.progressTitles().slice(0, 3)).toEqual(['Temporary SSH key pair', 'Temporary security group', `Builder instance (m6a.2xlarge, ${AL2023})`]);

    // The journal and the build key go once the builder is gone.
    expect(journalsIn(s.home)).toEqual([]);
    expect(existsSync(keyPathIn(s.home))).toBe(false);

    // A second run finds the image and builds nothing.
    const again = await setup();
    expect(await buildImage(again.deps, again.cloud, options())).toMatchObject({ imageId: result.imageId, alreadyBuilt: true, removed: [] });
    expect(again.calls).not.toContain('ensureInstance');
    expect(await builders({ includeTerminated: true })).toHaveLength(1);
  });

  it('gives the builder the user\'s address, reaches it there, and only detaches it at the end', async () => {
    const allocationId = await allocateTestAddress(ec2, '198.51.100.20');
    const s = await setup();
    const result = await buildImage(s.deps, s.cloud, options({ address: allocationId }));
    expect(s.remote.targets.map((t) => t.host)).toEqual(['198.51.100.20']);
    expect(result.removed[0]).toBe(`association of your address ${allocationId} (the address is kept)`);
    const [address] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses ?? [];
    expect(address).toMatchObject({ PublicIp: '198.51.100.20' });
    expect(address!.InstanceId).toBeFalsy();
  });

  it('a failing build.sh exits 1 with its log tail, and everything this run created is removed', async () => {
    const allocationId = await allocateTestAddress(ec2, '198.51.100.21');
    const s = await setup({ remote: new RecordingRemoteHost(builderScript({ failBuild: true })) });
    const err = await buildImage(s.deps, s.cloud, options({ address: allocationId })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'image-build-failed', exitCode: ExitCode.failed, details: { exitCode: 4, logTail: ['pulling images', 'ERROR: k3s checksum mismatch (stub)'] } });
    expect((err as Error).message).toMatch(/^build\.sh failed on the builder \(exit 4\)\. Last lines:\n {2}pulling images\n {2}ERROR: k3s checksum mismatch \(stub\)$/);
    expect(s.io.text()).toMatch(
      new RegExp(`Removed what the build had created: association of your address ${allocationId} \\(the address is kept\\), builder i-\\w+ with its volumes, security group sg-\\w+, key pair sourcegraph-launch-build-6\\.13\\.100-xs-\\w+\\.`),
    );
    expect(await leftovers()).toEqual(NOTHING_LEFT);
    // The seal never ran; the address is the user's, free again; nothing is left to resume.
    expect(s.remote.commands.some((c) => c.includes('seal-image.sh'))).toBe(false);
    const [address] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses ?? [];
    expect(address!.InstanceId).toBeFalsy();
    expect(journalsIn(s.home)).toEqual([]);
    expect(existsSync(keyPathIn(s.home))).toBe(false);
  });

  it('a failure after the image was created removes that half-made image and its snapshots too', async () => {
    const s = await setup({
      afterStep: (id) => {
        if (id === 'image') throw new CloudError('network', 'ec2:DescribeImages failed: socket hang up');
      },
    });
    const err = await buildImage(s.deps, s.cloud, options()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'network' });
    expect(s.io.text()).toMatch(/Removed what the build had created: builder i-\w+ with its volumes, security group sg-\w+, key pair \S+, image ami-\w+ and snapshots snap-\w+/);
    expect(await leftovers()).toEqual(NOTHING_LEFT);
  });

  it('Ctrl-C during build.sh stops the build, removes everything and exits 130', async () => {
    const controller = new AbortController();
    const s = await setup({ signal: controller.signal, remote: new RecordingRemoteHost(builderScript({ onBuild: () => controller.abort() })) });
    const err = await buildImage(s.deps, s.cloud, options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err).toMatchObject({ exitCode: 130, message: 'Interrupted: the build was stopped and its temporary resources removed' });
    expect(s.io.text()).toMatch(/Removed what the build had created: builder i-\w+/);
    expect(await leftovers()).toEqual(NOTHING_LEFT);
  });
});

describe('resuming a build run that was killed', () => {
  it('killed right after the builder started: the re-run restores the finished steps and reuses that builder', async () => {
    const home = tempHome();
    await killedAfter('builder', (afterStep) => setup({ home, afterStep }).then((k) => buildImage(k.deps, k.cloud, options())), home);
    const [builder] = await builders();
    expect(builder?.State?.Name).toBe('running');
    expect(journalsIn(home)).toHaveLength(1);

    const s = await setup({ home });
    const result = await buildImage(s.deps, s.cloud, options());
    expect(s.io.text()).toMatch(/Resuming the build started \S+; checking what exists first\./);
    // The steps the journal recorded are restored, not run again; the interrupted one runs again.
    expect(succeeded(s.io).slice(0, 2)).toEqual([
      { title: 'Temporary SSH key pair', message: 'Temporary SSH key pair: done before' },
      { title: 'Temporary security group', message: 'Temporary security group: done before' },
    ]);
    expect(s.calls).not.toContain('ensureSshKey');
    expect(s.calls).not.toContain('ensureAccessPolicy');
    expect((await builders({ includeTerminated: true })).map((i) => i.InstanceId)).toEqual([builder!.InstanceId]);
    const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter }))).Images ?? [];
    expect(images.map((i) => i.ImageId)).toEqual([result.imageId]);
    expect(await leftovers()).toMatchObject({ builders: [], securityGroups: [], keyPairs: [] });
  });

  it('killed while the builder was being created: the re-run creates it with the restored access policy', async () => {
    const home = tempHome();
    let policyId: string | undefined;
    const stuck = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        ensureInstance: (spec: InstanceSpec) => {
          policyId = spec.accessPolicyIds[0];
          return new Promise<never>(() => undefined);
        },
      });
    const k = await setup({ home, wrapCloud: stuck });
    void buildImage(k.deps, k.cloud, options()).catch(() => undefined);
    await vi.waitFor(() => expect(policyId).toMatch(/^sg-/), { timeout: 20_000, interval: 50 });
    rmSync(join(home, 'locks'), { recursive: true, force: true });

    const s = await setup({ home });
    await buildImage(s.deps, s.cloud, options());
    expect(s.calls).not.toContain('ensureAccessPolicy');
    const [builder] = await builders({ includeTerminated: true });
    expect(builder!.SecurityGroups?.map((g) => g.GroupId)).toEqual([policyId]);
  });

  it('killed after the builder was stopped: nothing before is redone, SSH is not used again', async () => {
    const home = tempHome();
    const remote = new RecordingRemoteHost(builderScript());
    await killedAfter('stop', (afterStep) => setup({ home, afterStep, remote }).then((k) => buildImage(k.deps, k.cloud, options())), home);
    expect(remote.targets).toHaveLength(1);
    expect((await builders())[0]?.State?.Name).toBe('stopped');

    const again = new RecordingRemoteHost(builderScript());
    const s = await setup({ home, remote: again });
    const result = await buildImage(s.deps, s.cloud, options());
    expect(result.alreadyBuilt).toBe(false);
    expect(succeeded(s.io).filter((o) => o.message?.endsWith(': done before')).map((o) => o.title)).toEqual([
      'Temporary SSH key pair',
      'Temporary security group',
      `Builder instance (m6a.2xlarge, ${AL2023})`,
      'Builder address',
      `Provisioning over SSH (provision/build.sh --version ${VERSION} --size XS)`,
    ]);
    expect(again.targets).toEqual([]);
    for (const verb of ['ensureSshKey', 'ensureAccessPolicy', 'ensureInstance', 'setLabels']) expect(s.calls).not.toContain(verb);
    expect((await builders({ includeTerminated: true })).map((i) => i.State?.Name)).toEqual(['terminated']);
    expect(await leftovers()).toMatchObject({ builders: [], securityGroups: [], keyPairs: [], images: [result.imageId] });
  });

  it('killed after provisioning but before the journal said so: the label tells, and build.sh does not run twice', async () => {
    const home = tempHome();
    const remote = new RecordingRemoteHost(builderScript());
    await killedAfter('provision', (afterStep) => setup({ home, afterStep, remote }).then((k) => buildImage(k.deps, k.cloud, options())), home);
    const again = new RecordingRemoteHost(builderScript());
    const s = await setup({ home, remote: again });
    await buildImage(s.deps, s.cloud, options());
    expect(again.targets).toEqual([]);
    expect(succeeded(s.io).find((o) => o.title.startsWith('Provisioning over SSH'))?.message).toBe('already provisioned by an earlier run');
  });
});

describe('a build run removes only what it made', () => {
  it('never another machine\'s builder, and never an image an earlier build finished', async () => {
    // Machine A starts a build and is killed once its builder exists.
    const homeA = tempHome();
    await killedAfter('builder', (afterStep) => setup({ home: homeA, afterStep }).then((k) => buildImage(k.deps, k.cloud, options())), homeA);
    const [builderA] = await builders();
    const runA = tagMap(builderA!.Tags)['sourcegraph-launch:build-run'];

    // Machine B builds the same version: it fails first, and its cleanup leaves A's builder alone…
    const b = await setup({ remote: new RecordingRemoteHost(builderScript({ failBuild: true })) });
    await expect(buildImage(b.deps, b.cloud, options())).rejects.toMatchObject({ code: 'image-build-failed' });
    expect(b.io.text()).toContain(`Another run of this build (${builderA!.InstanceId}, run ${runA}) exists, perhaps from another machine: it is left alone.`);
    expect((await builders()).map((i) => i.InstanceId)).toEqual([builderA!.InstanceId]);
    const groupsOfA = (await leftovers()).securityGroups;
    expect(groupsOfA).toHaveLength(1);
    // …then succeeds, still without touching A's builder.
    const b2 = await setup();
    const { imageId } = await buildImage(b2.deps, b2.cloud, options());
    expect((await builders()).map((i) => i.InstanceId)).toEqual([builderA!.InstanceId]);
    expect((await leftovers()).securityGroups).toEqual(groupsOfA);

    // A resumes: the finished image is used, never deleted; A removes only its own.
    const a = await setup({ home: homeA, remote: new RecordingRemoteHost(builderScript({ failBuild: true })) });
    expect(await buildImage(a.deps, a.cloud, options())).toMatchObject({ imageId, alreadyBuilt: true });
    const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter }))).Images ?? [];
    expect(images.map((i) => [i.ImageId, i.State])).toEqual([[imageId, 'available']]);
    expect(await leftovers()).toMatchObject({ builders: [], securityGroups: [], keyPairs: [] });
    expect(journalsIn(homeA)).toEqual([]);
  });

  it('a cleanup that fails is finished by the next run, which then builds', async () => {
    const home = tempHome();
    let refusals = 1;
    const inUse = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        deleteAccessPolicy: (id: string) =>
          refusals-- > 0 ? Promise.reject(new CloudError('security-group-in-use', `Security group ${id} is still in use`)) : cloud.deleteAccessPolicy(id),
      });
    const s = await setup({ home, wrapCloud: inUse, remote: new RecordingRemoteHost(builderScript({ failBuild: true })) });
    await expect(buildImage(s.deps, s.cloud, options())).rejects.toMatchObject({ code: 'image-build-failed' });
    expect(s.io.text()).toMatch(/Cleaning up after the failed build failed too: Security group sg-\w+ is still in use\. Run the same command again to finish the cleanup\./);
    const left = await leftovers();
    expect(left).toMatchObject({ builders: [], keyPairs: [expect.stringMatching(/^sourcegraph-launch-build-/)] });
    expect(left.securityGroups).toHaveLength(1);
    expect(journalsIn(home)).toHaveLength(1);

    const next = await setup({ home });
    const result = await buildImage(next.deps, next.cloud, options());
    expect(next.io.text()).toMatch(/Finishing the cleanup of the build run \w+ \(started \S+\) first\./);
    expect(next.io.text()).toMatch(/Removed what that build had created: security group sg-\w+, key pair \S+\./);
    expect(result.alreadyBuilt).toBe(false);
    expect(await leftovers()).toMatchObject({ builders: [], securityGroups: [], keyPairs: [], images: [result.imageId] });
  });
});

describe('with a real test host as the builder', () => {
  const HOST_ADDRESS = '10.200.81.2';
  let host: TestHost;
  let buildKey: { privateKeyPath: string; publicKey: string };

  beforeAll(async () => {
    buildKey = await createClientKey(workDir, 'build-key');
    host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: buildKey.publicKey });
  });
  afterAll(async () => host?.stop());

  it('uploads the bundle, runs the stub build over real SSH checking the console\'s host key, seals, and images', async () => {
    consoleText = () => host.consoleOutput();
    const home = tempHome();
    // The key the host trusts, where a resumed build keeps its key (cloud-init would install it on a real builder).
    mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
    cpSync(buildKey.privateKeyPath, keyPathIn(home));
    chmodSync(keyPathIn(home), 0o600);
    writeFileSync(`${keyPathIn(home)}.pub`, `${buildKey.publicKey}\n`);
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    const s = await setup({ home, realSsh: true });
    let result: BuildImageResult;
    try {
      result = await buildImage(s.deps, s.cloud, options({ address: allocationId, sshUser: 'root' }));
    } catch (e) {
      throw new Error(`${(e as LaunchError).message}\n${host.sshdLog()}`);
    }
    expect(host.execLog()).toContainEqual(expect.stringMatching(/^sudo bash \/tmp\/sourcegraph-launch-build\.\w+\/provision\/build\.sh --version 6\.13\.100 --size XS --cloud aws 2>&1$/));
    expect(existsSync(join(host.fsRoot, 'var', 'log', 'sealed'))).toBe(true);
    expect(s.io.updates('build.sh')).toContain('build complete: Sourcegraph (stub)');
    expect(s.io.outcomes('succeed').find((o) => o.title.startsWith('SSH to the builder'))?.message).toMatch(/host key matches the console output/);
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [result.imageId] }))).Images ?? [];
    expect(tagMap(image!.Tags)).toMatchObject({ 'sourcegraph-launch:role': 'image', 'sourcegraph-launch:version': VERSION });
    expect({ ...(await leftovers()), images: [] }).toEqual(NOTHING_LEFT);
  });
});
