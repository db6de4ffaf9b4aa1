// `doctor [name]`: every check at once, each with its fix, instead of one launch failing at a time.
// Before a launch (no deployment of the name exists) it asks the cloud what the launch would ask:
// credentials, a permission dry run, quotas, the machine type, the image, and whether the caller can
// reach the result. For an existing deployment it compares what exists with what the tool made and
// looks inside the instance over SSH. Nothing is changed either way.
import { isAbortError } from '../engine/clock.js';
import type { DoctorFlags } from '../cli/commands/doctor.js';
import type { Cloud, Deployment, Instance, Quotas } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider, validateCloud } from '../cloud/providers.js';
import {
  check,
  certificatesCheck,
  DATA_MOUNT,
  diskSpaceCheck,
  doctorVerdict,
  formatChecks,
  K3S_TLS_DIR,
  parseCertEndDates,
  parseDf,
  quotaCheck,
  snapshotAgeCheck,
  type Check,
} from '../core/doctor-checks.js';
import { CredentialsError, ExitCode, LaunchError, UsageError } from '../core/errors.js';
import { tlsCertificateCheck } from '../core/tls-certificate-check.js';
import type { LaunchPlan } from '../core/launch-plan.js';
import { allPresets } from '../core/presets.js';
import type { Remote } from '../remote/remote.js';
import type { DeploymentRecord } from '../state/store.js';
import { launchSpecs } from '../workflows/launch.js';
import { connectToInstance } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { nodeChecks } from './doctor-nodes.js';
import { cidrContains, explainUnreachable, reachInstance } from './instance-access.js';
import { checkMachineType, resolveImage } from './launch-discover.js';
import { accessRuleChanges, describeRuleChanges } from './launch-drift.js';
import { resolvePlan, sourced, validateLaunchFlags } from './launch-wizard.js';
import { resolveTarget, type Target } from './target.js';

export interface DoctorResult {
  cloud: string;
  region: string;
  name: string;
  /** launch: the checks of a planned launch; deployment: of one that exists. */
  mode: 'launch' | 'deployment';
  checks: Check[];
  ok: boolean;
  exitCode: number;
}

export interface PolicyResult {
  cloud: string;
  kind: string;
  file: string;
  attach: string;
  policy: unknown;
}

const EXEC_TIMEOUT_MS = 30_000;

export async function runDoctor(deps: Deps, nameArg: string | undefined, flags: DoctorFlags): Promise<DoctorResult | PolicyResult> {
  if (flags.printPolicy) return printPolicy(deps, flags.cloud !== undefined ? validateCloud(flags.cloud) : defaultProvider());

  const target = resolveTarget(deps, nameArg, flags);
  const { provider, name, region } = target;
  const cloud = await deps.connect(provider, target.scope);
  const checks: Check[] = [];
  const finish = (mode: DoctorResult['mode'], exitCode?: number): DoctorResult => {
    const { ok } = doctorVerdict(checks);
    const result: DoctorResult = { cloud: provider.id, region, name, mode, checks, ok, exitCode: exitCode ?? (ok ? ExitCode.ok : ExitCode.failed) };
    render(deps, result);
    return result;
  };

  try {
    const who = await cloud.whoAmI();
    checks.push(check('credentials', 'Credentials', 'pass', `${who.principal || 'signed in'} (${who.account})`));
  } catch (e) {
    if (!(e instanceof CredentialsError)) throw e;
    checks.push(check('credentials', 'Credentials', 'fail', e.message.split('\n')[0]!, e.remediation ?? `Sign in to ${provider.displayName}.`));
    // Without credentials nothing else can be asked: exit 3, as every command does.
    return finish('launch', ExitCode.credentials);
  }

  const deployment = await cloud.findDeployment(name);
  // Only a data disk a destroy kept is left: what comes next is a launch (on it, or on a new one).
  const exists = Boolean(deployment.instance || deployment.otherInstances.length || deployment.accessPolicies.length || deployment.addresses.length);
  if (exists) {
    await deploymentChecks(deps, cloud, target, deployment, nameArg, flags, checks);
    return finish('deployment');
  }
  await launchChecks(deps, cloud, target, flags, checks);
  const kept = deployment.disks.filter((x) => !x.attachedTo && x.labels.role !== 'rollback-data');
  if (kept.length) {
    checks.push(
      check('kept-data', 'Kept data', 'warn', `a destroy kept ${kept.map((x) => `${x.id} (${x.sizeGiB} GiB, data of ${x.labels.version ?? 'an unknown version'}, in ${x.zone})`).join(', ')}`, `Launch on it with --data-volume ${kept[0]!.id} (at its version), or pass --data-volume new: without either, launch asks (and exits 2 in CI).`),
    );
  }
  return finish('launch');
}

