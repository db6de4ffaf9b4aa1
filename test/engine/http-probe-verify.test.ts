// httpGet's verifyCertificate against a real HTTPS server on loopback whose certificate a test CA
// (not trusted by this process) signed: the address probe accepts it, a verified probe refuses it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, HttpProbeError } from '../../src/engine/http-probe.js';
import { testCa } from '../support/certs.js';

let dir: string;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-https-'));
  const cert = testCa(dir).issue('localhost', ['localhost']);
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('6.12.5040'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://localhost:${(server.address() as AddressInfo).port}/healthz`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('httpGet verifyCertificate', () => {
  it('without it, any certificate is accepted (Traefik\'s own on the address)', async () => {
    const res = await httpGet(url, { timeoutMs: 5000 });
    expect(res).toMatchObject({ status: 200, body: '6.12.5040' });
    // What was served, read from the connection: the names and the issuer as a browser would show them.
    expect(res.certificate).toMatchObject({ dnsNames: ['localhost'], issuer: 'sourcegraph-launch test CA' });
  });

  it('with it, a certificate from an issuer this process does not trust is refused', async () => {
    const e = await httpGet(url, { timeoutMs: 5000, verifyCertificate: true }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(HttpProbeError);
    expect((e as HttpProbeError).reason).toMatch(/certificate/);
  });
});
