// `build-image` end to end with real parts: the real CLI process → moto for EC2, and a test host
// (real sshd) standing in for the builder, reached through an Elastic IP whose address is the test
// host's (`--elastic-ip`, so the CLI never even tries the random public IP moto gives the builder).
//
// The upload and the remote commands are real; what runs is not: SGL_TEST_PROVISION_DIR
// points the CLI at a copy of provision/ whose build.sh and seal-image.sh are stubs. The real
// build.sh would install k3s and tune the kernel, and the real seal-image.sh would delete this
// machine's SSH host keys and root's authorized_keys, since the test host shares the test machine's
// /etc and /root. The stubs print log lines, keep a copy of what was uploaded for the test to
// compare, and fail or stall when the test drops a marker file.
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeInstanceAttributeCommand,
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
import { ROOT, runCli } from '../support/cli.js';
import { gunzipSync } from 'node:zlib';
import { allocateTestAddress, motoEc2Client, registerTestImage, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.13.100';
const BUILD = `${VERSION}-xs`;
const HOST_ADDRESS = '10.200.80.2';
const AL2023 = 'ami-0a12023000000002';

vi.setConfig({ testTimeout: 120_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let workDir: string;
let stubProvisionDir: string;
let buildKey: { privateKeyPath: string; publicKey: string };

const STUB_BUILD = `#!/usr/bin/env bash
set -euo pipefail
here="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
echo "stub build.sh $*"
echo "stub build.sh: $(find "$here/.." -type f | wc -l) files uploaded"
rm -rf /var/log/uploaded && mkdir -p /var/log/uploaded && cp -r "$here/.." /var/log/uploaded/bundle
if [[ -f /var/log/slow-build ]]; then echo "stub build.sh: pulling images"; sleep 15; fi
if [[ -f /var/log/fail-build ]]; then echo "ERROR: k3s checksum mismatch (stub)" >&2; exit 4; fi
echo "build complete: Sourcegraph (stub)"
`;
const STUB_SEAL = `#!/usr/bin/env bash
set -euo pipefail
echo "stub seal-image.sh $*"
touch /var/log/sealed
`;

beforeAll(async () => {
  moto = await startMoto({
    // GetConsoleOutput lists the test host's real host keys, as cloud-init prints them on EC2.
    consoleOutput: () => host?.consoleOutput(),
    images: [
      { id: AL2023, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', ownerId: '137112412989' },
      { id: 'ami-0a12023000000001', name: 'al2023-ami-2023.5.20240805.0-kernel-6.1-x86_64', ownerId: '137112412989' },
    ],
  });
  ec2 = motoEc2Client(moto);
  workDir = mkdtempSync(join(tmpdir(), 'sgl-build-e2e-'));
  buildKey = await createClientKey(workDir, 'build-key');
  stubProvisionDir = join(workDir, 'provision');
  cpSync(join(ROOT, 'provision'), stubProvisionDir, { recursive: true });
  writeFileSync(join(stubProvisionDir, 'build.sh'), STUB_BUILD);
  writeFileSync(join(stubProvisionDir, 'seal-image.sh'), STUB_SEAL);
  chmodSync(join(stubProvisionDir, 'build.sh'), 0o755);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: buildKey.publicKey });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
  for (const marker of ['fail-build', 'slow-build', 'sealed']) rmSync(join(host.fsRoot, 'var', 'log', marker), { force: true });
  rmSync(join(host.fsRoot, 'var', 'log', 'uploaded'), { recursive: true, force: true });
});

/**
 * A fresh state home holding the build key the test host trusts: the CLI reuses a key it finds
 * there (as a resumed build does), and cloud-init would have installed it on a real builder.
 */
function newHome(): string {
  const home = mkdtempSync(join(workDir, 'home-'));
  const keys = join(home, 'state', 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const keyPath = join(keys, `build-aws-us-east-1-${BUILD}`);
  cpSync(buildKey.privateKeyPath, keyPath);
  chmodSync(keyPath, 0o600);
  writeFileSync(`${keyPath}.pub`, `${buildKey.publicKey}\n`);
  return home;
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

function buildArgs(allocationId: string, extra: string[] = []): string[] {
  return [
    'build-image',
    '--cloud', 'aws',
    '--region', 'us-east-1',
    '--version', VERSION,
    '--ssh-cidr', '203.0.113.7/32',
    '--elastic-ip', allocationId,
    // Only root can log in to the test host; Amazon Linux's user is ec2-user (the default).
    '--ssh-user', 'root',
    ...extra,
  ];
}
const cliOptions = (home: string) => ({ endpoint: moto.endpoint, home, env: { SGL_TEST_PROVISION_DIR: stubProvisionDir } });

describe('build-image with the real CLI', () => {
  it('uploads the bundle, runs the build streaming its log, seals, images both disks, tags, and removes the builder', async () => {
    const home = newHome();
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    const run = await runCli([...buildArgs(allocationId), '--json'], cliOptions(home));
    expect(run.code, run.stderr).toBe(0);
    const result = run.json<Record<string, any>>();
    expect(result).toMatchObject({ region: 'us-east-1', version: VERSION, size: 'XS', alreadyBuilt: false, imageId: expect.stringMatching(/^ami-/) });
    expect(result.sourceCommit).toMatch(/^([0-9a-f]{40}|v\d+\.\d+\.\d+)$/);

    // The build ran over real SSH: exactly the production command, its log streamed to stderr.
    const execs = host.execLog();
    expect(execs).toContainEqual(expect.stringMatching(/^sudo bash \/tmp\/sourcegraph-launch-build\.\w+\/provision\/build\.sh --version 6\.13\.100 --size XS --cloud aws 2>&1$/));
    expect(execs).toContainEqual(expect.stringMatching(/^sudo bash \/tmp\/sourcegraph-launch-build\.\w+\/provision\/seal-image\.sh --yes/));
    expect(run.stderr).toContain('stub build.sh --version 6.13.100 --size XS --cloud aws');
    expect(run.stderr).toContain('build complete: Sourcegraph (stub)');
    expect(existsSync(join(host.fsRoot, 'var', 'log', 'sealed'))).toBe(true);

    // What arrived is the bundle build.sh expects: provision/ beside presets/helm/.
    const uploaded = join(host.fsRoot, 'var', 'log', 'uploaded', 'bundle');
    for (const file of ['lib.sh', 'boot.sh', 'first-boot.sh', 'versions.env', 'checksums.sha256', 'manifests/ingress.yaml']) {
      expect(readFileSync(join(uploaded, 'provision', file), 'utf8'), file).toBe(readFileSync(join(ROOT, 'provision', file), 'utf8'));
    }
    for (const size of ['XS', 'S', 'M', 'L', 'XL']) {
      expect(readFileSync(join(uploaded, 'presets', 'helm', `${size}.yaml`), 'utf8')).toBe(readFileSync(join(ROOT, 'presets', 'helm', `${size}.yaml`), 'utf8'));
    }

    // The image exists, tagged so launch/upgrade find it; the temporary resources are gone.
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [result.imageId] }))).Images ?? [];
    expect(image!.State).toBe('available');
    expect(tagMap(image!.Tags)).toMatchObject({
      'sourcegraph-launch:role': 'image',
      'sourcegraph-launch:version': VERSION,
      'sourcegraph-launch:size': 'XS',
      'sourcegraph-launch:source-commit': result.sourceCommit,
      Name: result.imageName,
    });
    const [builder, ...more] = await builders({ includeTerminated: true });
    expect(more).toEqual([]);
    expect(builder!.State?.Name).toBe('terminated');
    expect(builder!.ImageId).toBe(AL2023);
    expect({ ...(await leftovers()), images: [] }).toEqual(NOTHING_LEFT);
    // Your address stays yours, free again.
    const [address] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses ?? [];
    expect(address).toMatchObject({ PublicIp: HOST_ADDRESS });
    expect(address!.InstanceId).toBeFalsy();
    // The build key is removed locally once the builder is gone.
    expect(existsSync(join(home, 'state', 'keys', `build-aws-us-east-1-${BUILD}`))).toBe(false);

    // launch finds the built image for that version, exactly like a published one.
    const plan = await runCli(
      ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json'],
      { endpoint: moto.endpoint, home },
    );
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.json<Record<string, any>>().requests.find((r: { operation: string }) => r.operation === 'RunInstances').input.ImageId).toBe(result.imageId);

    // A second run finds the image and builds nothing.
    const again = await runCli([...buildArgs(allocationId), '--json'], cliOptions(newHome()));
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ imageId: result.imageId, alreadyBuilt: true });
    expect(await builders({ includeTerminated: true })).toHaveLength(1);
  });

  it('a failing build.sh exits 1 with its log tail, and everything it created is removed', async () => {
    writeFileSync(join(host.fsRoot, 'var', 'log', 'fail-build'), '');
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    const run = await runCli(buildArgs(allocationId), cliOptions(newHome()));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/build\.sh failed on the builder \(exit 4\)/);
    expect(run.stderr).toContain('ERROR: k3s checksum mismatch (stub)');
    expect(run.stdout).toMatch(/Removed what the build had created: .*builder i-\w+ .*security group sg-\w+.*key pair sourcegraph-launch-build-6\.13\.100-xs/);
    expect(await leftovers()).toEqual(NOTHING_LEFT);
    expect(existsSync(join(host.fsRoot, 'var', 'log', 'sealed'))).toBe(false);
    const [address] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses ?? [];
    expect(address!.InstanceId).toBeFalsy();
  });

  it('Ctrl-C during build.sh stops, removes everything and exits 130', async () => {
    writeFileSync(join(host.fsRoot, 'var', 'log', 'slow-build'), '');
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    let sent = false;
    const run = await runCli(buildArgs(allocationId), {
      ...cliOptions(newHome()),
      onOutput: (chunk, child) => {
        if (!sent && chunk.includes('stub build.sh: pulling images')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent, run.stderr).toBe(true);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).not.toMatch(/Stopped at once/);
    expect(run.stderr).toMatch(/Interrupted: the build was stopped and its temporary resources removed/);
    expect(run.stdout).toMatch(/Removed what the build had created/);
    expect(await leftovers()).toEqual(NOTHING_LEFT);
  });

  it('killed right after the builder started, a re-run reuses that builder and finishes', async () => {
    const home = newHome();
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    const crashed = await runCli(buildArgs(allocationId), { ...cliOptions(home), env: { SGL_TEST_PROVISION_DIR: stubProvisionDir, SGL_TEST_FAULT: 'after:builder' } });
    expect(crashed.signal).toBe('SIGKILL');
    const [first] = await builders();
    expect(first?.State?.Name).toBe('running');

    const resumed = await runCli([...buildArgs(allocationId), '--json'], cliOptions(home));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming the build/);
    const all = await builders({ includeTerminated: true });
    expect(all.map((i) => i.InstanceId)).toEqual([first!.InstanceId]);
    const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter }))).Images ?? [];
    expect(images.map((i) => i.ImageId)).toEqual([resumed.json<{ imageId: string }>().imageId]);
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    expect(snapshots.some((s) => tagMap(s.Tags)['sourcegraph-launch:version'] === VERSION)).toBe(true);
  });
});

