// `scale --agents N`: what to add and remove, the k3s node names of agents, the scripts run over
// SSH on the server and on an agent, and how the node list reads. Pure: the workflow runs them.
//
// The agent token: the server's k3s is given an *agent* token (k3s `agent-token-file`), kept on the
// data volume next to the cluster token, so agents never hold the server token (which a volume from
// a published image keeps as "none") and the token moves with the data. It is created once, 0600,
// on the server itself; the launcher reads it over SSH into memory only to write it, 0600, into the
// agent's k3s config over SSH. It is never a label, user data, a journal value or a log line.
import { UsageError } from './errors.js';
import { SIZE_NAMES, type SizeName } from './presets.js';

/** Where the agent token lives on the server (the data volume). */
export const AGENT_TOKEN_FILE = '/mnt/data/.sourcegraph-launch/agent-token';
/** The k3s drop-in on the server that gives k3s the agent token. */
export const SERVER_AGENT_TOKEN_DROPIN = '/etc/rancher/k3s/config.yaml.d/50-sourcegraph-launch-agents.yaml';
/** The node label every agent carries (and the server carries as `server`): what Helm values select on. */
export const ROLE_NODE_LABEL = 'sourcegraph-launch/role';
/** The k3s node name of the server of every deployment (provision/install-k3s.sh). */
export const SERVER_NODE_NAME = 'sourcegraph-0';
/** The most agents one deployment takes (a guard against a typo such as --agents 100). */
export const MAX_AGENTS = 20;

export function parseAgentCount(value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--agents: "${value ?? ''}" must be a whole number (0 removes every agent)`);
  if (n > MAX_AGENTS) throw new UsageError(`--agents ${n}: at most ${MAX_AGENTS} agents per deployment`, { code: 'too-many-agents' });
  return n;
}

export function parseAgentSize(value: string | undefined): SizeName | undefined {
  if (value === undefined) return undefined;
  const size = value.toUpperCase();
  if (!(SIZE_NAMES as readonly string[]).includes(size)) throw new UsageError(`--agent-size: "${value}" is not one of ${SIZE_NAMES.join(', ')}`);
  return size as SizeName;
}

export interface AgentInfo {
  id: string;
  launchTime?: string;
  machineType: string;
}

export interface ScalePlan {
  /** The number of agents asked for. */
  target: number;
  /** Agents that stay, oldest first. */
  keep: string[];
  /** How many new agents to launch. */
  add: number;
  /** Agents to drain and delete, newest first (the oldest have run longest and stay). */
  remove: string[];
}

export function planScale(agents: readonly AgentInfo[], target: number): ScalePlan {
  const oldestFirst = [...agents].sort((a, b) => (a.launchTime ?? '').localeCompare(b.launchTime ?? '') || a.id.localeCompare(b.id));
  const keep = oldestFirst.slice(0, target).map((a) => a.id);
  const remove = oldestFirst.slice(target).map((a) => a.id).reverse();
  return { target, keep, add: Math.max(0, target - agents.length), remove };
}

/** The k3s node name of an agent: derived from its instance id, so the tool finds the node of a VM. */
/** FNV-1a, 32 bits, as 8 hex digits: a short stable tag of a text (core stays free of node:crypto). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function agentNodeName(instanceId: string): string {
  const clean = (text: string) => text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const whole = `agent-${clean(instanceId)}`;
  if (whole.length <= 63) return whole;
  // A long id (an ARM path: /subscriptions/<s>/resourceGroups/…/virtualMachines/<name>) cut at 63
  // would give every agent of a subscription the same name: its last segment and a hash of the whole.
  const hash = fnv1a(instanceId);
  const last = clean(instanceId.split('/').filter(Boolean).pop() ?? '');
  return `agent-${last.slice(0, 63 - 6 - 9).replace(/-+$/, '')}-${hash}`.replace(/^agent--/, 'agent-');
}

/**
 * Cloud-init user data of an agent (a boothook runs first, at every boot): the machine is one of
 * our images, which would otherwise boot as a server. It never starts the appliance's own k3s
 * server or boot unit. Carries no secret (the token arrives over SSH).
 */
export function agentUserData(deployment: string): string {
  return [
    '#cloud-boothook',
    '#!/bin/sh',
    `# sourcegraph-launch: a k3s agent of deployment ${deployment.replace(/[^A-Za-z0-9_.-]/g, '')}; never the appliance's own server.`,
    'mkdir -p /etc/sourcegraph-launch && echo agent > /etc/sourcegraph-launch/node-role',
    // --no-block: a boothook runs inside cloud-init's own unit; never wait on the boot's job queue from there.
    'systemctl mask --now --no-block sourcegraph-boot.service k3s.service >/dev/null 2>&1 || true',
    '',
  ].join('\n');
}

/**
 * Run as root on the server: creates the agent token once (0600), gives k3s the drop-in that names
 * it (restarting k3s only when the drop-in changed). Prints `token-created` / `k3s-restarted`
 * (never the token). The server node's label is the boot service's (provision/boot.sh, every boot).
 */
