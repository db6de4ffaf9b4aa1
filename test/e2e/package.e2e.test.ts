// The published artefact: `npm pack`, install the tarball with production dependencies only (as
// `npx ./sourcegraph-launch-*.tgz` does), and run it (AWS on moto, GCE on the Compute emulator) under every Node major users run: the
// machine's (20, the minimum), 22 and 24 (installed from the npm registry by scripts/test-nodes.sh
// before the test network namespace; a missing one fails here, it is not skipped). Also a clean
// clone: the README's `npm ci && node bin/sourcegraph-launch.js …` with no install script of ours.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, cliEnv } from '../support/cli.js';
import { allocateTestAddress, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';
import { GceTestClient } from '../support/gce-emulator/client.js';
import { startGceEmulator, type GceEmulator } from '../support/gce-emulator/index.js';
import { encodeLabelValue } from '../../src/core/labels.js';
import { gceCliEnv } from '../support/gce-emulator/cli-env.js';

const VERSION = '6.12.5040';
/** npm lifecycle scripts that run when a package is installed (npm 11 warns about each). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'preprepare', 'prepare', 'postprepare'];

let work: string;
let tarball: string;
let files: string[];
let install: { status: number | null; stdout: string; stderr: string };
let bin: string;

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? dirSize(p) : statSync(p).size);
  }, 0);
}

function nodeBinary(major: number): string {
  if (major === 20) return process.execPath;
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  return join(ROOT, '.cache', 'node', String(major), 'node_modules', `node-linux-${arch}`, 'bin', 'node');
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sgl-pack-'));
  // dist/ was built by `npm test`; --ignore-scripts keeps prepack from rebuilding it under other tests.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
  execFileSync('npm', ['init', '-y'], { cwd: work, stdio: 'ignore' });
  install = spawnSync('npm', ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', tarball], { cwd: work, encoding: 'utf8' });
  bin = join(work, 'node_modules', 'sourcegraph-launch', 'bin', 'sourcegraph-launch.js');
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships the bundle, presets and provision scripts, and no sources or tests', () => {
    expect(files).toContain('bin/sourcegraph-launch.js');
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('presets/sizes.json');
    expect(files).toContain('presets/aws-published-amis.json');
    expect(files.some((f) => f.startsWith('provision/'))).toBe(true);
    expect(files.filter((f) => /^(src|test|scripts|node_modules)\//.test(f))).toEqual([]);
  });

  it('has no install-time scripts and installs with npm 11 without a single warning', () => {
    const npmMajor = Number(execFileSync('npm', ['--version'], { encoding: 'utf8' }).split('.')[0]);
    // npm 11 is the one that warns about install scripts: on an older npm this check would prove nothing.
    expect(npmMajor).toBeGreaterThanOrEqual(11);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as { scripts?: Record<string, string> };
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => INSTALL_SCRIPTS.includes(s))).toEqual([]);
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/warn/i);
    expect(install.stdout).not.toMatch(/warn/i);
  });

  it('installs with no runtime dependencies, well under the 60 MB budget', () => {
    const installed = readdirSync(join(work, 'node_modules'));
    expect(installed.filter((n) => !n.startsWith('.'))).toEqual(['sourcegraph-launch']);
    expect(dirSize(join(work, 'node_modules')) / 1e6).toBeLessThan(60);
  });

  it('a clean clone runs the README command: `npm ci && node bin/sourcegraph-launch.js …` builds dist/ on first use', () => {
    const clone = mkdtempSync(join(tmpdir(), 'sgl-clone-'));
    try {
      const tracked = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
      for (const f of tracked) {
        if (!existsSync(join(ROOT, f))) continue;
        mkdirSync(dirname(join(clone, f)), { recursive: true });
        copyFileSync(join(ROOT, f), join(clone, f));
      }
      expect(existsSync(join(clone, 'dist'))).toBe(false);
      // --ignore-scripts: whatever our dependencies' own install scripts do, ours must not be needed.
      const ci = spawnSync('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: clone, encoding: 'utf8' });
      expect(ci.status, ci.stderr).toBe(0);
      const run = spawnSync(process.execPath, ['bin/sourcegraph-launch.js', 'presets', '--json'], { cwd: clone, encoding: 'utf8', env: cliEnv() });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toContain('building dist/ from the sources');
      expect(JSON.parse(run.stdout).sizes.map((s: { size: string }) => s.size)).toEqual(['XS', 'S', 'M', 'L', 'XL']);
      // Built once: the next run starts straight away.
      const again = spawnSync(process.execPath, ['bin/sourcegraph-launch.js', '--version'], { cwd: clone, encoding: 'utf8', env: cliEnv() });
      expect(again.status).toBe(0);
      expect(again.stderr).toBe('');
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  }, 180_000);
});

// ---- the installed package under each Node major ------------------------------------------

let moto: MotoServer;
let gce: GceEmulator;
let gceEnv: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60718', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  // The Compute emulator, with Application Default Credentials from a service-account key whose
  // token endpoint is the emulator's: the installed package signs and exchanges a real JWT.
  // Compute's wait answers DONE at once here: the installed package polls at its real interval (5 s).
  gce = await startGceEmulator({ waitSteps: 2 });
  gceEnv = gceCliEnv(gce, mkdtempSync(join(tmpdir(), 'sgl-package-gce-')), 'package');
  await new GceTestClient(gce.endpoint, gce.project).mutate('POST', 'global/images', {
    name: 'sourcegraph-package',
    sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
    labels: { 'sourcegraph-launch-version': encodeLabelValue(VERSION) },
  });
});
afterAll(async () => {
  await moto?.stop();
  await gce?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runInstalled(node: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [bin, ...args], { cwd: work, env: cliEnv({ home: work, endpoint: moto.endpoint, env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The instance stand-in: port 80 of a loopback address, serving the version at once. */
async function standIn(address: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') res.writeHead(200).end(`${VERSION}\n`);
    else if (req.url === '/sign-in') res.writeHead(200, { 'content-type': 'text/html' }).end('{"needsSiteInit":false}');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(80, address, resolve));
  return server;
}

