// `launch --domain D --tls-cert F --tls-key K`: the `tls` command's steps as part of a launch.
// Everything about the certificate, key and domain is checked before anything is created (the same
// checks as `tls`, exit 2); after the launch's readiness wait succeeds, `tls`'s own install step runs
// (tls.ts: over SSH, then the DNS record). A failure there leaves the instance as it is (a running
// deployment is never deleted) and exits 1 (4 when the DNS wait timed out) naming the exact `tls`
// command that finishes it. SSH closed to everyone (--ssh-cidr none) is refused up front.
// --no-wait is refused with --domain: the certificate can only be served once the instance is up,
// and a launch that returns early would silently skip it.
// `launch --domain D --tls acme --acme-email E` runs `tls --tls acme`'s steps instead (tls-acme.ts):
// its input is checked up front, and the consent to open port 80 to the world is the launch's own
// question at a terminal (the plan says so), else --i-know-port-80-is-public, required up front.
// `launch --domain D --tls managed` runs `tls --tls managed`'s install (tls-managed.ts: the cloud's
// certificate and load balancer, no SSH) on the clouds that offer it (others exit 2 before anything
// is created); the plan shows the monthly cost it adds, the launch's question (or --yes, required
// when not interactive) covers it. With --no-wait it stops where `tls --tls managed --no-wait` does
// (the certificate requested, its validation record set or printed); a re-run goes on.
// With --acme-challenge dns-01 no port is opened (so no such consent): the zone is looked up before
// anything is created (exit 2 without one), and the instance's role is made once it is up.
import type { LaunchFlags } from '../cli/commands/launch.js';
import { ExitCode, InterruptedError, LaunchError, MissingInputError, UsageError, isLaunchError } from '../core/errors.js';
import type { Deps } from './deps.js';
import type { CertificateInfo } from './tls-cert.js';
import type { ManagedHttpsCost } from '../cloud/port.js';
import { checkAcmeInput, installAcme, type TlsAcmeResult } from './tls-acme.js';
import type { GatewayTlsResult } from './tls-gateway.js';
import { checkManagedInput, formatManagedCost, installManagedTls, type ManagedTlsResult } from './tls-managed.js';
import type { AcmeChallenge } from './tls-acme-dns.js';
import { checkTlsInput, installTls, type TlsResult } from './tls.js';

const ONLY_OWN = 'launch supports --tls-cert/--tls-key (your own certificate), --tls acme (Let\'s Encrypt) or --tls managed (the cloud\'s certificate and load balancer)';

export type LaunchTls = LaunchOwnTls | LaunchAcmeTls | LaunchManagedTls;

/** --tls managed: the cloud's certificate and load balancer (the steps of `tls --tls managed`). */
export interface LaunchManagedTls {
  way: 'managed';
  domain: string;
  dns: boolean;
  /** Known once the cloud's adapter is connected (before the plan is shown). */
  cost?: ManagedHttpsCost;
  /** The cloud (known with the cost): its certificate is issued differently (AWS: a validation record; GCE: once served and the A record resolves). */
  cloud?: string;
}

export interface LaunchOwnTls {
  way?: undefined;
  domain: string;
  tlsCert: string;
  tlsKey: string;
  /** false: --no-dns (the record is printed, no zone is looked at). */
  dns: boolean;
  certificate: CertificateInfo;
}

/** --tls acme: Let's Encrypt through k3s's Traefik (the steps of `tls --tls acme`). */
export interface LaunchAcmeTls {
  way: 'acme';
  domain: string;
  email: string;
  ca: 'production' | 'staging';
  dns: boolean;
  /** --acme-challenge; undefined: dns-01 when the zone is in the account, else http-01 (decided before anything is created, as `resolved`). */
  challenge?: AcmeChallenge;
  /** The challenge the default came to, once the cloud was asked (launch.ts). */
  resolved?: AcmeChallenge;
  /** Port 80 may be opened to the world (a terminal's question, --i-know-port-80-is-public, or a dry run). */
  port80Consent: boolean;
}

