// Instances: one RunInstances for every kind (a deployment's with a new, snapshot-made, kept or no
// data disk; a builder's), found again by its ClientToken attempts before anything is run, its
// volumes labelled by role once they show; state, status checks, console output and waits.
import { CloudError, WaitTimeoutError } from '../../core/errors.js';
import type { Instance, InstanceHealth, InstanceSpec, InstanceState } from '../port.js';
import { call, callUnlessNotFound, paginate, type AwsContext } from './context.js';
import { awsErrorCode, isAwsErrorCode, isNotFoundError, toLaunchError } from './errors.js';
import { DATA_DEVICE, ROOT_DEVICE, tagFilter, tagsOf, toInstance, toInstanceState } from './mappers.js';
import { attemptToken, runInstancesRequest, volumeRoleTagsRequest } from './request-builders.js';
import type { Ec2Filter, Ec2Instance, Ec2InstanceType } from './sdk.js';

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
/** Attempts of one create whose instances were terminated before it gives up. */
const MAX_ATTEMPTS = 5;
/** Errors meaning "this EC2 API (or region) does not know that parameter": retried without it. */
const UNKNOWN_PARAMETER_CODES = ['InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination', 'UnknownParameter'];

const live = (i: Ec2Instance) => LIVE_STATES.includes(i.State?.Name ?? 'pending');

export async function describeInstancesWhere(c: AwsContext, filters: Ec2Filter[], opts: { includeTerminated?: boolean } = {}): Promise<Ec2Instance[]> {
  const stateFilter = opts.includeTerminated ? [] : [{ Name: 'instance-state-name', Values: LIVE_STATES }];
  const pages = await paginate(c, 'DescribeInstances', (NextToken) => c.ec2.describeInstances({ Filters: [...filters, ...stateFilter], ...(NextToken ? { NextToken } : {}) }));
  return pages.flatMap((p) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? []));
}

export async function describeInstance(c: AwsContext, instanceId: string): Promise<Instance | undefined> {
  const out = await callUnlessNotFound(c, 'DescribeInstances', () => c.ec2.describeInstances({ InstanceIds: [instanceId] }));
  const instance = out?.Reservations?.[0]?.Instances?.[0];
  return instance ? toInstance(instance) : undefined;
}

/**
 * What an earlier attempt of this create made, if it is still alive: the instance of one of the
 * spec's ClientToken attempts; else one in the spec's role carrying the same operation (an upgrade
 * hop) or build run.
 */
function findExisting(spec: InstanceSpec, known: Ec2Instance[]): { instance?: Ec2Instance; nextAttempt: number } {
  let nextAttempt = 1;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const mine = known.find((i) => i.ClientToken === attemptToken(spec.idempotencyKey, attempt));
    if (!mine) break;
    if (live(mine)) return { instance: mine, nextAttempt: attempt };
    nextAttempt = attempt + 1;
  }
  const alive = known.filter(live).map((i) => ({ raw: i, info: toInstance(i) }));
  // In the role this spec makes, too: the instance a hop replaces may carry the same operation label
  // (as a rollback point), and must never be mistaken for the hop's new instance.
  const byLabel = alive.find(({ info }) =>
    info.labels.role === spec.labels.role &&
    (spec.labels.operation ? info.labels.operation === spec.labels.operation : spec.role === 'builder' ? info.labels['build-run'] === spec.labels['build-run'] : false),
  );
  if (byLabel) return { instance: byLabel.raw, nextAttempt };
  // Nothing else is adopted (the old adapter also took any live instance of the deployment at the
  // same version): another key is another instance, as the port says. A launch that must resume a
  // deployment made from another machine finds its instance with findDeployment first.
  return { nextAttempt };
}

/** Sends RunInstances; a region that refuses the volume initialisation rate gets the request without it. */
async function runInstances(c: AwsContext, spec: InstanceSpec, clientToken: string): Promise<Ec2Instance> {
  const send = (withRate: boolean) => {
    const request = runInstancesRequest(spec, { withRate, clientToken });
    return c.ec2.runInstances({ ...request, InstanceType: request.InstanceType as Ec2InstanceType } as Parameters<typeof c.ec2.runInstances>[0]);
  };
  const hasRate = spec.dataDisk.mode === 'snapshot' && spec.dataDisk.initializationRateMiBps !== undefined;
  let out;
  try {
    out = await send(true);
  } catch (err) {
    if (!hasRate || !UNKNOWN_PARAMETER_CODES.includes(awsErrorCode(err) ?? '')) {
      throw toLaunchError(err, { operation: 'RunInstances', profile: c.profile, region: c.region, instanceType: spec.machineType });
    }
    out = await call(c, 'RunInstances', () => send(false), { instanceType: spec.machineType });
  }
  const launched = out.Instances?.[0];
  if (!launched?.InstanceId) throw new CloudError('run-instances-empty', 'RunInstances returned no instance');
  return launched;
}