async function printPolicy(deps: Deps, provider: ProviderDescriptor): Promise<PolicyResult> {
  if (!provider.minimalPolicy) throw new UsageError(`--print-policy: no policy is kept for ${provider.displayName}`);
  const p = await provider.minimalPolicy();
  const result: PolicyResult = { cloud: provider.id, kind: p.kind, file: p.file, attach: p.attach, policy: p.document };
  if (deps.io.json) deps.io.result(result);
  else {
    // The document alone on stdout, so `> policy.json` saves a file the cloud's CLI accepts.
    deps.io.info(JSON.stringify(p.document, null, 2));
    deps.io.warn(`The ${provider.displayName} ${p.kind} the tool's calls need (${p.file}). To use it: ${p.attach}.`);
  }
  return result;
}

// ---------------------------------------------------------------- before a launch

async function launchChecks(deps: Deps, cloud: Cloud, target: Target, flags: DoctorFlags, checks: Check[]): Promise<void> {
  const { provider } = target;
  // The launch's own validation and defaults, without its questions: doctor never asks.
  const launchFlags = {
    cloud: provider.id,
    region: target.region,
    name: target.name,
    ...(flags.size !== undefined ? { size: flags.size } : {}),
    ...(flags.version !== undefined ? { version: flags.version } : {}),
    ...(flags.image !== undefined ? { image: flags.image } : {}),
    ...(flags.instanceType !== undefined ? { instanceType: flags.instanceType } : {}),
    ...(flags.subnet !== undefined ? { subnet: flags.subnet } : {}),
    // Only the caller check reads these; the placeholders keep the plan whole without them.
    allowCidr: flags.allowCidr?.length ? flags.allowCidr : ['192.0.2.1/32'],
    sshCidr: flags.sshCidr?.length ? flags.sshCidr : ['none'],
    providerFlags: flags.providerFlags ?? {},
  };
  const v = validateLaunchFlags(launchFlags);
  const quiet: Deps = { ...deps, io: new Proxy(deps.io, { get: (io, key) => (key === 'interactive' ? false : Reflect.get(io, key)) }) };
  const { plan: partial, catalog } = await resolvePlan(quiet, launchFlags, v);
  const size = partial.size.value;
  const type = partial.instanceType.value;

  // The image of the version (published, ours, or --image).
  let plan: LaunchPlan | undefined;
  try {
    const { image, version } = await resolveImage(cloud, provider, catalog, partial, deps.program);
    const { imageFlag: _unused, ...rest } = partial;
    plan = { ...rest, image, version };
    checks.push(check('image', 'Image', 'pass', `Sourcegraph ${version.value}: ${image.value.id}${image.value.name ? ` (${image.value.name})` : ''}, ${image.detail ?? image.source}`));
  } catch (e) {
    if (!(e instanceof LaunchError)) throw e;
    checks.push(check('image', 'Image', 'fail', e.message, e.remediation));
  }

  // The machine type offered in a zone of the region, and a subnet there.
  let placement: Awaited<ReturnType<Cloud['resolvePlacement']>> | undefined;
  try {
    // checkMachineType reads the type, size, region and a kept disk's zone: never the image.
    const zones = await checkMachineType(cloud, provider, { ...partial, image: sourced({ id: '' }, 'default') } as LaunchPlan);
    placement = await cloud.resolvePlacement(partial.subnet.value, zones);
    checks.push(check('instance-type', 'Instance type offered', 'pass', `${type} is offered in ${zones?.join(', ') ?? target.region}; it would go to ${placement.zone}${placement.subnetId ? ` (${placement.subnetId})` : ''}`));
  } catch (e) {
    if (!(e instanceof LaunchError)) throw e;
    checks.push(check('instance-type', 'Instance type offered', 'fail', e.message, e.remediation));
  }

  // Permission to launch: a dry run where the cloud has one, else the policy to attach.
  const policyHint = `attach the minimal policy printed by \`${deps.program} doctor --print-policy${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`}\``;
  if (!cloud.capabilities.permissionPreflight) {
    checks.push(check('permissions', 'Permission to launch', 'skip', `${provider.displayName} has no dry run of a launch; ${policyHint} to be sure`));
  } else if (!plan || !placement) {
    checks.push(check('permissions', 'Permission to launch', 'skip', 'needs the image and a zone for the instance type (above)'));
  } else {
    const specs = launchSpecs({ provider, plan, scheduleParams: {}, command: '' }, { journalId: 'doctor', placement });
    try {
      // The key a launch imports does not exist yet: the check is of the instance without it.
      await cloud.checkInstancePermissions({ ...specs.instance, sshKey: { mode: 'none' } });
      checks.push(check('permissions', 'Permission to launch', 'pass', provider.terms.permissionCheckPassed));
    } catch (e) {
      if (!(e instanceof LaunchError)) throw e;
      checks.push(check('permissions', 'Permission to launch', 'fail', e.message, `${e.remediation ? `${e.remediation} Or ` : ''}${policyHint}.`));
    }
  }

  // Quotas: the vCPUs of the size, and one static address.
  let quotas: Quotas | undefined;
  let quotaError: string | undefined;
  if (cloud.quotas) {
    try {
      quotas = await cloud.quotas(type);
    } catch (e) {
      if (!(e instanceof LaunchError)) throw e;
      quotaError = e.message;
    }
  }
  const why = quotaError ?? (cloud.quotas ? undefined : `the ${provider.displayName} adapter does not read quotas`);
  const presetVcpus = allPresets().find((p) => p.name === size)?.vcpu;
  // --instance-type instead of the preset's: what one instance of it needs, where the cloud says.
  const vcpus = partial.instanceType.source === 'preset' ? presetVcpus : quotas?.machineTypeVcpus;
  checks.push(
    quotaCheck('quota-vcpus', 'vCPU quota', quotas?.vcpus, vcpus, {
      unit: 'vCPUs',
      ...(why ?? quotas?.unknown?.vcpus ? { unknown: why ?? quotas?.unknown?.vcpus } : {}),
      ...(quotas?.unreadable?.vcpus ? { unreadable: quotas.unreadable.vcpus } : {}),
      fix: `Ask ${provider.displayName} for a higher vCPU quota in ${target.region} (the quotas page of its console), choose a smaller --size, or another --region.`,
    }),
  );
  const wantsAddress = partial.address.value.mode === 'new';
  checks.push(
    quotaCheck('quota-static-addresses', `${cap(provider.terms.address)} quota`, quotas?.staticAddresses, wantsAddress ? 1 : 0, {
      unit: 'addresses',
      ...(why ?? quotas?.unknown?.staticAddresses ? { unknown: why ?? quotas?.unknown?.staticAddresses } : {}),
      ...(quotas?.unreadable?.staticAddresses ? { unreadable: quotas.unreadable.staticAddresses } : {}),
      fix: `Release an unused ${provider.terms.address} in ${target.region}, ask for a higher quota, or launch with ${provider.planFlags.address ?? '--address'} none (the URL then changes when the instance is replaced).`,
    }),
  );

  // The caller must reach the instance: launch waits for it over HTTP from this machine.
  checks.push(await callerCheck(deps, flags.allowCidr, flags.sshCidr));
}