/** The checks made before anything is created (exit 2 each); undefined without --domain. */
export function checkLaunchTls(deps: Pick<Deps, 'clock' | 'io'>, flags: LaunchFlags): LaunchTls | undefined {
  if (flags.tls === 'acme') return checkLaunchAcme(deps, flags);
  if (flags.tls === 'managed') return checkLaunchManaged(flags);
  if (flags.tls !== undefined) throw new UsageError(`--tls ${flags.tls}: ${ONLY_OWN}`, { code: 'not-supported', remediation: 'Give --domain D --tls-cert cert.pem --tls-key key.pem, or --domain D --tls acme --acme-email E.' });
  const acmeOnly = ([['acmeEmail', '--acme-email'], ['acmeStaging', '--acme-staging'], ['iKnowPort80IsPublic', '--i-know-port-80-is-public'], ['acmeChallenge', '--acme-challenge']] as const).find(([k]) => (k === 'acmeEmail' || k === 'acmeChallenge' ? flags[k] !== undefined : flags[k] === true));
  if (acmeOnly) throw new UsageError(`${acmeOnly[1]} only applies with --tls acme`, { code: 'bad-input' });
  if (flags.domain === undefined) {
    if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) throw new UsageError(`${flags.tlsCert !== undefined ? '--tls-cert' : '--tls-key'} needs --domain: the name the certificate is served for`, { code: 'missing-input' });
    if (flags.dns === false) throw new UsageError('--no-dns only applies with --domain', { code: 'bad-input' });
    return undefined;
  }
  if (!flags.tlsCert || !flags.tlsKey) {
    throw new UsageError(`--domain needs --tls-cert and --tls-key: ${ONLY_OWN}`, {
      code: 'missing-input',
      remediation: `e.g. \`launch --domain ${flags.domain} --tls-cert fullchain.pem --tls-key privkey.pem …\`.`,
    });
  }
  if (flags.wait === false) {
    throw new UsageError('--domain cannot be combined with --no-wait: the certificate is installed once the instance serves', {
      code: 'bad-input',
      remediation: `Launch with --no-wait and no --domain, then run \`tls <name> --domain ${flags.domain} --tls-cert ${flags.tlsCert} --tls-key ${flags.tlsKey}\` once \`status\` says it is ready.`,
    });
  }
  // Only the certificate checks of `tls`: launch's --timeout bounds its own readiness wait, and
  // the DNS wait of the TLS step keeps `tls`'s default.
  const input = checkTlsInput(deps, { domain: flags.domain, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey });
  const dns = flags.dns !== false;
  if (dns && !flags.yes && !flags.dryRun && !deps.io.interactive) {
    // Asked up front: a refusal after the instance is up would leave the launch half done.
    throw new UsageError('--domain when not running interactively needs --yes (lets launch create or replace the A record when a DNS zone of this account holds the domain) or --no-dns (the record is printed instead)', { code: 'missing-input' });
  }
  return { domain: input.domain, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey, dns, certificate: input.certificate };
}

/**
 * The certificate goes onto the instance over SSH: with SSH closed to everyone (`--ssh-cidr none`,
 * given or answered) the step could only fail after the launch, so it is refused before anything is
 * created (exit 2).
 */
export function refuseTlsWithoutSsh(sshCidrs: string[], t: LaunchTls, name: string, program: string): void {
  // The load balancer's steps need no SSH.
  if (sshCidrs.length || t.way === 'managed') return;
  throw new UsageError('--domain with --ssh-cidr none: HTTPS is set up on the instance over SSH, which none closes to everyone', {
    code: 'bad-input',
    remediation: `Give --ssh-cidr <your address>/32, or launch without --domain and later open SSH and run \`${program} tls ${name} ${tlsFlagsFor(t)}\`.`,
  });
}

