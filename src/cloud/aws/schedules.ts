// Daily snapshots kept by Data Lifecycle Manager: one policy per deployment, found by its
// deployment tag among the policies that target the data volume's Name.
import { CloudError } from '../../core/errors.js';
import type { SnapshotSchedule, SnapshotScheduleSpec } from '../port.js';
import { call, type AwsContext } from './context.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import { tagKey } from './mappers.js';
import { scheduleTargetTag, snapshotSchedulePolicy } from './request-builders.js';
import type { DlmApi, DlmPolicy } from './sdk.js';

function requireDlm(c: AwsContext): DlmApi {
  if (!c.dlm) throw new CloudError('dlm-unavailable', 'Data Lifecycle Manager is not available in this adapter');
  return c.dlm;
}

async function callDlm<T>(c: AwsContext, operation: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toLaunchError(err, { operation, service: 'dlm', profile: c.profile, region: c.region });
  }
}

/**
 * Without a role, DLM acts as the account's default role, whose ARN names the account: asked of
 * STS when the caller did not say (only the dry run may print a placeholder instead).
 */
async function withAccount(c: AwsContext, spec: SnapshotScheduleSpec): Promise<SnapshotScheduleSpec> {
  if (spec.params.roleArn || spec.params.account) return spec;
  const identity = await call(c, 'GetCallerIdentity', () => c.sts.getCallerIdentity(), { service: 'sts' });
  if (!identity.Account) throw new CloudError('no-account', 'STS did not say which account the credentials belong to; pass the role DLM should act as');
  return { ...spec, params: { ...spec.params, account: identity.Account } };
}

function toSchedule(policy: DlmPolicy): SnapshotSchedule {
  const schedule = policy.PolicyDetails?.Schedules?.[0];
  const out: SnapshotSchedule = { id: policy.PolicyId ?? '', state: policy.State ?? '' };
  if (schedule?.Name) out.schedule = schedule.Name;
  if (schedule?.RetainRule?.Count !== undefined) out.retain = schedule.RetainRule.Count;
  if (schedule?.CopyTags !== undefined) out.copiesLabels = schedule.CopyTags;
  return out;
}

export async function findSnapshotSchedule(c: AwsContext, deployment: string): Promise<SnapshotSchedule | undefined> {
  const dlm = requireDlm(c);
  const target = scheduleTargetTag(deployment);
  const out = await callDlm(c, 'GetLifecyclePolicies', () => dlm.getLifecyclePolicies({ TargetTags: [`${target.Key}=${target.Value}`], ResourceTypes: ['VOLUME'] }));
  const ours = (out.Policies ?? []).find((p) => p.Tags?.[tagKey('deployment')] === deployment && p.PolicyId);
  if (!ours?.PolicyId) return undefined;
  const detail = await callDlm(c, 'GetLifecyclePolicy', () => dlm.getLifecyclePolicy({ PolicyId: ours.PolicyId! }));
  return detail.Policy ? toSchedule(detail.Policy) : { id: ours.PolicyId, state: ours.State ?? '' };
}

/** Creates the policy, or updates the one found when its retention, state or tag copying differ. */
export async function ensureSnapshotSchedule(c: AwsContext, spec: SnapshotScheduleSpec): Promise<SnapshotSchedule> {
  const dlm = requireDlm(c);
  const policy = snapshotSchedulePolicy(await withAccount(c, spec));
  const existing = await findSnapshotSchedule(c, spec.deployment);
  if (existing) {
    // A policy made before scheduled snapshots carried the volume's tags is brought up to date too.
    if (existing.retain === spec.retain && existing.state === 'ENABLED' && existing.copiesLabels === true) return existing;
    const { Tags: _tags, ...update } = policy;
    await callDlm(c, 'UpdateLifecyclePolicy', () => dlm.updateLifecyclePolicy({ PolicyId: existing.id, ...update }));
    return { ...existing, state: 'ENABLED', retain: spec.retain, schedule: spec.schedule, copiesLabels: true };
  }
  const out = await callDlm(c, 'CreateLifecyclePolicy', () => dlm.createLifecyclePolicy(policy));
  if (!out.PolicyId) throw new CloudError('dlm-policy-empty', 'CreateLifecyclePolicy returned no policy id');
  return { id: out.PolicyId, state: 'ENABLED', schedule: spec.schedule, retain: spec.retain, copiesLabels: true };
}

export async function deleteSnapshotSchedule(c: AwsContext, policyId: string): Promise<void> {
  const dlm = requireDlm(c);
  try {
    await dlm.deleteLifecyclePolicy({ PolicyId: policyId });
  } catch (err) {
    if (isAwsErrorCode(err, 'ResourceNotFoundException')) return;
    throw toLaunchError(err, { operation: 'DeleteLifecyclePolicy', service: 'dlm', profile: c.profile, region: c.region });
  }
}
