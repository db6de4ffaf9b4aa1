// A PKCS#12 (PFX) file from a PEM certificate chain and its key, in plain TypeScript over node:crypto
// (RFC 7292): what an Application Gateway's sslCertificates `data` takes (base64), with a password.
// The key is a pkcs8ShroudedKeyBag (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC, as node:crypto exports
// an encrypted PKCS#8 key), the certificates plain certBags (the leaf and the key share a localKeyId),
// and the whole is sealed with an HMAC-SHA256 MAC keyed by the PKCS#12 key derivation (Appendix B).
// OpenSSL 3 (`openssl pkcs12`) and Windows/.NET read this form.
import { createHash, createHmac, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';

const MAC_ITERATIONS = 2048;

// ---- DER ----
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const explicit0 = (b: Buffer) => tlv(0xa0, b);
const nul = () => Buffer.from([0x05, 0x00]);
function int(n: number): Buffer {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  if (!bytes.length || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let x = Math.floor(p / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift(0x80 | (x & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
};

const dataContent = (inner: Buffer) => seq(oid(OID.data), explicit0(octets(inner)));
const attributes = (localKeyId?: Buffer) => (localKeyId ? [set(seq(oid(OID.localKeyId), set(octets(localKeyId))))] : []);
const safeBag = (bagOid: string, value: Buffer, localKeyId?: Buffer) => seq(oid(bagOid), explicit0(value), ...attributes(localKeyId));

/** The password as PKCS#12 wants it: a BMPString (UTF-16 big-endian) with two zero bytes at the end. */
function bmpPassword(password: string): Buffer {
  const le = Buffer.from(`${password}\0`, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1]!;
    be[i + 1] = le[i]!;
  }
  return be;
}

/** RFC 7292 Appendix B.2 with SHA-256 (u = 32, v = 64): `n` bytes of key material for purpose `id` (3: MAC). */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, n: number): Buffer {
  const u = 32;
  const v = 64;
  const D = Buffer.alloc(v, id);
  const fill = (b: Buffer) => (b.length ? Buffer.from(Array.from({ length: v * Math.ceil(b.length / v) }, (_, i) => b[i % b.length]!)) : Buffer.alloc(0));
  const I = Buffer.concat([fill(salt), fill(bmpPassword(password))]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    out.push(A);
    const B = Buffer.from(Array.from({ length: v }, (_, i) => A[i % u]!));
    // I_j = (I_j + B + 1) mod 2^(8v), for each v-byte block of I.
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The PFX (DER) of the chain in `certPem` (the leaf first) and its unencrypted `keyPem`, protected by
 * `password`: the key encrypted with it, the whole authenticated with it.
 */
export function writePfx(certPem: string, keyPem: string, password: string): Buffer {
  const certs = (certPem.match(PEM_CERT) ?? []).map((b) => new X509Certificate(b).raw);
  if (!certs.length) throw new Error('no PEM certificate to put in the PFX');
  const key = createPrivateKey(keyPem);
  const localKeyId = createHash('sha1').update(certs[0]!).digest();
  const shrouded = key.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: password }) as Buffer;
  const certBags = certs.map((der, i) => safeBag(OID.certBag, seq(oid(OID.x509Certificate), explicit0(octets(der))), i === 0 ? localKeyId : undefined));
  const authSafe = seq(dataContent(seq(...certBags)), dataContent(seq(safeBag(OID.shroudedKeyBag, shrouded, localKeyId))));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(password, salt, 3, MAC_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), nul()), octets(mac)), octets(salt), int(MAC_ITERATIONS));
  return seq(int(3), dataContent(authSafe), macData);
}
