// Long-running operations (NOTES.md §1). Each accepted mutation becomes an Operation in the scope of
// its target (zonal, regional or global) that moves PENDING → RUNNING → DONE one step per poll:
// a `get` or `wait` of the operation, or a `get` of a resource it changes. Nothing depends on the
// wall clock unless a test asks for it (`advanceEveryMs`). `wait` moves `waitSteps` steps (default
// one) and then answers in whatever state the operation is, like the real best-effort wait.
// An operation may end DONE with `error` (a planned failure or an injected fault); it then changed
// nothing. `requestId`s are remembered per project for the emulator's lifetime: a retry with the
// same id gets the same Operation back and acts no second time.
import { randomBytes } from 'node:crypto';
import { GceError, notFound, type OperationFailure } from './errors.js';
import { refPath, timestamp, type Links, type Ref, type ScopeKind } from './links.js';
import type { Json } from './validate.js';

export interface MutationPlan {
  /** `insert`, `delete`, `start`, `setLabels`, … as Compute names them. */
  operationType: string;
  /** The resource being changed; the operation lives in its scope. */
  target: Ref;
  targetId: string;
  /** Applied when the operation is accepted (e.g. the resource appears as PROVISIONING). */
  start?: () => void;
  /** Applied at PENDING → RUNNING. */
  running?: () => void;
  /** Applied at DONE. */
  done?: () => void;
  /** The operation is accepted but ends DONE with this error, having changed nothing. */
  failure?: OperationFailure;
  /** Other resource paths whose `get` also advances this operation. */
  affects?: string[];
  /** Already DONE when returned (nothing to do, e.g. stopping a TERMINATED instance). */
  instant?: boolean;
}

export interface OperationBody extends Json {
  kind: 'compute#operation';
  id: string;
  name: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  operationType: string;
  targetLink: string;
  targetId: string;
  selfLink: string;
  progress: number;
  insertTime: string;
  user: string;
  zone?: string;
  region?: string;
  clientOperationId?: string;
  startTime?: string;
  endTime?: string;
  error?: { errors: Json[] };
  httpErrorStatusCode?: number;
  httpErrorMessage?: string;
}

interface OperationRecord {
  project: string;
  scope: ScopeKind;
  location?: string;
  body: OperationBody;
  step: number;
  steps: number;
  plan: MutationPlan;
  affects: Set<string>;
  ranRunning: boolean;
}

export interface OperationsOptions {
  links: Links;
  /** Polls from PENDING to DONE (≥ 1). Read at each operation's creation. */
  pollsToDone: () => number;
  now: () => Date;
  user: string;
  nextId: () => string;
}

/** Compute's error codes for hooks that fail while the operation runs (a rare race). */
const CODES: Record<string, string> = {
  notFound: 'RESOURCE_NOT_FOUND',
  alreadyExists: 'RESOURCE_ALREADY_EXISTS',
  resourceInUseByAnotherResource: 'RESOURCE_IN_USE_BY_ANOTHER_RESOURCE',
  resourceNotReady: 'RESOURCE_NOT_READY',
};

export class Operations {
  private readonly ops = new Map<string, OperationRecord>();
  private readonly byRequestId = new Map<string, OperationRecord>();

  constructor(private readonly opts: OperationsOptions) {}

  private path(project: string, scope: ScopeKind, location: string | undefined, name: string): string {
    return refPath({ project, scope, location, collection: 'operations', name });
  }

