// The EC2 On-Demand vCPU quota a launch draws on, read from Service Quotas, and its use: the vCPUs
// of the running and pending On-Demand instances of the same quota's families in the region. EC2
// does not report the use (CloudWatch's usage metrics would need another SDK), so it is counted
// here from DescribeInstances and the types' vCPUs, the way EC2 counts it.
import { CloudError, LaunchError } from '../../core/errors.js';
import type { QuotaFigure, QuotaProblem } from '../port.js';
import type { AwsContext } from './context.js';
import { call, paginate } from './context.js';
import { isAwsErrorCode, toLaunchError } from './errors.js';
import type { Ec2InstanceType } from './sdk.js';

/** One of EC2's On-Demand vCPU quotas: each instance family counts against exactly one. */
export interface VcpuQuota {
  code: string;
  name: string;
}

const STANDARD: VcpuQuota = { code: 'L-1216C47A', name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances' };

// Longest family prefixes first: "inf2" is Inf, not the standard I; "dl1" is DL, not D; "hpc7a"
// is HPC, not H; "trn1" is Trn, not T; "vt1" shares G's quota; "u-6tb1" and "u7i" are High Memory.
const BY_PREFIX: [RegExp, VcpuQuota | undefined][] = [
  [/^inf/, { code: 'L-1945791B', name: 'Running On-Demand Inf instances' }],
  [/^trn/, { code: 'L-2C3B7624', name: 'Running On-Demand Trn instances' }],
  [/^dl/, { code: 'L-6E869C2A', name: 'Running On-Demand DL instances' }],
  [/^hpc/, { code: 'L-F7808C92', name: 'Running On-Demand HPC instances' }],
  [/^(g|vt)/, { code: 'L-DB2E81BA', name: 'Running On-Demand G and VT instances' }],
  [/^p/, { code: 'L-417A185B', name: 'Running On-Demand P instances' }],
  [/^x/, { code: 'L-7295265B', name: 'Running On-Demand X instances' }],
  [/^f/, { code: 'L-74FC7D96', name: 'Running On-Demand F instances' }],
  [/^u/, { code: 'L-43DA4232', name: 'Running On-Demand High Memory instances' }],
  // Mac instances run on Dedicated Hosts, which have per-host quotas, not a vCPU one.
  [/^mac/, undefined],
  [/^[acdhimrtz]/, STANDARD],
];

/** The On-Demand vCPU quota an instance type counts against; undefined when none (Mac) or unknown. */
export function vcpuQuotaOf(instanceType: string): VcpuQuota | undefined {
  const family = instanceType.toLowerCase().split('.')[0]!;
  return BY_PREFIX.find(([re]) => re.test(family))?.[1];
}

export type VcpuQuotaReading = { figure: QuotaFigure } | { unknown: string } | { unreadable: QuotaProblem };

/** The quota of the type's family (the standard one without a type) and its use in the region. */
export async function readVcpuQuota(c: AwsContext, instanceType: string | undefined): Promise<VcpuQuotaReading> {
  const quota = instanceType ? vcpuQuotaOf(instanceType) : STANDARD;
  if (!quota) return { unknown: `${instanceType} counts against no On-Demand vCPU quota this tool knows: read its quota in Service Quotas → Amazon EC2 in ${c.region}` };
  const where = `Service Quotas → Amazon EC2 → "${quota.name}" (${quota.code}) in ${c.region}`;
  if (!c.serviceQuotas) return { unknown: `the vCPU quota is read in ${where}` };
  try {
    const [limit, used] = await Promise.all([quotaValue(c, quota), vcpusInUse(c, quota)]);
    return { figure: { limit, used } };
  } catch (e) {
    if (!(e instanceof LaunchError)) throw e;
    return { unreadable: problem(e, where) };
  }
}

/** The default vCPUs of one instance of `instanceType` (DescribeInstanceTypes); undefined when EC2 cannot tell. */
export async function instanceTypeVcpus(c: AwsContext, instanceType: string): Promise<number | undefined> {
  try {
    const out = await call(c, 'DescribeInstanceTypes', () => c.ec2.describeInstanceTypes({ InstanceTypes: [instanceType as Ec2InstanceType] }));
    return out.InstanceTypes?.find((t) => t.InstanceType === instanceType)?.VCpuInfo?.DefaultVCpus;
  } catch (e) {
    // An unknown type or a refusal: the instance-type check reports it; here the need stays unknown.
    if (e instanceof LaunchError) return undefined;
    throw e;
  }
}

/** The account's value, else (never changed from the default, or not applied yet) AWS's default. */
async function quotaValue(c: AwsContext, quota: VcpuQuota): Promise<number> {
  const sq = c.serviceQuotas!;
  const input = { ServiceCode: 'ec2', QuotaCode: quota.code };
  const ctx = { operation: 'GetServiceQuota', profile: c.profile, region: c.region, service: 'servicequotas' as const };
  let value: number | undefined;
  try {
    value = (await sq.getServiceQuota(input)).Quota?.Value;
  } catch (err) {
    // Service Quotas answers NoSuchResource for a quota the account has no applied value of yet.
    if (!isAwsErrorCode(err, 'NoSuchResourceException')) throw toLaunchError(err, ctx);
    value = (await call(c, 'GetAWSDefaultServiceQuota', () => sq.getAWSDefaultServiceQuota(input), { service: 'servicequotas' })).Quota?.Value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new CloudError('quota-unreadable', `Service Quotas answered no value for ${quota.code}`);
  }
  return value;
}

/**
 * The vCPUs of the region's running and pending On-Demand instances whose family counts against
 * `quota`: Spot instances have quotas of their own. A type counts its default vCPUs.
 */
async function vcpusInUse(c: AwsContext, quota: VcpuQuota): Promise<number> {
  const pages = await paginate(c, 'DescribeInstances', (NextToken) =>
    c.ec2.describeInstances({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 1000, ...(NextToken ? { NextToken } : {}) }),
  );
  const counted = pages
    .flatMap((p) => p.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.InstanceType && i.InstanceLifecycle !== 'spot' && vcpuQuotaOf(i.InstanceType)?.code === quota.code)
    .map((i) => i.InstanceType!);
  if (!counted.length) return 0;
  const types = [...new Set(counted)];
  const vcpus = new Map<string, number>();
  // DescribeInstanceTypes takes at most 100 types per call.
  for (let i = 0; i < types.length; i += 100) {
    const out = await call(c, 'DescribeInstanceTypes', () => c.ec2.describeInstanceTypes({ InstanceTypes: types.slice(i, i + 100) as Ec2InstanceType[] }));
    for (const t of out.InstanceTypes ?? []) if (t.InstanceType && t.VCpuInfo?.DefaultVCpus) vcpus.set(t.InstanceType, t.VCpuInfo.DefaultVCpus);
  }
  const missing = types.filter((t) => !vcpus.has(t));
  if (missing.length) throw new CloudError('quota-unreadable', `EC2 did not report the vCPUs of ${missing.join(', ')}`);
  return counted.reduce((sum, t) => sum + vcpus.get(t)!, 0);
}

/** What went wrong reading the quota, said for a person: the permission, a retry, or the console. */
function problem(e: LaunchError, where: string): QuotaProblem {
  const operation = typeof e.details?.operation === 'string' ? e.details.operation : undefined;
  const service = operation === 'GetServiceQuota' || operation === 'GetAWSDefaultServiceQuota' ? 'servicequotas' : 'ec2';
  if (e.code === 'permission-denied' && operation) {
    const actions = service === 'servicequotas' ? 'servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota' : `ec2:${operation}`;
    return { reason: `could not read the vCPU quota: ${e.message}`, fix: `Allow ${actions} for this identity (they are in \`doctor --print-policy\`), or read the quota in ${where}.` };
  }
  if (e.code === 'throttled') return { reason: `could not read the vCPU quota: ${e.message}`, fix: `Run doctor again in a minute, or read the quota in ${where}.` };
  return { reason: `could not read the vCPU quota: ${e.message}`, fix: `Read it in ${where}.` };
}
