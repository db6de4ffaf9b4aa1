// The staged readiness wait: after launch (or upgrade) the CLI waits until Sourcegraph really
// serves the requested version, one observable stage at a time, so a timeout can say WHERE it
// stuck and what it last saw instead of a bare "timed out":
//   instance running → status checks → SSH → k3s + node Ready → pods settled → /healthz version (held)
// Every stage polls with its own timeout, all bounded by the whole wait's --timeout. Time comes
// from deps.clock so tests run 90 s holds in milliseconds.
// Cadence: calls to the cloud API are at least pollMs (5 s) apart across all stages, so a long wait
// stays far below the API's rate limits; /healthz is the user's own server and cheap to ask, so the
// last stage probes it every second and reports readiness within about a second of it.
import type { Cloud, Instance } from '../cloud/port.js';
import { CloudError, ExitCode, InterruptedError, LaunchError, UsageError, WaitTimeoutError } from '../core/errors.js';
import { normalizeVersion, versionFromHealthBody } from '../core/versions.js';
import { parseConsoleHostKeyFingerprints } from '../remote/host-keys.js';
import { readPinRecord } from '../remote/known-hosts.js';
import type { ConnectRemote, ExecResult, Remote, RemoteTarget } from '../remote/remote.js';
import type { Io } from '../ui/io.js';
import { abortError, isAbortError, type Clock } from './clock.js';
import { describeTrust, HOST_KEY_WAIT_MS } from './host-key-wait.js';
import { HttpProbeError, httpGetVia, type httpGet } from './http-probe.js';

export type WaitStageName = 'instance-running' | 'status-checks' | 'ssh' | 'k3s' | 'pods' | 'http-version';

export const WAIT_STAGES: readonly WaitStageName[] = [
  'instance-running',
  'status-checks',
  'ssh',
  'k3s',
  'pods',
  'http-version',
];

/** The only Cloud calls the wait makes; any Cloud satisfies it. */
export type WaitCloud = Pick<Cloud, 'describeInstance' | 'instanceHealth' | 'consoleOutput'>;

export interface WaitDeps {
  cloud: WaitCloud;
  connectRemote: ConnectRemote;
  io: Io;
  clock: Clock;
  httpGet: typeof httpGet;
  signal?: AbortSignal;
  /** Reads cloud-init's host key fingerprints from the console output; injectable for tests. */
  parseHostKeyFingerprints?: (consoleOutput: string) => string[];
}

export interface WaitTarget {
  instanceId: string;
  version: string;
  deploymentName: string;
  /** host to reach (Elastic IP or public IP), may carry a port ("127.0.0.1:8080"); when undefined, the instance's public (else private) IP once it runs */
  host?: string;
  /**
   * The site's own HTTPS URL of /healthz (https://<domain>/healthz), asked instead of
   * http://<host>/healthz with the certificate verified: behind tls --tls managed's load balancer
   * the instance's 80/443 answer only the balancer, so the last stage judges the site the way its
   * users reach it (through the balancer, its certificate). The earlier stages still use `host`.
   */
  healthUrl?: string;
  /** With healthUrl: the load balancer's own name, dialled while the domain does not resolve (its record not there yet); the TLS name and Host stay the domain's. */
  healthVia?: string;
  /** undefined = skip the ssh, k3s and pods stages (--ssh-cidr none) */
  ssh?: { user: string; privateKeyPath: string; knownHostsPath: string; port?: number };
  /** --timeout: bounds the whole wait */
  totalTimeoutMs: number;
  /** defaults: running 5m, status 10m, ssh 5m, k3s 10m, pods 20m, http 20m (all capped by total) */
  stageTimeoutsMs?: Partial<Record<WaitStageName, number>>;
  /** default 90_000: /healthz must keep reporting the version this long */
  holdMs?: number;
  /** default 5_000: between polls, and the least time between two cloud API calls */
  pollMs?: number;
  /** printed in the timeout remediation */
  resumeCommand: string;
  /** --no-wait */
  stopAfter?: 'instance-running';
  /** How long the SSH stage waits for the console's host key fingerprints before trusting on first use (default 3 min). */
  hostKeyWaitMs?: number;
  /** How to reboot an impaired instance, in the cloud's words (a CLI command). */
  rebootHint?: string;
}

