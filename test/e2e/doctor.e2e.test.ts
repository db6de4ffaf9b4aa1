// `doctor` end to end: the real CLI process → moto for the cloud, and for an existing deployment a
// test host with a real sshd standing in for its instance (a real certificate in k3s's directory,
// the data disk's df output as a test writes it). Drift is made by hand with the SDK, as a person
// in the console would. Runs inside the test network namespace (npm test).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AllocateAddressCommand, AuthorizeSecurityGroupIngressCommand, DetachVolumeCommand, StopInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.84.2';
const REGION = ['--region', 'us-east-1'];
const run = promisify(execFile);

vi.setConfig({ testTimeout: 180_000 });

interface Checked {
  checks: { id: string; status: string; detail: string; fix?: string }[];
  ok: boolean;
  mode: string;
}
const statusOf = (r: Checked) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
const find = (r: Checked, id: string) => r.checks.find((c) => c.id === id)!;

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

const newHome = () => mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));

describe('doctor before a launch, with the real CLI on moto', () => {
  const planned = ['doctor', ...REGION, '--size', 'S', '--version', VERSION];

  it('passes with room for the address and this machine inside --allow-cidr (exit 0); the vCPU quota moto cannot answer is a warning with where to read it', async () => {
    const r = await runCli([...planned, '--allow-cidr', '203.0.113.0/24', '--json'], { endpoint: moto.endpoint, home: newHome(), env: { SGL_TEST_PUBLIC_IP: '203.0.113.7' } });
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<Checked>();
    expect(out).toMatchObject({ ok: true, mode: 'launch' });
    expect(statusOf(out)).toEqual({
      credentials: 'pass',
      image: 'pass',
      'instance-type': 'pass',
      permissions: 'pass',
      'quota-vcpus': 'warn',
      'quota-static-addresses': 'pass',
      'caller-address': 'pass',
    });
    expect(find(out, 'image').detail).toContain(PUBLISHED_AMI);
    // moto keeps no EC2 quotas in Service Quotas: GetServiceQuota says NoSuchResource, and it has no
    // GetAWSDefaultServiceQuota at all (an HTML error page), so the check says it could not read it.
    expect(find(out, 'quota-vcpus').detail).toMatch(/^could not read the vCPU quota: Service Quotas is not available at http:\/\/127\.0\.0\.1:\d+: servicequotas:GetAWSDefaultServiceQuota/);
    expect(find(out, 'quota-vcpus').fix).toContain('"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (L-1216C47A) in us-east-1');
    // moto's account attributes: 5 Elastic IPs per region.
    expect(find(out, 'quota-static-addresses').detail).toBe('0 of 5 addresses in use, 5 free; the launch needs 1');
  });

  it('fails when the Elastic IPs are used up and this machine is outside --allow-cidr (exit 1), each with its fix', async () => {
    for (let i = 0; i < 5; i++) await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const r = await runCli([...planned, '--allow-cidr', '198.51.100.0/24'], { endpoint: moto.endpoint, home: newHome(), env: { SGL_TEST_PUBLIC_IP: '203.0.113.7' } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/✗ Elastic IP quota: 5 of 5 addresses in use, 0 free; the launch needs 1\n {4}→ Release an unused Elastic IP/);
    expect(r.stdout).toMatch(/✗ Your address in --allow-cidr: your address 203\.0\.113\.7 is not in 198\.51\.100\.0\/24[^\n]*\n {4}→ Add 203\.0\.113\.7\/32 to --allow-cidr/);
    expect(r.stdout).toMatch(/✓ Credentials: /);
    expect(r.stderr).toContain('2 checks failed: quota-static-addresses, caller-address');

    const json = await runCli([...planned, '--allow-cidr', '198.51.100.0/24', '--json'], { endpoint: moto.endpoint, home: newHome(), env: { SGL_TEST_PUBLIC_IP: '203.0.113.7' } });
    expect(json.code).toBe(1);
    expect(json.json<Checked>()).toMatchObject({ ok: false });
    expect(json.json<Checked>().checks).toHaveLength(7);
  });

  it('without credentials: exit 3 with how to sign in', async () => {
    const r = await runCli([...planned, '--allow-cidr', '203.0.113.0/24', '--json'], { endpoint: moto.endpoint, home: newHome(), env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } });
    expect(r.code, r.stderr).toBe(3);
    const out = r.json<Checked>();
    expect(out.checks).toHaveLength(1);
    expect(out.checks[0]).toMatchObject({ id: 'credentials', status: 'fail' });
    expect(out.checks[0]!.fix).toMatch(/aws sso login|aws configure/);
  });

  it('--print-policy prints each cloud\'s document without credentials or a cloud call', async () => {
    for (const [cloud, marker] of [['aws', 'ec2:RunInstances'], ['gcp', 'compute.instances.create'], ['azure', 'Microsoft.Network/networkSecurityGroups/write']] as const) {
      const r = await runCli(['doctor', '--print-policy', '--cloud', cloud], { home: newHome(), env: { AWS_ACCESS_KEY_ID: undefined } });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.stringify(JSON.parse(r.stdout))).toContain(marker);
      expect(r.stderr).toContain(`presets/policies/`);
    }
  });
});

