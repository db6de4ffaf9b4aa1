// Our bookkeeping on every cloud resource, in neutral keys, and the two ways adapters store it:
// prefixed tag keys with values as they are (clouds whose tags allow any text), or labels encoded
// within GCE's rules (keys and values of lowercase letters, digits, "-" and "_", at most 63
// characters), reversibly, so every cloud can store the same facts.

export const LABEL_KEYS = [
  'deployment',
  'role',
  'version',
  'size',
  'managed',
  'owner',
  'purpose',
  'source-version',
  'operation',
  'strategy',
  'last-written',
  'build',
  'build-run',
  'source-commit',
  'provisioned',
  'key-fingerprint',
  'rollback-snapshot',
] as const;
export type LabelKey = (typeof LABEL_KEYS)[number] | `lock-${string}`;
export type Labels = { [K in LabelKey]?: string };

/** The prefix that marks a tag or label as ours. */
export const LABEL_PREFIX = 'sourcegraph-launch';

export function isLabelKey(key: string): key is LabelKey {
  return (LABEL_KEYS as readonly string[]).includes(key) || /^lock-[a-z0-9]{1,16}$/.test(key);
}

/** `{ deployment: 'prod' }` → `{ 'sourcegraph-launch:deployment': 'prod' }`, values unchanged. */
export function toPrefixedTags(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) out[`${LABEL_PREFIX}:${k}`] = v;
  return out;
}

/** Splits a cloud's tags into ours (neutral keys) and the rest. */
export function fromPrefixedTags(tags: Readonly<Record<string, string>>): { labels: Labels; foreign: Record<string, string> } {
  const labels: Labels = {};
  const foreign: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    const key = k.startsWith(`${LABEL_PREFIX}:`) ? k.slice(LABEL_PREFIX.length + 1) : undefined;
    if (key !== undefined && isLabelKey(key)) labels[key] = v;
    else foreign[k] = v;
  }
  return { labels, foreign };
}

// ---- the GCE-safe encoding ----
// Lowercase letters, digits and "-" stand for themselves; "_" starts an escape, so it never stands
// for itself and decoding is unambiguous: _d "." (versions read 6_d12_d5040), _c ":", _u "_",
// _s " ", _a "@", _p "+", _l "/", _e "=", _k<x> the capital of <x>, _x<hh> any other byte.
const ESCAPES: Record<string, string> = { '.': 'd', ':': 'c', _: 'u', ' ': 's', '@': 'a', '+': 'p', '/': 'l', '=': 'e' };
const UNESCAPES: Record<string, string> = Object.fromEntries(Object.entries(ESCAPES).map(([c, e]) => [e, c]));

export const GCE_LABEL_MAX = 63;

export function encodeLabelValue(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    if (/[a-z0-9-]/.test(ch)) out += ch;
    else if (ESCAPES[ch]) out += `_${ESCAPES[ch]}`;
    else if (/[A-Z]/.test(ch)) out += `_k${ch.toLowerCase()}`;
    else out += `_x${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.length > GCE_LABEL_MAX) throw new Error(`label value too long once encoded (${out.length} > ${GCE_LABEL_MAX}): ${value}`);
  return out;
}

export function decodeLabelValue(encoded: string): string {
  const bytes: number[] = [];
  const push = (s: string) => {
    for (const c of s) bytes.push(c.charCodeAt(0));
  };
  for (let i = 0; i < encoded.length; i++) {
    const ch = encoded[i]!;
    if (ch !== '_') {
      if (!/[a-z0-9-]/.test(ch)) throw new Error(`not an encoded label value: ${encoded}`);
      push(ch);
      continue;
    }
    const code = encoded[++i];
    if (code === 'k' && /[a-z]/.test(encoded[i + 1] ?? '')) push(encoded[++i]!.toUpperCase());
    else if (code === 'x' && /^[0-9a-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (code !== undefined && UNESCAPES[code]) push(UNESCAPES[code]);
    else throw new Error(`not an encoded label value: ${encoded}`);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
}

/** `{ version: '6.12.5040' }` → `{ 'sourcegraph-launch-version': '6_d12_d5040' }`. */
export function toEncodedLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) out[`${LABEL_PREFIX}-${k}`] = encodeLabelValue(v);
  return out;
}

export function fromEncodedLabels(stored: Readonly<Record<string, string>>): { labels: Labels; foreign: Record<string, string> } {
  const labels: Labels = {};
  const foreign: Record<string, string> = {};
  for (const [k, v] of Object.entries(stored)) {
    const key = k.startsWith(`${LABEL_PREFIX}-`) ? k.slice(LABEL_PREFIX.length + 1) : undefined;
    if (key !== undefined && isLabelKey(key)) {
      try {
        labels[key] = decodeLabelValue(v);
        continue;
      } catch {
        // Not ours after all (someone else's label with our prefix): keep it as it is.
      }
    }
    foreign[k] = v;
  }
  return { labels, foreign };
}
