// `tls [name] --domain D --tls managed`: HTTPS through the cloud's own certificate and load balancer
// (AWS: an ACM certificate validated through DNS, an Application Load Balancer in two zones; GCE: a
// Google-managed certificate issued once the global load balancer serves it, so there the balancer
// and the domain's record come first and the wait for the certificate last). The
// steps run through the engine's runner with their journal kept in this machine's deployment record
// (tlsManaged.journal): a re-run after an interruption or a timeout restores the finished steps and
// goes on, and every step is idempotent in the cloud as well (looked up before it creates). What the
// steps recorded is exactly what `tls --remove` and `destroy` delete (removeManagedTls).
// No SSH: the instance already serves HTTPS (its self-signed certificate) on 443, which is what the
// load balancer forwards to; the instance's 80/443 are then open only to the load balancer.
import { randomBytes } from 'node:crypto';
import type { Cloud, Instance, ManagedBalancer, ManagedCertificate, ManagedHttps, ManagedHttpsCost, ReplacedAccess } from '../cloud/port.js';
import { ExitCode, InterruptedError, LaunchError, UsageError, WaitTimeoutError, isLaunchError } from '../core/errors.js';
import { isAbortError } from '../engine/clock.js';
import { newJournal, runWorkflow, type Step } from '../engine/runner.js';
import type { DeploymentRecord, Journal } from '../state/store.js';
import { confirmOrYes, connectCloud } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { resolveTarget, type Target } from './target.js';
import { checkDomain } from './tls-cert.js';
import { GATEWAY_JOURNAL, gatewayTlsStatus, installGatewayTls, removeGatewayTls, type GatewayTlsResult } from './tls-gateway.js';
import { refuseAcmeOnlyFlags, type TlsFlags } from './tls.js';

const DEFAULT_TIMEOUT_MIN = 30;
/** ACM lists the validation record a few seconds after the request. */
const VALIDATION_RECORD_WAIT_MS = 2 * 60_000;

type ManagedRecord = NonNullable<DeploymentRecord['tlsManaged']>;

export interface ManagedTlsResult {
  name: string;
  domain: string;
  url: string;
  /** issued: served through the load balancer; pending-validation: --no-wait stopped after the validation record. */
  state: 'served' | 'pending-validation';
  certificate: { id: string; status: string; notAfter?: string; renewal?: string };
  validationRecord?: { name: string; type: 'CNAME'; value: string; setInZone?: string };
  loadBalancer?: { id: string; dnsName: string };
  /** The DNS record of the domain: set as an alias in the zone, or to create (a CNAME to the balancer). */
  dnsRecord?: { name: string; type: 'A (alias)' | 'CNAME' | 'A'; value: string; setInZone?: string };
  /** The instance's 80/443 rules that were replaced by "from the load balancer only". */
  replacedAccess?: ReplacedAccess;
  monthlyCost: ManagedHttpsCost;
  externalURL: { value: string; setByTool: false; instructions: string };
}

interface Ctx {
  managed: ManagedHttps;
  /** The install's journal id: the certificate request's idempotency key. */
  journalId: string;
  cloud: Cloud;
  name: string;
  domain: string;
  instance: Instance;
  zone?: { id: string; name: string };
  certificateId?: string;
  validation?: ManagedCertificate['validation'];
  certificate?: ManagedCertificate;
  networkIds?: string[];
  createdNetwork?: string;
  cidrs?: string[];
  policyId?: string;
  backendId?: string;
  balancer?: ManagedBalancer;
  listenerIds?: string[];
  replaced?: ReplacedAccess;
}

/** The cloud's managed HTTPS, or exit 2 naming the cloud (before anything changes; `launch --tls managed` too). */
export function managedHttpsOf(cloud: Cloud, target: Pick<Target, 'provider'>): ManagedHttps {
  if (!cloud.managedHttps) {
    throw new UsageError(`--tls managed is not offered yet on ${target.provider.id}`, {
      code: 'not-supported',
      remediation: 'Bring your own certificate: `tls --domain D --tls-cert cert.pem --tls-key key.pem`.',
    });
  }
  return cloud.managedHttps;
}

