// Azure Resource Manager over plain fetch: bearer token, the api-version of each resource provider,
// retries of throttling and server errors (Retry-After honoured, bounded), and long-running
// operations followed through Azure-AsyncOperation (else Location) until they end. Every failure
// comes out as one of our typed errors (errors.ts). No SDK: ARM is JSON over HTTPS.
import { armScope, type TokenCredential } from './credentials.js';
import { mapArmFailure, toLaunchError } from './errors.js';

/** The api-versions this adapter speaks (the ones the published specs in the reference set describe). */
export const API_VERSIONS = {
  resources: '2024-07-01',
  network: '2024-05-01',
  compute: '2024-07-01',
  disks: '2024-03-02',
  gallery: '2024-03-03',
} as const;

export function apiVersionFor(path: string): string {
  const p = path.toLowerCase();
  if (p.includes('/microsoft.network/')) return API_VERSIONS.network;
  if (/\/microsoft\.compute\/(disks|snapshots)/.test(p)) return API_VERSIONS.disks;
  if (p.includes('/microsoft.compute/galleries')) return API_VERSIONS.gallery;
  if (p.includes('/microsoft.compute/')) return API_VERSIONS.compute;
  return API_VERSIONS.resources;
}

// ARM JSON: resource bodies are open-ended; the mappers read what they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface ArmOptions {
  /** https://management.azure.com, or another cloud's (or an emulator's) resource manager. */
  endpoint: string;
  subscriptionId: string;
  credential: TokenCredential;
  pollIntervalMs: number;
  /** Attempts of one request on 429/5xx/network errors. */
  maxAttempts: number;
  sleep(ms: number): Promise<void>;
  fetch?: typeof fetch;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Json | undefined;
}

export class Arm {
  readonly endpoint: string;
  readonly subscriptionId: string;
  /** The token's scope: the endpoint's own (another cloud's resource manager has another audience). */
  readonly scope: string;
  constructor(private readonly o: ArmOptions) {
    this.endpoint = o.endpoint.replace(/\/+$/, '');
    this.scope = armScope(this.endpoint);
    this.subscriptionId = o.subscriptionId;
  }

  get credential(): TokenCredential {
    return this.o.credential;
  }

