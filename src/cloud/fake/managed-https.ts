// The fake cloud's managed HTTPS (tls --tls managed), modelled on the clouds whose certificate is
// issued once the load balancer serves it (validation 'served-domain', as GCE): a certificate is
// pending until listeners serve it on the balancer's address and the domain's A record in one of the
// fake's zones points at that address; then it is issued for 90 days. Every part is found by the
// deployment's name, so each ensure is idempotent; a part another one uses cannot be deleted
// (`resource-in-use`), so only the dependency order works; deleting what is gone does nothing.
// The instance's 80/443 rules are taken off its access policy by limitInstanceAccess (answered, so
// restoreInstanceAccess puts them back).
import { CloudError } from '../../core/errors.js';
import { normalizeDnsName } from '../dns-names.js';
import type { AccessRule, DnsZone, ManagedBalancer, ManagedCertificate, ManagedHttps, ManagedHttpsCost, ReplacedAccess } from '../port.js';
import type { FakeDns } from './dns.js';
import type { World } from './world.js';

const VALIDITY_MS = 90 * 24 * 3600_000;

interface Parts {
  certificates: Map<string, { domain: string; issuedAt?: number }>;
  groups: Map<string, { instanceId: string }>;
  policies: Set<string>;
  backends: Map<string, { group: string }>;
  balancers: Map<string, { ip: string }>;
  listeners: Map<string, { backendId: string; certificateId: string }>;
}

export class FakeManagedHttps implements ManagedHttps {
  readonly validation = 'served-domain' as const;
  readonly parts: Parts = { certificates: new Map(), groups: new Map(), policies: new Set(), backends: new Map(), balancers: new Map(), listeners: new Map() };

  constructor(
    private readonly world: World,
    private readonly dns: FakeDns,
  ) {}

  monthlyCost(): ManagedHttpsCost {
    return { region: this.world.opts.region, parts: [{ item: 'load balancer', detail: 'the fake\'s, billed hourly', monthlyUsd: 20 }], totalUsd: 20, assumptions: ['a fake price'], priceDate: '2026-01-01', source: ['the fake cloud'] };
  }

  describePlan(domain: string, zone: DnsZone | undefined): string[] {
    return [`a certificate and a load balancer of the fake cloud for ${domain}`, zone ? `the A record in ${zone.name}` : 'the A record printed'];
  }

  private inUse(what: string, by: string): never {
    throw new CloudError('resource-in-use', `${what} is still used by ${by}`, { remediation: 'Delete what uses it first.' });
  }

  async requestCertificate(deployment: string, domain: string, idempotencyKey: string): Promise<string> {
    const id = `cert-${deployment}-${idempotencyKey}`;
    if (!this.parts.certificates.has(id)) this.parts.certificates.set(id, { domain: normalizeDnsName(domain) });
    return id;
  }

  async describeCertificate(id: string): Promise<ManagedCertificate | undefined> {
    const cert = this.parts.certificates.get(id);
    if (!cert) return undefined;
    if (cert.issuedAt === undefined && this.served(id, cert.domain)) cert.issuedAt = this.world.clock.now();
    const issued = cert.issuedAt !== undefined;
    return {
      id,
      domain: cert.domain,
      status: issued ? 'issued' : 'pending',
      validation: [],
      ...(issued ? { notAfter: new Date(cert.issuedAt! + VALIDITY_MS).toISOString(), renewal: 'automatic' } : {}),
    };
  }

  /** Served: a listener has it, on a balancer whose address the domain's A record holds. */
  private served(certificateId: string, domain: string): boolean {
    const zone = this.dns.findZone(domain);
    const record = zone && this.dns.get(zone.id, domain);
    return [...this.parts.listeners].some(([balancerId, l]) => l.certificateId === certificateId && record?.values.includes(this.parts.balancers.get(balancerId)?.ip ?? ''));
  }

  async deleteCertificate(id: string): Promise<'deleted' | 'absent'> {
    const user = [...this.parts.listeners].find(([, l]) => l.certificateId === id);
    if (user) this.inUse(id, `the listeners of ${user[0]}`);
    return this.parts.certificates.delete(id) ? 'deleted' : 'absent';
  }

  async ensureNetworks(deployment: string, instanceId: string): Promise<{ ids: string[]; created?: string }> {
    if (!this.world.instances.has(instanceId)) throw new CloudError('instance-not-found', `Instance ${instanceId} is not there`);
    const id = `group-${deployment}`;
    this.parts.groups.set(id, { instanceId });
    return { ids: [id], created: id };
  }

  async deleteNetwork(id: string): Promise<void> {
    const user = [...this.parts.backends].find(([, b]) => b.group === id);
    if (user) this.inUse(id, user[0]);
    this.parts.groups.delete(id);
  }

  async ensureBalancerPolicy(deployment: string): Promise<string> {
    const id = `lb-policy-${deployment}`;
    this.parts.policies.add(id);
    return id;
  }

