// `scale --agents N` in-process on the fake cloud, with a simulated cluster behind SSH: the server
// keeps the agent token and the node list, an agent registers its node when the join script runs
// (NotReady, then Ready after a few reads, or never), and a drain can be made to time out. What is
// judged: what the cloud holds (agents, the cluster rule), what reached each machine, the exit codes,
// and that the token never shows in labels, user data, the journal or the output.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runScale, type ScaleResult } from '../../src/commands/scale.js';
import { runDestroy } from '../../src/commands/destroy.js';
import { runStatus } from '../../src/commands/status.js';
import { runDoctor, type DoctorResult } from '../../src/commands/doctor.js';
import { nodesCheck } from '../../src/commands/doctor-nodes.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { AGENT_TOKEN_FILE } from '../../src/core/scale-plan.js';
import type { ConnectRemote, ExecResult, Remote } from '../../src/remote/remote.js';
import { createFakeCloud, type FakeCloud } from '../../src/cloud/fake/index.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import { gcpProvider } from '../../src/cloud/gcp/provider.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.12.5040';
const TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';
const where = { region: REGION, providerFlags: {} };
const GCE_REGION = 'us-central1';

interface SimNode {
  name: string;
  reads: number;
}

/** The server's k3s and the agents, as far as scale sees them over SSH. */
class ClusterSim {
  token: string | undefined;
  dropin: string | undefined;
  restarts = 0;
  nodes: SimNode[] = [];
  readonly scripts: { host: string; script: string }[] = [];
  readyAfterReads = 2;
  neverReady = new Set<string>();
  drainTimesOut = false;
  drained: string[] = [];

  constructor(
    private readonly fake: FakeCloud,
    private readonly serverIp: () => string,
  ) {}

  readonly connect: ConnectRemote = async (target) => {
    const host = target.host;
    const remote: Remote = {
      hostFingerprint: 'SHA256:' + 'A'.repeat(43),
      exec: async (command, opts) => this.exec(host, command, opts?.stdin),
      upload: () => Promise.reject(new Error('no upload')),
      close: async () => undefined,
    };
    return remote;
  };

  /** Every command line run, as `ps` on the machine would show it. */
  readonly commandLines: string[] = [];

  private exec(host: string, command: string, stdin?: string | Buffer): ExecResult {
    this.commandLines.push(command);
    // A script on the input (`sudo sh -s`, for those carrying the token), or base64 on the command line.
    const m = /^echo ([A-Za-z0-9+/=]+) \| base64 -d \| sudo sh$/.exec(command);
    if (!m && !(command === 'sudo sh -s' && stdin !== undefined)) return { code: 127, stdout: '', stderr: `unexpected command ${command}` };
    const script = m ? Buffer.from(m[1]!, 'base64').toString() : String(stdin);
    this.scripts.push({ host, script });
    if (host === this.serverIp()) return this.server(script);
    const agent = this.fake.state.instances.find((i) => i.publicIp === host);
    if (!agent || agent.role !== 'agent') return { code: 255, stdout: '', stderr: `no such host ${host}` };
    return this.agent(script);
  }