function checkLaunchAcme(deps: Pick<Deps, 'io'>, flags: LaunchFlags): LaunchAcmeTls {
  if (flags.domain === undefined) throw new UsageError('--tls acme needs --domain: the name the certificate is for', { code: 'missing-input' });
  const input = checkAcmeInput({ domain: flags.domain, tls: 'acme', ...(flags.acmeEmail !== undefined ? { acmeEmail: flags.acmeEmail } : {}), ...(flags.acmeStaging ? { acmeStaging: true } : {}), ...(flags.tlsCert !== undefined ? { tlsCert: flags.tlsCert } : {}), ...(flags.tlsKey !== undefined ? { tlsKey: flags.tlsKey } : {}), ...(flags.acmeChallenge !== undefined ? { acmeChallenge: flags.acmeChallenge } : {}), ...(flags.dns === false ? { dns: false } : {}) });
  if (flags.wait === false) {
    throw new UsageError('--domain cannot be combined with --no-wait: Let\'s Encrypt is configured once the instance serves', {
      code: 'bad-input',
      remediation: `Launch with --no-wait and no --domain, then run \`tls <name> --domain ${input.domain} --tls acme --acme-email ${input.email}\` once \`status\` says it is ready.`,
    });
  }
  const interactive = deps.io.interactive && !flags.yes;
  // Asked up front: a refusal after the instance is up would leave the launch half done. At a
  // terminal the launch's own question covers it (the plan names the rule).
  const port80Consent = interactive || Boolean(flags.iKnowPort80IsPublic) || Boolean(flags.dryRun);
  // The default's consent is checked once the zone lookup decided it (refuseLaunchAcmeWithoutConsent).
  if (!port80Consent && input.challenge === 'http-01') throw port80ConsentMissing();
  const dns = flags.dns !== false;
  if (dns && !flags.yes && !flags.dryRun && !deps.io.interactive) {
    throw new UsageError('--domain when not running interactively needs --yes (lets launch create or replace the A record when a DNS zone of this account holds the domain) or --no-dns (the record is printed instead)', { code: 'missing-input' });
  }
  return { way: 'acme', domain: input.domain, email: input.email, ca: input.ca, dns, port80Consent, ...(input.challenge ? { challenge: input.challenge } : {}) };
}

/** HTTP-01 (asked for, or the default) without the consent to open port 80, when not interactive (exit 2). */
export function refuseLaunchAcmeWithoutConsent(t: LaunchTls): void {
  if (t.way === 'acme' && !t.port80Consent && (t.challenge ?? t.resolved ?? 'http-01') === 'http-01') throw port80ConsentMissing();
}

function port80ConsentMissing(): MissingInputError {
  return new MissingInputError('--i-know-port-80-is-public', "with --tls acme when not running interactively: Let's Encrypt validates the domain over http://<domain> from anywhere, so port 80 is opened to 0.0.0.0/0", { remediation: 'Add --i-know-port-80-is-public to accept it, use --acme-challenge dns-01 (the domain\'s zone in this account), or use --tls-cert/--tls-key.' });
}

/**
 * `launch --tls managed` on a cloud whose load balancer serves the user's own certificate (Azure's
 * Application Gateway): exit 2, naming the `tls` command to run after the launch.
 */
export function refuseLaunchGateway(cloud: string): never {
  throw new UsageError(`launch --tls managed is not offered on ${cloud}: on Azure run \`tls --tls managed --tls-cert … --tls-key …\` after the launch (its Application Gateway serves your own certificate)`, {
    code: 'not-supported',
    remediation: 'Launch without --domain/--tls, then run `tls NAME --domain D --tls managed --tls-cert cert.pem --tls-key key.pem`.',
  });
}

function checkLaunchManaged(flags: LaunchFlags): LaunchManagedTls {
  if (flags.domain === undefined) throw new UsageError('--tls managed needs --domain: the name the certificate is for', { code: 'missing-input' });
  if (flags.cloud === 'azure') refuseLaunchGateway('azure');
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    throw new UsageError('--tls managed takes no --tls-cert/--tls-key: the cloud issues the certificate', { code: 'bad-input', remediation: 'Drop --tls managed to serve your own certificate, or drop the files.' });
  }
  // launch's --timeout bounds its readiness wait; the certificate's wait keeps `tls`'s default.
  const { domain } = checkManagedInput({ domain: flags.domain, ...(flags.acmeEmail !== undefined ? { acmeEmail: flags.acmeEmail } : {}), ...(flags.acmeStaging ? { acmeStaging: true } : {}), ...(flags.iKnowPort80IsPublic ? { iKnowPort80IsPublic: true } : {}), ...(flags.acmeChallenge !== undefined ? { acmeChallenge: flags.acmeChallenge } : {}) });
  return { way: 'managed', domain, dns: flags.dns !== false };
}

/**
 * --tls managed when not running interactively needs --yes (the cost it adds is asked for, as `tls`
 * asks): refused with the cost printed, before anything is created.
 */
