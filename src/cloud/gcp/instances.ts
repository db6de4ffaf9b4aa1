// Instances: created once per idempotency key (the name and the requestId both derive from it),
// described, started, stopped, deleted and waited for; the serial console for boot diagnosis.
import { createHash, randomUUID } from 'node:crypto';
import { CloudError, WaitTimeoutError } from '../../core/errors.js';
import type { Instance, InstanceHealth, InstanceSpec, InstanceState } from '../port.js';
import { call, getOrUndefined, listAll, mutate, pollUntil, request, type GceContext, type Json, type Operation } from './context.js';
import { GceApiError, isGceError, isNotFound, toLaunchError } from './errors.js';
import { parseZonal, regionOfZone, requestIdFor, toInstance } from './mappers.js';
import { instanceBody, instanceName } from './request-builders.js';
import { describeImage } from './images.js';
import { findScheduleRaw } from './schedules.js';

function path(id: string): string | undefined {
  const z = parseZonal(id, 'instances');
  return z && `zones/${z.zone}/instances/${z.name}`;
}

export async function describeInstanceRaw(c: GceContext, id: string): Promise<Json | undefined> {
  const p = path(id);
  return p ? getOrUndefined(c, 'instances.get', p) : undefined;
}

export async function describeInstance(c: GceContext, id: string): Promise<Instance | undefined> {
  const raw = await describeInstanceRaw(c, id);
  return raw && toInstance(raw, c.project);
}

/** Every instance of the project (all zones of the region), optionally filtered. */
export async function listInstances(c: GceContext, zones: string[], filter?: string): Promise<Instance[]> {
  const lists = await Promise.all(zones.map((z) => listAll<Json>(c, 'instances.list', `zones/${z}/instances`, filter)));
  return lists.flat().map((raw) => toInstance(raw, c.project));
}

export async function ensureInstance(c: GceContext, spec: InstanceSpec): Promise<Instance> {
  const zone = spec.placement.zone;
  const name = instanceName(spec);
  const id = `zones/${zone}/instances/${name}`;
  const existing = await describeInstance(c, id);
  if (existing) {
    if (existing.machineType !== spec.machineType || (existing.imageId && existing.imageId !== spec.imageId)) {
      throw new CloudError('idempotency-mismatch', `Instance ${id} was made for this step with another machine type or image`, {
        remediation: 'Run the command again with the settings of the first attempt, or destroy the deployment and launch anew.',
      });
    }
    return existing;
  }
  const schedule = spec.role === 'instance' ? await findScheduleRaw(c, spec.deployment) : undefined;
  // A new data disk of an image we built starts from the image's prepared data disk (its data
  // template), also when the caller did not name it: on AWS the one AMI holds both disks.
  if (spec.dataDisk.mode === 'new' && !spec.dataTemplateId) {
    const template = (await describeImage(c, spec.imageId))?.dataTemplateId;
    if (template) spec = { ...spec, dataTemplateId: template };
  }
  const body = instanceBody(spec, { project: c.project, ...(schedule ? { schedulePolicy: String(schedule.selfLink) } : {}) });
  await call(
    c,
    'instances.insert',
    async () => {
      try {
        try {
          await mutate(c, 'POST', `zones/${zone}/instances`, { body, requestId: requestIdFor(c.project, spec.idempotencyKey) });
        } catch (err) {
          // Compute answers a requestId it has seen with that request's Operation, failed ones too:
          // a failed earlier attempt of this key would fail every retry. Once more under a fresh id.
          if (!(err instanceof GceApiError && err.extra.fromOperation)) throw err;
          await mutate(c, 'POST', `zones/${zone}/instances`, { body, requestId: randomUUID() });
        }
      } catch (err) {
        // The name is taken: a concurrent attempt of this key made it between the get and the insert.
        if (!isGceError(err, 'alreadyExists')) throw err;
      }
    },
    { machineType: spec.machineType },
  );
  const made = await describeInstance(c, id);
  if (made) return made;
  // Compute answered this key's Operation again (requestId seen before) and the instance is gone:
  // the key is spent; like EC2, the dead instance is the answer and the workflow moves on.
  return {
    id,
    state: 'terminated',
    machineType: spec.machineType,
    imageId: spec.imageId,
    zone,
    accessPolicyIds: spec.accessPolicyIds,
    disks: [],
    labels: spec.labels,
    foreignLabels: {},
    idempotencyKey: spec.idempotencyKey,
  };
}

