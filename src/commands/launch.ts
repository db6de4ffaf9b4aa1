// `launch` (the default command): Validate → Ask (only what no flag gave) → Discover → Show the
// plan and ask once → run the launch workflow (journal + resume, then the staged wait) → Recommend.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LaunchFlags } from '../cli/commands/launch.js';
import type { Cloud, CloudRequest } from '../cloud/port.js';
import { CredentialsError, DeclinedError, UsageError } from '../core/errors.js';
import { equivalentCommand, formatTable, planToJson, summaryRows, type LaunchPlan } from '../core/launch-plan.js';
import { describeReady } from '../engine/wait.js';
import { launchSpecs, runLaunchWorkflow, type LaunchInput, type LaunchResult } from '../workflows/launch.js';
import type { Deps } from './deps.js';
import { checkMachineType, chooseDataVolume, reconcile, resolveImage, resolveOwnImage } from './launch-discover.js';
import { describeRuleChanges } from './launch-drift.js';
import { resolvePlan, sourced, validateLaunchFlags } from './launch-wizard.js';
import { formatRequests } from './requests-text.js';
import { refuseScheduleWithout } from './schedule.js';
import { scopeOf } from './target.js';
import { checkLaunchTls, describeLaunchTls, refuseLaunchGateway, refuseLaunchAcmeWithoutConsent, refuseManagedWithoutYes, refuseTlsWithoutSsh, runLaunchTls, tlsCommandFor, tlsFlagsFor } from './launch-tls.js';
import { managedHttpsOf } from './tls-managed.js';
import { probeHttps, type HttpsCheck } from '../workflows/https-check.js';

export type { LaunchResult } from '../workflows/launch.js';
/**
 * A launch with --domain: what `tls` did once it was ready; with --tls managed (served), the probe
 * of https://<domain>/healthz with the certificate verified.
 */
export type LaunchTlsResult = LaunchResult & { tls?: import('./tls.js').TlsResult | import('./tls-acme.js').TlsAcmeResult | import('./tls-managed.js').ManagedTlsResult | import('./tls-gateway.js').GatewayTlsResult; https?: HttpsCheck };

