// Tokens for Azure Resource Manager without the Azure SDK, in the order the SDK's default chain
// uses: a service principal from the environment (OAuth client credentials against Entra ID),
// workload identity (a federated token file, as AKS and CI runners mount one), a managed identity
// when asked for (AZURE_USE_MANAGED_IDENTITY=true on an Azure VM, or the IDENTITY_ENDPOINT a hosting
// service gives its apps), else the Azure CLI's login (`az account get-access-token`). Missing or
// expired: exit 3 naming `az login` and the environment variables. The shape matches
// @azure/core-auth's TokenCredential, so a test passes a credential object of its own.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
      return tokenFromEntra(doFetch, `${host}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`, body, `service principal ${opts.clientId} (AZURE_CLIENT_ID)`);
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

/**
 * Workload identity: the token in AZURE_FEDERATED_TOKEN_FILE (re-read for every token, since the
 * platform rotates it) exchanged at Entra ID as a client assertion for the app AZURE_CLIENT_ID.
 */
export function workloadIdentityCredential(opts: { tenantId: string; clientId: string; tokenFile: string; authorityHost?: string; fetch?: typeof fetch }): TokenCredential {
  const host = (opts.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const what = `workload identity ${opts.clientId} (AZURE_FEDERATED_TOKEN_FILE)`;
  return {
    description: `workload identity ${opts.clientId}`,
    async getToken(scope) {
      let assertion: string;
      try {
        assertion = readFileSync(opts.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new CredentialsError(`Cannot read AZURE_FEDERATED_TOKEN_FILE ${opts.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { remediation: CREDENTIAL_REMEDIATION, cause: e });
      }
      if (!assertion) throw new CredentialsError(`AZURE_FEDERATED_TOKEN_FILE ${opts.tokenFile} is empty`, { remediation: CREDENTIAL_REMEDIATION });
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: opts.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        scope,
      });
      return tokenFromEntra(doFetch, `${host}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`, body, what);
    },
  };
}

async function tokenFromEntra(doFetch: typeof fetch, url: string, body: URLSearchParams, what: string): Promise<AccessToken> {
  let answer: Response;
  try {
    answer = await doFetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  } catch (e) {
    throw new CredentialsError(`Could not reach ${new URL(url).origin} for a token of ${what}: ${String((e as Error).message)}`, { remediation: CREDENTIAL_REMEDIATION, cause: e });
  }
  const json = (await answer.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!answer.ok || !json.access_token) {
    throw new CredentialsError(`Entra ID refused ${what}: ${json.error ?? answer.status} ${(json.error_description ?? '').split('\n')[0]}`.trim(), { remediation: CREDENTIAL_REMEDIATION });
  }
  return { token: json.access_token, expiresOnTimestamp: Date.now() + (json.expires_in ?? 3600) * 1000 };
}

/** Azure's instance metadata service, where a VM's managed identity gets its tokens. */
const IMDS = 'http://169.254.169.254';

/** A token scope (`https://management.azure.com/.default`) as the resource the identity endpoints take. */
function resourceOf(scope: string): string {
  return scope.replace(/\.default$/, '');
}

/**
 * A managed identity: the system-assigned one, or the user-assigned one whose client id is
 * AZURE_CLIENT_ID. Through IDENTITY_ENDPOINT and IDENTITY_HEADER where the host gives them (App
 * Service, Functions, Container Apps), else the VM's instance metadata service
 * (AZURE_POD_IDENTITY_AUTHORITY_HOST moves it, as for the Azure SDK).
 */
export function managedIdentityCredential(env: NodeJS.ProcessEnv, doFetch: typeof fetch = fetch): TokenCredential {
  const clientId = env.AZURE_CLIENT_ID;
  const who = clientId ? `the managed identity ${clientId} (AZURE_CLIENT_ID)` : 'the system-assigned managed identity';
  const hosted = env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER ? { endpoint: env.IDENTITY_ENDPOINT, header: env.IDENTITY_HEADER } : undefined;
  const imds = (env.AZURE_POD_IDENTITY_AUTHORITY_HOST?.trim() || IMDS).replace(/\/+$/, '');
  return {
    description: clientId ? `managed identity ${clientId}` : 'the managed identity',
    async getToken(scope) {
      if (env.IDENTITY_ENDPOINT && env.IMDS_ENDPOINT) {
        throw new CredentialsError('An Azure Arc machine\'s managed identity (IDENTITY_ENDPOINT with IMDS_ENDPOINT) is not supported', { remediation: CREDENTIAL_REMEDIATION });
      }
      const url = new URL(hosted ? hosted.endpoint : `${imds}/metadata/identity/oauth2/token`);
      url.searchParams.set('api-version', hosted ? '2019-08-01' : '2018-02-01');
      url.searchParams.set('resource', resourceOf(scope));
      if (clientId) url.searchParams.set('client_id', clientId);
      const where = hosted ? `IDENTITY_ENDPOINT (${url.origin})` : `the instance metadata service (${url.origin})`;
      let answer: Response;
      try {
        answer = await doFetch(url, { headers: hosted ? { 'X-IDENTITY-HEADER': hosted.header } : { Metadata: 'true' }, signal: AbortSignal.timeout(10_000) });
      } catch (e) {
        throw new CredentialsError(`No token for ${who}: ${where} did not answer (${String((e as Error).message)}). A managed identity works only on Azure (a VM, App Service, Container Apps).`, {
          remediation: CREDENTIAL_REMEDIATION,
          cause: e,
        });
      }
      const json = (await answer.json().catch(() => ({}))) as { access_token?: string; expires_on?: string | number; expires_in?: string | number; error?: string; error_description?: string; message?: string };
      if (!answer.ok || !json.access_token) {
        const why = json.error_description ?? json.message ?? json.error ?? `HTTP ${answer.status}`;
        throw new CredentialsError(`No token for ${who} from ${where}: ${String(why).split('\n')[0]}`, {
          remediation: `Assign a managed identity to this machine and give it a role on the subscription (or unset AZURE_USE_MANAGED_IDENTITY). ${CREDENTIAL_REMEDIATION}`,
        });
      }
      const expiresOn = Number(json.expires_on);
      const expiresIn = Number(json.expires_in);
      const expires = Number.isFinite(expiresOn) && expiresOn > 0 ? expiresOn * 1000 : Number.isFinite(expiresIn) && expiresIn > 0 ? Date.now() + expiresIn * 1000 : Date.now() + 30 * 60_000;
      return { token: json.access_token, expiresOnTimestamp: expires };
    },
  };
}

/**
 * The credential the environment offers: a service principal when its three variables are set;
 * workload identity when AZURE_FEDERATED_TOKEN_FILE is; a managed identity when
 * AZURE_USE_MANAGED_IDENTITY=true or the host gives IDENTITY_ENDPOINT; else the Azure CLI.
 */
export function credentialFromEnvironment(env: NodeJS.ProcessEnv, run: RunAz = runAz, doFetch?: typeof fetch): TokenCredential {
  const { AZURE_TENANT_ID: tenantId, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: clientSecret } = env;
  const some = [tenantId, clientId, clientSecret].filter(Boolean).length;
  if (some === 3) {
    const authorityHost = httpsUrlFrom(env, 'AZURE_AUTHORITY_HOST');
    return cached(servicePrincipalCredential({ tenantId: tenantId!, clientId: clientId!, clientSecret: clientSecret!, ...(authorityHost ? { authorityHost } : {}), ...(doFetch ? { fetch: doFetch } : {}) }));
  }
  const tokenFile = env.AZURE_FEDERATED_TOKEN_FILE?.trim();
  if (tokenFile && !clientSecret) {
    const missing = (['AZURE_TENANT_ID', 'AZURE_CLIENT_ID'] as const).filter((k) => !env[k]);
    if (missing.length) {
      return {
        description: 'an incomplete workload identity',
        getToken: () => Promise.reject(new CredentialsError(`Workload identity (AZURE_FEDERATED_TOKEN_FILE) needs AZURE_TENANT_ID and AZURE_CLIENT_ID; ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set.`, { remediation: CREDENTIAL_REMEDIATION })),
      };
    }
    const authorityHost = httpsUrlFrom(env, 'AZURE_AUTHORITY_HOST');
    return cached(workloadIdentityCredential({ tenantId: tenantId!, clientId: clientId!, tokenFile, ...(authorityHost ? { authorityHost } : {}), ...(doFetch ? { fetch: doFetch } : {}) }));
  }
  const wantsManaged = /^(1|true|yes)$/i.test(env.AZURE_USE_MANAGED_IDENTITY?.trim() ?? '');
  if (wantsManaged || (env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER && !clientSecret && !tenantId)) {
    return cached(managedIdentityCredential(env, doFetch));
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
