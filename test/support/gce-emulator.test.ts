// The GCE emulator's core over real HTTP with plain fetch: credentials, routing, schema validation
// of every request, Operations (polls, wait, errors), requestId, error formats, faults and the
// control API. The resource behaviour is in gce-emulator-*.test.ts.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GceTestClient } from './gce-emulator/client.js';
import { compileRoutes, discovery, SUBSET_FILE } from './gce-emulator/discovery.js';
import { diskBody, firewallBody, instanceBody } from './gce-emulator/fixtures.js';
import { startGceEmulator, type GceEmulator } from './gce-emulator/index.js';
import { HANDLERS } from './gce-emulator/router.js';

const ZONE = 'us-central1-b';
let gce: GceEmulator;
let api: GceTestClient;

beforeAll(async () => {
  gce = await startGceEmulator();
  api = new GceTestClient(gce.endpoint, gce.project);
});
afterAll(() => gce.stop());
beforeEach(() => gce.reset());

describe('the discovery subset', () => {
  it('is the documented revision, and every route it has is served (and nothing else)', () => {
    const doc = discovery();
    expect(doc.revision).toBe('20230620');
    expect(doc.basePath).toBe('/compute/v1/');
    const routes = compileRoutes().map((r) => r.name).sort();
    expect(routes).toEqual(Object.keys(HANDLERS).sort());
    expect(routes).toHaveLength(112);
    const source = readFileSync(new URL('SOURCE.md', `file://${SUBSET_FILE}`), 'utf8');
    expect(source).toContain('81903829f3f448c2f64bc292a9109464fccab48f');
  });
});

