// Where the workloads run with agents: the label key shared by scale (agents), the boot service
// (server) and the tool's Helm values, and the warning `config` gives when override.yaml moves a
// stateful service off the server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { coalesce } from '../../src/commands/config-values.js';
import { ROLE_NODE_LABEL, SERVER_NODE_NAME, agentJoinScript } from '../../src/core/scale-plan.js';
import { SERVER_ROLE, STATEFUL_SERVICES, placementWarning, renderedNodeSelector, statefulPlacementChanges } from '../../src/core/workload-placement.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (...p: string[]) => readFileSync(join(ROOT, ...p), 'utf8');
const preset = (name: string) => parse(read('presets', 'helm', `${name}.yaml`)) as Record<string, Record<string, unknown>>;
const SERVER = { [ROLE_NODE_LABEL]: SERVER_ROLE };

describe('one node label for agents, the server and the Helm values', () => {
  it('provision/lib.sh names the same label key and server node as scale, and boot.sh sets role=server', () => {
    const lib = read('provision', 'lib.sh');
    expect(/^SG_ROLE_LABEL="([^"]+)"$/m.exec(lib)?.[1]).toBe(ROLE_NODE_LABEL);
    expect(/^SG_SERVER_NODE=(\S+)$/m.exec(lib)?.[1]).toBe(SERVER_NODE_NAME);
    expect(read('provision', 'boot.sh')).toContain(`kube label node "$SG_SERVER_NODE" "$SG_ROLE_LABEL=${SERVER_ROLE}" --overwrite`);
    // Agents join with the same key (=agent), so nothing stateful selects them.
    expect(agentJoinScript({ serverIp: '10.0.0.5', token: 't', nodeName: 'agent-i-1', deployment: 'd' })).toContain(`  - ${ROLE_NODE_LABEL}=agent`);
  });

  it('presets/helm/common.yaml pins exactly the stateful services to the server; the size files leave placement to it', () => {
    const common = preset('common');
    expect(Object.keys(common).sort()).toEqual([...STATEFUL_SERVICES].sort());
    for (const service of STATEFUL_SERVICES) expect(common[service], service).toEqual({ nodeSelector: SERVER });
    for (const size of ['XS', 'S', 'M', 'L', 'XL']) {
      const values = preset(size);
      for (const [key, component] of Object.entries(values)) {
        expect((component as Record<string, unknown> | null)?.nodeSelector, `${size}.yaml ${key}`).toBeUndefined();
      }
      // The stateless services the agents are for are free to move on every size.
      for (const free of ['frontend', 'searcher', 'symbols', 'worker', 'preciseCodeIntel', 'syntectServer']) {
        expect(renderedNodeSelector({ ...common, ...values }, free), `${size} ${free}`).toEqual({});
      }
    }
  });
});

describe('a stateful service moved by override.yaml', () => {
  const tool = { ...preset('common'), frontend: { replicaCount: 2 } };
  // Helm's merge (later wins, maps merge key by key, null removes), as `config` computes it.
  const merged = (override: Record<string, unknown>) => coalesce(tool, override);

  it('renders the service\'s own selector, else the global sourcegraph.nodeSelector, as the chart does', () => {
    expect(renderedNodeSelector(tool, 'pgsql')).toEqual(SERVER);
    expect(renderedNodeSelector({ pgsql: { nodeSelector: {} }, sourcegraph: { nodeSelector: { pool: 'a' } } }, 'pgsql')).toEqual({ pool: 'a' });
    expect(renderedNodeSelector({ pgsql: { nodeSelector: { x: 'y' } }, sourcegraph: { nodeSelector: { pool: 'a' } } }, 'pgsql')).toEqual({ x: 'y' });
    expect(renderedNodeSelector({}, 'pgsql')).toEqual({});
  });

  it('finds nothing when the file leaves the stateful services alone (a global selector does not beat their own)', () => {
    expect(statefulPlacementChanges(tool, merged({ frontend: { replicaCount: 3 } }))).toEqual([]);
    expect(statefulPlacementChanges(tool, merged({ sourcegraph: { nodeSelector: { pool: 'b' } } }))).toEqual([]);
  });

  it('names each removed or changed selector with what it was and what it becomes', () => {
    const changes = statefulPlacementChanges(tool, merged({ pgsql: { nodeSelector: null }, gitserver: { nodeSelector: { [ROLE_NODE_LABEL]: 'agent' } } }));
    expect(changes).toEqual([
      { service: 'pgsql', before: SERVER, after: {} },
      { service: 'gitserver', before: SERVER, after: { [ROLE_NODE_LABEL]: 'agent' } },
    ]);
    const text = placementWarning(changes, 'sourcegraph-launch', 'prod');
    expect(text).toContain('at your own risk');
    expect(text).toContain(`  pgsql.nodeSelector: ${ROLE_NODE_LABEL}=server -> none (any node)`);
    expect(text).toContain(`  gitserver.nodeSelector: ${ROLE_NODE_LABEL}=server -> ${ROLE_NODE_LABEL}=agent`);
    expect(text).toContain('may be scheduled on an agent');
    expect(text).toContain('`sourcegraph-launch config rollback prod`');
  });

  it('a selector that still names the server but adds a label is a change too (Pending unless the server has it)', () => {
    const changes = statefulPlacementChanges(tool, merged({ redisStore: { nodeSelector: { disktype: 'ssd' } } }));
    expect(changes).toEqual([{ service: 'redisStore', before: SERVER, after: { ...SERVER, disktype: 'ssd' } }]);
    const text = placementWarning(changes, 'sgl', 'prod');
    expect(text).toContain(`leaves the pod Pending`);
    expect(text).not.toContain('may be scheduled on an agent');
  });
});
