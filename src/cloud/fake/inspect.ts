// A test's view of everything the fake holds: the port's shapes, plus what only the fake knows
// (the boot guard, the login user, the key that travelled with an instance, console reads).
import type { AccessPolicy, Disk, Image, Instance, Snapshot, SnapshotSchedule, SshKey, StaticAddress } from '../port.js';
import {
  addressView,
  diskView,
  imageView,
  instanceView,
  policyView,
  snapshotView,
  sshKeyView,
  type SubnetRecord,
  type World,
} from './world.js';

export interface FakeInstanceState extends Instance {
  deployment: string;
  role: 'instance' | 'builder' | 'agent';
  loginUser: string;
  /** Created without its data disk: the boot guard powers it off whenever it starts without one. */
  bootGuard: boolean;
  guardPowerOffs: number;
  userData?: string;
  /** The public key, where it travelled with the instance rather than as a key the cloud keeps. */
  sshPublicKey?: string;
  consoleCalls: number;
}

export interface FakeState {
  /** Oldest first; terminated ones while they are still visible. */
  instances: FakeInstanceState[];
  disks: Disk[];
  snapshots: Snapshot[];
  addresses: StaticAddress[];
  accessPolicies: AccessPolicy[];
  sshKeys: SshKey[];
  images: Image[];
  schedules: (SnapshotSchedule & { deployment: string; params: Record<string, string> })[];
  subnets: SubnetRecord[];
}

export function inspect(w: World): FakeState {
  const bySeq = <T extends { seq: number }>(m: Map<string, T>) => [...m.values()].sort((a, b) => a.seq - b.seq);
  return {
    instances: bySeq(w.instances).map((rec) => ({
      ...instanceView(w, rec),
      deployment: rec.deployment,
      role: rec.role,
      loginUser: rec.loginUser,
      bootGuard: rec.bootGuard,
      guardPowerOffs: rec.guardPowerOffs,
      consoleCalls: rec.consoleCalls,
      ...(rec.userData !== undefined ? { userData: rec.userData } : {}),
      ...(rec.sshPublicKey !== undefined ? { sshPublicKey: rec.sshPublicKey } : {}),
    })),
    disks: bySeq(w.disks).map(diskView),
    snapshots: bySeq(w.snapshots).map((s) => snapshotView(w, s)),
    addresses: bySeq(w.addresses).map(addressView),
    accessPolicies: bySeq(w.policies).map(policyView),
    sshKeys: bySeq(w.sshKeys).map(sshKeyView),
    images: bySeq(w.images).map((i) => imageView(w, i)),
    schedules: [...w.schedules.values()].map((s) => ({
      id: s.id,
      state: 'enabled',
      schedule: s.schedule,
      retain: s.retain,
      copiesLabels: true,
      deployment: s.deployment,
      params: { ...s.params },
    })),
    subnets: [...w.subnets.values()].map((s) => ({ ...s })),
  };
}
