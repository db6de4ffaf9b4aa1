// The PFX writer read back by the machine's real openssl: the certificates (leaf first, with its
// chain), the key (it matches the leaf), the MAC checked with the password (a wrong one is refused).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pkcs12Kdf, writePfx } from '../../../src/cloud/azure/pfx.js';
import { testCa } from '../../support/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'sgl-pfx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

describe('writePfx', () => {
  const { ca, issue } = testCa(dir);
  const leaf = issue('site', ['sourcegraph.example.com']);

  it('openssl pkcs12 reads it back with the password: the leaf and its chain, and the leaf\'s key', () => {
    const file = join(dir, 'site.pfx');
    writeFileSync(file, writePfx(`${leaf.certPem}${ca.certPem}`, leaf.keyPem, 'pässword 1'));
    const r = openssl(['pkcs12', '-in', file, '-passin', 'pass:pässword 1', '-nodes']);
    expect(r.status, r.stderr).toBe(0);
    const certs = (r.stdout.match(PEM_CERT) ?? []).map((p) => new X509Certificate(p));
    expect(certs.map((c) => c.fingerprint256).sort()).toEqual([new X509Certificate(leaf.certPem).fingerprint256, new X509Certificate(ca.certPem).fingerprint256].sort());
    const key = createPrivateKey(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(r.stdout)![0]);
    expect(new X509Certificate(leaf.certPem).checkPrivateKey(key)).toBe(true);
    // The key and the leaf share a localKeyId (what a reader pairs them by).
    const keyId = createHash('sha1').update(new X509Certificate(leaf.certPem).raw).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
    expect(r.stdout.split('localKeyID: ').length - 1).toBe(2);
    expect(r.stdout).toContain(`localKeyID: ${keyId}`);
    // The MAC and the key's encryption: what openssl says it found.
    const info = openssl(['pkcs12', '-in', file, '-passin', 'pass:pässword 1', '-info', '-noout']);
    expect(info.stderr).toMatch(/MAC: sha256, Iteration 2048/);
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
  });

  it('a wrong password is refused (the MAC does not verify)', () => {
    const file = join(dir, 'wrong.pfx');
    writeFileSync(file, writePfx(leaf.certPem, leaf.keyPem, 'right'));
    const r = openssl(['pkcs12', '-in', file, '-passin', 'pass:wrong', '-nodes']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/mac verify (failure|error)/i);
  });

  it('an RSA key too, and a file openssl made itself as the reference for the MAC key derivation', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    writeFileSync(join(dir, 'rsa.key'), keyPem);
    execFileSync('openssl', ['req', '-x509', '-key', join(dir, 'rsa.key'), '-out', join(dir, 'rsa.crt'), '-days', '2', '-subj', '/CN=rsa.example.com'], { stdio: 'ignore' });
    const certPem = readFileSync(join(dir, 'rsa.crt'), "utf8");
    const file = join(dir, 'rsa.pfx');
    writeFileSync(file, writePfx(certPem, keyPem, 'x'));
    const r = openssl(['pkcs12', '-in', file, '-passin', 'pass:x', '-nodes']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('BEGIN PRIVATE KEY');
    // RFC 7292 B.2 (SHA-256): the same bytes whatever the length asked for (a prefix of a longer one).
    const salt = Buffer.from('0102030405060708', 'hex');
    expect(pkcs12Kdf('x', salt, 3, 3, 70).subarray(0, 32)).toEqual(pkcs12Kdf('x', salt, 3, 3, 32));
    expect(pkcs12Kdf('x', salt, 3, 3, 32)).not.toEqual(pkcs12Kdf('x', salt, 1, 3, 32));
  });
});
