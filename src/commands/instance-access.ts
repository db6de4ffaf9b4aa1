// How `ssh` and `logs` reach a deployment's serving instance: the same key, login user, address and
// host-key check that status, upgrade and prune use (workflows/shared.ts), and, when SSH is not
// possible, a typed error saying why and what to do — for ssh to throw, for logs to report.
import type { Cloud, Deployment, Instance } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider } from '../cloud/providers.js';
import { ExitCode, LaunchError, UsageError } from '../core/errors.js';
import type { DeploymentRecord } from '../state/store.js';
import type { Remote } from '../remote/remote.js';
import { sshChannel, type InstanceChannel } from '../remote/channel.js';
import { runCommandChannel } from '../remote/run-command-channel.js';
import { connectCloud, connectToInstance, findPrivateKey, instanceAddress, type SshAccess } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';

export interface AccessFlags extends TargetFlags {
  identityFile?: string;
  sshUser?: string;
}

export interface InstanceAccess {
  target: Target;
  cloud: Cloud;
  deployment: Deployment;
  instance: Instance;
  host?: string;
  record?: DeploymentRecord;
  /** How to log in, or why SSH is not possible (exit 1, with the remedy). */
  ssh: { access: SshAccess; host: string } | { problem: LaunchError };
}

/** The deployment's serving instance and how to reach it; exit 1 when the deployment or its instance does not exist. */
export async function reachInstance(deps: Deps, nameArg: string | undefined, flags: AccessFlags): Promise<InstanceAccess> {
  const target = resolveTarget(deps, nameArg, flags);
  const { provider, name, region } = target;
  const cloud = await connectCloud(deps, target);
  const deployment = await cloud.findDeployment(name);
  const where = `${provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`} --region ${region}`;
  const instance = deployment.instance;
  if (!instance) {
    const anything = deployment.otherInstances.length + deployment.accessPolicies.length + deployment.disks.length + deployment.addresses.length > 0;
    throw new LaunchError(anything ? 'no-instance' : 'deployment-not-found', ExitCode.failed, anything ? `Deployment ${name} has no serving instance in ${provider.id} ${region}` : `No deployment named ${name} in ${provider.id} ${region}`, {
      remediation: anything ? `\`${deps.program} status ${name}${where}\` shows what is left of it.` : `\`${deps.program} list${where}\` shows the deployments there.`,
    });
  }
  const record = deps.state.getDeployment(target.cloud, region, name);
  const host = instanceAddress(deployment, instance);
  return { target, cloud, deployment, instance, host, ...(record ? { record } : {}), ssh: await sshTo(deps, target, deployment, instance, host, record, flags) };
}

/**
 * An SSH connection to the instance for a command that cannot go on without one: why SSH is not
 * possible, or why the connection failed (explained), is thrown.
 */
export async function connectOrExplain(deps: Deps, reach: InstanceAccess, providerFlags: Record<string, string> = {}): Promise<{ remote: Remote; host: string }> {
  if ('problem' in reach.ssh) throw reach.ssh.problem;
  const { host } = reach.ssh;
  try {
    return { remote: await connectToInstance(deps, reach.cloud, reach.ssh.access, host, reach.instance.id), host };
  } catch (e) {
    throw await explainUnreachable(deps, reach, e, providerFlags);
  }
}

/**
 * An instance that does not answer on port 22 while SSH is open only to others: most often the
 * caller's address is not among them. Says so, with the command that adds it (when the caller's
 * address can be told); any other error is returned as it is.
 */
export async function explainUnreachable(deps: Deps, reach: InstanceAccess, e: unknown, providerFlags: Record<string, string> = {}): Promise<unknown> {
  if (!(e instanceof LaunchError) || e.code !== 'ssh-unreachable') return e;
  const cidrs = sshCidrsOf(reach.deployment);
  const ip = await deps.lookupPublicIp().catch(() => undefined);
  if (!ip || cidrs.some((c) => cidrContains(c, ip))) return e;
  const command = openSshCommand(deps, reach.target.provider, reach.target, reach.deployment, reach.instance, reach.record, `${ip}/32`, providerFlags);
  return new LaunchError('ssh-not-open-to-you', ExitCode.failed, `${e.message} SSH is open only to ${cidrs.join(', ')}, and your address ${ip} is not among them.`, {
    cause: e,
    remediation: `Open it to your address too with \`${command}\` (it changes only the access rules).`,
    details: { command, sshCidrs: cidrs, callerIp: ip },
  });
}

/** Whether an IPv4 CIDR holds an IPv4 address (anything else: false). */
export function cidrContains(cidr: string, ip: string): boolean {
  const toInt = (a: string) => {
    const parts = a.split('.').map(Number);
    return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) ? parts.reduce((n, p) => n * 256 + p, 0) : undefined;
  };
  const [base = '', bitsText = '32'] = cidr.split('/');
  const bits = Number(bitsText);
  const a = toInt(base);
  const b = toInt(ip);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** How to log in to `instance` over SSH, or why SSH is not possible (for a caller that already found the deployment). */