export interface ReadyReport {
  url: string;
  version: string;
  needsSiteInit: boolean | undefined;
  stages: { name: WaitStageName; ms: number; skipped?: boolean }[];
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export const DEFAULT_STAGE_TIMEOUTS_MS: Readonly<Record<WaitStageName, number>> = {
  'instance-running': 5 * MINUTE,
  'status-checks': 10 * MINUTE,
  ssh: 5 * MINUTE,
  k3s: 10 * MINUTE,
  pods: 20 * MINUTE,
  'http-version': 20 * MINUTE,
};
export const DEFAULT_HOLD_MS = 90 * SECOND;
export const DEFAULT_POLL_MS = 5 * SECOND;
/** Between /healthz probes (never longer than pollMs). */
export const HTTP_POLL_MS = SECOND;

/** Written by our own provisioned images on every boot (provision/); absent on published images. */
export const BOOT_STATUS_PATH = '/var/lib/sourcegraph-launch/status.json';
export const BOOT_LOG_PATH = '/var/log/reboot.sh.log';
/**
 * k3s lives in /usr/local/bin, which Amazon Linux's sudo secure_path leaves out: run it with that
 * directory added to the login user's PATH.
 */
export const K3S_KUBECTL = 'sudo env "PATH=/usr/local/bin:$PATH" k3s kubectl';

// Real-time bounds for single operations. Deadlines are measured with deps.clock; these only keep
// one hung request from eating a whole stage.
const SSH_CONNECT_TIMEOUT_MS = 20 * SECOND;
const REMOTE_EXEC_TIMEOUT_MS = 30 * SECOND;
const HTTP_PROBE_TIMEOUT_MS = 10 * SECOND;
const DIAGNOSIS_TIMEOUT_MS = 10 * SECOND;
const CONSOLE_TAIL_LINES = 20;
const BOOT_LOG_TAIL_LINES = 40;
// AWS reports "impaired" briefly while an instance settles; more than this many polls in a row is real.
const MAX_IMPAIRED_POLLS = 2;
// The sign-in page embeds the whole client context, far bigger than a probe's default cap.
const SIGN_IN_MAX_BYTES = 4 * 1024 * 1024;

/** Errors that end the wait at once instead of becoming the stage's observation. */
const FATAL_CODES = new Set([
  'host-key-mismatch',
  'known-hosts-write-failed',
  'instance-terminated',
  'instance-impaired',
  'provisioning-failed',
]);
/** The SSH adapter's code for a refused key: a fresh instance refuses it until cloud-init installed it. */
const SSH_AUTH_FAILED = 'ssh-auth-failed';
// How long a refused key counts as "not installed yet" before it is reported as the wrong key.
const SSH_AUTH_GRACE_MS = 2 * MINUTE;

type PollResult<T> =
  | { done: true; value: T; summary?: string }
  | { done: false; observation: string };

interface BootStatus {
  stage?: string;
  targetVersion?: string;
  decision?: string;
  startedAt?: string;
  finishedAt?: string;
  lastError?: string;
}

export async function waitUntilReady(deps: WaitDeps, target: WaitTarget): Promise<ReadyReport> {
  const wait = new ReadinessWait(deps, target);
  try {
    return await wait.run();
  } finally {
    await wait.closeRemote();
  }
}

/** Lines a command prints once the wait succeeded. */
export function describeReady(report: ReadyReport): string[] {
  const lines = [`Sourcegraph ${report.version} is ready at ${report.url}`];
  if (report.needsSiteInit === true) {
    lines.push(`Create the first site admin at ${report.url}/site-admin/init`);
  } else if (report.needsSiteInit === undefined) {
    lines.push(`Could not tell whether a site admin exists; open ${report.url} to check`);
  }
  return lines;
}

class ReadinessWait {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly totalDeadline: number;
  private readonly pollMs: number;
  private readonly httpPollMs: number;
  /** When the last cloud API call started: the next one waits until pollMs after it. */
  private lastCloudCallAt: number | undefined;
  private readonly holdMs: number;
  private readonly wantVersion: string;
  private readonly stages: ReadyReport['stages'] = [];
  private host: string | undefined;
  private remote: Remote | undefined;
  private expectedFingerprints: string[] = [];
  private lastObservation: string | undefined;
  private impairedPolls = 0;
  /** When /healthz started reporting the wanted version without a failure since. */
  private holdStartedAt: number | undefined;
  /** First of an unbroken run of refused SSH keys. */
  private authRefusedSince: number | undefined;
  /** When the SSH stage began waiting for console fingerprints. */
  private hostKeyWaitStart: number | undefined;
  /** How the host key will be trusted when the console lists none. */
  private trust: 'pinned' | 'first-use' | undefined;

  constructor(
    private readonly deps: WaitDeps,
    private readonly target: WaitTarget,
  ) {
    if (!(target.totalTimeoutMs > 0)) throw new UsageError('--timeout must be a positive number of minutes');
    this.clock = deps.clock;
    this.startedAt = deps.clock.now();
    this.totalDeadline = this.startedAt + target.totalTimeoutMs;
    this.pollMs = target.pollMs ?? DEFAULT_POLL_MS;
    this.httpPollMs = Math.min(HTTP_POLL_MS, this.pollMs);
    this.holdMs = target.holdMs ?? DEFAULT_HOLD_MS;
    this.wantVersion = normalizeVersion(target.version) ?? target.version;
    this.host = target.host;
  }

