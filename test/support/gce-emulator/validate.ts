// A validator for discovery schemas (they are a small subset of JSON Schema), written here instead
// of pulling in a JSON-schema library: discovery's `$ref`s name schemas, `annotations.required`
// lists the methods a field is required for, integers of 64 bits travel as strings, and Google's
// error messages name fields in two styles that a generic validator would not produce:
//   - parsing the JSON into the request message (unknown field, wrong type, bad enum):
//     "Invalid JSON payload received. Unknown name \"x\" at 'instance_resource.disks[0]': Cannot find field."
//   - Compute's own field checks (required, pattern, labels):
//     "Invalid value for field 'resource.disks[0].deviceName': ..."
// Requests: unknown fields are rejected, `null` means unset, output-only fields are accepted and
// dropped (the server ignores them, so a resource read with `get` can be sent back). Responses
// (the emulator checking itself): strict, canonical types, output-only fields kept.
import { badPayload, GceError, invalid, invalidField } from './errors.js';
import { checkLabels } from './labels.js';
import { discovery, type DiscoveryMethod, type SchemaNode } from './discovery.js';

export type Json = Record<string, unknown>;
type Mode = 'request' | 'response';

interface Walk {
  mode: Mode;
  /** compute.instances.insert: for `annotations.required`. */
  methodId: string;
  /** Proto-style path for parse errors (snake_case). */
  proto: string;
  /** JSON-style path for field checks, rooted at `resource`. */
  field: string;
  /** The schema that owns the value (for enum type names). */
  owner: string;
  problems: GceError[];
}

const snake = (name: string) => name.replace(/([A-Z])/g, '_$1').toLowerCase().replace(/^_/, '');

function isOutputOnly(node: SchemaNode): boolean {
  return /^\[Output Only\]/i.test(node.description ?? '');
}

function resolve(node: SchemaNode): { node: SchemaNode; name?: string } {
  if (!node.$ref) return { node };
  const target = discovery().schemas[node.$ref];
  if (!target) throw new Error(`dangling $ref ${node.$ref}`);
  return { node: target, name: node.$ref };
}

function typeName(node: SchemaNode): string {
  if (node.enum) return 'TYPE_ENUM';
  if (node.type === 'boolean') return 'TYPE_BOOL';
  if (node.type === 'integer' || node.format === 'int64' || node.format === 'uint64') return `TYPE_${(node.format ?? 'int32').toUpperCase()}`;
  if (node.type === 'number') return node.format === 'float' ? 'TYPE_FLOAT' : 'TYPE_DOUBLE';
  if (node.type === 'object' || node.$ref) return 'TYPE_MESSAGE';
  return 'TYPE_STRING';
}

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function wrongType(walk: Walk, node: SchemaNode, value: unknown): undefined {
  walk.problems.push(badPayload(`Invalid value at '${walk.proto}' (${typeName(node)}), ${JSON.stringify(value)}`, walk.proto));
  return undefined;
}

