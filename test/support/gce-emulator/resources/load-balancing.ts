// The global external Application Load Balancer's parts (tls --tls managed): Google-managed SSL
// certificates, unmanaged instance groups, health checks, backend services, URL maps, target
// HTTP(S) proxies, global forwarding rules and global static addresses.
//
// The references between them are checked as Compute checks them: what a new resource names must
// exist (and be of the right kind), and a resource another one still uses cannot be deleted
// (400 resourceInUseByAnotherResource naming the user), so only the dependency order works:
// forwarding rules, proxies, URL maps, backend service, health check and instance group,
// certificate, address. Managed certificates are PROVISIONING until they are served (see
// `certificateProvisioning` in world.ts) or a test sets their status (control.setCertificateStatus).
import { conditionNotMet, GceError, invalid, invalidField, notFound, resourceInUse } from '../errors.js';
import { parseRef, refPath, requireRef, type Ref } from '../links.js';
import { fingerprint, labelFingerprint, type AddressBody, type Collection, type Entry, type Labels, type LbBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, Handler, World } from '../world.js';
import { getAnswer, isIpv4, listAnswer, newName, pick, target } from './common.js';
import { ipTaken } from './addresses.js';

type LbKind = 'sslCertificates' | 'instanceGroups' | 'healthChecks' | 'backendServices' | 'urlMaps' | 'targetHttpsProxies' | 'targetHttpProxies' | 'forwardingRules';

/** Google's managed certificates are valid 90 days. */
const MANAGED_VALIDITY_MS = 90 * 24 * 3600_000;
/** Reads of a served certificate before it turns ACTIVE (Google takes minutes to an hour). */
const PROVISIONING_READS = 2;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z][-a-z0-9]{0,61}[a-z0-9]$/;

const canonical = (value: string, project: string): string | undefined => {
  const ref = parseRef(value, project);
  return ref && refPath(ref);
};

/** The resource of `collection` a field names, which must exist; answers its selfLink. */
function existing(world: World, call: Call, value: unknown, collection: LbKind | 'addresses', field: string): Entry<LbBody> {
  if (typeof value !== 'string' || value === '') throw invalid(`Required field '${field}' not specified`);
  const ref = requireRef(value, call.project, collection === 'forwardingRules' ? 'forwardingRules' : collection, field);
  const entry = (world.state[collection] as Collection<LbBody>).find({ project: ref.project, scope: ref.scope, location: ref.location, name: ref.name });
  if (!entry) throw notFound(refPath(ref));
  return entry;
}

/** Every reference a load-balancing resource holds to another resource. */
function referencesOf(body: Json): string[] {
  const out: string[] = [];
  const add = (v: unknown) => typeof v === 'string' && out.push(v);
  add(body.target);
  add(body.urlMap);
  add(body.defaultService);
  for (const c of (body.sslCertificates as string[] | undefined) ?? []) add(c);
  for (const h of (body.healthChecks as string[] | undefined) ?? []) add(h);
  for (const b of (body.backends as Json[] | undefined) ?? []) add(b.group);
  return out;
}

/** The first resource that still uses `ref`, as a path, or undefined. */
function userOf(world: World, ref: Ref): string | undefined {
  const path = refPath(ref);
  for (const collection of world.state.lbCollections()) {
    for (const e of collection.list(ref.project)) {
      if (referencesOf(e.body).some((r) => canonical(r, ref.project) === path)) return refPath(e.ref);
    }
  }
  return undefined;
}

function deleteHandler(collection: LbKind, param: string, also?: (world: World, entry: Entry<LbBody>) => void): Handler {
  return (call, world) => {
    const c = world.state[collection];
    const entry = c.get(target(call, param));
    const user = userOf(world, entry.ref);
    if (user) throw resourceInUse(refPath(entry.ref), user);
    return {
      plan: {
        operationType: 'delete',
        target: entry.ref,
        targetId: entry.body.id,
        done: () => {
          c.delete(entry.ref);
          also?.(world, entry);
        },
      },
    };
  };
}

/** An insert: the body as stored (given fields plus output fields), put at once, final at DONE. */
function insertPlan(world: World, collection: LbKind, body: LbBody, ref: Omit<Ref, 'collection'>, done?: () => void) {
  return {
    plan: {
      operationType: 'insert',
      target: { ...ref, collection },
      targetId: body.id,
      start: () => world.state[collection].put(ref, body),
      ...(done ? { done } : {}),
    },
  };
}