export function refuseManagedWithoutYes(deps: Pick<Deps, 'io'>, flags: LaunchFlags, t: LaunchManagedTls): void {
  if (flags.yes || flags.dryRun || deps.io.interactive) return;
  if (t.cost) for (const line of formatManagedCost(t.cost)) deps.io.info(line);
  throw new MissingInputError('--yes', `with --tls managed when not running interactively: it creates a load balancer and a certificate for ${t.domain}, which add the monthly cost above`, { remediation: 'Add --yes to accept it.' });
}

/** What the plan shows before the question. */
export function describeLaunchTls(t: LaunchTls): string[] {
  if (t.way === 'managed') {
    if (t.cloud === 'gcp') {
      return [
        `HTTPS after the launch is ready: https://${t.domain} through a global external Application Load Balancer with a Google-managed certificate (Google issues it once the load balancer serves the domain and ${t.domain}'s A record points at the balancer's address, and renews it itself) — the same steps as \`tls --tls managed\` (no SSH). The instance's 80/443 are then open only to Google's load balancer ranges.`,
        t.dns
          ? `DNS: when a Cloud DNS zone of this project holds ${t.domain}, its A record is set there to the balancer's address; otherwise the A record to create is printed. Then launch waits until the certificate is ACTIVE (up to 30 min) and probes https://${t.domain}/healthz.`
          : `DNS (--no-dns): the A record to create is printed; launch waits until the certificate is ACTIVE (up to 30 min) and probes https://${t.domain}/healthz.`,
        ...(t.cost ? formatManagedCost(t.cost) : []),
      ];
    }
    return [
      `HTTPS after the launch is ready: https://${t.domain} through the cloud's load balancer with the cloud's certificate (validated through a DNS record, renewed by the cloud) — the same steps as \`tls --tls managed\` (no SSH). The instance's 80/443 are then open only to the load balancer.`,
      t.dns
        ? `DNS: when a public zone of this account holds ${t.domain}, the validation record and ${t.domain} (an alias of the load balancer) are set in it; otherwise the records to create are printed. Then launch waits until the certificate is issued (up to 30 min) and probes https://${t.domain}/healthz.`
        : `DNS (--no-dns): the validation record and the CNAME to create are printed; launch waits until the certificate is issued (up to 30 min) and probes https://${t.domain}/healthz.`,
      ...(t.cost ? formatManagedCost(t.cost) : []),
    ];
  }
  if (t.way === 'acme') {
    return [
      `HTTPS after the launch is ready: https://${t.domain} with a Let's Encrypt certificate (${t.ca === 'staging' ? 'staging CA: not trusted by browsers' : 'production'}; expiry notices to ${t.email}) that k3s's Traefik obtains over ${challengeWords(t)} and renews — the same steps as \`tls --tls acme\`.`,
      (t.challenge ?? t.resolved) === 'dns-01'
        ? `No port is opened: the instance gets an IAM role of its own that may change only the TXT record _acme-challenge.${t.domain} in the zone (\`tls --remove\` and \`destroy\` delete it).`
        : `${t.challenge ?? t.resolved ? '' : 'With HTTP-01, '}Port 80/tcp is then opened to the whole internet (0.0.0.0/0) for Let's Encrypt's validation and renewals (\`tls --remove\` closes it).`,
      t.dns
        ? `DNS: when a public zone of this account holds ${t.domain}, its A record is set to the deployment's address (asked first; --yes); otherwise the record to create is printed. Then launch waits until it resolves and the certificate verifies.`
        : `DNS (--no-dns): the A record to create is printed; launch waits until it resolves and the certificate verifies.`,
    ];
  }
  const c = t.certificate;
  return [
    `HTTPS after the launch is ready: https://${t.domain} with your certificate (${t.tlsCert}: ${c.dnsNames.join(', ')}, valid until ${c.notAfter}, ${c.daysLeft} days), HTTP redirected to HTTPS — the same steps as \`tls\`.`,
    t.dns
      ? `DNS: when a public zone of this account holds ${t.domain}, its A record is set to the deployment's address (asked first; --yes); otherwise the record to create is printed. Then launch waits until it resolves.`
      : `DNS (--no-dns): the A record to create is printed; launch waits until it resolves.`,
  ];
}

function challengeWords(t: LaunchAcmeTls): string {
  const c = t.challenge ?? t.resolved;
  if (c === 'dns-01') return `DNS-01${t.challenge ? '' : ' (the zone is in this account)'}`;
  if (c === 'http-01') return 'HTTP-01';
  return 'DNS-01 when the zone is in this account (else HTTP-01)';
}

