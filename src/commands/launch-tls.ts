// `launch --domain D --tls-cert F --tls-key K`: the `tls` command's steps as part of a launch.
// Everything about the certificate, key and domain is checked before anything is created (the same
// checks as `tls`, exit 2); after the launch's readiness wait succeeds, `tls`'s own install step runs
// (tls.ts: over SSH, then the DNS record). A failure there leaves the instance as it is (a running
// deployment is never deleted) and exits 1 (4 when the DNS wait timed out) naming the exact `tls`
// command that finishes it. SSH closed to everyone (--ssh-cidr none) is refused up front.
// --no-wait is refused with --domain: the certificate can only be served once the instance is up,
// and a launch that returns early would silently skip it.
import type { LaunchFlags } from '../cli/commands/launch.js';
import { ExitCode, InterruptedError, LaunchError, UsageError, isLaunchError } from '../core/errors.js';
import type { Deps } from './deps.js';
import type { CertificateInfo } from './tls-cert.js';
import { checkTlsInput, installTls, type TlsResult } from './tls.js';

const ONLY_OWN = 'launch supports only --tls-cert/--tls-key (your own certificate); --tls managed and --tls acme are not supported yet';

export interface LaunchTls {
  domain: string;
  tlsCert: string;
  tlsKey: string;
  /** false: --no-dns (the record is printed, no zone is looked at). */
  dns: boolean;
  certificate: CertificateInfo;
}

/** The checks made before anything is created (exit 2 each); undefined without --domain. */
export function checkLaunchTls(deps: Pick<Deps, 'clock' | 'io'>, flags: LaunchFlags): LaunchTls | undefined {
  if (flags.tls !== undefined) throw new UsageError(`--tls ${flags.tls}: ${ONLY_OWN}`, { code: 'not-supported', remediation: 'Give --domain D --tls-cert cert.pem --tls-key key.pem.' });
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
  if (sshCidrs.length) return;
  throw new UsageError('--domain with --ssh-cidr none: the certificate is installed on the instance over SSH, which none closes to everyone', {
    code: 'bad-input',
    remediation: `Give --ssh-cidr <your address>/32, or launch without --domain and later open SSH and run \`${program} tls ${name} --domain ${t.domain} --tls-cert ${t.tlsCert} --tls-key ${t.tlsKey}\`.`,
  });
}

/** What the plan shows before the question. */
export function describeLaunchTls(t: LaunchTls): string[] {
  const c = t.certificate;
  return [
    `HTTPS after the launch is ready: https://${t.domain} with your certificate (${t.tlsCert}: ${c.dnsNames.join(', ')}, valid until ${c.notAfter}, ${c.daysLeft} days), HTTP redirected to HTTPS — the same steps as \`tls\`.`,
    t.dns
      ? `DNS: when a public zone of this account holds ${t.domain}, its A record is set to the deployment's address (asked first; --yes); otherwise the record to create is printed. Then launch waits until it resolves.`
      : `DNS (--no-dns): the A record to create is printed; launch waits until it resolves.`,
  ];
}

/** The `tls` command that does (or finishes) this step. */
export function tlsCommandFor(program: string, name: string, region: string, t: LaunchTls, cloud?: string): string {
  return `${program} tls ${name}${cloud ? ` --cloud ${cloud}` : ''} --region ${region} --domain ${t.domain} --tls-cert ${t.tlsCert} --tls-key ${t.tlsKey}${t.dns ? '' : ' --no-dns'}`;
}

/** Runs `tls`'s install step for the launched deployment; any failure exits 1 naming the tls command. */
export async function runLaunchTls(
  deps: Deps,
  flags: LaunchFlags,
  t: LaunchTls,
  where: { name: string; region: string; url?: string },
  install: typeof installTls = installTls,
): Promise<TlsResult> {
  const command = tlsCommandFor(deps.program, where.name, where.region, t, flags.cloud);
  try {
    return await install(deps, where.name, {
      ...(flags.cloud ? { cloud: flags.cloud } : {}),
      region: where.region,
      ...(flags.providerFlags ? { providerFlags: flags.providerFlags } : {}),
      ...(flags.identityFile ? { identityFile: flags.identityFile } : {}),
      ...(flags.sshUser ? { sshUser: flags.sshUser } : {}),
      ...(flags.yes ? { yes: true } : {}),
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
