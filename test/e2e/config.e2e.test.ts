// `config` end to end: the real CLI process → moto for the cloud, and a test host with a real sshd
// standing in for the instance: the override file lives on its (bind-mounted) data disk, the saved
// chart and the size's values under /var/lib/sourcegraph-launch, and its stub systemctl replays
// the boot unit's reinstall (test/support/test-host/bin/systemctl). Runs inside the test network
// namespace (npm test).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { runCliInPty } from '../support/pty.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { createClientKey, startTestHost, type TestHost } from '../support/test-host.js';

const VERSION = '6.12.5040';
const PUBLISHED_AMI = 'ami-0a1b2c3d4e5f60718';
const HOST_ADDRESS = '10.200.121.2';
const REGION = ['--region', 'us-east-1'];

vi.setConfig({ testTimeout: 240_000 });

let moto: MotoServer;
let host: TestHost;
let keyDir: string;
let publicKeyPath: string;
let home: string;

const cli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
  runCli(args, { endpoint: moto.endpoint, home, ...opts, env: { SGL_TEST_POLL_MS: '200', ...opts.env } });
const overridePath = () => join(host.fsRoot, 'mnt', 'data', 'override.yaml');
const historyDir = () => join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'override-history');
const history = () => (existsSync(historyDir()) ? readdirSync(historyDir()).sort() : []);
const previous = () => history().filter((f) => !f.endsWith('-rolled-back.yaml'));
const rootScripts = () => host.execLog().filter((c) => c.includes('base64 -d | sudo sh')).length;

