// Moves the fake's transitions along: every port call first brings the world up to the clock, and
// a read of one resource (a describe, a round of a wait) also counts as one poll of it.
import type { InstanceState } from '../port.js';
import type { Delay } from './options.js';
import { instanceView, type DiskRecord, type InstanceRecord, type World } from './world.js';

/** Puts an instance into a transitional state; with a zero delay it lands at once. */
export function beginInstanceChange(w: World, rec: InstanceRecord, state: InstanceState, delay: Delay): void {
  rec.state = state;
  rec.change = w.start(delay);
  if (!rec.change) completeInstanceChange(w, rec);
}

function completeInstanceChange(w: World, rec: InstanceRecord): void {
  rec.change = undefined;
  if (rec.state === 'pending') {
    rec.state = 'running';
    if (!rec.pinnedIp && !rec.ephemeralIp && !rec.noPublicIp) rec.ephemeralIp = w.opts.publicIpFor?.(instanceView(w, rec)) ?? w.nextIp('203.0.113');
    // The boot guard (user data) powers off an instance that boots without its data disk.
    if (rec.bootGuard && !rec.attachments.some((a) => a.role === 'data')) {
      rec.guardPowerOffs += 1;
      beginInstanceChange(w, rec, 'stopping', w.opts.delays.instanceStop);
    }
  } else if (rec.state === 'stopping') {
    rec.state = 'stopped';
    // A stopped instance gives up its ephemeral address (a static one stays attached).
    rec.ephemeralIp = undefined;
  } else if (rec.state === 'terminating') {
    rec.state = 'terminated';
    rec.ephemeralIp = undefined;
    for (const a of rec.attachments) {
      const disk = w.disks.get(a.diskId);
      if (!disk) continue;
      if (a.deleteWithInstance) w.disks.delete(disk.id);
      else {
        disk.attachedTo = undefined;
        disk.detaching = undefined;
      }
    }
    rec.attachments = [];
    for (const address of w.addresses.values()) if (address.instanceId === rec.id) address.instanceId = undefined;
    rec.vanish = w.start(w.opts.delays.terminatedVisible);
    if (!rec.vanish) w.instances.delete(rec.id);
  }
}

function finishDetach(w: World, diskId: string): void {
  const disk = w.disks.get(diskId);
  if (!disk) return;
  const holder = disk.attachedTo ? w.instances.get(disk.attachedTo) : undefined;
  if (holder) holder.attachments = holder.attachments.filter((a) => a.diskId !== diskId);
  disk.attachedTo = undefined;
  disk.detaching = undefined;
}

/** Starts a detach; it completes now when the delay is zero. */
export function beginDetach(w: World, diskId: string): void {
  const disk = w.disks.get(diskId);
  if (!disk || disk.detaching) return;
  disk.detaching = w.start(w.opts.delays.diskDetach);
  if (!disk.detaching) finishDetach(w, diskId);
}

/** A size change completes: the disk is its new size. */
export function finishResize(disk: DiskRecord): void {
  if (disk.resizing) disk.sizeGiB = disk.resizing.targetSizeGiB;
  disk.resizing = undefined;
}

/** Brings every transition up to the clock; `polledId` counts one poll of that resource. */
export function refresh(w: World, polledId?: string): void {
  for (const rec of [...w.instances.values()]) {
    const polled = rec.id === polledId;
    if (rec.change && w.step(rec.change, polled)) completeInstanceChange(w, rec);
    else if (rec.vanish && w.step(rec.vanish, polled)) w.instances.delete(rec.id);
  }
  for (const disk of [...w.disks.values()]) {
    const polled = disk.id === polledId;
    if (disk.creating && w.step(disk.creating, polled)) disk.creating = undefined;
    if (disk.detaching && w.step(disk.detaching, polled)) finishDetach(w, disk.id);
    if (disk.initializing && w.step(disk.initializing, polled)) disk.initializing = undefined;
    if (disk.resizing && w.step(disk.resizing, polled)) finishResize(disk);
  }
  for (const snap of w.snapshots.values()) {
    if (snap.pending && !snap.imageId && w.step(snap.pending, snap.id === polledId)) snap.pending = undefined;
  }
  for (const image of w.images.values()) {
    if (image.pending && w.step(image.pending, image.id === polledId)) {
      image.pending = undefined;
      // The image's disks are its snapshots: they complete with it.
      for (const id of [image.rootSnapshotId, image.dataSnapshotId]) {
        const snap = id ? w.snapshots.get(id) : undefined;
        if (snap) snap.pending = undefined;
      }
    }
  }
}

/** Completes everything in flight at once (a test's "and some time later"); held transitions too. */
export function settleAll(w: World): void {
  for (;;) {
    const busy =
      [...w.instances.values()].some((i) => i.change) ||
      [...w.disks.values()].some((d) => d.creating || d.detaching || d.initializing || d.resizing) ||
      [...w.snapshots.values()].some((s) => s.pending) ||
      [...w.images.values()].some((i) => i.pending);
    if (!busy) return;
    for (const t of transitions(w)) {
      t.pollsLeft = 0;
      t.readyAt = undefined;
    }
    refresh(w);
  }
}

/** Counts `n` polls of every resource in flight. */
export function tickAll(w: World, n: number): void {
  for (let i = 0; i < n; i++) {
    for (const t of transitions(w)) if (t.pollsLeft !== undefined && Number.isFinite(t.pollsLeft)) t.pollsLeft -= 1;
    refresh(w);
  }
}

function transitions(w: World) {
  return [
    ...[...w.instances.values()].flatMap((i) => (i.change ? [i.change] : [])),
    ...[...w.disks.values()].flatMap((d) => [d.creating, d.detaching, d.initializing, d.resizing].filter((t) => t !== undefined)),
    // An image's snapshots share its transition: counted once, through the image.
    ...[...w.snapshots.values()].flatMap((s) => (s.pending && !s.imageId ? [s.pending] : [])),
    ...[...w.images.values()].flatMap((i) => (i.pending ? [i.pending] : [])),
  ];
}
