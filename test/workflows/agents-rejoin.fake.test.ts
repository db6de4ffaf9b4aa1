// The agent steps of upgrade/rollback/restore (src/workflows/agents-rejoin.ts) on the fake cloud,
// with a simulated cluster behind SSH: a deployment scaled to agents (the real scale command), then
// a new server (another instance, another private address, a root disk without the k3s drop-in, the
// same data volume's token). Judged: what reached each machine (the drop-in, the join naming the new
// address, no join of a refused agent), the outcomes, the exit codes and messages, and a resumed run
// that does not repeat a finished step.
import { describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runScale } from '../../src/commands/scale.js';
import type { Deps } from '../../src/commands/deps.js';
import { ExitCode, LaunchError } from '../../src/core/errors.js';
import { AGENT_TOKEN_FILE } from '../../src/core/scale-plan.js';
import { newJournal, runWorkflow } from '../../src/engine/runner.js';
import type { ConnectRemote, ExecOptions, ExecResult } from '../../src/remote/remote.js';
import type { FakeCloud } from '../../src/cloud/fake/index.js';
import type { Journal } from '../../src/state/store.js';
import { agentRejoinSteps, liveAgentIds, scaleCommandFor, type AgentRejoinInput } from '../../src/workflows/agents-rejoin.js';
import { sshAccess } from '../../src/workflows/shared.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import { gcpProvider } from '../../src/cloud/gcp/provider.js';
import { createFakeCloud } from '../../src/cloud/fake/index.js';
import { ScriptedIo, tempHome } from '../support/deps.js';
import { fakeCloudFor, makeFakeDeps, publishedImages, REGION } from '../support/fake-deps.js';

const VERSION = '6.12.5040';
const TOKEN = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const GCE_REGION = 'us-central1';

/** The server's k3s (token on the data volume, drop-in on the root disk, the node list) and the agents' k3s. */
class Cluster {
  token: string | undefined;
  dropin: string | undefined;
  restarts = 0;
  serverHost = '';
  serverPrivateIp = '';
  serverK3s = 'v1.31.4+k3s1';
  agentK3s = new Map<string, string>();
  /** Releases an agent's image carries under /var/lib/sourcegraph-launch/k3s. */
  agentReleases = new Set<string>();
  /** node → the server address its agent was last joined to, and reads since. */
  nodes = new Map<string, { server: string; reads: number }>();
  neverReady = new Set<string>();
  readonly scripts: { host: string; script: string }[] = [];

  constructor(private readonly fake: FakeCloud) {}

  readonly connect: ConnectRemote = async (target) => ({
    hostFingerprint: 'SHA256:' + 'B'.repeat(43),
    exec: async (command: string, opts?: ExecOptions) => this.exec(target.host, command, opts?.stdin),
    upload: () => Promise.reject(new Error('no upload')),
    close: async () => undefined,
  });

  /** Every command line run, as `ps` on the machine would show it. */
  readonly commandLines: string[] = [];

