// The status URLs of long-running operations, in each resource provider's own shape (see
// Lro.statusUrl). They need a bearer token and the provider's api-version like any ARM call.
import type { Router } from './router.js';
import { API_VERSIONS, type Family } from './state.js';

const SUB = '^/subscriptions/(?<subscriptionId>[^/]+)';
const LOC = '/locations/(?<location>[^/]+)';

export function registerStatusRoutes(router: Router): void {
  const route = (pattern: string, family: Family, kind: 'async' | 'location' | 'monitor') => {
    router.custom(
      'GET',
      new RegExp(`${SUB}${pattern}/(?<operationId>[^/]+)$`, 'i'),
      (ctx) => {
        const style = kind === 'monitor' ? (ctx.query.get('monitor') === 'true' ? 'location' : 'async') : kind;
        return ctx.core.lro.poll(ctx.params.operationId!, style, family);
      },
      'arm',
      API_VERSIONS[family],
    );
  };
  route('/operationresults', 'resources', 'location');
  route(`/providers/Microsoft.Network${LOC}/operations`, 'network', 'async');
  route(`/providers/Microsoft.Network${LOC}/operationResults`, 'network', 'location');
  route(`/providers/Microsoft.Compute${LOC}/operations`, 'compute', 'monitor');
  route(`/providers/Microsoft.Compute${LOC}/DiskOperations`, 'disks', 'monitor');
  route(`/providers/Microsoft.Compute${LOC}/capsOperations`, 'gallery', 'monitor');
}