function base(world: World, call: Call, ref: Omit<Ref, 'collection'>, collection: LbKind, kind: string): LbBody {
  return {
    kind,
    id: world.state.nextId(),
    creationTimestamp: world.timestamp(),
    name: ref.name,
    selfLink: world.links.of({ ...ref, collection }),
    ...pick(call.body, ['description']),
  };
}

// ---- managed certificates ----

/** Whether the certificate is on a proxy a forwarding rule serves, and the addresses serving it. */
function servingAddresses(world: World, project: string, cert: Entry<LbBody>): string[] {
  const path = refPath(cert.ref);
  const proxies = world.state.targetHttpsProxies.list(project).filter((p) => ((p.body.sslCertificates as string[] | undefined) ?? []).some((c) => canonical(c, project) === path));
  const ips: string[] = [];
  for (const p of proxies) {
    for (const r of world.state.forwardingRules.list(project)) {
      if (canonical(String(r.body.target ?? ''), project) === refPath(p.ref)) ips.push(String(r.body.IPAddress));
    }
  }
  return ips;
}

/** Moves a managed certificate on as Google would when it is read (when-served provisioning). */
function provision(world: World, cert: Entry<LbBody>): void {
  const managed = cert.body.managed as Json | undefined;
  if (!managed || managed.status !== 'PROVISIONING' || world.certificateProvisioning !== 'when-served') return;
  const domains = (managed.domains as string[]) ?? [];
  const ips = servingAddresses(world, cert.ref.project, cert);
  const key = refPath(cert.ref);
  if (!ips.length) {
    world.state.certificateCountdown.delete(key);
    managed.domainStatus = Object.fromEntries(domains.map((d) => [d, 'PROVISIONING']));
    return;
  }
  const visible = domains.filter((d) => world.resolveA(d).some((ip) => ips.includes(ip)));
  managed.domainStatus = Object.fromEntries(domains.map((d) => [d, visible.includes(d) ? 'ACTIVE' : 'FAILED_NOT_VISIBLE']));
  if (visible.length !== domains.length) {
    world.state.certificateCountdown.delete(key);
    return;
  }
  const left = (world.state.certificateCountdown.get(key) ?? PROVISIONING_READS) - 1;
  world.state.certificateCountdown.set(key, left);
  if (left <= 0) activate(world, cert);
}

function activate(world: World, cert: Entry<LbBody>): void {
  const managed = cert.body.managed as Json;
  const domains = (managed.domains as string[]) ?? [];
  managed.status = 'ACTIVE';
  managed.domainStatus = Object.fromEntries(domains.map((d) => [d, 'ACTIVE']));
  cert.body.subjectAlternativeNames = [...domains];
  cert.body.expireTime = new Date(world.now().getTime() + MANAGED_VALIDITY_MS).toISOString();
}

/** control.setCertificateStatus: what Google reports of a managed certificate, set by a test. */
export function setCertificateStatus(world: World, name: string, status: string, domainStatus?: string): Json {
  const cert = world.state.sslCertificates.get({ project: world.project, scope: 'global', name });
  const managed = cert.body.managed as Json | undefined;
  if (!managed) throw new Error(`${name} is not a managed certificate`);
  if (status === 'ACTIVE') activate(world, cert);
  else {
    managed.status = status;
    managed.domainStatus = Object.fromEntries(((managed.domains as string[]) ?? []).map((d) => [d, domainStatus ?? (status === 'PROVISIONING' ? 'PROVISIONING' : 'FAILED_NOT_VISIBLE')]));
  }
  return structuredClone(cert.body);
}