describe('credentials', () => {
  it('refuses a request without a bearer token with 401 and accepts any token, recording it', async () => {
    const anonymous = await api.call('GET', `zones/${ZONE}`, { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(anonymous.body).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'required', location: 'Authorization' }] } });
    const ok = await api.call('GET', `zones/${ZONE}`, { token: 'ya29.whatever' });
    expect(ok.status).toBe(200);
    expect(gce.control.requests().map((r) => r.token)).toEqual([undefined, 'ya29.whatever']);
  });

  it('hands out tokens at /token for refresh-token and JWT grants, and refuses other grants', async () => {
    const grant = (body: string) => fetch(`${gce.endpoint}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const refreshed = (await (await grant('grant_type=refresh_token&refresh_token=r&client_id=c&client_secret=s')).json()) as { access_token: string; expires_in: number };
    expect(refreshed.access_token).toBe('ya29.emulator-1');
    expect(refreshed.expires_in).toBeGreaterThan(0);
    expect((await grant('grant_type=password')).status).toBe(400);
    expect(gce.control.state().tokensIssued).toEqual(['ya29.emulator-1']);
  });
});

describe('routing and request validation', () => {
  it('answers 404 for paths outside the API and for unknown methods of a path', async () => {
    expect((await api.call('GET', '/compute/v2/projects/x/zones')).status).toBe(404);
    expect((await api.call('GET', 'zones/us-central1-b/instances/vm/start')).status).toBe(404);
    expect((await api.call('GET', `zones/${ZONE}/widgets`)).status).toBe(404);
  });

  it('rejects an unknown body field the way Google does', async () => {
    const result = await api.post(`zones/${ZONE}/disks`, { ...diskBody('d', ZONE), colour: 'blue' });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: `Invalid JSON payload received. Unknown name "colour" at 'disk_resource': Cannot find field.`,
        errors: [{ reason: 'invalid' }],
        details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'disk_resource' }] }],
      },
    });
    const nested = await api.post(`zones/${ZONE}/instances`, { ...instanceBody('vm', { zone: ZONE }), networkInterfaces: [{ accessConfigs: [{ natIp: '1.2.3.4' }] }] });
    expect((nested.body as { error: { message: string } }).error.message).toContain(`Unknown name "natIp" at 'instance_resource.network_interfaces[0].access_configs[0]'`);
  });

  it('rejects wrong types, bad enums, bad names and missing required fields', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...diskBody('d', ZONE), sizeGb: 'ten' }, /Invalid value at 'disk_resource.size_gb' \(TYPE_INT64\), "ten"/],
      [{ ...diskBody('d', ZONE), sizeGb: true }, /TYPE_INT64/],
      [{ ...diskBody('Bad_Name', ZONE) }, /Invalid value for field 'resource.name': 'Bad_Name'. Must be a match of regex/],
      [{ sizeGb: '10' }, /Required field 'resource.name' not specified/],
      [{ ...diskBody('d', ZONE), architecture: 'SPARC' }, /Invalid value at 'disk_resource.architecture' \(type.googleapis.com\/google.cloud.compute.v1.Disk.Architecture\), "SPARC"/],
      [{ ...diskBody('d', ZONE), labels: { env: 7 } }, /TYPE_STRING/],
      [[1, 2], /Root element must be a message/],
    ];
    for (const [body, message] of cases) {
      const result = await api.post(`zones/${ZONE}/disks`, body);
      expect(result.status, JSON.stringify(body)).toBe(400);
      expect((result.body as { error: { message: string } }).error.message).toMatch(message);
    }
    const unparsable = await api.call('POST', `zones/${ZONE}/disks`, { rawBody: '{"name": ' });
    expect(unparsable.status).toBe(400);
    expect(gce.control.state().disks).toEqual([]);
  });

  it('accepts 64-bit integers as numbers or strings and answers them as strings', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, { name: 'd', sizeGb: 20 });
    expect((await api.get(`zones/${ZONE}/disks/d`)).body.sizeGb).toBe('20');
  });

  it('tolerates output-only fields in a body (a resource read back) and ignores them', async () => {
    await api.mutate('POST', 'global/firewalls', firewallBody('web'));
    const current = (await api.get('global/firewalls/web')).body;
    const update = await api.call('PUT', 'global/firewalls/web', { body: { ...current, id: '1', selfLink: 'x', creationTimestamp: 'y', priority: 900 } });
    expect(update.status).toBe(200);
    await api.pollUntilDone(update.body);
    const after = (await api.get('global/firewalls/web')).body;
    expect(after).toMatchObject({ id: current.id, selfLink: current.selfLink, creationTimestamp: current.creationTimestamp, priority: 900 });
  });

  it('checks path and query parameters: patterns, types, ranges, unknown names, required ones', async () => {
    const expectError = async (path: string, query: Record<string, string>, message: RegExp) => {
      const result = await api.call('GET', path, { query });
      expect(result.status, path).toBe(400);
      expect((result.body as { error: { message: string } }).error.message).toMatch(message);
    };
    await expectError(`zones/US_CENTRAL/instances`, {}, /Invalid value for field 'zone': 'US_CENTRAL'/);
    await expectError(`zones/${ZONE}/instances`, { maxResults: 'many' }, /max_results/);
    await expectError(`zones/${ZONE}/instances`, { colour: 'blue' }, /Unknown name "colour": Cannot bind query parameter/);
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }));
    await expectError(`zones/${ZONE}/instances/vm/serialPort`, { port: '5' }, /between 1 and 4/);
    const noDevice = await api.post(`zones/${ZONE}/instances/vm/detachDisk`);
    expect(noDevice.status).toBe(400);
    expect((noDevice.body as { error: { message: string } }).error.message).toBe("Required field 'deviceName' not specified");
    const bodyOnBodyless = await api.post(`zones/${ZONE}/instances/vm/stop`, { force: true });
    expect(bodyOnBodyless.status).toBe(400);
    expect((await api.get(`zones/${ZONE}/instances`, { prettyPrint: 'false', alt: 'json' })).status).toBe(200);
  });

  it('answers 404 for an unknown project, zone or region, and 403 for writes to the public image project', async () => {
    expect((await api.call('GET', '/compute/v1/projects/someone-else/zones')).status).toBe(404);
    expect((await api.get('zones/mars-north1-a')).status).toBe(404);
    expect((await api.get('regions/mars-north1')).status).toBe(404);
    expect((await api.call('GET', '/compute/v1/projects/ubuntu-os-cloud/global/images')).status).toBe(200);
    const write = await api.call('POST', '/compute/v1/projects/ubuntu-os-cloud/global/images', { body: { name: 'mine', sourceImage: 'global/images/x' } });
    expect(write.status).toBe(403);
  });
});

describe('operations', () => {
  it('a mutation answers an Operation in its scope that goes PENDING → RUNNING → DONE, one step per poll', async () => {
    const insert = await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE));
    expect(insert.status).toBe(200);
    const op = insert.body;
    expect(op).toMatchObject({ kind: 'compute#operation', status: 'PENDING', operationType: 'insert', progress: 0 });
    expect(op.zone).toMatch(new RegExp(`/projects/${gce.project}/zones/${ZONE}$`));
    expect(op.targetLink).toMatch(/\/zones\/us-central1-b\/disks\/d$/);
    const { final, seen } = await api.pollUntilDone(op);
    expect(seen).toEqual(['PENDING', 'RUNNING', 'DONE']);
    expect(final).toMatchObject({ status: 'DONE', progress: 100 });
    expect(final.error).toBeUndefined();
    // Regional and global operations live in their own collections, not the zone's.
    const regional = (await api.post('regions/us-central1/addresses', { name: 'ip' })).body;
    expect(regional.region).toMatch(/\/regions\/us-central1$/);
    expect((await api.get(`zones/${ZONE}/operations/${regional.name as string}`)).status).toBe(404);
    expect((await api.get(`regions/us-central1/operations/${regional.name as string}`)).status).toBe(200);
    const global = (await api.post('global/firewalls', firewallBody('fw'))).body;
    expect(global.zone).toBeUndefined();
    expect(global.region).toBeUndefined();
    expect((await api.get(`global/operations/${global.name as string}`)).status).toBe(200);
  });

  it('takes the configured number of polls', async () => {
    const slow = await startGceEmulator({ pollsToDone: 4, defaultFirewallRules: false });
    try {
      const client = new GceTestClient(slow.endpoint, slow.project);
      const op = (await client.post('global/firewalls', firewallBody('fw'))).body;
      expect((await client.pollUntilDone(op)).seen).toEqual(['PENDING', 'RUNNING', 'RUNNING', 'RUNNING', 'DONE']);
      slow.control.configure({ pollsToDone: 1 });
      const quick = (await client.delete('global/firewalls/fw')).body;
      expect((await client.pollUntilDone(quick)).seen).toEqual(['PENDING', 'DONE']);
    } finally {
      await slow.stop();
    }
  });

  it('wait answers before DONE (best effort) and callers must loop', async () => {
    const op = (await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).body;
    const waitPath = `zones/${ZONE}/operations/${op.name as string}/wait`;
    const first = await api.post(waitPath);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('RUNNING');
    expect((await api.post(waitPath)).body.status).toBe('DONE');
    gce.control.configure({ waitSteps: 0 });
    const other = (await api.post(`zones/${ZONE}/disks`, diskBody('e', ZONE))).body;
    expect((await api.post(`zones/${ZONE}/operations/${other.name as string}/wait`)).body.status).toBe('PENDING');
  });

  it('get, wait and list work the same in the zonal, regional and global collections', async () => {
    const ops = [
      (await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).body,
      (await api.post('regions/us-central1/addresses', { name: 'ip' })).body,
      (await api.post('global/firewalls', firewallBody('fw'))).body,
    ];
    for (const op of ops) {
      const path = api.operationPath(op);
      expect((await api.post(`${path}/wait`)).body.status).toBe('RUNNING');
      expect((await api.get(path)).body.status).toBe('DONE');
      const collection = path.slice(0, path.lastIndexOf('/'));
      expect(((await api.get(collection)).body.items as { name: string }[]).map((o) => o.name)).toEqual([op.name]);
      expect((await api.post(`${collection}/operation-missing/wait`)).status).toBe(404);
    }
  });

  it('lists operations of a scope, with filters', async () => {
    await api.mutate('POST', `zones/${ZONE}/disks`, diskBody('a', ZONE));
    await api.post(`zones/${ZONE}/disks`, diskBody('b', ZONE));
    const all = (await api.get(`zones/${ZONE}/operations`)).body.items as { status: string }[];
    expect(all.map((o) => o.status)).toEqual(['DONE', 'PENDING']);
    const pending = (await api.get(`zones/${ZONE}/operations`, { filter: 'status != DONE' })).body.items as unknown[];
    expect(pending).toHaveLength(1);
    expect((await api.get('zones/us-east1-c/operations')).body.items).toBeUndefined();
  });

  it('an operation can end DONE with an error and change nothing (injected ZONE_RESOURCE_POOL_EXHAUSTED)', async () => {
    gce.control.injectFault({ method: 'instances.insert', zone: ZONE, error: { kind: 'zoneResourcePoolExhausted' } });
    const op = (await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }))).body;
    const { final } = await api.pollUntilDone(op);
    expect(final).toMatchObject({
      status: 'DONE',
      httpErrorStatusCode: 503,
      error: { errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: expect.stringContaining(`zones/${ZONE}`) }] },
    });
    expect((await api.get(`zones/${ZONE}/instances/vm`)).status).toBe(404);
    expect(gce.control.state().disks).toEqual([]);
    // The fault was for one call in that zone: the next one, or one elsewhere, works.
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }));
  });

  it('fails with QUOTA_EXCEEDED when a regional quota would be passed, injected or real', async () => {
    gce.control.injectFault({ method: 'compute.disks.insert', error: { kind: 'quotaExceeded', metric: 'SSD_TOTAL_GB', limit: 500 } });
    const injected = (await api.pollUntilDone((await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).body)).final;
    expect(injected).toMatchObject({ httpErrorStatusCode: 403, error: { errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'SSD_TOTAL_GB' exceeded.  Limit: 500.0 in region us-central1." }] } });
    gce.control.setQuota('N2_CPUS', 24);
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('a', { zone: ZONE, machineType: 'n2-standard-16' }));
    const second = (await api.post(`zones/${ZONE}/instances`, instanceBody('b', { zone: ZONE, machineType: 'n2-standard-16' }))).body;
    const { final } = await api.pollUntilDone(second);
    const error = (final.error as { errors: { code: string; errorDetails: { quotaInfo: { metricName: string; limit: number } }[] }[] }).errors[0]!;
    expect(error.code).toBe('QUOTA_EXCEEDED');
    expect(error.errorDetails[0]!.quotaInfo).toMatchObject({ metricName: 'compute.googleapis.com/n2_cpus', limit: 24 });
    const quotas = (await api.get('regions/us-central1')).body.quotas as { metric: string; usage: number; limit: number }[];
    expect(quotas.find((q) => q.metric === 'N2_CPUS')).toEqual({ metric: 'N2_CPUS', usage: 16, limit: 24 });
    // Stopped instances do not count against CPU quotas: stopping `a` makes room.
    await api.mutate('POST', `zones/${ZONE}/instances/a/stop`);
    await api.mutate('POST', `zones/${ZONE}/instances`, instanceBody('b', { zone: ZONE, machineType: 'n2-standard-16' }));
  });
});

describe('requestId', () => {
  const REQUEST_ID = '0b8a3f0e-5d1c-4e7a-9b2f-3c4d5e6f7a8b';

  it('a retry with the same id returns the same Operation and acts once', async () => {
    const first = (await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }), { requestId: REQUEST_ID })).body;
    expect(first.clientOperationId).toBe(REQUEST_ID);
    await api.pollUntilDone(first);
    const retry = await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }), { requestId: REQUEST_ID });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ name: first.name, status: 'DONE', clientOperationId: REQUEST_ID });
    expect(gce.control.state().instances).toHaveLength(1);
    expect(gce.control.state().operations.filter((o) => o.operationType === 'insert')).toHaveLength(1);
    // Without the id, the same request is a new one and the name is taken.
    const again = await api.post(`zones/${ZONE}/instances`, instanceBody('vm', { zone: ZONE }));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 409, errors: [{ reason: 'alreadyExists' }] } });
  });

  it('rejects ids that are not UUIDs and the all-zero UUID', async () => {
    for (const requestId of ['not-a-uuid', '00000000-0000-0000-0000-000000000000', '0b8a3f0e5d1c4e7a9b2f3c4d5e6f7a8b']) {
      const result = await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE), { requestId });
      expect(result.status, requestId).toBe(400);
      expect((result.body as { error: { message: string } }).error.message).toContain('must be a valid UUID');
    }
    expect(gce.control.state().disks).toEqual([]);
  });
});

describe('errors and faults', () => {
  it('404 notFound and 409 alreadyExists in Google JSON format', async () => {
    const missing = await api.get(`zones/${ZONE}/instances/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: {
        code: 404,
        message: `The resource 'projects/${gce.project}/zones/${ZONE}/instances/nope' was not found`,
        errors: [{ message: `The resource 'projects/${gce.project}/zones/${ZONE}/instances/nope' was not found`, domain: 'global', reason: 'notFound' }],
        status: 'NOT_FOUND',
      },
    });
    await api.mutate('POST', 'global/firewalls', firewallBody('web'));
    const taken = await api.post('global/firewalls', firewallBody('web'));
    expect(taken.status).toBe(409);
    expect((taken.body as { error: { message: string } }).error.message).toBe(`The resource 'projects/${gce.project}/global/firewalls/web' already exists`);
  });

  it('rate limits: 429 (or 403) rateLimitExceeded with Retry-After, for the next N calls of a method', async () => {
    gce.control.injectFault({ method: 'zones.get', times: 2, error: { kind: 'rateLimitExceeded', retryAfterSeconds: 3 } });
    for (let i = 0; i < 2; i += 1) {
      const limited = await api.get(`zones/${ZONE}`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('3');
      expect(limited.body).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', errors: [{ reason: 'rateLimitExceeded' }] } });
    }
    expect((await api.get(`zones/${ZONE}`)).status).toBe(200);
    gce.control.injectFault({ method: '*', error: { kind: 'rateLimitExceeded', status: 403 } });
    const any = await api.get('regions/us-central1');
    expect(any.status).toBe(403);
    expect(any.body).toMatchObject({ error: { errors: [{ reason: 'rateLimitExceeded' }] } });
  });

  it('403 quotaExceeded up front, 401 for expired credentials, any HTTP error; none of them creates anything', async () => {
    gce.control.injectFault({ method: 'addresses.insert', error: { kind: 'quotaExceeded', as: 'http', metric: 'STATIC_ADDRESSES', limit: 8 } });
    const quota = await api.post('regions/us-central1/addresses', { name: 'ip' });
    expect(quota.status).toBe(403);
    expect(quota.body).toMatchObject({ error: { code: 403, message: "Quota 'STATIC_ADDRESSES' exceeded.  Limit: 8.0 in region us-central1.", errors: [{ reason: 'quotaExceeded' }] } });
    gce.control.injectFault({ method: 'projects.get', error: { kind: 'unauthenticated' } });
    const expired = await api.get('/compute/v1/projects/' + gce.project);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: { status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] } });
    gce.control.injectFault({ method: 'disks.insert', error: { kind: 'http', status: 503, reason: 'backendError', message: 'Internal error. Please try again.' } });
    expect((await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).status).toBe(503);
    expect(gce.control.state()).toMatchObject({ addresses: [], disks: [], faults: [] });
  });

  it('refuses a fault that cannot happen (an Operation error for a read)', () => {
    expect(() => gce.control.injectFault({ method: 'zones.get', error: { kind: 'zoneResourcePoolExhausted' } })).toThrow(/returns an Operation/);
    expect(() => gce.control.injectFault({ method: 'instances.fly', error: { kind: 'unauthenticated' } })).toThrow(/unknown method/);
  });

  it('an Operation fault is kept for a call that is accepted, not used up by a refused one', async () => {
    gce.control.injectFault({ method: 'disks.insert', error: { kind: 'operation', code: 'RESOURCE_OPERATION_RATE_EXCEEDED', message: 'slow down' } });
    expect((await api.post(`zones/${ZONE}/disks`, { name: 'Bad' })).status).toBe(400);
    const op = (await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).body;
    expect((await api.pollUntilDone(op)).final.error).toEqual({ errors: [{ code: 'RESOURCE_OPERATION_RATE_EXCEEDED', message: 'slow down' }] });
  });
});

