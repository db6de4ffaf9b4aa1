// Maps what the Compute REST API (and the token endpoint, and the network) answers to our typed
// errors, so the CLI prints one line, a remediation and the right exit code. Google's errors come
// in two places: an HTTP error body up front ({error: {code, message, errors: [{reason}]}}) and an
// Operation that ends DONE with `error.errors[].code` (QUOTA_EXCEEDED …). Both land here.
import { CloudError, CredentialsError, LaunchError, isLaunchError } from '../../core/errors.js';

export interface GceErrorContext {
  /** The API method, e.g. "instances.insert". */
  operation: string;
  project: string;
  region: string;
  /** For capacity errors: the machine type that could not be placed. */
  machineType?: string;
}

/** What a failed call said, from an HTTP error body or a failed Operation. */
export class GceApiError extends Error {
  constructor(
    readonly status: number,
    /** `notFound`, `alreadyExists`, … (HTTP) or `QUOTA_EXCEEDED`, … (Operation). */
    readonly reason: string,
    message: string,
    readonly extra: { retryAfterSeconds?: number; fromOperation?: boolean; metric?: string } = {},
  ) {
    super(message);
    this.name = 'GceApiError';
  }
}

/** The error an HTTP answer carries (Google's JSON error format, or whatever else came back). */
export function errorFromResponse(status: number, body: unknown, headers?: { get(name: string): string | null }): GceApiError {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  let reason = '';
  let message = `HTTP ${status}`;
  if (typeof error === 'object' && error !== null) {
    const e = error as { message?: string; status?: string; errors?: { reason?: string; message?: string }[] };
    reason = e.errors?.[0]?.reason ?? e.status ?? '';
    message = e.message ?? e.errors?.[0]?.message ?? message;
  } else if (typeof error === 'string') {
    // The OAuth token endpoint: {error: "invalid_grant", error_description: "..."}.
    reason = error;
    const description = (body as { error_description?: string }).error_description;
    message = description ? `${error}: ${description}` : error;
  }
  const retry = Number(headers?.get('retry-after'));
  return new GceApiError(status, reason, message, Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {});
}

/** The error a DONE Operation carries. */
export function errorFromOperation(op: { error?: { errors?: { code?: string; message?: string; errorDetails?: unknown[] }[] }; httpErrorStatusCode?: number }): GceApiError {
  const first = op.error?.errors?.[0] ?? {};
  const quota = (first.errorDetails ?? []).map((d) => (d as { quotaInfo?: { metricName?: string } }).quotaInfo?.metricName).find(Boolean);
  return new GceApiError(op.httpErrorStatusCode ?? 400, first.code ?? 'OPERATION_FAILED', first.message ?? 'the operation failed', {
    fromOperation: true,
    ...(quota ? { metric: quota } : {}),
  });
}

export function isGceError(err: unknown, ...reasons: string[]): err is GceApiError {
  return err instanceof GceApiError && (reasons.length === 0 || reasons.includes(err.reason));
}

