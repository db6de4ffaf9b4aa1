// Runs the real CLI process (bin/sourcegraph-launch.js → dist/cli.js) the way a user or CI does.
// The environment is built from scratch: dummy credentials, no metadata service, an explicit
// endpoint (moto, or a dead loopback port so that any cloud call fails loudly), CI=true.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'sourcegraph-launch.js');
/** The same CLI with the tests' seams (a fault, short polls, no IP lookup) given as dependencies: see cli-entry.mjs. */
export const TEST_ENTRY = join(ROOT, 'test', 'support', 'cli-entry.mjs');
/** Nothing listens here: a CLI run pointed at it fails on its first cloud call. */
export const DEAD_ENDPOINT = 'http://127.0.0.1:9';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws with the output if it is not). */
  json<T = Record<string, unknown>>(): T;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  endpoint?: string;
  home?: string;
  timeoutMs?: number;
  /** Run bin/sourcegraph-launch.js itself, without the test seams. */
  bin?: boolean;
  /** Piped to the CLI's stdin, then closed (default: no stdin at all). */
  input?: string;
  /** Called with each stdout or stderr chunk: lets a test send SIGINT at a chosen moment. */
  onOutput?: (chunk: string, child: ChildProcess) => void;
}

export function cliEnv(opts: CliOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: opts.home ?? process.env.HOME,
    CI: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: opts.endpoint ?? DEAD_ENDPOINT,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    METADATA_SERVER_DETECTION: 'none',
    SGL_TEST_NO_IP_LOOKUP: '1',
    SGL_TEST_POLL_MS: '200',
    ...(opts.home ? { SOURCEGRAPH_LAUNCH_HOME: join(opts.home, 'state') } : {}),
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ? BIN : TEST_ENTRY, ...args], { env: cliEnv(opts), stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onOutput?.(c, child);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      opts.onOutput?.(c, child);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\n--- stderr ---\n${stderr}`);
          }
        },
      });
    });
  });
}
