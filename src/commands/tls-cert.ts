// The checks `tls --tls-cert FILE --tls-key FILE` makes on the laptop before anything changes: the
// files are PEM, the key is the certificate's, the certificate covers the domain the way a browser
// checks it (subjectAltName DNS names only, a wildcard for one left-most label) and is valid now.
// node:crypto's X509Certificate does the parsing and matching: no new dependency.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { UsageError } from '../core/errors.js';

/** Expiring within this many days: a warning, not a refusal. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertificateInfo {
  domain: string;
  subject: string;
  issuer: string;
  /** The DNS names the leaf certificate covers. */
  dnsNames: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  /** SHA-256 fingerprint of the leaf, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256: string;
  /** Certificates in the file: the leaf, then its chain. */
  chainLength: number;
  warnings: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A host name the site can answer on: lower-case labels, no wildcard, no trailing dot. */
export function checkDomain(domain: string | undefined): string {
  if (!domain) throw new UsageError('--domain is required: the name the site answers on, e.g. --domain sourcegraph.example.com', { code: 'missing-input' });
  const d = domain.toLowerCase().replace(/\.$/, '');
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  const labels = d.split('.');
  if (d.length > 253 || labels.length < 2 || !labels.every((l) => label.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) {
    throw new UsageError(`--domain ${domain}: not a host name (expected something like sourcegraph.example.com; no wildcard, no address)`, { code: 'invalid-domain' });
  }
  return d;
}

/** The DNS names of a certificate's subjectAltName ("DNS:a, DNS:b, IP Address:…"). */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4));
}

/**
 * Checks a certificate file (leaf first, then its chain) and its key for `domain` at `now`;
 * a UsageError (exit 2) says what is wrong and how to fix it.
 */
export function checkCertificate(opts: { certPem: string; keyPem: string; domain: string; now: number; certPath?: string; keyPath?: string }): CertificateInfo {
  const certPath = opts.certPath ?? 'the certificate';
  const keyPath = opts.keyPath ?? 'the key';
  const blocks = opts.certPem.match(PEM_CERT) ?? [];
  if (!blocks.length) {
    throw new UsageError(`--tls-cert ${certPath}: no PEM certificate in it ("-----BEGIN CERTIFICATE-----")`, {
      code: 'invalid-certificate',
      remediation: 'Give the certificate in PEM form (convert DER with `openssl x509 -inform der -in cert.der -out cert.pem`).',
    });
  }
  const certs = blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new UsageError(`--tls-cert ${certPath}: certificate ${i + 1} in the file cannot be read: ${(e as Error).message}`, { code: 'invalid-certificate' });
    }
  });
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(opts.keyPem)) {
    throw new UsageError(`--tls-key ${keyPath}: the key is protected by a passphrase, and the ingress needs it without one`, {
      code: 'invalid-key',
      remediation: 'Write an unencrypted copy (`openssl pkey -in key.pem -out key-plain.pem`) and give that; it is stored on the instance\'s data disk readable by root only.',
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(opts.keyPem);
  } catch (e) {
    throw new UsageError(`--tls-key ${keyPath}: not a PEM private key (${(e as Error).message})`, { code: 'invalid-key' });
  }
  const leaf = certs[0]!;
  if (!leaf.checkPrivateKey(key)) {
    const at = certs.findIndex((c) => c.checkPrivateKey(key));
    throw new UsageError(
      at > 0
        ? `--tls-cert ${certPath}: the key belongs to certificate ${at + 1} in the file, not the first: the server's own certificate must come first, then its chain`
        : `--tls-key ${keyPath} is not the key of the certificate in ${certPath}`,
      { code: 'key-mismatch', remediation: at > 0 ? 'Put the certificate for the domain first in the file, then the intermediates.' : 'Give the private key the certificate was issued for.' },
    );
  }
  const dnsNames = dnsNamesOf(leaf);
  // Browsers ignore the subject's CN: only subjectAltName counts, with a wildcard for one label.
  if (!leaf.checkHost(opts.domain, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false })) {
    throw new UsageError(`--tls-cert ${certPath} does not cover ${opts.domain}: it is for ${dnsNames.length ? dnsNames.join(', ') : `no DNS name (subject ${leaf.subject.replace(/\n/g, ', ')})`}`, {
      code: 'certificate-domain-mismatch',
      remediation: `Give a certificate whose subjectAltName lists ${opts.domain} (or *.${opts.domain.split('.').slice(1).join('.')}), or the --domain it was issued for.`,
    });
  }
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  const iso = (t: number) => new Date(t).toISOString();
  if (notAfter <= opts.now) {
    throw new UsageError(`--tls-cert ${certPath} expired on ${iso(notAfter)}`, { code: 'certificate-expired', remediation: 'Renew it with your certificate authority and run `tls` again with the new files.' });
  }
  if (notBefore > opts.now) {
    throw new UsageError(`--tls-cert ${certPath} is not valid before ${iso(notBefore)}`, { code: 'certificate-not-yet-valid', remediation: 'Wait until then, or check this machine\'s clock.' });
  }
  const daysLeft = Math.floor((notAfter - opts.now) / DAY_MS);
  const warnings: string[] = [];
  if (daysLeft < EXPIRY_WARNING_DAYS) warnings.push(`The certificate expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${iso(notAfter)}): renew it and run \`tls\` again with the new files.`);
  for (let i = 1; i < certs.length; i++) {
    if (!certs[i - 1]!.checkIssued(certs[i]!)) {
      warnings.push(`Certificate ${i + 1} in ${certPath} did not issue certificate ${i}: browsers may not build the chain (put the leaf first, then each issuer in order).`);
      break;
    }
  }
  if (certs.length === 1 && !leaf.checkIssued(leaf)) warnings.push(`${certPath} holds no intermediate certificates: clients that do not have them already may not trust the site (append your CA's chain after the certificate).`);
  return {
    domain: opts.domain,
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    dnsNames,
    notBefore: iso(notBefore),
    notAfter: iso(notAfter),
    daysLeft,
    fingerprint256: leaf.fingerprint256,
    chainLength: certs.length,
    warnings,
  };
}
