import { bool, list, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { cloudIds, perCloud, regionVariables } from '../cloud-text.js';

export const buildImageCommand = defineCommand({
  name: 'build-image',
  description: 'build a machine image of a Sourcegraph version in your own account (found by launch and upgrade like a published one)',
  yes: YES.never('build-image'),
  flags: {
    cloud: str('--cloud <cloud>', `cloud provider: ${cloudIds()}`),
    region: str('--region <region>', `region to build in (default in CI: ${regionVariables()})`),
    version: str('--version <version>', 'Sourcegraph version x.y.z to build (required)'),
    size: str('--size <size>', 'size preset whose Helm values are installed and whose machine builds (default: XS)'),
    sshCidr: list('--ssh-cidr <cidr>', 'who may reach the builder\'s SSH: this machine\'s address (required)'),
    iKnowSshIsPublic: bool('--i-know-ssh-is-public', 'allow --ssh-cidr 0.0.0.0/0'),
    instanceType: str('--instance-type <type>', 'builder instance type (default: the size preset\'s)'),
    subnet: str('--subnet <subnet-id>', `subnet for the builder (default: the ${perCloud((p) => p.terms.defaultSubnet)}); needs a public address`),
    sshUser: str('--ssh-user <user>', `login user of the base image (default: ${perCloud((p) => p.loginUser)}; Azure refuses root, admin and its other reserved names)`),
    timeout: str('--timeout <minutes>', 'bound the whole build (default: 120)'),
    dryRun: bool('--dry-run', 'make no change: show the plan and every mutating request in order (offline without credentials)'),
  },
  cloud: true,
  examples: [
    `${PROGRAM} build-image --cloud aws --region us-east-1 --version 6.12.5041 --ssh-cidr 203.0.113.7/32`,
    `${PROGRAM} build-image --region us-east-1 --version 6.12.5041 --size M --ssh-cidr 203.0.113.7/32 --dry-run --json`,
  ],
  helpAfter:
    `\nThe builder, its key pair and security group are temporary: they are removed at the end, on failure and on Ctrl-C.\n` +
    `The image is tagged sourcegraph-launch:role=image and :version, so launch and upgrade use it for that version.\n`,
  run: async (deps, _name, flags): Promise<unknown> => (await import('../../commands/build-image.js')).runBuildImage(deps, flags),
});

export type BuildImageFlags = CommandFlags<typeof buildImageCommand.flags>;