  async run(): Promise<ReadyReport> {
    const instanceId = this.target.instanceId;
    await this.runStage('instance-running', `Instance ${instanceId} running`, () => this.pollInstanceRunning());
    if (this.target.stopAfter === 'instance-running') return this.report(undefined);

    await this.runStage('status-checks', 'Cloud status checks passing', () => this.pollStatusChecks());

    if (this.target.ssh) {
      const ssh = this.target.ssh;
      await this.runStage('ssh', `SSH reachable as ${ssh.user}@${this.sshHost()}`, () => this.pollSsh());
      await this.runStage('k3s', 'k3s active and node Ready', () => this.pollK3s());
      await this.runStage('pods', 'Pods settled', () => this.pollPods());
    } else {
      for (const [name, title] of [
        ['ssh', 'SSH reachable'],
        ['k3s', 'k3s active and node Ready'],
        ['pods', 'Pods settled'],
      ] as const) {
        this.deps.io.progress(title).succeed('skipped (no SSH access, checking HTTP only)');
        this.stages.push({ name, ms: 0, skipped: true });
      }
    }

    const holdText = this.holdMs > 0 ? ` for ${formatDuration(this.holdMs)}` : '';
    const needsSiteInit = await this.runStage(
      'http-version',
      `${this.healthzUrl()} reports ${this.wantVersion}${holdText}${this.target.healthUrl ? ' (certificate verified)' : ''}`,
      () => this.pollHttpVersion(),
    );
    return this.report(needsSiteInit);
  }

  private report(needsSiteInit: boolean | undefined): ReadyReport {
    return {
      url: this.target.healthUrl ? siteOf(this.target.healthUrl) : this.host === undefined ? '' : this.url(),
      version: this.wantVersion,
      needsSiteInit,
      stages: this.stages,
    };
  }

  // ---- the stage loop ---------------------------------------------------------------------

  private async runStage<T>(name: WaitStageName, title: string, poll: () => Promise<PollResult<T>>): Promise<T> {
    const intervalMs = name === 'http-version' ? this.httpPollMs : this.pollMs;
    const progress = this.deps.io.progress(title);
    const stageStart = this.clock.now();
    const stageTimeoutMs = this.target.stageTimeoutsMs?.[name] ?? DEFAULT_STAGE_TIMEOUTS_MS[name];
    const stageDeadline = Math.min(stageStart + stageTimeoutMs, this.totalDeadline);
    let observation: string | undefined;
    this.lastObservation = undefined;
    try {
      for (;;) {
        this.throwIfAborted();
        let result: PollResult<T>;
        try {
          result = await poll();
        } catch (e) {
          if (isFatal(e)) throw e;
          // A cloud call that failed once (throttling, a network blip) is something we saw, not the end.
          result = { done: false, observation: errorText(e) };
        }
        if (result.done) {
          const ms = this.clock.now() - stageStart;
          this.stages.push({ name, ms });
          // The Io prints the title and the elapsed time itself: pass only what the stage found.
          progress.succeed(result.summary);
          return result.value;
        }
        if (result.observation !== observation) {
          observation = result.observation;
          this.lastObservation = observation;
          progress.update(observation);
        }
        const left = stageDeadline - this.clock.now();
        if (left <= 0) {
          throw await this.timeoutError(name, title, stageStart, stageTimeoutMs, stageDeadline === this.totalDeadline);
        }
        await this.clock.sleep(Math.min(intervalMs, left), this.deps.signal);
      }
    } catch (e) {
      if (isAbortError(e) || e instanceof InterruptedError || this.deps.signal?.aborted) {
        progress.fail('interrupted');
        throw new InterruptedError(`Interrupted while waiting for ${title} (stage ${name})`, {
          remediation: `The instance is still there. Resume the wait with \`${this.target.resumeCommand}\`.`,
          details: { stage: name, lastObservation: observation },
        });
      }
      progress.fail(firstLine(e instanceof Error ? e.message : String(e)));
      throw e;
    }
  }

  private throwIfAborted(): void {
    if (this.deps.signal?.aborted) throw abortError(this.deps.signal);
  }

