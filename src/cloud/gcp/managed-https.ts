// `tls --tls managed` on GCE: a Google-managed SSL certificate and a global external Application
// Load Balancer (EXTERNAL_MANAGED) in front of the instance: an unmanaged instance group holding it
// (named port https:443), an HTTPS health check on /healthz, a backend service speaking HTTPS to
// the group, a URL map, a target HTTPS proxy with the certificate, a global static address and a
// forwarding rule on 443; and for http:// a second URL map that only redirects to https://, a target
// HTTP proxy and a forwarding rule on 80 of the same address.
//
// Google validates a managed certificate by the domain itself: it is issued once the balancer
// serves it and the domain's A record points at the balancer's address. So the balancer and the
// record come first, and the wait for the certificate last (validation: 'served-domain').
//
// The instance already serves its self-signed certificate on 443, which the balancer's backend
// service speaks HTTPS to (Google's front ends do not verify a backend's certificate). The instance's
// own 80/443 firewall rules are then narrowed to the ranges Google's front ends and health checks
// come from (what they allowed is recorded, and restored by `tls --remove`), and a firewall rule of
// ours lets those ranges in while the balancer is being built.
//
// Every part has a name derived from the deployment (`sgl-<name>-…`), so each step looks it up
// before it creates it and removal finds what an interrupted run made. None of these kinds take
// labels in the API revision the tool speaks, except the forwarding rules and the address.
import { createHash, randomUUID } from 'node:crypto';
import pricesData from '../../../presets/gcp-prices.json' with { type: 'json' };
import { CloudError } from '../../core/errors.js';
import { normalizeDnsName } from '../dns-names.js';
import type { AccessRule, DnsZone, ManagedBalancer, ManagedCertificate, ManagedHttps, ManagedHttpsCost, ReplacedAccess } from '../port.js';
import { call, getOrUndefined, listAll, mutate, pollUntil, request, type GceContext, type Json } from './context.js';
import * as dns from './dns.js';
import { isGceError, isNotFound } from './errors.js';
import { firewallLabels, lastSegment, parseZonal } from './mappers.js';
import { regionZones } from './network.js';

/** The ranges Google's front ends and health checks reach backends from (Cloud Load Balancing docs, "firewall rules"). */
export const GOOGLE_LB_RANGES = ['35.191.0.0/16', '130.211.0.0/22'];
/** The named port the backend service sends to. */
const PORT_NAME = 'https';
const DNS_TTL = 300;
/** How long a part in transition (being created or changed) is waited for before its delete goes through. */
const NOT_READY_RETRY_MS = 2 * 60_000;

/** The names of the parts, all from the deployment's name (RFC 1035, at most 63 characters). */
export function lbNames(deployment: string) {
  const slug = deployment.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 38).replace(/-+$/, '') || 'x';
  const p = `sgl-${slug}`;
  return {
    prefix: p,
    group: `${p}-ig`,
    healthCheck: `${p}-hc`,
    backend: `${p}-be`,
    urlMap: `${p}-https`,
    redirectMap: `${p}-redirect`,
    httpsProxy: `${p}-https-proxy`,
    httpProxy: `${p}-http-proxy`,
    address: `${p}-ip`,
    httpsRule: `${p}-https`,
    httpRule: `${p}-http`,
    firewall: `${p}-lb`,
    /** One certificate per install (its idempotency key): a re-install after a removal gets a fresh one. */
    certificate: (key: string) => `${p}-cert-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`,
  };
}

/** The part of the balancer's names after `sgl-`: what the balancer's id is. */
const namesOfBalancer = (balancerId: string) => lbNames(balancerId.replace(/^sgl-/, ''));

interface LbPrices {
  source: string[];
  date: string;
  note: string;
  forwardingRulesFirstFiveHourUsd: number;
  additionalForwardingRuleHourUsd: number;
  dataProcessedGibUsd: Record<string, number>;
  assumedGibPerMonth: number;
  forwardingRules: number;
  staticIpv4InUseHourUsd: number;
}

