// Microsoft.Network application gateways (applicationGateway.json, 2024-05-01): the v2 SKUs only
// (v1 can no longer be created), checked as the Network resource provider checks them before it
// provisions anything: a subnet of their own (no NIC in it, and no NIC may join it afterwards), a
// Standard static public IP nobody else holds, every reference inside the gateway (listener →
// frontend IP/port/certificate, rule → listener/pool/settings/redirect, settings → probe) naming a
// part of the same body, v2 rules with a unique priority, an HTTPS listener with a certificate, an
// SSL certificate whose `data` is a PFX that opens with its `password` (read with the machine's
// openssl, as the gateway would reject it), a Key Vault certificate only with a user-assigned
// identity, a probe with a host unless it takes it from the settings. GET answers what was PUT,
// with ids on every part, the certificate's `data`/`password` never returned (`publicCertData`,
// a base64 PKCS#7 of the certificates, instead), and operationalState Running once provisioned.
// The subnet, public IP and NSG sides live in network-vnet.ts / network-nic.ts (gatewayUsersOf…).
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { badRequest, invalidParameter, invalidReference } from '../errors.js';
import { deleteResource, getResource, putResource, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import { APPGW, PIP, allIpConfigurations, etag, findReferenced, findSubnet, gatewayUsersOfPublicIp, renderNetwork, sameId } from './network-common.js';

type Part = { name: string; properties: Record<string, any> };

/** The collections of a gateway body whose parts other parts reference by id. */
const COLLECTIONS = [
  'gatewayIPConfigurations',
  'frontendIPConfigurations',
  'frontendPorts',
  'sslCertificates',
  'trustedRootCertificates',
  'backendAddressPools',
  'backendHttpSettingsCollection',
  'probes',
  'httpListeners',
  'redirectConfigurations',
  'requestRoutingRules',
] as const;

function parts(props: Record<string, any>, collection: string): Part[] {
  const list = (props[collection] as Part[] | undefined) ?? [];
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (!p?.name) throw invalidParameter(`Every item of ${collection} needs a name.`, `properties.${collection}[${i}]`);
    if (seen.has(p.name.toLowerCase())) throw invalidParameter(`${collection} has two items named ${p.name}.`, `properties.${collection}[${i}]`);
    seen.add(p.name.toLowerCase());
    p.properties ??= {};
  });
  return list;
}