  private server(script: string): ExecResult {
    if (script.includes('agent-token-file')) {
      let out = '';
      if (!this.token) {
        this.token = TOKEN;
        out += 'token-created\n';
      }
      if (this.dropin !== `agent-token-file: ${AGENT_TOKEN_FILE}`) {
        this.dropin = `agent-token-file: ${AGENT_TOKEN_FILE}`;
        this.restarts += 1;
        out += 'k3s-restarted\n';
      }
      return { code: 0, stdout: out, stderr: '' };
    }
    if (script.includes(`cat ${AGENT_TOKEN_FILE}`)) return this.token ? { code: 0, stdout: `${this.token}\n`, stderr: '' } : { code: 1, stdout: '', stderr: 'No such file' };
    if (script.includes('get nodes -o json')) {
      const items = [{ name: 'sourcegraph-0', ready: true, labels: {} }, ...this.nodes.map((n) => {
        n.reads += 1;
        return { name: n.name, ready: !this.neverReady.has(n.name) && n.reads > this.readyAfterReads, labels: { 'sourcegraph-launch/role': 'agent' } };
      })].map((n) => ({ metadata: { name: n.name, labels: n.labels }, status: { conditions: [{ type: 'Ready', status: n.ready ? 'True' : 'False' }], nodeInfo: { kubeletVersion: 'v1.31.4+k3s1' } } }));
      return { code: 0, stdout: JSON.stringify({ items }), stderr: '' };
    }
    const drain = /kubectl drain (\S+) --ignore-daemonsets --delete-emptydir-data --timeout=(\d+)s/.exec(script);
    if (drain) {
      const name = drain[1]!;
      if (!this.nodes.some((n) => n.name === name)) return { code: 0, stdout: 'node-absent\n', stderr: '' };
      if (this.drainTimesOut) return { code: 1, stdout: `node/${name} cordoned\n`, stderr: `error: unable to drain node "${name}" due to error: global timeout reached: ${drain[2]}s, continuing command...` };
      this.nodes = this.nodes.filter((n) => n.name !== name);
      this.drained.push(name);
      return { code: 0, stdout: 'drained\n', stderr: '' };
    }
    return { code: 1, stdout: '', stderr: `unexpected server script: ${script.slice(0, 80)}` };
  }

  private agent(script: string): ExecResult {
    const token = /^token: (\S+)$/m.exec(script)?.[1];
    const name = /^node-name: (\S+)$/m.exec(script)?.[1];
    const server = /^server: (\S+)$/m.exec(script)?.[1];
    if (!token || !name || !server) return { code: 1, stdout: '', stderr: 'not a join script' };
    if (token !== this.token) return { code: 1, stdout: '', stderr: 'token rejected' };
    if (!this.nodes.some((n) => n.name === name)) this.nodes.push({ name, reads: 0 });
    return { code: 0, stdout: '', stderr: '' };
  }
}

async function rig() {
  const fake = fakeCloudFor('aws', { images: publishedImages([VERSION]) });
  const home = tempHome();
  const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
    ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'prod', yes: true, wait: false,
  })) as LaunchResult;
  const sim = new ClusterSim(fake, () => launched.publicIp!);
  const deps = (io: ScriptedIo = new ScriptedIo([], false), extra: Partial<Deps> = {}): Deps => ({ ...makeFakeDeps({ fake, io, home }), connectRemote: sim.connect, ...extra });
  return { fake, launched, sim, deps, home };
}

