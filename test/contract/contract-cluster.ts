// The contract, part 6: k3s agent nodes (`scale`). The cluster ports open only to the deployment's
// own policy (never a CIDR) and leave every other rule alone; an agent is an instance in role
// "agent" in the server's placement and policy, listed with the deployment apart from its serving
// instance, and goes with terminateInstance. A cloud whose adapter has no cluster access yet
// declares it (notYet, with the reason); the suite then checks that it indeed has none.
import { describe, expect, it } from 'vitest';
import { CLUSTER_PORTS } from '../../src/cloud/port.js';
import { accessSpec, CIDR_A, instanceSpec, labelsFor, launch, sortedRules, uniqueName, WAIT, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

const AGENT_USER_DATA = Buffer.from('#cloud-boothook\n#!/bin/sh\ntrue\n').toString('base64');

export function clusterContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('k3s agent nodes (scale)', () => {
    const notYet = opts.notYet?.['cluster-access'];
    if (notYet !== undefined) {
      it(`declares no cluster access yet, and has none: ${notYet}`, () => {
        expect(notYet.length).toBeGreaterThan(10);
        expect(env().cloud.ensureClusterAccess).toBeUndefined();
      });
      return;
    }

    it('ensureClusterAccess opens 6443/tcp, 8472/udp and 10250/tcp to the policy itself, idempotently, leaving the CIDR rules as they were', async () => {
      const { cloud } = env();
      const name = uniqueName('cluster');
      const { policy, placement } = await launch(env(), name);
      const cluster = await cloud.ensureClusterAccess!(policy.id);
      const shown = (cluster.clusterRules ?? []).map((r) => `${r.port}/${r.protocol} from ${r.sourcePolicyId}`).sort();
      expect(shown).toEqual(CLUSTER_PORTS.map((p) => `${p.port}/${p.protocol} from ${policy.id}`).sort());
      expect(sortedRules(cluster.rules)).toEqual([`443 ${CIDR_A}`]);
      await cloud.ensureClusterAccess!(policy.id);
      // A launch re-run governs 22/80/443 only: the cluster rules stay.
      const again = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }]));
      expect((again.clusterRules ?? []).length).toBe(CLUSTER_PORTS.length);
      const listed = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id);
      expect((listed?.clusterRules ?? []).length).toBe(CLUSTER_PORTS.length);
      expect(listed?.rules.some((r) => [6443, 8472, 10250].includes(r.port))).toBe(false);
    });

    it('an agent is an instance in role agent in the server\'s placement and policy, listed apart from the serving instance, and goes with terminateInstance', async () => {
      const { cloud } = env();
      const name = uniqueName('agent');
      const server = await launch(env(), name);
      const spec = {
        ...instanceSpec(env(), name, {
          placement: server.placement,
          accessPolicyIds: [server.policy.id],
          role: 'agent',
          dataDisk: { mode: 'none' },
          keepDataDisk: false,
          labels: labelsFor(env(), name, 'agent', { operation: 'agent-ct-1' }),
          idempotencyKey: `${name}-agent-1`,
        }),
        userDataBase64: AGENT_USER_DATA,
      };
      const agent = await cloud.ensureInstance(spec);
      await cloud.waitForInstanceState(agent.id, 'running', WAIT.instance);
      // Found again by its key: a resumed scale never launches it twice.
      expect((await cloud.ensureInstance(spec)).id).toBe(agent.id);
      const d = await cloud.findDeployment(name);
      expect(d.instance?.id).toBe(server.instance.id);
      const listed = d.otherInstances.find((i) => i.id === agent.id);
      expect(listed?.labels.role).toBe('agent');
      expect(listed?.zone).toBe(server.instance.zone);
      expect(listed?.accessPolicyIds).toContain(server.policy.id);
      expect(listed?.disks.filter((x) => x.role === 'data')).toEqual([]);
      await cloud.terminateInstance(agent.id);
      await cloud.waitForInstanceState(agent.id, 'terminated', WAIT.instance);
      const after = await cloud.findDeployment(name);
      expect(after.otherInstances.some((i) => i.id === agent.id)).toBe(false);
      expect(after.instance?.id).toBe(server.instance.id);
    });
  });
}
