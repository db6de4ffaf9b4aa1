// `list` parameters: `filter` (Compute's expression language, the common part: `field op value`
// terms joined by AND/OR or spaces, parentheses, nested fields like `labels.env`, `:*` for "has",
// and the older `field eq|ne regex` form), `orderBy` (`name` or `creationTimestamp desc`, the two
// Compute supports), and paging with `maxResults`/`pageToken`. Empty pages omit `items`, as Compute does.
import { invalidField } from './errors.js';
import type { Json } from './validate.js';

type Predicate = (item: Json) => boolean;

function fieldValue(item: Json, path: string): unknown {
  let value: unknown = item;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Json)[part];
  }
  return value;
}

function unquote(text: string): string {
  return /^(["']).*\1$/s.test(text) ? text.slice(1, -1) : text;
}

function compare(actual: unknown, op: string, expected: string): boolean {
  if (op === ':' && expected === '*') return actual !== undefined;
  if (actual === undefined) return op === '!=';
  if (Array.isArray(actual)) return actual.some((a) => compare(a, op === '!=' ? '=' : op, expected)) !== (op === '!=');
  const text = typeof actual === 'object' ? JSON.stringify(actual) : String(actual);
  const numeric = typeof actual === 'number' || (/^-?\d+(\.\d+)?$/.test(text) && /^-?\d+(\.\d+)?$/.test(expected));
  switch (op) {
    case '=':
      return text === expected;
    case '!=':
      return text !== expected;
    case ':':
      return text.includes(expected);
    case '>':
      return numeric ? Number(text) > Number(expected) : text > expected;
    case '<':
      return numeric ? Number(text) < Number(expected) : text < expected;
    case '>=':
      return numeric ? Number(text) >= Number(expected) : text >= expected;
    case '<=':
      return numeric ? Number(text) <= Number(expected) : text <= expected;
    default:
      return false;
  }
}

const TOKEN = /\s*(\(|\)|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|!=|>=|<=|[=:<>]|[^\s()=:<>!]+)/y;

function tokenize(text: string, fail: () => Error): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const m = TOKEN.exec(text);
    if (!m) throw fail();
    tokens.push(m[1]!);
  }
  return tokens;
}

/** Parses a Compute list filter into a predicate; throws 400 for what it cannot read. */
export function parseFilter(filter: string | undefined): Predicate {
  if (!filter || filter.trim() === '') return () => true;
  const fail = () => invalidField('filter', filter, 'Invalid list filter expression.');
  const legacy = /^\s*([\w.-]+)\s+(eq|ne)\s+(.+?)\s*$/.exec(filter);
  if (legacy) {
    const regex = new RegExp(`^(?:${unquote(legacy[3]!)})$`);
    const want = legacy[2] === 'eq';
    return (item) => regex.test(String(fieldValue(item, legacy[1]!) ?? '')) === want;
  }
  const tokens = tokenize(filter, fail);
  let pos = 0;
  const OPS = ['=', '!=', ':', '>', '<', '>=', '<='];
  const term = (): Predicate => {
    if (tokens[pos] === '(') {
      pos += 1;
      const inner = orExpr();
      if (tokens[pos] !== ')') throw fail();
      pos += 1;
      return inner;
    }
    const field = tokens[pos];
    const op = tokens[pos + 1];
    const value = tokens[pos + 2];
    if (!field || !op || value === undefined || !OPS.includes(op) || !/^[\w.-]+$/.test(field)) throw fail();
    pos += 3;
    const expected = unquote(value);
    return (item) => compare(fieldValue(item, field), op, expected);
  };
  const andExpr = (): Predicate => {
    const parts = [term()];
    while (pos < tokens.length && tokens[pos] !== ')' && tokens[pos] !== 'OR') {
      if (tokens[pos] === 'AND') pos += 1;
      parts.push(term());
    }
    return (item) => parts.every((p) => p(item));
  };
  const orExpr = (): Predicate => {
    const parts = [andExpr()];
    while (tokens[pos] === 'OR') {
      pos += 1;
      parts.push(andExpr());
    }
    return (item) => parts.some((p) => p(item));
  };
  const predicate = orExpr();
  if (pos !== tokens.length) throw fail();
  return predicate;
}

export interface ListQuery {
  filter?: string;
  orderBy?: string;
  maxResults?: string;
  pageToken?: string;
}

/** Filters, orders and pages items; returns this page and the token for the next one. */
export function page<T extends Json>(items: T[], query: ListQuery): { items: T[]; nextPageToken?: string } {
  const predicate = parseFilter(query.filter);
  let selected = items.filter((i) => predicate(i));
  if (query.orderBy) {
    const order = query.orderBy.trim();
    if (order === 'name') selected = [...selected].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    else if (order === 'creationTimestamp desc') selected = [...selected].reverse();
    else throw invalidField('orderBy', order, "Only 'name' and 'creationTimestamp desc' are supported.");
  }
  const size = query.maxResults === undefined || query.maxResults === '0' ? 500 : Math.min(500, Number(query.maxResults));
  let offset = 0;
  if (query.pageToken) {
    const decoded = /^offset:(\d+)$/.exec(Buffer.from(query.pageToken, 'base64url').toString('utf8'));
    if (!decoded) throw invalidField('pageToken', query.pageToken, 'Invalid page token.');
    offset = Number(decoded[1]);
  }
  const slice = selected.slice(offset, offset + size);
  const next = offset + size < selected.length ? Buffer.from(`offset:${offset + size}`).toString('base64url') : undefined;
  return { items: slice, ...(next ? { nextPageToken: next } : {}) };
}

/** A Compute list answer: `{kind, id, selfLink, items?, nextPageToken?}`. */
export function listBody(kind: string, id: string, selfLink: string, items: Json[], query: ListQuery): Json {
  const result = page(items, query);
  return {
    kind,
    id,
    selfLink,
    ...(result.items.length > 0 ? { items: result.items } : {}),
    ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
  };
}
