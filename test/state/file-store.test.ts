import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/core/errors.js';
import { FileStateStore, defaultStateHome } from '../../src/state/file-store.js';
import type { DeploymentRecord } from '../../src/state/store.js';

const home = () => mkdtempSync(join(tmpdir(), 'sgl-state-'));
const record = (name: string, region = 'us-east-1'): DeploymentRecord => ({
  name,
  cloud: 'aws',
  region,
  createdAt: '2026-11-25T00:00:00Z',
  updatedAt: '2026-11-25T00:00:00Z',
  instanceId: `i-${name}`,
});

describe('FileStateStore', () => {
  it('SOURCEGRAPH_LAUNCH_HOME relocates all state', () => {
    expect(defaultStateHome({ SOURCEGRAPH_LAUNCH_HOME: '/srv/sgl' })).toBe('/srv/sgl');
    if (process.platform === 'linux') expect(defaultStateHome({ XDG_CONFIG_HOME: '/x' })).toBe('/x/sourcegraph-launch');
  });

  it('keeps one 0600 file per deployment, lists and deletes them', () => {
    const h = home();
    const store = new FileStateStore(h);
    store.putDeployment(record('a'));
    store.putDeployment(record('b', 'eu-west-1'));
    store.putDeployment({ ...record('a'), version: '6.12.5040' });
    expect(store.getDeployment('aws', 'us-east-1', 'a')).toMatchObject({ instanceId: 'i-a', version: '6.12.5040' });
    expect(store.getDeployment('aws', 'us-east-1', 'b')).toBeUndefined();
    expect(store.listDeployments().map((r) => `${r.name}@${r.region}`)).toEqual(['a@us-east-1', 'b@eu-west-1']);
    const files = readdirSync(join(h, 'deployments'));
    expect(files.sort()).toEqual(['deployment-aws-eu-west-1-b.json', 'deployment-aws-us-east-1-a.json']);
    for (const f of files) expect(statSync(join(h, 'deployments', f)).mode & 0o777).toBe(0o600);
    store.deleteDeployment('aws', 'us-east-1', 'a');
    expect(store.listDeployments().map((r) => r.name)).toEqual(['b']);
  });

  it('writes whole files atomically and installs no signal handlers (a Ctrl-C is never re-raised)', () => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const before = signals.map((s) => process.listenerCount(s));
    const h = home();
    const store = new FileStateStore(h);
    for (let i = 0; i < 5; i++) store.putDeployment({ ...record('a'), version: `6.12.${i}` });
    store.setPreferences({ region: 'eu-west-1' });
    expect(signals.map((s) => process.listenerCount(s))).toEqual(before);
    // Only the finished files: no temporary file left beside them.
    expect(readdirSync(join(h, 'deployments'))).toEqual(['deployment-aws-us-east-1-a.json']);
    expect(readdirSync(h).sort()).toEqual(['deployments', 'preferences.json']);
    expect(statSync(join(h, 'preferences.json')).mode & 0o777).toBe(0o600);
    expect(store.getDeployment('aws', 'us-east-1', 'a')?.version).toBe('6.12.4');
  });

  it('reads the files earlier versions wrote (tab-indented { "record": … })', () => {
    const h = home();
    mkdirSync(join(h, 'deployments'));
    writeFileSync(join(h, 'deployments', 'deployment-aws-us-east-1-old.json'), JSON.stringify({ record: record('old') }, null, '\t'));
    writeFileSync(join(h, 'preferences.json'), JSON.stringify({ region: 'us-west-2', size: 'S' }, null, '\t'));
    const store = new FileStateStore(h);
    expect(store.getDeployment('aws', 'us-east-1', 'old')).toMatchObject({ instanceId: 'i-old' });
    expect(store.getPreference('size')).toBe('S');
    store.setPreferences({ size: 'M' });
    expect(store.getPreference('region')).toBe('us-west-2');
  });

  it('a corrupt record is ignored by list (the cloud is the source of truth)', () => {
    const h = home();
    const store = new FileStateStore(h);
    store.putDeployment(record('good'));
    writeFileSync(join(h, 'deployments', 'deployment-aws-us-east-1-bad.json'), '{not json');
    expect(store.listDeployments().map((r) => r.name)).toEqual(['good']);
  });

  it('saves and clears preferences', () => {
    const store = new FileStateStore(home());
    store.setPreferences({ region: 'eu-west-1', size: 'M' });
    expect(store.getPreference('region')).toBe('eu-west-1');
    store.setPreferences({ region: undefined });
    expect(store.getPreference('region')).toBeUndefined();
    expect(store.getPreference('size')).toBe('M');
  });

  it('the per-deployment lock excludes a live holder and takes over a dead one', () => {
    const h = home();
    const store = new FileStateStore(h);
    const lockDir = join(h, 'locks', 'aws-us-east-1-x.lock');
    const owner = (pid: number) => writeFileSync(join(lockDir, 'owner.json'), JSON.stringify({ pid, host: hostname(), token: `t${pid}`, since: 'then' }));
    // Another live process holds it: the parent of this test process.
    const other = new FileStateStore(h);
    mkdirSync(join(h, 'locks'), { recursive: true });
    mkdirSync(lockDir);
    owner(process.ppid);
    let error: LaunchError | undefined;
    try {
      other.lock('aws', 'us-east-1', 'x');
    } catch (e) {
      error = e as LaunchError;
    }
    expect(error?.code).toBe('locked');
    expect(error?.message).toContain(`pid ${process.ppid}`);
    expect(error?.remediation).toContain(lockDir);
    // A lock whose owner record is not written yet is being taken right now: held, not stale.
    rmSync(join(lockDir, 'owner.json'));
    expect(() => other.lock('aws', 'us-east-1', 'x')).toThrow(/taking it right now/);
    // A holder that died: its pid no longer exists.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    owner(dead);
    const again = other.lock('aws', 'us-east-1', 'x');
    expect(() => store.lock('aws', 'us-east-1', 'x')).toThrow(LaunchError);
    again();
    const release = store.lock('aws', 'us-east-1', 'x');
    // Different deployments never contend.
    store.lock('aws', 'us-east-1', 'y')();
    release();
  });
});
