// createAwsAdapter, as the AWS provider will connect it: the scope's region and profile, the SDK
// loaded only on the first call, and no credentials at all named before any request is sent.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { CredentialsError } from '../../../../src/core/errors.js';
import { MOTO_ACCOUNT_ID, startMoto, type MotoServer } from '../../../support/moto.js';
import { SCOPE, launchRequestsSpec } from './fixtures.js';

const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'];
let moto: MotoServer;
let configDir: string;
let saved: Record<string, string | undefined>;

beforeAll(async () => {
  moto = await startMoto();
  configDir = mkdtempSync(join(tmpdir(), 'sgl-aws-adapter-config-'));
  writeFileSync(join(configDir, 'config'), '[profile sgl-scoped]\nregion = us-east-1\n');
  writeFileSync(join(configDir, 'credentials'), '[sgl-scoped]\naws_access_key_id = AKIASCOPEDPROFILE001\naws_secret_access_key = scoped-secret\n');
});

afterAll(async () => {
  await moto?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

beforeEach(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
});

afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** Only the profile files: no keys in the environment to compete with them. */
function profileFilesOnly() {
  process.env.AWS_CONFIG_FILE = join(configDir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(configDir, 'credentials');
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[k];
}

describe('createAwsAdapter', () => {
  it('talks to the endpoint it is given, in the scope\u2019s region', async () => {
    const cloud = createAwsAdapter(SCOPE, { endpoint: moto.endpoint });
    expect(cloud.scope).toEqual(SCOPE);
    expect(await cloud.whoAmI()).toMatchObject({ account: MOTO_ACCOUNT_ID });
    expect((await cloud.resolvePlacement(undefined)).zone).toBe('us-east-1a');
  });

  it('signs with the scope\u2019s profile', async () => {
    profileFilesOnly();
    const cloud = createAwsAdapter({ ...SCOPE, params: { profile: 'sgl-scoped' } }, { endpoint: moto.endpoint });
    // Without the profile the chain would find nothing at all.
    expect(await cloud.whoAmI()).toMatchObject({ account: MOTO_ACCOUNT_ID });
  });

  it('names the profile and how to sign in when no credential source exists, before sending anything', async () => {
    profileFilesOnly();
    const cloud = createAwsAdapter({ ...SCOPE, params: { profile: 'no-such-profile' } }, { endpoint: 'http://127.0.0.1:9', env: process.env });
    const err = await cloud.whoAmI().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: 'credentials', message: expect.stringContaining('No AWS credentials found') });
    expect((err as CredentialsError).remediation).toContain('aws sso login --profile no-such-profile');
  });

  it('plans a launch offline, with no credentials and no endpoint to answer', () => {
    profileFilesOnly();
    const cloud = createAwsAdapter(SCOPE, { endpoint: 'http://127.0.0.1:9', env: {} });
    expect(cloud.launchRequests(launchRequestsSpec()).map((r) => r.operation)).toContain('RunInstances');
  });
});
