// `tls [name] --domain D --tls acme --acme-email E`: HTTPS on the user's domain with a Let's
// Encrypt certificate that k3s's own Traefik obtains and renews on the instance (HTTP-01).
// Checked first (exit 2, nothing changed): the domain, the e-mail, no certificate files, and the
// consent to open port 80 to the whole internet (Let's Encrypt validates from anywhere): asked on a
// terminal, else --i-know-port-80-is-public. Then the DNS record is planned (and asked) as for the
// user's own certificate (tls-dns.ts), port 80 is opened to 0.0.0.0/0 on the deployment's access
// policy as a rule marked for this purpose (openWorldPort: launch re-runs keep it, `tls --remove`
// closes only it), and over SSH the settings go to the data volume and provision/apply-acme.sh
// configures Traefik (the boot service does it again after every reinstall). Then the command waits
// until the name resolves and https://D serves a certificate that verifies (exit 4 after --timeout,
// naming what to check). The rule stays open afterwards: renewals validate the same way every ~60 days.
// With the DNS-01 challenge (tls-acme-dns.ts: --acme-challenge dns-01, the default when the
// domain's zone is in the account and the cloud offers it) no port is opened: the instance gets an
// identity of its own that may write only the challenge's TXT record in that zone, and Traefik
// proves the domain through the cloud's DNS.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeclinedError, ExitCode, InterruptedError, LaunchError, MissingInputError, UsageError, WaitTimeoutError } from '../core/errors.js';
import { isAbortError } from '../engine/clock.js';
import { confirmOrYes } from '../workflows/shared.js';
import type { ServedCertificate } from '../engine/http-probe.js';
import { classifyHttpsError } from '../workflows/https-check.js';
import type { Deps } from './deps.js';
import { asRoot, connectOrExplain, execOrFail, reachInstance, type InstanceAccess } from './instance-access.js';
import { locateProvisionBundle } from './provision-bundle.js';
import { checkDomain } from './tls-cert.js';
import { chooseChallenge, grantDnsAccess, parseChallenge, revokeDnsAccess, type AcmeChallenge, type ChallengeChoice } from './tls-acme-dns.js';
import { applyDns, planDns, type TlsDnsRecord } from './tls-dns.js';
import { waitForDns, type TlsFlags, type TlsRecord } from './tls.js';

export const ACME_DIR = '/mnt/data/.sourcegraph-launch/acme';
const DEFAULT_TIMEOUT_MIN = 30;
const HTTPS_PROBE_TIMEOUT_MS = 10_000;
// The same forms apply-acme.sh accepts (the values go into YAML unquoted there).
const EMAIL = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+$/;

export interface AcmeFlags extends TlsFlags {
  acmeEmail?: string;
  acmeStaging?: boolean;
  iKnowPort80IsPublic?: boolean;
}

export interface AcmeInput {
  domain: string;
  email: string;
  ca: 'production' | 'staging';
  timeoutMin: number;
  /** Asked for with --acme-challenge; undefined: the default. */
  challenge?: AcmeChallenge;
}

export interface TlsAcmeResult {
  name: string;
  domain: string;
  url: string;
  address: string;
  way: 'acme';
  acme: { email: string; ca: 'production' | 'staging'; challenge: AcmeChallenge; storedIn: string };
  /** http-01: the port-80 rule: opened by this command (closed again by `tls --remove`), or a rule of the user's already open to the world. Absent with dns-01. */
  port80?: { policyId: string; rule: 'opened' | 'already-open' };
  /** dns-01: the zone the challenge's TXT record goes in, and the instance's own identity allowed to write it. */
  dnsChallenge?: { zoneId: string; zoneName: string; provider: string; role: string; instanceProfile: string };
  dnsRecord: { type: 'A'; name: string; value: string };
  dnsZone?: { id: string; name: string; change: 'created' | 'replaced' | 'unchanged'; previous?: string[] };
  /** resolves: the name resolved to the address; not-checked: --no-wait. */
  dns: 'resolves' | 'not-checked';
  /** The certificate https://<domain> served once it verified; absent with --no-wait. */
  certificate?: ServedCertificate & { daysLeft: number };
  externalURL: { value: string; setByTool: false; instructions: string };
}

