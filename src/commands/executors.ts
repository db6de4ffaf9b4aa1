// `executors enable [name] [--count N]`: Sourcegraph executors on the instance, the six manual steps
// of the published docs in one command. The images ship the `sourcegraph-executor-k8s` chart and the
// boot service installs the `executor` release with a per-volume access token at every reinstall, so
// this command (1) makes sure the data volume has a token, generated ON the instance (it never
// crosses the wire, never reaches a log: only the path to read it is printed), (2) sets the replica
// count in the customer's override.yaml with `config`'s machinery (kept history, the boot service's
// reinstall, the same wait), (3) puts the previous file back if the apply fails, and (4) prints the
// site configuration the admin must add, which lives in Sourcegraph's database, not in Helm values.
// `executors token [name]` reads that token back over the same channel (SSH when open, else the
// cloud's run-command; --via), for the site configuration: the only command that prints it.
import type { ExecutorsEnableFlags, ExecutorsTokenFlags } from '../cli/commands/executors.js';
import { defaultProvider } from '../cloud/providers.js';
import { ExitCode, LaunchError, UsageError } from '../core/errors.js';
import type { Remote } from '../remote/remote.js';
import { checkHttpsAfterWait, type HttpsCheck } from '../workflows/https-check.js';
import { confirmOrYes } from '../workflows/shared.js';
import { applyAndWait, OVERRIDE_HISTORY_DIR, OVERRIDE_PATH, readConfigFiles, safeWord, STATE_DIR, writeOverride } from './config.js';
import { applyAssignments, parseAssignment, parseValues } from './config-values.js';
import type { Deps } from './deps.js';
import { asRoot, execOrFail, openChannel, reachInstance, type InstanceAccess } from './instance-access.js';

const VOLUME_DIR = '/mnt/data/.sourcegraph-launch';
export const EXECUTOR_SECRET_PATH = `${VOLUME_DIR}/executor-secret`;
/** The executor release's values the boot service applies (provision/boot.sh: ensure_executor_values). */
const EXECUTOR_VALUES_PATH = `${VOLUME_DIR}/executor-values.yaml`;
/** How executors on the instance reach the frontend (the in-cluster service boot.sh gives the chart). */
export const EXECUTOR_FRONTEND_URL = 'http://sourcegraph-frontend:30080';
const MAX_COUNT = 16;
const DEFAULT_TIMEOUT_MIN = 30;

export interface ExecutorsResult {
  name: string;
  count: number;
  /** created: a new token was made on the instance; adopted: the volume's existing one was kept in the secret file; kept: the secret file was there already. */
  token: 'created' | 'adopted' | 'kept';
  /** The token's file on the instance (never its content). */
  tokenPath: string;
  /** The command that prints the token, for the site configuration. */
  readTokenCommand: string;
  changed: boolean;
  override: string;
  previousSavedAs?: string;
  applied?: { seconds: number; version?: string; pods: string };
  https?: HttpsCheck;
  /** What to add in Site admin > Site configuration (the token as the command that reads it). */
  siteConfig: { 'executors.accessToken': string; 'executors.frontendURL': string };
}

function parseCount(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > MAX_COUNT) throw new UsageError(`--count: "${value}" must be a whole number from 1 to ${MAX_COUNT}`);
  return n;
}