const sslCertificates: Record<string, Handler> = {
  'sslCertificates.insert': (call, world) => {
    const ref = newName(call, world.state.sslCertificates);
    const type = (call.body.type as string | undefined) ?? 'SELF_MANAGED';
    const body = base(world, call, ref, 'sslCertificates', 'compute#sslCertificate');
    body.type = type;
    if (type === 'MANAGED') {
      const domains = ((call.body.managed as Json | undefined)?.domains as string[] | undefined) ?? [];
      if (!domains.length) throw invalid("Required field 'resource.managed.domains' not specified");
      if (domains.length > 100) throw invalidField('resource.managed.domains', domains.length, 'At most 100 domains per managed certificate.');
      domains.forEach((d, i) => {
        if (!DOMAIN.test(d)) throw invalidField(`resource.managed.domains[${i}]`, d, 'Must be a fully qualified domain name, lower case, without a trailing dot or a wildcard.');
      });
      if (call.body.certificate !== undefined || call.body.privateKey !== undefined) throw invalidField('resource.certificate', '', 'A managed certificate takes no certificate or private key.');
      body.managed = { domains: [...domains], status: 'PROVISIONING', domainStatus: Object.fromEntries(domains.map((d) => [d, 'PROVISIONING'])) };
    } else if (type === 'SELF_MANAGED') {
      if (typeof call.body.certificate !== 'string' || typeof call.body.privateKey !== 'string') throw invalid("Required field 'resource.certificate' not specified");
      body.certificate = call.body.certificate;
    } else {
      throw invalidField('resource.type', type, 'Must be MANAGED or SELF_MANAGED.');
    }
    return insertPlan(world, 'sslCertificates', body, ref);
  },
  'sslCertificates.get': (call, world) => {
    const entry = world.state.sslCertificates.get(target(call, 'sslCertificate'));
    provision(world, entry);
    return getAnswer(world, world.state.sslCertificates, entry.ref);
  },
  'sslCertificates.list': (call, world) => {
    for (const e of world.state.sslCertificates.list(call.project)) provision(world, e);
    return listAnswer(world, world.state.sslCertificates, call, 'compute#sslCertificateList');
  },
  'sslCertificates.delete': deleteHandler('sslCertificates', 'sslCertificate', (world, e) => world.state.certificateCountdown.delete(refPath(e.ref))),
};

// ---- unmanaged instance groups (zonal) ----

function groupEntry(world: World, call: Call): Entry<LbBody> {
  world.checkZone(call.project, call.params.zone!);
  return world.state.instanceGroups.get(target(call, 'instanceGroup'));
}

/** Members whose instance still exists (deleting an instance takes it out of its groups). */
function members(world: World, group: Entry<LbBody>): string[] {
  const path = refPath(group.ref);
  const live = (world.state.groupMembers.get(path) ?? []).filter((link) => {
    const ref = parseRef(link, group.ref.project);
    return ref && world.state.instances.find({ project: ref.project, scope: ref.scope, location: ref.location, name: ref.name });
  });
  world.state.groupMembers.set(path, live);
  group.body.size = live.length;
  return live;
}

function namedPorts(value: unknown): Json[] {
  const ports = (value as Json[] | undefined) ?? [];
  ports.forEach((p, i) => {
    if (typeof p.name !== 'string' || !/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(p.name)) throw invalidField(`resource.namedPorts[${i}].name`, p.name, 'Must be a match of regex [a-z]([-a-z0-9]*[a-z0-9])?');
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535) throw invalidField(`resource.namedPorts[${i}].port`, p.port, 'Must be between 1 and 65535.');
  });
  return ports.map((p) => ({ name: p.name, port: p.port }));
}

