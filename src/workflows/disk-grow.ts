// The cloud side of `disk grow`: ask the cloud to grow the data disk (stopping the instance first
// only where the cloud needs it, and starting it again), then wait until the cloud reports the new
// size. The cloud is the journal here: a re-run reads the disk's size and any change under way and
// continues from there (asks for nothing twice, waits for a change already asked for).
import type { Cloud, DiskResizeState } from '../cloud/port.js';
import type { Deps } from '../commands/deps.js';
import { CloudError, WaitTimeoutError } from '../core/errors.js';
import { formatDuration } from '../engine/wait.js';

const RESIZE_WAIT_MS = 60 * 60_000;
const INSTANCE_WAIT_MS = 15 * 60_000;
const DEFAULT_POLL_MS = 5_000;

export type GrowDeps = Pick<Deps, 'io' | 'clock' | 'signal' | 'pollMs'>;

/** Where a grow stands on the cloud: already at the size, a change to it under way, or to be asked for. */
export type GrowStart = 'done' | 'under-way' | 'request';

/** The size the cloud already has or is changing to; a change to another size under way, or a limit, refuses (exit 1, with when). */
export function growStart(diskId: string, reportedGiB: number, state: DiskResizeState, sizeGiB: number): GrowStart {
  if (state.inProgress?.targetSizeGiB === sizeGiB) return 'under-way';
  // Either read may be the newer one (a change can complete between them).
  if (Math.max(reportedGiB, state.sizeGiB) === sizeGiB) return 'done';
  if (state.inProgress || state.nextAllowedAt) {
    const when = state.nextAllowedAt ? `the next is allowed at ${state.nextAllowedAt}` : `a change to ${state.inProgress!.targetSizeGiB} GiB is still under way (${state.inProgress!.state})`;
    throw new CloudError('disk-modification-rate', `The data disk ${diskId} cannot be changed now: ${state.limit ? `${state.limit}; ` : ''}${when}`, {
      remediation: state.nextAllowedAt ? `Run the same command again after ${state.nextAllowedAt}.` : 'Run the same command again once that change has completed.',
      details: { diskId, ...(state.nextAllowedAt ? { nextAllowedAt: state.nextAllowedAt } : {}), ...(state.inProgress ? { inProgress: state.inProgress } : {}) },
    });
  }
  return 'request';
}

/** Polls until the cloud reports `sizeGiB` as usable, with progress; exit 4 (re-run to resume) at the deadline. */
export async function waitForDiskSize(deps: GrowDeps, cloud: Cloud, diskId: string, sizeGiB: number, timeoutMs = RESIZE_WAIT_MS): Promise<void> {
  const progress = deps.io.progress(`Waiting for the cloud to report ${sizeGiB} GiB`);
  const started = deps.clock.now();
  try {
    for (;;) {
      const state = await cloud.diskResizeState(diskId);
      if (state.sizeGiB >= sizeGiB && state.inProgress?.state !== 'modifying') {
        progress.succeed(`${state.sizeGiB} GiB${state.inProgress ? ` (${state.inProgress.state}: usable now)` : ''}`);
        return;
      }
      const p = state.inProgress;
      progress.update(p ? `${p.state}${p.progressPercent !== undefined ? ` ${p.progressPercent} %` : ''}` : `${state.sizeGiB} GiB`);
      if (deps.clock.now() - started >= timeoutMs) {
        throw new WaitTimeoutError('disk-resized', `The cloud did not report ${sizeGiB} GiB for ${diskId} within ${formatDuration(timeoutMs)} (it reports ${state.sizeGiB} GiB${p ? `, ${p.state}` : ''})`, {
          remediation: 'The change goes on in the cloud: run the same command again to keep waiting, then grow the filesystem.',
        });
      }
      await deps.clock.sleep(deps.pollMs ?? DEFAULT_POLL_MS, deps.signal);
    }
  } catch (e) {
    progress.fail();
    throw e;
  }
}

/**
 * Grows the disk to `sizeGiB` and waits until the cloud reports it. With `stopFirst` (the cloud
 * needs the instance deallocated for this change) the instance is stopped before and started after,
 * also when the change fails, so a failed grow does not leave the deployment down.
 */
export async function growDisk(deps: GrowDeps, cloud: Cloud, o: { diskId: string; sizeGiB: number; start: GrowStart; instanceId: string; stopFirst: boolean }): Promise<void> {
  if (o.start === 'done') return;
  if (o.stopFirst) {
    const stop = deps.io.progress(`Stopping ${o.instanceId} (the cloud grows this disk only while it is stopped)`);
    await cloud.stopInstance(o.instanceId);
    await cloud.waitForInstanceState(o.instanceId, 'stopped', INSTANCE_WAIT_MS);
    stop.succeed();
  }
  try {
    if (o.start === 'request') await cloud.resizeDisk(o.diskId, o.sizeGiB);
    await waitForDiskSize(deps, cloud, o.diskId, o.sizeGiB);
  } finally {
    if (o.stopFirst) {
      const start = deps.io.progress(`Starting ${o.instanceId} again`);
      await cloud.startInstance(o.instanceId);
      await cloud.waitForInstanceState(o.instanceId, 'running', INSTANCE_WAIT_MS);
      start.succeed();
    }
  }
}