export function managedHttpsCost(region: string): ManagedHttpsCost {
  const all = pricesData as unknown as { hoursPerMonth: number; samePricesAs: Record<string, string>; loadBalancer: LbPrices };
  const lb = all.loadBalancer;
  const h = all.hoursPerMonth;
  const round = (n: number) => Math.round(n * 100) / 100;
  const perGib = lb.dataProcessedGibUsd[all.samePricesAs[region] ?? region];
  const parts = [
    { item: 'forwarding rules', detail: `${lb.forwardingRules} global rules (443 and 80), billed hourly`, monthlyUsd: round(lb.forwardingRulesFirstFiveHourUsd * h) },
    { item: 'data processed', detail: `${lb.assumedGibPerMonth} GiB a month in and out (an estimate: it grows with traffic)`, monthlyUsd: perGib === undefined ? undefined : round(perGib * lb.assumedGibPerMonth) },
    { item: 'global IPv4 address', detail: 'static, in use by the forwarding rules, billed hourly', monthlyUsd: round(lb.staticIpv4InUseHourUsd * h) },
  ];
  const known = parts.every((x) => x.monthlyUsd !== undefined);
  return {
    region,
    parts,
    ...(known ? { totalUsd: round(parts.reduce((s, x) => s + (x.monthlyUsd ?? 0), 0)) } : {}),
    assumptions: [
      `no other forwarding rule in the project: the first five cost $${lb.forwardingRulesFirstFiveHourUsd}/h together, each one beyond them $${lb.additionalForwardingRuleHourUsd}/h`,
      `${lb.assumedGibPerMonth} GiB processed a month at $${perGib ?? '?'}/GiB; more traffic costs more`,
      'the Google-managed certificate is free; data transfer out is billed as before',
    ],
    priceDate: lb.date,
    source: lb.source,
  };
}

const link = (c: GceContext, path: string) => `projects/${c.project}/${path}`;

export class GceManagedHttps implements ManagedHttps {
  readonly validation = 'served-domain' as const;
  readonly stepTitles = {
    networks: 'An instance group holding the instance (named port https:443)',
    'balancer-access': 'A firewall rule letting Google\'s load balancer and health checks reach 80/443',
    backend: 'The backend service: HTTPS to the instance\'s 443, health-checked on /healthz',
    balancer: 'A global static address and the URL map',
    listeners: 'HTTPS on 443 with the certificate, 80 redirecting to 443 (target proxies, forwarding rules)',
    'instance-access': 'The instance\'s 80/443 open only to Google\'s load balancer ranges',
  };

  constructor(
    private readonly c: GceContext,
    private readonly dnsC: GceContext,
  ) {}

  monthlyCost = () => managedHttpsCost(this.c.region);

  describePlan(domain: string, zone: DnsZone | undefined, cidrs: string[]): string[] {
    const open = cidrs.filter((x) => x !== '0.0.0.0/0');
    return [
      'a Google-managed certificate for the domain (Google issues it once the load balancer serves the domain, and renews it itself while the domain points there)',
      'a global external Application Load Balancer: an instance group holding the instance, an HTTPS health check on /healthz, a backend service (HTTPS to the instance\'s 443), a URL map, a target HTTPS proxy with the certificate, a global static address and a forwarding rule on 443; a redirecting URL map, a target HTTP proxy and a forwarding rule on 80 for http://',
      `a firewall rule letting Google's load balancer ranges (${GOOGLE_LB_RANGES.join(', ')}) reach the instance's 80/443`,
      'the instance\'s 80/443 then open only to those ranges (the addresses they allowed are kept, and `tls --remove` restores them)',
      ...(open.length ? [`NOTE: the load balancer answers any address: ${open.join(', ')}, which 443 is open to now, no longer limits who reaches the site (no Cloud Armor policy is made)`] : []),
      zone ? `the A record ${domain} → the load balancer's address in the zone ${zone.name}` : `no record for ${domain}: the A record to create is printed (the certificate is issued only once it resolves)`,
    ];
  }