export function isNotFound(err: unknown): boolean {
  return err instanceof GceApiError && (err.status === 404 || err.reason === 'notFound' || err.reason === 'RESOURCE_NOT_FOUND');
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

/** Same-size alternatives for a capacity shortage: "n2-standard-8" → n2d-standard-8, e2-standard-8. */
export function alternativeMachineTypes(machineType: string): string[] {
  const m = /^([a-z0-9]+)-(standard|highmem|highcpu)-(\d+)$/.exec(machineType);
  if (!m) return [];
  return ['n2d', 'n2', 'c3d', 'e2'].filter((f) => f !== m[1]).slice(0, 2).map((f) => `${f}-${m[2]}-${m[3]}`);
}

export const SIGN_IN_REMEDIATION =
  'Sign in with `gcloud auth application-default login`, or point GOOGLE_APPLICATION_CREDENTIALS at a service account key file ' +
  '(on a GCE VM the metadata server is used when neither is there).';

/** Turns anything a Compute call threw into one of our typed errors (LaunchErrors pass through). */
export function toLaunchError(err: unknown, ctx: GceErrorContext): LaunchError {
  if (isLaunchError(err)) return err;
  const action = `compute.${ctx.operation}`;
  const details: Record<string, unknown> = { operation: ctx.operation, project: ctx.project, region: ctx.region };
  if (err instanceof GceApiError) {
    details.gceReason = err.reason;
    details.httpStatus = err.status;
  }
  const base = { cause: err, details };
  const net = networkCode(err);
  if (net) {
    return new CloudError('network', `Could not reach the Compute Engine API for ${action}: ${net}`, {
      ...base,
      remediation: 'Check the network connection (and CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE if you set it), then run the same command again.',
    });
  }
  if (!(err instanceof GceApiError)) {
    return new CloudError('gcp-error', `${action} failed: ${err instanceof Error ? err.message : String(err)}`, base);
  }
  const { reason, status, message } = err;

  if (status === 401 || ['invalid_grant', 'invalid_client', 'unauthorized_client', 'authError', 'required'].includes(reason)) {
    return new CredentialsError(`No valid Google Cloud credentials for project "${ctx.project}": ${message}`, { ...base, remediation: SIGN_IN_REMEDIATION });
  }
  if (reason === 'rateLimitExceeded' || reason === 'userRateLimitExceeded' || status === 429 || reason === 'RATE_LIMIT_EXCEEDED') {
    return new CloudError('throttled', `Compute Engine kept rate-limiting ${action} after several retries`, {
      ...base,
      remediation: 'Wait a minute and run the same command again; it continues where it stopped.',
    });
  }
  if (reason === 'ZONE_RESOURCE_POOL_EXHAUSTED' || reason === 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS') {
    const alternatives = ctx.machineType ? alternativeMachineTypes(ctx.machineType) : [];
    return new CloudError('insufficient-capacity', `Compute Engine has no spare capacity for ${ctx.machineType ?? 'the machine type'} in the requested zone of ${ctx.region} right now`, {
      ...base,
      remediation: `Retry later, or try another zone with --zone${alternatives.length ? `, or a machine type of the same size via --instance-type (e.g. ${alternatives.join(' or ')})` : ''}.`,
    });
  }
  if (reason === 'quotaExceeded' || reason === 'QUOTA_EXCEEDED') {
    const metric = /Quota '([A-Z0-9_]+)'/.exec(message)?.[1] ?? err.extra.metric;
    if (metric && /cpus/i.test(metric)) {
      return new CloudError('vcpu-limit', `The project's ${metric} quota in ${ctx.region} is too low for ${ctx.machineType ?? 'this instance'}`, {
        ...base,
        remediation: `Request a quota increase for ${metric} in ${ctx.region} (console: IAM & Admin → Quotas), or choose a smaller --size.`,
      });
    }
    return new CloudError('quota-exceeded', `A Compute Engine quota${metric ? ` (${metric})` : ''} of project ${ctx.project} is exhausted: ${message}`, {
      ...base,
      remediation: `Free some of it (\`sourcegraph-launch prune\`, unused addresses or disks) or request an increase in the console (IAM & Admin → Quotas)${metric ? ` for ${metric}` : ''}.`,
    });
  }
  if (status === 403 || reason === 'forbidden' || reason === 'accessNotConfigured' || reason === 'PERMISSION_DENIED') {
    if (reason === 'accessNotConfigured' || /has not been used|is disabled/.test(message)) {
      return new CredentialsError(`The Compute Engine API is not enabled in project ${ctx.project}: ${message}`, {
        ...base,
        code: 'permission-denied',
        remediation: `Enable it once with \`gcloud services enable compute.googleapis.com --project ${ctx.project}\`, then run the same command again.`,
      });
    }
    return new CredentialsError(`Google Cloud denied ${action} in project ${ctx.project}: ${message}`, {
      ...base,
      code: 'permission-denied',
      remediation: `Ask an administrator to grant a role that allows ${action} (for example roles/compute.instanceAdmin.v1 and roles/compute.networkAdmin), or use other credentials (--project, GOOGLE_APPLICATION_CREDENTIALS).`,
    });
  }
  if (reason === 'UNSUPPORTED_OPERATION' || /machine type .* (is not|does not exist)|Invalid value for field 'resource.machineType'/i.test(message)) {
    return new CloudError('instance-type-unavailable', `${ctx.machineType ?? 'The machine type'} is not offered where it was requested in ${ctx.region}: ${message}`, {
      ...base,
      remediation: 'Choose another zone with --zone (`sourcegraph-launch presets --cloud gcp` lists the types), or another --instance-type.',
    });
  }
  if (isNotFound(err)) {
    return new CloudError('resource-not-found', `${action}: ${message}`, { ...base, remediation: 'It may have been deleted outside the tool; `sourcegraph-launch status` shows what is left.' });
  }
  if (reason === 'resourceInUseByAnotherResource') {
    return new CloudError('resource-in-use', `${action}: ${message}`, { ...base, remediation: 'Detach or delete what uses it first, then run the same command again.' });
  }
  return new CloudError('gcp-error', `${action} failed: ${reason ? `${reason}: ` : ''}${message}`, base);
}

/** A token endpoint's answer as JSON; one that is not JSON as an OAuth-style error naming the HTTP status. */
export async function jsonBody(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { error: `HTTP ${response.status}`, error_description: text.slice(0, 200) };
  }
}