/** The checks made before connecting (exit 2 each). */
export function checkAcmeInput(flags: AcmeFlags): AcmeInput {
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    throw new UsageError(`--tls acme takes no ${flags.tlsCert !== undefined ? '--tls-cert' : '--tls-key'}: Let's Encrypt issues the certificate on the instance`, { code: 'bad-input', remediation: 'Drop --tls acme to serve your own certificate, or drop the files.' });
  }
  const domain = checkDomain(flags.domain);
  if (!flags.acmeEmail) {
    throw new MissingInputError('--acme-email', "with --tls acme: Let's Encrypt's account address, where it sends expiry notices should renewal fail", { remediation: `e.g. \`tls --domain ${domain} --tls acme --acme-email admin@${domain.split('.').slice(1).join('.')}\`` });
  }
  if (!EMAIL.test(flags.acmeEmail)) throw new UsageError(`--acme-email ${flags.acmeEmail}: not an e-mail address`, { code: 'bad-input' });
  const timeoutMin = flags.timeout === undefined ? DEFAULT_TIMEOUT_MIN : Number(flags.timeout);
  if (!Number.isFinite(timeoutMin) || timeoutMin <= 0) throw new UsageError(`--timeout ${flags.timeout}: expected minutes, a number above 0`);
  const challenge = parseChallenge(flags.acmeChallenge, flags.dns);
  return { domain, email: flags.acmeEmail, ca: flags.acmeStaging ? 'staging' : 'production', timeoutMin, ...(challenge ? { challenge } : {}) };
}

/** Port 80 open to everyone is a real change of exposure: asked, or acknowledged by flag (never implied by --yes). */
async function consentToPort80(deps: Pick<Deps, 'io'>, flags: AcmeFlags, policy: string): Promise<void> {
  if (flags.iKnowPort80IsPublic) return;
  if (!deps.io.interactive) {
    throw new MissingInputError('--i-know-port-80-is-public', "with --tls acme when not running interactively: Let's Encrypt validates the domain over http://<domain> from anywhere, so port 80 is opened to 0.0.0.0/0", {
      remediation: 'Add --i-know-port-80-is-public to accept it (HTTP on the domain only redirects to HTTPS), or serve your own certificate with --tls-cert/--tls-key.',
    });
  }
  const ok = await deps.io.confirm({ message: `Open port 80 to the whole internet (0.0.0.0/0) on ${policy} for Let's Encrypt's validation? It stays open for renewals; \`tls --remove\` closes it.`, default: false });
  if (!ok) throw new DeclinedError('Answered no: nothing changed.', { remediation: 'Serve your own certificate instead: `tls --domain D --tls-cert cert.pem --tls-key key.pem`.' });
}

/** The deployment's own access policy on its serving instance (where the rule goes). */
function deploymentPolicy(reach: InstanceAccess): string {
  const name = reach.target.name;
  const policy = reach.deployment.accessPolicies.find((p) => reach.instance.accessPolicyIds.includes(p.id) && p.labels.deployment === name);
  if (!policy) throw new LaunchError('no-access-policy', ExitCode.failed, `${name}'s instance has no access policy of the deployment to open port 80 on`, { remediation: 'Run launch again for the deployment: it recreates its access policy.' });
  return policy.id;
}