export async function runLaunch(deps: Deps, flags: LaunchFlags): Promise<LaunchTlsResult | { plan: unknown; requests: CloudRequest[] } | undefined> {
  const { io } = deps;
  const v = validateLaunchFlags(flags);
  // --domain: the certificate, key and domain are checked before anything is asked or created.
  const tls = checkLaunchTls(deps, flags);
  const { plan: partial, provider, catalog } = await resolvePlan(deps, flags, v);
  if (tls) refuseTlsWithoutSsh(partial.sshCidrs.value, tls, partial.name.value, deps.program);
  const imageSource = v.imageSource;
  const scope = scopeOf(deps, provider, partial.region.value, flags.providerFlags, partial.name.value);

  // Credentials first: a clear exit 3 before anything else touches the account. A dry run
  // without credentials works offline from the shipped catalog.
  const adapter = await deps.connect(provider, scope);
  if (tls?.way === 'managed') {
    // Whether the cloud offers it is known without a call (exit 2 before credentials are checked);
    // its cost is shown in the plan, and not interactive it needs --yes (exit 2, the cost printed).
    // Azure's Application Gateway serves the user's own certificate: not part of launch yet (exit 2 before credentials are checked).
    if (!adapter.managedHttps && adapter.gatewayHttps) refuseLaunchGateway(provider.id);
    tls.cost = managedHttpsOf(adapter, { provider }).monthlyCost();
    tls.cloud = provider.id;
    refuseManagedWithoutYes(deps, flags, tls);
  }
  if (v.schedule) refuseScheduleWithout(adapter, provider, `${deps.program} backup ${partial.name.value} --region ${partial.region.value}`);
  let cloud: Cloud | undefined = adapter;
  let account = '<account>';
  try {
    account = (await adapter.whoAmI()).account;
  } catch (e) {
    if (flags.dryRun && e instanceof CredentialsError && e.code !== 'permission-denied') {
      io.warn(`${e.message.split('\n')[0]}: the dry run works offline from the shipped image catalog.`);
      cloud = undefined;
    } else throw e;
  }

  const dataVolume = cloud ? await chooseDataVolume(deps, cloud, partial, v) : undefined;
  if (dataVolume?.value.mode === 'existing') {
    if (imageSource === 'base') throw new UsageError(`--data-volume ${provider.diskIdExample} cannot be combined with --image-source base yet: use published or build`);
    const kept = dataVolume.value;
    if (kept.version && partial.version.source === 'flag' && partial.version.value !== kept.version) {
      throw new UsageError(`--version ${partial.version.value}: the kept data volume ${kept.volumeId} holds data of Sourcegraph ${kept.version}`, {
        code: 'data-version-mismatch',
        remediation: `Launch it at its own version (--version ${kept.version}), then \`${deps.program} upgrade ${partial.name.value} --to ${partial.version.value}\` (upgrades go one minor at a time; migrations never run backwards).`,
      });
    }
    if (kept.version) partial.version = sourced(kept.version, 'discovered', `the version of the data on ${kept.volumeId}`);
    partial.dataSizeGiB = sourced(kept.sizeGiB, 'discovered', `${kept.volumeId}`);
  }
  const own = imageSource === 'published' ? undefined : await resolveOwnImage(deps, cloud, provider, catalog, partial, imageSource);
  const { image, version } = own ?? (await resolveImage(cloud, provider, catalog, partial, deps.program));
  const { imageFlag: _imageFlag, ...rest } = partial;
  const plan: LaunchPlan = {
    ...rest,
    image,
    version,
    imageSource: sourced(imageSource, flags.imageSource ? 'flag' : 'default'),
    schedule: sourced(v.schedule, v.schedule ? 'flag' : 'default'),
    ...(dataVolume ? { dataVolume } : {}),
  };
  const name = plan.name.value;
  const region = plan.region.value;
  if (tls?.way === 'acme') {
    // Before anything is created: the challenge (dns-01 asked for needs the zone in the account, on a
    // cloud that offers it: exit 2), and for HTTP-01 the consent to open port 80.
    if (cloud && tls.challenge !== 'http-01') tls.resolved = (await (await import('./tls-acme-dns.js')).chooseChallenge(cloud, { cloud: provider.id, name }, tls.domain, tls.challenge, tls.dns, undefined)).challenge;
    refuseLaunchAcmeWithoutConsent(tls);
  }
  const zones = await checkMachineType(cloud, provider, plan);
  let placement = { zone: plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value.zone : '', ...(plan.subnet.value ? { subnetId: plan.subnet.value } : {}) };
  if (zones) {
    plan.zones = sourced(zones, 'discovered', `offer ${plan.instanceType.value}${plan.dataVolume?.value.mode === 'existing' ? ' and hold the kept data volume' : ''}`);
    // Before anything is created: the subnet (given or default) must be in one of those zones.
    placement = await cloud!.resolvePlacement(plan.subnet.value, zones);
  }
  const command = `${equivalentCommand(plan, provider, deps.program)}${flags.update ? ' --update' : ''}`;

  // A deployment of this name may exist already, made from any machine: launch resumes it or
  // leaves it alone, and changes nothing that differs from what it was launched with (--update
  // applies access-rule changes, and only those).
  const drift = cloud ? await reconcile(deps, cloud, provider, plan, flags, command) : undefined;
  const header = !drift?.exists
    ? 'sourcegraph-launch will create this deployment:'
    : drift.ruleChanges.length && flags.update
      ? `Deployment ${name} exists${drift.instanceId ? ` (instance ${drift.instanceId})` : ''}, will be updated:\n${describeRuleChanges(drift.ruleChanges).map((l) => `  ${l}`).join('\n')}\nIts settings:`
      : `Deployment ${name} exists${drift.instanceId ? ` (instance ${drift.instanceId})` : ''} with these settings; nothing is changed, every resource is checked and waited for:`;
  io.info(`\n${header}\n${formatTable(summaryRows(plan, provider))}\n`);
  if (tls) io.info(`${describeLaunchTls(tls).join('\n')}\n`);
  const tlsFlags = tls ? ` ${tlsFlagsFor(tls)}` : '';
  io.info(`Equivalent command for CI:\n  ${command}${tlsFlags}\n`);

  const input: LaunchInput = {
    provider,
    plan,
    scheduleParams: { ...v.cloudFlags.scheduleParams, account },
    command,
    ...(own?.userDataBase64 ? { userDataBase64: own.userDataBase64 } : {}),
    ...(v.identityFile ? { identityFile: v.identityFile } : {}),
  };
  if (flags.dryRun) {
    // The key request needs the public key; a dry run shows a placeholder instead of creating a file.
    const key = plan.sshKey.value;
    const specs = launchSpecs(
      { ...input, ...(key.mode === 'import' ? { publicKey: readFileSync(key.publicKeyPath, 'utf8').trim() } : {}) },
      { journalId: randomBytes(6).toString('hex'), placement },
    );
    const requests = adapter.launchRequests(specs);
    if (specs.schedule) requests.push(...adapter.scheduleRequests(specs.schedule));
    if (own?.buildFirst) io.info(`No image of Sourcegraph ${version.value} was built in ${region} yet: build-image runs first (see \`${deps.program} build-image --dry-run\`).`);
    if (!cloud && plan.image.source === 'flag' && provider.builtDataTemplatePlaceholder) {
      // Offline the image cannot be read: the launch looks for its prepared data disk and starts from it.
      io.info(`Offline: whether --image ${plan.image.value.id} has a prepared data disk was not looked up; the data disk below is blank, while a launch makes it from the image's data snapshot when it has one.`);
    }
    if (cloud && !own?.buildFirst && cloud.capabilities.permissionPreflight) {
      // The key this launch would import does not exist yet (a dry run creates nothing): the
      // cloud would refuse the name, not the launch, so the check is of the instance without it.
      await cloud.checkInstancePermissions(specs.sshKey.mode === 'import' ? { ...specs.instance, sshKey: { mode: 'none' } } : specs.instance);
      io.success(provider.terms.permissionCheckPassed);
    }
    const tlsPlan = tls && {
      domain: tls.domain,
      url: `https://${tls.domain}`,
      dns: tls.dns ? 'zone-or-printed' : 'printed',
      ...(tls.way === 'managed'
        ? { managed: { loadBalancer: 'created once ready', certificate: tls.cloud === 'gcp' ? 'Google-managed, issued once the load balancer serves it and the A record resolves' : 'the cloud\'s, validated through DNS', ...(tls.cost ? { monthlyCost: tls.cost } : {}) } }
        : tls.way === 'acme'
        ? { acme: { email: tls.email, ca: tls.ca, challenge: tls.challenge ?? tls.resolved ?? 'http-01' }, ...((tls.challenge ?? tls.resolved) === 'dns-01' ? {} : { port80: 'opened to 0.0.0.0/0 once ready' }) }
        : { certificate: { dnsNames: tls.certificate.dnsNames, notAfter: tls.certificate.notAfter, daysLeft: tls.certificate.daysLeft, fingerprint256: tls.certificate.fingerprint256 } }),
      afterReady: tlsCommandFor(deps.program, name, region, tls, flags.cloud),
    };
    const out = { plan: planToJson(plan, provider), requests, ...(tlsPlan ? { tls: tlsPlan } : {}) };
    if (io.json) io.result(out);
    else {
      io.info('Dry run: these mutating requests would be sent, in order:');
      io.info(formatRequests(requests));
      if (tls) io.info(`Once ready, the steps of \`${tlsCommandFor(deps.program, name, region, tls, flags.cloud)}\` (${tls.way === 'managed' ? 'the cloud\'s API, no SSH' : 'over SSH; a DNS record change is shown and asked then'}).`);
      io.info('Nothing was changed.');
    }
    return out;
  }

  if (io.interactive && !flags.yes) {
    const ok = await io.confirm({ message: `Launch ${name} in ${region}?`, default: true });
    if (!ok) throw new DeclinedError('Answered no: nothing changed.', { remediation: 'Run the command again when ready.' });
  }
  if (!cloud) throw new CredentialsError(`No ${provider.displayName} credentials`);

  // Save answers for next time (interactive runs only: CI should say everything explicitly).
  if (io.interactive) deps.state.setPreferences({ region, size: plan.size.value, allowCidr: plan.allowCidrs.value.join(',') });

  if (own?.buildFirst) {
    // The same workflow as `build-image`, with the deployment's region, size and SSH CIDRs.
    const { buildImage } = await import('../workflows/build-image.js');
    const built = await buildImage(deps, cloud, {
      provider,
      region,
      version: plan.version.value,
      size: plan.size.value,
      sshCidrs: plan.sshCidrs.value,
      ...(plan.subnet.value ? { subnet: plan.subnet.value } : {}),
      ...(plan.encryptionKey.value ? { encryptionKey: plan.encryptionKey.value } : {}),
      sshUser: plan.sshUser.value,
      timeoutMinutes: 120,
    });
    plan.image = sourced({ id: built.imageId, name: built.imageName, source: 'built' }, 'discovered', 'built by build-image just now');
  }

  const release = deps.state.lock(provider.id, region, name);
  let result: LaunchTlsResult;
  try {
    const behind = tls?.way === 'managed' ? await launchedBehindBalancer(deps, cloud, provider.id, region, name, tls.domain, plan.version.value) : undefined;
    if (behind) {
      // Launch's own steps would open 80/443 to --allow-cidr again and wait on an address that now
      // answers only the load balancer: the launch finished, so only the HTTPS steps go on.
      io.info(`${name} was launched and its 80/443 are open only to the load balancer of https://${tls!.domain}: the launch's own steps are done; going on with the HTTPS steps.`);
      result = behind;
    } else result = await runLaunchWorkflow(deps, cloud, input);
  } finally {
    release();
  }
  // Only after the readiness wait succeeded (--no-wait is refused with --domain but for --tls
  // managed, which then stops where `tls --tls managed --no-wait` does): the steps of `tls`.
  if (tls && (plan.wait || tls.way === 'managed')) result = { ...result, tls: await runLaunchTls(deps, flags, tls, { name, region, ...(result.url && plan.wait ? { url: result.url } : {}) }) };
  if (tls?.way === 'managed' && result.tls && 'state' in result.tls && result.tls.state === 'served') {
    // The site as users reach it: through the load balancer, with the cloud's certificate verified.
    const served = result.tls;
    const front = ('loadBalancer' in served ? served.loadBalancer?.dnsName : undefined) ?? 'the load balancer';
    const record = served.dnsRecord;
    result.https = await probeHttps(deps, {
      url: served.url,
      domain: served.domain,
      certificateAdvice: `The load balancer serves the cloud's certificate for ${served.domain}: check that ${served.domain} points at ${front}.`,
      dnsAdvice: record?.setInZone ? `its record was set in the zone ${record.setInZone}; resolvers may still hold an older answer` : record ? `create the record ${record.name}. ${record.type === 'A (alias)' ? 'A (alias)' : record.type} ${record.value}` : `create the record ${served.domain} pointing at ${front}`,
      unreachableAdvice: `check that ${served.domain} points at ${front} and that 443 is open to you (launch's --allow-cidr)`,
    });
  }
  if (io.json) io.result(result);
  else if (plan.wait) {
    io.success(`Sourcegraph ${plan.version.value} is serving at ${result.url}`);
    for (const line of describeReady({ url: result.url ?? '', version: result.version, needsSiteInit: result.needsSiteInit, stages: result.stages ?? [] }).slice(1)) io.info(line);
    if (!result.tls) io.info(provider.terms.tlsAdvice);
    io.info(`See it with \`${deps.program} status ${name} --region ${region}\`; remove it with \`${deps.program} destroy ${name} --region ${region}\`.`);
  } else {
    io.success(`Instance ${result.instanceId} is running${result.url ? ` at ${result.url}` : ''}; Sourcegraph takes ~5–10 minutes to start.`);
    if (tls?.way === 'managed') io.info(`HTTPS on ${tls.domain}: the certificate is requested; run the same launch command again (without --no-wait) once ${tls.cloud === 'gcp' ? `${tls.domain}'s A record points at the load balancer` : 'the validation record resolves'}, or \`${tlsCommandFor(deps.program, name, region, tls, flags.cloud)}\`.`);
    io.info(`Check it with \`${deps.program} status ${name} --region ${region}\`.`);
  }
  return result;
}

/**
 * A launch that finished, after which `launch --tls managed` (or `tls --tls managed`) limited the
 * instance's 80/443 to the load balancer: its result as recorded, or undefined (launch runs as usual).
 */
async function launchedBehindBalancer(deps: Deps, cloud: Cloud, provider: string, region: string, name: string, domain: string, version: string): Promise<LaunchResult | undefined> {
  const record = deps.state.getDeployment(provider, region, name);
  const m = record?.tlsManaged;
  if (!record?.journal?.finishedAt || record.journal.command !== 'launch' || m?.domain !== domain || m.journal.steps['instance-access']?.status !== 'done') return undefined;
  const instance = (await cloud.findDeployment(name)).instance;
  if (!instance || instance.id !== record.instanceId) return undefined;
  return {
    name,
    cloud: provider,
    region,
    version: instance.labels.version ?? version,
    instanceId: instance.id,
    ...(instance.publicIp ? { publicIp: instance.publicIp } : {}),
    ...(record.url ? { url: record.url } : {}),
    ready: true,
    resources: { instanceId: instance.id, securityGroupId: instance.accessPolicyIds[0], dataVolumeId: instance.disks.find((d) => d.role === 'data')?.diskId },
  };
}
