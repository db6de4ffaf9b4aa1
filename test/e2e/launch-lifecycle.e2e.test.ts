// End to end with real parts: the real CLI process → moto (EC2 API emulator) for the cloud, and a
// test host with a real sshd and HTTP server standing in for the instance. The Elastic IP the
// launcher adopts has the test host's address, so the readiness wait talks to it over real SSH and
// HTTP (TESTING.md). Runs inside the test network namespace (npm test).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeAddressesCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.78.2';

vi.setConfig({ testTimeout: 180_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;


// Assigned with the moto client in beforeAll.
let liveInstances: ReturnType<typeof deploymentResources>['liveInstances'];
let groups: ReturnType<typeof deploymentResources>['groups'];
let keyPairs: ReturnType<typeof deploymentResources>['keyPairs'];
let addresses: ReturnType<typeof deploymentResources>['addresses'];
let volumes: ReturnType<typeof deploymentResources>['volumes'];

function launchArgs(name: string, extra: string[] = []): string[] {
  return [
    'launch',
    '--region', 'us-east-1',
    '--size', 'S',
    '--version', VERSION,
    '--allow-cidr', '203.0.113.0/24',
    '--ssh-cidr', '203.0.113.7/32',
    '--ssh-key', publicKeyPath,
    // Only root can log in to the test host; real images use ec2-user (the default).
    '--ssh-user', 'root',
    '--name', name,
    '--hold-seconds', '2',
    ...extra,
  ];
}

beforeAll(async () => {
  moto = await startMoto({
    // GetConsoleOutput lists the test host's real host keys, as cloud-init prints them on EC2.
    consoleOutput: () => host?.consoleOutput(),
    images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }],
  });
  ec2 = motoEc2Client(moto);
  ({ liveInstances, groups, keyPairs, addresses, volumes } = deploymentResources(ec2));
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 3 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

function newHome(): string {
  return mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
}

describe('launch → status → list → destroy with the real CLI', () => {
  it('creates exactly the secure deployment, waits until the version is served, and removes it', async () => {
    const home = newHome();
    // The address the launcher adopts for "--elastic-ip new" is the test host's (tagged as ours).
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'e2e' });

    const launch = await runCli([...launchArgs('e2e'), '--json'], { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(launch.code, launch.stderr).toBe(0);
    const result = launch.json<Record<string, any>>();
    expect(result).toMatchObject({ name: 'e2e', region: 'us-east-1', version: VERSION, url: `http://${HOST_ADDRESS}`, ready: true, needsSiteInit: true });
    expect(result.stages.map((s: { name: string }) => s.name)).toEqual(['instance-running', 'status-checks', 'ssh', 'k3s', 'pods', 'http-version']);
    // Progress went to stderr, the summary and the CI command line too.
    expect(launch.stderr).toMatch(/HTTP\/HTTPS from\s+203\.0\.113\.0\/24\s+flag/);
    expect(launch.stderr).toContain('Equivalent command for CI');

    // What exists in the cloud: one of everything, configured as promised.
    const [instance, ...extra] = await liveInstances('e2e');
    expect(extra).toEqual([]);
    expect(instance).toMatchObject({ InstanceType: 'm6a.4xlarge', ImageId: PUBLISHED_AMI, PublicIpAddress: HOST_ADDRESS, KeyName: 'sourcegraph-launch-e2e' });
    expect(instance!.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    const tags = tagMap(instance!.Tags);
    expect(tags).toMatchObject({ 'sourcegraph-launch:deployment': 'e2e', 'sourcegraph-launch:role': 'instance', 'sourcegraph-launch:version': VERSION });

    const vols = await volumes('e2e');
    const data = vols.find((v) => v.Attachments?.[0]?.Device === '/dev/sdb')!;
    const root = vols.find((v) => v.Attachments?.[0]?.Device === '/dev/xvda')!;
    expect(data).toMatchObject({ Size: 500, VolumeType: 'gp3', Encrypted: true });
    expect(root).toMatchObject({ Size: 50, VolumeType: 'gp3', Encrypted: true });
    // moto reports DeleteOnTermination on the instance's mappings, not on volume attachments.
    const keep = Object.fromEntries((instance!.BlockDeviceMappings ?? []).map((m) => [m.DeviceName, m.Ebs?.DeleteOnTermination]));
    expect(keep).toEqual({ '/dev/xvda': true, '/dev/sdb': false });
    expect(tagMap(data.Tags)['sourcegraph-launch:role']).toBe('data-volume');

    const [sg, ...moreGroups] = await groups('e2e');
    expect(moreGroups).toEqual([]);
    const rules = (sg!.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}-${p.ToPort} ${r.CidrIp}`)).sort();
    expect(rules).toEqual(['22-22 203.0.113.7/32', '443-443 203.0.113.0/24', '80-80 203.0.113.0/24']);
    expect(await keyPairs('e2e')).toHaveLength(1);
    const [eip] = await addresses('e2e');
    expect(eip).toMatchObject({ PublicIp: HOST_ADDRESS, InstanceId: instance!.InstanceId });

    // The wait really used SSH and HTTP on the test host.
    expect(host.execLog().some((c) => c.includes('systemctl is-active k3s'))).toBe(true);
    expect(host.execLog().some((c) => c.includes('get pods'))).toBe(true);
    expect(host.requests.filter((p) => p === '/healthz').length).toBeGreaterThan(3);
    expect(host.requests).toContain('/sign-in');

    // status from a machine with no local state finds the deployment by its tags.
    const status = await runCli(['status', 'e2e', '--region', 'us-east-1', '--json'], { endpoint: moto.endpoint, home: newHome() });
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({
      name: 'e2e',
      state: 'running',
      instanceId: instance!.InstanceId,
      servingVersion: VERSION,
      versionTag: VERSION,
      size: 'S',
      url: `http://${HOST_ADDRESS}`,
      dataVolumes: [{ id: data.VolumeId, sizeGiB: 500, type: 'gp3' }],
    });
    const human = await runCli(['status', 'e2e', '--region', 'us-east-1'], { endpoint: moto.endpoint, home });
    expect(human.stdout).toMatch(/serving\s+6\.12\.5040/);
    // The host key was checked against the fingerprints on the instance's console, and status says so.
    expect(launch.stderr).toMatch(/host key matches the console output/);
    expect(human.stdout).toContain(`SSH host key    ${host.hostKeyFingerprint} (checked against the console)`);

    const list = await runCli(['list', '--region', 'us-east-1', '--json'], { endpoint: moto.endpoint, home: newHome() });
    expect(list.code, list.stderr).toBe(0);
    expect(list.json<{ deployments: { name: string; state: string }[] }>().deployments).toEqual([expect.objectContaining({ name: 'e2e', state: 'running' })]);

    // destroy: CI must say --yes; then only tagged resources go and the data volume stays.
    const refused = await runCli(['destroy', 'e2e', '--region', 'us-east-1'], { endpoint: moto.endpoint, home });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes is required to destroy when not running interactively/);
    expect(await liveInstances('e2e')).toHaveLength(1);

    const destroy = await runCli(['destroy', 'e2e', '--region', 'us-east-1', '--yes', '--json'], { endpoint: moto.endpoint, home });
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(destroy.json()).toMatchObject({ kept: [{ volumeId: data.VolumeId }] });
    expect(await liveInstances('e2e')).toEqual([]);
    expect(await groups('e2e')).toEqual([]);
    expect(await keyPairs('e2e')).toEqual([]);
    expect(await addresses('e2e')).toEqual([]);
    const kept = await volumes('e2e');
    expect(kept.map((v) => [v.VolumeId, v.State])).toEqual([[data.VolumeId, 'available']]);

    const after = await runCli(['status', 'e2e', '--region', 'us-east-1', '--json'], { endpoint: moto.endpoint, home });
    expect(after.json()).toMatchObject({ state: 'missing', dataVolumes: [{ id: data.VolumeId }] });

    // Relaunch onto the kept data: CI must choose; with the volume it is attached before the first
    // boot and the wait runs to the end as for any launch.
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'e2e' });
    host.reboot({ healthzNotFoundCount: 1 });
    const unsure = await runCli(launchArgs('e2e'), { endpoint: moto.endpoint, home });
    expect(unsure.code, unsure.stderr).toBe(2);
    expect(unsure.stderr).toMatch(/--data-volume is required/);
    const relaunch = await runCli([...launchArgs('e2e'), '--data-volume', data.VolumeId!, '--json'], { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(relaunch.code, relaunch.stderr).toBe(0);
    expect(relaunch.json()).toMatchObject({ ready: true, resources: { dataVolumeId: data.VolumeId } });
    const [back] = await liveInstances('e2e');
    expect(back!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId).toBe(data.VolumeId);
    expect((await runCli(['destroy', 'e2e', '--region', 'us-east-1', '--yes'], { endpoint: moto.endpoint, home })).code).toBe(0);

    const wipe = await runCli(['destroy', 'e2e', '--region', 'us-east-1', '--yes', '--delete-data'], { endpoint: moto.endpoint, home });
    expect(wipe.code, wipe.stderr).toBe(0);
    expect(await volumes('e2e')).toEqual([]);

    const gone = await runCli(['status', 'e2e', '--region', 'us-east-1', '--json'], { endpoint: moto.endpoint, home });
    expect(gone.code).toBe(1);
    expect(gone.json()).toMatchObject({ error: { code: 'deployment-not-found' } });
  });

  it('never releases an address or deletes a key pair the user brought, and reports a vanished instance', async () => {
    const home = newHome();
    const mine = await allocateTestAddress(ec2, HOST_ADDRESS);
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'team-key', PublicKeyMaterial: readFileSync(publicKeyPath) }));
    const args = launchArgs('byo', ['--elastic-ip', mine, '--no-wait']);
    args.splice(args.indexOf('--ssh-key'), 2, '--key-name', 'team-key');
    const launch = await runCli(args, { endpoint: moto.endpoint, home });
    expect(launch.code, launch.stderr).toBe(0);
    const [instance] = await liveInstances('byo');
    expect(instance!.PublicIpAddress).toBe(HOST_ADDRESS);

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance!.InstanceId!] }));
    const status = await runCli(['status', 'byo', '--region', 'us-east-1', '--json'], { endpoint: moto.endpoint, home });
    expect(status.json()).toMatchObject({ state: 'missing' });
    expect(status.json<{ notes: string[] }>().notes.join(' ')).toMatch(/no longer exists/);

    // From a machine with no local state: found by tags.
    const destroy = await runCli(['destroy', 'byo', '--region', 'us-east-1', '--yes'], { endpoint: moto.endpoint, home: newHome() });
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(await groups('byo')).toEqual([]);
    const still = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [mine] }))).Addresses ?? [];
    expect(still.map((a) => a.PublicIp)).toEqual([HOST_ADDRESS]);
    const keys = (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['team-key'] }))).KeyPairs ?? [];
    expect(keys.map((k) => k.KeyName)).toEqual(['team-key']);
  });

  it('with --ssh-cidr none there is no SSH rule and the wait relies on the cloud and HTTP alone', async () => {
    const home = newHome();
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'nossh' });
    const args = launchArgs('nossh', ['--json']);
    args.splice(args.indexOf('--ssh-cidr'), 2, '--ssh-cidr', 'none');
    const before = host.execLog().length;
    const r = await runCli(args, { endpoint: moto.endpoint, home });
    expect(r.code, r.stderr).toBe(0);
    const stages = r.json<{ stages: { name: string; skipped?: boolean }[] }>().stages;
    expect(stages.filter((s) => s.skipped).map((s) => s.name)).toEqual(['ssh', 'k3s', 'pods']);
    expect(host.execLog().length).toBe(before);
    const [sg] = await groups('nossh');
    expect((sg!.IpPermissions ?? []).map((p) => p.FromPort).sort()).toEqual([443, 80]);
  });

  it('--dry-run with credentials proves the launch permission and changes nothing', async () => {
    const r = await runCli([...launchArgs('dry'), '--dry-run', '--json'], { endpoint: moto.endpoint, home: newHome() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/accepted a RunInstances dry run/);
    const out = r.json<{ plan: Record<string, { value: any; source: string }>; requests: { operation: string }[] }>();
    expect(out.plan.image).toMatchObject({ value: { id: PUBLISHED_AMI }, source: 'discovered' });
    expect(out.requests.map((q) => q.operation)).toContain('RunInstances');
    expect(await liveInstances('dry')).toEqual([]);
    expect(await groups('dry')).toEqual([]);
    expect(await keyPairs('dry')).toEqual([]);
  });
});

