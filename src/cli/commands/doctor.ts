import { bool, list, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { launchFlags } from './launch.js';

export const doctorCommand = defineCommand({
  name: 'doctor',
  args: '[name]',
  description: 'check what would make a launch fail (credentials, permissions, quotas, image, your address), or what drifted on an existing deployment',
  yes: YES.never('doctor'),
  flags: {
    size: launchFlags.size,
    version: launchFlags.version,
    image: launchFlags.image,
    instanceType: launchFlags.instanceType,
    subnet: launchFlags.subnet,
    allowCidr: list('--allow-cidr <cidr>', 'the planned launch\'s HTTP/HTTPS CIDRs (your address must be inside); for an existing deployment, what its rules should be (default: as recorded at launch)'),
    sshCidr: list('--ssh-cidr <cidr>', 'the planned launch\'s SSH CIDRs, or "none"; for an existing deployment, what its SSH rules should be (default: as recorded at launch)'),
    identityFile: str('--identity-file <path>', 'private key for the SSH checks of an existing deployment (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user for the SSH checks (default: the one launch recorded on this machine, else the cloud image\'s)'),
    printPolicy: bool('--print-policy', 'print the minimal permissions the tool needs on --cloud (an IAM policy, a custom role), and check nothing'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} doctor --region us-east-1 --size M --allow-cidr 198.51.100.0/24   # before a launch`,
    `${PROGRAM} doctor prod --region us-east-1                                  # an existing deployment`,
    `${PROGRAM} doctor prod --json                                              # {checks:[{id,title,status,detail,fix}], ok}`,
    `${PROGRAM} doctor --print-policy --cloud gcp > role.json`,
  ],
  helpAfter: `
Before a launch (no deployment of that name exists): the credentials, the identity's permission to
launch (a dry run where the cloud has one), the vCPU and static address quotas against the size, the
instance type offered in a zone of the region, the image of the version, and whether your public
address is inside --allow-cidr (launch waits for the instance from this machine).
For an existing deployment: drift from what the tool made (access rules against those this machine
recorded at launch or --allow-cidr/--ssh-cidr, rules on other ports, the data disk and the static
address attached to the serving instance, our tags), the newest snapshot against the schedule, the
expiry of your own certificate when \`tls --tls-cert\` installed one from this machine (fail when
expired, warn under 21 days), and over SSH the days left on k3s's certificates and the free space
on /mnt/data (warn at 80 %, fail at 95 %); when SSH is not possible those are skipped, saying why.
Each check passes, fails, warns or is skipped; the fix is printed under each failure and warning.
Exit 0 when none failed, 1 when one did, 3 when there are no credentials at all.
--print-policy prints the policy to attach (AWS IAM policy JSON, a GCP custom role, an Azure custom role).
`,
  exitCode: (result) => (result as { exitCode?: number } | undefined)?.exitCode ?? 0,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/doctor.js')).runDoctor(deps, name, flags),
});

export type DoctorFlags = CommandFlags<typeof doctorCommand.flags>;