export function serverAgentTokenScript(): string {
  return [
    'set -eu',
    'umask 077',
    `f=${AGENT_TOKEN_FILE}`,
    `dropin=${SERVER_AGENT_TOKEN_DROPIN}`,
    '[ -d /mnt/data ] || { echo "the data disk is not mounted on /mnt/data" >&2; exit 3; }',
    'mkdir -p "$(dirname "$f")"',
    'if [ ! -s "$f" ]; then',
    '  head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n" > "$f.tmp"',
    '  chmod 600 "$f.tmp" && mv "$f.tmp" "$f"',
    '  echo token-created',
    'fi',
    'chmod 600 "$f"',
    `want="agent-token-file: ${AGENT_TOKEN_FILE}"`,
    'mkdir -p "$(dirname "$dropin")"',
    'if [ "$(cat "$dropin" 2>/dev/null || true)" != "$want" ]; then',
    '  printf "%s\\n" "$want" > "$dropin.tmp" && chmod 600 "$dropin.tmp" && mv "$dropin.tmp" "$dropin"',
    '  systemctl restart k3s',
    '  echo k3s-restarted',
    'fi',
    '',
  ].join('\n');
}

/** Run as root on the server: prints the agent token (read into memory only). */
export function readAgentTokenScript(): string {
  return `set -eu\ncat ${AGENT_TOKEN_FILE}\n`;
}

/**
 * Run as root on an agent: its k3s config (0600: it holds the token) and a k3s-agent unit, then
 * starts it. Safe to run again (a re-run rewrites the same files and restarts the agent).
 */
export function agentJoinScript(o: { serverIp: string; token: string; nodeName: string; deployment: string }): string {
  if (!/^[0-9a-f.:]+$/i.test(o.serverIp)) throw new UsageError(`not a private address: ${o.serverIp}`);
  if (!/^[A-Za-z0-9:._-]+$/.test(o.token)) throw new UsageError('the agent token on the server has unexpected characters; recreate it (see README: scale)', { code: 'agent-token-invalid' });
  return [
    'set -eu',
    'umask 077',
    'bin="$(command -v k3s || echo /usr/local/bin/k3s)"',
    'mkdir -p /etc/rancher/k3s',
    "cat > /etc/rancher/k3s/config.yaml.tmp <<'SGL_EOF'",
    `# Managed by sourcegraph-launch (scale): a k3s agent of deployment ${o.deployment}.`,
    `server: https://${o.serverIp}:6443`,
    `token: ${o.token}`,
    `node-name: ${o.nodeName}`,
    'node-label:',
    `  - ${ROLE_NODE_LABEL}=agent`,
    'SGL_EOF',
    'chmod 600 /etc/rancher/k3s/config.yaml.tmp && mv /etc/rancher/k3s/config.yaml.tmp /etc/rancher/k3s/config.yaml',
    'mkdir -p /etc/systemd/system',
    'cat > /etc/systemd/system/k3s-agent.service <<SGL_EOF',
    '# Managed by sourcegraph-launch (scale).',
    '[Unit]',
    'Description=k3s agent of a Sourcegraph deployment',
    'Wants=network-online.target',
    'After=network-online.target',
    '[Install]',
    'WantedBy=multi-user.target',
    '[Service]',
    'Type=notify',
    'KillMode=process',
    'Delegate=yes',
    'LimitNOFILE=1048576',
    'Restart=always',
    'RestartSec=5s',
    'ExecStart=$bin agent',
    'SGL_EOF',
    'systemctl daemon-reload',
    'systemctl enable k3s-agent >/dev/null 2>&1 || true',
    'systemctl restart k3s-agent',
    '',
  ].join('\n');
}

/** Run as root on the server: cordon, drain with a deadline, then delete the node. */
export function drainScript(nodeName: string, timeoutSeconds: number): string {
  return [
    'set -eu',
    `if ! k3s kubectl get node ${nodeName} >/dev/null 2>&1; then echo node-absent; exit 0; fi`,
    `k3s kubectl cordon ${nodeName}`,
    `k3s kubectl drain ${nodeName} --ignore-daemonsets --delete-emptydir-data --timeout=${Math.max(1, Math.round(timeoutSeconds))}s`,
    `k3s kubectl delete node ${nodeName} --ignore-not-found`,
    'echo drained',
    '',
  ].join('\n');
}

export interface NodeStatus {
  name: string;
  ready: boolean;
  version?: string;
  role?: string;
}

/** `kubectl get nodes -o json` → each node's readiness, kubelet version and our role label. */
export function parseNodes(json: string): NodeStatus[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return [];
  }
  const items = (doc as { items?: unknown[] })?.items;
  if (!Array.isArray(items)) return [];
  const out: NodeStatus[] = [];
  for (const item of items as { metadata?: { name?: string; labels?: Record<string, string> }; status?: { conditions?: { type?: string; status?: string }[]; nodeInfo?: { kubeletVersion?: string } } }[]) {
    const name = item.metadata?.name;
    if (!name) continue;
    const node: NodeStatus = { name, ready: Boolean(item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) };
    const version = item.status?.nodeInfo?.kubeletVersion;
    if (version) node.version = version;
    const role = item.metadata?.labels?.[ROLE_NODE_LABEL];
    node.role = role ?? (name === SERVER_NODE_NAME ? 'server' : undefined);
    if (node.role === undefined) delete node.role;
    out.push(node);
  }
  return out;
}
