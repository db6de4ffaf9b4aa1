// The only module that imports the Route 53 SDK client, kept apart from sdk.ts so its chunk loads
// only when a command touches DNS (tls --domain, tls --remove, destroy of a deployment with a
// record): launch, status and --help never load it.
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ChangeResourceRecordSetsCommandInput,
  type ChangeResourceRecordSetsCommandOutput,
  type GetChangeCommandInput,
  type GetChangeCommandOutput,
  type ListHostedZonesByNameCommandInput,
  type ListHostedZonesByNameCommandOutput,
  type ListResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandOutput,
} from '@aws-sdk/client-route-53';
import type { AwsClientOptions } from './sdk.js';

/** Every Route 53 call the adapter makes. */
export interface Route53Api {
  listHostedZonesByName(input: ListHostedZonesByNameCommandInput): Promise<ListHostedZonesByNameCommandOutput>;
  listResourceRecordSets(input: ListResourceRecordSetsCommandInput): Promise<ListResourceRecordSetsCommandOutput>;
  changeResourceRecordSets(input: ChangeResourceRecordSetsCommandInput): Promise<ChangeResourceRecordSetsCommandOutput>;
  getChange(input: GetChangeCommandInput): Promise<GetChangeCommandOutput>;
}

export function wrapRoute53Client(client: Route53Client): Route53Api {
  return {
    listHostedZonesByName: (input) => client.send(new ListHostedZonesByNameCommand(input)),
    listResourceRecordSets: (input) => client.send(new ListResourceRecordSetsCommand(input)),
    changeResourceRecordSets: (input) => client.send(new ChangeResourceRecordSetsCommand(input)),
    getChange: (input) => client.send(new GetChangeCommand(input)),
  };
}

/** Route 53 is global; its API lives in us-east-1 whatever the deployment's region. */
export function createRoute53Api(opts: AwsClientOptions): Route53Api {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return wrapRoute53Client(
    new Route53Client({
      region: 'us-east-1',
      maxAttempts: opts.maxAttempts ?? 8, // as sdk.ts's DEFAULT_MAX_ATTEMPTS: rides out about a minute of throttling
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    }),
  );
}
