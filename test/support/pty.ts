// Runs the real CLI on a real pseudo-terminal, the way a user at a terminal does: stdin, stdout and
// stderr are the terminal, so the CLI is interactive and its prompts read raw keystrokes. Python's
// pty module allocates the terminal (no native Node addon needed); the test reads what the terminal
// shows and types into it.
import { spawn, spawnSync } from 'node:child_process';
import { TEST_ENTRY, cliEnv, type CliOptions } from './cli.js';

// Parent side: copy terminal output to stdout and stdin to the terminal until the child exits, then
// exit with the child's code (128 + signal when it was killed). The child sets the window size first.
const RELAY = `
import fcntl, os, pty, select, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
stdin_open = True
while True:
    ready, _, _ = select.select([fd] + ([0] if stdin_open else []), [], [])
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            stdin_open = False
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
`;

export interface PtyRun {
  /** Everything the terminal showed so far, without colours and cursor movements. */
  screen(): string;
  /** Resolves once the screen matches `pattern` (fails after `timeoutMs`, with the screen). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Types text; "\r" is Enter, "\x03" is Ctrl-C. */
  type(text: string): void;
  exited: Promise<{ code: number | null }>;
}

/** Strips ANSI escape sequences (colours, cursor moves, line erases). */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[()][A-Z0-9]/g, '');
}

export function runCliInPty(args: string[], opts: CliOptions = {}): PtyRun {
  // A terminal user: no CI variable. Colours off to keep the screen readable in failures.
  const env = cliEnv({ ...opts, env: { CI: undefined, TERM: 'xterm', NO_COLOR: '1', ...opts.env } });
  const child = spawn('python3', ['-c', RELAY, process.execPath, TEST_ENTRY, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let raw = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (raw += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const exited = new Promise<{ code: number | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code });
    });
  });
  return {
    screen: () => plain(raw),
    waitFor(pattern, timeoutMs = 30_000) {
      // Checked on every chunk the terminal shows: no polling interval to tune on a loaded machine.
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(plain(raw))) return;
          done();
          resolve();
        };
        const fail = (why: string) => {
          done();
          reject(new Error(`the terminal ${why} without showing ${pattern}; it shows:\n${plain(raw)}`));
        };
        const onClose = () => fail('closed');
        const limit = setTimeout(() => fail(`waited ${timeoutMs} ms`), timeoutMs);
        const done = () => {
          clearTimeout(limit);
          child.stdout.off('data', check);
          child.off('close', onClose);
        };
        child.stdout.on('data', check);
        child.on('close', onClose);
        if (pattern.test(plain(raw))) check();
        else if (child.exitCode !== null || child.signalCode !== null) onClose();
      });
    },
    type(text) {
      child.stdin.write(text);
    },
    exited,
  };
}

/**
 * Runs a command on a pseudo-terminal `columns` wide with nothing typed, and answers what the
 * terminal showed (line ends as the terminal writes them, \r\n) and the exit status.
 */
export function ptyCapture(command: string[], columns: number, env: NodeJS.ProcessEnv): { status: number | null; screen: string } {
  const capture = `
import fcntl, os, pty, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, ${columns}, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
out = b''
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b''
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const r = spawnSync('python3', ['-c', capture, ...command], { env, encoding: 'utf8' });
  return { status: r.status, screen: r.stdout };
}
