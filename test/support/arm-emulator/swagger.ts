// Loads the ARM OpenAPI (swagger 2.0) files copied under test/data/azure/specification and indexes
// the operations the emulator serves by operationId: HTTP method, path template, api-version, path
// parameters, request body schema and response schemas. `$ref`s are resolved relative to the file
// that contains them; `x-ms-examples` refs are never followed (their targets were not copied).
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SPEC_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../data/azure');

/** The swagger files whose operations the emulator serves, relative to SPEC_ROOT. */
export const SPEC_FILES = {
  resources: 'specification/resources/resource-manager/Microsoft.Resources/stable/2024-07-01/resources.json',
  virtualMachines: 'specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/virtualMachine.json',
  runCommand: 'specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/runCommand.json',
  vmImages: 'specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/virtualMachineImage.json',
  disks: 'specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/2024-03-02/disk.json',
  snapshots: 'specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/2024-03-02/snapshot.json',
  galleries: 'specification/compute/resource-manager/Microsoft.Compute/GalleryRP/stable/2024-03-03/gallery.json',
  virtualNetworks: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/virtualNetwork.json',
  networkSecurityGroups: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/networkSecurityGroup.json',
  publicIPAddresses: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/publicIpAddress.json',
  networkInterfaces: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/networkInterface.json',
  applicationSecurityGroups: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/applicationSecurityGroup.json',
  applicationGateways: 'specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/applicationGateway.json',
  skus: 'specification/compute/resource-manager/Microsoft.Compute/Skus/stable/2021-07-01/skus.json',
} as const;

// Swagger schema objects are loosely typed JSON; the validator reads the keywords it knows.
export type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  allOf?: Schema[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  readOnly?: boolean;
};

/** A schema together with the file its own `$ref`s are relative to. */
export interface Located {
  schema: Schema;
  file: string;
  /** The definition name, when reached through `#/definitions/<name>`. */
  name?: string;
}

export interface SpecParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'body';
  required: boolean;
  located: Located;
}

export interface SpecOperation {
  operationId: string;
  method: string;
  /** Path template as written in the swagger, e.g. `/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}`. */
  path: string;
  file: string;
  apiVersion: string;
  parameters: SpecParameter[];
  body?: SpecParameter;
  /** Response schemas by status code ('default' included); null when the response has no body. */
  responses: Record<string, Located | null>;
  longRunning: boolean;
  finalStateVia?: string;
}

export class SpecSet {
  private readonly docs = new Map<string, Record<string, unknown>>();
  private readonly operations = new Map<string, SpecOperation>();

  constructor(readonly root: string = SPEC_ROOT) {
    for (const file of Object.values(SPEC_FILES)) this.indexOperations(file);
  }

  doc(file: string): Record<string, unknown> {
    let doc = this.docs.get(file);
    if (!doc) {
      doc = JSON.parse(readFileSync(join(this.root, file), 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
      this.docs.set(file, doc);
    }
    return doc;
  }

  operation(operationId: string): SpecOperation {
    const op = this.operations.get(operationId);
    if (!op) throw new Error(`arm-emulator: operation ${operationId} is not in the copied swagger files`);
    return op;
  }

  allOperations(): SpecOperation[] {
    return [...this.operations.values()];
  }

  /** Follows `$ref` chains until a schema without `$ref` (sibling keywords of a `$ref` are ignored, as in swagger 2.0). */
  resolve(located: Located): Located {
    let current = located;
    for (let depth = 0; current.schema.$ref !== undefined; depth++) {
      if (depth > 32) throw new Error(`arm-emulator: $ref loop at ${current.schema.$ref}`);
      current = this.follow(current.schema.$ref, current.file);
    }
    return current;
  }

  /** The definition `name` in `file` (e.g. for tests that validate a whole example body). */
  definition(file: string, name: string): Located {
    return this.follow(`#/definitions/${name}`, file);
  }

  private follow(ref: string, fromFile: string): Located {
    const [target = '', fragment = ''] = ref.split('#');
    const file = target ? normalize(join(dirname(fromFile), target)) : fromFile;
    let node: unknown = this.doc(file);
    const parts = fragment.split('/').filter((p) => p !== '');
    for (const part of parts) {
      node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (node === undefined || node === null || typeof node !== 'object') {
      throw new Error(`arm-emulator: unresolvable $ref ${ref} in ${fromFile}`);
    }
    const name = parts[0] === 'definitions' && parts.length === 2 ? parts[1] : undefined;
    return { schema: node as Schema, file, ...(name ? { name } : {}) };
  }

  private indexOperations(file: string): void {
    const doc = this.doc(file);
    const apiVersion = String((doc.info as Record<string, unknown>).version);
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const [path, item] of Object.entries(paths)) {
      const shared = (item.parameters as Schema[] | undefined) ?? [];
      for (const [method, raw] of Object.entries(item)) {
        if (method === 'parameters' || typeof raw !== 'object' || raw === null) continue;
        const op = raw as Record<string, unknown>;
        const parameters = [...shared, ...((op.parameters as Schema[] | undefined) ?? [])].map((p) => this.parameter(p, file));
        const responses: Record<string, Located | null> = {};
        for (const [code, response] of Object.entries((op.responses as Record<string, Schema>) ?? {})) {
          const resolved = this.resolve({ schema: response, file });
          const schema = resolved.schema.schema as Schema | undefined;
          responses[code] = schema ? { schema, file: resolved.file } : null;
        }
        const lroOptions = op['x-ms-long-running-operation-options'] as Record<string, string> | undefined;
        const entry: SpecOperation = {
          operationId: String(op.operationId),
          method: method.toUpperCase(),
          path,
          file,
          apiVersion,
          parameters,
          responses,
          longRunning: op['x-ms-long-running-operation'] === true,
          ...(lroOptions?.['final-state-via'] ? { finalStateVia: lroOptions['final-state-via'] } : {}),
        };
        const body = parameters.find((p) => p.in === 'body');
        if (body) entry.body = body;
        if (!this.operations.has(entry.operationId)) this.operations.set(entry.operationId, entry);
      }
    }
  }

  private parameter(raw: Schema, file: string): SpecParameter {
    const { schema, file: at } = this.resolve({ schema: raw, file });
    // A non-body parameter carries its schema keywords inline, next to name/in/required.
    const inline: Schema = Object.fromEntries(Object.entries(schema).filter(([k]) => !['name', 'in', 'required', 'description'].includes(k)));
    const located: Located = schema.in === 'body' ? { schema: schema.schema as Schema, file: at } : { schema: inline, file: at };
    return {
      name: String(schema.name),
      in: schema.in as SpecParameter['in'],
      required: (schema.required as unknown) === true,
      located,
    };
  }
}

let shared: SpecSet | undefined;

/** One parsed copy per process: the files are large and read-only. */
export function specSet(): SpecSet {
  shared ??= new SpecSet();
  return shared;
}