export function formatManagedCost(cost: ManagedHttpsCost): string[] {
  const lines = cost.parts.map((p) => `  ${p.item.padEnd(24)} ${p.monthlyUsd === undefined ? 'price unknown' : `$${p.monthlyUsd.toFixed(2)}/month`}  (${p.detail})`);
  lines.unshift(`It adds, at ${cost.region} list prices of ${cost.priceDate} (an estimate): ${cost.totalUsd === undefined ? 'price unknown' : `≈ $${cost.totalUsd.toFixed(2)}/month`}`);
  for (const a of cost.assumptions) lines.push(`  assumes ${a}`);
  return lines;
}

/** The checks of --tls managed's own input made before connecting (exit 2 each): `tls` and `launch` both. */
export function checkManagedInput(flags: Pick<TlsFlags, 'domain' | 'timeout' | 'acmeEmail' | 'acmeStaging' | 'iKnowPort80IsPublic' | 'acmeChallenge'>): { domain: string; timeoutMin: number } {
  refuseAcmeOnlyFlags(flags);
  const domain = checkDomain(flags.domain);
  const timeoutMin = flags.timeout === undefined ? DEFAULT_TIMEOUT_MIN : Number(flags.timeout);
  if (!Number.isFinite(timeoutMin) || timeoutMin <= 0) throw new UsageError(`--timeout ${flags.timeout}: expected minutes, a number above 0`);
  return { domain, timeoutMin };
}

/**
 * The install of `tls --tls managed` (no JSON printed), also run by `launch --domain D --tls managed`
 * once its instance runs (launch passes yes: its own question, after the plan showed the cost).
 */
