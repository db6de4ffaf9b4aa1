// A small fetch client for the emulator's own tests and for test setup elsewhere: plain HTTP with a
// bearer token, paths relative to the project, and a poll loop for Operations that follows
// NOTES.md (poll the operation's own scope until DONE, then look at `error`).
import type { Json } from './validate.js';

export interface ApiResult<T = Json> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean>;
  /** Bearer token; `null` sends no Authorization header. Default `test-token`. */
  token?: string | null;
  /** Send `body` as this exact text instead of JSON. */
  rawBody?: string;
}

export class GceTestClient {
  constructor(
    readonly endpoint: string,
    readonly project: string,
  ) {}

  /** `path` relative to `projects/{project}/` (or absolute when it starts with `/`). */
  async call<T = Json>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResult<T>> {
    const url = new URL(path.startsWith('/') ? `${this.endpoint}${path}` : `${this.endpoint}/compute/v1/projects/${this.project}/${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.append(k, String(v));
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? 'test-token' : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const text = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (text !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, { method, headers, body: text });
    const raw = await response.text();
    return { status: response.status, body: (raw === '' ? {} : JSON.parse(raw)) as T, headers: response.headers };
  }

  get<T = Json>(path: string, query?: CallOptions['query']): Promise<ApiResult<T>> {
    return this.call<T>('GET', path, { query });
  }

  post<T = Json>(path: string, body?: unknown, query?: CallOptions['query']): Promise<ApiResult<T>> {
    return this.call<T>('POST', path, { body, query });
  }

  delete<T = Json>(path: string, query?: CallOptions['query']): Promise<ApiResult<T>> {
    return this.call<T>('DELETE', path, { query });
  }

  /** The operations collection path an Operation lives in. */
  operationPath(op: Json): string {
    const scope = op.zone ? `zones/${last(op.zone as string)}` : op.region ? `regions/${last(op.region as string)}` : 'global';
    return `${scope}/operations/${op.name as string}`;
  }

  /** Polls with `get` until DONE (bounded), returning every state seen; throws if it never finishes. */
  async pollUntilDone(op: Json, maxPolls = 20): Promise<{ final: Json; seen: string[] }> {
    const seen = [op.status as string];
    let current = op;
    for (let i = 0; i < maxPolls && current.status !== 'DONE'; i += 1) {
      const result = await this.get(this.operationPath(current));
      if (result.status !== 200) throw new Error(`polling ${op.name}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
      current = result.body;
      seen.push(current.status as string);
    }
    if (current.status !== 'DONE') throw new Error(`operation ${op.name} not DONE after ${maxPolls} polls`);
    return { final: current, seen };
  }

  /** A mutation that must be accepted and succeed: returns the final Operation. */
  async mutate(method: 'POST' | 'DELETE' | 'PATCH' | 'PUT', path: string, body?: unknown, query?: CallOptions['query']): Promise<Json> {
    const result = await this.call(method, path, { body, query });
    if (result.status !== 200) throw new Error(`${method} ${path}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
    const { final } = await this.pollUntilDone(result.body);
    if (final.error) throw new Error(`${method} ${path}: operation failed ${JSON.stringify(final.error)}`);
    return final;
  }
}

function last(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
