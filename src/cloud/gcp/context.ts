// What every part of the GCE adapter shares: the project and region, a small REST client for
// Compute v1 over fetch (bearer token from auth.ts, Google's JSON errors, retries of rate limits
// and 5xx), Operations waited for until DONE, and the one call wrapper that turns whatever failed
// into our typed errors.
import { randomUUID } from 'node:crypto';
import { errorFromOperation, errorFromResponse, GceApiError, isNotFound, toLaunchError, type GceErrorContext } from './errors.js';

export const DEFAULT_COMPUTE_ENDPOINT = 'https://compute.googleapis.com/compute/v1/';

export interface GceContext {
  project: string;
  region: string;
  /** The zone --zone pins every placement to, if any. */
  zone?: string;
  /** Base URL ending in /compute/v1/ (CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE overrides Google's). */
  endpoint: string;
  token(): Promise<string>;
  fetch: typeof fetch;
  /** Interval between polls while waiting for an Operation or a state. */
  pollIntervalMs: number;
  /** How many times a rate-limited or 5xx call is retried (with back-off) before it fails. */
  maxRetries: number;
  /** Where Sourcegraph's own images would be (published images). */
  publishedImageProject: string;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export type Json = Record<string, unknown>;

export interface Operation extends Json {
  name: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  zone?: string;
  region?: string;
  targetLink?: string;
  error?: { errors?: { code?: string; message?: string }[] };
  httpErrorStatusCode?: number;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

/** `projects/<project>/<rest>` unless `rest` already names a project. */
export function projectPath(c: GceContext, rest: string): string {
  return rest.startsWith('projects/') ? rest : `projects/${c.project}/${rest}`;
}

/** One HTTP call to Compute; answers the JSON body, throws GceApiError for an error answer. */
export async function request<T = Json>(c: GceContext, method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const url = new URL(projectPath(c, path), c.endpoint);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { authorization: `Bearer ${await c.token()}`, 'x-goog-api-client': 'sourcegraph-launch' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const response = await c.fetch(url, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await response.text();
    let body: unknown = {};
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { error: { code: response.status, message: `not a Compute API answer: ${text.slice(0, 120)}` } };
      }
    }
    if (response.ok) return body as T;
    const err = errorFromResponse(response.status, body, response.headers);
    const retryable = response.status === 429 || response.status >= 500 || err.reason === 'rateLimitExceeded' || err.reason === 'userRateLimitExceeded';
    if (!retryable || attempt >= c.maxRetries) throw err;
    await c.sleep(Math.min(30_000, (err.extra.retryAfterSeconds ?? 0) * 1000 || c.pollIntervalMs * 2 ** attempt));
  }
}

/** Runs API calls; whatever they throw becomes one of our typed errors. */
export async function call<T>(c: GceContext, operation: string, send: () => Promise<T>, extra: Partial<GceErrorContext> = {}): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, project: c.project, region: c.region, ...extra });
  }
}

/** A read that answers undefined for "not found". */
export async function getOrUndefined<T = Json>(c: GceContext, operation: string, path: string): Promise<T | undefined> {
  try {
    return await request<T>(c, 'GET', path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw toLaunchError(err, { operation, project: c.project, region: c.region });
  }
}

/** Every item of a list (following nextPageToken); `filter` in Compute's list filter syntax. */
export async function listAll<T = Json>(c: GceContext, operation: string, path: string, filter?: string): Promise<T[]> {
  return call(c, operation, async () => {
    const items: T[] = [];
    let pageToken: string | undefined;
    do {
      const page = await request<{ items?: T[]; nextPageToken?: string }>(c, 'GET', path, { query: { filter, pageToken, maxResults: 500 } });
      items.push(...(page.items ?? []));
      pageToken = page.nextPageToken || undefined;
    } while (pageToken);
    return items;
  });
}

/** The path of the collection an Operation lives in. */
function operationPath(op: Operation): string {
  const last = (url: string) => url.slice(url.lastIndexOf('/') + 1);
  const scope = op.zone ? `zones/${last(op.zone)}` : op.region ? `regions/${last(op.region)}` : 'global';
  return `${scope}/operations/${op.name}`;
}

/** Waits until an Operation is DONE (the API's wait is best-effort: loop), throwing its error if it failed. */
export async function waitOperation(c: GceContext, op: Operation): Promise<Operation> {
  let current = op;
  while (current.status !== 'DONE') {
    current = await request<Operation>(c, 'POST', `${operationPath(current)}/wait`);
    if (current.status !== 'DONE') await c.sleep(c.pollIntervalMs);
  }
  if (current.error?.errors?.length) throw errorFromOperation(current);
  return current;
}

/** A mutation: the request (with a requestId so a retry of this call is not done twice), then its Operation until DONE. */
export async function mutate(c: GceContext, method: string, path: string, opts: RequestOptions & { requestId?: string | null } = {}): Promise<Operation> {
  // A few methods (global setLabels) take no requestId: null leaves it out.
  const requestId = opts.requestId === null ? undefined : (opts.requestId ?? randomUUID());
  const op = await request<Operation>(c, method, path, { ...opts, query: { ...opts.query, requestId } });
  return waitOperation(c, op);
}

/** Polls `probe` until it answers a value, or throws what `timeout` makes once `timeoutMs` passed. */
export async function pollUntil<T>(c: GceContext, timeoutMs: number, probe: () => Promise<T | undefined>, timeout: () => Error): Promise<T> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (c.now() >= deadline) throw timeout();
    await c.sleep(c.pollIntervalMs);
  }
}

export { GceApiError };