  /** Settles with `promise`, or rejects with an AbortError the moment the wait is aborted. */
  private guard<T>(promise: Promise<T>): Promise<T> {
    const signal = this.deps.signal;
    if (!signal) return promise;
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /**
   * Every polling cloud API call of the wait goes through here: it starts no sooner than pollMs
   * after the previous one, also across a stage change (the next stage's first poll would otherwise
   * follow the last one at once). The diagnosis of a failure, one call as the wait ends, is not paced.
   */
  private async cloudCall<T>(call: () => Promise<T>): Promise<T> {
    if (this.lastCloudCallAt !== undefined) {
      const wait = this.lastCloudCallAt + this.pollMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, this.deps.signal);
    }
    this.lastCloudCallAt = this.clock.now();
    return call();
  }

  // ---- stages -----------------------------------------------------------------------------

  private async pollInstanceRunning(): Promise<PollResult<void>> {
    const id = this.target.instanceId;
    const instance = await this.cloudCall(() => this.guard(this.deps.cloud.describeInstance(id)));
    if (!instance) return { done: false, observation: `instance ${id} not visible yet` };
    if (instance.state === 'terminated' || instance.state === 'terminating') {
      throw await this.instanceTerminatedError(instance);
    }
    if (instance.state !== 'running') return { done: false, observation: `instance ${instance.state}` };
    if (this.host === undefined) {
      // EC2 assigns the public address before the instance is running; a running instance without
      // one is in a private subnet, reached over a VPN or peering by its private address.
      this.host = instance.publicIp ?? instance.privateIp;
      if (this.host === undefined && this.target.stopAfter !== 'instance-running') {
        return { done: false, observation: 'instance running, no IP address yet' };
      }
    }
    return { done: true, value: undefined, summary: this.host ?? 'no public address' };
  }

  private async instanceTerminatedError(instance: Instance): Promise<CloudError> {
    const consoleTail = await this.consoleTail();
    return new CloudError(
      'instance-terminated',
      `Instance ${instance.id} is ${instance.state} before Sourcegraph came up.` +
        (consoleTail ? `\nConsole output (last lines):\n${indent(consoleTail)}` : ''),
      {
        remediation:
          'Look at the console output for the cause (capacity, the image, a failed boot), then run the command again to launch a new instance.',
        details: { instanceId: instance.id, state: instance.state, bootLogTail: consoleTail },
      },
    );
  }

  private async pollStatusChecks(): Promise<PollResult<void>> {
    const checks = await this.cloudCall(() => this.guard(this.deps.cloud.instanceHealth(this.target.instanceId)));
    const detail = checks.detail ? ` (${checks.detail})` : '';
    // Emulators have no status checks at all.
    if (checks.overall === 'ok' || checks.overall === 'not-applicable') {
      return { done: true, value: undefined, summary: checks.overall };
    }
    if (checks.overall === 'impaired') {
      this.impairedPolls += 1;
      if (this.impairedPolls > MAX_IMPAIRED_POLLS) {
        const consoleTail = await this.consoleTail();
        throw new CloudError(
          'instance-impaired',
          `Instance ${this.target.instanceId} failed its status checks${detail}: it is impaired.` +
            (consoleTail ? `\nConsole output (last lines):\n${indent(consoleTail)}` : ''),
          {
            remediation:
              `Reboot the instance (${this.target.rebootHint ?? 'from the cloud console'}), ` +
              `then resume the wait with \`${this.target.resumeCommand}\`.`,
            details: { instanceId: this.target.instanceId, checks, bootLogTail: consoleTail },
          },
        );
      }
    } else {
      this.impairedPolls = 0;
    }
    return { done: false, observation: `status checks ${checks.overall}${detail}` };
  }

  private async pollSsh(): Promise<PollResult<void>> {
    await this.refreshExpectedFingerprints();
    if (!this.expectedFingerprints.length && this.trust === undefined) {
      // Never trust a key on first use while the console may still list it: wait for it, bounded.
      const ssh = this.target.ssh!;
      if (await readPinRecord(ssh.knownHostsPath, this.target.instanceId)) this.trust = 'pinned';
      else {
        const now = this.clock.now();
        this.hostKeyWaitStart ??= now;
        const waited = now - this.hostKeyWaitStart;
        if (waited < (this.target.hostKeyWaitMs ?? HOST_KEY_WAIT_MS)) {
          return { done: false, observation: `waiting for the instance console to list its SSH host key fingerprints (${formatDuration(waited)})` };
        }
        this.trust = 'first-use';
        this.deps.io.warn(
          `The console of ${this.target.instanceId} listed no SSH host key fingerprints within ${formatDuration(waited)}: ` +
            'trusting the key the instance presents now, on first use, and pinning it for every later connection.',
        );
      }
    }
    try {
      this.remote = await this.connect();
    } catch (e) {
      if (isFatal(e)) throw e;
      return { done: false, observation: `SSH: ${errorText(e)}` };
    }
    const how = describeTrust({ expected: this.expectedFingerprints, how: this.expectedFingerprints.length ? 'console' : (this.trust ?? 'first-use') }, this.hostKeyWaitStart === undefined ? 0 : this.clock.now() - this.hostKeyWaitStart);
    return { done: true, value: undefined, summary: `${this.remote.hostFingerprint}, ${how}` };
  }

