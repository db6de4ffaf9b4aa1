// Host key fingerprints: reading the ones cloud-init prints on the serial console, and computing
// the one of a key an SSH server presents, in the same "SHA256:<base64>" form `ssh-keygen -l` uses.
// No I/O here: callers fetch the console text and the key blob.

import { createHash } from 'node:crypto';

const BEGIN_FINGERPRINTS = '-----BEGIN SSH HOST KEY FINGERPRINTS-----';
const END_FINGERPRINTS = '-----END SSH HOST KEY FINGERPRINTS-----';

// "<bits> SHA256:<43 base64 chars> <comment> (<TYPE>)". A SHA-256 digest is exactly 43 unpadded
// base64 characters, so a line cut short by a truncated console never yields a wrong fingerprint.
const FINGERPRINT_LINE = /(?:^|[\s:])\d{3,5}\s+(SHA256:[A-Za-z0-9+/]{43})(?![A-Za-z0-9+/=])/;

/**
 * The SHA256 host key fingerprints from cloud-init's "SSH HOST KEY FINGERPRINTS" block(s) in an
 * instance's console output, in order, without duplicates.
 *
 * Console lines carry whatever prefix the image uses (`ec2: `, `[   12.3] cloud-init[1680]: `,
 * `<14>Jan  5 10:00:00 cloud-init: `), and kernel messages can land inside the block; both are
 * tolerated. Only complete blocks count: a block whose END marker is missing (console output is
 * truncated) might list only some of the keys, and a partial list would reject a genuine host.
 * Old MD5-style fingerprints are ignored.
 */
export function parseConsoleHostKeyFingerprints(consoleOutput: string): string[] {
  const found: string[] = [];
  let block: string[] | undefined;
  for (const line of consoleOutput.split(/\r?\n|\r/)) {
    if (line.includes(BEGIN_FINGERPRINTS)) {
      block = [];
      continue;
    }
    if (block === undefined) continue;
    if (line.includes(END_FINGERPRINTS)) {
      for (const fingerprint of block) if (!found.includes(fingerprint)) found.push(fingerprint);
      block = undefined;
      continue;
    }
    const match = FINGERPRINT_LINE.exec(line);
    if (match?.[1]) block.push(match[1]);
  }
  return found;
}

/** `SHA256:<base64 without padding>` of a raw SSH public key blob (the wire format), as `ssh-keygen -l` prints it. */
export function fingerprintOfKey(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
export function fingerprintOfPublicKeyLine(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    throw new Error(`Not an OpenSSH public key line: ${publicKeyLine.slice(0, 40)}`);
  }
  return fingerprintOfKey(Buffer.from(blob, 'base64'));
}

/** True when two fingerprints are the same; tolerates a missing "SHA256:" prefix or trailing padding. */
export function sameFingerprint(a: string, b: string): boolean {
  const normalise = (f: string) => f.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return normalise(a) === normalise(b);
}

/**
 * A key's fingerprint as a label every cloud can store (GCE: lowercase, at most 63 characters):
 * "sha256-" and the first 40 hex digits of the digest (160 bits, plenty to tell keys apart).
 */
export function fingerprintLabel(fingerprint: string): string {
  const b64 = fingerprint.trim().replace(/^SHA256:/i, '');
  return `sha256-${Buffer.from(b64, 'base64').toString('hex').slice(0, 40)}`;
}

/** True when a recorded key label (today's hex form, or the `SHA256:…` earlier versions wrote) names this fingerprint. */
export function labelNamesFingerprint(recorded: string, fingerprint: string): boolean {
  return recorded.startsWith('sha256-') ? recorded === fingerprintLabel(fingerprint) : sameFingerprint(recorded, fingerprint);
}
