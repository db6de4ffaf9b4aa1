// The contract, part 9: HTTPS through a load balancer that takes the user's certificate (tls --tls
// managed where the cloud has no free certificate of its own: Azure's Application Gateway). The
// gateway's subnet is made once (created: true) and found again, the address and the gateway are
// found by name (a second ensure makes nothing new), the instance's 80/443 rules are read, limited to
// the gateway's subnet and restored exactly, findResources finds all of it without a journal, and
// each delete is idempotent. A cloud whose adapter lacks it declares it (notYet).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CIDR_A, launch, rejection, sortedRules, uniqueName, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

/** A self-signed certificate for the domain, made with openssl (no key material in the repository). */
function certificateFor(domain: string): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sgl-contract-gw-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '30', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain}`], { cwd: dir, stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function gatewayContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('HTTPS through a gateway with the user\'s certificate (tls --tls managed)', () => {
    const notYet = opts.notYet?.['gateway-https'];
    if (notYet !== undefined) {
      it(`declares no gateway with the user's certificate, and has none: ${notYet}`, () => {
        expect(notYet.length).toBeGreaterThan(10);
        expect(env().cloud.gatewayHttps).toBeUndefined();
      });
      return;
    }

    it('subnet, address and gateway made once and found by name; the instance\'s rules limited and restored; all deleted', async () => {
      const { cloud } = env();
      const gw = cloud.gatewayHttps!;
      const name = uniqueName('gw');
      const domain = 'sourcegraph.example.com';
      const { instance, policy } = await launch(env(), name);
      await cloud.ensureAccessPolicy({ deployment: name, labels: { deployment: name, role: 'access-policy', managed: 'true' }, name: `sourcegraph-launch-${name}`, placement: { zone: env().zones[0], subnetId: instance.subnetId! }, rules: [{ port: 443, cidr: CIDR_A }, { port: 80, cidr: CIDR_A }] });
      expect(gw.monthlyCost().parts.length).toBeGreaterThan(0);

      const subnet = await gw.ensureSubnet(name, instance.id);
      expect(subnet).toMatchObject({ created: true, prefix: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/) });
      expect(await gw.ensureSubnet(name, instance.id)).toEqual(subnet);
      const address = await gw.ensureAddress(name);
      expect(address.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(await gw.ensureAddress(name)).toEqual(address);
      // The gateway's address is not the deployment's.
      expect((await cloud.findDeployment(name)).addresses.map((a) => a.id)).not.toContain(address.id);

      // A certificate that is not the key's is refused by the cloud, and nothing is left of it.
      const good = certificateFor(domain);
      const other = certificateFor(domain);
      const spec = { deployment: name, domain, subnetId: subnet.id, addressId: address.id, backendIp: instance.privateIp!, certificate: { certPem: good.certPem, keyPem: other.keyPem } };
      await rejection(gw.ensureGateway(spec, 60_000));
      expect((await gw.findResources(name)).gatewayId).toBeUndefined();

      const made = await gw.ensureGateway({ ...spec, certificate: good }, 60_000);
      expect(await gw.ensureGateway({ ...spec, certificate: good }, 60_000)).toEqual(made);

      const access = await gw.readInstanceAccess(instance.id);
      expect(access.policyId).toBe(policy.id);
      expect(sortedRules(access.rules)).toEqual([`443 ${CIDR_A}`, `80 ${CIDR_A}`]);
      await gw.limitInstanceAccess(access, subnet.prefix);
      await gw.limitInstanceAccess(access, subnet.prefix);
      expect(sortedRules((await gw.readInstanceAccess(instance.id)).rules)).toEqual([`443 ${subnet.prefix}`, `80 ${subnet.prefix}`]);

      expect(await gw.findResources(name)).toEqual({ gatewayId: made.id, addressId: address.id, addressIp: address.ip, subnetId: subnet.id });

      // upgrade's new instance: the backend pool follows its private address; a second move changes nothing.
      expect(await gw.moveBackend(made.id, instance.id, 60_000)).toEqual({ backendIp: instance.privateIp, replaced: [] });
      const { instance: next } = await launch(env(), uniqueName('gw-next'));
      expect(next.privateIp).not.toBe(instance.privateIp);
      expect(await gw.moveBackend(made.id, next.id, 60_000)).toEqual({ backendIp: next.privateIp, replaced: [instance.privateIp] });
      expect(await gw.moveBackend(made.id, next.id, 60_000)).toEqual({ backendIp: next.privateIp, replaced: [] });

      await gw.restoreInstanceAccess(access);
      expect(sortedRules((await gw.readInstanceAccess(instance.id)).rules)).toEqual([`443 ${CIDR_A}`, `80 ${CIDR_A}`]);
      // The order removal keeps: the gateway holds its address and its subnet.
      await gw.deleteGateway(made.id);
      await gw.deleteGateway(made.id);
      expect(await gw.moveBackend(made.id, next.id, 60_000)).toBe('absent');
      await gw.deleteAddress(address.id);
      await gw.deleteAddress(address.id);
      await gw.deleteSubnet(subnet.id);
      await gw.deleteSubnet(subnet.id);
      expect(await gw.findResources(name)).toEqual({});
    });
  });
}