/** What `openssl pkcs12` makes of the data and password: the certificates as a PKCS#7 (base64 DER), or undefined. */
function openPfx(data: string, password: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'arm-emulator-pfx-'));
  try {
    const pfx = join(dir, 'c.pfx');
    writeFileSync(pfx, Buffer.from(data, 'base64'));
    const certs = spawnSync('openssl', ['pkcs12', '-in', pfx, '-passin', `pass:${password}`, '-nokeys'], { encoding: 'utf8' });
    const key = spawnSync('openssl', ['pkcs12', '-in', pfx, '-passin', `pass:${password}`, '-nocerts', '-nodes'], { encoding: 'utf8' });
    if (certs.status !== 0 || key.status !== 0 || !/BEGIN CERTIFICATE/.test(certs.stdout) || !/PRIVATE KEY/.test(key.stdout)) return undefined;
    // The key must be one certificate's (the gateway's leaf).
    const privateKey = createPrivateKey(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(key.stdout)![0]);
    const pems = certs.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!pems.some((pem) => new X509Certificate(pem).checkPrivateKey(privateKey))) return undefined;
    writeFileSync(join(dir, 'c.pem'), certs.stdout);
    const p7 = spawnSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'c.pem'), '-outform', 'DER']);
    return p7.status === 0 ? p7.stdout.toString('base64') : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkGateway(ctx: RequestContext, id: string, location: string, body: Record<string, any>, existing: StoredResource | undefined): Record<string, unknown> {
  const props = (body.properties ?? {}) as Record<string, any>;
  const sku = props.sku ?? {};
  if (!['Standard_v2', 'WAF_v2', 'Basic'].includes(sku.name) || (sku.tier && sku.tier !== sku.name)) {
    throw badRequest('ApplicationGatewayV1SkuCreationNotAllowed', `Application gateway ${id}: SKU ${sku.name ?? '(none)'}/${sku.tier ?? '(none)'} cannot be created; use Standard_v2 (tier Standard_v2) or WAF_v2.`, 'properties.sku');
  }
  if (sku.capacity === undefined && !props.autoscaleConfiguration) {
    throw invalidParameter(`Application gateway ${id} needs sku.capacity or autoscaleConfiguration.`, 'properties.sku.capacity');
  }
  const byName = Object.fromEntries(COLLECTIONS.map((c) => [c, parts(props, c)]));
  const ref = (value: { id?: string } | undefined, collection: (typeof COLLECTIONS)[number], referencedBy: string, required = true): Part | undefined => {
    if (!value?.id) {
      if (required) throw invalidParameter(`${referencedBy} needs a reference to one of ${collection}.`, referencedBy);
      return undefined;
    }
    const m = new RegExp(`^(.*)/${collection}/([^/]+)$`, 'i').exec(value.id);
    const part = m && sameId(m[1], id) ? byName[collection]!.find((p) => p.name.toLowerCase() === m[2]!.toLowerCase()) : undefined;
    if (!part) throw invalidReference(value.id, `${id}/${referencedBy}`);
    return part;
  };

  // The subnet: exactly one, only application gateways in it.
  const gwConfigs = byName.gatewayIPConfigurations!;
  if (gwConfigs.length !== 1) throw invalidParameter('An application gateway needs exactly one gatewayIPConfiguration.', 'properties.gatewayIPConfigurations');
  const subnetId: string | undefined = gwConfigs[0]!.properties.subnet?.id;
  if (!subnetId) throw invalidParameter('The gatewayIPConfiguration needs a subnet.', 'properties.gatewayIPConfigurations[0].properties.subnet');
  const { vnet } = findSubnet(ctx, subnetId, `${id}/gatewayIPConfigurations/${gwConfigs[0]!.name}`);
  if (vnet.location !== location) throw badRequest('InvalidResourceReference', `Subnet ${subnetId} is in ${vnet.location}; application gateway ${id} is in ${location}.`);
  const nics = allIpConfigurations(ctx.core.state).filter(({ config }) => sameId(config.properties?.subnet?.id, subnetId));
  if (nics.length) {
    throw badRequest('ApplicationGatewaySubnetCannotBeUsedByOtherResources', `Subnet ${subnetId} cannot be used by application gateway ${id}: it holds other resources (${nics.map(({ nic }) => nic.id).join(', ')}). An application gateway needs a subnet of its own.`);
  }

  // Frontend IPs: a Standard static public IP nobody else holds.
  for (const [i, f] of byName.frontendIPConfigurations!.entries()) {
    const pipId: string | undefined = f.properties.publicIPAddress?.id;
    if (!pipId) continue;
    const pip = findReferenced(ctx, pipId, PIP, `${id}/frontendIPConfigurations/${f.name}`, location);
    if (pip.sku?.name !== 'Standard' || pip.properties.publicIPAllocationMethod !== 'Static') {
      throw badRequest('ApplicationGatewayV2PublicIpMustBeStandardStatic', `Public IP ${pipId} of application gateway ${id} must be of SKU Standard with the Static allocation method.`, `properties.frontendIPConfigurations[${i}]`);
    }
    const nicUser = allIpConfigurations(ctx.core.state).find(({ config }) => sameId(config.properties?.publicIPAddress?.id, pipId));
    const gwUser = gatewayUsersOfPublicIp(ctx.core.state, pipId).find((u) => !u.toLowerCase().startsWith(`${id.toLowerCase()}/`));
    if (nicUser || gwUser) throw badRequest('PublicIPAddressInUse', `Public IP ${pipId} is in use by ${nicUser ? nicUser.nic.id : gwUser}.`, `properties.frontendIPConfigurations[${i}]`);
  }
  for (const [i, port] of byName.frontendPorts!.entries()) {
    if (!Number.isInteger(port.properties.port) || port.properties.port < 1 || port.properties.port > 65199) throw invalidParameter(`Frontend port ${port.name}: port must be from 1 to 65199.`, `properties.frontendPorts[${i}]`);
  }

  // Certificates.
  const publicCertData = new Map<string, string>();
  for (const [i, cert] of byName.sslCertificates!.entries()) {
    const p = cert.properties;
    if (p.keyVaultSecretId) {
      const identities = Object.keys((body.identity?.userAssignedIdentities as Record<string, unknown> | undefined) ?? {});
      if (body.identity?.type !== 'UserAssigned' || !identities.length) {
        throw badRequest('ApplicationGatewayKeyVaultSecretRequiresIdentity', `SSL certificate ${cert.name} references Key Vault secret ${p.keyVaultSecretId}: the gateway needs a user-assigned identity with get access to it.`, `properties.sslCertificates[${i}]`);
      }
      continue;
    }
    if (!p.data) {
      const kept = existing && ((existing.internal.publicCertData as Record<string, string> | undefined) ?? {})[cert.name.toLowerCase()];
      if (kept) {
        publicCertData.set(cert.name.toLowerCase(), kept);
        continue;
      }
      throw badRequest('ApplicationGatewaySslCertificateDataMustBeSpecified', `SSL certificate ${cert.name} of application gateway ${id} needs data (a base64 PFX) and its password, or a keyVaultSecretId.`, `properties.sslCertificates[${i}]`);
    }
    const p7 = openPfx(String(p.data), String(p.password ?? ''));
    if (!p7) throw badRequest('ApplicationGatewaySslCertificateInvalidData', `The data of SSL certificate ${cert.name} is not a PFX that opens with the password given, holding a certificate and its private key.`, `properties.sslCertificates[${i}].properties.data`);
    publicCertData.set(cert.name.toLowerCase(), p7);
  }

  // Probes, settings, listeners, redirects, rules: their references.
  for (const [i, probe] of byName.probes!.entries()) {
    if (!probe.properties.pickHostNameFromBackendHttpSettings && !probe.properties.host) {
      throw badRequest('ApplicationGatewayProbeHostIsNotSpecified', `Probe ${probe.name} needs a host, or pickHostNameFromBackendHttpSettings.`, `properties.probes[${i}]`);
    }
    if (!String(probe.properties.path ?? '').startsWith('/')) throw badRequest('ApplicationGatewayProbePathIsInvalid', `Probe ${probe.name}: the path must start with /.`, `properties.probes[${i}]`);
  }
  for (const s of byName.backendHttpSettingsCollection!) ref(s.properties.probe, 'probes', `backendHttpSettingsCollection/${s.name}/probe`, false);
  const listenerKeys = new Set<string>();
  for (const l of byName.httpListeners!) {
    const front = ref(l.properties.frontendIPConfiguration, 'frontendIPConfigurations', `httpListeners/${l.name}/frontendIPConfiguration`)!;
    const port = ref(l.properties.frontendPort, 'frontendPorts', `httpListeners/${l.name}/frontendPort`)!;
    if (l.properties.protocol === 'Https') ref(l.properties.sslCertificate, 'sslCertificates', `httpListeners/${l.name}/sslCertificate`);
    const key = `${front.name}|${port.name}|${String(l.properties.hostName ?? '').toLowerCase()}`.toLowerCase();
    if (listenerKeys.has(key)) throw badRequest('ApplicationGatewayDuplicateHttpListener', `Listener ${l.name} uses the same frontend IP, port and host name as another one.`);
    listenerKeys.add(key);
  }
  for (const r of byName.redirectConfigurations!) {
    if (!r.properties.targetListener && !r.properties.targetUrl) throw invalidParameter(`Redirect ${r.name} needs a targetListener or a targetUrl.`, `properties.redirectConfigurations`);
    ref(r.properties.targetListener, 'httpListeners', `redirectConfigurations/${r.name}/targetListener`, false);
  }
  const priorities = new Set<number>();
  for (const rule of byName.requestRoutingRules!) {
    const p = rule.properties;
    if (!Number.isInteger(p.priority)) throw badRequest('ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty', `Rule ${rule.name}: a v2 gateway needs a priority on every rule.`);
    if (priorities.has(p.priority)) throw badRequest('ApplicationGatewayRequestRoutingRulePriorityAlreadyExists', `Rule ${rule.name}: priority ${p.priority} is taken by another rule.`);
    priorities.add(p.priority);
    ref(p.httpListener, 'httpListeners', `requestRoutingRules/${rule.name}/httpListener`);
    if (p.redirectConfiguration) ref(p.redirectConfiguration, 'redirectConfigurations', `requestRoutingRules/${rule.name}/redirectConfiguration`);
    else {
      ref(p.backendAddressPool, 'backendAddressPools', `requestRoutingRules/${rule.name}/backendAddressPool`);
      ref(p.backendHttpSettings, 'backendHttpSettingsCollection', `requestRoutingRules/${rule.name}/backendHttpSettings`);
    }
  }
  return Object.fromEntries(publicCertData);
}

