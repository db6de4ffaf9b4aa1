// Where gcloud keeps its configuration. Its own module because the descriptor (loaded for `--help`)
// reads the default project from there, and auth.ts brings node:crypto with it.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** gcloud's ADC file: $CLOUDSDK_CONFIG or ~/.config/gcloud (%APPDATA%\gcloud on Windows). */
export function gcloudConfigDir(env: NodeJS.ProcessEnv, home = homedir()): string {
  if (env.CLOUDSDK_CONFIG) return env.CLOUDSDK_CONFIG;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'gcloud');
  return join(home, '.config', 'gcloud');
}
