// A loopback stand-in for AWS Systems Manager's Run Command, for end-to-end tests: moto's SSM accepts
// SendCommand but runs nothing, so this small server speaks the same wire protocol (AWS JSON 1.1:
// POST / with X-Amz-Target: AmazonSSM.<Operation>) for the three calls the adapter makes, and really
// runs each AWS-RunShellScript through the host the test gives (a test host standing in for the
// instance). The real CLI reaches it through AWS_ENDPOINT_URL_SSM while EC2 stays on moto.
//   SendCommand                 AWS-RunShellScript only; an instance not in `managed` → InvalidInstanceId
//   GetCommandInvocation        InvocationDoesNotExist until the first poll after SendCommand, then
//                               InProgress until the script ended, then Success / Failed (its exit
//                               status) with stdout cut to 24,000 and stderr to 8,000 characters
//   DescribeInstanceInformation the managed instances (PingStatus Online), filtered by InstanceIds
// Request signatures are not checked (the CLI signs with the test's dummy keys).
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SsmRunHost = (instanceId: string, script: string) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

export interface SsmStandIn {
  endpoint: string;
  /** Instance ids whose "agent" is online. */
  managed: Set<string>;
  /** Every SendCommand input, in order. */
  sent: { InstanceIds?: string[]; DocumentName?: string; Parameters?: Record<string, string[]> }[];
  stop(): Promise<void>;
}

interface Invocation {
  polled: boolean;
  result?: { stdout: string; stderr: string; exitCode: number };
  error?: string;
}

export async function startSsmStandIn(run: SsmRunHost): Promise<SsmStandIn> {
  const managed = new Set<string>();
  const sent: SsmStandIn['sent'] = [];
  const invocations = new Map<string, Invocation>();
  const fail = (status: number, type: string, message: string) => ({ status, body: { __type: type, message } });

  const handle = (target: string, input: Record<string, any>): { status: number; body: unknown } => {
    switch (target) {
      case 'AmazonSSM.SendCommand': {
        sent.push(input);
        if (input.DocumentName !== 'AWS-RunShellScript') return fail(400, 'InvalidDocument', `Document ${String(input.DocumentName)} does not exist here`);
        const ids: string[] = input.InstanceIds ?? [];
        if (ids.length !== 1 || !managed.has(ids[0]!)) return fail(400, 'InvalidInstanceId', 'Instances not in a valid state for account');
        const script = (input.Parameters?.commands ?? []).join('\n');
        const commandId = randomUUID();
        const inv: Invocation = { polled: false };
        invocations.set(`${commandId}/${ids[0]}`, inv);
        run(ids[0]!, script).then(
          (r) => (inv.result = r),
          (e: unknown) => (inv.error = (e as Error).message),
        );
        return { status: 200, body: { Command: { CommandId: commandId, DocumentName: input.DocumentName, InstanceIds: ids, Status: 'Pending' } } };
      }
      case 'AmazonSSM.GetCommandInvocation': {
        const inv = invocations.get(`${input.CommandId}/${input.InstanceId}`);
        if (!inv || !inv.polled) {
          if (inv) inv.polled = true;
          return fail(400, 'InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
        }
        const base = { CommandId: input.CommandId, InstanceId: input.InstanceId, DocumentName: 'AWS-RunShellScript' };
        if (inv.error) return { status: 200, body: { ...base, Status: 'Failed', StatusDetails: 'Undeliverable', ResponseCode: -1, StandardOutputContent: '', StandardErrorContent: inv.error } };
        if (!inv.result) return { status: 200, body: { ...base, Status: 'InProgress', StatusDetails: 'InProgress', ResponseCode: -1 } };
        const ok = inv.result.exitCode === 0;
        return {
          status: 200,
          body: { ...base, Status: ok ? 'Success' : 'Failed', StatusDetails: ok ? 'Success' : 'Failed', ResponseCode: inv.result.exitCode, StandardOutputContent: inv.result.stdout.slice(0, 24_000), StandardErrorContent: inv.result.stderr.slice(0, 8_000) },
        };
      }
      case 'AmazonSSM.DescribeInstanceInformation': {
        const filter = (input.Filters as { Key: string; Values: string[] }[] | undefined)?.find((f) => f.Key === 'InstanceIds')?.Values;
        const list = [...managed].filter((id) => !filter || filter.includes(id)).map((id) => ({ InstanceId: id, PingStatus: 'Online', AgentVersion: '3.3.0.0', PlatformType: 'Linux', ResourceType: 'EC2Instance' }));
        return { status: 200, body: { InstanceInformationList: list } };
      }
      default:
        return fail(400, 'UnknownOperationException', `${target} is not served by this stand-in`);
    }
  };

  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      let answer: { status: number; body: unknown };
      try {
        answer = handle(String(req.headers['x-amz-target'] ?? ''), text ? (JSON.parse(text) as Record<string, unknown>) : {});
      } catch (e) {
        answer = fail(500, 'InternalServerError', (e as Error).message);
      }
      res.writeHead(answer.status, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': randomUUID() });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    managed,
    sent,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