async function rejection(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

const agentsOf = (fake: FakeCloud) => fake.state.instances.filter((i) => i.role === 'agent' && i.state !== 'terminated' && i.state !== 'terminating');

describe('scale on the fake cloud', () => {
  it('adds agents in the server\'s zone, subnet and policy from its image, opens the cluster ports to the policy itself, joins them and waits until Ready', async () => {
    const { fake, launched, sim, deps, home } = await rig();
    const io = new ScriptedIo([], false);
    const r = (await runScale(deps(io), 'prod', { ...where, agents: '2', agentSize: 'S', yes: true })) as ScaleResult;
    const agents = agentsOf(fake);
    expect(agents).toHaveLength(2);
    const server = fake.state.instances.find((i) => i.id === launched.instanceId)!;
    for (const a of agents) {
      expect(a).toMatchObject({ zone: server.zone, subnetId: server.subnetId, imageId: server.imageId, accessPolicyIds: server.accessPolicyIds, machineType: 'm6a.4xlarge' });
      expect(a.labels).toMatchObject({ deployment: 'prod', role: 'agent', managed: 'true' });
      expect(a.disks.filter((d) => d.role === 'data')).toEqual([]);
      expect(a.bootGuard).toBe(false);
      expect(Buffer.from(a.userData!, 'base64').toString()).toContain('systemctl mask --now --no-block sourcegraph-boot.service k3s.service');
    }
    const policy = fake.state.accessPolicies.find((p) => p.id === server.accessPolicyIds[0])!;
    expect(policy.clusterRules?.map((c) => `${c.port}/${c.protocol}<-${c.sourcePolicyId}`).sort()).toEqual([`10250/tcp<-${policy.id}`, `6443/tcp<-${policy.id}`, `8472/udp<-${policy.id}`]);
    expect(policy.rules.map((x) => x.port).sort()).toEqual([22, 443, 80]);
    expect(sim.restarts).toBe(1);
    // Each agent's config names the server's private address, its own node name and the role label.
    const joins = sim.scripts.filter((s) => s.script.includes('node-name:'));
    expect(joins).toHaveLength(2);
    for (const j of joins) {
      expect(j.script).toContain(`server: https://${server.privateIp}:6443`);
      expect(j.script).toContain('  - sourcegraph-launch/role=agent');
      expect(j.script).toContain('chmod 600 /etc/rancher/k3s/config.yaml.tmp');
    }
    expect(r.agents.after).toHaveLength(2);
    expect(r.nodes?.filter((n) => n.role === 'agent' && n.ready)).toHaveLength(2);
    // An agent costs its instance, root disk and public IPv4 address (no data disk).
    const priced = awsProvider.monthlyCost({ region: REGION, machineType: r.machineType, root: awsProvider.rootDisk, data: { ...awsProvider.rootDisk, sizeGiB: 0 }, publicAddress: true });
    const partsOf = (item: string) => priced.parts.find((p) => p.item === item)!.monthlyUsd!;
    expect(partsOf('public IPv4 address')).toBeGreaterThan(0);
    expect(r.monthlyUsd.perNewAgent).toBeCloseTo(partsOf('instance') + partsOf('root volume') + partsOf('public IPv4 address'), 2);
    expect(r.monthlyUsd.change).toBeCloseTo(2 * r.monthlyUsd.perNewAgent!, 1);
    expect(io.text()).toMatch(/monthly cost change: \+\$\d+/);
    // The token is never a label, user data, a journal value or a line of output.
    const everything = JSON.stringify(fake.state) + io.text() + JSON.stringify(r) + readdirSync(join(home, 'deployments')).map((f) => readFileSync(join(home, 'deployments', f), 'utf8')).join('');
    expect(everything).not.toContain(TOKEN);
    // Nor on a command line (which `ps` shows on the machine), plain or inside base64: the join script goes on the input.
    const decoded = sim.commandLines.map((c) => c + Buffer.from(/^echo (\S+) \|/.exec(c)?.[1] ?? '', 'base64').toString());
    expect(decoded.join('\n')).not.toContain(TOKEN);
    expect(sim.scripts.filter((s) => s.script.includes(`token: ${TOKEN}`))).toHaveLength(2);

    // The same count again: nothing to do, nothing asked, no cloud change.
    const before = fake.mutatingCalls().length;
    const again = (await runScale(deps(), 'prod', { ...where, agents: '2' })) as ScaleResult;
    expect(again.plan).toMatchObject({ add: 0, remove: [], rejoin: [] });
    expect(fake.mutatingCalls().length).toBe(before);
  });

  it('--agents 0 drains and deletes each node on the server before its VM is deleted; the cost change is negative', async () => {
    const { fake, sim, deps } = await rig();
    await runScale(deps(), 'prod', { ...where, agents: '2', yes: true });
    const ids = agentsOf(fake).map((a) => a.id);
    const io = new ScriptedIo([], false);
    const r = (await runScale(deps(io), 'prod', { ...where, agents: '0', yes: true })) as ScaleResult;
    expect(agentsOf(fake)).toEqual([]);
    expect([...sim.drained].sort()).toEqual(ids.map((id) => `agent-${id}`).sort());
    expect([...r.agents.removed].sort()).toEqual([...ids].sort());
    expect(r.monthlyUsd.change).toBeLessThan(0);
    // Drain before terminate, for each agent.
    const order = fake.calls.filter((c) => c.method === 'terminateInstance').map((c) => c.args[0]);
    expect(order).toEqual(r.agents.removed);
    expect(sim.nodes).toEqual([]);
  });

  it('an agent whose node never becomes Ready: exit 4 naming it, the VM kept; a re-run resumes waiting, and one agent fewer removes it', async () => {
    const { fake, sim, deps } = await rig();
    sim.readyAfterReads = 1_000_000;
    const e = await rejection(runScale(deps(), 'prod', { ...where, agents: '1', yes: true, timeout: '30' }));
    expect(e.exitCode).toBe(ExitCode.timedOut);
    const [agent] = agentsOf(fake);
    expect(agent?.state).toBe('running');
    expect(e.message).toContain(agent!.id);
    expect(e.message).toMatch(/VM is kept/);
    expect(e.remediation).toMatch(/Re-run/);
    // Resumed: no second agent launched, the join is not repeated, the wait goes on and succeeds.
    sim.readyAfterReads = 0;
    const joinsBefore = sim.scripts.filter((s) => s.script.includes('node-name:')).length;
    const r = (await runScale(deps(), 'prod', { ...where, agents: '1', yes: true, timeout: '30' })) as ScaleResult;
    expect(agentsOf(fake)).toHaveLength(1);
    expect(sim.scripts.filter((s) => s.script.includes('node-name:')).length).toBe(joinsBefore);
    expect(r.agents.after).toEqual([agent!.id]);

    sim.neverReady.add(`agent-${agent!.id}`);
    await runScale(deps(), 'prod', { ...where, agents: '0', yes: true });
    expect(agentsOf(fake)).toEqual([]);
  });

  it('a drain that times out stops with exit 4, the node cordoned and the VM kept', async () => {
    const { fake, sim, deps } = await rig();
    await runScale(deps(), 'prod', { ...where, agents: '1', yes: true });
    sim.drainTimesOut = true;
    const e = await rejection(runScale(deps(), 'prod', { ...where, agents: '0', yes: true, timeout: '5' }));
    expect(e.exitCode).toBe(ExitCode.timedOut);
    expect(e.message).toMatch(/did not finish within 5 s/);
    expect(agentsOf(fake)).toHaveLength(1);
    expect(fake.calls.some((c) => c.method === 'terminateInstance')).toBe(false);
    sim.drainTimesOut = false;
    await runScale(deps(), 'prod', { ...where, agents: '0', yes: true, timeout: '5' });
    expect(agentsOf(fake)).toEqual([]);
  });

  it('refuses bad input before any cloud call, asks for --yes off a terminal, and --dry-run changes nothing', async () => {
    const { fake, deps } = await rig();
    const calls = fake.calls.length;
    for (const flags of [{ agents: 'two' }, { agents: '-1' }, { agents: '21' }, { agents: '1', agentSize: 'XXL' }, { agents: '1', agentSize: 'S', agentInstanceType: 'standard-8' }, { agents: '1', timeout: '0' }]) {
      expect((await rejection(runScale(deps(), 'prod', { ...where, ...flags }))).exitCode).toBe(ExitCode.badInput);
    }
    expect(fake.calls.length).toBe(calls);
    const noYes = await rejection(runScale(deps(), 'prod', { ...where, agents: '1' }));
    expect(noYes).toMatchObject({ exitCode: ExitCode.badInput });
    expect(noYes.message).toContain('--yes');
    const dry = (await runScale(deps(), 'prod', { ...where, agents: '1', dryRun: true })) as ScaleResult;
    expect(dry.dryRun).toBe(true);
    expect(dry.requests?.map((x) => x.operation)).toEqual(expect.arrayContaining(['AddClusterRules']));
    expect(agentsOf(fake)).toEqual([]);
    expect(fake.state.accessPolicies.every((p) => !p.clusterRules)).toBe(true);
  });

  it('Azure has agent nodes now: scale passes the cloud gate and looks for the deployment (none here: its own error, not scale-not-on-this-cloud)', async () => {
    const fake = fakeCloudFor('azure', { images: publishedImages([VERSION]) });
    const calls = fake.calls.length;
    const e = await rejection(runScale(makeFakeDeps({ fake, io: new ScriptedIo([], false) }), 'prod', { region: 'eastus', providerFlags: {}, cloud: 'azure', agents: '1', yes: true }));
    expect(e.code).not.toBe('scale-not-on-this-cloud');
    expect(e.message).toContain('prod');
    expect(fake.calls.length).toBeGreaterThan(calls);
  });

  it('as GCE: agents carry the server\'s public key in their own instance (no key by name), its network tag, zone, subnet and image; they join and --agents 0 removes them', async () => {
    const zones = ['a', 'b', 'c'].map((z) => `${GCE_REGION}-${z}`);
    const fake = createFakeCloud({ profile: 'gcp', region: GCE_REGION, zones, machineTypes: Object.fromEntries(Object.values(gcpProvider.sizes).map((s) => [s.machineType, zones])), images: publishedImages([VERSION]) });
    const home = tempHome();
    const gce = { region: GCE_REGION, cloud: 'gcp', providerFlags: { project: 'my-project' } };
    const launched = (await runLaunch(makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), {
      ...gce, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'prod', yes: true, wait: false,
    })) as LaunchResult;
    const sim = new ClusterSim(fake, () => launched.publicIp!);
    const deps = (io: ScriptedIo = new ScriptedIo([], false)): Deps => ({ ...makeFakeDeps({ fake, io, home }), connectRemote: sim.connect });
    const server = fake.state.instances.find((i) => i.id === launched.instanceId)!;
    expect(server.sshPublicKey).toMatch(/^ssh-ed25519 /);

    const dry = (await runScale(deps(), 'prod', { ...gce, agents: '1', agentSize: 'S', dryRun: true })) as ScaleResult;
    expect(dry.machineType).toBe(gcpProvider.sizes.S.machineType);
    expect(dry.requests?.map((x) => x.operation)).toEqual(['AddClusterRules', 'CreateInstance']);
    // --ssh-user is the user the key is put in metadata for, the one SSH to the agent logs in as.
    const asOps = (await runScale(deps(), 'prod', { ...gce, agents: '1', sshUser: 'ops', dryRun: true })) as ScaleResult;
    expect(asOps.requests?.[1]?.input).toMatchObject({ loginUser: 'ops' });

    const r = (await runScale(deps(), 'prod', { ...gce, agents: '2', yes: true })) as ScaleResult;
    const agents = agentsOf(fake);
    expect(agents).toHaveLength(2);
    for (const a of agents) {
      expect(a).toMatchObject({ zone: server.zone, subnetId: server.subnetId, imageId: server.imageId, accessPolicyIds: server.accessPolicyIds, sshPublicKey: server.sshPublicKey, loginUser: server.loginUser, machineType: gcpProvider.sizes.XS.machineType });
    }
    expect(fake.state.sshKeys).toEqual([]);
    const policy = fake.state.accessPolicies.find((p) => p.id === server.accessPolicyIds[0])!;
    expect(policy.clusterRules?.map((c) => `${c.port}/${c.protocol}<-${c.sourcePolicyId}`).sort()).toEqual([`10250/tcp<-${policy.id}`, `6443/tcp<-${policy.id}`, `8472/udp<-${policy.id}`]);
    expect(r.nodes?.filter((n) => n.role === 'agent' && n.ready)).toHaveLength(2);

    await runScale(deps(), 'prod', { ...gce, agents: '0', yes: true });
    expect(agentsOf(fake)).toEqual([]);
    expect(sim.nodes).toEqual([]);
  });

  it('destroy terminates the agents first, and only then the server', async () => {
    const { fake, launched, deps } = await rig();
    await runScale(deps(), 'prod', { ...where, agents: '2', yes: true });
    const agentIds = agentsOf(fake).map((a) => a.id);
    await runDestroy(deps(), 'prod', { ...where, yes: true });
    const order = fake.calls.filter((c) => c.method === 'terminateInstance').map((c) => c.args[0]);
    expect(order.slice(0, 2).sort()).toEqual([...agentIds].sort());
    expect(order[2]).toBe(launched.instanceId);
    const serverTerminated = fake.calls.findIndex((c) => c.method === 'terminateInstance' && c.args[0] === launched.instanceId);
    const agentsGone = fake.calls.findIndex((c) => c.method === 'waitForInstanceState' && c.args[0] === agentIds[1] && c.args[1] === 'terminated');
    expect(agentsGone).toBeGreaterThan(-1);
    expect(agentsGone).toBeLessThan(serverTerminated);
    expect(fake.state.instances.filter((i) => i.state !== 'terminated')).toEqual([]);
  });

  it('status lists the agents and the cluster\'s nodes (role, Ready, version); without SSH it says why instead', async () => {
    const { fake, deps } = await rig();
    await runScale(deps(), 'prod', { ...where, agents: '1', yes: true });
    const [agent] = agentsOf(fake);
    const io = new ScriptedIo([], false);
    const s = await runStatus(deps(io), 'prod', { ...where });
    expect(s.agents).toEqual([{ id: agent!.id, state: 'running', machineType: agent!.machineType }]);
    expect(s.nodes).toEqual([
      { name: 'sourcegraph-0', ready: true, version: 'v1.31.4+k3s1', role: 'server' },
      { name: `agent-${agent!.id}`, ready: true, version: 'v1.31.4+k3s1', role: 'agent' },
    ]);
    expect(io.text()).toContain(`agent-${agent!.id} agent Ready v1.31.4+k3s1`);
    const broken = await runStatus(deps(new ScriptedIo([], false), { connectRemote: () => Promise.reject(new Error('connection refused')) }), 'prod', { ...where });
    expect(broken.nodes).toBeUndefined();
    expect(broken.notes.join('\n')).toMatch(/k3s nodes were not read: connection refused/);
  });

  it('doctor checks the k3s nodes only when there are agents: Ready passes, an agent never Ready fails with the scale command that joins it again', async () => {
    const { fake, sim, deps } = await rig();
    const before = (await runDoctor(deps(), 'prod', { ...where })) as DoctorResult;
    expect(before.checks.some((c) => c.id === 'k3s-nodes')).toBe(false);
    await runScale(deps(), 'prod', { ...where, agents: '1', yes: true });
    const ok = (await runDoctor(deps(), 'prod', { ...where })) as DoctorResult;
    expect(ok.checks.find((c) => c.id === 'k3s-nodes')).toMatchObject({ status: 'pass', detail: expect.stringContaining('2 nodes Ready') });
    const [agent] = agentsOf(fake);
    sim.neverReady.add(`agent-${agent!.id}`);
    const bad = (await runDoctor(deps(), 'prod', { ...where })) as DoctorResult;
    expect(bad.checks.find((c) => c.id === 'k3s-nodes')).toMatchObject({ status: 'fail', detail: `not Ready: agent-${agent!.id}`, fix: expect.stringContaining('scale prod --region us-east-1 --agents 1') });
  });

  it('nodesCheck fails on an agent missing from the cluster or newer than the server', () => {
    const server = { name: 'sourcegraph-0', ready: true, version: 'v1.31.4+k3s1', role: 'server' };
    expect(nodesCheck([server, { name: 'agent-i-1', ready: true, version: 'v1.31.4+k3s1' }], ['i-1'], 'fix').status).toBe('pass');
    expect(nodesCheck([server], ['i-1'], 'fix')).toMatchObject({ status: 'fail', detail: 'agents not in the cluster: agent-i-1' });
    expect(nodesCheck([server, { name: 'agent-i-1', ready: true, version: 'v1.32.0+k3s1' }], ['i-1'], 'fix')).toMatchObject({ status: 'fail', detail: 'newer than the server: agent-i-1 (v1.32.0+k3s1)' });
  });
});
