// Injected failures for the next N calls of a method: errors the HTTP call returns (rate limits,
// quota checked up front, expired credentials, anything) and Operations that are accepted but end
// DONE with an error (no capacity in the zone, quota). Injected through the control API.
import {
  GceError,
  invalidCredentials,
  quotaExceededHttp,
  quotaExceededOperation,
  rateLimited,
  zoneExhausted,
  type OperationFailure,
} from './errors.js';

export type FaultError =
  /** HTTP 429 (default) or 403 `rateLimitExceeded` with Retry-After. */
  | { kind: 'rateLimitExceeded'; status?: 403 | 429; retryAfterSeconds?: number }
  /** `QUOTA_EXCEEDED`: as the Operation's error (default, as instances.insert does) or as HTTP 403 `quotaExceeded`. */
  | { kind: 'quotaExceeded'; metric?: string; limit?: number; as?: 'operation' | 'http' }
  /** The Operation ends DONE with `ZONE_RESOURCE_POOL_EXHAUSTED`. */
  | { kind: 'zoneResourcePoolExhausted' }
  /** HTTP 401 `authError`, as for expired or revoked credentials. */
  | { kind: 'unauthenticated' }
  /** Any HTTP error. */
  | { kind: 'http'; status: number; reason: string; message: string; headers?: Record<string, string> }
  /** Any Operation error. */
  | { kind: 'operation'; code: string; message: string; httpErrorStatusCode?: number; httpErrorMessage?: string };

export interface FaultSpec {
  /** `instances.insert` (the `compute.` prefix is optional), or `*` for every API method. */
  method: string;
  error: FaultError;
  /** How many matching calls fail; default 1. */
  times?: number;
  /** Only calls whose `zone` / `region` path parameter is this. */
  zone?: string;
  region?: string;
}

export interface ActiveFault extends FaultSpec {
  id: number;
  remaining: number;
}

export type FaultOutcome = { http: GceError } | { operation: OperationFailure };

function isOperationFault(error: FaultError): boolean {
  return error.kind === 'zoneResourcePoolExhausted' || error.kind === 'operation' || (error.kind === 'quotaExceeded' && error.as !== 'http');
}

export class Faults {
  private active: ActiveFault[] = [];
  private nextId = 1;

  /** `mutating(method)` says whether a method answers with an Operation (others cannot fail in one). */
  constructor(private readonly mutating: (method: string) => boolean | undefined) {}

  add(spec: FaultSpec): ActiveFault {
    const method = spec.method.replace(/^compute\./, '');
    const isMutation = method === '*' ? undefined : this.mutating(method);
    if (method !== '*' && isMutation === undefined) throw new Error(`fault for unknown method ${spec.method}`);
    if (isOperationFault(spec.error) && isMutation !== true) {
      throw new Error(`fault ${spec.error.kind} needs a method that returns an Operation, not ${spec.method}`);
    }
    const fault: ActiveFault = { ...spec, method, id: this.nextId++, remaining: spec.times ?? 1 };
    this.active.push(fault);
    return fault;
  }

  list(): ActiveFault[] {
    return this.active.map((f) => ({ ...f }));
  }

  clear(): void {
    this.active = [];
  }

  /**
   * Consumes the first fault matching this call, if any. HTTP faults are taken when the call
   * arrives (`phase` 'http'), Operation faults only once the call was accepted ('operation'), so a
   * call refused for another reason does not use one up.
   */
  take(phase: 'http' | 'operation', method: string, params: Record<string, string>, ctx: { project: string }): FaultOutcome | undefined {
    const fault = this.active.find(
      (f) =>
        isOperationFault(f.error) === (phase === 'operation') &&
        (f.method === '*' || f.method === method) &&
        (f.zone === undefined || f.zone === params.zone) &&
        (f.region === undefined || f.region === params.region),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.active = this.active.filter((f) => f !== fault);
    const region = params.region ?? params.zone?.replace(/-[a-z]$/, '');
    const error = fault.error;
    switch (error.kind) {
      case 'rateLimitExceeded':
        return { http: rateLimited(error.status ?? 429, error.retryAfterSeconds ?? 1) };
      case 'quotaExceeded': {
        const metric = error.metric ?? 'CPUS';
        const limit = error.limit ?? 24;
        return error.as === 'http' ? { http: quotaExceededHttp(metric, limit, region) } : { operation: quotaExceededOperation(metric, limit, region) };
      }
      case 'zoneResourcePoolExhausted':
        return { operation: zoneExhausted(ctx.project, params.zone ?? 'unknown') };
      case 'unauthenticated':
        return { http: invalidCredentials() };
      case 'http':
        return { http: new GceError(error.status, error.reason, error.message, { headers: error.headers }) };
      case 'operation':
        return {
          operation: {
            code: error.code,
            message: error.message,
            httpErrorStatusCode: error.httpErrorStatusCode ?? 400,
            httpErrorMessage: error.httpErrorMessage ?? 'BAD REQUEST',
          },
        };
    }
  }
}
