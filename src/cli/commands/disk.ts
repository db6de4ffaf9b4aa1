import { bool, forceUnlockFlag, str, viaFlag } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const diskGrowCommand = defineCommand({
  name: 'grow',
  parent: { name: 'disk', description: 'look after the deployment\'s data disk (disk grow)' },
  args: '[name]',
  description: 'grow the data disk online to a larger size, then its filesystem (never shrinks)',
  yes: YES.confirms('grow the disk'),
  flags: {
    size: str('--size <GiB>', 'the new size of the data disk in GiB: larger than it is now, at most the cloud\'s limit', { required: true }),
    identityFile: str('--identity-file <path>', 'private key for the SSH step that grows the filesystem at once (default: the key launch used)'),
    sshUser: str('--ssh-user <user>', 'login user for that SSH step (default: the one launch recorded on this machine, else the image\'s)'),
    via: viaFlag,
    forceUnlock: forceUnlockFlag,
    dryRun: bool('--dry-run', 'show the resize request it would send (disk, from/to GiB) and the monthly cost change, and change nothing'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} disk grow prod --region us-east-1 --size 800`,
    `${PROGRAM} disk grow prod --region us-east-1 --size 1000 --yes --json`,
    `${PROGRAM} disk grow prod --region us-east-1 --size 1000 --dry-run`,
  ],
  helpAfter: `
Asks the cloud to grow the data disk while the instance runs (AWS ModifyVolume, GCE disks.resize,
Azure disk update), after showing the size change and its monthly cost change. On Azure a Standard or
Premium SSD disk grows beyond 4 TiB only with the VM deallocated: disk grow says so and asks before
it stops and restarts the instance. It waits until the cloud reports the new size, then grows the
filesystem on /mnt/data (xfs_growfs / resize2fs) at once: over SSH when SSH is open to you, else
through the cloud's run-command channel (Azure Run Command, AWS Systems Manager, the agent of our
GCE images; --via forces one); where neither is possible the boot service grows it at the next boot (every boot grows it to
fill the disk).
A size below the current one exits 2 and changes nothing; the same size goes straight to the
filesystem step, so re-running an interrupted disk grow resumes it. AWS allows at most 4 changes of
a volume in 24 hours, each after the last completed: disk grow says when the next is allowed.
--dry-run reads the disk and prints the resize request it would send (the cloud's operation with its
real input: disk id and new size), the size change and the monthly cost change, then stops: nothing
is changed, not even the deployment's lock label, and nothing is run on the instance.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/disk-grow.js')).runDiskGrow(deps, name, flags),
});

export type DiskGrowFlags = CommandFlags<typeof diskGrowCommand.flags>;
