import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/core/errors.js';
import { ConfStateStore, defaultStateHome } from '../../src/state/conf-store.js';
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

describe('ConfStateStore', () => {
  it('SOURCEGRAPH_LAUNCH_HOME relocates all state', () => {
    expect(defaultStateHome({ SOURCEGRAPH_LAUNCH_HOME: '/srv/sgl' })).toBe('/srv/sgl');
    if (process.platform === 'linux') expect(defaultStateHome({ XDG_CONFIG_HOME: '/x' })).toBe('/x/sourcegraph-launch');
  });

  it('keeps one 0600 file per deployment, lists and deletes them', () => {
    const h = home();
    const store = new ConfStateStore(h);
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

  it('a corrupt record is ignored by list (the cloud is the source of truth)', () => {
    const h = home();
    const store = new ConfStateStore(h);
    store.putDeployment(record('good'));
    writeFileSync(join(h, 'deployments', 'deployment-aws-us-east-1-bad.json'), '{not json');
    expect(store.listDeployments().map((r) => r.name)).toEqual(['good']);
  });

  it('saves and clears preferences', () => {
    const store = new ConfStateStore(home());
    store.setPreferences({ region: 'eu-west-1', size: 'M' });
    expect(store.getPreference('region')).toBe('eu-west-1');
    store.setPreferences({ region: undefined });
    expect(store.getPreference('region')).toBeUndefined();
    expect(store.getPreference('size')).toBe('M');
  });

  it('the per-deployment lock excludes a live holder and takes over a dead one', () => {
    const h = home();
    const store = new ConfStateStore(h);
    const lockDir = join(h, 'locks', 'aws-us-east-1-x.lock');
    const owner = (pid: number) => writeFileSync(join(lockDir, 'owner.json'), JSON.stringify({ pid, host: hostname(), token: `t${pid}`, since: 'then' }));
    // Another live process holds it: the parent of this test process.
    const other = new ConfStateStore(h);
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