export async function runExecutorsEnable(deps: Deps, nameArg: string | undefined, flags: ExecutorsEnableFlags): Promise<ExecutorsResult> {
  const { io } = deps;
  const count = parseCount(flags.count);
  const timeoutMin = flags.timeout === undefined ? DEFAULT_TIMEOUT_MIN : Number(flags.timeout);
  if (!Number.isFinite(timeoutMin) || timeoutMin <= 0 || timeoutMin > 180) throw new UsageError(`--timeout: "${flags.timeout}" must be minutes from 1 to 180`);

  const reach = await reachInstance(deps, nameArg, flags);
  const { target } = reach;
  const where = `${target.provider.id === defaultProvider().id ? '' : ` --cloud ${target.provider.id}`} --region ${target.region}`;
  const readTokenCommand = `${deps.program} executors token ${target.name}${where}`;
  const remote = await openChannel(deps, reach, flags);
  try {
    await requireExecutorChart(deps, remote, reach);
    const files = await readConfigFiles(remote, reach);
    const text = applyAssignments(files.override ?? '', [parseAssignment(`executor.replicas=${count}`)], OVERRIDE_PATH);
    parseValues(text, 'the new override.yaml');
    const overrideChanged = text !== files.override;

    const tokenReady = await tokenInPlace(remote);

    io.info(`executors enable ${target.name}: ${count} executor replica${count === 1 ? '' : 's'} (executor.replicas in ${OVERRIDE_PATH}), access token in ${EXECUTOR_SECRET_PATH} on the instance.`);
    if (overrideChanged || !tokenReady) {
      await confirmOrYes(
        deps,
        flags,
        `${overrideChanged ? `Set executor.replicas to ${count}` : 'Give the executors their access token'} and apply it to ${target.name}? Sourcegraph and its executors are reinstalled with Helm and pods restart (a few minutes).`,
        `enable executors on ${target.name}`,
      );
    }
    // After the question (nothing changes on a refusal), before the apply that reads it.
    const { token, valuesChanged } = await ensureToken(remote);
    const result: ExecutorsResult = {
      name: target.name,
      count,
      token,
      tokenPath: EXECUTOR_SECRET_PATH,
      readTokenCommand,
      // The release reads the token from its values: a reinstall only when those changed (or the replicas).
      changed: overrideChanged || valuesChanged,
      override: text,
      siteConfig: { 'executors.accessToken': `<the token: run \`${readTokenCommand}\`>`, 'executors.frontendURL': EXECUTOR_FRONTEND_URL },
    };
    if (token === 'created') io.info(`Made a new executor access token on the instance (${EXECUTOR_SECRET_PATH}, 0600).`);

    if (result.changed) {
      const saved = overrideChanged ? await writeOverride(remote, text, undefined) : undefined;
      if (saved) result.previousSavedAs = `${OVERRIDE_HISTORY_DIR}/${saved}`;
      try {
        result.applied = await applyAndWait(deps, remote, reach, timeoutMin * 60_000);
      } catch (e) {
        if (!(e instanceof LaunchError) || e.code !== 'config-apply-failed' || !overrideChanged) throw e;
        throw await rollBack(deps, remote, reach, files.override, saved, e, timeoutMin);
      }
      const https = await checkHttpsAfterWait(deps, target);
      if (https) result.https = https;
    } else {
      io.info(`${target.name} runs ${count} executor replica${count === 1 ? '' : 's'} with its token already: nothing to apply.`);
      if (token === 'adopted') io.info(`The token the volume already had is now also in ${EXECUTOR_SECRET_PATH} (0600), to read it from.`);
    }

    if (io.json) io.result(result);
    else render(deps, result);
    return result;
  } finally {
    await remote.close().catch(() => undefined);
  }
}

/** The image must carry the executor chart of the version it runs (older versions have none). */
async function requireExecutorChart(deps: Deps, remote: Pick<Remote, 'exec'>, reach: InstanceAccess): Promise<void> {
  const version = safeWord(reach.instance.labels.version ?? reach.deployment.version ?? '');
  const chart = `${STATE_DIR}/charts/sourcegraph-executor-k8s-${version}.tgz`;
  const out = await execOrFail(remote, asRoot(`if [ -f ${chart} ]; then echo present; else echo missing; fi`), 'look for the executor chart');
  if (out.trim() !== 'present') {
    throw new LaunchError('executor-chart-missing', ExitCode.failed, `The image of ${reach.target.name} has no executor chart for ${version || 'its version'} (${chart})`, {
      remediation: `Executors need an image built by sourcegraph-launch for a version that has the sourcegraph-executor-k8s chart: \`${deps.program} build-image --version ${version || '<version>'}\`, then \`${deps.program} upgrade ${reach.target.name}\` onto it.`,
    });
  }
}

/** Whether the secret file exists and the executor release's values carry it (read only; the token goes through a pipe, never a command line). */
async function tokenInPlace(remote: Pick<Remote, 'exec'>): Promise<boolean> {
  const out = await execOrFail(
    remote,
    asRoot(`if [ -s ${EXECUTOR_SECRET_PATH} ] && [ -f ${EXECUTOR_VALUES_PATH} ] && printf 'frontendPassword: "%s"\\n' "$(head -n 1 ${EXECUTOR_SECRET_PATH})" | grep -qF -f - ${EXECUTOR_VALUES_PATH}; then echo yes; else echo no; fi`),
    'look for the executor access token',
  );
  return out.trim() === 'yes';
}

/**
 * Makes sure the data volume has the executor access token, made on the instance: kept when the
 * secret file exists, taken from the executor values the boot service generated when only those
 * exist, else `openssl rand -hex 32`. The executor values are then (re)written from it when they do
 * not carry it. Prints only which of the three happened and whether the values changed.
 */
