// `tls --tls acme` with the DNS-01 challenge: Let's Encrypt checks a TXT record
// `_acme-challenge.<domain>` that Traefik's ACME client (lego) writes in the cloud's DNS zone, so
// no port has to be open to the world. Chosen by --acme-challenge, or by default when the domain's
// zone is in the same account and the cloud offers it (AWS: Route 53); HTTP-01 otherwise.
// The credentials on the instance are its own: an identity of the deployment that may change only
// that TXT record in that one zone (AWS: an IAM role in an instance profile on the instance; see
// src/cloud/aws/acme-dns-role.ts). The user's own keys never go to the instance. The steps run
// through the engine's runner with their journal in this machine's deployment record (acmeDns), so
// a re-run after an interruption goes on; `tls --remove`, `tls` with your own certificate, and
// `destroy` delete the identity (found by its name in the cloud, not only by the journal).
import { randomBytes } from 'node:crypto';
import type { AcmeDnsAccess, Cloud, DnsZone } from '../cloud/port.js';
import { ExitCode, isLaunchError, UsageError } from '../core/errors.js';
import { newJournal, runWorkflow, type Step } from '../engine/runner.js';
import type { DeploymentRecord, Journal } from '../state/store.js';
import type { Deps } from './deps.js';

export type AcmeChallenge = 'dns-01' | 'http-01';
export type AcmeDnsRecord = NonNullable<DeploymentRecord['acmeDns']>;

/** --acme-challenge's value (exit 2 for another); undefined: the default (decided once the cloud is known). */
export function parseChallenge(value: string | undefined, dns: boolean | undefined): AcmeChallenge | undefined {
  if (value === undefined) return undefined;
  if (value !== 'dns-01' && value !== 'http-01') throw new UsageError(`--acme-challenge ${value}: expected dns-01 or http-01`, { code: 'bad-input' });
  if (value === 'dns-01' && dns === false) {
    throw new UsageError('--acme-challenge dns-01 takes no --no-dns: the challenge is a record in the DNS zone of this account', { code: 'bad-input', remediation: 'Drop --no-dns, or use --acme-challenge http-01.' });
  }
  return value;
}

export interface ChallengeChoice {
  challenge: AcmeChallenge;
  /** With dns-01: the zone and the cloud's way to give the instance access to it. */
  zone?: DnsZone;
  access?: AcmeDnsAccess;
  /** Why the default came out as it did (said to the user). */
  why: string;
}

/**
 * dns-01 when asked for, or by default when the cloud offers it and a zone of the account holds the
 * domain; http-01 otherwise. Asked-for dns-01 that cannot work exits 2 before anything changes.
 */
export async function chooseChallenge(cloud: Cloud, where: { cloud: string; name: string }, domain: string, asked: AcmeChallenge | undefined, dns: boolean | undefined, instanceIdentity: string | undefined): Promise<ChallengeChoice> {
  const cloudName = where.cloud;
  if (asked === 'http-01') return { challenge: 'http-01', why: 'from --acme-challenge' };
  const access = cloud.acmeDnsAccess;
  if (!access) {
    if (asked === 'dns-01') {
      throw new UsageError(`--acme-challenge dns-01 is not offered yet on ${cloudName}`, { code: 'not-supported', remediation: 'Use --acme-challenge http-01 (port 80 opened to the world for the validation).' });
    }
    return { challenge: 'http-01', why: `DNS-01 is not offered on ${cloudName} yet` };
  }
  if (dns === false) return { challenge: 'http-01', why: 'with --no-dns' };
  let zone: DnsZone | undefined;
  try {
    zone = await cloud.findDnsZone(domain);
  } catch (e) {
    if (asked === 'dns-01' || !isLaunchError(e) || e.exitCode !== ExitCode.credentials) throw e;
    return { challenge: 'http-01', why: `the DNS zones of this account could not be read (${e.message})` };
  }
  if (!zone) {
    if (asked === 'dns-01') {
      throw new UsageError(`--acme-challenge dns-01: no public DNS zone of this account holds ${domain}`, {
        code: 'no-dns-zone',
        remediation: `Create the zone (or the domain's parent zone) in this account, or use --acme-challenge http-01.`,
      });
    }
    return { challenge: 'http-01', why: `no DNS zone of this account holds ${domain}` };
  }
  // One identity per instance: one that is not ours cannot be replaced behind the user's back.
  if (instanceIdentity && instanceIdentity.split('/').pop() !== access.names(where.name).profile) {
    const message = `the instance already runs as ${instanceIdentity}, and an instance has one instance profile`;
    if (asked === 'dns-01') throw new UsageError(`--acme-challenge dns-01: ${message}`, { code: 'instance-has-profile', remediation: 'Use --acme-challenge http-01, or take that profile off the instance first.' });
    return { challenge: 'http-01', why: message };
  }
  return { challenge: 'dns-01', zone, access, why: asked ? 'from --acme-challenge' : `the zone ${zone.name} is in this account` };
}

