// The Cloud port's contract: one suite that every adapter runs, the fake in memory and each real
// adapter against its emulator (AWS on moto; GCE and Azure on theirs). It holds only the port's
// promises; what an adapter's environment is (ids, machine types, how errors are provoked) comes
// from its set-up, and what an emulator cannot do is declared there, never skipped quietly.
//
//   describeCloudContract('aws on moto', { capabilities, keepsSshKeys, zonalSubnets, cannotInject, setup });
import { afterEach, beforeEach, describe } from 'vitest';
import { buildContract } from './contract-build.js';
import type { CloudContractOptions, ContractEnvironment } from './contract-env.js';
import { instancesContract } from './contract-instances.js';
import { launchContract } from './contract-launch.js';
import { storageContract } from './contract-storage.js';
import { resizeContract } from './contract-resize.js';
import { clusterContract } from './contract-cluster.js';
import { worldPortContract } from './contract-world-port.js';
import { dnsContract } from './contract-dns.js';
import { runCommandContract } from './contract-run-command.js';
import { managedHttpsContract } from './contract-managed-https.js';
import { gatewayContract } from './contract-gateway.js';

export type { CloudContractOptions, CloudMethod, ContractEnvironment, ContractErrorKind, ContractFeature } from './contract-env.js';
export { CONTRACT_ERRORS } from './contract-env.js';

export function describeCloudContract(name: string, opts: CloudContractOptions): void {
  describe(`Cloud contract: ${name}`, () => {
    let current: ContractEnvironment | undefined;
    const env = (): ContractEnvironment => {
      if (!current) throw new Error('the contract set-up did not run');
      return current;
    };
    beforeEach(async () => {
      current = await opts.setup();
    });
    afterEach(async () => {
      await current?.teardown?.();
      current = undefined;
    });

    launchContract(opts, env);
    instancesContract(opts, env);
    storageContract(opts, env);
    buildContract(opts, env);
    resizeContract(opts, env);
    clusterContract(opts, env);
    worldPortContract(opts, env);
    dnsContract(opts, env);
    runCommandContract(opts, env);
    managedHttpsContract(opts, env);
    gatewayContract(opts, env);
  });
}