export async function ensureInstance(c: AwsContext, spec: InstanceSpec): Promise<Instance> {
  const owner = spec.role === 'builder' && spec.labels['build-run'] ? tagFilter('build-run', [spec.labels['build-run']]) : tagFilter('deployment', [spec.deployment]);
  const known = await describeInstancesWhere(c, [owner], { includeTerminated: true });
  const found = findExisting(spec, known);
  let instance = found.instance;
  // EC2's answer to a token whose instance has since been terminated is that dead instance: next attempt.
  for (let attempt = found.nextAttempt; !instance && attempt <= MAX_ATTEMPTS; attempt++) {
    const launched = await runInstances(c, spec, attemptToken(spec.idempotencyKey, attempt));
    if (live(launched)) instance = launched;
  }
  if (!instance) {
    throw new CloudError('launch-attempts-exhausted', `Every one of ${MAX_ATTEMPTS} attempts to launch ${spec.deployment}'s instance ended with it terminated`, {
      remediation: 'See why the instances were terminated (EC2 console: the state transition reason), fix it, and run the command again.',
    });
  }
  return spec.role === 'builder' ? toInstance(instance) : labelVolumes(c, spec, toInstance(instance));
}

/**
 * Labels the root and data volumes with their roles. A just-launched instance may not list its
 * volumes yet, so this polls for a while; a volume that never shows keeps its creation-time role
 * (instance-volume: kept as data by destroy) and the next run finishes the job.
 */
async function labelVolumes(c: AwsContext, spec: InstanceSpec, initial: Instance): Promise<Instance> {
  const wantData = spec.dataDisk.mode === 'new' || spec.dataDisk.mode === 'snapshot';
  const has = (i: Instance) => i.disks.some((d) => d.role === 'root') && (!wantData || i.disks.some((d) => d.role === 'data'));
  const deadline = c.now() + c.volumeTagWaitMs;
  let instance = initial;
  while (!has(instance) && instance.state !== 'terminated' && instance.state !== 'terminating' && c.now() < deadline) {
    await c.sleep(c.pollIntervalMs);
    instance = (await describeInstance(c, initial.id)) ?? instance;
  }
  const volumeIds = instance.disks.map((d) => d.diskId);
  if (!volumeIds.length) return instance;
  // By filter, not by id: a volume made a moment ago may not be describable yet (an id would fail).
  const volumes = await call(c, 'DescribeVolumes', () => c.ec2.describeVolumes({ Filters: [{ Name: 'volume-id', Values: volumeIds }] }));
  const tagsOfVolume = new Map((volumes.Volumes ?? []).map((v) => [v.VolumeId, tagsOf(v.Tags)]));
  for (const [role, want] of [
    ['data', 'data-volume'],
    ['root', 'root-volume'],
  ] as const) {
    const disk = instance.disks.find((d) => d.role === role);
    if (!disk || (role === 'data' && !wantData)) continue;
    const request = volumeRoleTagsRequest(spec.deployment, disk.diskId, want);
    const current = tagsOfVolume.get(disk.diskId) ?? {};
    if (request.Tags.every((t) => current[t.Key] === t.Value)) continue;
    await call(c, 'CreateTags', () => c.ec2.createTags(request));
  }
  return instance;
}

export async function checkInstancePermissions(c: AwsContext, spec: InstanceSpec): Promise<void> {
  // Without the ClientToken: reusing the real launch's token with DryRun could make AWS reject the
  // real RunInstances as an idempotency mismatch.
  const send = (withRate: boolean) => {
    const { ClientToken: _token, ...input } = runInstancesRequest(spec, { withRate });
    return c.ec2.runInstances({ ...input, InstanceType: input.InstanceType as Ec2InstanceType, DryRun: true } as Parameters<typeof c.ec2.runInstances>[0]);
  };
  try {
    await send(true);
  } catch (err) {
    if (isAwsErrorCode(err, 'DryRunOperation')) return;
    // A region without the initialisation rate refuses the parameter, not the launch.
    if (UNKNOWN_PARAMETER_CODES.includes(awsErrorCode(err) ?? '') && spec.dataDisk.mode === 'snapshot' && spec.dataDisk.initializationRateMiBps) {
      try {
        await send(false);
      } catch (again) {
        if (isAwsErrorCode(again, 'DryRunOperation')) return;
        throw toLaunchError(again, { operation: 'RunInstances', profile: c.profile, region: c.region, instanceType: spec.machineType });
      }
    }
    throw toLaunchError(err, { operation: 'RunInstances', profile: c.profile, region: c.region, instanceType: spec.machineType });
  }
}

