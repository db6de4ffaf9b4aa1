// `upgrade --rehearse` end to end with real parts: the real CLI process → moto (EC2), production
// behind its Elastic IP on one test host (real sshd + HTTP, serving 6.11.0), and the rehearsal's
// throwaway instance on a second test host (serving the target version once "booted").
//
// Production is launched into a subnet of the test's own (10.200.126.128/25), so moto gives the
// rehearsal's instance a private address there, and no public one (it is launched without). The
// CLI reaches it through production: SSH to production's test host, and from that sshd a forwarded
// connection to the copy's private address. Once the instance runs, the CLI pauses itself (SIGSTOP,
// the test seam SGL_TEST_PAUSE); the test puts that private address on loopback with a relay to the
// copy's test host (the stand-in for the copy's network interface), notes who connects to it, and
// lets the CLI go on (SIGCONT).
//
// Asserted: the report (phases, estimate), that the copy was made from the snapshot in production's
// zone, the instance from the target AMI with no public address (as EC2 describes it while it ran),
// one rule (SSH from production's private address /32) and no address of the deployment's, that every
// connection to the copy came from production's sshd (never from the CLI itself), that production
// ran no command for the rehearsal, that /healthz was asked from inside (curl over SSH, never over HTTP from outside),
// that production's instance, volumes, address and security group describe exactly the same before
// and after, and that nothing of the rehearsal is left — also after a SIGKILL mid-run (the next run
// deletes the leftovers first) and after Ctrl-C (exit 130, deleted before exiting).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEAD_ENDPOINT, runCli, type CliOptions } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { connectionOwners } from '../support/tcp-owners.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const AMI_NEW = 'ami-0c12504000000612b';
const PROD_ADDRESS = '10.200.122.2';
const COPY_ADDRESS = '10.200.122.3';
const PUBLISHER = '840044800169';
// The test's own network for production and the copy: moto hands out private addresses from the subnet.
const VPC_CIDR = '10.200.126.0/24';
const SUBNET_CIDR = '10.200.126.128/25';

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

/**
 * The copy's private address as its network would carry it: the address on loopback, and a relay
 * from its port 22 to the copy's test host. Each connection's client is noted (by `ss`): production's
 * sshd when the CLI went through production, the CLI's own node process if it dialled it itself.
 */
