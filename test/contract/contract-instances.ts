// The contract, part 2: instances with each data disk mode, disks by role, attach rules, states
// and waits, idempotency keys.
import { describe, expect, it } from 'vitest';
import type { Disk } from '../../src/cloud/port.js';
import {
  accessSpec,
  CIDR_A,
  diskOf,
  instanceSpec,
  labelsFor,
  launch,
  rejection,
  uniqueName,
  WAIT,
  type CloudContractOptions,
  type ContractEnvironment,
} from './contract-env.js';

/** A completed snapshot of a fresh instance's data disk (what a backup or an upgrade starts from). */
export async function dataSnapshot(env: ContractEnvironment, deployment: string, zone = env.zones[0]): Promise<{ snapshotId: string; diskId: string }> {
  const launched = await launch(env, deployment, { zone, idempotencyKey: `${deployment}-source` });
  const diskId = diskOf(launched.instance, 'data')!;
  const snap = await env.cloud.createSnapshot({
    deployment,
    diskId,
    labels: labelsFor(env, deployment, 'snapshot', { purpose: 'backup' }),
    description: `${deployment} data`,
    operation: `${deployment}-backup-1`,
  });
  await env.cloud.waitForSnapshot(snap.id, WAIT.snapshot);
  return { snapshotId: snap.id, diskId };
}

/** A disk made from a snapshot in `zone`, available. */
export async function diskFromSnapshot(env: ContractEnvironment, deployment: string, snapshotId: string, zone: string, key: string): Promise<Disk> {
  const disk = await env.cloud.createDiskFromSnapshot({
    deployment,
    zone,
    snapshotId,
    disk: env.dataDisk,
    labels: labelsFor(env, deployment, 'data-volume'),
    idempotencyKey: key,
  });
  await env.cloud.waitForDiskAvailable(disk.id, WAIT.disk);
  return disk;
}

