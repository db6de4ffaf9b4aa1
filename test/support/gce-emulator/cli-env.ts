// The environment a real CLI process needs to talk to the GCE emulator as a user talks to Compute:
// Application Default Credentials from a service-account key made here (its token endpoint is the
// emulator's, so the CLI signs and exchanges a real JWT), the Compute endpoint override, gcloud's
// configuration in the test's directory, and the metadata server ruled out.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function gceCliEnv(gce: { endpoint: string; project: string }, dir: string, clientName = 'e2e'): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'sa.json');
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      project_id: gce.project,
      client_email: `${clientName}@${gce.project}.iam.gserviceaccount.com`,
      private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      token_uri: `${gce.endpoint}/token`,
    }),
  );
  return {
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    METADATA_SERVER_DETECTION: 'none',
    CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${gce.endpoint}/compute/v1/`,
  };
}
