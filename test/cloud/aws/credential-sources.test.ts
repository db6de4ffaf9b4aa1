// Whether any AWS credential source exists, decided without the SDK: "none" only when every
// source the SDK's default chain reads is certainly absent.
import { describe, expect, it } from 'vitest';
import { whyNoAwsCredentials, type CredentialSourceProbe } from '../../../src/cloud/aws/credential-sources.js';

const NOT_EC2 = { '/sys/class/dmi/id/sys_vendor': 'QEMU\n', '/sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n' };

function probe(env: NodeJS.ProcessEnv, files: Record<string, string> = NOT_EC2, extra: Partial<CredentialSourceProbe> = {}): string | undefined {
  return whyNoAwsCredentials({ env, profile: 'default', platform: 'linux', home: '/home/u', readFile: (p) => files[p], ...extra });
}

describe('whyNoAwsCredentials', () => {
  it('says none, and why, when no source exists on a machine that is not EC2', () => {
    expect(probe({})).toBe(
      'no AWS_ACCESS_KEY_ID in the environment, no profile "default" in ~/.aws/config or ~/.aws/credentials, and this machine is not an EC2 instance',
    );
    expect(probe({ AWS_EC2_METADATA_DISABLED: 'true' }, {})).toMatch(/instance metadata service is disabled/);
  });

  it.each([
    ['access keys in the environment', { AWS_ACCESS_KEY_ID: 'AKIA…', AWS_SECRET_ACCESS_KEY: 's' }],
    ['a web identity token', { AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token', AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }],
    ['container credentials (ECS, EKS Pod Identity)', { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }],
  ])('maybe with %s', (_what, env) => {
    expect(probe(env)).toBeUndefined();
  });

  it('maybe when the profile has a section in the config or credentials file (keys, SSO, a process, a role)', () => {
    expect(probe({}, { ...NOT_EC2, '/home/u/.aws/credentials': '[default]\naws_access_key_id = AKIA\n' })).toBeUndefined();
    expect(whyNoAwsCredentials({ env: {}, profile: 'prod', platform: 'linux', home: '/home/u', readFile: (p) => ({ ...NOT_EC2, '/home/u/.aws/config': '[profile prod]\nsso_session = corp\n' })[p] })).toBeUndefined();
    expect(probe({ AWS_CONFIG_FILE: '/etc/aws.conf' }, { ...NOT_EC2, '/etc/aws.conf': '  [ default ]\nregion = eu-west-1\n' })).toBeUndefined();
    // Another profile's section does not help this one.
    expect(probe({}, { ...NOT_EC2, '/home/u/.aws/config': '[profile staging]\nregion = us-east-1\n' })).toMatch(/no profile "default"/);
  });

  it('maybe on EC2 (an instance role), and wherever the machine cannot be told apart cheaply', () => {
    expect(probe({}, { '/sys/class/dmi/id/sys_vendor': 'Amazon EC2\n' })).toBeUndefined();
    expect(probe({}, { '/sys/class/dmi/id/bios_version': '4.11.amazon\n', '/sys/class/dmi/id/sys_vendor': 'Xen\n' })).toBeUndefined();
    expect(probe({}, { ...NOT_EC2, '/sys/hypervisor/uuid': 'ec2e1916-9099-7caf-fd21-012345abcdef\n' })).toBeUndefined();
    expect(probe({}, {})).toBeUndefined();
    expect(probe({}, NOT_EC2, { platform: 'darwin' })).toBeUndefined();
    // The metadata service switched off explicitly is certainly not a source.
    expect(probe({ AWS_EC2_METADATA_DISABLED: 'true' }, { '/sys/class/dmi/id/sys_vendor': 'Amazon EC2\n' })).toBeDefined();
    expect(probe({ AWS_EC2_METADATA_DISABLED: 'false' }, { '/sys/class/dmi/id/sys_vendor': 'Amazon EC2\n' })).toBeUndefined();
  });
});
