// `upgrade --rehearse` end to end with real parts: the real CLI process → moto (EC2), production
// behind its Elastic IP on one test host (real sshd + HTTP, serving 6.11.0), and the rehearsal's
// throwaway instance on a second test host (serving the target version once "booted").
//
// moto gives every instance a random public IP that must never be contacted; on a real cloud the
// rehearsal instance's ephemeral public IP is where its SSH is. So once the instance runs, the CLI
// pauses itself (SIGSTOP, the test seam SGL_TEST_PAUSE), points a test-made Elastic IP (untagged: not the
// deployment's) at the second test host's address, and the test lets it go on (SIGCONT). That address is the
// test's stand-in for the ephemeral IP; the test releases it itself.
//
// Asserted: the report (phases, estimate), that the copy was made from the snapshot in production's
// zone, the instance from the target AMI with only SSH from --ssh-cidr and no address of the
// deployment's, that /healthz was asked from inside (curl over SSH, never over HTTP from outside),
// that production's instance, volumes, address and security group describe exactly the same before
// and after, and that nothing of the rehearsal is left — also after a SIGKILL mid-run (the next run
// deletes the leftovers first) and after Ctrl-C (exit 130, deleted before exiting).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEAD_ENDPOINT, runCli, type CliOptions } from '../support/cli.js';
import { allocateTestAddress, byDeployment, makeTestHostReachable, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const AMI_NEW = 'ami-0c12504000000612b';
const PROD_ADDRESS = '10.200.122.2';
const COPY_ADDRESS = '10.200.122.3';
const PUBLISHER = '840044800169';
// Not production's --ssh-cidr: the copy's security group must hold this one rule and nothing of production's.
const CALLER = '198.51.100.23/32';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let moto: MotoServer;
let ec2: EC2Client;
let prodHost: TestHost;
let copyHost: TestHost;
let keyDir: string;
let publicKeyPath: string;
/** Instance id → the test host standing in for it. */
const hostOf = new Map<string, TestHost>();

const tags = (x: { Tags?: { Key?: string; Value?: string }[] }) => tagMap(x.Tags);

async function instances(name: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
const volumes = async (name: string) => (await ec2.send(new DescribeVolumesCommand({ Filters: byDeployment(name) }))).Volumes ?? [];
const groups = async (name: string) => (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment(name) }))).SecurityGroups ?? [];
const snapshots = async (name: string) => (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byDeployment(name) }))).Snapshots ?? [];

/** Production as EC2 describes it: the instance, its volumes, its address, its security groups. */
async function production(instanceId: string): Promise<string> {
  const inst = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]!.Instances![0]!;
  const volumeIds = (inst.BlockDeviceMappings ?? []).map((m) => m.Ebs!.VolumeId!);
  const vols = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: volumeIds }))).Volumes;
  const addr = (await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }))).Addresses;
  const sgs = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: inst.SecurityGroups!.map((g) => g.GroupId!) }))).SecurityGroups;
  return JSON.stringify({ inst, vols, addr, sgs });
}

function cli(args: string[], home: string, extra: CliOptions = {}) {
  return runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 120_000, ...extra });
}

/** The allocation the test gave the last rehearsal instance (released before the next one gets it). */
let lent: string | undefined;
async function takeBack(): Promise<void> {
  if (!lent) return;
  const a = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [lent] }))).Addresses?.[0];
  if (a?.AssociationId) await ec2.send(new DisassociateAddressCommand({ AssociationId: a.AssociationId }));
  await ec2.send(new ReleaseAddressCommand({ AllocationId: lent }));
  lent = undefined;
}

const watchErrors: string[] = [];
/** The copy's security groups and how many of the deployment's addresses it held, seen while the CLI was paused. */
const copyAccess: { role?: string; rules: string[] }[][] = [];
const copyAddresses: number[] = [];
const isStopped = (pid: number) => {
  try {
    return / T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return false;
  }
};

/**
 * The CLI stops itself once the rehearsal's instance runs with its data (SGL_TEST_PAUSE; after the
 * stop → attach → start, since moto gives a started instance a new public IP), the test gives that
 * instance the copy host's address, then lets the CLI go on to the readiness wait.
 */
