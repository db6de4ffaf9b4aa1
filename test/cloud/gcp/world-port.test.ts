// The port-80 rule to the world (tls --tls acme) on GCE, beyond the contract, on the GCE emulator:
// a rule of the user's that already lets the world in (aimed at the tag, or at every instance of
// the network) is 'already-open' and never closed; a long deployment name still gives a valid rule
// name that no other deployment's rules can take; a name taken by something else is refused, not
// adopted; the purpose survives a label change (setPolicyLabels rewrites every description).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GcpAdapter } from '../../../src/cloud/gcp/adapter.js';
import { worldFirewallName } from '../../../src/cloud/gcp/world-port.js';
import type { AccessPolicySpec } from '../../../src/cloud/port.js';
import { GceTestClient } from '../../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../../support/gce-emulator/index.js';

const REGION = 'us-central1';
let gce: GceEmulator;
let client: GceTestClient;
let dir: string;
let cloud: GcpAdapter;

beforeAll(async () => {
  gce = await startGceEmulator();
  client = new GceTestClient(gce.endpoint, gce.project);
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-world-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'key.json');
  writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: gce.project, client_email: `t@${gce.project}.iam.gserviceaccount.com`, private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), token_uri: `${gce.endpoint}/token` }));
  const env = { GOOGLE_APPLICATION_CREDENTIALS: keyFile, METADATA_SERVER_DETECTION: 'none', CLOUDSDK_CONFIG: join(dir, 'gcloud'), CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${gce.endpoint}/compute/v1/` };
  cloud = new GcpAdapter({ provider: 'gcp', region: REGION, params: { project: gce.project } }, { env, pollIntervalMs: 1 });
});
afterAll(async () => {
  await gce?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => gce.reset());

const spec = (deployment: string): AccessPolicySpec => ({
  deployment,
  name: `sourcegraph-launch-${deployment}`,
  labels: { deployment, role: 'access-policy', managed: 'true' },
  placement: { zone: `${REGION}-a` },
  rules: [{ port: 443, cidr: '203.0.113.0/24' }, { port: 80, cidr: '203.0.113.0/24' }],
});
const names = async () => ((await client.get<{ items?: { name: string }[] }>('global/firewalls')).body.items ?? []).map((f) => f.name).filter((n) => !n.startsWith('default-')).sort();
const userRule = (name: string, extra: Record<string, unknown>) => client.mutate('POST', 'global/firewalls', { name, network: 'global/networks/default', sourceRanges: ['0.0.0.0/0'], ...extra });

describe('GCE openWorldPort / closeWorldPort', () => {
  it("a user's rule letting the world reach 80 on the tag (a port range) or on every instance: already-open, nothing made, never closed", async () => {
    const policy = await cloud.ensureAccessPolicy(spec('web'));
    await userRule('users-web', { allowed: [{ IPProtocol: 'tcp', ports: ['80-90'] }], targetTags: [policy.id] });
    expect(await cloud.openWorldPort(policy.id, 80, 'acme-http-01')).toBe('already-open');
    expect(await cloud.closeWorldPort(policy.id, 80, 'acme-http-01')).toBe('absent');
    expect(await names()).toEqual([`${policy.id}-443`, `${policy.id}-80`, 'users-web']);

    gce.reset();
    const again = await cloud.ensureAccessPolicy(spec('web'));
    await userRule('users-all', { allowed: [{ IPProtocol: 'all' }] });
    expect(await cloud.openWorldPort(again.id, 80, 'acme-http-01')).toBe('already-open');
    // Not theirs to count: aimed at another tag, disabled, or another port.
    gce.reset();
    const third = await cloud.ensureAccessPolicy(spec('web'));
    await userRule('users-http-server', { allowed: [{ IPProtocol: 'tcp', ports: ['80'] }], targetTags: ['http-server'] });
    await userRule('users-disabled', { allowed: [{ IPProtocol: 'tcp', ports: ['80'] }], targetTags: [third.id], disabled: true });
    await userRule('users-8080', { allowed: [{ IPProtocol: 'tcp', ports: ['8080'] }], targetTags: [third.id] });
    expect(await cloud.openWorldPort(third.id, 80, 'acme-http-01')).toBe('opened');
    expect(await cloud.closeWorldPort(third.id, 80, 'acme-http-01')).toBe('closed');
    expect(await names()).toEqual([`${third.id}-443`, `${third.id}-80`, 'users-8080', 'users-disabled', 'users-http-server']);
  });

  it('a long deployment name: a valid rule name (at most 63), not of the form <tag>-<port>; the purpose survives a label change', async () => {
    const long = 'a'.repeat(38);
    const policy = await cloud.ensureAccessPolicy(spec(long));
    expect(await cloud.openWorldPort(policy.id, 80, 'acme-http-01')).toBe('opened');
    const name = worldFirewallName(policy.id, 80, 'acme-http-01');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).not.toMatch(/-\d+$/);
    expect(await names()).toContain(name);
    await cloud.setLabels([policy.id], { version: '6.13.0' });
    const listed = (await cloud.findDeployment(long)).accessPolicies.find((p) => p.id === policy.id)!;
    expect(listed.labels.version).toBe('6.13.0');
    expect(listed.rules.find((r) => r.cidr === '0.0.0.0/0')).toEqual({ port: 80, cidr: '0.0.0.0/0', purpose: 'acme-http-01' });
    expect(await cloud.closeWorldPort(policy.id, 80, 'acme-http-01')).toBe('closed');
    expect(await names()).not.toContain(name);
  });

  it('a permission denied on firewalls.insert: exit 3 (permissions), nothing made', async () => {
    const policy = await cloud.ensureAccessPolicy(spec('web'));
    gce.control.injectFault({ method: 'firewalls.insert', error: { kind: 'http', status: 403, reason: 'forbidden', message: `Required 'compute.firewalls.create' permission for 'projects/${gce.project}/global/firewalls/x'` }, times: 1 });
    await expect(cloud.openWorldPort(policy.id, 80, 'acme-http-01')).rejects.toMatchObject({ exitCode: 3 });
    expect(await names()).toEqual([`${policy.id}-443`, `${policy.id}-80`]);
  });

  it('a rule of that name for another tag is refused, never adopted or changed', async () => {
    const policy = await cloud.ensureAccessPolicy(spec('web'));
    const name = worldFirewallName(policy.id, 80, 'acme-http-01');
    await userRule(name, { allowed: [{ IPProtocol: 'tcp', ports: ['80'] }], sourceRanges: ['198.51.100.0/24'], targetTags: ['something-else'] });
    await expect(cloud.openWorldPort(policy.id, 80, 'acme-http-01')).rejects.toMatchObject({ code: 'firewall-name-taken' });
    const kept = (await client.get<{ sourceRanges: string[]; targetTags: string[] }>(`global/firewalls/${name}`)).body;
    expect([kept.sourceRanges, kept.targetTags]).toEqual([['198.51.100.0/24'], ['something-else']]);
  });
});
