// Application Default Credentials without Google's auth library (which would add several MB and a
// tree of dependencies to the bundle): the three sources gcloud documents, in its order.
//   1. GOOGLE_APPLICATION_CREDENTIALS: a service account key (JWT-bearer grant, signed here with
//      node:crypto), an authorized-user file (refresh-token grant) or a workload identity federation
//      file (external_account: STS token exchange, see external-account.ts)
//   2. gcloud's ADC file (`gcloud auth application-default login`)
//   3. the metadata server, only when running on GCE (skipped when METADATA_SERVER_DETECTION=none)
// The token endpoint is the file's own `token_uri`, so a file can point it anywhere (tests do).
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CredentialsError } from '../../core/errors.js';
import { gcloudConfigDir } from './config-dir.js';
import { errorFromResponse, jsonBody, SIGN_IN_REMEDIATION } from './errors.js';
import { externalAccountSource } from './external-account.js';

export { gcloudConfigDir };

export const COMPUTE_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const METADATA_HOST = 'metadata.google.internal';

export interface AccessToken {
  token: string;
  expiresAt: number;
}

export interface TokenSource {
  /** Where the credentials came from, for messages ("service account key /path/key.json"). */
  readonly description: string;
  /** Who they are (a service account e-mail), when known without a call. */
  readonly principal?: string;
  /** The project the credentials name (a key file's project_id), if any. */
  readonly projectId?: string;
  fetchToken(fetcher: typeof fetch): Promise<AccessToken>;
}

interface ServiceAccountFile {
  type: 'service_account';
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  token_uri?: string;
}

interface AuthorizedUserFile {
  type: 'authorized_user';
  client_id: string;
  client_secret: string;
  refresh_token: string;
  quota_project_id?: string;
  token_uri?: string;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

async function tokenRequest(fetcher: typeof fetch, uri: string, form: Record<string, string>): Promise<AccessToken> {
  const response = await fetcher(uri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = await jsonBody(response);
  if (!response.ok) {
    const err = errorFromResponse(response.status, body, response.headers);
    // Any refusal of the token endpoint (expired refresh token, revoked key) is a credentials problem.
    throw new CredentialsError(`Google refused the credentials: ${err.message}`, { cause: err, remediation: SIGN_IN_REMEDIATION });
  }
  const { access_token, expires_in } = body as { access_token?: string; expires_in?: number };
  if (!access_token) throw new CredentialsError('The token endpoint answered without an access token', { remediation: SIGN_IN_REMEDIATION });
  return { token: access_token, expiresAt: Date.now() + (expires_in ?? 3600) * 1000 };
}

export function serviceAccountSource(file: ServiceAccountFile, path: string, now: () => number = Date.now): TokenSource {
  const tokenUri = file.token_uri ?? GOOGLE_TOKEN_URI;
  return {
    description: `service account key ${path}`,
    principal: file.client_email,
    ...(file.project_id ? { projectId: file.project_id } : {}),
    fetchToken(fetcher) {
      const iat = Math.floor(now() / 1000);
      const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...(file.private_key_id ? { kid: file.private_key_id } : {}) }));
      const claims = b64url(JSON.stringify({ iss: file.client_email, scope: COMPUTE_SCOPE, aud: tokenUri, iat, exp: iat + 3600 }));
      let signature: string;
      try {
        signature = b64url(createSign('RSA-SHA256').update(`${header}.${claims}`).sign(file.private_key));
      } catch (err) {
        throw new CredentialsError(`The service account key in ${path} cannot sign: ${(err as Error).message}`, { cause: err, remediation: SIGN_IN_REMEDIATION });
      }
      return tokenRequest(fetcher, tokenUri, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${header}.${claims}.${signature}` });
    },
  };
}

export function authorizedUserSource(file: AuthorizedUserFile, path: string): TokenSource {
  return {
    description: `user credentials ${path}`,
    principal: `user credentials (${path})`,
    ...(file.quota_project_id ? { projectId: file.quota_project_id } : {}),
    fetchToken: (fetcher) =>
      tokenRequest(fetcher, file.token_uri ?? GOOGLE_TOKEN_URI, {
        grant_type: 'refresh_token',
        client_id: file.client_id,
        client_secret: file.client_secret,
        refresh_token: file.refresh_token,
      }),
  };
}

export function metadataServerSource(env: NodeJS.ProcessEnv): TokenSource {
  const host = env.GCE_METADATA_HOST || METADATA_HOST;
  return {
    description: 'the GCE metadata server',
    async fetchToken(fetcher) {
      let response: Response;
      try {
        response = await fetcher(`http://${host}/computeMetadata/v1/instance/service-accounts/default/token`, {
          headers: { 'Metadata-Flavor': 'Google' },
          signal: AbortSignal.timeout(3_000),
        });
      } catch (err) {
        throw new CredentialsError(`No Google Cloud credentials found (none in GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default credentials, and no GCE metadata server)`, {
          cause: err,
          remediation: SIGN_IN_REMEDIATION,
        });
      }
      if (!response.ok) throw new CredentialsError(`The GCE metadata server gave no token (HTTP ${response.status})`, { remediation: SIGN_IN_REMEDIATION });
      const body = (await response.json()) as { access_token: string; expires_in?: number };
      return { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 300) * 1000 };
    },
  };
}