function reachTheCopy(opts: CliOptions = {}): CliOptions {
  let watching = false;
  return {
    ...opts,
    env: { ...opts.env, SGL_TEST_PAUSE: 'after:instance-running' },
    onOutput: (chunk, child) => {
      opts.onOutput?.(chunk, child);
      if (watching) return;
      watching = true;
      void (async () => {
        while (child.exitCode === null && child.signalCode === null) {
          if (child.pid && isStopped(child.pid)) {
            try {
              const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:role', Values: ['rehearsal'] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }));
              const made = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
              const id = made.find((i) => !hostOf.has(i.InstanceId!))!.InstanceId!;
              await takeBack();
              lent = (await makeTestHostReachable(ec2, id, COPY_ADDRESS)).allocationId;
              hostOf.set(id, copyHost);
              const inst = made.find((i) => i.InstanceId === id)!;
              const sgs = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: inst.SecurityGroups!.map((g) => g.GroupId!) }))).SecurityGroups ?? [];
              copyAccess.push(sgs.map((g) => ({ role: tags(g)['sourcegraph-launch:role'], rules: (g.IpPermissions ?? []).map((r) => `${r.FromPort}:${(r.IpRanges ?? []).map((x) => x.CidrIp).join(',')}`) })));
              copyAddresses.push(((await ec2.send(new DescribeAddressesCommand({ Filters: byDeployment('prod') }))).Addresses ?? []).filter((a) => a.InstanceId === id).length);
            } catch (e) {
              watchErrors.push(String(e));
            } finally {
              child.kill('SIGCONT');
            }
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    },
  };
}

/** Nothing of a rehearsal is left in the deployment: one instance (production), its volumes, its group. */
async function expectNothingLeft(name: string, prodId: string) {
  expect((await instances(name)).map((i) => i.InstanceId)).toEqual([prodId]);
  for (const v of await volumes(name)) expect(tags(v)['sourcegraph-launch:role']).not.toMatch(/rehearsal/);
  expect((await volumes(name)).every((v) => v.Attachments?.[0]?.InstanceId === prodId)).toBe(true);
  expect((await groups(name)).map((g) => tags(g)['sourcegraph-launch:role'])).not.toContain('rehearsal');
}

const rehearseArgs = (name: string, ...extra: string[]) => ['upgrade', name, '--region', 'us-east-1', '--to', NEW, '--rehearse', '--ssh-cidr', CALLER, '--yes', '--hold-seconds', '0', '--init-rate', '0', ...extra];

beforeAll(async () => {
  moto = await startMoto({
    // Each instance's console lists the host keys of the test host standing in for it.
    consoleOutput: (id) => (hostOf.get(id) ?? prodHost)?.consoleOutput(),
    images: [
      { id: AMI_OLD, name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER },
      { id: AMI_NEW, name: `Sourcegraph v${NEW}`, ownerId: PUBLISHER },
    ],
  });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-rehearse-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  const quick = { healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 };
  prodHost = await startTestHost({ address: PROD_ADDRESS, version: OLD, authorizedKey: key.publicKey, ...quick });
  // The copy boots the target image on the old data: the data version file turns NEW when the node is Ready.
  copyHost = await startTestHost({ address: COPY_ADDRESS, version: NEW, dataVersion: OLD, authorizedKey: key.publicKey, ...quick });
});

