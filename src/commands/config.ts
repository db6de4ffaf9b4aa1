// `config show|edit|set|rollback [name]`: the customer's Helm overrides (/mnt/data/override.yaml on
// the data volume, applied last so they win) without SSHing in and editing YAML by hand. A new file
// is checked first (YAML, a map, only the chart's top-level keys), the one it replaces is kept on
// the data volume (the last few, for `config rollback`), and it is applied the way the appliance
// applies it at boot: the boot service reinstalls Sourcegraph with Helm when override.yaml exists,
// so `config` restarts that service and waits for it, for the pods to settle and for /healthz.
// It reaches the instance over SSH when SSH is open and answers, else through the cloud's run-command
// channel (Azure Run Command), or as --via says (instance-access.ts: openChannel).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, InterruptedError, LaunchError, UsageError, WaitTimeoutError } from '../core/errors.js';
import { placementWarning, statefulPlacementChanges, type PlacementChange } from '../core/workload-placement.js';
import { isAbortError } from '../engine/clock.js';
import { BOOT_STATUS_PATH, K3S_KUBECTL, summarizePods } from '../engine/wait.js';
import type { Remote } from '../remote/remote.js';
import { checkHttpsAfterWait, type HttpsCheck } from '../workflows/https-check.js';
import { confirmOrYes, managedHealth, probeHealth } from '../workflows/shared.js';
import { applyAssignments, checkTopLevelKeys, coalesce, parseAssignment, parseValues, toYaml, type Assignment, type Values } from './config-values.js';
import type { Deps, GlobalFlags } from './deps.js';
import { asRoot, execOrFail, openChannel, reachInstance, type AccessFlags, type InstanceAccess } from './instance-access.js';

export const OVERRIDE_PATH = '/mnt/data/override.yaml';
export const OVERRIDE_HISTORY_DIR = '/mnt/data/.sourcegraph-launch/override-history';
const INHERITED_PATH = '/mnt/data/.sourcegraph-launch/inherited-values.yaml';
export const STATE_DIR = '/var/lib/sourcegraph-launch';
const BOOT_UNIT = 'sourcegraph-boot.service';
/** Files kept for `config rollback` (and as many set aside by rollbacks). */
export const KEEP_PREVIOUS = 5;
const ROLLED_BACK = '-rolled-back.yaml';
const DEFAULT_TIMEOUT_MIN = 30;
const ACTIONS = ['show', 'edit', 'set', 'rollback'] as const;
type Action = (typeof ACTIONS)[number];

const TEMPLATE = `# Sourcegraph Helm values that override the size's defaults (applied last, so they win).
# See https://sourcegraph.com/docs/admin/deploy/kubernetes/helm for what can be set, e.g.:
# frontend:
#   env:
#     SRC_LOG_LEVEL:
#       value: info
# The stateful services (pgsql, gitserver, indexedSearch, …) are pinned to the server node by the
# tool's values/common.yaml (nodeSelector sourcegraph-launch/role: server); changing that here is
# at your own risk.
`;

export interface ConfigFlags extends AccessFlags, GlobalFlags {
  operands?: string[];
  file?: string;
  timeout?: string;
  /** ssh | run-command: how to reach the instance (default: SSH when open, else the cloud's run-command channel). */
  via?: string;
}

export interface ConfigFiles {
  size: string;
  /** values/common.yaml: what every size shares (the stateful services pinned to the server); absent on older images. */
  commonValues?: string;
  sizeValues?: string;
  inherited?: string;
  override?: string;
  /** The chart's own values.yaml, for its top-level keys; absent on images without the saved chart. */
  chartValues?: string;
  /** Earlier override files, oldest first (file names in OVERRIDE_HISTORY_DIR). */
  history: string[];
}

export interface ConfigResult {
  name: string;
  action: Action;
  /** The customer's file as it is now (after the change, when one was made); null when there is none. */
  override: string | null;
  /** The values Helm gets: the shared ones (common.yaml), the size's, the volume's pinned or inherited ones, then override.yaml. */
  effective?: Values;
  /** Stateful services whose nodeSelector override.yaml changes (warned about: at the customer's own risk). */
  placementChanges?: PlacementChange[];
  changed: boolean;
  /** The file the change replaced, kept for `config rollback`. */
  previousSavedAs?: string;
  restored?: string;
  applied?: { seconds: number; version?: string; pods: string };
  /** After applying, on a deployment with HTTPS on its own domain (`tls`): https://<domain>/healthz probed with the certificate verified. */
  https?: HttpsCheck;
  history?: string[];
}

