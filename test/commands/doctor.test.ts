// `doctor` in-process on the fake cloud: each check's pass and fail, before a launch (quotas,
// machine type, image, permission dry run, the caller's address) and for a deployment the fake is
// put into each drifted state (a rule opened by hand, the data disk detached, the address moved,
// tags removed), with the SSH checks answered by a scripted instance. The real sshd and moto are
// exercised in test/e2e/doctor.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import type { FakeCloudOptions } from '../../src/cloud/fake/index.js';
import { runDoctor, type DoctorResult, type PolicyResult } from '../../src/commands/doctor.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import type { Deps } from '../../src/commands/deps.js';
import type { Check } from '../../src/core/doctor-checks.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';
import { failed, ok, ScriptedRemoteHost } from '../fakes/scripted-remote.js';

const VERSION = '6.12.5040';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
const CONSOLE = ['cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----', `cloud-init: 256 ${HOST_KEY} root@ip (ED25519)`, 'cloud-init: -----END SSH HOST KEY FINGERPRINTS-----'].join('\n');
const where = { region: REGION, providerFlags: {} };
const QUOTAS: FakeCloudOptions['quotas'] = { vcpus: { limit: 64, used: 8 }, staticAddresses: { limit: 5 } };

const byId = (r: DoctorResult) => Object.fromEntries(r.checks.map((c) => [c.id, c])) as Record<string, Check>;
const statuses = (r: DoctorResult) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));

function jsonIo(): ScriptedIo {
  const io = new ScriptedIo([], false);
  Object.defineProperty(io, 'json', { value: true });
  return io;
}

