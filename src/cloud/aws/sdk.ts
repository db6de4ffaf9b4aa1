// The only module that imports the AWS SDK. It exposes the narrow set of calls the adapter makes,
// so the rest of the adapter (and its tests) depend on an interface, not on the SDK's surface, and
// the SDK is loaded only when AWS is actually used (aws-cloud.ts imports this file dynamically).
import { ERROR_ENDPOINT } from './errors.js';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  RevokeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type AllocateAddressCommandInput,
  type AllocateAddressCommandOutput,
  type AssociateAddressCommandInput,
  type AssociateAddressCommandOutput,
  type AuthorizeSecurityGroupIngressCommandInput,
  type AuthorizeSecurityGroupIngressCommandOutput,
  type RevokeSecurityGroupIngressCommandInput,
  type RevokeSecurityGroupIngressCommandOutput,
  type CreateSecurityGroupCommandInput,
  type CreateSecurityGroupCommandOutput,
  type CreateTagsCommandInput,
  type DescribeInstanceTypeOfferingsCommandInput,
  type DescribeInstanceTypeOfferingsCommandOutput,
  type DeleteTagsCommandInput,
  type DeleteTagsCommandOutput,
  type CreateTagsCommandOutput,
  type DeleteKeyPairCommandInput,
  type DeleteKeyPairCommandOutput,
  type DeleteSecurityGroupCommandInput,
  type DeleteSecurityGroupCommandOutput,
  type DeleteVolumeCommandInput,
  type DeleteVolumeCommandOutput,
  type DescribeAddressesCommandInput,
  type DescribeAddressesCommandOutput,
  type DescribeImagesCommandInput,
  type DescribeImagesCommandOutput,
  type DescribeInstanceStatusCommandInput,
  type DescribeInstanceStatusCommandOutput,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type DescribeKeyPairsCommandInput,
  type DescribeKeyPairsCommandOutput,
  type DescribeRegionsCommandInput,
  type DescribeRegionsCommandOutput,
  type DescribeSecurityGroupsCommandInput,
  type DescribeSecurityGroupsCommandOutput,
  type DescribeSubnetsCommandInput,
  type DescribeSubnetsCommandOutput,
  type DescribeVolumesCommandInput,
  type DescribeVolumesCommandOutput,
  type DescribeVpcsCommandInput,
  type DescribeVpcsCommandOutput,
  type DisassociateAddressCommandInput,
  type DisassociateAddressCommandOutput,
  type GetConsoleOutputCommandInput,
  type GetConsoleOutputCommandOutput,
  type ImportKeyPairCommandInput,
  type ImportKeyPairCommandOutput,
  type ReleaseAddressCommandInput,
  type ReleaseAddressCommandOutput,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
  type TerminateInstancesCommandInput,
  type TerminateInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient, type GetCallerIdentityCommandOutput } from '@aws-sdk/client-sts';
