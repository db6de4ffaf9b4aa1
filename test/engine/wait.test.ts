// The staged readiness wait against a virtual clock, a scripted cloud and remote, and a REAL
// loopback HTTP server standing in for the instance's frontend.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceState } from '../../src/cloud/port.js';
import { CredentialsError, ExitCode, InterruptedError, LaunchError, WaitTimeoutError } from '../../src/core/errors.js';
import { HttpProbeError, httpGet } from '../../src/engine/http-probe.js';
import {
  DEFAULT_STAGE_TIMEOUTS_MS,
  WAIT_STAGES,
  describeReady,
  waitUntilReady,
  type ReadyReport,
  type WaitDeps,
  type WaitStageName,
  type WaitTarget,
} from '../../src/engine/wait.js';
import { RecordingIo } from '../fakes/recording-io.js';
import { ScriptedFrontend, signInPage, type HttpAnswer } from '../fakes/scripted-frontend.js';
import { ScriptedInstanceCloud, cloudInitConsole, type InstanceScript } from '../fakes/scripted-instance-cloud.js';
import {
  ScriptedRemoteHost,
  applianceExec,
  type ApplianceTimeline,
  type ConnectOutcome,
  type ExecHandler,
} from '../fakes/scripted-remote.js';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { ConsoleIo } from '../../src/ui/console-io.js';
import type { Io } from '../../src/ui/io.js';

const S = 1000;
const MIN = 60 * S;
const INSTANCE = 'i-0abc1234def567890';
const VERSION = '6.12.5040';
const CONSOLE_FPS = ['SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s', 'SHA256:Dv5Lr3P0yVq5JXn1tqC6C8Qm9yY0GyP8Vd1k9lO0a3E'];
const RESUME = 'sourcegraph-launch launch --name demo --resume';
const BOOT_LOG = '2026-02-19T12:05:00Z Installing Sourcegraph 6.12.5040\n2026-02-19T12:09:00Z Started Sourcegraph on version 6.12.5040';
const CONSOLE_MARK = 'Cloud-init v. 22.2.2 finished';
const NEVER = Number.POSITIVE_INFINITY;

const refused = (): LaunchError =>
  new LaunchError('ssh-unreachable', ExitCode.failed, 'SSH to ec2-user@127.0.0.1:2222 failed: the host refused the connection.');

/** A fresh instance: visible at 5 s, running at 20 s, checks ok at 60 s, sshd at 90 s. */
const defaultInstance: InstanceScript = {
  state: (t) => (t < 5 * S ? undefined : t < 20 * S ? 'pending' : 'running'),
  statusChecks: (t) =>
    t < 60 * S
      ? { overall: 'initializing', detail: 'system initializing, instance initializing' }
      : { overall: 'ok', detail: 'system ok, instance ok' },
  console: (t) => (t < 30 * S ? '' : cloudInitConsole(CONSOLE_FPS)),
};
const defaultConnect = (_attempt: number, t: number): ConnectOutcome => (t < 90 * S ? refused() : 'ok');
const defaultTimeline: ApplianceTimeline = {
  k3sActiveAt: 150 * S,
  nodeReadyAt: 200 * S,
  podsAppearAt: 220 * S,
  podsReadyAt: 400 * S,
  bootLog: BOOT_LOG,
};
/** 404 until routed at 450 s, the previous version until 500 s, then the wanted one with a build suffix. */
const defaultHealthz = (t: number): HttpAnswer =>
  t < 450 * S
    ? { status: 404, body: '404 page not found\n' }
    : t < 500 * S
      ? { status: 200, body: '6.11.0' }
      : { status: 200, body: `${VERSION}_2026-02-19_6.12-abc1234` };

let frontend: ScriptedFrontend;
beforeAll(async () => {
  frontend = await ScriptedFrontend.start();
});
afterAll(async () => {
  await frontend.close();
});

interface Setup {
  instance?: Partial<InstanceScript>;
  timeline?: Partial<ApplianceTimeline>;
  exec?: (base: ExecHandler) => ExecHandler;
  onConnect?: (attempt: number, t: number) => ConnectOutcome;
  healthz?: (t: number) => HttpAnswer;
  signIn?: (t: number) => HttpAnswer;
  target?: Partial<WaitTarget>;
  signal?: AbortSignal;
  /** Render with this Io instead of recording (to check the text a user reads). */
  io?: (clock: VirtualClock) => Io;
}