  private async refreshExpectedFingerprints(): Promise<void> {
    // Once seen they are kept: the console only holds its last few KiB and cloud-init prints early.
    if (this.expectedFingerprints.length > 0) return;
    let consoleOutput = '';
    try {
      consoleOutput = await this.cloudCall(() => this.guard(this.deps.cloud.consoleOutput(this.target.instanceId)));
    } catch (e) {
      if (isFatal(e)) throw e;
      return;
    }
    const parse = this.deps.parseHostKeyFingerprints ?? parseConsoleHostKeyFingerprints;
    this.expectedFingerprints = parse(consoleOutput);
  }

  private async pollK3s(): Promise<PollResult<void>> {
    const active = await this.remoteExec('sudo systemctl is-active k3s');
    if (typeof active === 'string') return { done: false, observation: active };
    const boot = await this.readBootStatus();
    const withBoot = (text: string): string => (boot?.stage ? `${text} (boot: ${boot.stage})` : text);
    const state = active.stdout.trim() || firstLine(active.stderr) || `exit ${String(active.code)}`;
    if (state !== 'active') return { done: false, observation: withBoot(`k3s ${state}`) };

    const nodes = await this.remoteExec(`${K3S_KUBECTL} get nodes -o json`);
    if (typeof nodes === 'string') return { done: false, observation: nodes };
    if (nodes.code !== 0) {
      return { done: false, observation: withBoot(`k3s active, kubectl get nodes failed: ${commandError(nodes)}`) };
    }
    const summary = summarizeNodes(nodes.stdout);
    if (summary.ready.length > 0) {
      return { done: true, value: undefined, summary: `node ${summary.ready.join(', ')} Ready` };
    }
    return { done: false, observation: withBoot(summary.text) };
  }

  private async pollPods(): Promise<PollResult<void>> {
    const pods = await this.remoteExec(`${K3S_KUBECTL} get pods -A -o json`);
    if (typeof pods === 'string') return { done: false, observation: pods };
    const boot = await this.readBootStatus();
    if (pods.code !== 0) return { done: false, observation: `kubectl get pods failed: ${commandError(pods)}` };
    const summary = summarizePods(pods.stdout);
    // Our own images say when their boot script is done; until then a settled set of pods may be
    // only k3s's own, before the Sourcegraph release was installed.
    const bootRunning = boot !== undefined && !boot.finishedAt;
    if (summary.settled && !bootRunning) return { done: true, value: undefined, summary: summary.text };
    const bootText = boot?.stage ? `; boot: ${boot.stage}${bootRunning ? '' : ' (finished)'}` : '';
    return { done: false, observation: `${summary.text}${bootText}` };
  }

  private async pollHttpVersion(): Promise<PollResult<boolean | undefined>> {
    const problem = await this.probeHealthz();
    const now = this.clock.now();
    if (problem === undefined) {
      this.holdStartedAt ??= now;
      const held = now - this.holdStartedAt;
      if (held >= this.holdMs) {
        const needsSiteInit = await this.probeNeedsSiteInit();
        const admin =
          needsSiteInit === true ? 'site admin not created yet' : needsSiteInit === false ? 'site admin exists' : 'site admin state unknown';
        return { done: true, value: needsSiteInit, summary: `serving ${this.wantVersion}, ${admin}` };
      }
      return {
        done: false,
        observation: `serving ${this.wantVersion}, holding ${formatDuration(held)} of ${formatDuration(this.holdMs)}`,
      };
    }
    if (this.holdStartedAt !== undefined) {
      const held = now - this.holdStartedAt;
      this.holdStartedAt = undefined;
      return { done: false, observation: `${problem}; hold reset after ${formatDuration(held)}` };
    }
    return { done: false, observation: problem };
  }

