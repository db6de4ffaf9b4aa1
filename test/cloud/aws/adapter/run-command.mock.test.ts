// AWS Systems Manager Run Command, where moto cannot go (its SendCommand runs nothing): the SSM
// client is mocked, and the mock plays the SSM agent by really running each AWS-RunShellScript
// with bash in this test's scratch directory, then answering GetCommandInvocation the way SSM does
// (InvocationDoesNotExist right after SendCommand, InProgress, then Success with stdout cut to
// 24,000 characters). So the channel's protocol (parts up, parts back) runs end to end through the
// adapter; plus the request's shape, an unmanaged instance, a command SSM ended, and doctor's check.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, SendCommandCommand, SSMClient, SSMServiceException, type SendCommandCommandInput } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { wrapAwsClients } from '../../../../src/cloud/aws/sdk.js';
import { wrapSsmClient } from '../../../../src/cloud/aws/ssm-sdk.js';
import { LaunchError } from '../../../../src/core/errors.js';
import { runCommandChannel } from '../../../../src/remote/run-command-channel.js';
import { SCOPE } from './fixtures.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ssmMock = mockClient(SSMClient);
const INSTANCE = 'i-0123456789abcdef0';
let cloud: AwsAdapter;
let workRoot: string;

function ssmError(code: string): SSMServiceException {
  return new SSMServiceException({ name: code, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: code });
}

/** The agent: runs each script for real; each invocation is first unknown, then InProgress, then done. */
function playAgent() {
  const invocations = new Map<string, { stdout: string; stderr: string; polls: number }>();
  let n = 0;
  ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const script = input.Parameters!.commands![0]!;
    let stdout: string;
    let stderr = '';
    try {
      stdout = execFileSync('bash', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
    } catch (e) {
      stdout = String((e as { stdout?: string }).stdout ?? '');
      stderr = String((e as { stderr?: string }).stderr ?? '');
    }
    const id = `cmd-${++n}`;
    invocations.set(id, { stdout, stderr, polls: 0 });
    return { Command: { CommandId: id } };
  });
  ssmMock.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string }) => {
    const inv = invocations.get(input.CommandId)!;
    inv.polls++;
    if (inv.polls === 1) throw ssmError('InvocationDoesNotExist');
    if (inv.polls === 2) return { Status: 'InProgress' };
    return { Status: 'Success', StandardOutputContent: inv.stdout.slice(0, 24_000), StandardErrorContent: inv.stderr.slice(0, 8_000) };
  });
}

beforeEach(() => {
  ssmMock.reset();
  workRoot = mkdtempSync(join(tmpdir(), 'sgl-ssm-'));
  cloud = new AwsAdapter(
    { ...wrapAwsClients({ ec2: new EC2Client({ region: 'us-east-1' }), sts: new STSClient({ region: 'us-east-1' }) }), ssm: wrapSsmClient(new SSMClient({ region: 'us-east-1' })) },
    SCOPE,
    { pollIntervalMs: 1, sleep: async () => undefined },
  );
});
afterEach(() => rmSync(workRoot, { recursive: true, force: true }));
afterAll(() => ssmMock.restore());

describe('Systems Manager Run Command (mocked SSM playing the agent)', () => {
  it('carries the channel\'s protocol: AWS-RunShellScript on the instance, a large output read back in parts', async () => {
    playAgent();
    expect(cloud.runCommandLimits).toMatchObject({ name: 'AWS Systems Manager Run Command', maxOutputBytes: 24_000 });
    const ch = runCommandChannel({ run: (script, t) => cloud.runCommand(INSTANCE, script, t), limits: cloud.runCommandLimits!, instance: INSTANCE, workRoot });
    const payload = Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7919) % 251)).toString('base64');
    const r = await ch.exec(`printf '%s' '${payload}'; echo done >&2; exit 4`, { timeoutMs: 60_000 });
    expect(r).toEqual({ code: 4, stdout: payload, stderr: 'done\n' });

    const sent = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
    expect(sent.length).toBeGreaterThan(2); // the command in parts, the run, then reads of the rest
    for (const input of sent) {
      expect(input).toMatchObject({ DocumentName: 'AWS-RunShellScript', InstanceIds: [INSTANCE], TimeoutSeconds: 60 });
      expect(input.Parameters!.commands).toHaveLength(1);
      expect(Number(input.Parameters!.executionTimeout![0])).toBeGreaterThanOrEqual(30);
      expect(Buffer.byteLength(input.Parameters!.commands![0]!)).toBeLessThanOrEqual(40 * 1024);
    }
    expect(readdirSync(workRoot)).toEqual([]);
  });

  it('an instance Systems Manager does not manage: ssm-not-managed with what it needs', async () => {
    ssmMock.on(SendCommandCommand).rejects(ssmError('InvalidInstanceId'));
    const e = await cloud.runCommand(INSTANCE, 'true', 60_000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LaunchError);
    expect(e).toMatchObject({ code: 'ssm-not-managed', exitCode: 1 });
    expect((e as LaunchError).remediation).toContain('AmazonSSMManagedInstanceCore');
  });

  it('a command SSM ended itself (TimedOut, Cancelled) is an error naming its status', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-x' } });
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
    const e = await cloud.runCommand(INSTANCE, 'sleep 999', 60_000).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'run-command-failed' });
    expect((e as Error).message).toBe(`Systems Manager command cmd-x on ${INSTANCE} ended TimedOut (ExecutionTimedOut)`);
  });

  it('doctor\'s check: managed and online, managed but offline, not managed', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolvesOnce({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online', AgentVersion: '3.3.1' }] })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'ConnectionLost' }] })
      .resolvesOnce({ InstanceInformationList: [] });
    expect(await cloud.runCommandReady(INSTANCE)).toMatchObject({ ready: true, detail: expect.stringContaining('agent 3.3.1, Online') });
    expect(await cloud.runCommandReady(INSTANCE)).toMatchObject({ ready: false, detail: expect.stringContaining('its agent is ConnectionLost') });
    const none = await cloud.runCommandReady(INSTANCE);
    expect(none).toMatchObject({ ready: false, detail: `${INSTANCE} is not a Systems Manager managed instance: config, executors enable and disk grow need SSH open to you` });
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand)[0]!.args[0].input).toEqual({ Filters: [{ Key: 'InstanceIds', Values: [INSTANCE] }] });
  });
});