  /** One request (retried on throttling and server errors); ≥ 400 throws the mapped error. */
  async send(method: string, pathOrUrl: string, operation: string, body?: unknown, opts: { query?: Record<string, string>; machineType?: string; allow?: number[] } = {}): Promise<Answer> {
    const url = new URL(pathOrUrl.startsWith('http') ? pathOrUrl : `${this.endpoint}${pathOrUrl}`);
    if (!url.searchParams.has('api-version')) url.searchParams.set('api-version', apiVersionFor(url.pathname));
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const ctx = { operation, subscription: this.subscriptionId, ...(opts.machineType ? { machineType: opts.machineType } : {}) };
    for (let attempt = 1; ; attempt++) {
      let answer: Answer;
      try {
        const { token } = await this.o.credential.getToken(this.scope);
        const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        const res = await (this.o.fetch ?? fetch)(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
        const text = await res.text();
        let parsed: Json | undefined;
        try {
          parsed = text ? (JSON.parse(text) as Json) : undefined;
        } catch {
          parsed = { raw: text };
        }
        answer = { status: res.status, headers: res.headers, body: parsed };
      } catch (e) {
        const mapped = toLaunchError(e, ctx);
        if (mapped.code === 'network' && attempt < this.o.maxAttempts) {
          await this.o.sleep(this.backoff(attempt));
          continue;
        }
        throw mapped;
      }
      if (answer.status < 400 || opts.allow?.includes(answer.status)) return answer;
      const retryable = answer.status === 429 || answer.status >= 500;
      if (retryable && attempt < this.o.maxAttempts) {
        const after = Number(answer.headers.get('retry-after'));
        await this.o.sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 60_000) : this.backoff(attempt));
        continue;
      }
      const err = (answer.body?.error ?? {}) as { code?: string; message?: string };
      throw mapArmFailure({ status: answer.status, code: err.code ?? String(answer.status), message: err.message ?? JSON.stringify(answer.body ?? '') }, ctx);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.o.pollIntervalMs * 2 ** (attempt - 1), 30_000);
  }

  /** The resource, or undefined when it does not exist (404). */
  async get(path: string, operation: string, query?: Record<string, string>): Promise<Json | undefined> {
    const a = await this.send('GET', path, operation, undefined, { allow: [404], ...(query ? { query } : {}) });
    return a.status === 404 ? undefined : a.body;
  }

  /** Create or update by name, wait for the operation, answer the resource as it ended up. */
  async put(path: string, body: Json, operation: string, machineType?: string): Promise<Json> {
    const a = await this.send('PUT', path, operation, body, machineType ? { machineType } : {});
    if (a.status === 201 || a.status === 202) await this.wait(a, operation, machineType);
    else if (a.body?.properties?.provisioningState && !['Succeeded', 'Failed', 'Canceled'].includes(a.body.properties.provisioningState)) await this.wait(a, operation, machineType);
    const after = await this.get(path, operation);
    return after ?? a.body ?? {};
  }

  /** POST an action and wait for it; answers the final body (if any). */
  async post(path: string, body: Json | undefined, operation: string): Promise<Json | undefined> {
    const a = await this.send('POST', path, operation, body);
    if (a.status === 202 || a.status === 201) return this.wait(a, operation);
    return a.body;
  }

  /** PATCH (an update of some properties), wait for the operation, answer the resource as it ended up. */
  async patch(path: string, body: Json, operation: string): Promise<Json> {
    const a = await this.send('PATCH', path, operation, body);
    if (a.status === 202 || a.status === 201) await this.wait(a, operation);
    return (await this.get(path, operation)) ?? a.body ?? {};
  }

  /** DELETE and wait; something already gone is fine. */
  async delete(path: string, operation: string): Promise<void> {
    const a = await this.send('DELETE', path, operation, undefined, { allow: [404] });
    if (a.status === 202 || a.status === 201) await this.wait(a, operation);
  }

  /** Polls the operation an answer started until it ends; a failure throws the mapped error. */
  async wait(started: Answer, operation: string, machineType?: string): Promise<Json | undefined> {
    const asyncUrl = started.headers.get('azure-asyncoperation');
    const locationUrl = started.headers.get('location');
    if (!asyncUrl && !locationUrl) return started.body;
    const ctx = { operation, subscription: this.subscriptionId, ...(machineType ? { machineType } : {}) };
    let retryAfter = Number(started.headers.get('retry-after'));
    for (;;) {
      await this.o.sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.o.pollIntervalMs);
      if (asyncUrl) {
        const s = await this.send('GET', asyncUrl, operation);
        const status = String(s.body?.status ?? '');
        if (status === 'Succeeded') {
          // Actions with a result (attach/detach) answer it on the Location URL.
          return locationUrl ? (await this.send('GET', locationUrl, operation, undefined, { allow: [202] })).body : s.body;
        }
        if (status === 'Failed' || status === 'Canceled') {
          const err = (s.body?.error ?? {}) as { code?: string; message?: string };
          throw mapArmFailure({ status: 200, code: err.code ?? status, message: err.message ?? `the operation ended ${status}` }, ctx);
        }
        retryAfter = Number(s.headers.get('retry-after'));
      } else {
        const s = await this.send('GET', locationUrl!, operation, undefined, { allow: [202] });
        if (s.status !== 202) return s.body;
        retryAfter = Number(s.headers.get('retry-after'));
      }
    }
  }

  /** Every resource of the subscription matching an ARM `$filter`, following nextLink. */
  async listResources(filter: string, operation = 'Microsoft.Resources resources.list'): Promise<Json[]> {
    const out: Json[] = [];
    let next: string | undefined = `/subscriptions/${this.subscriptionId}/resources?$filter=${encodeURIComponent(filter)}`;
    while (next) {
      const page: Answer = await this.send('GET', next, operation);
      out.push(...((page.body?.value as Json[] | undefined) ?? []));
      next = page.body?.nextLink as string | undefined;
    }
    return out;
  }
}
