// The specs a launch, an upgrade hop and an image build hand the AWS adapter, as the workflows
// will: the XS preset's numbers, one allowed CIDR, one SSH CIDR, labels in the neutral keys. The
// same values as the old adapter's test spec (test/cloud/aws/launch-spec.ts), so the requests the
// new adapter sends can be compared with what the old one sent.
import type { Labels } from '../../../../src/core/labels.js';
import type {
  AccessPolicySpec,
  AccessRule,
  AddressSpec,
  DataDiskSpec,
  ImageFromBuilderSpec,
  InstanceSpec,
  LaunchRequestsSpec,
  Placement,
  Scope,
  SshKeySpec,
} from '../../../../src/cloud/port.js';

export const TEST_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEfZ0yn0ZBMQQ4hXGz4mdXnzjtK3lyAL06yqEQNP0q6X sourcegraph-launch-test';
/** What `ssh-keygen -lf` prints for TEST_PUBLIC_KEY. */
export const TEST_PUBLIC_KEY_FINGERPRINT = 'SHA256:oEbUdRY9OnFDG5hdDbSEiZiUYrWpqFAoVs+g+KkEyPo';

export const REGION = 'us-east-1';
export const SCOPE: Scope = { provider: 'aws', region: REGION, params: {} };

export interface DemoLaunch {
  deployment: string;
  version: string;
  size: string;
  imageId: string;
  machineType: string;
  allowCidrs: string[];
  sshCidrs: string[];
  sshKey: SshKeySpec;
  /** new: reserve one; none; or the allocation id the user brought. */
  address: 'new' | 'none' | { id: string };
  dataDisk: DataDiskSpec;
  encryptionKeyId?: string;
  idempotencyKey: string;
}

export function demoLaunch(overrides: Partial<DemoLaunch> = {}): DemoLaunch {
  return {
    deployment: 'demo',
    version: '6.12.5040',
    size: 'XS',
    imageId: 'ami-0123456789abcdef0',
    machineType: 'm6a.2xlarge',
    allowCidrs: ['203.0.113.0/24'],
    sshCidrs: ['198.51.100.7/32'],
    sshKey: { mode: 'import', name: 'sourcegraph-launch-demo', publicKey: TEST_PUBLIC_KEY },
    address: 'new',
    dataDisk: { mode: 'new', disk: { sizeGiB: 500, type: 'gp3', iops: 3000, throughput: 125 } },
    idempotencyKey: 'demo-launch-0001',
    ...overrides,
  };
}

/** What every resource of a deployment carries: deployment, role, version, size and managed. */
export function deploymentLabels(d: Pick<DemoLaunch, 'deployment' | 'version' | 'size'>, role: string): Labels {
  return { deployment: d.deployment, role, version: d.version, size: d.size, managed: 'true' };
}

/** 80 and 443 from each allowed CIDR, 22 from each SSH CIDR: what a launch opens. */
export function launchRules(d: Pick<DemoLaunch, 'allowCidrs' | 'sshCidrs'>): AccessRule[] {
  return [
    ...d.allowCidrs.map((cidr) => ({ port: 80, cidr })),
    ...d.allowCidrs.map((cidr) => ({ port: 443, cidr })),
    ...d.sshCidrs.map((cidr) => ({ port: 22, cidr })),
  ];
}

export function accessSpec(d: DemoLaunch, placement: Placement): AccessPolicySpec {
  return { deployment: d.deployment, labels: deploymentLabels(d, 'security-group'), name: `sourcegraph-launch-${d.deployment}`, placement, rules: launchRules(d) };
}

export function addressSpec(d: DemoLaunch): AddressSpec {
  if (d.address === 'none') return { mode: 'none' };
  if (d.address === 'new') return { mode: 'new', deployment: d.deployment, labels: deploymentLabels(d, 'address') };
  return { mode: 'existing', id: d.address.id, deployment: d.deployment };
}

