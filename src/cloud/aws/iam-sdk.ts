// The only module that imports the IAM SDK client, kept apart from sdk.ts so its chunk loads only
// when `tls --tls acme` with the DNS-01 challenge (or its removal, or `destroy` of a deployment that
// has its role) runs. It also carries the three EC2 calls that put an instance profile on an
// instance: they belong to the same feature and are used nowhere else.
import {
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  type AssociateIamInstanceProfileCommandInput,
  type AssociateIamInstanceProfileCommandOutput,
  type DescribeIamInstanceProfileAssociationsCommandInput,
  type DescribeIamInstanceProfileAssociationsCommandOutput,
  type DisassociateIamInstanceProfileCommandInput,
  type DisassociateIamInstanceProfileCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  type AddRoleToInstanceProfileCommandInput,
  type CreateInstanceProfileCommandInput,
  type CreateInstanceProfileCommandOutput,
  type CreateRoleCommandInput,
  type CreateRoleCommandOutput,
  type DeleteInstanceProfileCommandInput,
  type DeleteRoleCommandInput,
  type DeleteRolePolicyCommandInput,
  type GetInstanceProfileCommandInput,
  type GetInstanceProfileCommandOutput,
  type GetRoleCommandInput,
  type GetRoleCommandOutput,
  type PutRolePolicyCommandInput,
  type RemoveRoleFromInstanceProfileCommandInput,
} from '@aws-sdk/client-iam';
import type { AwsClientOptions } from './sdk.js';

/** Every IAM call the adapter makes, and the EC2 calls of instance profile associations. */
export interface IamApi {
  getRole(input: GetRoleCommandInput): Promise<GetRoleCommandOutput>;
  createRole(input: CreateRoleCommandInput): Promise<CreateRoleCommandOutput>;
  putRolePolicy(input: PutRolePolicyCommandInput): Promise<unknown>;
  deleteRolePolicy(input: DeleteRolePolicyCommandInput): Promise<unknown>;
  deleteRole(input: DeleteRoleCommandInput): Promise<unknown>;
  getInstanceProfile(input: GetInstanceProfileCommandInput): Promise<GetInstanceProfileCommandOutput>;
  createInstanceProfile(input: CreateInstanceProfileCommandInput): Promise<CreateInstanceProfileCommandOutput>;
  addRoleToInstanceProfile(input: AddRoleToInstanceProfileCommandInput): Promise<unknown>;
  removeRoleFromInstanceProfile(input: RemoveRoleFromInstanceProfileCommandInput): Promise<unknown>;
  deleteInstanceProfile(input: DeleteInstanceProfileCommandInput): Promise<unknown>;
  describeIamInstanceProfileAssociations(input: DescribeIamInstanceProfileAssociationsCommandInput): Promise<DescribeIamInstanceProfileAssociationsCommandOutput>;
  associateIamInstanceProfile(input: AssociateIamInstanceProfileCommandInput): Promise<AssociateIamInstanceProfileCommandOutput>;
  disassociateIamInstanceProfile(input: DisassociateIamInstanceProfileCommandInput): Promise<DisassociateIamInstanceProfileCommandOutput>;
}

export function wrapIamClients(iam: IAMClient, ec2: EC2Client): IamApi {
  return {
    getRole: (input) => iam.send(new GetRoleCommand(input)),
    createRole: (input) => iam.send(new CreateRoleCommand(input)),
    putRolePolicy: (input) => iam.send(new PutRolePolicyCommand(input)),
    deleteRolePolicy: (input) => iam.send(new DeleteRolePolicyCommand(input)),
    deleteRole: (input) => iam.send(new DeleteRoleCommand(input)),
    getInstanceProfile: (input) => iam.send(new GetInstanceProfileCommand(input)),
    createInstanceProfile: (input) => iam.send(new CreateInstanceProfileCommand(input)),
    addRoleToInstanceProfile: (input) => iam.send(new AddRoleToInstanceProfileCommand(input)),
    removeRoleFromInstanceProfile: (input) => iam.send(new RemoveRoleFromInstanceProfileCommand(input)),
    deleteInstanceProfile: (input) => iam.send(new DeleteInstanceProfileCommand(input)),
    describeIamInstanceProfileAssociations: (input) => ec2.send(new DescribeIamInstanceProfileAssociationsCommand(input)),
    associateIamInstanceProfile: (input) => ec2.send(new AssociateIamInstanceProfileCommand(input)),
    disassociateIamInstanceProfile: (input) => ec2.send(new DisassociateIamInstanceProfileCommand(input)),
  };
}

/** IAM is global (its API answers in us-east-1); the associations are EC2's, in the deployment's region. */
export function createIamApi(opts: AwsClientOptions): IamApi {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const common = {
    maxAttempts: opts.maxAttempts ?? 8, // as sdk.ts's DEFAULT_MAX_ATTEMPTS
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  };
  return wrapIamClients(new IAMClient({ ...common, region: 'us-east-1' }), new EC2Client({ ...common, region: opts.region }));
}
