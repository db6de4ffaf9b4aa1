// Certificate checks of `tls --tls-cert/--tls-key` on real certificates made by openssl: the key
// matches, the name is covered (SAN, wildcard rules), the dates, and a chain file's order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCertificate, checkDomain } from '../../src/commands/tls-cert.js';
import { LaunchError } from '../../src/core/errors.js';
import { testCa, type TestCert } from '../support/certs.js';

const DAY = 86_400_000;
let dir: string;
let ca: ReturnType<typeof testCa>;
let site: TestCert;
let wildcard: TestCert;
let other: TestCert;
let noSan: TestCert;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-certs-'));
  ca = testCa(dir);
  site = ca.issue('site', ['sourcegraph.example.com', 'www.example.com'], { days: 90 });
  wildcard = ca.issue('wildcard', ['*.example.com']);
  other = ca.issue('other', ['sourcegraph.example.org']);
  noSan = ca.issue('nosan', []);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (cert: TestCert, domain: string, opts: { key?: string; certPem?: string; now?: number } = {}) =>
  checkCertificate({ certPem: opts.certPem ?? cert.certPem, keyPem: opts.key ?? cert.keyPem, domain, now: opts.now ?? Date.now(), certPath: 'cert.pem', keyPath: 'key.pem' });

function refusal(fn: () => unknown): LaunchError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LaunchError);
    expect((e as LaunchError).exitCode).toBe(2);
    return e as LaunchError;
  }
  throw new Error('expected a refusal');
}

describe('checkCertificate', () => {
  it('accepts a certificate with its key for a name in its SAN, leaf first then the chain', () => {
    const info = check(site, 'sourcegraph.example.com', { certPem: site.certPem + ca.ca.certPem });
    expect(info).toMatchObject({ domain: 'sourcegraph.example.com', dnsNames: ['sourcegraph.example.com', 'www.example.com'], chainLength: 2, warnings: [] });
    expect(info.daysLeft).toBeGreaterThanOrEqual(89);
    expect(Date.parse(info.notAfter) - Date.now()).toBeGreaterThan(89 * DAY);
    expect(info.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(info.issuer).toContain('sourcegraph-launch test CA');
  });

  it('refuses a key that is not the certificate\'s', () => {
    const e = refusal(() => check(site, 'sourcegraph.example.com', { key: other.keyPem }));
    expect(e.code).toBe('key-mismatch');
    expect(e.message).toContain('is not the key of the certificate');
  });

  it('refuses a chain file whose first certificate is not the leaf, saying so', () => {
    const e = refusal(() => check(site, 'sourcegraph.example.com', { certPem: ca.ca.certPem + site.certPem }));
    expect(e.code).toBe('key-mismatch');
    expect(e.message).toContain('the key belongs to certificate 2 in the file');
  });

  it('refuses a name the certificate does not cover; the subject CN alone does not count', () => {
    const e = refusal(() => check(other, 'sourcegraph.example.com'));
    expect(e.code).toBe('certificate-domain-mismatch');
    expect(e.message).toContain('it is for sourcegraph.example.org');
    expect(refusal(() => check(noSan, 'nosan')).code).toBe('certificate-domain-mismatch');
  });

  it('a wildcard covers one label, not the apex nor two labels', () => {
    expect(check(wildcard, 'sourcegraph.example.com').dnsNames).toEqual(['*.example.com']);
    expect(refusal(() => check(wildcard, 'example.com')).code).toBe('certificate-domain-mismatch');
    expect(refusal(() => check(wildcard, 'a.sourcegraph.example.com')).code).toBe('certificate-domain-mismatch');
  });

  it('refuses an expired or not yet valid certificate, warns within 30 days of expiry', () => {
    const expired = refusal(() => check(site, 'sourcegraph.example.com', { now: Date.now() + 91 * DAY }));
    expect(expired.code).toBe('certificate-expired');
    expect(refusal(() => check(site, 'sourcegraph.example.com', { now: Date.now() - 2 * DAY })).code).toBe('certificate-not-yet-valid');
    const soon = check(site, 'sourcegraph.example.com', { now: Date.now() + 80 * DAY, certPem: site.certPem + ca.ca.certPem });
    expect(soon.daysLeft).toBeLessThan(30);
    expect(soon.warnings).toEqual([expect.stringMatching(/^The certificate expires in 9 days/)]);
  });

  it('a certificate issued for one day is expired two days later', () => {
    const short = ca.issue('short', ['sourcegraph.example.com'], { days: 1 });
    expect(check(short, 'sourcegraph.example.com').warnings[0]).toContain('expires in 0 days');
    expect(refusal(() => check(short, 'sourcegraph.example.com', { now: Date.now() + 2 * DAY })).code).toBe('certificate-expired');
  });

  it('refuses what is not PEM, and a passphrase-protected key', () => {
    expect(refusal(() => check(site, 'sourcegraph.example.com', { certPem: 'hello' })).code).toBe('invalid-certificate');
    expect(refusal(() => check(site, 'sourcegraph.example.com', { key: 'hello' })).code).toBe('invalid-key');
    expect(refusal(() => check(site, 'sourcegraph.example.com', { key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n' })).code).toBe('invalid-key');
  });

  it('warns about a certificate file without its chain, and a chain out of order', () => {
    expect(check(site, 'sourcegraph.example.com').warnings).toEqual([expect.stringContaining('holds no intermediate certificates')]);
    expect(check(site, 'sourcegraph.example.com', { certPem: site.certPem + other.certPem }).warnings).toEqual([expect.stringContaining('Certificate 2 in cert.pem did not issue certificate 1')]);
  });
});

describe('checkDomain', () => {
  it('takes a host name, lower-cased and without the final dot; refuses wildcards, addresses and single labels', () => {
    expect(checkDomain('SourceGraph.Example.com.')).toBe('sourcegraph.example.com');
    for (const bad of ['*.example.com', '10.0.0.1', 'localhost', 'a..b', '-a.example.com', 'a_b.example.com', 'x.example.com:443']) {
      expect(() => checkDomain(bad), bad).toThrow(/not a host name/);
    }
    expect(() => checkDomain(undefined)).toThrow(/--domain is required/);
  });
});