describe('doctor before a launch', () => {
  const rig = (opts: FakeCloudOptions = {}, ip = '198.51.100.7') => {
    const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]), quotas: QUOTAS, ...opts });
    const deps = (io = new ScriptedIo([], false)): Deps => ({ ...makeFakeDeps({ fake, io }), lookupPublicIp: async () => ip });
    return { fake, deps };
  };

  it('passes every check when the account can launch the size and this machine is inside --allow-cidr; changes nothing', async () => {
    const { fake, deps } = rig();
    const io = jsonIo();
    const r = (await runDoctor(deps(io), undefined, { ...where, size: 'M', version: VERSION, allowCidr: ['198.51.100.0/24'] })) as DoctorResult;
    expect(statuses(r)).toEqual({
      credentials: 'pass',
      image: 'pass',
      'instance-type': 'pass',
      permissions: 'pass',
      'quota-vcpus': 'pass',
      'quota-static-addresses': 'pass',
      'caller-address': 'pass',
    });
    expect(r).toMatchObject({ mode: 'launch', ok: true, exitCode: ExitCode.ok });
    expect(byId(r)['quota-vcpus']!.detail).toBe('8 of 64 vCPUs in use, 56 free; the launch needs 32');
    expect(byId(r)['caller-address']!.detail).toContain('198.51.100.7');
    // --json: one result with every check and ok.
    expect(io.events.find((e) => e.kind === 'result')).toMatchObject({ value: { ok: true, checks: r.checks } });
    expect(fake.mutatingCalls()).toEqual([]);
    expect(fake.calls.some((c) => c.method === 'checkInstancePermissions')).toBe(true);
  });

  it('fails the vCPU and address quotas, the caller outside --allow-cidr, and the permission dry run, each with its fix (exit 1)', async () => {
    const { fake, deps } = rig({ quotas: { vcpus: { limit: 64, used: 48 }, staticAddresses: { limit: 0 } } }, '203.0.113.9');
    fake.failNext('checkInstancePermissions', 'permission-denied');
    const io = new ScriptedIo([], false);
    const r = (await runDoctor(deps(io), undefined, { ...where, size: 'M', version: VERSION, allowCidr: ['198.51.100.0/24'] })) as DoctorResult;
    expect(r).toMatchObject({ ok: false, exitCode: ExitCode.failed });
    const c = byId(r);
    expect(c['quota-vcpus']).toMatchObject({ status: 'fail', detail: '48 of 64 vCPUs in use, 16 free; the launch needs 32' });
    expect(c['quota-vcpus']!.fix).toMatch(/smaller --size/);
    expect(c['quota-static-addresses']).toMatchObject({ status: 'fail' });
    expect(c['quota-static-addresses']!.fix).toMatch(/--elastic-ip none/);
    expect(c['caller-address']).toMatchObject({ status: 'fail' });
    expect(c['caller-address']!.fix).toBe('Add 203.0.113.9/32 to --allow-cidr, or launch from a machine inside it.');
    expect(c.permissions).toMatchObject({ status: 'fail' });
    expect(c.permissions!.fix).toContain('sourcegraph-launch doctor --print-policy');
    expect(c.image!.status).toBe('pass');
    // The human list: ✗ per failure, the fix under it.
    expect(io.text()).toMatch(/✗ vCPU quota: 48 of 64 vCPUs in use[^\n]*\n {4}→ Ask/);
    expect(io.text()).toContain('4 checks failed');
  });

  it('fails an instance type no zone offers and a version with no image; skips what it cannot tell', async () => {
    const { deps } = rig({ machineTypes: {}, quotas: undefined });
    const r = (await runDoctor(deps(), undefined, { ...where, version: '6.0.0', instanceType: 'm6a.large' })) as DoctorResult;
    const c = byId(r);
    expect(c['instance-type']).toMatchObject({ status: 'fail' });
    expect(c['instance-type']!.detail).toMatch(/m6a\.large is not offered in us-east-1/);
    expect(c.image).toMatchObject({ status: 'fail' });
    expect(c.image!.detail).toMatch(/6\.0\.0/);
    expect(c.permissions).toMatchObject({ status: 'skip' });
    // --instance-type instead of the preset's: how many vCPUs it needs is not known offline.
    expect(c['quota-vcpus']!.status).toBe('skip');
    expect(c['caller-address']).toMatchObject({ status: 'skip', detail: 'no --allow-cidr given' });
    expect(r.exitCode).toBe(ExitCode.failed);
  });

  it('--instance-type: the need is what the cloud says one instance of that type uses', async () => {
    const quotas = { vcpus: { limit: 64, used: 40 }, staticAddresses: { limit: 5 }, machineTypeVcpus: { 'm6a.large': 2, 'm6a.8xlarge': 32 } };
    const machineTypes = { 'm6a.large': ['us-east-1a'], 'm6a.8xlarge': ['us-east-1a'] };
    const small = byId((await runDoctor(rig({ quotas, machineTypes }).deps(), undefined, { ...where, version: VERSION, instanceType: 'm6a.large' })) as DoctorResult);
    expect(small['quota-vcpus']).toMatchObject({ status: 'pass' });
    expect(small['quota-vcpus']!.detail).toMatch(/the launch needs 2$/);
    const big = byId((await runDoctor(rig({ quotas, machineTypes }).deps(), undefined, { ...where, version: VERSION, instanceType: 'm6a.8xlarge' })) as DoctorResult);
    expect(big['quota-vcpus']).toMatchObject({ status: 'fail' });
    expect(big['quota-vcpus']!.detail).toMatch(/24 free; the launch needs 32$/);
  });

  it('a cloud without a launch dry run or quotas skips those checks with where to look, and still passes', async () => {
    const { deps } = rig({ capabilities: { permissionPreflight: false }, quotas: undefined });
    const r = (await runDoctor(deps(), undefined, { ...where, version: VERSION, allowCidr: ['198.51.100.7/32'] })) as DoctorResult;
    expect(byId(r).permissions).toMatchObject({ status: 'skip' });
    expect(byId(r).permissions!.detail).toContain('--print-policy');
    expect(r).toMatchObject({ ok: true, exitCode: 0 });
  });

  it('no credentials at all: the credentials check fails with how to sign in, nothing else is asked, exit 3', async () => {
    const { fake, deps } = rig();
    fake.failNext('whoAmI', 'credentials');
    const r = (await runDoctor(deps(), undefined, { ...where, allowCidr: ['198.51.100.7/32'] })) as DoctorResult;
    expect(r.checks.map((c) => [c.id, c.status])).toEqual([['credentials', 'fail']]);
    expect(r).toMatchObject({ ok: false, exitCode: ExitCode.credentials });
    expect(fake.calls.map((c) => c.method)).toEqual(['whoAmI']);
  });
});

