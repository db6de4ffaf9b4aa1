// The launch command in-process against moto: the wizard (only what no flag gave is asked, one
// summary, one confirmation, saved answers next time) and the failure paths that need an error
// AWS would return but moto cannot produce.
import type { EC2Client } from '@aws-sdk/client-ec2';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { CloudError, DeclinedError, LaunchError } from '../../src/core/errors.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';

let moto: MotoServer;
let ec2: EC2Client;
const AMI = 'ami-0a1b2c3d4e5f60719';

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

async function counts(name: string) {
  const found = deploymentResources(ec2);
  return {
    instances: (await found.liveInstances(name)).length,
    groups: (await found.groups(name)).length,
    keys: (await found.keyPairs(name)).length,
  };
}

describe('the wizard', () => {
  it('asks only what no flag gave, shows one summary with sources, asks once, and prints the CI command', async () => {
    const io = new ScriptedIo([
      (q: { choices?: unknown[] }) => q.choices![0], // cloud: aws (the others are disabled)
      'eu-west-1', // region
      '6.12.5040', // version
      '198.51.100.0/24', // allow
      'none', // ssh
      'wiz', // name
    ]);
    const deps = makeDeps({ endpoint: moto.endpoint, io, publicIp: '203.0.113.9' });
    const out = (await runLaunch(deps, { size: 'M', dryRun: true })) as { plan: Record<string, { value: unknown; source: string }> };
    expect(io.questions.map((q) => q.message.split(' ')[0])).toEqual(['Cloud', 'Region', 'Sourcegraph', 'Who', 'Who', 'Deployment']);
    // The first question is the cloud: every registered one, in the registry's order.
    expect(io.questions[0]!.choices).toEqual(['aws', 'gcp', 'azure']);
    expect(io.questions.length).toBe(6);
    const allow = io.questions.find((q) => q.message.startsWith('Who may reach Sourcegraph'))!;
    expect(allow.message).toContain('203.0.113.9');
    expect(allow.default).toBe('203.0.113.9/32');
    expect(out.plan.size).toEqual({ value: 'M', source: 'flag' });
    expect(out.plan.region).toEqual({ value: 'eu-west-1', source: 'prompt' });
    expect(out.plan.sshCidrs).toEqual({ value: [], source: 'prompt' });
    const text = io.text();
    expect(text).toMatch(/size\s+M \(up to 5,000 users/);
    expect(text).toContain('launch --yes --cloud aws --region eu-west-1 --size M --version 6.12.5040 --name wiz --allow-cidr 198.51.100.0/24 --ssh-cidr none');
  });

  it('offers the regions where the chosen image source works: the catalog\'s for published, every region for build and base', async () => {
    const regionsOffered = async (imageSource?: string) => {
      const io = new ScriptedIo([() => 'ca-west-1']);
      await runLaunch(makeDeps({ endpoint: moto.endpoint, io }), { cloud: 'aws', size: 'XS', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], name: 'regions', dryRun: true, ...(imageSource ? { imageSource } : {}) }).catch(() => undefined);
      return io.questions.find((q) => q.message === 'Region')!.choices as string[];
    };
    const published = await regionsOffered();
    expect(published).toContain('us-east-1');
    expect(published).not.toContain('ca-west-1'); // no published image there
    for (const source of ['base', 'build']) {
      const offered = await regionsOffered(source);
      expect(offered).toContain('ca-west-1');
      expect(offered.length).toBeGreaterThan(published.length);
    }
  });

  it('declining the confirmation creates nothing and is a decision (exit 1), not an interruption', async () => {
    const io = new ScriptedIo([false]);
    const deps = makeDeps({ endpoint: moto.endpoint, io });
    const declined = runLaunch(deps, { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], name: 'nope' });
    await expect(declined).rejects.toBeInstanceOf(DeclinedError);
    await expect(declined).rejects.toMatchObject({ code: 'declined', exitCode: 1, message: expect.stringMatching(/nothing changed/) });
    expect(io.questions.map((q) => q.kind)).toEqual(['confirm']);
    expect(await counts('nope')).toEqual({ instances: 0, groups: 0, keys: 0 });
  });

  it('remembers answers and offers them as defaults next time; the generated key is 0600', async () => {
    const home = tempHome();
    const first = new ScriptedIo(['aws', 'us-west-2', 'S', 'latest', '198.51.100.0/24', '198.51.100.7/32', 'generate', 'mem', true]);
    const result = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: first, home }), { wait: false })) as LaunchResult;
    expect(result.region).toBe('us-west-2');
    expect(first.questions.at(-1)!.kind).toBe('confirm');
    const deps = makeDeps({ endpoint: moto.endpoint, io: first, home });
    const key = deps.state.keysDir + '/aws-us-west-2-mem';
    expect(statSync(key).mode & 0o777).toBe(0o600);

    const second = new ScriptedIo([
      'aws',
      (q: { default?: unknown }) => q.default, // region: saved
      (q: { default?: unknown }) => q.default, // size: saved
      'latest',
      (q: { default?: unknown }) => q.default, // allow: saved
      'none',
      'mem2',
    ]);
    const out = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: second, home }), { dryRun: true })) as {
      plan: Record<string, { value: unknown; source: string }>;
    };
    expect(out.plan.region).toEqual({ value: 'us-west-2', source: 'saved' });
    expect(out.plan.size).toEqual({ value: 'S', source: 'saved' });
    expect(out.plan.allowCidrs).toEqual({ value: ['198.51.100.0/24'], source: 'saved' });
  });
});

