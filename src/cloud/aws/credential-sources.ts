// Whether the AWS SDK's default credential chain could find anything at all, decided without the
// SDK: loading it (several MB of JavaScript) and asking STS just to hear "no credentials" made an
// offline `launch --dry-run` five times slower than starting Node. This mirrors the chain's sources
// (environment, shared config and credentials files, web identity, container, instance metadata)
// and errs on the side of "maybe": only when every source is certainly absent does it say none, so
// a machine with credentials always goes on to the real check.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CredentialSourceProbe {
  env: NodeJS.ProcessEnv;
  /** The profile the clients use (--profile, else AWS_PROFILE, else "default"). */
  profile: string;
  platform?: NodeJS.Platform;
  /** The text of a file, undefined when it cannot be read; injectable for tests. */
  readFile?: (path: string) => string | undefined;
  home?: string;
}

/** Linux DMI fields that name the machine's maker; on EC2 they say Amazon (or Xen on old types). */
const DMI_FIELDS = ['sys_vendor', 'bios_vendor', 'bios_version', 'board_vendor', 'product_name'];

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Undefined when some source may hold credentials; otherwise why there are none, in words for the
 * user ("no AWS_ACCESS_KEY_ID, no profile "default" in ~/.aws/config or ~/.aws/credentials, …").
 */
export function whyNoAwsCredentials(probe: CredentialSourceProbe): string | undefined {
  const { env, profile } = probe;
  const read = probe.readFile ?? readText;
  const home = probe.home ?? homedir();
  const platform = probe.platform ?? process.platform;

  if (env.AWS_ACCESS_KEY_ID || env.AWS_SECRET_ACCESS_KEY || env.AWS_SESSION_TOKEN) return undefined;
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_ROLE_ARN) return undefined;
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return undefined;

  // A profile section in either file may hold keys, SSO, a credential process or a role to assume.
  const files = [env.AWS_CONFIG_FILE || join(home, '.aws', 'config'), env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials')];
  const section = new RegExp(`^\\s*\\[\\s*(?:profile\\s+)?${escapeRegExp(profile)}\\s*\\]`, 'm');
  if (files.some((f) => section.test(read(f) ?? ''))) return undefined;

  // The last source is the instance metadata service, which exists only on EC2.
  const imdsOff = env.AWS_EC2_METADATA_DISABLED !== undefined && env.AWS_EC2_METADATA_DISABLED.toLowerCase() !== 'false';
  if (!imdsOff) {
    // Only Linux says cheaply what machine it is; anywhere else an instance role stays possible.
    if (platform !== 'linux') return undefined;
    const dmi = DMI_FIELDS.map((f) => read(`/sys/class/dmi/id/${f}`));
    if (dmi.every((v) => v === undefined)) return undefined;
    if (dmi.some((v) => v !== undefined && /amazon|ec2|xen/i.test(v))) return undefined;
    if (/^ec2/i.test(read('/sys/hypervisor/uuid') ?? '')) return undefined;
  }

  const shown = files.map((f) => (f.startsWith(`${home}/`) ? `~/${f.slice(home.length + 1)}` : f));
  return (
    `no AWS_ACCESS_KEY_ID in the environment, no profile "${profile}" in ${shown.join(' or ')}, ` +
    (imdsOff ? 'and the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED)' : 'and this machine is not an EC2 instance')
  );
}
