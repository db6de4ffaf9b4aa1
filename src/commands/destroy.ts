// `destroy [name]`: delete exactly the resources labelled with the deployment, after showing them
// and asking for the name to be typed. The data (data disks, snapshots and the snapshot schedule) is
// kept unless --delete-data; an address or SSH key the user brought is never released or deleted.
// Validate → find and show the plan (under the hold) → ask → run the destroy workflow → report.
import type { DestroyFlags } from '../cli/commands/destroy.js';
import type { ProviderTerms } from '../cloud/provider.js';
import { defaultProvider } from '../cloud/providers.js';
import { DeclinedError, ExitCode, LaunchError, MissingInputError } from '../core/errors.js';
import { KEPT_ACTIONS, runDestroyWorkflow, type DestroyAction } from '../workflows/destroy.js';
import { connectCloud } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { resolveTarget, type Target, type TargetFlags } from './target.js';
import { removeDns } from './tls-dns.js';

export type { DestroyAction } from '../workflows/destroy.js';

function verbs(terms: ProviderTerms): Record<DestroyAction['action'], string> {
  return {
    terminate: 'terminate instance',
    'release-address': `release ${terms.address}`,
    'disassociate-address': 'disassociate address',
    'untag-address': 'untag your address',
    'delete-security-group': `delete ${terms.accessPolicy}`,
    'delete-key-pair': `delete ${terms.sshKey}`,
    'delete-volume': `DELETE data ${terms.disk}`,
    'keep-volume': `keep data ${terms.disk}`,
    'delete-snapshot': 'DELETE snapshot',
    'keep-snapshot': 'keep snapshot',
    'delete-schedule': 'delete snapshot policy',
    'keep-schedule': 'keep snapshot policy',
  };
}

/** The flags that name this deployment again in a printed command (--cloud only off the default cloud). */
function whereArgs(target: Target): string {
  return `--region ${target.region}${target.provider.id === defaultProvider().id ? '' : ` --cloud ${target.cloud}`}`;
}

/** What was kept, as the JSON has always named it. */
function keptJson(kept: DestroyAction[]) {
  return kept.map((a) => (a.action === 'keep-volume' ? { volumeId: a.id } : a.action === 'keep-snapshot' ? { snapshotId: a.id } : { policyId: a.id }));
}

