// Long-running operations. A write that ARM runs asynchronously registers an Operation here; the
// answer carries status URLs (Azure-AsyncOperation and/or Location) in the shape of the resource
// provider that owns it. The operation advances one step per poll of either URL (or per GET of its
// resource, see EmulatorConfig.advanceOnResourceGet): it answers InProgress `pollsLeft` more times,
// then ends. Nothing depends on wall-clock time.
import { ArmError, type CloudErrorBody } from './errors.js';
import { API_VERSIONS, type Family, type Operation, type State, normalizeId } from './state.js';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw text body instead of JSON (blob downloads). */
  text?: string;
  /** Raw bytes instead of JSON (blob downloads). */
  bytes?: Buffer;
  contentType?: string;
}

export interface BeginOptions {
  name: string;
  family: Family;
  location: string;
  resourceId?: string;
  onSuccess?: Operation['onSuccess'];
  onFailure?: Operation['onFailure'];
}

/** Which status headers an answer carries. */
export interface HeaderStyle {
  asyncOperation: boolean;
  location: boolean;
}

/** Per resource provider and verb, as the providers answer (see azure/NOTES.md §1). */
export function headerStyle(family: Family, method: 'PUT' | 'PATCH' | 'POST' | 'DELETE'): HeaderStyle {
  if (family === 'resources') return { asyncOperation: false, location: true };
  if (method === 'PUT' && (family === 'network' || family === 'compute' || family === 'gallery')) {
    return { asyncOperation: true, location: false };
  }
  return { asyncOperation: true, location: true };
}

export class Lro {
  constructor(
    /** Read through the holder: the control API's reset swaps the state. */
    private readonly holder: { state: State },
    private readonly endpoint: () => string,
  ) {}

  private get state(): State {
    return this.holder.state;
  }

  begin(opts: BeginOptions): Operation {
    const state = this.state;
    const polls = state.config.lroPollsByOperation[opts.name] ?? state.config.lroPolls;
    const op: Operation = {
      id: state.newUuid(),
      name: opts.name,
      family: opts.family,
      subscriptionId: state.subscriptionId,
      location: opts.location,
      ...(opts.resourceId ? { resourceId: opts.resourceId } : {}),
      status: 'InProgress',
      pollsLeft: polls,
      polls: 0,
      startTime: new Date().toISOString(),
      onSuccess: opts.onSuccess ?? (() => undefined),
      onFailure: opts.onFailure ?? (() => undefined),
    };
    const fault = this.takeLroFault(opts.name, opts.resourceId ?? '');
    if (fault) op.injectedFailure = fault;
    state.operations.set(op.id, op);
    return op;
  }

  /** Status headers for the first answer of `op`. */
  headers(op: Operation, style: HeaderStyle): Record<string, string> {
    const headers: Record<string, string> = { 'Retry-After': String(this.state.config.retryAfterSeconds) };
    if (style.asyncOperation) headers['Azure-AsyncOperation'] = this.statusUrl(op, 'async');
    if (style.location) headers.Location = this.statusUrl(op, 'location');
    return headers;
  }

  statusUrl(op: Operation, kind: 'async' | 'location'): string {
    const base = `${this.endpoint()}/subscriptions/${op.subscriptionId}`;
    const version = `api-version=${API_VERSIONS[op.family]}`;
    const monitor = kind === 'location' ? '&monitor=true' : '';
    switch (op.family) {
      case 'resources':
        return `${base}/operationresults/${op.id}?${version}`;
      case 'network':
        return kind === 'async'
          ? `${base}/providers/Microsoft.Network/locations/${op.location}/operations/${op.id}?${version}`
          : `${base}/providers/Microsoft.Network/locations/${op.location}/operationResults/${op.id}?${version}`;
      case 'compute':
        return `${base}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}?p=${op.id}${monitor}&${version}`;
      case 'disks':
        return `${base}/providers/Microsoft.Compute/locations/${op.location}/DiskOperations/${op.id}?p=${op.id}${monitor}&${version}`;
      case 'gallery':
        return `${base}/providers/Microsoft.Compute/locations/${op.location}/capsOperations/${op.id}?${monitor.slice(1)}${monitor ? '&' : ''}${version}`;
    }
  }

  /** One poll of a status URL: advance, then answer in the style of that URL. */
  poll(opId: string, kind: 'async' | 'location', family: Family): Reply {
    const op = this.state.operations.get(opId);
    if (!op || op.family !== family) {
      throw new ArmError(404, 'OperationNotFound', `The operation '${opId}' could not be found.`);
    }
    this.advance(op);
    const retry = { 'Retry-After': String(this.state.config.retryAfterSeconds) };
    if (kind === 'async') {
      const body: Record<string, unknown> = {
        id: this.statusUrl(op, 'async').replace(this.endpoint(), '').split('?')[0],
        name: op.id,
        status: op.status,
        startTime: op.startTime,
        ...(op.endTime ? { endTime: op.endTime } : {}),
        ...(op.error ? { error: op.error } : {}),
      };
      return { status: 200, headers: op.status === 'InProgress' ? retry : {}, body };
    }
    if (op.status === 'InProgress') return { status: 202, headers: { ...retry, Location: this.statusUrl(op, 'location') } };
    if (op.status === 'Failed') return { status: op.failStatus ?? 500, body: { error: op.error } };
    return op.result ?? { status: 204 };
  }

  /** Counts one poll of `op`; ends it when no InProgress answers are left. */
  advance(op: Operation): void {
    if (op.status !== 'InProgress') return;
    op.polls++;
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      return;
    }
    this.finish(op);
  }

  /** A GET of a resource counts as a poll of the operation running on it. */
  nudge(resourceOperationId: string | undefined): void {
    if (!resourceOperationId || !this.state.config.advanceOnResourceGet) return;
    const op = this.state.operations.get(resourceOperationId);
    if (op) this.advance(op);
  }

  /** Ends every running operation now (control API). */
  completeAll(): number {
    let n = 0;
    for (const op of this.state.operations.values()) {
      if (op.status === 'InProgress') {
        this.finish(op);
        n++;
      }
    }
    return n;
  }

  private finish(op: Operation): void {
    op.endTime = new Date().toISOString();
    if (op.injectedFailure) {
      this.fail(op, op.injectedFailure.status, op.injectedFailure.error);
      return;
    }
    try {
      const result = op.onSuccess();
      op.status = 'Succeeded';
      if (result) op.result = result;
    } catch (err) {
      // A check that can only run at the end (e.g. capacity) failed the operation.
      if (!(err instanceof ArmError)) throw err;
      this.fail(op, err.status, err.body().error);
    }
  }

  private fail(op: Operation, status: number, error: CloudErrorBody): void {
    op.status = 'Failed';
    op.error = error;
    op.failStatus = status;
    op.onFailure(error);
  }

  private takeLroFault(name: string, path: string): Operation['injectedFailure'] | undefined {
    const fault = this.state.faults.find(
      (f) => f.mode === 'lro' && f.remaining > 0 && (f.operationId === name || f.operationId === '*') &&
        (!f.pathContains || normalizeId(path).includes(f.pathContains.toLowerCase())),
    );
    if (!fault) return undefined;
    fault.remaining--;
    return { status: fault.status, error: { code: fault.code, message: fault.message } };
  }
}
