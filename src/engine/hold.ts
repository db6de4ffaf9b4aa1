// The one lock of every workflow that changes a deployment: the local lock (one machine), and for
// the operations that must never overlap from anywhere (upgrade, rollback, prune, destroy) a marker
// on the deployment's instances that another laptop or a CI runner sees too.
//
// The marker is one label per holder, `lock-<id>`, whose value says the operation, who runs it and
// until when it is live. The running process extends that expiry while it works, so a marker left
// by a process that died expires by itself. Labels cannot be compare-and-set, so every holder writes
// its own key and then reads all of them: of the live ones the earliest start wins, and a later one
// withdraws. `--force-unlock` clears live markers, naming each.
//
// The value fits every cloud's labels (GCE: 63 characters once encoded): operation, start and
// expiry in epoch seconds, the pid, and as much of user@host as fits.
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Cloud, Deployment, Instance } from '../cloud/port.js';
import { ExitCode, LaunchError } from '../core/errors.js';
import { encodeLabelValue, GCE_LABEL_MAX, type LabelKey } from '../core/labels.js';
import type { StateStore } from '../state/store.js';
import type { Io } from '../ui/io.js';
import type { Clock } from './clock.js';

/** How long a marker stays live without being extended. */
export const MARKER_TTL_MS = 10 * 60_000;
/** How often the running process extends its marker. */
export const MARKER_HEARTBEAT_MS = 60_000;

export type HeldOperation = 'launch' | 'upgrade' | 'rollback' | 'prune' | 'destroy' | 'backup' | 'restore' | 'disk-grow' | 'scale';

export interface OperationMarker {
  key: LabelKey;
  resourceId: string;
  operation: string;
  /** user@host (as much as the label holds). */
  owner: string;
  pid?: number;
  since: string;
  until: string;
}

export interface HoldTarget {
  cloud: string;
  region: string;
  name: string;
}

/**
 * `upgrade.1764230400123.1764231000.4242.alice@laptop`: the start in milliseconds (it orders rival
 * holders, so it must tell apart two that start in the same second), the expiry in seconds.
 */
export function markerValue(m: { operation: string; owner: string; pid: number; sinceMs: number; untilMs: number }): string {
  const head = `${m.operation}.${Math.floor(m.sinceMs)}.${Math.ceil(m.untilMs / 1000)}.${m.pid}.`;
  let owner = m.owner;
  while (owner.length && encodedLength(head + owner) > GCE_LABEL_MAX) owner = owner.slice(0, -1);
  return head + owner;
}

function encodedLength(value: string): number {
  try {
    return encodeLabelValue(value).length;
  } catch {
    return Infinity;
  }
}

const MARKER_RE = /^([a-z-]+)\.(\d+)\.(\d+)\.(\d+)\.(.*)$/;
/** The long form earlier versions wrote on AWS, still honoured. */
const LEGACY_RE = /^(\S+) by (\S+) since (\S+) until (\S+)$/;

export function parseMarker(key: LabelKey, resourceId: string, value: string): OperationMarker | undefined {
  const m = MARKER_RE.exec(value);
  if (m) {
    return {
      key,
      resourceId,
      operation: m[1]!,
      // Markers written before the start had milliseconds counted whole seconds (10 digits).
      since: new Date(m[2]!.length >= 13 ? Number(m[2]) : Number(m[2]) * 1000).toISOString(),
      until: new Date(Number(m[3]) * 1000).toISOString(),
      pid: Number(m[4]),
      owner: m[5]!,
    };
  }
  const legacy = LEGACY_RE.exec(value);
  if (!legacy) return undefined;
  const owner = /^(.*):(\d+)$/.exec(legacy[2]!);
  return { key, resourceId, operation: legacy[1]!, owner: owner ? owner[1]! : legacy[2]!, ...(owner ? { pid: Number(owner[2]) } : {}), since: legacy[3]!, until: legacy[4]! };
}

/** Every marker on the deployment's instances, live or not. */
export function markersOf(d: Deployment): OperationMarker[] {
  const instances: Instance[] = [...(d.instance ? [d.instance] : []), ...d.otherInstances];
  const out: OperationMarker[] = [];
  for (const i of instances) {
    for (const [key, value] of Object.entries(i.labels)) {
      if (!key.startsWith('lock-') || value === undefined) continue;
      const m = parseMarker(key as LabelKey, i.id, value);
      if (m) out.push(m);
    }
  }
  return out;
}

export function describeMarker(m: OperationMarker): string {
  return `${m.operation} by ${m.owner}${m.pid !== undefined ? `:${m.pid}` : ''} since ${m.since} (live until ${m.until}, marker ${m.key} on ${m.resourceId})`;
}

export interface HoldOptions {
  /** Place and honour the cloud-side marker (upgrade, rollback, prune, destroy). */
  marker: boolean;
  /** Clear live markers of others first, naming each. */
  forceUnlock?: boolean;
  /** The deployment as already found, to save a lookup. */
  found?: Deployment;
  ttlMs?: number;
  heartbeatMs?: number;
}

