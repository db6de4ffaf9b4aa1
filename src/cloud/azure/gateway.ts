// `tls --tls managed` on Azure: an Application Gateway (Standard_v2) in front of the VM. Azure has no
// free certificate for it, so the gateway carries the user's own (uploaded as a password-protected
// PFX in sslCertificates `data`). What it is made of: a subnet of its own in the VM's virtual
// network (Application Gateway needs a dedicated one; created only when none is there, deleted only
// when created here), a Standard static public IP, and the gateway with an HTTPS listener on 443, an
// HTTP listener on 80 redirecting to it, the VM's private address as the backend, a health probe on
// /healthz. The VM's NSG rules for 80/443 then allow only the gateway's subnet.
//
// The backend is plain HTTP to the VM's port 80, inside the virtual network. A v2 gateway speaking
// HTTPS to its backend verifies the backend's certificate (api-version 2024-05-01 has no switch to
// turn that off, see ApplicationGatewayBackendHttpSettingsPropertiesFormat): it must chain to a
// well-known CA or to an uploaded trustedRootCertificate, and its name must match the host name the
// gateway sends (hostName or pickHostNameFromBackendAddress, here the VM's private IP). The image's
// Traefik serves a default self-signed certificate, "TRAEFIK DEFAULT CERT", made anew every time
// Traefik starts: no trusted root stays valid past a reboot and no host name matches it. HTTP to
// port 80, which Traefik serves with the same routes, is what works, and the traffic never leaves
// the network (80 and 443 are open to the gateway's subnet only).
//
// Every part is found by name before it is created, so an interrupted run continues. The public IP
// and the gateway carry the tag `sourcegraph-launch:tls-for` = deployment, never the deployment label:
// findDeployment must not take the gateway's address for the instance's.
import { CloudError } from '../../core/errors.js';
import pricesData from '../../../presets/azure-prices.json' with { type: 'json' };
import { LABEL_PREFIX } from '../../core/labels.js';
import type { AccessRule, GatewayHttps, GatewaySpec, ManagedHttpsCost, ReplacedAccess } from '../port.js';
import type { Json } from './arm.js';
import { pollUntil, type AzureContext } from './context.js';
import { describeInstance } from './instances.js';
import { RULE_PREFIX, rulesOf, safeName, toTags } from './mappers.js';
import { writePfx } from './pfx.js';
import { ids, rg } from './request-builders.js';
import { where } from './network.js';
import { randomBytes } from 'node:crypto';

export const TLS_FOR_TAG = `${LABEL_PREFIX}:tls-for`;
/** TLS 1.2 and 1.3 only: the newest predefined policy. */
export const SSL_POLICY = 'AppGwSslPolicy20220101';

export function gatewayNames(deployment: string): { gateway: string; address: string; subnet: string } {
  const slug = safeName(deployment, 50);
  return { gateway: `${slug}-appgw`, address: `${slug}-appgw-ip`, subnet: `sourcegraph-launch-appgw-${slug}` };
}

// ---- CIDR arithmetic for the gateway's subnet ----
const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(ip!) / size) * size;
  return [start, start + size - 1];
}

/** The first /24 free in the network's address space (a /26, the smallest Application Gateway v2 takes, in a crowded one). */
export function freeGatewayPrefix(spaces: string[], taken: string[]): string | undefined {
  const used = taken.map(range);
  for (const bits of [24, 26]) {
    const size = 2 ** (32 - bits);
    for (const space of spaces) {
      const [vStart, vEnd] = range(space);
      if (size > vEnd - vStart + 1) continue;
      for (let s = vStart; s + size - 1 <= vEnd; s += size) {
        if (!used.some(([a, b]) => s <= b && a <= s + size - 1)) return `${toIp(s)}/${bits}`;
      }
    }
  }
  return undefined;
}

interface GatewayPrices {
  hoursPerMonth: number;
  samePricesAs: Record<string, string>;
  regions: Record<string, { publicIpv4HourUsd: number; applicationGatewayV2?: { fixedHourUsd: number; capacityUnitHourUsd: number } }>;
  applicationGateway: { source: string[]; date: string; estimatedCapacityUnits: number };
}

