// `status [name]` and `list`: reconcile with the cloud (found by labels, no local state needed),
// then ask the instance itself which version it serves. The JSON keeps the field names users'
// scripts know (instanceType, dataVolumes, addresses[].allocationId, securityGroups, keyPairs);
// the human text uses the cloud's own words for its things.
import type { ListFlags, StatusFlags } from '../cli/commands/status.js';
import type { Deployment } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider, validateCloud } from '../cloud/providers.js';
import { ExitCode, LaunchError, MissingInputError } from '../core/errors.js';
import { validateRegion } from '../core/validate.js';
import { readPinRecord } from '../remote/known-hosts.js';
import { describeDataDiskUsage } from '../core/data-disk-usage.js';
import { dataDisksOf, formatAge, instanceAddress, managedHealth, probeHealth, type ManagedHealth } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { readStatusDataDisk } from './status-data-disk.js';
import { agentLines, describeAgents, type AgentsStatus } from './status-nodes.js';
import { regionFromEnv, resolveTarget, scopeOf, type TargetFlags } from './target.js';

export interface DeploymentStatus {
  name: string;
  /** The provider id ("aws"). */
  cloud: string;
  region: string;
  /** running, stopped, …; "missing" when resources exist but the instance is gone; "not-found" when nothing exists. */
  state: string;
  instanceId?: string;
  /** The machine type, under the name the JSON has always used. */
  instanceType?: string;
  machineType?: string;
  imageId?: string;
  size?: string;
  versionTag?: string;
  /** What /healthz reported, when probed. */
  servingVersion?: string;
  /** The SSH host key this machine pinned for the instance, and how it was trusted. */
  hostKey?: { fingerprint: string; trusted: 'console' | 'first-use' | 'unknown' };
  healthz?: { status?: number; error?: string };
  /**
   * The version to show: what /healthz serves ("healthz"), else the deployment's version label
   * ("tag": not probed, or /healthz did not report one).
   */
  version?: string;
  versionSource?: 'healthz' | 'tag';
  /**
   * healthy: /healthz answered 200 with a version; unhealthy: it answered something else;
   * unreachable: no answer; not-probed: --no-probe; not-running: no running instance to ask.
   */
  health: 'healthy' | 'unhealthy' | 'unreachable' | 'not-probed' | 'not-running';
  url?: string;
  /** HTTPS on the user's domain, as `tls` recorded it on this machine (the certificate's expiry included). */
  https?: {
    url: string;
    domain: string;
    certificateNotAfter: string;
    certificateDaysLeft: number;
    /** GET <url>/healthz with the certificate verified (not with --no-probe): the HTTP status, or why there was no verified answer. */
    probe?: { status?: number; error?: string };
  };
  /** HTTPS through the cloud's certificate and load balancer (tls --tls managed): the certificate's state read from the cloud. */
  managedHttps?: { url: string; domain: string; certificateStatus: string; certificateNotAfter?: string; renewal?: string; loadBalancer?: string; installed: boolean; probe?: { status?: number; error?: string } };
  publicIp?: string;
  /** The data disks (never a root disk). */
  dataVolumes: { id: string; sizeGiB: number; type: string; state: string; attachedTo?: string }[];
  /** Static addresses: `id`/`ip` are the neutral names of `allocationId`/`publicIp`. */
  addresses: { allocationId: string; publicIp: string; id: string; ip: string; managed: boolean }[];
  /** The access policies' ids. */
  securityGroups: string[];
  /** The SSH keys' names. */
  keyPairs: string[];
  otherInstances: { id: string; state: string }[];
  notes: string[];
  /** The pre-upgrade instance an upgrade left stopped. */
  rollbackPoint?: { instanceId: string; version?: string; strategy?: string; snapshotId?: string };
  /** The newest backup snapshot and its age. */
  lastBackup?: { snapshotId: string; startTime?: string; age: string };
  /** A data disk made from a snapshot (an upgrade or restore) that is still loading its blocks. */
  dataVolumeInitialization?: { volumeId: string; state: string; progressPercent?: number; etaSeconds?: number };
  /**
   * /mnt/data's usage as the boot service last recorded it (read over SSH, not with --no-probe;
   * `measuredAt` is when it was written); null when it could not be read, `dataDiskUnknown` says why.
   */
  dataDisk?: { usedBytes: number; sizeBytes: number; percent: number; filesystem?: string; measuredAt?: string } | null;
  dataDiskUnknown?: string;
  /** The k3s agent VMs (scale) and the cluster's nodes, when there are agents. */
  agents?: AgentsStatus['agents'];
  nodes?: AgentsStatus['nodes'];
}

