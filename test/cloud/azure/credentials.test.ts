// The Azure credential provider without the SDK: a service principal's token from an Entra ID
// token endpoint (a loopback HTTPS server standing in for login.microsoftonline.com via
// AZURE_AUTHORITY_HOST, as for a sovereign cloud), the Azure CLI (a scripted `az`), and every
// missing or refused credential as exit 3 naming `az login` and the environment variables. Also
// the other cloud endpoints a user may name (AZURE_RESOURCE_MANAGER_ENDPOINT, AZURE_AUTHORITY_HOST).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARM_SCOPE, armEndpointFromEnvironment, armScope, credentialFromEnvironment, defaultSubscription, type RunAz } from '../../../src/cloud/azure/credentials.js';
import { ExitCode, type LaunchError } from '../../../src/core/errors.js';
import { selfSignedCertificate } from '../../support/arm-emulator/tls-cert.js';
import { fetchTrusting } from '../../support/arm-emulator/trusting-fetch.js';

let server: Server;
let authority = '';
const seen: { path: string; form: URLSearchParams }[] = [];
let trusting: typeof fetch;
beforeAll(async () => {
  const tls = selfSignedCertificate('token-endpoint');
  trusting = fetchTrusting(tls.cert);
  server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      seen.push({ path: req.url ?? '', form });
      res.setHeader('Content-Type', 'application/json');
      if (form.get('client_secret') === 'right') {
        res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: `token-for-${form.get('client_id')}` }));
      } else if (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' && form.get('client_assertion')?.startsWith('federated-')) {
        res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: `token-for-${form.get('client_id')}-${form.get('client_assertion')}` }));
      } else if (form.has('client_assertion')) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS700213: No matching federated identity record found for presented assertion subject.\nTrace ID: y' }));
      } else {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.\nTrace ID: x' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  authority = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const noAz: RunAz = () => Promise.reject(Object.assign(new Error('spawn az ENOENT'), { code: 'ENOENT' }));
const azAnswers = (answers: Record<string, string>): RunAz => (args) => {
  const key = args.slice(0, 2).join(' ');
  return key in answers ? Promise.resolve(answers[key]!) : Promise.reject(Object.assign(new Error('az failed'), { stderr: "ERROR: Please run 'az login' to setup account." }));
};

async function refusal(p: Promise<unknown>): Promise<LaunchError> {
  const e = (await p.then(
    () => undefined,
    (err: unknown) => err,
  )) as LaunchError | undefined;
  expect(e, 'expected a rejection').toBeDefined();
  return e!;
}

function namesTheFixes(e: LaunchError) {
  expect(e.exitCode).toBe(ExitCode.credentials);
  expect(e.remediation).toContain('az login');
  for (const v of ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET']) expect(e.remediation).toContain(v);
}

describe('a service principal from the environment', () => {
  const env = (secret: string) => ({ AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'app-1', AZURE_CLIENT_SECRET: secret, AZURE_AUTHORITY_HOST: authority });

  it('gets a token by client credentials for the ARM scope, once while it is fresh', async () => {
    seen.length = 0;
    const credential = credentialFromEnvironment(env('right'), noAz, trusting);
    const token = await credential.getToken(ARM_SCOPE);
    expect(token.token).toBe('token-for-app-1');
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3_000_000);
    await credential.getToken(ARM_SCOPE);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/tenant-1/oauth2/v2.0/token');
    expect(Object.fromEntries(seen[0]!.form)).toEqual({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: 'right', scope: ARM_SCOPE });
  });

  it('a refused secret is exit 3, with Entra ID\'s reason and the fixes', async () => {
    const e = await refusal(credentialFromEnvironment(env('wrong'), noAz, trusting).getToken(ARM_SCOPE));
    expect(e.message).toContain('invalid_client');
    expect(e.message).toContain('AADSTS7000215');
    namesTheFixes(e);
  });

  it('an incomplete one is exit 3 naming the variable that is missing', async () => {
    const e = await refusal(credentialFromEnvironment({ AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c' }, noAz).getToken(ARM_SCOPE));
    expect(e.message).toMatch(/AZURE_CLIENT_SECRET is not set/);
    namesTheFixes(e);
  });
});

describe('another cloud (sovereign, Azure Stack): the endpoints from the environment', () => {
  it('AZURE_RESOURCE_MANAGER_ENDPOINT names the resource manager, and the token scope follows it', () => {
    expect(armEndpointFromEnvironment({})).toBe('https://management.azure.com');
    expect(ARM_SCOPE).toBe('https://management.azure.com/.default');
    expect(armEndpointFromEnvironment({ AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://management.usgovcloudapi.net/' })).toBe('https://management.usgovcloudapi.net');
    expect(armScope('https://management.usgovcloudapi.net/')).toBe('https://management.usgovcloudapi.net/.default');
  });

  it('an endpoint that is not https is bad input (exit 2) naming the variable: a token is never sent in the clear', async () => {
    for (const [variable, value] of [['AZURE_RESOURCE_MANAGER_ENDPOINT', 'http://127.0.0.1:8443'], ['AZURE_RESOURCE_MANAGER_ENDPOINT', 'management.azure.com'], ['AZURE_AUTHORITY_HOST', 'http://login.example']] as const) {
      const e = await refusal(
        Promise.resolve().then(() =>
          variable === 'AZURE_RESOURCE_MANAGER_ENDPOINT'
            ? armEndpointFromEnvironment({ [variable]: value })
            : credentialFromEnvironment({ AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 's', [variable]: value }, noAz),
        ),
      );
      expect(e.exitCode).toBe(ExitCode.badInput);
      expect(e.message).toContain(`${variable}="${value}" is not an https URL`);
    }
  });
});

describe('the Azure CLI login', () => {
  it('answers the CLI\'s token and expiry', async () => {
    const expires = Math.floor(Date.now() / 1000) + 3000;
    const run = azAnswers({ 'account get-access-token': JSON.stringify({ accessToken: 'cli-token', expires_on: expires, subscription: 's', tokenType: 'Bearer' }) });
    expect(await credentialFromEnvironment({}, run).getToken(ARM_SCOPE)).toEqual({ token: 'cli-token', expiresOnTimestamp: expires * 1000 });
  });

  it('without az, or without a login, exit 3 naming az login and the environment variables', async () => {
    const missing = await refusal(credentialFromEnvironment({}, noAz).getToken(ARM_SCOPE));
    expect(missing.message).toContain('the Azure CLI (az) is not installed');
    namesTheFixes(missing);
    const expired = await refusal(credentialFromEnvironment({}, azAnswers({})).getToken(ARM_SCOPE));
    expect(expired.message).toContain('the Azure CLI login is missing or expired');
    namesTheFixes(expired);
  });

  it('the subscription: AZURE_SUBSCRIPTION_ID, else the CLI default, else exit 3', async () => {
    expect(await defaultSubscription({ AZURE_SUBSCRIPTION_ID: 'from-env' }, noAz)).toBe('from-env');
    expect(await defaultSubscription({}, azAnswers({ 'account show': JSON.stringify({ id: 'from-cli' }) }))).toBe('from-cli');
    namesTheFixes(await refusal(defaultSubscription({}, noAz)));
  });
});

describe('workload identity (AZURE_FEDERATED_TOKEN_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sgl-azure-wi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  const env = () => ({ AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'app-2', AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: authority });

  it('exchanges the file\'s token as a client assertion, reading the file again for a new token', async () => {
    seen.length = 0;
    writeFileSync(tokenFile, 'federated-one\n');
    const token = await credentialFromEnvironment(env(), noAz, trusting).getToken(ARM_SCOPE);
    expect(token.token).toBe('token-for-app-2-federated-one');
    expect(seen[0]!.path).toBe('/tenant-1/oauth2/v2.0/token');
    expect(Object.fromEntries(seen[0]!.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'app-2',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'federated-one',
      scope: ARM_SCOPE,
    });
    // The platform rotates the file: a fresh credential reads what is there now.
    writeFileSync(tokenFile, 'federated-two');
    expect((await credentialFromEnvironment(env(), noAz, trusting).getToken(ARM_SCOPE)).token).toBe('token-for-app-2-federated-two');
  });

  it('a refused assertion, a missing file or a missing variable is exit 3 with the fixes', async () => {
    writeFileSync(tokenFile, 'not-federated');
    const refused = await refusal(credentialFromEnvironment(env(), noAz, trusting).getToken(ARM_SCOPE));
    expect(refused.message).toMatch(/Entra ID refused workload identity app-2 .*AADSTS700213/);
    namesTheFixes(refused);
    const missingFile = await refusal(credentialFromEnvironment({ ...env(), AZURE_FEDERATED_TOKEN_FILE: join(dir, 'absent') }, noAz, trusting).getToken(ARM_SCOPE));
    expect(missingFile.message).toMatch(/Cannot read AZURE_FEDERATED_TOKEN_FILE .*absent: ENOENT/);
    namesTheFixes(missingFile);
    const noTenant = await refusal(credentialFromEnvironment({ AZURE_CLIENT_ID: 'app-2', AZURE_FEDERATED_TOKEN_FILE: tokenFile }, noAz).getToken(ARM_SCOPE));
    expect(noTenant.message).toMatch(/needs AZURE_TENANT_ID and AZURE_CLIENT_ID; AZURE_TENANT_ID is not set/);
    namesTheFixes(noTenant);
  });
});

describe('a managed identity', () => {
  // A loopback stand-in for the instance metadata service and a hosting service's IDENTITY_ENDPOINT
  // (never the link-local address: AZURE_POD_IDENTITY_AUTHORITY_HOST moves the service, as for the SDK).
  let identity: HttpServer;
  let host = '';
  const asked: { url: URL; headers: IncomingMessage['headers'] }[] = [];
  beforeAll(async () => {
    identity = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      asked.push({ url, headers: req.headers });
      res.setHeader('Content-Type', 'application/json');
      const clientId = url.searchParams.get('client_id');
      if (url.pathname === '/metadata/identity/oauth2/token' && req.headers.metadata === 'true' && url.searchParams.get('api-version') === '2018-02-01') {
        if (clientId === 'unassigned') {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'invalid_request', error_description: 'Identity not found' }));
          return;
        }
        res.end(JSON.stringify({ access_token: `imds-${clientId ?? 'system'}-${url.searchParams.get('resource')}`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), token_type: 'Bearer' }));
      } else if (url.pathname === '/msi/token' && req.headers['x-identity-header'] === 'secret-header' && url.searchParams.get('api-version') === '2019-08-01') {
        res.end(JSON.stringify({ access_token: `hosted-${url.searchParams.get('resource')}`, expires_on: Math.floor(Date.now() / 1000) + 3600, token_type: 'Bearer' }));
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'bad_request', error_description: `unexpected ${req.url}` }));
      }
    });
    await new Promise<void>((resolve) => identity.listen(0, '127.0.0.1', resolve));
    host = `http://127.0.0.1:${(identity.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => identity.close(resolve));
  });

  it('AZURE_USE_MANAGED_IDENTITY=true: the VM\'s identity from the instance metadata service, for the ARM resource', async () => {
    asked.length = 0;
    const credential = credentialFromEnvironment({ AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_POD_IDENTITY_AUTHORITY_HOST: host }, noAz);
    expect(credential.description).toBe('the managed identity');
    const token = await credential.getToken(ARM_SCOPE);
    expect(token.token).toBe('imds-system-https://management.azure.com/');
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3_000_000);
    expect(asked[0]!.headers.metadata).toBe('true');
    // A user-assigned identity by its client id (AZURE_CLIENT_ID is not a half service principal here).
    const user = await credentialFromEnvironment({ AZURE_USE_MANAGED_IDENTITY: '1', AZURE_CLIENT_ID: 'uami-1', AZURE_POD_IDENTITY_AUTHORITY_HOST: host }, noAz).getToken(ARM_SCOPE);
    expect(user.token).toBe('imds-uami-1-https://management.azure.com/');
  });

  it('IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service, Container Apps): used without being asked', async () => {
    const token = await credentialFromEnvironment({ IDENTITY_ENDPOINT: `${host}/msi/token`, IDENTITY_HEADER: 'secret-header' }, noAz).getToken(ARM_SCOPE);
    expect(token.token).toBe('hosted-https://management.azure.com/');
  });

  it('no identity assigned, no metadata service, or an Arc machine: exit 3 saying which and how to fix it', async () => {
    const unassigned = await refusal(credentialFromEnvironment({ AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_CLIENT_ID: 'unassigned', AZURE_POD_IDENTITY_AUTHORITY_HOST: host }, noAz).getToken(ARM_SCOPE));
    expect(unassigned.message).toMatch(/No token for the managed identity unassigned \(AZURE_CLIENT_ID\) from the instance metadata service .*Identity not found/);
    expect(unassigned.remediation).toMatch(/Assign a managed identity/);
    namesTheFixes(unassigned);
    // Nothing listens on port 9 of loopback: "not on Azure".
    const nowhere = await refusal(credentialFromEnvironment({ AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9' }, noAz).getToken(ARM_SCOPE));
    expect(nowhere.message).toMatch(/did not answer .*works only on Azure/);
    namesTheFixes(nowhere);
    const arc = await refusal(credentialFromEnvironment({ AZURE_USE_MANAGED_IDENTITY: 'true', IDENTITY_ENDPOINT: `${host}/msi/token`, IMDS_ENDPOINT: host }, noAz).getToken(ARM_SCOPE));
    expect(arc.message).toMatch(/Azure Arc .* not supported/);
  });
});
