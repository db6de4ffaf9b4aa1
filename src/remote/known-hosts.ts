// The pin store: one JSON object `{ [pinKey]: "SHA256:…" }` per file. Pins are keyed by instance
// (not address) because cloud addresses are reused: a new instance behind an old Elastic IP has a
// new host key, and that must be told apart from an attacker in the middle.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ExitCode, LaunchError } from '../core/errors.js';

export type KnownHostPins = Record<string, string>;

// Read-modify-write of the same file from two connections in one process must not lose a pin.
const pendingWrites = new Map<string, Promise<unknown>>();

function serialised<T>(path: string, work: () => Promise<T>): Promise<T> {
  const previous = pendingWrites.get(path) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  pendingWrites.set(path, settled);
  void settled.then(() => {
    if (pendingWrites.get(path) === settled) pendingWrites.delete(path);
  });
  return next;
}

/** All pins in the file; `{}` when it does not exist yet. */
export async function readKnownHostPins(knownHostsPath: string): Promise<KnownHostPins> {
  let text: string;
  try {
    text = await readFile(knownHostsPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw corruptStore(knownHostsPath, cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corruptStore(knownHostsPath);
  const pins: KnownHostPins = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw corruptStore(knownHostsPath);
    pins[key] = value;
  }
  return pins;
}

export async function readPinnedFingerprint(knownHostsPath: string, pinKey: string): Promise<string | undefined> {
  const pins = await readKnownHostPins(knownHostsPath);
  return Object.hasOwn(pins, pinKey) ? pins[pinKey] : undefined;
}

/** Pins (or re-pins) `pinKey` to `fingerprint`. */
export function pinHostFingerprint(knownHostsPath: string, pinKey: string, fingerprint: string): Promise<void> {
  return serialised(knownHostsPath, async () => {
    const pins = await readKnownHostPins(knownHostsPath);
    if (pins[pinKey] === fingerprint) return;
    pins[pinKey] = fingerprint;
    await writePinsAtomically(knownHostsPath, pins);
  });
}

/** Forgets the pin of `pinKey` (the instance was really replaced). Resolves whether there was one. */
export function removeHostPin(knownHostsPath: string, pinKey: string): Promise<boolean> {
  return serialised(knownHostsPath, async () => {
    const pins = await readKnownHostPins(knownHostsPath);
    if (!Object.hasOwn(pins, pinKey)) return false;
    delete pins[pinKey];
    await writePinsAtomically(knownHostsPath, pins);
    return true;
  });
}

// Temp file + rename: a crash mid-write never leaves a half-written store that would then read as
// corrupt and lock the user out of every instance.
async function writePinsAtomically(knownHostsPath: string, pins: KnownHostPins): Promise<void> {
  await mkdir(dirname(knownHostsPath), { recursive: true, mode: 0o700 });
  const temporary = `${knownHostsPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temporary, knownHostsPath);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
}

function corruptStore(knownHostsPath: string, cause?: unknown): LaunchError {
  return new LaunchError('known-hosts-corrupt', ExitCode.failed, `The host key pin file ${knownHostsPath} is not valid JSON.`, {
    cause,
    remediation: `Fix the file (an object of "<instance>": "SHA256:…" entries) or delete it; deleting it forgets every pinned host key.`,
    details: { knownHostsPath },
  });
}
