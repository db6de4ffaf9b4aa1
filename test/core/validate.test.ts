import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  validateCidr,
  validateCidrList,
  validateDataSize,
  validateName,
  validateRegion,
  validateSize,
  validateSshCidrs,
  validateSshUser,
  validateTimeoutMinutes,
  validateVersion,
} from '../../src/core/validate.js';
import { AWS_REGIONS, awsProvider, validateElasticIp } from '../../src/cloud/aws/provider.js';
import { validateCloud } from '../../src/cloud/providers.js';

const flag = (key: string) => (value: string) => awsProvider.flags.find((f) => f.key === key)!.validate(value);
const validateKmsKey = flag('kmsKey');

function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('flag validation', () => {
  it('cloud: aws, gcp (also as gce) and azure accepted, unknown lists choices', () => {
    expect(validateCloud('AWS').id).toBe('aws');
    expect(validateCloud('gce').id).toBe('gcp');
    expect(validateCloud('Azure').id).toBe('azure');
    expect(usage(() => validateCloud('digitalocean')).message).toMatch(/--cloud: unknown cloud "digitalocean".*Valid choices: aws, gcp, azure/);
  });

  it('region: every commercial AWS region (images we build or a base OS work in any); unknown names the flag and lists them', () => {
    expect(AWS_REGIONS).toContain('ca-west-1');
    expect(AWS_REGIONS).toContain('ap-south-2');
    expect(validateRegion('ap-southeast-5', AWS_REGIONS)).toBe('ap-southeast-5');
    expect(validateRegion('EU-West-1', AWS_REGIONS)).toBe('eu-west-1');
    const e = usage(() => validateRegion('us-east-9', AWS_REGIONS));
    expect(e.message).toMatch(/^--region: "us-east-9" is not a valid choice/);
    expect(e.message).toContain('ap-southeast-3');
  });

  it.each([
    ['xs', 'XS'],
    ['M', 'M'],
    ['xl', 'XL'],
  ])('size %s → %s', (input, want) => expect(validateSize(input)).toBe(want));

  it('size: unknown lists the choices', () => {
    expect(usage(() => validateSize('XXL')).message).toBe('--size: unknown size "XXL". Valid choices: XS, S, M, L, XL');
  });

  it.each([
    ['6.12.5040', '6.12.5040'],
    ['v5.11.2732', '5.11.2732'],
    ['latest', 'latest'],
    ['LATEST', 'latest'],
  ])('version %s → %s', (input, want) => expect(validateVersion(input)).toBe(want));

  it.each(['6.12', '6', 'six', '6.12.5040-rc1', '1.2.3.4', ''])('version %j is rejected naming the flag', (input) => {
    expect(usage(() => validateVersion(input)).message).toMatch(/^--version: .* is not a Sourcegraph version. Use x.y.z/);
  });

  it.each([
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['203.0.113.7', '203.0.113.7/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8::1', '2001:db8::1/128'],
  ])('CIDR %s → %s', (input, want) => expect(validateCidr(input, '--allow-cidr')).toBe(want));

  it.each([
    ['10.0.0.1/8', /host bits are set; did you mean 10.0.0.0\/8/],
    ['256.1.1.1/32', /not an IPv4 or IPv6/],
    ['1.2.3.4/33', /prefix must be 0–32/],
    ['1.2.3/24', /not an IPv4 or IPv6/],
    ['01.2.3.4/32', /not an IPv4 or IPv6/],
    ['example.com', /not an IPv4 or IPv6/],
    ['1.2.3.4/24/1', /more than one/],
  ])('CIDR %s is rejected (%s)', (input, why) => {
    const e = usage(() => validateCidr(input, '--allow-cidr'));
    expect(e.message).toMatch(/^--allow-cidr: /);
    expect(e.message).toMatch(why);
  });

  it('CIDR lists split commas, repeat, and de-duplicate', () => {
    expect(validateCidrList(['1.2.3.4/32,5.6.7.0/24', '1.2.3.4'], '--allow-cidr')).toEqual(['1.2.3.4/32', '5.6.7.0/24']);
  });

  it('SSH CIDRs: none disables SSH, the world needs the explicit flag', () => {
    expect(validateSshCidrs(['none'], { iKnowSshIsPublic: false })).toEqual([]);
    expect(validateSshCidrs(['198.51.100.7/32'], { iKnowSshIsPublic: false })).toEqual(['198.51.100.7/32']);
    const e = usage(() => validateSshCidrs(['0.0.0.0/0'], { iKnowSshIsPublic: false }));
    expect(e.code).toBe('ssh-open-to-world');
    expect(e.message).toMatch(/--ssh-cidr 0.0.0.0\/0 opens SSH to the whole internet.*--i-know-ssh-is-public/);
    expect(usage(() => validateSshCidrs(['::/0'], { iKnowSshIsPublic: false })).code).toBe('ssh-open-to-world');
    expect(validateSshCidrs(['0.0.0.0/0'], { iKnowSshIsPublic: true })).toEqual(['0.0.0.0/0']);
    expect(usage(() => validateSshCidrs(['none', '1.2.3.4/32'], { iKnowSshIsPublic: false })).message).toMatch(/cannot be combined/);
  });

  it('data size: whole GiB at or above the preset minimum', () => {
    expect(validateDataSize('750', 500, awsProvider.dataDiskLimit)).toBe(750);
    expect(usage(() => validateDataSize('499', 500, awsProvider.dataDiskLimit)).message).toMatch(/--data-size 499 is below the preset minimum of 500 GiB/);
    expect(usage(() => validateDataSize('1.5', 500, awsProvider.dataDiskLimit)).message).toMatch(/not a whole number/);
    expect(usage(() => validateDataSize('lots', 500, awsProvider.dataDiskLimit)).message).toMatch(/^--data-size/);
    expect(usage(() => validateDataSize('70000', 500, awsProvider.dataDiskLimit)).message).toMatch(/EBS maximum/);
  });

  it('elastic IP choices', () => {
    expect(validateElasticIp('new')).toEqual({ mode: 'new' });
    expect(validateElasticIp('NONE')).toEqual({ mode: 'none' });
    expect(validateElasticIp('eipalloc-0123456789abcdef0')).toEqual({ mode: 'existing', id: 'eipalloc-0123456789abcdef0' });
    expect(usage(() => validateElasticIp('1.2.3.4')).message).toMatch(/^--elastic-ip: .*Valid choices: new, none, or an allocation id/);
  });

  it('identifiers name their flag when malformed', () => {
    expect(awsProvider.validateImageId('ami-0d5604b984e5bd659')).toBe('ami-0d5604b984e5bd659');
    expect(usage(() => awsProvider.validateImageId('ami-XYZ')).message).toMatch(/^--image: /);
    expect(usage(() => awsProvider.validateSubnet('subnet-zz')).message).toMatch(/^--subnet: /);
    expect(awsProvider.validateMachineType('m7a.2xlarge')).toBe('m7a.2xlarge');
    expect(usage(() => awsProvider.validateMachineType('big')).message).toMatch(/^--instance-type: /);
    expect(awsProvider.validateDiskId('vol-0123456789abcdef0')).toBe('vol-0123456789abcdef0');
    expect(usage(() => awsProvider.validateDiskId('disk-1')).message).toMatch(/^--data-volume: .*vol-/);
    expect(validateKmsKey('alias/sourcegraph')).toBe('alias/sourcegraph');
    expect(validateKmsKey('arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toMatch(/^arn:/);
    expect(usage(() => validateKmsKey('my key')).message).toMatch(/^--kms-key: /);
    expect(validateSshUser('ubuntu', 'ec2-user')).toBe('ubuntu');
    expect(usage(() => validateSshUser('Root User', 'ec2-user')).message).toMatch(/^--ssh-user: .*ec2-user/);
    expect(validateName('prod-1')).toBe('prod-1');
    expect(usage(() => validateName('Prod')).message).toMatch(/^--name: /);
    expect(usage(() => validateName('-x')).message).toMatch(/^--name: /);
    expect(validateTimeoutMinutes('30')).toBe(30);
    expect(usage(() => validateTimeoutMinutes('0')).message).toMatch(/^--timeout: /);
  });
});
