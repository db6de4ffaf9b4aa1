// Workload identity federation ("external_account" ADC files), without Google's auth library: what
// CI systems hand the tool (google-github-actions/auth, GitLab's gcloud setup, runners on AWS or
// Azure using a file- or URL-sourced OIDC token). The flow, as Google documents it:
//   1. read the subject token (an OIDC/SAML token the CI issued) from credential_source.file or .url,
//      as plain text or as one field of a JSON document (credential_source.format);
//   2. exchange it at token_url (Google's Security Token Service, RFC 8693 token exchange) for a
//      federated access token;
//   3. when service_account_impersonation_url is set, trade that for a service account's access
//      token (IAM Credentials generateAccessToken).
// The subject token is read again on every exchange: CI rewrites the file as tokens expire.
// Executable-sourced and AWS-sourced credentials are refused: the first runs an arbitrary program
// the file names, the second needs SigV4 signing of an AWS request; neither is implemented.
import { readFileSync } from 'node:fs';
import { CredentialsError } from '../../core/errors.js';
import type { AccessToken, TokenSource } from './auth.js';
import { errorFromResponse, jsonBody } from './errors.js';

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** What to do when workload identity federation is refused or cannot be set up. */
export const FEDERATION_REMEDIATION =
  'Check the workload identity federation setup: the credentials file (regenerate it with `gcloud iam workload-identity-pools create-cred-config`), ' +
  'the step that writes the subject token (e.g. google-github-actions/auth, run earlier in the same job), the pool provider\'s attribute conditions, ' +
  'and the service account binding (roles/iam.workloadIdentityUser); or use a service account key in GOOGLE_APPLICATION_CREDENTIALS, or `gcloud auth application-default login`.';

const SUPPORTED =
  'sourcegraph-launch supports workload identity federation files whose credential_source is a file or a URL (text or JSON format), with or without service account impersonation';

interface CredentialSource {
  file?: string;
  url?: string;
  headers?: Record<string, string>;
  format?: { type?: string; subject_token_field_name?: string };
  executable?: unknown;
  environment_id?: string;
}

export interface ExternalAccountFile {
  type: 'external_account';
  audience: string;
  subject_token_type: string;
  token_url: string;
  credential_source: CredentialSource;
  service_account_impersonation_url?: string;
  service_account_impersonation?: { token_lifetime_seconds?: number };
  quota_project_id?: string;
  workforce_pool_user_project?: string;
}

function refuse(message: string, remediation = FEDERATION_REMEDIATION): CredentialsError {
  return new CredentialsError(message, { remediation });
}

/** Checks the file's shape up front (no I/O), so an unusable file is exit 3 before any call. */
function checkFile(json: Record<string, unknown>, path: string): ExternalAccountFile {
  const source = json.credential_source as CredentialSource | undefined;
  if (source && typeof source === 'object') {
    if (source.executable !== undefined) {
      throw refuse(`${path} is an executable-sourced workload identity federation file, which sourcegraph-launch does not support`, `${SUPPORTED}. Write the token to a file and point credential_source.file at it, or use a service account key.`);
    }
    if (typeof source.environment_id === 'string' && source.environment_id.toLowerCase().startsWith('aws')) {
      throw refuse(`${path} is an AWS-sourced workload identity federation file (environment_id ${source.environment_id}), which sourcegraph-launch does not support`, `${SUPPORTED}; AWS-sourced credentials are not. On AWS, use a service account key, or an OIDC token in a file.`);
    }
  }
  const missing = ['audience', 'subject_token_type', 'token_url'].filter((k) => typeof json[k] !== 'string' || json[k] === '');
  if (!source || typeof source !== 'object') missing.push('credential_source');
  else if (typeof source.file !== 'string' && typeof source.url !== 'string') missing.push('credential_source.file or credential_source.url');
  if (missing.length > 0) throw refuse(`${path} is an incomplete workload identity federation file: no ${missing.join(', ')}`);
  const format = source!.format;
  if (format && format.type !== undefined && format.type !== 'text' && format.type !== 'json') {
    throw refuse(`${path}: credential_source.format.type "${String(format.type)}" is neither "text" nor "json"`);
  }
  if (format?.type === 'json' && typeof format.subject_token_field_name !== 'string') {
    throw refuse(`${path}: credential_source.format is "json" but names no subject_token_field_name`);
  }
  return json as unknown as ExternalAccountFile;
}

/** The token out of what the file or URL held, by the file's format rules. */
function subjectTokenFrom(text: string, source: CredentialSource, where: string): string {
  let token: unknown = text;
  if (source.format?.type === 'json') {
    const field = source.format.subject_token_field_name!;
    try {
      token = (JSON.parse(text) as Record<string, unknown>)[field];
    } catch {
      throw refuse(`The subject token at ${where} is not JSON, but the credentials file says format "json"`);
    }
    if (typeof token !== 'string') throw refuse(`The subject token at ${where} has no string field "${field}"`);
  }
  const trimmed = (token as string).trim();
  if (trimmed === '') throw refuse(`The subject token at ${where} is empty`);
  return trimmed;
}

