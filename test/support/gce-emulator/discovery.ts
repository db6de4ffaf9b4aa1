// The Compute v1 discovery subset (test/data/gce/compute-v1-subset.json): typed access to its
// methods and schemas, and the routes compiled from each method's `path`. The emulator serves
// exactly the methods in this file; the router refuses anything else.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One node of a discovery schema or parameter (the subset of JSON Schema discovery uses). */
export interface SchemaNode {
  $ref?: string;
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'any';
  format?: string;
  enum?: string[];
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode;
  items?: SchemaNode;
  annotations?: { required?: string[] };
  description?: string;
  // Parameters only.
  location?: 'path' | 'query';
  required?: boolean;
  minimum?: string;
  maximum?: string;
  default?: string;
  repeated?: boolean;
}

export interface DiscoveryMethod {
  id: string;
  httpMethod: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  parameters?: Record<string, SchemaNode>;
  parameterOrder?: string[];
  request?: { $ref: string };
  response?: { $ref: string };
}

export interface DiscoveryDocument {
  revision: string;
  basePath: string;
  parameters: Record<string, SchemaNode>;
  resources: Record<string, { methods: Record<string, DiscoveryMethod> }>;
  schemas: Record<string, SchemaNode & { id?: string }>;
}

export interface Route {
  /** e.g. `instances.insert` (the discovery id without `compute.`). */
  name: string;
  resource: string;
  method: DiscoveryMethod;
  /** Matches the path after the base path, capturing the path parameters in order. */
  regex: RegExp;
  pathParams: string[];
}

export const SUBSET_FILE = fileURLToPath(new URL('../../data/gce/compute-v1-subset.json', import.meta.url));

let cached: DiscoveryDocument | undefined;

/** The discovery subset, parsed once per process (it is ~0.5 MB). */
export function discovery(): DiscoveryDocument {
  cached ??= JSON.parse(readFileSync(SUBSET_FILE, 'utf8')) as DiscoveryDocument;
  return cached;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every method of the subset as a route (several share a path and differ by HTTP verb). */
export function compileRoutes(doc: DiscoveryDocument = discovery()): Route[] {
  const routes: Route[] = [];
  for (const [resource, { methods }] of Object.entries(doc.resources)) {
    for (const [name, method] of Object.entries(methods)) {
      const pathParams: string[] = [];
      const pattern = method.path
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const param = /^\{\+?([^}]+)\}$/.exec(part);
          if (!param) return escapeRegex(part);
          pathParams.push(param[1]!);
          return '([^/]+)';
        })
        .join('');
      routes.push({ name: `${resource}.${name}`, resource, method, regex: new RegExp(`^${pattern}$`), pathParams });
    }
  }
  return routes;
}

export function schema(name: string, doc: DiscoveryDocument = discovery()): SchemaNode {
  const found = doc.schemas[name];
  if (!found) throw new Error(`schema ${name} is not in the discovery subset`);
  return found;
}