describe('a build run removes only what it made', () => {
  it('never another machine\'s builder, and never an image an earlier build finished', async () => {
    const allocationId = await allocateTestAddress(ec2, HOST_ADDRESS);
    // Machine A starts a build and is killed once its builder exists.
    const homeA = newHome();
    const killed = await runCli(buildArgs(allocationId), { ...cliOptions(homeA), env: { SGL_TEST_PROVISION_DIR: stubProvisionDir, SGL_TEST_FAULT: 'after:builder' } });
    expect(killed.signal).toBe('SIGKILL');
    const [builderA] = await builders();

    // Machine B builds the same version: it fails first, and its cleanup leaves A's builder alone…
    writeFileSync(join(host.fsRoot, 'var', 'log', 'fail-build'), '');
    const failed = await runCli(buildArgs(allocationId), cliOptions(newHome()));
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/Another run of this build .* is left alone/);
    expect((await builders()).map((i) => i.InstanceId)).toEqual([builderA!.InstanceId]);
    // …then succeeds, still without touching A's builder.
    rmSync(join(host.fsRoot, 'var', 'log', 'fail-build'));
    const built = await runCli([...buildArgs(allocationId), '--json'], cliOptions(newHome()));
    expect(built.code, built.stderr).toBe(0);
    const imageId = built.json<{ imageId: string }>().imageId;
    expect((await builders()).map((i) => i.InstanceId)).toEqual([builderA!.InstanceId]);

    // A resumes with a failing build: the finished image is used, never deleted; A removes only its own.
    writeFileSync(join(host.fsRoot, 'var', 'log', 'fail-build'), '');
    const resumed = await runCli([...buildArgs(allocationId), '--json'], cliOptions(homeA));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json()).toMatchObject({ imageId, alreadyBuilt: true });
    const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: buildFilter }))).Images ?? [];
    expect(images.map((i) => [i.ImageId, i.State])).toEqual([[imageId, 'available']]);
    expect(await leftovers()).toMatchObject({ builders: [], securityGroups: [], keyPairs: [] });
  });
});

