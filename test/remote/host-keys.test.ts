import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  fingerprintOfKey,
  fingerprintOfPublicKeyLine,
  parseConsoleHostKeyFingerprints,
  sameFingerprint,
} from '../../src/remote/host-keys.js';
import { generateEd25519KeyPair, isWholeEd25519PublicKey } from '../../src/remote/ssh2-remote.js';

const run = promisify(execFile);

const ECDSA = 'SHA256:3mP2rV0Q1bXq9sKkX8ZlUu0F0w6m3n5YgkJ3m5c0p1E';
const ED25519 = 'SHA256:Yl9pT1dYQm0xV3JkZ0h2bVpLc0ZxT2V5dU5pQ2JxWjE';
const RSA = 'SHA256:q7zV4nI8Jb2x0L5uEo9r3KcW1yT6hGmS0aPdXfNvBjU';

const amazonLinux2023 = `[    0.000000] Linux version 6.1.119-129.201.amzn2023.x86_64 (mockbuild@ip-10-0-59-143) (gcc (GCC) 11.4.1 20230605)
[    9.102344] cloud-init[1591]: Cloud-init v. 22.2.2 running 'init' at Mon, 05 Jan 2026 10:00:04 +0000. Up 9.05 seconds.
[    9.615871] cloud-init[1591]: Generating public/private ed25519 key pair.
[    9.616012] cloud-init[1591]: The key fingerprint is:
[    9.616050] cloud-init[1591]: SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK root@ip-10-0-0-1.ec2.internal
[   11.240332] cloud-init[1680]: #############################################################
[   11.240332] cloud-init[1680]: -----BEGIN SSH HOST KEY FINGERPRINTS-----
[   11.240332] cloud-init[1680]: 256 ${ECDSA} root@ip-10-0-0-1.ec2.internal (ECDSA)
[   11.240332] cloud-init[1680]: 256 ${ED25519} root@ip-10-0-0-1.ec2.internal (ED25519)
[   11.240332] cloud-init[1680]: -----END SSH HOST KEY FINGERPRINTS-----
[   11.240332] cloud-init[1680]: #############################################################
-----BEGIN SSH HOST KEY KEYS-----
ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHk= root@ip-10-0-0-1.ec2.internal
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk= root@ip-10-0-0-1.ec2.internal
-----END SSH HOST KEY KEYS-----
[   11.241107] cloud-init[1680]: Cloud-init v. 22.2.2 finished at Mon, 05 Jan 2026 10:00:06 +0000. Datasource DataSourceEc2.  Up 11.22 seconds
`;

const amazonLinux2 = `ec2: 
ec2: #############################################################
ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
ec2: 256 ${ECDSA} no comment (ECDSA)
ec2: 256 ${ED25519} no comment (ED25519)
ec2: 2048 ${RSA} no comment (RSA)
ec2: -----END SSH HOST KEY FINGERPRINTS-----
ec2: #############################################################
`;

const ubuntu = [
  "[   14.312455] cloud-init[612]: Cloud-init v. 24.4.1-0ubuntu0~24.04.1 running 'modules:final' at Mon, 05 Jan 2026 10:00:07 +0000.",
  '<14>Jan  5 10:00:12 cloud-init: #############################################################',
  '<14>Jan  5 10:00:12 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
  `<14>Jan  5 10:00:12 cloud-init: 256 ${ECDSA} root@ip-172-31-1-2 (ECDSA)`,
  '[   19.100001] random: crng init done',
  `<14>Jan  5 10:00:12 cloud-init: 256 ${ED25519} root@ip-172-31-1-2 (ED25519)`,
  `<14>Jan  5 10:00:12 cloud-init: 3072 ${RSA} root@ip-172-31-1-2 (RSA)`,
  '<14>Jan  5 10:00:12 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----',
  '<14>Jan  5 10:00:12 cloud-init: #############################################################',
  '',
].join('\r\n');

