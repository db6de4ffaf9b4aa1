// Quota usage of a location, as Compute (`usages`: regional vCPUs "cores" and each VM family's) and
// Network (`usages`: public IP addresses) report it: the current value counted from what exists,
// against limits from the emulator's config (EmulatorConfig.usageLimits). Read by `doctor`.
import type { Router } from './router.js';
import { API_VERSIONS, type State } from './state.js';

const SUB = '^/subscriptions/(?<subscriptionId>[^/]+)';
const LOC = '/locations/(?<location>[^/]+)/usages$';

/** vCPUs and family quota name of a size: Standard_D8as_v5 → 8, standardDASv5Family. */
export function sizeQuota(vmSize: string): { vcpus: number; family: string } | undefined {
  const m = /^Standard_([A-Z]+)(\d+)([a-z]*)(?:_(v\d+))?$/.exec(vmSize);
  return m ? { vcpus: Number(m[2]), family: `standard${m[1]}${m[3]!.toUpperCase()}${m[4] ?? ''}Family` } : undefined;
}

function vmsIn(state: State, location: string): string[] {
  return state
    .ofType('Microsoft.Compute/virtualMachines')
    .filter((r) => r.location.toLowerCase() === location.toLowerCase())
    .map((r) => String((r.properties.hardwareProfile as { vmSize?: string } | undefined)?.vmSize ?? ''));
}

const usage = (value: string, localizedValue: string, currentValue: number, limit: number) => ({ unit: 'Count', currentValue, limit, name: { value, localizedValue } });

export function registerUsageRoutes(router: Router): void {
  router.custom(
    'GET',
    new RegExp(`${SUB}/providers/Microsoft.Compute${LOC}`, 'i'),
    (ctx) => {
      const { state } = ctx.core;
      const limits = state.config.usageLimits;
      const sizes = vmsIn(state, ctx.params.location!).map(sizeQuota).filter((q) => q !== undefined);
      const families = new Map<string, number>();
      for (const f of [...new Set(state.config.vmSizes.map((s) => sizeQuota(s)?.family).filter((f) => f !== undefined))]) families.set(f, 0);
      for (const q of sizes) families.set(q.family, (families.get(q.family) ?? 0) + q.vcpus);
      const value = [
        usage('cores', 'Total Regional vCPUs', sizes.reduce((n, q) => n + q.vcpus, 0), limits.cores),
        usage('virtualMachines', 'Virtual Machines', sizes.length, 25_000),
        ...[...families].map(([family, used]) => usage(family, `${family} vCPUs`, used, limits.families[family] ?? limits.cores)),
      ];
      return { status: 200, body: { value } };
    },
    'arm',
    API_VERSIONS.compute,
  );
  router.custom(
    'GET',
    new RegExp(`${SUB}/providers/Microsoft.Network${LOC}`, 'i'),
    (ctx) => {
      const { state } = ctx.core;
      const location = ctx.params.location!.toLowerCase();
      const ips = state.ofType('Microsoft.Network/publicIPAddresses').filter((r) => r.location.toLowerCase() === location).length;
      const id = `/subscriptions/${state.subscriptionId}/providers/Microsoft.Network/locations/${location}/usages/PublicIPAddresses`;
      return { status: 200, body: { value: [{ id, ...usage('PublicIPAddresses', 'Public IP Addresses', ips, state.config.usageLimits.publicIPAddresses) }] } };
    },
    'arm',
    API_VERSIONS.network,
  );
}
