// Promise: a re-run never creates or changes anything twice, and never silently rewrites a
// deployment that exists — made from this machine or any other. Same settings: it resumes or does
// nothing. Different settings: exit 1, each difference with the command that changes it, nothing
// changed. `--update` is the only way a re-run changes an existing deployment, and only its access
// rules, which the summary lists first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createClientKey } from '../support/test-host.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
let moto: MotoServer;
let ec2: EC2Client;
let keyDir: string;
let publicKeyPath: string;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60726', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-rewrite-keys-'));
  publicKeyPath = `${(await createClientKey(keyDir)).privateKeyPath}.pub`;
});
afterAll(async () => {
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});
beforeEach(async () => moto.reset());

const machine = () => mkdtempSync(join(tmpdir(), 'sgl-machine-'));
const base = ['launch', 'prod', '--region', 'us-east-1', '--version', VERSION, '--elastic-ip', 'none', '--no-wait', '--yes'];
const launch = (home: string, extra: string[]) => runCli([...base, ...extra], { endpoint: moto.endpoint, home });

async function rules(): Promise<string[]> {
  const [group] = await deploymentResources(ec2).groups('prod');
  return (group!.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort} ${r.CidrIp}`)).sort();
}
async function instanceTypes(): Promise<string[]> {
  return (await deploymentResources(ec2).liveInstances('prod')).map((i) => i.InstanceType!);
}

describe('a deployment made from another machine', () => {
  const settings = ['--size', 'S', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32'];

  it('the same command (same key) from another machine does nothing new: exit 0', async () => {
    expect((await launch(machine(), [...settings, '--ssh-key', publicKeyPath])).code).toBe(0);
    const again = await launch(machine(), [...settings, '--ssh-key', publicKeyPath]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Deployment prod exists \(instance i-\w+\) with these settings; nothing is changed/);
    expect(await instanceTypes()).toEqual(['m6a.4xlarge']);
    expect(await deploymentResources(ec2).keyPairs('prod')).toHaveLength(1);
  });

  it('with this machine\'s own new key instead of the one it trusts: exit 1, the key pair is not reused', async () => {
    expect((await launch(machine(), settings)).code).toBe(0);
    const other = await launch(machine(), settings);
    expect(other.code, other.stderr).toBe(1);
    expect(other.stderr).toMatch(/SSH key: exists as key pair sourcegraph-launch-prod \(sha256-[0-9a-f]{40}\)/);
    expect(other.stderr).toMatch(/pass --key-name sourcegraph-launch-prod --identity-file/);
  });

  it('--size XL on an S deployment: exit 1 naming the difference, the S instance untouched, no "will create"', async () => {
    expect((await launch(machine(), [...settings, '--ssh-key', publicKeyPath])).code).toBe(0);
    const xl = await launch(machine(), ['--size', 'XL', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath]);
    expect(xl.code, xl.stderr).toBe(1);
    expect(xl.stderr).toMatch(/size: exists as S, this run asks for XL/);
    expect(xl.stdout + xl.stderr).not.toMatch(/will create/);
    expect(await instanceTypes()).toEqual(['m6a.4xlarge']);
  });

  it('other CIDRs: exit 1 and the rules stay, locking nobody out; --update applies exactly the listed changes', async () => {
    expect((await launch(machine(), [...settings, '--ssh-key', publicKeyPath])).code).toBe(0);
    const before = await rules();
    const other = ['--size', 'S', '--allow-cidr', '198.51.100.0/24', '--ssh-cidr', '198.51.100.9/32', '--ssh-key', publicKeyPath];
    const refused = await launch(machine(), [...other, '--json']);
    expect(refused.code, refused.stderr).toBe(1);
    const error = refused.json<{ error: { code: string; remediation: string; details: { differences: { setting: string }[] } } }>().error;
    expect(error.code).toBe('deployment-differs');
    expect(error.details.differences.map((d) => d.setting)).toEqual(['HTTP/HTTPS from', 'SSH from']);
    expect(error.remediation).toMatch(/--update/);
    expect(await rules()).toEqual(before);

    const updated = await launch(machine(), [...other, '--update']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/Deployment prod exists \(instance i-\w+\), will be updated:/);
    expect(updated.stdout).toContain('+ open  80 to 198.51.100.0/24');
    expect(updated.stdout).toContain('- close 22 (SSH) to 203.0.113.7/32');
    expect(await rules()).toEqual(['22 198.51.100.9/32', '443 198.51.100.0/24', '80 198.51.100.0/24']);
  });

  it('another version: exit 1 naming `upgrade`', async () => {
    expect((await launch(machine(), [...settings, '--ssh-key', publicKeyPath])).code).toBe(0);
    const r = await runCli(['launch', 'prod', '--region', 'us-east-1', '--version', '6.11.0', '--image', 'ami-0a1b2c3d4e5f60726', '--elastic-ip', 'none', '--no-wait', '--yes', ...settings, '--ssh-key', publicKeyPath], { endpoint: moto.endpoint, home: machine() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/version: exists as 6\.12\.5040, this run asks for 6\.11\.0\n\s+→ `upgrade prod --region us-east-1 --to 6\.11\.0`/);
  });
});
