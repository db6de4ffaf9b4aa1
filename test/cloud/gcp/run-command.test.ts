// The GCE run-command channel (src/cloud/gcp/run-command.ts) against the GCE emulator, with the
// real agent (provision/gce-run-agent.sh --once, in a scratch SG_ROOT) on the guest side: a
// metadata-server stand-in on loopback (test/support/gce-metadata-stand-in.ts) hands it what the
// adapter put in the instance's metadata and writes its guest attributes into the emulator. Every
// sleep of the adapter (a virtual clock) is one poll of the agent, so runs are deterministic.
// The scripts run here are the tests' own echo/printf lines (the agent runs them as this user).
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GcpAdapter } from '../../../src/cloud/gcp/adapter.js';
import { GCE_RUN_COMMAND_LIMITS } from '../../../src/cloud/gcp/run-command.js';
import { runCommandChannel } from '../../../src/remote/run-command-channel.js';
import { VirtualClock } from '../../fakes/virtual-clock.js';
import { GceTestClient } from '../../support/gce-emulator/client.js';
import { instanceBody } from '../../support/gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from '../../support/gce-emulator/index.js';
import { startGceMetadataStandIn, type GceMetadataStandIn } from '../../support/gce-metadata-stand-in.js';

const run = promisify(execFile);
const AGENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'provision', 'gce-run-agent.sh');
const ZONE = 'us-central1-a';

let gce: GceEmulator;
let client: GceTestClient;
let metadata: GceMetadataStandIn;
let dir: string;
let env: NodeJS.ProcessEnv;
let vm: { zone: string; name: string } | undefined;
let root: string;
let n = 0;

