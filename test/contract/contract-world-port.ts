// The contract, part 7: a port open to the world for one purpose (`tls --tls acme` HTTP-01: Let's
// Encrypt connects to 80 from anywhere). The rule is marked so that a launch re-run
// (ensureAccessPolicy, which governs 22/80/443) keeps it, and closeWorldPort removes only it, never
// a rule of the user's to the same CIDR. A cloud whose adapter lacks it declares it (notYet).
import { describe, expect, it } from 'vitest';
import { accessSpec, CIDR_A, sortedRules, uniqueName, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

export function worldPortContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('a port open to the world for one purpose (tls --tls acme)', () => {
    const notYet = opts.notYet?.['world-port'];
    if (notYet !== undefined) {
      it(`declares no world port yet, and has none: ${notYet}`, () => {
        expect(notYet.length).toBeGreaterThan(10);
        expect(env().cloud.openWorldPort).toBeUndefined();
        expect(env().cloud.closeWorldPort).toBeUndefined();
      });
      return;
    }

    it('openWorldPort marks its rule, a launch re-run keeps it, closeWorldPort removes only it', async () => {
      const { cloud } = env();
      const name = uniqueName('world');
      const placement = await cloud.resolvePlacement(undefined, [env().zones[0]!]);
      const policy = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }, { port: 80, cidr: CIDR_A }]));
      expect(await cloud.openWorldPort!(policy.id, 80, 'acme-http-01')).toBe('opened');
      expect(await cloud.openWorldPort!(policy.id, 80, 'acme-http-01')).toBe('opened');
      const listed = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id)!;
      expect(sortedRules(listed.rules)).toEqual([`443 ${CIDR_A}`, '80 0.0.0.0/0', `80 ${CIDR_A}`]);
      expect(listed.rules.find((r) => r.cidr === '0.0.0.0/0')?.purpose).toBe('acme-http-01');
      expect(listed.rules.filter((r) => r.cidr !== '0.0.0.0/0').every((r) => r.purpose === undefined)).toBe(true);
      // A launch re-run with narrower HTTP access: the marked rule stays, the dropped CIDR goes.
      const again = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }]));
      expect(sortedRules(again.rules)).toEqual([`443 ${CIDR_A}`, '80 0.0.0.0/0']);
      expect(await cloud.closeWorldPort!(policy.id, 80, 'acme-http-01')).toBe('closed');
      expect(await cloud.closeWorldPort!(policy.id, 80, 'acme-http-01')).toBe('absent');
      const after = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id)!;
      expect(sortedRules(after.rules)).toEqual([`443 ${CIDR_A}`]);
    });

    it("a user's own rule to the world is 'already-open': nothing made, and closeWorldPort leaves it", async () => {
      const { cloud } = env();
      const name = uniqueName('world-user');
      const placement = await cloud.resolvePlacement(undefined, [env().zones[0]!]);
      const policy = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 80, cidr: '0.0.0.0/0' }]));
      expect(await cloud.openWorldPort!(policy.id, 80, 'acme-http-01')).toBe('already-open');
      expect(await cloud.closeWorldPort!(policy.id, 80, 'acme-http-01')).toBe('absent');
      const after = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id)!;
      expect(after.rules).toEqual([{ port: 80, cidr: '0.0.0.0/0' }]);
    });
  });
}