export function parseConfigArgs(operands: string[]): { action: Action; name?: string; assignments: Assignment[] } {
  const [word, ...rest] = operands;
  if (!word || !(ACTIONS as readonly string[]).includes(word)) {
    throw new UsageError(word ? `config: unknown action "${word}"` : 'config: which action?', { code: 'invalid-action', remediation: 'Give one of: config show | edit | set KEY=VALUE… | rollback [name].' });
  }
  const action = word as Action;
  // `config set [name] KEY=VALUE…`: the one word without "=" is the deployment's name.
  const names = rest.filter((a) => !a.includes('='));
  const settings = rest.filter((a) => a.includes('='));
  if (names.length > 1) throw new UsageError(`config ${action}: one deployment name at most, got ${names.join(', ')}`);
  if (action !== 'set' && settings.length) throw new UsageError(`config ${action} takes no KEY=VALUE (that is \`config set\`)`);
  if (action === 'set' && !settings.length) throw new UsageError('config set needs at least one KEY=VALUE, e.g. `config set frontend.replicaCount=2`');
  return { action, ...(names[0] !== undefined ? { name: names[0] } : {}), assignments: settings.map(parseAssignment) };
}

export async function runConfig(deps: Deps, nameArg: string | undefined, flags: ConfigFlags): Promise<ConfigResult> {
  const result = await configure(deps, nameArg, flags);
  if (deps.io.json) deps.io.result(result);
  return result;
}

async function configure(deps: Deps, nameArg: string | undefined, flags: ConfigFlags): Promise<ConfigResult> {
  const { action, assignments } = parseConfigArgs(flags.operands ?? []);
  const timeoutMin = flags.timeout === undefined ? DEFAULT_TIMEOUT_MIN : Number(flags.timeout);
  if (!Number.isFinite(timeoutMin) || timeoutMin <= 0 || timeoutMin > 180) throw new UsageError(`--timeout: "${flags.timeout}" must be minutes from 1 to 180`);
  if (flags.file !== undefined && action !== 'edit') throw new UsageError('--file goes with `config edit` (the file to upload instead of opening an editor)');
  const fromFile = flags.file !== undefined ? readLocal(flags.file) : undefined;
  const editor = deps.env.VISUAL || deps.env.EDITOR || 'vi';
  if (action === 'edit' && fromFile === undefined && !(deps.terminal?.stdin.isTTY && deps.terminal.stdout.isTTY)) {
    throw new UsageError('config edit opens your editor, which needs a terminal', { remediation: 'Pass the new file with `config edit --file override.yaml`, or change single values with `config set KEY=VALUE`.' });
  }

  const reach = await reachInstance(deps, nameArg, flags);
  const remote = await openChannel(deps, reach, flags);
  try {
    const files = await readConfigFiles(remote, reach);
    const result: ConfigResult = { name: reach.target.name, action, override: files.override ?? null, changed: false, history: files.history };
    if (action === 'show') {
      result.effective = effectiveValues(files);
      renderShow(deps, files, result.effective);
      warnPlacement(deps, result, files, result.effective, reach.target.name);
      return result;
    }

    let text: string;
    let restoring: string | undefined;
    if (action === 'rollback') {
      restoring = files.history.filter((f) => !f.endsWith(ROLLED_BACK)).at(-1);
      if (!restoring) {
        throw new LaunchError('no-previous-config', ExitCode.failed, `${reach.target.name} has no earlier override.yaml to go back to`, {
          remediation: `\`config\` keeps the file each change replaces in ${OVERRIDE_HISTORY_DIR}; there is none yet.`,
        });
      }
      text = await readRemoteFile(remote, `${OVERRIDE_HISTORY_DIR}/${restoring}`);
    } else if (action === 'set') {
      text = applyAssignments(files.override ?? '', assignments, OVERRIDE_PATH);
    } else {
      text = fromFile ?? editInEditor(editor, files.override ?? TEMPLATE);
    }

    // Checked before anything is uploaded: a bad file changes nothing.
    const values = parseValues(text, action === 'edit' && flags.file ? flags.file : 'the new override.yaml');
    if (files.chartValues !== undefined) checkTopLevelKeys(values, Object.keys(parseValues(files.chartValues, 'the chart\'s values.yaml')), action === 'edit' && flags.file ? flags.file : 'the new override.yaml');
    else deps.io.warn('This image has no saved Sourcegraph chart to check the keys against: only the YAML was checked.');
    if (files.override !== undefined && text === files.override && action !== 'rollback') {
      deps.io.info('The override file is unchanged: nothing changed.');
      return result;
    }

    deps.io.info(`New ${OVERRIDE_PATH}:\n${indent(text.trim() ? text : '(empty)')}`);
    // Before the question: moving a stateful service off the server is allowed, but said first.
    warnPlacement(deps, result, files, effectiveValues({ ...files, override: text }), reach.target.name);
    await confirmOrYes(
      deps,
      flags,
      `${action === 'rollback' ? `Restore the override file of ${restoring}` : 'Upload it'} and apply it to ${reach.target.name}? Sourcegraph is reinstalled with Helm and its pods restart (a few minutes).`,
      `apply a new override.yaml to ${reach.target.name}`,
    );
    const saved = await writeOverride(remote, text, restoring);
    result.changed = true;
    result.override = text;
    if (saved) result.previousSavedAs = `${OVERRIDE_HISTORY_DIR}/${saved}`;
    if (restoring) result.restored = `${OVERRIDE_HISTORY_DIR}/${restoring}`;
    deps.io.info(saved ? `Saved the previous file as ${result.previousSavedAs} (\`config rollback\` restores it).` : `Wrote ${OVERRIDE_PATH}.`);
    result.effective = effectiveValues({ ...files, override: text });
    result.applied = await applyAndWait(deps, remote, reach, timeoutMin * 60_000);
    const https = await checkHttpsAfterWait(deps, reach.target);
    if (https) result.https = https;
    deps.io.success(`${reach.target.name} serves ${result.applied.version ?? 'again'} with the new values (applied in ${result.applied.seconds} s).`);
    return result;
  } finally {
    await remote.close().catch(() => undefined);
  }
}

