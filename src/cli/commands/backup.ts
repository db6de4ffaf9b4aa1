import { bool, forceUnlockFlag, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { perCloud } from '../cloud-text.js';

export const backupCommand = defineCommand({
  name: 'backup',
  args: '[name]',
  description: 'snapshot the data volume now (tagged with version and time), or schedule daily snapshots',
  yes: YES.never('backup'),
  flags: {
    schedule: str('--schedule <daily>', `create the cloud's snapshot schedule instead of one snapshot (${perCloud((p) => p.terms.snapshotSchedules)})`),
    retain: str('--retain <N>', 'with --schedule: how many scheduled snapshots to keep (default: 7)'),
    wait: bool('--wait', 'wait until the snapshot completes'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} backup prod --region us-east-1`, `${PROGRAM} backup prod --region us-east-1 --schedule daily --retain 14`],
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/backup.js')).runBackup(deps, name, flags),
});

export const backupsCommand = defineCommand({
  name: 'backups',
  args: '[name]',
  description: 'list the snapshots of a deployment with purpose, version, size and age',
  yes: YES.never('backups'),
  flags: {},
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} backups prod --region us-east-1`, `${PROGRAM} backups prod --region us-east-1 --json`],
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/backup.js')).runBackups(deps, name, flags),
});

export const restoreCommand = defineCommand({
  name: 'restore',
  args: '[name]',
  description: 'launch a new instance at a snapshot\'s version with its data volume made from the snapshot',
  yes: YES.confirms('restore'),
  flags: {
    snapshot: str('--snapshot <snapshot-id>', 'the snapshot to restore (see `backups`)', { required: true }),
    image: str('--image <image>', `image to boot (${perCloud((p) => p.imageIdExample)}; default: the one for the snapshot's version)`),
    dryRun: bool('--dry-run', 'show the launch request and stop'),
    wait: negatable('--no-wait', 'return as soon as the instance runs (not with agents: they join once it serves)'),
    timeout: str('--timeout <minutes>', 'bound the readiness wait, and with agents each agent\'s wait for Ready (default: 45)'),
  },
  target: { name: 'the deployment to restore into, the same as the [name] argument; another name than the snapshot\'s makes a staging copy' },
  cloud: true,
  examples: [`${PROGRAM} restore prod --region us-east-1 --snapshot snap-0abc…`, `${PROGRAM} restore prod-copy --region us-east-1 --snapshot snap-0abc… --yes`],
  helpAfter:
    '\nThe data volume exists before the first boot. A deployment with a running instance never gets a second one.\n' +
    'Under the same name the deployment\'s address (its URL) moves to the restored instance, and behind `tls --tls managed`\'s\n' +
    'load balancer the restored instance becomes its only target (move-balancer-target); the wait then asks https://<domain>/healthz.\n' +
    'An interrupted restore re-run with the same --snapshot resumes with the instance it made.\n' +
    'It then waits, as launch and upgrade do, until the restored instance serves the snapshot\'s version (progress on\n' +
    'stderr; SSH stages when SSH is open); past --timeout it exits 4 with nothing undone, saying what to check, and\n' +
    'the same command resumes the wait. With a domain (`tls`) it then checks https://<domain> with the certificate\n' +
    'verified (a failure is a warning). --json: ready (false with --no-wait), https when checked.\n' +
    'With k3s agents (scale): running agents do not make it refuse; it waits until the restored server serves,\n' +
    'then joins them to it as upgrade does (--json: agents [{name, node, ready}]); --no-wait then exits 2.\n',
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/restore.js')).runRestore(deps, name, flags),
});

export const pruneCommand = defineCommand({
  name: 'prune',
  args: '[name]',
  description: 'remove what finished upgrades, rollbacks and restores left as a way back, after showing each item, why, and its cost',
  yes: YES.confirms('remove'),
  flags: {
    retain: str('--retain <N>', 'also remove backups beyond the newest N'),
    snapshotFirst: bool('--snapshot-first', 'snapshot a rollback volume that has no snapshot since it was last written, then remove it (otherwise it is kept)'),
    forceUnlock: forceUnlockFlag,
    dryRun: bool('--dry-run', 'show the leftovers and their monthly cost, and stop'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} prune prod --region us-east-1 --dry-run`, `${PROGRAM} prune prod --region us-east-1 --yes --retain 7`],
  helpAfter:
    '\nWhat may go: stopped rollback-point, rolled-back and intermediate instances; a rollback data volume only once a\n' +
    'completed snapshot taken after it was last written holds its data (--snapshot-first takes that snapshot); upgrade\n' +
    'snapshots whose volume still exists or that a newer snapshot supersedes; with --retain, backups beyond the newest N\n' +
    'whose volume still exists. Never: the serving instance and its volume, a data volume destroy kept, the last copy of\n' +
    'any data. --dry-run lists every item with the reason it goes or stays. Without the rollback point, `rollback` is\n' +
    'no longer possible. An interrupted prune re-run with the same options goes on with the list it showed.\n',
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/prune.js')).runPrune(deps, name, flags),
});

export type BackupFlags = CommandFlags<typeof backupCommand.flags>;
export type BackupsFlags = CommandFlags<typeof backupsCommand.flags>;
export type RestoreFlags = CommandFlags<typeof restoreCommand.flags>;
export type PruneFlags = CommandFlags<typeof pruneCommand.flags>;
