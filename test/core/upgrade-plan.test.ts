import { describe, expect, it } from 'vitest';
import shippedCatalog from '../../presets/aws-published-amis.json' with { type: 'json' };
import { catalogKnownImages, catalogVersions, type ImageCatalog } from '../../src/core/catalog.js';
import { ExitCode, LaunchError, UsageError } from '../../src/core/errors.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import type { StoragePricing } from '../../src/core/prices.js';
import {
  chainRefusalError,
  chooseStrategy,
  planUpgradeChain,
  planUpgradeSteps,
  strategyCost,
  strategyCosts,
  upgradeMinors,
  type KnownImage,
  type PlanUpgradeChainInput,
  type UpgradeChainPlan,
  type UpgradeChainRefusal,
  type UpgradeHop,
  type UpgradeStep,
  type UpgradeStrategy,
} from '../../src/core/upgrade-plan.js';

const catalog: ImageCatalog = shippedCatalog;
/** The AWS descriptor's storage prices (us-east-1) and words: what the upgrade command passes on AWS. */
const prices: StoragePricing = awsProvider.storagePricing();
const terms = awsProvider.terms;
const allCatalogVersions = catalogVersions(catalog);

/** What the upgrade command would pass for a size-S deployment: the catalog's images for the region. */
function fromCatalog(region: string, size = 'S', extra: KnownImage[] = []): Omit<PlanUpgradeChainInput, 'current'> {
  return {
    region,
    cloud: 'aws',
    known: [...catalogKnownImages(catalog, { size, region }), ...extra],
    knownVersions: allCatalogVersions,
  };
}

const built = (version: string): KnownImage => ({ version, imageId: `ami-built${version.replaceAll('.', '')}`, source: 'built' });

function expectChain(plan: UpgradeChainPlan): UpgradeHop[] {
  if (!plan.ok) throw new Error(`expected a chain, got ${plan.reason}: ${plan.message}`);
  return plan.hops;
}

function expectRefusal(plan: UpgradeChainPlan): UpgradeChainRefusal {
  if (plan.ok) throw new Error(`expected a refusal, got hops ${plan.hops.map((h) => h.to).join(' → ')}`);
  return plan;
}

describe('upgradeMinors: which minors a chain boots', () => {
  it.each([
    { current: '6.5.2654', target: '6.9.0', known: [], minors: ['6.6', '6.7', '6.8', '6.9'] },
    { current: '6.12.0', target: '6.12.5040', known: [], minors: [] },
    { current: '5.9.1590', target: '5.11.2732', known: allCatalogVersions, minors: ['5.10', '5.11'] },
    { current: '5.11.2732', target: '6.0.0', known: allCatalogVersions, minors: ['6.0'] },
    { current: '5.11.0', target: '6.2.1106', known: allCatalogVersions, minors: ['6.0', '6.1', '6.2'] },
    // The last minor of a finished major is known even when the caller passes no versions at all.
    { current: '5.9.1590', target: '6.0.0', known: [], minors: ['5.10', '5.11', '6.0'] },
    { current: '4.5.1', target: '5.1.9', known: [], minors: ['5.0', '5.1'] },
    { current: '4.4.0', target: '6.0.0', known: allCatalogVersions, minors: ['4.5', ...Array.from({ length: 12 }, (_, i) => `5.${i}`), '6.0'] },
    // Past the last published image only known versions say where a major ends.
    { current: '6.12.5040', target: '7.0.0', known: allCatalogVersions, minors: ['7.0'] },
    { current: '6.12.5040', target: '7.0.0', known: ['6.13.1'], minors: ['6.13', '7.0'] },
  ])('$current → $target crosses $minors', ({ current, target, known, minors }) => {
    expect(upgradeMinors(current, target, known)).toEqual(minors);
  });
});