export async function installManagedTls(deps: Deps, nameArg: string | undefined, flags: TlsFlags): Promise<ManagedTlsResult | GatewayTlsResult> {
  const { io } = deps;
  const { domain, timeoutMin } = checkManagedInput(flags);
  const target = resolveTarget(deps, nameArg, flags);
  const { name } = target;
  // Whether the cloud offers it is known without a call: a cloud without it exits 2 before credentials are checked.
  const cloud = await deps.connect(target.provider, target.scope);
  // A load balancer that takes the user's certificate instead (Azure Application Gateway): tls-gateway.ts.
  if (!cloud.managedHttps && cloud.gatewayHttps) return installGatewayTls(deps, target, cloud, cloud.gatewayHttps, flags, domain, timeoutMin);
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined || flags.keyVaultSecretId !== undefined) {
    throw new UsageError(`--tls managed takes no ${flags.keyVaultSecretId !== undefined ? '--key-vault-secret-id' : '--tls-cert/--tls-key'} on ${target.provider.id}: the cloud issues the certificate`, { code: 'bad-input' });
  }
  const managed = managedHttpsOf(cloud, target);
  await cloud.whoAmI();
  const deployment = await cloud.findDeployment(name);
  const instance = deployment.instance;
  if (!instance) throw new LaunchError('deployment-not-found', ExitCode.failed, `No deployment named ${name} with a serving instance in ${target.cloud} ${target.region}`, { remediation: `\`${deps.program} list --region ${target.region}\` shows the deployments there.` });

  const unlock = deps.state.lock(target.cloud, target.region, name);
  try {
    const record = deps.state.getDeployment(target.cloud, target.region, name);
    if (record?.tls) throw new UsageError(`${name} already serves ${record.tls.url} with your own certificate`, { code: 'bad-input', remediation: `Remove it first: \`${deps.program} tls ${name} --remove\`.` });
    const earlier = record?.tlsManaged;
    if (earlier && earlier.domain !== domain) {
      throw new UsageError(`${name} already has a load balancer for ${earlier.domain}`, { code: 'bad-input', remediation: `Remove it first: \`${deps.program} tls ${name} --remove\`, then run this again.` });
    }
    const cost = managed.monthlyCost();
    let zone = earlier?.zone;
    if (!earlier && flags.dns !== false) {
      const found = await cloud.findDnsZone(domain).catch((e: unknown) => {
        if (!isLaunchError(e) || e.exitCode !== ExitCode.credentials) throw e;
        io.warn(`Could not look for a DNS zone of ${domain} in this account (${e.message}); the records to create are printed instead.`);
        return undefined;
      });
      if (found) zone = found;
    }
    // The addresses 443 is open to now: what the plan says of them where the cloud's balancer cannot keep them.
    const openTo = [...new Set(deployment.accessPolicies.filter((p) => instance.accessPolicyIds.includes(p.id)).flatMap((p) => p.rules.filter((r) => r.port === 443).map((r) => r.cidr)))];
    const journal: Journal = earlier?.journal ?? newJournal('tls-managed', randomBytes(6).toString('hex'), new Date(deps.clock.now()));
    const resumed = Boolean(earlier);
    if (!resumed) {
      io.info(`tls --tls managed ${name} will create, for https://${domain}:`);
      if (managed.describePlan) {
        for (const line of managed.describePlan(domain, zone, openTo)) io.info(`  ${line}`);
      } else {
        io.info('  a certificate of the cloud for the domain, validated through a DNS record (it renews itself while that record stays)');
        io.info(`  ${zone ? `the validation record in the zone ${zone.name} (${zone.id})` : 'no DNS record: the validation record is printed for you to create'}`);
        io.info('  a load balancer in two zones (a second subnet of the instance\'s network is created only when none exists), its own access rules (443 and 80 from the addresses 443 is open to now), a backend forwarding to the instance\'s 443, HTTPS on 443 with the certificate and 80 redirecting to 443');
        io.info('  the instance\'s 80/443 then open only to the load balancer (the rules it replaces are kept, and `tls --remove` restores them)');
        io.info(`  ${zone ? `the record ${domain} as an alias of the load balancer in the zone ${zone.name}` : `no record for ${domain}: the CNAME to create is printed`}`);
      }
      for (const line of formatManagedCost(cost)) io.info(line);
      await confirmOrYes(deps, flags, `Create the load balancer for ${domain} (≈ $${cost.totalUsd?.toFixed(2) ?? '?'}/month)?`, `create a load balancer for ${domain}`);
    } else {
      io.info(`Resuming tls --tls managed for ${domain} (started ${journal.startedAt}); checking what exists first.`);
      const v = journal.steps['validation-record']?.result;
      // Printed by the run that stopped: said again while the certificate still waits for it.
      if (!zone && v?.validationName && journal.steps['certificate-issued']?.status !== 'done') {
        io.info(`DNS: the certificate is issued once this record is in your domain's zone (keep it: renewals use it too):\n  ${v.validationName}.  CNAME  ${v.validationValue}.`);
      }
      const ip = journal.steps.balancer?.result?.ip;
      if (!zone && ip && managed.validation === 'served-domain' && journal.steps['certificate-issued']?.status !== 'done') {
        io.info(`DNS: the certificate is issued once this record is in your domain's zone (keep it: renewals use it too):\n  ${domain}.  A  ${ip}`);
      }
    }
    const state: ManagedRecord = { domain, url: `https://${domain}`, ...(zone ? { zone } : {}), journal, ...(earlier?.installedAt ? { installedAt: earlier.installedAt } : {}) };
    const save = (j: Journal) => {
      const latest = deps.state.getDeployment(target.cloud, target.region, name);
      const now = new Date(deps.clock.now()).toISOString();
      deps.state.putDeployment({ ...(latest ?? { name, cloud: target.cloud, region: target.region, createdAt: now }), updatedAt: now, tlsManaged: { ...state, journal: j } });
    };
    save(journal);

    const ctx: Ctx = { managed, cloud, journalId: journal.id, name, domain, instance, ...(zone ? { zone } : {}) };
    const noWait = flags.wait === false;
    const steps = managedSteps(deps, ctx, timeoutMin * 60_000);
    try {
      if (noWait) {
        // Only as far as the validation record: the rest needs the certificate issued. Where the
        // certificate is issued once served (served-domain), everything but the wait for it.
        await runWorkflow(managed.validation === 'served-domain' ? steps.slice(0, -1) : steps.slice(0, 2), ctx, { journal, save: () => save(journal), io, clock: deps.clock, signal: deps.signal });
        delete journal.finishedAt;
        save(journal);
        const result = resultOf(ctx, cost, 'pending-validation');
        io.info(`--no-wait: the certificate is issued once the validation record resolves; run the same command again (without --no-wait) to go on.`);
        return result;
      }
      await runWorkflow(steps, ctx, { journal, save: () => save(journal), io, clock: deps.clock, signal: deps.signal, ...(deps.afterStep ? { afterStep: deps.afterStep } : {}) });
    } catch (e) {
      if (isAbortError(e)) throw new InterruptedError(`Interrupted: the steps done so far are kept`, { remediation: `Run the same command again to go on, or \`${deps.program} tls ${name} --remove\` to undo them.` });
      throw e;
    }
    state.installedAt ??= new Date(deps.clock.now()).toISOString();
    save(journal);
    const result = resultOf(ctx, cost, 'served');
    if (!ctx.zone) io.info(ctx.balancer!.ip ? `DNS: keep this record in your domain's zone (the certificate renews through it):\n  ${domain}.  A  ${ctx.balancer!.ip}` : `DNS: create this record in your domain's zone:\n  ${domain}.  CNAME  ${ctx.balancer!.dnsName}.`);
    io.success(`${name} serves https://${domain} through the load balancer, with a certificate the cloud renews itself (valid until ${ctx.certificate?.notAfter ?? 'unknown'}); http://${domain} redirects to it.`);
    io.info(`Next: ${result.externalURL.instructions}`);
    return result;
  } finally {
    unlock();
  }
}