const instanceGroups: Record<string, Handler> = {
  'instanceGroups.insert': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    const ref = newName(call, world.state.instanceGroups);
    const body = base(world, call, ref, 'instanceGroups', 'compute#instanceGroup');
    const network = requireRef((call.body.network as string | undefined) ?? 'global/networks/default', call.project, 'networks', 'resource.network');
    if (network.name !== 'default') throw notFound(refPath(network));
    Object.assign(body, {
      zone: world.links.zone(call.project, ref.location!),
      network: `${world.links.project(call.project)}/global/networks/default`,
      namedPorts: namedPorts(call.body.namedPorts),
      size: 0,
    });
    body.fingerprint = fingerprint(body.namedPorts);
    return insertPlan(world, 'instanceGroups', body, ref, () => world.state.groupMembers.set(refPath({ ...ref, collection: 'instanceGroups' }), []));
  },
  'instanceGroups.get': (call, world) => {
    const entry = groupEntry(world, call);
    members(world, entry);
    return getAnswer(world, world.state.instanceGroups, entry.ref);
  },
  'instanceGroups.list': (call, world) => {
    world.checkZone(call.project, call.params.zone!);
    for (const e of world.state.instanceGroups.list(call.project, 'zones', call.params.zone)) members(world, e);
    return listAnswer(world, world.state.instanceGroups, call, 'compute#instanceGroupList');
  },
  'instanceGroups.delete': deleteHandler('instanceGroups', 'instanceGroup', (world, e) => world.state.groupMembers.delete(refPath(e.ref))),
  'instanceGroups.addInstances': (call, world) => {
    const group = groupEntry(world, call);
    const current = members(world, group);
    const adding = ((call.body.instances as Json[] | undefined) ?? []).map((x, i) => {
      const ref = requireRef(String(x.instance ?? ''), call.project, 'instances', `resource.instances[${i}].instance`);
      const instance = world.state.instances.find({ project: ref.project, scope: ref.scope, location: ref.location, name: ref.name });
      if (!instance) throw notFound(refPath(ref));
      if (ref.location !== group.ref.location) throw invalidField(`resource.instances[${i}].instance`, x.instance, `The instance must be in the instance group's zone ${group.ref.location}.`);
      if (current.includes(instance.body.selfLink)) throw new GceError(400, 'memberAlreadyExists', `The resource '${refPath(ref)}' is already a member of '${refPath(group.ref)}'`);
      return instance.body.selfLink;
    });
    if (!adding.length) throw invalid("Required field 'resource.instances' not specified");
    return {
      plan: {
        operationType: 'addInstances',
        target: group.ref,
        targetId: group.body.id,
        done: () => {
          const now = members(world, group);
          world.state.groupMembers.set(refPath(group.ref), [...now, ...adding.filter((a) => !now.includes(a))]);
          members(world, group);
        },
      },
    };
  },
  'instanceGroups.removeInstances': (call, world) => {
    const group = groupEntry(world, call);
    const removing = ((call.body.instances as Json[] | undefined) ?? []).map((x, i) => {
      const ref = requireRef(String(x.instance ?? ''), call.project, 'instances', `resource.instances[${i}].instance`);
      if (ref.location !== group.ref.location) throw invalidField(`resource.instances[${i}].instance`, x.instance, `The instance must be in the instance group's zone ${group.ref.location}.`);
      return refPath(ref);
    });
    if (!removing.length) throw invalid("Required field 'resource.instances' not specified");
    return {
      plan: {
        operationType: 'removeInstances',
        target: group.ref,
        targetId: group.body.id,
        done: () => {
          // One that is no member (any more) is no error: nothing to take out.
          const now = members(world, group);
          world.state.groupMembers.set(refPath(group.ref), now.filter((m) => !removing.includes(refPath(parseRef(m, call.project)!))));
          members(world, group);
        },
      },
    };
  },
  'instanceGroups.listInstances': (call, world) => {
    const group = groupEntry(world, call);
    const items = members(world, group).map((instance) => {
      const ref = parseRef(instance, call.project)!;
      const found = world.state.instances.find({ project: ref.project, scope: ref.scope, location: ref.location, name: ref.name })!;
      return { instance, status: found.body.status };
    });
    const state = (call.body.instanceState as string | undefined) ?? 'ALL';
    const shown = state === 'RUNNING' ? items.filter((i) => i.status === 'RUNNING') : items;
    return { json: { kind: 'compute#instanceGroupsListInstances', id: group.body.id, selfLink: `${group.body.selfLink}/listInstances`, ...(shown.length ? { items: shown } : {}) } };
  },
  'instanceGroups.setNamedPorts': (call, world) => {
    const group = groupEntry(world, call);
    if (call.body.fingerprint !== undefined && call.body.fingerprint !== group.body.fingerprint) throw conditionNotMet('Fingerprint of the named ports is stale: read the group again');
    const ports = namedPorts(call.body.namedPorts);
    return {
      plan: {
        operationType: 'setNamedPorts',
        target: group.ref,
        targetId: group.body.id,
        done: () => {
          group.body.namedPorts = ports;
          group.body.fingerprint = fingerprint(ports);
        },
      },
    };
  },
};

// ---- health checks, backend services, URL maps, target proxies ----

const HEALTH_TYPES: Record<string, string> = { HTTP: 'httpHealthCheck', HTTPS: 'httpsHealthCheck', HTTP2: 'http2HealthCheck', TCP: 'tcpHealthCheck', SSL: 'sslHealthCheck', GRPC: 'grpcHealthCheck' };