export async function describeDeployment(
  deps: Deps,
  provider: ProviderDescriptor,
  d: Deployment,
  opts: { probe: boolean; localInstanceId?: string; health?: ManagedHealth },
): Promise<DeploymentStatus> {
  const inst = d.instance;
  const disk = provider.terms.disk;
  const dataVolumes = dataDisksOf(d).map((v) => ({ id: v.id, sizeGiB: v.sizeGiB, type: v.type, state: v.state, attachedTo: v.attachedTo }));
  const notes: string[] = [];
  let state = inst?.state ?? 'not-found';
  const leftovers = d.accessPolicies.length + d.sshKeys.length + d.addresses.length + d.disks.length;
  if (!inst && (leftovers || opts.localInstanceId)) {
    state = 'missing';
    notes.push(
      opts.localInstanceId
        ? `The instance ${opts.localInstanceId} recorded locally no longer exists (terminated or deleted outside sourcegraph-launch).`
        : 'No instance exists for this deployment, but some of its resources do.',
    );
  }
  const kept = dataVolumes.filter((v) => !v.attachedTo);
  if (kept.length) notes.push(`Detached data ${disk}(s) kept: ${kept.map((v) => v.id).join(', ')}.`);
  const publicIp = inst?.publicIp;
  const status: DeploymentStatus = {
    name: d.name,
    cloud: provider.id,
    region: d.scope.region,
    state,
    instanceId: inst?.id,
    instanceType: inst?.machineType,
    machineType: inst?.machineType,
    imageId: inst?.imageId,
    size: d.size,
    versionTag: d.version,
    url: publicIp ? `http://${publicIp}` : undefined,
    publicIp,
    dataVolumes,
    addresses: d.addresses.map((a) => ({ allocationId: a.id, publicIp: a.ip, id: a.id, ip: a.ip, managed: a.managed })),
    securityGroups: d.accessPolicies.map((g) => g.id),
    keyPairs: d.sshKeys.map((k) => k.name),
    otherInstances: d.otherInstances.map((i) => ({ id: i.id, state: i.state })),
    notes,
    health: inst?.state !== 'running' ? 'not-running' : opts.probe ? 'unreachable' : 'not-probed',
  };
  const point = d.otherInstances.find((i) => i.labels.role === 'rollback-point');
  if (point) {
    status.rollbackPoint = {
      instanceId: point.id,
      version: point.labels['source-version'],
      strategy: point.labels.strategy,
      snapshotId: point.labels['rollback-snapshot'],
    };
  }
  // Behind tls --tls managed's load balancer the address answers only the balancer: the site's
  // https://<domain>/healthz (certificate verified) says what serves.
  if (opts.probe && (publicIp || opts.health) && inst?.state === 'running') {
    const h = await probeHealth(deps, publicIp, opts.health);
    status.healthz = { status: h.status, error: h.error };
    status.servingVersion = h.version;
    status.health = h.version ? 'healthy' : h.status ? 'unhealthy' : 'unreachable';
    if (h.version && d.version && h.version !== d.version) notes.push(`Serving ${h.version}, but the deployment is tagged ${d.version}.`);
  } else if (opts.probe && inst?.state === 'running') {
    status.healthz = { error: 'no public address to ask' };
  }
  if (status.servingVersion) {
    status.version = status.servingVersion;
    status.versionSource = 'healthz';
  } else if (d.version) {
    status.version = d.version;
    status.versionSource = 'tag';
  }
  return status;
}