export async function sshTo(
  deps: Deps,
  target: Target,
  d: Deployment,
  instance: Instance,
  host: string | undefined,
  record: DeploymentRecord | undefined,
  flags: AccessFlags,
): Promise<InstanceAccess['ssh']> {
  const { provider, name, region } = target;
  const status = `${deps.program} status ${name} --region ${region}`;
  if (instance.state !== 'running') {
    return { problem: new LaunchError('instance-not-running', ExitCode.failed, `The instance ${instance.id} of ${name} is ${instance.state}`, { remediation: `Start it (or see \`${status}\`).` }) };
  }
  if (!host) return { problem: new LaunchError('no-address', ExitCode.failed, `The instance ${instance.id} of ${name} has no public address to connect to`, { remediation: `See \`${status}\`.` }) };
  const sshCidrs = sshCidrsOf(d);
  if (!sshCidrs.length) {
    const ip = await deps.lookupPublicIp().catch(() => undefined);
    const command = openSshCommand(deps, provider, target, d, instance, record, `${ip ?? '<your-ip>'}/32`, flags.providerFlags ?? {});
    return {
      problem: new LaunchError('ssh-closed', ExitCode.failed, `SSH to ${name} is closed: its ${provider.terms.accessPolicy} has no rule for port 22 (launched with --ssh-cidr none)`, {
        remediation:
          `Open it to your address only${ip ? ` (${ip})` : ', your public IPv4 address in place of <your-ip>'} with \`${command}\`; ` +
          'that changes only the access rules (close it again with the same command and --ssh-cidr none).',
        details: { command },
      }),
    };
  }
  const key = findPrivateKey(deps, target, record, flags.identityFile);
  if ('missing' in key) {
    return {
      problem: new LaunchError('ssh-key-missing', ExitCode.failed, `This machine has no private key for ${name}: expected ${key.missing}`, {
        remediation: 'Run from the machine that launched it, or pass --identity-file with the private key the instance trusts.',
      }),
    };
  }
  return { access: { user: flags.sshUser ?? record?.sshUser ?? provider.loginUser, privateKeyPath: key.privateKeyPath, knownHostsPath: deps.state.knownHostsPath }, host };
}

/** The CIDRs the deployment's access policies open port 22 to. */
export function sshCidrsOf(d: Deployment): string[] {
  return [...new Set(d.accessPolicies.flatMap((p) => p.rules.filter((r) => r.port === 22).map((r) => r.cidr)))];
}

/**
 * The `launch … --update` command that opens SSH to `cidr` and changes nothing else: launch refuses
 * any setting that differs from what exists, so every setting it compares is given as it is now
 * (read from the cloud, the key from this machine's record of the launch).
 */
