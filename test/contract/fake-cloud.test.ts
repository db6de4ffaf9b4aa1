// The fake cloud's own promises (SPEC.md) beyond the port's contract: time by polls or by a clock,
// the boot guard, terminated instances kept in sight, refusals, reachability and scripted consoles.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../fakes/virtual-clock.js';
import { failure, fakeCloud, scene, ZONE_A, ZONE_B } from './fake-fixtures.js';

describe('fake cloud: time', () => {
  it('a transition completes after its number of polls of that resource', async () => {
    const { fake, spec } = await scene({ delays: { instanceStart: { polls: 3 } } });
    const created = await fake.ensureInstance(spec());
    expect(created.state).toBe('pending');
    expect((await fake.describeInstance(created.id))?.state).toBe('pending');
    await fake.listDeployments(); // reads of everything count for nothing
    expect((await fake.describeInstance(created.id))?.state).toBe('pending');
    expect((await fake.describeInstance(created.id))?.state).toBe('running');
  });

  it('with time-based delays a wait sleeps on the injected clock, and times out with exit 4 naming the stage', async () => {
    const clock = new VirtualClock();
    const { fake, spec } = await scene({ clock, pollIntervalMs: 10_000, delays: { instanceStart: { ms: 95_000 } } });
    const created = await fake.ensureInstance(spec());
    const timeout = await failure(fake.waitForInstanceState(created.id, 'running', 60_000));
    expect(timeout).toMatchObject({ code: 'wait-timeout', exitCode: 4 });
    expect((timeout as unknown as { stage: string }).stage).toBe('instance-running');
    expect(clock.elapsed()).toBe(60_000);
    await fake.waitForInstanceState(created.id, 'running', 60_000);
    expect(clock.elapsed()).toBe(100_000);
    expect(clock.sleeps.every((ms) => ms === 10_000)).toBe(true);
  });

  it('hold keeps a transition from completing until settle; tick counts polls of everything', async () => {
    const { fake, spec } = await scene({ delays: { instanceStart: { polls: 2 } } });
    const held = await fake.ensureInstance(spec());
    const ticked = await fake.ensureInstance(spec({ key: 'other' }));
    fake.hold(held.id);
    expect((await failure(fake.waitForInstanceState(held.id, 'running', 60_000))).code).toBe('wait-timeout');
    fake.tick(2);
    expect(fake.state.instances.find((i) => i.id === ticked.id)?.state).toBe('running');
    expect(fake.state.instances.find((i) => i.id === held.id)?.state).toBe('pending');
    fake.settle();
    expect((await fake.describeInstance(held.id))?.state).toBe('running');
  });
});

