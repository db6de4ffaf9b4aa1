// Workload identity federation end to end: the real CLI process with GOOGLE_APPLICATION_CREDENTIALS
// naming an `external_account` file (as google-github-actions/auth writes one), whose token_url and
// service_account_impersonation_url point at the GCE emulator's STS and IAM Credentials stand-ins.
// `doctor --cloud gcp` signs in through the whole exchange and every Compute call carries the
// impersonated token; a subject token the pool does not trust is exit 3 with the remediation.
// Nothing reaches Google (see gcp-lifecycle.e2e.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { FEDERATION_AUDIENCE, startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';

vi.setConfig({ testTimeout: 120_000 });

const SA = 'ci-deployer@sgl-test-project.iam.gserviceaccount.com';
let gce: GceEmulator;
let dir: string;
let subjectFile: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-gce-wif-'));
  gce = await startGceEmulator();
  subjectFile = join(dir, 'github-oidc-token.json');
  const credentials = join(dir, 'gha-creds.json');
  writeFileSync(
    credentials,
    JSON.stringify({
      type: 'external_account',
      audience: FEDERATION_AUDIENCE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${gce.endpoint}/v1/token`,
      service_account_impersonation_url: `${gce.endpoint}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`,
      credential_source: { file: subjectFile, format: { type: 'json', subject_token_field_name: 'value' } },
    }),
  );
  env = {
    GOOGLE_APPLICATION_CREDENTIALS: credentials,
    METADATA_SERVER_DETECTION: 'none',
    CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${gce.endpoint}/compute/v1/`,
    SGL_TEST_PUBLIC_IP: '203.0.113.7',
  };
});
afterAll(async () => {
  await gce?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  gce.reset();
  gce.control.federation.configure({ subjectTokens: ['gha-oidc-token'], serviceAccounts: [SA] });
});

interface Checked {
  checks: { id: string; status: string; detail: string; fix?: string }[];
}
const doctor = ['doctor', '--cloud', 'gcp', '--region', 'us-central1', '--size', 'S', '--version', '6.13.0', '--allow-cidr', '203.0.113.0/24', '--json'];

describe('workload identity federation with the real CLI', () => {
  it('doctor signs in as the impersonated service account; every Compute call carries its token', async () => {
    writeFileSync(subjectFile, JSON.stringify({ count: 1, value: 'gha-oidc-token' }));
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-wif-home-'));
    const run = await runCli([...doctor, '--project', gce.project], { env, home });
    const credentials = run.json<Checked>().checks.find((c) => c.id === 'credentials');
    expect(credentials, run.stderr).toMatchObject({ status: 'pass', detail: `${SA} (${gce.project})` });
    expect(gce.control.federation.exchanges.map((e) => [e.kind, e.status])).toEqual([
      ['sts', 200],
      ['impersonate', 200],
    ]);
    expect(gce.control.federation.exchanges[0]!.request.subject_token).toBe('gha-oidc-token');
    const tokens = new Set(gce.control.requests().map((r) => r.token));
    expect(tokens).toEqual(new Set(['ya29.impersonated-1']));
    rmSync(home, { recursive: true, force: true });
  });

  it('a subject token the pool does not trust is exit 3 naming the STS refusal and what to check', async () => {
    writeFileSync(subjectFile, JSON.stringify({ count: 1, value: 'expired-oidc-token' }));
    const home = mkdtempSync(join(tmpdir(), 'sgl-gce-wif-home-'));
    const run = await runCli([...doctor, '--project', gce.project], { env, home });
    expect(run.code, run.stdout + run.stderr).toBe(3);
    const credentials = run.json<Checked>().checks.find((c) => c.id === 'credentials')!;
    expect(credentials.status).toBe('fail');
    expect(credentials.detail).toContain("Security Token Service refused the subject token");
    expect(credentials.detail).toContain('invalid_grant');
    expect(credentials.fix).toContain('attribute condition');
    expect(gce.control.requests()).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });
});
