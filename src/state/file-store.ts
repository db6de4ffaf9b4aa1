// StateStore on plain JSON files: one small file per deployment (so two launches of different
// deployments never overwrite each other's record) plus one for preferences, all under one home
// directory that SOURCEGRAPH_LAUNCH_HOME relocates. Files are 0600: records name private key paths.
//
// Written here rather than with a config library on purpose: `conf`'s atomic writer hooks SIGINT
// and re-raises it after its own cleanup, so one Ctrl-C arrived twice and a real second Ctrl-C
// could not be told from the echo. Each write below is synchronous (no signal handler runs in the
// middle of it) and atomic (a temporary file renamed over the old one), so there is nothing to
// clean up when the process is interrupted, and no handler to install.
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { LaunchError, ExitCode } from '../core/errors.js';
import { tryLock } from './file-lock.js';
import { readJsonObject, writeJsonAtomic } from './json-file.js';
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

export class FileStateStore implements StateStore {
  readonly home: string;
  readonly keysDir: string;
  readonly knownHostsPath: string;
  private readonly deploymentsDir: string;
  private readonly locksDir: string;
  private readonly preferencesPath: string;

  constructor(home: string = defaultStateHome()) {
    this.home = home;
    this.keysDir = join(home, 'keys');
    this.knownHostsPath = join(home, 'known-hosts.json');
    this.deploymentsDir = join(home, 'deployments');
    this.locksDir = join(home, 'locks');
    this.preferencesPath = join(home, 'preferences.json');
    mkdirSync(home, { recursive: true, mode: 0o700 });
  }

  /** deployments/deployment-<cloud>-<region>-<name>.json holding `{ "record": … }`. */
  private deploymentPath(cloud: string, region: string, name: string): string {
    return join(this.deploymentsDir, `${DEPLOYMENT_PREFIX}${deploymentKey(cloud, region, name)}.json`);
  }

  getDeployment(cloud: string, region: string, name: string): DeploymentRecord | undefined {
    return readJsonObject(this.deploymentPath(cloud, region, name))?.record as DeploymentRecord | undefined;
  }

  putDeployment(record: DeploymentRecord): void {
    writeJsonAtomic(this.deploymentPath(record.cloud, record.region, record.name), {
      record: { ...record, updatedAt: new Date().toISOString() },
    });
  }

  deleteDeployment(cloud: string, region: string, name: string): void {
    rmSync(this.deploymentPath(cloud, region, name), { force: true });
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

  getPreference(key: string): string | undefined {
    const value = readJsonObject(this.preferencesPath)?.[key];
    return typeof value === 'string' ? value : undefined;
  }

  setPreferences(values: Record<string, string | undefined>): void {
    const prefs = readJsonObject(this.preferencesPath) ?? {};
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete prefs[k];
      else prefs[k] = v;
    }
    writeJsonAtomic(this.preferencesPath, prefs);
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