describe('planUpgradeChain', () => {
  it('6.5 → 6.9 stops before anything and names 6.6, 6.7 and 6.8 with their build commands', () => {
    const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1'), current: '6.5.2654', target: '6.9.0' }));
    expect(refusal.reason).toBe('missing-images');
    expect(refusal.missing).toEqual(['6.6', '6.7', '6.8']);
    expect(refusal.missingImages.map((m) => m.command)).toEqual([
      'sourcegraph-launch build-image --cloud aws --region us-east-1 --version 6.6.0 --ssh-cidr <this machine\'s address>/32',
      'sourcegraph-launch build-image --cloud aws --region us-east-1 --version 6.7.0 --ssh-cidr <this machine\'s address>/32',
      'sourcegraph-launch build-image --cloud aws --region us-east-1 --version 6.8.0 --ssh-cidr <this machine\'s address>/32',
    ]);
    expect(refusal.message).toContain('through 6.6, 6.7 and 6.8, one minor at a time');
    expect(refusal.message).toContain('needs images for 6.6, 6.7 and 6.8 that do not exist in us-east-1');
    expect(refusal.message).toContain('Nothing was changed');
    for (const m of refusal.missingImages) expect(refusal.remediation).toContain(m.command);
    const error = chainRefusalError(refusal);
    expect(error).toBeInstanceOf(LaunchError);
    expect(error?.code).toBe('missing-images');
    expect(error?.exitCode).toBe(ExitCode.failed);
    expect(error?.remediation).toBe(refusal.remediation);
  });

  it('built images fill the gaps and the published target closes the chain', () => {
    const hops = expectChain(
      planUpgradeChain({
        ...fromCatalog('us-east-1', 'S', [built('6.6.0'), built('6.7.1'), built('6.8.3')]),
        current: '6.5.2654',
        target: '6.9.0',
      }),
    );
    expect(hops).toEqual([
      { from: '6.5.2654', to: '6.6.0', imageId: 'ami-built660', source: 'built' },
      { from: '6.6.0', to: '6.7.1', imageId: 'ami-built671', source: 'built' },
      { from: '6.7.1', to: '6.8.3', imageId: 'ami-built683', source: 'built' },
      { from: '6.8.3', to: '6.9.0', imageId: 'ami-04a1025de54758894', source: 'catalog' },
    ]);
  });

  it('a partly built chain lists exactly the minors still missing', () => {
    const refusal = expectRefusal(
      planUpgradeChain({ ...fromCatalog('us-east-1', 'S', [built('6.7.1')]), current: '6.5.2654', target: '6.9.0' }),
    );
    expect(refusal.missing).toEqual(['6.6', '6.8']);
    expect(refusal.message).toContain('through 6.6, 6.7.1 and 6.8,');
  });

  it.each([
    {
      name: '5.9.1590 → 5.11.2732 goes through the newest 5.10 patch',
      region: 'af-south-1',
      current: '5.9.1590',
      target: '5.11.2732',
      path: ['5.10.2832', '5.11.2732'],
    },
    {
      name: 'the newest patch of each minor is chosen',
      region: 'us-east-1',
      current: '5.8.0',
      target: '5.11.0',
      path: ['5.9.1590', '5.10.2832', '5.11.0'],
    },
    { name: 'a patch-only change is one hop', region: 'af-south-1', current: '5.11.0', target: '5.11.2732', path: ['5.11.2732'] },
    { name: 'within 6.x minors with images', region: 'us-east-1', current: '6.1.5633', target: '6.2.1106', path: ['6.2.1106'] },
    { name: '"latest" is the newest version known', region: 'us-east-1', current: '6.11.0', target: 'latest', path: ['6.12.5040'] },
    { name: 'a minor target means its newest patch', region: 'us-east-1', current: '6.4.3889', target: '6.5', path: ['6.5.2654'] },
    { name: 'a leading v is accepted', region: 'us-east-1', current: 'v6.11.0', target: 'v6.12.5040', path: ['6.12.5040'] },
  ])('$name', ({ region, current, target, path }) => {
    const hops = expectChain(planUpgradeChain({ ...fromCatalog(region), current, target }));
    expect(hops.map((h) => h.to)).toEqual(path);
    expect(hops[0]?.from).toBe(current.replace(/^v/, ''));
    hops.slice(1).forEach((hop, i) => expect(hop.from).toBe(hops[i]?.to));
    for (const hop of hops) expect(hop.imageId).toMatch(/^ami-[0-9a-f]+$/);
  });

  it.each([
    // 5.11.2732's image survives only in two regions: the target itself needs an image in us-east-1.
    { current: '5.9.1590', target: '5.11.2732', size: 'S', missing: ['5.11'], versions: ['5.11.2732'] },
    // No 6.0 image was ever published: 5.11 → 6.0 is one hop, and it has nothing to boot.
    { current: '5.11.0', target: '6.1.5633', size: 'XS', missing: ['6.0'], versions: ['6.0.0'] },
    // 6.1.5633 exists (for XS), so an S deployment is told to build that patch.
    { current: '5.11.0', target: '6.2.1106', size: 'S', missing: ['6.0', '6.1'], versions: ['6.0.0', '6.1.5633'] },
    { current: '6.12.5040', target: '6.13.7', size: 'S', missing: ['6.13'], versions: ['6.13.7'] },
  ])('$current → $target ($size) misses $missing', ({ current, target, size, missing, versions }) => {
    const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1', size), current, target }));
    expect(refusal.reason).toBe('missing-images');
    expect(refusal.missing).toEqual(missing);
    expect(refusal.missingImages.map((m) => m.version)).toEqual(versions);
  });

  it('5.11 → 6.0 is a single hop across the major', () => {
    const hops = expectChain(
      planUpgradeChain({ ...fromCatalog('us-east-1', 'S', [built('6.0.0')]), current: '5.11.0', target: '6.0.0' }),
    );
    expect(hops).toEqual([{ from: '5.11.0', to: '6.0.0', imageId: 'ami-built600', source: 'built' }]);
  });

  it('5.9 → 6.0 passes 5.10 and 5.11 even when only those images are known', () => {
    const known = [built('5.10.1'), built('5.11.2'), built('6.0.0')];
    const hops = expectChain(planUpgradeChain({ region: 'us-east-1', known, current: '5.9.1590', target: '6.0.0' }));
    expect(hops.map((h) => h.to)).toEqual(['5.10.1', '5.11.2', '6.0.0']);
  });

  it.each([
    { current: '6.9.0', target: '6.5.2654' },
    { current: '6.12.5040', target: '6.12.0' },
    { current: '6.0.0', target: '5.11.0' },
    { current: '6.12.5040', target: '6.5' },
  ])('refuses the downgrade $current → $target and points at rollback', ({ current, target }) => {
    const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1'), current, target }));
    expect(refusal.reason).toBe('downgrade');
    expect(refusal.missing).toEqual([]);
    expect(refusal.remediation).toContain('sourcegraph-launch rollback');
    const error = chainRefusalError(refusal);
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.exitCode).toBe(ExitCode.badInput);
    expect(error?.code).toBe('downgrade-refused');
  });

  it.each([
    { current: '6.12.5040', target: '6.12.5040' },
    { current: '6.12.5040', target: 'v6.12.5040' },
    { current: '6.12.5040', target: 'latest' },
    { current: '6.12.5040', target: undefined },
    { current: '6.5.2654', target: '6.5' },
  ])('$current → $target is nothing to do', ({ current, target }) => {
    const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1'), current, target }));
    expect(refusal.reason).toBe('same-version');
    expect(refusal.missing).toEqual([]);
    expect(chainRefusalError(refusal)).toBeUndefined();
  });

  it.each(['banana', '6', '6.12.5040.1'])('--to %j is an unknown target', (target) => {
    const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1'), current: '6.5.2654', target }));
    expect(refusal.reason).toBe('unknown-target');
    expect(chainRefusalError(refusal)?.exitCode).toBe(ExitCode.badInput);
  });

  it('a running version that is not a version is bad input', () => {
    expect(() => planUpgradeChain({ ...fromCatalog('us-east-1'), current: 'dev' })).toThrow(UsageError);
  });

  describe('without --to: the next allowed version', () => {
    it.each([
      { current: '5.9.1590', size: 'S', to: '5.10.2832' },
      { current: '5.9.45', size: 'S', to: '5.10.2832' },
      { current: '6.4.3889', size: 'S', to: '6.5.2654' },
      { current: '6.11.0', size: 'S', to: '6.12.5040' },
      { current: '5.10.2832', size: 'S', to: '5.11.0' },
      { current: '6.0.5', size: 'XS', to: '6.1.5633' },
    ])('$current ($size) → $to', ({ current, size, to }) => {
      const hops = expectChain(planUpgradeChain({ ...fromCatalog('us-east-1', size), current }));
      expect(hops).toHaveLength(1);
      expect(hops[0]?.to).toBe(to);
    });

    it('names the next minor when it has no image', () => {
      const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('us-east-1'), current: '6.5.2654' }));
      expect(refusal.reason).toBe('missing-images');
      expect(refusal.missing).toEqual(['6.6']);
      expect(refusal.missingImages[0]?.command).toBe(
        'sourcegraph-launch build-image --cloud aws --region us-east-1 --version 6.6.0 --ssh-cidr <this machine\'s address>/32',
      );
    });

    it('crosses into the next major after the last minor', () => {
      const refusal = expectRefusal(planUpgradeChain({ ...fromCatalog('eu-west-1'), current: '5.11.0' }));
      expect(refusal.missing).toEqual(['6.0']);
      const hops = expectChain(planUpgradeChain({ ...fromCatalog('eu-west-1', 'S', [built('6.0.0')]), current: '5.11.0' }));
      expect(hops.map((h) => h.to)).toEqual(['6.0.0']);
    });

    it('prefers the next minor to a pending patch of the running one', () => {
      const known = [built('6.12.5040'), built('6.13.2')];
      const hops = expectChain(planUpgradeChain({ region: 'us-east-1', known, current: '6.12.0' }));
      expect(hops.map((h) => h.to)).toEqual(['6.13.2']);
    });

    it('takes the newest patch when the running minor is the newest known', () => {
      const hops = expectChain(planUpgradeChain({ region: 'us-east-1', known: [built('6.12.5040')], current: '6.12.0' }));
      expect(hops.map((h) => h.to)).toEqual(['6.12.5040']);
    });
  });

  describe('which image boots a version', () => {
    it('the newest patch wins whatever its source', () => {
      const known: KnownImage[] = [
        { version: '6.6.868', imageId: 'ami-published', source: 'published' },
        { version: '6.6.900', imageId: 'ami-built', source: 'built' },
        { version: '6.7.0', imageId: 'ami-target', source: 'published' },
      ];
      const hops = expectChain(planUpgradeChain({ region: 'us-east-1', known, current: '6.5.2654', target: '6.7.0' }));
      expect(hops.map((h) => [h.to, h.imageId])).toEqual([
        ['6.6.900', 'ami-built'],
        ['6.7.0', 'ami-target'],
      ]);
    });

    it.each([
      { sources: ['catalog', 'built', 'published'], wins: 'published' },
      { sources: ['catalog', 'built'], wins: 'built' },
      { sources: ['published', 'flag', 'catalog'], wins: 'flag' },
    ] as const)('for one version from $sources, $wins wins', ({ sources, wins }) => {
      const known = sources.map((source): KnownImage => ({ version: '6.12.5040', imageId: `ami-${source}`, source }));
      const hops = expectChain(planUpgradeChain({ region: 'us-east-1', known, current: '6.11.0', target: '6.12.5040' }));
      expect(hops).toEqual([{ from: '6.11.0', to: '6.12.5040', imageId: `ami-${wins}`, source: wins }]);
    });
  });

  it('builds commands for the cloud and region it is given', () => {
    const refusal = expectRefusal(
      planUpgradeChain({ region: 'europe-west4', cloud: 'gcp', known: [], current: '6.11.0', target: '6.12.5040' }),
    );
    expect(refusal.missingImages).toEqual([
      {
        minor: '6.12',
        version: '6.12.5040',
        command: 'sourcegraph-launch build-image --cloud gcp --region europe-west4 --version 6.12.5040 --ssh-cidr <this machine\'s address>/32',
      },
    ]);
  });
});