async function callerCheck(deps: Deps, allowCidr: string[] | undefined, sshCidr: string[] | undefined): Promise<Check> {
  const title = 'Your address in --allow-cidr';
  if (!allowCidr?.length) return check('caller-address', title, 'skip', 'no --allow-cidr given');
  const cidrs = allowCidr.flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
  const ip = await deps.lookupPublicIp().catch(() => undefined);
  if (!ip) return check('caller-address', title, 'skip', 'could not tell this machine\'s public address');
  if (!cidrs.some((c) => cidrContains(c, ip))) {
    return check('caller-address', title, 'fail', `your address ${ip} is not in ${cidrs.join(', ')}: launch waits for Sourcegraph over HTTP from this machine and would time out`, `Add ${ip}/32 to --allow-cidr, or launch from a machine inside it.`);
  }
  const ssh = (sshCidr ?? []).flatMap((c) => c.split(',')).map((c) => c.trim()).filter((c) => c && c !== 'none');
  if (ssh.length && !ssh.some((c) => cidrContains(c, ip))) {
    return check('caller-address', title, 'warn', `your address ${ip} is in --allow-cidr but not in --ssh-cidr ${ssh.join(', ')}: ssh, logs and doctor's SSH checks will not reach the instance from here`, `Add ${ip}/32 to --ssh-cidr.`);
  }
  return check('caller-address', title, 'pass', `your address ${ip} is in ${cidrs.join(', ')}`);
}

