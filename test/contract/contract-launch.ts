// The contract, part 1: who and where, images, deployments found by labels, access policies, SSH
// keys and static addresses.
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/core/errors.js';
import {
  accessSpec,
  CIDR_A,
  CIDR_B,
  labelsFor,
  launch,
  rejection,
  sortedRules,
  testPublicKey,
  uniqueName,
  type CloudContractOptions,
  type ContractEnvironment,
} from './contract-env.js';

export function launchContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('who and where', () => {
    it('declares the capabilities its set-up says it has', () => {
      expect(env().cloud.capabilities).toEqual(opts.capabilities);
    });

    it('whoAmI names an account and a principal', async () => {
      const identity = await env().cloud.whoAmI();
      expect(identity.account).toMatch(/\S/);
      expect(identity.principal).toMatch(/\S/);
    });

    it('machineTypeZones lists the zones offering a type, and none for a type that does not exist', async () => {
      const { cloud, machineType, zones, missing } = env();
      const offered = await cloud.machineTypeZones(machineType);
      expect(offered).toEqual(expect.arrayContaining([zones[0], zones[1]]));
      expect(new Set(offered).size).toBe(offered.length);
      expect(await cloud.machineTypeZones(missing.machineType)).toEqual([]);
    });

    it('diskTypeZones, where the adapter has it, lists the zones offering the data disk type (and none for one that does not exist)', async () => {
      const { cloud, dataDisk, zones, missing } = env();
      expect(typeof cloud.diskTypeZones === 'function').toBe(opts.diskTypeZones === true);
      if (!cloud.diskTypeZones) return;
      const offered = await cloud.diskTypeZones(dataDisk.type);
      expect(offered).toEqual(expect.arrayContaining([zones[0], zones[1]]));
      expect(new Set(offered).size).toBe(offered.length);
      if (missing.diskType) expect(await cloud.diskTypeZones(missing.diskType)).toEqual([]);
    });

    it('resolvePlacement picks a default subnet among the zones asked for, the same one each time', async () => {
      const { cloud, zones } = env();
      const second = await cloud.resolvePlacement(undefined, [zones[1]]);
      expect(second.zone).toBe(zones[1]);
      expect(await cloud.resolvePlacement(undefined, [zones[1]])).toEqual(second);
      const any = await cloud.resolvePlacement(undefined);
      expect(any.zone).toMatch(/\S/);
      expect(await cloud.resolvePlacement(undefined)).toEqual(any);
    });

    it('resolvePlacement validates a subnet it is given: a missing one is bad input (exit 2)', async () => {
      const { cloud, zones, missing } = env();
      const placement = await cloud.resolvePlacement(undefined, [zones[1]]);
      if (opts.zonalSubnets) {
        expect(placement.subnetId).toBeDefined();
        expect(await cloud.resolvePlacement(placement.subnetId, [zones[1]])).toMatchObject({ zone: zones[1], subnetId: placement.subnetId });
        const wrongZone = await rejection(cloud.resolvePlacement(placement.subnetId, [zones[0]]));
        expect(wrongZone.exitCode).toBe(ExitCode.badInput);
      }
      const err = await rejection(cloud.resolvePlacement(missing.subnetId));
      expect(err.exitCode).toBe(ExitCode.badInput);
      expect(err.code).toBe('subnet-not-found');
    });
  });

  describe('images and deployments', () => {
    it('findImage finds the published image by version, describeImage describes it, an unknown one is undefined', async () => {
      const { cloud, image, missing } = env();
      const found = await cloud.findImage({ version: image.version });
      expect(found).toMatchObject({ id: image.id, version: image.version, source: 'published' });
      expect(await cloud.describeImage(image.id)).toMatchObject({ id: image.id });
      expect(await cloud.findImage({ version: '0.0.1' })).toBeUndefined();
      expect(await cloud.describeImage(missing.imageId)).toBeUndefined();
    });

    it('finds a deployment by its labels and lists every deployment', async () => {
      const { cloud } = env();
      const a = uniqueName('find');
      const b = uniqueName('find');
      const launchedA = await launch(env(), a);
      const launchedB = await launch(env(), b);
      const found = await cloud.findDeployment(a);
      expect(found.name).toBe(a);
      expect(found.scope).toEqual(cloud.scope);
      expect(found.instance?.id).toBe(launchedA.instance.id);
      expect(found.version).toBe(env().image.version);
      expect(found.otherInstances).toEqual([]);
      expect(found.accessPolicies.map((p) => p.id)).toEqual([launchedA.policy.id]);
      expect(found.disks.map((d) => d.id)).toEqual(expect.arrayContaining(launchedA.instance.disks.map((d) => d.diskId)));
      const listed = await cloud.listDeployments();
      expect(listed.find((d) => d.name === a)?.instance?.id).toBe(launchedA.instance.id);
      expect(listed.find((d) => d.name === b)?.instance?.id).toBe(launchedB.instance.id);
      const none = await cloud.findDeployment(uniqueName('never'));
      expect(none.instance).toBeUndefined();
      expect(none).toMatchObject({ name: none.name, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] });
    });

    it('the serving instance is the newest labelled role "instance"; older ones and other roles are listed apart', async () => {
      const { cloud } = env();
      const name = uniqueName('serving');
      const old = await launch(env(), name, { idempotencyKey: `${name}-a` });
      await new Promise((r) => setTimeout(r, env().launchTimeResolutionMs ?? 0));
      const newer = await launch(env(), name, { placement: old.placement, idempotencyKey: `${name}-b` });
      const standby = await launch(env(), name, {
        placement: old.placement,
        idempotencyKey: `${name}-c`,
        labels: labelsFor(env(), name, 'standby'),
      });
      const found = await cloud.findDeployment(name);
      expect(found.instance?.id).toBe(newer.instance.id);
      expect(found.otherInstances.map((i) => i.id).sort()).toEqual([old.instance.id, standby.instance.id].sort());
    });
  });

  describe('access policies and SSH keys', () => {
    it('ensureAccessPolicy is idempotent and makes the governed rules exact; a narrower re-run closes the rest', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('access');
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const wide = [
        { port: 22, cidr: CIDR_A },
        { port: 80, cidr: CIDR_B },
        { port: 443, cidr: CIDR_B },
        { port: 443, cidr: CIDR_A },
      ];
      const first = await cloud.ensureAccessPolicy(accessSpec(name, placement, wide));
      expect(sortedRules(first.rules)).toEqual(sortedRules(wide));
      const again = await cloud.ensureAccessPolicy(accessSpec(name, placement, wide));
      expect(again.id).toBe(first.id);
      expect((await cloud.findDeployment(name)).accessPolicies.map((p) => p.id)).toEqual([first.id]);

      const narrow = [{ port: 443, cidr: CIDR_B }];
      const narrowed = await cloud.ensureAccessPolicy(accessSpec(name, placement, narrow));
      expect(narrowed.id).toBe(first.id);
      expect(sortedRules(narrowed.rules)).toEqual(sortedRules(narrow));
      const seen = (await cloud.findDeployment(name)).accessPolicies;
      expect(seen.map((p) => sortedRules(p.rules))).toEqual([sortedRules(narrow)]);
    });

    it('a second policy of the same deployment (another name and role: a rehearsal\'s) is its own; the first keeps its rules', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('access-two');
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const own = [{ port: 80, cidr: CIDR_B }, { port: 443, cidr: CIDR_B }];
      const first = await cloud.ensureAccessPolicy(accessSpec(name, placement, own, { deployment: name, role: 'security-group', managed: 'true' }));
      const other = await cloud.ensureAccessPolicy({
        ...accessSpec(name, placement, [{ port: 22, cidr: CIDR_A }], { deployment: name, role: 'rehearsal', managed: 'true', operation: 'rehearsal-0a1b2c3d' }),
        name: `${name}-rehearsal-0a1b2c3d`,
      });
      expect(other.id).not.toBe(first.id);
      expect(sortedRules(other.rules)).toEqual(sortedRules([{ port: 22, cidr: CIDR_A }]));
      const seen = (await cloud.findDeployment(name)).accessPolicies;
      expect(sortedRules(seen.find((p) => p.id === first.id)!.rules)).toEqual(sortedRules(own));
      await cloud.deleteAccessPolicy(other.id);
      expect((await cloud.findDeployment(name)).accessPolicies.map((p) => p.id)).toEqual([first.id]);
    });

    it('deleteAccessPolicy removes it, and a second delete succeeds', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('access-del');
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const policy = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 80, cidr: CIDR_A }]));
      await cloud.deleteAccessPolicy(policy.id);
      expect((await cloud.findDeployment(name)).accessPolicies).toEqual([]);
      await cloud.deleteAccessPolicy(policy.id);
    });

    if (opts.keepsSshKeys) {
      it('ensureSshKey imports a key once, finds it with the deployment, and deletes it', async () => {
        const { cloud } = env();
        const name = uniqueName('key');
        const spec = { mode: 'import' as const, name: `sourcegraph-launch-${name}`, publicKey: testPublicKey() };
        const labels = labelsFor(env(), name, 'ssh-key');
        const key = await cloud.ensureSshKey(spec, name, labels);
        expect(key).toMatchObject({ name: spec.name, managed: true });
        expect((await cloud.ensureSshKey(spec, name, labels))?.name).toBe(spec.name);
        expect((await cloud.findDeployment(name)).sshKeys.map((k) => k.name)).toEqual([spec.name]);
        expect(await cloud.ensureSshKey({ mode: 'none' }, name, labels)).toBeUndefined();
        await cloud.deleteSshKey(spec.name);
        expect((await cloud.findDeployment(name)).sshKeys).toEqual([]);
        await cloud.deleteSshKey(spec.name);
      });
    } else {
      it('ensureSshKey keeps nothing: the key travels with the instance', async () => {
        const { cloud } = env();
        const name = uniqueName('key');
        const spec = { mode: 'import' as const, name: `sourcegraph-launch-${name}`, publicKey: testPublicKey() };
        expect(await cloud.ensureSshKey(spec, name, labelsFor(env(), name, 'ssh-key'))).toBeUndefined();
        const launched = await launch(env(), name, { sshKey: spec });
        expect(launched.instance.state).toBe('running');
        expect((await cloud.findDeployment(name)).sshKeys).toEqual([]);
      });
    }
  });

  describe('static addresses', () => {
    it('reserves once, attaches, moves within the deployment, refuses another deployment, releases', async () => {
      const { cloud } = env();
      const name = uniqueName('addr');
      const other = uniqueName('addr-other');
      const spec = { mode: 'new' as const, deployment: name, labels: labelsFor(env(), name, 'address') };
      const address = (await cloud.ensureStaticAddress(spec))!;
      expect(address.managed).toBe(true);
      expect(address.instanceId).toBeUndefined();
      expect(address.ip).toMatch(/\S/);
      expect((await cloud.ensureStaticAddress(spec))?.id).toBe(address.id);
      expect((await cloud.findDeployment(name)).addresses.map((a) => a.id)).toEqual([address.id]);

      const first = await launch(env(), name, { idempotencyKey: `${name}-a` });
      const second = await launch(env(), name, { placement: first.placement, idempotencyKey: `${name}-b` });
      const stranger = await launch(env(), other, { placement: first.placement });
      expect((await cloud.attachStaticAddress(address.id, first.instance.id)).instanceId).toBe(first.instance.id);
      expect((await cloud.describeInstance(first.instance.id))?.publicIp).toBe(address.ip);
      expect((await cloud.attachStaticAddress(address.id, second.instance.id)).instanceId).toBe(second.instance.id);
      expect((await cloud.describeInstance(second.instance.id))?.publicIp).toBe(address.ip);
      if (opts.cannotEmulate?.['address-move-clears-previous-ip'] === undefined) {
        expect((await cloud.describeInstance(first.instance.id))?.publicIp).not.toBe(address.ip);
      }

      await rejection(cloud.attachStaticAddress(address.id, stranger.instance.id));
      expect((await cloud.describeInstance(second.instance.id))?.publicIp).toBe(address.ip);

      await cloud.detachStaticAddress(address.id);
      expect((await cloud.findDeployment(name)).addresses.find((a) => a.id === address.id)?.instanceId).toBeUndefined();
      await cloud.releaseStaticAddress(address.id);
      expect((await cloud.findDeployment(name)).addresses).toEqual([]);
      await cloud.releaseStaticAddress(address.id);
      const fresh = await cloud.ensureStaticAddress(spec);
      expect(fresh?.id).not.toBe(address.id);
    });

    const keepsOldIp = opts.cannotEmulate?.['address-move-clears-previous-ip'];
    if (keepsOldIp !== undefined) {
      it(`after a move, the previous instance still showing the address is not checked here, as the set-up declares: ${keepsOldIp}`, () => {
        expect(keepsOldIp.trim()).not.toBe('');
      });
    }

    it('a brought address is adopted, found with the deployment, moved and detached, but never released', async () => {
      const { cloud } = env();
      const name = uniqueName('brought');
      const id = await env().bringAddress();
      const adopted = (await cloud.ensureStaticAddress({ mode: 'existing', id, deployment: name }))!;
      expect(adopted).toMatchObject({ id, managed: false });
      const first = await launch(env(), name, { idempotencyKey: `${name}-a` });
      const second = await launch(env(), name, { placement: first.placement, idempotencyKey: `${name}-b` });
      await cloud.attachStaticAddress(id, first.instance.id);
      expect((await cloud.findDeployment(name)).addresses.map((a) => a.id)).toEqual([id]);
      await cloud.attachStaticAddress(id, second.instance.id);
      expect((await cloud.describeInstance(second.instance.id))?.publicIp).toBe(adopted.ip);
      await cloud.detachStaticAddress(id);
      await rejection(cloud.releaseStaticAddress(id));
      expect(await cloud.ensureStaticAddress({ mode: 'existing', id, deployment: name })).toMatchObject({ id, ip: adopted.ip, managed: false });
    });

    it('mode none reserves nothing; an address that does not exist is bad input (exit 2)', async () => {
      const { cloud, missing } = env();
      const name = uniqueName('addr-none');
      expect(await cloud.ensureStaticAddress({ mode: 'none' })).toBeUndefined();
      expect((await cloud.findDeployment(name)).addresses).toEqual([]);
      const err = await rejection(cloud.ensureStaticAddress({ mode: 'existing', id: missing.addressId, deployment: name }));
      expect(err.exitCode).toBe(ExitCode.badInput);
    });

    it('quotas (doctor): each figure, or why not; a reserved address and a running instance count against theirs', async () => {
      const { cloud, machineType } = env();
      expect(cloud.quotas, 'every adapter reads quotas').toBeDefined();
      const before = await cloud.quotas!(machineType);
      for (const key of opts.quotaFigures ?? []) expect(before[key], `the ${key} quota`).toBeDefined();
      for (const key of ['vcpus', 'staticAddresses'] as const) {
        const f = before[key];
        if (f) expect(f.limit >= 0 && f.used >= 0 && Number.isInteger(f.limit) && Number.isInteger(f.used)).toBe(true);
        // Why not: the cloud does not report it here (unknown), or it could not be read now (unreadable).
        else expect(before.unknown?.[key] ?? before.unreadable?.[key]?.reason, `why there is no ${key} figure`).toMatch(/\S/);
      }
      const name = uniqueName('quota');
      await cloud.ensureStaticAddress({ mode: 'new', deployment: name, labels: labelsFor(env(), name, 'address') });
      await launch(env(), name);
      const after = await cloud.quotas!(machineType);
      if (before.staticAddresses) expect(after.staticAddresses?.used).toBe(before.staticAddresses.used + 1);
      if (before.vcpus) expect(after.vcpus!.used).toBeGreaterThan(before.vcpus.used);
    });
  });
}