describe('strategy costs', () => {
  const gp3 = { sizeGiB: 500, type: 'gp3' as const, iops: 3000 };
  const io2 = { sizeGiB: 500, type: 'io2' as const, iops: 16000 };

  it.each([
    // 500 GiB gp3 at $0.08 = $40; a snapshot of it at most 500 GiB × $0.05 = $25.
    { strategy: 'clone', volume: gp3, volumeUsd: 40, snapshotUsd: 25, extra: 65 },
    { strategy: 'move', volume: gp3, volumeUsd: 0, snapshotUsd: 25, extra: 25 },
    // io2 pays for provisioned IOPS too: 500 × 0.125 + 16000 × 0.065 = 62.5 + 1040.
    { strategy: 'clone', volume: io2, volumeUsd: 1102.5, snapshotUsd: 25, extra: 1127.5 },
    { strategy: 'move', volume: io2, volumeUsd: 0, snapshotUsd: 25, extra: 25 },
    { strategy: 'clone', volume: { sizeGiB: 1000, type: 'gp3' as const }, volumeUsd: 80, snapshotUsd: 50, extra: 130 },
  ] as const)('$strategy of $volume.sizeGiB GiB $volume.type costs $extra/month extra', ({ strategy, volume, volumeUsd, snapshotUsd, extra }) => {
    const cost = strategyCost({ strategy, dataVolume: volume, prices });
    expect(cost).toMatchObject({ strategy, volumeUsd, snapshotUsd, extraMonthlyUsd: extra });
    expect(cost.summary).toContain(`$${Math.round(extra).toLocaleString('en-US')}/month`);
  });

  it('uses the prices it is given', () => {
    const other: StoragePricing = { region: 'elsewhere', diskMonthlyUsd: (d) => d.sizeGiB * 0.1, snapshotGiBMonthUsd: 0.01 };
    expect(strategyCost({ strategy: 'clone', dataVolume: gp3, prices: other }).extraMonthlyUsd).toBe(55);
    expect(strategyCost({ strategy: 'move', dataVolume: gp3, prices: other }).extraMonthlyUsd).toBe(5);
  });

  it('a disk the price file has no price for counts as nothing extra, not as a guess', () => {
    const unpriced: StoragePricing = { region: 'elsewhere', diskMonthlyUsd: () => undefined, snapshotGiBMonthUsd: 0.05 };
    expect(strategyCost({ strategy: 'clone', dataVolume: { sizeGiB: 500, type: 'pd-ssd' }, prices: unpriced })).toMatchObject({ volumeUsd: 0, snapshotUsd: 25 });
  });

  it('explains the trade-off of each', () => {
    const [clone, move] = strategyCosts({ dataVolume: gp3, prices });
    expect(clone?.strategy).toBe('clone');
    expect(clone?.explanation).toMatch(/lazily/);
    expect(clone?.rollback).toMatch(/instant/);
    expect(move?.strategy).toBe('move');
    expect(move?.explanation).toMatch(/no lazy loading/);
    expect(move?.rollback).toMatch(/snapshot/);
  });

  it.each([
    { requested: undefined, strategy: 'clone', from: 'default' },
    { requested: 'clone', strategy: 'clone', from: 'flag' },
    { requested: 'move', strategy: 'move', from: 'flag' },
  ])('chooseStrategy($requested) = $strategy from $from', ({ requested, strategy, from }) => {
    const choice = chooseStrategy({ requested, dataVolume: gp3, prices });
    expect(choice).toMatchObject({ strategy, from });
    expect(choice.chosen.strategy).toBe(strategy);
    expect(choice.costs.map((c) => c.strategy)).toEqual(['clone', 'move']);
  });

  it('chooseStrategy refuses an unknown strategy as bad input', () => {
    expect(() => chooseStrategy({ requested: 'copy', dataVolume: gp3, prices })).toThrow(/--strategy must be clone or move/);
    expect(() => chooseStrategy({ requested: 'copy', dataVolume: gp3, prices })).toThrow(UsageError);
  });
});

