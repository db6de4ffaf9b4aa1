// A validator for the swagger 2.0 subset the ARM specs use: $ref, allOf, properties, required,
// additionalProperties, type, enum, format (int32/int64/date-time/uuid), pattern, min/maxLength,
// minimum/maximum (exclusive too), min/maxItems and readOnly. No discriminators: none of the copied
// operations reach one.
//
// Two modes:
// - 'request': what ARM does with a PUT/POST body. readOnly properties are dropped unvalidated (ARM
//   ignores them so a GET → edit → PUT round trip works), `null` on an optional property means
//   "absent", and an unknown property is an error (the resource providers' deserializers reject
//   members they do not know). Returns the cleaned body.
// - 'response': a self-check of what the emulator itself answers: readOnly properties are allowed,
//   anything unknown or mistyped is an emulator bug.
import type { Located, Schema, SpecSet } from './swagger.js';

export type Mode = 'request' | 'response';

export interface Issue {
  /** 'content' = the body cannot be deserialized (type, unknown member); 'parameter' = a value is not allowed. */
  kind: 'content' | 'parameter';
  path: string;
  message: string;
}

export interface Result {
  value: unknown;
  issues: Issue[];
}

/**
 * Enums the specs keep although they are stale: the service accepts values outside them. The VM
 * size enum was deprecated in 2023 and lacks every current size (the emulator checks sizes itself).
 */
