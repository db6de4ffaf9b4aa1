// The DNS part of `tls` when the domain's zone is in the same cloud account: find the zone, say
// what will change (UPSERT A <domain> → <address>, and what it pointed at before), ask (--yes when
// not interactive), then change that one record; and undo it for `tls --remove` and `destroy`, only
// while the record still points at the deployment's address. The zone itself and every other record
// are never touched. When no zone of the account holds the domain, `tls` prints the record instead.
import type { Cloud, DnsARecord, DnsZone } from '../cloud/port.js';
import type { DeploymentRecord } from '../state/store.js';
import { ExitCode, isLaunchError } from '../core/errors.js';
import { confirmOrYes } from '../workflows/shared.js';
import type { Deps, GlobalFlags } from './deps.js';

export const DNS_TTL = 300;

export type TlsDnsRecord = NonNullable<DeploymentRecord['tlsDns']>;

export interface DnsPlan {
  zone: DnsZone;
  current?: DnsARecord;
  /** none: it already points at the address alone (nothing to change). */
  change: 'create' | 'replace' | 'none';
}

/** Looks the zone and the record up and, when something will change, asks first (before anything changes). */
export async function planDns(deps: Pick<Deps, 'io'>, cloud: Cloud, domain: string, address: string, flags: GlobalFlags): Promise<DnsPlan | undefined> {
  let zone: DnsZone | undefined;
  try {
    zone = await cloud.findDnsZone(domain);
  } catch (e) {
    // Credentials that may not list DNS zones (a policy from before tls set records): print the
    // record as without a zone, saying why, rather than refuse to serve the certificate.
    if (!isLaunchError(e) || e.exitCode !== ExitCode.credentials) throw e;
    deps.io.warn(`Could not look for a DNS zone of ${domain} in this account (${e.message}); the record to create is printed instead. \`doctor --print-policy\` shows the permissions; --no-dns skips the lookup.`);
    return undefined;
  }
  if (!zone) return undefined;
  const current = await cloud.getARecord(zone.id, domain);
  const pointsHere = !!current && current.values.length === 1 && current.values[0] === address;
  const plan: DnsPlan = { zone, ...(current ? { current } : {}), change: pointsHere ? 'none' : current ? 'replace' : 'create' };
  const { io } = deps;
  if (plan.change === 'none') {
    io.info(`DNS: ${domain} already points at ${address} in the zone ${zone.name} (${zone.id}): nothing to change.`);
    return plan;
  }
  io.info(`DNS: the zone ${zone.name} (${zone.id}) is in this account; tls will change one record in it:`);
  io.info(`  UPSERT  ${domain}.  A  ${address}  (TTL ${DNS_TTL})`);
  if (current) io.info(`  It points at ${current.values.join(', ')} now; that value is replaced (and kept in this machine's record of the deployment).`);
  await confirmOrYes(
    deps,
    flags,
    current ? `Point ${domain} at ${address} instead of ${current.values.join(', ')}?` : `Create the record ${domain} A ${address} in the zone ${zone.name}?`,
    current ? `replace the DNS record ${domain} (it points at ${current.values.join(', ')})` : `create the DNS record ${domain}`,
  );
  return plan;
}

/** Makes the change planned; answers what to keep in the deployment record (undefined: nothing is ours). */
export async function applyDns(deps: Pick<Deps, 'io' | 'clock'>, cloud: Cloud, plan: DnsPlan, domain: string, address: string, earlier: TlsDnsRecord | undefined): Promise<TlsDnsRecord | undefined> {
  const sameRecord = earlier && earlier.zoneId === plan.zone.id && earlier.name === domain;
  if (plan.change === 'none') {
    // Already pointing here: ours only if an earlier `tls` made it so (then keep what it replaced).
    return sameRecord ? { ...earlier, value: address } : undefined;
  }
  await cloud.upsertARecord(plan.zone.id, domain, address, DNS_TTL);
  deps.io.success(`DNS: ${domain} → ${address} in the zone ${plan.zone.name}.`);
  const previous = sameRecord ? earlier.previous : plan.current?.values;
  return {
    zoneId: plan.zone.id,
    zoneName: plan.zone.name,
    name: domain,
    value: address,
    ttl: DNS_TTL,
    ...(previous?.length ? { previous } : {}),
    changedAt: new Date(deps.clock.now()).toISOString(),
  };
}

export type DnsRemoval = { name: string; zone: string; outcome: 'deleted' | 'absent' | 'not-ours' };

/** Deletes the record `tls` made, only while it still points at the recorded address. */
export async function removeDns(deps: Pick<Deps, 'io'>, cloud: Cloud, rec: TlsDnsRecord): Promise<DnsRemoval> {
  const { io } = deps;
  const outcome = await cloud.deleteARecord(rec.zoneId, rec.name, rec.value).catch((e: unknown) => {
    // The zone itself is gone (deleted by its owner): so is the record.
    if (isLaunchError(e) && e.code === 'dns-zone-not-found') return 'absent' as const;
    throw e;
  });
  if (outcome === 'deleted') io.success(`DNS: deleted the record ${rec.name} A ${rec.value} from the zone ${rec.zoneName}.`);
  else if (outcome === 'absent') io.info(`DNS: the record ${rec.name} is no longer in the zone ${rec.zoneName}: nothing to delete.`);
  else io.warn(`DNS: ${rec.name} no longer points at ${rec.value} (someone changed it): left as it is.`);
  if (outcome === 'deleted' && rec.previous?.length) io.info(`Before tls changed it, ${rec.name} pointed at ${rec.previous.join(', ')}; it is not restored.`);
  return { name: rec.name, zone: rec.zoneName, outcome };
}