export async function instanceHealth(c: AwsContext, instanceId: string): Promise<InstanceHealth> {
  const out = await call(c, 'DescribeInstanceStatus', () => c.ec2.describeInstanceStatus({ InstanceIds: [instanceId], IncludeAllInstances: true }));
  const status = out.InstanceStatuses?.[0];
  const system = status?.SystemStatus?.Status;
  const instance = status?.InstanceStatus?.Status;
  const detail = [system && `system ${system}`, instance && `instance ${instance}`].filter(Boolean).join(', ') || undefined;
  const both = [system, instance];
  const overall: InstanceHealth['overall'] =
    system === 'ok' && instance === 'ok'
      ? 'ok'
      : both.includes('impaired')
        ? 'impaired'
        : both.includes('initializing')
          ? 'initializing'
          : both.includes('insufficient-data')
            ? 'insufficient-data'
            : both.includes('not-applicable')
              ? 'not-applicable'
              : 'unknown';
  return detail ? { overall, detail } : { overall };
}

export async function consoleOutput(c: AwsContext, instanceId: string): Promise<string> {
  let output: string | undefined;
  try {
    // Latest (the live buffer rather than the last snapshot) exists only on Nitro instances.
    output = (await c.ec2.getConsoleOutput({ InstanceId: instanceId, Latest: true })).Output;
  } catch (err) {
    if (isNotFoundError(err)) return '';
    if (!isAwsErrorCode(err, 'UnsupportedOperation', ...UNKNOWN_PARAMETER_CODES)) throw toLaunchError(err, { operation: 'GetConsoleOutput', profile: c.profile, region: c.region });
    output = (await callUnlessNotFound(c, 'GetConsoleOutput', () => c.ec2.getConsoleOutput({ InstanceId: instanceId })))?.Output;
  }
  return output ? Buffer.from(output, 'base64').toString('utf8') : '';
}

export async function startInstance(c: AwsContext, instanceId: string): Promise<void> {
  await call(c, 'StartInstances', () => c.ec2.startInstances({ InstanceIds: [instanceId] }));
}

export async function stopInstance(c: AwsContext, instanceId: string): Promise<void> {
  await call(c, 'StopInstances', () => c.ec2.stopInstances({ InstanceIds: [instanceId] }));
}

export async function terminateInstance(c: AwsContext, instanceId: string): Promise<void> {
  await callUnlessNotFound(c, 'TerminateInstances', () => c.ec2.terminateInstances({ InstanceIds: [instanceId] }));
}

export async function waitForInstanceState(c: AwsContext, instanceId: string, state: InstanceState, timeoutMs: number): Promise<void> {
  const deadline = c.now() + timeoutMs;
  let last = 'not found';
  for (;;) {
    const out = await callUnlessNotFound(c, 'DescribeInstances', () => c.ec2.describeInstances({ InstanceIds: [instanceId] }));
    const instance = out?.Reservations?.[0]?.Instances?.[0];
    // Terminated instances drop out of DescribeInstances after a while (then: not found).
    if (!instance && state === 'terminated') return;
    if (instance) {
      const current = toInstanceState(instance.State?.Name);
      last = current;
      if (current === state) return;
      // A terminating instance never comes back: say why instead of waiting out the timeout.
      if ((current === 'terminated' || current === 'terminating') && state !== 'terminated' && state !== 'terminating') {
        const reason = instance.StateReason?.Message ?? instance.StateTransitionReason ?? 'no reason given';
        throw new CloudError('instance-terminated', `Instance ${instanceId} is ${current} instead of ${state}: ${reason}`, {
          details: { instanceId, stateReason: instance.StateReason?.Code },
          remediation: 'See the reason above (a volume, quota or image problem); fix it and run the command again.',
        });
      }
    }
    if (c.now() >= deadline) {
      throw new WaitTimeoutError(`instance-${state}`, `Instance ${instanceId} did not become ${state} in ${Math.round(timeoutMs / 1000)} s (last state: ${last})`, {
        details: { instanceId, lastState: last },
        remediation: 'Check the instance in the EC2 console; run the same command again to keep waiting.',
      });
    }
    await c.sleep(c.pollIntervalMs);
  }
}

/** The devices an AWS instance keeps its disks at. */
export const DEVICES = { root: ROOT_DEVICE, data: DATA_DEVICE };