// --- upgrade, backup and restore (issue 3) ---
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  DescribeVolumeStatusCommand,
  DetachVolumeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type AttachVolumeCommandInput,
  type AttachVolumeCommandOutput,
  type CreateSnapshotCommandInput,
  type CreateSnapshotCommandOutput,
  type CreateVolumeCommandInput,
  type CreateVolumeCommandOutput,
  type DeleteSnapshotCommandInput,
  type DeleteSnapshotCommandOutput,
  type DescribeSnapshotsCommandInput,
  type DescribeSnapshotsCommandOutput,
  type DescribeVolumeStatusCommandInput,
  type DescribeVolumeStatusCommandOutput,
  type DetachVolumeCommandInput,
  type DetachVolumeCommandOutput,
  type StartInstancesCommandInput,
  type StartInstancesCommandOutput,
  type StopInstancesCommandInput,
  type StopInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  CreateLifecyclePolicyCommand,
  DeleteLifecyclePolicyCommand,
  DLMClient,
  GetLifecyclePoliciesCommand,
  GetLifecyclePolicyCommand,
  UpdateLifecyclePolicyCommand,
  type CreateLifecyclePolicyCommandInput,
  type CreateLifecyclePolicyCommandOutput,
  type DeleteLifecyclePolicyCommandInput,
  type DeleteLifecyclePolicyCommandOutput,
  type GetLifecyclePoliciesCommandInput,
  type GetLifecyclePoliciesCommandOutput,
  type GetLifecyclePolicyCommandInput,
  type GetLifecyclePolicyCommandOutput,
  type UpdateLifecyclePolicyCommandInput,
  type UpdateLifecyclePolicyCommandOutput,
} from '@aws-sdk/client-dlm';
// --- doctor (issue 13) ---
import {
  DescribeAccountAttributesCommand,
  type DescribeAccountAttributesCommandInput,
  type DescribeAccountAttributesCommandOutput,
} from '@aws-sdk/client-ec2';
// --- image builds (issue 4) ---
import {
  CreateImageCommand,
  DeregisterImageCommand,
  type CreateImageCommandInput,
  type CreateImageCommandOutput,
  type DeregisterImageCommandInput,
  type DeregisterImageCommandOutput,
} from '@aws-sdk/client-ec2';
// --- disk grow (issue 15) ---
import {
  DescribeVolumesModificationsCommand,
  ModifyVolumeCommand,
  type DescribeVolumesModificationsCommandInput,
  type DescribeVolumesModificationsCommandOutput,
  type ModifyVolumeCommandInput,
  type ModifyVolumeCommandOutput,
} from '@aws-sdk/client-ec2';
// --- doctor: the vCPU quota (issue 13) ---
import {
  DescribeInstanceTypesCommand,
  type DescribeInstanceTypesCommandInput,
  type DescribeInstanceTypesCommandOutput,
} from '@aws-sdk/client-ec2';
// Types only: the Service Quotas client itself is imported in createServiceQuotasApi, on first use.
import type {
  GetAWSDefaultServiceQuotaCommandInput,
  GetAWSDefaultServiceQuotaCommandOutput,
  GetServiceQuotaCommandInput,
  GetServiceQuotaCommandOutput,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';

/** Every EC2 call the adapter makes, one function per API operation, SDK v3 input/output shapes. */
export interface Ec2Api {
  describeImages(input: DescribeImagesCommandInput): Promise<DescribeImagesCommandOutput>;
  describeVpcs(input: DescribeVpcsCommandInput): Promise<DescribeVpcsCommandOutput>;
  describeSubnets(input: DescribeSubnetsCommandInput): Promise<DescribeSubnetsCommandOutput>;
  describeInstances(input: DescribeInstancesCommandInput): Promise<DescribeInstancesCommandOutput>;
  describeInstanceStatus(input: DescribeInstanceStatusCommandInput): Promise<DescribeInstanceStatusCommandOutput>;
  describeSecurityGroups(input: DescribeSecurityGroupsCommandInput): Promise<DescribeSecurityGroupsCommandOutput>;
  describeKeyPairs(input: DescribeKeyPairsCommandInput): Promise<DescribeKeyPairsCommandOutput>;
  describeAddresses(input: DescribeAddressesCommandInput): Promise<DescribeAddressesCommandOutput>;
  describeVolumes(input: DescribeVolumesCommandInput): Promise<DescribeVolumesCommandOutput>;
  describeRegions(input: DescribeRegionsCommandInput): Promise<DescribeRegionsCommandOutput>;
  getConsoleOutput(input: GetConsoleOutputCommandInput): Promise<GetConsoleOutputCommandOutput>;
  importKeyPair(input: ImportKeyPairCommandInput): Promise<ImportKeyPairCommandOutput>;
  createSecurityGroup(input: CreateSecurityGroupCommandInput): Promise<CreateSecurityGroupCommandOutput>;
  authorizeSecurityGroupIngress(
    input: AuthorizeSecurityGroupIngressCommandInput,
  ): Promise<AuthorizeSecurityGroupIngressCommandOutput>;
  revokeSecurityGroupIngress(input: RevokeSecurityGroupIngressCommandInput): Promise<RevokeSecurityGroupIngressCommandOutput>;
  runInstances(input: RunInstancesCommandInput): Promise<RunInstancesCommandOutput>;
  createTags(input: CreateTagsCommandInput): Promise<CreateTagsCommandOutput>;
  describeInstanceTypeOfferings(input: DescribeInstanceTypeOfferingsCommandInput): Promise<DescribeInstanceTypeOfferingsCommandOutput>;
  deleteTags(input: DeleteTagsCommandInput): Promise<DeleteTagsCommandOutput>;
  allocateAddress(input: AllocateAddressCommandInput): Promise<AllocateAddressCommandOutput>;
  associateAddress(input: AssociateAddressCommandInput): Promise<AssociateAddressCommandOutput>;
  disassociateAddress(input: DisassociateAddressCommandInput): Promise<DisassociateAddressCommandOutput>;
  releaseAddress(input: ReleaseAddressCommandInput): Promise<ReleaseAddressCommandOutput>;
  terminateInstances(input: TerminateInstancesCommandInput): Promise<TerminateInstancesCommandOutput>;
  deleteSecurityGroup(input: DeleteSecurityGroupCommandInput): Promise<DeleteSecurityGroupCommandOutput>;
  deleteKeyPair(input: DeleteKeyPairCommandInput): Promise<DeleteKeyPairCommandOutput>;
  deleteVolume(input: DeleteVolumeCommandInput): Promise<DeleteVolumeCommandOutput>;
  // --- upgrade, backup and restore (issue 3) ---
  createSnapshot(input: CreateSnapshotCommandInput): Promise<CreateSnapshotCommandOutput>;
  describeSnapshots(input: DescribeSnapshotsCommandInput): Promise<DescribeSnapshotsCommandOutput>;
  deleteSnapshot(input: DeleteSnapshotCommandInput): Promise<DeleteSnapshotCommandOutput>;
  stopInstances(input: StopInstancesCommandInput): Promise<StopInstancesCommandOutput>;
  startInstances(input: StartInstancesCommandInput): Promise<StartInstancesCommandOutput>;
  attachVolume(input: AttachVolumeCommandInput): Promise<AttachVolumeCommandOutput>;
  detachVolume(input: DetachVolumeCommandInput): Promise<DetachVolumeCommandOutput>;
  createVolume(input: CreateVolumeCommandInput): Promise<CreateVolumeCommandOutput>;
  describeVolumeStatus(input: DescribeVolumeStatusCommandInput): Promise<DescribeVolumeStatusCommandOutput>;
  // --- image builds (issue 4) ---
  createImage(input: CreateImageCommandInput): Promise<CreateImageCommandOutput>;
  deregisterImage(input: DeregisterImageCommandInput): Promise<DeregisterImageCommandOutput>;
  // --- doctor (issue 13) ---
  describeAccountAttributes(input: DescribeAccountAttributesCommandInput): Promise<DescribeAccountAttributesCommandOutput>;
  // --- disk grow (issue 15) ---
  modifyVolume(input: ModifyVolumeCommandInput): Promise<ModifyVolumeCommandOutput>;
  describeVolumesModifications(input: DescribeVolumesModificationsCommandInput): Promise<DescribeVolumesModificationsCommandOutput>;
  // --- doctor: the vCPU quota (issue 13) ---
  describeInstanceTypes(input: DescribeInstanceTypesCommandInput): Promise<DescribeInstanceTypesCommandOutput>;
}

export interface StsApi {
  getCallerIdentity(): Promise<GetCallerIdentityCommandOutput>;
}

export interface AwsClients {
  ec2: Ec2Api;
  sts: StsApi;
  /** Data Lifecycle Manager (snapshot schedules); absent when a test does not need it. */
  dlm?: DlmApi;
  /** Service Quotas (doctor's vCPU quota); absent when a test does not need it. */
  serviceQuotas?: ServiceQuotasApi;
  /** Route 53 (tls --domain): built by route53-sdk.ts, its own chunk, only when DNS is used. */
  route53?: import('./route53-sdk.js').Route53Api;
  /** ACM (tls --tls managed): built by acm-sdk.ts, its own chunk, only when used. */
  acm?: import('./acm-sdk.js').AcmApi;
  /** ELBv2 and the second subnet (tls --tls managed): built by load-balancer-sdk.ts, its own chunk, only when used. */
  loadBalancer?: import('./load-balancer-sdk.js').LoadBalancerApis;
  /** Systems Manager (the run-command channel): built by ssm-sdk.ts, its own chunk, only when used. */
  ssm?: import('./ssm-sdk.js').SsmApi;
  /** IAM (the instance role of tls --tls acme's DNS-01): built by iam-sdk.ts, its own chunk, only when used. */
  iam?: import('./iam-sdk.js').IamApi;
}

export interface AwsClientOptions {
  region: string;
  /** Shared-config profile; undefined = AWS_PROFILE or "default", as the SDK's chain decides. */
  profile?: string;
  /**
   * API endpoint (an emulator in tests). Without it the SDK itself honours AWS_ENDPOINT_URL_EC2 /
   * AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL, and the profile's endpoint_url.
   */
  endpoint?: string;
  /** Attempts per call including the first; retries use the SDK's backoff (longer for throttling). */
  maxAttempts?: number;
}

/**
 * EC2 allows a burst of calls and then throttles (RequestLimitExceeded). The SDK's standard retry
 * mode backs off exponentially from 500 ms for throttling; 8 attempts ride out about a minute.
 */
export const DEFAULT_MAX_ATTEMPTS = 8;

export function wrapEc2Client(client: EC2Client): Ec2Api {
  return {
    describeImages: (input) => client.send(new DescribeImagesCommand(input)),
    describeVpcs: (input) => client.send(new DescribeVpcsCommand(input)),
    describeSubnets: (input) => client.send(new DescribeSubnetsCommand(input)),
    describeInstances: (input) => client.send(new DescribeInstancesCommand(input)),
    describeInstanceStatus: (input) => client.send(new DescribeInstanceStatusCommand(input)),
    describeSecurityGroups: (input) => client.send(new DescribeSecurityGroupsCommand(input)),
    describeKeyPairs: (input) => client.send(new DescribeKeyPairsCommand(input)),
    describeAddresses: (input) => client.send(new DescribeAddressesCommand(input)),
    describeVolumes: (input) => client.send(new DescribeVolumesCommand(input)),
    describeRegions: (input) => client.send(new DescribeRegionsCommand(input)),
    getConsoleOutput: (input) => client.send(new GetConsoleOutputCommand(input)),
    importKeyPair: (input) => client.send(new ImportKeyPairCommand(input)),
    createSecurityGroup: (input) => client.send(new CreateSecurityGroupCommand(input)),
    authorizeSecurityGroupIngress: (input) => client.send(new AuthorizeSecurityGroupIngressCommand(input)),
    revokeSecurityGroupIngress: (input) => client.send(new RevokeSecurityGroupIngressCommand(input)),
    runInstances: (input) => client.send(new RunInstancesCommand(input)),
    createTags: (input) => client.send(new CreateTagsCommand(input)),
    describeInstanceTypeOfferings: (input) => client.send(new DescribeInstanceTypeOfferingsCommand(input)),
    deleteTags: (input) => client.send(new DeleteTagsCommand(input)),
    allocateAddress: (input) => client.send(new AllocateAddressCommand(input)),
    associateAddress: (input) => client.send(new AssociateAddressCommand(input)),
    disassociateAddress: (input) => client.send(new DisassociateAddressCommand(input)),
    releaseAddress: (input) => client.send(new ReleaseAddressCommand(input)),
    terminateInstances: (input) => client.send(new TerminateInstancesCommand(input)),
    deleteSecurityGroup: (input) => client.send(new DeleteSecurityGroupCommand(input)),
    deleteKeyPair: (input) => client.send(new DeleteKeyPairCommand(input)),
    deleteVolume: (input) => client.send(new DeleteVolumeCommand(input)),
    // --- upgrade, backup and restore (issue 3) ---
    createSnapshot: (input) => client.send(new CreateSnapshotCommand(input)),
    describeSnapshots: (input) => client.send(new DescribeSnapshotsCommand(input)),
    deleteSnapshot: (input) => client.send(new DeleteSnapshotCommand(input)),
    stopInstances: (input) => client.send(new StopInstancesCommand(input)),
    startInstances: (input) => client.send(new StartInstancesCommand(input)),
    attachVolume: (input) => client.send(new AttachVolumeCommand(input)),
    detachVolume: (input) => client.send(new DetachVolumeCommand(input)),
    createVolume: (input) => client.send(new CreateVolumeCommand(input)),
    describeVolumeStatus: (input) => client.send(new DescribeVolumeStatusCommand(input)),
    // --- image builds (issue 4) ---
    createImage: (input) => client.send(new CreateImageCommand(input)),
    deregisterImage: (input) => client.send(new DeregisterImageCommand(input)),
    // --- doctor (issue 13) ---
    describeAccountAttributes: (input) => client.send(new DescribeAccountAttributesCommand(input)),
    // --- disk grow (issue 15) ---
    modifyVolume: (input) => client.send(new ModifyVolumeCommand(input)),
    describeVolumesModifications: (input) => client.send(new DescribeVolumesModificationsCommand(input)),
    // --- doctor: the vCPU quota (issue 13) ---
    describeInstanceTypes: (input) => client.send(new DescribeInstanceTypesCommand(input)),
  };
}

export function wrapStsClient(client: STSClient): StsApi {
  return { getCallerIdentity: () => client.send(new GetCallerIdentityCommand({})) };
}

/** Wraps existing SDK clients (tests build their own, pointed at moto or mocked). */
export function wrapAwsClients(clients: { ec2: EC2Client; sts: STSClient }): AwsClients {
  return { ec2: wrapEc2Client(clients.ec2), sts: wrapStsClient(clients.sts) };
}

/** Builds the SDK clients the way the CLI uses them: the default credential chain, retries, timeouts. */
export function createSdkClients(opts: AwsClientOptions): { ec2: EC2Client; sts: STSClient } {
  // The CLI bundles its SDK, so the SDK's notice about its own future Node support is noise to users.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = {
    region: opts.region,
    maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
    // Fail fast on an unreachable endpoint instead of hanging on the OS's TCP timeout.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  };
  return { ec2: recordEndpointOnError(new EC2Client(config)), sts: recordEndpointOnError(new STSClient(config)) };
}

interface SentRequest {
  protocol?: string;
  hostname?: string;
  port?: number;
}

/**
 * Notes on every error which endpoint the request went to (`err.$endpoint`, e.g.
 * "http://127.0.0.1:5000"): an endpoint that does not offer a service (an emulator without DLM)
 * answers with an HTML page, and the error can then say where that happened. The SDK keeps the
 * resolved endpoint only on the request, so this reads it there, after endpoint resolution.
 */
function recordEndpointOnError<C extends EC2Client | STSClient | DLMClient | ServiceQuotasClient>(client: C): C {
  const stack = client.middlewareStack as unknown as {
    add(
      mw: (next: (args: { request?: unknown }) => Promise<unknown>) => (args: { request?: unknown }) => Promise<unknown>,
      opts: { step: 'finalizeRequest'; name: string },
    ): void;
  };
  stack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const req = args.request as SentRequest | undefined;
        if (typeof err === 'object' && err !== null && req?.hostname && !(ERROR_ENDPOINT in err)) {
          const port = req.port ? `:${req.port}` : '';
          Object.defineProperty(err, ERROR_ENDPOINT, { value: `${req.protocol ?? 'https:'}//${req.hostname}${port}`, enumerable: false });
        }
        throw err;
      }
    },
    { step: 'finalizeRequest', name: 'sourcegraphLaunchRecordEndpoint' },
  );
  return client;
}