describe('fake cloud: instances', () => {
  it('a terminated instance stays in sight (its key answered with it) for an hour, then is gone and its key free', async () => {
    const clock = new VirtualClock();
    const { fake, spec } = await scene({ clock });
    const first = await fake.ensureInstance(spec());
    await fake.terminateInstance(first.id);
    await fake.waitForInstanceState(first.id, 'terminated', 60_000);
    expect(await fake.ensureInstance(spec())).toMatchObject({ id: first.id, state: 'terminated' });
    expect((await fake.findDeployment('prod')).instance).toBeUndefined();
    clock.advance(60 * 60_000);
    expect(await fake.describeInstance(first.id)).toBeUndefined();
    const second = await fake.ensureInstance(spec());
    expect(second.id).not.toBe(first.id);
  });

  it('a deployment without an instance labelled role "instance" has no serving instance', async () => {
    const { fake, spec } = await scene();
    const other = await fake.ensureInstance(spec({ labels: { deployment: 'prod', role: 'standby', version: '6.12.5040' } }));
    const found = await fake.findDeployment('prod');
    expect(found.instance).toBeUndefined();
    expect(found.otherInstances.map((i) => i.id)).toEqual([other.id]);
    expect(found.version).toBeUndefined();
  });

  it('the same key for a different instance is refused (idempotency mismatch)', async () => {
    const { fake, spec } = await scene();
    await fake.ensureInstance(spec());
    expect((await failure(fake.ensureInstance(spec({ machineType: 'standard-16' })))).code).toBe('idempotency-mismatch');
  });

  it('a machine type not offered in the zone is refused before anything is made', async () => {
    const { fake, spec } = await scene({}, ZONE_A);
    expect(await fake.machineTypeZones('standard-48')).not.toContain(ZONE_A);
    expect((await failure(fake.ensureInstance(spec({ machineType: 'standard-48' })))).code).toBe('instance-type-unavailable');
    expect(fake.state.instances).toEqual([]);
    expect(fake.state.disks).toEqual([]);
  });

  it('the boot guard powers off an instance that boots without its data disk, and not once it has one', async () => {
    const { fake, spec } = await scene();
    const bare = await fake.ensureInstance(spec({ data: { mode: 'none' } }));
    await fake.waitForInstanceState(bare.id, 'stopped', 60_000);
    expect(fake.state.instances[0]).toMatchObject({ bootGuard: true, guardPowerOffs: 1 });
    const other = await fake.ensureInstance(spec({ key: 'donor' }));
    const dataId = other.disks.find((d) => d.role === 'data')!.diskId;
    await fake.stopInstance(other.id);
    await fake.waitForInstanceState(other.id, 'stopped', 60_000);
    await fake.detachDisk(dataId, other.id, 60_000);
    await fake.attachDataDisk(dataId, bare.id, 60_000);
    await fake.startInstance(bare.id);
    await fake.waitForInstanceState(bare.id, 'running', 60_000);
    expect((await fake.describeInstance(bare.id))?.state).toBe('running');
    expect(fake.state.instances[0]?.guardPowerOffs).toBe(1);
  });

  it('as AWS an existing disk is not attached at creation; as GCE it is, only from its zone and when free', async () => {
    const aws = await scene();
    const donor = await aws.fake.ensureInstance(aws.spec({ key: 'donor' }));
    const diskId = donor.disks.find((d) => d.role === 'data')!.diskId;
    const made = await aws.fake.ensureInstance(aws.spec({ data: { mode: 'existing', diskId } }));
    expect(made.disks.map((d) => d.role)).toEqual(['root']);
    expect(aws.fake.state.instances[1]?.bootGuard).toBe(true);

    const gce = await scene({ profile: 'gcp' }, ZONE_B);
    const used = await gce.fake.ensureInstance(gce.spec({ key: 'donor' }));
    const inUse = used.disks.find((d) => d.role === 'data')!.diskId;
    expect((await failure(gce.fake.ensureInstance(gce.spec({ data: { mode: 'existing', diskId: inUse } })))).code).toBe('disk-in-use');
    const elsewhere = await scene({ profile: 'gcp' }, ZONE_A);
    const far = await elsewhere.fake.ensureInstance(elsewhere.spec({ key: 'far' }));
    const farDisk = far.disks.find((d) => d.role === 'data')!.diskId;
    await elsewhere.fake.terminateInstance(far.id);
    await elsewhere.fake.waitForInstanceState(far.id, 'terminated', 60_000);
    const inB = (await elsewhere.fake.resolvePlacement(undefined, [ZONE_B]));
    const spec = { ...elsewhere.spec({ data: { mode: 'existing', diskId: farDisk } }), placement: inB };
    expect((await failure(elsewhere.fake.ensureInstance(spec))).code).toBe('disk-zone-mismatch');
  });

  it('state changes that make no sense are refused; those already done are no-ops', async () => {
    const { fake, spec } = await scene({ delays: { instanceStop: { polls: 2 } } });
    const i = await fake.ensureInstance(spec());
    await fake.waitForInstanceState(i.id, 'running', 60_000);
    await fake.startInstance(i.id);
    await fake.stopInstance(i.id);
    await fake.stopInstance(i.id);
    expect((await failure(fake.startInstance(i.id))).code).toBe('incorrect-state');
    await fake.terminateInstance(i.id);
    expect((await failure(fake.startInstance(i.id))).code).toBe('instance-terminated');
    expect((await failure(fake.waitForInstanceState(i.id, 'running', 60_000))).code).toBe('instance-terminated');
    expect((await failure(fake.stopInstance('inst-424242'))).code).toBe('instance-not-found');
  });

  it('health follows the state where the cloud reports it, and a script overrides it', async () => {
    const aws = await scene();
    const i = await aws.fake.ensureInstance(aws.spec());
    expect((await aws.fake.instanceHealth(i.id)).overall).toBe('initializing');
    await aws.fake.waitForInstanceState(i.id, 'running', 60_000);
    expect((await aws.fake.instanceHealth(i.id)).overall).toBe('ok');
    aws.fake.setHealth(i.id, { overall: 'impaired', detail: 'scripted' });
    expect(await aws.fake.instanceHealth(i.id)).toEqual({ overall: 'impaired', detail: 'scripted' });
    const gce = await scene({ profile: 'gcp' });
    const g = await gce.fake.ensureInstance(gce.spec());
    expect((await gce.fake.instanceHealth(g.id)).overall).toBe('not-applicable');
  });

  it('the console is scripted per instance (per call), or for every instance by an option', async () => {
    const { fake, spec } = await scene({ consoleOutput: (instance, call) => `${instance.id} boot ${call}` });
    const i = await fake.ensureInstance(spec());
    expect(await fake.consoleOutput(i.id)).toBe(`${i.id} boot 1`);
    fake.setConsoleOutput(i.id, (call) => (call < 3 ? '' : 'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----'));
    expect(await fake.consoleOutput(i.id)).toBe('');
    expect(await fake.consoleOutput(i.id)).toMatch(/FINGERPRINTS/);
  });

  it('an instance is reachable where the test says, while it runs; a static address takes precedence', async () => {
    const { fake, spec } = await scene({ publicIpFor: () => '10.200.77.2', staticAddressIps: ['10.200.77.9'] });
    const i = await fake.ensureInstance(spec());
    expect((await fake.describeInstance(i.id))?.publicIp).toBe('10.200.77.2');
    fake.makeReachable(i.id, '10.200.77.3');
    expect((await fake.describeInstance(i.id))?.publicIp).toBe('10.200.77.3');
    const address = (await fake.ensureStaticAddress({ mode: 'new', deployment: 'prod', labels: { deployment: 'prod' } }))!;
    expect(address.ip).toBe('10.200.77.9');
    await fake.attachStaticAddress(address.id, i.id);
    await fake.stopInstance(i.id);
    await fake.waitForInstanceState(i.id, 'stopped', 60_000);
    expect((await fake.describeInstance(i.id))?.publicIp).toBe('10.200.77.9');
    await fake.detachStaticAddress(address.id);
    expect((await fake.describeInstance(i.id))?.publicIp).toBeUndefined();
  });
});

