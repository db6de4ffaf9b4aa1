// The instance type is checked before anything is created (issue 8 item 8): it must exist and be
// offered in the region (DescribeInstanceTypeOfferings on moto, whose offerings data is AWS's), and
// the instance goes to a zone that offers it. Offline, the preset families' sizes are known.
import { DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runCli } from '../support/cli.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const AMI = 'ami-0a1b2c3d4e5f60729';
let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: AMI, name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
  ec2 = motoEc2Client(moto, 'eu-west-1');
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

const flags = { region: 'eu-west-1', version: '6.12.5040', image: AMI, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], providerFlags: { elasticIp: 'none' }, wait: false, yes: true };
const deps = () => makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home: tempHome() });

describe('with credentials', () => {
  it('a type that does not exist exits 2 before anything is created', async () => {
    await expect(runLaunch(deps(), { ...flags, name: 'bad', instanceType: 'm6a.nonsense' })).rejects.toMatchObject({ code: 'instance-type-not-offered', exitCode: 2, message: expect.stringMatching(/--instance-type m6a\.nonsense is not offered in eu-west-1 \(it does not exist; sizes of m6a: m6a\.12xlarge/) });
    expect(await deploymentResources(ec2).groups('bad')).toEqual([]);
    expect(await deploymentResources(ec2).keyPairs('bad')).toEqual([]);
  });

  it('the instance goes to a zone that offers the type (here not the first zone)', async () => {
    // a1.2xlarge is offered in eu-west-1b and -1c only (AWS's own offerings data, as moto ships it).
    const result = (await runLaunch(deps(), { ...flags, name: 'zoned', instanceType: 'a1.2xlarge' })) as LaunchResult;
    const [instance] = await deploymentResources(ec2).liveInstances('zoned');
    expect(instance!.InstanceId).toBe(result.instanceId);
    expect(instance!.Placement!.AvailabilityZone).not.toBe('eu-west-1a');
  });

  it('a --subnet in a zone without the type exits 2 before anything is created', async () => {
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: ['eu-west-1a'] }] }))).Subnets!;
    await expect(runLaunch(deps(), { ...flags, name: 'wrongzone', instanceType: 'a1.2xlarge', subnet: subnets[0]!.SubnetId })).rejects.toMatchObject({ code: 'subnet-zone-mismatch', exitCode: 2 });
    expect(await deploymentResources(ec2).keyPairs('wrongzone')).toEqual([]);
  });
});

it('offline, a size the preset family does not have exits 2 naming the sizes it has', async () => {
  const r = await runCli(['launch', '--region', 'us-east-1', '--allow-cidr', '203.0.113.7/32', '--instance-type', 'm6a.nonsense', '--dry-run', '--yes'], {
    home: tempHome(),
    env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
  });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/--instance-type m6a\.nonsense does not exist\. Sizes of m6a: m6a\.12xlarge, .*m6a\.2xlarge/);
});
