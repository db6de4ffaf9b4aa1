// Helm values as `config` handles them: parsed and checked before anything is uploaded, merged the
// way Helm merges the files the boot service passes it, and changed one key at a time with the
// customer's comments and layout kept.
import { isMap, parseDocument, stringify } from 'yaml';
import { UsageError } from '../core/errors.js';
import { suggestSimilar } from '../core/suggest.js';

export type Values = Record<string, unknown>;

/** A values file as an object: empty or comments only is {}; bad YAML or anything but a map is bad input (exit 2). */
export function parseValues(text: string, where: string): Values {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const first = doc.errors[0]!;
    throw new UsageError(`${where} is not valid YAML: ${first.message.split('\n')[0]}`, { code: 'invalid-values', remediation: 'Fix the file and run the command again; nothing was changed.' });
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${where} must be a map of Helm values (key: value), not ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`, { code: 'invalid-values' });
  }
  return value as Values;
}

/** Helm's order of precedence: later files win; maps merge key by key, null removes a key, anything else replaces. */
export function coalesce(...layers: Values[]): Values {
  const out: Values = {};
  for (const layer of layers) mergeInto(out, layer);
  return out;
}

function mergeInto(target: Values, layer: Values): void {
  for (const [key, value] of Object.entries(layer)) {
    if (value === null) delete target[key];
    else if (isPlainObject(value) && isPlainObject(target[key])) mergeInto(target[key] as Values, value);
    else target[key] = isPlainObject(value) ? coalesce(value) : value;
  }
}

function isPlainObject(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Top-level keys the chart does not know: almost always a typo, which Helm would accept silently
 * and ignore. Bad input (exit 2), each with the nearest known key.
 */
export function checkTopLevelKeys(values: Values, known: readonly string[], where: string): void {
  const unknown = Object.keys(values).filter((k) => !known.includes(k));
  if (!unknown.length) return;
  const described = unknown.map((k) => {
    const like = suggestSimilar(k, [...known]);
    return like ? `"${k}" (did you mean "${like}"?)` : `"${k}"`;
  });
  throw new UsageError(`${where}: the Sourcegraph chart has no top-level value ${described.join(', ')}`, {
    code: 'unknown-values',
    remediation: 'Helm would ignore it silently. Fix the key (see `helm show values` of the chart, or Sourcegraph\'s Helm docs); nothing was changed.',
    details: { unknownKeys: unknown },
  });
}

export interface Assignment {
  key: string;
  path: string[];
  value: unknown;
}

/**
 * `KEY=VALUE` with a dotted key (`frontend.replicaCount=2`); the value is read as YAML, so `true`,
 * `3` and `null` are typed and `"3"` is a string. `null` removes the key.
 */
export function parseAssignment(text: string): Assignment {
  const eq = text.indexOf('=');
  const key = eq > 0 ? text.slice(0, eq) : '';
  const path = key.split('.');
  // A segment may carry one "/" for label keys such as pgsql.nodeSelector.sourcegraph-launch/role.
  if (eq <= 0 || path.some((p) => !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)?$/.test(p))) {
    throw new UsageError(`"${text}" is not KEY=VALUE with a dotted key (e.g. frontend.replicaCount=2)`, { code: 'invalid-setting' });
  }
  const raw = text.slice(eq + 1);
  const doc = parseDocument(raw === '' ? '""' : raw);
  if (doc.errors.length) throw new UsageError(`The value of ${key} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, { code: 'invalid-setting' });
  return { key, path, value: doc.toJS() as unknown };
}

/** The file's text with each assignment applied; comments and the order of other keys are kept. */
export function applyAssignments(text: string, assignments: readonly Assignment[], where: string): string {
  parseValues(text, where);
  const doc = parseDocument(text);
  if (doc.contents === null || !isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  for (const a of assignments) {
    if (a.value === null) doc.deleteIn(a.path);
    else {
      // A key under a scalar (a: 1, then a.b=2) would make Helm drop the scalar: say so instead.
      for (let i = 1; i < a.path.length; i++) {
        const above = doc.getIn(a.path.slice(0, i));
        if (above !== undefined && !isMap(above)) throw new UsageError(`${a.key}: ${a.path.slice(0, i).join('.')} is a value, not a map, in ${where}`, { code: 'invalid-setting' });
      }
      doc.setIn(a.path, a.value);
    }
  }
  return doc.toString();
}

export function toYaml(values: Values): string {
  return Object.keys(values).length ? stringify(values) : '{}\n';
}
