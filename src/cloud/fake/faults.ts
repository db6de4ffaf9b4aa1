// Errors a test injects into the fake, by port method, and the typed errors the fake raises. The
// codes are the ones the AWS adapter maps its errors to, so a workflow reacts to the fake exactly
// as it reacts to a real cloud.
import { CloudError, CredentialsError, UsageError, type LaunchError } from '../../core/errors.js';
import type { Cloud } from '../port.js';

/** The Cloud verbs a fault can target (everything but the properties). */
export type CloudMethod = Exclude<keyof Cloud, 'scope' | 'capabilities'>;

export type FaultKind =
  /** No capacity for the machine type in that zone right now. */
  | 'insufficient-capacity'
  /** The account's vCPU quota is too low for the instance. */
  | 'vcpu-limit'
  /** Some other quota (addresses, disks, snapshots) is used up. */
  | 'quota-exceeded'
  /** The machine type is not offered where it was asked for. */
  | 'instance-type-unavailable'
  /** The API kept throttling after the adapter's own retries. */
  | 'throttled'
  /** Missing, invalid or expired credentials. */
  | 'credentials'
  /** The identity may not do this. */
  | 'permission-denied'
  /** The API could not be reached. */
  | 'network'
  /** The thing is not there: reads answer undefined, deletes succeed, anything else fails. */
  | 'not-found';

export interface Fault {
  method: CloudMethod;
  kind: FaultKind | LaunchError;
  /** How many calls fail; default 1, Infinity until cleared. */
  times?: number;
  /** Only calls whose arguments match (e.g. one zone's launches). */
  when?: (...args: unknown[]) => boolean;
}

/** What the port promises for a read or delete of something absent. */
const NOT_FOUND_ANSWERS: Partial<Record<CloudMethod, unknown>> = {
  findImage: undefined,
  describeImage: undefined,
  findBaseImage: undefined,
  describeInstance: undefined,
  describeDisk: undefined,
  describeSnapshot: undefined,
  findSnapshotSchedule: undefined,
  consoleOutput: '',
  deleteSshKey: undefined,
  deleteAccessPolicy: undefined,
  detachStaticAddress: undefined,
  releaseStaticAddress: undefined,
  terminateInstance: undefined,
  deleteDisk: undefined,
  deleteSnapshot: undefined,
  deleteSnapshotSchedule: undefined,
  deleteImage: [],
};

export type FaultOutcome = { answer: unknown } | { error: LaunchError };

export class Faults {
  private readonly active: (Fault & { left: number })[] = [];

  add(fault: Fault): void {
    this.active.push({ ...fault, left: fault.times ?? 1 });
  }

  clear(method?: CloudMethod): void {
    for (let i = this.active.length - 1; i >= 0; i--) if (!method || this.active[i]!.method === method) this.active.splice(i, 1);
  }

  /** The fault this call runs into, if any (and uses one of its times). */
  take(method: CloudMethod, args: unknown[]): FaultOutcome | undefined {
    const fault = this.active.find((f) => f.method === method && f.left > 0 && (!f.when || f.when(...args)));
    if (!fault) return undefined;
    fault.left -= 1;
    if (fault.left <= 0) this.active.splice(this.active.indexOf(fault), 1);
    if (typeof fault.kind !== 'string') return { error: fault.kind };
    if (fault.kind === 'not-found') {
      return method in NOT_FOUND_ANSWERS ? { answer: NOT_FOUND_ANSWERS[method] } : { error: notFound('resource', String(args[0] ?? '')) };
    }
    return { error: faultError(fault.kind, method) };
  }
}

export function faultError(kind: Exclude<FaultKind, 'not-found'>, method: string): LaunchError {
  const details = { operation: method, injected: true };
  switch (kind) {
    case 'insufficient-capacity':
      return new CloudError('insufficient-capacity', 'The cloud has no spare capacity for this machine type in the requested zone right now', {
        details,
        remediation: 'Retry later, or try another zone (--subnet there), or another machine family with the same size.',
      });
    case 'vcpu-limit':
      return new CloudError('vcpu-limit', "The account's vCPU quota in this region is too low for this instance", {
        details,
        remediation: 'Request a quota increase, or choose a smaller --size.',
      });
    case 'quota-exceeded':
      return new CloudError('quota-exceeded', `A quota of the account does not allow ${method}`, {
        details,
        remediation: 'Request a quota increase, or remove what is no longer used.',
      });
    case 'instance-type-unavailable':
      return new CloudError('instance-type-unavailable', 'The machine type is not offered where it was requested', {
        details,
        remediation: 'Choose a zone that offers it, or another machine type of the same size.',
      });
    case 'throttled':
      return new CloudError('throttled', `The cloud kept throttling ${method} after several retries`, {
        details,
        remediation: 'Wait a minute and run the same command again; it continues where it stopped.',
      });
    case 'credentials':
      return new CredentialsError('No valid credentials for the fake cloud', { details, remediation: 'Sign in again.' });
    case 'permission-denied':
      return new CredentialsError(`The cloud denied ${method} to this identity`, {
        code: 'permission-denied',
        details,
        remediation: `Ask an administrator to allow ${method} for this identity.`,
      });
    case 'network':
      return new CloudError('network', `Could not reach the cloud's API for ${method}`, {
        details,
        remediation: 'Check the network connection, then run the same command again.',
      });
  }
}

export function notFound(what: string, id: string): CloudError {
  return new CloudError(`${what}-not-found`, `${what.replace(/-/g, ' ')} ${id} does not exist`, { details: { id } });
}

export function conflict(code: string, message: string, remediation?: string): CloudError {
  return new CloudError(code, message, remediation ? { remediation } : {});
}

export function badInput(code: string, message: string, remediation?: string): UsageError {
  return new UsageError(message, { code, ...(remediation ? { remediation } : {}) });
}
