// Global snapshots (made with disks.createSnapshot): CREATING → UPLOADING → READY as the
// createSnapshot operation runs. A snapshot still being made cannot be deleted.
import { resourceNotReady } from '../errors.js';
import { refPath } from '../links.js';
import type { Handler } from '../world.js';
import { getAnswer, listAnswer, setLabelsPlan, target } from './common.js';

export const snapshots: Record<string, Handler> = {
  'snapshots.get': (call, world) => getAnswer(world, world.state.snapshots, target(call, 'snapshot')),
  'snapshots.list': (call, world) => listAnswer(world, world.state.snapshots, call, 'compute#snapshotList'),
  'snapshots.delete': (call, world) => {
    const entry = world.state.snapshots.get(target(call, 'snapshot'));
    if (entry.body.status !== 'READY') throw resourceNotReady(refPath(entry.ref));
    return {
      plan: {
        operationType: 'delete',
        target: entry.ref,
        targetId: entry.body.id,
        start: () => {
          entry.body.status = 'DELETING';
        },
        done: () => world.state.snapshots.delete(entry.ref),
      },
    };
  },
  'snapshots.setLabels': (call, world) => ({ plan: setLabelsPlan(world.state.snapshots.get(target(call, 'resource')), call.body) }),
};