describe('launch failure paths', () => {
  const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false };

  it('no capacity: a plain message with what to try, and nothing left half-made', async () => {
    const io = new ScriptedIo([], false);
    const noRoom = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        ensureInstance: () =>
          Promise.reject(
            new CloudError('insufficient-capacity', 'AWS has no m6a.4xlarge capacity in us-east-1a right now', {
              remediation: 'Try another availability zone with --subnet, or the next instance family with --instance-type m7a.4xlarge',
            }),
          ),
      });
    const deps = makeDeps({ endpoint: moto.endpoint, io, wrapCloud: noRoom });
    const err = await runLaunch(deps, { ...flags, name: 'full' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).remediation).toMatch(/--subnet|--instance-type/);
    expect(io.text()).toMatch(/Removed what this launch had created: security group sg-[0-9a-f]+, key pair sourcegraph-launch-full/);
    expect(await counts('full')).toEqual({ instances: 0, groups: 0, keys: 0 });
    expect(deps.state.getDeployment('aws', 'us-east-1', 'full')).toBeUndefined();
  });

  it('lost network mid-launch: says how to resume, and the re-run finishes with one of each resource', async () => {
    const home = tempHome();
    const offline = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        ensureStaticAddress: () => Promise.reject(new CloudError('network', 'ec2:AllocateAddress failed: getaddrinfo ENOTFOUND ec2.us-east-1.amazonaws.com')),
      });
    const err = await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home, wrapCloud: offline }), { ...flags, name: 'flaky' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).remediation).toMatch(/Nothing is left half-made: re-run `sourcegraph-launch launch --yes .*--name flaky/);
    expect(await counts('flaky')).toEqual({ instances: 1, groups: 1, keys: 1 });

    const io = new ScriptedIo([], false);
    const done = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io, home }), { ...flags, name: 'flaky' })) as LaunchResult;
    expect(io.text()).toMatch(/Resuming the launch started .*interrupted during: address/);
    expect(done.resources.allocationId).toMatch(/^eipalloc-/);
    expect(await counts('flaky')).toEqual({ instances: 1, groups: 1, keys: 1 });
  });

  it('refuses to launch over an existing deployment at another version (that is upgrade)', async () => {
    const home = tempHome();
    await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), { ...flags, name: 'twice', image: AMI, version: '6.11.0' });
    const err = await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), { ...flags, name: 'twice' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'deployment-differs', exitCode: 1 });
    expect((err as LaunchError).message).toMatch(/version: exists as 6\.11\.0, this run asks for 6\.12\.5040\n\s+→ `upgrade twice --region us-east-1 --to 6\.12\.5040`/);
    expect((await counts('twice')).instances).toBe(1);
  });

  it('--schedule daily --retain N ensures a Data Lifecycle Manager policy after the address', async () => {
    // moto has no DLM: record the call the adapter would make (its request shape is tested in aws-upgrade.mock.test.ts).
    const calls: unknown[] = [];
    const recordDlm = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        ensureSnapshotSchedule: async (spec: unknown) => {
          calls.push(spec);
          return { id: 'policy-0123456789abcdef0', state: 'ENABLED', schedule: 'daily', retain: 14 };
        },
      });
    const io = new ScriptedIo([], false);
    const deps = makeDeps({ endpoint: moto.endpoint, io, wrapCloud: recordDlm });
    await runLaunch(deps, { ...flags, name: 'snap', schedule: 'daily', retain: '14' });
    expect(calls).toEqual([
      // The AWS adapter makes the default role (AWSDataLifecycleManagerDefaultRole) from the account.
      { deployment: 'snap', schedule: 'daily', retain: 14, params: { account: '123456789012' } },
    ]);
    const titles = io.progressTitles();
    expect(titles.indexOf('Daily data-volume snapshots (Data Lifecycle Manager)')).toBe(titles.indexOf('Elastic IP') + 1);
    expect(io.text()).toContain('--schedule daily --retain 14');
  });

  it('re-running a finished launch reconciles and creates nothing new', async () => {
    const home = tempHome();
    const a = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), { ...flags, name: 'again' })) as LaunchResult;
    const b = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), { ...flags, name: 'again' })) as LaunchResult;
    expect(b.instanceId).toBe(a.instanceId);
    expect(b.resources).toEqual(a.resources);
    expect(await counts('again')).toEqual({ instances: 1, groups: 1, keys: 1 });
  });
});
