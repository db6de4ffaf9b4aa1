// `scale --agents N` on Azure end to end: the real CLI process → the ARM emulator over HTTPS
// (test/support/azure-e2e.ts), a test host standing in for the server (launched by the real CLI; the
// deployment's public IP gets its address) and another for the agent (the agent's own public IP gets
// its address; boot diagnostics' serial log of each VM is its host's, so host keys are checked as on
// Azure). Stub `k3s kubectl` on the server and `systemctl` on the agent share a stand-in API, as in
// scale.e2e.test.ts: a registry directory where the agent's k3s-agent "start" registers its node and
// the server's kubectl lists it (NotReady on the first read, then Ready), drains (or times out) and
// deletes it. The test hosts accept Azure's login user `sourcegraph`. Runs inside the test network
// namespace (npm test).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAzureE2e, type AzureE2e } from '../support/azure-e2e.js';
import { runCli, type CliRun } from '../support/cli.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const SERVER_ADDRESS = '10.200.143.2';
const AGENT_ADDRESS = '10.200.144.2';
const GROUP = 'sl-scale';
const where = ['--cloud', 'azure', '--region', 'eastus', '--resource-group', GROUP];
const TOKEN_FILE = ['mnt', 'data', '.sourcegraph-launch', 'agent-token'];

vi.setConfig({ testTimeout: 300_000, hookTimeout: 60_000 });

let azure: AzureE2e;
let server: TestHost;
let agentHost: TestHost;
let dir: string;
let publicKeyPath: string;
let registry: string;

// ARM bodies are open-ended JSON; the assertions read what they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { id: string; type: string; name: string; resourceGroup: string; tags: Record<string, string>; zones?: string[]; properties: any };
const resources = (type: string): Res[] =>
  azure.arm.control.state().resources.filter((r) => r.type.toLowerCase() === type.toLowerCase() && r.resourceGroup.toLowerCase() === GROUP.toLowerCase()) as Res[];
const role = (r: Res) => r.tags['sourcegraph-launch:role'];
const agentVms = () => resources('Microsoft.Compute/virtualMachines').filter((r) => role(r) === 'agent');
const get = async (id: string) => (await azure.client.call('GET', id)).body as Res;
const nicOf = async (vm: Res) => get(vm.properties.networkProfile.networkInterfaces[0].id);
const groupsOf = (nic: Res) => (nic.properties.ipConfigurations as Res[]).map((c) => ((c.properties.applicationSecurityGroups ?? []) as { id: string }[]).map((g) => g.id.toLowerCase()));

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
  dir = mkdtempSync(join(tmpdir(), 'sgl-azure-scale-'));
  registry = mkdtempSync(join(tmpdir(), 'sgl-azure-scale-api-'));
  mkdirSync(join(registry, 'joins'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  server = await startTestHost({ address: SERVER_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 1, loginUsers: ['sourcegraph'] });
  agentHost = await startTestHost({ address: AGENT_ADDRESS, version: VERSION, authorizedKey: key.publicKey, loginUsers: ['sourcegraph'] });
  azure = await startAzureE2e(dir, {
    // Each VM's serial log is its own host's cloud-init output (its real host keys): an agent's is the agent host's.
    serialLog: (vm) => {
      const found = azure.arm.control.state().resources.find((r) => r.type === 'Microsoft.Compute/virtualMachines' && r.name.toLowerCase() === vm.name.toLowerCase() && r.resourceGroup.toLowerCase() === vm.resourceGroup.toLowerCase());
      return (found?.tags['sourcegraph-launch:role'] === 'agent' ? agentHost : server).consoleOutput('ubuntu');
    },
  });
});

afterAll(async () => {
  await server?.stop();
  await agentHost?.stop();
  await azure?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (registry) rmSync(registry, { recursive: true, force: true });
});

const cli = (args: string[], home: string) => runCli(args, { home, timeoutMs: 180_000, env: azure.env });
/** The agent's own public IP (the first one scale creates) gets the agent host's address. */
function scale(home: string, args: string[]): Promise<CliRun> {
  azure.arm.control.nextPublicIps(AGENT_ADDRESS);
  return cli(['scale', 'prod', ...where, ...args], home);
}

