// A small ARM REST client over plain fetch, for tests that set up or inspect the emulator the way a
// real client would: bearer token, api-version per provider, long-running operations followed
// through Azure-AsyncOperation (else Location) until they end.
import type { ArmEmulator } from './index.js';
import { API_VERSIONS, type Family } from './state.js';

export interface ArmResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface CallOptions {
  /** Default: the version of the provider the path names. `null` sends none. */
  apiVersion?: string | null;
  /** Default 'Bearer test-token'; `null` sends no Authorization header. */
  authorization?: string | null;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** The api-version a path needs, from the provider and type it names. */
export function apiVersionFor(path: string): string {
  const p = path.toLowerCase();
  const family: Family = p.includes('/microsoft.network/')
    ? 'network'
    : /\/microsoft\.compute\/(disks|snapshots)/.test(p)
      ? 'disks'
      : p.includes('/microsoft.compute/galleries')
        ? 'gallery'
        : p.includes('/microsoft.compute/')
          ? 'compute'
          : 'resources';
  return API_VERSIONS[family];
}

export class ArmClient {
  /** `doFetch`: another fetch (e.g. fetchTrusting(ca) for an emulator started with tls). */
  constructor(
    readonly arm: Pick<ArmEmulator, 'endpoint' | 'subscriptionId'>,
    private readonly doFetch: typeof fetch = fetch,
  ) {}

  /** `/subscriptions/<sub>/resourceGroups/<rg>` plus `rest` (e.g. `/providers/Microsoft.Network/virtualNetworks/v`). */
  path(rg: string, rest = ''): string {
    return `/subscriptions/${this.arm.subscriptionId}/resourceGroups/${rg}${rest}`;
  }

  async call(method: string, pathOrUrl: string, body?: unknown, opts: CallOptions = {}): Promise<ArmResponse> {
    const url = new URL(pathOrUrl.startsWith('http') ? pathOrUrl : `${this.arm.endpoint}${pathOrUrl}`);
    const version = opts.apiVersion === undefined ? apiVersionFor(url.pathname) : opts.apiVersion;
    if (version !== null && !url.searchParams.has('api-version')) url.searchParams.set('api-version', version);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const auth = opts.authorization === undefined ? 'Bearer test-token' : opts.authorization;
    if (auth !== null) headers.Authorization = auth;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.doFetch(url, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (blob downloads): keep the text.
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /**
   * Polls the operation a 201/202 answer started until it ends, as a robust client does:
   * Azure-AsyncOperation if present, else Location. Returns the last poll answer and the count.
   */
  async wait(started: ArmResponse, maxPolls = 50): Promise<{ status: string; last: ArmResponse; polls: number }> {
    const asyncUrl = started.headers.get('azure-asyncoperation');
    const locationUrl = started.headers.get('location');
    if (!asyncUrl && !locationUrl) throw new Error(`no status header on ${started.status}: ${JSON.stringify(started.body)}`);
    for (let polls = 1; polls <= maxPolls; polls++) {
      const last = await this.call('GET', (asyncUrl ?? locationUrl)!);
      if (asyncUrl) {
        if (last.body?.status !== 'InProgress') return { status: last.body.status, last, polls };
      } else if (last.status !== 202) {
        return { status: last.status < 300 ? 'Succeeded' : 'Failed', last, polls };
      }
    }
    throw new Error(`operation did not end within ${maxPolls} polls`);
  }

  /** PUT, then wait for the operation (when there is one), then GET: the resource as it ended up. */
  async put(path: string, body: unknown, opts: CallOptions = {}): Promise<ArmResponse> {
    const started = await this.call('PUT', path, body, opts);
    if (started.status >= 300) throw new Error(`PUT ${path} → ${started.status} ${JSON.stringify(started.body)}`);
    if (started.headers.get('azure-asyncoperation') || started.headers.get('location')) {
      const done = await this.wait(started);
      if (done.status !== 'Succeeded') throw new Error(`PUT ${path} ended ${done.status}: ${JSON.stringify(done.last.body)}`);
    }
    return this.call('GET', path, undefined, opts);
  }

  /** POST or DELETE and wait until the operation ends; throws unless it succeeded. */
  async act(method: 'POST' | 'DELETE', path: string, body?: unknown, opts: CallOptions = {}): Promise<ArmResponse> {
    const started = await this.call(method, path, body, opts);
    if (started.status >= 300) throw new Error(`${method} ${path} → ${started.status} ${JSON.stringify(started.body)}`);
    if (started.status !== 202) return started;
    const done = await this.wait(started);
    if (done.status !== 'Succeeded') throw new Error(`${method} ${path} ended ${done.status}: ${JSON.stringify(done.last.body)}`);
    return done.last;
  }
}
