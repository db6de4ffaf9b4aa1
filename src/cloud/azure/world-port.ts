// A port open to the world for one purpose (`tls --tls acme` HTTP-01: Let's Encrypt connects to 80
// from anywhere) on Azure: a security rule of its own in the deployment's NSG, named
// `sourcegraph-launch-world-<purpose>-<port>` and described in words. Launch's nsgBody keeps rules
// with that prefix (as it keeps the cluster rules), and closeWorldPort deletes only that rule by
// name, never a rule of the user's to the internet.
import { CloudError } from '../../core/errors.js';
import type { WorldPortPurpose } from '../port.js';
import type { Json } from './arm.js';
import type { AzureContext } from './context.js';
import { toAccessPolicy, worldRuleName } from './mappers.js';

const WORLD = '0.0.0.0/0';
/** Above launch's rules (1000…) and the cluster rules (1100, 1110): the first free priority from here. */
const FIRST_PRIORITY = 1200;

/** What the rule is for, in words (the portal shows the description; at most 140 characters). */
export const WORLD_PORT_REASONS: Record<WorldPortPurpose, string> = {
  'acme-http-01': "Let's Encrypt HTTP-01 validation (sourcegraph-launch tls --tls acme)",
};

async function getNsg(c: AzureContext, policyId: string): Promise<Json | undefined> {
  return /\/networkSecurityGroups\/[^/]+$/i.test(policyId) ? c.arm.get(policyId, 'Microsoft.Network networkSecurityGroups.get') : undefined;
}

const covers = (range: string, port: number) => {
  if (range === '*') return true;
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  return !!m && Number(m[1]) <= port && port <= Number(m[2] ?? m[1]);
};

/** A rule (the user's) allowing tcp on `port` from anywhere: any source, the Internet tag or 0.0.0.0/0, on a range or all ports. */
function opensToWorld(rule: Json, port: number): boolean {
  const p = rule.properties ?? {};
  if (p.direction !== 'Inbound' || p.access !== 'Allow' || !['Tcp', '*'].includes(p.protocol)) return false;
  const sources: string[] = p.sourceAddressPrefixes?.length ? p.sourceAddressPrefixes : p.sourceAddressPrefix ? [p.sourceAddressPrefix] : [];
  const ranges: string[] = p.destinationPortRanges?.length ? p.destinationPortRanges : p.destinationPortRange ? [p.destinationPortRange] : [];
  return sources.some((s) => ['*', 'Internet', WORLD].includes(s)) && ranges.some((r) => covers(r, port));
}

/** The inbound priorities in use are unique per direction in an NSG: the first free one from FIRST_PRIORITY. */
export function freePriority(nsg: Json): number {
  const used = new Set(((nsg.properties?.securityRules as Json[] | undefined) ?? []).filter((r) => r.properties?.direction === 'Inbound').map((r) => Number(r.properties?.priority)));
  let p = FIRST_PRIORITY;
  while (used.has(p)) p += 10;
  return p;
}

export function worldRuleBody(port: number, purpose: WorldPortPurpose, priority: number): Json {
  return {
    properties: {
      description: WORLD_PORT_REASONS[purpose],
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      priority,
      sourceAddressPrefix: WORLD,
      sourcePortRange: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: String(port),
    },
  };
}

/** Opens `port` to 0.0.0.0/0 in the NSG as a rule marked for `purpose`; a user's rule to the world already there stays theirs. */
export async function openWorldPort(c: AzureContext, policyId: string, port: number, purpose: WorldPortPurpose): Promise<'opened' | 'already-open'> {
  const nsg = await getNsg(c, policyId);
  if (!nsg) throw new CloudError('access-policy-missing', `The network security group ${policyId} does not exist`, { remediation: 'Run launch again with --update to recreate it.' });
  const open = toAccessPolicy(nsg).rules.find((r) => r.port === port && r.cidr === WORLD);
  if (open) return open.purpose === purpose ? 'opened' : 'already-open';
  if (((nsg.properties?.securityRules as Json[] | undefined) ?? []).some((r) => opensToWorld(r, port))) return 'already-open';
  await c.arm.put(`${nsg.id}/securityRules/${worldRuleName(purpose, port)}`, worldRuleBody(port, purpose, freePriority(nsg)), 'Microsoft.Network securityRules.createOrUpdate');
  return 'opened';
}

/** Deletes only the rule openWorldPort made for `purpose` on `port`. */
export async function closeWorldPort(c: AzureContext, policyId: string, port: number, purpose: WorldPortPurpose): Promise<'closed' | 'absent'> {
  const nsg = await getNsg(c, policyId);
  const name = worldRuleName(purpose, port);
  const rule = ((nsg?.properties?.securityRules as Json[] | undefined) ?? []).find((r) => String(r.name).toLowerCase() === name.toLowerCase());
  if (!nsg || !rule) return 'absent';
  await c.arm.delete(`${nsg.id}/securityRules/${String(rule.name)}`, 'Microsoft.Network securityRules.delete');
  return 'closed';
}
