// A dry run of an Azure launch that builds its image first names the data snapshot build-image will
// make (the gallery image version holds only the OS disk; the prepared data disk is a snapshot beside
// it), as GCE's does, instead of showing a blank data disk; and it creates nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import type { Cloud } from '../../../src/cloud/port.js';
import { runLaunch } from '../../../src/commands/launch.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';
import { makeDeps, ScriptedIo, tempHome } from '../../support/deps.js';

let arm: ArmEmulator;
beforeAll(async () => {
  arm = await startArmEmulator();
});
afterAll(async () => {
  await arm?.stop();
});

const credential = { getToken: async () => ({ token: 'dry-run-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

// ARM bodies are open-ended JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Requests = { requests: { operation: string; input: { id: string; body?: Record<string, any> } }[] };

describe('azure launch --image-source build --dry-run with no image built yet', () => {
  it('the data disk is made from the data snapshot build-image will make', async () => {
    const io = new ScriptedIo([], false);
    const deps = { ...makeDeps({ endpoint: 'http://127.0.0.1:9', io, home: tempHome() }), connect: async (_p: unknown, scope: never): Promise<Cloud> => new AzureAdapter(scope, { credential, endpoint: arm.endpoint, pollIntervalMs: 1 }) };
    const providerFlags = { subscription: arm.subscriptionId, resourceGroup: 'sl-dry-build' };
    const flags = { cloud: 'azure', region: 'eastus', size: 'XS', version: '6.13.100', imageSource: 'build', allowCidr: ['198.51.100.0/24'], sshCidr: ['198.51.100.7/32'], yes: true, dryRun: true, name: 'drybuild', providerFlags };
    const out = (await runLaunch(deps, flags)) as unknown as Requests;
    const disk = out.requests.find((r) => r.operation === 'disks.createOrUpdate')!;
    expect(disk.input.body!.properties.creationData).toEqual({ createOption: 'Copy', sourceResourceId: '<data snapshot from build-image>' });
    const vm = out.requests.find((r) => r.operation === 'virtualMachines.createOrUpdate')!;
    expect(JSON.stringify(vm.input.body!.properties.storageProfile.imageReference)).toContain('<ImageId from build-image>');
    expect(io.text()).toContain('build-image runs first');
    expect(arm.control.state().resources).toEqual([]);
  });
});