export function instanceSpec(d: DemoLaunch, placement: Placement, accessPolicyIds: string[]): InstanceSpec {
  return {
    deployment: d.deployment,
    role: 'instance',
    version: d.version,
    size: d.size,
    imageId: d.imageId,
    machineType: d.machineType,
    placement,
    accessPolicyIds,
    sshKey: d.sshKey,
    loginUser: 'ec2-user',
    rootDisk: { sizeGiB: 50, type: 'gp3' },
    dataDisk: d.dataDisk,
    keepDataDisk: true,
    ...(d.encryptionKeyId ? { encryptionKeyId: d.encryptionKeyId } : {}),
    labels: deploymentLabels(d, 'instance'),
    idempotencyKey: d.idempotencyKey,
  };
}

/** The whole launch as the dry run takes it; placement and group not known yet. */
export function launchRequestsSpec(d: DemoLaunch = demoLaunch(), placement: Placement = { zone: 'us-east-1a' }): LaunchRequestsSpec {
  return { sshKey: d.sshKey, access: accessSpec(d, placement), instance: instanceSpec(d, placement, []), address: addressSpec(d) };
}

// ---- image builds ----

export interface DemoBuild {
  buildName: string;
  runId: string;
  version: string;
  size: string;
  baseImageId: string;
  sshCidrs: string[];
  keyName: string;
  imageName: string;
  sourceCommit: string;
  idempotencyKey: string;
}

export function demoBuild(overrides: Partial<DemoBuild> = {}): DemoBuild {
  return {
    buildName: '6.13.100-xs',
    runId: 'run1',
    version: '6.13.100',
    size: 'XS',
    baseImageId: 'ami-0a12023000000002',
    sshCidrs: ['203.0.113.7/32'],
    keyName: 'sourcegraph-launch-build-6.13.100-xs',
    imageName: 'sourcegraph-launch-6.13.100-XS-20260105T100000Z',
    sourceCommit: '0123456789abcdef0123456789abcdef01234567',
    idempotencyKey: 'sgl-build-6.13.100-xs-abc',
    ...overrides,
  };
}

/** What every resource of a build carries; no deployment label, so nothing takes a builder for a deployment. */
export function buildLabels(b: DemoBuild, role: string): Labels {
  return { build: b.buildName, 'build-run': b.runId, role, version: b.version, size: b.size, managed: 'true' };
}

export function builderSshKey(b: DemoBuild): SshKeySpec {
  return { mode: 'import', name: b.keyName, publicKey: TEST_PUBLIC_KEY };
}

export function builderAccessSpec(b: DemoBuild, placement: Placement): AccessPolicySpec {
  return {
    deployment: b.buildName,
    labels: buildLabels(b, 'security-group'),
    name: `sourcegraph-launch-build-${b.buildName}-${b.runId}`,
    placement,
    rules: b.sshCidrs.map((cidr) => ({ port: 22, cidr })),
  };
}

export function builderSpec(b: DemoBuild, placement: Placement, accessPolicyIds: string[]): InstanceSpec {
  return {
    deployment: b.buildName,
    role: 'builder',
    version: b.version,
    size: b.size,
    imageId: b.baseImageId,
    machineType: 'm6a.2xlarge',
    placement,
    accessPolicyIds,
    sshKey: builderSshKey(b),
    loginUser: 'ec2-user',
    rootDisk: { sizeGiB: 50, type: 'gp3' },
    dataDisk: { mode: 'new', disk: { sizeGiB: 500, type: 'gp3' } },
    // Unlike a deployment's, both disks go with the builder: the image's snapshots hold them.
    keepDataDisk: false,
    labels: buildLabels(b, 'builder'),
    idempotencyKey: b.idempotencyKey,
  };
}

export function imageSpec(b: DemoBuild): ImageFromBuilderSpec {
  return {
    buildName: b.buildName,
    runId: b.runId,
    name: b.imageName,
    description: `Sourcegraph ${b.version} (${b.size}) built by sourcegraph-launch from ${b.sourceCommit}`,
    labels: { ...buildLabels(b, 'image'), 'source-commit': b.sourceCommit },
  };
}

/** EC2's tag list as a plain object. */
export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string | undefined> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));
}