describe('planUpgradeSteps', () => {
  const deployment = {
    instanceId: 'i-0old',
    availabilityZone: 'us-east-1b',
    dataVolumeId: 'vol-0data',
    addressId: 'eipalloc-0abc',
    ssh: true,
  };
  const oneHop: UpgradeHop[] = [{ from: '6.11.0', to: '6.12.5040', imageId: 'ami-0d5604b984e5bd659', source: 'catalog' }];
  const threeHops: UpgradeHop[] = [
    { from: '6.5.2654', to: '6.6.0', imageId: 'ami-066', source: 'built' },
    { from: '6.6.0', to: '6.7.0', imageId: 'ami-067', source: 'built' },
    { from: '6.7.0', to: '6.8.0', imageId: 'ami-068', source: 'built' },
  ];
  const actions = (steps: UpgradeStep[]) => steps.map((s) => s.action);
  const index = (steps: UpgradeStep[], hop: number, action: string) =>
    steps.findIndex((s) => s.hop === hop && s.action === action);

  it('clone, one hop: the exact order; the instance launches at cutover with its data', () => {
    const steps = planUpgradeSteps({ strategy: 'clone', hops: oneHop, deployment, terms });
    expect(steps.map((s) => [s.phase, s.action, s.downtime])).toEqual([
      ['prepare', 'snapshot-live', false],
      ['prepare', 'check-launch-permissions', false],
      ['cutover', 'stop-old-instance', true],
      ['cutover', 'snapshot-final', true],
      ['cutover', 'launch-new-instance', true],
      ['cutover', 'move-address', true],
      ['verify', 'wait-for-version', true],
      ['verify', 'check-version-files', false],
      ['verify', 'keep-rollback-point', false],
    ]);
    expect(steps[0]?.title).toContain('vol-0data');
    expect(steps[1]?.title).toContain('ami-0d5604b984e5bd659');
    expect(steps[2]?.title).toContain('i-0old');
    expect(steps[4]?.title).toContain('us-east-1b');
    expect(steps[4]?.title).toMatch(/created from that snapshot/);
    expect(steps[6]?.title).toContain('90 s');
    expect(steps.at(-1)?.title).toMatch(/i-0old.*vol-0data/);
    // The address move keeps the journal id the cloud names it by (resumed journals and fault tests use it).
    expect(steps[5]).toMatchObject({ id: '6.12.5040:move-elastic-ip', action: 'move-address' });
    expect(steps[5]?.title).toBe('Move Elastic IP eipalloc-0abc to the 6.12.5040 instance');
  });

  it('takes the hold it is given', () => {
    const steps = planUpgradeSteps({ strategy: 'clone', hops: oneHop, deployment, terms, holdSeconds: 5 });
    expect(steps.find((s) => s.action === 'wait-for-version')?.title).toContain('5 s');
  });

  it('move, one hop: the old volume is detached, the data-less instance stopped, then attached and started', () => {
    const steps = planUpgradeSteps({ strategy: 'move', hops: oneHop, deployment, terms });
    expect(actions(steps.filter((s) => s.phase === 'cutover'))).toEqual([
      'stop-old-instance',
      'snapshot-final',
      'detach-data-volume',
      'launch-new-instance',
      'stop-new-instance',
      'attach-data-volume',
      'start-new-instance',
      'move-address',
    ]);
    expect(steps.find((s) => s.action === 'attach-data-volume')?.title).toContain('vol-0data');
    expect(steps.find((s) => s.action === 'launch-new-instance')?.title).toMatch(/without its data disk.*powers it off/);
    expect(steps.at(-1)?.title).toMatch(/snapshot of vol-0data/);
  });

  it('without an Elastic IP or SSH those steps are left out', () => {
    const steps = planUpgradeSteps({
      strategy: 'clone',
      hops: oneHop,
      deployment: { instanceId: 'i-0old', availabilityZone: 'us-east-1b', dataVolumeId: 'vol-0data' },
      terms,
    });
    expect(actions(steps)).not.toContain('move-address');
    expect(actions(steps)).not.toContain('check-version-files');
  });

  it('no hops, no steps', () => {
    expect(planUpgradeSteps({ strategy: 'clone', hops: [], deployment, terms })).toEqual([]);
  });

  describe.each(['clone', 'move'] as UpgradeStrategy[])('%s over three hops', (strategy) => {
    const steps = planUpgradeSteps({ strategy, hops: threeHops, deployment, terms });

    it('has unique ids naming the hop', () => {
      expect(new Set(steps.map((s) => s.id)).size).toBe(steps.length);
      for (const s of steps) expect(s.id).toBe(`${s.to}:${s.action === 'move-address' ? terms.addressMoveStep : s.action}`);
    });

    it('never stops service, and never launches anything, in prepare', () => {
      const prepare = steps.filter((s) => s.phase === 'prepare');
      expect(prepare.length).toBe(6);
      expect(prepare.filter((s) => s.downtime)).toEqual([]);
      expect(actions(prepare).filter((a) => a === 'launch-new-instance' || a === 'start-new-instance')).toEqual([]);
    });

    it('runs the hops in order, each prepare → cutover → verify', () => {
      const order = { prepare: 0, cutover: 1, verify: 2 };
      for (let i = 1; i < steps.length; i++) {
        const [a, b] = [steps[i - 1]!, steps[i]!];
        expect(b.hop).toBeGreaterThanOrEqual(a.hop);
        if (a.hop === b.hop) expect(order[b.phase]).toBeGreaterThanOrEqual(order[a.phase]);
      }
      expect([...new Set(steps.map((s) => s.to))]).toEqual(['6.6.0', '6.7.0', '6.8.0']);
    });

    it('never boots a new instance without its data', () => {
      threeHops.forEach((_, hop) => {
        expect(index(steps, hop, 'stop-old-instance')).toBeLessThan(index(steps, hop, 'snapshot-final'));
        if (strategy === 'clone') {
          // The data comes with the launch itself, from the final snapshot: launch after that snapshot.
          expect(index(steps, hop, 'snapshot-final')).toBeLessThan(index(steps, hop, 'launch-new-instance'));
          expect(index(steps, hop, 'detach-data-volume')).toBe(-1);
          expect(index(steps, hop, 'start-new-instance')).toBe(-1);
        } else {
          const start = index(steps, hop, 'start-new-instance');
          expect(index(steps, hop, 'detach-data-volume')).toBeLessThan(index(steps, hop, 'attach-data-volume'));
          expect(index(steps, hop, 'launch-new-instance')).toBeLessThan(index(steps, hop, 'stop-new-instance'));
          expect(index(steps, hop, 'stop-new-instance')).toBeLessThan(index(steps, hop, 'attach-data-volume'));
          expect(index(steps, hop, 'attach-data-volume')).toBeLessThan(start);
        }
      });
    });

    it('retires intermediates and keeps one rollback point, last', () => {
      expect(steps.filter((s) => s.action === 'retire-intermediate').map((s) => s.from)).toEqual(['6.6.0', '6.7.0']);
      expect(steps.filter((s) => s.action === 'keep-rollback-point')).toHaveLength(1);
      expect(steps.at(-1)?.action).toBe('keep-rollback-point');
      expect(steps.at(-1)?.title).toContain('6.5.2654');
    });

    it('launches every new instance in the deployment\'s availability zone', () => {
      const launches = steps.filter((s) => s.action === 'launch-new-instance');
      expect(launches.map((s) => s.title.includes('us-east-1b'))).toEqual([true, true, true]);
    });
  });
});
