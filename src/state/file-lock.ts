// An exclusive lock between processes on one machine, as a directory: mkdir is atomic, so exactly
// one process creates it. The owner record inside is written to a temporary file and renamed into
// place, so a reader sees either no record (a lock being created this very moment: held) or a whole
// one. A lock whose owner died is stale; it is removed only by the one process holding the short
// "breaker" lock, after re-reading the owner under it, so two processes never both break it and
// never remove a lock that was just taken by a live process.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  since: string;
}

export type LockResult = { ok: true; release: () => void } | { ok: false; owner?: LockOwner };

/** How long a lock without an owner record counts as "being created" rather than abandoned. */
const CREATING_GRACE_MS = 10_000;
/** A breaker lock older than this was left by a process that died while breaking a stale lock. */
const BREAKER_STALE_MS = 30_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(dir: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as LockOwner;
    return typeof parsed.pid === 'number' && typeof parsed.token === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function ageMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function isStale(dir: string, owner: LockOwner | undefined): boolean {
  if (!owner) {
    const age = ageMs(dir);
    return age !== undefined && age > CREATING_GRACE_MS;
  }
  // Another machine's process (a shared home directory) cannot be checked: never stale.
  return owner.host === hostname() && owner.pid !== process.pid && !isAlive(owner.pid);
}

/** mkdir as a try-lock: true when this call created the directory. */
function tryMkdir(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function writeOwner(dir: string, owner: LockOwner): void {
  const temporary = join(dir, `.owner.${owner.token}.tmp`);
  writeFileSync(temporary, JSON.stringify(owner), { mode: 0o600 });
  renameSync(temporary, join(dir, 'owner.json'));
}

/** Removes the stale lock at `dir` if it still has the owner seen before; true when it did. */
function breakStale(dir: string, seen: LockOwner | undefined): boolean {
  const breaker = `${dir}.breaking`;
  if (!tryMkdir(breaker)) {
    const age = ageMs(breaker);
    if (age !== undefined && age > BREAKER_STALE_MS) rmSync(breaker, { recursive: true, force: true });
    return false;
  }
  try {
    const now = readOwner(dir);
    const unchanged = now?.token === seen?.token && isStale(dir, now);
    if (unchanged) rmSync(dir, { recursive: true, force: true });
    return unchanged;
  } finally {
    rmSync(breaker, { recursive: true, force: true });
  }
}

/**
 * Tries once to take the lock at `dir` (plus a few immediate retries while a stale lock is broken).
 * Never waits for a live holder: the caller says who holds it.
 */
export function tryLock(dir: string): LockResult {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryMkdir(dir)) {
      const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), since: new Date().toISOString() };
      writeOwner(dir, owner);
      return {
        ok: true,
        release: () => {
          if (readOwner(dir)?.token === owner.token) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    const owner = readOwner(dir);
    if (!isStale(dir, owner)) return { ok: false, owner };
    breakStale(dir, owner);
  }
  return { ok: false, owner: readOwner(dir) };
}