function setup(opts: Setup = {}) {
  const clock = new VirtualClock();
  const elapsed = () => clock.elapsed();
  const cloud = new ScriptedInstanceCloud(INSTANCE, elapsed, { ...defaultInstance, ...opts.instance });
  const baseExec = applianceExec({ ...defaultTimeline, ...opts.timeline });
  const remoteHost = new ScriptedRemoteHost(elapsed, opts.exec ? opts.exec(baseExec) : baseExec, opts.onConnect ?? defaultConnect);
  frontend.reset();
  frontend.elapsed = elapsed;
  frontend.script = {
    healthz: opts.healthz ?? defaultHealthz,
    signIn: opts.signIn ?? (() => ({ status: 200, body: signInPage(true) })),
  };
  const io = new RecordingIo();
  const deps: WaitDeps = { cloud, connectRemote: remoteHost.connect, io: opts.io?.(clock) ?? io, clock, httpGet, signal: opts.signal };
  const target: WaitTarget = {
    instanceId: INSTANCE,
    version: VERSION,
    deploymentName: 'demo',
    host: frontend.host,
    ssh: { user: 'ec2-user', privateKeyPath: '/keys/demo', knownHostsPath: '/keys/known_hosts.json', port: 2222 },
    totalTimeoutMs: 60 * MIN,
    resumeCommand: RESUME,
    ...opts.target,
  };
  return { clock, cloud, remoteHost, io, deps, target, run: () => waitUntilReady(deps, target) };
}

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the wait to fail, it succeeded');
}

function expectNoRepeatedUpdates(io: RecordingIo): void {
  let previous: { title: string; observation: string } | undefined;
  for (const e of io.events) {
    if (e.kind !== 'update') continue;
    expect(previous && previous.title === e.title && previous.observation === e.observation).toBeFalsy();
    previous = e;
  }
}