describe('doctor on an existing deployment, with the real CLI on moto and a test host over SSH', () => {
  async function certificate(days: number): Promise<void> {
    const dir = join(host.fsRoot, 'var', 'lib', 'rancher', 'k3s', 'server', 'tls');
    rmSync(join(dir, 'client-admin.crt'), { force: true });
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(keyDir, 'cert.key'), '-out', join(dir, 'client-admin.crt'), '-days', String(days), '-subj', '/CN=system:admin']);
  }
  const df = (percent: number) =>
    writeFileSync(join(host.fsRoot, 'df.out'), `Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/nvme1n1     515010816 ${Math.round(5150108 * percent)} ${Math.round(5150108 * (100 - percent))}      ${percent}% /mnt/data\n`);

  it('passes as launched; reports the certificate, the disk use, a rule opened by hand and a detached data volume', async () => {
    const home = newHome();
    const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_PUBLIC_IP: '203.0.113.7' } });
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'doc' });
    const launch = await runCli(
      ['launch', 'doc', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
      { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
    );
    expect(launch.code, launch.stderr).toBe(0);
    const instanceId = launch.json<{ instanceId: string }>().instanceId;
    await certificate(400);
    df(42);

    const healthy = await cli(['doctor', 'doc', ...REGION, '--json']);
    expect(healthy.code, healthy.stderr).toBe(0);
    const good = healthy.json<Checked>();
    expect(good.mode).toBe('deployment');
    expect(statusOf(good)).toMatchObject({ credentials: 'pass', instance: 'pass', 'access-rules': 'pass', 'data-disk': 'pass', 'static-address': 'pass', labels: 'pass', 'k3s-certificates': 'pass', 'data-disk-space': 'pass' });
    // moto has no Data Lifecycle Manager: the schedule cannot be read, so the age is not judged.
    expect(find(good, 'snapshot-age')).toMatchObject({ status: 'skip', detail: expect.stringContaining('could not read the snapshot schedule') });
    expect(find(good, 'k3s-certificates').detail).toMatch(/^(399|400) days left/);
    expect(find(good, 'data-disk-space').detail).toMatch(/^\/mnt\/data: 42% used/);
    expect(host.execLog().some((c) => c.includes('openssl x509 -enddate'))).toBe(true);

    // Near the end and nearly full: warnings only (exit 0).
    await certificate(12);
    df(88);
    const warned = await cli(['doctor', 'doc', ...REGION]);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stdout).toMatch(/! k3s certificates: client-admin\.crt ends \S+: 1[12] day\(s\) left\n {4}→ k3s renews them/);
    expect(warned.stdout).toMatch(/! Data disk free space: \/mnt\/data: 88% used/);

    // By hand, in the console: a database port opened to the world, SSH opened wider.
    const [group] = await deploymentResources(ec2).groups('doc');
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group!.GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
    );
    df(97);
    const drifted = await cli(['doctor', 'doc', ...REGION, '--json']);
    expect(drifted.code, drifted.stderr).toBe(1);
    const bad = drifted.json<Checked>();
    expect(find(bad, 'access-rules')).toMatchObject({ status: 'fail' });
    expect(find(bad, 'access-rules').detail).toContain('close 22 (SSH) to 10.0.0.0/8');
    expect(find(bad, 'access-rules').detail).toContain('rules the tool did not make: 5432 from 0.0.0.0/0');
    expect(find(bad, 'data-disk-space')).toMatchObject({ status: 'fail' });

    // The data volume detached (the instance stopped first, as EC2 needs).
    const volume = (await deploymentResources(ec2).volumes('doc')).find((v) => v.Attachments?.some((a) => a.Device === '/dev/sdb'))!;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await ec2.send(new DetachVolumeCommand({ VolumeId: volume.VolumeId, InstanceId: instanceId }));
    const detached = await cli(['doctor', 'doc', ...REGION, '--json']);
    expect(detached.code).toBe(1);
    const d = detached.json<Checked>();
    expect(find(d, 'instance')).toMatchObject({ status: 'fail', detail: `${instanceId} is stopped` });
    expect(find(d, 'data-disk')).toMatchObject({ status: 'fail' });
    expect(find(d, 'data-disk').detail).toContain(volume.VolumeId!);
    // A stopped instance cannot be asked over SSH: skipped, saying why.
    expect(find(d, 'k3s-certificates')).toMatchObject({ status: 'skip' });
    expect(find(d, 'k3s-certificates').detail).toMatch(/is stopped/);
  });
});
