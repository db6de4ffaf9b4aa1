// VirtualMachines_RunCommand (Azure Run Command, "action" flavour): the VM's agent runs a
// RunShellScript as root. The emulator really runs the script on the VM's stand-in, through the
// `runCommand` host a test gives startArmEmulator (for a test host: as root inside its namespace),
// with the VM's public IPs to find it by. The operation is long-running (202 + Azure-AsyncOperation
// and Location, final state via Location) and stays InProgress until the script has ended, one
// command at a time per VM (another action meanwhile is a 409). The result is upstream's example
// shape (examples/runCommandExamples/VirtualMachineRunCommand.json): `value` holds a
// ComponentStatus/StdOut/succeeded and a ComponentStatus/StdErr/succeeded status whose `message` is
// the stream, each cut to its last 4,096 bytes as Azure documents. A script the agent could not run
// at all (the host threw) ends the operation Failed (VMAgentStatusCommunicationError).
import { ArmError, invalidParameter, operationNotAllowed } from '../errors.js';
import type { Reply } from '../lro.js';
import { beginAction, findOrThrow } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import { vmInternal } from './compute-vm-disks.js';
import { vmKind } from './compute-vm.js';
import { sameId } from './network-common.js';

export interface RunCommandHostResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `script` as root on the VM's stand-in. */
export type RunCommandHost = (vm: { resourceGroup: string; name: string; publicIps: string[] }, script: string) => Promise<RunCommandHostResult>;

export const OUTPUT_LIMIT_BYTES = 4096;

function lastBytes(text: string, n: number): string {
  const b = Buffer.from(text);
  return b.length <= n ? text : b.subarray(b.length - n).toString('utf8');
}

function publicIpsOf(ctx: RequestContext, vm: StoredResource): string[] {
  const nics = ((vm.properties.networkProfile as { networkInterfaces?: { id: string }[] } | undefined)?.networkInterfaces ?? []).map((n) => n.id);
  const ips: string[] = [];
  for (const nic of ctx.core.state.ofType('Microsoft.Network/networkInterfaces').filter((r) => nics.some((id) => sameId(id, r.id)))) {
    for (const config of (nic.properties.ipConfigurations as { properties?: { publicIPAddress?: { id?: string } } }[] | undefined) ?? []) {
      const pipId = config.properties?.publicIPAddress?.id;
      const pip = pipId ? ctx.core.state.ofType('Microsoft.Network/publicIPAddresses').find((p) => sameId(p.id, pipId)) : undefined;
      const address = (pip?.internal as { ipAddress?: string } | undefined)?.ipAddress;
      if (address) ips.push(address);
    }
  }
  return ips;
}

function runCommand(ctx: RequestContext, host: RunCommandHost | undefined): Reply {
  const vm = findOrThrow(ctx, vmKind, ctx.params.resourceGroupName!, ctx.params.vmName!);
  const body = (ctx.body ?? {}) as { commandId?: string; script?: string[] };
  if (body.commandId !== 'RunShellScript') throw invalidParameter(`This emulator runs only RunShellScript on Linux VMs, not "${String(body.commandId)}".`, 'parameters.commandId');
  if (vmInternal(vm).powerState !== 'running') {
    throw operationNotAllowed(`Cannot run a command on VM '${vm.name}' since the VM is ${vmInternal(vm).powerState}.`);
  }
  if (!host) throw new ArmError(409, 'VMAgentStatusCommunicationError', `VM '${vm.name}' has not reported status for VM agent or extensions (the emulator was started without a runCommand host).`);
  const script = (body.script ?? []).join('\n');
  let outcome: { result: RunCommandHostResult } | { error: string } | undefined;
  const reply = beginAction(ctx, vmKind, vm, {
    onSuccess: () => {
      if (!outcome) throw new ArmError(500, 'InternalExecutionError', 'The run command ended before the script did (the control API completed it).');
      if ('error' in outcome) throw new ArmError(409, 'VMAgentStatusCommunicationError', `The VM agent could not run the script: ${outcome.error}`);
      const status = (stream: 'StdOut' | 'StdErr', message: string) => ({ code: `ComponentStatus/${stream}/succeeded`, level: 'Info', displayStatus: 'Provisioning succeeded', message: lastBytes(message, OUTPUT_LIMIT_BYTES) });
      return { status: 200, body: { value: [status('StdOut', outcome.result.stdout), status('StdErr', outcome.result.stderr)] } };
    },
  });
  const op = ctx.core.state.operations.get(vm.pendingOperation!)!;
  // An injected fault fails the operation at its end: the agent never runs the script.
  if (op.injectedFailure) return reply;
  // InProgress until the script has ended: then the next poll finishes the operation.
  op.pollsLeft = Number.MAX_SAFE_INTEGER;
  host({ resourceGroup: vm.resourceGroup, name: vm.name, publicIps: publicIpsOf(ctx, vm) }, script).then(
    (result) => {
      outcome = { result };
      op.pollsLeft = 0;
    },
    (e: unknown) => {
      outcome = { error: (e as Error).message };
      op.pollsLeft = 0;
    },
  );
  return reply;
}

export function registerRunCommand(router: Router, host: () => RunCommandHost | undefined): void {
  router.operation('VirtualMachines_RunCommand', (ctx) => runCommand(ctx, host()));
}