/** The VERSION column of `list`: a version that does not come from /healthz is marked as the tag. */
export function versionCell(s: Pick<DeploymentStatus, 'version' | 'versionSource'>): string {
  if (!s.version) return '-';
  return s.versionSource === 'healthz' ? s.version : `${s.version} (tag)`;
}

/** The HEALTH column of `list`. */
export function healthCell(s: Pick<DeploymentStatus, 'health' | 'healthz'>): string {
  switch (s.health) {
    case 'healthy':
      return 'healthy';
    case 'unhealthy':
      return `HTTP ${s.healthz?.status ?? '?'}`;
    case 'unreachable':
      return 'unreachable';
    case 'not-probed':
      return 'not probed';
    default:
      return '-';
  }
}

function render(deps: Deps, provider: ProviderDescriptor, s: DeploymentStatus): void {
  const { io } = deps;
  const { terms } = provider;
  const trust = (t: 'console' | 'first-use' | 'unknown') => (t === 'console' ? 'checked against the console' : t === 'first-use' ? 'trusted on first use: the console listed none' : 'pinned');
  const lines: [string, string | undefined][] = [
    ['state', s.state],
    ['instance', s.instanceId && `${s.instanceId} (${s.machineType})`],
    ['size', s.size],
    ['image', s.imageId],
    ['version', s.versionTag && `${s.versionTag} (tag)`],
    [
      'serving',
      s.servingVersion ? s.servingVersion : s.healthz ? (s.healthz.status ? `HTTP ${s.healthz.status} on /healthz` : `unreachable (${s.healthz.error})`) : undefined,
    ],
    ['URL', s.url],
    ['HTTPS', s.https && `${s.https.url}${s.https.probe ? (s.https.probe.status ? ` (HTTP ${s.https.probe.status} on /healthz, certificate verified)` : ' (no verified answer)') : ''}`],
    ['certificate', s.https && `${s.https.certificateDaysLeft < 0 ? 'EXPIRED on' : 'valid until'} ${s.https.certificateNotAfter}${s.https.certificateDaysLeft < 0 ? '' : ` (${s.https.certificateDaysLeft} days)`}`],
    ['HTTPS via LB', s.managedHttps && `${s.managedHttps.url}${s.managedHttps.loadBalancer ? ` via ${s.managedHttps.loadBalancer}` : ''}${s.managedHttps.installed ? '' : ' (not finished)'}${s.managedHttps.probe ? (s.managedHttps.probe.status ? ` (HTTP ${s.managedHttps.probe.status} on /healthz, certificate verified)` : ' (no verified answer)') : ''}`],
    ['LB certificate', s.managedHttps && `${s.managedHttps.certificateStatus}${s.managedHttps.certificateNotAfter ? `, valid until ${s.managedHttps.certificateNotAfter}` : ''}${s.managedHttps.renewal ? `, renewal: ${s.managedHttps.renewal}` : ''}`],
    [`data ${terms.disk}`, s.dataVolumes.map((v) => `${v.id} ${v.sizeGiB} GiB ${v.type} ${v.attachedTo ? `attached to ${v.attachedTo}` : v.state}`).join('; ') || undefined],
    ['address', s.addresses.map((a) => `${a.ip} (${a.id})`).join(', ') || undefined],
    [terms.accessPolicy, s.securityGroups.join(', ') || undefined],
    [terms.sshKey, s.keyPairs.join(', ') || undefined],
    ['SSH host key', s.hostKey && `${s.hostKey.fingerprint} (${trust(s.hostKey.trusted)})`],
    ['other instances', s.otherInstances.map((i) => `${i.id} ${i.state}`).join(', ') || undefined],
    ['rollback point', s.rollbackPoint && `${s.rollbackPoint.instanceId} (${s.rollbackPoint.version ?? '?'}, ${s.rollbackPoint.strategy ?? '?'})`],
    ['last backup', s.lastBackup && `${s.lastBackup.snapshotId}, ${s.lastBackup.age} ago`],
    ['data disk usage', s.dataDisk ? describeDataDiskUsage({ usedBytes: s.dataDisk.usedBytes, sizeBytes: s.dataDisk.sizeBytes, usedPercent: s.dataDisk.percent, ...(s.dataDisk.filesystem ? { filesystem: s.dataDisk.filesystem } : {}) }, '').line + (s.dataDisk.measuredAt ? ` (recorded ${s.dataDisk.measuredAt})` : '') : s.dataDiskUnknown && `unknown (${s.dataDiskUnknown})`],
    ...(s.agents ? agentLines({ agents: s.agents, ...(s.nodes ? { nodes: s.nodes } : {}) }) : []),
  ];
  // 15 columns, as always ("other instances" fills them); another cloud's longer words widen it.
  const width = Math.max(15, ...lines.map(([k]) => k.length));
  io.info(`${s.name} (${s.cloud} ${s.region})`);
  for (const [k, v] of lines) if (v) io.info(`  ${k.padEnd(width)} ${v}`);
  for (const n of s.notes) io.warn(n);
}

