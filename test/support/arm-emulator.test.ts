// The ARM emulator (test/support/arm-emulator) over real HTTP with plain fetch: what ARM checks
// before a resource provider runs (auth, api-version, subscription, swagger validation), resource
// groups, resource lists by tag, long-running operations, idempotent PUT, errors and faults, the
// control API and HTTPS. Network and compute behaviour: arm-emulator-network/-compute.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmClient } from './arm-emulator/client.js';
import { bodies, createNetwork, providers, tagsFor } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';
import { SPEC_ROOT, specSet } from './arm-emulator/swagger.js';
import { Validator } from './arm-emulator/validator.js';

let arm: ArmEmulator;
let client: ArmClient;
const rgPath = (rg: string) => `/subscriptions/${arm.subscriptionId}/resourcegroups/${rg}`;

beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
});
afterAll(async () => {
  await arm.stop();
});
beforeEach(async () => {
  await arm.reset();
});

describe('swagger validation', () => {
  it('accepts the request body of every copied upstream example of an operation it serves', () => {
    const specs = specSet();
    const validator = new Validator(specs);
    // The swagger's x-ms-examples name each example file; the copies keep the upstream file names.
    const copied = new Map(readdirSync(join(SPEC_ROOT, 'examples'), { recursive: true, encoding: 'utf8' }).map((f) => [basename(f), join(SPEC_ROOT, 'examples', f)]));
    let checked = 0;
    for (const op of specs.allOperations()) {
      const raw = (specs.doc(op.file).paths as Record<string, Record<string, Record<string, unknown>>>)[op.path]![op.method.toLowerCase()]!;
      for (const ref of Object.values((raw['x-ms-examples'] ?? {}) as Record<string, { $ref: string }>)) {
        const file = copied.get(basename(ref.$ref));
        if (!file || !op.body) continue;
        const example = JSON.parse(readFileSync(file, 'utf8')) as { parameters: Record<string, unknown> };
        const { issues } = validator.validate(op.body.located, example.parameters[op.body.name], 'request');
        expect(issues, file).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('answers 400 InvalidRequestContent for an unknown member and a wrong type, with the path', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    const unknown = await client.call('PUT', p.pip('ip'), { ...bodies.pip(), properties: { publicIPAllocationMethod: 'Static', colour: 'blue' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('InvalidRequestContent');
    expect(unknown.body.error.message).toContain("Could not find member 'colour' on object of type 'PublicIPAddressPropertiesFormat'");
    expect(unknown.body.error.target).toBe('properties.colour');
    const wrongType = await client.call('PUT', p.pip('ip'), { ...bodies.pip(), properties: { idleTimeoutInMinutes: '4' } });
    expect(wrongType.body.error).toMatchObject({ code: 'InvalidRequestContent', target: 'properties.idleTimeoutInMinutes' });
    const notJson = await client.call('PUT', p.pip('ip'), '{"location":');
    expect(notJson.body.error.code).toBe('InvalidRequestContent');
  });

  it('answers 400 InvalidParameter for a value outside an enum and a missing required member', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    const badEnum = await client.call('PUT', p.disk('d'), { ...bodies.dataDisk('1'), sku: { name: 'premium_lrs' } });
    expect(badEnum.status).toBe(400);
    expect(badEnum.body.error).toMatchObject({ code: 'InvalidParameter', target: 'sku.name' });
    const missing = await client.call('PUT', p.nsg('n'), { location: 'eastus', properties: { securityRules: [{ name: 'r', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound' } }] } });
    expect(missing.body.error).toMatchObject({ code: 'InvalidParameter', target: 'properties.securityRules[0].properties.priority' });
  });

  it('ignores readOnly members, so a GET → edit → PUT round trip works', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    const pip = (await client.put(p.pip('ip'), bodies.pip())).body;
    const again = await client.call('PUT', p.pip('ip'), { ...pip, tags: { a: 'b' }, properties: { ...pip.properties, provisioningState: 'Failed', resourceGuid: 'x' } });
    expect(again.status).toBe(200);
    expect(again.body.properties.resourceGuid).toBe(pip.properties.resourceGuid);
    expect(again.body.properties.ipAddress).toBe(pip.properties.ipAddress);
    expect(again.body.tags).toEqual({ a: 'b' });
  });
});

describe('what ARM checks first', () => {
  it('needs a bearer token (any token) and answers 401 otherwise', async () => {
    const none = await client.call('PUT', rgPath('rg1'), bodies.group(), { authorization: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AuthenticationFailed');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const basic = await client.call('GET', rgPath('rg1'), undefined, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);
    expect(basic.body.error.code).toBe('InvalidAuthenticationToken');
    expect((await client.call('PUT', rgPath('rg1'), bodies.group(), { authorization: 'Bearer anything-at-all' })).status).toBe(201);
  });

  it('needs the api-version of the swagger it validates against', async () => {
    const missing = await client.call('GET', rgPath('rg1'), undefined, { apiVersion: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('MissingApiVersionParameter');
    const other = await client.call('GET', rgPath('rg1'), undefined, { apiVersion: '2021-04-01' });
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('InvalidApiVersionParameter');
    expect(other.body.error.message).toContain("'2024-07-01'");
    const networkWithComputeVersion = await client.call('GET', providers(client, 'rg1').vnet('v'), undefined, { apiVersion: arm.apiVersions.compute });
    expect(networkWithComputeVersion.body.error.code).toBe('InvalidApiVersionParameter');
  });

  it('knows one subscription and answers unknown paths with an ARM error', async () => {
    const other = await client.call('GET', '/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/rg1');
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('SubscriptionNotFound');
    const unknown = await client.call('GET', `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Storage/storageAccounts`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('InvalidResourceType');
  });

  it('matches paths case-insensitively, as ARM does', async () => {
    await client.call('PUT', rgPath('MixedCase'), bodies.group());
    const got = await client.call('GET', `/SUBSCRIPTIONS/${arm.subscriptionId}/RESOURCEGROUPS/mixedcase`);
    expect(got.status).toBe(200);
    expect(got.body.name).toBe('MixedCase');
  });
});

describe('resource groups', () => {
  it('PUT creates (201) then updates (200) synchronously; GET, HEAD and tags', async () => {
    const created = await client.call('PUT', rgPath('rg1'), bodies.group({ owner: 'test' }));
    expect(created.status).toBe(201);
    expect(created.headers.get('azure-asyncoperation')).toBeNull();
    expect(created.body).toMatchObject({ name: 'rg1', location: 'eastus', tags: { owner: 'test' }, properties: { provisioningState: 'Succeeded' } });
    const again = await client.call('PUT', rgPath('rg1'), bodies.group({ owner: 'other' }));
    expect(again.status).toBe(200);
    expect((await client.call('GET', rgPath('rg1'))).body.tags).toEqual({ owner: 'other' });
    expect((await client.call('HEAD', rgPath('rg1'))).status).toBe(204);
    expect((await client.call('HEAD', rgPath('nope'))).status).toBe(404);
    const moved = await client.call('PUT', rgPath('rg1'), { location: 'westeurope' });
    expect(moved.status).toBe(409);
    expect(moved.body.error.code).toBe('InvalidResourceGroupLocation');
    const missing = await client.call('GET', rgPath('nope'));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('ResourceGroupNotFound');
  });

  it('DELETE is long-running with Location only; it removes everything in the group', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    await createNetwork(client, 'rg1', 'sg');
    arm.control.setLroPolls(2, 'ResourceGroups_Delete');
    const started = await client.call('DELETE', rgPath('rg1'));
    expect(started.status).toBe(202);
    expect(started.headers.get('azure-asyncoperation')).toBeNull();
    expect(started.headers.get('location')).toMatch(new RegExp(`^${arm.endpoint}/subscriptions/${arm.subscriptionId}/operationresults/`));
    expect(started.headers.get('retry-after')).toBe('0');
    expect((await client.call('GET', rgPath('rg1'))).body.properties.provisioningState).toBe('Deleting');
    const blocked = await client.call('PUT', providers(client, 'rg1').pip('late'), bodies.pip());
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe('ResourceGroupBeingDeleted');
    const location = started.headers.get('location')!;
    expect((await client.call('GET', location)).status).toBe(202);
    expect((await client.call('GET', location)).status).toBe(200);
    expect((await client.call('GET', rgPath('rg1'))).status).toBe(404);
    expect(arm.control.state().resources).toEqual([]);
  });
});

describe('resource lists', () => {
  it('finds resources by tag across groups with $filter=tagName eq … and tagValue eq …', async () => {
    await client.call('PUT', rgPath('rg-a'), bodies.group());
    await client.call('PUT', rgPath('rg-b'), bodies.group());
    await client.put(providers(client, 'rg-a').pip('ip-a'), bodies.pip(tagsFor('alpha', 'address')));
    await client.put(providers(client, 'rg-b').pip('ip-b'), bodies.pip(tagsFor('beta', 'address')));
    await client.put(providers(client, 'rg-b').nsg('nsg-b'), bodies.nsg(tagsFor('beta', 'access')));
    const filter = "tagName eq 'Sourcegraph-Launch:Deployment' and tagValue eq 'beta'";
    const all = await client.call('GET', `/subscriptions/${arm.subscriptionId}/resources`, undefined, { query: { $filter: filter } });
    expect(all.status).toBe(200);
    expect(all.body.value.map((r: { name: string }) => r.name).sort()).toEqual(['ip-b', 'nsg-b']);
    expect(all.body.value[0]).toMatchObject({ type: expect.stringMatching(/^Microsoft\.Network\//), location: 'eastus', tags: { 'sourcegraph-launch:deployment': 'beta' } });
    const caseSensitiveValue = await client.call('GET', `/subscriptions/${arm.subscriptionId}/resources`, undefined, { query: { $filter: "tagName eq 'sourcegraph-launch:deployment' and tagValue eq 'BETA'" } });
    expect(caseSensitiveValue.body.value).toEqual([]);
    const inGroup = await client.call('GET', `${client.path('rg-b')}/resources`, undefined, { query: { $filter: "resourceType eq 'Microsoft.Network/publicIPAddresses'" } });
    expect(inGroup.body.value.map((r: { name: string }) => r.name)).toEqual(['ip-b']);
    const unsupported = await client.call('GET', `/subscriptions/${arm.subscriptionId}/resources`, undefined, { query: { $filter: "startswith(name, 'ip')" } });
    expect(unsupported.status).toBe(400);
  });

  it('pages with nextLink when there are more than a page of results', async () => {
    arm.control.configure({ pageSize: 2 });
    await client.call('PUT', rgPath('rg1'), bodies.group());
    for (const n of ['a', 'b', 'c']) await client.put(providers(client, 'rg1').pip(n), bodies.pip({ k: 'v' }));
    const first = await client.call('GET', `${client.path('rg1')}/resources`, undefined, { query: { $filter: "tagName eq 'k'" } });
    expect(first.body.value).toHaveLength(2);
    const second = await client.call('GET', first.body.nextLink);
    expect(second.body.value.map((r: { name: string }) => r.name)).toEqual(['c']);
    expect(second.body.nextLink).toBeUndefined();
  });

  it('validates tags: at most 50, names up to 512 characters without <>%&\\?/, values up to 256', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const pip = providers(client, 'rg1').pip('ip');
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
    expect((await client.call('PUT', pip, bodies.pip(many))).body.error.code).toBe('InvalidTagCount');
    expect((await client.call('PUT', pip, bodies.pip({ ['n'.repeat(513)]: 'v' }))).body.error.code).toBe('InvalidTagNameLength');
    expect((await client.call('PUT', pip, bodies.pip({ 'a/b': 'v' }))).body.error.code).toBe('InvalidTagNameCharacters');
    expect((await client.call('PUT', pip, bodies.pip({ k: 'v'.repeat(257) }))).body.error.code).toBe('InvalidTagValueLength');
    const fine = await client.call('PUT', pip, bodies.pip({ ...Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v'])), ['n'.repeat(512)]: 'v'.repeat(256) }));
    expect(fine.status).toBe(201);
    expect((await client.call('PUT', rgPath('rg2'), bodies.group({ 'x?': 'y' }))).status).toBe(400);
  });
});

describe('long-running operations', () => {
  it('network PUT: 201 + Azure-AsyncOperation + Retry-After; InProgress for the configured polls, then Succeeded', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.configure({ lroPolls: 3, retryAfterSeconds: 1, advanceOnResourceGet: false });
    const p = providers(client, 'rg1');
    const started = await client.call('PUT', p.vnet('v'), bodies.vnet());
    expect(started.status).toBe(201);
    expect(started.headers.get('location')).toBeNull();
    expect(started.headers.get('retry-after')).toBe('1');
    const statusUrl = started.headers.get('azure-asyncoperation')!;
    expect(statusUrl).toMatch(new RegExp(`/subscriptions/${arm.subscriptionId}/providers/Microsoft.Network/locations/eastus/operations/[0-9a-f-]+\\?api-version=2024-05-01$`));
    expect(started.body.properties.provisioningState).toBe('Updating');
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push((await client.call('GET', statusUrl)).body.status);
    expect(answers).toEqual(['InProgress', 'InProgress', 'InProgress', 'Succeeded']);
    expect((await client.call('GET', p.vnet('v'))).body.properties.provisioningState).toBe('Succeeded');
    expect((await client.call('GET', statusUrl, undefined, { authorization: null })).status).toBe(401);
  });

  it('network DELETE: 202 with Location and Azure-AsyncOperation; the Location URL answers 202 until 204', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    await client.put(p.nsg('n'), bodies.nsg());
    arm.control.setLroPolls(1);
    const started = await client.call('DELETE', p.nsg('n'));
    expect(started.status).toBe(202);
    expect(started.headers.get('azure-asyncoperation')).toContain('/providers/Microsoft.Network/locations/eastus/operations/');
    const location = started.headers.get('location')!;
    expect(location).toContain('/providers/Microsoft.Network/locations/eastus/operationResults/');
    const first = await client.call('GET', location);
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(location);
    expect((await client.call('GET', location)).status).toBe(204);
    expect((await client.call('GET', p.nsg('n'))).status).toBe(404);
    expect((await client.call('DELETE', p.nsg('n'))).status).toBe(204);
  });

  it('a GET of the resource advances its operation, so a client that lost the status URL converges', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.setLroPolls(2);
    const p = providers(client, 'rg1');
    await client.call('PUT', p.pip('ip'), bodies.pip());
    const states = [];
    for (let i = 0; i < 3; i++) states.push((await client.call('GET', p.pip('ip'))).body.properties.provisioningState);
    expect(states).toEqual(['Updating', 'Updating', 'Succeeded']);
  });

  it('an injected fault ends the operation Failed with a CloudError; the resource is Failed', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.injectFault({ operationId: 'PublicIPAddresses_CreateOrUpdate', mode: 'lro', code: 'PublicIPCountLimitReached', message: 'quota' });
    const p = providers(client, 'rg1');
    const started = await client.call('PUT', p.pip('ip'), bodies.pip());
    expect(started.status).toBe(201);
    const done = await client.wait(started);
    expect(done.status).toBe('Failed');
    expect(done.last.body.error).toEqual({ code: 'PublicIPCountLimitReached', message: 'quota' });
    expect((await client.call('GET', p.pip('ip'))).body.properties.provisioningState).toBe('Failed');
    // The fault was for one call: the same PUT again succeeds.
    expect((await client.put(p.pip('ip'), bodies.pip())).body.properties.provisioningState).toBe('Succeeded');
  });
});

describe('idempotent PUT by name', () => {
  it('the same body twice: 201 then 200 and still one resource', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    const first = await client.call('PUT', p.pip('ip'), bodies.pip());
    await client.wait(first);
    const second = await client.call('PUT', p.pip('ip'), bodies.pip());
    expect([first.status, second.status]).toEqual([201, 200]);
    await client.wait(second);
    expect(arm.control.state().resources.filter((r) => r.type === 'Microsoft.Network/publicIPAddresses')).toHaveLength(1);
  });

  it('a retry while the operation runs joins it; a different body gets 409 AnotherOperationInProgress', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.configure({ lroPolls: 5, advanceOnResourceGet: false });
    const p = providers(client, 'rg1');
    const first = await client.call('PUT', p.pip('ip'), bodies.pip());
    const retry = await client.call('PUT', p.pip('ip'), bodies.pip());
    expect(retry.status).toBe(201);
    expect(retry.headers.get('azure-asyncoperation')).toBe(first.headers.get('azure-asyncoperation'));
    const other = await client.call('PUT', p.pip('ip'), bodies.pip({ changed: 'yes' }));
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('AnotherOperationInProgress');
    const del = await client.call('DELETE', p.pip('ip'));
    expect(del.body.error.code).toBe('AnotherOperationInProgress');
  });

  it('properties that cannot change answer 409 PropertyChangeNotAllowed; a changed location InvalidResourceLocation', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const p = providers(client, 'rg1');
    await client.put(p.pip('ip'), bodies.pip({}, ['1']));
    const zones = await client.call('PUT', p.pip('ip'), bodies.pip({}, ['2']));
    expect(zones.status).toBe(409);
    expect(zones.body.error).toMatchObject({ code: 'PropertyChangeNotAllowed', target: 'zones' });
    const moved = await client.call('PUT', p.pip('ip'), { ...bodies.pip({}, ['1']), location: 'westus' });
    expect(moved.body.error.code).toBe('InvalidResourceLocation');
  });
});

describe('errors and throttling', () => {
  it('404 ResourceNotFound for a missing resource, ResourceGroupNotFound for a missing group', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const missing = await client.call('GET', providers(client, 'rg1').nic('nope'));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('ResourceNotFound');
    expect(missing.body.error.message).toContain("'Microsoft.Network/networkInterfaces/nope' under resource group 'rg1'");
    const noGroup = await client.call('PUT', providers(client, 'ghost').pip('ip'), bodies.pip());
    expect(noGroup.status).toBe(404);
    expect(noGroup.body.error.code).toBe('ResourceGroupNotFound');
  });

  it('an injected 429 carries Retry-After, only for the next N calls of that operation', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.injectFault({ operationId: 'ResourceGroups_Get', code: 'TooManyRequests', count: 2, retryAfterSeconds: 7 });
    const first = await client.call('GET', rgPath('rg1'));
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(first.body.error.code).toBe('TooManyRequests');
    expect((await client.call('GET', rgPath('rg1'))).status).toBe(429);
    expect((await client.call('GET', rgPath('rg1'))).status).toBe(200);
  });

  it('a fault can target one resource by path', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.injectFault({ operationId: '*', code: 'OperationNotAllowed', status: 409, message: 'Operation could not be completed as it results in exceeding approved Total Regional Cores quota.', pathContains: 'ip-b' });
    const p = providers(client, 'rg1');
    expect((await client.call('PUT', p.pip('ip-a'), bodies.pip())).status).toBe(201);
    const failed = await client.call('PUT', p.pip('ip-b'), bodies.pip());
    expect(failed.status).toBe(409);
    expect(failed.body.error.message).toContain('quota');
  });
});

describe('control API', () => {
  it('works over HTTP without a token: public IPs, serial logs, faults, state, reset', async () => {
    const ctl = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
      fetch(`${arm.endpoint}/emulator/${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': contentType } } : {}) });
    expect((await ctl('POST', 'public-ips', { next: ['10.200.77.2'] })).status).toBe(200);
    expect((await ctl('PUT', 'serial-logs/rg1/vm1', 'boot log line\n', 'text/plain')).status).toBe(200);
    expect((await ctl('POST', 'faults', { operationId: 'ResourceGroups_Get', code: 'TooManyRequests' })).status).toBe(200);
    expect((await ctl('PATCH', 'config', { lroPolls: 4 })).status).toBe(200);
    const state = (await (await ctl('GET', 'state')).json()) as { nextPublicIps: string[]; faults: unknown[]; config: { lroPolls: number } };
    expect(state.nextPublicIps).toEqual(['10.200.77.2']);
    expect(state.faults).toHaveLength(1);
    expect(state.config.lroPolls).toBe(4);
    await client.call('PUT', rgPath('rg1'), bodies.group());
    const pip = (await client.put(providers(client, 'rg1').pip('ip'), bodies.pip())).body;
    expect(pip.properties.ipAddress).toBe('10.200.77.2');
    expect((await ctl('POST', 'reset')).status).toBe(200);
    const after = (await (await ctl('GET', 'state')).json()) as { resources: unknown[]; config: { lroPolls: number } };
    expect(after.resources).toEqual([]);
    expect(after.config.lroPolls).toBe(1);
  });

  it('completes every running operation on demand', async () => {
    await client.call('PUT', rgPath('rg1'), bodies.group());
    arm.control.configure({ lroPolls: 100, advanceOnResourceGet: false });
    await client.call('PUT', providers(client, 'rg1').pip('ip'), bodies.pip());
    expect(arm.control.completeOperations()).toBe(1);
    expect((await client.call('GET', providers(client, 'rg1').pip('ip'))).body.properties.provisioningState).toBe('Succeeded');
  });
});

describe('HTTPS', () => {
  it('serves HTTPS with a self-signed certificate for clients that need it (Azure SDK bearer policy)', async () => {
    const secure = await startArmEmulator({ tls: true });
    try {
      expect(secure.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const url = new URL(`${secure.endpoint}/subscriptions/${secure.subscriptionId}/resourcegroups/rg1?api-version=2024-07-01`);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(url, { method: 'HEAD', ca: secure.ca, headers: { Authorization: 'Bearer t' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(404);
    } finally {
      await secure.stop();
    }
  });
});