function readLocal(path: string): string {
  if (!existsSync(path)) throw new UsageError(`--file ${path}: no such file`);
  return readFileSync(path, 'utf8');
}

function editInEditor(editor: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sgl-config-'));
  const file = join(dir, 'override.yaml');
  try {
    writeFileSync(file, text, { mode: 0o600 });
    // The editor gets the terminal; $EDITOR may carry arguments ("code --wait"), as git allows.
    const run = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], { stdio: 'inherit' });
    if (run.error || run.status !== 0) throw new UsageError(`The editor (${editor}) ${run.error ? `did not start: ${run.error.message}` : `exited ${String(run.status)}`}: nothing changed`);
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The values Helm gets, in the boot service's order: common.yaml, the size's, the volume's, override.yaml. */
export function effectiveValues(files: Pick<ConfigFiles, 'commonValues' | 'sizeValues' | 'inherited' | 'override'>): Values {
  const layer = (text: string | undefined, where: string) => (text === undefined ? {} : parseValues(text, where));
  return coalesce(
    layer(files.commonValues, 'the shared values (common.yaml)'),
    layer(files.sizeValues, 'the size\'s values'),
    layer(files.inherited, INHERITED_PATH),
    layer(files.override, OVERRIDE_PATH),
  );
}

/** Warns (and records in the result) when override.yaml moves a stateful service off the server. */
function warnPlacement(deps: Deps, result: ConfigResult, files: ConfigFiles, effective: Values, name: string): void {
  const changes = statefulPlacementChanges(effectiveValues({ ...files, override: undefined }), effective);
  if (!changes.length) return;
  result.placementChanges = changes;
  deps.io.warn(placementWarning(changes, deps.program, name));
}

function renderShow(deps: Deps, files: ConfigFiles, effective: Values): void {
  const { io } = deps;
  io.info(`${OVERRIDE_PATH} (yours, applied last):`);
  io.info(indent(files.override === undefined ? '(none)' : files.override.trim() || '(empty)'));
  io.info(`\nWhat Helm gets (${files.commonValues === undefined ? '' : 'values/common.yaml, then '}values/${files.size}.yaml, then the volume's ${files.inherited === undefined ? '(no inherited values)' : 'inherited-values.yaml'}, then override.yaml):`);
  io.info(indent(toYaml(effective).trim()));
  if (files.sizeValues === undefined) io.warn(`No size values at ${STATE_DIR}/values/${files.size}.yaml: this image was not built by sourcegraph-launch, so only override.yaml is shown as ours.`);
  const previous = files.history.filter((f) => !f.endsWith(ROLLED_BACK));
  if (previous.length) io.info(`\nEarlier files (\`config rollback\` restores the newest): ${previous.join(', ')}`);
}

function indent(text: string): string {
  return text.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n');
}


