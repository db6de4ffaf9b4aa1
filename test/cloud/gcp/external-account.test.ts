// Workload identity federation (`external_account` ADC files) against the GCE emulator's stand-ins
// for Google's Security Token Service and IAM Credentials: the subject token read from a file or a
// URL (text or JSON), exchanged at the file's token_url, optionally traded for a service account's
// token; every refusal is exit 3 with a remediation. Nothing reaches Google: every URL is loopback.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GcpAdapter } from '../../../src/cloud/gcp/adapter.js';
import { findCredentials, TokenCache, type TokenSource } from '../../../src/cloud/gcp/auth.js';
import { ExitCode, isLaunchError, type LaunchError } from '../../../src/core/errors.js';
import { FEDERATION_AUDIENCE, startGceEmulator, type GceEmulator } from '../../support/gce-emulator/index.js';

const SA = 'deployer@sgl-test-project.iam.gserviceaccount.com';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

let gce: GceEmulator;
let dir: string;
let tokenServer: Server;
let tokenServerUrl: string;
const tokenServerSeen: (string | undefined)[] = [];

beforeAll(async () => {
  gce = await startGceEmulator();
  dir = mkdtempSync(join(tmpdir(), 'sgl-gcp-wif-'));
  // A CI's token endpoint (GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL style): JSON {value}, only
  // with the bearer header the credentials file names.
  tokenServer = createServer((req, res) => {
    tokenServerSeen.push(req.headers.authorization);
    const ok = req.headers.authorization === 'Bearer ci-request-token';
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(ok ? JSON.stringify({ count: 1, value: 'oidc-from-url' }) : '{"message":"Bad credentials"}');
  });
  await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
  tokenServerUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token?audience=x`;
});
afterAll(async () => {
  await new Promise<void>((r) => tokenServer.close(() => r()));
  await gce.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  gce.reset();
  gce.control.federation.configure({ subjectTokens: ['oidc-good', 'oidc-from-url'], serviceAccounts: [SA] });
});

let n = 0;
function credentialsFile(overrides: Record<string, unknown> = {}): string {
  const file = join(dir, `wif-${(n += 1)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      type: 'external_account',
      audience: FEDERATION_AUDIENCE,
      subject_token_type: JWT_TYPE,
      token_url: `${gce.endpoint}/v1/token`,
      credential_source: { file: subjectFile('oidc-good') },
      ...overrides,
    }),
  );
  return file;
}
function subjectFile(text: string): string {
  const file = join(dir, `subject-${(n += 1)}`);
  writeFileSync(file, text);
  return file;
}
const impersonation = (account = SA) => `${gce.endpoint}/v1/projects/-/serviceAccounts/${account}:generateAccessToken`;
const source = (file: string): TokenSource => findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: file }).source!;

async function rejected(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isLaunchError(e), String(e)).toBe(true);
  return e as LaunchError;
}
function thrown(fn: () => unknown): LaunchError {
  try {
    fn();
  } catch (e) {
    expect(isLaunchError(e), String(e)).toBe(true);
    return e as LaunchError;
  }
  throw new Error('expected a throw');
}

