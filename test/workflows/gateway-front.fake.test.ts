// What upgrade, rollback and restore read of `tls --tls managed`'s record on Azure (the journal of
// tls-gateway) and the step they run with it, on the fake "as Azure": the gateway's id is the
// backend to move, the readiness wait asks https://<domain>/healthz (dialling the gateway's public IP
// while the domain does not resolve) once installed, and move-balancer-target makes the new
// instance's private address the gateway's only backend; a load balancer's record still gives its
// target group, and a gateway not made yet gives nothing to move.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFakeCloud } from '../../src/cloud/fake/index.js';
import type { DeploymentRecord } from '../../src/state/store.js';
import { balancerFrontOf, managedHealth, moveBalancerTargetStep } from '../../src/workflows/shared.js';
import { launch, type ContractEnvironment } from '../contract/contract-env.js';

const DOMAIN = 'sourcegraph.example.com';
const GW = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/applicationGateways/web-appgw';

function gatewayRecord(gatewayDone: boolean, installed: boolean): Pick<DeploymentRecord, 'tlsManaged'> {
  const done = (result: Record<string, string>) => ({ status: 'done', result });
  return {
    tlsManaged: {
      domain: DOMAIN,
      url: `https://${DOMAIN}`,
      ...(installed ? { installedAt: '2026-11-28T12:00:00Z' } : {}),
      journal: {
        command: 'tls-gateway',
        steps: { address: done({ addressId: 'pip', ip: '198.51.100.9' }), ...(gatewayDone ? { gateway: done({ gatewayId: GW }) } : {}) },
      },
    } as unknown as DeploymentRecord['tlsManaged'],
  };
}

describe('the gateway of tls --tls managed on Azure, for upgrade, rollback and restore', () => {
  it('balancerFrontOf gives the gateway (its IP to dial) once made, and the HTTPS /healthz once installed', () => {
    expect(balancerFrontOf(gatewayRecord(true, true))).toEqual({ backendId: GW, gateway: true, healthUrl: `https://${DOMAIN}/healthz`, healthVia: '198.51.100.9' });
    expect(managedHealth(gatewayRecord(true, true))).toEqual({ url: `https://${DOMAIN}/healthz`, via: '198.51.100.9' });
    expect(balancerFrontOf(gatewayRecord(true, false))).toEqual({ backendId: GW, gateway: true });
    expect(balancerFrontOf(gatewayRecord(false, false))).toBeUndefined();
    const lb = { tlsManaged: { domain: DOMAIN, url: `https://${DOMAIN}`, installedAt: 'x', journal: { command: 'tls-managed', steps: { backend: { status: 'done', result: { backendId: 'tg/sgl-web-443/1' } }, balancer: { status: 'done', result: { dnsName: 'lb.example' } } } } } } as unknown as Pick<DeploymentRecord, 'tlsManaged'>;
    expect(balancerFrontOf(lb)).toEqual({ backendId: 'tg/sgl-web-443/1', healthUrl: `https://${DOMAIN}/healthz`, healthVia: 'lb.example' });
  });

  it('move-balancer-target puts the new instance\'s private address in the gateway\'s pool; again, nothing changes; a deleted gateway is skipped', async () => {
    const fake = createFakeCloud({ profile: 'azure', images: [{ id: 'img', name: 'Sourcegraph v6.12.5040', version: '6.12.5040', kind: 'published' }] });
    const [a, b] = fake.world.opts.zones;
    const env = { cloud: fake, image: { id: 'img', version: '6.12.5040' }, machineType: 'standard-8', zones: [a!, b!], rootDisk: { sizeGiB: 50, type: 'ssd' }, dataDisk: { sizeGiB: 500, type: 'ssd' }, loginUser: 'sourcegraph', scheduleParams: {} } as unknown as ContractEnvironment;
    const gw = fake.gatewayHttps!;
    const { instance: old } = await launch(env, 'web');
    const subnet = await gw.ensureSubnet('web', old.id);
    const address = await gw.ensureAddress('web');
    const dir = mkdtempSync(join(tmpdir(), 'sgl-gw-front-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '30', '-subj', `/CN=${DOMAIN}`], { cwd: dir, stdio: 'ignore' });
    const certificate = { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
    rmSync(dir, { recursive: true, force: true });
    const made = await gw.ensureGateway({ deployment: 'web', domain: DOMAIN, subnetId: subnet.id, addressId: address.id, backendIp: old.privateIp!, certificate }, 60_000);
    const { instance: fresh } = await launch(env, 'web-next');

    const step = moveBalancerTargetStep<{ to: string }>(fake, { backendId: made.id, gateway: true }, (c) => c.to, 'move-balancer-target', 60_000);
    expect(step.title).toContain('application gateway');
    expect(await step.run({ to: fresh.id })).toMatchObject({ result: { instanceId: fresh.id, backendIp: fresh.privateIp, deregistered: old.privateIp } });
    expect(gw.gateways.get(made.id)!.backendIp).toBe(fresh.privateIp);
    expect(await step.run({ to: fresh.id })).toMatchObject({ result: { backendIp: fresh.privateIp, deregistered: '' } });
    await gw.deleteGateway(made.id);
    expect(await step.run({ to: fresh.id })).toMatchObject({ summary: expect.stringContaining('no longer exists') });
  });
});
