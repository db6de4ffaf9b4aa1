// Where a GCE launch's disks come from, with the real CLI on the GCE emulator (no test host: the
// launches here stop at --no-wait, so nothing is served and no address is needed):
//   - a built image keeps its prepared data disk as a snapshot; the dry run's instances.insert (and
//     its plan text) shows the data disk made from it, exactly as the real launch then sends it;
//   - a dry run that builds the image first names the data snapshot build-image will make;
//   - --image-source base: the boot disk from Ubuntu's image (images.getFromFamily), and the
//     instance metadata carries the first-boot user data that runs first-boot.sh --cloud gcp.
// Nothing reaches Google (see gcp-lifecycle.e2e.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { toEncodedLabels } from '../../src/core/labels.js';
import { runCli } from '../support/cli.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.13.0';
const REGION = 'us-central1';
const TEMPLATE = 'global/snapshots/sourcegraph-6-13-0-s-data';

vi.setConfig({ testTimeout: 150_000 });

let gce: GceEmulator;
let client: GceTestClient;
let dir: string;
let env: Record<string, string>;
let publicKeyPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-image-source-'));
  gce = await startGceEmulator();
  client = new GceTestClient(gce.endpoint, gce.project);
  publicKeyPath = join(dir, 'id.pub');
  writeFileSync(publicKeyPath, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkvFzLFcO0M2Zv2Z6bcPNf0YMRXJ7w5Uf6t4Yx1wBbU e2e\n');
  env = {
    ...gceCliEnv(gce, dir),
  };
});

afterAll(async () => {
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => gce.reset());

/** An image as build-image leaves one: the root image, labelled with its build, naming its data snapshot. */
async function builtImage(): Promise<string> {
  await client.mutate('POST', 'zones/us-central1-b/disks', { name: 'builder-data', sizeGb: '20', type: 'zones/us-central1-b/diskTypes/pd-ssd' });
  await client.mutate('POST', 'zones/us-central1-b/disks/builder-data/createSnapshot', { name: TEMPLATE.split('/').pop() });
  await client.mutate('DELETE', 'zones/us-central1-b/disks/builder-data');
  await client.mutate('POST', 'global/images', {
    name: 'sourcegraph-6-13-0-s',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    description: `Sourcegraph ${VERSION} (S) data-template=${TEMPLATE}`,
    labels: toEncodedLabels({ build: `${VERSION}-s`, version: VERSION, size: 'S', role: 'image' }),
  });
  return `projects/${gce.project}/global/images/sourcegraph-6-13-0-s`;
}

const base = (name: string, extra: string[]) => [
  'launch', '--cloud', 'gcp', '--project', gce.project, '--region', REGION, '--version', VERSION, '--size', 'S',
  '--allow-cidr', '203.0.113.0/24', '--ssh-key', publicKeyPath, '--address', 'none', '--name', name, ...extra,
];
type Requests = { requests: { operation: string; input: Record<string, any> }[]; plan: Record<string, any> };
const insertOf = (out: Requests) => out.requests.find((r) => r.operation === 'instances.insert')!.input.body;
const sentInsert = () => gce.control.requests().find((r) => r.route === 'instances.insert' && r.status === 200)!.body as Record<string, any>;
const dataDisk = (body: Record<string, any>) => body.disks.find((d: Record<string, any>) => d.deviceName === 'sourcegraph-data');

describe('GCE launch: the data disk of a built image, in the dry run and the launch', () => {
  it('--image of a built image: the dry run (JSON and plan text) shows the data disk from its snapshot, and the launch sends exactly that', async () => {
    const image = await builtImage();
    const home = mkdtempSync(join(dir, 'home-'));
    const args = base('built', ['--image', image, '--ssh-cidr', 'none']);
    const dry = await runCli([...args, '--dry-run', '--json'], { env, home });
    expect(dry.code, dry.stderr).toBe(0);
    const planned = dataDisk(insertOf(dry.json<Requests>()));
    expect(planned.initializeParams.sourceSnapshot).toBe(TEMPLATE);
    expect(dry.json<Requests>().plan.image.value.dataTemplateId).toBe(TEMPLATE);

    const text = await runCli([...args, '--dry-run'], { env, home });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout + text.stderr).toMatch(/data volume .*made from global\/snapshots\/sourcegraph-6-13-0-s-data \(the image's prepared data disk\)/);
    expect(text.stdout + text.stderr).toContain(`"sourceSnapshot": "${TEMPLATE}"`);

    const launched = await runCli([...args, '--no-wait', '--json'], { env, home, timeoutMs: 120_000 });
    expect(launched.code, launched.stderr).toBe(0);
    const sent = dataDisk(sentInsert());
    expect(sent.initializeParams.sourceSnapshot).toBe(planned.initializeParams.sourceSnapshot);
    // The data disk as a whole matches the plan, but for its name (per run) and its labels (the dry
    // run does not label the key fingerprint).
    const same = (p: Record<string, unknown>) => ({ ...p, diskName: undefined, labels: undefined });
    expect(same(sent.initializeParams)).toEqual(same(planned.initializeParams));
  });

  it('--image-source build with no built image yet: the dry run names the data snapshot build-image will make', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const dry = await runCli([...base('first', ['--image-source', 'build', '--ssh-cidr', '203.0.113.7/32']), '--dry-run', '--json'], { env, home });
    expect(dry.code, dry.stderr).toBe(0);
    const body = insertOf(dry.json<Requests>());
    expect(body.disks[0].initializeParams.sourceImage).toBe('<ImageId from build-image>');
    expect(dataDisk(body).initializeParams.sourceSnapshot).toBe('<data snapshot from build-image>');
    expect(dry.stderr).toContain('build-image runs first');
  });

  it('offline (no credentials) with --image: the dry run says the data snapshot was not looked up', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const offline = { METADATA_SERVER_DETECTION: 'none', CLOUDSDK_CONFIG: join(dir, 'no-gcloud'), CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: 'http://127.0.0.1:9/compute/v1/' };
    const dry = await runCli([...base('offline', ['--image', `projects/${gce.project}/global/images/anything`, '--ssh-cidr', 'none', '--zone', 'us-central1-b']), '--dry-run', '--json'], { env: offline, home });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dataDisk(insertOf(dry.json<Requests>())).initializeParams.sourceSnapshot).toBeUndefined();
    expect(dry.stderr).toContain('has a prepared data disk was not looked up');
  });
});