export function gatewayCost(region: string): ManagedHttpsCost {
  const p = pricesData as unknown as GatewayPrices;
  const r = p.regions[p.samePricesAs[region] ?? region];
  const gw = r?.applicationGatewayV2;
  const g = p.applicationGateway;
  const h = p.hoursPerMonth;
  const round = (n: number) => Math.round(n * 100) / 100;
  const parts = [
    { item: 'application gateway', detail: 'Standard_v2, fixed price per gateway-hour', monthlyUsd: gw ? round(gw.fixedHourUsd * h) : undefined },
    { item: 'gateway capacity units', detail: `${g.estimatedCapacityUnits} capacity unit on average (an estimate: it grows with traffic)`, monthlyUsd: gw ? round(gw.capacityUnitHourUsd * g.estimatedCapacityUnits * h) : undefined },
    { item: 'public IPv4 address', detail: '1 Standard static, billed hourly', monthlyUsd: r ? round(r.publicIpv4HourUsd * h) : undefined },
  ];
  const known = parts.every((x) => x.monthlyUsd !== undefined);
  return {
    region,
    parts,
    ...(known ? { totalUsd: round(parts.reduce((s, x) => s + (x.monthlyUsd ?? 0), 0)) } : {}),
    assumptions: [
      `${g.estimatedCapacityUnits} capacity unit: about 2,500 persistent connections, 2.22 Mbps, or 1 compute unit; autoscaling from 0 to 2 instances, more traffic costs more`,
      'your certificate costs nothing here; data transfer out is billed as before',
    ],
    priceDate: g.date,
    source: g.source,
  };
}

const tags = (deployment: string) => ({ [TLS_FOR_TAG]: deployment, ...toTags({ managed: 'true' }) });

/** The Application Gateway's body: every part named, referenced by id within the gateway. */
export function gatewayBody(c: Pick<AzureContext, 'location'>, gatewayId: string, spec: GatewaySpec, pfx?: { data: string; password: string }): Json {
  const sub = (kind: string, name: string) => ({ id: `${gatewayId}/${kind}/${name}` });
  const certificate = 'keyVaultSecretId' in spec.certificate ? { keyVaultSecretId: spec.certificate.keyVaultSecretId } : pfx!;
  return {
    location: c.location,
    tags: tags(spec.deployment),
    properties: {
      sku: { name: 'Standard_v2', tier: 'Standard_v2' },
      autoscaleConfiguration: { minCapacity: 0, maxCapacity: 2 },
      sslPolicy: { policyType: 'Predefined', policyName: SSL_POLICY },
      gatewayIPConfigurations: [{ name: 'gateway', properties: { subnet: { id: spec.subnetId } } }],
      frontendIPConfigurations: [{ name: 'public', properties: { publicIPAddress: { id: spec.addressId } } }],
      frontendPorts: [
        { name: 'port-443', properties: { port: 443 } },
        { name: 'port-80', properties: { port: 80 } },
      ],
      sslCertificates: [{ name: 'domain', properties: certificate }],
      backendAddressPools: [{ name: 'instance', properties: { backendAddresses: [{ ipAddress: spec.backendIp }] } }],
      probes: [
        {
          name: 'healthz',
          properties: { protocol: 'Http', host: spec.domain, path: '/healthz', interval: 30, timeout: 30, unhealthyThreshold: 3, pickHostNameFromBackendHttpSettings: false, match: { statusCodes: ['200'] } },
        },
      ],
      backendHttpSettingsCollection: [
        { name: 'instance-http', properties: { port: 80, protocol: 'Http', cookieBasedAffinity: 'Disabled', requestTimeout: 60, pickHostNameFromBackendAddress: false, probe: sub('probes', 'healthz') } },
      ],
      httpListeners: [
        { name: 'https', properties: { frontendIPConfiguration: sub('frontendIPConfigurations', 'public'), frontendPort: sub('frontendPorts', 'port-443'), protocol: 'Https', sslCertificate: sub('sslCertificates', 'domain'), hostName: spec.domain, requireServerNameIndication: false } },
        { name: 'http', properties: { frontendIPConfiguration: sub('frontendIPConfigurations', 'public'), frontendPort: sub('frontendPorts', 'port-80'), protocol: 'Http' } },
      ],
      redirectConfigurations: [
        { name: 'http-to-https', properties: { redirectType: 'Permanent', targetListener: sub('httpListeners', 'https'), includePath: true, includeQueryString: true } },
      ],
      requestRoutingRules: [
        { name: 'https', properties: { ruleType: 'Basic', priority: 100, httpListener: sub('httpListeners', 'https'), backendAddressPool: sub('backendAddressPools', 'instance'), backendHttpSettings: sub('backendHttpSettingsCollection', 'instance-http') } },
        { name: 'http-redirect', properties: { ruleType: 'Basic', priority: 200, httpListener: sub('httpListeners', 'http'), redirectConfiguration: sub('redirectConfigurations', 'http-to-https') } },
      ],
    },
  };
}

