// Shared set-up of the Azure end-to-end tests: the ARM emulator over HTTPS and a loopback token
// endpoint for the service principal's sign-in, and the environment that points the real CLI at
// both (AZURE_RESOURCE_MANAGER_ENDPOINT, AZURE_AUTHORITY_HOST) the way a user points the tool at
// another Azure cloud. The child trusts both self-signed certificates through NODE_EXTRA_CA_CERTS.
// Nothing here reaches Microsoft.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ArmClient } from './arm-emulator/client.js';
import { startArmEmulator, type ArmEmulator, type StartArmEmulatorOptions } from './arm-emulator/index.js';
import { selfSignedCertificate } from './arm-emulator/tls-cert.js';
import { fetchTrusting } from './arm-emulator/trusting-fetch.js';

export interface AzureE2e {
  arm: ArmEmulator;
  client: ArmClient;
  /** What the child process needs to sign in and reach the emulator. */
  env: Record<string, string>;
  /** `<path> <client_id> <scope>` of each token request. */
  tokenRequests: string[];
  stop(): Promise<void>;
}

/** Starts the emulator and the token endpoint; `dir` gets the CA file. */
export async function startAzureE2e(dir: string, opts: Omit<StartArmEmulatorOptions, 'tls'> = {}): Promise<AzureE2e> {
  const arm = await startArmEmulator({ ...opts, tls: true });
  const client = new ArmClient(arm, fetchTrusting(arm.ca!));
  const tokenRequests: string[] = [];
  const tls = selfSignedCertificate('token-endpoint');
  const tokens: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      tokenRequests.push(`${req.url} ${form.get('client_id')} ${form.get('scope')}`);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'e2e-token' }));
    });
  });
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, `${arm.ca}\n${tls.cert}\n`);
  return {
    arm,
    client,
    tokenRequests,
    env: {
      NODE_EXTRA_CA_CERTS: caFile,
      AZURE_RESOURCE_MANAGER_ENDPOINT: arm.endpoint,
      AZURE_AUTHORITY_HOST: `https://127.0.0.1:${(tokens.address() as AddressInfo).port}`,
      AZURE_TENANT_ID: 'e2e-tenant',
      AZURE_CLIENT_ID: 'e2e-app',
      AZURE_CLIENT_SECRET: 'e2e-secret',
      AZURE_SUBSCRIPTION_ID: arm.subscriptionId,
    },
    async stop() {
      await arm.stop();
      await new Promise((resolve) => tokens.close(resolve));
    },
  };
}
