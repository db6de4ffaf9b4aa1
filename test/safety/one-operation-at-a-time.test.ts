// Promise: an upgrade, rollback, prune or destroy never runs while another one is in progress,
// from this machine or any other: a marker on the deployment's instance (kept alive by the running
// process, expiring by itself when it dies) refuses a second one, and --force-unlock clears it,
// naming what it clears.
import { CreateTagsCommand, DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsAdapter } from '../../src/cloud/aws/adapter.js';
import type { Cloud } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { LaunchError } from '../../src/core/errors.js';
import { holdDeployment, markersOf, markerValue } from '../../src/engine/hold.js';
import { runCli } from '../support/cli.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoAppliance } from '../support/moto-appliance.js';
import { byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

/** Where the AWS adapter keeps the marker labels (`lock-<id>`) as tags. */
const TAG_LOCK_PREFIX = 'sourcegraph-launch:lock-';

let moto: MotoServer;
let ec2: EC2Client;
const target = { cloud: 'aws' as const, region: 'us-east-1', name: 'busy' };

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60723', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());

let instanceId: string;
beforeEach(async () => {
  await moto.reset();
  const deps = makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) });
  const launched = (await runLaunch(deps, { region: 'us-east-1', version: '6.12.5040', allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], providerFlags: { elasticIp: 'none' }, name: 'busy', wait: false, yes: true })) as LaunchResult;
  instanceId = launched.instanceId;
});

const connect = (): Cloud => createAwsAdapter({ provider: 'aws', region: 'us-east-1', params: {} }, { endpoint: moto.endpoint, pollIntervalMs: 100 });

async function instanceTags(): Promise<Record<string, string | undefined>> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment('busy') }));
  const live = out.Reservations!.flatMap((r) => r.Instances!).filter((i) => i.State?.Name !== 'terminated');
  return tagMap(live[0]?.Tags);
}

async function markFromElsewhere(operation: string, untilMs: number) {
  const since = new Date(Date.now() - 60_000).toISOString();
  await ec2.send(
    new CreateTagsCommand({
      Resources: [instanceId],
      Tags: [{ Key: `${TAG_LOCK_PREFIX}feed`, Value: `${operation} by bob@ci-runner:4242 since ${since} until ${new Date(untilMs).toISOString()}` }],
    }),
  );
}

