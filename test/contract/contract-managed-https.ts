// The contract, part 9: HTTPS through the cloud's certificate and load balancer (tls --tls
// managed). The port's steps each look up what exists before they create (a second call answers
// the same ids and makes nothing new); the instance's 80/443 rules are taken away and answered, then
// put back exactly; findResources finds every part by the deployment's name; the removal in
// dependency order deletes everything, and a second removal does nothing. Where the certificate is
// issued once served (validation 'served-domain'), it is pending until the balancer serves it and the
// domain's A record points at the balancer's address, then issued. A cloud without it declares so
// (notYet); one whose emulator cannot run it declares that (cannotEmulate).
import { describe, expect, it } from 'vitest';
import { accessSpec, CIDR_A, instanceSpec, rejection, sortedRules, uniqueName, WAIT, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

const DOMAIN = 'sourcegraph.example.com';

export function managedHttpsContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('HTTPS through the cloud\'s certificate and load balancer (tls --tls managed)', () => {
    const notYet = opts.notYet?.['managed-https'];
    if (notYet !== undefined) {
      it(`declares no managed HTTPS yet, and has none: ${notYet}`, () => {
        expect(notYet.length).toBeGreaterThan(10);
        expect(env().cloud.managedHttps).toBeUndefined();
      });
      return;
    }
    const notEmulated = opts.cannotEmulate?.['managed-https'];
    if (notEmulated !== undefined) {
      it(`offers managed HTTPS, which its emulator cannot run through: ${notEmulated}`, () => {
        const managed = env().cloud.managedHttps;
        expect(typeof managed?.requestCertificate).toBe('function');
        expect(managed!.monthlyCost().parts.length).toBeGreaterThan(0);
      });
      return;
    }

    it('a certificate: one per install key (a retry answers it), pending at first, deleted once', async () => {
      const managed = env().cloud.managedHttps!;
      const name = uniqueName('cert');
      const id = await managed.requestCertificate(name, DOMAIN, 'install-1');
      expect(await managed.requestCertificate(name, DOMAIN, 'install-1')).toBe(id);
      const cert = await managed.describeCertificate(id);
      expect(cert).toMatchObject({ id, domain: DOMAIN, status: 'pending' });
      expect(cert!.notAfter).toBeUndefined();
      const cost = managed.monthlyCost();
      expect(cost.totalUsd).toBeGreaterThan(0);
      expect(cost.totalUsd).toBeCloseTo(cost.parts.reduce((s, p) => s + (p.monthlyUsd ?? 0), 0), 2);
      expect(await managed.deleteCertificate(id)).toBe('deleted');
      expect(await managed.deleteCertificate(id)).toBe('absent');
      expect(await managed.describeCertificate(id)).toBeUndefined();
    });

    it('the load balancer: every step idempotent; 80/443 taken and put back; found by name; removed in order, twice', async () => {
      const { cloud, bringDnsZone } = env();
      const managed = cloud.managedHttps!;
      const name = uniqueName('lb');
      const placement = await cloud.resolvePlacement(undefined, [env().zones[0]!]);
      const policy = await cloud.ensureAccessPolicy(accessSpec(name, placement, [{ port: 443, cidr: CIDR_A }, { port: 80, cidr: CIDR_A }]));
      const created = await cloud.ensureInstance(instanceSpec(env(), name, { accessPolicyIds: [policy.id], placement }));
      await cloud.waitForInstanceState(created.id, 'running', WAIT.instance);
      const zone = await bringDnsZone('example.com');

      const certId = await managed.requestCertificate(name, DOMAIN, 'install-1');
      const networks = await managed.ensureNetworks(name, created.id);
      expect(await managed.ensureNetworks(name, created.id)).toEqual(networks);
      const policyId = await managed.ensureBalancerPolicy(name, created.id, [CIDR_A]);
      expect(await managed.ensureBalancerPolicy(name, created.id, [CIDR_A])).toBe(policyId);
      const backendId = await managed.ensureBackend(name, created.id);
      expect(await managed.ensureBackend(name, created.id)).toBe(backendId);
      const balancer = await managed.ensureBalancer(name, networks.ids, policyId);
      expect(await managed.ensureBalancer(name, networks.ids, policyId)).toEqual(balancer);
      expect(await managed.describeBalancer(balancer.id)).toEqual(balancer);
      expect(balancer.dnsName).toMatch(/\S/);
      const listeners = await managed.ensureListeners(balancer.id, backendId, certId);
      expect(listeners).toHaveLength(2);
      expect(await managed.ensureListeners(balancer.id, backendId, certId)).toEqual(listeners);

      // upgrade, rollback and restore: another instance becomes the backend's only target, and back.
      const next = await cloud.ensureInstance(instanceSpec(env(), uniqueName('lb-next'), { accessPolicyIds: [policy.id], placement }));
      await cloud.waitForInstanceState(next.id, 'running', WAIT.instance);
      const moved = await managed.moveBackendTarget(backendId, next.id);
      expect(moved).not.toBe('absent');
      expect((moved as { deregistered: string[] }).deregistered).toHaveLength(1);
      expect(await managed.moveBackendTarget(backendId, next.id)).toEqual({ deregistered: [] });
      expect((await managed.moveBackendTarget(backendId, created.id) as { deregistered: string[] }).deregistered).toHaveLength(1);

      // The instance's 80/443: taken from the addresses they were open to (and answered), then put back.
      const replaced = await managed.limitInstanceAccess(created.id, policyId);
      expect(sortedRules(replaced.rules)).toEqual([`443 ${CIDR_A}`, `80 ${CIDR_A}`]);
      const limited = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id);
      expect((limited?.rules ?? []).filter((r) => r.cidr === CIDR_A)).toEqual([]);
      expect((await managed.limitInstanceAccess(created.id, policyId)).rules).toEqual([]);

      // The domain's record: an A record of the balancer's address, or an alias of its name.
      await managed.upsertAlias(zone, DOMAIN, balancer);
      if (balancer.ip) expect((await cloud.getARecord(zone, DOMAIN))?.values).toEqual([balancer.ip]);
      if (managed.validation === 'served-domain') {
        // Served and pointed at: issued (a real cloud takes minutes; an emulator a few reads).
        let cert = await managed.describeCertificate(certId);
        for (let i = 0; i < 5 && cert?.status !== 'issued'; i++) cert = await managed.describeCertificate(certId);
        expect(cert).toMatchObject({ status: 'issued', domain: DOMAIN });
        expect(cert!.notAfter).toMatch(/^\d{4}-\d\d-\d\dT/);
      }

      const found = await managed.findResources(name);
      expect(found.balancer?.id).toBe(balancer.id);
      expect(found.backendId).toBe(backendId);
      expect(found.policyIds).toContain(policyId);
      if (networks.created) expect(found.createdNetworks).toContain(networks.created);

      // Removal, in the order tls --remove uses; a part still in use is refused, never deleted under its user.
      if (opts.cannotEmulate?.['certificate-in-use'] === undefined) {
        const inUse = await rejection(managed.deleteCertificate(certId));
        expect(inUse.exitCode).toBe(1);
        expect(await managed.describeCertificate(certId)).toBeDefined();
      }
      expect(await managed.deleteAlias(zone, DOMAIN, balancer.dnsName)).toBe('deleted');
      await managed.restoreInstanceAccess(replaced, policyId);
      const restored = (await cloud.findDeployment(name)).accessPolicies.find((p) => p.id === policy.id)!;
      expect(sortedRules(restored.rules.filter((r) => r.cidr === CIDR_A))).toEqual([`443 ${CIDR_A}`, `80 ${CIDR_A}`]);
      for (let round = 0; round < 2; round++) {
        await managed.deleteListeners(balancer.id);
        await managed.deleteBalancer(balancer.id);
        await managed.deleteBackend(backendId);
        await managed.deleteBalancerPolicy(policyId);
        if (networks.created) await managed.deleteNetwork(networks.created);
        expect(await managed.deleteCertificate(certId)).toBe(round === 0 ? 'deleted' : 'absent');
      }
      expect(await managed.describeBalancer(balancer.id)).toBeUndefined();
      expect(await managed.findResources(name)).toEqual({ policyIds: [], createdNetworks: [] });
      expect(await managed.deleteAlias(zone, DOMAIN, balancer.dnsName)).toBe('absent');
      expect(await managed.moveBackendTarget(backendId, created.id)).toBe('absent');
    });
  });
}
