// Deps for running commands in-process against the in-memory fake cloud (src/cloud/fake): one
// shared fake behind `connect` (so a test looks at `fake.state` afterwards), a real state store in a
// temp home, the fake's clock for both the workflows and the fake (a VirtualClock when the test
// gives one), and an appliance that answers HTTP as each fake instance would. Nothing dials out:
// there is no network in these tests at all.
import type { ProviderId } from '../../src/cloud/port.js';
import { createFakeCloud, type FakeCloud, type FakeCloudOptions, type PreloadedImage } from '../../src/cloud/fake/index.js';
import { defaultProvider } from '../../src/cloud/providers.js';
import type { Deps } from '../../src/commands/deps.js';
import type { Clock } from '../../src/engine/clock.js';
import { HttpProbeError } from '../../src/engine/http-probe.js';
import { FileStateStore } from '../../src/state/file-store.js';
import type { Io } from '../../src/ui/io.js';
import { tempHome } from './deps.js';

export const REGION = 'us-east-1';

/**
 * The id shapes the registered descriptor accepts from a user (`--snapshot snap-…`,
 * `--data-volume vol-…`): the commands validate what is typed, whatever cloud answers behind.
 */
const ID_KINDS: Record<string, string> = { inst: 'i', disk: 'vol', snap: 'snap', img: 'ami', policy: 'sg', addr: 'eipalloc', sched: 'policy', subnet: 'subnet' };
export const descriptorShapedId = (kind: string, n: number): string => `${ID_KINDS[kind] ?? kind}-${n.toString(16).padStart(17, '0')}`;

/** Published images of these versions, one per version. */
export function publishedImages(versions: string[]): PreloadedImage[] {
  return versions.map((version, i) => ({ name: `Sourcegraph v${version}`, version, kind: 'published', createdAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }));
}

/**
 * A fake cloud "as" `profile`, in the region the commands are given: the registered descriptor's
 * machine types offered in every zone, ids in the descriptor's shapes, and the given images.
 */
export function fakeCloudFor(profile: ProviderId, opts: FakeCloudOptions = {}): FakeCloud {
  const provider = defaultProvider();
  const zones = ['a', 'b', 'c'].map((z) => `${REGION}${z}`);
  const machineTypes = Object.fromEntries(Object.values(provider.sizes).map((s) => [s.machineType, zones]));
  return createFakeCloud({ profile, region: REGION, zones, machineTypes, formatId: descriptorShapedId, ...opts });
}

export interface FakeAppliance {
  httpGet: Deps['httpGet'];
  /** Every URL asked for, in order. */
  readonly asked: string[];
}

/**
 * The HTTP side of the fake's instances: the running instance that holds the dialled address
 * (static, public or private) answers /healthz with the version it is labelled with (what its image
 * boots), /sign-in says the site needs no initialisation; anything else refuses the connection, as
 * a stopped instance or an address that moved away does.
 */
export function fakeAppliance(fake: FakeCloud): FakeAppliance {
  const asked: string[] = [];
  const httpGet: Deps['httpGet'] = async (url) => {
    asked.push(url);
    const { hostname, pathname } = new URL(url);
    const serving = fake.state.instances.find((i) => i.state === 'running' && (i.publicIp === hostname || i.privateIp === hostname));
    if (!serving) throw new HttpProbeError(url, 'connection refused (ECONNREFUSED)', 'ECONNREFUSED');
    if (pathname === '/healthz') return { status: 200, body: serving.labels.version ?? '' };
    if (pathname === '/sign-in') return { status: 200, body: '{"needsSiteInit":false}' };
    return { status: 404, body: '404 page not found' };
  };
  return { httpGet, asked };
}

export function makeFakeDeps(opts: {
  fake: FakeCloud;
  io: Io;
  home?: string;
  /** Default: the fake's own clock, so the workflows and the fake agree on the time. */
  clock?: Clock;
  httpGet?: Deps['httpGet'];
  /** The tests' step hook (fault injection). */
  afterStep?: Deps['afterStep'];
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
}): Deps {
  const controller = new AbortController();
  return {
    io: opts.io,
    state: new FileStateStore(opts.home ?? tempHome()),
    connect: async () => opts.fake,
    connectRemote: async (t) => {
      throw new Error(`fake-cloud tests use no SSH (asked for ${t.host})`);
    },
    clock: opts.clock ?? opts.fake.clock,
    httpGet: opts.httpGet ?? fakeAppliance(opts.fake).httpGet,
    signal: controller.signal,
    env: { ...opts.env },
    pollMs: opts.pollMs ?? 1000,
    lookupPublicIp: async () => undefined,
    program: 'sourcegraph-launch',
    ...(opts.afterStep ? { afterStep: opts.afterStep } : {}),
  };
}