const healthChecks: Record<string, Handler> = {
  'healthChecks.insert': (call, world) => {
    const ref = newName(call, world.state.healthChecks);
    const type = call.body.type as string | undefined;
    const field = type ? HEALTH_TYPES[type] : undefined;
    if (!type || !field) throw invalidField('resource.type', type ?? '', 'Must be one of HTTP, HTTPS, HTTP2, TCP, SSL, GRPC.');
    for (const other of Object.values(HEALTH_TYPES)) {
      if (other !== field && call.body[other] !== undefined) throw invalidField(`resource.${other}`, '', `A health check of type ${type} takes ${field} only.`);
    }
    const spec = (call.body[field] as Json | undefined) ?? {};
    const port = spec.port as number | undefined;
    if (port !== undefined && (port < 1 || port > 65535)) throw invalidField(`resource.${field}.port`, port, 'Must be between 1 and 65535.');
    const path = spec.requestPath as string | undefined;
    if (path !== undefined && !path.startsWith('/')) throw invalidField(`resource.${field}.requestPath`, path, 'Must start with /.');
    const body = base(world, call, ref, 'healthChecks', 'compute#healthCheck');
    const interval = (call.body.checkIntervalSec as number | undefined) ?? 5;
    const timeout = (call.body.timeoutSec as number | undefined) ?? 5;
    if (timeout > interval) throw invalidField('resource.timeoutSec', timeout, 'timeoutSec must be less than or equal to checkIntervalSec.');
    Object.assign(body, {
      type,
      [field]: { port: port ?? 80, ...pick(spec, ['requestPath', 'portSpecification', 'portName', 'host', 'response', 'proxyHeader']) },
      checkIntervalSec: interval,
      timeoutSec: timeout,
      healthyThreshold: (call.body.healthyThreshold as number | undefined) ?? 2,
      unhealthyThreshold: (call.body.unhealthyThreshold as number | undefined) ?? 2,
    });
    return insertPlan(world, 'healthChecks', body, ref);
  },
  'healthChecks.get': (call, world) => getAnswer(world, world.state.healthChecks, target(call, 'healthCheck')),
  'healthChecks.list': (call, world) => listAnswer(world, world.state.healthChecks, call, 'compute#healthCheckList'),
  'healthChecks.delete': deleteHandler('healthChecks', 'healthCheck'),
};

const SCHEMES = ['EXTERNAL', 'EXTERNAL_MANAGED'];

const backendServices: Record<string, Handler> = {
  'backendServices.insert': (call, world) => {
    const ref = newName(call, world.state.backendServices);
    const scheme = (call.body.loadBalancingScheme as string | undefined) ?? 'EXTERNAL';
    if (!SCHEMES.includes(scheme)) throw invalidField('resource.loadBalancingScheme', scheme, 'A global backend service is EXTERNAL or EXTERNAL_MANAGED here (the emulator models no internal load balancing).');
    const checks = ((call.body.healthChecks as string[] | undefined) ?? []).map((h, i) => existing(world, call, h, 'healthChecks', `resource.healthChecks[${i}]`).body.selfLink);
    if (checks.length > 1) throw invalidField('resource.healthChecks', checks.length, 'At most one health check.');
    const backends = ((call.body.backends as Json[] | undefined) ?? []).map((b, i) => {
      const group = existing(world, call, b.group, 'instanceGroups', `resource.backends[${i}].group`);
      return { ...pick(b, ['description', 'capacityScaler', 'maxUtilization', 'maxRatePerInstance', 'maxRate']), group: group.body.selfLink, balancingMode: (b.balancingMode as string | undefined) ?? 'UTILIZATION', capacityScaler: (b.capacityScaler as number | undefined) ?? 1 };
    });
    if (backends.length && !checks.length) throw invalid('A backend service with instance group backends needs a health check.');
    const body = base(world, call, ref, 'backendServices', 'compute#backendService');
    Object.assign(body, {
      protocol: (call.body.protocol as string | undefined) ?? 'HTTP',
      portName: (call.body.portName as string | undefined) ?? 'http',
      port: 80,
      timeoutSec: (call.body.timeoutSec as number | undefined) ?? 30,
      loadBalancingScheme: scheme,
      healthChecks: checks,
      backends,
      connectionDraining: { drainingTimeoutSec: 300 },
      sessionAffinity: 'NONE',
      ...pick(call.body, ['logConfig', 'enableCDN']),
    });
    body.fingerprint = fingerprint(body);
    return insertPlan(world, 'backendServices', body, ref);
  },
  'backendServices.get': (call, world) => getAnswer(world, world.state.backendServices, target(call, 'backendService')),
  'backendServices.list': (call, world) => listAnswer(world, world.state.backendServices, call, 'compute#backendServiceList'),
  'backendServices.delete': deleteHandler('backendServices', 'backendService'),
};

