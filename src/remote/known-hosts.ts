// The pin store: one JSON object `{ [pinKey]: "SHA256:…" | { fingerprint, source, at } }` per file.
// Pins are keyed by instance (not address) because cloud addresses are reused: a new instance
// behind an old Elastic IP has a new host key, and that must be told apart from an attacker in the
// middle. `source` says how the key was trusted: the instance's console listed it, or (only after
// waiting for the console in vain) on first use.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ExitCode, LaunchError } from '../core/errors.js';

export type KnownHostPins = Record<string, string>;

/** How a pinned key came to be trusted. */
export type PinSource = 'console' | 'first-use';

export interface PinRecord {
  fingerprint: string;
  source?: PinSource;
  at?: string;
}

type StoredPins = Record<string, string | PinRecord>;

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
  const stored = await readStoredPins(knownHostsPath);
  return Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, typeof v === 'string' ? v : v.fingerprint]));
}

/** One pin with how it was trusted (pins written before sources were recorded have none). */
export async function readPinRecord(knownHostsPath: string, pinKey: string): Promise<PinRecord | undefined> {
  const stored = await readStoredPins(knownHostsPath);
  if (!Object.hasOwn(stored, pinKey)) return undefined;
  const value = stored[pinKey]!;
  return typeof value === 'string' ? { fingerprint: value } : value;
}

async function readStoredPins(knownHostsPath: string): Promise<StoredPins> {
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
  const pins: StoredPins = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value === 'string') pins[key] = value;
    else if (typeof value === 'object' && value !== null && typeof (value as PinRecord).fingerprint === 'string') pins[key] = value as PinRecord;
    else throw corruptStore(knownHostsPath);
  }
  return pins;
}

export async function readPinnedFingerprint(knownHostsPath: string, pinKey: string): Promise<string | undefined> {
  const pins = await readKnownHostPins(knownHostsPath);
  return Object.hasOwn(pins, pinKey) ? pins[pinKey] : undefined;
}

/** Pins (or re-pins) `pinKey` to `fingerprint`, recording how it was trusted when `source` is given. */
export function pinHostFingerprint(knownHostsPath: string, pinKey: string, fingerprint: string, source?: PinSource): Promise<void> {
  return serialised(knownHostsPath, async () => {
    const pins = await readStoredPins(knownHostsPath);
    const current = pins[pinKey];
    const same = typeof current === 'string' ? current === fingerprint && !source : current?.fingerprint === fingerprint && current.source === source;
    if (same) return;
    pins[pinKey] = source ? { fingerprint, source, at: new Date().toISOString() } : fingerprint;
    await writePinsAtomically(knownHostsPath, pins);
  });
}

/** Forgets the pin of `pinKey` (the instance was really replaced). Resolves whether there was one. */
export function removeHostPin(knownHostsPath: string, pinKey: string): Promise<boolean> {
  return serialised(knownHostsPath, async () => {
    const pins = await readStoredPins(knownHostsPath);
    if (!Object.hasOwn(pins, pinKey)) return false;
    delete pins[pinKey];
    await writePinsAtomically(knownHostsPath, pins);
    return true;
  });
}

// Temp file + rename: a crash mid-write never leaves a half-written store that would then read as
// corrupt and lock the user out of every instance.
async function writePinsAtomically(knownHostsPath: string, pins: StoredPins): Promise<void> {
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
