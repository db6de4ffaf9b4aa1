// Where Sourcegraph's workloads run once a deployment has k3s agents (`scale --agents N`): the
// stateful services stay on the server, pinned by the tool's shared Helm values
// (presets/helm/common.yaml) to the node label the boot service gives the server; everything else
// may run on agents. Pure: `config` uses it to warn when the customer's override.yaml moves a
// stateful service off the server.
import { ROLE_NODE_LABEL, SERVER_NODE_NAME } from './scale-plan.js';

/** The value of ROLE_NODE_LABEL on the server node (provision/boot.sh sets it at every boot). */
export const SERVER_ROLE = 'server';

/**
 * The Sourcegraph chart's services that keep data in a PersistentVolumeClaim of their own (chart
 * keys, charts/sourcegraph/values.yaml of sourcegraph/deploy-sourcegraph-helm): with k3s's
 * local-path storage their data is a directory on the server's data volume. presets/helm/common.yaml
 * pins exactly these (a test keeps the two equal). searcher and symbols also have volumes, but only
 * for a cache rebuilt wherever they run, so they are free to move.
 */
export const STATEFUL_SERVICES = ['pgsql', 'codeIntelDB', 'codeInsightsDB', 'gitserver', 'indexedSearch', 'redisCache', 'redisStore', 'blobstore', 'prometheus', 'grafana'] as const;

type Values = Record<string, unknown>;

export interface PlacementChange {
  service: string;
  /** The node selector the service gets without the customer's file ({} for none). */
  before: Record<string, unknown>;
  /** The node selector it gets with it ({} for none: any node). */
  after: Record<string, unknown>;
}

function asMap(v: unknown): Values | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Values) : undefined;
}

/**
 * The node selector the chart renders for a service: its own `nodeSelector` when not empty, else
 * the global `sourcegraph.nodeSelector` (the chart's "sourcegraph.nodeSelector" helper).
 */
export function renderedNodeSelector(values: Values, service: string): Record<string, unknown> {
  const own = asMap(asMap(values[service])?.nodeSelector);
  if (own && Object.keys(own).length) return own;
  return asMap(asMap(values.sourcegraph)?.nodeSelector) ?? {};
}

function sameSelector(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && String(a[k]) === String(b[k]));
}

/**
 * The stateful services whose node selector the customer's file changes: `withoutOverride` is
 * what Helm gets from the tool's files (common, size, the volume's), `withOverride` the same with
 * override.yaml last. Empty when the file leaves them all where the tool put them.
 */
export function statefulPlacementChanges(withoutOverride: Values, withOverride: Values): PlacementChange[] {
  const changes: PlacementChange[] = [];
  for (const service of STATEFUL_SERVICES) {
    const before = renderedNodeSelector(withoutOverride, service);
    const after = renderedNodeSelector(withOverride, service);
    if (!sameSelector(before, after)) changes.push({ service, before, after });
  }
  return changes;
}

function describeSelector(s: Record<string, unknown>): string {
  const entries = Object.entries(s);
  return entries.length ? entries.map(([k, v]) => `${k}=${String(v)}`).join(',') : 'none (any node)';
}

/** The warning `config` prints for those changes: what moves, why it is risky, and how to undo it. */
export function placementWarning(changes: readonly PlacementChange[], program: string, name: string): string {
  const lines = changes.map((c) => `  ${c.service}.nodeSelector: ${describeSelector(c.before)} -> ${describeSelector(c.after)}`);
  const offServer = changes.some((c) => String(c.after[ROLE_NODE_LABEL]) !== SERVER_ROLE);
  return [
    `override.yaml changes where stateful services run (at your own risk):`,
    ...lines,
    `These keep their data in local volumes on the server's data volume (/mnt/data/storage). ${
      offServer
        ? `Without ${ROLE_NODE_LABEL}=${SERVER_ROLE} such a pod may be scheduled on an agent, where it starts on an empty volume or stays Pending, and the data volume's snapshots and backups no longer hold its data.`
        : `A selector the server node (${SERVER_NODE_NAME}) does not match in full leaves the pod Pending.`
    }`,
    `To put them back, remove those keys from override.yaml (\`${program} config edit ${name}\`) or \`${program} config rollback ${name}\`.`,
  ].join('\n');
}