const urlMaps: Record<string, Handler> = {
  'urlMaps.insert': (call, world) => {
    const ref = newName(call, world.state.urlMaps);
    const redirect = call.body.defaultUrlRedirect as Json | undefined;
    const service = call.body.defaultService as string | undefined;
    if ((redirect === undefined) === (service === undefined)) throw invalid('Exactly one of defaultService and defaultUrlRedirect must be set.');
    const body = base(world, call, ref, 'urlMaps', 'compute#urlMap');
    if (service !== undefined) body.defaultService = existing(world, call, service, 'backendServices', 'resource.defaultService').body.selfLink;
    if (redirect) {
      const code = (redirect.redirectResponseCode as string | undefined) ?? 'MOVED_PERMANENTLY_DEFAULT';
      if (!redirect.httpsRedirect && !redirect.hostRedirect && !redirect.pathRedirect && !redirect.prefixRedirect) throw invalid('A URL redirect must change something: httpsRedirect, hostRedirect, pathRedirect or prefixRedirect.');
      body.defaultUrlRedirect = { ...pick(redirect, ['hostRedirect', 'pathRedirect', 'prefixRedirect']), httpsRedirect: redirect.httpsRedirect === true, stripQuery: redirect.stripQuery === true, redirectResponseCode: code };
    }
    body.fingerprint = fingerprint(body);
    return insertPlan(world, 'urlMaps', body, ref);
  },
  'urlMaps.get': (call, world) => getAnswer(world, world.state.urlMaps, target(call, 'urlMap')),
  'urlMaps.list': (call, world) => listAnswer(world, world.state.urlMaps, call, 'compute#urlMapList'),
  'urlMaps.delete': deleteHandler('urlMaps', 'urlMap'),
};

const targetHttpsProxies: Record<string, Handler> = {
  'targetHttpsProxies.insert': (call, world) => {
    const ref = newName(call, world.state.targetHttpsProxies);
    const body = base(world, call, ref, 'targetHttpsProxies', 'compute#targetHttpsProxy');
    body.urlMap = existing(world, call, call.body.urlMap, 'urlMaps', 'resource.urlMap').body.selfLink;
    const certs = (call.body.sslCertificates as string[] | undefined) ?? [];
    if (!certs.length && call.body.certificateMap === undefined) throw invalid("Required field 'resource.sslCertificates' not specified");
    if (certs.length > 15) throw invalidField('resource.sslCertificates', certs.length, 'At most 15 certificates.');
    body.sslCertificates = certs.map((c, i) => existing(world, call, c, 'sslCertificates', `resource.sslCertificates[${i}]`).body.selfLink);
    Object.assign(body, pick(call.body, ['quicOverride', 'sslPolicy']));
    body.fingerprint = fingerprint(body);
    return insertPlan(world, 'targetHttpsProxies', body, ref);
  },
  'targetHttpsProxies.get': (call, world) => getAnswer(world, world.state.targetHttpsProxies, target(call, 'targetHttpsProxy')),
  'targetHttpsProxies.list': (call, world) => listAnswer(world, world.state.targetHttpsProxies, call, 'compute#targetHttpsProxyList'),
  'targetHttpsProxies.delete': deleteHandler('targetHttpsProxies', 'targetHttpsProxy'),
};

const targetHttpProxies: Record<string, Handler> = {
  'targetHttpProxies.insert': (call, world) => {
    const ref = newName(call, world.state.targetHttpProxies);
    const body = base(world, call, ref, 'targetHttpProxies', 'compute#targetHttpProxy');
    body.urlMap = existing(world, call, call.body.urlMap, 'urlMaps', 'resource.urlMap').body.selfLink;
    body.fingerprint = fingerprint(body);
    return insertPlan(world, 'targetHttpProxies', body, ref);
  },
  'targetHttpProxies.get': (call, world) => getAnswer(world, world.state.targetHttpProxies, target(call, 'targetHttpProxy')),
  'targetHttpProxies.list': (call, world) => listAnswer(world, world.state.targetHttpProxies, call, 'compute#targetHttpProxyList'),
  'targetHttpProxies.delete': deleteHandler('targetHttpProxies', 'targetHttpProxy'),
};

