// `--help` and `--version` come from dist/help-cache.json, which the build renders through the real
// CLI and the bin prints without loading the CLI (issue 8: `--help` within 1.2× of a bare Node
// start). What the cache says must be exactly what the CLI says, for every form it holds, and the
// bin must really answer from it (and only from it) when output is a pipe, a file or a terminal at
// least 80 columns wide.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cliEnv } from '../support/cli.js';
import { ptyCapture } from '../support/pty.js';

interface HelpCache {
  forms: Record<string, number>;
  texts: string[];
}

const cache = JSON.parse(readFileSync(join(ROOT, 'dist', 'help-cache.json'), 'utf8')) as HelpCache;
const forms = Object.keys(cache.forms).map((k) => k.split('\0'));

/** What the CLI itself prints for argv, run in this process with the tests' environment. */
async function fromCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { run } = (await import(join(ROOT, 'dist', 'cli.js'))) as { run: (a: string[], e: NodeJS.ProcessEnv, s: unknown) => Promise<number> };
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => ({ write: (s: unknown) => (append(String(s)), true), isTTY: false });
  const code = await run(argv, cliEnv(), { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), stdin: process.stdin });
  return { code, out, err };
}

const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** bin/ and dist/ as the package ships them, with the CLI itself replaced by one that fails. */
function packageWithoutCli(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sgl-help-cache-'));
  scratch.push(dir);
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist', 'help-cache.json'), join(dir, 'dist', 'help-cache.json'));
  writeFileSync(join(dir, 'dist', 'cli.js'), "process.stderr.write('the CLI was loaded\\n'); process.exit(7);\n");
  return dir;
}

describe('the help cache', () => {
  it('holds --help, -h and `help <command>` of every command and the version', () => {
    const keys = forms.map((f) => f.join(' '));
    for (const k of ['--help', '-h', 'help', '--version', '-V', 'launch --help', 'help upgrade', 'disk grow --help', 'doctor -h', 'tls --help']) {
      expect(keys).toContain(k);
    }
    expect(forms.length).toBeGreaterThan(50);
  });

  it('says exactly what the CLI says, for every form it holds', async () => {
    for (const argv of forms) {
      const cli = await fromCli(argv);
      expect({ argv, code: cli.code, err: cli.err }).toEqual({ argv, code: 0, err: '' });
      expect(cache.texts[cache.forms[argv.join('\0')]!], argv.join(' ')).toBe(cli.out);
    }
  });

  it('is what the bin prints, without loading the CLI, when output is a pipe', () => {
    const dir = packageWithoutCli();
    for (const argv of [['--help'], ['launch', '--help'], ['help', 'upgrade'], ['disk', 'grow', '-h'], ['--version']]) {
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'sourcegraph-launch.js'), ...argv], { env: cliEnv(), encoding: 'utf8' });
      expect({ argv, status: r.status, stderr: r.stderr }).toEqual({ argv, status: 0, stderr: '' });
      expect(r.stdout).toBe(cache.texts[cache.forms[argv.join('\0')]!]);
    }
    // Anything else goes to the CLI: here the stand-in that fails, which proves the route.
    for (const argv of [['presets'], ['launch', '--help', '--json'], ['--version', '--json'], []]) {
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'sourcegraph-launch.js'), ...argv], { env: cliEnv(), encoding: 'utf8', input: '' });
      expect({ argv, status: r.status, stderr: r.stderr }).toEqual({ argv, status: 7, stderr: 'the CLI was loaded\n' });
    }
  });

  it('at a terminal: 80 columns or wider gets the cached help; a narrower one goes to the CLI (which wraps to its width)', () => {
    const dir = packageWithoutCli();
    // A real pseudo-terminal of the given width (Python's pty module), the bin's output copied out.
    const atTerminal = (columns: number, argv: string[]) => {
      const r = ptyCapture([process.execPath, join(dir, 'bin', 'sourcegraph-launch.js'), ...argv], columns, { ...cliEnv(), CI: undefined, TERM: 'xterm' });
      return { status: r.status, stdout: r.screen };
    };
    const wide = atTerminal(120, ['launch', '--help']);
    expect(wide.status, wide.stdout).toBe(0);
    expect(wide.stdout.replace(/\r\n/g, '\n')).toBe(cache.texts[cache.forms['launch\0--help']!]);
    const exact = atTerminal(80, ['--help']);
    expect(exact.stdout.replace(/\r\n/g, '\n')).toBe(cache.texts[cache.forms['--help']!]);
    const narrow = atTerminal(60, ['--help']);
    expect(narrow.status).toBe(7);
    expect(narrow.stdout).toContain('the CLI was loaded');
  });

  it('a missing or damaged cache falls back to the CLI, which still answers --help', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgl-help-cache-'));
    scratch.push(dir);
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'help-cache.json'), '{"forms":');
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'sourcegraph-launch.js'), '--help'], { env: cliEnv(), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(cache.texts[cache.forms['--help']!]);
  });

  it('the real bin (a clone: it checks dist/ is current first) answers --help from the cache too', () => {
    const r = spawnSync(process.execPath, [BIN, 'status', '--help'], { env: cliEnv(), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(cache.texts[cache.forms['status\0--help']!]);
  });
});