async function readSubjectToken(source: CredentialSource, fetcher: typeof fetch, readFile: (p: string) => string): Promise<string> {
  if (typeof source.file === 'string') {
    let text: string;
    try {
      text = readFile(source.file);
    } catch (err) {
      throw new CredentialsError(`The subject token file ${source.file} cannot be read: ${(err as Error).message}`, { cause: err, remediation: FEDERATION_REMEDIATION });
    }
    return subjectTokenFrom(text, source, source.file);
  }
  const url = source.url!;
  let response: Response;
  try {
    response = await fetcher(url, { headers: source.headers ?? {}, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new CredentialsError(`The subject token URL ${url} cannot be reached: ${(err as Error).message}`, { cause: err, remediation: FEDERATION_REMEDIATION });
  }
  const text = await response.text();
  if (!response.ok) throw refuse(`The subject token URL ${url} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
  return subjectTokenFrom(text, source, url);
}

async function postForJson(fetcher: typeof fetch, url: string, init: RequestInit, what: string): Promise<{ status: number; ok: boolean; body: unknown; headers: Headers }> {
  let response: Response;
  try {
    response = await fetcher(url, init);
  } catch (err) {
    throw new CredentialsError(`${what} at ${url} cannot be reached: ${(err as Error).message}`, { cause: err, remediation: FEDERATION_REMEDIATION });
  }
  return { status: response.status, ok: response.ok, body: await jsonBody(response), headers: response.headers };
}

/** The service account a `.../serviceAccounts/EMAIL:generateAccessToken` URL names. */
export function impersonatedAccount(url: string): string | undefined {
  const m = /\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(url);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export function externalAccountSource(
  json: Record<string, unknown>,
  path: string,
  opts: { readFile?: (p: string) => string; now?: () => number } = {},
): TokenSource {
  const file = checkFile(json, path);
  const read = opts.readFile ?? defaultReadFile;
  const now = opts.now ?? Date.now;
  const impersonate = file.service_account_impersonation_url;
  const account = impersonate ? impersonatedAccount(impersonate) : undefined;
  return {
    description: `workload identity federation ${path}`,
    principal: account ?? `workload identity federation (${file.audience})`,
    ...(file.quota_project_id ? { projectId: file.quota_project_id } : {}),
    async fetchToken(fetcher): Promise<AccessToken> {
      const subjectToken = await readSubjectToken(file.credential_source, fetcher, read);
      const form: Record<string, string> = {
        grant_type: TOKEN_EXCHANGE,
        audience: file.audience,
        scope: SCOPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
        subject_token: subjectToken,
        subject_token_type: file.subject_token_type,
      };
      // Workforce pools (people, not workloads) name the project to bill when nothing is impersonated.
      if (file.workforce_pool_user_project && !impersonate) form.options = JSON.stringify({ userProject: file.workforce_pool_user_project });
      const sts = await postForJson(
        fetcher,
        file.token_url,
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() },
        "Google's Security Token Service",
      );
      if (!sts.ok) {
        const err = errorFromResponse(sts.status, sts.body, sts.headers);
        throw new CredentialsError(`Google's Security Token Service refused the subject token (audience ${file.audience}): ${err.message}`, {
          cause: err,
          remediation: `The workload identity pool provider must trust the token's issuer and its attribute condition must admit it, and the token must be current (CI tokens are short-lived: re-run the step that writes it). ${FEDERATION_REMEDIATION}`,
        });
      }
      const { access_token, expires_in } = sts.body as { access_token?: string; expires_in?: number };
      if (!access_token) throw refuse("Google's Security Token Service answered without an access token");
      if (!impersonate) return { token: access_token, expiresAt: now() + (expires_in ?? 3600) * 1000 };

      const lifetime = file.service_account_impersonation?.token_lifetime_seconds ?? 3600;
      const iam = await postForJson(
        fetcher,
        impersonate,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${access_token}` },
          body: JSON.stringify({ scope: [SCOPE], lifetime: `${lifetime}s` }),
        },
        'Service account impersonation',
      );
      if (!iam.ok) {
        const err = errorFromResponse(iam.status, iam.body, iam.headers);
        const who = account ?? impersonate;
        throw new CredentialsError(`Impersonating service account ${who} was refused: ${err.message}`, {
          cause: err,
          remediation:
            iam.status === 403
              ? `Grant the pool's identities roles/iam.workloadIdentityUser on ${who} (gcloud iam service-accounts add-iam-policy-binding ${who} --role roles/iam.workloadIdentityUser --member principalSet://iam.googleapis.com/...), and check the service account exists and is enabled.`
              : FEDERATION_REMEDIATION,
        });
      }
      const { accessToken, expireTime } = iam.body as { accessToken?: string; expireTime?: string };
      if (!accessToken) throw refuse('Service account impersonation answered without an access token');
      const expires = expireTime ? Date.parse(expireTime) : NaN;
      return { token: accessToken, expiresAt: Number.isFinite(expires) ? expires : now() + lifetime * 1000 };
    },
  };
}

function defaultReadFile(p: string): string {
  return readFileSync(p, 'utf8');
}
