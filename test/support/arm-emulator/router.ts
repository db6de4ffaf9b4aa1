// Maps a request to a handler. ARM operations are registered by swagger operationId, so their
// method and path template come from the spec itself and the emulator answers exactly the paths a
// real client sends; literal segments match case-insensitively, as ARM does. Routes that are not
// in the specs (status URLs, blob downloads, the control API) are registered by pattern.
import type { IncomingHttpHeaders } from 'node:http';
import type { Lro, Reply } from './lro.js';
import type { ResourceType } from './resource-kit.js';
import type { State } from './state.js';
import type { SpecOperation, SpecSet } from './swagger.js';
import type { Validator } from './validator.js';

/** What every handler can reach. */
export interface Core {
  /** Replaced by the control API's reset. */
  state: State;
  lro: Lro;
  specs: SpecSet;
  validator: Validator;
  /** Every resource type the emulator serves, by lower-cased type name (for cascades and group deletes). */
  kinds: Map<string, ResourceType>;
  /** Base URL the emulator answers on (for status URLs and blob links). */
  endpoint(): string;
  /** The serial log of a VM none was set for (StartArmEmulatorOptions.serialLog). */
  serialLog?: (vm: { resourceGroup: string; name: string }) => string | undefined;
}

export interface RequestContext {
  core: Core;
  method: string;
  path: string;
  query: URLSearchParams;
  /** Path parameters by their swagger names (decoded). */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The request body after swagger validation (readOnly members and nulls removed). */
  body: any;
  /** The swagger operation, for ARM routes. */
  op?: SpecOperation;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  pattern: RegExp;
  paramNames: string[];
  handler: Handler;
  op?: SpecOperation;
  /** 'arm' routes need a bearer token and the api-version; 'blob' and 'control' do not. */
  kind: 'arm' | 'blob' | 'control';
  /** For custom ARM routes (status URLs): the api-version they require. */
  apiVersion?: string;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Router {
  private readonly routes: Route[] = [];

  constructor(private readonly specs: SpecSet) {}

  /** Serves a swagger operation with `handler`. */
  operation(operationId: string, handler: Handler): void {
    const op = this.specs.operation(operationId);
    const paramNames: string[] = [];
    const source = op.path
      .split('/')
      .map((segment) => {
        const m = /^\{(.+)\}$/.exec(segment);
        if (m) {
          paramNames.push(m[1]!);
          return '([^/]+)';
        }
        return escape(segment);
      })
      .join('/');
    this.routes.push({ method: op.method, pattern: new RegExp(`^${source}/?$`, 'i'), paramNames, handler, op, kind: 'arm' });
  }

  /** Serves a path that is not in the specs; named groups of `pattern` become params. */
  custom(method: string, pattern: RegExp, handler: Handler, kind: Route['kind'], apiVersion?: string): void {
    this.routes.push({ method, pattern, paramNames: [], handler, kind, ...(apiVersion ? { apiVersion } : {}) });
  }

  /** The route for `method path`; `methodMismatch` when only another method serves the path. */
  match(method: string, path: string): Match | { methodMismatch: true } | undefined {
    let pathKnown = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = { ...(m.groups ?? {}) };
      route.paramNames.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]!);
      });
      return { route, params };
    }
    return pathKnown ? { methodMismatch: true } : undefined;
  }
}