/** Returns the value in canonical form, or undefined after recording a problem. */
function walkValue(value: unknown, node0: SchemaNode, walk: Walk): unknown {
  const { node, name } = resolve(node0);
  if (node.type === 'any') return value;
  if (node.type === 'object' || name || node.properties || node.additionalProperties) {
    return walkObject(value, node, { ...walk, owner: name ?? walk.owner });
  }
  if (node.type === 'array') {
    if (!Array.isArray(value)) return wrongType(walk, node, value);
    // Discovery puts some patterns on the array rather than its items (Tags.items).
    const items = node.pattern && node.items && !node.items.pattern ? { ...node.items, pattern: node.pattern } : (node.items ?? { type: 'any' as const });
    return value
      .map((item, i) => (item === null ? undefined : walkValue(item, items, { ...walk, proto: `${walk.proto}[${i}]`, field: `${walk.field}[${i}]` })))
      .filter((item) => item !== undefined);
  }
  if (node.type === 'boolean') return typeof value === 'boolean' ? value : wrongType(walk, node, value);
  if (node.type === 'integer' || (node.type === 'string' && (node.format === 'int64' || node.format === 'uint64'))) {
    const format = node.format ?? 'int32';
    const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : typeof value === 'string' ? value : undefined;
    // Responses must be canonical: 64-bit integers as strings, 32-bit ones as numbers.
    const canonical = format.endsWith('64') ? typeof value === 'string' : typeof value === 'number';
    if (text === undefined || !/^-?\d+$/.test(text) || (walk.mode === 'response' && !canonical)) return wrongType(walk, node, value);
    const range = INTEGER_RANGES[format] ?? INTEGER_RANGES.int64!;
    const big = BigInt(text);
    if (big < range[0] || big > range[1]) return wrongType(walk, node, value);
    return format.endsWith('64') ? big.toString() : Number(big);
  }
  if (node.type === 'number') {
    if (typeof value === 'number') return value;
    if (walk.mode === 'request' && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    return wrongType(walk, node, value);
  }
  // Strings (enums, bytes, patterns).
  if (typeof value !== 'string') return wrongType(walk, node, value);
  if (node.enum && !node.enum.includes(value)) {
    const leaf = walk.proto.split('.').pop()!.replace(/\[\d+\]$/, '');
    const enumName = leaf.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
    walk.problems.push(badPayload(`Invalid value at '${walk.proto}' (type.googleapis.com/google.cloud.compute.v1.${walk.owner}.${enumName}), ${JSON.stringify(value)}`, walk.proto));
    return undefined;
  }
  if (node.format === 'byte' && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return wrongType(walk, node, value);
  if (node.pattern && !new RegExp(`^(?:${node.pattern})$`).test(value)) {
    walk.problems.push(invalidField(walk.field, value, `Must be a match of regex '(?:${node.pattern})'`));
    return undefined;
  }
  return value;
}

function walkObject(value: unknown, node: SchemaNode, walk: Walk): Json | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrongType(walk, { type: 'object' }, value);
  const input = value as Json;
  const out: Json = {};
  if (node.properties) {
    for (const [key, raw] of Object.entries(input)) {
      const prop = node.properties[key];
      if (!prop) {
        walk.problems.push(badPayload(`Invalid JSON payload received. Unknown name "${key}" at '${walk.proto}': Cannot find field.`, walk.proto));
        continue;
      }
      if (raw === null) continue;
      const child = walkValue(raw, prop, { ...walk, proto: `${walk.proto}.${snake(key)}`, field: `${walk.field}.${key}` });
      if (child === undefined) continue;
      if (key === 'labels' && prop.additionalProperties?.type === 'string') {
        const problem = checkLabels(child as Record<string, string>, `${walk.field}.labels`);
        if (problem) walk.problems.push(problem);
      }
      if (walk.mode === 'request' && isOutputOnly(prop)) continue;
      out[key] = child;
    }
    if (walk.mode === 'request') {
      for (const [key, prop] of Object.entries(node.properties)) {
        if (prop.annotations?.required?.includes(walk.methodId) && out[key] === undefined) {
          walk.problems.push(invalid(`Required field '${walk.field}.${key}' not specified`));
        }
      }
    }
    return out;
  }
  if (node.additionalProperties) {
    for (const [key, raw] of Object.entries(input)) {
      if (raw === null) continue;
      const child = walkValue(raw, node.additionalProperties, { ...walk, proto: `${walk.proto}[${JSON.stringify(key)}]`, field: `${walk.field}.${key}` });
      if (child !== undefined) out[key] = child;
    }
    return out;
  }
  return input;
}

/** Proto name of the request message field, as in Google's errors: Instance → instance_resource. */
export function requestFieldName(schemaName: string): string {
  return `${snake(schemaName)}_resource`;
}

/**
 * Validates a request body against the method's request schema. Throws the first problem as a
 * GceError (Google reports one); returns the body in canonical form.
 */
export function validateRequestBody(method: DiscoveryMethod, body: unknown): Json {
  if (!method.request) {
    if (body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0)) return {};
    const names = typeof body === 'object' && body !== null ? Object.keys(body) : [];
    const first = names[0] ?? String(body);
    throw badPayload(`Invalid JSON payload received. Unknown name "${first}": Cannot bind query parameter. Field '${first}' could not be found in request message.`, first);
  }
  const schemaName = method.request.$ref;
  const walk: Walk = { mode: 'request', methodId: method.id, proto: requestFieldName(schemaName), field: 'resource', owner: schemaName, problems: [] };
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    throw badPayload('Invalid JSON payload received. Root element must be a message.', walk.proto);
  }
  const out = walkObject(body ?? {}, discovery().schemas[schemaName]!, walk);
  if (walk.problems.length > 0) throw walk.problems[0]!;
  return out ?? {};
}

/** The emulator checking its own answers against the response schema; returns the problems. */
export function responseProblems(schemaName: string, value: unknown): string[] {
  const walk: Walk = { mode: 'response', methodId: '', proto: snake(schemaName), field: schemaName, owner: schemaName, problems: [] };
  walkObject(value, discovery().schemas[schemaName]!, walk);
  return walk.problems.map((p) => p.message);
}

/**
 * Path and query parameters: patterns, types, enums, ranges; unknown query parameters are refused
 * as Google does. Returns the query with defaults applied (as strings, like the wire).
 */
export function validateParams(method: DiscoveryMethod, path: Record<string, string>, query: URLSearchParams): Record<string, string> {
  const params = method.parameters ?? {};
  const standard = discovery().parameters;
  for (const [name, value] of Object.entries(path)) {
    const node = params[name]!;
    if (node.pattern && !new RegExp(`^(?:${node.pattern})$`).test(value)) {
      throw invalidField(name, value, `Must be a match of regex '(?:${node.pattern})'`);
    }
  }
  const out: Record<string, string> = {};
  for (const [name, value] of query) {
    const node = params[name] ?? standard[name];
    if (!node || node.location === 'path') {
      throw badPayload(`Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. Field '${name}' could not be found in request message.`, name);
    }
    if (name in out && !node.repeated) throw invalid(`Invalid value for field '${name}': it is not repeated and was given more than once.`);
    checkQueryValue(name, value, node);
    out[name] = value;
  }
  for (const [name, node] of Object.entries(params)) {
    if (node.location !== 'query' || name in out) continue;
    if (node.required) throw invalid(`Required field '${name}' not specified`);
    if (node.default !== undefined) out[name] = node.default;
  }
  return out;
}

function checkQueryValue(name: string, value: string, node: SchemaNode): void {
  const bad = () => badPayload(`Invalid value at '${snake(name)}' (${typeName(node)}), "${value}"`, snake(name));
  if (node.type === 'boolean' && value !== 'true' && value !== 'false') throw bad();
  if (node.type === 'integer' || node.format === 'int64') {
    if (!/^-?\d+$/.test(value)) throw bad();
    const n = Number(value);
    if ((node.minimum !== undefined && n < Number(node.minimum)) || (node.maximum !== undefined && n > Number(node.maximum))) {
      throw invalidField(name, value, `Must be between ${node.minimum ?? '-inf'} and ${node.maximum ?? 'inf'}.`);
    }
  }
  if (node.enum && !node.enum.includes(value)) throw bad();
  if (node.pattern && !new RegExp(`^(?:${node.pattern})$`).test(value)) {
    throw invalidField(name, value, `Must be a match of regex '(?:${node.pattern})'`);
  }
}