describe('doctor on an existing deployment', () => {
  const DAY = 86_400_000;
  const certLine = (file: string, at: number) => {
    const d = new Date(at);
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p = (n: number) => String(n).padStart(2, '0');
    return `/var/lib/rancher/k3s/server/tls/${file} notAfter=${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
  };
  const dfOut = (percent: number, mount = '/mnt/data') =>
    `Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/nvme1n1     524288000 ${Math.round(5242880 * percent)} ${Math.round(5242880 * (100 - percent))}      ${percent}% ${mount}\n`;

  async function rig(sshCidr = '198.51.100.7/32') {
    const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]), quotas: QUOTAS });
    const home = tempHome();
    const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
      ...where, size: 'XS', version: VERSION, allowCidr: ['198.51.100.0/24'], sshCidr: [sshCidr], name: 'prod', yes: true, wait: false,
    })) as LaunchResult;
    fake.setConsoleOutput(launched.instanceId, CONSOLE);
    const host = {
      certs: [certLine('client-admin.crt', fake.clock.now() + 300 * DAY), certLine('server-ca.crt', fake.clock.now() + 3000 * DAY)].join('\n'),
      df: dfOut(40),
    };
    const remote = new ScriptedRemoteHost(() => 0, (command) => {
      if (command.includes('openssl x509 -enddate')) return ok(`${host.certs}\n`);
      if (command.startsWith('df -P -k /mnt/data')) return host.df ? ok(host.df) : failed(1, 'df: /mnt/data: No such file or directory');
      return failed(127, `unexpected: ${command}`);
    });
    const deps = (io: ScriptedIo = new ScriptedIo([], false)): Deps => ({ ...makeFakeDeps({ fake, io, home }), connectRemote: remote.connect, lookupPublicIp: async () => '198.51.100.7' });
    const run = async (io?: ScriptedIo, flags: Record<string, unknown> = {}, extra: Partial<Deps> = {}) => (await runDoctor({ ...deps(io), ...extra }, 'prod', { ...where, ...flags })) as DoctorResult;
    return { fake, launched, host, remote, run, home };
  }

  it('passes (or warns without a snapshot) on a deployment as launched; reads the certificates and df over SSH; changes nothing', async () => {
    const { fake, run, remote, launched } = await rig();
    const before = fake.mutatingCalls().length;
    const r = await run();
    expect(statuses(r)).toEqual({
      credentials: 'pass',
      instance: 'pass',
      'access-rules': 'pass',
      'data-disk': 'pass',
      'static-address': 'pass',
      labels: 'pass',
      'snapshot-age': 'warn',
      'k3s-certificates': 'pass',
      'data-disk-space': 'pass',
    });
    expect(r).toMatchObject({ mode: 'deployment', ok: true, exitCode: 0 });
    expect(byId(r)['k3s-certificates']!.detail).toMatch(/^(299|300) days left \(the first to end: client-admin\.crt/);
    expect(byId(r)['data-disk-space']!.detail).toMatch(/^\/mnt\/data: 40% used/);
    expect(remote.targets[0]).toMatchObject({ host: launched.publicIp, pinKey: launched.instanceId });
    expect(remote.openConnections()).toBe(0);
    expect(fake.mutatingCalls().length).toBe(before);
  });

  it('reports a rule opened by hand (on a governed port and on another), a detached data disk, a moved address and removed tags', async () => {
    const { fake, run, launched } = await rig();
    const d = await fake.findDeployment('prod');
    const policy = d.accessPolicies[0]!.id;
    fake.addAccessRule(policy, { port: 22, cidr: '0.0.0.0/0' });
    fake.addAccessRule(policy, { port: 5432, cidr: '0.0.0.0/0' });
    const dataDisk = d.instance!.disks.find((x) => x.role === 'data')!.diskId;
    await fake.stopInstance(launched.instanceId);
    await fake.waitForInstanceState(launched.instanceId, 'stopped', 60_000);
    await fake.detachDisk(dataDisk, launched.instanceId, 60_000);
    await fake.startInstance(launched.instanceId);
    fake.settle();
    await fake.detachStaticAddress(d.addresses[0]!.id);
    await fake.removeLabels([launched.instanceId], ['version']);

    const r = await run();
    const c = byId(r);
    expect(c['access-rules']!.status).toBe('fail');
    expect(c['access-rules']!.detail).toContain('- close 22 (SSH) to 0.0.0.0/0');
    expect(c['access-rules']!.detail).toContain('rules the tool did not make: 5432 from 0.0.0.0/0');
    expect(c['access-rules']!.fix).toContain('--allow-cidr 198.51.100.0/24 --ssh-cidr 198.51.100.7/32');
    expect(c['data-disk']).toMatchObject({ status: 'fail' });
    expect(c['data-disk']!.detail).toContain(`has no data disk attached; the deployment's data disk: ${dataDisk}`);
    expect(c['static-address']).toMatchObject({ status: 'fail' });
    expect(c['static-address']!.detail).toMatch(/not attached to any instance/);
    expect(c.labels).toMatchObject({ status: 'fail', detail: `missing: version on ${launched.instanceId}` });
    expect(r).toMatchObject({ ok: false, exitCode: ExitCode.failed });
  });

  it('warns at 80 % and under 30 days; fails at 95 %, an expired certificate, and /mnt/data not mounted', async () => {
    const { fake, run, host } = await rig();
    host.certs = certLine('client-admin.crt', fake.clock.now() + 10 * DAY);
    host.df = dfOut(85);
    let c = byId(await run());
    expect(c['k3s-certificates']).toMatchObject({ status: 'warn' });
    expect(c['k3s-certificates']!.fix).toContain('sourcegraph-launch ssh prod --region us-east-1 -- sudo systemctl restart k3s');
    expect(c['data-disk-space']).toMatchObject({ status: 'warn' });

    host.certs = certLine('client-admin.crt', fake.clock.now() - 2 * DAY);
    host.df = dfOut(96);
    const r = await run();
    c = byId(r);
    expect(c['k3s-certificates']).toMatchObject({ status: 'fail' });
    expect(c['k3s-certificates']!.detail).toMatch(/expired 2 day\(s\) ago/);
    expect(c['data-disk-space']).toMatchObject({ status: 'fail' });
    expect(r.exitCode).toBe(ExitCode.failed);

    host.df = dfOut(10, '/');
    expect(byId(await run())['data-disk-space']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not a mount of its own/) });
  });

  it('a snapshot schedule with a recent snapshot passes; one whose newest snapshot is days old fails', async () => {
    const { fake, run } = await rig();
    await fake.ensureSnapshotSchedule({ deployment: 'prod', schedule: 'daily', retain: 7, params: {} });
    fake.runSnapshotSchedules();
    expect(byId(await run())['snapshot-age']).toMatchObject({ status: 'pass' });
    await fake.clock.sleep(3 * DAY);
    const c = byId(await run())['snapshot-age']!;
    expect(c).toMatchObject({ status: 'fail', detail: 'daily schedule, but the newest snapshot is 3 days old' });
  });

  it('a host key that differs fails (ssh-host-key) and nothing is run; another SSH failure only skips', async () => {
    const { run } = await rig();
    const mismatch = new LaunchError('host-key-mismatch', ExitCode.failed, 'The host key of 203.0.113.10 does not match the key pinned for it');
    const refused = await run(undefined, {}, { connectRemote: () => Promise.reject(mismatch) });
    expect(byId(refused)['ssh-host-key']).toMatchObject({ status: 'fail', detail: mismatch.message });
    expect(byId(refused)['k3s-certificates']).toMatchObject({ status: 'skip', detail: 'the host key did not match' });
    expect(refused.exitCode).toBe(ExitCode.failed);
    const down = new LaunchError('ssh-unreachable', ExitCode.failed, 'SSH to root@x failed: connection refused');
    const skipped = await run(undefined, {}, { connectRemote: () => Promise.reject(down) });
    expect(byId(skipped)['data-disk-space']).toMatchObject({ status: 'skip', detail: `SSH is not possible: ${down.message}` });
    expect(skipped.ok).toBe(true);
  });

  it('SSH closed: the SSH checks are skipped saying why and how to open it; the cloud checks still run', async () => {
    const { run, remote } = await rig('none');
    const r = await run();
    expect(byId(r)['k3s-certificates']).toMatchObject({ status: 'skip' });
    expect(byId(r)['k3s-certificates']!.detail).toMatch(/SSH is not possible: SSH to prod is closed/);
    expect(byId(r)['data-disk-space']!.status).toBe('skip');
    expect(byId(r)['access-rules']!.status).toBe('pass');
    expect(r.ok).toBe(true);
    expect(remote.targets).toEqual([]);
  });
});

