// The run-command channel on Compute Engine, which has no run-command API of its own: our images
// carry an agent (provision/gce-run-agent.sh, unit sourcegraph-run-agent.service) that polls the
// instance's metadata server. The tool puts one script in instance metadata (instances.setMetadata,
// key `sourcegraph-launch-run`: "<id> <base64 script>", with the metadata fingerprint, retried when
// another change won the race); the agent runs it as root once per id and writes what it printed
// back as guest attributes in namespace `sourcegraph-launch` (the metadata server's guest-attributes
// path), which the tool reads with instances.getGuestAttributes:
//   agent              "<agent version> <unix time>", refreshed every minute while the agent runs
//   run-<id>           "running" once picked up, then "done <exit code> <stdout parts>" (written last)
//   run-<id>-out-<n>   stdout, base64, in parts of at most 4,096 characters
//   run-<id>-err       the end of stderr, base64
// Once read, the tool removes the metadata key; the agent then deletes that run's attributes (it
// also does when it sees the next id). The protocol on top (src/remote/run-command-channel.ts)
// keeps each output within maxOutputBytes, so a run's attributes stay few and small.
// Guest attributes must be on (metadata `enable-guest-attributes` = TRUE): launch sets it on every
// instance it makes.
import { randomBytes } from 'node:crypto';
import { ExitCode, LaunchError } from '../../core/errors.js';
import type { RunScriptOutput } from '../../remote/run-command-channel.js';
import { call, mutate, request, type GceContext, type Json } from './context.js';
import { isGceError, isNotFound } from './errors.js';
import { parseZonal } from './mappers.js';

export const RUN_KEY = 'sourcegraph-launch-run';
export const GUEST_NAMESPACE = 'sourcegraph-launch';
const AGENT_ATTRIBUTE = `${GUEST_NAMESPACE}/agent`;

/**
 * A metadata value may hold 256 KiB and all of an instance's metadata less than 512 KB (ssh-keys and
 * user-data share it): a script is kept to 48 KiB (64 KiB once base64). The output one run hands
 * back is bounded by the protocol, which reads longer results in further runs.
 */
export const GCE_RUN_COMMAND_LIMITS = { name: 'the sourcegraph-launch agent (GCE guest attributes)', maxScriptBytes: 48 * 1024, maxOutputBytes: 16_000 } as const;

/** How long the agent (polling every few seconds) may take to pick a command up before it is called absent. */
const PICKUP_MS = 90_000;
/** An agent whose heartbeat is older than this is reported stale by doctor. */
const STALE_HEARTBEAT_S = 5 * 60;

const NO_AGENT_REMEDIATION =
  'Images built by sourcegraph-launch (build-image, or a launch with --image-source base) from this version on run the agent ' +
  '(sourcegraph-run-agent.service); older images and published Sourcegraph images do not. Open SSH to your address ' +
  '(launch … --ssh-cidr <your-ip>/32 --update) and use --via ssh, or upgrade to an image that has the agent.';

interface Where {
  zone: string;
  name: string;
  path: string;
}

function where(instanceId: string): Where {
  const z = parseZonal(instanceId, 'instances');
  if (!z) throw new LaunchError('run-command-failed', ExitCode.failed, `Not a Compute Engine instance id: ${instanceId}`);
  return { zone: z.zone, name: z.name, path: `zones/${z.zone}/instances/${z.name}` };
}

type MetadataItem = { key: string; value?: string };

async function readMetadata(c: GceContext, w: Where): Promise<{ fingerprint?: string; items: MetadataItem[] }> {
  const raw = await call(c, 'instances.get', () => request<Json>(c, 'GET', w.path));
  const metadata = (raw.metadata ?? {}) as { fingerprint?: string; items?: MetadataItem[] };
  return { ...(metadata.fingerprint ? { fingerprint: metadata.fingerprint } : {}), items: metadata.items ?? [] };
}

/** Replaces (value) or removes (undefined) our key, with the current fingerprint; re-read and retried when another change came first (412). */
async function setRunKey(c: GceContext, w: Where, value: string | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await readMetadata(c, w);
    const items = current.items.filter((i) => i.key !== RUN_KEY);
    if (value === undefined && items.length === current.items.length) return;
    if (value !== undefined) items.push({ key: RUN_KEY, value });
    try {
      await mutate(c, 'POST', `${w.path}/setMetadata`, { body: { ...(current.fingerprint ? { fingerprint: current.fingerprint } : {}), items } });
      return;
    } catch (err) {
      if (!isGceError(err, 'conditionNotMet') || attempt >= 4) return call(c, 'instances.setMetadata', () => Promise.reject(err));
      await c.sleep(c.pollIntervalMs);
    }
  }
}

/** One guest attribute, or undefined when it is not set (or guest attributes are off). */
async function guestAttribute(c: GceContext, w: Where, key: string): Promise<string | undefined> {
  try {
    const r = await request<{ variableValue?: string }>(c, 'GET', `${w.path}/getGuestAttributes`, { query: { variableKey: key } });
    return r.variableValue ?? '';
  } catch (err) {
    if (isNotFound(err)) return undefined;
    return call(c, 'instances.getGuestAttributes', () => Promise.reject(err));
  }
}

/** Every guest attribute of our namespace, `key` → value. */
async function guestAttributes(c: GceContext, w: Where): Promise<Map<string, string>> {
  try {
    const r = await request<{ queryValue?: { items?: { namespace?: string; key?: string; value?: string }[] } }>(c, 'GET', `${w.path}/getGuestAttributes`, { query: { queryPath: `${GUEST_NAMESPACE}/` } });
    return new Map((r.queryValue?.items ?? []).filter((i) => i.namespace === GUEST_NAMESPACE && i.key).map((i) => [i.key!, i.value ?? '']));
  } catch (err) {
    if (isNotFound(err)) return new Map();
    return call(c, 'instances.getGuestAttributes', () => Promise.reject(err));
  }
}

