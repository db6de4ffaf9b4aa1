// The launch wizard on gcp and azure, at a real terminal (test/support/pty.ts) with the real CLI:
// it asks only for the cloud's own scope that nothing else gives (GCE: the project unless
// GOOGLE_CLOUD_PROJECT or the gcloud configuration names one; Azure: the subscription unless
// AZURE_SUBSCRIPTION_ID or the Azure CLI names one, and the resource group with its default
// sourcegraph-<name>), and
// the answers act as the flags would: the equivalent command for CI repeats them. Dry runs without
// credentials, so nothing can be created (and the test's network namespace reaches nothing).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCliInPty } from '../support/pty.js';

vi.setConfig({ testTimeout: 90_000 });

const dirs: string[] = [];
const newDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sgl-wizard-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** No credentials and no configuration of either cloud's CLI (an empty gcloud config dir; no AZURE_*; `az` is not on PATH). */
const noClouds = (extra: Record<string, string> = {}) => ({
  CLOUDSDK_CONFIG: newDir(),
  AZURE_CONFIG_DIR: newDir(),
  PATH: '/usr/bin:/bin',
  AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:9',
  AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9',
  CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: 'http://127.0.0.1:9/compute/v1/',
  ...extra,
});

const gcpArgs = ['launch', 'wiz', '--cloud', 'gcp', '--region', 'us-central1', '--size', 'XS', '--version', '6.13.0', '--image', 'projects/img-project/global/images/sourcegraph-6-13-0', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run'];
const azureArgs = ['launch', 'wiz', '--cloud', 'azure', '--region', 'eastus', '--size', 'XS', '--version', '6.12.5040', '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run'];
const SUBSCRIPTION = '11111111-2222-4333-8444-555555555555';

describe('the launch wizard asks only for the scope that is missing', () => {
  it('gcp without a project anywhere: asks for it; the answer is the --project of the plan', async () => {
    const pty = runCliInPty(gcpArgs, { home: newDir(), env: noClouds() });
    await pty.waitFor(/Google Cloud project id \(none is set in GOOGLE_CLOUD_PROJECT or the gcloud configuration\)/);
    pty.type('wiz-project-7\r');
    const { code } = await pty.exited;
    const screen = pty.screen();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/sourcegraph-launch launch --yes --cloud gcp --region us-central1 .*--project wiz-project-7/);
  });

  it('gcp with GOOGLE_CLOUD_PROJECT: no question', async () => {
    const pty = runCliInPty(gcpArgs, { home: newDir(), env: noClouds({ GOOGLE_CLOUD_PROJECT: 'from-env-1' }) });
    const { code } = await pty.exited;
    const screen = pty.screen();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/Equivalent command for CI/);
    expect(screen).not.toMatch(/Google Cloud project id/);
  });

  it('azure without a subscription anywhere: asks for it, then the resource group (default sourcegraph-<name>); both in the plan', async () => {
    const pty = runCliInPty(azureArgs, { home: newDir(), env: noClouds() });
    await pty.waitFor(/Azure subscription id \(none is set in AZURE_SUBSCRIPTION_ID or the Azure CLI\)/);
    pty.type('not-a-guid\r');
    // A bad answer is refused by the flag's own check, and asked again.
    await pty.waitFor(/--subscription: "not-a-guid" is not valid/);
    pty.type('\x7f'.repeat('not-a-guid'.length) + `${SUBSCRIPTION}\r`);
    await pty.waitFor(/Resource group \(created and tagged if it does not exist\) \(sourcegraph-wiz\)/);
    pty.type('wiz-group\r');
    const { code } = await pty.exited;
    const screen = pty.screen();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(new RegExp(`sourcegraph-launch launch --yes --cloud azure --region eastus .*--subscription ${SUBSCRIPTION} --resource-group wiz-group`));
  });

  it('azure with AZURE_SUBSCRIPTION_ID and --resource-group: no question', async () => {
    const pty = runCliInPty([...azureArgs, '--resource-group', 'given-group'], { home: newDir(), env: noClouds({ AZURE_SUBSCRIPTION_ID: SUBSCRIPTION }) });
    const { code } = await pty.exited;
    const screen = pty.screen();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/Equivalent command for CI:\s+sourcegraph-launch launch --yes --cloud azure .*--resource-group given-group/);
    expect(screen).not.toMatch(/Azure subscription id|Resource group \(/);
  });
});