// ---- global forwarding rules and global addresses ----

function globalAddressByIp(world: World, project: string, ip: string): Entry<AddressBody> | undefined {
  return world.state.addresses.list(project, 'global').find((a) => a.body.address === ip);
}

/** The scheme of the backend service behind a proxy's URL map (a redirect-only map has none). */
function schemeBehind(world: World, project: string, proxy: Entry<LbBody>): string | undefined {
  const map = world.state.urlMaps.list(project).find((m) => m.body.selfLink === proxy.body.urlMap);
  const service = map && world.state.backendServices.list(project).find((s) => s.body.selfLink === map.body.defaultService);
  return service?.body.loadBalancingScheme as string | undefined;
}

const globalForwardingRules: Record<string, Handler> = {
  'globalForwardingRules.insert': (call, world) => {
    const ref = newName(call, world.state.forwardingRules);
    const targetRef = parseRef(String(call.body.target ?? ''), call.project);
    if (!targetRef || !['targetHttpProxies', 'targetHttpsProxies'].includes(targetRef.collection)) {
      throw invalidField('resource.target', call.body.target ?? '', 'Must be a URL to a target HTTP or HTTPS proxy (the emulator models no other global targets).');
    }
    const proxy = existing(world, call, call.body.target, targetRef.collection as LbKind, 'resource.target');
    const https = targetRef.collection === 'targetHttpsProxies';
    const portRange = String(call.body.portRange ?? (https ? '443' : '80'));
    const port = /^(\d+)(?:-(\d+))?$/.exec(portRange);
    if (!port || (port[2] !== undefined && port[2] !== port[1])) throw invalidField('resource.portRange', portRange, 'A target proxy takes one port.');
    const allowed = https ? ['443'] : ['80', '8080'];
    if (!allowed.includes(port[1]!)) throw invalidField('resource.portRange', portRange, `A ${https ? 'target HTTPS proxy' : 'target HTTP proxy'} serves port ${allowed.join(' or ')}.`);
    const protocol = (call.body.IPProtocol as string | undefined) ?? 'TCP';
    if (protocol !== 'TCP') throw invalidField('resource.IPProtocol', protocol, 'A target proxy takes TCP.');
    const scheme = (call.body.loadBalancingScheme as string | undefined) ?? 'EXTERNAL';
    if (!SCHEMES.includes(scheme)) throw invalidField('resource.loadBalancingScheme', scheme, 'Must be EXTERNAL or EXTERNAL_MANAGED.');
    const behind = schemeBehind(world, call.project, proxy);
    if (behind && behind !== scheme) throw invalidField('resource.loadBalancingScheme', scheme, `The backend service behind ${proxy.body.name} is ${behind}: the forwarding rule must have the same load balancing scheme.`);
    if ((call.body.networkTier as string | undefined) !== undefined && call.body.networkTier !== 'PREMIUM') throw invalidField('resource.networkTier', call.body.networkTier, 'Global forwarding rules are PREMIUM tier.');

    let address: Entry<AddressBody> | undefined;
    let ip: string;
    const given = call.body.IPAddress as string | undefined;
    if (given !== undefined) {
      if (isIpv4(given)) address = globalAddressByIp(world, call.project, given);
      else address = existing(world, call, given, 'addresses', 'resource.IPAddress') as unknown as Entry<AddressBody>;
      if (!address || address.ref.scope !== 'global') throw invalidField('resource.IPAddress', given, 'Must be a global static address of the project (or left out for an ephemeral one).');
      if (address.body.status === 'RESERVING') throw new GceError(400, 'resourceNotReady', `The resource '${refPath(address.ref)}' is not ready`);
      ip = address.body.address;
      for (const r of world.state.forwardingRules.list(call.project)) {
        if (r.body.IPAddress === ip && r.body.portRange === `${port[1]}-${port[1]}`) throw new GceError(400, 'resourceInUseByAnotherResource', `IP '${ip}' port ${port[1]} is already being used by ${refPath(r.ref)}.`);
      }
    } else {
      ip = world.state.nextEphemeralIp((candidate) => ipTaken(world, candidate));
    }
    const labels = call.body.labels as Labels | undefined;
    const body = base(world, call, ref, 'forwardingRules', 'compute#forwardingRule');
    Object.assign(body, {
      IPAddress: ip,
      IPProtocol: 'TCP',
      portRange: `${port[1]}-${port[1]}`,
      target: proxy.body.selfLink,
      loadBalancingScheme: scheme,
      networkTier: 'PREMIUM',
      ipVersion: 'IPV4',
      ...(labels && Object.keys(labels).length ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
    });
    body.fingerprint = fingerprint(body);
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'forwardingRules' },
        targetId: body.id,
        start: () => {
          world.state.forwardingRules.put(ref, body);
          if (address) {
            address.body.users = [...(address.body.users ?? []), body.selfLink];
            address.body.status = 'IN_USE';
          }
        },
      },
    };
  },
  'globalForwardingRules.get': (call, world) => getAnswer(world, world.state.forwardingRules, target(call, 'forwardingRule')),
  'globalForwardingRules.list': (call, world) => listAnswer(world, world.state.forwardingRules, call, 'compute#forwardingRuleList'),
  'globalForwardingRules.delete': deleteHandler('forwardingRules', 'forwardingRule', (world, e) => {
    for (const { body } of world.state.addresses.list(e.ref.project, 'global')) {
      if (!body.users?.includes(e.body.selfLink)) continue;
      body.users = body.users.filter((u) => u !== e.body.selfLink);
      if (!body.users.length) {
        delete body.users;
        body.status = 'RESERVED';
      }
    }
  }),
};