export function createAwsClients(opts: AwsClientOptions): AwsClients {
  return { ...wrapAwsClients(createSdkClients(opts)), dlm: wrapDlmClient(createDlmClient(opts)) };
}

// --- upgrade, backup and restore (issue 3) ---

/** The Data Lifecycle Manager calls `backup --schedule` makes. */
export interface DlmApi {
  createLifecyclePolicy(input: CreateLifecyclePolicyCommandInput): Promise<CreateLifecyclePolicyCommandOutput>;
  getLifecyclePolicies(input: GetLifecyclePoliciesCommandInput): Promise<GetLifecyclePoliciesCommandOutput>;
  getLifecyclePolicy(input: GetLifecyclePolicyCommandInput): Promise<GetLifecyclePolicyCommandOutput>;
  updateLifecyclePolicy(input: UpdateLifecyclePolicyCommandInput): Promise<UpdateLifecyclePolicyCommandOutput>;
  deleteLifecyclePolicy(input: DeleteLifecyclePolicyCommandInput): Promise<DeleteLifecyclePolicyCommandOutput>;
}

export function wrapDlmClient(client: DLMClient): DlmApi {
  return {
    createLifecyclePolicy: (input) => client.send(new CreateLifecyclePolicyCommand(input)),
    getLifecyclePolicies: (input) => client.send(new GetLifecyclePoliciesCommand(input)),
    getLifecyclePolicy: (input) => client.send(new GetLifecyclePolicyCommand(input)),
    updateLifecyclePolicy: (input) => client.send(new UpdateLifecyclePolicyCommand(input)),
    deleteLifecyclePolicy: (input) => client.send(new DeleteLifecyclePolicyCommand(input)),
  };
}