async function ensureToken(remote: Pick<Remote, 'exec'>): Promise<{ token: ExecutorsResult['token']; valuesChanged: boolean }> {
  const out = await execOrFail(
    remote,
    asRoot(`set -eu
umask 077
mkdir -p ${VOLUME_DIR}
s=${EXECUTOR_SECRET_PATH}
v=${EXECUTOR_VALUES_PATH}
state=kept
if [ ! -s "$s" ]; then
  pw=
  if [ -f "$v" ]; then pw=$(sed -n 's/^ *frontendPassword: *"\\{0,1\\}\\([0-9A-Za-z_-]*\\)"\\{0,1\\} *$/\\1/p' "$v" | head -n 1); fi
  if [ -n "$pw" ]; then state=adopted; else pw=$(openssl rand -hex 32); state=created; fi
  [ -n "$pw" ] || { echo 'openssl made no token' >&2; exit 1; }
  printf '%s\\n' "$pw" > "$s.new"
  mv -f "$s.new" "$s"
fi
chmod 600 "$s"
pw=$(head -n 1 "$s")
want=$(printf 'executor:\\n  frontendUrl: "%s"\\n  frontendPassword: "%s"' '${EXECUTOR_FRONTEND_URL}' "$pw")
values=kept
if [ ! -f "$v" ] || [ "$(cat "$v")" != "$want" ]; then printf '%s\\n' "$want" > "$v.new"; mv -f "$v.new" "$v"; values=written; fi
chmod 600 "$v"
echo "$state $values"
`),
    'make the executor access token',
  );
  const [state, values] = (out.trim().split('\n').at(-1) ?? '').split(' ');
  return { token: state === 'created' || state === 'adopted' ? state : 'kept', valuesChanged: values === 'written' };
}

/** Puts the previous override.yaml back (or removes the new one when there was none), applies it, and returns the error to throw. */
async function rollBack(deps: Deps, remote: Pick<Remote, 'exec'>, reach: InstanceAccess, previous: string | undefined, saved: string | undefined, failure: LaunchError, timeoutMin: number): Promise<LaunchError> {
  deps.io.warn(`${failure.message}: putting the previous ${OVERRIDE_PATH} back and applying it.`);
  try {
    if (previous !== undefined && saved) await writeOverride(remote, previous, saved);
    else await execOrFail(remote, asRoot(`rm -f ${OVERRIDE_PATH}`), `remove ${OVERRIDE_PATH}`);
    await applyAndWait(deps, remote, reach, timeoutMin * 60_000);
  } catch (e) {
    return new LaunchError('executors-enable-failed', ExitCode.failed, `${failure.message}; putting the previous override.yaml back failed too: ${(e as Error).message}`, {
      cause: failure,
      remediation: `\`${deps.program} config rollback ${reach.target.name}\` restores the previous file; \`${deps.program} logs ${reach.target.name}\` shows the boot service's error.`,
    });
  }
  return new LaunchError('executors-enable-failed', ExitCode.failed, `${failure.message}. The previous override.yaml is back and applied: executors are as they were`, {
    cause: failure,
    remediation: `\`${deps.program} logs ${reach.target.name}\` shows the boot service's error (the failed file is kept in ${OVERRIDE_HISTORY_DIR}).`,
  });
}

function render(deps: Deps, r: ExecutorsResult): void {
  const { io } = deps;
  if (r.applied) io.success(`${r.name} runs ${r.count} executor replica${r.count === 1 ? '' : 's'} (applied in ${r.applied.seconds} s).`);
  io.info(
    [
      '',
      'Add this to the site configuration (Site admin > Site configuration), with the token in place of the placeholder:',
      '  {',
      '    "executors.accessToken": "<token>",',
      `    "executors.frontendURL": "${EXECUTOR_FRONTEND_URL}"`,
      '  }',
      `The token stays on the instance; print it with \`${r.readTokenCommand}\`.`,
    ].join('\n'),
  );
}

export interface ExecutorsTokenResult {
  name: string;
  token: string;
}

/**
 * `executors token [name]`: the executor access token from the data volume, read as root over the
 * channel `config` chooses. Only the file's path is on the instance's command line (the token comes
 * back as the command's output); exit 1 when the volume has none yet (`executors enable` makes it).
 */
export async function runExecutorsToken(deps: Deps, nameArg: string | undefined, flags: ExecutorsTokenFlags): Promise<ExecutorsTokenResult> {
  const { io } = deps;
  const reach = await reachInstance(deps, nameArg, flags);
  const { target } = reach;
  const channel = await openChannel(deps, reach, flags);
  let out: string;
  try {
    out = await execOrFail(channel, asRoot(`if [ -s ${EXECUTOR_SECRET_PATH} ]; then printf 'token '; head -n 1 ${EXECUTOR_SECRET_PATH}; else echo none; fi`), 'read the executor access token');
  } finally {
    await channel.close().catch(() => undefined);
  }
  const line = out.split('\n').map((l) => l.trim()).find((l) => l === 'none' || l.startsWith('token ')) ?? '';
  const token = line.startsWith('token ') ? line.slice('token '.length).trim() : '';
  if (!token) {
    const where = `${target.provider.id === defaultProvider().id ? '' : ` --cloud ${target.provider.id}`} --region ${target.region}`;
    throw new LaunchError('executor-token-not-found', ExitCode.failed, `${target.name} has no executor access token yet (${EXECUTOR_SECRET_PATH})`, {
      remediation: `\`${deps.program} executors enable ${target.name}${where}\` makes one on the instance.`,
    });
  }
  const result = { name: target.name, token };
  if (io.json) io.result(result);
  else io.info(token);
  return result;
}
