// Maps errors from the AWS SDK (and from EC2 emulators) to our typed errors, so the CLI can print
// one line, a remediation and the right exit code. SDK-free on purpose: errors are recognised by
// their `name` / `Code`, so this module loads (and is tested) without the SDK.
import { CloudError, CredentialsError, LaunchError, isLaunchError } from '../../core/errors.js';

export interface AwsErrorContext {
  /** The API call that failed, e.g. "RunInstances". */
  operation: string;
  /** IAM service prefix of the call; default "ec2". */
  service?: 'ec2' | 'sts' | 'dlm' | 'servicequotas' | 'route53' | 'acm' | 'elasticloadbalancing' | 'ssm' | 'iam';
  /** The shared-config profile the credentials came from ('default' when none was chosen). */
  profile: string;
  region: string;
  /** For capacity errors: the type that could not be placed, to suggest alternatives. */
  instanceType?: string;
}

/** Missing, invalid or expired credentials: the user must sign in again or pick another profile. */
const CREDENTIALS_CODES = new Set([
  'CredentialsProviderError',
  'TokenProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidToken',
]);

const PERMISSION_CODES = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);
const THROTTLING_CODES = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'TimeoutError',
  'RequestTimeout',
]);

/** Errors a delete or describe may treat as "it is already gone". */
export const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  'InvalidGroup.NotFound',
  'InvalidGroupId.NotFound',
  'InvalidKeyPair.NotFound',
  'InvalidVolume.NotFound',
  'InvalidAllocationID.NotFound',
  'InvalidAddress.NotFound',
  'InvalidAssociationID.NotFound',
  'InvalidInstanceID.NotFound',
  'InvalidAMIID.NotFound',
  'InvalidSubnetID.NotFound',
]);

/** Set by the SDK clients (sdk.ts) on every error: the endpoint the failed request went to. */
export const ERROR_ENDPOINT = '$endpoint';

const SERVICE_NAMES: Record<NonNullable<AwsErrorContext['service']>, string> = {
  ec2: 'EC2',
  sts: 'STS',
  dlm: 'Data Lifecycle Manager (DLM)',
  servicequotas: 'Service Quotas',
  route53: 'Route 53',
  acm: 'Certificate Manager (ACM)',
  elasticloadbalancing: 'Elastic Load Balancing',
  ssm: 'Systems Manager',
  iam: 'IAM',
};

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/**
 * The AWS error code: a service error's `Code` (or its `name`, which the SDK sets to the code),
 * a client-side error's class name (CredentialsProviderError, TimeoutError), or a Node system
 * error's `code` (ECONNREFUSED).
 */
export function awsErrorCode(err: unknown): string | undefined {
  const code = field(err, 'Code');
  if (typeof code === 'string' && code) return code;
  const name = field(err, 'name');
  if (typeof name === 'string' && name && name !== 'Error') return name;
  const systemCode = field(err, 'code');
  if (typeof systemCode === 'string' && systemCode) return systemCode;
  return undefined;
}

export function awsErrorMessage(err: unknown): string {
  const message = field(err, 'message');
  return typeof message === 'string' && message ? message : String(err);
}

export function isAwsErrorCode(err: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(err);
  return code !== undefined && codes.includes(code);
}

export function isNotFoundError(err: unknown): boolean {
  const code = awsErrorCode(err);
  return code !== undefined && NOT_FOUND_CODES.has(code);
}

export function isCredentialsErrorCode(code: string | undefined): boolean {
  return code !== undefined && CREDENTIALS_CODES.has(code);
}

export function isPermissionErrorCode(code: string | undefined): boolean {
  return code !== undefined && (PERMISSION_CODES.has(code) || code.startsWith('AccessDenied'));
}

/**
 * Same-size alternatives for a capacity shortage: the newer AMD generation and the Intel one.
 * "m6a.2xlarge" → ["m7a.2xlarge", "m6i.2xlarge"].
 */
export function alternativeInstanceTypes(instanceType: string): string[] {
  const dot = instanceType.indexOf('.');
  if (dot < 0) return [];
  const family = instanceType.slice(0, dot);
  const size = instanceType.slice(dot + 1);
  const candidates = ['m7a', 'm6i', 'm7i', 'm6a'].filter((f) => f !== family);
  return candidates.slice(0, 2).map((f) => `${f}.${size}`);
}

function profileHint(profile: string): { sso: string; configure: string } {
  return {
    sso: `aws sso login --profile ${profile}`,
    configure: profile === 'default' ? 'aws configure' : `aws configure --profile ${profile}`,
  };
}

function details(err: unknown, ctx: AwsErrorContext, code: string | undefined): Record<string, unknown> {
  const metadata = field(err, '$metadata');
  const requestId = field(metadata, 'requestId');
  const httpStatus = field(metadata, 'httpStatusCode');
  return {
    operation: ctx.operation,
    region: ctx.region,
    ...(code ? { awsCode: code } : {}),
    ...(typeof requestId === 'string' ? { requestId } : {}),
    ...(typeof httpStatus === 'number' ? { httpStatus } : {}),
  };
}

/**
 * The endpoint answered, but not in the service's API: an HTML or plain-text page where AWS
 * answers JSON or XML. That is an endpoint without the service (an emulator that lacks it, a
 * proxy's error page), not a failure of the call itself.
 */
