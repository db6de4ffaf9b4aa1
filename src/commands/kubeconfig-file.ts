// The kubeconfig files of `kubeconfig`: what is taken from k3s's own admin kubeconfig on the
// instance (the cluster CA and the admin credentials), the file written for the tunnel, and the
// merge into the user's kubeconfig. Plain functions on text and paths, tested on their own.
//
// YAML with the `yaml` package: k3s writes its kubeconfig as block YAML and users' kubeconfigs are
// whatever kubectl and other tools wrote, comments included; a parser that keeps a document's
// comments and layout lets --merge change our own three entries and leave everything else as it was.
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument, stringify, type Document } from 'yaml';
import { ExitCode, LaunchError } from '../core/errors.js';
import { writeFileAtomic } from '../state/json-file.js';

/** Where k3s writes the cluster's admin kubeconfig (readable by root only). */
export const K3S_KUBECONFIG_PATH = '/etc/rancher/k3s/k3s.yaml';
/** The port the k3s API server listens on, on the instance (never opened to the network). */
export const K3S_API_PORT = 6443;

/** What the written kubeconfig needs from the cluster's own. */
export interface ClusterCredentials {
  /** Base64 PEM of the CA that signed the API server's certificate. */
  certificateAuthorityData: string;
  /** The admin user's `user:` entry as k3s wrote it (client certificate and key, or a token). */
  user: Record<string, unknown>;
}

/** The CA and the admin user from k3s.yaml's current context (else its first cluster and user). */
export function parseK3sKubeconfig(text: string): ClusterCredentials {
  const unusable = (why: string) =>
    new LaunchError('k3s-kubeconfig-unusable', ExitCode.failed, `${K3S_KUBECONFIG_PATH} on the instance cannot be used: ${why}`, {
      remediation: 'k3s rewrites it when it starts: check that k3s is running (`sudo systemctl status k3s` over ssh) and try again.',
    });
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw unusable(`it is not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  const config = doc.toJS() as unknown;
  if (!isObject(config)) throw unusable('it is not a kubeconfig');
  const named = (key: string, name: unknown) => {
    const list = Array.isArray(config[key]) ? (config[key] as unknown[]).filter(isObject) : [];
    return list.find((e) => name !== undefined && e.name === name) ?? list[0];
  };
  const contexts = Array.isArray(config.contexts) ? (config.contexts as unknown[]).filter(isObject) : [];
  const context = contexts.find((c) => c.name === config['current-context']) ?? contexts[0];
  const ref = isObject(context?.context) ? context.context : {};
  const cluster = named('clusters', ref.cluster)?.cluster;
  const user = named('users', ref.user)?.user;
  const ca = isObject(cluster) ? cluster['certificate-authority-data'] : undefined;
  if (typeof ca !== 'string' || ca === '') throw unusable('it has no certificate-authority-data, so the API server\'s certificate could not be verified');
  if (!isObject(user) || Object.keys(user).length === 0) throw unusable('it has no user credentials');
  return { certificateAuthorityData: ca, user };
}

export interface KubeconfigEntries {
  /** The cluster, user and context name: `sourcegraph-<deployment>`. */
  name: string;
  /** `https://127.0.0.1:<port>`: the tunnel's end on this machine. */
  server: string;
  credentials: ClusterCredentials;
}

function entriesOf(e: KubeconfigEntries) {
  return {
    // Never insecure-skip-tls-verify: k3s's serving certificate names 127.0.0.1 and localhost,
    // so the tunnel's loopback address verifies against the cluster's own CA.
    cluster: { name: e.name, cluster: { server: e.server, 'certificate-authority-data': e.credentials.certificateAuthorityData } },
    user: { name: e.name, user: e.credentials.user },
    context: { name: e.name, context: { cluster: e.name, user: e.name } },
  };
}

/** A whole kubeconfig holding only the deployment's cluster, user and context (the current one). */
export function kubeconfigText(e: KubeconfigEntries): string {
  const { cluster, user, context } = entriesOf(e);
  return stringify({ apiVersion: 'v1', kind: 'Config', clusters: [cluster], users: [user], contexts: [context], 'current-context': e.name, preferences: {} });
}

/**
 * `existing` (a user's kubeconfig, or undefined when there is none) with our cluster, user and
 * context added, or replacing the entries of the same name; every other entry, setting and comment
 * is kept. The current context is set only when the file has none.
 */
export function mergeKubeconfig(existing: string | undefined, e: KubeconfigEntries, path: string): string {
  const doc: Document = parseDocument(existing ?? '');
  if (doc.errors.length > 0) {
    throw new LaunchError('kubeconfig-unreadable', ExitCode.failed, `Cannot merge into ${path}: it is not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`, {
      remediation: 'Fix the file, or leave out --merge and use the file this command writes (or --output FILE).',
    });
  }
  if (doc.contents === null || doc.contents === undefined) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) {
    throw new LaunchError('kubeconfig-unreadable', ExitCode.failed, `Cannot merge into ${path}: it is not a kubeconfig (its top level is not a mapping)`, {
      remediation: 'Fix the file, or leave out --merge and use the file this command writes (or --output FILE).',
    });
  }
  const { cluster, user, context } = entriesOf(e);
  for (const [key, entry] of [['clusters', cluster], ['users', user], ['contexts', context]] as const) {
    const list = doc.get(key);
    if (!isSeq(list)) {
      doc.set(key, doc.createNode([entry]));
      continue;
    }
    const ours = (item: unknown) => isMap(item) && item.get('name') === e.name;
    const at = list.items.findIndex(ours);
    const node = doc.createNode(entry);
    if (at < 0) {
      list.items.push(node);
      continue;
    }
    // In place of the first of ours, so a re-run does not move it around in the user's file; any
    // duplicate of it goes (kubectl would use the first anyway).
    list.items = list.items.flatMap((item, i) => (i === at ? [node] : ours(item) ? [] : [item]));
  }
  if (!doc.has('apiVersion')) doc.set('apiVersion', 'v1');
  if (!doc.has('kind')) doc.set('kind', 'Config');
  const current = doc.get('current-context');
  if (typeof current !== 'string' || current === '') doc.set('current-context', e.name);
  return doc.toString();
}

/** The kubeconfig kubectl uses by default: $KUBECONFIG's first file, else ~/.kube/config. */
export function userKubeconfigPath(env: NodeJS.ProcessEnv, home: string): string {
  const first = (env.KUBECONFIG ?? '')
    .split(process.platform === 'win32' ? ';' : ':')
    .find((p) => p !== '');
  return first ? resolve(first) : join(home, '.kube', 'config');
}

/** The file's text, or undefined when it does not exist. */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LaunchError('kubeconfig-unreadable', ExitCode.failed, `Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Replaces `path` with `text`, mode 0600 whatever the old file's mode was (it holds the cluster's
 * admin key): written to a new file beside it and renamed over it, so kubectl (or a crash) sees
 * the old file or the new one, never half of one. A symlink is followed: its target is replaced.
 */
export function writePrivateFile(path: string, text: string): string {
  let real = resolve(path);
  try {
    if (lstatSync(real).isSymbolicLink()) real = realpathSync(real);
  } catch {
    // Does not exist yet: written where it was asked for.
  }
  try {
    writeFileAtomic(real, text, 0o600);
  } catch (e) {
    throw new LaunchError('kubeconfig-write-failed', ExitCode.failed, `Cannot write ${path}: ${(e as Error).message}`, {
      cause: e,
      remediation: 'Choose another file with --output FILE.',
    });
  }
  return real;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