export function instancesContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('instances', () => {
    it('the same idempotency key answers the same instance; the deployment has one', async () => {
      const { cloud } = env();
      const name = uniqueName('idem');
      const launched = await launch(env(), name);
      const spec = instanceSpec(env(), name, { placement: launched.placement, accessPolicyIds: [launched.policy.id] });
      expect((await cloud.ensureInstance(spec)).id).toBe(launched.instance.id);
      const found = await cloud.findDeployment(name);
      expect([found.instance, ...found.otherInstances].map((i) => i?.id)).toEqual([launched.instance.id]);
      expect(launched.instance.idempotencyKey ?? spec.idempotencyKey).toBe(spec.idempotencyKey);
    });

    it('publicIp false: no public address while running, nor after a stop and a start; a private one', async () => {
      const { cloud } = env();
      const name = uniqueName('private');
      const { instance, policy } = await launch(env(), name, { publicIp: false });
      expect(instance.publicIp, `${instance.id} got a public address`).toBeUndefined();
      // Its access policy is the one asked for, however the cloud carries it (AWS: on the network interface).
      expect(instance.accessPolicyIds).toEqual([policy.id]);
      expect(instance.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      await cloud.stopInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'stopped', WAIT.instance);
      await cloud.startInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'running', WAIT.instance);
      expect((await cloud.describeInstance(instance.id))?.publicIp).toBeUndefined();
      // The same launch without it gets the address the cloud gives (where it gives one: not Azure's VMs).
      const other = await launch(env(), uniqueName('public'));
      if (opts.givesEphemeralPublicIp !== false) expect(other.instance.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      else expect(other.instance.publicIp).toBeUndefined();
    });

    it('data disk "new": a root and a data disk by role, in its zone; terminate takes the root and keeps the data', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('new');
      const { instance } = await launch(env(), name, { zone: zones[1] });
      expect(instance).toMatchObject({ zone: zones[1], machineType: env().machineType, imageId: env().image.id });
      expect(instance.labels).toMatchObject({ deployment: name, role: 'instance', version: env().image.version });
      const rootId = diskOf(instance, 'root')!;
      const dataId = diskOf(instance, 'data')!;
      expect(instance.disks.find((d) => d.role === 'root')?.deleteWithInstance).toBe(true);
      expect(instance.disks.find((d) => d.role === 'data')?.deleteWithInstance).toBe(false);
      const data = await cloud.describeDisk(dataId);
      expect(data).toMatchObject({ zone: zones[1], attachedTo: instance.id, sizeGiB: env().dataDisk.sizeGiB });
      expect(data?.labels.deployment).toBe(name);

      await cloud.terminateInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'terminated', WAIT.instance);
      await cloud.waitForDiskAvailable(dataId, WAIT.disk);
      expect(await cloud.describeDisk(dataId)).toMatchObject({ id: dataId, state: 'available' });
      expect((await cloud.describeDisk(dataId))?.attachedTo).toBeUndefined();
      const root = await cloud.describeDisk(rootId);
      expect(root === undefined || ['deleting', 'deleted'].includes(root.state)).toBe(true);
    });

    it('data disk "snapshot": made from the snapshot at creation, in the instance zone', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('snapmode');
      const { snapshotId } = await dataSnapshot(env(), name, zones[0]);
      const { instance } = await launch(env(), name, {
        zone: zones[1],
        idempotencyKey: `${name}-restored`,
        dataDisk: { mode: 'snapshot', snapshotId, disk: env().dataDisk },
      });
      const data = await cloud.describeDisk(diskOf(instance, 'data')!);
      expect(data).toMatchObject({ sourceSnapshotId: snapshotId, zone: zones[1], attachedTo: instance.id });
    });

    if (opts.capabilities.attachExistingDiskAtCreate) {
      it('data disk "existing": attached at creation (attachExistingDiskAtCreate)', async () => {
        const { cloud, zones } = env();
        const name = uniqueName('existing');
        const { snapshotId } = await dataSnapshot(env(), name);
        const disk = await diskFromSnapshot(env(), name, snapshotId, zones[0], `${name}-disk`);
        const { instance } = await launch(env(), name, { idempotencyKey: `${name}-onto`, dataDisk: { mode: 'existing', diskId: disk.id } });
        expect(diskOf(instance, 'data')).toBe(disk.id);
        expect(instance.disks.find((d) => d.role === 'data')?.deleteWithInstance).toBe(false);
        expect((await cloud.describeDisk(disk.id))?.attachedTo).toBe(instance.id);
      });
    } else {
      it('data disk "existing": created without it, then stop → attach → start (no attachExistingDiskAtCreate)', async () => {
        const { cloud, zones } = env();
        const name = uniqueName('existing');
        const { snapshotId } = await dataSnapshot(env(), name);
        const disk = await diskFromSnapshot(env(), name, snapshotId, zones[0], `${name}-disk`);
        const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
        const policy = (await cloud.findDeployment(name)).accessPolicies[0]!;
        const spec = instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id], idempotencyKey: `${name}-onto`, dataDisk: { mode: 'existing', diskId: disk.id } });
        const created = await cloud.ensureInstance(spec);
        expect(diskOf(created, 'data')).toBeUndefined();
        expect((await cloud.describeDisk(disk.id))?.attachedTo).toBeUndefined();
        await cloud.stopInstance(created.id);
        await cloud.waitForInstanceState(created.id, 'stopped', WAIT.instance);
        await cloud.attachDataDisk(disk.id, created.id, WAIT.disk);
        await cloud.startInstance(created.id);
        await cloud.waitForInstanceState(created.id, 'running', WAIT.instance);
        expect(diskOf((await cloud.describeInstance(created.id))!, 'data')).toBe(disk.id);
      });
    }

    it('data disk "none": no data disk until one is attached', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('none');
      const { snapshotId } = await dataSnapshot(env(), name);
      const disk = await diskFromSnapshot(env(), name, snapshotId, zones[0], `${name}-disk`);
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const policy = (await cloud.findDeployment(name)).accessPolicies[0]!;
      const created = await cloud.ensureInstance(
        instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id], idempotencyKey: `${name}-bare`, dataDisk: { mode: 'none' } }),
      );
      expect(created.disks.map((d) => d.role)).toEqual(['root']);
      await cloud.stopInstance(created.id);
      await cloud.waitForInstanceState(created.id, 'stopped', WAIT.instance);
      await cloud.attachDataDisk(disk.id, created.id, WAIT.disk);
      await cloud.attachDataDisk(disk.id, created.id, WAIT.disk);
      const after = (await cloud.describeInstance(created.id))!;
      expect(after.disks.filter((d) => d.role === 'data').map((d) => d.diskId)).toEqual([disk.id]);
    });

    it('stop, start and terminate, each waited for; a second terminate succeeds', async () => {
      const { cloud } = env();
      const name = uniqueName('states');
      const { instance } = await launch(env(), name);
      await cloud.stopInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'stopped', WAIT.instance);
      expect((await cloud.describeInstance(instance.id))?.state).toBe('stopped');
      await cloud.startInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'running', WAIT.instance);
      expect((await cloud.describeInstance(instance.id))?.state).toBe('running');
      await cloud.terminateInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'terminated', WAIT.instance);
      const gone = await cloud.describeInstance(instance.id);
      expect(gone === undefined || gone.state === 'terminated').toBe(true);
      await cloud.terminateInstance(instance.id);
      const found = await cloud.findDeployment(name);
      expect([found.instance, ...found.otherInstances].filter(Boolean)).toEqual([]);
    });

    it("a terminated instance's key never gives a live instance back under its id", async () => {
      const { cloud } = env();
      const name = uniqueName('dead');
      const { instance, placement, policy } = await launch(env(), name);
      await cloud.terminateInstance(instance.id);
      await cloud.waitForInstanceState(instance.id, 'terminated', WAIT.instance);
      const again = await cloud.ensureInstance(instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id] }));
      // Either the dead instance itself (EC2: the workflow moves on to its next attempt), or a new one.
      if (again.id === instance.id) expect(['terminating', 'terminated']).toContain(again.state);
      else expect(['pending', 'running']).toContain(again.state);
    });

    it('a disk attaches only within its zone', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('zone');
      const { snapshotId } = await dataSnapshot(env(), name, zones[0]);
      const disk = await diskFromSnapshot(env(), name, snapshotId, zones[0], `${name}-disk`);
      const placement = await cloud.resolvePlacement(undefined, [zones[1]]);
      const policy = (await cloud.findDeployment(name)).accessPolicies[0]!;
      const far = await cloud.ensureInstance(
        instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id], idempotencyKey: `${name}-far`, dataDisk: { mode: 'none' } }),
      );
      expect(far.zone).toBe(zones[1]);
      await rejection(cloud.attachDataDisk(disk.id, far.id, WAIT.disk));
      expect((await cloud.describeDisk(disk.id))?.attachedTo).toBeUndefined();
    });

    it('a disk attaches to one instance at a time; an attached disk is not deleted; detach is per instance', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('one');
      const { snapshotId } = await dataSnapshot(env(), name, zones[0]);
      const disk = await diskFromSnapshot(env(), name, snapshotId, zones[0], `${name}-disk`);
      const bare = { dataDisk: { mode: 'none' as const } };
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const policy = (await cloud.findDeployment(name)).accessPolicies[0]!;
      const make = (key: string) => cloud.ensureInstance(instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id], idempotencyKey: key, ...bare }));
      const a = await make(`${name}-a`);
      const b = await make(`${name}-b`);
      await cloud.attachDataDisk(disk.id, a.id, WAIT.disk);
      await rejection(cloud.attachDataDisk(disk.id, b.id, WAIT.disk));
      expect((await cloud.describeDisk(disk.id))?.attachedTo).toBe(a.id);
      await rejection(cloud.deleteDisk(disk.id));
      expect((await cloud.describeDisk(disk.id))?.attachedTo).toBe(a.id);
      await cloud.detachDisk(disk.id, b.id, WAIT.disk);
      expect((await cloud.describeDisk(disk.id))?.attachedTo).toBe(a.id);
      await cloud.detachDisk(disk.id, a.id, WAIT.disk);
      expect((await cloud.describeDisk(disk.id))?.state).toBe('available');
      expect((await cloud.describeDisk(disk.id))?.attachedTo).toBeUndefined();
      await cloud.deleteDisk(disk.id);
      const after = await cloud.describeDisk(disk.id);
      expect(after === undefined || ['deleting', 'deleted'].includes(after.state)).toBe(true);
    });

    if (opts.capabilities.permissionPreflight) {
      it('checkInstancePermissions accepts a launch it may make, and creates nothing', async () => {
        const { cloud, zones } = env();
        const name = uniqueName('preflight');
        const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
        const policy = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }]));
        await cloud.checkInstancePermissions(instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id] }));
        const found = await cloud.findDeployment(name);
        expect([found.instance, ...found.otherInstances, ...found.disks].filter(Boolean)).toEqual([]);
      });
    }
  });
}
