// Small JSON state files, read leniently and written atomically, with no library: see file-store.ts
// for why (a config library's atomic writer re-raised Ctrl-C).
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** The parsed file, or undefined when it is missing or unreadable (a cache: the cloud is the truth). */
export function readJsonObject(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces `path` with `data` as a whole: written to a temporary file beside it, flushed, then
 * renamed over it, so a reader (or a crash) sees the old file or the new one, never half of one.
 */
export function writeJsonAtomic(path: string, data: unknown, mode = 0o600): void {
  writeFileAtomic(path, `${JSON.stringify(data, null, '\t')}\n`, mode);
}

/** The same for any text (a kubeconfig): the new file has `mode` whatever the old one had. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}