export async function readConfigFiles(remote: Pick<Remote, 'exec'>, reach: InstanceAccess): Promise<ConfigFiles> {
  const size = safeWord(reach.instance.labels.size ?? reach.deployment.size ?? 'M');
  const version = safeWord(reach.instance.labels.version ?? reach.deployment.version ?? '');
  const out = await execOrFail(
    remote,
    asRoot(`set -u
emit() { if [ -f "$2" ]; then printf '%s %s\\n' "$1" "$(base64 -w0 < "$2")"; else printf '%s -\\n' "$1"; fi; }
size=$(sed -n 's/^SG_IMAGE_SIZE=//p' /etc/sourcegraph-launch/image.env 2>/dev/null | tr -d "\\"'")
[ -n "$size" ] || size='${size}'
printf 'size %s\\n' "$size"
emit common-values "${STATE_DIR}/values/common.yaml"
emit size-values "${STATE_DIR}/values/$size.yaml"
emit inherited ${INHERITED_PATH}
emit override ${OVERRIDE_PATH}
chart=${STATE_DIR}/charts/sourcegraph-${version}.tgz
if [ -f "$chart" ]; then printf 'chart-values %s\\n' "$(tar -xzOf "$chart" sourcegraph/values.yaml | base64 -w0)"; else printf 'chart-values -\\n'; fi
printf 'history %s\\n' "$(ls -1 ${OVERRIDE_HISTORY_DIR} 2>/dev/null | sort | tr '\\n' ' ')"
`),
    'read the configuration files',
  );
  const fields = new Map(out.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.slice(l.indexOf(' ') + 1).replace(/^ /, '')] as const));
  const file = (key: string): string | undefined => {
    const v = fields.get(key);
    return v === undefined || v === '-' ? undefined : Buffer.from(v, 'base64').toString('utf8');
  };
  return {
    size: fields.get('size') ?? size,
    commonValues: file('common-values'),
    sizeValues: file('size-values'),
    inherited: file('inherited'),
    override: file('override'),
    chartValues: file('chart-values'),
    history: (fields.get('history') ?? '').split(' ').filter((f) => f.endsWith('.yaml')),
  };
}

export function safeWord(s: string): string {
  if (!/^[A-Za-z0-9._-]*$/.test(s)) throw new LaunchError('unexpected-label', ExitCode.failed, `Unexpected label value "${s}" on the instance`);
  return s;
}

async function readRemoteFile(remote: Pick<Remote, 'exec'>, path: string): Promise<string> {
  const b64 = await execOrFail(remote, asRoot(`base64 -w0 < '${path.split('/').map((part) => (part ? safeWord(part) : part)).join('/')}'`), `read ${path}`);
  return Buffer.from(b64.trim(), 'base64').toString('utf8');
}

/** Uploads the new file and swaps it in, keeping the one it replaces; returns the kept file's name. */
export async function writeOverride(remote: Pick<Remote, 'exec'>, text: string, restoring: string | undefined): Promise<string | undefined> {
  const b64 = Buffer.from(text).toString('base64');
  // Keep the replaced file under a name that sorts by time; a rollback's is set aside apart from
  // the files rollback goes back through, so rolling back twice goes two files back.
  const out = await execOrFail(
    remote,
    asRoot(`set -eu
umask 077
d=${OVERRIDE_HISTORY_DIR}
mkdir -p "$d"
saved=
if [ -f ${OVERRIDE_PATH} ]; then saved="$(date -u +%Y%m%dT%H%M%S.%NZ)${restoring ? ROLLED_BACK : '.yaml'}"; cp -p ${OVERRIDE_PATH} "$d/$saved"; fi
printf '%s' '${b64}' | base64 -d > ${OVERRIDE_PATH}.sgl-new
mv -f ${OVERRIDE_PATH}.sgl-new ${OVERRIDE_PATH}
${restoring ? `rm -f "$d/${safeWord(restoring)}"` : ''}
ls -1 "$d" | grep -v -- '${ROLLED_BACK}$' | sort | head -n -${KEEP_PREVIOUS} | while read -r f; do rm -f "$d/$f"; done
ls -1 "$d" | grep -- '${ROLLED_BACK}$' | sort | head -n -${KEEP_PREVIOUS} | while read -r f; do rm -f "$d/$f"; done
printf 'saved %s\\n' "$saved"
`),
    `write ${OVERRIDE_PATH}`,
  );
  const saved = /^saved (\S*)/m.exec(out)?.[1];
  return saved || undefined;
}

/**
 * Restarts the boot service (which reinstalls with override.yaml) and waits until it finished a
 * run that started after the restart, the pods are ready and /healthz answers.
 */
