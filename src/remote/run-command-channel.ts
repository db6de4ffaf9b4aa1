// The cloud's run-command channel (Azure Run Command, AWS Systems Manager) as an InstanceChannel:
// how `config`, `executors enable` and `disk grow` reach an instance whose SSH is closed.
//
// The clouds' agents run a script as root and hand back its output, within limits that this
// protocol works around (Azure: a script of at most 256 KB, output cut to its last 4 KB, one
// command at a time, 90 minutes at most; SSM: 24 KB of output). So:
//  - A command is sent base64 inside a small wrapper script; one too long for a script is first
//    appended in parts to a file on the instance, then run from there.
//  - The wrapper runs it with stdin closed, stdout and stderr to files in a private working
//    directory (/var/lib/sourcegraph-launch/run-command/<id>, root only), bounded by `timeout`.
//  - It then packs exit code, stdout and stderr into one gzip + base64 result file and prints the
//    first part of it between markers; the rest is read back in parts no larger than the output
//    limit (`tail -c +offset | head -c n`), and the last read removes the directory.
//  - The markers carry a nonce, so nothing the agent adds around the output (Azure's
//    "Enable succeeded: [stdout]" headers) or a truncation can be mistaken for the result.
//  - `sudo`, which the commands use as SSH's login user, is a no-op shim where the image lacks it
//    (the agent's script is root already).
// Each round trip is one run command: slow on a real cloud (seconds to a minute), so results are
// compressed and commands are never split into more round trips than the limits require.
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ExitCode, LaunchError } from '../core/errors.js';
import type { InstanceChannel } from './channel.js';
import { putFileCommand } from './channel.js';
import type { ExecOptions, ExecResult } from './remote.js';

/** What one run command of the cloud's agent gave back. */
export interface RunScriptOutput {
  stdout: string;
  stderr: string;
}

export interface RunCommandLimits {
  /** For messages: "Azure Run Command". */
  name: string;
  /** The longest script one run command takes (bytes). */
  maxScriptBytes: number;
  /** The output one run command hands back in full (bytes): a longer one is cut. */
  maxOutputBytes: number;
}

/** Runs `script` as root on the instance through the cloud's agent. */
export type RunScript = (script: string, timeoutMs: number) => Promise<RunScriptOutput>;

const WORK_ROOT = '/var/lib/sourcegraph-launch/run-command';
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** Room in a script and in an output for the wrapper and the markers. */
const SCRIPT_OVERHEAD = 2_048;
const OUTPUT_OVERHEAD = 256;
/** Time a round trip may take beyond the command's own bound (the agent's start, the cloud's polling). */
const ROUND_TRIP_SLACK_MS = 5 * 60_000;
const AGENT_REMEDIATION =
  'Check that the instance is running and its agent is ready (the cloud console shows it), or open SSH to your address (launch … --ssh-cidr <your-ip>/32 --update) and use --via ssh.';

export interface RunCommandChannelOptions {
  run: RunScript;
  limits: RunCommandLimits;
  /** The instance, for messages. */
  instance: string;
  /** Test seam: the working directory's name. */
  id?: () => string;
  /** Test seam: where the working directories go (default /var/lib/sourcegraph-launch/run-command). */
  workRoot?: string;
}

export function runCommandChannel(o: RunCommandChannelOptions): InstanceChannel {
  const { limits } = o;
  const newId = o.id ?? (() => randomBytes(6).toString('hex'));
  const scriptRoom = Math.max(512, limits.maxScriptBytes - SCRIPT_OVERHEAD);
  const outputRoom = Math.max(256, limits.maxOutputBytes - OUTPUT_OVERHEAD);

  const round = async (script: string, timeoutMs: number, what: string): Promise<RunScriptOutput> => {
    try {
      return await o.run(script, timeoutMs + ROUND_TRIP_SLACK_MS);
    } catch (e) {
      // The cloud's own error (permissions: exit 3, throttling, an agent that is not ready), named as this channel's.
      // The adapters' own channel errors (run-command-*, ssm-*) say so already.
      if (e instanceof LaunchError && /^(run-command-|ssm-)/.test(e.code)) throw e;
      const code = e instanceof LaunchError ? e.code : 'run-command-failed';
      const exit = e instanceof LaunchError ? e.exitCode : ExitCode.failed;
      throw new LaunchError(code, exit, `${limits.name} on ${o.instance} failed (${what}): ${(e as Error).message}`, {
        cause: e,
        remediation: (e instanceof LaunchError && e.remediation) || AGENT_REMEDIATION,
        ...(e instanceof LaunchError && e.details ? { details: e.details } : {}),
      });
    }
  };

  const exec = async (command: string, opts: ExecOptions = {}): Promise<ExecResult> => {
    const id = newId();
    const dir = `${o.workRoot ?? WORK_ROOT}/${id}`;
    const nonce = randomBytes(6).toString('hex');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const encoded = Buffer.from(command).toString('base64');
    let inline: string | undefined = encoded;
    if (encoded.length > scriptRoom) {
      inline = undefined;
      for (let at = 0; at < encoded.length; at += scriptRoom) {
        const part = encoded.slice(at, at + scriptRoom);
        const r = await round(`set -e\numask 077\nmkdir -p ${dir}\nprintf '%s' '${part}' >> ${dir}/command.b64\necho ok-${nonce}\n`, 60_000, 'sending the command');
        if (!r.stdout.includes(`ok-${nonce}`)) throw notUnderstood(limits.name, o.instance, 'storing the command', r);
      }
    }
    const first = await round(runScript({ dir, nonce, inline, timeoutMs, firstPart: outputRoom }), timeoutMs, 'running the command');
    const head = parseFrame(first, nonce);
    if (!head) throw notUnderstood(limits.name, o.instance, 'running the command', first);
    let packed = head.part;
    while (packed.length < head.total) {
      const last = packed.length + outputRoom >= head.total;
      const r = await round(
        `set -e\ntail -c +${packed.length + 1} ${dir}/result | head -c ${outputRoom} > ${dir}/part\nprintf 'SGL-RC-BEGIN ${nonce} %s\\n' "$(wc -c < ${dir}/result)"\ncat ${dir}/part\nprintf '\\nSGL-RC-END ${nonce}\\n'\n${last ? `rm -rf ${dir}\n` : ''}`,
        60_000,
        'reading the output back',
      );
      const frame = parseFrame(r, nonce);
      if (!frame || frame.part.length === 0) throw notUnderstood(limits.name, o.instance, 'reading the output back', r);
      packed += frame.part;
    }
    const result = unpack(packed);
    if (!result) throw new LaunchError('run-command-output', ExitCode.failed, `${limits.name} on ${o.instance}: the command's output came back damaged`);
    if (result.code === 124 && result.timedOut) {
      throw new LaunchError('run-command-timeout', ExitCode.failed, `\`${brief(command)}\` on ${o.instance} did not finish within ${timeoutMs} ms; it was stopped.`, {
        details: { command, timeoutMs, stdout: result.stdout, stderr: result.stderr },
      });
    }
    if (result.stdout) opts.onStdout?.(result.stdout);
    if (result.stderr) opts.onStderr?.(result.stderr);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  };

  return {
    kind: 'run-command',
    description: limits.name,
    exec,
    putFile: async (remotePath, content, mode = 0o600) => {
      const r = await exec(putFileCommand(remotePath, content, mode), { timeoutMs: 60_000 });
      if (r.code !== 0) throw new LaunchError('remote-command-failed', ExitCode.failed, `Could not write ${remotePath} on the instance: ${(r.stderr.trim() || `exit ${String(r.code)}`).split('\n')[0]}`);
    },
    // Each exec removes its own directory; nothing stays open.
    close: async () => undefined,
  };
}