  private exec(host: string, command: string, stdin?: string | Buffer): ExecResult {
    this.commandLines.push(command);
    // A script on the input (`sudo sh -s`, for those carrying the token), or base64 on the command line.
    const m = /^echo ([A-Za-z0-9+/=]+) \| base64 -d \| sudo sh$/.exec(command);
    if (!m && !(command === 'sudo sh -s' && stdin !== undefined)) return { code: 127, stdout: '', stderr: `unexpected command ${command}` };
    const script = m ? Buffer.from(m[1]!, 'base64').toString() : String(stdin);
    this.scripts.push({ host, script });
    if (host === this.serverHost) return this.server(script);
    const agent = this.fake.state.instances.find((i) => i.publicIp === host && i.role === 'agent');
    if (!agent) return { code: 255, stdout: '', stderr: `no such host ${host}` };
    return this.agent(agent.id, script);
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
      const node = (name: string, ready: boolean, version: string, role?: string) => ({ metadata: { name, labels: role ? { 'sourcegraph-launch/role': role } : {} }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], nodeInfo: { kubeletVersion: version } } });
      const items = [node('sourcegraph-0', true, this.serverK3s)];
      for (const [name, n] of this.nodes) {
        n.reads += 1;
        // Ready only when joined to this server's own private address, on the second read.
        const ready = !this.neverReady.has(name) && n.server === this.serverPrivateIp && n.reads > 1;
        items.push(node(name, ready, this.agentK3s.get(name.replace(/^agent-/, '')) ?? this.serverK3s, 'agent'));
      }
      return { code: 0, stdout: JSON.stringify({ items }), stderr: '' };
    }
    return { code: 1, stdout: '', stderr: `unexpected server script: ${script.slice(0, 80)}` };
  }

  private agent(id: string, script: string): ExecResult {
    if (script.includes('--version')) return { code: 0, stdout: `k3s version ${this.agentK3s.get(id) ?? this.serverK3s} (abcdef12)\ngo version go1.22.5\n`, stderr: '' };
    const release = /src=\/var\/lib\/sourcegraph-launch\/k3s\/(\S+)\/k3s/.exec(script)?.[1];
    if (release) {
      if (!this.agentReleases.has(release)) return { code: 0, stdout: 'no-release\n', stderr: '' };
      this.agentK3s.set(id, release);
      return { code: 0, stdout: 'k3s-installed\n', stderr: '' };
    }
    const token = /^token: (\S+)$/m.exec(script)?.[1];
    const name = /^node-name: (\S+)$/m.exec(script)?.[1];
    const server = /^server: https:\/\/(\S+):6443$/m.exec(script)?.[1];
    if (!token || !name || !server) return { code: 1, stdout: '', stderr: 'not a join script' };
    if (token !== this.token) return { code: 1, stdout: '', stderr: 'token rejected' };
    this.nodes.set(name, { server, reads: 0 });
    return { code: 0, stdout: '', stderr: '' };
  }

  joins(): { host: string; script: string }[] {
    return this.scripts.filter((s) => s.script.includes('node-name:'));
  }
}

/** A deployment with `agents` agents joined to its server, then a new server for it (a fresh root disk, the same token). */
async function rig(agents = 1, on: 'aws' | 'gcp' = 'aws') {
  const zones = ['a', 'b', 'c'].map((z) => `${GCE_REGION}-${z}`);
  const fake =
    on === 'aws'
      ? fakeCloudFor('aws', { images: publishedImages([VERSION]) })
      : createFakeCloud({ profile: 'gcp', region: GCE_REGION, zones, machineTypes: Object.fromEntries(Object.values(gcpProvider.sizes).map((s) => [s.machineType, zones])), images: publishedImages([VERSION]) });
  const provider = on === 'aws' ? awsProvider : gcpProvider;
  const where: { region: string; cloud?: string; providerFlags: Record<string, string> } = on === 'aws' ? { region: REGION, providerFlags: {} } : { region: GCE_REGION, cloud: 'gcp', providerFlags: { project: 'my-project' } };
  const launchFlags = (name: string) => ({ ...where, size: 'XS', version: VERSION, allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name, yes: true, wait: false });
  const home = tempHome();
  const cluster = new Cluster(fake);
  const deps = (extra: Partial<Deps> = {}): Deps => ({ ...makeFakeDeps({ fake, io: new ScriptedIo([], false), home }), connectRemote: cluster.connect, ...extra });
  const old = (await runLaunch(deps(), launchFlags('prod'))) as LaunchResult;
  cluster.serverHost = old.publicIp!;
  cluster.serverPrivateIp = fake.state.instances.find((i) => i.id === old.instanceId)!.privateIp!;
  await runScale(deps(), 'prod', { ...where, agents: String(agents), yes: true });
  const agentIds = liveAgentIds((await fake.findDeployment('prod')).otherInstances);
  expect(agentIds).toHaveLength(agents);
  // The new server: another machine with another private address; its root disk has no drop-in.
  const next = (await runLaunch(deps(), launchFlags('prod-next'))) as LaunchResult;
  const nextServer = fake.state.instances.find((i) => i.id === next.instanceId)!;
  cluster.serverHost = next.publicIp!;
  cluster.serverPrivateIp = nextServer.privateIp!;
  cluster.dropin = undefined;
  const restartsBefore = cluster.restarts;
  const state = deps().state;
  const record = state.getDeployment(on, where.region, 'prod');
  const ssh = sshAccess(deps(), { provider }, record)!;
  expect(ssh).toBeDefined();
  const input: AgentRejoinInput = {
    deployment: 'prod',
    agentIds,
    server: () => ({ instanceId: next.instanceId!, host: next.publicIp! }),
    ssh,
    readyTimeoutMs: 60_000,
    operation: 'upgrade',
    scaleCommand: scaleCommandFor('sourcegraph-launch', { name: 'prod', region: where.region, provider }, agentIds.length),
    resumeCommand: 'sourcegraph-launch upgrade prod --region us-east-1 --to 6.12.5040 --strategy clone --yes',
  };
  const journal: Journal = newJournal('upgrade', 'run1');
  /** One run of the agent steps over the same journal (a re-run resumes it). */
  const run = async (extra: Partial<Deps> = {}) => {
    const d = deps(extra);
    const rejoin = agentRejoinSteps<object>(d, fake as unknown as Cloud, input);
    try {
      await runWorkflow(rejoin.steps, {}, { journal, save: () => undefined, io: d.io, clock: d.clock, ...(d.afterStep ? { afterStep: d.afterStep } : {}) });
    } finally {
      await rejoin.close();
    }
    return rejoin.outcomes();
  };
  return { fake, cluster, agentIds, newPrivateIp: nextServer.privateIp!, oldPrivateIp: fake.state.instances.find((i) => i.id === old.instanceId)!.privateIp!, restartsBefore, run, journal, input };
}