export interface Hold {
  /** Releases the local lock and removes this process's marker. */
  release(): Promise<void>;
}

export interface HoldDeps {
  state: StateStore;
  io: Io;
  clock: Clock;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the host and pid still identify the holder.
  }
  return `${user}@${hostname()}`.replace(/\s+/g, '_');
}

/** The marker's owner is this host (as far as the label holds it), and that process no longer exists. */
function diedHere(m: OperationMarker): boolean {
  if (m.pid === undefined || m.pid === process.pid) return false;
  const host = m.owner.slice(m.owner.indexOf('@') + 1);
  const here = hostname().replace(/\s+/g, '_');
  if (!host || !here.startsWith(host)) return false;
  return !isAlive(m.pid);
}

function inProgressError(target: HoldTarget, operation: string, live: OperationMarker[]): LaunchError {
  const first = live[0]!;
  return new LaunchError(
    'operation-in-progress',
    ExitCode.failed,
    `Another ${first.operation} of ${target.name} is in progress: ${describeMarker(first)}. ${operation} changes nothing while it runs.`,
    {
      remediation:
        `Wait until it finishes (the marker expires by itself ${Math.round(MARKER_TTL_MS / 60_000)} min after its process stops). ` +
        `If you know it is gone, run the same command with --force-unlock: it clears ${live.map((m) => m.key).join(', ')}.`,
      details: { markers: live },
    },
  );
}

/**
 * Takes the local lock and, with `marker`, the cloud-side marker. Throws (nothing held) when either
 * is held by someone else.
 */
export async function holdDeployment(deps: HoldDeps, cloud: Cloud, target: HoldTarget, operation: HeldOperation, opts: HoldOptions): Promise<Hold> {
  const releaseLocal = deps.state.lock(target.cloud, target.region, target.name);
  if (!opts.marker) return { release: async () => releaseLocal() };
  try {
    const ttl = opts.ttlMs ?? MARKER_TTL_MS;
    const now = () => deps.clock.now();
    // A marker this machine left behind with a process that is gone (a crash, a kill) is not live:
    // the same command re-run here resumes. One from another machine lives until it expires.
    const isLive = (m: OperationMarker) => Date.parse(m.until) > now() && !diedHere(m);
    let found = opts.found ?? (await cloud.findDeployment(target.name));
    let live = markersOf(found).filter(isLive);
    if (live.length && opts.forceUnlock) {
      for (const m of live) {
        await cloud.removeLabels([m.resourceId], [m.key]);
        deps.io.warn(`--force-unlock cleared the marker of ${describeMarker(m)}.`);
      }
      live = [];
    } else if (live.length) {
      throw inProgressError(target, operation, live);
    }
    // Expired markers are leftovers of a process that died: tidy them up.
    for (const m of markersOf(found).filter((x) => !isLive(x))) await cloud.removeLabels([m.resourceId], [m.key]);

    const home = found.instance;
    if (!home) return { release: async () => releaseLocal() };
    const key = `lock-${randomBytes(4).toString('hex')}` as LabelKey;
    const sinceMs = now();
    const mine = { operation, owner: ownerName(), pid: process.pid, sinceMs };
    const stamp = () => ({ [key]: markerValue({ ...mine, untilMs: now() + ttl }) });
    await cloud.setLabels([home.id], stamp());

    // Someone else may have written theirs at the same moment: the earliest start wins. Each holder
    // reads after its own write, so of two holders at least the later writer sees the other's
    // marker, and backs off because that one started earlier; the earlier one backs off only if
    // it sees an even earlier one. (The start is stamped just before the write, in milliseconds.)
    found = await cloud.findDeployment(target.name);
    const since = new Date(Math.floor(sinceMs)).toISOString();
    const rivals = markersOf(found).filter((m) => m.key !== key && isLive(m) && (m.since < since || (m.since === since && m.key < key)));
    if (rivals.length) {
      await cloud.removeLabels([home.id], [key]);
      throw inProgressError(target, operation, rivals);
    }

    const timer = setInterval(() => {
      cloud.setLabels([home.id], stamp()).catch((e: unknown) => deps.io.warn(`Could not extend the in-progress marker: ${(e as Error).message.split('\n')[0]}`));
    }, opts.heartbeatMs ?? MARKER_HEARTBEAT_MS);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        try {
          // destroy terminated the instance: its labels went with it.
          if ((await cloud.describeInstance(home.id))?.state !== 'terminated') await cloud.removeLabels([home.id], [key]);
        } catch (e) {
          deps.io.warn(`Could not remove the in-progress marker ${key} from ${home.id} (it expires by itself): ${(e as Error).message.split('\n')[0]}`);
        } finally {
          releaseLocal();
        }
      },
    };
  } catch (e) {
    releaseLocal();
    throw e;
  }
}
