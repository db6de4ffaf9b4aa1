// How Compute's failures become our typed errors: HTTP error bodies up front, Operations that end
// DONE with an error, the token endpoint's refusals and the network, each with its code, exit code
// and a remediation the user can act on.
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../../src/core/errors.js';
import { errorFromOperation, errorFromResponse, GceApiError, toLaunchError } from '../../../src/cloud/gcp/errors.js';

const ctx = { operation: 'instances.insert', project: 'p', region: 'us-central1', machineType: 'n2-standard-8' };
const http = (status: number, reason: string, message: string) => errorFromResponse(status, { error: { code: status, message, errors: [{ reason, message, domain: 'global' }] } });

describe('GCE error mapping', () => {
  it('401 and refused tokens are credentials (exit 3), naming both ways to sign in', () => {
    for (const err of [http(401, 'authError', 'Invalid Credentials'), errorFromResponse(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' })]) {
      const e = toLaunchError(err, ctx);
      expect(e.code).toBe('credentials');
      expect(e.exitCode).toBe(ExitCode.credentials);
      expect(e.remediation).toContain('gcloud auth application-default login');
      expect(e.remediation).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    }
  });

  it('403 forbidden is a permission (exit 3) naming the method; a disabled API says how to enable it', () => {
    const denied = toLaunchError(http(403, 'forbidden', "Required 'compute.instances.create' permission"), ctx);
    expect(denied).toMatchObject({ code: 'permission-denied', exitCode: ExitCode.credentials });
    expect(denied.message).toContain('compute.instances.insert');
    const disabled = toLaunchError(http(403, 'accessNotConfigured', 'Compute Engine API has not been used in project p before or it is disabled.'), ctx);
    expect(disabled.remediation).toContain('gcloud services enable compute.googleapis.com --project p');
  });

  it('a failed Operation: no capacity in the zone, CPU quota, other quotas', () => {
    const exhausted = errorFromOperation({ error: { errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: 'no room' }] }, httpErrorStatusCode: 503 });
    const capacity = toLaunchError(exhausted, ctx);
    expect(capacity).toMatchObject({ code: 'insufficient-capacity', exitCode: ExitCode.failed });
    expect(capacity.remediation).toMatch(/--zone.*n2d-standard-8/);
    const cpus = errorFromOperation({ error: { errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'N2_CPUS' exceeded.  Limit: 24.0 in region us-central1." }] } });
    expect(toLaunchError(cpus, ctx)).toMatchObject({ code: 'vcpu-limit' });
    const addresses = http(403, 'quotaExceeded', "Quota 'STATIC_ADDRESSES' exceeded.  Limit: 8.0 in region us-central1.");
    expect(toLaunchError(addresses, { ...ctx, operation: 'addresses.insert' })).toMatchObject({ code: 'quota-exceeded', exitCode: ExitCode.failed });
  });

  it('rate limits are throttled; an unknown machine type is instance-type-unavailable; 404 is resource-not-found', () => {
    expect(toLaunchError(http(429, 'rateLimitExceeded', 'Rate Limit Exceeded'), ctx).code).toBe('throttled');
    expect(toLaunchError(http(400, 'invalid', "Invalid value for field 'resource.machineType': 'x'. Machine type with name 'x' does not exist in zone 'z'."), ctx).code).toBe('instance-type-unavailable');
    expect(toLaunchError(http(404, 'notFound', "The resource 'x' was not found"), ctx).code).toBe('resource-not-found');
    expect(toLaunchError(http(400, 'invalid', 'something else'), ctx)).toMatchObject({ code: 'gcp-error', exitCode: ExitCode.failed });
  });

  it('an unreachable endpoint is a network error naming the endpoint override', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    const e = toLaunchError(refused, ctx);
    expect(e.code).toBe('network');
    expect(e.remediation).toContain('CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE');
  });

  it('reads Retry-After from a rate-limited answer', () => {
    const err = errorFromResponse(429, { error: { code: 429, message: 'slow down', errors: [{ reason: 'rateLimitExceeded' }] } }, new Headers({ 'retry-after': '3' }));
    expect(err).toBeInstanceOf(GceApiError);
    expect(err.extra.retryAfterSeconds).toBe(3);
  });
});