describe('crash and resume', () => {
  it.each(['key-pair', 'security-group', 'instance', 'address'])('killed right after the %s step, a re-run finishes with exactly one of each resource', async (step) => {
    const home = newHome();
    const name = `crash-${step}`;
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: name });
    const crashed = await runCli(launchArgs(name), { endpoint: moto.endpoint, home, env: { SGL_TEST_FAULT: `after:${step}` } });
    expect(crashed.signal).toBe('SIGKILL');

    const resumed = await runCli([...launchArgs(name), '--json'], { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming the launch started/);
    expect(resumed.json()).toMatchObject({ ready: true, version: VERSION, url: `http://${HOST_ADDRESS}` });

    expect(await liveInstances(name)).toHaveLength(1);
    expect(await groups(name)).toHaveLength(1);
    expect(await keyPairs(name)).toHaveLength(1);
    expect(await addresses(name)).toHaveLength(1);
    expect((await volumes(name)).filter((v) => v.Attachments?.[0]?.Device === '/dev/sdb')).toHaveLength(1);
  });

  it('Ctrl-C during the wait exits 130 with a resume hint; the re-run creates nothing new', async () => {
    const home = newHome();
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'sigint' });
    host.reboot({ healthzNotFoundCount: 1000 });
    let sent = false;
    const interrupted = await runCli(launchArgs('sigint'), {
      endpoint: moto.endpoint,
      home,
      // Generous: on a loaded machine the wait may take a while to reach the HTTP stage.
      timeoutMs: 150_000,
      onOutput: (chunk, child) => {
        if (!sent && /\/healthz reports/.test(chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent, interrupted.stdout).toBe(true);
    expect(interrupted.code).toBe(130);
    // The graceful path (one Ctrl-C): the wait stops and names the command that resumes it.
    expect(interrupted.stderr).not.toMatch(/Stopped at once/);
    expect(interrupted.stderr).toMatch(/Resume the wait with `sourcegraph-launch launch --yes .*--name sigint/);
    const before = (await liveInstances('sigint')).map((i) => i.InstanceId);
    expect(before).toHaveLength(1);

    host.reboot({ healthzNotFoundCount: 1 });
    const resumed = await runCli(launchArgs('sigint'), { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await liveInstances('sigint')).map((i) => i.InstanceId)).toEqual(before);
  });

  it('a wait that times out exits 4 naming the stage and how to resume; the resources stay', async () => {
    const home = newHome();
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'slow' });
    host.reboot({ healthzNotFoundCount: 100000 });
    const r = await runCli([...launchArgs('slow'), '--timeout', '0.2'], { endpoint: moto.endpoint, home, timeoutMs: 120_000 });
    host.reboot({ healthzNotFoundCount: 0 });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/http-version|\/healthz/);
    expect(r.stderr).toMatch(/404/);
    expect(r.stderr).toMatch(/launch --yes .*--name slow/);
    expect(await liveInstances('slow')).toHaveLength(1);
  });
});
