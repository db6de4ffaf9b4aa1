// The test-only control API: in process as `control`, and over HTTP under /emulator/ (no auth)
// for anything that runs in another process. Lets a test reset the cloud, read the whole state,
// choose the next public IP addresses, set a VM's serial log, inject faults and tune the
// long-running operations.
import type { Reply } from './lro.js';
import type { Core, RequestContext, Router } from './router.js';
import type { ActiveFault, EmulatorConfig, FaultSpec, State } from './state.js';
import { ArmError } from './errors.js';

export interface EmulatorSnapshot {
  subscriptionId: string;
  config: EmulatorConfig;
  resourceGroups: { id: string; name: string; location: string; tags: Record<string, string>; provisioningState: string }[];
  resources: {
    id: string;
    type: string;
    name: string;
    resourceGroup: string;
    location: string;
    tags: Record<string, string>;
    zones?: string[];
    sku?: Record<string, unknown>;
    provisioningState: string;
    pendingOperation?: string;
    properties: Record<string, unknown>;
    /** Emulator-only state: powerState (VMs), attachedTo and origin (disks), ipAddress (public IPs) … */
    internal: Record<string, unknown>;
  }[];
  operations: { id: string; name: string; status: string; resourceId?: string; polls: number; pollsLeft: number; error?: { code: string; message: string } }[];
  faults: ActiveFault[];
  nextPublicIps: string[];
}

export interface ArmEmulatorControl {
  /** Forgets every resource group, resource, operation, fault and test choice; config returns to its start values. */
  reset(): void;
  /** A deep copy of everything, for assertions. */
  state(): EmulatorSnapshot;
  /** Changes tunables (LRO polls, Retry-After, page size, locations, VM sizes …); returns the result. */
  configure(patch: Partial<EmulatorConfig>): EmulatorConfig;
  /** InProgress answers before an operation ends: for all operations, or one swagger operationId. */
  setLroPolls(polls: number, operationId?: string): void;
  /** The addresses the next public IPs get, in order (e.g. a local test host's address). */
  nextPublicIps(...addresses: string[]): void;
  /** The address a public IP with this name gets whenever it is created. */
  publicIpFor(name: string, address: string): void;
  /** What the VM's boot diagnostics serial log contains (may be set before the VM exists). */
  setSerialLog(resourceGroup: string, vmName: string, text: string): void;
  appendSerialLog(resourceGroup: string, vmName: string, text: string): void;
  /** Fails the next `count` calls of an operation (see FaultSpec). */
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Ends every running operation now; returns how many. */
  completeOperations(): number;
}