async function act(c: GceContext, id: string, verb: 'start' | 'stop'): Promise<void> {
  const p = path(id);
  const raw = p ? await describeInstanceRaw(c, id) : undefined;
  if (!p || !raw) throw new CloudError('instance-not-found', `Instance ${id} was not found`, { remediation: '`sourcegraph-launch status` shows what the deployment has now.' });
  const state = toInstance(raw, c.project).state;
  if (verb === 'stop' && (state === 'stopped' || state === 'stopping')) return;
  if (verb === 'start' && (state === 'running' || state === 'pending')) return;
  if (verb === 'start' && state === 'stopping') {
    throw new CloudError('incorrect-state', `Instance ${id} is still stopping`, { remediation: 'Wait until it has stopped, then run the same command again.' });
  }
  await call(c, `instances.${verb}`, () => mutate(c, 'POST', `${p}/${verb}`));
}

export const startInstance = (c: GceContext, id: string) => act(c, id, 'start');
export const stopInstance = (c: GceContext, id: string) => act(c, id, 'stop');

/** Deletes it (disks marked autoDelete go with it); a missing instance is already gone. */
export async function terminateInstance(c: GceContext, id: string): Promise<void> {
  const p = path(id);
  if (!p) return;
  await call(c, 'instances.delete', async () => {
    try {
      // Not waited for: the delete runs on while the caller waits for 'terminated'.
      await request<Operation>(c, 'DELETE', p);
    } catch (err) {
      if (!isNotFound(err) && !isGceError(err, 'resourceNotReady')) throw err;
    }
  });
}

export async function waitForInstanceState(c: GceContext, id: string, state: InstanceState, timeoutMs: number): Promise<void> {
  await pollUntil(
    c,
    timeoutMs,
    async () => {
      const i = await describeInstance(c, id);
      if (!i) {
        if (state === 'terminated' || state === 'terminating') return true;
        throw new CloudError('instance-terminated', `Instance ${id} is gone while waiting for it to be ${state}`);
      }
      return i.state === state ? true : undefined;
    },
    () => new WaitTimeoutError(`instance-${state}`, `Instance ${id} did not become ${state} in ${Math.round(timeoutMs / 1000)} s`, { remediation: 'Run the same command again: it continues where it stopped.' }),
  );
}

/** Compute reports no health checks of its own for a plain instance. */
export async function instanceHealth(): Promise<InstanceHealth> {
  return { overall: 'not-applicable' };
}

/**
 * Serial port 1, plus the host keys the guest agent published (guest attributes `hostkeys/`) as a
 * fingerprint block in cloud-init's format, so the core reads both sources the same way.
 */
export async function consoleOutput(c: GceContext, id: string): Promise<string> {
  const p = path(id);
  if (!p) return '';
  let text = '';
  try {
    text = (await request<{ contents?: string }>(c, 'GET', `${p}/serialPort`, { query: { port: 1 } })).contents ?? '';
  } catch (err) {
    if (isNotFound(err)) return '';
    throw toLaunchError(err, { operation: 'instances.getSerialPortOutput', project: c.project, region: c.region });
  }
  const keys = await hostKeyLines(c, p);
  if (keys.length) {
    text += `\n-----BEGIN SSH HOST KEY FINGERPRINTS-----\n${keys.map(fingerprintLine).join('\n')}\n-----END SSH HOST KEY FINGERPRINTS-----\n`;
  }
  return text;
}

/** `ssh-ed25519 AAAA…` → `256 SHA256:… guest-attributes (ED25519)`, as cloud-init prints it. */
export function fingerprintLine(keyLine: string): string {
  const [type = '', blob = ''] = keyLine.trim().split(/\s+/);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '');
  const bits = type === 'ssh-ed25519' ? 256 : type.startsWith('ecdsa') ? Number(/(\d+)$/.exec(type)?.[1] ?? 256) : 3072;
  return `${bits} SHA256:${digest} guest-attributes (${type.replace(/^ssh-/, '').replace(/^ecdsa-sha2-nistp\d+$/, 'ecdsa').toUpperCase()})`;
}

/** The host keys the guest agent published under `hostkeys/`, as `type base64` lines. */
async function hostKeyLines(c: GceContext, p: string): Promise<string[]> {
  try {
    const answer = await request<{ queryValue?: { items?: { key?: string; value?: string }[] } }>(c, 'GET', `${p}/getGuestAttributes`, { query: { queryPath: 'hostkeys/' } });
    return (answer.queryValue?.items ?? []).flatMap((i) => {
      if (!i.key || !i.value) return [];
      const parts = i.value.trim().split(/\s+/);
      // The agent writes the key line ("ssh-ed25519 AAAA…") or only its base64 under the type's key.
      return [parts.length >= 2 ? `${parts[0]} ${parts[1]}` : `${i.key} ${parts[0]}`];
    });
  } catch (err) {
    if (isNotFound(err) || isGceError(err, 'invalid', 'badRequest')) return [];
    throw toLaunchError(err, { operation: 'instances.getGuestAttributes', project: c.project, region: c.region });
  }
}

export { regionOfZone };
