// Tokens for Azure Resource Manager without the Azure SDK: a service principal from the environment
// (OAuth client credentials against Entra ID), else the Azure CLI's login (`az account
// get-access-token`). Missing or expired: exit 3 naming `az login` and the environment variables.
// Managed identity is not offered yet. The shape matches @azure/core-auth's TokenCredential, so a
// test passes a credential object of its own and nothing here ever runs.
import { execFile } from 'node:child_process';
import { CredentialsError, UsageError } from '../../core/errors.js';
import { CREDENTIAL_REMEDIATION } from './errors.js';

export interface AccessToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresOnTimestamp: number;
}

export interface TokenCredential {
  getToken(scope: string): Promise<AccessToken>;
  /** What the credential is, for whoAmI and messages ("service principal <client id>"). */
  readonly description?: string;
}

/** Azure's public cloud; AZURE_RESOURCE_MANAGER_ENDPOINT names another (a sovereign cloud, Azure Stack). */
export const DEFAULT_ENDPOINT = 'https://management.azure.com';

/** The token scope of a resource manager, as the Azure SDK derives it from the endpoint. */
export function armScope(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/.default`;
}

export const ARM_SCOPE = armScope(DEFAULT_ENDPOINT);

/**
 * An endpoint from the environment: an https URL (a bearer token is never sent in the clear, as the
 * Azure SDK refuses to), else exit 2 naming the variable.
 */
function httpsUrlFrom(env: NodeJS.ProcessEnv, variable: 'AZURE_RESOURCE_MANAGER_ENDPOINT' | 'AZURE_AUTHORITY_HOST'): string | undefined {
  const value = env[variable]?.trim();
  if (!value) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'https:' || url.search || url.hash) {
    throw new UsageError(`${variable}="${value}" is not an https URL (e.g. ${variable === 'AZURE_AUTHORITY_HOST' ? 'https://login.microsoftonline.us' : 'https://management.usgovcloudapi.net'}); unset it to use Azure's public cloud.`);
  }
  return value.replace(/\/+$/, '');
}

/** Azure Resource Manager: AZURE_RESOURCE_MANAGER_ENDPOINT, else the public cloud's. */
export function armEndpointFromEnvironment(env: NodeJS.ProcessEnv): string {
  return httpsUrlFrom(env, 'AZURE_RESOURCE_MANAGER_ENDPOINT') ?? DEFAULT_ENDPOINT;
}

/** Runs `az` with arguments; answers stdout. Injected by tests. */
export type RunAz = (args: string[]) => Promise<string>;

export const runAz: RunAz = (args) =>
  new Promise((resolve, reject) => {
    execFile('az', args, { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr) }));
      else resolve(String(stdout));
    });
  });

/** Caches a token until five minutes before it expires. */
export function cached(inner: TokenCredential): TokenCredential {
  let current: AccessToken | undefined;
  return {
    ...(inner.description ? { description: inner.description } : {}),
    async getToken(scope) {
      if (!current || current.expiresOnTimestamp - 5 * 60_000 <= Date.now()) current = await inner.getToken(scope);
      return current;
    },
  };
}

export function servicePrincipalCredential(opts: { tenantId: string; clientId: string; clientSecret: string; authorityHost?: string; fetch?: typeof fetch }): TokenCredential {
  const host = (opts.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  return {
    description: `service principal ${opts.clientId}`,
    async getToken(scope) {
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: opts.clientId, client_secret: opts.clientSecret, scope });
      let answer: Response;
      try {
        answer = await doFetch(`${host}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
      } catch (e) {
        throw new CredentialsError(`Could not reach ${host} for a token of service principal ${opts.clientId}: ${String((e as Error).message)}`, { remediation: CREDENTIAL_REMEDIATION, cause: e });
      }
      const json = (await answer.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
      if (!answer.ok || !json.access_token) {
        throw new CredentialsError(`Entra ID refused service principal ${opts.clientId} (AZURE_CLIENT_ID): ${json.error ?? answer.status} ${(json.error_description ?? '').split('\n')[0]}`.trim(), {
          remediation: CREDENTIAL_REMEDIATION,
        });
      }
      return { token: json.access_token, expiresOnTimestamp: Date.now() + (json.expires_in ?? 3600) * 1000 };
    },
  };
}

export function azureCliCredential(run: RunAz = runAz): TokenCredential {
  return {
    description: 'the Azure CLI login',
    async getToken(scope) {
      let out: string;
      try {
        out = await run(['account', 'get-access-token', '--scope', scope, '--output', 'json']);
      } catch (e) {
        const err = e as { code?: unknown; stderr?: string };
        const why = err.code === 'ENOENT' ? 'the Azure CLI (az) is not installed' : /az login|expired|refresh token/i.test(err.stderr ?? '') ? 'the Azure CLI login is missing or expired' : `az failed: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`;
        throw new CredentialsError(`No Azure credentials: ${why}, and AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set.`, { remediation: CREDENTIAL_REMEDIATION, cause: e });
      }
      const json = JSON.parse(out) as { accessToken?: string; expires_on?: number; expiresOn?: string };
      if (!json.accessToken) throw new CredentialsError('The Azure CLI answered no access token.', { remediation: CREDENTIAL_REMEDIATION });
      const expires = json.expires_on ? json.expires_on * 1000 : json.expiresOn ? Date.parse(json.expiresOn) : Date.now() + 30 * 60_000;
      return { token: json.accessToken, expiresOnTimestamp: expires };
    },
  };
}

/** The credential the environment offers: a service principal when its three variables are set, else the Azure CLI. */
export function credentialFromEnvironment(env: NodeJS.ProcessEnv, run: RunAz = runAz, doFetch?: typeof fetch): TokenCredential {
  const { AZURE_TENANT_ID: tenantId, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: clientSecret } = env;
  const some = [tenantId, clientId, clientSecret].filter(Boolean).length;
  if (some === 3) {
    const authorityHost = httpsUrlFrom(env, 'AZURE_AUTHORITY_HOST');
    return cached(servicePrincipalCredential({ tenantId: tenantId!, clientId: clientId!, clientSecret: clientSecret!, ...(authorityHost ? { authorityHost } : {}), ...(doFetch ? { fetch: doFetch } : {}) }));
  }
  if (some > 0) {
    const missing = (['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'] as const).filter((k) => !env[k]);
    return {
      description: 'an incomplete service principal',
      getToken: () => Promise.reject(new CredentialsError(`A service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set.`, { remediation: CREDENTIAL_REMEDIATION })),
    };
  }
  return cached(azureCliCredential(run));
}

/** The subscription: --subscription, else AZURE_SUBSCRIPTION_ID, else the Azure CLI's default. */
export async function defaultSubscription(env: NodeJS.ProcessEnv, run: RunAz = runAz): Promise<string> {
  if (env.AZURE_SUBSCRIPTION_ID) return env.AZURE_SUBSCRIPTION_ID;
  try {
    const json = JSON.parse(await run(['account', 'show', '--output', 'json'])) as { id?: string };
    if (json.id) return json.id;
  } catch {
    // Said below, with the fixes.
  }
  throw new CredentialsError('No Azure subscription chosen: --subscription is not given, AZURE_SUBSCRIPTION_ID is not set and the Azure CLI has no default.', { remediation: CREDENTIAL_REMEDIATION });
}
