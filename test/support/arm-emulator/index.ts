// A local emulator of the Azure Resource Manager REST API, for tests: the resource groups,
// network, compute, disk and gallery operations a VM deployment uses, validated against the
// published swagger (test/data/azure), with long-running operations that advance per poll.
// See README.md beside this file for the model, the control API and what is not modelled.
//
//   const arm = await startArmEmulator();            // beforeAll
//   fetch(`${arm.endpoint}/subscriptions/${arm.subscriptionId}/resourcegroups/rg?api-version=2024-07-01`,
//         { method: 'PUT', headers: { Authorization: 'Bearer test' }, body: … })
//   arm.control.nextPublicIps('10.200.77.2');       // the next public IP is the test host
//   await arm.reset();                               // beforeEach
//   await arm.stop();                                // afterAll
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createControl, registerControlRoutes, type ArmEmulatorControl } from './control.js';
import { Lro } from './lro.js';
import { registerVms } from './providers/compute-vm-actions.js';
import { registerRunCommand, type RunCommandHost } from './providers/compute-vm-run-command.js';
import { vmKind } from './providers/compute-vm.js';
import { diskKind, registerDisks, snapshotKind } from './providers/disks.js';
import { galleryImageKind, galleryImageVersionKind, galleryKind, registerGalleries } from './providers/gallery.js';
import { registerImages } from './providers/images.js';
import { appGatewayKind, registerAppGateways } from './providers/network-appgw.js';
import { asgKind, registerAsgs } from './providers/network-asg.js';
import { nicKind, publicIpKind, registerNics } from './providers/network-nic.js';
import { nsgKind, registerVnets, vnetKind } from './providers/network-vnet.js';
import { registerResources } from './providers/resources.js';
import type { ResourceType } from './resource-kit.js';
import { Router, type Core } from './router.js';
import { createHandler } from './server.js';
import { API_VERSIONS, defaultConfig, State, type EmulatorConfig } from './state.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerDns } from './providers/dns.js';
import { registerUsageRoutes } from './usages.js';
import { registerSkus } from './skus.js';
import { specSet } from './swagger.js';
import { selfSignedCertificate } from './tls-cert.js';
import { Validator } from './validator.js';

export type { ArmEmulatorControl, EmulatorSnapshot } from './control.js';
export type { EmulatorConfig, FaultSpec } from './state.js';
export type { RunCommandHost, RunCommandHostResult } from './providers/compute-vm-run-command.js';
export { API_VERSIONS } from './state.js';

/** The subscription the emulator serves unless told otherwise. */
export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-00000000a2e1';

export interface StartArmEmulatorOptions {
  subscriptionId?: string;
  /**
   * Serve HTTPS with a fresh self-signed certificate (returned as `ca`). Azure SDK clients refuse
   * bearer tokens over plain HTTP, so a real SDK client needs this; plain fetch works either way.
   */
  tls?: boolean;
  /** Tunables for this emulator; reset() returns to them. */
  config?: Partial<EmulatorConfig>;
  /**
   * The serial log of a VM none was set for through the control API (VM names carry a suffix the
   * client picks, so a test cannot set it in advance), e.g. a test host's cloud-init output.
   */
  serialLog?: (vm: { resourceGroup: string; name: string }) => string | undefined;
  /**
   * Where VirtualMachines_RunCommand really runs its script (as root on the VM's stand-in, e.g. a
   * test host found by the VM's public IP). Without it a run command fails as an unready agent does.
   */
  runCommand?: RunCommandHost;
}

export interface ArmEmulator {
  /** http(s)://127.0.0.1:<port>: the resource manager endpoint (what a client uses instead of https://management.azure.com). */
  endpoint: string;
  subscriptionId: string;
  /** The self-signed certificate (PEM) to trust, when started with `tls: true`. */
  ca?: string;
  /** Forget all state (same as control.reset()). */
  reset(): Promise<void>;
  stop(): Promise<void>;
  control: ArmEmulatorControl;
  /** api-version per resource provider family, as the emulator requires them. */
  apiVersions: typeof API_VERSIONS;
}

const KINDS: ResourceType[] = [vnetKind, nsgKind, publicIpKind, nicKind, vmKind, diskKind, snapshotKind, galleryKind, galleryImageKind, galleryImageVersionKind, asgKind, appGatewayKind];

export async function startArmEmulator(opts: StartArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const subscriptionId = opts.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const initialConfig = (): EmulatorConfig => ({ ...defaultConfig(), ...structuredClone(opts.config ?? {}) });
  const specs = specSet();
  let endpoint = '';
  const core = {
    state: new State(subscriptionId, initialConfig()),
    specs,
    validator: new Validator(specs),
    kinds: new Map(KINDS.map((k) => [k.type.toLowerCase(), k])),
    endpoint: () => endpoint,
    ...(opts.serialLog ? { serialLog: opts.serialLog } : {}),
  } as Omit<Core, 'lro'> as Core;
  core.lro = new Lro(core, () => endpoint);

  const router = new Router(specs);
  registerResources(router);
  registerVnets(router);
  registerNics(router);
  registerAsgs(router);
  registerAppGateways(router);
  registerVms(router);
  registerRunCommand(router, () => opts.runCommand);
  registerDisks(router);
  registerGalleries(router);
  registerImages(router);
  registerStatusRoutes(router);
  registerDns(router);
  registerUsageRoutes(router);
  registerSkus(router);
  const control = createControl(core, initialConfig, () => new State(subscriptionId, initialConfig()));
  registerControlRoutes(router, control);

  const handler = createHandler(core, router);
  const tls = opts.tls ? selfSignedCertificate() : undefined;
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    endpoint,
    subscriptionId,
    ...(tls ? { ca: tls.cert } : {}),
    control,
    apiVersions: API_VERSIONS,
    async reset() {
      control.reset();
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
