// The only module that imports the ELBv2 SDK client, with the few EC2 network calls only the load
// balancer needs (a second subnet, its route table): its own chunk, loaded only when
// `tls --tls managed`, its removal, `destroy` of a deployment that has one, or an upgrade, rollback or
// restore moving its target to the new instance runs.
import {
  AssociateRouteTableCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  type AssociateRouteTableCommandInput,
  type AssociateRouteTableCommandOutput,
  type CreateSubnetCommandInput,
  type CreateSubnetCommandOutput,
  type DeleteSubnetCommandInput,
  type DeleteSubnetCommandOutput,
  type DescribeAvailabilityZonesCommandInput,
  type DescribeAvailabilityZonesCommandOutput,
  type DescribeRouteTablesCommandInput,
  type DescribeRouteTablesCommandOutput,
  type DescribeSecurityGroupRulesCommandInput,
  type DescribeSecurityGroupRulesCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  type CreateListenerCommandInput,
  type CreateListenerCommandOutput,
  type CreateLoadBalancerCommandInput,
  type CreateLoadBalancerCommandOutput,
  type CreateTargetGroupCommandInput,
  type CreateTargetGroupCommandOutput,
  type DeleteListenerCommandInput,
  type DeleteListenerCommandOutput,
  type DeleteLoadBalancerCommandInput,
  type DeleteLoadBalancerCommandOutput,
  type DeleteTargetGroupCommandInput,
  type DeleteTargetGroupCommandOutput,
  type DeregisterTargetsCommandInput,
  type DeregisterTargetsCommandOutput,
  type DescribeListenersCommandInput,
  type DescribeListenersCommandOutput,
  type DescribeLoadBalancersCommandInput,
  type DescribeLoadBalancersCommandOutput,
  type DescribeTargetGroupsCommandInput,
  type DescribeTargetGroupsCommandOutput,
  type DescribeTargetHealthCommandInput,
  type DescribeTargetHealthCommandOutput,
  type RegisterTargetsCommandInput,
  type RegisterTargetsCommandOutput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClientOptions } from './sdk.js';

/** Every ELBv2 call the adapter makes. */
export interface Elbv2Api {
  describeLoadBalancers(input: DescribeLoadBalancersCommandInput): Promise<DescribeLoadBalancersCommandOutput>;
  createLoadBalancer(input: CreateLoadBalancerCommandInput): Promise<CreateLoadBalancerCommandOutput>;
  deleteLoadBalancer(input: DeleteLoadBalancerCommandInput): Promise<DeleteLoadBalancerCommandOutput>;
  describeTargetGroups(input: DescribeTargetGroupsCommandInput): Promise<DescribeTargetGroupsCommandOutput>;
  createTargetGroup(input: CreateTargetGroupCommandInput): Promise<CreateTargetGroupCommandOutput>;
  deleteTargetGroup(input: DeleteTargetGroupCommandInput): Promise<DeleteTargetGroupCommandOutput>;
  registerTargets(input: RegisterTargetsCommandInput): Promise<RegisterTargetsCommandOutput>;
  /** The target group's targets (upgrade, rollback and restore move the deployment's to the new instance). */
  describeTargetHealth(input: DescribeTargetHealthCommandInput): Promise<DescribeTargetHealthCommandOutput>;
  deregisterTargets(input: DeregisterTargetsCommandInput): Promise<DeregisterTargetsCommandOutput>;
  describeListeners(input: DescribeListenersCommandInput): Promise<DescribeListenersCommandOutput>;
  createListener(input: CreateListenerCommandInput): Promise<CreateListenerCommandOutput>;
  deleteListener(input: DeleteListenerCommandInput): Promise<DeleteListenerCommandOutput>;
}

/** The EC2 calls of the second subnet, and the rule ids of the instance's "from the load balancer" rule. */
export interface SubnetApi {
  describeAvailabilityZones(input: DescribeAvailabilityZonesCommandInput): Promise<DescribeAvailabilityZonesCommandOutput>;
  createSubnet(input: CreateSubnetCommandInput): Promise<CreateSubnetCommandOutput>;
  deleteSubnet(input: DeleteSubnetCommandInput): Promise<DeleteSubnetCommandOutput>;
  describeRouteTables(input: DescribeRouteTablesCommandInput): Promise<DescribeRouteTablesCommandOutput>;
  associateRouteTable(input: AssociateRouteTableCommandInput): Promise<AssociateRouteTableCommandOutput>;
  describeSecurityGroupRules(input: DescribeSecurityGroupRulesCommandInput): Promise<DescribeSecurityGroupRulesCommandOutput>;
}

export interface LoadBalancerApis {
  elbv2: Elbv2Api;
  subnets: SubnetApi;
}

export function wrapLoadBalancerClients(elb: ElasticLoadBalancingV2Client, ec2: EC2Client): LoadBalancerApis {
  return {
    elbv2: {
      describeLoadBalancers: (input) => elb.send(new DescribeLoadBalancersCommand(input)),
      createLoadBalancer: (input) => elb.send(new CreateLoadBalancerCommand(input)),
      deleteLoadBalancer: (input) => elb.send(new DeleteLoadBalancerCommand(input)),
      describeTargetGroups: (input) => elb.send(new DescribeTargetGroupsCommand(input)),
      createTargetGroup: (input) => elb.send(new CreateTargetGroupCommand(input)),
      deleteTargetGroup: (input) => elb.send(new DeleteTargetGroupCommand(input)),
      registerTargets: (input) => elb.send(new RegisterTargetsCommand(input)),
      describeTargetHealth: (input) => elb.send(new DescribeTargetHealthCommand(input)),
      deregisterTargets: (input) => elb.send(new DeregisterTargetsCommand(input)),
      describeListeners: (input) => elb.send(new DescribeListenersCommand(input)),
      createListener: (input) => elb.send(new CreateListenerCommand(input)),
      deleteListener: (input) => elb.send(new DeleteListenerCommand(input)),
    },
    subnets: {
      describeAvailabilityZones: (input) => ec2.send(new DescribeAvailabilityZonesCommand(input)),
      createSubnet: (input) => ec2.send(new CreateSubnetCommand(input)),
      deleteSubnet: (input) => ec2.send(new DeleteSubnetCommand(input)),
      describeRouteTables: (input) => ec2.send(new DescribeRouteTablesCommand(input)),
      associateRouteTable: (input) => ec2.send(new AssociateRouteTableCommand(input)),
      describeSecurityGroupRules: (input) => ec2.send(new DescribeSecurityGroupRulesCommand(input)),
    },
  };
}

export function createLoadBalancerApis(opts: AwsClientOptions): LoadBalancerApis {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = {
    region: opts.region,
    maxAttempts: opts.maxAttempts ?? 8, // as sdk.ts's DEFAULT_MAX_ATTEMPTS
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  };
  return wrapLoadBalancerClients(new ElasticLoadBalancingV2Client(config), new EC2Client(config));
}