describe('parseConsoleHostKeyFingerprints', () => {
  it('reads the block of an Amazon Linux 2023 console and ignores the key-generation chatter outside it', () => {
    expect(parseConsoleHostKeyFingerprints(amazonLinux2023)).toEqual([ECDSA, ED25519]);
  });

  it('reads the "ec2:"-prefixed block of Amazon Linux 2', () => {
    expect(parseConsoleHostKeyFingerprints(amazonLinux2)).toEqual([ECDSA, ED25519, RSA]);
  });

  it('reads a syslog-prefixed Ubuntu block with CRLF line ends and a kernel message inside', () => {
    expect(parseConsoleHostKeyFingerprints(ubuntu)).toEqual([ECDSA, ED25519, RSA]);
  });

  it('lists each fingerprint once when the block was printed on two boots', () => {
    expect(parseConsoleHostKeyFingerprints(amazonLinux2 + amazonLinux2)).toEqual([ECDSA, ED25519, RSA]);
  });

  it('ignores a block cut off by console truncation, which could list only some keys', () => {
    const truncated = amazonLinux2.slice(0, amazonLinux2.indexOf('(ED25519)'));
    expect(parseConsoleHostKeyFingerprints(truncated)).toEqual([]);
    const truncatedLater = amazonLinux2023 + amazonLinux2.slice(0, amazonLinux2.indexOf('-----END'));
    expect(parseConsoleHostKeyFingerprints(truncatedLater)).toEqual([ECDSA, ED25519]);
  });

  it('skips a fingerprint line that lost characters, and MD5 fingerprints', () => {
    const text = [
      '-----BEGIN SSH HOST KEY FINGERPRINTS-----',
      `256 ${ED25519.slice(0, -3)} root@h (ED25519)`,
      '2048 1f:2e:3d:4c:5b:6a:79:88:97:a6:b5:c4:d3:e2:f1:00 root@h (RSA)',
      `256 ${ECDSA} root@h (ECDSA)`,
      '-----END SSH HOST KEY FINGERPRINTS-----',
    ].join('\n');
    expect(parseConsoleHostKeyFingerprints(text)).toEqual([ECDSA]);
  });

  it('finds nothing in a console without the block', () => {
    expect(parseConsoleHostKeyFingerprints('')).toEqual([]);
    expect(parseConsoleHostKeyFingerprints('[    0.000000] Linux version 6.1\nlogin: ')).toEqual([]);
  });
});

describe('fingerprints of real keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'host-keys-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function sshKeygenFingerprint(publicKeyPath: string): Promise<string> {
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath]);
    const fingerprint = stdout.split(/\s+/)[1];
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    return fingerprint as string;
  }

  it.each(['ed25519', 'ecdsa', 'rsa'])('fingerprintOfKey of a %s key equals `ssh-keygen -lf`', async (type) => {
    const path = join(dir, `key_${type}`);
    await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
    const publicKeyLine = (await readFile(`${path}.pub`, 'utf8')).trim();
    const blob = Buffer.from(publicKeyLine.split(' ')[1] as string, 'base64');
    const expected = await sshKeygenFingerprint(`${path}.pub`);
    expect(fingerprintOfKey(blob)).toBe(expected);
    expect(fingerprintOfPublicKeyLine(publicKeyLine)).toBe(expected);
  });

  it('generateEd25519KeyPair makes a key pair OpenSSH accepts, with the comment', async () => {
    const pair = await generateEd25519KeyPair('sourcegraph-launch test');
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ sourcegraph-launch test$/);
    expect(pair.privateKey).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    const privatePath = join(dir, 'generated');
    await writeFile(privatePath, pair.privateKey, { mode: 0o600 });
    // ssh-keygen -y derives the public key from the private one: proves the private key parses and matches.
    const { stdout } = await run('ssh-keygen', ['-y', '-f', privatePath]);
    expect(stdout.trim().split(' ').slice(0, 2)).toEqual(pair.publicKey.split(' ').slice(0, 2));
    await writeFile(`${privatePath}.pub`, `${pair.publicKey}\n`);
    expect(fingerprintOfPublicKeyLine(pair.publicKey)).toBe(await sshKeygenFingerprint(`${privatePath}.pub`));
  });

  it('never hands out a key with a cut public key (ssh2 drops a leading zero byte in ~1% of keys)', async () => {
    const keys = await Promise.all(Array.from({ length: 600 }, () => generateEd25519KeyPair('k')));
    const bad = keys.filter((k) => !isWholeEd25519PublicKey(k.publicKey));
    expect(bad.map((k) => k.publicKey)).toEqual([]);
    // The check itself: the 31-byte key EC2 refused in a test run.
    expect(isWholeEd25519PublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH4RXnvTntFA09Sut7pIfOEO9B/MQKcwx8a6ZQM0z9GM= x')).toBe(false);
    expect(keys.every((k) => Buffer.from(k.publicKey.split(' ')[1]!, 'base64').length === 51)).toBe(true);
  });

  it('two generated key pairs differ', async () => {
    const [a, b] = await Promise.all([generateEd25519KeyPair('a'), generateEd25519KeyPair('a')]);
    expect(a.publicKey).not.toBe(b.publicKey);
  });
});

describe('sameFingerprint', () => {
  it('tolerates a missing prefix and padding but not a different digest', () => {
    expect(sameFingerprint(ED25519, ED25519.replace('SHA256:', ''))).toBe(true);
    expect(sameFingerprint(ED25519, `${ED25519}=`)).toBe(true);
    expect(sameFingerprint(ED25519, ECDSA)).toBe(false);
  });
});