describe('scale on Azure with the real CLI (ARM emulator + two test hosts)', () => {
  it('0→1 joins an agent in the deployment\'s application security group and it is Ready; 1→0 drains it (a drain that times out keeps the VM) and only then deletes the VM; destroy takes agents, the group and the NSG', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-azure-scale-home-'));
    azure.arm.control.nextPublicIps(SERVER_ADDRESS);
    const launch = await cli(
      ['launch', 'prod', ...where, '--size', 'XS', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32',
        '--ssh-key', publicKeyPath, '--hold-seconds', '1', '--yes', '--json'],
      home,
    );
    expect(launch.code, launch.stderr).toBe(0);
    const serverId = launch.json<{ instanceId: string }>().instanceId;
    wrapStub(server, 'kubectl', SERVER_KUBECTL);
    wrapStub(server, 'systemctl', SERVER_SYSTEMCTL);
    wrapStub(agentHost, 'systemctl', AGENT_SYSTEMCTL);
    const [serverVm] = resources('Microsoft.Compute/virtualMachines');
    const serverPrivateIp = (await nicOf(serverVm!)).properties.ipConfigurations[0].properties.privateIPAddress as string;

    // 0 → 1.
    const up = await scale(home, ['--agents', '1', '--timeout', '60', '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const [agent] = agentVms();
    expect(agent).toBeDefined();
    const result = up.json<{ agents: { after: string[] }; nodes: { name: string; ready: boolean; role: string }[] }>();
    expect(result.agents.after.map((id) => id.toLowerCase())).toEqual([agent!.id.toLowerCase()]);
    const node = result.nodes.find((n) => n.role === 'agent');
    expect(node).toMatchObject({ ready: true });
    expect(node!.name).toMatch(/^agent-prod-[0-9a-f]+-[0-9a-f]{8}$/);

    // The agent VM: the server's zone, image and login key, tagged role=agent, no data disk, in the server's subnet and NSG.
    const serverBody = await get(serverId);
    const agentBody = await get(agent!.id);
    expect(agentBody.zones).toEqual(serverBody.zones);
    expect(agentBody.properties.storageProfile.imageReference).toMatchObject({ publisher: serverBody.properties.storageProfile.imageReference.publisher, offer: serverBody.properties.storageProfile.imageReference.offer, sku: serverBody.properties.storageProfile.imageReference.sku });
    expect(agentBody.properties.storageProfile.dataDisks).toEqual([]);
    expect(agentBody.properties.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData).toBe(serverBody.properties.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData);
    expect(agentBody.tags).toMatchObject({ 'sourcegraph-launch:role': 'agent', 'sourcegraph-launch:deployment': 'prod' });
    const serverNic = await nicOf(serverBody);
    const agentNic = await nicOf(agentBody);
    expect(agentNic.properties.ipConfigurations[0].properties.subnet.id.toLowerCase()).toBe(serverNic.properties.ipConfigurations[0].properties.subnet.id.toLowerCase());
    expect(agentNic.properties.networkSecurityGroup.id.toLowerCase()).toBe(serverNic.properties.networkSecurityGroup.id.toLowerCase());

    // The cluster ports: server and agent in the deployment's application security group; the rules name it as source and destination, no prefix.
    const [asg] = resources('Microsoft.Network/applicationSecurityGroups');
    expect(asg?.tags).toMatchObject({ 'sourcegraph-launch:deployment': 'prod', 'sourcegraph-launch:role': 'cluster-group' });
    expect(groupsOf(serverNic)).toEqual([[asg!.id.toLowerCase()]]);
    expect(groupsOf(agentNic)).toEqual([[asg!.id.toLowerCase()]]);
    const nsg = await get(serverNic.properties.networkSecurityGroup.id);
    const rules = (nsg.properties.securityRules as Res[]).map((r) => ({ name: r.name, ...r.properties }));
    const cluster = rules.filter((r) => r.sourceApplicationSecurityGroups);
    expect(cluster.map((r) => `${r.protocol} ${[...r.destinationPortRanges].join(',')}`)).toEqual(['Tcp 6443,10250', 'Udp 8472']);
    for (const r of cluster) {
      expect(r.sourceApplicationSecurityGroups.map((g: { id: string }) => g.id.toLowerCase())).toEqual([asg!.id.toLowerCase()]);
      expect(r.destinationApplicationSecurityGroups.map((g: { id: string }) => g.id.toLowerCase())).toEqual([asg!.id.toLowerCase()]);
      expect(r.sourceAddressPrefix ?? r.sourceAddressPrefixes).toBeUndefined();
    }
    // 80/443 and SSH as launch left them; no prefix rule opens a cluster port.
    const byPrefix = rules.filter((r) => !r.sourceApplicationSecurityGroups).map((r) => `${r.destinationPortRange} ${[r.sourceAddressPrefixes ?? r.sourceAddressPrefix].flat().join(',')}`).sort();
    expect(byPrefix).toEqual(['22 203.0.113.7/32', '443 203.0.113.0/24', '80 203.0.113.0/24']);

    // The join: the agent's config names the server's private address and the token from the server's data volume.
    const token = readFileSync(join(server.fsRoot, ...TOKEN_FILE), 'utf8').trim();
    const config = readFileSync(join(agentHost.fsRoot, 'etc', 'rancher', 'k3s', 'config.yaml'), 'utf8');
    expect(config).toContain(`server: https://${serverPrivateIp}:6443`);
    expect(config).toContain(`token: ${token}`);
    expect(config).toContain(`node-name: ${node!.name}`);
    expect(agentHost.sshdLog()).toMatch(/Accepted publickey for sourcegraph from/);
    // The agent's host key was checked against its own serial log before first use (never trusted blindly).
    expect(up.stderr).not.toContain('trusting its key on first use');
    const pins = JSON.parse(readFileSync(join(home, 'state', 'known-hosts.json'), 'utf8')) as Record<string, { fingerprint: string }>;
    const agentPin = Object.entries(pins).find(([id]) => id.toLowerCase() === agent!.id.toLowerCase())?.[1];
    expect(agentHost.hostKeyFingerprints).toContain(agentPin?.fingerprint);
    for (const r of azure.arm.control.state().resources) expect(JSON.stringify(r.tags ?? {})).not.toContain(token);

    // status lists the nodes; the agent's own public IP is not the deployment's address.
    const status = await cli(['status', 'prod', ...where, '--json'], home);
    expect(status.code, status.stderr).toBe(0);
    const s = status.json<{ publicIp: string; nodes: { name: string }[] }>();
    expect(s.nodes.map((n) => n.name)).toEqual(['sourcegraph-0', node!.name]);
    expect(s.publicIp).toBe(SERVER_ADDRESS);

    // 1 → 0 with a drain that times out: exit 4, the VM kept.
    writeFileSync(join(registry, 'drain-times-out'), '');
    const stuck = await scale(home, ['--agents', '0', '--timeout', '3', '--yes', '--json']);
    expect(stuck.code, stuck.stderr).toBe(4);
    expect(agentVms().map((v) => v.id)).toEqual([agent!.id]);

    // 1 → 0: drained, the node deleted, then the VM (with its NIC, OS disk and own public IP).
    rmSync(join(registry, 'drain-times-out'));
    const down = await scale(home, ['--agents', '0', '--timeout', '3', '--yes', '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(registry, 'drained'), 'utf8')).toContain(`drain ${node!.name} --ignore-daemonsets --delete-emptydir-data --timeout=3s`);
    expect(existsSync(join(registry, 'joins', node!.name))).toBe(false);
    expect(agentVms()).toEqual([]);
    expect(resources('Microsoft.Network/publicIPAddresses').filter((p) => role(p) === 'agent-address')).toEqual([]);
    expect(resources('Microsoft.Network/networkInterfaces').map((n) => n.id.toLowerCase())).toEqual([serverNic.id.toLowerCase()]);

    // 0 → 1 again, then destroy: the agent first, then the server; the cluster rules, the group and the NSG go.
    const again = await scale(home, ['--agents', '1', '--timeout', '60', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(agentVms()).toHaveLength(1);
    const destroyed = await cli(['destroy', 'prod', ...where, '--yes', '--json'], home);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr.indexOf('k3s agents')).toBeGreaterThanOrEqual(0);
    expect(resources('Microsoft.Compute/virtualMachines')).toEqual([]);
    expect(resources('Microsoft.Network/applicationSecurityGroups')).toEqual([]);
    expect(resources('Microsoft.Network/networkSecurityGroups')).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });
});