/** The `tls` command that does (or finishes) this step. */
export function tlsCommandFor(program: string, name: string, region: string, t: LaunchTls, cloud?: string): string {
  if (t.way === 'acme' || t.way === 'managed') return `${program} tls ${name}${cloud ? ` --cloud ${cloud}` : ''} --region ${region} ${tlsFlagsFor(t)}`;
  return `${program} tls ${name}${cloud ? ` --cloud ${cloud}` : ''} --region ${region} --domain ${t.domain} --tls-cert ${t.tlsCert} --tls-key ${t.tlsKey}${t.dns ? '' : ' --no-dns'}`;
}

/** The launch flags that ask for this HTTPS step (the CI command). */
export function tlsFlagsFor(t: LaunchTls): string {
  if (t.way === 'managed') return `--domain ${t.domain} --tls managed${t.dns ? '' : ' --no-dns'}`;
  if (t.way === 'acme') return `--domain ${t.domain} --tls acme --acme-email ${t.email}${t.ca === 'staging' ? ' --acme-staging' : ''}${t.challenge ? ` --acme-challenge ${t.challenge}` : ''}${t.challenge === 'dns-01' ? '' : ' --i-know-port-80-is-public'}${t.dns ? '' : ' --no-dns'}`;
  return `--domain ${t.domain} --tls-cert ${t.tlsCert} --tls-key ${t.tlsKey}${t.dns ? '' : ' --no-dns'}`;
}

/** Runs `tls`'s install step for the launched deployment; any failure exits 1 naming the tls command. */
export async function runLaunchTls(
  deps: Deps,
  flags: LaunchFlags,
  t: LaunchTls,
  where: { name: string; region: string; url?: string },
  install: typeof installTls = installTls,
): Promise<TlsResult | TlsAcmeResult | ManagedTlsResult | GatewayTlsResult> {
  const command = tlsCommandFor(deps.program, where.name, where.region, t, flags.cloud);
  const access = {
    ...(flags.cloud ? { cloud: flags.cloud } : {}),
    region: where.region,
    ...(flags.providerFlags ? { providerFlags: flags.providerFlags } : {}),
    ...(flags.identityFile ? { identityFile: flags.identityFile } : {}),
    ...(flags.sshUser ? { sshUser: flags.sshUser } : {}),
    ...(flags.yes ? { yes: true } : {}),
  };
  try {
    if (t.way === 'managed') {
      // The cost was shown in the plan and agreed to (the launch's question, or --yes required up front).
      return await installManagedTls(deps, where.name, { ...access, domain: t.domain, tls: 'managed', dns: t.dns, yes: true, ...(flags.wait === false ? { wait: false } : {}) });
    }
    if (t.way === 'acme') {
      // Consent was given up front (the launch's question, or --i-know-port-80-is-public).
      return await installAcme(deps, where.name, { ...access, domain: t.domain, tls: 'acme', acmeEmail: t.email, ...(t.ca === 'staging' ? { acmeStaging: true } : {}), ...(t.challenge ? { acmeChallenge: t.challenge } : {}), iKnowPort80IsPublic: true, dns: t.dns });
    }
    return await install(deps, where.name, {
      ...access,
      domain: t.domain,
      tlsCert: t.tlsCert,
      tlsKey: t.tlsKey,
      dns: t.dns,
    });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const remediation = `${isLaunchError(e) && e.remediation ? `${e.remediation}\n` : ''}The instance stays as it is. Finish HTTPS with:\n  ${command}`;
    if (e instanceof InterruptedError) throw new InterruptedError(`Interrupted during the HTTPS step: ${where.name} is launched${where.url ? ` and serving at ${where.url}` : ''}`, { remediation });
    // A DNS record that never resolved within the wait is a time-out (4), as in `tls`; anything else is 1.
    const exitCode = isLaunchError(e) && e.exitCode === ExitCode.timedOut ? ExitCode.timedOut : ExitCode.failed;
    throw new LaunchError('tls-failed', exitCode, `${where.name} is launched${where.url ? ` and serving at ${where.url}` : ''}, but HTTPS on ${t.domain} did not finish: ${reason}`, {
      remediation,
      cause: e,
      details: { tlsCommand: command },
    });
  }
}
