// The contract, part 4: an image build end to end, the dry-run request builders, missing things,
// and the typed errors every adapter maps its cloud's failures to.
import { describe, expect, it } from 'vitest';
import type { CloudRequest, ImageFromBuilderSpec, Placement } from '../../src/cloud/port.js';
import {
  accessSpec,
  CIDR_A,
  CONTRACT_ERRORS,
  diskOf,
  instanceSpec,
  labelsFor,
  rejection,
  testPublicKey,
  uniqueName,
  WAIT,
  type CloudContractOptions,
  type ContractEnvironment,
  type ContractErrorKind,
} from './contract-env.js';

export function buildContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  const schedules = opts.capabilities.snapshotSchedules && opts.cannotEmulate?.['snapshot-schedules'] === undefined;

  describe('image builds', () => {
    it('builder → stop → createImageFromBuilder → waitForImage → findImageBuild → launch from it → deleteImage', async () => {
      const { cloud, zones } = env();
      const build = uniqueName('build');
      const runId = `${build}-run-1`;
      const version = '0.0.2';
      const buildLabels = { build, 'build-run': runId, version, size: 'XS', managed: 'true' };
      const placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const keySpec = { mode: 'import' as const, name: `sourcegraph-launch-build-${runId}`, publicKey: testPublicKey() };
      const key = await cloud.ensureSshKey(keySpec, build, { ...buildLabels, role: 'ssh-key' });
      const policy = await cloud.ensureAccessPolicy({
        ...accessSpec(build, placement, [{ port: 22, cidr: CIDR_A }], { ...buildLabels, role: 'access-policy' }),
        name: `sourcegraph-launch-build-${runId}`,
      });
      const builderSpec = instanceSpec(env(), build, {
        placement,
        accessPolicyIds: [policy.id],
        role: 'builder',
        labels: { ...buildLabels, role: 'builder' },
        keepDataDisk: false,
        sshKey: keySpec,
        idempotencyKey: `${runId}-builder`,
      });
      const builder = await cloud.ensureInstance(builderSpec);
      await cloud.waitForInstanceState(builder.id, 'running', WAIT.instance);
      await cloud.stopInstance(builder.id);
      await cloud.waitForInstanceState(builder.id, 'stopped', WAIT.instance);

      const imageSpec: ImageFromBuilderSpec = { buildName: build, runId, name: `sourcegraph-${build}`, description: `${build} test image`, labels: { ...buildLabels, role: 'image' } };
      const image = await cloud.createImageFromBuilder(builder.id, imageSpec);
      expect((await cloud.createImageFromBuilder(builder.id, imageSpec)).id).toBe(image.id);
      const ready = await cloud.waitForImage(image.id, imageSpec, WAIT.image);
      expect(ready).toMatchObject({ id: image.id, source: 'built', version });

      const found = await cloud.findImageBuild(build);
      expect(found.builders.map((b) => b.id)).toEqual([builder.id]);
      expect(found.images.map((i) => i.id)).toEqual([image.id]);
      expect(found.accessPolicies.map((p) => p.id)).toEqual([policy.id]);
      expect(found.sshKeys.map((k) => k.name)).toEqual(key ? [key.name] : []);
      expect((await cloud.listBuiltImages()).map((i) => i.id)).toContain(image.id);
      expect((await cloud.findImage({ version }))?.id).toBe(image.id);

      // What was built launches: its root image, and its data template where the cloud keeps one apart.
      const name = uniqueName('from-build');
      const spec = instanceSpec(env(), name, { placement, accessPolicyIds: [policy.id], idempotencyKey: `${name}-1` });
      const launched = await cloud.ensureInstance({ ...spec, imageId: image.id, ...(ready.dataTemplateId ? { dataTemplateId: ready.dataTemplateId } : {}) });
      await cloud.waitForInstanceState(launched.id, 'running', WAIT.instance);
      expect(((await cloud.describeInstance(launched.id))?.disks ?? []).map((d) => d.role).sort()).toEqual(['data', 'root']);

      const builderDisks = builder.disks.map((d) => d.diskId);
      await cloud.terminateInstance(builder.id);
      await cloud.waitForInstanceState(builder.id, 'terminated', WAIT.instance);
      for (const id of builderDisks) {
        const disk = await cloud.describeDisk(id);
        expect(disk === undefined || ['deleting', 'deleted'].includes(disk.state), `builder disk ${id} is gone`).toBe(true);
      }
      await cloud.terminateInstance(launched.id);
      await cloud.waitForInstanceState(launched.id, 'terminated', WAIT.instance);

      expect(Array.isArray(await cloud.deleteImage(image.id))).toBe(true);
      const after = await cloud.describeImage(image.id);
      expect(after === undefined || after.state !== 'available').toBe(true);
      expect((await cloud.listBuiltImages()).map((i) => i.id)).not.toContain(image.id);
      await cloud.deleteImage(image.id);
      expect((await cloud.findImageBuild(build)).builders).toEqual([]);
    });
  });

  describe('dry runs', () => {
    const observe = async (name: string) => {
      const { cloud } = env();
      return {
        deployments: (await cloud.listDeployments()).map((d) => d.name),
        deployment: await cloud.findDeployment(name),
        built: (await cloud.listBuiltImages()).map((i) => i.id),
        build: await cloud.findImageBuild(name),
        snapshots: await cloud.listSnapshots(name),
      };
    };
    const wellFormed = (requests: CloudRequest[]) => {
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) {
        expect(r.service).toMatch(/\S/);
        expect(r.operation).toMatch(/\S/);
        expect(typeof r.input === 'object' && r.input !== null && !Array.isArray(r.input)).toBe(true);
      }
      // What --dry-run --json prints: it must survive JSON as it is.
      expect(JSON.parse(JSON.stringify(requests))).toEqual(requests);
    };

    it('the request builders answer requests with service, operation and input, and change nothing', async () => {
      const { cloud, zones } = env();
      const name = uniqueName('dry');
      const placement: Placement = await cloud.resolvePlacement(undefined, [zones[0]]);
      const before = await observe(name);
      const sshKey = { mode: 'import' as const, name: `sourcegraph-launch-${name}`, publicKey: testPublicKey() };
      const access = accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }]);
      const instance = instanceSpec(env(), name, { placement, accessPolicyIds: ['<access policy>'], sshKey });
      wellFormed(cloud.launchRequests({ sshKey, access, instance, address: { mode: 'new', deployment: name, labels: labelsFor(env(), name, 'address') } }));
      wellFormed(cloud.instanceRequests(instance));
      wellFormed(cloud.instanceRequests({ ...instance, dataDisk: { mode: 'none' } }));
      const builder = instanceSpec(env(), name, { placement, accessPolicyIds: ['<access policy>'], role: 'builder', keepDataDisk: false, sshKey });
      const image = { buildName: name, runId: `${name}-run`, name: `sourcegraph-${name}`, description: 'dry run', labels: { build: name, role: 'image' } };
      wellFormed(cloud.buildRequests({ sshKey, access, builder, image }));
      if (opts.capabilities.snapshotSchedules) {
        wellFormed(cloud.scheduleRequests({ deployment: name, schedule: 'daily', retain: 7, params: env().scheduleParams }));
      }
      expect(await observe(name)).toEqual(before);
    });
  });

  describe('missing things', () => {
    it('reads of things that do not exist answer undefined (or nothing)', async () => {
      const { cloud, missing } = env();
      expect(await cloud.describeInstance(missing.instanceId)).toBeUndefined();
      expect(await cloud.describeDisk(missing.diskId)).toBeUndefined();
      expect(await cloud.describeSnapshot(missing.snapshotId)).toBeUndefined();
      expect(await cloud.describeImage(missing.imageId)).toBeUndefined();
      expect(await cloud.consoleOutput(missing.instanceId)).toBe('');
      expect(await cloud.listSnapshots(uniqueName('never'))).toEqual([]);
      expect(await cloud.findImageBuild(uniqueName('never'))).toEqual({ builders: [], accessPolicies: [], sshKeys: [], images: [] });
      if (schedules) expect(await cloud.findSnapshotSchedule(uniqueName('never'))).toBeUndefined();
    });

    it('deletes of things that do not exist succeed', async () => {
      const { cloud, missing } = env();
      await cloud.terminateInstance(missing.instanceId);
      await cloud.deleteDisk(missing.diskId);
      await cloud.deleteSnapshot(missing.snapshotId);
      await cloud.deleteAccessPolicy(missing.accessPolicyId);
      await cloud.deleteSshKey(missing.sshKeyName);
      await cloud.detachStaticAddress(missing.addressId);
      await cloud.releaseStaticAddress(missing.addressId);
      expect(await cloud.deleteImage(missing.imageId)).toEqual([]);
      if (schedules) await cloud.deleteSnapshotSchedule(missing.scheduleId);
    });
  });

  describe('errors', () => {
    const kinds = Object.keys(CONTRACT_ERRORS) as ContractErrorKind[];

    it('every error kind is injectable here, or declared as not (with the reason)', () => {
      for (const kind of kinds) {
        const reason = opts.cannotInject?.[kind];
        if (reason !== undefined) expect(reason.trim(), kind).not.toBe('');
        else expect(typeof env().injectError, `${kind} is neither injectable nor declared`).toBe('function');
      }
    });

    for (const kind of kinds) {
      const reason = opts.cannotInject?.[kind];
      if (reason !== undefined) {
        it(`${kind}: not produced by this emulator, as the set-up declares (${reason})`, () => {
          expect(reason.trim()).not.toBe('');
        });
        continue;
      }
      it(`${kind}: a typed error with its code, exit code and remediation; nothing half-made; a retry succeeds`, async () => {
        const e = env();
        const { method, exitCode } = CONTRACT_ERRORS[kind];
        const name = uniqueName('err');
        const placement = await e.cloud.resolvePlacement(undefined, [e.zones[0]]);
        const policy = await e.cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }]));
        const spec = instanceSpec(e, name, { placement, accessPolicyIds: [policy.id] });
        const addressSpec = { mode: 'new' as const, deployment: name, labels: labelsFor(e, name, 'address') };
        const call = (): Promise<unknown> =>
          method === 'ensureInstance'
            ? e.cloud.ensureInstance(spec)
            : method === 'ensureStaticAddress'
              ? e.cloud.ensureStaticAddress(addressSpec)
              : method === 'listDeployments'
                ? e.cloud.listDeployments()
                : e.cloud.whoAmI();
        await e.injectError!(method, kind);
        const err = await rejection(call());
        expect(err.code).toBe(kind);
        expect(err.exitCode).toBe(exitCode);
        expect(err.remediation ?? '').toMatch(/\S/);
        await e.clearErrors?.();
        const found = await e.cloud.findDeployment(name);
        expect([found.instance, ...found.otherInstances].filter(Boolean)).toEqual([]);
        expect(found.addresses).toEqual([]);
        await call();
        if (method === 'ensureInstance') {
          const made = await e.cloud.findDeployment(name);
          expect(made.instance?.idempotencyKey ?? spec.idempotencyKey).toBe(spec.idempotencyKey);
          expect(diskOf(made.instance!, 'root')).toBeDefined();
        }
      });
    }
  });
}
