// Application Default Credentials as the adapter finds them: the key file GOOGLE_APPLICATION_
// CREDENTIALS names, gcloud's ADC file, the metadata server only when allowed; none at all (or
// refused) is exit 3 naming both ways to fix it. Token endpoints here are local HTTP servers.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcpAdapter } from '../../../src/cloud/gcp/adapter.js';
import { findCredentials, TokenCache } from '../../../src/cloud/gcp/auth.js';
import { ExitCode, isLaunchError, type LaunchError } from '../../../src/core/errors.js';

let dir: string;
let server: Server;
let tokenUri: string;
const grants: URLSearchParams[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gcp-creds-'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      grants.push(form);
      const refused = form.get('refresh_token') === 'revoked';
      res.writeHead(refused ? 400 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(refused ? { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } : { access_token: `tok-${grants.length}`, expires_in: 3600 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const noFiles = () => undefined;

async function rejected(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isLaunchError(e), String(e)).toBe(true);
  return e as LaunchError;
}

describe('GCE credentials', () => {
  it('none anywhere (and the metadata server ruled out) is exit 3 naming gcloud login and GOOGLE_APPLICATION_CREDENTIALS', async () => {
    const env = { METADATA_SERVER_DETECTION: 'none', CLOUDSDK_CONFIG: join(dir, 'empty-gcloud') };
    expect(findCredentials(env, { readFile: noFiles }).source).toBeUndefined();
    const cloud = new GcpAdapter({ provider: 'gcp', region: 'us-central1', params: { project: 'p' } }, { env, endpoint: 'http://127.0.0.1:9/compute/v1/' });
    const err = await rejected(cloud.whoAmI());
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(err.code).toBe('credentials');
    expect(err.message).toContain('METADATA_SERVER_DETECTION=none');
    expect(err.remediation).toContain('gcloud auth application-default login');
    expect(err.remediation).toContain('GOOGLE_APPLICATION_CREDENTIALS');
  });

  it('the metadata server is a candidate only when detection is not turned off', () => {
    expect(findCredentials({ CLOUDSDK_CONFIG: join(dir, 'empty-gcloud') }, { readFile: noFiles }).source?.description).toBe('the GCE metadata server');
  });

  it('a service account key signs a JWT-bearer grant at its own token_uri', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const file = join(dir, 'sa.json');
    writeFileSync(file, JSON.stringify({ type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }), project_id: 'p', token_uri: tokenUri }));
    const { source } = findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: file });
    expect(source).toMatchObject({ principal: 'sa@p.iam.gserviceaccount.com', projectId: 'p' });
    const cache = new TokenCache(source!, fetch);
    const first = await cache.token();
    expect(await cache.token()).toBe(first);
    const grant = grants.at(-1)!;
    expect(grant.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, claims, signature] = grant.get('assertion')!.split('.');
    expect(JSON.parse(Buffer.from(claims!, 'base64url').toString())).toMatchObject({ iss: 'sa@p.iam.gserviceaccount.com', aud: tokenUri });
    const { createVerify } = await import('node:crypto');
    expect(createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, Buffer.from(signature!, 'base64url'))).toBe(true);
  });

  it("gcloud's ADC file (authorized user) refreshes; a revoked refresh token is exit 3", async () => {
    const gcloud = join(dir, 'gcloud');
    mkdirSync(gcloud, { recursive: true });
    const adc = (refresh: string) =>
      writeFileSync(join(gcloud, 'application_default_credentials.json'), JSON.stringify({ type: 'authorized_user', client_id: 'c', client_secret: 's', refresh_token: refresh, token_uri: tokenUri }));
    adc('good');
    const ok = findCredentials({ CLOUDSDK_CONFIG: gcloud, METADATA_SERVER_DETECTION: 'none' });
    expect(await new TokenCache(ok.source!, fetch).token()).toMatch(/^tok-/);
    expect(grants.at(-1)!.get('grant_type')).toBe('refresh_token');
    adc('revoked');
    const revoked = findCredentials({ CLOUDSDK_CONFIG: gcloud, METADATA_SERVER_DETECTION: 'none' });
    const err = await rejected(new TokenCache(revoked.source!, fetch).token());
    expect(err.exitCode).toBe(ExitCode.credentials);
    expect(err.message).toContain('expired or revoked');
  });

  it('GOOGLE_APPLICATION_CREDENTIALS naming a missing file, or an unsupported type, is exit 3', () => {
    expect(() => findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'nope.json') })).toThrow(/cannot be read/);
    const file = join(dir, 'ext.json');
    writeFileSync(file, JSON.stringify({ type: 'external_account' }));
    let thrown: unknown;
    try {
      findCredentials({ GOOGLE_APPLICATION_CREDENTIALS: file });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as LaunchError).exitCode).toBe(ExitCode.credentials);
  });

  it('a missing project is bad input naming --project, before any credentials are asked for', async () => {
    const cloud = new GcpAdapter({ provider: 'gcp', region: 'us-central1', params: {} }, { env: { METADATA_SERVER_DETECTION: 'none' }, endpoint: 'http://127.0.0.1:9/compute/v1/' });
    const err = await rejected(cloud.whoAmI());
    expect(err.exitCode).toBe(ExitCode.badInput);
    expect(err.message).toContain('--project');
  });
});