describe('waitUntilReady: the happy path', () => {
  it('runs every stage in order, verifies the console host key, holds /healthz and reports site init', async () => {
    const w = setup();
    const report = await w.run();

    expect(report.stages.map((s) => s.name)).toEqual([...WAIT_STAGES]);
    expect(report.stages.every((s) => s.skipped === undefined && s.ms >= 0)).toBe(true);
    expect(report).toMatchObject({ url: `http://${frontend.host}`, version: VERSION, needsSiteInit: true });

    // One progress item per stage, each succeeded with what it found (the Io adds title and time), none failed.
    const titles = w.io.progressTitles();
    expect(titles).toHaveLength(6);
    expect(titles[0]).toContain(INSTANCE);
    expect(titles[2]).toBe('SSH reachable as ec2-user@127.0.0.1');
    expect(titles[5]).toBe(`http://${frontend.host}/healthz reports ${VERSION} for 1m 30s`);
    const succeeded = w.io.outcomes('succeed');
    expect(succeeded.map((s) => s.title)).toEqual(titles);
    for (const s of succeeded) {
      expect(s.message).not.toContain(s.title);
      expect(s.message).not.toMatch(/\((\d+s|\d+m \d{2}s)\)$/);
    }
    expect(succeeded[0]?.message).toBe(frontend.host);
    expect(w.io.outcomes('fail')).toEqual([]);

    // What each stage saw on the way, in its own words.
    const updates = w.io.updates();
    for (const expected of [
      `instance ${INSTANCE} not visible yet`,
      'instance pending',
      'status checks initializing (system initializing, instance initializing)',
      'SSH: SSH to ec2-user@127.0.0.1:2222 failed: the host refused the connection.',
      'k3s inactive',
      'k3s activating',
      'node sourcegraph-0 NotReady',
      'no pods yet',
      '35/40 pods ready (3 Pending, 1 CrashLoopBackOff, 1 NotReady)',
      'HTTP 404 (ingress up, Sourcegraph not routed yet)',
      `serving 6.11.0, waiting for ${VERSION}`,
      `serving ${VERSION}, holding 0s of 1m 30s`,
      `serving ${VERSION}, holding 1m 25s of 1m 30s`,
    ]) {
      expect(updates).toContain(expected);
    }
    expectNoRepeatedUpdates(w.io);
    expect(succeeded[2]?.message).toContain('host key matches the console output');
    expect(succeeded[5]?.message).toContain('site admin not created yet');

    // SSH: the console's fingerprints, the instance as pin identity, the port stripped from the host.
    const lastTarget = w.remoteHost.targets.at(-1);
    expect(lastTarget).toMatchObject({
      host: '127.0.0.1',
      port: 2222,
      user: 'ec2-user',
      privateKeyPath: '/keys/demo',
      knownHostsPath: '/keys/known_hosts.json',
      pinKey: INSTANCE,
      expectedFingerprints: CONSOLE_FPS,
    });
    expect(w.remoteHost.remotes).toHaveLength(1);
    expect(w.remoteHost.openConnections()).toBe(0);

    // The hold: the right version first answered at 500 s, the wait ended 90 s later, not before.
    expect(w.clock.elapsed()).toBeGreaterThanOrEqual(590 * S);
    expect(w.clock.elapsed()).toBeLessThan(600 * S);
    expect(frontend.count('/sign-in')).toBe(1);
    // Stages ran one after another: no status check once SSH started, no kubectl after HTTP began.
    expect(w.cloud.calls.filter((c) => c.op === 'instanceHealth').every((c) => c.t <= 60 * S)).toBe(true);
    const firstHttp = frontend.requests[0]?.t ?? 0;
    expect(w.remoteHost.commands.every((c) => c.t <= firstHttp)).toBe(true);

    expect(describeReady(report)).toEqual([
      `Sourcegraph ${VERSION} is ready at http://${frontend.host}`,
      `Create the first site admin at http://${frontend.host}/site-admin/init`,
    ]);
  });

  it('prints each stage once: title, what it found, elapsed time (no repeated title or time)', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const w = setup({
      target: { ssh: undefined, holdMs: 0 },
      io: (clock) => new ConsoleIo({ interactive: false, json: false, stdout: out as never, stderr: out as never, now: () => clock.now() }),
    });
    await w.run();
    const lines = text.split('\n').map((l) => l.replace(/^\[[^\]]+\] /, ''));
    expect(lines).toContain(`Instance ${INSTANCE} running: ${frontend.host} (20s)`);
    expect(lines).toContain('Cloud status checks passing: ok (40s)');
    expect(lines).toContain('SSH reachable: skipped (no SSH access, checking HTTP only) (0s)');
    expect(lines.some((l) => /^http:\/\/.*\/healthz reports 6\.12\.5040: serving 6\.12\.5040, site admin not created yet \(\d+m\d\ds\)$/.test(l))).toBe(true);
    // Each title appears once per line, and each line ends with one elapsed time at most.
    for (const line of lines) {
      expect(line).not.toMatch(/^(.{12,}): \1/);
      expect(line).not.toMatch(/\(\d+(s|m ?\d\ds)\) \(\d+(s|m ?\d\ds)\)$/);
    }
  });

  it('asks the cloud at most once every 5 s, probes /healthz every second, and reports within a second', async () => {
    // /healthz starts serving the version at 452.4 s, between two probes.
    const flip = 452_400;
    const w = setup({
      target: { holdMs: 0 },
      healthz: (t) => (t < flip ? { status: 404, body: '404 page not found\n' } : { status: 200, body: VERSION }),
    });
    await w.run();
    const cloudTimes = w.cloud.calls.map((c) => c.t);
    expect(cloudTimes.length).toBeGreaterThan(10);
    for (let i = 1; i < cloudTimes.length; i++) expect(cloudTimes[i]! - cloudTimes[i - 1]!).toBeGreaterThanOrEqual(5 * S);
    const probes = frontend.requests.filter((r) => r.path === '/healthz').map((r) => r.t);
    expect(probes.length).toBeGreaterThan(20);
    for (let i = 1; i < probes.length; i++) expect(probes[i]! - probes[i - 1]!).toBe(S);
    // Ready at the first probe after the flip: within a second of it, not up to five.
    expect(w.clock.elapsed()).toBeGreaterThan(flip);
    expect(w.clock.elapsed() - flip).toBeLessThanOrEqual(S);
  });

  it('falls back to trust on first use only after waiting 3 min for console fingerprints, and says so', async () => {
    const connectedAt: number[] = [];
    const w = setup({ instance: { console: () => 'no cloud-init output yet' }, onConnect: (_a, t) => (connectedAt.push(t), 'ok') });
    await w.run();
    expect(w.remoteHost.targets.every((t) => t.expectedFingerprints?.length === 0)).toBe(true);
    // No connection attempt at all while the console might still list the keys (SSH stage from 60 s).
    expect(Math.min(...connectedAt)).toBeGreaterThanOrEqual(60 * S + 3 * MIN);
    expect(w.io.updates('SSH reachable')).toContainEqual(expect.stringMatching(/waiting for the instance console to list its SSH host key fingerprints/));
    expect(w.io.outcomes('succeed')[2]?.message).toMatch(/no fingerprints on the console after \d+ s: host key pinned on first use/);
    expect(w.io.events).toContainEqual({ kind: 'warn', message: expect.stringMatching(/listed no SSH host key fingerprints .*trusting the key .* on first use/) });
  });

  it('fingerprints that appear on the console during the wait are used: no trust on first use', async () => {
    const w = setup({ instance: { console: (t) => (t < 150 * S ? '' : cloudInitConsole(CONSOLE_FPS)) } });
    await w.run();
    const first = w.remoteHost.targets[0]!;
    expect(first.expectedFingerprints).toEqual(CONSOLE_FPS);
    expect(w.io.outcomes('succeed')[2]?.message).toContain('host key matches the console output');
  });

  it('skips the ssh, k3s and pods stages without SSH and relies on status checks and HTTP', async () => {
    const w = setup({ target: { ssh: undefined } });
    const report = await w.run();
    expect(report.stages).toEqual([
      { name: 'instance-running', ms: expect.any(Number) },
      { name: 'status-checks', ms: expect.any(Number) },
      { name: 'ssh', ms: 0, skipped: true },
      { name: 'k3s', ms: 0, skipped: true },
      { name: 'pods', ms: 0, skipped: true },
      { name: 'http-version', ms: expect.any(Number) },
    ]);
    expect(w.remoteHost.targets).toEqual([]);
    expect(w.cloud.count('consoleOutput')).toBe(0);
    const skipped = w.io.outcomes('succeed').filter((s) => s.message?.includes('skipped'));
    expect(skipped.map((s) => s.title)).toEqual(['SSH reachable', 'k3s active and node Ready', 'Pods settled']);
    expect(report.needsSiteInit).toBe(true);
  });

  it('with a healthUrl (behind tls --tls managed\'s load balancer): the last stage asks the site\'s HTTPS URL with the certificate verified, never the address', async () => {
    const w = setup({ target: { healthUrl: 'https://sg.example.com/healthz' } });
    // The address answers only the balancer now: every probe of it fails; the domain reaches the frontend.
    const asked: { url: string; verify: boolean }[] = [];
    w.deps.httpGet = async (url, opts) => {
      asked.push({ url, verify: opts.verifyCertificate === true });
      if (!url.startsWith('https://sg.example.com/')) throw new HttpProbeError(url, 'connection refused (ECONNREFUSED)', 'ECONNREFUSED');
      return httpGet(url.replace('https://sg.example.com', `http://${frontend.host}`), opts);
    };
    const report = await w.run();
    expect(report).toMatchObject({ url: 'https://sg.example.com', version: VERSION, needsSiteInit: true });
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.every((a) => a.verify && a.url.startsWith('https://sg.example.com/'))).toBe(true);
    expect(asked.at(-1)?.url).toBe('https://sg.example.com/sign-in');
    expect(w.io.progressTitles()[5]).toBe(`https://sg.example.com/healthz reports ${VERSION} for 1m 30s (certificate verified)`);
    // SSH still goes to the instance's address (22 is not the balancer's).
    expect(w.remoteHost.targets.at(-1)?.host).toBe('127.0.0.1');
    expect(describeReady(report)[0]).toBe(`Sourcegraph ${VERSION} is ready at https://sg.example.com`);
  });

  it('with a healthUrl whose domain does not resolve yet: asked through the load balancer\'s own name (healthVia), TLS name and Host still the domain\'s', async () => {
    const w = setup({ target: { ssh: undefined, healthUrl: 'https://sg.example.com/healthz', healthVia: 'sgl-demo-https-1.us-east-1.elb.amazonaws.com' } });
    const asked: { url: string; connectTo?: string; verify: boolean }[] = [];
    w.deps.httpGet = async (url, opts) => {
      asked.push({ url, verify: opts.verifyCertificate === true, ...(opts.connectTo ? { connectTo: opts.connectTo } : {}) });
      if (opts.connectTo !== 'sgl-demo-https-1.us-east-1.elb.amazonaws.com') throw new HttpProbeError(url, 'host not found (ENOTFOUND)', 'ENOTFOUND');
      return httpGet(url.replace('https://sg.example.com', `http://${frontend.host}`), { ...opts, connectTo: undefined });
    };
    const report = await w.run();
    expect(report.url).toBe('https://sg.example.com');
    expect(asked.filter((a) => a.connectTo).length).toBeGreaterThan(0);
    expect(asked.every((a) => a.verify && a.url.startsWith('https://sg.example.com/'))).toBe(true);
    // Each probe tries the domain first: once its record exists, the site is asked as users reach it.
    expect(asked.filter((a) => !a.connectTo).length).toBe(asked.filter((a) => a.connectTo).length);
  });

  it('with a healthUrl that never answers: the timeout names it and says it is asked through the load balancer', async () => {
    const w = setup({ target: { healthUrl: 'https://sg.example.com/healthz', totalTimeoutMs: 12 * MIN } });
    w.deps.httpGet = async (url) => {
      throw new HttpProbeError(url, 'host not found (ENOTFOUND)', 'ENOTFOUND');
    };
    const e = (await expectRejection(w.run())) as WaitTimeoutError;
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(e.message).toContain('GET https://sg.example.com/healthz: host not found (ENOTFOUND)');
    expect(e.remediation).toContain('https://sg.example.com/healthz is asked through the load balancer');
  });

  it('returns once the instance runs with stopAfter (--no-wait)', async () => {
    const w = setup({ target: { stopAfter: 'instance-running' } });
    const report = await w.run();
    expect(report).toEqual({
      url: `http://${frontend.host}`,
      version: VERSION,
      needsSiteInit: undefined,
      stages: [{ name: 'instance-running', ms: 20 * S }],
    });
    expect(w.cloud.count('instanceHealth')).toBe(0);
    expect(w.remoteHost.targets).toEqual([]);
    expect(frontend.requests).toEqual([]);
  });

  it("uses the instance's public IP when no host is given", async () => {
    const w = setup({
      target: { host: undefined, stopAfter: 'instance-running' },
      instance: { publicIp: () => '127.0.0.9' },
    });
    expect((await w.run()).url).toBe('http://127.0.0.9');
  });

  it("falls back to the private IP for an instance in a private subnet", async () => {
    const w = setup({
      target: { host: undefined, stopAfter: 'instance-running' },
      instance: { publicIp: () => undefined, privateIp: () => '127.0.0.10' },
    });
    expect((await w.run()).url).toBe('http://127.0.0.10');
  });

  it('waits for an IP before going on, and says so when none comes', async () => {
    const w = setup({ target: { host: undefined, ssh: undefined }, instance: { publicIp: () => undefined } });
    const err = await expectRejection(w.run());
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).stage).toBe('instance-running');
    expect((err as WaitTimeoutError).details?.lastObservation).toBe('instance running, no IP address yet');
  });

  it('tolerates a couple of impaired status polls', async () => {
    let polls = 0;
    const w = setup({
      target: { ssh: undefined },
      instance: { statusChecks: () => (++polls <= 2 ? { overall: 'impaired' } : { overall: 'not-applicable' }) },
    });
    await expect(w.run()).resolves.toMatchObject({ version: VERSION });
    expect(w.io.updates('status checks')).toContain('status checks impaired');
  });
});

