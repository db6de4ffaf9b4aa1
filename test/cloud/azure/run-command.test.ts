// The Azure adapter's Run Command on the ARM emulator: bounded by the channel's time when the agent
// never reports (exit 4, the operation left to Azure), and doctor's readiness read off the VM agent's
// status in the instance view (Ready while running; not reporting once deallocated).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureAdapter } from '../../../src/cloud/azure/adapter.js';
import { ExitCode, LaunchError } from '../../../src/core/errors.js';
import { ArmClient } from '../../support/arm-emulator/client.js';
import { bodies, createNetwork, providers, sshRsaPublicKey, tagsFor } from '../../support/arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator } from '../../support/arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let release: (() => void) | undefined;

beforeAll(async () => {
  // The stand-in's agent never answers until the test releases it.
  arm = await startArmEmulator({
    runCommand: () =>
      new Promise((resolve) => {
        release = () => resolve({ stdout: 'late\n', stderr: '', exitCode: 0 });
      }),
  });
  client = new ArmClient(arm);
});
afterAll(async () => {
  release?.();
  await arm.stop();
});

describe('Azure Run Command through the adapter', () => {
  it('a command the agent never reports on ends at the channel\'s time with run-command-timeout (exit 4); doctor reads the agent\'s status', async () => {
    await client.call('PUT', client.path('rc'), bodies.group());
    const p = providers(client, 'rc');
    const net = await createNetwork(client, 'rc', 'vm', tagsFor('vm', 'instance'));
    const vm = (await client.put(p.vm('vm'), bodies.vm({ nicId: net.nicId, sshKey: sshRsaPublicKey(), tags: tagsFor('vm', 'instance') }))).body as { id: string };
    const cloud = new AzureAdapter({ provider: 'azure', region: 'eastus', params: { subscription: arm.subscriptionId, resourceGroup: 'rc' } }, {
      credential: { description: 'test', getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) },
      endpoint: arm.endpoint,
      pollIntervalMs: 5,
    });

    const ready = await cloud.runCommandReady(vm.id);
    expect(ready).toMatchObject({ ready: true, detail: expect.stringContaining('the VM agent of vm is Ready (2.11.1.12)') });

    const started = Date.now();
    const e = await cloud.runCommand(vm.id, 'echo hi', 300).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LaunchError);
    expect(e).toMatchObject({ code: 'run-command-timeout', exitCode: ExitCode.timedOut });
    expect((e as Error).message).toBe('Azure Run Command on vm did not report within 1 s');
    expect(Date.now() - started).toBeLessThan(5_000);
    release!();

    await client.act('POST', `${vm.id}/deallocate`).catch(() => undefined);
    // The run command may still hold the VM for a poll or two: deallocate once it is free.
    for (let i = 0; i < 50 && !(await client.call('GET', vm.id, undefined, { query: { $expand: 'instanceView' } })).body.properties.instanceView.statuses.some((s: { code: string }) => s.code === 'PowerState/deallocated'); i++) {
      await client.call('POST', `${vm.id}/deallocate`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stopped = await cloud.runCommandReady(vm.id);
    expect(stopped).toMatchObject({ ready: false, detail: 'the VM agent of vm is not reporting: Azure Run Command cannot run until it is Ready' });
  });
});
