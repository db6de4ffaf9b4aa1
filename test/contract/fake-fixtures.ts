// Small scenes on the fake cloud for its own tests (SPEC.md's promises beyond the port's contract).
import { createFakeCloud, type FakeCloud, type FakeCloudOptions } from '../../src/cloud/fake/index.js';
import type { DataDiskSpec, InstanceSpec, Placement } from '../../src/cloud/port.js';
import type { Labels } from '../../src/core/labels.js';

export const PUBLISHED = { id: 'img-published', name: 'Sourcegraph v6.12.5040', version: '6.12.5040', kind: 'published' as const };
export const ZONE_A = 'fake-region-1a';
export const ZONE_B = 'fake-region-1b';

export function fakeCloud(opts: FakeCloudOptions = {}): FakeCloud {
  return createFakeCloud({ images: [PUBLISHED], ...opts });
}

export interface Scene {
  fake: FakeCloud;
  placement: Placement;
  policyId: string;
  spec(o?: { key?: string; data?: DataDiskSpec; deployment?: string; labels?: Labels; keep?: boolean; machineType?: string }): InstanceSpec;
}

/** A fake with an access policy in `zone`, and a spec builder for instances of deployment "prod". */
export async function scene(opts: FakeCloudOptions = {}, zone = ZONE_A): Promise<Scene> {
  const fake = fakeCloud(opts);
  const placement = await fake.resolvePlacement(undefined, [zone]);
  const policy = await fake.ensureAccessPolicy({
    deployment: 'prod',
    labels: { deployment: 'prod', role: 'access-policy', managed: 'true' },
    name: 'sourcegraph-launch-prod',
    placement,
    rules: [{ port: 443, cidr: '203.0.113.0/24' }],
  });
  return {
    fake,
    placement,
    policyId: policy.id,
    spec: (o = {}) => {
      const deployment = o.deployment ?? 'prod';
      return {
        deployment,
        role: 'instance',
        version: '6.12.5040',
        imageId: PUBLISHED.id,
        machineType: o.machineType ?? 'standard-8',
        placement,
        accessPolicyIds: [policy.id],
        sshKey: { mode: 'none' },
        loginUser: 'sourcegraph',
        rootDisk: { sizeGiB: 50, type: 'ssd' },
        dataDisk: o.data ?? { mode: 'new', disk: { sizeGiB: 500, type: 'ssd' } },
        keepDataDisk: o.keep ?? true,
        labels: o.labels ?? { deployment, role: 'instance', version: '6.12.5040', managed: 'true' },
        idempotencyKey: o.key ?? `${deployment}-launch-1`,
      };
    },
  };
}

/** The error a promise rejects with (a test fails if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<{ code?: string; exitCode?: number; name?: string; message: string }> {
  try {
    await promise;
  } catch (e) {
    return e as { code?: string; exitCode?: number; message: string };
  }
  throw new Error('expected a rejection, but it resolved');
}