  /** Accepts a mutation: runs its `start` (unless it fails) and returns the new Operation. */
  create(project: string, plan: MutationPlan, requestId?: string): OperationBody {
    const { scope, location } = plan.target;
    const name = `operation-${this.opts.now().getTime()}-${randomBytes(7).toString('hex').slice(0, 13)}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
    const links = this.opts.links;
    const body: OperationBody = {
      kind: 'compute#operation',
      id: this.opts.nextId(),
      name,
      operationType: plan.operationType,
      targetLink: links.of(plan.target),
      targetId: plan.targetId,
      status: 'PENDING',
      user: this.opts.user,
      progress: 0,
      insertTime: timestamp(this.opts.now()),
      selfLink: links.of({ project, scope, location, collection: 'operations', name }),
      ...(scope === 'zones' ? { zone: links.zone(project, location!) } : {}),
      ...(scope === 'regions' ? { region: links.region(project, location!) } : {}),
      ...(requestId ? { clientOperationId: requestId } : {}),
    };
    const record: OperationRecord = {
      project,
      scope,
      location,
      body,
      step: 0,
      steps: Math.max(1, this.opts.pollsToDone()),
      plan,
      affects: new Set([refPath(plan.target), ...(plan.affects ?? [])]),
      ranRunning: false,
    };
    this.ops.set(this.path(project, scope, location, name), record);
    if (requestId) this.byRequestId.set(`${project}/${requestId}`, record);
    if (!plan.failure) this.runHook(record, plan.start);
    if (plan.instant) this.advance(record, record.steps);
    return this.view(record);
  }

  /** The Operation an earlier request with this requestId created, if any. */
  byRequest(project: string, requestId: string): OperationBody | undefined {
    const record = this.byRequestId.get(`${project}/${requestId}`);
    return record && this.view(record);
  }

  private record(project: string, scope: ScopeKind, location: string | undefined, name: string): OperationRecord {
    const path = this.path(project, scope, location, name);
    const record = this.ops.get(path) ?? [...this.ops.values()].find((r) => r.project === project && r.scope === scope && r.location === location && r.body.id === name);
    if (!record) throw notFound(path);
    return record;
  }

  /** `operations.get`: one poll. */
  poll(project: string, scope: ScopeKind, location: string | undefined, name: string): OperationBody {
    const record = this.record(project, scope, location, name);
    this.advance(record, 1);
    return this.view(record);
  }

  /** `operations.wait`: `steps` polls, then the Operation in whatever state it is. */
  wait(project: string, scope: ScopeKind, location: string | undefined, name: string, steps: number): OperationBody {
    const record = this.record(project, scope, location, name);
    this.advance(record, steps);
    return this.view(record);
  }

  /** A `get` of a resource counts as a poll of every unfinished operation changing it. */
  touch(path: string): void {
    for (const record of this.ops.values()) if (record.body.status !== 'DONE' && record.affects.has(path)) this.advance(record, 1);
  }

  advanceAll(steps: number): void {
    for (const record of this.ops.values()) this.advance(record, steps);
  }

  settle(): void {
    for (const record of this.ops.values()) this.advance(record, record.steps);
  }

  list(project: string, scope: ScopeKind, location: string | undefined): OperationBody[] {
    return [...this.ops.values()].filter((r) => r.project === project && r.scope === scope && r.location === location).map((r) => this.view(r));
  }

  all(): OperationBody[] {
    return [...this.ops.values()].map((r) => this.view(r));
  }

  pending(): number {
    return [...this.ops.values()].filter((r) => r.body.status !== 'DONE').length;
  }

  clear(): void {
    this.ops.clear();
    this.byRequestId.clear();
  }

  private view(record: OperationRecord): OperationBody {
    return structuredClone(record.body);
  }

  private advance(record: OperationRecord, steps: number): void {
    for (let i = 0; i < steps && record.body.status !== 'DONE'; i += 1) {
      record.step += 1;
      const now = timestamp(this.opts.now());
      if (!record.ranRunning) {
        record.ranRunning = true;
        record.body.status = 'RUNNING';
        record.body.startTime = now;
        if (!record.plan.failure) this.runHook(record, record.plan.running);
      }
      if (record.step >= record.steps) {
        if (!record.plan.failure) this.runHook(record, record.plan.done);
        this.finish(record, now);
      } else {
        record.body.progress = Math.floor((100 * record.step) / record.steps);
      }
    }
  }

  private finish(record: OperationRecord, now: string): void {
    record.body.status = 'DONE';
    record.body.progress = 100;
    record.body.endTime = now;
    const failure = record.plan.failure;
    if (!failure) return;
    record.body.error = {
      errors: [
        {
          code: failure.code,
          message: failure.message,
          ...(failure.location ? { location: failure.location } : {}),
          ...(failure.errorDetails ? { errorDetails: failure.errorDetails } : {}),
        },
      ],
    };
    record.body.httpErrorStatusCode = failure.httpErrorStatusCode;
    record.body.httpErrorMessage = failure.httpErrorMessage;
  }

  /** A hook that finds the world changed under it fails the operation instead of the server. */
  private runHook(record: OperationRecord, hook: (() => void) | undefined): void {
    if (!hook) return;
    try {
      hook();
    } catch (err) {
      if (!(err instanceof GceError)) throw err;
      record.plan = {
        ...record.plan,
        failure: { code: CODES[err.reason] ?? 'INVALID_FIELD_VALUE', message: err.message, httpErrorStatusCode: err.httpStatus, httpErrorMessage: err.reason.toUpperCase() },
      };
    }
  }
}
