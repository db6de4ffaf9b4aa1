// Maps Azure Resource Manager failures (a CloudError body {error: {code, message}} with its HTTP
// status) to our typed errors: one line, a remediation and the exit code. By HTTP status first, as
// ARM's own guidance says, then by the code for the cases the contract distinguishes.
import { CloudError, CredentialsError, isLaunchError, LaunchError } from '../../core/errors.js';

export interface ArmFailure {
  /** HTTP status (0 when the request never got an answer). */
  status: number;
  /** ARM's error code ("AllocationFailed"), or a Node error code (ECONNREFUSED). */
  code: string;
  message: string;
}

export interface AzureErrorContext {
  /** "Microsoft.Compute virtualMachines.createOrUpdate". */
  operation: string;
  subscription: string;
  /** The VM size, for capacity errors. */
  machineType?: string;
}

const CAPACITY = new Set(['AllocationFailed', 'ZonalAllocationFailed', 'OverconstrainedAllocationRequest', 'OverconstrainedZonalAllocationRequest']);
const SKU_UNAVAILABLE = new Set(['SkuNotAvailable', 'InvalidTemplateDeployment.SkuNotAvailable']);
const QUOTA = new Set(['OperationNotAllowed', 'QuotaExceeded']);
const ALWAYS_QUOTA = new Set(['PublicIPCountLimitReached', 'ResourceQuotaExceeded', 'SubscriptionQuotaExceeded']);
const CREDENTIAL_CODES = new Set(['AuthenticationFailed', 'InvalidAuthenticationToken', 'ExpiredAuthenticationToken', 'InvalidAuthenticationTokenTenant']);

export const CREDENTIAL_REMEDIATION =
  'Sign in with `az login` (then `az account set --subscription <id>`), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal (AZURE_FEDERATED_TOKEN_FILE instead of the secret for workload identity; AZURE_USE_MANAGED_IDENTITY=true on an Azure VM with a managed identity); pass --subscription or set AZURE_SUBSCRIPTION_ID to choose the subscription.';

/** Quota errors name what ran out; cores and vCPUs are the machine's, the rest (public IPs …) another quota. */
function isCoresQuota(f: ArmFailure): boolean {
  return /\bcores?\b|vcpu/i.test(f.message);
}

export function mapArmFailure(f: ArmFailure, ctx: AzureErrorContext): LaunchError {
  const details = { operation: ctx.operation, status: f.status, armCode: f.code };
  const what = `${ctx.operation} failed: ${f.code}: ${f.message}`;
  if (f.status === 401 || CREDENTIAL_CODES.has(f.code)) {
    return new CredentialsError(`Azure did not accept the credentials (${f.code}): ${f.message}`, { code: 'credentials', remediation: CREDENTIAL_REMEDIATION, details });
  }
  if (f.status === 403 || f.code === 'AuthorizationFailed' || f.code === 'LinkedAuthorizationFailed') {
    return new CredentialsError(`The Azure identity may not do this (${ctx.operation}): ${f.message}`, {
      code: 'permission-denied',
      remediation: `Give the identity the Contributor role on subscription ${ctx.subscription} (or its resource group), e.g. \`az role assignment create --assignee <id> --role Contributor --scope /subscriptions/${ctx.subscription}\`.`,
      details,
    });
  }
  if (f.status === 429 || f.code === 'TooManyRequests' || f.code === 'RetryableError') {
    return new CloudError('throttled', `Azure is throttling requests (${ctx.operation}): ${f.message}`, { remediation: 'Wait a minute and run the command again; it resumes where it stopped.', details });
  }
  if (CAPACITY.has(f.code)) {
    return new CloudError('insufficient-capacity', `Azure has no capacity for ${ctx.machineType ?? 'this VM size'} right now: ${f.message}`, {
      remediation: 'Try another zone or region (--region), or a nearby size (--size / --instance-type), or try again later.',
      details,
    });
  }
  if (SKU_UNAVAILABLE.has(f.code)) {
    return new CloudError('instance-type-unavailable', `${ctx.machineType ?? 'The VM size'} is not available here: ${f.message}`, {
      remediation: 'Pick another region (--region) or VM size; `az vm list-skus --location <region> --size Standard_D` lists what is offered.',
      details,
    });
  }
  if (ALWAYS_QUOTA.has(f.code) || (QUOTA.has(f.code) && /quota|limit/i.test(f.message))) {
    if (isCoresQuota(f)) {
      return new CloudError('vcpu-limit', `The subscription's vCPU quota does not allow ${ctx.machineType ?? 'this VM'}: ${f.message}`, {
        remediation: 'Request more cores for the VM family (Azure portal → Quotas → Compute), or choose a smaller size.',
        details,
      });
    }
    return new CloudError('quota-exceeded', `An Azure quota is exhausted: ${f.message}`, { remediation: 'Free what is unused (e.g. public IPs), or request a higher quota (Azure portal → Quotas).', details });
  }
  if (f.status === 0) {
    return new CloudError('network', `Could not reach Azure Resource Manager (${ctx.operation}): ${f.code} ${f.message}`, { remediation: 'Check the network connection (and any proxy, and AZURE_RESOURCE_MANAGER_ENDPOINT if you set it), then run the command again.', details });
  }
  return new CloudError(f.code === 'ResourceNotFound' || f.status === 404 ? 'not-found' : 'azure-error', what, { details });
}

/** Whatever a call threw, as one of our typed errors. */
export function toLaunchError(err: unknown, ctx: AzureErrorContext): LaunchError {
  if (isLaunchError(err)) return err;
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  const code = String(e?.cause?.code ?? e?.code ?? 'Error');
  return mapArmFailure({ status: 0, code, message: String(e?.message ?? err) }, ctx);
}

/** The ARM code of a mapped error (its details), to react to one failure in particular. */
export function armCode(err: unknown): string | undefined {
  return isLaunchError(err) ? (err.details?.armCode as string | undefined) : undefined;
}

export function armStatus(err: unknown): number | undefined {
  return isLaunchError(err) ? (err.details?.status as number | undefined) : undefined;
}
