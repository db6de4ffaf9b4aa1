// The real SDK clients as the CLI builds them (createAwsAdapter / createAwsClients): endpoint
// environment variables, shared-config profiles, retries of throttled calls. A small proxy in front
// of moto plays AWS's throttling and records which credentials signed each request.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter, createAwsAdapter } from '../../../src/cloud/aws/adapter.js';
import type { Scope } from '../../../src/cloud/port.js';

const scope = (profile?: string): Scope => ({ provider: 'aws', region: 'us-east-1', params: profile ? { profile } : {} });
const createAwsCloud = async (_region: string, opts: { profile?: string; endpoint?: string } = {}) =>
  createAwsAdapter(scope(opts.profile), { ...(opts.endpoint ? { endpoint: opts.endpoint } : {}), env: process.env });
/** One EC2 read the port makes: the zones that offer the preset's instance type. */
const oneEc2Call = (cloud: AwsAdapter) => cloud.machineTypeZones('m6a.2xlarge');
import { DEFAULT_MAX_ATTEMPTS, createAwsClients, createSdkClients } from '../../../src/cloud/aws/sdk.js';
import { CloudError, CredentialsError } from '../../../src/core/errors.js';
import { MOTO_ACCOUNT_ID, startMoto, type MotoServer } from '../../support/moto.js';

let moto: MotoServer;
let proxy: Server;
let proxyEndpoint: string;
let configDir: string;
/** How many more DescribeInstanceTypeOfferings calls the proxy answers with RequestLimitExceeded. */
let throttleNext = 0;
let seen: { action: string; accessKeyId: string; throttled: boolean }[] = [];

const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_EC2',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];
let savedEnv: Record<string, string | undefined>;

const THROTTLED_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>' +
  '<Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled-1</RequestID></Response>';

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = createServer(async (req, res) => {
    const body = await readBody(req);
    const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body.toString())?.[1] ?? '';
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const throttled = action === 'DescribeInstanceTypeOfferings' && throttleNext > 0;
    seen.push({ action, accessKeyId, throttled });
    if (throttled) {
      throttleNext--;
      res.writeHead(503, { 'content-type': 'text/xml' }).end(THROTTLED_XML);
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: moto.port, method: req.method, path: req.url, headers: req.headers },
      (motoRes) => {
        res.writeHead(motoRes.statusCode ?? 502, motoRes.headers);
        motoRes.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  proxyEndpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  configDir = mkdtempSync(join(tmpdir(), 'sgl-aws-config-'));
  writeFileSync(join(configDir, 'config'), '[profile sgl-test]\nregion = us-east-1\n');
  writeFileSync(
    join(configDir, 'credentials'),
    '[sgl-test]\naws_access_key_id = AKIAPROFILETEST00001\naws_secret_access_key = profile-secret\n',
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await moto?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

beforeEach(async () => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  throttleNext = 0;
  seen = [];
  await moto.reset();
});

afterEach(() => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

/** Only the profile's credentials: no static keys in the environment to compete with them. */
function useProfileConfig() {
  process.env.AWS_CONFIG_FILE = join(configDir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(configDir, 'credentials');
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_SESSION_TOKEN;
}

describe('endpoints from the environment', () => {
  it('honours AWS_ENDPOINT_URL when no endpoint is passed', async () => {
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    const cloud = await createAwsCloud('us-east-1');
    expect((await cloud.whoAmI()).account).toBe(MOTO_ACCOUNT_ID);
    expect(await oneEc2Call(cloud)).toContain('us-east-1a');
  });

  it('prefers AWS_ENDPOINT_URL_EC2 / _STS over AWS_ENDPOINT_URL', async () => {
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    process.env.AWS_ENDPOINT_URL_EC2 = proxyEndpoint;
    process.env.AWS_ENDPOINT_URL_STS = proxyEndpoint;
    const cloud = await createAwsCloud('us-east-1');
    expect((await cloud.whoAmI()).account).toBe(MOTO_ACCOUNT_ID);
    await oneEc2Call(cloud);
    expect(seen.map((s) => s.action)).toEqual(['GetCallerIdentity', 'DescribeInstanceTypeOfferings']);
  });

  it('reports an unreachable endpoint as a network error', async () => {
    const cloud = new AwsAdapter(createAwsClients({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }), scope());
    const err = await oneEc2Call(cloud).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err).toMatchObject({ code: 'network' });
  });
});

describe('profiles', () => {
  it('signs with the chosen profile\u2019s credentials', async () => {
    useProfileConfig();
    const cloud = await createAwsCloud('us-east-1', { profile: 'sgl-test', endpoint: proxyEndpoint });
    await cloud.whoAmI();
    await oneEc2Call(cloud);
    expect(seen.map((s) => s.accessKeyId)).toEqual(['AKIAPROFILETEST00001', 'AKIAPROFILETEST00001']);
  });

  it('names a profile that does not exist, with how to set it up', async () => {
    useProfileConfig();
    const cloud = await createAwsCloud('us-east-1', { profile: 'no-such-profile', endpoint: proxyEndpoint });
    const err = await cloud.whoAmI().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: 'credentials', message: expect.stringContaining('"no-such-profile"') });
    expect((err as CredentialsError).remediation).toContain('aws sso login --profile no-such-profile');
    expect(seen).toEqual([]);
  });

  it('takes the profile from AWS_PROFILE when none is passed', async () => {
    useProfileConfig();
    process.env.AWS_PROFILE = 'sgl-test';
    const cloud = await createAwsCloud('us-east-1', { endpoint: proxyEndpoint });
    await cloud.whoAmI();
    expect(seen[0]?.accessKeyId).toBe('AKIAPROFILETEST00001');
  });
});

describe('retries', () => {
  it('rides out throttling: RequestLimitExceeded twice, then success', async () => {
    throttleNext = 2;
    const cloud = await createAwsCloud('us-east-1', { endpoint: proxyEndpoint });
    expect(await oneEc2Call(cloud)).toContain('us-east-1b');
    expect(seen.map((s) => [s.action, s.throttled])).toEqual([
      ['DescribeInstanceTypeOfferings', true],
      ['DescribeInstanceTypeOfferings', true],
      ['DescribeInstanceTypeOfferings', false],
    ]);
  });

  it('gives up after maxAttempts and reports throttled', async () => {
    throttleNext = 100;
    const cloud = new AwsAdapter(createAwsClients({ region: 'us-east-1', endpoint: proxyEndpoint, maxAttempts: 2 }), scope());
    await expect(oneEc2Call(cloud)).rejects.toMatchObject({ code: 'throttled' });
    expect(seen).toHaveLength(2);
  });

  it('uses the default number of attempts', async () => {
    const clients = createSdkClients({ region: 'us-east-1', endpoint: moto.endpoint });
    expect(await clients.ec2.config.maxAttempts()).toBe(DEFAULT_MAX_ATTEMPTS);
    expect(await clients.sts.config.maxAttempts()).toBe(DEFAULT_MAX_ATTEMPTS);
  });
});
