// `tls [name] --domain D --tls-cert FILE --tls-key FILE`: HTTPS on the user's own domain with the
// user's own certificate. Everything about the files is checked on this machine first (exit 2,
// nothing changed). Then, over SSH: the certificate, key and domain are stored on the DATA volume
// (/mnt/data/.sourcegraph-launch/tls, root-only) so they outlive a new root disk, and
// provision/apply-tls.sh — the same script the boot service runs after every reinstall — makes
// k3s's Traefik serve them for the domain, with HTTP redirected to HTTPS. The DNS zone is the
// user's. When a public zone of the same cloud account holds the domain (tls-dns.ts), the command
// shows the one A record it will create or replace, asks (--yes), and changes it after the
// certificate is served; otherwise (or with --no-dns) the A record to create is printed. Either way,
// unless --no-wait the command waits (bounded) until the name resolves to the deployment's address.
// `tls --remove` undoes it all (tls-remove.ts). What was installed (domain, expiry) is recorded in
// this machine's deployment record for `status`. Sourcegraph's externalURL lives in its database,
// not in the Helm values: the command prints what to set and where.
// `--tls acme` (a Let's Encrypt certificate Traefik obtains on the instance) is tls-acme.ts;
// `--tls managed` is refused (exit 2): not supported yet.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, InterruptedError, LaunchError, UsageError, WaitTimeoutError } from '../core/errors.js';
import { isAbortError } from '../engine/clock.js';
import type { DeploymentRecord } from '../state/store.js';
import type { Deps, GlobalFlags } from './deps.js';
import { asRoot, connectOrExplain, execOrFail, reachInstance, type AccessFlags } from './instance-access.js';
import { locateProvisionBundle } from './provision-bundle.js';
import { checkCertificate, checkDomain, type CertificateInfo } from './tls-cert.js';
import { applyDns, planDns, type TlsDnsRecord } from './tls-dns.js';

export const TLS_DIR = '/mnt/data/.sourcegraph-launch/tls';
const EXEC_TIMEOUT_MS = 60_000;
const DEFAULT_TIMEOUT_MIN = 30;

export interface TlsFlags extends AccessFlags, GlobalFlags {
  domain?: string;
  tlsCert?: string;
  tlsKey?: string;
  tls?: string;
  wait?: boolean;
  timeout?: string;
  /** --no-dns: never look at or change the cloud's DNS zones. */
  dns?: boolean;
  remove?: boolean;
  /** --tls acme: Let's Encrypt's account e-mail (required), the staging CA, and the consent to open port 80 to the world. */
  acmeEmail?: string;
  acmeStaging?: boolean;
  iKnowPort80IsPublic?: boolean;
  /** --tls managed on Azure: a Key Vault certificate instead of the files (not offered yet: exit 2). */
  keyVaultSecretId?: string;
  /** --acme-challenge dns-01|http-01 (tls-acme-dns.ts). */
  acmeChallenge?: string;
}

/** What `tls` installed, kept in the local deployment record for `status`. */
export type TlsRecord = NonNullable<DeploymentRecord['tls']>;

export interface TlsResult {
  name: string;
  domain: string;
  url: string;
  /** The deployment's address the domain must point at. */
  address: string;
  dnsRecord: { type: 'A'; name: string; value: string };
  /** resolves: the name resolved to the address; not-checked: --no-wait. */
  dns: 'resolves' | 'not-checked';
  /**
   * The record in the cloud's DNS zone: created, replaced (with what it pointed at) or already
   * pointing here; absent when no zone of the account holds the domain (or --no-dns).
   */
  dnsZone?: { id: string; name: string; change: 'created' | 'replaced' | 'unchanged'; previous?: string[] };
  certificate: CertificateInfo;
  storedIn: string;
  /** Sourcegraph's externalURL is in its site configuration (its database): set by the admin. */
  externalURL: { value: string; setByTool: false; instructions: string };
  warnings: string[];
}

export async function runTls(deps: Deps, nameArg: string | undefined, flags: TlsFlags): Promise<unknown> {
  if (flags.remove) return (await import('./tls-remove.js')).runTlsRemove(deps, nameArg, flags);
  if (flags.tls === 'managed') {
    // The cloud's certificate and load balancer (tls-managed.ts): no SSH, no certificate files.
    const managed = await (await import('./tls-managed.js')).installManagedTls(deps, nameArg, flags);
    if (deps.io.json) deps.io.result(managed);
    return managed;
  }
  if (flags.tls === 'acme') {
    const acme = await (await import('./tls-acme.js')).installAcme(deps, nameArg, flags);
    if (deps.io.json) deps.io.result(acme);
    return acme;
  }
  const result = await installTls(deps, nameArg, flags);
  if (deps.io.json) deps.io.result(result);
  return result;
}

