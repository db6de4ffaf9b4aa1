// Stand-ins for the two Google endpoints workload identity federation uses, so a client with an
// `external_account` credentials file runs the real flow against the emulator:
//   POST /v1/token  — the Security Token Service (sts.googleapis.com), RFC 8693 token exchange
//   POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken — IAM Credentials
// (a test's credentials file points token_url / service_account_impersonation_url here). Both check
// the request's shape as Google does and refuse what a real pool would refuse: a subject token the
// test did not trust, another audience, a service account the pool may not impersonate.
export const FEDERATION_AUDIENCE = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/sgl-ci/providers/sgl-oidc';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const SUBJECT_TOKEN_TYPES = new Set([
  'urn:ietf:params:oauth:token-type:jwt',
  'urn:ietf:params:oauth:token-type:id_token',
  'urn:ietf:params:oauth:token-type:saml2',
  'urn:ietf:params:aws:token-type:aws4_request',
]);

export interface FederationSettings {
  /** The one pool provider that exists (default FEDERATION_AUDIENCE). */
  audience: string;
  /** Subject tokens the provider accepts (its issuer and attribute condition, reduced to a list). */
  subjectTokens: string[];
  /** Service accounts the pool's identities may impersonate. */
  serviceAccounts: string[];
}

export interface FederationExchange {
  kind: 'sts' | 'impersonate';
  status: number;
  /** sts: the form fields; impersonate: the service account, bearer token and JSON body. */
  request: Record<string, unknown>;
}

interface Answer {
  status: number;
  body: unknown;
}

export class Federation {
  settings: FederationSettings = Federation.defaults();
  readonly exchanges: FederationExchange[] = [];
  /** Federated (STS) tokens issued, which are the only bearer tokens impersonation accepts. */
  readonly stsTokens: string[] = [];
  readonly impersonatedTokens: string[] = [];

  static defaults(): FederationSettings {
    return { audience: FEDERATION_AUDIENCE, subjectTokens: [], serviceAccounts: [] };
  }

  reset(): void {
    this.settings = Federation.defaults();
    this.exchanges.length = 0;
    this.stsTokens.length = 0;
    this.impersonatedTokens.length = 0;
  }

  configure(settings: Partial<FederationSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  /** Whether this request is for one of the two endpoints (else undefined). */
  handle(method: string, path: string, contentType: string | undefined, authorization: string | undefined, body: string): Answer | undefined {
    if (method === 'POST' && path === '/v1/token') return this.record('sts', this.sts(contentType, body));
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    if (method === 'POST' && m) return this.record('impersonate', this.impersonate(decodeURIComponent(m[1]!), authorization, body));
    return undefined;
  }

  private record(kind: FederationExchange['kind'], result: Answer & { request: Record<string, unknown> }): Answer {
    this.exchanges.push({ kind, status: result.status, request: result.request });
    return { status: result.status, body: result.body };
  }

  private sts(contentType: string | undefined, raw: string): Answer & { request: Record<string, unknown> } {
    const form = new URLSearchParams(raw);
    const request = Object.fromEntries(form.entries());
    const oauthError = (status: number, error: string, description: string) => ({ status, body: { error, error_description: description }, request });
    if (!(contentType ?? '').startsWith('application/x-www-form-urlencoded')) return oauthError(400, 'invalid_request', 'The request body must be application/x-www-form-urlencoded.');
    const grant = form.get('grant_type');
    if (grant !== TOKEN_EXCHANGE) return oauthError(400, 'unsupported_grant_type', `Invalid value for "grant_type": ${grant ?? '(none)'}`);
    if (form.get('requested_token_type') !== ACCESS_TOKEN_TYPE) return oauthError(400, 'invalid_request', 'Invalid value for "requested_token_type".');
    const subjectType = form.get('subject_token_type') ?? '';
    if (!SUBJECT_TOKEN_TYPES.has(subjectType)) return oauthError(400, 'invalid_request', `Invalid value for "subject_token_type": ${subjectType || '(none)'}`);
    const scopes = (form.get('scope') ?? '').split(/\s+/);
    if (!scopes.includes(CLOUD_PLATFORM)) return oauthError(400, 'invalid_scope', 'The scope must include https://www.googleapis.com/auth/cloud-platform.');
    const audience = form.get('audience') ?? '';
    if (audience !== this.settings.audience) {
      return oauthError(
        400,
        'invalid_target',
        'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.',
      );
    }
    const subject = form.get('subject_token') ?? '';
    if (subject === '') return oauthError(400, 'invalid_request', 'Missing required parameter: "subject_token".');
    if (!this.settings.subjectTokens.includes(subject)) return oauthError(400, 'invalid_grant', 'The provided subject token is invalid or has expired, or does not satisfy the provider\'s attribute condition.');
    const token = `ya29.sts-${this.stsTokens.length + 1}`;
    this.stsTokens.push(token);
    return { status: 200, body: { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 3599 }, request };
  }

  private impersonate(account: string, authorization: string | undefined, raw: string): Answer & { request: Record<string, unknown> } {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const request: Record<string, unknown> = { account, token: bearer };
    const googleError = (code: number, status: string, message: string) => ({ status: code, body: { error: { code, message, status } }, request });
    if (!bearer || !this.stsTokens.includes(bearer)) return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    let body: { scope?: unknown; lifetime?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    request.body = body;
    if (!Array.isArray(body.scope) || body.scope.length === 0 || !body.scope.every((s) => typeof s === 'string')) return googleError(400, 'INVALID_ARGUMENT', 'Scope required.');
    let seconds = 3600;
    if (body.lifetime !== undefined) {
      const m = typeof body.lifetime === 'string' ? /^(\d+)s$/.exec(body.lifetime) : null;
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 3600) return googleError(400, 'INVALID_ARGUMENT', 'The lifetime must be between 1s and 3600s.');
      seconds = Number(m[1]);
    }
    if (!this.settings.serviceAccounts.includes(account)) {
      return googleError(403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    }
    const token = `ya29.impersonated-${this.impersonatedTokens.length + 1}`;
    this.impersonatedTokens.push(token);
    return { status: 200, body: { accessToken: token, expireTime: new Date(Date.now() + seconds * 1000).toISOString() }, request };
  }
}