  // ---- the certificate ----
  async requestCertificate(deployment: string, domain: string, idempotencyKey: string): Promise<string> {
    const name = lbNames(deployment).certificate(idempotencyKey);
    const found = await getOrUndefined<Json>(this.c, 'sslCertificates.get', `global/sslCertificates/${name}`);
    if (found) {
      const domains = ((found.managed as Json | undefined)?.domains ?? []) as string[];
      if (!domains.includes(domain)) throw new CloudError('certificate-conflict', `The certificate ${name} exists for ${domains.join(', ') || 'another domain'}, not ${domain}`, { remediation: `Delete it if it is left over: \`gcloud compute ssl-certificates delete ${name} --global\`.` });
      return name;
    }
    await this.create('sslCertificates.insert', 'global/sslCertificates', {
      name,
      description: `sourcegraph-launch tls-for=${deployment}: https://${domain}`,
      type: 'MANAGED',
      managed: { domains: [domain] },
    });
    return name;
  }

  async describeCertificate(id: string): Promise<ManagedCertificate | undefined> {
    const raw = await getOrUndefined<Json>(this.c, 'sslCertificates.get', `global/sslCertificates/${id}`);
    if (!raw) return undefined;
    const managed = (raw.managed ?? {}) as { domains?: string[]; status?: string; domainStatus?: Record<string, string> };
    const s = managed.status ?? 'PROVISIONING';
    // PROVISIONING_FAILED is retried by Google (a record not yet pointing there): still pending.
    const status = s === 'ACTIVE' ? 'issued' : s === 'PROVISIONING' || s === 'PROVISIONING_FAILED' ? 'pending' : s.toLowerCase().replace(/_/g, ' ');
    const problems = Object.entries(managed.domainStatus ?? {}).filter(([, v]) => v !== 'ACTIVE' && v !== 'PROVISIONING');
    return {
      id,
      domain: managed.domains?.[0] ?? '',
      status,
      validation: [],
      ...(raw.expireTime && s !== 'PROVISIONING' ? { notAfter: new Date(String(raw.expireTime)).toISOString() } : {}),
      ...(s === 'ACTIVE' ? { renewal: 'automatic (Google-managed)' } : s === 'RENEWAL_FAILED' ? { renewal: 'failed' } : {}),
      ...(problems.length ? { failure: problems.map(([d, v]) => `${d}: ${v}`).join(', ') } : s === 'PROVISIONING_FAILED' ? { failure: 'provisioning failed; Google retries' } : {}),
    };
  }

  async deleteCertificate(id: string): Promise<'deleted' | 'absent'> {
    return (await this.remove('sslCertificates.delete', `global/sslCertificates/${id}`)) ? 'deleted' : 'absent';
  }