describe.each([20, 22, 24])('the installed package under Node %i', (major) => {
  const node = nodeBinary(major);

  it('is that Node (installed by scripts/test-nodes.sh, never skipped)', () => {
    expect(existsSync(node), `${node} is missing: run bash scripts/test-nodes.sh (npm test does)`).toBe(true);
    expect(execFileSync(node, ['--version'], { encoding: 'utf8' })).toMatch(new RegExp(`^v${major}\\.`));
  });

  it('runs --help, --version and presets', async () => {
    const help = await runInstalled(node, ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: sourcegraph-launch');
    expect((await runInstalled(node, ['--version'])).stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const presets = await runInstalled(node, ['presets', '--versions', '--json']);
    expect(presets.code, presets.stderr).toBe(0);
    expect(JSON.parse(presets.stdout).versions[0].version).toBe(VERSION);
  });

  it('plans a launch offline (--dry-run --json without credentials)', async () => {
    const dry = await runInstalled(node, ['launch', '--region', 'us-east-1', '--size', 'M', '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json'], {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    });
    expect(dry.code, dry.stderr).toBe(0);
    const out = JSON.parse(dry.stdout) as { plan: { image: { value: { id: string } } }; requests: { operation: string }[] };
    expect(out.plan.image.value.id).toBe('ami-0d5604b984e5bd659');
    expect(out.requests.map((r) => r.operation)).toContain('RunInstances');
  });

  it('launches, reports and destroys a deployment on the emulator', async () => {
    const name = `node${major}`;
    const address = `127.0.0.${major}`;
    await allocateTestAddress(motoEc2Client(moto), address, { deployment: name });
    const server = await standIn(address);
    try {
      const launch = await runInstalled(node, ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--name', name, '--hold-seconds', '0', '--json']);
      expect(launch.code, launch.stderr).toBe(0);
      expect(JSON.parse(launch.stdout)).toMatchObject({ name, ready: true, url: `http://${address}`, needsSiteInit: false });

      const status = await runInstalled(node, ['status', name, '--region', 'us-east-1', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ name, state: 'running', servingVersion: VERSION });

      const destroy = await runInstalled(node, ['destroy', name, '--region', 'us-east-1', '--yes', '--json']);
      expect(destroy.code, destroy.stderr).toBe(0);
      const gone = await runInstalled(node, ['status', name, '--region', 'us-east-1', '--json', '--no-probe']);
      expect(JSON.parse(gone.stdout)).not.toMatchObject({ state: 'running' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('--cloud azure: plans a launch offline (no credentials, no subscription, no az)', async () => {
    const dry = await runInstalled(node, ['launch', `az${major}`, '--cloud', 'azure', '--region', 'eastus', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run', '--json'], {
      AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:9',
      AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9',
      PATH: '/usr/bin:/bin',
    });
    expect(dry.code, dry.stderr).toBe(0);
    const out = JSON.parse(dry.stdout) as { requests: { service: string; operation: string }[] };
    expect(out.requests.map((r) => `${r.service} ${r.operation}`)).toContain('Microsoft.Compute virtualMachines.createOrUpdate');
  });

  it('--cloud gcp: plans offline, then launches (no wait), reports and destroys on the Compute emulator', async () => {
    const name = `gce${major}`;
    const where = ['--cloud', 'gcp', '--project', gce.project, '--region', 'us-central1'];
    const offline = await runInstalled(node, ['launch', name, ...where, '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run', '--json'], {
      METADATA_SERVER_DETECTION: 'none',
    });
    expect(offline.code, offline.stderr).toBe(0);
    expect((JSON.parse(offline.stdout) as { requests: { operation: string }[] }).requests.map((r) => r.operation)).toContain('instances.insert');

    const image = `projects/${gce.project}/global/images/sourcegraph-package`;
    const launch = await runInstalled(node, ['launch', name, ...where, '--version', VERSION, '--image', image, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--address', 'none', '--no-wait', '--json'], gceEnv);
    expect(launch.code, launch.stderr).toBe(0);
    expect(JSON.parse(launch.stdout)).toMatchObject({ name });
    const status = await runInstalled(node, ['status', name, ...where, '--json', '--no-probe'], gceEnv);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ name, state: 'running' });
    const destroy = await runInstalled(node, ['destroy', name, ...where, '--yes', '--json'], gceEnv);
    expect(destroy.code, destroy.stderr).toBe(0);
    const gone = await runInstalled(node, ['status', name, ...where, '--json', '--no-probe'], gceEnv);
    expect(JSON.parse(gone.stdout)).not.toMatchObject({ state: 'running' });
  }, 120_000);
});