  /** undefined when /healthz answers 200 with the wanted version, else what it did instead. */
  private async probeHealthz(): Promise<string | undefined> {
    let res: { status: number; body: string };
    try {
      res = await httpGetVia(this.deps.httpGet, this.healthzUrl(), {
        timeoutMs: HTTP_PROBE_TIMEOUT_MS,
        signal: this.deps.signal,
        ...(this.target.healthUrl ? { verifyCertificate: true } : {}),
      }, this.target.healthUrl ? this.target.healthVia : undefined);
    } catch (e) {
      if (isAbortError(e)) throw e;
      return `GET ${this.target.healthUrl ?? '/healthz'}: ${e instanceof HttpProbeError ? e.reason : errorText(e)}`;
    }
    if (res.status === 200) {
      const served = versionFromHealthBody(res.body);
      if (served === this.wantVersion) return undefined;
      if (served) return `serving ${served}, waiting for ${this.wantVersion}`;
      return `HTTP 200 without a version: ${JSON.stringify(res.body.trim().slice(0, 60))}`;
    }
    if (res.status === 404) return 'HTTP 404 (ingress up, Sourcegraph not routed yet)';
    return `HTTP ${res.status}`;
  }

  private async probeNeedsSiteInit(): Promise<boolean | undefined> {
    try {
      const res = await httpGetVia(this.deps.httpGet, `${this.target.healthUrl ? siteOf(this.target.healthUrl) : this.url()}/sign-in`, {
        timeoutMs: HTTP_PROBE_TIMEOUT_MS,
        signal: this.deps.signal,
        ...(this.target.healthUrl ? { verifyCertificate: true } : {}),
        maxBodyBytes: SIGN_IN_MAX_BYTES,
      }, this.target.healthUrl ? this.target.healthVia : undefined);
      return parseNeedsSiteInit(res.body);
    } catch (e) {
      if (isAbortError(e)) throw e;
      return undefined;
    }
  }

  // ---- SSH --------------------------------------------------------------------------------

  private sshHost(): string {
    if (this.host === undefined) throw new Error('no host to reach yet');
    return splitHostPort(this.host).hostname;
  }

  private url(): string {
    if (this.host === undefined) throw new Error('no host to reach yet');
    return `http://${hostForUrl(this.host)}`;
  }

  /** What the last stage asks: the site's HTTPS URL when given, else the address's. */
  private healthzUrl(): string {
    return this.target.healthUrl ?? `${this.url()}/healthz`;
  }

  private remoteTarget(): RemoteTarget {
    const ssh = this.target.ssh;
    if (!ssh) throw new Error('SSH stages run only with target.ssh');
    return {
      host: this.sshHost(),
      port: ssh.port,
      user: ssh.user,
      privateKeyPath: ssh.privateKeyPath,
      expectedFingerprints: this.expectedFingerprints,
      knownHostsPath: ssh.knownHostsPath,
      pinKey: this.target.instanceId,
      connectTimeoutMs: SSH_CONNECT_TIMEOUT_MS,
    };
  }

  private async connect(): Promise<Remote> {
    const pending = this.deps.connectRemote(this.remoteTarget());
    try {
      const remote = await this.guard(pending);
      this.authRefusedSince = undefined;
      return remote;
    } catch (e) {
      // Aborted mid-handshake: a connection that completes later must not be left open.
      if (isAbortError(e)) pending.then((r) => r.close()).catch(() => undefined);
      if (e instanceof LaunchError && e.code === SSH_AUTH_FAILED) {
        const now = this.clock.now();
        this.authRefusedSince ??= now;
        if (now - this.authRefusedSince < SSH_AUTH_GRACE_MS) {
          throw new Error(`key refused for now (cloud-init may not have installed it yet): ${errorText(e)}`, { cause: e });
        }
      } else {
        this.authRefusedSince = undefined;
      }
      throw e;
    }
  }

  /** The command's result, or an observation when SSH itself failed (then it reconnects next time). */
  private async remoteExec(command: string): Promise<ExecResult | string> {
    if (!this.remote) {
      try {
        this.remote = await this.connect();
      } catch (e) {
        if (isFatal(e)) throw e;
        return `SSH reconnect failed: ${errorText(e)}`;
      }
    }
    try {
      return await this.guard(
        withRealTimeout(this.remote.exec(command, { timeoutMs: REMOTE_EXEC_TIMEOUT_MS }), REMOTE_EXEC_TIMEOUT_MS + 5 * SECOND),
      );
    } catch (e) {
      if (isAbortError(e)) throw e;
      await this.closeRemote();
      return `SSH connection lost (${errorText(e)}), reconnecting`;
    }
  }

  async closeRemote(): Promise<void> {
    const remote = this.remote;
    this.remote = undefined;
    if (!remote) return;
    try {
      await withRealTimeout(remote.close(), 5 * SECOND);
    } catch {
      // Closing is best effort: the wait's outcome is already decided.
    }
  }