/** The wrapper: runs the command, packs its result, prints the first part between the markers. */
function runScript(p: { dir: string; nonce: string; inline?: string; timeoutMs: number; firstPart: number }): string {
  const seconds = Math.max(1, Math.ceil(p.timeoutMs / 1000));
  return `set -u
umask 077
d=${p.dir}
mkdir -p "$d"
${p.inline !== undefined ? `printf '%s' '${p.inline}' > "$d/command.b64"\n` : ''}base64 -d "$d/command.b64" > "$d/command.sh"
if ! command -v sudo >/dev/null 2>&1; then
  mkdir -p "$d/bin"
  printf '#!/bin/sh\\nwhile [ "$#" -gt 0 ]; do case "$1" in -n|-E|-H) shift ;; *) break ;; esac; done\\nexec "$@"\\n' > "$d/bin/sudo"
  chmod 755 "$d/bin/sudo"
  PATH="$d/bin:$PATH"; export PATH
fi
cd /
timedout=0
timeout -k 10 ${seconds} sh "$d/command.sh" < /dev/null > "$d/stdout" 2> "$d/stderr"
code=$?
[ "$code" -eq 124 ] && timedout=1
{ printf 'code %s %s\\n' "$code" "$timedout"; printf 'stdout '; base64 -w0 < "$d/stdout"; printf '\\nstderr '; base64 -w0 < "$d/stderr"; printf '\\n'; } | gzip -c | base64 -w0 > "$d/result"
total=$(wc -c < "$d/result")
printf 'SGL-RC-BEGIN ${p.nonce} %s\\n' "$total"
head -c ${p.firstPart} "$d/result"
printf '\\nSGL-RC-END ${p.nonce}\\n'
if [ "$total" -le ${p.firstPart} ]; then rm -rf "$d"; fi
exit 0
`;
}

function parseFrame(out: RunScriptOutput, nonce: string): { total: number; part: string } | undefined {
  const m = new RegExp(`SGL-RC-BEGIN ${nonce} (\\d+)\\n([A-Za-z0-9+/=]*)\\nSGL-RC-END ${nonce}`).exec(out.stdout);
  return m ? { total: Number(m[1]), part: m[2]! } : undefined;
}

function unpack(packed: string): { code: number; timedOut: boolean; stdout: string; stderr: string } | undefined {
  try {
    const text = gunzipSync(Buffer.from(packed, 'base64')).toString('utf8');
    const code = /^code (\d+) ([01])$/m.exec(text);
    const field = (name: string) => Buffer.from(new RegExp(`^${name} ([A-Za-z0-9+/=]*)$`, 'm').exec(text)?.[1] ?? '', 'base64').toString('utf8');
    if (!code) return undefined;
    return { code: Number(code[1]), timedOut: code[2] === '1', stdout: field('stdout'), stderr: field('stderr') };
  } catch {
    return undefined;
  }
}

function notUnderstood(name: string, instance: string, step: string, r: RunScriptOutput): LaunchError {
  const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ').slice(0, 400);
  return new LaunchError('run-command-failed', ExitCode.failed, `${name} on ${instance} did not complete ${step}${said ? `: ${said}` : ' (no output)'}`, {
    remediation: AGENT_REMEDIATION,
  });
}

function brief(command: string): string {
  return command.length > 80 ? `${command.slice(0, 77)}...` : command;
}
