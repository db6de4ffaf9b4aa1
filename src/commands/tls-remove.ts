// `tls --remove [name]`: undoes what `tls` installed. Over SSH, provision/remove-tls.sh deletes the
// secret, redirect and ingresses from k3s and the certificate files from the data disk (so the boot
// service does not serve them again). Then the A record `tls` made in the cloud's DNS zone (as this
// machine's deployment record says) is deleted, only while it still points at the deployment's
// address. Never the certificate files on this machine, the zone, or any other record.
// After `tls --tls acme` it also removes Traefik's Let's Encrypt configuration and storage
// (provision/remove-acme.sh, a no-op otherwise) and closes the port-80 rule that command opened
// (only that rule: found by its mark on the deployment's access policy); after its DNS-01 challenge,
// it deletes the instance's role for it (tls-acme-dns.ts: taken off the instance first).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, LaunchError, UsageError } from '../core/errors.js';
import { confirmOrYes } from '../workflows/shared.js';
import type { Deps } from './deps.js';
import { asRoot, connectOrExplain, execOrFail, reachInstance } from './instance-access.js';
import { locateProvisionBundle } from './provision-bundle.js';
import { removeDns, type DnsRemoval } from './tls-dns.js';
import { revokeDnsAccess } from './tls-acme-dns.js';
import { resolveTarget } from './target.js';
import { TLS_DIR, type TlsFlags } from './tls.js';

export interface TlsRemoveResult {
  name: string;
  removed: { certificateFrom: string; ingresses: string[] };
  /** The record `tls` made: deleted, already gone, or pointing elsewhere (left); none when it made none (or --no-dns). */
  dnsRecord?: DnsRemoval;
  /** The port-80 rule `tls --tls acme` opened to the world: closed, or none (absent; also on clouds without such rules). */
  port80Rule?: { policyId: string; outcome: 'closed' | 'absent' };
  /** What of the instance's identity for the DNS-01 challenge was deleted (none: it had none). */
  instanceRole?: { removed: string[] };
  /** What was kept on purpose. */
  kept: string[];
}

