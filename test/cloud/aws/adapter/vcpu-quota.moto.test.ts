// doctor's AWS vCPU quota. The use is counted for real: instances run in moto, their types' vCPUs
// come from moto's DescribeInstanceTypes. The quota itself comes from Service Quotas, which moto
// 5.2.1 keeps only for the "vpc" service (an EC2 code answers NoSuchResource; there is no
// GetAWSDefaultServiceQuota): one test reads it from moto end to end (the fallback, then a clear
// "could not read"), the others send the real Service Quotas client's commands to a mock at the SDK
// client boundary (aws-sdk-client-mock) for the request shape, the account value, the default when
// the account has none, denial and throttling.
import { DescribeImagesCommand, RunInstancesCommand, StopInstancesCommand, type EC2Client, type _InstanceType } from '@aws-sdk/client-ec2';
import {
  AccessDeniedException,
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  NoSuchResourceException,
  ServiceQuotasClient,
  TooManyRequestsException,
} from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAdapter } from '../../../../src/cloud/aws/adapter.js';
import { vcpuQuotaOf } from '../../../../src/cloud/aws/vcpu-quota.js';
import { createServiceQuotasApi, wrapAwsClients, wrapServiceQuotasClient, type ServiceQuotasApi } from '../../../../src/cloud/aws/sdk.js';
import { motoEc2Client, motoStsClient, startMoto, type MotoServer } from '../../../support/moto.js';
import { SCOPE } from './fixtures.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let moto: MotoServer;
let ec2: EC2Client;
let imageId: string;

beforeAll(async () => {
  moto = await startMoto();
  ec2 = motoEc2Client(moto);
});
afterAll(async () => {
  await moto?.stop();
});
async function freshMoto(): Promise<void> {
  await moto.reset();
  // Any image moto ships will do: only the instances' types and states matter here.
  imageId = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }))).Images![0]!.ImageId!;
}

const adapter = (serviceQuotas?: ServiceQuotasApi) =>
  new AwsAdapter({ ...wrapAwsClients({ ec2, sts: motoStsClient(moto) }), ...(serviceQuotas ? { serviceQuotas } : {}) }, SCOPE, { sleep: async () => undefined });

async function run(type: string, count = 1, spot = false): Promise<string[]> {
  const out = await ec2.send(
    new RunInstancesCommand({ ImageId: imageId, InstanceType: type as _InstanceType, MinCount: count, MaxCount: count, ...(spot ? { InstanceMarketOptions: { MarketType: 'spot' } } : {}) }),
  );
  return out.Instances!.map((i) => i.InstanceId!);
}

