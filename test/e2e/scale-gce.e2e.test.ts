// `scale --cloud gcp` with the real CLI on the GCE emulator (service-account credentials whose token
// endpoint is the emulator's, as in gcp-lifecycle.e2e.test.ts): the real CLI launches a deployment
// (no wait, no address: no test host is needed), then `scale --dry-run --json` reads the server back
// from the emulator and prints the requests a real run sends. Judged: the agents' instances.insert
// bodies carry the server's own public key in `ssh-keys` (read from the server's metadata), its
// network tag, zone, subnetwork and image, and the cluster firewall rule names the tag as source and
// target, never a range; nothing is created. The SSH/k3s side of a real run on GCE is
// scale-gce-join.e2e.test.ts (two test hosts), on AWS scale.e2e.test.ts.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeLabelValue } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { createClientKey } from '../support/test-host.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';

vi.setConfig({ testTimeout: 180_000 });

let gce: GceEmulator;
let client: GceTestClient;
let dir: string;
let publicKeyPath: string;
let env: Record<string, string>;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-scale-'));
  const key = await createClientKey(dir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  gce = await startGceEmulator({});
  client = new GceTestClient(gce.endpoint, gce.project);
  env = gceCliEnv(gce, dir);
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
  image = `projects/${gce.project}/global/images/sourcegraph-6-13-0`;
});

afterAll(async () => {
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const list = async (path: string) => ((await client.get<{ items?: Record<string, any>[] }>(path)).body.items ?? []);
const metaOf = (vm: Record<string, any>) => Object.fromEntries((vm.metadata.items as { key: string; value: string }[]).map((i) => [i.key, i.value]));

describe('--cloud gcp: scale with the real CLI on the GCE emulator', () => {
  it('--dry-run: each agent\'s instances.insert has the server\'s key in ssh-keys, its network tag, zone, subnetwork and image; the cluster rule is tag to tag; nothing is created', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-scale-home-'));
    const where = ['--cloud', 'gcp', '--project', gce.project, '--region', REGION];
    const launch = await runCli(
      ['launch', ...where, '--version', VERSION, '--image', image, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--name', 'sc', '--hold-seconds', '2', '--no-wait', '--address', 'none', '--json'],
      { env, home, timeoutMs: 150_000 },
    );
    expect(launch.code, launch.stderr).toBe(0);
    const zones = (await list('zones')).filter((z) => String(z.region).endsWith(`/${REGION}`));
    const instances = async () => (await Promise.all(zones.map((z) => list(`zones/${z.name}/instances`)))).flat();
    const [server] = await instances();
    expect(server).toBeDefined();
    const serverMeta = metaOf(server!);
    expect(serverMeta['ssh-keys']).toBe(`root:${readFileSync(publicKeyPath, 'utf8').trim()}`);
    const tags = server!.tags.items as string[];
    expect(tags).toHaveLength(1);
    const firewallsBefore = (await list('global/firewalls')).map((f) => f.name).sort();

    const dry = await runCli(['scale', 'sc', ...where, '--agents', '2', '--agent-size', 'S', '--dry-run', '--json'], { env, home });
    expect(dry.code, dry.stderr).toBe(0);
    const out = dry.json<{ dryRun: boolean; machineType: string; plan: { add: number }; requests: { service: string; operation: string; input: Record<string, any> }[] }>();
    expect(out).toMatchObject({ dryRun: true, plan: { add: 2 } });
    expect(out.requests.map((r) => r.operation)).toEqual(['firewalls.insert', 'instances.insert', 'instances.insert']);

    const rule = out.requests[0]!.input.body;
    expect(rule).toMatchObject({ name: `${tags[0]}-cluster`, direction: 'INGRESS', sourceTags: tags, targetTags: tags, allowed: [{ IPProtocol: 'tcp', ports: ['6443', '10250'] }, { IPProtocol: 'udp', ports: ['8472'] }] });
    expect(rule.sourceRanges).toBeUndefined();

    const serverZone = String(server!.zone).split('/').pop();
    const names = new Set<string>();
    for (const insert of out.requests.slice(1)) {
      const body = insert.input.body;
      names.add(body.name);
      expect(insert.input.zone).toBe(serverZone);
      expect(body.machineType).toBe(`zones/${serverZone}/machineTypes/${out.machineType}`);
      expect(body.tags.items).toEqual(tags);
      expect(String(server!.networkInterfaces[0].subnetwork).endsWith(body.networkInterfaces[0].subnetwork)).toBe(true);
      expect(body.networkInterfaces[0].subnetwork).toMatch(/^regions\/us-central1\/subnetworks\//);
      expect(body.networkInterfaces[0].accessConfigs).toHaveLength(1);
      expect(body.disks).toHaveLength(1);
      expect(body.disks[0].initializeParams.sourceImage).toBe(image);
      const meta = metaOf(body);
      // The server's own key and login user: GCE keeps no key by name.
      expect(meta['ssh-keys']).toBe(serverMeta['ssh-keys']);
      expect(meta['block-project-ssh-keys']).toBe('TRUE');
      expect(Buffer.from(meta['user-data']!, 'base64').toString()).toContain('systemctl mask --now --no-block sourcegraph-boot.service k3s.service');
      expect(body.labels).toMatchObject({ 'sourcegraph-launch-role': encodeLabelValue('agent'), 'sourcegraph-launch-deployment': encodeLabelValue('sc') });
    }
    expect(names.size).toBe(2);
    // A dry run changes nothing.
    expect(await instances()).toHaveLength(1);
    expect((await list('global/firewalls')).map((f) => f.name).sort()).toEqual(firewallsBefore);
    rmSync(home, { recursive: true, force: true });
  });

  it('scale --help says which clouds have agents (AWS, GCE and Azure)', async () => {
    const help = await runCli(['scale', '--help'], { env: {} });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('AWS, GCE and Azure (on Azure each agent gets a Standard public IP of its own, for SSH).');
    expect(help.stdout).not.toContain('exits 2 and changes nothing');
  });
});
