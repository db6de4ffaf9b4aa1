// What `launch` finds when the deployment already exists (by its tags, made from any machine):
// each setting that differs from what this run asks for, and how to change it. Launch changes
// nothing about an existing deployment but its access rules, and those only with --update; a
// re-run with the same settings resumes or does nothing.
import { TAG_KEY_FINGERPRINT, TAG_ROLE, TAG_SIZE, TAG_VERSION, type DeploymentResources } from '../cloud/cloud.js';
import type { LaunchPlan } from '../core/launch-plan.js';

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
  /** Something of the deployment exists (an instance, a security group, a key pair …). */
  exists: boolean;
  instanceId?: string;
  differences: Difference[];
  /** What --update would do to the security group. */
  ruleChanges: RuleChange[];
}

const GOVERNED_PORTS = [80, 443, 22];

function rulesOf(d: DeploymentResources): Set<string> {
  const out = new Set<string>();
  for (const g of d.securityGroups) {
    for (const r of g.ingress) {
      if (r.protocol === 'tcp' && r.fromPort !== undefined && r.fromPort === r.toPort && GOVERNED_PORTS.includes(r.fromPort)) out.add(`${r.fromPort} ${r.cidr}`);
    }
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
  d: DeploymentResources,
  opts: { localKeyFingerprint?: string; command: string },
): Drift {
  const exists = Boolean(d.instance || d.otherInstances.length || d.securityGroups.length || d.keyPairs.length || d.addresses.length);
  const instance = d.instance && d.instance.tags[TAG_ROLE] === 'instance' ? d.instance : undefined;
  const differences: Difference[] = [];
  const add = (setting: string, existsText: string, wanted: string, fix: string, access = false) =>
    differences.push({ setting, exists: existsText, wanted, fix, access });

  // Access rules: exactly what the security group opens on the ports launch governs.
  const have = rulesOf(d);
  const want = wantedRules(plan);
  const ruleChanges: RuleChange[] = [];
  if (d.securityGroups.length) {
    for (const r of want) if (!have.has(r)) ruleChanges.push({ port: Number(r.split(' ')[0]), cidr: r.split(' ')[1]!, change: 'open' });
    for (const r of have) if (!want.has(r)) ruleChanges.push({ port: Number(r.split(' ')[0]), cidr: r.split(' ')[1]!, change: 'close' });
    const cidrsOn = (rules: Set<string>, ports: number[]) => [...new Set([...rules].filter((r) => ports.includes(Number(r.split(' ')[0]))).map((r) => r.split(' ')[1]!))].sort();
    const httpHave = cidrsOn(have, [80, 443]);
    const httpWant = cidrsOn(want, [80, 443]);
    if (httpHave.join() !== httpWant.join()) add('HTTP/HTTPS from', list(httpHave), list(httpWant), `\`${opts.command} --update\` applies the rule changes`, true);
    const sshHave = cidrsOn(have, [22]);
    const sshWant = cidrsOn(want, [22]);
    if (sshHave.join() !== sshWant.join()) add('SSH from', list(sshHave), list(sshWant), `\`${opts.command} --update\` applies the rule changes`, true);
  }

  if (instance) {
    const version = instance.tags[TAG_VERSION];
    if (version && version !== plan.version.value) {
      add('version', version, plan.version.value, `\`upgrade ${plan.name.value} --region ${plan.region.value} --to ${plan.version.value}\` (launch never replaces a running deployment)`);
    }
    const size = instance.tags[TAG_SIZE];
    if (size && size !== plan.size.value) add('size', size, plan.size.value, `pass --size ${size} to match (launch does not resize; \`upgrade --size\` changes the type at an upgrade)`);
    if (instance.instanceType !== plan.instanceType.value && (!size || size === plan.size.value)) {
      add('instance type', instance.instanceType, plan.instanceType.value, `pass --instance-type ${instance.instanceType} to match`);
    }
    if (plan.image.source === 'flag' && instance.imageId !== plan.image.value.id) {
      add('image', instance.imageId, plan.image.value.id, `pass --image ${instance.imageId} to match, or \`upgrade\` to move to another image`);
    }
    if (plan.subnet.value && instance.subnetId && instance.subnetId !== plan.subnet.value) {
      add('subnet', instance.subnetId, plan.subnet.value, `pass --subnet ${instance.subnetId} to match`);
    }
    const data = instance.volumes.find((m) => !m.deleteOnTermination);
    const volume = data ? d.volumes.find((v) => v.id === data.volumeId) : undefined;
    if (volume && volume.sizeGiB !== plan.dataSizeGiB.value) {
      add('data volume', `${volume.sizeGiB} GiB`, `${plan.dataSizeGiB.value} GiB`, `pass --data-size ${volume.sizeGiB} to match (launch does not resize the data volume)`);
    }
    const address = d.addresses.find((a) => a.instanceId === instance.id);
    const e = plan.elasticIp.value;
    const existingText = address ? `${address.publicIp} (${address.allocationId}${address.managed ? '' : ', yours'})` : 'none';
    if (e.mode === 'none' && address) add('address', existingText, 'none', `pass --elastic-ip ${address.managed ? 'new' : address.allocationId} to match`);
    if (e.mode === 'existing' && address?.allocationId !== e.allocationId) {
      add('address', existingText, e.allocationId, address ? `pass --elastic-ip ${address.managed ? 'new' : address.allocationId} to match` : 'pass --elastic-ip none to match');
    }
    if (e.mode === 'new' && address && !address.managed) add('address', existingText, 'new', `pass --elastic-ip ${address.allocationId} to match`);
  }

  // The SSH key: this machine must hold the private half of the key the deployment trusts.
  const key = plan.sshKey.value;
  if (key.mode === 'existing') {
    const used = instance?.keyName ?? d.keyPairs[0]?.name;
    if (used && used !== key.keyName) add('SSH key pair', used, key.keyName, `pass --key-name ${used} to match`);
  } else {
    const ours = d.keyPairs.find((k) => k.managed);
    const recorded = ours?.tags[TAG_KEY_FINGERPRINT];
    const differs = recorded ? recorded !== opts.localKeyFingerprint : ours !== undefined && opts.localKeyFingerprint === undefined;
    if (ours && differs) {
      add(
        'SSH key',
        `key pair ${ours.name}${recorded ? ` (${recorded})` : ''}`,
        opts.localKeyFingerprint ?? 'a new key made on this machine',
        `this machine does not hold that key: pass --key-name ${ours.name} --identity-file <its private key>, or run from the machine that launched it`,
      );
    }
  }
  return { exists, instanceId: instance?.id, differences, ruleChanges };
}

export function describeRuleChanges(changes: RuleChange[]): string[] {
  return changes.map((c) => `${c.change === 'open' ? '+ open ' : '- close'} ${c.port === 22 ? '22 (SSH)' : `${c.port}`} to ${c.cidr}`);
}
