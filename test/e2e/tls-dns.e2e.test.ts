// `tls` with the domain's zone in the same cloud account, end to end: the real CLI process → moto
// for EC2 and Route 53, and a test host with a real sshd standing in for the instance (its stub
// kubectl keeps what was applied and deleted under <fsRoot>/var/log). The user's hosted zone and its
// records are made with the plain SDK, the way a user would; record values outside the test host's
// address are TEST-NET data in moto only, never contacted. DNS answers come from SGL_TEST_DNS_FILE.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testCa, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60719';
const HOST_ADDRESS = '10.200.131.2';
const REGION = ['--region', 'us-east-1'];
const DOMAIN = 'sourcegraph.example.com';

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let host: TestHost;
let r53: Route53Client;
let keyDir: string;
let home: string;
let certs: string;
let site: TestCert;
let dnsFile: string;

const cli = (args: string[]) => runCli(args, { endpoint: moto.endpoint, home, env: { SGL_TEST_POLL_MS: '100', SGL_TEST_DNS_FILE: dnsFile } });
const tlsArgs = () => ['tls', 'web', ...REGION, '--domain', DOMAIN, '--tls-cert', site.certPath, '--tls-key', site.keyPath];
const tlsDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'tls');
const logFile = (name: string) => join(host.fsRoot, 'var', 'log', name);
const log = (name: string) => (existsSync(logFile(name)) ? readFileSync(logFile(name), 'utf8') : '');

async function aRecord(zoneId: string): Promise<string[] | undefined> {
  const out = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  const set = (out.ResourceRecordSets ?? []).find((r) => r.Type === 'A' && r.Name === `${DOMAIN}.`);
  return set && (set.ResourceRecords ?? []).map((r) => r.Value!);
}

async function setRecord(zoneId: string, value: string): Promise<void> {
  await r53.send(new ChangeResourceRecordSetsCommand({
    HostedZoneId: zoneId,
    ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `${DOMAIN}.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: value }] } }] },
  }));
}

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  r53 = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  certs = mkdtempSync(join(tmpdir(), 'sgl-e2e-certs-'));
  site = testCa(certs).issue('site', [DOMAIN], { days: 90 });
  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  dnsFile = join(home, 'dns.txt');
  writeFileSync(dnsFile, `${DOMAIN} ${HOST_ADDRESS}\n`);
  await allocateTestAddress(motoEc2Client(moto), HOST_ADDRESS, { deployment: 'web' });
  const launch = await runCli(
    ['launch', 'web', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', `${key.privateKeyPath}.pub`, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
    { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  r53?.destroy();
  await host?.stop();
  await moto?.stop();
  for (const d of [keyDir, certs, home]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('tls with the zone in the same account (Route 53 on moto)', () => {
  let zoneId: string;

  it('no zone in the account: prints the record to create, as before', async () => {
    const r = await cli([...tlsArgs(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`${DOMAIN}.  A  ${HOST_ADDRESS}`);
    expect(r.json<Record<string, unknown>>().dnsZone).toBeUndefined();
    expect(r.json()).toMatchObject({ dns: 'resolves', address: HOST_ADDRESS });
  });

  it('a record that points elsewhere: without --yes in CI exit 2 and nothing changed; --no-dns leaves it alone', async () => {
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: 'example.com.', CallerReference: 'the-users-zone' }));
    zoneId = zone.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
    await setRecord(zoneId, '192.0.2.50');
    const execs = host.execLog().length;
    const applied = log('kubectl-applied.yaml');

    const r = await cli(tlsArgs());
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toContain(`UPSERT  ${DOMAIN}.  A  ${HOST_ADDRESS}`);
    expect(r.stdout + r.stderr).toContain('It points at 192.0.2.50 now');
    expect(r.stderr).toContain('--yes is required to replace the DNS record sourcegraph.example.com (it points at 192.0.2.50)');
    expect(await aRecord(zoneId)).toEqual(['192.0.2.50']);
    expect(host.execLog().length).toBe(execs);
    expect(log('kubectl-applied.yaml')).toBe(applied);

    const nodns = await cli([...tlsArgs(), '--no-dns', '--no-wait', '--json']);
    expect(nodns.code, nodns.stderr).toBe(0);
    expect(nodns.stdout + nodns.stderr).toContain(`${DOMAIN}.  A  ${HOST_ADDRESS}`);
    expect(await aRecord(zoneId)).toEqual(['192.0.2.50']);
  });

  it('--yes points the record here; tls --remove leaves a record someone changed since, and deletes its own', async () => {
    const r = await cli([...tlsArgs(), '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ dns: 'resolves', dnsZone: { id: zoneId, name: 'example.com', change: 'replaced', previous: ['192.0.2.50'] } });
    expect(await aRecord(zoneId)).toEqual([HOST_ADDRESS]);
    // Again: nothing to change, nothing asked.
    const again = await cli([...tlsArgs(), '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ dnsZone: { change: 'unchanged' } });

    // Someone points it elsewhere: --remove takes the HTTPS part off the instance, leaves the record.
    await setRecord(zoneId, '192.0.2.60');
    const refused = await cli(['tls', 'web', ...REGION, '--remove']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(existsSync(join(tlsDir(), 'tls.crt'))).toBe(true);
    const left = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(left.code, left.stderr).toBe(0);
    expect(left.json()).toMatchObject({ dnsRecord: { name: DOMAIN, outcome: 'not-ours' } });
    expect(await aRecord(zoneId)).toEqual(['192.0.2.60']);
    expect(existsSync(tlsDir())).toBe(false);
    expect(log('kubectl-deleted.log').trim().split('\n')).toEqual(['ingress/sourcegraph-tls', 'ingress/sourcegraph-tls-redirect', 'middlewares.traefik.io/sourcegraph-https-redirect', 'secret/sourcegraph-tls']);
    // The user's certificate files on this machine are never touched.
    expect(readFileSync(site.certPath, 'utf8')).toBe(site.certPem);
    expect(readFileSync(site.keyPath, 'utf8')).toBe(site.keyPem);

    // Its own record (created this time): --remove deletes it; the zone stays.
    await r53.send(new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: `${DOMAIN}.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.60' }] } }] },
    }));
    const created = await cli([...tlsArgs(), '--yes', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.json()).toMatchObject({ dnsZone: { change: 'created' } });
    expect(created.json<Record<string, { previous?: unknown }>>().dnsZone!.previous).toBeUndefined();
    const removed = await cli(['tls', 'web', ...REGION, '--remove', '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json()).toMatchObject({ dnsRecord: { outcome: 'deleted' } });
    expect(await aRecord(zoneId)).toBeUndefined();
    const zones = await r53.send(new ListHostedZonesByNameCommand({ DNSName: 'example.com.' }));
    expect(zones.HostedZones?.map((z) => z.Id)).toContain(`/hostedzone/${zoneId}`);
  });

  it('destroy deletes the record tls set (still pointing here), never the zone', async () => {
    const r = await cli([...tlsArgs(), '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await aRecord(zoneId)).toEqual([HOST_ADDRESS]);
    const destroyed = await cli(['destroy', 'web', ...REGION, '--yes', '--json']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.json()).toMatchObject({ dnsRecord: { name: DOMAIN, zone: 'example.com', outcome: 'deleted' } });
    expect(await aRecord(zoneId)).toBeUndefined();
    const records = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    expect(records.ResourceRecordSets?.map((s) => s.Type).sort()).toEqual(['NS', 'SOA']);
  });
});