const globalAddresses: Record<string, Handler> = {
  'globalAddresses.insert': (call, world) => {
    const ref = newName(call, world.state.addresses);
    const addressType = (call.body.addressType as string | undefined) ?? 'EXTERNAL';
    if (addressType !== 'EXTERNAL') throw invalidField('resource.addressType', addressType, 'The emulator models external global addresses only.');
    if ((call.body.ipVersion as string | undefined) === 'IPV6') throw invalidField('resource.ipVersion', 'IPV6', 'The emulator models IPv4 global addresses only.');
    let ip = call.body.address as string | undefined;
    if (ip !== undefined) {
      if (!isIpv4(ip)) throw invalidField('resource.address', ip, 'Must be a valid IPv4 address.');
      if (ipTaken(world, ip)) throw new GceError(400, 'resourceInUseByAnotherResource', `IP address '${ip}' is already being used by another resource.`);
    } else {
      ip = world.state.nextEphemeralIp((candidate) => ipTaken(world, candidate));
    }
    const labels = call.body.labels as Labels | undefined;
    const address: AddressBody = {
      ...pick(call.body, ['description']),
      kind: 'compute#address',
      id: world.state.nextId(),
      creationTimestamp: world.timestamp(),
      name: ref.name,
      address: ip,
      status: 'RESERVING',
      selfLink: world.links.of({ ...ref, collection: 'addresses' }),
      addressType: 'EXTERNAL',
      ipVersion: 'IPV4',
      networkTier: 'PREMIUM',
      ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
      labelFingerprint: labelFingerprint(labels),
    } as unknown as AddressBody;
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'addresses' },
        targetId: address.id,
        start: () => world.state.addresses.put(ref, address),
        done: () => {
          if (address.status === 'RESERVING') address.status = 'RESERVED';
        },
      },
    };
  },
  'globalAddresses.get': (call, world) => getAnswer(world, world.state.addresses, target(call, 'address')),
  'globalAddresses.list': (call, world) => listAnswer(world, world.state.addresses, call, 'compute#addressList'),
  'globalAddresses.delete': (call, world) => {
    const entry = world.state.addresses.get(target(call, 'address'));
    const user = entry.body.users?.[0];
    if (user) throw resourceInUse(refPath(entry.ref), user.replace(/^.*?\/projects\//, 'projects/'));
    return { plan: { operationType: 'delete', target: entry.ref, targetId: entry.body.id, done: () => world.state.addresses.delete(entry.ref) } };
  },
};

export const loadBalancing: Record<string, Handler> = {
  ...sslCertificates,
  ...instanceGroups,
  ...healthChecks,
  ...backendServices,
  ...urlMaps,
  ...targetHttpsProxies,
  ...targetHttpProxies,
  ...globalForwardingRules,
  ...globalAddresses,
};
