// AWS Systems Manager Run Command: the run-command channel on AWS (src/remote/run-command-channel.ts
// builds the protocol on top). SendCommand with the AWS-RunShellScript document runs a script as
// root through the SSM agent; GetCommandInvocation is polled until it ended. It needs the SSM agent
// running on the instance (Amazon Linux and Ubuntu AMIs ship it) and an instance profile that lets it
// reach Systems Manager (AmazonSSMManagedInstanceCore): an instance without them is not "managed",
// which SendCommand answers with InvalidInstanceId, and `doctor` reports (DescribeInstanceInformation).
import { ExitCode, LaunchError } from '../../core/errors.js';
import type { RunScriptOutput } from '../../remote/run-command-channel.js';
import type { AwsContext } from './context.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import type { SsmApi } from './ssm-sdk.js';

/**
 * GetCommandInvocation hands back at most 24,000 characters of stdout (8,000 of stderr, unused by
 * the protocol); a SendCommand request is kept well below its 64 KB document-parameter limit.
 */
export const SSM_RUN_COMMAND_LIMITS = { name: 'AWS Systems Manager Run Command', maxScriptBytes: 40 * 1024, maxOutputBytes: 24_000 } as const;

const NOT_MANAGED_REMEDIATION =
  'Systems Manager can reach only a "managed" instance: the SSM agent running on it (Amazon Linux and Ubuntu AMIs ship it) and an ' +
  'instance profile with the AmazonSSMManagedInstanceCore policy (attach one in the EC2 console: Actions > Security > Modify IAM role), ' +
  'plus a route to the Systems Manager endpoints. `doctor` says whether it is managed. Or open SSH to your address and use --via ssh.';

type Ctx = Pick<AwsContext, 'profile' | 'region' | 'pollIntervalMs' | 'sleep' | 'now'>;

export async function runCommand(c: Ctx, ssm: SsmApi, instanceId: string, script: string, timeoutMs: number): Promise<RunScriptOutput> {
  const errorContext = (operation: string) => ({ operation, service: 'ssm' as const, profile: c.profile, region: c.region });
  // The agent's own bound: the channel's command timeout plus the round trip's slack (at least SSM's 30 s minimum).
  const seconds = Math.max(30, Math.min(172_800, Math.ceil(timeoutMs / 1000)));
  let commandId: string | undefined;
  try {
    const sent = await ssm.sendCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [instanceId],
      Parameters: { commands: [script], executionTimeout: [String(seconds)] },
      TimeoutSeconds: 60,
      Comment: 'sourcegraph-launch run-command channel',
    });
    commandId = sent.Command?.CommandId;
  } catch (e) {
    if (isAwsErrorCode(e, 'InvalidInstanceId')) {
      throw new LaunchError('ssm-not-managed', ExitCode.failed, `Systems Manager cannot reach ${instanceId}: it is not a managed instance (no SSM agent online, or no instance profile for it)`, {
        cause: e,
        remediation: NOT_MANAGED_REMEDIATION,
      });
    }
    throw toLaunchError(e, errorContext('SendCommand'));
  }
  if (!commandId) throw new LaunchError('run-command-failed', ExitCode.failed, `SendCommand to ${instanceId} answered no command id`);
  const deadline = c.now() + timeoutMs;
  for (;;) {
    await c.sleep(c.pollIntervalMs);
    let inv;
    try {
      inv = await ssm.getCommandInvocation({ CommandId: commandId, InstanceId: instanceId });
    } catch (e) {
      // Right after SendCommand the invocation may not exist yet.
      if (!isAwsErrorCode(e, 'InvocationDoesNotExist')) throw toLaunchError(e, errorContext('GetCommandInvocation'));
      inv = undefined;
    }
    const status = inv?.Status;
    if (status === 'Success' || status === 'Failed') return { stdout: inv?.StandardOutputContent ?? '', stderr: inv?.StandardErrorContent ?? '' };
    if (status && !['Pending', 'InProgress', 'Delayed'].includes(status)) {
      throw new LaunchError('run-command-failed', ExitCode.failed, `Systems Manager command ${commandId} on ${instanceId} ended ${status}${inv?.StatusDetails && inv.StatusDetails !== status ? ` (${inv.StatusDetails})` : ''}`, {
        remediation: /Undeliverable|DeliveryTimedOut/.test(inv?.StatusDetails ?? '') ? NOT_MANAGED_REMEDIATION : 'Run it again; the instance may have been busy or restarting.',
      });
    }
    if (c.now() > deadline) {
      throw new LaunchError('run-command-timeout', ExitCode.timedOut, `Systems Manager command ${commandId} on ${instanceId} did not end within ${Math.round(timeoutMs / 1000)} s (${status ?? 'not started'})`, {
        remediation: 'It may still run on the instance: `aws ssm list-command-invocations --command-id <id> --details` shows it.',
      });
    }
  }
}

/** Whether Systems Manager lists the instance as managed, and its agent's ping status (doctor). */
export async function ssmManaged(c: Ctx, ssm: SsmApi, instanceId: string): Promise<{ managed: boolean; pingStatus?: string; agentVersion?: string }> {
  try {
    const out = await ssm.describeInstanceInformation({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] });
    const info = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId);
    return info ? { managed: true, ...(info.PingStatus ? { pingStatus: info.PingStatus } : {}), ...(info.AgentVersion ? { agentVersion: info.AgentVersion } : {}) } : { managed: false };
  } catch (e) {
    throw toLaunchError(e, { operation: 'DescribeInstanceInformation', service: 'ssm', profile: c.profile, region: c.region });
  }
}

/** doctor's "run-command" check on AWS: managed and its agent online, or what is missing. */
export async function runCommandReady(c: Ctx, ssm: SsmApi, instanceId: string): Promise<{ ready: boolean; detail: string; fix?: string }> {
  const m = await ssmManaged(c, ssm, instanceId);
  if (!m.managed) return { ready: false, detail: `${instanceId} is not a Systems Manager managed instance: config, executors enable and disk grow need SSH open to you`, fix: NOT_MANAGED_REMEDIATION };
  if (m.pingStatus && m.pingStatus !== 'Online') return { ready: false, detail: `${instanceId} is managed by Systems Manager but its agent is ${m.pingStatus}`, fix: 'Start the instance, or restart its SSM agent (`sudo systemctl restart amazon-ssm-agent`, or snap.amazon-ssm-agent.amazon-ssm-agent on Ubuntu).' };
  return { ready: true, detail: `${instanceId} is managed by Systems Manager (agent ${m.agentVersion ?? 'of an unknown version'}, ${m.pingStatus ?? 'online'}): config, executors enable and disk grow work without SSH` };
}