function resultOf(ctx: Ctx, cost: ManagedHttpsCost, state: ManagedTlsResult['state']): ManagedTlsResult {
  const url = `https://${ctx.domain}`;
  const v = ctx.validation?.[0];
  return {
    name: ctx.name,
    domain: ctx.domain,
    url,
    state,
    certificate: { id: ctx.certificateId ?? '', status: ctx.certificate?.status ?? 'pending', ...(ctx.certificate?.notAfter ? { notAfter: ctx.certificate.notAfter } : {}), ...(ctx.certificate?.renewal ? { renewal: ctx.certificate.renewal } : {}) },
    ...(v ? { validationRecord: { ...v, ...(ctx.zone ? { setInZone: ctx.zone.name } : {}) } } : {}),
    ...(ctx.balancer ? { loadBalancer: { id: ctx.balancer.id, dnsName: ctx.balancer.dnsName } } : {}),
    ...(ctx.balancer ? { dnsRecord: dnsRecordOf(ctx.domain, ctx.balancer, ctx.zone) } : {}),
    ...(ctx.replaced ? { replacedAccess: ctx.replaced } : {}),
    monthlyCost: cost,
    externalURL: {
      value: url,
      setByTool: false,
      instructions: `In Sourcegraph, as a site admin: Site admin > Site configuration, set "externalURL": "${url}" and save (it lives in Sourcegraph's database, not in the Helm values).`,
    },
  };
}

const list = (s: string | undefined) => (s ? s.split(',').filter(Boolean) : []);

/** The domain's record: an A record of the balancer's address where it has one (GCE), else an alias (in the zone) or a CNAME. */
function dnsRecordOf(domain: string, balancer: ManagedBalancer, zone: Ctx['zone']): NonNullable<ManagedTlsResult['dnsRecord']> {
  if (balancer.ip) return { name: domain, type: 'A', value: balancer.ip, ...(zone ? { setInZone: zone.name } : {}) };
  return zone ? { name: domain, type: 'A (alias)', value: balancer.dnsName, setInZone: zone.name } : { name: domain, type: 'CNAME', value: balancer.dnsName };
}

function managedSteps(deps: Deps, ctx: Ctx, timeoutMs: number): Step<Ctx>[] {
  const steps = awsOrderedSteps(deps, ctx, timeoutMs).map((s) => ({ ...s, title: ctx.managed.stepTitles?.[s.id] ?? s.title }));
  if (ctx.managed.validation !== 'served-domain') return steps;
  // Issued once served: no validation record; the balancer and the domain's record first, the wait last.
  const issued = steps.find((s) => s.id === 'certificate-issued')!;
  return [...steps.filter((s) => s.id !== 'validation-record' && s.id !== 'certificate-issued'), issued];
}

