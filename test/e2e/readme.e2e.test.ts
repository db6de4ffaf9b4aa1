// The README is run the way a new user reads it: its commands are taken from the README itself and
// run as written, on a machine with no AWS account (no credentials, no config, a dead endpoint).
// If the README changes its commands, these tests run the new ones.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEnv, ROOT, runCli } from '../support/cli.js';
import { runCliInPty } from '../support/pty.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const temps: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The text of a `## heading` section, up to the next `## `. */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}`);
  expect(start, `README section "## ${heading}"`).toBeGreaterThan(0);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** A fresh user's environment: no credentials or AWS config, not CI, a new HOME; still no metadata service. */
function newUserEnv(home: string): NodeJS.ProcessEnv {
  return cliEnv({ home, env: { CI: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_REGION: undefined, SOURCEGRAPH_LAUNCH_HOME: undefined } });
}

function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('README: set-up on a fresh machine with no cloud account', () => {
  const block = /```sh\n([\s\S]*?)```/.exec(section('Set-up'))?.[1] ?? '';
  const lines = block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const dryRun = lines.find((l) => l.startsWith('node bin/sourcegraph-launch.js'));

  it('installs first, then plans a launch offline with a size, a region and a CIDR', () => {
    expect(lines[0]).toBe('npm ci && npm run build');
    expect(dryRun, block).toBeDefined();
    expect(dryRun).toMatch(/ launch\b.* --dry-run\b/);
    expect(dryRun).toMatch(/ --size \S+/);
    expect(dryRun).toMatch(/ --region \S+/);
    expect(dryRun).toMatch(/ --allow-cidr \S+/);
  });

  it('that command prints the summary and the requests, with no credentials, and changes nothing', async () => {
    const home = temp('sgl-readme-');
    // The README's command has no quoting: words split on spaces, as the shell would.
    const [node, bin, ...args] = dryRun!.split(/\s+/);
    expect(node).toBe('node');
    const r = await run(process.execPath, [bin!, ...args], { cwd: ROOT, env: newUserEnv(home) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/will create this deployment:/);
    expect(r.stdout).toMatch(/image +ami-\w+ .*catalog \(offline\)/);
    expect(r.stdout).toMatch(/Equivalent command for CI:/);
    expect(r.stdout).toMatch(/these mutating requests would be sent, in order:/);
    for (const op of ['CreateSecurityGroup', 'AuthorizeSecurityGroupIngress', 'RunInstances']) expect(r.stdout).toContain(`ec2 ${op}`);
    expect(r.stdout).toMatch(/Nothing was changed\./);
    expect(r.stderr).toMatch(/works offline from the shipped image catalog/);
    // A dry run creates no key and no state.
    expect(existsSync(join(home, '.config', 'sourcegraph-launch', 'keys'))).toBe(false);
  });

  it('at a real terminal the same command asks nothing and prints the same plan', async () => {
    const home = temp('sgl-readme-tty-');
    const [, bin, ...args] = dryRun!.split(/\s+/);
    expect(bin).toBe('bin/sourcegraph-launch.js');
    const pty = runCliInPty(args, { home, env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, SOURCEGRAPH_LAUNCH_HOME: undefined } });
    const { code } = await pty.exited;
    expect(code, pty.screen()).toBe(0);
    expect(pty.screen()).toMatch(/ec2 RunInstances/);
    // No question was drawn (inquirer's prompts start with "?").
    expect(pty.screen()).not.toMatch(/^\? /m);
  });
});

describe('README: running it today', () => {
  const text = section('Set-up');
  const tarball = `${PKG.name}-${PKG.version}.tgz`;

  it('says the package is not published yet, and what the command will be once it is', () => {
    expect(text).toMatch(/not published yet/);
    expect(text).toContain('Once published it will be `npx sourcegraph-launch …`');
    expect(README).not.toMatch(/From npm it is simply/);
  });

  it('the packed tarball runs with the README\'s npx command, offline', async () => {
    const command = new RegExp(`\`(npx \\./${tarball.replace(/\./g, '\\.')} [^\`]+)\``).exec(text)?.[1];
    expect(command, `README names ${tarball}`).toBeDefined();
    const dir = temp('sgl-readme-pack-');
    // dist/ is already built by the test run; the README's `npm pack` builds it as well.
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, stdio: 'ignore' });
    expect(existsSync(join(dir, tarball))).toBe(true);
    const env = { ...newUserEnv(dir), npm_config_cache: join(dir, 'npm-cache'), npm_config_offline: 'true', npm_config_update_notifier: 'false' };
    const [npx, ...args] = command!.split(/\s+/);
    const r = await run(npx!, args, { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: sourcegraph-launch');
  }, 120_000);
});

describe('README: what it points to', () => {
  it('the exit-code table in --help is the one in the README', async () => {
    const r = await runCli(['--help'], { home: temp('sgl-readme-help-') });
    const norm = (t: string) => t.replace(/`/g, '').replace(/\s+/g, ' ').trim();
    const help = new Map<string, string>();
    let code = '';
    for (const line of r.stdout.slice(r.stdout.indexOf('Exit codes:')).split('\n').slice(1)) {
      const m = /^  (\d+) +(.*)$/.exec(line);
      if (m) help.set((code = m[1]!), m[2]!);
      else if (/^ {5,}\S/.test(line) && code) help.set(code, `${help.get(code)} ${line.trim()}`);
      else break;
    }
    const table = new Map(
      [...README.slice(README.indexOf('### Exit codes')).matchAll(/^\| `?(\d+)`? \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!] as const),
    );
    expect([...help.keys()]).toEqual(['0', '1', '2', '3', '4', '130']);
    expect([...table.keys()]).toEqual([...help.keys()]);
    for (const [k, meaning] of help) expect(norm(table.get(k)!), `exit ${k}`).toBe(norm(meaning));
  });

  it('links only to files in the repository: nothing in ../shared', () => {
    expect(README).not.toMatch(/\.\.\/shared/);
    for (const doc of ['docs/ARCHITECTURE.md', 'docs/TESTING.md']) {
      expect(README).toContain(doc);
      expect(existsSync(join(ROOT, doc)), doc).toBe(true);
    }
    for (const [, target] of README.matchAll(/\]\(((?!https?:)[^)#]+)\)/g)) expect(existsSync(join(ROOT, target!)), target).toBe(true);
  });

  it('every safety promise names tests that exist', () => {
    const rows = section('Safety promises')
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| promise'));
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const row of rows) {
      // The last cell: `file` › "test name" [and "test name"] [; `file` › …]
      const heldBy = row.split(' | ').at(-1)!;
      const refs = heldBy.split(/(?=`test\/)/).flatMap((part) => {
        const m = /^`(test\/[^`]+\.ts)` › ([\s\S]*)$/.exec(part);
        return m ? [{ file: m[1]!, names: [...m[2]!.matchAll(/"([^"]+)"/g)].map((n) => n[1]!) }] : [];
      });
      expect(refs.length, row).toBeGreaterThan(0);
      for (const { file, names } of refs) {
        expect(names.length, `${file} in: ${row}`).toBeGreaterThan(0);
        const source = readFileSync(join(ROOT, file), 'utf8');
        for (const name of names) expect(source, `${file} › "${name}"`).toContain(name);
      }
    }
  });
});
