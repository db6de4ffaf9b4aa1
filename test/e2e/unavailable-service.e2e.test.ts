// A service the endpoint does not offer: moto has no Data Lifecycle Manager and answers its calls
// with an HTML error page. The real CLI says which service is missing at which endpoint and what it
// skipped, instead of the SDK's JSON parser error.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60718', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

describe('an endpoint without Data Lifecycle Manager', () => {
  it('destroy names the missing service and endpoint and what it skipped, then deletes the rest', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-nodlm-'));
    const launch = await runCli(
      ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--name', 'nodlm', '--no-wait', '--elastic-ip', 'none'],
      { endpoint: moto.endpoint, home },
    );
    expect(launch.code, launch.stderr).toBe(0);

    const destroy = await runCli(['destroy', 'nodlm', '--region', 'us-east-1', '--yes'], { endpoint: moto.endpoint, home });
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(destroy.stderr).toContain(
      `Skipped looking for a daily snapshot policy: Data Lifecycle Manager (DLM) is not available at ${moto.endpoint}: dlm:GetLifecyclePolicies was answered with HTTP`,
    );
    expect(destroy.stderr).toContain('If one exists, it is left in place.');
    expect(destroy.stderr + destroy.stdout).not.toMatch(/SyntaxError|Unexpected token/);
    expect(destroy.stdout).toMatch(/terminate instance\s+i-/);
  });

  it('launch --schedule daily stops with the same message before waiting on anything else', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-nodlm-'));
    const launch = await runCli(
      ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--name', 'sched', '--no-wait', '--elastic-ip', 'none', '--schedule', 'daily', '--json'],
      { endpoint: moto.endpoint, home },
    );
    expect(launch.code).toBe(1);
    expect(launch.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'service-unavailable',
      message: expect.stringContaining(`Data Lifecycle Manager (DLM) is not available at ${moto.endpoint}`),
    });
    expect(launch.stderr).not.toMatch(/SyntaxError|Unexpected token/);
  });
});
