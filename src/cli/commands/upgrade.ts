import { bool, forceUnlockFlag, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { perCloud } from '../cloud-text.js';
import { UsageError } from '../../core/errors.js';

export const upgradeCommand = defineCommand({
  name: 'upgrade',
  args: '[name]',
  description: 'upgrade to a newer Sourcegraph version, one minor at a time, keeping the old instance as the rollback point',
  yes: YES.confirms('upgrade'),
  flags: {
    to: str('--to <version>', 'target version: x.y.z, a minor (6.12), or latest (default: the next allowed version)'),
    image: str('--image <image>', `image for the target version (${perCloud((p) => p.imageIdExample)}; default: published or built by build-image)`),
    strategy: str('--strategy <clone|move>', 'how the data reaches the new instance (default: clone)'),
    size: str('--size <size>', 'change the instance type to this preset\'s (XS|S|M|L|XL) while upgrading'),
    initRate: str('--init-rate <MiBps>', 'clone: the provisioned initialisation rate of the new data volume, 100–300, or 0 for lazy loading (default: 300 where the cloud offers it; on a cloud without it only 0 is accepted)'),
    identityFile: str('--identity-file <path>', 'private key for SSH when the deployment uses a key the cloud keeps (--key-name)'),
    holdSeconds: str('--hold-seconds <seconds>', 'how long /healthz must keep serving the new version (default: 90)'),
    timeout: str('--timeout <minutes>', 'bound each hop\'s readiness wait, and with agents each agent\'s wait for Ready (default: 45)'),
    forceUnlock: forceUnlockFlag,
    dryRun: bool('--dry-run', 'show the chain, the steps, the costs and the first launch request; change nothing'),
    rehearse: bool('--rehearse', 'do not upgrade: run the target version\'s migrations on a throwaway copy of the data, report the times, delete the copy'),
    fromSnapshot: str('--from-snapshot <id|newest|new>', '--rehearse: the snapshot to copy (default: the newest of the running version if under 24 h old, else a new one)'),
    instanceType: str('--instance-type <type>', '--rehearse: the throwaway instance\'s type (default: production\'s)'),
    deleteSnapshot: bool('--delete-snapshot', '--rehearse: delete the snapshot the rehearsal took (default: kept as a backup)'),
    // Earlier versions let the rehearsal's copy in from this CIDR; it is now reached only through
    // production. Still accepted (with a warning) so scripts that pass it keep working.
    sshCidr: str('--ssh-cidr <cidr>', '--rehearse: ignored (kept for old scripts): the copy lets in only production\'s private address'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} upgrade prod --region us-east-1 --to 6.12.5040`,
    `${PROGRAM} upgrade prod --region us-east-1 --to 6.12.5040 --rehearse --yes`,
    `${PROGRAM} upgrade prod --region us-east-1 --to 6.12 --strategy move --yes --json`,
    `${PROGRAM} upgrade prod --region us-east-1 --dry-run`,
  ],
  helpAfter: `
Strategies:
  clone (default, safest)  stop the old instance, snapshot its data (incremental: a live snapshot was taken
                           first), launch the new instance with its data volume created from that snapshot,
                           so it never boots without its data. The old instance and its untouched volume stay
                           stopped: rollback is instant. The launch is inside the downtime window (that is
                           the price of never booting without data). The copy loads its blocks lazily from
                           the snapshot; --init-rate asks the cloud to load it at a provisioned rate (billed
                           per GiB) and the report says when it is done. Extra cost while kept: a second data
                           volume + the snapshot.
  move (cheaper, the       stop, final snapshot, detach the volume, launch the new instance without a data
  documented way)          volume (a cloud-init boothook powers it off if it boots without data: needs
                           cloud-init boothooks on the image), stop it, attach the old volume, start. No lazy
                           loading; rollback restores a volume from the snapshot instead. Extra cost: the snapshot.
Downtime is measured from the old instance stopping to the new version answering /healthz and reported
with each step's time. Multi-minor targets run hop by hop (6.5 → 6.6 → 6.7 …), each verified; missing
images stop the upgrade before anything changes and name the build-image commands.
Before the old instance stops, a failure changes nothing; after it, re-run the same command to resume or
run \`rollback\`.
After \`tls\` (your own domain): once the new version is ready, https://<domain>/healthz is probed with
the certificate verified; a name that does not resolve, a certificate that does not verify or no answer
is a warning (and \`https\` in --json), never a failure.
Behind \`tls --tls managed\`'s load balancer (AWS): each hop makes its new instance the target group's only
target (<version>:move-balancer-target, before the wait), and the wait asks https://<domain>/healthz with
the certificate verified instead of the address (which answers only the load balancer; while the domain
does not resolve, through the load balancer's own name); --json url is it.
With k3s agents (scale): once the new server serves, its k3s gets the agent-token-file drop-in again
(k3s restarts only if it changed) and each agent is checked (its k3s must not be newer than the
server's: exit 1 with the remedy, nothing joined; older: given the server's release when its image
carries it, else a warning), joined to the new server's private address over SSH and waited on until
its node is Ready (--timeout per agent). An agent not Ready in time exits 4 with the upgrade kept and
the \`scale\` command that finishes. --json adds agents [{name, node, ready}].

Rehearsal (--rehearse): production is never touched, only read. A copy of its data disk is made from a
snapshot (--from-snapshot: the newest of the running version when under 24 h old, else a new one, taken
while production keeps serving and kept as a backup unless --delete-snapshot) in production's zone, and a
throwaway instance of the target image (production's type unless --instance-type) gets it, with no public
address at all and an access policy of its own with one rule: SSH from production's private address /32.
You reach it over SSH through production, as \`ssh\` does (your key, its login user, its pinned host key),
and from there to the copy's private address: that is the only way in, and production only relays the
connection (nothing on it changes). So production's SSH must be open to your address: when it is closed
(--ssh-cidr none) or does not answer, the rehearsal refuses before making anything and says how to open it
to your address only. Whether the copy serves the target version is asked over that SSH from inside (curl
to the instance's own address). The report
gives each phase's time (snapshot, disk restore, instance start, boot and migrations to serving, stop),
the total, and the downtime the real upgrade will cost by them (stop + start with the data + boot to
serving; the final incremental snapshot of a clone upgrade comes on top). Everything the rehearsal made is
labelled role rehearsal and deleted at the end, also on failure, timeout and Ctrl-C; what an interrupted
run could not delete, the next rehearsal deletes first (\`destroy\` removes it with the deployment). It
takes no operation marker on production: an upgrade may run meanwhile. Several minors are rehearsed
as the upgrade runs them: each hop's image boots on the same copy in turn, and the estimate adds every hop.
Exit codes: 0 the copy served the target version, 1 it failed, 4 it timed out (after cleanup both), 1 also
when production's SSH is closed, unreachable or presents another host key (nothing made), 2 bad input,
130 interrupted.
`,
  run: async (deps, name, flags): Promise<unknown> => {
    if (flags.rehearse) return (await import('../../commands/rehearse.js')).runRehearse(deps, name, flags);
    const only = (['fromSnapshot', 'instanceType', 'deleteSnapshot', 'sshCidr'] as const).filter((k) => flags[k] !== undefined);
    if (only.length) throw new UsageError(`${only.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}: only with --rehearse`, { code: 'rehearse-only-flag' });
    return (await import('../../commands/upgrade.js')).runUpgrade(deps, name, flags);
  },
});

export const rollbackCommand = defineCommand({
  name: 'rollback',
  args: '[name]',
  description: 'return to the instance and data from before the last upgrade, and move the address back',
  yes: YES.confirms('roll back'),
  flags: {
    identityFile: str('--identity-file <path>', 'private key for SSH when the deployment uses a key the cloud keeps (--key-name)'),
    holdSeconds: str('--hold-seconds <seconds>', 'how long /healthz must keep serving the old version (default: 90)'),
    timeout: str('--timeout <minutes>', 'bound the readiness wait, and with agents each agent\'s wait for Ready (default: 45)'),
    forceUnlock: forceUnlockFlag,
    dryRun: bool('--dry-run', 'show what would happen and stop'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} rollback prod --region us-east-1`, `${PROGRAM} rollback prod --region us-east-1 --yes --json`],
  helpAfter:
    '\nclone: starts the pre-upgrade instance with its untouched volume. move: restores a volume from the snapshot taken\n' +
    'when the old instance stopped. The upgraded instance is stopped first and kept with its data until `prune`.\n' +
    'After `tls` (your own domain), https://<domain>/healthz is then probed with the certificate verified: a warning at most.\n' +
    'Behind `tls --tls managed`\'s load balancer the pre-upgrade instance is made its only target again (move-balancer-target)\n' +
    'before the wait, which asks https://<domain>/healthz with the certificate verified.\n' +
    'With k3s agents (scale), once it serves they are joined to it as upgrade does (the drop-in, the k3s version check,\n' +
    'the join to its private address, Ready; exit 4 with the `scale` command when one is not Ready in time).\n',
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/rollback.js')).runRollback(deps, name, flags),
});

export type UpgradeFlags = CommandFlags<typeof upgradeCommand.flags>;
export type RollbackFlags = CommandFlags<typeof rollbackCommand.flags>;