describe('waitUntilReady: the hold on /healthz', () => {
  it('restarts the 90 s hold when /healthz flaps or reports another version mid-hold', async () => {
    // Right from the start, 502 at 50–60 s, the old version at 100–110 s, right again after.
    const w = setup({
      target: { ssh: undefined },
      instance: { state: () => 'running', statusChecks: () => ({ overall: 'ok' }) },
      healthz: (t) =>
        t >= 50 * S && t < 60 * S
          ? { status: 502, body: 'Bad Gateway' }
          : t >= 100 * S && t < 110 * S
            ? { status: 200, body: '6.11.0' }
            : { status: 200, body: VERSION },
    });
    await w.run();
    const updates = w.io.updates('/healthz');
    // The HTTP stage began at 5 s: the status check waited 5 s after the instance poll (cloud pacing).
    expect(updates).toContain('HTTP 502; hold reset after 45s');
    expect(updates).toContain(`serving 6.11.0, waiting for ${VERSION}; hold reset after 40s`);
    // Without resets it would have ended at 90 s; the last unbroken run began at 110 s.
    expect(w.clock.elapsed()).toBe(200 * S);
  });

  it.each([
    ['true', signInPage(true), true],
    ['false', signInPage(false), false],
    ['absent', signInPage(undefined), undefined],
    ['beyond the default 64 KiB body cap', signInPage(false, 200 * 1024), false],
  ])('reads needsSiteInit %s from /sign-in', async (_name, page, expected) => {
    const w = setup({
      target: { ssh: undefined, holdMs: 0 },
      instance: { state: () => 'running', statusChecks: () => ({ overall: 'ok' }) },
      healthz: () => ({ status: 200, body: VERSION }),
      signIn: () => ({ status: 200, body: page }),
    });
    const report: ReadyReport = await w.run();
    expect(report.needsSiteInit).toBe(expected);
    expect(describeReady(report)).toHaveLength(expected === false ? 1 : 2);
  });
});

