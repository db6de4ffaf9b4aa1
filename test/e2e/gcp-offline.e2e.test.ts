// `launch --dry-run --cloud gcp --image-source base` with no Google credentials at all, from the real
// CLI process inside the test's network namespace (nothing could be reached anyway): the plan and
// the Compute request bodies, the base image as Ubuntu's image family, which instances.insert
// resolves to the newest image itself when the VM is created.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { BASE_IMAGE_FAMILY, BASE_IMAGE_PROJECT } from '../../src/cloud/gcp/images.js';
import { DEAD_ENDPOINT, runCli } from '../support/cli.js';

vi.setConfig({ testTimeout: 60_000 });

// No credentials anywhere: no GOOGLE_APPLICATION_CREDENTIALS, an empty HOME (no gcloud ADC file),
// the metadata server ruled out, and gcloud not on PATH.
const env = { METADATA_SERVER_DETECTION: 'none', GOOGLE_APPLICATION_CREDENTIALS: undefined, AWS_ENDPOINT_URL: DEAD_ENDPOINT, PATH: '/usr/bin:/bin' };
const base = ['launch', 'offline', '--cloud', 'gcp', '--project', 'my-project', '--region', 'us-central1', '--version', '6.12.5040', '--allow-cidr', '203.0.113.0/24'];

describe('--cloud gcp without credentials', () => {
  it('--image-source base --dry-run: the plan and the real Compute request bodies, offline', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gcp-offline-'));
    try {
      const run = await runCli([...base, '--ssh-cidr', 'none', '--image-source', 'base', '--dry-run', '--json'], { home, env: { ...env, HOME: home } });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/No Google Cloud credentials found/);
      const out = run.json<{ plan: Record<string, { value: any; source: string }>; requests: { service: string; operation: string; input: { body?: any } }[] }>();
      expect(out.plan.cloud!.value).toBe('gcp');
      expect(out.plan.image!.value.id).toBe(`projects/${BASE_IMAGE_PROJECT}/global/images/family/${BASE_IMAGE_FAMILY}`);
      expect(out.requests.every((r) => r.service === 'compute')).toBe(true);
      const insert = out.requests.find((r) => r.operation === 'instances.insert')!;
      const [boot, data] = insert.input.body.disks;
      expect(boot.initializeParams.sourceImage).toBe(`projects/${BASE_IMAGE_PROJECT}/global/images/family/${BASE_IMAGE_FAMILY}`);
      // A blank data disk: first-boot provisioning formats it.
      expect(data.initializeParams.sourceSnapshot).toBeUndefined();
      const meta = Object.fromEntries((insert.input.body.metadata.items as { key: string; value: string }[]).map((i) => [i.key, i.value]));
      expect(meta['user-data-encoding']).toBe('base64');
      const raw = Buffer.from(meta['user-data']!, 'base64');
      const userData = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
      expect(userData.trimEnd().split('\n').at(-1)).toBe('exec /opt/sourcegraph-launch/bundle/provision/first-boot.sh --version 6.12.5040 --size XS --cloud gcp');
      // Priced offline from presets/gcp-prices.json.
      expect((out.plan.monthlyCost as unknown as { totalUsd: number }).totalUsd).toBeGreaterThan(300);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('--image-source build --dry-run still needs credentials (exit 3: whether an image was built is in the project)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-gcp-offline-'));
    try {
      const run = await runCli([...base, '--image-source', 'build', '--ssh-cidr', '203.0.113.7/32', '--dry-run', '--json'], { home, env: { ...env, HOME: home } });
      expect(run.code).toBe(3);
      expect(run.json()).toMatchObject({ error: { code: 'credentials', message: '--image-source build needs Google Compute Engine credentials, even for a dry run' } });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