// ---------------------------------------------------------------- an existing deployment

async function deploymentChecks(deps: Deps, cloud: Cloud, target: Target, d: Deployment, nameArg: string | undefined, flags: DoctorFlags, checks: Check[]): Promise<void> {
  const { provider, name, region } = target;
  const where = `${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${region}`;
  const instance = d.instance;
  const record = deps.state.getDeployment(provider.id, region, name);
  if (!instance) {
    checks.push(check('instance', 'Serving instance', 'fail', `deployment ${name} has no serving instance`, `\`${deps.program} status ${name}${where}\` shows what is left of it.`));
  } else if (instance.state !== 'running') {
    checks.push(check('instance', 'Serving instance', 'fail', `${instance.id} is ${instance.state}`, 'Start it in the cloud console (the data disk stays attached).'));
  } else checks.push(check('instance', 'Serving instance', 'pass', `${instance.id} is running (${instance.machineType}, Sourcegraph ${instance.labels.version ?? 'of an unknown version'})`));

  checks.push(accessRulesCheck(deps, target, d, record, flags));
  if (instance) {
    checks.push(dataDiskCheck(provider, d, instance));
    checks.push(addressCheck(provider, d, instance));
    checks.push(labelsCheck(provider, d, instance));
  }
  checks.push(await snapshotsCheck(deps, cloud, target));
  // Only a certificate the user brought (`tls --tls-cert`, recorded on this machine): nothing renews it.
  if (record?.tls?.acme) {
    // Let's Encrypt (tls --tls acme): Traefik renews it on the instance; the certificate served now
    // counts (the recorded one may have been renewed since), the recorded one when it cannot be read.
    const t = record.tls;
    const served = await deps.httpGet(`${t.url}/healthz`, { timeoutMs: 5000, signal: deps.signal, verifyCertificate: true }).then(
      (r) => r.certificate,
      (e: unknown) => {
        if (isAbortError(e)) throw e;
        return undefined;
      },
    );
    checks.push(tlsCertificateCheck({ domain: t.domain, notAfter: served?.notAfter ?? t.notAfter }, deps.clock.now(), `Traefik renews Let's Encrypt certificates 30 days before expiry, so renewal is failing: check that ${t.domain} resolves to the deployment and ${t.acme!.challenge === 'dns-01' ? `the instance still has its role for the DNS-01 challenge (\`${deps.program} tls ${name}${where} --domain ${t.domain} --tls acme --acme-email ${t.acme!.email} --acme-challenge dns-01 --yes\` puts it back)` : `port 80 is open to the world (\`${deps.program} tls ${name}${where} --domain ${t.domain} --tls acme --acme-email ${t.acme!.email} --i-know-port-80-is-public\` opens it again)`}, and Traefik's log (\`${deps.program} ssh ${name}${where} -- sudo kubectl -n kube-system logs deploy/traefik\`).`));
  } else if (record?.tls) {
    const t = record.tls;
    checks.push(tlsCertificateCheck(t, deps.clock.now(), `Get a renewed certificate for ${t.domain} and install it with \`${deps.program} tls ${name}${where} --domain ${t.domain} --tls-cert <file> --tls-key <file>\`.`));
  }

  if (!instance) {
    for (const [id, title] of SSH_CHECKS) checks.push(check(id, title, 'skip', 'no serving instance to connect to'));
    return;
  }
  checks.push(...(await sshChecks(deps, nameArg, flags, target)));
  // The run-command channel (config, executors enable, disk grow without SSH), where the cloud can tell.
  if (cloud.runCommandReady && instance.state === 'running') checks.push(await runCommandCheck(cloud, instance.id));
  // Only with k3s agents (scale): their nodes, over SSH on the server.
  checks.push(...(await nodeChecks(deps, cloud, target, d, record)));
}

async function runCommandCheck(cloud: Cloud, instanceId: string): Promise<Check> {
  const title = `Run-command channel (${cloud.runCommandLimits?.name ?? 'the cloud\'s'})`;
  try {
    const r = await cloud.runCommandReady!(instanceId);
    return check('run-command', title, r.ready ? 'pass' : 'warn', r.detail, r.fix);
  } catch (e) {
    const err = e as Error & { remediation?: string };
    return check('run-command', title, 'warn', `could not tell: ${err.message}`, err.remediation);
  }
}

const GOVERNED = new Set([22, 80, 443]);

function accessRulesCheck(deps: Deps, target: Target, d: Deployment, record: DeploymentRecord | undefined, flags: DoctorFlags): Check {
  const title = 'Access rules';
  const { provider } = target;
  if (!d.accessPolicies.length) return check('access-rules', title, 'fail', `no ${provider.terms.accessPolicy} of the deployment was found`, 'Re-run the launch command of this deployment: it makes the rules again.');
  const others = d.accessPolicies.flatMap((p) => p.rules.filter((r) => !GOVERNED.has(r.port)).map((r) => `${r.port} from ${r.cidr}`));
  const saved = record?.plan as { allowCidrs?: { value?: string[] }; sshCidrs?: { value?: string[] } } | undefined;
  const split = (xs: string[] | undefined) => xs?.flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
  const allow = split(flags.allowCidr) ?? saved?.allowCidrs?.value;
  const sshGiven = split(flags.sshCidr);
  const ssh = sshGiven ? sshGiven.filter((c) => c !== 'none') : saved?.sshCidrs?.value ?? (flags.allowCidr ? allow : undefined);
  const source = flags.allowCidr ? 'the --allow-cidr/--ssh-cidr given' : 'what this machine recorded at launch';
  const problems: string[] = [];
  let fix: string | undefined;
  if (allow && ssh) {
    const changes = accessRuleChanges(d, { allowCidrs: sourced(allow, 'flag'), sshCidrs: sourced(ssh, 'flag') });
    if (changes.length) {
      problems.push(`differ from ${source}: ${describeRuleChanges(changes).map((l) => l.replace(/\s+/g, ' ')).join('; ')}`);
      fix = `\`${deps.program} launch ${target.name}${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${target.region} --allow-cidr ${allow.join(',')} --ssh-cidr ${ssh.length ? ssh.join(',') : 'none'} … --update\` (with the deployment's other launch flags) puts them back; or, if the change was meant, nothing (the next --update keeps what you pass)`;
    }
  }
  if (others.length) {
    problems.push(`rules the tool did not make: ${others.join(', ')}`);
    fix = `${fix ? `${fix}. ` : ''}Remove the rules on other ports in the ${provider.terms.accessPolicy} if nobody meant to open them (the tool never opens ports besides 22, 80 and 443)`;
  }
  if (problems.length) return check('access-rules', title, 'fail', problems.join('; '), fix);
  if (!allow || !ssh) return check('access-rules', title, 'skip', `no record on this machine of what ${target.name} was launched with: pass --allow-cidr and --ssh-cidr to compare (no rules on other ports)`);
  return check('access-rules', title, 'pass', `as launched: HTTP/HTTPS from ${allow.join(', ')}, SSH from ${ssh.length ? ssh.join(', ') : 'nobody'}`);
}

function dataDiskCheck(provider: ProviderDescriptor, d: Deployment, instance: Instance): Check {
  const title = 'Data disk attached';
  const slot = instance.disks.find((x) => x.role === 'data');
  const disk = slot ? d.disks.find((x) => x.id === slot.diskId) : undefined;
  if (slot) return check('data-disk', title, 'pass', `${slot.diskId}${disk ? ` (${disk.sizeGiB} GiB ${disk.type})` : ''} is attached to ${instance.id}`);
  const detached = d.disks.filter((x) => x.labels.role === 'data-volume' && x.attachedTo !== instance.id);
  const named = detached.map((x) => `${x.id} (${x.attachedTo ? `attached to ${x.attachedTo}` : x.state})`).join(', ');
  return check(
    'data-disk',
    title,
    'fail',
    `${instance.id} has no data disk attached${named ? `; the deployment's data disk: ${named}` : ''}`,
    `${detached[0] ? `Attach ${detached[0].id}` : 'Attach the data disk'} to ${instance.id} as its data disk again (${provider.terms.dataDiskSlot}; stop the instance first where the cloud needs it); the boot guard keeps Sourcegraph stopped without it.`,
  );
}

function addressCheck(provider: ProviderDescriptor, d: Deployment, instance: Instance): Check {
  const title = cap(provider.terms.address);
  const ours = d.addresses;
  if (!ours.length) return check('static-address', title, 'pass', `none (launched without one: the instance's own address is ${instance.publicIp ?? 'none'})`);
  const here = ours.find((a) => a.instanceId === instance.id);
  if (here) return check('static-address', title, 'pass', `${here.ip} (${here.id}) is attached to ${instance.id}`);
  const a = ours[0]!;
  return check(
    'static-address',
    title,
    'fail',
    `${a.ip} (${a.id}) is ${a.instanceId ? `attached to ${a.instanceId}, not to the serving instance ${instance.id}` : 'not attached to any instance'}: the deployment's URL does not reach it`,
    `Attach ${a.id} to ${instance.id} again in the console.`,
  );
}

function labelsCheck(provider: ProviderDescriptor, d: Deployment, instance: Instance): Check {
  const title = 'Our tags';
  const missing: string[] = [];
  for (const key of ['deployment', 'role', 'version', 'size'] as const) if (!instance.labels[key]) missing.push(`${key} on ${instance.id}`);
  const slot = instance.disks.find((x) => x.role === 'data');
  const disk = slot ? d.disks.find((x) => x.id === slot.diskId) : undefined;
  if (slot && !disk) missing.push(`deployment on the data disk ${slot.diskId}`);
  else if (disk && !disk.labels.role) missing.push(`role on ${disk.id}`);
  for (const a of d.addresses) if (!a.labels.deployment) missing.push(`deployment on ${a.id}`);
  if (!missing.length) return check('labels', title, 'pass', `the instance, data disk and ${provider.terms.address} carry them`);
  return check(
    'labels',
    title,
    'fail',
    `missing: ${missing.join(', ')}`,
    `Put them back (${provider.terms.labelName('<key>')}, values as on the other resources of ${d.name}): the tool finds its resources by them, and destroy, upgrade and backup skip what lacks them.`,
  );
}

async function snapshotsCheck(deps: Deps, cloud: Cloud, target: Target): Promise<Check> {
  let schedule: Awaited<ReturnType<Cloud['findSnapshotSchedule']>>;
  try {
    schedule = cloud.capabilities.snapshotSchedules ? await cloud.findSnapshotSchedule(target.name) : undefined;
  } catch (e) {
    if (!(e instanceof LaunchError)) throw e;
    // Without the schedule the age means nothing either way (an emulator without DLM, a missing permission).
    return check('snapshot-age', 'Snapshots', 'skip', `could not read the snapshot schedule: ${firstLine(e.message)}`, e.remediation);
  }
  const newest = (await cloud.listSnapshots(target.name)).find((s) => s.state === 'completed');
  const backup = `\`${deps.program} backup ${target.name} --region ${target.region}\``;
  return snapshotAgeCheck({
    ...(schedule ? { schedule: schedule.schedule ?? 'daily' } : {}),
    ...(newest?.startTime ? { newest: newest.startTime } : {}),
    now: deps.clock.now(),
    fix: cloud.capabilities.snapshotSchedules ? `${backup} takes one now; add --schedule daily to keep taking them` : `${backup} takes one now (this cloud has no snapshot schedule the tool can set up: run it from a scheduler)`,
  });
}

const SSH_CHECKS: [string, string][] = [
  ['k3s-certificates', 'k3s certificates'],
  ['data-disk-space', 'Data disk free space'],
];

async function sshChecks(deps: Deps, nameArg: string | undefined, flags: DoctorFlags, target: Target): Promise<Check[]> {
  const skipAll = (why: string, fix?: string) => SSH_CHECKS.map(([id, title]) => check(id, title, 'skip', why, fix));
  const reach = await reachInstance(deps, nameArg, flags);
  if ('problem' in reach.ssh) return skipAll(`SSH is not possible: ${reach.ssh.problem.message}`, reach.ssh.problem.remediation);
  let remote: Remote;
  try {
    remote = await connectToInstance(deps, reach.cloud, reach.ssh.access, reach.ssh.host, reach.instance.id);
  } catch (caught) {
    const e = await explainUnreachable(deps, reach, caught, flags.providerFlags);
    const message = (e as Error).message;
    const remediation = (e as { remediation?: string }).remediation;
    // A host key that does not match is a finding of its own: never connected to, and a failure.
    if ((e as { code?: string }).code === 'host-key-mismatch') return [check('ssh-host-key', 'SSH host key', 'fail', message, remediation), ...skipAll('the host key did not match')];
    return skipAll(`SSH is not possible: ${message}`, remediation);
  }
  const restart = `\`${deps.program} ssh ${target.name} --region ${target.region} -- sudo systemctl restart k3s\``;
  const out: Check[] = [];
  try {
    const certs = await remote.exec(
      `sudo sh -c 'for f in ${K3S_TLS_DIR}/*.crt; do [ -e "$f" ] || continue; printf "%s " "$f"; openssl x509 -enddate -noout -in "$f" || echo; done'`,
      { timeoutMs: EXEC_TIMEOUT_MS },
    );
    out.push(certs.code === 0 ? certificatesCheck(parseCertEndDates(certs.stdout), deps.clock.now(), restart) : check('k3s-certificates', 'k3s certificates', 'skip', `could not read them: ${firstLine(certs.stderr || certs.stdout)}`));
    const df = await remote.exec(`df -P -k ${DATA_MOUNT}`, { timeoutMs: EXEC_TIMEOUT_MS });
    const use = df.code === 0 ? parseDf(df.stdout) : undefined;
    const grow = `Free space on it, or give the data disk more room (\`${deps.program} status ${target.name} --region ${target.region}\` shows its size); a full disk stops the databases.`;
    out.push(use ? diskSpaceCheck(use, grow) : check('data-disk-space', 'Data disk free space', 'fail', `df could not read ${DATA_MOUNT}: ${firstLine(df.stderr || df.stdout) || `exit ${String(df.code)}`}`, 'See `logs` for the boot decision: the boot mounts the data disk before k3s starts.'));
  } catch (e) {
    const have = new Set(out.map((c) => c.id));
    out.push(...skipAll(`the command over SSH failed: ${(e as Error).message}`).filter((c) => !have.has(c.id)));
  } finally {
    await remote.close().catch(() => undefined);
  }
  return out;
}

// ---------------------------------------------------------------- output

function render(deps: Deps, r: DoctorResult): void {
  const { io } = deps;
  if (io.json) {
    io.result({ cloud: r.cloud, region: r.region, name: r.name, mode: r.mode, checks: r.checks, ok: r.ok });
    return;
  }
  io.info(r.mode === 'launch' ? `Checking a launch of ${r.name} in ${r.cloud} ${r.region}:` : `Checking deployment ${r.name} in ${r.cloud} ${r.region}:`);
  for (const line of formatChecks(r.checks)) io.info(line);
  const { failed } = doctorVerdict(r.checks);
  if (failed.length) io.warn(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`);
  else io.success(`No check failed${r.checks.some((c) => c.status === 'warn') ? ' (see the warnings above)' : ''}.`);
}

const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;
const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
