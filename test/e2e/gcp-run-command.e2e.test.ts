// `config`, `executors enable`, `disk grow` and `doctor` on Google Compute Engine with SSH closed, end to end: the real CLI process
// → the GCE emulator, a deployment launched with `--ssh-cidr none`, so `config` goes through the
// run agent. The real provision/gce-run-agent.sh runs as root on the test host standing in for the
// instance (started over the test's own root SSH login, the way systemd would start it; every
// command the host sees over SSH is that `bash -s`), polling a metadata-server stand-in in the
// test's namespace (test/support/gce-metadata-stand-in.ts) that reads the instance's metadata from
// the emulator and writes its guest attributes there. So instances.setMetadata from the CLI reaches
// the agent, and what the agent writes is what instances.getGuestAttributes answers the CLI.
// A second deployment, without the agent, gets the clear error. `disk grow` grows a real XFS
// filesystem on a loop device mounted on the host's /mnt/data. Runs inside the test network
// namespace (npm test), as root.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue, toEncodedLabels } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { startGceMetadataStandIn, type GceMetadataStandIn } from '../support/gce-metadata-stand-in.js';
import { addLoopbackAddress, createClientKey, removeLoopbackAddress, startTestHost, type TestHost } from '../support/test-host.js';
import { runAsAgent } from '../support/test-host-agent.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';
const HOST_ADDRESS = '10.200.176.2';
const METADATA_ADDRESS = '10.200.176.254';
const AGENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'provision', 'gce-run-agent.sh');
const AGENT_NAME = 'the sourcegraph-launch agent (GCE guest attributes)';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 180_000 });

let gce: GceEmulator;
let client: GceTestClient;
let host: TestHost;
let metadata: GceMetadataStandIn;
let dir: string;
let home: string;
let env: Record<string, string>;
let privateKeyPath: string;
let where: string[];
let rc: { zone: string; name: string } | undefined;
let agentPid: number | undefined;
let metadataAdded = false;
let loop: { device: string; image: string } | undefined;

const cli = (args: string[]) => runCli(args, { env, home, timeoutMs: 200_000 });
const overridePath = () => join(host.fsRoot, 'mnt', 'data', 'override.yaml');
const asAgent = (script: string) => runAsAgent(HOST_ADDRESS, privateKeyPath, script);
const guestKeys = async () => {
  const r = await client.get<{ queryValue?: { items?: { key: string }[] } }>(`zones/${rc!.zone}/instances/${rc!.name}/getGuestAttributes`, { queryPath: 'sourcegraph-launch/' });
  return (r.body.queryValue?.items ?? []).map((i) => i.key).sort();
};
const metadataKeys = async () =>
  ((await client.get<{ metadata?: { items?: { key: string }[] } }>(`zones/${rc!.zone}/instances/${rc!.name}`)).body.metadata?.items ?? []).map((i) => i.key);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-rc-'));
  home = mkdtempSync(join(tmpdir(), 'sgl-gce-rc-home-'));
  const key = await createClientKey(dir);
  privateKeyPath = key.privateKeyPath;
  gce = await startGceEmulator({});
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
  metadataAdded = await addLoopbackAddress(METADATA_ADDRESS);
  metadata = await startGceMetadataStandIn(gce, METADATA_ADDRESS, () => rc);

  // What our image keeps on its root disk: the size's values and the saved chart.
  const state = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch');
  mkdirSync(join(state, 'values'), { recursive: true });
  writeFileSync(join(state, 'values', 'XS.yaml'), 'frontend:\n  replicaCount: 1\n');
  const chart = mkdtempSync(join(tmpdir(), 'sgl-chart-'));
  mkdirSync(join(chart, 'sourcegraph'));
  writeFileSync(join(chart, 'sourcegraph', 'values.yaml'), 'sourcegraph:\n  image: {}\nfrontend:\n  replicaCount: 2\ngitserver: {}\nexecutor: {}\n');
  mkdirSync(join(state, 'charts'), { recursive: true });
  execFileSync('tar', ['-czf', join(state, 'charts', `sourcegraph-${VERSION}.tgz`), '-C', chart, 'sourcegraph']);
  rmSync(chart, { recursive: true, force: true });

  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
  // The address the launcher adopts for "rc" is the test host's.
  await client.mutate('POST', `regions/${REGION}/addresses`, {
    name: 'rc-address',
    address: HOST_ADDRESS,
    networkTier: 'PREMIUM',
    labels: toEncodedLabels({ deployment: 'rc', managed: 'true', role: 'address' }),
  });
  where = ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
  const launch = (name: string, address: string[]) =>
    cli(['launch', ...where, '--size', 'XS', '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-13-0`, '--allow-cidr', '203.0.113.0/24',
      '--ssh-cidr', 'none', '--ssh-key', `${key.privateKeyPath}.pub`, '--name', name, '--hold-seconds', '1', '--no-wait', ...address, '--json']);
  const launched = await launch('rc', []);
  expect(launched.code, launched.stderr).toBe(0);
  const m = /^zones\/([^/]+)\/instances\/([^/]+)$/.exec(launched.json<{ instanceId: string }>().instanceId);
  rc = { zone: m![1]!, name: m![2]! };
  const plain = await launch('plain', ['--address', 'none']);
  expect(plain.code, plain.stderr).toBe(0);

  // The agent as its unit runs it (as root, in the background), with the stand-in as its metadata server.
  const started = await asAgent(
    `SG_METADATA_URL=${metadata.url} SG_RUN_AGENT_POLL_SECONDS=0.2 SG_RUN_AGENT_HEARTBEAT_SECONDS=5 setsid ${AGENT} >/var/log/gce-run-agent.out 2>&1 </dev/null & echo $!`,
  );
  agentPid = Number(started.stdout.trim());
  expect(agentPid).toBeGreaterThan(1);
  for (let i = 0; i < 100 && !(await guestKeys()).includes('agent'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(await guestKeys()).toEqual(['agent']);
});

