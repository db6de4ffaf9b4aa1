// What every part of the AWS adapter shares: the narrow clients (sdk.ts, loaded lazily), where and
// as whom it talks, how it waits, and the one call wrapper that turns whatever the SDK throws into
// our typed errors.
import { isAwsErrorCode, isNotFoundError, toLaunchError, type AwsErrorContext } from './errors.js';
import type { Route53Api } from './route53-sdk.js';
import type { SsmApi } from './ssm-sdk.js';
import type { DlmApi, Ec2Api, ServiceQuotasApi, StsApi } from './sdk.js';

export interface AwsContext {
  ec2: Ec2Api;
  sts: StsApi;
  dlm?: DlmApi;
  /** Service Quotas, for doctor's vCPU quota (quotas.ts). */
  serviceQuotas?: ServiceQuotasApi;
  /** Route 53 (DNS records of tls --domain); absent when a test does not need it. */
  route53?: Route53Api;
  /** Systems Manager (the run-command channel, run-command.ts); absent when a test does not need it. */
  ssm?: SsmApi;
  region: string;
  /** The profile the clients were built with; only used to name it in credential errors. */
  profile: string;
  /** Interval between polls while waiting (instance state, volumes, snapshots, images). */
  pollIntervalMs: number;
  /** How long deleting a security group retries DependencyViolation (a terminated instance's ENI lingers). */
  dependencyRetryMs: number;
  /** How long a new instance may take to list its volumes before they are labelled by role. */
  volumeTagWaitMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
}

type Extra = Partial<Pick<AwsErrorContext, 'service' | 'instanceType'>>;

/** Runs one API call; whatever it throws becomes one of our typed errors. */
export async function call<T>(c: AwsContext, operation: string, send: () => Promise<T>, extra: Extra = {}): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, profile: c.profile, region: c.region, ...extra });
  }
}

/** Like call, but "not found" (or one of `alsoGone`) resolves to undefined: it is already gone or never was. */
export async function callUnlessNotFound<T>(c: AwsContext, operation: string, send: () => Promise<T>, alsoGone: string[] = [], extra: Extra = {}): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if (isNotFoundError(err) || (alsoGone.length && isAwsErrorCode(err, ...alsoGone))) return undefined;
    throw toLaunchError(err, { operation, profile: c.profile, region: c.region, ...extra });
  }
}

/** Follows NextToken until the last page. */
export async function paginate<T extends { NextToken?: string }>(c: AwsContext, operation: string, fetch: (nextToken: string | undefined) => Promise<T>): Promise<T[]> {
  const pages: T[] = [];
  let token: string | undefined;
  do {
    const page = await call(c, operation, () => fetch(token));
    pages.push(page);
    token = page.NextToken || undefined;
  } while (token);
  return pages;
}

/** Polls `probe` until it answers a value, or throws what `timeout` makes once `timeoutMs` passed. */
export async function pollUntil<T>(c: AwsContext, timeoutMs: number, probe: () => Promise<T | undefined>, timeout: () => Error): Promise<T> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (c.now() >= deadline) throw timeout();
    await c.sleep(c.pollIntervalMs);
  }
}
