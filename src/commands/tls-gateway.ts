// `tls [name] --domain D --tls managed --tls-cert FILE --tls-key FILE` on a cloud whose load balancer
// has no free certificate of its own but takes the user's (Azure: an Application Gateway Standard_v2).
// The files are checked first, as `tls` checks them (exit 2, nothing created). The steps run
// through the engine's runner with their journal kept in this machine's deployment record
// (tlsManaged.journal, command "tls-gateway"): a re-run after an interruption or a timeout restores
// the finished steps and goes on, and every step finds what it makes by name before it creates it.
// What the steps recorded (and what is found by name) is what `tls --remove` and `destroy` delete.
// No SSH: the gateway reaches the instance inside its network.
import { randomBytes } from 'node:crypto';
import type { Cloud, GatewayHttps, ManagedHttpsCost, ReplacedAccess } from '../cloud/port.js';
import { ExitCode, InterruptedError, LaunchError, UsageError, isLaunchError } from '../core/errors.js';
import { isAbortError } from '../engine/clock.js';
import { newJournal, runWorkflow, type Step } from '../engine/runner.js';
import type { DeploymentRecord, Journal } from '../state/store.js';
import { confirmOrYes } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import type { Target } from './target.js';
import type { CertificateInfo } from './tls-cert.js';
import { checkTlsInput, type TlsFlags } from './tls.js';

/** The journal's command: what tells a gateway's record from a load balancer's with a cloud certificate. */
export const GATEWAY_JOURNAL = 'tls-gateway';
const DNS_TTL = 300;

type ManagedRecord = NonNullable<DeploymentRecord['tlsManaged']>;

export interface GatewayTlsResult {
  name: string;
  domain: string;
  url: string;
  state: 'served';
  /** Your certificate, as checked on this machine and uploaded to the gateway. */
  certificate: { source: 'your files'; dnsNames: string[]; issuer: string; notAfter: string; daysLeft: number; fingerprint256: string };
  gateway: { id: string; publicIp: string; subnet: { id: string; prefix: string; created: boolean } };
  /** The DNS record of the domain: set in the zone, or to create. */
  dnsRecord: { name: string; type: 'A'; value: string; setInZone?: string };
  /** The instance's 80/443 rules that now allow only the gateway's subnet. */
  replacedAccess?: ReplacedAccess;
  monthlyCost: ManagedHttpsCost;
  externalURL: { value: string; setByTool: false; instructions: string };
}

interface Ctx {
  gateway: GatewayHttps;
  cloud: Cloud;
  name: string;
  domain: string;
  instanceId: string;
  backendIp: string;
  certPem: string;
  keyPem: string;
  timeoutMs: number;
  zone?: { id: string; name: string };
  subnet?: { id: string; prefix: string; created: boolean };
  address?: { id: string; ip: string };
  access?: ReplacedAccess;
  gatewayId?: string;
}

/** The checks made before anything is asked of the cloud's resources (exit 2 each). */
export function checkGatewayInput(deps: Pick<Deps, 'clock'>, flags: TlsFlags): { certPem: string; keyPem: string; certificate: CertificateInfo } {
  if (flags.keyVaultSecretId !== undefined) {
    throw new UsageError('--key-vault-secret-id is not offered yet: the gateway takes your certificate files', {
      code: 'not-supported',
      remediation: 'Give the certificate and its key: `--tls-cert fullchain.pem --tls-key privkey.pem` (a Key Vault certificate can be exported with `az keyvault secret download --encoding base64`, then converted with openssl).',
    });
  }
  if (!flags.tlsCert || !flags.tlsKey) {
    throw new UsageError(`${flags.tlsCert ? '--tls-key' : '--tls-cert'} is required with --tls managed on this cloud: its load balancer (an Application Gateway) has no free certificate of its own and serves yours`, {
      code: 'missing-input',
      remediation: 'Give the certificate (PEM, leaf first, then its chain) and its private key: `--tls-cert fullchain.pem --tls-key privkey.pem`.',
    });
  }
  const { tls: _way, ...plain } = flags;
  const { certPem, keyPem, certificate } = checkTlsInput(deps, plain);
  return { certPem, keyPem, certificate };
}