describe('control API over HTTP', () => {
  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${gce.endpoint}/emulator/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  it('state, faults, settings, operations and reset, without credentials', async () => {
    const op = (await api.post(`zones/${ZONE}/disks`, diskBody('d', ZONE))).body;
    const state = (await (await control('GET', 'state')).json()) as { disks: { name: string; status: string }[]; pendingOperations: number };
    expect(state.disks.map((d) => [d.name, d.status])).toEqual([['d', 'CREATING']]);
    expect(state.pendingOperations).toBe(1);
    expect((await control('POST', 'operations/settle')).status).toBe(200);
    expect((await api.get(`zones/${ZONE}/operations/${op.name as string}`)).body.status).toBe('DONE');

    expect((await control('POST', 'faults', { method: 'disks.get', error: { kind: 'http', status: 500, reason: 'backendError', message: 'boom' } })).status).toBe(200);
    expect((await api.get(`zones/${ZONE}/disks/d`)).status).toBe(500);
    expect((await control('POST', 'faults', { method: 'nope.get', error: { kind: 'unauthenticated' } })).status).toBe(400);

    expect((await control('POST', 'settings', { pollsToDone: 3 })).status).toBe(200);
    const slow = (await api.post(`zones/${ZONE}/disks`, diskBody('e', ZONE))).body;
    expect((await api.pollUntilDone(slow)).seen).toHaveLength(4);

    const requests = (await (await control('GET', 'requests')).json()) as { route?: string; status: number }[];
    expect(requests.map((r) => `${r.route} ${r.status}`)).toContain('disks.get 500');
    expect((await control('POST', 'reset')).status).toBe(200);
    expect((await (await control('GET', 'state')).json()) as object).toMatchObject({ disks: [], operations: [], faults: [] });
    expect((await control('GET', 'requests').then((r) => r.json())) as unknown[]).toEqual([]);
    expect((await control('POST', 'nothing-here')).status).toBe(404);
  });

  it('advances operations by the clock only when asked to', async () => {
    const timed = await startGceEmulator({ advanceEveryMs: 20, defaultFirewallRules: false });
    try {
      const client = new GceTestClient(timed.endpoint, timed.project);
      const op = (await client.post('global/firewalls', firewallBody('fw'))).body;
      // Nobody polls; the clock alone finishes it (bounded wait, so a busy machine only slows it).
      const status = () => timed.control.state().operations.find((o) => o.name === op.name)?.status;
      for (let i = 0; i < 250 && status() !== 'DONE'; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(status()).toBe('DONE');
    } finally {
      await timed.stop();
    }
    const untimed = (await api.post('global/firewalls', firewallBody('fw'))).body;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(gce.control.state().operations.find((o) => o.name === untimed.name)?.status).toBe('PENDING');
  });
});
