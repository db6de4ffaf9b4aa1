// Errors in Google's JSON format. Two kinds, as on the real API (NOTES.md §1):
// - GceError: the HTTP call itself fails (bad body, not found, name taken, stale fingerprint, quota
//   or rate limits checked up front); no Operation is created;
// - OperationFailure: the call was accepted and returned an Operation that ends DONE with `error`.

/** Canonical status names Google sends beside the HTTP code (google.rpc.Code). */
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export interface GceErrorItem {
  message: string;
  domain: string;
  reason: string;
  location?: string;
  locationType?: string;
}

export interface GceErrorBody {
  error: {
    code: number;
    message: string;
    errors: GceErrorItem[];
    status: string;
    details?: unknown[];
  };
}

export class GceError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
    message: string,
    readonly extra: { headers?: Record<string, string>; details?: unknown[]; location?: string; locationType?: string } = {},
  ) {
    super(message);
    this.name = 'GceError';
  }

  toJSON(): GceErrorBody {
    const item: GceErrorItem = { message: this.message, domain: 'global', reason: this.reason };
    if (this.extra.location) item.location = this.extra.location;
    if (this.extra.locationType) item.locationType = this.extra.locationType;
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        errors: [item],
        status: STATUS_NAMES[this.httpStatus] ?? 'UNKNOWN',
        ...(this.extra.details ? { details: this.extra.details } : {}),
      },
    };
  }
}

/** `path` is the resource path without the host, e.g. `projects/p/zones/z/instances/i`. */
export function notFound(path: string): GceError {
  return new GceError(404, 'notFound', `The resource '${path}' was not found`);
}

export function alreadyExists(path: string): GceError {
  return new GceError(409, 'alreadyExists', `The resource '${path}' already exists`);
}

export function invalid(message: string): GceError {
  return new GceError(400, 'invalid', message);
}

/** Compute's own field checks: "Invalid value for field 'resource.name': 'X'. <why>". */
export function invalidField(field: string, value: unknown, why: string): GceError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return invalid(`Invalid value for field '${field}': '${shown}'. ${why}`);
}

/** A JSON payload that does not parse into the request message (unknown field, wrong type). */
export function badPayload(message: string, field: string): GceError {
  return new GceError(400, 'invalid', message, {
    details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description: message }] }],
  });
}

export function conditionNotMet(message: string): GceError {
  return new GceError(412, 'conditionNotMet', message, { location: 'If-Match', locationType: 'header' });
}

export function resourceInUse(path: string, user: string): GceError {
  return new GceError(400, 'resourceInUseByAnotherResource', `The resource '${path}' is already being used by '${user}'`);
}

export function resourceNotReady(path: string): GceError {
  return new GceError(400, 'resourceNotReady', `The resource '${path}' is not ready`);
}

export function forbidden(message: string): GceError {
  return new GceError(403, 'forbidden', message);
}

export function unauthenticated(): GceError {
  return new GceError(
    401,
    'required',
    'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    { headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' }, location: 'Authorization', locationType: 'header' },
  );
}

/** A token Google does not accept (expired, revoked). */
export function invalidCredentials(): GceError {
  return new GceError(
    401,
    'authError',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    { headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' }, location: 'Authorization', locationType: 'header' },
  );
}

export function rateLimited(httpStatus: 403 | 429, retryAfterSeconds: number): GceError {
  return new GceError(httpStatus, 'rateLimitExceeded', 'Rate Limit Exceeded', {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

export function quotaExceededHttp(metric: string, limit: number, region?: string): GceError {
  const where = region ? ` in region ${region}` : '';
  return new GceError(403, 'quotaExceeded', `Quota '${metric}' exceeded.  Limit: ${limit.toFixed(1)}${where}.`);
}

/** Why an accepted Operation ended DONE with `error`. */
export interface OperationFailure {
  code: string;
  message: string;
  location?: string;
  httpErrorStatusCode: number;
  httpErrorMessage: string;
  errorDetails?: unknown[];
}

export function zoneExhausted(project: string, zone: string): OperationFailure {
  return {
    code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
    message: `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
    httpErrorStatusCode: 503,
    httpErrorMessage: 'SERVICE UNAVAILABLE',
  };
}

export function quotaExceededOperation(metric: string, limit: number, region?: string): OperationFailure {
  const where = region ? ` in region ${region}` : '';
  return {
    code: 'QUOTA_EXCEEDED',
    message: `Quota '${metric}' exceeded.  Limit: ${limit.toFixed(1)}${where}.`,
    httpErrorStatusCode: 403,
    httpErrorMessage: 'FORBIDDEN',
    errorDetails: [
      {
        quotaInfo: {
          metricName: `compute.googleapis.com/${metric.toLowerCase()}`,
          limitName: `${metric.replace(/_/g, '-')}-per-project${region ? '-region' : ''}`,
          ...(region ? { dimensions: { region } } : {}),
          limit,
        },
      },
    ],
  };
}

export function alreadyExistsOperation(path: string): OperationFailure {
  return {
    code: 'RESOURCE_ALREADY_EXISTS',
    message: `The resource '${path}' already exists`,
    httpErrorStatusCode: 409,
    httpErrorMessage: 'CONFLICT',
  };
}
