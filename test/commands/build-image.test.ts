// The build-image command in-process: its input checks (exit 2 before any cloud call), the dry run
// against moto and offline, and what a finished build reports. The build itself is tested in
// test/workflows/build-image.test.ts.
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeInstancesCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BuildImageFlags } from '../../src/cli/commands/build-image.js';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import { runBuildImage, validateBuildImageFlags } from '../../src/commands/build-image.js';
import type { Deps } from '../../src/commands/deps.js';
import { CredentialsError, ExitCode, LaunchError, UsageError } from '../../src/core/errors.js';
import { failed, ok, RecordingRemoteHost } from '../fakes/recording-remote.js';
import { ROOT, DEAD_ENDPOINT } from '../support/cli.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const VERSION = '6.13.100';
const AL2023 = 'ami-0a12023000000002';

let moto: MotoServer;
let ec2: EC2Client;
let workDir: string;
let provisionDir: string;

beforeAll(async () => {
  moto = await startMoto({
    consoleOutput: () => ['-----BEGIN SSH HOST KEY FINGERPRINTS-----', `256 SHA256:${'D'.repeat(43)} root@builder (ED25519)`, '-----END SSH HOST KEY FINGERPRINTS-----'].join('\n'),
    images: [{ id: AL2023, name: 'al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64', ownerId: '137112412989' }],
  });
  ec2 = motoEc2Client(moto);
  workDir = mkdtempSync(join(tmpdir(), 'sgl-build-cmd-'));
  provisionDir = join(workDir, 'provision');
  cpSync(join(ROOT, 'provision'), provisionDir, { recursive: true });
  writeFileSync(join(provisionDir, 'build.sh'), '#!/usr/bin/env bash\necho stub\n');
  chmodSync(join(provisionDir, 'build.sh'), 0o755);
});
afterAll(async () => {
  await moto?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});
beforeEach(async () => moto.reset());

const flags = (extra: Partial<BuildImageFlags> = {}): BuildImageFlags => ({ region: 'us-east-1', version: VERSION, sshCidr: ['203.0.113.7/32'], providerFlags: {}, ...extra });

/** Deps whose cloud must never be reached: bad input is refused before any call. */
function offlineDeps(env: NodeJS.ProcessEnv = {}): Deps {
  return { ...makeDeps({ endpoint: DEAD_ENDPOINT, io: new ScriptedIo([], false), env }), connect: () => Promise.reject(new Error('the cloud was reached')) };
}

async function created() {
  const [instances, groups, keys] = await Promise.all([
    ec2.send(new DescribeInstancesCommand({})),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag-key', Values: ['sourcegraph-launch:build'] }] })),
    ec2.send(new DescribeKeyPairsCommand({})),
  ]);
  return { instances: (instances.Reservations ?? []).length, groups: (groups.SecurityGroups ?? []).length, keys: (keys.KeyPairs ?? []).length };
}

describe('input', () => {
  it.each([
    [{ version: undefined }, /^--version is required for build-image$/],
    [{ version: 'latest' }, /^--version: build-image needs an exact version/],
    [{ version: '6.x' }, /^--version: "6\.x" is not a Sourcegraph version/],
    [{ sshCidr: undefined }, /^--ssh-cidr is required for build-image$/],
    [{ sshCidr: ['none'] }, /^--ssh-cidr: the builder is provisioned over SSH/],
    [{ sshCidr: ['0.0.0.0/0'] }, /opens SSH to the whole internet/],
    [{ size: 'XXL' }, /^--size: unknown size "XXL"/],
    [{ region: 'mars-1' }, /^--region: "mars-1" is not a valid choice/],
    [{ cloud: 'oracle' }, /^--cloud: unknown cloud "oracle"/],
    [{ instanceType: 'huge' }, /^--instance-type: "huge" is not valid/],
    [{ subnet: 'net-1' }, /^--subnet: "net-1" is not valid/],
    [{ providerFlags: { elasticIp: 'new' } }, /^--elastic-ip: build-image takes only an address you allocated \(eipalloc-…\)$/],
    [{ providerFlags: { kmsKey: 'not a key' } }, /^--kms-key: "not a key" is not valid/],
    [{ providerFlags: { keyName: 'mine' } }, /^--key-name: build-image makes its own temporary key pair/],
  ] as [Partial<BuildImageFlags>, RegExp][])('%j exits 2 naming the flag, before any cloud call', async (extra, message) => {
    const err = await runBuildImage(offlineDeps(), flags(extra)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as LaunchError).exitCode).toBe(ExitCode.badInput);
    expect((err as Error).message).toMatch(message);
  });

  it('takes the region from the cloud\'s variable, and defaults from the descriptor', () => {
    const opts = validateBuildImageFlags(flags({ region: undefined }), { env: { AWS_REGION: 'eu-west-1' } });
    expect(opts).toMatchObject({ region: 'eu-west-1', size: 'XS', sshUser: 'ec2-user', timeoutMinutes: 120 });
    expect(opts.machineType).toBeUndefined();
    expect(() => validateBuildImageFlags(flags({ region: undefined }), { env: {} })).toThrow(/^--region is required/);
    expect(() => validateBuildImageFlags(flags({ region: undefined }), { env: { AWS_REGION: 'mars-1' } })).toThrow(/\(from AWS_REGION\)/);
    expect(validateBuildImageFlags(flags({ providerFlags: { elasticIp: 'eipalloc-0123456789abcdef0', kmsKey: 'alias/mine' }, instanceType: 'm6a.4xlarge' }), { env: {} })).toMatchObject({
      address: 'eipalloc-0123456789abcdef0',
      encryptionKey: 'alias/mine',
      machineType: 'm6a.4xlarge',
    });
  });

  it('without credentials a real build exits 3 before anything is created', async () => {
    const deps = makeDeps({ endpoint: DEAD_ENDPOINT, io: new ScriptedIo([], false), env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' } });
    const err = await runBuildImage(deps, flags()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as LaunchError).exitCode).toBe(ExitCode.credentials);
  });
});