export function openSshCommand(
  deps: Pick<Deps, 'program'>,
  provider: ProviderDescriptor,
  target: Pick<Target, 'name' | 'region'>,
  d: Deployment,
  instance: Instance,
  record: DeploymentRecord | undefined,
  cidr: string,
  providerFlags: Record<string, string>,
): string {
  const args: string[] = ['launch', target.name];
  const add = (flag: string | undefined, value: string | number | undefined) => {
    if (flag && value !== undefined && value !== '') args.push(flag, quote(String(value)));
  };
  if (provider.id !== defaultProvider().id) add('--cloud', provider.id);
  add('--region', target.region);
  for (const f of provider.flags) if (f.role === 'scope-param' && providerFlags[f.key]) add(f.spec.split(' ')[0], providerFlags[f.key]);
  const size = instance.labels.size ?? d.size;
  add('--size', size);
  add('--version', instance.labels.version ?? d.version);
  add('--image', instance.imageId);
  const http = [...new Set(d.accessPolicies.flatMap((p) => p.rules.filter((r) => (r.port === 80 || r.port === 443) && !r.purpose).map((r) => r.cidr)))].sort();
  add('--allow-cidr', http.join(','));
  add('--ssh-cidr', [...sshCidrsOf(d), cidr].join(','));
  const preset = size ? provider.sizes[size as keyof typeof provider.sizes] : undefined;
  if (!preset || instance.machineType !== preset.machineType) add('--instance-type', instance.machineType);
  const dataSlot = instance.disks.find((x) => x.role === 'data')?.diskId;
  const data = d.disks.find((v) => v.id === dataSlot);
  if (data && (!preset || data.sizeGiB !== preset.dataDisk.sizeGiB)) add('--data-size', data.sizeGiB);
  const address = d.addresses.find((a) => a.instanceId === instance.id);
  if (!address) add(provider.planFlags.address, 'none');
  else if (!address.managed) add(provider.planFlags.address, address.id);
  const plan = record?.plan as { sshKey?: { value?: { mode?: string; publicKeyPath?: string; keyName?: string } } } | undefined;
  const key = plan?.sshKey?.value;
  const theirs = instance.sshKeyName && d.sshKeys.every((k) => k.name !== instance.sshKeyName || !k.managed) ? instance.sshKeyName : undefined;
  if (key?.mode === 'import') add('--ssh-key', key.publicKeyPath);
  else if (key?.mode === 'existing') add(provider.planFlags.existingSshKey, key.keyName);
  else if (!key && theirs) add(provider.planFlags.existingSshKey, theirs);
  if (record?.sshUser && record.sshUser !== provider.loginUser) add('--ssh-user', record.sshUser);
  args.push('--update');
  return `${deps.program} ${args.join(' ')}`;
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A script run as root through `sudo sh`, sent base64-encoded so no quoting reaches the remote shell. */
export function asRoot(script: string): string {
  return `echo ${Buffer.from(script).toString('base64')} | base64 -d | sudo sh`;
}

/** Runs a command on the instance and gives its output; a non-zero exit is a failure naming `what`. */
export async function execOrFail(remote: Pick<Remote, 'exec'>, command: string, what: string, timeoutMs = 60_000): Promise<string> {
  const r = await remote.exec(command, { timeoutMs });
  if (r.code !== 0) throw new LaunchError('remote-command-failed', ExitCode.failed, `Could not ${what} on the instance: ${(r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).split('\n')[0]}`);
  return r.stdout;
}

/**
 * The scope flags a command was given (--project, --resource-group, --profile …), as they would be
 * typed again: a command printed for the user to run must reach the same deployment.
 */
export function scopeFlagsText(provider: ProviderDescriptor, providerFlags: Record<string, string> = {}): string {
  return provider.flags
    .filter((f) => f.role === 'scope-param' && providerFlags[f.key])
    .map((f) => ` ${f.spec.split(' ')[0]} ${quote(providerFlags[f.key]!)}`)
    .join('');
}

/** `--via`: how `config`, `executors enable` and `disk grow` reach the instance. */
export type Via = 'ssh' | 'run-command';

export function parseVia(value: string | undefined): Via | undefined {
  if (value === undefined) return undefined;
  if (value === 'ssh' || value === 'run-command') return value;
  throw new UsageError(`--via: "${value}" must be ssh or run-command`, { code: 'invalid-via' });
}

/** The cloud's run-command channel to the instance, or why there is none (exit 2: open SSH instead). */
export function runCommandTo(deps: Deps, reach: InstanceAccess): InstanceChannel {
  const { cloud, target, instance } = reach;
  if (!cloud.runCommand || !cloud.runCommandLimits) {
    throw new UsageError(`A run-command channel is not offered on ${target.provider.displayName} yet: open SSH (--ssh-cidr) and run again`, {
      code: 'run-command-not-offered',
      remediation: `\`${deps.program} launch ${target.name} … --ssh-cidr <your-ip>/32 --update\` opens it to your address only (\`${deps.program} ssh ${target.name}\` prints the exact command when SSH is closed).`,
    });
  }
  if (instance.state !== 'running') {
    throw new LaunchError('instance-not-running', ExitCode.failed, `The instance ${instance.id} of ${target.name} is ${instance.state}: ${cloud.runCommandLimits.name} needs it running`, {
      remediation: `Start it (or see \`${deps.program} status ${target.name} --region ${target.region}\`).`,
    });
  }
  const run = cloud.runCommand.bind(cloud);
  return runCommandChannel({ run: (script, timeoutMs) => run(instance.id, script, timeoutMs), limits: cloud.runCommandLimits, instance: instance.id });
}

/**
 * How a command that changes things on the instance reaches it: SSH when the deployment's SSH is
 * open and answers, else the cloud's run-command channel (where the cloud offers one), or the one
 * `--via` forces. Says which. Throws why neither is possible.
 */
export async function openChannel(deps: Deps, reach: InstanceAccess, flags: { via?: string; providerFlags?: Record<string, string> }): Promise<InstanceChannel> {
  const via = parseVia(flags.via);
  const { io } = deps;
  const offered = Boolean(reach.cloud.runCommand && reach.cloud.runCommandLimits);
  const name = reach.cloud.runCommandLimits?.name ?? 'the run-command channel';
  const overRunCommand = (why: string) => {
    const channel = runCommandTo(deps, reach);
    io.info(`Reaching ${reach.target.name} through ${channel.description} (${why}).`);
    return channel;
  };
  if (via === 'run-command') return overRunCommand('--via run-command');
  if (via !== 'ssh' && 'problem' in reach.ssh && offered && reach.instance.state === 'running') return overRunCommand(`no SSH: ${reach.ssh.problem.message}`);
  try {
    const { remote, host } = await connectOrExplain(deps, reach, flags.providerFlags);
    const user = 'access' in reach.ssh ? reach.ssh.access.user : '';
    io.info(`Reaching ${reach.target.name} over SSH (${user ? `${user}@` : ''}${host}).`);
    return sshChannel(remote, `SSH (${user ? `${user}@` : ''}${host})`);
  } catch (e) {
    const code = e instanceof LaunchError ? e.code : undefined;
    if (via !== 'ssh' && offered && (code === 'ssh-unreachable' || code === 'ssh-not-open-to-you')) {
      return overRunCommand(`SSH did not connect: ${(e as Error).message.split('\n')[0]}; ${name} needs no open port`);
    }
    throw e;
  }
}
