// Global firewall rules (NOTES.md §6): tied to a network, aimed at instances by network tag, no
// labels in this revision (the schema has no `labels`, so the validator refuses them). `patch`
// merges the fields given, `update` replaces the rule; both take effect when the operation is DONE.
import { invalid, invalidField, notFound } from '../errors.js';
import { requireRef } from '../links.js';
import type { FirewallBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, Handler, World } from '../world.js';
import { getAnswer, isCidr, isRfc1035, listAnswer, newName, pick, target } from './common.js';

const PROTOCOLS = ['tcp', 'udp', 'icmp', 'esp', 'ah', 'sctp', 'ipip', 'all'];
const PORTED = ['tcp', 'udp', 'sctp'];

/** Client fields a firewall keeps as given. */
const KEPT = ['description', 'sourceRanges', 'destinationRanges', 'sourceTags', 'targetTags', 'sourceServiceAccounts', 'targetServiceAccounts', 'allowed', 'denied', 'logConfig'];

function checkPort(port: string, field: string): void {
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  const low = Number(m?.[1]);
  const high = Number(m?.[2] ?? m?.[1]);
  if (!m || low > 65535 || high > 65535 || low > high) throw invalidField(field, port, 'Invalid port specification.');
}

function checkRules(rules: Json[], field: string): void {
  rules.forEach((rule, i) => {
    const protocol = rule.IPProtocol as string | undefined;
    if (protocol === undefined) throw invalid(`Required field '${field}[${i}].IPProtocol' not specified`);
    const numeric = /^\d+$/.test(protocol) && Number(protocol) <= 255;
    if (!PROTOCOLS.includes(protocol) && !numeric) throw invalidField(`${field}[${i}].IPProtocol`, protocol, 'Invalid IP protocol.');
    const ports = (rule.ports as string[] | undefined) ?? [];
    if (ports.length > 0 && !PORTED.includes(protocol)) throw invalidField(`${field}[${i}].ports`, ports.join(','), 'Ports may only be given for tcp, udp and sctp.');
    ports.forEach((p, j) => checkPort(p, `${field}[${i}].ports[${j}]`));
  });
}

function networkLink(world: World, call: Call, value: string | undefined): string {
  const ref = requireRef(value ?? 'global/networks/default', call.project, 'networks', 'resource.network');
  if (ref.project !== call.project || ref.name !== 'default') throw notFound(`projects/${ref.project}/global/networks/${ref.name}`);
  return `${world.links.project(call.project)}/global/networks/default`;
}