/** --acme-email, --acme-staging and --i-know-port-80-is-public belong to --tls acme (exit 2 anywhere else). */
export function refuseAcmeOnlyFlags(flags: TlsFlags): void {
  const acmeOnly = ([['acmeEmail', '--acme-email'], ['acmeStaging', '--acme-staging'], ['iKnowPort80IsPublic', '--i-know-port-80-is-public'], ['acmeChallenge', '--acme-challenge']] as const).find(([k]) => (k === 'acmeEmail' || k === 'acmeChallenge' ? flags[k] !== undefined : flags[k] === true));
  if (acmeOnly) throw new UsageError(`${acmeOnly[1]} only applies with --tls acme`, { code: 'bad-input' });
}

/** The checks made before connecting: the way, the domain, both files (exit 2 each). */
export function checkTlsInput(deps: Pick<Deps, 'clock'>, flags: TlsFlags): { domain: string; certPem: string; keyPem: string; certificate: CertificateInfo; timeoutMin: number } {
  if (flags.tls !== undefined) {
    const way = flags.tls;
    // acme and managed never get here (runTls hands them to their own modules).
    throw new UsageError(
      `--tls ${way}: unknown way (acme or managed)`,
      { code: 'not-supported', remediation: 'Bring your own certificate: `tls --domain D --tls-cert cert.pem --tls-key key.pem`.' },
    );
  }
  refuseAcmeOnlyFlags(flags);
  if (flags.keyVaultSecretId !== undefined) throw new UsageError('--key-vault-secret-id only applies with --tls managed (Azure)', { code: 'bad-input' });
  const domain = checkDomain(flags.domain);
  if (!flags.tlsCert || !flags.tlsKey) {
    throw new UsageError(`${flags.tlsCert ? '--tls-key' : '--tls-cert'} is required: give the certificate (PEM, leaf first, then its chain) and its private key`, {
      code: 'missing-input',
      remediation: `e.g. \`tls --domain ${domain} --tls-cert fullchain.pem --tls-key privkey.pem\`, or a Let's Encrypt certificate: \`tls --domain ${domain} --tls acme --acme-email you@example.com\`.`,
    });
  }
  const timeoutMin = flags.timeout === undefined ? DEFAULT_TIMEOUT_MIN : Number(flags.timeout);
  if (!Number.isFinite(timeoutMin) || timeoutMin <= 0) throw new UsageError(`--timeout ${flags.timeout}: expected minutes, a number above 0`);
  const read = (flag: string, path: string) => {
    if (!existsSync(path)) throw new UsageError(`${flag} ${path}: no such file`, { code: 'file-not-found' });
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new UsageError(`${flag} ${path}: cannot be read (${(e as Error).message})`, { code: 'file-unreadable' });
    }
  };
  const certPem = read('--tls-cert', flags.tlsCert);
  const keyPem = read('--tls-key', flags.tlsKey);
  const certificate = checkCertificate({ certPem, keyPem, domain, now: deps.clock.now(), certPath: flags.tlsCert, keyPath: flags.tlsKey });
  return { domain, certPem, keyPem, certificate, timeoutMin };
}

