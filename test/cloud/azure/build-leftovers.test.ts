// A build-image run killed between its builder's first PUTs (public IP, NIC, data disk) and the VM
// create leaves them behind with no VM. The Azure adapter's findImageBuild reports each as a builder
// without a VM, and the build's own cleanup (cleanUpBuild, what the next build-image run calls)
// removes those of its run only: never another run's, a live builder's, a deployment's NIC or the
// user's public IP. The crash is real: the adapter's requests go to the ARM emulator until the VM
// PUT, which never answers (the process died there), so the adapter's own undo never runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { azureProvider } from '../../../src/cloud/azure/provider.js';
import type { InstanceSpec, Placement } from '../../../src/cloud/port.js';
import { cleanUpBuild } from '../../../src/workflows/build-image.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';
import { ScriptedIo } from '../../support/deps.js';

const GROUP = 'sl-leftovers';
const BUILD = '6.13.100-xs';
const LOCATION = 'eastus';
const credential = { getToken: async () => ({ token: 'leftovers-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const scope = () => ({ provider: 'azure' as const, region: LOCATION, params: { subscription: arm.subscriptionId, resourceGroup: GROUP } });

let arm: ArmEmulator;
let client: ArmClient;
beforeAll(async () => {
  arm = await startArmEmulator();
  client = new ArmClient(arm);
});
afterAll(async () => {
  await arm?.stop();
});

const adapter = () => new AzureAdapter(scope(), { credential, endpoint: arm.endpoint, pollIntervalMs: 1 });

/** Runs ensureInstance until its VM PUT, where the process "dies": that request never answers. */
async function crashBeforeVm(spec: InstanceSpec): Promise<void> {
  let died!: () => void;
  const reached = new Promise<void>((resolve) => (died = resolve));
  const dying: typeof fetch = (input, init) => {
    if (init?.method === 'PUT' && /\/virtualMachines\/[^/?]+\?/i.test(String(input))) {
      died();
      return new Promise<Response>(() => undefined);
    }
    return fetch(input, init);
  };
  const cloud = new AzureAdapter(scope(), { credential, endpoint: arm.endpoint, pollIntervalMs: 1, fetch: dying });
  void cloud.ensureInstance(spec).catch(() => undefined);
  await reached;
}

function builderSpec(base: string, placement: Placement, runId: string): InstanceSpec {
  const labels = { build: BUILD, 'build-run': runId, role: 'builder', version: '6.13.100', size: 'XS', managed: 'true' };
  return {
    deployment: BUILD,
    role: 'builder',
    version: '6.13.100',
    size: 'XS',
    imageId: base,
    machineType: 'Standard_D8as_v5',
    placement,
    accessPolicyIds: [],
    sshKey: { mode: 'import', name: `sourcegraph-launch-build-${BUILD}-${runId}`, publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuildLeftoversTestKeyOnlyNotARealKey0000 test' },
    loginUser: 'sourcegraph',
    rootDisk: azureProvider.rootDisk,
    dataDisk: { mode: 'new', disk: azureProvider.builderDataDisk },
    keepDataDisk: false,
    labels,
    idempotencyKey: `sgl-build-${BUILD}-${runId}`,
  };
}

type Res = { id: string; type: string; tags?: Record<string, string> };
const resources = (): Res[] => arm.control.state().resources as Res[];
/** The NIC, public IP and disks a run left, by id (lower case, as ARM compares them). */
const leftoversOf = (runId: string) =>
  resources()
    .filter((r) => r.tags?.['sourcegraph-launch:build-run'] === runId && /\/(networkInterfaces|publicIPAddresses|disks)\//i.test(r.id))
    .map((r) => r.id.toLowerCase())
    .sort();
const exists = (id: string) => resources().some((r) => r.id.toLowerCase() === id.toLowerCase());

describe('Azure build-image leftovers of a run killed before its builder VM', () => {
  it('findImageBuild reports them, the run\'s cleanup removes them, and nothing else is touched', async () => {
    const cloud = adapter();
    const base = (await cloud.findBaseImage())!.id;
    const placement = await cloud.resolvePlacement(undefined);

    // run-1 and run-2 crashed between the NIC/disk PUTs and the VM; run-3's builder lives.
    await crashBeforeVm(builderSpec(base, placement, 'run-1'));
    await crashBeforeVm(builderSpec(base, placement, 'run-2'));
    const live = await cloud.ensureInstance(builderSpec(base, placement, 'run-3'));
    // A deployment's launch crashed at the same moment (its NIC and data disk, no VM), and the user's own public IP.
    await crashBeforeVm({
      ...builderSpec(base, placement, 'unused'),
      deployment: 'keep',
      role: 'instance',
      labels: { version: '6.13.100', size: 'XS', role: 'instance', managed: 'true' },
      keepDataDisk: true,
      idempotencyKey: 'keep-instance-1',
    });
    const userIp = (await client.put(client.path(GROUP, '/providers/Microsoft.Network/publicIPAddresses/users-ip'), { location: LOCATION, sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static' } })).body.id as string;
    const deploymentNic = resources().find((r) => r.tags?.['sourcegraph-launch:deployment'] === 'keep' && /networkInterfaces/i.test(r.type))!.id;

    const run1 = leftoversOf('run-1');
    expect(run1.map((id) => id.split('/').slice(-2, -1)[0])).toEqual(['disks', 'networkinterfaces', 'publicipaddresses']);
    const run2 = leftoversOf('run-2');
    expect(run2).toHaveLength(3);
    expect(resources().filter((r) => /virtualMachines/i.test(r.type)).map((r) => r.id)).toEqual([live.id]);

    const found = await cloud.findImageBuild(BUILD);
    // The live builder is its VM only (its NIC, IP and disk are in use); each leftover is reported once.
    expect(found.builders.map((b) => b.id.toLowerCase()).sort()).toEqual([live.id.toLowerCase(), ...run1, ...run2].sort());
    const reported = found.builders.filter((b) => b.id !== live.id);
    expect(reported.every((b) => b.state === 'terminated' && b.labels.build === BUILD)).toBe(true);
    // The NIC comes before the public IP it holds (the IP cannot be deleted while it is on the NIC).
    const order = reported.filter((b) => b.labels['build-run'] === 'run-1').map((b) => b.id.split('/').slice(-2, -1)[0]);
    expect(order.indexOf('networkInterfaces')).toBeLessThan(order.indexOf('publicIPAddresses'));

    const io = new ScriptedIo([], false);
    const removed = await cleanUpBuild({ io }, cloud, azureProvider.terms, BUILD, 'run-1', { keepImages: false });
    expect(removed.map((r) => r.split(' ')[1]!.toLowerCase()).sort()).toEqual(run1);
    expect(leftoversOf('run-1')).toEqual([]);
    // Another run's leftovers are that run's to clean; the live builder, the deployment and the user's IP stay.
    expect(leftoversOf('run-2')).toEqual(run2);
    expect(exists(live.id)).toBe(true);
    for (const diskId of live.disks.map((d) => d.diskId)) expect(exists(diskId)).toBe(true);
    expect(exists(deploymentNic)).toBe(true);
    expect(exists(userIp)).toBe(true);

    // terminateInstance deletes only a builder's leftover: given a deployment's NIC or the user's IP, it leaves them.
    await cloud.terminateInstance(deploymentNic);
    await cloud.terminateInstance(userIp);
    expect(exists(deploymentNic) && exists(userIp)).toBe(true);

    await cleanUpBuild({ io }, cloud, azureProvider.terms, BUILD, 'run-2', { keepImages: false });
    expect(leftoversOf('run-2')).toEqual([]);
    expect((await cloud.findImageBuild(BUILD)).builders.map((b) => b.id)).toEqual([live.id]);
  });
});