describe('waitUntilReady: timeouts', () => {
  const cases: { stage: WaitStageName; setup: Setup; observation: string; bootLog: boolean }[] = [
    { stage: 'instance-running', setup: { instance: { state: () => 'pending' } }, observation: 'instance pending', bootLog: false },
    {
      stage: 'status-checks',
      setup: { instance: { statusChecks: () => ({ overall: 'initializing' }) } },
      observation: 'status checks initializing',
      bootLog: false,
    },
    {
      stage: 'ssh',
      setup: { onConnect: () => refused() },
      observation: 'SSH: SSH to ec2-user@127.0.0.1:2222 failed: the host refused the connection.',
      bootLog: false,
    },
    { stage: 'k3s', setup: { timeline: { nodeReadyAt: NEVER } }, observation: 'node sourcegraph-0 NotReady', bootLog: true },
    {
      stage: 'pods',
      setup: { timeline: { podsReadyAt: NEVER } },
      observation: '35/40 pods ready (3 Pending, 1 CrashLoopBackOff, 1 NotReady)',
      bootLog: true,
    },
    {
      stage: 'http-version',
      setup: { healthz: () => ({ status: 404, body: '404 page not found' }) },
      observation: 'HTTP 404 (ingress up, Sourcegraph not routed yet)',
      bootLog: true,
    },
  ];

  it.each(cases)('names the stage, the last observation and the boot log when $stage times out', async (c) => {
    const w = setup(c.setup);
    const err = await expectRejection(w.run());
    expect(err).toBeInstanceOf(WaitTimeoutError);
    const e = err as WaitTimeoutError;
    expect(e.exitCode).toBe(ExitCode.timedOut);
    expect(e.code).toBe('wait-timeout');
    expect(e.stage).toBe(c.stage);
    expect(e.details).toMatchObject({
      stage: c.stage,
      lastObservation: c.observation,
      timedOut: 'stage',
      timeoutMs: DEFAULT_STAGE_TIMEOUTS_MS[c.stage],
    });
    expect(e.message).toContain(`(stage ${c.stage}`);
    expect(e.message).toContain(`Last observation: ${c.observation}`);
    // The console tail is in the details and, indented, in the message a user reads.
    const bootLogTail = String(e.details?.bootLogTail);
    expect(bootLogTail).toContain(CONSOLE_MARK);
    expect(e.message).toMatch(new RegExp(`\\n {8}.*${CONSOLE_MARK}`));
    if (c.bootLog) {
      expect(bootLogTail).toContain('Started Sourcegraph on version 6.12.5040');
      expect(e.message).toContain('/var/log/reboot.sh.log (last 40 lines)');
    } else {
      expect(bootLogTail).not.toContain('reboot.sh.log');
    }
    expect(e.remediation).toContain('The instance is still there');
    expect(e.remediation).toContain(`\`${RESUME}\``);
    expect(e.remediation).toContain('sourcegraph-launch status demo');
    const failed = w.io.outcomes('fail');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.title).toBe(w.io.progressTitles().at(-1));
    expect(w.remoteHost.openConnections()).toBe(0);
  });

  it('honours a per-stage timeout override', async () => {
    const w = setup({ target: { stageTimeoutsMs: { 'instance-running': 30 * S } }, instance: { state: () => 'pending' } });
    const err = (await expectRejection(w.run())) as WaitTimeoutError;
    expect(err.details).toMatchObject({ stage: 'instance-running', timeoutMs: 30 * S });
    expect(w.clock.elapsed()).toBe(30 * S);
  });

  it('bounds the whole wait by totalTimeoutMs, whatever the stage budgets', async () => {
    const w = setup({ timeline: { podsReadyAt: NEVER }, target: { totalTimeoutMs: 4 * MIN } });
    const err = (await expectRejection(w.run())) as WaitTimeoutError;
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.stage).toBe('pods');
    expect(err.details).toMatchObject({ timedOut: 'total', timeoutMs: 4 * MIN });
    expect(err.message).toContain("the whole wait's timeout of 4m 00s ran out");
    expect(w.clock.elapsed()).toBe(4 * MIN);
  });
});