describe('--dry-run', () => {
  it('prints the plan and every mutating request in order, and creates nothing', async () => {
    const io = new ScriptedIo([], false);
    const out = (await runBuildImage(makeDeps({ endpoint: moto.endpoint, io, provisionDir }), flags({ size: 'M', dryRun: true }))) as {
      plan: Record<string, unknown>;
      requests: { service: string; operation: string; input: Record<string, any> }[];
    };
    expect(out.plan).toMatchObject({ cloud: 'aws', region: 'us-east-1', version: VERSION, size: 'M', buildName: `${VERSION}-m`, instanceType: 'm6a.8xlarge', baseImage: { id: AL2023 }, sshCidrs: ['203.0.113.7/32'] });
    expect(out.plan.imageName).toMatch(/^sourcegraph-launch-6\.13\.100-M-\d{8}T\d{6}Z$/);
    expect(out.plan.sourceCommit).toMatch(/^([0-9a-f]{40}|v\d+\.\d+\.\d+)$/);
    expect(out.plan).not.toHaveProperty('elasticIp');
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
    const runInstances = out.requests.find((r) => r.operation === 'RunInstances')!.input;
    expect(runInstances).toMatchObject({ ImageId: AL2023, InstanceType: 'm6a.8xlarge', ClientToken: `sgl-build-${VERSION}-m-<journal id>` });
    expect(runInstances.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true } },
      { DeviceName: '/dev/sdb', Ebs: { VolumeSize: 500, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true } },
    ]);
    expect(out.requests.find((r) => r.operation === 'AuthorizeSecurityGroupIngress')!.input.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.7/32', Description: 'SSH for sourcegraph-launch build-image' }] },
    ]);
    expect(out.requests.find((r) => r.operation === 'CreateImage')!.input.TagSpecifications[0].Tags).toEqual(
      expect.arrayContaining([
        { Key: 'sourcegraph-launch:role', Value: 'image' },
        { Key: 'sourcegraph-launch:version', Value: VERSION },
        { Key: 'sourcegraph-launch:size', Value: 'M' },
        { Key: 'sourcegraph-launch:source-commit', Value: out.plan.sourceCommit },
      ]),
    );
    const text = io.text();
    expect(text).toContain(`Would build Sourcegraph ${VERSION} (M) in us-east-1 from al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64 (${AL2023}).`);
    expect(text).toMatch(/1\. ec2 ImportKeyPair/);
    expect(text).toContain('Nothing was changed.');
    expect(await created()).toEqual({ instances: 0, groups: 0, keys: 0 });
  });

  it('with the user\'s address: associates and disassociates it, and the plan names it as the flag does', async () => {
    const allocationId = await allocateTestAddress(ec2, '198.51.100.40');
    const out = (await runBuildImage(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), provisionDir }), flags({ dryRun: true, providerFlags: { elasticIp: allocationId, kmsKey: 'alias/build' } }))) as {
      plan: Record<string, unknown>;
      requests: { operation: string; input: Record<string, any> }[];
    };
    expect(out.plan.elasticIp).toBe(allocationId);
    expect(out.requests.find((r) => r.operation === 'AssociateAddress')!.input).toEqual({ AllocationId: allocationId, InstanceId: '<InstanceId from RunInstances>' });
    expect(out.requests.map((r) => r.operation)).toContain('DisassociateAddress');
    expect(out.requests.find((r) => r.operation === 'RunInstances')!.input.BlockDeviceMappings.map((m: { Ebs: { KmsKeyId?: string } }) => m.Ebs.KmsKeyId)).toEqual(['alias/build', 'alias/build']);
  });

  it('works offline without credentials: it says so and shows the requests with a placeholder base image', async () => {
    const io = new ScriptedIo([], false);
    const deps = makeDeps({
      endpoint: DEAD_ENDPOINT,
      io,
      provisionDir,
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' },
    });
    const out = (await runBuildImage(deps, flags({ dryRun: true }))) as { plan: Record<string, any>; requests: { operation: string; input: Record<string, any> }[] };
    expect(io.events.find((e) => e.kind === 'warn')).toMatchObject({ message: expect.stringMatching(/^No AWS credentials found: .*: the dry run shows the requests offline/) });
    expect(out.plan.baseImage).toEqual({ id: '<newest Amazon Linux 2023 image from DescribeImages>' });
    expect(out.requests.find((r) => r.operation === 'RunInstances')!.input.ImageId).toBe('<newest Amazon Linux 2023 image from DescribeImages>');
    expect(io.text()).toContain(`Would build Sourcegraph ${VERSION} (XS) in us-east-1 from the newest Amazon Linux 2023 image.`);
  });
});