  /**
   * upgrade, rollback and restore: the backend service's instance group in the new instance's zone
   * holds the new instance and nothing else (added first, then the others removed, so the balancer
   * is never left with nothing to forward to because of us). 'absent' when the backend service is gone.
   */
  async moveBackendTarget(backendId: string, instanceId: string): Promise<{ deregistered: string[] } | 'absent'> {
    const service = await getOrUndefined<Json>(this.c, 'backendServices.get', `global/backendServices/${lastSegment(backendId)}`);
    if (!service) return 'absent';
    const instance = await this.instanceRaw(instanceId);
    const groups = ((service.backends ?? []) as Json[]).map((b) => String(b.group ?? '').replace(/^(https?:\/\/[^/]+\/compute\/v1\/)?projects\/[^/]+\//, ''));
    const path = groups.find((g) => g.startsWith(`zones/${instance.zone}/instanceGroups/`));
    if (!path) {
      throw new CloudError('balancer-zone', `The load balancer's instance group is in ${groups.map((g) => g.split('/')[1]).join(', ') || 'no zone'}, the new instance ${instance.name} in ${instance.zone}`, {
        remediation: 'Run `tls --remove`, then `tls … --tls managed` again: it makes the instance group in the instance\'s zone.',
      });
    }
    const members = await call(this.c, 'instanceGroups.listInstances', () => request<{ items?: { instance?: string }[] }>(this.c, 'POST', `${path}/listInstances`, { body: { instanceState: 'ALL' } }));
    const current = (members.items ?? []).map((m) => String(m.instance));
    if (!current.some((m) => lastSegment(m) === instance.name)) {
      await call(this.c, 'instanceGroups.addInstances', async () => {
        try {
          await mutate(this.c, 'POST', `${path}/addInstances`, { body: { instances: [{ instance: link(this.c, instanceId) }] } });
        } catch (err) {
          if (!isGceError(err, 'memberAlreadyExists')) throw err;
        }
      });
    }
    const others = current.filter((m) => lastSegment(m) !== instance.name);
    const deregistered: string[] = [];
    for (const other of others) {
      await call(this.c, 'instanceGroups.removeInstances', async () => {
        try {
          await mutate(this.c, 'POST', `${path}/removeInstances`, { body: { instances: [{ instance: other }] } });
        } catch (err) {
          // Deleted with its instance, or taken out by a run that stopped: nothing left to take out.
          if (!isNotFound(err) && !isGceError(err, 'memberNotFound')) throw err;
        }
      });
      deregistered.push(lastSegment(other));
    }
    return { deregistered };
  }

  // ---- the instance group ("networks" of the port) ----
  private async instanceRaw(instanceId: string): Promise<Json & { zone: string; name: string }> {
    const z = parseZonal(instanceId, 'instances');
    const raw = z && (await getOrUndefined<Json>(this.c, 'instances.get', `zones/${z.zone}/instances/${z.name}`));
    if (!z || !raw) throw new CloudError('instance-not-found', `Instance ${instanceId} is not there`, { remediation: 'See `status`.' });
    return { ...raw, zone: z.zone, name: z.name };
  }

  async ensureNetworks(deployment: string, instanceId: string): Promise<{ ids: string[]; created?: string }> {
    const instance = await this.instanceRaw(instanceId);
    const name = lbNames(deployment).group;
    const path = `zones/${instance.zone}/instanceGroups/${name}`;
    let group = await getOrUndefined<Json>(this.c, 'instanceGroups.get', path);
    if (!group) {
      const network = String((((instance.networkInterfaces ?? []) as Json[])[0] ?? {}).network ?? 'global/networks/default');
      await this.create('instanceGroups.insert', `zones/${instance.zone}/instanceGroups`, {
        name,
        description: `sourcegraph-launch tls-for=${deployment}: the instance behind the HTTPS load balancer`,
        namedPorts: [{ name: PORT_NAME, port: 443 }],
        network: network.replace(/^https?:\/\/[^/]+\/compute\/v1\//, ''),
      });
      group = (await getOrUndefined<Json>(this.c, 'instanceGroups.get', path))!;
    }
    const ports = (group.namedPorts ?? []) as { name?: string; port?: number }[];
    if (!ports.some((p) => p.name === PORT_NAME && p.port === 443)) {
      await call(this.c, 'instanceGroups.setNamedPorts', () => mutate(this.c, 'POST', `${path}/setNamedPorts`, { body: { namedPorts: [...ports.filter((p) => p.name !== PORT_NAME), { name: PORT_NAME, port: 443 }], fingerprint: group.fingerprint } }));
    }
    const members = await call(this.c, 'instanceGroups.listInstances', () => request<{ items?: { instance?: string }[] }>(this.c, 'POST', `${path}/listInstances`, { body: { instanceState: 'ALL' } }));
    const listed = (members.items ?? []).some((m) => lastSegment(String(m.instance)) === instance.name);
    if (!listed) {
      await call(this.c, 'instanceGroups.addInstances', async () => {
        try {
          await mutate(this.c, 'POST', `${path}/addInstances`, { body: { instances: [{ instance: link(this.c, instanceId) }] } });
        } catch (err) {
          if (!isGceError(err, 'memberAlreadyExists')) throw err;
        }
      });
    }
    return { ids: [path], created: path };
  }

  deleteNetwork = async (id: string) => void (await this.remove('instanceGroups.delete', id));

  // ---- the firewall rule for Google's ranges ("the balancer's access policy" of the port) ----
  /** The network tag of the deployment's own firewall rules (its access policy), on the instance. */
  private async deploymentTag(instanceId: string): Promise<{ tag: string; network: string }> {
    const instance = await this.instanceRaw(instanceId);
    const tags = ((instance.tags as Json | undefined)?.items ?? []) as string[];
    const ours = (await listAll<Json>(this.c, 'firewalls.list', 'global/firewalls')).filter((f) => firewallLabels(f) !== undefined);
    const tag = tags.find((t) => ours.some((f) => ((f.targetTags ?? []) as string[]).includes(t)));
    if (!tag) throw new CloudError('access-policy-missing', `Instance ${instanceId} carries no network tag of a firewall rule of sourcegraph-launch`, { remediation: 'Run `launch` again to recreate its rules, then this command.' });
    const network = String((((instance.networkInterfaces ?? []) as Json[])[0] ?? {}).network ?? 'global/networks/default').replace(/^https?:\/\/[^/]+\/compute\/v1\/(projects\/[^/]+\/)?/, '');
    return { tag, network };
  }

  async ensureBalancerPolicy(deployment: string, instanceId: string, _cidrs: string[]): Promise<string> {
    const name = lbNames(deployment).firewall;
    const { tag, network } = await this.deploymentTag(instanceId);
    if (!(await getOrUndefined(this.c, 'firewalls.get', `global/firewalls/${name}`))) {
      await this.create('firewalls.insert', 'global/firewalls', {
        name,
        // Not the deployment's label mark: findDeployment must never read this as its access policy.
        description: `sourcegraph-launch tls-for=${deployment}: Google's HTTPS load balancer and health checks to 80/443`,
        network,
        direction: 'INGRESS',
        priority: 1000,
        allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }],
        sourceRanges: GOOGLE_LB_RANGES,
        targetTags: [tag],
      });
    }
    return name;
  }

  deleteBalancerPolicy = async (id: string) => void (await this.remove('firewalls.delete', `global/firewalls/${id}`));

  // ---- health check and backend service ----
  async ensureBackend(deployment: string, instanceId: string): Promise<string> {
    const n = lbNames(deployment);
    const instance = await this.instanceRaw(instanceId);
    if (!(await getOrUndefined(this.c, 'healthChecks.get', `global/healthChecks/${n.healthCheck}`))) {
      await this.create('healthChecks.insert', 'global/healthChecks', {
        name: n.healthCheck,
        description: `sourcegraph-launch tls-for=${deployment}`,
        type: 'HTTPS',
        httpsHealthCheck: { port: 443, requestPath: '/healthz' },
        checkIntervalSec: 30,
        timeoutSec: 10,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      });
    }
    if (!(await getOrUndefined(this.c, 'backendServices.get', `global/backendServices/${n.backend}`))) {
      await this.create('backendServices.insert', 'global/backendServices', {
        name: n.backend,
        description: `sourcegraph-launch tls-for=${deployment}`,
        protocol: 'HTTPS',
        portName: PORT_NAME,
        loadBalancingScheme: 'EXTERNAL_MANAGED',
        timeoutSec: 300,
        healthChecks: [link(this.c, `global/healthChecks/${n.healthCheck}`)],
        backends: [{ group: link(this.c, `zones/${instance.zone}/instanceGroups/${n.group}`), balancingMode: 'UTILIZATION', capacityScaler: 1 }],
      });
    }
    return n.backend;
  }

  async deleteBackend(id: string): Promise<void> {
    await this.remove('backendServices.delete', `global/backendServices/${id}`);
    await this.remove('healthChecks.delete', `global/healthChecks/${id.replace(/-be$/, '-hc')}`);
  }

  // ---- the address and the URL map ("the balancer") ----
  async describeBalancer(id: string): Promise<ManagedBalancer | undefined> {
    const n = namesOfBalancer(id);
    const [address, map] = await Promise.all([
      getOrUndefined<Json>(this.c, 'globalAddresses.get', `global/addresses/${n.address}`),
      getOrUndefined<Json>(this.c, 'urlMaps.get', `global/urlMaps/${n.urlMap}`),
    ]);
    if (!address && !map) return undefined;
    const ip = address ? String(address.address ?? '') : '';
    return { id: n.prefix, dnsName: ip, dnsZoneId: '', state: address?.status === 'RESERVING' ? 'provisioning' : 'active', ...(ip ? { ip } : {}) };
  }

  async ensureBalancer(deployment: string, _networkIds: string[], _policyId: string): Promise<ManagedBalancer> {
    const n = lbNames(deployment);
    if (!(await getOrUndefined(this.c, 'globalAddresses.get', `global/addresses/${n.address}`))) {
      await this.create('globalAddresses.insert', 'global/addresses', {
        name: n.address,
        description: `sourcegraph-launch tls-for=${deployment}: the HTTPS load balancer's address`,
        ipVersion: 'IPV4',
        labels: { 'sourcegraph-launch-tls-for': labelValue(deployment) },
      });
    }
    if (!(await getOrUndefined(this.c, 'urlMaps.get', `global/urlMaps/${n.urlMap}`))) {
      await this.create('urlMaps.insert', 'global/urlMaps', { name: n.urlMap, description: `sourcegraph-launch tls-for=${deployment}`, defaultService: link(this.c, `global/backendServices/${n.backend}`) });
    }
    const b = await this.describeBalancer(n.prefix);
    if (!b?.ip) throw new CloudError('address-missing', `The global address ${n.address} has no IP`, { remediation: 'Run the same command again.' });
    return b;
  }

  async deleteBalancer(id: string): Promise<void> {
    const n = namesOfBalancer(id);
    await this.remove('urlMaps.delete', `global/urlMaps/${n.urlMap}`);
    await this.remove('globalAddresses.delete', `global/addresses/${n.address}`);
  }

  // ---- proxies and forwarding rules ("listeners") ----
  async ensureListeners(balancerId: string, _backendId: string, certificateId: string): Promise<string[]> {
    const n = namesOfBalancer(balancerId);
    const b = await this.describeBalancer(balancerId);
    if (!b?.ip) throw new CloudError('address-missing', `The global address ${n.address} is not there`, { remediation: 'Run the same command again: it is made anew.' });
    const labels = { 'sourcegraph-launch-tls-for': labelValue(balancerId.replace(/^sgl-/, '')) };
    const ensure = async (operation: string, collection: string, body: Json) => {
      if (!(await getOrUndefined(this.c, operation.replace(/\.insert$/, '.get'), `global/${collection}/${String(body.name)}`))) await this.create(operation, `global/${collection}`, body);
    };
    await ensure('targetHttpsProxies.insert', 'targetHttpsProxies', { name: n.httpsProxy, urlMap: link(this.c, `global/urlMaps/${n.urlMap}`), sslCertificates: [link(this.c, `global/sslCertificates/${certificateId}`)] });
    await ensure('globalForwardingRules.insert', 'forwardingRules', {
      name: n.httpsRule,
      IPAddress: link(this.c, `global/addresses/${n.address}`),
      IPProtocol: 'TCP',
      portRange: '443',
      target: link(this.c, `global/targetHttpsProxies/${n.httpsProxy}`),
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      networkTier: 'PREMIUM',
      labels,
    });
    await ensure('urlMaps.insert', 'urlMaps', { name: n.redirectMap, description: 'sourcegraph-launch: http:// to https://', defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: 'MOVED_PERMANENTLY_DEFAULT', stripQuery: false } });
    await ensure('targetHttpProxies.insert', 'targetHttpProxies', { name: n.httpProxy, urlMap: link(this.c, `global/urlMaps/${n.redirectMap}`) });
    await ensure('globalForwardingRules.insert', 'forwardingRules', {
      name: n.httpRule,
      IPAddress: link(this.c, `global/addresses/${n.address}`),
      IPProtocol: 'TCP',
      portRange: '80',
      target: link(this.c, `global/targetHttpProxies/${n.httpProxy}`),
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      networkTier: 'PREMIUM',
      labels,
    });
    return [`global/forwardingRules/${n.httpsRule}`, `global/forwardingRules/${n.httpRule}`];
  }

