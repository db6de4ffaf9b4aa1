// httpGet's verifyCertificate against a real HTTPS server on loopback whose certificate a test CA
// (not trusted by this process) signed: the address probe accepts it, a verified probe refuses it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, HttpProbeError, httpGetVia } from '../../src/engine/http-probe.js';
import { testCa } from '../support/certs.js';

let dir: string;
let server: Server;
let url: string;

const seen: { host?: string; servername?: string }[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgl-https-'));
  const cert = testCa(dir).issue('localhost', ['localhost']);
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    seen.push({ host: req.headers.host, servername: (req.socket as { servername?: string }).servername });
    res.end('6.12.5040');
  });
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

describe('httpGet connectTo, httpGetVia', () => {
  it('dials another host while the TLS name and the Host header stay the URL\'s; verified, the certificate is still checked', async () => {
    const port = (server.address() as AddressInfo).port;
    seen.length = 0;
    const res = await httpGet(`https://sg.example.invalid:${port}/healthz`, { timeoutMs: 5000, connectTo: '127.0.0.1' });
    expect(res).toMatchObject({ status: 200, body: '6.12.5040' });
    expect(seen).toEqual([{ host: `sg.example.invalid:${port}`, servername: 'sg.example.invalid' }]);
    const e = await httpGet(`https://sg.example.invalid:${port}/healthz`, { timeoutMs: 5000, connectTo: '127.0.0.1', verifyCertificate: true }).catch((err: unknown) => err);
    expect((e as HttpProbeError).reason).toMatch(/certificate/);
  });

  it('httpGetVia: only a name that does not resolve is retried through `via`', async () => {
    const asked: { url: string; connectTo?: string }[] = [];
    const get: typeof httpGet = async (u, o) => {
      asked.push({ url: u, ...(o.connectTo ? { connectTo: o.connectTo } : {}) });
      if (!o.connectTo) throw new HttpProbeError(u, 'host not found (ENOTFOUND)', 'ENOTFOUND');
      return { status: 200, body: 'ok' };
    };
    expect(await httpGetVia(get, 'https://sg.example.com/healthz', { timeoutMs: 1 }, 'lb.example.net')).toEqual({ status: 200, body: 'ok' });
    expect(asked).toEqual([{ url: 'https://sg.example.com/healthz' }, { url: 'https://sg.example.com/healthz', connectTo: 'lb.example.net' }]);
    await expect(httpGetVia(get, 'https://sg.example.com/healthz', { timeoutMs: 1 }, undefined)).rejects.toThrow(/ENOTFOUND/);
    const refused: typeof httpGet = async (u) => {
      throw new HttpProbeError(u, 'connection refused (ECONNREFUSED)', 'ECONNREFUSED');
    };
    await expect(httpGetVia(refused, 'https://sg.example.com/healthz', { timeoutMs: 1 }, 'lb.example.net')).rejects.toThrow(/ECONNREFUSED/);
  });
});
