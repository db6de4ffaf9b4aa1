// StateStore on `conf`: one small JSON file per deployment (so two launches of different
// deployments never overwrite each other's record) plus one for preferences, all under one home
// directory that SOURCEGRAPH_LAUNCH_HOME relocates. Files are 0600: records name private key paths.
import Conf from 'conf';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { LaunchError, ExitCode } from '../core/errors.js';
import { tryLock } from './file-lock.js';
import type { DeploymentRecord, StateStore } from './store.js';

export function defaultStateHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SOURCEGRAPH_LAUNCH_HOME) return env.SOURCEGRAPH_LAUNCH_HOME;
  const home = homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'sourcegraph-launch');
  if (process.platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'sourcegraph-launch');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'sourcegraph-launch');
}

const DEPLOYMENT_PREFIX = 'deployment-';

function deploymentKey(cloud: string, region: string, name: string): string {
  return `${cloud}-${region}-${name}`;
}

export class ConfStateStore implements StateStore {
  readonly home: string;
  readonly keysDir: string;
  readonly knownHostsPath: string;
  private readonly deploymentsDir: string;
  private readonly locksDir: string;
  private prefs?: Conf<Record<string, string>>;

  constructor(home: string = defaultStateHome()) {
    this.home = home;
    this.keysDir = join(home, 'keys');
    this.knownHostsPath = join(home, 'known-hosts.json');
    this.deploymentsDir = join(home, 'deployments');
    this.locksDir = join(home, 'locks');
    mkdirSync(home, { recursive: true, mode: 0o700 });
  }

  private deploymentConf(key: string): Conf<{ record?: DeploymentRecord }> {
    return new Conf<{ record?: DeploymentRecord }>({
      cwd: this.deploymentsDir,
      configName: `${DEPLOYMENT_PREFIX}${key}`,
      projectSuffix: '',
      accessPropertiesByDotNotation: false,
      configFileMode: 0o600,
    });
  }

  getDeployment(cloud: string, region: string, name: string): DeploymentRecord | undefined {
    return this.deploymentConf(deploymentKey(cloud, region, name)).get('record');
  }

  putDeployment(record: DeploymentRecord): void {
    const conf = this.deploymentConf(deploymentKey(record.cloud, record.region, record.name));
    conf.set('record', { ...record, updatedAt: new Date().toISOString() });
  }

  deleteDeployment(cloud: string, region: string, name: string): void {
    rmSync(this.deploymentConf(deploymentKey(cloud, region, name)).path, { force: true });
  }

  listDeployments(): DeploymentRecord[] {
    let files: string[];
    try {
      files = readdirSync(this.deploymentsDir);
    } catch {
      return [];
    }
    const out: DeploymentRecord[] = [];
    for (const f of files) {
      if (!f.startsWith(DEPLOYMENT_PREFIX) || !f.endsWith('.json')) continue;
      try {
        const parsed = JSON.parse(readFileSync(join(this.deploymentsDir, f), 'utf8')) as { record?: DeploymentRecord };
        if (parsed.record) out.push(parsed.record);
      } catch {
        // A corrupt cache file is not fatal: the cloud is the source of truth.
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private preferences(): Conf<Record<string, string>> {
    this.prefs ??= new Conf<Record<string, string>>({
      cwd: this.home,
      configName: 'preferences',
      projectSuffix: '',
      accessPropertiesByDotNotation: false,
      configFileMode: 0o600,
    });
    return this.prefs;
  }

  getPreference(key: string): string | undefined {
    return this.preferences().get(key);
  }

  setPreferences(values: Record<string, string | undefined>): void {
    const prefs = this.preferences();
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) prefs.delete(k);
      else prefs.set(k, v);
    }
  }

  lock(cloud: string, region: string, name: string): () => void {
    mkdirSync(this.locksDir, { recursive: true, mode: 0o700 });
    const path = join(this.locksDir, `${deploymentKey(cloud, region, name)}.lock`);
    const taken = tryLock(path);
    if (taken.ok) return taken.release;
    const who = taken.owner ? `pid ${taken.owner.pid}${taken.owner.host !== hostname() ? ` on ${taken.owner.host}` : ''}, since ${taken.owner.since}` : 'a process that is taking it right now';
    throw new LaunchError('locked', ExitCode.failed, `Deployment ${name} (${cloud} ${region}) is in use by another sourcegraph-launch process (${who})`, {
      remediation: `Wait for it to finish, or stop it. If no such process exists, remove ${path}`,
      details: { lock: path, owner: taken.owner },
    });
  }
}