  async deleteListeners(balancerId: string): Promise<void> {
    const n = namesOfBalancer(balancerId);
    await this.remove('globalForwardingRules.delete', `global/forwardingRules/${n.httpsRule}`);
    await this.remove('globalForwardingRules.delete', `global/forwardingRules/${n.httpRule}`);
    await this.remove('targetHttpsProxies.delete', `global/targetHttpsProxies/${n.httpsProxy}`);
    await this.remove('targetHttpProxies.delete', `global/targetHttpProxies/${n.httpProxy}`);
    await this.remove('urlMaps.delete', `global/urlMaps/${n.redirectMap}`);
  }

  // ---- the instance's own 80/443 ----
  /** The deployment's own rules opening 80 or 443 (launch's `<tag>-80`, `<tag>-443`). */
  private async webRules(tag: string): Promise<Json[]> {
    const ours = (await listAll<Json>(this.c, 'firewalls.list', 'global/firewalls')).filter((f) => firewallLabels(f) !== undefined && ((f.targetTags ?? []) as string[]).includes(tag));
    return ours.filter((f) => ((f.allowed ?? []) as { IPProtocol?: string; ports?: string[] }[]).some((a) => a.IPProtocol === 'tcp' && (a.ports ?? []).some((p) => p === '80' || p === '443')));
  }