it('a finished build says how to launch the image', async () => {
  const io = new ScriptedIo([], false);
  const remote = new RecordingRemoteHost((command) => (command.startsWith('mktemp') ? ok('/tmp/sourcegraph-launch-build.Xy\n') : command.includes('unexpected') ? failed(1, '') : ok()));
  const deps: Deps = { ...makeDeps({ endpoint: moto.endpoint, io, home: tempHome(), provisionDir }), connectRemote: remote.connect };
  const result = (await runBuildImage(deps, flags())) as { imageId: string; imageName: string; alreadyBuilt: boolean; removed: string[] };
  expect(result).toMatchObject({ alreadyBuilt: false, imageId: expect.stringMatching(/^ami-/) });
  expect(Object.keys(result).sort()).toEqual(['alreadyBuilt', 'imageId', 'imageName', 'region', 'removed', 'size', 'sourceCommit', 'version']);
  const text = io.text();
  expect(text).toContain(`Built: image ${result.imageId} (${result.imageName}) runs Sourcegraph ${VERSION}.`);
  expect(text).toContain(`Launch it with \`sourcegraph-launch launch --region us-east-1 --version ${VERSION} --image ${result.imageId} …\`,`);
  expect(text).toContain(`or simply \`sourcegraph-launch launch --region us-east-1 --version ${VERSION}\` / \`upgrade --to ${VERSION}\`: built images are found by their tags.`);
});

it('launch --image-source build with no image yet runs this build first, then launches from the image it made', async () => {
  const io = new ScriptedIo([], false);
  const remote = new RecordingRemoteHost((command) => (command.startsWith('mktemp') ? ok('/tmp/sourcegraph-launch-build.Xy\n') : ok()));
  const deps: Deps = {
    ...makeDeps({ endpoint: moto.endpoint, io, home: tempHome(), provisionDir }),
    connectRemote: remote.connect,
    // moto gives an instance of an image made by CreateImage a root device the adapter does not
    // know, so it would wait its full minute for both volumes to show before going on.
    connect: (_provider, scope) => Promise.resolve(createAwsAdapter(scope, { endpoint: moto.endpoint, env: process.env, pollIntervalMs: 100, volumeTagWaitMs: 500 })),
  };
  const { runLaunch } = await import('../../src/commands/launch.js');
  const result = (await runLaunch(deps, {
    region: 'us-east-1',
    version: VERSION,
    imageSource: 'build',
    allowCidr: ['203.0.113.0/24'],
    sshCidr: ['203.0.113.7/32'],
    name: 'ours',
    wait: false,
    yes: true,
    providerFlags: {},
  })) as { instanceId: string };
  expect(remote.commands).toContainEqual(`sudo bash /tmp/sourcegraph-launch-build.Xy/provision/build.sh --version ${VERSION} --size XS --cloud aws 2>&1`);
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:sourcegraph-launch:role', Values: ['image'] }] }))).Images ?? [];
  expect(images).toHaveLength(1);
  const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [result.instanceId] }))).Reservations?.[0]?.Instances?.[0];
  expect(instance?.ImageId).toBe(images[0]!.ImageId);
});
