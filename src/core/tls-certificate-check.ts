// `doctor`'s check of the user's own TLS certificate (installed by `tls --tls-cert`): nothing renews
// it, so doctor says in time. Expired fails (browsers refuse the site); under 21 days warns, which
// leaves three weeks to get a renewed one through a company's certificate process.
import { check, type Check } from './doctor-checks.js';

export const TLS_CERT_WARN_DAYS = 21;
const DAY_MS = 86_400_000;

export function tlsCertificateCheck(tls: { domain: string; notAfter: string }, now: number, fix: string): Check {
  const id = 'tls-certificate';
  const title = `TLS certificate of ${tls.domain}`;
  const end = Date.parse(tls.notAfter);
  if (!Number.isFinite(end)) return check(id, title, 'skip', `the recorded expiry "${tls.notAfter}" is not a date`);
  const daysLeft = Math.floor((end - now) / DAY_MS);
  if (end <= now) return check(id, title, 'fail', `expired on ${tls.notAfter}: browsers refuse https://${tls.domain}`, fix);
  if (daysLeft < TLS_CERT_WARN_DAYS) return check(id, title, 'warn', `expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${tls.notAfter}; warning from ${TLS_CERT_WARN_DAYS} days)`, fix);
  return check(id, title, 'pass', `valid until ${tls.notAfter} (${daysLeft} days)`);
}