  private static portsOf(f: Json): number[] {
    return ((f.allowed ?? []) as { ports?: string[] }[]).flatMap((a) => (a.ports ?? []).filter((p) => p === '80' || p === '443').map(Number));
  }

  async limitInstanceAccess(instanceId: string, _balancerPolicyId: string): Promise<ReplacedAccess> {
    const { tag } = await this.deploymentTag(instanceId);
    const rules: AccessRule[] = [];
    for (const f of await this.webRules(tag)) {
      const ranges = ((f.sourceRanges ?? []) as string[]).filter((r) => !GOOGLE_LB_RANGES.includes(r));
      for (const port of GceManagedHttps.portsOf(f)) for (const cidr of ranges) rules.push({ port, cidr });
      const now = [...((f.sourceRanges ?? []) as string[])].sort();
      if (JSON.stringify(now) !== JSON.stringify([...GOOGLE_LB_RANGES].sort())) {
        await call(this.c, 'firewalls.patch', () => mutate(this.c, 'PATCH', `global/firewalls/${String(f.name)}`, { body: { name: f.name, sourceRanges: GOOGLE_LB_RANGES } }));
      }
    }
    return { policyId: tag, rules };
  }

  async restoreInstanceAccess(replaced: ReplacedAccess, _balancerPolicyId: string): Promise<void> {
    for (const f of await this.webRules(replaced.policyId)) {
      const ports = GceManagedHttps.portsOf(f);
      const cidrs = [...new Set(replaced.rules.filter((r) => ports.includes(r.port)).map((r) => r.cidr))].sort();
      if (!cidrs.length) continue;
      await call(this.c, 'firewalls.patch', () => mutate(this.c, 'PATCH', `global/firewalls/${String(f.name)}`, { body: { name: f.name, sourceRanges: cidrs } }));
    }
  }

