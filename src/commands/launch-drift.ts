// What `launch` finds when the deployment already exists (by its tags, made from any machine):
// each setting that differs from what this run asks for, and how to change it. Launch changes
// nothing about an existing deployment but its access rules, and those only with --update; a
// re-run with the same settings resumes or does nothing.
import type { Deployment } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { addressText, type LaunchPlan } from '../core/launch-plan.js';
import { labelNamesFingerprint } from '../remote/host-keys.js';

export interface Difference {
  setting: string;
  exists: string;
  wanted: string;
  /** The command or flag that changes it (or makes this run match). */
  fix: string;
  /** Access rules are the only thing `--update` may change on an existing deployment. */
  access: boolean;
}

export interface RuleChange {
  port: number;
  cidr: string;
  change: 'open' | 'close';
}

export interface Drift {
  /** Something of the deployment exists (an instance, an access policy, an SSH key …). */
  exists: boolean;
  instanceId?: string;
  differences: Difference[];
  /** What --update would do to the access policy. */
  ruleChanges: RuleChange[];
}

const GOVERNED_PORTS = [80, 443, 22];

function rulesOf(d: Deployment): Set<string> {
  const out = new Set<string>();
  for (const g of d.accessPolicies) {
    // A rule opened for a purpose (tls --tls acme's port 80 to the world) is that command's, not launch's.
    for (const r of g.rules) if (GOVERNED_PORTS.includes(r.port) && !r.purpose) out.add(`${r.port} ${r.cidr}`);
  }
  return out;
}

function wantedRules(plan: Pick<LaunchPlan, 'allowCidrs' | 'sshCidrs'>): Set<string> {
  const out = new Set<string>();
  for (const port of [80, 443]) for (const c of plan.allowCidrs.value) out.add(`${port} ${c}`);
  for (const c of plan.sshCidrs.value) out.add(`22 ${c}`);
  return out;
}

const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'nobody');

/**
 * Compares the plan with what exists. `localKeyFingerprint` is the fingerprint of the public key
 * this run would use (undefined when it would generate a new one: this machine has none).
 */