export const appGatewayKind: ResourceType = {
  type: APPGW,
  family: 'network',
  zonal: true,
  plan(ctx, input) {
    const publicCertData = checkGateway(ctx, input.id, input.location, input.body, input.existing);
    const props = structuredClone((input.body.properties ?? {}) as Record<string, any>);
    // The certificate's secret parts are kept by the gateway, never answered.
    for (const cert of (props.sslCertificates as Part[] | undefined) ?? []) {
      delete cert.properties.data;
      delete cert.properties.password;
    }
    return {
      resource: {
        id: input.id,
        type: APPGW,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        ...(input.body.zones ? { zones: input.body.zones } : {}),
        properties: props,
        top: input.body.identity ? { identity: input.body.identity } : {},
        provisioningState: 'Creating',
        internal: { resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(), etag: ctx.core.state.newUuid(), publicCertData },
      },
    };
  },
  render(_ctx, r) {
    const body = renderNetwork(r, { operationalState: r.provisioningState === 'Succeeded' ? 'Running' : 'Starting' });
    const props = body.properties as Record<string, any>;
    const tag = etag(r);
    for (const c of COLLECTIONS) {
      if (!props[c]) continue;
      props[c] = (props[c] as Part[]).map((p) => ({
        name: p.name,
        id: `${r.id}/${c}/${p.name}`,
        etag: tag,
        type: `${APPGW}/${c}`,
        properties: {
          ...p.properties,
          ...(c === 'sslCertificates' && (r.internal.publicCertData as Record<string, string>)[p.name.toLowerCase()] ? { publicCertData: (r.internal.publicCertData as Record<string, string>)[p.name.toLowerCase()] } : {}),
          // Redirect configurations have no provisioningState in the schema.
          ...(c === 'redirectConfigurations' ? {} : { provisioningState: props.provisioningState }),
        },
      }));
    }
    return body;
  },
};

export function registerAppGateways(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('ApplicationGateways_CreateOrUpdate', (ctx) => putResource(ctx, appGatewayKind, rg(ctx), ctx.params.applicationGatewayName!));
  router.operation('ApplicationGateways_Get', (ctx) => getResource(ctx, appGatewayKind, rg(ctx), ctx.params.applicationGatewayName!));
  router.operation('ApplicationGateways_Delete', (ctx) => deleteResource(ctx, appGatewayKind, rg(ctx), ctx.params.applicationGatewayName!));
}