  private async readBootStatus(): Promise<BootStatus | undefined> {
    const res = await this.remoteExec(`sudo cat ${BOOT_STATUS_PATH}`);
    if (typeof res === 'string' || res.code !== 0) return undefined;
    let status: BootStatus;
    try {
      const parsed: unknown = JSON.parse(res.stdout);
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      status = parsed as BootStatus;
    } catch {
      return undefined;
    }
    if (status.stage === 'failed') {
      const bootLog = await this.bootLogTail();
      const what = status.targetVersion ? ` installing ${status.targetVersion}` : '';
      throw new CloudError(
        'provisioning-failed',
        `The instance's boot script failed${what}: ${status.lastError ?? 'no error recorded'}` +
          (bootLog ? `\nBoot log (last lines):\n${indent(bootLog)}` : ''),
        {
          remediation:
            `Read the whole boot log with \`sudo less ${BOOT_LOG_PATH}\` on the instance; ` +
            `after fixing the cause, reboot the instance and resume with \`${this.target.resumeCommand}\`.`,
          details: { bootStatus: status, bootLogTail: bootLog },
        },
      );
    }
    return status;
  }

  // ---- diagnosis --------------------------------------------------------------------------

  private async consoleTail(): Promise<string> {
    try {
      // Not paced by cloudCall: the wait ends right after this one call, and its report should not wait.
      const output = await withRealTimeout(this.deps.cloud.consoleOutput(this.target.instanceId), DIAGNOSIS_TIMEOUT_MS);
      return lastLines(output, CONSOLE_TAIL_LINES);
    } catch (e) {
      return `(console output unavailable: ${errorText(e)})`;
    }
  }

  private async bootLogTail(): Promise<string> {
    if (!this.remote) return '';
    try {
      const res = await withRealTimeout(
        this.remote.exec(`sudo tail -n ${BOOT_LOG_TAIL_LINES} ${BOOT_LOG_PATH}`, { timeoutMs: DIAGNOSIS_TIMEOUT_MS }),
        DIAGNOSIS_TIMEOUT_MS + SECOND,
      );
      if (res.code !== 0) return `(${BOOT_LOG_PATH} unavailable: ${commandError(res)})`;
      return res.stdout.replace(/\s+$/, '');
    } catch (e) {
      return `(${BOOT_LOG_PATH} unavailable: ${errorText(e)})`;
    }
  }