export async function runDestroy(deps: Deps, nameArg: string | undefined, flags: DestroyFlags & TargetFlags) {
  const { io } = deps;
  const target = resolveTarget(deps, nameArg, flags);
  const terms = target.provider.terms;
  const verb = verbs(terms);
  const line = (a: DestroyAction) => `  ${verb[a.action].padEnd(24)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`;
  const where = `${target.cloud} ${target.region}`;
  const cloud = await connectCloud(deps, target);
  // The DNS record `tls` set in the cloud's zone (this machine's record says which): deleted after
  // the rest, only while it still points at the deployment's address. Read now: the workflow
  // forgets the deployment record.
  const dnsRec = deps.state.getDeployment(target.cloud, target.region, target.name)?.tlsDns;
  // The load balancer of `tls --tls managed` (tls-managed.ts), deleted after the instance and its rules.
  const managedRec = deps.state.getDeployment(target.cloud, target.region, target.name)?.tlsManaged;
  // The instance's role for tls --tls acme's DNS-01 challenge (tls-acme-dns.ts), deleted after the instance.
  const acmeDnsRec = deps.state.getDeployment(target.cloud, target.region, target.name)?.acmeDns;

  const outcome = await runDestroyWorkflow(deps, cloud, target, {
    deleteData: Boolean(flags.deleteData),
    dryRun: Boolean(flags.dryRun),
    forceUnlock: Boolean(flags.forceUnlock),
    approve: async (actions) => {
      io.info(`destroy ${target.name} (${where}) will:`);
      for (const a of actions) io.info(line(a));
      if (dnsRec) io.info(`  ${'delete DNS record'.padEnd(24)} ${dnsRec.name} A ${dnsRec.value}  zone ${dnsRec.zoneName}, only if it still points there`);
      if (acmeDnsRec) io.info(`  ${'delete IAM role'.padEnd(24)} ${acmeDnsRec.role} and its instance profile (tls --tls acme, DNS-01)`);
      if (managedRec) io.info(`  ${'delete load balancer'.padEnd(24)} for ${managedRec.domain}: its listeners, backend, access rules, created subnet, certificate and DNS records`);
      if (actions.some((a) => KEPT_ACTIONS.has(a.action))) io.info(`The data is kept (${terms.disk}s, snapshots, snapshot policy). Add --delete-data to delete it too.`);
      if (flags.dryRun || flags.yes) return;
      if (!io.interactive) throw new MissingInputError('--yes', 'to destroy when not running interactively');
      const typed = await io.input({ message: `Type the deployment name (${target.name}) to confirm` });
      if (typed.trim() !== target.name) throw new DeclinedError(`The name did not match (typed "${typed.trim()}", not "${target.name}"): nothing changed.`);
    },
  });
  const base = { name: target.name, cloud: target.cloud, region: target.region };

  switch (outcome.kind) {
    case 'not-found': {
      // The same "not found" (exit 1) as `status`, unless the caller says a missing deployment is fine.
      if (!flags.ignoreMissing) {
        throw new LaunchError('deployment-not-found', ExitCode.failed, `No deployment named ${target.name} in ${where}`, {
          remediation: `\`${deps.program} list ${whereArgs(target)}\` shows the deployments there; --ignore-missing makes this exit 0.`,
        });
      }
      const result = { ...base, deleted: [], kept: [], message: 'not found' };
      if (io.json) io.result(result);
      else io.info(`No deployment named ${target.name} in ${where}: nothing to delete.`);
      return result;
    }
    case 'nothing-to-delete': {
      const kept = outcome.actions;
      const result = { ...base, deleted: [], kept: keptJson(kept), message: 'nothing to delete' };
      if (io.json) io.result(result);
      else {
        io.info(`Nothing of deployment ${target.name} in ${where} is left to delete${kept.length ? ' but its data:' : '.'}`);
        for (const a of kept) io.info(line(a));
        if (kept.length) io.info('Add --delete-data to delete the data too.');
      }
      return result;
    }
    case 'dry-run': {
      const result = { ...base, dryRun: true, actions: outcome.actions };
      if (io.json) io.result(result);
      return result;
    }
    case 'destroyed': {
      const kept = outcome.actions.filter((a) => KEPT_ACTIONS.has(a.action));
      const dnsRecord = dnsRec ? await removeDns(deps, cloud, dnsRec) : undefined;
      const managedHttps = managedRec ? await (await import('./tls-managed.js')).removeManagedTls(deps, cloud, target.name, managedRec, { instanceGone: true }) : undefined;
      const instanceRole = acmeDnsRec && cloud.acmeDnsAccess ? { removed: await cloud.acmeDnsAccess.remove(target.name) } : undefined;
      for (const r of instanceRole?.removed ?? []) io.success(`Deleted ${r}.`);
      const result = {
        ...base,
        deleted: outcome.actions.filter((a) => !KEPT_ACTIONS.has(a.action)).map((a) => ({ action: a.action, id: a.id })),
        kept: keptJson(kept),
        ...(dnsRecord ? { dnsRecord } : {}),
        ...(managedHttps ? { managedHttps } : {}),
        ...(instanceRole ? { instanceRole } : {}),
      };
      if (io.json) io.result(result);
      else {
        io.success(`Deployment ${target.name} destroyed.`);
        if (kept.length) {
          io.info(`Kept its data (${kept.map((a) => a.id).join(', ')}): \`${deps.program} destroy ${target.name} ${whereArgs(target)} --delete-data\` deletes it when you no longer need it.`);
        }
      }
      return result;
    }
  }
}