describe('waitUntilReady: failing fast', () => {
  it('fails at once when the instance terminates, with the console tail', async () => {
    const states: InstanceState[] = ['pending', 'pending', 'terminating'];
    let i = 0;
    const w = setup({
      instance: {
        state: () => states[Math.min(i++, states.length - 1)],
        console: () => cloudInitConsole([], ['kernel: Out of memory: Killed process 1234 (k3s-server)']),
      },
    });
    const err = await expectRejection(w.run());
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'instance-terminated', exitCode: ExitCode.failed });
    expect((err as LaunchError).message).toContain('is terminating');
    expect((err as LaunchError).message).toContain('Out of memory: Killed process 1234');
    expect(w.cloud.count('describeInstance')).toBe(3);
    expect(w.cloud.count('instanceHealth')).toBe(0);
  });

  it('fails when status checks stay impaired for more than two polls', async () => {
    const w = setup({ instance: { statusChecks: () => ({ overall: 'impaired', detail: 'system ok, instance impaired' }) } });
    const err = await expectRejection(w.run());
    expect(err).toMatchObject({ code: 'instance-impaired', exitCode: ExitCode.failed });
    expect((err as LaunchError).message).toContain('failed its status checks (system ok, instance impaired)');
    expect((err as LaunchError).remediation).toContain(RESUME);
    expect(w.cloud.count('instanceHealth')).toBe(3);
  });

  it('propagates a host key mismatch without retrying', async () => {
    const mismatch = new LaunchError('host-key-mismatch', ExitCode.failed, 'The SSH host key does not match');
    const w = setup({ onConnect: () => mismatch });
    await expect(w.run()).rejects.toBe(mismatch);
    expect(w.remoteHost.targets).toHaveLength(1);
    expect(w.io.outcomes('fail').map((f) => f.title)).toEqual(['SSH reachable as ec2-user@127.0.0.1']);
  });

  it('propagates a host key mismatch on a reconnect too', async () => {
    const mismatch = new LaunchError('host-key-mismatch', ExitCode.failed, 'The SSH host key changed');
    let dropped = false;
    const w = setup({
      onConnect: (_attempt, t) => (t < 90 * S ? refused() : dropped ? mismatch : 'ok'),
      exec: (base) => (command, t) => {
        if (!dropped && t >= 160 * S) {
          dropped = true;
          throw new Error('Socket closed');
        }
        return base(command, t);
      },
    });
    await expect(w.run()).rejects.toBe(mismatch);
    expect(w.io.updates('k3s')).toContain('SSH connection lost (Socket closed), reconnecting');
  });

  it('fails fast with lastError when the boot status says failed', async () => {
    const w = setup({
      timeline: {
        podsReadyAt: NEVER,
        bootStatus: (t) =>
          t < 250 * S
            ? { stage: 'helm-install', targetVersion: VERSION, decision: 'install', startedAt: '2026-02-19T12:04:00Z' }
            : {
                stage: 'failed',
                targetVersion: VERSION,
                decision: 'install',
                startedAt: '2026-02-19T12:04:00Z',
                lastError: 'helm upgrade: timed out waiting for the condition',
              },
      },
    });
    const err = await expectRejection(w.run());
    expect(err).toMatchObject({ code: 'provisioning-failed', exitCode: ExitCode.failed });
    const message = (err as LaunchError).message;
    expect(message).toContain(`failed installing ${VERSION}: helm upgrade: timed out waiting for the condition`);
    expect(message).toContain('Started Sourcegraph on version');
    expect(w.clock.elapsed()).toBeLessThan(260 * S);
    expect(w.io.updates('Pods')).toContain('35/40 pods ready (3 Pending, 1 CrashLoopBackOff, 1 NotReady); boot: helm-install');
  });

  it('keeps waiting while our boot script runs even if the pods look settled', async () => {
    const w = setup({
      timeline: {
        bootStatus: (t) =>
          t < 500 * S ? { stage: 'helm-install', startedAt: 'x' } : { stage: 'done', startedAt: 'x', finishedAt: 'y' },
      },
    });
    await w.run();
    expect(w.io.updates('Pods')).toContain('40/40 pods ready; boot: helm-install');
    expect(w.io.updates('k3s')).toContain('node sourcegraph-0 NotReady (boot: helm-install)');
    expect(w.io.outcomes('succeed')[4]?.message).toContain('40/40 pods ready');
  });
});