  async deleteBalancerPolicy(id: string): Promise<void> {
    this.parts.policies.delete(id);
  }

  async ensureBackend(deployment: string): Promise<string> {
    const id = `backend-${deployment}`;
    const group = `group-${deployment}`;
    if (!this.parts.groups.has(group)) throw new CloudError('resource-not-found', `No instance group ${group}`);
    this.parts.backends.set(id, { group });
    return id;
  }

  async moveBackendTarget(backendId: string, instanceId: string): Promise<{ deregistered: string[] } | 'absent'> {
    const backend = this.parts.backends.get(backendId);
    if (!backend) return 'absent';
    if (!this.world.instances.has(instanceId)) throw new CloudError('instance-not-found', `Instance ${instanceId} is not there`);
    const group = this.parts.groups.get(backend.group);
    const before = group?.instanceId;
    this.parts.groups.set(backend.group, { instanceId });
    return { deregistered: before && before !== instanceId ? [before] : [] };
  }

  async deleteBackend(id: string): Promise<void> {
    const user = [...this.parts.listeners].find(([, l]) => l.backendId === id);
    if (user) this.inUse(id, `the listeners of ${user[0]}`);
    this.parts.backends.delete(id);
  }

  async ensureBalancer(deployment: string): Promise<ManagedBalancer> {
    const id = `lb-${deployment}`;
    if (!this.parts.balancers.has(id)) this.parts.balancers.set(id, { ip: this.world.nextIp('192.0.2') });
    return (await this.describeBalancer(id))!;
  }

  async describeBalancer(id: string): Promise<ManagedBalancer | undefined> {
    const b = this.parts.balancers.get(id);
    return b && { id, dnsName: b.ip, dnsZoneId: '', state: 'active', ip: b.ip };
  }

  async deleteBalancer(id: string): Promise<void> {
    if (this.parts.listeners.has(id)) this.inUse(id, 'its listeners');
    this.parts.balancers.delete(id);
  }

  async ensureListeners(balancerId: string, backendId: string, certificateId: string): Promise<string[]> {
    if (!this.parts.balancers.has(balancerId) || !this.parts.backends.has(backendId) || !this.parts.certificates.has(certificateId)) {
      throw new CloudError('resource-not-found', `The balancer, backend or certificate of the listeners is not there (${balancerId}, ${backendId}, ${certificateId})`);
    }
    this.parts.listeners.set(balancerId, { backendId, certificateId });
    return [`${balancerId}/443`, `${balancerId}/80`];
  }

  async deleteListeners(balancerId: string): Promise<void> {
    this.parts.listeners.delete(balancerId);
  }

  /** The deployment's own policy of the instance (not the balancer's). */
  private instancePolicy(instanceId: string) {
    const instance = this.world.instances.get(instanceId);
    const policy = instance?.accessPolicyIds.map((id) => this.world.policies.get(id)).find((p) => p !== undefined);
    if (!policy) throw new CloudError('access-policy-missing', `Instance ${instanceId} has no access policy`);
    return policy;
  }

  async limitInstanceAccess(instanceId: string): Promise<ReplacedAccess> {
    const policy = this.instancePolicy(instanceId);
    const rules: AccessRule[] = policy.rules.filter((r) => r.port === 80 || r.port === 443).map((r) => ({ port: r.port, cidr: r.cidr }));
    policy.rules = policy.rules.filter((r) => r.port !== 80 && r.port !== 443);
    return { policyId: policy.id, rules };
  }

  async restoreInstanceAccess(replaced: ReplacedAccess): Promise<void> {
    const policy = this.world.policies.get(replaced.policyId);
    if (!policy) return;
    for (const rule of replaced.rules) if (!policy.rules.some((r) => r.port === rule.port && r.cidr === rule.cidr)) policy.rules.push({ ...rule });
  }

  async findResources(deployment: string) {
    const balancer = await this.describeBalancer(`lb-${deployment}`);
    return {
      ...(balancer ? { balancer } : {}),
      ...(this.parts.backends.has(`backend-${deployment}`) ? { backendId: `backend-${deployment}` } : {}),
      policyIds: this.parts.policies.has(`lb-policy-${deployment}`) ? [`lb-policy-${deployment}`] : [],
      createdNetworks: this.parts.groups.has(`group-${deployment}`) ? [`group-${deployment}`] : [],
    };
  }

  async upsertAlias(zoneId: string, name: string, balancer: ManagedBalancer): Promise<void> {
    this.dns.upsert(zoneId, name, balancer.ip ?? balancer.dnsName, 300);
  }

  async deleteAlias(zoneId: string, name: string, balancerDnsName: string): Promise<'deleted' | 'absent' | 'not-ours'> {
    return this.dns.delete(zoneId, name, balancerDnsName);
  }

  async upsertValidationRecord(): Promise<void> {}

  async deleteValidationRecord(): Promise<'deleted' | 'absent'> {
    return 'absent';
  }
}