afterAll(async () => {
  if (loop) {
    await asAgent('umount /mnt/data').catch(() => undefined);
    execFileSync('losetup', ['-d', loop.device]);
  }
  if (agentPid) {
    try {
      process.kill(-agentPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await metadata?.stop();
  if (metadataAdded) await removeLoopbackAddress(METADATA_ADDRESS);
  await host?.stop();
  await gce?.stop();
  for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('config through the GCE run agent (SSH closed)', () => {
  it('config set writes and applies override.yaml through metadata and guest attributes; show reads it back; doctor passes; nothing is left behind', async () => {
    const set = await cli(['config', 'set', 'rc', 'frontend.replicaCount=3', ...where, '--yes', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain(`Reaching rc through ${AGENT_NAME} (no SSH: SSH to rc is closed`);
    expect(set.json()).toMatchObject({ action: 'set', changed: true, applied: { version: VERSION }, effective: { frontend: { replicaCount: 3 } } });
    // The file really changed on the host, root-only.
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');
    expect(statSync(overridePath()).mode & 0o777).toBe(0o600);
    // The CLI set the command with setMetadata (fingerprinted) and read with getGuestAttributes.
    const calls = gce.control.requests().map((r) => r.route);
    expect(calls.filter((o) => o === 'instances.setMetadata').length).toBeGreaterThan(3);
    expect(calls).toContain('instances.getGuestAttributes');
    // The agent polled the stand-in; nothing reached the host over SSH but the agent's start.
    expect(metadata.requests.some((r) => r === 'GET /computeMetadata/v1/instance/attributes/sourcegraph-launch-run')).toBe(true);
    expect(host.execLog().every((c) => c === 'bash -s')).toBe(true);
    // The command key is gone from the metadata, and the agent deleted the outputs (on its next poll).
    expect(await metadataKeys()).not.toContain('sourcegraph-launch-run');
    for (let i = 0; i < 50 && (await guestKeys()).length > 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await guestKeys()).toEqual(['agent']);
    const work = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'run-command');
    expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);

    const shown = await cli(['config', 'show', 'rc', ...where, '--json', '--via', 'run-command']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stderr).toContain(`Reaching rc through ${AGENT_NAME} (--via run-command)`);
    expect(shown.json()).toMatchObject({ override: 'frontend:\n  replicaCount: 3\n', effective: { frontend: { replicaCount: 3 } } });

    const doctor = await cli(['doctor', 'rc', ...where, '--json']);
    const check = doctor.json<{ checks: { id: string; status: string; detail: string }[] }>().checks.find((c) => c.id === 'run-command');
    expect(check).toMatchObject({ status: 'pass', detail: expect.stringMatching(new RegExp(`^the sourcegraph-launch agent on ${rc!.name} is running \\(gce-run-agent-1, reported \\d+ s ago\\)`)) });
  });

  it('a command that fails on the instance: exit 1 with its error, the file unchanged', async () => {
    const history = join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'override-history');
    mkdirSync(dirname(history), { recursive: true });
    rmSync(history, { recursive: true, force: true });
    writeFileSync(history, 'in the way\n');
    const failed = await cli(['config', 'set', 'rc', 'frontend.replicaCount=4', ...where, '--yes']);
    rmSync(history, { force: true });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/Could not write \/mnt\/data\/override\.yaml on the instance: mkdir: .*override-history.*File exists/);
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\n');
  });

  it('an instance without the agent: exit 1 naming --via ssh, nothing sent; doctor warns', async () => {
    const before = gce.control.requests().filter((r) => r.route === 'instances.setMetadata').length;
    const shown = await cli(['config', 'show', 'plain', ...where, '--via', 'run-command']);
    expect(shown.code, shown.stderr).toBe(1);
    expect(shown.stderr).toMatch(/The run-command channel cannot reach \S+: no sourcegraph-launch agent has reported on \S+ \(guest attribute sourcegraph-launch\/agent\)/);
    expect(shown.stderr).toContain('--via ssh');
    expect(gce.control.requests().filter((r) => r.route === 'instances.setMetadata').length).toBe(before);

    const plain = await cli(['config', 'show', 'plain', ...where]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('no sourcegraph-launch agent has reported');

    const doctor = await cli(['doctor', 'plain', ...where, '--json']);
    const check = doctor.json<{ checks: { id: string; status: string; detail: string; fix?: string }[] }>().checks.find((c) => c.id === 'run-command');
    expect(check).toMatchObject({ status: 'warn', detail: expect.stringContaining('config, executors enable and disk grow need SSH open to you') });
    expect(check!.fix).toContain('--via ssh');
  });
  it('executors enable through the agent: the token made on the instance, never printed; the replicas set and applied', async () => {
    const volume = join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch');
    writeFileSync(join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch', 'charts', `sourcegraph-executor-k8s-${VERSION}.tgz`), 'a saved chart\n');
    const enabled = await cli(['executors', 'enable', 'rc', ...where, '--count', '2', '--yes', '--json']);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(enabled.stderr).toContain(`through ${AGENT_NAME}`);
    expect(enabled.json()).toMatchObject({ count: 2, token: 'created', changed: true, applied: { version: VERSION } });
    const token = readFileSync(join(volume, 'executor-secret'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(enabled.stdout + enabled.stderr).not.toContain(token);
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 3\nexecutor:\n  replicas: 2\n');
  });

  it('disk grow grows the GCE disk, then the XFS filesystem on the host\'s /mnt/data through the agent', async () => {
    // A real XFS data disk on the host (an ext4 one cannot be grown online inside the test's namespaces: the
    // resize ioctl is refused there; the filesystem step is the same script either way): 512 MiB, then the "cloud" makes the device 1 GiB.
    const image = join(dir, 'data-disk.img');
    execFileSync('truncate', ['-s', '512M', image]);
    const device = execFileSync('losetup', ['-f', '--show', image]).toString().trim();
    loop = { device, image };
    execFileSync('mkfs.xfs', ['-q', device]);
    const mounted = await asAgent(`mount ${device} /mnt/data && findmnt -n -o FSTYPE /mnt/data`);
    expect(mounted.stdout.trim(), mounted.stderr).toBe('xfs');
    execFileSync('truncate', ['-s', '1G', image]);
    execFileSync('losetup', ['-c', device]);
    const sizeOf = async () => Number((await asAgent('df -B1 --output=size /mnt/data | tail -n 1')).stdout.trim());
    expect(await sizeOf()).toBeLessThan(600 * 1024 * 1024);

    const grow = await cli(['disk', 'grow', 'rc', ...where, '--size', '600', '--yes', '--json']);
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.stderr).toContain(`Reaching rc through ${AGENT_NAME}`);
    expect(grow.json()).toMatchObject({ toGiB: 600, disk: 'grown', filesystem: { grown: true, usage: { filesystem: 'xfs' } } });
    expect(await sizeOf()).toBeGreaterThan(900 * 1024 * 1024);
  });
});
