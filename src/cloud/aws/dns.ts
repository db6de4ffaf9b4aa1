// DNS records in Route 53 (tls --domain): find the account's public hosted zone for a domain, read,
// upsert and delete one A record. Only record sets change; hosted zones are the user's and are
// never created or deleted. Route 53 is global, so the region of the scope plays no part.
import { CloudError } from '../../core/errors.js';
import { normalizeDnsName, zoneCandidates } from '../dns-names.js';
import type { DnsARecord, DnsZone } from '../port.js';
import { call, pollUntil, type AwsContext } from './context.js';
import { isAwsErrorCode } from './errors.js';
import type { Route53Api } from './route53-sdk.js';

/** How long an upsert waits for Route 53 to report the change INSYNC on its name servers. */
const CHANGE_WAIT_MS = 5 * 60_000;

export type AwsDnsContext = AwsContext & { route53: Route53Api };

const r53 = { service: 'route53' } as const;
const zoneIdOf = (id: string) => id.replace(/^\/hostedzone\//, '');

/**
 * ListHostedZonesByName lists zones in name order starting at DNSName, so each candidate name (the
 * domain, then each parent) is asked for in turn, longest first: the first public zone named
 * exactly so is the one that answers for the domain.
 */
export async function findDnsZone(c: AwsDnsContext, domain: string): Promise<DnsZone | undefined> {
  for (const candidate of zoneCandidates(domain)) {
    const out = await call(c, 'ListHostedZonesByName', () => c.route53.listHostedZonesByName({ DNSName: `${candidate}.`, MaxItems: 100 }), r53);
    const zone = (out.HostedZones ?? []).find((z) => normalizeDnsName(z.Name ?? '') === candidate && !z.Config?.PrivateZone);
    if (zone?.Id) return { id: zoneIdOf(zone.Id), name: candidate };
  }
  return undefined;
}

async function readRecordSet(c: AwsDnsContext, zoneId: string, name: string) {
  const n = normalizeDnsName(name);
  const out = await call(c, 'ListResourceRecordSets', () => inZone(zoneId, c.route53.listResourceRecordSets({ HostedZoneId: zoneId, StartRecordName: `${n}.`, StartRecordType: 'A', MaxItems: 1 })), r53);
  return (out.ResourceRecordSets ?? []).find((r) => r.Type === 'A' && normalizeDnsName(r.Name ?? '') === n);
}

export async function getARecord(c: AwsDnsContext, zoneId: string, name: string): Promise<DnsARecord | undefined> {
  const set = await readRecordSet(c, zoneId, name);
  if (!set) return undefined;
  // An alias record (to a load balancer, a CloudFront distribution …) has no values of its own.
  const values = set.AliasTarget?.DNSName ? [`alias:${normalizeDnsName(set.AliasTarget.DNSName)}`] : (set.ResourceRecords ?? []).map((r) => r.Value ?? '');
  return { name: normalizeDnsName(name), values, ttl: set.TTL ?? 0 };
}

export async function upsertARecord(c: AwsDnsContext, zoneId: string, name: string, ip: string, ttl: number): Promise<void> {
  const out = await call(c, 'ChangeResourceRecordSets', () =>
    inZone(zoneId, c.route53.changeResourceRecordSets({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: 'sourcegraph-launch tls',
        Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `${normalizeDnsName(name)}.`, Type: 'A', TTL: ttl, ResourceRecords: [{ Value: ip }] } }],
      },
    })), r53,
  );
  await waitInSync(c, out.ChangeInfo?.Id, out.ChangeInfo?.Status);
}

export async function deleteARecord(c: AwsDnsContext, zoneId: string, name: string, ip: string): Promise<'deleted' | 'absent' | 'not-ours'> {
  const set = await readRecordSet(c, zoneId, name);
  if (!set) return 'absent';
  const values = (set.ResourceRecords ?? []).map((r) => r.Value);
  if (set.AliasTarget || values.length !== 1 || values[0] !== ip) return 'not-ours';
  // A DELETE must name the record set exactly as it is: should it have changed since it was read,
  // Route 53 refuses the batch (InvalidChangeBatch) and nothing is deleted.
  const out = await call(c, 'ChangeResourceRecordSets', () =>
    inZone(zoneId, c.route53.changeResourceRecordSets({
      HostedZoneId: zoneId,
      ChangeBatch: { Comment: 'sourcegraph-launch tls --remove', Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: set.Name, Type: 'A', TTL: set.TTL, ResourceRecords: [{ Value: ip }] } }] },
    })).catch((e: unknown) => {
      if (isAwsErrorCode(e, 'InvalidChangeBatch')) return undefined;
      throw e;
    }), r53,
  );
  if (!out) return (await readRecordSet(c, zoneId, name)) ? 'not-ours' : 'absent';
  await waitInSync(c, out.ChangeInfo?.Id, out.ChangeInfo?.Status);
  return 'deleted';
}

export async function waitInSync(c: AwsDnsContext, changeId: string | undefined, status: string | undefined): Promise<void> {
  if (!changeId || status === 'INSYNC') return;
  const id = changeId.replace(/^\/change\//, '');
  await pollUntil(
    c,
    CHANGE_WAIT_MS,
    async () => ((await call(c, 'GetChange', () => c.route53.getChange({ Id: id }), r53)).ChangeInfo?.Status === 'INSYNC' ? true : undefined),
    () => new CloudError('dns-change-pending', `Route 53 did not report change ${id} as applied within ${CHANGE_WAIT_MS / 60_000} min`, { remediation: 'It usually applies within a minute; run the command again to check.' }),
  );
}

/** NoSuchHostedZone as our error: the zone recorded by `tls` is gone (or in another account). */
async function inZone<T>(zoneId: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isAwsErrorCode(e, 'NoSuchHostedZone')) throw new CloudError('dns-zone-not-found', `No Route 53 hosted zone ${zoneId}`, { remediation: 'The zone was deleted or is in another account; run the command again to look it up anew.' });
    throw e;
  }
}
