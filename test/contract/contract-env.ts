// What the Cloud contract suite needs from each adapter's test set-up, and the spec builders and
// helpers every section shares. Only the port's words here: no provider's ids, names or errors.
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'vitest';
import { isLaunchError, type LaunchError } from '../../src/core/errors.js';
import type { Labels } from '../../src/core/labels.js';
import type {
  AccessPolicy,
  AccessPolicySpec,
  AccessRule,
  Capabilities,
  Cloud,
  DataDiskSpec,
  DiskSpec,
  Instance,
  InstanceSpec,
  Placement,
  SshKeySpec,
} from '../../src/cloud/port.js';

/** The port's verbs (what an error can be injected into). */
export type CloudMethod = Exclude<keyof Cloud, 'scope' | 'capabilities'>;

/** The errors every adapter maps its cloud's failures to; the suite checks code and exit code. */
export const CONTRACT_ERRORS = {
  'insufficient-capacity': { method: 'ensureInstance', exitCode: 1 },
  'vcpu-limit': { method: 'ensureInstance', exitCode: 1 },
  'instance-type-unavailable': { method: 'ensureInstance', exitCode: 1 },
  'quota-exceeded': { method: 'ensureStaticAddress', exitCode: 1 },
  throttled: { method: 'listDeployments', exitCode: 1 },
  credentials: { method: 'whoAmI', exitCode: 3 },
  'permission-denied': { method: 'ensureInstance', exitCode: 3 },
} as const satisfies Record<string, { method: CloudMethod; exitCode: number }>;
export type ContractErrorKind = keyof typeof CONTRACT_ERRORS;

/** Parts of the contract an emulator may lack while the adapter has them (declared, never skipped quietly). */
export type ContractFeature =
  | 'snapshot-schedules'
  /** An address moved to another instance no longer shows as the first instance's public address. */
  | 'address-move-clears-previous-ip'
  /** The run-command channel runs scripts on the instance (moto's SSM runs nothing). */
  | 'run-command'
  /** HTTPS through the cloud's certificate and load balancer (tls --tls managed) can be built and issued. */
  | 'managed-https'
  /** A certificate the load balancer still serves cannot be deleted (moto deletes it anyway). */
  | 'certificate-in-use';

/** How an adapter joins the suite: what it declares up front, and a fresh cloud per test. */
export interface CloudContractOptions {
  /** The capabilities the adapter declares; a test checks that cloud.capabilities says the same. */
  capabilities: Capabilities;
  /** The cloud keeps SSH keys by name (ensureSshKey answers one); false: the key travels with the instance. */
  keepsSshKeys: boolean;
  /** A subnet belongs to one zone (so one outside the zones asked for is refused); false where subnets are regional. */
  zonalSubnets: boolean;
  /**
   * Errors this adapter's emulator cannot produce, each with the reason. Declared here, they are
   * reported as a test of their own instead of being run; every other kind must be injectable.
   */
  cannotInject?: Partial<Record<ContractErrorKind, string>>;
  /** Abilities the adapter has but its emulator lacks (moto has no snapshot schedule service), each with the reason; each is reported as a test of its own. */
  cannotEmulate?: Partial<Record<ContractFeature, string>>;
  /** Parts of the port the adapter does not implement yet (optional verbs), each with the reason; the suite checks they are indeed absent. */
  notYet?: Partial<Record<'cluster-access' | 'world-port' | 'run-command' | 'managed-https' | 'gateway-https', string>>;
  /** The quota figures the adapter reads from its emulator (doctor); for the others it must say why not. */
  quotaFigures?: ('vcpus' | 'staticAddresses')[];
  /** The adapter answers diskTypeZones (disk types may be offered in fewer zones than machine types); default false. */
  diskTypeZones?: boolean;
  /** A deployment's instance gets a public address of the cloud's without a static one; false where it does not (Azure's VMs). Default true. */
  givesEphemeralPublicIp?: boolean;
  /** A fresh cloud (empty but for the published image) and what the suite must know of it; before every test. */
  setup(): Promise<ContractEnvironment>;
}

export interface ContractEnvironment {
  cloud: Cloud;
  /** A published image, launchable, that findImage({ version }) finds. */
  image: { id: string; version: string };
  /** A machine type offered in (at least) the first two of `zones`. */
  machineType: string;
  /** Two or more zones of the region, each offering `machineType`. */
  zones: [string, string, ...string[]];
  rootDisk: DiskSpec;
  dataDisk: DiskSpec;
  loginUser: string;
  /** Provider settings of a snapshot schedule; {} where there are none. */
  scheduleParams: Record<string, string>;
  /** Well-formed ids (and names) of things that do not exist. */
  missing: {
    instanceId: string;
    diskId: string;
    snapshotId: string;
    imageId: string;
    addressId: string;
    accessPolicyId: string;
    sshKeyName: string;
    scheduleId: string;
    subnetId: string;
    machineType: string;
    /** A disk type the region does not offer, where the cloud can tell (diskTypeZones answers []). */
    diskType?: string;
  };
  /**
   * How finely the cloud records an instance's launch time (EC2 and moto: whole seconds). The suite
   * waits this long between launches whose order it checks. Default 0.
   */
  launchTimeResolutionMs?: number;
  /** Reserves a static address the way a user would, outside the tool; answers its id. */
  bringAddress(): Promise<string>;
  /**
   * Creates a DNS zone the way a user would, outside the tool (tls --domain only ever changes A
   * records in it); answers the zone's id as findDnsZone must answer it.
   */
  bringDnsZone(name: string, opts?: { private?: boolean }): Promise<string>;
  /** Makes every call of `method` fail with `kind` until clearErrors (outlasting the adapter's own retries). */
  injectError?(method: CloudMethod, kind: ContractErrorKind): Promise<void> | void;
  clearErrors?(): Promise<void> | void;
  teardown?(): Promise<void>;
}