afterAll(async () => {
  await copyHost?.stop();
  await prodHost?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('upgrade --rehearse with the real CLI', () => {
  it('rehearses on a copy, reports, deletes the copy; production is described the same before and after; SIGKILL and Ctrl-C leave nothing behind', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-rehearse-home-'));
    await allocateTestAddress(ec2, PROD_ADDRESS, { deployment: 'prod' });
    const launch = await cli(
      ['launch', '--region', 'us-east-1', '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'prod', '--hold-seconds', '0', '--json'],
      home,
    );
    expect(launch.code, launch.stderr).toBe(0);
    const [prod] = await instances('prod');
    const prodId = prod!.InstanceId!;
    hostOf.set(prodId, prodHost);
    const before = await production(prodId);
    const prodRequests = prodHost.requests.length;

    // 1. The rehearsal: a new snapshot (none exists), kept as a backup.
    const run = await cli([...rehearseArgs('prod'), '--json'], home, reachTheCopy());
    expect(run.code, `${run.stderr}\n${watchErrors.join('\n')}`).toBe(0);
    const r = run.json<Record<string, any>>();
    expect(r).toMatchObject({ ok: true, from: OLD, to: NEW, imageId: AMI_NEW, instanceType: prod!.InstanceType, zone: prod!.Placement!.AvailabilityZone, snapshot: { new: true, kept: true } });
    for (const phase of ['snapshotMs', 'diskRestoreMs', 'instanceStartMs', 'bootToServingMs', 'stopMs']) expect(r.phases[phase], phase).toBeGreaterThanOrEqual(0);
    expect(r.estimatedDowntimeMs).toBe(r.phases.stopMs + r.phases.instanceStartMs + r.phases.bootToServingMs);
    expect(r.downtimeEstimate).toMatch(/^about .*stopping .* starting with the data .* boot and migrations to serving/);
    expect(r.cleanup.failed).toEqual([]);
    // While it ran, the copy had one security group of its own with one rule (SSH from the caller), and no address of the deployment's.
    expect(copyAccess[0]).toEqual([{ role: 'rehearsal', rules: [`22:${CALLER}`] }]);
    expect(copyAddresses[0]).toBe(0);
    // The copy served: its data version file went to the target version (the migrations ran there, not on production).
    expect(copyHost.versionFiles()).toEqual({ root: NEW, data: NEW });
    expect(prodHost.versionFiles()).toEqual({ root: OLD, data: OLD });
    // /healthz of the copy was asked from inside over SSH (curl to its own address), never over HTTP from outside… 
    expect(copyHost.execLog().some((c) => c.includes('curl') && c.includes('/healthz'))).toBe(true);
    // …and production's HTTP was asked only for its version (GET /healthz while planning).
    expect(prodHost.requests.slice(prodRequests).every((p) => p === '/healthz')).toBe(true);
    // What it made, as EC2 saw it (terminated now): the target AMI, in production's zone, a security group of its own.
    const made = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:role', Values: ['rehearsal'] }] }))).Reservations!.flatMap((x) => x.Instances!);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ ImageId: AMI_NEW, State: { Name: 'terminated' }, Placement: { AvailabilityZone: prod!.Placement!.AvailabilityZone } });
    expect(tags(made[0]!)).toMatchObject({ 'sourcegraph-launch:deployment': 'prod', 'sourcegraph-launch:version': NEW });
    const kept = (await snapshots('prod')).map((s) => ({ id: s.SnapshotId, purpose: tags(s)['sourcegraph-launch:purpose'], volume: s.VolumeId }));
    expect(kept).toEqual([{ id: r.snapshot.id, purpose: 'backup', volume: prod!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId }]);
    await expectNothingLeft('prod', prodId);
    expect(await production(prodId)).toBe(before);

    // 2. Killed (power lost) after the copy served: everything it made is still there…
    copyHost.reboot({ version: NEW, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
    const killed = await cli(rehearseArgs('prod', '--from-snapshot', r.snapshot.id), home, reachTheCopy({ env: { SGL_TEST_FAULT: 'after:wait-for-version' } }));
    expect(killed.signal).toBe('SIGKILL');
    const leftovers = (await instances('prod')).filter((i) => i.InstanceId !== prodId);
    expect(leftovers.map((i) => tags(i)['sourcegraph-launch:role'])).toEqual(['rehearsal']);
    // …and the next rehearsal deletes it first, then rehearses from the same (now existing) snapshot, and deletes it all again.
    copyHost.reboot({ version: NEW, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
    const again = await cli([...rehearseArgs('prod'), '--json'], home, reachTheCopy());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/did not finish its cleanup: finishing it first/);
    const second = again.json<Record<string, any>>();
    expect(second.leftoversRemoved).toContain(leftovers[0]!.InstanceId);
    expect(second.snapshot).toMatchObject({ id: r.snapshot.id, new: false });
    await expectNothingLeft('prod', prodId);

    // 3. Ctrl-C while the copy boots (it never gets there): exit 130, deleted before exiting.
    copyHost.reboot({ version: NEW, healthzNotFoundCount: 100_000, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
    let interrupted = false;
    const stopped = await cli(
      rehearseArgs('prod'),
      home,
      reachTheCopy({
        onOutput: (chunk, child) => {
          if (!interrupted && /healthz reports 6\.12\.5040: /.test(chunk)) {
            interrupted = true;
            child.kill('SIGINT');
          }
        },
      }),
    );
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/Everything it made was deleted/);
    await expectNothingLeft('prod', prodId);

    expect(await production(prodId)).toBe(before);
    await takeBack();
    rmSync(home, { recursive: true, force: true });
  });
});

describe('upgrade --rehearse: bad input with the real CLI', () => {
  it('exits 2 before any cloud call: a rehearsal-only flag without --rehearse, an open --ssh-cidr', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-rehearse-input-'));
    const without = await runCli(['upgrade', 'prod', '--region', 'us-east-1', '--from-snapshot', 'new', '--json'], { endpoint: DEAD_ENDPOINT, home });
    expect(without.code).toBe(2);
    expect(without.json()).toMatchObject({ error: { code: 'rehearse-only-flag', message: '--from-snapshot: only with --rehearse', exitCode: 2 } });
    const open = await runCli(['upgrade', 'prod', '--region', 'us-east-1', '--rehearse', '--ssh-cidr', '0.0.0.0/0'], { endpoint: DEAD_ENDPOINT, home });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/a rehearsal lets in one address/);
    rmSync(home, { recursive: true, force: true });
  });
});