function readJson(path: string, read: (p: string) => string | undefined): Record<string, unknown> | undefined {
  const text = read(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CredentialsError(`${path} is not a JSON credentials file`, { remediation: SIGN_IN_REMEDIATION });
  }
}

function sourceFromFile(json: Record<string, unknown>, path: string): TokenSource {
  if (json.type === 'service_account' && typeof json.client_email === 'string' && typeof json.private_key === 'string') return serviceAccountSource(json as unknown as ServiceAccountFile, path);
  if (json.type === 'authorized_user' && typeof json.refresh_token === 'string') return authorizedUserSource(json as unknown as AuthorizedUserFile, path);
  if (json.type === 'external_account') return externalAccountSource(json, path);
  throw new CredentialsError(`${path} holds credentials of type "${String(json.type)}", which sourcegraph-launch does not support yet`, {
    remediation: 'Use a service account key, a workload identity federation file, or `gcloud auth application-default login`.',
  });
}

const readText = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The first source of Application Default Credentials, or why there is none (undefined source).
 * Nothing is fetched here: the metadata server is only a candidate, asked on the first call.
 */
export function findCredentials(env: NodeJS.ProcessEnv, opts: { readFile?: (p: string) => string | undefined; home?: string } = {}): { source?: TokenSource; none?: string } {
  const read = opts.readFile ?? readText;
  const explicit = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (explicit) {
    const json = readJson(explicit, read);
    if (!json) {
      throw new CredentialsError(`GOOGLE_APPLICATION_CREDENTIALS names ${explicit}, which cannot be read`, { remediation: SIGN_IN_REMEDIATION });
    }
    return { source: sourceFromFile(json, explicit) };
  }
  const adc = join(gcloudConfigDir(env, opts.home), 'application_default_credentials.json');
  const json = readJson(adc, read);
  if (json) return { source: sourceFromFile(json, adc) };
  if ((env.METADATA_SERVER_DETECTION ?? '').toLowerCase() === 'none') {
    return { none: `GOOGLE_APPLICATION_CREDENTIALS is not set, there is no ${adc}, and METADATA_SERVER_DETECTION=none rules out the metadata server` };
  }
  return { source: metadataServerSource(env) };
}

/** The credentials error for "none found", naming both ways to fix it. */
export function noCredentialsError(why: string): CredentialsError {
  return new CredentialsError(`No Google Cloud credentials found: ${why}`, { code: 'credentials', remediation: SIGN_IN_REMEDIATION });
}

/** A token source with a cache: a token is reused until a minute before it expires. */
export class TokenCache {
  private current?: AccessToken;
  private pending?: Promise<AccessToken>;
  constructor(
    private readonly source: TokenSource,
    private readonly fetcher: typeof fetch,
    private readonly now: () => number = Date.now,
  ) {}

  async token(): Promise<string> {
    if (this.current && this.current.expiresAt - 60_000 > this.now()) return this.current.token;
    this.pending ??= this.source.fetchToken(this.fetcher).finally(() => {
      this.pending = undefined;
    });
    this.current = await this.pending;
    return this.current.token;
  }
}