describe('a live marker from another machine', () => {
  it('refuses destroy (real CLI) with exit 1 naming the marker; nothing is deleted', async () => {
    await markFromElsewhere('upgrade', Date.now() + 5 * 60_000);
    const r = await runCli(['destroy', 'busy', '--region', 'us-east-1', '--yes'], { endpoint: moto.endpoint, home: tempHome() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/Another upgrade of busy is in progress: upgrade by bob@ci-runner:4242/);
    expect(r.stderr).toContain('--force-unlock');
    expect((await instanceTags())['sourcegraph-launch:role']).toBe('instance');
  });

  it.each([
    { command: 'upgrade', run: (deps: ReturnType<typeof makeDeps>) => runUpgrade(deps, 'busy', { region: 'us-east-1', to: '6.12.5040', yes: true, holdSeconds: '0', providerFlags: {} }) },
    { command: 'rollback', run: (deps: ReturnType<typeof makeDeps>) => runRollback(deps, 'busy', { region: 'us-east-1', yes: true, holdSeconds: '0', providerFlags: {} }) },
  ])('refuses $command (exit 1 naming the marker and --force-unlock), changing nothing', async ({ run }) => {
    const since = Date.now() - 60_000;
    await ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: [{ Key: `${TAG_LOCK_PREFIX}feed`, Value: markerValue({ operation: 'destroy', owner: 'bob@ci-runner', pid: 4242, sinceMs: since, untilMs: Date.now() + 5 * 60_000 }) }],
      }),
    );
    const err = await run(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), httpGet: motoAppliance(ec2).httpGet })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'operation-in-progress', exitCode: 1 });
    expect((err as LaunchError).message).toMatch(/Another destroy of busy is in progress: destroy by bob@ci-runner:4242/);
    expect((err as LaunchError).remediation).toMatch(/--force-unlock: it clears lock-feed/);
    const tags = await instanceTags();
    expect(tags['sourcegraph-launch:role']).toBe('instance');
    expect(tags[`${TAG_LOCK_PREFIX}feed`]).toBeDefined();
    expect(Object.keys(tags).filter((k) => k.startsWith(TAG_LOCK_PREFIX))).toEqual([`${TAG_LOCK_PREFIX}feed`]);
  });

  it.each(['prune'])('refuses %s', async (command) => {
    await markFromElsewhere('destroy', Date.now() + 5 * 60_000);
    const r = await runCli([command, 'busy', '--region', 'us-east-1', '--yes', '--json'], { endpoint: moto.endpoint, home: tempHome() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('operation-in-progress');
  });

  it('--force-unlock clears it, says which marker it cleared, and goes ahead', async () => {
    await markFromElsewhere('upgrade', Date.now() + 5 * 60_000);
    const r = await runCli(['destroy', 'busy', '--region', 'us-east-1', '--yes', '--force-unlock'], { endpoint: moto.endpoint, home: tempHome() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--force-unlock cleared the marker of upgrade by bob@ci-runner:4242 since .* \(live until .*, marker lock-feed on i-/);
  });

  it('upgrade --force-unlock clears it, says which marker it cleared, and goes ahead', async () => {
    await markFromElsewhere('upgrade', Date.now() + 5 * 60_000);
    const io = new ScriptedIo([], false);
    const deps = makeDeps({ endpoint: moto.endpoint, io, httpGet: motoAppliance(ec2).httpGet });
    // 6.12.5040 is the newest here: nothing to upgrade, but only after the marker was cleared and the deployment held.
    const out = await runUpgrade(deps, 'busy', { region: 'us-east-1', yes: true, holdSeconds: '0', forceUnlock: true, providerFlags: {} });
    expect(out.hops).toEqual([]);
    expect(io.events.filter((e) => e.kind === 'warn').map((e) => ('message' in e ? e.message : ''))).toEqual([
      expect.stringMatching(/^--force-unlock cleared the marker of upgrade by bob@ci-runner:4242 since .* \(live until .*, marker lock-feed on i-/),
    ]);
    expect(Object.keys(await instanceTags()).filter((k) => k.startsWith(TAG_LOCK_PREFIX))).toEqual([]);
  });

  it('an expired marker (its process died long ago) is ignored and removed', async () => {
    await markFromElsewhere('upgrade', Date.now() - 1000);
    const cloud = connect();
    const hold = await holdDeployment(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) }), cloud, target, 'prune', { marker: true });
    const tags = await instanceTags();
    expect(tags[`${TAG_LOCK_PREFIX}feed`]).toBeUndefined();
    expect(Object.keys(tags).filter((k) => k.startsWith(TAG_LOCK_PREFIX))).toHaveLength(1);
    await hold.release();
    expect(Object.keys(await instanceTags()).filter((k) => k.startsWith(TAG_LOCK_PREFIX))).toEqual([]);
  });
});

describe('a marker this machine left with a process that died (a crash)', () => {
  it('does not block the re-run here, which resumes', async () => {
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    await ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: [{ Key: `${TAG_LOCK_PREFIX}dead`, Value: `upgrade by me@${hostname().replace(/\s+/g, '_')}:${dead} since ${new Date().toISOString()} until ${new Date(Date.now() + 600_000).toISOString()}` }],
      }),
    );
    const cloud = connect();
    const hold = await holdDeployment(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) }), cloud, target, 'upgrade', { marker: true });
    expect((await instanceTags())[`${TAG_LOCK_PREFIX}dead`]).toBeUndefined();
    await hold.release();
  });
});

describe('the running process', () => {
  it('keeps its marker alive while it works', async () => {
    const cloud = connect();
    const hold = await holdDeployment(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false) }), cloud, target, 'upgrade', { marker: true, ttlMs: 60_000, heartbeatMs: 100 });
    const untilOf = async () => markersOf(await cloud.findDeployment('busy'))[0]!.until;
    const first = await untilOf();
    // The marker keeps its expiry in whole seconds (it must fit a label): wait past the next one.
    await new Promise((r) => setTimeout(r, 1_100));
    expect(Date.parse(await untilOf())).toBeGreaterThan(Date.parse(first));
    await hold.release();
    expect(markersOf(await cloud.findDeployment('busy'))).toEqual([]);
  });

  it('two machines starting at the same moment: exactly one holds it', async () => {
    const cloud = connect();
    const attempt = () => holdDeployment(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home: tempHome() }), cloud, target, 'upgrade', { marker: true });
    const outcomes = await Promise.allSettled([attempt(), attempt()]);
    const held = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(held).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0]!.reason as LaunchError).code).toBe('operation-in-progress');
    expect(markersOf(await cloud.findDeployment('busy'))).toHaveLength(1);
    await (held[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });
});
