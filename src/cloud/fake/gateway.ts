// The fake's gateway with the user's certificate (tls --tls managed where the cloud's balancer takes
// your certificate): offered by the fake "as Azure" only, as the Azure adapter offers it. In memory:
// the gateway's own subnet, its address, the gateway (which refuses a certificate whose key is not
// its own, as the cloud does), and the instance's 80/443 rules in the world's access policies.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CloudError } from '../../core/errors.js';
import type { AccessRule, GatewayHttps, GatewaySpec, ManagedHttpsCost, ReplacedAccess } from '../port.js';
import type { World } from './world.js';

interface GatewayRecord {
  id: string;
  deployment: string;
  domain: string;
  subnetId: string;
  addressId: string;
  backendIp: string;
}

export class FakeGatewayHttps implements GatewayHttps {
  readonly subnets = new Map<string, { id: string; prefix: string; deployment: string }>();
  readonly addresses = new Map<string, { id: string; ip: string; deployment: string }>();
  readonly gateways = new Map<string, GatewayRecord>();
  private next = 0;

  constructor(
    private readonly world: World,
    private readonly region: string,
  ) {}

  monthlyCost(): ManagedHttpsCost {
    const parts = [
      { item: 'gateway', detail: 'the fake\'s own figure', monthlyUsd: 100 },
      { item: 'public address', detail: 'the fake\'s own figure', monthlyUsd: 4 },
    ];
    return { region: this.region, parts, totalUsd: 104, assumptions: ['nothing: the fake has no prices'], priceDate: '2026-01-01', source: ['the fake cloud'] };
  }

  private instance(instanceId: string) {
    const rec = this.world.instances.get(instanceId);
    if (!rec || rec.state === 'terminated') throw new CloudError('instance-not-found', `Instance ${instanceId} is not there`);
    return rec;
  }

  async ensureSubnet(deployment: string, instanceId: string) {
    this.instance(instanceId);
    const found = [...this.subnets.values()].find((s) => s.deployment === deployment);
    if (found) return { id: found.id, prefix: found.prefix, created: true };
    const n = ++this.next;
    const subnet = { id: `subnet-gw-${deployment}`, prefix: `10.99.${n}.0/24`, deployment };
    this.subnets.set(subnet.id, subnet);
    return { id: subnet.id, prefix: subnet.prefix, created: true };
  }

  async deleteSubnet(id: string): Promise<void> {
    if ([...this.gateways.values()].some((g) => g.subnetId === id)) throw new CloudError('subnet-in-use', `The subnet ${id} holds a gateway`);
    this.subnets.delete(id);
  }

  async ensureAddress(deployment: string) {
    const found = [...this.addresses.values()].find((a) => a.deployment === deployment);
    if (found) return { id: found.id, ip: found.ip };
    const address = { id: `addr-gw-${deployment}`, ip: this.world.nextIp('198.51.100'), deployment };
    this.addresses.set(address.id, address);
    return { id: address.id, ip: address.ip };
  }

  async deleteAddress(id: string): Promise<void> {
    if ([...this.gateways.values()].some((g) => g.addressId === id)) throw new CloudError('address-in-use', `The address ${id} is held by a gateway`);
    this.addresses.delete(id);
  }

  async ensureGateway(spec: GatewaySpec, _timeoutMs: number): Promise<{ id: string }> {
    const id = `gw-${spec.deployment}`;
    if (this.gateways.has(id)) return { id };
    if (!this.subnets.has(spec.subnetId)) throw new CloudError('invalid-reference', `No subnet ${spec.subnetId}`);
    if (!this.addresses.has(spec.addressId)) throw new CloudError('invalid-reference', `No address ${spec.addressId}`);
    if (!('certPem' in spec.certificate)) throw new CloudError('not-supported', 'The fake keeps no certificates by reference');
    const { certPem, keyPem } = spec.certificate;
    let matches = false;
    try {
      matches = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
    } catch {
      matches = false;
    }
    if (!matches) throw new CloudError('invalid-certificate', 'The certificate\'s data holds no certificate with its private key');
    this.gateways.set(id, { id, deployment: spec.deployment, domain: spec.domain, subnetId: spec.subnetId, addressId: spec.addressId, backendIp: spec.backendIp });
    return { id };
  }

  async deleteGateway(id: string): Promise<void> {
    this.gateways.delete(id);
  }

  async moveBackend(gatewayId: string, instanceId: string, _timeoutMs: number): Promise<{ backendIp: string; replaced: string[] } | 'absent'> {
    const backendIp = this.instance(instanceId).privateIp;
    if (!backendIp) throw new CloudError('no-private-address', `Instance ${instanceId} has no private address`);
    const gw = this.gateways.get(gatewayId);
    if (!gw) return 'absent';
    const replaced = gw.backendIp === backendIp ? [] : [gw.backendIp];
    gw.backendIp = backendIp;
    return { backendIp, replaced };
  }

  async readInstanceAccess(instanceId: string): Promise<ReplacedAccess> {
    const policyId = this.instance(instanceId).accessPolicyIds[0];
    const policy = policyId ? this.world.policies.get(policyId) : undefined;
    if (!policy) throw new CloudError('access-policy-missing', `Instance ${instanceId} has no access policy`);
    return { policyId: policy.id, rules: policy.rules.filter((r) => r.port === 80 || r.port === 443).map((r) => ({ port: r.port, cidr: r.cidr })) };
  }

  private setSources(policyId: string, ports: Set<number>, rules: AccessRule[]): void {
    const policy = this.world.policies.get(policyId);
    if (!policy) throw new CloudError('access-policy-missing', `No access policy ${policyId}`);
    const kept = policy.rules.filter((r) => !ports.has(r.port));
    const seen = new Set<string>();
    policy.rules = [...kept, ...rules.filter((r) => !seen.has(`${r.port} ${r.cidr}`) && seen.add(`${r.port} ${r.cidr}`))];
  }

  async limitInstanceAccess(access: ReplacedAccess, sourceCidr: string): Promise<void> {
    const ports = new Set(access.rules.map((r) => r.port));
    this.setSources(access.policyId, ports, [...ports].map((port) => ({ port, cidr: sourceCidr })));
  }

  async restoreInstanceAccess(access: ReplacedAccess): Promise<void> {
    this.setSources(access.policyId, new Set(access.rules.map((r) => r.port)), access.rules);
  }

  async findResources(deployment: string) {
    const gateway = [...this.gateways.values()].find((g) => g.deployment === deployment);
    const address = [...this.addresses.values()].find((a) => a.deployment === deployment);
    const subnet = [...this.subnets.values()].find((s) => s.deployment === deployment);
    return { ...(gateway ? { gatewayId: gateway.id } : {}), ...(address ? { addressId: address.id, addressIp: address.ip } : {}), ...(subnet ? { subnetId: subnet.id } : {}) };
  }
}
