// ARM failures as our typed errors: by HTTP status first, then the codes the contract tells apart.
import { describe, expect, it } from 'vitest';
import { mapArmFailure, toLaunchError } from '../../../src/cloud/azure/errors.js';
import { ExitCode } from '../../../src/core/errors.js';

const ctx = { operation: 'Microsoft.Compute virtualMachines.createOrUpdate', subscription: 'sub-1', machineType: 'Standard_D8as_v5' };
const map = (status: number, code: string, message = 'm') => mapArmFailure({ status, code, message }, ctx);

describe('mapArmFailure', () => {
  it.each([
    [401, 'InvalidAuthenticationToken', 'x', 'credentials', ExitCode.credentials],
    [401, 'ExpiredAuthenticationToken', 'x', 'credentials', ExitCode.credentials],
    [403, 'AuthorizationFailed', 'x', 'permission-denied', ExitCode.credentials],
    [429, 'TooManyRequests', 'x', 'throttled', ExitCode.failed],
    [200, 'AllocationFailed', 'x', 'insufficient-capacity', ExitCode.failed],
    [200, 'ZonalAllocationFailed', 'x', 'insufficient-capacity', ExitCode.failed],
    [409, 'SkuNotAvailable', 'x', 'instance-type-unavailable', ExitCode.failed],
    [409, 'OperationNotAllowed', 'exceeding approved standardDASv5Family Cores quota', 'vcpu-limit', ExitCode.failed],
    [409, 'OperationNotAllowed', 'exceeding quota limit of PublicIPAddress', 'quota-exceeded', ExitCode.failed],
    [400, 'PublicIPCountLimitReached', 'Cannot create more than 10 public IP addresses', 'quota-exceeded', ExitCode.failed],
    [409, 'OperationNotAllowed', 'The VM is deallocated', 'azure-error', ExitCode.failed],
    [404, 'ResourceNotFound', 'x', 'not-found', ExitCode.failed],
  ])('%i %s (%s) → %s, exit %i', (status, code, message, expected, exitCode) => {
    const e = map(status, code, message);
    expect(e.code).toBe(expected);
    expect(e.exitCode).toBe(exitCode);
    expect(e.details).toMatchObject({ status, armCode: code, operation: ctx.operation });
    if (expected !== 'azure-error' && expected !== 'not-found') expect(e.remediation).toMatch(/\S/);
  });

  it('names the fixes: az login and the variables for credentials, the role and subscription for permissions', () => {
    expect(map(401, 'InvalidAuthenticationToken').remediation).toMatch(/az login.*AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET/);
    expect(map(403, 'AuthorizationFailed').remediation).toContain('--role Contributor --scope /subscriptions/sub-1');
    expect(map(200, 'AllocationFailed').message).toContain('Standard_D8as_v5');
  });

  it('a request that never got an answer is a network error (exit 1), not a cloud answer', () => {
    const e = toLaunchError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), ctx);
    expect(e).toMatchObject({ code: 'network', exitCode: ExitCode.failed });
    expect(e.message).toContain('ECONNREFUSED');
  });
});
