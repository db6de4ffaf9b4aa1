// One API request, in the order the real front end works: base path, credentials, route, path and
// query parameters, rate/quota faults, the JSON body against the discovery schema, requestId
// (a retry gets the first Operation back), then the resource handler. Mutations answer with an
// Operation. Every answer is checked against the method's response schema (an emulator bug
// otherwise, reported as HTTP 500 so the test fails loudly).
import { PUBLIC_IMAGE_PROJECT } from './catalog.js';
import { compileRoutes, type Route } from './discovery.js';
import { badPayload, forbidden, GceError, invalidField, notFound, unauthenticated } from './errors.js';
import { addresses } from './resources/addresses.js';
import { catalogHandlers } from './resources/catalog.js';
import { disks } from './resources/disks.js';
import { firewalls } from './resources/firewalls.js';
import { images } from './resources/images.js';
import { instanceSettings } from './resources/instance-settings.js';
import { instances } from './resources/instances.js';
import { loadBalancing } from './resources/load-balancing.js';
import { operations } from './resources/operations.js';
import { resourcePolicies } from './resources/resource-policies.js';
import { snapshots } from './resources/snapshots.js';
import { responseProblems, validateParams, validateRequestBody, type Json } from './validate.js';
import type { Handler, World } from './world.js';

export const BASE_PATH = '/compute/v1/';

export const HANDLERS: Record<string, Handler> = {
  ...catalogHandlers,
  ...instances,
  ...instanceSettings,
  ...disks,
  ...snapshots,
  ...images,
  ...addresses,
  ...firewalls,
  ...resourcePolicies,
  ...loadBalancing,
  ...operations,
};

/** What the public image project allows anyone to do. */
const PUBLIC_READS = ['images.get', 'images.list', 'images.getFromFamily'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface RequestRecord {
  /** `instances.insert`, or undefined when no route matched. */
  route?: string;
  httpMethod: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
  /** The bearer token the client sent, if any. */
  token?: string;
  requestId?: string;
  status: number;
}

/** Whether a method changes something (answers with an Operation and is not an operations method). */
export function isMutation(route: Route): boolean {
  return route.method.response?.$ref === 'Operation' && !route.resource.endsWith('Operations');
}

export class Router {
  readonly routes = compileRoutes();
  readonly log: RequestRecord[] = [];

  constructor(
    private readonly world: World,
    private readonly checkResponses: boolean,
  ) {
    for (const route of this.routes) if (!HANDLERS[route.name]) throw new Error(`no handler for ${route.name}`);
    for (const name of Object.keys(HANDLERS)) if (!this.routes.some((r) => r.name === name)) throw new Error(`handler ${name} has no route`);
  }

  mutating(name: string): boolean | undefined {
    const route = this.routes.find((r) => r.name === name);
    return route && isMutation(route);
  }

  handle(httpMethod: string, url: URL, authorization: string | undefined, rawBody: string): ApiResponse {
    const record: RequestRecord = { httpMethod, path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0 };
    this.log.push(record);
    try {
      const json = this.dispatch(httpMethod, url, authorization, rawBody, record);
      record.status = 200;
      return { status: 200, headers: {}, body: json };
    } catch (err) {
      const error = err instanceof GceError ? err : new GceError(500, 'backendError', `emulator: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      record.status = error.httpStatus;
      return { status: error.httpStatus, headers: error.extra.headers ?? {}, body: error.toJSON() };
    }
  }

  private dispatch(httpMethod: string, url: URL, authorization: string | undefined, rawBody: string, record: RequestRecord): Json {
    if (!url.pathname.startsWith(BASE_PATH)) throw notFound(url.pathname);
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? url.searchParams.get('access_token') ?? undefined;
    if (bearer) record.token = bearer;
    if (!bearer) throw unauthenticated();

    const path = url.pathname.slice(BASE_PATH.length);
    const candidates = this.routes.filter((r) => r.regex.test(path));
    const route = candidates.find((r) => r.method.httpMethod === httpMethod);
    if (!route) throw new GceError(404, 'notFound', `The requested URL ${url.pathname} was not found on this server (${httpMethod}).`);
    record.route = route.name;
    const values = route.regex.exec(path)!.slice(1).map((v) => decodeURIComponent(v));
    const params = Object.fromEntries(route.pathParams.map((name, i) => [name, values[i]!]));
    const query = validateParams(route.method, params, url.searchParams);

    const project = params.project!;
    this.world.checkProject(project);
    if (project === PUBLIC_IMAGE_PROJECT && !PUBLIC_READS.includes(route.name)) {
      throw forbidden(`Required 'compute.${route.name}' permission for 'projects/${PUBLIC_IMAGE_PROJECT}'`);
    }

    const httpFault = this.world.faults.take('http', route.name, params, { project });
    if (httpFault && 'http' in httpFault) throw httpFault.http;

    let parsed: unknown;
    if (rawBody.trim() !== '') {
      try {
        parsed = JSON.parse(rawBody);
      } catch (e) {
        throw badPayload(`Invalid JSON payload received. ${e instanceof Error ? e.message : 'Unexpected token.'}`, '');
      }
    }
    record.body = parsed;
    const body = validateRequestBody(route.method, parsed);

    const requestId = query.requestId;
    if (requestId !== undefined) {
      record.requestId = requestId;
      if (!UUID.test(requestId) || /^[0-]+$/.test(requestId)) {
        throw invalidField('requestId', requestId, 'The request ID must be a valid UUID with the exception that zero UUID is not supported (00000000-0000-0000-0000-000000000000).');
      }
      const earlier = this.world.ops.byRequest(project, requestId);
      if (earlier) return earlier;
    }

    const answer = HANDLERS[route.name]!({ route: route.name, project, params, query, body }, this.world);
    let json: Json;
    if ('plan' in answer) {
      const opFault = this.world.faults.take('operation', route.name, params, { project });
      const plan = opFault && 'operation' in opFault ? { ...answer.plan, failure: opFault.operation, instant: false } : answer.plan;
      json = this.world.ops.create(project, plan, requestId);
    } else {
      json = answer.json;
    }
    if (this.checkResponses && route.method.response) {
      const problems = responseProblems(route.method.response.$ref, json);
      if (problems.length > 0) throw new Error(`response of ${route.name} does not match ${route.method.response.$ref}: ${problems.join('; ')}`);
    }
    return json;
  }
}
