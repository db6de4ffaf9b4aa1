// The run-command protocol against a real shell standing in for the cloud's agent: each round trip
// runs the script with bash in a scratch directory and hands back only the last `maxOutputBytes` of
// its output (as Azure does), and refuses scripts over `maxScriptBytes`. Small limits force the
// command upload and the output read-back into several parts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/core/errors.js';
import { runCommandChannel, type RunScript } from '../../src/remote/run-command-channel.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function agent(limits: { maxScriptBytes: number; maxOutputBytes: number }) {
  const scripts: string[] = [];
  const run: RunScript = (script) =>
    new Promise((resolve, reject) => {
      scripts.push(script);
      if (Buffer.byteLength(script) > limits.maxScriptBytes) return reject(new Error(`script of ${Buffer.byteLength(script)} bytes is over the limit`));
      execFile('bash', ['-c', script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ stdout: stdout.slice(-limits.maxOutputBytes), stderr: stderr.slice(-limits.maxOutputBytes) });
      });
    });
  return { run, scripts };
}

function channel(limits: { maxScriptBytes: number; maxOutputBytes: number }) {
  const workRoot = mkdtempSync(join(tmpdir(), 'sgl-rc-'));
  dirs.push(workRoot);
  const a = agent(limits);
  return { workRoot, scripts: a.scripts, ch: runCommandChannel({ run: a.run, limits: { name: 'Test Run Command', ...limits }, instance: 'vm-1', workRoot }) };
}

describe('the run-command channel', () => {
  it('runs a command and gives its stdout, stderr and exit code in one round trip when they are small', async () => {
    const { ch, scripts, workRoot } = channel({ maxScriptBytes: 256 * 1024, maxOutputBytes: 4096 });
    const r = await ch.exec(`echo "hello 'world'"; echo oops >&2; exit 3`);
    expect(r).toEqual({ code: 3, stdout: "hello 'world'\n", stderr: 'oops\n' });
    expect(scripts).toHaveLength(1);
    expect(ch.kind).toBe('run-command');
    expect(readdirSync(workRoot)).toEqual([]);
  });

  it('moves a long command up in parts and reads a large output back in parts, byte for byte', async () => {
    const { ch, scripts, workRoot } = channel({ maxScriptBytes: 3000, maxOutputBytes: 1200 });
    // Incompressible output, far over the output limit; a command far over the script limit.
    const payload = Buffer.from(Array.from({ length: 6000 }, (_, i) => (i * 7919) % 251)).toString('base64');
    const command = `x='${payload}'; printf '%s' "$x" | base64 -d | base64 -w0`;
    const r = await ch.exec(command);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(payload);
    expect(scripts.length).toBeGreaterThan(10);
    expect(scripts.every((s) => Buffer.byteLength(s) <= 3000)).toBe(true);
    expect(readdirSync(workRoot)).toEqual([]);
  });

  it('puts a file with its mode', async () => {
    const { ch, workRoot } = channel({ maxScriptBytes: 256 * 1024, maxOutputBytes: 4096 });
    const target = join(workRoot, 'put', 'file.yaml');
    await ch.exec(`mkdir -p ${join(workRoot, 'put')}`);
    // putFile goes through sudo (a shim when there is none); the scratch path needs no root.
    await ch.putFile(target, Buffer.from('a: 1\n'), 0o640);
    expect(readFileSync(target, 'utf8')).toBe('a: 1\n');
  });

  it('stops a command at its timeout with a typed error', async () => {
    const { ch } = channel({ maxScriptBytes: 256 * 1024, maxOutputBytes: 4096 });
    const e = await ch.exec('sleep 30', { timeoutMs: 1000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LaunchError);
    expect((e as LaunchError).code).toBe('run-command-timeout');
  });

  it('says so when the agent hands back something that is not the result', async () => {
    const ch = runCommandChannel({ run: async () => ({ stdout: 'Enable failed: the agent is not ready', stderr: '' }), limits: { name: 'Test Run Command', maxScriptBytes: 1000, maxOutputBytes: 1000 }, instance: 'vm-1' });
    const e = await ch.exec('true').catch((x: unknown) => x);
    expect((e as LaunchError).code).toBe('run-command-failed');
    expect((e as LaunchError).message).toContain('Test Run Command on vm-1 did not complete running the command: Enable failed: the agent is not ready');
  });
});