function awsOrderedSteps(deps: Deps, ctx: Ctx, timeoutMs: number): Step<Ctx>[] {
  const { io } = deps;
  const poll = deps.pollMs ?? 10_000;
  return [
    {
      id: 'certificate',
      title: `Request a certificate for ${ctx.domain}`,
      run: async (c) => {
        c.certificateId = await c.managed.requestCertificate(c.name, c.domain, c.journalId);
        return { summary: c.certificateId, result: { certificateId: c.certificateId } };
      },
      restore: (c, r) => void (c.certificateId = r.certificateId),
    },
    {
      id: 'validation-record',
      title: 'The DNS record that validates the certificate',
      run: async (c) => {
        const started = deps.clock.now();
        let cert = await c.managed.describeCertificate(c.certificateId!);
        while (cert && cert.status === 'pending' && !cert.validation.length && deps.clock.now() - started < VALIDATION_RECORD_WAIT_MS) {
          await deps.clock.sleep(Math.min(poll, 5_000), deps.signal);
          cert = await c.managed.describeCertificate(c.certificateId!);
        }
        if (!cert) throw new LaunchError('certificate-not-found', ExitCode.failed, `The certificate ${c.certificateId} is gone`, { remediation: `Run \`${deps.program} tls ${c.name} --remove\`, then this command again.` });
        const v = cert.validation[0];
        if (!v) {
          if (cert.status === 'issued') return { summary: 'already issued', result: {} };
          throw new LaunchError('validation-record-missing', ExitCode.failed, `The cloud named no validation record for ${c.certificateId} (${cert.status})`, { remediation: 'Run the same command again.' });
        }
        c.validation = cert.validation;
        if (c.zone) {
          for (const rec of cert.validation) await c.managed.upsertValidationRecord(c.zone.id, rec);
        } else {
          io.info(`DNS: create this record in your domain's zone, so the certificate can be issued (keep it: renewals use it too):\n  ${v.name}.  CNAME  ${v.value}.`);
        }
        return { summary: c.zone ? `${v.name} in the zone ${c.zone.name}` : 'printed', result: { validationName: v.name, validationValue: v.value, ...(c.zone ? { validationZoneId: c.zone.id } : {}) } };
      },
      restore: (c, r) => void (r.validationName && (c.validation = [{ name: r.validationName, type: 'CNAME', value: r.validationValue ?? '' }])),
    },
    {
      id: 'certificate-issued',
      title: 'Wait until the certificate is issued',
      run: async (c) => {
        const started = deps.clock.now();
        const progress = io.progress(`Waiting for ${c.certificateId} to be issued`);
        try {
          for (;;) {
            const cert = await c.managed.describeCertificate(c.certificateId!);
            if (cert?.status === 'issued') {
              c.certificate = cert;
              progress.succeed(`issued, valid until ${cert.notAfter ?? 'unknown'}`);
              return { summary: `valid until ${cert.notAfter ?? 'unknown'}`, result: { notAfter: cert.notAfter ?? '' } };
            }
            if (!cert || cert.status !== 'pending') {
              throw new LaunchError('certificate-failed', ExitCode.failed, `The certificate for ${c.domain} was not issued: ${cert ? `${cert.status}${cert.failure ? ` (${cert.failure})` : ''}` : 'it is gone'}`, {
                remediation: `Check the validation record, then \`${deps.program} tls ${c.name} --remove\` and run this command again.`,
              });
            }
            progress.update('pending validation');
            if (deps.clock.now() - started >= timeoutMs) {
              const v = c.validation?.[0];
              const ip = c.balancer?.ip;
              throw new WaitTimeoutError('certificate-issued', `The certificate for ${c.domain} was not issued within ${Math.round(timeoutMs / 60_000)} min (still pending validation${cert.failure ? `: ${cert.failure}` : ''})`, {
                remediation: `${ip && !v ? `It is issued once ${c.domain} resolves to ${ip}${c.zone ? ` (set in the zone ${c.zone.name}: resolvers may take a while, or that zone is not the one delegated for the domain)` : ' (create that A record in your zone)'}, which can take up to an hour after it does. ` : ''}${v ? `It is issued once ${v.name} resolves to ${v.value}${c.zone ? ` (set in the zone ${c.zone.name}: resolvers may take a while, or that zone is not the one delegated for the domain)` : ' (create that CNAME record in your zone)'}. ` : ''}Run the same command again to keep waiting; nothing is lost.`,
                details: { certificateId: c.certificateId },
              });
            }
            await deps.clock.sleep(poll, deps.signal);
          }
        } catch (e) {
          progress.fail();
          throw e;
        }
      },
      // A resumed run reports the certificate as the finished step saw it (issued, its expiry).
      restore: (c, r) => void (c.certificate = { id: c.certificateId ?? '', domain: c.domain, status: 'issued', validation: c.validation ?? [], ...(r.notAfter ? { notAfter: r.notAfter } : {}) }),
    },
    {
      id: 'networks',
      title: 'Two subnets in two zones for the load balancer',
      run: async (c) => {
        const n = await c.managed.ensureNetworks(c.name, c.instance.id);
        c.networkIds = n.ids;
        if (n.created) c.createdNetwork = n.created;
        return { summary: `${n.ids.join(', ')}${n.created ? ` (${n.created} created)` : ''}`, result: { networkIds: n.ids.join(','), ...(n.created ? { createdNetwork: n.created } : {}) } };
      },
      restore: (c, r) => {
        c.networkIds = list(r.networkIds);
        if (r.createdNetwork) c.createdNetwork = r.createdNetwork;
      },
    },
    {
      id: 'balancer-access',
      title: 'The load balancer\'s access rules',
      run: async (c) => {
        // The addresses the site is open to now (launch's --allow-cidr), read before they are replaced.
        const policies = (await c.cloud.findDeployment(c.name)).accessPolicies.filter((p) => c.instance.accessPolicyIds.includes(p.id));
        const cidrs = [...new Set(policies.flatMap((p) => p.rules.filter((r) => r.port === 443).map((r) => r.cidr)))];
        if (!cidrs.length) throw new LaunchError('no-https-access', ExitCode.failed, `${c.name}'s port 443 is open to no address: there is nothing to give the load balancer`, { remediation: `Open it with \`${deps.program} launch ${c.name} --allow-cidr <cidr>\` (or \`access\`), then run this again.` });
        c.cidrs = cidrs;
        c.policyId = await c.managed.ensureBalancerPolicy(c.name, c.instance.id, cidrs);
        return { summary: `${c.policyId}: 443 and 80 from ${cidrs.join(', ')}`, result: { policyId: c.policyId, cidrs: cidrs.join(',') } };
      },
      restore: (c, r) => {
        c.policyId = r.policyId;
        c.cidrs = list(r.cidrs);
      },
    },
    {
      id: 'backend',
      title: 'The backend: the instance\'s 443, health-checked on /healthz',
      run: async (c) => {
        c.backendId = await c.managed.ensureBackend(c.name, c.instance.id);
        return { summary: c.backendId, result: { backendId: c.backendId } };
      },
      restore: (c, r) => void (c.backendId = r.backendId),
    },
    {
      id: 'balancer',
      title: 'The load balancer',
      run: async (c) => {
        c.balancer = await c.managed.ensureBalancer(c.name, c.networkIds!, c.policyId!);
        return { summary: c.balancer.dnsName, result: { balancerId: c.balancer.id, dnsName: c.balancer.dnsName, dnsZoneId: c.balancer.dnsZoneId, ...(c.balancer.ip ? { ip: c.balancer.ip } : {}) } };
      },
      restore: (c, r) => void (c.balancer = { id: r.balancerId ?? '', dnsName: r.dnsName ?? '', dnsZoneId: r.dnsZoneId ?? '', state: 'active', ...(r.ip ? { ip: r.ip } : {}) }),
    },
    {
      id: 'listeners',
      title: 'HTTPS on 443 with the certificate, 80 redirecting to 443',
      run: async (c) => {
        c.listenerIds = await c.managed.ensureListeners(c.balancer!.id, c.backendId!, c.certificateId!);
        return { summary: `${c.listenerIds.length} listeners`, result: { listenerIds: c.listenerIds.join(',') } };
      },
      restore: (c, r) => void (c.listenerIds = list(r.listenerIds)),
    },
    {
      id: 'instance-access',
      title: 'The instance\'s 80/443 open only to the load balancer',
      run: async (c) => {
        c.replaced = await c.managed.limitInstanceAccess(c.instance.id, c.policyId!);
        // Nothing left to replace: a run killed inside this step removed them unrecorded. They were
        // the addresses the load balancer was given (launch opens 80 and 443 to the same ones).
        if (!c.replaced.rules.length) c.replaced.rules = (c.cidrs ?? []).flatMap((cidr) => [443, 80].map((port) => ({ port, cidr })));
        return { summary: c.replaced.rules.length ? `replaced ${c.replaced.rules.map((r) => `${r.port} from ${r.cidr}`).join(', ')}` : 'already so', result: { replaced: JSON.stringify(c.replaced) } };
      },
      restore: (c, r) => void (r.replaced && (c.replaced = JSON.parse(r.replaced) as ReplacedAccess)),
    },
    {
      id: 'dns',
      title: `The DNS record of ${ctx.domain}`,
      run: async (c) => {
        if (!c.zone) {
          // Issued once the domain resolves to the balancer: the record is needed before the wait.
          if (c.balancer!.ip) io.info(`DNS: create this record in your domain's zone, so the certificate can be issued (keep it: renewals use it too):\n  ${c.domain}.  A  ${c.balancer!.ip}`);
          return { summary: 'printed', result: {} };
        }
        await c.managed.upsertAlias(c.zone.id, c.domain, c.balancer!);
        return { summary: `${c.domain} → ${c.balancer!.ip ?? c.balancer!.dnsName} (${c.balancer!.ip ? 'A' : 'alias'}) in the zone ${c.zone.name}`, result: { aliasZoneId: c.zone.id } };
      },
      restore: () => undefined,
    },
  ];
}

