// The contract, part 3: snapshots, disks from snapshots, labels, snapshot schedules.
import { describe, expect, it } from 'vitest';
import type { Labels } from '../../src/core/labels.js';
import { diskOf, labelsFor, launch, uniqueName, WAIT, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';
import { dataSnapshot } from './contract-instances.js';

export function storageContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('snapshots and disks from snapshots', () => {
    it('createSnapshot is idempotent, completes, and is listed newest first with its labels', async () => {
      const { cloud } = env();
      const name = uniqueName('snaps');
      const { instance } = await launch(env(), name);
      const diskId = diskOf(instance, 'data')!;
      const firstLabels = labelsFor(env(), name, 'snapshot', { purpose: 'backup', 'source-version': env().image.version });
      const firstSpec = { deployment: name, diskId, labels: firstLabels, description: `${name} first`, operation: `${name}-op-1` };
      const first = await cloud.createSnapshot(firstSpec);
      expect((await cloud.createSnapshot(firstSpec)).id).toBe(first.id);
      const done = await cloud.waitForSnapshot(first.id, WAIT.snapshot);
      expect(done).toMatchObject({ id: first.id, state: 'completed', diskId });
      expect(done.labels).toMatchObject(firstLabels);

      const secondLabels = labelsFor(env(), name, 'snapshot', { purpose: 'pre-upgrade' });
      const second = await cloud.createSnapshot({ deployment: name, diskId, labels: secondLabels, description: `${name} second`, operation: `${name}-op-2` });
      expect(second.id).not.toBe(first.id);
      await cloud.waitForSnapshot(second.id, WAIT.snapshot);

      const listed = await cloud.listSnapshots(name);
      expect(listed.map((s) => s.id).sort()).toEqual([first.id, second.id].sort());
      const times = listed.map((s) => s.startTime ?? '');
      expect(times).toEqual([...times].sort().reverse());
      expect(listed.find((s) => s.id === first.id)?.labels).toMatchObject(firstLabels);
      expect(listed.find((s) => s.id === second.id)?.labels).toMatchObject(secondLabels);
      expect(await cloud.listSnapshots(uniqueName('no-snaps'))).toEqual([]);
    });

    it('deleteSnapshot removes it; describe then answers undefined; a second delete succeeds', async () => {
      const { cloud } = env();
      const name = uniqueName('snapdel');
      const { snapshotId } = await dataSnapshot(env(), name);
      expect((await cloud.describeSnapshot(snapshotId))?.state).toBe('completed');
      await cloud.deleteSnapshot(snapshotId);
      expect(await cloud.describeSnapshot(snapshotId)).toBeUndefined();
      expect(await cloud.listSnapshots(name)).toEqual([]);
      await cloud.deleteSnapshot(snapshotId);
    });

    it('createDiskFromSnapshot is idempotent and makes the disk in the zone asked for, from that snapshot', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('fromsnap');
      const { snapshotId } = await dataSnapshot(env(), name, zones[0]);
      const labels = labelsFor(env(), name, 'data-volume', { operation: `${name}-restore-1` });
      const spec = { deployment: name, zone: zones[1], snapshotId, disk: env().dataDisk, labels, idempotencyKey: `${name}-restore-1` };
      const disk = await cloud.createDiskFromSnapshot(spec);
      expect((await cloud.createDiskFromSnapshot(spec)).id).toBe(disk.id);
      await cloud.waitForDiskAvailable(disk.id, WAIT.disk);
      const seen = await cloud.describeDisk(disk.id);
      expect(seen).toMatchObject({ zone: zones[1], sourceSnapshotId: snapshotId, sizeGiB: env().dataDisk.sizeGiB, state: 'available' });
      expect(seen?.labels).toMatchObject(labels);
      expect((await cloud.findDeployment(name)).disks.map((d) => d.id)).toContain(disk.id);
    });
  });

  describe('labels', () => {
    it('setLabels adds and overwrites, removeLabels removes only the keys named, on every kind of resource', async () => {
      const { cloud } = env();
      const name = uniqueName('labels');
      const { instance, policy } = await launch(env(), name);
      const address = (await cloud.ensureStaticAddress({ mode: 'new', deployment: name, labels: labelsFor(env(), name, 'address') }))!;
      const dataId = diskOf(instance, 'data')!;
      const snapshot = await cloud.createSnapshot({ deployment: name, diskId: dataId, labels: labelsFor(env(), name, 'snapshot'), description: 'labels', operation: `${name}-op` });
      await cloud.waitForSnapshot(snapshot.id, WAIT.snapshot);
      const ids = [instance.id, dataId, policy.id, address.id, snapshot.id];
      // Values as the workflows write them: dots, colons, capitals, slashes and spaces must read back exactly.
      const extra: Labels = {
        'last-written': '2026-02-19T12:00:00.000Z',
        'lock-upgrade': 'upgrade/1771502400/root@host:2401',
        owner: 'Ops Team',
        'rollback-snapshot': snapshot.id,
      };
      await cloud.setLabels(ids, extra);
      const read = async (): Promise<Labels[]> => {
        const d = await cloud.findDeployment(name);
        return [
          (await cloud.describeInstance(instance.id))!.labels,
          (await cloud.describeDisk(dataId))!.labels,
          d.accessPolicies.find((p) => p.id === policy.id)!.labels,
          d.addresses.find((a) => a.id === address.id)!.labels,
          (await cloud.describeSnapshot(snapshot.id))!.labels,
        ];
      };
      for (const labels of await read()) expect(labels).toMatchObject({ ...extra, deployment: name });

      await cloud.setLabels([instance.id], { owner: 'someone else' });
      expect((await cloud.describeInstance(instance.id))?.labels.owner).toBe('someone else');

      await cloud.removeLabels(ids, ['lock-upgrade', 'owner']);
      for (const labels of await read()) {
        expect(labels).not.toHaveProperty('lock-upgrade');
        expect(labels).not.toHaveProperty('owner');
        expect(labels).toMatchObject({ deployment: name, 'last-written': extra['last-written'], 'rollback-snapshot': snapshot.id });
      }
    });
  });

  describe('snapshot schedules', () => {
    const notEmulated = opts.cannotEmulate?.['snapshot-schedules'];
    if (opts.capabilities.snapshotSchedules && notEmulated !== undefined) {
      it(`are not emulated here, as the set-up declares: ${notEmulated}`, () => {
        expect(notEmulated.trim()).not.toBe('');
      });
    } else if (opts.capabilities.snapshotSchedules) {
      it('ensureSnapshotSchedule is idempotent, follows retain, is found, and deleted', async () => {
        const { cloud } = env();
        const name = uniqueName('sched');
        const spec = { deployment: name, schedule: 'daily' as const, retain: 7, params: env().scheduleParams };
        const schedule = await cloud.ensureSnapshotSchedule(spec);
        expect(schedule).toMatchObject({ retain: 7 });
        expect((await cloud.ensureSnapshotSchedule(spec)).id).toBe(schedule.id);
        expect(await cloud.ensureSnapshotSchedule({ ...spec, retain: 14 })).toMatchObject({ id: schedule.id, retain: 14 });
        expect(await cloud.findSnapshotSchedule(name)).toMatchObject({ id: schedule.id, retain: 14 });
        expect(await cloud.findSnapshotSchedule(uniqueName('unscheduled'))).toBeUndefined();
        await cloud.deleteSnapshotSchedule(schedule.id);
        expect(await cloud.findSnapshotSchedule(name)).toBeUndefined();
        await cloud.deleteSnapshotSchedule(schedule.id);
      });
    } else {
      it('without the capability, no deployment has a schedule', async () => {
        expect(await env().cloud.findSnapshotSchedule(uniqueName('sched'))).toBeUndefined();
      });
    }
  });
}
