// A port open to the world for one purpose (`tls --tls acme` HTTP-01: Let's Encrypt connects to 80
// from anywhere) on GCE: a firewall rule of its own beside launch's `<tag>-<port>` rules, aimed at
// the same network tag, its description carrying the policy's labels plus the purpose. Launch's
// ensureAccessPolicy only rewrites or deletes the rules named `<tag>-22/80/443`, so it keeps this
// one; closeWorldPort deletes only a rule that carries the purpose, never a rule of the user's.
import { randomUUID } from 'node:crypto';
import { CloudError } from '../../core/errors.js';
import type { Labels } from '../../core/labels.js';
import type { WorldPortPurpose } from '../port.js';
import { call, getOrUndefined, listAll, mutate, type GceContext, type Json } from './context.js';
import { isGceError } from './errors.js';
import { FIREWALL_MARK, firewallLabels, firewallPurpose, fitName, lastSegment, toAccessPolicy } from './mappers.js';
import { deleteFirewall, ourFirewalls } from './network.js';

const WORLD = '0.0.0.0/0';

/** What the rule is for, in words (the console shows the description). */
export const WORLD_PORT_REASONS: Record<WorldPortPurpose, string> = {
  'acme-http-01': "Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme)",
};

/**
 * `<tag>-<port>-acme`: never `<tag>-<digits>` (launch's rules, its own or another deployment's)
 * nor `<tag>-cluster`; cut and hashed when the tag is long.
 */
export function worldFirewallName(tag: string, port: number, purpose: WorldPortPurpose): string {
  return fitName(`${tag}-${port}-${purpose === 'acme-http-01' ? 'acme' : purpose}`);
}

export function worldFirewallBody(tag: string, network: string, policyName: string, port: number, purpose: WorldPortPurpose, labels: Labels): Json {
  return {
    name: worldFirewallName(tag, port, purpose),
    description: `${FIREWALL_MARK}${JSON.stringify({ policy: policyName, port, labels, purpose, why: WORLD_PORT_REASONS[purpose] })}`,
    network,
    direction: 'INGRESS',
    priority: 1000,
    allowed: [{ IPProtocol: 'tcp', ports: [String(port)] }],
    sourceRanges: [WORLD],
    targetTags: [tag],
  };
}

async function policyFirewalls(c: GceContext, tag: string): Promise<Json[]> {
  return (await ourFirewalls(c)).filter((f) => ((f.targetTags ?? []) as string[]).includes(tag));
}

const covers = (range: string, port: number) => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  return !!m && Number(m[1]) <= port && port <= Number(m[2] ?? m[1]);
};

/**
 * A rule that is not ours and already lets the world reach `port` on the tag's instances: enabled,
 * ingress, allowing tcp on it from 0.0.0.0/0, aimed at the tag or at every instance of the network.
 */
function opensToWorld(f: Json, tag: string, port: number, network: string): boolean {
  if (f.disabled === true || (f.direction ?? 'INGRESS') !== 'INGRESS' || lastSegment(String(f.network ?? '')) !== lastSegment(network)) return false;
  if (!((f.sourceRanges ?? []) as string[]).includes(WORLD)) return false;
  const targets = (f.targetTags ?? []) as string[];
  if (targets.length ? !targets.includes(tag) : ((f.targetServiceAccounts ?? []) as string[]).length > 0) return false;
  return ((f.allowed ?? []) as { IPProtocol?: string; ports?: string[] }[]).some((a) => a.IPProtocol === 'all' || (a.IPProtocol === 'tcp' && (!a.ports?.length || a.ports.some((r) => covers(r, port)))));
}

/** Opens `port` to 0.0.0.0/0 for the policy's tag as a rule marked for `purpose`; a user's rule to the world already there stays theirs. */
export async function openWorldPort(c: GceContext, tag: string, port: number, purpose: WorldPortPurpose): Promise<'opened' | 'already-open'> {
  const all = await listAll<Json>(c, 'firewalls.list', 'global/firewalls');
  const rules = all.filter((f) => firewallLabels(f) !== undefined && ((f.targetTags ?? []) as string[]).includes(tag));
  const first = rules.find((f) => firewallPurpose(f) === undefined) ?? rules[0];
  if (!first) throw new CloudError('access-policy-missing', `No firewall rules of sourcegraph-launch target the network tag ${tag}`, { remediation: 'Run launch again (with --update) to recreate them.' });
  const open = toAccessPolicy(tag, rules).rules.find((r) => r.port === port && r.cidr === WORLD);
  if (open) return open.purpose === purpose ? 'opened' : 'already-open';
  // A rule of the user's (the default network's `default-allow-http`, say, when the tag is on it too).
  if (all.some((f) => firewallLabels(f) === undefined && opensToWorld(f, tag, port, String(first.network ?? 'global/networks/default')))) return 'already-open';
  const ours = firewallLabels(first)!;
  const body = worldFirewallBody(tag, String(first.network ?? 'global/networks/default'), ours.policy || tag, port, purpose, ours.labels);
  await call(c, 'firewalls.insert', async () => {
    try {
      await mutate(c, 'POST', 'global/firewalls', { body, requestId: randomUUID() });
    } catch (err) {
      if (!isGceError(err, 'alreadyExists')) throw err;
      // Made by an earlier run that stopped half-way, or a name taken by something else.
      const existing = await getOrUndefined(c, 'firewalls.get', `global/firewalls/${String(body.name)}`);
      if (!existing || firewallPurpose(existing) !== purpose || !((existing.targetTags ?? []) as string[]).includes(tag)) {
        throw new CloudError('firewall-name-taken', `A firewall rule named ${String(body.name)} exists and is not the port-${port} rule of network tag ${tag}`, {
          remediation: `Rename or delete that rule (\`gcloud compute firewall-rules describe ${String(body.name)}\`), then run the command again.`,
        });
      }
    }
  });
  return 'opened';
}

/** Deletes only the rule(s) openWorldPort made for `purpose` on `port`. */
export async function closeWorldPort(c: GceContext, tag: string, port: number, purpose: WorldPortPurpose): Promise<'closed' | 'absent'> {
  const marked = (await policyFirewalls(c, tag)).filter((f) => firewallPurpose(f) === purpose && toAccessPolicy(tag, [f]).rules.some((r) => r.port === port && r.cidr === WORLD));
  if (!marked.length) return 'absent';
  await call(c, 'firewalls.delete', async () => {
    for (const f of marked) await deleteFirewall(c, String(f.name));
  });
  return 'closed';
}