describe('waitUntilReady: SSH trouble along the way', () => {
  it('treats a dropped connection as an observation and reconnects', async () => {
    let drops = 0;
    const w = setup({
      exec: (base) => (command, t) => {
        if (drops === 0 && t >= 160 * S) {
          drops += 1;
          throw new Error('Socket closed');
        }
        return base(command, t);
      },
    });
    await w.run();
    expect(w.io.updates('k3s')).toContain('SSH connection lost (Socket closed), reconnecting');
    expect(w.remoteHost.remotes).toHaveLength(2);
    expect(w.remoteHost.targets.at(-1)?.expectedFingerprints).toEqual(CONSOLE_FPS);
    expect(w.remoteHost.openConnections()).toBe(0);
  });

  it('reports failed remote commands as observations', async () => {
    let calls = 0;
    const w = setup({
      exec: (base) => (command, t) =>
        command.includes('get pods') && ++calls <= 2
          ? { code: 1, stdout: '', stderr: 'The connection to the server 127.0.0.1:6443 was refused' }
          : base(command, t),
    });
    await w.run();
    expect(w.io.updates('Pods')).toContain('kubectl get pods failed: The connection to the server 127.0.0.1:6443 was refused');
  });

  it('retries a refused key while cloud-init may still be installing it', async () => {
    const authFailed = () => new CredentialsError('The instance refused the SSH key', { code: 'ssh-auth-failed' });
    const w = setup({ onConnect: (attempt) => (attempt <= 3 ? authFailed() : 'ok') });
    await w.run();
    expect(w.io.updates('SSH')[0]).toMatch(/^SSH: key refused for now/);
  });

  it('gives up on a key that stays refused, with the credentials error', async () => {
    const authFailed = new CredentialsError('The instance refused the SSH key', { code: 'ssh-auth-failed' });
    const w = setup({ onConnect: () => authFailed });
    await expect(w.run()).rejects.toBe(authFailed);
    expect(authFailed.exitCode).toBe(ExitCode.credentials);
    // Two minutes of grace, not the SSH stage's five.
    expect(w.clock.elapsed()).toBeLessThan(60 * S + 2 * MIN + 10 * S);
  });
});

