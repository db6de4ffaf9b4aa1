// status of a deployment `tls` gave HTTPS on its own domain: the HTTPS URL and the certificate's
// expiry from this machine's record, the HTTPS probe made with the certificate verified, and the
// notes when it does not answer or expires soon. In-process against moto; every HTTP request goes
// to the replaced probe, never to an address or a name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFlags } from '../../src/cli/commands/status.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runStatus } from '../../src/commands/status.js';
import type { TargetFlags } from '../../src/commands/target.js';
import { HttpProbeError, type HttpGetOptions } from '../../src/engine/http-probe.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const DAY = 86_400_000;
let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f6071c', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

const statusFlags = (extra: Partial<StatusFlags & TargetFlags> = {}): StatusFlags & TargetFlags => ({ region: 'us-east-1', providerFlags: {}, ...extra });
const ci = () => new ScriptedIo([], false);

async function launchWithTls(name: string, home: string, notAfter: string): Promise<LaunchResult> {
  const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name, providerFlags: {} };
  const launched = (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: ci(), home }), flags)) as LaunchResult;
  // What `tls` records (tls.e2e.test.ts runs the command itself).
  const state = new FileStateStore(home);
  const record = state.getDeployment('aws', 'us-east-1', name)!;
  state.putDeployment({ ...record, tls: { domain: 'sourcegraph.example.com', url: 'https://sourcegraph.example.com', notAfter, fingerprint256: 'AA', dnsNames: ['sourcegraph.example.com'], issuer: 'CN=CA', installedAt: new Date().toISOString() } });
  return launched;
}

describe('status with HTTPS on the own domain', () => {
  it('shows the HTTPS URL and expiry, and probes it with the certificate verified', async () => {
    const home = tempHome();
    const notAfter = new Date(Date.now() + 60 * DAY + 3600_000).toISOString();
    await launchWithTls('secure', home, notAfter);
    const asked: { url: string; verify?: boolean }[] = [];
    const httpGet = async (url: string, opts: HttpGetOptions) => {
      asked.push({ url, verify: opts.verifyCertificate });
      return { status: 200, body: '6.12.5040' };
    };
    const io = ci();
    const status = await runStatus(makeDeps({ endpoint: moto.endpoint, io, home, httpGet }), 'secure', statusFlags());
    expect(status.https).toEqual({ url: 'https://sourcegraph.example.com', domain: 'sourcegraph.example.com', certificateNotAfter: notAfter, certificateDaysLeft: 60, probe: { status: 200 } });
    expect(asked).toContainEqual({ url: 'https://sourcegraph.example.com/healthz', verify: true });
    // The address is still probed as before, without verification (Traefik's own certificate there).
    expect(asked.filter((a) => a.url.startsWith('http://')).every((a) => a.verify !== true)).toBe(true);
    expect(status.notes.join('\n')).not.toContain('certificate');
    const text = io.text();
    expect(text).toMatch(/HTTPS\s+https:\/\/sourcegraph\.example\.com \(HTTP 200 on \/healthz, certificate verified\)/);
    expect(text).toMatch(new RegExp(`certificate\\s+valid until ${notAfter.replace(/\./g, '\\.')} \\(60 days\\)`));

    // --no-probe: no request to the domain either.
    asked.length = 0;
    const quiet = await runStatus(makeDeps({ endpoint: moto.endpoint, io: ci(), home, httpGet }), 'secure', statusFlags({ probe: false }));
    expect(asked).toEqual([]);
    expect(quiet.https?.probe).toBeUndefined();
  });

  it('says when the domain gives no verified answer, and when the certificate expires within 30 days', async () => {
    const home = tempHome();
    const notAfter = new Date(Date.now() + 10 * DAY + 3600_000).toISOString();
    await launchWithTls('soon', home, notAfter);
    const httpGet = async (url: string) => {
      if (url.startsWith('https://sourcegraph.example.com')) throw new HttpProbeError(url, 'unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      return { status: 200, body: '6.12.5040' };
    };
    const status = await runStatus(makeDeps({ endpoint: moto.endpoint, io: ci(), home, httpGet }), 'soon', statusFlags());
    expect(status.https).toMatchObject({ certificateDaysLeft: 10, probe: { error: 'unable to verify the first certificate' } });
    expect(status.notes).toContain('https://sourcegraph.example.com gave no answer with a verified certificate: unable to verify the first certificate.');
    expect(status.notes.find((n) => n.startsWith('The certificate of sourcegraph.example.com expires in 10 days'))).toContain('tls soon --domain sourcegraph.example.com');
  });
});