beforeAll(async () => {
  moto = await startMoto({ consoleOutput: () => host?.consoleOutput(), images: [{ id: PUBLISHED_AMI, name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  keyDir = mkdtempSync(join(tmpdir(), 'sgl-e2e-keys-'));
  const key = await createClientKey(keyDir);
  publicKeyPath = `${key.privateKeyPath}.pub`;
  host = await startTestHost({ address: HOST_ADDRESS, version: VERSION, authorizedKey: key.publicKey, healthzNotFoundCount: 0 });
  // What our image keeps on its root disk: the size's values and the saved chart (its values.yaml names the chart's top-level keys).
  const state = join(host.fsRoot, 'var', 'lib', 'sourcegraph-launch');
  mkdirSync(join(state, 'values'), { recursive: true });
  writeFileSync(join(state, 'values', 'S.yaml'), 'frontend:\n  replicaCount: 1\n  resources:\n    limits:\n      memory: 8G\ngitserver:\n  replicaCount: 1\n');
  // ...and the values every size shares: the stateful services pinned to the server.
  writeFileSync(join(state, 'values', 'common.yaml'), readFileSync(join(import.meta.dirname, '..', '..', 'presets', 'helm', 'common.yaml')));
  const chart = mkdtempSync(join(tmpdir(), 'sgl-chart-'));
  mkdirSync(join(chart, 'sourcegraph'));
  writeFileSync(join(chart, 'sourcegraph', 'values.yaml'), 'sourcegraph:\n  image: {}\nfrontend:\n  replicaCount: 2\ngitserver: {}\npgsql: {}\nexecutor: {}\nstorageClass: {}\n');
  mkdirSync(join(state, 'charts'), { recursive: true });
  execFileSync('tar', ['-czf', join(state, 'charts', `sourcegraph-${VERSION}.tgz`), '-C', chart, 'sourcegraph']);
  rmSync(chart, { recursive: true, force: true });
  mkdirSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch'), { recursive: true });
  writeFileSync(join(host.fsRoot, 'mnt', 'data', '.sourcegraph-launch', 'inherited-values.yaml'), 'gitserver:\n  replicaCount: 1\n');

  home = mkdtempSync(join(tmpdir(), 'sgl-e2e-home-'));
  const ec2 = motoEc2Client(moto);
  await allocateTestAddress(ec2, HOST_ADDRESS, { deployment: 'cfg' });
  const launch = await runCli(
    ['launch', 'cfg', ...REGION, '--size', 'S', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--ssh-key', publicKeyPath, '--ssh-user', 'root', '--hold-seconds', '1', '--json'],
    { endpoint: moto.endpoint, home, timeoutMs: 120_000 },
  );
  expect(launch.code, launch.stderr).toBe(0);
});

afterAll(async () => {
  await host?.stop();
  await moto?.stop();
  rmSync(keyDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('config with the real CLI', () => {
  it('show, set, edit --file, a refused file, a failed apply and rollback, each against the instance', async () => {
    // No override yet: show prints none and what Helm gets from the size and the volume.
    const shown = await cli(['config', 'show', 'cfg', ...REGION, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json()).toMatchObject({ action: 'show', override: null, changed: false, effective: { frontend: { replicaCount: 1, resources: { limits: { memory: '8G' } } }, gitserver: { replicaCount: 1, nodeSelector: { 'sourcegraph-launch/role': 'server' } }, pgsql: { nodeSelector: { 'sourcegraph-launch/role': 'server' } } } });
    expect(shown.json()).not.toHaveProperty('placementChanges');

    // set: one value, applied through the boot unit, the pods and /healthz.
    const set = await cli(['config', 'set', 'cfg', 'frontend.replicaCount=2', 'frontend.env.SRC_LOG_LEVEL.value=warn', ...REGION, '--yes', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json()).toMatchObject({ action: 'set', changed: true, applied: { version: VERSION }, effective: { frontend: { replicaCount: 2, env: { SRC_LOG_LEVEL: { value: 'warn' } } } } });
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 2\n  env:\n    SRC_LOG_LEVEL:\n      value: warn\n');
    expect(statSync(overridePath()).mode & 0o777).toBe(0o600);
    expect(history()).toEqual([]);
    expect(host.execLog()).toContainEqual(expect.stringContaining('sudo env "PATH=/usr/local/bin:$PATH" k3s kubectl get pods -A -o json'));
    expect(host.requests).toContain('/healthz');

    // The same value again: nothing to change, nothing restarted.
    const before = rootScripts();
    const same = await cli(['config', 'set', 'cfg', 'frontend.replicaCount=2', 'frontend.env.SRC_LOG_LEVEL.value=warn', ...REGION, '--yes']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout + same.stderr).toContain('nothing changed');
    expect(rootScripts() - before).toBe(1); // the read only: no write, no restart

    // A key the chart does not have: exit 2 naming the near one, and the file is untouched.
    const typo = await cli(['config', 'set', 'cfg', 'fronted.replicaCount=3', ...REGION, '--yes']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"fronted" (did you mean "frontend"?)');
    expect(readFileSync(overridePath(), 'utf8')).toContain('replicaCount: 2');
    // Not YAML: exit 2, untouched.
    const file = join(home, 'override.yaml');
    writeFileSync(file, 'frontend: [unclosed\n');
    const bad = await cli(['config', 'edit', 'cfg', '--file', file, ...REGION, '--yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not valid YAML');
    // Without --yes off a terminal: exit 2, nothing changed.
    writeFileSync(file, '# ours\nfrontend:\n  replicaCount: 3\n');
    const unconfirmed = await cli(['config', 'edit', 'cfg', '--file', file, ...REGION]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    expect(readFileSync(overridePath(), 'utf8')).toContain('replicaCount: 2');

    // edit --file: uploaded as it is (comments kept), the replaced file kept for rollback.
    const edited = await cli(['config', 'edit', 'cfg', '--file', file, ...REGION, '--yes', '--json']);
    expect(edited.code, edited.stderr).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toBe('# ours\nfrontend:\n  replicaCount: 3\n');
    expect(history()).toHaveLength(1);
    expect(edited.json<{ previousSavedAs: string }>().previousSavedAs).toBe(`/mnt/data/.sourcegraph-launch/override-history/${history()[0]}`);

    // An image without our boot unit (a published one): written, not applied, and told how to apply it.
    writeFileSync(file, '# sgl-test-no-boot-unit\nfrontend:\n  replicaCount: 5\n');
    const unapplied = await cli(['config', 'edit', 'cfg', '--file', file, ...REGION, '--yes']);
    expect(unapplied.code, unapplied.stderr).toBe(1);
    expect(unapplied.stderr).toContain('The new override.yaml is written but not applied');
    expect(unapplied.stderr).toContain('reboot the instance to apply it');
    expect(readFileSync(overridePath(), 'utf8')).toContain('replicaCount: 5');
    const undo = await cli(['config', 'rollback', 'cfg', ...REGION, '--yes']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toBe('# ours\nfrontend:\n  replicaCount: 3\n');
    expect(previous()).toHaveLength(1);

    // A file Helm refuses: the boot unit fails; exit 1 with its error and the rollback command.
    writeFileSync(file, '# sgl-test-helm-fails\nfrontend:\n  replicaCount: 4\n');
    const failed = await cli(['config', 'edit', 'cfg', '--file', file, ...REGION, '--yes']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('Applying the new values failed on cfg: helm upgrade --install sourcegraph failed');
    expect(failed.stderr).toContain('config rollback cfg');
    expect(previous()).toHaveLength(2);

    // rollback: the file before the failed one comes back and applies; the failed one is set aside.
    const rolled = await cli(['config', 'rollback', 'cfg', ...REGION, '--yes', '--json']);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toBe('# ours\nfrontend:\n  replicaCount: 3\n');
    expect(rolled.json()).toMatchObject({ action: 'rollback', changed: true, applied: { version: VERSION } });
    expect(history().filter((f) => f.endsWith('-rolled-back.yaml'))).toHaveLength(2);
    expect(previous()).toHaveLength(1);
    // Once more: back to the file `set` wrote.
    const again = await cli(['config', 'rollback', 'cfg', ...REGION, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toContain('SRC_LOG_LEVEL');
    const none = await cli(['config', 'rollback', 'cfg', ...REGION, '--yes']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no earlier override.yaml');
  });

  it('edit at a terminal opens $EDITOR on the current file, then asks before it applies', async () => {
    writeFileSync(overridePath(), '# at a terminal\nfrontend:\n  replicaCount: 1\n', { mode: 0o600 });
    const editor = join(home, 'editor.sh');
    // An editor that changes one value in the file it is given, as a user would.
    writeFileSync(editor, '#!/bin/sh\nsed -i "s/replicaCount: 1/replicaCount: 6/" "$1"\n', { mode: 0o755 });
    const run = runCliInPty(['config', 'edit', 'cfg', ...REGION], { endpoint: moto.endpoint, home, env: { EDITOR: editor, SGL_TEST_POLL_MS: '200' } });
    await run.waitFor(/replicaCount: 6[\s\S]*Upload it and apply it to cfg\?/);
    run.type('y\r');
    expect((await run.exited).code, run.screen()).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toBe('# at a terminal\nfrontend:\n  replicaCount: 6\n');
    expect(run.screen()).toMatch(/serves 6\.12\.5040 with the new values/);
  });

  it('warns when override.yaml moves a stateful service off the server, then applies it (the customer\'s own risk)', async () => {
    writeFileSync(overridePath(), 'frontend:\n  replicaCount: 1\n', { mode: 0o600 });
    const human = await cli(['config', 'show', 'cfg', ...REGION]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('What Helm gets (values/common.yaml, then values/S.yaml, then the volume\'s inherited-values.yaml, then override.yaml)');
    expect(human.stderr).not.toContain('stateful services');

    const moved = await cli(['config', 'set', 'cfg', 'pgsql.nodeSelector.sourcegraph-launch/role=agent', ...REGION, '--yes', '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toContain('override.yaml changes where stateful services run (at your own risk)');
    expect(moved.stderr).toContain('pgsql.nodeSelector: sourcegraph-launch/role=server -> sourcegraph-launch/role=agent');
    expect(moved.json()).toMatchObject({
      changed: true,
      placementChanges: [{ service: 'pgsql', before: { 'sourcegraph-launch/role': 'server' }, after: { 'sourcegraph-launch/role': 'agent' } }],
      effective: { pgsql: { nodeSelector: { 'sourcegraph-launch/role': 'agent' } }, gitserver: { nodeSelector: { 'sourcegraph-launch/role': 'server' } } },
    });
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 1\npgsql:\n  nodeSelector:\n    sourcegraph-launch/role: agent\n');
    // show says so as long as the file does.
    const shown = await cli(['config', 'show', 'cfg', ...REGION]);
    expect(shown.stderr).toContain('pgsql.nodeSelector: sourcegraph-launch/role=server -> sourcegraph-launch/role=agent');

    // Back to the file before: no warning.
    const back = await cli(['config', 'rollback', 'cfg', ...REGION, '--yes', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(readFileSync(overridePath(), 'utf8')).toBe('frontend:\n  replicaCount: 1\n');
    expect(back.json()).not.toHaveProperty('placementChanges');
    expect(back.stderr).not.toContain('stateful services');
  });

  it('refuses bad input before connecting (exit 2); a deployment that does not exist exits 1', async () => {
    const before = host.execLog().length;
    for (const args of [['config'], ['config', 'frob', 'cfg'], ['config', 'set', 'cfg'], ['config', 'show', 'cfg', 'a=1'], ['config', 'set', 'cfg', 'a..b=1'], ['config', 'set', 'cfg', '--timeout', '0', 'a=1'], ['config', 'show', 'cfg', '--file', 'x']]) {
      const r = await cli([...args, ...REGION]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    }
    // edit with no terminal and no --file: exit 2 naming both ways.
    const edit = await cli(['config', 'edit', 'cfg', ...REGION]);
    expect(edit.code).toBe(2);
    expect(edit.stderr).toContain('--file');
    expect(host.execLog().length).toBe(before);
    const missing = await cli(['config', 'show', 'nope', ...REGION]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No deployment named nope');
  });
});