// ---- removal (tls --remove, destroy) ----

export interface ManagedTlsRemoval {
  domain: string;
  deleted: string[];
  /** What was not deleted, and why (someone else's record, …). */
  left: string[];
  restoredAccess?: ReplacedAccess;
}

/**
 * Deletes what the journal says was created, in the order the cloud needs (the record, the
 * instance's rules back, the listeners before the balancer, the balancer before its subnet and
 * access rules, the certificate once nothing uses it). `instanceGone`: destroy deleted the instance's
 * access policy already, so there are no rules to restore.
 */
export async function removeManagedTls(deps: Pick<Deps, 'io'>, cloud: Cloud, deployment: string, rec: ManagedRecord, opts: { instanceGone?: boolean } = {}): Promise<ManagedTlsRemoval> {
  if (rec.journal.command === GATEWAY_JOURNAL) return removeGatewayTls(deps, cloud, deployment, rec, opts);
  const managed = cloud.managedHttps;
  if (!managed) throw new LaunchError('not-supported', ExitCode.failed, `This cloud offers no managed HTTPS, yet ${rec.domain} was set up through it`, { remediation: 'A bug: report it.' });
  const r = (id: string) => rec.journal.steps[id]?.result ?? {};
  const deleted: string[] = [];
  const left: string[] = [];
  const { io } = deps;
  // The journal names what finished; a run killed inside a step may have made more: found by name and label.
  const found = await managed.findResources(deployment);
  const balancer = { ...r('balancer') };
  if (!balancer.balancerId && found.balancer) Object.assign(balancer, { balancerId: found.balancer.id, dnsName: found.balancer.dnsName });
  const access = r('instance-access');
  const policyId = r('balancer-access').policyId ?? found.policyIds[0];
  if (r('dns').aliasZoneId && balancer.dnsName) {
    const outcome = await managed.deleteAlias(r('dns').aliasZoneId!, rec.domain, balancer.dnsName);
    if (outcome === 'not-ours') left.push(`the record ${rec.domain} (it no longer points at the load balancer)`);
    else if (outcome === 'deleted') deleted.push(`the record ${rec.domain} (alias of the load balancer)`);
  }
  let restoredAccess: ReplacedAccess | undefined;
  if (access.replaced && policyId && !opts.instanceGone) {
    restoredAccess = JSON.parse(access.replaced) as ReplacedAccess;
    await managed.restoreInstanceAccess(restoredAccess, policyId);
    deleted.push(`the instance's "443 from the load balancer" rule (its ${restoredAccess.rules.map((x) => `${x.port} from ${x.cidr}`).join(', ') || 'rules'} restored)`);
  }
  if (balancer.balancerId) {
    await managed.deleteListeners(balancer.balancerId);
    await managed.deleteBalancer(balancer.balancerId);
    deleted.push(`the listeners and the load balancer ${balancer.dnsName ?? balancer.balancerId}`);
  }
  const backendId = r('backend').backendId ?? found.backendId;
  if (backendId) {
    await managed.deleteBackend(backendId);
    deleted.push(`the backend ${backendId}`);
  }
  for (const id of new Set([...(policyId ? [policyId] : []), ...found.policyIds])) {
    await managed.deleteBalancerPolicy(id);
    deleted.push(`the load balancer's access rules ${id}`);
  }
  for (const id of new Set([...(r('networks').createdNetwork ? [r('networks').createdNetwork!] : []), ...found.createdNetworks])) {
    await managed.deleteNetwork(id);
    deleted.push(`the subnet ${id} created for it`);
  }
  const certId = r('certificate').certificateId;
  if (certId) {
    if ((await managed.deleteCertificate(certId)) === 'deleted') deleted.push(`the certificate ${certId}`);
  }
  const v = r('validation-record');
  if (v.validationZoneId && v.validationName) {
    if ((await managed.deleteValidationRecord(v.validationZoneId, { name: v.validationName, type: 'CNAME', value: v.validationValue ?? '' })) === 'deleted') deleted.push(`the validation record ${v.validationName}`);
  }
  for (const d of deleted) io.success(`Deleted ${d}.`);
  for (const l of left) io.warn(`Left ${l}.`);
  return { domain: rec.domain, deleted, left, ...(restoredAccess ? { restoredAccess } : {}) };
}

