// A throwaway self-signed certificate for 127.0.0.1 / localhost, made in-process (Node can sign
// but has no API to build an X.509 certificate, so this writes the few DER structures by hand).
// Used when the emulator serves HTTPS: Azure SDK clients refuse to send a bearer token over
// plain HTTP, so a real SDK client needs https:// and this certificate as its trusted CA.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const der = (tag: number, body: Buffer): Buffer => {
  const len = body.length;
  const header =
    len < 0x80 ? Buffer.from([tag, len]) : len < 0x100 ? Buffer.from([tag, 0x81, len]) : Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  return Buffer.concat([header, body]);
};
const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const int = (bytes: Buffer) => der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => der(0x04, b);
const bits = (b: Buffer) => der(0x03, Buffer.concat([Buffer.from([0]), b]));
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return der(0x17, Buffer.from(`${s}Z`, 'ascii'));
}

export interface SelfSigned {
  key: string;
  cert: string;
}

export function selfSignedCertificate(commonName = 'arm-emulator'): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
  const now = Date.now();
  const altNames = seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost', 'ascii')));
  const extensions = der(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))), // basicConstraints: CA, so it can be its own trust anchor
      seq(oid('2.5.29.17'), octets(altNames)), // subjectAltName: IP 127.0.0.1, DNS localhost
    ),
  );
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), // v3
    int(randomBytes(16)),
    ecdsaSha256,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 7 * 24 * 3600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certificate = seq(tbs, ecdsaSha256, bits(signature));
  const pem = certificate.toString('base64').match(/.{1,64}/g)!.join('\n');
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: `-----BEGIN CERTIFICATE-----\n${pem}\n-----END CERTIFICATE-----\n`,
  };
}
