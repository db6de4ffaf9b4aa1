import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ConsoleIo } from '../../src/ui/console-io.js';

function streams(tty = false) {
  const make = () => {
    const s = new PassThrough() as PassThrough & { isTTY?: boolean; text(): string };
    let buf = '';
    s.on('data', (c: Buffer) => (buf += c.toString()));
    s.isTTY = tty;
    s.text = () => buf;
    return s;
  };
  return { stdout: make(), stderr: make() };
}

describe('ConsoleIo', () => {
  it('in CI, progress is plain timestamped lines with elapsed time', () => {
    const { stdout, stderr } = streams();
    let now = 0;
    const io = new ConsoleIo({ interactive: false, json: false, stdout: stdout as never, stderr: stderr as never, now: () => now });
    const p = io.progress('k3s active and node Ready');
    p.update('node sourcegraph-0 NotReady');
    p.update('node sourcegraph-0 NotReady');
    now = 75_000;
    p.succeed('Ready');
    const lines = stdout.text().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] k3s active and node Ready…$/);
    expect(lines[1]).toMatch(/\] k3s active and node Ready: node sourcegraph-0 NotReady$/);
    expect(lines[2]).toMatch(/\] k3s active and node Ready: Ready \(1m15s\)$/);
  });

  it('with --json, stdout carries only the result; everything human goes to stderr', () => {
    const { stdout, stderr } = streams();
    const io = new ConsoleIo({ interactive: false, json: true, stdout: stdout as never, stderr: stderr as never });
    io.info('summary');
    io.progress('Instance').succeed();
    io.warn('careful');
    io.result({ ok: true });
    expect(JSON.parse(stdout.text())).toEqual({ ok: true });
    expect(stderr.text()).toMatch(/summary[\s\S]*Instance[\s\S]*careful/);
  });

  it('never prompts when not interactive', async () => {
    const { stdout, stderr } = streams();
    const io = new ConsoleIo({ interactive: false, json: false, stdout: stdout as never, stderr: stderr as never });
    await expect(io.confirm({ message: 'Launch?' })).rejects.toBeInstanceOf(UsageError);
    await expect(io.select({ message: 'Region', choices: [] })).rejects.toThrow(/Cannot ask "Region" when not running interactively/);
  });
});