describe('waitUntilReady: interruption', () => {
  it('stops promptly on abort, closes SSH and throws InterruptedError', async () => {
    const controller = new AbortController();
    const w = setup({
      signal: controller.signal,
      exec: (base) => (command, t) => {
        if (t >= 170 * S) controller.abort();
        return base(command, t);
      },
    });
    const err = await expectRejection(w.run());
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err).toMatchObject({ exitCode: ExitCode.interrupted, details: { stage: 'k3s' } });
    expect((err as InterruptedError).remediation).toContain(RESUME);
    expect(w.clock.elapsed()).toBeLessThanOrEqual(170 * S);
    expect(w.remoteHost.openConnections()).toBe(0);
    expect(w.io.outcomes('fail')).toEqual([{ title: 'k3s active and node Ready', message: 'interrupted' }]);
  });

  it('does not wait for a hanging SSH handshake once aborted', async () => {
    const controller = new AbortController();
    const w = setup({
      signal: controller.signal,
      onConnect: () => {
        setTimeout(() => controller.abort(), 10);
        return 'hang';
      },
    });
    const started = Date.now();
    const err = await expectRejection(w.run());
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err).toMatchObject({ details: { stage: 'ssh' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const w = setup({ signal: controller.signal });
    await expect(w.run()).rejects.toBeInstanceOf(InterruptedError);
    expect(w.cloud.calls).toEqual([]);
  });
});
