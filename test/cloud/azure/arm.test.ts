// The ARM client over fetch against the emulator: the bearer token it sends, throttling retried
// after Retry-After (bounded), long-running operations followed to their end and a failed one
// mapped, and a credential that cannot give a token stopping whoAmI with exit 3.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { Arm } from '../../../src/cloud/azure/arm.js';
import { CredentialsError, ExitCode, type LaunchError } from '../../../src/core/errors.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

let arm: ArmEmulator;
beforeAll(async () => {
  arm = await startArmEmulator();
});
afterAll(async () => {
  await arm.stop();
});
beforeEach(async () => {
  await arm.reset();
});

const tokens: string[] = [];
const credential = { getToken: async () => (tokens.push('t'), { token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const sleeps: number[] = [];
const client = (maxAttempts = 3) => new Arm({ endpoint: arm.endpoint, subscriptionId: arm.subscriptionId, credential, pollIntervalMs: 1, maxAttempts, sleep: async (ms) => void sleeps.push(ms) });
const group = (name: string) => `/subscriptions/${arm.subscriptionId}/resourceGroups/${name}`;

async function failure(p: Promise<unknown>): Promise<LaunchError> {
  const e = await p.then(() => undefined, (err: unknown) => err as LaunchError);
  expect(e, 'expected a rejection').toBeDefined();
  return e!;
}

describe('Arm', () => {
  it('retries a throttled call after its Retry-After, then succeeds', async () => {
    sleeps.length = 0;
    arm.control.injectFault({ operationId: 'ResourceGroups_CreateOrUpdate', code: 'TooManyRequests', status: 429, retryAfterSeconds: 2, count: 2 });
    const made = await client().put(group('rg1'), { location: 'eastus', tags: {} }, 'Microsoft.Resources resourceGroups.createOrUpdate');
    expect(made.name).toBe('rg1');
    expect(sleeps.slice(0, 2)).toEqual([2000, 2000]);
  });

  it('gives up after maxAttempts with the typed throttling error', async () => {
    arm.control.injectFault({ operationId: 'ResourceGroups_CreateOrUpdate', code: 'TooManyRequests', status: 429, retryAfterSeconds: 0, count: 5 });
    const e = await failure(client(2).put(group('rg2'), { location: 'eastus' }, 'Microsoft.Resources resourceGroups.createOrUpdate'));
    expect(e).toMatchObject({ code: 'throttled', exitCode: ExitCode.failed });
    expect(arm.control.state().resourceGroups).toEqual([]);
  });

  it('follows a long-running PUT to its end, and maps an operation that ends Failed', async () => {
    await client().put(group('rg3'), { location: 'eastus' }, 'Microsoft.Resources resourceGroups.createOrUpdate');
    arm.control.setLroPolls(3);
    const nsg = `${group('rg3')}/providers/Microsoft.Network/networkSecurityGroups/n1`;
    const made = await client().put(nsg, { location: 'eastus', properties: { securityRules: [] } }, 'Microsoft.Network networkSecurityGroups.createOrUpdate');
    expect(made.properties.provisioningState).toBe('Succeeded');
    arm.control.injectFault({ operationId: 'NetworkSecurityGroups_CreateOrUpdate', mode: 'lro', code: 'InternalError', message: 'boom' });
    const e = await failure(client().put(`${group('rg3')}/providers/Microsoft.Network/networkSecurityGroups/n2`, { location: 'eastus' }, 'Microsoft.Network networkSecurityGroups.createOrUpdate'));
    expect(e.message).toContain('InternalError: boom');
    expect(e.details).toMatchObject({ armCode: 'InternalError' });
  });

  it('a missing resource reads as undefined, and deleting it succeeds', async () => {
    expect(await client().get(group('nope'), 'get')).toBeUndefined();
    await client().delete(`${group('nope')}`, 'delete');
  });
});

describe('whoAmI', () => {
  it('names the subscription and the principal of the token', async () => {
    const jwt = ['e30', Buffer.from(JSON.stringify({ appid: 'app-42' })).toString('base64url'), 'sig'].join('.');
    const cloud = new AzureAdapter({ provider: 'azure', region: 'eastus', params: { subscription: arm.subscriptionId, resourceGroup: 'rg' } }, {
      credential: { getToken: async () => ({ token: jwt, expiresOnTimestamp: Date.now() + 60_000 }) },
      endpoint: arm.endpoint,
    });
    expect(await cloud.whoAmI()).toEqual({ account: arm.subscriptionId, principal: 'app-42' });
  });

  it('a credential that cannot give a token stops it with exit 3, before any request', async () => {
    const cloud = new AzureAdapter({ provider: 'azure', region: 'eastus', params: { subscription: arm.subscriptionId, resourceGroup: 'rg' } }, {
      credential: { getToken: () => Promise.reject(new CredentialsError('No Azure credentials', { remediation: 'az login' })) },
      endpoint: arm.endpoint,
    });
    const e = await failure(cloud.whoAmI());
    expect(e).toMatchObject({ exitCode: ExitCode.credentials, remediation: 'az login' });
  });
});

describe('without a subscription', () => {
  it('dry-run requests still build (with "<subscription>"), and every call fails with the reason, exit 3', async () => {
    const missing = new CredentialsError('No Azure subscription chosen', { remediation: 'az login' });
    const cloud = new AzureAdapter({ provider: 'azure', region: 'eastus', params: { resourceGroup: 'rg' } }, { credential, endpoint: arm.endpoint, missingSubscription: missing });
    const requests = cloud.instanceRequests({
      deployment: 'd',
      role: 'instance',
      version: '6.12.5040',
      imageId: 'Canonical:ubuntu-24_04-lts:server:latest',
      machineType: 'Standard_D8as_v5',
      placement: { zone: '1' },
      accessPolicyIds: [],
      sshKey: { mode: 'none' },
      loginUser: 'sourcegraph',
      rootDisk: { sizeGiB: 50, type: 'Premium_LRS' },
      dataDisk: { mode: 'none' },
      keepDataDisk: true,
      labels: { deployment: 'd', role: 'instance' },
      idempotencyKey: 'k',
    });
    expect(requests.map((r) => r.input.id as string).every((id) => id.startsWith('/subscriptions/<subscription>/resourceGroups/rg/'))).toBe(true);
    expect(await failure(cloud.whoAmI())).toBe(missing);
    expect(await failure(cloud.listDeployments())).toBe(missing);
    expect(arm.control.state().resourceGroups).toEqual([]);
  });
});
