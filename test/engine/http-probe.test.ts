// httpGet against real loopback servers: plain HTTP, a refused port, a server that never answers,
// and HTTPS with a freshly generated self-signed certificate (what Traefik serves on 443).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/engine/clock.js';
import { DEFAULT_MAX_BODY_BYTES, HttpProbeError, httpGet } from '../../src/engine/http-probe.js';

const servers: (http.Server | https.Server)[] = [];
let tmp: string;
let plainBase: string;
let silentBase: string;
let tlsBase: string;

async function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('6.12.5040');
  } else if (req.url === '/big') {
    res.writeHead(200);
    // Streamed in pieces so the cap has to cut mid-stream.
    for (let i = 0; i < 64; i++) res.write('y'.repeat(4096));
    res.end();
  } else if (req.url === '/slow-body') {
    res.writeHead(200);
    res.write('partial');
  } else {
    res.writeHead(404);
    res.end('404 page not found\n');
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'http-probe-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem')].concat([
      '-days',
      '1',
      '-subj',
      '/CN=TRAEFIK DEFAULT CERT',
    ]),
    { stdio: 'ignore' },
  );
  plainBase = `http://127.0.0.1:${await listen(http.createServer(route))}`;
  // Accepts connections, never answers: a frontend stuck behind a hung ingress.
  silentBase = `http://127.0.0.1:${await listen(http.createServer(() => undefined))}`;
  const tls = https.createServer({ key: readFileSync(join(tmp, 'key.pem')), cert: readFileSync(join(tmp, 'cert.pem')) }, route);
  tlsBase = `https://127.0.0.1:${await listen(tls)}`;
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('httpGet', () => {
  it('returns status and body of a 200', async () => {
    await expect(httpGet(`${plainBase}/healthz`, { timeoutMs: 2000 })).resolves.toEqual({ status: 200, body: '6.12.5040' });
  });

  it('returns a 404 as a result, not an error', async () => {
    await expect(httpGet(`${plainBase}/nope`, { timeoutMs: 2000 })).resolves.toEqual({ status: 404, body: '404 page not found\n' });
  });

  it('caps the body at 64 KiB by default, and at maxBodyBytes when given', async () => {
    const big = await httpGet(`${plainBase}/big`, { timeoutMs: 2000 });
    expect(big.status).toBe(200);
    expect(big.body.length).toBe(DEFAULT_MAX_BODY_BYTES);
    const small = await httpGet(`${plainBase}/big`, { timeoutMs: 2000, maxBodyBytes: 10 });
    expect(small.body).toBe('yyyyyyyyyy');
    const whole = await httpGet(`${plainBase}/big`, { timeoutMs: 2000, maxBodyBytes: 1024 * 1024 });
    expect(whole.body.length).toBe(64 * 4096);
  });

  it('rejects a refused connection with a readable message', async () => {
    const probe = http.createServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const err = await rejection(httpGet(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 2000 }));
    expect(err).toBeInstanceOf(HttpProbeError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', reason: 'connection refused (ECONNREFUSED)' });
    expect((err as Error).message).toBe(`GET http://127.0.0.1:${port}/healthz: connection refused (ECONNREFUSED)`);
  });

  it('rejects when no answer comes in time, headers or body', async () => {
    const started = Date.now();
    const err = await rejection(httpGet(`${silentBase}/healthz`, { timeoutMs: 300 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toMatchObject({ name: 'HttpProbeError', reason: 'no answer within 0.3s' });
    await expect(httpGet(`${plainBase}/slow-body`, { timeoutMs: 300 })).rejects.toThrow('no answer within 0.3s');
  });

  it('accepts the self-signed certificate of https, and says what it was', async () => {
    const res = await httpGet(`${tlsBase}/healthz`, { timeoutMs: 2000 });
    expect(res).toMatchObject({ status: 200, body: '6.12.5040' });
    // The served certificate (tls --tls acme reads a Let's Encrypt certificate's expiry from it).
    expect(Date.parse(res.certificate!.notAfter)).toBeGreaterThan(Date.now());
    expect(res.certificate!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('leaves the process-wide TLS checks alone', async () => {
    // The same server through the default agent must still be refused: only the probe is lenient.
    const err = await rejection(
      new Promise((resolve, reject) => {
        https.get(`${tlsBase}/healthz`, resolve).on('error', reject);
      }),
    );
    expect(String((err as NodeJS.ErrnoException).code)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  });

  it('rejects with an AbortError when the signal aborts, and at once when already aborted', async () => {
    const controller = new AbortController();
    const pending = httpGet(`${silentBase}/healthz`, { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const started = Date.now();
    const err = await rejection(pending);
    expect(isAbortError(err)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isAbortError(await rejection(httpGet(`${plainBase}/healthz`, { timeoutMs: 2000, signal: controller.signal })))).toBe(true);
  });

  it('rejects what is not an http(s) URL', async () => {
    await expect(httpGet('ftp://127.0.0.1/x', { timeoutMs: 100 })).rejects.toThrow('unsupported protocol ftp:');
    await expect(httpGet('not a url', { timeoutMs: 100 })).rejects.toThrow('not a valid URL');
  });
});
