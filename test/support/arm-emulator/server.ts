// The HTTP front of the emulator: what ARM checks before a resource provider sees a request
// (bearer token, api-version, subscription, throttling), swagger validation of path parameters
// and body, then the handler; finally every JSON answer is checked against the swagger response
// schema of its operation, so an emulator bug shows up as a loud 500 instead of a wrong shape.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArmError, invalidContent, invalidParameter } from './errors.js';
import type { Reply } from './lro.js';
import type { Core, Match, RequestContext, Router } from './router.js';
import type { SpecOperation } from './swagger.js';

const MAX_BODY = 4 * 1024 * 1024;

export function createHandler(core: Core, router: Router) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void handle(core, router, req, res);
  };
}

async function handle(core: Core, router: Router, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  let reply: Reply;
  let op: SpecOperation | undefined;
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new ArmError(413, 'RequestEntityTooLarge', 'The request body is larger than the emulator accepts (4 MiB).');
      chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const found = router.match(method, url.pathname);
    if (!found) {
      throw new ArmError(404, 'InvalidResourceType', `The arm-emulator does not serve ${method} ${url.pathname}.`);
    }
    if ('methodMismatch' in found) {
      throw new ArmError(405, 'MethodNotAllowed', `The arm-emulator does not serve ${method} on ${url.pathname}.`);
    }
    op = found.route.op;
    const ctx: RequestContext = {
      core,
      method,
      path: url.pathname,
      query: url.searchParams,
      params: found.params,
      headers: req.headers,
      rawBody: Buffer.concat(chunks).toString('utf8'),
      body: undefined,
      ...(op ? { op } : {}),
    };
    if (found.route.kind === 'arm') armChecks(core, found, ctx);
    reply = await found.route.handler(ctx);
    if (op && core.state.config.validateResponses) checkResponse(core, op, reply);
  } catch (err) {
    if (err instanceof ArmError) {
      reply = { status: err.status, headers: err.headers, body: err.body() };
    } else {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      reply = { status: 500, body: { error: { code: 'InternalServerError', message: `arm-emulator bug: ${message}` } } };
    }
  }
  const headers: Record<string, string> = {
    'x-ms-request-id': requestId,
    'x-ms-correlation-request-id': String(req.headers['x-ms-correlation-request-id'] ?? requestId),
    ...(req.headers['x-ms-client-request-id'] ? { 'x-ms-client-request-id': String(req.headers['x-ms-client-request-id']) } : {}),
    ...(reply.headers ?? {}),
  };
  let payload: string | Buffer | undefined;
  if (reply.bytes !== undefined) {
    headers['Content-Type'] = reply.contentType ?? 'application/octet-stream';
    payload = reply.bytes;
  } else if (reply.text !== undefined) {
    headers['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
    payload = reply.text;
  } else if (reply.body !== undefined) {
    headers['Content-Type'] = 'application/json; charset=utf-8';
    payload = JSON.stringify(reply.body);
  }
  if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

/** What ARM itself checks before the resource provider runs: auth, api-version, subscription, faults, validation. */
function armChecks(core: Core, found: Match, ctx: RequestContext): void {
  const auth = ctx.headers.authorization;
  if (!auth) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", undefined, {
      'WWW-Authenticate': 'Bearer error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
    });
  }
  if (!/^Bearer\s+\S+/i.test(auth)) {
    throw new ArmError(401, 'InvalidAuthenticationToken', "Authentication failed. The 'Authorization' header is not of the 'Bearer' scheme.", undefined, {
      'WWW-Authenticate': 'Bearer error="invalid_token", error_description="The access token is missing or malformed."',
    });
  }
  const expected = found.route.op?.apiVersion ?? found.route.apiVersion;
  const given = ctx.query.get('api-version');
  if (!given) {
    throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
  }
  if (expected && given !== expected) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${given}' is invalid. The supported versions are '${expected}' (the arm-emulator serves the version of the swagger it validates against).`,
    );
  }
  const sub = ctx.params.subscriptionId;
  if (sub !== undefined && sub.toLowerCase() !== core.state.subscriptionId.toLowerCase()) {
    throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
  }
  const op = found.route.op;
  if (!op) return;
  takeSyncFault(core, op.operationId, ctx.path);
  validatePathParameters(core, op, ctx);
  validateQueryParameters(core, op, ctx);
  if (op.body) ctx.body = validateBody(core, op, ctx.rawBody);
}

function takeSyncFault(core: Core, operationId: string, path: string): void {
  const fault = core.state.faults.find(
    (f) => f.mode === 'sync' && f.remaining > 0 && (f.operationId === operationId || f.operationId === '*') &&
      (!f.pathContains || path.toLowerCase().includes(f.pathContains.toLowerCase())),
  );
  if (!fault) return;
  fault.remaining--;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
  throw new ArmError(fault.status, fault.code, fault.message, undefined, headers);
}

function validatePathParameters(core: Core, op: SpecOperation, ctx: RequestContext): void {
  for (const p of op.parameters.filter((x) => x.in === 'path')) {
    const value = ctx.params[p.name];
    if (value === undefined) continue;
    const { issues } = core.validator.validate(p.located, value, 'request', p.name);
    if (issues[0]) throw invalidParameter(issues[0].message, p.name);
  }
}

function validateQueryParameters(core: Core, op: SpecOperation, ctx: RequestContext): void {
  for (const p of op.parameters.filter((x) => x.in === 'query' && x.name !== 'api-version')) {
    const raw = ctx.query.get(p.name);
    if (raw === null) continue;
    const type = core.specs.resolve(p.located).schema.type;
    const value = type === 'integer' || type === 'number' ? Number(raw) : type === 'boolean' ? raw === 'true' ? true : raw === 'false' ? false : raw : raw;
    const { issues } = core.validator.validate(p.located, value, 'request', p.name);
    if (issues[0]) throw invalidParameter(issues[0].message, p.name);
  }
}

function validateBody(core: Core, op: SpecOperation, raw: string): unknown {
  const param = op.body!;
  if (raw.trim() === '') {
    if (param.required) throw invalidContent(`Value cannot be null. Parameter name: ${param.name}`, param.name);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw invalidContent(`${(err as Error).message}`);
  }
  const { value, issues } = core.validator.validate(param.located, parsed, 'request');
  const first = issues.find((i) => i.kind === 'content') ?? issues[0];
  if (!first) return value;
  const details = issues.map((i) => ({ code: i.kind === 'content' ? 'InvalidRequestContent' : 'InvalidParameter', message: i.message, target: i.path }));
  const error = first.kind === 'content' ? invalidContent(first.message, first.path) : invalidParameter(first.message, first.path);
  throw new ArmError(error.status, error.code, error.message, error.target, {}, details);
}

function checkResponse(core: Core, op: SpecOperation, reply: Reply): void {
  const listed = op.responses[String(reply.status)];
  if (reply.status < 400 && listed === undefined) {
    throw new Error(`${op.operationId} answered ${reply.status}, which its swagger does not list (${Object.keys(op.responses).join(', ')})`);
  }
  if (reply.body === undefined || reply.text !== undefined || reply.bytes !== undefined) return;
  const schema = listed ?? op.responses.default;
  if (!schema) return;
  const { issues } = core.validator.validate(schema, reply.body, 'response');
  if (issues.length > 0) {
    throw new Error(`${op.operationId} answer ${reply.status} does not match its swagger: ${issues.map((i) => i.message).join('; ')}`);
  }
}