export async function runStatus(deps: Deps, nameArg: string | undefined, flags: StatusFlags & TargetFlags): Promise<DeploymentStatus> {
  const target = resolveTarget(deps, nameArg, flags);
  const { provider } = target;
  const cloud = await deps.connect(provider, target.scope);
  const found = await cloud.findDeployment(target.name);
  const local = deps.state.getDeployment(target.cloud, target.region, target.name);
  const health = managedHealth(local);
  const status = await describeDeployment(deps, provider, found, { probe: flags.probe !== false, localInstanceId: local?.instanceId, ...(health ? { health } : {}) });
  const backups = await cloud.listSnapshots(target.name).catch(() => []);
  const newest = backups.find((b) => ['backup', 'scheduled'].includes(b.labels.purpose ?? ''));
  if (newest) status.lastBackup = { snapshotId: newest.id, startTime: newest.startTime, age: formatAge(newest.startTime, deps.clock.now()) };
  // Reads are slow until a snapshot-made disk has loaded every block: say so while it lasts.
  const cloned = found.disks.find((v) => v.labels.role === 'data-volume' && v.sourceSnapshotId && v.attachedTo === status.instanceId);
  if (cloned) {
    const init = await cloud.diskInitialization(cloned.id).catch(() => undefined);
    if (init && init.state === 'initializing') {
      status.dataVolumeInitialization = { volumeId: cloned.id, state: init.state, progressPercent: init.progressPercent, etaSeconds: init.etaSeconds };
      status.notes.push(
        `Data ${provider.terms.disk} ${cloned.id} is still loading its blocks from the snapshot${init.progressPercent !== undefined ? ` (${init.progressPercent}%)` : ''}: reads are slower until it completes.`,
      );
    }
  }
  if (status.instanceId) {
    const pin = await readPinRecord(deps.state.knownHostsPath, status.instanceId).catch(() => undefined);
    if (pin) {
      status.hostKey = { fingerprint: pin.fingerprint, trusted: pin.source ?? 'unknown' };
      if (pin.source === 'first-use') status.notes.push(`The SSH host key of ${status.instanceId} was trusted on first use: its console listed no fingerprints to check it against.`);
    }
  }
  if (local?.tls && status.state !== 'not-found') {
    const daysLeft = Math.floor((Date.parse(local.tls.notAfter) - deps.clock.now()) / 86_400_000);
    status.https = { url: local.tls.url, domain: local.tls.domain, certificateNotAfter: local.tls.notAfter, certificateDaysLeft: daysLeft };
    if (flags.probe !== false && status.instanceId && status.health !== 'not-running') {
      try {
        const res = await deps.httpGet(`${local.tls.url}/healthz`, { timeoutMs: 5000, signal: deps.signal, verifyCertificate: true });
        status.https.probe = { status: res.status };
        // Let's Encrypt (tls --tls acme): Traefik renews on the instance, so the served expiry is the one that counts.
        if (local.tls.acme && res.certificate?.notAfter) {
          status.https.certificateNotAfter = res.certificate.notAfter;
          status.https.certificateDaysLeft = Math.floor((Date.parse(res.certificate.notAfter) - deps.clock.now()) / 86_400_000);
        }
      } catch (e) {
        const reason = (e as { reason?: string }).reason ?? (e as Error).message;
        status.https.probe = { error: reason };
        status.notes.push(`${local.tls.url} gave no answer with a verified certificate: ${reason}.`);
      }
    }
    const left = status.https.certificateDaysLeft;
    if (local.tls.acme && left < 30) {
      // Traefik renews 30 days before expiry: this close means renewals fail.
      status.notes.push(`The Let's Encrypt certificate of ${local.tls.domain} ${left < 0 ? 'has expired' : `expires in ${left} days`} (${status.https.certificateNotAfter}) and Traefik has not renewed it: check that ${local.tls.domain} resolves to the deployment and ${local.tls.acme.challenge === 'dns-01' ? `that the instance still has its role for the DNS-01 challenge (\`${deps.program} tls ${target.name} --domain ${local.tls.domain} --tls acme --acme-email ${local.tls.acme.email} --acme-challenge dns-01 --yes\` puts it back)` : `that port 80 is open to the world (\`${deps.program} tls ${target.name} --domain ${local.tls.domain} --tls acme --acme-email ${local.tls.acme.email} --i-know-port-80-is-public\` opens it again)`}, and Traefik's log (\`${deps.program} ssh ${target.name} -- sudo kubectl -n kube-system logs deploy/traefik\`).`);
    } else if (daysLeft < 30) {
      status.notes.push(`The certificate of ${local.tls.domain} ${daysLeft < 0 ? 'has expired' : `expires in ${daysLeft} days`} (${local.tls.notAfter}): renew it and run \`${deps.program} tls ${target.name} --domain ${local.tls.domain} --tls-cert … --tls-key …\` with the new files.`);
    }
  }
  if (local?.tlsManaged && status.state !== 'not-found') {
    const m = await (await import('./tls-managed.js')).managedTlsStatus(cloud, local.tlsManaged);
    status.managedHttps = { ...m, installed: Boolean(local.tlsManaged.installedAt) };
    // The instance's own 80/443 answer only the load balancer now: the site is probed through it, verified.
    if (flags.probe !== false && local.tlsManaged.installedAt) {
      try {
        const res = await deps.httpGet(`${m.url}/healthz`, { timeoutMs: 5000, signal: deps.signal, verifyCertificate: true });
        status.managedHttps.probe = { status: res.status };
      } catch (e) {
        const reason = (e as { reason?: string }).reason ?? (e as Error).message;
        status.managedHttps.probe = { error: reason };
        status.notes.push(`${m.url} gave no answer with a verified certificate: ${reason}.`);
      }
    }
    if (!local.tlsManaged.installedAt) status.notes.push(`HTTPS through the load balancer for ${m.domain} is not finished (certificate ${m.certificateStatus}): run \`${deps.program} tls ${target.name} --domain ${m.domain} --tls managed${local.tlsManaged.journal.command === 'tls-gateway' ? ' --tls-cert <file> --tls-key <file>' : ''}\` again to go on.`);
  }
  // Over SSH, so only when probing is allowed and there is a running instance to ask.
  if (flags.probe !== false && found.instance?.state === 'running') {
    const read = await readStatusDataDisk(deps, cloud, target, found, found.instance, instanceAddress(found, found.instance), local);
    if ('usage' in read) {
      const u = read.usage;
      status.dataDisk = { usedBytes: u.usedBytes, sizeBytes: u.sizeBytes, percent: u.usedPercent, ...(u.filesystem ? { filesystem: u.filesystem } : {}), ...(read.measuredAt ? { measuredAt: read.measuredAt } : {}) };
      const where = `${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${target.region}`;
      const { warning } = describeDataDiskUsage(u, `${deps.program} disk grow ${target.name}${where} --size <GiB>`);
      if (warning) status.notes.push(warning);
    } else {
      status.dataDisk = null;
      status.dataDiskUnknown = read.unknown;
    }
  }
  const agents = await describeAgents(deps, cloud, target, found, local, flags.probe !== false);
  if (agents) {
    status.agents = agents.agents;
    if (agents.nodes) status.nodes = agents.nodes;
    if (agents.note) status.notes.push(agents.note);
  }
  if (local) {
    deps.state.putDeployment({ ...local, instanceId: status.instanceId ?? local.instanceId, url: status.url ?? local.url });
  }
  if (status.state === 'not-found') {
    const cloudArg = provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`;
    throw new LaunchError('deployment-not-found', ExitCode.failed, `No deployment named ${target.name} in ${provider.id} ${target.region}`, {
      remediation: `\`${deps.program} list --region ${target.region}${cloudArg}\` shows the deployments there.`,
    });
  }
  if (deps.io.json) deps.io.result(status);
  else render(deps, provider, status);
  return status;
}