const relays = new Map<string, { server: Server; added: boolean }>();
const relayClients: string[][] = [];
async function relayToCopy(privateIp: string): Promise<void> {
  if (relays.has(privateIp)) return;
  const added = await addLoopbackAddress(privateIp);
  const server = createServer((socket) => {
    void connectionOwners(privateIp, 22).then((owners) => relayClients.push(owners), (e: unknown) => watchErrors.push(String(e)));
    const upstream = tcpConnect({ host: COPY_ADDRESS, port: 22 });
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(22, privateIp, () => resolve()));
  relays.set(privateIp, { server, added });
}

const watchErrors: string[] = [];
/** The copy's security groups, how many of the deployment's addresses it held and its public address, seen while the CLI was paused. */
const copyAccess: { role?: string; rules: string[] }[][] = [];
const copyAddresses: number[] = [];
const copyPublicIps: (string | null)[] = [];
const isStopped = (pid: number) => {
  try {
    return / T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return false;
  }
};

/**
 * The CLI stops itself once the rehearsal's instance runs with its data (SGL_TEST_PAUSE; after the
 * stop → attach → start), the test relays the instance's private address to the copy host, notes
 * what EC2 says of its access and public address, then lets the CLI go on to the readiness wait.
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
              const inst = made.find((i) => i.InstanceId === id)!;
              await relayToCopy(inst.PrivateIpAddress!);
              hostOf.set(id, copyHost);
              copyPublicIps.push(inst.PublicIpAddress ?? inst.NetworkInterfaces?.[0]?.Association?.PublicIp ?? null);
              // The groups of its network interface (moto lists none on an instance launched with an interface spec; EC2 lists the same there).
              const groupIds = (inst.NetworkInterfaces?.[0]?.Groups ?? []).map((g) => g.GroupId!);
              const sgs = groupIds.length ? ((await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }))).SecurityGroups ?? []) : [];
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

const rehearseArgs = (name: string, ...extra: string[]) => ['upgrade', name, '--region', 'us-east-1', '--to', NEW, '--rehearse', '--yes', '--hold-seconds', '0', '--init-rate', '0', ...extra];

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
  for (const [ip, relay] of relays) {
    await new Promise<void>((resolve) => relay.server.close(() => resolve()));
    if (relay.added) await removeLoopbackAddress(ip);
  }
  await copyHost?.stop();
  await prodHost?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('upgrade --rehearse with the real CLI', () => {
  it('rehearses on a copy, reports, deletes the copy; production is described the same before and after; SIGKILL and Ctrl-C leave nothing behind', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-rehearse-home-'));
    await allocateTestAddress(ec2, PROD_ADDRESS, { deployment: 'prod' });
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: VPC_CIDR }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: SUBNET_CIDR, AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const launch = await cli(
      ['launch', '--region', 'us-east-1', '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--subnet', subnet,
        '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'prod', '--hold-seconds', '0', '--json'],
      home,
    );
    expect(launch.code, launch.stderr).toBe(0);
    const [prod] = await instances('prod');
    const prodId = prod!.InstanceId!;
    hostOf.set(prodId, prodHost);
    const before = await production(prodId);
    const prodRequests = prodHost.requests.length;
    const prodCommands = prodHost.execLog().length;
    const prodPrivate = prod!.PrivateIpAddress!;
    expect(prodPrivate.startsWith('10.200.126.')).toBe(true);

    // 0. The dry run: the copy has no public address, one rule (production's private address), reached through production; nothing made.
    const dry = await cli([...rehearseArgs('prod'), '--dry-run', '--json'], home);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, rehearse: true, publicIp: false, sshCidr: `${prodPrivate}/32`, through: { instanceId: prodId, host: PROD_ADDRESS, privateIp: prodPrivate } });
    expect((await instances('prod')).map((i) => i.InstanceId)).toEqual([prodId]);

    // 1. The rehearsal: a new snapshot (none exists), kept as a backup.
    const run = await cli([...rehearseArgs('prod'), '--json'], home, reachTheCopy());
    expect(run.code, `${run.stderr}\n${watchErrors.join('\n')}`).toBe(0);
    const r = run.json<Record<string, any>>();
    expect(r).toMatchObject({ ok: true, from: OLD, to: NEW, imageId: AMI_NEW, instanceType: prod!.InstanceType, zone: prod!.Placement!.AvailabilityZone, snapshot: { new: true, kept: true } });
    for (const phase of ['snapshotMs', 'diskRestoreMs', 'instanceStartMs', 'bootToServingMs', 'stopMs']) expect(r.phases[phase], phase).toBeGreaterThanOrEqual(0);
    expect(r.estimatedDowntimeMs).toBe(r.phases.stopMs + r.phases.instanceStartMs + r.phases.bootToServingMs);
    expect(r.downtimeEstimate).toMatch(/^about .*stopping .* starting with the data .* boot and migrations to serving/);
    expect(r.cleanup.failed).toEqual([]);
    // While it ran, the copy had one security group of its own with one rule (SSH from production's private address), no public address, and no address of the deployment's.
    expect(copyAccess[0]).toEqual([{ role: 'rehearsal', rules: [`22:${prodPrivate}/32`] }]);
    expect(copyPublicIps[0]).toBeNull();
    expect(copyAddresses[0]).toBe(0);
    // Every SSH connection to the copy came from production's sshd (a forwarded channel), none from the CLI itself…
    expect(relayClients.length).toBeGreaterThan(0);
    expect(relayClients.flat().every((owner) => owner === 'sshd')).toBe(true);
    expect(relayClients.every((owners) => owners.length > 0)).toBe(true);
    // …and production only relayed: the rehearsal ran nothing on it (planning reads its version files once).
    expect(prodHost.execLog().slice(prodCommands).filter((c) => !/sourcegraph-version/.test(c))).toEqual([]);
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
    expect(copyPublicIps.every((ip) => ip === null)).toBe(true);
    expect(relayClients.flat().every((owner) => owner === 'sshd')).toBe(true);
    rmSync(home, { recursive: true, force: true });
  });
});

describe('upgrade --rehearse: bad input with the real CLI', () => {
  it('exits 2 before any cloud call for a rehearsal-only flag without --rehearse; --ssh-cidr (of earlier versions) is ignored with a warning', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-rehearse-input-'));
    const without = await runCli(['upgrade', 'prod', '--region', 'us-east-1', '--from-snapshot', 'new', '--json'], { endpoint: DEAD_ENDPOINT, home });
    expect(without.code).toBe(2);
    expect(without.json()).toMatchObject({ error: { code: 'rehearse-only-flag', message: '--from-snapshot: only with --rehearse', exitCode: 2 } });
    const cidrWithout = await runCli(['upgrade', 'prod', '--region', 'us-east-1', '--ssh-cidr', '198.51.100.23/32', '--json'], { endpoint: DEAD_ENDPOINT, home });
    expect(cidrWithout.code).toBe(2);
    expect(cidrWithout.json()).toMatchObject({ error: { code: 'rehearse-only-flag', message: '--ssh-cidr: only with --rehearse' } });
    // Accepted, so scripts written for earlier versions still parse; it changes nothing (this home
    // has no key for prod, which is what stops the run).
    const old = await runCli(['upgrade', 'prod', '--region', 'us-east-1', '--rehearse', '--ssh-cidr', '198.51.100.23/32'], { endpoint: DEAD_ENDPOINT, home });
    expect(old.stderr).not.toMatch(/unknown option/);
    expect(old.stderr).toMatch(/no private key for prod/);
    expect(old.stderr).toMatch(/--ssh-cidr 198\.51\.100\.23\/32 is ignored: the copy has no public address/);
    rmSync(home, { recursive: true, force: true });
  });
});