/** What `status` shows of it: the URL and the certificate's expiry and renewal, read from the cloud. */
export async function managedTlsStatus(cloud: Cloud, rec: ManagedRecord): Promise<{ url: string; domain: string; certificateNotAfter?: string; certificateStatus: string; renewal?: string; loadBalancer?: string }> {
  if (rec.journal.command === GATEWAY_JOURNAL) return gatewayTlsStatus(rec);
  const certId = rec.journal.steps.certificate?.result?.certificateId;
  const cert = certId && cloud.managedHttps ? await cloud.managedHttps.describeCertificate(certId) : undefined;
  const dnsName = rec.journal.steps.balancer?.result?.dnsName;
  return {
    url: rec.url,
    domain: rec.domain,
    certificateStatus: cert?.status ?? (certId ? 'not found' : 'not requested'),
    ...(cert?.notAfter ? { certificateNotAfter: cert.notAfter } : {}),
    ...(cert?.renewal ? { renewal: cert.renewal } : {}),
    ...(dnsName ? { loadBalancer: dnsName } : {}),
  };
}

export interface ManagedTlsRemoveResult extends ManagedTlsRemoval {
  name: string;
}

/** `tls --remove` of a deployment served through the load balancer: no SSH needed. */
export async function runManagedTlsRemove(deps: Deps, nameArg: string | undefined, flags: TlsFlags): Promise<ManagedTlsRemoveResult> {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const { name } = target;
  const rec = deps.state.getDeployment(target.cloud, target.region, name)?.tlsManaged;
  if (!rec) throw new LaunchError('tls-not-found', ExitCode.failed, `This machine has no record of a load balancer for ${name}`);
  const cloud = await connectCloud(deps, target);
  const unlock = deps.state.lock(target.cloud, target.region, name);
  try {
    io.info(
      rec.journal.command === GATEWAY_JOURNAL
        ? `tls --remove ${name} will delete the application gateway for ${rec.domain} and everything tls --tls managed created for it (its public IP, a subnet it created, the A record while it still points at the gateway), and restore the instance's 80/443 rules. The DNS zone is not touched.`
        : `tls --remove ${name} will delete the load balancer for ${rec.domain} and everything tls --tls managed created for it (its listeners, backend, access rules, a subnet it created, the certificate and its validation record, the alias record while it still points at the load balancer), and restore the instance's 80/443 rules. The DNS zone is not touched.`,
    );
    await confirmOrYes(deps, flags, `Remove the load balancer for ${rec.domain} from ${name}?`, 'remove HTTPS');
    const removal = await removeManagedTls(deps, cloud, name, rec);
    const latest = deps.state.getDeployment(target.cloud, target.region, name);
    if (latest) {
      const { tlsManaged: _m, ...rest } = latest;
      deps.state.putDeployment({ ...rest, updatedAt: new Date(deps.clock.now()).toISOString() });
    }
    const result = { name, ...removal };
    if (io.json) io.result(result);
    else io.success(`HTTPS through the load balancer removed from ${name}; http://<address> answers as before.`);
    return result;
  } finally {
    unlock();
  }
}