describe('fake cloud: network', () => {
  it('a rule on a port it does not govern survives a re-ensure; a name of another deployment is refused', async () => {
    const { fake, placement, policyId } = await scene();
    fake.addAccessRule(policyId, { port: 8080, cidr: '10.0.0.0/8' });
    const spec = { deployment: 'prod', labels: { deployment: 'prod' }, name: 'sourcegraph-launch-prod', placement, rules: [{ port: 80, cidr: '192.0.2.0/24' }] };
    const again = await fake.ensureAccessPolicy(spec);
    expect(again.rules).toEqual([{ port: 8080, cidr: '10.0.0.0/8' }, { port: 80, cidr: '192.0.2.0/24' }]);
    const clash = await failure(fake.ensureAccessPolicy({ ...spec, deployment: 'other', labels: { deployment: 'other' } }));
    expect(clash.code).toBe('access-policy-conflict');
  });

  it('an access policy in use, an attached address, and what the user brought are not deleted', async () => {
    const { fake, spec, policyId } = await scene();
    const i = await fake.ensureInstance(spec());
    expect((await failure(fake.deleteAccessPolicy(policyId))).code).toBe('access-policy-in-use');
    const ours = (await fake.ensureStaticAddress({ mode: 'new', deployment: 'prod', labels: { deployment: 'prod' } }))!;
    await fake.attachStaticAddress(ours.id, i.id);
    expect((await failure(fake.releaseStaticAddress(ours.id))).code).toBe('address-in-use');
    const brought = fake.addStaticAddress('192.0.2.50');
    expect((await failure(fake.releaseStaticAddress(brought.id))).code).toBe('address-not-managed');
    fake.addSshKey('laptop', 'ssh-ed25519 AAAA laptop');
    expect((await failure(fake.deleteSshKey('laptop'))).code).toBe('ssh-key-not-managed');
    await fake.terminateInstance(i.id);
    await fake.waitForInstanceState(i.id, 'terminated', 60_000);
    expect((await fake.findDeployment('prod')).addresses[0]?.instanceId).toBeUndefined();
    await fake.deleteAccessPolicy(policyId);
  });

  it("what the user brought is found through the deployment's instances; another deployment's address is refused", async () => {
    const { fake, spec } = await scene();
    fake.addSshKey('laptop');
    const i = await fake.ensureInstance({ ...spec(), sshKey: { mode: 'existing', name: 'laptop' } });
    const brought = fake.addStaticAddress('192.0.2.51');
    await fake.attachStaticAddress(brought.id, i.id);
    const found = await fake.findDeployment('prod');
    expect(found.sshKeys).toEqual([{ name: 'laptop', managed: false, labels: {} }]);
    expect(found.addresses.map((a) => a.id)).toEqual([brought.id]);
    const other = await fake.ensureInstance(spec({ deployment: 'other', key: 'other-1' }));
    expect((await failure(fake.attachStaticAddress(brought.id, other.id))).code).toBe('address-in-use');
    expect((await failure(fake.ensureStaticAddress({ mode: 'existing', id: brought.id, deployment: 'other' }))).code).toBe('address-in-use');
  });

  it('resolvePlacement never picks a non-default subnet by itself, and refuses a zone without a default one', async () => {
    const fake = fakeCloud();
    const extra = fake.addSubnet(ZONE_A);
    expect((await fake.resolvePlacement(extra)).subnetId).toBe(extra);
    expect((await fake.resolvePlacement(undefined, [ZONE_A])).subnetId).not.toBe(extra);
    fake.removeSubnet(`subnet-${ZONE_B}`);
    expect((await failure(fake.resolvePlacement(undefined, [ZONE_B]))).code).toBe('no-default-subnet');
  });

  it('as GCE the SSH key travels with the instance instead of being kept by name', async () => {
    const { fake, spec } = await scene({ profile: 'gcp' });
    const key = { mode: 'import' as const, name: 'k', publicKey: 'ssh-ed25519 AAAA me' };
    expect(await fake.ensureSshKey(key, 'prod', { deployment: 'prod' })).toBeUndefined();
    const i = await fake.ensureInstance({ ...spec(), sshKey: key });
    expect(i.sshKeyName).toBeUndefined();
    expect(fake.state.instances[0]).toMatchObject({ sshPublicKey: 'ssh-ed25519 AAAA me', loginUser: 'sourcegraph' });
  });
});