describe('GCE launch --image-source base', () => {
  it("boots Ubuntu's newest image of the family and carries the first-boot user data (first-boot.sh --cloud gcp) in the metadata", async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const launched = await runCli([...base('plain', ['--image-source', 'base', '--ssh-cidr', 'none']), '--no-wait', '--json'], { env, home, timeoutMs: 120_000 });
    expect(launched.code, launched.stderr).toBe(0);
    const body = sentInsert();
    // images.getFromFamily resolved the family to its newest image; the boot disk is made from it.
    expect(body.disks[0].initializeParams.sourceImage).toBe('projects/ubuntu-os-cloud/global/images/ubuntu-2404-noble-amd64-v20250530');
    // A plain OS has no prepared data disk: the data disk starts blank and first-boot.sh formats it.
    expect(dataDisk(body)).toMatchObject({ deviceName: 'sourcegraph-data', autoDelete: false });
    expect(dataDisk(body).initializeParams.sourceSnapshot).toBeUndefined();

    const [vm] = (await Promise.all(['a', 'b', 'c', 'f'].map((z) => client.get<{ items?: Record<string, any>[] }>(`zones/${REGION}-${z}/instances`)))).flatMap((r) => r.body.items ?? []);
    const meta = Object.fromEntries(vm!.metadata.items.map((i: { key: string; value: string }) => [i.key, i.value]));
    // cloud-init's GCE datasource decodes user-data-encoding: base64; the gzip it detects itself.
    expect(meta['user-data-encoding']).toBe('base64');
    const script = gunzipSync(Buffer.from(meta['user-data'], 'base64')).toString('utf8');
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toMatch(new RegExp(`exec /opt/sourcegraph-launch/bundle/provision/first-boot\\.sh --version ${VERSION.replace(/\./g, '\\.')} --size S --cloud gcp\\n`));
    expect(script).toContain('Ubuntu');
    // Every script first-boot.sh runs is in the bundle the instance checks before running it.
    for (const file of ['provision/first-boot.sh', 'provision/build.sh', 'provision/detect-data-disk.sh', 'provision/setup-data-disk.sh']) expect(script).toMatch(new RegExp(`[0-9a-f]{64}  ${file}\\n`));
    expect(launched.json<Record<string, any>>()).toMatchObject({ name: 'plain', version: VERSION });
  });
});
