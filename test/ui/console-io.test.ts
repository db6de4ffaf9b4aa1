import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ConsoleIo, parseYesNo } from '../../src/ui/console-io.js';

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

describe('ConsoleIo.confirm: only yes or no is an answer', () => {
  // The prompt reads keystrokes from a stream, as it would from a terminal in raw mode: "\r" is Enter.
  function typing() {
    const { stdout, stderr } = streams(true);
    const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (m: boolean) => void };
    stdin.isTTY = true;
    stdin.setRawMode = () => undefined;
    const io = new ConsoleIo({ interactive: true, json: false, stdout: stdout as never, stderr: stderr as never, stdin });
    /** Waits until the prompt has drawn `waitFor`, then types `text` and Enter. */
    const type = async (text: string, waitFor: RegExp) => {
      for (let i = 0; i < 200 && !waitFor.test(stderr.text()); i++) await new Promise((r) => setTimeout(r, 10));
      expect(stderr.text()).toMatch(waitFor);
      stdin.write(`${text}\r`);
    };
    return { io, stderr, type };
  }

  it('asks again after an unrecognised answer instead of taking it as yes', async () => {
    const { io, stderr, type } = typing();
    const answer = io.confirm({ message: 'Launch wiz in us-east-1?', default: true });
    await type('wiztest', /Launch wiz in us-east-1\? \(Y\/n\)/);
    await type('n', /Please answer y or n \(Enter alone means yes\)/);
    await expect(answer).resolves.toBe(false);
    expect(stderr.text()).toMatch(/No/);
  });

  it.each([
    ['y', false, true],
    ['YES', false, true],
    [' no ', true, false],
    ['', true, true],
    ['', false, false],
  ])('%j with default %s is %s', async (typed, fallback, expected) => {
    const { io, type } = typing();
    const answer = io.confirm({ message: 'Go?', default: fallback });
    await type(typed, /Go\?/);
    await expect(answer).resolves.toBe(expected);
  });
});

describe('parseYesNo', () => {
  it.each([
    ['y', true],
    ['Yes', true],
    ['n', false],
    ['NO', false],
    ['yellow', undefined],
    ['nope', undefined],
    ['wiztest', undefined],
    ['1', undefined],
  ])('%j → %s', (text, expected) => {
    expect(parseYesNo(text, true)).toBe(expected);
  });
  it('an empty answer takes the default, and there is none without one', () => {
    expect(parseYesNo('  ', false)).toBe(false);
    expect(parseYesNo('', undefined)).toBeUndefined();
  });
});