function guestAttributesOn(items: MetadataItem[]): boolean {
  return items.some((i) => i.key === 'enable-guest-attributes' && i.value?.toUpperCase() === 'TRUE');
}

/** Whether the agent has said it runs (its heartbeat), and why not. */
async function agentHeartbeat(c: GceContext, w: Where): Promise<{ version: string; at?: number } | { missing: string }> {
  const { items } = await readMetadata(c, w);
  if (!guestAttributesOn(items)) return { missing: `guest attributes are off on ${w.name} (metadata enable-guest-attributes is not TRUE), so its agent cannot answer` };
  const beat = await guestAttribute(c, w, AGENT_ATTRIBUTE);
  if (beat === undefined) return { missing: `no sourcegraph-launch agent has reported on ${w.name} (guest attribute ${AGENT_ATTRIBUTE}): its image does not run it, or it has not started yet` };
  const [version, at] = beat.trim().split(/\s+/);
  return { version: version || 'unknown', ...(at && /^\d+$/.test(at) ? { at: Number(at) } : {}) };
}

export async function runCommand(c: GceContext, instanceId: string, script: string, timeoutMs: number): Promise<RunScriptOutput> {
  const w = where(instanceId);
  const beat = await agentHeartbeat(c, w);
  if ('missing' in beat) {
    throw new LaunchError('run-command-no-agent', ExitCode.failed, `The run-command channel cannot reach ${w.name}: ${beat.missing}`, {
      remediation: guestAttributesOnRemedy(beat.missing, w) ?? NO_AGENT_REMEDIATION,
    });
  }
  const id = randomBytes(6).toString('hex');
  await setRunKey(c, w, `${id} ${Buffer.from(script).toString('base64')}`);
  const started = c.now();
  const statusKey = `${GUEST_NAMESPACE}/run-${id}`;
  let pickedUp = false;
  try {
    for (;;) {
      await c.sleep(c.pollIntervalMs);
      const status = await guestAttribute(c, w, statusKey);
      if (status !== undefined) pickedUp = true;
      const done = status && /^done (\d+) (\d+)$/.exec(status.trim());
      if (done) return await collect(c, w, id, Number(done[2]));
      const elapsed = c.now() - started;
      if (!pickedUp && elapsed > PICKUP_MS) {
        throw new LaunchError('run-command-failed', ExitCode.failed, `The sourcegraph-launch agent on ${w.name} did not pick the command up within ${Math.round(PICKUP_MS / 1000)} s`, {
          remediation: `It reported before (agent ${beat.version}) but may have stopped: \`sudo systemctl status sourcegraph-run-agent\` on the instance (serial console), or open SSH to your address and use --via ssh.`,
        });
      }
      if (elapsed > timeoutMs) {
        throw new LaunchError('run-command-timeout', ExitCode.timedOut, `The command on ${w.name} did not end within ${Math.round(timeoutMs / 1000)} s (the agent ${pickedUp ? 'is running it' : 'has not picked it up'})`, {
          remediation: 'It may still run on the instance; run the command again once it is idle.',
        });
      }
    }
  } finally {
    // The output may hold secrets: take the command away, so the agent deletes what it published.
    await setRunKey(c, w, undefined).catch(() => undefined);
  }
}

async function collect(c: GceContext, w: Where, id: string, parts: number): Promise<RunScriptOutput> {
  const all = await guestAttributes(c, w);
  let out = '';
  for (let n = 0; n < parts; n++) {
    const part = all.get(`run-${id}-out-${n}`);
    if (part === undefined) throw new LaunchError('run-command-output', ExitCode.failed, `The sourcegraph-launch agent on ${w.name} reported ${parts} output part(s) but part ${n} is missing`);
    out += part;
  }
  const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
  return { stdout: decode(out), stderr: decode(all.get(`run-${id}-err`)) };
}

function guestAttributesOnRemedy(missing: string, w: Where): string | undefined {
  if (!missing.startsWith('guest attributes are off')) return undefined;
  return `Turn them on (\`gcloud compute instances add-metadata ${w.name} --zone ${w.zone} --metadata enable-guest-attributes=TRUE\`; instances launched by sourcegraph-launch have them) and run again in a minute, or open SSH to your address and use --via ssh.`;
}

/** doctor's "run-command" check on GCE: the agent's heartbeat in the instance's guest attributes. */
export async function runCommandReady(c: GceContext, instanceId: string): Promise<{ ready: boolean; detail: string; fix?: string }> {
  const w = where(instanceId);
  const beat = await agentHeartbeat(c, w);
  if ('missing' in beat) return { ready: false, detail: `${beat.missing}: config, executors enable and disk grow need SSH open to you`, fix: guestAttributesOnRemedy(beat.missing, w) ?? NO_AGENT_REMEDIATION };
  const age = beat.at === undefined ? undefined : Math.max(0, Math.round(c.now() / 1000 - beat.at));
  if (age !== undefined && age > STALE_HEARTBEAT_S) {
    return {
      ready: false,
      detail: `the sourcegraph-launch agent on ${w.name} (${beat.version}) last reported ${Math.round(age / 60)} min ago: it may have stopped`,
      fix: 'Start the instance, or restart the agent (`sudo systemctl restart sourcegraph-run-agent`); meanwhile open SSH to your address and use --via ssh.',
    };
  }
  return { ready: true, detail: `the sourcegraph-launch agent on ${w.name} is running (${beat.version}${age !== undefined ? `, reported ${age} s ago` : ''}): config, executors enable and disk grow work without SSH` };
}