beforeAll(async () => {
  gce = await startGceEmulator();
  client = new GceTestClient(gce.endpoint, gce.project);
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-run-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'key.json');
  writeFileSync(
    keyFile,
    JSON.stringify({ type: 'service_account', project_id: gce.project, client_email: `t@${gce.project}.iam.gserviceaccount.com`, private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), token_uri: `${gce.endpoint}/token` }),
  );
  env = { GOOGLE_APPLICATION_CREDENTIALS: keyFile, METADATA_SERVER_DETECTION: 'none', CLOUDSDK_CONFIG: join(dir, 'gcloud'), CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${gce.endpoint}/compute/v1/` };
  metadata = await startGceMetadataStandIn(gce, '127.0.0.1', () => vm, 0);
});

afterAll(async () => {
  await metadata?.stop();
  await gce?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  root = mkdtempSync(join(dir, 'root-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** One poll of the real agent, as the instance's unit runs it. */
const agentPoll = () => run(AGENT, ['--once'], { env: { ...process.env, SG_ROOT: root, SG_METADATA_URL: metadata.url, SG_RUN_AGENT_HEARTBEAT_SECONDS: '0' } });

async function newVm(opts: { guestAttributes?: boolean } = {}): Promise<string> {
  const name = `vm-${++n}`;
  await client.mutate('POST', `zones/${ZONE}/instances`, instanceBody(name, { zone: ZONE, metadata: opts.guestAttributes === false ? { 'ssh-keys': 'sg:ssh-ed25519 AAAA sg' } : { 'enable-guest-attributes': 'TRUE', 'ssh-keys': 'sg:ssh-ed25519 AAAA sg' } }));
  vm = { zone: ZONE, name };
  return `zones/${ZONE}/instances/${name}`;
}

/** The adapter; `guest` is what happens on the instance at each of its sleeps (default: one agent poll). */
function adapter(guest: () => Promise<unknown> = agentPoll, clock = new VirtualClock(Date.now()), pollIntervalMs = 10) {
  return new GcpAdapter(
    { provider: 'gcp', region: 'us-central1', params: { project: gce.project } },
    {
      env,
      pollIntervalMs,
      sleep: async (ms) => {
        await clock.sleep(ms);
        await guest();
      },
      now: () => clock.now(),
    },
  );
}

const guestKeys = async () =>
  ((await client.get<{ queryValue?: { items?: { key: string }[] } }>(`zones/${ZONE}/instances/${vm!.name}/getGuestAttributes`, { queryPath: 'sourcegraph-launch/' })).body.queryValue?.items ?? []).map((i) => i.key).sort();
const metadataItems = async () => (await client.get<{ metadata: { items?: { key: string; value: string }[] } }>(`zones/${ZONE}/instances/${vm!.name}`)).body.metadata.items ?? [];
type Failure = Error & { code?: string; exitCode?: number; remediation?: string };
const setMetadataCalls = () => gce.control.requests().filter((r) => r.route === 'instances.setMetadata');

describe('the GCE run-command channel with the real agent', () => {
  it('runs a script through metadata and guest attributes, answers stdout and stderr, and leaves nothing behind', async () => {
    const id = await newVm();
    await agentPoll();
    const cloud = adapter();
    expect(cloud.runCommandLimits).toEqual(GCE_RUN_COMMAND_LIMITS);
    const out = await cloud.runCommand(id, 'echo "hello $((6 * 7))"\necho warn >&2\nexit 3', 60_000);
    expect(out).toEqual({ stdout: 'hello 42\n', stderr: 'warn\n' });
    // The command went in with the fingerprint, next to the other keys, and was taken away after.
    const sets = setMetadataCalls().slice(-2);
    expect((sets[0]!.body as { fingerprint?: string; items: { key: string; value: string }[] }).fingerprint).toMatch(/\S/);
    expect((sets[0]!.body as { items: { key: string; value: string }[] }).items.map((i) => i.key).sort()).toEqual(['enable-guest-attributes', 'sourcegraph-launch-run', 'ssh-keys']);
    expect((await metadataItems()).map((i) => i.key).sort()).toEqual(['enable-guest-attributes', 'ssh-keys']);
    await agentPoll();
    expect(await guestKeys()).toEqual(['agent']);
  });

  it('a long output comes back whole through the channel protocol, in parts', async () => {
    const id = await newVm();
    await agentPoll();
    const cloud = adapter();
    const channel = runCommandChannel({ run: (script, t) => cloud.runCommand(id, script, t), limits: cloud.runCommandLimits, instance: id, workRoot: join(root, 'work') });
    const r = await channel.exec('head -c 30000 /dev/urandom | base64 -w 100; echo done', { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(40_000);
    expect(r.stdout.endsWith('done\n')).toBe(true);
  });

  it('another metadata change first (412 conditionNotMet): re-read and sent again', async () => {
    const id = await newVm();
    await agentPoll();
    const before = setMetadataCalls().length;
    gce.control.injectFault({ method: 'instances.setMetadata', error: { kind: 'http', status: 412, reason: 'conditionNotMet', message: 'Supplied fingerprint does not match current metadata fingerprint.' }, times: 1 });
    const out = await adapter().runCommand(id, 'echo again', 60_000);
    expect(out.stdout).toBe('again\n');
    // The refused one, the retry, the removal.
    expect(setMetadataCalls().length - before).toBe(3);
  });

  it('no agent has reported: run-command-no-agent (exit 1) naming --via ssh, nothing sent; doctor says so', async () => {
    const id = await newVm();
    const before = setMetadataCalls().length;
    const cloud = adapter();
    const e = await cloud.runCommand(id, 'echo x', 60_000).then(() => ({}) as Failure, (x: unknown) => x as Failure);
    expect(e).toMatchObject({ code: 'run-command-no-agent', exitCode: 1, message: expect.stringContaining(`no sourcegraph-launch agent has reported on vm-${n}`) });
    expect(e.remediation).toContain('--via ssh');
    expect(setMetadataCalls().length).toBe(before);
    expect(await cloud.runCommandReady(id)).toMatchObject({ ready: false, detail: expect.stringContaining('need SSH open to you') });
  });

  it('guest attributes off: says so and how to turn them on', async () => {
    const id = await newVm({ guestAttributes: false });
    await agentPoll();
    const e = await adapter().runCommand(id, 'echo x', 60_000).then(() => ({}) as Failure, (x: unknown) => x as Failure);
    expect(e.message).toContain('guest attributes are off');
    expect(e.remediation).toContain('enable-guest-attributes=TRUE');
  });

  it('an agent that stopped after reporting: not picked up within 90 s (exit 1), the command taken away', async () => {
    const id = await newVm();
    await agentPoll();
    const clock = new VirtualClock(Date.now());
    const e = await adapter(async () => undefined, clock, 3_000).runCommand(id, 'echo x', 600_000).then(() => ({}) as Failure, (x: unknown) => x as Failure);
    expect(e).toMatchObject({ code: 'run-command-failed', exitCode: 1, message: expect.stringContaining('did not pick the command up within 90 s') });
    expect((await metadataItems()).map((i) => i.key)).not.toContain('sourcegraph-launch-run');
  });

  it('a command still running at its bound: run-command-timeout (exit 4)', async () => {
    const id = await newVm();
    await agentPoll();
    // The agent picked it up and is still at it.
    const running = async () => {
      const value = (await metadataItems()).find((i) => i.key === 'sourcegraph-launch-run')?.value;
      if (value) gce.control.setGuestAttributes(ZONE, vm!.name, { [`sourcegraph-launch/run-${value.split(' ')[0]}`]: 'running' }, { merge: true });
    };
    const e = await adapter(running).runCommand(id, 'sleep 1000', 1_000).then(() => ({}) as Failure, (x: unknown) => x as Failure);
    expect(e).toMatchObject({ code: 'run-command-timeout', exitCode: 4, message: expect.stringContaining('the agent is running it') });
  });

  it('doctor: ready with the agent\'s version and age; stale after 5 minutes without a heartbeat', async () => {
    const id = await newVm();
    await agentPoll();
    const clock = new VirtualClock(Date.now());
    const cloud = adapter(async () => undefined, clock);
    expect(await cloud.runCommandReady(id)).toMatchObject({ ready: true, detail: expect.stringMatching(new RegExp(`^the sourcegraph-launch agent on vm-${n} is running \\(gce-run-agent-1, reported \\d+ s ago\\)`)) });
    clock.advance(10 * 60_000);
    expect(await cloud.runCommandReady(id)).toMatchObject({ ready: false, detail: expect.stringContaining('last reported 10 min ago') });
    expect(existsSync(join(root, 'var', 'lib', 'sourcegraph-launch', 'run-agent'))).toBe(true);
  });
});