/** Generous: virtual on the fake, real (and short) on an emulator. */
export const WAIT = { instance: 20 * 60_000, disk: 20 * 60_000, snapshot: 60 * 60_000, image: 60 * 60_000 } as const;

let counter = 0;
/** A deployment name of its own per use, within every cloud's naming rules. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `ct-${prefix}-${counter}`;
}

/** An OpenSSH ed25519 public key, made fresh (no key material is kept in the repository). */
export function testPublicKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(der.subarray(der.length - 32))]);
  return `ssh-ed25519 ${blob.toString('base64')} contract@test`;
}

export function labelsFor(env: ContractEnvironment, deployment: string, role: string, extra: Labels = {}): Labels {
  return { deployment, role, version: env.image.version, size: 'XS', managed: 'true', ...extra };
}

export const CIDR_A = '203.0.113.0/24';
export const CIDR_B = '198.51.100.0/24';

export function accessSpec(deployment: string, placement: Placement, rules: AccessRule[], labels?: Labels): AccessPolicySpec {
  return {
    deployment,
    labels: labels ?? { deployment, role: 'access-policy', managed: 'true' },
    name: `sourcegraph-launch-${deployment}`,
    placement,
    rules,
  };
}

export interface InstanceOptions {
  placement: Placement;
  accessPolicyIds: string[];
  dataDisk?: DataDiskSpec;
  idempotencyKey?: string;
  role?: 'instance' | 'builder' | 'agent';
  labels?: Labels;
  keepDataDisk?: boolean;
  sshKey?: SshKeySpec;
  publicIp?: boolean;
}

export function instanceSpec(env: ContractEnvironment, deployment: string, o: InstanceOptions): InstanceSpec {
  const role = o.role ?? 'instance';
  return {
    deployment,
    role,
    version: env.image.version,
    size: 'XS',
    imageId: env.image.id,
    machineType: env.machineType,
    placement: o.placement,
    accessPolicyIds: o.accessPolicyIds,
    sshKey: o.sshKey ?? { mode: 'none' },
    loginUser: env.loginUser,
    rootDisk: env.rootDisk,
    dataDisk: o.dataDisk ?? { mode: 'new', disk: env.dataDisk },
    keepDataDisk: o.keepDataDisk ?? role === 'instance',
    labels: o.labels ?? labelsFor(env, deployment, role),
    idempotencyKey: o.idempotencyKey ?? `${deployment}-instance-1`,
    ...(o.publicIp !== undefined ? { publicIp: o.publicIp } : {}),
  };
}

export interface Launched {
  placement: Placement;
  policy: AccessPolicy;
  instance: Instance;
}

/** An access policy and an instance in `zone`, waited for until it runs, described afresh. */
export async function launch(env: ContractEnvironment, deployment: string, o: Partial<InstanceOptions> & { zone?: string } = {}): Promise<Launched> {
  const cloud = env.cloud;
  const placement = o.placement ?? (await cloud.resolvePlacement(undefined, [o.zone ?? env.zones[0]]));
  const policy = await cloud.ensureAccessPolicy(accessSpec(deployment, placement, [{ port: 443, cidr: CIDR_A }]));
  const created = await cloud.ensureInstance(instanceSpec(env, deployment, { accessPolicyIds: [policy.id], ...o, placement }));
  await cloud.waitForInstanceState(created.id, 'running', WAIT.instance);
  const instance = await cloud.describeInstance(created.id);
  expect(instance?.state).toBe('running');
  return { placement, policy, instance: instance! };
}

export function diskOf(instance: Instance, role: 'root' | 'data'): string | undefined {
  const disks = instance.disks.filter((d) => d.role === role);
  expect(disks.length, `${instance.id} has ${disks.length} ${role} disks`).toBeLessThanOrEqual(1);
  return disks[0]?.diskId;
}

/** The typed error a promise rejects with (failing the test when it resolves or throws anything else). */
export async function rejection(promise: Promise<unknown>): Promise<LaunchError> {
  let resolved = false;
  try {
    await promise;
    resolved = true;
  } catch (e) {
    expect(isLaunchError(e), `not a typed error: ${String(e)}`).toBe(true);
    return e as LaunchError;
  }
  expect(resolved, 'expected a rejection').toBe(false);
  throw new Error('unreachable');
}

export function sortedRules(rules: AccessRule[]): string[] {
  return rules.map((r) => `${r.port} ${r.cidr}`).sort();
}