/** A Service Quotas API whose SDK client is mocked at send(): the commands are the real ones. */
function mockedQuotas() {
  const client = new ServiceQuotasClient({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
  const mock = mockClient(client);
  return { mock, api: wrapServiceQuotasClient(client, { GetServiceQuotaCommand, GetAWSDefaultServiceQuotaCommand }) };
}

const quota = (value: number) => ({ Quota: { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A', Value: value } });
const meta = { $metadata: { httpStatusCode: 400 } };

describe('which On-Demand vCPU quota an instance type counts against', () => {
  it.each([
    ['m6a.2xlarge', 'L-1216C47A'],
    ['c7i.large', 'L-1216C47A'],
    ['r6i.4xlarge', 'L-1216C47A'],
    ['t3.micro', 'L-1216C47A'],
    ['i4i.xlarge', 'L-1216C47A'],
    ['im4gn.large', 'L-1216C47A'],
    ['d3en.xlarge', 'L-1216C47A'],
    ['h1.2xlarge', 'L-1216C47A'],
    ['z1d.large', 'L-1216C47A'],
    ['a1.large', 'L-1216C47A'],
    ['g5.xlarge', 'L-DB2E81BA'],
    ['vt1.3xlarge', 'L-DB2E81BA'],
    ['p4d.24xlarge', 'L-417A185B'],
    ['x2idn.16xlarge', 'L-7295265B'],
    ['f1.2xlarge', 'L-74FC7D96'],
    ['inf2.xlarge', 'L-1945791B'],
    ['dl1.24xlarge', 'L-6E869C2A'],
    ['trn1.2xlarge', 'L-2C3B7624'],
    ['hpc7a.96xlarge', 'L-F7808C92'],
    ['u-6tb1.metal', 'L-43DA4232'],
    ['u7i-12tb.224xlarge', 'L-43DA4232'],
  ])('%s → %s', (type, code) => {
    expect(vcpuQuotaOf(type)?.code).toBe(code);
  });

  it('Mac instances (Dedicated Hosts) and unknown families count against none', () => {
    expect(vcpuQuotaOf('mac2.metal')).toBeUndefined();
    expect(vcpuQuotaOf('9z.large')).toBeUndefined();
  });
});

describe('the vCPU quota and its use (EC2 on moto, Service Quotas mocked at the client)', () => {
  beforeEach(freshMoto);

  it('asks for ec2/L-1216C47A and counts the running On-Demand standard instances\' vCPUs only', async () => {
    await run('m5.large', 2); // 2 vCPUs each
    await run('c5.xlarge'); // 4
    await run('g4dn.xlarge'); // 4, but the G and VT quota's
    await run('m5.4xlarge', 1, true); // 16, but Spot
    const [stopped] = await run('m5.2xlarge'); // 8, but stopped
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stopped!] }));
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).resolves(quota(32));

    const q = await adapter(api).quotas('m6a.2xlarge');
    expect(q.vcpus).toEqual({ limit: 32, used: 8 });
    expect(q.unknown?.vcpus).toBeUndefined();
    expect(q.unreadable).toBeUndefined();
    expect(mock.commandCalls(GetServiceQuotaCommand).map((c) => c.args[0].input)).toEqual([{ ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' }]);
    expect(mock.commandCalls(GetAWSDefaultServiceQuotaCommand)).toHaveLength(0);
    // The Elastic IP figure is still read beside it.
    expect(q.staticAddresses).toEqual({ limit: 5, used: 0 });
  });

  it('says how many vCPUs one instance of the asked type uses (DescribeInstanceTypes), and nothing for a type EC2 does not know', async () => {
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).resolves(quota(32));
    expect((await adapter(api).quotas('m6a.large')).machineTypeVcpus).toBe(2);
    expect((await adapter(api).quotas('c5.4xlarge')).machineTypeVcpus).toBe(16);
    expect((await adapter(api).quotas('m6a.nosuchsize')).machineTypeVcpus).toBeUndefined();
    expect((await adapter(api).quotas()).machineTypeVcpus).toBeUndefined();
  });

  it('a G type reads the G and VT quota and counts the G instances', async () => {
    await run('m5.large');
    await run('g4dn.xlarge', 2);
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).resolves({ Quota: { QuotaCode: 'L-DB2E81BA', Value: 8 } });
    expect((await adapter(api).quotas('g5.xlarge')).vcpus).toEqual({ limit: 8, used: 8 });
    expect(mock.commandCalls(GetServiceQuotaCommand)[0]!.args[0].input).toEqual({ ServiceCode: 'ec2', QuotaCode: 'L-DB2E81BA' });
  });

  it('NoSuchResource (no value applied to the account) falls back to AWS\'s default for the same code', async () => {
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).rejects(new NoSuchResourceException({ message: 'no such quota', ...meta }));
    mock.on(GetAWSDefaultServiceQuotaCommand).resolves(quota(5));
    expect((await adapter(api).quotas('m6a.2xlarge')).vcpus).toEqual({ limit: 5, used: 0 });
    expect(mock.commandCalls(GetAWSDefaultServiceQuotaCommand).map((c) => c.args[0].input)).toEqual([{ ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' }]);
  });

  it('AccessDenied: unreadable, naming the permissions to allow; the Elastic IP figure stands', async () => {
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).rejects(new AccessDeniedException({ message: 'User is not authorized to perform servicequotas:GetServiceQuota', ...meta }));
    const q = await adapter(api).quotas('m6a.2xlarge');
    expect(q.vcpus).toBeUndefined();
    expect(q.unreadable?.vcpus?.reason).toMatch(/could not read the vCPU quota: AWS denied servicequotas:GetServiceQuota/);
    expect(q.unreadable?.vcpus?.fix).toContain('Allow servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota');
    expect(q.unreadable?.vcpus?.fix).toContain('L-1216C47A');
    expect(q.staticAddresses).toEqual({ limit: 5, used: 0 });
  });

  it('throttled beyond the retries: unreadable, saying to run again', async () => {
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', ...meta }));
    const q = await adapter(api).quotas('m6a.2xlarge');
    expect(q.unreadable?.vcpus?.reason).toMatch(/throttling servicequotas:GetServiceQuota/);
    expect(q.unreadable?.vcpus?.fix).toMatch(/^Run doctor again in a minute/);
  });

  it('an answer without a value is unreadable, not a quota of 0', async () => {
    const { mock, api } = mockedQuotas();
    mock.on(GetServiceQuotaCommand).resolves({ Quota: { QuotaCode: 'L-1216C47A' } });
    const q = await adapter(api).quotas('m6a.2xlarge');
    expect(q.vcpus).toBeUndefined();
    expect(q.unreadable?.vcpus?.reason).toContain('answered no value for L-1216C47A');
  });

  it('a Mac type or no Service Quotas client: unknown, with where to read it (no call made)', async () => {
    const { mock, api } = mockedQuotas();
    expect((await adapter(api).quotas('mac2.metal')).unknown?.vcpus).toMatch(/mac2\.metal counts against no On-Demand vCPU quota/);
    expect(mock.commandCalls(GetServiceQuotaCommand)).toHaveLength(0);
    expect((await adapter().quotas('m6a.2xlarge')).unknown?.vcpus).toContain('"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (L-1216C47A) in us-east-1');
  });
});

describe('the vCPU quota read from moto itself (the CLI\'s own client)', () => {
  beforeEach(freshMoto);

  it('moto has no EC2 quotas: NoSuchResource, then the default is tried, and the outcome is a clear "could not read"', async () => {
    const api = await createServiceQuotasApi({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
    // moto's own answer to the first call, as the SDK sees it.
    await expect(api.getServiceQuota({ ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' })).rejects.toMatchObject({ name: 'NoSuchResourceException' });
    const q = await adapter(api).quotas('m6a.2xlarge');
    expect(q.vcpus).toBeUndefined();
    expect(q.unreadable?.vcpus?.reason).toMatch(/^could not read the vCPU quota: Service Quotas is not available at http:\/\/127\.0\.0\.1:\d+: servicequotas:GetAWSDefaultServiceQuota was answered with HTTP 500 text\/html/);
    expect(q.unreadable?.vcpus?.fix).toContain('Service Quotas → Amazon EC2');
  });
});