export async function runTlsRemove(deps: Deps, nameArg: string | undefined, flags: TlsFlags): Promise<TlsRemoveResult> {
  const { io } = deps;
  const extra = (['domain', 'tlsCert', 'tlsKey', 'tls', 'timeout', 'acmeEmail', 'acmeChallenge'] as const).filter((k) => flags[k] !== undefined);
  if (extra.length) {
    const spell = { domain: '--domain', tlsCert: '--tls-cert', tlsKey: '--tls-key', tls: '--tls', timeout: '--timeout', acmeEmail: '--acme-email', acmeChallenge: '--acme-challenge' };
    throw new UsageError(`--remove takes no ${extra.map((k) => spell[k]).join(', ')}: it removes what tls installed on the deployment`, { code: 'bad-input', remediation: `\`${deps.program} tls ${nameArg ?? ''} --remove\``.replace('  ', ' ') });
  }
  {
    // Served through the cloud's load balancer (tls --tls managed): removed in the cloud, no SSH.
    const t = resolveTarget(deps, nameArg, flags);
    const local = deps.state.getDeployment(t.cloud, t.region, t.name);
    if (local?.tlsManaged && !local.tls) return (await import('./tls-managed.js')).runManagedTlsRemove(deps, nameArg, flags) as unknown as TlsRemoveResult;
  }
  const bundle = locateProvisionBundle(deps.provisionDir).provisionDir;
  const script = readFileSync(join(bundle, 'remove-tls.sh'), 'utf8');
  const acmeScript = readFileSync(join(bundle, 'remove-acme.sh'), 'utf8');
  const reach = await reachInstance(deps, nameArg, flags);
  const name = reach.target.name;
  if (!reach.host) throw new LaunchError('no-address', ExitCode.failed, `${name} has no public address to connect to`, { remediation: `See \`${deps.program} status ${name}\`.` });
  const dnsRec = flags.dns === false ? undefined : reach.record?.tlsDns;
  // The cloud is the source of truth for the rule: found by its mark, from any machine.
  const worldRules = reach.cloud.closeWorldPort
    ? reach.deployment.accessPolicies.filter((p) => p.labels.deployment === name && p.rules.some((r) => r.purpose === 'acme-http-01')).map((p) => p.id)
    : [];

  io.info(`tls --remove ${name} will:`);
  io.info(`  delete the HTTPS ingresses, the redirect and the certificate secret from k3s, and the certificate in ${TLS_DIR}`);
  if (dnsRec) io.info(`  delete the DNS record ${dnsRec.name} A ${dnsRec.value} from the zone ${dnsRec.zoneName}, if it still points there`);
  io.info('  remove Traefik\'s Let\'s Encrypt configuration and its storage on the data disk, if tls --tls acme made them');
  for (const id of worldRules) io.info(`  close port 80 to 0.0.0.0/0 on ${id} (the rule tls --tls acme opened)`);
  if (reach.record?.acmeDns) io.info(`  take the instance profile ${reach.record.acmeDns.profile} off the instance and delete it and the IAM role ${reach.record.acmeDns.role} (tls --tls acme's DNS-01 challenge)`);
  io.info('Your certificate files on this machine and your DNS zone are not touched; http://<address> keeps answering.');
  await confirmOrYes(deps, flags, `Remove HTTPS${reach.record?.tls ? ` for ${reach.record.tls.domain}` : ''} from ${name}?`, 'remove HTTPS');

  const { remote } = await connectOrExplain(deps, reach, flags.providerFlags);
  try {
    const out = await execOrFail(remote, asRoot(`set -eu\nt=$(mktemp)\ntrap 'rm -f "$t"' EXIT\nprintf '%s' '${Buffer.from(script).toString('base64')}' | base64 -d > "$t"\nbash "$t"\n`), 'remove the certificate (remove-tls.sh)');
    io.info(out.trim().split('\n').pop() ?? '');
    const acmeOut = await execOrFail(remote, asRoot(`set -eu\nt=$(mktemp)\ntrap 'rm -f "$t"' EXIT\nprintf '%s' '${Buffer.from(acmeScript).toString('base64')}' | base64 -d > "$t"\nbash "$t"\n`), 'remove the Let\'s Encrypt configuration (remove-acme.sh)');
    io.info(acmeOut.trim().split('\n').pop() ?? '');
  } finally {
    await remote.close().catch(() => undefined);
  }

  let port80Rule: TlsRemoveResult['port80Rule'];
  for (const policyId of worldRules) {
    const outcome = await reach.cloud.closeWorldPort!(policyId, 80, 'acme-http-01');
    port80Rule = { policyId, outcome };
    if (outcome === 'closed') io.success(`Closed port 80 to 0.0.0.0/0 on ${policyId}.`);
  }
  const roleRemoved = await revokeDnsAccess(deps, reach.cloud, reach.target, reach.instance);
  const dnsRecord = dnsRec ? await removeDns(deps, reach.cloud, dnsRec) : undefined;
  if (reach.record) {
    const { tls: _tls, tlsDns: _dns, acmeDns: _role, ...rest } = reach.record;
    // A record left pointing elsewhere is no longer ours to delete later either.
    deps.state.putDeployment({ ...rest, updatedAt: new Date(deps.clock.now()).toISOString() });
  }
  const result: TlsRemoveResult = {
    name,
    removed: { certificateFrom: TLS_DIR, ingresses: ['sourcegraph-tls', 'sourcegraph-tls-redirect'] },
    ...(dnsRecord ? { dnsRecord } : {}),
    ...(port80Rule ? { port80Rule } : {}),
    ...(roleRemoved ? { instanceRole: { removed: roleRemoved } } : {}),
    kept: ['your certificate and key files on this machine', ...(dnsRec ? [`the DNS zone ${dnsRec.zoneName}`] : reach.record?.acmeDns ? [`the DNS zone ${reach.record.acmeDns.zone.name}`] : [])],
  };
  if (io.json) io.result(result);
  else io.success(`HTTPS removed from ${name}.`);
  return result;
}