/** The install step of `tls` (no JSON printed), also run by `launch --domain`. */
export async function installTls(deps: Deps, nameArg: string | undefined, flags: TlsFlags): Promise<TlsResult> {
  const { io } = deps;
  const input = checkTlsInput(deps, flags);
  const { domain, certificate } = input;
  for (const w of certificate.warnings) io.warn(w);
  io.info(`Certificate for ${certificate.dnsNames.join(', ')} from ${certificate.issuer}, valid until ${certificate.notAfter} (${certificate.daysLeft} days).`);
  // Read before anything changes: an older package without the script must not half-install.
  const script = readFileSync(join(locateProvisionBundle(deps.provisionDir).provisionDir, 'apply-tls.sh'), 'utf8');
  // Your certificate replaces a Let's Encrypt one (tls --tls acme): its configuration goes (a no-op without one).
  const removeAcme = readFileSync(join(locateProvisionBundle(deps.provisionDir).provisionDir, 'remove-acme.sh'), 'utf8');

  const reach = await reachInstance(deps, nameArg, flags);
  const name = reach.target.name;
  if (reach.record?.tlsManaged) {
    // Two front doors for one domain would fight over its DNS record: one at a time.
    throw new UsageError(`${name} serves ${reach.record.tlsManaged.url} through the cloud's load balancer (tls --tls managed)`, { code: 'bad-input', remediation: `Remove it first: \`${deps.program} tls ${name} --remove\`.` });
  }
  if (!reach.host) throw new LaunchError('no-address', ExitCode.failed, `${name} has no public address for ${domain} to point at`, { remediation: `See \`${deps.program} status ${name}\`.` });
  const address = reach.host;
  // The DNS change is looked up and agreed to before anything changes: a "no" (or no --yes in CI)
  // leaves the instance and the zone as they were.
  if (flags.dns !== false && !reach.deployment.addresses.some((a) => a.ip === address)) {
    // Only a static address stays the same through upgrades (a new instance); an ephemeral one does not.
    io.warn(`${address} is not a static address of ${name}: an upgrade gives the instance a new one, and the DNS record must then be pointed again (run tls again).`);
  }
  const plan = flags.dns === false ? undefined : await planDns(deps, reach.cloud, domain, address, flags);
  const earlier = reach.record?.tlsDns;
  if (plan && earlier && (earlier.name !== domain || earlier.zoneId !== plan.zone.id)) {
    io.warn(`The record ${earlier.name} A ${earlier.value} that tls set earlier (zone ${earlier.zoneName}) is left as it is and no longer tracked: delete it in the zone if it is not needed.`);
  }
  const { remote } = await connectOrExplain(deps, reach, flags.providerFlags);
  try {
    // The files travel by SFTP into a directory only the login user can enter (0700), never on a
    // command line, where the key would show in the instance's process list.
    const staging = (await execOrFail(remote, 'umask 077 && mktemp -d /tmp/sgl-tls.XXXXXXXX', 'make a private staging directory')).trim();
    if (!/^\/tmp\/sgl-tls\.[A-Za-z0-9]+$/.test(staging)) throw new LaunchError('remote-command-failed', ExitCode.failed, `Unexpected staging directory on the instance: ${staging}`);
    try {
      await remote.upload(flags.tlsCert!, `${staging}/tls.crt`, 0o600);
      await remote.upload(flags.tlsKey!, `${staging}/tls.key`, 0o600);
      await execOrFail(remote, asRoot(storeScript(staging, domain)), `store the certificate in ${TLS_DIR}`);
    } finally {
      await remote.exec(`rm -rf '${staging}'`, { timeoutMs: EXEC_TIMEOUT_MS }).catch(() => undefined);
    }
    const applied = await execOrFail(remote, asRoot(`set -eu\nt=$(mktemp)\ntrap 'rm -f "$t"' EXIT\nprintf '%s' '${b64(script)}' | base64 -d > "$t"\nbash "$t"\n`), 'serve the certificate (apply-tls.sh)');
    io.info(applied.trim().split('\n').pop() ?? '');
    const acme = await execOrFail(remote, asRoot(`set -eu\nt=$(mktemp)\ntrap 'rm -f "$t"' EXIT\nprintf '%s' '${b64(removeAcme)}' | base64 -d > "$t"\nbash "$t"\n`), 'remove the Let\'s Encrypt configuration (remove-acme.sh)');
    if (!acme.includes('nothing to remove')) io.info(acme.trim().split('\n').pop() ?? '');
  } finally {
    await remote.close().catch(() => undefined);
  }

  // ... and the port-80 rule it opened to the world for Let's Encrypt (only that rule) is closed.
  if (reach.cloud.closeWorldPort) {
    for (const p of reach.deployment.accessPolicies.filter((x) => x.labels.deployment === name && x.rules.some((r) => r.purpose === 'acme-http-01'))) {
      if ((await reach.cloud.closeWorldPort(p.id, 80, 'acme-http-01')) === 'closed') io.success(`Closed port 80 to 0.0.0.0/0 on ${p.id} (opened earlier for Let's Encrypt).`);
    }
  }
  const tls: TlsRecord = {
    domain,
    url: `https://${domain}`,
    notAfter: certificate.notAfter,
    fingerprint256: certificate.fingerprint256,
    dnsNames: certificate.dnsNames,
    issuer: certificate.issuer,
    installedAt: new Date(deps.clock.now()).toISOString(),
  };
  const now = new Date(deps.clock.now()).toISOString();
  const target = reach.target;
  const record = reach.record ?? { name, cloud: target.cloud, region: target.region, createdAt: now, updatedAt: now };
  deps.state.putDeployment({ ...record, updatedAt: now, tls });
  // ... and the instance's role for Let's Encrypt's DNS-01 challenge, if it had one, is deleted.
  await (await import('./tls-acme-dns.js')).revokeDnsAccess(deps, reach.cloud, target, reach.instance);
  let tlsDns: TlsDnsRecord | undefined;
  if (plan) {
    tlsDns = await applyDns(deps, reach.cloud, plan, domain, address, record.tlsDns);
    const latest = deps.state.getDeployment(target.cloud, target.region, name) ?? record;
    const { tlsDns: _old, ...rest } = latest;
    deps.state.putDeployment({ ...rest, updatedAt: now, ...(tlsDns ? { tlsDns } : {}) });
  }

  const externalURL = {
    value: tls.url,
    setByTool: false as const,
    instructions: `In Sourcegraph, as a site admin: Site admin > Site configuration, set "externalURL": "${tls.url}" and save (it lives in Sourcegraph's database, not in the Helm values).`,
  };
  const result: TlsResult = {
    name,
    domain,
    url: tls.url,
    address,
    dnsRecord: { type: 'A', name: domain, value: address },
    dns: 'not-checked',
    certificate,
    storedIn: TLS_DIR,
    externalURL,
    warnings: [...certificate.warnings],
  };
  if (plan) {
    result.dnsZone = {
      id: plan.zone.id,
      name: plan.zone.name,
      change: plan.change === 'none' ? 'unchanged' : plan.change === 'create' ? 'created' : 'replaced',
      ...(plan.change === 'replace' && plan.current ? { previous: plan.current.values } : {}),
    };
  } else {
    io.info(`DNS: create (or check) this record in your domain's zone:\n  ${domain}.  A  ${address}`);
  }
  if (flags.wait !== false) {
    await waitForDns(deps, domain, address, input.timeoutMin * 60_000, name, plan?.zone.name);
    result.dns = 'resolves';
  }
  io.success(`${name} serves ${tls.url} with your certificate (until ${certificate.notAfter}); http://${domain} redirects to it.`);
  io.info(`Next: ${externalURL.instructions}`);
  return result;
}

