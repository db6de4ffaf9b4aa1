// The fake cloud's public face, for workflow tests and the contract suite (see SPEC.md).
export { createFakeCloud, FakeCloud, READ_ONLY_METHODS, type FakeCall } from './fake-cloud.js';
export type { CloudMethod, Fault, FaultKind } from './faults.js';
export type { FakeInstanceState, FakeState } from './inspect.js';
export { DISK_ROLE_LABELS } from './instances.js';
export { GOVERNED_PORTS } from './network.js';
export {
  DEFAULT_DELAYS,
  DEFAULT_MACHINE_TYPES,
  PROFILES,
  type Delay,
  type FakeClock,
  type FakeCloudOptions,
  type FakeDelays,
  type PreloadedImage,
} from './options.js';
export { ManualClock } from './world.js';