export function createControl(core: Core, initialConfig: () => EmulatorConfig, resetState: () => State): ArmEmulatorControl {
  const control: ArmEmulatorControl = {
    reset() {
      core.state = resetState();
      core.state.config = initialConfig();
    },
    state() {
      const s = core.state;
      return structuredClone({
        subscriptionId: s.subscriptionId,
        config: s.config,
        resourceGroups: [...s.groups.values()].map(({ id, name, location, tags, provisioningState }) => ({ id, name, location, tags, provisioningState })),
        resources: [...s.resources.values()].map((r) => ({
          id: r.id,
          type: r.type,
          name: r.name,
          resourceGroup: r.resourceGroup,
          location: r.location,
          tags: r.tags,
          ...(r.zones ? { zones: r.zones } : {}),
          ...(r.sku ? { sku: r.sku } : {}),
          provisioningState: r.provisioningState,
          ...(r.pendingOperation ? { pendingOperation: r.pendingOperation } : {}),
          properties: r.properties,
          internal: r.internal,
        })),
        operations: [...s.operations.values()].map((o) => ({
          id: o.id,
          name: o.name,
          status: o.status,
          ...(o.resourceId ? { resourceId: o.resourceId } : {}),
          polls: o.polls,
          pollsLeft: o.pollsLeft,
          ...(o.error ? { error: { code: o.error.code, message: o.error.message } } : {}),
        })),
        faults: s.faults,
        nextPublicIps: s.nextPublicIps,
      });
    },
    configure(patch) {
      core.state.config = { ...core.state.config, ...patch };
      return structuredClone(core.state.config);
    },
    setLroPolls(polls, operationId) {
      if (operationId) core.state.config.lroPollsByOperation = { ...core.state.config.lroPollsByOperation, [operationId]: polls };
      else core.state.config.lroPolls = polls;
    },
    nextPublicIps(...addresses) {
      core.state.nextPublicIps.push(...addresses);
    },
    publicIpFor(name, address) {
      core.state.publicIpsByName.set(name.toLowerCase(), address);
    },
    setSerialLog(resourceGroup, vmName, text) {
      core.state.serialLogs.set(`${resourceGroup}/${vmName}`.toLowerCase(), text);
    },
    appendSerialLog(resourceGroup, vmName, text) {
      const key = `${resourceGroup}/${vmName}`.toLowerCase();
      core.state.serialLogs.set(key, (core.state.serialLogs.get(key) ?? '') + text);
    },
    injectFault(fault) {
      const mode = fault.mode ?? 'sync';
      core.state.faults.push({
        operationId: fault.operationId,
        mode,
        code: fault.code,
        remaining: fault.count ?? 1,
        status: fault.status ?? (fault.code === 'TooManyRequests' ? 429 : 409),
        message: fault.message ?? `Injected by the arm-emulator: ${fault.code}.`,
        ...(fault.retryAfterSeconds !== undefined || fault.code === 'TooManyRequests' ? { retryAfterSeconds: fault.retryAfterSeconds ?? 1 } : {}),
        ...(fault.pathContains ? { pathContains: fault.pathContains } : {}),
      });
    },
    clearFaults() {
      core.state.faults = [];
    },
    completeOperations() {
      return core.lro.completeAll();
    },
  };
  return control;
}

/** HTTP form of the control API, under /emulator/. */
export function registerControlRoutes(router: Router, control: ArmEmulatorControl): void {
  const json = (ctx: RequestContext): any => {
    if (ctx.rawBody.trim() === '') return {};
    try {
      return JSON.parse(ctx.rawBody);
    } catch {
      throw new ArmError(400, 'InvalidRequestContent', 'The control API expects a JSON body.');
    }
  };
  const ok = (body: unknown = { ok: true }): Reply => ({ status: 200, body });
  const add = (method: string, path: string, handler: (ctx: RequestContext) => Reply) =>
    router.custom(method, new RegExp(`^/emulator/${path}$`), handler, 'control');

  add('POST', 'reset', () => (control.reset(), ok()));
  add('GET', 'state', () => ok(control.state()));
  add('PATCH', 'config', (ctx) => ok(control.configure(json(ctx))));
  add('POST', 'public-ips', (ctx) => {
    const body = json(ctx) as { next?: string[]; byName?: Record<string, string> };
    control.nextPublicIps(...(body.next ?? []));
    for (const [name, address] of Object.entries(body.byName ?? {})) control.publicIpFor(name, address);
    return ok();
  });
  add('PUT', 'serial-logs/(?<resourceGroup>[^/]+)/(?<vmName>[^/]+)', (ctx) => {
    const text = /json/i.test(String(ctx.headers['content-type'] ?? '')) ? String(json(ctx).text ?? '') : ctx.rawBody;
    control.setSerialLog(decodeURIComponent(ctx.params.resourceGroup!), decodeURIComponent(ctx.params.vmName!), text);
    return ok();
  });
  add('POST', 'faults', (ctx) => (control.injectFault(json(ctx) as FaultSpec), ok()));
  add('DELETE', 'faults', () => (control.clearFaults(), ok()));
  add('POST', 'operations/complete', () => ok({ completed: control.completeOperations() }));
}
