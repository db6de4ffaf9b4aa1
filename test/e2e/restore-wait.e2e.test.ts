// restore waits like launch and upgrade, with the real CLI → moto (EC2) and a test host (real sshd +
// HTTP) behind the deployment's Elastic IP, which moves to the restored instance: the host stays the
// URL. The host serves another version until the test switches it to the snapshot's version, so the
// wait must really see the snapshot's version before restore says it is ready.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, StopInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliOptions } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const OTHER = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const HOST_ADDRESS = '10.200.159.2';
const PUBLISHER = '840044800169';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });

let moto: MotoServer;
let ec2: EC2Client;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;

async function instances(name: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}

/** A boot with little waiting: the wait's stages have their own tests. */
const quickBoot = (version: string) => host.reboot({ version, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });

function cli(args: string[], home: string, extra: CliOptions = {}) {
  return runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 120_000, ...extra });
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: AMI_OLD, name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER }] });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-restore-wait-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('restore with the real CLI waits until the restored instance serves the snapshot\'s version', () => {
  it('--timeout runs out (exit 4, the instance kept, what to check); the same command resumes and waits until the host serves it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
    await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'rw' });
    quickBoot(OLD);
    const launched = await cli(
      ['launch', 'rw', '--region', 'us-east-1', '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '0', '--json'],
      home,
    );
    expect(launched.code, launched.stderr).toBe(0);
    const backup = await cli(['backup', 'rw', '--region', 'us-east-1', '--json'], home);
    expect(backup.code, backup.stderr).toBe(0);
    const snapshotId = backup.json<{ snapshotId: string }>().snapshotId;
    // The server is lost (stopped); behind the address something else answers, not the snapshot's version.
    const [first] = await instances('rw');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [first!.InstanceId!] }));
    quickBoot(OTHER);

    const restoreArgs = ['restore', 'rw', '--region', 'us-east-1', '--snapshot', snapshotId, '--yes', '--json'];
    const timedOut = await cli([...restoreArgs, '--timeout', '0.25'], home);
    expect(timedOut.code, timedOut.stderr).toBe(4);
    expect(timedOut.stderr).toContain(`restore rw --region us-east-1 --snapshot ${snapshotId}`);
    expect(timedOut.stderr).toContain(OTHER); // what it saw instead
    const running = (await instances('rw')).filter((i) => i.State?.Name === 'running');
    expect(running).toHaveLength(1);
    expect(running[0]!.InstanceId).not.toBe(first!.InstanceId);

    // The re-run resumes with the instance it made; the host serves the snapshot's version only once it waits.
    const execsBefore = host.execLog().length;
    let switched = false;
    const restored = await cli(restoreArgs, home, {
      onOutput: (chunk) => {
        if (!switched && /Wait until \/healthz reports 6\.11\.0/.test(chunk)) {
          switched = true;
          quickBoot(OLD);
        }
      },
    });
    expect(restored.code, restored.stderr).toBe(0);
    expect(switched).toBe(true);
    const r = restored.json<{ instanceId: string; ready: boolean; version: string; url: string }>();
    expect(r).toMatchObject({ instanceId: running[0]!.InstanceId, ready: true, version: OLD, url: `http://${HOST_ADDRESS}` });
    // Progress on stderr, the result alone on stdout; SSH stages ran (SSH is open to the deployment).
    expect(restored.stderr).toMatch(/6\.11\.0 serving/);
    expect(host.execLog().length).toBeGreaterThan(execsBefore);

    // --no-wait returns once it runs (a copy under another name: nothing answers at its address).
    const copy = await cli(['restore', 'rw-copy', '--region', 'us-east-1', '--snapshot', snapshotId, '--yes', '--no-wait', '--json'], home);
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.json<{ ready: boolean }>()).toMatchObject({ ready: false });
    expect((await instances('rw-copy')).map((i) => i.State?.Name)).toEqual(['running']);
  });
});
