// After a readiness wait (upgrade, rollback, config apply) on a deployment that `tls` gave HTTPS on
// the user's own domain: one GET of https://<domain>/healthz with the certificate verified, the way
// a browser would see the site. The wait itself judges the instance by its address; this is a
// warning-level extra, because the domain's DNS may not be ours to control (a name that does not
// resolve is a warning, not a failure). A certificate that does not verify is reported plainly:
// browsers refuse the site then, whatever /healthz said on the address.
import type { Deps } from '../commands/deps.js';
import { isAbortError } from '../engine/clock.js';

const HTTPS_PROBE_TIMEOUT_MS = 10_000;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME']);
// Node's TLS verification errors (OpenSSL's names, and Node's own for the host name check).
const CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export interface HttpsCheck {
  url: string;
  /** The HTTP status of the verified answer. */
  status?: number;
  ok: boolean;
  /** dns: the name did not resolve; certificate: TLS verification failed; unreachable: no answer; http: an answer other than 200. */
  problem?: 'dns' | 'certificate' | 'unreachable' | 'http';
  detail?: string;
}

/** Whether a probe error is the certificate's fault (not the network's or DNS's). */
export function classifyHttpsError(e: unknown): 'dns' | 'certificate' | 'unreachable' {
  const code = (e as { code?: string }).code ?? '';
  if (DNS_CODES.has(code)) return 'dns';
  if (CERT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('CERT_')) return 'certificate';
  return 'unreachable';
}

/**
 * Probes the deployment's HTTPS URL when this machine recorded one (`tls`), says what it found, and
 * returns it; undefined when the deployment has no HTTPS of its own. Never throws for the probe.
 */
export async function checkHttpsAfterWait(
  deps: Pick<Deps, 'httpGet' | 'io' | 'signal' | 'state' | 'program'>,
  where: { cloud: string; region: string; name: string },
): Promise<HttpsCheck | undefined> {
  const tls = deps.state.getDeployment(where.cloud, where.region, where.name)?.tls;
  if (!tls) return undefined;
  const reinstall = `\`${deps.program} tls ${where.name} --region ${where.region} --domain ${tls.domain} --tls-cert <file> --tls-key <file>\``;
  return probeHttps(deps, {
    url: tls.url,
    domain: tls.domain,
    certificateAdvice: `If the instance serves its default certificate again, install yours again with ${reinstall}.`,
    dnsAdvice: 'point the domain\'s DNS record at it if it is not yet (the record may not be under sourcegraph-launch\'s control)',
    unreachableAdvice: 'check that 443 is open to you and the domain points at the address',
  });
}

/**
 * One GET of `<url>/healthz` with the certificate verified (the domain's HTTPS, whatever serves it:
 * the instance, or `tls --tls managed`'s load balancer), said as a success or a warning with the
 * advice given for each kind of failure. Never throws for the probe (Ctrl-C still ends the command).
 */
export async function probeHttps(
  deps: Pick<Deps, 'httpGet' | 'io' | 'signal'>,
  tls: { url: string; domain: string; certificateAdvice: string; dnsAdvice: string; unreachableAdvice: string },
): Promise<HttpsCheck> {
  const url = `${tls.url}/healthz`;
  try {
    const res = await deps.httpGet(url, { timeoutMs: HTTPS_PROBE_TIMEOUT_MS, signal: deps.signal, verifyCertificate: true });
    if (res.status === 200) {
      deps.io.info(`${tls.url} answers /healthz with a verified certificate.`);
      return { url: tls.url, status: 200, ok: true };
    }
    deps.io.warn(`${tls.url}/healthz answered HTTP ${res.status} (certificate verified): the site on the address is ready, the domain's route may not be yet.`);
    return { url: tls.url, status: res.status, ok: false, problem: 'http', detail: `HTTP ${res.status}` };
  } catch (e) {
    // Ctrl-C is not a finding: let it end the command as every other wait does.
    if (isAbortError(e)) throw e;
    const reason = (e as { reason?: string }).reason ?? (e as Error).message;
    const problem = classifyHttpsError(e);
    if (problem === 'dns') {
      deps.io.warn(`${tls.domain} did not resolve from here (${reason}): Sourcegraph is ready on its address; ${tls.dnsAdvice}.`);
    } else if (problem === 'certificate') {
      deps.io.warn(`The certificate ${tls.url} serves did NOT verify: ${reason}. Browsers refuse the site until it does. ${tls.certificateAdvice}`);
    } else {
      deps.io.warn(`${tls.url} gave no answer from here (${reason}): Sourcegraph is ready on its address; ${tls.unreachableAdvice}.`);
    }
    return { url: tls.url, ok: false, problem, detail: reason };
  }
}