export function createDlmClient(opts: AwsClientOptions): DLMClient {
  const client = new DLMClient({
    region: opts.region,
    maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
  return recordEndpointOnError(client);
}

export type { Snapshot as Ec2Snapshot } from '@aws-sdk/client-ec2';
export type { LifecyclePolicy as DlmPolicy, LifecyclePolicySummary as DlmPolicySummary } from '@aws-sdk/client-dlm';

// Model types the adapter maps from, re-exported so no other file needs to name the SDK package.
export type {
  Address as Ec2Address,
  Filter as Ec2Filter,
  Image as Ec2Image,
  Instance as Ec2Instance,
  _InstanceType as Ec2InstanceType,
  KeyPairInfo as Ec2KeyPair,
  SecurityGroup as Ec2SecurityGroup,
  Tag as Ec2Tag,
  Volume as Ec2Volume,
} from '@aws-sdk/client-ec2';

// --- doctor: the vCPU quota (issue 13) ---

/**
 * Fewer attempts than EC2's: the quota only informs doctor, whose check turns a read that keeps
 * failing into a warning, so riding out a minute of throttling (or of an endpoint's 500s) is not
 * worth the wait. About half a second of backoff in all.
 */
const QUOTA_MAX_ATTEMPTS = 4;

/** The Service Quotas calls `doctor` makes to read an EC2 vCPU quota. */
export interface ServiceQuotasApi {
  getServiceQuota(input: GetServiceQuotaCommandInput): Promise<GetServiceQuotaCommandOutput>;
  getAWSDefaultServiceQuota(input: GetAWSDefaultServiceQuotaCommandInput): Promise<GetAWSDefaultServiceQuotaCommandOutput>;
}

/** The command classes the wrapper sends: passed in, because the module is imported on first use. */
export type ServiceQuotasCommands = Pick<typeof import('@aws-sdk/client-service-quotas'), 'GetServiceQuotaCommand' | 'GetAWSDefaultServiceQuotaCommand'>;

export function wrapServiceQuotasClient(client: ServiceQuotasClient, sdk: ServiceQuotasCommands): ServiceQuotasApi {
  return {
    getServiceQuota: (input) => client.send(new sdk.GetServiceQuotaCommand(input)),
    getAWSDefaultServiceQuota: (input) => client.send(new sdk.GetAWSDefaultServiceQuotaCommand(input)),
  };
}

/**
 * The Service Quotas client, configured like the EC2 client (region, profile, endpoint, retries).
 * Only `doctor` reads quotas, so the client's module is imported here, on the first call, and the
 * bundle keeps it in its own chunk: other AWS commands never load it.
 */
export async function createServiceQuotasApi(opts: AwsClientOptions): Promise<ServiceQuotasApi> {
  const loaded = await import('@aws-sdk/client-service-quotas');
  // The bundle resolves the package to its CommonJS build, and a dynamically imported CommonJS
  // chunk has only a default export (module.exports); Node's own import also names the exports.
  const sdk: typeof loaded = 'ServiceQuotasClient' in loaded ? loaded : (loaded as unknown as { default: typeof loaded }).default;
  const client = new sdk.ServiceQuotasClient({
    region: opts.region,
    maxAttempts: opts.maxAttempts ?? QUOTA_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
  return wrapServiceQuotasClient(recordEndpointOnError(client), sdk);
}
