// The only module that imports the Systems Manager SDK client, kept apart from sdk.ts (as
// route53-sdk.ts is) so its chunk loads only when a command uses the run-command channel or doctor
// asks whether the instance is managed: launch, status and --help never load it.
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type DescribeInstanceInformationCommandInput,
  type DescribeInstanceInformationCommandOutput,
  type GetCommandInvocationCommandInput,
  type GetCommandInvocationCommandOutput,
  type SendCommandCommandInput,
  type SendCommandCommandOutput,
} from '@aws-sdk/client-ssm';
import type { AwsClientOptions } from './sdk.js';

/** Every Systems Manager call the adapter makes. */
export interface SsmApi {
  sendCommand(input: SendCommandCommandInput): Promise<SendCommandCommandOutput>;
  getCommandInvocation(input: GetCommandInvocationCommandInput): Promise<GetCommandInvocationCommandOutput>;
  describeInstanceInformation(input: DescribeInstanceInformationCommandInput): Promise<DescribeInstanceInformationCommandOutput>;
}

export function wrapSsmClient(client: SSMClient): SsmApi {
  return {
    sendCommand: (input) => client.send(new SendCommandCommand(input)),
    getCommandInvocation: (input) => client.send(new GetCommandInvocationCommand(input)),
    describeInstanceInformation: (input) => client.send(new DescribeInstanceInformationCommand(input)),
  };
}

/**
 * Configured like the EC2 client; AWS_ENDPOINT_URL_SSM (the SDK's own per-service variable) wins
 * over a shared endpoint, so Systems Manager can be pointed elsewhere than EC2.
 */
export function createSsmApi(opts: AwsClientOptions & { env?: NodeJS.ProcessEnv }): SsmApi {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = (opts.env ?? process.env).AWS_ENDPOINT_URL_SSM || opts.endpoint;
  return wrapSsmClient(
    new SSMClient({
      region: opts.region,
      maxAttempts: opts.maxAttempts ?? 8, // as sdk.ts's DEFAULT_MAX_ATTEMPTS
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(endpoint ? { endpoint } : {}),
    }),
  );
}