export function diffDeployment(
  plan: LaunchPlan,
  d: Deployment,
  opts: { localKeyFingerprint?: string; command: string; provider: Pick<ProviderDescriptor, 'terms' | 'planFlags'> },
): Drift {
  const exists = Boolean(d.instance || d.otherInstances.length || d.accessPolicies.length || d.sshKeys.length || d.addresses.length);
  const instance = d.instance && d.instance.labels.role === 'instance' ? d.instance : undefined;
  const { terms, planFlags } = opts.provider;
  const addressFlag = planFlags.address ?? '--address';
  const differences: Difference[] = [];
  const add = (setting: string, existsText: string, wanted: string, fix: string, access = false) =>
    differences.push({ setting, exists: existsText, wanted, fix, access });

  // Access rules: exactly what the access policy opens on the ports launch governs.
  const have = rulesOf(d);
  const want = wantedRules(plan);
  const ruleChanges: RuleChange[] = d.accessPolicies.length ? accessRuleChanges(d, plan) : [];
  if (d.accessPolicies.length) {
    const cidrsOn = (rules: Set<string>, ports: number[]) => [...new Set([...rules].filter((r) => ports.includes(Number(r.split(' ')[0]))).map((r) => r.split(' ')[1]!))].sort();
    const httpHave = cidrsOn(have, [80, 443]);
    const httpWant = cidrsOn(want, [80, 443]);
    if (httpHave.join() !== httpWant.join()) add('HTTP/HTTPS from', list(httpHave), list(httpWant), `\`${opts.command} --update\` applies the rule changes`, true);
    const sshHave = cidrsOn(have, [22]);
    const sshWant = cidrsOn(want, [22]);
    if (sshHave.join() !== sshWant.join()) add('SSH from', list(sshHave), list(sshWant), `\`${opts.command} --update\` applies the rule changes`, true);
  }

  if (instance) {
    const version = instance.labels.version;
    if (version && version !== plan.version.value) {
      add('version', version, plan.version.value, `\`upgrade ${plan.name.value} --region ${plan.region.value} --to ${plan.version.value}\` (launch never replaces a running deployment)`);
    }
    const size = instance.labels.size;
    if (size && size !== plan.size.value) add('size', size, plan.size.value, `pass --size ${size} to match (launch does not resize; \`upgrade --size\` changes the type at an upgrade)`);
    if (instance.machineType !== plan.instanceType.value && (!size || size === plan.size.value)) {
      add('instance type', instance.machineType, plan.instanceType.value, `pass --instance-type ${instance.machineType} to match`);
    }
    if (plan.image.source === 'flag' && instance.imageId !== plan.image.value.id) {
      add('image', instance.imageId, plan.image.value.id, `pass --image ${instance.imageId} to match, or \`upgrade\` to move to another image`);
    }
    if (plan.subnet.value && instance.subnetId && instance.subnetId !== plan.subnet.value) {
      add('subnet', instance.subnetId, plan.subnet.value, `pass --subnet ${instance.subnetId} to match`);
    }
    const data = instance.disks.find((m) => m.role === 'data') ?? instance.disks.find((m) => !m.deleteWithInstance);
    const volume = data ? d.disks.find((v) => v.id === data.diskId) : undefined;
    if (volume && volume.sizeGiB !== plan.dataSizeGiB.value) {
      add('data volume', `${volume.sizeGiB} GiB`, `${plan.dataSizeGiB.value} GiB`, `pass --data-size ${volume.sizeGiB} to match (launch does not resize the data volume)`);
    }
    const address = d.addresses.find((a) => a.instanceId === instance.id);
    const e = plan.address.value;
    const existingText = address ? `${address.ip} (${address.id}${address.managed ? '' : ', yours'})` : 'none';
    if (e.mode === 'none' && address) add('address', existingText, 'none', `pass ${addressFlag} ${address.managed ? 'new' : address.id} to match`);
    if (e.mode === 'existing' && address?.id !== e.id) {
      add('address', existingText, addressText(e), address ? `pass ${addressFlag} ${address.managed ? 'new' : address.id} to match` : `pass ${addressFlag} none to match`);
    }
    if (e.mode === 'new' && address && !address.managed) add('address', existingText, 'new', `pass ${addressFlag} ${address.id} to match`);
  }

  // The SSH key: this machine must hold the private half of the key the deployment trusts.
  const key = plan.sshKey.value;
  if (key.mode === 'existing') {
    const used = instance?.sshKeyName ?? d.sshKeys[0]?.name;
    if (used && used !== key.keyName) add(`SSH ${terms.sshKey}`, used, key.keyName, `pass ${planFlags.existingSshKey ?? '--key-name'} ${used} to match`);
  } else {
    // Where the cloud keeps keys by name (AWS key pairs) the key carries the label; elsewhere the instance does.
    const ours = d.sshKeys.find((k) => k.managed);
    const recorded = ours?.labels['key-fingerprint'] ?? instance?.labels['key-fingerprint'];
    const differs = recorded ? !opts.localKeyFingerprint || !labelNamesFingerprint(recorded, opts.localKeyFingerprint) : ours !== undefined && opts.localKeyFingerprint === undefined;
    if ((ours || recorded) && differs) {
      add(
        'SSH key',
        `${ours ? `${terms.sshKey} ${ours.name}` : 'the instance\'s key'}${recorded ? ` (${recorded})` : ''}`,
        opts.localKeyFingerprint ?? 'a new key made on this machine',
        ours && planFlags.existingSshKey
          ? `this machine does not hold that key: pass ${planFlags.existingSshKey} ${ours.name} --identity-file <its private key>, or run from the machine that launched it`
          : 'this machine does not hold that key: run from the machine that launched it, or pass --ssh-key with the public key the deployment trusts',
      );
    }
  }
  return { exists, instanceId: instance?.id, differences, ruleChanges };
}

/** What makes the governed rules (80/443/22) exactly the plan's: the rules to open and to close. */
export function accessRuleChanges(d: Deployment, plan: Pick<LaunchPlan, 'allowCidrs' | 'sshCidrs'>): RuleChange[] {
  const have = rulesOf(d);
  const want = wantedRules(plan);
  const changes: RuleChange[] = [];
  for (const r of want) if (!have.has(r)) changes.push({ port: Number(r.split(' ')[0]), cidr: r.split(' ')[1]!, change: 'open' });
  for (const r of have) if (!want.has(r)) changes.push({ port: Number(r.split(' ')[0]), cidr: r.split(' ')[1]!, change: 'close' });
  return changes;
}

export function describeRuleChanges(changes: RuleChange[]): string[] {
  return changes.map((c) => `${c.change === 'open' ? '+ open ' : '- close'} ${c.port === 22 ? '22 (SSH)' : `${c.port}`} to ${c.cidr}`);
}
