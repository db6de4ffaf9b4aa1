// upgrade, rollback and restore carrying a k3s agent (scale), end to end: the real CLI process → moto for the
// cloud, one test host standing in for the server (behind the deployment's Elastic IP, so it is the
// old server and then the new one: the test replays a boot on it when the CLI stops the serving
// instance, and removes the server's k3s drop-in, which lived on the old root disk) and one for the
// agent (an untagged Elastic IP given to the agent VM). Stub `k3s kubectl` on the server and
// `systemctl`/`k3s` on the agent share a stand-in API, a registry directory: the agent's k3s-agent
// "restart" registers its node with its config; a new server (the boot replay) has lost every
// agent's connection (their nodes turn NotReady) until an agent is joined again. Runs inside the
// test network namespace (npm test).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssociateAddressCommand, DescribeInstancesCommand, StopInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliOptions, type CliRun } from '../support/cli.js';
import { allocateTestAddress, byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI_OLD = 'ami-0b11000000000611a';
const AMI_NEW = 'ami-0c12504000000612b';
const PUBLISHER = '840044800169';
const SERVER_ADDRESS = '10.200.140.2';
const AGENT_ADDRESS = '10.200.141.2';
const REGION = ['--region', 'us-east-1'];
const DROPIN = ['etc', 'rancher', 'k3s', 'config.yaml.d', '50-sourcegraph-launch-agents.yaml'];

vi.setConfig({ testTimeout: 420_000, hookTimeout: 60_000 });

let moto: MotoServer;
let ec2: EC2Client;
let server: TestHost;
let agentHost: TestHost;
let keyDir: string;
let publicKeyPath: string;
let registry: string;
const agentIds = new Set<string>();

const binOf = (host: TestHost) => join(host.fsRoot, '..', 'bin');

/** Puts `body` in place of the host's stub `name`, keeping the original as `<name>.orig` for everything else. */
function wrapStub(host: TestHost, name: string, body: string): void {
  const path = join(binOf(host), name);
  if (!existsSync(`${path}.orig`)) renameSync(path, `${path}.orig`);
  writeFileSync(path, `#!/bin/bash\nREG='${registry}'\n${body}\nexec "$(dirname "$0")/${name}.orig" "$@"\n`);
  chmodSync(path, 0o755);
}

// The server's node list: the original stub is asked first (it replays the boot: its first Ready
// answer finishes it), then every registered agent whose config carries the server's agent token:
// NotReady while its connection is stale (a server replaced since its join), else Ready from the
// second read after its join, unless the test says it never is.
const SERVER_KUBECTL = String.raw`
token="$(cat /mnt/data/.sourcegraph-launch/agent-token 2>/dev/null || true)"
node() { printf '{"metadata":{"name":"%s","labels":{%s}},"status":{"conditions":[{"type":"Ready","status":"%s"}],"nodeInfo":{"kubeletVersion":"v1.31.0+k3s1"}}}' "$1" "$2" "$3"; }
if [ "$1 $2 $3 $4" = "get nodes -o json" ]; then
  srv=False; if "$(dirname "$0")/kubectl.orig" get nodes -o json 2>/dev/null | grep -q '"status": *"True"'; then srv=True; fi
  items="$(node sourcegraph-0 '' "$srv")"
  for f in "$REG"/joins/*; do
    [ -e "$f" ] || continue
    n="$(basename "$f")"
    [ -n "$token" ] && grep -qx "token: $token" "$f" || continue
    reads=$(( $(cat "$REG/reads-$n" 2>/dev/null || echo 0) + 1 )); echo "$reads" > "$REG/reads-$n"
    ready=False; if [ ! -e "$REG/stale-$n" ] && [ ! -e "$REG/never-ready" ] && [ "$reads" -gt 1 ]; then ready=True; fi
    items="$items,$(node "$n" '"sourcegraph-launch/role":"agent"' "$ready")"
  done
  echo "{\"kind\":\"List\",\"items\":[$items]}"; exit 0
fi`;

const SERVER_SYSTEMCTL = `if [ "$1 $2" = "restart k3s" ]; then echo restarted >> "$REG/k3s-restarts"; exit 0; fi`;

const AGENT_SYSTEMCTL = String.raw`
case "$1" in
  daemon-reload|enable|mask) exit 0 ;;
  restart)
    if [ "$2" = k3s-agent ]; then
      n="$(sed -n 's/^node-name: //p' /etc/rancher/k3s/config.yaml)"
      [ -n "$n" ] || exit 1
      cp /etc/rancher/k3s/config.yaml "$REG/joins/$n"
      cp /etc/systemd/system/k3s-agent.service "$REG/unit-$n"
      rm -f "$REG/reads-$n" "$REG/stale-$n"
      exit 0
    fi ;;
esac`;

/** The agent's k3s binary reports the version the test wrote, else the stub's own. */
const AGENT_K3S = `if [ "$1" = --version ] && [ -s "$REG/agent-k3s-version" ]; then echo "k3s version $(cat "$REG/agent-k3s-version") (0badc0de)"; exit 0; fi`;

beforeAll(async () => {
  moto = await startMoto({
    consoleOutput: (id) => (agentIds.has(id) ? agentHost?.consoleOutput() : server?.consoleOutput()),
    images: [
      { id: AMI_OLD, name: `Sourcegraph v${OLD}`, ownerId: PUBLISHER },
      { id: AMI_NEW, name: `Sourcegraph v${NEW}`, ownerId: PUBLISHER },
    ],
  });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-agents-keys-'));
  registry = mkdtempSync(join(tmpdir(), 'sgl-e2e-agents-api-'));
  mkdirSync(join(registry, 'joins'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  server = await startTestHost({ address: SERVER_ADDRESS, version: OLD, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  agentHost = await startTestHost({ address: AGENT_ADDRESS, version: OLD, authorizedKey: key.publicKey });
});

afterAll(async () => {
  await server?.stop();
  await agentHost?.stop();
  await moto?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  if (registry) rmSync(registry, { recursive: true, force: true });
});

async function deploymentInstances(): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment('prod') }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}
const role = (i: Instance) => tagMap(i.Tags)['sourcegraph-launch:role'];
const serving = async () => (await deploymentInstances()).find((i) => role(i) === 'instance' && i.State?.Name === 'running');

/** The server test host becomes a new machine: a boot at `version`, no drop-in (a new root disk), every agent's connection lost. */
function newServer(version: string): void {
  server.reboot({ version, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
  rmSync(join(server.fsRoot, ...DROPIN), { force: true });
  for (const n of readdirSync(join(registry, 'joins'))) writeFileSync(join(registry, `stale-${n}`), '');
}
function switchOn(pattern: RegExp, version: string): CliOptions['onOutput'] {
  let done = false;
  return (chunk) => {
    if (!done && pattern.test(chunk)) {
      done = true;
      newServer(version);
    }
  };
}

function cli(args: string[], home: string, extra: CliOptions = {}): Promise<CliRun> {
  return runCli(args, { endpoint: moto.endpoint, home, timeoutMs: 240_000, ...extra });
}

/** scale, giving the agent VM the agent host's address the moment moto shows it running. */
async function scale(home: string, args: string[]): Promise<CliRun> {
  let done = false;
  const allocationId = await allocateTestAddress(ec2, AGENT_ADDRESS);
  const associate = (async () => {
    while (!done) {
      const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:role', Values: ['agent'] }] }));
      for (const a of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (a.State?.Name !== 'running') continue;
        agentIds.add(a.InstanceId!);
        if (a.PublicIpAddress !== AGENT_ADDRESS) await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: a.InstanceId!, AllowReassociation: true }));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return await cli(['scale', 'prod', ...REGION, ...args], home);
  } finally {
    done = true;
    await associate;
  }
}

const agentConfig = () => readFileSync(join(agentHost.fsRoot, 'etc', 'rancher', 'k3s', 'config.yaml'), 'utf8');
const joinedTo = () => /^server: https:\/\/(\S+):6443$/m.exec(agentConfig())?.[1];
const restarts = () => (existsSync(join(registry, 'k3s-restarts')) ? readFileSync(join(registry, 'k3s-restarts'), 'utf8').trim().split('\n').length : 0);

describe('upgrade, rollback and restore carry the agents (real CLI on moto, server and agent test hosts)', () => {
  it('re-joins the agent to each new server\'s private address; refuses an agent newer than the server; an agent that never becomes Ready exits 4 with the server upgraded; restore re-joins it too', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-e2e-agents-home-'));
    await allocateTestAddress(ec2, SERVER_ADDRESS, { deployment: 'prod' });
    server.reboot({ version: OLD, healthzNotFoundCount: 1, k3sActivatingCount: 0, k3sBootSteps: 0, podsPendingSteps: 0 });
    const launch = await cli(
      ['launch', 'prod', ...REGION, '--size', 'S', '--version', OLD, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '0', '--json'],
      home,
    );
    expect(launch.code, launch.stderr).toBe(0);
    wrapStub(server, 'kubectl', SERVER_KUBECTL);
    wrapStub(server, 'systemctl', SERVER_SYSTEMCTL);
    wrapStub(agentHost, 'systemctl', AGENT_SYSTEMCTL);
    wrapStub(agentHost, 'k3s', AGENT_K3S);

    const up = await scale(home, ['--agents', '1', '--timeout', '60', '--yes']);
    expect(up.code, up.stderr).toBe(0);
    const [agentId] = [...agentIds];
    const node = `agent-${agentId}`;
    const first = (await serving())!;
    expect(joinedTo()).toBe(first.PrivateIpAddress);
    const token = readFileSync(join(server.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'agent-token'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);

    // The plan names the agent steps; the dry run's JSON lists the agent, not joined yet.
    const dry = await cli(['upgrade', 'prod', ...REGION, '--to', NEW, '--dry-run', '--json'], home);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = dry.json<{ agents: unknown[]; plan: { id: string }[] }>();
    expect(planned.agents).toEqual([{ name: agentId, node, ready: false }]);
    expect(planned.plan.map((s) => s.id)).toEqual(expect.arrayContaining(['agents:server-token', `agents:rejoin:${agentId}`]));
    expect(dry.stderr).toContain(`agents:rejoin:${agentId}`);

    // upgrade: a new server with a new private address; the drop-in again (one k3s restart), the agent joined to it.
    const restartsBefore = restarts();
    const upgrade = await cli(['upgrade', 'prod', ...REGION, '--to', NEW, '--yes', '--hold-seconds', '0', '--init-rate', '0', '--json'], home, { onOutput: switchOn(/Stop the 6\.11\.0 instance/, NEW) });
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const upgraded = upgrade.json<{ to: string; instanceId: string; agents: unknown[]; steps: { id: string }[] }>();
    expect(upgraded.agents).toEqual([{ name: agentId, node, ready: true, k3sVersion: 'v1.31.0+k3s1' }]);
    expect(upgraded.steps.map((s) => s.id).slice(-5)).toEqual(['record-upgraded-server', 'agents:server-token', `agents:check:${agentId}`, `agents:join:${agentId}`, `agents:ready:${agentId}`]);
    const second = (await serving())!;
    expect(second.InstanceId).toBe(upgraded.instanceId);
    expect(second.PrivateIpAddress).not.toBe(first.PrivateIpAddress);
    expect(joinedTo()).toBe(second.PrivateIpAddress);
    expect(readFileSync(join(server.fsRoot, ...DROPIN), 'utf8')).toBe('agent-token-file: /mnt/data/.sourcegraph-launch/agent-token\n');
    expect(restarts()).toBe(restartsBefore + 1);
    // The token: in the agent's config only; never in the k3s-agent command line, the output or a log.
    // The agent's unit (as its systemd read it at the restart) starts `k3s agent` with no token or token file on its command line.
    const unit = readFileSync(join(registry, `unit-${node}`), 'utf8');
    expect(unit.split('\n').filter((l) => l.startsWith('ExecStart='))).toEqual([expect.stringMatching(/^ExecStart=\S*k3s agent$/)]);
    expect(agentConfig()).toContain(`token: ${token}`);
    for (const where of [upgrade.stdout, upgrade.stderr, server.execLog().join('\n'), agentHost.execLog().join('\n'), server.bootLog()]) {
      expect(where).not.toContain(token);
      expect(where).not.toContain('agent-token-file: /mnt');
    }

    // rollback with an agent whose k3s is newer than the server's: refused (exit 1), the rollback itself done.
    writeFileSync(join(registry, 'agent-k3s-version'), 'v1.32.1+k3s1');
    const refused = await cli(['rollback', 'prod', ...REGION, '--yes', '--hold-seconds', '0', '--json'], home, { onOutput: switchOn(/Start i-\w+ \(6\.11\.0\)/, OLD) });
    expect(refused.code, refused.stderr).toBe(1);
    const error = refused.json<{ error: { code: string; message: string; remediation: string } }>().error;
    expect(error.code).toBe('agent-k3s-newer');
    expect(error.message).toContain(`Agent ${agentId} runs k3s v1.32.1+k3s1, newer than the server's v1.31.0+k3s1`);
    expect(error.remediation).toContain('scale prod --region us-east-1 --agents 0 --yes');
    expect((await serving())!.InstanceId).toBe(first.InstanceId);
    expect(joinedTo()).toBe(second.PrivateIpAddress);

    // Once the agent is fixed, the same rollback resumes and joins it to the server rolled back to.
    rmSync(join(registry, 'agent-k3s-version'));
    const resumed = await cli(['rollback', 'prod', ...REGION, '--yes', '--hold-seconds', '0', '--json'], home);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json<{ agents: unknown[] }>().agents).toEqual([{ name: agentId, node, ready: true, k3sVersion: 'v1.31.0+k3s1' }]);
    expect(joinedTo()).toBe(first.PrivateIpAddress);

    // upgrade again, with an agent that never becomes Ready: exit 4, the server upgraded and serving, the scale command named.
    writeFileSync(join(registry, 'never-ready'), '');
    const stuck = await cli(['upgrade', 'prod', ...REGION, '--to', NEW, '--yes', '--hold-seconds', '0', '--init-rate', '0', '--timeout', '1', '--json'], home, { onOutput: switchOn(/Stop the 6\.11\.0 instance/, NEW) });
    expect(stuck.code, stuck.stderr).toBe(4);
    const timeout = stuck.json<{ error: { message: string; remediation: string } }>().error;
    expect(timeout.message).toMatch(new RegExp(`Agent ${agentId} \\(node ${node}\\) did not become Ready within 60 s.*The upgrade itself is not undone: i-\\w+ serves\\.`));
    expect(timeout.remediation).toContain('`sourcegraph-launch scale prod --region us-east-1 --agents 1 --yes`');
    const third = (await serving())!;
    expect(tagMap(third.Tags)['sourcegraph-launch:version']).toBe(NEW);
    expect(third.InstanceId).not.toBe(first.InstanceId);
    expect(joinedTo()).toBe(third.PrivateIpAddress);
    const status = await cli(['status', 'prod', ...REGION, '--json'], home);
    expect(status.json()).toMatchObject({ instanceId: third.InstanceId, servingVersion: NEW });

    // restore after losing the server (stopped here): the running agent does not make it refuse; it waits until the
    // restored server serves, then joins the agent to it.
    rmSync(join(registry, 'never-ready'));
    const backup = await cli(['backup', 'prod', ...REGION, '--json'], home);
    expect(backup.code, backup.stderr).toBe(0);
    const snapshotId = backup.json<{ snapshotId: string }>().snapshotId;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [third.InstanceId!] }));
    const restoreDry = await cli(['restore', 'prod', ...REGION, '--snapshot', snapshotId, '--dry-run', '--json'], home);
    expect(restoreDry.code, restoreDry.stderr).toBe(0);
    expect(restoreDry.json<{ agents: unknown[] }>().agents).toEqual([{ name: agentId, node, ready: false }]);
    const restored = await cli(['restore', 'prod', ...REGION, '--snapshot', snapshotId, '--yes', '--json'], home, { onOutput: switchOn(/to the restored instance/, NEW) });
    expect(restored.code, restored.stderr).toBe(0);
    const r = restored.json<{ instanceId: string; agents: unknown[] }>();
    expect(r.agents).toEqual([{ name: agentId, node, ready: true, k3sVersion: 'v1.31.0+k3s1' }]);
    const fourth = (await serving())!;
    expect(fourth.InstanceId).toBe(r.instanceId);
    expect(joinedTo()).toBe(fourth.PrivateIpAddress);
    expect(readFileSync(join(server.fsRoot, ...DROPIN), 'utf8')).toBe('agent-token-file: /mnt/data/.sourcegraph-launch/agent-token\n');
  });
});