/** Moves the uploaded files and the domain root-only onto the data volume; refuses when the volume is not there. */
function storeScript(staging: string, domain: string): string {
  return `set -eu
umask 077
if [ ! -e /mnt/data/.sourcegraph-version ] && [ ! -d /mnt/data/.sourcegraph-launch ]; then echo "the data disk is not mounted on /mnt/data" >&2; exit 1; fi
d=${TLS_DIR}
mkdir -p "$d"
chmod 0700 "$d"
cat '${staging}/tls.crt' > "$d/tls.crt.new"
cat '${staging}/tls.key' > "$d/tls.key.new"
printf '%s\\n' '${domain}' > "$d/domain.new"
for f in tls.crt tls.key domain; do chown 0:0 "$d/$f.new"; chmod 0600 "$d/$f.new"; mv -f "$d/$f.new" "$d/$f"; done
rm -rf '${staging}'
`;
}

/** Waits until `domain` resolves to `address` (A records), polling; exit 4 after the timeout. */
export async function waitForDns(deps: Deps, domain: string, address: string, timeoutMs: number, name: string, setInZone?: string): Promise<void> {
  const { clock, io } = deps;
  const resolve = deps.resolveHost ?? defaultResolve;
  const started = clock.now();
  const progress = io.progress(`Waiting for ${domain} to resolve to ${address}`);
  const poll = deps.pollMs ?? 10_000;
  try {
    for (;;) {
      const got = await resolve(domain).catch((e: unknown) => {
        const code = (e as { code?: string }).code;
        // No record (yet): keep waiting. Anything else (no DNS server reachable) as well, but say it.
        if (code !== 'ENOTFOUND' && code !== 'ENODATA') progress.update(`lookup failed: ${(e as Error).message}`);
        return [] as string[];
      });
      if (got.includes(address)) {
        progress.succeed(`${domain} resolves to ${address}`);
        return;
      }
      if (got.length) progress.update(`${domain} resolves to ${got.join(', ')}, not ${address}`);
      if (clock.now() - started >= timeoutMs) {
        throw new WaitTimeoutError('dns', `The certificate is installed, but ${domain} did not resolve to ${address} within ${timeoutMs >= 60_000 ? `${Math.round(timeoutMs / 60_000)} min` : `${Math.round(timeoutMs / 1000)} s`}${got.length ? ` (it resolves to ${got.join(', ')})` : ''}`, {
          remediation: setInZone
            ? `The record is set in the zone ${setInZone}; resolvers may still hold an older answer (or the zone is not the one delegated for the domain). Run the same command again to wait (or add --no-wait). Once it resolves, https://${domain} answers.`
            : `Create the record \`${domain}. A ${address}\` in your DNS zone; run the same command again to wait (or add --no-wait). Once it resolves, https://${domain} answers.`,
          details: { domain, address, resolved: got, name },
        });
      }
      await clock.sleep(poll, deps.signal);
    }
  } catch (e) {
    progress.fail();
    if (isAbortError(e)) throw new InterruptedError(`Interrupted while waiting for DNS: the certificate is installed on ${name}`, { remediation: `Create the record \`${domain}. A ${address}\`; https://${domain} answers once it resolves.` });
    throw e;
  }
}

async function defaultResolve(domain: string): Promise<string[]> {
  const { promises } = await import('node:dns');
  return promises.resolve4(domain);
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

