// The kubeconfig files: what is taken from k3s.yaml, the file written for the tunnel, the merge into
// a user's kubeconfig, and writing them 0600 on real files in a temp directory.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubeconfigText, mergeKubeconfig, parseK3sKubeconfig, userKubeconfigPath, writePrivateFile, type KubeconfigEntries } from '../../src/commands/kubeconfig-file.js';
import { LaunchError } from '../../src/core/errors.js';

const K3S_YAML = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
`;

const entries = (port = 6443): KubeconfigEntries => ({
  name: 'sourcegraph-prod',
  server: `https://127.0.0.1:${port}`,
  credentials: { certificateAuthorityData: 'Q0EtREFUQQ==', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } },
});

const USER_CONFIG = `# written by hand
apiVersion: v1
kind: Config
clusters:
  - name: work # the office cluster
    cluster:
      server: https://k8s.example.com
  - name: sourcegraph-prod
    cluster:
      server: https://127.0.0.1:1111
      insecure-skip-tls-verify: true
contexts:
  - name: work
    context: { cluster: work, user: me }
  - name: sourcegraph-prod
    context: { cluster: sourcegraph-prod, user: sourcegraph-prod }
users:
  - name: me
    user: { token: abc }
  - name: sourcegraph-prod
    user: { token: stale }
current-context: work
preferences: {}
`;

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as LaunchError;
  }
  throw new Error('did not throw');
};

describe('reading k3s.yaml', () => {
  it('takes the CA and the admin user of the current context', () => {
    expect(parseK3sKubeconfig(K3S_YAML)).toEqual({ certificateAuthorityData: 'Q0EtREFUQQ==', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } });
  });

  it('refuses a file without a CA (the server could not be verified), without a user, or not YAML', () => {
    const noCa = errorOf(() => parseK3sKubeconfig(K3S_YAML.replace('    certificate-authority-data: Q0EtREFUQQ==\n', '    insecure-skip-tls-verify: true\n')));
    expect(noCa).toMatchObject({ code: 'k3s-kubeconfig-unusable', exitCode: 1 });
    expect(noCa.message).toMatch(/no certificate-authority-data/);
    expect(errorOf(() => parseK3sKubeconfig(K3S_YAML.replace(/users:[\s\S]*$/, 'users: []\n'))).message).toMatch(/no user credentials/);
    expect(errorOf(() => parseK3sKubeconfig('clusters: [\n')).message).toMatch(/not valid YAML/);
    expect(errorOf(() => parseK3sKubeconfig('just text')).message).toMatch(/not a kubeconfig/);
  });
});

describe('the kubeconfig written for the tunnel', () => {
  it('names cluster, user and context after the deployment, points at the tunnel, carries the CA and never skips verification', () => {
    const k = parse(kubeconfigText(entries(16443))) as Record<string, any>;
    expect(k).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sourcegraph-prod', cluster: { server: 'https://127.0.0.1:16443', 'certificate-authority-data': 'Q0EtREFUQQ==' } }],
      users: [{ name: 'sourcegraph-prod', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
      contexts: [{ name: 'sourcegraph-prod', context: { cluster: 'sourcegraph-prod', user: 'sourcegraph-prod' } }],
      'current-context': 'sourcegraph-prod',
      preferences: {},
    });
  });
});

