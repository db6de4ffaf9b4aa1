// The pure part of `scale`: the plan (newest removed first), node names, the node list, the scripts.
import { describe, expect, it } from 'vitest';
import { agentJoinScript, agentNodeName, agentUserData, drainScript, parseAgentCount, parseNodes, planScale, serverAgentTokenScript } from '../../src/core/scale-plan.js';

const agents = [
  { id: 'i-b', launchTime: '2026-11-02T00:00:00Z', machineType: 'm6a.2xlarge' },
  { id: 'i-a', launchTime: '2026-11-01T00:00:00Z', machineType: 'm6a.2xlarge' },
  { id: 'i-c', launchTime: '2026-11-03T00:00:00Z', machineType: 'm6a.2xlarge' },
];

describe('planScale', () => {
  it.each([
    [5, { keep: ['i-a', 'i-b', 'i-c'], add: 2, remove: [] }],
    [3, { keep: ['i-a', 'i-b', 'i-c'], add: 0, remove: [] }],
    [1, { keep: ['i-a'], add: 0, remove: ['i-c', 'i-b'] }],
    [0, { keep: [], add: 0, remove: ['i-c', 'i-b', 'i-a'] }],
  ])('to %i agents', (target, want) => {
    expect(planScale(agents, target)).toEqual({ target, ...want });
  });

  it('parses --agents as a whole number up to the limit', () => {
    expect(parseAgentCount('0')).toBe(0);
    expect(parseAgentCount(' 3 ')).toBe(3);
    for (const bad of ['', '1.5', '-1', 'x', '21', undefined]) expect(() => parseAgentCount(bad)).toThrow(/--agents/);
  });
});

describe('agent nodes', () => {
  it('names a node after its VM within Kubernetes\' rules', () => {
    expect(agentNodeName('i-0ABC123')).toBe('agent-i-0abc123');
    expect(agentNodeName('/subscriptions/x/vm_1')).toBe('agent-subscriptions-x-vm-1');
    expect(agentNodeName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
    // Azure's VM ids share a long prefix: each still gets its own name (its VM name and a hash of the id).
    const vm = (name: string) => `/subscriptions/00000000-0000-4000-8000-00000000a2e1/resourceGroups/sourcegraph-prod/providers/Microsoft.Compute/virtualMachines/${name}`;
    const [a, b] = [agentNodeName(vm('prod-a1b2c3')), agentNodeName(vm('prod-d4e5f6'))];
    expect(a).toMatch(/^agent-prod-a1b2c3-[0-9a-f]{8}$/);
    expect(b).not.toBe(a);
    expect(agentNodeName(vm('prod-a1b2c3'))).toBe(a);
  });

  it('reads readiness, version and role from kubectl get nodes -o json', () => {
    const json = JSON.stringify({
      items: [
        { metadata: { name: 'sourcegraph-0', labels: {} }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.31.4+k3s1' } } },
        { metadata: { name: 'agent-i-1', labels: { 'sourcegraph-launch/role': 'agent' } }, status: { conditions: [{ type: 'MemoryPressure', status: 'True' }, { type: 'Ready', status: 'False' }] } },
      ],
    });
    expect(parseNodes(json)).toEqual([
      { name: 'sourcegraph-0', ready: true, version: 'v1.31.4+k3s1', role: 'server' },
      { name: 'agent-i-1', ready: false, role: 'agent' },
    ]);
    expect(parseNodes('not json')).toEqual([]);
  });

  it('keeps the token out of everything but the agent\'s 0600 config, and refuses a token that could break the file', () => {
    expect(serverAgentTokenScript()).not.toMatch(/echo "\$\(cat/);
    expect(serverAgentTokenScript()).toContain('chmod 600');
    expect(agentUserData('prod')).not.toMatch(/token/i);
    const join = agentJoinScript({ serverIp: '10.0.0.5', token: 'abc123', nodeName: 'agent-i-1', deployment: 'prod' });
    expect(join).toContain('token: abc123');
    expect(join).toContain('umask 077');
    expect(join).toContain('server: https://10.0.0.5:6443');
    expect(() => agentJoinScript({ serverIp: '10.0.0.5', token: "a'\nb", nodeName: 'n', deployment: 'prod' })).toThrow(/unexpected characters/);
    expect(() => agentJoinScript({ serverIp: '10.0.0.5; rm -rf /', token: 'a', nodeName: 'n', deployment: 'prod' })).toThrow();
  });

  it('drains with the flags the issue names and deletes the node only after', () => {
    const s = drainScript('agent-i-1', 90);
    expect(s).toContain('k3s kubectl drain agent-i-1 --ignore-daemonsets --delete-emptydir-data --timeout=90s');
    expect(s.indexOf('drain agent-i-1')).toBeLessThan(s.indexOf('delete node agent-i-1'));
  });
});