  // ---- finding what an interrupted run made ----
  async findResources(deployment: string) {
    const n = lbNames(deployment);
    const [balancer, backend, healthCheck, firewall, zones] = await Promise.all([
      this.describeBalancer(n.prefix),
      getOrUndefined(this.c, 'backendServices.get', `global/backendServices/${n.backend}`),
      getOrUndefined(this.c, 'healthChecks.get', `global/healthChecks/${n.healthCheck}`),
      getOrUndefined(this.c, 'firewalls.get', `global/firewalls/${n.firewall}`),
      regionZones(this.c),
    ]);
    // The proxies and rules are deleted with the balancer: a run killed before the address was made has none yet.
    const groups = await Promise.all(zones.map(async (z) => ((await getOrUndefined(this.c, 'instanceGroups.get', `zones/${z}/instanceGroups/${n.group}`)) ? `zones/${z}/instanceGroups/${n.group}` : undefined)));
    const listeners = await getOrUndefined(this.c, 'targetHttpsProxies.get', `global/targetHttpsProxies/${n.httpsProxy}`);
    return {
      ...(balancer || listeners ? { balancer: balancer ?? { id: n.prefix, dnsName: '', dnsZoneId: '', state: 'deleting' } } : {}),
      ...(backend || healthCheck ? { backendId: n.backend } : {}),
      policyIds: firewall ? [n.firewall] : [],
      createdNetworks: groups.filter((g): g is string => g !== undefined),
    };
  }

