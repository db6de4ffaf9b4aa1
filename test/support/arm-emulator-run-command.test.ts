// The ARM emulator's VirtualMachines_RunCommand over real HTTP: the request validated against the
// swagger subset, the script really run by the host the test gives (here: bash in this test's own
// namespace, on harmless scripts), the long-running operation held InProgress until the script
// ended, the result in the published shape with each stream cut to its last 4,096 bytes, one
// command at a time, and the agent's failures.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmClient, type ArmResponse } from './arm-emulator/client.js';
import { bodies, createNetwork, providers, sshRsaPublicKey, tagsFor } from './arm-emulator/fixtures.js';
import { startArmEmulator, type ArmEmulator, type RunCommandHost } from './arm-emulator/index.js';

let arm: ArmEmulator;
let client: ArmClient;
let p: ReturnType<typeof providers>;
const sshKey = sshRsaPublicKey();
const ran: { vm: string; publicIps: string[]; script: string }[] = [];
let hold: Promise<void> | undefined;
let hostFails: string | undefined;

const host: RunCommandHost = async (vm, script) => {
  ran.push({ vm: vm.name, publicIps: vm.publicIps, script });
  if (hold) await hold;
  if (hostFails) throw new Error(hostFails);
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], (error, stdout, stderr) => resolve({ stdout, stderr, exitCode: typeof error?.code === 'number' ? error.code : 0 }));
  });
};

beforeAll(async () => {
  arm = await startArmEmulator({ runCommand: host, config: { retryAfterSeconds: 0 } });
  client = new ArmClient(arm);
  p = providers(client, 'dep');
});
afterAll(async () => {
  await arm.stop();
});
beforeEach(async () => {
  await arm.reset();
  ran.length = 0;
  hold = undefined;
  hostFails = undefined;
  await client.call('PUT', client.path('dep'), bodies.group());
});

async function deploy(name = 'sg') {
  const tags = tagsFor(name, 'instance');
  arm.control.nextPublicIps('10.200.153.77');
  const net = await createNetwork(client, 'dep', name, tags);
  return (await client.put(p.vm(name), bodies.vm({ nicId: net.nicId, sshKey, tags }))).body as { id: string };
}

/** Polls the operation's Location URL (final state via location) until it stops answering 202. */
async function finish(started: ArmResponse): Promise<ArmResponse> {
  const location = started.headers.get('location');
  expect(location).toBeTruthy();
  for (let i = 0; i < 400; i++) {
    const r = await client.call('GET', location!);
    if (r.status !== 202) return r;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the run command did not end');
}

describe('VirtualMachines_RunCommand', () => {
  it('runs the script on the VM\'s stand-in and answers StdOut and StdErr statuses once it ended', async () => {
    const vm = await deploy();
    const started = await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['echo "hello from $0"', 'echo warn >&2', 'exit 3'] });
    expect(started.status).toBe(202);
    expect(started.headers.get('azure-asyncoperation')).toBeTruthy();
    const done = await finish(started);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      value: [
        { code: 'ComponentStatus/StdOut/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', message: 'hello from bash\n' },
        { code: 'ComponentStatus/StdErr/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', message: 'warn\n' },
      ],
    });
    expect(ran).toEqual([{ vm: 'sg', publicIps: ['10.200.153.77'], script: 'echo "hello from $0"\necho warn >&2\nexit 3' }]);
  });

  it('cuts each stream to its last 4,096 bytes', async () => {
    const vm = await deploy();
    const done = await finish(await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['for i in $(seq 1 2000); do echo "line $i"; done'] }));
    const out = done.body.value[0].message as string;
    expect(Buffer.byteLength(out)).toBe(4096);
    expect(out.endsWith('line 2000\n')).toBe(true);
  });

  it('runs one command at a time: another action meanwhile is refused with 409', async () => {
    const vm = await deploy();
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const first = await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['echo one'] });
    expect(first.status).toBe(202);
    // Still running: the operation answers InProgress however often it is polled.
    for (let i = 0; i < 5; i++) expect((await client.call('GET', first.headers.get('location')!)).status).toBe(202);
    const second = await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['echo two'] });
    expect(second.status).toBe(409);
    release();
    expect((await finish(first)).body.value[0].message).toBe('one\n');
    expect(ran.map((r) => r.script)).toEqual(['echo one']);
  });

  it('refuses another command id, a stopped VM, and fails the operation when the agent cannot run the script', async () => {
    const vm = await deploy();
    const ps = await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunPowerShellScript', script: ['Write-Host hi'] });
    expect(ps.status).toBe(400);
    const noBody = await client.call('POST', `${vm.id}/runCommand`, { script: ['true'] });
    expect(noBody.status).toBe(400);

    hostFails = 'the guest agent is not ready';
    const failed = await finish(await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['true'] }));
    expect(failed.status).toBe(409);
    expect(failed.body.error).toMatchObject({ code: 'VMAgentStatusCommunicationError', message: expect.stringContaining('the guest agent is not ready') });

    hostFails = undefined;
    await client.act('POST', `${vm.id}/deallocate`);
    const stopped = await client.call('POST', `${vm.id}/runCommand`, { commandId: 'RunShellScript', script: ['true'] });
    expect(stopped.status).toBe(409);
    expect(stopped.body.error.code).toBe('OperationNotAllowed');
    expect(ran).toHaveLength(1);
  });
});
