// The real CLI against moto, for the promises every command keeps the same way: one way to name a
// deployment (`[name]` or --name), the exit code of a deployment that does not exist, what `list`
// shows as the version, and what answering no means at a real terminal (exit 1, "nothing changed";
// 130 is Ctrl-C only). moto instances' addresses are never contacted: --no-probe / --no-wait /
// --elastic-ip none throughout.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { runCliInPty } from '../support/pty.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f6071d';

vi.setConfig({ testTimeout: 120_000 });

let moto: MotoServer;
let ec2: EC2Client;
let liveInstances: ReturnType<typeof deploymentResources>['liveInstances'];
let groups: ReturnType<typeof deploymentResources>['groups'];

const newHome = () => mkdtempSync(join(tmpdir(), 'sgl-contract-'));
const cli = (args: string[], home = newHome()) => runCli(args, { endpoint: moto.endpoint, home });

/** Every flag launch needs, so that on a terminal the only question left is the confirmation. */
const launchFlags = ['--cloud', 'aws', '--region', 'us-east-1', '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--elastic-ip', 'none', '--no-wait'];

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto);
  ({ liveInstances, groups } = deploymentResources(ec2));
  // `launch [name]`: the positional names the deployment, as on every other command.
  const launched = await cli(['launch', 'named', ...launchFlags, '--yes', '--json']);
  expect(launched.code, launched.stderr).toBe(0);
  expect(launched.json()).toMatchObject({ name: 'named' });
});

afterAll(async () => moto?.stop());

describe('one way to name a deployment: [name] or --name', () => {
  it.each([
    ['status', ['status', 'named', '--no-probe']],
    ['status', ['status', '--name', 'named', '--no-probe']],
    ['status', ['status', 'named', '--name', 'named', '--no-probe']],
    ['backups', ['backups', '--name', 'named']],
    ['destroy', ['destroy', '--name', 'named', '--dry-run']],
  ])('%s: %j acts on "named"', async (_cmd, args) => {
    const r = await cli([...args, '--region', 'us-east-1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ name: 'named' });
  });

  it('restore [name] --snapshot: the name is where it restores to, given either way', async () => {
    const backup = await cli(['backup', '--name', 'named', '--region', 'us-east-1', '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    const { snapshotId } = backup.json<{ snapshotId: string }>();
    for (const args of [['restore', 'copy'], ['restore', '--name', 'copy'], ['restore', 'copy', '--name', 'copy']]) {
      const r = await cli([...args, '--snapshot', snapshotId, '--region', 'us-east-1', '--dry-run', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ name: 'copy', dryRun: true });
    }
  });
});

describe('a deployment that does not exist', () => {
  it('destroy exits 1 like status, naming it; --ignore-missing exits 0', async () => {
    const status = await cli(['status', 'ghost', '--region', 'us-east-1', '--json']);
    expect(status.code).toBe(1);
    expect(status.json()).toMatchObject({ error: { code: 'deployment-not-found', exitCode: 1 } });

    const destroy = await cli(['destroy', 'ghost', '--region', 'us-east-1', '--yes', '--json']);
    expect(destroy.code).toBe(1);
    expect(destroy.json()).toMatchObject({ error: { code: 'deployment-not-found', exitCode: 1, message: 'No deployment named ghost in aws us-east-1' } });
    const human = await cli(['destroy', 'ghost', '--region', 'us-east-1', '--yes']);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/error: No deployment named ghost in aws us-east-1/);
    expect(human.stderr).toMatch(/--ignore-missing/);

    const ignored = await cli(['destroy', 'ghost', '--region', 'us-east-1', '--yes', '--ignore-missing', '--json']);
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(ignored.json()).toMatchObject({ name: 'ghost', deleted: [], message: 'not found' });
  });
});

describe('list', () => {
  it('--no-probe shows the tag, marked as such, and says it did not ask', async () => {
    const r = await cli(['list', '--region', 'us-east-1', '--no-probe']);
    expect(r.code, r.stderr).toBe(0);
    const [head, ...rows] = r.stdout.trim().split('\n');
    expect(head!.split(/\s{2,}/)).toEqual(['NAME', 'REGION', 'STATE', 'VERSION', 'HEALTH', 'SIZE', 'URL']);
    const named = rows.map((l) => l.split(/\s{2,}/)).find((c) => c[0] === 'named')!;
    expect(named.slice(0, 6)).toEqual(['named', 'us-east-1', 'running', `${VERSION} (tag)`, 'not probed', 'S']);
    const j = await cli(['list', '--region', 'us-east-1', '--no-probe', '--json']);
    expect(j.json<{ deployments: unknown[] }>().deployments).toContainEqual(
      expect.objectContaining({ name: 'named', version: VERSION, versionSource: 'tag', health: 'not-probed', versionTag: VERSION }),
    );
  });
});

describe('at a real terminal', () => {
  it('launch: unrecognised text asks again; "n" creates nothing and exits 1 with "nothing changed", not an error', async () => {
    const pty = runCliInPty(['launch', 'asked', ...launchFlags], { endpoint: moto.endpoint, home: newHome() });
    await pty.waitFor(/Launch asked in us-east-1\? \(Y\/n\)/);
    pty.type('wiztest\r');
    await pty.waitFor(/Please answer y or n/);
    pty.type('n\r');
    const { code } = await pty.exited;
    const screen = pty.screen();
    expect(code, screen).toBe(1);
    expect(screen).toMatch(/nothing changed/);
    expect(screen).not.toMatch(/error:/);
    expect(await liveInstances('asked')).toEqual([]);
    expect(await groups('asked')).toEqual([]);
  });

  it('destroy: a wrong name changes nothing and exits 1; Ctrl-C at the question exits 130', async () => {
    const wrong = runCliInPty(['destroy', 'named', '--region', 'us-east-1'], { endpoint: moto.endpoint, home: newHome() });
    await wrong.waitFor(/Type the deployment name \(named\) to confirm/);
    wrong.type('name\r');
    const declined = await wrong.exited;
    expect(declined.code, wrong.screen()).toBe(1);
    expect(wrong.screen()).toMatch(/The name did not match .*: nothing changed/);
    expect(wrong.screen()).not.toMatch(/error:/);
    expect(await liveInstances('named')).toHaveLength(1);

    const interrupted = runCliInPty(['destroy', 'named', '--region', 'us-east-1'], { endpoint: moto.endpoint, home: newHome() });
    await interrupted.waitFor(/Type the deployment name \(named\) to confirm/);
    interrupted.type('\x03');
    expect((await interrupted.exited).code, interrupted.screen()).toBe(130);
    expect(await liveInstances('named')).toHaveLength(1);
  });

  it('--json: answering no is {"error": {"code": "declined", "exitCode": 1}} on stdout', async () => {
    const pty = runCliInPty(['launch', 'asked', ...launchFlags, '--json'], { endpoint: moto.endpoint, home: newHome() });
    await pty.waitFor(/Launch asked in us-east-1\? \(Y\/n\)/);
    pty.type('no\r');
    expect((await pty.exited).code, pty.screen()).toBe(1);
    // On a terminal stdout and stderr share the screen: cut the JSON object out of it.
    const screen = pty.screen();
    const start = screen.lastIndexOf('{\r\n  "error"');
    const json = screen.slice(start, screen.indexOf('\r\n}', start) + 3);
    expect(JSON.parse(json.replace(/\r\n/g, '\n'))).toMatchObject({ error: { code: 'declined', exitCode: 1, message: expect.stringMatching(/nothing changed/) } });
  });
});