const gatewayId = (c: AzureContext, deployment: string) => rg(where(c), `/providers/Microsoft.Network/applicationGateways/${gatewayNames(deployment).gateway}`);

export class AzureGatewayHttps implements GatewayHttps {
  constructor(private readonly c: AzureContext) {}

  monthlyCost = () => gatewayCost(this.c.location);

  private async vm(instanceId: string) {
    const instance = await describeInstance(this.c, instanceId);
    if (!instance?.subnetId) throw new CloudError('instance-not-found', `The VM ${instanceId} is not there (or has no subnet)`, { remediation: 'See `status`.' });
    return instance;
  }

  async ensureSubnet(deployment: string, instanceId: string): Promise<{ id: string; prefix: string; created: boolean }> {
    const instance = await this.vm(instanceId);
    const vnetId = instance.subnetId!.replace(/\/subnets\/[^/]+$/i, '');
    const vnet = await this.c.arm.get(vnetId, 'Microsoft.Network virtualNetworks.get');
    if (!vnet) throw new CloudError('no-network', `The virtual network ${vnetId} of ${instanceId} is not there`);
    const subnets = (vnet.properties?.subnets as Json[] | undefined) ?? [];
    const prefixOf = (s: Json) => String(s.properties?.addressPrefix ?? (s.properties?.addressPrefixes as string[] | undefined)?.[0] ?? '');
    const name = gatewayNames(deployment).subnet;
    const ours = subnets.find((s) => String(s.name).toLowerCase() === name.toLowerCase());
    if (ours) return { id: String(ours.id), prefix: prefixOf(ours), created: true };
    // A subnet already dedicated to application gateways (and holding nothing else) is used as it is.
    const dedicated = subnets.find((s) => ((s.properties?.applicationGatewayIPConfigurations as Json[] | undefined) ?? []).length && !((s.properties?.ipConfigurations as Json[] | undefined) ?? []).length);
    if (dedicated) return { id: String(dedicated.id), prefix: prefixOf(dedicated), created: false };
    const spaces = (vnet.properties?.addressSpace?.addressPrefixes as string[] | undefined) ?? [];
    const prefix = freeGatewayPrefix(spaces, subnets.flatMap((s) => [s.properties?.addressPrefix, ...((s.properties?.addressPrefixes as string[] | undefined) ?? [])]).filter((x): x is string => typeof x === 'string'));
    if (!prefix) {
      throw new CloudError('no-free-subnet-range', `The virtual network ${vnetId} (${spaces.join(', ') || 'no address space'}) has no free /26 for the gateway's own subnet`, {
        remediation: `Add an address range to the network, or create a subnet named ${name} in it yourself (a /24 or /26, nothing else in it), then run the same command again.`,
      });
    }
    const subnet = await this.c.arm.put(`${vnetId}/subnets/${name}`, { properties: { addressPrefix: prefix } }, 'Microsoft.Network subnets.createOrUpdate');
    return { id: String(subnet.id ?? `${vnetId}/subnets/${name}`), prefix, created: true };
  }

  async deleteSubnet(id: string): Promise<void> {
    await this.c.arm.delete(id, 'Microsoft.Network subnets.delete');
  }