interface Ctx {
  access: AcmeDnsAccess;
  name: string;
  instanceId: string;
  zone: DnsZone;
  domain: string;
}

const STEPS: Step<Ctx>[] = [
  {
    id: 'acme-dns-role',
    title: 'IAM role for the DNS-01 challenge',
    run: async (c) => {
      const r = await c.access.ensureRole(c.name, c.zone, c.domain);
      return { summary: `${r.role}${r.created ? ' (created)' : ''}: TXT _acme-challenge.${c.domain} in ${c.zone.name} only`, result: { role: r.role } };
    },
  },
  {
    id: 'acme-dns-profile',
    title: 'its instance profile',
    run: async (c) => {
      const p = await c.access.ensureProfile(c.name);
      return { summary: `${p.profile}${p.created ? ' (created)' : ''}`, result: { profile: p.profile } };
    },
  },
  {
    id: 'acme-dns-associate',
    title: 'the instance profile on the instance',
    run: async (c) => {
      const a = await c.access.associate(c.name, c.instanceId);
      return { summary: `${c.instanceId}: ${a}`, result: { instanceId: c.instanceId } };
    },
  },
];

/** Creates (or finds) the identity and puts it on the instance; the journal goes to the deployment record. */
export async function grantDnsAccess(deps: Deps, target: { cloud: string; region: string; name: string }, access: AcmeDnsAccess, instanceId: string, zone: DnsZone, domain: string): Promise<AcmeDnsRecord> {
  const { io } = deps;
  const now = () => new Date(deps.clock.now()).toISOString();
  const earlier = deps.state.getDeployment(target.cloud, target.region, target.name)?.acmeDns;
  // A finished journal of an earlier install is run again from the start (every step is idempotent):
  // the zone or the domain may have changed, and so may the instance (an upgrade replaced it).
  const journal: Journal = earlier && !earlier.journal.finishedAt ? earlier.journal : newJournal('tls-acme-dns', randomBytes(6).toString('hex'), new Date(deps.clock.now()));
  if (earlier && !earlier.journal.finishedAt) io.info(`Resuming the DNS-01 access of ${target.name} (started ${journal.startedAt}).`);
  const names = access.names(target.name);
  const rec: AcmeDnsRecord = { domain, zone: { id: zone.id, name: zone.name }, role: names.role, profile: names.profile, journal };
  const save = (j: Journal) => {
    const latest = deps.state.getDeployment(target.cloud, target.region, target.name);
    deps.state.putDeployment({ ...(latest ?? { name: target.name, cloud: target.cloud, region: target.region, createdAt: now() }), updatedAt: now(), acmeDns: { ...rec, journal: j } });
  };
  save(journal);
  await runWorkflow(STEPS, { access, name: target.name, instanceId, zone, domain }, { journal, save: () => save(journal), io, clock: deps.clock, signal: deps.signal, ...(deps.afterStep ? { afterStep: deps.afterStep } : {}) });
  save(journal);
  return rec;
}

/**
 * Deletes the identity of the deployment (its association with the instance first, when given),
 * when this machine recorded one or the instance runs as it; answers what was deleted.
 */
export async function revokeDnsAccess(deps: Deps, cloud: Cloud, target: { cloud: string; region: string; name: string }, instance?: { id: string; instanceIdentity?: string }): Promise<string[] | undefined> {
  const access = cloud.acmeDnsAccess;
  if (!access) return undefined;
  const rec = deps.state.getDeployment(target.cloud, target.region, target.name)?.acmeDns;
  const profile = access.names(target.name).profile;
  const onInstance = instance?.instanceIdentity?.split('/').pop() === profile;
  if (!rec && !onInstance) return undefined;
  const removed = await access.remove(target.name, instance?.id);
  for (const r of removed) deps.io.success(`Deleted ${r}.`);
  const latest = deps.state.getDeployment(target.cloud, target.region, target.name);
  if (latest?.acmeDns) {
    const { acmeDns: _gone, ...rest } = latest;
    deps.state.putDeployment({ ...rest, updatedAt: new Date(deps.clock.now()).toISOString() });
  }
  return removed;
}