describe('workload identity federation credentials', () => {
  it('a file-sourced text token is exchanged at the STS with the token-exchange grant; the token is cached until near expiry, then the file is read again', async () => {
    const subject = subjectFile('oidc-good\n');
    const s = source(credentialsFile({ credential_source: { file: subject } }));
    expect(s.description).toContain('workload identity federation');
    expect(s.principal).toContain(FEDERATION_AUDIENCE);
    let clock = Date.now();
    const cache = new TokenCache(s, fetch, () => clock);
    expect(await cache.token()).toBe('ya29.sts-1');
    expect(await cache.token()).toBe('ya29.sts-1');
    const [exchange] = gce.control.federation.exchanges;
    expect(gce.control.federation.exchanges).toHaveLength(1);
    expect(exchange!.request).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: FEDERATION_AUDIENCE,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: 'oidc-good',
      subject_token_type: JWT_TYPE,
    });
    // The CI rewrote the file with a new token; an hour later the cache exchanges the new one.
    writeFileSync(subject, 'oidc-from-url');
    clock += 3_600_000;
    expect(await cache.token()).toBe('ya29.sts-2');
    expect(gce.control.federation.exchanges[1]!.request.subject_token).toBe('oidc-from-url');
  });

  it('a JSON subject token file with impersonation ends with the service account token, asked for with the STS token and the file\'s lifetime', async () => {
    const subject = subjectFile(JSON.stringify({ id_token: 'oidc-good', other: 'x' }));
    const s = source(
      credentialsFile({
        credential_source: { file: subject, format: { type: 'json', subject_token_field_name: 'id_token' } },
        service_account_impersonation_url: impersonation(),
        service_account_impersonation: { token_lifetime_seconds: 600 },
      }),
    );
    expect(s.principal).toBe(SA);
    const token = await s.fetchToken(fetch);
    expect(token.token).toBe('ya29.impersonated-1');
    expect(token.expiresAt - Date.now()).toBeGreaterThan(500_000);
    expect(token.expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    const [sts, iam] = gce.control.federation.exchanges;
    expect(sts!.request.subject_token).toBe('oidc-good');
    expect(iam).toMatchObject({ kind: 'impersonate', status: 200, request: { account: SA, token: 'ya29.sts-1', body: { scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '600s' } } });
  });

  it('a URL-sourced token is fetched with the file\'s headers and its JSON field', async () => {
    const s = source(
      credentialsFile({ credential_source: { url: tokenServerUrl, headers: { Authorization: 'Bearer ci-request-token' }, format: { type: 'json', subject_token_field_name: 'value' } } }),
    );
    expect((await s.fetchToken(fetch)).token).toBe('ya29.sts-1');
    expect(tokenServerSeen.at(-1)).toBe('Bearer ci-request-token');
    expect(gce.control.federation.exchanges[0]!.request.subject_token).toBe('oidc-from-url');
    // Without the header the CI's endpoint refuses: exit 3 naming the URL.
    const refused = source(credentialsFile({ credential_source: { url: tokenServerUrl, format: { type: 'json', subject_token_field_name: 'value' } } }));
    const err = await rejected(refused.fetchToken(fetch));
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(err.message).toContain('HTTP 401');
  });

  it('a workforce pool file names its user project to the STS when nothing is impersonated', async () => {
    const s = source(credentialsFile({ workforce_pool_user_project: 'billing-project' }));
    expect((await s.fetchToken(fetch)).token).toBe('ya29.sts-1');
    expect(JSON.parse(String(gce.control.federation.exchanges[0]!.request.options))).toEqual({ userProject: 'billing-project' });
    const impersonating = source(credentialsFile({ workforce_pool_user_project: 'billing-project', service_account_impersonation_url: impersonation() }));
    await impersonating.fetchToken(fetch);
    expect(gce.control.federation.exchanges[1]!.request.options).toBeUndefined();
  });

  it('the Compute calls carry the impersonated token (whoAmI through the adapter)', async () => {
    const file = credentialsFile({ service_account_impersonation_url: impersonation() });
    const cloud = new GcpAdapter(
      { provider: 'gcp', region: 'us-central1', params: { project: gce.project } },
      { env: { GOOGLE_APPLICATION_CREDENTIALS: file, METADATA_SERVER_DETECTION: 'none' }, endpoint: `${gce.endpoint}/compute/v1/` },
    );
    expect(await cloud.whoAmI()).toEqual({ account: gce.project, principal: SA });
    expect(gce.control.requests().map((r) => r.token)).toEqual(['ya29.impersonated-1']);
  });

  it('an unreadable subject token file, a JSON file without the field, an untrusted token and another audience are exit 3 with a remediation', async () => {
    const missing = await rejected(source(credentialsFile({ credential_source: { file: join(dir, 'not-written-yet') } })).fetchToken(fetch));
    expect(missing.exitCode).toBe(ExitCode.credentials);
    expect(missing.message).toMatch(/subject token file .*not-written-yet cannot be read/);
    expect(missing.remediation).toContain('google-github-actions/auth');

    const noField = await rejected(source(credentialsFile({ credential_source: { file: subjectFile('{"token":"x"}'), format: { type: 'json', subject_token_field_name: 'id_token' } } })).fetchToken(fetch));
    expect(noField.message).toContain('no string field "id_token"');

    const untrusted = await rejected(source(credentialsFile({ credential_source: { file: subjectFile('oidc-forged') } })).fetchToken(fetch));
    expect(untrusted.exitCode).toBe(ExitCode.credentials);
    expect(untrusted.message).toContain('invalid_grant');
    expect(untrusted.remediation).toContain('attribute condition');

    const otherPool = await rejected(source(credentialsFile({ audience: FEDERATION_AUDIENCE.replace('sgl-oidc', 'deleted') })).fetchToken(fetch));
    expect(otherPool.exitCode).toBe(ExitCode.credentials);
    expect(otherPool.message).toContain('invalid_target');
    expect(gce.control.federation.stsTokens).toEqual([]);
  });

  it('impersonating a service account the pool may not use is exit 3 naming roles/iam.workloadIdentityUser', async () => {
    const other = 'someone-else@sgl-test-project.iam.gserviceaccount.com';
    const err = await rejected(source(credentialsFile({ service_account_impersonation_url: impersonation(other) })).fetchToken(fetch));
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(err.message).toContain(`Impersonating service account ${other} was refused`);
    expect(err.message).toContain("iam.serviceAccounts.getAccessToken");
    expect(err.remediation).toContain(`roles/iam.workloadIdentityUser on ${other}`);
    expect(gce.control.federation.exchanges.map((e) => [e.kind, e.status])).toEqual([
      ['sts', 200],
      ['impersonate', 403],
    ]);
  });

  it('executable-sourced, AWS-sourced and incomplete files are refused up front (exit 3) saying what is supported', () => {
    const exe = thrown(() => findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: credentialsFile({ credential_source: { executable: { command: '/bin/token' } } }) }));
    expect(exe.exitCode).toBe(ExitCode.credentials);
    expect(exe.message).toContain('executable-sourced');
    expect(exe.remediation).toContain('credential_source is a file or a URL');
    const aws = thrown(() =>
      findCredentials({
        GOOGLE_APPLICATION_CREDENTIALS: credentialsFile({
          subject_token_type: 'urn:ietf:params:aws:token-type:aws4_request',
          credential_source: { environment_id: 'aws1', region_url: 'http://127.0.0.1:9/region', regional_cred_verification_url: 'https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15' },
        }),
      }),
    );
    expect(aws.exitCode).toBe(ExitCode.credentials);
    expect(aws.message).toContain('AWS-sourced');
    expect(aws.remediation).toContain('AWS-sourced credentials are not');
    const incomplete = thrown(() => findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: credentialsFile({ token_url: undefined, credential_source: {} }) }));
    expect(incomplete.exitCode).toBe(ExitCode.credentials);
    expect(incomplete.message).toMatch(/incomplete .*no token_url, credential_source.file or credential_source.url/);
  });
});