  async ensureAddress(deployment: string): Promise<{ id: string; ip: string }> {
    const id = ids.pip(where(this.c), gatewayNames(deployment).address);
    let pip = await this.c.arm.get(id, 'Microsoft.Network publicIPAddresses.get');
    if (!pip) {
      pip = await this.c.arm.put(id, { location: this.c.location, tags: tags(deployment), sku: { name: 'Standard', tier: 'Regional' }, properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' } }, 'Microsoft.Network publicIPAddresses.createOrUpdate');
    }
    if (pip.tags?.[TLS_FOR_TAG] !== deployment) {
      throw new CloudError('address-conflict', `A public IP named ${gatewayNames(deployment).address} exists and is not this deployment's gateway address`, { remediation: 'Delete it if it is left over, or choose another deployment name.' });
    }
    return { id, ip: String(pip.properties?.ipAddress ?? '') };
  }

  async deleteAddress(id: string): Promise<void> {
    await this.c.arm.delete(id, 'Microsoft.Network publicIPAddresses.delete');
  }

  async ensureGateway(spec: GatewaySpec, timeoutMs: number): Promise<{ id: string }> {
    const id = gatewayId(this.c, spec.deployment);
    const existing = await this.c.arm.get(id, 'Microsoft.Network applicationGateways.get');
    if (existing && existing.tags?.[TLS_FOR_TAG] !== spec.deployment) {
      throw new CloudError('gateway-conflict', `An application gateway named ${gatewayNames(spec.deployment).gateway} exists and is not this deployment's`, { remediation: 'Delete it if it is left over, or choose another deployment name.' });
    }
    if (!existing || existing.properties?.provisioningState === 'Failed') {
      // A fresh password each time: it only protects the PFX on its way to the gateway.
      let pfx: { data: string; password: string } | undefined;
      if ('certPem' in spec.certificate) {
        const password = randomBytes(18).toString('base64url');
        pfx = { data: writePfx(spec.certificate.certPem, spec.certificate.keyPem, password).toString('base64'), password };
      }
      await this.c.arm.send('PUT', id, 'Microsoft.Network applicationGateways.createOrUpdate', gatewayBody(this.c, id, spec, pfx));
    }
    // Provisioning takes minutes: polled (not the operation's own status URL) so --timeout bounds it.
    return pollUntil(this.c, timeoutMs, 'application-gateway', `the application gateway ${gatewayNames(spec.deployment).gateway}`, async () => {
      const gw = await this.c.arm.get(id, 'Microsoft.Network applicationGateways.get');
      const state = gw?.properties?.provisioningState;
      if (!gw || state === 'Failed') throw new CloudError('gateway-failed', `The application gateway ${gatewayNames(spec.deployment).gateway} failed to provision`, { remediation: 'See it in the Azure portal (its activity log); `tls --remove` deletes it.' });
      return state === 'Succeeded' ? { id } : undefined;
    });
  }

  async deleteGateway(id: string): Promise<void> {
    await this.c.arm.delete(id, 'Microsoft.Network applicationGateways.delete');
  }

  async moveBackend(id: string, instanceId: string, timeoutMs: number): Promise<{ backendIp: string; replaced: string[] } | 'absent'> {
    const instance = await this.vm(instanceId);
    const backendIp = instance.privateIp;
    if (!backendIp) throw new CloudError('no-private-address', `The VM ${instanceId} has no private address for the gateway to reach`, { remediation: 'See `status`.' });
    const gw = await this.c.arm.get(id, 'Microsoft.Network applicationGateways.get');
    if (!gw) return 'absent';
    const name = id.split('/').pop() ?? id;
    const pools = (gw.properties?.backendAddressPools as Json[] | undefined) ?? [];
    const pool = pools.find((p) => p.name === 'instance') ?? pools[0];
    if (!pool) throw new CloudError('gateway-no-backend', `The application gateway ${name} has no backend pool`, { remediation: 'Run `tls --remove`, then `tls --tls managed` again.' });
    const now = ((pool.properties?.backendAddresses as Json[] | undefined) ?? []).map((a) => String(a.ipAddress ?? a.fqdn ?? ''));
    if (!(now.length === 1 && now[0] === backendIp)) {
      // The whole gateway is put back (ARM has no PUT of one pool of a gateway), read-only parts left out.
      const { etag: _e, ...body } = gw;
      const props = { ...(gw.properties as Json) };
      delete props.provisioningState;
      delete props.operationalState;
      delete props.resourceGuid;
      props.backendAddressPools = pools.map((p) => (p === pool ? { ...p, properties: { ...(p.properties as Json), backendAddresses: [{ ipAddress: backendIp }] } } : p));
      await this.c.arm.send('PUT', id, 'Microsoft.Network applicationGateways.createOrUpdate', { ...body, properties: props });
    }
    await pollUntil(this.c, timeoutMs, 'application-gateway', `the application gateway ${name}`, async () => {
      const g = await this.c.arm.get(id, 'Microsoft.Network applicationGateways.get');
      const state = g?.properties?.provisioningState;
      if (!g || state === 'Failed') throw new CloudError('gateway-failed', `The application gateway ${name} failed to provision its new backend`, { remediation: 'See it in the Azure portal (its activity log), then run the same command again.' });
      return state === 'Succeeded' ? true : undefined;
    });
    return { backendIp, replaced: now.filter((a) => a !== backendIp) };
  }

  async readInstanceAccess(instanceId: string): Promise<ReplacedAccess> {
    const instance = await this.vm(instanceId);
    const nsgId = instance.accessPolicyIds[0];
    const nsg = nsgId ? await this.c.arm.get(nsgId, 'Microsoft.Network networkSecurityGroups.get') : undefined;
    if (!nsg) throw new CloudError('access-policy-missing', `The VM ${instanceId} has no network security group`, { remediation: 'Run launch again with --update to recreate it.' });
    const ours = { ...nsg, properties: { securityRules: ((nsg.properties?.securityRules as Json[] | undefined) ?? []).filter((r) => [`${RULE_PREFIX}80`, `${RULE_PREFIX}443`].includes(String(r.name))) } };
    return { policyId: String(nsg.id), rules: rulesOf(ours).filter((r) => r.port === 80 || r.port === 443) };
  }

  /** Each of our 80/443 rules, its priority kept, with these sources. */
  private async setSources(policyId: string, byPort: Map<number, string[]>): Promise<void> {
    for (const [port, sources] of byPort) {
      const path = `${policyId}/securityRules/${RULE_PREFIX}${port}`;
      const rule = await this.c.arm.get(path, 'Microsoft.Network securityRules.get');
      if (!rule) continue;
      const { sourceAddressPrefix: _one, sourceAddressPrefixes: _many, provisioningState: _s, ...props } = (rule.properties ?? {}) as Json;
      const now = [...new Set(((rule.properties?.sourceAddressPrefixes as string[] | undefined)?.length ? rule.properties.sourceAddressPrefixes : [rule.properties?.sourceAddressPrefix]).filter(Boolean))].sort();
      if (JSON.stringify(now) === JSON.stringify([...sources].sort())) continue;
      await this.c.arm.put(path, { properties: { ...props, sourceAddressPrefixes: [...sources].sort() } }, 'Microsoft.Network securityRules.createOrUpdate');
    }
  }

  async limitInstanceAccess(access: ReplacedAccess, sourceCidr: string): Promise<void> {
    const ports = new Set(access.rules.map((r) => r.port));
    await this.setSources(access.policyId, new Map([...ports].map((p) => [p, [sourceCidr]])));
  }

  async restoreInstanceAccess(access: ReplacedAccess): Promise<void> {
    const byPort = new Map<number, string[]>();
    for (const r of access.rules as AccessRule[]) byPort.set(r.port, [...(byPort.get(r.port) ?? []), r.cidr]);
    await this.setSources(access.policyId, byPort);
  }

  async findResources(deployment: string) {
    const names = gatewayNames(deployment);
    const gwId = gatewayId(this.c, deployment);
    const pipId = ids.pip(where(this.c), names.address);
    const [gw, pip, subnet] = await Promise.all([
      this.c.arm.get(gwId, 'Microsoft.Network applicationGateways.get'),
      this.c.arm.get(pipId, 'Microsoft.Network publicIPAddresses.get'),
      this.c.arm.get(`${ids.vnet(where(this.c))}/subnets/${names.subnet}`, 'Microsoft.Network subnets.get'),
    ]);
    return {
      ...(gw && gw.tags?.[TLS_FOR_TAG] === deployment ? { gatewayId: gwId } : {}),
      ...(pip && pip.tags?.[TLS_FOR_TAG] === deployment ? { addressId: pipId, ...(pip.properties?.ipAddress ? { addressIp: String(pip.properties.ipAddress) } : {}) } : {}),
      ...(subnet ? { subnetId: String(subnet.id) } : {}),
    };
  }
}
