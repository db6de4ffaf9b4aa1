// Holding a deployment for a changing operation: the local lock (one machine), and for the
// operations that must never overlap from anywhere (upgrade, rollback, prune, destroy) a marker on
// the deployment's instances that another laptop or a CI runner sees too.
//
// The marker is one tag per holder, `sourcegraph-launch:lock-<id>`, whose value says the operation,
// who runs it and until when it is live. The running process extends that expiry while it works,
// so a marker left by a process that died expires by itself. Tags cannot be compare-and-set, so
// every holder writes its own key and then reads all of them: of the live ones the earliest start
// wins, and a later one withdraws. `--force-unlock` clears live markers, naming each.
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Cloud, DeploymentResources, InstanceInfo } from '../cloud/cloud.js';
import { LaunchError, ExitCode } from '../core/errors.js';
import type { Deps } from './deps.js';
import type { Target } from './target.js';

export const TAG_LOCK_PREFIX = 'sourcegraph-launch:lock-';
/** How long a marker stays live without being extended. */
export const MARKER_TTL_MS = 10 * 60_000;
/** How often the running process extends its marker. */
export const MARKER_HEARTBEAT_MS = 60_000;

export type LockedOperation = 'launch' | 'upgrade' | 'rollback' | 'prune' | 'destroy' | 'backup' | 'restore';

export interface OperationMarker {
  key: string;
  resourceId: string;
  operation: string;
  owner: string;
  since: string;
  until: string;
}

const MARKER_RE = /^(\S+) by (\S+) since (\S+) until (\S+)$/;

export function markerValue(m: Pick<OperationMarker, 'operation' | 'owner' | 'since' | 'until'>): string {
  return `${m.operation} by ${m.owner} since ${m.since} until ${m.until}`;
}

/** Every marker on the deployment's instances, live or not. */
export function markersOf(d: DeploymentResources): OperationMarker[] {
  const instances: InstanceInfo[] = [...(d.instance ? [d.instance] : []), ...d.otherInstances];
  const out: OperationMarker[] = [];
  for (const i of instances) {
    for (const [key, value] of Object.entries(i.tags)) {
      if (!key.startsWith(TAG_LOCK_PREFIX)) continue;
      const m = MARKER_RE.exec(value);
      if (m) out.push({ key, resourceId: i.id, operation: m[1]!, owner: m[2]!, since: m[3]!, until: m[4]! });
    }
  }
  return out;
}

export function describeMarker(m: OperationMarker): string {
  return `${m.operation} by ${m.owner} since ${m.since} (live until ${m.until}, tag ${m.key} on ${m.resourceId})`;
}

export interface HoldOptions {
  /** Place and honour the cloud-side marker (upgrade, rollback, prune, destroy). */
  marker: boolean;
  /** Clear live markers of others first, naming each. */
  forceUnlock?: boolean;
  /** The deployment as already found, to save a lookup. */
  found?: DeploymentResources;
  ttlMs?: number;
  heartbeatMs?: number;
}

export interface Hold {
  /** Releases the local lock and removes this process's marker. */
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The marker's owner is `user@host:pid` on this host, and that process no longer exists. */
function diedHere(m: OperationMarker): boolean {
  const match = /@([^@:]+):(\d+)$/.exec(m.owner);
  if (!match || match[1] !== hostname().replace(/\s+/g, '_')) return false;
  const pid = Number(match[2]);
  return pid !== process.pid && !isAlive(pid);
}

function ownerName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the host and pid still identify the holder.
  }
  return `${user}@${hostname()}:${process.pid}`.replace(/\s+/g, '_');
}

function inProgressError(target: Target, operation: string, live: OperationMarker[]): LaunchError {
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
export async function holdDeployment(deps: Deps, cloud: Cloud, target: Target, operation: LockedOperation, opts: HoldOptions): Promise<Hold> {
  const releaseLocal = deps.state.lock(target.cloud, target.region, target.name);
  if (!opts.marker) {
    return { release: async () => releaseLocal() };
  }
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
        await cloud.untagResources([m.resourceId], [m.key]);
        deps.io.warn(`--force-unlock cleared the marker of ${describeMarker(m)}.`);
      }
      live = [];
    } else if (live.length) {
      throw inProgressError(target, operation, live);
    }
    // Expired markers are leftovers of a process that died: tidy them up.
    const expired = markersOf(found).filter((m) => !isLive(m));
    for (const m of expired) await cloud.untagResources([m.resourceId], [m.key]);

    const home = found.instance;
    if (!home) return { release: async () => releaseLocal() };
    const key = `${TAG_LOCK_PREFIX}${randomBytes(4).toString('hex')}`;
    const mine = { operation, owner: ownerName(), since: new Date(now()).toISOString() };
    const stamp = () => ({ [key]: markerValue({ ...mine, until: new Date(now() + ttl).toISOString() }) });
    await cloud.tagResources([home.id], stamp());

    // Someone else may have written theirs at the same moment: the earliest start wins.
    found = await cloud.findDeployment(target.name);
    const rivals = markersOf(found).filter((m) => m.key !== key && isLive(m) && (m.since < mine.since || (m.since === mine.since && m.key < key)));
    if (rivals.length) {
      await cloud.untagResources([home.id], [key]);
      throw inProgressError(target, operation, rivals);
    }

    const timer = setInterval(() => {
      cloud.tagResources([home.id], stamp()).catch((e: unknown) => deps.io.warn(`Could not extend the in-progress marker: ${(e as Error).message.split('\n')[0]}`));
    }, opts.heartbeatMs ?? MARKER_HEARTBEAT_MS);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        try {
          // destroy terminated the instance: its tags went with it.
          if ((await cloud.describeInstance(home.id))?.state !== 'terminated') await cloud.untagResources([home.id], [key]);
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