  private async timeoutError(
    stage: WaitStageName,
    title: string,
    stageStart: number,
    stageTimeoutMs: number,
    totalRanOut: boolean,
  ): Promise<WaitTimeoutError> {
    const consoleTail = await this.consoleTail();
    const bootLog = await this.bootLogTail();
    const sections = [
      consoleTail && `console output (last ${CONSOLE_TAIL_LINES} lines):\n${indent(consoleTail)}`,
      bootLog && `${BOOT_LOG_PATH} (last ${BOOT_LOG_TAIL_LINES} lines):\n${indent(bootLog)}`,
    ].filter(Boolean);
    const bootLogTail = sections.join('\n');

    const why = totalRanOut
      ? `the whole wait's timeout of ${formatDuration(this.target.totalTimeoutMs)} ran out`
      : `${stage} gives up after ${formatDuration(stageTimeoutMs)}`;
    const message =
      `Timed out waiting for ${title} (stage ${stage}, ${formatDuration(this.clock.now() - stageStart)}): ${why}.\n` +
      `Last observation: ${this.lastObservation ?? 'none'}` +
      (bootLogTail ? `\nBoot log tail:\n${indent(bootLogTail)}` : '');
    const hint = stage === 'http-version' && this.target.healthUrl
      ? `${this.target.healthUrl} is asked through the load balancer: the domain must resolve to it, and it forwards only once its health checks of the instance pass (\`status\` shows the load balancer).`
      : STAGE_HINTS[stage];
    return new WaitTimeoutError(stage, message, {
      remediation:
        `The instance is still there. Resume the wait with \`${this.target.resumeCommand}\` ` +
        `(add --timeout MINUTES for longer), or see what it is doing with \`sourcegraph-launch status ${this.target.deploymentName}\`.` +
        (hint ? ` ${hint}` : ''),
      details: {
        lastObservation: this.lastObservation,
        bootLogTail,
        timeoutMs: totalRanOut ? this.target.totalTimeoutMs : stageTimeoutMs,
        timedOut: totalRanOut ? 'total' : 'stage',
        elapsedMs: this.clock.now() - this.startedAt,
      },
    });
  }
}

const STAGE_HINTS: Partial<Record<WaitStageName, string>> = {
  'status-checks': 'If the checks stay impaired, reboot the instance.',
  ssh: 'Check that your address is inside --ssh-cidr and that the key matches the instance key pair.',
  'http-version': "Sourcegraph's docs suggest rebooting the instance if it is not up after 10 minutes.",
};

// ---- helpers (the pure parsers are exported for tests) ------------------------------------

function isFatal(e: unknown): boolean {
  if (isAbortError(e)) return true;
  if (!(e instanceof LaunchError)) return false;
  // Bad input, credentials or permissions, interruptions: polling again cannot fix them.
  return e.exitCode !== ExitCode.failed || FATAL_CODES.has(e.code);
}

function errorText(e: unknown): string {
  return firstLine(e instanceof Error ? e.message : String(e)) || 'unknown error';
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function commandError(res: ExecResult): string {
  return firstLine(res.stderr) || firstLine(res.stdout) || `exit ${res.code === null ? res.signal ?? 'unknown' : res.code}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function lastLines(text: string, n: number): string {
  const lines = text.replace(/\r\n/g, '\n').replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

function withRealTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${formatDuration(ms)}`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** "45s", "4m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** "1.2.3.4:8080" → {hostname "1.2.3.4", port 8080}; "[::1]:80" and bare IPv6 work too. */
export function splitHostPort(host: string): { hostname: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) return { hostname: bracketed[1] ?? host, port: bracketed[2] ? Number(bracketed[2]) : undefined };
  const withPort = /^([^:]+):(\d+)$/.exec(host);
  if (withPort) return { hostname: withPort[1] ?? host, port: Number(withPort[2]) };
  return { hostname: host };
}

/** "https://sg.example.com/healthz" → "https://sg.example.com". */
function siteOf(healthUrl: string): string {
  return healthUrl.replace(/\/healthz$/, '');
}

function hostForUrl(host: string): string {
  // A bare IPv6 address needs brackets in a URL; anything with one colon at most is host[:port].
  return host.split(':').length > 2 && !host.startsWith('[') ? `[${host}]` : host;
}

export function parseNeedsSiteInit(body: string): boolean | undefined {
  const m = /"needsSiteInit"\s*:\s*(true|false)/.exec(body);
  return m ? m[1] === 'true' : undefined;
}

interface NodeJson {
  metadata?: { name?: string };
  status?: { conditions?: { type?: string; status?: string }[] };
}

export function summarizeNodes(json: string): { ready: string[]; text: string } {
  let items: NodeJson[];
  try {
    items = ((JSON.parse(json) as { items?: NodeJson[] }).items ?? []).filter(Boolean);
  } catch {
    return { ready: [], text: 'k3s active, node list unreadable' };
  }
  if (items.length === 0) return { ready: [], text: 'k3s active, no node registered yet' };
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const node of items) {
    const name = node.metadata?.name ?? '(unnamed)';
    const cond = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (cond?.status === 'True') ready.push(name);
    else notReady.push(`node ${name} ${cond?.status === 'Unknown' ? 'Unknown' : 'NotReady'}`);
  }
  return { ready, text: notReady.join(', ') };
}

interface ContainerStatusJson {
  ready?: boolean;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string }; running?: object };
}

interface PodJson {
  metadata?: { name?: string; namespace?: string };
  status?: {
    phase?: string;
    reason?: string;
    containerStatuses?: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
  };
}

/** Why a pod is not ready, in kubectl's words ("Pending", "CrashLoopBackOff", "Init:Error"); undefined = ready. */
export function podNotReadyReason(pod: PodJson): string | undefined {
  const status = pod.status ?? {};
  const phase = status.phase ?? 'Unknown';
  const containers = status.containerStatuses ?? [];
  if (phase === 'Succeeded') return undefined;
  if (phase === 'Running' && containers.length > 0 && containers.every((c) => c.ready === true)) return undefined;
  if (phase === 'Failed') return status.reason ?? 'Failed';
  for (const init of status.initContainerStatuses ?? []) {
    const reason = init.state?.waiting?.reason ?? init.state?.terminated?.reason;
    if (reason && reason !== 'PodInitializing' && reason !== 'Completed') return `Init:${reason}`;
  }
  for (const c of containers) {
    const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    if (reason) return reason;
  }
  return phase === 'Running' ? 'NotReady' : phase;
}

export function summarizePods(json: string): { settled: boolean; text: string } {
  let items: PodJson[];
  try {
    items = ((JSON.parse(json) as { items?: PodJson[] }).items ?? []).filter(Boolean);
  } catch {
    return { settled: false, text: 'pod list unreadable' };
  }
  if (items.length === 0) return { settled: false, text: 'no pods yet' };
  const reasons = new Map<string, number>();
  let ready = 0;
  for (const pod of items) {
    const reason = podNotReadyReason(pod);
    if (reason === undefined) ready += 1;
    else reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const breakdown = [...reasons.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
  return {
    settled: ready === items.length,
    text: `${ready}/${items.length} pods ready${breakdown ? ` (${breakdown})` : ''}`,
  };
}