describe('doctor after a destroy kept the data', () => {
  it('checks a launch, and warns that launch needs --data-volume', async () => {
    const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]), quotas: QUOTAS });
    const home = tempHome();
    const deps = (): Deps => ({ ...makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), lookupPublicIp: async () => '198.51.100.7' });
    await runLaunch(deps(), { ...where, version: VERSION, allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], name: 'kept', yes: true, wait: false });
    await runDestroy(deps(), 'kept', { ...where, yes: true });
    const disk = (await fake.findDeployment('kept')).disks[0]!;
    const r = (await runDoctor(deps(), 'kept', { ...where, version: VERSION, allowCidr: ['198.51.100.0/24'] })) as DoctorResult;
    expect(r.mode).toBe('launch');
    expect(byId(r)['kept-data']).toMatchObject({ status: 'warn' });
    expect(byId(r)['kept-data']!.fix).toContain(`--data-volume ${disk.id}`);
    expect(r.ok).toBe(true);
  });
});

describe('doctor --print-policy', () => {
  it('prints each cloud\'s policy document, nothing else on stdout, with no credentials and no cloud call', async () => {
    const fake = fakeCloudFor('aws');
    for (const [cloud, marker] of [['aws', '"ec2:RunInstances"'], ['gcp', '"compute.instances.create"'], ['azure', '"Microsoft.Compute/virtualMachines/write"']] as const) {
      const io = new ScriptedIo([], false);
      const r = (await runDoctor(makeFakeDeps({ fake, io }), undefined, { cloud, printPolicy: true })) as PolicyResult;
      expect(r.cloud).toBe(cloud);
      const printed = io.events.filter((e) => e.kind === 'info').map((e) => ('message' in e ? e.message : '')).join('\n');
      expect(printed).toContain(marker);
      expect(JSON.parse(printed)).toEqual(r.policy);
    }
    expect(fake.calls).toEqual([]);
  });
});