export async function installAcme(deps: Deps, nameArg: string | undefined, flags: AcmeFlags): Promise<TlsAcmeResult> {
  const { io } = deps;
  const input = checkAcmeInput(flags);
  const { domain } = input;
  // Read before anything changes: an older package without the script must not half-install.
  const script = readFileSync(join(locateProvisionBundle(deps.provisionDir).provisionDir, 'apply-acme.sh'), 'utf8');

  const reach = await reachInstance(deps, nameArg, flags);
  const { cloud } = reach;
  const name = reach.target.name;
  if (!cloud.openWorldPort || !cloud.closeWorldPort) {
    throw new UsageError(`--tls acme is not supported on ${reach.target.cloud}: its adapter cannot open port 80 to the world for Let's Encrypt's validation`, {
      code: 'not-supported',
      remediation: `Serve your own certificate: \`${deps.program} tls ${name} --domain ${domain} --tls-cert cert.pem --tls-key key.pem\`.`,
    });
  }
  if (!reach.host) throw new LaunchError('no-address', ExitCode.failed, `${name} has no public address for ${domain} to point at`, { remediation: `See \`${deps.program} status ${name}\`.` });
  const address = reach.host;
  // The configuration goes over SSH: when that cannot work, say so before port 80 is opened.
  if ('problem' in reach.ssh) throw reach.ssh.problem;
  const choice = await chooseChallenge(cloud, reach.target, domain, input.challenge, flags.dns, reach.instance.instanceIdentity);
  const dns01 = choice.challenge === 'dns-01';
  const policyId = dns01 ? undefined : deploymentPolicy(reach);
  const caWords = input.ca === 'staging' ? 'staging CA: its certificates are NOT trusted by browsers' : 'production';
  if (dns01) {
    const names = choice.access!.names(name);
    io.info(`tls --tls acme: Let's Encrypt (${caWords}) issues a certificate for ${domain} to k3s's Traefik on ${name}, validated through DNS (DNS-01: ${choice.why}): no port is opened; renewed by Traefik; expiry notices go to ${input.email}.`);
    io.info(`  the instance gets an identity of its own: IAM role ${names.role} (may change only the TXT record _acme-challenge.${domain} in the zone ${choice.zone!.name} (${choice.zone!.id}), and read the zone and its changes) in the instance profile ${names.profile}, put on ${reach.instance.id}; \`tls --remove\` and \`destroy\` delete them`);
    await confirmOrYes(deps, flags, `Create the IAM role ${names.role} for ${name}'s instance (TXT _acme-challenge.${domain} in ${choice.zone!.name} only)?`, `create the IAM role ${names.role} for the DNS-01 challenge (or use --acme-challenge http-01)`);
  } else {
    io.info(`tls --tls acme: Let's Encrypt (${caWords}) issues a certificate for ${domain} to k3s's Traefik on ${name}, validated over http://${domain} (HTTP-01${input.challenge ? '' : `: ${choice.why}`}), renewed by Traefik; expiry notices go to ${input.email}.`);
    io.info(`  port 80/tcp is opened to 0.0.0.0/0 on ${policyId} (a rule marked for this; it stays open for renewals; \`tls --remove\` closes it)`);
    // Everything that needs an answer is asked before anything changes.
    await consentToPort80(deps, flags, policyId!);
  }
  if (flags.dns !== false && !reach.deployment.addresses.some((a) => a.ip === address)) {
    io.warn(`${address} is not a static address of ${name}: an upgrade gives the instance a new one, and the DNS record must then be pointed again (run tls again).`);
  }
  const plan = flags.dns === false ? undefined : await planDns(deps, cloud, domain, address, flags);

  let port80: 'opened' | 'already-open' | undefined;
  if (dns01) {
    await grantDnsAccess(deps, reach.target, choice.access!, reach.instance.id, choice.zone!, domain);
  } else {
    port80 = await cloud.openWorldPort(policyId!, 80, 'acme-http-01');
    if (port80 === 'opened') io.success(`Port 80 is open to the world on ${policyId} for Let's Encrypt's validation.`);
    else io.info(`Port 80 was open to 0.0.0.0/0 on ${policyId} already (a rule of yours): left as it is, and never closed by sourcegraph-launch.`);
  }

  const { remote } = await connectOrExplain(deps, reach, flags.providerFlags);
  try {
    await execOrFail(remote, asRoot(storeSettingsScript(input, choice)), `store the ACME settings in ${ACME_DIR}`);
    const applied = await execOrFail(remote, asRoot(`set -eu\nt=$(mktemp)\ntrap 'rm -f "$t"' EXIT\nprintf '%s' '${Buffer.from(script).toString('base64')}' | base64 -d > "$t"\nbash "$t"\n`), 'configure Traefik for Let\'s Encrypt (apply-acme.sh)');
    io.info(applied.trim().split('\n').pop() ?? '');
  } finally {
    await remote.close().catch(() => undefined);
  }
  // The other challenge's access, from an earlier run, goes: the port-80 rule (DNS-01 needs no
  // open port) or the instance's role (HTTP-01 needs no DNS access).
  if (dns01 && cloud.closeWorldPort) {
    for (const p of reach.deployment.accessPolicies.filter((x) => x.labels.deployment === name && x.rules.some((r) => r.purpose === 'acme-http-01'))) {
      if ((await cloud.closeWorldPort(p.id, 80, 'acme-http-01')) === 'closed') io.success(`Closed port 80 to 0.0.0.0/0 on ${p.id} (opened earlier for Let's Encrypt's HTTP-01 challenge).`);
    }
  }
  if (!dns01) await revokeDnsAccess(deps, cloud, reach.target, reach.instance);

  let tlsDns: TlsDnsRecord | undefined;
  const now = () => new Date(deps.clock.now()).toISOString();
  if (plan) {
    tlsDns = await applyDns(deps, cloud, plan, domain, address, reach.record?.tlsDns);
    const target = reach.target;
    const latest = deps.state.getDeployment(target.cloud, target.region, name) ?? reach.record ?? { name, cloud: target.cloud, region: target.region, createdAt: now(), updatedAt: now() };
    const { tlsDns: _old, ...rest } = latest;
    deps.state.putDeployment({ ...rest, updatedAt: now(), ...(tlsDns ? { tlsDns } : {}) });
  } else {
    io.info(`DNS: create (or check) this record in your domain's zone:\n  ${domain}.  A  ${address}`);
  }

  const url = `https://${domain}`;
  const externalURL = {
    value: url,
    setByTool: false as const,
    instructions: `In Sourcegraph, as a site admin: Site admin > Site configuration, set "externalURL": "${url}" and save (it lives in Sourcegraph's database, not in the Helm values).`,
  };
  const result: TlsAcmeResult = {
    name,
    domain,
    url,
    address,
    way: 'acme',
    acme: { email: input.email, ca: input.ca, challenge: choice.challenge, storedIn: `${ACME_DIR}/store/acme.json` },
    ...(port80 ? { port80: { policyId: policyId!, rule: port80 } } : {}),
    ...(dns01 ? { dnsChallenge: { zoneId: choice.zone!.id, zoneName: choice.zone!.name, provider: choice.access!.provider, role: choice.access!.names(name).role, instanceProfile: choice.access!.names(name).profile } } : {}),
    dnsRecord: { type: 'A', name: domain, value: address },
    dns: 'not-checked',
    externalURL,
  };
  if (plan) {
    result.dnsZone = {
      id: plan.zone.id,
      name: plan.zone.name,
      change: plan.change === 'none' ? 'unchanged' : plan.change === 'create' ? 'created' : 'replaced',
      ...(plan.change === 'replace' && plan.current ? { previous: plan.current.values } : {}),
    };
  }
  if (flags.wait === false) {
    io.success(`${name} is configured to obtain a Let's Encrypt certificate for ${domain} once the name resolves to ${address} (--no-wait: not checked).`);
    io.info(`Next: run \`${deps.program} tls ${name} --domain ${domain} --tls acme --acme-email ${input.email}${input.ca === 'staging' ? ' --acme-staging' : ''}${dns01 ? ' --acme-challenge dns-01 --yes' : ' --i-know-port-80-is-public'}\` again to wait for it (nothing changes a second time); then ${externalURL.instructions}`);
    return result;
  }
  const deadline = deps.clock.now() + input.timeoutMin * 60_000;
  await waitForDns(deps, domain, address, input.timeoutMin * 60_000, name, plan?.zone.name);
  result.dns = 'resolves';
  const served = await waitForCertificate(deps, domain, input.ca, deadline, name, choice);
  const daysLeft = Math.floor((Date.parse(served.notAfter) - deps.clock.now()) / 86_400_000);
  result.certificate = { ...served, daysLeft };

  const tls: TlsRecord = {
    domain,
    url,
    notAfter: served.notAfter,
    fingerprint256: served.fingerprint256,
    dnsNames: served.dnsNames,
    issuer: served.issuer,
    installedAt: now(),
    acme: { email: input.email, ca: input.ca, challenge: choice.challenge },
  };
  const target = reach.target;
  const latest = deps.state.getDeployment(target.cloud, target.region, name) ?? reach.record ?? { name, cloud: target.cloud, region: target.region, createdAt: now(), updatedAt: now() };
  deps.state.putDeployment({ ...latest, updatedAt: now(), tls });
  io.success(`${name} serves ${url} with a Let's Encrypt certificate from ${served.issuer || 'its CA'} (until ${served.notAfter}; Traefik renews it); http://${domain} redirects to it.`);
  io.info(`Next: ${externalURL.instructions}`);
  return result;
}

