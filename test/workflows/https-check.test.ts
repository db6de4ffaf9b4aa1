// The HTTPS check after a readiness wait: nothing without `tls`; a verified 200 passes; a name that
// does not resolve, no answer, or another status are warnings; a certificate that does not verify is
// said plainly — against a real HTTPS server on loopback with a self-signed certificate and the real
// probe, so the error codes are Node's own. The DNS and refused cases use a replaced probe: a test
// never asks a resolver.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/commands/deps.js';
import { httpGet, HttpProbeError, type HttpGetOptions } from '../../src/engine/http-probe.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { checkHttpsAfterWait, classifyHttpsError } from '../../src/workflows/https-check.js';
import { RecordingIo } from '../fakes/recording-io.js';
import { tempHome } from '../support/deps.js';
import { selfSignedCertificate } from '../support/arm-emulator/tls-cert.js';

let server: Server;
let port = 0;
beforeAll(async () => {
  const { key, cert } = selfSignedCertificate('127.0.0.1');
  server = createServer({ key, cert }, (_req, res) => res.end('6.12.5040'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

function rig(url: string | undefined, get: Deps['httpGet']) {
  const state = new FileStateStore(tempHome());
  const now = new Date().toISOString();
  state.putDeployment({
    name: 'prod', cloud: 'aws', region: 'us-east-1', createdAt: now, updatedAt: now,
    ...(url ? { tls: { domain: new URL(url).hostname, url, notAfter: now, fingerprint256: 'AA', dnsNames: [], issuer: 'CN=CA', installedAt: now } } : {}),
  });
  const io = new RecordingIo();
  const asked: { url: string; verify?: boolean }[] = [];
  const deps = { state, io, program: 'sourcegraph-launch', signal: new AbortController().signal, httpGet: ((u: string, o: HttpGetOptions) => (asked.push({ url: u, verify: o.verifyCertificate }), get(u, o))) as Deps['httpGet'] };
  const warnings = () => io.events.filter((e) => e.kind === 'warn').map((e) => (e as { message: string }).message);
  return { deps, io, asked, warnings, where: { cloud: 'aws', region: 'us-east-1', name: 'prod' } };
}

describe('checkHttpsAfterWait', () => {
  it('does nothing for a deployment without HTTPS of its own', async () => {
    const { deps, asked, where } = rig(undefined, httpGet);
    expect(await checkHttpsAfterWait(deps, where)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('a verified 200 passes; the request verifies the certificate', async () => {
    const { deps, asked, warnings, where } = rig('https://sg.example.com', async () => ({ status: 200, body: '6.12.5040' }));
    expect(await checkHttpsAfterWait(deps, where)).toEqual({ url: 'https://sg.example.com', status: 200, ok: true });
    expect(asked).toEqual([{ url: 'https://sg.example.com/healthz', verify: true }]);
    expect(warnings()).toEqual([]);
  });

  it('a certificate that does not verify (a real self-signed server, the real probe) is reported plainly, with how to install it again', async () => {
    const { deps, warnings, where } = rig(`https://127.0.0.1:${port}`, httpGet);
    const r = await checkHttpsAfterWait(deps, where);
    expect(r).toMatchObject({ ok: false, problem: 'certificate' });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatch(new RegExp(`^The certificate https://127\\.0\\.0\\.1:${port} serves did NOT verify: .*self.signed`, 'i'));
    expect(warnings()[0]).toContain('sourcegraph-launch tls prod --region us-east-1 --domain 127.0.0.1 --tls-cert <file> --tls-key <file>');
    // The same server with verification off answers: the probe itself is not what failed.
    expect((await httpGet(`https://127.0.0.1:${port}/healthz`, { timeoutMs: 5000 })).status).toBe(200);
  });

  it('a name that does not resolve, no answer, another status: warnings that say the site is ready on its address', async () => {
    const fail = (code: string, reason: string) => async (u: string) => {
      throw new HttpProbeError(u, reason, code);
    };
    const dns = rig('https://sg.example.com', fail('ENOTFOUND', 'host not found (ENOTFOUND)'));
    expect(await checkHttpsAfterWait(dns.deps, dns.where)).toMatchObject({ ok: false, problem: 'dns', detail: 'host not found (ENOTFOUND)' });
    expect(dns.warnings()[0]).toMatch(/^sg\.example\.com did not resolve from here .*point the domain's DNS record at it/);

    const refused = rig('https://sg.example.com', fail('ECONNREFUSED', 'connection refused (ECONNREFUSED)'));
    expect(await checkHttpsAfterWait(refused.deps, refused.where)).toMatchObject({ problem: 'unreachable' });
    expect(refused.warnings()[0]).toContain('gave no answer from here');

    const other = rig('https://sg.example.com', async () => ({ status: 404, body: '404 page not found' }));
    expect(await checkHttpsAfterWait(other.deps, other.where)).toMatchObject({ ok: false, status: 404, problem: 'http' });
    expect(other.warnings()[0]).toContain('answered HTTP 404 (certificate verified)');
  });

  it('classifies Node\'s error codes', () => {
    expect(classifyHttpsError({ code: 'EAI_AGAIN' })).toBe('dns');
    expect(classifyHttpsError({ code: 'CERT_HAS_EXPIRED' })).toBe('certificate');
    expect(classifyHttpsError({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })).toBe('certificate');
    expect(classifyHttpsError({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe('certificate');
    expect(classifyHttpsError({ code: 'ETIMEOUT' })).toBe('unreachable');
    expect(classifyHttpsError(new Error('x'))).toBe('unreachable');
  });
});