describe('build-image input and dry run', () => {
  it('--dry-run --json prints the plan and the mutating requests in order, and creates nothing', async () => {
    const run = await runCli(
      ['build-image', '--region', 'us-east-1', '--version', VERSION, '--size', 'M', '--ssh-cidr', '203.0.113.7/32', '--dry-run', '--json'],
      { endpoint: moto.endpoint, home: newHome() },
    );
    expect(run.code, run.stderr).toBe(0);
    const out = run.json<{ plan: Record<string, unknown>; requests: { service: string; operation: string; input: Record<string, any> }[] }>();
    expect(out.plan).toMatchObject({ cloud: 'aws', region: 'us-east-1', version: VERSION, size: 'M', instanceType: 'm6a.8xlarge', baseImage: { id: AL2023 } });
    expect(out.requests.map((r) => r.operation)).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'CreateTags',
      'StopInstances',
      'CreateImage',
      'CreateTags',
      'TerminateInstances',
      'DeleteSecurityGroup',
      'DeleteKeyPair',
    ]);
    expect(out.requests.every((r) => r.service === 'ec2')).toBe(true);
    const runInstances = out.requests.find((r) => r.operation === 'RunInstances')!.input;
    expect(runInstances).toMatchObject({ ImageId: AL2023, InstanceType: 'm6a.8xlarge' });
    expect(out.requests.find((r) => r.operation === 'AuthorizeSecurityGroupIngress')!.input.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.7/32', Description: 'SSH for sourcegraph-launch build-image' }] },
    ]);
    expect(await leftovers()).toEqual(NOTHING_LEFT);
  });

  it.each([
    [['--ssh-cidr', '203.0.113.7/32'], /--version is required/],
    [['--version', 'latest', '--ssh-cidr', '203.0.113.7/32'], /--version: build-image needs an exact version/],
    [['--version', '6.x', '--ssh-cidr', '203.0.113.7/32'], /--version: "6\.x" is not a Sourcegraph version/],
    [['--version', VERSION], /--ssh-cidr is required/],
    [['--version', VERSION, '--ssh-cidr', 'none'], /--ssh-cidr: the builder is provisioned over SSH/],
    [['--version', VERSION, '--ssh-cidr', '0.0.0.0/0'], /--ssh-cidr/],
    [['--version', VERSION, '--ssh-cidr', '203.0.113.7/32', '--size', 'XXL'], /--size: unknown size "XXL"/],
    [['--version', VERSION, '--ssh-cidr', '203.0.113.7/32', '--elastic-ip', 'new'], /--elastic-ip: build-image takes only an address you allocated/],
    [['--version', VERSION, '--ssh-cidr', '203.0.113.7/32', '--region', 'mars-1'], /--region: "mars-1" is not a valid choice/],
  ])('bad input %j exits 2 naming the flag, before any cloud call', async (args, message) => {
    // The dead endpoint: any cloud call would fail with exit 1, not 2.
    const run = await runCli(['build-image', '--region', 'us-east-1', ...args], { home: newHome() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});

describe('launch --image-source', () => {
  const launchArgs = (extra: string[]) => ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--dry-run', '--json', ...extra];
  type DryRun = { requests: { operation: string; input: Record<string, any> }[] };
  const runInstancesOf = (out: DryRun) => out.requests.find((r) => r.operation === 'RunInstances')!.input;

  it('build: uses the image we built for the version', async () => {
    const built = await registerTestImage(ec2, { name: `sourcegraph-launch-${VERSION}-XS-20260105T100000Z`, version: VERSION });
    const run = await runCli(launchArgs(['--image-source', 'build']), { endpoint: moto.endpoint, home: newHome() });
    expect(run.code, run.stderr).toBe(0);
    expect(runInstancesOf(run.json<DryRun>()).ImageId).toBe(built);
  });

  it('build: with no image for the version, says build-image runs first and changes nothing', async () => {
    const run = await runCli(launchArgs(['--image-source', 'build']), { endpoint: moto.endpoint, home: newHome() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/build-image runs first/);
    expect(runInstancesOf(run.json<DryRun>()).ImageId).toBe('<ImageId from build-image>');
    expect(await leftovers()).toEqual(NOTHING_LEFT);
  });

  it('base: launches the newest Amazon Linux 2023 with user data that provisions it at first boot', async () => {
    const run = await runCli(launchArgs(['--image-source', 'base', '--size', 'S']), { endpoint: moto.endpoint, home: newHome() });
    expect(run.code, run.stderr).toBe(0);
    const input = runInstancesOf(run.json<DryRun>());
    expect(input.ImageId).toBe(AL2023);
    const userData = Buffer.from(input.UserData as string, 'base64');
    expect(userData.length).toBeLessThanOrEqual(16 * 1024);
    const script = gunzipSync(userData).toString('utf8');
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    // The bundle comes verified from this launcher's npm package: the size's values are among its files.
    expect(script).toMatch(/^[0-9a-f]{64} {2}presets\/helm\/S\.yaml$/m);
    expect(script).not.toMatch(/presets\/helm\/XS\.yaml/);
    expect(script.trimEnd().split('\n').at(-1)).toBe(`exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version ${VERSION} --size S --cloud aws`);
  });

  // Real launches (not dry runs): the test host stands in for the instance, as in launch-lifecycle.
  const realLaunch = (name: string, extra: string[]) => [
    'launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
    '--ssh-key', `${buildKey.privateKeyPath}.pub`, '--ssh-user', 'root', '--name', name, '--hold-seconds', '1', '--json', ...extra,
  ];
  const instanceOf = async (name: string) =>
    (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:deployment', Values: [name] }] })))
      .Reservations!.flatMap((r) => r.Instances ?? [])
      .filter((i) => i.State?.Name !== 'terminated');

  it('base, for real: plain Amazon Linux with the first-boot user data, waited on until the version serves', async () => {
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'base' });
    host.reboot({ version: VERSION, healthzNotFoundCount: 2 });
    const run = await runCli(realLaunch('base', ['--image-source', 'base']), { endpoint: moto.endpoint, home: newHome(), timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ ready: true, version: VERSION, url: `http://${HOST_ADDRESS}` });
    const [instance, ...more] = await instanceOf('base');
    expect(more).toEqual([]);
    expect(instance!.ImageId).toBe(AL2023);
    const attr = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instance!.InstanceId!, Attribute: 'userData' }));
    const script = gunzipSync(Buffer.from(attr.UserData!.Value!, 'base64')).toString('utf8');
    expect(script.trimEnd().split('\n').at(-1)).toBe(`exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version ${VERSION} --size XS --cloud aws`);
  });

  it('build, for real: launches the image we built and waits until it serves', async () => {
    const built = await registerTestImage(ec2, { name: `sourcegraph-launch-${VERSION}-XS-20260105T100000Z`, version: VERSION });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'ours' });
    host.reboot({ version: VERSION, healthzNotFoundCount: 2 });
    const run = await runCli(realLaunch('ours', ['--image-source', 'build']), { endpoint: moto.endpoint, home: newHome(), timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ ready: true, version: VERSION });
    expect((await instanceOf('ours')).map((i) => i.ImageId)).toEqual([built]);
  });

  it.each([
    [['--image-source', 'nightly'], /--image-source: "nightly" is not valid/],
    [['--image-source', 'build', '--image', 'ami-0123456789abcdef0'], /--image-source build and --image cannot be used together/],
  ])('bad input %j exits 2', async (extra, message) => {
    const run = await runCli(launchArgs(extra), { endpoint: moto.endpoint, home: newHome() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});