/** The settings on the data volume (root only); the customer's own certificate, if any, is replaced. */
function storeSettingsScript(input: AcmeInput, choice: ChallengeChoice): string {
  // DNS-01: lego's provider and the environment it needs (names and ids, no secrets).
  const dnsLines = choice.challenge === 'dns-01' ? [`dns_provider=${choice.access!.provider}`, ...Object.entries(choice.access!.providerEnv(choice.zone!)).map(([k, v]) => `dns_env_${k}=${v}`)] : [];
  const extra = choice.challenge === 'dns-01' ? ['challenge=dns-01', ...dnsLines] : [];
  return `set -eu
umask 077
export PATH="$PATH:/usr/local/bin"
if [ ! -e /mnt/data/.sourcegraph-version ] && [ ! -d /mnt/data/.sourcegraph-launch ]; then echo "the data disk is not mounted on /mnt/data" >&2; exit 1; fi
d=${ACME_DIR}
mkdir -p "$d"
chmod 0700 "$d"
printf 'domain=%s\\nemail=%s\\nca=%s\\n' '${input.domain}' '${input.email}' '${input.ca}' > "$d/settings.new"${extra.length ? `\nprintf '%s\\n' ${extra.map((l) => `'${l}'`).join(' ')} >> "$d/settings.new"` : ''}
chown 0:0 "$d/settings.new"
chmod 0600 "$d/settings.new"
mv -f "$d/settings.new" "$d/settings"
t=/mnt/data/.sourcegraph-launch/tls
if [ -f "$t/tls.crt" ]; then
  # One certificate per domain: the boot service must not serve the old one again.
  kubectl --kubeconfig /etc/rancher/k3s/k3s.yaml delete --ignore-not-found -n default secret/sourcegraph-tls
  rm -f "$t/tls.crt" "$t/tls.key" "$t/domain"
  rmdir "$t" 2>/dev/null || true
fi
`;
}