export async function applyAndWait(deps: Deps, remote: Pick<Remote, 'exec'>, reach: InstanceAccess, timeoutMs: number): Promise<NonNullable<ConfigResult['applied']>> {
  const { clock, io } = deps;
  const started = clock.now();
  let since: number;
  try {
    since = Number((await execOrFail(remote, asRoot(`date -u +%s\nsystemctl restart --no-block ${BOOT_UNIT}`), `restart ${BOOT_UNIT}`)).trim().split('\n')[0]);
  } catch (e) {
    // Published images have their own boot script and no such unit: they apply the file at boot.
    throw new LaunchError('config-apply-failed', ExitCode.failed, `${(e as Error).message}. The new override.yaml is written but not applied`, {
      cause: e,
      remediation: `On an image without sourcegraph-launch's boot service (a published image), reboot the instance to apply it; \`${deps.program} config rollback ${reach.target.name}\` restores the previous file.`,
    });
  }
  const progress = io.progress(`Applying override.yaml (${BOOT_UNIT} reinstalls Sourcegraph)`);
  const resume = `Watch it with \`${deps.program} logs ${reach.target.name} --follow\`; \`${deps.program} config show ${reach.target.name}\` shows what is applied.`;
  const poll = deps.pollMs ?? 5000;
  try {
    let pods = '';
    for (;;) {
      if (clock.now() - started > timeoutMs) {
        throw new WaitTimeoutError('config-apply', `The new values were written but ${reach.target.name} did not settle within ${Math.round(timeoutMs / 60_000)} min (${pods || 'boot service still running'})`, {
          remediation: `The boot service goes on by itself. ${resume}`,
        });
      }
      const state = await bootState(remote);
      const fresh = state.status?.startedAt !== undefined && Date.parse(state.status.startedAt) / 1000 >= since - 1;
      if (state.unit === 'failed' || (fresh && state.status?.stage === 'failed')) {
        throw new LaunchError('config-apply-failed', ExitCode.failed, `Applying the new values failed on ${reach.target.name}: ${state.status?.lastError ?? `${BOOT_UNIT} failed`}`, {
          remediation: `\`${deps.program} config rollback ${reach.target.name}\` restores the previous file and applies it. ${resume}`,
          details: { bootStatus: state.status ?? null },
        });
      }
      if (fresh && state.unit === 'active' && state.status?.stage === 'done') {
        const summary = summarizePods(await execOrFail(remote, `${K3S_KUBECTL} get pods -A -o json`, 'list the pods'));
        pods = summary.text;
        if (summary.settled) {
          // Behind tls --tls managed's load balancer the address answers only the balancer: ask the site.
          const site = managedHealth(deps.state.getDeployment(reach.target.cloud, reach.target.region, reach.target.name));
          const health = reach.host || site ? await probeHealth(deps, reach.host, site) : undefined;
          if (!health || health.status === 200) {
            progress.succeed(health?.version ? `serving ${health.version}` : 'done');
            return { seconds: Math.round((clock.now() - started) / 1000), ...(health?.version ? { version: health.version } : {}), pods: summary.text };
          }
          progress.update(`/healthz: ${health?.error ?? `HTTP ${String(health?.status)}`}`);
        } else progress.update(`pods: ${summary.text}`);
      } else progress.update(fresh ? `boot service: ${state.status?.stage ?? state.unit}` : 'boot service starting');
      await clock.sleep(poll, deps.signal);
    }
  } catch (e) {
    progress.fail();
    if (isAbortError(e)) {
      throw new InterruptedError(`Interrupted: the new values are written and ${BOOT_UNIT} goes on applying them on the instance`, { remediation: resume });
    }
    throw e;
  }
}

async function bootState(remote: Pick<Remote, 'exec'>): Promise<{ unit: string; status?: { stage?: string; startedAt?: string; lastError?: string } }> {
  const out = await execOrFail(
    remote,
    asRoot(`printf 'unit %s\\n' "$(systemctl is-active ${BOOT_UNIT} 2>/dev/null || true)"
if [ -f ${BOOT_STATUS_PATH} ]; then printf 'status %s\\n' "$(base64 -w0 < ${BOOT_STATUS_PATH})"; else echo 'status -'; fi`),
    'read the boot status',
  );
  const unit = /^unit (.*)$/m.exec(out)?.[1]?.trim() ?? 'unknown';
  const raw = /^status (.*)$/m.exec(out)?.[1]?.trim();
  let status: { stage?: string; startedAt?: string; lastError?: string } | undefined;
  if (raw && raw !== '-') {
    try {
      status = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as typeof status;
    } catch {
      status = undefined;
    }
  }
  return { unit, ...(status ? { status } : {}) };
}