export async function installGatewayTls(deps: Deps, target: Target, cloud: Cloud, gateway: GatewayHttps, flags: TlsFlags, domain: string, timeoutMin: number): Promise<GatewayTlsResult> {
  const { io } = deps;
  const { name } = target;
  const input = checkGatewayInput(deps, flags);
  const { certificate } = input;
  await cloud.whoAmI();
  const deployment = await cloud.findDeployment(name);
  const instance = deployment.instance;
  if (!instance) throw new LaunchError('deployment-not-found', ExitCode.failed, `No deployment named ${name} with a serving instance in ${target.cloud} ${target.region}`, { remediation: `\`${deps.program} list --region ${target.region}\` shows the deployments there.` });
  if (!instance.privateIp) throw new LaunchError('no-private-address', ExitCode.failed, `The instance ${instance.id} has no private address for the gateway to reach`, { remediation: 'See `status`.' });

  const unlock = deps.state.lock(target.cloud, target.region, name);
  try {
    const record = deps.state.getDeployment(target.cloud, target.region, name);
    if (record?.tls) throw new UsageError(`${name} already serves ${record.tls.url} with your own certificate on the instance`, { code: 'bad-input', remediation: `Remove it first: \`${deps.program} tls ${name} --remove\`.` });
    const earlier = record?.tlsManaged;
    if (earlier && earlier.domain !== domain) {
      throw new UsageError(`${name} already has a gateway for ${earlier.domain}`, { code: 'bad-input', remediation: `Remove it first: \`${deps.program} tls ${name} --remove\`, then run this again.` });
    }
    for (const w of certificate.warnings) io.warn(w);
    const cost = gateway.monthlyCost();
    let zone = earlier?.zone;
    if (!earlier && flags.dns !== false) {
      const found = await cloud.findDnsZone(domain).catch((e: unknown) => {
        if (!isLaunchError(e) || e.exitCode !== ExitCode.credentials) throw e;
        io.warn(`Could not look for a DNS zone of ${domain} in this subscription (${e.message}); the record to create is printed instead.`);
        return undefined;
      });
      if (found) zone = found;
    }
    const journal: Journal = earlier?.journal ?? newJournal(GATEWAY_JOURNAL, randomBytes(6).toString('hex'), new Date(deps.clock.now()));
    if (!earlier) {
      const { formatManagedCost } = await import('./tls-managed.js');
      io.info(`tls --tls managed ${name} will create, for https://${domain} with your certificate (${certificate.dnsNames.join(', ')}, valid until ${certificate.notAfter}):`);
      io.info('  the gateway\'s own subnet in the instance\'s virtual network (only when none is there: an application gateway needs a dedicated one)');
      io.info('  a Standard static public IP for the gateway');
      io.info('  an Application Gateway (Standard_v2, autoscaling 0–2) with your certificate, HTTPS on 443 (TLS 1.2/1.3) and 80 redirecting to 443, forwarding to the instance\'s private address (HTTP on 80 inside the network), health-checked on /healthz');
      io.info('  the instance\'s 80/443 then open only to the gateway\'s subnet (the rules it replaces are kept, and `tls --remove` restores them)');
      io.info(`  ${zone ? `the record ${domain} A <the gateway's address> in the zone ${zone.name}` : `no record for ${domain}: the A record to create is printed`}`);
      for (const line of formatManagedCost(cost)) io.info(line);
      await confirmOrYes(deps, flags, `Create the application gateway for ${domain} (≈ $${cost.totalUsd?.toFixed(2) ?? '?'}/month)?`, `create an application gateway for ${domain}`);
    } else {
      io.info(`Resuming tls --tls managed for ${domain} (started ${journal.startedAt}); checking what exists first.`);
    }
    const state: ManagedRecord = { domain, url: `https://${domain}`, ...(zone ? { zone } : {}), journal, ...(earlier?.installedAt ? { installedAt: earlier.installedAt } : {}) };
    const save = (j: Journal) => {
      const latest = deps.state.getDeployment(target.cloud, target.region, name);
      const now = new Date(deps.clock.now()).toISOString();
      deps.state.putDeployment({ ...(latest ?? { name, cloud: target.cloud, region: target.region, createdAt: now }), updatedAt: now, tlsManaged: { ...state, journal: j } });
    };
    save(journal);

    const ctx: Ctx = { gateway, cloud, name, domain, instanceId: instance.id, backendIp: instance.privateIp, certPem: input.certPem, keyPem: input.keyPem, timeoutMs: timeoutMin * 60_000, ...(zone ? { zone } : {}) };
    try {
      await runWorkflow(gatewaySteps(certificate, ctx), ctx, { journal, save: () => save(journal), io, clock: deps.clock, signal: deps.signal, ...(deps.afterStep ? { afterStep: deps.afterStep } : {}) });
    } catch (e) {
      if (isAbortError(e)) throw new InterruptedError('Interrupted: the steps done so far are kept', { remediation: `Run the same command again to go on, or \`${deps.program} tls ${name} --remove\` to undo them.` });
      throw e;
    }
    state.installedAt ??= new Date(deps.clock.now()).toISOString();
    save(journal);
    const url = `https://${domain}`;
    const result: GatewayTlsResult = {
      name,
      domain,
      url,
      state: 'served',
      certificate: { source: 'your files', dnsNames: certificate.dnsNames, issuer: certificate.issuer, notAfter: certificate.notAfter, daysLeft: certificate.daysLeft, fingerprint256: certificate.fingerprint256 },
      gateway: { id: ctx.gatewayId!, publicIp: ctx.address!.ip, subnet: ctx.subnet! },
      dnsRecord: { name: domain, type: 'A', value: ctx.address!.ip, ...(ctx.zone ? { setInZone: ctx.zone.name } : {}) },
      ...(ctx.access?.rules.length ? { replacedAccess: ctx.access } : {}),
      monthlyCost: cost,
      externalURL: {
        value: url,
        setByTool: false,
        instructions: `In Sourcegraph, as a site admin: Site admin > Site configuration, set "externalURL": "${url}" and save (it lives in Sourcegraph's database, not in the Helm values).`,
      },
    };
    if (!ctx.zone) io.info(`DNS: create this record in your domain's zone:\n  ${domain}.  A  ${ctx.address!.ip}`);
    io.success(`${name} serves https://${domain} through the application gateway with your certificate (valid until ${certificate.notAfter}: renew it and run this again with the new files after \`tls --remove\`); http://${domain} redirects to it.`);
    io.info(`Next: ${result.externalURL.instructions}`);
    return result;
  } finally {
    unlock();
  }
}

function gatewaySteps(certificate: CertificateInfo, ctx: Ctx): Step<Ctx>[] {
  return [
    {
      id: 'subnet',
      title: 'The gateway\'s own subnet in the instance\'s network',
      run: async (c) => {
        c.subnet = await c.gateway.ensureSubnet(c.name, c.instanceId);
        return { summary: `${c.subnet.id} (${c.subnet.prefix}${c.subnet.created ? ', ours' : ', there already'})`, result: { subnetId: c.subnet.id, subnetPrefix: c.subnet.prefix, createdSubnet: String(c.subnet.created) } };
      },
      restore: (c, r) => void (c.subnet = { id: r.subnetId ?? '', prefix: r.subnetPrefix ?? '', created: r.createdSubnet === 'true' }),
    },
    {
      id: 'address',
      title: 'The gateway\'s public IP',
      run: async (c) => {
        c.address = await c.gateway.ensureAddress(c.name);
        return { summary: c.address.ip, result: { addressId: c.address.id, ip: c.address.ip } };
      },
      restore: (c, r) => void (c.address = { id: r.addressId ?? '', ip: r.ip ?? '' }),
    },
    {
      id: 'access-read',
      title: 'The instance\'s 80/443 rules as they are',
      run: async (c) => {
        c.access = await c.gateway.readInstanceAccess(c.instanceId);
        return { summary: c.access.rules.map((r) => `${r.port} from ${r.cidr}`).join(', ') || 'none', result: { access: JSON.stringify(c.access) } };
      },
      restore: (c, r) => void (r.access && (c.access = JSON.parse(r.access) as ReplacedAccess)),
    },
    {
      id: 'gateway',
      title: `The application gateway with your certificate for ${ctx.domain}`,
      run: async (c) => {
        const gw = await c.gateway.ensureGateway({ deployment: c.name, domain: c.domain, subnetId: c.subnet!.id, addressId: c.address!.id, backendIp: c.backendIp, certificate: { certPem: c.certPem, keyPem: c.keyPem } }, c.timeoutMs);
        c.gatewayId = gw.id;
        return { summary: gw.id, result: { gatewayId: gw.id, notAfter: certificate.notAfter, fingerprint256: certificate.fingerprint256 } };
      },
      restore: (c, r) => void (c.gatewayId = r.gatewayId),
    },
    {
      id: 'instance-access',
      title: 'The instance\'s 80/443 open only to the gateway\'s subnet',
      run: async (c) => {
        await c.gateway.limitInstanceAccess(c.access!, c.subnet!.prefix);
        return { summary: c.access!.rules.length ? `${[...new Set(c.access!.rules.map((r) => r.port))].join(', ')} from ${c.subnet!.prefix} only` : 'no rule to replace' };
      },
    },
    {
      id: 'dns',
      title: `The DNS record of ${ctx.domain}`,
      run: async (c) => {
        if (!c.zone) return { summary: 'printed' };
        await c.cloud.upsertARecord(c.zone.id, c.domain, c.address!.ip, DNS_TTL);
        return { summary: `${c.domain} A ${c.address!.ip} in the zone ${c.zone.name}`, result: { zoneId: c.zone.id, ip: c.address!.ip } };
      },
    },
  ];
}

export interface GatewayTlsRemoval {
  domain: string;
  deleted: string[];
  left: string[];
  restoredAccess?: ReplacedAccess;
}

/**
 * Deletes what the journal says was created, and what is found by name: the A record (only while it
 * points at the gateway), the instance's rules back, the gateway, its public IP, and its subnet when
 * it was created for it. `instanceGone`: destroy deleted the instance's NSG already.
 */
export async function removeGatewayTls(deps: Pick<Deps, 'io'>, cloud: Cloud, deployment: string, rec: ManagedRecord, opts: { instanceGone?: boolean } = {}): Promise<GatewayTlsRemoval> {
  const gateway = cloud.gatewayHttps;
  if (!gateway) throw new LaunchError('not-supported', ExitCode.failed, `This cloud offers no application gateway, yet ${rec.domain} was set up through one`, { remediation: 'A bug: report it.' });
  const r = (id: string) => rec.journal.steps[id]?.result ?? {};
  const deleted: string[] = [];
  const left: string[] = [];
  const found = await gateway.findResources(deployment);
  const ip = r('address').ip ?? found.addressIp;
  const dns = r('dns');
  if (dns.zoneId && ip) {
    const outcome = await cloud.deleteARecord(dns.zoneId, rec.domain, ip);
    if (outcome === 'not-ours') left.push(`the record ${rec.domain} (it no longer points at the gateway)`);
    else if (outcome === 'deleted') deleted.push(`the record ${rec.domain} A ${ip}`);
  }
  let restoredAccess: ReplacedAccess | undefined;
  const access = r('access-read').access;
  if (access && !opts.instanceGone) {
    restoredAccess = JSON.parse(access) as ReplacedAccess;
    await gateway.restoreInstanceAccess(restoredAccess);
    if (restoredAccess.rules.length) deleted.push(`the instance's "80/443 from the gateway only" rules (its ${restoredAccess.rules.map((x) => `${x.port} from ${x.cidr}`).join(', ')} restored)`);
  }
  const gatewayId = r('gateway').gatewayId ?? found.gatewayId;
  if (gatewayId) {
    await gateway.deleteGateway(gatewayId);
    deleted.push(`the application gateway ${gatewayId}`);
  }
  const addressId = r('address').addressId ?? found.addressId;
  if (addressId) {
    await gateway.deleteAddress(addressId);
    deleted.push(`its public IP ${ip ?? addressId}`);
  }
  const subnet = r('subnet');
  const subnetId = subnet.createdSubnet === 'true' ? subnet.subnetId : subnet.subnetId ? undefined : found.subnetId;
  if (subnetId) {
    await gateway.deleteSubnet(subnetId);
    deleted.push(`the subnet ${subnetId} created for it`);
  }
  for (const d of deleted) deps.io.success(`Deleted ${d}.`);
  for (const l of left) deps.io.warn(`Left ${l}.`);
  return { domain: rec.domain, deleted, left, ...(restoredAccess ? { restoredAccess } : {}) };
}

/** What `status` shows: the URL, the gateway's address, your certificate's expiry as checked when uploaded. */
export function gatewayTlsStatus(rec: ManagedRecord): { url: string; domain: string; certificateNotAfter?: string; certificateStatus: string; loadBalancer?: string } {
  const g = rec.journal.steps.gateway?.result;
  const ip = rec.journal.steps.address?.result?.ip;
  return {
    url: rec.url,
    domain: rec.domain,
    certificateStatus: g?.gatewayId ? 'your certificate, on the gateway' : 'not uploaded yet',
    ...(g?.notAfter ? { certificateNotAfter: g.notAfter } : {}),
    ...(ip ? { loadBalancer: `application gateway ${ip}` } : {}),
  };
}
