// `scale --agents N` end to end: the real CLI process → moto for the cloud, a test host standing in
// for the server (launched by the real CLI) and another for the agent (its address is given to the
// agent VM as an Elastic IP the moment moto shows it). Stub `k3s kubectl` on the server and
// `systemctl` on the agent share a stand-in API: a registry directory where the agent's k3s-agent
// "start" registers its node (its config, token included) and where the server's kubectl lists the
// nodes whose token is the server's agent token (NotReady on the first read, then Ready), cordons,
// drains (or times out) and deletes them. Runs inside the test network namespace (npm test).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssociateAddressCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliRun } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60719';
const SERVER_ADDRESS = '10.200.128.2';
const AGENT_ADDRESS = '10.200.129.2';
const REGION = ['--region', 'us-east-1'];
const TOKEN_FILE = ['mnt', 'data', '.sourcegraph-launch', 'agent-token'];

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let ec2: EC2Client;
let server: TestHost;
let agentHost: TestHost;
let keyDir: string;
let publicKeyPath: string;
let registry: string;

/** The stub directory of a test host (next to its fsRoot; see test/support/test-host.ts). */
const binOf = (host: TestHost) => join(host.fsRoot, '..', 'bin');

/** Puts `body` in place of the host's stub `name`, keeping the original as `<name>.orig` for everything else. */
function wrapStub(host: TestHost, name: string, body: string): void {
  const path = join(binOf(host), name);
  if (!existsSync(`${path}.orig`)) renameSync(path, `${path}.orig`);
  writeFileSync(path, `#!/bin/bash\nREG='${registry}'\n${body}\nexec "$(dirname "$0")/${name}.orig" "$@"\n`);
  chmodSync(path, 0o755);
}

const SERVER_KUBECTL = String.raw`
token="$(cat /mnt/data/.sourcegraph-launch/agent-token 2>/dev/null || true)"
node() { printf '{"metadata":{"name":"%s","labels":{%s}},"status":{"conditions":[{"type":"Ready","status":"%s"}],"nodeInfo":{"kubeletVersion":"v1.31.0+k3s1"}}}' "$1" "$2" "$3"; }
case "$1 $2" in
  "get nodes")
    if [ "$3 $4" = "-o json" ]; then
      items="$(node sourcegraph-0 '' True)"
      for f in "$REG"/joins/*; do
        [ -e "$f" ] || continue
        n="$(basename "$f")"
        [ -n "$token" ] && grep -qx "token: $token" "$f" || continue
        reads=$(( $(cat "$REG/reads-$n" 2>/dev/null || echo 0) + 1 )); echo "$reads" > "$REG/reads-$n"
        ready=False; if [ ! -e "$REG/never-ready" ] && [ "$reads" -gt 1 ]; then ready=True; fi
        items="$items,$(node "$n" '"sourcegraph-launch/role":"agent"' "$ready")"
      done
      echo "{\"kind\":\"List\",\"items\":[$items]}"; exit 0
    fi ;;
  "get node") if [ -e "$REG/joins/$3" ]; then exit 0; fi; echo "Error from server (NotFound): nodes \"$3\" not found" >&2; exit 1 ;;
  "cordon "*) echo "$2" >> "$REG/cordoned"; echo "node/$2 cordoned"; exit 0 ;;
  "drain "*)
    if [ -e "$REG/drain-times-out" ]; then echo "error: unable to drain node \"$2\" due to error: global timeout reached: ${"$"}{5#--timeout=}, continuing command..." >&2; exit 1; fi
    echo "$*" >> "$REG/drained"; echo "node/$2 drained"; exit 0 ;;
  "delete node") rm -f "$REG/joins/$3"; echo "node \"$3\" deleted"; exit 0 ;;
esac`;

const SERVER_SYSTEMCTL = `if [ "$1 $2" = "restart k3s" ]; then echo restarted >> "$REG/k3s-restarts"; exit 0; fi`;

const AGENT_SYSTEMCTL = String.raw`
case "$1" in
  daemon-reload|enable|mask) exit 0 ;;
  restart)
    if [ "$2" = k3s-agent ]; then
      n="$(sed -n 's/^node-name: //p' /etc/rancher/k3s/config.yaml)"
      [ -n "$n" ] || exit 1
      cp /etc/rancher/k3s/config.yaml "$REG/joins/$n"
      stat -c %a /etc/rancher/k3s/config.yaml > "$REG/mode-$n"
      exit 0
    fi ;;
esac`;

