import { bool, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { cloudIds } from '../cloud-text.js';

export const presetsCommand = defineCommand({
  name: 'presets',
  description: 'show the size presets (users, repos, machine, disks, estimated monthly cost)',
  yes: YES.never('presets'),
  flags: {
    cloud: str('--cloud <cloud>', `price the sizes on this cloud: ${cloudIds()} (default: aws)`),
    versions: bool('--versions', 'also list the published Sourcegraph versions in the shipped catalog'),
    region: str('--region <region>', 'price the sizes in this region (default: the cloud\'s reference region: us-east-1 on AWS, us-central1 on GCE, eastus on Azure); "price unknown" where the price file has no price'),
  },
  cloud: false,
  examples: [`${PROGRAM} presets`, `${PROGRAM} presets --region us-west-2`, `${PROGRAM} presets --versions --json`],
  run: async (deps, _name, flags): Promise<unknown> => (await import('../../commands/presets.js')).runPresets(deps, flags),
});

export type PresetsFlags = CommandFlags<typeof presetsCommand.flags>;