/** The stored rule for a full firewall body (insert, update, or patch after merging). */
function firewallRule(world: World, call: Call, body: Json, base: { id: string; creationTimestamp: string; name: string }): FirewallBody {
  const direction = (body.direction as string | undefined) ?? 'INGRESS';
  const priority = (body.priority as number | undefined) ?? 1000;
  if (priority < 0 || priority > 65535) throw invalidField('resource.priority', priority, 'Must be between 0 and 65535.');
  const allowed = (body.allowed as Json[] | undefined) ?? [];
  const denied = (body.denied as Json[] | undefined) ?? [];
  if ((allowed.length > 0) === (denied.length > 0)) throw invalidField('resource', '', 'Exactly one of allowed or denied must be specified.');
  checkRules(allowed, 'resource.allowed');
  checkRules(denied, 'resource.denied');
  for (const key of ['sourceRanges', 'destinationRanges'] as const) {
    ((body[key] as string[] | undefined) ?? []).forEach((range, i) => {
      if (!isCidr(range)) throw invalidField(`resource.${key}[${i}]`, range, 'Must be a valid IPv4 or IPv6 CIDR range.');
    });
  }
  for (const key of ['sourceTags', 'targetTags'] as const) {
    ((body[key] as string[] | undefined) ?? []).forEach((tag, i) => {
      if (!isRfc1035(tag)) throw invalidField(`resource.${key}[${i}]`, tag, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'");
    });
  }
  if (body.targetTags !== undefined && body.targetServiceAccounts !== undefined) {
    throw invalidField('resource.targetServiceAccounts', '', 'targetServiceAccounts cannot be used at the same time as targetTags.');
  }
  const sources = ['sourceRanges', 'sourceTags', 'sourceServiceAccounts'].some((k) => ((body[k] as unknown[] | undefined) ?? []).length > 0);
  if (direction === 'INGRESS' && !sources) {
    throw invalidField('resource.sourceRanges', '', 'An INGRESS rule needs at least one of sourceRanges, sourceTags or sourceServiceAccounts.');
  }
  return {
    ...pick(body, KEPT),
    kind: 'compute#firewall',
    id: base.id,
    creationTimestamp: base.creationTimestamp,
    name: base.name,
    network: networkLink(world, call, body.network as string | undefined),
    priority,
    direction,
    disabled: (body.disabled as boolean | undefined) ?? false,
    logConfig: (body.logConfig as Json | undefined) ?? { enable: false },
    selfLink: world.links.of({ project: call.project, scope: 'global', collection: 'firewalls', name: base.name }),
  };
}

function replacePlan(world: World, call: Call, body: Json, operationType: 'patch' | 'update') {
  const entry = world.state.firewalls.get(target(call, 'firewall'));
  if (body.name !== undefined && body.name !== entry.body.name) {
    throw invalidField('resource.name', body.name, `The name must be the rule's current name '${entry.body.name}'.`);
  }
  const merged = operationType === 'patch' ? { ...structuredClone(entry.body), ...body } : body;
  const next = firewallRule(world, call, merged, entry.body);
  return {
    plan: {
      operationType,
      target: entry.ref,
      targetId: entry.body.id,
      done: () => world.state.firewalls.put(entry.ref, next),
    },
  };
}

export const firewalls: Record<string, Handler> = {
  'firewalls.insert': (call, world) => {
    const ref = newName(call, world.state.firewalls);
    const rule = firewallRule(world, call, call.body, { id: world.state.nextId(), creationTimestamp: world.timestamp(), name: ref.name });
    return {
      plan: {
        operationType: 'insert',
        target: { ...ref, collection: 'firewalls' },
        targetId: rule.id,
        failure: world.quotas.checkProject(call.project, { FIREWALLS: 1 }),
        start: () => world.state.firewalls.put(ref, rule),
      },
    };
  },
  'firewalls.get': (call, world) => getAnswer(world, world.state.firewalls, target(call, 'firewall')),
  'firewalls.list': (call, world) => listAnswer(world, world.state.firewalls, call, 'compute#firewallList'),
  'firewalls.patch': (call, world) => replacePlan(world, call, call.body, 'patch'),
  'firewalls.update': (call, world) => replacePlan(world, call, call.body, 'update'),
  'firewalls.delete': (call, world) => {
    const entry = world.state.firewalls.get(target(call, 'firewall'));
    return { plan: { operationType: 'delete', target: entry.ref, targetId: entry.body.id, done: () => world.state.firewalls.delete(entry.ref) } };
  },
};

/** The rules Compute creates with a project's `default` network. */
export function defaultFirewallRules(world: World, project: string): FirewallBody[] {
  const call: Call = { route: 'firewalls.insert', project, params: {}, query: {}, body: {} };
  const rule = (name: string, description: string, priority: number, allowed: Json[], sourceRanges: string[]) =>
    firewallRule(world, call, { description, priority, allowed, sourceRanges }, { id: world.state.nextId(), creationTimestamp: '2024-01-15T09:00:00.000-08:00', name });
  return [
    rule('default-allow-icmp', 'Allow ICMP from anywhere', 65534, [{ IPProtocol: 'icmp' }], ['0.0.0.0/0']),
    rule('default-allow-internal', 'Allow internal traffic on the default network', 65534, [{ IPProtocol: 'tcp', ports: ['0-65535'] }, { IPProtocol: 'udp', ports: ['0-65535'] }, { IPProtocol: 'icmp' }], ['10.128.0.0/9']),
    rule('default-allow-rdp', 'Allow RDP from anywhere', 65534, [{ IPProtocol: 'tcp', ports: ['3389'] }], ['0.0.0.0/0']),
    rule('default-allow-ssh', 'Allow SSH from anywhere', 65534, [{ IPProtocol: 'tcp', ports: ['22'] }], ['0.0.0.0/0']),
  ];
}