/**
 * Polls https://<domain>/healthz until the certificate it serves verifies (with --acme-staging,
 * whose CA no one trusts: until a staging certificate for the domain is served); exit 4 at the deadline.
 */
async function waitForCertificate(deps: Deps, domain: string, ca: 'production' | 'staging', deadline: number, name: string, choice: ChallengeChoice): Promise<ServedCertificate> {
  const { clock, io } = deps;
  const url = `https://${domain}/healthz`;
  const progress = io.progress(`Waiting for ${domain} to serve a Let's Encrypt certificate${ca === 'staging' ? ' (staging)' : ''}`);
  const poll = deps.pollMs ?? 10_000;
  let last = 'no answer yet';
  try {
    for (;;) {
      try {
        const res = await deps.httpGet(url, { timeoutMs: HTTPS_PROBE_TIMEOUT_MS, signal: deps.signal, verifyCertificate: ca === 'production' });
        const cert = res.certificate;
        if (cert && (ca === 'production' || (/staging/i.test(cert.issuer) && cert.dnsNames.includes(domain)))) {
          progress.succeed(`${domain} serves a certificate from ${cert.issuer || 'its CA'} until ${cert.notAfter}${ca === 'production' ? ' (verified)' : ''}`);
          if (res.status !== 200) io.warn(`https://${domain}/healthz answered HTTP ${res.status}: the certificate is served; the site's route may not be ready yet.`);
          return cert;
        }
        last = `still not the staging certificate (served: ${cert?.issuer ?? 'none'})`;
      } catch (e) {
        if (isAbortError(e)) throw e;
        const reason = (e as { reason?: string }).reason ?? (e as Error).message;
        last = classifyHttpsError(e) === 'certificate' ? `the certificate served does not verify yet: ${reason}` : reason;
      }
      progress.update(last);
      if (clock.now() >= deadline) {
        throw new WaitTimeoutError('certificate', `https://${domain} did not serve a certificate that verifies in time (last: ${last})`, {
          remediation: [
            `Traefik on ${name} is configured and keeps trying; check:`,
            `  DNS: ${domain} must resolve to the deployment's address from anywhere (Let's Encrypt asks public resolvers).`,
            choice.challenge === 'dns-01'
              ? `  DNS-01: Traefik writes the TXT record _acme-challenge.${domain} in the zone ${choice.zone!.name} with the instance's role ${choice.access!.names(name).role}; the zone must be the one the domain is delegated to.`
              : `  Port 80: http://${domain}/.well-known/acme-challenge/ must reach the instance from the internet (the rule tls opened, and no firewall or proxy in between).`,
            `  Traefik's log: \`${deps.program} ssh ${name} -- sudo kubectl -n kube-system logs deploy/traefik\` (look for "acme" errors; Let's Encrypt rate limits are per week).`,
            `Run the same command again to wait again (nothing changes a second time).`,
          ].join('\n'),
          details: { domain, last, name },
        });
      }
      await clock.sleep(poll, deps.signal);
    }
  } catch (e) {
    progress.fail();
    if (isAbortError(e)) throw new InterruptedError(`Interrupted while waiting for the certificate: ${name} is configured for Let's Encrypt`, { remediation: `https://${domain} answers once Traefik has the certificate; \`status\` probes it.` });
    throw e;
  }
}