beforeAll(async () => {
  moto = await startMoto({
    consoleOutput: (id) => (!serverId || id === serverId ? server?.consoleOutput() : agentHost?.consoleOutput()),
    images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }],
  });
  ec2 = motoEc2Client(moto);
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-scale-keys-'));
  registry = mkdtempSync(join(tmpdir(), 'sgl-e2e-scale-api-'));
  mkdirSync(join(registry, 'joins'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  server = await startTestHost({ address: SERVER_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  agentHost = await startTestHost({ address: AGENT_ADDRESS, version: VERSION, authorizedKey: key.publicKey });
});

afterAll(async () => {
  await server?.stop();
  await agentHost?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
  if (registry) rmSync(registry, { recursive: true, force: true });
});

let serverId = '';

async function agentsInMoto(): Promise<{ id: string; state: string; publicIp?: string }[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:role', Values: ['agent'] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => ({ id: i.InstanceId!, state: i.State?.Name ?? '', ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}) }));
}

/**
 * Runs scale while giving every new agent VM the agent test host's address the moment moto shows it
 * (what its own public address would be on EC2): the CLI retries SSH until then.
 */
async function scale(home: string, args: string[]): Promise<CliRun> {
  let done = false;
  const allocationId = await allocateTestAddress(ec2, AGENT_ADDRESS).catch(() => undefined);
  const associate = (async () => {
    while (!done) {
      for (const a of await agentsInMoto()) {
        if (a.state === 'running' && a.publicIp !== AGENT_ADDRESS && allocationId) {
          await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: a.id, AllowReassociation: true }));
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return await runCli(['scale', 'prod', ...REGION, ...args], { endpoint: moto.endpoint, home, timeoutMs: 180_000 });
  } finally {
    done = true;
    await associate;
  }
}

const live = async () => (await agentsInMoto()).filter((a) => a.state !== 'terminated' && a.state !== 'shutting-down');

describe('scale with the real CLI', () => {
  it('joins an agent with the token from the data volume, lists its node, survives a drain that times out, removes it, and reports an agent that never becomes Ready', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
    await allocateTestAddress(ec2, SERVER_ADDRESS, { deployment: 'prod' });
    const launch = await runCli(
      ['launch', 'prod', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
      { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
    );
    expect(launch.code, launch.stderr).toBe(0);
    serverId = launch.json<{ instanceId: string }>().instanceId;
    wrapStub(server, 'kubectl', SERVER_KUBECTL);
    wrapStub(server, 'systemctl', SERVER_SYSTEMCTL);
    wrapStub(agentHost, 'systemctl', AGENT_SYSTEMCTL);

    // Add one agent.
    const up = await scale(home, ['--agents', '1', '--timeout', '60', '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const [agent] = await live();
    expect(agent).toBeDefined();
    const node = `agent-${agent!.id}`;
    const result = up.json<{ agents: { after: string[] }; nodes: { name: string; ready: boolean; role: string }[]; monthlyUsd: { perNewAgent: number | null } }>();
    expect(result.agents.after).toEqual([agent!.id]);
    expect(result.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ name: node, ready: true, role: 'agent' })]));
    expect(up.stderr).toMatch(/monthly cost change: (\+\$\d+|price unknown)/);

    // The token: made once on the server's data volume, 0600, given to k3s by a drop-in; in the agent's 0600 config only.
    const tokenPath = join(server.fsRoot, ...TOKEN_FILE);
    const token = readFileSync(tokenPath, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(server.fsRoot, 'etc', 'rancher', 'k3s', 'config.yaml.d', '50-sourcegraph-launch-agents.yaml'), 'utf8')).toBe('agent-token-file: /mnt/data/.sourcegraph-launch/agent-token\n');
    expect(readFileSync(join(registry, 'k3s-restarts'), 'utf8').trim().split('\n')).toHaveLength(1);
    const config = readFileSync(join(agentHost.fsRoot, 'etc', 'rancher', 'k3s', 'config.yaml'), 'utf8');
    expect(config).toContain(`token: ${token}`);
    expect(config).toContain(`node-name: ${node}`);
    expect(config).toMatch(/^server: https:\/\/\d+\.\d+\.\d+\.\d+:6443$/m);
    expect(config).toContain('  - sourcegraph-launch/role=agent');
    expect(readFileSync(join(registry, `mode-${node}`), 'utf8').trim()).toBe('600');
    const tagsAndUserData = JSON.stringify(await ec2.send(new DescribeInstancesCommand({})));
    const state = readdirSync(join(home, 'state'), { recursive: true }).filter((f) => String(f).endsWith('.json')).map((f) => readFileSync(join(home, 'state', String(f)), 'utf8')).join('');
    for (const where of [up.stdout, up.stderr, tagsAndUserData, state, server.execLog().join('\n')]) expect(where).not.toContain(token);
    // Nor on the agent's command lines (any user there sees them in `ps`), plain or base64-encoded:
    // the join script goes on the input of `sudo sh -s`, and it ran (the config above).
    const agentLines = agentHost.execLog();
    expect(agentLines).toContain('sudo sh -s');
    const decodedWords = agentLines.flatMap((line) => line.split(/[\s'"|]+/).map((word) => Buffer.from(word, 'base64').toString('latin1')));
    expect([...agentLines, ...decodedWords].join('\n')).not.toContain(token);

    // The cluster ports: open to the deployment's own security group, to no address range.
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:sourcegraph-launch:deployment', Values: ['prod'] }] }));
    const sg = groups.SecurityGroups![0]!;
    const cluster = (sg.IpPermissions ?? []).filter((p) => [6443, 8472, 10250].includes(p.FromPort ?? 0));
    expect(cluster.map((p) => `${p.FromPort}/${p.IpProtocol}`).sort()).toEqual(['10250/tcp', '6443/tcp', '8472/udp']);
    for (const p of cluster) {
      expect(p.UserIdGroupPairs?.map((g) => g.GroupId)).toEqual([sg.GroupId]);
      expect(p.IpRanges ?? []).toEqual([]);
    }

    // status lists the nodes.
    const status = await runCli(['status', 'prod', ...REGION, '--json'], { endpoint: moto.endpoint, home });
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<{ nodes: { name: string }[] }>().nodes.map((n) => n.name)).toEqual(['sourcegraph-0', node]);

    // A drain that times out: exit 4, the VM kept.
    writeFileSync(join(registry, 'drain-times-out'), '');
    const stuck = await scale(home, ['--agents', '0', '--timeout', '3', '--yes', '--json']);
    expect(stuck.code, stuck.stderr).toBe(4);
    expect(stuck.json<{ error: { message: string } }>().error.message).toMatch(new RegExp(`Draining node ${node} did not finish within 3 s.*VM ${agent!.id} is kept`));
    expect((await live()).map((a) => a.id)).toEqual([agent!.id]);

    // Re-run once pods can leave: drained with the flags, the node deleted, then the VM.
    rmSync(join(registry, 'drain-times-out'));
    const down = await scale(home, ['--agents', '0', '--timeout', '3', '--yes']);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(registry, 'drained'), 'utf8')).toContain(`drain ${node} --ignore-daemonsets --delete-emptydir-data --timeout=3s`);
    expect(readdirSync(join(registry, 'joins'))).toEqual([]);
    expect(await live()).toEqual([]);

    // An agent that never becomes Ready: exit 4 naming it, the VM kept; scaling down removes it.
    writeFileSync(join(registry, 'never-ready'), '');
    const never = await scale(home, ['--agents', '1', '--timeout', '3', '--yes', '--json']);
    expect(never.code, never.stderr).toBe(4);
    const [second] = await live();
    expect(second).toBeDefined();
    expect(never.json<{ error: { message: string; exitCode: number } }>().error).toMatchObject({ exitCode: 4, message: expect.stringContaining(`Agent ${second!.id}`) });
    const cleanup = await scale(home, ['--agents', '0', '--timeout', '3', '--yes']);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(await live()).toEqual([]);

    // Azure's scale runs on the ARM emulator: test/e2e/scale-azure.e2e.test.ts.
  });
});