export function nonApiAnswer(err: unknown): { status?: number; contentType: string } | undefined {
  const response = field(err, '$response');
  const headers = field(response, 'headers');
  if (typeof headers !== 'object' || headers === null) return undefined;
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  if (typeof contentType !== 'string' || /json|xml/i.test(contentType)) return undefined;
  const status = field(response, 'statusCode');
  return { status: typeof status === 'number' ? status : undefined, contentType: contentType.split(';')[0]!.trim() };
}

/** Turns anything an AWS call threw into one of our typed errors (LaunchErrors pass through). */
export function toLaunchError(err: unknown, ctx: AwsErrorContext): LaunchError {
  if (isLaunchError(err)) return err;
  const code = awsErrorCode(err);
  const message = awsErrorMessage(err);
  const action = `${ctx.service ?? 'ec2'}:${ctx.operation}`;
  const base = { cause: err, details: details(err, ctx, code) };

  if (isCredentialsErrorCode(code)) {
    const hint = profileHint(ctx.profile);
    return new CredentialsError(
      `No valid AWS credentials for profile "${ctx.profile}": ${message}`,
      {
        ...base,
        remediation:
          `Sign in with \`${hint.sso}\` (IAM Identity Center) or set up access keys with \`${hint.configure}\`; ` +
          'to use another profile pass --profile <name> or set AWS_PROFILE.',
      },
    );
  }

  if (isPermissionErrorCode(code)) {
    const encoded = /Encoded authorization failure message:\s*(\S+)/.exec(message);
    return new CredentialsError(`AWS denied ${action} to profile "${ctx.profile}" in ${ctx.region}`, {
      ...base,
      code: 'permission-denied',
      remediation:
        `Ask an administrator to allow ${action} for this identity, or use a profile that has it (--profile).` +
        (encoded ? ' `aws sts decode-authorization-message --encoded-message <message>` shows which policy denied it.' : ''),
    });
  }

  if (code === 'InsufficientInstanceCapacity' || code === 'Unsupported') {
    const type = ctx.instanceType ?? 'the instance type';
    const alternatives = ctx.instanceType ? alternativeInstanceTypes(ctx.instanceType) : [];
    const typeHint = alternatives.length
      ? `the next instance family with the same size via --instance-type (e.g. ${alternatives.join(' or ')})`
      : 'another instance family with the same size via --instance-type';
    return new CloudError(
      code === 'Unsupported' ? 'instance-type-unavailable' : 'insufficient-capacity',
      code === 'Unsupported'
        ? `${type} is not offered where it was requested in ${ctx.region}: ${message}`
        : `AWS has no spare capacity for ${type} in the requested availability zone of ${ctx.region} right now`,
      {
        ...base,
        remediation: `Retry later, or try another availability zone by passing a subnet there with --subnet, or ${typeHint}.`,
      },
    );
  }

  if (code === 'VcpuLimitExceeded' || code === 'InstanceLimitExceeded') {
    return new CloudError('vcpu-limit', `The account's vCPU quota in ${ctx.region} is too low for ${ctx.instanceType ?? 'this instance'}`, {
      ...base,
      remediation:
        'Request a quota increase for "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" ' +
        `in Service Quotas (EC2, region ${ctx.region}), or choose a smaller --size.`,
    });
  }

  if (code === 'OptInRequired') {
    return new CloudError('region-not-enabled', `Region ${ctx.region} is not enabled for this account: ${message}`, {
      ...base,
      remediation: `Enable ${ctx.region} in the AWS console (Account → AWS Regions), or choose another --region.`,
    });
  }

  if (code !== undefined && THROTTLING_CODES.has(code)) {
    return new CloudError('throttled', `AWS kept throttling ${action} after several retries`, {
      ...base,
      remediation: 'Wait a minute and run the same command again; it continues where it stopped.',
    });
  }

  if (code !== undefined && NETWORK_CODES.has(code)) {
    return new CloudError('network', `Could not reach the AWS API for ${action} in ${ctx.region}: ${message}`, {
      ...base,
      remediation: 'Check the network connection (and AWS_ENDPOINT_URL if you set it), then run the same command again.',
    });
  }

  const page = nonApiAnswer(err);
  if (page) {
    const service = ctx.service ?? 'ec2';
    const endpoint = field(err, ERROR_ENDPOINT);
    const where = typeof endpoint === 'string' ? endpoint : `the endpoint in use for ${ctx.region}`;
    return new CloudError(
      'service-unavailable',
      `${SERVICE_NAMES[service]} is not available at ${where}: ${action} was answered with ` +
        `${page.status ? `HTTP ${page.status} ` : ''}${page.contentType}, not an AWS API response`,
      {
        ...base,
        details: { ...base.details, service, ...(typeof endpoint === 'string' ? { endpoint } : {}) },
        remediation:
          `That endpoint does not offer ${service} (an emulator without it, or a proxy in the way). ` +
          'Use an endpoint that does (unset AWS_ENDPOINT_URL to reach AWS itself).',
      },
    );
  }

  return new CloudError('aws-error', `${action} failed: ${code ? `${code}: ` : ''}${message}`, base);
}