describe('the emulator\'s STS and IAM Credentials stand-ins check what they are sent', () => {
  const form = (fields: Record<string, string>) =>
    fetch(`${gce.endpoint}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const good = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    audience: FEDERATION_AUDIENCE,
    scope: 'https://www.googleapis.com/auth/cloud-platform',
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    subject_token: 'oidc-good',
    subject_token_type: JWT_TYPE,
  };

  it('refuses another grant type, a missing subject token type, a narrower scope and a JSON body', async () => {
    for (const [fields, error] of [
      [{ ...good, grant_type: 'refresh_token' }, 'unsupported_grant_type'],
      [{ ...good, subject_token_type: '' }, 'invalid_request'],
      [{ ...good, requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, 'invalid_request'],
      [{ ...good, scope: 'https://www.googleapis.com/auth/compute' }, 'invalid_scope'],
    ] as const) {
      const r = await form(fields);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toBe(error);
    }
    const json = await fetch(`${gce.endpoint}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    expect(json.status).toBe(400);
    expect((await form(good)).status).toBe(200);
  });

  it('impersonation needs a token the STS issued, a scope, and a lifetime of at most an hour', async () => {
    const post = (token: string, body: unknown) =>
      fetch(impersonation(), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('ya29.made-up', { scope: ['https://www.googleapis.com/auth/cloud-platform'] })).status).toBe(401);
    const { access_token } = (await (await form(good)).json()) as { access_token: string };
    expect((await post(access_token, { scope: [] })).status).toBe(400);
    expect((await post(access_token, { scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '7200s' })).status).toBe(400);
    const ok = await post(access_token, { scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '300s' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ accessToken: 'ya29.impersonated-1', expireTime: expect.stringMatching(/Z$/) });
  });
});
