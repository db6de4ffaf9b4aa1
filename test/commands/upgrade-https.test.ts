// upgrade and rollback on a deployment `tls` gave HTTPS on its own domain: after the readiness wait
// each probes https://<domain>/healthz with the certificate verified — a failure is a warning in the
// output and `https` in the result, never a failed command. In-process on moto; the instances' HTTP
// side is the moto appliance and the domain's answers are scripted: nothing is dialled or resolved.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { runLaunch } from '../../src/commands/launch.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import type { Deps } from '../../src/commands/deps.js';
import { HttpProbeError, type HttpGetOptions } from '../../src/engine/http-probe.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { motoAppliance } from '../support/moto-appliance.js';
import { motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI = { [OLD]: 'ami-0b11000000000611a', [NEW]: 'ami-0c12504000000612b' };
const DOMAIN = 'sourcegraph.example.com';

let moto: MotoServer;
let ec2: EC2Client;
beforeAll(async () => {
  moto = await startMoto({ images: Object.entries(AMI).map(([version, id]) => ({ id, name: `Sourcegraph v${version}`, ownerId: '840044800169' })) });
  ec2 = motoEc2Client(moto);
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

function jsonIo(): ScriptedIo {
  return Object.defineProperty(new ScriptedIo([], false), 'json', { value: true });
}

describe('the readiness wait then probes the HTTPS URL', () => {
  it('upgrade reports a certificate that does not verify as a warning; rollback a verified 200; the wait itself is on the address', async () => {
    const home = tempHome();
    const appliance = motoAppliance(ec2);
    let domain: (url: string) => Promise<{ status: number; body: string }> = async (url) => {
      throw new HttpProbeError(url, 'certificate has expired', 'CERT_HAS_EXPIRED');
    };
    const asked: { url: string; verify?: boolean }[] = [];
    const httpGet: Deps['httpGet'] = async (url: string, o: HttpGetOptions) => {
      asked.push({ url, verify: o.verifyCertificate });
      return url.startsWith(`https://${DOMAIN}`) ? domain(url) : appliance.httpGet(url, o);
    };
    const deps = (io = new ScriptedIo([], false)) => makeDeps({ endpoint: moto.endpoint, io, home, httpGet });
    await runLaunch(deps(), { region: 'us-east-1', size: 'S', version: OLD, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name: 'web', wait: false, yes: true, providerFlags: {} });
    const state = new FileStateStore(home);
    const record = state.getDeployment('aws', 'us-east-1', 'web')!;
    const now = new Date().toISOString();
    state.putDeployment({ ...record, tls: { domain: DOMAIN, url: `https://${DOMAIN}`, notAfter: now, fingerprint256: 'AA', dnsNames: [DOMAIN], issuer: 'CN=CA', installedAt: now } });

    const io = jsonIo();
    const up = await runUpgrade(deps(io), 'web', { region: 'us-east-1', to: NEW, yes: true, holdSeconds: '0', providerFlags: {} });
    expect(up).toMatchObject({ to: NEW, https: { url: `https://${DOMAIN}`, ok: false, problem: 'certificate', detail: 'certificate has expired' } });
    expect(io.events.find((e) => e.kind === 'result')).toMatchObject({ value: { https: { problem: 'certificate' } } });
    expect(io.events.some((e) => e.kind === 'warn' && e.message.startsWith(`The certificate https://${DOMAIN} serves did NOT verify: certificate has expired.`))).toBe(true);
    // Once, after the wait on the address (which never verifies Traefik's own certificate).
    const https = asked.filter((a) => a.url.startsWith('https://'));
    expect(https).toEqual([{ url: `https://${DOMAIN}/healthz`, verify: true }]);
    const lastPlain = asked.map((a) => a.url.startsWith('http://')).lastIndexOf(true);
    expect(lastPlain).toBeGreaterThanOrEqual(0);
    expect(lastPlain).toBeLessThan(asked.findIndex((a) => a.url.startsWith('https://')));

    domain = async () => ({ status: 200, body: OLD });
    const back = await runRollback(deps(), 'web', { region: 'us-east-1', yes: true, holdSeconds: '0', providerFlags: {} });
    expect(back).toMatchObject({ version: OLD, https: { ok: true, status: 200 } });
    expect(asked.filter((a) => a.url.startsWith('https://'))).toHaveLength(2);
  });
});