describe('--merge', () => {
  it('replaces our own entries in place and keeps every other entry, setting and comment', () => {
    const text = mergeKubeconfig(USER_CONFIG, entries(), '/x');
    expect(text).toContain('# written by hand');
    expect(text).toContain('# the office cluster');
    const k = parse(text) as Record<string, any>;
    expect(k.clusters).toEqual([
      { name: 'work', cluster: { server: 'https://k8s.example.com' } },
      { name: 'sourcegraph-prod', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'Q0EtREFUQQ==' } },
    ]);
    expect(k.users).toEqual([{ name: 'me', user: { token: 'abc' } }, { name: 'sourcegraph-prod', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }]);
    expect(k.contexts.map((c: { name: string }) => c.name)).toEqual(['work', 'sourcegraph-prod']);
    expect(k['current-context']).toBe('work');
    expect(k.preferences).toEqual({});
  });

  it('adds ours to a file without them, and merging twice changes nothing more', () => {
    const other = USER_CONFIG.replace(/  - name: sourcegraph-prod\n(    .*\n)+/g, '');
    expect(parse(other).clusters).toHaveLength(1);
    const once = mergeKubeconfig(other, entries(), '/x');
    const k = parse(once) as Record<string, any>;
    expect(k.clusters.map((c: { name: string }) => c.name)).toEqual(['work', 'sourcegraph-prod']);
    expect(k.users.map((c: { name: string }) => c.name)).toEqual(['me', 'sourcegraph-prod']);
    expect(mergeKubeconfig(once, entries(), '/x')).toBe(once);
  });

  it('drops duplicates of our entries (kubectl would use the first) and keeps the others\' order', () => {
    const dup = USER_CONFIG.replace('current-context: work', 'current-context: work').replace(
      'users:\n',
      'users:\n  - name: sourcegraph-prod\n    user: { token: older }\n',
    );
    const k = parse(mergeKubeconfig(dup, entries(), '/x')) as Record<string, any>;
    expect(k.users).toEqual([{ name: 'sourcegraph-prod', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }, { name: 'me', user: { token: 'abc' } }]);
  });

  it('starts a new file (or an empty one, or one with empty lists) with ours as the current context', () => {
    for (const existing of [undefined, '', 'apiVersion: v1\nkind: Config\nclusters:\ncontexts: null\nusers: []\ncurrent-context: ""\n']) {
      const k = parse(mergeKubeconfig(existing, entries(), '/x')) as Record<string, any>;
      expect(k.clusters.map((c: { name: string }) => c.name), String(existing)).toEqual(['sourcegraph-prod']);
      expect(k.contexts.map((c: { name: string }) => c.name)).toEqual(['sourcegraph-prod']);
      expect(k.users.map((c: { name: string }) => c.name)).toEqual(['sourcegraph-prod']);
      expect(k['current-context']).toBe('sourcegraph-prod');
      expect(k).toMatchObject({ apiVersion: 'v1', kind: 'Config' });
    }
  });

  it('refuses a file that is not YAML or not a mapping, naming it (exit 1)', () => {
    expect(errorOf(() => mergeKubeconfig('clusters: [', entries(), '/home/me/.kube/config'))).toMatchObject({ code: 'kubeconfig-unreadable', exitCode: 1 });
    expect(errorOf(() => mergeKubeconfig('- a\n- b\n', entries(), '/home/me/.kube/config')).message).toMatch(/\/home\/me\/\.kube\/config: it is not a kubeconfig/);
  });

  it('goes into $KUBECONFIG\'s first file, else ~/.kube/config', () => {
    expect(userKubeconfigPath({ KUBECONFIG: '/a/one:/b/two' }, '/home/me')).toBe('/a/one');
    expect(userKubeconfigPath({ KUBECONFIG: '::/b/two' }, '/home/me')).toBe('/b/two');
    expect(userKubeconfigPath({ KUBECONFIG: '' }, '/home/me')).toBe('/home/me/.kube/config');
    expect(userKubeconfigPath({}, '/home/me')).toBe('/home/me/.kube/config');
  });
});

describe('writing the files', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'sgl-kubeconfig-'));
  const modeOf = (p: string) => statSync(p).mode & 0o777;

  it('writes 0600, making the directory, and replaces a wider-mode file with a 0600 one; no temporary file is left', () => {
    const d = dir();
    const fresh = join(d, 'new', 'deeper', 'kc.yaml');
    expect(writePrivateFile(fresh, 'a: 1\n')).toBe(fresh);
    expect(modeOf(fresh)).toBe(0o600);
    expect(readFileSync(fresh, 'utf8')).toBe('a: 1\n');
    const wide = join(d, 'wide.yaml');
    writeFileSync(wide, 'old\n');
    chmodSync(wide, 0o644);
    writePrivateFile(wide, 'b: 2\n');
    expect(modeOf(wide)).toBe(0o600);
    expect(readFileSync(wide, 'utf8')).toBe('b: 2\n');
    expect(readdirSync(d).sort()).toEqual(['new', 'wide.yaml']);
  });

  it('follows a symlink (a dotfiles checkout) and replaces its target, keeping the link', () => {
    const d = dir();
    mkdirSync(join(d, 'dotfiles'));
    writeFileSync(join(d, 'dotfiles', 'config'), 'old\n', { mode: 0o644 });
    symlinkSync(join(d, 'dotfiles', 'config'), join(d, 'config'));
    expect(writePrivateFile(join(d, 'config'), 'new\n')).toBe(join(d, 'dotfiles', 'config'));
    expect(readFileSync(join(d, 'config'), 'utf8')).toBe('new\n');
    expect(modeOf(join(d, 'dotfiles', 'config'))).toBe(0o600);
  });

  it('says which file it could not write (exit 1)', () => {
    const d = dir();
    writeFileSync(join(d, 'file'), '');
    expect(errorOf(() => writePrivateFile(join(d, 'file', 'kc.yaml'), 'x'))).toMatchObject({ code: 'kubeconfig-write-failed', exitCode: 1 });
  });
});