const OPEN_ENUMS = new Set(['VirtualMachineSizeTypes']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Flat {
  properties: Record<string, Located>;
  required: Set<string>;
  additional?: Located | true;
  name?: string;
  hasObjectShape: boolean;
}

export class Validator {
  private readonly flatCache = new Map<Schema, Flat>();

  constructor(private readonly specs: SpecSet) {}

  validate(located: Located, value: unknown, mode: Mode, path = ''): Result {
    const issues: Issue[] = [];
    const out = this.walk(located, value, mode, path, issues);
    return { value: out, issues };
  }

  private walk(at: Located, value: unknown, mode: Mode, path: string, issues: Issue[]): unknown {
    const resolved = this.specs.resolve(at);
    const schema = resolved.schema;
    const typeName = resolved.name ?? at.name;
    const flat = this.flatten(resolved);
    const type = schema.type ?? (flat.hasObjectShape ? 'object' : undefined);

    switch (type) {
      case 'object':
        return this.walkObject(resolved, flat, value, mode, path, issues, typeName);
      case 'array': {
        if (!Array.isArray(value)) {
          issues.push({ kind: 'content', path, message: `Error converting value to an array at path '${path}'` });
          return value;
        }
        const min = schema.minItems as number | undefined;
        const max = schema.maxItems as number | undefined;
        if (min !== undefined && value.length < min) issues.push({ kind: 'parameter', path, message: `'${path}' needs at least ${min} item(s).` });
        if (max !== undefined && value.length > max) issues.push({ kind: 'parameter', path, message: `'${path}' allows at most ${max} item(s).` });
        const items = schema.items ? { schema: schema.items, file: resolved.file } : undefined;
        return items ? value.map((v, i) => this.walk(items, v, mode, `${path}[${i}]`, issues)) : value;
      }
      case 'string':
        this.checkString(resolved, value, path, issues);
        return value;
      case 'integer':
      case 'number':
        this.checkNumber(resolved, type, value, path, issues);
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') issues.push({ kind: 'content', path, message: `Could not convert ${JSON.stringify(value)} to Boolean. Path '${path}'` });
        return value;
      default:
        // A free-form value (`{}` or an untyped schema): anything goes.
        return value;
    }
  }

  private walkObject(at: Located, flat: Flat, value: unknown, mode: Mode, path: string, issues: Issue[], typeName?: string): unknown {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ kind: 'content', path, message: `Error converting value ${JSON.stringify(value)} to type '${typeName ?? 'object'}'. Path '${path}'` });
      return value;
    }
    const out: Record<string, unknown> = {};
    const hasNamedProperties = Object.keys(flat.properties).length > 0;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childPath = path ? `${path}.${key}` : key;
      const prop = flat.properties[key];
      if (prop) {
        if (this.isReadOnly(prop) && mode === 'request') continue;
        if (child === null && mode === 'request') continue;
        out[key] = this.walk(prop, child, mode, childPath, issues);
      } else if (flat.additional === true) {
        out[key] = child;
      } else if (flat.additional) {
        out[key] = this.walk(flat.additional, child, mode, childPath, issues);
      } else if (!hasNamedProperties && at.schema.type === 'object' && flat.additional === undefined) {
        // `{"type": "object"}` with nothing else is a free-form object.
        out[key] = child;
      } else {
        issues.push({
          kind: 'content',
          path: childPath,
          message: `Could not find member '${key}' on object of type '${typeName ?? 'object'}'. Path '${childPath}'`,
        });
      }
    }
    for (const key of flat.required) {
      const prop = flat.properties[key];
      if (mode === 'request' && prop && this.isReadOnly(prop)) continue;
      if (out[key] === undefined) {
        const childPath = path ? `${path}.${key}` : key;
        issues.push({ kind: 'parameter', path: childPath, message: `Required parameter '${childPath}' is missing (null).` });
      }
    }
    return out;
  }

  private isReadOnly(prop: Located): boolean {
    if (prop.schema.readOnly === true) return true;
    return this.specs.resolve(prop).schema.readOnly === true;
  }

  /** Properties, required names and additionalProperties of a schema with its allOf parents merged in. */
  private flatten(at: Located): Flat {
    const cached = this.flatCache.get(at.schema);
    if (cached) return cached;
    const flat: Flat = { properties: {}, required: new Set(), hasObjectShape: false, ...(at.name ? { name: at.name } : {}) };
    for (const parent of at.schema.allOf ?? []) {
      const p = this.flatten(this.specs.resolve({ schema: parent, file: at.file }));
      Object.assign(flat.properties, p.properties);
      for (const r of p.required) flat.required.add(r);
      if (p.additional !== undefined) flat.additional = p.additional;
      flat.hasObjectShape ||= p.hasObjectShape;
    }
    for (const [key, prop] of Object.entries(at.schema.properties ?? {})) flat.properties[key] = { schema: prop, file: at.file };
    for (const r of at.schema.required ?? []) flat.required.add(r);
    const additional = at.schema.additionalProperties;
    if (additional === true) flat.additional = true;
    else if (additional && typeof additional === 'object') flat.additional = { schema: additional, file: at.file };
    flat.hasObjectShape ||= at.schema.properties !== undefined || at.schema.allOf !== undefined || additional !== undefined;
    this.flatCache.set(at.schema, flat);
    return flat;
  }

  private checkString(at: Located, value: unknown, path: string, issues: Issue[]): void {
    const s = at.schema;
    if (typeof value !== 'string') {
      issues.push({ kind: 'content', path, message: `Error converting value ${JSON.stringify(value)} to type 'String'. Path '${path}'` });
      return;
    }
    const xmsEnum = s['x-ms-enum'] as { name?: string } | undefined;
    if (s.enum && !(xmsEnum?.name && OPEN_ENUMS.has(xmsEnum.name)) && !s.enum.includes(value)) {
      issues.push({ kind: 'parameter', path, message: `The value '${value}' of '${path}' is not allowed. Allowed values: ${s.enum.join(', ')}.` });
    }
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) {
      issues.push({ kind: 'parameter', path, message: `The value '${value}' of '${path}' does not match the pattern ${s.pattern}.` });
    }
    if (typeof s.minLength === 'number' && value.length < s.minLength) {
      issues.push({ kind: 'parameter', path, message: `'${path}' must be at least ${s.minLength} characters long.` });
    }
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) {
      issues.push({ kind: 'parameter', path, message: `'${path}' must be at most ${s.maxLength} characters long.` });
    }
    if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) {
      issues.push({ kind: 'content', path, message: `Could not convert string to DateTime: ${value}. Path '${path}'` });
    }
    if (s.format === 'uuid' && !UUID.test(value)) {
      issues.push({ kind: 'content', path, message: `Could not convert string to Guid: ${value}. Path '${path}'` });
    }
  }

  private checkNumber(at: Located, type: string, value: unknown, path: string, issues: Issue[]): void {
    const s = at.schema;
    if (typeof value !== 'number' || !Number.isFinite(value) || (type === 'integer' && !Number.isInteger(value))) {
      issues.push({ kind: 'content', path, message: `Could not convert ${JSON.stringify(value)} to ${type === 'integer' ? 'Int' : 'Double'}. Path '${path}'` });
      return;
    }
    if (s.format === 'int32' && (value < -(2 ** 31) || value > 2 ** 31 - 1)) {
      issues.push({ kind: 'content', path, message: `Value ${value} was either too large or too small for an Int32. Path '${path}'` });
    }
    const min = s.minimum as number | undefined;
    const max = s.maximum as number | undefined;
    if (min !== undefined && (s.exclusiveMinimum === true ? value <= min : value < min)) {
      issues.push({ kind: 'parameter', path, message: `'${path}' must be ${s.exclusiveMinimum === true ? 'greater than' : 'at least'} ${min}.` });
    }
    if (max !== undefined && (s.exclusiveMaximum === true ? value >= max : value > max)) {
      issues.push({ kind: 'parameter', path, message: `'${path}' must be ${s.exclusiveMaximum === true ? 'less than' : 'at most'} ${max}.` });
    }
  }
}
