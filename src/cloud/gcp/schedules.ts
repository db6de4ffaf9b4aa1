// Scheduled snapshots: a snapshot schedule resource policy per deployment (regional), attached to
// the deployment's data disks (and given to a new data disk at creation). Resource policies carry
// no labels, so the deployment and retention live in the description; a new retention is a new
// policy (they cannot be changed in place), the disks move to it and the old one goes.
import { CloudError } from '../../core/errors.js';
import type { SnapshotSchedule, SnapshotScheduleSpec } from '../port.js';
import { call, listAll, mutate, type GceContext, type Json } from './context.js';
import { isGceError, isNotFound } from './errors.js';
import { lastSegment, parseRegional } from './mappers.js';
import { labelFilter, regionZones } from './network.js';
import { scheduleBody } from './request-builders.js';

const MARK = 'sourcegraph-launch ';

function described(raw: Json): { deployment?: string; retain?: number } {
  const d = String(raw.description ?? '');
  if (!d.startsWith(MARK)) return {};
  try {
    return JSON.parse(d.slice(MARK.length)) as { deployment?: string; retain?: number };
  } catch {
    return {};
  }
}

export async function findScheduleRaw(c: GceContext, deployment: string): Promise<Json | undefined> {
  const all = await listAll<Json>(c, 'resourcePolicies.list', `regions/${c.region}/resourcePolicies`);
  return all.find((p) => described(p).deployment === deployment && p.status !== 'DELETING');
}

function toSchedule(raw: Json, region: string): SnapshotSchedule {
  const retain = described(raw).retain ?? Number((raw.snapshotSchedulePolicy as Json | undefined)?.retentionPolicy && ((raw.snapshotSchedulePolicy as Json).retentionPolicy as Json).maxRetentionDays);
  return {
    id: `regions/${region}/resourcePolicies/${String(raw.name)}`,
    state: String(raw.status ?? 'READY') === 'READY' ? 'enabled' : String(raw.status).toLowerCase(),
    schedule: 'daily',
    retain,
    copiesLabels: true,
  };
}

export async function findSnapshotSchedule(c: GceContext, deployment: string): Promise<SnapshotSchedule | undefined> {
  const raw = await findScheduleRaw(c, deployment);
  return raw && toSchedule(raw, c.region);
}

async function dataDisks(c: GceContext, deployment: string): Promise<Json[]> {
  const zones = await regionZones(c);
  const lists = await Promise.all(zones.map((z) => listAll<Json>(c, 'disks.list', `zones/${z}/disks`, labelFilter('deployment', deployment))));
  return lists.flat().filter((d) => (d.labels as Record<string, string> | undefined)?.['sourcegraph-launch-role'] === 'data-volume');
}

function diskPath(d: Json): string {
  return `zones/${lastSegment(String(d.zone))}/disks/${String(d.name)}`;
}

function uses(d: Json, policyName: string): boolean {
  return ((d.resourcePolicies ?? []) as string[]).some((p) => lastSegment(p) === policyName);
}

export async function ensureSnapshotSchedule(c: GceContext, spec: SnapshotScheduleSpec): Promise<SnapshotSchedule> {
  let current = await findScheduleRaw(c, spec.deployment);
  const body = scheduleBody(spec, c.region);
  const id = `regions/${c.region}/resourcePolicies/${String(body.name)}`;
  if (current && described(current).retain !== spec.retain) {
    // A policy cannot be changed in place: off the disks, deleted, made again under the same name.
    await deleteSnapshotSchedule(c, `regions/${c.region}/resourcePolicies/${String(current.name)}`);
    current = undefined;
  }
  if (!current) {
    await call(c, 'resourcePolicies.insert', async () => {
      try {
        await mutate(c, 'POST', `regions/${c.region}/resourcePolicies`, { body });
      } catch (err) {
        if (!isGceError(err, 'alreadyExists')) throw err;
      }
    });
    current = await findScheduleRaw(c, spec.deployment);
    if (!current) throw new CloudError('schedule-not-created', `The snapshot schedule ${String(body.name)} was not created`);
  }
  const name = String(current.name);
  await call(c, 'disks.addResourcePolicies', async () => {
    for (const disk of await dataDisks(c, spec.deployment)) {
      if (!uses(disk, name)) await mutate(c, 'POST', `${diskPath(disk)}/addResourcePolicies`, { body: { resourcePolicies: [id] } });
    }
  });
  return toSchedule(current, c.region);
}

export async function deleteSnapshotSchedule(c: GceContext, id: string): Promise<void> {
  const r = parseRegional(id, 'resourcePolicies');
  if (!r) return;
  const all = await listAll<Json>(c, 'resourcePolicies.list', `regions/${r.region}/resourcePolicies`);
  const raw = all.find((p) => p.name === r.name);
  if (!raw) return;
  const deployment = described(raw).deployment;
  await call(c, 'resourcePolicies.delete', async () => {
    if (deployment) {
      for (const disk of await dataDisks(c, deployment)) {
        if (uses(disk, r.name)) await mutate(c, 'POST', `${diskPath(disk)}/removeResourcePolicies`, { body: { resourcePolicies: [`regions/${r.region}/resourcePolicies/${r.name}`] } });
      }
    }
    try {
      await mutate(c, 'DELETE', `regions/${r.region}/resourcePolicies/${r.name}`);
    } catch (err) {
      if (!isNotFound(err) && !isGceError(err, 'resourceNotReady')) throw err;
    }
  });
}
