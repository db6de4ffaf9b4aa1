// `scale --cloud gcp` joining a real agent end to end: the real CLI process → the GCE emulator
// (service-account credentials whose token endpoint is the emulator's, test/support/gce-emulator/cli-env.ts),
// a test host standing in for the server (its reserved address, labelled as the deployment's, is
// the one launch adopts) and another for the agent (the emulator hands the agent's ephemeral external
// IP the agent host's address, control.nextEphemeralIps). Serial port 1 of each instance is its own
// host's cloud-init output, so host keys are checked as on GCE. Stub `k3s kubectl` on the server and
// `systemctl` on the agent share a stand-in API as in scale.e2e.test.ts. The test hosts accept root,
// the login user given with --ssh-user (GCE puts the key in metadata for it). Runs inside the test
// network namespace (npm test).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue, fromEncodedLabels, toEncodedLabels } from '../../src/core/labels.js';
import { runCli, type CliRun } from '../support/cli.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';
const SERVER_ADDRESS = '10.200.145.2';
const AGENT_ADDRESS = '10.200.146.2';
const TOKEN_FILE = ['mnt', 'data', '.sourcegraph-launch', 'agent-token'];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 60_000 });

let gce: GceEmulator;
let client: GceTestClient;
let server: TestHost;
let agentHost: TestHost;
let dir: string;
let publicKeyPath: string;
let registry: string;
let env: Record<string, string>;

// Compute bodies are open-ended JSON; the assertions read what they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const roleOf = (vm: Json) => fromEncodedLabels(vm.labels ?? {}).labels.role;
const list = async (path: string): Promise<Json[]> => (await client.get<{ items?: Json[] }>(path)).body.items ?? [];
async function instances(): Promise<Json[]> {
  const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
  return (await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat();
}
const agents = async () => (await instances()).filter((vm) => roleOf(vm) === 'agent');

const binOf = (host: TestHost) => join(host.fsRoot, '..', 'bin');
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
        ready=False; if [ "$reads" -gt 1 ]; then ready=True; fi
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
      exit 0
    fi ;;
esac`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-join-'));
  registry = mkdtempSync(join(tmpdir(), 'sgl-gce-join-api-'));
  mkdirSync(join(registry, 'joins'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  server = await startTestHost({ address: SERVER_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1 });
  agentHost = await startTestHost({ address: AGENT_ADDRESS, version: VERSION, authorizedKey: key.publicKey });
  gce = await startGceEmulator({
    // Each instance's serial port 1 is its own host's cloud-init output (its real host keys).
    serialOutput: (vm) => {
      const found = gce.control.state().instances.find((i) => i.name === vm.name);
      return (found && roleOf(found) === 'agent' ? agentHost : server).consoleOutput('ubuntu');
    },
  });
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
});

afterAll(async () => {
  await server?.stop();
  await agentHost?.stop();
  await gce?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (registry) rmSync(registry, { recursive: true, force: true });
});

const where = () => ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
const cli = (args: string[], home: string) => runCli(args, { env, home, timeoutMs: 180_000 });
/** The agent's ephemeral external IP (the next one handed out) is the agent host's address. */
function scale(home: string, args: string[]): Promise<CliRun> {
  gce.control.nextEphemeralIps(AGENT_ADDRESS);
  return cli(['scale', 'prod', ...where(), ...args], home);
}

describe('--cloud gcp: scale joins a real agent with the real CLI (GCE emulator + two test hosts)', () => {
  it('0→1: the agent carries the server\'s key and tag, joins with the token from the data volume and is Ready; 1→0 drains it and then deletes the instance', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-join-home-'));
    // The address launch adopts for "--address new" is the server host's (labelled as the deployment's).
    await client.mutate('POST', `regions/${REGION}/addresses`, { name: 'prod-address', address: SERVER_ADDRESS, networkTier: 'PREMIUM', labels: toEncodedLabels({ deployment: 'prod', managed: 'true', role: 'address' }) });
    const launch = await cli(
      ['launch', ...where(), '--version', VERSION, '--image', `projects/${gce.project}/global/images/sourcegraph-6-13-0`, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'prod', '--hold-seconds', '1', '--json'],
      home,
    );
    expect(launch.code, launch.stderr).toBe(0);
    expect(launch.json<{ publicIp: string; ready: boolean }>()).toMatchObject({ publicIp: SERVER_ADDRESS, ready: true });
    wrapStub(server, 'kubectl', SERVER_KUBECTL);
    wrapStub(server, 'systemctl', SERVER_SYSTEMCTL);
    wrapStub(agentHost, 'systemctl', AGENT_SYSTEMCTL);
    const [serverVm] = await instances();
    const serverPrivateIp = serverVm!.networkInterfaces[0].networkIP as string;

    const up = await scale(home, ['--agents', '1', '--timeout', '60', '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const [agent] = await agents();
    expect(agent).toBeDefined();
    expect(agent!.networkInterfaces[0].accessConfigs[0].natIP).toBe(AGENT_ADDRESS);
    expect(agent!.zone).toBe(serverVm!.zone);
    expect(agent!.tags.items).toEqual(serverVm!.tags.items);
    const meta = (vm: Json) => Object.fromEntries((vm.metadata.items as { key: string; value: string }[]).map((i) => [i.key, i.value]));
    expect(meta(agent!)['ssh-keys']).toBe(meta(serverVm!)['ssh-keys']);
    const result = up.json<{ agents: { after: string[] }; nodes: { name: string; ready: boolean; role: string }[] }>();
    expect(result.agents.after).toHaveLength(1);
    const node = result.nodes.find((n) => n.role === 'agent');
    expect(node).toMatchObject({ ready: true });
    expect(up.stderr).not.toContain('trusting its key on first use');

    // The cluster rule: tag to tag, no range.
    const tag = serverVm!.tags.items[0] as string;
    const rule = (await list('global/firewalls')).find((f) => f.name === `${tag}-cluster`);
    expect(rule).toMatchObject({ sourceTags: [tag], targetTags: [tag] });
    expect(rule!.sourceRanges).toBeUndefined();

    // The join: the server's private address and the token from its data volume.
    const token = readFileSync(join(server.fsRoot, ...TOKEN_FILE), 'utf8').trim();
    const config = readFileSync(join(agentHost.fsRoot, 'etc', 'rancher', 'k3s', 'config.yaml'), 'utf8');
    expect(config).toContain(`server: https://${serverPrivateIp}:6443`);
    expect(config).toContain(`token: ${token}`);
    expect(config).toContain(`node-name: ${node!.name}`);
    expect(JSON.stringify(await instances())).not.toContain(token);

    const status = await cli(['status', 'prod', ...where(), '--json'], home);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<{ nodes: { name: string }[] }>().nodes.map((n) => n.name)).toEqual(['sourcegraph-0', node!.name]);

    // 1 → 0: drained, the node deleted, and only then the instance.
    const down = await scale(home, ['--agents', '0', '--timeout', '5', '--yes', '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(registry, 'drained'), 'utf8')).toContain(`drain ${node!.name} --ignore-daemonsets --delete-emptydir-data --timeout=5s`);
    expect(existsSync(join(registry, 'joins', node!.name))).toBe(false);
    expect(await agents()).toEqual([]);
    expect((await instances()).map((vm) => vm.name)).toEqual([serverVm!.name]);
    rmSync(home, { recursive: true, force: true });
  });
});