  // ---- DNS: the domain's A record ----
  upsertAlias = (zoneId: string, name: string, balancer: ManagedBalancer) => dns.upsertARecord(this.dnsC, zoneId, name, balancer.ip ?? balancer.dnsName, DNS_TTL);
  deleteAlias = (zoneId: string, name: string, balancerDnsName: string) => dns.deleteARecord(this.dnsC, zoneId, normalizeDnsName(name), balancerDnsName);
  /** Google validates through the domain's own record: there is no validation record to set. */
  upsertValidationRecord = async () => undefined;
  deleteValidationRecord = async () => 'absent' as const;

  // ---- helpers ----
  /** An insert that a crashed earlier run may have made already (alreadyExists counts as made). */
  private async create(operation: string, path: string, body: Json): Promise<void> {
    await call(this.c, operation, async () => {
      try {
        await mutate(this.c, 'POST', path, { body, requestId: randomUUID() });
      } catch (err) {
        if (!isGceError(err, 'alreadyExists')) throw err;
      }
    });
  }

  /**
   * A delete: true when it deleted, false when it was not there; retried while the part is in
   * transition (resourceNotReady). A part still in use (resourceInUseByAnotherResource) fails at
   * once: what uses it was deleted first and waited for, so its user is someone else's.
   */
  private async remove(operation: string, path: string): Promise<boolean> {
    return pollUntil(this.c, NOT_READY_RETRY_MS, async () => {
      try {
        await mutate(this.c, 'DELETE', path);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (isGceError(err, 'resourceNotReady')) return undefined;
        if (isGceError(err, 'resourceInUseByAnotherResource')) {
          throw new CloudError('resource-in-use', `${path} is still in use: ${err.message}`, { remediation: 'Something else uses it (another load balancer of yours?): remove that use, then run the same command again.' });
        }
        throw await call(this.c, operation, () => Promise.reject(err)).catch((e: unknown) => e);
      }
    }, () => new CloudError('resource-not-ready', `${path} is still changing`, { remediation: 'Run the same command again in a few minutes.' }));
  }
}

/** A label value: lower case letters, digits, - and _ (at most 63). */
function labelValue(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
}
