import { describe, expect, it } from 'vitest';
import {
  alternativeInstanceTypes,
  awsErrorCode,
  isNotFoundError,
  toLaunchError,
  type AwsErrorContext,
} from '../../../src/cloud/aws/errors.js';
import { CloudError, CredentialsError, ExitCode, UsageError } from '../../../src/core/errors.js';

/** Shaped like the SDK's ServiceException: name = Code = the AWS error code, plus $metadata. */
function serviceError(code: string, message = `${code} happened`): Error {
  const err = new Error(message) as Error & { Code: string; $fault: string; $metadata: object };
  err.name = code;
  err.Code = code;
  err.$fault = 'client';
  err.$metadata = { httpStatusCode: 400, requestId: 'req-123' };
  return err;
}

const ctx: AwsErrorContext = { operation: 'RunInstances', profile: 'prod', region: 'eu-west-1', instanceType: 'm6a.4xlarge' };

describe('awsErrorCode', () => {
  it('reads Code, then name, then a system error code', () => {
    expect(awsErrorCode(serviceError('InvalidGroup.NotFound'))).toBe('InvalidGroup.NotFound');
    const providerError = new Error('Could not load credentials from any providers');
    providerError.name = 'CredentialsProviderError';
    expect(awsErrorCode(providerError)).toBe('CredentialsProviderError');
    expect(awsErrorCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(awsErrorCode(new Error('plain'))).toBeUndefined();
    expect(awsErrorCode('a string')).toBeUndefined();
  });

  it('knows the not-found codes deletes treat as done', () => {
    for (const code of [
      'InvalidGroup.NotFound',
      'InvalidKeyPair.NotFound',
      'InvalidVolume.NotFound',
      'InvalidAllocationID.NotFound',
      'InvalidInstanceID.NotFound',
    ]) {
      expect(isNotFoundError(serviceError(code)), code).toBe(true);
    }
    expect(isNotFoundError(serviceError('DependencyViolation'))).toBe(false);
  });
});

describe('toLaunchError', () => {
  it.each([
    'CredentialsProviderError',
    'ExpiredToken',
    'ExpiredTokenException',
    'InvalidClientTokenId',
    'UnrecognizedClientException',
    'AuthFailure',
    'SignatureDoesNotMatch',
  ])('maps %s to a CredentialsError naming the profile and how to sign in', (code) => {
    const err = toLaunchError(serviceError(code, 'The security token included in the request is expired'), ctx);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err.code).toBe('credentials');
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(err.message).toContain('"prod"');
    expect(err.message).toContain('expired');
    expect(err.remediation).toContain('aws sso login --profile prod');
    expect(err.remediation).toContain('aws configure --profile prod');
    expect(err.remediation).toContain('AWS_PROFILE');
    expect(err.remediation).toContain('--profile');
  });

  it('suggests plain `aws configure` for the default profile', () => {
    const err = toLaunchError(serviceError('ExpiredToken'), { ...ctx, profile: 'default' });
    expect(err.remediation).toContain('`aws configure`');
    expect(err.remediation).toContain('aws sso login --profile default');
  });

  it.each(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'])(
    'maps %s to permission-denied naming the operation',
    (code) => {
      const err = toLaunchError(serviceError(code, 'You are not authorized to perform this operation.'), ctx);
      expect(err).toBeInstanceOf(CredentialsError);
      expect(err.code).toBe('permission-denied');
      expect(err.exitCode).toBe(ExitCode.credentials);
      expect(err.message).toContain('ec2:RunInstances');
      expect(err.remediation).toContain('ec2:RunInstances');
    },
  );

  it('points at decode-authorization-message when AWS sent an encoded reason', () => {
    const err = toLaunchError(
      serviceError('UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: AbC123'),
      { ...ctx, operation: 'CreateSecurityGroup' },
    );
    expect(err.message).toContain('ec2:CreateSecurityGroup');
    expect(err.remediation).toContain('aws sts decode-authorization-message');
  });

  it('maps InsufficientInstanceCapacity to insufficient-capacity with other-zone and next-family advice', () => {
    const err = toLaunchError(serviceError('InsufficientInstanceCapacity'), ctx);
    expect(err).toBeInstanceOf(CloudError);
    expect(err.code).toBe('insufficient-capacity');
    expect(err.exitCode).toBe(ExitCode.failed);
    expect(err.remediation).toContain('--subnet');
    expect(err.remediation).toContain('--instance-type');
    expect(err.remediation).toContain('m7a.4xlarge');
    expect(err.remediation).toContain('m6i.4xlarge');
  });

  it('maps VcpuLimitExceeded to vcpu-limit with the Service Quotas advice', () => {
    const err = toLaunchError(serviceError('VcpuLimitExceeded'), ctx);
    expect(err).toBeInstanceOf(CloudError);
    expect(err.code).toBe('vcpu-limit');
    expect(err.remediation).toContain('Running On-Demand Standard');
    expect(err.remediation).toContain('Service Quotas');
    expect(err.remediation).toContain('--size');
  });

  it('maps throttling that outlasted the retries, network failures and disabled regions', () => {
    expect(toLaunchError(serviceError('RequestLimitExceeded'), ctx).code).toBe('throttled');
    expect(toLaunchError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), ctx).code).toBe(
      'network',
    );
    expect(toLaunchError(serviceError('OptInRequired'), ctx).code).toBe('region-not-enabled');
  });

  it('keeps anything else as a CloudError with the AWS code, message and cause', () => {
    const cause = serviceError('InvalidParameterValue', 'Value (foo) for parameter instanceType is invalid.');
    const err = toLaunchError(cause, ctx);
    expect(err).toBeInstanceOf(CloudError);
    expect(err.code).toBe('aws-error');
    expect(err.message).toBe('ec2:RunInstances failed: InvalidParameterValue: Value (foo) for parameter instanceType is invalid.');
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({
      operation: 'RunInstances',
      region: 'eu-west-1',
      awsCode: 'InvalidParameterValue',
      requestId: 'req-123',
      httpStatus: 400,
    });
  });

  it('names the service and endpoint when the endpoint answers a page instead of the API (an emulator without DLM)', () => {
    // What the SDK throws when a JSON service gets HTML: a SyntaxError from its deserializer.
    const html = Object.assign(new SyntaxError(`Unexpected token '<', "<!doctype "... is not valid JSON`), {
      $metadata: { httpStatusCode: 500 },
      $response: { statusCode: 500, headers: { 'content-type': 'text/html; charset=utf-8' } },
    });
    Object.defineProperty(html, '$endpoint', { value: 'http://127.0.0.1:5123' });
    const err = toLaunchError(html, { ...ctx, operation: 'GetLifecyclePolicies', service: 'dlm' });
    expect(err).toBeInstanceOf(CloudError);
    expect(err.code).toBe('service-unavailable');
    expect(err.message).toBe(
      'Data Lifecycle Manager (DLM) is not available at http://127.0.0.1:5123: dlm:GetLifecyclePolicies was answered with HTTP 500 text/html, not an AWS API response',
    );
    expect(err.message).not.toContain('SyntaxError');
    expect(err.details).toMatchObject({ service: 'dlm', endpoint: 'http://127.0.0.1:5123' });
    expect(err.remediation).toContain('AWS_ENDPOINT_URL');

    // The XML services say "NotFound: Unknown" on an HTML 404; without a recorded endpoint, the region is named.
    const notFound = Object.assign(serviceError('NotFound', 'Unknown'), { $response: { statusCode: 404, headers: { 'Content-Type': 'text/html' } } });
    expect(toLaunchError(notFound, ctx).message).toBe(
      'EC2 is not available at the endpoint in use for eu-west-1: ec2:RunInstances was answered with HTTP 404 text/html, not an AWS API response',
    );
    // A real AWS error carries its API's content type: it keeps its own code.
    const apiError = Object.assign(serviceError('InvalidParameterValue'), { $response: { statusCode: 400, headers: { 'content-type': 'text/xml;charset=UTF-8' } } });
    expect(toLaunchError(apiError, ctx).code).toBe('aws-error');
  });

  it('passes our own errors through unchanged', () => {
    const ours = new UsageError('bad');
    expect(toLaunchError(ours, ctx)).toBe(ours);
  });
});

describe('alternativeInstanceTypes', () => {
  it('suggests the same size in the next families', () => {
    expect(alternativeInstanceTypes('m6a.2xlarge')).toEqual(['m7a.2xlarge', 'm6i.2xlarge']);
    expect(alternativeInstanceTypes('m7a.8xlarge')).toEqual(['m6i.8xlarge', 'm7i.8xlarge']);
    expect(alternativeInstanceTypes('weird')).toEqual([]);
  });
});