export async function runList(deps: Deps, flags: ListFlags & Pick<TargetFlags, 'cloud' | 'region'>): Promise<DeploymentStatus[]> {
  const provider = flags.cloud ? validateCloud(flags.cloud) : defaultProvider();
  const records = deps.state.listDeployments().filter((r) => r.cloud === provider.id);
  const regionFlag = flags.region ?? regionFromEnv(deps, provider)?.region;
  const regions = regionFlag ? [validateRegion(regionFlag, provider.regions)] : [...new Set(records.map((r) => r.region))];
  if (!regions.length) {
    throw new MissingInputError('--region', 'to list deployments (no local records to take regions from)');
  }
  const out: DeploymentStatus[] = [];
  for (const region of regions) {
    const scope = scopeOf(deps, provider, validateRegion(region, provider.regions), flags.providerFlags);
    const cloud = await deps.connect(provider, scope);
    const found = await cloud.listDeployments();
    const names = new Set(found.map((d) => d.name));
    for (const d of found) {
      const health = managedHealth(records.find((r) => r.region === region && r.name === d.name));
      out.push(await describeDeployment(deps, provider, d, { probe: flags.probe !== false, ...(health ? { health } : {}) }));
    }
    // Recorded here but nothing left in the cloud: listed as missing, so the record is not forgotten silently.
    for (const r of records.filter((r) => r.region === region && !names.has(r.name))) {
      const nothing: Deployment = { name: r.name, scope, otherInstances: [], accessPolicies: [], sshKeys: [], addresses: [], disks: [] };
      out.push(await describeDeployment(deps, provider, nothing, { probe: false, localInstanceId: r.instanceId ?? 'unknown' }));
    }
  }
  if (deps.io.json) deps.io.result({ deployments: out });
  else if (!out.length) deps.io.info(`No deployments in ${regions.join(', ')}.`);
  else {
    const rows = out.map((s) => [s.name, s.region, s.state, versionCell(s), healthCell(s), s.size ?? '-', s.url ?? '-']);
    const head = ['NAME', 'REGION', 'STATE', 'VERSION', 'HEALTH', 'SIZE', 'URL'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) deps.io.info(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  }
  return out;
}