async function rejection(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LaunchError);
  return e as LaunchError;
}

describe('re-joining the agents to a new server (fake cloud)', () => {
  it('gives the new server its drop-in again (one k3s restart), joins each agent to the new private address and waits until Ready', async () => {
    const { cluster, agentIds, newPrivateIp, oldPrivateIp, restartsBefore, run, journal } = await rig(2);
    expect(newPrivateIp).not.toBe(oldPrivateIp);
    const joinsBefore = cluster.joins().length;
    const outcomes = await run();
    expect(cluster.dropin).toBe(`agent-token-file: ${AGENT_TOKEN_FILE}`);
    expect(cluster.restarts).toBe(restartsBefore + 1);
    const joins = cluster.joins().slice(joinsBefore);
    expect(joins).toHaveLength(2);
    for (const j of joins) expect(j.script).toContain(`server: https://${newPrivateIp}:6443`);
    expect(outcomes).toEqual(agentIds.map((id) => ({ name: id, node: `agent-${id}`, ready: true, k3sVersion: 'v1.31.4+k3s1' })));
    expect(Object.keys(journal.steps).filter((k) => journal.steps[k]!.status === 'done')).toEqual([
      'agents:server-token',
      ...agentIds.map((id) => `agents:check:${id}`),
      ...agentIds.map((id) => `agents:join:${id}`),
      ...agentIds.map((id) => `agents:ready:${id}`),
    ]);
    // The token is in no journal value and no outcome.
    expect(JSON.stringify(journal) + JSON.stringify(outcomes)).not.toContain(TOKEN);
  });

  it('as GCE: the same steps carry an agent to the new server; the scale command to finish names --cloud gcp', async () => {
    const { cluster, agentIds, newPrivateIp, input, run } = await rig(1, 'gcp');
    const joins = cluster.joins().length;
    expect(await run()).toEqual([expect.objectContaining({ name: agentIds[0], ready: true })]);
    expect(cluster.joins().slice(joins).map((j) => /^server: (\S+)$/m.exec(j.script)?.[1])).toEqual([`https://${newPrivateIp}:6443`]);
    expect(input.scaleCommand).toBe(`sourcegraph-launch scale prod --cloud gcp --region ${GCE_REGION} --agents 1 --yes`);
  });

  it('resumes after an interruption: finished steps are not repeated (no second drop-in or version check), the interrupted join runs again, the wait goes on', async () => {
    const { cluster, agentIds, restartsBefore, run, journal } = await rig(1);
    const [id] = agentIds;
    const crash = new Error('power lost');
    await expect(run({ afterStep: (step) => { if (step === `agents:join:${id}`) throw crash; } })).rejects.toThrow(/power lost/);
    expect(journal.steps[`agents:join:${id}`]?.status).toBe('started');
    const joins = cluster.joins().length;
    const versionChecks = () => cluster.scripts.filter((x) => x.script.includes('--version')).length;
    const checked = versionChecks();
    const tokenScripts = () => cluster.scripts.filter((x) => x.script.includes('agent-token-file')).length;
    const tokened = tokenScripts();
    // The crash came after the join's work but before the journal knew: the join runs again (idempotent), nothing before it does.
    const outcomes = await run();
    expect(cluster.joins().length).toBe(joins + 1);
    expect(versionChecks()).toBe(checked);
    expect(tokenScripts()).toBe(tokened);
    expect(cluster.restarts).toBe(restartsBefore + 1);
    expect(outcomes).toEqual([expect.objectContaining({ name: id, ready: true })]);
    // A third run restores every step: nothing reaches a machine.
    const scripts = cluster.scripts.length;
    const again = await run();
    expect(cluster.scripts.length).toBe(scripts);
    expect(again).toEqual([expect.objectContaining({ name: id, ready: true, k3sVersion: 'v1.31.4+k3s1' })]);
  });

  it('an agent that never becomes Ready: exit 4, saying the upgrade is not undone and naming the scale command', async () => {
    const { cluster, agentIds, run } = await rig(1);
    cluster.neverReady.add(`agent-${agentIds[0]}`);
    const e = await rejection(run());
    expect(e.exitCode).toBe(ExitCode.timedOut);
    expect(e.message).toMatch(new RegExp(`Agent ${agentIds[0]} .*did not become Ready within 60 s.*The upgrade itself is not undone: i-\\w+ serves\\.`));
    expect(e.remediation).toContain('`sourcegraph-launch scale prod --region us-east-1 --agents 1 --yes`');
    expect(e.remediation).toContain('re-run `sourcegraph-launch upgrade prod');
  });

  it('an agent newer than the server is refused before anything joins (exit 1, with the remedy)', async () => {
    const { cluster, agentIds, run } = await rig(1);
    cluster.agentK3s.set(agentIds[0]!, 'v1.32.1+k3s1');
    const joins = cluster.joins().length;
    const e = await rejection(run());
    expect(e.exitCode).toBe(ExitCode.failed);
    expect(e.code).toBe('agent-k3s-newer');
    expect(e.message).toContain(`Agent ${agentIds[0]} runs k3s v1.32.1+k3s1, newer than the server's v1.31.4+k3s1`);
    expect(e.remediation).toContain('scale prod --region us-east-1 --agents 0 --yes');
    expect(cluster.joins().length).toBe(joins);
  });

  it('an older agent is brought to the server\'s k3s when its image carries that release; else joined with a warning', async () => {
    const a = await rig(1);
    a.cluster.serverK3s = 'v1.32.7+k3s1';
    a.cluster.agentReleases.add('v1.32.7+k3s1');
    a.cluster.agentK3s.set(a.agentIds[0]!, 'v1.31.4+k3s1');
    const upgraded = await a.run();
    expect(upgraded).toEqual([{ name: a.agentIds[0], node: `agent-${a.agentIds[0]}`, ready: true, k3sVersion: 'v1.32.7+k3s1' }]);
    expect(a.cluster.agentK3s.get(a.agentIds[0]!)).toBe('v1.32.7+k3s1');

    const b = await rig(1);
    b.cluster.serverK3s = 'v1.33.3+k3s1';
    b.cluster.agentK3s.set(b.agentIds[0]!, 'v1.31.4+k3s1');
    const [warned] = await b.run();
    expect(warned).toMatchObject({ ready: true, k3sVersion: 'v1.31.4+k3s1', warning: expect.stringMatching(/older than the server's v1\.33\.3\+k3s1.*carries no v1\.33\.3\+k3s1/) });
  });
});
